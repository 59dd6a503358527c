"""StandaloneConnect end to end on the real node: the API server and controller-manager (its
StatefulSet controller makes the pod), the operator from the Helm chart, the pod running the worker
image in a container, and a real Kafka broker.

Survival of the source offsets is tested both ways: with the default ephemeral storage across a
container restart (the worker is killed through the container runtime, the kubelet restarts the
container in the same pod, and the emptyDir with the offsets file stays), and with
`offsetStorage: persistentVolumeClaim` across the deletion of the pod (the StatefulSet makes a new
pod, which mounts the same claim; :mod:`kconnect_devenv.localvolumes` provisions it as a host
directory). In both, the seqs in the topic have no gap and
fewer than twice the records were written, so the source resumed instead of starting over.
"""

from __future__ import annotations

import re
import urllib.request
from typing import Any, Final

import pytest
from confluent_kafka import Consumer, TopicPartition

from e2e.test_kafkaconnector import ready_condition, record_count, rest, unique
from kconnect_devenv import node, processes
from kconnect_devenv.cluster import (
    JsonObject,
    Kubectl,
    KubectlError,
    wait_for,
)

READY_TIMEOUT_S: Final = 150.0
SELECTOR: Final = "kconnect.io/standalone"


def standalone(
    name: str, namespace: str, bootstrap: str, connectors: list[JsonObject]
) -> JsonObject:
    return {
        "apiVersion": "kconnect.io/v1alpha1",
        "kind": "StandaloneConnect",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "bootstrapServers": bootstrap,
            "workerConfig": {"offset.flush.interval.ms": "500"},
            "connectors": connectors,
        },
    }


def datagen(name: str, topic: str, records: int, per_second: int | None = None) -> JsonObject:
    config = {"topic": topic, "max.records": str(records)}
    if per_second is not None:
        config["records.per.second"] = str(per_second)
    return {"name": name, "class": "DataGen", "tasksMax": 1, "config": config}


def wait_ready(kubectl: Kubectl, namespace: str, name: str, check: Any = None) -> JsonObject:
    def matches() -> JsonObject | None:
        obj = kubectl.get("standaloneconnect", name, namespace)
        ok = ready_condition(obj).get("status") == "True"
        return obj if ok and obj is not None and (check is None or check(obj)) else None

    try:
        found: JsonObject = wait_for(f"{namespace}/{name} Ready", matches, READY_TIMEOUT_S)
    except AssertionError as e:
        obj = kubectl.get("standaloneconnect", name, namespace)
        raise AssertionError(f"{e}\nstatus: {(obj or {}).get('status')}") from None
    return found


def the_pod(kubectl: Kubectl, namespace: str, name: str) -> JsonObject:
    pods = [
        p
        for p in kubectl.items("pods", namespace, f"{SELECTOR}={name}")
        if not p["metadata"].get("deletionTimestamp")
    ]
    assert len(pods) == 1, [p["metadata"]["name"] for p in pods]
    return pods[0]


def seqs(bootstrap: str, topic: str) -> list[int]:
    """Every record's seq (its key), in order, duplicates included."""
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": unique("seq"), "enable.auto.commit": False}
    )
    try:
        high = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)[1]
        consumer.assign([TopicPartition(topic, 0, 0)])
        out: list[int] = []
        read = 0
        while read < high:
            msg = consumer.poll(5)
            if msg is None:
                break
            if msg.error():
                continue
            read += 1
            match = re.search(rb"\d+", msg.key() or b"")
            assert match is not None, msg.key()
            out.append(int(match.group()))
        return out
    finally:
        consumer.close()


def kill_container(node_: node.Node, pod: JsonObject, container: str) -> None:
    """SIGKILL the container's first process through the node's runtime (from outside the
    container: its PID 1 ignores a SIGKILL sent from within its own PID namespace)."""
    (status,) = [s for s in pod["status"]["containerStatuses"] if s["name"] == container]
    container_id = status["containerID"].removeprefix("containerd://")
    done = node.ctr(node_, "tasks", "kill", "--signal", "SIGKILL", container_id)
    assert done.returncode == 0, done.stderr


