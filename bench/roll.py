"""A rolling restart of a 3-worker cluster: kconnect with and without static membership beside
Apache Kafka Connect's Java runtime (``make bench-roll``; ``make bench-java`` runs it too).

One run: 3 distributed workers run one connector with 6 tasks, two per worker once settled. Then
each worker in turn gets SIGTERM, is started again on the same REST port (so its worker id,
``127.0.0.1:<port>``, is the same) as soon as it exited, and the next one goes once the restarted
one is back: its REST API answers, every task is RUNNING and no task changed hands for
:data:`SETTLE_S`. Meanwhile ``GET /connectors/<name>/status`` is polled every :data:`POLL_S` on a
worker that is not being restarted; :mod:`bench.rolling` turns the timeline into task moves,
tasks ending on another worker, other workers' tasks stopped, task-seconds not RUNNING, and each
task's longest down time against its own worker's restart.

The variants (:data:`VARIANTS`):

- the same FileStreamSink config for both runtimes (Kafka's class name, ``tasks.max=6`` on a
  6-partition topic, as the failover and rebalance workloads of :mod:`bench.compare`): kconnect
  with ``group.instance.id`` per worker (static), kconnect without (dynamic), Java with its
  defaults (``scheduled.rebalance.max.delay.ms`` 5 minutes) and Java with that delay at 0;
- kconnect static and dynamic with a source, DataGen (``tasks.max=6``, 600 records/s): Kafka
  Connect's runtime has no multi-task source of its own to run beside it.

Invariants:

- **Every wait is bounded** by ``--timeout`` per step (SIGTERM to exit, start to REST, back to
  settled), and checks that the workers it relies on are alive. Java with its defaults holds a
  departed follower's tasks back for 5 minutes, so its roll takes up to 15; the QUICK form leaves
  it out and says so.
- **Every cluster is private** (its group, internal topics, data topic), and every worker is
  stopped and its topics deleted when the run ends, on every path.
- **The roll order is the workers' start order**, the same for every variant.

``--update`` writes the figures into ``docs/benchmarks.md`` between :data:`SECTION_BEGIN` and
:data:`SECTION_END` and into ``bench/results/latest.json`` under :data:`RESULTS_KEY`, each run
with its per-task figures and its timeline; ``--recount`` counts those stored runs again with
the current rules and rewrites both, measuring nothing.
Exit status: 0 when every run was measured; 1 when the harness could not measure.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import http.client
import json
import signal
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Final, Literal

import confluent_kafka

from bench import javaconnect
from bench.compare import RuntimeName
from bench.distributed import (
    Cluster,
    Distributed,
    datagen,
    group_leader,
    task_starts,
    task_stops,
)
from bench.measure import FILE_SINK
from bench.procs import STOP_TIMEOUT_S, Every, HarnessError, WorkerFactory, WorkerProcess
from bench.report import merge_json, replace_span
from bench.rolling import (
    Process,
    Restart,
    RollAccount,
    Sample,
    TaskAccount,
    account,
    confirmed,
    parse_status,
    transitions,
)
from bench.run import machine
from bench.session import private_broker
from kconnect_devenv import kafka

REPO: Final = Path(__file__).resolve().parents[1]
DOC: Final = REPO / "docs" / "benchmarks.md"
RESULTS: Final = REPO / "bench" / "results" / "latest.json"
RESULTS_KEY: Final = "rolling_restart"
SECTION_BEGIN: Final = "<!-- rolling-restart:begin -->"
SECTION_END: Final = "<!-- rolling-restart:end -->"

WORKERS: Final = 3
TASKS: Final = 6
POLL_S: Final = 0.1
SETTLE_S: Final = 3.0
DEFAULT_REPEAT: Final = 2
CONFIRM_S: Final = 1.0
"""How often a settled status is checked against the workers' logs."""
DATAGEN_RATE: Final = 600
JAVA_NO_DELAY: Final = {"scheduled.rebalance.max.delay.ms": "0"}

ConnectorKind = Literal["FileStreamSink", "DataGen"]


