"""JdbcSink in a real `kconnect standalone` worker, between the real broker and a real PostgreSQL:
Debezium change events unwrapped into a table (with a dead-letter queue and a password that
shows nowhere), and a SIGKILL in the middle of a load of upserts."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from typing import Any

import psycopg2
import pytest
from confluent_kafka import Consumer, Producer

from kconnect_devenv import postgres as postgres_service
from tests.support.workers import Standalone, wait_until

pytestmark = pytest.mark.integration

JSON = "org.apache.kafka.connect.json.JsonConverter"

ROW_FIELDS = [
    {"type": "int64", "optional": False, "field": "id"},
    {"type": "string", "optional": True, "field": "name"},
    {"type": "int32", "optional": False, "field": "qty"},
]
ROW_SCHEMA = {"type": "struct", "fields": ROW_FIELDS, "optional": True, "name": "db.public.c.Value"}
KEY_SCHEMA = {
    "type": "struct",
    "fields": [{"type": "int64", "optional": False, "field": "id"}],
    "optional": False,
    "name": "db.public.c.Key",
}
SOURCE_SCHEMA = {
    "type": "struct",
    "fields": [
        {"type": "string", "optional": False, "field": "db"},
        {"type": "int64", "optional": True, "field": "lsn"},
    ],
    "optional": False,
    "name": "io.debezium.connector.postgresql.Source",
}
ENVELOPE_SCHEMA = {
    "type": "struct",
    "fields": [
        {**ROW_SCHEMA, "field": "before"},
        {**ROW_SCHEMA, "field": "after"},
        {**SOURCE_SCHEMA, "field": "source"},
        {"type": "string", "optional": False, "field": "op"},
        {"type": "int64", "optional": True, "field": "ts_ms"},
    ],
    "optional": False,
    "name": "db.public.c.Envelope",
}


def _key(i: int) -> bytes:
    return json.dumps({"schema": KEY_SCHEMA, "payload": {"id": i}}).encode()


def _row(i: int, name: str, qty: int) -> dict[str, Any]:
    return {"id": i, "name": name, "qty": qty}


def _event(op: str, before: dict[str, Any] | None, after: dict[str, Any] | None) -> bytes:
    payload = {
        "before": before,
        "after": after,
        "source": {"db": "db", "lsn": 1},
        "op": op,
        "ts_ms": 1,
    }
    return json.dumps({"schema": ENVELOPE_SCHEMA, "payload": payload}).encode()


def _produce(bootstrap: str, topic: str, records: Iterable[tuple[bytes, bytes | None]]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20})
    for key, value in records:
        while True:
            try:
                producer.produce(topic, value, key)
                break
            except BufferError:
                producer.poll(0.1)
    assert producer.flush(60) == 0


def _rows(db: postgres_service.Database, sql: str) -> list[tuple[Any, ...]]:
    conn = psycopg2.connect(db.dsn)
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return list(cur.fetchall())
    finally:
        conn.close()


def _execute(db: postgres_service.Database, *statements: str) -> None:
    conn = psycopg2.connect(db.dsn)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            for s in statements:
                cur.execute(s)
    finally:
        conn.close()


def _sink(name: str, topic: str, db: postgres_service.Database, **extra: str) -> dict[str, str]:
    return {
        "name": name,
        "connector.class": "io.confluent.connect.jdbc.JdbcSinkConnector",
        "topics": topic,
        "connection.url": f"jdbc:postgresql://{db.host}:{db.port}/{db.name}",
        "connection.user": db.user,
        "key.converter": JSON,
        "value.converter": JSON,
        "insert.mode": "upsert",
        "pk.mode": "record_key",
        **{k.replace("_", "."): v for k, v in extra.items()},
    }


def _read_all(bootstrap: str, topic: str, count: int) -> list[Any]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"reader-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
        }
    )
    try:
        consumer.subscribe([topic])
        out: list[Any] = []

        def enough() -> bool:
            out.extend(m for m in consumer.consume(100, 0.5) if m.error() is None)
            return len(out) >= count

        wait_until(f"{count} records in {topic}", enough)
        return out
    finally:
        consumer.close()


def test_debezium_events_are_replicated_into_a_table(
    standalone: Standalone,
    new_topic,  # type: ignore[no-untyped-def]
    kafka_bootstrap: str,
    postgres_database: postgres_service.Database,
) -> None:
    db = postgres_database
    topic = new_topic()
    dlq = f"dlq-{uuid.uuid4().hex[:8]}"
    _execute(
        db,
        "CREATE TABLE customers "
        "(id BIGINT PRIMARY KEY, name TEXT, qty INT NOT NULL CHECK (qty >= 0))",
        "CREATE INDEX customers_name ON customers (name)",
    )
    secrets = standalone.cwd / "db.properties"
    secrets.write_text(f"password={db.password}\n")
    events: list[tuple[bytes, bytes | None]] = [
        (_key(i), _event("c", None, _row(i, f"c{i}", i))) for i in range(1, 6)
    ]
    events += [
        (_key(2), _event("u", _row(2, "c2", 2), _row(2, "renamed", 20))),
        (_key(3), _event("d", _row(3, "c3", 3), None)),
        (_key(3), None),  # Debezium's tombstone after the delete
        (_key(4), _event("u", _row(4, "c4", 4), _row(4, "bad", -1))),  # breaks the CHECK
        (_key(6), _event("r", None, _row(6, "snap", 6))),
    ]
    _produce(kafka_bootstrap, topic, events)
    worker = standalone.worker_props(
        config_providers="file",
        config_providers_file_class="org.apache.kafka.common.config.provider.FileConfigProvider",
    )
    config = _sink(
        "jdbc-cdc",
        topic,
        db,
        connection_password=f"${{file:{secrets}:password}}",
        delete_enabled="true",
        table_name_format="customers",
        transforms="unwrap",
        transforms_unwrap_type="io.debezium.transforms.ExtractNewRecordState",
        errors_tolerance="all",
        errors_deadletterqueue_topic_name=dlq,
        errors_deadletterqueue_topic_replication_factor="1",
        errors_deadletterqueue_context_headers_enable="true",
    )
    # Dotted keys the helper's `_` replacement would break.
    config["transforms.unwrap.delete.tombstone.handling.mode"] = "tombstone"
    w = standalone.start([config], worker=worker)
    expected = [(1, "c1", 1), (2, "renamed", 20), (4, "c4", 4), (5, "c5", 5), (6, "snap", 6)]
    wait_until(
        "the table to hold the replicated rows",
        lambda: _rows(db, "SELECT id, name, qty FROM customers ORDER BY id") == expected,
    )
    [dead] = _read_all(kafka_bootstrap, dlq, 1)
    assert json.loads(dead.key())["payload"] == {"id": 4}
    headers = dict(dead.headers() or [])
    message = headers["__connect.errors.exception.message"].decode()
    assert "failed writing to table customers" in message
    assert "customers_qty_check" in message
    assert headers["__connect.errors.stage"] == b"TASK_PUT"
    status = w.status("jdbc-cdc")
    assert status["tasks"][0]["state"] == "RUNNING"
    answers = json.dumps([status, w.get("/connectors/jdbc-cdc/config"), w.get("/connectors")])
    log = w.log()
    assert "customers_qty_check" in log
    assert db.password not in answers
    assert db.password not in log
    assert w.terminate() == 0


def test_sigkill_during_a_load_leaves_the_table_equal_to_the_source(
    standalone: Standalone,
    new_topic,  # type: ignore[no-untyped-def]
    kafka_bootstrap: str,
    postgres_database: postgres_service.Database,
) -> None:
    """Upserts into an indexed table; the worker is killed mid-load and started again. Records
    written but whose offsets were not committed are delivered again, which changes nothing."""
    db = postgres_database
    topic = new_topic()
    total, keys = 60_000, 5_000
    # A statement-level trigger that sleeps: the load takes long enough to be killed in the middle.
    _execute(
        db,
        "CREATE TABLE load (id BIGINT PRIMARY KEY, name TEXT, qty INT NOT NULL)",
        "CREATE INDEX load_name ON load (name)",
        "CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN PERFORM pg_sleep(0.05); RETURN NULL; END $$",
        "CREATE TRIGGER slow AFTER INSERT ON load FOR EACH STATEMENT EXECUTE FUNCTION slow()",
    )
    schema = {**ROW_SCHEMA, "optional": False, "name": "load.Value"}
    expected: dict[int, tuple[int, str, int]] = {}

    def load() -> Iterable[tuple[bytes, bytes]]:
        for n in range(total):
            i = n % keys
            expected[i] = (i, f"v{n}", n)
            yield _key(i), json.dumps({"schema": schema, "payload": _row(i, f"v{n}", n)}).encode()

    _produce(kafka_bootstrap, topic, load())
    config = _sink(
        "jdbc-load",
        topic,
        db,
        connection_password=db.password,
        table_name_format="load",
        batch_size="3000",
    )
    config["consumer.override.max.poll.records"] = "500"
    first = standalone.start([config])

    def progress() -> int:
        return int(_rows(db, "SELECT coalesce(max(qty), -1) FROM load")[0][0])

    wait_until("the load to be under way", lambda: progress() >= total // 4)
    first.kill()
    at_kill = progress()
    assert at_kill < total - 1, "the load finished before the kill; the test proves nothing"
    second = standalone.start([config])
    want = sorted(expected.values())
    wait_until(
        "the table to equal the source after the restart",
        lambda: _rows(db, "SELECT id, name, qty FROM load ORDER BY id") == want,
        timeout=300,
    )
    assert second.status("jdbc-load")["tasks"][0]["state"] == "RUNNING"
    assert second.terminate() == 0
