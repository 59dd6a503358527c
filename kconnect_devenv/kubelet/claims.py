"""PersistentVolumeClaims on the test node, as a node with a local-path provisioner has them. Pure.

The kubelet is the dynamic provisioner of one StorageClass, :data:`STORAGE_CLASS` (provisioner
:data:`PROVISIONER`, ``volumeBindingMode: Immediate``, ``reclaimPolicy: Delete``), which it
creates at start when absent and marks the cluster's default, so the API server's
``DefaultStorageClass`` admission gives it to claims without ``storageClassName``. The work is
split as in a real cluster:

- **kube-controller-manager's PV controller** sees an unbound claim of a class whose provisioner
  is not in-tree and annotates it ``volume.kubernetes.io/storage-provisioner: <provisioner>``
  ("waiting for a volume to be created"); later it binds the claim to the PV made for it, and when
  the claim is deleted it marks the PV ``Released``. Since the PV says
  ``pv.kubernetes.io/provisioned-by: <provisioner>``, it leaves the deletion to the provisioner.
- **The provisioner** (this module decides, ``provisioner.py`` acts) makes a PV for each claim that
  :func:`wants_volume`: a ``hostPath`` directory ``<state dir>/volumes/<pv name>`` of the claim's
  requested size and access modes, with a ``claimRef`` (UID included, so a new claim of the same
  name never takes it) and node affinity to this node. It deletes the directory and then the PV of
  every PV :func:`should_delete` says is released.
- **The scheduler** does not bind a pod whose claims do not exist or are being deleted
  (:func:`claims_problem`), and **the pod worker** waits until each claim is Bound and mounts the
  PV's directory (:func:`claim_mount_source`).

Invariants: the PV of a claim is named ``pvc-<claim uid>``, as external provisioners name it, so
two provisioners racing for one claim make one PV (the second create is a conflict); a PV is
deleted only if it is of the class, provisioned by :data:`PROVISIONER`, reclaimed with Delete,
Released, and its directory lies under the given volumes directory, so nothing outside the
kubelet's state is ever removed. Sizes are not enforced (a hostPath has no quota).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from pathlib import Path
from typing import Final

from kconnect_devenv.kubelet.api import JsonObject

STORAGE_CLASS: Final = "kconnect-local"
PROVISIONER: Final = "kconnect.io/test-local-path"
DEFAULT_CLASS_ANNOTATION: Final = "storageclass.kubernetes.io/is-default-class"
PROVISIONED_BY: Final = "pv.kubernetes.io/provisioned-by"
STORAGE_PROVISIONER: Final = "volume.kubernetes.io/storage-provisioner"
BETA_STORAGE_PROVISIONER: Final = "volume.beta.kubernetes.io/storage-provisioner"
HOSTNAME_LABEL: Final = "kubernetes.io/hostname"
PREEMPTION: Final = (
    "preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."
)


def storage_class() -> JsonObject:
    """The StorageClass the kubelet provisions for, marked the default class."""
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {
            "name": STORAGE_CLASS,
            "annotations": {DEFAULT_CLASS_ANNOTATION: "true"},
        },
        "provisioner": PROVISIONER,
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "Immediate",
    }


def volume_name(claim: JsonObject) -> str:
    return f"pvc-{claim['metadata']['uid']}"


def wants_volume(claim: JsonObject, namespaces: Collection[str]) -> bool:
    """A claim of the class, Pending and unbound, that the PV controller handed to this
    provisioner, not being deleted, in one of the kubelet's namespaces (all when none)."""
    metadata, spec = claim.get("metadata") or {}, claim.get("spec") or {}
    annotations = metadata.get("annotations") or {}
    provisioner = annotations.get(STORAGE_PROVISIONER) or annotations.get(BETA_STORAGE_PROVISIONER)
    return (
        spec.get("storageClassName") == STORAGE_CLASS
        and not spec.get("volumeName")
        and (claim.get("status") or {}).get("phase", "Pending") == "Pending"
        and provisioner == PROVISIONER
        and not metadata.get("deletionTimestamp")
        and not spec.get("dataSource")
        and not spec.get("selector")
        and (not namespaces or metadata.get("namespace") in namespaces)
    )


