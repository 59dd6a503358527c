"""What a rolling restart cost, from a timeline of task statuses (pure).

The rolling-restart benchmark (:mod:`bench.roll`) polls ``GET /connectors/<name>/status`` about
every 0.1 s while it restarts a cluster's workers one after the other, and notes when it sent
each worker SIGTERM and when the worker was back. This module turns that record into figures.
It does no I/O, so its rules are tested on hand-made timelines
(``tests/unit/test_bench_rolling.py``).

The rules:

- **A move is a change of hands.** Each task starts with the owner it had before the roll; every
  sample that shows it with another worker id (in any state) counts one move and makes that
  worker its owner. A task that goes away and comes back to the same worker id has not moved,
  which is why a restarted worker keeps its REST port: its id is ``host:port``.
- **Down is not RUNNING.** From a sample that shows a task in any other state (or not at all) to
  the next sample, the task was down; a down stretch runs from its first such sample to the
  first sample that shows the task RUNNING again. Resolution is the poll interval.
- **RUNNING is checked against the processes.** A status is only the last thing a worker wrote,
  and Kafka Connect's can show a stopped worker's tasks RUNNING for minutes; :func:`confirmed`
  counts a RUNNING only where the live process holding that worker id logged the task's start.
- **A task's own restart** is the restart of the worker that ran it before the roll: from that
  worker's SIGTERM until its REST API answered again. A task whose longest down stretch is longer
  than that (by more than the polls' resolution, both being seen by polls) was held back by
  something else than its worker's restart (a rebalance, a delay).
- **A collateral stop** is a task that was down during another worker's restart: its owner when
  the SIGTERM went was not the worker being restarted. Static membership should have none.
"""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Mapping, Sequence

RUNNING = "RUNNING"
STALE = "RUNNING (stale)"
"""Shown RUNNING, but no live process runs it (see :func:`confirmed`)."""


@dataclasses.dataclass(frozen=True)
class Sample:
    """One status poll: task number → (state, worker id)."""

    at: float
    tasks: Mapping[int, tuple[str, str]]


@dataclasses.dataclass(frozen=True)
class Restart:
    """One worker's turn in the roll, in monotonic seconds."""

    worker_id: str
    stopped_at: float
    """SIGTERM sent."""
    exited_at: float
    """The old process exited; the new one was started at once."""
    healthy_at: float
    """The new process's REST API answered ``GET /health``."""
    back_at: float
    """Every task RUNNING and no owner changed for the settle period: the next worker goes."""
    was_leader: bool | None = None
    """Whether the worker led the group when it got SIGTERM; None where the runtime does not say
    (Kafka Connect's leader makes every assignment and logs it; kconnect's group has none)."""

    @property
    def seconds(self) -> float:
        """The worker's restart: SIGTERM until its REST API answered again."""
        return self.healthy_at - self.stopped_at


@dataclasses.dataclass(frozen=True)
class TaskAccount:
    task: int
    owner_before: str
    owner_after: str | None
    """The worker id of the last sample that showed the task; None if none did."""
    moves: int
    down_s: float
    longest_down_s: float
    own_restart_s: float | None
    """Its owner-before-the-roll's restart; None when that worker was not restarted."""

    @property
    def beyond_own_restart_s(self) -> float:
        """How much longer its longest down stretch was than its own worker's restart (≥ 0)."""
        if self.own_restart_s is None:
            return self.longest_down_s
        return max(0.0, self.longest_down_s - self.own_restart_s)


@dataclasses.dataclass(frozen=True)
class RollAccount:
    tasks: tuple[TaskAccount, ...]
    restarts: tuple[Restart, ...]
    collateral: int
    """(task, restart) pairs where a task not on the restarted worker was down meanwhile."""
    slack: float = 0.0
    """How much longer than its worker's restart a task may be down and not count as longer:
    the polls' resolution, since both ends of each are seen by a poll."""

    @property
    def moves(self) -> int:
        return sum(t.moves for t in self.tasks)

    @property
    def ended_elsewhere(self) -> int:
        return sum(1 for t in self.tasks if t.owner_after != t.owner_before)

    @property
    def down_task_s(self) -> float:
        return sum(t.down_s for t in self.tasks)

    @property
    def longest_down_s(self) -> float:
        return max((t.longest_down_s for t in self.tasks), default=0.0)

    @property
    def longer_than_own_restart(self) -> int:
        """Tasks down longer than their own worker's restart (by more than `slack`)."""
        return sum(1 for t in self.tasks if t.beyond_own_restart_s > self.slack)

    @property
    def worst_beyond_own_restart_s(self) -> float:
        return max((t.beyond_own_restart_s for t in self.tasks), default=0.0)

    @property
    def restart_s(self) -> tuple[float, ...]:
        return tuple(r.seconds for r in self.restarts)

    @property
    def median_restart_s(self) -> float:
        """The median worker restart; 0 when no worker was restarted."""
        return statistics.median(self.restart_s) if self.restarts else 0.0

    @property
    def roll_s(self) -> float:
        if not self.restarts:
            return 0.0
        return self.restarts[-1].back_at - self.restarts[0].stopped_at


