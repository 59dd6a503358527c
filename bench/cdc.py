"""PostgreSQL pipelines measured: kconnect's ``PostgresCdcSource`` beside Debezium's
``PostgresConnector`` in Apache Kafka Connect's Java runtime, and ``JdbcSink``'s batched upserts.

``python -m bench.cdc [--changes N] [--repeat R] [--update]`` (``make bench-cdc``; ``make bench``
and ``make bench-java`` end with it) starts a private broker and a private PostgreSQL server
(:mod:`kconnect_devenv.postgres`) and measures:

1. **Change events per second, one task** (``cdc_source``). A table ``bench_orders`` (a bigint
   primary key, an integer, two texts, a ``numeric(12,2)``, a ``timestamptz``) gets N changes
   after one replication slot per run was made: N/2 inserts, then an update of every row, in
   transactions of :data:`LOAD_TRANSACTION_ROWS` rows. Each run starts a fresh worker whose
   connector (the same config for both runtimes, under Debezium's class name, which kconnect
   resolves to ``PostgresCdcSource``; ``snapshot.mode=no_data``; JsonConverter with schemas)
   streams its own slot, so every run decodes the same WAL. Timed from the first status poll that
   shows the task RUNNING until the topic's high-water mark reaches N.
2. **Commit-to-record lag** (``cdc_lag_p50``, ``cdc_lag_p99``). With a connector streaming, a
   writer commits :data:`LAG_RATE` single-row transactions a second into ``bench_lag`` for
   :data:`LAG_SECONDS` s; a consumer notes when each record arrives and subtracts the record's
   ``source.ts_ms`` (the transaction's commit time, which both runtimes put there). Both use their
   default ``poll.interval.ms`` and producer settings.
3. **Rows per second into an indexed table** (``jdbc_sink_upsert``, kconnect only: the Java
   reference, Confluent's JDBC sink, is not on Maven Central). A topic of N JSON records
   (key struct ``{id}``, a five-field value) is upserted by ``JdbcSink``
   (``insert.mode=upsert``, ``pk.mode=record_key``) into a table with a primary key and a
   secondary index; the second half of the records updates the rows the first half inserted.
   Timed from RUNNING until every row holds its second version.

Invariants:

- **Alternating, repeated**, as in :mod:`bench.compare`: the runtimes take turns, their order
  flipping on each repeat.
- **Nothing is counted that the measurement did not see arrive**: a source run must end with
  exactly N records on its topic; a sink run with exactly N/2 rows, each at its second version.
- **Every server and worker is stopped on every path**; a slot is dropped after its run, so no
  slot holds WAL back once the session ends.

``--update`` writes the figures into ``docs/benchmarks.md`` between :data:`SECTION_BEGIN` and
:data:`SECTION_END` and into ``bench/results/latest.json`` under :data:`RESULTS_KEY`.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Final

import confluent_kafka
import psycopg2
from confluent_kafka import Consumer, Producer

from bench import debezium, javaconnect
from bench.compare import RuntimeName, alternating
from bench.measure import JSON, SINK_FLUSH_MS, SOURCE_FLUSH_MS, STATUS_POLL_S, Bench
from bench.procs import HarnessError, WorkerProcess, cpu_seconds
from bench.report import merge_json, replace_span
from bench.run import machine
from bench.session import private_broker
from kconnect_devenv import kafka, postgres

REPO: Final = Path(__file__).resolve().parents[1]
DOC: Final = REPO / "docs" / "benchmarks.md"
RESULTS: Final = REPO / "bench" / "results" / "latest.json"
RESULTS_KEY: Final = "postgres"
SECTION_BEGIN: Final = "<!-- postgres:begin -->"
SECTION_END: Final = "<!-- postgres:end -->"

DEFAULT_CHANGES: Final = 400_000
QUICK_CHANGES: Final = 20_000
LOAD_TRANSACTION_ROWS: Final = 10_000
LAG_RATE: Final = 200
LAG_SECONDS: Final = 10.0
SINK_TARGET_ROWS_S: Final = 20_000.0
PUBLICATION: Final = "bench_publication"
SINK_TABLE: Final = "bench_sink"
ROW_POLL_S: Final = 0.25

ORDERS_DDL: Final = """
CREATE TABLE public.bench_orders (
    id bigint PRIMARY KEY,
    customer_id integer NOT NULL,
    status text NOT NULL,
    amount numeric(12, 2) NOT NULL,
    note text,
    created_at timestamptz NOT NULL DEFAULT now()
)"""
LAG_DDL: Final = "CREATE TABLE public.bench_lag (id bigint PRIMARY KEY, note text NOT NULL)"
SINK_DDL: Final = f"""
CREATE TABLE public.{SINK_TABLE} (
    id bigint PRIMARY KEY,
    customer_id integer NOT NULL,
    status text NOT NULL,
    amount double precision NOT NULL,
    version integer NOT NULL
);
CREATE INDEX {SINK_TABLE}_customer ON public.{SINK_TABLE} (customer_id)"""
COUNT_SINK_ROWS: Final = "SELECT count(*) FROM public.bench_sink"
INSERT_ORDERS: Final = """
INSERT INTO public.bench_orders (id, customer_id, status, amount, note)
SELECT i, i %% 1000, 'new', (i %% 100000) / 100.0, 'order ' || i || ' of the kconnect CDC benchmark'
FROM generate_series(%s, %s) AS i"""
UPDATE_ORDERS: Final = "UPDATE public.bench_orders SET status = 'paid' WHERE id BETWEEN %s AND %s"


def log(message: str) -> None:
    print(f"[bench-cdc {time.strftime('%H:%M:%S')}] {message}", flush=True)


def execute(database: postgres.Database, *statements: tuple[str, Sequence[object]]) -> None:
    """Run ``statements`` in one transaction of their own."""
    connection = psycopg2.connect(database.dsn, connect_timeout=10)
    try:
        with connection, connection.cursor() as cursor:
            for sql, params in statements:
                cursor.execute(sql, params)
    finally:
        connection.close()


def query_one(database: postgres.Database, sql: str, params: Sequence[object] = ()) -> object:
    connection = psycopg2.connect(database.dsn, connect_timeout=10)
    try:
        with connection, connection.cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
    finally:
        connection.close()
    return None if row is None else row[0]


@dataclasses.dataclass
class Run:
    """One measured run: its figure and what the worker spent on it."""

    value: float
    seconds: float
    cpu_seconds: float


@dataclasses.dataclass(frozen=True)
class Row:
    """One figure on both runtimes (``java`` empty where there is no Java reference)."""

    name: str
    label: str
    unit: str
    higher_is_better: bool
    kconnect: tuple[float, ...]
    java: tuple[float, ...] = ()
    target: str = ""

    def median(self, runtime: RuntimeName) -> float | None:
        runs = self.kconnect if runtime == "kconnect" else self.java
        return float(statistics.median(runs)) if runs else None

    def ratio(self) -> float | None:
        k, j = self.median("kconnect"), self.median("java")
        if k is None or j is None or k == 0 or j == 0:
            return None
        return k / j if self.higher_is_better else j / k

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "label": self.label,
            "unit": self.unit,
            "higher_is_better": self.higher_is_better,
            "kconnect": list(self.kconnect),
            "java": list(self.java),
            "target": self.target,
        }


class CdcSession:
    """The broker, the PostgreSQL server and its database, the worker starters."""

    def __init__(
        self,
        bench: Bench,
        database: postgres.Database,
        changes: int,
        repeat: int,
        plugins: Path,
    ) -> None:
        self.bench = bench
        self.database = database
        self.changes = changes - changes % 2
        self.repeat = repeat
        self.plugins = plugins

    # --- workers ---------------------------------------------------------------------------------

    def worker_props(self, runtime: RuntimeName, run: str, flush_ms: int) -> dict[str, str]:
        props = self.bench.worker_props(JSON, flush_ms, run)
        if runtime == "java":
            props["plugin.path"] = str(self.plugins)
        return props

    def start_worker(
        self, runtime: RuntimeName, run: str, props: Mapping[str, str], connector: Mapping[str, str]
    ) -> WorkerProcess:
        if runtime == "java":
            return javaconnect.JavaWorker(
                self.bench.workdir, run, props, [connector], libs=javaconnect.fetch()
            )
        return WorkerProcess(self.bench.workdir, run, props, [connector])

    def source_connector(self, run: str, slot: str, tables: str) -> dict[str, str]:
        return debezium.connector_config(
            self.database.connector_config(),
            topic_prefix=run,
            slot_name=slot,
            publication_name=PUBLICATION,
            overrides={
                "name": run,
                "publication.autocreate.mode": "disabled",
                "snapshot.mode": "no_data",
                "table.include.list": tables,
            },
        )

    # --- 1. change events per second -------------------------------------------------------------

    def load_changes(self, slots: Sequence[str]) -> None:
        """Make `slots` (each run's own), then the N changes every slot will stream."""
        execute(
            self.database,
            (ORDERS_DDL, ()),
            (LAG_DDL, ()),
            (
                f"CREATE PUBLICATION {PUBLICATION} FOR TABLE public.bench_orders, public.bench_lag",
                (),
            ),
        )
        for slot in slots:
            execute(
                self.database,
                ("SELECT pg_create_logical_replication_slot(%s, 'pgoutput')", (slot,)),
            )
        began = time.monotonic()
        rows = self.changes // 2
        for sql in (INSERT_ORDERS, UPDATE_ORDERS):
            for first in range(1, rows + 1, LOAD_TRANSACTION_ROWS):
                last = min(first + LOAD_TRANSACTION_ROWS - 1, rows)
                execute(self.database, (sql, (first, last)))
        log(
            f"made {self.changes:,} changes ({rows:,} inserts, {rows:,} updates) in "
            f"{time.monotonic() - began:.1f} s"
        )

    def source_run(self, runtime: RuntimeName, run: str, slot: str) -> Run:
        topic = f"{run}.public.bench_orders"
        self.bench.create_topic(topic)
        connector = self.source_connector(run, slot, "public.bench_orders")
        worker = self.start_worker(
            runtime, run, self.worker_props(runtime, run, SOURCE_FLUSH_MS), connector
        )
        try:
            result = self.bench.timed_source(worker, run, topic, self.changes)
        finally:
            self.bench.delete_topic(topic)
            self.drop_slot(slot)
        return Run(result.rate, result.seconds, result.cpu_seconds)

    def drop_slot(self, slot: str) -> None:
        deadline = time.monotonic() + 30
        while True:
            try:
                execute(self.database, ("SELECT pg_drop_replication_slot(%s)", (slot,)))
                return
            except psycopg2.errors.ObjectInUse:
                # The stopped worker's WAL sender has not ended yet.
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
            except psycopg2.errors.UndefinedObject:
                return

    # --- 2. commit-to-record lag -----------------------------------------------------------------

    def lag_run(self, runtime: RuntimeName, run: str, first_id: int) -> list[float]:
        """Milliseconds from each transaction's commit to its record reaching the consumer."""
        slot = f"{run.replace('-', '_')}_slot"
        topic = f"{run}.public.bench_lag"
        self.bench.create_topic(topic)
        connector = self.source_connector(run, slot, "public.bench_lag")
        worker = self.start_worker(
            runtime, run, self.worker_props(runtime, run, SOURCE_FLUSH_MS), connector
        )
        count = int(LAG_RATE * LAG_SECONDS)
        try:
            worker.wait_running(run, self.bench.timeout, STATUS_POLL_S)
            worker.wait_for(
                f"the slot {slot} to be in use",
                lambda: time.monotonic() if self._slot_active(slot) else None,
                self.bench.timeout,
                0.1,
            )
            consumer = Consumer(
                {
                    "bootstrap.servers": self.bench.bootstrap,
                    "group.id": f"{run}-reader",
                    "auto.offset.reset": "earliest",
                    "enable.auto.commit": False,
                    "fetch.wait.max.ms": 10,
                }
            )
            try:
                consumer.subscribe([topic])
                writer = threading.Thread(
                    target=self._write_lag_rows, args=(first_id, count), name="lag-writer"
                )
                writer.start()
                try:
                    return self._read_lags(worker, consumer, count)
                finally:
                    writer.join()
            finally:
                consumer.close()
        finally:
            worker.stop()
            self.bench.delete_topic(topic)
            self.drop_slot(slot)

    def _slot_active(self, slot: str) -> bool:
        return bool(
            query_one(
                self.database,
                "SELECT active FROM pg_replication_slots WHERE slot_name = %s",
                (slot,),
            )
        )

    def _write_lag_rows(self, first_id: int, count: int) -> None:
        connection = psycopg2.connect(self.database.dsn, connect_timeout=10)
        connection.autocommit = True
        try:
            with connection.cursor() as cursor:
                began = time.monotonic()
                for i in range(count):
                    due = began + i / LAG_RATE
                    delay = due - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                    cursor.execute(
                        "INSERT INTO public.bench_lag (id, note) VALUES (%s, %s)",
                        (first_id + i, f"lag probe {i}"),
                    )
        finally:
            connection.close()

    def _read_lags(self, worker: WorkerProcess, consumer: Consumer, count: int) -> list[float]:
        lags: list[float] = []
        deadline = time.monotonic() + LAG_SECONDS + self.bench.timeout
        while len(lags) < count:
            if time.monotonic() > deadline:
                raise worker.fail(f"only {len(lags)} of {count} lag probes arrived")
            worker.check_alive()
            message = consumer.poll(0.1)
            payload = None if message is None or message.error() is not None else message.value()
            if payload is None:
                continue
            arrived_ms = time.time() * 1000.0
            value = json.loads(payload)
            committed_ms = float(value["payload"]["source"]["ts_ms"])
            lags.append(arrived_ms - committed_ms)
        return lags

    # --- 3. rows per second into an indexed table ------------------------------------------------

    def sink_input(self) -> str:
        """A topic of N records: N/2 keys, each written at version 1 and then at version 2."""
        topic = "bench-cdc-sink-input"
        self.bench.create_topic(topic)
        producer = Producer({"bootstrap.servers": self.bench.bootstrap, "linger.ms": 50})
        rows = self.changes // 2
        key_schema = {
            "type": "struct",
            "name": "bench.Key",
            "optional": False,
            "fields": [{"field": "id", "type": "int64", "optional": False}],
        }
        value_schema = {
            "type": "struct",
            "name": "bench.Value",
            "optional": False,
            "fields": [
                {"field": "id", "type": "int64", "optional": False},
                {"field": "customer_id", "type": "int32", "optional": False},
                {"field": "status", "type": "string", "optional": False},
                {"field": "amount", "type": "double", "optional": False},
                {"field": "version", "type": "int32", "optional": False},
            ],
        }
        for n in range(self.changes):
            i, version = n % rows + 1, n // rows + 1
            key = {"schema": key_schema, "payload": {"id": i}}
            value = {
                "schema": value_schema,
                "payload": {
                    "id": i,
                    "customer_id": i % 1000,
                    "status": "new" if version == 1 else "paid",
                    "amount": (i % 100000) / 100.0,
                    "version": version,
                },
            }
            while True:
                try:
                    producer.produce(
                        topic,
                        json.dumps(value, separators=(",", ":")).encode(),
                        json.dumps(key, separators=(",", ":")).encode(),
                    )
                    break
                except BufferError:
                    producer.poll(0.05)
        if producer.flush(120):
            raise HarnessError(f"could not write {self.changes:,} records to {topic}")
        return topic

    def sink_run(self, run: str, topic: str) -> Run:
        execute(self.database, (f"DROP TABLE IF EXISTS public.{SINK_TABLE}", ()), (SINK_DDL, ()))
        connector = {
            "name": run,
            "connector.class": "io.confluent.connect.jdbc.JdbcSinkConnector",
            "tasks.max": "1",
            "topics": topic,
            "connection.url": (
                f"jdbc:postgresql://{self.database.host}:{self.database.port}/{self.database.name}"
            ),
            "connection.user": self.database.user,
            "connection.password": self.database.password,
            "insert.mode": "upsert",
            "pk.mode": "record_key",
            "pk.fields": "id",
            "table.name.format": SINK_TABLE,
            "auto.create": "false",
        }
        worker = WorkerProcess(
            self.bench.workdir, run, self.worker_props("kconnect", run, SINK_FLUSH_MS), [connector]
        )
        rows = self.changes // 2
        try:
            t0 = worker.wait_running(run, self.bench.timeout, STATUS_POLL_S)
            cpu0 = cpu_seconds(worker.pid)
            worker.wait_for(
                f"{rows:,} rows of {SINK_TABLE} at version 2",
                lambda: time.monotonic() if self._rows_at_version_2() == rows else None,
                self.bench.timeout,
                ROW_POLL_S,
            )
            seconds = time.monotonic() - t0
            cpu = cpu_seconds(worker.pid) - cpu0
            total = query_one(self.database, COUNT_SINK_ROWS)
            if total != rows:
                raise worker.fail(f"{SINK_TABLE} holds {total} rows, expected {rows}")
        finally:
            worker.stop()
        return Run(self.changes / seconds, seconds, cpu)

    def _rows_at_version_2(self) -> int:
        found = query_one(self.database, COUNT_SINK_ROWS + " WHERE version = 2")
        return int(found) if isinstance(found, int) else 0


def measure(s: CdcSession) -> list[Row]:
    runs = [(i, runtime, f"cdc-{runtime}-{i + 1}") for i, runtime in alternating(s.repeat)]
    slots = {run: f"{run.replace('-', '_')}_slot" for _, _, run in runs}
    s.load_changes(list(slots.values()))
    rates: dict[RuntimeName, list[float]] = {"kconnect": [], "java": []}
    for i, runtime, run in runs:
        r = s.source_run(runtime, run, slots[run])
        log(
            f"cdc_source {runtime} {i + 1}/{s.repeat}: {r.value:,.0f} events/s "
            f"({r.seconds:.2f} s, CPU {r.cpu_seconds:.2f} s)"
        )
        rates[runtime].append(r.value)
    p50: dict[RuntimeName, list[float]] = {"kconnect": [], "java": []}
    p99: dict[RuntimeName, list[float]] = {"kconnect": [], "java": []}
    first_id = 1
    for i, runtime in alternating(s.repeat):
        lags = sorted(s.lag_run(runtime, f"lag-{runtime}-{i + 1}", first_id))
        first_id += len(lags)
        p50[runtime].append(lags[len(lags) // 2])
        p99[runtime].append(lags[min(len(lags) - 1, (len(lags) * 99) // 100)])
        log(
            f"cdc_lag {runtime} {i + 1}/{s.repeat}: p50 {p50[runtime][-1]:.0f} ms, "
            f"p99 {p99[runtime][-1]:.0f} ms over {len(lags)} commits"
        )
    topic = s.sink_input()
    sink: list[float] = []
    for i in range(s.repeat):
        r = s.sink_run(f"jdbc-sink-{i + 1}", topic)
        log(
            f"jdbc_sink_upsert {i + 1}/{s.repeat}: {r.value:,.0f} rows/s ({r.seconds:.2f} s, "
            f"CPU {r.cpu_seconds:.2f} s)"
        )
        sink.append(r.value)
    return [
        Row(
            "cdc_source",
            "PostgreSQL → topic, change events (inserts, then updates), JsonConverter",
            "events/s",
            True,
            tuple(rates["kconnect"]),
            tuple(rates["java"]),
            "≥ Debezium",
        ),
        Row(
            "cdc_lag_p50",
            f"commit → record at the consumer, median, {LAG_RATE} commits/s",
            "ms",
            False,
            tuple(p50["kconnect"]),
            tuple(p50["java"]),
        ),
        Row(
            "cdc_lag_p99",
            f"commit → record at the consumer, 99th percentile, {LAG_RATE} commits/s",
            "ms",
            False,
            tuple(p99["kconnect"]),
            tuple(p99["java"]),
        ),
        Row(
            "jdbc_sink_upsert",
            "topic → JdbcSink, batched upserts into an indexed table, JsonConverter",
            "rows/s",
            True,
            tuple(sink),
            (),
            f"≥ {SINK_TARGET_ROWS_S:,.0f} rows/s",
        ),
    ]


def _cell(row: Row, runtime: RuntimeName) -> str:
    runs = row.kconnect if runtime == "kconnect" else row.java
    median = row.median(runtime)
    if median is None:
        return "—"
    return f"{median:,.0f} ({min(runs):,.0f}–{max(runs):,.0f})"


def table(rows: Sequence[Row]) -> list[str]:
    lines = [
        "| workload | unit | kconnect | Debezium on Java Kafka Connect | kconnect ÷ Debezium "
        "| target |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        ratio = row.ratio()
        lines.append(
            f"| {row.label} | {row.unit} | {_cell(row, 'kconnect')} | {_cell(row, 'java')} | "
            f"{'—' if ratio is None else f'{ratio:.2f}×'} | {row.target or '—'} |"
        )
    return lines


def render_section(rows: Sequence[Row], settings: Mapping[str, str]) -> str:
    """The page's section, markers included (pure)."""
    return "\n".join(
        [
            SECTION_BEGIN,
            "",
            "Generated by `python -m bench.cdc --update` (`make bench-cdc`). Median of the runs, "
            "(min–max); for lags, kconnect ÷ Debezium is Debezium's lag over kconnect's.",
            "",
            *table(rows),
            "",
            "| setting | value |",
            "|---|---|",
            *(f"| {k} | {v} |" for k, v in settings.items()),
            "",
            SECTION_END,
        ]
    )


def settings(changes: int, repeat: int, commit: str, when: str) -> dict[str, str]:
    return {
        "measured": f"at kconnect {commit} on {when}",
        "changes per source run": f"{changes:,} ({changes // 2:,} inserts, then as many updates)",
        "runs per figure": f"{repeat} per runtime, runtimes alternating",
        "Debezium": (
            f"`debezium-connector-postgres` {debezium.debezium_version()} as a plugin of Kafka "
            f"Connect {kafka.kafka_version()}'s standalone worker, Kafka's own JVM options"
        ),
        "PostgreSQL": "Debian's 15, `wal_level=logical`, on 127.0.0.1 (`kconnect_devenv.postgres`)",
        "connector": (
            "the same keys for both: `plugin.name=pgoutput`, a slot per run made before the "
            "changes, `snapshot.mode=no_data`, `publication.autocreate.mode=disabled`"
        ),
        "lag": f"{LAG_RATE} single-row commits a second for {LAG_SECONDS:.0f} s per run",
        "sink": (
            f"{changes // 2:,} keys written twice; `insert.mode=upsert`, "
            "`pk.mode=record_key`; a primary key and one secondary index"
        ),
    }


def write(rows: Sequence[Row], settings_: Mapping[str, str], *, doc: Path, results: Path) -> None:
    page = replace_span(
        doc.read_text("utf-8"),
        render_section(rows, settings_),
        SECTION_BEGIN,
        SECTION_END,
        "`python -m bench.cdc --update`",
    )
    merge_json(
        results,
        {RESULTS_KEY: {"rows": [r.to_json() for r in rows], "settings": dict(settings_)}},
    )
    doc.write_text(page, "utf-8")


@contextlib.contextmanager
def private_postgres() -> Iterator[postgres.Database]:
    state_dir = Path(tempfile.mkdtemp(prefix="kconnect-bench-postgres-"))
    server = postgres.start(state_dir, die_with_parent=True)
    try:
        yield postgres.create_database(server, "bench")
    finally:
        postgres.stop(state_dir)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.cdc", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_CHANGES:,} changes, one run")
    parser.add_argument("--changes", type=int, default=None, help="changes per source run")
    parser.add_argument("--repeat", type=int, default=None, help="runs per figure and runtime")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds for any one run")
    parser.add_argument(
        "--update", action="store_true", help="write the figures into the docs (full runs only)"
    )
    args = parser.parse_args(argv)
    if args.changes is None:
        args.changes = QUICK_CHANGES if args.quick else DEFAULT_CHANGES
    if args.repeat is None:
        args.repeat = 1 if args.quick else 3
    if args.changes < 2 or args.repeat <= 0:
        parser.error("expected at least 2 changes and a positive number of repeats")
    if args.update and args.quick:
        parser.error("--update takes a full run (not --quick)")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    began = time.monotonic()
    try:
        plugins = debezium.plugin_path(
            Path(tempfile.mkdtemp(prefix="kconnect-bench-dbz-")), debezium.fetch()
        )
        with (
            private_broker("kconnect-bench-cdc-", args.timeout, log) as (bootstrap, bench, _),
            private_postgres() as database,
        ):
            log(f"broker at {bootstrap}, PostgreSQL on port {database.port}")
            rows = measure(CdcSession(bench, database, args.changes, args.repeat, plugins))
    except HarnessError as e:
        print(f"bench-cdc: cannot measure: {e}", file=sys.stderr)
        return 1
    except (
        kafka.KafkaServiceError,
        postgres.PostgresServiceError,
        confluent_kafka.KafkaException,
        psycopg2.Error,
    ) as e:
        print(f"bench-cdc: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bench-cdc: interrupted", file=sys.stderr)
        return 130
    for line in table(rows):
        print(line)
    if args.update:
        when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        write(
            rows,
            settings(args.changes, args.repeat, machine()["kconnect commit"], when),
            doc=DOC,
            results=RESULTS,
        )
        log(f"wrote {DOC.relative_to(REPO)} and {RESULTS.relative_to(REPO)}")
    log(f"done in {time.monotonic() - began:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
