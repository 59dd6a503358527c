"""The measurements: one worker run each, timed from outside the worker.

Invariants:

- **Clocks start at RUNNING.** Throughput is timed from the first status poll that shows the
  connector and its one task RUNNING, so worker start-up is not counted against the task (it is
  measured on its own); records already done when RUNNING is seen are left out of the count.
  Start-up is timed from ``Popen``.
- **The end is observed outside the worker.** A source run ends when the topic's high-water mark
  reaches N, i.e. when the broker has acknowledged every record. A sink run ends when the output
  file holds N lines.
- **Every run has its own names**: topic, connector (hence consumer group), offsets file and output
  file, so no run resumes from another.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from bench.procs import Every, WorkerFactory, WorkerProcess, cpu_seconds, rss_bytes

STRING = "org.apache.kafka.connect.storage.StringConverter"
FILE_SOURCE = "org.apache.kafka.connect.file.FileStreamSourceConnector"
FILE_SINK = "org.apache.kafka.connect.file.FileStreamSinkConnector"
JSON = "org.apache.kafka.connect.json.JsonConverter"

STATUS_POLL_S = 0.02
PROGRESS_POLL_S = 0.05
# How often a run in progress asks for the connector's status, to stop at a FAILED task.
FAILURE_POLL_S = 1.0
STARTUP_POLL_S = 0.01
IDLE_SETTLE_S = 3.0
SOURCE_FLUSH_MS = 10_000
SINK_FLUSH_MS = 250


@dataclasses.dataclass(frozen=True)
class RunResult:
    """What one throughput run observed."""

    records: int
    seconds: float
    cpu_seconds: float
    max_rss: int
    first_output_s: float
    """From RUNNING to the first record observed at the far end: the run's start-up latency."""

    @property
    def rate(self) -> float:
        return self.records / self.seconds

    @property
    def cpu_per_million(self) -> float:
        return self.cpu_seconds / self.records * 1_000_000


@dataclasses.dataclass(frozen=True)
class StartupResult:
    seconds: float
    idle_rss: int
    idle_cpu_seconds: float
    """CPU seconds spent over the idle window; 0 when none was asked for."""


