"""The Kafka-backed stores of the distributed worker, against the session's real broker."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest
from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, Producer, TopicPartition
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    ConfigResource,
    ResourceType,
)

from kconnect.api.types import ConnectorName, TaskId, TaskNumber
from kconnect.errors import ConfigError, ConnectError
from kconnect.storage.kafka_log import KafkaLog
from kconnect.storage.kafka_offsets import KafkaOffsetStore
from kconnect.storage.kafka_status import KafkaStatusStore, serialize_state, task_key
from kconnect.storage.offsets import serialize_key
from kconnect.storage.sink_offsets import (
    alter_sink_offsets,
    read_sink_offsets,
    reset_sink_offsets,
)
from kconnect.storage.states import State, StateInfo
from kconnect.storage.topics import InternalTopic, ensure_internal_topics

if TYPE_CHECKING:
    from confluent_kafka.admin import AdminClient

    from tests.conftest import NewTopic as NewTopicFactory

DEADLINE_S = 30.0
Record = tuple[bytes | None, bytes | None, int, int]


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class Collected:
    """Records a log passed to `on_record`, as seen by the reader thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.records: list[Record] = []

    def __call__(self, key: bytes | None, value: bytes | None, partition: int, offset: int) -> None:
        with self.lock:
            self.records.append((key, value, partition, offset))

    def snapshot(self) -> list[Record]:
        with self.lock:
            return list(self.records)


@pytest.fixture
def logs(kafka_bootstrap: str) -> Iterator[Callable[..., KafkaLog]]:
    started: list[KafkaLog] = []

    def make(topic: str, on_record: Callable[..., None], name: str = "test") -> KafkaLog:
        log = KafkaLog(
            topic,
            client_config={"bootstrap.servers": kafka_bootstrap},
            on_record=on_record,
            name=name,
        )
        started.append(log)
        return log

    yield make
    for log in started:
        log.stop()


# -- KafkaLog --------------------------------------------------------------------------------


def test_log_start_reads_what_was_there_and_read_to_end_sees_new_writes(
    new_topic: NewTopicFactory, kafka_bootstrap: str, logs: Callable[..., KafkaLog]
) -> None:
    topic = new_topic(partitions=3)
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    for i in range(30):
        producer.produce(topic, key=f"k{i}".encode(), value=f"v{i}".encode(), partition=i % 3)
    producer.produce(topic, key=b"gone", value=None, partition=0)
    assert producer.flush(DEADLINE_S) == 0

    seen = Collected()
    log = logs(topic, seen)
    log.start(timeout=DEADLINE_S)
    records = seen.snapshot()
    assert len(records) == 31
    assert {(k, v) for k, v, _, _ in records} == {
        *((f"k{i}".encode(), f"v{i}".encode()) for i in range(30)),
        (b"gone", None),
    }
    for p in range(3):
        offsets = [o for _, _, part, o in records if part == p]
        assert offsets == sorted(offsets)

    partition, offset = log.send_and_wait(b"late", b"value", partition=2)
    assert partition == 2
    log.send(b"async", b"value")
    log.flush(DEADLINE_S)
    log.read_to_end(DEADLINE_S)
    after = seen.snapshot()
    assert (b"late", b"value", 2, offset) in after
    assert any(k == b"async" for k, _, _, _ in after)


def test_log_read_to_end_on_an_empty_topic_returns(
    new_topic: NewTopicFactory, logs: Callable[..., KafkaLog]
) -> None:
    seen = Collected()
    log = logs(new_topic(partitions=2), seen)
    log.start(timeout=DEADLINE_S)
    log.read_to_end(DEADLINE_S)
    assert seen.snapshot() == []


def test_two_logs_on_one_topic_agree(
    new_topic: NewTopicFactory, logs: Callable[..., KafkaLog]
) -> None:
    topic = new_topic(partitions=2)
    seen_a, seen_b = Collected(), Collected()
    a, b = logs(topic, seen_a, "a"), logs(topic, seen_b, "b")
    a.start(timeout=DEADLINE_S)
    b.start(timeout=DEADLINE_S)
    for i in range(10):
        (a if i % 2 else b).send(f"k{i}".encode(), f"v{i}".encode())
    a.flush(DEADLINE_S)
    b.flush(DEADLINE_S)
    a.read_to_end(DEADLINE_S)
    b.read_to_end(DEADLINE_S)
    assert len(seen_a.snapshot()) == 10
    assert sorted(seen_a.snapshot(), key=lambda r: (r[2], r[3])) == sorted(
        seen_b.snapshot(), key=lambda r: (r[2], r[3])
    )


