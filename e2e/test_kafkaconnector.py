"""KafkaConnector end to end on the real node: the API server and controller-manager, the operator
installed from the Helm chart, worker pods of the worker image in containers, Services through
kube-proxy, and a real Kafka broker.

Every test applies resources with kubectl, as a user would, and watches what the operator makes
of them: children, pods, the connector on the workers, records in Kafka, and the status.
"""

from __future__ import annotations

import json
import urllib.request
import uuid
from typing import Any, Final

import pytest
from confluent_kafka import (
    Consumer,
    ConsumerGroupTopicPartitions,
    KafkaException,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient

from kconnect_devenv.cluster import (
    JsonObject,
    Kubectl,
    KubectlError,
    wait_for,
)
from kconnect_devenv.operatorrelease import OperatorRelease

READY_TIMEOUT_S: Final = 150.0
TEST_WORKER_IMAGE: Final = "kconnect-worker-test:dev"  # the worker image with tests/plugins
SELECTOR: Final = "kconnect.io/connector"


# --- helpers


def connector_resource(
    name: str, namespace: str, bootstrap: str, *, cls: str = "DataGen", **spec: Any
) -> JsonObject:
    return {
        "apiVersion": "kconnect.io/v1alpha1",
        "kind": "KafkaConnector",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"class": cls, "bootstrapServers": bootstrap, **spec},
    }


def unique(stem: str) -> str:
    return f"{stem}-{uuid.uuid4().hex[:6]}"


def ready_condition(obj: JsonObject | None) -> JsonObject:
    for condition in ((obj or {}).get("status") or {}).get("conditions") or []:
        if condition["type"] == "Ready":
            return dict(condition)
    return {}


def wait_condition(
    kubectl: Kubectl,
    namespace: str,
    name: str,
    *,
    status: str = "True",
    reason: str | None = None,
    timeout: float = READY_TIMEOUT_S,
    check: Any = None,
) -> JsonObject:
    def matches() -> JsonObject | None:
        obj = kubectl.get("kafkaconnector", name, namespace)
        condition = ready_condition(obj)
        ok = condition.get("status") == status and (reason is None or condition["reason"] == reason)
        if ok and obj is not None and (check is None or check(obj)):
            return obj
        return None

    try:
        found: JsonObject = wait_for(
            f"{namespace}/{name} Ready={status} {reason or ''}", matches, timeout
        )
    except AssertionError as e:
        obj = kubectl.get("kafkaconnector", name, namespace)
        raise AssertionError(
            f"{e}\nstatus: {json.dumps((obj or {}).get('status'), indent=1)}"
        ) from None
    return found


def worker_pods(kubectl: Kubectl, namespace: str, name: str) -> list[JsonObject]:
    pods = kubectl.items("pods", namespace, f"{SELECTOR}={name}")
    return [p for p in pods if not p["metadata"].get("deletionTimestamp")]


def rest(pod: JsonObject, path: str) -> Any:
    url = f"http://{pod['status']['podIP']}:8083{path}"
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


def record_count(bootstrap: str, topic: str) -> int:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": unique("count")})
    try:
        metadata = consumer.list_topics(topic, timeout=10).topics.get(topic)
        if metadata is None or metadata.error is not None:
            return 0
        total = 0
        for partition in metadata.partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
            total += high - low
        return total
    finally:
        consumer.close()


def topic_exists(bootstrap: str, topic: str) -> bool:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    return topic in admin.list_topics(timeout=10).topics


def events(kubectl: Kubectl, namespace: str, name: str) -> list[JsonObject]:
    return [
        e
        for e in kubectl.items("events", namespace)
        if e["involvedObject"].get("kind") == "KafkaConnector"
        and e["involvedObject"].get("name") == name
    ]


# --- tests


