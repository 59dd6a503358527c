"""DataGen: the pure parts (content, split, rate) and the task run directly."""

from __future__ import annotations

import datetime as dt
import decimal
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kconnect.api.records import SourceRecord
from kconnect.connectors.datagen import (
    BLOCK,
    CUSTOMER_TIERS,
    SLOTS,
    DataGenConnector,
    DataGenTask,
    TokenBucket,
    bucket_capacity,
    customer_value,
    customers_schema,
    next_seq,
    order_value,
    orders_schema,
    record_value,
    slot_of,
    slot_seq_from,
    task_share,
    task_slots,
    text_value,
    user_value,
    users_schema,
    value_schema,
)
from kconnect.data import Schema, Struct, validate_value
from kconnect.errors import ConfigError, ConnectError
from tests.unit.connectors.conftest import DictOffsetReader, FakeSourceTaskContext


@pytest.fixture(autouse=True)
def _short_idle_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(DataGenTask, "idle_wait_s", 0.0)


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


@given(total=st.integers(min_value=0, max_value=3 * SLOTS * BLOCK), tasks=st.integers(1, SLOTS))
def test_shares_sum_to_the_total_and_count_the_seqs_of_the_tasks_slots(
    total: int, tasks: int
) -> None:
    shares = [task_share(total, tasks, i) for i in range(tasks)]
    assert sum(shares) == total
    owner = {q: i for i in range(tasks) for q in task_slots(tasks, i)}
    counted = [0] * tasks
    for block in range(0, total, BLOCK):
        counted[owner[slot_of(block)]] += min(BLOCK, total - block)
    assert shares == counted


def test_unbounded_share() -> None:
    assert task_share(-1, 3, 0) == -1


@given(tasks=st.integers(1, SLOTS))
def test_every_slot_has_exactly_one_owner(tasks: int) -> None:
    owned = [q for i in range(tasks) for q in task_slots(tasks, i)]
    assert sorted(owned) == list(range(SLOTS))


@given(seq=st.integers(0, 10**9), slot=st.integers(0, SLOTS - 1))
def test_slot_seq_from_is_the_slots_first_seq_not_before(seq: int, slot: int) -> None:
    found = slot_seq_from(slot, seq)
    assert found >= seq
    assert slot_of(found) == slot
    # Nothing in between belongs to the slot: only whole blocks of other slots are passed over.
    assert found == seq or found % BLOCK == 0
    assert found - seq < SLOTS * BLOCK


@given(committed=st.none() | st.integers(0, 10**9), data=st.data())
def test_next_seq_is_the_slots_first_after_the_committed_one(
    committed: int | None, data: st.DataObject
) -> None:
    slot = data.draw(st.integers(0, SLOTS - 1)) if committed is None else slot_of(committed)
    seq = next_seq(slot, committed)
    assert slot_of(seq) == slot
    if committed is None:
        assert seq == slot * BLOCK
    else:
        assert seq > committed
        assert all(slot_of(s) != slot for s in range(committed + 1, seq))


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


@pytest.mark.parametrize("schema_name", ["users", "orders", "customers"])
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


def test_customers_cover_every_shape_a_registry_format_maps_specially() -> None:
    schema = customers_schema()
    tier = schema.field("tier")
    assert tier is not None
    assert tier.schema.parameters["io.confluent.connect.avro.Enum"] == "kconnect.datagen.Tier"
    assert {k.rsplit(".", 1)[1] for k in tier.schema.parameters if k.count(".") > 4} == set(
        CUSTOMER_TIERS
    )
    assert tier.schema.default == "BRONZE"
    types = {f.name: f.schema for f in schema.fields}
    assert types["billing_address"].optional
    assert types["billing_address"].type.name == "STRUCT"
    assert types["tags"].type.name == "ARRAY"
    assert types["visits"].type.name == "MAP"
    assert types["birth_date"].name == "org.apache.kafka.connect.data.Date"
    assert types["newsletter"].default is False
    seen: dict[str, set[bool]] = {"billing_address": set(), "last_seen": set(), "avatar": set()}
    tiers = set()
    for seq in range(200):
        value = customer_value(3, seq)
        tiers.add(value.get("tier"))
        for name, nulls in seen.items():
            nulls.add(value.get(name) is None)
    # Every optional field is both set and null somewhere in 200 records; every tier appears.
    assert all(nulls == {True, False} for nulls in seen.values()), seen
    assert tiers == set(CUSTOMER_TIERS)


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
        assert record.source_partition == {"datagen.slot": 0}
        assert record.source_offset == {"seq": seq}
    assert seqs(task.poll() or []) == list(range(50, 100))
    task.stop()


