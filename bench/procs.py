"""Worker processes for the benchmarks: start ``kconnect standalone`` or ``kconnect distributed``,
poll its REST API cheaply, read its memory and CPU from ``/proc``, and stop or kill it.

Invariants:

- **Every wait is bounded** and checks that the worker is still alive; a dead worker or a timeout
  raises :class:`HarnessError` with the tail of the worker's log, which is what ``make bench``
  prints before it exits non-zero.
- **Nothing outlives the harness.** Every process started here is tracked, and :func:`kill_all`
  (called on every exit path) kills the ones still running.
- **Polling is light.** Status is read over one kept-alive HTTP connection, so a fast poll costs
  the worker one small request, not a TCP handshake each time.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Literal, Protocol, TypeVar

from kconnect.config.properties import format_properties
from kconnect_devenv import processes

T = TypeVar("T")

LOG_TAIL_LINES = 40
STOP_TIMEOUT_S = 60.0
CLK_TCK = os.sysconf("SC_CLK_TCK")

_live: list[subprocess.Popen[bytes]] = []


class Every:
    """`due()` is true at most once per `period` seconds, the first call included: for checks a
    polling loop makes less often than it polls."""

    def __init__(self, period: float) -> None:
        self.period = period
        self._next = 0.0

    def due(self) -> bool:
        now = time.monotonic()
        if now < self._next:
            return False
        self._next = now + self.period
        return True


class HarnessError(RuntimeError):
    """The harness itself could not measure: a worker died, or a wait timed out."""


def free_port() -> int:
    """A loopback port for one server, out of the kernel's ephemeral range and reserved."""
    return processes.free_ports(1)[0]


def write_properties(path: Path, props: Mapping[str, str]) -> Path:
    path.write_text(format_properties(props))
    return path


def kill_all() -> None:
    """Kill every worker this harness started that still runs."""
    while _live:
        proc = _live.pop()
        if proc.poll() is None:
            proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)


