"""Worker processes for tests: real `kconnect standalone` processes against the session's real
broker, driven through their REST API and signals."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from kconnect.config.properties import format_properties
from kconnect_devenv import processes

REPO = Path(__file__).resolve().parents[2]
TEST_PLUGINS = REPO / "tests" / "plugins"
WAIT_S = 60.0


def free_port() -> int:
    """A loopback port for one server, out of the kernel's ephemeral range and reserved."""
    return processes.free_ports(1)[0]


def write_properties(path: Path, props: Mapping[str, str]) -> Path:
    path.write_text(format_properties(props))
    return path


def wait_until(what: str, check: Callable[[], Any], timeout: float = WAIT_S) -> Any:
    """Poll `check` until it returns something truthy; fail naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.1)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}; last seen: {last!r}")


def holds_for(what: str, check: Callable[[], Any], window: float) -> None:
    """Poll `check` for `window` seconds; fail naming `what` the first time it is falsy. For
    absences: something that must not happen within a time it would have happened in."""
    deadline = time.monotonic() + window
    while True:
        seen = check()
        if not seen:
            pytest.fail(f"{what} stopped holding; last seen: {seen!r}")
        if time.monotonic() >= deadline:
            return
        time.sleep(0.1)


class Worker:
    """One `kconnect standalone` process."""

    def __init__(self, cwd: Path, args: list[str], port: int, log_name: str | None = None) -> None:
        self.cwd = cwd
        self.args = args
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.port_id = f"127.0.0.1:{port}"  # the worker id a worker advertises
        self.log_path = cwd / (log_name or f"worker-{port}.log")
        env = {**os.environ, "PYTHONPATH": str(TEST_PLUGINS)}
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kconnect.cli", *args],
            cwd=cwd,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def request(
        self, method: str, path: str, body: Any = None, raw: bytes | None = None
    ) -> tuple[int, Any]:
        data = raw if raw is not None else None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                raw = resp.read()
                return resp.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as e:
            raw = e.read()
            return e.code, json.loads(raw) if raw else None

    def get(self, path: str) -> Any:
        status, body = self.request("GET", path)
        assert status == 200, (path, status, body)
        return body

    def wait_ready(self) -> None:
        def ready() -> bool:
            if self.proc.poll() is not None:
                pytest.fail(f"worker exited with {self.proc.returncode}:\n{self.log()}")
            try:
                return self.request("GET", "/health")[0] == 200
            except OSError:
                return False

        wait_until("the worker to be healthy", ready)

    def status(self, name: str) -> dict[str, Any]:
        status, body = self.request("GET", f"/connectors/{name}/status")
        return body if status == 200 else {}

    def wait_state(self, name: str, state: str, tasks: int | None = 1) -> dict[str, Any]:
        def check() -> dict[str, Any] | None:
            s = self.status(name)
            if not s or s["connector"]["state"] != state:
                return None
            task_states = [t["state"] for t in s["tasks"]]
            if tasks is not None and (
                len(task_states) != tasks or (tasks and set(task_states) != {state})
            ):
                return None
            return s

        return wait_until(f"{name} to be {state}", check)  # type: ignore[no-any-return]

    def terminate(self, timeout: float = 60.0) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def interrupt(self, timeout: float = 60.0) -> int:
        """Ctrl-C: SIGINT, which stops the worker as gracefully as SIGTERM."""
        self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(30)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)
        self._log.close()


class Standalone:
    """Starts standalone workers in a test's directory; kills leftovers at the end."""

    def __init__(self, cwd: Path, bootstrap: str) -> None:
        self.cwd = cwd
        self.bootstrap = bootstrap
        self.offsets = cwd / "connect.offsets"
        self.workers: list[Worker] = []

    def worker_props(self, **extra: str) -> dict[str, str]:
        return {
            "bootstrap.servers": self.bootstrap,
            "key.converter": "org.apache.kafka.connect.storage.StringConverter",
            "value.converter": "org.apache.kafka.connect.storage.StringConverter",
            "offset.storage.file.filename": str(self.offsets),
            "offset.flush.interval.ms": "500",
            **{k.replace("_", "."): v for k, v in extra.items()},
        }

    def start(
        self,
        connectors: Sequence[Mapping[str, str]] | None = None,
        worker: Mapping[str, str] | None = None,
        wait: bool = True,
    ) -> Worker:
        port = free_port()
        props = dict(worker if worker is not None else self.worker_props())
        props["listeners"] = f"http://127.0.0.1:{port}"
        wfile = write_properties(self.cwd / f"worker-{port}.properties", props)
        files = []
        for c in connectors or []:
            files.append(str(write_properties(self.cwd / f"{c['name']}-{port}.properties", c)))
        w = Worker(self.cwd, ["standalone", str(wfile), *files], port)
        self.workers.append(w)
        if wait:
            w.wait_ready()
        return w

    def start_files(self, worker_file: str, connector_files: list[str]) -> Worker:
        """Start from files as written, adding only a free REST port to a copy of the worker
        file."""
        port = free_port()
        text = (self.cwd / worker_file).read_text()
        copy = self.cwd / f"worker-{port}.properties"
        copy.write_text(f"{text}\nlisteners=http://127.0.0.1:{port}\n")
        w = Worker(self.cwd, ["standalone", str(copy), *connector_files], port)
        self.workers.append(w)
        w.wait_ready()
        return w

    def run_to_exit(
        self, args: list[str], timeout: float = 60.0
    ) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "PYTHONPATH": str(TEST_PLUGINS)}
        return subprocess.run(
            [sys.executable, "-m", "kconnect.cli", *args],
            cwd=self.cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def close(self) -> None:
        for w in self.workers:
            w.close()


def read_lines(path: Path) -> list[str]:
    try:
        return path.read_text().splitlines()
    except FileNotFoundError:
        return []


def datagen_customers_to_file(
    standalone: Standalone,
    topic: str,
    converter_props: Mapping[str, str],
    total: int = 300,
    schema: str = "customers",
) -> None:
    """DataGen's `customers` records (or those of another DataGen `schema`, `text`: STRING
    values) through one standalone worker, from a source connector to a FileStreamSink, both with
    `converter_props` (a Schema Registry converter's keys): every `seq` reaches the file exactly
    once, and the worker stops cleanly."""
    out = standalone.cwd / "customers.txt"
    source = {
        "name": "customers",
        "connector.class": "DataGen",
        "schema": schema,
        "topic": topic,
        "max.records": str(total),
        **converter_props,
    }
    sink = {
        "name": "files",
        "connector.class": "FileStreamSink",
        "topics": topic,
        "file": str(out),
        "consumer.override.auto.offset.reset": "earliest",
        **converter_props,
    }
    w = standalone.start([source, sink])

    def seqs() -> list[int]:
        return sorted(int(m[1]) for line in read_lines(out) if (m := re.search(r"seq=(\d+)", line)))

    wait_until("every customer written to the file", lambda: len(seqs()) >= total)
    assert seqs() == list(range(total))
    assert w.terminate() == 0
