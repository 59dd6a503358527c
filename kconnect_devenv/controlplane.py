"""A real Kubernetes control plane for development and tests: built from Go, run on loopback.

etcd, kube-apiserver, kube-controller-manager, kubectl and helm are compiled with the machine's Go
toolchain from three wrapper modules under ``kconnect_devenv/controlplane/`` (``kubernetes/``,
``etcd/``, ``helm/``). Their ``go.mod``/``go.sum`` hold the pins; ``controlplane/README.md`` says
why each pin is what it is. Nothing but Go, ``openssl`` and the Go module proxy is needed: no
Docker, no kind, no release tarballs. There is no kubelet and no scheduler: Deployments become
ReplicaSets and Pending Pods; the real node (:mod:`kconnect_devenv.node`) runs them.

Invariants:

- **Only a complete build is ever used.** Binaries live in
  ``$KCONNECT_CACHE/controlplane-k8s<v>-etcd<v>-helm<v>/bin`` (``KCONNECT_CACHE`` defaults to
  ``~/.cache/kconnect``), beside a marker holding a digest of the wrapper modules and of the build
  recipe, so an edited pin builds again (:mod:`kconnect_devenv.builds`). Go's module and build
  caches live under ``$KCONNECT_CACHE/go``, so a rebuild after a pin change is incremental. The
  build runs with ``-mod=readonly``: a ``go.sum`` that does not cover a pin fails the build instead
  of silently resolving something else.
- **One control plane per state directory**, with the lifecycle of
  :mod:`kconnect_devenv.lifecycle`: the state file ``controlplane.json`` (pids, ports, paths), the
  lock, ``kubeconfig`` (the admin's) and ``data/`` (certificates, etcd's data, the logs).
  ``make cluster-up`` uses ``$KCONNECT_CACHE/run/controlplane``; a pytest fixture uses a private
  temporary one. A stale ``controlplane.json`` (a server exited) is an error for ``start``, since
  starting afresh would drop the cluster's data: ``stop`` clears it.
- **A started control plane serves.** :func:`start` returns only once ``/readyz`` answers, the
  ``default`` namespace and its ``default`` service account exist and ``kube-root-ca.crt`` is
  published (the last two prove that the controller manager works); ``controlplane.json`` is
  written only then. Otherwise it kills what it started and raises :class:`StartError` with the
  tail of the logs. Every wait is bounded.
- **Loopback only, TLS everywhere.** Every server binds 127.0.0.1 on ports picked free at start.
  A fresh CA per start signs etcd's serving cert and every client cert; etcd requires client certs
  on its client and peer ports. The admin is in ``system:masters``.
- **For a real node, opt in** (``start(for_node=True)``, what :mod:`kconnect_devenv.node` asks
  for): the API server binds and advertises :data:`kconnect_devenv.nodenetwork.HOST_ADDRESS`
  instead (a /32 on ``lo`` that pods reach through their gateway), so the ``kubernetes`` Service
  gets an endpoint and works from a pod; the API server reaches kubelets at their InternalIP with
  a client certificate and checks their serving certificates against the CA, so ``kubectl logs``
  and ``exec`` work. Without it the API server
  stays on loopback, which no pod reaches, and needs no root.

This module needs nothing beyond the standard library and the ``openssl`` command.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import functools
import hashlib
import json
import os
import re
import shutil
import ssl
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Final, TextIO

from kconnect_devenv import builds, lifecycle, nodenetwork, processes
from kconnect_devenv.lifecycle import cache_root

SERVICE_DIR: Final = Path(__file__).resolve().parent / "controlplane"
HOST: Final = "127.0.0.1"

# Measured cold on 2 cores: see docs/controlplane.md. The bound is per binary.
BUILD_TIMEOUT_S: Final = 3600.0
OPENSSL_TIMEOUT_S: Final = 30.0
READY_TIMEOUT_S: Final = 120.0
PROBE_TIMEOUT_S: Final = 2.0
STOP_GRACE_S: Final = 15.0
CERT_DAYS: Final = 3650

# The range Services get their ClusterIPs from; its first address is the `kubernetes` Service's.
SERVICE_CLUSTER_IP_RANGE: Final = "10.0.0.0/24"
KUBERNETES_SERVICE_IP: Final = "10.0.0.1"
SERVICE_ACCOUNT_ISSUER: Final = "https://kubernetes.default.svc.cluster.local"
CLUSTER_NAME: Final = "kconnect"

# Bumped whenever the way binaries are built changes (flags, ldflags), so old builds are rebuilt.
BUILD_RECIPE: Final = "1"

STATE_FILE: Final = "controlplane.json"
DATA_DIR: Final = lifecycle.DATA_DIR
KUBECONFIG_FILE: Final = "kubeconfig"
LOG_TAIL_LINES: Final = 30


class ControlPlaneError(lifecycle.ServiceError):
    """The control plane could not be built, started or stopped; the message says why."""


class BuildError(ControlPlaneError):
    """Go could not build one of the binaries."""


class StartError(ControlPlaneError, lifecycle.StartError):
    """The control plane did not come up; nothing started by the attempt is left running."""


# --------------------------------------------------------------------------------------------------
# Pure parts: pins, the build plan, paths, certificates' extensions, flags and kubeconfigs.


@dataclasses.dataclass(frozen=True)
class Pins:
    """The versions the wrapper modules pin."""

    kubernetes: str  # e.g. "v1.34.10"
    etcd: str  # e.g. "v3.6.16"
    helm: str  # e.g. "v3.19.5"
    helm_kubernetes_minor: str  # the minor of the client-go helm is built with, e.g. "34"

    @property
    def tag(self) -> str:
        return f"k8s{self.kubernetes[1:]}-etcd{self.etcd[1:]}-helm{self.helm[1:]}"


def module_version(go_mod: str, module: str) -> str | None:
    """The version ``go_mod`` (the text of a go.mod) requires of ``module``, or None."""
    pattern = rf"^\s*(?:require\s+)?{re.escape(module)}\s+(v\S+)"
    match = re.search(pattern, go_mod, re.MULTILINE)
    return match.group(1) if match else None


def read_pins(service_dir: Path = SERVICE_DIR) -> Pins:
    def required(directory: str, module: str) -> str:
        path = service_dir / directory / "go.mod"
        version = module_version(path.read_text("utf-8"), module)
        if version is None:
            raise ControlPlaneError(f"{path}: no requirement on {module}; expected e.g. v1.2.3")
        return version

    client_go = required("helm", "k8s.io/client-go")
    minor = re.fullmatch(r"v0\.(\d+)\.\d+.*", client_go)
    if minor is None:
        raise ControlPlaneError(
            f"helm's k8s.io/client-go is {client_go}; expected v0.<minor>.<patch>"
        )
    return Pins(
        kubernetes=required("kubernetes", "k8s.io/kubernetes"),
        etcd=required("etcd", "go.etcd.io/etcd/server/v3"),
        helm=required("helm", "helm.sh/helm/v3"),
        helm_kubernetes_minor=minor.group(1),
    )


@dataclasses.dataclass(frozen=True)
class Target:
    """One binary: which wrapper module builds it, from which package, with which ldflags."""

    name: str
    module_dir: str
    package: str
    ldflags: tuple[str, ...]


def build_plan(pins: Pins) -> tuple[Target, ...]:
    """What to build, in order: the slowest first, so a failure in it shows early."""
    major, minor = re.findall(r"\d+", pins.kubernetes)[:2]
    # What `make` in a Kubernetes checkout stamps in, so `kubectl version`, discovery and helm's
    # kubeVersion checks see the real version rather than v0.0.0-master.
    kube_version = tuple(
        f"-X {package}.{name}={value}"
        for package in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version")
        for name, value in (
            ("gitVersion", pins.kubernetes),
            ("gitMajor", major),
            ("gitMinor", minor),
            ("gitTreeState", "clean"),
        )
    )
    helm_version = (
        f"-X helm.sh/helm/v3/internal/version.version={pins.helm}",
        "-X helm.sh/helm/v3/internal/version.gitTreeState=clean",
        *(
            f"-X helm.sh/helm/v3/pkg/{package}.{name}={value}"
            for package in ("lint/rules", "chartutil")
            for name, value in (
                ("k8sVersionMajor", "1"),
                ("k8sVersionMinor", pins.helm_kubernetes_minor),
            )
        ),
    )
    return (
        Target(
            "kube-apiserver", "kubernetes", "k8s.io/kubernetes/cmd/kube-apiserver", kube_version
        ),
        Target(
            "kube-controller-manager",
            "kubernetes",
            "k8s.io/kubernetes/cmd/kube-controller-manager",
            kube_version,
        ),
        Target("kubectl", "kubernetes", "k8s.io/kubernetes/cmd/kubectl", kube_version),
        Target("etcd", "etcd", "go.etcd.io/etcd/server/v3", ()),
        Target("helm", "helm", "helm.sh/helm/v3/cmd/helm", helm_version),
    )


BINARIES: Final = ("etcd", "kube-apiserver", "kube-controller-manager", "kubectl", "helm")


def go_command(target: Target, output: Path) -> list[str]:
    ldflags = " ".join(("-s", "-w", *target.ldflags))
    return ["build", "-trimpath", f"-ldflags={ldflags}", "-o", str(output), target.package]


def go_environment(base: Mapping[str, str], cache: Path) -> dict[str, str]:
    """The environment of ``go build``: caches under ``cache``, pins as written, no cgo."""
    env = dict(base)
    env.update(
        {
            "GOMODCACHE": str(cache / "go" / "mod"),
            "GOCACHE": str(cache / "go" / "build"),
            "GOTOOLCHAIN": "local",  # the machine's Go; never download another toolchain
            "GOWORK": "off",
            "CGO_ENABLED": "0",  # static binaries, as Kubernetes and etcd release them
            # readonly: go.sum must already cover every pin. modcacherw: the cache can be rm -rf'd.
            "GOFLAGS": "-mod=readonly -modcacherw -buildvcs=false",
        }
    )
    return env


def default_state_dir() -> Path:
    """The state directory of the control plane that ``make cluster-up`` manages."""
    return cache_root() / "run" / "controlplane"


@dataclasses.dataclass(frozen=True)
class Certificate:
    """A certificate to issue: its file stem, subject and X.509v3 extensions."""

    stem: str
    common_name: str
    organization: str | None = None
    dns_names: tuple[str, ...] = ()
    ip_addresses: tuple[str, ...] = ()
    server: bool = False
    client: bool = False
    issuer: str = "ca"  # the stem of the signing CA's files

    def subject(self) -> str:
        organization = f"/O={self.organization}" if self.organization else ""
        return f"{organization}/CN={self.common_name}"

    def extensions(self) -> str:
        """An openssl config section (``[leaf]``) with this certificate's extensions."""
        usages = [
            name for name, on in (("serverAuth", self.server), ("clientAuth", self.client)) if on
        ]
        lines = [
            "[leaf]",
            "basicConstraints = critical, CA:FALSE",
            "keyUsage = critical, digitalSignature, keyEncipherment",
            f"extendedKeyUsage = {', '.join(usages)}",
            "subjectKeyIdentifier = hash",
            "authorityKeyIdentifier = keyid",
        ]
        names = [f"DNS:{name}" for name in self.dns_names]
        names += [f"IP:{address}" for address in self.ip_addresses]
        if names:
            lines.append(f"subjectAltName = {', '.join(names)}")
        return "\n".join(lines) + "\n"