@pytest.mark.parametrize("schema_name", ["users", "orders", "customers"])
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
        for r in records:
            slot = r.source_partition["datagen.slot"]  # type: ignore[index]
            assert slot % 3 == index
            assert slot_of(int(str(r.key))) == slot
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
    offset_reader.store({"datagen.slot": 0}, {"seq": 41})
    task = start_task(source_context, **{"batch.size": "3"})
    records = task.poll() or []
    assert seqs(records) == [42, 43, 44]
    assert [r.value for r in records] == [text_value(0, s) for s in (42, 43, 44)]


def test_task_resumes_each_of_its_slots(
    source_context: FakeSourceTaskContext, offset_reader: DictOffsetReader
) -> None:
    offset_reader.store({"datagen.slot": 2}, {"seq": 2 * BLOCK + 5})
    offset_reader.store({"datagen.slot": 5}, {"seq": 5 * BLOCK + BLOCK - 1})  # a full block
    props = {"batch.size": str(BLOCK), "datagen.task.index": "2", "datagen.task.count": "3"}
    task = start_task(source_context, **props)
    assert {"datagen.slot": 2} in offset_reader.asked
    # Slot 2 goes on in its block, and then the lowest seqs of the other slots come first.
    first = seqs(task.poll() or [])
    assert first == list(range(2 * BLOCK + 6, 3 * BLOCK)) + list(range(8 * BLOCK, 8 * BLOCK + 6))
    # Slot 5's next block is a whole round later.
    made = seqs(run_to_end_of(task, 200))
    assert 5 * BLOCK + BLOCK - 1 not in made
    assert (5 + SLOTS) * BLOCK in made


def run_to_end_of(task: DataGenTask, polls: int) -> list[SourceRecord]:
    records: list[SourceRecord] = []
    for _ in range(polls):
        records += task.poll() or []
    return records


def test_resume_counts_against_max_records(
    source_context: FakeSourceTaskContext, offset_reader: DictOffsetReader
) -> None:
    offset_reader.store({"datagen.slot": 0}, {"seq": 7})
    task = start_task(source_context, **{"max.records": "10"})
    assert seqs(run_to_end(task)) == [8, 9]


def _commit(offset_reader: DictOffsetReader, records: list[SourceRecord]) -> None:
    """What the runtime commits for records it delivered: the last offset per partition."""
    for r in records:
        assert r.source_partition is not None
        assert r.source_offset is not None
        offset_reader.store(r.source_partition, r.source_offset)


def _run_tasks(
    context: FakeSourceTaskContext, props: dict[str, str], tasks_max: int, polls: list[int]
) -> list[int]:
    """Start the connector's tasks for `tasks_max`, poll task i `polls[i % len(polls)]` times
    (-1: until its share is done), commit what each made, and stop them all, as a
    reconfiguration does."""
    connector = DataGenConnector()
    connector.start(props)
    made: list[int] = []
    for index, config in enumerate(connector.task_configs(tasks_max)):
        task = DataGenTask()
        task.initialize(context)
        task.start(config)
        wanted = polls[index % len(polls)]
        records = run_to_end(task) if wanted < 0 else run_to_end_of(task, wanted)
        _commit(context.offset_storage_reader, records)
        task.stop()
        made += seqs(records)
    return made


