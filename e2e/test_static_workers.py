"""A KafkaConnector's workers keep stable identities on the real node: a roll moves no task, a
scale-down moves the removed workers' tasks at once.

The workers run in a StatefulSet, each with `group.instance.id` = its pod's name. What the tests
read is what the workers say: the connector's REST status (which worker, by pod IP, runs each
task) and each worker's own log (`assigned|revoked|lost N task partitions`, `starting task
<connector>-<n>`), so a task that moved, even for a moment, shows.
"""

from __future__ import annotations

import json
import re
import urllib.request
from collections import Counter
from typing import Final

import pytest

from e2e.test_kafkaconnector import (
    READY_TIMEOUT_S,
    connector_resource,
    events,
    record_count,
    rest,
    unique,
    wait_condition,
    worker_pods,
)
from kconnect_devenv.cluster import JsonObject, Kubectl, wait_for
from kconnect_operator.core import manifests
from kconnect_operator.kafkaconnector import build as kc_build
from kconnect_operator.kafkaconnector.model import KafkaConnectorSpec

pytestmark = pytest.mark.timeout(900)  # a roll of three pods, one at a time, each drained

TASKS: Final = 6
WORKERS: Final = 3
WORKER_IMAGE: Final = "kconnect-worker:dev"  # the operator's default worker image here
ROLL_TIMEOUT_S: Final = 420.0
"""Three pods replaced one after the other, each drained, started and Ready again."""
ASSIGNMENT: Final = re.compile(r"(assigned|revoked|lost) \d+ task partitions: (\[[^\]]*\])")
START: Final = re.compile(r"starting task (\S+)")


def owners(system: Kubectl, namespace: str, name: str, obj: JsonObject) -> dict[int, str]:
    """Each task's worker pod, by name, from the status's worker ids (`<pod IP>:8083`)."""
    by_ip = {
        f"{p['status'].get('podIP')}:8083": p["metadata"]["name"]
        for p in worker_pods(system, namespace, name)
    }
    return {
        t["id"]: by_ip.get(t["worker"], f"unknown {t['worker']}")
        for t in obj["status"]["connectorState"]["tasks"]
    }


def all_running_on_live_pods(system: Kubectl, namespace: str, name: str, workers: int):  # type: ignore[no-untyped-def]
    def check(obj: JsonObject) -> bool:
        status = obj["status"]
        tasks = (status.get("connectorState") or {}).get("tasks") or []
        placed = owners(system, namespace, name, obj)
        return (
            status["tasksReady"] == TASKS
            and status["workersReady"] == workers
            and len(tasks) == TASKS
            and not any(p.startswith("unknown") for p in placed.values())
        )

    return check


def log(system: Kubectl, namespace: str, pod: str) -> str:
    return system.run("-n", namespace, "logs", pod, "-c", "worker")


