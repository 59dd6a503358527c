"""Autoscaling a KafkaConnector on the real node: a HorizontalPodAutoscaler run by the control
plane's kube-controller-manager acting on the resource's scale subresource, `kubectl scale`, the
connector's tasks following its workers (`tasksPerReplica`), a paused connector held against the
autoscaler, and scaling to zero and back, resuming from the committed offsets.

No one serves this HPA's metric (the external metric KEDA's Kafka scaler would serve): the
cluster has no metrics-server, and KEDA's adapter, installed only while `e2e/test_keda.py` runs
(perhaps beside this file), answers only for its ScaledObjects' metrics (those asked for with a
`scaledobject.keda.sh/name` selector). So the HPA here can only scale within its bounds: below
`minReplicas` it raises the resource to it, and its metric reports `FailedGetExternalMetric`.
What is tested is everything on the resource's side of the scale subresource; lag-driven scaling
by the real KEDA is `e2e/test_keda.py`'s (docs/operator.md#autoscaling).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Final

import pytest
from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from e2e.test_kafkaconnector import (
    READY_TIMEOUT_S,
    TEST_WORKER_IMAGE,
    connector_resource,
    ready_condition,
    rest,
    unique,
    wait_condition,
    worker_pods,
)
from kconnect_devenv.cluster import JsonObject, Kubectl, wait_for

pytestmark = pytest.mark.timeout(900)  # workers started, scaled and resumed several times

HPA_TIMEOUT_S: Final = 120.0
"""The HPA controller syncs every 15 s; a few syncs and a scale of the workers fit in this."""

OUT: Final = "/var/run/kconnect/out"
"""Where the gated sink writes, in the worker pod's private emptyDir: a new pod starts empty."""

STRING_CONVERTERS: Final = {
    "key.converter": "org.apache.kafka.connect.storage.StringConverter",
    "value.converter": "org.apache.kafka.connect.storage.StringConverter",
    "offset.flush.interval.ms": "1000",
}

PLUGIN_ENV: Final = {
    "env": [
        {
            "name": "PYTHONPATH",
            "valueFrom": {"configMapKeyRef": {"name": "test-plugins", "key": "PYTHONPATH"}},
        }
    ]
}


def gated_sink(name: str, namespace: str, bootstrap: str, topic: str, **spec: Any) -> JsonObject:
    """A sink writing `partition offset value` lines to `OUT` in its worker's pod, with its tasks
    following its workers."""
    return connector_resource(
        name,
        namespace,
        bootstrap,
        cls="kconnect_test_plugins:GatedSink",
        image=TEST_WORKER_IMAGE,
        tasksPerReplica=1,
        config={
            "topics": topic,
            "file": OUT,
            "hold": "/var/run/kconnect/never",
            "attempts": "/var/run/kconnect/attempts",
        },
        workerConfig=STRING_CONVERTERS,
        externalConfiguration=PLUGIN_ENV,
        **spec,
    )


def produce(bootstrap: str, topic: str, values: list[str]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap})
    for value in values:
        producer.produce(topic, value=value.encode())
    assert producer.flush(30) == 0


def committed_total(bootstrap: str, group: str, topic: str, partitions: int) -> int:
    """The sum of the group's committed offsets on the topic's partitions (none counts 0)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    request = ConsumerGroupTopicPartitions(
        group, [TopicPartition(topic, p) for p in range(partitions)]
    )
    try:
        result = admin.list_consumer_group_offsets([request])[group].result(timeout=20)
    except Exception:  # a group that does not exist yet
        return 0
    return sum(max(int(tp.offset), 0) for tp in result.topic_partitions)


def written(kubectl: Kubectl, namespace: str, name: str) -> list[str]:
    """The values the sink wrote, over every worker pod's file."""
    values: list[str] = []
    for pod in worker_pods(kubectl, namespace, name):
        text = kubectl.run(
            "-n", namespace, "exec", pod["metadata"]["name"], "-c", "worker", "--",
            "sh", "-c", f"cat {OUT} 2>/dev/null || true",
        )  # fmt: skip
        values += [line.split(" ", 2)[2] for line in text.splitlines() if line.count(" ") >= 2]
    return values


