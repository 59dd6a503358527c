"""A source connector's offsets through the REST API, side by side with Apache Kafka Connect
4.1.1's own Java worker: what each answers and what each writes to its internal topics.

- With `exactly.once.source.support=enabled`: `PATCH` and `DELETE /connectors/{c}/offsets` on a
  stopped FileStreamSource fence its tasks first (the same task count record of 0 follows) and
  write the offsets in a transaction (a commit marker follows the record), in the same partition,
  with the same bytes; the answers are the same, the connector's refusal of a position that is
  not a number (after the fencing, which both do first) included.
- Without it, a connector with its own `offsets.storage.topic`: its task commits there and copies
  to the worker's topic, and `GET`/`PATCH`/`DELETE` read and write both the same way.

Both runtimes read the same file, so their source partitions, and so the keys, are the same.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final

import pytest
from confluent_kafka import Consumer, TopicPartition

from bench import javaconnect
from bench.procs import WorkerProcess, kill_all
from tests.support import exactly_once as eos
from tests.support.cluster import Cluster
from tests.support.workers import wait_until

pytestmark = pytest.mark.integration

FILE_SOURCE: Final = "org.apache.kafka.connect.file.FileStreamSourceConnector"
STRING: Final = "org.apache.kafka.connect.storage.StringConverter"
LINES: Final = 200
PARTITIONS: Final = 5

# FileStreamSource refuses a position that is not a number (its `alterOffsets`), and accepts
# one that is: nothing is written for the first, and the answer to the second is the one of a
# connector whose offsets are all the framework's.
REFUSED: Final = (
    500,
    {
        "error_code": 500,
        "message": "The value for the 'position' key in the offset is expected to be a Long value",
    },
)
ALTERED: Final = (
    200,
    {"message": "The offsets for this connector have been altered successfully"},
)

Request = Callable[..., tuple[int, Any]]
"""`request(method, path, body=None)`: a worker's REST API, Java's or kconnect's."""


def _worker_props(group: str, bootstrap: str, **extra: str) -> dict[str, str]:
    return {
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "config.storage.topic": f"{group}-configs",
        "offset.storage.topic": f"{group}-offsets",
        "status.storage.topic": f"{group}-status",
        "config.storage.replication.factor": "1",
        "offset.storage.replication.factor": "1",
        "status.storage.replication.factor": "1",
        "offset.storage.partitions": str(PARTITIONS),
        "offset.flush.interval.ms": "500",
        "key.converter": STRING,
        "value.converter": STRING,
        **extra,
    }


def _java(workdir: Path, bootstrap: str, **extra: str) -> Iterator[tuple[WorkerProcess, str]]:
    libs = javaconnect.fetched()
    if libs is None:
        pytest.fail(
            f"Kafka Connect's jars are not in {javaconnect.libs_dir()}: fetch them with "
            "`make bench-java-fetch`"
        )
    group = f"java-offsets-{uuid.uuid4().hex[:8]}"
    workdir.mkdir()
    worker = javaconnect.JavaWorker(
        workdir, "java", _worker_props(group, bootstrap, **extra), [], mode="distributed", libs=libs
    )
    try:
        worker.wait_healthy(180, 0.5)
        yield worker, group
    finally:
        worker.stop()
        kill_all()


def _kconnect(workdir: Path, bootstrap: str, **extra: str) -> Cluster:
    workdir.mkdir()
    return Cluster(workdir, bootstrap, **{"offset.storage.partitions": str(PARTITIONS), **extra})


def _records(bootstrap: str, topic: str, partitions: int = PARTITIONS) -> list[Any]:
    return eos.read(bootstrap, topic, isolation="read_committed", partitions=partitions)


def _of_key(bootstrap: str, topic: str, key: bytes) -> list[tuple[int, Any, bool]]:
    """The committed records of `key` in an offsets topic, in order: (partition, value, whether
    a transaction marker follows it, i.e. it was written in a transaction)."""
    found = _records(bootstrap, topic)
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "ends"})
    try:
        ends = {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in range(PARTITIONS)
        }
    finally:
        consumer.close()
    out = []
    for i, m in enumerate(found):
        if m.key() != key:
            continue
        after = [n.offset() for n in found[i + 1 :] if n.partition() == m.partition()]
        following = after[0] if after else ends[m.partition()]
        value = json.loads(m.value()) if m.value() is not None else None
        out.append((m.partition(), value, following > m.offset() + 1))
    return out


def _wait_stopped(request: Request, name: str) -> None:
    def stopped() -> bool:
        status, body = request("GET", f"/connectors/{name}/status")
        return status == 200 and body["connector"]["state"] == "STOPPED" and body["tasks"] == []

    wait_until(f"{name} STOPPED", stopped, 60)


def _lines(first: int, last: int) -> str:
    return "".join(f"line {i}\n" for i in range(first, last))


def _offsets_round(request: Request, partition: dict[str, Any]) -> list[tuple[int, Any]]:
    """Stop the connector, then read, alter with a position FileStreamSource refuses (a
    string), alter, read, reset and read its offsets: the answers."""
    status, _ = request("PUT", "/connectors/src/stop")
    assert status == 204
    _wait_stopped(request, "src")
    position = len(_lines(0, 150))
    altered = {"offsets": [{"partition": partition, "offset": {"position": position}}]}
    refused = {"offsets": [{"partition": partition, "offset": {"position": str(position)}}]}
    answers = [request("GET", "/connectors/src/offsets")]
    answers.append(request("PATCH", "/connectors/src/offsets", refused))
    answers.append(request("PATCH", "/connectors/src/offsets", altered))
    answers.append(request("GET", "/connectors/src/offsets"))
    answers.append(request("DELETE", "/connectors/src/offsets"))
    answers.append(request("GET", "/connectors/src/offsets"))
    return answers


