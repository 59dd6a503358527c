"""Which children the operator applies, and what it reports: drift, deletions and rolls."""

from __future__ import annotations

import copy
import json
from typing import Any

from kconnect_operator.core import children, manifests
from kconnect_operator.kafkaconnector.build import Owner, build_children
from kconnect_operator.kafkaconnector.model import KafkaConnectorSpec

OWNER = Owner(name="orders", namespace="shop", uid="u-1")


def wanted(secret_versions: dict[str, str] | None = None, **extra: Any) -> list[dict[str, Any]]:
    spec = KafkaConnectorSpec.model_validate(
        {"class": "DataGen", "bootstrapServers": "kafka:9092", "replicas": 2, **extra}
    )
    return build_children(
        spec,
        OWNER,
        image="kconnect:1",
        secret_versions=secret_versions or {},
        operator_namespace="ops",
    )


def as_live(child: dict[str, Any]) -> dict[str, Any]:
    """A child as the API server holds it after the operator applied it: its fields, the
    applied hash, and what the server and other controllers add."""
    live = copy.deepcopy(children.stamped(child))
    live["metadata"].update(uid="x", resourceVersion="7", generation=1)
    live["metadata"]["labels"]["added-by-someone"] = "yes"
    live["status"] = {"observedGeneration": 1}
    if child["kind"] == "StatefulSet":
        container = live["spec"]["template"]["spec"]["containers"][0]
        container["imagePullPolicy"] = "IfNotPresent"
        container["terminationMessagePath"] = "/dev/termination-log"
        live["spec"]["progressDeadlineSeconds"] = 600
        live["spec"]["template"]["spec"]["dnsPolicy"] = "ClusterFirst"
        # env in another order, an extra entry added by hand
        env = container["env"]
        container["env"] = [{"name": "EXTRA", "value": "1"}, *reversed(env)]
    return live


def live_of(kids: list[dict[str, Any]]) -> dict[str, Any]:
    return {children.child_key(c): as_live(c) for c in kids}


def test_nothing_is_applied_when_every_child_holds_what_the_builders_want() -> None:
    kids = wanted()
    plan = children.plan(kids, live_of(kids), reconciled_before=True)
    assert plan == children.ChildrenPlan(apply=(), repaired=(), roll=())


def test_a_first_reconcile_creates_everything_and_reports_nothing() -> None:
    kids = wanted()
    plan = children.plan(kids, {}, reconciled_before=False)
    assert [children.child_key(c) for c in plan.apply] == [children.child_key(c) for c in kids]
    assert all(children.APPLIED_HASH_ANNOTATION in c["metadata"]["annotations"] for c in plan.apply)
    assert plan.repaired == ()
    assert plan.roll == ()


def test_a_deleted_child_is_recreated_and_reported() -> None:
    kids = wanted()
    live = live_of(kids)
    live["Service/orders-connect"] = None
    del live["NetworkPolicy/orders-connect"]
    plan = children.plan(kids, live, reconciled_before=True)
    assert sorted(children.child_key(c) for c in plan.apply) == [
        "NetworkPolicy/orders-connect",
        "Service/orders-connect",
    ]
    assert set(plan.repaired) == {
        ("Service/orders-connect", "Service orders-connect was deleted: recreated it"),
        (
            "NetworkPolicy/orders-connect",
            "NetworkPolicy orders-connect was deleted: recreated it",
        ),
    }


def test_a_workload_scaled_or_given_another_image_by_hand_is_restored() -> None:
    kids = wanted()
    live = live_of(kids)
    deployment = live["StatefulSet/orders-connect"]
    deployment["spec"]["replicas"] = 5
    deployment["spec"]["template"]["spec"]["containers"][0]["image"] = "evil:1"
    plan = children.plan(kids, live, reconciled_before=True)
    assert [children.child_key(c) for c in plan.apply] == ["StatefulSet/orders-connect"]
    ((key, message),) = plan.repaired
    assert key == "StatefulSet/orders-connect"
    assert message.startswith("StatefulSet orders-connect was changed outside the operator (")
    assert "spec.replicas" in message
    assert "spec.template.spec.containers[worker].image" in message
    # Putting the image back rolls the pods, and says why.
    assert plan.roll == ("the pod template changed (spec.template.spec.containers[worker].image)",)
    assert plan.workload == "StatefulSet/orders-connect"


def test_an_edited_worker_config_map_is_restored() -> None:
    kids = wanted()
    live = live_of(kids)
    live["ConfigMap/orders-connect-config"]["data"]["worker.properties"] += "evil=1\n"
    plan = children.plan(kids, live, reconciled_before=True)
    assert [children.child_key(c) for c in plan.apply] == ["ConfigMap/orders-connect-config"]
    assert plan.repaired == (
        (
            "ConfigMap/orders-connect-config",
            "ConfigMap orders-connect-config was changed outside the operator "
            "(data.worker.properties): restored it",
        ),
    )


def test_a_spec_change_is_an_update_not_drift_and_a_secret_change_rolls_with_its_cause() -> None:
    spec = {"externalConfiguration": {"env": [
        {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "db", "key": "pw"}}}
    ]}}  # fmt: skip
    before = wanted({"db": "10"}, **spec)
    after = wanted({"db": "11"}, **spec)
    plan = children.plan(after, live_of(before), reconciled_before=True)
    assert [children.child_key(c) for c in plan.apply] == ["StatefulSet/orders-connect"]
    assert plan.repaired == ()
    assert plan.roll == ("Secret db changed (version 10 -> 11)",)


def test_roll_causes_name_each_source() -> None:
    def sources(**entries: str) -> str:
        return json.dumps(entries)

    assert children.roll_causes(
        sources(properties="a", **{"configMaps/site": "1", "secrets/db": "2"}),
        sources(properties="b", **{"configMaps/site": "3", "secrets/db": "absent"}),
    ) == [
        "ConfigMap site changed (version 1 -> 3)",
        "the worker config changed",
        "Secret db was removed",
    ]
    assert children.roll_causes(None, sources(properties="a")) == [
        "the pod template's config hash changed"
    ]


def test_quantities_compare_by_value() -> None:
    assert (
        children.differences({"cpu": "0.5", "memory": "1Gi"}, {"cpu": "500m", "memory": "1024Mi"})
        == []
    )
    assert children.differences({"cpu": "1"}, {"cpu": "1000m"}) == []
    assert children.differences({"cpu": "2"}, {"cpu": "1"}) == ["cpu"]
    assert children.differences({"n": 1}, {"n": "1"}) == ["n"]


def test_the_config_sources_annotation_is_on_the_workload() -> None:
    deployment = next(c for c in wanted() if c["kind"] == "StatefulSet")
    sources = json.loads(deployment["metadata"]["annotations"][children.CONFIG_SOURCES_ANNOTATION])
    assert set(sources) == {"properties"}
    assert manifests.CONFIG_HASH_ANNOTATION == children.CONFIG_HASH_ANNOTATION


def test_only_an_apply_that_changed_the_child_is_reported() -> None:
    kids = wanted()
    live = live_of(kids)
    live["StatefulSet/orders-connect"]["spec"]["replicas"] = 5
    plan = children.plan(kids, live, reconciled_before=True)
    before = live["StatefulSet/orders-connect"]
    rewritten = {**before, "metadata": {**before["metadata"], "resourceVersion": "8"}}
    assert plan.changed("StatefulSet/orders-connect", before, rewritten)
    # The API server kept the object as it was: the values were the wanted ones after all.
    assert not plan.changed("StatefulSet/orders-connect", before, before)
    assert plan.changed("Service/orders-connect", None, before)
