"""JdbcSink against a real PostgreSQL server: each test has a database of its own.

The task is driven directly (start, put, stop) with a context that records what the runtime
would be asked: the retry timeout and the errant records. The worker-level tests (a standalone
worker reading a topic, the SIGKILL during a load) are in test_jdbc_sink_worker.py.
"""

from __future__ import annotations

import datetime as dt
import decimal
import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import psycopg2
import pytest

from kconnect.api.records import SinkRecord
from kconnect.api.task import ErrantRecordReporter, SinkTaskContext
from kconnect.api.types import TopicPartition
from kconnect.connectors.jdbc.sink import JdbcSinkTask
from kconnect.data.logical import Date, Decimal, Time, Timestamp
from kconnect.data.schema import Schema, SchemaBuilder, Struct
from kconnect.errors import ConfigError, ConnectError, RetriableError
from kconnect_devenv import postgres as postgres_service

pytestmark = pytest.mark.integration

TOPIC = "orders"
KEY = SchemaBuilder.struct().name("orders.Key").field("id", Schema.INT64).build()
V1 = (
    SchemaBuilder.struct()
    .name("orders.Value")
    .field("id", Schema.INT64)
    .field("name", Schema.OPTIONAL_STRING)
    .field("qty", Schema.INT32)
    .build()
)
V2 = (
    SchemaBuilder.struct()
    .name("orders.Value")
    .version(2)
    .field("id", Schema.INT64)
    .field("name", Schema.OPTIONAL_STRING)
    .field("qty", Schema.INT32)
    .field("note", Schema.OPTIONAL_STRING)
    .build()
)


class Reporter(ErrantRecordReporter):
    """errors.tolerance=all: keeps what it is given. With `tolerate=False`, fails as the runtime
    does under errors.tolerance=none."""

    def __init__(self, tolerate: bool) -> None:
        self.tolerate = tolerate
        self.reported: list[tuple[SinkRecord, BaseException]] = []

    def report(self, record: SinkRecord, error: BaseException) -> None:
        if not self.tolerate:
            raise ConnectError(f"Tolerance exceeded in error handler: {error}") from error
        self.reported.append((record, error))


class Context(SinkTaskContext):
    def __init__(self, props: Mapping[str, str], tolerate: bool = False) -> None:
        self.props = dict(props)
        self.reporter = Reporter(tolerate)
        self.timeouts: list[int] = []

    def configs(self) -> Mapping[str, str]:
        return self.props

    def errant_record_reporter(self) -> ErrantRecordReporter | None:
        return self.reporter

    def offset(self, offsets: Mapping[TopicPartition, int]) -> None:
        pass

    def timeout(self, timeout_ms: int) -> None:
        self.timeouts.append(timeout_ms)

    def assignment(self) -> set[TopicPartition]:
        return set()

    def pause(self, *partitions: TopicPartition) -> None:
        pass

    def resume(self, *partitions: TopicPartition) -> None:
        pass

    def request_commit(self) -> None:
        pass


def jdbc_url(db: postgres_service.Database) -> str:
    return f"jdbc:postgresql://{db.host}:{db.port}/{db.name}"


def sink_props(db: postgres_service.Database, **extra: str) -> dict[str, str]:
    return {
        "connection.url": jdbc_url(db),
        "connection.user": db.user,
        "connection.password": db.password,
        "retry.backoff.ms": "10",
        **{k.replace("_", "."): v for k, v in extra.items()},
    }


class Sink:
    """A started JdbcSinkTask and its context."""

    def __init__(self, props: Mapping[str, str], tolerate: bool = False) -> None:
        self.context = Context(props, tolerate)
        self.task = JdbcSinkTask()
        self.task.initialize(self.context)
        self.task.start(props)

    def put(self, records: Sequence[SinkRecord]) -> None:
        self.task.put(records)


@pytest.fixture
def sinks() -> Iterator[list[Sink]]:
    made: list[Sink] = []
    try:
        yield made
    finally:
        for s in made:
            s.task.stop()


