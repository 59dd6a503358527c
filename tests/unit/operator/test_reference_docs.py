"""The generated resource reference: in sync with docs/reference/, and saying what the CRD says."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kconnect_operator import crdgen, refdoc

COMMITTED = Path(__file__).resolve().parents[3] / "docs" / "reference"


def schema(definition: crdgen.Definition) -> dict[str, Any]:
    result: dict[str, Any] = crdgen.crd(definition)["spec"]["versions"][0]["schema"][
        "openAPIV3Schema"
    ]
    return result


def field_paths(node: dict[str, Any], path: str) -> list[str]:
    paths = []
    for name, sub in node.get("properties", {}).items():
        paths.append(f"{path}.{name}")
        inner = sub
        suffix = ""
        while inner.get("type") == "array" or isinstance(inner.get("additionalProperties"), dict):
            key = "items" if inner.get("type") == "array" else "additionalProperties"
            suffix += "[]" if key == "items" else ".*"
            inner = inner[key]
        paths += field_paths(inner, f"{path}.{name}{suffix}")
    return paths


@pytest.mark.parametrize("definition", crdgen.DEFINITIONS, ids=lambda d: d.kind)
def test_committed_reference_matches_the_models(definition: crdgen.Definition) -> None:
    committed = COMMITTED / refdoc.file_name(definition)
    assert committed.read_text(encoding="utf-8") == refdoc.render(definition), (
        "docs/reference/ is out of date: run `make crds`"
    )


def test_no_stray_pages() -> None:
    expected = {refdoc.file_name(d) for d in crdgen.DEFINITIONS}
    assert {p.name for p in COMMITTED.glob("*.md")} == expected


@pytest.mark.parametrize("definition", crdgen.DEFINITIONS, ids=lambda d: d.kind)
def test_every_field_has_a_row(definition: crdgen.Definition) -> None:
    page = refdoc.render(definition)
    root = schema(definition)
    paths = field_paths(root["properties"]["spec"], "spec")
    paths += field_paths(root["properties"]["status"], "status")
    assert "spec.bootstrapServers" in paths
    assert "status.conditions[].reason" in paths
    for path in paths:
        assert f"| `{path}` |" in page, path


@pytest.mark.parametrize("definition", crdgen.DEFINITIONS, ids=lambda d: d.kind)
def test_every_cel_rule_and_column_is_listed(definition: crdgen.Definition) -> None:
    page = refdoc.render(definition)
    found = list(refdoc.rules(schema(definition)))
    assert len(found) == crdgen.render(definition).count("- message: ")
    for rule in found:
        assert rule.message.replace("|", "\\|") in page
    for column in definition.printer_columns:
        assert f"| {column['name']} | {column['type']} |" in page
    assert f"# {definition.kind}\n" in page
    for short in definition.short_names:
        assert f"`{short}`" in page


def test_kafkaconnector_page_states_defaults_required_and_constraints() -> None:
    page = refdoc.render(crdgen.KAFKA_CONNECTOR)
    assert (
        "| `spec.tasksMax` | `integer` | `1` | no | The most tasks the connector may create. "
        "| minimum 1 |"
    ) in page
    assert "| `spec.class` | `string` | — | yes |" in page
    assert "one of `running`, `paused`, `stopped`" in page
    assert "pattern `^[A-Za-z_][A-Za-z0-9_]*$`" in page
    assert "groupId is immutable" in page
    assert "| specReplicasPath | `.spec.replicas` |" in page
    assert "`map[string]int-or-string`" in page


def test_table_cells_escape_pipes() -> None:
    page = refdoc.render(crdgen.STANDALONE_CONNECT)
    row = next(line for line in page.splitlines() if "self.type == 'persistentVolumeClaim'" in line)
    assert "\\|\\|" in row
    assert row.count(" | ") == 2


def test_rendering_is_deterministic() -> None:
    for definition in crdgen.DEFINITIONS:
        assert refdoc.render(definition) == refdoc.render(definition)


def test_write_and_main(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert refdoc.main([str(tmp_path / "out")]) == 0
    for definition in crdgen.DEFINITIONS:
        written = tmp_path / "out" / refdoc.file_name(definition)
        assert written.read_text(encoding="utf-8") == refdoc.render(definition)
    assert f"wrote {tmp_path / 'out' / 'kafkaconnector.md'}" in capsys.readouterr().out
    assert refdoc.main(["a", "b"]) == 2
