"""A real Kubernetes node beside the local control plane: containerd, kubelet, kube-proxy, DNS.

The node runs real containers: its own containerd (from Debian, with the CRI plugin, runc and the
standard CNI plugins), the kubelet, kube-proxy (iptables mode) and kube-scheduler built from the
control plane's own Kubernetes module (:mod:`kconnect_devenv.nodebuild`), and cluster DNS
(CoreDNS as a pod, :mod:`kconnect_devenv.clusterdns`). It needs a control plane started for a node
(``controlplane.start(for_node=True)``); ``python -m kconnect_devenv.node up`` starts one.

Invariants:

- **One node per machine** (the bridge, the rules and the node name are the machine's): the
  running node's state directory is in :data:`OWNER_FILE`, and ``start`` from another state
  directory is refused while it runs. **One per state directory**, with the lifecycle of
  :mod:`kconnect_devenv.lifecycle`: ``node.json`` (pids, ports, paths) written last, the lock, and
  ``data/``, which holds everything the node writes but containerd's socket and the kubelet's
  root (see :func:`socket_path`, :func:`kubelet_root`): containerd's config, root, state and
  network namespaces, the CNI config and address leases, the pod logs, the certificates and
  kubeconfigs, the logs.
  ``make node-up`` uses ``$KCONNECT_CACHE/run/node``.
- **Nothing is pulled, ever.** The images the node runs are imported from archives the project
  writes (the pause image from Kubernetes' ``pause.c``, CoreDNS, whatever the caller adds), pods
  use ``imagePullPolicy: Never`` or tags that are present, and containerd runs with a proxy
  setting that points at a closed loopback port, so a pull fails at once on the machine.
- **No negative OOM score is asked for.** Root here lacks ``CAP_SYS_RESOURCE``: containerd runs
  with ``oom_score = 0`` and ``restrict_oom_score_adj = true`` (a container never gets less than
  containerd's own score), the kubelet and kube-proxy with ``oomScoreAdj: 0``.
- **Nothing from a pod leaves the machine.** Pods live on the project's bridge; the guard rules of
  :mod:`kconnect_devenv.nodenetwork` drop whatever is forwarded off it; the bridge plugin
  masquerades nothing; NodePorts open on the bridge address only; CoreDNS forwards nothing.
- **down puts the host back.** The kernel settings of :data:`kconnect_devenv.hostsysctls.KEYS`
  are recorded before ``up`` changes anything (``host-before.json``, kept until a ``down``
  restores them) and written back; the pods are deleted through the API and their sandboxes torn
  down by the kubelet (CNI DEL), leftovers are killed by cgroup; every mount under ``data/`` and
  the kubelet's root is unmounted; the ``kubepods`` cgroups, the bridge, and every ``KUBE-``,
  ``CNI-`` and ``KCONNECT-`` iptables chain (with the jumps to it) are removed. A failed ``up``
  does the same before it raises, with the tails of the logs.

Root is required (containerd, the bridge, iptables). Stdlib only, like the other services.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from kconnect_devenv import (
    clusterdns,
    controlplane,
    debian,
    hostsysctls,
    lifecycle,
    nodebuild,
    nodenetwork,
    processes,
)
from kconnect_devenv.cluster import Kubectl
from kconnect_devenv.lifecycle import cache_root

NODE_NAME: Final = "kconnect-node"
CNI_NETWORK: Final = "kconnect-node"
CNI_BIN_DIR: Final = Path("/usr/lib/cni")
PACKAGES: Final = ("containerd", "runc", "containernetworking-plugins", "iptables", "conntrack")
STATE_FILE: Final = "node.json"
HOST_RECORD: Final = "host-before.json"
READY_TIMEOUT_S: Final = 240.0
STOP_GRACE_S: Final = 15.0
DRAIN_TIMEOUT_S: Final = 60.0
TOOL_TIMEOUT_S: Final = 60.0
LOG_TAIL_LINES: Final = 30
CLOSED_PROXY: Final = (
    "http://127.0.0.1:9"  # the discard port: nothing listens, a pull fails at once
)
SYSTEM_PATH: Final = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
CGROUP_ROOT: Final = Path("/sys/fs/cgroup")
CONTAINER_LOG_LINKS: Final = Path("/var/log/containers")
CNI_CACHE: Final = Path("/var/lib/cni/results")
OWNER_FILE: Final = Path("/run/kconnect-node.owner")
"""The state directory of the node that owns the host's bridge and rules: one node per machine."""

JsonObject = dict[str, Any]


class NodeError(lifecycle.ServiceError):
    """The node could not be started or stopped; the message says why."""


