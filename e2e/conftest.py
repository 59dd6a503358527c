"""Fixtures of the e2e tier: the whole system on the real node, once per session.

The session starts a control plane for a node, the node (:mod:`kconnect_devenv.node`: containerd,
kubelet, kube-proxy, scheduler, cluster DNS), a Kafka broker with a listener the pods reach, and
the images: ``make images``' ``kconnect-worker:dev`` and ``kconnect-operator:dev`` (rebuilt from
the checkout if it changed, which the engine's cache makes quick) and a test image
``kconnect-worker-test:dev``, the worker image with the test connectors of ``tests/plugins``
added, as a connector author adds theirs (``docs/images.md``). All three are loaded into the
node's runtime; nothing is pulled. The operator is installed from the Helm chart
(:mod:`kconnect_devenv.operatorrelease`), with its own service account and RBAC and quick
timings, and PersistentVolumeClaims are served by :mod:`kconnect_devenv.localvolumes`.

These fixtures override the root conftest's ``control_plane``, ``kafka_broker`` and
``kafka_bootstrap`` for the e2e tier: ``kafka_bootstrap`` is the pods' listener, which the host
reaches too. One node runs per machine: the root conftest orders the e2e tier after
``tests/integration/test_node.py``, whose node is stopped when its module ends.

Each test gets its own namespace, so tests never see each other's resources; KafkaConnector
names are unique across the session too, since a sink's consumer group (`connect-<name>`) is
broker-wide.
"""

from __future__ import annotations

import io
import os
import re
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from kconnect_devenv import (
    controlplane,
    engine,
    images,
    kafka,
    localvolumes,
    node,
    nodebuild,
    operatorrelease,
)
from kconnect_devenv.cluster import Kubectl, with_operator_log

TEST_PLUGINS = Path(__file__).resolve().parents[1] / "tests" / "plugins"
TEST_WORKER_IMAGE = "kconnect-worker-test:dev"
TEST_PLUGINS_DIR = "/opt/kconnect/test-plugins"
IMAGE_BUILD_TIMEOUT_S = 600.0

OPERATOR_VALUES = {
    # Quick passes and short auto-restart backoffs keep the tests short; the defaults are longer.
    "reconcile.syncInterval": 5,
    "reconcile.restartBackoff": 1,
    "leaderElection.leaseDuration": 6,
    "leaderElection.renewDeadline": 4,
    "leaderElection.retryPeriod": 1,
}


def plugin_image_context(worker_image: str) -> bytes:
    """The build context of the test image: the worker image plus ``tests/plugins``, owned by
    the image's user like the rest of the venv."""
    dockerfile = (
        f"FROM {worker_image}\n"
        f"COPY --chown=1001:1001 plugins/ {TEST_PLUGINS_DIR}/\n"
        'LABEL org.opencontainers.image.description="kconnect worker with the test connectors"\n'
    )
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        data = dockerfile.encode()
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        for path in sorted(TEST_PLUGINS.glob("*.py")):
            tar.add(path, arcname=f"plugins/{path.name}")
    return buffer.getvalue()


@pytest.fixture(scope="session")
def image_archives() -> list[Path]:
    """The worker, operator and test images, built from this checkout, as archives for the node."""
    if os.geteuid() != 0:
        pytest.skip("the e2e tier runs on the real node, which needs root")
    if nodebuild.built() is None and not os.environ.get("CI"):
        pytest.skip("the node's binaries are not built: run `make node-build`")
    with engine.session() as running:
        tags = images.build(running, list(images.TARGETS))
        with images.build_lock():
            running.docker(
                "build", "--force-rm", f"--tag={TEST_WORKER_IMAGE}", "-",
                stdin=plugin_image_context(tags["worker"]), timeout=IMAGE_BUILD_TIMEOUT_S,
            )  # fmt: skip
        return [images.archive(running, tag) for tag in (*tags.values(), TEST_WORKER_IMAGE)]