def test_log_survives_a_failing_callback(
    new_topic: NewTopicFactory, logs: Callable[..., KafkaLog]
) -> None:
    seen = Collected()

    def picky(key: bytes | None, value: bytes | None, partition: int, offset: int) -> None:
        if key == b"bad":
            raise ValueError("cannot handle this record")
        seen(key, value, partition, offset)

    log = logs(new_topic(), picky)
    log.start(timeout=DEADLINE_S)
    log.send_and_wait(b"bad", b"x")
    log.send_and_wait(b"good", b"y")
    log.read_to_end(DEADLINE_S)
    assert [k for k, _, _, _ in seen.snapshot()] == [b"good"]


def test_log_start_on_a_missing_topic_fails_with_the_topic_name(
    logs: Callable[..., KafkaLog],
) -> None:
    missing = f"missing-{uuid.uuid4().hex}"
    log = logs(missing, Collected())
    with pytest.raises(ConnectError, match=missing):
        log.start(timeout=2.0)


# -- offsets ---------------------------------------------------------------------------------


@pytest.fixture
def offset_stores(kafka_bootstrap: str) -> Iterator[Callable[[str], KafkaOffsetStore]]:
    started: list[KafkaOffsetStore] = []

    def make(topic: str) -> KafkaOffsetStore:
        store = KafkaOffsetStore(topic, client_config={"bootstrap.servers": kafka_bootstrap})
        started.append(store)
        store.start(DEADLINE_S)
        return store

    yield make
    for store in started:
        store.close()


def test_offsets_survive_a_new_store_and_tombstones_remove(
    new_topic: NewTopicFactory, offset_stores: Callable[[str], KafkaOffsetStore]
) -> None:
    topic = new_topic(partitions=5, config={"cleanup.policy": "compact"})
    first = offset_stores(topic)
    c = ConnectorName("orders")
    first.put(c, [({"file": "a"}, {"pos": 1}), ({"file": "b"}, {"pos": 2})])
    first.put(c, [({"file": "a"}, {"pos": 10})])
    first.put(ConnectorName("other"), [({"file": "a"}, {"pos": 99})])
    assert first.get(c, {"file": "a"}) == {"pos": 10}

    second = offset_stores(topic)
    assert second.get(c, {"file": "a"}) == {"pos": 10}
    assert sorted(second.connector_offsets(c), key=str) == [
        ({"file": "a"}, {"pos": 10}),
        ({"file": "b"}, {"pos": 2}),
    ]

    first.put(c, [({"file": "b"}, None)])
    assert first.get(c, {"file": "b"}) is None
    second.read_to_end(DEADLINE_S)
    assert second.get(c, {"file": "b"}) is None
    assert offset_stores(topic).connector_offsets(c) == [({"file": "a"}, {"pos": 10})]


def test_offsets_read_records_as_java_writes_them_and_skip_garbage(
    new_topic: NewTopicFactory,
    kafka_bootstrap: str,
    offset_stores: Callable[[str], KafkaOffsetStore],
) -> None:
    topic = new_topic(partitions=3)
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    # Java writes map keys in hash order; lookups must not depend on it.
    producer.produce(topic, key=b'["jdbc",{"table":"t","db":"d"}]', value=b'{"ts":5}')
    producer.produce(topic, key=b"not json", value=b'{"ts":1}')
    producer.produce(topic, key=None, value=b'{"ts":1}')
    producer.produce(topic, key=b'["jdbc",{"table":"u"}]', value=b"[1,2]")
    assert producer.flush(DEADLINE_S) == 0

    store = offset_stores(topic)
    assert store.get(ConnectorName("jdbc"), {"db": "d", "table": "t"}) == {"ts": 5}
    assert store.get(ConnectorName("jdbc"), {"table": "u"}) is None


