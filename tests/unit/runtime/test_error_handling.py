"""`RetryWithTolerance`: which errors are retried, for how long, and which are tolerated."""

from __future__ import annotations

import logging

import pytest

from kconnect.api.records import SourceRecord
from kconnect.api.types import ConnectorName, TaskId, TaskNumber
from kconnect.config.connector import (
    CommonConnectorConfig,
    SinkConnectorCommonConfig,
    ToleranceType,
)
from kconnect.errors import ConfigError, DataError, RetriableError
from kconnect.worker.error_handling import (
    FAILED,
    ConsumedRecord,
    ErrorHandlingConfig,
    LogReporter,
    ProcessingContext,
    RetryWithTolerance,
    Stage,
    ToleranceExceeded,
    backoff_ms,
)
from kconnect.worker.task_metrics import TaskMetrics

TASK = TaskId(ConnectorName("c"), TaskNumber(0))


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Reporter:
    def __init__(self) -> None:
        self.seen: list[ProcessingContext] = []

    def report(self, context: ProcessingContext) -> None:
        self.seen.append(context)


def _operator(
    tolerance: ToleranceType = ToleranceType.NONE,
    retry_timeout_ms: int = 0,
    max_delay_ms: int = 60000,
) -> tuple[RetryWithTolerance, FakeClock, Reporter]:
    clock = FakeClock()
    reporter = Reporter()
    op = RetryWithTolerance(
        TASK,
        ErrorHandlingConfig(retry_timeout_ms, max_delay_ms, tolerance),
        TaskMetrics(),
        [reporter],
        clock=clock,
        sleep=clock.sleep,
    )
    return op, clock, reporter


def _flaky(failures: int, error: Exception) -> tuple[list[int], object]:
    calls: list[int] = []

    def op() -> str:
        calls.append(1)
        if len(calls) <= failures:
            raise error
        return "ok"

    return calls, op


def test_success_passes_through_without_counting() -> None:
    op, _, reporter = _operator()
    assert op.execute(lambda: 42, Stage.TRANSFORMATION, "T") == 42
    assert op.metrics.total_record_failures == 0
    assert reporter.seen == []


def test_a_retriable_error_is_retried_with_doubling_backoff_until_it_succeeds() -> None:
    op, clock, _ = _operator(retry_timeout_ms=60_000)
    calls, fn = _flaky(3, RetriableError("busy"))
    assert op.execute(fn, Stage.TRANSFORMATION, "T") == "ok"  # type: ignore[arg-type]
    assert len(calls) == 4
    assert clock.now == pytest.approx(0.3 + 0.6 + 1.2)
    assert op.metrics.total_retries == 3
    assert op.metrics.total_record_failures == 3
    assert op.metrics.total_record_errors == 0


def test_no_retries_by_default_and_the_error_is_not_tolerated() -> None:
    op, clock, reporter = _operator()
    calls, fn = _flaky(1, RetriableError("busy"))
    with pytest.raises(ToleranceExceeded, match="Tolerance exceeded in error handler") as info:
        op.execute(fn, Stage.VALUE_CONVERTER, "Conv")  # type: ignore[arg-type]
    assert isinstance(info.value.__cause__, RetriableError)
    assert "VALUE_CONVERTER operation with class 'Conv'" in str(info.value)
    assert len(calls) == 1
    assert clock.sleeps == []
    assert reporter.seen == []


def test_retries_stop_at_the_timeout_and_the_last_sleep_is_cut_to_fit() -> None:
    op, clock, reporter = _operator(ToleranceType.ALL, retry_timeout_ms=1000)
    calls, fn = _flaky(100, RetriableError("down"))
    assert op.execute(fn, Stage.TRANSFORMATION, "T") is FAILED  # type: ignore[arg-type]
    # 300 + 600 ms, then only the 100 ms left before a last attempt at the deadline.
    assert clock.now == pytest.approx(1.0)
    assert len(calls) == 4
    assert len(reporter.seen) == 1
    assert reporter.seen[0].attempts == 4
    assert op.metrics.total_records_skipped == 1


