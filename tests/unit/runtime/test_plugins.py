from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from kconnect.api.connector import Connector, SinkConnector
from kconnect.api.converter import Converter, HeaderConverter
from kconnect.cli.common import plugin_registry
from kconnect.config.worker import WorkerConfig
from kconnect.connectors.file import FileStreamSinkConnector, FileStreamSourceConnector
from kconnect.converters.json import JsonConverter
from kconnect.converters.string import StringConverter
from kconnect.errors import ConfigError
from kconnect.plugins.registry import ENTRY_POINT_GROUP, PluginKind, PluginRegistry
from kconnect.worker.worker import build_converters


def ep(name: str, value: str) -> EntryPoint:
    return EntryPoint(name, value, ENTRY_POINT_GROUP)


@pytest.fixture
def registry() -> PluginRegistry:
    return PluginRegistry()


@pytest.mark.parametrize(
    "name",
    [
        "FileStreamSource",
        "FileStreamSourceConnector",
        "org.apache.kafka.connect.file.FileStreamSourceConnector",
        "kconnect.connectors.file:FileStreamSourceConnector",
        "kconnect.connectors.file.FileStreamSourceConnector",
    ],
)
def test_every_way_to_name_a_connector(registry: PluginRegistry, name: str) -> None:
    assert registry.resolve(name) is FileStreamSourceConnector


def test_java_converter_names(registry: PluginRegistry) -> None:
    assert registry.resolve("org.apache.kafka.connect.json.JsonConverter") is JsonConverter
    assert registry.resolve("org.apache.kafka.connect.storage.StringConverter") is StringConverter


def test_installed_entry_points_are_discovered(registry: PluginRegistry) -> None:
    by_name = {d.class_name: d for d in registry.plugins()}
    sink = by_name["org.apache.kafka.connect.file.FileStreamSinkConnector"]
    assert sink.cls is FileStreamSinkConnector
    assert sink.kinds == (PluginKind.SINK,)
    json = by_name["org.apache.kafka.connect.json.JsonConverter"]
    assert set(json.kinds) == {PluginKind.CONVERTER, PluginKind.HEADER_CONVERTER}
    assert "kconnect.connectors.datagen.DataGenConnector" in by_name


def test_unknown_name_lists_what_is_known(registry: PluginRegistry) -> None:
    with pytest.raises(ConfigError, match=r"unknown plugin class 'Nope'.*FileStreamSink"):
        registry.resolve("Nope")


def test_unimportable_dotted_path(registry: PluginRegistry) -> None:
    with pytest.raises(ConfigError, match="cannot import module 'no_such_module'"):
        registry.resolve("no_such_module.Thing")
    with pytest.raises(ConfigError, match="has no class 'Missing'"):
        registry.resolve("kconnect.connectors.file:Missing")


def test_wrong_kind_names_the_key(registry: PluginRegistry) -> None:
    with pytest.raises(ConfigError, match=r"'key\.converter'.*is not a Converter"):
        registry.resolve_as("FileStreamSource", Converter, "key.converter")
    assert registry.resolve_as("FileStreamSink", SinkConnector, "connector.class")


def test_a_broken_entry_point_does_not_hide_the_others() -> None:
    registry = PluginRegistry(
        [
            ep("Broken", "no_such_module:Thing"),
            ep("FileStreamSource", "kconnect.connectors.file:FileStreamSourceConnector"),
        ]
    )
    assert registry.resolve("FileStreamSource") is FileStreamSourceConnector
    with pytest.raises(ConfigError, match=r"plugin 'Broken'.*failed to load"):
        registry.resolve("Broken")
    assert [d.cls for d in registry.plugins()] == [FileStreamSourceConnector]


def test_connector_converters_override_the_workers_with_their_own_prefixed_keys(
    registry: PluginRegistry,
) -> None:
    worker = {
        "key.converter": "org.apache.kafka.connect.storage.StringConverter",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter.schemas.enable": "false",
    }
    key, value, header = build_converters(registry, worker, {})
    assert isinstance(key, StringConverter)
    assert isinstance(value, JsonConverter)
    assert not value.schemas_enabled
    assert isinstance(header, HeaderConverter)

    # The connector names its own value converter: its prefixed keys apply, the worker's don't.
    connector = {"value.converter": "JsonConverter"}
    _, value, _ = build_converters(registry, worker, connector)
    assert isinstance(value, JsonConverter)
    assert value.schemas_enabled
    connector = {"value.converter": "JsonConverter", "value.converter.schemas.enable": "false"}
    _, value, _ = build_converters(registry, worker, connector)
    assert not value.schemas_enabled


def test_defaults_when_nothing_is_set(registry: PluginRegistry) -> None:
    key, value, _ = build_converters(registry, {}, {})
    assert isinstance(key, JsonConverter)
    assert isinstance(value, JsonConverter)


def test_connector_base_is_not_resolvable_as_source(registry: PluginRegistry) -> None:
    assert issubclass(registry.resolve_as("DataGen", Connector, "connector.class"), Connector)


class MyFileSource(FileStreamSourceConnector):
    """A subclass inherits the file access; it is refused with its base."""


@pytest.mark.parametrize(
    "name",
    [
        "FileStreamSource",
        "FileStreamSourceConnector",
        "org.apache.kafka.connect.file.FileStreamSourceConnector",
        "kconnect.connectors.file:FileStreamSourceConnector",
        "kconnect.connectors.file.FileStreamSourceConnector",
        "FileStreamSink",
        "org.apache.kafka.connect.file.FileStreamSinkConnector",
        f"{__name__}:MyFileSource",
    ],
)
def test_a_worker_without_file_connectors_refuses_every_name_of_them(name: str) -> None:
    config = WorkerConfig.parse({"file.connectors.enable": "false"})
    registry = plugin_registry(config)
    with pytest.raises(ConfigError, match=r"is disabled on this worker: .*file.connectors.enable"):
        registry.resolve(name)
    with pytest.raises(ConfigError, match=r"connector\.class"):
        registry.resolve_as(name, Connector, "connector.class")
    listed = {d.cls for d in registry.plugins()}
    assert FileStreamSourceConnector not in listed
    assert FileStreamSinkConnector not in listed
    # Everything else is still there, and the shared registry is untouched.
    assert registry.resolve("DataGen") is not None
    assert registry.resolve("JsonConverter") is JsonConverter
    assert plugin_registry(WorkerConfig.parse({})).resolve(name) is not None


def test_file_connectors_are_allowed_by_default_as_kafka_example_configs_expect() -> None:
    registry = plugin_registry(WorkerConfig.parse({}))
    assert registry.resolve("FileStreamSink") is FileStreamSinkConnector
    assert FileStreamSinkConnector in {d.cls for d in registry.plugins()}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("raise SystemExit(0)\n", r"tried to exit the process \(SystemExit\(0\)\)"),
        ("import sys\nsys.exit('usage: ...')\n", r"tried to exit the process"),
        ('raise RuntimeError("boom")\n', r"failed: RuntimeError: boom"),
    ],
)
def test_a_module_that_exits_or_fails_at_import_is_a_config_error(
    registry: PluginRegistry,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    body: str,
    expected: str,
) -> None:
    """Never a SystemExit out of a class lookup: a worker asked to load a script-like module
    (by a connector file, or over REST) reports it instead of exiting with status 0."""
    name = f"script_like_{abs(hash(body))}"
    (tmp_path / f"{name}.py").write_text(body)
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ConfigError, match=expected):
        registry.resolve(f"{name}.Connector")
