"""The kernel settings the real node changes, recorded before and put back after.

The kubelet sets ``vm.overcommit_memory``, ``vm.panic_on_oom``, ``kernel.panic``,
``kernel.panic_on_oops`` and the root keyring limits when it starts (it is not run with
``protectKernelDefaults``); the node turns on IPv4 forwarding and bridge netfilter, which the
bridge plugin and kube-proxy need; kube-proxy may touch conntrack's limits and
``route_localnet`` (the node's configuration asks it not to, and they are recorded anyway).

- :func:`snapshot` reads every key of :data:`KEYS` that this kernel has, and :func:`restore` writes
  back the recorded values, so ``down`` leaves them as they were before ``up``.
- A key the kernel lacks is skipped, never an error; a value that cannot be written back raises
  :class:`SysctlError` naming the key after trying all the others.

Stdlib only.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Final

PROC_SYS: Final = Path("/proc/sys")

KEYS: Final = (
    "net.ipv4.ip_forward",
    "net.ipv4.conf.all.forwarding",
    "net.ipv4.conf.all.route_localnet",
    "net.ipv6.conf.all.forwarding",
    "net.bridge.bridge-nf-call-iptables",
    "net.bridge.bridge-nf-call-ip6tables",
    "net.netfilter.nf_conntrack_max",
    "net.netfilter.nf_conntrack_tcp_timeout_established",
    "net.netfilter.nf_conntrack_tcp_timeout_close_wait",
    "net.netfilter.nf_conntrack_tcp_be_liberal",
    "vm.overcommit_memory",
    "vm.panic_on_oom",
    "kernel.panic",
    "kernel.panic_on_oops",
    "kernel.keys.root_maxkeys",
    "kernel.keys.root_maxbytes",
)


class SysctlError(RuntimeError):
    """A kernel setting could not be read or written back; the message names it."""


def path_of(key: str) -> Path:
    return PROC_SYS.joinpath(*key.split("."))


def read(key: str) -> str | None:
    try:
        return path_of(key).read_text("ascii").strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise SysctlError(f"cannot read {key}: {exc}") from exc


def write(key: str, value: str) -> None:
    try:
        path_of(key).write_text(value + "\n", "ascii")
    except OSError as exc:
        raise SysctlError(f"cannot set {key} to {value}: {exc}") from exc


def snapshot() -> dict[str, str]:
    """The current value of every key of :data:`KEYS` this kernel has."""
    values = {key: read(key) for key in KEYS}
    return {key: value for key, value in values.items() if value is not None}


def restore(values: Mapping[str, str]) -> None:
    """Write back every recorded value that differs from the current one."""
    failures = []
    for key, value in values.items():
        try:
            if read(key) not in (None, value):
                write(key, value)
        except SysctlError as exc:
            failures.append(str(exc))
    if failures:
        raise SysctlError("; ".join(failures))
