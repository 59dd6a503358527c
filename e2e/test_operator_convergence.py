"""The operator converges and never blocks, end to end: drift is repaired and reported, only a
resource that needs cleanup carries a finalizer, a large spec runs and is deleted, a changed
ConfigMap rolls the workers with an Event, and the Ready condition names why workers do not run.

The real node runs the pods from the worker image; the operator runs as a pod installed from the
Helm chart. Resources are applied with kubectl, as a user would.
"""

from __future__ import annotations

import json
from typing import Final

from e2e.test_kafkaconnector import (
    READY_TIMEOUT_S,
    connector_resource,
    events,
    ready_condition,
    unique,
    wait_condition,
    worker_pods,
)
from e2e.test_standaloneconnect import datagen, standalone, wait_ready
from kconnect_devenv.cluster import (
    JsonObject,
    Kubectl,
    wait_for,
)
from kconnect_devenv.operatorrelease import OperatorRelease

FINALIZER: Final = "kconnect.io/finalizer"
REPAIR_TIMEOUT_S: Final = 90.0


def create(kubectl: Kubectl, obj: JsonObject) -> None:
    """`kubectl create`: unlike a client-side apply, it keeps no copy of the object in an
    annotation, so an object with a large spec fits."""
    kubectl.run("create", "-f", "-", stdin=json.dumps(obj))


def finalizers(kubectl: Kubectl, kind: str, name: str, namespace: str) -> list[str]:
    obj = kubectl.get(kind, name, namespace) or {}
    return list(obj.get("metadata", {}).get("finalizers") or [])


def messages(kubectl: Kubectl, namespace: str, name: str, reason: str) -> list[str]:
    return [e["message"] for e in events(kubectl, namespace, name) if e["reason"] == reason]


def test_drifted_and_deleted_children_are_put_back_and_reported(
    system: Kubectl, namespace: str, kafka_bootstrap: str
) -> None:
    name = unique("drift")
    system.apply(
        connector_resource(
            name,
            namespace,
            kafka_bootstrap,
            config={"topic": unique("drift"), "records.per.second": "5"},
        )
    )
    wait_condition(system, namespace, name)
    child, config_map = f"{name}-connect", f"{name}-connect-config"
    deployment = system.get("statefulset", child, namespace)
    assert deployment is not None
    image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    properties = (system.get("configmap", config_map, namespace) or {})["data"]["worker.properties"]

    for kind in ("service", "networkpolicy", "poddisruptionbudget"):
        system.run("-n", namespace, "delete", kind, child)
    system.run("-n", namespace, "scale", "statefulset", child, "--replicas=3")
    system.run(
        "-n", namespace, "set", "image", f"statefulset/{child}", "worker=example.invalid/other:1"
    )
    system.run(
        "-n", namespace, "patch", "configmap", config_map, "--type=merge",
        "-p", json.dumps({"data": {"worker.properties": properties + "tampered=1\n"}}),
    )  # fmt: skip

    def restored() -> bool:
        present = all(
            system.get(kind, child, namespace)
            for kind in ("service", "networkpolicy", "poddisruptionbudget")
        )
        current = system.get("statefulset", child, namespace) or {}
        spec = current.get("spec", {})
        data = (system.get("configmap", config_map, namespace) or {}).get("data", {})
        return (
            present
            and spec.get("replicas") == 1
            and spec["template"]["spec"]["containers"][0]["image"] == image
            and data.get("worker.properties") == properties
        )

    wait_for("the children to be put back", restored, REPAIR_TIMEOUT_S)

    def reported() -> list[str]:
        found = " | ".join(messages(system, namespace, name, "DriftRepaired"))
        wanted = (
            f"Service {child} was deleted",
            f"NetworkPolicy {child} was deleted",
            f"PodDisruptionBudget {child} was deleted",
            f"StatefulSet {child} was changed outside the operator",
            f"ConfigMap {config_map} was changed outside the operator",
        )
        return [w for w in wanted if w in found] if all(w in found for w in wanted) else []

    wait_for("a DriftRepaired Event per repair", reported, 30)
    wait_condition(
        system,
        namespace,
        name,
        check=lambda o: o["status"]["workersReady"] == 1 and o["status"]["replicas"] == 1,
    )


