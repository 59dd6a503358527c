"""Connectors used by the integration tests to inject faults a real system can't produce on demand.

Worker processes import this module by dotted path (`kconnect_test_plugins:FailingSource`), with
this folder on PYTHONPATH.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence

from kconnect import (
    ConnectorTransactionBoundaries,
    ConnectRecord,
    DataError,
    ExactlyOnceSupport,
    RetriableError,
    SinkConnector,
    SinkRecord,
    SinkTask,
    SourceConnector,
    SourceRecord,
    SourceTask,
)
from kconnect.api.task import Task
from kconnect.api.transform import Transformation


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


class FailOnValue(Transformation[ConnectRecord]):
    """Fails on records whose value is `fail.value` (a DataError), and is flaky: the first
    `flaky.times` records it sees raise a RetriableError once each, then pass."""

    def configure(self, configs: Mapping[str, str]) -> None:
        self._fail_value = configs.get("fail.value", "poison")
        self._flaky_left = int(configs.get("flaky.times", "0"))

    def apply(self, record: ConnectRecord) -> ConnectRecord | None:
        if record.value == self._fail_value:
            raise DataError(f"injected failure: value {record.value!r} is not allowed")
        if self._flaky_left > 0:
            self._flaky_left -= 1
            raise RetriableError("injected transient failure in a transform")
        return record


class FlakySinkTask(SinkTask):
    """Appends each value to `file`; the first `flaky.times` calls of put() raise a
    RetriableError (a sink system that is briefly unavailable) and write nothing. Values equal to
    `errant.value` are reported through the errant record reporter instead of written."""

    def start(self, props: Mapping[str, str]) -> None:
        self._path = props["file"]
        self._flaky_left = int(props.get("flaky.times", "0"))
        self._errant = props.get("errant.value")

    def put(self, records: Sequence[SinkRecord]) -> None:
        if not records:
            return
        if self._flaky_left > 0:
            self._flaky_left -= 1
            raise RetriableError("injected transient failure: the sink system is unavailable")
        reporter = self.context.errant_record_reporter()
        with open(self._path, "a") as f:
            for r in records:
                if self._errant is not None and r.value == self._errant and reporter is not None:
                    reporter.report(r, ValueError(f"the sink rejected offset {r.kafka_offset}"))
                    continue
                f.write(f"{r.value}\n")

    def stop(self) -> None:
        pass


class FlakySink(SinkConnector):
    def start(self, props: Mapping[str, str]) -> None:
        self._props = dict(props)

    def task_class(self) -> type[FlakySinkTask]:
        return FlakySinkTask

    def task_configs(self, max_tasks: int) -> list[dict[str, str]]:
        return [dict(self._props) for _ in range(max_tasks)]


class GatedSinkTask(SinkTask):
    """A sink system that is down while the file `hold` exists: put() then raises a
    RetriableError and writes nothing, asking to be retried after `retry.ms` (default 100). Every
    call of put() appends a line to `attempts`:
    `refused` or `accepted`, then the `partition:offset` of each record it was given. Accepted
    records are appended to `file` as `partition offset value` lines."""

    def start(self, props: Mapping[str, str]) -> None:
        self._path = props["file"]
        self._hold = props["hold"]
        self._attempts = props["attempts"]
        self._retry_ms = int(props.get("retry.ms", "100"))

    def put(self, records: Sequence[SinkRecord]) -> None:
        if not records:
            return
        held = os.path.exists(self._hold)
        where = " ".join(f"{r.kafka_partition}:{r.kafka_offset}" for r in records)
        with open(self._attempts, "a") as f:
            f.write(f"{'refused' if held else 'accepted'} {where}\n")
        if held:
            self.context.timeout(self._retry_ms)
            raise RetriableError("injected transient failure: the sink system is down")
        with open(self._path, "a") as f:
            for r in records:
                f.write(f"{r.kafka_partition} {r.kafka_offset} {r.value}\n")

    def stop(self) -> None:
        pass


class GatedSink(SinkConnector):
    def start(self, props: Mapping[str, str]) -> None:
        self._props = dict(props)

    def task_class(self) -> type[GatedSinkTask]:
        return GatedSinkTask

    def task_configs(self, max_tasks: int) -> list[dict[str, str]]:
        return [dict(self._props) for _ in range(max_tasks)]


class StampedSourceTask(SourceTask):
    """Emits `count` records whose timestamps are `timestamp.base` + their index, then idles:
    for checking that a record's own timestamp reaches Kafka."""

    def start(self, props: Mapping[str, str]) -> None:
        self._topic = props["topic"]
        self._base = int(props["timestamp.base"])
        self._left = list(range(int(props["count"])))
        self._stopped = threading.Event()

    def poll(self) -> Sequence[SourceRecord] | None:
        if not self._left:
            self._stopped.wait(0.1)
            return None
        batch, self._left = self._left, []
        return [SourceRecord(self._topic, f"stamped-{i}", timestamp=self._base + i) for i in batch]

    def stop(self) -> None:
        self._stopped.set()


class StampedSource(SourceConnector):
    def start(self, props: Mapping[str, str]) -> None:
        self._props = dict(props)

    def task_class(self) -> type[StampedSourceTask]:
        return StampedSourceTask

    def task_configs(self, max_tasks: int) -> list[dict[str, str]]:
        return [dict(self._props)]


class BoundarySourceTask(SourceTask):
    """Emits seq 0..`count`-1, one batch of `batch` records per poll, resuming after its
    committed offset, and defines its own transactions: the batch that ends each multiple of
    `every` records ends a transaction, and every `abort.every`-th such transaction is aborted
    instead of committed (its seqs never reach a read_committed consumer)."""

    def start(self, props: Mapping[str, str]) -> None:
        self._topic = props["topic"]
        self._count = int(props["count"])
        self._batch = int(props.get("batch", "7"))
        self._every = int(props.get("every", "20"))
        self._abort_every = int(props.get("abort.every", "3"))
        offset = self.context.offset_storage_reader.offset({"source": "boundary"})
        self._next = int(offset["seq"]) + 1 if offset else 0
        self._stopped = threading.Event()
        tx = self.context.transaction_context()
        if tx is None:
            raise RuntimeError("no transaction context: exactly-once with connector boundaries")
        self._tx = tx

    def poll(self) -> Sequence[SourceRecord] | None:
        if self._next >= self._count:
            self._stopped.wait(0.1)
            return None
        records = []
        for seq in range(self._next, min(self._next + self._batch, self._count)):
            record = SourceRecord(
                self._topic,
                str(seq),
                key=str(seq),
                source_partition={"source": "boundary"},
                source_offset={"seq": seq},
            )
            records.append(record)
            if (seq + 1) % self._every == 0:
                if ((seq + 1) // self._every) % self._abort_every == 0:
                    self._tx.abort_transaction(record)
                else:
                    self._tx.commit_transaction(record)
        self._next += len(records)
        return records

    def stop(self) -> None:
        self._stopped.set()


class BoundarySource(SourceConnector):
    def start(self, props: Mapping[str, str]) -> None:
        self._props = dict(props)

    def task_class(self) -> type[BoundarySourceTask]:
        return BoundarySourceTask

    def task_configs(self, max_tasks: int) -> list[dict[str, str]]:
        return [dict(self._props)]

    def exactly_once_support(self, config: Mapping[str, str]) -> ExactlyOnceSupport:
        return ExactlyOnceSupport.SUPPORTED

    def can_define_transaction_boundaries(
        self, config: Mapping[str, str]
    ) -> ConnectorTransactionBoundaries:
        return ConnectorTransactionBoundaries.SUPPORTED
