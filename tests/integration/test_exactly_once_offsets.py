"""`PATCH`/`DELETE /connectors/{c}/offsets` on a worker with exactly-once source support, on a
real distributed cluster and the real broker, as Kafka Connect does them (KIP-618 with KIP-875):
the connector's task producers are fenced first, then the offsets are written in a transaction,
so a zombie task left anywhere can never commit over them, and the restarted connector resumes
from them. Read `read_committed` throughout.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

import pytest
from confluent_kafka import KafkaException, Producer

from kconnect.storage.offsets import key_partition, serialize_key
from tests.support import exactly_once as eos
from tests.support.cluster import Cluster, wait_all_running
from tests.support.workers import wait_until

pytestmark = pytest.mark.integration

FILE_SOURCE: Final = "org.apache.kafka.connect.file.FileStreamSourceConnector"
OFFSETS_PARTITIONS: Final = 25


def _lines(first: int, last: int) -> str:
    return "".join(f"line {i}\n" for i in range(first, last))


def _values(bootstrap: str, topic: str) -> list[str]:
    return [m.value().decode() for m in eos.read(bootstrap, topic, isolation="read_committed")]


def _last_committed(bootstrap: str, topic: str) -> dict[bytes, bytes | None]:
    """The last committed value of each key of an offsets topic."""
    found = eos.read(bootstrap, topic, isolation="read_committed", partitions=OFFSETS_PARTITIONS)
    return {m.key(): m.value() for m in found}


def _fencing_records(bootstrap: str, group: str, name: str) -> list[bytes | None]:
    return [v for k, v in eos.config_records(bootstrap, f"{group}-configs") if k == name]


def _zombie(bootstrap: str, transactional_id: str, topic: str, key: bytes, value: bytes) -> Any:
    """A task instance nobody stopped: a producer of the task's transactional id, with a
    transaction open that holds an offset record."""
    zombie = Producer(
        {"bootstrap.servers": bootstrap, "transactional.id": transactional_id, "linger.ms": 0}
    )
    zombie.init_transactions(30)
    zombie.begin_transaction()
    zombie.produce(topic, value, key, key_partition(key, OFFSETS_PARTITIONS))
    assert zombie.flush(10) == 0
    return zombie


@pytest.mark.parametrize("own_topic", [False, True], ids=["worker-topic", "own-topic"])
def test_altered_offsets_are_written_behind_a_fence_and_the_connector_resumes_from_them(
    tmp_path: Path, new_topic: Any, kafka_bootstrap: str, own_topic: bool
) -> None:
    """With a topic of its own, the connector's offsets are written there in the transaction
    and copied to the worker's topic after it."""
    topic = new_topic()
    data = tmp_path / "in.txt"
    data.write_text(_lines(0, 200))
    cluster = Cluster(tmp_path, kafka_bootstrap, **eos.EOS)
    worker_topic = f"{cluster.group}-offsets"
    offsets_topic = f"{cluster.group}-src-offsets" if own_topic else worker_topic
    try:
        w = cluster.start()
        config = {
            "connector.class": FILE_SOURCE,
            "tasks.max": "1",
            "file": str(data),
            "topic": topic,
            "exactly.once.support": "required",
        }
        if own_topic:
            config["offsets.storage.topic"] = offsets_topic
        status, body = w.request("POST", "/connectors", {"name": "src", "config": config})
        assert status == 201, body
        wait_until("200 lines", lambda: len(_values(kafka_bootstrap, topic)) >= 200)
        status, _ = w.request("PUT", "/connectors/src/stop")
        assert status == 204
        w.wait_state("src", "STOPPED", tasks=0)
        partition = {"filename": str(data)}
        assert w.get("/connectors/src/offsets") == {
            "offsets": [{"partition": partition, "offset": {"position": len(_lines(0, 200))}}]
        }

        key = serialize_key("src", partition)
        zombie = _zombie(
            kafka_bootstrap, f"{cluster.group}-src-0", offsets_topic, key, b'{"position":0}'
        )
        position = len(_lines(0, 150))
        status, body = w.request(
            "PATCH",
            "/connectors/src/offsets",
            {"offsets": [{"partition": partition, "offset": {"position": position}}]},
        )
        assert (status, body) == (
            200,
            {"message": "The offsets for this connector have been altered successfully"},
        )
        # The zombie was fenced: its open transaction was aborted and it can commit nothing.
        with pytest.raises(KafkaException):
            zombie.commit_transaction(30)
        last = _last_committed(kafka_bootstrap, offsets_topic)
        assert json.loads(last[key] or b"null") == {"position": position}
        if own_topic:
            wait_until(
                "the copy in the worker's topic",
                lambda: _last_committed(kafka_bootstrap, worker_topic).get(key) == last[key],
            )
        # As Java: the fencing recorded the stopped connector's task count, 0.
        fencing = _fencing_records(kafka_bootstrap, cluster.group, "tasks-fencing-src")
        assert fencing == [b'{"task-count":1}', b'{"task-count":0}']
        assert w.get("/connectors/src/offsets") == {
            "offsets": [{"partition": partition, "offset": {"position": position}}]
        }

        status, _ = w.request("PUT", "/connectors/src/resume")
        assert status == 202
        wait_all_running(w, "src", 1)
        wait_until(
            "the lines after the altered offset again",
            lambda: len(_values(kafka_bootstrap, topic)) >= 250,
        )
        values = _values(kafka_bootstrap, topic)
        assert values == [f"line {i}" for i in [*range(200), *range(150, 200)]]
    finally:
        cluster.close()


