"""Exactly-once source delivery (KIP-618) on a real distributed cluster and the real broker.

The proof: DataGen, whose every record carries its sequence number as its key, runs with several
tasks on workers with `exactly.once.source.support=enabled` while a random worker is killed with
SIGKILL and started again, round after round. A `read_committed` consumer then finds every seq
exactly once. The same run without exactly-once shows the duplicates that at-least-once
delivery makes when a worker dies between sending records and committing their offsets, so the
check can fail.

The session's broker is shared with tests running in parallel and is never paused; the test
that freezes a broker (SIGSTOP, longer than the workers' session timeout) starts its own.
"""

from __future__ import annotations

import json
import os
import random
import signal
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

from kconnect.storage.offsets import key_partition
from kconnect_devenv import kafka
from tests.support.cluster import Cluster, wait_all_running
from tests.support.workers import Worker, wait_until

pytestmark = pytest.mark.integration

TASKS = 3
TOTAL = 24_000
RATE = "300"
ROUNDS = 4
EOS = {"exactly.once.source.support": "enabled"}


def _connector(topic: str, **extra: str) -> dict[str, str]:
    return {
        "connector.class": "DataGen",
        "topic": topic,
        "tasks.max": str(TASKS),
        "records.per.second": RATE,
        "max.records": str(TOTAL),
        "batch.size": "40",
        **extra,
    }


def _read(bootstrap: str, topic: str, *, isolation: str, partitions: int = 1) -> list[Any]:
    """The records of `topic` a consumer with `isolation` reads, up to the end offsets the topic
    had when called (or until nothing came for 3 s: transaction markers end a partition)."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"read-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "isolation.level": isolation,
        }
    )
    out: list[Any] = []
    try:
        ends = {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in range(partitions)
        }
        left = {p for p, end in ends.items() if end > 0}
        consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
        quiet_since = time.monotonic()
        deadline = time.monotonic() + 120
        while left and time.monotonic() - quiet_since < 3 and time.monotonic() < deadline:
            batch = [m for m in consumer.consume(5000, 0.5) if m.error() is None]
            if batch:
                quiet_since = time.monotonic()
            for m in batch:
                if m.offset() < ends[m.partition()]:
                    out.append(m)
                if m.offset() >= ends[m.partition()] - 1:
                    left.discard(m.partition())
        return out
    finally:
        consumer.close()


def _seqs(bootstrap: str, topic: str, isolation: str = "read_committed") -> Counter[int]:
    return Counter(int(m.key()) for m in _read(bootstrap, topic, isolation=isolation))


def _made(cluster: Cluster, topic: str) -> int:
    """The topic's end offset: records committed or not, and transaction markers."""
    consumer = Consumer({"bootstrap.servers": cluster.bootstrap, "group.id": "size"})
    try:
        return int(consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)[1])
    except KafkaException:
        return -1  # a broker just resumed may not know its partitions for a moment
    finally:
        consumer.close()


def _kill_rounds(cluster: Cluster, topic: str, rounds: int) -> int:
    """Kill a random worker (SIGKILL) and start it again, `rounds` times, while DataGen makes
    its records; each round first waits for the tasks to make progress. How many rounds ran."""
    rng = random.Random(0x618)
    done = 0
    for _ in range(rounds):
        before = _made(cluster, topic)
        wait_until("progress", lambda before=before: _made(cluster, topic) >= before + 1500, 120)
        made = len(_seqs(cluster.bootstrap, topic, "read_uncommitted"))
        print(f"{time.strftime('%X')} round {done}: {made} seqs made")
        if made >= TOTAL * 0.9:
            break
        victim = rng.choice(cluster.alive)
        victim.kill()
        cluster.restart(victim)
        done += 1
    return done


def _run(cluster: Cluster, topic: str) -> tuple[Counter[int], int]:
    a = cluster.start()
    cluster.start()
    status, body = a.request("POST", "/connectors", {"name": "gen", "config": _connector(topic)})
    assert status == 201, body
    wait_all_running(a, "gen", TASKS)
    print(f"{time.strftime('%X')} all running")
    rounds = _kill_rounds(cluster, topic, ROUNDS)
    w = cluster.alive[0]
    wait_until(
        f"all {TOTAL} seqs made",
        lambda: len(_seqs(cluster.bootstrap, topic)) >= TOTAL,
        timeout=180,
    )
    status, _ = w.request("PUT", "/connectors/gen/stop")
    assert status == 204
    w.wait_state("gen", "STOPPED", tasks=0)
    return _seqs(cluster.bootstrap, topic), rounds


