"""The operator's whole platform on the real node, for the demos and the benchmarks.

``up`` brings up, in one root directory, what a KafkaConnector needs to go Ready as it would on a
cluster: a control plane started for a node (``controlplane/``), a Kafka broker with the listener
the pods reach (``kafka/``), the node (``node/``) with the worker and operator images built from
the checkout and imported into its runtime, and the operator installed from the Helm chart
(:mod:`kconnect_devenv.operatorrelease`). ``down`` stops all of it: the node first (its pods are
deleted and the host restored, see :mod:`kconnect_devenv.node`), then the broker and the control
plane, and removes the root.

Invariants:

- **Idempotent.** Each part that already runs in the root is used as it is (the services'
  ``start`` returns the running one; an installed release is waited on, not installed again), so
  ``up`` after ``up`` only checks.
- **One node per machine.** A node that runs from another state directory (``make node-up``, a
  test session) makes ``up`` fail at once, before anything else starts, saying so.
- **A failed up leaves what it started running** for inspection, and says so; ``down`` stops it.

The e2e tier starts the same parts with its own fixtures (``e2e/conftest.py``), since it adds a
test image and a volume provisioner and needs each part on its own scope.
"""

from __future__ import annotations

import dataclasses
import shutil
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Final

from kconnect_devenv import controlplane, engine, images, kafka, node, operatorrelease
from kconnect_devenv.cluster import Kubectl, KubectlError

# Quick passes, as in the e2e tier: a demo's connector shows its state within seconds.
OPERATOR_VALUES: Final[Mapping[str, object]] = {"reconcile.syncInterval": 5}


@dataclasses.dataclass(frozen=True)
class Platform:
    plane: controlplane.ControlPlane
    broker: kafka.Broker
    node: node.Node
    release: operatorrelease.OperatorRelease

    @property
    def kubectl(self) -> Kubectl:
        return Kubectl(self.plane.kubectl, self.plane.kubeconfig)

    @property
    def bootstrap(self) -> str:
        """The broker's address for pods, which the host reaches too."""
        assert self.broker.pods_bootstrap is not None
        return self.broker.pods_bootstrap


def image_archives(progress: Callable[[str], None] = print) -> list[Path]:
    """The worker and operator images, built from the checkout (quick when nothing changed), as
    archives for the node's runtime."""
    with engine.session() as running:
        tags = images.build(running, list(images.TARGETS), progress=progress)
        return [images.archive(running, tag) for tag in tags.values()]


def _installed(plane: controlplane.ControlPlane) -> bool:
    try:
        operatorrelease.helm(
            plane, "status", operatorrelease.RELEASE, "--namespace", operatorrelease.NAMESPACE
        )
    except KubectlError:
        return False
    return True


def up(
    root: Path,
    *,
    operator_values: Mapping[str, object] = OPERATOR_VALUES,
    die_with_parent: bool = False,
    progress: Callable[[str], None] = print,
) -> Platform:
    """Start (or find running) every part in ``root`` and return once the operator leads."""
    other = node.other_node(root / "node")
    if other is not None:
        raise node.StartError(
            f"a node from {other} already runs on this machine; stop it first (one node per "
            "machine; `make node-down` stops the one of `make node-up`)"
        )
    progress("the worker and operator images, from the checkout")
    archives = image_archives(progress)

    progress("the control plane, started for a node")
    began = time.monotonic()
    plane = controlplane.start(
        root / "controlplane", die_with_parent=die_with_parent, for_node=True
    )
    progress(f"API server {plane.server} ({time.monotonic() - began:.1f} s)")

    progress("a Kafka broker with a listener the pods reach")
    broker = kafka.start(root / "kafka", pods_listener=True, die_with_parent=die_with_parent)
    if broker.pods_bootstrap is None:
        raise kafka.BrokerStartError(
            f"the broker in {root / 'kafka'} runs without the pods' listener; stop it first"
        )
    progress(f"bootstrap.servers={broker.pods_bootstrap}")

    progress("the node: containerd, kubelet, kube-proxy, kube-scheduler, CoreDNS")
    began = time.monotonic()
    started = node.start(plane, root / "node", images=archives, die_with_parent=die_with_parent)
    progress(f"node {started.name} Ready with cluster DNS ({time.monotonic() - began:.1f} s)")

    kubectl = Kubectl(plane.kubectl, plane.kubeconfig)
    began = time.monotonic()
    if _installed(plane):
        progress("the operator's release is installed; waiting until it leads")
        release = operatorrelease.OperatorRelease(kubectl)
        release.wait_leading()
    else:
        progress(f"helm install {operatorrelease.RELEASE} charts/kconnect")
        chart_values = operatorrelease.values(
            images.TARGETS["operator"], images.TARGETS["worker"], operator_values
        )
        release = operatorrelease.install(plane, kubectl, chart_values)
    progress(f"the operator leads ({time.monotonic() - began:.1f} s)")
    return Platform(plane, broker, started, release)


def down(root: Path, progress: Callable[[str], None] = print) -> None:
    """Stop every part in ``root`` (the node first, restoring the host) and remove ``root``."""
    node.stop(root / "node")
    progress("stopped the node; the host is restored")
    kafka.stop(root / "kafka")
    progress("stopped the Kafka broker")
    controlplane.stop(root / "controlplane")
    progress("stopped the control plane")
    shutil.rmtree(root, ignore_errors=True)