class Bench:
    """The shared context of a benchmark session: the broker, a work directory, the timeout."""

    def __init__(self, bootstrap: str, workdir: Path, timeout: float) -> None:
        self.bootstrap = bootstrap
        self.workdir = workdir
        self.timeout = timeout
        self.admin = AdminClient({"bootstrap.servers": bootstrap})
        self._watermarks = Consumer(
            {"bootstrap.servers": bootstrap, "group.id": "kconnect-bench-watermarks"}
        )
        self._seq = 0

    def close(self) -> None:
        self._watermarks.close()

    def fresh(self, prefix: str) -> str:
        self._seq += 1
        return f"{prefix}-{self._seq}"

    def worker_props(self, converter: str, flush_ms: int, run: str) -> dict[str, str]:
        return {
            "bootstrap.servers": self.bootstrap,
            "key.converter": converter,
            "value.converter": converter,
            "key.converter.schemas.enable": "true",
            "value.converter.schemas.enable": "true",
            "offset.storage.file.filename": str(self.workdir / f"{run}.offsets"),
            "offset.flush.interval.ms": str(flush_ms),
        }

    # --- Kafka ------------------------------------------------------------------------------------

    def create_topic(self, topic: str) -> None:
        futures = self.admin.create_topics([NewTopic(topic, 1, 1)], operation_timeout=30)
        futures[topic].result(timeout=60)

    def delete_topic(self, topic: str) -> None:
        futures = self.admin.delete_topics([topic], operation_timeout=30)
        futures[topic].result(timeout=60)

    def high_watermark(self, topic: str) -> int:
        _, high = self._watermarks.get_watermark_offsets(
            TopicPartition(topic, 0), timeout=10, cached=False
        )
        return int(high)

    # --- runs -------------------------------------------------------------------------------------

    def source_run(
        self,
        converter: str,
        records: int,
        topic: str,
        schema: str = "text",
        extra: dict[str, str] | None = None,
    ) -> RunResult:
        """One DataGen task writing `records` records of `schema` to `topic` (created here);
        `extra` adds connector keys (transforms, errors.*)."""
        self.create_topic(topic)
        run = self.fresh("source")
        connector = {
            "name": run,
            "connector.class": "DataGen",
            "tasks.max": "1",
            "topic": topic,
            "schema": schema,
            "max.records": str(records),
            "seed": "1",
            **(extra or {}),
        }
        worker = WorkerProcess(
            self.workdir, run, self.worker_props(converter, SOURCE_FLUSH_MS, run), [connector]
        )
        return self.timed_source(worker, run, topic, records)

    def timed_source(
        self,
        worker: WorkerProcess,
        connector: str,
        topic: str,
        records: int,
        check: Callable[[WorkerProcess], None] | None = None,
    ) -> RunResult:
        """Time `worker`'s `connector` from RUNNING until `topic` holds exactly `records`
        records; then `check` the worker, still running, outside the timed window. The worker
        is stopped on every path."""
        try:
            t0 = worker.wait_running(connector, self.timeout, STATUS_POLL_S)
            cpu0 = cpu_seconds(worker.pid)
            max_rss = rss_bytes(worker.pid)
            # Records acknowledged before RUNNING was seen are not counted against the window.
            high0 = self.high_watermark(topic)
            first: float | None = 0.0 if high0 else None
            deadline = t0 + self.timeout
            health = Every(FAILURE_POLL_S)
            while True:
                worker.check_alive()
                if health.due():
                    worker.check_healthy(connector)
                max_rss = max(max_rss, rss_bytes(worker.pid))
                high = self.high_watermark(topic)
                now = time.monotonic()
                if first is None and high > high0:
                    first = now - t0
                if high >= records:
                    break
                if now > deadline:
                    raise worker.fail(
                        f"timed out after {self.timeout:.0f}s: {topic} has {high} of {records}"
                    )
                time.sleep(PROGRESS_POLL_S)
            cpu = cpu_seconds(worker.pid) - cpu0
            if high != records:
                raise worker.fail(f"{topic} has {high} records, expected exactly {records}")
            if check is not None:
                check(worker)
        finally:
            worker.stop()
        return RunResult(records - high0, now - t0, cpu, max_rss, first or 0.0)

    def sink_run(
        self, converter: str, records: int, topic: str, extra: dict[str, str] | None = None
    ) -> RunResult:
        """One FileStreamSink task copying `records` from `topic` to a fresh file; `extra` adds
        connector keys (transforms, errors.*)."""
        run = self.fresh("sink")
        out = self.workdir / f"{run}.txt"
        connector = {
            "name": run,
            "connector.class": "FileStreamSink",
            "tasks.max": "1",
            "topics": topic,
            "file": str(out),
            **(extra or {}),
        }
        worker = WorkerProcess(
            self.workdir, run, self.worker_props(converter, SINK_FLUSH_MS, run), [connector]
        )
        return self.timed_sink(worker, run, out, records)

    def timed_sink(
        self,
        worker: WorkerProcess,
        connector: str,
        out: Path,
        records: int,
        check: Callable[[WorkerProcess], None] | None = None,
    ) -> RunResult:
        """Time `worker`'s `connector` from RUNNING until `out` holds exactly `records` lines;
        then `check` the worker, still running, outside the timed window. The worker is stopped
        and `out` removed on every path."""
        try:
            t0 = worker.wait_running(connector, self.timeout, STATUS_POLL_S)
            cpu0 = cpu_seconds(worker.pid)
            max_rss = rss_bytes(worker.pid)
            lines = 0
            pos = 0
            first: float | None = None
            deadline = t0 + self.timeout
            health = Every(FAILURE_POLL_S)
            while True:
                worker.check_alive()
                if health.due():
                    worker.check_healthy(connector)
                max_rss = max(max_rss, rss_bytes(worker.pid))
                if out.exists():
                    with out.open("rb") as f:
                        f.seek(pos)
                        chunk = f.read()
                    pos += len(chunk)
                    lines += chunk.count(b"\n")
                now = time.monotonic()
                if first is None and lines:
                    first = now - t0
                if lines >= records:
                    break
                if now > deadline:
                    raise worker.fail(
                        f"timed out after {self.timeout:.0f}s: {out} has {lines} of {records} lines"
                    )
                time.sleep(PROGRESS_POLL_S)
            cpu = cpu_seconds(worker.pid) - cpu0
            if lines != records:
                raise worker.fail(f"{out} has {lines} lines, expected exactly {records}")
            if check is not None:
                check(worker)
        finally:
            worker.stop()
            out.unlink(missing_ok=True)
        return RunResult(records, now - t0, cpu, max_rss, first or 0.0)

    def startup_run(
        self, start: WorkerFactory = WorkerProcess, idle_window_s: float = 0.0
    ) -> StartupResult:
        """Popen to RUNNING of a worker (made by `start`) with one FileStreamSource on an empty
        file; then, after the worker has settled, its idle RSS, and the CPU it spends idle over
        `idle_window_s` (not measured when 0)."""
        run = self.fresh("startup")
        source = self.workdir / f"{run}.in"
        source.touch()
        topic = self.fresh("bench-idle")
        self.create_topic(topic)
        connector = {
            "name": run,
            "connector.class": FILE_SOURCE,
            "tasks.max": "1",
            "file": str(source),
            "topic": topic,
        }
        worker = start(
            self.workdir, run, self.worker_props(STRING, SOURCE_FLUSH_MS, run), [connector]
        )
        try:
            seen = worker.wait_running(run, self.timeout, STARTUP_POLL_S)
            seconds = seen - worker.started_at
            time.sleep(IDLE_SETTLE_S)
            worker.check_alive()
            rss = rss_bytes(worker.pid)
            cpu0 = cpu_seconds(worker.pid)
            time.sleep(idle_window_s)
            worker.check_alive()
            idle_cpu = cpu_seconds(worker.pid) - cpu0
        finally:
            worker.stop()
        self.delete_topic(topic)
        return StartupResult(seconds, rss, idle_cpu)
