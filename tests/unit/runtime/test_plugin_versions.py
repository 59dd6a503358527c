"""KIP-891 plugin version requirements, and the framework keys Kafka Connect 4.1 declares for
every connector: `connector.plugin.version`, the converters' versions, `config.action.reload`
and, for sources, the topic-creation and exactly-once keys."""

from __future__ import annotations

import pytest

from kconnect.api.connector import package_version
from kconnect.config.versions import VersionSpecError, parse_requirement
from kconnect.herder.model import ConfigInfos
from kconnect.herder.validation import validate_config
from kconnect.plugins.registry import PluginRegistry

REGISTRY = PluginRegistry()
SOURCE = {"name": "a", "connector.class": "FileStreamSource", "topic": "t", "file": "/x"}


def _values(infos: ConfigInfos) -> dict[str, str | None]:
    return {c.value.name: c.value.value for c in infos.configs}


def _errors(infos: ConfigInfos) -> dict[str, list[str]]:
    return {c.value.name: c.value.errors for c in infos.configs if c.value.errors}


@pytest.mark.parametrize(
    ("spec", "inside", "outside"),
    [
        ("1.0", ["1.0", "1.0.0"], ["1.0.1", "0.9"]),
        ("[1.0,2.0)", ["1.0", "1.9.9"], ["2.0", "0.9"]),
        ("(1.0,2.0]", ["1.1", "2.0"], ["1.0", "2.1"]),
        ("[1.5,)", ["1.5", "10.0"], ["1.4"]),
        ("(,1.0],[1.2,)", ["0.1", "1.0", "1.2"], ["1.1"]),
        ("[4.1.1]", ["4.1.1"], ["4.1.0", "4.1.2"]),
    ],
)
def test_requirements_read_as_maven_ranges(
    spec: str, inside: list[str], outside: list[str]
) -> None:
    wanted = parse_requirement(spec)
    assert wanted is not None
    assert all(wanted.contains(v) for v in inside)
    assert not any(wanted.contains(v) for v in outside)


@pytest.mark.parametrize("spec", [None, "", "  ", "latest"])
def test_no_requirement(spec: str | None) -> None:
    assert parse_requirement(spec) is None


@pytest.mark.parametrize("spec", ["[2.0", "(1.0]", "[,]", "[2.0,1.0]", "a b", "[1.0,2.0),x"])
def test_malformed_requirements_are_named(spec: str) -> None:
    with pytest.raises(VersionSpecError, match=r"Invalid version specification: "):
        parse_requirement(spec)


def test_validation_shows_what_would_run_for_unset_keys() -> None:
    worker = {"value.converter": "org.apache.kafka.connect.storage.StringConverter"}
    values = _values(validate_config(REGISTRY, worker, SOURCE))
    assert values["value.converter"] == "org.apache.kafka.connect.storage.StringConverter"
    assert values["key.converter"] == "org.apache.kafka.connect.json.JsonConverter"
    assert values["header.converter"] == "org.apache.kafka.connect.storage.SimpleHeaderConverter"
    assert values["connector.plugin.version"] == package_version()
    assert values["value.converter.plugin.version"] == package_version()
    assert values["config.action.reload"] == "restart"
    assert values["exactly.once.support"] == "requested"
    assert values["offsets.storage.topic"] is None


def test_a_value_that_cannot_be_read_shows_as_null() -> None:
    infos = validate_config(REGISTRY, {}, {**SOURCE, "errors.retry.delay.max.ms": "abc"})
    assert list(_errors(infos)) == ["errors.retry.delay.max.ms"]
    assert _values(infos)["errors.retry.delay.max.ms"] is None


def test_a_version_the_installed_plugin_does_not_meet_is_an_error() -> None:
    config = {**SOURCE, "connector.plugin.version": "[99.0,100.0]"}
    found = _errors(validate_config(REGISTRY, {}, config))
    assert list(found) == ["connector.plugin.version"]
    assert (
        "not found that matches the version range [99.0,100.0]"
        in found["connector.plugin.version"][0]
    )
    config = {**SOURCE, "value.converter.plugin.version": "[2.0"}
    found = _errors(validate_config(REGISTRY, {}, config))
    assert "Invalid version specification" in found["value.converter.plugin.version"][0]
    met = {**SOURCE, "connector.plugin.version": package_version()}
    assert validate_config(REGISTRY, {}, met).error_count == 0


def test_exactly_once_required_is_an_error_as_on_a_standalone_kafka_worker() -> None:
    found = _errors(validate_config(REGISTRY, {}, {**SOURCE, "exactly.once.support": "required"}))
    assert list(found) == ["exactly.once.support"]
    infos = validate_config(REGISTRY, {}, {**SOURCE, "transaction.boundary": "Interval"})
    assert infos.error_count == 0
    assert {"Topic Creation", "Exactly Once Support", "offsets.topic"} <= set(infos.groups)
