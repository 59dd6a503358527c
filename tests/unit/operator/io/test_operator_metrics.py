"""The metrics registry: exact exposition text, escaping, label checks, the operator's metrics."""

from __future__ import annotations

import threading

import pytest

from kconnect_operator.io import operator_metrics
from kconnect_operator.io.operator_metrics import Counter, Gauge, Registry


def test_a_small_registry_renders_exactly_in_format_0_0_4() -> None:
    registry = Registry()
    requests = Counter("app_requests_total", "Served.", ("method", "code"), registry=registry)
    up = Gauge("app_up", "1 when up.", registry=registry)
    requests.inc(method="GET", code="200")
    requests.inc(2, method="GET", code="200")
    requests.inc(method="DELETE", code="404")
    up.set(1)
    assert registry.render() == (
        "# HELP app_requests_total Served.\n"
        "# TYPE app_requests_total counter\n"
        'app_requests_total{method="DELETE",code="404"} 1\n'
        'app_requests_total{method="GET",code="200"} 3\n'
        "# HELP app_up 1 when up.\n"
        "# TYPE app_up gauge\n"
        "app_up 1\n"
    )


def test_label_values_and_help_are_escaped() -> None:
    registry = Registry()
    gauge = Gauge("g", 'Help with \\ and\na newline and "quotes".', ("v",), registry=registry)
    gauge.set(0.5, v='a "quoted" back\\slash\nnewline')
    assert registry.render() == (
        '# HELP g Help with \\\\ and\\na newline and "quotes".\n'
        "# TYPE g gauge\n"
        'g{v="a \\"quoted\\" back\\\\slash\\nnewline"} 0.5\n'
    )


def test_values_render_as_prometheus_numbers() -> None:
    registry = Registry()
    gauge = Gauge("g", "h", ("k",), registry=registry)
    for key, value in [("a", 3.0), ("b", -2.25), ("c", float("inf")), ("d", float("-inf"))]:
        gauge.set(value, k=key)
    gauge.set(float("nan"), k="e")
    samples = [line for line in registry.render().splitlines() if not line.startswith("#")]
    assert samples == [
        'g{k="a"} 3',
        'g{k="b"} -2.25',
        'g{k="c"} +Inf',
        'g{k="d"} -Inf',
        'g{k="e"} NaN',
    ]


def test_order_is_deterministic_whatever_the_update_order() -> None:
    def build(order: list[str]) -> str:
        registry = Registry()
        zeta = Gauge("zeta", "z", ("n",), registry=registry)
        alpha = Counter("alpha_total", "a", ("n",), registry=registry)
        for name in order:
            zeta.set(1, n=name)
            alpha.inc(n=name)
        return registry.render()

    first = build(["b", "a", "c"])
    assert first == build(["c", "b", "a"])
    assert first.index("alpha_total") < first.index("zeta")
    assert first.index('n="a"') < first.index('n="b"') < first.index('n="c"')


def test_labels_must_be_exactly_the_label_names() -> None:
    counter = Counter("c_total", "h", ("kind", "result"))
    with pytest.raises(ValueError, match=r"missing \['result'\]"):
        counter.inc(kind="KafkaConnector")
    with pytest.raises(ValueError, match=r"unknown \['reslut'\]"):
        counter.inc(kind="KafkaConnector", result="ok", reslut="ok")
    with pytest.raises(TypeError, match="must be a str"):
        counter.inc(kind="KafkaConnector", result=3)  # type: ignore[arg-type]
    assert counter.render().count("\n") == 2  # HELP and TYPE, no series


def test_counters_only_go_up() -> None:
    counter = Counter("c_total", "h")
    with pytest.raises(ValueError, match="can only go up"):
        counter.inc(-1)
    with pytest.raises(ValueError, match="can only go up"):
        counter.inc(float("nan"))
    counter.inc(0.5)
    assert counter.value() == 0.5


def test_gauges_go_up_and_down() -> None:
    gauge = Gauge("g", "h", ("k",))
    gauge.inc(k="x")
    gauge.inc(4, k="x")
    gauge.dec(2, k="x")
    assert gauge.value(k="x") == 3
    gauge.set(-1, k="x")
    assert gauge.value(k="x") == -1
    assert gauge.value(k="never") == 0


