"""A full scrape of a worker is pinned: dashboards and alerts depend on its names.

`worker_scrape.prom` beside this file is the exposition of a distributed worker with connectors
and tasks of every kind and several states, captured from the worker as it was when the file was
written. The test renders the same worker now and compares the two as Prometheus reads them:
the same families with the same types and help texts, and the same samples with the same labels
and values. The text itself may differ in what Prometheus
ignores (the order of families, `1` against `1.0`).

A metric that is renamed, retyped, relabelled, dropped or added fails here; a deliberate change
rewrites the file (`KCONNECT_PIN_SCRAPE=1`) and says so in docs/metrics.md.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Final

from kconnect.api.types import ConnectorName, TaskId, TaskNumber
from kconnect.herder.worker_metrics import RebalanceView, TaskView, WorkerView, worker_families
from kconnect.prometheus import Registry
from kconnect.storage.states import State
from kconnect.worker.task_metrics import TaskMetrics, TransactionMetrics

PINNED: Final = Path(__file__).with_name("worker_scrape.prom")


def _metrics(seed: int) -> TaskMetrics:
    """A task's metrics with every value set, distinct per task and per value."""
    m = TaskMetrics()
    for n, name in enumerate(TaskMetrics.__slots__):
        setattr(m, name, seed * 1000 + n + (0.5 if "seconds" in name else 0))
    m.last_error_timestamp_ms = 1_700_000_000_000 + seed
    return m


def _transactions(*sizes: int) -> TransactionMetrics:
    """An exactly-once task's transactions, committed with these sizes."""
    m = TransactionMetrics()
    for size in sizes:
        m.commit(size)
    return m


def _task(connector: str, task: int) -> TaskId:
    return TaskId(ConnectorName(connector), TaskNumber(task))


VIEW: Final = WorkerView(
    version="1.2.3",
    mode="distributed",
    worker_id="10.0.0.7:8083",
    connectors={
        ConnectorName("orders-source"): State.RUNNING,
        ConnectorName("orders-sink"): State.FAILED,
        ConnectorName('odd "name"\\x'): State.PAUSED,
    },
    tasks=[
        TaskView(
            _task("orders-source", 0),
            "source",
            State.RUNNING,
            _metrics(1),
            _transactions(40, 7, 40, 33),
        ),
        # Exactly-once, before its first commit: no smallest or largest yet.
        TaskView(_task("orders-source", 1), "source", State.PAUSED, _metrics(2), _transactions()),
        TaskView(_task("orders-sink", 0), "sink", State.FAILED, _metrics(3)),
        TaskView(_task("orders-sink", 2), "sink", State.RUNNING, _metrics(4)),
        TaskView(_task("other", 0), None, State.UNASSIGNED, _metrics(5)),
        TaskView(_task('odd "name"\\x', 0), "source", State.RESTARTING, _metrics(6)),
    ],
    rebalance=RebalanceView(completed=7, rebalancing=False, seconds_since_last=12.5),
)


def _scrape() -> str:
    registry = Registry()
    registry.register_collector(lambda: worker_families(VIEW))
    return registry.render()


_SAMPLE: Final = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)")
_LABEL: Final = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?')
_UNESCAPE: Final = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}

Sample = tuple[str, tuple[tuple[str, str], ...], float]


def _as_prometheus_reads(text: str) -> dict[str, tuple[str, str, list[Sample]]]:
    """Family name -> (type, help, samples) of a text exposition (format 0.0.4).

    Written here rather than taken from `prometheus_client.parser`, which renames a counter
    whose name lacks `_total` (Kafka's `kconnect_task_error_total_retries`) to one with it, and
    so could not tell the two names apart.
    """
    helps: dict[str, str] = {}
    families: dict[str, tuple[str, str, list[Sample]]] = {}
    current = ""
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name, _, doc = line[7:].partition(" ")
            helps[name] = doc
        elif line.startswith("# TYPE "):
            current, _, type_name = line[7:].partition(" ")
            assert current not in families, f"{current} twice"
            families[current] = (type_name, helps[current], [])
        else:
            match = _SAMPLE.fullmatch(line)
            assert match, line
            name, labels, value = match.groups()
            assert name.startswith(current), f"{name} outside its family {current}"
            pairs = _LABEL.findall(labels or "")
            assert ",".join(f'{k}="{v}"' for k, v in pairs) == (labels or ""), line
            unescaped = tuple(
                sorted((k, re.sub(r"\\.", lambda m: _UNESCAPE[m[0]], v)) for k, v in pairs)
            )
            families[current][2].append((name, unescaped, float(value)))
    return {name: (t, doc, sorted(samples)) for name, (t, doc, samples) in families.items()}


def test_a_full_scrape_is_what_dashboards_were_built_on() -> None:
    if os.environ.get("KCONNECT_PIN_SCRAPE") == "1":
        PINNED.write_text(_scrape(), "utf-8")
    pinned = _as_prometheus_reads(PINNED.read_text("utf-8"))
    now = _as_prometheus_reads(_scrape())
    assert sorted(now) == sorted(pinned)
    for name, family in pinned.items():
        assert now[name] == family, name


def test_the_pinned_scrape_covers_every_family() -> None:
    """The pinned worker has a series in every family the worker exports, so none escapes."""
    names = {
        line.split()[2]
        for line in PINNED.read_text("utf-8").splitlines()
        if line.startswith("# TYPE ")
    }
    assert len(names) == 40
    assert all(name.startswith("kconnect_") for name in names)
