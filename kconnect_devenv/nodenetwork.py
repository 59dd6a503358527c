"""The node's network on the host: one bridge for pods, guard rules, and their removal.

The real node (:mod:`kconnect_devenv.node`) puts its pods on a bridge the project creates, and
nothing a pod sends may leave the machine. This module holds the addresses and the host changes:

- **Addresses.** Pods get addresses from :data:`POD_CIDR` on the bridge :data:`BRIDGE`, whose own
  address :data:`BRIDGE_ADDRESS` is the pods' gateway and the node's InternalIP (the kubelet
  listens there). The Service range is routed onto the bridge too, so a ClusterIP that no rule
  translates goes nowhere rather than to the default route. :data:`HOST_ADDRESS` is a /32 on the
  loopback interface where the servers pods must reach listen (the API server, the broker's pod
  listener): it is added by the control plane started for a node, before the bridge exists, and
  removed when no socket listens on it any more.
- **Guard rules.** The filter chains :data:`FORWARD_CHAIN` and :data:`INPUT_CHAIN` (jumped to first
  from ``FORWARD`` and ``INPUT``) drop whatever is forwarded between the bridge and any other
  interface, in both directions, and whatever a pod sends to a host address other than
  :data:`BRIDGE_ADDRESS` and :data:`HOST_ADDRESS`. The bridge plugin masquerades nothing
  (``ipMasq: false``), so there is no path out even with forwarding on.
- **Removal is by name.** :func:`removal_script` turns an ``iptables-save`` into the
  ``iptables-restore --noflush`` input that deletes every rule jumping to a chain with one of
  :data:`OWNED_PREFIXES` (``KUBE-`` of the kubelet and kube-proxy, ``CNI-`` of the CNI plugins,
  ``KCONNECT-NODE-`` of the guard) and then those chains, leaving every other rule (Docker's, the
  kind guard of :mod:`kconnect_devenv.kindenv`, the machine's) as it was. Both IPv4 and IPv6
  tables are cleaned.

Failures raise :class:`NetworkError` with the command and its output. Stdlib only.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from kconnect_devenv import processes

BRIDGE: Final = "kconnect0"
POD_CIDR: Final = "10.244.0.0/24"
BRIDGE_ADDRESS: Final = "10.244.0.1"
HOST_ADDRESS: Final = "10.245.0.1"
"""Where pods reach the host's servers: a /32 on ``lo``, added by a control plane for a node."""

FORWARD_CHAIN: Final = "KCONNECT-NODE-FORWARD"
INPUT_CHAIN: Final = "KCONNECT-NODE-INPUT"
GUARD_PREFIX: Final = "KCONNECT-NODE-"
OWNED_PREFIXES: Final = ("KUBE-", "CNI-", GUARD_PREFIX)
COMMAND_TIMEOUT_S: Final = 30.0
BUILTIN_CHAINS: Final = frozenset({"INPUT", "OUTPUT", "FORWARD", "PREROUTING", "POSTROUTING"})


class NetworkError(RuntimeError):
    """A host network change failed; the message holds the command and its output."""


# --------------------------------------------------------------------------------------------------
# Pure parts.


def guard_script(bridge: str = BRIDGE) -> str:
    """``iptables-restore --noflush`` input that creates the guard chains and jumps to them."""
    allowed = (BRIDGE_ADDRESS, HOST_ADDRESS)
    lines = [
        "*filter",
        f":{FORWARD_CHAIN} - [0:0]",
        f":{INPUT_CHAIN} - [0:0]",
        f"-A {FORWARD_CHAIN} -i {bridge} ! -o {bridge} -m comment "
        '--comment "kconnect node: nothing from a pod leaves the machine" -j DROP',
        f"-A {FORWARD_CHAIN} -o {bridge} ! -i {bridge} -m comment "
        '--comment "kconnect node: nothing from outside reaches a pod" -j DROP',
        *(f"-A {INPUT_CHAIN} -d {address}/32 -j RETURN" for address in allowed),
        f"-A {INPUT_CHAIN} -m comment "
        '--comment "kconnect node: pods reach only the host addresses meant for them" -j DROP',
        f"-I FORWARD 1 -j {FORWARD_CHAIN}",
        f"-I INPUT 1 -i {bridge} -j {INPUT_CHAIN}",
        "COMMIT",
    ]
    return "\n".join(lines) + "\n"


def removal_script(saved: str, prefixes: Sequence[str] = OWNED_PREFIXES) -> str:
    """``iptables-restore --noflush`` input removing the chains of ``saved`` (the output of
    ``iptables-save``) named with one of ``prefixes`` and every rule that jumps or goes to one of
    them; empty if none is there."""

    def _owned(chain: str) -> bool:
        return chain.startswith(tuple(prefixes))

    out: list[str] = []
    table: str | None = None
    deletes: list[str] = []
    owned: list[str] = []
    for line in saved.splitlines():
        if line.startswith("*"):
            table, deletes, owned = line[1:].strip(), [], []
        elif line.startswith(":") and table is not None:
            chain = line[1:].split()[0]
            if _owned(chain):
                owned.append(chain)
        elif line.startswith("-A ") and table is not None:
            chain = line.split()[1]
            target = re.search(r"\s-[jg]\s+(\S+)", line)
            if not _owned(chain) and target is not None and _owned(target.group(1)):
                deletes.append("-D" + line[2:])
        elif line.strip() == "COMMIT" and table is not None:
            if deletes or owned:
                out.append(f"*{table}")
                out.extend(deletes)
                out.extend(f"-F {chain}" for chain in owned)
                out.extend(f"-X {chain}" for chain in owned)
                out.append("COMMIT")
            table = None
    return "\n".join(out) + "\n" if out else ""


