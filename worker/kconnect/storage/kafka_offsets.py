"""Source offsets in the offsets topic (`offset.storage.topic`): Kafka Connect's
`KafkaOffsetBackingStore`.

Every worker reads the whole topic into memory and keeps reading, so the offsets a task on
another worker committed arrive here too; `read_to_end` waits for them before a task starts.
Keys and values are Kafka Connect's (`["<connector>",{partition}]` → `{offset}`), so a cluster
can move between the Java runtime and this one. A tombstone removes a partition's offset. A
record neither runtime could have written is logged and skipped: one bad record must not stop
every worker of the cluster.

`put` sends every entry, waits until the broker has acknowledged them all (or raises), and only
then updates memory: once it returns, the offsets are durable and visible here. The producer
partitions by murmur2 of the key, as Java's does, so the same key always lands in the same
partition whichever runtime wrote it, and the last write of a key is the one read back.

Memory may briefly show an older offset than this worker just wrote, while the reader catches
up with records written before it; it converges on the topic's last write per key.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping

from kconnect.api.types import ConnectorName, SourceOffset, SourcePartition
from kconnect.errors import DataError
from kconnect.storage.kafka_log import KafkaLog
from kconnect.storage.offsets import (
    MemoryOffsetStore,
    parse_key,
    parse_value,
    serialize_key,
    serialize_value,
)

log = logging.getLogger(__name__)


class KafkaOffsetStore(MemoryOffsetStore):
    """The offsets topic, folded into memory. Thread-safe; `start` before use."""

    def __init__(
        self,
        topic: str,
        *,
        client_config: Mapping[str, str],
        name: str = "offsets",
        reader_group: str | None = None,
        write_timeout: float = 30.0,
    ) -> None:
        super().__init__()
        self.topic = topic
        self._write_timeout = write_timeout
        self._log = KafkaLog(
            topic,
            client_config=client_config,
            on_record=self._on_record,
            name=name,
            reader_group=reader_group,
        )

    def start(self, timeout: float = 60.0) -> None:
        """Read the topic to its end; or raise."""
        self._log.start(timeout)

    def read_to_end(
        self, timeout: float = 30.0, *, interrupted: Callable[[], bool] | None = None
    ) -> None:
        """Wait until every offset committed so far, by any worker, is in memory; or raise
        (`TimeoutError`, or `ReadInterrupted` once `interrupted()` is true)."""
        if interrupted is None:
            self._log.read_to_end(timeout)
        else:
            self._log.read_to_end(timeout, interrupted=interrupted)

    def close(self) -> None:
        self._log.stop()

    @property
    def partitions(self) -> int:
        """How many partitions the topic has (known once started)."""
        return len(self._log.partitions)

    def committed(
        self,
        connector: ConnectorName,
        offsets: Iterable[tuple[SourcePartition, SourceOffset | None]],
    ) -> None:
        """Offsets another producer (a task's transaction) has made durable in this topic:
        shown here at once, before the reader comes to them."""
        with self._lock:
            self._apply(connector, offsets)

    def put(
        self,
        connector: ConnectorName,
        offsets: Iterable[tuple[SourcePartition, SourceOffset | None]],
    ) -> None:
        entries = list(offsets)
        futures = [
            self._log.send(serialize_key(connector, partition), serialize_value(offset))
            for partition, offset in entries
        ]
        self._log.wait(futures, self._write_timeout)
        with self._lock:
            self._apply(connector, entries)

    def _on_record(
        self, key: bytes | None, value: bytes | None, partition: int, offset: int
    ) -> None:
        if key is None:
            log.warning(
                "Ignoring offset record %s-%d@%d with no key", self.topic, partition, offset
            )
            return
        try:
            connector, source_partition = parse_key(key)
            source_offset = parse_value(value)
        except DataError as e:
            log.warning(
                "Ignoring unreadable offset record %s-%d@%d: %s", self.topic, partition, offset, e
            )
            return
        with self._lock:
            self._apply(connector, [(source_partition, source_offset)])
