"""The ACLs docs/security.md says a worker needs, proven on the secured broker with ACLs on.

The table is read from the page itself, so what is granted here is what the page says: every row,
with the worker's and connectors' names put in, goes to a new SCRAM-SHA-512 user, and a
distributed worker with a source, a sink and the sink's dead-letter queue runs with no more. Then
one row (or one operation of a row) at a time is left out, and what needs it fails within seconds
saying which ACL is missing.

The page's second table, the TransactionalId ACL of exactly-once source delivery, is proven the
same way: with it a DataGen source on an exactly-once worker delivers every seq once across a
killed worker; without it the task fails naming the transactional id and the ACL to grant, and the
zombie fencing of a connector whose task count changed says so too, in the log and in the tasks'
FAILED status, and succeeds once it is granted, the tasks then running with no restart; and so
does altering a stopped connector's offsets, which changes nothing until then.
"""

from __future__ import annotations

import re
import subprocess
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import (  # type: ignore[attr-defined]  # stubs lack re-exports
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    NewTopic,
    ResourcePatternType,
    ResourceType,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialUpsertion,
)

from kconnect_devenv import secured_kafka
from tests.support.cluster import Cluster, wait_all_running
from tests.support.topic_records import read_topic
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
RESOURCES = {
    "Topic": "TOPIC",
    "Group": "GROUP",
    "Cluster": "CLUSTER",
    "TransactionalId": "TRANSACTIONAL_ID",
}


@dataclass(frozen=True)
class Row:
    """One row of the page's table: resource type, name (with placeholders), pattern type,
    operations, as written."""

    resource: str
    name: str
    pattern: str
    operations: tuple[str, ...]


def documented_rows(heading: str = HEADING, least: int = 9) -> list[Row]:
    """The first table after `heading` (HEADING: the section's title) in docs/security.md."""
    text = DOC.read_text("utf-8")
    assert heading in text, f"{DOC} has no {heading!r} section"
    section = text[text.index(heading) :]
    rows = []
    for line in section.splitlines()[1:]:
        if line.startswith("## "):
            break
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[0] in RESOURCES:
            name = cells[1].strip("`")
            operations = tuple(op.strip() for op in cells[3].split(","))
            rows.append(Row(cells[0], name, cells[2], operations))
        elif rows and not line.startswith("|"):
            break  # the end of the table
    assert len(rows) >= least, rows
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
                out.append((RESOURCES[row.resource], name, row.pattern.upper(), OPERATIONS[op]))
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


# --- exactly-once source delivery (KIP-618)

EOS_HEADING = "With `exactly.once.source.support=enabled`, a distributed worker's principal"
EOS = {"exactly.once.source.support": "enabled"}
EOS_RECORDS = 300


def _datagen(s: Setup, tasks: int = 1) -> dict[str, str]:
    return {
        "connector.class": "DataGen",
        "topic": s.source_topic,
        "tasks.max": str(tasks),
        "records.per.second": "100",
        "max.records": str(EOS_RECORDS),
        "batch.size": "20",
    }


