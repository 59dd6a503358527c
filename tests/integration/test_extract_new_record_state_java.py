"""kconnect's ExtractNewRecordState beside Debezium's own, on the same change events.

One Java Connect worker runs Debezium's PostgresConnector three times on one database, each with
a slot of its own, so each captures the same WAL: one connector writes the raw envelopes, the
others put Debezium's `io.debezium.transforms.ExtractNewRecordState` on them with two configs.
kconnect's transform is then applied to the raw envelopes (through kconnect's JsonConverter) and
its records compared with Debezium's, key, value and schema, with JsonConverter: the topic
prefixes are the only difference allowed (the schema names carry them).
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
from kconnect.api.records import SinkRecord
from kconnect.converters.json import JsonConverter
from kconnect.transforms.extract_new_record_state import ExtractNewRecordState
from kconnect_devenv import kafka
from kconnect_devenv import postgres as service
from tests.support.topic_records import TopicRecord, read_topic

pytestmark = pytest.mark.integration

TABLE = """
CREATE TABLE items (id int PRIMARY KEY, name text, price numeric(10, 2), tags int[]);
ALTER TABLE items REPLICA IDENTITY FULL;
"""
CHANGES = (
    "INSERT INTO items VALUES (1, 'one', 1.25, '{1,2}')",
    "INSERT INTO items VALUES (2, 'two', NULL, NULL)",
    "UPDATE items SET name = 'ONE', price = 9.99 WHERE id = 1",
    "DELETE FROM items WHERE id = 2",
    "INSERT INTO items VALUES (3, 'three', 3, '{}')",
    "DELETE FROM items WHERE id = 3",
)
# 4 inserts and updates, 2 deletes each followed by a tombstone.
RAW_RECORDS = 8

UNWRAPS = {
    "rewrite": {
        "delete.tombstone.handling.mode": "rewrite-with-tombstone",
        "add.fields": "op,table,lsn,source.ts_ms,db:database",
        "add.headers": "op,source.table",
        "add.headers.prefix": "h_",
    },
    "tombstone": {},
}


def _connector(
    database: service.Database, prefix: str, suffix: str, unwrap: dict[str, str] | None
) -> dict[str, str]:
    overrides = {"snapshot.mode": "no_data"}
    if unwrap is not None:
        overrides["transforms"] = "unwrap"
        overrides["transforms.unwrap.type"] = debezium.EXTRACT_NEW_RECORD_STATE
        overrides.update({f"transforms.unwrap.{k}": v for k, v in unwrap.items()})
    config = debezium.connector_config(
        database.connector_config(),
        topic_prefix=prefix,
        slot_name=f"{prefix}_{suffix}",
        publication_name=f"{prefix}_{suffix}",
        overrides=overrides,
    )
    return {"name": prefix, **config}


def _slots_active(database: service.Database, slots: list[str]) -> bool:
    with contextlib.closing(psycopg2.connect(database.url)) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM pg_replication_slots WHERE active AND slot_name = ANY(%s)",
            (slots,),
        )
        row = cur.fetchone()
    return bool(row and row[0] == len(slots))


def _python_unwrap(
    records: list[TopicRecord], topic: str, props: dict[str, str]
) -> list[tuple[Any, Any, list[tuple[str, str]]]]:
    """kconnect's transform over the raw records: (key JSON, value JSON, headers) of each."""
    keys, values = JsonConverter(), JsonConverter()
    keys.configure({"schemas.enable": "true"}, is_key=True)
    values.configure({"schemas.enable": "true"}, is_key=False)
    transform = ExtractNewRecordState[SinkRecord]()
    transform.configure(props)
    out = []
    for r in records:
        key = keys.to_connect_data(topic, r.key)
        value = values.to_connect_data(topic, r.value)
        record = SinkRecord(
            topic,
            0,
            r.offset,
            value.value,
            value_schema=value.schema,
            key=key.value,
            key_schema=key.schema,
        )
        result = transform.apply(record)
        if result is None:
            continue
        key_bytes = keys.from_connect_data(topic, result.key_schema, result.key)
        value_bytes = values.from_connect_data(topic, result.value_schema, result.value)
        headers = [(h.key, str(h.value)) for h in result.headers]
        out.append(
            (
                None if key_bytes is None else json.loads(key_bytes),
                None if value_bytes is None else json.loads(value_bytes),
                headers,
            )
        )
    return out


def _java(records: list[TopicRecord]) -> list[tuple[Any, Any, list[tuple[str, str]]]]:
    return [
        (
            r.key_json(),
            r.value_json(),
            # The connector's own context headers (a run id of each connector) are not the
            # transform's doing.
            [
                (k, (v or b"").decode())
                for k, v in (r.headers or [])
                if not k.startswith("__debezium.context.")
            ],
        )
        for r in records
    ]


def test_extract_new_record_state_matches_debeziums(
    tmp_path: Path, kafka_broker: kafka.Broker, postgres_database: service.Database
) -> None:
    db = postgres_database
    with contextlib.closing(psycopg2.connect(db.url)) as conn:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(TABLE)
    suffix = uuid.uuid4().hex[:8]
    raw = f"raw{suffix}"
    prefixes = {mode: f"{mode}{suffix}" for mode in UNWRAPS}
    connectors = [_connector(db, raw, "s", None)]
    connectors += [_connector(db, prefixes[m], "s", UNWRAPS[m]) for m in UNWRAPS]
    for d in ("plugins", "java"):
        (tmp_path / d).mkdir()
    plugins = debezium.plugin_path(tmp_path / "plugins", debezium.fetch())
    worker = javaconnect.JavaWorker(
        tmp_path / "java",
        "dbz-unwrap",
        debezium.worker_config(kafka_broker.bootstrap, tmp_path / "offsets", plugins),
        connectors,
        libs=javaconnect.fetch(),
        jvm_options=debezium.JVM_OPTIONS,
    )
    try:
        for c in connectors:
            worker.wait_running(c["name"], 120, 0.5)
        worker.wait_for(
            "every replication slot in use",
            lambda: True if _slots_active(db, [c["slot.name"] for c in connectors]) else None,
            120,
            0.5,
        )
        with contextlib.closing(psycopg2.connect(db.url)) as conn:
            conn.autocommit = True
            with conn.cursor() as cur:
                for change in CHANGES:
                    cur.execute(change)
        raw_records = read_topic(
            kafka_broker.bootstrap, f"{raw}.public.items", min_records=RAW_RECORDS
        )
        expected_counts = {"rewrite": 8, "tombstone": 6}
        java = {
            m: read_topic(
                kafka_broker.bootstrap,
                f"{prefixes[m]}.public.items",
                min_records=expected_counts[m],
            )
            for m in UNWRAPS
        }
    finally:
        worker.stop()
    assert len(raw_records) == RAW_RECORDS
    for mode, props in UNWRAPS.items():
        ours = json.loads(json.dumps(_python_unwrap(raw_records, f"{raw}.public.items", props)))
        theirs = json.loads(json.dumps(_java(java[mode])).replace(prefixes[mode], raw))
        assert len(ours) == len(theirs), mode
        previous: list[Any] = []
        for mine, reference in zip(ours, theirs, strict=True):
            if reference[1] is None and reference[2][: len(previous)] == previous:
                # Debezium's connector gives a delete and its tombstone one header list, and the
                # transform adds the delete's headers to that list in place: in Java the
                # tombstone carries them too. Records read from Kafka share nothing.
                reference = [reference[0], None, reference[2][len(previous) :]]  # noqa: PLW2901
            assert mine == reference, mode
            previous = reference[2]
