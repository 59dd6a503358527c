"""Running a sink task: consume, convert, `put`, and commit what the task says is durable.

Offsets are committed to the consumer group `connect-<connector>` every
`offset.flush.interval.ms`, on revocation and on graceful stop, and only the offsets the task's
`pre_commit` returns (by default: after `flush`), never past the last record `put` accepted
(`kconnect.worker.sink_positions` keeps that bookkeeping). A lost assignment closes the task's
partitions without committing. A `RetriableError` from `put` redelivers the same batch after the
timeout the task asked for, with every partition paused; records of partitions revoked in the
meantime leave the batch, since their next owner reads them again from the committed offset. A
stop during the retries ends them: the batch is not delivered and only what was delivered before
it is committed. Any other error fails the task without committing the batch.

How a commit waits, as in Kafka Connect's WorkerSinkTask:

- **Periodic commits are asynchronous.** The result arrives through the consumer's commit
  callback at a later `consume()`; only then are the offsets counted as committed. A commit that
  hangs (librdkafka waits for a group coordinator it cannot reach) holds nothing up, and one
  unanswered for `offset.flush.timeout.ms` is given up on and made again.
- **A revocation commits synchronously**, inside the rebalance callback, so the partitions' next
  owner starts where this one stopped.
- **A graceful stop waits at most `offset.flush.timeout.ms`** for its commit, with every
  partition paused, then leaves the group. An unconfirmed commit is reported: the next owner
  reads from the last committed offset, so records may be read again, never skipped.

Rebalance callbacks run inside `consume()` on the task thread, so the consumer is used from the
one thread that made it, with one exception: the final `close()`. librdkafka's close has no
timeout of its own (it waits for the group leave, up to `session.timeout.ms` when the coordinator
cannot be reached), so it runs on a helper thread that the task waits for up to
`CONSUMER_CLOSE_TIMEOUT_S` (Java's consumer close default), and not at all once the task is
cancelled. The callbacks that close fires do nothing; the task thread closes the partitions after
the leave, or after it stopped waiting for it. A consumer left closing commits nothing (auto
commit is off) and finishes on its own, so a stuck leave never keeps the task's next instance
from starting.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException
from confluent_kafka import TopicPartition as KafkaTopicPartition

from kconnect.api.converter import Converter, HeaderConverter
from kconnect.api.records import ConnectRecord, Headers, SinkRecord, TimestampType
from kconnect.api.task import ErrantRecordReporter, SinkTask, SinkTaskContext
from kconnect.api.types import TaskId, TopicPartition
from kconnect.config.connector import ERRORS_RETRY_TIMEOUT_INFINITE
from kconnect.errors import ConnectError, RetriableError
from kconnect.logcontext import set_task_context
from kconnect.storage.states import TargetState
from kconnect.storage.status import StatusStore
from kconnect.transforms.chain import TransformationChain
from kconnect.worker import client_errors
from kconnect.worker.clients import with_group_protocol
from kconnect.worker.dlq import DeadLetterQueueReporter
from kconnect.worker.error_handling import (
    FAILED,
    ConsumedRecord,
    ErrorReporter,
    RetryWithTolerance,
    Stage,
    backoff_ms,
    class_name_of,
)
from kconnect.worker.sink_positions import SinkPositions, assigned_only
from kconnect.worker.task import CLIENT_LOG, TaskRunner, plugin_version
from kconnect.worker.task_metrics import TaskMetrics

log = logging.getLogger(__name__)

# The steps of turning a message into a record, as the fast path counts them; a failure at step
# `n >= _TRANSFORM` happened in transform `n - _TRANSFORM`.
_HEADERS, _KEY, _VALUE, _TRANSFORM = 0, 1, 2, 3

# How long a closing task waits for its consumer to leave the group (Java's consumer close default).
CONSUMER_CLOSE_TIMEOUT_S = 30.0

LAG_INTERVAL_S = 10.0
"""How often a sink task asks the broker for its partitions' end offsets (`records_lag`)."""

LAG_TIMEOUT_S = 2.0
"""How long one end-offset request may take before the lag is left as it was."""
_CLOSE_POLL_S = 0.1

_TIMESTAMP_TYPES = {
    0: TimestampType.NO_TIMESTAMP_TYPE,
    1: TimestampType.CREATE_TIME,
    2: TimestampType.LOG_APPEND_TIME,
}