CA_CONFIG: Final = """\
[req]
distinguished_name = dn
[dn]
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign, digitalSignature
subjectKeyIdentifier = hash
"""

CERTIFICATES: Final = (
    Certificate(
        "kube-apiserver",
        "kube-apiserver",
        dns_names=(
            "localhost",
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local",
        ),
        ip_addresses=(HOST, KUBERNETES_SERVICE_IP, nodenetwork.HOST_ADDRESS),
        server=True,
    ),
    # etcd's peer port uses the same pair, so it must serve and be a client.
    Certificate(
        "etcd", "etcd", dns_names=("localhost",), ip_addresses=(HOST,), server=True, client=True
    ),
    Certificate("apiserver-etcd-client", "kube-apiserver-etcd-client", client=True),
    Certificate("admin", "kubernetes-admin", organization="system:masters", client=True),
    Certificate("kube-controller-manager", "system:kube-controller-manager", client=True),
    # The API server's identity towards aggregated API servers, which trust it through the
    # extension-apiserver-authentication ConfigMap; its own CA keeps it from being a user's cert.
    Certificate("front-proxy-client", "front-proxy-client", client=True, issuer="front-proxy-ca"),
    # The API server's identity towards kubelets (logs, exec, port-forward), for a real node.
    Certificate(
        "apiserver-kubelet-client",
        "kube-apiserver-kubelet-client",
        organization="system:masters",
        client=True,
    ),
)