def test_only_a_resource_that_needs_cleanup_carries_a_finalizer(
    system: Kubectl, operator: OperatorRelease, namespace: str, kafka_bootstrap: str
) -> None:
    kept, cleaned, solo = unique("retain"), unique("cleanup"), unique("solo")
    system.apply(
        connector_resource(
            kept, namespace, kafka_bootstrap, config={"topic": unique("retain"), "max.records": "5"}
        ),
        connector_resource(
            cleaned,
            namespace,
            kafka_bootstrap,
            deletionPolicy="Delete",
            config={"topic": unique("cleanup"), "max.records": "5"},
        ),
        standalone(solo, namespace, kafka_bootstrap, [datagen("gen", unique("solo"), 5)]),
    )
    wait_for(
        "the finalizer on the Delete resource",
        lambda: FINALIZER in finalizers(system, "kafkaconnector", cleaned, namespace),
        60,
    )
    wait_condition(system, namespace, kept)
    wait_ready(system, namespace, solo)
    operator.wait_passes(namespace, kept, 2)
    assert finalizers(system, "kafkaconnector", kept, namespace) == []
    assert finalizers(system, "standaloneconnect", solo, namespace) == []

    # A resource that no longer needs cleanup loses the finalizer.
    system.run(
        "-n", namespace, "patch", "kctr", cleaned, "--type=merge",
        "-p", json.dumps({"spec": {"deletionPolicy": "Retain"}}),
    )  # fmt: skip
    wait_for(
        "the finalizer to be removed",
        lambda: finalizers(system, "kafkaconnector", cleaned, namespace) == [],
        60,
    )
    # Without a finalizer, deletion waits for nobody.
    system.run("-n", namespace, "delete", "kctr", kept, cleaned, "--timeout=30s")
    system.run("-n", namespace, "delete", "standaloneconnect", solo, "--timeout=30s")


def test_a_large_spec_runs_and_can_be_deleted(
    system: Kubectl, namespace: str, kafka_bootstrap: str
) -> None:
    # Over the 256 KiB that all of an object's annotations may hold together.
    name = unique("large")
    create(
        system,
        connector_resource(
            name,
            namespace,
            kafka_bootstrap,
            deletionPolicy="Delete",
            config={"topic": unique("large"), "max.records": "5", "padding": "x" * 300_000},
        ),
    )
    wait_condition(system, namespace, name)
    assert FINALIZER in finalizers(system, "kafkaconnector", name, namespace)
    system.run("-n", namespace, "delete", "kctr", name, "--wait=false")
    wait_for(
        "the resource to be deleted",
        lambda: system.get("kafkaconnector", name, namespace) is None,
        READY_TIMEOUT_S,
    )


def test_an_oversized_config_is_refused_with_a_clear_message(
    system: Kubectl, namespace: str
) -> None:
    """The API server holds a config map untyped (its values may be YAML numbers and booleans),
    so no CEL rule can sum its sizes: the operator refuses the spec, Ready=False with reason
    InvalidConfig and a Warning Event naming the field and the limit, and makes nothing for it."""
    name = unique("huge")
    resource = connector_resource(
        name, namespace, "kafka:9092", config={"a": "x" * 300_000, "b": "y" * 300_000}
    )
    create(system, resource)
    obj = wait_condition(system, namespace, name, status="False", reason="InvalidConfig")
    message = ready_condition(obj)["message"]
    assert "config is too large" in message
    assert "at most 524288 characters" in message
    assert any("config is too large" in e["message"] for e in events(system, namespace, name))
    assert system.get("statefulset", f"{name}-connect", namespace) is None
    system.run("-n", namespace, "delete", "kctr", name, "--wait=false")


def test_a_config_value_that_is_not_a_setting_is_refused_naming_the_key(
    system: Kubectl, namespace: str
) -> None:
    name = unique("nested")
    resource = connector_resource(
        name, namespace, "kafka:9092", config={"topic": "t", "transforms": ["a", "b"]}
    )
    create(system, resource)
    obj = wait_condition(system, namespace, name, status="False", reason="InvalidConfig")
    message = ready_condition(obj)["message"]
    assert "spec.config.transforms" in message
    assert "expected a string, number or boolean, got a list" in message
    system.run("-n", namespace, "delete", "kctr", name, "--wait=false")