@pytest.fixture(scope="session")
def control_plane(
    tmp_path_factory: pytest.TempPathFactory, image_archives: list[Path]
) -> Iterator[controlplane.ControlPlane]:
    """A control plane for the node; it follows the session if the session is killed."""
    state_dir = tmp_path_factory.mktemp("controlplane")
    plane = controlplane.start(state_dir, die_with_parent=True, for_node=True)
    try:
        yield plane
    finally:
        controlplane.stop(state_dir)


@pytest.fixture(scope="session")
def real_node(
    control_plane: controlplane.ControlPlane,
    image_archives: list[Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[node.Node]:
    """The session's node, with the images loaded; ``down`` restores the host at the end."""
    state_dir = tmp_path_factory.mktemp("node")
    started = node.start(control_plane, state_dir, images=image_archives, die_with_parent=True)
    try:
        yield started
    finally:
        node.stop(state_dir)


@pytest.fixture(scope="session")
def kafka_broker(
    tmp_path_factory: pytest.TempPathFactory, control_plane: controlplane.ControlPlane
) -> Iterator[kafka.Broker]:
    """The e2e tier's own broker, with the listener the node's pods reach."""
    state_dir = tmp_path_factory.mktemp("kafka-e2e")
    broker = kafka.start(state_dir, pods_listener=True, die_with_parent=True)
    try:
        yield broker
    finally:
        kafka.stop(state_dir)


@pytest.fixture(scope="session")
def kafka_bootstrap(kafka_broker: kafka.Broker) -> str:
    """``bootstrap.servers`` of the pods' listener (``10.245.0.1:<port>``), which the host
    reaches as well: the one address given to resources and used by the tests' clients."""
    assert kafka_broker.pods_bootstrap is not None
    return kafka_broker.pods_bootstrap


@pytest.fixture(scope="session")
def kubectl(control_plane: controlplane.ControlPlane) -> Kubectl:
    return Kubectl(control_plane.kubectl, control_plane.kubeconfig)


@pytest.fixture(scope="session")
def local_volumes(
    kubectl: Kubectl, real_node: node.Node, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[localvolumes.Provisioner]:
    provisioner = localvolumes.Provisioner(kubectl, tmp_path_factory.mktemp("volumes")).start()
    try:
        yield provisioner
    finally:
        provisioner.stop()


@pytest.fixture(scope="session")
def operator(
    kubectl: Kubectl,
    control_plane: controlplane.ControlPlane,
    real_node: node.Node,
    local_volumes: localvolumes.Provisioner,
) -> Iterator[operatorrelease.OperatorRelease]:
    """The operator from the Helm chart, leading, with the chart's CRDs installed."""
    values = operatorrelease.values(
        images.TARGETS["operator"], images.TARGETS["worker"], OPERATOR_VALUES
    )
    release = operatorrelease.install(control_plane, kubectl, values)
    try:
        yield release
    finally:
        operatorrelease.uninstall(control_plane)


@pytest.fixture
def system(
    operator: operatorrelease.OperatorRelease, kubectl: Kubectl, kafka_bootstrap: str
) -> Iterator[Kubectl]:
    """The running system (operator, node, broker); on failure, the operator's log tail is part
    of the report."""
    yield from with_operator_log(operator, kubectl)


@pytest.fixture
def namespace(kubectl: Kubectl, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace named after the test, with the test connectors' plugin path in a
    ConfigMap (`test-plugins`, key `PYTHONPATH`) for resources that run the test image."""
    stem = re.sub(r"[^a-z0-9-]+", "-", request.node.name.lower()).strip("-")[:40].strip("-")
    name = f"{stem}-{uuid.uuid4().hex[:5]}"
    kubectl.run("create", "namespace", name)
    kubectl.apply(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "test-plugins", "namespace": name},
            "data": {"PYTHONPATH": TEST_PLUGINS_DIR},
        }
    )
    yield name
    kubectl.run("delete", "namespace", name, "--wait=false", check=False)