def test_a_connector_becomes_ready_and_its_records_land_in_kafka(
    system: Kubectl, namespace: str, kafka_bootstrap: str
) -> None:
    name, topic = unique("users"), unique("users")
    system.apply(
        connector_resource(
            name,
            namespace,
            kafka_bootstrap,
            tasksMax=2,
            replicas=2,
            config={"topic": topic, "max.records": "500", "schema": "users"},
        )
    )
    # Both tasks may run on the first ready worker before the second is ready.
    obj = wait_condition(
        system,
        namespace,
        name,
        check=lambda o: o["status"]["tasksReady"] == 2 and o["status"]["workersReady"] == 2,
    )
    status = obj["status"]
    assert status["replicas"] == 2
    assert status["observedGeneration"] == obj["metadata"]["generation"]
    assert status["selector"] == (
        f"app.kubernetes.io/instance={name},app.kubernetes.io/name=kconnect,{SELECTOR}={name}"
    )
    assert status["connectorState"]["state"] == "RUNNING"
    assert {t["state"] for t in status["connectorState"]["tasks"]} == {"RUNNING"}

    pods = worker_pods(system, namespace, name)
    assert len(pods) == 2
    ips = {p["status"]["podIP"] for p in pods}
    assert {t["worker"] for t in status["connectorState"]["tasks"]} <= {f"{ip}:8083" for ip in ips}
    # Every child is owned by the resource, so deleting it collects them.
    for kind in ("statefulset", "service", "configmap", "poddisruptionbudget", "networkpolicy"):
        children = [
            c
            for c in system.items(kind, namespace)
            if any(
                r["uid"] == obj["metadata"]["uid"] for r in c["metadata"].get("ownerReferences", [])
            )
        ]
        assert children, f"no {kind} owned by {name}"
    # The connector config on the workers is the spec's.
    config = rest(pods[0], f"/connectors/{name}/config")
    assert config["topic"] == topic
    assert config["tasks.max"] == "2"
    wait_for(f"500 records in {topic}", lambda: record_count(kafka_bootstrap, topic) >= 500, 60)
    table = system.run("-n", namespace, "get", "kctr", name)
    header, row = table.splitlines()[:2]
    assert header.split() == [
        "NAME",
        "CLASS",
        "STATE",
        "TASKS",
        "READY",
        "WORKERS",
        "READY",
        "READY",
        "AGE",
    ]
    assert row.split()[1:6] == ["DataGen", "RUNNING", "2", "2", "True"]


CONTAINER_FACTS: Final = """
import errno, json
status = dict(l.split(":", 1) for l in open("/proc/1/status").read().splitlines() if ":" in l)
try:
    open("/opt/kconnect/venv/.write-probe", "w").close()
    root = "writable"
except OSError as e:
    root = errno.errorcode[e.errno]
facts = {k: status[k].split() for k in ("Uid", "Gid", "CapEff", "CapPrm", "NoNewPrivs", "Seccomp")}
print(json.dumps({**facts, "venv": root}))
"""


def test_containers_run_with_their_securitycontext_and_the_workers_service_answers_by_name(
    system: Kubectl, operator: OperatorRelease, namespace: str, kafka_bootstrap: str
) -> None:
    """Read in the running containers, not in the specs: the first process runs as 1001:1001 with
    no capability, no privilege escalation and the runtime's seccomp filter, and the root
    filesystem is read-only even where the image's user owns the files (the venv)."""
    name = unique("secctx")
    system.apply(
        connector_resource(name, namespace, kafka_bootstrap, config={"topic": unique("secctx")})
    )
    wait_condition(system, namespace, name)
    (worker,) = worker_pods(system, namespace, name)
    (operator_pod, *_) = operator.pods()
    for pod_namespace, pod, container in (
        (namespace, worker["metadata"]["name"], "worker"),
        (operator.namespace, operator_pod["metadata"]["name"], "operator"),
    ):
        out = system.run(
            "-n", pod_namespace, "exec", pod, "-c", container, "--",
            "python3", "-c", CONTAINER_FACTS,
        )  # fmt: skip
        facts = json.loads(out)
        assert facts["Uid"] == ["1001"] * 4, (container, facts)
        assert facts["Gid"] == ["1001"] * 4, (container, facts)
        assert facts["CapEff"] == ["0000000000000000"], (container, facts)
        assert facts["CapPrm"] == ["0000000000000000"], (container, facts)
        assert facts["NoNewPrivs"] == ["1"], (container, facts)
        assert facts["Seccomp"] == ["2"], (container, facts)  # a filter: RuntimeDefault
        assert facts["venv"] == "EROFS", (container, facts)

    # The workers' Service, by name from a pod: cluster DNS, then kube-proxy to a worker.
    service = system.get("service", f"{name}-connect", namespace)
    assert service is not None
    port = service["spec"]["ports"][0]["port"]
    url = f"http://{name}-connect.{namespace}.svc:{port}/connectors"
    fetch = (
        f"import urllib.request; print(urllib.request.urlopen({url!r}, timeout=10).read().decode())"
    )
    answer = system.run(
        "-n", operator.namespace, "exec", operator_pod["metadata"]["name"], "-c", "operator",
        "--", "python3", "-c", fetch,
    )  # fmt: skip
    assert json.loads(answer) == [name]


