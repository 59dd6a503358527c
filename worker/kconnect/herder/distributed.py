"""The distributed herder: one member of a cluster of workers that share connectors and tasks.

Two shared facts drive everything, and both live in Kafka:

- **The config topic** is the cluster's single source of truth. Every worker reads it from the
  beginning and folds it with the same pure function (`storage.config_log.fold`), so all agree.
  A REST write is validated, appended, and answered only once this worker has read it back
  (read-your-writes). Commands (restarts) are records too. There is no leader and no
  worker-to-worker call.
- **The group assignment** says who runs what: partition n of a connector's task topic is task
  n, and the holder of partition 0 also runs the connector instance, which computes and writes
  the task configs.

`_reconcile` turns (config, assignment, what runs) into the smallest set of starts and stops
(`herder.plan`). It runs on the herder thread, one at a time. Revocations run it synchronously
from the membership thread, so tasks that move are drained and committed before the group gives
them to another worker; a lost assignment cancels tasks without committing and without waiting
for them (they are reported UNASSIGNED at once, and the membership rejoins at once).

Before starting tasks the offsets topic is read to its end, so a source task resumes from the
last offset any worker committed. That read retries with fresh metadata when partition leaders
moved (a broker restart, a leader election), so tasks start again within seconds of the broker's
return. Stopping interrupts it: `stop` is bounded by the task graceful timeout and the group's
leave, not by a slow broker. A task whose previous instance here is still running (stuck in
connector code) is not started twice; its start is retried every second.

With `group.instance.id` the worker is a static member (see `herder.membership`): `stop()` keeps
its seat, so a worker back within `session.timeout.ms` gets its own tasks again and no other
worker's tasks move; `stop(leave_group=True)` gives it up. A worker fenced off by another with
the same id reports nothing more to the status topic (`StatusStore.fence`), cancels its tasks and
asks its process to stop (`on_fatal`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient

from kconnect.api.connector import SourceConnector
from kconnect.api.types import ConnectorName, SourceOffset, SourcePartition, TaskId, TaskNumber
from kconnect.config.connector import CommonConnectorConfig
from kconnect.config.worker import DistributedConfig
from kconnect.errors import ConfigError, ConnectError
from kconnect.herder.common import CommonHerder
from kconnect.herder.errors import AlreadyExistsError, BadRequestError, NotFoundError
from kconnect.herder.membership import Membership, RebalanceStats, seat_holder_warning
from kconnect.herder.model import (
    ConnectorInfo,
    ConnectorStateInfo,
)
from kconnect.herder.plan import Running, plan
from kconnect.storage.config_log import (
    EMPTY,
    ClusterConfig,
    connector_config_record,
    connector_deletion_records,
    fold,
    restart_request_record,
    target_state_record,
    task_config_records,
    task_count_record,
)
from kconnect.storage.connector_offsets import ConnectorOffsetStore
from kconnect.storage.kafka_log import KafkaLog, ReadInterrupted
from kconnect.storage.kafka_offsets import KafkaOffsetStore
from kconnect.storage.offsets import OffsetStore
from kconnect.storage.states import State, StateInfo, TargetState
from kconnect.storage.status import StatusStore
from kconnect.storage.topics import (
    InternalTopic,
    delete_task_topic,
    ensure_internal_topics,
    ensure_task_topic,
    task_topic_name,
)
from kconnect.worker import clients
from kconnect.worker.exactly_once import (
    task_transactional_id,
    transactional_id_error,
    write_offsets_in_transaction,
)
from kconnect.worker.worker import ExactlyOnceSettings, Worker

log = logging.getLogger(__name__)

T = TypeVar("T")

TASK_RESTART_PREFIX = "restart-task-"
"""A kconnect record kind: restart one task. Kafka Connect forwards such a request to the task's
worker over REST; here it is a config record like every other command."""

TopicPartition = tuple[str, int]


def task_restart_record(task: TaskId) -> tuple[str, bytes]:
    return f"{TASK_RESTART_PREFIX}{task.connector}-{task.task}", b"{}"


def parse_task_restart(key: str) -> TaskId | None:
    rest = key.removeprefix(TASK_RESTART_PREFIX)
    name, sep, number = rest.rpartition("-")
    if not sep or not number.isdigit():
        return None
    return TaskId(ConnectorName(name), TaskNumber(int(number)))


class DistributedHerder(CommonHerder):
    def __init__(
        self,
        worker: Worker,
        config: DistributedConfig,
        *,
        client_config: Mapping[str, str],
        admin: AdminClient,
        status: StatusStore,
        kafka_cluster_id: str | None,
        version: str,
        on_fatal: Callable[[str], None] = lambda message: None,
    ) -> None:
        self._worker = worker
        self._on_fatal = on_fatal
        self._cfg = config
        self._registry = worker.registry
        self._worker_props = worker.worker_props
        self._client_config = dict(client_config)
        self._admin = admin
        self._status_store = status
        self._cluster_id = kafka_cluster_id
        self._version = version
        self._ready = False
        self._closed = False
        self._state: ClusterConfig = EMPTY
        self._cond = threading.Condition()
        self._herder = ThreadPoolExecutor(1, thread_name_prefix="herder")
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="config-writer")
        self._reconcile_pending = False
        self._pending_lock = threading.Lock()
        self._task_connector_props: dict[TaskId, Mapping[str, str]] = {}
        self._handled_restarts: dict[ConnectorName, int] = {}
        self._task_restarts: list[tuple[TaskId, int]] = []
        self._handled_task_restart_offset = -1
        self._regenerate: set[ConnectorName] = set()
        self._config_log = KafkaLog(
            config.config_storage_topic,
            client_config=self._client_config,
            on_record=self._on_config_record,
            name="config",
            reader_group=config.group_id,
        )
        self._membership = self._make_membership()
        # Exactly-once sources (KIP-618): tasks write in transactions, and a new generation of
        # a connector's tasks starts only once the older ones are fenced (see `_fence`).
        self._exactly_once_enabled = config.exactly_once_source_enabled
        self._task_generations: dict[TaskId, int] = {}
        self._source_classes: dict[str, bool] = {}
        self._own_offsets: dict[str, KafkaOffsetStore] = {}
        self._own_offsets_lock = threading.Lock()
        self._held_back: set[ConnectorName] = set()
        """Connectors whose tasks this worker showed FAILED because their fencing failed."""
        worker.connector_offsets = self._connector_offset_store
        if self._exactly_once_enabled:
            worker.exactly_once = ExactlyOnceSettings(config.group_id, self._task_is_current)

    def _check_seat(self) -> None:
        """Before a static member joins: warn when another process holds its seat."""
        instance = self._cfg.group_instance_id
        if instance is None:
            return
        group_id = self._cfg.group_id
        try:
            futures = self._admin.describe_consumer_groups([group_id], request_timeout=5)
            group = futures[group_id].result(timeout=10)
        except Exception:  # the check only informs; joining says what is wrong
            log.debug("could not describe group %s", group_id, exc_info=True)
            return
        members = [(m.group_instance_id, m.client_id, m.host) for m in group.members]
        warning = seat_holder_warning(members, instance, self._client_id)
        if warning is not None:
            log.warning("%s", warning)

    @property
    def _client_id(self) -> str:
        return f"connect-{self._worker.worker_id}"

    def _make_membership(self) -> Membership:
        """The group seat; made when starting, once the worker id (the REST address) is known."""
        config = self._cfg
        return Membership(
            self._client_config,
            group_id=config.group_id,
            client_id=self._client_id,
            anchor_topic=config.config_storage_topic,
            session_timeout_ms=config.session_timeout_ms,
            heartbeat_interval_ms=config.heartbeat_interval_ms,
            rebalance_timeout_ms=config.rebalance_timeout_ms,
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_lost,
            on_fatal=self._fatal,
            group_instance_id=config.group_instance_id,
        )

    @property
    def worker_id(self) -> str:
        return self._worker.worker_id

    @property
    def rebalance(self) -> RebalanceStats:
        """This worker's group rebalances (the membership is made anew when starting)."""
        return self._membership.rebalance

    # --- CommonHerder's views
    def _connector_configs(self) -> Mapping[ConnectorName, Mapping[str, str]]:
        return self._state.connectors

    def _task_config_list(self, name: ConnectorName) -> list[Mapping[str, str]]:
        return list(self._state.tasks.get(name, ()))

    @property
    def _statuses(self) -> StatusStore:
        return self._status_store

    @property
    def _offset_store(self) -> OffsetStore:
        return self._worker.offsets

    def _is_stopped(self, name: ConnectorName) -> bool:
        state = self._state
        return state.target(name) is TargetState.STOPPED and not state.tasks.get(name)

    async def _blocking(self, fn: Callable[[], T]) -> T:
        return await self._call_writer(fn)

    # --- lifecycle
    def start(self, timeout: float = 60.0) -> None:
        """Read the config log to its end, join the group, and become ready."""
        self._config_log.start(timeout)
        with self._cond:
            # Restart requests written before this worker started are history, not commands.
            self._handled_restarts = {n: r.offset for n, r in self._state.restarts.items()}
            self._handled_task_restart_offset = self._state.offset
        self._membership = self._make_membership()
        self._check_seat()
        # Join with the task topics already known, so the first assignment is the right one.
        self._membership.set_topics(sorted(self._topics(self._state)))
        self._membership.start()
        if not self._membership.wait_joined(timeout):
            failure = self._membership.failure
            raise ConfigError(
                f"could not join the worker group {self._cfg.group_id!r}: {failure}"
                if failure is not None
                else f"could not join the worker group {self._cfg.group_id!r} within {timeout:.0f}s"
            )
        self._request_reconcile()
        self._ready = True
        log.info("worker %s joined group %s", self.worker_id, self._cfg.group_id)

    def stop(self, *, leave_group: bool = False) -> None:
        """Stop every task (drained and committed first), then shut down.

        A dynamic member leaves the group, so its tasks move at once. A static member
        (`group.instance.id`) keeps its seat, and its tasks wait for it for `session.timeout.ms`,
        unless `leave_group` gives the seat up too.
        """
        if self._closed:
            return
        self._closed = True
        self._ready = False
        instance = self._cfg.group_instance_id
        if instance is not None and not leave_group:
            log.info(
                "keeping group.instance.id=%r in group %s: this worker's tasks wait for it to come "
                "back for session.timeout.ms=%d",
                instance,
                self._cfg.group_id,
                self._cfg.session_timeout_ms,
            )
        graceful = self._cfg.task_shutdown_graceful_timeout_ms / 1000
        self._membership.stop(timeout=graceful + 30, leave=leave_group)
        self._herder.submit(self._worker.shutdown).result()
        self._herder.shutdown(wait=True)
        self._writer.shutdown(wait=True)
        self._config_log.stop()
        with self._own_offsets_lock:
            for store in self._own_offsets.values():
                store.close()
            self._own_offsets.clear()

    # --- the config log (reader thread)
    def _on_config_record(
        self, key: bytes | None, value: bytes | None, partition: int, offset: int
    ) -> None:
        text = key.decode("utf-8", "replace") if key is not None else None
        with self._cond:
            if text is not None and text.startswith(TASK_RESTART_PREFIX):
                task = parse_task_restart(text)
                if task is not None:
                    self._task_restarts.append((task, offset))
            self._state = fold(self._state, key, value, offset)
            self._cond.notify_all()
        if self._ready:
            self._request_reconcile()

    def _await_offset(self, offset: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._state.offset < offset:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"the config log was not read up to offset {offset}")
                self._cond.wait(left)

    def _write(self, records: Sequence[tuple[str, bytes | None]]) -> None:
        """Append records to the config topic and wait until this worker has read them back."""
        for key, value in records[:-1]:
            self._config_log.send(key.encode(), value, 0)
        key, value = records[-1]
        _, offset = self._config_log.send_and_wait(key.encode(), value, 0)
        self._await_offset(offset)

    async def _call_writer(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._writer, fn)

    # --- membership callbacks (membership thread)
    def _on_assign(self, partitions: frozenset[TopicPartition]) -> None:
        self._request_reconcile()

    def _on_revoke(self, partitions: frozenset[TopicPartition]) -> None:
        # Return only once the moving tasks have been drained and committed.
        try:
            done = self._herder.submit(self._reconcile)
        except RuntimeError:  # the herder thread is gone: stop() already stopped every task
            return
        done.result()

    def _on_lost(self, partitions: frozenset[TopicPartition]) -> None:
        lost = self._tasks_of(partitions)
        try:
            done = self._herder.submit(self._cancel, lost)
        except RuntimeError:
            return
        done.result()

    def _fatal(self, message: str) -> None:
        # Another process holds this worker's seat, and reports the same tasks in the same
        # generation: nothing here may report on them any more. The membership then cancels
        # every task (on_lost), nothing starts again, and the process is asked to stop.
        self._status_store.fence()
        self._ready = False
        self._on_fatal(message)

    def _tasks_of(self, partitions: frozenset[TopicPartition]) -> list[TaskId]:
        topics = self._topics(self._state)
        return [TaskId(topics[t], TaskNumber(p)) for t, p in partitions if t in topics]

    def _cancel(self, tasks: list[TaskId]) -> None:
        running = [t for t in tasks if t in self._worker.tasks]
        if running:
            log.warning("assignment lost: stopping %s without committing", running)
            self._worker.stop_tasks(running, cancel=True)
        self._reconcile()

    # --- reconciling (herder thread)
    def _request_reconcile(self) -> None:
        with self._pending_lock:
            if self._reconcile_pending or self._closed:
                return
            self._reconcile_pending = True
        with contextlib.suppress(RuntimeError):  # shut down: the herder is stopping
            self._herder.submit(self._reconcile_requested)

    def _reconcile_requested(self) -> None:
        with self._pending_lock:
            self._reconcile_pending = False
        self._reconcile()

    def _topics(self, config: ClusterConfig) -> dict[str, ConnectorName]:
        return {task_topic_name(self._cfg.group_id, name): name for name in config.connectors}

    def _running(self) -> Running:
        w = self._worker
        return Running(
            connectors={n: r.props for n, r in w.connectors.items()},
            connector_targets={n: r.target for n, r in w.connectors.items()},
            tasks={
                t: (self._task_connector_props.get(t, {}), r.task_props) for t, r in w.tasks.items()
            },
            task_targets={t: r.target for t, r in w.tasks.items()},
        )

    def _reconcile(self) -> None:
        try:
            self._reconcile_once()
        except ReadInterrupted:
            log.info("stopping: tasks not started")
        except Exception:
            if self._closed:
                log.warning("reconciling while stopping failed", exc_info=True)
                return
            log.exception("reconciling the worker's assignment failed; retrying soon")
            self._retry_soon()

    def _retry_soon(self) -> None:
        timer = threading.Timer(1.0, self._request_reconcile)
        timer.daemon = True
        timer.start()

    def _reconcile_once(self) -> None:
        config = self._state
        topics = self._topics(config)
        self._membership.set_topics(sorted(topics))
        w = self._worker
        if self._exactly_once_enabled:
            self._stop_stale_generations(config)
        p = plan(self._membership.assigned, topics, config, self._running())
        if p.stop_tasks:
            w.stop_tasks(sorted(p.stop_tasks))
            for t in p.stop_tasks:
                self._task_connector_props.pop(t, None)
                self._task_generations.pop(t, None)
        for name in sorted(p.stop_connectors):
            w.stop_connector(name)
        if self._closed:
            return  # stopping: only stops, nothing new starts
        w.generation = self._membership.generation
        for name in p.start_connectors:
            w.start_connector(
                name,
                config.connectors[name],
                config.target(name),
                on_reconfigure=functools.partial(self._request_regenerate, name),
            )
            self._regenerate.add(name)
        for name, target in p.retarget_connectors.items():
            w.set_connector_target(name, target)
            self._regenerate.add(name)
        for task, target in p.retarget_tasks.items():
            w.set_task_target(task, target)
        if self._exactly_once_enabled:
            self._fence_owned(config, p.start_connectors)
            config = self._state
        start_tasks = [t for t in p.start_tasks if not self._awaits_fencing(config, t.connector)]
        if start_tasks:
            self._worker.offsets.read_to_end(interrupted=lambda: self._closed)
        deferred = False
        for task in start_tasks:
            task_config = config.task_config(task)
            if task_config is None:
                continue
            connector_props = config.connectors[task.connector]
            self._task_generations[task] = config.generations.get(task.connector, -1)
            if w.start_task(task, connector_props, task_config, config.target(task.connector)):
                self._task_connector_props[task] = connector_props
            else:
                deferred = True
        if deferred:
            self._retry_soon()
        for name in sorted(self._regenerate):
            self._generate_tasks(name)
        self._regenerate.clear()
        self._handle_restarts(config)

    # --- exactly-once sources (herder thread, but `_task_is_current`)
    def _is_source(self, props: Mapping[str, str]) -> bool:
        name = props.get("connector.class", "")
        known = self._source_classes.get(name)
        if known is None:
            try:
                known = issubclass(self._worker.connector_class(props), SourceConnector)
            except Exception:  # noqa: BLE001 - an unknown class: its tasks fail on their own
                known = False
            self._source_classes[name] = known
        return known

    def _awaits_fencing(self, config: ClusterConfig, name: ConnectorName) -> bool:
        """A source connector's new task generation waits for its task count record."""
        return (
            self._exactly_once_enabled
            and name in config.pending_fencing
            and self._is_source(config.connectors.get(name, {}))
        )

    def _offsets_topic(self, topic: str) -> KafkaOffsetStore:
        """The store of a connector's own `offsets.storage.topic` (on a task's thread): created
        as Kafka Connect creates it, with the worker's offsets topic settings, and read by this
        worker from then on. The worker's own topic is the worker's store."""
        offsets = self._worker.offsets
        if isinstance(offsets, KafkaOffsetStore) and topic == offsets.topic:
            return offsets
        with self._own_offsets_lock:
            store = self._own_offsets.get(topic)
            if store is None:
                cfg = self._cfg
                ensure_internal_topics(
                    self._admin,
                    [
                        InternalTopic(
                            topic,
                            cfg.offset_storage_partitions,
                            cfg.offset_storage_replication_factor,
                            "offset",
                        )
                    ],
                )
                store = KafkaOffsetStore(
                    topic,
                    client_config=self._client_config,
                    name=f"offsets-{topic}",
                    reader_group=cfg.group_id,
                )
                store.start()
                self._own_offsets[topic] = store
            return store

    def _connector_offset_store(self, topic: str) -> OffsetStore:
        """A source connector's offsets given its own `offsets.storage.topic`, as Kafka Connect's
        ConnectorOffsetBackingStore: that topic first, then the worker's; the worker's alone
        when the connector names the worker's topic."""
        own = self._offsets_topic(topic)
        offsets = self._worker.offsets
        return offsets if own is offsets else ConnectorOffsetStore(own, offsets)

    def _source_offsets(self, name: ConnectorName) -> OffsetStore:
        topic = self._config(name).get("offsets.storage.topic", "").strip()
        return self._connector_offset_store(topic) if topic else self._offset_store

    def _modify_source_offsets(
        self,
        name: ConnectorName,
        offsets: list[tuple[SourcePartition, SourceOffset | None]] | None,
    ) -> bool:
        """With exactly-once support, as Kafka Connect's `DistributedHerder` and `Worker`: the
        connector's zombies are fenced first (the producers of every task of its last task
        count record, then a record of 0 tasks), so that no task instance left anywhere can
        commit a transaction any more; then the offsets are written in a transaction of task 0's
        transactional id, to the connector's own topic (else the worker's), and copied to the
        worker's topic after the commit. The connector is asked about the offsets after the
        fencing and before the write, as Kafka Connect's leader asks it."""
        if not self._exactly_once_enabled:
            return super()._modify_source_offsets(name, offsets)
        try:
            self._herder.submit(self._fence, name).result()
        except Exception as e:
            raise ConnectError(
                "Failed to perform zombie fencing for source connector prior to modifying "
                f"offsets: {e}"
            ) from e
        # The fencing took a while: the connector may have been resumed meanwhile.
        self._require_stopped(name)
        store = self._source_offsets(name)
        store.read_to_end()
        if offsets is None:
            offsets = [(p, None) for p, _ in store.connector_offsets(name)]
        agreed = self._source_connector_agrees(name, offsets)
        if not offsets:
            return agreed
        written = store.primary if isinstance(store, ConnectorOffsetStore) else store
        if not isinstance(written, KafkaOffsetStore):  # a distributed worker's always is
            raise ConnectError(f"the offsets of connector {name} are not kept in a topic")
        props = self._worker.transformer.transform(self._config(name))
        producer_config = clients.producer_config(
            self._worker_props,
            props,
            connector=name,
            task=0,
            policy=self._worker.config.connector_client_config_override_policy,
        )
        write_offsets_in_transaction(
            producer_config,
            task_transactional_id(self._cfg.group_id, name, 0),
            written,
            name,
            offsets,
        )
        if isinstance(store, ConnectorOffsetStore):
            store.copy(name, offsets)
        return agreed

    def _task_is_current(self, task: TaskId, task_props: Mapping[str, str]) -> bool:
        """Kafka Connect's postProducerCheck, on a task's thread once its producer has fenced
        older ones: the task is still assigned here, in the generation it was started in."""
        config = self._state
        topic = task_topic_name(self._cfg.group_id, task.connector)
        return (
            (topic, task.task) in self._membership.assigned
            and config.generations.get(task.connector, -1) == self._task_generations.get(task)
            and task.connector not in config.pending_fencing
        )

    def _stop_stale_generations(self, config: ClusterConfig) -> None:
        """As Kafka Connect, every task of a source connector whose task configs were committed
        again stops, and the new generation starts after the fencing; a task left running would
        be fenced by it."""
        stale = sorted(
            t
            for t, g in self._task_generations.items()
            if t in self._worker.tasks
            and config.generations.get(t.connector, -1) != g
            and self._is_source(config.connectors.get(t.connector, {}))
        )
        if stale:
            log.info("new task configs: stopping %s before the next generation starts", stale)
            self._worker.stop_tasks(stale)
            for t in stale:
                self._task_connector_props.pop(t, None)
                self._task_generations.pop(t, None)

    def _fence_owned(self, config: ClusterConfig, started: Iterable[ConnectorName]) -> None:
        """As the owner of each connector (partition 0 of its task topic): fence the older task
        generation of every source connector that waits for it."""
        owned = set(self._worker.connectors) | set(started)
        for name in sorted(config.pending_fencing & owned):
            # As Java, a fencing is done for a generation that has tasks to start: tasks of the
            # old one may still be committing their last transaction as they stop.
            if (
                name in config.connectors
                and config.tasks.get(name)
                and self._is_source(config.connectors[name])
            ):
                try:
                    self._fence(name)
                except Exception as e:  # noqa: BLE001 - one connector's failure blocks no other
                    # Its tasks wait for the record; the cause is usually an ACL (Write and
                    # Describe on the transactional ids) or an unreachable coordinator.
                    log.warning(
                        "zombie fencing of connector %s failed; its tasks start once it "
                        "succeeds; retrying: %s",
                        name,
                        e,
                    )
                    self._hold_back(name, e)
                    self._retry_soon()

    def _hold_back(self, name: ConnectorName, error: BaseException) -> None:
        """Show in the status why a connector's tasks do not start: every task of its current
        task configs is FAILED with the fencing's failure as its trace (Java fails a task whose
        start asked the leader to fence, with the same cause). Written by this worker, the one
        that fences and retries, under the `putSafe` rule, and only when the task does not show
        this failure already, so a retry every second writes nothing new. The task's own worker
        reports it RUNNING once a retry succeeds and the task starts."""
        trace = fencing_failure_trace(name, self.worker_id, error)
        failed = StateInfo(State.FAILED, self.worker_id, trace, self._membership.generation)
        for n in range(len(self._state.tasks.get(name, ()))):
            task = TaskId(name, TaskNumber(n))
            shown = self._status_store.task(task)
            if shown is not None and shown.state is State.FAILED and shown.trace == trace:
                continue
            self._status_store.put_task_safe(task, failed)
        self._held_back.add(name)

    def _fence(self, name: ConnectorName) -> None:
        """Kafka Connect's zombie fencing (`DistributedHerder.fenceZombieSourceTasks`): with a
        task count record N from before the latest task configs, the transactional ids of tasks
        0..N-1 are fenced, then a task count record with the current task count is written. No
        record yet (nothing ran transactionally), or one task before and one now (the new task's
        producer fences the old one itself): only the record is written."""
        config = self._state
        if name not in config.pending_fencing or name not in config.connectors:
            return
        count = len(config.tasks.get(name, ()))
        previous = config.task_count_records.get(name)
        generation = config.generations.get(name, -1)
        if previous is not None and (previous != 1 or count != 1):
            log.info("fencing the producers of %d tasks of connector %s", previous, name)
            fence_producers(
                self._client_config,
                [task_transactional_id(self._cfg.group_id, name, n) for n in range(previous)],
            )
        if self._state.generations.get(name, -1) != generation:
            return  # new task configs while fencing: the next pass fences again
        if name in self._held_back:
            # The FAILED states of the held-back tasks reach the status topic before the record
            # that lets the tasks start, so the RUNNING their workers write comes after them.
            self._status_store.flush()
            self._held_back.discard(name)
        self._write([task_count_record(name, count)])

    def _request_regenerate(self, name: ConnectorName) -> None:
        def run() -> None:
            self._regenerate.add(name)
            self._reconcile()

        if not self._closed:
            self._herder.submit(run)

    def _generate_tasks(self, name: ConnectorName) -> None:
        """As owner of the connector instance: write its task configs when they changed."""
        config = self._state
        if name not in self._worker.connectors or name not in config.connectors:
            return
        committed = [dict(c) for c in config.tasks.get(name, ())]
        if config.target(name) is TargetState.STOPPED:
            if committed:
                self._write(task_config_records(name, []))
            return
        if config.target(name) is TargetState.PAUSED and not committed:
            # Created PAUSED: as in Kafka Connect, no tasks until it is resumed.
            return
        configs = self._worker.generate_task_configs(name)
        if configs is None:
            return
        if configs == committed and name not in config.inconsistent:
            return
        self._ensure_task_partitions(name, len(configs))
        self._write(task_config_records(name, configs))

    # --- task topics
    def _ensure_task_partitions(self, name: ConnectorName, count: int) -> None:
        ensure_task_topic(self._admin, task_topic_name(self._cfg.group_id, name), count)

    def _delete_task_topic(self, name: ConnectorName) -> None:
        delete_task_topic(self._admin, task_topic_name(self._cfg.group_id, name))

    # --- restarts (herder thread)
    def _handle_restarts(self, config: ClusterConfig) -> None:
        """Act on restart requests new since the last pass: stop what must restart here; the
        next pass starts it again with the current config."""
        stopped = False
        for name, request in config.restarts.items():
            if request.offset <= self._handled_restarts.get(name, -1):
                continue
            self._handled_restarts[name] = request.offset
            if name not in config.connectors:
                continue
            restart, _ = self._restart_plan(
                name, include_tasks=request.include_tasks, only_failed=request.only_failed
            )
            if restart.connector and name in self._worker.connectors:
                self._worker.stop_connector(name)
                stopped = True
            stopped |= self._stop_for_restart(t for t in restart.tasks)
        with self._cond:
            pending = [
                (t, o) for t, o in self._task_restarts if o > self._handled_task_restart_offset
            ]
            self._task_restarts = []
        for task, offset in pending:
            self._handled_task_restart_offset = max(self._handled_task_restart_offset, offset)
            stopped |= self._stop_for_restart([task])
        if stopped:
            self._request_reconcile()

    def _stop_for_restart(self, tasks: Iterable[TaskId]) -> bool:
        mine = sorted(t for t in tasks if t in self._worker.tasks)
        if mine:
            self._worker.stop_tasks(mine)
            for t in mine:
                self._task_connector_props.pop(t, None)
        return bool(mine)

    # --- REST writes
    async def put_connector_config(
        self,
        name: ConnectorName,
        config: Mapping[str, str],
        *,
        allow_replace: bool,
        initial_state: TargetState | None = None,
    ) -> tuple[bool, ConnectorInfo]:
        def run() -> tuple[bool, ConnectorInfo]:
            full = {**config, "name": name}
            self._validated(full)
            existing = self._state.connectors.get(name)
            if existing is not None and not allow_replace:
                raise AlreadyExistsError(f"Connector {name} already exists")
            if existing is not None and dict(existing) == full:
                return False, self._info(name)
            tasks_max = CommonConnectorConfig.parse(full).tasks_max
            self._ensure_task_partitions(name, tasks_max)
            records: list[tuple[str, bytes | None]] = []
            if existing is None and initial_state is not None:
                records.append(target_state_record(name, initial_state))
            records.append(connector_config_record(name, full))
            self._write(records)
            return existing is None, self._info(name)

        return await self._call_writer(run)

    async def patch_connector_config(
        self, name: ConnectorName, patch: Mapping[str, str | None]
    ) -> ConnectorInfo:
        merged = self._merged_patch(name, patch)
        return (await self.put_connector_config(name, merged, allow_replace=True))[1]

    async def delete_connector(self, name: ConnectorName) -> ConnectorInfo:
        def run() -> ConnectorInfo:
            info = self._info(name)
            self._write(connector_deletion_records(name))
            self._delete_task_topic(name)
            self._status_store.forget(name)
            return info

        return await self._call_writer(run)

    async def set_target_state(self, name: ConnectorName, state: TargetState) -> None:
        def run() -> None:
            self._config(name)
            records = [target_state_record(name, state)]
            if state is TargetState.STOPPED:
                # As Kafka Connect: a stopped connector has no tasks.
                records = [*task_config_records(name, []), *records]
            self._write(records)

        await self._call_writer(run)

    async def restart_connector(
        self, name: ConnectorName, *, include_tasks: bool, only_failed: bool
    ) -> ConnectorStateInfo | None:
        def run() -> ConnectorStateInfo | None:
            restart, pending = self._restart_plan(
                name, include_tasks=include_tasks, only_failed=only_failed
            )
            self._write([restart_request_record(name, include_tasks, only_failed)])
            return None if restart.plain else pending

        return await self._call_writer(run)

    async def restart_task(self, task: TaskId) -> None:
        def run() -> None:
            self._config(task.connector)
            if task.task >= len(self._state.tasks.get(task.connector, ())):
                raise NotFoundError(f"Task {task} not found")
            self._write([task_restart_record(task)])

        await self._call_writer(run)

    async def fence_zombies(self, name: ConnectorName) -> None:
        """`PUT /connectors/{c}/fence`: fence the older task generations of a source connector
        and record it, as Kafka Connect's leader does; nothing to do when already recorded.

        The connector's owner fences it on its own as soon as new task configs with tasks are
        committed; this worker does it itself when it owns the connector, when the connector has
        no tasks now, or when no task runs transactionally (exactly-once disabled), and
        otherwise waits for the owner."""
        config = self._state
        props = config.connectors.get(name)
        if props is None:
            raise NotFoundError(f"Connector {name} not found")
        if not self._is_source(props):
            raise BadRequestError(f"Connector {name} is not a source connector")

        def run() -> None:
            topic = task_topic_name(self._cfg.group_id, name)
            owner = (topic, 0) in self._membership.assigned
            # Only the owner may fence ids a new generation is starting with; with no new task
            # (or no transactional one anywhere) any worker may.
            no_new_task = not self._state.tasks.get(name)
            if owner or no_new_task or not self._exactly_once_enabled:
                self._herder.submit(self._fence, name).result()
            deadline = time.monotonic() + self._cfg.worker_sync_timeout_ms / 1000 + 60
            with self._cond:
                while name in self._state.pending_fencing:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise TimeoutError(
                            f"the zombie fencing of connector {name} was not recorded in time"
                        )
                    self._cond.wait(left)

        await self._call_writer(run)

    # --- topics
    # Kafka Connect answers these for any name, known or not (an unknown one has no topics).
    async def connector_topics(self, name: ConnectorName) -> list[str]:
        return sorted(self._worker.active_topics(name))

    async def reset_connector_topics(self, name: ConnectorName) -> None:
        self._worker.reset_active_topics(name)