@dataclasses.dataclass(frozen=True)
class Variant:
    name: str
    label: str
    runtime: RuntimeName
    connector: ConnectorKind
    static: bool = False
    """Each worker gets ``group.instance.id=<cluster>-w<n>`` (kconnect only)."""
    extra: Mapping[str, str] = dataclasses.field(default_factory=dict)
    slow: bool = False
    """Left out of the QUICK form."""
    order: Order = "start"


Order = Literal["start", "leader_first", "leader_last"]
"""Which worker goes next: the next in start order; or, among those not restarted yet, the group's
leader first or last. Kafka Connect's leader makes every assignment and names itself in every
worker's log; kconnect's group has no such leader, so its rolls go in start order."""


def next_worker(order: Order, remaining: Sequence[str], leader: str | None) -> str:
    """The worker id of the next worker to restart, out of `remaining` (in start order)."""
    if order == "start" or leader is None or leader not in remaining:
        return remaining[0]
    if order == "leader_first":
        return leader
    return next((w for w in remaining if w != leader), leader)


VARIANTS: Final = (
    Variant(
        "kconnect_static",
        "kconnect, static (`group.instance.id`)",
        "kconnect",
        "FileStreamSink",
        True,
    ),
    Variant("kconnect_dynamic", "kconnect, dynamic", "kconnect", "FileStreamSink"),
    Variant(
        "java_default_leader_last",
        "Java Kafka Connect, defaults, the leader last",
        "java",
        "FileStreamSink",
        slow=True,
        order="leader_last",
    ),
    Variant(
        "java_default_leader_first",
        "Java Kafka Connect, defaults, the leader first",
        "java",
        "FileStreamSink",
        order="leader_first",
    ),
    Variant(
        "java_no_delay",
        "Java Kafka Connect, `scheduled.rebalance.max.delay.ms=0`",
        "java",
        "FileStreamSink",
        extra=JAVA_NO_DELAY,
    ),
    Variant(
        "kconnect_static_datagen",
        "kconnect, static (`group.instance.id`)",
        "kconnect",
        "DataGen",
        True,
    ),
    Variant("kconnect_dynamic_datagen", "kconnect, dynamic", "kconnect", "DataGen"),
)


def log(message: str) -> None:
    print(f"[bench-roll {time.strftime('%H:%M:%S')}] {message}", flush=True)


def connector_config(kind: ConnectorKind, topic: str, scratch: Path) -> dict[str, str]:
    if kind == "DataGen":
        return datagen(topic, DATAGEN_RATE)
    return {
        "connector.class": FILE_SINK,
        "tasks.max": str(TASKS),
        "topics": topic,
        "file": f"{scratch}.out",
    }


# --- one run ------------------------------------------------------------------------------------


class _Poller:
    """Status polls over one kept-alive connection per worker port, apart from the workers' own
    connections (which the roll uses for its health checks)."""

    def __init__(self, connector: str) -> None:
        self.connector = connector
        self._conns: dict[int, http.client.HTTPConnection] = {}

    def status(self, port: int) -> dict[int, tuple[str, str]] | None:
        conn = self._conns.get(port)
        if conn is None:
            conn = self._conns[port] = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            conn.request("GET", f"/connectors/{self.connector}/status")
            resp = conn.getresponse()
            raw = resp.read()
        except (OSError, http.client.HTTPException):
            conn.close()
            del self._conns[port]
            return None
        if resp.status != 200:
            return None
        try:
            return parse_status(json.loads(raw))
        except ValueError as e:
            if "FAILED" in str(e):
                raise HarnessError(f"{self.connector}: {e}") from None
            return None  # not JSON: a Java worker still starting answers with an HTML page

    def close(self) -> None:
        for conn in self._conns.values():
            conn.close()
        self._conns.clear()


@dataclasses.dataclass(frozen=True)
class RollRun:
    before: dict[int, str]
    after: dict[int, str]
    account: RollAccount
    timeline: list[tuple[float, int, str, str]]
    """The status changes seen, from the first SIGTERM (:func:`bench.rolling.transitions`)."""


