"""Every record of a topic as it is on the broker: key and value bytes, headers, position.

For comparing what two connectors wrote (kconnect's CDC source and Debezium, say), record by
record. :func:`read_topic` reads each partition of the topic from its start with a consumer of no
group (nothing is committed) until at least ``min_records`` arrived and then none for ``idle_s``;
both waits are bounded by ``timeout``, after which it raises with how many it got. A topic that
does not exist yet is waited for within the same bound.
"""

from __future__ import annotations

import dataclasses
import json
import time
import uuid
from typing import Any

from confluent_kafka import Consumer, KafkaError, TopicPartition

POLL_S = 0.2
DEFAULT_IDLE_S = 3.0
DEFAULT_TIMEOUT_S = 60.0


@dataclasses.dataclass(frozen=True)
class TopicRecord:
    """One record: where it is, its raw key and value (None for a null), and its headers."""

    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...]

    def key_json(self) -> Any:
        """The key parsed as JSON (None for a null key)."""
        return None if self.key is None else json.loads(self.key)

    def value_json(self) -> Any:
        """The value parsed as JSON (None for a tombstone)."""
        return None if self.value is None else json.loads(self.value)

    def header_map(self) -> dict[str, bytes | None]:
        """The headers by name (the last one of a repeated name)."""
        return dict(self.headers)


def read_topic(
    bootstrap: str,
    topic: str,
    *,
    min_records: int = 0,
    idle_s: float = DEFAULT_IDLE_S,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> list[TopicRecord]:
    """All records of ``topic`` in partition and offset order (see the module's docstring)."""
    deadline = time.monotonic() + timeout
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"topic-records-{uuid.uuid4().hex}",  # assign() only: never joins
            "enable.auto.commit": False,
            "enable.partition.eof": False,
            "auto.offset.reset": "earliest",
        }
    )
    try:
        partitions = _partitions(consumer, topic, deadline)
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        records: list[TopicRecord] = []
        last_arrival = time.monotonic()
        while True:
            message = consumer.poll(POLL_S)
            now = time.monotonic()
            if message is not None:
                error = message.error()
                if error is not None:
                    if error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
                        continue
                    raise RuntimeError(f"reading {topic}: {error}")
                records.append(_record(message))
                last_arrival = now
            elif len(records) >= min_records and now - last_arrival >= idle_s:
                break
            if now >= deadline:
                if len(records) >= min_records:
                    break
                raise TimeoutError(
                    f"{topic}: {len(records)} records within {timeout:g}s, expected at least "
                    f"{min_records}"
                )
    finally:
        consumer.close()
    return sorted(records, key=lambda r: (r.partition, r.offset))


def _partitions(consumer: Consumer, topic: str, deadline: float) -> list[int]:
    while True:
        metadata = consumer.list_topics(topic, timeout=5)
        found = metadata.topics.get(topic)
        if found is not None and found.error is None and found.partitions:
            return sorted(found.partitions)
        if time.monotonic() >= deadline:
            raise TimeoutError(f"topic {topic} does not exist (or has no partitions)")
        time.sleep(POLL_S)


def _record(message: Any) -> TopicRecord:
    headers = tuple((name, value) for name, value in (message.headers() or []))
    return TopicRecord(
        partition=message.partition(),
        offset=message.offset(),
        key=message.key(),
        value=message.value(),
        headers=headers,
    )
