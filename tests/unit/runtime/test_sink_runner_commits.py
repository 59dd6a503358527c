"""The sink runner's commit paths, driven by a scripted consumer.

A real broker cannot be made to revoke a partition in the exact `consume()` call a test wants,
nor to hand back records of one partition in the call that assigns another; a scripted consumer
can. (`tests/integration/test_sink_delivery.py` covers the revocation against the real broker.)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytest
from confluent_kafka import KafkaError
from confluent_kafka import TopicPartition as KafkaTopicPartition

import kconnect.worker.sink as sink_module
from kconnect.api.records import SinkRecord
from kconnect.api.task import SinkTask
from kconnect.api.types import ConnectorName, TaskId, TaskNumber, TopicPartition
from kconnect.config.connector import ToleranceType
from kconnect.converters.header import SimpleHeaderConverter
from kconnect.converters.string import StringConverter
from kconnect.errors import RetriableError
from kconnect.storage.states import TargetState
from kconnect.storage.status import MemoryStatusStore
from kconnect.worker.error_handling import ErrorHandlingConfig, RetryWithTolerance
from kconnect.worker.sink import SinkTaskRunner
from kconnect.worker.task_metrics import TaskMetrics

TASK = TaskId(ConnectorName("c"), TaskNumber(0))
A = TopicPartition("t", 0)
B = TopicPartition("t", 1)


class Msg:
    def __init__(self, tp: TopicPartition, offset: int) -> None:
        self._tp = tp
        self._offset = offset

    def error(self) -> None:
        return None

    def topic(self) -> str:
        return self._tp.topic

    def partition(self) -> int:
        return self._tp.partition

    def offset(self) -> int:
        return self._offset

    def key(self) -> None:
        return None

    def value(self) -> bytes:
        return f"{self._tp.partition}-{self._offset}".encode()

    def headers(self) -> None:
        return None

    def timestamp(self) -> tuple[int, int]:
        return (0, 0)


def msgs(tp: TopicPartition, first: int, last: int) -> list[Msg]:
    return [Msg(tp, o) for o in range(first, last + 1)]


Step = Callable[["ScriptedConsumer"], list[Msg]]


class ScriptedConsumer:
    """Each `consume()` runs the next step of the script (rebalance callbacks included, as
    librdkafka runs them inside `consume()`); with the script done it returns nothing. An
    asynchronous commit succeeds, and its callback comes at the next `consume()`, as librdkafka
    serves it; `answer_commits = False` leaves them unanswered."""

    answer_commits = True

    script: list[Step] = []
    last: ScriptedConsumer | None = None

    def __init__(self, conf: Mapping[str, Any]) -> None:
        self.steps = list(ScriptedConsumer.script)
        self.commits: list[dict[TopicPartition, int]] = []
        self.seeks: list[tuple[TopicPartition, int]] = []
        self.assigned: list[TopicPartition] = []
        self.on_commit = conf["on_commit"]
        self.unanswered: list[list[KafkaTopicPartition]] = []
        self.paused: set[TopicPartition] = set()
        ScriptedConsumer.last = self

    def subscribe(self, topics: list[str], **callbacks: Any) -> None:
        self.callbacks = callbacks

    def assign_(self, *tps: TopicPartition) -> None:
        self.assigned += tps
        self.callbacks["on_assign"](self, [_kafka(tp) for tp in tps])

    def revoke_(self, *tps: TopicPartition) -> None:
        self.callbacks["on_revoke"](self, [_kafka(tp) for tp in tps])
        self.assigned = [tp for tp in self.assigned if tp not in tps]

    def consume(self, num: int, timeout: float) -> list[Msg]:
        if self.answer_commits:
            while self.unanswered:
                self.on_commit(None, self.unanswered.pop(0))
        return self.steps.pop(0)(self) if self.steps else []

    def commit(self, offsets: Sequence[Any], asynchronous: bool) -> None:
        self.commits.append({TopicPartition(o.topic, o.partition): o.offset for o in offsets})
        if asynchronous:
            self.unanswered.append(
                [KafkaTopicPartition(o.topic, o.partition, o.offset) for o in offsets]
            )

    def seek(self, tp: Any) -> None:
        self.seeks.append((TopicPartition(tp.topic, tp.partition), tp.offset))

    def pause(self, parts: Any) -> None:
        self.paused |= {TopicPartition(p.topic, p.partition) for p in parts}

    def resume(self, parts: Any) -> None:
        self.paused -= {TopicPartition(p.topic, p.partition) for p in parts}

    def position(self, parts: Sequence[Any]) -> list[KafkaTopicPartition]:
        """No position yet: the task's lag (`records_lag`) leaves every partition out."""
        return [KafkaTopicPartition(p.topic, p.partition, -1001) for p in parts]

    def close(self) -> None:
        if self.assigned:
            self.revoke_(*self.assigned)