def test_offsets_land_in_the_partition_javas_partitioner_chooses(
    new_topic: NewTopicFactory,
    kafka_bootstrap: str,
    offset_stores: Callable[[str], KafkaOffsetStore],
) -> None:
    topic = new_topic(partitions=25)
    store = offset_stores(topic)
    store.put(ConnectorName("c"), [({"p": i}, {"o": i}) for i in range(20)])
    # A Java-compatible producer (murmur2) must put every key where the store did.
    consumer = Consumer(
        {
            "bootstrap.servers": kafka_bootstrap,
            "group.id": f"check-{uuid.uuid4().hex}",
            "enable.auto.commit": "false",
        }
    )
    try:
        consumer.assign([TopicPartition(topic, p, 0) for p in range(25)])
        found: dict[bytes, int] = {}
        deadline = time.monotonic() + DEADLINE_S
        while len(found) < 20 and time.monotonic() < deadline:
            for msg in consumer.consume(100, 0.5):
                key, partition = msg.key(), msg.partition()
                if msg.error() is None and key is not None and partition is not None:
                    found[key] = partition
    finally:
        consumer.close()
    expected = {
        serialize_key(ConnectorName("c"), {"p": i}): java_partition(
            serialize_key(ConnectorName("c"), {"p": i}), 25
        )
        for i in range(20)
    }
    assert found == expected
    assert len(set(found.values())) > 1


