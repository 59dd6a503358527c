"""The Helm chart installed as a platform engineer installs it, on the real node.

`helm install` runs the operator as a pod of the node, from the operator image (loaded into the
node's runtime; never pulled). It leads through the Lease in the release namespace, under its
service account and the chart's RBAC, and brings a KafkaConnector to Ready. `helm upgrade` rolls
the pods and the new leader still reconciles; `helm uninstall` removes the operator and leaves the
CRDs, as Helm does.

The session's own operator (e2e/conftest.py, release `kconnect` in `kconnect-system`) may run
beside this release and serves all namespaces. The release here has its own Lease in its own
namespace and serves only its test namespace; its KafkaConnector is created claimed by the
release (the annotation `kconnect.io/operator`, docs/helm.md), so the session's operator leaves it
alone, and the test asserts that the Lease is held by the release's pod, so a connector made Ready
by another operator would not pass for the chart's. Every wait is bounded.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any, Final

import pytest

from kconnect_devenv import controlplane, images, node, operatorrelease
from kconnect_devenv.cluster import JsonObject, Kubectl, KubectlError, WaitTimeout, wait_for

HELM_TIMEOUT_S: Final = 150.0
READY_TIMEOUT_S: Final = 150.0
OPERATOR_LABEL: Final = "app.kubernetes.io/name=kconnect-operator"

# Short timings so hand-overs and passes happen within seconds (as for the session's operator).
FAST_VALUES: Final = {
    "reconcile.syncInterval": 5,
    "reconcile.restartBackoff": 1,
    "leaderElection.leaseDuration": 6,
    "leaderElection.renewDeadline": 4,
    "leaderElection.retryPeriod": 1,
    "logLevel": "debug",
}


def unique(stem: str) -> str:
    return f"{stem}-{uuid.uuid4().hex[:6]}"


@pytest.fixture
def release_namespace(kubectl: Kubectl) -> Iterator[str]:
    """The release's own namespace (`helm uninstall` leaves it), deleted after the test."""
    name = unique("kconnect-system")
    kubectl.run("create", "namespace", name)
    yield name
    kubectl.run("delete", "namespace", name, "--wait=false", check=False)


class Helm:
    """`helm` against the session's control plane; a failure raises with helm's output and
    `diagnostics()`."""

    def __init__(self, plane: controlplane.ControlPlane) -> None:
        self.plane = plane

    def run(self, *args: str, diagnostics: Any = None) -> str:
        try:
            return operatorrelease.helm(self.plane, *args)
        except KubectlError as error:
            extra = f"\n{diagnostics()}" if diagnostics is not None else ""
            raise AssertionError(f"{error}{extra}") from None


def chart_values(**extra: object) -> list[str]:
    """`--set` options: the session's images (never pulled), quick timings, and `extra`."""
    values = operatorrelease.values(
        images.TARGETS["operator"], images.TARGETS["worker"], {**FAST_VALUES, **extra}
    )
    return [f"--set={key}={value}" for key, value in values.items()]


# --- install, upgrade, uninstall


def operator_pods(kubectl: Kubectl, namespace: str, release: str) -> list[JsonObject]:
    pods = kubectl.items(
        "pods", namespace, f"{OPERATOR_LABEL},app.kubernetes.io/instance={release}"
    )
    return [p for p in pods if not p["metadata"].get("deletionTimestamp")]


def is_ready(pod: JsonObject) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def lease_holder(kubectl: Kubectl, namespace: str, name: str) -> str:
    lease = kubectl.get("lease", name, namespace)
    return str(((lease or {}).get("spec") or {}).get("holderIdentity") or "")


def ready_condition(obj: JsonObject | None) -> JsonObject:
    for condition in ((obj or {}).get("status") or {}).get("conditions") or []:
        if condition["type"] == "Ready":
            return dict(condition)
    return {}


