"""Offsets from the resource end to end on the real node: the annotation
`kconnect.io/connector-offsets` lists a connector's offsets into a ConfigMap, alters them from one
and resets them, and `spec.initialOffsets` starts a new connector at given offsets, for a
connector on dedicated workers and one on a shared KConnectCluster.

The source is DataGen with `max.records: 20` and one task: every seq 0..19 lies in slot 0
(`{"datagen.slot": 0}`, whose offset `{"seq": s}` is the last seq made), each record's key is its
seq, and a task resumed from an offset makes the seqs after it. So the seqs in the topic show
where the source resumed after each operation.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any, Final

from e2e.test_kafkaconnector import (
    connector_resource,
    events,
    unique,
    wait_condition,
)
from e2e.test_shared_cluster import cluster_resource, shared_connector, wait_cluster_ready
from e2e.test_standaloneconnect import seqs
from kconnect_devenv.cluster import JsonObject, Kubectl, wait_for
from kconnect_devenv.operatorrelease import OperatorRelease

ANNOTATION: Final = "kconnect.io/connector-offsets"
WAIT_S: Final = 90.0
WORKER_CONFIG: Final = {"offset.flush.interval.ms": "1000"}


def slot0(seq: int) -> dict[str, Any]:
    return {"offsets": [{"partition": {"datagen.slot": 0}, "offset": {"seq": seq}}]}


def put_config_map(kubectl: Kubectl, namespace: str, name: str, text: str) -> None:
    kubectl.apply(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": namespace},
            "data": {"offsets.json": text},
        }
    )


def offsets_condition(obj: JsonObject | None) -> dict[str, Any]:
    for condition in ((obj or {}).get("status") or {}).get("conditions") or []:
        if condition["type"] == "Offsets":
            return dict(condition)
    return {}


def request(
    kubectl: Kubectl, operator: OperatorRelease, namespace: str, name: str, value: str
) -> JsonObject:
    """Annotate the resource with the offsets operation `value`; the resource once the operator
    has removed the annotation and finished that pass (its `Offsets` condition says how it
    went: the status is written at the end of the pass that removed the annotation)."""
    kubectl.run("-n", namespace, "annotate", "--overwrite", "kctr", name, f"{ANNOTATION}={value}")

    def removed() -> JsonObject | None:
        obj = kubectl.get("kafkaconnector", name, namespace)
        annotations = ((obj or {}).get("metadata") or {}).get("annotations") or {}
        return obj if obj is not None and ANNOTATION not in annotations else None

    wait_for(f"{ANNOTATION}={value} to be removed", removed, WAIT_S)
    operator.wait_passes(namespace, name, 1)
    found = kubectl.get("kafkaconnector", name, namespace)
    assert found is not None
    return found


def set_state(kubectl: Kubectl, namespace: str, name: str, state: str) -> None:
    kubectl.run(
        "-n", namespace, "patch", "kctr", name, "--type=merge",
        "-p", json.dumps({"spec": {"state": state}}),
    )  # fmt: skip
    reason = {"running": "Running", "stopped": "Stopped"}[state]
    wait_condition(kubectl, namespace, name, reason=reason, timeout=WAIT_S)


def listed_seq(
    kubectl: Kubectl, operator: OperatorRelease, namespace: str, name: str, config_map: str
) -> int | None:
    """List the offsets into `config_map` and read slot 0's seq from it."""
    obj = request(kubectl, operator, namespace, name, "list")
    assert offsets_condition(obj)["reason"] == "OffsetsListed", offsets_condition(obj)
    listed = kubectl.get("configmap", config_map, namespace) or {}
    body = json.loads(listed["data"]["offsets.json"])
    found = [e["offset"]["seq"] for e in body["offsets"] if e["partition"] == {"datagen.slot": 0}]
    return int(found[0]) if found else None


def wait_seqs(bootstrap: str, topic: str, want: Counter[int]) -> None:
    wait_for(
        f"seqs {sorted(want.elements())} in {topic}",
        lambda: Counter(seqs(bootstrap, topic)) == want,
        WAIT_S,
    )


def offsets_spec() -> dict[str, Any]:
    return {
        "initialOffsets": {"fromConfigMap": {"name": "start"}},
        "listOffsets": {"toConfigMap": {"name": "listed"}},
        "alterOffsets": {"fromConfigMap": {"name": "rewind"}},
    }


