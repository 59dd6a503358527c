"""`kconnect lint` and `kconnect dry-run` run as the real CLI, on real connector configs.

Lint's messages are compared with what a real standalone worker's
`PUT /connector-plugins/{p}/config/validate` answers for the same configs. Dry runs are checked
to contact no broker: the worker's `bootstrap.servers` names a port this test listens on, and
nothing connects to it.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from kconnect_devenv import postgres as postgres_service
from tests.support.sql import query
from tests.support.workers import TEST_PLUGINS, Standalone, write_properties

REPO = Path(__file__).resolve().parents[2]
CLI_TIMEOUT_S = 120.0

BAD_CONFIGS: list[dict[str, str]] = [
    {
        "name": "bad-file-source",
        "connector.class": "FileStreamSource",
        "tasks.max": "two",
        "batch.size": "-1",
    },
    {
        "name": "bad-datagen",
        "connector.class": "DataGen",
        "topic": "users",
        "records.per.second": "fast",
        "transforms": "tag",
        "transforms.tag.type": "InsertField$Value",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter.schemas.enable": "maybe",
    },
    {
        "name": "bad-sink",
        "connector.class": "FileStreamSink",
        "topics": "a",
        "topics.regex": "b.*",
        "errors.tolerance": "some",
    },
    {"name": "unknown", "connector.class": "com.example.NoSuchConnector"},
]


def kconnect(cwd: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(TEST_PLUGINS)}
    return subprocess.run(
        [sys.executable, "-m", "kconnect.cli", *args],
        cwd=cwd,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        check=False,
    )


def rest_errors(answer: dict[str, Any]) -> dict[str, list[str]]:
    return {
        c["value"]["name"]: c["value"]["errors"] for c in answer["configs"] if c["value"]["errors"]
    }


def test_lint_gives_the_rest_validate_endpoints_messages(
    standalone: Standalone, tmp_path: Path
) -> None:
    worker = standalone.start()
    files = [str(write_properties(tmp_path / f"{c['name']}.properties", c)) for c in BAD_CONFIGS]
    lint = kconnect(tmp_path, "lint", "--output", "json", *files)
    assert lint.returncode == 1, lint.stderr
    linted = json.loads(lint.stdout)
    assert linted["valid"] is False
    by_name = {r["name"]: r for r in linted["results"]}
    for config in BAD_CONFIGS:
        plugin = config["connector.class"].rsplit(".", 1)[-1]
        status, answer = worker.request(
            "PUT", f"/connector-plugins/{plugin}/config/validate", config
        )
        assert status == 200, answer
        expected = rest_errors(answer)
        assert expected, config
        found: dict[str, list[str]] = {}
        for error in by_name[config["name"]]["errors"]:
            found.setdefault(error["key"], []).append(error["message"])
        assert found == expected, config["name"]
        assert by_name[config["name"]]["error_count"] == answer["error_count"]

    text = kconnect(tmp_path, "lint", *files)
    assert text.returncode == 1
    assert "tasks.max: invalid value 'two' for key 'tasks.max': expected an integer" in text.stdout
    assert "4 config(s) checked, 4 invalid" in text.stdout


def test_lint_passes_the_examples_and_a_strimzi_style_manifest(tmp_path: Path) -> None:
    examples = sorted(str(p) for p in (REPO / "examples").glob("*.yaml"))
    assert len(examples) >= 4
    ok = kconnect(tmp_path, "lint", *examples)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "all valid" in ok.stdout

    manifest = tmp_path / "strimzi-style.yaml"
    manifest.write_text(
        """
apiVersion: v1
kind: Namespace
metadata: {name: apps}
---
apiVersion: kconnect.io/v1alpha1
kind: KafkaConnector
metadata: {name: users}
spec:
  class: DataGen
  tasksMax: 2
  bootstrapServers: my-kafka:9092
  config:
    topic: users
    records.per.second: 10
    errors.tolerance: all
    errors.log.enable: true
  workerConfig:
    value.converter: org.apache.kafka.connect.json.JsonConverter
    value.converter.schemas.enable: false
    offset.flush.interval.ms: 5000
---
apiVersion: kconnect.io/v1alpha1
kind: StandaloneConnect
metadata: {name: files}
spec:
  bootstrapServers: my-kafka:9092
  connectors:
    - name: broken
      class: DataGen
      config:
        topic: users
        records.per.second: -3
        transforms: [a, b]
