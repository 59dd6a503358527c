"""What every herder answers the same way: plugins, validation, info and status views.

A herder keeps connector configs and task configs somewhere (memory, the config topic); given
read access to them and to the status store, the views below are the same in every mode.
"""

from __future__ import annotations

import dataclasses
from abc import abstractmethod
from collections.abc import Callable, Mapping
from typing import TypeVar

from confluent_kafka.admin import AdminClient

from kconnect.api.connector import Connector, SinkConnector, SourceConnector
from kconnect.api.converter import Converter, HeaderConverter
from kconnect.api.transform import Predicate, Transformation
from kconnect.api.types import (
    ConnectorName,
    JsonValue,
    SourceOffset,
    SourcePartition,
    TaskId,
    TaskNumber,
    TopicPartition,
)
from kconnect.config.connector import (
    CONNECTOR_PLUGIN_VERSION,
    SinkConnectorCommonConfig,
    SourceConnectorCommonConfig,
)
from kconnect.config.redaction import Redactor
from kconnect.config.versions import VersionSpecError
from kconnect.errors import ConfigError, ConnectError
from kconnect.herder.base import Herder
from kconnect.herder.errors import BadRequestError, HerderError, NotFoundError
from kconnect.herder.model import (
    ConfigInfos,
    ConfigKeyInfo,
    ConnectorInfo,
    ConnectorOffset,
    ConnectorOffsets,
    ConnectorStateInfo,
    ConnectorType,
    PluginInfo,
    PluginType,
    ServerInfo,
    TaskInfo,
    TaskStateInfo,
)
from kconnect.herder.offsets_check import (
    ConnectorKind,
    ask_connector,
    modified_message,
    source_offset_format_error,
)
from kconnect.herder.restart import RestartPlan, plan_restart
from kconnect.herder.validation import config_key_infos, validate_config
from kconnect.plugins.registry import PluginKind, PluginRegistry, version_mismatch, version_of
from kconnect.storage import sink_offsets
from kconnect.storage.offsets import OffsetStore
from kconnect.storage.states import State, StateInfo
from kconnect.storage.status import StatusStore
from kconnect.worker import clients
from kconnect.worker.worker import Worker

T = TypeVar("T")

_KIND_TO_TYPE = {
    PluginKind.SOURCE: PluginType.SOURCE,
    PluginKind.SINK: PluginType.SINK,
    PluginKind.CONVERTER: PluginType.CONVERTER,
    PluginKind.HEADER_CONVERTER: PluginType.HEADER_CONVERTER,
    PluginKind.TRANSFORMATION: PluginType.TRANSFORMATION,
    PluginKind.PREDICATE: PluginType.PREDICATE,
}