def test_a_standalone_worker_runs_rolls_resumes_and_is_collected(
    system: Kubectl, namespace: str, kafka_bootstrap: str, real_node: node.Node
) -> None:
    name = unique("sa")
    slow, quick, later = unique("slow"), unique("quick"), unique("later")
    resource = standalone(
        name,
        namespace,
        kafka_bootstrap,
        [datagen("slow", slow, 400, per_second=40), datagen("quick", quick, 50)],
    )
    system.apply(resource)
    obj = wait_ready(system, namespace, name)
    status = obj["status"]
    assert status["workersReady"] == 1
    assert status["observedGeneration"] == obj["metadata"]["generation"]
    assert [c["name"] for c in status["connectors"]] == ["quick", "slow"]
    assert {c["state"] for c in status["connectors"]} == {"RUNNING"}
    assert status["connectorsReady"] == 2
    for kind in ("statefulset", "service", "configmap", "networkpolicy"):
        owned = [
            c
            for c in system.items(kind, namespace)
            if any(
                r["uid"] == obj["metadata"]["uid"] for r in c["metadata"].get("ownerReferences", [])
            )
        ]
        assert owned, f"no {kind} owned by {name}"
    assert (
        len([s for s in system.items("service", namespace) if name in s["metadata"]["name"]]) == 2
    )
    wait_for(f"50 records in {quick}", lambda: record_count(kafka_bootstrap, quick) >= 50, 60)

    # Kill the worker mid-run: the kubelet restarts the container in the same pod, and the
    # offsets in the emptyDir let the source resume; no seq is lost, some may repeat.
    pod = the_pod(system, namespace, name)
    pod_name, uid = pod["metadata"]["name"], pod["metadata"]["uid"]
    wait_for(f"some records in {slow}", lambda: record_count(kafka_bootstrap, slow) >= 60, 60)
    kill_container(real_node, pod, "worker")
    wait_for(
        "the container restarted",
        lambda: (
            (system.get("pod", pod_name, namespace) or {})
            .get("status", {})
            .get("containerStatuses", [{}])[0]
            .get("restartCount", 0)
            >= 1
        ),
        90,
    )
    wait_ready(system, namespace, name)
    assert the_pod(system, namespace, name)["metadata"]["uid"] == uid
    wait_for(
        f"seqs 0..399 in {slow}",
        lambda: set(seqs(kafka_bootstrap, slow)) >= set(range(400)),
        120,
    )
    got = seqs(kafka_bootstrap, slow)
    assert set(got) == set(range(400)), "no seq lost and none invented"
    assert len(got) < 800, f"{len(got)} records: the restarted source started over"

    # Replace a connector: the ConfigMap changes, the pod rolls, and the removed connector is
    # gone from the worker.
    resource["spec"]["connectors"] = [
        datagen("slow", slow, 400, per_second=40),
        datagen("later", later, 30),
    ]
    system.apply(resource)
    obj = wait_ready(
        system,
        namespace,
        name,
        check=lambda o: [c["name"] for c in o["status"]["connectors"]] == ["later", "slow"],
    )
    new_pod = the_pod(system, namespace, name)
    assert new_pod["metadata"]["uid"] != uid
    assert sorted(rest(new_pod, "/connectors")) == ["later", "slow"]
    wait_for(f"30 records in {later}", lambda: record_count(kafka_bootstrap, later) >= 30, 60)
    table = system.run("-n", namespace, "get", "ksc", name)
    header, row = table.splitlines()[:2]
    assert header.split()[:2] == ["NAME", "CONNECTORS"]
    assert row.split()[1:5] == ["2", "2", "1", "True"]

    # Deleting the resource collects everything.
    system.run("-n", namespace, "delete", "standaloneconnect", name)
    for kind in ("statefulset", "service", "configmap", "pods"):
        wait_for(
            f"{kind} of {name} collected",
            lambda kind=kind: (
                not [
                    c
                    for c in system.items(kind, namespace)
                    if c["metadata"]["name"].startswith(f"{name}-")
                ]
            ),
            90,
        )


