"""`template` and `rack` end to end on the real node: a KafkaConnector whose pod template sets
labels, annotations, env from a value, a Secret and a ConfigMap, extra volumes and mounts,
tolerations, a PriorityClass and a topology spread over zones goes Ready, and its running pod
carries all of them; with `rack`, the worker's consumer.client.rack is its node's zone label, which
the API server copied onto the pod when it bound it (the PodTopologyLabels admission plugin)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Final

import pytest

from e2e.test_kafkaconnector import connector_resource, unique, wait_condition, worker_pods
from kconnect_devenv.cluster import JsonObject, Kubectl
from kconnect_devenv.operatorrelease import OperatorRelease

ZONE_LABEL: Final = "topology.kubernetes.io/zone"
TOLERATION: Final = {
    "key": "kconnect.io/e2e-dedicated",
    "operator": "Exists",
    "effect": "NoSchedule",
}

POD_FACTS: Final = """
import json, os
facts = {name: os.environ.get(name) for name in ("PLAIN", "FROM_SECRET", "FROM_CM")}
facts["mounted"] = open("/data/settings/greeting").read()
with open("/scratch/probe", "w") as f:
    f.write("ok")
facts["scratch"] = open("/scratch/probe").read()
props = dict(
    line.split("=", 1)
    for line in open("/var/run/kconnect/worker.properties").read().splitlines()
    if "=" in line and not line.startswith("#")
)
facts["rack"] = props.get("consumer.client.rack")
print(json.dumps(facts))
"""


@pytest.fixture
def zone(kubectl: Kubectl) -> Iterator[str]:
    """The node's zone label: its own when it has one, else one set for the test and removed
    after it."""
    (node,) = kubectl.json("get", "nodes")["items"]
    name = node["metadata"]["name"]
    existing = node["metadata"].get("labels", {}).get(ZONE_LABEL)
    if existing:
        yield existing
        return
    kubectl.run("label", "node", name, f"{ZONE_LABEL}=kconnect-e2e-a")
    try:
        yield "kconnect-e2e-a"
    finally:
        kubectl.run("label", "node", name, f"{ZONE_LABEL}-", check=False)


@pytest.fixture
def priority_class(kubectl: Kubectl) -> Iterator[str]:
    name = unique("kconnect-e2e")
    kubectl.apply(
        {
            "apiVersion": "scheduling.k8s.io/v1",
            "kind": "PriorityClass",
            "metadata": {"name": name},
            "value": 1000,
            "globalDefault": False,
        }
    )
    yield name
    kubectl.run("delete", "priorityclass", name, "--wait=false", check=False)


def test_a_templated_rack_aware_connector_runs_with_everything_it_asked_for(
    system: Kubectl,
    operator: OperatorRelease,
    namespace: str,
    kafka_bootstrap: str,
    zone: str,
    priority_class: str,
) -> None:
    system.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "db", "namespace": namespace},
            "stringData": {"password": "s3cret-value"},
        }
    )
    system.apply(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "settings", "namespace": namespace},
            "data": {"region": "eu", "greeting": "hello"},
        }
    )
    name = unique("tpl")
    template: JsonObject = {
        "labels": {"team": "data"},
        "annotations": {"example.com/owner": "data-platform"},
        "tolerations": [TOLERATION],
        "priorityClassName": priority_class,
        "topologySpreadConstraints": [
            {
                "maxSkew": 1,
                "topologyKey": ZONE_LABEL,
                "whenUnsatisfiable": "DoNotSchedule",
                "labelSelector": {"matchLabels": {"kconnect.io/connector": name}},
            }
        ],
        "env": [
            {"name": "PLAIN", "value": "1"},
            {
                "name": "FROM_SECRET",
                "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}},
            },
            {
                "name": "FROM_CM",
                "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "region"}},
            },
        ],
        "volumes": [
            {"name": "scratch", "emptyDir": {"sizeLimit": "8Mi"}},
            {"name": "settings", "configMap": {"name": "settings"}},
        ],
        "volumeMounts": [
            {"name": "scratch", "mountPath": "/scratch", "readOnly": False},
            {"name": "settings", "mountPath": "/data/settings"},
        ],
    }
    system.apply(
        connector_resource(
            name,
            namespace,
            kafka_bootstrap,
            config={"topic": unique("tpl")},
            template=template,
            rack={"topologyKey": ZONE_LABEL},
        )
    )
    wait_condition(system, namespace, name)
    (pod,) = worker_pods(system, namespace, name)
    meta, spec = pod["metadata"], pod["spec"]
    assert meta["labels"]["team"] == "data"
    assert meta["annotations"]["example.com/owner"] == "data-platform"
    # The API server copied the node's zone onto the pod when it bound it.
    assert meta["labels"][ZONE_LABEL] == zone
    assert TOLERATION in spec["tolerations"]
    assert spec["priorityClassName"] == priority_class
    assert spec["priority"] == 1000
    assert spec["topologySpreadConstraints"][0]["topologyKey"] == ZONE_LABEL
    out = system.run(
        "-n", namespace, "exec", meta["name"], "-c", "worker", "--", "python3", "-c", POD_FACTS
    )
    facts = json.loads(out)
    assert facts == {
        "PLAIN": "1",
        "FROM_SECRET": "s3cret-value",
        "FROM_CM": "eu",
        "mounted": "hello",
        "scratch": "ok",
        "rack": zone,
    }
