"""The ACLs docs/security.md says a worker needs, proven on the secured broker with ACLs on.

The table is read from the page itself, so what is granted here is what the page says: every row,
with the worker's and connectors' names put in, goes to a new SCRAM-SHA-512 user, and a
distributed worker with a source, a sink and the sink's dead-letter queue runs with no more. Then
one row (or one operation of a row) at a time is left out, and what needs it fails within seconds
saying which ACL is missing.
"""

from __future__ import annotations

import re
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import (  # type: ignore[attr-defined]  # stubs lack re-exports
    AdminClient,
    NewTopic,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialUpsertion,
)

from kconnect_devenv import secured_kafka
from tests.support.cluster import Cluster, wait_all_running
from tests.support.workers import Worker, wait_until

pytestmark = pytest.mark.timeout(240)

DOC = Path(__file__).resolve().parents[2] / "docs" / "security.md"
HEADING = "## The ACLs a worker needs"
FAIL_WITHIN_S = 45.0
OPERATIONS = {
    "Create": "CREATE",
    "Read": "READ",
    "Write": "WRITE",
    "Alter": "ALTER",
    "Delete": "DELETE",
    "Describe": "DESCRIBE",
    "DescribeConfigs": "DESCRIBE_CONFIGS",
}


@dataclass(frozen=True)
class Row:
    """One row of the page's table: resource type, name (with placeholders), pattern type,
    operations, as written."""

    resource: str
    name: str
    pattern: str
    operations: tuple[str, ...]


def documented_rows() -> list[Row]:
    """The table under HEADING in docs/security.md."""
    text = DOC.read_text("utf-8")
    assert HEADING in text, f"{DOC} has no {HEADING!r} section"
    section = text[text.index(HEADING) :]
    rows = []
    for line in section.splitlines()[1:]:
        if line.startswith("## "):
            break
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[0] in ("Topic", "Group", "Cluster"):
            name = cells[1].strip("`")
            operations = tuple(op.strip() for op in cells[3].split(","))
            rows.append(Row(cells[0], name, cells[2], operations))
        elif rows and not line.startswith("|"):
            break  # the end of the table
    assert len(rows) >= 9, rows
    for row in rows:
        unknown = [op for op in row.operations if op not in OPERATIONS]
        assert not unknown, f"unknown operation in {row}"
        assert row.pattern in ("literal", "prefixed"), row
    return rows


@dataclass
class Setup:
    """One test's principal, cluster, connectors and topics, all named afresh."""

    user: str
    password: str
    cluster: Cluster
    source: str
    sink: str
    source_topic: str
    sink_topic: str
    dlq: str

    def names(self) -> dict[str, str]:
        group = self.cluster.group
        return {
            "<config.storage.topic>": f"{group}-configs",
            "<offset.storage.topic>": f"{group}-offsets",
            "<status.storage.topic>": f"{group}-status",
            "<group.id>": group,
            "<source topic>": self.source_topic,
            "<sink topic>": self.sink_topic,
            "<sink connector>": self.sink,
            "<dead letter queue topic>": self.dlq,
        }

    def acls(
        self, rows: list[Row], without: tuple[str, str] | None = None
    ) -> list[secured_kafka.Acl]:
        """The rows' ACLs for this setup; `without` (name as written, operation) leaves one out."""
        names = self.names()
        out = []
        for row in rows:
            name = re.sub(r"<[^>]+>", lambda m: names[m.group(0)], row.name)
            for op in row.operations:
                if without == (row.name, op):
                    continue
                out.append((row.resource.upper(), name, row.pattern.upper(), OPERATIONS[op]))
        return out


def _setup(secured: secured_kafka.SecuredBroker, tmp_path: Path) -> Setup:
    tag = uuid.uuid4().hex[:8]
    user, password = f"acl-{tag}", f"acl-{tag}-password"
    admin = AdminClient({"bootstrap.servers": secured.plaintext_bootstrap})
    upsert = UserScramCredentialUpsertion(
        user, ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 4096), password.encode()
    )
    for future in admin.alter_user_scram_credentials([upsert]).values():
        future.result(timeout=30)
    client = {
        "bootstrap.servers": secured.bootstrap("SASL_SSL"),
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.jaas.config": (
            "org.apache.kafka.common.security.scram.ScramLoginModule required "
            f'username="{user}" password="{password}";'
        ),
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(secured.pki.ca),
    }
    return Setup(
        user=user,
        password=password,
        cluster=Cluster(tmp_path, secured.plaintext_bootstrap, **client),
        source=f"acl-source-{tag}",
        sink=f"acl-sink-{tag}",
        source_topic=f"acl-out-{tag}",
        sink_topic=f"acl-in-{tag}",
        dlq=f"acl-dlq-{tag}",
    )


SINK_RECORDS = [b'{"n": 1}', b"not json", b'{"n": 2}']


def _prepare_topics(secured: secured_kafka.SecuredBroker, s: Setup) -> None:
    """The connectors' topics, made and filled by the super user: the source's (empty) and the
    sink's (two JSON records and one that is not, for the dead-letter queue)."""
    admin = AdminClient({"bootstrap.servers": secured.plaintext_bootstrap})
    futures = admin.create_topics([NewTopic(t, 1, 1) for t in (s.source_topic, s.sink_topic)])
    for future in futures.values():
        future.result(timeout=30)
    producer = Producer({"bootstrap.servers": secured.plaintext_bootstrap})
    for value in SINK_RECORDS:
        producer.produce(s.sink_topic, value)
    assert producer.flush(30) == 0