def _kafka(tp: TopicPartition) -> KafkaTopicPartition:
    return KafkaTopicPartition(tp.topic, tp.partition)


class HeldSink(SinkTask):
    """put() raises a RetriableError while `held`; records what it was given and closed."""

    def __init__(self) -> None:
        self.held = False
        self.puts: list[list[tuple[int, int]]] = []
        self.accepted: list[tuple[int, int]] = []
        self.closed: list[TopicPartition] = []
        self.rewind_on_open: dict[TopicPartition, int] = {}

    def start(self, props: Mapping[str, str]) -> None:
        pass

    def open(self, partitions: Sequence[TopicPartition]) -> None:
        wanted = {tp: o for tp, o in self.rewind_on_open.items() if tp in partitions}
        if wanted:
            self.context.offset(wanted)

    def put(self, records: Sequence[SinkRecord]) -> None:
        given = [(r.kafka_partition, r.kafka_offset) for r in records]
        self.puts.append(given)
        if self.held:
            self.context.timeout(1)
            raise RetriableError("the sink system is down")
        self.accepted += given

    def close(self, partitions: Sequence[TopicPartition]) -> None:
        self.closed += partitions

    def stop(self) -> None:
        pass


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> Callable[..., SinkTaskRunner]:
    def make(task: HeldSink, script: list[Step], flush_timeout_ms: int = 5000) -> SinkTaskRunner:
        monkeypatch.setattr(ScriptedConsumer, "script", script)
        monkeypatch.setattr(sink_module, "Consumer", ScriptedConsumer)
        metrics = TaskMetrics()
        errors = RetryWithTolerance(
            TASK, ErrorHandlingConfig(0, 60000, ToleranceType.NONE), metrics, []
        )
        runner = SinkTaskRunner(
            TASK,
            task,
            {},
            TargetState.STARTED,
            status=MemoryStatusStore(),
            worker_id="w",
            consumer_config={"group.id": "connect-c"},
            topics=["t"],
            topics_regex="",
            max_poll_records=500,
            key_converter=StringConverter(),
            value_converter=StringConverter(),
            header_converter=SimpleHeaderConverter(),
            flush_interval_ms=0,  # commit after every round
            flush_timeout_ms=flush_timeout_ms,
            errors=errors,
            metrics=metrics,
        )
        runner.initialize()
        return runner

    return make


def consumer() -> ScriptedConsumer:
    assert ScriptedConsumer.last is not None
    return ScriptedConsumer.last


def test_a_partition_revoked_while_put_is_retried_is_committed_at_what_put_accepted(
    runner: Callable[..., SinkTaskRunner],
) -> None:
    task = HeldSink()

    def read_both(c: ScriptedConsumer) -> list[Msg]:
        c.assign_(A, B)
        return msgs(A, 0, 2) + msgs(B, 0, 2)

    def refuse_then_read_more(c: ScriptedConsumer) -> list[Msg]:
        task.held = True
        return msgs(A, 3, 4) + msgs(B, 3, 3)

    def revoke_b_and_recover(c: ScriptedConsumer) -> list[Msg]:
        c.revoke_(B)
        task.held = False
        return []

    r = runner(task, [read_both, refuse_then_read_more, revoke_b_and_recover])
    r.iterate()  # the first batch is accepted and committed
    assert consumer().commits == [{A: 3, B: 3}]
    r.iterate()  # the second is refused; B is revoked during the retries
    # The revocation committed nothing of the refused batch (B stays at 3, what put() accepted),
    # and A is committed once put() accepted its records.
    assert consumer().commits == [{A: 3, B: 3}, {A: 5}]
    assert task.closed == [B]
    # The retry carries only the records of the partition still assigned.
    assert task.puts[-1] == [(0, 3), (0, 4)]


def test_a_stop_during_the_retries_commits_only_what_put_accepted(
    runner: Callable[..., SinkTaskRunner],
) -> None:
    task = HeldSink()

    def read(c: ScriptedConsumer) -> list[Msg]:
        c.assign_(A)
        return msgs(A, 0, 2)

    def refuse(c: ScriptedConsumer) -> list[Msg]:
        task.held = True
        return msgs(A, 3, 9)

    def stop(c: ScriptedConsumer) -> list[Msg]:
        r.stop()
        return []

    r = runner(task, [read, refuse, stop])
    r.iterate()
    r.iterate()  # refused, then stopped while waiting to retry
    assert not r.failed
    r.close(commit=True)
    assert task.accepted == [(0, 0), (0, 1), (0, 2)]
    assert all(c[A] <= 3 for c in consumer().commits), consumer().commits
    assert consumer().commits == [{A: 3}]


