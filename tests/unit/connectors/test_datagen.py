"""DataGen: the pure parts (content, split, rate) and the task run directly."""

from __future__ import annotations

import datetime as dt
import decimal
import threading
from typing import TYPE_CHECKING

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kconnect.api.records import SourceRecord
from kconnect.connectors.datagen import (
    DataGenConnector,
    DataGenTask,
    TokenBucket,
    bucket_capacity,
    next_seq,
    order_value,
    orders_schema,
    record_value,
    task_share,
    text_value,
    user_value,
    users_schema,
    value_schema,
)
from kconnect.data import Schema, Struct, validate_value
from kconnect.errors import ConfigError, ConnectError

if TYPE_CHECKING:
    from conftest import DictOffsetReader, FakeSourceTaskContext


@pytest.fixture(autouse=True)
def _short_idle_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(DataGenTask, "idle_wait_s", 0.01)


def start_task(context: FakeSourceTaskContext, **props: str) -> DataGenTask:
    task = DataGenTask()
    task.initialize(context)
    task.start({"topic": "gen", **props})
    return task


def seqs(records: list[SourceRecord]) -> list[int]:
    return [int(str(r.key)) for r in records]


def run_to_end(task: DataGenTask) -> list[SourceRecord]:
    """Poll until the task's share is done (it returns nothing twice in a row)."""
    records: list[SourceRecord] = []
    empty = 0
    while empty < 2:
        batch = task.poll()
        if batch:
            records.extend(batch)
            empty = 0
        else:
            empty += 1
    return records


# --- the split ------------------------------------------------------------------------------


@given(total=st.integers(min_value=0, max_value=10**6), tasks=st.integers(1, 64))
def test_shares_sum_to_the_total_and_match_the_strides(total: int, tasks: int) -> None:
    shares = [task_share(total, tasks, i) for i in range(tasks)]
    assert sum(shares) == total
    assert max(shares) - min(shares) <= 1
    assert shares == [len(range(i, total, tasks)) for i in range(tasks)]


def test_unbounded_share() -> None:
    assert task_share(-1, 3, 0) == -1


@given(
    committed=st.none() | st.integers(0, 10**9),
    tasks=st.integers(1, 50),
    data=st.data(),
)
def test_next_seq_is_the_first_of_the_stride_after_the_committed_one(
    committed: int | None, tasks: int, data: st.DataObject
) -> None:
    index = data.draw(st.integers(0, tasks - 1))
    seq = next_seq(committed, tasks, index)
    assert seq % tasks == index
    floor = -1 if committed is None else committed
    assert floor < seq <= floor + tasks


# --- record content -------------------------------------------------------------------------


def test_text_values_carry_their_seq_and_are_100_bytes() -> None:
    line = text_value(0, 123)
    assert line.startswith("seq=000000123 ")
    assert len(line.encode()) == 100
    assert line.isascii()


def test_content_is_a_function_of_seed_and_seq() -> None:
    assert text_value(7, 5) == text_value(7, 5)
    assert [text_value(1, s) for s in range(20)] != [text_value(2, s) for s in range(20)]
    assert user_value(3, 9) == user_value(3, 9)
    assert order_value(3, 9) == order_value(3, 9)
    assert order_value(3, 9) != order_value(4, 9)


@pytest.mark.parametrize("schema_name", ["users", "orders"])
def test_struct_values_fit_their_schema(schema_name: str) -> None:
    schema = value_schema(schema_name)  # type: ignore[arg-type]
    for seq in range(200):
        value = record_value(schema_name, 11, seq)  # type: ignore[arg-type]
        assert isinstance(value, Struct)
        assert value.schema == schema
        value.validate()
        validate_value(schema, value)
        assert value.get("seq") == seq


def test_orders_have_a_decimal_price_and_a_utc_timestamp() -> None:
    schema = orders_schema()
    price_schema = schema.field("price")
    assert price_schema is not None
    assert price_schema.schema.name == "org.apache.kafka.connect.data.Decimal"
    assert price_schema.schema.parameters == {"scale": "2"}
    order = order_value(0, 42)
    price = order.get("price")
    assert isinstance(price, decimal.Decimal)
    assert price.as_tuple().exponent == -2
    ordered_at = order.get("ordered_at")
    assert isinstance(ordered_at, dt.datetime)
    assert ordered_at.utcoffset() == dt.timedelta(0)
    time_field = users_schema().field("registered_at")
    assert time_field is not None
    assert time_field.schema.name == "org.apache.kafka.connect.data.Timestamp"


# --- throttling -----------------------------------------------------------------------------


