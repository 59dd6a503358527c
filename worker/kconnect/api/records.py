"""Records as a connector sees them.

A `SourceRecord` carries the source partition and offset it came from; the runtime commits that
offset only once the broker has acknowledged the record. A `SinkRecord` carries the Kafka
coordinates it was read from. Records are slotted classes: they are made once per message on
the hot path, so they keep no per-instance dict.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, NamedTuple, Self

from kconnect.api.types import SourceOffset, SourcePartition

if TYPE_CHECKING:
    from kconnect.data.schema import Schema


class Header(NamedTuple):
    key: str
    schema: Schema | None
    value: object


class Headers:
    """An ordered list of headers; a key may repeat, as in Kafka."""

    __slots__ = ("_items",)

    def __init__(self, items: list[Header] | None = None) -> None:
        self._items: list[Header] = items if items is not None else []

    def add(self, key: str, value: object, schema: Schema | None = None) -> Headers:
        self._items.append(Header(key, schema, value))
        return self

    def last(self, key: str) -> Header | None:
        for header in reversed(self._items):
            if header.key == key:
                return header
        return None

    def all(self, key: str) -> list[Header]:
        return [h for h in self._items if h.key == key]

    def remove(self, key: str) -> Headers:
        self._items = [h for h in self._items if h.key != key]
        return self

    def copy(self) -> Headers:
        return Headers(list(self._items))

    def __iter__(self) -> Iterator[Header]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __bool__(self) -> bool:
        return bool(self._items)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Headers) and self._items == other._items

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"


class ConnectRecord:
    """What source and sink records share: topic, partition, key, value, timestamp, headers."""

    __slots__ = (
        "_headers",
        "kafka_partition",
        "key",
        "key_schema",
        "timestamp",
        "topic",
        "value",
        "value_schema",
    )

    def __init__(
        self,
        topic: str,
        value: object,
        *,
        value_schema: Schema | None = None,
        key: object = None,
        key_schema: Schema | None = None,
        kafka_partition: int | None = None,
        timestamp: int | None = None,
        headers: Headers | None = None,
    ) -> None:
        self.topic = topic
        self.kafka_partition = kafka_partition
        self.key_schema = key_schema
        self.key = key
        self.value_schema = value_schema
        self.value = value
        self.timestamp = timestamp
        self._headers = headers

    @property
    def headers(self) -> Headers:
        """The record's headers; made on first use, so records without any cost nothing."""
        headers = self._headers
        if headers is None:
            headers = self._headers = Headers()
        return headers

    @headers.setter
    def headers(self, value: Headers) -> None:
        self._headers = value

    def has_headers(self) -> bool:
        return bool(self._headers)

    def new_record(
        self,
        topic: str,
        kafka_partition: int | None,
        key_schema: Schema | None,
        key: object,
        value_schema: Schema | None,
        value: object,
        timestamp: int | None,
        headers: Headers | None = None,
    ) -> Self:
        """A copy with other routing or data, as a transform makes it. Headers are copied
        unless given; what the record kind adds (source offset, Kafka offset) is kept."""
        raise NotImplementedError(f"{type(self).__name__} does not support new_record")

    def _fields(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in _all_slots(type(self)))

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, ConnectRecord)
            and type(other) is type(self)
            and (self._fields() == other._fields())
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        parts = ", ".join(f"{n}={getattr(self, n)!r}" for n in _all_slots(type(self)))
        return f"{type(self).__name__}({parts})"


def _all_slots(cls: type) -> list[str]:
    names: list[str] = []
    for klass in reversed(cls.__mro__):
        names.extend(n.lstrip("_") for n in getattr(klass, "__slots__", ()))
    return names


_new_record = object.__new__


class SourceRecord(ConnectRecord):
    """A record read from an external system, with the position it was read at.

    The constructors of both record kinds assign every slot themselves instead of calling
    `super().__init__`: a record is made per message, and the extra call is measurable there.
    """

    __slots__ = ("source_offset", "source_partition")

    def __init__(
        self,
        topic: str,
        value: object,
        *,
        source_partition: SourcePartition | None = None,
        source_offset: SourceOffset | None = None,
        value_schema: Schema | None = None,
        key: object = None,
        key_schema: Schema | None = None,
        kafka_partition: int | None = None,
        timestamp: int | None = None,
        headers: Headers | None = None,
    ) -> None:
        self.topic = topic
        self.kafka_partition = kafka_partition
        self.key_schema = key_schema
        self.key = key
        self.value_schema = value_schema
        self.value = value
        self.timestamp = timestamp
        self._headers = headers
        self.source_partition = source_partition
        self.source_offset = source_offset

    def new_record(
        self,
        topic: str,
        kafka_partition: int | None,
        key_schema: Schema | None,
        key: object,
        value_schema: Schema | None,
        value: object,
        timestamp: int | None,
        headers: Headers | None = None,
    ) -> SourceRecord:
        """A copy with other routing or data, as a transform makes it."""
        # Every slot is assigned here rather than through the keyword constructor: each
        # transform makes one copy per record, and the constructor call costs as much again.
        record = _new_record(SourceRecord)
        record.topic = topic
        record.kafka_partition = kafka_partition
        record.key_schema = key_schema
        record.key = key
        record.value_schema = value_schema
        record.value = value
        record.timestamp = timestamp
        if headers is None:
            own = self._headers
            headers = None if own is None else own.copy()
        record._headers = headers
        record.source_partition = self.source_partition
        record.source_offset = self.source_offset
        return record