def _config_records(bootstrap: str, topic: str) -> list[tuple[str, bytes | None]]:
    return [
        (m.key().decode(), m.value()) for m in _read(bootstrap, topic, isolation="read_committed")
    ]


def test_killed_workers_lose_and_repeat_nothing_with_exactly_once(
    tmp_path: Path, new_topic: Any, kafka_bootstrap: str
) -> None:
    topic = new_topic()
    cluster = Cluster(tmp_path, kafka_bootstrap, **EOS)
    try:
        seqs, rounds = _run(cluster, topic)
        repeated = sorted(s for s, n in seqs.items() if n > 1)
        missing = sorted(set(range(TOTAL)) - set(seqs))
        print(f"exactly-once: {rounds} kill rounds, {len(repeated)} repeated, {len(missing)} lost")
        assert rounds >= 2, "the connector finished before the workers could be killed"
        assert set(seqs) <= set(range(TOTAL))
        assert repeated == [], f"{len(repeated)} seqs read more than once, from {repeated[:5]}"
        assert missing == [], f"{len(missing)} seqs never read, from {missing[:5]}"

        # What a Java worker reads: the task count record, in Java's format, after the commit
        # of the task configs it fences for.
        records = _config_records(kafka_bootstrap, f"{cluster.group}-configs")
        counts = [(k, v) for k, v in records if k == "tasks-fencing-gen"]
        assert counts
        assert counts[0][1] == b'{"task-count":%d}' % TASKS
        keys = [k for k, _ in records]
        assert keys.index("tasks-fencing-gen") > keys.index("commit-gen")
    finally:
        cluster.close()


def test_offsets_are_written_in_the_transaction_where_javas_partitioner_puts_them(
    tmp_path: Path, new_topic: Any, kafka_bootstrap: str
) -> None:
    topic = new_topic()
    cluster = Cluster(tmp_path, kafka_bootstrap, **EOS, **{"offset.storage.partitions": "5"})
    try:
        w = cluster.start()
        config = {**_connector(topic), "max.records": "300", "records.per.second": "1000"}
        config["tasks.max"] = "1"
        status, body = w.request("POST", "/connectors", {"name": "gen", "config": config})
        assert status == 201, body
        wait_until("300 records", lambda: len(_seqs(kafka_bootstrap, topic)) >= 300)
        offsets_topic = f"{cluster.group}-offsets"
        found = _read(kafka_bootstrap, offsets_topic, isolation="read_committed", partitions=5)
        assert found, "no offsets committed"
        for m in found:
            assert json.loads(m.key())[0] == "gen"
            assert m.partition() == key_partition(m.key(), 5)
        # Uncommitted, nothing: read_uncommitted sees no more offset records than committed
        # ones once the task is idle (every transaction it began was committed).
        raw = _read(kafka_bootstrap, offsets_topic, isolation="read_uncommitted", partitions=5)
        assert len(raw) == len(found)
        # The REST view of the offsets is the committed one.
        status, _ = w.request("PUT", "/connectors/gen/stop")
        assert status == 204
        w.wait_state("gen", "STOPPED", tasks=0)
        offsets = w.get("/connectors/gen/offsets")["offsets"]
        assert max(o["offset"]["seq"] for o in offsets) == 299
    finally:
        cluster.close()


def test_fence_endpoint_answers_as_kafka_connect(
    tmp_path: Path, new_topic: Any, kafka_bootstrap: str
) -> None:
    topic = new_topic()
    cluster = Cluster(tmp_path, kafka_bootstrap, **EOS)
    try:
        w: Worker = cluster.start()
        status, body = w.request("PUT", "/connectors/nope/fence")
        assert (status, body["message"]) == (404, "Connector nope not found")
        config = {**_connector(topic), "tasks.max": "1", "max.records": "10"}
        status, _ = w.request("POST", "/connectors", {"name": "gen", "config": config})
        assert status == 201
        wait_all_running(w, "gen", 1)
        status, _ = w.request("PUT", "/connectors/gen/fence")
        assert status == 204
        sink = {"connector.class": "FileStreamSink", "topics": topic, "file": str(tmp_path / "o")}
        status, _ = w.request("POST", "/connectors", {"name": "sink", "config": sink})
        assert status == 201
        status, body = w.request("PUT", "/connectors/sink/fence")
        assert (status, body["message"]) == (400, "Connector sink is not a source connector")
        # exactly.once.support=required is accepted here, for a connector that supports it.
        required = {**config, "exactly.once.support": "required"}
        status, body = w.request("PUT", "/connectors/gen2/config", required)
        assert status == 201, body
    finally:
        cluster.close()


