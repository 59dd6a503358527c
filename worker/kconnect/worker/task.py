"""What source and sink task runners share: the thread, the state machine and its reporting.

A runner owns one task instance and one thread. The thread starts the task, runs `iterate()`
until asked to stop, and then, unless the task failed or its assignment was lost, drains,
flushes and commits before it closes. Every state change is written to the status store:
RUNNING, PAUSED, FAILED (with the trace), and UNASSIGNED once the runner has shut down.

A failure in connector code fails only this task: the trace goes to its status and the worker
and the other tasks keep running.

Cancelling (a lost assignment, or a stop that overran `task.shutdown.graceful.timeout.ms`) marks
the task UNASSIGNED at once, with Kafka Connect's `putSafe` rule: the write is skipped when
another worker already reported the task in a newer group generation. From then on the thread
reports nothing and commits nothing, whatever connector code it is still in, so a cancelled task
is never shown RUNNING and never overwrites its new owner's state. A thread blocked in connector
code cannot be killed from Python: the worker keeps the runner until the thread has exited, and
starts no second copy of the task meanwhile (`Worker.start_task`).
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import ClassVar

from kconnect.api.types import TaskId
from kconnect.logcontext import set_task_context
from kconnect.storage.states import State, StateInfo, TargetState
from kconnect.storage.status import StatusStore
from kconnect.worker import client_errors
from kconnect.worker.task_metrics import TaskMetrics

log = logging.getLogger(__name__)

CLIENT_LOG = logging.getLogger("kconnect.librdkafka")
"""Where the Kafka clients' own log lines go, instead of straight to stderr."""


def format_trace(error: BaseException) -> str:
    return "".join(traceback.format_exception(error)).rstrip()


def plugin_version(plugin: object) -> str | None:
    """A connector's or task's `version()`, as its status shows it (KIP-891); None when it has
    none or its `version()` fails (the plugin's own code: that must not fail the runner)."""
    version = getattr(plugin, "version", None)
    if not callable(version):
        return None
    try:
        value = version()
    except Exception:  # a plugin's version() is its own code
        log.debug("%r.version() failed", plugin, exc_info=True)
        return None
    return value if isinstance(value, str) else None


