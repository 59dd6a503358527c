"""Debezium's PostgreSQL connector, run for real in Kafka Connect's Java runtime: the reference
that kconnect's ``PostgresCdcSource`` is compared with (``bench/debezium.py``,
docs/debezium-reference.md).

One table with a primary key and columns of many types: two rows before the connector starts
(snapshot records, op ``r``), then an insert, an update, a delete (op ``d`` and a tombstone), an
added column and an insert, then ``REPLICA IDENTITY FULL`` and an update and a delete that carry
every old value. The records on ``<prefix>.public.items`` are checked field by field, schemas
included, as JsonConverter (``schemas.enable=true``) wrote them; the offsets Connect stored are
Debezium's. A second run puts Debezium's ``ExtractNewRecordState`` on the same kind of stream; a
third stops the connector and starts it again, which resumes from its offsets: no second snapshot,
the change made while it was stopped, nothing twice. A test takes some 7 s (16 s for the restart)
on two cores.
"""

from __future__ import annotations

import base64
import contextlib
import json
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from bench import debezium
from kconnect_devenv import kafka
from kconnect_devenv import postgres as service
from tests.support.topic_records import TopicRecord, read_topic

SCHEMA = """
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE items (
    id int PRIMARY KEY,
    small int2,
    big int8,
    price numeric(10, 2),
    name text,
    code varchar(20),
    flag boolean,
    ts timestamp,
    tstz timestamptz,
    day date,
    at time,
    uid uuid,
    doc json,
    docb jsonb,
    raw bytea,
    mood mood,
    tags int[]
);
INSERT INTO items VALUES (
    1, 2, 3000000000, 12.34, 'one', 'c1', true, '2024-01-02 03:04:05.123456',
    '2024-01-02 03:04:05.123456+02', '2024-01-02', '03:04:05.5',
    'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a": 1}', '{"b": [1, 2]}', '\\x0102ff', 'happy',
    '{1,2,3}'
);
INSERT INTO items (id, name) VALUES (2, 'two');
"""

CHANGES = (
    "INSERT INTO items (id, name, price) VALUES (3, 'three', 1.5)",
    "UPDATE items SET name = 'ONE' WHERE id = 1",
    "DELETE FROM items WHERE id = 2",
    "ALTER TABLE items ADD COLUMN extra text",
    "INSERT INTO items (id, name, extra) VALUES (4, 'four', 'x')",
    "ALTER TABLE items REPLICA IDENTITY FULL",
    "UPDATE items SET name = 'THREE' WHERE id = 3",
    "DELETE FROM items WHERE id = 3",
)
# Connect schema (type, logical name) of each column of items, as Debezium maps it by default.
COLUMN_SCHEMAS = {
    "id": ("int32", None),
    "small": ("int16", None),
    "big": ("int64", None),
    "price": ("bytes", "org.apache.kafka.connect.data.Decimal"),
    "name": ("string", None),
    "code": ("string", None),
    "flag": ("boolean", None),
    "ts": ("int64", "io.debezium.time.MicroTimestamp"),
    "tstz": ("string", "io.debezium.time.ZonedTimestamp"),
    "day": ("int32", "io.debezium.time.Date"),
    "at": ("int64", "io.debezium.time.MicroTime"),
    "uid": ("string", "io.debezium.data.Uuid"),
    "doc": ("string", "io.debezium.data.Json"),
    "docb": ("string", "io.debezium.data.Json"),
    "raw": ("bytes", None),
    "mood": ("string", "io.debezium.data.Enum"),
    "tags": ("array", None),
}
ROW_1 = {
    "id": 1,
    "small": 2,
    "big": 3000000000,
    "price": base64.b64encode((1234).to_bytes(2, "big")).decode(),  # 12.34 at scale 2
    "name": "one",
    "code": "c1",
    "flag": True,
    "ts": 1704164645123456,  # microseconds since the epoch, no zone
    "tstz": "2024-01-02T01:04:05.123456Z",  # rendered in UTC
    "day": 19724,  # days since the epoch
    "at": 11045500000,  # microseconds since midnight
    "uid": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
    "doc": '{"a": 1}',
    "docb": '{"b": [1, 2]}',
    "raw": base64.b64encode(b"\x01\x02\xff").decode(),
    "mood": "happy",
    "tags": [1, 2, 3],
}
NULLS = dict.fromkeys(COLUMN_SCHEMAS)