def test_without_exactly_once_killed_workers_repeat_records(
    tmp_path: Path, new_topic: Any, kafka_bootstrap: str
) -> None:
    """The same run at least once: nothing lost, and (what makes the check above meaningful)
    the kills repeat records."""
    topic = new_topic()
    cluster = Cluster(tmp_path, kafka_bootstrap)
    try:
        seqs, rounds = _run(cluster, topic)
        repeated = sorted(s for s, n in seqs.items() if n > 1)
        missing = sorted(set(range(TOTAL)) - set(seqs))
        print(f"at-least-once: {rounds} kill rounds, {len(repeated)} repeated, {len(missing)} lost")
        assert missing == []
        assert rounds >= 2
        assert repeated, "no record was repeated: the kills did not hit a task mid-commit"
    finally:
        cluster.close()


def test_connector_defined_transactions_commit_and_abort_where_the_task_says(
    tmp_path: Path, new_topic: Any, kafka_bootstrap: str
) -> None:
    topic = new_topic()
    cluster = Cluster(tmp_path, kafka_bootstrap, **EOS)
    try:
        w = cluster.start()
        config = {
            "connector.class": "kconnect_test_plugins:BoundarySource",
            "topic": topic,
            "count": "200",
            "every": "20",
            "abort.every": "3",
            "transaction.boundary": "connector",
            "exactly.once.support": "required",
        }
        status, body = w.request("POST", "/connectors", {"name": "tx", "config": config})
        assert status == 201, body
        wait_all_running(w, "tx", 1)
        aborted = {s for t in (3, 6, 9) for s in range(20 * (t - 1), 20 * t)}
        expected = set(range(200)) - aborted
        wait_until(
            "the committed transactions read",
            lambda: set(_seqs(kafka_bootstrap, topic)) >= expected,
        )
        seqs = _seqs(kafka_bootstrap, topic)
        assert set(seqs) == expected
        assert all(n == 1 for n in seqs.values())
        # Aborted records that reached the broker before the abort stay there, uncommitted
        # (the producer purges those it still held).
        uncommitted = set(_seqs(kafka_bootstrap, topic, "read_uncommitted"))
        assert expected <= uncommitted <= set(range(200))
        status, _ = w.request("PUT", "/connectors/tx/stop")
        assert status == 204
        w.wait_state("tx", "STOPPED", tasks=0)
        offsets = w.get("/connectors/tx/offsets")["offsets"]
        assert offsets == [{"partition": {"source": "boundary"}, "offset": {"seq": 199}}]
    finally:
        cluster.close()


def test_a_fenced_task_commits_nothing_more_and_its_restart_resumes_exactly(
    tmp_path: Path, new_topic: Any, kafka_bootstrap: str
) -> None:
    """A zombie: another producer takes the task's transactional id (as the task's next owner
    does). The task's next commit fails, the task fails, and nothing it wrote after the fence is
    ever read; restarted, it fences the other producer and resumes after its last commit."""
    topic = new_topic()
    cluster = Cluster(tmp_path, kafka_bootstrap, **EOS)
    try:
        w = cluster.start()
        total = 3000
        config = {**_connector(topic), "tasks.max": "1", "max.records": str(total)}
        status, body = w.request("POST", "/connectors", {"name": "gen", "config": config})
        assert status == 201, body
        wait_all_running(w, "gen", 1)
        wait_until("some records", lambda: _made(cluster, topic) > 300)
        thief = Producer(
            {"bootstrap.servers": kafka_bootstrap, "transactional.id": f"{cluster.group}-gen-0"}
        )
        thief.init_transactions(30)
        failed = wait_until(
            "the fenced task FAILED",
            lambda: [t for t in w.status("gen")["tasks"] if t["state"] == "FAILED"],
        )
        assert "fenced" in failed[0]["trace"]
        before = _seqs(kafka_bootstrap, topic)
        assert before
        assert all(n == 1 for n in before.values())
        assert set(before) == set(range(len(before))), "a fenced task's commit got through"
        status, _ = w.request("POST", "/connectors/gen/tasks/0/restart")
        assert status == 204
        wait_until("every seq", lambda: len(_seqs(kafka_bootstrap, topic)) >= total, 120)
        seqs = _seqs(kafka_bootstrap, topic)
        assert set(seqs) == set(range(total))
        assert all(n == 1 for n in seqs.values())
    finally:
        cluster.close()


