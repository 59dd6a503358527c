"""A source connector's own `offsets.storage.topic` on a distributed worker without exactly-once
support, as Kafka Connect uses it for every source task (its `ConnectorOffsetBackingStore`): the
task commits to the connector's topic, then copies to the worker's; it reads the connector's
topic first and the worker's for partitions the connector's topic does not have; the offsets
REST API reads and writes the same way.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

import pytest
from confluent_kafka import Producer

from kconnect.storage.offsets import key_partition, serialize_key
from tests.support import exactly_once as eos
from tests.support.cluster import Cluster, wait_all_running
from tests.support.workers import Worker, wait_until

pytestmark = pytest.mark.integration

FILE_SOURCE: Final = "org.apache.kafka.connect.file.FileStreamSourceConnector"
OFFSETS_PARTITIONS: Final = 25


def _lines(first: int, last: int) -> str:
    return "".join(f"line {i}\n" for i in range(first, last))


def _values(bootstrap: str, topic: str) -> list[str]:
    return [m.value().decode() for m in eos.read(bootstrap, topic, isolation="read_committed")]


def _last(bootstrap: str, topic: str) -> dict[bytes, Any]:
    found = eos.read(bootstrap, topic, isolation="read_committed", partitions=OFFSETS_PARTITIONS)
    return {m.key(): (m.partition(), json.loads(m.value() or b"null")) for m in found}


def _stop(w: Worker, name: str) -> None:
    status, _ = w.request("PUT", f"/connectors/{name}/stop")
    assert status == 204
    w.wait_state(name, "STOPPED", tasks=0)


def _resume(w: Worker, name: str) -> None:
    status, _ = w.request("PUT", f"/connectors/{name}/resume")
    assert status == 202
    wait_all_running(w, name, 1)


def test_an_at_least_once_source_commits_to_its_own_offsets_topic_and_resumes_from_it(
    tmp_path: Path, new_topic: Any, kafka_bootstrap: str
) -> None:
    topic = new_topic()
    data = tmp_path / "in.txt"
    data.write_text(_lines(0, 100))
    cluster = Cluster(tmp_path, kafka_bootstrap)
    worker_topic, own_topic = f"{cluster.group}-offsets", f"{cluster.group}-src-offsets"
    partition = {"filename": str(data)}
    key = serialize_key("src", partition)
    try:
        w = cluster.start()
        config = {"connector.class": FILE_SOURCE, "file": str(data), "topic": topic}
        status, body = w.request("POST", "/connectors", {"name": "src", "config": config})
        assert status == 201, body
        wait_until("100 lines", lambda: len(_values(kafka_bootstrap, topic)) >= 100)
        _stop(w, "src")

        # From now on the connector has a topic of its own (created when the task starts); what
        # was committed before is in the worker's topic only, and read from there.
        status, body = w.request(
            "PUT", "/connectors/src/config", {**config, "offsets.storage.topic": own_topic}
        )
        assert status == 200, body
        with data.open("a") as f:
            f.write(_lines(100, 150))
        _resume(w, "src")
        wait_until("150 lines", lambda: len(_values(kafka_bootstrap, topic)) >= 150)
        assert _values(kafka_bootstrap, topic) == [f"line {i}" for i in range(150)]
        position = len(_lines(0, 150))
        expected = (key_partition(key, OFFSETS_PARTITIONS), {"position": position})
        wait_until(
            "the offset in its own topic",
            lambda: _last(kafka_bootstrap, own_topic).get(key) == expected,
        )
        wait_until(
            "the copy in the worker's",
            lambda: _last(kafka_bootstrap, worker_topic).get(key) == expected,
        )
        _stop(w, "src")

        # The connector's topic is read first: a stale value in the worker's changes nothing.
        stale = Producer({"bootstrap.servers": kafka_bootstrap})
        stale.produce(worker_topic, b'{"position":0}', key, key_partition(key, OFFSETS_PARTITIONS))
        assert stale.flush(10) == 0
        assert w.get("/connectors/src/offsets") == {
            "offsets": [{"partition": partition, "offset": {"position": position}}]
        }

        # Altered offsets go to the connector's topic, then to the worker's.
        altered = len(_lines(0, 140))
        status, body = w.request(
            "PATCH",
            "/connectors/src/offsets",
            {"offsets": [{"partition": partition, "offset": {"position": altered}}]},
        )
        assert status == 200, body
        expected = (key_partition(key, OFFSETS_PARTITIONS), {"position": altered})
        assert _last(kafka_bootstrap, own_topic)[key] == expected
        wait_until(
            "the copy in the worker's",
            lambda: _last(kafka_bootstrap, worker_topic).get(key) == expected,
        )
        with data.open("a") as f:
            f.write(_lines(150, 160))
        _resume(w, "src")
        wait_until("170 lines", lambda: len(_values(kafka_bootstrap, topic)) >= 170)
        values = _values(kafka_bootstrap, topic)
        assert values == [f"line {i}" for i in [*range(150), *range(140, 160)]]

        # A reset removes the partition from both topics.
        _stop(w, "src")
        status, body = w.request("DELETE", "/connectors/src/offsets")
        assert status == 200, body
        assert w.get("/connectors/src/offsets") == {"offsets": []}
        assert _last(kafka_bootstrap, own_topic)[key] == (expected[0], None)
        wait_until(
            "the tombstone in the worker's",
            lambda: _last(kafka_bootstrap, worker_topic).get(key) == (expected[0], None),
        )
    finally:
        cluster.close()