def test_a_roll_restarts_one_worker_at_a_time_and_each_gets_exactly_its_own_tasks_back(
    system: Kubectl, namespace: str, kafka_bootstrap: str
) -> None:
    name = unique("static")
    system.apply(
        connector_resource(
            name,
            namespace,
            kafka_bootstrap,
            tasksMax=TASKS,
            replicas=WORKERS,
            config={"topic": unique("static"), "records.per.second": "20"},
        )
    )

    def balanced(obj: JsonObject) -> bool:
        if not all_running_on_live_pods(system, namespace, name, WORKERS)(obj):
            return False
        return sorted(Counter(owners(system, namespace, name, obj).values()).values()) == [2, 2, 2]

    obj = wait_condition(system, namespace, name, check=balanced)
    before = owners(system, namespace, name, obj)
    pods_before = {
        p["metadata"]["name"]: p["metadata"]["uid"] for p in worker_pods(system, namespace, name)
    }
    assert sorted(pods_before) == [f"{name}-connect-{i}" for i in range(WORKERS)]
    workload = system.get("statefulset", f"{name}-connect", namespace)
    assert workload is not None
    assert workload["spec"]["podManagementPolicy"] == "Parallel"
    assert system.get("deployment", f"{name}-connect", namespace) is None

    # A worker-config change rolls the pods (the operator's config hash).
    system.run(
        "-n", namespace, "patch", "kctr", name, "--type=merge",
        "-p", json.dumps({"spec": {"workerConfig": {"offset.flush.interval.ms": "5000"}}}),
    )  # fmt: skip

    # One pod at a time: never two worker pods being replaced at once (missing, terminating, or
    # replaced and not Ready yet). A pod that fails a readiness probe (a slow answer on a loaded
    # node) after the roll has not touched it, or after its replacement was seen Ready (the
    # StatefulSet moves on then), is not being replaced; it is counted apart, and shown.
    most_replacing = 0
    most_unready = 0
    seen_ready: set[str] = set()

    def rolled() -> bool:
        nonlocal most_replacing, most_unready
        pods = worker_pods(system, namespace, name)
        ready = [
            p
            for p in pods
            if any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in p["status"].get("conditions") or []
            )
        ]
        ready_uids = {p["metadata"]["uid"] for p in ready}
        seen_ready.update(ready_uids)
        present = {p["metadata"]["name"]: p for p in pods}

        def being_replaced(pod_name: str, old_uid: str) -> bool:
            pod = present.get(pod_name)
            if pod is None or pod["metadata"].get("deletionTimestamp"):
                return True
            uid = pod["metadata"]["uid"]
            return bool(uid != old_uid and uid not in seen_ready)

        replacing = sum(being_replaced(n, u) for n, u in pods_before.items())
        most_replacing = max(most_replacing, replacing)
        most_unready = max(most_unready, WORKERS - len(ready))
        uids = {p["metadata"]["name"]: p["metadata"]["uid"] for p in ready}
        return len(ready) == WORKERS and all(
            uids.get(n) not in (None, u) for n, u in pods_before.items()
        )

    wait_for("every worker pod to be replaced", rolled, ROLL_TIMEOUT_S, interval=0.25)
    print(f"at most {most_replacing} pod(s) replaced at once, {most_unready} unready at once")
    assert most_replacing <= 1, f"{most_replacing} worker pods were replaced at once"
    obj = wait_condition(
        system, namespace, name, check=all_running_on_live_pods(system, namespace, name, WORKERS)
    )
    after = owners(system, namespace, name, obj)
    assert after == before, (before, after)

    # Each worker's log since its restart: it got its own tasks once, started each once, and no
    # assignment changed while the others restarted after it (the highest ordinal restarts
    # first, so its log spans the two later restarts).
    for pod in sorted(pods_before):
        text = log(system, namespace, pod)
        mine = sorted(f"{name}-{t}" for t, p in before.items() if p == pod)
        starts = Counter(START.findall(text))
        assert starts == Counter(dict.fromkeys(mine, 1)), (pod, mine, text[-3000:])
        changes = ASSIGNMENT.findall(text)
        assert [kind for kind, _ in changes] == ["assigned"], (pod, changes)
    assert any(e["reason"] == "Rolling" for e in events(system, namespace, name))


def test_a_scale_down_moves_the_removed_workers_tasks_at_once(
    system: Kubectl, namespace: str, kafka_bootstrap: str
) -> None:
    """With a session of 10 minutes, the removed workers' tasks could only wait out the wait
    below if their workers kept their seats: they move because the workers leave the group."""
    name = unique("shrink")
    system.apply(
        connector_resource(
            name,
            namespace,
            kafka_bootstrap,
            tasksMax=TASKS,
            replicas=WORKERS,
            config={"topic": unique("shrink"), "records.per.second": "20"},
            workerConfig={"session.timeout.ms": "600000"},
        )
    )
    wait_condition(
        system, namespace, name, check=all_running_on_live_pods(system, namespace, name, WORKERS)
    )
    survivor = f"{name}-connect-0"
    survivor_log_before = log(system, namespace, survivor)

    system.run("-n", namespace, "scale", "kafkaconnector", name, "--replicas=1")

    def moved(obj: JsonObject) -> bool:
        if not all_running_on_live_pods(system, namespace, name, 1)(obj):
            return False
        return set(owners(system, namespace, name, obj).values()) == {survivor}

    wait_condition(system, namespace, name, check=moved, timeout=READY_TIMEOUT_S)
    wait_for(
        "the removed worker pods to be gone",
        lambda: [p["metadata"]["name"] for p in worker_pods(system, namespace, name)] == [survivor],
        READY_TIMEOUT_S,
    )
    workload = system.get("statefulset", f"{name}-connect", namespace)
    assert workload is not None
    assert workload["spec"]["replicas"] == 1
    # The survivor was handed the others' tasks (the group rebalanced at their leave) and kept
    # its own: it revoked nothing.
    text = log(system, namespace, survivor)
    assert text.startswith(survivor_log_before[:200])
    changes = ASSIGNMENT.findall(text[len(survivor_log_before) :])
    assert changes, text
    assert all(kind == "assigned" for kind, _ in changes), changes
    assert not any(e["reason"] == "LeaveGroupFailed" for e in events(system, namespace, name))


