"""KConnectCluster end to end on the real node: one worker cluster of two pods shared by two
KafkaConnectors that name it, each RUNNING with its records in Kafka; deleting one removes only its
connector, and the other's tasks go on without a restart; a connector that names a cluster that
does not exist yet is Ready=False (`ClusterNotFound`) until the cluster is created.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any, Final

import pytest

from e2e.test_kafkaconnector import (
    READY_TIMEOUT_S,
    ready_condition,
    record_count,
    rest,
    unique,
    wait_condition,
)
from kconnect_devenv.cluster import JsonObject, Kubectl, KubectlError, wait_for

CLUSTER_SELECTOR: Final = "kconnect.io/cluster"
START: Final = re.compile(r"starting task (\S+)")


def cluster_resource(name: str, namespace: str, bootstrap: str, **spec: Any) -> JsonObject:
    return {
        "apiVersion": "kconnect.io/v1alpha1",
        "kind": "KConnectCluster",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"bootstrapServers": bootstrap, **spec},
    }


def shared_connector(name: str, namespace: str, cluster: str, **spec: Any) -> JsonObject:
    return {
        "apiVersion": "kconnect.io/v1alpha1",
        "kind": "KafkaConnector",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"class": "DataGen", "cluster": cluster, **spec},
    }


def cluster_pods(kubectl: Kubectl, namespace: str, cluster: str) -> list[JsonObject]:
    pods = kubectl.items("pods", namespace, f"{CLUSTER_SELECTOR}={cluster}")
    return [p for p in pods if not p["metadata"].get("deletionTimestamp")]


def wait_cluster_ready(
    kubectl: Kubectl, namespace: str, name: str, check: Any = None
) -> JsonObject:
    def ready() -> JsonObject | None:
        obj = kubectl.get("kconnectcluster", name, namespace)
        if ready_condition(obj).get("status") == "True" and (check is None or check(obj)):
            return obj
        return None

    found: JsonObject = wait_for(f"{namespace}/{name} Ready", ready, READY_TIMEOUT_S)
    return found


def task_starts(kubectl: Kubectl, namespace: str, pods: list[JsonObject]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for pod in pods:
        text = kubectl.run("-n", namespace, "logs", pod["metadata"]["name"], "-c", "worker")
        counts.update(START.findall(text))
    return counts


def test_two_connectors_share_one_cluster_and_deleting_one_keeps_the_other_running(
    system: Kubectl, namespace: str, kafka_bootstrap: str
) -> None:
    cluster = unique("shared")
    first, second = unique("orders"), unique("users")
    topics = {first: unique("orders"), second: unique("users")}
    system.apply(cluster_resource(cluster, namespace, kafka_bootstrap, replicas=2))
    for name in (first, second):
        system.apply(
            shared_connector(
                name,
                namespace,
                cluster,
                tasksMax=2,
                config={"topic": topics[name], "schema": "users", "records.per.second": 50},
            )
        )
    for name in (first, second):
        obj = wait_condition(
            system, namespace, name, check=lambda o: o["status"]["tasksReady"] == 2
        )
        assert obj["status"]["connectorState"]["state"] == "RUNNING"
        assert obj["status"]["selector"].endswith(f"{CLUSTER_SELECTOR}={cluster}")
    status = wait_cluster_ready(
        system,
        namespace,
        cluster,
        check=lambda o: (
            sorted(c["name"] for c in o["status"].get("connectors") or [])
            == sorted((first, second))
        ),
    )["status"]
    assert status["workersReady"] == 2
    assert {c["state"] for c in status["connectors"]} == {"RUNNING"}

    # One worker cluster: two pods, its StatefulSet; the connectors have no children of their own.
    pods = cluster_pods(system, namespace, cluster)
    assert len(pods) == 2
    assert system.items("pods", namespace, "kconnect.io/connector") == []
    (workload,) = system.items("statefulset", namespace)
    assert workload["metadata"]["name"] == f"{cluster}-workers"
    assert sorted(rest(pods[0], "/connectors")) == sorted((first, second))
    for name in (first, second):
        config = rest(pods[0], f"/connectors/{name}/config")
        assert config["topic"] == topics[name]
        assert config["consumer.override.group.id"] == f"connect-{namespace}.{name}"
        wait_for(
            f"records in {topics[name]}",
            lambda name=name: record_count(kafka_bootstrap, topics[name]) >= 100,
            60,
        )

    # Deleting one KafkaConnector removes only its connector; the other's tasks keep running on
    # the workers they had, started no more often than before, and its records keep coming.
    tasks_before = {
        t["id"]: t["worker"]
        for t in system.get("kafkaconnector", second, namespace)["status"]["connectorState"][
            "tasks"
        ]
    }
    starts_before = task_starts(system, namespace, pods)
    assert {f"{second}-0", f"{second}-1"} <= set(starts_before)
    system.run("-n", namespace, "delete", "kafkaconnector", first, "--wait=true")
    wait_for(
        f"{first} gone from the workers",
        lambda: sorted(rest(pods[0], "/connectors")) == [second],
        READY_TIMEOUT_S,
    )
    wait_cluster_ready(
        system,
        namespace,
        cluster,
        check=lambda o: [c["name"] for c in o["status"].get("connectors") or []] == [second],
    )
    count = record_count(kafka_bootstrap, topics[second])
    wait_for(
        f"more records in {topics[second]}",
        lambda: record_count(kafka_bootstrap, topics[second]) >= count + 100,
        60,
    )
    obj = wait_condition(system, namespace, second, check=lambda o: o["status"]["tasksReady"] == 2)
    tasks_after = {t["id"]: t["worker"] for t in obj["status"]["connectorState"]["tasks"]}
    assert tasks_after == tasks_before
    starts_after = task_starts(system, namespace, pods)
    # The other connector was not reconfigured or restarted: a config sent again restarts every
    # one of its tasks. (The group's rebalance as the deleted connector's task topic leaves the
    # subscription can, rarely, revoke a task and give it straight back to the same worker, which
    # starts it once more; its place is checked above.)
    again = {
        k for k, v in starts_after.items() if k.startswith(second) and v > starts_before.get(k, 0)
    }
    assert again != {f"{second}-0", f"{second}-1"}, (starts_before, starts_after)
    assert any(
        e["reason"] == "ConnectorDeleted" and first in e["message"]
        for e in system.items("events", namespace)
        if e["involvedObject"].get("kind") == "KConnectCluster"
    )


def test_a_connector_naming_a_missing_cluster_waits_for_it(
    system: Kubectl, namespace: str, kafka_bootstrap: str
) -> None:
    cluster, name, topic = unique("later"), unique("events"), unique("events")
    system.apply(shared_connector(name, namespace, cluster, config={"topic": topic}))
    obj = wait_condition(system, namespace, name, status="False", reason="ClusterNotFound")
    assert f"KConnectCluster '{cluster}' does not exist" in ready_condition(obj)["message"]
    system.apply(cluster_resource(cluster, namespace, kafka_bootstrap, replicas=1))
    wait_condition(system, namespace, name, check=lambda o: o["status"]["tasksReady"] == 1)
    wait_for(f"records in {topic}", lambda: record_count(kafka_bootstrap, topic) > 0, 60)


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ({"replicas": 3}, "spec.replicas must not be set when spec.cluster is set"),
        ({"workerConfig": {"a": "b"}}, "spec.workerConfig must not be set when spec.cluster"),
        ({"image": "x:1"}, "spec.image must not be set when spec.cluster is set"),
    ],
)
def test_the_api_server_refuses_worker_fields_on_a_connector_that_names_a_cluster(
    system: Kubectl, namespace: str, spec: JsonObject, needle: str
) -> None:
    with pytest.raises(KubectlError) as failure:
        system.apply(shared_connector("bad", namespace, "shared", **spec))
    assert needle in failure.value.stderr