def java_partition(key: bytes, partitions: int) -> int:
    """Kafka's `Utils.toPositive(Utils.murmur2(key)) % partitions`."""
    m, r = 0x5BD1E995, 24
    length = len(key)
    h = (0x9747B28C ^ length) & 0xFFFFFFFF
    for i in range(length // 4):
        k = int.from_bytes(key[i * 4 : i * 4 + 4], "little")
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> r
        k = (k * m) & 0xFFFFFFFF
        h = (h * m) & 0xFFFFFFFF
        h ^= k
    tail = length & ~3
    rest = length % 4
    if rest == 3:
        h ^= key[tail + 2] << 16
    if rest >= 2:
        h ^= key[tail + 1] << 8
    if rest >= 1:
        h ^= key[tail]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return (h & 0x7FFFFFFF) % partitions


# -- status ----------------------------------------------------------------------------------


@pytest.fixture
def status_stores(kafka_bootstrap: str) -> Iterator[Callable[[str], KafkaStatusStore]]:
    started: list[KafkaStatusStore] = []

    def make(topic: str) -> KafkaStatusStore:
        store = KafkaStatusStore(topic, client_config={"bootstrap.servers": kafka_bootstrap})
        started.append(store)
        store.start(DEADLINE_S)
        return store

    yield make
    for store in started:
        store.close()


def test_status_is_shared_by_two_stores(
    new_topic: NewTopicFactory,
    kafka_bootstrap: str,
    status_stores: Callable[[str], KafkaStatusStore],
) -> None:
    topic = new_topic(partitions=5, config={"cleanup.policy": "compact"})
    a, b = status_stores(topic), status_stores(topic)
    c = ConnectorName("my-conn-1")
    t0, t1 = TaskId(c, TaskNumber(0)), TaskId(c, TaskNumber(1))
    a.put_connector(c, StateInfo(State.RUNNING, "w1:8083", generation=3))
    assert a.connector(c) == StateInfo(State.RUNNING, "w1:8083", generation=3)  # at once
    a.put_task(t0, StateInfo(State.RUNNING, "w1:8083", generation=3))
    b.put_task(t1, StateInfo(State.FAILED, "w2:8083", trace="Traceback: boom", generation=3))
    a.flush(DEADLINE_S)
    b.flush(DEADLINE_S)
    a.read_to_end(DEADLINE_S)
    b.read_to_end(DEADLINE_S)
    for store in (a, b):
        assert store.connector(c) == StateInfo(State.RUNNING, "w1:8083", generation=3)
        assert store.tasks(c) == {
            t0: StateInfo(State.RUNNING, "w1:8083", generation=3),
            t1: StateInfo(State.FAILED, "w2:8083", trace="Traceback: boom", generation=3),
        }

    # Records as Java 4.1 writes them (`version`, KIP-891, null when not known).
    consumer = Consumer(
        {
            "bootstrap.servers": kafka_bootstrap,
            "group.id": f"check-{uuid.uuid4().hex}",
            "enable.auto.commit": "false",
            "auto.offset.reset": "earliest",
        }
    )
    try:
        consumer.assign([TopicPartition(topic, p, 0) for p in range(5)])
        raw: dict[bytes, bytes | None] = {}
        deadline = time.monotonic() + DEADLINE_S
        while len(raw) < 3 and time.monotonic() < deadline:
            for msg in consumer.consume(100, 0.5):
                key = msg.key()
                if msg.error() is None and key is not None:
                    raw[key] = msg.value()
    finally:
        consumer.close()
    assert raw[b"status-connector-my-conn-1"] == (
        b'{"state":"RUNNING","trace":null,"worker_id":"w1:8083","generation":3,"version":null}'
    )
    assert raw[b"status-task-my-conn-1-1"] == (
        b'{"state":"FAILED","trace":"Traceback: boom","worker_id":"w2:8083","generation":3,'
        b'"version":null}'
    )

    b.forget(c)
    assert b.connector(c) is None
    assert b.tasks(c) == {}
    b.flush(DEADLINE_S)
    a.read_to_end(DEADLINE_S)
    assert a.connector(c) is None
    assert a.tasks(c) == {}
    assert status_stores(topic).tasks(c) == {}


def test_status_safe_put_keeps_a_newer_generation_of_another_worker(
    new_topic: NewTopicFactory, status_stores: Callable[[str], KafkaStatusStore]
) -> None:
    store = status_stores(new_topic())
    task = TaskId(ConnectorName("c"), TaskNumber(0))
    assert store.put_task_safe(task, StateInfo(State.RUNNING, "new-owner", generation=5))
    assert not store.put_task_safe(task, StateInfo(State.UNASSIGNED, "old-owner", generation=4))
    assert store.put_task_safe(task, StateInfo(State.PAUSED, "new-owner", generation=4))
    store.flush(DEADLINE_S)
    assert status_stores(store.topic).task(task) == StateInfo(
        State.PAUSED, "new-owner", generation=4
    )


class WatchedStatusStore(KafkaStatusStore):
    """A status store that notes the view of one task after each record it reads back."""

    watched: TaskId
    seen: list[State | None]

    def _on_record(
        self, key: bytes | None, value: bytes | None, partition: int, offset: int
    ) -> None:
        super()._on_record(key, value, partition, offset)
        if key == task_key(self.watched):
            info = self.task(self.watched)
            self.seen.append(info.state if info else None)


def test_reading_back_its_own_writes_never_takes_the_view_back(
    new_topic: NewTopicFactory,
    kafka_bootstrap: str,
    status_stores: Callable[[str], KafkaStatusStore],
) -> None:
    # A task that fails within milliseconds of starting: RUNNING then FAILED, sent back to back.
    # Once the view has said FAILED it never says RUNNING again, through all 40 readbacks.
    topic = new_topic(config={"cleanup.policy": "compact"})
    other = status_stores(topic)
    store = WatchedStatusStore(topic, client_config={"bootstrap.servers": kafka_bootstrap})
    task = TaskId(ConnectorName("quick"), TaskNumber(0))
    store.watched, store.seen = task, []
    store.start(DEADLINE_S)
    try:
        for _ in range(20):
            store.put_task(task, StateInfo(State.RUNNING, "w1:8083", generation=1))
            store.put_task(task, StateInfo(State.FAILED, "w1:8083", trace="boom", generation=1))
        store.flush(DEADLINE_S)
        store.read_to_end(DEADLINE_S)
        assert len(store.seen) == 40
        assert store.seen[-1] is State.FAILED
        assert set(store.seen[store.seen.index(State.FAILED) :]) == {State.FAILED}, store.seen
        # Another worker's write, read after this store's own are all back, is applied.
        other.put_task(task, StateInfo(State.RUNNING, "w2:8083", generation=2))
        other.flush(DEADLINE_S)
        store.read_to_end(DEADLINE_S)
        assert store.task(task) == StateInfo(State.RUNNING, "w2:8083", generation=2)
        assert store.seen[-1] is State.RUNNING
    finally:
        store.close()


def test_an_older_record_waits_for_the_stores_own_write_and_a_lost_write_waits_for_nothing(
    kafka_bootstrap: str,
) -> None:
    # The order records come back in is injected (the store is not reading): another worker's
    # record the topic holds before this store's own write, then that write; then a write that
    # is never delivered (its topic does not exist and the broker creates none).
    store = KafkaStatusStore(
        f"missing-{uuid.uuid4().hex}",
        client_config={
            "bootstrap.servers": kafka_bootstrap,
            "message.timeout.ms": "500",
            "allow.auto.create.topics": "false",
        },
    )
    task = TaskId(ConnectorName("c"), TaskNumber(0))
    key = task_key(task)
    mine = StateInfo(State.FAILED, "w1:8083", trace="boom", generation=1)
    theirs = StateInfo(State.RUNNING, "w2:8083", generation=1)
    try:
        store.put_task(task, mine)
        store._on_record(key, serialize_state(theirs), 0, 0)
        assert store.task(task) == mine  # written before this store's own, which decides
        store._on_record(key, serialize_state(mine), 0, 1)
        assert store.task(task) == mine
        store._on_record(key, serialize_state(theirs), 0, 2)
        assert store.task(task) == theirs  # nothing of this store's unread: applied
        lost = StateInfo(State.PAUSED, "w1:8083", generation=1)
        store.put_task(task, lost)
        with pytest.raises(ConnectError):
            store.flush(DEADLINE_S)  # the write is dropped after message.timeout.ms
        store._on_record(key, serialize_state(theirs), 0, 3)
        assert store.task(task) == theirs  # the lost write holds nothing back
    finally:
        store.close()


# -- internal topics -------------------------------------------------------------------------


def _topic_config(admin: AdminClient, name: str, key: str) -> str:
    futures = admin.describe_configs([ConfigResource(ResourceType.TOPIC, name)])
    entries = next(iter(futures.values())).result(timeout=DEADLINE_S)
    return str(entries[key].value)


def _partitions(admin: AdminClient, name: str) -> int:
    return len(admin.list_topics(topic=name, timeout=DEADLINE_S).topics[name].partitions)


def test_internal_topics_are_created_compacted_and_idempotently(
    kafka_admin: AdminClient,
) -> None:
    suffix = uuid.uuid4().hex[:8]
    topics = [
        InternalTopic(f"cfg-{suffix}", 1, 1, "config"),
        InternalTopic(f"off-{suffix}", 25, 1, "offset", settings=(("segment.ms", "600000"),)),
        InternalTopic(f"sts-{suffix}", 5, -1, "status"),
    ]
    ensure_internal_topics(kafka_admin, topics, timeout=DEADLINE_S)
    for t in topics:
        assert _partitions(kafka_admin, t.name) == t.partitions
        assert _topic_config(kafka_admin, t.name, "cleanup.policy") == "compact"
    assert _topic_config(kafka_admin, f"off-{suffix}", "segment.ms") == "600000"
    ensure_internal_topics(kafka_admin, topics, timeout=DEADLINE_S)  # already there: fine


def test_internal_topics_created_concurrently_by_two_workers(kafka_admin: AdminClient) -> None:
    topics = [InternalTopic(f"race-{uuid.uuid4().hex[:8]}", 3, 1, "status")]
    errors: list[BaseException] = []

    def ensure() -> None:
        try:
            ensure_internal_topics(kafka_admin, topics, timeout=DEADLINE_S)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=ensure) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(DEADLINE_S)
    assert errors == []
    assert _partitions(kafka_admin, topics[0].name) == 3