def start(sinks: list[Sink], props: Mapping[str, str], tolerate: bool = False) -> Sink:
    s = Sink(props, tolerate)
    sinks.append(s)
    return s


def rows(db: postgres_service.Database, sql: str, *params: object) -> list[tuple[Any, ...]]:
    conn = psycopg2.connect(db.dsn)
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params or None)
            return list(cur.fetchall())
    finally:
        conn.close()


def execute(db: postgres_service.Database, *statements: str) -> None:
    conn = psycopg2.connect(db.dsn)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            for s in statements:
                cur.execute(s)
    finally:
        conn.close()


def order(
    i: int,
    name: str | None = None,
    qty: int = 1,
    *,
    offset: int | None = None,
    schema: Schema = V1,
    note: str | None = None,
    topic: str = TOPIC,
) -> SinkRecord:
    value = Struct(schema).put("id", i).put("name", name or f"n{i}").put("qty", qty)
    if schema is V2:
        value.put("note", note)
    return SinkRecord(
        topic,
        0,
        i if offset is None else offset,
        value,
        value_schema=schema,
        key=Struct(KEY).put("id", i),
        key_schema=KEY,
    )


def tombstone(i: int, offset: int) -> SinkRecord:
    return SinkRecord(TOPIC, 0, offset, None, key=Struct(KEY).put("id", i), key_schema=KEY)


# --- insert modes and primary key modes


@pytest.mark.parametrize(
    ("insert_mode", "pk_mode", "pk_fields", "key_columns"),
    [
        ("insert", "none", "", []),
        ("insert", "kafka", "", ["__connect_topic", "__connect_partition", "__connect_offset"]),
        ("insert", "record_value", "id", ["id"]),
        ("upsert", "record_key", "", ["id"]),
        ("upsert", "record_value", "id", ["id"]),
        ("upsert", "kafka", "t,p,o", ["t", "p", "o"]),
    ],
)
def test_modes_create_and_fill_the_table(
    postgres_database: postgres_service.Database,
    sinks: list[Sink],
    insert_mode: str,
    pk_mode: str,
    pk_fields: str,
    key_columns: list[str],
) -> None:
    db = postgres_database
    s = start(
        sinks,
        sink_props(
            db,
            insert_mode=insert_mode,
            pk_mode=pk_mode,
            pk_fields=pk_fields,
            auto_create="true",
        ),
    )
    s.put([order(i) for i in range(1, 6)])
    primary = rows(
        db,
        "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
        "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = 'orders'::regclass AND i.indisprimary",
    )
    assert sorted(r[0] for r in primary) == sorted(key_columns)
    assert rows(db, "SELECT id, name, qty FROM orders ORDER BY id") == [
        (i, f"n{i}", 1) for i in range(1, 6)
    ]


def test_upsert_writes_the_last_state_and_redelivery_changes_nothing(
    postgres_database: postgres_service.Database, sinks: list[Sink]
) -> None:
    db = postgres_database
    s = start(sinks, sink_props(db, insert_mode="upsert", pk_mode="record_key", auto_create="true"))
    batch = [order(1, "a"), order(2, "b"), order(1, "a2", 5, offset=3)]
    s.put(batch)
    s.put(batch)  # the same records again, as after a crash before the offsets' commit
    assert rows(db, "SELECT id, name, qty FROM orders ORDER BY id") == [(1, "a2", 5), (2, "b", 1)]


def test_update_mode_changes_existing_rows_only(
    postgres_database: postgres_service.Database, sinks: list[Sink]
) -> None:
    db = postgres_database
    execute(db, "CREATE TABLE orders (id BIGINT PRIMARY KEY, name TEXT, qty INT)")
    execute(db, "INSERT INTO orders VALUES (1, 'old', 0)")
    s = start(sinks, sink_props(db, insert_mode="update", pk_mode="record_key"))
    s.put([order(1, "new", 3), order(2, "absent")])
    assert rows(db, "SELECT id, name, qty FROM orders") == [(1, "new", 3)]


