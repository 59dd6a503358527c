"""A sink task's dead-letter queue: failed records, byte for byte, in a Kafka topic.

`errors.deadletterqueue.topic.name` names the topic; it is created at task start when missing,
with one partition and `errors.deadletterqueue.topic.replication.factor` replicas, as Kafka
Connect does. A record sent there keeps the key, value, headers and timestamp it was read with,
untouched by converters or transforms, so it can be replayed as it was. With
`errors.deadletterqueue.context.headers.enable`, Kafka Connect's `__connect.errors.*` headers
say where it came from and why it failed; a header the record already carries under one of those
names is kept and not repeated.

**A record is never lost between the task and the queue.** The queue's producer is flushed
before the task commits offsets (`flush`), and a record the queue did not take fails the task
instead of being committed past: the failed record is read again after a restart.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from kconnect.api.types import TaskId
from kconnect.errors import ConnectError
from kconnect.worker import client_errors
from kconnect.worker.error_handling import ProcessingContext, class_name_of
from kconnect.worker.task import CLIENT_LOG, format_trace
from kconnect.worker.task_metrics import TaskMetrics

log = logging.getLogger(__name__)

HEADER_PREFIX = "__connect.errors."
ORIG_TOPIC = HEADER_PREFIX + "topic"
ORIG_PARTITION = HEADER_PREFIX + "partition"
ORIG_OFFSET = HEADER_PREFIX + "offset"
CONNECTOR_NAME = HEADER_PREFIX + "connector.name"
TASK_ID = HEADER_PREFIX + "task.id"
STAGE = HEADER_PREFIX + "stage"
EXECUTING_CLASS = HEADER_PREFIX + "class.name"
EXCEPTION = HEADER_PREFIX + "exception.class.name"
EXCEPTION_MESSAGE = HEADER_PREFIX + "exception.message"
EXCEPTION_STACKTRACE = HEADER_PREFIX + "exception.stacktrace"

TOPIC_KEY = "errors.deadletterqueue.topic.name"
REPLICATION_KEY = "errors.deadletterqueue.topic.replication.factor"
_METADATA_TIMEOUT_S = 30.0


def context_headers(
    context: ProcessingContext, redact: Callable[[str], str] = str
) -> list[tuple[str, bytes]]:
    """The `__connect.errors.*` headers for a failure, values as UTF-8 text like Java's; the
    error's message and trace with config provider variables put back (`redact`)."""
    c = context.consumed
    topic, partition, offset = (c.topic, c.partition, c.offset) if c else ("", -1, -1)
    error = context.error
    return [
        (ORIG_TOPIC, topic.encode()),
        (ORIG_PARTITION, str(partition).encode()),
        (ORIG_OFFSET, str(offset).encode()),
        (CONNECTOR_NAME, context.task_id.connector.encode()),
        (TASK_ID, str(context.task_id.task).encode()),
        (STAGE, context.stage.value.encode()),
        (EXECUTING_CLASS, context.class_name.encode()),
        (EXCEPTION, class_name_of(error).encode()),
        (EXCEPTION_MESSAGE, redact(str(error)).encode()),
        (EXCEPTION_STACKTRACE, redact(format_trace(error)).encode()),
    ]


