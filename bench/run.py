"""``make bench``: start a private broker, run every measurement in turn, write the report.

Order of a session: start-up and idle memory first (nothing else runs), then for each converter the
source runs (each fills a fresh topic with N records), then the sink runs, each reading one of the
topics its converter's source runs filled; then the distributed-mode runs (failover with default
and with tuned group timeouts, a worker joining, and six tasks on one worker and on three). Runs
are strictly sequential, so the workers under test share the machine only with the broker and this
harness's light polling.

Exit status: 0 when every figure was measured, whether or not it met its target; 1 when the
harness could not measure (a worker died, a wait timed out, the broker did not start), after
printing why and the worker's log tail. The broker and every worker are stopped on every path.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import os
import platform
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

import confluent_kafka

from bench import k8s
from bench.distributed import FAILOVER_POLL_S, FAILOVER_RATE, SETTLE_S, TASKS, TUNED, Distributed
from bench.measure import JSON, SINK_FLUSH_MS, SOURCE_FLUSH_MS, STRING, Bench, RunResult
from bench.procs import HarnessError
from bench.report import (
    Measurement,
    Target,
    merge_json,
    preserved_notes,
    render_page,
    results_json,
)
from bench.session import private_broker, private_registry
from kconnect_devenv import kafka, lifecycle

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "benchmarks.md"
RESULTS = REPO / "bench" / "results" / "latest.json"

DEFAULT_RECORDS = 1_000_000
QUICK_RECORDS = 200_000
MIB = 1024 * 1024
RATE_TARGET = Target("min", 150_000)
IDLE_RSS_TARGET = Target("max", 80)
STARTUP_TARGET = Target("max", 2.0)
AVRO = "io.confluent.connect.avro.AvroConverter"
AVRO_VS_JSON_TARGET = Target("min", 1.0)
"""An Avro task moves records at least as fast as the same task with JsonConverter."""
DIST_RECORDS = 600_000
"""Records per distributed throughput run, scaled like the standalone runs by --records/--quick."""
FAILOVER_TARGET = Target("max", 15.0)
EXTRA_RESTARTS_TARGET = Target("eq", 0)


def _smt(inserted_field: str) -> dict[str, str]:
    return {
        "transforms": "insert,mask",
        "transforms.insert.type": "org.apache.kafka.connect.transforms.InsertField$Value",
        "transforms.insert.static.field": inserted_field,
        "transforms.insert.static.value": "bench",
        "transforms.mask.type": "org.apache.kafka.connect.transforms.MaskField$Value",
        "transforms.mask.fields": "email",
        "errors.tolerance": "all",
    }


# Two transforms and error tolerance, as a real pipeline configures them, measured against none.
# The sink inserts a field of its own: the source's is already in the records it reads.
SMT_SOURCE = _smt("origin")
SMT_SINK = _smt("loaded_by")


def dlq_keys(topic: str) -> dict[str, str]:
    return {
        "errors.deadletterqueue.topic.name": topic,
        "errors.deadletterqueue.topic.replication.factor": "1",
        "errors.deadletterqueue.context.headers.enable": "true",
    }


CONVERTERS = (
    ("string", "StringConverter", STRING),
    ("json", "JsonConverter (schemas.enable=true)", JSON),
)


# --- machine description ------------------------------------------------------------------------


def _proc_field(path: str, key: str) -> str:
    try:
        with open(path) as f:
            for line in f:
                name, _, value = line.partition(":")
                if name.strip() == key:
                    return value.strip()
    except OSError:
        pass
    return "unknown"


def _git(*args: str) -> str:
    try:
        out = subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip()


def machine() -> dict[str, str]:
    mem_kb = _proc_field("/proc/meminfo", "MemTotal").split()[0]
    commit = _git("rev-parse", "--short", "HEAD")
    dirty = " (with uncommitted changes)" if _git("status", "--porcelain") else ""
    return {
        "CPU": _proc_field("/proc/cpuinfo", "model name"),
        "cores": str(os.cpu_count()),
        "RAM": f"{int(mem_kb) / MIB:.1f} GiB" if mem_kb.isdigit() else "unknown",
        "OS": f"{platform.system()} {platform.release()}",
        "Python": platform.python_version(),
        "confluent-kafka": importlib.metadata.version("confluent-kafka"),
        "librdkafka": confluent_kafka.libversion()[0],
        "Kafka broker": kafka.kafka_version(),
        "kconnect commit": f"{commit}{dirty}" if commit else "unknown",
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


# --- the session --------------------------------------------------------------------------------


def _sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def describe(r: RunResult) -> str:
    return (
        f"{r.rate:,.0f} records/s ({r.seconds:.2f} s, "
        f"first record after {r.first_output_s:.2f} s, "
        f"CPU {r.cpu_seconds:.2f} s, max RSS {r.max_rss / MIB:.1f} MiB)"
    )


def avro_keys(registry_url: str) -> dict[str, str]:
    """A connector's keys for AvroConverter keys and values through the registry at `url`."""
    return {
        "key.converter": AVRO,
        "key.converter.schema.registry.url": registry_url,
        "value.converter": AVRO,
        "value.converter.schema.registry.url": registry_url,
    }