def test_insert_mode_with_kafka_keys_refuses_a_duplicate(
    postgres_database: postgres_service.Database, sinks: list[Sink]
) -> None:
    """Insert is not idempotent: a redelivered record is a constraint violation, named."""
    db = postgres_database
    s = start(sinks, sink_props(db, pk_mode="kafka", auto_create="true"))
    s.put([order(1)])
    with pytest.raises(ConnectError) as caught:
        s.put([order(1)])
    message = str(caught.value)
    assert "topic 'orders' partition 0 offset 1" in message
    assert "table orders" in message
    assert "duplicate key" in message
    assert "SQLSTATE 23505" in message


# --- deletes


def test_tombstones_delete_rows_in_order(
    postgres_database: postgres_service.Database, sinks: list[Sink]
) -> None:
    db = postgres_database
    s = start(
        sinks,
        sink_props(
            db,
            insert_mode="upsert",
            pk_mode="record_key",
            delete_enabled="true",
            auto_create="true",
        ),
    )
    s.put([order(1), order(2), order(3)])
    # Deleted, then written again, then deleted: the order within one batch is kept.
    s.put(
        [
            tombstone(1, 10),
            order(2, "back", offset=11),
            tombstone(2, 12),
            order(2, "again", offset=13),
            tombstone(3, 14),
        ]
    )
    assert rows(db, "SELECT id, name FROM orders ORDER BY id") == [(2, "again")]


def test_a_tombstone_without_delete_enabled_is_an_errant_record(
    postgres_database: postgres_service.Database, sinks: list[Sink]
) -> None:
    db = postgres_database
    s = start(
        sinks, sink_props(db, insert_mode="upsert", pk_mode="record_key", auto_create="true"), True
    )
    s.put([order(1), tombstone(1, 5), order(2)])
    [(record, error)] = s.context.reporter.reported
    assert record.kafka_offset == 5
    assert "delete.enabled=true" in str(error)
    assert rows(db, "SELECT id FROM orders ORDER BY id") == [(1,), (2,)]


# --- auto.create, auto.evolve, schema versions


def test_a_batch_spanning_schema_versions_evolves_the_table(
    postgres_database: postgres_service.Database, sinks: list[Sink]
) -> None:
    db = postgres_database
    s = start(
        sinks,
        sink_props(
            db, insert_mode="upsert", pk_mode="record_key", auto_create="true", auto_evolve="true"
        ),
    )
    s.put(
        [
            order(1),
            order(2, schema=V2, note="v2"),
            order(3),
            order(1, "one", schema=V2, note="x", offset=9),
        ]
    )
    assert rows(db, "SELECT id, name, note FROM orders ORDER BY id") == [
        (1, "one", "x"),
        (2, "n2", "v2"),
        (3, "n3", None),
    ]
    # An older record after the evolution leaves the new column alone.
    s.put([order(1, "old-schema", offset=20)])
    assert rows(db, "SELECT name, note FROM orders WHERE id = 1") == [("old-schema", "x")]


def test_without_auto_create_or_evolve_the_table_error_is_named(
    postgres_database: postgres_service.Database, sinks: list[Sink]
) -> None:
    db = postgres_database
    s = start(sinks, sink_props(db, insert_mode="upsert", pk_mode="record_key"))
    with pytest.raises(ConnectError, match="Table orders is missing and auto-creation is disabled"):
        s.put([order(1)])
    execute(db, "CREATE TABLE orders (id BIGINT PRIMARY KEY, name TEXT, qty INT)")
    s.put([order(1)])
    with pytest.raises(
        ConnectError, match=r"missing fields \(note\) and auto-evolution is disabled"
    ):
        s.put([order(2, schema=V2)])


