"""A table replicated by kconnect alone: PostgresCdcSource captures a source table's snapshot and
changes, and JdbcSink (after ExtractNewRecordState) writes them into a table of another database,
both in one standalone worker, which is SIGKILLed in the middle of the changes and started again;
the replica ends equal to the source table."""

from __future__ import annotations

import uuid

import pytest

from kconnect_devenv import postgres as service
from tests.integration.test_cdc_to_jdbc_sink import ROWS, SOURCE_TABLE, _replica, target
from tests.support.sql import execute, query
from tests.support.workers import Standalone, wait_until

pytestmark = pytest.mark.integration

__all__ = ["target"]  # the fixture, shared with the test of Debezium's records into JdbcSink

BEFORE_KILL = (
    "INSERT INTO items VALUES (3, 'three', 3.5, '{3}')",
    "UPDATE items SET name = 'ONE', price = 9.99 WHERE id = 1",
    "DELETE FROM items WHERE id = 2",
    "INSERT INTO items SELECT i, 'bulk ' || i, i / 4.0, ARRAY[i] FROM generate_series(10, 2000) i",
)
AFTER_KILL = (
    "INSERT INTO items VALUES (2, 'two again', 2, '{}')",
    "UPDATE items SET price = price * 2 WHERE id % 3 = 0",
    "DELETE FROM items WHERE id BETWEEN 100 AND 150",
)


def test_postgres_cdc_to_jdbc_sink_replicates_a_table_through_a_kill(
    postgres_database: service.Database,
    target: service.Database,
    standalone: Standalone,
) -> None:
    source = postgres_database
    execute(source, *SOURCE_TABLE)
    suffix = uuid.uuid4().hex[:8]
    prefix = f"kc{suffix}"
    cdc = {
        "name": "cdc",
        "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
        **source.connector_config(),
        "topic.prefix": prefix,
        "slot.name": f"kc_{suffix}",
        "publication.name": f"kc_{suffix}",
    }
    sink = {
        "name": "replica",
        "connector.class": "io.confluent.connect.jdbc.JdbcSinkConnector",
        "topics": f"{prefix}.public.items",
        "connection.url": f"jdbc:postgresql://{target.host}:{target.port}/{target.name}",
        "connection.user": target.user,
        "connection.password": target.password,
        "transforms": "unwrap",
        "transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState",
        "table.name.format": "items",
        "insert.mode": "upsert",
        "pk.mode": "record_key",
        "delete.enabled": "true",
        "auto.create": "true",
        "auto.evolve": "true",
    }
    worker_props = standalone.worker_props(
        key_converter="org.apache.kafka.connect.json.JsonConverter",
        value_converter="org.apache.kafka.connect.json.JsonConverter",
    )
    worker = standalone.start([cdc, sink], worker=worker_props)
    worker.wait_state("cdc", "RUNNING")
    execute(source, *BEFORE_KILL)
    wait_until("some rows in the replica", lambda: len(_replica(target) or []) > 100)
    worker.kill()
    execute(source, *AFTER_KILL)
    worker = standalone.start([cdc, sink], worker=worker_props)
    expected = query(source, ROWS)
    wait_until(
        "the replica to equal the source table",
        lambda: _replica(target) == expected,
        timeout=180,
    )
    assert worker.status("cdc")["tasks"][0]["state"] == "RUNNING"
    assert worker.status("replica")["tasks"][0]["state"] == "RUNNING"