class CommonHerder(Herder):
    """Shared views. Subclasses say where configs, task configs and statuses are."""

    _registry: PluginRegistry
    _worker_props: Mapping[str, str]
    _version: str
    _cluster_id: str | None
    _ready: bool
    _admin: AdminClient
    _worker: Worker
    _exactly_once_enabled: bool = False
    """The worker delivers sources exactly once (distributed, `exactly.once.source.support`)."""

    @abstractmethod
    def _connector_configs(self) -> Mapping[ConnectorName, Mapping[str, str]]: ...

    @abstractmethod
    def _task_config_list(self, name: ConnectorName) -> list[Mapping[str, str]]: ...

    @property
    @abstractmethod
    def _statuses(self) -> StatusStore: ...

    @property
    @abstractmethod
    def _offset_store(self) -> OffsetStore: ...

    @abstractmethod
    def _is_stopped(self, name: ConnectorName) -> bool:
        """STOPPED, with no tasks: the only state in which offsets may change."""

    @abstractmethod
    async def _blocking(self, fn: Callable[[], T]) -> T:
        """Run blocking work (Kafka calls) off the event loop, in the herder's order."""

    # --- identity and health
    def server_info(self) -> ServerInfo:
        return ServerInfo(self._version, "unknown", self._cluster_id)

    def health(self) -> tuple[bool, str]:
        if self._ready:
            return True, "Worker has completed startup and is ready to handle requests."
        return False, "Worker is still starting up."

    # --- reads
    async def connectors(self) -> list[ConnectorName]:
        return sorted(self._connector_configs())

    def _config(self, name: ConnectorName) -> Mapping[str, str]:
        try:
            return self._connector_configs()[name]
        except KeyError:
            raise NotFoundError(f"Connector {name} not found") from None

    def _type(self, config: Mapping[str, str]) -> ConnectorType:
        try:
            cls = self._registry.resolve_as(
                config.get("connector.class", ""), Connector, "connector.class"
            )
        except ConfigError:
            return ConnectorType.UNKNOWN
        if issubclass(cls, SourceConnector):
            return ConnectorType.SOURCE
        if issubclass(cls, SinkConnector):
            return ConnectorType.SINK
        return ConnectorType.UNKNOWN

    def _info(self, name: ConnectorName) -> ConnectorInfo:
        config = self._config(name)
        count = len(self._task_config_list(name))
        tasks = [TaskId(name, TaskNumber(i)) for i in range(count)]
        return ConnectorInfo(name, dict(config), tasks, self._type(config))

    async def connector_info(self, name: ConnectorName) -> ConnectorInfo:
        return self._info(name)

    async def connector_config(self, name: ConnectorName) -> dict[str, str]:
        return dict(self._config(name))

    def _status(self, name: ConnectorName) -> ConnectorStateInfo:
        config = self._config(name)
        store = self._statuses
        unassigned = StateInfo(State.UNASSIGNED, self.worker_id)
        connector = store.connector(name) or unassigned
        tasks = [
            TaskStateInfo(i, store.task(TaskId(name, TaskNumber(i))) or unassigned)
            for i in range(len(self._task_config_list(name)))
        ]
        return ConnectorStateInfo(name, connector, tasks, self._type(config))

    async def connector_status(self, name: ConnectorName) -> ConnectorStateInfo:
        return self._status(name)

    async def task_status(self, task: TaskId) -> TaskStateInfo:
        status = self._status(task.connector)
        for t in status.tasks:
            if t.id == task.task:
                return t
        raise NotFoundError(f"Task {task} not found")

    async def task_configs(self, name: ConnectorName) -> list[TaskInfo]:
        self._config(name)
        return [
            TaskInfo(TaskId(name, TaskNumber(i)), dict(c))
            for i, c in enumerate(self._task_config_list(name))
        ]

    def _restart_plan(
        self, name: ConnectorName, *, include_tasks: bool, only_failed: bool
    ) -> tuple[RestartPlan, ConnectorStateInfo]:
        """What a restart request restarts, given the current states, and the status the
        request answers with (what restarts shown as RESTARTING)."""
        status = self._status(name)
        plan = plan_restart(
            status.connector.state,
            {TaskId(name, TaskNumber(t.id)): t.info.state for t in status.tasks},
            include_tasks=include_tasks,
            only_failed=only_failed,
        )
        return plan, self._pending_restart_status(status, plan.connector, plan.tasks)

    def _pending_restart_status(
        self, status: ConnectorStateInfo, connector: bool, tasks: frozenset[TaskId]
    ) -> ConnectorStateInfo:
        """The status a restart answers with: what will restart shown as RESTARTING."""

        def restarting(info: StateInfo) -> StateInfo:
            return StateInfo(State.RESTARTING, self.worker_id, version=info.version)

        return ConnectorStateInfo(
            status.name,
            restarting(status.connector) if connector else status.connector,
            [
                TaskStateInfo(t.id, restarting(t.info))
                if TaskId(status.name, TaskNumber(t.id)) in tasks
                else t
                for t in status.tasks
            ],
            status.type,
        )

    # --- validation and plugins
    def _validated(self, config: Mapping[str, str]) -> None:
        infos = validate_config(
            self._registry,
            self._worker_props,
            config,
            exactly_once_enabled=self._exactly_once_enabled,
        )
        if infos.error_count:
            messages = infos.error_messages()
            raise BadRequestError(
                f"Connector configuration is invalid and contains the following "
                f"{len(messages)} error(s):\n" + "\n".join(messages) + "\n"
                "You can also find the above list of errors at the endpoint "
                "`/connector-plugins/{connectorType}/config/validate`"
            )

    def connector_plugins(self, connectors_only: bool) -> list[PluginInfo]:
        out: list[PluginInfo] = []
        for d in self._registry.plugins():
            for kind in d.kinds:
                if connectors_only and kind not in (PluginKind.SOURCE, PluginKind.SINK):
                    continue
                out.append(PluginInfo(d.class_name, _KIND_TO_TYPE[kind], d.version))
        return out

    def plugin_config(self, plugin: str, version: str | None = None) -> list[ConfigKeyInfo]:
        try:
            cls = self._registry.resolve(plugin)
        except ConfigError:
            raise NotFoundError(f"Unknown plugin {plugin}.") from None
        try:
            mismatch = version_mismatch(self._registry.display_name(cls), cls, version)
        except VersionSpecError as e:
            raise BadRequestError(str(e)) from None
        if mismatch is not None:
            raise BadRequestError(mismatch)
        if issubclass(cls, Connector):
            # The connector's own keys, then the framework's, as Kafka Connect lists them.
            framework = (
                SinkConnectorCommonConfig
                if issubclass(cls, SinkConnector)
                else SourceConnectorCommonConfig
            )
            own = config_key_infos(cls.config_model)
            names = {k.name for k in own}
            installed = version_of(cls)
            return own + [
                dataclasses.replace(k, default_value=installed)
                if k.name == CONNECTOR_PLUGIN_VERSION
                else k
                for k in config_key_infos(framework)
                if k.name not in names
            ]
        model = getattr(cls, "config_model", None)
        if isinstance(model, type) and issubclass(
            cls, Converter | HeaderConverter | Transformation | Predicate
        ):
            return config_key_infos(model)
        return []

    async def validate_connector_config(
        self, config: Mapping[str, str], plugin: str | None = None
    ) -> ConfigInfos:
        return validate_config(
            self._registry,
            self._worker_props,
            config,
            exactly_once_enabled=self._exactly_once_enabled,
        )

    # --- config patches
    def _merged_patch(self, name: ConnectorName, patch: Mapping[str, str | None]) -> dict[str, str]:
        """`PATCH /connectors/{c}/config`: the config with `patch` applied (None removes)."""
        merged = dict(self._config(name))
        for k, v in patch.items():
            if v is None:
                merged.pop(k, None)
            else:
                merged[k] = v
        if merged.get("name", name) != name:
            raise BadRequestError(
                f"Connector name configuration ({merged['name']}) doesn't match connector "
                f"name in the URL ({name})"
            )
        return merged

    # --- offsets: source offsets in the offset store, sink offsets in `connect-<name>`
    def _require_stopped(self, name: ConnectorName) -> None:
        self._config(name)
        if not self._is_stopped(name):
            raise BadRequestError(
                "Connectors must be in the STOPPED state before their offsets can be modified. "
                "This can be done for the specified connector by issuing a 'PUT' request to the "
                f"'/connectors/{name}/stop' endpoint"
            )

    def _sink_group(self, name: ConnectorName) -> str:
        """The group the sink's tasks commit to, worker and connector overrides included."""
        return clients.sink_group_id(self._worker_props, self._config(name), name)

    def _is_sink(self, name: ConnectorName) -> bool:
        return self._type(self._config(name)) is ConnectorType.SINK

    async def connector_offsets(self, name: ConnectorName) -> ConnectorOffsets:
        def run() -> ConnectorOffsets:
            if self._is_sink(name):
                items = sink_offsets.read_sink_offsets(
                    self._admin, name, group=self._sink_group(name)
                )
            else:
                store = self._source_offsets(name)
                store.read_to_end()
                items = list(store.connector_offsets(name))
            return ConnectorOffsets([ConnectorOffset(p, o) for p, o in items])

        return await self._blocking(run)

    async def alter_connector_offsets(
        self, name: ConnectorName, offsets: list[dict[str, JsonValue]]
    ) -> str:
        def run() -> str:
            self._require_stopped(name)
            parsed = _offset_entries(offsets)
            if self._is_sink(name):
                agreed = self._modify_sink_offsets(name, parsed)
            else:
                agreed = self._modify_source_offsets(name, parsed)
            return modified_message(agreed, reset=False)

        return await self._blocking(run)

    async def reset_connector_offsets(self, name: ConnectorName) -> str:
        def run() -> str:
            self._require_stopped(name)
            if self._is_sink(name):
                agreed = self._modify_sink_offsets(name, None)
            else:
                agreed = self._modify_source_offsets(name, None)
            return modified_message(agreed, reset=True)

        return await self._blocking(run)

    def _connector_agrees(
        self,
        name: ConnectorName,
        kind: ConnectorKind,
        ask: Callable[[Connector, Mapping[str, str]], object],
    ) -> bool:
        """Ask a fresh instance of the connector about the offsets about to be written, with its
        config resolved as its tasks get it (`offsets_check`); raises when it refuses them."""
        written = self._config(name)
        redact = Redactor()
        try:
            resolved = self._worker.transformer.transform(written)
            redact = Redactor.of(written, resolved)
            connector_class = self._worker.connector_class(resolved, written)
        except Exception as e:  # noqa: BLE001 - a provider or the plugin's import failed
            raise HerderError(
                redact(f"Failed to modify offsets for {kind} connector {name}: {e}"), 500
            ) from None
        return ask_connector(connector_class, name, kind, lambda c: ask(c, resolved), redact)

    def _modify_sink_offsets(
        self, name: ConnectorName, entries: list[tuple[SourcePartition, SourceOffset | None]] | None
    ) -> bool:
        """As Kafka Connect's `Worker.modifySinkConnectorOffsets`: the offsets are checked (for
        a reset, the partitions the group has offsets for are listed), the connector is asked,
        and only then are they written. Whether the connector agreed (`offsets_check`)."""
        group = self._sink_group(name)
        if entries is None:
            to_write: dict[tuple[str, int], int | None] = dict.fromkeys(
                sink_offsets.committed_partitions(self._admin, name, group=group)
            )
        else:
            try:
                to_write = sink_offsets.parse_sink_offsets(entries)
            except ConfigError as e:
                raise BadRequestError(str(e)) from None

        def ask(connector: Connector, config: Mapping[str, str]) -> object:
            if not isinstance(connector, SinkConnector):
                raise ConnectError(f"{type(connector).__name__} is not a sink connector")
            return connector.alter_offsets(
                config, {TopicPartition(t, p): o for (t, p), o in to_write.items()}
            )

        agreed = self._connector_agrees(name, "sink", ask)
        if entries is None:
            sink_offsets.reset_sink_offsets(self._admin, name, group=group)
        else:
            sink_offsets.write_sink_offsets(self._admin, name, to_write, group=group)
        return agreed

    def _source_offsets(self, name: ConnectorName) -> OffsetStore:
        """Where a source connector's offsets are read and written: the worker's store, unless
        the herder honours the connector's own `offsets.storage.topic`."""
        return self._offset_store

    def _source_connector_agrees(
        self, name: ConnectorName, offsets: list[tuple[SourcePartition, SourceOffset | None]]
    ) -> bool:
        """Ask the source connector about `offsets` (`offsets_check`), as Kafka Connect's
        `Worker.modifySourceConnectorOffsets` does once it knows what it will write: first the
        offsets' values must be primitives (Java's `OffsetUtils.validateFormat`, a 500)."""

        for partition, offset in offsets:
            error = source_offset_format_error(partition) or source_offset_format_error(offset)
            if error is not None:
                raise HerderError(error, 500)

        def ask(connector: Connector, config: Mapping[str, str]) -> object:
            if not isinstance(connector, SourceConnector):
                raise ConnectError(
                    f"{type(connector).__name__} is neither a source nor a sink connector"
                )
            return connector.alter_offsets(config, list(offsets))

        return self._connector_agrees(name, "source", ask)

    def _modify_source_offsets(
        self,
        name: ConnectorName,
        offsets: list[tuple[SourcePartition, SourceOffset | None]] | None,
    ) -> bool:
        """Write a stopped source connector's offsets; None resets them (a tombstone for every
        partition it has offsets for, as Kafka Connect writes). The connector is asked first
        and nothing is written when it refuses; whether it agreed (`offsets_check`)."""
        store = self._source_offsets(name)
        if offsets is None:
            store.read_to_end()
            offsets = [(p, None) for p, _ in store.connector_offsets(name)]
        agreed = self._source_connector_agrees(name, offsets)
        if offsets:
            store.put(name, offsets)
        return agreed


def _offset_entries(
    offsets: list[dict[str, JsonValue]],
) -> list[tuple[SourcePartition, SourceOffset | None]]:
    parsed: list[tuple[SourcePartition, SourceOffset | None]] = []
    for entry in offsets:
        partition = entry.get("partition")
        offset = entry.get("offset")
        if not isinstance(partition, dict):
            raise BadRequestError(f"Partitions must be JSON objects; got {partition!r}")
        if offset is not None and not isinstance(offset, dict):
            raise BadRequestError(f"Offsets must be JSON objects or null; got {offset!r}")
        parsed.append((partition, offset))
    return parsed
