"""kind and a kind node image, built here from the real node's parts: ``make kind-up`` offline.

No image registry is reachable, so neither ``kindest/node`` nor the images kubeadm and kind's
add-ons pull can be had. Everything is built locally instead, once, into ``$KCONNECT_CACHE``:

- **Go binaries** (:func:`binaries`): ``kind`` (``sigs.k8s.io/kind``, wrapper module
  ``controlplane/kind``), ``kubeadm`` (``k8s.io/kubernetes/cmd/kubeadm`` at the control plane's
  version and stamp, wrapper module ``controlplane/kubeadm``) and ``local-path-provisioner``
  (``github.com/rancher/local-path-provisioner``, kind's default StorageClass, wrapper module
  ``controlplane/localpath``), with the control plane's Go environment and caches, into
  ``$KCONNECT_CACHE/kind-<kind version>-k8s<version>/bin``: complete or absent
  (:mod:`kconnect_devenv.builds`), keyed by the wrapper modules.
- **The node image** (:func:`node_image`), laid out as kind's own ``images/base`` and
  ``pkg/build/nodeimage`` lay it out, read from the kind module in Go's module cache (the
  entrypoint, the systemd units, ``/kind/version``, ``/kind/manifests``): on a ``debootstrap`` of
  bookworm with systemd, containerd, runc and the CNI plugins from Debian
  (:data:`NODE_BASE`), with the control plane's and the node's binaries
  (:mod:`kconnect_devenv.controlplane`, :mod:`kconnect_devenv.nodebuild`) and ``kubeadm``.
  Differences from kind's, each for this machine: containerd is Debian's (``/usr/bin``, config
  version 2, CNI plugins in ``/usr/lib/cni``) with ``restrict_oom_score_adj`` and no negative
  ``OOMScoreAdjust`` (root lacks ``CAP_SYS_RESOURCE``); the container images kubeadm and the
  add-ons run are archives in ``/kind/images``, imported by the unit ``kconnect-images.service``
  before the kubelet starts (kind imports them at build time with a containerd in a build
  container); the network is a static bridge CNI configuration for the one node's pod range
  instead of kindnetd, so ``/kind/manifests/default-cni.yaml`` holds the cluster DNS of
  :mod:`kconnect_devenv.clusterdns` (CoreDNS without ``forward``: nothing is resolved off the
  machine; kubeadm's own CoreDNS add-on is skipped by the cluster configuration); the
  StorageClass is kind's own ``default-storage.yaml`` with the images built here.
- **Images in the node** (:func:`node_images`): kube-apiserver, kube-controller-manager,
  kube-scheduler and etcd as one-binary OCI archives (:mod:`kconnect_devenv.ociimage`), named as
  kubeadm names them (etcd with its own version, set by the cluster configuration); kube-proxy
  on a Debian base with iptables (:data:`TOOLS_BASE`, legacy iptables, as the node's entrypoint
  picks on a fresh network namespace), which is also local-path-provisioner's helper image
  (it needs a shell); the pause and CoreDNS images of the real node.
- **A Kafka image** (:func:`kafka_image`) for ``e2e/kind/kafka.yaml``: the broker's jars from the
  cache (:mod:`kconnect_devenv.kafka`) on Debian's Java 17 (:data:`KAFKA_BASE`), run by a script
  that reads ``KAFKA_*`` variables as ``apache/kafka``'s image does, logging to standard output.
  The cache holds the broker's jars only, so the image has none of Kafka's command-line tools.

Images are tagged with a digest of everything they are made of, so an unchanged input is never
rebuilt and a changed one always is. Failures raise :class:`KindBuildError` naming the step and
the tail of its output.

Stdlib only, like the services.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Final

from kconnect_devenv import (
    baseimage,
    builds,
    clusterdns,
    controlplane,
    images,
    kafka,
    nodebuild,
    ociimage,
)
from kconnect_devenv.engine import Engine
from kconnect_devenv.lifecycle import ServiceError, cache_root

SERVICE_DIR: Final = controlplane.SERVICE_DIR
BUILD_RECIPE: Final = "1"
Progress = Callable[[str], None] | None

NODE_REPOSITORY: Final = "kconnect.local/kind-node"
KAFKA_REPOSITORY: Final = "kconnect.local/kafka"
LOCAL_PATH_REPOSITORY: Final = "kconnect.local/local-path-provisioner"
KUBERNETES_REGISTRY: Final = "registry.k8s.io"
# kind's defaults: the service range's tenth address is the kubelet's clusterDNS; one node gets the
# first /24 of the pod range.
KIND_DNS_SERVICE_IP: Final = "10.96.0.10"
KIND_NODE_POD_CIDR: Final = "10.244.0.0/24"
CNI_BRIDGE: Final = "kind-pods"

NODE_BASE: Final = baseimage.Base(
    "kind-node",
    "kconnect-kind-node-base",
    (
        "systemd", "systemd-sysv", "containerd", "runc", "containernetworking-plugins",
        "iptables", "nftables", "conntrack", "iproute2", "ethtool", "kmod", "libseccomp2",
        "ca-certificates", "procps",
    ),
)  # fmt: skip
TOOLS_BASE: Final = baseimage.Base(
    "kube-proxy", "kconnect-kube-proxy-base", ("iptables", "nftables", "conntrack", "kmod")
)
KAFKA_BASE: Final = baseimage.Base(
    "kafka", "kconnect-kafka-base", ("openjdk-17-jre-headless", "ca-certificates", "netbase")
)
IMAGE_PATH: Final = baseimage.IMAGE_PATH

DOCKER_TIMEOUT_S: Final = 900.0


class KindBuildError(ServiceError):
    """kind, kubeadm or an image could not be built; the message says which and why."""


# --------------------------------------------------------------------------------------------------
# Pins and paths.


@dataclasses.dataclass(frozen=True)
class KindPins:
    kind: str  # e.g. "v0.33.0"
    kubernetes: str  # e.g. "v1.34.10"
    etcd: str  # e.g. "v3.6.16"
    local_path: str  # e.g. "v0.0.30"

    @property
    def tag(self) -> str:
        return f"kind{self.kind[1:]}-k8s{self.kubernetes[1:]}"


def _required(directory: str, module: str) -> str:
    path = SERVICE_DIR / directory / "go.mod"
    version = controlplane.module_version(path.read_text("utf-8"), module)
    if version is None:
        raise KindBuildError(f"{path}: no requirement on {module}; expected e.g. v1.2.3")
    return version


def read_pins() -> KindPins:
    plane = controlplane.read_pins()
    kubeadm = _required("kubeadm", "k8s.io/kubernetes")
    if kubeadm != plane.kubernetes:
        raise KindBuildError(
            f"controlplane/kubeadm pins k8s.io/kubernetes {kubeadm}, the control plane "
            f"{plane.kubernetes}; they must be the same release"
        )
    return KindPins(
        kind=_required("kind", "sigs.k8s.io/kind"),
        kubernetes=plane.kubernetes,
        etcd=plane.etcd,
        local_path=_required("localpath", "github.com/rancher/local-path-provisioner"),
    )


def home_dir(pins: KindPins | None = None) -> Path:
    return cache_root() / f"kind-{(pins or read_pins()).tag}"


def kind_source(pins: KindPins | None = None) -> Path:
    """kind's module in Go's module cache (there once :func:`binaries` has built kind)."""
    return cache_root() / "go" / "mod" / f"sigs.k8s.io/kind@{(pins or read_pins()).kind}"


BINARIES: Final = ("kind", "kubeadm", "local-path-provisioner")


def targets() -> tuple[controlplane.Target, ...]:
    plan = {target.name: target for target in controlplane.build_plan(controlplane.read_pins())}
    return (
        controlplane.Target("kind", "kind", "sigs.k8s.io/kind", ()),
        controlplane.Target(
            "kubeadm", "kubeadm", "k8s.io/kubernetes/cmd/kubeadm", plan["kube-apiserver"].ldflags
        ),
        controlplane.Target(
            "local-path-provisioner", "localpath", "github.com/rancher/local-path-provisioner", ()
        ),
    )


def _binaries_digest() -> str:
    return controlplane.modules_digest(
        (BUILD_RECIPE, controlplane.BUILD_RECIPE), ("kind", "kubeadm", "localpath")
    )


def built_binaries() -> Path | None:
    """The bin directory if a complete build of the current pins is cached, else None."""
    with contextlib.suppress(OSError, ServiceError):
        pins = read_pins()
        bins = home_dir(pins) / "bin"
        if builds.is_complete(bins, home_dir(pins) / "built", _binaries_digest(), BINARIES):
            return bins
    return None


def binaries(progress: Progress = None) -> Path:
    """kind, kubeadm and local-path-provisioner, built on first use; returns their directory."""
    done = built_binaries()
    if done is not None:
        return done
    home = home_dir(read_pins())
    return controlplane.produce_binaries(
        home / "bin",
        home,
        targets(),
        digest=_binaries_digest,
        done=lambda: built_binaries() is not None,
        progress=progress,
    )


# --------------------------------------------------------------------------------------------------
# Pure parts: the node's configuration files.


def containerd_config(pause_image: str) -> str:
    """kind's ``/etc/containerd/config.toml`` for Debian's containerd 1.6, without the rootless
    snapshotter and the base runtime spec (both need binaries kind builds), with the CNI plugins
    where Debian puts them and no OOM score below containerd's own."""
    return f"""\
# The kind node's containerd (kconnect_devenv/kindbuild.py): kind's settings, Debian's containerd.
version = 2

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{pause_image}"
  tolerate_missing_hugepages_controller = true
  # Root here lacks CAP_SYS_RESOURCE: never ask for an OOM score below containerd's own (0).
  restrict_oom_score_adj = true

[plugins."io.containerd.grpc.v1.cri".containerd]
  discard_unpacked_layers = true
  snapshotter = "overlayfs"
  default_runtime_name = "runc"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
    SystemdCgroup = true

[plugins."io.containerd.grpc.v1.cri".cni]
  bin_dir = "/usr/lib/cni"
  conf_dir = "/etc/cni/net.d"
"""


