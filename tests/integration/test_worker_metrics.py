"""A standalone worker's `/metrics` and JSON logs, with a real pipeline on the real broker:
DataGen -> topic -> FileStreamSink, in a `kconnect --log-format json standalone` process."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer

from tests.support.cluster import Cluster, wait_all_running
from tests.support.metrics_scrape import Series, scrape, value
from tests.support.workers import (
    Standalone,
    Worker,
    free_port,
    read_lines,
    wait_until,
    write_properties,
)

pytestmark = pytest.mark.integration

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
KAFKA_LEVELS = {"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"}
ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def _names() -> tuple[str, str]:
    """Fresh (source, sink) connector names: a sink's name is its consumer group's
    (`connect-<name>`), which other tests on the session's broker must not share."""
    run = uuid.uuid4().hex[:8]
    return f"gen-{run}", f"out-{run}"


def _datagen(name: str, topic: str) -> dict[str, str]:
    return {
        "name": name,
        "connector.class": "DataGen",
        "topic": topic,
        "tasks.max": "1",
        "records.per.second": "200",
    }


def _sink(name: str, topic: str, path: Path) -> dict[str, str]:
    return {
        "name": name,
        "connector.class": "FileStreamSink",
        "topics": topic,
        "file": str(path),
    }


def start_json_worker(
    s: Standalone,
    connectors: list[Mapping[str, str]],
    extra: Mapping[str, str] | None = None,
    *,
    log_level: str = "INFO",
) -> Worker:
    """`kconnect --log-format json standalone ...` on a free REST port."""
    port = free_port()
    props = {**s.worker_props(), **(extra or {}), "listeners": f"http://127.0.0.1:{port}"}
    worker_file = write_properties(s.cwd / f"worker-{port}.properties", props)
    files = [str(write_properties(s.cwd / f"{c['name']}-{port}.properties", c)) for c in connectors]
    args = ["--log-level", log_level, "--log-format", "json", "standalone", str(worker_file)]
    w = Worker(s.cwd, [*args, *files], port)
    s.workers.append(w)
    w.wait_ready()
    return w


def _json_lines(w: Worker) -> list[dict[str, Any]]:
    entries = []
    for line in w.log().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            pytest.fail(f"not a JSON log line: {line!r}")
        assert isinstance(entry, dict), line
        entries.append(entry)
    return entries


def test_metrics_and_json_logs_of_a_running_pipeline(
    standalone: Standalone, new_topic: Any
) -> None:
    topic = new_topic(partitions=1)
    out = standalone.cwd / "out.txt"
    src, snk = _names()
    # DEBUG, so that task threads log too (the file sink's flushes).
    w = start_json_worker(
        standalone, [_datagen(src, topic), _sink(snk, topic, out)], log_level="DEBUG"
    )
    w.wait_state(src, "RUNNING")
    w.wait_state(snk, "RUNNING")
    wait_until("records in the sink file", lambda: len(read_lines(out)) > 50)

    content_type, series = scrape(w.url)
    assert content_type == CONTENT_TYPE
    assert value(series, "kconnect_worker_connector_count") == 2
    assert value(series, "kconnect_worker_task_count") == 2
    info = [labels for name, labels in series if name == "kconnect_info"]
    assert len(info) == 1
    assert dict(info[0])["mode"] == "standalone"
    assert dict(info[0])["worker_id"] == w.port_id
    for connector in (src, snk):
        assert value(series, "kconnect_connector_status", connector=connector, status="running")
        assert value(
            series,
            "kconnect_connector_task_status",
            connector=connector,
            task="0",
            status="running",
        )
        assert value(series, "kconnect_worker_connector_running_task_count", connector=connector)
    gen, sink = {"connector": src, "task": "0"}, {"connector": snk, "task": "0"}
    # Source series for the source task, sink series for the sink task, and not the other way.
    assert value(series, "kconnect_source_task_source_record_poll_total", **gen) is not None
    assert value(series, "kconnect_sink_task_sink_record_read_total", **sink) is not None
    assert value(series, "kconnect_source_task_source_record_poll_total", **sink) is None
    assert value(series, "kconnect_sink_task_sink_record_read_total", **gen) is None
    for labels in (gen, sink):
        assert value(series, "kconnect_task_error_total_record_errors", **labels) == 0
    # A standalone worker has no group, so no rebalance metrics.
    assert not any(name.startswith("kconnect_worker_rebalance_") for name, _ in series)

    # The REST API is unchanged beside it.
    assert w.get(f"/connectors/{src}/status")["connector"]["state"] == "RUNNING"
    assert w.terminate() == 0

    entries = _json_lines(w)
    assert entries
    for entry in entries:
        assert {"time", "level", "logger", "message", "thread"} <= entry.keys(), entry
        assert ISO_UTC.fullmatch(entry["time"]), entry
        assert entry["level"] in KAFKA_LEVELS, entry
    from_tasks = [e for e in entries if e["thread"] in (f"task-{src}-0", f"task-{snk}-0")]
    assert from_tasks, "no line logged by a task thread"
    for entry in from_tasks:
        assert (entry.get("connector"), entry.get("task")) == (
            entry["thread"].removeprefix("task-").removesuffix("-0"),
            0,
        ), entry
    assert any(e.get("connector") == snk for e in from_tasks)
    assert not any("connector" in e for e in entries if e["thread"] == "MainThread")