@dataclasses.dataclass(frozen=True)
class ControlPlane:
    """A running control plane, as recorded in its state directory."""

    etcd_pid: int
    apiserver_pid: int
    controller_manager_pid: int
    etcd_port: int
    etcd_peer_port: int
    apiserver_port: int
    controller_manager_port: int
    state_dir: Path
    data_dir: Path
    kubeconfig: Path
    bin_dir: Path
    api_host: str  # HOST, or nodenetwork.HOST_ADDRESS for a real node
    for_node: bool

    @property
    def server(self) -> str:
        """The API server's URL."""
        return f"https://{self.api_host}:{self.apiserver_port}"

    @property
    def pki(self) -> Path:
        """The CA (``ca.crt``, ``ca.key``) and the certificates of this control plane."""
        return self.data_dir / "pki"

    @property
    def pids(self) -> dict[str, int]:
        return {
            "etcd": self.etcd_pid,
            "kube-apiserver": self.apiserver_pid,
            "kube-controller-manager": self.controller_manager_pid,
        }

    @property
    def kubectl(self) -> Path:
        return self.bin_dir / "kubectl"

    @property
    def helm(self) -> Path:
        return self.bin_dir / "helm"

    @property
    def mark(self) -> Path:
        """Every server of this control plane, and nothing else, has its data dir in its flags."""
        return self.data_dir

    def log_path(self, component: str) -> Path:
        return self.data_dir / "logs" / f"{component}.log"

    def log_paths(self) -> tuple[Path, ...]:
        return tuple(self.log_path(component) for component in self.pids)

    def to_json(self) -> dict[str, object]:
        return lifecycle.state_to_json(self)

    @classmethod
    def from_json(cls, raw: Mapping[str, object]) -> ControlPlane:
        return lifecycle.state_from_json(cls, raw, STATE_FILE)


_SERVICE: Final = lifecycle.Service(
    title="the control plane",
    state_file=STATE_FILE,
    load=ControlPlane.from_json,
    error=ControlPlaneError,
    start_error=StartError,
    extra_files=(KUBECONFIG_FILE,),
    refuse_stale=True,
    log_tail_lines=LOG_TAIL_LINES,
)