def test_offsets_on_a_claim_survive_the_deletion_of_the_pod(
    system: Kubectl, namespace: str, kafka_bootstrap: str
) -> None:
    name, topic = unique("pvc"), unique("kept")
    total = 400
    resource = standalone(
        name, namespace, kafka_bootstrap, [datagen("kept", topic, total, per_second=40)]
    )
    resource["spec"]["offsetStorage"] = {"type": "persistentVolumeClaim", "size": "64Mi"}
    system.apply(resource)
    wait_ready(system, namespace, name)
    pod = the_pod(system, namespace, name)
    pod_name, uid = pod["metadata"]["name"], pod["metadata"]["uid"]
    claims = [v for v in pod["spec"]["volumes"] if "persistentVolumeClaim" in v]
    assert claims, f"{pod_name} mounts no claim: {pod['spec']['volumes']}"
    claim_name = claims[0]["persistentVolumeClaim"]["claimName"]
    claim = system.get("pvc", claim_name, namespace)
    assert claim is not None
    assert claim["status"]["phase"] == "Bound"
    assert claim["spec"]["resources"]["requests"]["storage"] == "64Mi"

    # Delete the pod mid-run (offsets are flushed every 500 ms): the StatefulSet makes a new pod
    # of the same name, which mounts the same claim and resumes from the stored offsets.
    wait_for(f"some records in {topic}", lambda: record_count(kafka_bootstrap, topic) >= 100, 60)
    system.run("-n", namespace, "delete", "pod", pod_name, "--wait=false")
    before = record_count(kafka_bootstrap, topic)  # all the old pod's: the new one waits for it

    def replaced() -> JsonObject | None:
        pods = [
            p
            for p in system.items("pods", namespace, f"{SELECTOR}={name}")
            if p["metadata"]["uid"] != uid and not p["metadata"].get("deletionTimestamp")
        ]
        return pods[0] if pods else None

    wait_for(f"a new pod for {name}", replaced, 90)
    wait_ready(system, namespace, name, check=lambda _: replaced() is not None)
    new_pod = the_pod(system, namespace, name)
    assert new_pod["metadata"]["uid"] != uid
    new_claims = [v["persistentVolumeClaim"]["claimName"] for v in new_pod["spec"]["volumes"]
                  if "persistentVolumeClaim" in v]  # fmt: skip
    assert new_claims == [claim_name]
    wait_for(
        f"seqs 0..{total - 1} in {topic}",
        lambda: set(seqs(kafka_bootstrap, topic)) >= set(range(total)),
        120,
    )
    got = seqs(kafka_bootstrap, topic)
    assert set(got) == set(range(total)), "no seq lost and none invented"
    assert len(got) < 2 * total, f"{len(got)} records: the new pod's source started over"
    # Starting over would repeat every record written before the deletion; resuming repeats at
    # most those written since the last offset flush.
    assert len(got) - total < before, f"{len(got) - total} repeats of {before}: started over"
    system.run("-n", namespace, "delete", "standaloneconnect", name)


def test_the_api_server_rejects_duplicate_connector_names_and_managed_keys(
    system: Kubectl, namespace: str, kafka_bootstrap: str
) -> None:
    bad = standalone(
        unique("bad"),
        namespace,
        kafka_bootstrap,
        [datagen("a", "t", 1), datagen("a", "u", 1)],
    )
    with pytest.raises(KubectlError, match="connector names must be unique"):
        system.apply(bad)
    bad = standalone(unique("bad"), namespace, kafka_bootstrap, [datagen("a", "t", 1)])
    bad["spec"]["connectors"][0]["config"]["tasks.max"] = "2"
    bad["spec"]["workerConfig"]["offset.storage.file.filename"] = "/var/x"
    with pytest.raises(KubectlError, match=r"tasks\.max"):
        system.apply(bad)


def test_the_network_policy_admits_the_operator_and_the_metrics_scrapers(
    system: Kubectl, namespace: str, kafka_bootstrap: str
) -> None:
    name = unique("sametrics")
    [port] = processes.free_ports(1)
    monitoring = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "mon"}}}
    resource = standalone(name, namespace, kafka_bootstrap, [datagen("gen", unique("m"), 10)])
    resource["spec"]["workerConfig"]["metrics.listener"] = f"http://:{port}"
    resource["spec"]["networkPolicy"] = {"metricsPeers": [monitoring]}
    system.apply(resource)
    wait_ready(system, namespace, name)

    policy = system.get("networkpolicy", f"{name}-standalone", namespace)
    assert policy is not None
    rest_rule, metrics_rule = policy["spec"]["ingress"]
    # The REST API: only the operator's pods, in the operator's namespace.
    assert rest_rule["ports"] == [{"protocol": "TCP", "port": 8083}]
    [operator_peer] = rest_rule["from"]
    assert operator_peer["podSelector"] == {
        "matchLabels": {"app.kubernetes.io/name": "kconnect-operator"}
    }
    # The metrics port: the configured scrapers.
    assert metrics_rule == {"from": [monitoring], "ports": [{"protocol": "TCP", "port": port}]}
    pod = the_pod(system, namespace, name)
    assert {"name": "metrics", "containerPort": port, "protocol": "TCP"} in pod["spec"][
        "containers"
    ][0]["ports"]
    with urllib.request.urlopen(f"http://{pod['status']['podIP']}:{port}/metrics", timeout=10) as r:
        assert b"kconnect" in r.read()