class StartError(NodeError, lifecycle.StartError):
    """The node did not come up; nothing started by the attempt is left running."""


@dataclasses.dataclass(frozen=True)
class Node:
    """A running node, as recorded in its state directory."""

    containerd_pid: int
    kubelet_pid: int
    proxy_pid: int
    scheduler_pid: int
    kubelet_port: int
    kubelet_healthz_port: int
    proxy_healthz_port: int
    proxy_metrics_port: int
    scheduler_port: int
    state_dir: Path
    data_dir: Path
    bin_dir: Path
    kubectl: Path
    kubeconfig: Path  # the control plane's admin kubeconfig
    controlplane_state_dir: Path
    name: str
    pause_image: str
    coredns_image: str

    @property
    def pids(self) -> dict[str, int]:
        return {
            "containerd": self.containerd_pid,
            "kubelet": self.kubelet_pid,
            "kube-proxy": self.proxy_pid,
            "kube-scheduler": self.scheduler_pid,
        }

    @property
    def mark(self) -> Path:
        return self.data_dir

    @property
    def containerd_socket(self) -> Path:
        return socket_path(self.data_dir)

    def log_path(self, component: str) -> Path:
        return self.data_dir / "logs" / f"{component}.log"

    def log_paths(self) -> tuple[Path, ...]:
        return tuple(self.log_path(component) for component in self.pids)

    def to_json(self) -> dict[str, object]:
        return lifecycle.state_to_json(self)

    @classmethod
    def from_json(cls, raw: Mapping[str, object]) -> Node:
        return lifecycle.state_from_json(cls, raw, STATE_FILE)


_SERVICE: Final = lifecycle.Service(
    title="the node",
    state_file=STATE_FILE,
    load=Node.from_json,
    error=NodeError,
    start_error=StartError,
    log_tail_lines=LOG_TAIL_LINES,
    port_attempts=1,
)


# --------------------------------------------------------------------------------------------------
# Pure parts: paths, certificates, configuration files.


def default_state_dir() -> Path:
    return cache_root() / "run" / "node"


SOCKET_ROOT: Final = Path("/run/kconnect-node")
SHIM_SOCKETS: Final = Path("/run/containerd/s")  # containerd 1.6 puts every shim's socket there


KUBELET_ROOT: Final = Path("/var/lib/kconnect-node")


def _short_name(data_dir: Path) -> str:
    return hashlib.sha256(os.fsencode(str(data_dir.resolve()))).hexdigest()[:16]


def socket_path(data_dir: Path) -> Path:
    """containerd's socket: under /run, in a directory named for ``data_dir``, because a state
    directory may be deeper than the 104 bytes containerd allows a socket path (it adds
    ``.ttrpc``), as pytest's temporary directories are."""
    return SOCKET_ROOT / _short_name(data_dir) / "containerd.sock"


def kubelet_root(data_dir: Path) -> Path:
    """The kubelet's ``--root-dir``: on disk, in a directory named for ``data_dir``, for the same
    reason as :func:`socket_path`: the kubelet binds sockets in it (``pod-resources/<n>``,
    ``plugins_registry``), and a socket path is limited to 108 bytes."""
    return KUBELET_ROOT / _short_name(data_dir)


def certificates(name: str = NODE_NAME) -> tuple[controlplane.Certificate, ...]:
    """The node's certificates, signed by the control plane's CA."""
    return (
        # The Node authorizer and NodeRestriction know a kubelet by this name and group.
        controlplane.Certificate("kubelet", f"system:node:{name}", "system:nodes", client=True),
        # The API server checks it against the CA at the node's InternalIP (logs, exec).
        controlplane.Certificate(
            "kubelet-serving",
            f"system:node:{name}",
            "system:nodes",
            dns_names=(name,),
            ip_addresses=(nodenetwork.BRIDGE_ADDRESS,),
            server=True,
        ),
        controlplane.Certificate("kube-proxy", "system:kube-proxy", client=True),
        controlplane.Certificate("kube-scheduler", "system:kube-scheduler", client=True),
    )


