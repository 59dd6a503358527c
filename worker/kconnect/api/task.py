"""Tasks: the part of a plugin that moves the data.

Each task runs on a thread of its own. The runtime calls `start`, then `poll` (source) or `put`
(sink) in a loop, and `stop` when the task is paused, moved, reconfigured or shut down. `stop`
may be called from another thread while `poll` blocks, so a task should make `poll` return
soon after `stop` (an `Event` to wait on does it).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Mapping, Sequence
from typing import NamedTuple

from kconnect.api.connector import package_version
from kconnect.api.records import SinkRecord, SourceRecord
from kconnect.api.types import OffsetAndMetadata, SourceOffset, SourcePartition, TopicPartition


class RecordMetadata(NamedTuple):
    """Where the broker wrote a source record."""

    topic: str
    partition: int
    offset: int
    timestamp: int | None


class OffsetStorageReader(ABC):
    """Committed source offsets, by source partition."""

    @abstractmethod
    def offset(self, partition: SourcePartition) -> SourceOffset | None: ...

    def offsets(
        self, partitions: Collection[SourcePartition]
    ) -> list[tuple[SourcePartition, SourceOffset | None]]:
        return [(p, self.offset(p)) for p in partitions]


class TaskContext(ABC):
    @abstractmethod
    def configs(self) -> Mapping[str, str]:
        """The task's config, as the connector made it."""


class TransactionContext(ABC):
    """How a source task defines its own transaction boundaries (KIP-618).

    Offered by `SourceTaskContext.transaction_context()` only on a worker with
    `exactly.once.source.support=enabled` and a connector with `transaction.boundary=connector`.
    Requests are honoured on the task's thread, after the batch `poll` returned has been
    dispatched; they may be made from any thread. A failed commit or abort fails the task.
    """

    @abstractmethod
    def commit_transaction(self, record: SourceRecord | None = None) -> None:
        """Commit the open transaction once the current batch is dispatched; with `record`,
        as soon as that record (one of the batch `poll` returns next, or is returning) has
        been dispatched. The records' source offsets are committed in the same transaction."""

    @abstractmethod
    def abort_transaction(self, record: SourceRecord | None = None) -> None:
        """Abort the open transaction once the current batch is dispatched; with `record`, as
        soon as that record has been dispatched (the record is part of what is aborted). No
        offset of an aborted record is committed."""


class SourceTaskContext(TaskContext):
    @property
    @abstractmethod
    def offset_storage_reader(self) -> OffsetStorageReader: ...

    def transaction_context(self) -> TransactionContext | None:
        """The task's transaction context: only when the worker delivers exactly once and the
        connector has `transaction.boundary=connector`; None otherwise."""
        return None


class ErrantRecordReporter(ABC):
    """Reports a record that `put` could not write, without failing the whole batch.

    Under `errors.tolerance=all` the record is logged (`errors.log.enable`) and written, as it was
    read from Kafka, to the dead-letter queue (`errors.deadletterqueue.topic.name`); the task goes
    on with the rest. Under `errors.tolerance=none` `report` raises, and the task fails with
    `error` as the cause. A reported record counts as handled: its offset is committed once the
    queue has it.
    """

    @abstractmethod
    def report(self, record: SinkRecord, error: BaseException) -> None: ...


class SinkTaskContext(TaskContext):
    def errant_record_reporter(self) -> ErrantRecordReporter | None:
        """The reporter for records `put` cannot write (Kafka Connect's KIP-610)."""
        return None

    @abstractmethod
    def offset(self, offsets: Mapping[TopicPartition, int]) -> None:
        """Rewind or skip: consume these partitions from these offsets next."""

    @abstractmethod
    def timeout(self, timeout_ms: int) -> None:
        """After a `RetriableError`, wait this long before `put` is retried."""

    @abstractmethod
    def assignment(self) -> set[TopicPartition]: ...

    @abstractmethod
    def pause(self, *partitions: TopicPartition) -> None: ...

    @abstractmethod
    def resume(self, *partitions: TopicPartition) -> None: ...

    @abstractmethod
    def request_commit(self) -> None:
        """Commit offsets soon rather than at the next interval."""


class Task(ABC):
    def version(self) -> str:
        return package_version()

    @abstractmethod
    def start(self, props: Mapping[str, str]) -> None: ...

    @abstractmethod
    def stop(self) -> None: ...


class SourceTask(Task):
    context: SourceTaskContext

    def initialize(self, context: SourceTaskContext) -> None:
        self.context = context

    @abstractmethod
    def poll(self) -> Sequence[SourceRecord] | None:
        """The next batch, or None (or empty) when there is nothing now. May block briefly."""

    def commit(self) -> None:
        """Offsets of everything polled so far, up to the last commit, are durable."""

    def commit_record(self, record: SourceRecord, metadata: RecordMetadata | None) -> None:
        """The broker acknowledged `record` (metadata None: a transform dropped it).

        Only tasks that override this pay for a per-record acknowledgement.
        """


class SinkTask(Task):
    context: SinkTaskContext

    def initialize(self, context: SinkTaskContext) -> None:
        self.context = context

    def open(self, partitions: Collection[TopicPartition]) -> None:
        """These partitions were assigned to the task."""

    def close(self, partitions: Collection[TopicPartition]) -> None:
        """These partitions are being taken away; write out what is buffered for them."""

    @abstractmethod
    def put(self, records: Sequence[SinkRecord]) -> None:
        """Write or buffer a batch. Raise `RetriableError` to get the same batch again."""

    def flush(self, current_offsets: Mapping[TopicPartition, OffsetAndMetadata]) -> None:
        """Make everything `put` so far durable."""

    def pre_commit(
        self, current_offsets: Mapping[TopicPartition, OffsetAndMetadata]
    ) -> Mapping[TopicPartition, OffsetAndMetadata]:
        """The offsets that are safe to commit. By default: flush, then all of them."""
        self.flush(current_offsets)
        return current_offsets