def test_a_config_topic_with_three_partitions_is_rejected(
    new_topic: NewTopicFactory, kafka_admin: AdminClient
) -> None:
    name = new_topic(partitions=3, config={"cleanup.policy": "compact"})
    with pytest.raises(ConfigError) as e:
        ensure_internal_topics(kafka_admin, [InternalTopic(name, 1, 1, "config")])
    assert str(e.value) == (
        f"Topic '{name}' supplied via the 'config.storage.topic' property is required to have "
        "a single partition in order to guarantee consistency of connector configurations, "
        "but found 3 partitions."
    )


@pytest.mark.parametrize(
    ("purpose", "prop", "keeps"),
    [
        ("config", "config.storage.topic", "connector configurations"),
        ("offset", "offset.storage.topic", "source connector offsets"),
        ("status", "status.storage.topic", "connector and task statuses"),
    ],
)
def test_an_internal_topic_that_is_not_compacted_is_rejected(
    new_topic: NewTopicFactory, kafka_admin: AdminClient, purpose: str, prop: str, keeps: str
) -> None:
    name = new_topic(partitions=1, config={"cleanup.policy": "delete"})
    with pytest.raises(ConfigError) as e:
        ensure_internal_topics(kafka_admin, [InternalTopic(name, 1, 1, purpose)])
    assert str(e.value) == (
        f"Topic '{name}' supplied via the '{prop}' property is required to have "
        f"'cleanup.policy=compact' to guarantee consistency and durability of {keeps}, but "
        "found the topic currently has 'cleanup.policy=delete'. Continuing would likely result "
        f"in eventually losing {keeps} and problems restarting this Connect cluster in the "
        f"future. Change the '{prop}' property in the Connect worker configurations to use a "
        "topic with 'cleanup.policy=compact'."
    )


def test_compact_and_delete_is_not_compacted_enough(
    new_topic: NewTopicFactory, kafka_admin: AdminClient
) -> None:
    name = new_topic(config={"cleanup.policy": "compact,delete"})
    with pytest.raises(ConfigError, match=r"'cleanup.policy=compact,delete'"):
        ensure_internal_topics(kafka_admin, [InternalTopic(name, 1, 1, "offset")])


