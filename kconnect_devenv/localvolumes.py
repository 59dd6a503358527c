"""Local volumes for the real node: a default StorageClass and a provisioner of host directories.

A cluster needs something that turns a PersistentVolumeClaim into a PersistentVolume; the node
has no cloud disk and pulls no image, so :class:`Provisioner` is one, written here, run beside
the node (a thread of the process that starts it): it installs the StorageClass
:data:`STORAGE_CLASS` (the cluster default, provisioner :data:`PROVISIONER`) and, for every
Pending claim of that class the scheduler has placed on a node, makes a directory under its root
(mode 0777, since pods run as any non-root user and a hostPath volume gets no ``fsGroup``) and a
``hostPath`` PersistentVolume of the claim's size and access modes, bound to the claim by
``claimRef`` and to that node by its node affinity.

Binding waits for the first consumer, as every provisioner of node-local storage does: the
scheduler picks the pod's node, names it on the claim (:data:`SELECTED_NODE`) and holds the pod
until the claim is bound, then binds the pod. With immediate binding the claim would be bound
before any pod is placed, and a pod tried while its claim was still unbound waits for the
scheduler to try it again; with this mode its scheduling itself waits for the volume.
A volume whose claim is gone (``Released``) is deleted with its directory, as a ``Delete``
reclaim policy would (the controller-manager's own deleter serves only its hostPath test
provisioner).

Invariants: a volume's directory lives under ``root`` and is named for the claim's uid, so two
claims never share one; ``stop`` ends the thread within a bounded time and deletes the
StorageClass and the volumes it made (their directories stay under ``root``, which the caller
owns). A failed pass is retried on the next one; the last error is kept in ``last_error``.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import shutil
import threading
from pathlib import Path
from typing import Any, Final

from kconnect_devenv.cluster import JsonObject, Kubectl

STORAGE_CLASS: Final = "kconnect-local"
PROVISIONER: Final = "kconnect.io/local-directory"
PASS_INTERVAL_S: Final = 0.5
STOP_TIMEOUT_S: Final = 30.0
LABEL: Final = "kconnect.io/local-volume"
SELECTED_NODE: Final = "volume.kubernetes.io/selected-node"
HOSTNAME_LABEL: Final = "kubernetes.io/hostname"


def storage_class() -> JsonObject:
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {
            "name": STORAGE_CLASS,
            "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
        },
        "provisioner": PROVISIONER,
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "WaitForFirstConsumer",
    }


def volume_for(claim: JsonObject, directory: Path, hostname: str) -> JsonObject:
    """The PersistentVolume that satisfies ``claim`` with ``directory`` on the node whose
    :data:`HOSTNAME_LABEL` is ``hostname``."""
    meta, spec = claim["metadata"], claim["spec"]
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {
            "name": volume_name(claim),
            "labels": {LABEL: "true"},
            "annotations": {"pv.kubernetes.io/provisioned-by": PROVISIONER},
        },
        "spec": {
            "capacity": {"storage": spec["resources"]["requests"]["storage"]},
            "accessModes": spec.get("accessModes") or ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Retain",
            "storageClassName": STORAGE_CLASS,
            "claimRef": {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "namespace": meta["namespace"],
                "name": meta["name"],
                "uid": meta["uid"],
            },
            "hostPath": {"path": str(directory), "type": "Directory"},
            "nodeAffinity": {
                "required": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {"key": HOSTNAME_LABEL, "operator": "In", "values": [hostname]}
                            ]
                        }
                    ]
                }
            },
        },
    }


def volume_name(claim: JsonObject) -> str:
    """The name of the volume made for ``claim``: one per claim, by its uid."""
    return f"local-{claim['metadata']['uid']}"


def wants_volume(claim: JsonObject) -> bool:
    """Whether ``claim`` is one of :data:`STORAGE_CLASS` that waits for a volume on the node the
    scheduler chose for it."""
    return (
        claim.get("status", {}).get("phase") == "Pending"
        and bool(claim["metadata"].get("annotations", {}).get(SELECTED_NODE))
        and not claim["spec"].get("volumeName")
        and claim["spec"].get("storageClassName") == STORAGE_CLASS
        and not claim["metadata"].get("deletionTimestamp")
    )


def claim_event(claim: JsonObject, reason: str, message: str) -> JsonObject:
    """An Event on ``claim`` from the provisioner, as an external provisioner records one."""
    meta = claim["metadata"]
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"generateName": f"{meta['name']}.", "namespace": meta["namespace"]},
        "involvedObject": {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "namespace": meta["namespace"],
            "name": meta["name"],
            "uid": meta["uid"],
        },
        "reason": reason,
        "message": message,
        "type": "Warning" if reason.endswith("Failed") else "Normal",
        "source": {"component": PROVISIONER},
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
    }


class Provisioner:
    """Serves claims of :data:`STORAGE_CLASS` with directories under ``root`` until ``stop``."""

    def __init__(self, kubectl: Kubectl, root: Path) -> None:
        self.kubectl = kubectl
        self.root = root
        self.last_error: BaseException | None = None
        self._failures: dict[str, str] = {}
        """The last error of each claim (by uid) that could not be provisioned."""
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="local-volumes", daemon=True)

    def start(self) -> Provisioner:
        self.root.mkdir(parents=True, exist_ok=True)
        self.kubectl.apply(storage_class())
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(STOP_TIMEOUT_S)
        self.kubectl.run("delete", "pv", "-l", LABEL, "--wait=false", check=False)
        self.kubectl.run("delete", "storageclass", STORAGE_CLASS, "--wait=false", check=False)

    def _run(self) -> None:
        while not self._stopping.wait(PASS_INTERVAL_S):
            try:
                self.run_once()
            except Exception as exc:
                self.last_error = exc

    def run_once(self) -> None:
        volumes: list[Any] = self.kubectl.json("get", "pv", "-l", LABEL)["items"]
        made = {v["metadata"]["name"] for v in volumes}
        for claim in self.kubectl.json("get", "pvc", "--all-namespaces")["items"]:
            if wants_volume(claim) and volume_name(claim) not in made:
                self._serve(claim)
        for volume in volumes:
            if volume.get("status", {}).get("phase") != "Released":
                continue
            self.kubectl.run("delete", "pv", volume["metadata"]["name"], "--wait=false")
            path = Path(volume["spec"]["hostPath"]["path"])
            if path.parent == self.root:
                shutil.rmtree(path, ignore_errors=True)

    def _serve(self, claim: JsonObject) -> None:
        """Provisions ``claim`` and says so in an Event on it. A failure is kept in
        ``last_error`` and said once per distinct error, not on every pass that retries it;
        the other claims are served all the same."""
        uid = claim["metadata"]["uid"]
        try:
            volume = self.provision(claim)
        except Exception as exc:
            self.last_error = exc
            if self._failures.get(uid) != str(exc):
                self._failures[uid] = str(exc)
                self._record(claim, "ProvisioningFailed", str(exc))
            return
        self._failures.pop(uid, None)
        name, path = volume["metadata"]["name"], volume["spec"]["hostPath"]["path"]
        self._record(claim, "ProvisioningSucceeded", f"made volume {name} at {path}")

    def _record(self, claim: JsonObject, reason: str, message: str) -> None:
        with contextlib.suppress(Exception):  # an Event is a courtesy: the volume is what counts
            self.kubectl.create(claim_event(claim, reason, message))

    def provision(self, claim: JsonObject) -> JsonObject:
        """Makes the directory and the volume for ``claim`` on the node the scheduler chose."""
        node_name = claim["metadata"]["annotations"][SELECTED_NODE]
        node = self.kubectl.json("get", "node", node_name)
        hostname = node["metadata"].get("labels", {}).get(HOSTNAME_LABEL)
        if not hostname:
            raise RuntimeError(f"node {node_name} has no {HOSTNAME_LABEL} label")
        directory = self.root / claim["metadata"]["uid"]
        directory.mkdir(exist_ok=True)
        os.chmod(directory, 0o777)  # noqa: S103 - pods run as any non-root user
        volume = volume_for(claim, directory, hostname)
        self.kubectl.apply(volume)
        return volume
