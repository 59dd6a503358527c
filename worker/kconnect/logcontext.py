"""Which connector and task a log line is about: Kafka Connect's `connector.context`.

Kafka Connect puts `[<connector>|task-<n>] ` (or `[<connector>|worker] ` for the connector
instance) into every line a task or connector logs, through log4j's MDC, so one connector's
lines can be picked out of a busy worker's log. kconnect does the same: `ContextFilter`, on the
log handler, stamps each record with the context of the thread that logged it, and the text and
JSON formats render it (`[orders|task-0] ` and `"connector": "orders", "task": 0`).

Where the context comes from, first match wins:

1. **A context variable**, set with `set_task_context(connector, task)` at the top of a thread a
   task owns (it holds for the rest of that thread), or with `log_context(connector)` around
   calls into connector code on a shared thread (it is reset when the block ends). A context
   variable rather than a thread-local, so that coroutines get their own too.
2. **The thread's name**, for a task runner's thread: `TaskRunner` names it `task-<TaskId>`,
   and `TaskId` prints as `<connector>-<n>`, so `task-orders-db-3` is task 3 of `orders-db`.
   The task number is digits only and always last, so any connector name parses back.

Threads that connector code starts itself carry no context: Python threads do not inherit
context variables, and their names are the connector's own.

Nothing here fails: a thread with no context logs lines without one.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Final

RECORD_ATTRIBUTE: Final = "kconnect_context"
"""The `LogRecord` attribute `ContextFilter` sets: a `LogContext`, or None."""

_TASK_THREAD: Final = re.compile(r"task-(?P<connector>.+)-(?P<task>[0-9]+)", re.DOTALL)


@dataclass(frozen=True)
class LogContext:
    """A connector, and the task when the line comes from one (None: the connector itself)."""

    connector: str
    task: int | None = None

    @property
    def mdc(self) -> str:
        """Kafka Connect's `connector.context` text: `[orders|task-0] ` or `[orders|worker] `."""
        scope = "worker" if self.task is None else f"task-{self.task}"
        return f"[{self.connector}|{scope}] "


_CURRENT: ContextVar[LogContext | None] = ContextVar("kconnect_log_context", default=None)


def set_task_context(connector: str, task: int) -> None:
    """Lines logged from now on, on this thread, are about task `task` of `connector`.

    For the thread a task owns: call it first thing on that thread. Nothing undoes it, because
    the thread ends with the task.
    """
    _CURRENT.set(LogContext(connector, task))


@contextmanager
def log_context(connector: str, task: int | None = None) -> Iterator[LogContext]:
    """Lines logged inside the block, on this thread, are about `connector` (and `task`).

    For calls into connector code on a thread that serves many connectors (the herder's): the
    previous context is back once the block ends, however it ends.
    """
    context = LogContext(connector, task)
    token = _CURRENT.set(context)
    try:
        yield context
    finally:
        _CURRENT.reset(token)


def from_thread_name(name: str) -> LogContext | None:
    """The task a task runner's thread is named for, or None for any other name."""
    match = _TASK_THREAD.fullmatch(name)
    if match is None:
        return None
    return LogContext(match["connector"], int(match["task"]))


def current() -> LogContext | None:
    """The context of the calling thread: its context variable, else its name."""
    context = _CURRENT.get()
    if context is not None:
        return context
    return from_thread_name(threading.current_thread().name)


def context_of(record: logging.LogRecord) -> LogContext | None:
    """The context `ContextFilter` stamped on `record`, if any."""
    context = getattr(record, RECORD_ATTRIBUTE, None)
    return context if isinstance(context, LogContext) else None


class ContextFilter(logging.Filter):
    """Stamps every record with the logging thread's context; drops nothing.

    Put it on a handler, not a logger: a handler's filters see the records of every logger below
    it, a logger's only those logged on that logger itself. Handlers run on the thread that
    logged, so the context read is that thread's.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if context_of(record) is None:
            setattr(record, RECORD_ATTRIBUTE, current())
        return True