CONTAINERD_SERVICE: Final = """\
# kind's containerd unit for Debian's containerd, with no negative OOMScoreAdjust: root here lacks
# CAP_SYS_RESOURCE, which lowering it needs.
[Unit]
Description=containerd container runtime
Documentation=https://containerd.io
After=network.target local-fs.target
StartLimitIntervalSec=0

[Service]
ExecStartPre=-/sbin/modprobe overlay
ExecStart=/usr/bin/containerd
Type=notify
Delegate=yes
KillMode=process
Restart=always
RestartSec=1
LimitNPROC=infinity
LimitCORE=infinity
LimitNOFILE=infinity
TasksMax=infinity
OOMScoreAdjust=0

[Install]
WantedBy=multi-user.target
"""

IMAGES_SERVICE: Final = """\
# The images kubeadm and the add-ons run, imported from /kind/images before the kubelet starts:
# there is no registry to pull them from.
[Unit]
Description=Import the node's container images from /kind/images
After=containerd.service
Requires=containerd.service
Before=kubelet.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -euc 'for image in /kind/images/*.tar; do \\
  ctr --namespace=k8s.io images import --all-platforms "$image"; done'

[Install]
WantedBy=multi-user.target
"""

KUBELET_AFTER_IMAGES: Final = """\
[Unit]
After=kconnect-images.service
Wants=kconnect-images.service
"""


