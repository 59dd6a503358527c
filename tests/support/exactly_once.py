"""What the exactly-once tests share: DataGen runs whose every record carries its sequence number
as its key, the readers that count those numbers, and rounds of worker kills."""

from __future__ import annotations

import random
import time
import uuid
from collections import Counter
from typing import Any

from confluent_kafka import Consumer, KafkaException, TopicPartition

from tests.support.cluster import Cluster, wait_all_running
from tests.support.workers import wait_until

TASKS = 3
TOTAL = 12_000
RATE = "300"
ROUNDS = 4
EOS = {"exactly.once.source.support": "enabled"}
# The broker's lowest session timeout (group.min.session.timeout.ms): a killed worker's tasks
# move 4 s sooner each round than with the default 10 s.
QUICK_FAILOVER = {"session.timeout.ms": "6000", "heartbeat.interval.ms": "2000"}


def connector(topic: str, **extra: str) -> dict[str, str]:
    return {
        "connector.class": "DataGen",
        "topic": topic,
        "tasks.max": str(TASKS),
        "records.per.second": RATE,
        "max.records": str(TOTAL),
        "batch.size": "40",
        **extra,
    }


def read(bootstrap: str, topic: str, *, isolation: str, partitions: int = 1) -> list[Any]:
    """The records of `topic` a consumer with `isolation` reads, up to the end offsets the topic
    had when called (or until nothing came for 3 s: transaction markers end a partition)."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"read-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "isolation.level": isolation,
        }
    )
    out: list[Any] = []
    try:
        ends = {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in range(partitions)
        }
        left = {p for p, end in ends.items() if end > 0}
        consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
        quiet_since = time.monotonic()
        deadline = time.monotonic() + 120
        while left and time.monotonic() - quiet_since < 3 and time.monotonic() < deadline:
            batch = [m for m in consumer.consume(5000, 0.5) if m.error() is None]
            if batch:
                quiet_since = time.monotonic()
            for m in batch:
                if m.offset() < ends[m.partition()]:
                    out.append(m)
                if m.offset() >= ends[m.partition()] - 1:
                    left.discard(m.partition())
        return out
    finally:
        consumer.close()


def seqs(bootstrap: str, topic: str, isolation: str = "read_committed") -> Counter[int]:
    return Counter(int(m.key()) for m in read(bootstrap, topic, isolation=isolation))


def made(cluster: Cluster, topic: str) -> int:
    """The topic's end offset: records committed or not, and transaction markers."""
    consumer = Consumer({"bootstrap.servers": cluster.bootstrap, "group.id": "size"})
    try:
        return int(consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)[1])
    except KafkaException:
        return -1  # a broker just resumed may not know its partitions for a moment
    finally:
        consumer.close()


def kill_rounds(cluster: Cluster, topic: str, rounds: int) -> int:
    """Kill a random worker (SIGKILL) and start it again, `rounds` times, while DataGen makes
    its records; each round first waits for the tasks to make progress. How many rounds ran."""
    rng = random.Random(0x618)
    done = 0
    for _ in range(rounds):
        before = made(cluster, topic)
        wait_until("progress", lambda before=before: made(cluster, topic) >= before + 1500, 120)
        seen = len(seqs(cluster.bootstrap, topic, "read_uncommitted"))
        print(f"{time.strftime('%X')} round {done}: {seen} seqs made")
        if seen >= TOTAL * 0.9:
            break
        victim = rng.choice(cluster.alive)
        victim.kill()
        cluster.restart(victim)
        done += 1
    return done


def run(cluster: Cluster, topic: str) -> tuple[Counter[int], int]:
    a = cluster.start()
    cluster.start()
    status, body = a.request("POST", "/connectors", {"name": "gen", "config": connector(topic)})
    assert status == 201, body
    wait_all_running(a, "gen", TASKS)
    print(f"{time.strftime('%X')} all running")
    rounds = kill_rounds(cluster, topic, ROUNDS)
    w = cluster.alive[0]
    wait_until(
        f"all {TOTAL} seqs made",
        lambda: len(seqs(cluster.bootstrap, topic)) >= TOTAL,
        timeout=180,
    )
    status, _ = w.request("PUT", "/connectors/gen/stop")
    assert status == 204
    w.wait_state("gen", "STOPPED", tasks=0)
    return seqs(cluster.bootstrap, topic), rounds


def config_records(bootstrap: str, topic: str) -> list[tuple[str, bytes | None]]:
    return [
        (m.key().decode(), m.value()) for m in read(bootstrap, topic, isolation="read_committed")
    ]
