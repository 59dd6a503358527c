"""A task's metrics: plain counters its own thread updates, read when `/metrics` is scraped.

Kafka Connect's task metric groups (`connector-task-metrics`, `source-task-metrics`,
`sink-task-metrics`, `task-error-metrics`) with their meanings, kept as attributes of one slotted
object per task; an exactly-once source task also has a `TransactionMetrics` (the
`source-task-metrics` KIP-618 added). Only the task's thread writes them, once per batch or per
event, never per record on the plain path; a scrape reads them from another thread. A Python int
or float attribute is replaced whole, so a reader sees either the old or the new value, never a
torn one, and the hot path takes no lock.
"""

from __future__ import annotations


class TaskMetrics:
    __slots__ = (
        "batch_size_max",
        "batch_size_sum",
        "batches",
        "deadletterqueue_produce_failures",
        "deadletterqueue_produce_requests",
        "last_error_timestamp_ms",
        "offset_commit_failure_total",
        "offset_commit_seconds_max",
        "offset_commit_seconds_sum",
        "offset_commit_skip_total",
        "offset_commit_success_total",
        "poll_batch_seconds_sum",
        "put_batch_seconds_sum",
        "records_lag",
        "sink_record_read_total",
        "sink_record_send_total",
        "source_record_poll_total",
        "source_record_write_total",
        "total_errors_logged",
        "total_record_errors",
        "total_record_failures",
        "total_records_skipped",
        "total_retries",
    )

    def __init__(self) -> None:
        # connector-task-metrics
        self.batches = 0
        self.batch_size_sum = 0
        self.batch_size_max = 0
        self.offset_commit_success_total = 0
        self.offset_commit_failure_total = 0
        self.offset_commit_skip_total = 0
        self.offset_commit_seconds_sum = 0.0
        self.offset_commit_seconds_max = 0.0
        # source-task-metrics: records returned by poll(), and records handed to the producer
        # after transforms (a record a transform drops is polled but not written).
        self.source_record_poll_total = 0
        self.source_record_write_total = 0
        self.poll_batch_seconds_sum = 0.0
        # sink-task-metrics: records read from Kafka, and records given to put() after
        # transforms.
        self.sink_record_read_total = 0
        self.sink_record_send_total = 0
        self.put_batch_seconds_sum = 0.0
        # The sink task consumer's lag (Kafka's consumer metric records-lag), summed over its
        # partitions: end offset minus position, as last asked of the broker.
        self.records_lag = 0
        # task-error-metrics
        self.total_record_errors = 0
        """Records that met an error in any stage (converter, transform, put, produce)."""
        self.total_record_failures = 0
        """Attempts that failed, retries included."""
        self.total_records_skipped = 0
        """Records dropped because the error was tolerated (`errors.tolerance=all`)."""
        self.total_retries = 0
        self.total_errors_logged = 0
        self.deadletterqueue_produce_requests = 0
        self.deadletterqueue_produce_failures = 0
        self.last_error_timestamp_ms = 0

    def batch(self, size: int) -> None:
        self.batches += 1
        self.batch_size_sum += size
        self.batch_size_max = max(self.batch_size_max, size)

    def commit(self, ok: bool, seconds: float) -> None:
        if ok:
            self.offset_commit_success_total += 1
        else:
            self.offset_commit_failure_total += 1
        self.offset_commit_seconds_sum += seconds
        self.offset_commit_seconds_max = max(self.offset_commit_seconds_max, seconds)


class TransactionMetrics:
    """An exactly-once source task's committed transactions: Kafka Connect's `transaction-size-min`,
    `-max` and `-avg` (`source-task-metrics`, KIP-618), as the count, sum, smallest and largest
    number of records per committed transaction. A transaction's size is the records handed to the
    producer in it (after transforms, as Java counts them); an aborted one is not counted. The
    task's thread writes them once per commit."""

    __slots__ = ("committed", "size_max", "size_min", "size_sum")

    def __init__(self) -> None:
        self.committed = 0
        self.size_sum = 0
        self.size_min = 0
        """The smallest committed transaction; meaningless while `committed` is 0."""
        self.size_max = 0

    def commit(self, size: int) -> None:
        self.size_min = size if self.committed == 0 else min(self.size_min, size)
        self.size_max = max(self.size_max, size)
        self.size_sum += size
        self.committed += 1