def _source(data: Path, topic: str, **extra: str) -> dict[str, str]:
    return {"connector.class": FILE_SOURCE, "file": str(data), "topic": topic, **extra}


@pytest.fixture
def data(tmp_path: Path) -> Path:
    path = tmp_path / "in.txt"
    path.write_text(_lines(0, LINES))
    return path


def test_exactly_once_offsets_are_fenced_and_written_in_a_transaction_as_javas(
    tmp_path: Path, new_topic: Any, kafka_bootstrap: str, data: Path
) -> None:
    eos_props = {"exactly.once.source.support": "enabled"}
    partition = {"filename": str(data)}
    key = json.dumps(["src", partition], separators=(",", ":")).encode()
    results = {}
    for runtime in ("java", "kconnect"):
        topic = new_topic()
        config = _source(data, topic, **{"exactly.once.support": "required"})
        if runtime == "java":
            java = _java(tmp_path / "java", kafka_bootstrap, **eos_props)
            worker, group = next(java)
            request: Request = worker._request
        else:
            cluster = _kconnect(tmp_path / "k", kafka_bootstrap, **eos_props)
            request, group = cluster.start().request, cluster.group
        try:
            status, body = request("POST", "/connectors", {"name": "src", "config": config})
            assert status == 201, body
            wait_until(
                f"{LINES} lines from {runtime}",
                lambda topic=topic: len(_records(kafka_bootstrap, topic, 1)) >= LINES,
                120,
            )
            answers = _offsets_round(request, partition)
            fencing = [
                v
                for k, v in eos.config_records(kafka_bootstrap, f"{group}-configs")
                if k == "tasks-fencing-src"
            ]
            # The task's commits differ in number with timing; what the offsets API wrote is
            # the last two records: the altered offset, then the tombstone.
            written = _of_key(kafka_bootstrap, f"{group}-offsets", key)[-2:]
            results[runtime] = (answers, fencing, written)
        finally:
            if runtime == "java":
                java.close()
            else:
                cluster.close()
    java_answers, java_fencing, java_written = results["java"]
    k_answers, k_fencing, k_written = results["kconnect"]
    assert java_answers[1:3] == [REFUSED, ALTERED]
    assert java_answers[4] == (
        200,
        {"message": "The offsets for this connector have been reset successfully"},
    )
    assert k_answers == java_answers
    assert java_fencing == [b'{"task-count":1}', b'{"task-count":0}']
    assert k_fencing == java_fencing
    assert [v for _, v, _ in java_written] == [{"position": len(_lines(0, 150))}, None]
    assert all(tx for _, _, tx in java_written), "Java wrote them in a transaction"
    assert k_written == java_written


def test_a_connectors_own_offsets_topic_is_used_as_javas(
    tmp_path: Path, new_topic: Any, kafka_bootstrap: str, data: Path
) -> None:
    partition = {"filename": str(data)}
    key = json.dumps(["src", partition], separators=(",", ":")).encode()
    position = {"position": len(_lines(0, LINES))}
    results = {}
    for runtime in ("java", "kconnect"):
        topic = new_topic()
        if runtime == "java":
            java = _java(tmp_path / "java", kafka_bootstrap)
            worker, group = next(java)
            request: Request = worker._request
        else:
            cluster = _kconnect(tmp_path / "k", kafka_bootstrap)
            request, group = cluster.start().request, cluster.group
        own, global_ = f"{group}-src-offsets", f"{group}-offsets"
        config = _source(data, topic, **{"offsets.storage.topic": own})
        try:
            status, body = request("POST", "/connectors", {"name": "src", "config": config})
            assert status == 201, body
            wait_until(
                f"{LINES} lines from {runtime}",
                lambda topic=topic: len(_records(kafka_bootstrap, topic, 1)) >= LINES,
                120,
            )
            for where in (own, global_):
                wait_until(
                    f"the last offset in {where}",
                    lambda where=where: (
                        [v for _, v, _ in _of_key(kafka_bootstrap, where, key)[-1:]] == [position]
                    ),
                    60,
                )
            answers = _offsets_round(request, partition)
            wait_until(
                "the tombstone copied to the worker's topic",
                lambda where=global_: (
                    [v for _, v, _ in _of_key(kafka_bootstrap, where, key)[-1:]] == [None]
                ),
                60,
            )
            written = {
                where: [(p, v) for p, v, _ in _of_key(kafka_bootstrap, where, key)[-3:]]
                for where in (own, global_)
            }
            results[runtime] = (answers, written[own], written[global_])
        finally:
            if runtime == "java":
                java.close()
            else:
                cluster.close()
    java_answers, java_own, java_global = results["java"]
    k_answers, k_own, k_global = results["kconnect"]
    assert java_answers[0] == (200, {"offsets": [{"partition": partition, "offset": position}]})
    assert java_answers[1:3] == [REFUSED, ALTERED]
    assert k_answers == java_answers
    assert [v for _, v in java_own] == [position, {"position": len(_lines(0, 150))}, None]
    assert k_own == java_own
    assert java_global == java_own, "Java copies every write to the worker's topic"
    assert k_global == java_global