class _Context(SinkTaskContext):
    def __init__(self, runner: SinkTaskRunner) -> None:
        self._runner = runner
        self._lock = threading.Lock()
        self.rewinds: dict[TopicPartition, int] = {}
        self.retry_timeout_ms = 0
        self.commit_requested = False
        self.paused: set[TopicPartition] = set()

    def configs(self) -> Mapping[str, str]:
        return self._runner.task_props

    def offset(self, offsets: Mapping[TopicPartition, int]) -> None:
        with self._lock:
            self.rewinds.update(offsets)

    def take_rewinds(self) -> dict[TopicPartition, int]:
        with self._lock:
            out, self.rewinds = self.rewinds, {}
        return out

    def timeout(self, timeout_ms: int) -> None:
        self.retry_timeout_ms = timeout_ms

    def assignment(self) -> set[TopicPartition]:
        return set(self._runner.assignment)

    def pause(self, *partitions: TopicPartition) -> None:
        self.paused.update(partitions)
        self._runner.apply_pauses()

    def resume(self, *partitions: TopicPartition) -> None:
        self.paused.difference_update(partitions)
        self._runner.apply_pauses()

    def request_commit(self) -> None:
        self.commit_requested = True

    def errant_record_reporter(self) -> ErrantRecordReporter | None:
        return self._runner.errant_reporter


class _ErrantReporter(ErrantRecordReporter):
    def __init__(self, runner: SinkTaskRunner) -> None:
        self._runner = runner

    def report(self, record: SinkRecord, error: BaseException) -> None:
        self._runner.report_errant(record, error)


