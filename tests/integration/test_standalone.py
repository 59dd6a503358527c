"""The standalone worker as a user runs it: a real process, a real broker, files and REST."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.workers import REPO, Standalone, read_lines, wait_until, write_properties

QUICKSTART = REPO / "examples" / "quickstart"


def file_pipeline(s: Standalone, topic: str, lines: int) -> tuple[Path, Path, list[dict[str, str]]]:
    source = s.cwd / "input.txt"
    sink = s.cwd / "output.txt"
    source.write_text("".join(f"line-{i}\n" for i in range(lines)))
    connectors = [
        {
            "name": "src",
            "connector.class": "FileStreamSource",
            "file": str(source),
            "topic": topic,
        },
        {
            "name": "snk",
            "connector.class": "org.apache.kafka.connect.file.FileStreamSinkConnector",
            "file": str(sink),
            "topics": topic,
        },
    ]
    return source, sink, connectors


def _text(path: Path) -> str:
    try:
        return path.read_text()
    except FileNotFoundError:
        return ""


def test_apache_quickstart_configs_run_unchanged(standalone: Standalone) -> None:
    """Kafka's quickstart files, with only the broker address and offsets path pointed here."""
    worker = (QUICKSTART / "connect-standalone.properties").read_text()
    worker = worker.replace("localhost:9092", standalone.bootstrap)
    worker = worker.replace("/tmp/connect.offsets", str(standalone.offsets))
    (standalone.cwd / "connect-standalone.properties").write_text(worker)
    (standalone.cwd / "test.txt").write_text("foo\nbar\n")
    w = standalone.start_files(
        "connect-standalone.properties",
        [
            str(QUICKSTART / "connect-file-source.properties"),
            str(QUICKSTART / "connect-file-sink.properties"),
        ],
    )
    w.wait_state("local-file-source", "RUNNING")
    w.wait_state("local-file-sink", "RUNNING")
    sink = standalone.cwd / "test.sink.txt"
    with (standalone.cwd / "test.txt").open("a") as f:
        f.write("baz\n")
    # The sink flushes its file on every commit (offset.flush.interval.ms=10000 in this file).
    wait_until("the sink file", lambda: read_lines(sink)[-3:] == ["foo", "bar", "baz"], 60)
    assert "ignored by kconnect: plugin.path" in w.log()
    assert w.terminate() == 0


def test_file_to_kafka_to_file_round_trip_with_json(standalone: Standalone, new_topic) -> None:  # type: ignore[no-untyped-def]
    topic = new_topic(partitions=1)
    source, sink, connectors = file_pipeline(standalone, topic, 20_000)
    props = standalone.worker_props()
    props["value.converter"] = "org.apache.kafka.connect.json.JsonConverter"
    w = standalone.start(connectors, props)
    want = source.read_text().splitlines()
    wait_until("all lines in the sink", lambda: len(read_lines(sink)) >= len(want))
    assert read_lines(sink) == want
    assert w.interrupt() == 0
    assert "Traceback" not in w.log()


def test_sigterm_commits_so_a_restart_neither_loses_nor_repeats(
    standalone: Standalone,
    new_topic,  # type: ignore[no-untyped-def]
) -> None:
    topic = new_topic()
    source, sink, connectors = file_pipeline(standalone, topic, 5_000)
    w = standalone.start(connectors)
    wait_until("5000 lines", lambda: len(read_lines(sink)) >= 5_000)
    assert w.terminate() == 0
    assert "Traceback" not in w.log()
    with source.open("a") as f:
        f.write("".join(f"line-{i}\n" for i in range(5_000, 6_000)))
    w2 = standalone.start(connectors)
    wait_until("6000 lines", lambda: len(read_lines(sink)) >= 6_000)
    assert w2.terminate() == 0
    assert read_lines(sink) == [f"line-{i}" for i in range(6_000)]


def test_sigkill_loses_nothing(standalone: Standalone, new_topic) -> None:  # type: ignore[no-untyped-def]
    topic = new_topic()
    source, sink, connectors = file_pipeline(standalone, topic, 3_000)
    w = standalone.start(connectors)
    wait_until("some lines", lambda: len(read_lines(sink)) >= 1_000)
    # Kill mid-stream, once at least one source offset has been committed.
    wait_until("a committed source offset", lambda: "position" in _text(standalone.offsets))
    w.kill()
    with source.open("a") as f:
        f.write("".join(f"line-{i}\n" for i in range(3_000, 4_000)))
    w2 = standalone.start(connectors)
    want = {f"line-{i}" for i in range(4_000)}
    wait_until("every line at least once", lambda: want <= set(read_lines(sink)))
    assert w2.terminate() == 0
    got = read_lines(sink)
    assert set(got) == want
    # At-least-once: repeats are allowed after a kill, but order within the stream is kept.
    last = [int(x.split("-")[1]) for x in got]
    assert last[-1] == 3_999


