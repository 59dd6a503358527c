"""`errors.*` against the real broker: dead-letter queues, tolerance, retries.

Each test runs a real `kconnect standalone` process. Poison records are real bytes in a real
topic (invalid JSON for the JsonConverter, or values a test transform refuses), and transient
faults come from test plugins (`tests/plugins/kconnect_test_plugins.py`), the only way to make a
sink system or transform fail on demand.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from tests.support.workers import Standalone, read_lines, wait_until

pytestmark = pytest.mark.integration

JSON = "org.apache.kafka.connect.json.JsonConverter"


def _produce(
    bootstrap: str, topic: str, records: list[tuple[bytes | None, bytes, list[Any]]]
) -> None:
    producer = Producer({"bootstrap.servers": bootstrap})
    for key, value, headers in records:
        producer.produce(topic, value, key, headers=headers or None)
    assert producer.flush(30) == 0


def _read_all(bootstrap: str, topic: str, count: int, timeout: float = 60.0) -> list[Any]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"reader-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    try:
        consumer.subscribe([topic])
        out: list[Any] = []

        def enough() -> bool:
            for msg in consumer.consume(100, 0.5):
                if msg.error() is None:
                    out.append(msg)
            return len(out) >= count

        wait_until(f"{count} records in {topic}", enough, timeout)
        return out
    finally:
        consumer.close()


def _committed(bootstrap: str, group: str, topic: str) -> int | None:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        [tp] = consumer.committed([TopicPartition(topic, 0)], timeout=30)
        return None if tp.offset < 0 else int(tp.offset)
    finally:
        consumer.close()


def _sink(name: str, topic: str, out: Path, **extra: str) -> dict[str, str]:
    return {
        "name": name,
        "connector.class": "FileStreamSink",
        "topics": topic,
        "file": str(out),
        "value.converter": JSON,
        "value.converter.schemas.enable": "false",
        **{k.replace("_", "."): v for k, v in extra.items()},
    }


def _good(i: int) -> bytes:
    return json.dumps({"n": i}).encode()


def test_poison_records_go_to_the_dlq_with_context_headers_while_good_ones_flow(
    standalone: Standalone, new_topic, kafka_bootstrap: str
) -> None:  # type: ignore[no-untyped-def]
    topic = new_topic()
    dlq = f"dlq-{uuid.uuid4().hex[:8]}"
    out = standalone.cwd / "out.txt"
    poison_offsets = {3, 7}
    records: list[tuple[bytes | None, bytes, list[Any]]] = []
    for i in range(10):
        if i in poison_offsets:
            records.append((f"k{i}".encode(), b"{not json", [("origin", b"test")]))
        else:
            records.append((f"k{i}".encode(), _good(i), []))
    _produce(kafka_bootstrap, topic, records)
    w = standalone.start(
        [
            _sink(
                "dlq-sink",
                topic,
                out,
                errors_tolerance="all",
                errors_log_enable="true",
                errors_deadletterqueue_topic_name=dlq,
                errors_deadletterqueue_topic_replication_factor="1",
                errors_deadletterqueue_context_headers_enable="true",
            )
        ]
    )
    wait_until("the 8 good records in the sink file", lambda: len(read_lines(out)) >= 8)
    assert len(read_lines(out)) == 8
    dead = _read_all(kafka_bootstrap, dlq, 2)
    assert len(dead) == 2
    by_offset = {}
    for msg in dead:
        headers = dict(msg.headers())
        by_offset[int(headers["__connect.errors.offset"])] = (msg, headers)
    assert set(by_offset) == poison_offsets
    for offset, (msg, headers) in by_offset.items():
        # The original bytes, key and headers, untouched.
        assert msg.value() == b"{not json"
        assert msg.key() == f"k{offset}".encode()
        assert headers["origin"] == b"test"
        assert headers["__connect.errors.topic"] == topic.encode()
        assert headers["__connect.errors.partition"] == b"0"
        assert headers["__connect.errors.connector.name"] == b"dlq-sink"
        assert headers["__connect.errors.task.id"] == b"0"
        assert headers["__connect.errors.stage"] == b"VALUE_CONVERTER"
        assert headers["__connect.errors.class.name"] == b"kconnect.converters.json.JsonConverter"
        assert headers["__connect.errors.exception.class.name"] == b"kconnect.errors.DataError"
        assert headers["__connect.errors.exception.message"]
        assert b"Traceback" in headers["__connect.errors.exception.stacktrace"]
    # The task goes on, and commits past the poison once the queue has it.
    assert w.status("dlq-sink")["tasks"][0]["state"] == "RUNNING"
    wait_until(
        "the sink's offsets committed past every record",
        lambda: _committed(kafka_bootstrap, "connect-dlq-sink", topic) == 10,
    )
    log = w.log()
    assert "Error encountered in task dlq-sink-0 while performing VALUE_CONVERTER" in log
    assert w.terminate() == 0


def test_tolerance_none_fails_the_task_and_commits_nothing_past_the_poison_record(
    standalone: Standalone, new_topic, kafka_bootstrap: str
) -> None:  # type: ignore[no-untyped-def]
    topic = new_topic()
    out = standalone.cwd / "out.txt"
    _produce(kafka_bootstrap, topic, [(None, _good(i), []) for i in range(5)])
    w = standalone.start([_sink("strict-sink", topic, out)])
    wait_until(
        "the first 5 records committed",
        lambda: _committed(kafka_bootstrap, "connect-strict-sink", topic) == 5,
    )
    _produce(
        kafka_bootstrap,
        topic,
        [(None, b"{not json", []), *[(None, _good(i), []) for i in range(6, 9)]],
    )
    status = w.wait_state("strict-sink", "RUNNING", tasks=1)
    wait_until(
        "the task to fail",
        lambda: w.status("strict-sink")["tasks"][0]["state"] == "FAILED",
    )
    status = w.status("strict-sink")
    trace = status["tasks"][0]["trace"]
    assert "Tolerance exceeded in error handler" in trace
    assert "VALUE_CONVERTER" in trace
    # Nothing at or after the poison record (offset 5) was written or committed.
    assert len(read_lines(out)) == 5
    assert _committed(kafka_bootstrap, "connect-strict-sink", topic) == 5
    assert w.terminate() == 0
    assert _committed(kafka_bootstrap, "connect-strict-sink", topic) == 5


def test_retries_recover_from_transient_faults_in_a_transform_and_in_put(
    standalone: Standalone, new_topic, kafka_bootstrap: str
) -> None:  # type: ignore[no-untyped-def]
    topic = new_topic()
    out = standalone.cwd / "out.txt"
    _produce(kafka_bootstrap, topic, [(None, str(i).encode(), []) for i in range(20)])
    sink = {
        "name": "flaky",
        "connector.class": "kconnect_test_plugins:FlakySink",
        "topics": topic,
        "file": str(out),
        "flaky.times": "3",
        "errors.retry.timeout": "60000",
        "errors.retry.delay.max.ms": "500",
        "transforms": "flaky",
        "transforms.flaky.type": "kconnect_test_plugins:FailOnValue",
        "transforms.flaky.flaky.times": "2",
    }
    w = standalone.start([sink])
    wait_until("all 20 records written", lambda: len(read_lines(out)) >= 20)
    # Every record arrives exactly once: nothing was skipped, nothing put twice.
    assert sorted(read_lines(out), key=int) == [str(i) for i in range(20)]
    assert w.status("flaky")["tasks"][0]["state"] == "RUNNING"
    assert "put failed, retrying" in w.log()
    assert w.terminate() == 0


def test_put_retries_end_at_errors_retry_timeout(
    standalone: Standalone, new_topic, kafka_bootstrap: str
) -> None:  # type: ignore[no-untyped-def]
    topic = new_topic()
    out = standalone.cwd / "out.txt"
    _produce(kafka_bootstrap, topic, [(None, b"x", [])])
    sink = {
        "name": "gives-up",
        "connector.class": "kconnect_test_plugins:FlakySink",
        "topics": topic,
        "file": str(out),
        "flaky.times": "1000000",
        "errors.retry.timeout": "1500",
        "errors.retry.delay.max.ms": "200",
    }
    w = standalone.start([sink])
    wait_until(
        "the task to fail once the retries ran out",
        lambda: w.status("gives-up")["tasks"][0]["state"] == "FAILED",
    )
    trace = w.status("gives-up")["tasks"][0]["trace"]
    assert "errors.retry.timeout=1500" in trace
    assert "injected transient failure" in trace
    assert read_lines(out) == []
    assert _committed(kafka_bootstrap, "connect-gives-up", topic) is None
    assert w.terminate() == 0


def test_records_the_task_reports_as_errant_go_to_the_dlq(
    standalone: Standalone, new_topic, kafka_bootstrap: str
) -> None:  # type: ignore[no-untyped-def]
    topic = new_topic()
    dlq = f"dlq-{uuid.uuid4().hex[:8]}"
    out = standalone.cwd / "out.txt"
    _produce(kafka_bootstrap, topic, [(None, v.encode(), []) for v in ["a", "bad", "b"]])
    sink = {
        "name": "errant",
        "connector.class": "kconnect_test_plugins:FlakySink",
        "topics": topic,
        "file": str(out),
        "errant.value": "bad",
        "errors.tolerance": "all",
        "errors.deadletterqueue.topic.name": dlq,
        "errors.deadletterqueue.topic.replication.factor": "1",
        "errors.deadletterqueue.context.headers.enable": "true",
    }
    w = standalone.start([sink])
    wait_until("the good records", lambda: read_lines(out) == ["a", "b"])
    [dead] = _read_all(kafka_bootstrap, dlq, 1)
    headers = dict(dead.headers())
    assert dead.value() == b"bad"
    assert headers["__connect.errors.stage"] == b"TASK_PUT"
    assert headers["__connect.errors.offset"] == b"1"
    assert headers["__connect.errors.class.name"] == b"kconnect_test_plugins.FlakySinkTask"
    assert headers["__connect.errors.exception.message"] == b"the sink rejected offset 1"
    wait_until(
        "offsets committed past the reported record",
        lambda: _committed(kafka_bootstrap, "connect-errant", topic) == 3,
    )
    assert w.terminate() == 0


@pytest.mark.parametrize("tolerance", ["all", "none"])
def test_source_records_a_transform_refuses(
    standalone: Standalone, new_topic, kafka_bootstrap: str, tolerance: str
) -> None:  # type: ignore[no-untyped-def]
    topic = new_topic()
    source = standalone.cwd / "in.txt"
    source.write_text("one\ntwo\npoison\nthree\n")
    connector = {
        "name": "src",
        "connector.class": "FileStreamSource",
        "file": str(source),
        "topic": topic,
        "errors.tolerance": tolerance,
        "errors.log.enable": "true",
        "errors.log.include.messages": "true",
        # The refusing transform is the second: the report names it, not the first.
        "transforms": "tag,guard",
        "transforms.tag.type": "org.apache.kafka.connect.transforms.InsertHeader",
        "transforms.tag.header": "seen",
        "transforms.tag.value.literal": "yes",
        "transforms.guard.type": "kconnect_test_plugins:FailOnValue",
    }
    w = standalone.start([connector])
    if tolerance == "all":
        values = [m.value() for m in _read_all(kafka_bootstrap, topic, 3)]
        assert values == [b"one", b"two", b"three"]
        assert w.status("src")["tasks"][0]["state"] == "RUNNING"
        log = w.log()
        assert "while performing TRANSFORMATION operation with class" in log
        failed = [line for line in log.splitlines() if "TRANSFORMATION operation" in line]
        assert failed, log
        assert all("FailOnValue" in line and "InsertHeader" not in line for line in failed)
        assert "with record = SourceRecord(" in log
    else:
        wait_until("the task to fail", lambda: w.status("src")["tasks"][0]["state"] == "FAILED")
        trace = w.status("src")["tasks"][0]["trace"]
        assert "Tolerance exceeded in error handler" in trace
        assert "value 'poison' is not allowed" in trace
        values = [m.value() for m in _read_all(kafka_bootstrap, topic, 2)]
        assert values == [b"one", b"two"]
    assert w.terminate() == 0


def test_dlq_topic_is_created_with_the_replication_factor_asked_for(
    standalone: Standalone, new_topic, kafka_admin: AdminClient
) -> None:  # type: ignore[no-untyped-def]
    topic = new_topic()
    dlq = f"dlq-{uuid.uuid4().hex[:8]}"
    # One broker: a replication factor of 3 (Kafka Connect's default) cannot be met, and the
    # task fails naming the key.
    w = standalone.start(
        [
            _sink(
                "rf",
                topic,
                standalone.cwd / "out.txt",
                errors_tolerance="all",
                errors_deadletterqueue_topic_name=dlq,
            )
        ]
    )
    wait_until("the task to fail", lambda: w.status("rf")["tasks"][0]["state"] == "FAILED")
    trace = w.status("rf")["tasks"][0]["trace"]
    assert "errors.deadletterqueue.topic.replication.factor=3" in trace
    assert dlq not in kafka_admin.list_topics(timeout=10).topics
    assert w.terminate() == 0
