"""Exactly-once source delivery (KIP-618) under kills, on a real distributed cluster.

The proof: DataGen, whose every record carries its sequence number as its key, runs with several
tasks on workers with `exactly.once.source.support=enabled` while a random worker is killed with
SIGKILL and started again, round after round. A `read_committed` consumer then finds every seq
exactly once. The same run without exactly-once (`test_exactly_once_baseline.py`) shows the
duplicates that at-least-once delivery makes when a worker dies between sending records and
committing their offsets, so the check can fail.

The session's broker is shared with tests running in parallel and is never paused; the test
that freezes a broker (SIGSTOP, longer than the workers' session timeout) starts its own.
"""

from __future__ import annotations

import os
import random
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kconnect_devenv import kafka
from tests.support import exactly_once as eos
from tests.support.cluster import Cluster, wait_all_running
from tests.support.workers import wait_until

pytestmark = pytest.mark.integration


def test_killed_workers_lose_and_repeat_nothing_with_exactly_once(
    tmp_path: Path, new_topic: Any, kafka_bootstrap: str
) -> None:
    topic = new_topic()
    cluster = Cluster(tmp_path, kafka_bootstrap, **eos.EOS, **eos.QUICK_FAILOVER)
    try:
        seqs, rounds = eos.run(cluster, topic)
        repeated = sorted(s for s, n in seqs.items() if n > 1)
        missing = sorted(set(range(eos.TOTAL)) - set(seqs))
        print(f"exactly-once: {rounds} kill rounds, {len(repeated)} repeated, {len(missing)} lost")
        assert rounds >= 2, "the connector finished before the workers could be killed"
        assert set(seqs) <= set(range(eos.TOTAL))
        assert repeated == [], f"{len(repeated)} seqs read more than once, from {repeated[:5]}"
        assert missing == [], f"{len(missing)} seqs never read, from {missing[:5]}"

        # What a Java worker reads: the task count record, in Java's format, after the commit
        # of the task configs it fences for.
        records = eos.config_records(kafka_bootstrap, f"{cluster.group}-configs")
        counts = [(k, v) for k, v in records if k == "tasks-fencing-gen"]
        assert counts
        assert counts[0][1] == b'{"task-count":%d}' % eos.TASKS
        keys = [k for k, _ in records]
        assert keys.index("tasks-fencing-gen") > keys.index("commit-gen")
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
    cluster = Cluster(work, bootstrap, **eos.EOS)
    try:
        a = cluster.start()
        cluster.start()
        total = 12_000
        config = {**eos.connector(topic), "max.records": str(total)}
        status, body = a.request("POST", "/connectors", {"name": "gen", "config": config})
        assert status == 201, body
        wait_all_running(a, "gen", eos.TASKS)
        wait_until("some records", lambda: eos.made(cluster, topic) > 1500)
        os.kill(own_broker.pid, signal.SIGSTOP)
        try:
            time.sleep(13)  # longer than session.timeout.ms (10 s)
        finally:
            os.kill(own_broker.pid, signal.SIGCONT)
        before = eos.made(cluster, topic)
        wait_until(
            "progress after the freeze", lambda: eos.made(cluster, topic) > before + 1500, 180
        )
        victim = random.Random(0x618).choice(cluster.alive)
        victim.kill()
        cluster.restart(victim)
        wait_until("every seq", lambda: len(eos.seqs(bootstrap, topic)) >= total, 240)
        w = cluster.alive[0]
        status, _ = w.request("PUT", "/connectors/gen/stop")
        assert status == 204
        w.wait_state("gen", "STOPPED", tasks=0)
        seqs = eos.seqs(bootstrap, topic)
        repeated = sorted(s for s, n in seqs.items() if n > 1)
        assert set(seqs) == set(range(total))
        assert repeated == [], f"{len(repeated)} seqs read more than once, from {repeated[:5]}"
    finally:
        cluster.close()
