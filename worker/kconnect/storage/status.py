"""Where connector and task states are kept and read back.

The worker writes a state whenever an instance changes state; the REST API reads them. In
standalone mode they live in memory; a distributed worker keeps them in the status topic.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod

from kconnect.api.types import ConnectorName, TaskId
from kconnect.storage.states import State, StateInfo


def can_write_safely(current: StateInfo | None, new: StateInfo) -> bool:
    """Java's `putSafe` rule: no state yet, the same worker's state, or a generation at least
    as new. A worker that lost a task therefore cannot overwrite what its new owner reported."""
    return (
        current is None
        or current.worker_id == new.worker_id
        or current.generation <= new.generation
    )


class StatusStore(ABC):
    fenced = False
    """Set by `fence()`: the group gave this worker's seat (`group.instance.id`) to another
    process, which reports the same tasks in the same generation; the `put_*_safe` writes
    (a lost task's or connector's UNASSIGNED) are skipped from then on, so none of them
    overwrites what that process reported."""

    def fence(self) -> None:
        self.fenced = True

    def flush(self, timeout: float = 30.0) -> None:
        """Wait until every state written so far is durable, or raise; a store in memory has
        nothing to wait for."""

    @abstractmethod
    def put_connector(self, name: ConnectorName, info: StateInfo) -> None: ...

    @abstractmethod
    def put_task(self, task: TaskId, info: StateInfo) -> None: ...

    @abstractmethod
    def put_connector_safe(self, name: ConnectorName, info: StateInfo) -> bool:
        """`put_task_safe` for a connector's state."""

    @abstractmethod
    def put_task_safe(self, task: TaskId, info: StateInfo) -> bool:
        """Write unless another worker reported the task in a newer group generation (Kafka
        Connect's `putSafe`, see `can_write_safely`); True if written."""

    @abstractmethod
    def connector(self, name: ConnectorName) -> StateInfo | None: ...

    @abstractmethod
    def task(self, task: TaskId) -> StateInfo | None: ...

    @abstractmethod
    def tasks(self, name: ConnectorName) -> dict[TaskId, StateInfo]: ...

    @abstractmethod
    def forget(self, name: ConnectorName) -> None:
        """Drop every state of a deleted connector."""

    # Active topics: the topics a connector's tasks have used (`GET /connectors/{c}/topics`).
    @abstractmethod
    def put_topic(self, connector: ConnectorName, topic: str, task: int) -> None: ...

    @abstractmethod
    def topics(self, connector: ConnectorName) -> set[str]: ...

    @abstractmethod
    def reset_topics(self, connector: ConnectorName) -> None: ...


class MemoryStatusStore(StatusStore):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._connectors: dict[ConnectorName, StateInfo] = {}
        self._tasks: dict[TaskId, StateInfo] = {}
        self._topics: dict[ConnectorName, set[str]] = {}

    def put_connector(self, name: ConnectorName, info: StateInfo) -> None:
        with self._lock:
            self._connectors[name] = info

    def put_task(self, task: TaskId, info: StateInfo) -> None:
        with self._lock:
            self._tasks[task] = info

    def put_connector_safe(self, name: ConnectorName, info: StateInfo) -> bool:
        with self._lock:
            if self.fenced or not can_write_safely(self._connectors.get(name), info):
                return False
            self._connectors[name] = info
            return True

    def put_task_safe(self, task: TaskId, info: StateInfo) -> bool:
        with self._lock:
            if self.fenced or not can_write_safely(self._tasks.get(task), info):
                return False
            self._tasks[task] = info
            return True

    def connector(self, name: ConnectorName) -> StateInfo | None:
        with self._lock:
            return self._connectors.get(name)

    def task(self, task: TaskId) -> StateInfo | None:
        with self._lock:
            return self._tasks.get(task)

    def tasks(self, name: ConnectorName) -> dict[TaskId, StateInfo]:
        with self._lock:
            return {t: i for t, i in self._tasks.items() if t.connector == name}

    def forget(self, name: ConnectorName) -> None:
        with self._lock:
            self._connectors.pop(name, None)
            for t in [t for t in self._tasks if t.connector == name]:
                del self._tasks[t]
            self._topics.pop(name, None)

    def put_topic(self, connector: ConnectorName, topic: str, task: int) -> None:
        with self._lock:
            self._topics.setdefault(connector, set()).add(topic)

    def topics(self, connector: ConnectorName) -> set[str]:
        with self._lock:
            return set(self._topics.get(connector, ()))

    def reset_topics(self, connector: ConnectorName) -> None:
        with self._lock:
            self._topics.pop(connector, None)


def is_failed(info: StateInfo | None) -> bool:
    return info is not None and info.state is State.FAILED
