"""The connector and task context of log lines: where it comes from, and that it reaches records."""

from __future__ import annotations

import logging
import threading

import pytest

from kconnect import logcontext
from kconnect.api.types import ConnectorName, TaskId, TaskNumber
from kconnect.logcontext import (
    ContextFilter,
    LogContext,
    context_of,
    from_thread_name,
    log_context,
    set_task_context,
)
from kconnect.storage.states import TargetState
from kconnect.storage.status import MemoryStatusStore
from kconnect.worker.task import TaskRunner


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("task-orders-0", LogContext("orders", 0)),
        ("task-orders-db-12", LogContext("orders-db", 12)),
        ("task-a-1-2", LogContext("a-1", 2)),
        ("task-with\nnewline-3", LogContext("with\nnewline", 3)),
        ("task---4", LogContext("-", 4)),
        ("task-orders-", None),
        ("task-orders-x", None),
        ("task-7", None),
        ("herder_0", None),
        ("MainThread", None),
    ],
)
def test_a_task_thread_name_gives_back_its_connector_and_task(
    name: str, expected: LogContext | None
) -> None:
    assert from_thread_name(name) == expected


def test_the_mdc_text_is_kafka_connects() -> None:
    assert LogContext("orders", 0).mdc == "[orders|task-0] "
    assert LogContext("orders").mdc == "[orders|worker] "


def _in_thread(name: str, body: object) -> list[LogContext | None]:
    seen: list[LogContext | None] = []

    def run() -> None:
        if callable(body):
            body()
        seen.append(logcontext.current())

    thread = threading.Thread(target=run, name=name)
    thread.start()
    thread.join(10)
    return seen


def test_set_task_context_holds_for_its_thread_only() -> None:
    assert _in_thread("worker-pool-1", lambda: set_task_context("orders", 2)) == [
        LogContext("orders", 2)
    ]
    assert logcontext.current() is None
    # A context set explicitly wins over the thread's name.
    assert _in_thread("task-other-9", lambda: set_task_context("orders", 2)) == [
        LogContext("orders", 2)
    ]


def test_log_context_is_scoped_and_nests() -> None:
    with log_context("orders") as outer:
        assert logcontext.current() == outer == LogContext("orders")
        with log_context("orders", 1):
            assert logcontext.current() == LogContext("orders", 1)
        assert logcontext.current() == outer
    assert logcontext.current() is None
    with pytest.raises(RuntimeError), log_context("failing"):
        raise RuntimeError("boom")
    assert logcontext.current() is None


class _Recording(TaskRunner):
    """A task that notes the context its own thread sees, then asks to stop."""

    def __init__(self, task_id: TaskId) -> None:
        super().__init__(task_id, {}, TargetState.STARTED, MemoryStatusStore(), "w")
        self.seen: list[LogContext | None] = []

    def initialize(self) -> None:
        pass

    def iterate(self) -> None:
        self.seen.append(logcontext.current())
        self.stop()

    def close(self, commit: bool) -> None:
        pass


def test_a_task_runners_own_thread_carries_its_task() -> None:
    """Pins the naming `from_thread_name` relies on: `task-<TaskId>`, TaskId as `<c>-<n>`."""
    runner = _Recording(TaskId(ConnectorName("orders-db-2"), TaskNumber(11)))
    runner.start()
    assert runner.join(10)
    assert runner.seen == [LogContext("orders-db-2", 11)]


def test_the_filter_stamps_the_logging_threads_context_and_drops_nothing() -> None:
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep()
    handler.addFilter(ContextFilter())
    logger = logging.getLogger("tests.logcontext.filter")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("outside")
        with log_context("orders"):
            logger.warning("connector")
        _in_thread("task-orders-3", lambda: logger.warning("task"))
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    assert [(r.getMessage(), context_of(r)) for r in records] == [
        ("outside", None),
        ("connector", LogContext("orders")),
        ("task", LogContext("orders", 3)),
    ]
