"""Which pods the kubelet schedules, and whether they fit its node."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from kconnect_devenv.kubelet import scheduling

NOW = datetime.datetime(2025, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
LABELS = {
    "kubernetes.io/hostname": "node-a",
    "kubernetes.io/os": "linux",
    "disk": "ssd",
    "gen": "5",
}


def a_pod(namespace: str = "ns", **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "p", "namespace": namespace, "uid": "u-1"},
        "spec": {"containers": [{"name": "main"}], **spec},
        "status": {"phase": "Pending"},
    }


def test_it_takes_unbound_pods_of_the_default_scheduler_in_its_namespaces() -> None:
    assert scheduling.wants_scheduling(a_pod(), ())
    assert scheduling.wants_scheduling(a_pod(schedulerName="default-scheduler"), ())
    assert scheduling.wants_scheduling(a_pod("mine"), {"mine"})
    assert not scheduling.wants_scheduling(a_pod("other"), {"mine"})
    assert not scheduling.wants_scheduling(a_pod(nodeName="node-b"), ())
    assert not scheduling.wants_scheduling(a_pod(schedulerName="volcano"), ())
    assert not scheduling.wants_scheduling(a_pod(schedulingGates=[{"name": "wait"}]), ())
    deleting = a_pod()
    deleting["metadata"]["deletionTimestamp"] = "2025-01-01T00:00:00Z"
    assert not scheduling.wants_scheduling(deleting, ())


def test_node_selector() -> None:
    assert scheduling.fits(a_pod(), "node-a", LABELS)
    assert scheduling.fits(a_pod(nodeSelector={"disk": "ssd"}), "node-a", LABELS)
    assert not scheduling.fits(a_pod(nodeSelector={"disk": "hdd"}), "node-a", LABELS)
    assert not scheduling.fits(a_pod(nodeSelector={"zone": "a"}), "node-a", LABELS)


def affinity(*terms: dict[str, Any]) -> dict[str, Any]:
    required = {"nodeSelectorTerms": list(terms)}
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": required}}


@pytest.mark.parametrize(
    ("expression", "fits"),
    [
        ({"key": "disk", "operator": "In", "values": ["ssd", "nvme"]}, True),
        ({"key": "disk", "operator": "In", "values": ["hdd"]}, False),
        ({"key": "disk", "operator": "NotIn", "values": ["hdd"]}, True),
        ({"key": "zone", "operator": "NotIn", "values": ["a"]}, True),
        ({"key": "disk", "operator": "Exists"}, True),
        ({"key": "zone", "operator": "Exists"}, False),
        ({"key": "zone", "operator": "DoesNotExist"}, True),
        ({"key": "gen", "operator": "Gt", "values": ["4"]}, True),
        ({"key": "gen", "operator": "Lt", "values": ["4"]}, False),
        ({"key": "disk", "operator": "Gt", "values": ["4"]}, False),
    ],
)
def test_required_node_affinity(expression: dict[str, Any], fits: bool) -> None:
    pod = a_pod(affinity=affinity({"matchExpressions": [expression]}))
    assert scheduling.fits(pod, "node-a", LABELS) is fits


def test_affinity_terms_are_alternatives_and_fields_match_the_node_name() -> None:
    no = {"matchExpressions": [{"key": "zone", "operator": "Exists"}]}
    by_name = {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["node-a"]}]}
    assert scheduling.fits(a_pod(affinity=affinity(no, by_name)), "node-a", LABELS)
    assert not scheduling.fits(a_pod(affinity=affinity(no, by_name)), "node-b", LABELS)
    assert not scheduling.fits(a_pod(affinity=affinity({})), "node-a", LABELS)  # an empty term


def test_an_unschedulable_pod_is_marked_once() -> None:
    pod = a_pod()
    pod["status"]["conditions"] = [{"type": "Other", "status": "True"}]
    conditions = scheduling.unschedulable_conditions(pod, NOW)
    assert conditions is not None
    assert conditions[0] == {
        "type": "PodScheduled",
        "status": "False",
        "reason": "Unschedulable",
        "message": scheduling.NO_MATCH_MESSAGE,
        "lastProbeTime": None,
        "lastTransitionTime": "2025-01-02T03:04:05Z",
    }
    assert conditions[1] == {"type": "Other", "status": "True"}
    pod["status"]["conditions"] = conditions
    assert scheduling.unschedulable_conditions(pod, NOW + datetime.timedelta(minutes=1)) is None
    # A new reason is news; the condition keeps its transition time.
    later = NOW + datetime.timedelta(minutes=2)
    changed = scheduling.unschedulable_conditions(pod, later, 'persistentvolumeclaim "x" not found')
    assert changed is not None
    assert changed[0]["message"] == 'persistentvolumeclaim "x" not found'
    assert changed[0]["lastTransitionTime"] == "2025-01-02T03:04:05Z"


def test_the_binding_carries_the_uid_as_a_precondition() -> None:
    body = scheduling.binding(a_pod(), "node-a")
    assert body["metadata"] == {"name": "p", "namespace": "ns", "uid": "u-1"}
    assert body["target"] == {"apiVersion": "v1", "kind": "Node", "name": "node-a"}