def cni_config(pod_cidr: str = KIND_NODE_POD_CIDR) -> str:
    """The one node's pod network: a bridge in the node's network namespace, host-local addresses
    from its pod range, masquerading out of the node (the host's guard rules stop it there)."""
    return json.dumps(
        {
            "cniVersion": "0.4.0",
            "name": "kind-pods",
            "plugins": [
                {
                    "type": "bridge",
                    "bridge": CNI_BRIDGE,
                    "isGateway": True,
                    "ipMasq": True,
                    "hairpinMode": True,
                    "ipam": {
                        "type": "host-local",
                        "ranges": [[{"subnet": pod_cidr}]],
                        "routes": [{"dst": "0.0.0.0/0"}],
                    },
                },
                {"type": "portmap", "capabilities": {"portMappings": True}},
            ],
        },
        indent=2,
    )


def yaml_documents(objects: Iterable[Mapping[str, object]]) -> str:
    """JSON objects as one multi-document YAML stream (JSON is YAML)."""
    return "".join(f"---\n{json.dumps(obj, indent=2)}\n" for obj in objects)


def default_cni_manifest(coredns_image: str) -> str:
    """``/kind/manifests/default-cni.yaml``, which kind applies where it would install kindnetd:
    the pod network is static here, so it holds the cluster DNS."""
    return (
        "# The kind node of kconnect_devenv/kindbuild.py: the pod network is a static bridge\n"
        "# configuration (/etc/cni/net.d), so this holds the cluster DNS, not kindnetd.\n"
        + yaml_documents(clusterdns.manifests(coredns_image, KIND_DNS_SERVICE_IP))
    )