def containerd_config(data_dir: Path, pause_image: str) -> str:
    base = data_dir / "containerd"
    cri = 'plugins."io.containerd.grpc.v1.cri"'
    return f"""\
version = 2
root = "{base / "root"}"
state = "{base / "state"}"
# Root lacks CAP_SYS_RESOURCE: no container's score goes below containerd's own.
oom_score = 0
disabled_plugins = [
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp",
]

[grpc]
  address = "{socket_path(data_dir)}"

[debug]
  level = "info"

[plugins."io.containerd.internal.v1.opt"]
  path = "{base / "opt"}"

[{cri}]
  sandbox_image = "{pause_image}"
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  disable_tcp_service = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  [{cri}.containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [{cri}.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [{cri}.containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "{base / "runc"}"
  [{cri}.cni]
    bin_dir = "{CNI_BIN_DIR}"
    conf_dir = "{data_dir / "cni" / "net.d"}"
    max_conf_num = 1
"""


def cni_config(data_dir: Path) -> JsonObject:
    return {
        "cniVersion": "1.0.0",
        "name": CNI_NETWORK,
        "plugins": [
            {
                "type": "bridge",
                "bridge": nodenetwork.BRIDGE,
                "isGateway": True,
                "ipMasq": False,  # nothing is translated to leave the machine
                "hairpinMode": True,  # a pod reaches itself through its own Service
                "ipam": {
                    "type": "host-local",
                    "ranges": [
                        [{"subnet": nodenetwork.POD_CIDR, "gateway": nodenetwork.BRIDGE_ADDRESS}]
                    ],
                    "routes": [{"dst": "0.0.0.0/0"}],
                    "dataDir": str(data_dir / "cni" / "ipam"),
                },
            },
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
    }


def kubelet_config(node: Node) -> JsonObject:
    pki = node.data_dir / "pki"
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "address": nodenetwork.BRIDGE_ADDRESS,
        "port": node.kubelet_port,
        "readOnlyPort": 0,
        "healthzBindAddress": processes.HOST,
        "healthzPort": node.kubelet_healthz_port,
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": True},
            "x509": {"clientCAFile": str(pki / "ca.crt")},
        },
        "authorization": {"mode": "Webhook"},
        "tlsCertFile": str(pki / "kubelet-serving.crt"),
        "tlsPrivateKeyFile": str(pki / "kubelet-serving.key"),
        "containerRuntimeEndpoint": f"unix://{node.containerd_socket}",
        "cgroupDriver": "cgroupfs",
        "failCgroupV1": False,  # this machine has cgroup v1
        "failSwapOn": False,
        "oomScoreAdj": 0,  # the default -999 needs CAP_SYS_RESOURCE
        "makeIPTablesUtilChains": False,
        "clusterDNS": [clusterdns.DNS_SERVICE_IP],
        "clusterDomain": clusterdns.CLUSTER_DOMAIN,
        "resolvConf": str(node.data_dir / "kubelet" / "resolv.conf"),
        "podLogsDir": str(node.data_dir / "pod-logs"),
        "rotateCertificates": False,
        "serverTLSBootstrap": False,
        "registerNode": True,
        # Nothing is pulled, so nothing may be collected: images are imported once per up.
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "evictionHard": {
            "memory.available": "100Mi",
            "nodefs.available": "1%",
            "imagefs.available": "1%",
            "nodefs.inodesFree": "1%",
        },
        "shutdownGracePeriod": "0s",
        "serializeImagePulls": False,
        "podCIDR": nodenetwork.POD_CIDR,
    }


def kube_proxy_config(node: Node) -> JsonObject:
    return {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "clientConnection": {"kubeconfig": str(node.data_dir / "kube-proxy.kubeconfig")},
        "hostnameOverride": node.name,
        "mode": "iptables",
        "bindAddress": processes.HOST,
        "healthzBindAddress": f"{processes.HOST}:{node.proxy_healthz_port}",
        "metricsBindAddress": f"{processes.HOST}:{node.proxy_metrics_port}",
        "clusterCIDR": nodenetwork.POD_CIDR,
        "detectLocalMode": "ClusterCIDR",
        # NodePorts on the bridge only, never on the machine's own interfaces.
        "nodePortAddresses": [f"{nodenetwork.BRIDGE_ADDRESS}/32"],
        "oomScoreAdj": 0,  # the default -999 needs CAP_SYS_RESOURCE
        # Leave the machine's conntrack settings and route_localnet alone.
        "conntrack": {
            "maxPerCore": 0,
            "min": 0,
            "tcpEstablishedTimeout": "0s",
            "tcpCloseWaitTimeout": "0s",
        },
        "iptables": {"localhostNodePorts": False, "syncPeriod": "30s", "minSyncPeriod": "0s"},
    }


def kubelet_args(node: Node) -> list[str]:
    return [
        f"--config={node.data_dir / 'kubelet' / 'config.json'}",
        f"--kubeconfig={node.data_dir / 'kubelet.kubeconfig'}",
        f"--root-dir={kubelet_root(node.data_dir)}",
        f"--cert-dir={node.data_dir / 'kubelet' / 'pki'}",
        f"--hostname-override={node.name}",
        f"--node-ip={nodenetwork.BRIDGE_ADDRESS}",
        "--v=1",
    ]