def comparable_rules(saved: str, ignore: Sequence[str] = ()) -> list[str]:
    """The rules of an ``iptables-save`` as a comparable list: no comments, no counters, no table
    that holds only empty built-in chains with policy ACCEPT (iptables-nft may leave such a table
    once used), no line containing any of ``ignore``."""
    result: list[str] = []
    table: list[str] = []
    meaningful = False
    for raw in saved.splitlines():
        if raw.startswith("#") or not raw.strip() or any(word in raw for word in ignore):
            continue
        line = re.sub(r"\s*\[\d+:\d+\]$", "", raw)
        if line.startswith("*"):
            table, meaningful = [line], False
        elif line == "COMMIT":
            if meaningful:
                result.extend([*table, line])
        else:
            table.append(line)
            if not (
                line.startswith(":")
                and line[1:].split()[0] in BUILTIN_CHAINS
                and line.split()[1] == "ACCEPT"
            ):
                meaningful = True
    return result


def listening_on(address: str, proc_net: str) -> bool:
    """Whether the text of ``/proc/net/tcp`` shows a socket listening on IPv4 ``address``."""
    packed = ipaddress.IPv4Address(address).packed[::-1].hex().upper()
    for line in proc_net.splitlines()[1:]:
        fields = line.split()
        if len(fields) > 3 and fields[1].split(":")[0] == packed and fields[3] == "0A":
            return True
    return False


# --------------------------------------------------------------------------------------------------
# Host changes.


def run_command(*command: str, check: bool = True) -> str:
    result = processes.run_tool(
        command, what=" ".join(command[:3]), timeout=COMMAND_TIMEOUT_S, error=NetworkError
    )
    if check and result.returncode != 0:
        raise NetworkError(
            f"{' '.join(command)} exited with {result.returncode}: "
            f"{(result.stderr or result.stdout).strip()}"
        )
    return result.stdout


def restore_rules(tool: str, script: str) -> None:
    if not script:
        return
    try:
        done = subprocess.run(
            [tool, "--noflush"],
            input=script,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise NetworkError(f"{tool} did not finish within {COMMAND_TIMEOUT_S:.0f}s") from exc
    if done.returncode != 0:
        raise NetworkError(
            f"{tool} --noflush failed: {(done.stderr + done.stdout).strip()}\ninput:\n{script}"
        )


def require_tools() -> None:
    for tool in ("ip", "iptables-save", "iptables-restore", "ip6tables-save", "ip6tables-restore"):
        if shutil.which(tool) is None:
            raise NetworkError(f"'{tool}' is not on PATH; the node needs iproute2 and iptables")


def add_host_address() -> None:
    """Add :data:`HOST_ADDRESS` to ``lo`` unless it is there."""
    if HOST_ADDRESS not in run_command("ip", "-4", "-o", "addr", "show", "dev", "lo"):
        run_command("ip", "addr", "add", f"{HOST_ADDRESS}/32", "dev", "lo")


def remove_host_address_if_unused() -> None:
    """Remove :data:`HOST_ADDRESS` from ``lo`` when no TCP socket listens on it any more."""
    with contextlib.suppress(OSError):
        if listening_on(HOST_ADDRESS, Path("/proc/net/tcp").read_text("ascii")):
            return
    if HOST_ADDRESS in run_command("ip", "-4", "-o", "addr", "show", "dev", "lo"):
        run_command("ip", "addr", "del", f"{HOST_ADDRESS}/32", "dev", "lo", check=False)


def bridge_exists(bridge: str = BRIDGE) -> bool:
    return Path("/sys/class/net", bridge).exists()


def create_bridge(service_cidr: str, bridge: str = BRIDGE) -> None:
    """The bridge with the gateway address, up, the Service range routed onto it, no IPv6."""
    if not bridge_exists(bridge):
        run_command("ip", "link", "add", bridge, "type", "bridge")
    with contextlib.suppress(OSError):
        Path(f"/proc/sys/net/ipv6/conf/{bridge}/disable_ipv6").write_text("1")
    prefix = ipaddress.ip_network(POD_CIDR).prefixlen
    if f"{BRIDGE_ADDRESS}/{prefix}" not in run_command(
        "ip", "-4", "-o", "addr", "show", "dev", bridge
    ):
        run_command("ip", "addr", "add", f"{BRIDGE_ADDRESS}/{prefix}", "dev", bridge)
    run_command("ip", "link", "set", bridge, "up")
    run_command("ip", "route", "replace", service_cidr, "dev", bridge, "src", BRIDGE_ADDRESS)


def delete_bridge(bridge: str = BRIDGE) -> None:
    """Delete the bridge (its routes go with it); nothing when it is absent."""
    if bridge_exists(bridge):
        run_command("ip", "link", "delete", bridge, "type", "bridge")


def install_guard(bridge: str = BRIDGE) -> None:
    """The guard chains, installed once: jumps are not doubled by a second call."""
    remove_guard()
    restore_rules("iptables-restore", guard_script(bridge))


def remove_guard() -> None:
    restore_rules(
        "iptables-restore",
        removal_script(run_command("iptables-save", "-t", "filter"), (GUARD_PREFIX,)),
    )


def remove_owned_rules() -> None:
    """Delete every owned chain and every jump to one, in IPv4 and IPv6 tables."""
    for save, restore in (
        ("iptables-save", "iptables-restore"),
        ("ip6tables-save", "ip6tables-restore"),
    ):
        restore_rules(restore, removal_script(run_command(save)))


def iptables_snapshot() -> str:
    """The IPv4 and IPv6 rules as ``iptables-save`` prints them, for comparing before and after."""
    return run_command("iptables-save") + run_command("ip6tables-save")
