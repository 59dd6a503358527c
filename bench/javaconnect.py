"""Apache Kafka Connect's own Java runtime, run next to kconnect so the benchmarks can compare them.

The jars come from Maven Central through ``bench/java/pom.xml``: ``connect-runtime``,
``connect-json``, ``connect-file`` (FileStreamSource and FileStreamSink) and
``connect-transforms``, at the same ``kafka.version`` as the broker. A worker runs as
``java -cp '<libs>/*' org.apache.kafka.connect.cli.ConnectStandalone`` (or ``ConnectDistributed``)
with ``plugin.path`` unset: every connector, converter and transform it needs is on the classpath.

Invariants:

- **Only a complete download is ever used.** The jars live in
  ``$KCONNECT_CACHE/kafka-connect-java-<version>/libs``, next to the broker's, and are fetched the
  way the broker's are (:func:`kconnect_devenv.kafka.maven_fetch`): into a temporary directory
  that is renamed into place, then a marker holding the pom's digest, all under a lock file.
- **A Java worker is a** :class:`bench.procs.WorkerProcess`. Only the command differs; its REST
  polling, its bounded waits, its stop (SIGTERM, then SIGKILL) and :func:`bench.procs.kill_all`
  are the ones every kconnect worker in the harness gets, so a measurement written for one runs
  against the other.
- **Its log is a file.** The JVM's stdout and stderr go to ``<workdir>/<name>.log``, at INFO in
  Kafka's layout (``bench/java/connect-log4j2.properties``), whose timestamps read like kconnect's.

``python -m bench.javaconnect fetch`` fetches the jars; ``python -m bench.javaconnect smoke`` runs
one FileStreamSource on a private broker and prints how long the worker took to start and how much
memory it holds.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final, Literal

from bench.procs import HarnessError, WorkerProcess, kill_all, rss_bytes
from kconnect_devenv import kafka, lifecycle

POM: Final = Path(__file__).resolve().parent / "java" / "pom.xml"
STANDALONE_MAIN: Final = "org.apache.kafka.connect.cli.ConnectStandalone"
DISTRIBUTED_MAIN: Final = "org.apache.kafka.connect.cli.ConnectDistributed"

# What Kafka's own bin/connect-standalone.sh and kafka-run-class.sh give the JVM, so the worker
# measured is the worker Kafka's users run.
JVM_OPTIONS: Final = (
    "-Xms256M",
    "-Xmx2G",
    "-server",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-XX:MaxInlineLevel=15",
    "-Djava.awt.headless=true",
)
# For a Java worker that is a reference, not a measurement (the tests, `--light-java` runs): C1
# only, the serial collector and no perf data, which takes about half the CPU of JVM_OPTIONS to
# start a worker (5 s against 11 s for a FileStreamSource worker on this project's machine). Its
# speed is not that of Kafka's defaults, so no figure measured with it is ever reported.
LIGHT_JVM_OPTIONS: Final = (
    "-Xms64m",
    "-Xmx768m",
    "-XX:+UseSerialGC",
    "-XX:-UsePerfData",
    "-XX:TieredStopAtLevel=1",
    "-Djava.awt.headless=true",
)
# Kafka's log layout at INFO on the console, which is the worker's log file.
LOG_CONFIG: Final = Path(__file__).resolve().parent / "java" / "connect-log4j2.properties"

SMOKE_LINES: Final = 1000
SMOKE_TIMEOUT_S: Final = 120.0
POLL_S: Final = 0.05
MIB: Final = 1024 * 1024


# --------------------------------------------------------------------------------------------------
# Fetch.


def connect_version() -> str:
    """The Kafka version pinned in ``bench/java/pom.xml``."""
    return kafka.kafka_version(POM)


def libs_dir() -> Path:
    return lifecycle.cache_root() / f"kafka-connect-java-{connect_version()}" / "libs"


def fetched() -> Path | None:
    """The libs directory if a complete fetch for the current pom is in the cache, else None."""
    return kafka.maven_fetched(POM, libs_dir())


def fetch() -> Path:
    """Kafka Connect's jars in the cache, downloaded by Maven on first use; the libs directory."""
    version = connect_version()
    libs = kafka.maven_fetch(POM, libs_dir(), f"connect-runtime-{version}.jar")
    # FileStreamSource resolves only if connect-file is on the classpath; Kafka 4.x left it out of
    # connect-runtime's dependencies.
    for jar in (f"connect-file-{version}.jar", f"connect-transforms-{version}.jar"):
        if not (libs / jar).is_file():
            raise kafka.FetchError(f"{jar} is missing from {libs}; check {POM}")
    return libs


# --------------------------------------------------------------------------------------------------
# A worker.


