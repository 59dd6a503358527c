"""The worker: the connector and task instances running in this process.

The worker does what the herder decides and no more. It builds each task's converters and Kafka
client, starts it on its own thread, and stops tasks in parallel, each given
`task.shutdown.graceful.timeout.ms` to drain, flush and commit.

A task that outlives the timeout, or whose assignment was lost, is cancelled: it is reported
UNASSIGNED at once, commits and reports nothing after that, and its runner is kept in `stopping`
until its thread has exited (Python cannot kill a thread that is blocked in connector code). While
it is there, `start_task` refuses to start the same task again, so this process never runs two
copies of one task; the herder retries the start. `shutdown` waits for every task thread, the
stuck ones included, within one graceful timeout, and names those still running (and where) when
it gives up: the process is exiting, and its daemon threads end with it.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from kconnect.api.connector import Connector, SinkConnector, SourceConnector
from kconnect.api.converter import Converter, HeaderConverter
from kconnect.api.task import SinkTask, SourceTask
from kconnect.api.types import ConnectorName, TaskId
from kconnect.config.connector import (
    CommonConnectorConfig,
    SinkConnectorCommonConfig,
    SourceConnectorCommonConfig,
)
from kconnect.config.providers import ConfigTransformer, reverse_transform
from kconnect.config.redaction import REDACTORS, Redactor
from kconnect.config.worker import WorkerConfig, prefixed
from kconnect.errors import ConfigError
from kconnect.plugins.chain import build_chain
from kconnect.plugins.registry import PluginRegistry
from kconnect.storage.offsets import OffsetStore
from kconnect.storage.states import State, StateInfo, TargetState
from kconnect.storage.status import StatusStore
from kconnect.worker import clients, dlq
from kconnect.worker.connector import ConnectorRunner
from kconnect.worker.dlq import DeadLetterQueueReporter
from kconnect.worker.error_handling import (
    ErrorHandlingConfig,
    ErrorReporter,
    LogReporter,
    RetryWithTolerance,
)
from kconnect.worker.exactly_once import ExactlyOnceSourceTaskRunner, task_transactional_id
from kconnect.worker.sink import SinkTaskRunner
from kconnect.worker.source import SourceTaskRunner
from kconnect.worker.task import TaskRunner, format_trace
from kconnect.worker.task_metrics import TaskMetrics

log = logging.getLogger(__name__)

TASK_CLASS = "task.class"
# How long a shutting-down worker still waits for a task it cancelled to exit.
CANCELLED_EXIT_GRACE_S = 1.0


T = TypeVar("T")


def resolve_class(
    registry: PluginRegistry,
    base: type[T],
    key: str,
    resolved: Mapping[str, str],
    written: Mapping[str, str] | None = None,
) -> type[T]:
    """The plugin class `resolved[key]` names. When a config provider variable gave that name,
    a failure says so with the variable as `written` holds it: the registry's own message
    quotes the name, or part of it, and the name could be a secret or a file's content."""
    name = resolved.get(key, "")
    try:
        return registry.resolve_as(name, base, key)
    except ConfigError:
        shown = written.get(key, name) if written is not None else name
        if shown == name:
            raise
        raise ConfigError(
            f"invalid value {shown!r} for key '{key}': what its config provider variables "
            f"resolve to is not the name of a {base.__name__} (not shown: it could be a secret)"
        ) from None


def build_converters(
    registry: PluginRegistry,
    worker_props: Mapping[str, str],
    connector_props: Mapping[str, str],
    written: Mapping[str, str] | None = None,
) -> tuple[Converter, Converter, HeaderConverter]:
    """The converters a connector's tasks use: the connector's own when it names a class (with its
    prefixed keys), else the worker's (with the worker's prefixed keys), as Kafka Connect does.
    `written` is the connector's config before its variables were resolved, for messages."""
    defaults = WorkerConfig.model_fields
    out: list[Converter] = []
    for key in ("key.converter", "value.converter"):
        own = bool(connector_props.get(key))
        props = connector_props if own else worker_props
        default = defaults[key.replace(".", "_")].default
        cls = resolve_class(
            registry,
            Converter,
            key,
            {key: props.get(key) or str(default)},
            written if own else None,
        )
        conv = cls()
        conv.configure(prefixed(props, key + "."), key == "key.converter")
        out.append(conv)
    key = "header.converter"
    own = bool(connector_props.get(key))
    props = connector_props if own else worker_props
    name = props.get(key) or str(defaults["header_converter"].default)
    hcls = resolve_class(registry, HeaderConverter, key, {key: name}, written if own else None)
    header = hcls()
    header.configure(prefixed(props, key + "."))
    return out[0], out[1], header


