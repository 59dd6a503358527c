"""Running a source task exactly once (KIP-618): records and their offsets in one transaction.

On a worker with `exactly.once.source.support=enabled` each source task has a transactional
producer whose `transactional.id` is Kafka Connect's, `<group.id>-<connector>-<task>`. Its
`init_transactions` fences off any older producer with the same id (a zombie copy of the task on
a worker that lost it), and aborts what that producer left open. Every record the task sends is
written inside a transaction, and the source offsets of those records are written to the offsets
topic, in Kafka Connect's format and in the partition Java's partitioner gives their key, inside
the same transaction. A consumer reading `read_committed` sees a record only once its offset is
committed too, so a task restarted anywhere resumes exactly after the last committed record.
With the connector's own `offsets.storage.topic` the transaction writes there, and a copy goes to
the worker's topic after the commit (`storage.connector_offsets`).

Offsets a user alters or resets through the REST API are written the same way, in a transaction
of task 0's transactional id (`write_offsets_in_transaction`), once the herder has fenced the
connector's tasks.

Boundaries (`transaction.boundary`): `poll` commits after every batch `poll` returns; `interval`
once `transaction.boundary.interval.ms` (default `offset.flush.interval.ms`) has passed since the
transaction began; `connector` when the task asks through its `TransactionContext`.

The task reads its offsets only once its producer is initialized: `init_transactions` waits for
what an older instance was committing, so the task resumes after the last committed transaction
of any instance. A failed commit or abort fails the task, and nothing past it is committed: the
broker aborts the transaction. The task's trace says when its producer was fenced, also when the
broker answered the fenced commit with UNKNOWN_SERVER_ERROR (`was_fenced`). A task stopped
gracefully commits its open transaction (`poll`, `interval`) or aborts it (`connector`: the task
never asked for it). A cancelled task (lost assignment) commits and aborts nothing: the task's
next owner fences its producer, which aborts what it left open.
The at-least-once runner (`worker.source`) does none of this, and pays nothing for it.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer

from kconnect.api.records import SourceRecord
from kconnect.api.task import OffsetStorageReader, SourceTaskContext, TransactionContext
from kconnect.api.types import ConnectorName, SourceOffset, SourcePartition, TaskId, TaskNumber
from kconnect.config.connector import TransactionBoundary
from kconnect.errors import ConnectError
from kconnect.storage.connector_offsets import ConnectorOffsetStore
from kconnect.storage.kafka_log import ReadInterrupted
from kconnect.storage.kafka_offsets import KafkaOffsetStore
from kconnect.storage.offsets import key_partition, serialize_key, serialize_value
from kconnect.worker.source import SourceTaskRunner, _Context, _OffsetReader
from kconnect.worker.task import CLIENT_LOG
from kconnect.worker.task_metrics import TransactionMetrics

log = logging.getLogger(__name__)

TRANSACTION_TIMEOUT_S = 60.0
"""How long one `init_transactions`, `commit_transaction` or `abort_transaction` may take."""


def task_transactional_id(group_id: str, connector: str, task: int) -> str:
    """Kafka Connect's `Worker.taskTransactionalId`: `<group.id>-<connector>-<task>`."""
    return f"{group_id}-{connector}-{task}"


