"""PostgresCdcSource against a real PostgreSQL server and the real broker, in standalone workers.

Each test has a database of its own (and so its own slot and publication): a snapshot, then the
stream, a graceful restart, a SIGKILL in the middle of a stream of changes (every change is on
the topic afterwards; duplicates are allowed, losses are not), columns added and dropped while
the task runs, and the errors a user sees for a wrong password or a slot in use.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import psycopg2
import psycopg2.extras
import pytest
from confluent_kafka import Consumer, KafkaException, TopicPartition

from tests.support.workers import Standalone, Worker, wait_until

pytestmark = pytest.mark.integration

# The database is set up before the workers and so torn down after them: a running task's slot
# would keep it from being dropped.


class _Database(Protocol):
    name: str

    @property
    def dsn(self) -> str: ...

    def connector_config(self) -> dict[str, str]: ...


def _worker_props(standalone: Standalone) -> dict[str, str]:
    return standalone.worker_props(
        key_converter="org.apache.kafka.connect.json.JsonConverter",
        value_converter="org.apache.kafka.connect.json.JsonConverter",
    )


def _connector(db: _Database, prefix: str, **extra: str) -> dict[str, str]:
    return {
        "name": "cdc",
        "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
        "tasks.max": "1",
        **db.connector_config(),
        "topic.prefix": prefix,
        "slot.name": f"slot_{prefix}",
        "publication.name": f"pub_{prefix}",
        **{k.replace("_", "."): v for k, v in extra.items()},
    }


def _sql(db: _Database, *statements: str, params: tuple[object, ...] = ()) -> None:
    """Run `statements` (each with `params`) in autocommit mode."""
    conn = psycopg2.connect(db.dsn)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            for s in statements:
                cur.execute(s, params or None)
    finally:
        conn.close()


def _slot(db: _Database, slot: str) -> tuple[bool, int] | None:
    """(active, confirmed_flush_lsn) of the replication slot; None when there is none."""
    conn = psycopg2.connect(db.dsn)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT active, coalesce(confirmed_flush_lsn - '0/0', 0)::bigint "
                "FROM pg_replication_slots WHERE slot_name = %s",
                (slot,),
            )
            row = cur.fetchone()
            return None if row is None else (bool(row[0]), int(row[1]))
    finally:
        conn.close()


def _slot_exists(db: _Database, slot: str) -> bool:
    return _slot(db, slot) is not None


def _slot_active(db: _Database, slot: str) -> bool:
    return (_slot(db, slot) or (False, 0))[0]


def _slot_flushed(db: _Database, slot: str) -> int:
    return (_slot(db, slot) or (False, 0))[1]


class TopicReader:
    """Reads a topic from the start as it grows; each message's key and value as JSON."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.topic = topic
        self._consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": f"read-{uuid.uuid4().hex}",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
                "topic.metadata.refresh.interval.ms": 500,
            }
        )
        self._consumer.assign([TopicPartition(topic, 0, 0)])
        self.messages: list[tuple[Any, Any]] = []

    def read(self) -> list[tuple[Any, Any]]:
        for msg in self._consumer.consume(1000, 0.5):
            if msg.error() is not None:
                if msg.error().code() == -191 or "UNKNOWN_TOPIC" in str(msg.error()):
                    continue  # the topic is not there yet
                raise KafkaException(msg.error())
            key = None if msg.key() is None else json.loads(msg.key())
            value = None if msg.value() is None else json.loads(msg.value())
            self.messages.append((key, value))
        return self.messages

    def wait_for(self, what: str, check: Callable[[list[tuple[Any, Any]]], bool]) -> None:
        wait_until(what, lambda: check(self.read()))

    def close(self) -> None:
        self._consumer.close()


@pytest.fixture
def reader_factory(kafka_bootstrap: str) -> Iterator[Callable[[str], TopicReader]]:
    readers: list[TopicReader] = []

    def make(topic: str) -> TopicReader:
        r = TopicReader(kafka_bootstrap, topic)
        readers.append(r)
        return r

    yield make
    for r in readers:
        r.close()