def test_changing_the_task_count_across_workers_repeats_nothing(
    tmp_path: Path, new_topic: Any, kafka_bootstrap: str
) -> None:
    """What at-least-once cannot promise across workers (test_datagen_tasks): a task of the new
    count starts only once the old generation is fenced, so no slot is made by two tasks."""
    topic = new_topic()
    cluster = Cluster(tmp_path, kafka_bootstrap, **EOS)
    try:
        a, b = cluster.start(), cluster.start()
        total = 6000
        config = {**_connector(topic), "records.per.second": "1500", "max.records": str(total)}
        status, body = a.request("POST", "/connectors", {"name": "gen", "config": config})
        assert status == 201, body
        wait_all_running(b, "gen", TASKS)
        for tasks, after in ((1, 1000), (2, 2500), (5, 3500)):
            wait_until(f"{after} records", lambda after=after: _made(cluster, topic) >= after)
            status, body = a.request(
                "PUT", "/connectors/gen/config", {**config, "tasks.max": str(tasks)}
            )
            assert status == 200, body
            wait_all_running(b, "gen", tasks)
        wait_until("every seq", lambda: len(_seqs(kafka_bootstrap, topic)) >= total, 120)
        status, _ = a.request("PUT", "/connectors/gen/stop")
        assert status == 204
        a.wait_state("gen", "STOPPED", tasks=0)
        seqs = _seqs(kafka_bootstrap, topic)
        repeated = sorted(s for s, n in seqs.items() if n > 1)
        missing = sorted(set(range(total)) - set(seqs))
        assert repeated == [], f"{len(repeated)} seqs made more than once, from {repeated[:5]}"
        assert missing == [], f"{len(missing)} seqs never made, from {missing[:5]}"
        records = _config_records(kafka_bootstrap, f"{cluster.group}-configs")
        counts = [v for k, v in records if k == "tasks-fencing-gen"]
        # One record per generation of task configs with tasks: 3, 1, 2, 5 (stopped, with no
        # task to start, there is nothing to fence for yet, as in Java).
        assert counts == [b'{"task-count":%d}' % n for n in (3, 1, 2, 5)]
        status, _ = a.request("PUT", "/connectors/gen/fence")
        assert status == 204
        counts = [
            v
            for k, v in _config_records(kafka_bootstrap, f"{cluster.group}-configs")
            if k == "tasks-fencing-gen"
        ]
        assert counts[-1] == b'{"task-count":0}'
    finally:
        cluster.close()


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[kafka.Broker]:
    """A broker of this test alone; resumed before it is stopped, whatever happened."""
    state_dir = tmp_path / "kafka"
    running = kafka.start(state_dir, die_with_parent=True)
    try:
        yield running
    finally:
        os.kill(running.pid, signal.SIGCONT)
        kafka.stop(state_dir)


def test_a_frozen_broker_and_a_killed_worker_lose_and_repeat_nothing(
    tmp_path: Path, own_broker: kafka.Broker
) -> None:
    """The broker frozen for longer than the session timeout (every worker loses its tasks,
    transactions in flight time out or are fenced), then a worker killed: still exactly once."""
    from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

    bootstrap = own_broker.bootstrap
    topic = "eos-frozen"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(30)
    work = tmp_path / "cluster"
    work.mkdir()
    cluster = Cluster(work, bootstrap, **EOS)
    try:
        a = cluster.start()
        cluster.start()
        total = 12_000
        config = {**_connector(topic), "max.records": str(total)}
        status, body = a.request("POST", "/connectors", {"name": "gen", "config": config})
        assert status == 201, body
        wait_all_running(a, "gen", TASKS)
        wait_until("some records", lambda: _made(cluster, topic) > 1500)
        os.kill(own_broker.pid, signal.SIGSTOP)
        try:
            time.sleep(13)  # longer than session.timeout.ms (10 s)
        finally:
            os.kill(own_broker.pid, signal.SIGCONT)
        before = _made(cluster, topic)
        wait_until("progress after the freeze", lambda: _made(cluster, topic) > before + 1500, 180)
        victim = random.Random(0x618).choice(cluster.alive)
        victim.kill()
        cluster.restart(victim)
        wait_until("every seq", lambda: len(_seqs(bootstrap, topic)) >= total, 240)
        w = cluster.alive[0]
        status, _ = w.request("PUT", "/connectors/gen/stop")
        assert status == 204
        w.wait_state("gen", "STOPPED", tasks=0)
        seqs = _seqs(bootstrap, topic)
        repeated = sorted(s for s, n in seqs.items() if n > 1)
        assert set(seqs) == set(range(total))
        assert repeated == [], f"{len(repeated)} seqs read more than once, from {repeated[:5]}"
    finally:
        cluster.close()


