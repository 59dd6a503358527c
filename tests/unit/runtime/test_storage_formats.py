"""Pure parts of the Kafka-backed stores: task topic names, status records, sink offset checks,
internal topic rules."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kconnect.api.types import ConnectorName, TaskId, TaskNumber
from kconnect.errors import ConfigError, DataError
from kconnect.storage.kafka_status import (
    can_write_safely,
    connector_key,
    parse_key,
    parse_state,
    serialize_state,
    task_key,
)
from kconnect.storage.sink_offsets import parse_sink_offsets, to_rest
from kconnect.storage.states import State, StateInfo
from kconnect.storage.status import MemoryStatusStore
from kconnect.storage.topics import (
    InternalTopic,
    check_cleanup_policy,
    check_partitions,
    task_topic_name,
)

VALID_TOPIC = re.compile(r"[A-Za-z0-9._-]{1,249}")
names = st.text(max_size=600)

# -- task topic names ------------------------------------------------------------------------


@given(names, names)
def test_task_topic_names_are_valid_kafka_topic_names(group: str, connector: str) -> None:
    name = task_topic_name(group, connector)
    assert VALID_TOPIC.fullmatch(name), name
    assert name not in (".", "..")


@given(names, names, names, names)
def test_task_topic_names_of_different_pairs_differ(g1: str, c1: str, g2: str, c2: str) -> None:
    if (g1, c1) != (g2, c2):
        assert task_topic_name(g1, c1) != task_topic_name(g2, c2)


def test_task_topic_names_tell_apart_pairs_that_sanitize_alike() -> None:
    assert task_topic_name("g", "a/b") != task_topic_name("g", "a b")
    assert task_topic_name("g-x", "c") != task_topic_name("g", "x-c")
    long = "x" * 500
    assert task_topic_name("g", long) != task_topic_name("g", long + "y")


def test_task_topic_names_are_stable_and_readable() -> None:
    name = task_topic_name("connect-cluster", "my sink/1")
    assert name == task_topic_name("connect-cluster", "my sink/1")
    assert name.startswith("connect-cluster-tasks-my_sink_1-")
    assert len(task_topic_name("g" * 300, "ü" * 500)) == 249


# -- status records --------------------------------------------------------------------------


def test_status_values_are_written_as_java_writes_them() -> None:
    """Kafka 4.1's status schema, `version` (KIP-891) included."""
    running = StateInfo(State.RUNNING, "10.0.0.1:8083", generation=7, version="4.1.1")
    assert serialize_state(running) == (
        b'{"state":"RUNNING","trace":null,"worker_id":"10.0.0.1:8083","generation":7,'
        b'"version":"4.1.1"}'
    )
    assert serialize_state(StateInfo(State.FAILED, "w", trace="boom\n\tat x", generation=0)) == (
        b'{"state":"FAILED","trace":"boom\\n\\tat x","worker_id":"w","generation":0,"version":null}'
    )
    assert parse_state(serialize_state(running) or b"") == running
    # Written by Kafka Connect before 4.1: no version.
    old = parse_state(b'{"state":"PAUSED","trace":null,"worker_id":"w","generation":1}')
    assert old.version is None
    assert "version" not in old.to_json()
    assert running.to_json()["version"] == "4.1.1"
    assert serialize_state(StateInfo(State.DESTROYED, "w")) is None


@given(
    st.sampled_from([s for s in State if s is not State.DESTROYED]),
    st.text(),
    st.none() | st.text(),
    st.integers(min_value=-(2**31), max_value=2**31 - 1),
)
def test_status_values_read_back(state: State, worker: str, trace: str | None, gen: int) -> None:
    info = StateInfo(state, worker, trace, gen)
    raw = serialize_state(info)
    assert raw is not None
    assert parse_state(raw) == info


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"[1]",
        b'{"state":"DANCING","trace":null,"worker_id":"w","generation":1}',
        b'{"state":"RUNNING","trace":null,"generation":1}',
        b'{"state":"RUNNING","trace":3,"worker_id":"w","generation":1}',
        b'{"state":"RUNNING","trace":null,"worker_id":"w","generation":"1"}',
        b'{"state":"RUNNING","trace":null,"worker_id":"w","generation":true}',
    ],
)
def test_unreadable_status_values_are_data_errors(raw: bytes) -> None:
    with pytest.raises(DataError, match="status value"):
        parse_state(raw)


def test_status_keys() -> None:
    c = ConnectorName("my-conn-2")
    assert connector_key(c) == b"status-connector-my-conn-2"
    assert task_key(TaskId(c, TaskNumber(12))) == b"status-task-my-conn-2-12"
    assert parse_key(b"status-connector-my-conn-2") == c
    assert parse_key(b"status-task-my-conn-2-12") == TaskId(c, TaskNumber(12))
    assert parse_key(b"status-topic-orders:connector-my-conn-2") is None
    for bad in (b"status-task-nonumber", b"status-task-c-x", b"status-connector-", b"other"):
        with pytest.raises(DataError):
            parse_key(bad)


@given(st.text(min_size=1), st.integers(min_value=0, max_value=10_000))
def test_task_status_keys_read_back(connector: str, number: int) -> None:
    task = TaskId(ConnectorName(connector), TaskNumber(number))
    assert parse_key(task_key(task)) == task


