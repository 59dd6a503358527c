"""The herder interface the REST API is written against.

Methods that read or change cluster state are coroutines: the REST server awaits them on its event
loop, and a herder does its blocking work (starting a connector, draining a task) off that loop.
A method answers only once its change is visible to a following read on the same worker
(read-your-writes). Failures are `HerderError`s carrying their HTTP status.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping

from kconnect.api.types import ConnectorName, JsonValue, TaskId
from kconnect.herder.errors import HerderError
from kconnect.herder.model import (
    ConfigInfos,
    ConfigKeyInfo,
    ConnectorInfo,
    ConnectorOffsets,
    ConnectorStateInfo,
    PluginInfo,
    ServerInfo,
    TaskInfo,
    TaskStateInfo,
)
from kconnect.storage.states import TargetState


class Herder(ABC):
    @property
    @abstractmethod
    def worker_id(self) -> str: ...

    # --- lifecycle of the herder itself
    @abstractmethod
    def server_info(self) -> ServerInfo: ...

    @abstractmethod
    def health(self) -> tuple[bool, str]:
        """(ready, message): ready once the worker can serve requests."""

    # --- connectors
    @abstractmethod
    async def connectors(self) -> list[ConnectorName]: ...

    @abstractmethod
    async def connector_info(self, name: ConnectorName) -> ConnectorInfo: ...

    @abstractmethod
    async def connector_config(self, name: ConnectorName) -> dict[str, str]: ...

    @abstractmethod
    async def put_connector_config(
        self,
        name: ConnectorName,
        config: Mapping[str, str],
        *,
        allow_replace: bool,
        initial_state: TargetState | None = None,
    ) -> tuple[bool, ConnectorInfo]:
        """Create or replace a connector. Returns (created, info).

        Raises `BadRequestError` for an invalid config (with every error listed) and
        `AlreadyExistsError` when it exists and `allow_replace` is false.
        """

    @abstractmethod
    async def patch_connector_config(
        self, name: ConnectorName, patch: Mapping[str, str | None]
    ) -> ConnectorInfo:
        """Merge `patch` into the config; a None value removes the key."""

    @abstractmethod
    async def delete_connector(self, name: ConnectorName) -> ConnectorInfo: ...

    @abstractmethod
    async def connector_status(self, name: ConnectorName) -> ConnectorStateInfo: ...

    @abstractmethod
    async def task_status(self, task: TaskId) -> TaskStateInfo: ...

    @abstractmethod
    async def task_configs(self, name: ConnectorName) -> list[TaskInfo]: ...

    @abstractmethod
    async def restart_connector(
        self, name: ConnectorName, *, include_tasks: bool, only_failed: bool
    ) -> ConnectorStateInfo | None:
        """Restart. Returns None for a plain restart (REST 204), else the status with the
        instances to restart shown as RESTARTING (REST 202)."""

    @abstractmethod
    async def restart_task(self, task: TaskId) -> None: ...

    async def fence_zombies(self, name: ConnectorName) -> None:
        """`PUT /connectors/{c}/fence`: fence the older task generations of a source connector
        (KIP-618). A standalone worker answers as Kafka Connect's does."""
        raise HerderError(
            "Kafka Connect in standalone mode does not support exactly-once source connectors."
        )

    @abstractmethod
    async def set_target_state(self, name: ConnectorName, state: TargetState) -> None:
        """Pause, resume (STARTED) or stop a connector and its tasks."""

    # --- offsets and topics
    @abstractmethod
    async def connector_offsets(self, name: ConnectorName) -> ConnectorOffsets: ...

    @abstractmethod
    async def alter_connector_offsets(
        self, name: ConnectorName, offsets: list[dict[str, JsonValue]]
    ) -> str:
        """Write offsets for a STOPPED connector; returns the message for the REST answer."""

    @abstractmethod
    async def reset_connector_offsets(self, name: ConnectorName) -> str: ...

    @abstractmethod
    async def connector_topics(self, name: ConnectorName) -> list[str]: ...

    @abstractmethod
    async def reset_connector_topics(self, name: ConnectorName) -> None: ...

    # --- plugins
    @abstractmethod
    def connector_plugins(self, connectors_only: bool) -> list[PluginInfo]: ...

    @abstractmethod
    def plugin_config(self, plugin: str, version: str | None = None) -> list[ConfigKeyInfo]:
        """The config keys of a plugin; `NotFoundError` for an unknown plugin, `BadRequestError`
        for a `version` requirement (KIP-891) that is malformed or that it does not meet."""

    @abstractmethod
    async def validate_connector_config(
        self, config: Mapping[str, str], plugin: str | None = None
    ) -> ConfigInfos:
        """Validate; `plugin`, when given, must agree with `connector.class`."""