def etcd_args(plane: ControlPlane, pki: Path) -> list[str]:
    client_url = f"https://{HOST}:{plane.etcd_port}"
    peer_url = f"https://{HOST}:{plane.etcd_peer_port}"
    return [
        "--name=kconnect",
        f"--data-dir={plane.data_dir / 'etcd'}",
        f"--listen-client-urls={client_url}",
        f"--advertise-client-urls={client_url}",
        f"--listen-peer-urls={peer_url}",
        f"--initial-advertise-peer-urls={peer_url}",
        f"--initial-cluster=kconnect={peer_url}",
        "--initial-cluster-state=new",
        f"--cert-file={pki / 'etcd.crt'}",
        f"--key-file={pki / 'etcd.key'}",
        f"--trusted-ca-file={pki / 'ca.crt'}",
        "--client-cert-auth=true",
        f"--peer-cert-file={pki / 'etcd.crt'}",
        f"--peer-key-file={pki / 'etcd.key'}",
        f"--peer-trusted-ca-file={pki / 'ca.crt'}",
        "--peer-client-cert-auth=true",
        "--log-level=warn",
        "--quota-backend-bytes=2147483648",
        # A dev cluster: fsync on every write would make a slow disk slow everything.
        "--unsafe-no-fsync=true",
    ]


def apiserver_args(plane: ControlPlane, pki: Path) -> list[str]:
    if plane.for_node:
        node_args = [
            # The `kubernetes` Service's endpoint is this address, which pods reach.
            "--endpoint-reconciler-type=lease",
            "--kubelet-preferred-address-types=InternalIP",
            f"--kubelet-client-certificate={pki / 'apiserver-kubelet-client.crt'}",
            f"--kubelet-client-key={pki / 'apiserver-kubelet-client.key'}",
            f"--kubelet-certificate-authority={pki / 'ca.crt'}",
            # KEP-4742 (alpha in 1.33 and 1.34, on by default from 1.35): the PodTopologyLabels
            # admission plugin copies the node's topology.kubernetes.io/zone and region labels
            # onto each pod it binds, so the downward API can read them (rack awareness).
            "--feature-gates=PodTopologyLabelsAdmission=true",
        ]
    else:
        # The `kubernetes` Service's Endpoints would hold the advertise address, and validation
        # rejects loopback addresses there, so the reconciler would fail every 10 s. The Service
        # stays, without endpoints: without a node, no pod runs to use it.
        node_args = ["--endpoint-reconciler-type=none"]
    return [
        f"--bind-address={plane.api_host}",
        f"--advertise-address={plane.api_host}",
        f"--secure-port={plane.apiserver_port}",
        f"--etcd-servers=https://{HOST}:{plane.etcd_port}",
        f"--etcd-cafile={pki / 'ca.crt'}",
        f"--etcd-certfile={pki / 'apiserver-etcd-client.crt'}",
        f"--etcd-keyfile={pki / 'apiserver-etcd-client.key'}",
        f"--client-ca-file={pki / 'ca.crt'}",
        f"--tls-cert-file={pki / 'kube-apiserver.crt'}",
        f"--tls-private-key-file={pki / 'kube-apiserver.key'}",
        f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
        f"--service-account-key-file={pki / 'sa.pub'}",
        f"--service-account-signing-key-file={pki / 'sa.key'}",
        f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
        "--authorization-mode=Node,RBAC",
        *node_args,
        "--allow-privileged=true",
        f"--requestheader-client-ca-file={pki / 'front-proxy-ca.crt'}",
        "--requestheader-allowed-names=front-proxy-client",
        "--requestheader-username-headers=X-Remote-User",
        "--requestheader-group-headers=X-Remote-Group",
        "--requestheader-extra-headers-prefix=X-Remote-Extra-",
        f"--proxy-client-cert-file={pki / 'front-proxy-client.crt'}",
        f"--proxy-client-key-file={pki / 'front-proxy-client.key'}",
        # Admission: the defaults of this release; --enable-admission-plugins is left alone.
        "--profiling=false",
        "--v=1",
    ]


def controller_manager_args(plane: ControlPlane, pki: Path, kubeconfig: Path) -> list[str]:
    return [
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        f"--bind-address={HOST}",
        f"--secure-port={plane.controller_manager_port}",
        f"--cert-dir={plane.data_dir / 'controller-manager-certs'}",
        "--controllers=*,bootstrapsigner,tokencleaner",
        "--use-service-account-credentials=true",
        f"--service-account-private-key-file={pki / 'sa.key'}",
        f"--root-ca-file={pki / 'ca.crt'}",
        # Lets CertificateSigningRequests be approved and signed.
        f"--cluster-signing-cert-file={pki / 'ca.crt'}",
        f"--cluster-signing-key-file={pki / 'ca.key'}",
        f"--cluster-name={CLUSTER_NAME}",
        "--leader-elect=false",
        "--profiling=false",
        "--v=1",
    ]


