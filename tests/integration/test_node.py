"""The real node: containerd, kubelet, kube-proxy, scheduler and CoreDNS beside the control plane.

One control plane (started for a node) and one node serve the module; the last test stops the node
itself and checks that the host is as it was. Pods run a BusyBox image made here from Debian's
static ``busybox`` and imported into the node: nothing is ever pulled.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kconnect_devenv import (
    controlplane,
    debian,
    hostsysctls,
    kafka,
    lifecycle,
    node,
    nodebuild,
    nodenetwork,
    ociimage,
)
from kconnect_devenv.cluster import Kubectl, wait_for

BUSYBOX_IMAGE = "kconnect.local/busybox:test"
APPLETS = (
    "sh", "echo", "mkdir", "httpd", "wget", "nslookup", "sleep", "cat", "printf", "nc", "timeout",
    "xxd",
)  # fmt: skip
POD_TIMEOUT_S = 90.0
# Docker's own chains and rules, which its daemon may change meanwhile, are not the node's.
NOT_THE_NODES = ("DOCKER", "docker0")

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="the node needs root"),
    pytest.mark.skipif(
        (controlplane.built() is None or nodebuild.built() is None) and not os.environ.get("CI"),
        reason="the node's binaries are not built: run `make node-build` (a long cold build)",
    ),
]


def busybox_image(directory: Path) -> Path:
    debian.ensure(["busybox-static"], lifecycle.cache_root())
    busybox = Path("/bin/busybox").read_bytes()
    archive = directory / "busybox.tar"
    ociimage.write_archive(
        ociimage.Image(
            reference=BUSYBOX_IMAGE,
            files=(ociimage.File("/bin/busybox", busybox),),
            links={f"/bin/{applet}": "busybox" for applet in APPLETS},
            entrypoint=("/bin/sh",),
        ),
        archive,
    )
    return archive


@pytest.fixture(scope="module")
def host_before() -> tuple[list[str], dict[str, str]]:
    return (
        nodenetwork.comparable_rules(nodenetwork.iptables_snapshot(), NOT_THE_NODES),
        hostsysctls.snapshot(),
    )


@pytest.fixture(scope="module")
def running_node(
    tmp_path_factory: pytest.TempPathFactory, host_before: object
) -> Iterator[tuple[controlplane.ControlPlane, node.Node]]:
    plane_dir = tmp_path_factory.mktemp("controlplane")
    node_dir = tmp_path_factory.mktemp("node")
    images = tmp_path_factory.mktemp("images")
    plane = controlplane.start(plane_dir, die_with_parent=True, for_node=True)
    try:
        started = node.start(plane, node_dir, images=[busybox_image(images)], die_with_parent=True)
        try:
            yield plane, started
        finally:
            node.stop(node_dir)
    finally:
        controlplane.stop(plane_dir)


@pytest.fixture(scope="module")
def pods_broker(
    tmp_path_factory: pytest.TempPathFactory,
    running_node: tuple[controlplane.ControlPlane, node.Node],
) -> Iterator[kafka.Broker]:
    if kafka.fetched() is None and not os.environ.get("CI"):
        pytest.skip("Kafka's jars are not fetched: run `make kafka-fetch`")
    state_dir = tmp_path_factory.mktemp("kafka")
    broker = kafka.start(state_dir, pods_listener=True, die_with_parent=True)
    try:
        yield broker
    finally:
        kafka.stop(state_dir)


OUTSIDE_NETNS = "kconnect-test-outside"
OUTSIDE_HOST_SIDE = ("kctout0", "10.246.0.1")
OUTSIDE_ADDRESS = "10.246.0.2"


def ip(*args: str, check: bool = True) -> bool:
    return (
        subprocess.run(["ip", *args], check=check, capture_output=True, timeout=30).returncode == 0
    )


def fetches(url: str) -> bool:
    done = subprocess.run(
        ["busybox", "wget", "-q", "-O", "-", url], check=False, capture_output=True, timeout=10
    )
    return done.returncode == 0


@pytest.fixture(scope="module")
def outside(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A host of its own network namespace, routed from this machine over a veth pair: what lies
    beyond the node, as far as its pods are concerned. It serves a page on port 8080."""
    debian.ensure(["busybox-static"], lifecycle.cache_root())
    www = tmp_path_factory.mktemp("outside-www")
    (www / "index.html").write_text("outside\n")
    link, host_address = OUTSIDE_HOST_SIDE
    ip("netns", "add", OUTSIDE_NETNS)
    server = None
    try:
        ip("link", "add", link, "type", "veth", "peer", "name", "eth0", "netns", OUTSIDE_NETNS)
        ip("addr", "add", f"{host_address}/30", "dev", link)
        ip("link", "set", link, "up")
        for args in (
            ("addr", "add", f"{OUTSIDE_ADDRESS}/30", "dev", "eth0"),
            ("link", "set", "eth0", "up"),
            ("link", "set", "lo", "up"),
            ("route", "add", "default", "via", host_address),
        ):
            ip("netns", "exec", OUTSIDE_NETNS, "ip", *args)
        server = subprocess.Popen(
            ["ip", "netns", "exec", OUTSIDE_NETNS, "busybox", "httpd", "-f", "-p", "8080",
             "-h", str(www)],
        )  # fmt: skip
        url = f"http://{OUTSIDE_ADDRESS}:8080/"
        wait_for("the outside host to serve", lambda: fetches(url), 10.0)
        yield url
    finally:
        if server is not None:
            server.kill()
            server.wait(timeout=10)
        ip("link", "delete", link, check=False)
        ip("netns", "delete", OUTSIDE_NETNS, check=False)