def source_records(
    topic: str,
    values: Iterable[object],
    value_schema: Schema | None,
    source_partition: SourcePartition | None,
    source_offsets: Iterable[SourceOffset | None],
    timestamp: int | None,
) -> list[SourceRecord]:
    """One `SourceRecord` per value, with its offset, all with the same topic, schema, source
    partition and timestamp, no key and no headers: what a connector reading lines makes.

    Equal to calling the keyword constructor for each value, at about a third of its cost,
    which a connector producing hundreds of thousands of records a second notices.
    """
    records: list[SourceRecord] = []
    append = records.append
    for value, offset in zip(values, source_offsets, strict=True):
        record = _new_record(SourceRecord)
        record.topic = topic
        record.kafka_partition = None
        record.key_schema = None
        record.key = None
        record.value_schema = value_schema
        record.value = value
        record.timestamp = timestamp
        record._headers = None
        record.source_partition = source_partition
        record.source_offset = offset
        append(record)
    return records


class TimestampType:
    NO_TIMESTAMP_TYPE = "NoTimestampType"
    CREATE_TIME = "CreateTime"
    LOG_APPEND_TIME = "LogAppendTime"


class SinkRecord(ConnectRecord):
    """A record read from Kafka, with the offset it was read at."""

    __slots__ = (
        "kafka_offset",
        "original_kafka_offset",
        "original_kafka_partition",
        "original_topic",
        "timestamp_type",
    )

    def __init__(
        self,
        topic: str,
        kafka_partition: int,
        kafka_offset: int,
        value: object,
        *,
        value_schema: Schema | None = None,
        key: object = None,
        key_schema: Schema | None = None,
        timestamp: int | None = None,
        timestamp_type: str = TimestampType.CREATE_TIME,
        headers: Headers | None = None,
    ) -> None:
        self.topic = topic
        self.kafka_partition = kafka_partition
        self.key_schema = key_schema
        self.key = key
        self.value_schema = value_schema
        self.value = value
        self.timestamp = timestamp
        self._headers = headers
        self.kafka_offset = kafka_offset
        self.timestamp_type = timestamp_type
        # Where the record was read, even after a transform has renamed its topic.
        self.original_topic = topic
        self.original_kafka_partition = kafka_partition
        self.original_kafka_offset = kafka_offset

    @staticmethod
    def consumed(
        topic: str,
        kafka_partition: int,
        kafka_offset: int,
        key_schema: Schema | None,
        key: object,
        value_schema: Schema | None,
        value: object,
        timestamp: int | None,
        timestamp_type: str,
        headers: Headers | None,
    ) -> SinkRecord:
        """The record the runtime makes for each consumed message: the constructor's fields,
        positional and assigned straight to the slots, since this runs once per record."""
        record = _new_record(SinkRecord)
        record.topic = topic
        record.kafka_partition = kafka_partition
        record.key_schema = key_schema
        record.key = key
        record.value_schema = value_schema
        record.value = value
        record.timestamp = timestamp
        record._headers = headers
        record.kafka_offset = kafka_offset
        record.timestamp_type = timestamp_type
        record.original_topic = topic
        record.original_kafka_partition = kafka_partition
        record.original_kafka_offset = kafka_offset
        return record

    def new_record(
        self,
        topic: str,
        kafka_partition: int | None,
        key_schema: Schema | None,
        key: object,
        value_schema: Schema | None,
        value: object,
        timestamp: int | None,
        headers: Headers | None = None,
    ) -> SinkRecord:
        # Slots assigned directly, as in `SourceRecord.new_record`.
        record = _new_record(SinkRecord)
        record.topic = topic
        record.kafka_partition = (
            kafka_partition if kafka_partition is not None else self.original_kafka_partition
        )
        record.key_schema = key_schema
        record.key = key
        record.value_schema = value_schema
        record.value = value
        record.timestamp = timestamp
        if headers is None:
            own = self._headers
            headers = None if own is None else own.copy()
        record._headers = headers
        record.kafka_offset = self.kafka_offset
        record.timestamp_type = self.timestamp_type
        record.original_topic = self.original_topic
        record.original_kafka_partition = self.original_kafka_partition
        record.original_kafka_offset = self.original_kafka_offset
        return record
