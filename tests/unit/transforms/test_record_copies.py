"""`new_record`, the copy every transform makes of a record: what it keeps and what it shares."""

import pytest

from kconnect.api.records import Headers, SinkRecord, SourceRecord, TimestampType, source_records
from kconnect.data.schema import Schema


def test_a_sink_record_copy_keeps_where_the_record_was_read() -> None:
    headers = Headers().add("h", "1")
    record = SinkRecord(
        "orders",
        2,
        99,
        "v",
        value_schema=Schema.STRING,
        key="k",
        key_schema=Schema.STRING,
        timestamp=5,
        timestamp_type=TimestampType.LOG_APPEND_TIME,
        headers=headers,
    )
    record.original_topic = "raw"
    copy = record.new_record("routed", None, Schema.INT32, 1, Schema.INT64, 2, 6)
    assert type(copy) is SinkRecord
    assert (copy.topic, copy.kafka_partition, copy.kafka_offset) == ("routed", 2, 99)
    assert (copy.key_schema, copy.key, copy.value_schema, copy.value) == (
        Schema.INT32,
        1,
        Schema.INT64,
        2,
    )
    assert (copy.timestamp, copy.timestamp_type) == (6, TimestampType.LOG_APPEND_TIME)
    assert (copy.original_topic, copy.original_kafka_partition, copy.original_kafka_offset) == (
        "raw",
        2,
        99,
    )
    # The headers are copied, not shared: a transform may change the copy's.
    assert copy.headers == headers
    assert copy.headers is not headers
    copy.headers.add("added", "x")
    assert len(record.headers) == 1
    assert record.new_record("t", 7, None, None, None, None, None).kafka_partition == 7


def test_a_source_record_copy_keeps_its_source_position() -> None:
    record = SourceRecord("orders", "v", source_partition={"f": "a"}, source_offset={"p": 3})
    given = Headers().add("h", "1")
    copy = record.new_record("t", 1, None, "k", Schema.STRING, "w", 8, given)
    assert type(copy) is SourceRecord
    assert (copy.source_partition, copy.source_offset) == ({"f": "a"}, {"p": 3})
    assert (copy.topic, copy.kafka_partition, copy.key, copy.value, copy.timestamp) == (
        "t",
        1,
        "k",
        "w",
        8,
    )
    assert copy.headers is given
    # A record without headers makes none for its copy.
    assert record.new_record("t", None, None, None, None, None, None)._headers is None
    assert record == SourceRecord(
        "orders", "v", source_partition={"f": "a"}, source_offset={"p": 3}
    )


def test_source_records_in_a_batch_equal_those_of_the_keyword_constructor() -> None:
    partition = {"filename": "/data/in.txt"}
    offsets = [{"position": 10}, {"position": 20}]
    batch = source_records("lines", ["a", "b"], Schema.STRING, partition, offsets, 1234)
    one_by_one = [
        SourceRecord(
            "lines",
            value,
            source_partition=partition,
            source_offset=offset,
            value_schema=Schema.STRING,
            timestamp=1234,
        )
        for value, offset in zip(["a", "b"], offsets, strict=True)
    ]
    assert [repr(r) for r in batch] == [repr(r) for r in one_by_one]
    assert all(type(r) is SourceRecord for r in batch)
    assert not any(r.has_headers() for r in batch)


def test_source_records_refuse_values_and_offsets_of_different_counts() -> None:
    with pytest.raises(ValueError):
        source_records("lines", ["a", "b"], Schema.STRING, None, [{"position": 1}], None)