def test_quickstart_json_connector_file_and_datagen(standalone: Standalone, new_topic) -> None:  # type: ignore[no-untyped-def]
    topic = new_topic(partitions=3)
    sink = standalone.cwd / "gen.txt"
    gen = standalone.cwd / "gen.json"
    gen.write_text(
        json.dumps(
            {
                "name": "gen",
                "config": {
                    "connector.class": "DataGen",
                    "topic": topic,
                    "tasks.max": 2,
                    "max.records": 10_000,
                    "schema": "text",
                },
            }
        )
    )
    snk = write_properties(
        standalone.cwd / "snk.properties",
        {"name": "snk", "connector.class": "FileStreamSink", "file": str(sink), "topics": topic},
    )
    w = standalone.start_files(
        str(write_properties(standalone.cwd / "w.properties", standalone.worker_props())),
        [str(gen), str(snk)],
    )
    wait_until("10000 records", lambda: len(read_lines(sink)) >= 10_000)
    assert w.terminate() == 0
    seqs = [line.split()[0] for line in read_lines(sink)]
    assert len(seqs) == 10_000
    assert len(set(seqs)) == 10_000


def test_config_provider_variables_are_resolved_in_the_worker_and_never_stored(
    standalone: Standalone,
    new_topic,  # type: ignore[no-untyped-def]
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    topic = new_topic()
    secrets = tmp_path / "secrets"  # a mounted Secret: one file per key
    secrets.mkdir()
    source_file, sink_file = tmp_path / "in.txt", tmp_path / "out.txt"
    (secrets / "input").write_text(str(source_file))
    (tmp_path / "topics.properties").write_text(f"name={topic}\n")
    monkeypatch.setenv("KC_TEST_SINK_FILE", str(sink_file))
    monkeypatch.setenv("KC_TEST_FLUSH_MS", "250")
    java = "org.apache.kafka.common.config.provider."
    worker = standalone.worker_props(
        **{
            "config.providers": "file,dir,env",
            "config.providers.file.class": java + "FileConfigProvider",
            "config.providers.dir.class": java + "DirectoryConfigProvider",
            "config.providers.env.class": java + "EnvVarConfigProvider",
            # The worker's own config is resolved too.
            "offset.flush.interval.ms": "${env:KC_TEST_FLUSH_MS}",
        }
    )
    topic_variable = f"${{file:{tmp_path}/topics.properties:name}}"
    source = {
        "name": "secret-source",
        "connector.class": "FileStreamSource",
        "file": f"${{dir:{secrets}:input}}",
        "topic": topic_variable,
    }
    sink = {
        "name": "secret-sink",
        "connector.class": "FileStreamSink",
        "file": "${env:KC_TEST_SINK_FILE}",
        "topics": topic_variable,
    }
    source_file.write_text("".join(f"line {i}\n" for i in range(20)))
    w = standalone.start([source, sink], worker=worker)
    wait_until("20 lines through Kafka", lambda: len(read_lines(sink_file)) == 20)
    assert read_lines(sink_file) == [f"line {i}" for i in range(20)]
    # What the REST API serves is the config as written, variables and all.
    assert w.get("/connectors/secret-source/config")["file"] == f"${{dir:{secrets}:input}}"
    assert w.get("/connectors/secret-sink/config")["file"] == "${env:KC_TEST_SINK_FILE}"
    assert w.terminate() == 0


def test_a_source_records_timestamp_reaches_kafka(standalone: Standalone, new_topic) -> None:  # type: ignore[no-untyped-def]
    """The timestamp a source task gives a record is the one Kafka stores (CreateTime), not one
    the client or the broker picks."""
    from confluent_kafka import TIMESTAMP_CREATE_TIME, Consumer

    topic = new_topic(partitions=1)
    base = 1_600_000_000_000  # long before this test ran, so a stamp picked at produce time shows
    connector = {
        "name": "stamped",
        "connector.class": "kconnect_test_plugins:StampedSource",
        "topic": topic,
        "timestamp.base": str(base),
        "count": "50",
    }
    w = standalone.start([connector])
    consumer = Consumer(
        {
            "bootstrap.servers": standalone.bootstrap,
            "group.id": f"{topic}-reader",
            "auto.offset.reset": "earliest",
        }
    )
    got: list[tuple[int, int, bytes | None]] = []
    try:
        consumer.subscribe([topic])

        def read() -> bool:
            for msg in consumer.consume(50, 1.0):
                if msg.error() is None:
                    ts_type, ts = msg.timestamp()
                    got.append((ts_type, ts, msg.value()))
            return len(got) >= 50

        wait_until("50 records", read)
    finally:
        consumer.close()
    assert got == [(TIMESTAMP_CREATE_TIME, base + i, f"stamped-{i}".encode()) for i in range(50)]
    assert w.interrupt() == 0