def test_scaling_spreads_the_tasks_over_the_new_workers(
    system: Kubectl, operator: OperatorRelease, namespace: str, kafka_bootstrap: str
) -> None:
    name = unique("scale")
    system.apply(
        connector_resource(
            name,
            namespace,
            kafka_bootstrap,
            tasksMax=4,
            replicas=1,
            config={"topic": unique("scale"), "records.per.second": "50"},
        )
    )
    wait_condition(system, namespace, name, check=lambda o: o["status"]["tasksReady"] == 4)
    system.run("-n", namespace, "scale", "kafkaconnector", name, "--replicas=3")

    def spread(obj: JsonObject) -> bool:
        status = obj["status"]
        workers = {t["worker"] for t in status["connectorState"]["tasks"]}
        return status["workersReady"] == 3 and status["tasksReady"] == 4 and len(workers) == 3

    obj = wait_condition(system, namespace, name, check=spread)
    assert obj["spec"]["replicas"] == 3
    workload = system.get("statefulset", f"{name}-connect", namespace)
    assert workload is not None
    assert workload["spec"]["replicas"] == 3
    # The scale subresource reports the workers and selects their pods, for HPA and KEDA.
    scale = json.loads(
        system.run(
            "get",
            "--raw",
            f"/apis/kconnect.io/v1alpha1/namespaces/{namespace}/kafkaconnectors/{name}/scale",
        )
    )
    assert scale["spec"]["replicas"] == 3
    assert scale["status"]["replicas"] == 3
    assert f"{SELECTOR}={name}" in scale["status"]["selector"]
    # The operator's gauges the KConnectWorkersBelowSpec alert compares: ready and asked for.
    labels = f'{{namespace="{namespace}",name="{name}"}}'
    wait_for(
        "the operator's metrics to show 3 of 3 workers",
        lambda: all(
            f"\nkconnect_operator_connector_workers_{kind}{labels} 3" in "\n" + operator.metrics()
            for kind in ("ready", "desired")
        ),
        60,
    )


def test_a_deleted_worker_pod_comes_back_under_its_name_and_gets_its_own_tasks_back(
    system: Kubectl, namespace: str, kafka_bootstrap: str
) -> None:
    """The StatefulSet makes the pod again under its name, which is its worker's
    group.instance.id: the group kept the worker's seat, so its tasks come back to it and the
    other worker's stay where they are."""
    name = unique("failover")
    system.apply(
        connector_resource(
            name,
            namespace,
            kafka_bootstrap,
            tasksMax=2,
            replicas=2,
            config={"topic": unique("failover"), "records.per.second": "50"},
        )
    )

    def placed(obj: JsonObject) -> dict[int, str] | None:
        by_ip = {
            f"{p['status'].get('podIP')}:8083": p["metadata"]["name"]
            for p in worker_pods(system, namespace, name)
        }
        tasks = obj["status"]["connectorState"]["tasks"]
        found = {t["id"]: by_ip.get(t["worker"]) for t in tasks}
        if obj["status"]["tasksReady"] != 2 or None in found.values():
            return None
        return {k: v for k, v in found.items() if v is not None}

    obj = wait_condition(system, namespace, name, check=placed)
    before = placed(obj)
    assert before is not None
    victim = before[0]
    old_uid = next(
        p["metadata"]["uid"]
        for p in worker_pods(system, namespace, name)
        if p["metadata"]["name"] == victim
    )
    system.run("-n", namespace, "delete", "pod", victim, "--wait=false")

    def back(obj: JsonObject) -> bool:
        uids = {
            p["metadata"]["name"]: p["metadata"]["uid"]
            for p in worker_pods(system, namespace, name)
        }
        return uids.get(victim) not in (None, old_uid) and placed(obj) == before

    wait_condition(system, namespace, name, check=back)