def kubeconfig_text(*, server: str, user: str, ca: bytes, cert: bytes, key: bytes) -> str:
    """A kubeconfig with one cluster, one user and one context; certificates are embedded.

    JSON is valid YAML, so no YAML writer is needed.
    """

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode("ascii")

    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": CLUSTER_NAME,
                "cluster": {"server": server, "certificate-authority-data": b64(ca)},
            }
        ],
        "users": [
            {
                "name": user,
                "user": {"client-certificate-data": b64(cert), "client-key-data": b64(key)},
            }
        ],
        "contexts": [{"name": CLUSTER_NAME, "context": {"cluster": CLUSTER_NAME, "user": user}}],
        "current-context": CLUSTER_NAME,
        "preferences": {},
    }
    return json.dumps(config, indent=2) + "\n"


# --------------------------------------------------------------------------------------------------
# Build.


def home_dir(pins: Pins | None = None) -> Path:
    return cache_root() / f"controlplane-{(pins or read_pins()).tag}"


def bin_dir(pins: Pins | None = None) -> Path:
    return home_dir(pins) / "bin"


def modules_digest(recipes: Sequence[str], modules: Sequence[str]) -> str:
    """A digest of build recipes and of the wrapper modules' ``go.mod`` and ``go.sum``."""
    digest = hashlib.sha256("".join(recipes).encode())
    for module in modules:
        for name in ("go.mod", "go.sum"):
            digest.update(f"{module}/{name}\0".encode())
            digest.update((SERVICE_DIR / module / name).read_bytes())
    return digest.hexdigest()


def _build_digest() -> str:
    return modules_digest((BUILD_RECIPE,), ("kubernetes", "etcd", "helm"))


def built() -> Path | None:
    """The bin directory if a complete build of the current pins is in the cache, else None."""
    with contextlib.suppress(OSError, ControlPlaneError):
        pins = read_pins()
        bins = bin_dir(pins)
        if builds.is_complete(bins, home_dir(pins) / "built", _build_digest(), BINARIES):
            return bins
    return None


def build(progress: Callable[[str], None] | None = None) -> Path:
    """The binaries in the cache, compiled on first use; returns the bin directory.

    Instant once done. A failed or interrupted build leaves no marker, so the next call builds
    again, incrementally thanks to Go's build cache. ``progress`` gets one line per binary.
    """
    done = built()
    if done is not None:
        return done
    pins = read_pins()
    return produce_binaries(
        bin_dir(pins),
        home_dir(pins),
        build_plan(pins),
        digest=_build_digest,  # of the modules Go reads, even if they are edited meanwhile
        done=lambda: built() is not None,
        progress=progress,
    )


def produce_binaries(
    output: Path,
    home: Path,
    targets: Sequence[Target],
    *,
    digest: Callable[[], str],
    done: Callable[[], bool],
    progress: Callable[[str], None] | None,
) -> Path:
    """``targets`` built into ``output`` with the contract of :func:`builds.produce` (marker
    ``home/built``), their compiler output appended to ``home/build.log``."""

    def write(partial: Path) -> None:
        with (home / "build.log").open("a", encoding="utf-8") as log:
            go_build_all(targets, partial, log, progress)

    return builds.produce(output, home / "built", digest=digest, done=done, write=write)


def cached_binaries(home: Path, digest: Callable[[], str], names: Sequence[str]) -> Path | None:
    """``home/bin`` if it holds a complete build of ``names`` whose inputs are ``digest()``
    (marker ``home/built``), else None."""
    with contextlib.suppress(OSError, lifecycle.ServiceError):
        if builds.is_complete(home / "bin", home / "built", digest(), names):
            return home / "bin"
    return None


def build_binaries_once(
    home: Path, targets: Sequence[Target], digest: Callable[[], str], names: Sequence[str]
) -> Path:
    """``targets`` built into ``home/bin`` unless a complete build of the same inputs is there;
    returns the directory (see :func:`produce_binaries`)."""
    done = cached_binaries(home, digest, names)
    if done is not None:
        return done
    return produce_binaries(
        home / "bin",
        home,
        targets,
        digest=digest,
        done=lambda: cached_binaries(home, digest, names) is not None,
        progress=None,
    )


def go_build_all(
    targets: Sequence[Target],
    output_dir: Path,
    log: TextIO,
    progress: Callable[[str], None] | None = None,
) -> None:
    """Build ``targets`` in order into ``output_dir/<name>`` with the project's Go environment,
    each one's time in ``log`` and, if given, said to ``progress``."""
    go = find_go()
    env = go_environment(os.environ, cache_root())
    for target in targets:
        began = time.monotonic()
        go_build(go, target, output_dir / target.name, env, log)
        elapsed = time.monotonic() - began
        log.write(f"# built {target.name} in {elapsed:.0f}s\n")
        log.flush()
        if progress is not None:
            progress(f"built {target.name} in {elapsed:.0f}s")


