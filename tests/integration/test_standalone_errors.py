"""Every user mistake stops `kconnect standalone` before it starts anything, with one message that
names the file, the key, the value and what was expected, and no traceback."""

from __future__ import annotations

import json

import pytest

from tests.support.workers import Standalone, free_port, write_properties


def _worker_file(s: Standalone, **overrides: str | None) -> str:
    props: dict[str, str] = {
        **s.worker_props(),
        "listeners": f"http://127.0.0.1:{free_port()}",
    }
    for key, value in overrides.items():
        k = key.replace("_", ".")
        if value is None:
            props.pop(k, None)
        else:
            props[k] = value
    return str(write_properties(s.cwd / "worker.properties", props))


def _source(s: Standalone, name: str = "src", **overrides: str | None) -> str:
    props: dict[str, str] = {
        "name": name,
        "connector.class": "FileStreamSource",
        "file": str(s.cwd / "in.txt"),
        "topic": "t",
    }
    for key, value in overrides.items():
        k = key.replace("_", ".")
        if value is None:
            props.pop(k, None)
        else:
            props[k] = value
    return str(write_properties(s.cwd / f"{name}.properties", props))


def _fails(s: Standalone, args: list[str], *expected: str) -> str:
    result = s.run_to_exit(["standalone", *args])
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    error_lines = [line for line in result.stderr.splitlines() if "kconnect: error:" in line]
    assert len(error_lines) == 1, result.stderr
    for text in expected:
        assert text in error_lines[0], error_lines[0]
    return error_lines[0]


def test_missing_worker_file(standalone: Standalone) -> None:
    _fails(standalone, ["nope.properties"], "nope.properties: no such file")


def test_malformed_worker_file(standalone: Standalone) -> None:
    path = standalone.cwd / "bad.properties"
    path.write_text("bootstrap.servers=x\nkey=\\uZZZZ\n")
    _fails(standalone, [str(path)], "bad.properties:2", "malformed \\uXXXX escape")


def test_ill_typed_worker_key(standalone: Standalone) -> None:
    w = _worker_file(standalone, offset_flush_interval_ms="soon")
    _fails(standalone, [w], "worker.properties", "'offset.flush.interval.ms'", "'soon'", "integer")


def test_missing_offsets_file_key(standalone: Standalone) -> None:
    w = _worker_file(standalone, offset_storage_file_filename=None)
    _fails(
        standalone, [w], "worker.properties", "missing required key 'offset.storage.file.filename'"
    )


def test_unknown_worker_converter(standalone: Standalone) -> None:
    w = _worker_file(standalone, value_converter="com.example.NoSuchConverter")
    _fails(standalone, [w], "worker.properties", "'value.converter'", "com.example.NoSuchConverter")


def test_bad_converter_setting(standalone: Standalone) -> None:
    w = _worker_file(
        standalone,
        value_converter="org.apache.kafka.connect.json.JsonConverter",
        value_converter_schemas_enable="perhaps",
    )
    _fails(standalone, [w], "schemas.enable", "perhaps")


def test_unknown_connector_class(standalone: Standalone) -> None:
    c = _source(standalone, connector_class="com.example.MissingConnector")
    _fails(
        standalone,
        [_worker_file(standalone), c],
        "src.properties",
        "connector.class",
        "com.example.MissingConnector",
    )


def test_missing_connector_key(standalone: Standalone) -> None:
    c = _source(standalone, topic=None)
    _fails(standalone, [_worker_file(standalone), c], "src.properties", "'topic'")


@pytest.mark.parametrize(
    ("key", "value", "expect"),
    [("tasks.max", "two", "integer"), ("batch.size", "-x", "integer"), ("tasks.max", "0", "1")],
)
def test_ill_typed_connector_key(standalone: Standalone, key: str, value: str, expect: str) -> None:
    c = _source(standalone, **{key.replace(".", "_"): value})
    _fails(
        standalone, [_worker_file(standalone), c], "src.properties", f"'{key}'", repr(value), expect
    )


def test_malformed_connector_json(standalone: Standalone) -> None:
    path = standalone.cwd / "c.json"
    path.write_text('{"name": "x", "config": {"connector.class": "FileStreamSink",}}')
    _fails(standalone, [_worker_file(standalone), str(path)], "c.json", "not valid JSON", "line 1")


def test_connector_json_with_nested_value(standalone: Standalone) -> None:
    path = standalone.cwd / "c.json"
    path.write_text(json.dumps({"name": "x", "config": {"topics": ["a", "b"]}}))
    _fails(
        standalone, [_worker_file(standalone), str(path)], "c.json", "'topics'", "expected a string"
    )


def test_duplicate_connector_names(standalone: Standalone) -> None:
    a = _source(standalone, name="same")
    b_path = standalone.cwd / "other.properties"
    b_path.write_text((standalone.cwd / "same.properties").read_text())
    _fails(standalone, [_worker_file(standalone), a, str(b_path)], "other.properties", "'same'")


def test_sink_without_topics(standalone: Standalone) -> None:
    path = write_properties(
        standalone.cwd / "sink.properties", {"name": "s", "connector.class": "FileStreamSink"}
    )
    _fails(standalone, [_worker_file(standalone), str(path)], "sink.properties", "topics")


def test_corrupt_offsets_file(standalone: Standalone) -> None:
    standalone.offsets.write_text("not an offsets file")
    _fails(
        standalone,
        [_worker_file(standalone), _source(standalone)],
        "offset.storage.file.filename",
        "is not a kconnect offsets file",
    )
    assert standalone.offsets.read_text() == "not an offsets file"


def test_bad_listener(standalone: Standalone) -> None:
    w = _worker_file(standalone, listeners="https://127.0.0.1:8443")
    _fails(standalone, [w], "worker.properties", "https")


def test_client_setting_the_kafka_client_rejects(standalone: Standalone) -> None:
    w = _worker_file(standalone, admin_no_such_prop="1")
    _fails(standalone, [w], "Kafka client", "no.such.prop")