# -- sink offsets ----------------------------------------------------------------------------


def _commit_as_sink(bootstrap: str, connector: str, offsets: dict[tuple[str, int], int]) -> None:
    """What a sink task does: commit offsets as a member of `connect-<connector>`."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"connect-{connector}",
            "enable.auto.commit": "false",
        }
    )
    try:
        consumer.commit(
            offsets=[TopicPartition(t, p, o) for (t, p), o in offsets.items()], asynchronous=False
        )
    finally:
        consumer.close()


def test_sink_offsets_read_alter_and_reset(
    new_topic: NewTopicFactory, kafka_bootstrap: str, kafka_admin: AdminClient
) -> None:
    connector = f"sink-{uuid.uuid4().hex[:8]}"
    a, b = new_topic(partitions=2), new_topic(partitions=1)
    assert read_sink_offsets(kafka_admin, connector) == []
    _commit_as_sink(kafka_bootstrap, connector, {(a, 0): 10, (a, 1): 20, (b, 0): 5})

    def entry(topic: str, partition: int, offset: int) -> tuple[dict[str, object], ...]:
        return ({"kafka_topic": topic, "kafka_partition": partition}, {"kafka_offset": offset})

    got = read_sink_offsets(kafka_admin, connector)
    assert sorted(got, key=str) == sorted(
        [entry(a, 0, 10), entry(a, 1, 20), entry(b, 0, 5)], key=str
    )

    alter_sink_offsets(
        kafka_admin,
        connector,
        [
            ({"kafka_topic": a, "kafka_partition": "1"}, {"kafka_offset": 7}),
            ({"kafka_topic": b, "kafka_partition": 0}, None),
        ],
    )
    got = read_sink_offsets(kafka_admin, connector)
    assert sorted(got, key=str) == sorted([entry(a, 0, 10), entry(a, 1, 7)], key=str)

    reset_sink_offsets(kafka_admin, connector)
    assert read_sink_offsets(kafka_admin, connector) == []
    reset_sink_offsets(kafka_admin, connector)  # no group: fine


def test_sink_offsets_of_a_running_sink_cannot_be_changed(
    new_topic: NewTopicFactory, kafka_bootstrap: str, kafka_admin: AdminClient
) -> None:
    connector = f"busy-{uuid.uuid4().hex[:8]}"
    topic = new_topic()
    member = Consumer(
        {
            "bootstrap.servers": kafka_bootstrap,
            "group.id": f"connect-{connector}",
            "enable.auto.commit": "false",
            "group.protocol": "classic",
        }
    )
    try:
        assigned = threading.Event()
        member.subscribe([topic], on_assign=lambda c, ps: assigned.set())
        deadline = time.monotonic() + DEADLINE_S
        while not assigned.is_set() and time.monotonic() < deadline:
            member.poll(0.1)
        assert assigned.is_set()
        with pytest.raises(ConnectError, match="haven't stopped completely"):
            reset_sink_offsets(kafka_admin, connector)
        with pytest.raises(ConnectError, match="haven't stopped completely"):
            alter_sink_offsets(
                kafka_admin,
                connector,
                [({"kafka_topic": topic, "kafka_partition": 0}, {"kafka_offset": 1})],
            )
    finally:
        member.close()


def test_sink_offsets_group_is_untouched_when_a_request_is_invalid(
    new_topic: NewTopicFactory, kafka_bootstrap: str, kafka_admin: AdminClient
) -> None:
    connector = f"bad-{uuid.uuid4().hex[:8]}"
    topic = new_topic()
    _commit_as_sink(kafka_bootstrap, connector, {(topic, 0): 3})
    with pytest.raises(ConfigError, match="kafka_offset"):
        alter_sink_offsets(
            kafka_admin,
            connector,
            [
                ({"kafka_topic": topic, "kafka_partition": 0}, None),
                ({"kafka_topic": topic, "kafka_partition": 1}, {"kafka_offset": -1}),
            ],
        )
    group = kafka_admin.list_consumer_group_offsets(
        [ConsumerGroupTopicPartitions(f"connect-{connector}")]
    )
    result = next(iter(group.values())).result(timeout=DEADLINE_S)
    assert [(tp.topic, tp.partition, tp.offset) for tp in result.topic_partitions] == [
        (topic, 0, 3)
    ]
