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
reaches too. One node runs per machine: ``make test`` runs the tier in a pytest session of its
own, after ``tests/integration/test_node.py``, whose node is stopped when its module ends.

The tier runs its tests concurrently (``pytest -n 4 e2e``; most of a test's time is spent waiting
for pods to start and roll). In a distributed run the controller process starts the parts once,
in ``pytest_sessionstart``, before its worker processes exist, and stops them in
``pytest_unconfigure`` after the last test; every worker attaches to them through their state
directories (``attach_system``). If they fail to start, every test fails with the reason and no
worker starts parts of its own. Without ``-n``, the session starts and stops its own.

Each test gets its own namespace, so tests never see each other's resources; KafkaConnector
names are unique across the session too, since a sink's consumer group (`connect-<name>`) is
broker-wide. A module whose tests share a module-scoped part (the secured broker) is one
``xdist_group``, so that part starts once.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import re
import shutil
import tarfile
import time
import uuid
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any, Final

import pytest

from kconnect_devenv import (
    controlplane,
    engine,
    images,
    kafka,
    lifecycle,
    localvolumes,
    node,
    nodebuild,
    operatorrelease,
)
from kconnect_devenv.cluster import Kubectl, failure_report

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


def skip_reason() -> str | None:
    """Why this machine cannot run the tier, if it cannot."""
    if os.geteuid() != 0:
        return "the e2e tier runs on the real node, which needs root"
    if nodebuild.built() is None and not os.environ.get("CI"):
        return "the node's binaries are not built: run `make node-build`"
    return None


def build_image_archives() -> list[Path]:
    """The worker, operator and test images, built from this checkout, as archives for the node."""
    with engine.session() as running:
        tags = images.build(running, list(images.TARGETS))
        with images.build_lock():
            running.docker(
                "build", "--force-rm", f"--tag={TEST_WORKER_IMAGE}", "-",
                stdin=plugin_image_context(tags["worker"]), timeout=IMAGE_BUILD_TIMEOUT_S,
            )  # fmt: skip
        return [images.archive(running, tag) for tag in (*tags.values(), TEST_WORKER_IMAGE)]


@dataclasses.dataclass(frozen=True)
class System:
    """The tier's running parts, each recorded in its state directory under ``root``."""

    root: Path
    plane: controlplane.ControlPlane
    node: node.Node
    broker: kafka.Broker
    release: operatorrelease.OperatorRelease

    @property
    def kubectl(self) -> Kubectl:
        return Kubectl(self.plane.kubectl, self.plane.kubeconfig)


def start_system(root: Path, stack: contextlib.ExitStack) -> System:
    """Starts every part under ``root``; ``stack`` stops them in the reverse order. The parts
    follow this process if it is killed outright."""
    archives = build_image_archives()
    plane = controlplane.start(root / "controlplane", die_with_parent=True, for_node=True)
    stack.callback(controlplane.stop, root / "controlplane")
    started = node.start(plane, root / "node", images=archives, die_with_parent=True)
    stack.callback(node.stop, root / "node")
    broker = kafka.start(root / "kafka", pods_listener=True, die_with_parent=True)
    stack.callback(kafka.stop, root / "kafka")
    kubectl = Kubectl(plane.kubectl, plane.kubeconfig)
    provisioner = localvolumes.Provisioner(kubectl, root / "volumes").start()
    stack.callback(provisioner.stop)
    values = operatorrelease.values(
        images.TARGETS["operator"], images.TARGETS["worker"], OPERATOR_VALUES
    )
    stack.callback(operatorrelease.uninstall, plane)
    release = operatorrelease.install(plane, kubectl, values)
    return System(root, plane, started, broker, release)


