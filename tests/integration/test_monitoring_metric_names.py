"""Every metric the chart's alerting rules and Grafana dashboard read exists, documented and
served:

- a worker metric (`kconnect_*`) is in docs/metrics.md and in the `/metrics` scrape of a real
  distributed worker on the real broker running a source (DataGen) and a sink (FileStreamSink);
- an operator metric (`kconnect_operator_*`) is in docs/operations.md's monitoring table and
  in the operator's registry (`kconnect_operator.io.operator_metrics`, what `/metrics` serves).

A rule or panel with a misspelt, renamed or removed metric would never fire or draw; this fails
instead.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any, Final

import pytest
import yaml

from kconnect_operator.io import operator_metrics
from tests.support.cluster import Cluster, wait_all_running
from tests.support.metrics_scrape import Series, scrape, value
from tests.support.workers import read_lines, wait_until

pytestmark = pytest.mark.integration

REPO: Final = Path(__file__).resolve().parents[2]
FILES: Final = REPO / "charts" / "kconnect" / "files"
NAME: Final = re.compile(r"\bkconnect_[a-z0-9_]+\b")
SUMMARY_SUFFIXES: Final = ("_sum", "_count")


def rule_expressions() -> list[str]:
    rules = yaml.safe_load((FILES / "prometheus" / "kconnect-rules.yaml").read_text("utf-8"))
    return [r["expr"] for g in rules["groups"] for r in g["rules"]]


def dashboard_expressions() -> list[str]:
    dashboard = json.loads((FILES / "grafana" / "kconnect-dashboard.json").read_text("utf-8"))
    queries = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    variables = [v["definition"] for v in dashboard["templating"]["list"] if "definition" in v]
    return queries + variables


def used_names() -> set[str]:
    return {n for expr in rule_expressions() + dashboard_expressions() for n in NAME.findall(expr)}


def documented(doc: str) -> set[str]:
    return set(re.findall(r"`(kconnect_[a-z0-9_]+)", (REPO / "docs" / doc).read_text("utf-8")))


def family(name: str, families: set[str]) -> str:
    """A summary's `_sum`/`_count` sample belongs to its family."""
    for suffix in SUMMARY_SUFFIXES:
        if name.endswith(suffix) and name.removesuffix(suffix) in families:
            return name.removesuffix(suffix)
    return name


def test_the_rules_and_dashboard_read_metrics() -> None:
    """The extraction itself: both files name metrics of both kinds."""
    rules = {n for e in rule_expressions() for n in NAME.findall(e)}
    panels = {n for e in dashboard_expressions() for n in NAME.findall(e)}
    for names in (rules, panels):
        assert any(n.startswith("kconnect_operator_") for n in names), names
        assert any(not n.startswith("kconnect_operator_") for n in names), names


def test_operator_metrics_are_documented_and_registered() -> None:
    names = {n for n in used_names() if n.startswith("kconnect_operator_")}
    registered = set(re.findall(r"(?m)^# TYPE (\S+) ", operator_metrics.REGISTRY.render()))
    assert names - registered == set()
    assert names - documented("operations.md") == set()


def _scrape_both(cluster: Cluster, topic: str, out: Path) -> Series:
    worker = cluster.start()
    source, sink = f"gen-{uuid.uuid4().hex[:8]}", f"out-{uuid.uuid4().hex[:8]}"
    for name, config in (
        (source, {"connector.class": "DataGen", "topic": topic, "records.per.second": "200"}),
        (sink, {"connector.class": "FileStreamSink", "topics": topic, "file": str(out)}),
    ):
        status, body = worker.request(
            "POST", "/connectors", {"name": name, "config": {**config, "tasks.max": "1"}}
        )
        assert status == 201, body
        wait_all_running(worker, name, 1)
    wait_until("records in the sink file", lambda: len(read_lines(out)) > 50)

    def committed() -> Series | None:
        _, series = scrape(worker.url)
        done = value(
            series,
            "kconnect_connector_task_offset_commit_success_total",
            connector=sink,
            task="0",
        )
        return series if done else None

    scraped: Series = wait_until("an offset commit of the sink", committed)
    return scraped


def test_worker_metrics_are_documented_and_served(
    tmp_path: Path, kafka_bootstrap: str, new_topic: Any
) -> None:
    names = {n for n in used_names() if not n.startswith("kconnect_operator_")}
    docs = documented("metrics.md")
    assert {family(n, docs) for n in names} - docs == set()

    cluster = Cluster(tmp_path, kafka_bootstrap)
    try:
        series = _scrape_both(cluster, new_topic(partitions=1), tmp_path / "out.txt")
    finally:
        cluster.close()
    served = {name for name, _ in series}
    assert names - served == set()