def measure_all(
    bench: Bench, records: int, repeat: int, startups: int, registry_url: str
) -> list[Measurement]:
    out: list[Measurement] = []

    startup = []
    for i in range(startups):
        r = bench.startup_run()
        log(f"start-up {i + 1}/{startups}: {r.seconds:.3f} s, idle RSS {r.idle_rss / MIB:.1f} MiB")
        startup.append(r)

    by_name: dict[str, list[RunResult]] = {}
    for key, label, converter in CONVERTERS:
        topics = []
        for i in range(repeat):
            topic = bench.fresh(f"bench-{key}")
            src = bench.source_run(converter, records, topic)
            topics.append(topic)
            by_name.setdefault(f"source_{key}", []).append(src)
            log(f"source {label} {i + 1}/{repeat}: {describe(src)}")
        for i, topic in enumerate(topics):
            sink = bench.sink_run(converter, records, topic)
            by_name.setdefault(f"sink_{key}", []).append(sink)
            log(f"sink {label} {i + 1}/{repeat}: {describe(sink)}")
        for topic in topics:
            bench.delete_topic(topic)

    # The cost of a real pipeline's extras: two transforms, errors.tolerance=all and (sinks) a
    # dead-letter queue, against the same structured records without them.
    # And the same records through AvroConverter and the Schema Registry (a connector override of
    # both converters), against JsonConverter.
    avro = avro_keys(registry_url)
    for variant, extra in (("plain", {}), ("smt", SMT_SOURCE), ("avro", avro)):
        for i in range(repeat):
            topic = bench.fresh(f"bench-users-{variant}")
            src = bench.source_run(JSON, records, topic, schema="users", extra=extra)
            by_name.setdefault(f"source_users_{variant}", []).append(src)
            log(f"source users {variant} {i + 1}/{repeat}: {describe(src)}")
            sink_extra = {
                "plain": {},
                "smt": {**SMT_SINK, **dlq_keys(bench.fresh("dlq"))},
                "avro": avro,
            }[variant]
            sink = bench.sink_run(JSON, records, topic, extra=sink_extra)
            by_name.setdefault(f"sink_users_{variant}", []).append(sink)
            log(f"sink users {variant} {i + 1}/{repeat}: {describe(sink)}")
            bench.delete_topic(topic)

    json_note = (
        "JsonConverter rows, both directions: schemas.enable=true for keys and values; the value "
        "is the same "
        "~100-byte text line, inside the schema/payload envelope (~150 bytes on the wire)."
    )
    sink_note = (
        "Timed until the output file holds every line. FileStreamSink writes through a buffer that "
        f"is flushed on commit, so the sink runs use offset.flush.interval.ms={SINK_FLUSH_MS}; "
        "the figure includes up to one flush interval of wait at the end."
    )
    for key, label, _ in CONVERTERS:
        target = RATE_TARGET if key == "string" else None
        out.append(
            Measurement(
                f"source_{key}_rate",
                f"source task, DataGen → topic, {label}",
                "records/s",
                tuple(r.rate for r in by_name[f"source_{key}"]),
                target,
                json_note if key == "json" else "",
            )
        )
        out.append(
            Measurement(
                f"sink_{key}_rate",
                f"sink task, topic → FileStreamSink, {label}",
                "records/s",
                tuple(r.rate for r in by_name[f"sink_{key}"]),
                target,
                sink_note,
            )
        )
    smt_note = (
        "DataGen `users` records (8-field structs) with JsonConverter (schemas.enable=true). "
        "'with SMTs' adds InsertField$Value (static.field) and MaskField$Value (email) and "
        "errors.tolerance=all; the sink also writes a dead-letter queue (context headers on). "
        "No record fails, so the queue stays empty: this is the cost of having it configured."
    )
    avro_note = (
        "The same `users` records with `key.converter` and `value.converter` = "
        "io.confluent.connect.avro.AvroConverter (a connector override) and the session's own "
        "Schema Registry (Apicurio, make registry-fetch): Confluent's wire format, one schema "
        "registration per run, then none per record."
    )
    for direction, label in (("source", "DataGen → topic"), ("sink", "topic → FileStreamSink")):
        for variant, title in (("plain", "plain"), ("smt", "with 2 SMTs + error handling")):
            dlq = " + DLQ" if direction == "sink" and variant == "smt" else ""
            out.append(
                Measurement(
                    f"{direction}_users_{variant}_rate",
                    f"{direction} task, {label}, users JSON, {title}{dlq}",
                    "records/s",
                    tuple(r.rate for r in by_name[f"{direction}_users_{variant}"]),
                    None,
                    smt_note if variant == "smt" else "",
                )
            )
        avro_runs = by_name[f"{direction}_users_avro"]
        json_runs = by_name[f"{direction}_users_plain"]
        out.append(
            Measurement(
                f"{direction}_users_avro_rate",
                f"{direction} task, {label}, users Avro (Schema Registry)",
                "records/s",
                tuple(r.rate for r in avro_runs),
                None,
                avro_note,
            )
        )
        out.append(
            Measurement(
                f"{direction}_users_avro_vs_json",
                f"{direction} task, users: Avro rate ÷ JsonConverter rate (run by run)",
                "×",
                tuple(a.rate / j.rate for a, j in zip(avro_runs, json_runs, strict=True)),
                AVRO_VS_JSON_TARGET,
            )
        )
    out.append(
        Measurement(
            "idle_rss",
            "worker RSS, idle (REST up, one idle FileStreamSource)",
            "MiB",
            tuple(r.idle_rss / MIB for r in startup),
            IDLE_RSS_TARGET,
        )
    )
    out.append(
        Measurement(
            "load_rss",
            "worker RSS, max during source runs (StringConverter)",
            "MiB",
            tuple(r.max_rss / MIB for r in by_name["source_string"]),
        )
    )
    out.append(
        Measurement(
            "startup",
            "start-up: Popen to connector and task RUNNING",
            "s",
            tuple(r.seconds for r in startup),
            STARTUP_TARGET,
        )
    )
    for key, label, _ in CONVERTERS:
        for direction in ("source", "sink"):
            out.append(
                Measurement(
                    f"{direction}_{key}_cpu",
                    f"worker CPU per million records, {direction}, {label}",
                    "CPU s",
                    tuple(r.cpu_per_million for r in by_name[f"{direction}_{key}"]),
                )
            )
    return out


