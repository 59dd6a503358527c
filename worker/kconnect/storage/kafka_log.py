"""A topic read from the beginning and kept up with: Kafka Connect's `KafkaBasedLog`.

The distributed worker keeps its configs, offsets and statuses in compacted topics. Every
worker reads each of them whole, folds the records into memory, and keeps reading. A `KafkaLog`
is that reader plus a producer for writing back.

Invariants:
- One consumer, created by `start` and then owned by the reader thread alone: no other thread
  ever touches it. It `assign()`s every partition of the topic from the beginning; it joins no
  group and commits nothing. `group.id` is set only because librdkafka requires one, and it
  still looks the group's coordinator up, which needs `Describe` on the group: so the worker
  gives its own `group.id` (`reader_group`), whose ACL it has anyway (docs/security.md).
- `on_record` runs on the reader thread, in offset order within a partition. An exception from
  it is logged and the record counts as read; the thread carries on.
- `read_to_end` is a barrier: it asks the broker for the end offsets *now* (with the admin
  client, so the reader thread is never interrupted) and waits until the reader thread has
  handed every record before them to `on_record`. Positions advance on records and on
  librdkafka's end-of-partition events, so gaps (compacted records, transaction markers) never
  hold the barrier up.
- Asking for end offsets survives moving leaders. After a broker restart, a leader election or a
  reassignment, an admin client's cached metadata names old leaders and leader epochs, and
  librdkafka keeps sending ListOffsets with them (`FENCED_LEADER_EPOCH`, `NOT_LEADER...`) until
  the request times out, and again until its periodic metadata refresh
  (`topic.metadata.refresh.interval.ms`, 5 minutes by default). So each round is bounded by
  `_ATTEMPT_S`, and after a leader error or a round without an answer the admin client is
  replaced by a fresh one, whose first metadata request names the current leaders; rounds are
  spaced by a bounded backoff (`backoff_s`). This is Java's fix for the same loop (KAFKA-9535:
  refresh metadata before retrying a ListOffsets that failed on a leader error).
- A wait can be cut short: `read_to_end(..., interrupted=...)` raises `ReadInterrupted` as soon as
  the predicate is true (a worker that is shutting down does not wait for a slow broker).
- One producer (`acks=all`, idempotent), safe to use from any thread. Records with a key are
  partitioned by murmur2, as Java's producer does, so both runtimes put a key in the same
  partition.
- Every wait is bounded and raises `TimeoutError` when its time is up.
- A reader that may not read (a missing ACL on the topic, or `Describe` on `reader_group`) stops
  and fails every `read_to_end` with a `ConnectError` saying so. `start` returns only once the
  reader has fetched from every partition at least once (a record or the end-of-partition
  event), so an empty topic it may not read fails `start` too, instead of seeming read.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from typing import Any

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    IsolationLevel,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AdminClient,
    OffsetSpec,
)

from kconnect.errors import ConnectError

log = logging.getLogger(__name__)
librdkafka_log = logging.getLogger("kconnect.librdkafka")

RecordCallback = Callable[[bytes | None, bytes | None, int, int], None]
"""`on_record(key, value, partition, offset)`."""

_POLL_S = 0.1
_ATTEMPT_S = 5.0
"""Bound of one round of ListOffsets: waiting longer on stale leaders never helps."""
# Errors no retry fixes: what the principal lacks an ACL on.
_AUTHORIZATION = {
    KafkaError.TOPIC_AUTHORIZATION_FAILED: "the topic",
    KafkaError.GROUP_AUTHORIZATION_FAILED: "its consumer group (the worker's group.id)",
}
_BACKOFF_FIRST_S = 0.1
_BACKOFF_MAX_S = 2.0
# Errors that mean the client's metadata names the wrong leader or leader epoch: a fresh client
# asks for metadata first and gets it right.
_LEADER_ERRORS = frozenset(
    {
        KafkaError.NOT_LEADER_FOR_PARTITION,
        KafkaError.LEADER_NOT_AVAILABLE,
        KafkaError.FENCED_LEADER_EPOCH,
        KafkaError.UNKNOWN_LEADER_EPOCH,
        KafkaError.UNKNOWN_TOPIC_OR_PART,
        KafkaError.REQUEST_TIMED_OUT,
        KafkaError._TIMED_OUT,
        KafkaError._TRANSPORT,
    }
)
# Errors the admin client reports without marking them retriable, though they pass on their own.
_RETRIABLE = frozenset(
    {
        KafkaError.NOT_LEADER_FOR_PARTITION,
        KafkaError.LEADER_NOT_AVAILABLE,
        KafkaError.UNKNOWN_TOPIC_OR_PART,
        KafkaError.FENCED_LEADER_EPOCH,
        KafkaError.UNKNOWN_LEADER_EPOCH,
        KafkaError.OFFSET_NOT_AVAILABLE,
        KafkaError.REQUEST_TIMED_OUT,
        KafkaError._TRANSPORT,
        KafkaError._TIMED_OUT,
    }
)
_BATCH = 500


def backoff_s(attempt: int) -> float:
    """The pause before retry `attempt` (0 for the first): doubling from 0.1 s, at most 2 s."""
    return min(_BACKOFF_FIRST_S * float(2 ** min(max(attempt, 0), 16)), _BACKOFF_MAX_S)


def _never() -> bool:
    return False


class ReadInterrupted(ConnectError):
    """A wait on the log was cut short because its caller is stopping."""


def _error_cb(err: KafkaError) -> None:
    if err.fatal():
        librdkafka_log.error("fatal client error: %s", err)
    else:
        librdkafka_log.warning("client error: %s", err)


def _client_config(base: Mapping[str, str], **fixed: object) -> dict[str, Any]:
    """The caller's librdkafka config, with this log's fixed settings and logging hooks."""
    conf: dict[str, Any] = dict(base)
    conf.update(fixed)
    conf["logger"] = librdkafka_log
    conf["error_cb"] = _error_cb
    return conf


class KafkaLog:
    """Reads `topic` from the beginning into `on_record`, and writes records to it."""

    def __init__(
        self,
        topic: str,
        *,
        client_config: Mapping[str, str],
        on_record: RecordCallback,
        name: str,
        reader_group: str | None = None,
    ) -> None:
        self.topic = topic
        self.name = name
        self._reader_group = reader_group or f"kconnect-log-{name}"
        self._on_record = on_record
        self._client_config = dict(client_config)
        self._cond = threading.Condition()
        self._positions: dict[int, int] = {}  # next offset to read, per partition
        self._partitions: list[int] = []
        # Failed sends since the last flush: how many, and the first one's error.
        self._failed = 0
        self._first_failure: KafkaError | None = None
        self._stopping = threading.Event()
        self._reader_error: BaseException | None = None
        self._fetched: set[int] = set()  # partitions the reader has fetched from at least once
        self._thread: threading.Thread | None = None
        self._consumer: Consumer | None = None
        self._admin = self._new_admin()
        self._producer = Producer(
            _client_config(
                self._client_config,
                **{
                    "client.id": f"{name}-producer",
                    "acks": "all",
                    "enable.idempotence": "true",
                    "partitioner": "murmur2_random",
                    "linger.ms": "0",
                },
            )
        )

    def _new_admin(self) -> AdminClient:
        # The admin client is a producer inside librdkafka, which would have the broker create
        # a missing topic when asked for its metadata; internal topics are created on purpose.
        return AdminClient(
            _client_config(
                self._client_config,
                **{"client.id": self.name, "allow.auto.create.topics": "false"},
            )
        )

    @property
    def partitions(self) -> list[int]:
        """The topic's partitions, as found by `start`."""
        return list(self._partitions)

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self, timeout: float = 60.0) -> None:
        """Find the partitions, start the reader thread and read to the end; or raise.

        The topic must exist: a missing topic raises `ConnectError` once `timeout` is up, like
        Java's "Could not look up partition metadata" (it is usually still being created).
        """
        if self._thread is not None:
            raise RuntimeError(f"{self.name}: already started")
        deadline = time.monotonic() + timeout
        self._partitions = self._find_partitions(deadline)
        consumer = Consumer(
            _client_config(
                self._client_config,
                **{
                    "client.id": f"{self.name}-consumer",
                    "group.id": self._reader_group,
                    "enable.auto.commit": "false",
                    "enable.auto.offset.store": "false",
                    "enable.partition.eof": "true",
                    "auto.offset.reset": "earliest",
                    "isolation.level": "read_committed",
                },
            )
        )
        consumer.assign([TopicPartition(self.topic, p, OFFSET_BEGINNING) for p in self._partitions])
        with self._cond:
            self._positions = dict.fromkeys(self._partitions, 0)
        self._consumer = consumer
        self._thread = threading.Thread(
            target=self._run, name=f"kafka-log-{self.name}", daemon=True
        )
        self._thread.start()
        try:
            self.read_to_end(max(deadline - time.monotonic(), 0.0))
            self._wait_fetched(deadline)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop reading, deliver what was sent (bounded), and release the clients."""
        self._stopping.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout=30.0)
            if thread.is_alive():
                log.error("%s: reader thread did not stop within 30s", self.name)
        remaining = self._producer.flush(10.0)
        if remaining:
            log.error("%s: %d records were not delivered before stopping", self.name, remaining)

    def _find_partitions(self, deadline: float) -> list[int]:
        last: object = None
        while True:
            try:
                metadata = self._admin.list_topics(
                    topic=self.topic, timeout=max(min(deadline - time.monotonic(), 5.0), 0.1)
                )
                found = metadata.topics.get(self.topic)
                if found is not None and found.error is None and found.partitions:
                    return sorted(found.partitions)
                last = None if found is None else found.error
            except KafkaException as e:
                last = e
            if time.monotonic() >= deadline:
                raise ConnectError(
                    f"{self.name}: could not look up the partitions of topic {self.topic!r} in "
                    f"the allotted time ({last}). The broker may be unreachable, or the topic "
                    "missing or still being created."
                )
            time.sleep(0.2)

    # -- reading -----------------------------------------------------------------------------

    def _run(self) -> None:
        consumer = self._consumer
        assert consumer is not None
        try:
            while not self._stopping.is_set():
                messages = consumer.consume(_BATCH, _POLL_S)
                self._producer.poll(0)  # serve delivery reports of async sends
                if messages:
                    self._handle(messages)
        except BaseException as e:
            if isinstance(e, ConnectError):
                # A missing ACL: the message says it all, a traceback would only hide it.
                log.error("%s: reader thread stopped: %s", self.name, e)  # noqa: TRY400
            else:
                log.exception("%s: reader thread failed", self.name)
            with self._cond:
                self._reader_error = e
                self._cond.notify_all()
        finally:
            try:
                consumer.close()
            except (KafkaException, RuntimeError):
                log.exception("%s: closing the consumer failed", self.name)

    def _wait_fetched(self, deadline: float) -> None:
        with self._cond:
            while not self._fetched.issuperset(self._partitions):
                if self._reader_error is not None:
                    raise ConnectError(
                        f"{self.name}: the reader of topic {self.topic!r} failed: "
                        f"{self._reader_error}"
                    )
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"{self.name}: topic {self.topic!r} not fetched to its end in time"
                    )
                self._cond.wait(min(remaining, 0.2))

    def _handle(self, messages: list[Message]) -> None:
        advanced: dict[int, int] = {}
        for msg in messages:
            partition = msg.partition()
            offset = msg.offset()
            err = msg.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    if partition is not None and offset is not None:
                        advanced[partition] = max(advanced.get(partition, 0), offset)
                elif err.code() in _AUTHORIZATION:
                    raise ConnectError(
                        f"cannot read topic {self.topic!r}: missing ACL: the worker's principal "
                        f"is not allowed to use {_AUTHORIZATION[err.code()]} ({err.str()}); "
                        "grant it the ACLs a Connect worker needs (see docs/security.md)"
                    )
                else:
                    log.warning("%s: error reading topic %r: %s", self.name, self.topic, err)
                continue
            if partition is None or offset is None:
                continue
            try:
                self._on_record(msg.key(), msg.value(), partition, offset)
            except Exception:
                log.exception(
                    "%s: handling record %s-%d@%d failed; skipped",
                    self.name,
                    self.topic,
                    partition,
                    offset,
                )
            advanced[partition] = max(advanced.get(partition, 0), offset + 1)
        if advanced:
            with self._cond:
                self._fetched.update(advanced)
                for partition, position in advanced.items():
                    if position > self._positions.get(partition, 0):
                        self._positions[partition] = position
                self._cond.notify_all()

    def end_offsets(
        self, timeout: float = 30.0, *, interrupted: Callable[[], bool] = _never
    ) -> dict[int, int]:
        """The offset after the last committed record of each partition, as of now.

        Partitions whose leader is moving or not yet known (retriable errors) are asked again,
        with fresh metadata after a leader error, until `timeout` (`TimeoutError`) or until
        `interrupted()` (`ReadInterrupted`).
        """
        deadline = time.monotonic() + timeout
        out: dict[int, int] = {}
        attempt = 0
        while True:
            if interrupted():
                raise ReadInterrupted(f"{self.name}: reading topic {self.topic!r} interrupted")
            last: KafkaError | str | None = None
            stale = False
            admin = self._admin
            bound = max(min(deadline - time.monotonic(), _ATTEMPT_S), 0.1)
            futures = admin.list_offsets(
                {
                    TopicPartition(self.topic, p): OffsetSpec.latest()  # type: ignore[no-untyped-call]
                    for p in self._partitions
                    if p not in out
                },
                isolation_level=IsolationLevel.READ_COMMITTED,
                request_timeout=bound,
            )
            answer_by = time.monotonic() + bound + 1.0
            for tp, future in futures.items():
                try:
                    out[tp.partition] = future.result(
                        timeout=max(answer_by - time.monotonic(), 0.1)
                    ).offset
                except TimeoutError:
                    last, stale = f"no answer within {bound:.1f}s", True
                except KafkaException as e:
                    err = e.args[0] if e.args else None
                    if not isinstance(err, KafkaError) or not (
                        err.retriable() or err.code() in _RETRIABLE
                    ):
                        raise ConnectError(
                            f"{self.name}: cannot read the end offsets of topic {self.topic!r}: {e}"
                        ) from None
                    last = err
                    stale = stale or err.code() in _LEADER_ERRORS
            if last is None:
                return out
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"{self.name}: end offsets of topic {self.topic!r} not known after "
                    f"{timeout:.1f}s: {last}"
                )
            if stale and admin is self._admin:
                log.info(
                    "%s: end offsets of topic %r: %s; retrying with fresh metadata",
                    self.name,
                    self.topic,
                    last,
                )
                self._admin = self._new_admin()
            time.sleep(min(backoff_s(attempt), max(deadline - time.monotonic(), 0.0)))
            attempt += 1

    def read_to_end(
        self, timeout: float = 30.0, *, interrupted: Callable[[], bool] = _never
    ) -> None:
        """Return once every record before the current end offsets went to `on_record`.

        `TimeoutError` after `timeout`; `ReadInterrupted` as soon as `interrupted()` is true.
        """
        if self._thread is None:
            raise RuntimeError(f"{self.name}: read_to_end before start")
        deadline = time.monotonic() + timeout
        targets = self.end_offsets(timeout, interrupted=interrupted)
        with self._cond:
            while True:
                if self._reader_error is not None:
                    raise ConnectError(
                        f"{self.name}: the reader of topic {self.topic!r} failed: "
                        f"{self._reader_error}"
                    )
                behind = {
                    p: (self._positions.get(p, 0), end)
                    for p, end in targets.items()
                    if self._positions.get(p, 0) < end
                }
                if not behind:
                    return
                if interrupted():
                    raise ReadInterrupted(f"{self.name}: reading topic {self.topic!r} interrupted")
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._stopping.is_set():
                    raise TimeoutError(
                        f"{self.name}: topic {self.topic!r} not read to its end within "
                        f"{timeout:.1f}s; (position, end) per partition still behind: {behind}"
                    )
                self._cond.wait(min(remaining, 0.2))

    # -- writing -----------------------------------------------------------------------------

    def send(
        self, key: bytes | None, value: bytes | None, partition: int | None = None
    ) -> Future[tuple[int, int]]:
        """Send a record asynchronously; the future resolves to its (partition, offset).

        A failed delivery is also kept for the next `flush` to raise, so a caller that ignores
        the future still learns of it.
        """
        future: Future[tuple[int, int]] = Future()

        def delivered(err: KafkaError | None, msg: Message) -> None:
            if err is not None:
                with self._cond:
                    self._failed += 1
                    if self._first_failure is None:
                        self._first_failure = err
                log.error(
                    "%s: a record to topic %r was not delivered: %s", self.name, self.topic, err
                )
                future.set_exception(
                    ConnectError(f"{self.name}: write to topic {self.topic!r} failed: {err}")
                )
            else:
                future.set_result((msg.partition() or 0, msg.offset() or 0))

        kwargs: dict[str, Any] = {"key": key, "value": value, "on_delivery": delivered}
        if partition is not None:
            kwargs["partition"] = partition
        while True:
            try:
                self._producer.produce(self.topic, **kwargs)
                break
            except BufferError:
                # The local queue is full: serve delivery reports to make room, then retry.
                self._producer.poll(_POLL_S)
        self._producer.poll(0)
        return future

    def send_and_wait(
        self,
        key: bytes | None,
        value: bytes | None,
        partition: int | None = None,
        timeout: float = 30.0,
    ) -> tuple[int, int]:
        """Send a record and return its acknowledged (partition, offset); or raise."""
        return self.wait([self.send(key, value, partition)], timeout)[0]

    def wait(
        self, futures: Sequence[Future[tuple[int, int]]], timeout: float = 30.0
    ) -> list[tuple[int, int]]:
        """Wait for these sends: their (partition, offset)s, or the first failure's error."""
        deadline = time.monotonic() + timeout
        while not all(f.done() for f in futures):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                pending = sum(not f.done() for f in futures)
                raise TimeoutError(
                    f"{self.name}: {pending} writes to topic {self.topic!r} not acknowledged "
                    f"within {timeout:.1f}s"
                )
            self._producer.poll(min(remaining, _POLL_S))
        return [f.result() for f in futures]

    def flush(self, timeout: float = 30.0) -> None:
        """Return once every record sent so far is acknowledged; raise if any failed."""
        remaining = self._producer.flush(timeout)
        if remaining:
            raise TimeoutError(
                f"{self.name}: {remaining} records to topic {self.topic!r} not acknowledged "
                f"within {timeout:.1f}s"
            )
        with self._cond:
            failed, first = self._failed, self._first_failure
            self._failed, self._first_failure = 0, None
        if failed:
            raise ConnectError(
                f"{self.name}: {failed} writes to topic {self.topic!r} failed; the first: {first}"
            )