def test_a_required_new_field_is_not_added(
    postgres_database: postgres_service.Database, sinks: list[Sink]
) -> None:
    db = postgres_database
    required = (
        SchemaBuilder.struct()
        .name("orders.Value")
        .field("id", Schema.INT64)
        .field("must", Schema.INT32)
        .build()
    )
    s = start(
        sinks,
        sink_props(
            db, insert_mode="upsert", pk_mode="record_key", auto_create="true", auto_evolve="true"
        ),
    )
    s.put([order(1)])
    record = SinkRecord(
        TOPIC,
        0,
        5,
        Struct(required).put("id", 2).put("must", 1),
        value_schema=required,
        key=Struct(KEY).put("id", 2),
        key_schema=KEY,
    )
    with pytest.raises(ConnectError, match="not optional and does not have a default value"):
        s.put([record])
    assert [
        r[0]
        for r in rows(
            db,
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'orders' "
            "ORDER BY ordinal_position",
        )
    ] == ["id", "name", "qty"]


# --- types, names, hostile input


def test_types_round_trip(postgres_database: postgres_service.Database, sinks: list[Sink]) -> None:
    db = postgres_database
    schema = (
        SchemaBuilder.struct()
        .field("id", Schema.INT8)
        .field("i16", Schema.INT16)
        .field("i64", Schema.INT64)
        .field("f32", Schema.FLOAT32)
        .field("f64", Schema.FLOAT64)
        .field("b", Schema.BOOLEAN)
        .field("s", Schema.STRING)
        .field("raw", Schema.BYTES)
        .field("amount", Decimal.schema(3))
        .field("day", Date.SCHEMA)
        .field("at", Time.SCHEMA)
        .field("ts", Timestamp.SCHEMA)
        .field("tags", SchemaBuilder.array(Schema.STRING).build())
        .build()
    )
    when = dt.datetime(2024, 2, 29, 23, 30, 0, 123000, tzinfo=dt.UTC)
    value = (
        Struct(schema)
        .put("id", 1)
        .put("i16", -300)
        .put("i64", 2**62)
        .put("f32", 1.5)
        .put("f64", 2.25)
        .put("b", True)
        .put("s", 'it\'s "quoted" \x00 and ünïcode')
        .put("raw", b"\x00\xff")
        .put("amount", decimal.Decimal("-12.345"))
        .put("day", dt.date(2024, 2, 29))
        .put("at", dt.time(23, 30, 1, 500000))
        .put("ts", when)
        .put("tags", ["a", "b'c"])
    )
    s = start(
        sinks,
        sink_props(
            db,
            pk_mode="record_value",
            pk_fields="id",
            auto_create="true",
            db_timezone="Europe/Paris",
        ),
    )
    s.put([SinkRecord("types", 0, 0, value, value_schema=schema)])
    types = dict(
        rows(
            db,
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = 'types'",
        )
    )
    assert types == {
        "id": "smallint",
        "i16": "smallint",
        "i64": "bigint",
        "f32": "real",
        "f64": "double precision",
        "b": "boolean",
        "s": "text",
        "raw": "bytea",
        "amount": "numeric",
        "day": "date",
        "at": "time without time zone",
        "ts": "timestamp without time zone",
        "tags": "ARRAY",
    }
    [got] = rows(db, "SELECT i16, i64, f32, f64, b, s, raw, amount, day, at, ts, tags FROM types")
    assert got[:6] == (-300, 2**62, 1.5, 2.25, True, 'it\'s "quoted"  and ünïcode')
    assert bytes(got[6]) == b"\x00\xff"
    assert got[7:9] == (decimal.Decimal("-12.345"), dt.date(2024, 2, 29))
    # db.timezone: TIMESTAMP columns get the wall-clock time there, as Time values do.
    assert got[9] == dt.time(0, 30, 1, 500000)
    assert got[10] == dt.datetime(2024, 3, 1, 0, 30, 0, 123000)
    assert got[11] == ["a", "b'c"]