def go_const_string(source: str, name: str, values: Mapping[str, str]) -> str:
    """The value of Go's ``const NAME = `...` + ident + `...``` in ``source``, each identifier
    replaced by ``values[ident]``."""
    match = re.search(rf"^const {re.escape(name)} = ", source, re.M)
    if match is None:
        raise KindBuildError(f"no const {name} in kind's source")
    token = re.compile(r"\s*(?:`([^`]*)`|([A-Za-z_]\w*))")
    out = []
    position = match.end()
    while (part := token.match(source, position)) is not None:
        raw, ident = part.groups()
        if ident:
            if ident not in values:
                raise KindBuildError(f"kind's {name} names {ident}, which is not known here")
            out.append(values[ident])
        else:
            out.append(raw)
        plus = re.compile(r"[ \t]*\+").match(source, part.end())
        if plus is None:
            break
        position = plus.end()
    return "".join(out)


def default_storage_manifest(kind_src: Path, provisioner_image: str, helper_image: str) -> str:
    """kind's own ``default-storage.yaml`` (local-path-provisioner as the default StorageClass)
    with the images built here."""
    source = (kind_src / "pkg" / "build" / "nodeimage" / "const_storage.go").read_text("utf-8")
    manifest = go_const_string(
        source,
        "defaultStorageManifest",
        {"storageProvisionerImage": provisioner_image, "storageHelperImage": helper_image},
    )
    # Never pulled: the images are imported into the node.
    return manifest.replace("imagePullPolicy: IfNotPresent", "imagePullPolicy: Never")


# --------------------------------------------------------------------------------------------------
# Images.


@dataclasses.dataclass(frozen=True)
class NodeImages:
    """The archives imported into the node, and the names the cluster configuration needs."""

    archives: tuple[Path, ...]
    pause: str
    coredns: str
    kube_proxy: str
    local_path: str
    etcd_tag: str  # kubeadm's etcd imageTag, e.g. "3.6.16-0"


def _digest_of(*parts: bytes | str | Path) -> str:
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, Path):
            with part.open("rb") as handle:
                for chunk in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(chunk)
        else:
            digest.update(part.encode() if isinstance(part, str) else part)
        digest.update(b"\0")
    return digest.hexdigest()


def import_base(
    engine: Engine, base: baseimage.Base, changes: Iterable[str], progress: Progress
) -> str:
    """``base``'s rootfs (made once by debootstrap) imported into ``engine`` with ``changes``."""
    changes = tuple(changes)
    tag = f"{base.repository}:{_digest_of(base.digest(), *changes)[:12]}"
    if baseimage.has_image(engine, tag):
        return tag
    tarball = baseimage.build(base, progress)
    engine.docker(
        "image",
        "import",
        *(arg for change in changes for arg in ("--change", change)),
        str(tarball),
        tag,
        timeout=DOCKER_TIMEOUT_S,
    )
    return tag


def _docker_build(
    engine: Engine, name: str, context: Path, tag: str, files: Mapping[str, bytes]
) -> None:
    for relative, content in files.items():
        path = context / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    images.docker_build(engine, name, ["--network=none", f"--tag={tag}", str(context)], None)