def measure_distributed(dist: Distributed, records: int, repeat: int) -> list[Measurement]:
    out: list[Measurement] = []
    failover_note = (
        f"3 workers, one DataGen with tasks.max={TASKS} at {FAILOVER_RATE} records/s in total. "
        "The worker running the most tasks is killed with SIGKILL; the time runs from the kill to "
        f"the first status poll (every {FAILOVER_POLL_S * 1000:.0f} ms, to a surviving worker) "
        "showing every task RUNNING on the other two. The group only notices the dead member "
        "after session.timeout.ms, so that timeout is most of the figure."
    )
    for key, extra, label in (
        ("default", {}, "session.timeout.ms=10000, heartbeat.interval.ms=3000 (defaults)"),
        ("tuned", TUNED, "session.timeout.ms=6000, heartbeat.interval.ms=1000"),
    ):
        runs = []
        for i in range(repeat):
            seconds = dist.failover_run(extra).seconds
            log(f"failover {key} {i + 1}/{repeat}: {seconds:.2f} s")
            runs.append(seconds)
        out.append(
            Measurement(
                f"failover_{key}",
                f"distributed failover: worker killed → all tasks RUNNING elsewhere, {label}",
                "s",
                tuple(runs),
                FAILOVER_TARGET if key == "default" else None,
                failover_note,
            )
        )

    rebalances = []
    for i in range(repeat):
        r = dist.rebalance_run()
        gap = "n/a" if r.max_gap_s is None else f"{r.max_gap_s:.2f} s"
        log(
            f"rebalance {i + 1}/{repeat}: {r.restarted} restarted, {r.moved} moved, "
            f"moved tasks down at most {gap}, settled after {r.settle_s:.1f} s"
        )
        rebalances.append(r)
    rebalance_note = (
        f"2 workers run one DataGen with tasks.max={TASKS}; a 3rd worker starts. Once every task "
        f"is RUNNING and no owner has changed for {SETTLE_S:.0f} s, task starts are counted in all "
        "three worker logs (`starting task ...`) beyond those before the 3rd worker started; "
        "moved = tasks the new worker runs. Down time of a moved task: from the "
        "`stopping tasks ...` log line on its old owner to `starting task ...` on the new one."
    )
    out.append(
        Measurement(
            "rebalance_restarted",
            "worker joins: tasks restarted",
            "tasks",
            tuple(float(r.restarted) for r in rebalances),
            None,
            rebalance_note,
        )
    )
    out.append(
        Measurement(
            "rebalance_moved",
            "worker joins: tasks moved to the new worker",
            "tasks",
            tuple(float(r.moved) for r in rebalances),
            None,
            rebalance_note,
        )
    )
    out.append(
        Measurement(
            "rebalance_extra_restarts",
            "worker joins: tasks restarted but not moved (restarted minus moved)",
            "tasks",
            tuple(float(r.restarted - r.moved) for r in rebalances),
            EXTRA_RESTARTS_TARGET,
            rebalance_note,
        )
    )
    gaps = tuple(r.max_gap_s for r in rebalances if r.max_gap_s is not None)
    if gaps:
        out.append(
            Measurement(
                "rebalance_moved_task_down",
                "worker joins: longest time a moved task was not running",
                "s",
                gaps,
                None,
                rebalance_note,
            )
        )

    rate_note = (
        f"One DataGen (schema=text, tasks.max={TASKS}, {records:,} records, StringConverter) into "
        f"a {TASKS}-partition topic, timed from every task RUNNING until the partitions' "
        "high-water marks sum to the total. Every worker and the broker share this machine's "
        f"{os.cpu_count()} cores, so 3 workers cannot go faster than those CPUs allow: the rows "
        "compare one process with three on the same CPUs, not one machine with three."
    )
    for workers in (1, 3):
        runs = []
        for i in range(repeat):
            rate = dist.throughput_run(workers, records)
            log(
                f"{workers} worker(s), {TASKS} tasks {i + 1}/{repeat}: "
                f"{rate.rate:,.0f} records/s ({rate.seconds:.2f} s)"
            )
            runs.append(rate.rate)
        out.append(
            Measurement(
                f"distributed_rate_{workers}w",
                f"distributed, {workers} worker{'s' if workers > 1 else ''}, {TASKS} tasks, "
                "DataGen → topic, StringConverter",
                "records/s",
                tuple(runs),
                None,
                rate_note,
            )
        )
    return out


