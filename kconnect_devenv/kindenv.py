"""The machine's side of ``make kind-up``: kind on the project's engine, with nothing leaving.

``e2e/kind/kind-up.sh`` and ``kind-down.sh`` are written for anyone with Docker and kind. On this
machine there is no registry and no Docker of the machine's, so ``python -m
kconnect_devenv.kindenv prepare`` makes what they need and ``release`` undoes it:

- **The engine** (:mod:`kconnect_devenv.engine`), started unless it runs (and then stopped again by
  ``release``); kind is pointed at it with ``DOCKER_HOST``.
- **kind's network**, made before kind would make it: the Docker network :data:`NETWORK` ("kind",
  which kind uses as it finds it) on the bridge :data:`BRIDGE` with the IPv4 range :data:`SUBNET`
  and no IPv6. The engine adds no NAT or forwarding rule for it (``--iptables=false``).
- **Guard rules**: the filter chains :data:`FORWARD_CHAIN` and :data:`INPUT_CHAIN` (jumped to
  first from ``FORWARD`` and ``INPUT``) drop whatever is forwarded between the bridge and any other
  interface, in both directions, and any connection a node opens to the host; replies to the
  host's own connections (kubectl, docker-proxy to the API server) pass. Nodes reach each other
  over the bridge and nothing else.
- **Kernel settings**: the kubelet in a privileged node container sets the host's
  ``vm.overcommit_memory``, ``kernel.panic`` and the other keys of
  :data:`kconnect_devenv.hostsysctls.KEYS`; they are recorded by the first ``prepare`` and put
  back by ``release``.
- **The builds** (:mod:`kconnect_devenv.kindbuild`): kind, kubeadm, the node image, the Kafka
  image; and the cluster configuration :func:`cluster_config` for that node image (kind's
  ``kubeadmConfigPatches``: no negative OOM score for the kubelet and kube-proxy, kubeadm's CoreDNS
  add-on skipped since the node image brings the cluster DNS, etcd's image tag).
- **The scripts' environment**, written to ``kind.env`` in the state directory: ``PATH`` with
  kind, kubectl, helm and the engine's docker client, ``DOCKER_HOST``, a ``KUBECONFIG`` of its own
  (the machine's ``~/.kube/config`` is not touched), ``KIND_CONFIG``, ``KAFKA_IMAGE`` and
  ``KIND_LOAD_IMAGES``, and ``SKIP_IMAGE_BUILD`` (``make images`` has built the images).

State lives in ``$KCONNECT_CACHE/kind`` (``kind.json``: what ``prepare`` changed), serialized by
a lock there. ``release`` deletes any cluster kind made on the engine, the network, the chains,
restores the settings and stops an engine it started; it is safe to run again. Failures raise
:class:`KindEnvError` with the command and its output. Stdlib only.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final

from kconnect_devenv import controlplane, engine, hostsysctls, kindbuild, nodenetwork, processes
from kconnect_devenv.engine import Engine
from kconnect_devenv.lifecycle import ServiceError, cache_root

NETWORK: Final = "kind"
BRIDGE: Final = "kconnect-kind"
SUBNET: Final = "10.250.0.0/24"
FORWARD_CHAIN: Final = "KCONNECT-KIND-FORWARD"
INPUT_CHAIN: Final = "KCONNECT-KIND-INPUT"
CHAIN_PREFIX: Final = "KCONNECT-KIND-"
CLUSTER_NAME: Final = "kconnect"
STATE_FILE: Final = "kind.json"
ENV_FILE: Final = "kind.env"
KIND_TIMEOUT_S: Final = 300.0
DOCKER_TIMEOUT_S: Final = 120.0
NODE_LABEL: Final = "io.x-k8s.kind.cluster"


class KindEnvError(ServiceError):
    """The kind environment could not be prepared or released; the message says why."""


# --------------------------------------------------------------------------------------------------
# Pure parts.


def guard_script(bridge: str = BRIDGE) -> str:
    """``iptables-restore --noflush`` input that creates the guard chains and jumps to them."""
    lines = [
        "*filter",
        f":{FORWARD_CHAIN} - [0:0]",
        f":{INPUT_CHAIN} - [0:0]",
        f"-A {FORWARD_CHAIN} -i {bridge} ! -o {bridge} -m comment "
        '--comment "kconnect kind: nothing from a node leaves the machine" -j DROP',
        f"-A {FORWARD_CHAIN} -o {bridge} ! -i {bridge} -m comment "
        '--comment "kconnect kind: nothing from outside reaches a node" -j DROP',
        f"-A {INPUT_CHAIN} -m conntrack --ctstate ESTABLISHED,RELATED -j RETURN",
        f"-A {INPUT_CHAIN} -m comment "
        '--comment "kconnect kind: a node opens no connection to the host" -j DROP',
        f"-I FORWARD 1 -j {FORWARD_CHAIN}",
        f"-I INPUT 1 -i {bridge} -j {INPUT_CHAIN}",
        "COMMIT",
    ]
    return "\n".join(lines) + "\n"


def cluster_config(name: str, node_image: str, etcd_tag: str) -> str:
    """kind's cluster configuration for the node image built here: ``e2e/kind/cluster.yaml``'s
    one node, on ``node_image``, with the patches this machine and that image need."""
    return f"""\