def _all_running(tasks: Mapping[int, tuple[str, str]] | None) -> dict[int, str] | None:
    if tasks is None or len(tasks) != TASKS or any(s != "RUNNING" for s, _ in tasks.values()):
        return None
    return {n: w for n, (_, w) in tasks.items()}


def roll_run(
    dist: Distributed,
    start: WorkerFactory,
    variant: Variant,
    timeout: float,
    workers_count: int = WORKERS,
) -> RollRun:
    """Start ``workers_count`` workers of ``variant``, roll them one at a time, and account for
    every task's moves and time down."""
    run = dist.fresh(f"roll-{variant.name.replace('_', '-')}")
    topic = f"{run}-data"
    dist.create_topic(topic)
    cluster = Cluster(dist.bootstrap, dist.workdir, run, timeout, variant.extra, start)
    poller = _Poller(run)
    workers: list[WorkerProcess] = []

    def launch(i: int, generation: int, port: int | None = None) -> WorkerProcess:
        props = cluster.props()
        if variant.static:
            props["group.instance.id"] = f"{run}-w{i}"
        return start(
            dist.workdir, f"{run}-w{i}-{generation}", props, [], mode="distributed", port=port
        )

    processes: list[tuple[WorkerProcess, float | None]] = []
    """Every worker process of the run and when it exited (None while it runs)."""

    def process_runs() -> list[Process]:
        """What each process's log says it started and stopped, in the monotonic clock."""
        offset = time.time() - time.monotonic()
        prefix = f"{run}-"

        def ours(events: list[tuple[float, str]]) -> tuple[tuple[float, int], ...]:
            return tuple(
                (at - offset, int(task[len(prefix) :]))
                for at, task in events
                if task.startswith(prefix) and task[len(prefix) :].isdigit()
            )

        out = []
        for w, ended in processes:
            text = w.log_text()
            out.append(
                Process(
                    w.worker_id,
                    w.started_at,
                    ended,
                    ours(task_starts(text)),
                    ours(task_stops(text)),
                )
            )
        return out

    try:
        workers = [launch(i, 0) for i in range(workers_count)]
        processes.extend((w, None) for w in workers)
        for w in workers:
            w.wait_healthy(timeout, POLL_S)
        workers[0].create_connector(
            run, connector_config(variant.connector, topic, dist.workdir / run)
        )
        samples: list[Sample] = []

        def sample(skip: int | None) -> dict[int, tuple[str, str]] | None:
            """One poll on the first live worker other than `skip`; recorded when it answered."""
            for i, w in enumerate(workers):
                if i == skip or w.proc.poll() is not None:
                    continue
                tasks = poller.status(w.port)
                if tasks is not None:
                    samples.append(Sample(time.monotonic(), tasks))
                    return tasks
            return None

        def settled(what: str, spread: int = 1) -> tuple[dict[int, str], float]:
            """Poll until every task is RUNNING on ≥ `spread` workers, no owner changed for
            SETTLE_S, and the workers' logs confirm it (a status can be stale, see
            :func:`bench.rolling.confirmed`); the owners, and since when that held."""
            last: dict[int, str] | None = None
            since = time.monotonic()
            deadline = since + timeout
            check = Every(CONFIRM_S)
            while True:
                for w in workers:
                    w.check_alive()
                owners = _all_running(sample(None))
                now = time.monotonic()
                if owners is None or owners != last or len(set(owners.values())) < spread:
                    last, since = owners, now
                elif now - since >= SETTLE_S and check.due():
                    real = confirmed(samples[-1:], process_runs())[0]
                    if _all_running(real.tasks) is not None:
                        return owners, since
                    since = now  # stale: settled only once the processes agree
                if now > deadline:
                    raise workers[0].fail(
                        f"{run}: timed out after {timeout:.0f}s waiting for {what}; last "
                        f"status {samples[-1].tasks if samples else None}"
                    )
                time.sleep(POLL_S)

        before, _ = settled(
            f"{TASKS} tasks RUNNING on {workers_count} workers", spread=workers_count
        )
        load = sorted(Counter(before.values()).values())
        even = TASKS // workers_count
        if load != [even] * workers_count:
            log(f"{run}: tasks per worker before the roll: {load} (expected {even} each)")
        samples.clear()
        restarts = []
        remaining = [w.worker_id for w in workers]
        while remaining:
            leader = group_leader(workers[0].log_text())
            i = [w.worker_id for w in workers].index(next_worker(variant.order, remaining, leader))
            old = workers[i]
            remaining.remove(old.worker_id)
            stopped_at = time.monotonic()
            old.proc.send_signal(signal.SIGTERM)
            deadline = stopped_at + STOP_TIMEOUT_S
            while old.proc.poll() is None:
                if time.monotonic() > deadline:
                    raise old.fail(
                        f"{run}: worker {i} did not exit within {STOP_TIMEOUT_S:.0f}s of SIGTERM"
                    )
                sample(i)
                time.sleep(POLL_S)
            exited_at = time.monotonic()
            old.stop()  # already exited: closes its log and forgets the process
            new = workers[i] = launch(i, 1, port=old.port)
            processes[i] = (old, exited_at)
            processes.append((new, None))
            deadline = exited_at + timeout
            while not new.healthy():
                new.check_alive()
                if time.monotonic() > deadline:
                    raise new.fail(f"{run}: worker {i} did not answer within {timeout:.0f}s")
                sample(i)
                time.sleep(POLL_S)
            healthy_at = time.monotonic()
            _, back_at = settled(f"worker {i} back and every task RUNNING")
            restarts.append(
                Restart(
                    old.worker_id,
                    stopped_at,
                    exited_at,
                    healthy_at,
                    back_at,
                    None if leader is None else leader == old.worker_id,
                )
            )
        after = {n: w for n, (_, w) in samples[-1].tasks.items()}
        checked = confirmed(samples, process_runs())
        return RollRun(
            before,
            after,
            account(before, checked, restarts, slack=POLL_S),
            transitions(checked, restarts[0].stopped_at),
        )
    finally:
        poller.close()
        for w in workers:
            w.stop()
        dist.delete_topics([topic, *cluster.internal_topics])


