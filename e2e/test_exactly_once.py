"""`spec.exactlyOnce` on the real node: turned on for running workers, the operator rolls them
twice, first to `exactly.once.source.support=preparing` and, only once every worker runs it, to
`enabled`; the source's records then go to Kafka in transactions.

What the test reads is what the workers run: each new worker pod's own copy of its properties
(`/var/run/kconnect/worker.properties`, written by the start script when the pod starts), read
once per pod as it becomes Ready, so the order in which pods of each setting came up is the order
of the rolls. Transactions show on the wire: a transaction's commit marker takes an offset, so
the records a `read_committed` consumer reads after the second roll have gaps between them.
"""

from __future__ import annotations

import itertools
import json
import urllib.request
from typing import Final

import pytest
from confluent_kafka import Consumer, TopicPartition

from e2e.test_kafkaconnector import (
    READY_TIMEOUT_S,
    connector_resource,
    events,
    rest,
    unique,
    wait_condition,
    worker_pods,
)
from kconnect_devenv.cluster import JsonObject, Kubectl, wait_for
from kconnect_operator.core import manifests

pytestmark = pytest.mark.timeout(900)  # two rolls of two pods, one pod at a time

WORKERS: Final = 2
TASKS: Final = 2
ROLLS_TIMEOUT_S: Final = 480.0
"""Two rolls of two pods, each pod drained, started and Ready again."""
KEY: Final = "exactly.once.source.support"
PROPERTIES: Final = f"{manifests.RUNTIME_DIR}/{manifests.CONFIG_KEY}"


def is_ready(pod: JsonObject) -> bool:
    return any(
        c["type"] == "Ready" and c["status"] == "True"
        for c in pod["status"].get("conditions") or []
    )


def running_setting(system: Kubectl, namespace: str, pod: str) -> str:
    """The `exactly.once.source.support` the pod's worker started with (`disabled` unset)."""
    text = system.run("-n", namespace, "exec", pod, "-c", "worker", "--", "cat", PROPERTIES)
    values = [line.split("=", 1)[1] for line in text.splitlines() if line.startswith(f"{KEY}=")]
    return values[-1] if values else "disabled"