class SinkTaskRunner(TaskRunner):
    def __init__(
        self,
        task_id: TaskId,
        task: SinkTask,
        task_props: Mapping[str, str],
        target: TargetState,
        *,
        status: StatusStore,
        worker_id: str,
        consumer_config: Mapping[str, str],
        topics: Sequence[str],
        topics_regex: str,
        max_poll_records: int,
        key_converter: Converter,
        value_converter: Converter,
        header_converter: HeaderConverter,
        flush_interval_ms: int,
        errors: RetryWithTolerance,
        chain: TransformationChain | None = None,
        error_reporters: Sequence[ErrorReporter] = (),
        dlq: Callable[[], DeadLetterQueueReporter] | None = None,
        put_retry_timeout_ms: int = 0,
        flush_timeout_ms: int = 5000,
        topics_seen: set[str] | None = None,
        metrics: TaskMetrics | None = None,
        protocol_fallback: bool = True,
        generation: int = 0,
    ) -> None:
        super().__init__(
            task_id, task_props, target, status, worker_id, topics_seen, metrics, generation
        )
        self.task = task
        self.version = plugin_version(task)
        self._consumer_config = dict(consumer_config)
        # Errors no retry fixes (a failed authentication or TLS handshake).
        self._client_failures = client_errors.Failures(
            self._consumer_config, token_grace_s=client_errors.TASK_TOKEN_GRACE_S
        )
        self._protocol_fallback = protocol_fallback
        self._topics = list(topics)
        self._regex = topics_regex
        self._max_poll = max_poll_records
        self._key = key_converter
        self._value = value_converter
        self._header = header_converter
        self._interval = flush_interval_ms / 1000
        self._chain = chain if chain else None
        self._errors = errors
        errors.stopping = lambda: self.stopping
        self._reporters = list(error_reporters)
        self._make_dlq = dlq
        self._dlq: DeadLetterQueueReporter | None = None
        self._put_retry_timeout_ms = put_retry_timeout_ms
        self._flush_timeout = flush_timeout_ms / 1000
        self.errant_reporter = _ErrantReporter(self)
        self._batch: list[Any] = []
        # The records handed to put() and not accepted yet (a batch awaiting redelivery).
        self._undelivered: list[SinkRecord] = []
        self._redelivering = False
        self._consumer: Any = None
        self._context = _Context(self)
        self.assignment: set[TopicPartition] = set()
        self._positions = SinkPositions()
        self._next_commit = 0.0
        self._next_lag = 0.0
        self._all_paused = False
        # When the asynchronous commit in flight was sent; None when none is.
        self._commit_sent: float | None = None
        self._closing = False
        # Set while the consumer leaves the group on its helper thread: callbacks do nothing.
        self._leaving = False

    # --- lifecycle
    def initialize(self) -> None:
        if self._make_dlq is not None:
            self._dlq = self._make_dlq()
            self._reporters.append(self._dlq)
        self._errors.reporters = self._reporters
        self._subscribe()
        self.task.initialize(self._context)
        self.task.start(self.task_props)
        self._next_commit = time.monotonic() + self._interval

    def _subscribe(self) -> None:
        conf: dict[str, Any] = dict(self._consumer_config)
        conf["error_cb"] = self._on_client_error
        conf["on_commit"] = self._on_commit
        conf["logger"] = CLIENT_LOG
        self._consumer = Consumer(conf)
        subscription = self._topics if self._topics else [_librdkafka_regex(self._regex)]
        self._consumer.subscribe(
            subscription,
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_lost,
        )

    def _fall_back_to_classic(self, err: KafkaError) -> bool:
        """The broker lacks KIP-848 (Kafka before 4.0): use the classic group protocol instead.

        This happens at the first heartbeat, before anything was assigned or consumed, so the
        consumer is simply replaced.
        """
        if (
            not self._protocol_fallback
            or self._consumer_config.get("group.protocol") != "consumer"
            or "ConsumerGroupHeartbeat" not in err.str()
        ):
            return False
        log.warning(
            "task %s: the broker does not support group.protocol=consumer (KIP-848); using the "
            "classic protocol. Set consumer.group.protocol=classic to skip this check.",
            self.id,
        )
        self._consumer.close()
        self._consumer_config = with_group_protocol(self._consumer_config, "classic")
        self._subscribe()
        return True

    def iterate(self) -> None:
        msgs = self._consumer.consume(self._max_poll, 0.5)
        if self._client_failures.reason is not None:
            raise ConnectError(
                f"the task's consumer cannot use Kafka: {self._client_failures.reason}"
            )
        rewinds = self._context.take_rewinds()
        if rewinds:
            # The batch in hand predates the rewind: read it again after the seek.
            self._unread(msgs, rewinds)
            self._seek(rewinds)
            return
        if msgs:
            metrics = self.metrics
            metrics.sink_record_read_total += len(msgs)
            # A topic is active once a record of it is read, as Kafka Connect records it (an
            # idle sink has no active topics, whatever it is assigned).
            topics = {m.topic() for m in msgs}
            if not topics <= self.topics_seen:
                for topic in sorted(t for t in topics - self.topics_seen if t is not None):
                    self.note_topic(topic)
            self._batch = msgs
            records = self._convert(msgs)
            if not records or self._deliver(records):
                self._positions.accept()
                if records:
                    metrics.sink_record_send_total += len(records)
                    metrics.batch(len(records))
            else:
                self._positions.abandon()
            self._batch = []
        if self._context.commit_requested or time.monotonic() >= self._next_commit:
            self._context.commit_requested = False
            self.commit(self.assignment, wait=False)
        self._note_lag()

    def _note_lag(self) -> None:
        """Every `LAG_INTERVAL_S` at most, `records_lag`: over the assigned partitions, each
        one's end offset (its high watermark) minus the consumer's position (the next offset it
        reads), as Kafka's consumer metric `records-lag`. A partition being fetched has its end
        offset from the last fetch answer (the consumer's cache, no request); a paused one is
        fetched no more, so its end offset is asked of the broker, and the lag keeps rising
        while the sink's system is down or the connector is paused. A partition without a
        position or a known end offset yet is left out; if the broker does not answer, the last
        value stays."""
        now = time.monotonic()
        if now < self._next_lag or self._consumer is None:
            return
        self._next_lag = now + LAG_INTERVAL_S
        every = self._all_paused or self._redelivering
        paused = {tp for tp in self.assignment if every or tp in self._context.paused}
        lag = 0
        try:
            parts = [KafkaTopicPartition(t, p) for t, p in sorted(self.assignment)]
            for part in self._consumer.position(parts) if parts else ():
                if part.offset < 0:
                    continue
                if (part.topic, part.partition) in paused:
                    marks = self._consumer.get_watermark_offsets(part, timeout=LAG_TIMEOUT_S)
                    if marks is None:
                        return  # no answer in time: the broker is away, ask again next time
                else:
                    marks = self._consumer.get_watermark_offsets(part, cached=True)
                if marks is not None and marks[1] >= 0:
                    lag += max(0, marks[1] - part.offset)
        except KafkaException as e:
            log.debug("task %s: records lag not updated: %s", self.id, e)
            return
        self.metrics.records_lag = lag

    def idle_while_paused(self) -> bool:
        # Keep calling consume() so the group doesn't evict us; paused partitions yield nothing.
        self._poll_nothing(0.5)
        self._note_lag()
        return True

    def on_paused(self) -> None:
        self._all_paused = True
        self.apply_pauses()

    def on_resumed(self) -> None:
        self._all_paused = False
        self.apply_pauses()

    def apply_pauses(self) -> None:
        # The consumer belongs to the task thread; a pause asked from elsewhere is applied
        # there, at the next assignment or resume.
        if self._consumer is None or not self.assignment or not self.on_task_thread():
            return
        parts = sorted(self.assignment)
        every = self._all_paused or self._redelivering
        paused = [p for p in parts if every or p in self._context.paused]
        active = [p for p in parts if p not in paused]
        if paused:
            self._consumer.pause([KafkaTopicPartition(t, p) for t, p in paused])
        if active:
            self._consumer.resume([KafkaTopicPartition(t, p) for t, p in active])

    def close(self, commit: bool) -> None:
        consumer = self._consumer
        if consumer is None:
            return
        try:
            self._closing = True
            if commit:
                self._commit_before_close()
            self._leave(consumer)
            if self.assignment:
                self.task.close(sorted(self.assignment))
                self._forget(sorted(self.assignment))
        finally:
            self._consumer = None
            try:
                self.task.stop()
            finally:
                try:
                    if self._chain is not None:
                        self._chain.close()
                    if self._dlq is not None:
                        self._dlq.close()
                finally:
                    self._key.close()
                    self._value.close()

    # --- the hot path
    def _convert(self, msgs: list[Any]) -> list[SinkRecord]:
        """Messages → SinkRecords, through the transforms. Converters with a fixed schema are
        called directly (see `Converter.fixed_schema_reader`), which saves a SchemaAndValue per
        key and value.

        A message that fails in any step is handed, with the step and the error, to
        `_convert_failed`, which applies `errors.*`; the loop itself carries no error handling
        beyond one `try` and a step counter.
        """
        # Unpacked once per batch, not per record.
        key_fixed = self._key.fixed_schema_reader()
        value_fixed = self._value.fixed_schema_reader()
        key_schema_fixed, read_key = key_fixed if key_fixed is not None else (None, None)
        value_schema_fixed, read_value = value_fixed if value_fixed is not None else (None, None)
        key_conv = self._key.to_connect_data
        value_conv = self._value.to_connect_data
        stages = self._chain.stages if self._chain is not None else ()
        current = self._positions.consumed
        consumed = SinkRecord.consumed
        records: list[SinkRecord] = []
        append = records.append
        step = _HEADERS
        for msg in msgs:
            if msg.error() is not None:
                self._on_message_error(msg.error())
                continue
            topic = msg.topic()
            partition = msg.partition()
            offset = msg.offset()
            current[(topic, partition)] = offset + 1
            try:
                step = _HEADERS
                raw_headers = msg.headers()
                headers = self._convert_headers(topic, raw_headers) if raw_headers else None
                step = _KEY
                raw = msg.key()
                if read_key is not None:
                    key_schema = key_schema_fixed
                    key = None if raw is None else read_key(raw)
                else:
                    key_schema, key = key_conv(topic, raw, headers)
                step = _VALUE
                raw = msg.value()
                if read_value is not None:
                    value_schema = value_schema_fixed
                    value = None if raw is None else read_value(raw)
                else:
                    value_schema, value = value_conv(topic, raw, headers)
                ts_type, ts = msg.timestamp()
                record: ConnectRecord | None = consumed(
                    topic,
                    partition,
                    offset,
                    key_schema,
                    key,
                    value_schema,
                    value,
                    ts if ts_type else None,
                    _TIMESTAMP_TYPES.get(ts_type, TimestampType.CREATE_TIME),
                    headers,
                )
                step = _TRANSFORM
                for stage in stages:
                    record = stage.apply(record)  # type: ignore[arg-type]
                    if record is None:
                        break
                    step += 1
            except Exception as e:  # noqa: BLE001 - errors.* decides; see _convert_failed
                record = self._convert_failed(msg, step, e)
            if record is not None:
                append(record)  # type: ignore[arg-type]
        return records

    def _convert_failed(self, msg: Any, failed_step: int, error: Exception) -> SinkRecord | None:
        """Redo one message step by step under `errors.*`: the failed step gets `error` as its
        first attempt and may be retried; a tolerated failure is reported and skips the
        message (None). A failure not tolerated raises, and the task fails uncommitted."""
        errors = self._errors
        topic = msg.topic()
        consumed = _consumed(msg)

        def run(step: int, stage: Stage, cls: str, op: Callable[[], Any]) -> Any:
            first = error if step == failed_step else None
            return errors.execute(op, stage, cls, consumed=consumed, first_error=first)

        raw_headers = msg.headers()
        headers: Headers | None = None
        if raw_headers:
            converted = run(
                _HEADERS,
                Stage.HEADER_CONVERTER,
                class_name_of(self._header),
                lambda: self._convert_headers(topic, raw_headers),
            )
            if converted is FAILED:
                return None
            headers = converted
        key = run(
            _KEY,
            Stage.KEY_CONVERTER,
            class_name_of(self._key),
            lambda: self._key.to_connect_data(topic, msg.key(), headers),
        )
        if key is FAILED:
            return None
        value = run(
            _VALUE,
            Stage.VALUE_CONVERTER,
            class_name_of(self._value),
            lambda: self._value.to_connect_data(topic, msg.value(), headers),
        )
        if value is FAILED:
            return None
        ts_type, ts = msg.timestamp()
        record: ConnectRecord | None = SinkRecord(
            topic,
            msg.partition(),
            msg.offset(),
            value.value,
            value_schema=value.schema,
            key=key.value,
            key_schema=key.schema,
            timestamp=ts if ts_type else None,
            timestamp_type=_TIMESTAMP_TYPES.get(ts_type, TimestampType.CREATE_TIME),
            headers=headers,
        )
        stages = self._chain.stages if self._chain is not None else ()
        for i, stage in enumerate(stages):
            assert record is not None
            current = record
            result = run(
                _TRANSFORM + i,
                Stage.TRANSFORMATION,
                stage.class_name,
                lambda stage=stage, current=current: stage.apply(current),  # type: ignore[misc]
            )
            if result is FAILED or result is None:
                return None
            record = result
        return record  # type: ignore[return-value]

    def report_errant(self, record: SinkRecord, error: BaseException) -> None:
        """A record `put` could not write, reported by the task (on its own thread)."""
        where = (
            record.original_topic,
            record.original_kafka_partition,
            record.original_kafka_offset,
        )
        consumed = next(
            (
                _consumed(m)
                for m in self._batch
                if m.error() is None and (m.topic(), m.partition(), m.offset()) == where
            ),
            None,
        )
        if consumed is None:
            # Not from the batch in hand (a task that buffers): what is known is where it was read.
            consumed = ConsumedRecord(
                where[0],
                where[1],
                where[2],
                record.timestamp,
                record.timestamp_type,
                None,
                None,
                None,
            )
        self._errors.fail(
            Stage.TASK_PUT, class_name_of(self.task), error, consumed=consumed, tolerable=True
        )

    def _convert_headers(self, topic: str, raw: list[tuple[str, bytes | None]]) -> Headers:
        conv = self._header.to_connect_header
        headers = Headers()
        for key, value in raw:
            sv = conv(topic, key, value)
            headers.add(key, sv.value, sv.schema)
        return headers

    def _deliver(self, records: list[SinkRecord]) -> bool:
        """`put` the batch; a `RetriableError` redelivers it after a wait. True once `put`
        accepted it (or nothing of it is left to deliver); False if the task was asked to stop
        first, and then the batch is not delivered.

        The wait is what the task asked for (`context.timeout`), else a backoff from 300 ms
        capped by `errors.retry.delay.max.ms`. As in Kafka Connect, a sink retries for as long
        as it takes by default; `errors.retry.timeout` > 0 bounds it, and then the task fails
        without committing the batch. While it waits, a rebalance may revoke partitions: their
        records leave the batch (`_forget`), and if none is left there is nothing to redeliver.
        """
        metrics = self.metrics
        start = time.monotonic()
        attempt = 0
        self._undelivered = records
        try:
            while True:
                attempt += 1
                try:
                    began = time.monotonic()
                    self.task.put(self._undelivered)
                    metrics.put_batch_seconds_sum += time.monotonic() - began
                    return True
                except RetriableError as e:
                    metrics.total_record_failures += 1
                    limit = self._put_retry_timeout_ms
                    elapsed_ms = (time.monotonic() - start) * 1000
                    if limit not in (0, ERRORS_RETRY_TIMEOUT_INFINITE) and elapsed_ms >= limit:
                        metrics.total_record_errors += 1
                        raise ConnectError(
                            f"put() kept failing with a retriable error for {elapsed_ms:.0f} "
                            f"ms, longer than errors.retry.timeout={limit}; the batch was not "
                            "committed"
                        ) from e
                    asked = self._context.retry_timeout_ms
                    wait_ms = (
                        asked
                        if asked > 0
                        else backoff_ms(attempt, self._errors.config.retry_delay_max_ms)
                    )
                    if limit not in (0, ERRORS_RETRY_TIMEOUT_INFINITE):
                        wait_ms = min(wait_ms, max(limit - elapsed_ms, 0.0))
                    log.warning(
                        "task %s: put failed, retrying in %.1fs: %s", self.id, wait_ms / 1000, e
                    )
                    if not self._redelivering:
                        # Nothing new is read until the batch is delivered.
                        self._redelivering = True
                        self.apply_pauses()
                    if not self._wait(wait_ms / 1000):
                        log.info(
                            "task %s: stopped while retrying put(); the %d records of the batch "
                            "were not delivered and their offsets are not committed",
                            self.id,
                            len(self._undelivered),
                        )
                        return False
                    if not self._undelivered:
                        return True  # every partition of the batch was revoked meanwhile
                    metrics.total_retries += 1
        finally:
            self._undelivered = []
            if self._redelivering:
                self._redelivering = False
                self.apply_pauses()

    def _wait(self, seconds: float) -> bool:
        """Wait while every partition is paused, keeping group membership alive (rebalance
        callbacks run meanwhile, and pause what they assign). False if the task was asked to
        stop."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.stopping:
                return False
            self._poll_nothing(0.1)
            self._note_lag()
        return not self.stopping

    def _poll_nothing(self, timeout: float) -> None:
        """consume() while paused; a record that still arrives is put back by seeking."""
        msgs = self._consumer.consume(1, timeout)
        for msg in msgs:
            if msg.error() is None:
                self._consumer.seek(KafkaTopicPartition(msg.topic(), msg.partition(), msg.offset()))

    def _seek(self, rewinds: Mapping[TopicPartition, int]) -> None:
        for tp, offset in rewinds.items():
            if tp in self.assignment:
                self._consumer.seek(KafkaTopicPartition(tp.topic, tp.partition, offset))
                self._positions.rewind((tp.topic, tp.partition), offset)

    def _unread(self, msgs: list[Any], rewinds: Mapping[TopicPartition, int]) -> None:
        """Put back messages read but not converted: each partition not being rewound is
        sought back to its first message, so nothing is skipped."""
        first: dict[tuple[str, int], int] = {}
        for msg in msgs:
            if msg.error() is None:
                first.setdefault((msg.topic(), msg.partition()), msg.offset())
        for (topic, partition), offset in first.items():
            if (topic, partition) in self.assignment and (topic, partition) not in rewinds:
                self._consumer.seek(KafkaTopicPartition(topic, partition, offset))

    # --- commits
    def commit(
        self, partitions: set[TopicPartition] | list[TopicPartition], *, wait: bool = True
    ) -> None:
        """Offer the task what `put` accepted in `partitions`, and commit what `pre_commit`
        gives back of it. A batch awaiting redelivery is not part of it.

        With `wait`, the commit is synchronous; without, it is sent and its result counted when
        the commit callback brings it (a later `consume()`), and no other is sent meanwhile.
        """
        self._next_commit = time.monotonic() + self._interval
        if self.cancelled:
            return  # the assignment is lost: another worker may own this task now
        if not wait and self._commit_sent is not None:
            if time.monotonic() - self._commit_sent < self._flush_timeout:
                return  # the last one has not answered yet; its partitions are offered next time
            # As Kafka Connect does, an answer that takes longer than offset.flush.timeout.ms is
            # given up on, and a new commit is made.
            self._commit_sent = None
            self.metrics.commit(False, self._flush_timeout)
            log.warning(
                "task %s: the offset commit was not answered within offset.flush.timeout.ms "
                "(%d ms); committing again",
                self.id,
                round(self._flush_timeout * 1000),
            )
        to_commit = self._offsets_to_commit(partitions)
        if to_commit is None:
            return
        offsets = [KafkaTopicPartition(t, p, o) for (t, p), o in sorted(to_commit.items())]
        began = time.monotonic()
        if not wait:
            self._commit_sent = began
            try:
                self._consumer.commit(offsets=offsets, asynchronous=True)
            except KafkaException as e:
                self._commit_sent = None
                self.metrics.commit(False, 0.0)
                log.warning("task %s: offset commit failed, will retry: %s", self.id, e)
            return
        try:
            self._consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as e:
            self.metrics.commit(False, time.monotonic() - began)
            log.warning("task %s: offset commit failed, will retry: %s", self.id, e)
            return
        self.metrics.commit(True, time.monotonic() - began)
        self._positions.mark_committed(to_commit)

    def _offsets_to_commit(
        self, partitions: set[TopicPartition] | list[TopicPartition]
    ) -> dict[tuple[str, int], int] | None:
        """What to commit of `partitions` (None for nothing): what `pre_commit` returns of the
        delivered positions, once the dead letter queue holds every record reported to it."""
        positions = self._positions
        offered = positions.offer(set(partitions))
        if not offered:
            return None
        to_commit, ignored = positions.to_commit(offered, self.task.pre_commit(offered))
        for why in ignored:
            log.warning("task %s: pre_commit returned an offset that is ignored: %s", self.id, why)
        if not to_commit:
            self.metrics.offset_commit_skip_total += 1
            return None
        began = time.monotonic()
        if self._dlq is not None and not self._dlq.flush(self._flush_timeout):
            # Nothing is committed past a failed record until the queue has it.
            log.warning(
                "task %s: records sent to the dead letter queue %s are not acknowledged yet; "
                "offsets will be committed later",
                self.id,
                self._dlq.topic,
            )
            self.metrics.commit(False, time.monotonic() - began)
            return None
        return to_commit

    def _commit_before_close(self) -> None:
        """Commit what was delivered, waiting at most `offset.flush.timeout.ms` for the answer,
        with every partition paused so that nothing more is read meanwhile."""
        if self.cancelled:
            return
        if self.assignment:
            self._consumer.pause([KafkaTopicPartition(t, p) for t, p in sorted(self.assignment)])
        deadline = time.monotonic() + self._flush_timeout
        # An earlier asynchronous commit still unanswered is awaited first: its answer counts.
        self._await_commit_answer(deadline)
        if self._commit_sent is None:
            self.commit(self.assignment, wait=False)
            self._await_commit_answer(deadline)
        if self._commit_sent is not None:
            self._commit_sent = None
            self.metrics.commit(False, self._flush_timeout)
            log.warning(
                "task %s: the offset commit was not confirmed %s; the partitions' next owner "
                "starts from the last committed offsets and may read records again",
                self.id,
                "before the task was cancelled"
                if self.cancelled
                else f"within offset.flush.timeout.ms ({round(self._flush_timeout * 1000)} ms)",
            )

    def _await_commit_answer(self, deadline: float) -> None:
        """Serve the consumer's callbacks until the commit sent has its answer, `deadline`
        passes or the task is cancelled (a stop that overran its graceful timeout waits for
        nothing more); every partition is paused, so nothing is read meanwhile."""
        while self._commit_sent is not None and not self.cancelled and time.monotonic() < deadline:
            self._consumer.consume(1, min(0.1, max(0.0, deadline - time.monotonic())))

    def _on_commit(self, err: KafkaError | None, partitions: list[Any]) -> None:
        """The commit callback (inside `consume()`, on the task thread): count what committed.
        While the consumer leaves on its helper thread it does nothing: the task thread may be
        forgetting the same positions, and nothing reads them after the close."""
        if self._leaving:
            return
        sent = self._commit_sent
        self._commit_sent = None
        took = 0.0 if sent is None else time.monotonic() - sent
        failed = [tp for tp in partitions if tp.error is not None]
        if err is not None or failed:
            self.metrics.commit(False, took)
            log.warning(
                "task %s: offset commit failed, will retry: %s",
                self.id,
                err if err is not None else failed[0].error,
            )
            return
        if sent is None:
            return  # a synchronous commit's answer: counted where it was made
        self.metrics.commit(True, took)
        self._positions.mark_committed(
            {
                (tp.topic, tp.partition): tp.offset
                for tp in partitions
                if TopicPartition(tp.topic, tp.partition) in self.assignment
            }
        )

    # --- rebalance callbacks (on the task thread, inside consume())
    def _on_assign(self, consumer: Any, partitions: list[Any]) -> None:
        added = [TopicPartition(p.topic, p.partition) for p in partitions]
        self.assignment.update(added)
        self.task.open(added)
        self.apply_pauses()

    def _leave(self, consumer: Any) -> None:
        """Close the consumer on a helper thread and wait for it up to CONSUMER_CLOSE_TIMEOUT_S,
        or until the task is cancelled; a close not done by then finishes on its own."""
        self._leaving = True
        closer = threading.Thread(
            target=self._close_consumer, args=(consumer,), name=f"{self.id}-close", daemon=True
        )
        closer.start()
        deadline = time.monotonic() + CONSUMER_CLOSE_TIMEOUT_S
        while closer.is_alive() and not self.cancelled and time.monotonic() < deadline:
            closer.join(_CLOSE_POLL_S)
        if closer.is_alive():
            log.warning(
                "task %s: its consumer has not left the group yet (%s); the task closes without "
                "waiting for it, and the group moves its partitions once it leaves or its session "
                "times out",
                self.id,
                "the task was cancelled"
                if self.cancelled
                else f"after {CONSUMER_CLOSE_TIMEOUT_S:.0f} s",
            )

    def _close_consumer(self, consumer: Any) -> None:
        set_task_context(self.id.connector, self.id.task)
        try:
            consumer.close()
        except (KafkaException, RuntimeError) as e:
            log.warning("task %s: closing its consumer failed: %s", self.id, e)

    def _on_revoke(self, consumer: Any, partitions: list[Any]) -> None:
        if self._leaving:
            return  # the task thread closes what is left after the leave
        revoked = [TopicPartition(p.topic, p.partition) for p in partitions]
        if not self.failed and not self.cancelled and not self._closing:
            self.commit(revoked)
        self.task.close(revoked)
        self._forget(revoked)

    def _on_lost(self, consumer: Any, partitions: list[Any]) -> None:
        if self._leaving:
            return
        lost = [TopicPartition(p.topic, p.partition) for p in partitions]
        self.task.close(lost)
        self._forget(lost)

    def _forget(self, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            self.assignment.discard(tp)
        self._positions.forget((tp.topic, tp.partition) for tp in partitions)
        if self._undelivered:
            # Their next owner reads them again from the committed offset.
            self._undelivered = assigned_only(self._undelivered, self.assignment)

    def _on_message_error(self, err: KafkaError) -> None:
        if self._fall_back_to_classic(err):
            return
        hint = client_errors.authorization_hint(err.code())
        if hint is not None:
            raise ConnectError(f"consumer error: {hint} ({err})")
        if err.fatal() or not err.retriable():
            if err.code() in (KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._PARTITION_EOF):
                log.info("task %s consumer: %s", self.id, err)
                return
            raise ConnectError(f"consumer error: {err}")
        log.warning("task %s consumer: %s", self.id, err)

    def _on_client_error(self, err: KafkaError) -> None:
        self._client_failures(err)
        log.warning("task %s consumer: %s", self.id, err)


def _consumed(msg: Any) -> ConsumedRecord:
    ts_type, ts = msg.timestamp()
    return ConsumedRecord(
        msg.topic(),
        msg.partition(),
        msg.offset(),
        ts if ts_type else None,
        _TIMESTAMP_TYPES.get(ts_type, TimestampType.CREATE_TIME),
        msg.key(),
        msg.value(),
        msg.headers(),
    )


def _librdkafka_regex(pattern: str) -> str:
    """librdkafka takes a subscription starting with `^` as a regex; Java matches whole names."""
    body = pattern.removeprefix("^").removesuffix("$")
    return f"^(?:{body})$"
