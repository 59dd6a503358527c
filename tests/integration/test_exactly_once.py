"""Exactly-once source delivery (KIP-618) on a real distributed cluster and the real broker: the
offsets in the transaction and where Java's partitioner puts them, `PUT /connectors/{c}/fence`,
connector-defined and interval boundaries, a fenced zombie, task counts changing across workers,
a connector's own offsets topic. The kill rounds are in `test_exactly_once_chaos.py`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer

from kconnect.storage.offsets import key_partition
from tests.support import exactly_once as eos
from tests.support.cluster import Cluster, wait_all_running
from tests.support.metrics_scrape import scrape, value
from tests.support.workers import Worker, wait_until

pytestmark = pytest.mark.integration


def test_offsets_are_written_in_the_transaction_where_javas_partitioner_puts_them(
    tmp_path: Path, new_topic: Any, kafka_bootstrap: str
) -> None:
    topic = new_topic()
    cluster = Cluster(tmp_path, kafka_bootstrap, **eos.EOS, **{"offset.storage.partitions": "5"})
    try:
        w = cluster.start()
        config = {**eos.connector(topic), "max.records": "300", "records.per.second": "1000"}
        config["tasks.max"] = "1"
        status, body = w.request("POST", "/connectors", {"name": "gen", "config": config})
        assert status == 201, body
        wait_until("300 records", lambda: len(eos.seqs(kafka_bootstrap, topic)) >= 300)
        offsets_topic = f"{cluster.group}-offsets"
        found = eos.read(kafka_bootstrap, offsets_topic, isolation="read_committed", partitions=5)
        assert found, "no offsets committed"
        for m in found:
            assert json.loads(m.key())[0] == "gen"
            assert m.partition() == key_partition(m.key(), 5)
        # Uncommitted, nothing: read_uncommitted sees no more offset records than committed
        # ones once the task is idle (every transaction it began was committed).
        raw = eos.read(kafka_bootstrap, offsets_topic, isolation="read_uncommitted", partitions=5)
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
    cluster = Cluster(tmp_path, kafka_bootstrap, **eos.EOS)
    try:
        w: Worker = cluster.start()
        status, body = w.request("PUT", "/connectors/nope/fence")
        assert (status, body["message"]) == (404, "Connector nope not found")
        config = {**eos.connector(topic), "tasks.max": "1", "max.records": "10"}
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


def test_connector_defined_transactions_commit_and_abort_where_the_task_says(
    tmp_path: Path, new_topic: Any, kafka_bootstrap: str
) -> None:
    topic = new_topic()
    cluster = Cluster(tmp_path, kafka_bootstrap, **eos.EOS)
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
            lambda: set(eos.seqs(kafka_bootstrap, topic)) >= expected,
        )
        seqs = eos.seqs(kafka_bootstrap, topic)
        assert set(seqs) == expected
        assert all(n == 1 for n in seqs.values())
        # Aborted records that reached the broker before the abort stay there, uncommitted
        # (the producer purges those it still held).
        uncommitted = set(eos.seqs(kafka_bootstrap, topic, "read_uncommitted"))
        assert expected <= uncommitted <= set(range(200))
        # KIP-618's transaction-size metrics count the 7 committed transactions of 20 records;
        # the 3 aborted ones are not counted.
        sizes = wait_until(
            "the last commit counted",
            lambda: _transaction_sizes(w, "tx") if _committed(w, "tx") == 7 else None,
        )
        assert sizes == {"count": 7, "sum": 140, "min": 20, "max": 20}
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
    cluster = Cluster(tmp_path, kafka_bootstrap, **eos.EOS)
    try:
        w = cluster.start()
        total = 3000
        config = {**eos.connector(topic), "tasks.max": "1", "max.records": str(total)}
        status, body = w.request("POST", "/connectors", {"name": "gen", "config": config})
        assert status == 201, body
        wait_all_running(w, "gen", 1)
        wait_until("some records", lambda: eos.made(cluster, topic) > 300)
        thief = Producer(
            {"bootstrap.servers": kafka_bootstrap, "transactional.id": f"{cluster.group}-gen-0"}
        )
        thief.init_transactions(30)
        failed = wait_until(
            "the fenced task FAILED",
            lambda: [t for t in w.status("gen")["tasks"] if t["state"] == "FAILED"],
        )
        # Also when the broker answers the fenced producer's EndTxn with UNKNOWN_SERVER_ERROR
        # (now and then), the trace says the producer was fenced.
        trace = failed[0]["trace"]
        assert "the task's producer was fenced: another instance of this task" in trace, trace
        assert "nothing past the last committed transaction is committed" in trace
        before = eos.seqs(kafka_bootstrap, topic)
        assert before
        assert all(n == 1 for n in before.values())
        assert set(before) == set(range(len(before))), "a fenced task's commit got through"
        status, _ = w.request("POST", "/connectors/gen/tasks/0/restart")
        assert status == 204
        wait_until("every seq", lambda: len(eos.seqs(kafka_bootstrap, topic)) >= total, 120)
        seqs = eos.seqs(kafka_bootstrap, topic)
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
    cluster = Cluster(tmp_path, kafka_bootstrap, **eos.EOS)
    try:
        a, b = cluster.start(), cluster.start()
        total = 6000
        config = {**eos.connector(topic), "records.per.second": "1500", "max.records": str(total)}
        status, body = a.request("POST", "/connectors", {"name": "gen", "config": config})
        assert status == 201, body
        wait_all_running(b, "gen", eos.TASKS)
        for tasks, after in ((1, 1000), (2, 2500), (5, 3500)):
            wait_until(f"{after} records", lambda after=after: eos.made(cluster, topic) >= after)
            status, body = a.request(
                "PUT", "/connectors/gen/config", {**config, "tasks.max": str(tasks)}
            )
            assert status == 200, body
            wait_all_running(b, "gen", tasks)
        wait_until("every seq", lambda: len(eos.seqs(kafka_bootstrap, topic)) >= total, 120)
        status, _ = a.request("PUT", "/connectors/gen/stop")
        assert status == 204
        a.wait_state("gen", "STOPPED", tasks=0)
        seqs = eos.seqs(kafka_bootstrap, topic)
        repeated = sorted(s for s, n in seqs.items() if n > 1)
        missing = sorted(set(range(total)) - set(seqs))
        assert repeated == [], f"{len(repeated)} seqs made more than once, from {repeated[:5]}"
        assert missing == [], f"{len(missing)} seqs never made, from {missing[:5]}"
        records = eos.config_records(kafka_bootstrap, f"{cluster.group}-configs")
        counts = [v for k, v in records if k == "tasks-fencing-gen"]
        # One record per generation of task configs with tasks: 3, 1, 2, 5 (stopped, with no
        # task to start, there is nothing to fence for yet, as in Java).
        assert counts == [b'{"task-count":%d}' % n for n in (3, 1, 2, 5)]
        status, _ = a.request("PUT", "/connectors/gen/fence")
        assert status == 204
        counts = [
            v
            for k, v in eos.config_records(kafka_bootstrap, f"{cluster.group}-configs")
            if k == "tasks-fencing-gen"
        ]
        assert counts[-1] == b'{"task-count":0}'
    finally:
        cluster.close()


def test_interval_boundaries_commit_many_batches_in_one_transaction(
    tmp_path: Path, new_topic: Any, kafka_bootstrap: str
) -> None:
    """`transaction.boundary=interval`: a transaction spans many polls. Each committed
    transaction leaves one marker in the topic, so the markers count the transactions; with a
    commit per poll there would be one per batch (about 300 here)."""
    topic = new_topic()
    cluster = Cluster(tmp_path, kafka_bootstrap, **eos.EOS)
    try:
        w = cluster.start()
        total = 3000
        config = {
            **eos.connector(topic),
            "tasks.max": "1",
            "max.records": str(total),
            "records.per.second": "600",
            "batch.size": "10",
            "transaction.boundary": "interval",
            "transaction.boundary.interval.ms": "2000",
        }
        status, body = w.request("POST", "/connectors", {"name": "gen", "config": config})
        assert status == 201, body
        wait_until("every seq", lambda: len(eos.seqs(kafka_bootstrap, topic)) >= total, 120)
        sizes = wait_until(
            "the last commit counted",
            lambda: found if (found := _transaction_sizes(w, "gen"))["sum"] == total else None,
        )
        status, _ = w.request("PUT", "/connectors/gen/stop")
        assert status == 204
        w.wait_state("gen", "STOPPED", tasks=0)
        seqs = eos.seqs(kafka_bootstrap, topic)
        assert set(seqs) == set(range(total))
        assert all(n == 1 for n in seqs.values())
        written = len(eos.read(kafka_bootstrap, topic, isolation="read_uncommitted"))
        assert written == total  # nothing aborted, nothing repeated
        markers = eos.made(cluster, topic) - written
        assert 1 <= markers < 30, f"{markers} transactions for about 300 batches"
        # The transaction-size metrics count the same transactions, each of many batches.
        assert sizes["count"] == markers, sizes
        assert sizes["max"] > 10, sizes
    finally:
        cluster.close()


def test_transaction_size_metrics_count_one_transaction_per_poll(
    tmp_path: Path, new_topic: Any, kafka_bootstrap: str
) -> None:
    """`transaction.boundary=poll` (the default) with DataGen unthrottled: every poll returns
    `batch.size` records but the last, so 1000 records are 33 transactions of 30 and one of 10,
    and KIP-618's `transaction-size-*` say so."""
    topic = new_topic()
    cluster = Cluster(tmp_path, kafka_bootstrap, **eos.EOS)
    try:
        w = cluster.start()
        config = {
            **eos.connector(topic),
            "tasks.max": "1",
            "max.records": "1000",
            "batch.size": "30",
            "records.per.second": "0",
        }
        status, body = w.request("POST", "/connectors", {"name": "gen", "config": config})
        assert status == 201, body
        wait_until("every seq", lambda: len(eos.seqs(kafka_bootstrap, topic)) >= 1000)
        sizes = wait_until(
            "the last commit counted",
            lambda: _transaction_sizes(w, "gen") if _committed(w, "gen") == 34 else None,
        )
        assert sizes == {"count": 34, "sum": 1000, "min": 10, "max": 30}
        _, series = scrape(w.url)
        labels = {"connector": "gen", "task": "0"}
        assert value(series, "kconnect_connector_task_batch_size_count", **labels) == 34
        assert value(series, "kconnect_connector_task_batch_size_sum", **labels) == 1000
        seqs = eos.seqs(kafka_bootstrap, topic)
        assert set(seqs) == set(range(1000))
        assert all(n == 1 for n in seqs.values())
    finally:
        cluster.close()