def persistent_volume(claim: JsonObject, node_name: str, volumes_dir: Path) -> JsonObject:
    """The PV for ``claim``: its own directory under ``volumes_dir``, bound to the claim."""
    metadata, spec = claim["metadata"], claim.get("spec") or {}
    name = volume_name(claim)
    size = ((spec.get("resources") or {}).get("requests") or {}).get("storage", "1Gi")
    term = {"matchExpressions": [{"key": HOSTNAME_LABEL, "operator": "In", "values": [node_name]}]}
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": name, "annotations": {PROVISIONED_BY: PROVISIONER}},
        "spec": {
            "capacity": {"storage": str(size)},
            "accessModes": list(spec.get("accessModes") or ["ReadWriteOnce"]),
            "volumeMode": spec.get("volumeMode") or "Filesystem",
            "persistentVolumeReclaimPolicy": "Delete",
            "storageClassName": STORAGE_CLASS,
            "hostPath": {"path": str(volumes_dir / name), "type": "DirectoryOrCreate"},
            "claimRef": {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "namespace": metadata["namespace"],
                "name": metadata["name"],
                "uid": metadata["uid"],
                "resourceVersion": metadata.get("resourceVersion", ""),
            },
            "nodeAffinity": {"required": {"nodeSelectorTerms": [term]}},
        },
    }


def volume_dir(volume: JsonObject, volumes_dir: Path) -> Path | None:
    """The volume's directory if it is one of ours (under ``volumes_dir``), else None."""
    path = ((volume.get("spec") or {}).get("hostPath") or {}).get("path")
    if not path:
        return None
    candidate = Path(str(path))
    if candidate.parent != volumes_dir or candidate.name != volume["metadata"]["name"]:
        return None
    return candidate


def should_delete(volume: JsonObject, volumes_dir: Path) -> bool:
    """A PV this provisioner made whose claim is gone: delete its directory, then it."""
    metadata, spec = volume.get("metadata") or {}, volume.get("spec") or {}
    return (
        (metadata.get("annotations") or {}).get(PROVISIONED_BY) == PROVISIONER
        and spec.get("storageClassName") == STORAGE_CLASS
        and spec.get("persistentVolumeReclaimPolicy") == "Delete"
        and (volume.get("status") or {}).get("phase") == "Released"
        and not metadata.get("deletionTimestamp")
        and volume_dir(volume, volumes_dir) is not None
    )


# --------------------------------------------------------------------------------------------------
# Pods and their claims


def claim_names(pod: JsonObject) -> list[str]:
    """The claims the pod's ``persistentVolumeClaim`` volumes name, in order."""
    return [
        str(volume["persistentVolumeClaim"]["claimName"])
        for volume in (pod.get("spec") or {}).get("volumes") or []
        if "persistentVolumeClaim" in volume
    ]


def claims_problem(pod: JsonObject, get_claim: Callable[[str], JsonObject | None]) -> str | None:
    """The scheduler's message when a claim of the pod is missing or being deleted, else None."""
    for name in claim_names(pod):
        claim = get_claim(name)
        if claim is None:
            return (
                f'0/1 nodes are available: persistentvolumeclaim "{name}" not found. {PREEMPTION}'
            )
        if (claim.get("metadata") or {}).get("deletionTimestamp"):
            return (
                f'0/1 nodes are available: persistentvolumeclaim "{name}" is being deleted. '
                f"{PREEMPTION}"
            )
    return None


class ClaimNotReady(Exception):
    """The claim cannot be mounted yet; the message says why, as the real kubelet does."""


def claim_volume_name(claim: JsonObject | None, namespace: str, name: str) -> str:
    """The name of the PV ``claim`` is bound to; ClaimNotReady while it is not bound."""
    if claim is None:
        raise ClaimNotReady(f'persistentvolumeclaim "{name}" not found')
    phase = (claim.get("status") or {}).get("phase", "Pending")
    bound_to = (claim.get("spec") or {}).get("volumeName") or ""
    if phase != "Bound" or not bound_to:
        raise ClaimNotReady(
            f"PVC {namespace}/{name} has non-bound phase ({phase!r}) or empty "
            f"pvc.Spec.VolumeName ({bound_to!r})"
        )
    return str(bound_to)


def claim_mount_source(claim: JsonObject, volume: JsonObject | None) -> Path:
    """The host directory to mount for a Bound ``claim`` whose PV is ``volume``."""
    metadata = claim["metadata"]
    bound_to = (claim.get("spec") or {}).get("volumeName")
    if volume is None:
        raise ClaimNotReady(f'persistentvolume "{bound_to}" not found')
    claim_ref = (volume.get("spec") or {}).get("claimRef") or {}
    if claim_ref.get("uid") not in {None, metadata.get("uid")}:
        raise ClaimNotReady(
            f"persistentvolume {bound_to} is bound to another claim (uid {claim_ref.get('uid')})"
        )
    path = ((volume.get("spec") or {}).get("hostPath") or {}).get("path")
    if not path:
        kinds = sorted(set(volume.get("spec") or {}) & {"csi", "local", "nfs", "iscsi"})
        raise ClaimNotReady(
            f"persistentvolume {bound_to} is not a hostPath volume ({', '.join(kinds) or '?'}); "
            "the test kubelet mounts hostPath volumes only"
        )
    return Path(str(path))