def test_a_config_change_keeps_the_pods_and_a_worker_config_change_rolls_them(
    system: Kubectl, namespace: str, kafka_bootstrap: str
) -> None:
    name, first, second = unique("reconfig"), unique("first"), unique("second")
    resource = connector_resource(
        name,
        namespace,
        kafka_bootstrap,
        tasksMax=1,
        replicas=1,
        config={"topic": first, "records.per.second": "20"},
    )
    system.apply(resource)
    wait_condition(system, namespace, name, check=lambda o: o["status"]["tasksReady"] == 1)
    pods_before = {p["metadata"]["uid"] for p in worker_pods(system, namespace, name)}

    system.run(
        "-n", namespace, "patch", "kctr", name, "--type=merge",
        "-p", json.dumps({"spec": {"config": {"topic": second}}}),
    )  # fmt: skip
    wait_for(f"records in {second}", lambda: record_count(kafka_bootstrap, second) > 0, 90)
    obj = wait_condition(system, namespace, name, check=lambda o: o["status"]["tasksReady"] == 1)
    assert obj["status"]["observedGeneration"] == obj["metadata"]["generation"]
    assert {p["metadata"]["uid"] for p in worker_pods(system, namespace, name)} == pods_before
    assert any(e["reason"] == "ConfigApplied" for e in events(system, namespace, name))

    system.run(
        "-n", namespace, "patch", "kctr", name, "--type=merge",
        "-p", json.dumps({"spec": {"workerConfig": {"offset.flush.interval.ms": "5000"}}}),
    )  # fmt: skip

    def rolled() -> bool:
        pods = worker_pods(system, namespace, name)
        uids = {p["metadata"]["uid"] for p in pods}
        return len(pods) == 1 and not uids & pods_before

    wait_for("the worker pods to roll", rolled, READY_TIMEOUT_S)
    wait_condition(system, namespace, name, check=lambda o: o["status"]["tasksReady"] == 1)
    config_map = system.get("configmap", f"{name}-connect-config", namespace)
    assert config_map is not None
    assert "offset.flush.interval.ms=5000" in config_map["data"]["worker.properties"]


def test_pause_resume_and_stop_follow_the_spec(
    system: Kubectl, namespace: str, kafka_bootstrap: str
) -> None:
    name = unique("states")
    system.apply(
        connector_resource(
            name,
            namespace,
            kafka_bootstrap,
            tasksMax=2,
            state="paused",
            config={"topic": unique("states"), "records.per.second": "20"},
        )
    )
    # Created paused: the connector never runs before it is paused, and (as in Kafka Connect)
    # it has no tasks until it is resumed.
    obj = wait_condition(system, namespace, name, reason="Paused")
    assert obj["status"]["connectorState"]["state"] == "PAUSED"
    assert obj["status"]["connectorState"]["tasks"] == []
    pods_before = {p["metadata"]["uid"] for p in worker_pods(system, namespace, name)}

    def set_state(state: str) -> None:
        system.run(
            "-n", namespace, "patch", "kctr", name, "--type=merge",
            "-p", json.dumps({"spec": {"state": state}}),
        )  # fmt: skip

    set_state("running")
    wait_condition(system, namespace, name, reason="Running")
    set_state("stopped")
    obj = wait_condition(system, namespace, name, reason="Stopped")
    assert obj["status"]["connectorState"]["state"] == "STOPPED"
    set_state("running")
    wait_condition(
        system, namespace, name, reason="Running", check=lambda o: o["status"]["tasksReady"] == 2
    )
    assert {p["metadata"]["uid"] for p in worker_pods(system, namespace, name)} == pods_before


