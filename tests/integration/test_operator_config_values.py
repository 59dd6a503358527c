"""YAML numbers and booleans in a resource's configs, through the real API server and operator.

The session's control plane runs no pods (no node), which is enough here: the operator turns a
`KafkaConnector`'s `workerConfig` into the worker file of a ConfigMap, where the values it got as
YAML scalars are read back as Kafka Connect's text; and a config value that is not a setting,
which the API server cannot refuse (it holds the map untyped), is refused by the operator in the
resource's status, naming the key.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final, TypeVar

import pytest

from kconnect.config.properties import parse_properties
from kconnect_devenv import controlplane
from kconnect_devenv.cluster import CRDS, Kubectl
from kconnect_devenv.processes import free_ports, parent_death_signal

REPO = Path(__file__).resolve().parents[2]
OPERATOR: Final = REPO / ".venv" / "bin" / "kconnect-operator"
NAMESPACE: Final = "kconnect-config-values"
WAIT_S: Final = 60.0

T = TypeVar("T")

pytestmark = pytest.mark.skipif(
    controlplane.built() is None and not os.environ.get("CI"),
    reason="the control plane binaries are not built: run `make cluster-build` (a long cold build)",
)


def wait_until(what: str, check: Callable[[], T | None], log: Callable[[], str]) -> T:
    deadline = time.monotonic() + WAIT_S
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"no {what} within {WAIT_S:g}s; log:\n{log()}"
        time.sleep(0.5)


@pytest.fixture(scope="module")
def kubectl(control_plane: controlplane.ControlPlane) -> Kubectl:
    kubectl = Kubectl(control_plane.kubectl, control_plane.kubeconfig)
    kubectl.run(
        "apply",
        "-f",
        "-",
        stdin=f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {NAMESPACE}\n",
    )
    kubectl.apply_files(CRDS)
    kubectl.run("wait", "--for=condition=Established", "--timeout=60s", "crd", "--all")
    return kubectl


@pytest.fixture(scope="module")
def operator_log(
    control_plane: controlplane.ControlPlane,
    kubectl: Kubectl,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[[], str]]:
    (port,) = free_ports(1)
    log_path = tmp_path_factory.mktemp("operator") / "operator.log"
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"POD_NAMESPACE", "KUBERNETES_SERVICE_HOST", "KCONNECT_WORKER_IMAGE"}
    }
    env["KUBECONFIG"] = str(control_plane.kubeconfig)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                str(OPERATOR),
                "--namespace", NAMESPACE,
                "--health-host", "127.0.0.1",
                "--health-port", str(port),
                "--no-leader-election",
                "--sync-interval", "5",
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=parent_death_signal(signal.SIGTERM),  # noqa: PLW1509 - prctl only
        )  # fmt: skip

    def read() -> str:
        return log_path.read_text("utf-8", errors="replace")

    try:
        yield read
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=WAIT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=WAIT_S)


def connector(name: str, config: dict[str, Any], worker_config: dict[str, Any]) -> str:
    return json.dumps(
        {
            "apiVersion": "kconnect.io/v1alpha1",
            "kind": "KafkaConnector",
            "metadata": {"name": name, "namespace": NAMESPACE},
            "spec": {
                "class": "DataGen",
                "bootstrapServers": "kafka.invalid:9092",
                "config": config,
                "workerConfig": worker_config,
            },
        }
    )


def get(kubectl: Kubectl, kind: str, name: str) -> dict[str, Any] | None:
    return kubectl.get(kind, name, NAMESPACE)


def test_yaml_scalars_reach_the_worker_file_as_kafka_connects_text(
    kubectl: Kubectl, operator_log: Callable[[], str]
) -> None:
    name = f"scalars-{uuid.uuid4().hex[:6]}"
    kubectl.run(
        "apply",
        "-f",
        "-",
        stdin=connector(
            name,
            {"topic": "users", "records.per.second": 10},
            {
                "value.converter.schemas.enable": False,
                "offset.flush.interval.ms": 5000,
                "producer.linger.ms": 0.5,
            },
        ),
    )

    def worker_file() -> dict[str, str] | None:
        config_map = get(kubectl, "configmap", f"{name}-connect-config")
        if config_map is None:
            return None
        return parse_properties(config_map["data"]["worker.properties"], "worker.properties")

    props = wait_until("worker ConfigMap", worker_file, operator_log)
    assert props["value.converter.schemas.enable"] == "false"
    assert props["offset.flush.interval.ms"] == "5000"
    assert props["producer.linger.ms"] == "0.5"
    kubectl.run("delete", "kctr", name, "-n", NAMESPACE, "--wait=false")


def test_a_config_value_that_is_not_a_setting_is_refused_in_the_status(
    kubectl: Kubectl, operator_log: Callable[[], str]
) -> None:
    name = f"nested-{uuid.uuid4().hex[:6]}"
    kubectl.run(
        "apply",
        "-f",
        "-",
        stdin=connector(name, {"topic": "users", "transforms": ["a", "b"]}, {}),
    )

    def refused() -> dict[str, Any] | None:
        obj = get(kubectl, "kafkaconnector", name) or {}
        conditions = (obj.get("status") or {}).get("conditions") or []
        ready = next((c for c in conditions if c["type"] == "Ready"), None)
        return ready if ready is not None and ready["reason"] == "InvalidConfig" else None

    ready = wait_until("InvalidConfig condition", refused, operator_log)
    assert ready["status"] == "False"
    assert "spec.config.transforms" in ready["message"]
    assert "expected a string, number or boolean, got a list" in ready["message"]
    assert get(kubectl, "statefulset", f"{name}-connect") is None
    events = json.loads(kubectl.run("get", "events", "-n", NAMESPACE, "-o", "json"))["items"]
    warnings = [
        e
        for e in events
        if e["involvedObject"].get("name") == name and e["reason"] == "InvalidConfig"
    ]
    assert len(warnings) == 1, warnings
    kubectl.run("delete", "kctr", name, "-n", NAMESPACE, "--wait=false")
