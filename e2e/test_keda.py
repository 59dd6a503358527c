"""Lag-driven autoscaling of a KafkaConnector by the real KEDA, as docs/operator.md#autoscaling
and `examples/connector-autoscaled.yaml` describe it.

KEDA is built from its Go module (:mod:`kconnect_devenv.keda`: the operator and the metrics
adapter, one local image) and installed the way a user installs it, from its own manifests
(`config/minimal`: CRDs, namespace `keda`, RBAC, operator, adapter, APIService), with only the
images and the pull policy changed. The operator makes and rotates the adapter's certificates
and writes their CA into the APIService; the control plane's API server reaches the adapter
through the aggregation layer, and its kube-controller-manager runs the HPA KEDA makes.

KEDA is installed once for this module (`keda`, module-scoped) and removed at its end: the
ScaledObjects first (KEDA's finalizer needs its operator), then the APIService (so that discovery
never names a group nobody serves), then the rest. Only this module pays for it. Its one test
holds every step that needs KEDA: KEDA is one install per cluster, and the steps depend on each
other (a sink scaled up, then down, then woken).

What is tested: KEDA's CRD accepts the documented ScaledObject as it is (server-side dry run with
strict field validation) and rejects a misspelt field; KEDA's Kafka scaler reads the sink group's
lag, serves it as an external metric, wakes a sink at zero, scales its workers to the topic's
partitions through the scale subresource (tasks following), the sink delivers the backlog with
no record lost, KEDA takes it back to zero after its cooldown with the group's offsets kept, and
new records wake it again, delivered from the committed offsets.
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

import pytest
import yaml
from confluent_kafka import Producer

from e2e.test_autoscaling import committed_total, gated_sink, tasks_on_workers, written
from e2e.test_kafkaconnector import (
    READY_TIMEOUT_S,
    ready_condition,
    rest,
    unique,
    wait_condition,
    worker_pods,
)
from kconnect_devenv import keda as keda_build
from kconnect_devenv import node
from kconnect_devenv.cluster import JsonObject, Kubectl, wait_for

pytestmark = pytest.mark.timeout(1200)

EXAMPLE: Final = Path(__file__).resolve().parents[1] / "examples" / "connector-autoscaled.yaml"
KEDA_NAMESPACE: Final = "keda"
APISERVICE: Final = "v1beta1.external.metrics.k8s.io"
KEDA_READY_TIMEOUT_S: Final = 240.0
"""Two pods start, the operator writes the certificates, the adapter serves them."""
SCALE_TIMEOUT_S: Final = 300.0
"""KEDA polls every 5 s here, the HPA syncs every 15 s, and up to four worker pods start."""
SINK_DOWN: Final = "/etc/hostname"
"""A `hold` path that exists in every container (the kubelet mounts it): the gated sink refuses
every record, so the lag stays as produced."""
SINK_UP: Final = "/var/run/kconnect/never"


# -- KEDA, once for the module


def keda_logs(kubectl: Kubectl) -> str:
    tails = []
    for deployment in ("keda-operator", "keda-metrics-apiserver"):
        text = kubectl.run(
            "-n", KEDA_NAMESPACE, "logs", f"deployment/{deployment}", "--tail=40", check=False
        )
        tails.append(f"--- {deployment}\n{text}")
    return "\n".join(tails)


def condition(obj: JsonObject | None, kind: str) -> JsonObject:
    for found in ((obj or {}).get("status") or {}).get("conditions") or []:
        if found["type"] == kind:
            return dict(found)
    return {}


def cluster_object(kubectl: Kubectl, kind: str, name: str) -> JsonObject | None:
    text = kubectl.run("get", kind, name, "-o", "json", "--ignore-not-found")
    return json.loads(text) if text.strip() else None


def keda_ready(kubectl: Kubectl) -> bool:
    deployments = kubectl.items("deployments", KEDA_NAMESPACE)
    available = len(deployments) == 2 and all(
        condition(d, "Available").get("status") == "True" for d in deployments
    )
    service = cluster_object(kubectl, "apiservice", APISERVICE)
    return available and condition(service, "Available").get("status") == "True"


@pytest.fixture(scope="module")
def keda(kubectl: Kubectl, real_node: node.Node) -> Iterator[Kubectl]:
    """KEDA installed from its manifests, its image imported into the node; removed afterwards."""
    node.import_image(real_node, keda_build.image_archive())
    manifests = keda_build.render(kubectl.binary)
    began = time.monotonic()
    try:
        # Server-side: KEDA's CRDs are larger than client-side apply's annotation allows.
        kubectl.run("apply", "--server-side", "-f", "-", stdin=manifests)
        try:
            wait_for("KEDA's operator, adapter and APIService", lambda: keda_ready(kubectl),
                     KEDA_READY_TIMEOUT_S, interval=2)  # fmt: skip
        except AssertionError as error:
            service = cluster_object(kubectl, "apiservice", APISERVICE)
            raise AssertionError(
                f"{error}\nAPIService status: {json.dumps((service or {}).get('status'))}\n"
                f"{keda_logs(kubectl)}"
            ) from None
        print(f"KEDA applied to its APIService Available: {time.monotonic() - began:.0f}s")
        yield kubectl
    finally:
        kubectl.run("delete", "scaledobjects.keda.sh", "--all", "--all-namespaces",
                    "--timeout=50s", check=False)  # fmt: skip
        kubectl.run("delete", "apiservice", APISERVICE, "--ignore-not-found", check=False)
        wait_for("KEDA's APIService to be gone",
                 lambda: cluster_object(kubectl, "apiservice", APISERVICE) is None, 30)  # fmt: skip
        kubectl.run("delete", "-f", "-", "--ignore-not-found", "--timeout=50s",
                    stdin=manifests, check=False)  # fmt: skip
        wait_for("KEDA's namespace to be gone",
                 lambda: cluster_object(kubectl, "namespace", KEDA_NAMESPACE) is None,
                 KEDA_READY_TIMEOUT_S)  # fmt: skip


@contextlib.contextmanager
def keda_log_on_failure(kubectl: Kubectl) -> Iterator[None]:
    try:
        yield
    except AssertionError:
        print(keda_logs(kubectl))
        raise


# -- the documented ScaledObject


def dry_run(kubectl: Kubectl, objects: list[JsonObject]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(kubectl.binary), "apply", "--dry-run=server", "--validate=strict", "-f", "-"],
        input=json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}),
        env=kubectl.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def check_the_documented_scaledobject(kubectl: Kubectl, namespace: str) -> None:
    """KEDA's CRD accepts `examples/connector-autoscaled.yaml` as it is, with no warning, and
    refuses a misspelt field: the validation is strict, nothing is dropped silently."""
    connector, scaled = yaml.safe_load_all(EXAMPLE.read_text("utf-8"))
    for obj in (connector, scaled):
        obj["metadata"]["namespace"] = namespace
    result = dry_run(kubectl, [connector, scaled])
    assert result.returncode == 0, result.stderr
    assert "scaledobject.keda.sh/orders-sink created (server dry run)" in result.stdout
    assert "kafkaconnector.kconnect.io/orders-sink created (server dry run)" in result.stdout
    assert "Warning" not in result.stderr, result.stderr
    misspelt = json.loads(json.dumps(scaled))
    misspelt["spec"]["cooldownPeriods"] = misspelt["spec"].pop("cooldownPeriod")
    result = dry_run(kubectl, [misspelt])
    assert result.returncode != 0
    assert 'unknown field "cooldownPeriods"' in result.stderr, result.stderr


# -- lag-driven scaling


def produce_to(bootstrap: str, topic: str, values: dict[int, list[str]]) -> None:
    """Each partition's values into it, so the lag is spread over the partitions."""
    producer = Producer({"bootstrap.servers": bootstrap})
    for partition, records in values.items():
        for value in records:
            producer.produce(topic, value=value.encode(), partition=partition)
    assert producer.flush(30) == 0