def _payloads(messages: list[tuple[Any, Any]]) -> list[dict[str, Any]]:
    return [v["payload"] for _, v in messages if v is not None]


def _ops(messages: list[tuple[Any, Any]]) -> list[tuple[str, Any]]:
    out = []
    for p in _payloads(messages):
        row = p["after"] if p["after"] is not None else p["before"]
        out.append((p["op"], row["id"]))
    return out


def test_snapshot_then_stream_then_resume_after_restart(
    postgres_database: _Database,
    standalone: Standalone,
    reader_factory: Callable[[str], TopicReader],
) -> None:
    db = postgres_database
    prefix = f"s{uuid.uuid4().hex[:8]}"
    _sql(
        db,
        "CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL, price numeric(8,2))",
        "INSERT INTO items SELECT g, 'item ' || g, g * 1.5 FROM generate_series(1, 5) g",
        "CREATE TABLE other (id int PRIMARY KEY)",
        "INSERT INTO other VALUES (1), (2)",
    )
    connector = _connector(db, prefix)
    worker = standalone.start([connector], worker=_worker_props(standalone))
    items = reader_factory(f"{prefix}.public.items")
    other = reader_factory(f"{prefix}.public.other")
    items.wait_for("the snapshot of items", lambda m: len(m) >= 5)
    other.wait_for("the snapshot of other", lambda m: len(m) >= 2)
    snap = _payloads(items.messages) + _payloads(other.messages)
    assert {p["op"] for p in snap} == {"r"}
    marks = [p["source"]["snapshot"] for p in snap]
    assert marks.count("first") == 1
    assert marks.count("last") == 1
    assert marks.count("last_in_data_collection") == 1
    key, value = items.messages[0]
    assert key["schema"]["name"] == f"{prefix}.public.items.Key"
    assert key["payload"] == {"id": 1}
    assert value["schema"]["name"] == f"{prefix}.public.items.Envelope"
    assert value["payload"]["after"] == {"id": 1, "name": "item 1", "price": "AJY="}

    _sql(
        db,
        "INSERT INTO items VALUES (6, 'six', 6)",
        "UPDATE items SET name = 'one' WHERE id = 1",
        "DELETE FROM items WHERE id = 2",
    )
    items.wait_for("the streamed changes", lambda m: len(m) >= 9)
    assert _ops(items.messages)[5:] == [("c", 6), ("u", 1), ("d", 2)]
    assert items.messages[8] == (items.messages[7][0], None)  # the tombstone
    flushed_before = _slot_flushed(db, f"slot_{prefix}")
    worker.terminate()

    # Changes while no task runs are streamed after the restart, and nothing is sent twice:
    # the graceful stop committed every offset.
    _sql(db, "INSERT INTO items VALUES (7, 'seven', 7)", "UPDATE items SET price = 1 WHERE id = 3")
    standalone.start([connector], worker=_worker_props(standalone))
    items.wait_for("the changes made while stopped", lambda m: len(m) >= 11)
    _sql(db, "INSERT INTO items VALUES (8, 'eight', 8)")
    items.wait_for("a change after the restart", lambda m: len(m) >= 12)
    assert _ops(items.messages)[8:] == [("c", 7), ("u", 3), ("c", 8)]
    # The slot's confirmed position follows the committed offsets.
    wait_until(
        "the slot's confirmed position to move past the restart",
        lambda: _slot_flushed(db, f"slot_{prefix}") > flushed_before,
    )


