"""The local-path provisioner's decisions, and what the scheduler and pod worker make of claims."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kconnect_devenv.kubelet import claims

VOLUMES = Path("/state/volumes")


def a_claim(**changes: Any) -> dict[str, Any]:
    claim: dict[str, Any] = {
        "metadata": {
            "name": "data-web-0",
            "namespace": "ns",
            "uid": "c-1",
            "resourceVersion": "7",
            "annotations": {claims.STORAGE_PROVISIONER: claims.PROVISIONER},
        },
        "spec": {
            "storageClassName": claims.STORAGE_CLASS,
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": "64Mi"}},
        },
        "status": {"phase": "Pending"},
    }
    for key, value in changes.items():
        part, field = key.split("__")
        claim[part][field] = value
    return claim


def test_the_class_is_the_default_immediate_delete_class_of_the_provisioner() -> None:
    cls = claims.storage_class()
    assert cls["metadata"]["name"] == "kconnect-local"
    assert cls["metadata"]["annotations"] == {"storageclass.kubernetes.io/is-default-class": "true"}
    assert cls["provisioner"] == "kconnect.io/test-local-path"
    assert (cls["volumeBindingMode"], cls["reclaimPolicy"]) == ("Immediate", "Delete")


def test_it_provisions_pending_unbound_claims_handed_to_it() -> None:
    assert claims.wants_volume(a_claim(), ())
    assert claims.wants_volume(a_claim(), {"ns"})
    beta = a_claim(metadata__annotations={claims.BETA_STORAGE_PROVISIONER: claims.PROVISIONER})
    assert claims.wants_volume(beta, ())
    assert not claims.wants_volume(a_claim(), {"other"})
    assert not claims.wants_volume(a_claim(metadata__annotations={}), ())  # not handed over yet
    other = a_claim(metadata__annotations={claims.STORAGE_PROVISIONER: "ebs.csi.aws.com"})
    assert not claims.wants_volume(other, ())
    assert not claims.wants_volume(a_claim(spec__storageClassName="fast"), ())
    bound = a_claim()
    bound["spec"]["volumeName"] = "pvc-c-1"
    assert not claims.wants_volume(bound, ())
    assert not claims.wants_volume(a_claim(status__phase="Bound"), ())
    assert not claims.wants_volume(a_claim(metadata__deletionTimestamp="2025-01-01T00:00:00Z"), ())


def test_the_volume_is_a_directory_of_its_own_bound_to_the_claim_on_this_node() -> None:
    claim = a_claim()
    claim["spec"]["accessModes"] = ["ReadWriteOnce", "ReadOnlyMany"]
    volume = claims.persistent_volume(claim, "node-a", VOLUMES)
    assert volume["metadata"] == {
        "name": "pvc-c-1",
        "annotations": {"pv.kubernetes.io/provisioned-by": "kconnect.io/test-local-path"},
    }
    spec = volume["spec"]
    assert spec["capacity"] == {"storage": "64Mi"}
    assert spec["accessModes"] == ["ReadWriteOnce", "ReadOnlyMany"]
    assert spec["storageClassName"] == "kconnect-local"
    assert spec["persistentVolumeReclaimPolicy"] == "Delete"
    assert spec["hostPath"]["path"] == "/state/volumes/pvc-c-1"
    assert spec["claimRef"] == {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "namespace": "ns",
        "name": "data-web-0",
        "uid": "c-1",
        "resourceVersion": "7",
    }
    term = spec["nodeAffinity"]["required"]["nodeSelectorTerms"][0]
    assert term["matchExpressions"] == [
        {"key": "kubernetes.io/hostname", "operator": "In", "values": ["node-a"]}
    ]
    assert claims.volume_dir(volume, VOLUMES) == VOLUMES / "pvc-c-1"


def released(volume: dict[str, Any]) -> dict[str, Any]:
    return {**volume, "status": {"phase": "Released"}}


def test_only_its_own_released_delete_volumes_under_its_directory_are_deleted() -> None:
    volume = claims.persistent_volume(a_claim(), "node-a", VOLUMES)
    assert claims.should_delete(released(volume), VOLUMES)
    assert not claims.should_delete({**volume, "status": {"phase": "Bound"}}, VOLUMES)
    assert not claims.should_delete(released(volume), Path("/elsewhere"))
    retained = released(volume)
    retained["spec"] = {**volume["spec"], "persistentVolumeReclaimPolicy": "Retain"}
    assert not claims.should_delete(retained, VOLUMES)
    foreign = released(volume)
    foreign["metadata"] = {**volume["metadata"], "annotations": {}}
    assert not claims.should_delete(foreign, VOLUMES)
    escaping = released(volume)
    escaping["spec"] = {**volume["spec"], "hostPath": {"path": "/state/volumes/../etc"}}
    assert not claims.should_delete(escaping, VOLUMES)
    assert claims.volume_dir(escaping, VOLUMES) is None


def pod_with(*claim_names: str) -> dict[str, Any]:
    volumes = [{"name": f"v{i}", "persistentVolumeClaim": {"claimName": n}} for i, n in
               enumerate(claim_names)]  # fmt: skip
    return {"spec": {"volumes": [{"name": "tmp", "emptyDir": {}}, *volumes]}}


def test_a_pod_is_not_scheduled_while_a_claim_is_missing_or_going() -> None:
    existing = {"a": a_claim(), "gone": a_claim(metadata__deletionTimestamp="2025-01-01T00:00:00Z")}
    assert claims.claim_names(pod_with("a", "b")) == ["a", "b"]
    assert claims.claims_problem(pod_with(), existing.get) is None
    assert claims.claims_problem(pod_with("a"), existing.get) is None
    missing = claims.claims_problem(pod_with("a", "b"), existing.get)
    assert missing is not None
    assert missing.startswith('0/1 nodes are available: persistentvolumeclaim "b" not found.')
    going = claims.claims_problem(pod_with("gone"), existing.get)
    assert going is not None
    assert '"gone" is being deleted' in going


def test_a_claim_is_mounted_once_bound_from_its_volume_directory() -> None:
    with pytest.raises(claims.ClaimNotReady, match='persistentvolumeclaim "x" not found'):
        claims.claim_volume_name(None, "ns", "x")
    with pytest.raises(claims.ClaimNotReady, match=r"non-bound phase \('Pending'\)"):
        claims.claim_volume_name(a_claim(), "ns", "data-web-0")
    claim = a_claim(status__phase="Bound")
    claim["spec"]["volumeName"] = "pvc-c-1"
    assert claims.claim_volume_name(claim, "ns", "data-web-0") == "pvc-c-1"
    volume = claims.persistent_volume(claim, "node-a", VOLUMES)
    assert claims.claim_mount_source(claim, volume) == VOLUMES / "pvc-c-1"
    with pytest.raises(claims.ClaimNotReady, match='persistentvolume "pvc-c-1" not found'):
        claims.claim_mount_source(claim, None)
    stolen = {**volume, "spec": {**volume["spec"], "claimRef": {"uid": "other"}}}
    with pytest.raises(claims.ClaimNotReady, match="bound to another claim"):
        claims.claim_mount_source(claim, stolen)
    csi = {**volume, "spec": {"csi": {"driver": "d"}, "claimRef": {"uid": "c-1"}}}
    with pytest.raises(claims.ClaimNotReady, match=r"not a hostPath volume \(csi\)"):
        claims.claim_mount_source(claim, csi)