def test_bucket_grants_what_has_accrued_up_to_its_capacity() -> None:
    bucket = TokenBucket.full(rate=100.0, capacity=10.0, now=0.0)
    granted, bucket = bucket.take(0.0, 1000)
    assert granted == 10
    granted, bucket = bucket.take(0.05, 1000)
    assert granted == 5
    granted, bucket = bucket.take(60.0, 1000)  # a long pause saves up no more than the capacity
    assert granted == 10
    granted, bucket = bucket.take(60.0, 3)
    assert granted == 0
    assert bucket.wait_for(3) == pytest.approx(0.03)
    assert bucket.wait_for(1000) == pytest.approx(0.1)  # never more than the capacity


@given(
    rate=st.floats(min_value=0.5, max_value=1e6),
    fractions=st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=1, max_size=200),
)
def test_bucket_does_not_drift(rate: float, fractions: list[float]) -> None:
    """Taking before the bucket overflows, as a task that keeps up does, loses only a fraction."""
    capacity = bucket_capacity(rate, 1000)
    bucket = TokenBucket(rate, capacity, 0.0, 0.0)  # start empty: only the rate counts
    now = 0.0
    total = 0
    for fraction in fractions:
        now += fraction * bucket.wait_for(10**9)  # at most until the bucket is full
        granted, bucket = bucket.take(now, 10**9)
        total += granted
    expected = rate * now
    assert expected - 1 - 1e-9 * expected <= total <= expected + 1e-9 * expected


@pytest.mark.parametrize(
    ("rate", "batch", "capacity"),
    [(5.0, 1000, 1.0), (100.0, 1000, 10.0), (150_000.0, 1000, 1000.0), (1e6, 50, 50.0)],
)
def test_bucket_capacity(rate: float, batch: int, capacity: float) -> None:
    assert bucket_capacity(rate, batch) == capacity


def test_throttled_task_returns_bursts_of_the_capacity(
    source_context: FakeSourceTaskContext,
) -> None:
    task = start_task(source_context, **{"records.per.second": "20", "tasks.max": "1"})
    first = task.poll() or []
    second = task.poll() or []
    assert len(first) == 2  # a tenth of a second's worth
    assert 1 <= len(second) <= 2
    assert seqs(first + second) == list(range(len(first) + len(second)))
    task.stop()


# --- the task -------------------------------------------------------------------------------


def test_task_makes_batches_of_text_records(source_context: FakeSourceTaskContext) -> None:
    task = start_task(source_context, seed="3", **{"batch.size": "50"})
    records = task.poll() or []
    assert seqs(records) == list(range(50))
    for seq, record in enumerate(records):
        assert record.topic == "gen"
        assert record.value == text_value(3, seq)
        assert record.value_schema == Schema.STRING
        assert record.key == str(seq)
        assert record.key_schema == Schema.STRING
        assert record.source_partition == {"datagen.task": 0}
        assert record.source_offset == {"seq": seq}
    assert seqs(task.poll() or []) == list(range(50, 100))
    task.stop()


@pytest.mark.parametrize("schema_name", ["users", "orders"])
def test_task_makes_struct_records(source_context: FakeSourceTaskContext, schema_name: str) -> None:
    task = start_task(source_context, schema=schema_name, **{"batch.size": "5"})
    records = task.poll() or []
    assert [r.value for r in records] == [record_value(schema_name, 0, s) for s in range(5)]  # type: ignore[arg-type]
    assert all(r.value_schema == value_schema(schema_name) for r in records)  # type: ignore[arg-type]


def test_same_config_same_records(source_context: FakeSourceTaskContext) -> None:
    first = start_task(source_context, seed="9", schema="orders").poll() or []
    again = start_task(source_context, seed="9", schema="orders").poll() or []
    assert [r.value for r in first] == [r.value for r in again]
    assert [r.key for r in first] == [r.key for r in again]


def test_tasks_together_make_each_seq_once(source_context: FakeSourceTaskContext) -> None:
    connector = DataGenConnector()
    connector.start({"name": "gen", "topic": "gen", "max.records": "1001", "batch.size": "64"})
    configs = connector.task_configs(3)
    assert len(configs) == 3
    made: list[int] = []
    for index, config in enumerate(configs):
        task = DataGenTask()
        task.initialize(source_context)
        task.start(config)
        records = run_to_end(task)
        assert len(records) == task_share(1001, 3, index)
        assert {r.source_partition["datagen.task"] for r in records} == {index}  # type: ignore[index]
        made += seqs(records)
    assert sorted(made) == list(range(1001))


def test_task_stays_idle_once_its_share_is_done(source_context: FakeSourceTaskContext) -> None:
    task = start_task(source_context, **{"max.records": "3"})
    assert seqs(task.poll() or []) == [0, 1, 2]
    assert task.poll() is None
    assert task.poll() is None


