"""Fixtures of the e2e tier: the whole system, once per session.

The session's control plane, test kubelet and Kafka broker come from the root conftest. On top of
them this starts the CRDs and one `kconnect-operator` process watching all namespaces, as its
Deployment would run it (leader election included). Each test gets its own namespace, so tests
never see each other's resources; KafkaConnector names are unique across the session too, since
a sink's consumer group (`connect-<name>`) is broker-wide.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from kconnect_devenv import controlplane
from kconnect_devenv.cluster import CRDS, Kubectl, Operator

TEST_PLUGINS = Path(__file__).resolve().parents[1] / "tests" / "plugins"

OPERATOR_ARGS = (
    # Quick passes and short auto-restart backoffs keep the tests short; the defaults are longer.
    "--sync-interval",
    "5",
    "--restart-backoff",
    "1",
    "--lease-duration",
    "6",
    "--renew-deadline",
    "4",
    "--retry-period",
    "1",
)


@pytest.fixture(scope="session")
def kubectl(control_plane: controlplane.ControlPlane) -> Kubectl:
    return Kubectl(control_plane.kubectl, control_plane.kubeconfig)


@pytest.fixture(scope="session")
def operator(
    kubectl: Kubectl,
    control_plane: controlplane.ControlPlane,
    kubelet: object,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Operator]:
    """The operator, leading, with the CRDs installed and the test kubelet running pods."""
    kubectl.apply_files(CRDS)
    kubectl.run("wait", "--for=condition=Established", "--timeout=60s", "crd", "--all")
    log_path = tmp_path_factory.mktemp("operator") / "operator.log"
    operator = Operator(control_plane.kubeconfig, log_path, extra_args=OPERATOR_ARGS)
    try:
        operator.wait_leading()
        yield operator
    finally:
        operator.stop()


@pytest.fixture
def namespace(kubectl: Kubectl, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace named after the test, with the test connectors' plugin path in a
    ConfigMap (`test-plugins`, key `PYTHONPATH`) for resources that reference it."""
    stem = re.sub(r"[^a-z0-9-]+", "-", request.node.name.lower()).strip("-")[:40].strip("-")
    name = f"{stem}-{uuid.uuid4().hex[:5]}"
    kubectl.run("create", "namespace", name)
    kubectl.apply(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "test-plugins", "namespace": name},
            "data": {"PYTHONPATH": str(TEST_PLUGINS)},
        }
    )
    yield name
    kubectl.run("delete", "namespace", name, "--wait=false", check=False)