def transactional_id_error(transactional_id: str, error: BaseException) -> str:
    """What went wrong with a transactional producer of `transactional_id`, for people: a
    missing ACL (TRANSACTIONAL_ID_AUTHORIZATION_FAILED) names the id and the ACL to grant;
    anything else is the client's own message. Holds no secret: neither the id nor librdkafka's
    error text holds one."""
    cause = error.args[0] if isinstance(error, KafkaException) and error.args else error
    if isinstance(cause, KafkaError):
        if cause.code() == KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED:
            return (
                "missing ACL: the client's principal is not allowed to use the transactional id "
                f"{transactional_id!r}: grant it Write and Describe on the TransactionalId "
                f"{transactional_id!r} (a prefixed ACL on the worker's '<group.id>-' covers "
                "every task; see docs/security.md) "
                f"({cause.name()}: {cause.str()})"
            )
        if cause.code() == KafkaError.CLUSTER_AUTHORIZATION_FAILED:
            return (
                f"missing ACL: the transactional producer {transactional_id!r} may not write "
                "idempotently: grant the principal Write on the topics (Kafka 2.8 and later) "
                "or IdempotentWrite on the cluster; see docs/security.md "
                f"({cause.name()}: {cause.str()})"
            )
        return f"transactional id {transactional_id!r}: {cause.name()}: {cause.str()}"
    return f"transactional id {transactional_id!r}: {cause}"


def exactly_once_producer_config(
    producer_config: Mapping[str, str], transactional_id: str, task: TaskId
) -> dict[str, str]:
    """The task's producer config with what exactly-once delivery requires, as Java's
    `exactlyOnceSourceTaskProducerConfigs` forces it: idempotence on, acks from every replica,
    and the task's transactional id. A user value that contradicts them is overridden, with a
    warning naming it."""
    conf = dict(producer_config)
    required = {"enable.idempotence": "true", "acks": "all", "transactional.id": transactional_id}
    for key, value in required.items():
        given = conf.get(key)
        same = given is None or given.strip().lower() == value.lower()
        if key == "acks" and given is not None and given.strip() == "-1":
            same = True
        if not same:
            log.warning(
                "task %s: producer %s=%r overridden with %r: exactly-once source delivery "
                "requires it",
                task,
                key,
                given,
                value,
            )
        conf[key] = value
    return conf


