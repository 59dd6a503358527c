"""Distributed-mode measurements: failover after a worker is killed, the cost of a rebalance when
a worker joins, and throughput of one connector's tasks spread over one or three workers.

Invariants:

- **Every cluster is private.** Each run has its own group id, internal topics, data topic and
  connector name, so no run sees another's configs, offsets or status; the internal and data
  topics are deleted after the run.
- **Only the harness's view counts.** Task state and ownership come from
  ``GET /connectors/<name>/status`` on a worker that stays up; task starts and stops come from the
  worker logs (``starting task <id>``, ``stopping tasks <id>, ...``), whose timestamps share one
  clock because every worker runs on this machine.
- **Every wait is bounded** by the per-run timeout and checks that the workers it relies on are
  alive; every worker is stopped (or was killed) when a run ends, on every path.

How it fails: a worker that dies unexpectedly, a connector or task that goes FAILED, or a wait
that times out raises :class:`HarnessError` with the log tail of the worker concerned.
"""

from __future__ import annotations

import dataclasses
import datetime
import re
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Literal

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from bench.measure import FAILURE_POLL_S, STRING
from bench.procs import Every, WorkerFactory, WorkerProcess

FAILOVER_POLL_S = 0.1
STATUS_POLL_S = 0.05
HEALTH_POLL_S = 0.05
PROGRESS_POLL_S = 0.05
SETTLE_S = 3.0
PARTITIONS = 6
TASKS = 6
FAILOVER_RATE = 600
FLUSH_MS = 1_000
TUNED = {"session.timeout.ms": "6000", "heartbeat.interval.ms": "1000"}

Owners = dict[int, str]
"""Task number → id of the worker that reports it RUNNING."""

Victim = Literal["busiest", "leader", "follower"]
"""Which worker a failover run kills; see `Distributed.failover_run`."""

TaskConnector = Callable[[str, Path], dict[str, str]]
"""The config of a connector with :data:`TASKS` tasks, given its data topic and a scratch file."""

# Both runtimes' log layouts: kconnect logs `starting task <id>` and `stopping tasks <id>, <id>
# (...)`; Kafka Connect logs `[Worker clientId=..] Starting task <id> (...)` and, per task,
# `Stopping task <id> (...)`. The timestamp is Kafka's `[%d]` in both.
_TIMESTAMP = r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\] \w+ (?:\[[^\]\n]*\] )?"
# Kafka Connect logs the group's leader with every assignment it receives.
_LEADER = re.compile(r"leaderUrl='https?://([^/']+)/?'")
_START = re.compile(_TIMESTAMP + r"[Ss]tarting task (\S+)", re.MULTILINE)
_STOP = re.compile(_TIMESTAMP + r"(?:[Ss]topping|cancelling) tasks? (.+?) \(", re.MULTILINE)


# --- pure helpers -------------------------------------------------------------------------------


def running_owners(status: object, tasks: int) -> Owners | None:
    """The owner of each task when the connector has exactly `tasks` tasks, all RUNNING; else None.
    Raises ValueError naming the task when one is FAILED."""
    if not isinstance(status, dict):
        return None
    entries = status.get("tasks")
    if not isinstance(entries, list) or len(entries) != tasks:
        return None
    owners: Owners = {}
    for t in entries:
        if not isinstance(t, dict):
            return None
        if t.get("state") == "FAILED":
            raise ValueError(f"task {t.get('id')} FAILED: {str(t.get('trace'))[:2000]}")
        if t.get("state") != "RUNNING":
            return None
        owners[int(t["id"])] = str(t["worker_id"])
    return owners


def _stamp(text: str) -> float:
    return datetime.datetime.strptime(text, "%Y-%m-%d %H:%M:%S,%f").timestamp()


def group_leader(log: str) -> str | None:
    """The `host:port` of the group's leader in the last assignment `log` records, or None when
    the log names no leader (kconnect's group has no leader that makes a decision of its own)."""
    found = _LEADER.findall(log)
    return str(found[-1]) if found else None


def task_starts(log: str) -> list[tuple[float, str]]:
    """(timestamp, task id) of every ``starting task`` line, in log order."""
    return [(_stamp(m.group(1)), m.group(2)) for m in _START.finditer(log)]