def attach_system(root: Path) -> System:
    """The parts another process started under ``root`` (the controller of a distributed run)."""
    plane = controlplane.running(root / "controlplane")
    started = node.running(root / "node")
    broker = kafka.running(root / "kafka")
    if plane is None or started is None or broker is None:
        raise RuntimeError(f"the e2e tier's parts under {root} are not all running")
    kubectl = Kubectl(plane.kubectl, plane.kubeconfig)
    return System(root, plane, started, broker, operatorrelease.OperatorRelease(kubectl))


# A distributed run (pytest-xdist, `make test`): the controller process starts the parts once,
# before its worker processes exist, and stops them after the last test; each worker attaches to
# them. The controller hands the workers the root, or why there is none.
WORKER_INPUT_KEY: Final = "kconnect_e2e"
_HANDOFF = pytest.StashKey[dict[str, str]]()
_STACK = pytest.StashKey[contextlib.ExitStack]()
_SYSTEM = pytest.StashKey[System]()
FAILED = pytest.StashKey[bool]()
"""Set on a test's item when one of its phases failed."""
KEPT_LOGS_DIR: Final = "e2e-failed"
KEPT_RUNS: Final = 3


def _distributing(config: pytest.Config) -> bool:
    return not hasattr(config, "workerinput") and config.getoption("dist", "no") != "no"


def pytest_sessionstart(session: pytest.Session) -> None:
    config = session.config
    if not _distributing(config):
        return
    reason = skip_reason()
    if reason is not None:
        config.stash[_HANDOFF] = {"skip": reason}
        return
    factory: pytest.TempPathFactory = config._tmp_path_factory  # type: ignore[attr-defined]  # the session's own
    root = factory.mktemp("system", numbered=True)
    stack = contextlib.ExitStack()
    config.stash[_STACK] = stack
    try:
        config.stash[_SYSTEM] = start_system(root, stack)
    except Exception as error:  # every worker's tests fail with it, none starts its own
        stack.close()
        config.stash[_HANDOFF] = {"error": f"{type(error).__name__}: {error}"}
        return
    config.stash[_HANDOFF] = {"root": str(root)}


def pytest_configure_node(node: Any) -> None:  # pytest-xdist's hook, in the controller
    node.workerinput[WORKER_INPUT_KEY] = json.dumps(node.config.stash.get(_HANDOFF, {}))


def keep_logs(system: System, into: Path, keep: int = KEPT_RUNS) -> Path:
    """Copies the logs of ``system``'s servers and pods to a new directory under ``into`` (the
    newest ``keep`` are kept) and returns it: the parts stop after the session, and their logs
    go with them."""
    kept = into / time.strftime("%Y%m%dT%H%M%S")
    for name, paths in (
        ("controlplane", system.plane.log_paths()),
        ("node", system.node.log_paths()),
        ("kafka", system.broker.log_paths()),
    ):
        (kept / name).mkdir(parents=True, exist_ok=True)
        for path in paths:
            if path.is_file():
                shutil.copy2(path, kept / name / path.name)
    pod_logs = system.node.data_dir / "pod-logs"
    if pod_logs.is_dir():
        shutil.copytree(pod_logs, kept / "pods", symlinks=True, dirs_exist_ok=True)
    for old in sorted(p for p in into.iterdir() if p.is_dir())[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return kept


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config
) -> None:
    """In a distributed run's controller, after a failure: the parts' logs are kept (their
    directories go when they stop) and the summary says where."""
    system = config.stash.get(_SYSTEM, None)
    if system is None or not terminalreporter.stats.get("failed"):
        return
    try:
        kept = keep_logs(system, lifecycle.cache_root() / KEPT_LOGS_DIR)
    except OSError as error:
        terminalreporter.write_line(f"e2e: the system's logs could not be kept: {error}")
        return
    terminalreporter.write_line(f"e2e: the system's logs are kept in {kept}")


def pytest_unconfigure(config: pytest.Config) -> None:
    # Not pytest_sessionfinish, which an interrupted session start skips.
    stack = config.stash.get(_STACK, None)
    if stack is not None:
        stack.close()