def test_hostile_names_are_quoted(
    postgres_database: postgres_service.Database, sinks: list[Sink]
) -> None:
    db = postgres_database
    evil = 'x"); DROP TABLE victim; --'
    schema = (
        SchemaBuilder.struct()
        .field("id", Schema.INT32)
        .field(evil, Schema.STRING)
        .field("100%", Schema.INT32)
        .build()
    )
    execute(db, "CREATE TABLE victim (a INT)")
    s = start(
        sinks,
        sink_props(
            db,
            pk_mode="record_value",
            pk_fields="id",
            insert_mode="upsert",
            auto_create="true",
            table_name_format='evil"${topic}',
        ),
    )
    value = Struct(schema).put("id", 1).put(evil, "'; DELETE FROM victim; --").put("100%", 5)
    s.put([SinkRecord("t", 0, 0, value, value_schema=schema)])
    quoted = evil.replace('"', '""')
    assert rows(db, f'SELECT "{quoted}", "100%" FROM "evil""t"') == [  # noqa: S608 - the test's own
        ("'; DELETE FROM victim; --", 5)
    ]
    assert rows(db, "SELECT to_regclass('victim') IS NOT NULL") == [(True,)]


def test_quote_never_folds_names_to_lower_case(
    postgres_database: postgres_service.Database, sinks: list[Sink]
) -> None:
    db = postgres_database
    schema = (
        SchemaBuilder.struct().field("Id", Schema.INT32).field("FullName", Schema.STRING).build()
    )
    s = start(
        sinks,
        sink_props(
            db, auto_create="true", quote_sql_identifiers="never", table_name_format="Customers"
        ),
    )
    s.put(
        [
            SinkRecord(
                "t", 0, 0, Struct(schema).put("Id", 1).put("FullName", "x"), value_schema=schema
            )
        ]
    )
    assert rows(db, "SELECT id, fullname FROM customers") == [(1, "x")]


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (
            SinkRecord(TOPIC, 0, 4, Struct(V1).put("id", 1).put("qty", 1), value_schema=V1),
            "no key schema",
        ),
        (
            SinkRecord(
                TOPIC,
                0,
                4,
                "text",
                value_schema=Schema.STRING,
                key=Struct(KEY).put("id", 1),
                key_schema=KEY,
            ),
            "must be a STRUCT",
        ),
        (
            SinkRecord(TOPIC, 0, 4, {"id": 1}, key=Struct(KEY).put("id", 1), key_schema=KEY),
            "value has no schema",
        ),
    ],
)
def test_records_that_cannot_be_mapped_go_to_the_reporter(
    postgres_database: postgres_service.Database,
    sinks: list[Sink],
    record: SinkRecord,
    expected: str,
) -> None:
    db = postgres_database
    s = start(
        sinks, sink_props(db, insert_mode="upsert", pk_mode="record_key", auto_create="true"), True
    )
    s.put([order(1), record, order(2)])
    [(bad, error)] = s.context.reporter.reported
    assert bad is record
    assert expected in str(error)
    assert "topic 'orders' partition 0 offset 4" in str(error)
    assert rows(db, "SELECT id FROM orders ORDER BY id") == [(1,), (2,)]
    strict = start(sinks, sink_props(db, insert_mode="upsert", pk_mode="record_key"))
    with pytest.raises(ConnectError, match=expected):
        strict.put([order(3), record])
    assert rows(db, "SELECT id FROM orders ORDER BY id") == [(1,), (2,)]  # nothing of it written


def test_a_constraint_violation_names_table_column_and_goes_to_the_reporter(
    postgres_database: postgres_service.Database, sinks: list[Sink]
) -> None:
    db = postgres_database
    execute(
        db,
        "CREATE TABLE orders (id BIGINT PRIMARY KEY, name TEXT NOT NULL, qty INT CHECK (qty > 0))",
    )
    tolerant = start(sinks, sink_props(db, insert_mode="upsert", pk_mode="record_key"), True)
    tolerant.put([order(1), order(2, qty=-1, offset=7), order(3)])
    [(bad, error)] = tolerant.context.reporter.reported
    assert bad.kafka_offset == 7
    message = str(error)
    assert "topic 'orders' partition 0 offset 7" in message
    assert "table public.orders" in message
    assert "orders_qty_check" in message
    assert rows(db, "SELECT id FROM orders ORDER BY id") == [(1,), (3,)]
    strict = start(sinks, sink_props(db, insert_mode="upsert", pk_mode="record_key"))
    with pytest.raises(ConnectError, match="orders_qty_check"):
        strict.put([order(4), order(5, qty=0)])
    assert rows(db, "SELECT id FROM orders ORDER BY id") == [(1,), (3,)]


