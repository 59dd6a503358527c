"""Connector and task states in the status topic (`status.storage.topic`): Kafka Connect's
`KafkaStatusBackingStore`.

Format, as Java writes it (JsonConverter without schemas, fields in this order):
- key `status-connector-<name>` or `status-task-<name>-<n>`;
- value `{"state":"RUNNING","trace":null,"worker_id":"host:port","generation":3,"version":"1.0"}`
  (`version`, the plugin's, is Kafka 4.1's, KIP-891; older values lack it);
- a tombstone (or Java's DESTROYED state, which it writes as one) removes the entry.
- active topics: key `status-topic-<topic>:connector-<name>`, value
  `{"topic":{"name":...,"connector":...,"task":n,"discoverTimestamp":ms}}`; a tombstone forgets it.

Writes never block the caller: a task thread reports its state and carries on. `put_*` updates
this worker's view at once and sends the record; a failed delivery is logged (librdkafka has
already retried it for `message.timeout.ms`).

The view only moves forward. Reading back this worker's own writes could otherwise take it
back: a task that starts and fails within milliseconds is put RUNNING then FAILED, and the
RUNNING record, read back after the FAILED was put, would show the task running again until
the FAILED record came back too (and a restart with `onlyFailed` planned in that window would
restart nothing). So each key keeps the values this store sent and has not read back yet, in
order: a record read back that is the oldest of them is consumed and applied only once none is
left (the view already holds a newer write of its own), and any other record for that key was
written to the topic before them, so they decide the state and it is skipped. A write whose
delivery fails leaves that list, since it never reaches the topic.

Stale updates: reading folds the topic with the last write winning, as Java's read side does.
`put_*` writes unconditionally (Java's `put`). `put_*_safe` is Java's `putSafe`: it writes only
if there is no state yet, or the state was written by the same worker, or the new generation is
at least the old one; so a worker that lost a task in a rebalance can't overwrite the state the
new owner reported.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Mapping
from concurrent.futures import Future
from typing import TypeVar

from kconnect.api.types import ConnectorName, JsonValue, TaskId, TaskNumber
from kconnect.errors import DataError
from kconnect.storage.kafka_log import KafkaLog
from kconnect.storage.states import State, StateInfo
from kconnect.storage.status import StatusStore, can_write_safely

log = logging.getLogger(__name__)

_K = TypeVar("_K", ConnectorName, TaskId)

CONNECTOR_PREFIX = "status-connector-"
TASK_PREFIX = "status-task-"
TOPIC_PREFIX = "status-topic-"


def connector_key(name: str) -> bytes:
    return (CONNECTOR_PREFIX + name).encode()


def task_key(task: TaskId) -> bytes:
    return f"{TASK_PREFIX}{task.connector}-{task.task}".encode()


def serialize_state(info: StateInfo) -> bytes | None:
    """The record value of a state; None (a tombstone) for DESTROYED, as Java writes it."""
    if info.state is State.DESTROYED:
        return None
    doc: dict[str, JsonValue] = {
        "state": info.state.value,
        "trace": info.trace,
        "worker_id": info.worker_id,
        "generation": info.generation,
        "version": info.version,
    }
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()


def parse_state(raw: bytes) -> StateInfo:
    """A status value; `DataError` for one Kafka Connect couldn't have written."""
    try:
        doc = json.loads(raw)
    except ValueError as e:
        raise DataError(f"status value {raw[:200]!r} is not JSON: {e}") from None
    if not isinstance(doc, dict):
        raise DataError(f"status value {raw[:200]!r} is not a JSON object")
    state, trace, worker_id, generation = (
        doc.get("state"),
        doc.get("trace"),
        doc.get("worker_id"),
        doc.get("generation"),
    )
    if not isinstance(state, str) or state not in State.__members__:
        raise DataError(f"status value {raw[:200]!r}: 'state' {state!r} is not a known state")
    if not isinstance(worker_id, str):
        raise DataError(f"status value {raw[:200]!r}: 'worker_id' {worker_id!r} is not a string")
    if trace is not None and not isinstance(trace, str):
        raise DataError(f"status value {raw[:200]!r}: 'trace' {trace!r} is not a string or null")
    if isinstance(generation, bool) or not isinstance(generation, int):
        raise DataError(
            f"status value {raw[:200]!r}: 'generation' {generation!r} is not an integer"
        )
    version = doc.get("version")
    if version is not None and not isinstance(version, str):
        raise DataError(f"status value {raw[:200]!r}: 'version' {version!r} is not a string")
    return StateInfo(State(state), worker_id, trace, generation, version)


