"""Records and configured transforms for the field transform tests; `configured` serves the
routing, header and timestamp transform tests too."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, TypeVar

from kconnect.api.records import ConnectRecord, SinkRecord, SourceRecord
from kconnect.api.transform import Predicate, Transformation
from kconnect.data.schema import Schema


class Configurable(Protocol):
    def configure(self, configs: Mapping[str, str]) -> None: ...


C = TypeVar("C", bound=Configurable)

TOPIC = "orders"
PARTITION = 3
OFFSET = 42
TIMESTAMP = 1_700_000_000_123


def configured(cls: type[C], props: Mapping[str, str]) -> C:
    """A new transform or predicate `cls` configured with `props`, as the runtime makes one."""
    instance = cls()
    instance.configure(props)
    return instance


def sink(
    value: object,
    value_schema: Schema | None = None,
    *,
    key: object = None,
    key_schema: Schema | None = None,
    timestamp: int | None = TIMESTAMP,
) -> SinkRecord:
    return SinkRecord(
        TOPIC,
        PARTITION,
        OFFSET,
        value,
        value_schema=value_schema,
        key=key,
        key_schema=key_schema,
        timestamp=timestamp,
    )


def source(
    value: object,
    value_schema: Schema | None = None,
    *,
    key: object = None,
    key_schema: Schema | None = None,
    kafka_partition: int | None = None,
    timestamp: int | None = None,
) -> SourceRecord:
    return SourceRecord(
        TOPIC,
        value,
        source_partition={"file": "x"},
        source_offset={"position": 7},
        value_schema=value_schema,
        key=key,
        key_schema=key_schema,
        kafka_partition=kafka_partition,
        timestamp=timestamp,
    )


def applied(transform: Transformation[ConnectRecord], record: ConnectRecord) -> ConnectRecord:
    """The transformed record; these transforms never drop one."""
    out = transform.apply(record)
    assert out is not None
    return out


class TopicStartsWith(Predicate[ConnectRecord]):
    """A predicate as a user would write one: the topic starts with `prefix`."""

    closed = 0

    def configure(self, configs: Mapping[str, str]) -> None:
        self.prefix = configs["prefix"]

    def test(self, record: ConnectRecord) -> bool:
        return record.topic.startswith(self.prefix)

    def close(self) -> None:
        TopicStartsWith.closed += 1


STARTS_WITH = f"{__name__}:TopicStartsWith"
