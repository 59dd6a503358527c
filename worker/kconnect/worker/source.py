"""Running a source task: poll, convert, produce, and commit offsets the broker has acknowledged.

Offsets are committed every `offset.flush.interval.ms`, on graceful stop, and never past an
unacknowledged record: a commit first flushes the producer, so every record produced before it
is either acknowledged or reported failed. Only then are the offsets of those records written.
A delivery failure fails the task and nothing past it is committed. Delivery reports arrive only
for failures (librdkafka's `delivery.report.only.error`), so a healthy record costs no Python
callback. A task that overrides `commit_record` gets per-record reports and pays for them.

On a distributed worker a connector with its own `offsets.storage.topic` gets its store when the
task starts (`storage.connector_offsets`: that topic first, then the worker's); every other task
uses the store it was given, and pays nothing for the option.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer

from kconnect.api.converter import Converter, HeaderConverter
from kconnect.api.records import ConnectRecord, Headers, SourceRecord
from kconnect.api.task import OffsetStorageReader, RecordMetadata, SourceTask, SourceTaskContext
from kconnect.api.types import SourceOffset, SourcePartition, TaskId
from kconnect.errors import ConnectError, RetriableError
from kconnect.storage.kafka_log import ReadInterrupted
from kconnect.storage.offsets import OffsetStore, canonical_partition
from kconnect.storage.states import TargetState
from kconnect.storage.status import StatusStore
from kconnect.transforms.chain import TransformationChain, TransformStage
from kconnect.worker import client_errors
from kconnect.worker.error_handling import (
    FAILED,
    RetryWithTolerance,
    Stage,
    backoff_ms,
    class_name_of,
)
from kconnect.worker.task import CLIENT_LOG, TaskRunner, plugin_version
from kconnect.worker.task_metrics import TaskMetrics

log = logging.getLogger(__name__)

# The steps of turning a record into a message, as the fast path counts them; a failure at step
# `n < _KEY` happened in transform `n`.
_KEY, _VALUE, _PRODUCE = 1000, 1001, 1002
_TRANSFORMING = -1  # a transform failed; `_send` finds which one from the stage it was in


class _DeliveryFailed(ConnectError):
    """The producer lost a record, or the task was cancelled mid-send: never a record's own
    failure, so `errors.tolerance` does not apply to it."""


class _OffsetReader(OffsetStorageReader):
    def __init__(self, store: OffsetStore, connector: str) -> None:
        self._store = store
        self._connector = connector

    def offset(self, partition: SourcePartition) -> SourceOffset | None:
        from kconnect.api.types import ConnectorName  # noqa: PLC0415

        return self._store.get(ConnectorName(self._connector), partition)


class _Context(SourceTaskContext):
    def __init__(self, props: Mapping[str, str], reader: OffsetStorageReader) -> None:
        self._props = props
        self._reader = reader

    def configs(self) -> Mapping[str, str]:
        return self._props

    @property
    def offset_storage_reader(self) -> OffsetStorageReader:
        return self._reader


class SourceTaskRunner(TaskRunner):
    # A failure in poll() or in the connector's own code leaves every record produced before it
    # intact: they are flushed and their offsets committed, as Kafka Connect does. A failed
    # delivery is different: commit() raises on it and nothing past it is committed.
    commits_after_failure = True

    def __init__(
        self,
        task_id: TaskId,
        task: SourceTask,
        task_props: Mapping[str, str],
        target: TargetState,
        *,
        status: StatusStore,
        worker_id: str,
        producer_config: Mapping[str, str],
        key_converter: Converter,
        value_converter: Converter,
        header_converter: HeaderConverter,
        offsets: OffsetStore,
        flush_interval_ms: int,
        flush_timeout_ms: int,
        errors: RetryWithTolerance,
        chain: TransformationChain | None = None,
        topics_seen: set[str] | None = None,
        metrics: TaskMetrics | None = None,
        generation: int = 0,
        connector_offsets: Callable[[], OffsetStore] | None = None,
    ) -> None:
        super().__init__(
            task_id, task_props, target, status, worker_id, topics_seen, metrics, generation
        )
        self.task = task
        self.version = plugin_version(task)
        self._producer_config = dict(producer_config)
        self._key = key_converter
        self._value = value_converter
        self._header = header_converter
        self._offsets = offsets
        self._connector_offsets = connector_offsets
        """With the connector's own `offsets.storage.topic`: its store, got when the task
        starts (its topic first, then the worker's, as Kafka Connect's
        ConnectorOffsetBackingStore); None, the usual case: `offsets` as given."""
        self._interval = flush_interval_ms / 1000
        self._flush_timeout = flush_timeout_ms / 1000
        self._chain = chain if chain else None
        self._errors = errors
        errors.stopping = lambda: self.stopping
        self._poll_failures = 0
        self._producer: Any = None
        self._pending: dict[str, tuple[SourcePartition, SourceOffset | None]] = {}
        self._delivery_error: KafkaError | None = None
        # Errors no retry fixes (a failed authentication or TLS handshake).
        self._client_failures = client_errors.Failures(
            self._producer_config, token_grace_s=client_errors.TASK_TOKEN_GRACE_S
        )
        self._next_commit = 0.0
        self._per_record_ack = type(task).commit_record is not SourceTask.commit_record

    # --- lifecycle
    def _make_producer(self) -> Producer:
        """The task's producer, from `_producer_config` plus the runner's callbacks."""
        conf: dict[str, Any] = dict(self._producer_config)
        conf["error_cb"] = self._on_client_error
        conf["logger"] = CLIENT_LOG
        # A Python-level setting of the client: it takes a bool, not librdkafka's text.
        conf["delivery.report.only.error"] = not self._per_record_ack
        if not self._per_record_ack:
            conf["on_delivery"] = self._on_delivery_error
        return Producer(conf)

    def initialize(self) -> None:
        if self._connector_offsets is not None:
            self._offsets = self._connector_offsets()
            try:
                # The herder read the worker's topic before starting the task; the connector's
                # own is read here, so the task resumes from what any worker committed to it.
                self._offsets.read_to_end(interrupted=lambda: self.stopping)
            except ReadInterrupted:
                return  # stopping before it started: nothing to do, nothing to commit
        self._producer = self._make_producer()
        reader = _OffsetReader(self._offsets, self.id.connector)
        self.task.initialize(_Context(self.task_props, reader))
        self.task.start(self.task_props)
        self._next_commit = time.monotonic() + self._interval

    def on_stop_requested(self) -> None:
        # poll() may be blocked on the task thread; stop() is how a task learns to return.
        try:
            self.task.stop()
        except Exception:
            log.exception("task %s failed in stop()", self.id)

    def iterate(self) -> None:
        metrics = self.metrics
        began = time.monotonic()
        try:
            records = self.task.poll()
        except RetriableError as e:
            # As in Kafka Connect, poll() is simply called again; a pause keeps it from spinning.
            self._poll_failures += 1
            metrics.total_record_failures += 1
            metrics.total_retries += 1
            wait = backoff_ms(self._poll_failures, self._errors.config.retry_delay_max_ms) / 1000
            log.warning("task %s: poll failed, retrying in %.1fs: %s", self.id, wait, e)
            self._producer.poll(wait)
            return
        self._poll_failures = 0
        if self.cancelled:
            return  # another worker may run this task now: what poll() returned is not sent
        if records:
            metrics.poll_batch_seconds_sum += time.monotonic() - began
            metrics.source_record_poll_total += len(records)
            metrics.batch(len(records))
            self._send(records)
        else:
            self._producer.poll(0)
        self._check_delivery()
        if time.monotonic() >= self._next_commit:
            self.commit()

    def idle_while_paused(self) -> bool:
        # Serve delivery reports while paused, so failures surface and the queue drains.
        self._producer.poll(0.5)
        return True

    def close(self, commit: bool) -> None:
        try:
            if commit and self._producer is not None:
                self.commit()
        finally:
            if self._producer is not None and not commit:
                # Records in flight are abandoned, not committed; purge so close is quick.
                self._producer.purge(in_queue=True, in_flight=False, blocking=False)
                self._producer.flush(0)
            self._producer = None
            try:
                if self._chain is not None:
                    self._chain.close()
            finally:
                self._key.close()
                self._value.close()

    # --- the hot path
    def _send(self, records: Sequence[SourceRecord]) -> None:
        """Transform, convert and produce a batch, and note the last offset of each source
        partition.

        Per record this is two converter calls and one `produce`; offsets are noted once per
        run of records from the same source partition, not once per record. A record that
        fails in any step is handed to `_send_failed`, which applies `errors.*`; a record that
        is skipped (by a transform, or as a tolerated failure) still has its offset committed.
        """
        produce = self._producer.produce
        key_conv = self._key.from_connect_data
        value_conv = self._value.from_connect_data
        stages = self._chain.stages if self._chain is not None else ()
        per_record_ack = self._per_record_ack
        pending = self._pending
        seen = self.topics_seen
        run_partition: SourcePartition | None = None
        run_key = ""
        run_offset: SourceOffset | None = None
        written = 0
        step = _TRANSFORMING
        stage: TransformStage | None = None
        for original in records:
            try:
                record: ConnectRecord | None = original
                step = _TRANSFORMING
                for stage in stages:
                    record = stage.apply(record)  # type: ignore[arg-type]
                    if record is None:
                        break
                if record is not None:
                    topic = record.topic
                    if topic not in seen:
                        self.note_topic(topic)
                    headers = record._headers
                    step = _KEY
                    key = key_conv(topic, record.key_schema, record.key, headers)
                    step = _VALUE
                    value = value_conv(topic, record.value_schema, record.value, headers)
                    step = _PRODUCE
                    partition = record.kafka_partition
                    timestamp = record.timestamp
                    try:
                        if headers or per_record_ack or partition is not None:
                            self._produce_full(original, record, topic, key, value)  # type: ignore[arg-type]
                        elif timestamp:
                            # Positional, as the keywords cost a parse per call: topic, value,
                            # key, partition, callback, on_delivery, timestamp.
                            produce(topic, value, key, -1, None, None, timestamp)
                        else:
                            produce(topic, value, key)
                    except BufferError:
                        self._produce_when_room(original, record, topic, key, value)  # type: ignore[arg-type]
                    written += 1
            except _DeliveryFailed:
                raise
            except Exception as e:  # noqa: BLE001 - errors.* decides; see _send_failed
                if step == _TRANSFORMING and stage is not None:
                    step = stages.index(stage)  # which transform: found only when one fails
                if self._send_failed(original, step, e):
                    written += 1
            source_partition = original.source_partition
            if source_partition is not None:
                if source_partition is not run_partition and (
                    run_partition is None or source_partition != run_partition
                ):
                    if run_partition is not None:
                        pending[run_key] = (run_partition, run_offset)
                    run_key = canonical_partition(source_partition)
                run_partition = source_partition
                run_offset = original.source_offset
        if run_partition is not None:
            pending[run_key] = (run_partition, run_offset)
        self.metrics.source_record_write_total += written
        self._producer.poll(0)

    def _send_failed(self, original: SourceRecord, failed_step: int, error: Exception) -> bool:
        """Redo one record step by step under `errors.*`; the failed step gets `error` as its
        first attempt. True when the record was produced in the end; False when it was dropped
        or its failure tolerated (and reported). A failure not tolerated raises: the task
        fails, and no offset past the record is committed."""
        errors = self._errors

        def run(step: int, stage: Stage, cls: str, op: Callable[[], Any]) -> Any:
            first = error if step == failed_step else None
            return errors.execute(op, stage, cls, source_record=original, first_error=first)

        record: ConnectRecord | None = original
        stages = self._chain.stages if self._chain is not None else ()
        for i, stage in enumerate(stages):
            current = record
            result = run(
                i,
                Stage.TRANSFORMATION,
                stage.class_name,
                lambda stage=stage, current=current: stage.apply(current),  # type: ignore[misc]
            )
            if result is FAILED or result is None:
                return False
            record = result
        assert isinstance(record, SourceRecord)
        topic = record.topic
        if topic not in self.topics_seen:
            self.note_topic(topic)
        headers = record._headers
        key = run(
            _KEY,
            Stage.KEY_CONVERTER,
            class_name_of(self._key),
            lambda: self._key.from_connect_data(topic, record.key_schema, record.key, headers),
        )
        if key is FAILED:
            return False
        value = run(
            _VALUE,
            Stage.VALUE_CONVERTER,
            class_name_of(self._value),
            lambda: self._value.from_connect_data(
                topic, record.value_schema, record.value, headers
            ),
        )
        if value is FAILED:
            return False
        if failed_step == _PRODUCE:
            # The producer refused the record outright (too large, say); Kafka Connect skips
            # such a record under errors.tolerance=all (KIP-779), and fails the task otherwise.
            errors.fail(
                Stage.KAFKA_PRODUCE,
                class_name_of(self._producer),
                error,
                source=original,
                tolerable=True,
            )
            return False

        def send() -> None:
            try:
                self._produce_full(original, record, topic, key, value)
            except BufferError:
                self._produce_when_room(original, record, topic, key, value)

        return run(_PRODUCE, Stage.KAFKA_PRODUCE, class_name_of(self._producer), send) is not FAILED

    def _produce_full(
        self,
        original: SourceRecord,
        record: SourceRecord,
        topic: str,
        key: bytes | None,
        value: bytes | None,
    ) -> None:
        kwargs: dict[str, Any] = {}
        if self._per_record_ack:
            kwargs["on_delivery"] = self._ack_callback(original)
        if record.has_headers():
            kwargs["headers"] = self._convert_headers(topic, record.headers)
        self._producer.produce(
            topic,
            value,
            key,
            -1 if record.kafka_partition is None else record.kafka_partition,
            timestamp=record.timestamp or 0,
            **kwargs,
        )

    def _produce_when_room(
        self,
        original: SourceRecord,
        record: SourceRecord,
        topic: str,
        key: bytes | None,
        value: bytes | None,
    ) -> None:
        """The local queue is full: serve deliveries until the record fits."""
        while True:
            self._producer.poll(0.05)
            self._check_delivery()
            if self.stopping and self.cancelled:
                raise _DeliveryFailed("task cancelled while waiting for room in the producer queue")
            try:
                self._produce_full(original, record, topic, key, value)
                return
            except BufferError:
                continue

    def _convert_headers(self, topic: str, headers: Headers) -> list[tuple[str, bytes | None]]:
        conv = self._header.from_connect_header
        return [(h.key, conv(topic, h.key, h.schema, h.value)) for h in headers]

    # --- commits
    def commit(self) -> None:
        """Flush the producer, then commit the offsets of everything it acknowledged."""
        self._next_commit = time.monotonic() + self._interval
        if self.cancelled:
            return  # the assignment is lost: another worker may own this task now
        snapshot = self._pending
        self._pending = {}
        began = time.monotonic()
        remaining = self._producer.flush(self._flush_timeout)
        try:
            self._check_delivery()
        except ConnectError:
            self.metrics.commit(False, time.monotonic() - began)
            raise
        if remaining:
            # Not everything was acknowledged in offset.flush.timeout.ms: keep the offsets for
            # the next commit rather than commit past unacknowledged records.
            log.warning(
                "task %s: %d records not acknowledged within offset.flush.timeout.ms; "
                "offsets will be committed later",
                self.id,
                remaining,
            )
            snapshot.update(self._pending)
            self._pending = snapshot
            self.metrics.commit(False, time.monotonic() - began)
            return
        if snapshot:
            self._offsets.put(self.id.connector, list(snapshot.values()))
            self.metrics.commit(True, time.monotonic() - began)
        else:
            self.metrics.offset_commit_skip_total += 1
        self.task.commit()

    def _check_delivery(self) -> None:
        if self._client_failures.reason is not None:
            raise ConnectError(
                f"the task's producer cannot use Kafka: {self._client_failures.reason}"
            )
        if self._delivery_error is not None:
            hint = client_errors.authorization_hint(self._delivery_error.code())
            raise _DeliveryFailed(
                f"a record could not be written to Kafka: {self._delivery_error}; no offset "
                "past it is committed"
                + (f"; {hint}" if hint else "")
                + self._delivery_failure_note(self._delivery_error)
            )

    def _delivery_failure_note(self, error: KafkaError) -> str:
        """What a subclass adds to a delivery failure's message."""
        return ""

    def _on_delivery_error(self, err: KafkaError | None, msg: Any) -> None:
        if err is None:
            return
        if self._errors.tolerates_all and not err.fatal():
            # Kafka Connect (KIP-779): under errors.tolerance=all a record the broker refused is
            # reported and skipped, and its offset is committed like any other.
            self._errors.fail(
                Stage.KAFKA_PRODUCE,
                class_name_of(self._producer),
                KafkaException(err),
                tolerable=True,
            )
            return
        if self._delivery_error is None:
            self._delivery_error = err

    def _ack_callback(self, record: SourceRecord) -> Callable[[KafkaError | None, Any], None]:
        def ack(err: KafkaError | None, msg: Any) -> None:
            if err is not None:
                self._on_delivery_error(err, msg)
                return
            meta = RecordMetadata(msg.topic(), msg.partition(), msg.offset(), msg.timestamp()[1])
            self.task.commit_record(record, meta)

        return ack

    def _on_client_error(self, err: KafkaError) -> None:
        if err.fatal():
            self._delivery_error = err
        else:
            self._client_failures(err)
            log.warning("task %s producer: %s", self.id, err)


def producer_error(e: KafkaException) -> str:
    return str(e.args[0]) if e.args else str(e)
