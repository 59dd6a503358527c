"""The Helm chart (`charts/kconnect`) against the session's real control plane and helm binary.

- `helm lint` (also `--strict`) is clean; `values.schema.json` rejects wrong values with a message
  naming the value.
- What `helm template` renders is accepted by the real API server (`kubectl apply
  --dry-run=server`), serving all namespaces and serving a list of them.
- `helm install` runs the operator as a pod (through the test kubelet, whose pods are local
  processes: the image is ignored and `kconnect-operator` comes from the venv). It leads through
  the Lease in the release namespace, under its service account and the chart's RBAC, and brings a
  KafkaConnector to Ready. `helm upgrade` rolls the pods and the new leader still reconciles;
  `helm uninstall` removes the operator and leaves the CRDs, as Helm does.

The e2e tier's own operator (e2e/conftest.py) serves all namespaces with the Lease `default/
kconnect-operator`. The release here has its own Lease in its own namespace and serves only its
test namespace; the test asserts that the Lease is held by the release's pod, so a connector
made Ready by another operator would not pass for the chart's. Every wait is bounded.
"""

from __future__ import annotations

import json
import re
import subprocess
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Final

import pytest
import yaml

from kconnect_devenv import controlplane
from kconnect_devenv.cluster import JsonObject, Kubectl, WaitTimeout, wait_for
from kconnect_devenv.kubelet import Kubelet

REPO: Final = Path(__file__).resolve().parents[2]
CHART: Final = REPO / "charts" / "kconnect"
HELM_TIMEOUT_S: Final = 150.0
READY_TIMEOUT_S: Final = 150.0
OPERATOR_LABEL: Final = "app.kubernetes.io/name=kconnect-operator"

# Short timings so hand-overs and passes happen within seconds (as in the e2e tier).
FAST_VALUES: Final = (
    "reconcile.syncInterval=5",
    "reconcile.restartBackoff=1",
    "leaderElection.leaseDuration=6",
    "leaderElection.renewDeadline=4",
    "leaderElection.retryPeriod=1",
)


class Helm:
    def __init__(self, binary: Path, kubeconfig: Path) -> None:
        self.binary = binary
        self.env = {"KUBECONFIG": str(kubeconfig), "PATH": "/usr/bin:/bin", "HOME": "/tmp"}

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(self.binary), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=HELM_TIMEOUT_S + 30,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"helm {' '.join(args)} exited {result.returncode}:\n"
                f"{result.stdout}\n{result.stderr}"
            )
        return result


def set_args(values: Sequence[str]) -> list[str]:
    return [arg for value in values for arg in ("--set", value)]


def unique(stem: str) -> str:
    return f"{stem}-{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="module")
def helm(control_plane: controlplane.ControlPlane) -> Helm:
    return Helm(control_plane.helm, control_plane.kubeconfig)


@pytest.fixture(scope="module")
def kubectl(control_plane: controlplane.ControlPlane) -> Kubectl:
    return Kubectl(control_plane.kubectl, control_plane.kubeconfig)


@pytest.fixture
def namespaces(kubectl: Kubectl) -> Iterator[list[str]]:
    """The namespaces a test made with `make_namespace`, deleted after it."""
    made: list[str] = []
    yield made
    for name in made:
        kubectl.run("delete", "namespace", name, "--wait=false", check=False)


def make_namespace(kubectl: Kubectl, made: list[str], stem: str) -> str:
    name = unique(stem)
    kubectl.run("create", "namespace", name)
    made.append(name)
    return name


# --- static checks


@pytest.mark.parametrize(
    "values",
    [(), ("watchNamespaces={a,b}", "replicaCount=2", "metrics.serviceMonitor.enabled=true")],
    ids=["defaults", "namespaced-ha-servicemonitor"],
)
@pytest.mark.parametrize("strict", [False, True], ids=["lint", "lint-strict"])
def test_helm_lint_is_clean(helm: Helm, values: Sequence[str], *, strict: bool) -> None:
    result = helm.run("lint", str(CHART), *(["--strict"] if strict else []), *set_args(values))
    assert "1 chart(s) linted, 0 chart(s) failed" in result.stdout
    assert "[ERROR]" not in result.stdout
    assert "[WARNING]" not in result.stdout


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (["replicaCount=two"], "at '/replicaCount': got string, want integer"),
        (["watchNamespaces=x"], "at '/watchNamespaces': got string, want array"),
        (["watchNamespaces={Not_A_Namespace}"], "at '/watchNamespaces/0'"),
        (["replicaCas=2"], "additional properties 'replicaCas' not allowed"),
        (["logLevel=loud"], "at '/logLevel': value must be one of 'debug', 'info', 'warning'"),
        (["image.pullPolicy=Sometimes"], "at '/image/pullPolicy'"),
        (["metrics.serviceMonitor.interval=often"], "at '/metrics/serviceMonitor/interval'"),
        (
            ["replicaCount=2", "leaderElection.enabled=false"],
            "replicaCount: 2 replicas need leaderElection.enabled=true",
        ),
        (
            ["leaderElection.renewDeadline=20"],
            "leaderElection.renewDeadline: 20 must be less than leaderElection.leaseDuration",
        ),
        (
            # The operator refuses it (the deadline must exceed 1.2 retry periods): the chart too.
            ["leaderElection.retryPeriod=9"],
            "leaderElection.retryPeriod: 9 is too long for leaderElection.renewDeadline (10)",
        ),
    ],
)
def test_wrong_values_fail_with_the_value_named(
    helm: Helm, values: list[str], message: str
) -> None:
    for command in ("template", "install"):
        extra = ["--dry-run=client"] if command == "install" else []
        result = helm.run(command, "bad", str(CHART), *extra, *set_args(values), check=False)
        assert result.returncode != 0, result.stdout
        assert message in result.stderr