def failing_source(
    name: str, namespace: str, bootstrap: str, topic: str, **spec: Any
) -> JsonObject:
    """A source whose task writes 5 records and then fails: each restart adds 5 more."""
    return connector_resource(
        name,
        namespace,
        bootstrap,
        cls="kconnect_test_plugins:FailingSource",
        image=TEST_WORKER_IMAGE,
        tasksMax=1,
        config={"topic": topic, "fail.after": "5"},
        externalConfiguration={
            "env": [
                {
                    "name": "PYTHONPATH",
                    "valueFrom": {"configMapKeyRef": {"name": "test-plugins", "key": "PYTHONPATH"}},
                }
            ]
        },
        **spec,
    )


def test_restart_annotations_restart_and_are_removed(
    system: Kubectl, operator: OperatorRelease, namespace: str, kafka_bootstrap: str
) -> None:
    name, topic = unique("restarts"), unique("restarts")
    system.apply(failing_source(name, namespace, kafka_bootstrap, topic))
    obj = wait_condition(system, namespace, name, status="False", reason="TaskFailed")
    assert "injected failure" in obj["status"]["connectorState"]["tasks"][0]["trace"]
    assert "injected failure" in ready_condition(obj)["message"]
    [failed] = obj["status"]["failedTasks"]
    assert (failed["id"], failed["retryCount"], obj["status"]["failedTasksCount"]) == (0, 0, 1)
    assert "injected failure" in failed["message"]
    wait_for("5 records", lambda: record_count(kafka_bootstrap, topic) == 5, 60)

    for annotation, expected in (
        ("kconnect.io/restart-task=0", 10),
        ("kconnect.io/restart=includeTasks,onlyFailed", 15),
    ):
        system.run("-n", namespace, "annotate", "kctr", name, annotation)
        wait_for(
            f"{expected} records after {annotation}",
            lambda want=expected: record_count(kafka_bootstrap, topic) == want,
            60,
        )

        def removed() -> bool:
            obj = system.get("kafkaconnector", name, namespace) or {}
            keys = obj.get("metadata", {}).get("annotations", {})
            return not any(k.startswith("kconnect.io/restart") for k in keys)

        wait_for(f"{annotation} to be removed", removed, 30)
    assert sum(e["reason"] == "Restarted" for e in events(system, namespace, name)) >= 1
    # Without autoRestart the task stays failed, however often the operator looks at it.
    operator.wait_passes(namespace, name, 3)
    assert record_count(kafka_bootstrap, topic) == 15
    # A restart asked for by annotation is not an automatic one: retryCount does not count it.
    status = system.get("kafkaconnector", name, namespace)["status"]
    assert [(t["id"], t["retryCount"]) for t in status["failedTasks"]] == [(0, 0)]


def test_auto_restart_restarts_a_failing_task_up_to_its_limit(
    system: Kubectl, operator: OperatorRelease, namespace: str, kafka_bootstrap: str
) -> None:
    name, topic = unique("autorestart"), unique("autorestart")
    system.apply(
        failing_source(
            name, namespace, kafka_bootstrap, topic, autoRestart={"enabled": True, "maxRestarts": 2}
        )
    )
    obj = wait_condition(
        system,
        namespace,
        name,
        status="False",
        reason="TaskFailed",
        check=lambda o: (o["status"].get("autoRestart") or {}).get("count") == 2,
    )
    assert obj["status"]["autoRestart"]["lastRestartTime"]
    # The first run and two restarts, 5 records each; then the limit holds.
    wait_for("15 records", lambda: record_count(kafka_bootstrap, topic) == 15, 60)
    assert sum(e["reason"] == "AutoRestarted" for e in events(system, namespace, name)) >= 1
    # Past the limit the operator keeps looking but no longer restarts.
    operator.wait_passes(namespace, name, 3)
    assert record_count(kafka_bootstrap, topic) == 15
    status = system.get("kafkaconnector", name, namespace)["status"]
    assert status["autoRestart"]["count"] == 2
    # Both restarts included the failed task: its retryCount says so.
    assert status["autoRestart"]["tasks"] == [{"id": 0, "count": 2}]
    [failed] = status["failedTasks"]
    assert (failed["id"], failed["retryCount"], status["failedTasksCount"]) == (0, 2, 1)
    assert "injected failure" in failed["message"]


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ({"config": {"connector.class": "X"}}, "config must not contain 'connector.class'"),
        ({"config": {"tasks.max": "3"}}, "config must not contain 'tasks.max'"),
        ({"tasksMax": 0}, "spec.tasksMax"),
        ({"state": "sleeping"}, "spec.state"),
        ({"workerConfig": {"group.id": "theirs"}}, "workerConfig must not set the keys"),
        (
            {"workerConfig": {"rest.extension.classes": "BasicAuthSecurityRestExtension"}},
            "workerConfig must not set rest.extension.classes or admin.listeners",
        ),
        ({"deletionPolicy": "Shred"}, "spec.deletionPolicy"),
    ],
)
def test_the_api_server_rejects_bad_specs(
    system: Kubectl, namespace: str, spec: JsonObject, needle: str
) -> None:
    resource = connector_resource("bad", namespace, "kafka:9092", **spec)
    with pytest.raises(KubectlError) as failure:
        system.apply(resource)
    assert needle in failure.value.stderr


