"""`make demo`: Apache Kafka's quickstart, unchanged, on kconnect and a real Kafka broker; then
a three-worker cluster that loses a worker.

It starts a private single-node broker (or uses $KAFKA_BOOTSTRAP). Part one runs
`kconnect standalone` with Kafka's own quickstart config files plus a data generator, moves lines
file → Kafka → file, shows the REST API, pauses and resumes, and stops gracefully with SIGTERM.
Part two starts three `kconnect distributed` workers, spreads six tasks over them, kills one
with SIGKILL and times how long its tasks take to run again on the others.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from kconnect.config.properties import format_properties
from kconnect_devenv import kafka

ROOT = Path(__file__).resolve().parent.parent
QUICKSTART = ROOT / "examples" / "quickstart"
RECORDS = 100_000


def say(text: str) -> None:
    print(f"\n\033[1m==> {text}\033[0m", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait(what: str, check: Callable[[], bool], timeout: float = 120.0) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if check():
            return time.monotonic() - start
        time.sleep(0.05)
    raise SystemExit(f"demo: timed out waiting for {what}")


def lines(path: Path) -> int:
    try:
        with path.open("rb") as f:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
    except FileNotFoundError:
        return 0


class Rest:
    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"

    def call(self, method: str, path: str) -> tuple[int, object]:
        req = urllib.request.Request(self.base + path, method=method)  # noqa: S310 - loopback
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310
                body = resp.read()
                return resp.status, json.loads(body) if body else None
        except OSError:
            return 0, None

    def state(self, name: str) -> tuple[str, list[str]]:
        _, body = self.call("GET", f"/connectors/{name}/status")
        if not isinstance(body, dict):
            return "", []
        return body["connector"]["state"], [t["state"] for t in body["tasks"]]


def run(bootstrap: str, work: Path) -> None:
    port = free_port()
    worker = (QUICKSTART / "connect-standalone.properties").read_text()
    worker = worker.replace("localhost:9092", bootstrap)
    worker = worker.replace("/tmp/connect.offsets", str(work / "connect.offsets"))
    worker = worker.replace("offset.flush.interval.ms=10000", "offset.flush.interval.ms=1000")
    (work / "connect-standalone.properties").write_text(
        worker + f"listeners=http://127.0.0.1:{port}\n"
    )
    (work / "test.txt").write_text("".join(f"hello kconnect, line {i}\n" for i in range(1, 6)))
    (work / "datagen.json").write_text(
        json.dumps(
            {
                "name": "datagen",
                "config": {
                    "connector.class": "DataGen",
                    "topic": "demo-datagen",
                    "schema": "users",
                    "max.records": str(RECORDS),
                    "tasks.max": "1",
                },
            }
        )
    )
    (work / "datagen-sink.properties").write_text(
        format_properties(
            {
                "name": "datagen-sink",
                "connector.class": "FileStreamSink",
                "topics": "demo-datagen",
                "file": str(work / "users.txt"),
            }
        )
    )
    say("kconnect standalone with Kafka's quickstart files (only the broker address changed)")
    for f in ("connect-file-source.properties", "connect-file-sink.properties"):
        print(f"--- {f}\n{(QUICKSTART / f).read_text().strip()}")
    log = (work / "worker.log").open("wb")
    started = time.monotonic()
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "kconnect.cli", "standalone",
            "connect-standalone.properties",
            str(QUICKSTART / "connect-file-source.properties"),
            str(QUICKSTART / "connect-file-sink.properties"),
            "datagen.json", "datagen-sink.properties",
        ],
        cwd=work, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    rest = Rest(port)
    try:
        names = ["local-file-source", "local-file-sink", "datagen", "datagen-sink"]
        wait("every connector RUNNING", lambda: all(rest.state(n)[0] == "RUNNING" for n in names))
        print(f"all connectors RUNNING {time.monotonic() - started:.2f}s after the process started")
        say(f"GET {rest.base}/connectors?expand=status")
        _, body = rest.call("GET", "/connectors?expand=status")
        assert isinstance(body, dict)
        for name, item in sorted(body.items()):
            s = item["status"]
            tasks = ", ".join(f"{t['id']}:{t['state']}" for t in s["tasks"])
            print(f"  {name:<18} {s['type']:<6} {s['connector']['state']:<8} tasks [{tasks}]")

        say("test.txt → topic connect-test → test.sink.txt")
        sink = work / "test.sink.txt"
        wait("the quickstart lines in test.sink.txt", lambda: lines(sink) >= 5)
        with (work / "test.txt").open("a") as f:
            f.write("appended while running\n")
        wait("the appended line", lambda: lines(sink) >= 6)
        print(sink.read_text(), end="")

        say(f"DataGen → topic demo-datagen → users.txt ({RECORDS:,} JSON records with schemas)")
        wait("every generated record", lambda: lines(work / "users.txt") >= RECORDS, 300)
        took = time.monotonic() - started
        print(
            f"{lines(work / 'users.txt'):,} records generated, through Kafka and written out, "
            f"all within {took:.1f}s of the worker's start"
        )
        print("first record:", (work / "users.txt").open().readline().strip()[:160])

        say("PUT /connectors/local-file-source/pause, then resume")
        rest.call("PUT", "/connectors/local-file-source/pause")
        wait("PAUSED", lambda: rest.state("local-file-source") == ("PAUSED", ["PAUSED"]))
        print("local-file-source:", rest.state("local-file-source"))
        rest.call("PUT", "/connectors/local-file-source/resume")
        wait("RUNNING", lambda: rest.state("local-file-source") == ("RUNNING", ["RUNNING"]))
        print("local-file-source:", rest.state("local-file-source"))

        say("SIGTERM: drain, flush, commit, exit")
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(60)
        print(f"exit code {code}; committed source offsets:")
        offsets = json.loads((work / "connect.offsets").read_text())["offsets"]
        for key, value in offsets:
            print(f"  {key} -> {value}")
        if code != 0:
            raise SystemExit(f"demo: the worker exited with {code}; see {work / 'worker.log'}")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()


def cluster(bootstrap: str, work: Path) -> None:
    group = f"demo-{os.getpid()}"
    ports = [free_port() for _ in range(3)]
    procs: list[subprocess.Popen[bytes]] = []
    say("three `kconnect distributed` workers, one group: " + group)
    try:
        for port in ports:
            path = work / f"worker-{port}.properties"
            path.write_text(
                format_properties(
                    {
                        "bootstrap.servers": bootstrap,
                        "group.id": group,
                        "config.storage.topic": f"{group}-configs",
                        "offset.storage.topic": f"{group}-offsets",
                        "status.storage.topic": f"{group}-status",
                        "config.storage.replication.factor": "1",
                        "offset.storage.replication.factor": "1",
                        "status.storage.replication.factor": "1",
                        "listeners": f"http://127.0.0.1:{port}",
                    }
                )
            )
            log = (work / f"worker-{port}.log").open("wb")
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "kconnect.cli", "distributed", str(path)],
                    cwd=work,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        rests = [Rest(p) for p in ports]
        wait("every worker healthy", lambda: all(r.call("GET", "/health")[0] == 200 for r in rests))
        body = json.dumps(
            {
                "name": "gen",
                "config": {
                    "connector.class": "DataGen",
                    "topic": f"{group}-data",
                    "tasks.max": "6",
                    "records.per.second": "3000",
                },
            }
        ).encode()
        req = urllib.request.Request(  # noqa: S310 - loopback
            rests[0].base + "/connectors", data=body, method="POST",
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        urllib.request.urlopen(req, timeout=30).close()  # noqa: S310
        print(f"POST {rests[0].base}/connectors  (DataGen, tasks.max=6)")

        def owners() -> list[str]:
            _, status = rests[0].call("GET", "/connectors/gen/status")
            if not isinstance(status, dict):
                return []
            tasks = status["tasks"]
            if len(tasks) != 6 or any(t["state"] != "RUNNING" for t in tasks):
                return []
            return [t["worker_id"] for t in tasks]

        wait("six RUNNING tasks", lambda: bool(owners()))
        for i, owner in enumerate(owners()):
            print(f"  task {i}: RUNNING on {owner}")
        victim = 2
        victim_id = f"127.0.0.1:{ports[victim]}"
        say(f"SIGKILL the worker at {victim_id}")
        procs[victim].kill()
        took = wait(
            "the tasks to run elsewhere",
            lambda: bool(owners()) and victim_id not in owners(),
            120,
        )
        for i, owner in enumerate(owners()):
            print(f"  task {i}: RUNNING on {owner}")
        print(f"every task RUNNING again {took:.1f}s after the kill (session.timeout.ms=10000)")
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(60)
            except subprocess.TimeoutExpired:
                p.kill()


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="kconnect-demo-") as tmp:
        work = Path(tmp)
        bootstrap = os.environ.get("KAFKA_BOOTSTRAP")
        if bootstrap:
            run(bootstrap, work)
            cluster(bootstrap, work)
            return
        say("starting a single-node Kafka 4.1 broker (KRaft) on loopback")
        state = work / "kafka"
        broker = kafka.start(state, die_with_parent=True)
        print(f"KAFKA_BOOTSTRAP={broker.bootstrap}")
        try:
            run(broker.bootstrap, work)
            cluster(broker.bootstrap, work)
        finally:
            kafka.stop(state)
    say("done")


if __name__ == "__main__":
    main()