def kube_proxy_image(engine: Engine, kube_proxy: Path, kubernetes: str, progress: Progress) -> str:
    """``registry.k8s.io/kube-proxy:<version>``: kube-proxy on Debian with iptables (legacy)."""
    tag = f"{KUBERNETES_REGISTRY}/kube-proxy:{kubernetes}"
    base = import_base(engine, TOOLS_BASE, (f"ENV PATH={IMAGE_PATH}",), progress)
    dockerfile = (
        f"FROM {base}\n"
        "COPY kube-proxy /usr/local/bin/kube-proxy\n"
        "RUN update-alternatives --set iptables /usr/sbin/iptables-legacy"
        " && update-alternatives --set ip6tables /usr/sbin/ip6tables-legacy\n"
    )
    label = _digest_of(dockerfile, kube_proxy)[:12]
    if _has_label(engine, tag, label):
        return tag
    with tempfile.TemporaryDirectory(dir=cache_root()) as context:
        shutil.copy2(kube_proxy, Path(context) / "kube-proxy")
        dockerfile += f"LABEL io.kconnect.inputs={label}\n"
        _docker_build(engine, "kube-proxy", Path(context), tag, {"Dockerfile": dockerfile.encode()})
    return tag


def _has_label(engine: Engine, tag: str, label: str) -> bool:
    if not baseimage.has_image(engine, tag):
        return False
    found = engine.docker(
        "image", "inspect", "--format", '{{index .Config.Labels "io.kconnect.inputs"}}', tag,
        timeout=60.0,
    )  # fmt: skip
    return found.strip() == label


def node_images(engine: Engine, work: Path, progress: Progress = None) -> NodeImages:
    """Write the archives of every image the node runs into ``work``."""
    pins = read_pins()
    plane = controlplane.build(progress)
    node = nodebuild.build(progress)
    bins = binaries(progress)
    etcd_tag = f"{pins.etcd[1:]}-0"
    archives = []

    def one_binary(name: str, binary: Path, reference: str) -> None:
        path = work / f"{name}.tar"
        ociimage.write_archive(
            ociimage.Image(
                reference=reference,
                files=(ociimage.File(f"/usr/local/bin/{binary.name}", binary.read_bytes()),),
                entrypoint=(f"/usr/local/bin/{binary.name}",),
            ),
            path,
        )
        archives.append(path)

    for name in ("kube-apiserver", "kube-controller-manager"):
        one_binary(name, plane / name, f"{KUBERNETES_REGISTRY}/{name}:{pins.kubernetes}")
    one_binary(
        "kube-scheduler",
        node.bin_dir / "kube-scheduler",
        f"{KUBERNETES_REGISTRY}/kube-scheduler:{pins.kubernetes}",
    )
    one_binary("etcd", plane / "etcd", f"{KUBERNETES_REGISTRY}/etcd:{etcd_tag}")
    local_path = f"{LOCAL_PATH_REPOSITORY}:{pins.local_path}"
    one_binary("local-path-provisioner", bins / "local-path-provisioner", local_path)
    for archive in node.images:
        copy = work / archive.name
        shutil.copy2(archive, copy)
        archives.append(copy)
    kube_proxy = kube_proxy_image(engine, node.bin_dir / "kube-proxy", pins.kubernetes, progress)
    saved = images.archive(engine, kube_proxy)
    shutil.copy2(saved, work / "kube-proxy.tar")
    archives.append(work / "kube-proxy.tar")
    return NodeImages(
        archives=tuple(archives),
        pause=node.pause_image,
        coredns=node.coredns_image,
        kube_proxy=kube_proxy,
        local_path=local_path,
        etcd_tag=etcd_tag,
    )


NODE_CHANGES: Final = (
    f"ENV PATH={IMAGE_PATH}",
    "ENV container=docker",
    'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]',
)

