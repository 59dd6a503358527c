"""Exactly-once sources side by side with Apache Kafka Connect 4.1.1's own Java runtime.

A Java distributed worker and a kconnect one, each with `exactly.once.source.support=enabled`
and internal topics of its own, run FileStreamSource over the same file. What each writes to its
internal topics is compared byte for byte: the task count record (`tasks-fencing-<c>`) and the
source offsets, which must also land in the same partition of a 5-partition offsets topic (the
offsets are written inside the task's transaction, in the partition Java's partitioner gives the
key). The preflight validation of the exactly-once keys must answer with Java's messages.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import pytest
from confluent_kafka import Consumer, TopicPartition

from bench import javaconnect
from bench.procs import WorkerProcess, kill_all
from tests.support.cluster import Cluster, wait_all_running
from tests.support.workers import wait_until

pytestmark = pytest.mark.integration

FILE_SOURCE: Final = "org.apache.kafka.connect.file.FileStreamSourceConnector"
STRING: Final = "org.apache.kafka.connect.storage.StringConverter"
LINES: Final = 500
PARTITIONS: Final = 5


def _records(bootstrap: str, topic: str, partitions: int = 1) -> list[Any]:
    """Every committed record of `topic`, read until nothing came for 3 s."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"read-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
        }
    )
    out: list[Any] = []
    try:
        consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
        quiet = time.monotonic()
        while time.monotonic() - quiet < 3:
            batch = [m for m in consumer.consume(1000, 0.5) if m.error() is None]
            if batch:
                out.extend(batch)
                quiet = time.monotonic()
        return out
    finally:
        consumer.close()


def _source(file: Path, topic: str, **extra: str) -> dict[str, str]:
    return {
        "connector.class": FILE_SOURCE,
        "tasks.max": "1",
        "file": str(file),
        "topic": topic,
        "exactly.once.support": "required",
        **extra,
    }


@pytest.fixture
def java(kafka_bootstrap: str, tmp_path: Path) -> Iterator[tuple[WorkerProcess, str]]:
    libs = javaconnect.fetched()
    if libs is None:
        pytest.fail(
            f"Kafka Connect's jars are not in {javaconnect.libs_dir()}: fetch them with "
            "`make bench-java-fetch`"
        )
    group = f"java-eos-{uuid.uuid4().hex[:8]}"
    props = {
        "bootstrap.servers": kafka_bootstrap,
        "group.id": group,
        "config.storage.topic": f"{group}-configs",
        "offset.storage.topic": f"{group}-offsets",
        "status.storage.topic": f"{group}-status",
        "config.storage.replication.factor": "1",
        "offset.storage.replication.factor": "1",
        "status.storage.replication.factor": "1",
        "offset.storage.partitions": str(PARTITIONS),
        "key.converter": STRING,
        "value.converter": STRING,
        "exactly.once.source.support": "enabled",
    }
    (tmp_path / "java").mkdir()
    worker = javaconnect.JavaWorker(
        tmp_path / "java",
        "java",
        props,
        [],
        mode="distributed",
        libs=libs,
        jvm_options=javaconnect.LIGHT_JVM_OPTIONS,
    )
    try:
        worker.wait_healthy(180, 0.5)
        yield worker, group
    finally:
        worker.stop()
        kill_all()


def test_java_and_kconnect_write_the_same_task_count_record_and_offsets(
    tmp_path: Path, new_topic: Any, kafka_bootstrap: str, java: tuple[WorkerProcess, str]
) -> None:
    java_worker, java_group = java
    data = tmp_path / "in.txt"
    data.write_text("".join(f"line {i}\n" for i in range(LINES)))
    java_topic, k_topic = new_topic(), new_topic()
    java_worker.create_connector("src", _source(data, java_topic))

    (tmp_path / "k").mkdir()
    cluster = Cluster(
        tmp_path / "k",
        kafka_bootstrap,
        **{"exactly.once.source.support": "enabled", "offset.storage.partitions": str(PARTITIONS)},
    )
    try:
        k = cluster.start()
        status, body = k.request(
            "POST", "/connectors", {"name": "src", "config": _source(data, k_topic)}
        )
        assert status == 201, body
        wait_all_running(k, "src", 1)
        for topic in (java_topic, k_topic):
            wait_until(
                f"{LINES} lines committed to {topic}",
                lambda topic=topic: len(_records(kafka_bootstrap, topic)) >= LINES,
                120,
            )
        java_lines = [m.value() for m in _records(kafka_bootstrap, java_topic)]
        k_lines = [m.value() for m in _records(kafka_bootstrap, k_topic)]
        assert java_lines == k_lines == [f"line {i}".encode() for i in range(LINES)]

        def internal(group: str, suffix: str, partitions: int = 1) -> list[Any]:
            return _records(kafka_bootstrap, f"{group}-{suffix}", partitions)

        def fencing(group: str) -> list[tuple[str, bytes]]:
            return [
                (m.key().decode(), m.value())
                for m in internal(group, "configs")
                if m.key().decode() == "tasks-fencing-src"
            ]

        java_fencing, k_fencing = fencing(java_group), fencing(cluster.group)
        assert java_fencing == [("tasks-fencing-src", b'{"task-count":1}')]
        assert k_fencing == java_fencing

        def last_offsets(group: str) -> dict[bytes, tuple[int, bytes]]:
            last: dict[bytes, tuple[int, bytes]] = {}
            for m in internal(group, "offsets", PARTITIONS):
                last[m.key()] = (m.partition(), m.value())
            return last

        # Both committed the offset of the last line in the transaction that wrote it.
        java_offsets = last_offsets(java_group)
        k_offsets = last_offsets(cluster.group)
        assert list(k_offsets) == list(java_offsets)  # the same key bytes
        for key, (partition, value) in java_offsets.items():
            assert k_offsets[key][0] == partition, "not in the partition Java's partitioner gives"
            assert k_offsets[key][1] == value
    finally:
        cluster.close()


def test_the_preflight_checks_answer_as_javas(
    tmp_path: Path, kafka_bootstrap: str, java: tuple[WorkerProcess, str]
) -> None:
    java_worker, _ = java
    (tmp_path / "k").mkdir()
    cluster = Cluster(tmp_path / "k", kafka_bootstrap, **{"exactly.once.source.support": "enabled"})
    try:
        k = cluster.start()
        configs = [
            {"connector.class": FILE_SOURCE, "topic": "t", "exactly.once.support": "required"},
            {"connector.class": FILE_SOURCE, "topic": "t", "transaction.boundary": "connector"},
            {**_source(tmp_path / "f", "t"), "transaction.boundary": "interval"},
        ]
        path = "/connector-plugins/FileStreamSourceConnector/config/validate"
        for config in configs:
            java_status, java_body = java_worker._request("PUT", path, config)
            status, body = k.request("PUT", path, config)
            assert (status, java_status) == (200, 200)

            def errors(answer: Any) -> dict[str, list[str]]:
                return {
                    c["value"]["name"]: c["value"]["errors"]
                    for c in answer["configs"]
                    if c["value"]["errors"]
                    and c["value"]["name"] in ("exactly.once.support", "transaction.boundary")
                }

            assert errors(body) == errors(java_body), config
    finally:
        cluster.close()
