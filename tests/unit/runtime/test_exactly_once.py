"""Exactly-once sources (KIP-618), the pure parts: transactional ids, the producer settings a
task is forced to, the key hash that places offsets where Java's producer puts them, and the
preflight checks of `exactly.once.support` and `transaction.boundary` with Kafka Connect's
messages, the trace of a task held back by a failed zombie fencing, and how a failed commit is
known to be a fenced producer's."""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from confluent_kafka import KafkaError, KafkaException

from kconnect import (
    ConnectError,
    ConnectorTransactionBoundaries,
    ExactlyOnceSupport,
    SourceConnector,
    SourceRecord,
    SourceTask,
)
from kconnect.api.types import ConnectorName
from kconnect.config.worker import DistributedConfig, ExactlyOnceSourceSupport
from kconnect.connectors.datagen import DataGenConnector
from kconnect.connectors.file import FileStreamSourceConnector
from kconnect.connectors.pgcdc.source import PostgresCdcConnector
from kconnect.herder.distributed import fencing_failure_trace
from kconnect.herder.model import ConfigInfos
from kconnect.herder.validation import validate_config
from kconnect.plugins.registry import PluginRegistry
from kconnect.storage.offsets import key_partition, murmur2
from kconnect.worker.exactly_once import (
    _Requests,
    exactly_once_producer_config,
    task_transactional_id,
    transactional_id_error,
    was_fenced,
)
from kconnect_operator.core.shapes import KafkaAccessReason
from kconnect_operator.core.status import kafka_access_reason, trace_summary

REGISTRY = PluginRegistry()
SOURCE = {"name": "a", "connector.class": "FileStreamSource", "topic": "t", "file": "/x"}
STDIN = {"name": "a", "connector.class": "FileStreamSource", "topic": "t"}


def _errors(infos: ConfigInfos) -> dict[str, list[str]]:
    return {c.value.name: c.value.errors for c in infos.configs if c.value.errors}


def test_transactional_ids_are_kafka_connects() -> None:
    assert task_transactional_id("connect-cluster", "my-conn", 3) == "connect-cluster-my-conn-3"


def test_a_task_producer_is_forced_to_idempotence_acks_all_and_its_transactional_id() -> None:
    given = {"enable.idempotence": "false", "acks": "1", "linger.ms": "5"}
    conf = exactly_once_producer_config(given, "g-c-0", task=None)  # type: ignore[arg-type]
    assert conf == {
        "enable.idempotence": "true",
        "acks": "all",
        "transactional.id": "g-c-0",
        "linger.ms": "5",
    }


