"""`kconnect dry-run` in-process: DataGen and the file sink need no service."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from kconnect.cli.dryrun import DryRunOptions, dry_run, input_bytes, shown_bytes
from kconnect.cli.lint import UnreadableInput


def options(connector: Path, **extra: object) -> DryRunOptions:
    fields: dict[str, object] = {
        "connector_path": str(connector),
        "worker_path": None,
        "connector_name": None,
        "records": 4,
        "timeout_s": 30.0,
        "output": "-",
        "input": None,
        **extra,
    }
    return DryRunOptions(**fields)  # type: ignore[arg-type]


def test_a_source_stops_at_n_records(tmp_path: Path) -> None:
    connector = tmp_path / "gen.properties"
    connector.write_text(
        "name=gen\nconnector.class=DataGen\ntopic=t\nschema=text\nrecords.per.second=0\n"
        "key.converter=org.apache.kafka.connect.storage.StringConverter\n"
        "value.converter=org.apache.kafka.connect.storage.StringConverter\n",
        "utf-8",
    )
    out = io.StringIO()
    summary = dry_run(options(connector), out)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["key"] for line in lines] == ["0", "1", "2", "3"]
    assert all(line["value"].startswith(f"seq={n:09d}") for n, line in enumerate(lines))
    assert summary["records"] == 4
    assert summary["timed_out"] is False


def test_records_a_transform_drops_are_counted_until_the_timeout(tmp_path: Path) -> None:
    connector = tmp_path / "gen.properties"
    connector.write_text(
        "name=gen\nconnector.class=DataGen\ntopic=t\nschema=text\nrecords.per.second=50\n"
        "transforms=drop\ntransforms.drop.type=Filter\n",
        "utf-8",
    )
    out = io.StringIO()
    summary = dry_run(options(connector, timeout_s=0.5), out)
    assert out.getvalue() == ""
    assert summary["records"] == 0
    assert isinstance(summary["dropped_by_transforms"], int)
    assert summary["dropped_by_transforms"] > 0
    assert summary["timed_out"] is True


def test_bytes_are_shown_as_text_or_base64_and_read_back() -> None:
    assert shown_bytes(b"plain") == "plain"
    assert shown_bytes(b"\xff\x00") == {"base64": "/wA="}
    assert shown_bytes(None) is None
    assert input_bytes({"base64": "/wA="}) == b"\xff\x00"
    assert input_bytes({"id": 1}) == b'{"id":1}'
    assert input_bytes("text") == b"text"


def test_a_sink_reads_json_lines_and_base64(tmp_path: Path) -> None:
    sink_file = tmp_path / "out.txt"
    connector = tmp_path / "sink.properties"
    connector.write_text(
        f"name=s\nconnector.class=FileStreamSink\ntopics=t\nfile={sink_file}\n"
        "value.converter=org.apache.kafka.connect.storage.StringConverter\n",
        "utf-8",
    )
    data = tmp_path / "in.jsonl"
    data.write_text('{"value": "plain"}\n\n{"value": {"base64": "aGk="}}\n{"value": 5}\n', "utf-8")
    summary = dry_run(options(connector, input=str(data)), io.StringIO())
    assert sink_file.read_text("utf-8").splitlines() == ["plain", "hi", "5"]
    assert summary["put"] == 3
    assert summary["pre_commit"] == {"t-0": 3}


def test_a_manifest_connector_runs_with_its_worker_config(tmp_path: Path) -> None:
    manifest = tmp_path / "m.yaml"
    manifest.write_text(
        """
apiVersion: kconnect.io/v1alpha1
kind: StandaloneConnect
metadata: {name: jobs}
spec:
  bootstrapServers: kafka:9092
  connectors:
    - {name: a, class: DataGen, config: {topic: ta, schema: text, records.per.second: 0}}
    - {name: b, class: DataGen, config: {topic: tb, schema: text, records.per.second: 0}}
  workerConfig:
    key.converter: org.apache.kafka.connect.storage.StringConverter
    value.converter: org.apache.kafka.connect.storage.StringConverter
""",
        "utf-8",
    )
    with pytest.raises(UnreadableInput, match="name one connector with --connector-name"):
        dry_run(options(manifest), io.StringIO())
    out = io.StringIO()
    summary = dry_run(options(manifest, connector_name="b", records=2), out)
    lines = [json.loads(text) for text in out.getvalue().splitlines()]
    assert [(line["topic"], line["key"]) for line in lines] == [("tb", "0"), ("tb", "1")]
    assert summary["connector"] == "b"