def test_sigkill_during_a_stream_of_changes_loses_nothing(
    postgres_database: _Database,
    standalone: Standalone,
    reader_factory: Callable[[str], TopicReader],
) -> None:
    db = postgres_database
    prefix = f"k{uuid.uuid4().hex[:8]}"
    _sql(db, "CREATE TABLE events (id int PRIMARY KEY, body text)")
    connector = _connector(db, prefix, snapshot_mode="no_data", tombstones_on_delete="false")
    worker = standalone.start([connector], worker=_worker_props(standalone))
    worker.wait_state("cdc", "RUNNING")
    wait_until("the slot", lambda: _slot_exists(db, f"slot_{prefix}"))

    total = 3000
    long_ids = range(100_000, 100_300)
    stop = threading.Event()

    def write() -> None:
        conn = psycopg2.connect(db.dsn)
        conn.autocommit = False
        try:
            with conn.cursor() as cur:
                i = 0
                while i < total and not stop.is_set():
                    # transactions of 1 to 10 rows, one multi-row insert among them
                    n = min(1 + i % 10, total - i)
                    cur.execute(
                        "INSERT INTO events SELECT g, 'row ' || g FROM generate_series(%s, %s) g",
                        (i, i + n - 1),
                    )
                    conn.commit()
                    i += n
        finally:
            conn.close()

    def write_long() -> None:
        # Transactions that stay open while many short ones commit: their changes start
        # before positions the slot is told are flushed, and must still not be skipped.
        conn = psycopg2.connect(db.dsn)
        conn.autocommit = False
        try:
            with conn.cursor() as cur:
                for i in long_ids:
                    if stop.is_set():
                        return
                    cur.execute("INSERT INTO events VALUES (%s, 'long')", (i,))
                    if i % 10 == 9:
                        conn.commit()
                    else:
                        stop.wait(0.01)
        finally:
            conn.close()

    writer = threading.Thread(target=write, name="writer")
    long_writer = threading.Thread(target=write_long, name="long-writer")
    writer.start()
    long_writer.start()
    try:
        topic = reader_factory(f"{prefix}.public.events")
        topic.wait_for("some changes on the topic", lambda m: len(m) >= 300)
        worker.kill()
        restarted = standalone.start([connector], worker=_worker_props(standalone))
        writer.join(timeout=120)
        long_writer.join(timeout=120)
        assert not writer.is_alive()
        assert not long_writer.is_alive()
        expected = set(range(total)) | set(long_ids)

        def all_there(messages: list[tuple[Any, Any]]) -> bool:
            return {i for _, i in _ops(messages)} >= expected

        topic.wait_for(f"all {len(expected)} changes on the topic", all_there)
        counts = Counter(i for _, i in _ops(topic.messages))
        assert set(counts) == expected
        restarted.wait_state("cdc", "RUNNING")
    finally:
        stop.set()
        writer.join(timeout=30)
        long_writer.join(timeout=30)


def test_columns_added_and_dropped_while_streaming(
    postgres_database: _Database,
    standalone: Standalone,
    reader_factory: Callable[[str], TopicReader],
) -> None:
    db = postgres_database
    prefix = f"a{uuid.uuid4().hex[:8]}"
    _sql(db, "CREATE TABLE t (id int PRIMARY KEY, a text)")
    worker = standalone.start(
        [_connector(db, prefix, snapshot_mode="no_data")], worker=_worker_props(standalone)
    )
    worker.wait_state("cdc", "RUNNING")
    wait_until("the slot", lambda: _slot_exists(db, f"slot_{prefix}"))
    topic = reader_factory(f"{prefix}.public.t")
    _sql(
        db,
        "INSERT INTO t VALUES (1, 'x')",
        "ALTER TABLE t ADD COLUMN b int NOT NULL DEFAULT 7",
        "INSERT INTO t VALUES (2, 'y', 8)",
        "ALTER TABLE t DROP COLUMN a",
        "INSERT INTO t VALUES (3, 9)",
    )
    topic.wait_for("three inserts", lambda m: len(m) >= 3)
    after = [p["after"] for p in _payloads(topic.messages)]
    assert after == [{"id": 1, "a": "x"}, {"id": 2, "a": "y", "b": 8}, {"id": 3, "b": 9}]
    schemas = [v["schema"] for _, v in topic.messages]
    b_field = next(
        f
        for f in next(f for f in schemas[1]["fields"] if f["field"] == "after")["fields"]
        if f["field"] == "b"
    )
    assert b_field == {"type": "int32", "optional": False, "default": 7, "field": "b"}