def _committed(w: Worker, connector: str) -> float | None:
    _, series = scrape(w.url)
    labels = {"connector": connector, "task": "0"}
    return value(series, "kconnect_source_task_transaction_size_count", **labels)


def _transaction_sizes(w: Worker, connector: str) -> dict[str, float | None]:
    """Task 0's `transaction-size-*`: count and sum of the summary, smallest and largest."""
    _, series = scrape(w.url)
    labels = {"connector": connector, "task": "0"}
    name = "kconnect_source_task_transaction_size"
    return {
        "count": value(series, f"{name}_count", **labels),
        "sum": value(series, f"{name}_sum", **labels),
        "min": value(series, f"{name}_min", **labels),
        "max": value(series, f"{name}_max", **labels),
    }


def test_a_connectors_own_offsets_topic_is_written_in_the_transaction_and_copied(
    tmp_path: Path, new_topic: Any, kafka_bootstrap: str
) -> None:
    """`offsets.storage.topic`, as Kafka Connect: offsets go to the connector's own topic in the
    transaction, then a copy to the worker's; the task reads its own topic first, the worker's
    for what its own does not have (here: everything committed before the key was set)."""
    topic = new_topic()
    cluster = Cluster(tmp_path, kafka_bootstrap, **eos.EOS)
    try:
        w = cluster.start()
        config = {**eos.connector(topic), "tasks.max": "1", "max.records": "400"}
        config["records.per.second"] = "1000"
        status, body = w.request("POST", "/connectors", {"name": "gen", "config": config})
        assert status == 201, body
        wait_until("400 seqs", lambda: len(eos.seqs(kafka_bootstrap, topic)) >= 400)
        status, _ = w.request("PUT", "/connectors/gen/stop")
        assert status == 204
        w.wait_state("gen", "STOPPED", tasks=0)
        own = f"{cluster.group}-gen-offsets"
        config = {**config, "max.records": "800", "offsets.storage.topic": own}
        status, body = w.request("PUT", "/connectors/gen/config", config)
        assert status == 200, body
        status, _ = w.request("PUT", "/connectors/gen/resume")
        assert status == 202
        wait_until("800 seqs", lambda: len(eos.seqs(kafka_bootstrap, topic)) >= 800)
        seqs = eos.seqs(kafka_bootstrap, topic)
        assert set(seqs) == set(range(800))
        assert all(n == 1 for n in seqs.values()), "the worker's offsets were not read"

        def last(offsets_topic: str) -> dict[bytes, bytes]:
            found = eos.read(
                kafka_bootstrap, offsets_topic, isolation="read_committed", partitions=25
            )
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