def test_offsets_from_the_resource_on_dedicated_workers(
    system: Kubectl, operator: OperatorRelease, namespace: str, kafka_bootstrap: str
) -> None:
    name, topic = unique("offsets"), unique("offsets")
    put_config_map(system, namespace, "start", json.dumps(slot0(4)))
    system.apply(
        connector_resource(
            name,
            namespace,
            kafka_bootstrap,
            config={"topic": topic, "max.records": 20},
            workerConfig=WORKER_CONFIG,
            **offsets_spec(),
        )
    )
    # Created stopped, given seq 4 in slot 0, then resumed: it makes 5..19 only.
    obj = wait_condition(system, namespace, name, reason="Running")
    assert obj["status"]["initialOffsets"] == "Applied"
    assert offsets_condition(obj)["reason"] == "InitialOffsetsApplied"
    made = Counter(range(5, 20))
    wait_seqs(kafka_bootstrap, topic, made)

    # list: the ConfigMap is made, owned by the resource, and holds the committed position
    wait_for(
        "seq 19 listed",
        lambda: listed_seq(system, operator, namespace, name, "listed") == 19,
        WAIT_S,
    )
    listed = system.get("configmap", "listed", namespace) or {}
    (owner,) = listed["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["uid"]) == (
        "KafkaConnector",
        name,
        obj["metadata"]["uid"],
    )

    # alter while running: refused once, named, and the annotation is gone
    put_config_map(system, namespace, "rewind", json.dumps(slot0(14)))
    refused = request(system, operator, namespace, name, "alter")
    condition = offsets_condition(refused)
    assert condition["status"] == "False", condition
    assert "alter needs the connector stopped" in condition["message"]
    assert any(
        e["reason"] == "OffsetsFailed" and e["type"] == "Warning"
        for e in events(system, namespace, name)
    )

    # alter while stopped, from malformed JSON: refused, naming the ConfigMap and the key
    set_state(system, namespace, name, "stopped")
    put_config_map(system, namespace, "rewind", '{"offsets": [')
    condition = offsets_condition(request(system, operator, namespace, name, "alter"))
    assert condition["status"] == "False", condition
    where = "ConfigMap 'rewind' (named by spec.alterOffsets.fromConfigMap), key offsets.json"
    assert f"{where}: not JSON" in condition["message"]

    # alter to seq 14: listed back while stopped, and the source resumes at 15
    put_config_map(system, namespace, "rewind", json.dumps(slot0(14)))
    condition = offsets_condition(request(system, operator, namespace, name, "alter"))
    assert condition["reason"] == "OffsetsAltered", condition
    assert listed_seq(system, operator, namespace, name, "listed") == 14
    set_state(system, namespace, name, "running")
    made += Counter(range(15, 20))
    wait_seqs(kafka_bootstrap, topic, made)

    # reset: the source starts over from seq 0
    set_state(system, namespace, name, "stopped")
    condition = offsets_condition(request(system, operator, namespace, name, "reset"))
    assert condition["reason"] == "OffsetsReset", condition
    assert listed_seq(system, operator, namespace, name, "listed") is None
    set_state(system, namespace, name, "running")
    made += Counter(range(20))
    wait_seqs(kafka_bootstrap, topic, made)


def test_offsets_from_the_resource_on_a_shared_cluster(
    system: Kubectl, operator: OperatorRelease, namespace: str, kafka_bootstrap: str
) -> None:
    cluster, name, topic = unique("offsets"), unique("offsets"), unique("offsets")
    system.apply(cluster_resource(cluster, namespace, kafka_bootstrap, workerConfig=WORKER_CONFIG))
    wait_cluster_ready(system, namespace, cluster)
    put_config_map(system, namespace, "start", json.dumps(slot0(9)))
    system.apply(
        shared_connector(
            name,
            namespace,
            cluster,
            config={"topic": topic, "max.records": 20},
            **offsets_spec(),
        )
    )
    obj = wait_condition(system, namespace, name, reason="Running")
    assert obj["status"]["initialOffsets"] == "Applied"
    made = Counter(range(10, 20))
    wait_seqs(kafka_bootstrap, topic, made)
    wait_for(
        "seq 19 listed",
        lambda: listed_seq(system, operator, namespace, name, "listed") == 19,
        WAIT_S,
    )

    set_state(system, namespace, name, "stopped")
    put_config_map(system, namespace, "rewind", json.dumps(slot0(16)))
    condition = offsets_condition(request(system, operator, namespace, name, "alter"))
    assert condition["reason"] == "OffsetsAltered", condition
    set_state(system, namespace, name, "running")
    made += Counter(range(17, 20))
    wait_seqs(kafka_bootstrap, topic, made)