def describe(v: Variant, r: RollRun) -> str:
    a = r.account
    return (
        f"{a.moves} moves, {a.ended_elsewhere} tasks ended elsewhere, {a.collateral} collateral "
        f"stops, {a.down_task_s:.1f} task-s not RUNNING, longest down {a.longest_down_s:.1f} s, "
        f"{a.longer_than_own_restart} tasks down longer than their worker's restart "
        f"(by up to {a.worst_beyond_own_restart_s:.1f} s), restarts "
        f"{', '.join(f'{s:.1f}' for s in a.restart_s)} s, roll {a.roll_s:.0f} s{leaders(a)}"
    )


def leaders(a: RollAccount) -> str:
    """Which restarts hit the group's leader, where the runtime names it."""
    known = [r.was_leader for r in a.restarts]
    if None in known:
        return ""
    return "; the leader was restarted " + (
        ", ".join(
            f"{n + 1}{'st' if n == 0 else 'nd' if n == 1 else 'rd'}"
            for n, w in enumerate(known)
            if w
        )
        or "never"
    )


# --- the report (pure) --------------------------------------------------------------------------

Figure = tuple[str, str, Callable[[RollAccount], float], str]
FIGURES: Final[tuple[Figure, ...]] = (
    ("moves", "task moves", lambda a: float(a.moves), "count"),
    (
        "ended_elsewhere",
        "tasks ending on another worker",
        lambda a: float(a.ended_elsewhere),
        "count",
    ),
    ("collateral", "other workers' tasks stopped", lambda a: float(a.collateral), "count"),
    ("down_task_s", "task-seconds not RUNNING", lambda a: a.down_task_s, "s"),
    ("longest_down_s", "longest a task was down", lambda a: a.longest_down_s, "s"),
    (
        "longer_than_own_restart",
        "tasks down longer than their worker's restart",
        lambda a: float(a.longer_than_own_restart),
        "count",
    ),
    (
        "restart_s",
        "worker restart (SIGTERM → REST answers)",
        lambda a: a.median_restart_s,
        "s",
    ),
    ("roll_s", "whole roll", lambda a: a.roll_s, "s"),
)


