"""Error handling for one task: retries, tolerance and reporting, with Kafka Connect's keys.

    errors.retry.timeout          how long a failing operation is retried (0 none, -1 forever)
    errors.retry.delay.max.ms     the cap on the backoff between attempts
    errors.tolerance              none: the first error fails the task; all: skip the record
    errors.log.enable             log each error with the stage and class that failed
    errors.log.include.messages   ... and the record's coordinates or content
    errors.deadletterqueue.*      sinks: write the original bytes to a topic (`dlq.py`)

Rules, as in Kafka Connect's `RetryWithToleranceOperator`:
- **Only a `RetriableError` is retried,** with exponential backoff from 300 ms, capped by
  `errors.retry.delay.max.ms` (past the cap, a random delay below it), until
  `errors.retry.timeout` has passed since the first attempt.
- **What can be tolerated depends on the stage.** In the converter and transform stages any
  exception can be skipped under `errors.tolerance=all`. In the others (a sink's `put`, the
  producer) only a `RetriableError` whose retries ran out can; any other error fails the task
  whatever the tolerance, because skipping it could drop a whole batch.
- **A failure the tolerance does not cover** raises `ToleranceExceeded`, with the original error
  as its cause, so the task fails with the trace of what went wrong in its status.
- **Every tolerated failure is reported before the record is skipped:** logged when
  `errors.log.enable`, written to the dead-letter queue when one is configured. Nothing is
  skipped silently; the task's error metrics count each step.

The operator is used from the task's thread only. It holds no locks, and the hot path never
calls it: a runner processes records directly and hands a record to `execute` only after it
failed once, so a healthy pipeline pays nothing for error handling.
"""

from __future__ import annotations

import enum
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from kconnect.api.records import SourceRecord
from kconnect.api.types import TaskId
from kconnect.config.connector import (
    ERRORS_RETRY_TIMEOUT_INFINITE,
    CommonConnectorConfig,
    ToleranceType,
)
from kconnect.errors import ConnectError, RetriableError
from kconnect.worker.task_metrics import TaskMetrics

log = logging.getLogger(__name__)

RETRIES_DELAY_MIN_MS = 300

T = TypeVar("T")


class Stage(enum.Enum):
    """Where in the pipeline an operation runs; the names are Kafka Connect's."""

    TASK_POLL = "TASK_POLL"
    TASK_PUT = "TASK_PUT"
    TRANSFORMATION = "TRANSFORMATION"
    KEY_CONVERTER = "KEY_CONVERTER"
    VALUE_CONVERTER = "VALUE_CONVERTER"
    HEADER_CONVERTER = "HEADER_CONVERTER"
    KAFKA_PRODUCE = "KAFKA_PRODUCE"
    KAFKA_CONSUME = "KAFKA_CONSUME"


_ANY_ERROR_TOLERATED = frozenset(
    {Stage.TRANSFORMATION, Stage.KEY_CONVERTER, Stage.VALUE_CONVERTER, Stage.HEADER_CONVERTER}
)


class ToleranceExceeded(ConnectError):
    """An error that `errors.tolerance` does not cover; the task fails with it."""


@dataclass
class ConsumedRecord:
    """A record as it was read from Kafka, before any conversion: what a dead-letter queue
    writes, byte for byte."""

    topic: str
    partition: int
    offset: int
    timestamp: int | None
    timestamp_type: str
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes | None]] | None


@dataclass
class ProcessingContext:
    """What failed, where, and on which record: what reporters are given."""

    task_id: TaskId
    stage: Stage
    class_name: str
    error: BaseException
    attempts: int
    consumed: ConsumedRecord | None = None
    source_record: SourceRecord | None = None


class ErrorReporter(Protocol):
    def report(self, context: ProcessingContext) -> None: ...


@dataclass(frozen=True)
class ErrorHandlingConfig:
    retry_timeout_ms: int = 0
    retry_delay_max_ms: int = 60000
    tolerance: ToleranceType = ToleranceType.NONE
    log_enable: bool = False
    log_include_messages: bool = False

    @classmethod
    def of(cls, config: CommonConnectorConfig) -> ErrorHandlingConfig:
        return cls(
            retry_timeout_ms=config.errors_retry_timeout,
            retry_delay_max_ms=config.errors_retry_delay_max_ms,
            tolerance=config.errors_tolerance,
            log_enable=config.errors_log_enable,
            log_include_messages=config.errors_log_include_messages,
        )


