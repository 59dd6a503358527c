"""Source offsets: their wire format, and the stores that keep them.

The format is Kafka Connect's, so offsets written by either runtime read in the other: the key is
the JSON array `["<connector>", {partition}]` and the value the JSON offset map, both written
compactly (no spaces). A partition map's key order doesn't matter for lookups: keys are indexed
by a canonical form (sorted keys), because Java writes them in hash-map order.

A store is written only with offsets whose records the broker has acknowledged; `put` returns
once they are durable.
"""

from __future__ import annotations

import json
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping

from kconnect.api.types import ConnectorName, JsonValue, SourceOffset, SourcePartition
from kconnect.errors import DataError

OffsetKey = tuple[ConnectorName, str]
"""(connector, canonical partition JSON): how stores index offsets."""


def _dumps(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def canonical_partition(partition: SourcePartition) -> str:
    return json.dumps(partition, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def serialize_key(connector: str, partition: SourcePartition) -> bytes:
    return _dumps([connector, partition]).encode()


def serialize_value(offset: SourceOffset | None) -> bytes | None:
    return None if offset is None else _dumps(offset).encode()


_M32 = 0xFFFFFFFF


def murmur2(data: bytes) -> int:
    """Kafka's `Utils.murmur2` (the Java producer's key hash), as an unsigned 32-bit int."""
    length = len(data)
    m = 0x5BD1E995
    h = (0x9747B28C ^ length) & _M32
    end = length - length % 4
    for i in range(0, end, 4):
        k = int.from_bytes(data[i : i + 4], "little")
        k = (k * m) & _M32
        k ^= k >> 24
        k = (k * m) & _M32
        h = (h * m) & _M32
        h ^= k
    rest = length % 4
    if rest == 3:
        h ^= data[end + 2] << 16
    if rest >= 2:
        h ^= data[end + 1] << 8
    if rest >= 1:
        h ^= data[end]
        h = (h * m) & _M32
    h ^= h >> 13
    h = (h * m) & _M32
    h ^= h >> 15
    return h


def key_partition(key: bytes, partitions: int) -> int:
    """The partition Java's default partitioner (and librdkafka's `murmur2_random`) gives a
    keyed record: `toPositive(murmur2(key)) % partitions`."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def parse_key(raw: bytes) -> tuple[ConnectorName, SourcePartition]:
    """A key of the offsets topic; `DataError` for one Kafka Connect couldn't have written."""
    try:
        decoded = json.loads(raw)
    except ValueError as e:
        raise DataError(f"offset key {raw[:200]!r} is not JSON: {e}") from None
    if (
        not isinstance(decoded, list)
        or len(decoded) != 2
        or not isinstance(decoded[0], str)
        or not isinstance(decoded[1], dict)
    ):
        raise DataError(
            f'offset key {raw[:200]!r} is not of the form ["<connector>", {{partition}}]'
        )
    return ConnectorName(decoded[0]), decoded[1]


def parse_value(raw: bytes | None) -> SourceOffset | None:
    if raw is None:
        return None
    try:
        decoded = json.loads(raw)
    except ValueError as e:
        raise DataError(f"offset value {raw[:200]!r} is not JSON: {e}") from None
    if decoded is not None and not isinstance(decoded, dict):
        raise DataError(f"offset value {raw[:200]!r} is not a JSON object")
    return decoded


class OffsetStore(ABC):
    """Committed source offsets of every connector on this worker."""

    @abstractmethod
    def get(self, connector: ConnectorName, partition: SourcePartition) -> SourceOffset | None: ...

    @abstractmethod
    def connector_offsets(
        self, connector: ConnectorName
    ) -> list[tuple[SourcePartition, SourceOffset]]: ...

    @abstractmethod
    def put(
        self,
        connector: ConnectorName,
        offsets: Iterable[tuple[SourcePartition, SourceOffset | None]],
    ) -> None:
        """Make these offsets durable (a None offset removes the partition), or raise."""

    def read_to_end(
        self, timeout: float = 30.0, *, interrupted: Callable[[], bool] | None = None
    ) -> None:
        """Catch up with offsets other workers committed; a shared store reads its topic, for
        at most `timeout` seconds and no longer than `interrupted()` stays false. Local stores
        are always up to date."""

    def close(self) -> None:
        pass


class MemoryOffsetStore(OffsetStore):
    """Offsets in a dict. Thread-safe: tasks commit from their own threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._data: dict[OffsetKey, tuple[SourcePartition, SourceOffset]] = {}

    def get(self, connector: ConnectorName, partition: SourcePartition) -> SourceOffset | None:
        with self._lock:
            hit = self._data.get((connector, canonical_partition(partition)))
        return None if hit is None else hit[1]

    def connector_offsets(
        self, connector: ConnectorName
    ) -> list[tuple[SourcePartition, SourceOffset]]:
        with self._lock:
            return [v for (c, _), v in self._data.items() if c == connector]

    def put(
        self,
        connector: ConnectorName,
        offsets: Iterable[tuple[SourcePartition, SourceOffset | None]],
    ) -> None:
        with self._lock:
            self._apply(connector, offsets)
            self._persist()

    def _apply(
        self,
        connector: ConnectorName,
        offsets: Iterable[tuple[SourcePartition, SourceOffset | None]],
    ) -> None:
        for partition, offset in offsets:
            key = (connector, canonical_partition(partition))
            if offset is None:
                self._data.pop(key, None)
            else:
                self._data[key] = (partition, offset)

    def _persist(self) -> None:
        """Called under the lock after every change; the memory store keeps nothing."""

    def _items(self) -> list[tuple[ConnectorName, SourcePartition, SourceOffset]]:
        return [(c, p, o) for (c, _), (p, o) in self._data.items()]

    def _load_items(self, items: Mapping[bytes, bytes | None]) -> None:
        for raw_key, raw_value in items.items():
            connector, partition = parse_key(raw_key)
            offset = parse_value(raw_value)
            self._apply(connector, [(partition, offset)])


def offsets_as_json(
    items: Iterable[tuple[SourcePartition, SourceOffset]],
) -> list[dict[str, JsonValue]]:
    return [{"partition": p, "offset": o} for p, o in items]