def fencing_failure_trace(name: ConnectorName, owner: str, error: BaseException) -> str:
    """The trace a task held back by a failed zombie fencing shows: what failed and why on its
    first line (what the operator shows; for a missing ACL, the ACL to grant), then what
    happens next. Holds no secret: the transactional ids and the client's error text hold
    none."""
    cause = error.args[0] if isinstance(error, KafkaException) and error.args else error
    if isinstance(cause, KafkaError):
        reason = f"{cause.name()}: {cause.str()}"
    else:
        reason = str(cause) or type(cause).__name__
    return (
        f"the zombie fencing of source connector {name} failed, so its tasks do not start: "
        f"{reason}\n"
        f"The older producers of the connector's tasks must be fenced before its current task "
        f"configs run. Worker {owner}, which owns the connector, keeps retrying (its log says "
        "each failure); the tasks start once the fencing succeeds, with no restart needed."
    )


def fence_producers(client_config: Mapping[str, str], transactional_ids: Sequence[str]) -> None:
    """Fence every producer that uses one of these transactional ids, as `Admin.fenceProducers`
    does (librdkafka has no such call): a producer initialized with an id bumps its epoch, which
    fences the older one and aborts its open transaction. Raises if any id fails."""
    base = {k: v for k, v in client_config.items() if k not in ("client.id", "group.id")}
    failures: list[str] = []
    for transactional_id in transactional_ids:
        producer = Producer(
            {
                **base,
                "transactional.id": transactional_id,
                "client.id": f"fencer-{transactional_id}",
                "enable.idempotence": "true",
                "acks": "all",
            }
        )
        try:
            producer.init_transactions(60)
        except KafkaException as e:
            failures.append(transactional_id_error(transactional_id, e))
        finally:
            # A producer with a fatal error (a missing ACL is one) raises from flush too, which
            # would hide the reason above.
            with contextlib.suppress(KafkaException):
                producer.flush(0)
    if failures:
        raise KafkaException(
            f"could not fence the older producers of the connector's tasks: {'; '.join(failures)}"
        )
