"""The pure parts of the e2e tier's platform: the local volumes' objects and the operator's chart
values (the provisioner and the release run against the real node in ``e2e/``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kconnect_devenv import localvolumes, operatorrelease


def claim(**spec: Any) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "offsets-sa-0",
            "namespace": "ns",
            "uid": "u-1",
            "annotations": {localvolumes.SELECTED_NODE: "node-a"},
        },
        "spec": {
            "resources": {"requests": {"storage": "64Mi"}},
            "storageClassName": localvolumes.STORAGE_CLASS,
            **spec,
        },
        "status": {"phase": "Pending"},
    }


def test_a_volume_is_bound_to_its_claim_and_its_node_with_its_size_and_access_modes() -> None:
    volume = localvolumes.volume_for(claim(accessModes=["ReadWriteOnce"]), Path("/v/u-1"), "host-a")
    spec = volume["spec"]
    assert volume["metadata"]["name"] == "local-u-1"
    assert spec["capacity"] == {"storage": "64Mi"}
    assert spec["accessModes"] == ["ReadWriteOnce"]
    assert spec["storageClassName"] == localvolumes.STORAGE_CLASS
    assert spec["claimRef"] == {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "namespace": "ns",
        "name": "offsets-sa-0",
        "uid": "u-1",
    }
    assert spec["hostPath"] == {"path": "/v/u-1", "type": "Directory"}
    assert spec["nodeAffinity"]["required"]["nodeSelectorTerms"] == [
        {
            "matchExpressions": [
                {"key": "kubernetes.io/hostname", "operator": "In", "values": ["host-a"]}
            ]
        }
    ]


def test_only_pending_unbound_claims_of_the_class_placed_on_a_node_want_a_volume() -> None:
    assert localvolumes.wants_volume(claim())
    unplaced = claim()
    del unplaced["metadata"]["annotations"]
    assert not localvolumes.wants_volume(unplaced)
    assert not localvolumes.wants_volume(claim(volumeName="pv-1"))
    assert not localvolumes.wants_volume(claim(storageClassName="other"))
    assert not localvolumes.wants_volume(claim(storageClassName=None))
    bound = claim()
    bound["status"]["phase"] = "Bound"
    assert not localvolumes.wants_volume(bound)
    going = claim()
    going["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    assert not localvolumes.wants_volume(going)


def test_the_storage_class_is_the_clusters_default() -> None:
    storage_class = localvolumes.storage_class()
    annotations = storage_class["metadata"]["annotations"]
    assert annotations["storageclass.kubernetes.io/is-default-class"] == "true"
    assert storage_class["provisioner"] == localvolumes.PROVISIONER
    assert storage_class["volumeBindingMode"] == "WaitForFirstConsumer"


def test_an_event_names_the_claim_and_says_whether_provisioning_failed() -> None:
    failed = localvolumes.claim_event(claim(), "ProvisioningFailed", "no label")
    assert failed["involvedObject"] == {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "namespace": "ns",
        "name": "offsets-sa-0",
        "uid": "u-1",
    }
    assert failed["metadata"] == {"generateName": "offsets-sa-0.", "namespace": "ns"}
    assert (failed["type"], failed["reason"], failed["message"]) == (
        "Warning",
        "ProvisioningFailed",
        "no label",
    )
    made = localvolumes.claim_event(claim(), "ProvisioningSucceeded", "made")
    assert made["type"] == "Normal"


@pytest.mark.parametrize(
    ("image", "worker", "expected"),
    [
        (
            "kconnect-operator:dev",
            "kconnect-worker:dev",
            ("kconnect-operator", "dev", "kconnect-worker", "dev"),
        ),
        (
            "localhost:5000/op:1.2",
            "localhost:5000/w:1.2",
            ("localhost:5000/op", "1.2", "localhost:5000/w", "1.2"),
        ),
    ],
)
def test_the_chart_values_name_present_images_and_never_pull(
    image: str, worker: str, expected: tuple[str, ...]
) -> None:
    values = operatorrelease.values(image, worker, {"reconcile.syncInterval": 5})
    assert (
        values["image.repository"],
        values["image.tag"],
        values["workerImage.repository"],
        values["workerImage.tag"],
    ) == expected
    assert values["image.pullPolicy"] == "Never"
    assert values["reconcile.syncInterval"] == 5


class NodeWithoutHostname:
    """A cluster whose one placed claim's node has no hostname label: every pass fails on it."""

    def __init__(self) -> None:
        self.created: list[dict[str, Any]] = []
        self.applied: list[dict[str, Any]] = []

    def json(self, *args: str) -> dict[str, Any]:
        if args[:2] == ("get", "pvc"):
            return {
                "items": [claim(), {**claim(), "metadata": {**claim()["metadata"], "uid": "u-2"}}]
            }
        if args[:2] == ("get", "node"):
            return {"metadata": {"name": args[2], "labels": {}}}
        return {"items": []}

    def create(self, *objects: dict[str, Any]) -> str:
        self.created.extend(objects)
        return ""

    def apply(self, *objects: dict[str, Any]) -> str:
        self.applied.extend(objects)
        return ""


def test_a_claim_that_cannot_be_served_is_said_once_and_keeps_no_other_waiting(
    tmp_path: Path,
) -> None:
    cluster = NodeWithoutHostname()
    provisioner = localvolumes.Provisioner(cluster, tmp_path)  # type: ignore[arg-type]
    provisioner.run_once()
    provisioner.run_once()
    reasons = [(e["involvedObject"]["uid"], e["reason"]) for e in cluster.created]
    assert reasons == [("u-1", "ProvisioningFailed"), ("u-2", "ProvisioningFailed")]
    assert "node node-a has no kubernetes.io/hostname label" in cluster.created[0]["message"]
    assert isinstance(provisioner.last_error, RuntimeError)
    assert cluster.applied == []
