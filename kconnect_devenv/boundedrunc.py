#!/usr/bin/python3
"""runc, asked only for the capabilities this machine's root holds: the engine's default runtime.

Root here lacks ``CAP_SYS_RESOURCE`` in its bounding set. Docker 20.10 gives a ``--privileged``
container (and a ``docker exec --privileged`` process) every capability it knows, and runc then
fails with ``unable to apply caps: operation not permitted``: kind's nodes are privileged. The
engine (:mod:`kconnect_devenv.engine`) registers this script as its default runtime. It removes
from the OCI spec of a container (``create``/``run --bundle DIR``: ``DIR/config.json``) or of an
exec'd process (``exec --process FILE``) every capability that is not in this process's bounding
set, which it inherits from dockerd, and then runs ``/usr/sbin/runc`` with the same arguments.
Every other call, and a spec that asks for nothing missing, reaches runc unchanged.

It runs as a program, outside the package, with the machine's Python: stdlib only, no imports of
kconnect_devenv. A spec it cannot read is left for runc to report.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path

RUNC = "/usr/sbin/runc"

# linux/capability.h, by number.
CAPABILITIES = [
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
]


def missing_capabilities(status: str) -> set[str]:
    """The ``CAP_*`` names of ``/proc/self/status``' text whose bit is off in ``CapBnd``."""
    for line in status.splitlines():
        if line.startswith("CapBnd:"):
            bounding = int(line.split()[1], 16)
            return {
                f"CAP_{name}" for bit, name in enumerate(CAPABILITIES) if not bounding >> bit & 1
            }
    return set()


def strip(capabilities: dict[str, list[str]], missing: set[str]) -> bool:
    """Remove ``missing`` from every set of an OCI ``capabilities`` object; whether any was."""
    changed = False
    for key, values in capabilities.items():
        kept = [value for value in values if value not in missing]
        if len(kept) != len(values):
            capabilities[key] = kept
            changed = True
    return changed


def spec_file(args: list[str]) -> tuple[Path, bool] | None:
    """The JSON file a runc call reads capabilities from, and whether they sit under
    ``process`` (a bundle's ``config.json``) rather than at the top (``exec --process``)."""

    def value(*flags: str) -> str | None:
        for index, arg in enumerate(args):
            for flag in flags:
                if arg == flag and index + 1 < len(args):
                    return args[index + 1]
                if arg.startswith(flag + "="):
                    return arg.split("=", 1)[1]
        return None

    if "create" in args or "run" in args:
        return Path(value("--bundle", "-b") or ".") / "config.json", True
    if "exec" in args:
        process = value("--process", "-p")
        if process is not None:
            return Path(process), False
    return None


def bound(args: list[str], missing: set[str]) -> None:
    found = spec_file(args)
    if found is None or not missing:
        return
    path, nested = found
    with contextlib.suppress(OSError, ValueError, AttributeError, TypeError):
        spec = json.loads(path.read_text("utf-8"))
        process = spec.get("process", {}) if nested else spec
        capabilities = process.get("capabilities") or {}
        if strip(capabilities, missing):
            path.write_text(json.dumps(spec), "utf-8")


def main() -> None:
    args = sys.argv[1:]
    with contextlib.suppress(OSError):
        bound(args, missing_capabilities(Path("/proc/self/status").read_text("ascii")))
    os.execv(RUNC, [RUNC, *args])  # noqa: S606  # runc is a fixed path, its arguments the shim's


if __name__ == "__main__":
    main()