""",
        "utf-8",
    )
    out = kconnect(tmp_path, "lint", "--output", "json", str(manifest))
    assert out.returncode == 1, out.stderr
    results = json.loads(out.stdout)["results"]
    kinds = [(r["kind"], r["valid"]) for r in results]
    assert kinds[:2] == [("worker", True), ("connector", True)]
    refused = results[-1]
    assert refused["valid"] is False
    [error] = refused["errors"]
    assert "invalid value for key 'transforms'" in error["message"]
    assert "got a list" in error["message"]


def test_lint_never_resolves_or_prints_a_secret(tmp_path: Path) -> None:
    secret = secrets.token_hex(16)
    (tmp_path / "db.properties").write_text(f"password={secret}\nbatch=oops\n", "utf-8")
    worker = write_properties(
        tmp_path / "worker.properties",
        {
            "bootstrap.servers": "localhost:9092",
            "offset.storage.file.filename": str(tmp_path / "offsets"),
            "config.providers": "file",
            "config.providers.file.class": "FileConfigProvider",
        },
    )
    variable = f"${{file:{tmp_path / 'db.properties'}:batch}}"
    connector = write_properties(
        tmp_path / "c.properties",
        {
            "name": "c",
            "connector.class": "FileStreamSource",
            "topic": "t",
            "file": f"${{file:{tmp_path / 'db.properties'}:password}}",
            "batch.size": variable,
        },
    )
    for output in ("text", "json"):
        out = kconnect(
            tmp_path, "lint", "--worker", str(worker), "--output", output, str(connector)
        )
        assert out.returncode == 0, out.stdout + out.stderr
        assert secret not in out.stdout + out.stderr
        assert "oops" not in out.stdout + out.stderr
        assert "batch.size" in out.stdout  # a note: checked only where the worker runs


def test_unreadable_input_and_usage_errors_exit_2(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text("spec: [unclosed\n", "utf-8")
    (tmp_path / "other.yaml").write_text("apiVersion: v1\nkind: ConfigMap\n", "utf-8")
    for args in (
        ["lint", str(tmp_path / "missing.properties")],
        ["lint", str(tmp_path / "broken.yaml")],
        ["lint", str(tmp_path / "other.yaml")],
        ["lint"],
        ["dry-run", str(tmp_path / "missing.properties")],
        ["dry-run", "x.properties", "--records", "0"],
    ):
        out = kconnect(tmp_path, *args)
        assert out.returncode == 2, (args, out.stdout, out.stderr)
        assert "Traceback" not in out.stderr


class ClosedDoor:
    """A port this test listens on but never serves: a client that tried Kafka there would be
    seen in the accept queue."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.setblocking(False)
        self.bootstrap = f"127.0.0.1:{self.sock.getsockname()[1]}"

    def knocked(self) -> bool:
        try:
            conn, _ = self.sock.accept()
        except BlockingIOError:
            return False
        conn.close()
        return True

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def door() -> Any:
    d = ClosedDoor()
    try:
        yield d
    finally:
        d.close()


def dry_worker(tmp_path: Path, bootstrap: str, **extra: str) -> Path:
    return write_properties(
        tmp_path / "worker.properties",
        {
            "bootstrap.servers": bootstrap,
            "offset.storage.file.filename": str(tmp_path / "offsets"),
            "key.converter": "org.apache.kafka.connect.storage.StringConverter",
            "value.converter": "org.apache.kafka.connect.json.JsonConverter",
            "value.converter.schemas.enable": "false",
            **extra,
        },
    )


def test_dry_run_of_datagen_prints_converted_records_and_contacts_no_broker(
    tmp_path: Path, door: ClosedDoor
) -> None:
    worker = dry_worker(tmp_path, door.bootstrap)
    connector = write_properties(
        tmp_path / "gen.properties",
        {
            "name": "gen",
            "connector.class": "DataGen",
            "topic": "users",
            "schema": "users",
            "records.per.second": "200",
            "transforms": "tag,route",
            "transforms.tag.type": "org.apache.kafka.connect.transforms.InsertField$Value",
            "transforms.tag.static.field": "origin",
            "transforms.tag.static.value": "dry-run",
            "transforms.route.type": "org.apache.kafka.connect.transforms.RegexRouter",
            "transforms.route.regex": "users",
            "transforms.route.replacement": "users-copy",
        },
    )
    out = kconnect(tmp_path, "dry-run", str(connector), "--worker", str(worker), "--records", "5")
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(lines) == 5
    for seq, line in enumerate(lines):
        assert line["topic"] == "users-copy"
        assert line["key"] == str(seq)
        value = json.loads(line["value"])
        assert value["seq"] == seq
        assert value["origin"] == "dry-run"
        assert line["source_offset"] == {"seq": seq}
        assert line["headers"] == []
    summary = json.loads(out.stderr.strip().splitlines()[-1])["summary"]
    assert summary["records"] == 5
    assert not door.knocked()


