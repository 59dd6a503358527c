"""Connectors that answer `alter_offsets` in each way Kafka Connect knows (KIP-875), for tests of
the offsets API: named by dotted path (`tests.support.offsets_connectors:AgreeingSource`).

Each records the calls it gets in `CALLS` (class name, config, offsets), so a test can check what
the runtime asked and when. `refuse.message` in the config is what the refusing ones raise with,
so a test can put a config provider variable in it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

from kconnect.api.connector import SinkConnector, SourceConnector
from kconnect.api.records import SinkRecord
from kconnect.api.task import SinkTask, SourceTask
from kconnect.api.types import SourceOffset, SourcePartition, TopicPartition
from kconnect.errors import ConnectError

PATH = "tests.support.offsets_connectors"
REFUSE_MESSAGE = "refuse.message"

CALLS: list[tuple[str, dict[str, str], object]] = []
"""Every `alter_offsets` call: (class name, the config it was given, the offsets)."""


class _NoTask(SourceTask):
    def start(self, props: Mapping[str, str]) -> None:
        pass

    def poll(self) -> None:
        return None

    def stop(self) -> None:
        pass


class _NoSinkTask(SinkTask):
    def start(self, props: Mapping[str, str]) -> None:
        pass

    def put(self, records: Sequence[SinkRecord]) -> None:
        pass

    def stop(self) -> None:
        pass


class _Source(SourceConnector):
    answer: ClassVar[object] = None

    def start(self, props: Mapping[str, str]) -> None:
        pass

    def task_class(self) -> type[SourceTask]:
        return _NoTask

    def task_configs(self, max_tasks: int) -> list[dict[str, str]]:
        return [{}]


class DefaultSource(_Source):
    """Does not override `alter_offsets`: the framework's answer."""

    def alter_offsets(
        self,
        connector_config: Mapping[str, str],
        offsets: Sequence[tuple[SourcePartition, SourceOffset | None]],
    ) -> bool:
        CALLS.append((type(self).__name__, dict(connector_config), list(offsets)))
        return super().alter_offsets(connector_config, offsets)


class AgreeingSource(_Source):
    def alter_offsets(
        self,
        connector_config: Mapping[str, str],
        offsets: Sequence[tuple[SourcePartition, SourceOffset | None]],
    ) -> bool:
        CALLS.append((type(self).__name__, dict(connector_config), list(offsets)))
        return True


class TruthySource(_Source):
    """Answers a true value that is not True: read as False, as only a Java `true` is true."""

    def alter_offsets(  # type: ignore[override]
        self,
        connector_config: Mapping[str, str],
        offsets: Sequence[tuple[SourcePartition, SourceOffset | None]],
    ) -> object:
        CALLS.append((type(self).__name__, dict(connector_config), list(offsets)))
        return "yes"


class RefusingSource(_Source):
    def alter_offsets(
        self,
        connector_config: Mapping[str, str],
        offsets: Sequence[tuple[SourcePartition, SourceOffset | None]],
    ) -> bool:
        CALLS.append((type(self).__name__, dict(connector_config), list(offsets)))
        raise ConnectError(connector_config.get(REFUSE_MESSAGE, "refused"))


class UnsupportedSource(_Source):
    def alter_offsets(
        self,
        connector_config: Mapping[str, str],
        offsets: Sequence[tuple[SourcePartition, SourceOffset | None]],
    ) -> bool:
        CALLS.append((type(self).__name__, dict(connector_config), list(offsets)))
        raise NotImplementedError


class BrokenSource(_Source):
    def alter_offsets(
        self,
        connector_config: Mapping[str, str],
        offsets: Sequence[tuple[SourcePartition, SourceOffset | None]],
    ) -> bool:
        CALLS.append((type(self).__name__, dict(connector_config), list(offsets)))
        raise KeyError(connector_config.get(REFUSE_MESSAGE, "broken"))


class _Sink(SinkConnector):
    def start(self, props: Mapping[str, str]) -> None:
        pass

    def task_class(self) -> type[SinkTask]:
        return _NoSinkTask

    def task_configs(self, max_tasks: int) -> list[dict[str, str]]:
        return [{}]


class DefaultSink(_Sink):
    def alter_offsets(
        self, connector_config: Mapping[str, str], offsets: Mapping[TopicPartition, int | None]
    ) -> bool:
        CALLS.append((type(self).__name__, dict(connector_config), dict(offsets)))
        return super().alter_offsets(connector_config, offsets)


class RefusingSink(_Sink):
    def alter_offsets(
        self, connector_config: Mapping[str, str], offsets: Mapping[TopicPartition, int | None]
    ) -> bool:
        CALLS.append((type(self).__name__, dict(connector_config), dict(offsets)))
        raise ConnectError(connector_config.get(REFUSE_MESSAGE, "refused"))