def parse_key(raw: bytes) -> ConnectorName | TaskId | None:
    """A connector name, a task id, or None for keys that hold no connector or task state.

    A task key splits at its last `-`, so connector names may contain dashes (Java does the
    same). `DataError` for keys Kafka Connect couldn't have written.
    """
    try:
        key = raw.decode()
    except UnicodeDecodeError:
        raise DataError(f"status key {raw[:200]!r} is not UTF-8") from None
    if key.startswith(CONNECTOR_PREFIX):
        name = key[len(CONNECTOR_PREFIX) :]
        if not name:
            raise DataError(f"status key {key!r} names no connector")
        return ConnectorName(name)
    if key.startswith(TASK_PREFIX):
        connector, sep, number = key[len(TASK_PREFIX) :].rpartition("-")
        if not sep or not connector or not number.isdigit():
            raise DataError(f"status key {key!r} is not of the form status-task-<name>-<n>")
        return TaskId(ConnectorName(connector), TaskNumber(int(number)))
    if key.startswith(TOPIC_PREFIX):
        return None
    raise DataError(f"status key {key!r} has no known prefix")


def topic_key(connector: str, topic: str) -> bytes:
    return f"{TOPIC_PREFIX}{topic}:connector-{connector}".encode()


def parse_topic_key(raw: bytes) -> tuple[ConnectorName, str] | None:
    """(connector, topic) of an active-topic key, or None for other keys."""
    key = raw.decode("utf-8", "replace")
    if not key.startswith(TOPIC_PREFIX):
        return None
    topic, sep, connector = key[len(TOPIC_PREFIX) :].partition(":connector-")
    if not sep or not topic or not connector:
        raise DataError(f"status key {key!r} is not of the form status-topic-<t>:connector-<c>")
    return ConnectorName(connector), topic


def serialize_topic(connector: str, topic: str, task: int, timestamp_ms: int) -> bytes:
    doc = {
        "topic": {
            "name": topic,
            "connector": connector,
            "task": task,
            "discoverTimestamp": timestamp_ms,
        }
    }
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()