def earlier_operators_children(
    resource: JsonObject, uid: str, replicas: int
) -> tuple[JsonObject, JsonObject]:
    """The worker ConfigMap and the worker Deployment an operator from before stable identities
    made: the same worker file, and pods whose start script sets no `group.instance.id` and
    whose container has no preStop hook, in a Deployment owned by the resource."""
    meta = resource["metadata"]
    spec = KafkaConnectorSpec.model_validate(resource["spec"])
    owner = kc_build.Owner(name=meta["name"], namespace=meta["namespace"], uid=uid)
    config_map = kc_build.build_config_map(spec, owner)
    workload = kc_build.build_stateful_set(spec, owner, image=WORKER_IMAGE, secret_versions={})
    template = workload["spec"]["template"]
    (container,) = template["spec"]["containers"]
    container["command"] = ["/bin/sh", "-c", manifests.start_script()]
    del container["lifecycle"]
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": manifests.metadata(owner, kc_build.deployment_name(owner)),
        "spec": {
            "replicas": replicas,
            "selector": workload["spec"]["selector"],
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
            },
            "template": template,
        },
    }
    return config_map, deployment


def test_a_cluster_an_earlier_operator_ran_in_a_deployment_moves_to_the_stateful_set(
    system: Kubectl, namespace: str, kafka_bootstrap: str
) -> None:
    name, topic = unique("moved"), unique("moved")
    resource = connector_resource(
        name,
        namespace,
        kafka_bootstrap,
        tasksMax=4,
        replicas=2,
        config={"topic": topic, "records.per.second": "20"},
    )
    # Another install holds the resource while the earlier operator's cluster is set up by hand.
    resource["metadata"]["annotations"] = {"kconnect.io/operator": "elsewhere/earlier"}
    system.apply(resource)
    obj = system.get("kafkaconnector", name, namespace)
    assert obj is not None
    config_map, deployment = earlier_operators_children(resource, obj["metadata"]["uid"], 2)
    system.apply(config_map)
    system.apply(deployment)

    def ready_old_pods() -> list[JsonObject]:
        pods = [
            p
            for p in worker_pods(system, namespace, name)
            if any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in p["status"].get("conditions") or []
            )
        ]
        return pods if len(pods) == 2 else []

    old_pods = wait_for("the earlier operator's workers", ready_old_pods, READY_TIMEOUT_S)
    connector = {"name": name, "config": {
        "connector.class": "DataGen", "tasks.max": "4", "topic": topic, "records.per.second": "20",
    }}  # fmt: skip
    assert rest_post(old_pods[0], "/connectors", connector) == 201
    wait_for(
        "the tasks on the earlier operator's workers",
        lambda: (
            len(
                [
                    t
                    for t in rest(old_pods[0], f"/connectors/{name}/status")["tasks"]
                    if t["state"] == "RUNNING"
                ]
            )
            == 4
        ),
        READY_TIMEOUT_S,
    )
    records_before = record_count(kafka_bootstrap, topic)

    # The operator takes the resource over: the StatefulSet joins the same group, then the
    # Deployment goes.
    system.run("-n", namespace, "annotate", "kctr", name, "kconnect.io/operator-")

    def moved(obj: JsonObject) -> bool:
        placed = owners(system, namespace, name, obj)
        return (
            system.get("deployment", f"{name}-connect", namespace) is None
            and obj["status"]["tasksReady"] == 4
            and len(placed) == 4
            and set(placed.values()) <= {f"{name}-connect-0", f"{name}-connect-1"}
        )

    wait_condition(system, namespace, name, check=moved, timeout=2 * READY_TIMEOUT_S)
    reasons = [e["reason"] for e in events(system, namespace, name)]
    assert "Migrating" in reasons
    assert "Migrated" in reasons
    assert "DriftRepaired" not in reasons
    # The same connector goes on: its config is the one written before, and records keep coming.
    new_pod = worker_pods(system, namespace, name)[0]
    assert rest(new_pod, f"/connectors/{name}/config")["topic"] == topic
    wait_for(
        "more records from the moved connector",
        lambda: record_count(kafka_bootstrap, topic) > records_before,
        READY_TIMEOUT_S,
    )
    assert {p["metadata"]["uid"] for p in old_pods}.isdisjoint(
        {p["metadata"]["uid"] for p in worker_pods(system, namespace, name)}
    )


def rest_post(pod: JsonObject, path: str, body: JsonObject) -> int:
    request = urllib.request.Request(
        f"http://{pod['status']['podIP']}:8083{path}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (http://, above)
        return int(response.status)
