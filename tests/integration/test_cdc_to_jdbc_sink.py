"""A table replicated through Kafka: Debezium 3.6.1's PostgreSQL connector (on Apache Kafka
Connect's Java runtime) captures a source table's snapshot and changes; a kconnect standalone
worker unwraps them with ExtractNewRecordState and writes them with JdbcSink into a table of
another database, which ends equal to the source table."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench import debezium
from kconnect_devenv import kafka
from kconnect_devenv import postgres as service
from tests.support.sql import execute, query
from tests.support.workers import Standalone, wait_until

pytestmark = pytest.mark.integration

SOURCE_TABLE = (
    "CREATE TABLE items (id int PRIMARY KEY, name text, price numeric(10, 2), tags int[])",
    "INSERT INTO items VALUES (1, 'one', 1.25, '{1,2}'), (2, 'two', NULL, NULL)",
)
CHANGES = (
    "INSERT INTO items VALUES (3, 'three', 3.5, '{3}')",
    "UPDATE items SET name = 'ONE', price = 9.99 WHERE id = 1",
    "DELETE FROM items WHERE id = 2",
    "INSERT INTO items VALUES (2, 'two again', 2, '{}')",
    "INSERT INTO items SELECT i, 'bulk ' || i, i / 4.0, ARRAY[i] FROM generate_series(10, 400) i",
    "UPDATE items SET price = price * 2 WHERE id % 3 = 0",
    "DELETE FROM items WHERE id BETWEEN 100 AND 150",
)
ROWS = "SELECT id, name, price, tags FROM items ORDER BY id"


@pytest.fixture
def target(postgres: service.Postgres) -> Iterator[service.Database]:
    database = service.create_database(postgres)
    try:
        yield database
    finally:
        service.drop_database(postgres, database.name)


def test_debezium_to_jdbc_sink_replicates_a_table(
    tmp_path: Path,
    kafka_broker: kafka.Broker,
    standalone: Standalone,
    postgres_database: service.Database,
    target: service.Database,
) -> None:
    source = postgres_database
    execute(source, *SOURCE_TABLE)
    suffix = uuid.uuid4().hex[:8]
    prefix = f"cdc{suffix}"
    config = debezium.connector_config(
        source.connector_config(),
        topic_prefix=prefix,
        slot_name=f"cdc_{suffix}",
        publication_name=f"cdc_{suffix}",
    )
    sink = {
        "name": "replica",
        "connector.class": "io.confluent.connect.jdbc.JdbcSinkConnector",
        "topics": f"{prefix}.public.items",
        "connection.url": f"jdbc:postgresql://{target.host}:{target.port}/{target.name}",
        "connection.user": target.user,
        "connection.password": target.password,
        "key.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "transforms": "unwrap",
        "transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState",
        "table.name.format": "items",
        "insert.mode": "upsert",
        "pk.mode": "record_key",
        "delete.enabled": "true",
        "auto.create": "true",
        "auto.evolve": "true",
    }
    with debezium.DebeziumPostgres(tmp_path / "debezium", kafka_broker.bootstrap, config) as dbz:
        dbz.wait_streaming()
        worker = standalone.start([sink])
        execute(source, *CHANGES)
        expected = query(source, ROWS)
        wait_until(
            "the replica to equal the source table",
            lambda: _replica(target) == expected,
            timeout=180,
        )
    assert worker.status("replica")["tasks"][0]["state"] == "RUNNING"
    assert worker.terminate() == 0
    # The replica's columns, as JdbcSink made them from Debezium's schemas.
    assert query(
        target,
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_name = 'items' ORDER BY ordinal_position",
    ) == [("id", "integer"), ("name", "text"), ("price", "numeric"), ("tags", "ARRAY")]


def _replica(target: service.Database) -> list[tuple[object, ...]] | None:
    exists = query(target, "SELECT to_regclass('items') IS NOT NULL")[0][0]
    return query(target, ROWS) if exists else None
