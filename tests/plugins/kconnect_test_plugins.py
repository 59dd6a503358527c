"""Connectors used by the integration tests to inject faults a real system can't produce on demand.

Worker processes import this module by dotted path (`kconnect_test_plugins:FailingSource`), with
this folder on PYTHONPATH.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence

from kconnect import SinkConnector, SinkRecord, SinkTask, SourceConnector, SourceRecord, SourceTask
from kconnect.api.task import Task


class FailingSourceTask(SourceTask):
    """Emits `fail.after` records, then raises on the next poll."""

    def start(self, props: Mapping[str, str]) -> None:
        self._topic = props["topic"]
        self._left = int(props.get("fail.after", "0"))
        self._stopped = threading.Event()

    def poll(self) -> Sequence[SourceRecord] | None:
        if self._left <= 0:
            raise RuntimeError("injected failure: the source system went away")
        self._left -= 1
        return [SourceRecord(self._topic, f"record-{self._left}")]

    def stop(self) -> None:
        self._stopped.set()


class FailingSource(SourceConnector):
    def start(self, props: Mapping[str, str]) -> None:
        self._props = dict(props)

    def task_class(self) -> type[FailingSourceTask]:
        return FailingSourceTask

    def task_configs(self, max_tasks: int) -> list[dict[str, str]]:
        return [dict(self._props) for _ in range(max_tasks)]


class FailingStartConnector(SourceConnector):
    """Raises in start(): the connector goes FAILED with this trace."""

    def start(self, props: Mapping[str, str]) -> None:
        raise ValueError("injected failure in connector start")

    def task_class(self) -> type[Task]:  # type: ignore[override]
        return FailingSourceTask

    def task_configs(self, max_tasks: int) -> list[dict[str, str]]:
        return []


class PoisonSinkTask(SinkTask):
    """Fails on a record whose value is `poison`, after writing nothing of its batch."""

    def start(self, props: Mapping[str, str]) -> None:
        pass

    def put(self, records: Sequence[SinkRecord]) -> None:
        for r in records:
            if r.value == "poison":
                raise ValueError(f"injected failure on offset {r.kafka_offset}")

    def stop(self) -> None:
        pass


class PoisonSink(SinkConnector):
    def start(self, props: Mapping[str, str]) -> None:
        self._props = dict(props)

    def task_class(self) -> type[PoisonSinkTask]:
        return PoisonSinkTask

    def task_configs(self, max_tasks: int) -> list[dict[str, str]]:
        return [dict(self._props) for _ in range(max_tasks)]
