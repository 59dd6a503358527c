"""DataGen against the real broker: changing `tasks.max` while it runs repeats and skips nothing."""

from __future__ import annotations

import uuid
from collections import Counter

import pytest
from confluent_kafka import Consumer, TopicPartition

from tests.support.workers import Standalone, wait_until

pytestmark = pytest.mark.integration

TOTAL = 6000


def _size(bootstrap: str, topic: str) -> int:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"size-{uuid.uuid4().hex}"})
    try:
        return int(consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)[1])
    finally:
        consumer.close()


def _keys(bootstrap: str, topic: str) -> Counter[str]:
    """Every record's key in the topic, counted, read up to its current end."""
    end = _size(bootstrap, topic)
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"read-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    keys: Counter[str] = Counter()
    try:
        consumer.assign([TopicPartition(topic, 0, 0)])
        seen = 0

        def at_end() -> bool:
            nonlocal seen
            for msg in consumer.consume(1000, 0.5):
                if msg.error() is None:
                    keys[msg.key().decode()] += 1
                    seen = msg.offset() + 1
            return seen >= end

        wait_until(f"{end} records read from {topic}", at_end)
        return keys
    finally:
        consumer.close()


def test_growing_and_shrinking_tasks_max_makes_every_seq_exactly_once(
    standalone: Standalone, new_topic, kafka_bootstrap: str
) -> None:  # type: ignore[no-untyped-def]
    topic = new_topic()
    config = {
        "connector.class": "DataGen",
        "topic": topic,
        "tasks.max": "1",
        "records.per.second": "1500",
        "max.records": str(TOTAL),
        "batch.size": "50",
    }
    w = standalone.start()
    status, body = w.request("POST", "/connectors", {"name": "gen", "config": config})
    assert status == 201, body
    w.wait_state("gen", "RUNNING", tasks=1)
    for tasks, after in (("3", 1000), ("2", 2500), ("5", 3500)):
        wait_until(f"{after} records", lambda after=after: _size(kafka_bootstrap, topic) >= after)
        status, body = w.request("PUT", "/connectors/gen/config", {**config, "tasks.max": tasks})
        assert status == 200, body
        w.wait_state("gen", "RUNNING", tasks=int(tasks))
    wait_until(f"{TOTAL} records", lambda: _size(kafka_bootstrap, topic) >= TOTAL)
    # Stopped, the tasks have made and committed all they will.
    status, _ = w.request("PUT", "/connectors/gen/stop")
    assert status == 204
    w.wait_state("gen", "STOPPED", tasks=0)

    keys = _keys(kafka_bootstrap, topic)
    repeated = sorted((int(k) for k, n in keys.items() if n > 1))
    missing = sorted(set(range(TOTAL)) - {int(k) for k in keys})
    assert repeated == [], f"{len(repeated)} seqs made more than once, from {repeated[:5]}"
    assert missing == [], f"{len(missing)} seqs never made, from {missing[:5]}"
    assert len(keys) == TOTAL
    assert w.terminate() == 0