def _connectors(s: Setup, tmp_path: Path) -> dict[str, dict[str, str]]:
    lines = tmp_path / "in.txt"
    lines.write_text("one\ntwo\nthree\n")
    return {
        s.source: {
            "connector.class": "FileStreamSource",
            "file": str(lines),
            "topic": s.source_topic,
        },
        s.sink: {
            "connector.class": "FileStreamSink",
            "file": str(tmp_path / "out.txt"),
            "topics": s.sink_topic,
            "value.converter": "org.apache.kafka.connect.json.JsonConverter",
            "value.converter.schemas.enable": "false",
            "errors.tolerance": "all",
            "errors.deadletterqueue.topic.name": s.dlq,
            "errors.deadletterqueue.topic.replication.factor": "1",
        },
    }


def _read_all(bootstrap: str, topic: str, count: int) -> list[bytes]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"check-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
        }
    )
    try:
        consumer.subscribe([topic])
        got: list[bytes] = []

        def read() -> bool:
            msg = consumer.poll(0.5)
            value = None if msg is None or msg.error() is not None else msg.value()
            if value is not None:
                got.append(value)
            return len(got) >= count

        wait_until(f"{count} records in {topic}", read, 60)
        return got
    finally:
        consumer.close()


def _topics(bootstrap: str) -> set[str]:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    return set(admin.list_topics(timeout=30).topics)


def test_the_documented_acls_are_enough_for_a_distributed_worker(
    secured: secured_kafka.SecuredBroker, tmp_path: Path
) -> None:
    rows = documented_rows()
    s = _setup(secured, tmp_path)
    _prepare_topics(secured, s)
    secured_kafka.grant(secured.plaintext_bootstrap, f"User:{s.user}", s.acls(rows))
    try:
        worker = s.cluster.start()
        for name, config in _connectors(s, tmp_path).items():
            status, body = worker.request("POST", "/connectors", {"name": name, "config": config})
            assert status == 201, body
        for name in (s.source, s.sink):
            wait_all_running(worker, name, 1)
        assert sorted(_read_all(secured.plaintext_bootstrap, s.source_topic, 3)) == [
            b"one",
            b"three",
            b"two",
        ]
        out = tmp_path / "out.txt"
        wait_until("the sink's two JSON records", lambda: len(_lines(out)) == 2)
        assert _read_all(secured.plaintext_bootstrap, s.dlq, 1) == [b"not json"]
        # Deleting a connector deletes its task topic (Delete on `<group.id>-tasks-`).
        task_topic = f"{s.cluster.group}-tasks-{s.source}-"
        assert any(t.startswith(task_topic) for t in _topics(secured.plaintext_bootstrap))
        status, body = worker.request("DELETE", f"/connectors/{s.source}")
        assert status == 204, body
        wait_until(
            "the deleted source's task topic to go",
            lambda: not any(t.startswith(task_topic) for t in _topics(secured.plaintext_bootstrap)),
        )
        log = worker.log()
        assert "AUTHORIZATION_FAILED" not in log, log
        assert "missing ACL" not in log, log
        assert s.password not in log
    finally:
        s.cluster.close()


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


# (row name as written, operation left out) → what fails and how it says so.
WORKER_FAILS = "worker"
MISSING: dict[tuple[str, str], tuple[str, tuple[str, ...]]] = {
    ("<group.id>", "Read"): (WORKER_FAILS, ("missing ACL", "consumer group")),
    ("<config.storage.topic>", "Create"): (WORKER_FAILS, ("missing ACL", "create the topic")),
    ("<config.storage.topic>", "Read"): (WORKER_FAILS, ("missing ACL", "topic")),
    ("<source topic>", "Write"): ("source", ("missing ACL", "a topic")),
    ("<sink topic>", "Read"): ("sink", ("missing ACL", "a topic")),
    ("connect-<sink connector>", "Read"): ("sink", ("missing ACL", "a consumer group")),
    ("<dead letter queue topic>", "Create"): ("sink", ("missing ACL", "Create on the topic")),
}


def _case_id(missing: tuple[str, str]) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", f"{missing[0]} {missing[1]}").strip("-")


@pytest.mark.parametrize("missing", sorted(MISSING), ids=_case_id)
def test_each_documented_acl_is_needed_and_its_absence_is_named(
    missing: tuple[str, str], secured: secured_kafka.SecuredBroker, tmp_path: Path
) -> None:
    rows = documented_rows()
    assert any(missing[0] == r.name and missing[1] in r.operations for r in rows), (
        f"{missing} is not in the page's table any more"
    )
    what, phrases = MISSING[missing]
    s = _setup(secured, tmp_path)
    _prepare_topics(secured, s)
    secured_kafka.grant(secured.plaintext_bootstrap, f"User:{s.user}", s.acls(rows, missing))
    try:
        if what == WORKER_FAILS:
            worker = s.cluster.start(wait=False)
            try:
                code = worker.proc.wait(FAIL_WITHIN_S)
            except subprocess.TimeoutExpired:
                pytest.fail(f"the worker still runs after {FAIL_WITHIN_S:.0f}s:\n{worker.log()}")
            assert code != 0
            message = worker.log()
        else:
            worker = s.cluster.start()
            name = s.source if what == "source" else s.sink
            config = _connectors(s, tmp_path)[name]
            status, body = worker.request("POST", "/connectors", {"name": name, "config": config})
            assert status == 201, body
            message = wait_until(
                f"the {what} task to fail", lambda: _failed_trace(worker, name), FAIL_WITHIN_S
            )
        for phrase in phrases:
            assert phrase in message, message
        assert s.password not in worker.log()
    finally:
        s.cluster.close()


def _failed_trace(worker: Worker, name: str) -> str | None:
    status: dict[str, Any] = worker.status(name)
    for task in status.get("tasks", []):
        if task["state"] == "FAILED":
            return str(task.get("trace", ""))
    return None
