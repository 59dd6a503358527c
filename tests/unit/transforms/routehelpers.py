"""Records and headers for the routing, header and timestamp transform tests."""

from __future__ import annotations

from kconnect.api.records import Header, Headers, SinkRecord, SourceRecord
from kconnect.data.schema import Schema


def source(
    value: object,
    *,
    schema: Schema | None = None,
    key: object = None,
    key_schema: Schema | None = None,
    topic: str = "topic",
    timestamp: int | None = None,
    headers: Headers | None = None,
) -> SourceRecord:
    return SourceRecord(
        topic,
        value,
        source_partition={"p": 1},
        source_offset={"o": 7},
        value_schema=schema,
        key=key,
        key_schema=key_schema,
        kafka_partition=3,
        timestamp=timestamp,
        headers=headers,
    )


def sink(
    value: object,
    *,
    schema: Schema | None = None,
    key: object = None,
    key_schema: Schema | None = None,
    topic: str = "topic",
    timestamp: int | None = None,
    headers: Headers | None = None,
) -> SinkRecord:
    return SinkRecord(
        topic,
        2,
        99,
        value,
        value_schema=schema,
        key=key,
        key_schema=key_schema,
        timestamp=timestamp,
        headers=headers,
    )


def header_list(headers: Headers) -> list[tuple[str, Schema | None, object]]:
    return [(h.key, h.schema, h.value) for h in headers]


def headers_of(*items: tuple[str, Schema | None, object]) -> Headers:
    return Headers([Header(k, s, v) for k, s, v in items])
