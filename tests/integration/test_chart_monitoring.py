"""The chart's monitoring pieces, rendered by the real helm (`helm template`, the control plane's
cached build; no cluster is started):

- `metrics.prometheusRule`: a PrometheusRule holding exactly the rules of
  `files/prometheus/kconnect-rules.yaml` (the file `promtool` tests), with `ruleLabels` added to
  every alert, `disabled` alerts left out and an unknown name refused naming the value;
- `metrics.podMonitor`: a PodMonitor of the worker pods' `metrics` port, in every namespace or
  in `watchNamespaces`, whose selector matches the labels the operator's builders give them;
- `metrics.grafanaDashboard`: a ConfigMap with the sidecar's label holding the dashboard file;
- the operator's ServiceMonitor keeps the series' own `namespace` (`honorLabels`);
- all off by default, and wrong values refused by `values.schema.json` naming the value.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import pytest
import yaml

from kconnect_devenv import controlplane
from kconnect_operator.core.manifests import labels as worker_labels
from kconnect_operator.kafkaconnector.build import Owner as KafkaConnectorOwner
from kconnect_operator.standaloneconnect.build import Owner as StandaloneOwner

pytestmark = pytest.mark.integration

CHART: Final = Path(__file__).resolve().parents[2] / "charts" / "kconnect"
FILES: Final = CHART / "files"


@pytest.fixture(scope="module")
def helm() -> Path:
    return controlplane.build() / "helm"


def template(
    helm: Path, values: Sequence[str], *, check: bool = True
) -> subprocess.CompletedProcess[str]:
    args = [arg for value in values for arg in ("--set", value)]
    result = subprocess.run(
        [str(helm), "template", "mon", str(CHART), "-n", "monitoring", *args],
        env={"PATH": "/usr/bin:/bin", "HOME": "/tmp"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def rendered(helm: Path, values: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    """The rendered objects, by kind."""
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for doc in yaml.safe_load_all(template(helm, values).stdout):
        if doc:
            by_kind.setdefault(doc["kind"], []).append(doc)
    return by_kind


def rule_file() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(
        (FILES / "prometheus" / "kconnect-rules.yaml").read_text("utf-8")
    )
    return loaded


def test_monitoring_objects_are_off_by_default(helm: Path) -> None:
    kinds = rendered(helm, [])
    assert not {"PrometheusRule", "PodMonitor", "ServiceMonitor"} & kinds.keys()
    assert all("dashboard" not in cm["metadata"]["name"] for cm in kinds.get("ConfigMap", []))


def test_the_prometheus_rule_holds_the_rule_file(helm: Path) -> None:
    [rule] = rendered(
        helm, ["metrics.prometheusRule.enabled=true", "metrics.prometheusRule.labels.release=kps"]
    )["PrometheusRule"]
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["metadata"]["namespace"] == "monitoring"
    assert rule["metadata"]["labels"]["release"] == "kps"
    assert rule["spec"] == rule_file()


def test_rule_labels_and_disabled_alerts(helm: Path) -> None:
    [rule] = rendered(
        helm,
        [
            "metrics.prometheusRule.enabled=true",
            "metrics.prometheusRule.ruleLabels.team=data",
            "metrics.prometheusRule.ruleLabels.severity=page",
            "metrics.prometheusRule.disabled={KConnectConnectorNotReady,KConnectTaskFailed}",
        ],
    )["PrometheusRule"]
    alerts = {r["alert"]: r for g in rule["spec"]["groups"] for r in g["rules"]}
    expected = {r["alert"] for g in rule_file()["groups"] for r in g["rules"]}
    assert alerts.keys() == expected - {"KConnectConnectorNotReady", "KConnectTaskFailed"}
    for alert in alerts.values():
        assert alert["labels"] == {"team": "data", "severity": "page"}
    by_name = {r["alert"]: r for g in rule_file()["groups"] for r in g["rules"]}
    for name, alert in alerts.items():
        assert {k: v for k, v in alert.items() if k != "labels"} == {
            k: v for k, v in by_name[name].items() if k != "labels"
        }


def test_an_unknown_disabled_alert_is_refused(helm: Path) -> None:
    result = template(
        helm,
        ["metrics.prometheusRule.enabled=true", "metrics.prometheusRule.disabled={KConnectNope}"],
        check=False,
    )
    assert result.returncode != 0
    assert "metrics.prometheusRule.disabled: no alert KConnectNope; the alerts are" in (
        result.stderr
    )


@pytest.mark.parametrize(
    ("values", "namespaces"),
    [([], {"any": True}), (["watchNamespaces={a,b}"], {"matchNames": ["a", "b"]})],
    ids=["all-namespaces", "watch-namespaces"],
)
def test_the_pod_monitor_selects_the_worker_pods(
    helm: Path, values: list[str], namespaces: dict[str, Any]
) -> None:
    [monitor] = rendered(helm, ["metrics.podMonitor.enabled=true", *values])["PodMonitor"]
    spec = monitor["spec"]
    assert spec["namespaceSelector"] == namespaces
    assert spec["podMetricsEndpoints"] == [
        {"port": "metrics", "path": "/metrics", "interval": "30s"}
    ]
    # Both kinds' worker pods, as the operator's builders label them, and no operator pod.
    selector = spec["selector"]["matchLabels"]
    for owner in (
        KafkaConnectorOwner(name="orders", namespace="a", uid="u"),
        StandaloneOwner(name="jobs", namespace="a", uid="u"),
    ):
        assert selector.items() <= worker_labels(owner).items()
    operator_pods = rendered(helm, [])["Deployment"][0]["spec"]["template"]["metadata"]["labels"]
    assert not selector.items() <= operator_pods.items()


def test_the_dashboard_config_map(helm: Path) -> None:
    configmaps = rendered(
        helm,
        [
            "metrics.grafanaDashboard.enabled=true",
            "metrics.grafanaDashboard.namespace=grafana",
            "metrics.grafanaDashboard.annotations.grafana_folder=Kafka",
        ],
    )["ConfigMap"]
    [dashboard] = [cm for cm in configmaps if cm["metadata"]["name"] == "mon-kconnect-dashboard"]
    assert dashboard["metadata"]["namespace"] == "grafana"
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert dashboard["metadata"]["annotations"] == {"grafana_folder": "Kafka"}
    shipped = (FILES / "grafana" / "kconnect-dashboard.json").read_text("utf-8")
    assert json.loads(dashboard["data"]["kconnect-dashboard.json"]) == json.loads(shipped)


def test_the_service_monitor_keeps_the_series_namespace(helm: Path) -> None:
    [monitor] = rendered(helm, ["metrics.serviceMonitor.enabled=true"])["ServiceMonitor"]
    assert monitor["spec"]["endpoints"][0]["honorLabels"] is True


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("metrics.prometheusRule.enabled=yes", "at '/metrics/prometheusRule/enabled'"),
        ("metrics.prometheusRule.ruleLabel.x=y", "additional properties 'ruleLabel' not allowed"),
        ("metrics.podMonitor.interval=often", "at '/metrics/podMonitor/interval'"),
        (
            "metrics.grafanaDashboard.namespace=Not_A_Namespace",
            "/metrics/grafanaDashboard/namespace",
        ),
    ],
)
def test_wrong_values_are_refused_naming_the_value(helm: Path, value: str, message: str) -> None:
    result = template(helm, [value], check=False)
    assert result.returncode != 0
    assert message in result.stderr


@pytest.mark.parametrize("strict", [False, True], ids=["lint", "lint-strict"])
def test_helm_lint_is_clean_with_everything_on(helm: Path, *, strict: bool) -> None:
    values = [
        "metrics.serviceMonitor.enabled=true",
        "metrics.podMonitor.enabled=true",
        "metrics.prometheusRule.enabled=true",
        "metrics.grafanaDashboard.enabled=true",
    ]
    args = [arg for value in values for arg in ("--set", value)]
    result = subprocess.run(
        [str(helm), "lint", str(CHART), *(["--strict"] if strict else []), *args],
        env={"PATH": "/usr/bin:/bin", "HOME": "/tmp"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 chart(s) linted, 0 chart(s) failed" in result.stdout
    assert "[WARNING]" not in result.stdout