def go_build(go: str, target: Target, output: Path, env: Mapping[str, str], log: TextIO) -> None:
    command = [go, *go_command(target, output)]
    module_dir = SERVICE_DIR / target.module_dir
    log.write(f"# cd {module_dir} && {' '.join(command)}\n")
    log.flush()
    result = processes.run_tool(
        command,
        what=f"building {target.name}",
        timeout=BUILD_TIMEOUT_S,
        error=BuildError,
        cwd=module_dir,
        env=env,
    )
    log.write(result.stdout + result.stderr)
    log.flush()
    if result.returncode != 0 or not output.is_file():
        output_tail = processes.tail_text(result.stdout + result.stderr, LOG_TAIL_LINES)
        raise BuildError(
            f"go build of {target.package} (for {target.name}) exited with {result.returncode} "
            f"in {module_dir}:\n{output_tail}"
        )


def find_go() -> str:
    found = shutil.which("go") or next(
        (str(p) for p in (Path("/usr/local/go/bin/go"),) if p.is_file()), None
    )
    if found is None:
        raise BuildError("'go' is not on PATH; the control plane is built with Go (see go.mod)")
    return found


# --------------------------------------------------------------------------------------------------
# Start, stop, inspect.


def running(state_dir: Path | None = None) -> ControlPlane | None:
    """The control plane recorded in ``state_dir`` if all its processes still run, else None."""
    return _SERVICE.running(state_dir or default_state_dir())


def start(
    state_dir: Path | None = None,
    *,
    ready_timeout: float = READY_TIMEOUT_S,
    die_with_parent: bool = False,
    for_node: bool = False,
) -> ControlPlane:
    """Start a control plane for ``state_dir``, or return the one already running there.

    ``for_node`` starts it the way a real node (:mod:`kconnect_devenv.node`) needs it: serving on
    :data:`kconnect_devenv.nodenetwork.HOST_ADDRESS` (added to ``lo``; needs root), with the
    ``kubernetes`` Service's endpoint and kubelet client certificates. A running control plane is
    returned as it is: the caller checks its ``for_node``.

    With ``die_with_parent`` (Linux), each server gets SIGTERM when the calling thread dies, so a
    test session killed outright leaves nothing behind; the calling thread must outlive them.
    A recorded control plane of which a server exited (it crashed, or the machine rebooted) is an
    error, not restarted, since starting afresh would drop its data: ``stop`` it first.

    After a failed start the data directory stays for inspection until the next start or stop.
    """
    return _SERVICE.start(
        state_dir or default_state_dir(),
        functools.partial(_prepare, for_node),
        _launch,
        ready_timeout=ready_timeout,
        die_with_parent=die_with_parent,
    )


def stop(state_dir: Path | None = None, *, grace: float = STOP_GRACE_S) -> None:
    """Stop the control plane of ``state_dir`` (SIGTERM, then SIGKILL after ``grace`` s).

    Deletes its data too. Does nothing when none runs there, and removes leftovers of a crashed one.
    Dependents stop first: the controller manager, then the API server, then etcd.
    """
    state_dir = state_dir or default_state_dir()
    recorded = _SERVICE.read_state(state_dir.resolve()) if state_dir.is_dir() else None
    _SERVICE.stop(state_dir, grace=grace)
    if recorded is not None and recorded.for_node:
        nodenetwork.remove_host_address_if_unused()


def is_ready(plane: ControlPlane) -> bool:
    """Whether the API server answers ``/readyz`` with ok."""
    try:
        return _api_get(plane, "/readyz") == b"ok"
    except (OSError, ssl.SSLError, urllib.error.URLError):
        return False


def openssl_command() -> str:
    openssl = shutil.which("openssl")
    if openssl is None:
        raise StartError("'openssl' is not on PATH; it generates the control plane's certificates")
    return openssl


def _prepare(for_node: bool) -> tuple[Path, str, bool]:
    """The binaries, built if need be, the ``openssl`` command, and whether it is for a node."""
    bins = build()
    openssl = openssl_command()
    if for_node:
        try:
            nodenetwork.add_host_address()
        except nodenetwork.NetworkError as exc:
            raise StartError(
                f"cannot add {nodenetwork.HOST_ADDRESS}/32 to lo for a node (root is needed): {exc}"
            ) from exc
    return bins, openssl, for_node


