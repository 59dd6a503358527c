"""PostgresCdcSource side by side with Debezium's PostgreSQL connector 3.6.1 in Java Kafka Connect.

One database, two connectors on it at once, each with its own slot, publication and topic prefix,
both writing through JsonConverter with `schemas.enable=true`. Two tables of many column types
are snapshotted; then the same inserts, updates (of values and of a key), deletes, an added and a
dropped column and a switch to `REPLICA IDENTITY FULL` are streamed. Topic by topic, record by
record, the keys, values and schemas must be equal once the prefix is written the same, except
for what the issue allows to differ: timestamps (`ts_ms`, `ts_us`, `ts_ns`, the source's and the
envelope's) and positions (`lsn`, `txId`, `sequence`, the transaction id). The header names must
be equal too. The offsets API answers both the same way (neither overrides `alterOffsets`).
A second run turns on transaction metadata (the `<prefix>.transaction` topic is
compared as well) and truncate events, and ends with a TRUNCATE; two more run under other
`decimal.handling.mode` and `time.precision.mode` values.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from bench import debezium, javaconnect
from bench.procs import kill_all
from kconnect.storage.offsets import serialize_key, serialize_value
from kconnect_devenv import kafka
from kconnect_devenv import postgres as service
from tests.support.topic_records import TopicRecord, read_topic
from tests.support.workers import Standalone, wait_until

pytestmark = pytest.mark.integration

SCHEMA = """
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN positive AS int8 CHECK (VALUE > 0);
CREATE TABLE items (
    id int PRIMARY KEY,
    small int2,
    big int8,
    price numeric(10, 2),
    anynum numeric,
    ratio real,
    score double precision,
    name text NOT NULL DEFAULT 'unnamed',
    code varchar(20),
    letters char(3),
    flag boolean,
    ts timestamp,
    ts_ms timestamp(3),
    tstz timestamptz,
    day date,
    at time,
    at_ms time(3),
    attz timetz,
    span interval,
    uid uuid,
    doc json,
    docb jsonb,
    x xml,
    raw bytea,
    mood mood,
    pos positive,
    tags int[],
    words text[]
);
CREATE TABLE notes (k text PRIMARY KEY, body text, n int NOT NULL DEFAULT 0);
INSERT INTO items VALUES (
    1, 2, 3000000000, 12.34, 3.14159, 1.5, 2.25, 'one', 'c1', 'ab', true,
    '2024-01-02 03:04:05.123456', '2024-01-02 03:04:05.123', '2024-01-02 03:04:05.123456+02',
    '2024-01-02', '03:04:05.5', '03:04:05.123', '03:04:05+01', '1 year 2 mons 3 days 04:05:06.5',
    'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a": 1}', '{"b": [1, 2]}', '<a>1</a>', '\\x0102ff',
    'happy', 5, '{1,2,NULL}', '{"x y",z}'
);
INSERT INTO items (id) VALUES (2);
INSERT INTO notes VALUES ('a', 'first', 1), ('b', 'second', 2), ('c', NULL, 3);
"""

CHANGES = (
    "INSERT INTO items (id, name, price, tstz) VALUES (3, 'three', 1.5, '2024-06-01 00:00:00+00')",
    "UPDATE items SET name = 'ONE', score = -0.5 WHERE id = 1",
    "DELETE FROM items WHERE id = 2",
    "INSERT INTO notes VALUES ('d', 'fourth', 4)",
    "UPDATE notes SET k = 'e' WHERE k = 'd'",
    "ALTER TABLE items ADD COLUMN extra text",
    "INSERT INTO items (id, name, extra) VALUES (4, 'four', 'x')",
    "ALTER TABLE notes DROP COLUMN body",
    "INSERT INTO notes VALUES ('f', 6)",
    "DELETE FROM notes WHERE k = 'a'",
    "ALTER TABLE items REPLICA IDENTITY FULL",
    "UPDATE items SET name = 'THREE' WHERE id = 3",
    "DELETE FROM items WHERE id = 3",
    "BEGIN; INSERT INTO notes VALUES ('g', 7); INSERT INTO notes VALUES ('h', 8); COMMIT",
)
EXPECTED = {"public.items": 10, "public.notes": 12}
"""Records per topic: snapshot rows, changes and tombstones."""
TRANSACTIONS = 2 * (len(CHANGES) - 3)
"""BEGIN and END of each statement of CHANGES that changed rows (not the three ALTERs)."""

MASKED_SOURCE = ("ts_ms", "ts_us", "ts_ns", "txId", "lsn", "sequence")
MASKED_ENVELOPE = ("ts_ms", "ts_us", "ts_ns")


def _execute(database: service.Database, *statements: str) -> None:
    with contextlib.closing(psycopg2.connect(database.url)) as conn:
        conn.autocommit = True
        with conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)


def _slot_active(database: service.Database, slot: str) -> bool:
    with contextlib.closing(psycopg2.connect(database.url)) as conn, conn.cursor() as cur:
        cur.execute("SELECT active FROM pg_replication_slots WHERE slot_name = %s", (slot,))
        row = cur.fetchone()
        return bool(row and row[0])


def _normal(raw: bytes | None, prefix: str) -> Any:
    """A key or value as JSON, the topic prefix written `P`, timestamps and positions masked."""
    if raw is None:
        return None
    doc = json.loads(raw.decode().replace(f'"{prefix}.', '"P.'))
    payload = doc.get("payload")
    if isinstance(payload, dict) and isinstance(payload.get("transaction"), dict):
        payload["transaction"]["id"] = "<masked>"  # "<txId>:<lsn>": a position
    if isinstance(payload, dict) and payload.get("status") in ("BEGIN", "END"):
        payload["id"] = payload["ts_ms"] = "<masked>"  # a transaction metadata record
    if isinstance(payload, dict) and set(payload) == {"id"}:
        payload["id"] = "<masked>"  # a transaction metadata key
    if isinstance(payload, dict) and "source" in payload:
        for key in MASKED_ENVELOPE:
            payload[key] = "<masked>" if payload.get(key) is not None else None
        source = payload["source"]
        for key in MASKED_SOURCE:
            source[key] = "<masked>" if source.get(key) is not None else None
        if source.get("name") == prefix:
            source["name"] = "P"
    return doc


def _records(records: list[TopicRecord], prefix: str) -> list[dict[str, Any]]:
    return [
        {
            "key": _normal(r.key, prefix),
            "value": _normal(r.value, prefix),
            "headers": sorted(name for name, _ in r.headers),
        }
        for r in records
    ]


def _differences(ours: Any, theirs: Any, path: str = "") -> list[str]:
    """Where `ours` and `theirs` differ, as `path: kconnect ..., Debezium ...` lines."""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        out: list[str] = []
        for key in list(theirs) + [k for k in ours if k not in theirs]:
            if key not in ours or key not in theirs:
                out.append(
                    f"{path}.{key}: kconnect {ours.get(key)!r}, Debezium {theirs.get(key)!r}"
                )
            else:
                out += _differences(ours[key], theirs[key], f"{path}.{key}")
        if not out and list(ours) != list(theirs):
            out.append(f"{path}: field order kconnect {list(ours)}, Debezium {list(theirs)}")
        return out
    if isinstance(ours, list) and isinstance(theirs, list):
        if len(ours) != len(theirs):
            return [f"{path}: kconnect {ours!r}, Debezium {theirs!r}"]
        return [
            d
            for i, (a, b) in enumerate(zip(ours, theirs, strict=True))
            for d in _differences(a, b, f"{path}[{i}]")
        ]
    if ours != theirs or type(ours) is not type(theirs):
        return [f"{path}: kconnect {ours!r}, Debezium {theirs!r}"]
    return []


@pytest.mark.parametrize(
    ("metadata", "modes"),
    [
        (False, {}),
        (True, {}),
        (False, {"decimal.handling.mode": "double", "time.precision.mode": "connect"}),
        (
            False,
            {
                "decimal.handling.mode": "string",
                "time.precision.mode": "adaptive_time_microseconds",
            },
        ),
    ],
    ids=["plain", "transaction-metadata", "double-connect", "string-microseconds"],
)
def test_same_records_as_debezium(
    tmp_path: Path,
    kafka_broker: kafka.Broker,
    postgres_database: service.Database,
    standalone: Standalone,
    metadata: bool,
    modes: dict[str, str],
) -> None:
    db = postgres_database
    _execute(db, SCHEMA)
    suffix = uuid.uuid4().hex[:8]
    # The second run also turns on what is off by default: transaction metadata, and truncates
    # (skipped.operations=none), with a TRUNCATE at the end.
    extra = (
        {"provide.transaction.metadata": "true", "skipped.operations": "none"} if metadata else {}
    ) | modes
    dbz_prefix, kc_prefix = f"dbz{suffix}", f"kc{suffix}"
    ours = {
        "name": "cdc",
        "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
        "tasks.max": "1",
        **db.connector_config(),
        "topic.prefix": kc_prefix,
        "plugin.name": "pgoutput",
        "slot.name": f"kc_{suffix}",
        "publication.name": f"kc_{suffix}",
        **extra,
    }
    worker = standalone.start(
        [ours],
        worker=standalone.worker_props(
            key_converter="org.apache.kafka.connect.json.JsonConverter",
            value_converter="org.apache.kafka.connect.json.JsonConverter",
        ),
    )
    config = debezium.connector_config(
        db.connector_config(),
        topic_prefix=dbz_prefix,
        slot_name=f"dbz_{suffix}",
        publication_name=f"dbz_{suffix}",
        overrides=extra,
    )
    expected = dict(EXPECTED)
    changes = CHANGES
    if metadata:
        expected["transaction"] = TRANSACTIONS + 2
        expected["public.notes"] += 1
        changes = (*CHANGES, "TRUNCATE notes")
    with debezium.DebeziumPostgres(tmp_path / "debezium", kafka_broker.bootstrap, config) as dbz:
        dbz.wait_streaming()
        wait_until("kconnect's slot in use", lambda: _slot_active(db, f"kc_{suffix}"))
        worker.wait_state("cdc", "RUNNING")
        _execute(db, *changes)
        found: dict[str, tuple[list[TopicRecord], list[TopicRecord]]] = {}
        for table, count in expected.items():
            found[table] = (
                read_topic(kafka_broker.bootstrap, f"{kc_prefix}.{table}", min_records=count),
                read_topic(kafka_broker.bootstrap, f"{dbz_prefix}.{table}", min_records=count),
            )

    differences: list[str] = []
    for table, (kc_records, dbz_records) in found.items():
        mine = _records(kc_records, kc_prefix)
        theirs = _records(dbz_records, dbz_prefix)
        assert len(mine) == len(theirs), (table, len(mine), len(theirs))
        for i, (a, b) in enumerate(zip(mine, theirs, strict=True)):
            differences += [f"{table} record {i}{d}" for d in _differences(a, b)]
    assert not differences, "\n".join(dict.fromkeys(differences))


def test_takes_over_from_debezium_with_its_offsets_and_slot(
    tmp_path: Path,
    kafka_broker: kafka.Broker,
    postgres_database: service.Database,
    standalone: Standalone,
) -> None:
    """Debezium streams, stops; kconnect starts on the same slot, prefix and (copied) offsets:
    the topic goes on with the changes made since, none lost, the earlier ones not snapshotted
    again."""
    db = postgres_database
    _execute(db, "CREATE TABLE t (id int PRIMARY KEY, v text)", "INSERT INTO t VALUES (1, 'a')")
    suffix = uuid.uuid4().hex[:8]
    prefix, slot = f"sw{suffix}", f"sw_{suffix}"
    config = debezium.connector_config(
        db.connector_config(), topic_prefix=prefix, slot_name=slot, publication_name=slot
    )
    topic = f"{prefix}.public.t"
    with debezium.DebeziumPostgres(tmp_path / "debezium", kafka_broker.bootstrap, config) as dbz:
        dbz.wait_streaming()
        _execute(db, "INSERT INTO t VALUES (2, 'b')", "UPDATE t SET v = 'A' WHERE id = 1")
        read_topic(kafka_broker.bootstrap, topic, min_records=3)
        offsets = dbz.offsets()
    assert isinstance(offsets, dict)
    [stored] = offsets["offsets"]

    # Changes while neither runs, then kconnect with Debezium's offsets in its offsets file.
    _execute(db, "INSERT INTO t VALUES (3, 'c')", "DELETE FROM t WHERE id = 2")
    name = "takeover"
    standalone.offsets.write_text(
        json.dumps(
            {
                "version": 1,
                "offsets": [
                    [
                        serialize_key(name, stored["partition"]).decode(),
                        serialize_value(stored["offset"]).decode(),  # type: ignore[union-attr]
                    ]
                ],
            }
        )
    )
    ours = {
        **{k: v for k, v in config.items() if not k.startswith("topic.creation")},
        "name": name,
        "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
    }
    worker = standalone.start(
        [ours],
        worker=standalone.worker_props(
            key_converter="org.apache.kafka.connect.json.JsonConverter",
            value_converter="org.apache.kafka.connect.json.JsonConverter",
        ),
    )
    worker.wait_state(name, "RUNNING")
    _execute(db, "INSERT INTO t VALUES (4, 'd')")
    records = read_topic(kafka_broker.bootstrap, topic, min_records=7)
    ops = []
    for record in records:
        value = record.value_json()
        if value is not None:
            payload = value["payload"]
            row = payload["after"] or payload["before"]
            ops.append((payload["op"], row["id"]))
    # Debezium's snapshot and stream, then kconnect's: no snapshot again, nothing lost (a change
    # Debezium had sent may come again: at least once).
    assert ops[:3] == [("r", 1), ("c", 2), ("u", 1)]
    assert [op for op in ops[3:] if op not in ops[:3]] == [("c", 3), ("d", 2), ("c", 4)]


def test_the_offsets_api_answers_as_debeziums(
    tmp_path: Path, kafka_broker: kafka.Broker, postgres_database: service.Database
) -> None:
    """Debezium's PostgresConnector keeps the default `alterOffsets` (False: its replication slot
    holds a position of its own), and so does PostgresCdcSource: altering and resetting the
    offsets of a stopped connector answer Kafka Connect's "framework-managed" messages, the same
    on both, and the offsets are written all the same."""
    suffix = uuid.uuid4().hex[:8]
    prefix = f"off{suffix}"
    config = debezium.connector_config(
        postgres_database.connector_config(),
        topic_prefix=prefix,
        slot_name=f"off_{suffix}",
        publication_name=f"off_{suffix}",
    )
    offsets = {"offsets": [{"partition": {"server": prefix}, "offset": {"lsn": 123456}}]}
    requests: list[tuple[str, str, object]] = [
        ("POST", "/connectors", {"name": "cdc", "config": config, "initial_state": "STOPPED"}),
        ("PATCH", "/connectors/cdc/offsets", offsets),
        ("GET", "/connectors/cdc/offsets", None),
        ("DELETE", "/connectors/cdc/offsets", None),
        ("GET", "/connectors/cdc/offsets", None),
    ]
    workdir = tmp_path / "debezium"
    workdir.mkdir()
    worker_props = debezium.worker_config(
        kafka_broker.bootstrap,
        workdir / "java.offsets",
        debezium.plugin_path(workdir, debezium.fetch()),
    )
    java = javaconnect.JavaWorker(
        workdir, "java", worker_props, [], jvm_options=debezium.JVM_OPTIONS
    )
    try:
        java.wait_healthy(debezium.START_TIMEOUT_S, debezium.POLL_S)
        theirs = [java._request(method, path, body) for method, path, body in requests]
    finally:
        java.stop()
        kill_all()
    ours_worker = Standalone(tmp_path / "kconnect", kafka_broker.bootstrap)
    (tmp_path / "kconnect").mkdir()
    try:
        worker = ours_worker.start([])
        ours = [worker.request(method, path, body) for method, path, body in requests]
    finally:
        ours_worker.close()
    assert theirs[0][0] == ours[0][0] == 201, (theirs[0], ours[0])
    assert theirs[1:] == [
        (
            200,
            {
                "message": "The Connect framework-managed offsets for this connector have been "
                "altered successfully. However, if this connector manages offsets externally, "
                "they will need to be manually altered in the system that the connector uses."
            },
        ),
        (200, offsets),
        (
            200,
            {
                "message": "The Connect framework-managed offsets for this connector have been "
                "reset successfully. However, if this connector manages offsets externally, they "
                "will need to be manually reset in the system that the connector uses."
            },
        ),
        (200, {"offsets": []}),
    ]
    assert ours[1:] == theirs[1:]
