"""`kconnect lint`'s reading of files and manifests, without any service."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kconnect.cli import main
from kconnect.cli.lint import UnreadableInput, lint_paths, manifest_targets

MANIFEST = """
apiVersion: kconnect.io/v1alpha1
kind: KafkaConnector
metadata: {name: users, namespace: apps}
spec:
  class: DataGen
  tasksMax: 3
  exactlyOnce: true
  bootstrapServers: kafka:9092
  config:
    topic: users
    records.per.second: 2.5
    exactly.once.support: required
  workerConfig:
    offset.flush.interval.ms: 1000
    value.converter.schemas.enable: false
"""


def test_a_kafka_connector_becomes_the_config_the_operator_sends(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(MANIFEST, "utf-8")
    [target] = manifest_targets(str(path))
    assert target.config == {
        "topic": "users",
        "records.per.second": "2.5",
        "exactly.once.support": "required",
        "name": "users",
        "connector.class": "DataGen",
        "tasks.max": "3",
    }
    assert target.exactly_once is True
    assert target.worker_props["group.id"] == "kconnect.apps.users"
    assert target.worker_props["offset.flush.interval.ms"] == "1000"
    assert target.worker_props["value.converter.schemas.enable"] == "false"
    results = lint_paths([str(path)], None)
    assert [(r.kind, r.errors) for r in results] == [("worker", []), ("connector", [])]


def test_keys_the_resource_sets_are_refused_naming_the_field(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(MANIFEST.replace("    topic: users", "    tasks.max: 2"), "utf-8")
    [result] = lint_paths([str(path)], None)
    assert not result.to_json()["valid"]
    assert "spec.config must not contain 'tasks.max': set spec.tasksMax" in result.errors[0].message


def test_a_repeated_connector_name_is_an_error(tmp_path: Path) -> None:
    for n in (1, 2):
        (tmp_path / f"c{n}.properties").write_text(
            "name=same\nconnector.class=DataGen\ntopic=t\n", "utf-8"
        )
    results = lint_paths([str(tmp_path / "c1.properties"), str(tmp_path / "c2.properties")], None)
    assert results[0].errors == []
    assert "already used by" in results[1].errors[0].message


def test_a_properties_file_without_a_connector_class_is_a_worker_file(tmp_path: Path) -> None:
    path = tmp_path / "w.properties"
    path.write_text("bootstrap.servers=k:9092\ngroup.id=g\nconfig.storage.topic=c\n", "utf-8")
    [result] = lint_paths([str(path)], None)
    assert result.kind == "worker"
    assert result.name == "distributed"
    assert {e.key for e in result.errors} == {"offset.storage.topic", "status.storage.topic"}


def test_a_malformed_file_is_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text('{"name": ', "utf-8")
    with pytest.raises(UnreadableInput, match="not valid JSON at line 1"):
        lint_paths([str(path)], None)


def test_exit_codes_and_json_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.properties"
    good.write_text("name=g\nconnector.class=DataGen\ntopic=t\n", "utf-8")
    bad = tmp_path / "bad.properties"
    bad.write_text("name=b\nconnector.class=DataGen\n", "utf-8")
    assert main(["lint", str(good)]) == 0
    assert capsys.readouterr().out.endswith("1 config(s) checked, all valid\n")
    assert main(["lint", "--output", "json", str(good), str(bad)]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["valid"] is False
    assert doc["error_count"] == 1
    assert doc["results"][1]["errors"] == [
        {"key": "topic", "message": "missing required key 'topic'"}
    ]
    assert main(["lint", str(tmp_path / "nothing.properties")]) == 2


@pytest.mark.parametrize(("support", "refused"), [("enabled", False), ("disabled", True)])
def test_exactly_once_required_follows_the_worker_file(
    tmp_path: Path, support: str, refused: bool
) -> None:
    worker = tmp_path / "w.properties"
    worker.write_text(
        "bootstrap.servers=k:9092\ngroup.id=g\nconfig.storage.topic=c\noffset.storage.topic=o\n"
        f"status.storage.topic=s\nexactly.once.source.support={support}\n",
        "utf-8",
    )
    connector = tmp_path / "c.properties"
    connector.write_text(
        "name=c\nconnector.class=DataGen\ntopic=t\nexactly.once.support=required\n", "utf-8"
    )
    _, result = lint_paths([str(connector)], str(worker))
    messages = [e.message for e in result.errors]
    assert ("This worker does not have exactly-once source support enabled." in messages) is refused


SHARED = """
apiVersion: kconnect.io/v1alpha1
kind: KConnectCluster
metadata: {name: shared, namespace: apps}
spec:
  bootstrapServers: kafka:9092
  exactlyOnce: true
  workerConfig:
    value.converter: org.apache.kafka.connect.storage.StringConverter
---
apiVersion: kconnect.io/v1alpha1
kind: KafkaConnector
metadata: {name: users, namespace: apps}
spec:
  cluster: shared
  class: DataGen
  config: {topic: users}
---
apiVersion: kconnect.io/v1alpha1
kind: KafkaConnector
metadata: {name: orphan, namespace: apps}
spec:
  cluster: elsewhere
  class: DataGen
  config: {topic: orphan}
"""


def test_a_connector_on_a_cluster_is_checked_against_the_cluster_s_workers(
    tmp_path: Path,
) -> None:
    path = tmp_path / "shared.yaml"
    path.write_text(SHARED, "utf-8")
    users, orphan = manifest_targets(str(path))
    assert users.worker_props["group.id"] == "kconnect-cluster.apps.shared"
    assert users.worker_props["value.converter"] == (
        "org.apache.kafka.connect.storage.StringConverter"
    )
    assert users.exactly_once is True
    # A cluster the file does not hold: a default worker config under the cluster's names.
    assert orphan.worker_props["group.id"] == "kconnect-cluster.apps.elsewhere"
    assert orphan.worker_props["bootstrap.servers"] == "localhost:9092"
    assert orphan.exactly_once is False
    # The cluster's worker config once, then each connector: no worker of their own.
    results = lint_paths([str(path)], None)
    assert [(r.kind, r.source.split(": ")[1], r.errors) for r in results] == [
        ("worker", "KConnectCluster shared", []),
        ("connector", "KafkaConnector users", []),
        ("connector", "KafkaConnector orphan", []),
    ]
