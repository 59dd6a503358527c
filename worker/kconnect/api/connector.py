"""Connectors: the part of a plugin that plans the work and hands it to tasks.

A connector instance runs on one worker. It reads its config in `start`, then says how the work
is split in `task_configs`; each returned map becomes one task. When the split must change (a
new table appeared, say), it calls `context.request_task_reconfiguration()`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import TYPE_CHECKING, ClassVar

from kconnect.api.config import ConnectorConfig
from kconnect.api.types import SourceOffset, SourcePartition, TopicPartition

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


class ExactlyOnceSupport(StrEnum):
    """Whether a source connector can deliver exactly once with a given config (KIP-618)."""

    SUPPORTED = "SUPPORTED"
    UNSUPPORTED = "UNSUPPORTED"


class ConnectorTransactionBoundaries(StrEnum):
    """Whether a source connector can define its own transaction boundaries (KIP-618)."""

    SUPPORTED = "SUPPORTED"
    UNSUPPORTED = "UNSUPPORTED"


class SourceConnector(Connector):
    """Reads from an external system into Kafka."""

    @abstractmethod
    def task_class(self) -> type[SourceTask]: ...

    def exactly_once_support(self, config: Mapping[str, str]) -> ExactlyOnceSupport | None:
        """Can this connector, with `config`, deliver exactly once on a worker with
        `exactly.once.source.support=enabled`? Asked before a connector with
        `exactly.once.support=required` is created. None (the default) means the connector does
        not say; such a connector can only be created with `exactly.once.support=requested`.

        A connector can deliver exactly once when the source offsets it gives its records say
        exactly where to resume, so that a task restarted from its last committed offset
        re-reads nothing that was committed and skips nothing that was not.
        """
        return None

    def can_define_transaction_boundaries(
        self, config: Mapping[str, str]
    ) -> ConnectorTransactionBoundaries:
        """Can its tasks, with `config`, define transaction boundaries through
        `SourceTaskContext.transaction_context()`? Asked before a connector with
        `transaction.boundary=connector` is created. UNSUPPORTED by default."""
        return ConnectorTransactionBoundaries.UNSUPPORTED

    def alter_offsets(
        self,
        connector_config: Mapping[str, str],
        offsets: Sequence[tuple[SourcePartition, SourceOffset | None]],
    ) -> bool:
        """Kafka Connect's `SourceConnector.alterOffsets` (KIP-875): asked, on a fresh instance
        that was never started, before `PATCH` or `DELETE /connectors/{c}/offsets` writes
        `offsets` (an offset of None removes its partition; a reset passes every partition the
        connector has offsets for, each with None). Raise (`ConnectError`, naming what is wrong)
        to refuse them: the request fails with the message and nothing is written.

        Return True when the framework's offsets are all there is, so writing them is the whole
        change (the answer says the offsets "have been altered"); False, the default, when the
        connector may keep offsets of its own elsewhere (the answer says only the framework's were,
        and the others need altering by hand). Raise `NotImplementedError` when offsets may not be
        changed from outside at all.
        """
        return False


class SinkConnector(Connector):
    """Writes from Kafka into an external system."""

    @abstractmethod
    def task_class(self) -> type[SinkTask]: ...

    def alter_offsets(
        self,
        connector_config: Mapping[str, str],
        offsets: Mapping[TopicPartition, int | None],
    ) -> bool:
        """Kafka Connect's `SinkConnector.alterOffsets` (KIP-875): asked, on a fresh instance
        that was never started, before `PATCH` or `DELETE /connectors/{c}/offsets` writes the
        consumer group offsets `offsets` (None removes a partition's offset; a reset passes every
        partition the group has an offset for, each with None). Raise to refuse them; return
        True when the consumer group's offsets are all the sink's position, False (the default)
        when it may keep a position of its own elsewhere. See `SourceConnector.alter_offsets`.
        """
        return False
