"""KConnectCluster and the KafkaConnectors that name it: the models and their CEL rules, the
children (the dedicated workers' builders with a `ClusterOwner`), a shared connector's pass
(`decide.decide` with `spec.cluster`) and the cluster's pass (`decide.decide_cluster`), and what
eight connectors cost in pods and topics, dedicated and shared."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from kconnect.storage.topics import task_topic_name
from kconnect_operator import crdgen
from kconnect_operator.core.actions import (
    ApplyChildren,
    DeleteConnector,
    Note,
    Outcome,
    SendCommand,
    SendConfig,
)
from kconnect_operator.core.options import OperatorOptions
from kconnect_operator.core.shapes import ConnectorStatus, ReadyReason, TaskStatus
from kconnect_operator.kafkaconnector import build
from kconnect_operator.kafkaconnector.decide import (
    ClusterObserved,
    Memory,
    Observed,
    connector_config,
    decide,
    decide_cluster,
    orphaned_connectors,
)
from kconnect_operator.kafkaconnector.model import (
    DEDICATED_ONLY_FIELDS,
    KafkaConnectorSpec,
    KConnectClusterSpec,
    TargetState,
)

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
CLUSTER = build.ClusterOwner(name="shared", namespace="shop", uid="c-1")
ORDERS = build.Owner(name="orders", namespace="shop", uid="u-1")

DEDICATED_VALUES: dict[str, Any] = {
    "bootstrapServers": "kafka:9092",
    "replicas": 2,
    "image": "kconnect:1",
    "tls": {"trustedCertificates": []},
    "authentication": {
        "type": "scram-sha-512",
        "username": "u",
        "passwordSecret": {"secretName": "s", "password": "p"},
    },
    "workerConfig": {"offset.flush.interval.ms": "1000"},
    "groupId": "g",
    "configStorageTopic": "c",
    "offsetStorageTopic": "o",
    "statusStorageTopic": "s",
    "resources": {"limits": {"memory": "1Gi"}},
    "template": {"labels": {"a": "b"}},
    "rack": {"topologyKey": "topology.kubernetes.io/zone"},
    "externalConfiguration": {"volumes": [{"name": "v", "secret": {"secretName": "s"}}]},
    "logging": {"loggers": {"kconnect": "DEBUG"}},
    "networkPolicy": {"metricsPeers": []},
    "exactlyOnce": True,
    "deletionPolicy": "Delete",
    "tasksPerReplica": 2,
}


def shared_spec(**extra: Any) -> KafkaConnectorSpec:
    return KafkaConnectorSpec.model_validate({"class": "DataGen", "cluster": "shared", **extra})


def cluster_spec(**extra: Any) -> KConnectClusterSpec:
    return KConnectClusterSpec.model_validate({"bootstrapServers": "kafka:9092", **extra})


# -- the models and the CRD


def test_every_dedicated_field_has_a_value_to_refuse() -> None:
    assert set(DEDICATED_VALUES) == set(DEDICATED_ONLY_FIELDS)


@pytest.mark.parametrize("field", sorted(DEDICATED_ONLY_FIELDS))
def test_a_connector_on_a_cluster_refuses_each_worker_field_by_name(field: str) -> None:
    with pytest.raises(ValidationError) as info:
        shared_spec(**{field: DEDICATED_VALUES[field]})
    assert f"spec.{field} must not be set when spec.cluster is set" in str(info.value)


def test_a_connector_on_a_cluster_accepts_the_defaults_the_api_server_fills_in() -> None:
    spec = shared_spec(replicas=1, exactlyOnce=False, deletionPolicy="Retain")
    assert spec.shared
    assert spec.bootstrap_servers is None


def test_a_dedicated_connector_still_needs_its_bootstrap_servers() -> None:
    with pytest.raises(ValidationError, match=r"spec\.bootstrapServers is required unless"):
        KafkaConnectorSpec.model_validate({"class": "DataGen"})


@pytest.mark.parametrize("name", ["Shared", "a.b", "-x", "x" * 56])
def test_the_cluster_name_must_name_a_cluster(name: str) -> None:
    with pytest.raises(ValidationError, match="cluster"):
        shared_spec(cluster=name)


def test_the_crd_carries_one_rule_per_refused_field_naming_it() -> None:
    spec = crdgen.openapi_schema(crdgen.KAFKA_CONNECTOR)["properties"]["spec"]
    rules = {r["message"]: r["rule"] for r in spec["x-kubernetes-validations"]}
    for field, test in DEDICATED_ONLY_FIELDS.items():
        (rule,) = [r for m, r in rules.items() if m.startswith(f"spec.{field} must not be set")]
        assert rule == f"!has(self.cluster) || {test}"
    assert "has(self.cluster) == has(oldSelf.cluster)" in rules.values()
    assert spec["properties"]["cluster"]["x-kubernetes-validations"] == [
        {"rule": "self == oldSelf", "message": "cluster is immutable"}
    ]


def test_the_cluster_crd_has_the_worker_fields_and_a_scale_subresource() -> None:
    document = crdgen.crd(crdgen.KCONNECT_CLUSTER)
    assert document["spec"]["names"]["kind"] == "KConnectCluster"
    assert document["spec"]["names"]["shortNames"] == ["kcc"]
    version = document["spec"]["versions"][0]
    assert version["subresources"]["scale"]["specReplicasPath"] == ".spec.replicas"
    props = version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
    # deletionPolicy and tasksPerReplica are the connector's own, for its dedicated workers.
    worker_fields = set(DEDICATED_ONLY_FIELDS) - {"deletionPolicy", "tasksPerReplica"}
    assert worker_fields <= set(props)
    assert not {"class", "config", "tasksMax", "tasksPerReplica", "state", "cluster"} & set(props)
    required = version["schema"]["openAPIV3Schema"]["properties"]["spec"]["required"]
    assert required == ["bootstrapServers"]


# -- the cluster's children: the dedicated builders with a ClusterOwner


def test_the_cluster_children_are_named_apart_from_a_connector_of_the_same_name() -> None:
    same_name = build.Owner(name="shared", namespace="shop", uid="u-2")
    assert build.child_name(CLUSTER) == "shared-workers"
    assert build.child_name(same_name) == "shared-connect"
    assert build.config_map_name(CLUSTER) != build.config_map_name(same_name)
    cluster_props = build.worker_properties(cluster_spec(), CLUSTER)
    connector_props = build.worker_properties(
        KafkaConnectorSpec.model_validate({"class": "X", "bootstrapServers": "kafka:9092"}),
        same_name,
    )
    for key in ("group.id", "config.storage.topic", "offset.storage.topic", "status.storage.topic"):
        assert cluster_props[key] != connector_props[key]
    assert cluster_props["group.id"] == "kconnect-cluster.shop.shared"
    # Each connector names its own sink group: none is worker-wide.
    assert "consumer.group.id" not in cluster_props


def test_the_cluster_statefulset_is_the_dedicated_one_under_the_cluster_s_names() -> None:
    fields = {
        "bootstrapServers": "kafka:9092",
        "replicas": 2,
        "workerConfig": {"offset.flush.interval.ms": "1000"},
        "resources": {"limits": {"memory": "1Gi"}},
    }
    cluster = build.build_stateful_set(
        cluster_spec(**fields), CLUSTER, image="img", secret_versions={}
    )
    dedicated = build.build_stateful_set(
        KafkaConnectorSpec.model_validate({"class": "X", **fields}),
        build.Owner(name="shared", namespace="shop", uid="c-1"),
        image="img",
        secret_versions={},
    )
    assert cluster["metadata"]["name"] == "shared-workers"
    assert cluster["metadata"]["ownerReferences"][0]["kind"] == "KConnectCluster"
    assert cluster["spec"]["selector"]["matchLabels"]["kconnect.io/cluster"] == "shared"
    assert cluster["spec"]["replicas"] == 2
    assert cluster["spec"]["updateStrategy"] == dedicated["spec"]["updateStrategy"]
    assert cluster["spec"]["podManagementPolicy"] == "Parallel"
    (c_container,) = cluster["spec"]["template"]["spec"]["containers"]
    (d_container,) = dedicated["spec"]["template"]["spec"]["containers"]
    assert c_container["resources"] == d_container["resources"]
    assert c_container["lifecycle"] == d_container["lifecycle"]
    assert c_container["command"] == d_container["command"]


# -- a connector on a cluster: its pass


def pod(name: str, ip: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "annotations": {"kconnect.io/config-hash": "h"}},
        "status": {"conditions": [{"type": "Ready", "status": "True"}], "podIP": ip},
    }


WORKERS = [pod("shared-workers-0", "10.0.0.1"), pod("shared-workers-1", "10.0.0.2")]


def running(*tasks: str) -> ConnectorStatus:
    return ConnectorStatus(
        state="RUNNING",
        worker="10.0.0.1:8083",
        tasks=[TaskStatus(id=i, state=t, worker="10.0.0.1:8083") for i, t in enumerate(tasks)],
    )


def shared_observed(**overrides: Any) -> Observed:
    base: dict[str, Any] = {
        "spec": shared_spec(),
        "owner": ORDERS,
        "generation": 1,
        "annotations": {},
        "previous": None,
        "options": OperatorOptions(),
        "secret_versions": {},
        "config_map_versions": {},
        "live": {},
        "pods": WORKERS,
        "memory": Memory(),
        "now": NOW,
        "config": None,
        "connector": None,
        "cluster_replicas": 2,
    }
    base.update(overrides)
    return Observed(**base)


def test_a_connector_on_a_cluster_applies_no_children_and_sends_its_config() -> None:
    decision = decide(shared_observed())
    (send,) = decision.actions
    assert isinstance(send, SendConfig)
    assert send.name == "orders"
    # Its own sink group, as a dedicated connector's workers would name it.
    assert send.config["consumer.override.group.id"] == "connect-shop.orders"
    assert send.config["connector.class"] == "DataGen"
    assert decision.status.selector == (
        "app.kubernetes.io/instance=shared,app.kubernetes.io/name=kconnect,"
        "kconnect.io/cluster=shared"
    )


def test_a_connector_on_a_cluster_keeps_a_sink_group_its_config_names() -> None:
    spec = shared_spec(config={"consumer.override.group.id": "mine"})
    desired = connector_config(spec, "orders", build.connector_sink_group(spec, ORDERS))
    assert desired["consumer.override.group.id"] == "mine"


def test_a_connector_on_a_cluster_is_ready_as_a_dedicated_one_and_sends_nothing_more() -> None:
    spec = shared_spec()
    config = connector_config(spec, "orders", build.connector_sink_group(spec, ORDERS))
    decision = decide(shared_observed(config=config, connector=running("RUNNING", "RUNNING")))
    assert decision.actions == ()
    assert decision.ready
    assert decision.status.workers_ready == 2
    assert decision.status.exactly_once is None


def test_a_connector_on_a_cluster_is_paused_through_the_cluster() -> None:
    spec = shared_spec(state="paused")
    config = connector_config(spec, "orders", build.connector_sink_group(spec, ORDERS))
    decision = decide(shared_observed(spec=spec, config=config, connector=running("RUNNING")))
    assert decision.actions == (SendCommand("orders", "pause"),)
    assert spec.state is TargetState.PAUSED


def test_a_missing_cluster_is_not_ready_with_its_reason_and_nothing_is_sent() -> None:
    decision = decide(shared_observed(cluster_replicas=None, pods=[]))
    assert decision.actions == ()
    (condition,) = decision.status.conditions
    assert condition.status == "False"
    assert condition.reason == ReadyReason.CLUSTER_NOT_FOUND
    assert "KConnectCluster 'shared' does not exist in namespace 'shop'" in condition.message


def test_a_cluster_without_ready_workers_is_named_in_the_reason() -> None:
    decision = decide(shared_observed(pods=[]))
    (condition,) = decision.status.conditions
    assert condition.reason == ReadyReason.WORKERS_NOT_READY
    assert condition.message == "0/2 KConnectCluster shared's worker pods are ready"


# -- the cluster's pass


def cluster_observed(**overrides: Any) -> ClusterObserved:
    base: dict[str, Any] = {
        "spec": cluster_spec(replicas=2),
        "owner": CLUSTER,
        "generation": 3,
        "previous": None,
        "options": OperatorOptions(),
        "secret_versions": {},
        "config_map_versions": {},
        "live": {},
        "pods": WORKERS,
        "now": NOW,
        "connectors": {"orders": running("RUNNING"), "users": running("RUNNING", "FAILED")},
        "named": frozenset({"orders", "users"}),
    }
    base.update(overrides)
    return ClusterObserved(**base)


def test_the_cluster_applies_its_children_and_reports_its_connectors() -> None:
    decision = decide_cluster(cluster_observed())
    assert [type(a) for a in decision.actions] == [ApplyChildren]
    assert decision.ready
    status = decision.status
    assert status.workers_ready == 2
    assert status.observed_generation == 3
    assert [(c.name, c.state, c.tasks, c.tasks_running) for c in status.connectors or []] == [
        ("orders", "RUNNING", 1, 1),
        ("users", "RUNNING", 2, 1),
    ]
    assert status.conditions[0].message == "2/2 worker pods are ready, running 2 connectors"


def test_the_cluster_deletes_only_the_connector_no_kafkaconnector_names() -> None:
    decision = decide_cluster(cluster_observed(named=frozenset({"users"})))
    assert DeleteConnector("orders") in decision.actions
    assert DeleteConnector("users") not in decision.actions
    assert [c.name for c in decision.status.connectors or []] == ["users"]


def test_orphans_are_none_while_the_workers_do_not_answer() -> None:
    assert orphaned_connectors(None, frozenset()) == ()
    decision = decide_cluster(cluster_observed(connectors=None, rest_error="timeout"))
    assert not any(isinstance(a, DeleteConnector) for a in decision.actions)
    assert decision.status.connectors is None


def test_the_cluster_waits_for_all_its_workers() -> None:
    decision = decide_cluster(cluster_observed(pods=WORKERS[:1]))
    assert not decision.ready
    assert decision.status.conditions[0].reason == ReadyReason.WORKERS_NOT_READY
    assert decision.status.conditions[0].message == "1/2 worker pods are ready"


def test_the_cluster_reports_a_child_the_api_server_refused() -> None:
    decision = decide_cluster(cluster_observed(), Outcome(apply_error="StatefulSet: forbidden"))
    assert decision.status.conditions[0].reason == ReadyReason.APPLY_FAILED


def test_the_cluster_turns_exactly_once_on_as_a_dedicated_connector_does() -> None:
    decision = decide_cluster(cluster_observed(spec=cluster_spec(replicas=2, exactlyOnce=True)))
    notes = [a for a in decision.actions if isinstance(a, Note)]
    assert [n.reason for n in notes] == ["ExactlyOnceEnabled"]
    assert decision.status.exactly_once is not None


# -- what eight connectors cost


def _cost(children: list[list[dict[str, Any]]], task_topics: list[str]) -> tuple[int, int]:
    """Worker pods (the StatefulSets' replicas) and Kafka topics (the distinct internal topics
    the worker ConfigMaps name, and one task topic per connector)."""
    pods = 0
    topics: set[str] = set(task_topics)
    for objects in children:
        for obj in objects:
            if obj["kind"] == "StatefulSet":
                pods += obj["spec"]["replicas"]
            if obj["kind"] == "ConfigMap":
                for line in obj["data"]["worker.properties"].splitlines():
                    key, _, value = line.partition("=")
                    if key.endswith(".storage.topic"):
                        topics.add(value)
    return pods, len(topics)


def eight_connectors_cost() -> dict[str, tuple[int, int]]:
    names = [f"c{i}" for i in range(8)]
    kwargs: dict[str, Any] = {"image": "img", "secret_versions": {}, "operator_namespace": "op"}
    dedicated = [
        build.build_children(
            KafkaConnectorSpec.model_validate({"class": "X", "bootstrapServers": "k:9092"}),
            build.Owner(name=n, namespace="shop", uid=n),
            **kwargs,
        )
        for n in names
    ]
    dedicated_tasks = [task_topic_name(f"kconnect.shop.{n}", n) for n in names]
    cluster = cluster_spec(replicas=2)
    shared = [build.build_children(cluster, CLUSTER, **kwargs)]
    shared_tasks = [task_topic_name("kconnect-cluster.shop.shared", n) for n in names]
    return {
        "dedicated": _cost(dedicated, dedicated_tasks),
        "shared": _cost(shared, shared_tasks),
    }


def test_eight_connectors_dedicated_and_on_one_cluster_of_two_workers() -> None:
    # Dedicated: 8 StatefulSets of 1 pod, 8 x 3 internal topics + 8 task topics.
    # Shared: one StatefulSet of 2 pods, 3 internal topics + 8 task topics.
    assert eight_connectors_cost() == {"dedicated": (8, 32), "shared": (2, 11)}


def test_a_kafkaconnector_event_wakes_the_cluster_it_names() -> None:
    from kconnect_operator import registration
    from kconnect_operator.kafkaconnector import cluster_handlers, handlers

    related = handlers.RESOURCE_KIND.related
    assert related is not None
    assert related({"spec": {"cluster": "shared"}}) == cluster_handlers.RESOURCE_KIND.wake_key(
        "shared"
    )
    assert related({"spec": {"bootstrapServers": "k:9092"}}) is None
    assert cluster_handlers.RESOURCE_KIND in registration.KINDS
    assert cluster_handlers.RESOURCE_KIND.selector_label == "kconnect.io/cluster"


def test_a_dedicated_connector_s_clean_up_keeps_a_cluster_s_group_and_topics() -> None:
    from kconnect_operator.kafkaconnector import cleanup

    cluster = cleanup.cluster_kafka_state(cluster_spec(), "shop", "shared")
    assert cluster.groups == ("kconnect-cluster.shop.shared",)
    assert "kconnect-cluster.shop.shared.offsets" in cluster.topics
    # A dedicated connector that names the cluster's group and topics explicitly.
    spec = KafkaConnectorSpec.model_validate(
        {
            "class": "X",
            "bootstrapServers": "k:9092",
            "groupId": "kconnect-cluster.shop.shared",
            "offsetStorageTopic": "kconnect-cluster.shop.shared.offsets",
        }
    )
    mine = cleanup.kafka_state(spec, "shop", "orders", build.sink_group(spec, ORDERS))
    left, kept = cleanup.shared(mine, {"KConnectCluster shop/shared": cluster})
    assert "kconnect-cluster.shop.shared" not in left.groups
    assert "kconnect-cluster.shop.shared.offsets" not in left.topics
    assert any("used by KConnectCluster shop/shared" in line for line in kept)