@dataclasses.dataclass(frozen=True)
class Process:
    """One worker process as its log tells it: which tasks it started and stopped, when (in the
    samples' clock)."""

    worker_id: str
    started_at: float
    ended_at: float | None
    """When it exited; None if it outlived the samples."""
    starts: tuple[tuple[float, int], ...]
    stops: tuple[tuple[float, int], ...]

    def alive(self, at: float) -> bool:
        return self.started_at <= at and (self.ended_at is None or at < self.ended_at)

    def runs(self, task: int, at: float) -> bool:
        """Whether `task` was started by this process before `at` and not stopped since."""
        started = [t for t, n in self.starts if n == task and t <= at]
        if not started:
            return False
        return not any(started[-1] <= t <= at for t, n in self.stops if n == task)


def confirmed(samples: Sequence[Sample], processes: Sequence[Process]) -> list[Sample]:
    """`samples` with each RUNNING that no live process backs turned into :data:`STALE`.

    A status is the last thing some worker wrote about a task, and a worker that stops does not
    always write again: Kafka Connect's status can show a stopped worker's tasks RUNNING on it
    until another worker takes them, for as long as ``scheduled.rebalance.max.delay.ms`` holds
    them back. So a task counts as RUNNING on worker W only while the process that holds W's id
    is alive and has logged the task's start and not its stop since."""
    out = []
    for s in samples:
        tasks = {}
        for n, (state, worker) in s.tasks.items():
            backed = state != RUNNING or any(
                p.worker_id == worker and p.alive(s.at) and p.runs(n, s.at) for p in processes
            )
            tasks[n] = (state if backed else STALE, worker)
        out.append(Sample(s.at, tasks))
    return out


def _running(sample: Sample, task: int) -> bool:
    entry = sample.tasks.get(task)
    return entry is not None and entry[0] == RUNNING


def account(
    before: Mapping[int, str],
    samples: Sequence[Sample],
    restarts: Sequence[Restart],
    slack: float = 0.0,
) -> RollAccount:
    """The roll's figures. `before` is each task's owner once the cluster settled, before the
    first SIGTERM; `samples` in any order; `restarts` in the order the workers went; `slack`
    the polls' resolution (see :attr:`RollAccount.slack`)."""
    ordered = sorted(samples, key=lambda s: s.at)
    own = {r.worker_id: r.seconds for r in restarts}
    tasks = []
    # owner_at[task] = [(time, owner)], for the collateral count below.
    owner_at: dict[int, list[tuple[float, str]]] = {}
    for task, first_owner in sorted(before.items()):
        owner = first_owner
        changes = [(float("-inf"), owner)]
        moves = 0
        down = longest = 0.0
        stretch_from: float | None = None
        last_seen: str | None = None
        for i, s in enumerate(ordered):
            entry = s.tasks.get(task)
            if entry is not None and entry[1]:
                last_seen = entry[1]
                if entry[1] != owner:
                    moves += 1
                    owner = entry[1]
                    changes.append((s.at, owner))
            if _running(s, task):
                if stretch_from is not None:
                    longest = max(longest, s.at - stretch_from)
                    stretch_from = None
                continue
            if stretch_from is None:
                stretch_from = s.at
            if i + 1 < len(ordered):
                down += ordered[i + 1].at - s.at
        if stretch_from is not None and ordered:
            longest = max(longest, ordered[-1].at - stretch_from)
        owner_at[task] = changes
        tasks.append(
            TaskAccount(
                task,
                first_owner,
                last_seen,
                moves,
                down,
                longest,
                own.get(first_owner),
            )
        )
    collateral = 0
    for r in restarts:
        window = [s for s in ordered if r.stopped_at <= s.at <= r.back_at]
        for task, changes in owner_at.items():
            holder = [o for at, o in changes if at <= r.stopped_at][-1]
            if holder != r.worker_id and any(not _running(s, task) for s in window):
                collateral += 1
    return RollAccount(tuple(tasks), tuple(restarts), collateral, slack)


def transitions(samples: Sequence[Sample], since: float) -> list[tuple[float, int, str, str]]:
    """(seconds after `since`, task, state, worker id) each time a task's state or worker
    differs from the previous sample's, the first sample included: the timeline in short, for
    a reader to check the figures against."""
    out = []
    last: dict[int, tuple[str, str] | None] = {}
    for s in sorted(samples, key=lambda s: s.at):
        for task in sorted(set(s.tasks) | set(last)):
            now = s.tasks.get(task)
            if task not in last or last[task] != now:
                state, worker = now if now is not None else ("MISSING", "")
                out.append((round(s.at - since, 2), task, state, worker))
            last[task] = now
    return out


def parse_status(body: object) -> dict[int, tuple[str, str]] | None:
    """Task number → (state, worker id) from a ``GET /connectors/<c>/status`` body; None when
    the body is not one. Raises ValueError naming the task when one is FAILED."""
    if not isinstance(body, dict) or not isinstance(body.get("tasks"), list):
        return None
    out: dict[int, tuple[str, str]] = {}
    for t in body["tasks"]:
        if not isinstance(t, dict) or not isinstance(t.get("id"), int):
            return None
        state = str(t.get("state"))
        if state == "FAILED":
            raise ValueError(f"task {t['id']} FAILED: {str(t.get('trace'))[:2000]}")
        out[t["id"]] = (state, str(t.get("worker_id") or ""))
    return out
