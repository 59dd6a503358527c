"""The node: its object, its Lease, and the heartbeat that keeps it Ready.

The node-lifecycle controller marks a node NotReady (and later taints it and evicts its pods) when
neither its Lease nor its Ready condition has been renewed within ``--node-monitor-grace-period``
(50 s in 1.34). :class:`Heartbeat` renews the Lease in ``kube-node-lease`` every
:data:`LEASE_RENEW_S` and refreshes the node's conditions every :data:`STATUS_REFRESH_S`, as the
real kubelet does; a failed renewal is retried after :data:`RETRY_S` and logged, never fatal.

The node object is built by pure functions. Its capacity is the machine's (CPUs, memory) and 110
pods; allocatable equals capacity, since nothing is reserved and nothing is enforced.
"""

from __future__ import annotations

import datetime
import logging
import os
import platform
import threading
import time
from collections.abc import Callable, Mapping
from typing import Final

from kconnect_devenv.kubelet.addresses import HOST_IP
from kconnect_devenv.kubelet.api import MERGE_PATCH, Api, ApiError, JsonObject
from kconnect_devenv.kubelet.status import RUNTIME, timestamp

LOG = logging.getLogger(__name__)

LEASE_NAMESPACE: Final = "kube-node-lease"
LEASE_DURATION_S: Final = 40
LEASE_RENEW_S: Final = 10.0
STATUS_REFRESH_S: Final = 60.0
RETRY_S: Final = 2.0
MAX_PODS: Final = 110
KUBELET_VERSION: Final = "v1.34.10-kconnect-test"
"""Reported as the node's kubelet version; the suffix says it is not a real kubelet."""

CONDITIONS: Final = (
    ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
    (
        "MemoryPressure",
        "False",
        "KubeletHasSufficientMemory",
        "kubelet has sufficient memory available",
    ),
    ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
)


def architecture(machine: str | None = None) -> str:
    """The Go name of this machine's architecture, as in ``kubernetes.io/arch``."""
    machine = (machine or platform.machine()).lower()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386"}.get(
        machine, machine
    )


def machine_capacity(meminfo: str | None = None, cpus: int | None = None) -> dict[str, str]:
    """``cpu``, ``memory`` and ``pods`` of this machine, as quantities."""
    if meminfo is None:
        try:
            with open("/proc/meminfo", encoding="ascii") as handle:
                meminfo = handle.read()
        except OSError:
            meminfo = ""
    memory_kib = 0
    for line in meminfo.splitlines():
        if line.startswith("MemTotal:"):
            memory_kib = int(line.split()[1])
    return {
        "cpu": str(cpus or os.cpu_count() or 1),
        "memory": f"{memory_kib}Ki",
        "pods": str(MAX_PODS),
        "ephemeral-storage": "100Gi",
    }


def node_labels(node_name: str, extra: Mapping[str, str]) -> dict[str, str]:
    return {
        "kubernetes.io/hostname": node_name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": architecture(),
        **extra,
    }


def node_conditions(now: datetime.datetime, previous: list[JsonObject]) -> list[JsonObject]:
    """The node's conditions, heartbeat now; a transition time stays while a status does."""
    before = {str(c.get("type")): c for c in previous}
    conditions = []
    for kind, status, reason, message in CONDITIONS:
        old = before.get(kind)
        since = (
            old["lastTransitionTime"]
            if old is not None and old.get("status") == status and old.get("lastTransitionTime")
            else timestamp(now)
        )
        conditions.append(
            {
                "type": kind,
                "status": status,
                "reason": reason,
                "message": message,
                "lastHeartbeatTime": timestamp(now),
                "lastTransitionTime": since,
            }
        )
    return conditions


def node_status(
    node_name: str, capacity: Mapping[str, str], now: datetime.datetime, previous: list[JsonObject]
) -> JsonObject:
    uname = platform.uname()
    return {
        "capacity": dict(capacity),
        "allocatable": dict(capacity),
        "conditions": node_conditions(now, previous),
        "addresses": [
            {"type": "InternalIP", "address": HOST_IP},
            {"type": "Hostname", "address": node_name},
        ],
        # Port 0: there is no kubelet API, so `kubectl logs/exec/port-forward` cannot work.
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 0}},
        "nodeInfo": {
            "machineID": node_name,
            "systemUUID": node_name,
            "bootID": _boot_id(),
            "kernelVersion": uname.release,
            "osImage": f"{uname.system} (kconnect test kubelet)",
            "containerRuntimeVersion": f"{RUNTIME}://0.1",
            "kubeletVersion": KUBELET_VERSION,
            "operatingSystem": "linux",
            "architecture": architecture(),
        },
    }


