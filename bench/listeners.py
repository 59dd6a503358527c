"""Per-task throughput over a secured listener against PLAINTEXT, for kconnect and for Apache Kafka
Connect's Java runtime: ``python -m bench.compare --listener sasl_ssl``.

The secured listener is SASL_SSL with SCRAM-SHA-512 over TLS, the mechanism Strimzi's
``scram-sha-512`` users and most managed clusters with passwords use. Both runtimes get one worker
config, written as a Java user writes it: the security keys at the top level (the worker's own
clients) and again under ``producer.``, ``consumer.`` and ``admin.`` (Java gives task clients only
those), a JKS truststore with its password, hostname verification at its default (on).

Invariants:

- **One broker, both listeners.** Every run, PLAINTEXT or SASL_SSL, goes to the same secured broker
  (:mod:`kconnect_devenv.secured_kafka`), so the listener is the only difference. Its PLAINTEXT
  listener's principal is a super user, so the authorizer costs it nothing; the SASL_SSL runs'
  principal ``worker`` is granted every topic and group, so ACL checks are made and pass.
- **Alternating, repeated.** Runtimes alternate as in :func:`bench.compare.alternating`, and within
  each runtime the listener that goes first flips on each repeat.
- **The listener is checked, not assumed.** Once a run's records are through (outside the timed
  window) and before the worker stops, the worker process's established TCP connections are read
  from ``/proc``; the run fails (:class:`bench.procs.HarnessError`) unless the ones to the
  broker's listener ports all go to the chosen listener's port. A worker that quietly fell back
  to PLAINTEXT cannot be measured as SASL_SSL.
- The harness's own clients (topics, input, high-water marks) use the PLAINTEXT listener, outside
  the measurement.

Output: the figures are printed; with ``--update`` they also replace the span between
:data:`SECTION_BEGIN` and :data:`SECTION_END` of ``docs/benchmarks.md`` and the ``sasl_ssl`` key
of ``bench/results/latest.json``. A page without that span is an error, not a guess.
"""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Final, Literal

from bench.measure import RunResult
from bench.procs import WorkerProcess, connected_ports
from bench.report import fmt_number, merge_json, replace_span
from kconnect_devenv import kafka, kafka_pki, secured_kafka

if TYPE_CHECKING:
    from bench.compare import Session, Throughput

RuntimeName = Literal["kconnect", "java"]
ListenerName = Literal["PLAINTEXT", "SASL_SSL"]

LISTENERS: Final[tuple[ListenerName, ...]] = ("PLAINTEXT", "SASL_SSL")
CHOICES: Final = ("sasl_ssl",)
"""The values of ``--listener``: the secured listener measured against PLAINTEXT."""
DEFAULT_WORKLOADS: Final = ("source_string", "sink_string")
MECHANISM: Final = "SCRAM-SHA-512"
SECTION_BEGIN: Final = "<!-- sasl-ssl:begin -->"
SECTION_END: Final = "<!-- sasl-ssl:end -->"
RESULTS_KEY: Final = "sasl_ssl"
CLIENT_PREFIXES: Final = ("", "producer.", "consumer.", "admin.")


@dataclasses.dataclass(frozen=True)
class Listener:
    """A listener of the secured broker and the worker keys that reach it."""

    name: ListenerName
    port: int
    client: Mapping[str, str]


def java_style(bootstrap: str, security: Mapping[str, str]) -> dict[str, str]:
    """Worker keys for `bootstrap` with `security` at the top level and under each client prefix,
    as a Java Kafka Connect worker config needs them (kconnect reads the same file)."""
    return {
        "bootstrap.servers": bootstrap,
        **{prefix + k: v for prefix in CLIENT_PREFIXES for k, v in security.items()},
    }


