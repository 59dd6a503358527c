"""Process plumbing shared by the development services (the Kafka broker, the control plane).

Each service starts its servers as detached process groups, records their pids in a state file,
and later has to tell its own server from an unrelated process that reused the pid: `is_alive`
checks the pid's command line for a path only that server has (its config file or data dir).
Children this interpreter started are kept in `CHILDREN` so they are collected, not left as
zombies. :func:`run_tool` runs a build or setup tool (Maven, Go, openssl, Kafka's StorageTool)
with a bound. Stdlib only: the services run before the project's venv may exist.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from pathlib import Path

HOST = "127.0.0.1"

CHILDREN: dict[int, subprocess.Popen[bytes]] = {}
"""Servers started by this interpreter, by pid."""


def parent_death_signal(signum: int) -> Callable[[], None] | None:
    """A preexec function asking Linux to send ``signum`` to the child when its parent dies."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    # Resolved before fork: nothing may be imported or allocated between fork and exec.
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    pr_set_pdeathsig = 1

    def preexec() -> None:
        prctl(pr_set_pdeathsig, signum)

    return preexec


PORT_POOL = range(20000, 30000)
"""Where test and development servers listen. Below the kernel's ephemeral range (32768 and up
by default), so no outgoing connection's local port ever takes a port picked here between the
pick and the server's bind; below Kubernetes' NodePort range (30000-32767) too."""
PORT_CLAIM_S = 300.0
"""How long a picked port stays reserved for the server it was picked for: far longer than a
server takes to bind it. A bound port is seen in use afterwards, so a claim need not outlive
that."""
_PORT_CLAIMS = Path(tempfile.gettempdir()) / "kconnect-ports" / "claims"


def free_ports(count: int, avoid: Collection[int] = ()) -> list[int]:
    """Distinct loopback ports, none of them in ``avoid`` (ports picked earlier for the same
    server), free now and reserved for a while for the caller.

    Asking the kernel for port 0 and closing the socket hands out a port from the ephemeral
    range, which the next outgoing connection on the machine may take as its local port before
    the server binds it ("Address already in use"). These ports come from `PORT_POOL` instead,
    and every process on the machine picks under one lock and records its picks,
    so parallel test processes never pick the same port either."""
    pool = _port_pool()
    if not pool:
        return _kernel_ports(count, avoid)
    now = time.time()
    with locked(_PORT_CLAIMS.with_suffix(".lock")):
        claims = _read_claims(now)
        picked: list[int] = []
        start = int.from_bytes(os.urandom(4), "big") % len(pool)
        for i in range(len(pool)):
            port = pool[(start + i) % len(pool)]
            if port in avoid or port in claims or port in picked or not _bindable(port):
                continue
            picked.append(port)
            if len(picked) == count:
                break
        else:
            raise RuntimeError(f"no {count} free ports left in {pool.start}-{pool.stop - 1}")
        claims.update(dict.fromkeys(picked, now))
        write_atomically(_PORT_CLAIMS, "".join(f"{p} {int(t)}\n" for p, t in claims.items()))
    return picked


def _port_pool() -> range:
    """`PORT_POOL`, cut below the kernel's ephemeral range where that range was moved down."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return PORT_POOL
    return range(PORT_POOL.start, max(PORT_POOL.start, min(PORT_POOL.stop, low)))


def _read_claims(now: float) -> dict[int, float]:
    claims: dict[int, float] = {}
    with contextlib.suppress(FileNotFoundError):
        for line in _PORT_CLAIMS.read_text().splitlines():
            with contextlib.suppress(ValueError):
                port, at = line.split()
                if now - float(at) < PORT_CLAIM_S:
                    claims[int(port)] = float(at)
    return claims


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def _kernel_ports(count: int, avoid: Collection[int]) -> list[int]:
    """Ports the kernel offers, all held until all are picked, the ones passed over too, so the
    kernel does not offer them again."""
    picked: list[int] = []
    with contextlib.ExitStack() as stack:
        while len(picked) < count:
            sock = stack.enter_context(socket.socket())
            sock.bind((HOST, 0))
            port = int(sock.getsockname()[1])
            if port not in avoid:
                picked.append(port)
        return picked


def is_alive(pid: int, mark: Path) -> bool:
    """Whether ``pid`` runs and is the server whose command line names ``mark``, not a later
    owner of its pid."""
    child = CHILDREN.get(pid)
    if child is not None and child.poll() is not None:
        CHILDREN.pop(pid, None)
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False  # pid reused by another user's process
    proc = Path("/proc") / str(pid)
    if not proc.is_dir():
        return True  # no procfs: the pid is all there is to go on
    try:
        state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        cmdline = (proc / "cmdline").read_bytes()
    except (OSError, IndexError):
        return False
    return state not in {"Z", "X"} and os.fsencode(str(mark)) in cmdline


def signal_group(pid: int, signum: int) -> None:
    # Each server leads its own session and process group, so this reaches nothing else.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signum)


def wait_gone(pid: int, mark: Path, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        child = CHILDREN.get(pid)
        if child is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=0.1)
            if child.returncode is not None:
                CHILDREN.pop(pid, None)
                return True
        elif not is_alive(pid, mark):
            return True
        else:
            time.sleep(0.1)
        if time.monotonic() >= deadline:
            return False


def terminate(pid: int, mark: Path, grace: float, kill_wait: float) -> bool:
    """SIGTERM, then SIGKILL after ``grace``; False if the server outlived SIGKILL too."""
    signal_group(pid, signal.SIGTERM)
    if wait_gone(pid, mark, grace):
        return True
    signal_group(pid, signal.SIGKILL)
    return wait_gone(pid, mark, kill_wait)


def kill(pid: int, kill_wait: float) -> None:
    """Kill a server this process started and collect it; used when startup fails."""
    signal_group(pid, signal.SIGKILL)
    child = CHILDREN.get(pid)
    if child is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=kill_wait)


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive flock on ``path``; released when the holder exits, even by SIGKILL."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text, "utf-8")
    temporary.replace(path)


def tail_text(text: str, lines: int) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def run_tool(
    command: Sequence[str],
    *,
    what: str,
    timeout: float,
    error: type[Exception],
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a build or setup tool to completion, its output captured as text, without input.

    Raises ``error("<what> did not finish within <timeout>s")`` when it runs longer than
    ``timeout`` (it is killed then); its exit status is the caller's to judge.
    """
    try:
        return subprocess.run(
            list(command),
            cwd=cwd,
            env=None if env is None else dict(env),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise error(f"{what} did not finish within {timeout:.0f}s") from exc


def exit_on_sigterm(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)
