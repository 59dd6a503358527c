"""A sink commits only what `put` accepted, on every path: against the real broker.

The sink system's outage comes from a test plugin (`GatedSink`: `put` raises a
`RetriableError` while a file exists); the rebalance is real: a second member joins the sink's
consumer group `connect-<name>`, and the broker takes a partition away from the task while it
is retrying.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from tests.support.workers import Standalone, read_lines, wait_until

pytestmark = pytest.mark.integration

PER_PARTITION = 10


def _produce(bootstrap: str, topic: str, partitions: int) -> None:
    producer = Producer({"bootstrap.servers": bootstrap})
    for p in range(partitions):
        for i in range(PER_PARTITION):
            producer.produce(topic, f"p{p}-{i}".encode(), partition=p)
    assert producer.flush(30) == 0


def _committed(bootstrap: str, group: str, topic: str, partitions: int) -> dict[int, int | None]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        tps = consumer.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=30)
        return {tp.partition: (None if tp.offset < 0 else int(tp.offset)) for tp in tps}
    finally:
        consumer.close()


def _written(out: Path) -> list[tuple[int, int]]:
    return [(int(p), int(o)) for p, o, _ in (line.split(" ", 2) for line in read_lines(out))]


def _accepted(attempts: Path) -> dict[int, int]:
    """Per partition, one past the last offset a put() call that succeeded was given."""
    out: dict[int, int] = {}
    for line in read_lines(attempts):
        verdict, *where = line.split()
        if verdict != "accepted":
            continue
        for item in where:
            p, o = (int(x) for x in item.split(":"))
            out[p] = max(out.get(p, 0), o + 1)
    return out


def _gated_sink(name: str, topic: str, out: Path, hold: Path, attempts: Path) -> dict[str, str]:
    return {
        "name": name,
        "connector.class": "kconnect_test_plugins:GatedSink",
        "topics": topic,
        "file": str(out),
        "hold": str(hold),
        "attempts": str(attempts),
    }


def _first_refused(attempts: Path) -> set[int] | None:
    """The partitions of the first batch put() refused, or None before one was refused."""
    for line in read_lines(attempts):
        if line.startswith("refused"):
            return {int(item.split(":")[0]) for item in line.split()[1:]}
    return None


def test_a_partition_revoked_while_put_is_retried_is_not_committed_past_what_put_accepted(
    standalone: Standalone, new_topic, kafka_bootstrap: str
) -> None:  # type: ignore[no-untyped-def]
    # The scenario needs the refused batch to hold records of both partitions, so that whichever
    # one the broker moves, the task had consumed (and not delivered) records of it. A refused
    # batch is redelivered as it is, so when the consumer's first fetch brought one partition
    # only (its other partition still being positioned), the run is started again on a fresh
    # topic and group: a precondition, bounded to three tries; the assertions below never retry.
    for attempt in range(3):
        topic = new_topic(partitions=2)
        name = f"gated-{attempt}"
        group = f"connect-{name}"
        out = standalone.cwd / f"out-{attempt}.txt"
        hold = standalone.cwd / f"hold-{attempt}"
        attempts = standalone.cwd / f"attempts-{attempt}.txt"
        hold.touch()
        _produce(kafka_bootstrap, topic, 2)
        sink = _gated_sink(name, topic, out, hold, attempts)
        w = standalone.start([sink])
        refused = wait_until("put() to refuse a batch", lambda a=attempts: _first_refused(a))
        if refused == {0, 1}:
            break
        assert w.terminate() == 0
    else:
        pytest.fail("three runs in a row first refused a batch holding one partition only")

    # A second member joins the group: the broker moves one partition to it, so the task's
    # consumer revokes that partition in the middle of the retries.
    assigned: list[Any] = []
    member = Consumer(
        {
            "bootstrap.servers": kafka_bootstrap,
            "group.id": group,
            "group.protocol": "consumer",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    try:
        member.subscribe([topic], on_assign=lambda _c, parts: assigned.extend(parts))

        def member_has_a_partition() -> bool:
            member.consume(10, 0.2)
            return bool(assigned)

        wait_until("the second member to get a partition", member_has_a_partition)
        # The broker gives the partition to the new member only after the task revoked it;
        # whatever the task committed then is in the group now.
        committed = _committed(kafka_bootstrap, group, topic, 2)
        accepted = _accepted(attempts)
        assert accepted == {}, "put() must not have accepted anything yet"
        assert committed == {0: None, 1: None}, (
            f"the revocation committed {committed}, but put() accepted nothing"
        )
        # The worker stops while put() is still refused: only what it accepted may be committed.
        assert w.terminate() == 0
        assert _committed(kafka_bootstrap, group, topic, 2) == {0: None, 1: None}
    finally:
        member.close()  # leaves the group without committing anything

    # The sink system is back: a new run delivers every record, and commits all of them.
    hold.unlink()
    w = standalone.start([sink])
    wait_until(
        "every record written",
        lambda: (
            {(p, o) for p, o in _written(out)}
            >= {(p, o) for p in range(2) for o in range(PER_PARTITION)}
        ),
    )
    wait_until(
        "every record committed",
        lambda: (
            _committed(kafka_bootstrap, group, topic, 2) == {0: PER_PARTITION, 1: PER_PARTITION}
        ),
    )
    assert w.terminate() == 0


def test_a_stop_during_put_retries_commits_what_was_delivered_before_and_fails_nothing(
    standalone: Standalone, new_topic, kafka_bootstrap: str
) -> None:  # type: ignore[no-untyped-def]
    topic = new_topic()
    name = "gated-stop"
    group = f"connect-{name}"
    out = standalone.cwd / "out.txt"
    hold = standalone.cwd / "hold"
    attempts = standalone.cwd / "attempts.txt"
    _produce(kafka_bootstrap, topic, 1)
    sink = _gated_sink(name, topic, out, hold, attempts)
    w = standalone.start([sink])
    wait_until("the first records written", lambda: len(read_lines(out)) >= PER_PARTITION)
    hold.touch()
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    for i in range(PER_PARTITION, 2 * PER_PARTITION):
        producer.produce(topic, f"p0-{i}".encode(), partition=0)
    assert producer.flush(30) == 0
    wait_until(
        "put() to refuse the second batch",
        lambda: any(line.startswith("refused") for line in read_lines(attempts)),
    )
    assert w.terminate() == 0
    # A stop is not a failure: the task ends without a trace.
    assert "Traceback" not in w.log()
    # What put() accepted before the outage is committed; the refused batch is not.
    assert _committed(kafka_bootstrap, group, topic, 1) == {0: _accepted(attempts)[0]}
    assert _accepted(attempts)[0] == PER_PARTITION

    hold.unlink()
    w = standalone.start([sink])
    wait_until("every record written", lambda: len(read_lines(out)) >= 2 * PER_PARTITION)
    assert sorted(_written(out)) == [(0, o) for o in range(2 * PER_PARTITION)]
    assert w.terminate() == 0