def test_wrong_password_fails_the_task_without_showing_it(
    postgres_database: _Database, standalone: Standalone
) -> None:
    db = postgres_database
    prefix = f"p{uuid.uuid4().hex[:8]}"
    wrong = "not-the-password-" + uuid.uuid4().hex[:6]
    connector = {**_connector(db, prefix), "database.password": wrong}
    worker = standalone.start([connector], worker=_worker_props(standalone), wait=True)
    status = _wait_task_failed(worker)
    trace = status["tasks"][0]["trace"]
    assert "could not connect" in trace
    assert "password authentication failed" in trace
    assert wrong not in trace
    assert wrong not in worker.log()


def _wait_task_failed(worker: Worker) -> dict[str, Any]:
    def failed() -> dict[str, Any] | None:
        s = worker.status("cdc")
        if s and s.get("tasks") and s["tasks"][0]["state"] == "FAILED":
            return s
        return None

    return wait_until("the task to fail", failed)  # type: ignore[no-any-return]


def test_slot_in_use_is_a_clear_error(postgres_database: _Database, standalone: Standalone) -> None:
    db = postgres_database
    prefix = f"u{uuid.uuid4().hex[:8]}"
    slot = f"slot_{prefix}"
    conn = psycopg2.connect(db.dsn, connection_factory=psycopg2.extras.LogicalReplicationConnection)
    try:
        cur = conn.cursor()
        cur.create_replication_slot(slot, output_plugin="pgoutput")
        _sql(db, f"CREATE PUBLICATION pub_{prefix} FOR ALL TABLES")
        cur.start_replication(
            slot_name=slot, options={"proto_version": "1", "publication_names": f"pub_{prefix}"}
        )
        worker = standalone.start(
            [
                _connector(
                    db,
                    prefix,
                    snapshot_mode="never",
                    slot_max_retries="2",
                    slot_retry_delay_ms="200",
                )
            ],
            worker=_worker_props(standalone),
        )
        trace = _wait_task_failed(worker)["tasks"][0]["trace"]
        assert f"replication slot '{slot}' is in use" in trace
        assert "after 2 retries" in trace
    finally:
        conn.close()


def test_filters_publication_and_heartbeats_move_an_idle_slot(
    postgres_database: _Database,
    standalone: Standalone,
    reader_factory: Callable[[str], TopicReader],
) -> None:
    db = postgres_database
    prefix = f"h{uuid.uuid4().hex[:8]}"
    _sql(
        db,
        "CREATE TABLE kept (id int PRIMARY KEY, secret text, shown text)",
        "CREATE TABLE ignored (id int PRIMARY KEY)",
        "INSERT INTO kept VALUES (1, 's', 'a')",
        "INSERT INTO ignored VALUES (1)",
    )
    worker = standalone.start(
        [
            _connector(
                db,
                prefix,
                table_include_list="public\\.kept",
                column_exclude_list="public\\.kept\\.secret",
                publication_autocreate_mode="filtered",
                heartbeat_interval_ms="200",
            )
        ],
        worker=_worker_props(standalone),
    )
    kept = reader_factory(f"{prefix}.public.kept")
    heartbeats = reader_factory(f"__debezium-heartbeat.{prefix}")
    kept.wait_for("the snapshot", lambda m: len(m) >= 1)
    assert _payloads(kept.messages)[0]["after"] == {"id": 1, "shown": "a"}
    conn = psycopg2.connect(db.dsn)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT array_agg(c.relname::text) FROM pg_publication_rel p "
                "JOIN pg_class c ON c.oid = p.prrelid JOIN pg_publication b ON b.oid = p.prpubid "
                "WHERE b.pubname = %s",
                (f"pub_{prefix}",),
            )
            row = cur.fetchone()
            assert row is not None
            assert row[0] == ["kept"]
    finally:
        conn.close()
    heartbeats.wait_for("heartbeats", lambda m: len(m) >= 2)
    key, value = heartbeats.messages[0]
    assert key["payload"] == {"serverName": prefix}
    assert key["schema"]["name"] == "io.debezium.connector.common.ServerNameKey"
    assert value["schema"]["name"] == "io.debezium.connector.common.Heartbeat"

    # Changes only to a table the slot does not capture: the heartbeats' offsets still move the
    # slot's confirmed position past them, so the server can recycle that WAL.
    slot = f"slot_{prefix}"
    before = _slot_flushed(db, slot)
    _sql(db, "INSERT INTO ignored SELECT g FROM generate_series(2, 50) g")
    wait_until("the idle slot to move on", lambda: _slot_flushed(db, slot) > before)
    _sql(db, "INSERT INTO kept VALUES (2, 's', 'b')")
    kept.wait_for("the change", lambda m: len(m) >= 2)
    assert _payloads(kept.messages)[1]["after"] == {"id": 2, "shown": "b"}
    worker.wait_state("cdc", "RUNNING")