class KafkaStatusStore(StatusStore):
    """The status topic, folded into memory. Thread-safe; `start` before use."""

    def __init__(
        self,
        topic: str,
        *,
        client_config: Mapping[str, str],
        name: str = "status",
        reader_group: str | None = None,
    ) -> None:
        self.topic = topic
        self._lock = threading.Lock()
        self._connectors: dict[ConnectorName, StateInfo] = {}
        self._tasks: dict[TaskId, StateInfo] = {}
        self._topics: dict[ConnectorName, set[str]] = {}
        self._unread: dict[bytes, deque[bytes | None]] = {}
        """Per key, the values this store sent and has not read back yet, oldest first."""
        self._log = KafkaLog(
            topic,
            client_config=client_config,
            on_record=self._on_record,
            name=name,
            reader_group=reader_group,
        )

    def start(self, timeout: float = 60.0) -> None:
        self._log.start(timeout)

    def read_to_end(self, timeout: float = 30.0) -> None:
        self._log.read_to_end(timeout)

    def flush(self, timeout: float = 30.0) -> None:
        """Wait until every state written so far is acknowledged; or raise."""
        self._log.flush(timeout)

    def close(self) -> None:
        self._log.stop()

    # -- writes ------------------------------------------------------------------------------

    def put_connector(self, name: ConnectorName, info: StateInfo) -> None:
        self._put(self._connectors, name, connector_key(name), info, safe=False)

    def put_task(self, task: TaskId, info: StateInfo) -> None:
        self._put(self._tasks, task, task_key(task), info, safe=False)

    def put_connector_safe(self, name: ConnectorName, info: StateInfo) -> bool:
        """Write unless a newer generation of another worker owns the state; True if written."""
        return self._put(self._connectors, name, connector_key(name), info, safe=True)

    def put_task_safe(self, task: TaskId, info: StateInfo) -> bool:
        """Write unless a newer generation of another worker owns the state; True if written."""
        return self._put(self._tasks, task, task_key(task), info, safe=True)

    def _put(
        self, table: dict[_K, StateInfo], name: _K, key: bytes, info: StateInfo, *, safe: bool
    ) -> bool:
        """Shows ``info`` at once and sends it; with ``safe``, only under Java's `putSafe` rule
        (and not once fenced). True if written."""
        value = serialize_state(info)
        with self._lock:
            if safe and (self.fenced or not can_write_safely(table.get(name), info)):
                return False
            self._set(table, name, info)
            self._sending(key, value)
        self._send(key, value)
        return True

    def forget(self, name: ConnectorName) -> None:
        """Tombstone the connector's state and every task state known here."""
        with self._lock:
            self._connectors.pop(name, None)
            tasks = sorted(t for t in self._tasks if t.connector == name)
            for t in tasks:
                del self._tasks[t]
            keys = [connector_key(name), *(task_key(t) for t in tasks)]
            for key in keys:
                self._sending(key, None)
        for key in keys:
            self._send(key, None)
        self.reset_topics(name)

    def _sending(self, key: bytes, value: bytes | None) -> None:
        """Notes a write about to be sent (under the lock, before its record can be read back)."""
        self._unread.setdefault(key, deque()).append(value)

    def _send(self, key: bytes, value: bytes | None) -> None:
        try:
            future = self._log.send(key, value)
        except BaseException:
            self._never_landed(key, value)
            raise

        def landed(f: Future[tuple[int, int]]) -> None:
            if f.exception() is not None:
                self._never_landed(key, value)

        future.add_done_callback(landed)

    def _never_landed(self, key: bytes, value: bytes | None) -> None:
        with self._lock:
            unread = self._unread.get(key)
            if unread is not None and value in unread:
                unread.remove(value)
                if not unread:
                    del self._unread[key]

    def _read_back(self, key: bytes, value: bytes | None) -> bool:
        """Whether a record read for ``key`` is to be applied (under the lock; see above)."""
        unread = self._unread.get(key)
        if not unread:
            return True
        if unread[0] != value:
            return False  # written before this store's unread writes, which decide the state
        unread.popleft()
        if unread:
            return False  # the view holds a newer write of this store's already
        del self._unread[key]
        return True

    # -- active topics -----------------------------------------------------------------------

    def put_topic(self, connector: ConnectorName, topic: str, task: int) -> None:
        with self._lock:
            known = topic in self._topics.get(connector, ())
            self._topics.setdefault(connector, set()).add(topic)
        if not known:
            now = int(time.time() * 1000)
            self._log.send(
                topic_key(connector, topic), serialize_topic(connector, topic, task, now)
            )

    def topics(self, connector: ConnectorName) -> set[str]:
        with self._lock:
            return set(self._topics.get(connector, ()))

    def reset_topics(self, connector: ConnectorName) -> None:
        with self._lock:
            topics = sorted(self._topics.pop(connector, ()))
        for topic in topics:
            self._log.send(topic_key(connector, topic), None)

    def _on_topic_record(self, key: bytes, value: bytes | None, where: str) -> None:
        try:
            found = parse_topic_key(key)
        except DataError as e:
            log.warning("Ignoring unreadable status record %s: %s", where, e)
            return
        if found is None:
            return
        connector, topic = found
        with self._lock:
            if value is None:
                self._topics.get(connector, set()).discard(topic)
            else:
                self._topics.setdefault(connector, set()).add(topic)

    @staticmethod
    def _set(table: dict[_K, StateInfo], key: _K, info: StateInfo) -> None:
        if info.state is State.DESTROYED:
            table.pop(key, None)
        else:
            table[key] = info

    # -- reads -------------------------------------------------------------------------------

    def connector(self, name: ConnectorName) -> StateInfo | None:
        with self._lock:
            return self._connectors.get(name)

    def task(self, task: TaskId) -> StateInfo | None:
        with self._lock:
            return self._tasks.get(task)

    def tasks(self, name: ConnectorName) -> dict[TaskId, StateInfo]:
        with self._lock:
            return {t: i for t, i in self._tasks.items() if t.connector == name}

    def connectors(self) -> set[ConnectorName]:
        with self._lock:
            return set(self._connectors)

    def _on_record(
        self, key: bytes | None, value: bytes | None, partition: int, offset: int
    ) -> None:
        where = f"{self.topic}-{partition}@{offset}"
        if key is None:
            log.warning("Ignoring status record %s with no key", where)
            return
        if key.startswith(TOPIC_PREFIX.encode()):
            self._on_topic_record(key, value, where)
            return
        try:
            target = parse_key(key)
            info = None if value is None or target is None else parse_state(value)
        except DataError as e:
            log.warning("Ignoring unreadable status record %s: %s", where, e)
            return
        if target is None:
            return
        with self._lock:
            if not self._read_back(key, value):
                return
            if isinstance(target, TaskId):
                if info is None:
                    self._tasks.pop(target, None)
                else:
                    self._set(self._tasks, target, info)
            elif info is None:
                # As Java: a connector's tombstone drops its tasks' states too.
                self._connectors.pop(target, None)
                for t in [t for t in self._tasks if t.connector == target]:
                    del self._tasks[t]
            else:
                self._set(self._connectors, target, info)