def config_record(bootstrap: str, topic: str, key: str) -> dict[str, Any] | None:
    """The last value of `key` in the config topic `topic` (None when absent or deleted)."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": unique("config-reader"),
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    try:
        partition = TopicPartition(topic, 0)
        _, high = consumer.get_watermark_offsets(partition, timeout=10)
        consumer.assign([TopicPartition(topic, 0, 0)])
        last: dict[str, Any] | None = None
        position = 0
        while position < high:
            message = consumer.poll(10)
            assert message is not None, f"{topic} ended before offset {high}"
            assert message.error() is None, message.error()
            position = int(message.offset() or 0) + 1
            if message.key() == key.encode():
                value = message.value()
                last = json.loads(value) if value else None
        return last
    finally:
        consumer.close()


def hpa(kubectl: Kubectl, namespace: str, name: str) -> JsonObject:
    obj = kubectl.get("hpa", name, namespace)
    assert obj is not None
    return obj


def hpa_condition(obj: JsonObject, kind: str) -> JsonObject:
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if condition["type"] == kind:
            return dict(condition)
    return {}


def tasks_on_workers(name: str, replicas: int) -> Callable[[JsonObject], bool]:
    """The resource runs `replicas` workers and as many RUNNING tasks, spread over all of them."""

    def check(obj: JsonObject) -> bool:
        status = obj["status"]
        tasks = (status.get("connectorState") or {}).get("tasks") or []
        return (
            status["workersReady"] == replicas
            and status["replicas"] == replicas
            and status["tasksReady"] == replicas
            and len(tasks) == replicas
            and len({t["worker"] for t in tasks}) == replicas
        )

    return check


def test_an_hpa_and_kubectl_scale_move_workers_and_tasks_and_a_paused_connector_is_held(
    system: Kubectl, namespace: str, kafka_bootstrap: str, new_topic: Any
) -> None:
    topic = new_topic(partitions=4)
    name = unique("hpa")
    system.apply(gated_sink(name, namespace, kafka_bootstrap, topic, replicas=1))
    wait_condition(system, namespace, name, reason="Running", check=tasks_on_workers(name, 1))

    # The HPA KEDA would make for this resource: scaleTargetRef is the KafkaConnector, its metric
    # the sink group's lag from the external metrics API (which no adapter here serves for it).
    group = f"connect-{namespace}.{name}"
    system.apply(
        {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "scaleTargetRef": {
                    "apiVersion": "kconnect.io/v1alpha1",
                    "kind": "KafkaConnector",
                    "name": name,
                },
                "minReplicas": 2,
                "maxReplicas": 4,
                "metrics": [
                    {
                        "type": "External",
                        "external": {
                            "metric": {
                                "name": "s0-kafka-lag",
                                "selector": {"matchLabels": {"consumerGroup": group}},
                            },
                            "target": {"type": "AverageValue", "averageValue": "100"},
                        },
                    }
                ],
            },
        }
    )
    # Below minReplicas: the HPA controller scales the resource through its scale subresource,
    # and the operator runs two workers with a task each.
    obj = wait_condition(
        system, namespace, name, reason="Running", check=tasks_on_workers(name, 2),
        timeout=HPA_TIMEOUT_S + READY_TIMEOUT_S,
    )  # fmt: skip
    assert obj["spec"]["replicas"] == 2
    pod = worker_pods(system, namespace, name)[0]
    assert rest(pod, f"/connectors/{name}/config")["tasks.max"] == "2"

    # The HPA read the scale subresource: it reports the workers as its current replicas, got
    # the scale, and says its metric is not served.
    def hpa_saw(replicas: int) -> JsonObject | None:
        obj = hpa(system, namespace, name)
        status = obj.get("status") or {}
        able = hpa_condition(obj, "AbleToScale")
        active = hpa_condition(obj, "ScalingActive")
        seen = (
            status.get("currentReplicas") == replicas
            and able.get("status") == "True"
            and active.get("reason") == "FailedGetExternalMetric"
        )
        return obj if seen else None

    seen = wait_for("the HPA to report 2 replicas", lambda: hpa_saw(2), HPA_TIMEOUT_S)
    assert hpa_condition(seen, "AbleToScale")["reason"] in ("SucceededGetScale", "SucceededRescale")
    assert hpa_condition(seen, "ScalingActive")["status"] == "False"

    # kubectl scale, within the HPA's bounds (which, with no metric, leaves it): three workers,
    # three tasks.
    system.run("-n", namespace, "scale", "kafkaconnector", name, "--replicas=3")
    wait_condition(system, namespace, name, reason="Running", check=tasks_on_workers(name, 3))
    pod = worker_pods(system, namespace, name)[0]
    assert rest(pod, f"/connectors/{name}/config")["tasks.max"] == "3"
    wait_for("the HPA to report 3 replicas", lambda: hpa_saw(3), HPA_TIMEOUT_S)

    # Paused, then the autoscaler asks for more: the HPA raises spec.replicas to its new minimum,
    # the workers stay at three, and the connector stays paused.
    system.run("-n", namespace, "patch", "kctr", name, "--type=merge",
               "-p", json.dumps({"spec": {"state": "paused"}}))  # fmt: skip
    wait_condition(system, namespace, name, reason="Paused")
    pods_before = {p["metadata"]["uid"] for p in worker_pods(system, namespace, name)}
    system.run("-n", namespace, "patch", "hpa", name, "--type=merge",
               "-p", json.dumps({"spec": {"minReplicas": 4}}))  # fmt: skip

    def held(obj: JsonObject) -> bool:
        generation = obj["metadata"]["generation"]
        return (
            obj["spec"]["replicas"] == 4
            and obj["status"].get("observedGeneration") == generation
            and "spec.replicas 4 is held at 3 while the connector is paused"
            in ready_condition(obj)["message"]
        )

    obj = wait_condition(
        system, namespace, name, reason="Paused", check=held, timeout=HPA_TIMEOUT_S
    )
    assert obj["status"]["connectorState"]["state"] == "PAUSED"
    assert {t["state"] for t in obj["status"]["connectorState"]["tasks"]} == {"PAUSED"}
    workload = system.get("statefulset", f"{name}-connect", namespace)
    assert workload is not None
    assert workload["spec"]["replicas"] == 3
    assert {p["metadata"]["uid"] for p in worker_pods(system, namespace, name)} == pods_before
    pod = worker_pods(system, namespace, name)[0]
    assert rest(pod, f"/connectors/{name}/config")["tasks.max"] == "3"
    assert rest(pod, f"/connectors/{name}/status")["connector"]["state"] == "PAUSED"

    # Resumed: the workers and the tasks follow the autoscaler's four.
    system.run("-n", namespace, "patch", "kctr", name, "--type=merge",
               "-p", json.dumps({"spec": {"state": "running"}}))  # fmt: skip
    obj = wait_condition(system, namespace, name, reason="Running", check=tasks_on_workers(name, 4))
    assert "held" not in ready_condition(obj)["message"]
    pod = worker_pods(system, namespace, name)[0]
    assert rest(pod, f"/connectors/{name}/config")["tasks.max"] == "4"


def test_scaled_to_zero_keeps_the_connector_in_kafka_and_resumes_from_its_offsets(
    system: Kubectl, namespace: str, kafka_bootstrap: str, new_topic: Any
) -> None:
    topic = new_topic(partitions=2)
    name = unique("zero")
    group = f"connect-{namespace}.{name}"
    first = [f"a{i}" for i in range(20)]
    produce(kafka_bootstrap, topic, first)
    system.apply(gated_sink(name, namespace, kafka_bootstrap, topic, replicas=1))
    wait_condition(system, namespace, name, reason="Running", check=tasks_on_workers(name, 1))
    wait_for(
        "the first 20 records to be written and committed",
        lambda: (
            sorted(written(system, namespace, name)) == sorted(first)
            and committed_total(kafka_bootstrap, group, topic, 2) == 20
        ),
        READY_TIMEOUT_S,
    )

    system.run("-n", namespace, "scale", "kafkaconnector", name, "--replicas=0")

    def scaled_to_zero(obj: JsonObject) -> bool:
        status = obj["status"]
        return bool(status["replicas"] == 0 and status["workersReady"] == 0)

    obj = wait_condition(system, namespace, name, reason="ScaledToZero", check=scaled_to_zero)
    assert "scaled to zero" in ready_condition(obj)["message"]
    assert obj["status"].get("connectorState") is None
    wait_for("the worker pods to be gone", lambda: not system.items(
        "pods", namespace, f"kconnect.io/connector={name}"), READY_TIMEOUT_S)  # fmt: skip
    scale = json.loads(
        system.run(
            "get", "--raw",
            f"/apis/kconnect.io/v1alpha1/namespaces/{namespace}/kafkaconnectors/{name}/scale",
        )
    )  # fmt: skip
    # (The Scale object leaves a count of 0 out.)
    assert (scale["spec"].get("replicas", 0), scale["status"].get("replicas", 0)) == (0, 0)
    assert f"kconnect.io/connector={name}" in scale["status"]["selector"]
    # The connector's config stays in its config topic, as the workers last wrote it.
    stored = config_record(
        kafka_bootstrap, f"kconnect.{namespace}.{name}.configs", f"connector-{name}"
    )
    assert stored is not None
    assert stored["properties"]["topics"] == topic
    assert stored["properties"]["tasks.max"] == "1"

    # Records that arrive while no worker runs wait in Kafka: the group's offsets stay.
    second = [f"b{i}" for i in range(20)]
    produce(kafka_bootstrap, topic, second)
    assert committed_total(kafka_bootstrap, group, topic, 2) == 20

    # Scaled up to two: two tasks, and only the records after the committed offsets are written,
    # each of them.
    system.run("-n", namespace, "scale", "kafkaconnector", name, "--replicas=2")
    wait_condition(system, namespace, name, reason="Running", check=tasks_on_workers(name, 2))
    wait_for(
        "the 20 new records to be written and committed",
        lambda: (
            set(written(system, namespace, name)) == set(second)
            and committed_total(kafka_bootstrap, group, topic, 2) == 40
        ),
        READY_TIMEOUT_S,
    )
    assert not [v for v in written(system, namespace, name) if v.startswith("a")]
    pod = worker_pods(system, namespace, name)[0]
    assert rest(pod, f"/connectors/{name}/config")["tasks.max"] == "2"