def test_task_resumes_after_the_committed_seq(
    source_context: FakeSourceTaskContext, offset_reader: DictOffsetReader
) -> None:
    offset_reader.store({"datagen.task": 0}, {"seq": 41})
    task = start_task(source_context, **{"batch.size": "3"})
    records = task.poll() or []
    assert seqs(records) == [42, 43, 44]
    assert [r.value for r in records] == [text_value(0, s) for s in (42, 43, 44)]


def test_task_resumes_in_its_stride(
    source_context: FakeSourceTaskContext, offset_reader: DictOffsetReader
) -> None:
    offset_reader.store({"datagen.task": 2}, {"seq": 5})
    props = {"batch.size": "2", "datagen.task.index": "2", "datagen.task.count": "3"}
    task = start_task(source_context, **props)
    assert seqs(task.poll() or []) == [8, 11]
    assert offset_reader.asked == [{"datagen.task": 2}]


def test_resume_counts_against_max_records(
    source_context: FakeSourceTaskContext, offset_reader: DictOffsetReader
) -> None:
    offset_reader.store({"datagen.task": 0}, {"seq": 7})
    task = start_task(source_context, **{"max.records": "10"})
    assert seqs(run_to_end(task)) == [8, 9]


@pytest.mark.parametrize("seq", ["7", -1, 2.0, True])
def test_task_rejects_a_committed_seq_that_is_not_one(
    source_context: FakeSourceTaskContext, offset_reader: DictOffsetReader, seq: object
) -> None:
    offset_reader.store({"datagen.task": 0}, {"seq": seq})  # type: ignore[dict-item]
    with pytest.raises(ConnectError, match="'seq'"):
        start_task(source_context)


def test_stop_from_another_thread_ends_a_waiting_poll(
    source_context: FakeSourceTaskContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(DataGenTask, "idle_wait_s", 600.0)
    task = start_task(source_context, **{"max.records": "0"})
    results: list[object] = []
    poller = threading.Thread(target=lambda: results.append(task.poll()))
    poller.start()
    poller.join(0.2)
    assert poller.is_alive(), "poll should be waiting"
    task.stop()
    poller.join(10)
    assert not poller.is_alive()
    assert results == [None]


def test_stop_ends_a_throttle_wait(
    source_context: FakeSourceTaskContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(DataGenTask, "max_throttle_wait_s", 600.0)
    task = start_task(source_context, **{"records.per.second": "0.001"})
    assert len(task.poll() or []) == 1  # the bucket starts with one token
    results: list[object] = []
    poller = threading.Thread(target=lambda: results.append(task.poll()))
    poller.start()
    poller.join(0.2)
    assert poller.is_alive(), "poll should be waiting for a token"
    task.stop()
    poller.join(10)
    assert not poller.is_alive()
    assert results == [None]


# --- connector and config -------------------------------------------------------------------


def test_connector_gives_each_task_its_index() -> None:
    connector = DataGenConnector()
    props = {"name": "gen", "topic": "gen"}
    connector.start(props)
    assert connector.task_configs(2) == [
        {**props, "datagen.task.index": "0", "datagen.task.count": "2"},
        {**props, "datagen.task.index": "1", "datagen.task.count": "2"},
    ]
    assert connector.task_class() is DataGenTask


def test_config_defaults() -> None:
    config = DataGenConnector.config_model.parse({"topic": "t"})
    assert config.model_dump(by_alias=True) == {
        "topic": "t",
        "schema": "text",
        "seed": 0,
        "max.records": -1,
        "records.per.second": 0.0,
        "batch.size": 1000,
    }


@pytest.mark.parametrize(
    ("props", "key", "shown"),
    [
        ({}, "topic", "missing"),
        ({"topic": "t", "schema": "bogus"}, "schema", "'bogus'"),
        ({"topic": "t", "seed": "x"}, "seed", "'x'"),
        ({"topic": "t", "max.records": "-2"}, "max.records", "'-2'"),
        ({"topic": "t", "records.per.second": "fast"}, "records.per.second", "'fast'"),
        ({"topic": "t", "batch.size": "0"}, "batch.size", "'0'"),
    ],
)
def test_config_errors_name_the_key(props: dict[str, str], key: str, shown: str) -> None:
    with pytest.raises(ConfigError) as info:
        DataGenConnector().start(props)
    assert f"'{key}'" in str(info.value)
    assert shown in str(info.value)


def test_task_index_must_be_below_the_count(source_context: FakeSourceTaskContext) -> None:
    with pytest.raises(ConfigError, match=r"datagen\.task\.index"):
        start_task(source_context, **{"datagen.task.index": "3", "datagen.task.count": "3"})