def rss_bytes(pid: int) -> int:
    """VmRSS of `pid`, in bytes."""
    with open(f"/proc/{pid}/status", "rb") as f:
        for line in f:
            if line.startswith(b"VmRSS:"):
                return int(line.split()[1]) * 1024
    raise HarnessError(f"/proc/{pid}/status has no VmRSS line")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of `pid` (all its threads), in seconds."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        raw = f.read()
    # The command name may contain spaces; the fields after it are fixed.
    fields = raw[raw.rindex(b")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def connected_ports(pid: int) -> set[int]:
    """The remote ports of `pid`'s established TCP connections (IPv4 and IPv6), read from
    ``/proc``: its socket inodes from ``/proc/<pid>/fd``, their peers from
    ``/proc/<pid>/net/tcp*``."""
    inodes = set()
    fds = Path(f"/proc/{pid}/fd")
    for fd in fds.iterdir():
        with contextlib.suppress(OSError):  # a descriptor closed while we read
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[len("socket:[") : -1])
    ports = set()
    for table in ("tcp", "tcp6"):
        with contextlib.suppress(FileNotFoundError), open(f"/proc/{pid}/net/{table}") as f:
            next(f)  # the header
            for row in f:
                fields = row.split()
                # local_address rem_address st ... inode (fields 1, 2, 3 and 9); 01 is ESTABLISHED
                if fields[3] == "01" and fields[9] in inodes:
                    ports.add(int(fields[2].rsplit(":", 1)[1], 16))
    return ports


class WorkerFactory(Protocol):
    """Starts one worker of some runtime: :class:`WorkerProcess` itself for kconnect, or a
    subclass with its runtime's command."""

    def __call__(
        self,
        workdir: Path,
        name: str,
        worker: Mapping[str, str],
        connectors: list[Mapping[str, str]],
        mode: Literal["standalone", "distributed"] = "standalone",
        *,
        port: int | None = None,
    ) -> WorkerProcess: ...


class WorkerProcess:
    """One ``kconnect standalone`` or ``kconnect distributed`` process with its own directory, port
    and log. A distributed worker takes no connector files; connectors are created over REST.

    `port` is the REST port, picked free when not given; a worker started again on its old port
    keeps its worker id (``127.0.0.1:<port>``), so statuses before and after compare."""

    def __init__(
        self,
        workdir: Path,
        name: str,
        worker: Mapping[str, str],
        connectors: list[Mapping[str, str]],
        mode: Literal["standalone", "distributed"] = "standalone",
        *,
        port: int | None = None,
    ) -> None:
        if mode == "distributed" and connectors:
            raise ValueError("a distributed worker takes its connectors over REST, not as files")
        self.workdir = workdir
        self.port = free_port() if port is None else port
        self.worker_id = f"127.0.0.1:{self.port}"
        """The id a worker advertises in connector status: its REST listener's host and port."""
        self.log_path = workdir / f"{name}.log"
        props = {**worker, "listeners": f"http://127.0.0.1:{self.port}"}
        files = [write_properties(workdir / f"{name}.worker.properties", props)]
        for i, c in enumerate(connectors):
            files.append(write_properties(workdir / f"{name}.connector{i}.properties", c))
        self.args = self.command(mode, files)
        self._conn: http.client.HTTPConnection | None = None
        self._log = self.log_path.open("wb")
        self.started_at = time.monotonic()
        self.proc = subprocess.Popen(
            self.args,
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        _live.append(self.proc)

    def command(self, mode: Literal["standalone", "distributed"], files: list[Path]) -> list[str]:
        """The worker's command line; another runtime's worker overrides this."""
        return [sys.executable, "-m", "kconnect.cli", mode, *map(str, files)]

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError as e:
            return f"(no log: {e})"
        return "\n".join(text.splitlines()[-lines:])

    def fail(self, what: str) -> HarnessError:
        return HarnessError(f"{what}\n--- last lines of {self.log_path} ---\n{self.log_tail()}")

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            raise self.fail(f"worker {self.args} exited with {self.proc.returncode}")

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def _get_json(self, path: str) -> tuple[int, object]:
        return self._request("GET", path)

    def _request(self, method: str, path: str, body: object = None) -> tuple[int, object]:
        if self._conn is None:
            self._conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        data = None if body is None else json.dumps(body).encode()
        headers = {} if data is None else {"Content-Type": "application/json"}
        try:
            self._conn.request(method, path, data, headers)
            resp = self._conn.getresponse()
            raw = resp.read()
        except (OSError, http.client.HTTPException):
            self._conn.close()
            self._conn = None
            raise
        return resp.status, json.loads(raw) if raw else None

    def healthy(self) -> bool:
        """Whether ``GET /health`` answers 200; False while the REST API is not up yet."""
        try:
            return self._get_json("/health")[0] == 200
        except (OSError, http.client.HTTPException):
            return False

    def wait_healthy(self, timeout: float, interval: float) -> None:
        self.wait_for(
            "GET /health to answer 200", lambda: self.healthy() or None, timeout, interval
        )

    def create_connector(self, name: str, config: Mapping[str, str]) -> None:
        status, body = self._request("POST", "/connectors", {"name": name, "config": dict(config)})
        if status != 201:
            raise self.fail(f"POST /connectors {name} answered {status}: {json.dumps(body)[:2000]}")

    def status(self, connector: str) -> object:
        """The body of ``GET /connectors/<connector>/status``, or None while there is none."""
        try:
            status, body = self._get_json(f"/connectors/{connector}/status")
        except (OSError, http.client.HTTPException):
            return None
        return body if status == 200 else None

    def running(self, connector: str) -> bool:
        """Whether `connector` and all its tasks (at least one) are RUNNING; False while the REST
        API is not up yet."""
        try:
            status, body = self._get_json(f"/connectors/{connector}/status")
        except (OSError, http.client.HTTPException):
            return False
        if status != 200 or not isinstance(body, dict):
            return False
        self._raise_if_failed(connector, body)
        tasks = body.get("tasks") or []
        states = {t.get("state") for t in tasks if isinstance(t, dict)}
        return body.get("connector", {}).get("state") == "RUNNING" and states == {"RUNNING"}

    def check_healthy(self, connector: str) -> None:
        """Raise HarnessError if the process exited or `connector` or one of its tasks is FAILED,
        so that a run stops at a failure instead of waiting out its whole timeout."""
        self.check_alive()
        body = self.status(connector)
        if isinstance(body, dict):
            self._raise_if_failed(connector, body)

    def _raise_if_failed(self, connector: str, body: dict[object, object]) -> None:
        tasks = body.get("tasks")
        states = (
            [t.get("state") for t in tasks if isinstance(t, dict)]
            if isinstance(tasks, list)
            else []
        )
        connector_state = body.get("connector")
        if isinstance(connector_state, dict):
            states.append(connector_state.get("state"))
        if "FAILED" in states:
            raise self.fail(f"{connector} FAILED: {json.dumps(body)[:2000]}")

    def wait_running(self, connector: str, timeout: float, interval: float) -> float:
        """Poll until `connector` and its tasks are RUNNING; the monotonic time it was seen."""
        return self.wait_for(
            f"{connector} to be RUNNING",
            lambda: time.monotonic() if self.running(connector) else None,
            timeout,
            interval,
        )

    def wait_for(
        self, what: str, check: Callable[[], T | None], timeout: float, interval: float
    ) -> T:
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            found = check()
            if found is not None:
                return found
            if time.monotonic() > deadline:
                raise self.fail(f"timed out after {timeout:.0f}s waiting for {what}")
            time.sleep(interval)

    def kill(self) -> None:
        """SIGKILL: the worker gets no chance to leave its group or stop its tasks."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        with contextlib.suppress(ValueError):
            _live.remove(self.proc)
        self._log.close()

    def stop(self) -> None:
        """SIGTERM, then a bounded wait, then SIGKILL; a graceful stop that fails is reported but
        not fatal, since the figures were taken before."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                print(f"  worker {self.pid} ignored SIGTERM for {STOP_TIMEOUT_S:.0f}s; killing it")
                self.proc.kill()
                self.proc.wait(10)
        with contextlib.suppress(ValueError):
            _live.remove(self.proc)
        self._log.close()
