"""The generated CRD: in sync with crds/, structural, and carrying what the issue asks for."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from kconnect_operator import crdgen
from kconnect_operator.core.shapes import FORBIDDEN_CONFIG_KEYS, REST_SECURITY_KEYS
from kconnect_operator.kafkaconnector.model import MANAGED_WORKER_KEYS

COMMITTED = Path(__file__).resolve().parents[3] / "crds" / crdgen.CRD_FILE


def version() -> dict[str, Any]:
    versions = crdgen.crd()["spec"]["versions"]
    assert len(versions) == 1
    result: dict[str, Any] = versions[0]
    return result


def schema() -> dict[str, Any]:
    result: dict[str, Any] = version()["schema"]["openAPIV3Schema"]
    return result


def spec_props() -> dict[str, Any]:
    result: dict[str, Any] = schema()["properties"]["spec"]["properties"]
    return result


def rules(node: dict[str, Any]) -> list[str]:
    return [r["rule"] for r in node.get("x-kubernetes-validations", [])]


@pytest.mark.parametrize("definition", crdgen.DEFINITIONS, ids=lambda d: d.kind)
def test_committed_crd_matches_the_models(definition: crdgen.Definition) -> None:
    committed = COMMITTED.parent / definition.file
    assert committed.read_text(encoding="utf-8") == crdgen.render(definition), (
        "crds/ is out of date: run `make crds`"
    )
    schema = crdgen.crd(definition)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    assert crdgen.structural_problems(schema) == []


def test_rendering_is_deterministic() -> None:
    assert crdgen.render() == crdgen.render()


def test_yaml_reads_back_as_the_document() -> None:
    assert yaml.safe_load(crdgen.render()) == crdgen.crd()


def test_write_and_main(tmp_path: Path) -> None:
    assert crdgen.main([str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / crdgen.CRD_FILE).read_text(encoding="utf-8") == crdgen.render()
    assert crdgen.main(["a", "b"]) == 2


def test_names_scope_and_version() -> None:
    doc = crdgen.crd()
    assert doc["apiVersion"] == "apiextensions.k8s.io/v1"
    assert doc["metadata"]["name"] == "kafkaconnectors.kconnect.io"
    spec = doc["spec"]
    assert spec["group"] == "kconnect.io"
    assert spec["scope"] == "Namespaced"
    assert spec["names"]["kind"] == "KafkaConnector"
    assert spec["names"]["plural"] == "kafkaconnectors"
    assert spec["names"]["shortNames"] == ["kctr"]
    v = version()
    assert (v["name"], v["served"], v["storage"]) == ("v1alpha1", True, True)


def test_subresources() -> None:
    sub = version()["subresources"]
    assert sub["status"] == {}
    assert sub["scale"] == {
        "specReplicasPath": ".spec.replicas",
        "statusReplicasPath": ".status.replicas",
        "labelSelectorPath": ".status.selector",
    }
    status = schema()["properties"]["status"]["properties"]
    assert status["replicas"]["type"] == "integer"
    assert status["selector"]["type"] == "string"


def test_printer_columns() -> None:
    columns = {c["name"]: c for c in version()["additionalPrinterColumns"]}
    assert [c["name"] for c in version()["additionalPrinterColumns"] if "priority" not in c] == [
        "Class",
        "State",
        "Tasks ready",
        "Workers ready",
        "Ready",
        "Age",
    ]
    assert columns["Class"]["jsonPath"] == ".spec.class"
    assert columns["Tasks ready"]["jsonPath"] == ".status.tasksReady"
    assert columns["Workers ready"]["jsonPath"] == ".status.workersReady"
    assert columns["Ready"]["jsonPath"] == '.status.conditions[?(@.type=="Ready")].status'
    assert columns["Age"] == {
        "name": "Age",
        "type": "date",
        "jsonPath": ".metadata.creationTimestamp",
    }


def test_spec_fields_and_required() -> None:
    props = spec_props()
    assert set(props) == {
        "class",
        "tasksMax",
        "config",
        "state",
        "replicas",
        "tasksPerReplica",
        "bootstrapServers",
        "tls",
        "authentication",
        "image",
        "workerConfig",
        "groupId",
        "configStorageTopic",
        "offsetStorageTopic",
        "statusStorageTopic",
        "resources",
        "template",
        "rack",
        "externalConfiguration",
        "logging",
        "networkPolicy",
        "exactlyOnce",
        "autoRestart",
        "deletionPolicy",
        "cluster",
        "listOffsets",
        "alterOffsets",
        "initialOffsets",
    }
    # bootstrapServers: required by a CEL rule unless spec.cluster is set.
    assert schema()["properties"]["spec"]["required"] == ["class"]
    assert props["state"]["enum"] == ["running", "paused", "stopped"]
    assert props["deletionPolicy"]["enum"] == ["Retain", "Delete"]
    assert props["exactlyOnce"] == {
        "type": "boolean",
        "default": False,
        "description": props["exactlyOnce"]["description"],
    }
    assert props["replicas"]["minimum"] == 0
    assert props["replicas"]["default"] == 1
    assert props["tasksMax"]["minimum"] == 1
    # Values may be YAML strings, numbers or booleans: the map preserves what it is given, and
    # declares only the keys it refuses.
    for field in ("config", "workerConfig"):
        assert props[field]["type"] == "object"
        assert props[field]["x-kubernetes-preserve-unknown-fields"] is True
        assert "additionalProperties" not in props[field]
        assert props[field]["maxProperties"] == 1000
    assert set(props["config"]["properties"]) == set(FORBIDDEN_CONFIG_KEYS)
    assert set(props["workerConfig"]["properties"]) == {
        *MANAGED_WORKER_KEYS,
        *REST_SECURITY_KEYS,
        "consumer.client.rack",
    }
    assert set(props["template"]["properties"]) == {
        "labels",
        "annotations",
        "nodeSelector",
        "tolerations",
        "affinity",
        "topologySpreadConstraints",
        "priorityClassName",
        "imagePullSecrets",
        "serviceAccountName",
        "terminationGracePeriodSeconds",
        "securityContext",
        "containerSecurityContext",
        "env",
        "volumes",
        "volumeMounts",
    }
    assert set(props["autoRestart"]["properties"]) == {"enabled", "maxRestarts"}


def test_status_fields() -> None:
    status = schema()["properties"]["status"]["properties"]
    assert set(status) == {
        "conditions",
        "observedGeneration",
        "connectorState",
        "tasksReady",
        "workersReady",
        "replicas",
        "selector",
        "failedTasks",
        "failedTasksCount",
        "autoRestart",
        "exactlyOnce",
        "appliedLoggers",
        "initialOffsets",
    }
    task = status["connectorState"]["properties"]["tasks"]["items"]["properties"]
    assert set(task) == {"id", "state", "worker", "trace"}
    failed = status["failedTasks"]["items"]["properties"]
    assert set(failed) == {"id", "worker", "message", "retryCount"}
    assert set(status["autoRestart"]["properties"]) == {"count", "lastRestartTime", "tasks"}
    assert "default" not in str(schema()["properties"]["status"])


def test_every_field_has_a_description() -> None:
    missing: list[str] = []

    def walk(node: dict[str, Any], path: str) -> None:
        for name, sub in node.get("properties", {}).items():
            if path and "description" not in sub:
                missing.append(f"{path}.{name}")
            walk(sub, f"{path}.{name}")
        if "items" in node:
            walk(node["items"], f"{path}[]")

    walk(schema(), "")
    assert missing == []


def test_cel_rules() -> None:
    props = spec_props()
    # A refused key is a property whose one rule always fails, with the message naming it (a
    # rule over the map's keys would not compile: its values are untyped).
    for key in FORBIDDEN_CONFIG_KEYS:
        assert rules(props["config"]["properties"][key]) == ["false"]
    worker = props["workerConfig"]["properties"]
    for key in MANAGED_WORKER_KEYS:
        assert rules(worker[key]) == ["false"]
        message = worker[key]["x-kubernetes-validations"][0]["message"]
        assert message.startswith("workerConfig must not set the keys the operator manages")
    for key in REST_SECURITY_KEYS:
        assert rules(worker[key]) == ["false"]
    for field in ("groupId", "configStorageTopic", "offsetStorageTopic", "statusStorageTopic"):
        assert rules(props[field]) == ["self == oldSelf"]
    ext = props["externalConfiguration"]["properties"]
    assert rules(ext["env"]["items"]["properties"]["valueFrom"]) == [
        "has(self.secretKeyRef) != has(self.configMapKeyRef)"
    ]
    assert rules(ext["volumes"]["items"]) == ["has(self.secret) != has(self.configMap)"]
    assert "self.metadata.name.size() <= 55" in rules(schema())[0]
    refused = props["config"]["properties"]["connector.class"]["x-kubernetes-validations"]
    assert refused[0]["message"] == "config must not contain 'connector.class': spec.class sets it"


def test_free_form_objects_preserve_unknown_fields() -> None:
    template = spec_props()["template"]["properties"]
    assert template["affinity"] == {
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": True,
        "description": template["affinity"]["description"],
    }
    assert template["tolerations"]["items"] == {
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": True,
    }


def test_quantities_are_int_or_string() -> None:
    limits = spec_props()["resources"]["properties"]["limits"]
    assert limits["additionalProperties"] == {
        "anyOf": [{"type": "integer"}, {"type": "string"}],
        "x-kubernetes-int-or-string": True,
    }


def test_schema_is_structural() -> None:
    assert crdgen.structural_problems(schema()) == []
    text = crdgen.render()
    for leftover in ("$ref", "$defs", "title:", "type: null", "default: null"):
        assert leftover not in text


def test_no_nullable_unions_are_left() -> None:
    def walk(node: object) -> None:
        if isinstance(node, dict):
            for option in node.get("anyOf", []):
                assert option.get("type") != "null"
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema())


@pytest.mark.parametrize(
    ("bad", "problem"),
    [
        ({"type": "object", "properties": {"a": {"$ref": "#/$defs/X"}}}, ".a: $ref"),
        ({"type": "object", "properties": {"a": {"description": "x"}}}, ".a: no type"),
        (
            {
                "type": "object",
                "properties": {"a": {"anyOf": [{"type": "string"}, {"type": "null"}]}},
            },
            ".a: anyOf outside an int-or-string",
        ),
        (
            {"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": {}},
            "properties and additionalProperties together",
        ),
        ({"type": "object", "properties": {"a": {"type": "array"}}}, ".a: an array needs"),
        (
            {"type": "object", "properties": {"a": {"type": "string", "default": None}}},
            ".a: null left over",
        ),
    ],
)
def test_structural_check_finds_problems(bad: dict[str, Any], problem: str) -> None:
    assert any(problem in p for p in crdgen.structural_problems(bad))


def test_scalars_that_yaml_would_retype_are_quoted() -> None:
    text = crdgen.to_yaml({"a": ["True", "no", "1", "x: y", "#c", "plain.word"]})
    assert yaml.safe_load(text) == {"a": ["True", "no", "1", "x: y", "#c", "plain.word"]}
    assert "- plain.word" in text