def measure_k8s(repeat: int) -> list[Measurement]:
    note = (
        "The project's control plane (etcd, kube-apiserver, kube-controller-manager built from "
        "Go modules) with its binaries built; apply → Ready runs the real node (containerd, "
        "kubelet, kube-proxy, scheduler, CoreDNS) with the images built from the checkout and the "
        "operator installed from the Helm chart, and times a KafkaConnector (DataGen, 2 worker "
        "pods, 2 tasks) from "
        "`kubectl apply` until its Ready condition is True: both worker pods started and ready, "
        "the config sent over REST, both tasks RUNNING."
    )
    return [
        Measurement(
            "k8s_control_plane_start",
            "make cluster-up, binaries built: start until the API answers and controllers work",
            "s",
            tuple(k8s.control_plane_starts(repeat, log)),
            None,
            note,
        ),
        Measurement(
            "k8s_apply_to_ready",
            "kubectl apply → KafkaConnector Ready (2 worker pods, 2 tasks)",
            "s",
            tuple(k8s.apply_to_ready(repeat, log)),
            None,
            note,
        ),
    ]


def write_report(measurements: Sequence[Measurement], setup: dict[str, str]) -> None:
    info = machine()
    existing = DOC.read_text() if DOC.exists() else None
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(render_page(measurements, info, setup, preserved_notes(existing)))
    # Keys this run does not own (the side-by-side workloads of `make bench-java`) are kept.
    merge_json(RESULTS, results_json(measurements, info, setup))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--records",
        type=int,
        default=None,
        help=f"records per throughput run (default $BENCH_RECORDS or {DEFAULT_RECORDS:,})",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"{QUICK_RECORDS:,} records, one run of each measurement",
    )
    parser.add_argument(
        "--timeout", type=float, default=600.0, help="seconds allowed for each single run"
    )
    args = parser.parse_args(argv)
    if args.records is None:
        env = os.environ.get("BENCH_RECORDS", "")
        args.records = int(env) if env else (QUICK_RECORDS if args.quick else DEFAULT_RECORDS)
    if args.records <= 0:
        parser.error(f"--records={args.records}: expected a positive number of records")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    repeat, startups = (1, 1) if args.quick else (3, 5)
    signal.signal(signal.SIGTERM, _sigterm)
    try:
        with (
            private_broker("kconnect-bench-", args.timeout, log) as (bootstrap, bench, dist),
            private_registry(bootstrap, log) as registry_url,
        ):
            log(f"broker at {bootstrap}; {args.records:,} records per run, {repeat} run(s) each")
            measurements = measure_all(bench, args.records, repeat, startups, registry_url)
            dist_records = max(TASKS, DIST_RECORDS * args.records // DEFAULT_RECORDS)
            measurements += measure_distributed(dist, dist_records, repeat)
            measurements += measure_k8s(repeat)
        setup = {
            "records per throughput run": f"{args.records:,}",
            "runs per figure": f"{repeat} throughput, {startups} start-up",
            "record": "DataGen schema=text: a ~100-byte STRING line, STRING key",
            "topics": "1 partition, replication 1, on a local single-node KRaft broker",
            "source end": "topic high-water mark reaches N (all records acknowledged)",
            "sink end": "output file holds N lines",
            "offset.flush.interval.ms": f"source {SOURCE_FLUSH_MS}, sink {SINK_FLUSH_MS}",
            "distributed runs": (
                f"kconnect distributed workers, one private group each; DataGen tasks.max={TASKS} "
                f"into a {TASKS}-partition topic; {dist_records:,} records per throughput run"
            ),
        }
        write_report(measurements, setup)
        log(f"wrote {DOC.relative_to(REPO)} and {RESULTS.relative_to(REPO)}")
        for m in measurements:
            met = "" if m.met is None else ("  (target met)" if m.met else "  (TARGET MISSED)")
            log(f"  {m.label}: {m.value:,.3f} {m.unit}{met}")
        return 0
    except HarnessError as e:
        print(f"bench: cannot measure: {e}", file=sys.stderr)
        return 1
    except (kafka.KafkaServiceError, confluent_kafka.KafkaException) as e:
        print(f"bench: Kafka: {e}", file=sys.stderr)
        return 1
    except (lifecycle.ServiceError, AssertionError) as e:
        print(f"bench: Kubernetes: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