def test_snapshot_modes_never_initial_and_when_needed(
    postgres_database: _Database,
    standalone: Standalone,
    reader_factory: Callable[[str], TopicReader],
) -> None:
    db = postgres_database
    prefix = f"m{uuid.uuid4().hex[:8]}"
    slot = f"slot_{prefix}"
    _sql(db, "CREATE TABLE t (id int PRIMARY KEY)", "INSERT INTO t VALUES (1), (2)")
    topic = reader_factory(f"{prefix}.public.t")

    # never: no snapshot, the stream from the slot's creation on
    worker = standalone.start(
        [_connector(db, prefix, snapshot_mode="never")], worker=_worker_props(standalone)
    )
    wait_until("the slot", lambda: _slot_exists(db, slot))
    worker.wait_state("cdc", "RUNNING")
    _sql(db, "INSERT INTO t VALUES (3)")
    topic.wait_for("the insert", lambda m: len(m) >= 1)
    assert _ops(topic.messages) == [("c", 3)]
    worker.terminate()

    # initial, with offsets but without the slot they came from: a clear error, nothing guessed
    _sql(db, f"SELECT pg_drop_replication_slot('{slot}')")
    worker = standalone.start([_connector(db, prefix)], worker=_worker_props(standalone))
    trace = _wait_task_failed(worker)["tasks"][0]["trace"]
    assert f"replication slot '{slot}' does not exist" in trace
    assert "snapshot.mode=when_needed" in trace
    worker.terminate()

    # when_needed: the same situation is a new snapshot, then the stream
    worker = standalone.start(
        [_connector(db, prefix, snapshot_mode="when_needed")], worker=_worker_props(standalone)
    )
    topic.wait_for("the new snapshot", lambda m: len(m) >= 4)
    assert _ops(topic.messages)[1:] == [("r", 1), ("r", 2), ("r", 3)]
    _sql(db, "INSERT INTO t VALUES (4)")
    topic.wait_for("the stream after it", lambda m: len(m) >= 5)
    assert _ops(topic.messages)[4] == ("c", 4)