@pytest.fixture(scope="session")
def e2e_system(request: pytest.FixtureRequest) -> Iterator[System]:
    """The tier's parts: those the controller started, in a distributed run, else this
    session's own."""
    workerinput = getattr(request.config, "workerinput", None)
    if workerinput is not None and WORKER_INPUT_KEY in workerinput:
        handoff: dict[str, str] = json.loads(workerinput[WORKER_INPUT_KEY])
        if "skip" in handoff:
            pytest.skip(handoff["skip"])
        if "error" in handoff:
            pytest.fail(f"the e2e tier's parts did not start: {handoff['error']}")
        yield attach_system(Path(handoff["root"]))
        return
    reason = skip_reason()
    if reason is not None:
        pytest.skip(reason)
    factory: pytest.TempPathFactory = request.getfixturevalue("tmp_path_factory")
    with contextlib.ExitStack() as stack:
        yield start_system(factory.mktemp("system"), stack)


@pytest.fixture(scope="session")
def control_plane(e2e_system: System) -> controlplane.ControlPlane:
    return e2e_system.plane


@pytest.fixture(scope="session")
def real_node(e2e_system: System) -> node.Node:
    return e2e_system.node


@pytest.fixture(scope="session")
def kafka_broker(e2e_system: System) -> kafka.Broker:
    """The tier's own broker, with the listener the node's pods reach."""
    return e2e_system.broker


@pytest.fixture(scope="session")
def kafka_bootstrap(kafka_broker: kafka.Broker) -> str:
    """``bootstrap.servers`` of the pods' listener (``10.245.0.1:<port>``), which the host
    reaches as well: the one address given to resources and used by the tests' clients."""
    assert kafka_broker.pods_bootstrap is not None
    return kafka_broker.pods_bootstrap


@pytest.fixture(scope="session")
def kubectl(e2e_system: System) -> Kubectl:
    return e2e_system.kubectl


@pytest.fixture(scope="session")
def operator(e2e_system: System) -> operatorrelease.OperatorRelease:
    """The operator from the Helm chart, leading, with the chart's CRDs installed."""
    return e2e_system.release


@pytest.fixture
def system(
    operator: operatorrelease.OperatorRelease, kubectl: Kubectl, kafka_bootstrap: str
) -> Kubectl:
    """The running system (operator, node, broker); on failure the report shows the test's
    namespace and the operator's log tail (:func:`pytest_runtest_makereport`)."""
    return kubectl


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item,
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed test's report ends with the cluster as the test left it: the objects, events and
    pod logs of its namespace and the operator's log tail (:func:`cluster.failure_report`); the
    item is marked :data:`FAILED`, so its namespace is kept."""
    report = yield
    if report.failed:
        item.stash[FAILED] = True
    funcargs: dict[str, Any] = getattr(item, "funcargs", {})
    kubectl, namespace = funcargs.get("kubectl"), funcargs.get("namespace")
    operator = funcargs.get("operator")
    if report.when == "call" and report.failed and isinstance(kubectl, Kubectl):
        try:
            sections = failure_report(
                kubectl,
                namespace if isinstance(namespace, str) else None,
                operator if isinstance(operator, operatorrelease.OperatorRelease) else None,
            )
        except Exception as error:  # the report is kept whatever the cluster answers
            sections = [("cluster", f"could not be read: {type(error).__name__}: {error}")]
        report.sections.extend((f"e2e: {title}", text) for title, text in sections)
    return report


@pytest.fixture
def namespace(kubectl: Kubectl, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace named after the test, with the test connectors' plugin path in a
    ConfigMap (`test-plugins`, key `PYTHONPATH`) for resources that run the test image. It is
    deleted after the test, unless the test failed: then it stays for the rest of the session,
    so that its pods' whole logs are among those a failed run keeps (:func:`keep_logs`)."""
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
    if not request.node.stash.get(FAILED, False):
        kubectl.run("delete", "namespace", name, "--wait=false", check=False)