def task_stops(log: str) -> list[tuple[float, str]]:
    """(timestamp, task id) for every task named on a ``stopping tasks`` or ``cancelling tasks``
    line, in log order."""
    return [
        (_stamp(m.group(1)), task.strip())
        for m in _STOP.finditer(log)
        for task in m.group(2).split(",")
    ]


def move_gaps(
    moved: Sequence[str], old_logs: Sequence[str], new_log: str, since: float
) -> list[float]:
    """For each moved task, seconds from its last stop on an old owner to its first start on the
    new one, counting only log lines after `since` (a wall-clock timestamp)."""
    stops: dict[str, float] = {}
    for log in old_logs:
        for at, task in task_stops(log):
            if at >= since:
                stops[task] = at
    starts: dict[str, float] = {}
    for at, task in task_starts(new_log):
        if at >= since:
            starts.setdefault(task, at)
    return [starts[t] - stops[t] for t in moved if t in stops and t in starts]


# --- results ------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class RebalanceResult:
    stopped: int
    """Distinct tasks that the old workers stopped after the new worker was started."""
    restarted: int
    """Task starts, across all workers, after the new worker was started."""
    moved: int
    """Tasks that the new worker runs once the assignment settled."""
    max_gap_s: float | None
    """Longest time a moved task was not running: its stop on the old owner to its start on the
    new one; None when no task moved or the log lines were missing."""
    settle_s: float
    """From starting the new worker to the settled assignment (including the settle period)."""


@dataclasses.dataclass(frozen=True)
class FailoverResult:
    seconds: float
    """From SIGKILL until a survivor reports every task RUNNING on the survivors."""
    killed_leader: bool | None
    """Whether the killed worker was the group's leader; None where the runtime does not log it."""


@dataclasses.dataclass(frozen=True)
class ClusterRate:
    records: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.records / self.seconds


# --- the cluster --------------------------------------------------------------------------------


class Cluster:
    """`kconnect distributed` workers sharing one private group and its internal topics."""

    def __init__(
        self,
        bootstrap: str,
        workdir: Path,
        name: str,
        timeout: float,
        extra: Mapping[str, str],
        start: WorkerFactory = WorkerProcess,
    ) -> None:
        self.start_worker = start
        self.bootstrap = bootstrap
        self.workdir = workdir
        self.name = name
        self.timeout = timeout
        self.extra = dict(extra)
        self.workers: list[WorkerProcess] = []

    @property
    def internal_topics(self) -> list[str]:
        return [f"{self.name}-{kind}" for kind in ("configs", "offsets", "status")]

    def props(self) -> dict[str, str]:
        configs, offsets, status = self.internal_topics
        return {
            "bootstrap.servers": self.bootstrap,
            "group.id": self.name,
            "config.storage.topic": configs,
            "offset.storage.topic": offsets,
            "status.storage.topic": status,
            "config.storage.replication.factor": "1",
            "offset.storage.replication.factor": "1",
            "status.storage.replication.factor": "1",
            "key.converter": STRING,
            "value.converter": STRING,
            "offset.flush.interval.ms": str(FLUSH_MS),
            **self.extra,
        }

    def start(self, count: int = 1) -> list[WorkerProcess]:
        """Start `count` workers at once and wait until each answers ``/health``."""
        new = [
            self.start_worker(
                self.workdir,
                f"{self.name}-w{len(self.workers) + i}",
                self.props(),
                [],
                mode="distributed",
            )
            for i in range(count)
        ]
        self.workers.extend(new)
        for w in new:
            w.wait_healthy(self.timeout, HEALTH_POLL_S)
        return new

    def check_alive(self, *workers: WorkerProcess) -> None:
        for w in workers or tuple(self.workers):
            w.check_alive()

    def owners(self, poller: WorkerProcess, connector: str) -> Owners | None:
        try:
            return running_owners(poller.status(connector), TASKS)
        except ValueError as e:
            raise poller.fail(f"{connector}: {e}") from None

    def wait_owners(
        self, poller: WorkerProcess, connector: str, interval: float, spread: int = 1
    ) -> tuple[float, Owners]:
        """Poll until every task is RUNNING on at least `spread` distinct workers; the monotonic
        time it was seen and the owners."""

        def check() -> tuple[float, Owners] | None:
            self.check_alive()
            owners = self.owners(poller, connector)
            if owners is None or len(set(owners.values())) < spread:
                return None
            return time.monotonic(), owners

        return poller.wait_for(
            f"{connector}: {TASKS} tasks RUNNING on {spread} worker(s)",
            check,
            self.timeout,
            interval,
        )

    def stop(self) -> None:
        for w in self.workers:
            w.stop()