class JavaWorker(WorkerProcess):
    """One ``ConnectStandalone`` or ``ConnectDistributed`` JVM with its own directory, port and log.

    Like its base class, a distributed worker takes no connector files; connectors are created over
    REST. The REST API listens on ``http://127.0.0.1:<port>``, a port picked free at start.
    """

    def __init__(
        self,
        workdir: Path,
        name: str,
        worker: Mapping[str, str],
        connectors: Sequence[Mapping[str, str]],
        mode: Literal["standalone", "distributed"] = "standalone",
        *,
        libs: Path | None = None,
        jvm_options: Sequence[str] = JVM_OPTIONS,
        extra_libs: Sequence[Path] = (),
        port: int | None = None,
    ) -> None:
        self._libs = libs or fetch()
        self._extra_libs = list(extra_libs)
        """More jar directories, after Connect's own (a converter's, say)."""
        self._jvm_options = list(jvm_options)
        super().__init__(workdir, name, worker, list(connectors), mode, port=port)

    def command(self, mode: Literal["standalone", "distributed"], files: list[Path]) -> list[str]:
        main = STANDALONE_MAIN if mode == "standalone" else DISTRIBUTED_MAIN
        return [
            kafka.java_executable(),
            *self._jvm_options,
            f"-Dlog4j2.configurationFile={LOG_CONFIG}",
            "-cp",
            os.pathsep.join(f"{d}/*" for d in (self._libs, *self._extra_libs)),
            main,
            *map(str, files),
        ]

    def _get_json(self, path: str) -> tuple[int, object]:
        # While the worker starts, Jetty already listens but answers with an HTML error page until
        # Connect's resources are installed; that reads as "no answer yet", like a refused
        # connection.
        try:
            return super()._get_json(path)
        except ValueError:
            return 0, None


# --------------------------------------------------------------------------------------------------
# Smoke run: python -m bench.javaconnect smoke


def smoke(lines: int = SMOKE_LINES, timeout: float = SMOKE_TIMEOUT_S) -> int:
    """FileStreamSource on a ``lines``-line file into a private broker's topic, on Java standalone.

    Prints the time from the JVM's start to the connector and its task being RUNNING, the time
    until the topic's high-water mark reaches ``lines``, and the worker's RSS then.
    """
    from bench.measure import FILE_SOURCE, STRING, Bench  # needs confluent_kafka; `fetch` does not

    libs = fetch()
    state_dir = Path(tempfile.mkdtemp(prefix="kconnect-bench-java-"))
    workdir = state_dir / "runs"
    workdir.mkdir()
    bench: Bench | None = None
    try:
        print(f"starting a private broker in {state_dir}", flush=True)
        broker = kafka.start(state_dir / "kafka", die_with_parent=True)
        bench = Bench(broker.bootstrap, workdir, timeout)
        topic = "java-smoke"
        bench.create_topic(topic)
        source = workdir / "input.txt"
        source.write_text("".join(f"line {i:06d} of the Java smoke run\n" for i in range(lines)))
        connector = "java-smoke-source"
        worker = JavaWorker(
            workdir,
            "java-smoke",
            bench.worker_props(STRING, 1000, "java-smoke"),
            [
                {
                    "name": connector,
                    "connector.class": FILE_SOURCE,
                    "tasks.max": "1",
                    "file": str(source),
                    "topic": topic,
                }
            ],
            libs=libs,
        )
        print(f"started {STANDALONE_MAIN} (pid {worker.pid}); log {worker.log_path}", flush=True)
        running_at = worker.wait_running(connector, timeout, POLL_S)
        watermarks = bench
        done_at = worker.wait_for(
            f"the high-water mark of {topic} to reach {lines}",
            lambda: time.monotonic() if watermarks.high_watermark(topic) >= lines else None,
            timeout,
            POLL_S,
        )
        rss = rss_bytes(worker.pid)
        print(f"start -> RUNNING: {running_at - worker.started_at:.2f} s")
        print(f"start -> {lines:,} records in {topic}: {done_at - worker.started_at:.2f} s")
        print(f"worker RSS: {rss / MIB:.1f} MiB")
        worker.stop()
        print(f"worker stopped (exit {worker.proc.returncode})")
        return 0
    finally:
        kill_all()
        if bench is not None:
            bench.close()
            bench = None
        kafka.stop(state_dir / "kafka")
        # The work directory, with the worker's log, stays for inspection.
        print(f"work directory: {workdir}")


# --------------------------------------------------------------------------------------------------
# Command line.


def _sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.javaconnect",
        description="Fetch and try out Apache Kafka Connect's Java runtime for the benchmarks.",
    )
    parser.add_argument("command", choices=["fetch", "smoke"])
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _sigterm)
    try:
        if args.command == "fetch":
            libs = fetched()
            if libs is None:
                print(
                    f"Fetching Kafka Connect {connect_version()} with Maven into {libs_dir()} ..."
                )
                began = time.monotonic()
                libs = fetch()
                print(f"Fetched in {time.monotonic() - began:.1f}s.")
            print(f"Kafka Connect {connect_version()} jars: {libs}")
            return 0
        return smoke()
    except HarnessError as e:
        print(f"bench.javaconnect: cannot measure: {e}", file=sys.stderr)
        return 1
    except kafka.KafkaServiceError as e:
        print(f"bench.javaconnect: Kafka: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bench.javaconnect: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