def test_a_batch_dropped_for_a_rewind_is_read_again_from_its_first_record(
    runner: Callable[..., SinkTaskRunner],
) -> None:
    task = HeldSink()
    task.rewind_on_open = {B: 0}

    def read_a(c: ScriptedConsumer) -> list[Msg]:
        c.assign_(A)
        return msgs(A, 0, 2)

    def assign_b_with_more_of_a(c: ScriptedConsumer) -> list[Msg]:
        c.assign_(B)  # the task rewinds B in open(), in this same consume()
        return msgs(A, 3, 5)

    r = runner(task, [read_a, assign_b_with_more_of_a])
    r.iterate()
    r.iterate()
    # A's records of the dropped batch are not skipped: A is sought back to its first one.
    assert sorted(consumer().seeks) == [(A, 3), (B, 0)]
    assert task.accepted == [(0, 0), (0, 1), (0, 2)]
    assert consumer().commits[-1] == {A: 3}


def read_a(c: ScriptedConsumer) -> list[Msg]:
    c.assign_(A)
    return msgs(A, 0, 2)


def test_a_periodic_commit_counts_only_once_answered_and_waits_for_its_answer(
    runner: Callable[..., SinkTaskRunner],
) -> None:
    task = HeldSink()
    ScriptedConsumer.answer_commits = False
    try:
        r = runner(task, [read_a, lambda c: msgs(A, 3, 4)])
        r.iterate()
        assert consumer().commits == [{A: 3}]
        assert r.metrics.offset_commit_success_total == 0  # sent, not answered
        r.iterate()  # more is delivered, but no second commit while the first is unanswered
        assert consumer().commits == [{A: 3}]
        consumer().answer_commits = True
        r.iterate()  # the answer comes inside consume(); the next commit goes out
        assert r.metrics.offset_commit_success_total == 1
        assert consumer().commits == [{A: 3}, {A: 5}]
    finally:
        ScriptedConsumer.answer_commits = True


def test_a_failed_periodic_commit_is_made_again(runner: Callable[..., SinkTaskRunner]) -> None:
    task = HeldSink()
    r = runner(task, [read_a])
    c = consumer()
    answer = c.on_commit

    def refuse(err: object, partitions: list[KafkaTopicPartition]) -> None:
        c.on_commit = answer
        answer(KafkaError(KafkaError.REBALANCE_IN_PROGRESS), partitions)

    c.on_commit = refuse
    r.iterate()
    r.iterate()  # the refusal arrives; nothing counts as committed
    assert r.metrics.offset_commit_failure_total == 1
    r.iterate()
    assert consumer().commits == [{A: 3}, {A: 3}]


def test_a_stop_waits_for_its_commit_only_until_the_flush_timeout(
    runner: Callable[..., SinkTaskRunner], caplog: pytest.LogCaptureFixture
) -> None:
    task = HeldSink()
    ScriptedConsumer.answer_commits = False
    try:
        r = runner(task, [read_a], flush_timeout_ms=300)
        r.iterate()
        r.stop()
        r.close(commit=True)  # returns although no commit is ever answered
    finally:
        ScriptedConsumer.answer_commits = True
    assert A in consumer().paused  # nothing more was read while the answer was awaited
    assert r.metrics.offset_commit_failure_total == 1
    assert "not confirmed within offset.flush.timeout.ms (300 ms)" in caplog.text
    assert task.closed == [A]


def test_a_stop_commits_what_was_delivered_since_the_last_answered_commit(
    runner: Callable[..., SinkTaskRunner],
) -> None:
    task = HeldSink()
    r = runner(task, [read_a, lambda c: msgs(A, 3, 4)])
    r.iterate()
    r.iterate()  # the first commit's answer comes; the second commit is sent
    r.stop()
    r.close(commit=True)
    assert consumer().commits == [{A: 3}, {A: 5}]
    assert r.metrics.offset_commit_success_total == 2
    assert r.metrics.offset_commit_failure_total == 0


def test_a_periodic_commit_unanswered_for_the_flush_timeout_is_made_again(
    runner: Callable[..., SinkTaskRunner], caplog: pytest.LogCaptureFixture
) -> None:
    task = HeldSink()
    ScriptedConsumer.answer_commits = False
    try:
        r = runner(task, [read_a], flush_timeout_ms=0)
        r.iterate()
        r.iterate()
    finally:
        ScriptedConsumer.answer_commits = True
    assert consumer().commits == [{A: 3}, {A: 3}]
    assert r.metrics.offset_commit_failure_total == 1
    assert "not answered within offset.flush.timeout.ms (0 ms); committing again" in caplog.text
