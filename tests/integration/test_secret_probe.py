"""A probe of a real `kconnect distributed` worker on the real broker: secrets given through
`${file:...}`, `${dir:...}` and `${env:...}` never appear, resolved, in a REST answer, in the
worker's log, or in the config and status topics, while the connectors that use them run (and
fail) with their real values.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition

from tests.support.cluster import Cluster
from tests.support.secrets import MARKER, bad_configs, leaks, provider_props, write_secrets
from tests.support.workers import Worker, wait_until


def _topic_text(bootstrap: str, topic: str) -> str:
    """Every key and value of every partition of a topic, as text."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"probe-{topic}"})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        out: list[str] = []
        for p in partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            consumer.assign([TopicPartition(topic, p, low)])
            seen = low
            while seen < high:
                msg = consumer.poll(5)
                assert msg is not None, f"{topic}-{p}: only {seen} of {high} records read"
                assert msg.error() is None, msg.error()
                seen = msg.offset() + 1
                for part in (msg.key(), msg.value()):
                    if part is not None:
                        out.append(part.decode("utf-8", "replace"))
        return "\n".join(out)
    finally:
        consumer.close()


def _request(w: Worker, method: str, path: str, body: Any = None) -> tuple[int, str]:
    status, answer = w.request(method, path, body)
    return status, json.dumps(answer, ensure_ascii=False)


def test_no_answer_log_or_internal_topic_holds_a_resolved_secret(
    tmp_path: Path,
    kafka_bootstrap: str,
    monkeypatch: pytest.MonkeyPatch,
    new_topic,  # type: ignore[no-untyped-def]
) -> None:
    secrets = write_secrets(tmp_path, monkeypatch)
    mounted = secrets / "mounted"
    topic = new_topic()
    source_file = tmp_path / "in.txt"
    source_file.write_text("".join(f"line {i}\n" for i in range(5)))
    (mounted / "source").write_text(f"{source_file}\n")  # as a mounted Secret: a trailing newline
    (mounted / "sink").write_text(str(tmp_path / "missing" / "S3CRET-out.txt"))
    # The source's file name is a secret too, but without the marker: FileStreamSource keys its
    # offsets by it, which is the connector's data (docs/operations.md).
    monkeypatch.setenv("KC_SOURCE_FILE", str(source_file))
    cluster = Cluster(tmp_path, kafka_bootstrap, **provider_props())
    try:
        w = cluster.start()
        answers: list[tuple[str, int, str]] = []

        def ask(method: str, path: str, body: Any = None) -> int:
            status, text = _request(w, method, path, body)
            answers.append((f"{method} {path}", status, text))
            return status

        # Rejected: every config of the probe, through every endpoint that takes one.
        ask(
            "POST",
            "/connectors",
            {
                "name": "kept",
                "config": {
                    "connector.class": "FileStreamSink",
                    "topics": topic,
                    "file": "/dev/null",
                },
                "initial_state": "STOPPED",
            },
        )
        for config in bad_configs(mounted, secrets / "db.properties").values():
            # The class as written is compared with the path's, as Kafka Connect does.
            matches = config.get("connector.class") == "FileStreamSink"
            validated = ask("PUT", "/connector-plugins/FileStreamSink/config/validate", config)
            assert validated == (200 if matches else 400)
            assert ask("POST", "/connectors", {"name": "bad", "config": config}) == 400
            assert ask("PUT", "/connectors/bad/config", config) == 400
            assert ask("PATCH", "/connectors/kept/config", config) == 400
        # Accepted: a source reading a file a variable names, a sink failing on a secret path.
        source = {
            "connector.class": "FileStreamSource",
            "topic": topic,
            "file": "${env:KC_SOURCE_FILE}",
            "producer.override.client.id": "${env:KC_SECRET_ENV}",
        }
        sink = {
            "connector.class": "FileStreamSink",
            "topics": topic,
            "file": f"${{dir:{mounted}:sink}}",
            "consumer.override.client.rack": f"${{dir:{mounted}:weird}}",
        }
        assert ask("POST", "/connectors", {"name": "source", "config": source}) == 201
        assert ask("POST", "/connectors", {"name": "sink", "config": sink}) == 201

        def sink_failed() -> bool:
            s = w.status("sink")
            return [t["state"] for t in s.get("tasks", [])] == ["FAILED"]

        wait_until("the sink task to fail", sink_failed)
        w.wait_state("source", "RUNNING")
        for name in ("source", "sink", "kept"):
            for path in ("", "/config", "/status", "/tasks", "/tasks/0/status", "/topics"):
                ask("GET", f"/connectors/{name}{path}")
        ask("GET", "/connectors/sink/offsets")
        ask("GET", "/connectors?expand=info&expand=status")
        ask("POST", "/connectors/sink/restart?includeTasks=true&onlyFailed=true")
        wait_until("the restarted sink task to fail again", sink_failed)
        ask("GET", "/connector-plugins?connectorsOnly=false")
        ask("GET", "/connector-plugins/FileStreamSink/config")
        for what, status, text in answers:
            assert not leaks(text), (what, status, text)

        trace = w.status("sink")["tasks"][0]["trace"]
        assert f"${{dir:{mounted}:sink}}" in trace
        assert "Couldn't find or create file" in trace
        log = w.log()
        group = cluster.group
        internal = {t: _topic_text(kafka_bootstrap, f"{group}-{t}") for t in ("configs", "status")}
    finally:
        cluster.close()
    assert MARKER not in log, [line for line in log.splitlines() if MARKER in line]
    assert f"Starting file sink connector writing to ${{dir:{mounted}:sink}}" in log
    for name, text in internal.items():
        assert not leaks(text), (name, [line for line in text.splitlines() if MARKER in line])
    assert "Couldn't find or create file" in internal["status"]