class _Requests(TransactionContext):
    """What the task asked of its transactions; read and cleared on the task thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.commit_all = False
        self.abort_all = False
        # By identity; the records are held so that no other object takes their ids.
        self.commit_at: dict[int, SourceRecord] = {}
        self.abort_at: dict[int, SourceRecord] = {}

    def commit_transaction(self, record: SourceRecord | None = None) -> None:
        with self._lock:
            if record is None:
                self.commit_all = True
            else:
                self.commit_at[id(record)] = record

    def abort_transaction(self, record: SourceRecord | None = None) -> None:
        with self._lock:
            if record is None:
                self.abort_all = True
            else:
                self.abort_at[id(record)] = record

    def cut(self, records: Sequence[SourceRecord]) -> tuple[int, str | None]:
        """Where the batch must be cut: (records up to the cut, "commit"/"abort"/None)."""
        with self._lock:
            if not self.commit_at and not self.abort_at:
                return len(records), None
            for i, record in enumerate(records):
                key = id(record)
                commit, abort = key in self.commit_at, key in self.abort_at
                if commit and abort:
                    raise ConnectError(
                        "the task requested both a commit and an abort of the transaction that "
                        "ends with the same record"
                    )
                if commit or abort:
                    self.commit_at.pop(key, None)
                    self.abort_at.pop(key, None)
                    return i + 1, "commit" if commit else "abort"
            return len(records), None

    def take_batch_request(self) -> str | None:
        """After a batch: "commit", "abort" or None; both at once is an error, as in Java."""
        with self._lock:
            commit, abort = self.commit_all, self.abort_all
            self.commit_all = self.abort_all = False
        if commit and abort:
            raise ConnectError(
                "the task requested both a commit and an abort of the same transaction"
            )
        return "commit" if commit else "abort" if abort else None


class _TransactionalContext(_Context):
    def __init__(
        self,
        props: Mapping[str, str],
        reader: OffsetStorageReader,
        tx: TransactionContext | None,
    ) -> None:
        super().__init__(props, reader)
        self._tx = tx

    def transaction_context(self) -> TransactionContext | None:
        return self._tx


class ExactlyOnceSourceTaskRunner(SourceTaskRunner):
    # A failure after records were sent in the open transaction: the transaction is not
    # committed (the broker aborts it when the producer goes), so nothing past the failure is.
    commits_after_failure = False

    def __init__(
        self,
        *args: Any,
        transactional_id: str,
        boundary: TransactionBoundary,
        boundary_interval_ms: int,
        is_current: Callable[[], bool] = lambda: True,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        store = self._offsets
        if not isinstance(store, KafkaOffsetStore):
            raise ConnectError(
                "exactly-once source tasks need the offsets topic of a distributed worker"
            )
        self._store: KafkaOffsetStore = store
        """Where the transaction writes offsets: the connector's own topic, else the worker's."""
        self._with_copy: ConnectorOffsetStore | None = None
        """With a connector's own topic: its store, which reads the worker's topic as a fallback
        and copies each commit there, as Kafka Connect does."""
        self._producer_config = exactly_once_producer_config(
            self._producer_config, transactional_id, self.id
        )
        self.transactional_id = transactional_id
        self._boundary = boundary
        self._boundary_interval = boundary_interval_ms / 1000
        self._is_current = is_current
        self._requests = _Requests() if boundary is TransactionBoundary.CONNECTOR else None
        self._in_transaction = False
        self._transaction_began = 0.0
        self._transaction_size = 0
        """Records handed to the producer in the open transaction."""
        self.transaction_metrics = TransactionMetrics()
        self.transactions_committed = 0
        self.transactions_aborted = 0

    # --- lifecycle
    def initialize(self) -> None:
        self._producer = self._make_producer()
        try:
            # Fences every older producer with this id and aborts what it left open.
            self._producer.init_transactions(TRANSACTION_TIMEOUT_S)
        except KafkaException as e:
            raise ConnectError(
                f"the task's transactional producer ({self.transactional_id!r}) could not be "
                f"initialized: {transactional_id_error(self.transactional_id, e)}"
            ) from e
        if not self._is_current():
            # Kafka Connect's postProducerCheck: the task moved, or its configs changed, while
            # the producer was being set up; this copy must not write anything.
            raise ConnectError(
                f"task {self.id} is no longer assigned to this worker in its current generation "
                "of task configs; not starting it"
            )
        # Read the offsets only now: the fencing above waited for whatever an older instance was
        # committing, so the task resumes after the last transaction any instance committed.
        if self._connector_offsets is not None:
            own = self._connector_offsets()
            if isinstance(own, ConnectorOffsetStore) and isinstance(own.primary, KafkaOffsetStore):
                self._offsets, self._store, self._with_copy = own, own.primary, own
        try:
            self._offsets.read_to_end(interrupted=lambda: self.stopping)
        except ReadInterrupted:
            return  # stopping before it started: nothing to do
        reader = _OffsetReader(self._offsets, self.id.connector)
        context: SourceTaskContext = _TransactionalContext(self.task_props, reader, self._requests)
        self.task.initialize(context)
        self.task.start(self.task_props)
        self._next_commit = float("inf")  # offset.flush.interval.ms plays no part here

    def iterate(self) -> None:
        super().iterate()
        if self._in_transaction and self._boundary is TransactionBoundary.INTERVAL:
            if time.monotonic() - self._transaction_began >= self._boundary_interval:
                self.commit()
        elif self._requests is not None:
            request = self._requests.take_batch_request()
            if request == "commit":
                self.commit()
            elif request == "abort":
                self._abort()

    def idle_while_paused(self) -> bool:
        if self._in_transaction and self._boundary is not TransactionBoundary.CONNECTOR:
            self.commit()  # a paused task keeps no transaction open past its timeout
        return super().idle_while_paused()

    def close(self, commit: bool) -> None:
        """A graceful close commits the open transaction (`poll`, `interval`: the base class's
        close calls `commit`) or aborts it (`connector`: the task never asked for it). Without
        `commit`, nothing of it is committed: the next owner's `init_transactions` fences this
        producer and aborts it."""
        try:
            if (
                commit
                and self._producer is not None
                and self._in_transaction
                and self._boundary is TransactionBoundary.CONNECTOR
            ):
                self._abort()
        finally:
            super().close(commit)

    # --- sending
    def _send(self, records: Sequence[SourceRecord]) -> None:
        if self._requests is None:
            self._begin()
            self._send_in_transaction(records)
            if self._boundary is TransactionBoundary.POLL:
                self.commit()
            return
        rest = records
        while rest:
            n, action = self._requests.cut(rest)
            self._begin()
            self._send_in_transaction(rest[:n])
            rest = rest[n:]
            if action == "commit":
                self.commit()
            elif action == "abort":
                self._abort()

    def _send_in_transaction(self, records: Sequence[SourceRecord]) -> None:
        metrics = self.metrics
        written = metrics.source_record_write_total
        super()._send(records)
        self._transaction_size += metrics.source_record_write_total - written

    def _begin(self) -> None:
        if self._in_transaction:
            return
        try:
            self._producer.begin_transaction()
        except KafkaException as e:
            fenced = _names_fencing(_error_of(e))
            raise ConnectError(
                f"could not begin a transaction: {_text(e)}" + (FENCED_HINT if fenced else "")
            ) from e
        self._in_transaction = True
        self._transaction_began = time.monotonic()

    # --- commits
    def commit(self) -> None:
        """Write the offsets of the open transaction's records into it, and commit it."""
        if self.cancelled or not self._in_transaction:
            return
        self._check_delivery()
        began = time.monotonic()
        pending = list(self._pending.values())
        self._pending = {}
        size, self._transaction_size = self._transaction_size, 0
        connector = self.id.connector
        partitions = self._store.partitions
        topic = self._store.topic
        try:
            for partition, offset in pending:
                key = serialize_key(connector, partition)
                self._producer.produce(
                    topic, serialize_value(offset), key, key_partition(key, partitions)
                )
            self._producer.commit_transaction(TRANSACTION_TIMEOUT_S)
        except KafkaException as e:
            self.metrics.commit(False, time.monotonic() - began)
            fenced = was_fenced(e, self._producer, self._delivery_error, abort=True)
            raise ConnectError(
                f"the transaction of task {self.id} could not be committed: {_text(e)}; nothing "
                "past the last committed transaction is committed" + (FENCED_HINT if fenced else "")
            ) from e
        finally:
            self._in_transaction = False
        self._check_delivery()
        self.transactions_committed += 1
        self.transaction_metrics.commit(size)
        if pending:
            self._store.committed(connector, pending)
            if self._with_copy is not None:
                # As Kafka Connect: the worker's topic gets a copy, outside the transaction; a
                # failure there is logged, the connector's own topic is the one read first.
                self._with_copy.copy(connector, pending)
            self.metrics.commit(True, time.monotonic() - began)
        else:
            self.metrics.offset_commit_skip_total += 1
        self.task.commit()

    def _delivery_failure_note(self, error: KafkaError) -> str:
        # A record refused to a fenced producer fails the task before its commit does.
        return "; nothing past the last committed transaction is committed" + (
            FENCED_HINT if _names_fencing(error) else ""
        )

    def _abort(self) -> None:
        if not self._in_transaction:
            return
        self._pending = {}
        self._transaction_size = 0
        try:
            self._producer.abort_transaction(TRANSACTION_TIMEOUT_S)
        except KafkaException as e:
            fenced = was_fenced(e, self._producer, self._delivery_error, abort=False)
            raise ConnectError(
                f"the transaction of task {self.id} could not be aborted: {_text(e)}"
                + (FENCED_HINT if fenced else "")
            ) from e
        finally:
            self._in_transaction = False
        self._delivery_error = None  # what failed in the aborted transaction is gone with it
        self.transactions_aborted += 1