def test_a_reset_fences_every_task_of_the_last_generation(
    tmp_path: Path, new_topic: Any, kafka_bootstrap: str
) -> None:
    """A zombie of task 1 is fenced only by the zombie fencing (the offsets are written with
    task 0's transactional id): after `DELETE .../offsets` it cannot commit, and every offset
    of the connector reads back as a tombstone."""
    topic = new_topic()
    cluster = Cluster(tmp_path, kafka_bootstrap, **eos.EOS)
    try:
        w = cluster.start()
        config = {**eos.connector(topic), "tasks.max": "2", "max.records": "400"}
        config["records.per.second"] = "1000"
        status, body = w.request("POST", "/connectors", {"name": "gen", "config": config})
        assert status == 201, body
        wait_until("400 seqs", lambda: len(eos.seqs(kafka_bootstrap, topic)) >= 400)
        status, _ = w.request("PUT", "/connectors/gen/stop")
        assert status == 204
        w.wait_state("gen", "STOPPED", tasks=0)
        before = w.get("/connectors/gen/offsets")["offsets"]
        assert before

        offsets_topic = f"{cluster.group}-offsets"
        zombie_key = serialize_key("gen", before[0]["partition"])
        zombie = _zombie(
            kafka_bootstrap, f"{cluster.group}-gen-1", offsets_topic, zombie_key, b'{"seq":0}'
        )
        zombie.produce(topic, b"zombie", b"999999")
        assert zombie.flush(10) == 0

        status, body = w.request("DELETE", "/connectors/gen/offsets")
        assert (status, body) == (
            200,
            {"message": "The offsets for this connector have been reset successfully"},
        )
        with pytest.raises(KafkaException):
            zombie.commit_transaction(30)
        assert w.get("/connectors/gen/offsets") == {"offsets": []}
        last = _last_committed(kafka_bootstrap, offsets_topic)
        keys = {serialize_key("gen", o["partition"]) for o in before}
        assert {k: last[k] for k in keys} == dict.fromkeys(keys)
        assert 999999 not in eos.seqs(kafka_bootstrap, topic)
        fencing = _fencing_records(kafka_bootstrap, cluster.group, "tasks-fencing-gen")
        assert fencing == [b'{"task-count":2}', b'{"task-count":0}']
        # Reset again: nothing left to reset, nothing to fence; the same answer.
        status, body = w.request("DELETE", "/connectors/gen/offsets")
        assert status == 200, body
        assert _fencing_records(kafka_bootstrap, cluster.group, "tasks-fencing-gen") == fencing
    finally:
        cluster.close()