def _fmt(value: float, unit: str) -> str:
    return f"{value:.0f}" if unit == "count" else f"{value:.1f}"


def cell(values: Sequence[float], unit: str) -> str:
    """The median of the runs, with their range when they differ."""
    if not values:
        return "—"
    text = _fmt(statistics.median(values), unit)
    if _fmt(min(values), unit) != _fmt(max(values), unit):
        text += f" ({_fmt(min(values), unit)}–{_fmt(max(values), unit)})"
    return text


def table(
    results: Mapping[str, Sequence[RollAccount]], variants: Sequence[Variant] = VARIANTS
) -> list[str]:
    head = "| runtime | connector | " + " | ".join(label for _, label, _, _ in FIGURES) + " |"
    lines = [head, "|---|---|" + "---|" * len(FIGURES)]
    for v in variants:
        runs = results.get(v.name)
        if not runs:
            continue
        cells = [cell([get(a) for a in runs], unit) for _, _, get, unit in FIGURES]
        lines.append(f"| {v.label} | {v.connector} | " + " | ".join(cells) + " |")
    return lines


def render_section(
    results: Mapping[str, Sequence[RollAccount]], settings_: Mapping[str, str]
) -> str:
    return "\n".join(
        [
            SECTION_BEGIN,
            "",
            "Generated by `python -m bench.roll --update` (`make bench-roll`). Median of the "
            "runs, (min–max) when they differ; counts are over the whole roll of 3 "
            "workers and 6 tasks.",
            "",
            *table(results),
            "",
            "| setting | value |",
            "|---|---|",
            *(f"| {k} | {v} |" for k, v in settings_.items()),
            "",
            SECTION_END,
        ]
    )


def to_json(r: RollRun) -> dict[str, object]:
    a = r.account
    return {
        **{name: round(get(a), 3) for name, _, get, _ in FIGURES},
        "restarts_s": [round(s, 3) for s in a.restart_s],
        "leader_restarted": [restart.was_leader for restart in a.restarts],
        "tasks": [
            {
                "task": t.task,
                "owner_before": t.owner_before,
                "owner_after": t.owner_after,
                "moves": t.moves,
                "down_s": round(t.down_s, 3),
                "longest_down_s": round(t.longest_down_s, 3),
                "own_restart_s": None if t.own_restart_s is None else round(t.own_restart_s, 3),
            }
            for t in a.tasks
        ],
        "timeline": [list(change) for change in r.timeline],
    }


def from_json(obj: Mapping[str, Any], slack: float = POLL_S) -> RollAccount:
    """A run's account back from its :func:`to_json` record, counted with today's rules: every
    figure of the table comes out as :data:`FIGURES` would count it (the restarts keep only
    their lengths and the roll its span)."""
    tasks = tuple(
        TaskAccount(
            int(t["task"]),
            str(t["owner_before"]),
            None if t["owner_after"] is None else str(t["owner_after"]),
            int(t["moves"]),
            float(t["down_s"]),
            float(t["longest_down_s"]),
            None if t["own_restart_s"] is None else float(t["own_restart_s"]),
        )
        for t in obj["tasks"]
    )
    lengths = [float(x) for x in obj["restarts_s"]]
    leaders = obj.get("leader_restarted") or [None] * len(lengths)
    restarts = tuple(
        Restart(
            "", 0.0, 0.0, length, float(obj["roll_s"]) if n == len(lengths) - 1 else length, lead
        )
        for n, (length, lead) in enumerate(zip(lengths, leaders, strict=True))
    )
    return RollAccount(tasks, restarts, int(obj["collateral"]), slack)


