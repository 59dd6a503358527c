"""PostgresCdcSource on a distributed cluster: when the worker running its task is killed in the
middle of a stream of changes, the task moves to the survivor, which resumes from the offsets in
the cluster's offsets topic and the slot's confirmed position. Every change is on the topic
afterwards (at-least-once: some may come twice, none may be missing)."""

from __future__ import annotations

import threading
import time
import uuid

import psycopg2
import pytest

from kconnect_devenv import postgres
from tests.support.cluster import Cluster, task_owners, wait_all_running
from tests.support.topic_records import read_topic
from tests.support.workers import wait_until

pytestmark = pytest.mark.integration

CHANGES = 3000
ROWS_PER_TRANSACTION = 10
JSON = "org.apache.kafka.connect.json.JsonConverter"


def _execute(db: postgres.Database, statement: str, *params: object) -> object:
    conn = psycopg2.connect(db.dsn)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(statement, params or None)
            return cur.fetchone() if cur.description else None
    finally:
        conn.close()


def _write_changes(db: postgres.Database, written: list[int]) -> None:
    """CHANGES inserts, ROWS_PER_TRANSACTION to a transaction, over a few seconds."""
    conn = psycopg2.connect(db.dsn)
    try:
        with conn.cursor() as cur:
            for first in range(0, CHANGES, ROWS_PER_TRANSACTION):
                cur.execute(
                    "INSERT INTO t SELECT g FROM generate_series(%s, %s) g",
                    (first, first + ROWS_PER_TRANSACTION - 1),
                )
                conn.commit()
                written.append(first + ROWS_PER_TRANSACTION)
                time.sleep(0.01)
    finally:
        conn.close()


def test_a_killed_workers_task_resumes_on_a_survivor_without_losing_a_change(
    postgres_database: postgres.Database, cluster: Cluster, kafka_bootstrap: str
) -> None:
    db = postgres_database
    prefix = f"dist{uuid.uuid4().hex[:8]}"
    slot = f"slot_{prefix}"
    _execute(db, "CREATE TABLE t (id int PRIMARY KEY)")
    quick_failover = {"session.timeout.ms": "6000", "heartbeat.interval.ms": "1000"}
    workers = [cluster.start(**quick_failover) for _ in range(2)]
    config = {
        "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
        "tasks.max": "1",
        **db.connector_config(),
        "topic.prefix": prefix,
        "slot.name": slot,
        "publication.name": f"pub_{prefix}",
        "key.converter": JSON,
        "value.converter": JSON,
    }
    status, body = workers[0].request("POST", "/connectors", {"name": "cdc", "config": config})
    assert status == 201, body
    owner = task_owners(wait_all_running(workers[0], "cdc", 1))[0]
    wait_until(
        "the slot in use",
        lambda: (
            _execute(db, "SELECT active FROM pg_replication_slots WHERE slot_name = %s", slot)
            == (True,)
        ),
    )
    victim = next(w for w in workers if w.port_id == owner)
    survivor = next(w for w in workers if w.port_id != owner)

    written: list[int] = []
    writer = threading.Thread(target=_write_changes, args=(db, written), name="changes")
    writer.start()
    try:
        wait_until(
            "a third of the changes written", lambda: written and written[-1] >= CHANGES // 3
        )
        victim.kill()
        killed_at = written[-1]
        wait_all_running(survivor, "cdc", 1, avoid=owner)
    finally:
        writer.join()

    def every_id_present() -> bool:
        records = read_topic(kafka_bootstrap, f"{prefix}.public.t", min_records=CHANGES)
        ids = {r.value_json()["payload"]["after"]["id"] for r in records if r.value is not None}
        return ids == set(range(CHANGES))

    assert killed_at < CHANGES, "the kill was meant to land in the middle of the changes"
    wait_until("every inserted row on the topic", every_id_present, 120)
    assert "starting task cdc-0" in survivor.log()