def scheduler_args(node: Node) -> list[str]:
    kubeconfig = node.data_dir / "kube-scheduler.kubeconfig"
    return [
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        f"--bind-address={processes.HOST}",
        f"--secure-port={node.scheduler_port}",
        f"--cert-dir={node.data_dir / 'scheduler-certs'}",
        "--leader-elect=false",
        "--profiling=false",
        "--v=1",
    ]


def component_env(base: Mapping[str, str], *, containerd: bool = False) -> dict[str, str]:
    """The environment of the node's servers: sbin on PATH; no proxy for the Kubernetes clients;
    for containerd, a proxy on a closed loopback port so that no pull can leave the machine."""
    env = {
        key: value
        for key, value in base.items()
        if key.lower() not in {"http_proxy", "https_proxy", "no_proxy", "all_proxy"}
    }
    env["PATH"] = f"{base.get('PATH', '')}:{SYSTEM_PATH}".lstrip(":")
    if containerd:
        env.update({"HTTP_PROXY": CLOSED_PROXY, "HTTPS_PROXY": CLOSED_PROXY, "NO_PROXY": ""})
    return env


def node_ready(node_object: Mapping[str, Any]) -> bool:
    conditions = node_object.get("status", {}).get("conditions", [])
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


# --------------------------------------------------------------------------------------------------
# Start, stop, inspect.


def running(state_dir: Path | None = None) -> Node | None:
    return _SERVICE.running(state_dir or default_state_dir())


def start(
    plane: controlplane.ControlPlane,
    state_dir: Path | None = None,
    *,
    images: Sequence[Path] = (),
    ready_timeout: float = READY_TIMEOUT_S,
    die_with_parent: bool = False,
) -> Node:
    """Start the node for ``plane`` in ``state_dir``, or return the one running there.

    ``images`` are OCI or Docker archives imported into the node's containerd besides the pause
    and CoreDNS images. Returns once the node is Ready, kube-proxy has synced and cluster DNS
    serves. A failed start stops what it started and restores the host before it raises.
    """
    state_dir = (state_dir or default_state_dir()).resolve()
    if not plane.for_node:
        raise StartError(
            f"the control plane in {plane.state_dir} was not started for a node; stop it and start "
            "it with controlplane.start(for_node=True) (python -m kconnect_devenv.node up does)"
        )
    if os.geteuid() != 0:
        raise StartError("the node needs root: containerd, the bridge and iptables")
    other = other_node(state_dir)
    if other is not None:
        raise StartError(
            f"a node from {other} already runs on this machine (its bridge, rules and ports are "
            "the machine's); stop it first: one node per machine"
        )
    if _SERVICE.running(state_dir) is None and (state_dir / lifecycle.DATA_DIR).exists():
        # What a crashed node left (mounts under data/, rules, the bridge) goes before data/ does.
        _clean_host(state_dir, None)
    try:
        return _SERVICE.start(
            state_dir,
            functools.partial(_prepare, plane, tuple(images)),
            _launch,
            ready_timeout=ready_timeout,
            die_with_parent=die_with_parent,
        )
    except BaseException:
        if _SERVICE.running(state_dir) is None:
            with contextlib.suppress(Exception):
                _clean_host(state_dir, None)
        raise


def other_node(state_dir: Path) -> Path | None:
    """The state directory of a node that runs on this machine from another state directory."""
    try:
        owner = Path(OWNER_FILE.read_text("utf-8").strip())
    except OSError:
        return None
    if owner == state_dir.resolve() or _SERVICE.running(owner) is None:
        return None
    return owner


def _prepare(
    plane: controlplane.ControlPlane, images: tuple[Path, ...]
) -> tuple[controlplane.ControlPlane, nodebuild.Dist, tuple[Path, ...]]:
    try:
        debian.ensure(PACKAGES, cache_root())
    except debian.PackageError as exc:
        raise StartError(str(exc)) from exc
    nodenetwork.require_tools()
    return plane, nodebuild.build(), images