def _text(e: KafkaException) -> str:
    return str(e.args[0]) if e.args else str(e)


FENCED_HINT = (
    "; the task's producer was fenced: another instance of this task (on another worker, or of "
    "a newer generation of task configs) has started"
)

ABORT_PROBE_TIMEOUT_S = 10.0
"""How long the abort that follows an abortable commit failure may take (see `was_fenced`)."""


def _error_of(e: KafkaException) -> KafkaError | None:
    cause = e.args[0] if e.args else None
    return cause if isinstance(cause, KafkaError) else None


def _names_fencing(error: KafkaError | None) -> bool:
    return error is not None and error.code() in (
        KafkaError._FENCED,
        KafkaError.PRODUCER_FENCED,
        KafkaError.INVALID_PRODUCER_EPOCH,
    )


def was_fenced(
    error: KafkaException, producer: Any, fatal: KafkaError | None, *, abort: bool
) -> bool:
    """Whether a transactional call (`commit_transaction`, `abort_transaction`) failed because
    the producer was fenced, even when its own error does not say so.

    Usually it does (librdkafka's `_FENCED`). But the broker sometimes answers a fenced
    producer's EndTxn with UNKNOWN_SERVER_ERROR (the coordinator is fencing the epoch as the
    request arrives), which librdkafka takes for an abortable error. Then the producer's fatal
    error may say it: `fatal` (what `error_cb` reported as fatal), or the one `poll` raises.
    Failing that, and with `abort` (the failed call was a commit), the abort an abortable error
    calls for is made, and a fenced producer's abort is refused as fenced. The abort is what an
    abortable error needs anyway: it ends the transaction now rather than at its timeout."""
    if _names_fencing(_error_of(error)) or _names_fencing(fatal):
        return True
    try:
        producer.poll(0)
    except KafkaException as e:
        if _names_fencing(_error_of(e)):
            return True
    cause = _error_of(error)
    if abort and cause is not None and cause.txn_requires_abort():
        try:
            producer.abort_transaction(ABORT_PROBE_TIMEOUT_S)
        except KafkaException as e:
            return _names_fencing(_error_of(e))
    return False