class _Failed:
    """The result of an operation that failed and was tolerated: skip the record."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "FAILED"


FAILED = _Failed()


@dataclass
class RetryWithTolerance:
    task_id: TaskId
    config: ErrorHandlingConfig
    metrics: TaskMetrics
    reporters: Sequence[ErrorReporter] = ()
    stopping: Callable[[], bool] = lambda: False
    """Checked between retries: a task asked to stop gives up waiting."""
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    total_failures: int = field(default=0, init=False)

    @property
    def tolerates_all(self) -> bool:
        return self.config.tolerance is ToleranceType.ALL

    def execute(
        self,
        operation: Callable[[], T],
        stage: Stage,
        class_name: str,
        *,
        consumed: ConsumedRecord | None = None,
        source_record: SourceRecord | None = None,
        first_error: BaseException | None = None,
    ) -> T | _Failed:
        """Run `operation`, retrying and tolerating as configured.

        Returns its result, or `FAILED` when it failed and the failure was tolerated (and
        reported). `first_error` is a failure the caller already saw on the fast path: it counts
        as the first attempt.
        """
        outcome = self._attempt(operation, stage, first_error)
        if isinstance(outcome, _Attempts):
            return self.fail(
                stage,
                class_name,
                outcome.error,
                outcome.attempts,
                consumed=consumed,
                source=source_record,
            )
        return outcome

    def fail(
        self,
        stage: Stage,
        class_name: str,
        error: BaseException,
        attempts: int = 1,
        *,
        consumed: ConsumedRecord | None = None,
        source: SourceRecord | None = None,
        tolerable: bool = False,
    ) -> _Failed:
        """Record a failure that won't be retried: report it and skip, or raise.

        `tolerable` says that this failure may be skipped whatever its stage: a record the
        task itself reported (KIP-610), or a producer error (KIP-779).
        """
        metrics = self.metrics
        metrics.total_record_errors += 1
        metrics.last_error_timestamp_ms = int(time.time() * 1000)
        self.total_failures += 1
        tolerable = tolerable or stage in _ANY_ERROR_TOLERATED or isinstance(error, RetriableError)
        if not tolerable:
            raise ToleranceExceeded(
                f"Unhandled exception in error handler while performing {stage.value} "
                f"operation with class '{class_name}': {error}"
            ) from error
        if not self.tolerates_all:
            raise ToleranceExceeded(
                f"Tolerance exceeded in error handler while performing {stage.value} "
                f"operation with class '{class_name}': {error}"
            ) from error
        context = ProcessingContext(
            self.task_id, stage, class_name, error, attempts, consumed, source
        )
        for reporter in self.reporters:
            reporter.report(context)
        metrics.total_records_skipped += 1
        return FAILED

    def _attempt(
        self, operation: Callable[[], T], stage: Stage, first_error: BaseException | None
    ) -> T | _Attempts:
        """The operation's result, or the last error and how many attempts were made."""
        start = self.clock()
        timeout = self.config.retry_timeout_ms
        attempt = 0
        error = first_error
        while True:
            if error is None:
                attempt += 1
                try:
                    return operation()
                except Exception as e:  # noqa: BLE001 - classified below, never swallowed
                    error = e
            else:
                attempt += 1
            self.metrics.total_record_failures += 1
            if not isinstance(error, RetriableError) or not self._may_retry(start, timeout):
                return _Attempts(error, attempt)
            log.debug(
                "task %s: retriable error in %s (attempt %d): %s",
                self.task_id,
                stage.value,
                attempt,
                error,
            )
            self._backoff(attempt, start, timeout)
            if self.stopping():
                return _Attempts(error, attempt)
            self.metrics.total_retries += 1
            error = None

    def _may_retry(self, start: float, timeout_ms: int) -> bool:
        if timeout_ms == ERRORS_RETRY_TIMEOUT_INFINITE:
            return not self.stopping()
        return (self.clock() - start) * 1000 < timeout_ms and not self.stopping()

    def _backoff(self, attempt: int, start: float, timeout_ms: int) -> None:
        delay_ms = backoff_ms(attempt, self.config.retry_delay_max_ms)
        if timeout_ms != ERRORS_RETRY_TIMEOUT_INFINITE:
            remaining = timeout_ms - (self.clock() - start) * 1000
            delay_ms = max(0.0, min(delay_ms, remaining))
        # Sleep in slices, so a stop request is noticed within a tenth of a second.
        deadline = self.clock() + delay_ms / 1000
        while not self.stopping():
            left = deadline - self.clock()
            if left <= 0:
                return
            self.sleep(min(left, 0.1))


@dataclass(frozen=True)
class _Attempts:
    error: BaseException
    attempts: int


def backoff_ms(attempt: int, max_delay_ms: int) -> float:
    """The delay after failed attempt `attempt` (1-based): 300 ms doubling, and past
    `max_delay_ms` a random delay below it, as Kafka Connect does to spread out retries."""
    delay = RETRIES_DELAY_MIN_MS << min(attempt - 1, 30)
    if delay > max_delay_ms:
        return random.uniform(0, max_delay_ms)  # jitter, not security
    return float(delay)


class LogReporter:
    """`errors.log.enable`: one ERROR line per failure, with Kafka Connect's wording."""

    def __init__(self, task_id: TaskId, include_messages: bool, metrics: TaskMetrics) -> None:
        self._task_id = task_id
        self._include = include_messages
        self._metrics = metrics

    def report(self, context: ProcessingContext) -> None:
        log.error("%s", self.message(context), exc_info=context.error)
        self._metrics.total_errors_logged += 1

    def message(self, context: ProcessingContext) -> str:
        text = (
            f"Error encountered in task {self._task_id} while performing "
            f"{context.stage.value} operation with class '{context.class_name}'"
        )
        if self._include and context.source_record is not None:
            text += f", with record = {context.source_record!r}"
        elif self._include and context.consumed is not None:
            c = context.consumed
            text += (
                f", msg.topic='{c.topic}', msg.partition={c.partition}, msg.offset={c.offset}, "
                f"msg.timestamp={c.timestamp if c.timestamp is not None else -1}, "
                f"msg.timestampType={c.timestamp_type}"
            )
        elif context.consumed is not None:
            c = context.consumed
            # The coordinates alone name the record without logging its content.
            text += f", where consumed record is {{topic='{c.topic}', partition={c.partition}, "
            text += f"offset={c.offset}}}"
        return text + "."


def class_name_of(obj: object) -> str:
    cls = obj if isinstance(obj, type) else type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"