def _launch(
    prepared: tuple[controlplane.ControlPlane, nodebuild.Dist, tuple[Path, ...]],
    attempt: lifecycle.Launch,
) -> Node:
    plane, dist, images = prepared
    data_dir = attempt.data_dir
    processes.write_atomically(OWNER_FILE, f"{attempt.state_dir}\n")
    record = attempt.state_dir / HOST_RECORD
    if not record.exists():  # an earlier record holds the values from before that up: keep it
        processes.write_atomically(record, json.dumps(hostsysctls.snapshot(), indent=2) + "\n")
    for sub in ("logs", "pki", "containerd", "cni/net.d", "cni/ipam", "kubelet", "pod-logs"):
        (data_dir / sub).mkdir(parents=True, exist_ok=True)
    ports = processes.free_ports(5)
    node = Node(
        containerd_pid=0,
        kubelet_pid=0,
        proxy_pid=0,
        scheduler_pid=0,
        kubelet_port=ports[0],
        kubelet_healthz_port=ports[1],
        proxy_healthz_port=ports[2],
        proxy_metrics_port=ports[3],
        scheduler_port=ports[4],
        state_dir=attempt.state_dir,
        data_dir=data_dir,
        bin_dir=dist.bin_dir,
        kubectl=plane.kubectl,
        kubeconfig=plane.kubeconfig,
        controlplane_state_dir=plane.state_dir,
        name=NODE_NAME,
        pause_image=dist.pause_image,
        coredns_image=dist.coredns_image,
    )
    _write_files(node, plane)

    # The host: forwarding and bridge netfilter on, the bridge, the guard rules.
    for key in ("net.ipv4.ip_forward", "net.bridge.bridge-nf-call-iptables"):
        hostsysctls.write(key, "1")
    nodenetwork.create_bridge(controlplane.SERVICE_CLUSTER_IP_RANGE)
    nodenetwork.install_guard()

    def spawn(component: str, command: Sequence[str], env: Mapping[str, str]) -> int:
        return attempt.spawn(component, command, node.log_path(component), data_dir, env)

    def wait_for(what: str, check: Callable[[], bool]) -> None:
        attempt.wait_for(
            node,
            check,
            during=f"while waiting for {what}",
            timed_out=f"timed out waiting for {what}; the node was stopped",
        )

    env = component_env(os.environ)
    node.containerd_socket.parent.mkdir(parents=True, exist_ok=True)
    containerd = shutil.which("containerd", path=SYSTEM_PATH) or "containerd"
    node = dataclasses.replace(
        node,
        containerd_pid=spawn(
            "containerd",
            [containerd, "--config", str(data_dir / "containerd" / "config.toml")],
            component_env(os.environ, containerd=True),
        ),
    )
    wait_for("containerd's socket", lambda: _ctr_ok(node, "version"))
    for archive in (*dist.images, *images):
        import_image(node, archive)

    node = dataclasses.replace(
        node,
        kubelet_pid=spawn("kubelet", [str(node.bin_dir / "kubelet"), *kubelet_args(node)], env),
    )
    wait_for(f"node {node.name} to be Ready", lambda: _is_ready(plane, node.name))
    proxy_command = [
        str(node.bin_dir / "kube-proxy"),
        f"--config={data_dir / 'kube-proxy' / 'config.json'}",
        "--v=1",
    ]
    node = dataclasses.replace(node, proxy_pid=spawn("kube-proxy", proxy_command, env))
    wait_for("kube-proxy to sync its rules", lambda: _proxy_healthy(node))
    node = dataclasses.replace(
        node,
        scheduler_pid=spawn(
            "kube-scheduler", [str(node.bin_dir / "kube-scheduler"), *scheduler_args(node)], env
        ),
    )
    # The DNS objects may remain from an earlier node on this control plane: apply is idempotent.
    try:
        Kubectl(plane.kubectl, plane.kubeconfig).apply(*clusterdns.manifests(node.coredns_image))
    except AssertionError as exc:  # kubectl's error, with its stderr
        raise StartError(f"applying cluster DNS failed: {exc}") from exc
    wait_for("CoreDNS to be ready", lambda: _dns_ready(plane))
    return node