def _launch(prepared: tuple[Path, str, bool], attempt: lifecycle.Launch) -> ControlPlane:
    bins, openssl, for_node = prepared
    data_dir = attempt.data_dir
    pki = data_dir / "pki"
    (data_dir / "logs").mkdir()
    pki.mkdir(mode=0o700)
    etcd_port, etcd_peer_port, apiserver_port, controller_manager_port = processes.free_ports(4)
    plane = ControlPlane(
        etcd_pid=0,
        apiserver_pid=0,
        controller_manager_pid=0,
        etcd_port=etcd_port,
        etcd_peer_port=etcd_peer_port,
        apiserver_port=apiserver_port,
        controller_manager_port=controller_manager_port,
        state_dir=attempt.state_dir,
        data_dir=data_dir,
        kubeconfig=attempt.state_dir / KUBECONFIG_FILE,
        bin_dir=bins,
        api_host=nodenetwork.HOST_ADDRESS if for_node else HOST,
        for_node=for_node,
    )
    _issue_certificates(openssl, pki)
    controller_manager_kubeconfig = data_dir / "kube-controller-manager.kubeconfig"
    _write_kubeconfig(plane, pki, "kube-controller-manager", controller_manager_kubeconfig)

    def spawn(component: str, args: Sequence[str]) -> int:
        command = [str(plane.bin_dir / component), *args]
        return attempt.spawn(component, command, plane.log_path(component), plane.data_dir)

    def wait_for(what: str, check: Callable[[], bool]) -> None:
        attempt.wait_for(
            plane,
            check,
            during=f"while waiting for {what}",
            timed_out=f"timed out waiting for {what}; the control plane was stopped",
        )

    plane = dataclasses.replace(plane, etcd_pid=spawn("etcd", etcd_args(plane, pki)))
    wait_for("etcd to serve", lambda: _etcd_healthy(plane, pki))
    plane = dataclasses.replace(
        plane, apiserver_pid=spawn("kube-apiserver", apiserver_args(plane, pki))
    )
    _write_kubeconfig(plane, pki, "admin", plane.kubeconfig)
    wait_for("kube-apiserver's /readyz", lambda: is_ready(plane))
    manager_args = controller_manager_args(plane, pki, controller_manager_kubeconfig)
    plane = dataclasses.replace(
        plane, controller_manager_pid=spawn("kube-controller-manager", manager_args)
    )
    for what, path in (
        ("the default namespace", "/api/v1/namespaces/default"),
        ("the default service account", "/api/v1/namespaces/default/serviceaccounts/default"),
        (
            "the kube-root-ca.crt ConfigMap",
            "/api/v1/namespaces/default/configmaps/kube-root-ca.crt",
        ),
    ):
        wait_for(what, functools.partial(_api_exists, plane, path))
    return plane