# kind's images/base/Dockerfile, for what a COPY cannot do.
NODE_DOCKERFILE_STEPS: Final = """\
STOPSIGNAL SIGRTMIN+3
COPY files/ /
RUN chmod 755 /kind /kind/bin /kind/bin/* /usr/local/bin/entrypoint /usr/bin/kubeadm \\
      /usr/bin/kubelet /usr/bin/kubectl \\
    && rm -f /lib/systemd/system/sysinit.target.wants/systemd-tmpfiles-setup.service \\
    && rm -f /lib/systemd/system/multi-user.target.wants/* \\
    && rm -f /etc/systemd/system/*.wants/* \\
    && rm -f /lib/systemd/system/local-fs.target.wants/* \\
    && rm -f /lib/systemd/system/sockets.target.wants/*udev* \\
    && rm -f /lib/systemd/system/sockets.target.wants/*initctl* \\
    && rm -f /lib/systemd/system/basic.target.wants/* \\
    && echo "ReadKMsg=no" >> /etc/systemd/journald.conf \\
    && systemctl enable kubelet.service containerd.service undo-mount-hacks.service \\
      kconnect-images.service \\
    && systemctl mask systemd-binfmt.service \\
    && mkdir -p /etc/kubernetes/manifests
"""

KIND_BASE_FILES: Final = (
    "usr/local/bin/entrypoint",
    "kind/bin/create-kubelet-cgroup-v2.sh",
    "kind/bin/mount-product-files.sh",
    "kind/bin/undo-mount-hacks.sh",
    "etc/crictl.yaml",
    "etc/default/kubelet",
    "etc/sysctl.d/10-network-magic.conf",
    "etc/sysctl.d/10-network-security.conf",
    "etc/systemd/system/kubelet.service",
    "etc/systemd/system/kubelet.slice",
    "etc/systemd/system/undo-mount-hacks.service",
    "etc/systemd/system/kubelet.service.d/10-kubeadm.conf",
    "etc/systemd/system/kubelet.service.d/11-kind.conf",
)


@dataclasses.dataclass(frozen=True)
class NodeImage:
    tag: str
    images: NodeImages


def node_image(engine: Engine, progress: Progress = None) -> NodeImage:
    """The kind node image in ``engine``, built unless one of the same inputs is there."""
    pins = read_pins()
    bins = binaries(progress)
    plane = controlplane.build(progress)
    node = nodebuild.build(progress)
    kind_src = kind_source(pins) / "images" / "base" / "files"
    work_root = cache_root() / "images"
    work_root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="kind-node-", dir=work_root) as work_dir:
        context = Path(work_dir)
        files = context / "files"
        image_dir = files / "kind" / "images"
        image_dir.mkdir(parents=True)
        node_imgs = node_images(engine, image_dir, progress)
        for relative in KIND_BASE_FILES:
            target = files / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(kind_src / relative, target)
        for name, source in (
            ("kubeadm", bins / "kubeadm"),
            ("kubelet", node.bin_dir / "kubelet"),
            ("kubectl", plane / "kubectl"),
        ):
            target = files / "usr" / "bin" / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
        written = {
            "kind/version": pins.kubernetes,
            "kind/manifests/default-cni.yaml": default_cni_manifest(node_imgs.coredns),
            "kind/manifests/default-storage.yaml": default_storage_manifest(
                kind_source(pins), node_imgs.local_path, node_imgs.kube_proxy
            ),
            "etc/containerd/config.toml": containerd_config(node_imgs.pause),
            "etc/systemd/system/containerd.service": CONTAINERD_SERVICE,
            "etc/systemd/system/kconnect-images.service": IMAGES_SERVICE,
            "etc/systemd/system/kubelet.service.d/12-kconnect-images.conf": KUBELET_AFTER_IMAGES,
            "etc/cni/net.d/10-kind-pods.conflist": cni_config(),
        }
        for relative, text in written.items():
            target = files / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, "utf-8")
        base = import_base(engine, NODE_BASE, NODE_CHANGES, progress)
        dockerfile = f"FROM {base}\n{NODE_DOCKERFILE_STEPS}"
        inputs = _digest_of(
            dockerfile, *(p.relative_to(files).as_posix() for p in sorted(files.rglob("*"))),
            *(p for p in sorted(files.rglob("*")) if p.is_file()),
        )  # fmt: skip
        tag = f"{NODE_REPOSITORY}:{pins.kubernetes}-{inputs[:12]}"
        if not baseimage.has_image(engine, tag):
            if progress is not None:
                progress(f"Building the kind node image {tag} ...")
            _docker_build(engine, "kind-node", context, tag, {"Dockerfile": dockerfile.encode()})
    return NodeImage(tag=tag, images=node_imgs)


# --------------------------------------------------------------------------------------------------
# Kafka for kind.