def test_an_invalid_connector_config_surfaces_in_status_and_blocks_nothing_else(
    system: Kubectl, namespace: str, kafka_bootstrap: str
) -> None:
    bad, good = unique("invalid"), unique("valid")
    system.apply(
        connector_resource(
            bad, namespace, kafka_bootstrap, config={"topic": "t", "max.records": "many"}
        ),
        connector_resource(
            good, namespace, kafka_bootstrap, config={"topic": unique("valid"), "max.records": "10"}
        ),
    )
    obj = wait_condition(system, namespace, bad, status="False", reason="InvalidConfig")
    assert "max.records" in ready_condition(obj)["message"]
    warning = wait_for(
        "an InvalidConfig event",
        lambda: [e for e in events(system, namespace, bad) if e["reason"] == "InvalidConfig"],
        30,
    )
    assert warning[0]["type"] == "Warning"
    assert "max.records" in warning[0]["message"]
    wait_condition(system, namespace, good)

    # Fixing the config makes it Ready.
    system.run(
        "-n", namespace, "patch", "kctr", bad, "--type=merge",
        "-p", json.dumps({"spec": {"config": {"max.records": "10"}}}),
    )  # fmt: skip
    wait_condition(system, namespace, bad)


def test_deletion_collects_the_children_and_policy_delete_removes_the_topics(
    system: Kubectl, namespace: str, kafka_bootstrap: str
) -> None:
    kept, removed = unique("kept"), unique("removed")
    system.apply(
        connector_resource(
            kept,
            namespace,
            kafka_bootstrap,
            config={"topic": unique("kept"), "records.per.second": "10"},
        ),
        connector_resource(
            removed,
            namespace,
            kafka_bootstrap,
            deletionPolicy="Delete",
            config={"topic": unique("removed"), "records.per.second": "10"},
        ),
    )
    wait_condition(system, namespace, kept)
    wait_condition(system, namespace, removed)
    internal = {
        n: [f"kconnect.{namespace}.{n}.{suffix}" for suffix in ("configs", "offsets", "status")]
        for n in (kept, removed)
    }
    for topics in internal.values():
        assert all(topic_exists(kafka_bootstrap, t) for t in topics)

    system.run("-n", namespace, "delete", "kctr", kept, removed, "--timeout=120s")

    def children_gone() -> bool:
        return not any(
            system.get(kind, f"{n}-connect", namespace)
            for n in (kept, removed)
            for kind in ("statefulset", "service")
        ) and not worker_pods(system, namespace, kept) + worker_pods(system, namespace, removed)

    wait_for("the children to be collected", children_gone, 120)
    assert not any(topic_exists(kafka_bootstrap, t) for t in internal[removed])
    task_topics = [
        t
        for t in AdminClient({"bootstrap.servers": kafka_bootstrap}).list_topics(timeout=10).topics
        if t.startswith(f"kconnect_{namespace}_")
    ]
    assert not [t for t in task_topics if f"_{removed}-tasks-" in t]
    # Retain keeps the connector's state in Kafka.
    assert all(topic_exists(kafka_bootstrap, t) for t in internal[kept])