def test_dry_run_of_a_file_source_to_a_file_stops_at_the_timeout(
    tmp_path: Path, door: ClosedDoor
) -> None:
    worker = dry_worker(tmp_path, door.bootstrap)
    data = tmp_path / "in.txt"
    data.write_text("alpha\nbeta\ngamma\n", "utf-8")
    connector = tmp_path / "file.json"
    connector.write_text(
        json.dumps(
            {
                "name": "file-source",
                "config": {
                    "connector.class": "FileStreamSource",
                    "topic": "lines",
                    "file": str(data),
                    "value.converter": "org.apache.kafka.connect.storage.StringConverter",
                },
            }
        ),
        "utf-8",
    )
    output = tmp_path / "records.jsonl"
    out = kconnect(
        tmp_path,
        "dry-run",
        str(connector),
        "--worker",
        str(worker),
        "--records",
        "10",
        "--timeout",
        "3",
        "--output",
        str(output),
    )
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in output.read_text("utf-8").splitlines()]
    assert [line["value"] for line in lines] == ["alpha", "beta", "gamma"]
    assert lines[0]["source_partition"] == {"filename": str(data)}
    summary = json.loads(out.stdout)["summary"]
    assert summary == {
        "connector": "file-source",
        "task": 0,
        "records": 3,
        "dropped_by_transforms": 0,
        "timed_out": True,
    }
    assert not door.knocked()


def test_dry_run_of_a_file_sink_puts_and_flushes_the_input(
    tmp_path: Path, door: ClosedDoor
) -> None:
    worker = dry_worker(tmp_path, door.bootstrap)
    sink_file = tmp_path / "sink.txt"
    connector = write_properties(
        tmp_path / "sink.properties",
        {
            "name": "file-sink",
            "connector.class": "FileStreamSink",
            "topics": "orders",
            "file": str(sink_file),
        },
    )
    records = "\n".join(
        json.dumps(r)
        for r in (
            {"value": {"id": 1}},
            {"key": "k2", "value": {"id": 2}, "headers": {"source": "test"}},
            {"topic": "orders", "partition": 3, "offset": 41, "value": {"id": 3}},
        )
    )
    out = kconnect(
        tmp_path, "dry-run", str(connector), "--worker", str(worker), "--input", "-", stdin=records
    )
    assert out.returncode == 0, out.stderr
    assert sink_file.read_text("utf-8").splitlines() == ["{id=1}", "{id=2}", "{id=3}"]
    summary = json.loads(out.stdout)["summary"]
    assert summary["put"] == 3
    assert summary["pre_commit"] == {"orders-0": 2, "orders-3": 42}
    assert not door.knocked()

    bad = kconnect(
        tmp_path, "dry-run", str(connector), "--worker", str(worker), "--input", "-",
        stdin='{"value": "not json"}\n',
    )  # fmt: skip
    assert bad.returncode == 1
    assert "stdin: line 1" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_dry_run_of_a_jdbc_sink_writes_to_postgres(
    tmp_path: Path, door: ClosedDoor, postgres_database: postgres_service.Database
) -> None:
    db = postgres_database
    worker = dry_worker(
        tmp_path,
        door.bootstrap,
        **{
            "value.converter.schemas.enable": "true",
        },
    )
    connector = write_properties(
        tmp_path / "jdbc.properties",
        {
            "name": "jdbc",
            "connector.class": "JdbcSink",
            "topics": "people",
            "connection.url": f"jdbc:postgresql://{db.host}:{db.port}/{db.name}",
            "connection.user": db.user,
            "connection.password": db.password,
            "auto.create": "true",
            "insert.mode": "insert",
        },
    )
    schema = {
        "type": "struct",
        "fields": [
            {"field": "id", "type": "int32", "optional": False},
            {"field": "name", "type": "string", "optional": True},
        ],
    }
    records = "\n".join(
        json.dumps({"value": {"schema": schema, "payload": {"id": i, "name": f"p{i}"}}})
        for i in range(3)
    )
    out = kconnect(
        tmp_path, "dry-run", str(connector), "--worker", str(worker), "--input", "-", stdin=records
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["summary"]["put"] == 3
    rows = query(db, "SELECT id, name FROM people ORDER BY id")
    assert rows == [(0, "p0"), (1, "p1"), (2, "p2")]
    assert not door.knocked()


def test_dry_run_resolves_variables_for_the_connector_but_never_prints_them(
    tmp_path: Path, door: ClosedDoor
) -> None:
    secret_path = tmp_path / f"secret-{secrets.token_hex(8)}.txt"
    (tmp_path / "db.properties").write_text(f"path={secret_path}\n", "utf-8")
    worker = dry_worker(
        tmp_path,
        door.bootstrap,
        **{
            "config.providers": "file",
            "config.providers.file.class": "FileConfigProvider",
            "value.converter": "org.apache.kafka.connect.storage.StringConverter",
        },
    )
    connector = write_properties(
        tmp_path / "c.properties",
        {
            "name": "c",
            "connector.class": "FileStreamSource",
            "topic": "t",
            "file": f"${{file:{tmp_path / 'db.properties'}:path}}",
        },
    )
    secret_path.write_text("one\ntwo\n", "utf-8")
    out = kconnect(tmp_path, "dry-run", str(connector), "--worker", str(worker), "--timeout", "3")
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert [line["value"] for line in lines] == ["one", "two"]  # the file the variable names
    assert secret_path.name not in out.stderr
    assert "${file:" in out.stderr  # log lines show the variable instead
    assert not door.knocked()