@settings(deadline=None, max_examples=60)
@given(
    counts=st.lists(st.integers(1, 12), min_size=2, max_size=6),
    polls=st.lists(st.integers(0, 4), min_size=1, max_size=5),
    batch=st.integers(10, 250),
)
def test_changing_tasks_max_makes_no_seq_twice_and_skips_none(
    counts: list[int], polls: list[int], batch: int
) -> None:
    total = 3000
    context = FakeSourceTaskContext({}, DictOffsetReader())
    props = {"name": "gen", "topic": "gen", "max.records": str(total), "batch.size": str(batch)}
    made: list[int] = []
    for count in counts:
        made += _run_tasks(context, props, count, polls)
    made += _run_tasks(context, props, counts[-1], [-1])  # to the end
    assert sorted(made) == list(range(total))


def test_growing_from_one_to_three_tasks_continues_where_the_one_stopped(
    source_context: FakeSourceTaskContext,
) -> None:
    props = {"name": "gen", "topic": "gen", "max.records": "1000", "batch.size": "100"}
    first = _run_tasks(source_context, props, 1, [3])
    assert first == list(range(300))
    rest = _run_tasks(source_context, props, 3, [-1])
    assert sorted(rest) == list(range(300, 1000))


def test_tasks_max_is_capped_at_the_slots() -> None:
    connector = DataGenConnector()
    connector.start({"name": "gen", "topic": "gen"})
    configs = connector.task_configs(SLOTS + 5)
    assert len(configs) == SLOTS
    assert {c["datagen.task.count"] for c in configs} == {str(SLOTS)}


@pytest.mark.parametrize(
    ("lanes", "tasks_now"),
    [
        ({0: 297, 1: 100, 2: 2}, 3),  # unchanged count; ragged, as tasks never run in step
        ({0: 297, 1: 100, 2: 2}, 5),  # the count changed along with the upgrade
        ({0: 40, 1: 41}, 2),
        ({0: 40, 1: 41}, 1),
        ({1: 55}, 2),  # a lane that never committed
    ],
)
def test_offsets_of_the_per_task_layout_are_read_and_nothing_they_made_is_made_again(
    source_context: FakeSourceTaskContext,
    offset_reader: DictOffsetReader,
    lanes: dict[int, int],
    tasks_now: int,
) -> None:
    old_tasks = max(3 if len(lanes) == 3 else 2, max(lanes) + 1)
    for lane, last in lanes.items():
        offset_reader.store({"datagen.task": lane}, {"seq": last})
    before = {s for lane, last in lanes.items() for s in range(lane, last + 1, old_tasks)}
    props = {"name": "gen", "topic": "gen", "max.records": "1000", "batch.size": "64"}
    after = _run_tasks(source_context, props, tasks_now, [-1])
    assert len(after) == len(set(after))
    assert not before & set(after)
    assert before | set(after) == set(range(1000))


def test_offsets_of_the_per_task_layout_that_fit_no_count_fail_the_task(
    source_context: FakeSourceTaskContext, offset_reader: DictOffsetReader
) -> None:
    offset_reader.store({"datagen.task": 0}, {"seq": 7})
    offset_reader.store({"datagen.task": 1}, {"seq": 8})
    with pytest.raises(
        ConnectError, match=r"task 0: seq 7, task 1: seq 8\) were not made by 2 tasks"
    ):
        start_task(source_context, **{"datagen.task.count": "2"})


@pytest.mark.parametrize("seq", ["7", -1, 2.0, True])
def test_task_rejects_a_committed_seq_that_is_not_one(
    source_context: FakeSourceTaskContext, offset_reader: DictOffsetReader, seq: object
) -> None:
    offset_reader.store({"datagen.slot": 0}, {"seq": seq})  # type: ignore[dict-item]
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