def quantity(text: str) -> float:
    """A Kubernetes quantity as the external metrics API writes a metric value (`200`, `1500m`)."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(m|k|M|G)?", text)
    assert match is not None, f"not a quantity: {text!r}"
    scale = {None: 1.0, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9}[match.group(2)]
    return float(match.group(1)) * scale


def external_metric(kubectl: Kubectl, namespace: str, scaled_object: str) -> float | None:
    """The value the metrics adapter serves for the ScaledObject's first trigger, as its HPA
    reads it, or None while there is none."""
    hpa = kubectl.get("hpa", f"keda-hpa-{scaled_object}", namespace)
    if hpa is None:
        return None
    metric = hpa["spec"]["metrics"][0]["external"]["metric"]["name"]
    selector = quote(f"scaledobject.keda.sh/name={scaled_object}")
    text = kubectl.run(
        "get", "--raw",
        f"/apis/external.metrics.k8s.io/v1beta1/namespaces/{namespace}/{metric}"
        f"?labelSelector={selector}",
        check=False,
    )  # fmt: skip
    if not text.startswith("{"):
        return None
    items = json.loads(text).get("items") or []
    return quantity(items[0]["value"]) if items else None


def scaled_object(
    name: str, bootstrap: str, group: str, topic: str, partitions: int, threshold: int
) -> JsonObject:
    """The documented ScaledObject, with a test's short windows."""
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": name},
        "spec": {
            "scaleTargetRef": {
                "apiVersion": "kconnect.io/v1alpha1",
                "kind": "KafkaConnector",
                "name": name,
            },
            "minReplicaCount": 0,
            "maxReplicaCount": partitions,
            "pollingInterval": 5,
            "cooldownPeriod": 45,
            "advanced": {
                "horizontalPodAutoscalerConfig": {
                    "behavior": {
                        "scaleDown": {
                            "stabilizationWindowSeconds": 30,
                            "policies": [{"type": "Pods", "value": 1, "periodSeconds": 15}],
                        }
                    }
                }
            },
            "triggers": [
                {
                    "type": "kafka",
                    "metadata": {
                        "bootstrapServers": bootstrap,
                        "consumerGroup": group,
                        "topic": topic,
                        "lagThreshold": str(threshold),
                        "activationLagThreshold": "0",
                        "offsetResetPolicy": "earliest",
                        "allowIdleConsumers": "false",
                    },
                }
            ],
        },
    }