@dataclass(frozen=True)
class ExactlyOnceSettings:
    """How this worker runs source tasks exactly once (distributed,
    `exactly.once.source.support=enabled`)."""

    group_id: str
    is_current: Callable[[TaskId, Mapping[str, str]], bool]
    """Whether the task, with this config, is still this worker's to run (checked once its
    producer has fenced older ones, as Kafka Connect's postProducerCheck)."""


class Worker:
    def __init__(
        self,
        worker_id: str,
        worker_props: Mapping[str, str],
        config: WorkerConfig,
        registry: PluginRegistry,
        offsets: OffsetStore,
        status: StatusStore,
    ) -> None:
        self.worker_id = worker_id
        self.worker_props = dict(worker_props)
        self.config = config
        self.registry = registry
        self.offsets = offsets
        self.status = status
        # Variables in connector configs are resolved here, at each start, never stored.
        self.transformer = ConfigTransformer.from_worker_props(worker_props)
        self.connectors: dict[ConnectorName, ConnectorRunner] = {}
        self.tasks: dict[TaskId, TaskRunner] = {}
        # Tasks asked to stop whose threads have not exited yet (see the module docstring).
        self.stopping: dict[TaskId, TaskRunner] = {}
        self.generation = 0
        """The group generation the herder last joined in: tasks started now carry it."""
        self.exactly_once: ExactlyOnceSettings | None = None
        """Set by a distributed herder whose worker delivers sources exactly once."""
        self.connector_offsets: Callable[[str], OffsetStore] | None = None
        """Set by a distributed herder, where a source connector's own `offsets.storage.topic`
        is used as Kafka Connect uses it: the store of the connector's offsets given that topic
        (its topic first, then the worker's; see `storage.connector_offsets`)."""
        # Each running connector's config as written, variables unresolved: task configs are
        # stored with the variables put back (`reverse_transform`).
        self._raw_props: dict[ConnectorName, dict[str, str]] = {}
        # Topics each connector's tasks have used: `GET /connectors/{c}/topics`.
        self._topics: dict[ConnectorName, set[str]] = {}

    def connector_class(
        self, props: Mapping[str, str], written: Mapping[str, str] | None = None
    ) -> type[Connector]:
        return resolve_class(self.registry, Connector, "connector.class", props, written)

    # --- connectors
    def start_connector(
        self,
        name: ConnectorName,
        props: Mapping[str, str],
        target: TargetState,
        on_reconfigure: Callable[[], None],
    ) -> bool:
        """Instantiate and move to `target`; False when it failed (its status says why)."""
        if name in self.connectors:
            raise RuntimeError(f"connector {name} is already running on this worker")
        self._raw_props[name] = dict(props)
        redact = Redactor()
        try:
            resolved = self.transformer.transform(props)
            redact = Redactor.of(props, resolved)
            REDACTORS.register((name, None), redact)
            connector = self.connector_class(resolved, props)()
        except Exception as e:  # noqa: BLE001 - a plugin's constructor is its own code
            self.status.put_connector(
                name,
                StateInfo(State.FAILED, self.worker_id, redact(format_trace(e)), self.generation),
            )
            return False
        runner = ConnectorRunner(
            name,
            connector,
            resolved,
            status=self.status,
            worker_id=self.worker_id,
            on_reconfigure=on_reconfigure,
            redact=redact,
            generation=self.generation,
        )
        self.connectors[name] = runner
        return runner.set_target(target)

    def set_connector_target(self, name: ConnectorName, target: TargetState) -> bool:
        runner = self.connectors.get(name)
        return runner.set_target(target) if runner is not None else False

    def connector_task_configs(
        self, name: ConnectorName, max_tasks: int
    ) -> list[dict[str, str]] | None:
        runner = self.connectors.get(name)
        if runner is None:
            return None
        configs = runner.task_configs(max_tasks)
        if configs is None:
            return None
        task_class = runner.connector.task_class()
        configs = reverse_transform(self._raw_props.get(name, {}), configs)
        for c in configs:
            c[TASK_CLASS] = f"{task_class.__module__}.{task_class.__qualname__}"
        return configs

    def generate_task_configs(self, name: ConnectorName) -> list[dict[str, str]] | None:
        """Ask the running connector for its task configs, at most `tasks.max` of them.

        None when it isn't running here or failed. More configs than `tasks.max` fail the
        connector, as Kafka Connect does under `tasks.max.enforce` (the default).
        """
        runner = self.connectors.get(name)
        if runner is None:
            return None
        common = CommonConnectorConfig.parse(runner.props)
        configs = self.connector_task_configs(name, common.tasks_max)
        if configs is None:
            return None
        if common.tasks_max_enforce and len(configs) > common.tasks_max:
            runner.fail(
                ConfigError(
                    f"The connector {name} has generated {len(configs)} tasks, which is "
                    f"greater than {common.tasks_max}, the maximum number of tasks it is "
                    "configured to create."
                )
            )
            return None
        return configs

    def stop_connector(self, name: ConnectorName) -> None:
        runner = self.connectors.pop(name, None)
        self._raw_props.pop(name, None)
        if runner is not None:
            runner.shutdown()
        REDACTORS.unregister((name, None))

    # --- tasks
    def start_task(
        self,
        task_id: TaskId,
        connector_props: Mapping[str, str],
        task_props: Mapping[str, str],
        target: TargetState,
    ) -> bool:
        """Start a task; a task that can't even be built is reported FAILED, not raised.

        False when the task's previous instance here has not exited yet: it is not started, and
        the caller tries again later.
        """
        if task_id in self.tasks:
            raise RuntimeError(f"task {task_id} is already running on this worker")
        self.reap()
        previous = self.stopping.get(task_id)
        if previous is not None:
            log.warning(
                "task %s: not started again yet, its previous instance is still running in %s",
                task_id,
                previous.where(),
            )
            return False
        redact = Redactor()
        try:
            resolved_connector = self.transformer.transform(connector_props)
            resolved_task = self.transformer.transform(task_props)
            redact = Redactor(
                Redactor.of(connector_props, resolved_connector).pairs()
                + Redactor.of(task_props, resolved_task).pairs()
            )
            REDACTORS.register((task_id.connector, task_id.task), redact)
            runner = self._build_task(
                task_id, resolved_connector, resolved_task, target, redact, connector_props
            )
        except Exception as e:
            log.exception("task %s could not be started", task_id)
            trace = redact(format_trace(e))
            self.status.put_task(
                task_id, StateInfo(State.FAILED, self.worker_id, trace, self.generation)
            )
            REDACTORS.unregister((task_id.connector, task_id.task))
            return True
        runner.redact = redact
        self.tasks[task_id] = runner
        log.info("starting task %s", task_id)
        runner.start()
        return True

    def _build_task(
        self,
        task_id: TaskId,
        connector_props: Mapping[str, str],
        task_props: Mapping[str, str],
        target: TargetState,
        redact: Callable[[str], str] = str,
        written: Mapping[str, str] | None = None,
    ) -> TaskRunner:
        """The runner of a task, from its connector's and its own config, both resolved
        (`written`: the connector's as written, for messages)."""
        connector_cls = self.connector_class(connector_props, written)
        task_cls = connector_cls().task_class()
        key, value, header = build_converters(
            self.registry, self.worker_props, connector_props, written
        )
        policy = self.config.connector_client_config_override_policy
        is_sink = issubclass(connector_cls, SinkConnector)
        settings = (SinkConnectorCommonConfig if is_sink else CommonConnectorConfig).parse(
            connector_props
        )
        metrics = TaskMetrics()
        reporters: list[ErrorReporter] = []
        if settings.errors_log_enable:
            reporters.append(LogReporter(task_id, settings.errors_log_include_messages, metrics))
        errors = RetryWithTolerance(task_id, ErrorHandlingConfig.of(settings), metrics, reporters)
        common: dict[str, Any] = {
            "errors": errors,
            "metrics": metrics,
            "chain": build_chain(self.registry, connector_props),
            "status": self.status,
            "worker_id": self.worker_id,
            "key_converter": key,
            "value_converter": value,
            "header_converter": header,
            "flush_interval_ms": self.config.offset_flush_interval_ms,
            "topics_seen": self._topics.setdefault(task_id.connector, set()),
            "generation": self.generation,
        }
        if issubclass(connector_cls, SourceConnector):
            task = task_cls()
            if not isinstance(task, SourceTask):
                raise ConfigError(f"{task_cls!r} of a source connector is not a SourceTask")
            source_common = {
                **common,
                "producer_config": clients.producer_config(
                    self.worker_props,
                    connector_props,
                    connector=task_id.connector,
                    task=task_id.task,
                    policy=policy,
                ),
                "offsets": self.offsets,
                "connector_offsets": self._own_offsets(connector_props),
                "flush_timeout_ms": self.config.offset_flush_timeout_ms,
            }
            if self.exactly_once is not None:
                return self._exactly_once_task(
                    task_id, task, task_props, target, connector_props, source_common
                )
            return SourceTaskRunner(task_id, task, task_props, target, **source_common)
        if is_sink:
            task = task_cls()
            if not isinstance(task, SinkTask):
                raise ConfigError(f"{task_cls!r} of a sink connector is not a SinkTask")
            sink_config = SinkConnectorCommonConfig.parse(connector_props)
            return SinkTaskRunner(
                task_id,
                task,
                task_props,
                target,
                consumer_config=clients.consumer_config(
                    self.worker_props,
                    connector_props,
                    connector=task_id.connector,
                    task=task_id.task,
                    policy=policy,
                ),
                topics=sink_config.topic_list(),
                topics_regex=sink_config.topics_regex,
                max_poll_records=clients.max_poll_records(self.worker_props, connector_props),
                protocol_fallback=not clients.group_protocol_chosen(
                    self.worker_props, connector_props
                ),
                error_reporters=reporters,
                dlq=self._dlq_factory(task_id, sink_config, connector_props, metrics, redact),
                put_retry_timeout_ms=sink_config.errors_retry_timeout,
                flush_timeout_ms=self.config.offset_flush_timeout_ms,
                **common,
            )
        raise ConfigError(f"{connector_cls!r} is neither a SourceConnector nor a SinkConnector")

    def _exactly_once_task(
        self,
        task_id: TaskId,
        task: SourceTask,
        task_props: Mapping[str, str],
        target: TargetState,
        connector_props: Mapping[str, str],
        source_common: dict[str, Any],
    ) -> TaskRunner:
        eos = self.exactly_once
        assert eos is not None
        source = SourceConnectorCommonConfig.parse(connector_props)
        interval = source.transaction_boundary_interval_ms
        written_task_props = dict(task_props)
        return ExactlyOnceSourceTaskRunner(
            task_id,
            task,
            task_props,
            target,
            transactional_id=task_transactional_id(eos.group_id, task_id.connector, task_id.task),
            boundary=source.transaction_boundary,
            boundary_interval_ms=(
                interval if interval is not None else self.config.offset_flush_interval_ms
            ),
            is_current=lambda: eos.is_current(task_id, written_task_props),
            **source_common,
        )

    def _own_offsets(self, connector_props: Mapping[str, str]) -> Callable[[], OffsetStore] | None:
        """How a source task gets its connector's offsets store, when the connector has an
        `offsets.storage.topic` of its own and the herder honours it; called on the task's
        thread (it may create the topic and read it). None: the worker's store, as is."""
        topic = connector_props.get("offsets.storage.topic", "").strip()
        if not topic or self.connector_offsets is None:
            return None
        return functools.partial(self.connector_offsets, topic)

    def _dlq_factory(
        self,
        task_id: TaskId,
        config: SinkConnectorCommonConfig,
        connector_props: Mapping[str, str],
        metrics: TaskMetrics,
        redact: Callable[[str], str] = str,
    ) -> Callable[[], DeadLetterQueueReporter] | None:
        """What makes the task's dead-letter queue on its own thread, if it has one."""
        topic = config.errors_deadletterqueue_topic_name.strip()
        if not topic:
            return None
        producer_config = clients.producer_config(
            self.worker_props,
            connector_props,
            connector=task_id.connector,
            task=task_id.task,
            policy=self.config.connector_client_config_override_policy,
        )
        admin_config = {
            "bootstrap.servers": self.config.bootstrap_servers,
            **clients.connector_admin_config(
                self.worker_props,
                connector_props,
                connector=task_id.connector,
                policy=self.config.connector_client_config_override_policy,
            ),
        }

        def make() -> DeadLetterQueueReporter:
            dlq.ensure_topic(
                admin_config, topic, config.errors_deadletterqueue_topic_replication_factor
            )
            return DeadLetterQueueReporter(
                task_id,
                topic,
                context_headers_enabled=config.errors_deadletterqueue_context_headers_enable,
                producer_config=producer_config,
                metrics=metrics,
                redact=redact,
            )

        return make

    def set_task_target(self, task_id: TaskId, target: TargetState) -> None:
        runner = self.tasks.get(task_id)
        if runner is not None:
            runner.set_target(target)

    def stop_tasks(self, ids: list[TaskId], *, cancel: bool = False) -> None:
        """Stop these tasks in parallel and wait for each, up to the graceful timeout.

        `cancel` (a lost assignment): stop without committing, and without waiting, since
        nothing the tasks still do can be committed; their threads are reaped later.
        """
        runners = [r for r in (self.tasks.pop(i, None) for i in ids) if r is not None]
        if runners:
            log.info(
                "%s tasks %s",
                "cancelling" if cancel else "stopping",
                ", ".join(str(r.id) for r in runners),
            )
        for r in runners:
            self.stopping[r.id] = r
            if cancel:
                r.cancel()
            else:
                r.stop()
        if not cancel:
            self._await_stopped(runners, self.config.task_shutdown_graceful_timeout_ms / 1000)
        self.reap()

    def _await_stopped(self, runners: list[TaskRunner], timeout: float) -> None:
        """Wait for these runners up to `timeout`; cancel those still running then."""
        deadline = time.monotonic() + timeout
        for r in runners:
            if not r.join(max(0.0, deadline - time.monotonic())) and not r.cancelled:
                log.error(
                    "task %s did not stop within task.shutdown.graceful.timeout.ms (it is in "
                    "%s); cancelled: it commits and reports nothing more",
                    r.id,
                    r.where(),
                )
                r.cancel()
            else:
                # An abandoned task may still log; its values stay masked until the worker ends.
                REDACTORS.unregister((r.id.connector, r.id.task))

    def reap(self) -> None:
        """Forget the stopped tasks whose threads have exited."""
        for task_id, runner in list(self.stopping.items()):
            if not runner.alive:
                del self.stopping[task_id]

    def active_topics(self, name: ConnectorName) -> set[str]:
        """Topics the connector's tasks used, on any worker (the status store tracks them)."""
        return self.status.topics(name)

    def reset_active_topics(self, name: ConnectorName) -> None:
        # Tasks here report a topic again the next time they use it.
        self._topics.get(name, set()).clear()
        self.status.reset_topics(name)

    def connector_tasks(self, name: ConnectorName) -> list[TaskId]:
        return sorted(t for t in self.tasks if t.connector == name)

    def shutdown(self) -> None:
        """Stop every task (gracefully, within one graceful timeout, cancelled tasks included)
        and every connector; name the task threads that are still running after that."""
        began = time.monotonic()
        timeout = self.config.task_shutdown_graceful_timeout_ms / 1000
        self.stop_tasks(list(self.tasks))
        # A task cancelled for overrunning the timeout gets a moment to let go of what it was
        # waiting for (a sink's consumer leaving the group is not waited for once cancelled).
        self._await_stopped(
            list(self.stopping.values()),
            max(CANCELLED_EXIT_GRACE_S, timeout - (time.monotonic() - began)),
        )
        self.reap()
        for task_id, runner in sorted(self.stopping.items()):
            log.error(
                "task %s is still running in %s after task.shutdown.graceful.timeout.ms; "
                "it ends with the process",
                task_id,
                runner.where(),
            )
        for name in list(self.connectors):
            self.stop_connector(name)