@pytest.fixture(scope="module")
def kubectl(running_node: tuple[controlplane.ControlPlane, node.Node]) -> Kubectl:
    plane, _ = running_node
    return Kubectl(plane.kubectl, plane.kubeconfig)


def pod(name: str, script: str, labels: dict[str, str] | None = None) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "labels": labels or {"app": name}},
        "spec": {
            "terminationGracePeriodSeconds": 1,
            "containers": [
                {
                    "name": "main",
                    "image": BUSYBOX_IMAGE,
                    "imagePullPolicy": "Never",
                    "command": ["/bin/sh", "-c", script],
                }
            ],
        },
    }


def wait_running(kubectl: Kubectl, name: str) -> None:
    def ready() -> object:
        found = kubectl.get("pod", name, "default")
        statuses = (found or {}).get("status", {}).get("containerStatuses", [])
        return statuses and all(status.get("ready") for status in statuses)

    wait_for(f"pod {name} to run", ready, POD_TIMEOUT_S)


@pytest.fixture(scope="module")
def client(kubectl: Kubectl) -> str:
    """A client pod to exec in, and a pod serving a page through the Service ``web``."""
    kubectl.apply(
        pod(
            "web",
            "echo web-started; mkdir -p /tmp/www; echo hello-from-web > /tmp/www/index.html; "
            "exec httpd -f -p 8080 -h /tmp/www",
        ),
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]},
        },
        pod("client", "exec sleep 3600"),
    )
    wait_running(kubectl, "web")
    wait_running(kubectl, "client")
    return "client"


def test_the_node_is_ready_with_the_control_planes_version(
    running_node: tuple[controlplane.ControlPlane, node.Node], kubectl: Kubectl
) -> None:
    _, started = running_node
    found = kubectl.json("get", "node", started.name)
    assert node.node_ready(found)
    info = found["status"]["nodeInfo"]
    assert info["kubeletVersion"] == controlplane.read_pins().kubernetes
    assert info["kubeProxyVersion"] in ("", controlplane.read_pins().kubernetes)
    assert info["containerRuntimeVersion"].startswith("containerd://")
    addresses = {a["type"]: a["address"] for a in found["status"]["addresses"]}
    assert addresses["InternalIP"] == nodenetwork.BRIDGE_ADDRESS


def test_a_pod_reaches_the_kubernetes_service(kubectl: Kubectl, client: str) -> None:
    # CoreDNS is a pod that uses in-cluster config (10.0.0.1:443 through kube-proxy's rules to
    # the lease endpoint the API server advertises): it is ready only once its informers synced.
    slices = kubectl.json(
        "get", "endpointslices", "-n", "default", "-l", "kubernetes.io/service-name=kubernetes"
    )
    addresses = [a for s in slices["items"] for e in s["endpoints"] for a in e["addresses"]]
    assert addresses == [nodenetwork.HOST_ADDRESS]
    dns = kubectl.items("pods", "kube-system", "k8s-app=kube-dns")
    assert any(
        c["type"] == "Ready" and c["status"] == "True"
        for pod in dns
        for c in pod["status"]["conditions"]
    )
    # BusyBox's TLS offers no suite for the API server's ECDSA certificate, so the answer to a
    # pod's own request is the API server's handshake alert: it was reached through the Service.
    answer = kubectl.run(
        "exec", client, "--", "sh", "-c",
        "timeout 10 wget -q -O - --no-check-certificate "
        "https://kubernetes.default.svc/version 2>&1; true",
        check=False,
    )  # fmt: skip
    assert "TLS error from peer" in answer, answer