# --- retries


def test_a_dropped_connection_is_retried(
    postgres_database: postgres_service.Database, sinks: list[Sink]
) -> None:
    db = postgres_database
    s = start(
        sinks,
        sink_props(
            db,
            insert_mode="upsert",
            pk_mode="record_key",
            auto_create="true",
            max_retries="2",
            retry_backoff_ms="250",
        ),
    )
    s.put([order(1)])
    conn = psycopg2.connect(db.dsn)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (db.name,),
            )
        conn.commit()
    finally:
        conn.close()
    with pytest.raises(RetriableError):
        s.put([order(2)])
    assert s.context.timeouts == [250]
    s.put([order(2)])  # the runtime's redelivery, on a new connection
    assert rows(db, "SELECT id FROM orders ORDER BY id") == [(1,), (2,)]


def test_retries_run_out_after_max_retries(
    postgres_database: postgres_service.Database, sinks: list[Sink]
) -> None:
    db = postgres_database
    props = sink_props(
        db,
        insert_mode="upsert",
        pk_mode="record_key",
        auto_create="true",
        max_retries="1",
        connection_attempts="1",
    )
    props["connection.url"] = jdbc_url(db).replace(str(db.port), str(_closed_port()))
    s = start(sinks, props)
    with pytest.raises(RetriableError):
        s.put([order(1)])
    with pytest.raises(ConnectError, match=r"after max\.retries=1 retries") as caught:
        s.put([order(1)])
    assert not isinstance(caught.value, RetriableError)


def test_a_server_restart_is_ridden_out(
    postgres: postgres_service.Postgres,
    postgres_database: postgres_service.Database,
    sinks: list[Sink],
) -> None:
    db = postgres_database
    s = start(
        sinks,
        sink_props(
            db,
            insert_mode="upsert",
            pk_mode="record_key",
            auto_create="true",
            max_retries="50",
            retry_backoff_ms="100",
            connection_attempts="1",
        ),
    )
    s.put([order(1)])
    postgres_service.stop(postgres.state_dir, keep_data=True)
    try:
        with pytest.raises(RetriableError):
            s.put([order(2)])
    finally:
        postgres_service.start(postgres.state_dir, port=postgres.port)
    s.put([order(2)])
    assert rows(db, "SELECT id FROM orders ORDER BY id") == [(1,), (2,)]


def _closed_port() -> int:
    from tests.support.workers import free_port

    return free_port()


# --- secrets


def test_the_password_is_in_no_message_or_log(
    postgres_database: postgres_service.Database,
    sinks: list[Sink],
    caplog: pytest.LogCaptureFixture,
) -> None:
    db = postgres_database
    secret = "wrong-Secret-9f3b"  # noqa: S105 - the test's wrong password
    caplog.set_level(logging.DEBUG)
    props = {
        "connection.url": f"{jdbc_url(db)}?user={db.user}&password={secret}",
        "insert.mode": "upsert",
        "pk.mode": "record_key",
        "max.retries": "0",
        "connection.attempts": "2",
        "connection.backoff.ms": "10",
    }
    s = start(sinks, props)
    with pytest.raises(ConnectError) as caught:
        s.put([order(1)])
    text = "".join(str(e) for e in _chain(caught.value)) + caplog.text
    assert "password authentication failed" in text
    assert secret not in text
    assert "password=****" in caplog.text
    with pytest.raises(ConfigError) as bad:
        JdbcSinkTask().start({**props, "connection.url": f"jdbc:mysql://h/db?password={secret}"})
    assert secret not in str(bad.value)


def _chain(error: BaseException | None) -> Iterator[BaseException]:
    while error is not None:
        yield error
        error = error.__cause__ or error.__context__