def listeners(b: secured_kafka.SecuredBroker) -> dict[ListenerName, Listener]:
    """PLAINTEXT (no keys) and SASL_SSL with SCRAM-SHA-512 and a JKS truststore."""
    user = secured_kafka.GRANTED
    jaas = (
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="{user}" password="{secured_kafka.USERS[user]}";'
    )
    sasl_ssl = {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": MECHANISM,
        "sasl.jaas.config": jaas,
        "ssl.truststore.type": "JKS",
        "ssl.truststore.location": str(b.pki.truststore_jks),
        "ssl.truststore.password": kafka_pki.STORE_PASSWORD,
    }
    return {
        "PLAINTEXT": Listener("PLAINTEXT", b.broker.port, java_style(b.plaintext_bootstrap, {})),
        "SASL_SSL": Listener(
            "SASL_SSL", b.ports["SASL_SSL"], java_style(b.bootstrap("SASL_SSL"), sasl_ssl)
        ),
    }


def broker_ports(b: secured_kafka.SecuredBroker) -> frozenset[int]:
    """Every port the broker listens on."""
    return frozenset({b.broker.port, b.broker.controller_port, *b.ports.values()})


def listener_check(listener: Listener, ports: frozenset[int]) -> Callable[[WorkerProcess], None]:
    """A check that a running worker's connections to the broker (any of `ports`) go to
    `listener`'s port and no other, and that there is at least one."""

    def check(worker: WorkerProcess) -> None:
        used = connected_ports(worker.pid) & ports
        if used != {listener.port}:
            raise worker.fail(
                f"expected the worker's connections to the broker to go to its {listener.name} "
                f"listener (port {listener.port}) only; they go to port(s) "
                f"{', '.join(map(str, sorted(used))) or 'none'}"
            )

    return check


def order(repeat: int) -> Iterator[tuple[int, RuntimeName, ListenerName]]:
    """(repeat index, runtime, listener) in the order the runs go: runtimes alternate as in the
    side-by-side harness; within a runtime, PLAINTEXT goes first on even repeats."""
    for i in range(repeat):
        runtimes: tuple[RuntimeName, RuntimeName] = (
            ("kconnect", "java") if i % 2 == 0 else ("java", "kconnect")
        )
        names = LISTENERS if i % 2 == 0 else LISTENERS[::-1]
        for runtime in runtimes:
            for name in names:
                yield i, runtime, name


@dataclasses.dataclass(frozen=True)
class Row:
    """One workload on one runtime: its rates (records/s) on each listener."""

    workload: str
    label: str
    runtime: RuntimeName
    rates: Mapping[ListenerName, tuple[float, ...]]

    def median(self, listener: ListenerName) -> float | None:
        runs = self.rates.get(listener, ())
        return statistics.median(runs) if runs else None

    @property
    def ratio(self) -> float | None:
        """SASL_SSL's median over PLAINTEXT's: 1.0 means the secured listener costs nothing."""
        plain, secured = self.median("PLAINTEXT"), self.median("SASL_SSL")
        if plain is None or secured is None or plain == 0:
            return None
        return secured / plain

    def to_json(self) -> dict[str, object]:
        return {
            "workload": self.workload,
            "runtime": self.runtime,
            "records_per_s": {k: [round(r, 1) for r in v] for k, v in self.rates.items()},
            "median": {k: _round(self.median(k)) for k in LISTENERS},
            "sasl_ssl_over_plaintext": _round(self.ratio, 3),
        }


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def measure(
    session: Session,
    workloads: Sequence[Throughput],
    broker: secured_kafka.SecuredBroker,
    log: Callable[[str], None],
) -> list[Row]:
    """Each workload on both runtimes over both listeners, `session.repeat` times each."""
    by_name = listeners(broker)
    ports = broker_ports(broker)
    rows = []
    for w in workloads:
        rates: dict[tuple[RuntimeName, ListenerName], list[float]] = {
            (rt, name): [] for rt in ("kconnect", "java") for name in LISTENERS
        }
        for i, runtime, name in order(session.repeat):
            listener = by_name[name]
            r = session.throughput_run(w, runtime, listener.client, listener_check(listener, ports))
            log(f"{w.name} {runtime} over {name} {i + 1}/{session.repeat}: {_describe(r)}")
            rates[runtime, name].append(r.rate)
        for runtime in ("kconnect", "java"):
            rows.append(
                Row(
                    w.name,
                    w.label,
                    runtime,
                    {name: tuple(rates[runtime, name]) for name in LISTENERS},
                )
            )
    return rows