def test_a_changed_referenced_secret_rolls_the_worker_pods(
    system: Kubectl, namespace: str, kafka_bootstrap: str
) -> None:
    name = unique("secret")
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "source-credentials", "namespace": namespace},
        "stringData": {"password": "first"},
    }
    system.apply(secret)
    system.apply(
        connector_resource(
            name,
            namespace,
            kafka_bootstrap,
            config={"topic": unique("secret"), "records.per.second": "10"},
            externalConfiguration={
                "env": [
                    {
                        "name": "SOURCE_PASSWORD",
                        "valueFrom": {
                            "secretKeyRef": {"name": "source-credentials", "key": "password"}
                        },
                    }
                ]
            },
        )
    )
    wait_condition(system, namespace, name)
    pods_before = {p["metadata"]["uid"] for p in worker_pods(system, namespace, name)}
    deployment = system.get("statefulset", f"{name}-connect", namespace)
    assert deployment is not None
    hash_before = deployment["spec"]["template"]["metadata"]["annotations"][
        "kconnect.io/config-hash"
    ]

    system.apply({**secret, "stringData": {"password": "second"}})

    def rolled() -> bool:
        pods = worker_pods(system, namespace, name)
        return bool(pods) and not {p["metadata"]["uid"] for p in pods} & pods_before

    wait_for("the worker pods to roll after the Secret changed", rolled, READY_TIMEOUT_S)
    deployment = system.get("statefulset", f"{name}-connect", namespace)
    assert deployment is not None
    assert deployment["spec"]["template"]["metadata"]["annotations"]["kconnect.io/config-hash"] != (
        hash_before
    )
    wait_condition(system, namespace, name)


def test_a_resource_another_install_claimed_is_left_alone_until_handed_over(
    system: Kubectl, operator: OperatorRelease, namespace: str, kafka_bootstrap: str
) -> None:
    name = unique("claimed")
    resource = connector_resource(
        name, namespace, kafka_bootstrap, config={"topic": unique("claimed"), "max.records": "5"}
    )
    resource["metadata"]["annotations"] = {"kconnect.io/operator": "elsewhere/other-kconnect"}
    system.apply(resource)

    refusals = wait_for(
        "an OwnedByAnotherOperator Event",
        lambda: [
            e for e in events(system, namespace, name) if e["reason"] == "OwnedByAnotherOperator"
        ],
        60,
    )
    assert refusals[0]["type"] == "Warning"
    assert "elsewhere/other-kconnect" in refusals[0]["message"]
    operator.wait_passes(namespace, name, 3)
    # Nothing was made or written: no children, no status, the claim untouched.
    assert system.get("statefulset", f"{name}-connect", namespace) is None
    assert system.get("configmap", f"{name}-connect-config", namespace) is None
    obj = system.get("kafkaconnector", name, namespace)
    assert obj is not None
    assert not (obj.get("status") or {}).get("conditions")
    assert obj["metadata"]["annotations"]["kconnect.io/operator"] == "elsewhere/other-kconnect"

    # Handed over: with the claim removed, this install claims the resource and reconciles it.
    system.run("-n", namespace, "annotate", "kctr", name, "kconnect.io/operator-")
    obj = wait_condition(system, namespace, name)
    assert obj["metadata"]["annotations"]["kconnect.io/operator"] == operator.instance


def test_the_file_connectors_run_only_where_the_worker_config_allows_them(
    system: Kubectl, namespace: str, kafka_bootstrap: str
) -> None:
    name = unique("filesink")
    resource = connector_resource(
        name,
        namespace,
        kafka_bootstrap,
        cls="FileStreamSink",
        config={"topics": unique("filesink"), "file": "/dev/null"},
    )
    system.apply(resource)
    obj = wait_condition(system, namespace, name, status="False", reason="InvalidConfig")
    message = ready_condition(obj)["message"]
    assert "disabled on this worker" in message
    assert "file.connectors.enable" in message
    configmap = system.get("configmap", f"{name}-connect-config", namespace)
    assert configmap is not None
    assert "file.connectors.enable=false\n" in configmap["data"]["worker.properties"]

    # Asked for: the workers roll with the key set, and the connector runs.
    resource["spec"]["workerConfig"] = {"file.connectors.enable": "true"}
    system.apply(resource)
    obj = wait_condition(system, namespace, name)
    assert obj["status"]["connectorState"]["state"] == "RUNNING"