def test_a_pod_resolves_a_service_by_name_and_reaches_it(kubectl: Kubectl, client: str) -> None:
    lookup = kubectl.run("exec", client, "--", "nslookup", "web.default.svc.cluster.local")
    service = kubectl.json("get", "service", "web", "-n", "default")
    assert service["spec"]["clusterIP"] in lookup
    # The short name through the search path the kubelet writes into the pod's resolv.conf.
    page = kubectl.run("exec", client, "--", "wget", "-q", "-O", "-", "http://web/")
    assert page.strip() == "hello-from-web"


def test_nothing_from_a_pod_leaves_the_machine(kubectl: Kubectl, client: str, outside: str) -> None:
    # The machine itself reaches the outside host (the fixture checked); a pod does not, because
    # the guard drops what the bridge would forward to another interface.
    began = time.monotonic()
    result = kubectl.run(
        "exec", client, "--", "sh", "-c", f"timeout 5 wget -q -O - {outside}; echo exit=$?",
    )  # fmt: skip
    assert "outside" not in result.replace("exit=", "")
    assert "exit=0" not in result
    assert time.monotonic() - began < 60  # bounded by the timeout, not a hang


def test_kubectl_logs_and_exec_go_through_the_kubelet(kubectl: Kubectl, client: str) -> None:
    assert "web-started" in kubectl.run("logs", "web", "-n", "default")
    assert kubectl.run("exec", "web", "--", "cat", "/tmp/www/index.html").strip() == (
        "hello-from-web"
    )


def test_a_pod_reaches_the_broker_on_its_pod_listener(
    kubectl: Kubectl, client: str, pods_broker: kafka.Broker
) -> None:
    # A Kafka Metadata request from inside a pod; the answer advertises the pods' address.
    correlation_id = 7
    octal = "".join(f"\\{byte:03o}" for byte in kafka.encode_metadata_request(correlation_id))
    host, port = nodenetwork.HOST_ADDRESS, pods_broker.pods_port
    script = f"printf '{octal}' | timeout 5 nc {host} {port} | xxd -p"
    answer = bytes.fromhex("".join(kubectl.run("exec", client, "--", "sh", "-c", script).split()))
    (size,) = struct.unpack(">i", answer[:4])
    brokers = kafka.decode_metadata_brokers(answer[4 : 4 + size], correlation_id)
    assert [(host, port)] == [(h, p) for _, h, p in brokers]


def test_nothing_on_the_node_asks_for_a_negative_oom_score(
    running_node: tuple[controlplane.ControlPlane, node.Node], client: str
) -> None:
    _, started = running_node
    pids = set(started.pids.values())
    for cgroup in node.pod_cgroups():
        procs = cgroup / "cgroup.procs"
        if procs.exists():
            pids.update(int(pid) for pid in procs.read_text().split())
    socket = os.fsencode(str(started.containerd_socket))
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if socket in (proc / "cmdline").read_bytes():
                    pids.add(int(proc.name))
            except OSError:
                continue
    adjustments = {}
    for pid in pids:
        try:
            adjustments[pid] = int(Path(f"/proc/{pid}/oom_score_adj").read_text())
        except OSError:
            continue
    assert len(adjustments) > len(started.pids)  # the servers, shims and the pods' processes
    assert {pid: adj for pid, adj in adjustments.items() if adj < 0} == {}
    logs = "".join(path.read_text(errors="replace") for path in started.log_paths())
    assert "oom_score_adj" not in logs or "permission denied" not in logs.lower()


def test_an_image_that_is_not_there_is_never_pulled(kubectl: Kubectl, client: str) -> None:
    # containerd's registry traffic goes to a proxy on a closed loopback port: the pull fails on
    # the machine, at once, instead of leaving it.
    kubectl.apply(
        {
            **pod("absent", "exec sleep 3600"),
            "spec": {
                "containers": [
                    {"name": "main", "image": "registry.example/absent:1", "command": ["sleep"]}
                ]
            },
        }
    )

    def pull_failed() -> str:
        found = kubectl.get("pod", "absent", "default") or {}
        for status in found.get("status", {}).get("containerStatuses", []):
            waiting = status.get("state", {}).get("waiting", {})
            if waiting.get("reason") in ("ErrImagePull", "ImagePullBackOff"):
                return str(waiting.get("message", ""))
        return ""

    message = wait_for("the pull to fail", pull_failed, POD_TIMEOUT_S)
    assert "127.0.0.1:9" in message, message
    kubectl.run("delete", "pod", "absent", "-n", "default", "--wait=false")