KAFKA_RUN: Final = r"""#!/bin/sh
# Runs one Apache Kafka in KRaft mode the way apache/kafka's image does, for e2e/kind/kafka.yaml:
# every KAFKA_<KEY> variable is the server.properties key <key> ("_" is ".", "__" is "_",
# "___" is "-"), except KAFKA_HEAP_OPTS and KAFKA_OPTS, which are the JVM's options; CLUSTER_ID
# formats the log directories on the first start.
set -euf  # -f: the class path's "*" is Java's, not the shell's
config_dir="${KAFKA_CONFIG_DIR:-/tmp/kafka}"
mkdir -p "${config_dir}"
config="${config_dir}/server.properties"
: > "${config}"
env | while IFS='=' read -r name value; do
  case "${name}" in
    KAFKA_HEAP_OPTS|KAFKA_OPTS|KAFKA_CONFIG_DIR) ;;
    KAFKA_*)
      key="$(printf '%s' "${name#KAFKA_}" | tr 'A-Z' 'a-z' \
        | sed -e 's/___/-/g' -e 's/__/@/g' -e 's/_/./g' -e 's/@/_/g')"
      printf '%s=%s\n' "${key}" "${value}" >> "${config}"
      ;;
  esac
done
java="java -XX:-UsePerfData -Djava.awt.headless=true"
java="${java} -Dlog4j2.configurationFile=/opt/kafka/config/log4j2.xml"
java="${java} -Dkafka.logs.dir=${config_dir} -cp /opt/kafka/libs/*"
# shellcheck disable=SC2086  # the options are words
${java} -Xmx256m kafka.tools.StorageTool format --config "${config}" \
  --cluster-id "${CLUSTER_ID:?set CLUSTER_ID to a base64 UUID}" --ignore-formatted
# shellcheck disable=SC2086
exec ${java} ${KAFKA_HEAP_OPTS:--Xmx512m} ${KAFKA_OPTS:-} kafka.Kafka "${config}"
"""

# The broker's log to standard output, where kubectl logs reads it.
KAFKA_LOG4J2: Final = """\
<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="WARN">
  <Appenders>
    <Console name="console" target="SYSTEM_OUT">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
    </Console>
  </Appenders>
  <Loggers>
    <Root level="INFO"><AppenderRef ref="console"/></Root>
    <Logger name="kafka.request.logger" level="WARN"/>
  </Loggers>
</Configuration>
"""


def kafka_image(engine: Engine, progress: Progress = None) -> str:
    """``kconnect.local/kafka:<version>`` in ``engine``: the cached broker jars on Debian's Java."""
    libs = kafka.fetch()
    version = kafka.kafka_version()
    tag = f"{KAFKA_REPOSITORY}:{version}"
    base = import_base(engine, KAFKA_BASE, (f"ENV PATH={IMAGE_PATH}", "ENV LANG=C.UTF-8"), progress)
    files: dict[str, bytes] = {
        "files/usr/local/bin/kafka-run": KAFKA_RUN.encode(),
        "files/opt/kafka/config/log4j2.xml": KAFKA_LOG4J2.encode(),
    }
    jars = sorted(libs.glob("*.jar"))
    dockerfile = (
        f"FROM {base}\n"
        "COPY files/ /\n"
        "RUN chmod 755 /usr/local/bin/kafka-run\n"
        "USER 1000:1000\n"
        'ENTRYPOINT ["/usr/local/bin/kafka-run"]\n'
    )
    label = _digest_of(dockerfile, *files, *files.values(), *(j.name for j in jars), *jars)[:12]
    if _has_label(engine, tag, label):
        return tag
    if progress is not None:
        progress(f"Building {tag} ...")
    with tempfile.TemporaryDirectory(dir=cache_root()) as context:
        lib_dir = Path(context) / "files" / "opt" / "kafka" / "libs"
        lib_dir.mkdir(parents=True)
        for jar in jars:
            shutil.copyfile(jar, lib_dir / jar.name)
        files["Dockerfile"] = f"{dockerfile}LABEL io.kconnect.inputs={label}\n".encode()
        _docker_build(engine, "kafka", Path(context), tag, files)
    return tag