def _write_files(node: Node, plane: controlplane.ControlPlane) -> None:
    data_dir = node.data_dir
    pki = data_dir / "pki"
    openssl = controlplane.openssl_command()
    shutil.copyfile(plane.pki / "ca.crt", pki / "ca.crt")
    for cert in certificates(node.name):
        controlplane.issue_certificate(openssl, cert, ca_dir=plane.pki, out_dir=pki)
    for stem in ("kubelet", "kube-proxy", "kube-scheduler"):
        controlplane.write_kubeconfig(plane, pki, stem, data_dir / f"{stem}.kubeconfig")
    (data_dir / "containerd" / "config.toml").write_text(
        containerd_config(data_dir, node.pause_image), "utf-8"
    )
    (data_dir / "cni" / "net.d" / f"10-{CNI_NETWORK}.conflist").write_text(
        json.dumps(cni_config(data_dir), indent=2) + "\n", "utf-8"
    )
    # Pods with dnsPolicy Default (CoreDNS) get no resolver of the machine's: no lookup leaves it.
    (data_dir / "kubelet" / "resolv.conf").write_text("", "ascii")
    (data_dir / "kubelet" / "config.json").write_text(
        json.dumps(kubelet_config(node), indent=2) + "\n", "utf-8"
    )
    (data_dir / "kube-proxy").mkdir(exist_ok=True)
    (data_dir / "kube-proxy" / "config.json").write_text(
        json.dumps(kube_proxy_config(node), indent=2) + "\n", "utf-8"
    )


def ctr(
    node: Node, *args: str, timeout: float = TOOL_TIMEOUT_S
) -> subprocess.CompletedProcess[str]:
    """``ctr`` against the node's containerd, in the CRI's ``k8s.io`` namespace."""
    command = ["ctr", "--address", str(node.containerd_socket), "--namespace", "k8s.io", *args]
    return processes.run_tool(
        command,
        what=f"ctr {' '.join(args[:2])}",
        timeout=timeout,
        error=NodeError,
        env=component_env(os.environ),
    )


def import_image(node: Node, archive: Path) -> None:
    """Import an image archive (OCI layout or ``docker save``) into the node's runtime."""
    result = ctr(node, "images", "import", "--snapshotter", "overlayfs", str(archive))
    if result.returncode != 0:
        raise StartError(
            f"ctr images import {archive} failed: {(result.stderr or result.stdout).strip()}"
        )


def _ctr_ok(node: Node, *args: str) -> bool:
    if not node.containerd_socket.exists():
        return False
    return ctr(node, *args, timeout=10.0).returncode == 0