def _committed_seqs(bootstrap: str, topic: str) -> Counter[int]:
    """The DataGen seqs (the records' keys) a `read_committed` consumer finds in `topic`, up to
    the end offset the topic has when called."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"check-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
        }
    )
    seqs: Counter[int] = Counter()
    try:
        # read_committed: the end is the last stable offset; transaction markers fill the rest.
        end = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)[1]
        if end <= 0:
            return seqs
        consumer.assign([TopicPartition(topic, 0, 0)])
        deadline = time.monotonic() + 60
        quiet_since = time.monotonic()
        while time.monotonic() - quiet_since < 3 and time.monotonic() < deadline:
            batch = [m for m in consumer.consume(1000, 0.5) if m.error() is None]
            if batch:
                quiet_since = time.monotonic()
            for m in batch:
                if m.offset() < end:
                    seqs[int(m.key())] += 1
            if batch and batch[-1].offset() >= end - 1:
                break
        return seqs
    finally:
        consumer.close()


def _revoke(bootstrap: str, principal: str, acls: list[secured_kafka.Acl]) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    filters = [
        AclBindingFilter(
            ResourceType[resource],
            name,
            ResourcePatternType[pattern],
            principal,
            "*",
            AclOperation[operation],
            AclPermissionType.ALLOW,
        )
        for resource, name, pattern, operation in acls
    ]
    for future in admin.delete_acls(filters, request_timeout=30).values():
        future.result(timeout=30)


def test_exactly_once_with_the_documented_acls_commits_records_and_offsets_together(
    secured: secured_kafka.SecuredBroker, tmp_path: Path
) -> None:
    """Every row of both tables, no more: a DataGen source on an exactly-once worker over
    SASL_SSL; the worker is killed midway and started again, and a read_committed consumer
    finds every seq exactly once (the offsets were committed in the records' transactions)."""
    rows = documented_rows() + documented_rows(EOS_HEADING, least=1)
    s = _setup(secured, tmp_path)
    _prepare_topics(secured, s)
    secured_kafka.grant(secured.plaintext_bootstrap, f"User:{s.user}", s.acls(rows))
    try:
        worker = s.cluster.start(**EOS)
        status, body = worker.request(
            "POST", "/connectors", {"name": s.source, "config": _datagen(s)}
        )
        assert status == 201, body
        wait_all_running(worker, s.source, 1)
        wait_until(
            "a third of the records committed",
            lambda: (
                len(_committed_seqs(secured.plaintext_bootstrap, s.source_topic))
                >= EOS_RECORDS // 3
            ),
            60,
        )
        worker.kill()  # no graceful commit: an open transaction is left to the next instance
        first_log = worker.log()
        worker = s.cluster.restart(worker)
        wait_until(
            f"all {EOS_RECORDS} records committed",
            lambda: (
                len(_committed_seqs(secured.plaintext_bootstrap, s.source_topic)) >= EOS_RECORDS
            ),
            120,
        )
        seqs = _committed_seqs(secured.plaintext_bootstrap, s.source_topic)
        assert set(seqs) == set(range(EOS_RECORDS))
        repeated = {seq: n for seq, n in seqs.items() if n > 1}
        assert not repeated, repeated
        for log in (first_log, worker.log()):
            assert "AUTHORIZATION_FAILED" not in log, log
            assert "missing ACL" not in log, log
            assert s.password not in log
    finally:
        s.cluster.close()


def test_exactly_once_without_the_transactional_id_acl_fails_the_task_naming_it(
    secured: secured_kafka.SecuredBroker, tmp_path: Path
) -> None:
    rows = documented_rows()  # the worker's table only: no TransactionalId row
    s = _setup(secured, tmp_path)
    _prepare_topics(secured, s)
    secured_kafka.grant(secured.plaintext_bootstrap, f"User:{s.user}", s.acls(rows))
    try:
        worker = s.cluster.start(**EOS)
        status, body = worker.request(
            "POST", "/connectors", {"name": s.source, "config": _datagen(s)}
        )
        assert status == 201, body
        trace = wait_until(
            "the source task to fail",
            lambda: _failed_trace(worker, s.source),
            FAIL_WITHIN_S,
        )
        transactional_id = f"{s.cluster.group}-{s.source}-0"
        assert (
            "missing ACL: the client's principal is not allowed to use the transactional id "
            f"'{transactional_id}': grant it Write and Describe on the TransactionalId "
            f"'{transactional_id}'"
        ) in trace, trace
        assert "TRANSACTIONAL_ID_AUTHORIZATION_FAILED" in trace, trace
        assert s.password not in worker.log()
        assert not _committed_seqs(secured.plaintext_bootstrap, s.source_topic)
    finally:
        s.cluster.close()


def test_zombie_fencing_without_the_transactional_id_acl_says_why_and_retries(
    secured: secured_kafka.SecuredBroker, tmp_path: Path
) -> None:
    """The connector's owner fences the older task generation when the task count changes; with
    the TransactionalId ACL taken away it keeps the new tasks back and says why, in its log and
    in the tasks' status (FAILED, with the ACL to grant as the trace), and once the ACL is back
    the fencing succeeds and the tasks run, with no restart."""
    eos_rows = documented_rows(EOS_HEADING, least=1)
    s = _setup(secured, tmp_path)
    _prepare_topics(secured, s)
    principal = f"User:{s.user}"
    secured_kafka.grant(secured.plaintext_bootstrap, principal, s.acls(documented_rows()))
    secured_kafka.grant(secured.plaintext_bootstrap, principal, s.acls(eos_rows))
    try:
        worker = s.cluster.start(**EOS)
        status, body = worker.request(
            "POST", "/connectors", {"name": s.source, "config": _datagen(s)}
        )
        assert status == 201, body
        wait_all_running(worker, s.source, 1)
        wait_until(
            "records committed",
            lambda: _committed_seqs(secured.plaintext_bootstrap, s.source_topic),
            60,
        )
        _revoke(secured.plaintext_bootstrap, principal, s.acls(eos_rows))
        status, body = worker.request("PUT", f"/connectors/{s.source}/config", _datagen(s, tasks=2))
        assert status == 200, body
        transactional_id = f"{s.cluster.group}-{s.source}-0"
        message = f"zombie fencing of connector {s.source} failed"
        line = wait_until(
            "the fencing to fail, saying why",
            lambda: next((ln for ln in worker.log().splitlines() if message in ln), None),
            FAIL_WITHIN_S,
        )
        assert f"the transactional id '{transactional_id}'" in line, line
        assert "grant it Write and Describe on the TransactionalId" in line, line

        def held_back() -> list[dict[str, Any]] | None:
            # Task 0 of the old task configs, restarted as the connector config changes, may
            # first fail on its own (its producer lacks the ACL too); the fencing's report of the
            # new tasks follows.
            tasks: list[dict[str, Any]] = worker.status(s.source).get("tasks", [])
            fenced = [
                t
                for t in tasks
                if t["state"] == "FAILED" and t.get("trace", "").startswith("the zombie fencing")
            ]
            return tasks if len(tasks) == 2 and len(fenced) == 2 else None

        tasks = wait_until("both tasks shown FAILED by the fencing", held_back, FAIL_WITHIN_S)
        for task in tasks:
            first, *rest = task["trace"].splitlines()
            assert first.startswith(
                f"the zombie fencing of source connector {s.source} failed, so its tasks do not "
                "start: could not fence the older producers of the connector's tasks: missing "
                f"ACL: the client's principal is not allowed to use the transactional id "
                f"'{transactional_id}': grant it Write and Describe on the TransactionalId "
                f"'{transactional_id}'"
            ), first
            assert "TRANSACTIONAL_ID_AUTHORIZATION_FAILED" in first, first
            assert f"Worker {worker.port_id}, which owns the connector" in rest[0], rest
            assert "with no restart needed" in rest[0], rest
            assert task["worker_id"] == worker.port_id, task
            assert s.password not in task["trace"]
        # Retried every second, the same failure is not written again.
        attempts = worker.log().count(message)
        wait_until(
            "two more fencing attempts",
            lambda: worker.log().count(message) >= attempts + 2,
            FAIL_WITHIN_S,
        )
        records = [
            (r.key.decode(), r.value_json())
            for r in read_topic(secured.plaintext_bootstrap, f"{s.cluster.group}-status")
            if r.key is not None and r.key.decode().startswith(f"status-task-{s.source}-")
        ]
        held_back_records = Counter(
            k
            for k, v in records
            if v["state"] == "FAILED" and v["trace"].startswith("the zombie fencing")
        )
        assert held_back_records == {f"status-task-{s.source}-{n}": 1 for n in (0, 1)}, [
            (k, v["state"], (v.get("trace") or "")[:300]) for k, v in records
        ]
        secured_kafka.grant(secured.plaintext_bootstrap, principal, s.acls(eos_rows))
        wait_all_running(worker, s.source, 2)
        for task in worker.status(s.source)["tasks"]:
            assert "trace" not in task, task
        assert s.password not in worker.log()
    finally:
        s.cluster.close()


def test_the_offsets_api_without_the_transactional_id_acl_says_why_and_changes_nothing(
    secured: secured_kafka.SecuredBroker, tmp_path: Path
) -> None:
    """Altering a stopped exactly-once connector's offsets fences its tasks first, which needs
    the TransactionalId ACL: without it the request answers 500 with Kafka Connect's message and
    the reason, and nothing is written; with it back the same request succeeds."""
    eos_rows = documented_rows(EOS_HEADING, least=1)
    s = _setup(secured, tmp_path)
    _prepare_topics(secured, s)
    principal = f"User:{s.user}"
    secured_kafka.grant(secured.plaintext_bootstrap, principal, s.acls(documented_rows()))
    secured_kafka.grant(secured.plaintext_bootstrap, principal, s.acls(eos_rows))
    try:
        worker = s.cluster.start(**EOS)
        status, body = worker.request(
            "POST", "/connectors", {"name": s.source, "config": _datagen(s)}
        )
        assert status == 201, body
        wait_until(
            "records committed",
            lambda: _committed_seqs(secured.plaintext_bootstrap, s.source_topic),
            60,
        )
        status, _ = worker.request("PUT", f"/connectors/{s.source}/stop")
        assert status == 204
        worker.wait_state(s.source, "STOPPED", tasks=0)
        path = f"/connectors/{s.source}/offsets"
        before = worker.get(path)
        assert before["offsets"]
        altered = {"offsets": [{"partition": before["offsets"][0]["partition"], "offset": None}]}
        _revoke(secured.plaintext_bootstrap, principal, s.acls(eos_rows))
        status, body = worker.request("PATCH", path, altered)
        assert status == 500, body
        message = body["message"]
        assert message.startswith(
            "Failed to perform zombie fencing for source connector prior to modifying offsets: "
        ), message
        transactional_id = f"{s.cluster.group}-{s.source}-0"
        assert f"grant it Write and Describe on the TransactionalId '{transactional_id}'" in message
        assert worker.get(path) == before
        secured_kafka.grant(secured.plaintext_bootstrap, principal, s.acls(eos_rows))
        status, body = worker.request("PATCH", path, altered)
        assert status == 200, body
        assert worker.get(path)["offsets"] == before["offsets"][1:]
        assert s.password not in worker.log()
    finally:
        s.cluster.close()
