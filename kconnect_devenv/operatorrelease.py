"""The operator installed from the Helm chart on the real node, as a platform engineer installs it.

``install`` runs ``helm install`` of ``charts/kconnect`` (CRDs, service account, RBAC, the
Deployment) with images that are already in the node's runtime (``image.pullPolicy: Never``: a
missing image fails the pod with ``ErrImageNeverPull`` instead of a pull), waits until the
Deployment is available, and returns an :class:`OperatorRelease`. Its metrics are read from the
operator pod's IP, which the host reaches through the node's bridge; its log is the container's
log as ``kubectl logs`` shows it. ``uninstall`` removes the release (the CRDs stay, as Helm
leaves them).

Every wait is bounded and fails with what it saw last and the operator's log tail.
"""

from __future__ import annotations

import subprocess
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Final

from kconnect_devenv import controlplane
from kconnect_devenv.cluster import (
    REPO,
    JsonObject,
    Kubectl,
    KubectlError,
    OperatorMetrics,
    wait_for,
)

CHART: Final = REPO / "charts" / "kconnect"
RELEASE: Final = "kconnect"
NAMESPACE: Final = "kconnect-system"
SELECTOR: Final = "app.kubernetes.io/name=kconnect-operator,app.kubernetes.io/instance=kconnect"
HEALTH_PORT: Final = 8080
HELM_TIMEOUT_S: Final = 180.0
READY_TIMEOUT_S: Final = 120.0


class OperatorRelease(OperatorMetrics):
    """The chart's operator, running as a pod of the node."""

    wait_timeout = READY_TIMEOUT_S

    def __init__(self, kubectl: Kubectl, namespace: str = NAMESPACE) -> None:
        self.kubectl = kubectl
        self.namespace = namespace

    @property
    def instance(self) -> str:
        """The install's name, which it claims resources with (annotation kconnect.io/operator):
        the operator's default, ``<lease namespace>/<lease name>``; the chart's lease is named
        for the release's full name, here the release's."""
        return f"{self.namespace}/{RELEASE}"

    def pods(self) -> list[JsonObject]:
        return [
            p
            for p in self.kubectl.items("pods", self.namespace, SELECTOR)
            if not p["metadata"].get("deletionTimestamp")
        ]

    def metrics(self) -> str:
        """The metrics of the leading pod (the only one with ``kconnect_operator_leader 1``), or
        of the only pod; empty when none answers."""
        texts = []
        for pod in self.pods():
            ip = pod.get("status", {}).get("podIP")
            if not ip:
                continue
            url = f"http://{ip}:{HEALTH_PORT}/metrics"
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    text: str = response.read().decode()
            except (urllib.error.URLError, OSError):
                continue
            if "\nkconnect_operator_leader 1" in "\n" + text:
                return text
            texts.append(text)
        return texts[0] if len(texts) == 1 else ""

    def wait_leading(self, timeout: float = READY_TIMEOUT_S) -> None:
        try:
            wait_for(
                "the operator pod to lead",
                lambda: "\nkconnect_operator_leader 1" in "\n" + self.metrics(),
                timeout,
            )
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.describe()}\n{self.log_tail()}") from None

    def log(self) -> str:
        """The whole log of every operator container, this run's and a restarted one's."""
        parts = []
        for pod in self.pods():
            name = pod["metadata"]["name"]
            for previous in (True, False):
                args = ["-n", self.namespace, "logs", name, "-c", "operator"]
                text = self.kubectl.run(*args, *(["--previous"] if previous else []), check=False)
                if previous and "previous terminated container" in text:
                    continue
                parts.append(text)
        return "\n".join(parts)

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    def describe(self) -> str:
        return self.kubectl.run(
            "-n", self.namespace, "describe", "pods", "-l", SELECTOR, check=False
        )


def values(
    image: str, worker_image: str, extra: Mapping[str, object] | None = None
) -> dict[str, object]:
    """The chart values for images already in the node (never pulled), plus ``extra``
    (dotted keys, as ``--set`` takes them)."""
    repository, tag = image.rsplit(":", 1)
    worker_repository, worker_tag = worker_image.rsplit(":", 1)
    return {
        "image.repository": repository,
        "image.tag": tag,
        "image.pullPolicy": "Never",
        "workerImage.repository": worker_repository,
        "workerImage.tag": worker_tag,
        **(extra or {}),
    }


def helm(plane: controlplane.ControlPlane, *args: str) -> str:
    done = subprocess.run(
        [str(plane.helm), "--kubeconfig", str(plane.kubeconfig), *args],
        capture_output=True,
        text=True,
        timeout=HELM_TIMEOUT_S + 30,
        check=False,
    )
    if done.returncode != 0:
        raise KubectlError(["(helm)", *args], done.stderr or done.stdout)
    return done.stdout


def install(
    plane: controlplane.ControlPlane,
    kubectl: Kubectl,
    chart_values: Mapping[str, object],
    *,
    namespace: str = NAMESPACE,
) -> OperatorRelease:
    """``helm install`` the chart into ``namespace`` and wait until its operator leads."""
    sets = [f"--set={key}={value}" for key, value in chart_values.items()]
    release = OperatorRelease(kubectl, namespace)
    try:
        helm(
            plane,
            "install", RELEASE, str(CHART), "--namespace", namespace, "--create-namespace",
            *sets, "--wait", f"--timeout={HELM_TIMEOUT_S:.0f}s",
        )  # fmt: skip
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{release.describe()}\n{release.log_tail()}") from None
    release.wait_leading()
    return release


def uninstall(plane: controlplane.ControlPlane, namespace: str = NAMESPACE) -> None:
    helm(plane, "uninstall", RELEASE, "--namespace", namespace, "--wait", "--timeout=60s")