def _api_json(plane: controlplane.ControlPlane, path: str) -> JsonObject | None:
    try:
        value = json.loads(controlplane.api_get(plane, path))
    except (OSError, ssl.SSLError, urllib.error.URLError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _is_ready(plane: controlplane.ControlPlane, name: str) -> bool:
    found = _api_json(plane, f"/api/v1/nodes/{name}")
    return found is not None and node_ready(found)


def _proxy_healthy(node: Node) -> bool:
    import urllib.request

    url = f"http://{processes.HOST}:{node.proxy_healthz_port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=2.0) as response:
            return bool(response.status == 200)
    except (OSError, urllib.error.URLError):
        return False


def _dns_ready(plane: controlplane.ControlPlane) -> bool:
    found = _api_json(
        plane, f"/apis/apps/v1/namespaces/{clusterdns.NAMESPACE}/deployments/{clusterdns.NAME}"
    )
    return found is not None and int(found.get("status", {}).get("readyReplicas", 0) or 0) >= 1


def stop(state_dir: Path | None = None, *, grace: float = STOP_GRACE_S) -> None:
    """Stop the node of ``state_dir`` and put the host back as it was before ``up``.

    The node's pods are deleted through the API first (the control plane must still run for their
    sandboxes to be torn down by the kubelet; otherwise they are killed by cgroup and their mounts
    and network namespaces removed), then the servers stop, then the host is cleaned. Does nothing
    but the host's cleaning when no node runs there.
    """
    state_dir = (state_dir or default_state_dir()).resolve()
    if not state_dir.is_dir():
        return
    with processes.locked(state_dir / lifecycle.LOCK_FILE):
        node = _SERVICE.read_state(state_dir)
        if node is not None:
            if _SERVICE.running(state_dir) is not None:
                with contextlib.suppress(Exception):
                    _drain(node)
            for name, pid in reversed(list(node.pids.items())):
                if processes.is_alive(pid, node.mark) and not processes.terminate(
                    pid, node.mark, grace, lifecycle.KILL_WAIT_S
                ):
                    raise NodeError(f"{name} (pid {pid}) survived SIGKILL")
        # Unmount before anything under data/ is deleted: a mount there may show host files.
        _clean_host(state_dir, node)
    _SERVICE.stop(state_dir, grace=grace)  # nothing runs any more: this clears the state


def _drain(node: Node) -> None:
    """Cordon the node, delete its pods, and wait (bounded) until the runtime runs no task.

    Returns at once when the API server does not answer: then nothing can delete the pods, and
    :func:`_clean_host` kills them by cgroup instead.
    """
    kubectl = Kubectl(node.kubectl, node.kubeconfig)
    try:
        kubectl.run("cordon", node.name)
        kubectl.run(
            "delete", "pods", "--all-namespaces", f"--field-selector=spec.nodeName={node.name}",
            "--grace-period=2", "--wait=false",
        )  # fmt: skip
    except (AssertionError, subprocess.TimeoutExpired):  # kubectl's error: no API to drain through
        return
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    while time.monotonic() < deadline:
        listed = ctr(node, "tasks", "list", "--quiet", timeout=10.0)
        if listed.returncode == 0 and not listed.stdout.strip():
            return
        time.sleep(0.5)


def _clean_host(state_dir: Path, node: Node | None) -> None:
    """Everything ``up`` changed on the host, undone; errors are collected and raised at the end."""
    data_dir = state_dir / lifecycle.DATA_DIR
    problems: list[str] = []
    if other_node(state_dir) is not None:
        return  # the bridge and rules are that node's; this one left nothing of its own on the host

    def attempt(what: str, action: Callable[[], None]) -> None:
        try:
            action()
        except Exception as exc:  # every step runs; the failures are reported
            problems.append(f"{what}: {exc}")

    attempt("killing the pods' processes", _kill_pod_processes)
    attempt("killing containerd's shims", lambda: _kill_shims(socket_path(data_dir)))
    attempt("unmounting", lambda: _unmount_under(data_dir))
    attempt("unmounting the kubelet's root", lambda: _unmount_under(kubelet_root(data_dir)))
    shutil.rmtree(socket_path(data_dir).parent, ignore_errors=True)
    if not mounts_under(kubelet_root(data_dir), Path("/proc/self/mountinfo").read_text()):
        shutil.rmtree(kubelet_root(data_dir), ignore_errors=True)
    # Directories the socket and the shims created, if now empty (rmdir never removes content).
    for directory in (SOCKET_ROOT, KUBELET_ROOT, SHIM_SOCKETS, SHIM_SOCKETS.parent):
        with contextlib.suppress(OSError):
            directory.rmdir()
    attempt("removing the kubepods cgroups", _remove_pod_cgroups)
    attempt("removing container log links", lambda: _remove_log_links(data_dir))
    attempt("removing CNI results", _remove_cni_results)
    attempt("removing iptables rules", nodenetwork.remove_owned_rules)
    attempt("deleting the bridge", nodenetwork.delete_bridge)
    record = state_dir / HOST_RECORD
    if record.exists():
        attempt("restoring sysctls", lambda: hostsysctls.restore(json.loads(record.read_text())))
        if not any(p.startswith("restoring sysctls") for p in problems):
            record.unlink()
    with contextlib.suppress(OSError):
        if Path(OWNER_FILE.read_text("utf-8").strip()) == state_dir.resolve():
            OWNER_FILE.unlink()
    if node is not None:
        with contextlib.suppress(Exception):
            Kubectl(node.kubectl, node.kubeconfig).run(
                "delete", "node", node.name, "--wait=false", "--ignore-not-found", check=False
            )
    if problems:
        raise NodeError(
            "the node stopped, but the host is not fully restored: " + "; ".join(problems)
        )


def pod_cgroups() -> list[Path]:
    """Every ``kubepods`` cgroup directory in every v1 hierarchy, deepest first."""
    found: list[Path] = []
    with contextlib.suppress(OSError):
        for hierarchy in CGROUP_ROOT.iterdir():
            top = hierarchy / "kubepods"
            if top.is_dir():
                found.extend(path for path in top.rglob("*") if path.is_dir())
                found.append(top)
    return sorted(found, key=lambda path: len(path.parts), reverse=True)


def _kill_pod_processes() -> None:
    deadline = time.monotonic() + 10.0
    while True:
        pids: set[int] = set()
        for cgroup in pod_cgroups():
            with contextlib.suppress(OSError):
                pids.update(int(p) for p in (cgroup / "cgroup.procs").read_text().split())
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if time.monotonic() >= deadline:
            raise NodeError(f"pod processes {sorted(pids)} outlived SIGKILL")
        time.sleep(0.2)


def _kill_shims(socket: Path) -> None:
    """Kill the containerd shims that served this node's containerd (their command line names
    its socket); a shim outlives containerd otherwise."""
    needle = os.fsencode(str(socket))
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            cmdline = (proc / "cmdline").read_bytes()
            if b"containerd-shim" in cmdline and needle in cmdline:
                os.kill(int(proc.name), signal.SIGKILL)


def mounts_under(directory: Path, mountinfo: str) -> list[Path]:
    """The mount points below ``directory`` in ``/proc/self/mountinfo``'s text, deepest first."""
    prefix = str(directory.resolve()) + "/"
    points = []
    for line in mountinfo.splitlines():
        fields = line.split()
        if len(fields) > 4:
            point = fields[4].encode().decode("unicode_escape")
            if point.startswith(prefix) or point == prefix[:-1]:
                points.append(Path(point))
    return sorted(set(points), key=lambda path: len(path.parts), reverse=True)


def _unmount_under(data_dir: Path) -> None:
    for _ in range(3):  # a bind mount may hide another; a few passes see them all
        points = mounts_under(data_dir, Path("/proc/self/mountinfo").read_text())
        if not points:
            return
        for point in points:
            result = processes.run_tool(
                ["umount", str(point)], what="umount", timeout=TOOL_TIMEOUT_S, error=NodeError
            )
            if result.returncode != 0:
                processes.run_tool(
                    ["umount", "--lazy", str(point)],
                    what="umount",
                    timeout=TOOL_TIMEOUT_S,
                    error=NodeError,
                )
    left = mounts_under(data_dir, Path("/proc/self/mountinfo").read_text())
    if left:
        raise NodeError(f"still mounted: {', '.join(map(str, left))}")


def _remove_pod_cgroups() -> None:
    left = []
    for cgroup in pod_cgroups():
        try:
            cgroup.rmdir()
        except FileNotFoundError:
            pass
        except OSError:
            left.append(str(cgroup))
    if left:
        raise NodeError(f"cgroups still in use: {', '.join(left[:5])}")


def _remove_log_links(data_dir: Path) -> None:
    if not CONTAINER_LOG_LINKS.is_dir():
        return
    prefix = str(data_dir.resolve())
    for link in CONTAINER_LOG_LINKS.iterdir():
        with contextlib.suppress(OSError):
            if link.is_symlink() and os.readlink(link).startswith(prefix):
                link.unlink()


def _remove_cni_results() -> None:
    if CNI_CACHE.is_dir():
        for entry in CNI_CACHE.glob(f"{CNI_NETWORK}-*"):
            entry.unlink(missing_ok=True)


# --------------------------------------------------------------------------------------------------
# Command line: python -m kconnect_devenv.node {up,down,status}


def main(argv: Sequence[str] | None = None) -> int:
    return lifecycle.run_cli(
        argv,
        prog="python -m kconnect_devenv.node",
        description="Start and stop a real Kubernetes node beside the local control plane.",
        default_state_dir=default_state_dir,
        state_dir_help="where the node's state and data live (default: $KCONNECT_CACHE/run/node)",
        commands={"up": _cli_up, "down": _cli_down, "status": _cli_status},
        commands_help="up: start the control plane for a node if none runs, then the node "
        "(idempotent), and print KUBECONFIG=... last; down: stop the node and restore the host "
        "(the control plane keeps running); status: say what runs",
    )


def _cli_up(state_dir: Path) -> int:
    node = running(state_dir)
    if node is None:
        plane = controlplane.running()
        if plane is None:
            print("Starting the control plane for a node ...", flush=True)
            plane = controlplane.start(for_node=True)
        if nodebuild.built() is None:
            print(
                f"Building kubelet, kube-proxy, kube-scheduler, CoreDNS and the pause image into "
                f"{nodebuild.dist_dir()} (log: {nodebuild.home_dir() / 'build.log'}) ...",
                flush=True,
            )
            nodebuild.build(progress=lambda line: print(f"  {line}", flush=True))
        print(
            "Starting containerd, kubelet, kube-proxy, kube-scheduler and CoreDNS ...", flush=True
        )
        began = time.monotonic()
        node = start(plane, state_dir)
        print(f"Node {node.name} is Ready with cluster DNS after {time.monotonic() - began:.1f}s.")
    else:
        print(f"Node {node.name} is already running (data {node.data_dir}).")
    print(f"Logs: {node.data_dir / 'logs'}; containerd: {node.containerd_socket}")
    print(f"KUBECONFIG={node.kubeconfig}")
    return 0


def _cli_down(state_dir: Path) -> int:
    node = _SERVICE.read_state(state_dir.resolve()) if state_dir.is_dir() else None
    stop(state_dir)
    print("The node stopped; the host is restored." if node else "No node ran.")
    return 0


def _cli_status(state_dir: Path) -> int:
    node = _SERVICE.read_state(state_dir.resolve()) if state_dir.is_dir() else None
    if node is None:
        print("The node is not running.")
        return 1
    healthy = lifecycle.print_servers(node)
    print(f"KUBECONFIG={node.kubeconfig}")
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