# Written by kconnect_devenv/kindenv.py for the node image built by kconnect_devenv/kindbuild.py
# (docs/kind.md); e2e/kind/cluster.yaml is the same cluster for kind's own node images.
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
name: {name}
nodes:
  - role: control-plane
    image: {node_image}
kubeadmConfigPatches:
  # The node image brings the cluster DNS (CoreDNS without forward), so kubeadm skips its own; kind
  # writes kubeadm's v1beta3 for 1.34, which has no dns.disabled, and skips preflight itself.
  - |
    kind: InitConfiguration
    skipPhases:
      - preflight
      - addon/coredns
  # etcd is the control plane's.
  - |
    kind: ClusterConfiguration
    etcd:
      local:
        imageTag: "{etcd_tag}"
  # Root here lacks CAP_SYS_RESOURCE: no negative OOM score adjustment.
  - |
    kind: KubeletConfiguration
    oomScoreAdj: 0
  - |
    kind: KubeProxyConfiguration
    oomScoreAdj: 0
"""


def env_file_text(values: dict[str, str]) -> str:
    """``export NAME='value'`` lines, for ``source`` in bash."""
    return "".join(f"export {key}='{value}'\n" for key, value in values.items())


# --------------------------------------------------------------------------------------------------
# Host changes.


def state_dir() -> Path:
    return cache_root() / "kind"


def _load(state: Path) -> dict[str, object]:
    with contextlib.suppress(FileNotFoundError):
        loaded = json.loads((state / STATE_FILE).read_text("utf-8"))
        if isinstance(loaded, dict):
            return loaded
    return {}


def _save(state: Path, record: dict[str, object]) -> None:
    processes.write_atomically(state / STATE_FILE, json.dumps(record, indent=2) + "\n")


def ensure_network(engine_: Engine) -> None:
    """The network kind uses, on :data:`BRIDGE`; an existing one on another bridge is an error."""
    found = engine_.docker(
        "network", "ls", "--filter", f"name=^{NETWORK}$", "--format", "{{.Name}}",
        timeout=DOCKER_TIMEOUT_S,
    )  # fmt: skip
    if found.strip():
        options = json.loads(
            engine_.docker(
                "network",
                "inspect",
                "--format",
                "{{json .Options}}",
                NETWORK,
                timeout=DOCKER_TIMEOUT_S,
            )
        )
        if options.get("com.docker.network.bridge.name") != BRIDGE:
            raise KindEnvError(
                f"the engine has a network {NETWORK!r} that is not on the bridge {BRIDGE} "
                f"(options {options}); remove it (docker network rm {NETWORK})"
            )
        return
    engine_.docker(
        "network", "create", "--driver=bridge", f"--subnet={SUBNET}",
        f"--opt=com.docker.network.bridge.name={BRIDGE}",
        "--opt=com.docker.network.bridge.enable_ip_masquerade=false",
        NETWORK,
        timeout=DOCKER_TIMEOUT_S,
    )  # fmt: skip


def remove_network(engine_: Engine) -> None:
    with contextlib.suppress(engine.EngineError):
        engine_.docker("network", "rm", NETWORK, timeout=DOCKER_TIMEOUT_S)


def install_guard() -> None:
    remove_guard()
    nodenetwork.restore_rules("iptables-restore", guard_script())


def remove_guard() -> None:
    saved = nodenetwork.run_command("iptables-save", "-t", "filter")
    nodenetwork.restore_rules(
        "iptables-restore", nodenetwork.removal_script(saved, (CHAIN_PREFIX,))
    )


def _tools_dir(state: Path, kind_bin: Path) -> Path:
    tools = state / "bin"
    tools.mkdir(parents=True, exist_ok=True)
    plane = controlplane.build()
    for name, target in (
        ("kind", kind_bin / "kind"),
        ("kubectl", plane / "kubectl"),
        ("helm", plane / "helm"),
        ("docker", engine.DOCKER),
    ):
        link = tools / name
        link.unlink(missing_ok=True)
        link.symlink_to(target)
    return tools


def prepare(progress: Callable[[str], None] = print) -> Path:
    """Everything ``e2e/kind/kind-up.sh`` needs here; returns the environment file."""
    state = state_dir()
    state.mkdir(parents=True, exist_ok=True)
    with processes.locked(state / "lock"):
        record = _load(state)
        if "sysctls" not in record:
            record["sysctls"] = hostsysctls.snapshot()
        engine_ = engine.running()
        if engine_ is None:
            engine_ = engine.start()
            record["engine_started"] = True
        record.setdefault("engine_started", False)
        _save(state, record)
        ensure_network(engine_)
        install_guard()
        record["network"] = True
        _save(state, record)
        began = time.monotonic()
        bins = kindbuild.binaries(progress)
        node = kindbuild.node_image(engine_, progress)
        kafka_image = kindbuild.kafka_image(engine_, progress)
        progress(
            f"kind, the node image and the Kafka image ready in {time.monotonic() - began:.0f}s"
        )
        config = state / "cluster.yaml"
        config.write_text(cluster_config(CLUSTER_NAME, node.tag, node.images.etcd_tag), "utf-8")
        tools = _tools_dir(state, bins)
        client = engine_.client_env({})
        values = {
            "PATH": f"{tools}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "DOCKER_HOST": client["DOCKER_HOST"],
            "DOCKER_CONFIG": client["DOCKER_CONFIG"],
            "DOCKER_BUILDKIT": "0",
            "KUBECONFIG": str(state / "kubeconfig"),
            "KIND_CLUSTER_NAME": CLUSTER_NAME,
            "KIND_CONFIG": str(config),
            "KAFKA_IMAGE": kafka_image,
            "KIND_LOAD_IMAGES": kafka_image,
            "SKIP_IMAGE_BUILD": "1",
        }
        env_file = state / ENV_FILE
        env_file.write_text(env_file_text(values), "utf-8")
        return env_file


def release() -> None:
    """Undo :func:`prepare`: clusters, network, chains, settings, and an engine it started."""
    state = state_dir()
    state.mkdir(parents=True, exist_ok=True)
    with processes.locked(state / "lock"):
        record = _load(state)
        engine_ = engine.running()
        if engine_ is not None:
            _delete_clusters(engine_, state)
            remove_network(engine_)
        remove_guard()
        sysctls = record.get("sysctls")
        if isinstance(sysctls, dict):
            hostsysctls.restore({str(k): str(v) for k, v in sysctls.items()})
        if engine_ is not None and record.get("engine_started"):
            engine.stop()
        (state / STATE_FILE).unlink(missing_ok=True)
        (state / ENV_FILE).unlink(missing_ok=True)


def _delete_clusters(engine_: Engine, state: Path) -> None:
    """Every kind cluster on the engine: ``kind delete`` when kind is built, else the containers."""
    clusters = {
        line.strip()
        for line in engine_.docker(
            "ps", "--all", "--filter", f"label={NODE_LABEL}",
            "--format", f'{{{{.Label "{NODE_LABEL}"}}}}',
            timeout=DOCKER_TIMEOUT_S,
        ).splitlines()
        if line.strip()
    }  # fmt: skip
    bins = kindbuild.built_binaries()
    for cluster in sorted(clusters):
        if bins is not None:
            env = {**engine_.client_env(), "KUBECONFIG": str(state / "kubeconfig")}
            result = processes.run_tool(
                [str(bins / "kind"), "delete", "cluster", "--name", cluster],
                what="kind delete cluster",
                timeout=KIND_TIMEOUT_S,
                error=KindEnvError,
                env=env,
            )
            if result.returncode == 0:
                continue
        ids = engine_.docker(
            "ps", "--all", "--quiet", "--filter", f"label={NODE_LABEL}={cluster}",
            timeout=DOCKER_TIMEOUT_S,
        ).split()  # fmt: skip
        if ids:
            engine_.docker("rm", "--force", "--volumes", *ids, timeout=DOCKER_TIMEOUT_S)


# --------------------------------------------------------------------------------------------------
# Command line: python -m kconnect_devenv.kindenv {prepare,release}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m kconnect_devenv.kindenv",
        description="Prepare this machine for e2e/kind/kind-up.sh (engine, network, guard "
        "rules, node image) and release it again.",
    )
    parser.add_argument("command", choices=("prepare", "release"))
    args = parser.parse_args(argv)
    try:
        if args.command == "prepare":
            print(prepare())
        else:
            release()
            print("kind's network, guard rules and kernel settings are released.")
    except (ServiceError, nodenetwork.NetworkError, hostsysctls.SysctlError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