def recount(*, doc: Path, results_path: Path, note: str) -> None:
    """The section and the JSON's figures counted again from the stored runs (`--recount`), with
    `note` among the settings; the runs themselves are kept as they were."""
    stored = json.loads(results_path.read_text("utf-8"))[RESULTS_KEY]
    runs: dict[str, list[dict[str, Any]]] = stored["runs"]
    counted = {name: [from_json(obj) for obj in objs] for name, objs in runs.items()}
    for name, objs in runs.items():
        for obj, a in zip(objs, counted[name], strict=True):
            obj.update({key: round(get(a), 3) for key, _, get, _ in FIGURES})
    settings_ = {**stored["settings"], "re-counted": note}
    page = replace_span(
        doc.read_text("utf-8"),
        render_section(counted, settings_),
        SECTION_BEGIN,
        SECTION_END,
        "`python -m bench.roll --recount`",
    )
    merge_json(results_path, {RESULTS_KEY: {"runs": runs, "settings": settings_}})
    doc.write_text(page, "utf-8")


def settings(repeat: int, quick: bool, commit: str, when: str) -> dict[str, str]:
    out = {
        "measured": f"at kconnect {commit} on {when}",
        "runs per variant": (
            f"{repeat} (Java with its defaults and the leader last: 1), variants in turn, their "
            "order reversed on odd repeats"
        ),
        "cluster": (
            f"{WORKERS} distributed workers on one machine, started together; one connector with "
            f"`tasks.max={TASKS}` (FileStreamSink on a {TASKS}-partition topic, the same config "
            f"for both runtimes; DataGen at {DATAGEN_RATE} records/s), 2 tasks per worker before "
            "the roll"
        ),
        "roll": (
            "each worker in turn (in start order; for Java's defaults the group's current leader "
            "first or last, as the row says): SIGTERM; started again on the same REST port as "
            "soon as it exited; the next goes once its REST API answers, every task is RUNNING "
            f"(checked against the worker logs) and no task changed hands for {SETTLE_S:.0f} s"
        ),
        "observed": (
            f"`GET /connectors/<name>/status` every {POLL_S} s on a worker not being restarted; "
            "a move is a task shown on another worker id than the last one it was shown on; a "
            "task's worker restart is its pre-roll worker's, SIGTERM until `GET /health` answers"
        ),
        "worker settings": (
            "each runtime's defaults (`session.timeout.ms` 10 s in both; Java's "
            "`scheduled.rebalance.max.delay.ms` 5 min) except where the row says"
        ),
    }
    if quick:
        out["left out"] = (
            "Java with its defaults (the QUICK form; its roll alone takes up to 15 minutes)"
        )
    return out


def write(
    results: Mapping[str, Sequence[RollRun]],
    settings_: Mapping[str, str],
    *,
    doc: Path,
    results_path: Path,
) -> None:
    page = replace_span(
        doc.read_text("utf-8"),
        render_section(accounts(results), settings_),
        SECTION_BEGIN,
        SECTION_END,
        "`python -m bench.roll --update`",
    )
    merge_json(
        results_path,
        {
            RESULTS_KEY: {
                "runs": {name: [to_json(r) for r in runs] for name, runs in results.items()},
                "settings": dict(settings_),
            }
        },
    )
    doc.write_text(page, "utf-8")


# --- the session --------------------------------------------------------------------------------


def ordered(variants: Sequence[Variant], repeat: int) -> Iterator[tuple[int, Variant]]:
    """(repeat index, variant) in the order the rolls go: the variants in turn, in reverse on odd
    repeats; a slow variant (over 10 minutes a roll) only once."""
    for i in range(repeat):
        for v in variants if i % 2 == 0 else tuple(reversed(variants)):
            if i == 0 or not v.slow:
                yield i, v