def committed(bootstrap: str, group: str, topic: str) -> int:
    """The group's committed offset of partition 0 of `topic` (-1 when none)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    request = ConsumerGroupTopicPartitions(group, [TopicPartition(topic, 0)])
    try:
        result = admin.list_consumer_group_offsets([request])[group].result(timeout=10)
    except KafkaException:
        return -1
    [partition] = result.topic_partitions
    return max(int(partition.offset), -1)  # OFFSET_INVALID (-1001): nothing committed


def test_same_named_sinks_in_two_namespaces_keep_their_own_offsets(
    system: Kubectl, namespace: str, kafka_bootstrap: str, new_topic: Any
) -> None:
    topic = new_topic()
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    for i in range(20):
        producer.produce(topic, value=f"v{i}".encode())
    assert producer.flush(30) == 0
    other = unique("sinkgroups")
    system.run("create", "namespace", other)
    name = unique("sink")
    try:
        for ns, policy in ((namespace, "Delete"), (other, "Retain")):
            system.apply(
                connector_resource(
                    name,
                    ns,
                    kafka_bootstrap,
                    cls="FileStreamSink",
                    deletionPolicy=policy,
                    config={"topics": topic, "file": "/dev/null"},
                    workerConfig={
                        "file.connectors.enable": "true",
                        "offset.flush.interval.ms": "1000",
                        "key.converter": "org.apache.kafka.connect.storage.StringConverter",
                        "value.converter": "org.apache.kafka.connect.storage.StringConverter",
                    },
                )
            )
        groups = {ns: f"connect-{ns}.{name}" for ns in (namespace, other)}
        for ns, group in groups.items():
            wait_condition(system, ns, name)
            obj = system.get("kafkaconnector", name, ns)
            assert obj is not None
            assert obj["metadata"]["annotations"]["kconnect.io/sink-group"] == group
            # Each resource's own group read every record: neither took the other's share.
            wait_for(
                f"{group} to commit all 20 records",
                lambda g=group: committed(kafka_bootstrap, g, topic) == 20,
                READY_TIMEOUT_S,
            )
        assert committed(kafka_bootstrap, f"connect-{name}", topic) == -1

        # Deleting one with deletionPolicy Delete deletes its group, never the other's.
        system.run("-n", namespace, "delete", "kctr", name, "--timeout=120s")
        wait_for(
            f"{groups[namespace]} to be deleted",
            lambda: committed(kafka_bootstrap, groups[namespace], topic) == -1,
            60,
        )
        assert committed(kafka_bootstrap, groups[other], topic) == 20
    finally:
        system.run("delete", "namespace", other, "--wait=false", check=False)


def test_a_resource_an_earlier_operator_ran_keeps_its_sink_group(
    system: Kubectl, namespace: str, kafka_bootstrap: str
) -> None:
    name = unique("legacy")
    resource = connector_resource(
        name, namespace, kafka_bootstrap, config={"topic": unique("legacy"), "max.records": "5"}
    )
    # What an earlier operator left on a resource it handled: kopf's last-handled record (of an
    # older spec, so that this operator sees a change to apply).
    resource["metadata"]["annotations"] = {
        "kconnect.io/last-handled-configuration": json.dumps(
            {"spec": {**resource["spec"], "tasksMax": 2}}
        )
    }
    system.apply(resource)
    obj = wait_condition(system, namespace, name)
    assert obj["metadata"]["annotations"]["kconnect.io/sink-group"] == f"connect-{name}"
    configmap = system.get("configmap", f"{name}-connect-config", namespace)
    assert configmap is not None
    assert f"consumer.group.id=connect-{name}\n" in configmap["data"]["worker.properties"]