def test_infinite_retries_run_until_the_task_stops() -> None:
    op, clock, _ = _operator(ToleranceType.ALL, retry_timeout_ms=-1, max_delay_ms=1000)
    op.stopping = lambda: clock.now > 30
    calls, fn = _flaky(10**9, RetriableError("down"))
    assert op.execute(fn, Stage.TRANSFORMATION, "T") is FAILED  # type: ignore[arg-type]
    assert 30 < clock.now < 32
    assert len(calls) > 10
    # Past the cap each delay is a random one below it.
    assert max(clock.sleeps) <= 0.1 + 1e-9


def test_backoff_is_capped_with_jitter_below_the_cap() -> None:
    assert [backoff_ms(a, 60_000) for a in (1, 2, 3)] == [300, 600, 1200]
    for _ in range(50):
        assert 0 <= backoff_ms(10, 1000) <= 1000


@pytest.mark.parametrize(
    "stage",
    [Stage.TRANSFORMATION, Stage.KEY_CONVERTER, Stage.VALUE_CONVERTER, Stage.HEADER_CONVERTER],
)
def test_any_error_in_a_converter_or_transform_is_tolerated_under_all(stage: Stage) -> None:
    op, _, reporter = _operator(ToleranceType.ALL)
    consumed = ConsumedRecord("t", 0, 5, None, "CreateTime", b"k", b"v", None)
    assert op.execute(_raise(DataError("bad")), stage, "X", consumed=consumed) is FAILED
    [ctx] = reporter.seen
    assert (ctx.stage, ctx.class_name, ctx.consumed) == (stage, "X", consumed)
    assert isinstance(ctx.error, DataError)
    assert op.metrics.total_record_errors == 1
    assert op.metrics.total_records_skipped == 1


def test_a_non_retriable_error_in_put_fails_the_task_even_under_all() -> None:
    op, _, reporter = _operator(ToleranceType.ALL)
    with pytest.raises(ToleranceExceeded, match="Unhandled exception in error handler"):
        op.execute(_raise(ValueError("boom")), Stage.TASK_PUT, "Sink")
    assert reporter.seen == []


def test_a_record_reported_by_the_task_is_tolerated_under_all_whatever_the_error() -> None:
    op, _, reporter = _operator(ToleranceType.ALL)
    assert op.fail(Stage.TASK_PUT, "Sink", ValueError("rejected"), tolerable=True) is FAILED
    assert len(reporter.seen) == 1
    strict, _, _ = _operator(ToleranceType.NONE)
    with pytest.raises(ToleranceExceeded):
        strict.fail(Stage.TASK_PUT, "Sink", ValueError("rejected"), tolerable=True)


def test_the_fast_paths_failure_counts_as_the_first_attempt() -> None:
    op, clock, _ = _operator(ToleranceType.ALL, retry_timeout_ms=10_000)
    calls, fn = _flaky(0, RetriableError("x"))
    first = RetriableError("seen on the fast path")
    assert op.execute(fn, Stage.TRANSFORMATION, "T", first_error=first) == "ok"  # type: ignore[arg-type]
    assert len(calls) == 1  # one retry after the backoff, not a second first attempt
    assert clock.now == pytest.approx(0.3)
    # A non-retriable first error is not run again at all.
    op2, _, reporter = _operator(ToleranceType.ALL)
    calls2, fn2 = _flaky(0, RetriableError("x"))
    assert op2.execute(fn2, Stage.TRANSFORMATION, "T", first_error=DataError("bad")) is FAILED  # type: ignore[arg-type]
    assert calls2 == []
    assert isinstance(reporter.seen[0].error, DataError)


def _raise(error: Exception) -> object:
    def op() -> None:
        raise error

    return op