def measure(
    dist: Distributed,
    starters: Mapping[RuntimeName, WorkerFactory],
    variants: Sequence[Variant],
    repeat: int,
    timeout: float,
) -> dict[str, list[RollRun]]:
    results: dict[str, list[RollRun]] = {v.name: [] for v in variants}
    for i, v in ordered(variants, repeat):
        r = roll_run(dist, starters[v.runtime], v, timeout)
        log(f"{v.name} {i + 1}/{repeat}: {describe(v, r)}")
        results[v.name].append(r)
    return results


def accounts(results: Mapping[str, Sequence[RollRun]]) -> dict[str, list[RollAccount]]:
    return {name: [r.account for r in runs] for name, runs in results.items()}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.roll", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="one run each, without Java's defaults with the leader last",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=None,
        help="runs per variant (default 2; 1 in the QUICK form); a slow variant runs once",
    )
    parser.add_argument(
        "--timeout", type=float, default=600.0, help="seconds for any one step of a roll"
    )
    parser.add_argument(
        "--only",
        default="",
        metavar="NAME[,NAME]",
        help=f"only these variants (names: {', '.join(v.name for v in VARIANTS)})",
    )
    parser.add_argument(
        "--recount",
        action="store_true",
        help="measure nothing: count the runs stored in latest.json again and rewrite the section",
    )
    parser.add_argument(
        "--update",
        action="store_true",
        help="write the figures into the docs (not with --quick or --only)",
    )
    args = parser.parse_args(argv)
    if args.repeat is None:
        args.repeat = 1 if args.quick else DEFAULT_REPEAT
    if args.repeat <= 0 or args.timeout <= 0:
        parser.error("expected a positive number of repeats and a positive timeout")
    names = {v.name: v for v in VARIANTS}
    wanted = [n for n in args.only.split(",") if n]
    unknown = [n for n in wanted if n not in names]
    if unknown:
        parser.error(f"unknown variant {', '.join(unknown)}; expected one of {', '.join(names)}")
    if args.update and (args.quick or wanted):
        parser.error("--update takes the full run (not --quick or --only)")
    if wanted:
        args.variants = [names[n] for n in wanted]
    else:
        args.variants = [v for v in VARIANTS if not (args.quick and v.slow)]
    return args


def _sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.recount:
        when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        try:
            recount(
                doc=DOC,
                results_path=RESULTS,
                note=f"with the rules of kconnect {machine()['kconnect commit']} on {when}",
            )
        except (OSError, ValueError, KeyError, TypeError) as e:
            print(
                f"bench-roll: cannot count again: {RESULTS.relative_to(REPO)} holds no rolling "
                f"restart runs `make bench-roll` wrote ({type(e).__name__}: {e})",
                file=sys.stderr,
            )
            return 1
        log(f"wrote {DOC.relative_to(REPO)} and {RESULTS.relative_to(REPO)}")
        return 0
    signal.signal(signal.SIGTERM, _sigterm)
    began = time.monotonic()
    commit = machine()["kconnect commit"]  # the code measuring, not the tree at the end
    try:
        starters: dict[RuntimeName, WorkerFactory] = {"kconnect": WorkerProcess}
        if any(v.runtime == "java" for v in args.variants):
            starters["java"] = functools.partial(javaconnect.JavaWorker, libs=javaconnect.fetch())
        with private_broker("kconnect-bench-roll-", args.timeout, log) as (bootstrap, _, dist):
            log(f"broker at {bootstrap}; {args.repeat} roll(s) per variant")
            results = measure(dist, starters, args.variants, args.repeat, args.timeout)
    except HarnessError as e:
        print(f"bench-roll: cannot measure: {e}", file=sys.stderr)
        return 1
    except (kafka.KafkaServiceError, confluent_kafka.KafkaException) as e:
        print(f"bench-roll: Kafka: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bench-roll: interrupted", file=sys.stderr)
        return 130
    for line in table(accounts(results), args.variants):
        print(line)
    if args.update:
        when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        write(
            results,
            settings(args.repeat, args.quick, commit, when),
            doc=DOC,
            results_path=RESULTS,
        )
        log(f"wrote {DOC.relative_to(REPO)} and {RESULTS.relative_to(REPO)}")
    log(f"done in {time.monotonic() - began:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