def _execute(database: service.Database, *statements: str) -> None:
    with contextlib.closing(psycopg2.connect(database.url)) as conn:
        conn.autocommit = True
        with conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)


def _query(database: service.Database, sql: str, *params: str) -> list[tuple[Any, ...]]:
    with contextlib.closing(psycopg2.connect(database.url)) as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        return list(cur.fetchall())


def _fields(struct_schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {field["field"]: field for field in struct_schema["fields"]}


def _decimal(encoded: str, scale: int) -> Decimal:
    unscaled = int.from_bytes(base64.b64decode(encoded), "big", signed=True)
    return Decimal(unscaled).scaleb(-scale)


def _config(
    database: service.Database, names: dict[str, str], overrides: dict[str, str] | None = None
) -> dict[str, str]:
    return debezium.connector_config(
        database.connector_config(),
        topic_prefix=names["prefix"],
        slot_name=names["slot"],
        publication_name=names["publication"],
        overrides=overrides,
    )


@pytest.fixture
def names() -> dict[str, str]:
    """A topic prefix, slot and publication of this test's own."""
    suffix = uuid.uuid4().hex[:8]
    return {"prefix": f"dbz{suffix}", "slot": f"dbz_{suffix}", "publication": f"dbz_{suffix}"}


@pytest.fixture
def items_database(postgres_database: service.Database) -> service.Database:
    _execute(postgres_database, SCHEMA)
    return postgres_database


def test_debezium_records_of_a_snapshot_and_a_stream(
    tmp_path: Path,
    kafka_broker: kafka.Broker,
    items_database: service.Database,
    names: dict[str, str],
) -> None:
    prefix = names["prefix"]
    config = _config(items_database, names)
    with debezium.DebeziumPostgres(tmp_path / "debezium", kafka_broker.bootstrap, config) as dbz:
        dbz.wait_streaming()
        _execute(items_database, *CHANGES)
        records = read_topic(kafka_broker.bootstrap, f"{prefix}.public.items", min_records=10)
        offsets = dbz.offsets()
        plugins = dbz.worker._get_json("/connector-plugins?connectorsOnly=false")[1]

    # What Debezium made on the server: a pgoutput slot and a publication of all tables.
    assert _query(
        items_database,
        "SELECT plugin, slot_type FROM pg_replication_slots WHERE slot_name = %s",
        names["slot"],
    ) == [("pgoutput", "logical")]
    assert _query(
        items_database,
        "SELECT puballtables FROM pg_publication WHERE pubname = %s",
        names["publication"],
    ) == [(True,)]

    keys = [r.key_json()["payload"] for r in records]
    values = [r.value_json() for r in records]
    payloads = [v["payload"] if v else None for v in values]
    ops = [p["op"] if p else None for p in payloads]
    assert ops == ["r", "r", "c", "u", "d", None, "c", "u", "d", None]
    assert keys == [{"id": i} for i in (1, 2, 3, 1, 2, 2, 4, 3, 3, 3)]

    # Keys: the primary key struct, named after the table.
    assert records[0].key_json()["schema"] == {
        "type": "struct",
        "fields": [{"type": "int32", "optional": False, "field": "id"}],
        "optional": False,
        "name": f"{prefix}.public.items.Key",
    }

    # The envelope's schema.
    envelope = values[0]["schema"]
    assert envelope["name"] == f"{prefix}.public.items.Envelope"
    assert envelope["version"] == 2
    assert envelope["optional"] is False
    fields = _fields(envelope)
    assert list(fields) == [
        "before",
        "after",
        "source",
        "transaction",
        "op",
        "ts_ms",
        "ts_us",
        "ts_ns",
    ]
    assert fields["op"] == {"type": "string", "optional": False, "field": "op"}
    assert fields["transaction"]["name"] == "event.block"
    for side in ("before", "after"):
        assert fields[side]["name"] == f"{prefix}.public.items.Value"
        assert fields[side]["optional"] is True
        columns = _fields(fields[side])
        assert list(columns) == list(COLUMN_SCHEMAS)
        assert {c: (f["type"], f.get("name")) for c, f in columns.items()} == COLUMN_SCHEMAS
        assert columns["id"]["optional"] is False
        assert all(f["optional"] for c, f in columns.items() if c != "id")
    after_columns = _fields(fields["after"])
    assert after_columns["price"]["parameters"] == {"scale": "2", "connect.decimal.precision": "10"}
    assert after_columns["mood"]["parameters"] == {"allowed": "sad,ok,happy"}
    assert after_columns["tags"]["items"] == {"type": "int32", "optional": True}
    source_fields = fields["source"]
    assert source_fields["name"] == "io.debezium.connector.postgresql.Source"
    assert list(_fields(source_fields)) == [
        "version",
        "connector",
        "name",
        "ts_ms",
        "snapshot",
        "db",
        "sequence",
        "ts_us",
        "ts_ns",
        "schema",
        "table",
        "txId",
        "lsn",
        "xmin",
        "origin",
        "origin_lsn",
    ]

    # Snapshot records: op r, no before, source.snapshot "first" then "last".
    assert payloads[0]["before"] is None
    assert payloads[0]["after"] == ROW_1
    assert _decimal(payloads[0]["after"]["price"], 2) == Decimal("12.34")
    assert payloads[1]["after"] == {**NULLS, "id": 2, "name": "two"}
    assert [p["source"]["snapshot"] for p in payloads[:2]] == ["first", "last"]
    for payload in payloads[:2]:
        source = payload["source"]
        assert json.loads(source["sequence"])[0] is None
    assert all(p["source"]["snapshot"] == "false" for p in payloads[2:] if p)

    for payload in filter(None, payloads):
        source = payload["source"]
        assert source["version"] == debezium.debezium_version()
        assert source["connector"] == "postgresql"
        assert source["name"] == prefix
        assert source["db"] == items_database.name
        assert (source["schema"], source["table"]) == ("public", "items")
        assert isinstance(source["lsn"], int)
        assert isinstance(source["txId"], int)
        assert (source["xmin"], source["origin"], source["origin_lsn"]) == (None, None, None)
        assert isinstance(payload["ts_ms"], int)
        assert payload["transaction"] is None

    # The stream: with REPLICA IDENTITY DEFAULT an update has no before and a delete's before
    # holds the key alone; with FULL both carry every old value.
    assert payloads[2]["after"] == {**NULLS, "id": 3, "name": "three", "price": "AJY="}
    assert payloads[3]["before"] is None
    assert payloads[3]["after"] == {**ROW_1, "name": "ONE"}
    assert payloads[4]["before"] == {**NULLS, "id": 2}
    assert payloads[4]["after"] is None
    assert records[5].value is None  # the tombstone of id 2
    assert payloads[6]["after"] == {**NULLS, "id": 4, "name": "four", "extra": "x"}
    assert list(_fields(_fields(values[6]["schema"])["after"]))[-1] == "extra"
    row_3 = {**NULLS, "id": 3, "name": "three", "price": "AJY=", "extra": None}
    assert payloads[7]["before"] == row_3
    assert payloads[7]["after"] == {**row_3, "name": "THREE"}
    assert payloads[8]["before"] == {**row_3, "name": "THREE"}
    assert records[9].value is None
    # sequence is [last commit LSN, this event's LSN], both as strings.
    for payload in payloads[2:5]:
        sequence = json.loads(payload["source"]["sequence"])
        assert sequence[1] == str(payload["source"]["lsn"])

    # Debezium adds its context headers to every record.
    for record in records:
        headers = record.header_map()
        assert headers["__debezium.context.connectorLogicalName"] == prefix.encode()
        assert headers["__debezium.context.connectorName"] == b"postgresql"
        assert headers["__debezium.context.taskId"] == b"0"
        assert "__debezium.context.runId" in headers

    # The offsets Connect stored: Debezium's, under the partition {"server": <topic.prefix>}.
    assert isinstance(offsets, dict)
    [stored] = offsets["offsets"]
    assert stored["partition"] == {"server": prefix}
    assert {"lsn", "lsn_commit", "lsn_proc", "txId", "ts_usec"} <= set(stored["offset"])
    assert stored["offset"]["lsn"] >= payloads[8]["source"]["lsn"]

    transforms = {p["class"] for p in plugins if p["type"] == "transformation"}
    assert debezium.EXTRACT_NEW_RECORD_STATE in transforms


def test_extract_new_record_state_on_debezium_records(
    tmp_path: Path,
    kafka_broker: kafka.Broker,
    items_database: service.Database,
    names: dict[str, str],
) -> None:
    prefix = names["prefix"]
    config = _config(
        items_database,
        names,
        {
            "transforms": "unwrap",
            "transforms.unwrap.type": debezium.EXTRACT_NEW_RECORD_STATE,
            "transforms.unwrap.add.fields": "op,table,lsn",
            "transforms.unwrap.delete.tombstone.handling.mode": "rewrite",
        },
    )
    with debezium.DebeziumPostgres(tmp_path / "debezium", kafka_broker.bootstrap, config) as dbz:
        dbz.wait_streaming()
        _execute(items_database, *CHANGES[:3])
        records: list[TopicRecord] = read_topic(
            kafka_broker.bootstrap, f"{prefix}.public.items", min_records=5
        )

    values = [r.value_json() for r in records]
    assert [r.key_json()["payload"] for r in records] == [{"id": i} for i in (1, 2, 3, 1, 2)]
    schema = values[0]["schema"]
    assert schema["name"] == f"{prefix}.public.items.Value"
    assert schema["optional"] is False
    # rewrite's __deleted comes first, then the add.fields in their order.
    assert list(_fields(schema))[-4:] == ["__deleted", "__op", "__table", "__lsn"]
    assert _fields(schema)["__lsn"] == {"type": "int64", "optional": True, "field": "__lsn"}
    assert _fields(schema)["__deleted"] == {
        "type": "string",
        "optional": True,
        "field": "__deleted",
    }
    payloads = [v["payload"] for v in values]
    assert payloads[0] == {
        **ROW_1,
        "__op": "r",
        "__table": "items",
        "__lsn": payloads[0]["__lsn"],
        "__deleted": "false",
    }
    assert [(p["__op"], p["__deleted"]) for p in payloads] == [
        ("r", "false"),
        ("r", "false"),
        ("c", "false"),
        ("u", "false"),
        ("d", "true"),
    ]
    # rewrite: a delete becomes the old row (the key alone here) marked deleted, no tombstone.
    assert payloads[4] == {
        **NULLS,
        "id": 2,
        "__op": "d",
        "__table": "items",
        "__lsn": payloads[4]["__lsn"],
        "__deleted": "true",
    }


def test_a_restarted_connector_resumes_from_its_offsets(
    tmp_path: Path,
    kafka_broker: kafka.Broker,
    items_database: service.Database,
    names: dict[str, str],
) -> None:
    topic = f"{names['prefix']}.public.items"
    config = _config(items_database, names)
    workdir = tmp_path / "debezium"
    with debezium.DebeziumPostgres(workdir, kafka_broker.bootstrap, config) as dbz:
        dbz.wait_streaming()
        _execute(items_database, "INSERT INTO items (id, name) VALUES (10, 'before the stop')")
        read_topic(kafka_broker.bootstrap, topic, min_records=3)
    # Written while no connector runs: the slot keeps it.
    _execute(items_database, "INSERT INTO items (id, name) VALUES (11, 'while stopped')")
    with debezium.DebeziumPostgres(workdir, kafka_broker.bootstrap, config) as dbz:
        dbz.wait_streaming()
        _execute(items_database, "INSERT INTO items (id, name) VALUES (12, 'after the start')")
        records = read_topic(kafka_broker.bootstrap, topic, min_records=5)

    # No second snapshot, nothing lost, nothing twice (the first worker stopped cleanly).
    payloads = [r.value_json()["payload"] for r in records]
    assert [(p["op"], p["after"]["id"]) for p in payloads] == [
        ("r", 1),
        ("r", 2),
        ("c", 10),
        ("c", 11),
        ("c", 12),
    ]