def _describe(r: RunResult) -> str:
    return f"{r.rate:,.0f} records/s ({r.seconds:.2f} s, CPU {r.cpu_seconds:.2f} s)"


# --- the report ---------------------------------------------------------------------------------

_RUNTIME_TITLES: Final[Mapping[RuntimeName, str]] = {
    "kconnect": "kconnect",
    "java": "Apache Kafka Connect (Java)",
}


def _rate_cell(row: Row, listener: ListenerName) -> str:
    runs = row.rates.get(listener, ())
    median = row.median(listener)
    if median is None:
        return "not run"
    if len(runs) == 1:
        return fmt_number(median)
    return f"{fmt_number(median)} ({fmt_number(min(runs))}–{fmt_number(max(runs))})"


def table(rows: Sequence[Row]) -> list[str]:
    """The Markdown table of `rows` (pure)."""
    out = [
        "| workload | runtime | PLAINTEXT (records/s) | SASL_SSL (records/s) "
        "| SASL_SSL / PLAINTEXT |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        ratio = "—" if r.ratio is None else f"{r.ratio:.2f}×"
        out.append(
            f"| {r.label} | {_RUNTIME_TITLES[r.runtime]} | {_rate_cell(r, 'PLAINTEXT')} "
            f"| {_rate_cell(r, 'SASL_SSL')} | {ratio} |"
        )
    return out


def render_section(rows: Sequence[Row], settings: Mapping[str, str]) -> str:
    """The page's section, markers included (pure)."""
    lines = [
        SECTION_BEGIN,
        "",
        "Generated by `python -m bench.compare --listener sasl_ssl --update`; see "
        "[bench-java.md](bench-java.md#over-sasl_ssl). Median of the runs, (min–max).",
        "",
        *table(rows),
        "",
        "| setting | value |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in settings.items()),
        "",
        SECTION_END,
    ]
    return "\n".join(lines)


def replace_section(page: str, section: str) -> str:
    """`page` with its span from SECTION_BEGIN to SECTION_END replaced by `section` (pure)."""
    return replace_span(page, section, SECTION_BEGIN, SECTION_END, "`--listener sasl_ssl --update`")


def settings(records: int, repeat: int, commit: str, when: str) -> dict[str, str]:
    return {
        "measured": f"at kconnect {commit} on {when}",
        "records per run": f"{records:,}",
        "runs per figure": (
            f"{repeat} per runtime and listener, runtimes alternating, listeners alternating "
            "within each"
        ),
        "broker": (
            f"one secured KRaft broker (Kafka {kafka.kafka_version()}, "
            "`kconnect_devenv.secured_kafka`): StandardAuthorizer on, both listeners on 127.0.0.1"
        ),
        "SASL_SSL client": (
            f"`sasl.mechanism={MECHANISM}`, JKS truststore (`ssl.truststore.type=JKS`), "
            "hostname verification on; keys at the top level and under `producer.`, "
            "`consumer.`, `admin.`, the same file for both runtimes"
        ),
        "worker": "standalone, as in the side-by-side runs",
    }


def write(
    rows: Sequence[Row], settings_: Mapping[str, str], *, doc: Path, results: Path
) -> list[Path]:
    """Put `rows` into `doc`'s section and `results`' ``sasl_ssl`` key; the page is rendered
    before anything is written."""
    page = replace_section(doc.read_text("utf-8"), render_section(rows, settings_))
    merge_json(
        results,
        {RESULTS_KEY: {"rows": [r.to_json() for r in rows], "settings": dict(settings_)}},
    )
    doc.write_text(page, "utf-8")
    return [results, doc]