def ensure_topic(
    admin_config: Mapping[str, str],
    topic: str,
    replication_factor: int,
    timeout: float = _METADATA_TIMEOUT_S,
) -> None:
    """Create the queue's topic when it is missing; an error names the key to fix. A client that
    cannot log in (wrong password, refused certificate ...) fails at once, saying which."""
    failures = client_errors.Failures(admin_config)
    conf: dict[str, Any] = {**admin_config, "error_cb": failures}
    admin = AdminClient(conf)
    deadline = time.monotonic() + timeout
    while True:
        admin.poll(0)  # serves error_cb, which an admin client calls only when polled
        if failures.reason is not None:
            raise ConnectError(f"{TOPIC_KEY}={topic}: cannot use Kafka: {failures.reason}")
        try:
            # All topics, not `topic=`: a metadata request for one topic may auto-create it on
            # brokers with auto.create.topics.enable, with the broker's defaults.
            metadata = admin.list_topics(timeout=min(1.0, max(0.1, deadline - time.monotonic())))
            break
        except KafkaException as e:
            if time.monotonic() >= deadline:
                raise ConnectError(
                    f"{TOPIC_KEY}={topic}: cannot read the topic's metadata: {e}"
                ) from None
    found = metadata.topics.get(topic)
    if found is not None and found.error is None and found.partitions:
        return
    log.info("Topic %s doesn't exist. Will attempt to create topic.", topic)
    futures = admin.create_topics(
        [NewTopic(topic, num_partitions=1, replication_factor=replication_factor)]
    )
    for future in futures.values():
        try:
            future.result(timeout=30)
        except KafkaException as e:
            err = e.args[0] if e.args else None
            if isinstance(err, KafkaError) and err.code() == KafkaError.TOPIC_ALREADY_EXISTS:
                return
            hint = client_errors.exception_hint(e)
            raise ConnectError(
                f"Could not initialize dead letter queue with {TOPIC_KEY}={topic} and "
                f"{REPLICATION_KEY}={replication_factor}: "
                + (f"{hint}: Create on the topic, or create it beforehand: " if hint else "")
                + str(e)
            ) from None


class DeadLetterQueueReporter:
    """Writes failed records to the queue. Made, used and closed on the task's thread."""

    def __init__(
        self,
        task_id: TaskId,
        topic: str,
        *,
        context_headers_enabled: bool,
        producer_config: Mapping[str, str],
        metrics: TaskMetrics,
        redact: Callable[[str], str] = str,
    ) -> None:
        self._task_id = task_id
        self._redact = redact
        self._topic = topic
        self._context_headers = context_headers_enabled
        self._metrics = metrics
        conf: dict[str, Any] = dict(producer_config)
        conf["client.id"] = f"connector-dlq-producer-{task_id.connector}-{task_id.task}"
        conf["logger"] = CLIENT_LOG
        conf["on_delivery"] = self._on_delivery
        self._producer: Any = Producer(conf)
        self._error: KafkaError | None = None

    @property
    def topic(self) -> str:
        return self._topic

    def report(self, context: ProcessingContext) -> None:
        self._metrics.deadletterqueue_produce_requests += 1
        consumed = context.consumed
        if consumed is None:
            # Only records read from Kafka have original bytes to keep.
            self._metrics.deadletterqueue_produce_failures += 1
            return
        headers = list(consumed.headers or [])
        if self._context_headers:
            present = {k for k, _ in headers}
            for key, value in context_headers(context, self._redact):
                if key in present:
                    log.error("Header already contains the '%s' key.", key)
                    continue
                headers.append((key, value))
        kwargs: dict[str, Any] = {"headers": headers} if headers else {}
        if consumed.timestamp is not None:
            kwargs["timestamp"] = consumed.timestamp
        while True:
            try:
                self._producer.produce(self._topic, consumed.value, consumed.key, **kwargs)
                break
            except BufferError:
                self._producer.poll(0.1)
        self._producer.poll(0)

    def flush(self, timeout_s: float) -> bool:
        """Wait up to `timeout_s` for every record sent to be acknowledged. False when some are
        still in flight (commit later); raises when the queue refused one."""
        remaining = self._producer.flush(timeout_s)
        if self._error is not None:
            raise ConnectError(
                f"Could not produce message to dead letter queue. topic={self._topic}: "
                f"{self._error}; offsets are not committed past the failed record"
            )
        return bool(remaining == 0)

    def close(self) -> None:
        self._producer.flush(0)
        self._producer = None

    def _on_delivery(self, err: KafkaError | None, msg: Any) -> None:
        if err is not None:
            self._metrics.deadletterqueue_produce_failures += 1
            log.error(
                "Could not produce message to dead letter queue. topic=%s: %s", self._topic, err
            )
            if self._error is None:
                self._error = err