@pytest.mark.parametrize("mode", ["all-namespaces", "watch-namespaces"])
def test_rendered_chart_passes_server_side_dry_run(
    helm: Helm, kubectl: Kubectl, namespaces: list[str], mode: str
) -> None:
    release_ns = make_namespace(kubectl, namespaces, "helm-dry")
    values = ["replicaCount=2"]
    if mode == "watch-namespaces":
        watched = [make_namespace(kubectl, namespaces, "helm-dry-w") for _ in range(2)]
        values.append(f"watchNamespaces={{{','.join(watched)}}}")
    rendered = helm.run(
        "template", "dry", str(CHART), "-n", release_ns, "--include-crds", *set_args(values)
    ).stdout
    kinds = {m.group(1) for m in re.finditer(r"(?m)^kind: (\w+)$", rendered)}
    expected = {"CustomResourceDefinition", "ServiceAccount", "Deployment", "Service"}
    expected |= {"ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}
    assert expected <= kinds, kinds

    # Secrets are read by name only, in both modes: no rule lists or watches them.
    docs = [yaml.safe_load(doc) for doc in rendered.split("\n---\n")]
    secret_rules = [
        rule
        for doc in docs
        if doc and doc.get("kind") in ("Role", "ClusterRole")
        for rule in doc.get("rules") or []
        if "secrets" in rule.get("resources", [])
    ]
    assert secret_rules, "no rule for secrets"
    assert all(rule["verbs"] == ["get"] for rule in secret_rules), secret_rules

    out = kubectl.run("apply", "--dry-run=server", "-f", "-", stdin=rendered)
    assert "deployment.apps/dry-kconnect created (server dry run)" in out
    if mode == "watch-namespaces":
        for ns in watched:
            role = helm_role(rendered, ns)
            assert role is not None, f"no Role in {ns}"


def helm_role(rendered: str, namespace: str) -> str | None:
    for doc in rendered.split("\n---\n"):
        if re.search(r"(?m)^kind: Role$", doc) and f"namespace: {namespace}\n" in doc:
            return doc
    return None


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


def logs(kubelet: Kubelet, namespace: str, pods: list[JsonObject]) -> str:
    parts = []
    for pod in pods:
        name = pod["metadata"]["name"]
        try:
            text = kubelet.container_log(namespace, name, "operator").read_text("utf-8", "replace")
        except OSError as error:
            text = str(error)
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
    kubelet: Kubelet,
    kafka_bootstrap: str,
    namespaces: list[str],
) -> None:
    release_ns = make_namespace(kubectl, namespaces, "kconnect-system")
    watched = make_namespace(kubectl, namespaces, "helm-apps")
    release = "kc"
    fullname = "kc-kconnect"
    base = [*FAST_VALUES, f"watchNamespaces={{{watched}}}", "logLevel=debug"]

    def diagnostics() -> str:
        pods = kubectl.items("pods", release_ns)
        states = [(p["metadata"]["name"], p.get("status")) for p in pods]
        return (
            f"{kubectl.run('get', 'all', '-n', watched)}\n{states}\n"
            f"{logs(kubelet, release_ns, pods)}"
        )

    # helm install: CRDs from crds/ (if not there yet), then the release; --wait for Ready pods.
    try:
        helm.run(
            "install", release, str(CHART), "-n", release_ns, "--wait",
            f"--timeout={HELM_TIMEOUT_S:.0f}s", *set_args(base),
        )  # fmt: skip
    except AssertionError as error:
        raise AssertionError(f"{error}\n{diagnostics()}") from None
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

    # It reconciles a KafkaConnector in the namespace it serves.
    name = unique("helm-datagen")
    kubectl.apply(
        {
            "apiVersion": "kconnect.io/v1alpha1",
            "kind": "KafkaConnector",
            "metadata": {"name": name, "namespace": watched},
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
    # The release's operator claimed it: `<release namespace>/<lease name>`.
    assert obj["metadata"]["annotations"]["kconnect.io/operator"] == f"{release_ns}/{fullname}"
    assert lease_holder(kubectl, release_ns, fullname).startswith(f"{leader}_")

    # helm upgrade: a changed value rolls the pods, two replicas elect one leader, and it acts.
    helm.run(
        "upgrade", release, str(CHART), "-n", release_ns, "--wait",
        f"--timeout={HELM_TIMEOUT_S:.0f}s", *set_args(base),
        "--set", "replicaCount=2", "--set-string", "podAnnotations.kconnect\\.io/revision=2",
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


def test_upgrade_crds_script_applies_the_chart_crds(
    kubectl: Kubectl, control_plane: controlplane.ControlPlane
) -> None:
    result = subprocess.run(
        [str(CHART / "scripts" / "upgrade-crds.sh")],
        env={**kubectl.env, "KUBECTL": str(control_plane.kubectl)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    for crd in sorted((CHART / "crds").glob("*.yaml")):
        name = re.search(r"(?m)^  name: (\S+)$", crd.read_text("utf-8"))
        assert name is not None
        assert f"customresourcedefinition.apiextensions.k8s.io/{name.group(1)} " in result.stdout
        assert kubectl.get("crd", name.group(1), "default") is not None
