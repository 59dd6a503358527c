"""Every Kafka Connect metric docs/metrics.md names as a kconnect metric's equivalent is one
Apache Kafka Connect 4.1.1 defines, in the group the page says.

The names are read from Kafka's own `ConnectMetricsRegistry` (every metric template its worker
registers), by a small Java program (`tests/support/java/ConnectMetricNames.java`) compiled
against the jars `make bench-java-fetch` puts in the cache, not from a list written by hand. The
page's tables are read as written: the last column names the Kafka Connect metric, with its
group (`source-task-metrics` `source-record-poll-total`) in the first row that changes it, and
`sink` before a sink task's metric named in a row of a table for every task. A misspelt name, or
one in the wrong group, fails the test; the names that are not Connect metric templates are
listed with their reasons.

Without the jars the test fails and says how to fetch them; it never skips.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Final

import pytest

from bench import javaconnect
from tests.support.java_programs import compile_program, run_program

TESTS: Final = Path(__file__).resolve().parents[1]
PROGRAM: Final = TESTS / "support" / "java" / "ConnectMetricNames.java"
DOC: Final = TESTS.parent / "docs" / "metrics.md"

NOT_CONNECT_TEMPLATES: Final = {
    "app-info": "the `app-info` MBean Kafka's clients and Connect register (AppInfoParser), "
    "with version and commit id; not one of the worker's metric templates",
    "records-lag": "the consumer's fetch metric (`consumer-fetch-manager-metrics`), which Kafka "
    "Connect's JMX shows for each sink task's consumer; a client metric, not one of the "
    "worker's templates",
}

GROUP_PREFIXES: Final = {"sink": "sink-task-metrics"}
"""A word before a name in a row that names another group's metric for one kind of task."""


@pytest.fixture(scope="module")
def java_metrics(tmp_path_factory: pytest.TempPathFactory) -> set[tuple[str, str]]:
    """(group, name) of every metric template of Kafka Connect's worker."""
    libs = javaconnect.fetched()
    if libs is None:
        pytest.fail(
            f"Kafka Connect {javaconnect.connect_version()}'s jars are not in "
            f"{javaconnect.libs_dir()}: fetch them with `make bench-java-fetch`"
        )
    jars = sorted(libs.glob("*.jar"))
    classpath = compile_program(PROGRAM, jars, tmp_path_factory.mktemp("metric-names"))
    lines = run_program(classpath, "ConnectMetricNames", [])
    found = {(group, name) for group, _, name in (line.partition("\t") for line in lines)}
    assert len(found) > 50, lines
    return found


def documented() -> list[tuple[str, str | None, str]]:
    """(kconnect metric, Kafka Connect group or None, Kafka Connect name) for every Kafka
    Connect name the page's metric tables give, group as explained in the module's doc."""
    text = DOC.read_text("utf-8")
    section = text[text.index("\n## Metrics") : text.index("\n## Logs")]
    out: list[tuple[str, str | None, str]] = []
    group: str | None = None
    for line in section.splitlines():
        if line.startswith("### "):
            group = None
            continue
        if not line.startswith("| `kconnect_"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        metric = cells[0].strip("`")
        for part in cells[-1].split(";"):
            words = part.split()
            part_group = GROUP_PREFIXES.get(words[0]) if words else None
            names = re.findall(r"`([a-z][a-z-]*)`", part)
            if names and names[0].endswith("-metrics"):
                group = names[0]
                names = names[1:]
            assert names, f"{metric}: no Kafka Connect name in {part!r}"
            out += [(metric, part_group or group, name) for name in names]
    assert len(out) > 30, out
    return out


def test_every_documented_kafka_connect_metric_is_kafkas(
    java_metrics: set[tuple[str, str]],
) -> None:
    wrong = [
        (metric, group, name)
        for metric, group, name in documented()
        if name not in NOT_CONNECT_TEMPLATES and (group, name) not in java_metrics
    ]
    assert not wrong, f"not in Kafka Connect's ConnectMetricsRegistry: {wrong}"


def test_the_exactly_once_transaction_sizes_are_kip_618s(
    java_metrics: set[tuple[str, str]],
) -> None:
    sizes = {
        (metric, group, name)
        for metric, group, name in documented()
        if name.startswith("transaction-size-")
    }
    assert sizes == {
        ("kconnect_source_task_transaction_size", "source-task-metrics", "transaction-size-avg"),
        (
            "kconnect_source_task_transaction_size_min",
            "source-task-metrics",
            "transaction-size-min",
        ),
        (
            "kconnect_source_task_transaction_size_max",
            "source-task-metrics",
            "transaction-size-max",
        ),
    }
    assert {(g, n) for _, g, n in sizes} <= java_metrics