def test_a_snapshot_on_a_slot_already_there_is_followed_by_every_change_since(
    postgres_database: _Database,
    standalone: Standalone,
    reader_factory: Callable[[str], TopicReader],
) -> None:
    """No offset stored, but the slot is there (a first run killed before its first offset
    commit, or a slot made beforehand): the slot is kept, and after the snapshot the stream sends
    every change since the slot's confirmed position, the delete included, so a consumer that
    applies the records in order ends with the table as it is. Dropping the slot to snapshot
    afresh would lose the delete."""
    db = postgres_database
    prefix = f"e{uuid.uuid4().hex[:8]}"
    _sql(
        db,
        "CREATE TABLE t (id int PRIMARY KEY, v text)",
        "INSERT INTO t VALUES (1, 'a'), (2, 'b')",
        f"CREATE PUBLICATION pub_{prefix} FOR ALL TABLES",
        f"SELECT pg_create_logical_replication_slot('slot_{prefix}', 'pgoutput')",
    )
    _sql(db, "INSERT INTO t VALUES (3, 'c')", "UPDATE t SET v = 'B' WHERE id = 2")
    _sql(db, "DELETE FROM t WHERE id = 1")
    topic = reader_factory(f"{prefix}.public.t")
    standalone.start([_connector(db, prefix)], worker=_worker_props(standalone))
    topic.wait_for("the snapshot and the changes since the slot", lambda m: len(m) >= 6)
    ops = _ops(topic.messages)
    assert sorted(ops[:2]) == [("r", 2), ("r", 3)]  # in the table's physical order
    assert ops[2:] == [("c", 3), ("u", 2), ("d", 1)]
    assert topic.messages[-1][1] is None  # the delete's tombstone
    replica: dict[int, str] = {}
    for p in _payloads(topic.messages):
        if p["after"] is None:
            replica.pop(p["before"]["id"], None)
        else:
            replica[p["after"]["id"]] = p["after"]["v"]
    assert replica == {2: "B", 3: "c"}


def test_a_broken_replication_connection_is_reopened_without_loss_or_repeats(
    postgres_database: _Database,
    standalone: Standalone,
    reader_factory: Callable[[str], TopicReader],
) -> None:
    db = postgres_database
    prefix = f"r{uuid.uuid4().hex[:8]}"
    slot = f"slot_{prefix}"
    _sql(db, "CREATE TABLE t (id int PRIMARY KEY)")
    worker = standalone.start(
        [_connector(db, prefix, snapshot_mode="no_data")], worker=_worker_props(standalone)
    )
    wait_until("the slot in use", lambda: _slot_active(db, slot))
    topic = reader_factory(f"{prefix}.public.t")
    _sql(db, "INSERT INTO t SELECT g FROM generate_series(0, 99) g")
    topic.wait_for("the first changes", lambda m: len(m) >= 100)
    # The server ends the walsender (as a restart or wal_sender_timeout would), twice.
    for batch in (1, 2):
        _sql(
            db,
            "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots "
            "WHERE slot_name = %s",
            params=(slot,),
        )
        _sql(
            db,
            "INSERT INTO t SELECT g FROM generate_series(%s, %s) g",
            params=(batch * 100, batch * 100 + 99),
        )
        topic.wait_for(f"batch {batch}", lambda m, n=batch: len(m) >= 100 * (n + 1))
    assert sorted(i for _, i in _ops(topic.messages)) == list(range(300))
    worker.wait_state("cdc", "RUNNING")
    assert "reconnecting" in worker.log()