def test_a_changed_config_map_rolls_the_workers_with_an_event(
    system: Kubectl, namespace: str, kafka_bootstrap: str
) -> None:
    name = unique("cmroll")
    settings = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "source-settings", "namespace": namespace},
        "data": {"region": "eu"},
    }
    system.apply(settings)
    system.apply(
        connector_resource(
            name,
            namespace,
            kafka_bootstrap,
            config={"topic": unique("cmroll"), "records.per.second": "5"},
            externalConfiguration={
                "env": [
                    {
                        "name": "REGION",
                        "valueFrom": {
                            "configMapKeyRef": {"name": "source-settings", "key": "region"}
                        },
                    }
                ]
            },
        )
    )
    wait_condition(system, namespace, name)
    pods_before = {p["metadata"]["uid"] for p in worker_pods(system, namespace, name)}

    system.apply({**settings, "data": {"region": "us"}})

    def rolled() -> bool:
        pods = worker_pods(system, namespace, name)
        return bool(pods) and not {p["metadata"]["uid"] for p in pods} & pods_before

    wait_for("the worker pods to roll after the ConfigMap changed", rolled, READY_TIMEOUT_S)
    rolling = wait_for(
        "a Rolling Event naming the ConfigMap",
        lambda: [
            m
            for m in messages(system, namespace, name, "Rolling")
            if "ConfigMap source-settings changed" in m
        ],
        30,
    )
    assert rolling[0].startswith("rolling the worker pods: ")
    wait_condition(system, namespace, name)


def test_a_missing_secret_is_named_in_the_status_and_an_event(
    system: Kubectl, namespace: str, kafka_bootstrap: str
) -> None:
    name = unique("nosecret")
    system.apply(
        connector_resource(
            name,
            namespace,
            kafka_bootstrap,
            config={"topic": unique("nosecret")},
            externalConfiguration={
                "env": [
                    {
                        "name": "PASSWORD",
                        "valueFrom": {"secretKeyRef": {"name": "absent", "key": "password"}},
                    }
                ]
            },
        )
    )
    obj = wait_condition(system, namespace, name, status="False", reason="WorkerFailed")
    message = ready_condition(obj)["message"]
    assert 'secret "absent" not found' in message or "Secret absent does not exist" in message
    warning = wait_for(
        "a WorkerFailed Event",
        lambda: [e for e in events(system, namespace, name) if e["reason"] == "WorkerFailed"],
        30,
    )
    assert warning[0]["type"] == "Warning"
    assert "absent" in warning[0]["message"]


def test_a_crash_looping_worker_says_why(
    system: Kubectl, namespace: str, kafka_bootstrap: str
) -> None:
    name = unique("crash")
    system.apply(
        connector_resource(
            name,
            namespace,
            kafka_bootstrap,
            config={"topic": unique("crash")},
            workerConfig={"value.converter": "nowhere.NoSuchConverter"},
        )
    )
    obj = wait_condition(system, namespace, name, status="False", reason="WorkerFailed")
    message = ready_condition(obj)["message"]
    assert "kconnect: error:" in message
    assert "NoSuchConverter" in message


def test_an_unreachable_kafka_is_named(system: Kubectl, namespace: str) -> None:
    name = unique("nokafka")
    system.apply(connector_resource(name, namespace, "127.0.0.1:1", config={"topic": "t"}))
    obj = wait_condition(system, namespace, name, status="False", reason="WorkerFailed")
    message = ready_condition(obj)["message"]
    assert message.startswith("kconnect: error: cannot reach Kafka at bootstrap.servers=")
    assert "127.0.0.1:1" in message


def test_an_invalid_worker_config_stays_invalid_config(
    system: Kubectl, operator: OperatorRelease, namespace: str, kafka_bootstrap: str
) -> None:
    name = unique("badworker")
    system.apply(
        connector_resource(
            name,
            namespace,
            kafka_bootstrap,
            config={"topic": unique("badworker")},
            workerConfig={"offset.flush.interval.ms": "soon"},
        )
    )
    wait_condition(system, namespace, name, status="False", reason="InvalidConfig")
    operator.wait_passes(namespace, name, 3)
    condition = ready_condition(system.get("kafkaconnector", name, namespace))
    assert condition["reason"] == "InvalidConfig"
    assert "offset.flush.interval.ms" in condition["message"]


