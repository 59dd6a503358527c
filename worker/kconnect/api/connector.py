"""Connectors: the part of a plugin that plans the work and hands it to tasks.

A connector instance runs on one worker. It reads its config in `start`, then says how the work
is split in `task_configs`; each returned map becomes one task. When the split must change (a
new table appeared, say), it calls `context.request_task_reconfiguration()`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar

from kconnect.api.config import ConnectorConfig

if TYPE_CHECKING:
    from kconnect.api.task import SinkTask, SourceTask, Task


def package_version() -> str:
    """The installed kconnect version, the default version of built-in plugins."""
    from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415

    try:
        return version("kconnect")
    except PackageNotFoundError:
        return "unknown"


class ConnectorContext(ABC):
    """What the runtime offers a running connector."""

    @abstractmethod
    def request_task_reconfiguration(self) -> None:
        """Ask the runtime to call `task_configs` again and restart tasks whose config changed."""

    @abstractmethod
    def raise_error(self, error: Exception) -> None:
        """Fail the connector from a thread of its own, with the error's trace in its status."""


class Connector(ABC):
    """Base of source and sink connectors. Subclasses set `config_model` to describe their keys."""

    config_model: ClassVar[type[ConnectorConfig]] = ConnectorConfig
    context: ConnectorContext

    def version(self) -> str:
        return package_version()

    def initialize(self, context: ConnectorContext) -> None:
        self.context = context

    @abstractmethod
    def start(self, props: Mapping[str, str]) -> None:
        """Begin with this config. Raise `ConfigError` for a config it cannot run with."""

    @abstractmethod
    def task_class(self) -> type[Task]: ...

    @abstractmethod
    def task_configs(self, max_tasks: int) -> list[dict[str, str]]:
        """At most `max_tasks` task configs; each becomes one task."""

    def stop(self) -> None:
        """Release what `start` acquired. Called once, from the thread that called `start`."""


class SourceConnector(Connector):
    """Reads from an external system into Kafka."""

    @abstractmethod
    def task_class(self) -> type[SourceTask]: ...


class SinkConnector(Connector):
    """Writes from Kafka into an external system."""

    @abstractmethod
    def task_class(self) -> type[SinkTask]: ...