def test_remove_drops_the_series_matching_the_labels_given() -> None:
    tasks = Gauge("tasks", "h", ("namespace", "name", "state"))
    tasks.set(2, namespace="a", name="orders", state="RUNNING")
    tasks.set(1, namespace="a", name="orders", state="FAILED")
    tasks.set(3, namespace="a", name="users", state="RUNNING")
    tasks.set(4, namespace="b", name="orders", state="RUNNING")
    assert tasks.remove(namespace="a", name="orders") == 2
    assert tasks.remove(namespace="a", name="orders") == 0
    assert tasks.value(namespace="a", name="users", state="RUNNING") == 3
    assert tasks.value(namespace="b", name="orders", state="RUNNING") == 4
    assert 'name="orders",state="FAILED"' not in tasks.render()
    with pytest.raises(ValueError, match=r"unknown labels \['pod'\]"):
        tasks.remove(pod="x")
    assert tasks.remove() == 2
    assert tasks.render().count("\n") == 2


def test_an_unlabelled_metric_starts_at_zero_and_remove_resets_it() -> None:
    gauge = Gauge("g", "h")
    assert gauge.render().endswith("g 0\n")
    gauge.set(7)
    assert gauge.remove() == 1
    assert gauge.value() == 0


def test_invalid_names_are_refused_and_names_are_unique_in_a_registry() -> None:
    with pytest.raises(ValueError, match="invalid metric name"):
        Gauge("has-dash", "h")
    with pytest.raises(ValueError, match="invalid label name"):
        Gauge("g", "h", ("__reserved",))
    with pytest.raises(ValueError, match="duplicate label names"):
        Gauge("g", "h", ("a", "a"))
    registry = Registry()
    Gauge("g", "h", registry=registry)
    with pytest.raises(ValueError, match="already registered"):
        Counter("g", "h", registry=registry)


def test_concurrent_increments_are_not_lost() -> None:
    counter = Counter("c_total", "h", ("k",))
    per_thread = 2000

    def work() -> None:
        for _ in range(per_thread):
            counter.inc(k="x")

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert counter.value(k="x") == 8 * per_thread


def test_the_operator_metrics_are_registered_with_their_labels() -> None:
    text = operator_metrics.REGISTRY.render()
    expected = {
        "kconnect_operator_leader": ("gauge", ()),
        "kconnect_operator_info": ("gauge", ("version",)),
        "kconnect_operator_reconcile_total": ("counter", ("kind", "result")),
        "kconnect_operator_rest_requests_total": ("counter", ("method", "code")),
        "kconnect_operator_connector_ready": ("gauge", ("namespace", "name")),
        "kconnect_operator_connector_tasks": ("gauge", ("namespace", "name", "state")),
        "kconnect_operator_connector_workers_ready": ("gauge", ("namespace", "name")),
        "kconnect_operator_connector_workers_desired": ("gauge", ("namespace", "name")),
        "kconnect_operator_auto_restarts_total": ("counter", ("namespace", "name")),
    }
    for name, (kind, _) in expected.items():
        assert f"# TYPE {name} {kind}\n" in text
    by_name = {
        m.name: m.labelnames
        for m in (
            operator_metrics.LEADER,
            operator_metrics.INFO,
            operator_metrics.RECONCILES,
            operator_metrics.REST_REQUESTS,
            operator_metrics.CONNECTOR_READY,
            operator_metrics.CONNECTOR_TASKS,
            operator_metrics.CONNECTOR_WORKERS_READY,
            operator_metrics.CONNECTOR_WORKERS_DESIRED,
            operator_metrics.AUTO_RESTARTS,
        )
    }
    assert by_name == {name: labels for name, (_, labels) in expected.items()}
    assert 'kconnect_operator_info{version="' in text


def test_forget_connector_drops_only_that_connectors_series() -> None:
    labels = {"namespace": "test-forget", "name": "orders"}
    other = {"namespace": "test-forget", "name": "users"}
    try:
        operator_metrics.CONNECTOR_READY.set(1, **labels)
        operator_metrics.CONNECTOR_TASKS.set(2, state="RUNNING", **labels)
        operator_metrics.CONNECTOR_WORKERS_READY.set(3, **labels)
        operator_metrics.CONNECTOR_WORKERS_DESIRED.set(3, **labels)
        operator_metrics.AUTO_RESTARTS.inc(**labels)
        operator_metrics.CONNECTOR_READY.set(1, **other)
        operator_metrics.forget_connector("test-forget", "orders")
        assert 'name="orders"' not in operator_metrics.REGISTRY.render()
        assert operator_metrics.CONNECTOR_READY.value(**other) == 1
    finally:
        operator_metrics.forget_connector("test-forget", "orders")
        operator_metrics.forget_connector("test-forget", "users")