def test_a_workload_the_api_server_refuses_is_named(
    system: Kubectl, namespace: str, kafka_bootstrap: str
) -> None:
    name = unique("refused")
    system.apply(
        connector_resource(
            name,
            namespace,
            kafka_bootstrap,
            config={"topic": unique("refused")},
            template={"labels": {"team": "not a valid label value!"}},
        )
    )
    obj = wait_condition(system, namespace, name, status="False", reason="ApplyFailed")
    message = ready_condition(obj)["message"]
    assert message.startswith(f"the API server refused StatefulSet {name}-connect: ")
    assert "not a valid label value!" in message
    wait_for(
        "an ApplyFailed Event",
        lambda: messages(system, namespace, name, "ApplyFailed"),
        30,
    )


def test_a_standalone_connects_children_are_put_back_too(
    system: Kubectl, namespace: str, kafka_bootstrap: str
) -> None:
    name = unique("solo-drift")
    system.apply(
        standalone(name, namespace, kafka_bootstrap, [datagen("gen", unique("solo"), 5, 1)])
    )
    wait_ready(system, namespace, name)
    service, config_map = f"{name}-standalone", f"{name}-standalone-config"
    files = (system.get("configmap", config_map, namespace) or {})["data"]
    system.run("-n", namespace, "delete", "service", service)
    system.run(
        "-n", namespace, "patch", "configmap", config_map, "--type=merge",
        "-p", json.dumps({"data": {"gen.properties": "tampered=1\n"}}),
    )  # fmt: skip

    def restored() -> bool:
        data = (system.get("configmap", config_map, namespace) or {}).get("data")
        return system.get("service", service, namespace) is not None and data == files

    wait_for("the Service and the ConfigMap to be put back", restored, REPAIR_TIMEOUT_S)

    def reported() -> bool:
        found = " | ".join(
            e["message"]
            for e in system.items("events", namespace)
            if e["involvedObject"].get("kind") == "StandaloneConnect"
            and e["involvedObject"].get("name") == name
            and e["reason"] == "DriftRepaired"
        )
        return (
            f"Service {service} was deleted" in found
            and f"ConfigMap {config_map} was changed outside the operator" in found
        )

    wait_for("DriftRepaired Events", reported, 30)


def test_children_nobody_touched_are_left_alone(
    system: Kubectl, operator: OperatorRelease, namespace: str, kafka_bootstrap: str
) -> None:
    """What the API server adds or rewrites (defaults, quantities in canonical form) is not
    drift: an untouched resource's children are not written again, and no repair is reported."""
    name = unique("calm")
    system.apply(
        connector_resource(
            name,
            namespace,
            kafka_bootstrap,
            config={"topic": unique("calm"), "records.per.second": "2"},
            resources={"requests": {"cpu": "0.05", "memory": "64Mi"}, "limits": {"cpu": 1}},
            template={
                "tolerations": [{"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"}],
                "annotations": {"team": "data"},
            },
            externalConfiguration={
                "volumes": [{"name": "plugins", "configMap": {"name": "test-plugins"}}]
            },
        )
    )
    wait_condition(system, namespace, name)
    kinds = {
        "configmap": f"{name}-connect-config",
        "service": f"{name}-connect",
        "poddisruptionbudget": f"{name}-connect",
        "networkpolicy": f"{name}-connect",
        "statefulset": f"{name}-connect",
    }

    # A StatefulSet's and a PodDisruptionBudget's status move with the pods (a readiness probe
    # failing once on a loaded node updates the budget's healthy count): their generation, which
    # only a change of their spec moves, is what the operator would change.
    by_generation = {"statefulset", "poddisruptionbudget"}

    def versions() -> dict[str, str]:
        found = {kind: system.get(kind, child, namespace) or {} for kind, child in kinds.items()}
        return {
            kind: str(obj["metadata"]["generation" if kind in by_generation else "resourceVersion"])
            for kind, obj in found.items()
        }

    before = versions()
    operator.wait_passes(namespace, name, 3)
    assert versions() == before
    assert messages(system, namespace, name, "DriftRepaired") == []
    assert messages(system, namespace, name, "Rolling") == []