class Distributed:
    """The distributed-mode runs of a benchmark session."""

    def __init__(self, bootstrap: str, workdir: Path, timeout: float) -> None:
        self.bootstrap = bootstrap
        self.workdir = workdir
        self.timeout = timeout
        self.admin = AdminClient({"bootstrap.servers": bootstrap})
        self._watermarks = Consumer(
            {"bootstrap.servers": bootstrap, "group.id": "kconnect-bench-dist-watermarks"}
        )
        self._seq = 0

    def close(self) -> None:
        self._watermarks.close()

    def fresh(self, prefix: str) -> str:
        self._seq += 1
        return f"{prefix}-{self._seq}"

    # --- Kafka ------------------------------------------------------------------------------------

    def create_topic(self, topic: str) -> None:
        futures = self.admin.create_topics([NewTopic(topic, PARTITIONS, 1)], operation_timeout=30)
        futures[topic].result(timeout=60)

    def delete_topics(self, topics: Sequence[str]) -> None:
        existing = set(self.admin.list_topics(timeout=30).topics)
        doomed = [t for t in topics if t in existing]
        if doomed:
            for future in self.admin.delete_topics(doomed, operation_timeout=30).values():
                future.result(timeout=60)

    def high_watermarks(self, topic: str) -> int:
        """The topic's high-water marks, summed over its partitions."""
        total = 0
        for p in range(PARTITIONS):
            _, high = self._watermarks.get_watermark_offsets(
                TopicPartition(topic, p), timeout=10, cached=False
            )
            total += int(high)
        return total

    def _cluster(
        self, extra: Mapping[str, str], start: WorkerFactory = WorkerProcess
    ) -> tuple[Cluster, str, str]:
        run = self.fresh("dist")
        topic = f"{run}-data"
        self.create_topic(topic)
        return Cluster(self.bootstrap, self.workdir, run, self.timeout, extra, start), run, topic

    def _cleanup(self, cluster: Cluster, topic: str) -> None:
        cluster.stop()
        self.delete_topics([topic, *cluster.internal_topics])

    # --- runs -------------------------------------------------------------------------------------

    def failover_run(
        self,
        extra: Mapping[str, str],
        start: WorkerFactory = WorkerProcess,
        connector: TaskConnector | None = None,
        victim: Victim = "busiest",
    ) -> FailoverResult:
        """Three workers (made by `start`) and one connector with six tasks (by default a
        throttled DataGen); SIGKILL one worker (never the one polled) and time until every task
        is RUNNING elsewhere.

        `victim` picks the worker: the one with the most tasks ("busiest"), the busiest one that
        is not the group's leader ("follower"), or the leader itself ("leader"). The leader is
        known only where a runtime logs it (Kafka Connect's `leaderUrl='http://host:port/'`);
        elsewhere every choice falls back to the busiest worker."""
        cluster, run, topic = self._cluster(extra, start)
        try:
            cluster.start(3)
            first = cluster.workers[0]
            first.create_connector(run, (connector or _datagen)(topic, self.workdir / run))
            _, owners = cluster.wait_owners(first, run, STATUS_POLL_S, spread=3)
            load = Counter(owners.values())
            leader = group_leader(first.log_text())
            by_load = sorted(cluster.workers, key=lambda w: load[w.worker_id])
            if leader is None or victim == "busiest":
                chosen = by_load[-1]
            elif victim == "leader":
                chosen = next(w for w in cluster.workers if w.worker_id == leader)
            else:
                chosen = [w for w in by_load if w.worker_id != leader][-1]
            survivors = [w for w in cluster.workers if w is not chosen]
            poller = min(survivors, key=lambda w: load[w.worker_id])
            killed_at = time.monotonic()
            chosen.kill()

            def recovered() -> float | None:
                cluster.check_alive(*survivors)
                now = cluster.owners(poller, run)
                if now is None or chosen.worker_id in now.values():
                    return None
                return time.monotonic() - killed_at

            seconds = poller.wait_for(
                f"{run}: tasks RUNNING without {chosen.worker_id}",
                recovered,
                self.timeout,
                FAILOVER_POLL_S,
            )
            return FailoverResult(seconds, None if leader is None else chosen.worker_id == leader)
        finally:
            self._cleanup(cluster, topic)

    def rebalance_run(
        self, start: WorkerFactory = WorkerProcess, connector: TaskConnector | None = None
    ) -> RebalanceResult:
        """Two workers (made by `start`) with the six tasks (by default of a throttled DataGen);
        start a third and count what restarted once the assignment settles (every task RUNNING,
        owners unchanged for SETTLE_S)."""
        cluster, run, topic = self._cluster({}, start)
        try:
            a, b = cluster.start(2)
            a.create_connector(run, (connector or _datagen)(topic, self.workdir / run))
            cluster.wait_owners(a, run, STATUS_POLL_S, spread=2)
            self._settle(cluster, a, run)
            before = sum(len(task_starts(w.log_text())) for w in (a, b))
            since = time.time()
            joined_at = time.monotonic()
            (c,) = cluster.start(1)

            def took_some() -> bool | None:
                cluster.check_alive()
                owners = cluster.owners(a, run)
                return True if owners and c.worker_id in owners.values() else None

            a.wait_for(f"{run}: a task on the new worker", took_some, self.timeout, STATUS_POLL_S)
            owners = self._settle(cluster, a, run)
            settle_s = time.monotonic() - joined_at
            logs = [w.log_text() for w in (a, b, c)]
            restarted = sum(len(task_starts(log)) for log in logs) - before
            moved = sorted(f"{run}-{n}" for n, w in owners.items() if w == c.worker_id)
            gaps = move_gaps(moved, logs[:2], logs[2], since)
            max_gap = max(gaps) if gaps and len(gaps) == len(moved) else None
            stopped = {
                task
                for log in logs[:2]
                for at, task in task_stops(log)
                if at >= since and task.startswith(f"{run}-")
            }
            return RebalanceResult(len(stopped), restarted, len(moved), max_gap, settle_s)
        finally:
            self._cleanup(cluster, topic)

    def _settle(self, cluster: Cluster, poller: WorkerProcess, connector: str) -> Owners:
        """Poll until every task is RUNNING and the owners have not changed for SETTLE_S."""
        last: Owners | None = None
        since = time.monotonic()

        def settled() -> Owners | None:
            nonlocal last, since
            cluster.check_alive()
            owners = cluster.owners(poller, connector)
            now = time.monotonic()
            if owners is None or owners != last:
                last, since = owners, now
                return None
            return owners if now - since >= SETTLE_S else None

        return poller.wait_for(
            f"{connector}: the assignment to settle", settled, self.timeout, STATUS_POLL_S
        )

    def throughput_run(self, workers: int, records: int) -> ClusterRate:
        """`records` text records from six unthrottled DataGen tasks spread over `workers`
        workers, timed from every task RUNNING until the topic's high-water marks sum to
        `records`. A task moved after the clock started may resend records since its last offset
        commit; those count towards the sum, as they cost the same work."""
        cluster, run, topic = self._cluster({"offset.flush.interval.ms": "10000"})
        try:
            cluster.start(workers)
            first = cluster.workers[0]
            config = {
                **datagen(topic, 0),
                "schema": "text",
                "max.records": str(records),
                "seed": "1",
            }
            first.create_connector(run, config)
            t0, _ = cluster.wait_owners(first, run, STATUS_POLL_S, spread=workers)
            high0 = self.high_watermarks(topic)
            deadline = t0 + self.timeout
            health = Every(FAILURE_POLL_S)
            while True:
                cluster.check_alive()
                if health.due():
                    first.check_healthy(run)
                high = self.high_watermarks(topic)
                now = time.monotonic()
                if high >= records:
                    break
                if now > deadline:
                    raise first.fail(
                        f"timed out after {self.timeout:.0f}s: {topic} has {high} of {records}"
                    )
                time.sleep(PROGRESS_POLL_S)
        finally:
            self._cleanup(cluster, topic)
        return ClusterRate(records - high0, now - t0)


def _datagen(topic: str, scratch: Path) -> dict[str, str]:
    return datagen(topic, FAILOVER_RATE)


def datagen(topic: str, rate: int) -> dict[str, str]:
    return {
        "connector.class": "DataGen",
        "topic": topic,
        "tasks.max": str(TASKS),
        "records.per.second": str(rate),
    }