def test_task_counters_move_while_records_flow(standalone: Standalone, new_topic: Any) -> None:
    topic = new_topic(partitions=1)
    out = standalone.cwd / "out.txt"
    src, snk = _names()
    w = start_json_worker(standalone, [_datagen(src, topic), _sink(snk, topic, out)])
    w.wait_state(src, "RUNNING")
    w.wait_state(snk, "RUNNING")
    wait_until("records in the sink file", lambda: len(read_lines(out)) > 50)
    _, first = scrape(w.url)
    seen = len(read_lines(out))
    # offset.flush.interval.ms is 500: a few commits happen while 100 more records flow.
    wait_until("more records in the sink file", lambda: len(read_lines(out)) > seen + 100)
    _, second = scrape(w.url)

    gen, sink = {"connector": src, "task": "0"}, {"connector": snk, "task": "0"}
    moved = {
        name: (value(first, name, **labels), value(second, name, **labels))
        for name, labels in [
            ("kconnect_source_task_source_record_poll_total", gen),
            ("kconnect_source_task_source_record_write_total", gen),
            ("kconnect_sink_task_sink_record_read_total", sink),
            ("kconnect_sink_task_sink_record_send_total", sink),
            ("kconnect_connector_task_batch_size_sum", gen),
            ("kconnect_connector_task_batch_size_sum", sink),
        ]
    }
    stuck = {name: pair for name, pair in moved.items() if not (pair[1] or 0) > (pair[0] or 0)}
    assert not stuck, f"counters that did not move between scrapes: {stuck}"
    for labels in (gen, sink):
        commits = value(second, "kconnect_connector_task_offset_commit_success_total", **labels)
        assert commits is not None
        assert commits >= 1, labels
    sent = value(second, "kconnect_sink_task_sink_record_send_total", **sink)
    assert sent is not None
    assert sent >= seen
    assert w.terminate() == 0


def test_metrics_listener_serves_only_metrics_on_its_own_port(standalone: Standalone) -> None:
    port = free_port()
    w = start_json_worker(standalone, [], {"metrics.listener": f"http://127.0.0.1:{port}"})
    url = f"http://127.0.0.1:{port}"
    content_type, series = scrape(url)
    assert content_type == CONTENT_TYPE
    assert value(series, "kconnect_worker_task_count") == 0
    assert [name for name, _ in series if name == "kconnect_info"] == ["kconnect_info"]
    # The same registry is on the REST listener.
    assert scrape(w.url)[1].keys() == series.keys()
    # Only /metrics: the REST API is not served there.
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(url + "/connectors", timeout=30)
    assert err.value.code == 404
    assert json.loads(err.value.read())["error_code"] == 404
    assert w.terminate() == 0
    assert "metrics server listening on http://127.0.0.1:" in w.log()


