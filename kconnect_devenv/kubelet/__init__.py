"""The test kubelet: one node of the local control plane whose pods run as local processes.

The control plane of ``kconnect_devenv/controlplane.py`` has no scheduler and no kubelet, so its
Deployments only make Pending pods. This kubelet registers a Ready node, binds pending pods to it
(it is the scheduler too) and runs each pod's containers as processes on this machine, with the
pod's command, args and env, its volumes mounted in a private mount namespace and its own loopback
address as pod IP. It writes the pods' status, runs their probes, restarts crashed containers and,
when a pod is deleted, stops it and removes the object. ``docs/kubelet.md`` says what it does and
does not do; the modules of this package say how.

It is development infrastructure (the tests, ``make demo-k8s``, the benchmarks), not a product
feature. The Python API here starts it as a subprocess
(``python -m kconnect_devenv.kubelet``), so a crash in it never takes the test session down:

- :func:`start` returns once the kubelet printed ``KUBELET READY`` (node registered and Ready, pods
  listed), or raises :class:`StartError` with the tail of its log and leaves nothing running. The
  wait is bounded.
- With ``die_with_parent`` (the default), the kubelet gets SIGTERM when the calling thread dies, so
  a test session killed outright stops its pods too; the calling thread must outlive the kubelet.
- :meth:`Kubelet.stop` sends SIGTERM, waits for the pods to stop (bounded by the shutdown grace),
  then SIGKILLs what is left. Container processes die with the kubelet in any case.
- The state directory holds ``kubelet.log`` and ``pods/<namespace>_<name>_<uid>/`` with each
  container's ``<container>.log`` and, while it runs, ``<container>.pid``, and
  ``volumes/pvc-<claim uid>/`` for each PersistentVolume it provisioned (see ``claims.py``).

This module needs only the standard library, so that importing it costs nothing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final

from kconnect_devenv.processes import parent_death_signal, tail_text

READY_LINE: Final = "KUBELET READY"
DEFAULT_NODE_NAME: Final = "kconnect-test"
READY_TIMEOUT_S: Final = 60.0
SHUTDOWN_GRACE_S: Final = 15.0
KILL_WAIT_S: Final = 10.0
STOP_SLACK_S: Final = 15.0
LOG_FILE: Final = "kubelet.log"
LOG_TAIL_LINES: Final = 40
REPO: Final = Path(__file__).resolve().parents[2]


class StartError(RuntimeError):
    """The kubelet did not come up; it is not running."""


@dataclasses.dataclass(frozen=True)
class Kubelet:
    """A running test kubelet (a subprocess of this interpreter)."""

    process: subprocess.Popen[bytes]
    node_name: str
    state_dir: Path
    shutdown_grace: float
    pod_ip_prefix: str  # pods get <prefix>.2 .. <prefix>.254

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def log_path(self) -> Path:
        """The kubelet's own log."""
        return self.state_dir / LOG_FILE

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        """Stop the kubelet and its pods: SIGTERM, then SIGKILL if it takes too long."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=self.shutdown_grace + KILL_WAIT_S + STOP_SLACK_S)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=KILL_WAIT_S)

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        with contextlib.suppress(OSError):
            return tail_text(self.log_path.read_text("utf-8", errors="replace"), lines)
        return ""

    # ---- where a pod's files are

    def pod_dir(self, namespace: str, name: str, uid: str) -> Path:
        return self.state_dir / "pods" / f"{namespace}_{name}_{uid}"

    def pod_dirs(self, namespace: str, name: str) -> list[Path]:
        """The directories of every pod of that name this kubelet ran, oldest first."""
        found = (self.state_dir / "pods").glob(f"{namespace}_{name}_*")
        return sorted(found, key=lambda p: p.stat().st_mtime)

    def volume_dir(self, namespace: str, name: str, volume: str, uid: str | None = None) -> Path:
        """Where a volume of the pod lives on the host (e.g. to put a file in an emptyDir)."""
        return self._newest_dir(namespace, name, uid) / "volumes" / volume

    def _newest_dir(self, namespace: str, name: str, uid: str | None) -> Path:
        if uid is not None:
            return self.pod_dir(namespace, name, uid)
        dirs = self.pod_dirs(namespace, name)
        if not dirs:
            raise FileNotFoundError(f"this kubelet never ran a pod {namespace}/{name}")
        return dirs[-1]

    def container_log(
        self, namespace: str, name: str, container: str, uid: str | None = None
    ) -> Path:
        """The log of a container of the pod (the newest pod of that name unless ``uid``)."""
        return self._newest_dir(namespace, name, uid) / f"{container}.log"

    def container_pid(
        self, namespace: str, name: str, container: str | None = None, uid: str | None = None
    ) -> int | None:
        """The pid of a running container's main process, or None when it does not run.

        ``container`` may be left out when the pod has one container running.
        """
        dirs = [self.pod_dir(namespace, name, uid)] if uid else self.pod_dirs(namespace, name)
        pattern = f"{container}.pid" if container else "*.pid"
        pid_files = [path for d in dirs for path in d.glob(pattern)]
        if container is None and len({p.name for p in pid_files}) > 1:
            names = sorted({p.stem for p in pid_files})
            raise ValueError(f"pod {namespace}/{name} runs {names}; say which container")
        for path in reversed(pid_files):
            with contextlib.suppress(OSError, ValueError):
                pid = int(path.read_text("ascii").strip())
                os.kill(pid, 0)
                return pid
        return None


def start(
    kubeconfig: Path,
    state_dir: Path,
    *,
    node_name: str = DEFAULT_NODE_NAME,
    namespaces: Sequence[str] = (),
    pod_ip_prefix: str = "auto",
    node_labels: Mapping[str, str] | None = None,
    backoff_base: float = 1.0,
    backoff_max: float = 20.0,
    shutdown_grace: float = SHUTDOWN_GRACE_S,
    ready_timeout: float = READY_TIMEOUT_S,
    die_with_parent: bool = True,
) -> Kubelet:
    """Start a kubelet for the cluster of ``kubeconfig`` and wait until its node is Ready.

    ``pod_ip_prefix`` ``auto`` takes the first of 127.0.1, 127.0.2, ... that no other test kubelet
    on this machine holds, so concurrent sessions never share pod IPs."""
    state_dir = state_dir.resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    args = [
        sys.executable, "-m", "kconnect_devenv.kubelet",
        "--kubeconfig", str(kubeconfig),
        "--state-dir", str(state_dir),
        "--node-name", node_name,
        "--pod-ip-prefix", pod_ip_prefix,
        "--backoff-base", str(backoff_base),
        "--backoff-max", str(backoff_max),
        "--shutdown-grace-period", str(shutdown_grace),
    ]  # fmt: skip
    for namespace in namespaces:
        args += ["--namespace", namespace]
    for key, value in (node_labels or {}).items():
        args += ["--node-label", f"{key}={value}"]
    python_path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)
    log_path = state_dir / LOG_FILE
    offset = log_path.stat().st_size if log_path.exists() else 0
    preexec = parent_death_signal(signal.SIGTERM) if die_with_parent else None
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": python_path, "PYTHONUNBUFFERED": "1"},
            start_new_session=True,
            preexec_fn=preexec,  # noqa: PLW1509 - it only calls prctl, resolved before the fork
        )
    kubelet = Kubelet(process, node_name, state_dir, shutdown_grace, pod_ip_prefix)
    deadline = time.monotonic() + ready_timeout
    ready = re.compile(rf"^{READY_LINE} node={re.escape(node_name)} pod-ip-prefix=(\S+)$", re.M)
    while True:
        with log_path.open("rb") as handle:
            handle.seek(offset)
            found = ready.search(handle.read().decode(errors="replace"))
        if found is not None:
            return dataclasses.replace(kubelet, pod_ip_prefix=found.group(1))
        code = process.poll()
        if code is not None or time.monotonic() >= deadline:
            if code is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=KILL_WAIT_S)
            what = (
                f"exited with {code}" if code is not None else f"not ready after {ready_timeout:g}s"
            )
            raise StartError(f"the test kubelet {what}; its log ends:\n{kubelet.log_tail()}")
        time.sleep(0.1)