def test_sigkill_during_the_snapshot_snapshots_again_then_streams(
    postgres_database: _Database,
    standalone: Standalone,
    reader_factory: Callable[[str], TopicReader],
) -> None:
    db = postgres_database
    prefix = f"n{uuid.uuid4().hex[:8]}"
    rows = 5_000
    # Tables are snapshotted in name order: `big`, then `gate`. A transaction holding `gate`
    # locked stops the snapshot after `big`, so the kill lands in the middle of it every time.
    # The publication and the slot are made first (making a slot waits for every transaction
    # with an id, and the lock gives its transaction one); the task finds the slot with no
    # offset and snapshots on it.
    _sql(
        db,
        "CREATE TABLE big (id int PRIMARY KEY, body text)",
        "CREATE TABLE gate (id int PRIMARY KEY)",
        "INSERT INTO gate VALUES (1)",
        f"CREATE PUBLICATION pub_{prefix} FOR ALL TABLES",
        f"SELECT pg_create_logical_replication_slot('slot_{prefix}', 'pgoutput')",
    )
    _sql(
        db,
        "INSERT INTO big SELECT g, repeat('x', 50) FROM generate_series(0, %s) g",
        params=(rows - 1,),
    )
    lock = psycopg2.connect(db.dsn)
    try:
        with lock.cursor() as cur:
            cur.execute("LOCK TABLE gate IN ACCESS EXCLUSIVE MODE")
        connector = _connector(db, prefix, max_batch_size="500", snapshot_fetch_size="1000")
        worker = standalone.start([connector], worker=_worker_props(standalone))
        topic = reader_factory(f"{prefix}.public.big")
        gate_topic = reader_factory(f"{prefix}.public.gate")
        topic.wait_for("the snapshot of big", lambda m: len(m) >= rows)
        wait_until("the snapshot to wait for the lock on gate", lambda: _waits_on_lock(db))
        worker.kill()
    finally:
        lock.rollback()
        lock.close()
    assert gate_topic.read() == [], "the snapshot passed the lock; the test proves nothing"
    # A change made while no task runs: after the new snapshot, it is there (in the snapshot or
    # streamed), and so is every row.
    _sql(db, "UPDATE big SET body = 'changed' WHERE id = 0")
    standalone.start([connector], worker=_worker_props(standalone))
    _sql(db, "INSERT INTO big VALUES (%s, 'after')", params=(rows,))

    def complete(messages: list[tuple[Any, Any]]) -> bool:
        # The slot's changes since its confirmed position follow the new snapshot: the first
        # inserts again, the update, then the insert made after the start. The snapshot may
        # hold that insert too, so only its streamed record says the stream went past the update.
        ops = _ops(messages)
        return {i for _, i in ops} >= set(range(rows + 1)) and ("c", rows) in ops

    topic.wait_for("every row, and the stream past the insert after the snapshot", complete)
    gate_topic.wait_for("the snapshot of gate", lambda m: len(m) >= 1)
    marks = [p["source"]["snapshot"] for p in _payloads(topic.messages) if p["op"] == "r"]
    assert marks.count("first") == 2  # the snapshot began again
    assert marks.count("last_in_data_collection") == 2
    assert [p["source"]["snapshot"] for p in _payloads(gate_topic.messages)] == ["last"]
    last_of_0 = [p for p in _payloads(topic.messages) if (p["after"] or {}).get("id") == 0][-1]
    assert last_of_0["after"]["body"] == "changed"
    # and the stream follows the snapshot
    _sql(db, "INSERT INTO big VALUES (%s, 'streamed')", params=(rows + 1,))
    topic.wait_for("the streamed insert", lambda m: (rows + 1) in {i for _, i in _ops(m)})
    assert _payloads(topic.messages)[-1]["op"] == "c"


def _waits_on_lock(db: _Database) -> bool:
    """Whether a session of another backend waits for a lock on a relation (the snapshot's)."""
    conn = psycopg2.connect(db.dsn)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            row = cur.fetchone()
            return row is not None and int(row[0]) > 0
    finally:
        conn.close()


def test_a_user_without_replication_gets_a_clear_error(
    postgres_database: _Database, standalone: Standalone
) -> None:
    db = postgres_database
    prefix = f"q{uuid.uuid4().hex[:8]}"
    user = f"plain_{prefix}"
    password = uuid.uuid4().hex
    _sql(
        db,
        f"CREATE ROLE {user} LOGIN PASSWORD '{password}'",
        f"CREATE PUBLICATION pub_{prefix} FOR ALL TABLES",
    )
    try:
        connector = {
            **_connector(db, prefix, publication_autocreate_mode="disabled"),
            "database.user": user,
            "database.password": password,
        }
        worker = standalone.start([connector], worker=_worker_props(standalone))
        trace = _wait_task_failed(worker)["tasks"][0]["trace"]
        assert "the user needs REPLICATION" in trace
        assert "permission denied" in trace or "must be superuser or replication role" in trace
        assert password not in trace
        assert password not in worker.log()
    finally:
        _sql(db, f"DROP ROLE IF EXISTS {user}")
