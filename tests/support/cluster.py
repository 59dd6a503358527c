"""A distributed kconnect cluster for tests: real `kconnect distributed` processes sharing one
group and internal topics on the session's real broker."""

from __future__ import annotations

import re
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from tests.support.workers import Worker, free_port, wait_until, write_properties


class Cluster:
    def __init__(self, cwd: Path, bootstrap: str, **extra: str) -> None:
        self.cwd = cwd
        self.bootstrap = bootstrap
        self.group = f"cluster-{uuid.uuid4().hex[:8]}"
        self.extra = extra
        self.workers: list[Worker] = []

    def worker_props(self, port: int) -> dict[str, str]:
        return {
            "bootstrap.servers": self.bootstrap,
            "group.id": self.group,
            "config.storage.topic": f"{self.group}-configs",
            "offset.storage.topic": f"{self.group}-offsets",
            "status.storage.topic": f"{self.group}-status",
            "config.storage.replication.factor": "1",
            "offset.storage.replication.factor": "1",
            "status.storage.replication.factor": "1",
            "key.converter": "org.apache.kafka.connect.storage.StringConverter",
            "value.converter": "org.apache.kafka.connect.storage.StringConverter",
            "offset.flush.interval.ms": "500",
            "listeners": f"http://127.0.0.1:{port}",
            **self.extra,
        }

    def start(self, wait: bool = True, **props: str) -> Worker:
        """A new worker on a free port; `props` (dotted keys) are added to its file."""
        port = free_port()
        path = write_properties(
            self.cwd / f"worker-{port}.properties", {**self.worker_props(port), **props}
        )
        w = Worker(self.cwd, ["distributed", str(path)], port)
        self.workers.append(w)
        if wait:
            w.wait_ready()
        return w

    def restart(self, old: Worker, wait: bool = True) -> Worker:
        """`old` (stopped) started again: same file, same REST port, so the same worker id.
        The new process logs to a file of its own."""
        runs = sum(1 for w in self.workers if w.port == old.port)
        w = Worker(self.cwd, old.args, old.port, log_name=f"worker-{old.port}-{runs}.log")
        self.workers.append(w)
        if wait:
            w.wait_ready()
        return w

    @property
    def alive(self) -> list[Worker]:
        return [w for w in self.workers if w.proc.poll() is None]

    def any(self) -> Worker:
        return self.alive[0]

    def close(self) -> None:
        for w in self.workers:
            w.close()


def task_owners(status: dict[str, Any]) -> list[str]:
    return [t["worker_id"] for t in status["tasks"]]


def wait_all_running(w: Worker, name: str, tasks: int, avoid: str | None = None) -> dict[str, Any]:
    """Wait until the connector and its `tasks` tasks are RUNNING (none on worker `avoid`)."""

    def check() -> dict[str, Any] | None:
        s = w.status(name)
        if not s or s["connector"]["state"] != "RUNNING" or len(s["tasks"]) != tasks:
            return None
        if any(t["state"] != "RUNNING" for t in s["tasks"]):
            return None
        owners = [s["connector"]["worker_id"], *task_owners(s)]
        if avoid is not None and avoid in owners:
            return None
        return s

    return wait_until(f"{name}: connector and {tasks} tasks RUNNING", check, 90)  # type: ignore[no-any-return]


_START = re.compile(r"starting task (\S+)")


def task_starts(worker: Worker) -> Counter[str]:
    """How many times each task was started on this worker (from its log)."""
    return Counter(m.group(1).strip() for m in _START.finditer(worker.log()))