def logs(kubectl: Kubectl, namespace: str, pods: list[JsonObject]) -> str:
    """The tail of each operator container's log, as `kubectl logs` shows it."""
    parts = []
    for pod in pods:
        name = pod["metadata"]["name"]
        text = kubectl.logs(namespace, name, "operator")
        parts.append(f"--- {name}\n" + "\n".join(text.splitlines()[-40:]))
    return "\n".join(parts)


def can_i(kubectl: Kubectl, user: str, *args: str) -> str:
    """`kubectl auth can-i` as `user`: "yes" or "no" (it exits 1 on "no")."""
    result = subprocess.run(
        [str(kubectl.binary), "auth", "can-i", "--as", user, *args],
        env=kubectl.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return result.stdout.strip()


def wait_leader(kubectl: Kubectl, namespace: str, release: str, lease: str) -> str:
    """Waits until every operator pod is Ready and one of them holds the Lease; returns it."""

    def leader() -> str | None:
        pods = operator_pods(kubectl, namespace, release)
        names = {p["metadata"]["name"] for p in pods}
        holder = lease_holder(kubectl, namespace, lease).rsplit("_", 1)[0]
        if pods and all(is_ready(p) for p in pods) and holder in names:
            return holder
        return None

    leading: str = wait_for(f"a Ready operator pod leading {namespace}/{lease}", leader, 60)
    return leading


def wait_connector(
    kubectl: Kubectl, namespace: str, name: str, *, reason: str, diagnostics: Any
) -> JsonObject:
    def reached() -> JsonObject | None:
        obj = kubectl.get("kafkaconnector", name, namespace)
        condition = ready_condition(obj)
        return obj if condition.get("reason") == reason else None

    try:
        found: JsonObject = wait_for(
            f"KafkaConnector {namespace}/{name} with reason {reason}", reached, READY_TIMEOUT_S, 1
        )
    except WaitTimeout as error:
        raise AssertionError(f"{error}\n{diagnostics()}") from None
    return found


@pytest.mark.timeout(600)
def test_install_reconcile_upgrade_uninstall(
    helm: Helm,
    kubectl: Kubectl,
    real_node: node.Node,
    kafka_bootstrap: str,
    release_namespace: str,
    namespace: str,
) -> None:
    release_ns, watched = release_namespace, namespace
    release = "kc"
    fullname = "kc-kconnect"
    base = chart_values(watchNamespaces=f"{{{watched}}}")

    def diagnostics() -> str:
        pods = kubectl.items("pods", release_ns)
        states = [(p["metadata"]["name"], p.get("status")) for p in pods]
        return (
            f"{kubectl.run('get', 'all', '-n', watched)}\n{states}\n"
            f"{logs(kubectl, release_ns, pods)}"
        )

    # helm install: CRDs from crds/ (if not there yet), then the release; --wait for Ready pods.
    helm.run(
        "install", release, str(operatorrelease.CHART), "-n", release_ns, "--wait",
        f"--timeout={HELM_TIMEOUT_S:.0f}s", *base, diagnostics=diagnostics,
    )  # fmt: skip
    leader = wait_leader(kubectl, release_ns, release, fullname)
    [first_pod] = operator_pods(kubectl, release_ns, release)
    assert leader == first_pod["metadata"]["name"]
    assert first_pod["spec"]["serviceAccountName"] == fullname
    # The operator runs as the chart's service account: a request outside its RBAC is refused.
    sa = f"system:serviceaccount:{release_ns}:{fullname}"
    assert can_i(kubectl, sa, "list", "kafkaconnectors", "-n", watched) == "yes"
    assert can_i(kubectl, sa, "list", "kafkaconnectors", "-n", release_ns) == "no"
    assert can_i(kubectl, sa, "update", "leases/other", "-n", release_ns) == "no"
    assert can_i(kubectl, sa, "update", f"leases/{fullname}", "-n", release_ns) == "yes"
    assert can_i(kubectl, sa, "create", "secrets", "-n", watched) == "no"
    # Secrets: read by name only, never listed or watched.
    assert can_i(kubectl, sa, "get", "secrets", "-n", watched) == "yes"
    assert can_i(kubectl, sa, "list", "secrets", "-n", watched) == "no"
    assert can_i(kubectl, sa, "watch", "secrets", "-n", watched) == "no"
    # The Lease is owned by the operator's Deployment, so uninstalling collects it.
    lease = kubectl.get("lease", fullname, release_ns)
    assert lease is not None
    deployment = kubectl.get("deployment", fullname, release_ns)
    assert deployment is not None
    assert [(r["kind"], r["name"], r["uid"]) for r in lease["metadata"]["ownerReferences"]] == [
        ("Deployment", fullname, deployment["metadata"]["uid"])
    ]

    # It reconciles a KafkaConnector in the namespace it serves, created claimed by the release
    # (`<release namespace>/<lease name>`), so that no other install reconciles it.
    name = unique("helm-datagen")
    instance = f"{release_ns}/{fullname}"
    kubectl.apply(
        {
            "apiVersion": "kconnect.io/v1alpha1",
            "kind": "KafkaConnector",
            "metadata": {
                "name": name,
                "namespace": watched,
                "annotations": {"kconnect.io/operator": instance},
            },
            "spec": {
                "class": "DataGen",
                "bootstrapServers": kafka_bootstrap,
                "tasksMax": 1,
                "replicas": 1,
                "config": {"topic": unique("helm-users"), "records.per.second": "5"},
            },
        }
    )
    obj = wait_connector(kubectl, watched, name, reason="Running", diagnostics=diagnostics)
    assert ready_condition(obj)["status"] == "True"
    assert obj["metadata"]["annotations"]["kconnect.io/operator"] == instance
    assert lease_holder(kubectl, release_ns, fullname).startswith(f"{leader}_")

    # helm upgrade: a changed value rolls the pods, two replicas elect one leader, and it acts.
    helm.run(
        "upgrade", release, str(operatorrelease.CHART), "-n", release_ns, "--wait",
        f"--timeout={HELM_TIMEOUT_S:.0f}s", *base,
        "--set", "replicaCount=2", "--set-string", "podAnnotations.kconnect\\.io/revision=2",
        diagnostics=diagnostics,
    )  # fmt: skip
    old_pod = first_pod["metadata"]["name"]

    def rolled() -> list[JsonObject] | None:
        pods = operator_pods(kubectl, release_ns, release)
        names = {p["metadata"]["name"] for p in pods}
        return pods if len(pods) == 2 and old_pod not in names else None

    pods: list[JsonObject] = wait_for("two new operator pods", rolled, HELM_TIMEOUT_S)
    assert all(p["metadata"]["annotations"]["kconnect.io/revision"] == "2" for p in pods)
    new_leader = wait_leader(kubectl, release_ns, release, fullname)
    assert new_leader != leader
    kubectl.run(
        "-n", watched, "patch", "kafkaconnector", name, "--type=merge",
        "-p", json.dumps({"spec": {"state": "paused"}}),
    )  # fmt: skip
    wait_connector(kubectl, watched, name, reason="Paused", diagnostics=diagnostics)

    kubectl.run("-n", watched, "delete", "kafkaconnector", name, "--wait=true", "--timeout=60s")

    # helm uninstall: the operator is gone, the CRDs stay.
    helm.run("uninstall", release, "-n", release_ns, "--wait", f"--timeout={HELM_TIMEOUT_S:.0f}s")
    assert kubectl.get("deployment", fullname, release_ns) is None
    wait_for(
        "the operator pods to be gone", lambda: not operator_pods(kubectl, release_ns, release), 60
    )
    assert kubectl.get("serviceaccount", fullname, release_ns) is None
    wait_for(
        "the Lease to be garbage-collected",
        lambda: kubectl.get("lease", fullname, release_ns) is None,
        60,
    )
    assert kubectl.get("role", fullname, watched) is None
    crd = kubectl.get("crd", "kafkaconnectors.kconnect.io", "default")
    assert crd is not None


@pytest.fixture
def helm(control_plane: controlplane.ControlPlane) -> Helm:
    return Helm(control_plane)
