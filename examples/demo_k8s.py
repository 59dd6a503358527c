"""`make demo-k8s`: the operator on a local Kubernetes control plane, without Docker.

`up` starts (or finds already running) the control plane of `make cluster-up`, a Kafka broker as
`make kafka-up` does, the test kubelet that runs pods as local processes, and `kconnect-operator`;
installs the CRDs; applies `examples/connector.yaml` with `bootstrapServers` pointed at the
broker; and shows `kubectl get kafkaconnectors` until the connector is Ready and records arrive.
Everything keeps running afterwards; `down` stops it all and removes its data.

State lives under `$KCONNECT_CACHE/run/` (the control plane's, the broker's, and `demo-k8s/` for
the kubelet and the operator, with their logs and pid files). Each step is idempotent, so `up`
can be run again.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from confluent_kafka import Consumer

from kconnect_devenv import controlplane, kafka, lifecycle, processes
from kconnect_devenv import kubelet as test_kubelet
from kconnect_devenv.cluster import CRDS, Kubectl, Operator, wait_for

HERE: Final = Path(__file__).resolve().parent
CONNECTOR_FILE: Final = HERE / "connector.yaml"
READY_TIMEOUT_S: Final = 180.0
STOP_TIMEOUT_S: Final = 45.0


def state_dir() -> Path:
    return lifecycle.cache_root() / "run" / "demo-k8s"


def say(text: str) -> None:
    print(f"\n==> {text}", flush=True)


def _alive(pid_file: Path, mark: str) -> int | None:
    """The pid in `pid_file` if that process runs and its command line contains `mark`."""
    try:
        pid = int(pid_file.read_text().split()[0])
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except (OSError, ValueError, IndexError):
        return None
    return pid if mark in cmdline else None


KUBELET_MARK: Final = "kconnect_devenv.kubelet"
OPERATOR_MARK: Final = "kconnect-operator"


def _start_kubelet(plane: controlplane.ControlPlane) -> None:
    pid_file = state_dir() / "kubelet.pid"
    if _alive(pid_file, KUBELET_MARK):
        print(f"the test kubelet is running (pid {pid_file.read_text().strip()})")
        return
    started = test_kubelet.start(
        plane.kubeconfig, state_dir() / "kubelet", node_name="kconnect-demo", die_with_parent=False
    )
    processes.write_atomically(pid_file, f"{started.pid}\n")
    print(f"the test kubelet runs node kconnect-demo (pid {started.pid}, log {started.log_path})")


def _start_operator(plane: controlplane.ControlPlane) -> None:
    pid_file = state_dir() / "operator.pid"
    if _alive(pid_file, OPERATOR_MARK):
        print(f"kconnect-operator is running (pid {pid_file.read_text().strip()})")
        return
    operator = Operator(
        plane.kubeconfig,
        state_dir() / "operator.log",
        extra_args=("--sync-interval", "5"),
        detached=True,
    )
    operator.wait_leading()
    processes.write_atomically(pid_file, f"{operator.process.pid}\n")
    print(f"kconnect-operator leads (pid {operator.process.pid}, log {operator.log_path})")


def _connector_manifest(bootstrap: str) -> str:
    text = CONNECTOR_FILE.read_text("utf-8")
    return text.replace("my-cluster-kafka-bootstrap:9092", bootstrap)


def _table(kubectl: Kubectl) -> str:
    return kubectl.run("get", "kafkaconnectors", "-o", "wide", check=False).rstrip()


def _sample_records(bootstrap: str, topic: str, count: int) -> list[str]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"demo-k8s-{time.time_ns()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    values: list[str] = []
    deadline = time.monotonic() + 30
    try:
        while len(values) < count and time.monotonic() < deadline:
            message = consumer.poll(1.0)
            if message is not None and message.error() is None:
                values.append((message.value() or b"").decode())
    finally:
        consumer.close()
    return values


def up() -> int:
    state_dir().mkdir(parents=True, exist_ok=True)
    say("The Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager)")
    began = time.monotonic()
    plane = controlplane.start()
    print(f"API server {plane.server}, ready in {time.monotonic() - began:.1f}s")
    kubectl = Kubectl(plane.kubectl, plane.kubeconfig)

    say("A Kafka broker (KRaft)")
    broker = kafka.start()
    print(f"bootstrap.servers={broker.bootstrap}")

    say("The test kubelet: pods run as local processes, each on its own loopback IP")
    _start_kubelet(plane)
    wait_for("the node to be Ready", lambda: "Ready" in kubectl.run("get", "nodes"), 60)
    print(kubectl.run("get", "nodes").rstrip())

    say("The CRDs and the operator")
    kubectl.apply_files(CRDS)
    kubectl.run("wait", "--for=condition=Established", "--timeout=60s", "crd", "--all")
    _start_operator(plane)

    say(f"kubectl apply -f {CONNECTOR_FILE.relative_to(HERE.parent)}")
    applied = time.monotonic()
    print(kubectl.run("apply", "-f", "-", stdin=_connector_manifest(broker.bootstrap)).rstrip())

    say("kubectl get kafkaconnectors, until Ready")
    last = ""

    def ready() -> bool:
        nonlocal last
        table = _table(kubectl)
        if table != last:
            print(table.splitlines()[-1] if last else table, flush=True)
            last = table
        obj: dict[str, Any] = json.loads(
            kubectl.run("get", "kafkaconnector", "users", "-o", "json")
        )
        conditions = (obj.get("status") or {}).get("conditions") or []
        return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)

    wait_for("the connector to be Ready", ready, READY_TIMEOUT_S, interval=1.0)
    print(f"Ready {time.monotonic() - applied:.1f}s after kubectl apply")
    print(kubectl.run("get", "pods", "-o", "wide").rstrip())

    say("Records in the topic `users`")
    for value in _sample_records(broker.bootstrap, "users", 3):
        print(value)

    say("Everything keeps running")
    print(
        f"export KUBECONFIG={plane.kubeconfig}\n"
        f"{plane.kubectl} get kafkaconnectors\n"
        f"{plane.kubectl} scale kafkaconnector users --replicas=3\n"
        f"{plane.kubectl} patch kafkaconnector users --type=merge "
        '-p \'{"spec":{"state":"paused"}}\'\n'
        f"operator log: {state_dir() / 'operator.log'}\n"
        f"worker logs:  {state_dir() / 'kubelet' / 'pods'}/<namespace>_<pod>_<uid>/worker.log\n"
        "Stop it all with: make demo-k8s-down"
    )
    return 0


def _stop_pid(pid_file: Path, mark: str, what: str) -> None:
    pid = _alive(pid_file, mark)
    if pid is not None:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while time.monotonic() < deadline and _alive(pid_file, mark):
            time.sleep(0.2)
        if _alive(pid_file, mark):
            os.kill(pid, signal.SIGKILL)
        print(f"stopped {what} (pid {pid})")
    pid_file.unlink(missing_ok=True)


def down() -> int:
    _stop_pid(state_dir() / "operator.pid", OPERATOR_MARK, "kconnect-operator")
    _stop_pid(state_dir() / "kubelet.pid", KUBELET_MARK, "the test kubelet and its pods")
    controlplane.stop()
    print("stopped the control plane")
    kafka.stop()
    print("stopped the Kafka broker")
    shutil.rmtree(state_dir(), ignore_errors=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m examples.demo_k8s", description=__doc__)
    parser.add_argument("command", choices=("up", "down"), nargs="?", default="up")
    args = parser.parse_args(argv)
    return up() if args.command == "up" else down()


if __name__ == "__main__":
    sys.exit(main())