def test_interval_boundaries_commit_many_batches_in_one_transaction(
    tmp_path: Path, new_topic: Any, kafka_bootstrap: str
) -> None:
    """`transaction.boundary=interval`: a transaction spans many polls. Each committed
    transaction leaves one marker in the topic, so the markers count the transactions; with a
    commit per poll there would be one per batch (about 300 here)."""
    topic = new_topic()
    cluster = Cluster(tmp_path, kafka_bootstrap, **EOS)
    try:
        w = cluster.start()
        total = 3000
        config = {
            **_connector(topic),
            "tasks.max": "1",
            "max.records": str(total),
            "records.per.second": "600",
            "batch.size": "10",
            "transaction.boundary": "interval",
            "transaction.boundary.interval.ms": "2000",
        }
        status, body = w.request("POST", "/connectors", {"name": "gen", "config": config})
        assert status == 201, body
        wait_until("every seq", lambda: len(_seqs(kafka_bootstrap, topic)) >= total, 120)
        status, _ = w.request("PUT", "/connectors/gen/stop")
        assert status == 204
        w.wait_state("gen", "STOPPED", tasks=0)
        seqs = _seqs(kafka_bootstrap, topic)
        assert set(seqs) == set(range(total))
        assert all(n == 1 for n in seqs.values())
        written = len(_read(kafka_bootstrap, topic, isolation="read_uncommitted"))
        assert written == total  # nothing aborted, nothing repeated
        markers = _made(cluster, topic) - written
        assert 1 <= markers < 30, f"{markers} transactions for about 300 batches"
    finally:
        cluster.close()


def test_a_connectors_own_offsets_topic_is_written_in_the_transaction_and_copied(
    tmp_path: Path, new_topic: Any, kafka_bootstrap: str
) -> None:
    """`offsets.storage.topic`, as Kafka Connect: offsets go to the connector's own topic in the
    transaction, then a copy to the worker's; the task reads its own topic first, the worker's
    for what its own does not have (here: everything committed before the key was set)."""
    topic = new_topic()
    cluster = Cluster(tmp_path, kafka_bootstrap, **EOS)
    try:
        w = cluster.start()
        config = {**_connector(topic), "tasks.max": "1", "max.records": "400"}
        config["records.per.second"] = "1000"
        status, body = w.request("POST", "/connectors", {"name": "gen", "config": config})
        assert status == 201, body
        wait_until("400 seqs", lambda: len(_seqs(kafka_bootstrap, topic)) >= 400)
        status, _ = w.request("PUT", "/connectors/gen/stop")
        assert status == 204
        w.wait_state("gen", "STOPPED", tasks=0)
        own = f"{cluster.group}-gen-offsets"
        config = {**config, "max.records": "800", "offsets.storage.topic": own}
        status, body = w.request("PUT", "/connectors/gen/config", config)
        assert status == 200, body
        status, _ = w.request("PUT", "/connectors/gen/resume")
        assert status == 202
        wait_until("800 seqs", lambda: len(_seqs(kafka_bootstrap, topic)) >= 800)
        seqs = _seqs(kafka_bootstrap, topic)
        assert set(seqs) == set(range(800))
        assert all(n == 1 for n in seqs.values()), "the worker's offsets were not read"

        def last(offsets_topic: str) -> dict[bytes, bytes]:
            found = _read(kafka_bootstrap, offsets_topic, isolation="read_committed", partitions=25)
            return {m.key(): m.value() for m in found}

        wait_until(
            "the copy in the worker's topic",
            lambda: (
                last(f"{cluster.group}-offsets")
                == {**last(f"{cluster.group}-offsets"), **last(own)}
            ),
        )
        assert max(json.loads(v)["seq"] for v in last(own).values()) == 799
    finally:
        cluster.close()