def test_keda_accepts_the_example_and_scales_a_sink_on_its_lag_to_its_partitions_and_to_zero(
    keda: Kubectl, system: Kubectl, namespace: str, kafka_bootstrap: str, new_topic: Any
) -> None:
    partitions, per_partition, threshold = 4, 50, 50
    topic = new_topic(partitions=partitions)
    name = unique("keda")
    backlog = [f"a{p}-{i}" for p in range(partitions) for i in range(per_partition)]

    with keda_log_on_failure(keda):
        check_the_documented_scaledobject(keda, namespace)

        # A sink at zero whose system is down, and a backlog: 200 records, so the lag asks for
        # exactly the partitions' four workers (200 / lagThreshold 50), uncapped.
        resource = gated_sink(name, namespace, kafka_bootstrap, topic, replicas=0)
        resource["spec"]["config"]["hold"] = SINK_DOWN
        system.apply(resource)
        obj = wait_condition(system, namespace, name, reason="ScaledToZero")
        group = obj["metadata"]["annotations"]["kconnect.io/sink-group"]
        assert group == f"connect-{namespace}.{name}"
        produce_to(kafka_bootstrap, topic, {p: backlog[p * per_partition :][:per_partition]
                                            for p in range(partitions)})  # fmt: skip

        began = time.monotonic()
        system.apply(
            scaled_object(name, kafka_bootstrap, group, topic, partitions, threshold),
            namespace=namespace,
        )
        # KEDA wakes it (0 -> 1), its HPA raises it to the partitions, and the operator runs
        # four workers with a task each.
        obj = wait_condition(
            system, namespace, name, reason="Running",
            check=tasks_on_workers(name, partitions), timeout=SCALE_TIMEOUT_S,
        )  # fmt: skip
        print(f"backlog to {partitions} workers ready: {time.monotonic() - began:.0f}s")
        assert obj["spec"]["replicas"] == partitions
        pod = worker_pods(system, namespace, name)[0]
        assert rest(pod, f"/connectors/{name}/config")["tasks.max"] == str(partitions)
        so = system.get("scaledobject", name, namespace)
        assert condition(so, "Ready").get("status") == "True", so
        assert condition(so, "Active").get("status") == "True", so
        hpa = system.get("hpa", f"keda-hpa-{name}", namespace)
        assert hpa is not None
        assert hpa["spec"]["scaleTargetRef"] == {
            "apiVersion": "kconnect.io/v1alpha1",
            "kind": "KafkaConnector",
            "name": name,
        }
        assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (1, partitions)
        # The adapter serves the lag through the aggregation layer: nothing is committed yet.
        served = wait_for(
            "the external metric", lambda: external_metric(system, namespace, name), 60
        )
        assert served == len(backlog)

        # The sink system is back: the backlog is delivered, every record of it, and committed.
        system.run("-n", namespace, "patch", "kctr", name, "--type=merge",
                   "-p", json.dumps({"spec": {"config": {"hold": SINK_UP}}}))  # fmt: skip
        delivered: list[str] = []

        def all_delivered() -> bool:
            delivered[:] = written(system, namespace, name)
            return committed_total(kafka_bootstrap, group, topic, partitions) == len(
                backlog
            ) and set(delivered) == set(backlog)

        wait_for("the backlog to be delivered and committed", all_delivered, READY_TIMEOUT_S)
        assert len(delivered) >= len(backlog)
        wait_for("the lag served as 0", lambda: external_metric(system, namespace, name) == 0,
                 60)  # fmt: skip

        # No lag for the cooldown: KEDA scales it to zero; the group keeps its offsets.
        obj = wait_condition(
            system, namespace, name, reason="ScaledToZero", timeout=SCALE_TIMEOUT_S
        )
        assert obj["spec"]["replicas"] == 0
        wait_for("the worker pods to be gone",
                 lambda: not worker_pods(system, namespace, name), READY_TIMEOUT_S)  # fmt: skip
        assert condition(system.get("scaledobject", name, namespace), "Active")["status"] == "False"
        assert committed_total(kafka_bootstrap, group, topic, partitions) == len(backlog)

        # New records wake it: the workers resume from the committed offsets, so they write
        # exactly the new records and nothing of the backlog again.
        fresh = [f"b{p}-{i}" for p in range(partitions) for i in range(5)]
        produce_to(kafka_bootstrap, topic, {p: fresh[p * 5 :][:5] for p in range(partitions)})
        wait_condition(
            system, namespace, name, reason="Running",
            check=lambda o: o["status"]["workersReady"] >= 1, timeout=SCALE_TIMEOUT_S,
        )  # fmt: skip
        wait_for(
            "the new records to be delivered and committed",
            lambda: (
                set(written(system, namespace, name)) == set(fresh)
                and committed_total(kafka_bootstrap, group, topic, partitions)
                == len(backlog) + len(fresh)
            ),
            READY_TIMEOUT_S,
        )
        assert (
            "held" not in ready_condition(system.get("kafkaconnector", name, namespace))["message"]
        )
        system.run("-n", namespace, "delete", "scaledobject", name, "--timeout=50s")