def test_a_second_node_on_the_machine_is_refused(
    running_node: tuple[controlplane.ControlPlane, node.Node], tmp_path: Path
) -> None:
    plane, started = running_node
    with pytest.raises(node.StartError, match="one node per machine"):
        node.start(plane, tmp_path / "second")
    assert node.running(started.state_dir) is not None
    assert nodenetwork.bridge_exists()


def test_down_restores_the_host(
    running_node: tuple[controlplane.ControlPlane, node.Node],
    host_before: tuple[list[str], dict[str, str]],
) -> None:
    _, started = running_node
    rules_before, sysctls_before = host_before
    assert nodenetwork.bridge_exists()
    node.stop(started.state_dir)
    assert node.running(started.state_dir) is None
    assert not nodenetwork.bridge_exists()
    assert hostsysctls.snapshot() == sysctls_before
    rules_after = nodenetwork.comparable_rules(nodenetwork.iptables_snapshot(), NOT_THE_NODES)
    assert rules_after == rules_before
    mountinfo = Path("/proc/self/mountinfo").read_text()
    assert node.mounts_under(started.data_dir, mountinfo) == []
    assert not node.kubelet_root(started.data_dir).exists()
    assert node.pod_cgroups() == []
    assert not node.socket_path(started.data_dir).parent.exists()
    assert shutil.which("containerd")  # the packages stay; only what up changed is undone


def test_a_failed_start_leaves_nothing_running_and_restores_the_host(
    tmp_path: Path, host_before: tuple[list[str], dict[str, str]]
) -> None:
    # After the module's node is down: an image archive that does not exist fails the start once
    # containerd runs and the bridge, rules and sysctls are in place.
    rules_before, sysctls_before = host_before
    plane_dir, node_dir = tmp_path / "controlplane", tmp_path / "node"
    plane = controlplane.start(plane_dir, die_with_parent=True, for_node=True)
    try:
        with pytest.raises(node.StartError, match=r"missing\.tar"):
            node.start(plane, node_dir, images=[tmp_path / "missing.tar"], die_with_parent=True)
        assert node.running(node_dir) is None
        assert not nodenetwork.bridge_exists()
        assert hostsysctls.snapshot() == sysctls_before
        rules = nodenetwork.comparable_rules(nodenetwork.iptables_snapshot(), NOT_THE_NODES)
        assert rules == rules_before
        mountinfo = Path("/proc/self/mountinfo").read_text()
        assert node.mounts_under(node_dir / "data", mountinfo) == []
        socket = os.fsencode(str(node.socket_path(node_dir.resolve() / "data")))
        leftovers = []
        for proc in Path("/proc").iterdir():
            if proc.name.isdigit():
                try:
                    if socket in (proc / "cmdline").read_bytes():
                        leftovers.append(proc.name)
                except OSError:
                    continue
        assert leftovers == []
    finally:
        node.stop(node_dir)
        controlplane.stop(plane_dir)


def test_down_after_the_control_plane_stopped_still_restores_the_host(
    tmp_path: Path, host_before: tuple[list[str], dict[str, str]]
) -> None:
    # No API to delete the pods through: they are killed by cgroup, their network namespaces
    # unmounted with everything else under the state directory.
    rules_before, sysctls_before = host_before
    plane_dir, node_dir = tmp_path / "controlplane", tmp_path / "node"
    plane = controlplane.start(plane_dir, die_with_parent=True, for_node=True)
    try:
        started = node.start(plane, node_dir, die_with_parent=True)
        assert node.pod_cgroups()  # CoreDNS runs
    finally:
        controlplane.stop(plane_dir)
    node.stop(node_dir)
    assert node.running(node_dir) is None
    assert not nodenetwork.bridge_exists()
    assert hostsysctls.snapshot() == sysctls_before
    rules = nodenetwork.comparable_rules(nodenetwork.iptables_snapshot(), NOT_THE_NODES)
    assert rules == rules_before
    mountinfo = Path("/proc/self/mountinfo").read_text()
    assert node.mounts_under(started.data_dir, mountinfo) == []
    assert not node.kubelet_root(started.data_dir).exists()
    assert node.pod_cgroups() == []