def committed_offsets(
    bootstrap: str, topic: str, start: dict[int, int], count: int
) -> dict[int, list[int]]:
    """The offsets of at least `count` records a `read_committed` consumer reads from `start` on,
    by partition, in order."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": unique("committed"),
            "isolation.level": "read_committed",
            "enable.auto.commit": False,
        }
    )
    try:
        consumer.assign([TopicPartition(topic, p, o) for p, o in start.items()])
        seen: dict[int, list[int]] = {p: [] for p in start}

        def enough() -> bool:
            for message in consumer.consume(500, timeout=1):
                if message.error() is None:
                    seen[message.partition()].append(message.offset())
            return sum(len(v) for v in seen.values()) >= count

        wait_for(f"{count} committed records in {topic}", enough, READY_TIMEOUT_S, interval=0)
        return seen
    finally:
        consumer.close()


def high_watermarks(bootstrap: str, topic: str) -> dict[int, int]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": unique("marks")})
    try:
        metadata = consumer.list_topics(topic, timeout=10).topics[topic]
        return {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in metadata.partitions
        }
    finally:
        consumer.close()


def test_turning_exactly_once_on_rolls_the_workers_to_preparing_then_to_enabled(
    system: Kubectl, namespace: str, kafka_bootstrap: str
) -> None:
    name = unique("eos")
    topic = unique("eos")
    system.apply(
        connector_resource(
            name,
            namespace,
            kafka_bootstrap,
            tasksMax=TASKS,
            replicas=WORKERS,
            config={"topic": topic, "records.per.second": "20"},
        )
    )

    def running(obj: JsonObject) -> bool:
        status = obj["status"]
        return status["tasksReady"] == TASKS and status["workersReady"] == WORKERS

    obj = wait_condition(system, namespace, name, check=running)
    assert obj["status"]["exactlyOnce"] == "Disabled"
    first_pods = {p["metadata"]["uid"] for p in worker_pods(system, namespace, name)}
    for pod in worker_pods(system, namespace, name):
        assert running_setting(system, namespace, pod["metadata"]["name"]) == "disabled"

    system.run(
        "-n", namespace, "patch", "kctr", name, "--type=merge",
        "-p", json.dumps({"spec": {"exactlyOnce": True}}),
    )  # fmt: skip

    # Every new worker pod, in the order it became Ready, with the setting it started with; and
    # what the resource's status said meanwhile.
    started: list[tuple[str, str]] = []
    seen: set[str] = set(first_pods)
    phases: list[str] = []

    def rolled_twice() -> bool:
        for pod in worker_pods(system, namespace, name):
            uid = pod["metadata"]["uid"]
            if uid in seen or not is_ready(pod):
                continue
            seen.add(uid)
            pod_name = pod["metadata"]["name"]
            started.append((pod_name, running_setting(system, namespace, pod_name)))
        current = system.get("kafkaconnector", name, namespace) or {}
        phase = (current.get("status") or {}).get("exactlyOnce", "")
        if not phases or phases[-1] != phase:
            phases.append(phase)
        settings = [s for _, s in started]
        return settings.count("enabled") == WORKERS and phase == "Enabled"

    wait_for("the workers to roll to preparing, then to enabled", rolled_twice, ROLLS_TIMEOUT_S)
    # Both workers came up with preparing before any came up with enabled: two rolls, in order.
    assert [s for _, s in started] == ["preparing"] * WORKERS + ["enabled"] * WORKERS, started
    assert phases[phases.index("Preparing") :] == ["Preparing", "Enabled"], phases
    reasons = [
        e["reason"]
        for e in sorted(
            events(system, namespace, name),
            key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "",
        )
        if e["reason"].startswith("ExactlyOnce")
    ]
    assert reasons == ["ExactlyOncePreparing", "ExactlyOnceEnabled"], reasons

    # The connector runs on the enabled workers, and each of them accepts a connector that
    # requires exactly-once (a worker without it refuses, naming its setting).
    obj = wait_condition(system, namespace, name, check=running, timeout=READY_TIMEOUT_S)
    pods = worker_pods(system, namespace, name)
    assert {p["metadata"]["uid"] for p in pods}.isdisjoint(first_pods)
    for pod in pods:
        answer = rest_put_validate(pod, topic)
        errors = [
            e
            for c in answer["configs"]
            if c["value"]["name"] == "exactly.once.support"
            for e in c["value"]["errors"]
        ]
        assert errors == [], (pod["metadata"]["name"], errors)

    # Transactional delivery: the records written from now on, as a read_committed consumer
    # reads them, leave gaps where the commit markers are.
    offsets = committed_offsets(kafka_bootstrap, topic, high_watermarks(kafka_bootstrap, topic), 60)
    gaps = sum(
        1 for partition in offsets.values() for a, b in itertools.pairwise(partition) if b - a > 1
    )
    assert gaps > 0, offsets
    assert rest(pods[0], f"/connectors/{name}/status")["connector"]["state"] == "RUNNING"


def rest_put_validate(pod: JsonObject, topic: str) -> JsonObject:
    body = json.dumps(
        {"connector.class": "DataGen", "topic": topic, "exactly.once.support": "required"}
    ).encode()
    request = urllib.request.Request(
        f"http://{pod['status']['podIP']}:8083/connector-plugins/DataGen/config/validate",
        data=body,
        method="PUT",
        headers={"Content-Type": "application/json"},
    )
    # A generous bound: a worker just rolled on a loaded node may answer slowly, and the answer's
    # content is what is checked, never its speed.
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 (http to a pod)
        answer: JsonObject = json.loads(response.read())
    return answer