def test_log_reporter_words_the_failure_as_kafka_connect_does(
    caplog: pytest.LogCaptureFixture,
) -> None:
    metrics = TaskMetrics()
    consumed = ConsumedRecord("orders", 2, 17, 1000, "CreateTime", b"k", b"secret", None)
    ctx = ProcessingContext(
        TASK, Stage.VALUE_CONVERTER, "JsonConverter", DataError("x"), 1, consumed
    )
    plain = LogReporter(TASK, include_messages=False, metrics=metrics)
    assert plain.message(ctx) == (
        "Error encountered in task c-0 while performing VALUE_CONVERTER operation with class "
        "'JsonConverter', where consumed record is {topic='orders', partition=2, offset=17}."
    )
    full = LogReporter(TASK, include_messages=True, metrics=metrics)
    assert full.message(ctx).endswith(
        ", msg.topic='orders', msg.partition=2, msg.offset=17, msg.timestamp=1000, "
        "msg.timestampType=CreateTime."
    )
    source = SourceRecord("t", "v")
    ctx2 = ProcessingContext(
        TASK, Stage.TRANSFORMATION, "T", DataError("x"), 1, source_record=source
    )
    assert "with record = SourceRecord(" in full.message(ctx2)
    assert "with record" not in plain.message(ctx2)
    with caplog.at_level(logging.ERROR, logger="kconnect.worker.error_handling"):
        plain.report(ctx)
    assert "Error encountered in task c-0" in caplog.text
    assert metrics.total_errors_logged == 1


def test_error_keys_parse_with_kafka_connects_names_and_defaults() -> None:
    base = {"name": "c", "connector.class": "X"}
    config = CommonConnectorConfig.parse(base)
    assert ErrorHandlingConfig.of(config) == ErrorHandlingConfig(0, 60000, ToleranceType.NONE)
    config = CommonConnectorConfig.parse(
        {
            **base,
            "errors.tolerance": "ALL",
            "errors.retry.timeout": "-1",
            "errors.retry.delay.max.ms": "250",
            "errors.log.enable": "true",
            "errors.log.include.messages": "true",
        }
    )
    assert ErrorHandlingConfig.of(config) == ErrorHandlingConfig(
        -1, 250, ToleranceType.ALL, True, True
    )
    with pytest.raises(ConfigError, match=r"errors\.tolerance"):
        CommonConnectorConfig.parse({**base, "errors.tolerance": "some"})
    with pytest.raises(ConfigError, match=r"errors\.retry\.timeout"):
        CommonConnectorConfig.parse({**base, "errors.retry.timeout": "-2"})


def test_retry_delay_cap_is_read_under_kafkas_name_and_checked() -> None:
    base = {"name": "c", "connector.class": "X"}
    with pytest.raises(ConfigError, match=r"'abc' for key 'errors\.retry\.delay\.max\.ms'"):
        CommonConnectorConfig.parse({**base, "errors.retry.delay.max.ms": "abc"})
    # kconnect's former name still caps the delay, unless Kafka's name is also given.
    old = CommonConnectorConfig.parse({**base, "errors.retry.max.delay.ms": "700"})
    assert old.errors_retry_delay_max_ms == 700
    both = CommonConnectorConfig.parse(
        {**base, "errors.retry.max.delay.ms": "700", "errors.retry.delay.max.ms": "900"}
    )
    assert both.errors_retry_delay_max_ms == 900


def test_the_dlq_topic_may_not_be_a_topic_the_sink_reads() -> None:
    base = {"name": "c", "connector.class": "X", "topics": "a,b"}
    sink = SinkConnectorCommonConfig.parse({**base, "errors.deadletterqueue.topic.name": "dlq"})
    assert sink.errors_deadletterqueue_topic_replication_factor == 3
    assert not sink.errors_deadletterqueue_context_headers_enable
    with pytest.raises(ConfigError, match="The DLQ topic 'b' may not be included"):
        SinkConnectorCommonConfig.parse({**base, "errors.deadletterqueue.topic.name": "b"})
    regex = {"name": "c", "connector.class": "X", "topics.regex": "orders-.*"}
    with pytest.raises(ConfigError, match="may not be matched by the regex"):
        SinkConnectorCommonConfig.parse(
            {**regex, "errors.deadletterqueue.topic.name": "orders-dlq"}
        )
