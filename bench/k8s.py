"""The operator's figures: a warm control plane start, and `kubectl apply` → Ready.

Each control plane start uses a fresh state directory with the binaries already built (the cold
build is timed once by `make cluster-build` and recorded in the notes). The apply → Ready runs use
one platform on the real node (:mod:`kconnect_devenv.operatorplatform`: control plane, broker with
the pods' listener, node with the images imported, the operator from the Helm chart), and apply a
KafkaConnector (DataGen, 2 worker pods, 2 tasks) under a new name each time; the clock stops when
its Ready condition is True, which needs both worker pods Ready and both tasks RUNNING. The node
needs root, and no other node may run. Every wait is bounded; the platform is stopped (and the
host restored) on every path.
"""

from __future__ import annotations

import functools
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final

from kconnect_devenv import controlplane, operatorplatform
from kconnect_devenv.cluster import Kubectl, wait_for

READY_TIMEOUT_S: Final = 180.0
NAMESPACE: Final = "bench"


def control_plane_starts(runs: int, log: Callable[[str], None]) -> list[float]:
    controlplane.build()
    times: list[float] = []
    for i in range(runs):
        with tempfile.TemporaryDirectory(prefix="kconnect-bench-cp-") as tmp:
            began = time.monotonic()
            controlplane.start(Path(tmp), die_with_parent=True)
            times.append(time.monotonic() - began)
            controlplane.stop(Path(tmp))
        log(f"control plane start {i + 1}/{runs}: {times[-1]:.2f} s")
    return times


def _ready(kubectl: Kubectl, name: str) -> bool:
    obj = json.loads(kubectl.run("-n", NAMESPACE, "get", "kafkaconnector", name, "-o", "json"))
    conditions = (obj.get("status") or {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def apply_to_ready(runs: int, log: Callable[[str], None]) -> list[float]:
    with tempfile.TemporaryDirectory(prefix="kconnect-bench-k8s-") as tmp:
        root = Path(tmp)
        try:
            platform = operatorplatform.up(root, die_with_parent=True, progress=log)
            kubectl = platform.kubectl
            kubectl.run("create", "namespace", NAMESPACE)
            return [_apply_to_ready(kubectl, platform.bootstrap, i, runs, log) for i in range(runs)]
        finally:
            operatorplatform.down(root, progress=log)


def _apply_to_ready(
    kubectl: Kubectl, bootstrap: str, i: int, runs: int, log: Callable[[str], None]
) -> float:
    name = f"bench-{i}"
    resource = {
        "apiVersion": "kconnect.io/v1alpha1",
        "kind": "KafkaConnector",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "class": "DataGen",
            "bootstrapServers": bootstrap,
            "tasksMax": 2,
            "replicas": 2,
            "config": {"topic": f"bench-k8s-{i}", "records.per.second": "100"},
            "deletionPolicy": "Delete",
        },
    }
    began = time.monotonic()
    kubectl.apply(resource)
    wait_for(f"{name} Ready", functools.partial(_ready, kubectl, name), READY_TIMEOUT_S, 0.2)
    took = time.monotonic() - began
    log(f"kubectl apply → Ready {i + 1}/{runs}: {took:.2f} s")
    kubectl.run("-n", NAMESPACE, "delete", "kafkaconnector", name, "--timeout=120s")
    return took