def node_object(
    node_name: str, labels: Mapping[str, str], capacity: Mapping[str, str], now: datetime.datetime
) -> JsonObject:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": node_name, "labels": dict(labels)},
        "spec": {},
        "status": node_status(node_name, capacity, now, []),
    }


def lease_object(node: JsonObject, now: datetime.datetime) -> JsonObject:
    name = node["metadata"]["name"]
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {
            "name": name,
            "namespace": LEASE_NAMESPACE,
            "ownerReferences": [
                {
                    "apiVersion": "v1",
                    "kind": "Node",
                    "name": name,
                    "uid": node["metadata"]["uid"],
                }
            ],
        },
        "spec": {
            "holderIdentity": name,
            "leaseDurationSeconds": LEASE_DURATION_S,
            "renewTime": micro_time(now),
        },
    }


def micro_time(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def is_ready(node: JsonObject) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (node.get("status") or {}).get("conditions") or []
    )


def _boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as handle:
            return handle.read().strip()
    except OSError:
        return ""


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


# --------------------------------------------------------------------------------------------------
# The shell: registration and heartbeat


def register(
    api: Api, node_name: str, labels: Mapping[str, str], capacity: Mapping[str, str]
) -> JsonObject:
    """Create the node, or take over one of that name (its labels and status are set anew)."""
    path = f"/api/v1/nodes/{node_name}"
    try:
        api.request("POST", "/api/v1/nodes", node_object(node_name, labels, capacity, _now()))
    except ApiError as exc:
        if not exc.conflict:
            raise
        api.request("PATCH", path, {"metadata": {"labels": dict(labels)}}, content_type=MERGE_PATCH)
    node = api.request("GET", path)
    previous = list((node.get("status") or {}).get("conditions") or [])
    return api.request(
        "PATCH",
        path + "/status",
        {"status": node_status(node_name, capacity, _now(), previous)},
        content_type=MERGE_PATCH,
    )


class Heartbeat:
    """Renews the node's Lease and refreshes its conditions until :meth:`stop`."""

    def __init__(self, api: Api, node: JsonObject, capacity: Mapping[str, str]) -> None:
        self._api = api
        self._node = node
        self._capacity = dict(capacity)
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)

    def start(self) -> None:
        self.renew_lease()
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def renew_lease(self) -> None:
        name = self._node["metadata"]["name"]
        path = f"/apis/coordination.k8s.io/v1/namespaces/{LEASE_NAMESPACE}/leases/{name}"
        lease = lease_object(self._node, _now())
        try:
            self._api.request("PATCH", path, {"spec": lease["spec"]}, content_type=MERGE_PATCH)
        except ApiError as exc:
            if not exc.not_found:
                raise
            self._api.request(
                "POST", f"/apis/coordination.k8s.io/v1/namespaces/{LEASE_NAMESPACE}/leases", lease
            )

    def refresh_status(self) -> None:
        name = self._node["metadata"]["name"]
        node = self._api.request("GET", f"/api/v1/nodes/{name}")
        previous = list((node.get("status") or {}).get("conditions") or [])
        status = node_status(name, self._capacity, _now(), previous)
        self._api.request(
            "PATCH", f"/api/v1/nodes/{name}/status", {"status": status}, content_type=MERGE_PATCH
        )

    def _run(self) -> None:
        next_lease = time.monotonic() + LEASE_RENEW_S
        next_status = time.monotonic() + STATUS_REFRESH_S
        while not self._stopped.wait(max(0.0, min(next_lease, next_status) - time.monotonic())):
            now = time.monotonic()
            if now >= next_lease:
                next_lease = now + self._attempt(
                    "renew the node's Lease", self.renew_lease, LEASE_RENEW_S
                )
            if now >= next_status:
                next_status = now + self._attempt(
                    "refresh the node's status", self.refresh_status, STATUS_REFRESH_S
                )

    def _attempt(self, what: str, action: Callable[[], None], period: float) -> float:
        """Run ``action``; the delay until the next attempt (shorter after a failure)."""
        try:
            action()
        except (OSError, ApiError, ValueError) as exc:
            LOG.warning("could not %s (retrying in %gs): %s", what, RETRY_S, exc)
            return RETRY_S
        return period
