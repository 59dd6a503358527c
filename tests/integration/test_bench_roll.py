"""The rolling-restart benchmark (`make bench-roll`, bench/roll.py) on the real broker, short form.

One roll of two workers per runtime on the session's broker (`make bench-roll` rolls three):
kconnect with static membership and Java Kafka Connect with `scheduled.rebalance.max.delay.ms=0`.
Counts, not timings, are checked: the roll must see every worker go and come back, see the
restarted workers' tasks go down (or the down time it reports would be a constant zero), see
kconnect's static tasks stay put and Java's move (or the move count would be), with worker ids
of both runtimes compared on the same ports.
"""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from bench import javaconnect, roll
from bench.distributed import Distributed
from bench.procs import WorkerProcess, kill_all

pytestmark = [pytest.mark.integration, pytest.mark.timeout(420)]

STEP_TIMEOUT_S = 120.0
WORKERS = 2


def variant(name: str) -> roll.Variant:
    return next(v for v in roll.VARIANTS if v.name == name)


def test_a_static_kconnect_roll_moves_nothing_and_a_java_roll_without_delay_moves_tasks(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    if javaconnect.fetched() is None:
        pytest.fail(
            f"Kafka Connect's jars are not in {javaconnect.libs_dir()}: fetch them with "
            "`make bench-java-fetch`"
        )
    dist = Distributed(kafka_bootstrap, tmp_path, STEP_TIMEOUT_S)
    try:
        static = roll.roll_run(
            dist, WorkerProcess, variant("kconnect_static_datagen"), STEP_TIMEOUT_S, WORKERS
        )
        java = roll.roll_run(
            dist,
            functools.partial(
                javaconnect.JavaWorker,
                libs=javaconnect.fetch(),
                jvm_options=javaconnect.LIGHT_JVM_OPTIONS,
            ),
            variant("java_no_delay"),
            STEP_TIMEOUT_S,
            WORKERS,
        )
    finally:
        kill_all()
        dist.close()

    for run in (static, java):
        a = run.account
        assert len(a.restarts) == WORKERS
        # Each worker came back on its own port: the same worker ids before and after.
        assert {r.worker_id for r in a.restarts} == set(run.before.values())
        assert len(set(run.before.values())) == WORKERS
        assert a.down_task_s > 0, a.tasks

    s = static.account
    assert (s.moves, s.ended_elsewhere, s.collateral) == (0, 0, 0), s
    assert static.after == static.before
    # Every task waited for its own worker, so every task was seen down.
    assert all(t.longest_down_s > 0 for t in s.tasks), s.tasks
    # Java gives a departed worker's tasks to the others at once with no delay (between two polls,
    # at times, so that a moved task is not always seen down).
    assert java.account.moves > 0, java.account