def write_offsets_in_transaction(
    producer_config: Mapping[str, str],
    transactional_id: str,
    store: KafkaOffsetStore,
    connector: ConnectorName,
    offsets: Sequence[tuple[SourcePartition, SourceOffset | None]],
) -> None:
    """Offsets a user writes through `PATCH`/`DELETE /connectors/{c}/offsets` with exactly-once
    support, as Kafka Connect's `Worker.modifySourceConnectorOffsets` writes them: in one
    transaction of a producer with `transactional_id` (task 0's), in the partitions Java's
    partitioner gives their keys. Its `init_transactions` fences any producer of that id still
    about and aborts what it left open. Once committed, the store shows them at once; raises
    `ConnectError` with Java's message and the cause if anything failed (nothing is committed
    then)."""
    conf: dict[str, Any] = exactly_once_producer_config(
        producer_config, transactional_id, TaskId(connector, TaskNumber(0))
    )
    conf["logger"] = CLIENT_LOG
    producer = Producer(conf)
    try:
        producer.init_transactions(TRANSACTION_TIMEOUT_S)
        producer.begin_transaction()
        partitions = store.partitions
        for partition, offset in offsets:
            key = serialize_key(connector, partition)
            producer.produce(
                store.topic, serialize_value(offset), key, key_partition(key, partitions)
            )
        producer.commit_transaction(TRANSACTION_TIMEOUT_S)
    except KafkaException as e:
        raise ConnectError(
            f"Failed to modify offsets for source connector {connector}: "
            f"{transactional_id_error(transactional_id, e)}"
        ) from e
    finally:
        # A producer with a fatal error raises from flush too, which would hide the cause.
        with contextlib.suppress(KafkaException):
            producer.flush(0)
    store.committed(connector, offsets)
