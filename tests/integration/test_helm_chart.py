"""The Helm chart (`charts/kconnect`) against the session's real control plane and helm binary.

- `helm lint` (also `--strict`) is clean; `values.schema.json` rejects wrong values with a message
  naming the value.
- What `helm template` renders is accepted by the real API server (`kubectl apply
  --dry-run=server`), serving all namespaces and serving a list of them.
- `charts/kconnect/scripts/upgrade-crds.sh` applies the chart's CRDs.

None of these runs a pod. `helm install`, `upgrade` and `uninstall` with the operator running as a
pod are tested on the real node, in the e2e tier (`e2e/test_helm_release.py`).
"""

from __future__ import annotations

import re
import subprocess
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Final

import pytest
import yaml

from kconnect_devenv import controlplane
from kconnect_devenv.cluster import Kubectl

REPO: Final = Path(__file__).resolve().parents[2]
CHART: Final = REPO / "charts" / "kconnect"
HELM_TIMEOUT_S: Final = 150.0


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

    # Every kind the operator reconciles, the shared KConnectCluster included, and its status.
    own = [
        set(rule["resources"])
        for doc in docs
        if doc and doc.get("kind") in ("Role", "ClusterRole")
        for rule in doc.get("rules") or []
        if rule.get("apiGroups") == ["kconnect.io"]
    ]
    for kinds in ("kafkaconnectors", "standaloneconnects", "kconnectclusters"):
        assert any(kinds in resources for resources in own), own
        assert any(f"{kinds}/status" in resources for resources in own), own

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
