"""Cancelled tasks: the status they leave, and the one copy a worker may run of each task.

A task thread blocked in connector code (a `put()` waiting on a database, say) cannot be killed.
These tests hold one there with an event, to check what the worker reports and allows meanwhile.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Mapping

import pytest

from kconnect.api.connector import SourceConnector
from kconnect.api.task import SourceTask
from kconnect.api.types import ConnectorName, TaskId, TaskNumber
from kconnect.config.worker import WorkerConfig
from kconnect.herder.membership import group_generation
from kconnect.plugins.registry import default_registry
from kconnect.storage.kafka_log import KafkaLog, ReadInterrupted, backoff_s
from kconnect.storage.offsets import MemoryOffsetStore
from kconnect.storage.states import State, StateInfo, TargetState
from kconnect.storage.status import MemoryStatusStore, can_write_safely
from kconnect.worker.connector import ConnectorRunner
from kconnect.worker.task import TaskRunner
from kconnect.worker.worker import Worker

TASK = TaskId(ConnectorName("snk"), TaskNumber(0))
ME = "127.0.0.1:8083"
WAIT_S = 10.0


class _Stuck(TaskRunner):
    """A task whose every round blocks until `release` is set, ignoring stop requests."""

    def __init__(self, status: MemoryStatusStore, generation: int = 3) -> None:
        super().__init__(TASK, {}, TargetState.STARTED, status, ME, generation=generation)
        self.release = threading.Event()
        self.in_put = threading.Event()
        self.closed_with: list[bool] = []

    def initialize(self) -> None:
        pass

    def iterate(self) -> None:
        self.in_put.set()
        self.release.wait(WAIT_S)

    def close(self, commit: bool) -> None:
        self.closed_with.append(commit)


def _until(what: str, check: object) -> None:
    deadline = time.monotonic() + WAIT_S
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def _worker(status: MemoryStatusStore, graceful_ms: int = 50) -> Worker:
    config = WorkerConfig.model_validate({"task.shutdown.graceful.timeout.ms": graceful_ms})
    return Worker(ME, {}, config, default_registry(), MemoryOffsetStore(), status)


def test_a_cancelled_task_is_unassigned_at_once_and_reports_nothing_after() -> None:
    status = MemoryStatusStore()
    runner = _Stuck(status)
    runner.start()
    _until("the task to run", runner.in_put.is_set)
    assert status.task(TASK) == StateInfo(State.RUNNING, ME, None, 3)

    runner.cancel()
    # Still blocked in connector code, and already not RUNNING.
    assert runner.alive
    assert status.task(TASK) == StateInfo(State.UNASSIGNED, ME, None, 3)

    runner.release.set()
    assert runner.join(WAIT_S)
    assert runner.closed_with == [False]  # nothing committed
    assert status.task(TASK) == StateInfo(State.UNASSIGNED, ME, None, 3)


def test_a_cancelled_task_never_overwrites_its_new_owner() -> None:
    status = MemoryStatusStore()
    runner = _Stuck(status, generation=3)
    runner.start()
    _until("the task to run", runner.in_put.is_set)
    owner = StateInfo(State.RUNNING, "10.0.0.2:8083", None, 4)
    status.put_task(TASK, owner)  # another worker took it over in a newer generation

    runner.cancel()
    runner.release.set()
    assert runner.join(WAIT_S)
    assert status.task(TASK) == owner


def test_a_failed_task_stays_failed_when_cancelled() -> None:
    status = MemoryStatusStore()

    class _Failing(_Stuck):
        def iterate(self) -> None:
            raise RuntimeError("boom")

    runner = _Failing(status)
    runner.start()
    assert runner.join(WAIT_S)
    runner.cancel()
    info = status.task(TASK)
    assert info is not None
    assert info.state is State.FAILED


def test_a_worker_never_runs_two_copies_of_a_stuck_task() -> None:
    status = MemoryStatusStore()
    worker = _worker(status)
    runners: list[_Stuck] = []

    def build(*_: object) -> TaskRunner:
        runners.append(_Stuck(status))
        return runners[-1]

    worker._build_task = build  # type: ignore[method-assign]
    props: Mapping[str, str] = {}
    assert worker.start_task(TASK, props, props, TargetState.STARTED)
    _until("the first copy to run", runners[0].in_put.is_set)

    # Stopped for a rebalance, it overruns the graceful timeout: it is cancelled and kept.
    worker.stop_tasks([TASK])
    assert TASK not in worker.tasks
    assert worker.stopping == {TASK: runners[0]}
    assert runners[0].cancelled
    info = status.task(TASK)
    assert info is not None
    assert info.state is State.UNASSIGNED

    # Assigned here again while the first copy is still in connector code: not started.
    assert not worker.start_task(TASK, props, props, TargetState.STARTED)
    assert len(runners) == 1
    assert TASK not in worker.tasks

    runners[0].release.set()
    assert runners[0].join(WAIT_S)
    assert worker.start_task(TASK, props, props, TargetState.STARTED)
    assert len(runners) == 2
    assert worker.stopping == {}
    _until("the second copy to run", runners[1].in_put.is_set)
    runners[1].release.set()
    worker.shutdown()
    assert not runners[1].alive


def test_a_lost_assignment_does_not_wait_for_the_task() -> None:
    status = MemoryStatusStore()
    worker = _worker(status, graceful_ms=60_000)
    runner = _Stuck(status)
    worker._build_task = lambda *_: runner  # type: ignore[method-assign]
    assert worker.start_task(TASK, {}, {}, TargetState.STARTED)
    _until("the task to run", runner.in_put.is_set)

    began = time.monotonic()
    worker.stop_tasks([TASK], cancel=True)
    assert time.monotonic() - began < 30.0  # not the 60 s graceful timeout
    assert worker.stopping == {TASK: runner}
    info = status.task(TASK)
    assert info is not None
    assert info.state is State.UNASSIGNED
    runner.release.set()
    assert runner.join(WAIT_S)
    worker.reap()
    assert worker.stopping == {}


def test_put_safe_rule() -> None:
    mine = StateInfo(State.RUNNING, ME, None, 3)
    theirs_newer = StateInfo(State.RUNNING, "other", None, 4)
    theirs_older = StateInfo(State.RUNNING, "other", None, 2)
    unassigned = StateInfo(State.UNASSIGNED, ME, None, 3)
    assert can_write_safely(None, unassigned)
    assert can_write_safely(mine, unassigned)
    assert can_write_safely(theirs_older, unassigned)
    assert not can_write_safely(theirs_newer, unassigned)


def test_backoff_doubles_and_is_bounded() -> None:
    delays = [backoff_s(n) for n in range(8)]
    assert delays[:5] == [0.1, 0.2, 0.4, 0.8, 1.6]
    assert delays[5:] == [2.0, 2.0, 2.0]
    assert backoff_s(-1) == 0.1
    assert backoff_s(10**6) == 2.0


def test_group_generation_from_librdkafka_group_metadata() -> None:
    def metadata(generation: int) -> bytes:
        raw = generation.to_bytes(4, sys.byteorder, signed=True)
        return b"CGMDv2:" + raw + b"connect-cluster\x00member-1\x00\x01"

    assert group_generation(metadata(7)) == 7
    assert group_generation(metadata(2**31 - 1)) == 2**31 - 1
    # Not a member yet: what a consumer outside any group returns.
    assert group_generation(b"CGMDv2:\xff\xff\xff\xffg\x00\x00\x01") is None
    assert group_generation(b"CGMDv3:\x00\x00\x00\x01") is None
    assert group_generation(b"CGMDv2:\x01") is None
    assert group_generation(b"") is None


def test_a_stopping_worker_does_not_wait_for_end_offsets() -> None:
    # Nothing listens there: only an interrupted wait returns at once.
    log = KafkaLog(
        "offsets",
        client_config={"bootstrap.servers": "127.0.0.1:1"},
        on_record=lambda *_: None,
        name="offsets",
    )
    began = time.monotonic()
    with pytest.raises(ReadInterrupted):
        log.end_offsets(60.0, interrupted=lambda: True)
    assert time.monotonic() - began < 30.0


class _Source(SourceConnector):
    def start(self, props: Mapping[str, str]) -> None:
        pass

    def stop(self) -> None:
        pass

    def task_class(self) -> type[SourceTask]:
        raise NotImplementedError

    def task_configs(self, max_tasks: int) -> list[dict[str, str]]:
        return []

    def version(self) -> str:
        return "1"


def test_a_connector_stopped_here_never_overwrites_its_new_owner() -> None:
    status = MemoryStatusStore()
    name = ConnectorName("gen")

    def runner() -> ConnectorRunner:
        return ConnectorRunner(
            name,
            _Source(),
            {},
            status=status,
            worker_id=ME,
            on_reconfigure=lambda: None,
            generation=3,
        )

    mine = runner()
    mine.set_target(TargetState.STARTED)
    assert status.connector(name) == StateInfo(State.RUNNING, ME, None, 3, version="1")
    mine.shutdown()
    assert status.connector(name) == StateInfo(State.UNASSIGNED, ME, None, 3, version="1")

    lost = runner()
    lost.set_target(TargetState.STARTED)
    owner = StateInfo(State.RUNNING, "10.0.0.2:8083", None, 4)
    status.put_connector(name, owner)  # the new owner, in a newer generation
    lost.shutdown()
    assert status.connector(name) == owner