class TaskRunner(ABC):
    commits_after_failure: ClassVar[bool] = False
    """Whether a task that failed still commits what it finished before the failure when it
    shuts down (`close(commit=True)`). A cancelled task never commits."""

    def __init__(
        self,
        task_id: TaskId,
        task_props: Mapping[str, str],
        target: TargetState,
        status: StatusStore,
        worker_id: str,
        topics_seen: set[str] | None = None,
        metrics: TaskMetrics | None = None,
        generation: int = 0,
    ) -> None:
        self.id = task_id
        self.generation = generation
        """The group generation in which this worker was given the task: its states carry it."""
        self.topics_seen: set[str] = topics_seen if topics_seen is not None else set()
        self.task_props = dict(task_props)
        self._status = status
        self._worker_id = worker_id
        self._target = target
        self._cond = threading.Condition()
        self._stopping = False
        self._cancelled = False
        self.failed = False
        self.metrics = metrics if metrics is not None else TaskMetrics()
        self.redact: Callable[[str], str] = str
        """Puts config provider variables back into a trace (the worker sets it)."""
        # The last state this runner reported (what `/metrics` shows as the task's status).
        self.state = State.UNASSIGNED
        self.version: str | None = None
        """The task's `version()`, shown in its status (KIP-891); set by the subclass."""
        self._thread = threading.Thread(target=self._run, name=f"task-{task_id}", daemon=True)

    # --- called by the worker, on its own thread
    def start(self) -> None:
        self._thread.start()

    def set_target(self, target: TargetState) -> None:
        with self._cond:
            self._target = target
            self._cond.notify_all()
        self.on_target_change(target)

    def stop(self) -> None:
        """Ask the task to stop: it drains, flushes and commits, then exits."""
        with self._cond:
            if self._stopping:
                return
            self._stopping = True
            self._cond.notify_all()
        self.on_stop_requested()

    def cancel(self) -> None:
        """Stop without committing anything (the assignment is lost, or the stop overran).

        The task is reported UNASSIGNED now, unless it failed, never reported a state, or another
        worker reported it in a newer generation; the thread reports nothing after this.
        """
        with self._cond:
            first = not self._cancelled
            self._cancelled = True
            unassign = first and self.state in (State.RUNNING, State.PAUSED)
            if unassign:
                self.state = State.UNASSIGNED
        if unassign:
            self._status.put_task_safe(
                self.id,
                StateInfo(
                    State.UNASSIGNED, self._worker_id, None, self.generation, version=self.version
                ),
            )
        self.stop()

    def join(self, timeout: float | None) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def alive(self) -> bool:
        """Whether the task thread still runs (it may be inside connector code)."""
        return self._thread.is_alive()

    def where(self) -> str:
        """Where the task thread is now (innermost frame), for a message about a stuck task."""
        frame = sys._current_frames().get(self._thread.ident or -1)
        if frame is None:
            return "not running"
        return f"{frame.f_code.co_name} ({frame.f_code.co_filename}:{frame.f_lineno})"

    def note_topic(self, topic: str) -> None:
        """The task used `topic` for the first time: record it as an active topic."""
        self.topics_seen.add(topic)
        self._status.put_topic(self.id.connector, topic, self.id.task)

    def on_task_thread(self) -> bool:
        return threading.current_thread() is self._thread

    @property
    def target(self) -> TargetState:
        return self._target

    @property
    def stopping(self) -> bool:
        return self._stopping

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    # --- the task thread
    def _run(self) -> None:
        set_task_context(self.id.connector, self.id.task)
        try:
            self.initialize()
            if self._stopping:
                return
            self._report(State.PAUSED if self._target is TargetState.PAUSED else State.RUNNING)
            while not self._stopping:
                if self._target is not TargetState.STARTED:
                    self._park()
                    continue
                self.iterate()
        except Exception as e:
            self.failed = True
            log.exception("task %s failed", self.id)
            hint = client_errors.exception_hint(e)
            trace = format_trace(e)
            self._report(State.FAILED, trace if hint is None else f"{hint}\n{trace}")
        finally:
            self._shutdown()

    def _park(self) -> None:
        self._report(State.PAUSED)
        self.on_paused()
        while not self._resume_or_stop():
            # Idle work runs without the lock, so set_target() and stop() never wait for it.
            if not self.idle_while_paused():
                with self._cond:
                    if not self._resume_or_stop():
                        self._cond.wait(timeout=1.0)
        if not self._stopping:
            self.on_resumed()
            self._report(State.RUNNING)

    def _resume_or_stop(self) -> bool:
        with self._cond:
            return self._stopping or self._target is TargetState.STARTED

    def _shutdown(self) -> None:
        try:
            commit = not self._cancelled and (not self.failed or self.commits_after_failure)
            self.close(commit=commit)
        except Exception as e:
            log.exception("task %s failed while shutting down", self.id)
            if not self.failed:
                self.failed = True
                self._report(State.FAILED, format_trace(e))
        if not self.failed:
            self._report(State.UNASSIGNED)

    def _report(self, state: State, trace: str | None = None) -> None:
        # Under the lock, so that no report can follow cancel()'s UNASSIGNED.
        with self._cond:
            if self._cancelled:
                return  # another worker may own this task's status now
            self.state = state
            shown = self.redact(trace) if trace is not None else None
            self._status.put_task(
                self.id,
                StateInfo(state, self._worker_id, shown, self.generation, version=self.version),
            )

    # --- what each kind of task fills in
    @abstractmethod
    def initialize(self) -> None:
        """Make the clients and converters and start the task (on the task thread)."""

    @abstractmethod
    def iterate(self) -> None:
        """One round of work: poll and send, or consume and put; commit when due."""

    @abstractmethod
    def close(self, commit: bool) -> None:
        """Stop the task, then (if `commit`) flush and commit, then close the clients."""

    def idle_while_paused(self) -> bool:
        """Work to do while paused (a sink keeps its group membership). True if it waited."""
        return False

    def on_paused(self) -> None:
        pass

    def on_resumed(self) -> None:
        pass

    def on_stop_requested(self) -> None:
        pass

    def on_target_change(self, target: TargetState) -> None:
        pass
