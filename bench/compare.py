"""``make bench-java``: kconnect and Apache Kafka Connect's Java runtime, side by side.

Both runtimes run the same workloads on one private broker in one session: the same connector
configs (Kafka's own class names, which kconnect resolves), converters, transforms, worker
settings and input data. Only the command that starts a worker differs (:mod:`bench.javaconnect`).

The workloads:

1. FileStreamSource: a file of N lines of 100 bytes → a fresh topic, until the broker has
   acknowledged all N.
2. FileStreamSink: a topic of N records → a fresh file, until the file holds N lines.
3. Both again with JsonConverter (``schemas.enable=true``), and with JsonConverter and two
   transforms, InsertField and MaskField. FileStreamSource's values are strings, which those two
   do not take, so the source chain starts with HoistField to make each line a struct.
   Schemaless JSON (``schemas.enable=false``) with nested values, both ways: a sink reading
   objects that hold objects and arrays, and a source whose lines two HoistFields nest into
   maps of maps.
4. Distributed failover: 3 workers, a FileStreamSink with 6 tasks; SIGKILL the worker with the
   most tasks and time until every task is RUNNING on the survivors; with each runtime's defaults,
   then with both tuned for the fastest failover.
5. Rebalance impact: a 3rd worker joins 2 that run the 6 tasks; which tasks stopped, for how long.
6. Resources: start → RUNNING, idle RSS and idle CPU of one worker; its RSS and CPU in workload 1.

Invariants:

- **Alternating, repeated.** Every throughput workload runs `repeat` times per runtime, and the
  order of the two runtimes flips on each repeat, so a slow minute of the machine lands on both.
- **Every run starts clean:** a fresh worker, connector name (hence consumer group), topic or
  output file and offsets file. Input files and sink topics are made once and only read.
- **Figures are observed from outside the worker** (:mod:`bench.measure`): a source ends when the
  topic's high-water mark reaches N, a sink when the file holds N lines.

Exit status: 0 when every workload was measured, whether or not it met its target; 1 when the
harness could not measure (a worker died, a wait timed out, the broker did not start), after
printing why and the worker's log tail.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import importlib.metadata
import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Final, Literal

import confluent_kafka
from confluent_kafka import Producer

from bench import compare_report, javaconnect, listeners
from bench.distributed import TASKS, TUNED, Distributed, RebalanceResult, Victim
from bench.measure import (
    FILE_SINK,
    FILE_SOURCE,
    JSON,
    SINK_FLUSH_MS,
    SOURCE_FLUSH_MS,
    STRING,
    Bench,
    RunResult,
)
from bench.procs import HarnessError, WorkerFactory, WorkerProcess
from bench.report import Target, fmt_number
from bench.run import machine
from bench.session import private_broker, private_registry, private_secured_broker
from kconnect.connectors import datagen
from kconnect.converters.avro import AvroConverter
from kconnect_devenv import javaconverter, kafka

REPO: Final = Path(__file__).resolve().parents[1]
DOC: Final = REPO / "docs" / "benchmarks.md"
IMAGES: Final = REPO / "docs" / "images"
RESULTS: Final = REPO / "bench" / "results" / "latest.json"

DEFAULT_RECORDS: Final = 1_000_000
QUICK_RECORDS: Final = 100_000
LINE_BYTES: Final = 100
"""Bytes per line of the source file, newline included, and per value of the string topic."""
MIB: Final = 1024 * 1024
IDLE_WINDOW_S: Final = 10.0
QUICK_IDLE_WINDOW_S: Final = 3.0

RuntimeName = Literal["kconnect", "java"]

THROUGHPUT_TARGET: Final = Target("min", 1.0)
FAILOVER_TARGET: Final = Target("min", 10.0)
MEMORY_TARGET: Final = Target("min", 4.0)
STARTUP_TARGET: Final = Target("min", 1.0)
UNAFFECTED_TARGET: Final = Target("eq", 0)

# Fastest failover each runtime allows: the broker's smallest session timeout
# (group.min.session.timeout.ms, 6 s by default) for both, and Kafka Connect's delay before it
# reassigns a departed worker's tasks (scheduled.rebalance.max.delay.ms, 5 min by default) set to 0.
TUNED_FAILOVER: Final[Mapping[RuntimeName, Mapping[str, str]]] = {
    "kconnect": TUNED,
    "java": {**TUNED, "scheduled.rebalance.max.delay.ms": "0"},
}

# --- the workloads' configs ---------------------------------------------------------------------

INSERT: Final = {
    "transforms.insert.type": "org.apache.kafka.connect.transforms.InsertField$Value",
    "transforms.insert.static.field": "origin",
    "transforms.insert.static.value": "bench",
}
SOURCE_TRANSFORMS: Final = {
    # FileStreamSource's values are strings; HoistField makes each a one-field struct that
    # InsertField and MaskField take. MaskField masks the field InsertField added, so the
    # record keeps its 100-byte line.
    "transforms": "hoist,insert,mask",
    "transforms.hoist.type": "org.apache.kafka.connect.transforms.HoistField$Value",
    "transforms.hoist.field": "line",
    **INSERT,
    "transforms.mask.type": "org.apache.kafka.connect.transforms.MaskField$Value",
    "transforms.mask.fields": "origin",
}
SINK_TRANSFORMS: Final = {
    "transforms": "insert,mask",
    **INSERT,
    "transforms.mask.type": "org.apache.kafka.connect.transforms.MaskField$Value",
    "transforms.mask.fields": "email",
}

# A connector's converter settings count only where it names its converter, in both runtimes.
SCHEMALESS: Final = {"value.converter": JSON, "value.converter.schemas.enable": "false"}
SOURCE_NESTED: Final = {
    # Two HoistFields without a schema make each line {"record": {"line": "..."}}: nested maps
    # that the converter writes as schemaless JSON.
    **SCHEMALESS,
    "transforms": "line,record",
    "transforms.line.type": "org.apache.kafka.connect.transforms.HoistField$Value",
    "transforms.line.field": "line",
    "transforms.record.type": "org.apache.kafka.connect.transforms.HoistField$Value",
    "transforms.record.field": "record",
}

STRUCT_SCHEMA: Final = {
    "type": "struct",
    "name": "bench.User",
    "optional": False,
    "fields": [
        {"field": "id", "type": "int64", "optional": False},
        {"field": "name", "type": "string", "optional": False},
        {"field": "email", "type": "string", "optional": False},
        {"field": "note", "type": "string", "optional": False},
    ],
}


Input = Literal["lines", "string-topic", "struct-topic", "nested-topic", "avro-topic"]

AVRO_CONVERTERS: Final[Mapping[RuntimeName, str]] = {
    "kconnect": "io.confluent.connect.avro.AvroConverter",
    # Apicurio's port of Confluent's AvroConverter (docs/converter-reference.md): Confluent's own
    # is not on Maven Central.
    "java": "io.apicurio.registry.utils.converter.AvroConverter",
}


def avro_keys(runtime: RuntimeName, registry_url: str, topic: str) -> dict[str, str]:
    """The connector keys that make `runtime` read values with its Avro converter from the
    registry at `registry_url` (Confluent's API base), in Confluent's wire format."""
    keys = {"value.converter": AVRO_CONVERTERS[runtime]}
    if runtime == "kconnect":
        keys["value.converter.schema.registry.url"] = registry_url
        return keys
    config = javaconverter.converter_config("avro", registry_url=registry_url, topic=topic)
    keys.update((f"value.converter.{k}", v) for k, v in config.items() if k.startswith("apicurio."))
    return keys


@dataclasses.dataclass(frozen=True)
class Throughput:
    """One throughput workload: a FileStreamSource or FileStreamSink task and its configs."""

    name: str
    label: str
    kind: Literal["source", "sink"]
    converter: str
    extra: Mapping[str, str]
    """Connector config beyond the connector's own keys: transforms, converter settings."""
    input: Input
    short: str
    """The label on the plot's axis."""
    avro: bool = False
    """Values are read with each runtime's Avro converter from the session's registry."""


THROUGHPUT: Final = (
    Throughput(
        "source_string",
        "FileStreamSource → topic, StringConverter",
        "source",
        STRING,
        {},
        "lines",
        "source, String",
    ),
    Throughput(
        "source_json",
        "FileStreamSource → topic, JsonConverter (schemas.enable=true)",
        "source",
        JSON,
        {},
        "lines",
        "source, JSON",
    ),
    Throughput(
        "source_json_transforms",
        "FileStreamSource → topic, JsonConverter, HoistField + InsertField + MaskField",
        "source",
        JSON,
        SOURCE_TRANSFORMS,
        "lines",
        "source, JSON + 3 transforms",
    ),
    Throughput(
        "sink_string",
        "topic → FileStreamSink, StringConverter",
        "sink",
        STRING,
        {},
        "string-topic",
        "sink, String",
    ),
    Throughput(
        "sink_json",
        "topic → FileStreamSink, JsonConverter (schemas.enable=true), 4-field structs",
        "sink",
        JSON,
        {},
        "struct-topic",
        "sink, JSON structs",
    ),
    Throughput(
        "sink_json_transforms",
        "topic → FileStreamSink, JsonConverter, InsertField + MaskField",
        "sink",
        JSON,
        SINK_TRANSFORMS,
        "struct-topic",
        "sink, JSON + 2 transforms",
    ),
    Throughput(
        "sink_json_schemaless",
        "topic → FileStreamSink, JsonConverter (schemas.enable=false), nested objects and arrays",
        "sink",
        JSON,
        SCHEMALESS,
        "nested-topic",
        "sink, schemaless JSON",
    ),
    Throughput(
        "sink_avro",
        "topic → FileStreamSink, AvroConverter (Schema Registry), 8-field structs",
        "sink",
        JSON,
        {},
        "avro-topic",
        "sink, Avro structs",
        avro=True,
    ),
    Throughput(
        "source_json_schemaless",
        "FileStreamSource → topic, HoistField × 2, JsonConverter (schemas.enable=false)",
        "source",
        JSON,
        SOURCE_NESTED,
        "lines",
        "source, schemaless JSON",
    ),
)


def line(i: int) -> bytes:
    """Line `i` of the source file and value `i` of the string topic: LINE_BYTES - 1 bytes."""
    head = f"{i:010d} the quick brown fox jumps over the lazy dog "
    return (head + "x" * (LINE_BYTES - 1 - len(head))).encode()


def struct_value(i: int) -> bytes:
    """Value `i` of the struct topic: JsonConverter's envelope around a ~100-byte payload."""
    payload = {
        "id": i,
        "name": f"user-{i:08d}",
        "email": f"user-{i:08d}@example.com",
        "note": f"record {i:010d} of the kconnect side-by-side benchmark",
    }
    return json.dumps({"schema": STRUCT_SCHEMA, "payload": payload}, separators=(",", ":")).encode()


def nested_value(i: int) -> bytes:
    """Value `i` of the nested topic: schemaless JSON with objects and arrays, ~200 bytes."""
    payload = {
        "id": i,
        "name": f"user-{i:08d}",
        "active": i % 2 == 0,
        "score": i / 8,
        "tags": ["a", "b", f"t{i % 10}"],
        "address": {"street": f"{i % 1000} Main St", "zip": 10000 + i % 90000, "geo": [1.5, 2.25]},
        "items": [{"sku": f"s{i % 97}", "qty": i % 7}, {"sku": "x", "qty": 1}],
    }
    return json.dumps(payload, separators=(",", ":")).encode()


def file_sink(topic: str, scratch: Path) -> dict[str, str]:
    """The distributed runs' connector: a FileStreamSink with TASKS tasks on TASKS partitions."""
    return {
        "connector.class": FILE_SINK,
        "tasks.max": str(TASKS),
        "topics": topic,
        "file": f"{scratch}.out",
    }


# --- the session --------------------------------------------------------------------------------


def log(message: str) -> None:
    print(f"[bench-java {time.strftime('%H:%M:%S')}] {message}", flush=True)


def alternating(repeat: int) -> Iterator[tuple[int, RuntimeName]]:
    """(repeat index, runtime) in the order the runs go: kconnect first on even repeats, Java
    first on odd ones."""
    for i in range(repeat):
        order: tuple[RuntimeName, RuntimeName] = (
            ("kconnect", "java") if i % 2 == 0 else ("java", "kconnect")
        )
        for runtime in order:
            yield i, runtime


@dataclasses.dataclass
class Session:
    bench: Bench
    dist: Distributed
    starters: Mapping[RuntimeName, WorkerFactory]
    records: int
    repeat: int
    quick: bool
    inputs: dict[str, str] = dataclasses.field(default_factory=dict)
    """Input name → file path or topic, made on first use."""
    services: contextlib.ExitStack = dataclasses.field(default_factory=contextlib.ExitStack)
    """What the session started on first use (the Schema Registry); closed by its owner."""
    _registry_url: str | None = None

    def registry_url(self) -> str:
        """The session's own Schema Registry (started on first use, on the session's broker)."""
        if self._registry_url is None:
            self._registry_url = self.services.enter_context(
                private_registry(self.bench.bootstrap, log)
            )
        return self._registry_url

    def start(self, runtime: RuntimeName) -> WorkerFactory:
        return self.starters[runtime]

    # --- inputs -----------------------------------------------------------------------------------

    def input(self, kind: Input) -> str:
        if kind not in self.inputs:
            began = time.monotonic()
            if kind == "lines":
                path = self.bench.workdir / "input.txt"
                with path.open("wb") as f:
                    for i in range(self.records):
                        f.write(line(i) + b"\n")
                self.inputs[kind] = str(path)
            else:
                topic = f"bench-input-{kind}"
                self.bench.create_topic(topic)
                make = {
                    "string-topic": line,
                    "struct-topic": struct_value,
                    "nested-topic": nested_value,
                    "avro-topic": self._avro_values(topic),
                }[kind]
                self._fill(topic, make)
                self.inputs[kind] = topic
            log(f"made {kind} input ({self.records:,} records) in {time.monotonic() - began:.1f} s")
        return self.inputs[kind]

    def _avro_values(self, topic: str) -> Callable[[int], bytes]:
        """Value `i` of the Avro topic: DataGen's `users` record `i` (8 fields) in Confluent's
        wire format, its schema registered by kconnect's AvroConverter."""
        converter = AvroConverter()
        converter.configure(
            {"schema.registry.url": self.registry_url(), "converter.type": "value"}, False
        )
        self.services.callback(converter.close)
        schema = datagen.users_schema()

        def make(i: int) -> bytes:
            data = converter.from_connect_data(topic, schema, datagen.user_value(1, i))
            assert data is not None
            return data

        return make

    def _fill(self, topic: str, make: Callable[[int], bytes]) -> None:
        producer = Producer(
            {
                "bootstrap.servers": self.bench.bootstrap,
                "linger.ms": 50,
                "batch.size": 1_000_000,
                "compression.type": "none",
            }
        )
        for i in range(self.records):
            while True:
                try:
                    producer.produce(topic, make(i))
                    break
                except BufferError:
                    producer.poll(0.05)
        if producer.flush(120):
            raise HarnessError(f"could not write {self.records:,} records to {topic}")
        high = self.bench.high_watermark(topic)
        if high != self.records:
            raise HarnessError(f"{topic} has {high} records after filling, expected {self.records}")

    # --- workloads -------------------------------------------------------------------------------

    def throughput_run(
        self,
        w: Throughput,
        runtime: RuntimeName,
        client: Mapping[str, str] | None = None,
        check: Callable[[WorkerProcess], None] | None = None,
    ) -> RunResult:
        """One run of `w` on `runtime`; `client` adds worker keys (the listener's address and
        security keys), `check` looks at the worker once the records are through."""
        run = self.bench.fresh(f"{runtime}-{w.name}")
        props = self.bench.worker_props(
            w.converter, SOURCE_FLUSH_MS if w.kind == "source" else SINK_FLUSH_MS, run
        )
        props.update(client or {})
        source = self.input(w.input)
        extra = dict(w.extra)
        if w.avro:
            extra.update(avro_keys(runtime, self.registry_url(), source))
        if w.kind == "source":
            topic = f"{run}-out"
            self.bench.create_topic(topic)
            connector = {
                "name": run,
                "connector.class": FILE_SOURCE,
                "tasks.max": "1",
                "file": source,
                "topic": topic,
                **extra,
            }
            worker = self.start(runtime)(self.bench.workdir, run, props, [connector])
            try:
                return self.bench.timed_source(worker, run, topic, self.records, check)
            finally:
                self.bench.delete_topic(topic)
        out = self.bench.workdir / f"{run}.txt"
        connector = {
            "name": run,
            "connector.class": FILE_SINK,
            "tasks.max": "1",
            "topics": source,
            "file": str(out),
            **extra,
        }
        worker = self.start(runtime)(self.bench.workdir, run, props, [connector])
        return self.bench.timed_sink(worker, run, out, self.records, check)


def _describe(r: RunResult) -> str:
    return (
        f"{r.rate:,.0f} records/s ({r.seconds:.2f} s, CPU {r.cpu_seconds:.2f} s, "
        f"max RSS {r.max_rss / MIB:.0f} MiB)"
    )


def measure_throughput(
    s: Session, only: Sequence[Throughput] = THROUGHPUT
) -> tuple[list[compare_report.Comparison], dict[str, list[RunResult]]]:
    """Workloads 1–3; also returns workload 1's runs, whose RSS and CPU are workload 6's."""
    out = []
    source_runs: dict[str, list[RunResult]] = {"kconnect": [], "java": []}
    for w in only:
        rates: dict[RuntimeName, list[float]] = {"kconnect": [], "java": []}
        for i, runtime in alternating(s.repeat):
            r = s.throughput_run(w, runtime)
            log(f"{w.name} {runtime} {i + 1}/{s.repeat}: {_describe(r)}")
            rates[runtime].append(r.rate)
            if w.name == "source_string":
                source_runs[runtime].append(r)
        out.append(
            compare_report.Comparison(
                w.name,
                w.label,
                "records/s",
                "throughput",
                tuple(rates["kconnect"]),
                tuple(rates["java"]),
                higher_is_better=True,
                target=THROUGHPUT_TARGET,
                short=w.short,
                note=(
                    f"One task, {s.records:,} records of {LINE_BYTES} bytes (lines; the struct "
                    "topic's payloads are about as long, the nested topic's about twice), timed "
                    "from the first status poll that shows the task RUNNING until the topic's "
                    "high-water mark reaches N (source) or the file holds N lines (sink)."
                ),
            )
        )
    return out, source_runs


FAILOVER_SHORT: Final = {
    "default": "defaults, a follower killed",
    "default_leader": "defaults, the leader killed",
    "tuned": "tuned, a follower killed",
}


def measure_failover(s: Session) -> list[compare_report.Comparison]:
    out = []
    defaults: Mapping[RuntimeName, Mapping[str, str]] = {"kconnect": {}, "java": {}}
    variants: list[tuple[str, str, Mapping[RuntimeName, Mapping[str, str]], Victim]] = [
        ("default", "each runtime's defaults, a follower killed", defaults, "follower"),
        (
            "default_leader",
            "each runtime's defaults, the group's leader killed",
            defaults,
            "leader",
        ),
        (
            "tuned",
            "both tuned for the fastest failover, a follower killed",
            TUNED_FAILOVER,
            "follower",
        ),
    ]
    for key, label, extras, victim in variants:
        runs: dict[RuntimeName, list[float]] = {"kconnect": [], "java": []}
        skipped = ""
        for i, runtime in alternating(s.repeat):
            if s.quick and key == "default" and runtime == "java":
                skipped = (
                    " Java with defaults and a follower killed is not run in the QUICK form: its "
                    "scheduled rebalance delay alone is 5 minutes."
                )
                continue
            r = s.dist.failover_run(extras[runtime], s.start(runtime), file_sink, victim)
            role = {None: "", True: ", the leader killed", False: ", a follower killed"}[
                r.killed_leader
            ]
            log(f"failover {key} {runtime} {i + 1}/{s.repeat}: {r.seconds:.2f} s{role}")
            runs[runtime].append(r.seconds)
        settings = "; ".join(
            f"{rt}: {', '.join(f'{k}={v}' for k, v in extras[rt].items()) or 'defaults'}"
            for rt in ("kconnect", "java")
        )
        out.append(
            compare_report.Comparison(
                f"failover_{key}",
                f"SIGKILL one of 3 workers → all {TASKS} tasks RUNNING again, {label}",
                "s",
                "failover",
                tuple(runs["kconnect"]),
                tuple(runs["java"]),
                higher_is_better=False,
                target=FAILOVER_TARGET if key == "default" else None,
                short=FAILOVER_SHORT[key],
                note=(
                    f"3 distributed workers, one FileStreamSink with tasks.max={TASKS} on a "
                    f"{TASKS}-partition topic; one worker is killed and "
                    "`GET /connectors/<name>/status` on a survivor is polled every 0.1 s until "
                    "all tasks are RUNNING on the survivors. Kafka Connect's group has a leader "
                    "that computes every assignment and is named in its log; a follower is the "
                    "busiest worker that is not the leader. A new leader does not know what the "
                    "dead one had assigned, so when the leader itself is killed Kafka Connect "
                    "reassigns at once instead of waiting `scheduled.rebalance.max.delay.ms`. "
                    "kconnect's assignment does not depend on which worker dies; the busiest is "
                    f"killed. Settings: {settings}.{skipped}"
                ),
            )
        )
    return out


def measure_rebalance(s: Session) -> list[compare_report.Comparison]:
    results: dict[RuntimeName, list[RebalanceResult]] = {"kconnect": [], "java": []}
    for i, runtime in alternating(s.repeat):
        r = s.dist.rebalance_run(s.start(runtime), file_sink)
        gap = "n/a" if r.max_gap_s is None else f"{r.max_gap_s:.2f} s"
        log(
            f"rebalance {runtime} {i + 1}/{s.repeat}: {r.stopped} stopped, {r.moved} moved, "
            f"{r.restarted} restarted, moved tasks down at most {gap}"
        )
        results[runtime].append(r)
    note = (
        f"2 distributed workers run a FileStreamSink with tasks.max={TASKS}; a 3rd starts. Once "
        "every task is RUNNING and no owner has changed for 3 s, the worker logs are read: "
        "a task stopped if an old worker logged its stop after the 3rd worker started; it moved "
        "if the new worker runs it; its down time runs from that stop to its start on the new "
        "worker."
    )

    def runs(
        of: Callable[[RebalanceResult], float | None],
    ) -> tuple[tuple[float, ...], tuple[float, ...]]:
        def pick(rt: RuntimeName) -> tuple[float, ...]:
            return tuple(v for r in results[rt] if (v := of(r)) is not None)

        return pick("kconnect"), pick("java")

    stopped = runs(lambda r: float(r.stopped))
    unaffected = runs(lambda r: float(r.stopped - r.moved))
    gaps = runs(lambda r: r.max_gap_s)
    return [
        compare_report.Comparison(
            "rebalance_stopped",
            "a worker joins: tasks stopped",
            "tasks",
            "rebalance",
            *stopped,
            higher_is_better=False,
            note=note,
        ),
        compare_report.Comparison(
            "rebalance_unaffected_stopped",
            "a worker joins: tasks stopped that did not move",
            "tasks",
            "rebalance",
            *unaffected,
            higher_is_better=False,
            target=UNAFFECTED_TARGET,
            target_on="kconnect",
            note=note,
        ),
        compare_report.Comparison(
            "rebalance_moved_down",
            "a worker joins: longest time a moved task was not running",
            "s",
            "rebalance",
            *gaps,
            higher_is_better=False,
            note=note,
        ),
    ]


def measure_resources(
    s: Session, source_runs: Mapping[str, Sequence[RunResult]], startups: int
) -> list[compare_report.Comparison]:
    window = QUICK_IDLE_WINDOW_S if s.quick else IDLE_WINDOW_S
    starts: dict[RuntimeName, list[float]] = {"kconnect": [], "java": []}
    rss: dict[RuntimeName, list[float]] = {"kconnect": [], "java": []}
    cpu: dict[RuntimeName, list[float]] = {"kconnect": [], "java": []}
    for i, runtime in alternating(startups):
        r = s.bench.startup_run(s.start(runtime), window)
        log(
            f"start-up {runtime} {i + 1}/{startups}: {r.seconds:.2f} s, idle RSS "
            f"{r.idle_rss / MIB:.1f} MiB, idle CPU {r.idle_cpu_seconds:.3f} s in {window:.0f} s"
        )
        starts[runtime].append(r.seconds)
        rss[runtime].append(r.idle_rss / MIB)
        cpu[runtime].append(r.idle_cpu_seconds / window * 60)
    idle_note = (
        "One standalone worker with one FileStreamSource on an empty file, started with no other "
        "load; start-up runs from the process's start to the first status poll (every 10 ms) "
        "showing the connector and task RUNNING. 3 s later its RSS is read from /proc, then the "
        f"CPU it uses over {window:.0f} s, scaled to a minute."
    )
    load_note = (
        "During workload 1 (FileStreamSource → topic, StringConverter): the worker's largest RSS "
        "seen while it ran, and its CPU seconds (all threads, user + system) from RUNNING until "
        "the last record was acknowledged."
    )

    def of(get: Callable[[RunResult], float]) -> tuple[tuple[float, ...], tuple[float, ...]]:
        return (
            tuple(get(r) for r in source_runs["kconnect"]),
            tuple(get(r) for r in source_runs["java"]),
        )

    def both(runs: dict[RuntimeName, list[float]]) -> tuple[tuple[float, ...], tuple[float, ...]]:
        return tuple(runs["kconnect"]), tuple(runs["java"])

    rows: list[
        tuple[str, str, str, tuple[tuple[float, ...], tuple[float, ...]], str, Target | None]
    ]
    rows = [
        (
            "startup",
            "process start → connector and task RUNNING",
            "s",
            both(starts),
            idle_note,
            STARTUP_TARGET,
        ),
        (
            "idle_rss",
            "RSS of an idle worker (one idle FileStreamSource)",
            "MiB",
            both(rss),
            idle_note,
            MEMORY_TARGET,
        ),
        ("idle_cpu", "CPU of an idle worker, per minute", "CPU s", both(cpu), idle_note, None),
        (
            "load_rss",
            "largest RSS during workload 1",
            "MiB",
            of(lambda r: r.max_rss / MIB),
            load_note,
            None,
        ),
        (
            "load_cpu",
            f"CPU seconds for workload 1 ({s.records:,} records)",
            "CPU s",
            of(lambda r: r.cpu_seconds),
            load_note,
            None,
        ),
    ]
    return [
        compare_report.Comparison(
            name, label, unit, "resources", *runs, higher_is_better=False, target=target, note=note
        )
        for name, label, unit, runs, note, target in rows
    ]


def java_version() -> str:
    try:
        out = subprocess.run(
            [kafka.java_executable(), "-version"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    first = (out.stderr or out.stdout).splitlines()
    return first[0].strip() if first else "unknown"


def versions() -> dict[str, str]:
    return {
        "kconnect": machine()["kconnect commit"],
        "Apache Kafka Connect (Java runtime)": javaconnect.connect_version(),
        "Java": java_version(),
        "JVM options (Kafka's connect-*.sh defaults)": " ".join(javaconnect.JVM_OPTIONS),
        "Kafka broker": kafka.kafka_version(),
        "confluent-kafka / librdkafka": (
            f"{importlib.metadata.version('confluent-kafka')} / {confluent_kafka.libversion()[0]}"
        ),
    }


def settings(records: int, repeat: int, startups: int) -> dict[str, str]:
    def keys(m: Mapping[str, str]) -> str:
        return ", ".join(f"`{k}={v}`" for k, v in m.items())

    return {
        "records per throughput run": f"{records:,}",
        "runs per figure": (
            f"{repeat} per runtime, alternating which runtime goes first; "
            f"{startups} start-up{'s' if startups > 1 else ''}"
        ),
        "source input": f"a file of {records:,} lines of {LINE_BYTES} bytes (newline included)",
        "sink inputs": (
            f"a topic of {records:,} {LINE_BYTES - 1}-byte strings; a topic of {records:,} "
            "JsonConverter envelopes of a 4-field struct (~100-byte payload)"
        ),
        "topics": "1 partition (6 in distributed runs), replication 1, one local KRaft broker",
        "worker": (
            f"standalone, `offset.flush.interval.ms` {SOURCE_FLUSH_MS} (source) / {SINK_FLUSH_MS} "
            "(sink), `key.converter` = `value.converter`, `schemas.enable=true`; every other key "
            "at its default in each runtime"
        ),
        "source transforms": keys(SOURCE_TRANSFORMS),
        "sink transforms": keys(SINK_TRANSFORMS),
        "tuned failover": "; ".join(f"{rt}: {keys(m)}" for rt, m in TUNED_FAILOVER.items()),
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.compare", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"{QUICK_RECORDS:,} records, one run of each workload per runtime",
    )
    parser.add_argument("--records", type=int, default=None, help="records per throughput run")
    parser.add_argument("--repeat", type=int, default=None, help="runs per workload and runtime")
    parser.add_argument(
        "--timeout", type=float, default=600.0, help="seconds allowed for each single run"
    )
    parser.add_argument(
        "--only",
        default="",
        metavar="NAME[,NAME]",
        help="measure only these throughput workloads and print them; writes nothing "
        f"(names: {', '.join(w.name for w in THROUGHPUT)})",
    )
    parser.add_argument(
        "--update",
        action="store_true",
        help="with --only: put these workloads' new figures into latest.json and the docs "
        "section in place of the last full run's, noting the commit they were measured at",
    )
    parser.add_argument(
        "--listener",
        choices=listeners.CHOICES,
        default=None,
        help="measure the throughput workloads (--only, default "
        f"{','.join(listeners.DEFAULT_WORKLOADS)}) on a secured broker over its PLAINTEXT "
        "listener and over this one (SCRAM-SHA-512 over TLS), both runtimes; prints them, and "
        "with --update puts them into their own docs section",
    )
    parser.add_argument(
        "--light-java",
        action="store_true",
        help="Java workers with C1 only and the serial collector: half the CPU to start, for "
        "runs that check the harness, not Java's speed (not with --update)",
    )
    parser.add_argument(
        "--replot",
        action="store_true",
        help="measure nothing: draw the docs section and plots again from latest.json",
    )
    args = parser.parse_args(argv)
    if args.records is None:
        args.records = QUICK_RECORDS if args.quick else DEFAULT_RECORDS
    if args.repeat is None:
        args.repeat = 1 if args.quick else 3
    if args.records <= 0 or args.repeat <= 0:
        parser.error("expected a positive number of records and of repeats")
    names = {w.name: w for w in THROUGHPUT}
    wanted = [n for n in args.only.split(",") if n]
    if args.listener and not wanted:
        wanted = list(listeners.DEFAULT_WORKLOADS)
    if args.update and (not wanted or args.quick or args.light_java):
        parser.error(
            "--update takes --only NAME[,NAME] and full runs (not --quick or --light-java)"
        )
    unknown = [n for n in wanted if n not in names]
    if unknown:
        parser.error(f"unknown workload {', '.join(unknown)}; expected one of {', '.join(names)}")
    args.only = [names[n] for n in wanted]
    return args


def _sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _last_run() -> tuple[list[compare_report.Comparison], dict[str, Any]] | None:
    """`latest.json`'s last side-by-side run: its comparisons and its run description; None,
    with the reason on stderr, when there is none."""
    shorts = {w.name: w.short for w in THROUGHPUT} | {
        f"failover_{k}": v for k, v in FAILOVER_SHORT.items()
    }
    try:
        data = json.loads(RESULTS.read_text())
        comparisons = [
            compare_report.comparison_from_json(name, obj, shorts.get(name, ""))
            for name, obj in data["workloads"].items()
        ]
        run = dict(data["side_by_side"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        print(
            f"bench-java: {RESULTS.relative_to(REPO)} holds no side-by-side run to draw "
            f"({type(e).__name__}: {e}); expected the `workloads` and `side_by_side` keys that "
            "`make bench-java` writes",
            file=sys.stderr,
        )
        return None
    return comparisons, run


def replot(fresh: Sequence[compare_report.Comparison] = (), note: str = "") -> int:
    """The docs section and plots drawn again from `latest.json`'s last side-by-side run, with
    `fresh` comparisons in place of those of the same names and `note` among the settings. A
    fresh throughput workload the last run did not have (one added since) goes in after the
    last throughput row."""
    last = _last_run()
    if last is None:
        return 1
    comparisons, run = last
    by_name = {c.name: c for c in fresh}
    known = {c.name for c in comparisons}
    throughput = {w.name for w in THROUGHPUT}
    added = [c for c in fresh if c.name not in known]
    unknown = [c.name for c in added if c.name not in throughput]
    if unknown:
        print(f"bench-java: the last run has no {', '.join(unknown)} to replace", file=sys.stderr)
        return 1
    comparisons = [by_name.get(c.name, c) for c in comparisons]
    at = max((i + 1 for i, c in enumerate(comparisons) if c.name in throughput), default=0)
    comparisons[at:at] = added
    settings_ = dict(run["settings"])
    if note:
        # Earlier re-measurements stay named: a row they changed keeps its figures.
        earlier = str(settings_.get("re-measured", "")).removesuffix(
            "; every other row is from the full run"
        )
        settings_["re-measured"] = (
            "; ".join([note, *([f"before that, {earlier}"] if earlier else [])])
            + "; every other row is from the full run"
        )
    written = compare_report.write_outputs(
        comparisons,
        run["machine"],
        run["versions"],
        settings_,
        bool(run["quick"]),
        doc=DOC,
        results=RESULTS,
        images=IMAGES,
    )
    for path in written.values():
        log(f"wrote {path.relative_to(REPO)}")
    return 0


def _summary(c: compare_report.Comparison) -> str:
    ratio = "—" if c.ratio is None else f"{c.ratio:.2f}×"
    met = "" if c.met is None else ("  (target met)" if c.met else "  (TARGET MISSED)")
    k, j = c.median("kconnect"), c.median("java")
    return (
        f"kconnect {'not run' if k is None else fmt_number(k)} / "
        f"Java {'not run' if j is None else fmt_number(j)} {c.unit}, "
        f"kconnect advantage {ratio}{met}"
    )


def _java_options(args: argparse.Namespace) -> tuple[str, ...]:
    return javaconnect.LIGHT_JVM_OPTIONS if args.light_java else javaconnect.JVM_OPTIONS


def _measure_listeners(args: argparse.Namespace, libs: Path) -> int:
    """``--listener``: the workloads over PLAINTEXT and the secured listener (bench.listeners)."""
    with private_secured_broker("kconnect-bench-listener-", args.timeout, log) as (
        broker,
        bench,
        dist,
    ):
        starters: dict[RuntimeName, WorkerFactory] = {
            "kconnect": WorkerProcess,
            "java": functools.partial(
                javaconnect.JavaWorker, libs=libs, jvm_options=_java_options(args)
            ),
        }
        log(
            f"secured broker: PLAINTEXT {broker.plaintext_bootstrap}, SASL_SSL "
            f"{broker.bootstrap('SASL_SSL')}; {args.records:,} records per run, {args.repeat} "
            "run(s) per runtime and listener"
        )
        # No reference to the session outlives the block: its clients close before the broker.
        rows = listeners.measure(
            Session(bench, dist, starters, args.records, args.repeat, args.quick),
            args.only,
            broker,
            log,
        )
    for line_ in listeners.table(rows):
        print(line_)
    if args.update:
        when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        settings_ = listeners.settings(
            args.records, args.repeat, machine()["kconnect commit"], when
        )
        for path in listeners.write(rows, settings_, doc=DOC, results=RESULTS):
            log(f"wrote {path.relative_to(REPO)}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.replot:
        return replot()
    startups = 1 if args.quick else 3
    if args.light_java:
        log("Java workers run with C1 only and the serial collector: their figures are not Java's")
    signal.signal(signal.SIGTERM, _sigterm)
    began = time.monotonic()
    try:
        libs = javaconnect.fetch()
        if args.listener:
            return _measure_listeners(args, libs)
        with (
            private_broker("kconnect-bench-java-", args.timeout, log) as (bootstrap, bench, dist),
            contextlib.ExitStack() as stack,
        ):
            starters: dict[RuntimeName, WorkerFactory] = {
                "kconnect": WorkerProcess,
                "java": functools.partial(
                    javaconnect.JavaWorker,
                    libs=libs,
                    extra_libs=[javaconverter.fetch().libs],
                    jvm_options=_java_options(args),
                ),
            }
            session = Session(bench, dist, starters, args.records, args.repeat, args.quick)
            log(
                f"broker at {bootstrap}; {args.records:,} records per run, "
                f"{args.repeat} run(s) per runtime"
            )
            fresh: list[compare_report.Comparison] = []
            comparisons: list[compare_report.Comparison] = []
            # The session's registry stops before its broker.
            stack.enter_context(session.services)
            if args.only:
                fresh = measure_throughput(session, args.only)[0]
                for c in fresh:
                    log(f"  {c.name}: {_summary(c)}")
                if not args.update:
                    return 0
            else:
                throughput, source_runs = measure_throughput(session)
                comparisons = [
                    *throughput,
                    *measure_failover(session),
                    *measure_rebalance(session),
                    *measure_resources(session, source_runs, startups),
                ]
        if fresh:
            when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
            note = (
                f"{', '.join(c.name for c in fresh)}: measured again at kconnect "
                f"{machine()['kconnect commit']} on {when} ({args.records:,} records, "
                f"{args.repeat} runs per runtime)"
            )
            return replot(fresh, note)
        written = compare_report.write_outputs(
            comparisons,
            machine(),
            versions(),
            settings(args.records, args.repeat, startups),
            args.quick,
            doc=DOC,
            results=RESULTS,
            images=IMAGES,
        )
        for path in written.values():
            log(f"wrote {path.relative_to(REPO)}")
        for c in comparisons:
            log(f"  {c.name}: {_summary(c)}")
        log(f"done in {time.monotonic() - began:.0f} s")
        return 0
    except HarnessError as e:
        print(f"bench-java: cannot measure: {e}", file=sys.stderr)
        return 1
    except (kafka.KafkaServiceError, confluent_kafka.KafkaException) as e:
        print(f"bench-java: Kafka: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bench-java: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