@pytest.mark.parametrize(
    ("data", "expected"),
    [  # Kafka's own test vectors (UtilsTest.testMurmur2), as signed 32-bit ints
        (b"21", -973932308),
        (b"foobar", -790332482),
        (b"a-little-bit-long-string", -985981536),
        (b"a-little-bit-longer-string", -1486304829),
        (b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
        (b"abc", 479470107),
    ],
)
def test_murmur2_is_kafkas(data: bytes, expected: int) -> None:
    h = murmur2(data)
    assert (h - 2**32 if h >= 2**31 else h) == expected
    assert key_partition(data, 25) == (h & 0x7FFFFFFF) % 25


@pytest.mark.parametrize(
    ("value", "mode"),
    [
        ("enabled", ExactlyOnceSourceSupport.ENABLED),
        (" Preparing ", ExactlyOnceSourceSupport.PREPARING),
        ("DISABLED", ExactlyOnceSourceSupport.DISABLED),
    ],
)
def test_the_worker_key_is_read_as_java_reads_it(
    value: str, mode: ExactlyOnceSourceSupport
) -> None:
    props = {
        "bootstrap.servers": "b:9092",
        "group.id": "g",
        "config.storage.topic": "c",
        "offset.storage.topic": "o",
        "status.storage.topic": "s",
        "exactly.once.source.support": value,
    }
    config = DistributedConfig.parse(props)
    assert config.exactly_once_source_support is mode
    assert config.exactly_once_source_enabled is (mode is ExactlyOnceSourceSupport.ENABLED)


def test_a_bad_worker_value_names_the_key() -> None:
    props = {
        "bootstrap.servers": "b:9092",
        "group.id": "g",
        "config.storage.topic": "c",
        "offset.storage.topic": "o",
        "status.storage.topic": "s",
        "exactly.once.source.support": "sometimes",
    }
    with pytest.raises(Exception, match=r"exactly\.once\.source\.support"):
        DistributedConfig.parse(props)


def test_built_in_sources_declare_what_java_and_debezium_declare() -> None:
    assert FileStreamSourceConnector().exactly_once_support(SOURCE) is ExactlyOnceSupport.SUPPORTED
    assert FileStreamSourceConnector().exactly_once_support(STDIN) is ExactlyOnceSupport.UNSUPPORTED
    assert DataGenConnector().exactly_once_support({}) is ExactlyOnceSupport.SUPPORTED
    assert PostgresCdcConnector().exactly_once_support({}) is ExactlyOnceSupport.SUPPORTED
    for cls in (FileStreamSourceConnector, DataGenConnector, PostgresCdcConnector):
        assert cls().can_define_transaction_boundaries({}) is (
            ConnectorTransactionBoundaries.UNSUPPORTED
        )


def test_required_on_a_worker_without_exactly_once_is_refused_with_javas_message() -> None:
    found = _errors(validate_config(REGISTRY, {}, {**SOURCE, "exactly.once.support": "required"}))
    assert found == {
        "exactly.once.support": ["This worker does not have exactly-once source support enabled."]
    }


def test_required_with_exactly_once_passes_for_a_connector_that_supports_it() -> None:
    config = {**SOURCE, "exactly.once.support": "Required"}
    assert validate_config(REGISTRY, {}, config, exactly_once_enabled=True).error_count == 0


def test_required_is_refused_for_a_connector_that_cannot() -> None:
    config = {**STDIN, "exactly.once.support": "required"}
    found = _errors(validate_config(REGISTRY, {}, config, exactly_once_enabled=True))
    assert found == {
        "exactly.once.support": [
            "The connector does not support exactly-once semantics with the provided configuration."
        ]
    }


class _Silent(SourceConnector):
    """Says nothing about exactly-once; answers `transaction.boundary` from its config."""

    def start(self, props: Mapping[str, str]) -> None:
        pass

    def task_class(self) -> type[SourceTask]:
        raise NotImplementedError

    def task_configs(self, max_tasks: int) -> list[dict[str, str]]:
        return []

    def can_define_transaction_boundaries(
        self, config: Mapping[str, str]
    ) -> ConnectorTransactionBoundaries:
        if config.get("boom"):
            raise RuntimeError("no idea")
        if config.get("can"):
            return ConnectorTransactionBoundaries.SUPPORTED
        return ConnectorTransactionBoundaries.UNSUPPORTED


SILENT = {"name": "s", "connector.class": f"{__name__}._Silent"}


def test_required_is_refused_for_a_connector_that_does_not_say() -> None:
    config = {**SILENT, "exactly.once.support": "required"}
    found = _errors(validate_config(REGISTRY, {}, config, exactly_once_enabled=True))
    assert found["exactly.once.support"][0].startswith(
        "The connector does not implement the API required for preflight validation"
    )


def test_connector_boundaries_are_checked_against_the_connector() -> None:
    config = {**SILENT, "transaction.boundary": "connector"}
    found = _errors(validate_config(REGISTRY, {}, config, exactly_once_enabled=True))
    assert found == {
        "transaction.boundary": [
            "The connector does not support connector-defined transaction boundaries with the "
            "given configuration. Please reconfigure it to use a different transaction boundary "
            "definition."
        ]
    }
    ok = {**config, "can": "yes"}
    assert validate_config(REGISTRY, {}, ok, exactly_once_enabled=True).error_count == 0
    broken = {**config, "boom": "yes"}
    found = _errors(validate_config(REGISTRY, {}, broken, exactly_once_enabled=True))
    assert found == {
        "transaction.boundary": ["An unexpected error occurred during validation: no idea"]
    }


def _batch(n: int) -> list[SourceRecord]:
    return [SourceRecord("t", i) for i in range(n)]


def test_a_batch_is_cut_after_the_record_a_transaction_ends_with() -> None:
    requests = _Requests()
    batch = _batch(5)
    requests.commit_transaction(batch[1])
    requests.abort_transaction(batch[3])
    assert requests.cut(batch) == (2, "commit")
    assert requests.cut(batch[2:]) == (2, "abort")
    assert requests.cut(batch[4:]) == (1, None)
    assert requests.take_batch_request() is None


def test_a_request_for_the_whole_batch_is_taken_once() -> None:
    requests = _Requests()
    requests.commit_transaction()
    assert requests.cut(_batch(3)) == (3, None)
    assert requests.take_batch_request() == "commit"
    assert requests.take_batch_request() is None
    requests.abort_transaction()
    assert requests.take_batch_request() == "abort"


def test_commit_and_abort_of_one_transaction_fail_the_task_as_in_java() -> None:
    requests = _Requests()
    requests.commit_transaction()
    requests.abort_transaction()
    with pytest.raises(ConnectError, match="both a commit and an abort"):
        requests.take_batch_request()
    record = SourceRecord("t", 1)
    requests.commit_transaction(record)
    requests.abort_transaction(record)
    with pytest.raises(ConnectError, match="both a commit and an abort"):
        requests.cut([record])


def test_a_missing_transactional_id_acl_names_the_id_and_the_acl_to_grant() -> None:
    error = KafkaException(
        KafkaError(
            KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
            "Transactional Id authorization failed",
            fatal=True,
        )
    )
    message = transactional_id_error("cluster-1-orders-0", error)
    assert message.startswith(
        "missing ACL: the client's principal is not allowed to use the transactional id "
        "'cluster-1-orders-0': grant it Write and Describe on the TransactionalId "
        "'cluster-1-orders-0'"
    ), message
    assert "'<group.id>-'" in message
    assert "TRANSACTIONAL_ID_AUTHORIZATION_FAILED" in message


def test_a_missing_idempotent_write_acl_says_which_acls_would_do() -> None:
    error = KafkaException(
        KafkaError(KafkaError.CLUSTER_AUTHORIZATION_FAILED, "Cluster authorization failed")
    )
    message = transactional_id_error("g-c-0", error)
    assert message.startswith("missing ACL: the transactional producer 'g-c-0' may not write")
    assert "IdempotentWrite on the cluster" in message


def test_other_transactional_producer_errors_name_the_id_and_keep_the_clients_text() -> None:
    timed_out = KafkaException(
        KafkaError(KafkaError._TIMED_OUT, "Failed to initialize Producer ID")
    )
    assert transactional_id_error("g-c-1", timed_out) == (
        "transactional id 'g-c-1': _TIMED_OUT: Failed to initialize Producer ID"
    )
    assert transactional_id_error("g-c-1", RuntimeError("boom")) == (
        "transactional id 'g-c-1': boom"
    )


def test_a_task_held_back_by_a_failed_fencing_says_why_first_and_what_happens_next() -> None:
    error = KafkaException(
        "could not fence the older producers of the connector's tasks: "
        + transactional_id_error(
            "g-orders-0",
            KafkaException(
                KafkaError(
                    KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
                    "Transactional Id authorization failed",
                    fatal=True,
                )
            ),
        )
    )
    trace = fencing_failure_trace(ConnectorName("orders"), "10.0.0.7:8083", error)
    first, then = trace.splitlines()
    assert first.startswith(
        "the zombie fencing of source connector orders failed, so its tasks do not start: "
        "could not fence the older producers of the connector's tasks: missing ACL: "
    ), first
    assert "grant it Write and Describe on the TransactionalId 'g-orders-0'" in first
    assert "Worker 10.0.0.7:8083, which owns the connector, keeps retrying" in then
    assert "with no restart needed" in then
    # The operator's condition shows the first line and reads it as a missing ACL.
    assert trace_summary(trace) == first
    assert kafka_access_reason(first) is KafkaAccessReason.AUTHORIZATION_FAILED


def test_a_fencing_failure_from_the_client_keeps_its_error_name() -> None:
    error = KafkaException(KafkaError(KafkaError._TIMED_OUT, "Failed to write the record"))
    first = fencing_failure_trace(ConnectorName("c"), "w:1", error).splitlines()[0]
    assert first.endswith("so its tasks do not start: _TIMED_OUT: Failed to write the record")
    first = fencing_failure_trace(ConnectorName("c"), "w:1", TimeoutError()).splitlines()[0]
    assert first.endswith("so its tasks do not start: TimeoutError")


class _Producer:
    """A transactional producer's answers after a failed commit, as a broker race gives them:
    what `poll` raises (the producer's fatal error) and what `abort_transaction` raises."""

    def __init__(
        self, poll_raises: KafkaError | None = None, abort_raises: KafkaError | None = None
    ) -> None:
        self.poll_raises = poll_raises
        self.abort_raises = abort_raises
        self.aborts = 0

    def poll(self, timeout: float) -> int:
        if self.poll_raises is not None:
            raise KafkaException(self.poll_raises)
        return 0

    def abort_transaction(self, timeout: float) -> None:
        self.aborts += 1
        if self.abort_raises is not None:
            raise KafkaException(self.abort_raises)


FENCED = KafkaError(KafkaError._FENCED, "This instance has been fenced", fatal=True)
UNKNOWN_END_TXN = KafkaException(
    KafkaError(KafkaError.UNKNOWN, "EndTxn commit failed", txn_requires_abort=True)
)


def test_a_commit_refused_as_fenced_is_fenced_without_more_calls() -> None:
    producer = _Producer(abort_raises=FENCED)
    assert was_fenced(KafkaException(FENCED), producer, None, abort=True)
    assert producer.aborts == 0


def test_an_unknown_server_error_to_a_fenced_commit_is_told_by_the_refused_abort() -> None:
    # The broker answers a fenced producer's EndTxn with UNKNOWN_SERVER_ERROR now and then
    # (an abortable error); the abort that follows is refused as fenced.
    producer = _Producer(abort_raises=FENCED)
    assert was_fenced(UNKNOWN_END_TXN, producer, None, abort=True)
    assert producer.aborts == 1


def test_an_unknown_server_error_is_fenced_when_the_producers_fatal_error_says_so() -> None:
    producer = _Producer(poll_raises=FENCED)
    assert was_fenced(UNKNOWN_END_TXN, producer, None, abort=True)
    assert producer.aborts == 0
    producer = _Producer()
    producer_fenced = KafkaError(KafkaError.PRODUCER_FENCED, "fenced", fatal=True)
    assert was_fenced(UNKNOWN_END_TXN, producer, producer_fenced, abort=True)
    assert producer.aborts == 0


def test_an_abortable_error_of_a_producer_that_was_not_fenced_is_aborted_and_not_fenced() -> None:
    producer = _Producer()
    assert not was_fenced(UNKNOWN_END_TXN, producer, None, abort=True)
    assert producer.aborts == 1
    timed_out = _Producer(abort_raises=KafkaError(KafkaError._TIMED_OUT, "timed out"))
    assert not was_fenced(UNKNOWN_END_TXN, timed_out, None, abort=True)


def test_a_failed_abort_is_not_aborted_again() -> None:
    producer = _Producer(abort_raises=FENCED)
    assert not was_fenced(UNKNOWN_END_TXN, producer, None, abort=False)
    assert producer.aborts == 0
