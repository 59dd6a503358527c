"""The Kubernetes control plane service: pins agree, and a started control plane really works.

The tests that run servers need the binaries already built (``make cluster-build``; a cold build
is long), and are skipped otherwise. The module's control plane lives in a private temporary state
directory and follows the session if it is killed outright.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kconnect_devenv import controlplane
from kconnect_devenv.cluster import Kubectl

REPO = Path(__file__).resolve().parents[2]
CLI_TIMEOUT_S = 300.0
CONTROLLER_TIMEOUT_S = 60.0

JsonObject = dict[str, Any]  # a Kubernetes object as kubectl prints it

# `make test` builds the binaries first; a bare pytest run without them skips, but CI must not.
needs_binaries = pytest.mark.skipif(
    controlplane.built() is None and not os.environ.get("CI"),
    reason="the control plane binaries are not built: run `make cluster-build` (a long cold build)",
)


def test_staging_modules_are_pinned_to_the_kubernetes_release() -> None:
    go_mod = (controlplane.SERVICE_DIR / "kubernetes" / "go.mod").read_text("utf-8")
    pins = controlplane.read_pins()
    major_minor_patch = re.fullmatch(r"v1\.(\d+\.\d+)", pins.kubernetes)
    assert major_minor_patch, pins.kubernetes
    replaces = re.findall(r"^\s*(k8s\.io/\S+) => (\S+) (\S+)$", go_mod, re.MULTILINE)
    assert len(replaces) >= 30, "every staging module of k8s.io/kubernetes needs a replace line"
    for module, target, version in replaces:
        assert (target, version) == (module, f"v0.{major_minor_patch.group(1)}"), module


def test_the_build_plan_stamps_the_pinned_versions() -> None:
    pins = controlplane.read_pins()
    plan = {target.name: target for target in controlplane.build_plan(pins)}
    assert set(plan) == set(controlplane.BINARIES)
    kube_flags = " ".join(plan["kube-apiserver"].ldflags)
    assert f"k8s.io/component-base/version.gitVersion={pins.kubernetes}" in kube_flags
    assert f"-X helm.sh/helm/v3/internal/version.version={pins.helm}" in plan["helm"].ldflags
    assert controlplane.bin_dir(pins).parent.name == f"controlplane-{pins.tag}"


@pytest.fixture(scope="module")
def plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[controlplane.ControlPlane]:
    state_dir = tmp_path_factory.mktemp("controlplane")
    started = controlplane.start(state_dir, die_with_parent=True)
    try:
        yield started
    finally:
        controlplane.stop(state_dir)


def kubectl(plane: controlplane.ControlPlane, *args: str) -> str:
    return Kubectl(plane.kubectl, plane.kubeconfig).run(*args)


def _owned_by(items: list[JsonObject], kind: str, name: str) -> list[JsonObject]:
    def owners(item: JsonObject) -> list[tuple[str, str]]:
        refs = item["metadata"].get("ownerReferences", [])
        return [(ref["kind"], ref["name"]) for ref in refs]

    return [item for item in items if (kind, name) in owners(item)]


@needs_binaries
def test_the_api_server_is_ready_and_reports_the_pinned_version(
    plane: controlplane.ControlPlane,
) -> None:
    assert kubectl(plane, "get", "--raw", "/readyz") == "ok"
    version = json.loads(kubectl(plane, "version", "-o", "json"))
    pinned = controlplane.read_pins().kubernetes
    assert version["serverVersion"]["gitVersion"] == pinned
    assert version["clientVersion"]["gitVersion"] == pinned


@needs_binaries
def test_a_deployment_becomes_a_replica_set_and_pending_pods(
    plane: controlplane.ControlPlane,
) -> None:
    kubectl(plane, "create", "namespace", "web")
    kubectl(
        plane, "-n", "web", "create", "deployment", "web",
        "--image=registry.invalid/web:1", "--replicas=2",
    )  # fmt: skip
    deadline = time.monotonic() + CONTROLLER_TIMEOUT_S
    while True:
        sets = json.loads(kubectl(plane, "-n", "web", "get", "replicasets", "-o", "json"))["items"]
        pods = json.loads(kubectl(plane, "-n", "web", "get", "pods", "-o", "json"))["items"]
        owned_sets = _owned_by(sets, "Deployment", "web")
        owned_pods = (
            _owned_by(pods, "ReplicaSet", owned_sets[0]["metadata"]["name"]) if owned_sets else []
        )
        if len(owned_sets) == 1 and len(owned_pods) == 2:
            break
        assert time.monotonic() < deadline, (
            f"after {CONTROLLER_TIMEOUT_S:g}s: {len(owned_sets)} ReplicaSets, "
            f"{len(owned_pods)} Pods owned by the Deployment"
        )
        time.sleep(0.5)
    # No scheduler and no kubelet: the pods wait, unbound, with the service account admitted.
    for pod in owned_pods:
        assert pod["status"]["phase"] == "Pending"
        assert "nodeName" not in pod["spec"]
        assert pod["spec"]["serviceAccountName"] == "default"


@needs_binaries
def test_servers_listen_on_loopback_only(plane: controlplane.ControlPlane) -> None:
    ports = {
        plane.etcd_port,
        plane.etcd_peer_port,
        plane.apiserver_port,
        plane.controller_manager_port,
    }
    listening: dict[int, set[str]] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, _remote, state = line.split()[1:4]
            address, port = local.split(":")
            if state == "0A" and int(port, 16) in ports:  # 0A: LISTEN
                listening.setdefault(int(port, 16), set()).add(address)
    assert set(listening) == ports
    # 0100007F is 127.0.0.1 in /proc's little-endian hex.
    assert all(addresses == {"0100007F"} for addresses in listening.values()), listening
    with socket.socket() as probe:
        probe.settimeout(1.0)
        assert probe.connect_ex(("127.0.0.1", plane.apiserver_port)) == 0


@needs_binaries
def test_cli_up_is_idempotent_and_down_deletes_the_data(tmp_path: Path) -> None:
    state_dir = tmp_path / "cli"
    env = {**os.environ, "PYTHONPATH": str(REPO)}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "kconnect_devenv.controlplane",
                "--state-dir",
                str(state_dir),
                *args,
            ],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT_S,
            check=False,
        )

    plane = None
    try:
        first = cli("up")
        assert first.returncode == 0, first.stderr
        last_line = first.stdout.splitlines()[-1]
        assert last_line == f"KUBECONFIG={(state_dir / 'kubeconfig').resolve()}"
        plane = controlplane.running(state_dir)
        assert plane is not None
        assert controlplane.is_ready(plane)

        second = cli("up")
        assert second.returncode == 0, second.stderr
        assert "already running" in second.stdout
        assert second.stdout.splitlines()[-1] == last_line
        assert controlplane.running(state_dir) == plane

        assert cli("status").returncode == 0
    finally:
        down = cli("down")
    assert down.returncode == 0, down.stderr
    assert controlplane.running(state_dir) is None
    assert not (state_dir / "data").exists()
    assert not (state_dir / "kubeconfig").exists()
    assert plane is not None
    for component, pid in plane.pids.items():
        cmdline = Path(f"/proc/{pid}/cmdline")
        still_running = cmdline.exists() and os.fsencode(str(state_dir)) in cmdline.read_bytes()
        assert not still_running, f"{component} (pid {pid}) survived down"
    assert cli("status").returncode == 1