def _issue_certificates(openssl: str, pki: Path) -> None:
    """The CAs, the certificates of :data:`CERTIFICATES` and the service-account key pair."""
    (pki / "ca.cnf").write_text(CA_CONFIG, "ascii")
    for ca, name in (
        ("ca", "kconnect-controlplane-ca"),
        ("front-proxy-ca", "kconnect-front-proxy-ca"),
    ):
        _openssl(
            openssl, pki, "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", f"{ca}.key"
        )
        _openssl(
            openssl, pki, "req", "-x509", "-new", "-key", f"{ca}.key", "-sha256",
            "-days", str(CERT_DAYS), "-subj", f"/CN={name}",
            "-config", "ca.cnf", "-extensions", "ca", "-out", f"{ca}.crt",
        )  # fmt: skip
    for cert in CERTIFICATES:
        issue_certificate(openssl, cert, ca_dir=pki, out_dir=pki)
    _openssl(openssl, pki, "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "sa.key")
    _openssl(openssl, pki, "ec", "-in", "sa.key", "-pubout", "-out", "sa.pub")
    for path in pki.glob("*.key"):
        path.chmod(0o600)


def issue_certificate(openssl: str, cert: Certificate, *, ca_dir: Path, out_dir: Path) -> None:
    """``<stem>.key`` and ``<stem>.crt`` in ``out_dir``, signed by ``ca_dir/<issuer>.{crt,key}``."""
    key, csr, crt, ext = (f"{cert.stem}.{suffix}" for suffix in ("key", "csr", "crt", "ext"))
    (out_dir / ext).write_text(cert.extensions(), "ascii")
    (out_dir / "req.cnf").write_text(CA_CONFIG, "ascii")
    ca_crt, ca_key = (str(ca_dir / f"{cert.issuer}.{suffix}") for suffix in ("crt", "key"))
    _openssl(openssl, out_dir, "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key)
    _openssl(
        openssl, out_dir, "req", "-new", "-key", key, "-subj", cert.subject(),
        "-config", "req.cnf", "-out", csr,
    )  # fmt: skip
    _openssl(
        openssl, out_dir, "x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key,
        "-set_serial", str(int.from_bytes(os.urandom(16), "big") >> 1), "-sha256",
        "-days", str(CERT_DAYS), "-extfile", ext, "-extensions", "leaf", "-out", crt,
    )  # fmt: skip
    (out_dir / key).chmod(0o600)


def _openssl(openssl: str, cwd: Path, *args: str) -> None:
    result = processes.run_tool(
        [openssl, *args],
        what=f"openssl {args[0]}",
        timeout=OPENSSL_TIMEOUT_S,
        error=StartError,
        cwd=cwd,
    )
    if result.returncode != 0:
        raise StartError(
            f"openssl {' '.join(args)} exited with {result.returncode} in {cwd}:\n"
            f"{processes.tail_text(result.stdout + result.stderr, LOG_TAIL_LINES)}"
        )


def _write_kubeconfig(plane: ControlPlane, pki: Path, stem: str, path: Path) -> None:
    write_kubeconfig(plane, pki, stem, path)


def write_kubeconfig(plane: ControlPlane, cert_dir: Path, stem: str, path: Path) -> None:
    """A kubeconfig at ``path`` for ``plane`` as ``cert_dir/<stem>.{crt,key}``, owner-only."""
    user = "admin" if stem == "admin" else stem
    text = kubeconfig_text(
        server=plane.server,
        user=user,
        ca=(plane.pki / "ca.crt").read_bytes(),
        cert=(cert_dir / f"{stem}.crt").read_bytes(),
        key=(cert_dir / f"{stem}.key").read_bytes(),
    )
    # The kubeconfig holds a client key: readable by its owner only.
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    temporary.replace(path)


def _client_context(ca: Path, cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(ca))
    context.load_cert_chain(str(cert), str(key))
    return context


def _etcd_healthy(plane: ControlPlane, pki: Path) -> bool:
    context = _client_context(
        pki / "ca.crt", pki / "apiserver-etcd-client.crt", pki / "apiserver-etcd-client.key"
    )
    url = f"https://{HOST}:{plane.etcd_port}/health"
    try:
        with urllib.request.urlopen(url, context=context, timeout=PROBE_TIMEOUT_S) as response:
            body = json.loads(response.read())
    except (OSError, ssl.SSLError, urllib.error.URLError, ValueError):
        return False
    return isinstance(body, dict) and body.get("health") == "true"


def api_get(plane: ControlPlane, path: str) -> bytes:
    """The body of a GET of ``path`` on the API server, as the admin."""
    return _api_get(plane, path)


def _api_get(plane: ControlPlane, path: str) -> bytes:
    pki = plane.data_dir / "pki"
    context = _client_context(pki / "ca.crt", pki / "admin.crt", pki / "admin.key")
    url = plane.server + path  # always https://127.0.0.1:<port>/...
    with urllib.request.urlopen(url, context=context, timeout=PROBE_TIMEOUT_S) as response:  # noqa: S310
        body: bytes = response.read()
    return body


def _api_exists(plane: ControlPlane, path: str) -> bool:
    try:
        _api_get(plane, path)
    except (OSError, ssl.SSLError, urllib.error.URLError):
        return False
    return True


# --------------------------------------------------------------------------------------------------
# Command line: python -m kconnect_devenv.controlplane {fetch,up,down,status}


def main(argv: Sequence[str] | None = None) -> int:
    return lifecycle.run_cli(
        argv,
        prog="python -m kconnect_devenv.controlplane",
        description="Build, start and stop the local Kubernetes control plane for development.",
        default_state_dir=default_state_dir,
        state_dir_help="where the control plane's state and data live "
        "(default: $KCONNECT_CACHE/run/controlplane)",
        commands={"fetch": _cli_fetch, "up": _cli_up, "down": _cli_down, "status": _cli_status},
        commands_help="fetch: build the binaries once into the cache; up: start (idempotent) and "
        "print KUBECONFIG=... last; down: stop and delete the data; status: say what runs",
    )


def _cli_fetch(_state_dir: Path | None = None) -> int:
    bins = built()
    if bins is None:
        pins = read_pins()
        print(
            f"Building Kubernetes {pins.kubernetes}, etcd {pins.etcd} and helm {pins.helm} with "
            f"Go into {bin_dir(pins)} (a cold build takes long; log: "
            f"{home_dir(pins) / 'build.log'}) ...",
            flush=True,
        )
        began = time.monotonic()
        bins = build(progress=lambda line: print(f"  {line}", flush=True))
        print(f"Built in {time.monotonic() - began:.0f}s.")
    print(f"Control plane binaries: {bins}")
    return 0


def _cli_up(state_dir: Path) -> int:
    plane = running(state_dir)
    if plane is not None:
        print(f"The control plane is already running ({plane.server}, data {plane.data_dir}).")
    else:
        if built() is None:
            _cli_fetch(state_dir)
        print("Starting etcd, kube-apiserver and kube-controller-manager ...", flush=True)
        began = time.monotonic()
        plane = start(state_dir)
        print(f"The control plane started in {time.monotonic() - began:.1f}s ({plane.server}).")
        print(f"Data and logs: {plane.data_dir}")
    print(f"kubectl and helm: {plane.bin_dir}")
    print(f"KUBECONFIG={plane.kubeconfig}")
    return 0


def _cli_down(state_dir: Path) -> int:
    plane = _SERVICE.read_state(state_dir.resolve()) if state_dir.is_dir() else None
    stop(state_dir)
    print("The control plane stopped; its data is deleted." if plane else "No control plane ran.")
    return 0


def _cli_status(state_dir: Path) -> int:
    plane = _SERVICE.read_state(state_dir.resolve()) if state_dir.is_dir() else None
    if plane is None:
        print("The control plane is not running.")
        return 1
    healthy = lifecycle.print_servers(plane)
    ready = is_ready(plane)
    print(f"kube-apiserver {plane.server}: {'ready' if ready else 'NOT ready'}")
    print(f"KUBECONFIG={plane.kubeconfig}")
    return 0 if healthy and ready else 1


if __name__ == "__main__":
    sys.exit(main())