def test_safe_writes_follow_javas_rule() -> None:
    old = StateInfo(State.RUNNING, "a", generation=5)
    assert can_write_safely(None, old)
    assert can_write_safely(old, StateInfo(State.PAUSED, "a", generation=1))  # same worker
    assert can_write_safely(old, StateInfo(State.RUNNING, "b", generation=5))  # same generation
    assert not can_write_safely(old, StateInfo(State.UNASSIGNED, "b", generation=4))


def test_a_fenced_store_makes_no_safe_writes() -> None:
    """A worker whose static seat went to another process reports the same generation as that
    process: the same-generation rule would let its UNASSIGNED overwrite the new RUNNING."""
    store = MemoryStatusStore()
    task = TaskId(ConnectorName("c"), TaskNumber(0))
    store.put_task(task, StateInfo(State.RUNNING, "new", generation=5))
    store.fence()
    assert not store.put_task_safe(task, StateInfo(State.UNASSIGNED, "old", generation=5))
    assert not store.put_connector_safe(
        ConnectorName("c"), StateInfo(State.UNASSIGNED, "old", generation=5)
    )
    assert store.task(task) == StateInfo(State.RUNNING, "new", generation=5)
    assert store.connector(ConnectorName("c")) is None


# -- sink offsets ----------------------------------------------------------------------------


def test_sink_offsets_parse_like_java() -> None:
    parsed = parse_sink_offsets(
        [
            ({"kafka_topic": "t", "kafka_partition": 0}, {"kafka_offset": 5}),
            ({"kafka_topic": "t", "kafka_partition": "1"}, {"kafka_offset": "7"}),
            ({"kafka_topic": "u", "kafka_partition": 2}, None),
        ]
    )
    assert parsed == {("t", 0): 5, ("t", 1): 7, ("u", 2): None}
    assert to_rest({("u", 1): 3, ("t", 0): 9}) == [
        ({"kafka_topic": "t", "kafka_partition": 0}, {"kafka_offset": 9}),
        ({"kafka_topic": "u", "kafka_partition": 1}, {"kafka_offset": 3}),
    ]


@pytest.mark.parametrize(
    ("partition", "offset", "names"),
    [
        (None, {"kafka_offset": 1}, "cannot be null"),
        ({"kafka_topic": "t"}, {"kafka_offset": 1}, "'kafka_topic' and 'kafka_partition'"),
        ({"kafka_topic": 3, "kafka_partition": 0}, {"kafka_offset": 1}, "'kafka_topic' 3"),
        ({"kafka_topic": "", "kafka_partition": 0}, {"kafka_offset": 1}, "'kafka_topic' ''"),
        ({"kafka_topic": "t", "kafka_partition": "x"}, {"kafka_offset": 1}, "'kafka_partition'"),
        ({"kafka_topic": "t", "kafka_partition": True}, {"kafka_offset": 1}, "'kafka_partition'"),
        ({"kafka_topic": "t", "kafka_partition": 1.5}, {"kafka_offset": 1}, "'kafka_partition'"),
        ({"kafka_topic": "t", "kafka_partition": -1}, {"kafka_offset": 1}, "'kafka_partition' -1"),
        ({"kafka_topic": "t", "kafka_partition": 0}, {}, "'kafka_offset'"),
        ({"kafka_topic": "t", "kafka_partition": 0}, {"kafka_offset": "a"}, "'kafka_offset'"),
        ({"kafka_topic": "t", "kafka_partition": 0}, {"kafka_offset": -5}, "'kafka_offset' -5"),
    ],
)
def test_bad_sink_offsets_name_the_field(
    partition: dict[str, object] | None, offset: dict[str, object], names: str
) -> None:
    with pytest.raises(ConfigError, match=re.escape(names)):
        parse_sink_offsets([(partition, offset)])


# -- internal topic rules --------------------------------------------------------------------


def test_only_the_config_topic_must_have_one_partition() -> None:
    check_partitions(InternalTopic("cfg", 1, 1, "config"), 1)
    check_partitions(InternalTopic("off", 25, 1, "offset"), 25)
    with pytest.raises(ConfigError, match="but found 3 partitions"):
        check_partitions(InternalTopic("cfg", 1, 1, "config"), 3)


@pytest.mark.parametrize("policy", ["delete", "compact,delete", "delete, compact"])
def test_internal_topics_must_be_only_compacted(policy: str) -> None:
    check_cleanup_policy(InternalTopic("s", 5, 1, "status"), "compact")
    with pytest.raises(ConfigError, match=re.escape("'status.storage.topic'")):
        check_cleanup_policy(InternalTopic("s", 5, 1, "status"), policy)


def test_internal_topic_purposes_are_checked() -> None:
    with pytest.raises(ValueError, match="purpose 'offsets'"):
        InternalTopic("t", 1, 1, "offsets")


def test_active_topic_records_use_kafka_connects_format() -> None:
    from kconnect.storage.kafka_status import parse_topic_key, serialize_topic, topic_key

    key = topic_key("my-conn", "orders.v1")
    assert key == b"status-topic-orders.v1:connector-my-conn"
    assert parse_topic_key(key) == ("my-conn", "orders.v1")
    assert parse_topic_key(b"status-task-x-0") is None
    assert serialize_topic("c", "t", 2, 1700000000000) == (
        b'{"topic":{"name":"t","connector":"c","task":2,"discoverTimestamp":1700000000000}}'
    )
