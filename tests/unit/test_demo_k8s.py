"""`examples/demo_k8s.py`'s pure part: the example connector pointed at the demo's broker. The
demo's steps on the real node are in `e2e/test_demo_k8s.py`."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from examples import demo_k8s


def test_the_manifest_points_the_example_at_the_given_broker() -> None:
    text = demo_k8s.connector_manifest("10.245.0.1:9999")
    resource = yaml.safe_load(text)
    assert resource["spec"]["bootstrapServers"] == "10.245.0.1:9999"
    assert resource["metadata"]["name"] == demo_k8s.CONNECTOR
    assert resource["spec"]["config"]["topic"] == demo_k8s.TOPIC


def test_an_example_without_the_placeholder_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    edited = tmp_path / "connector.yaml"
    edited.write_text("spec:\n  bootstrapServers: kafka:9092\n", "utf-8")
    monkeypatch.setattr(demo_k8s, "CONNECTOR_FILE", edited)
    with pytest.raises(ValueError, match="no bootstrapServers: my-cluster-kafka-bootstrap:9092"):
        demo_k8s.connector_manifest("10.245.0.1:9999")