def test_a_bad_metrics_listener_stops_the_worker_naming_the_key(standalone: Standalone) -> None:
    props = {**standalone.worker_props(), "metrics.listener": "https://:9404"}
    worker_file = write_properties(standalone.cwd / "worker.properties", props)
    result = standalone.run_to_exit(["standalone", str(worker_file)])
    assert result.returncode == 1
    assert "metrics.listener='https://:9404'" in result.stderr
    assert "serves plain http only" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_distributed_worker_counts_its_rebalances(
    tmp_path: Path, kafka_bootstrap: str, new_topic: Any
) -> None:
    cluster = Cluster(tmp_path, kafka_bootstrap)
    try:
        a = cluster.start()

        def settled(w: Worker) -> Series | None:
            _, series = scrape(w.url)
            done = value(series, "kconnect_worker_rebalance_completed_rebalances_total")
            rebalancing = value(series, "kconnect_worker_rebalance_rebalancing")
            return series if done and rebalancing == 0 else None

        first = wait_until("worker a to complete its first rebalance", lambda: settled(a))
        since = value(first, "kconnect_worker_rebalance_time_since_last_rebalance_seconds")
        assert since is not None
        assert since >= 0
        info = dict(next(labels for name, labels in first if name == "kconnect_info"))
        assert (info["mode"], info["worker_id"]) == ("distributed", a.port_id)
        before = value(first, "kconnect_worker_rebalance_completed_rebalances_total")

        topic = new_topic(partitions=2)
        status, body = a.request(
            "POST",
            "/connectors",
            {"name": "gen", "config": {**_datagen("gen", topic), "tasks.max": "2"}},
        )
        assert status == 201, body
        b = cluster.start()
        wait_all_running(a, "gen", 2)

        def spread() -> bool:
            counts = [value(scrape(w.url)[1], "kconnect_worker_task_count") for w in (a, b)]
            return counts == [1, 1]

        wait_until("one task on each worker", spread)
        # The new task topic and the second member each made the group rebalance a's tasks.
        after = value(scrape(a.url)[1], "kconnect_worker_rebalance_completed_rebalances_total")
        assert after is not None
        assert before is not None
        assert after > before
        wait_until("worker b to complete its rebalances", lambda: settled(b))
    finally:
        cluster.close()


def _lag(w: Worker, connector: str) -> float | None:
    return value(scrape(w.url)[1], "kconnect_sink_task_records_lag", connector=connector, task="0")


def test_a_sink_tasks_records_lag_rises_while_its_system_is_down_and_clears_after(
    standalone: Standalone, new_topic: Any, kafka_bootstrap: str
) -> None:
    """`kconnect_sink_task_records_lag` (the KConnectSinkLagRising alert's metric): while put()
    is refused (GatedSink), or while the connector is paused, the task's partitions are paused
    and it reads nothing, yet the records written meanwhile count, since the end offsets of
    paused partitions are asked of the broker; once it reads again, the lag goes to 0 (from the
    fetched end offsets)."""
    topic = new_topic(partitions=1)
    name = f"lag-{uuid.uuid4().hex[:8]}"
    hold, attempts = standalone.cwd / "hold", standalone.cwd / "attempts.txt"
    hold.touch()
    producer = Producer({"bootstrap.servers": kafka_bootstrap})

    def produce(count: int) -> None:
        for i in range(count):
            producer.produce(topic, f"r{i}".encode(), partition=0)
        assert producer.flush(30) == 0

    produce(10)
    sink = {
        "name": name,
        "connector.class": "kconnect_test_plugins:GatedSink",
        "topics": topic,
        "file": str(standalone.cwd / "out.txt"),
        "hold": str(hold),
        "attempts": str(attempts),
    }
    w = standalone.start([sink])

    def refused_batch() -> list[int] | None:
        for line in read_lines(attempts):
            if line.startswith("refused"):
                return [int(item.split(":")[1]) for item in line.split()[1:]]
        return None

    batch = wait_until("put() to refuse a batch", refused_batch)
    # The consumer's position is past the batch in hand, and stays there while it is retried.
    position = max(batch) + 1
    produce(25)
    wait_until("the lag to count the records behind", lambda: _lag(w, name) == 35 - position)
    hold.unlink()
    wait_until("the lag to clear", lambda: _lag(w, name) == 0)
    assert len(read_lines(standalone.cwd / "out.txt")) == 35

    # A paused connector reads nothing either: the records written meanwhile count too.
    status, body = w.request("PUT", f"/connectors/{name}/pause")
    assert status == 202, body
    w.wait_state(name, "PAUSED")
    produce(7)
    wait_until("the lag to count the records written while paused", lambda: _lag(w, name) == 7)
    status, body = w.request("PUT", f"/connectors/{name}/resume")
    assert status == 202, body
    wait_until("the lag to clear after the resume", lambda: _lag(w, name) == 0)
    assert len(read_lines(standalone.cwd / "out.txt")) == 42
