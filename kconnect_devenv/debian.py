"""Debian packages the development services run on, installed once by the project itself.

The container engine, the node's runtime (containerd, runc, the CNI plugins), ``debootstrap`` for
the images' base and ``iptables`` for the node's guard rules come from the machine's Debian
archive. A fresh machine has none of them, so every service that needs one calls
:func:`ensure` before it starts, and ``make test`` on a fresh machine installs what it uses.

- **Installed at most once.** ``dpkg-query`` tells which of the asked packages are installed;
  only when one is missing does :func:`ensure` run ``apt-get update`` and then ``apt-get install``
  of the missing ones (``--no-install-recommends``, non-interactive, services not started by the
  packages' scripts: the project starts its own servers with its own configuration).
- **Installs are serialized** by a ``flock`` on ``$KCONNECT_CACHE/debian.lock``: two services
  that need packages at the same time do not race on dpkg's own lock.
- **It fails with the reason.** A machine that is not Debian, a user who is not root, or an
  archive that does not answer gives :class:`PackageError` naming the packages and the last lines
  of apt's output. Nothing is half-done that the next call would not finish: apt is idempotent.

Stdlib only, like the services.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Final

from kconnect_devenv import processes

UPDATE_TIMEOUT_S: Final = 600.0
INSTALL_TIMEOUT_S: Final = 1800.0
OUTPUT_TAIL_LINES: Final = 20

# policy-rc.d's "101: action forbidden" keeps the packages' maintainer scripts from starting their
# daemons (dockerd, containerd); the services start their own, from their own state directories.
_POLICY_RC_D: Final = Path("/usr/sbin/policy-rc.d")
_POLICY_RC_D_TEXT: Final = "#!/bin/sh\n# kconnect: packages never start services here.\nexit 101\n"


class PackageError(RuntimeError):
    """Debian packages could not be installed; the message names them and says why."""


def missing(packages: Iterable[str]) -> list[str]:
    """The packages of ``packages`` that dpkg does not report as installed, in the given order."""
    wanted = list(dict.fromkeys(packages))
    if not wanted:
        return []
    if shutil.which("dpkg-query") is None:
        return wanted
    result = processes.run_tool(
        ["dpkg-query", "--show", "--showformat=${Package} ${db:Status-Status}\\n", *wanted],
        what="dpkg-query",
        timeout=60.0,
        error=PackageError,
    )
    installed = {
        name
        for name, _, status in (line.partition(" ") for line in result.stdout.splitlines())
        if status.strip() == "installed"
    }
    return [name for name in wanted if name not in installed]


def ensure(packages: Iterable[str], cache: Path) -> None:
    """Install whichever of ``packages`` is missing; return at once when none is."""
    wanted = list(packages)
    if not missing(wanted):
        return
    if shutil.which("apt-get") is None:
        raise PackageError(
            f"Debian packages {', '.join(wanted)} are needed, and this machine has no apt-get"
        )
    if os.geteuid() != 0:
        raise PackageError(
            f"Debian packages {', '.join(missing(wanted))} are needed; install them as root "
            f"(apt-get install {' '.join(missing(wanted))})"
        )
    cache.mkdir(parents=True, exist_ok=True)
    with processes.locked(cache / "debian.lock"):
        absent = missing(wanted)  # another process may have installed them while this one waited
        if not absent:
            return
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        with _services_not_started():
            _apt(["apt-get", "update"], absent, UPDATE_TIMEOUT_S, env)
            _apt(
                ["apt-get", "install", "--yes", "--no-install-recommends", *absent],
                absent,
                INSTALL_TIMEOUT_S,
                env,
            )
        still = missing(absent)
        if still:
            raise PackageError(
                f"apt-get reported success but {', '.join(still)} is still not installed"
            )


def _apt(command: list[str], packages: list[str], timeout: float, env: dict[str, str]) -> None:
    result = processes.run_tool(
        command, what=" ".join(command[:2]), timeout=timeout, error=PackageError, env=env
    )
    if result.returncode != 0:
        tail = processes.tail_text(result.stdout + result.stderr, OUTPUT_TAIL_LINES)
        raise PackageError(
            f"{' '.join(command[:2])} failed (exit {result.returncode}) while installing "
            f"{', '.join(packages)}:\n{tail}"
        )


@contextlib.contextmanager
def _services_not_started() -> Iterator[None]:
    """A ``policy-rc.d`` that forbids starting services, removed again unless it was there."""
    placed = not _POLICY_RC_D.exists()
    if placed:
        _POLICY_RC_D.write_text(_POLICY_RC_D_TEXT, "ascii")
        _POLICY_RC_D.chmod(0o755)
    try:
        yield
    finally:
        if placed:
            _POLICY_RC_D.unlink(missing_ok=True)
