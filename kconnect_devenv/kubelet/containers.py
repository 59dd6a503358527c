"""Container processes: start a run through the shim, watch it, signal it, run commands inside it.

A run is one shim process (``launch.py``) and, once it has exec'd, the container's main process,
which is pid 1 of its own pid namespace. The files of a container live in the pod directory:

- ``<container>.log``: stdout and stderr of every run, appended (the shim's own errors too);
- ``<container>.pid``: the main process's pid while it runs (tests kill it to simulate a crash);
- ``.<container>.error``: why the last run could not start, if it could not;
- ``ns/<container>/``: where the run's private tmpfs is mounted, inside its namespace only.

Invariants:

- **Nothing outlives the kubelet.** The shim asks for SIGKILL when the kubelet thread that started
  it ends, and the main process asks for SIGKILL when the shim ends; when pid 1 of a pid namespace
  dies, the kernel kills every process in it. A pod worker's thread outlives its runs.
- **SIGTERM reaches the main process only** (through the shim), as a real runtime sends it;
  :meth:`Run.kill` ends the whole run at once.
- **Every wait is bounded**; exec in a container is killed after its timeout.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final

from kconnect_devenv.kubelet.launch import START_ERROR_EXIT

LAUNCHER: Final = Path(__file__).resolve().with_name("launch.py")
NSENTER: Final = shutil.which("nsenter") or "/usr/bin/nsenter"


@dataclasses.dataclass(frozen=True)
class Mount:
    source: Path
    target: str
    read_only: bool
    file: bool

    def to_json(self) -> dict[str, object]:
        return {
            "source": str(self.source),
            "target": self.target,
            "read_only": self.read_only,
            "file": self.file,
        }


@dataclasses.dataclass(frozen=True)
class ContainerFiles:
    log: Path
    pid: Path
    error: Path
    spec: Path
    scratch: Path

    @classmethod
    def of(cls, pod_dir: Path, container: str) -> ContainerFiles:
        return cls(
            log=pod_dir / f"{container}.log",
            pid=pod_dir / f"{container}.pid",
            error=pod_dir / f".{container}.error",
            spec=pod_dir / f".{container}.launch.json",
            scratch=pod_dir / "ns" / container,
        )


@dataclasses.dataclass(frozen=True)
class Exit:
    code: int
    error: str  # why it could not start, or ""


class Run:
    """One run of a container."""

    def __init__(self, shim: subprocess.Popen[bytes], files: ContainerFiles) -> None:
        self._shim = shim
        self._files = files
        self._pid: int | None = None
        self.exit: Exit | None = None

    @property
    def shim_pid(self) -> int:
        return self._shim.pid

    def main_pid(self) -> int | None:
        """The main process's pid once it has exec'd (read from the pid file), else None."""
        if self._pid is None and self.exit is None:
            with contextlib.suppress(OSError, ValueError):
                self._pid = int(self._files.pid.read_text("ascii").strip())
        return self._pid

    def poll(self) -> Exit | None:
        """How the run ended, or None while the shim runs."""
        if self.exit is not None:
            return self.exit
        code = self._shim.poll()
        if code is None:
            return None
        if code < 0:
            code = 128 - code  # the shim itself was killed by a signal
        error = ""
        with contextlib.suppress(OSError):
            error = self._files.error.read_text("utf-8").strip()
            self._files.error.unlink()
        if code == START_ERROR_EXIT and not error and self._pid is None:
            error = "the container shim exited before the command started (see the log)"
        self._files.pid.unlink(missing_ok=True)
        self.exit = Exit(code, error)
        return self.exit

    def terminate(self) -> None:
        """SIGTERM to the main process (the shim forwards it)."""
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._shim.pid, signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL to the main process and the shim: the pid namespace and all in it end."""
        if self.poll() is not None:
            return
        pid = self.main_pid()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._shim.pid, signal.SIGKILL)

    def wait(self, timeout: float) -> Exit | None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._shim.wait(timeout=max(0.0, timeout))
        return self.poll()


def start(
    *,
    command: Sequence[str],
    env: Mapping[str, str],
    working_dir: str,
    mounts: Sequence[Mount],
    files: ContainerFiles,
) -> Run:
    """Start a run; it is starting until :meth:`Run.main_pid` is known or :meth:`Run.poll`
    reports its end."""
    files.scratch.mkdir(parents=True, exist_ok=True)
    files.pid.unlink(missing_ok=True)
    files.error.unlink(missing_ok=True)
    spec = {
        "command": list(command),
        "env": dict(env),
        "working_dir": working_dir,
        "mounts": [mount.to_json() for mount in mounts],
        "scratch": str(files.scratch.resolve()),
        "pid_file": str(files.pid),
        "error_file": str(files.error),
        "parent_pid": os.getpid(),
    }
    # The spec may hold Secret values: readable by the kubelet's user only; the shim deletes it.
    fd = os.open(files.spec, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(spec, handle)
    with files.log.open("ab") as log:
        shim = subprocess.Popen(
            [sys.executable, "-I", "-S", str(LAUNCHER), str(files.spec)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        )
    return Run(shim, files)


def exec_in(
    pid: int,
    command: Sequence[str],
    env: Mapping[str, str],
    timeout: float,
) -> tuple[int | None, str]:
    """Run ``command`` in the mount namespace of the container whose main process is ``pid``,
    with the container's env, in its working directory: (exit code or None on timeout, output)."""
    namespaces = (
        ["--mount"] if os.geteuid() == 0 else ["--user", "--mount", "--preserve-credentials"]
    )
    # --root and --wd with no value: the container's own root (it may chroot) and working dir.
    argv = [NSENTER, f"--target={pid}", *namespaces, "--root", "--wd", "--", *command]
    try:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=dict(env),
        )
    except OSError as exc:
        return 126, f"{NSENTER}: {exc}"
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.communicate(timeout=5.0)
        return None, ""
    return process.returncode, output.decode(errors="replace")


def wait_all(runs: Sequence[Run], deadline: float) -> bool:
    """Wait until every run has ended or ``deadline`` (monotonic) passes; True if all ended."""
    while True:
        if all(run.poll() is not None for run in runs):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
