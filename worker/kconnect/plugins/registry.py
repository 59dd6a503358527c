"""Plugin discovery and name resolution.

A plugin is a connector, converter, header converter, transform or predicate class. Names resolve
in this order:

1. an entry point in the group `kconnect.plugins` (`FileStreamSource`);
2. the Java class name of a built-in plugin
   (`org.apache.kafka.connect.file.FileStreamSourceConnector`), so Apache Kafka's own example
   configs run unchanged;
3. the simple class name of a discovered plugin (`FileStreamSourceConnector`), and that name without
   its kind suffix, as Kafka Connect's aliases work;
4. a dotted path to any importable class (`mypkg.connectors:MySource` or
   `mypkg.connectors.MySource`).

A registry may refuse some plugins (`without`): a worker whose config sets
`file.connectors.enable=false` refuses the file connectors, whatever name reaches them (alias, Java
name, simple name, dotted path, or a subclass), and does not list them.

An unknown name is a `ConfigError` that lists what is known. Entry points are read once; a plugin
whose entry point fails to import is reported by name when it is asked for, and doesn't hide the
others.
"""

from __future__ import annotations

import copy
import importlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from importlib.metadata import EntryPoint, entry_points
from typing import TypeVar

from kconnect.api.connector import Connector, SinkConnector, SourceConnector
from kconnect.api.converter import Converter, HeaderConverter
from kconnect.api.transform import Predicate, Transformation
from kconnect.config.versions import parse_requirement
from kconnect.errors import ConfigError

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "kconnect.plugins"

JAVA_ALIASES: dict[str, str] = {
    "org.apache.kafka.connect.file.FileStreamSourceConnector": "FileStreamSource",
    "org.apache.kafka.connect.file.FileStreamSinkConnector": "FileStreamSink",
    "io.confluent.connect.jdbc.JdbcSinkConnector": "JdbcSink",
    "io.debezium.transforms.ExtractNewRecordState": "ExtractNewRecordState",
    "org.apache.kafka.connect.json.JsonConverter": "JsonConverter",
    "io.confluent.connect.json.JsonSchemaConverter": "JsonSchemaConverter",
    "io.confluent.connect.avro.AvroConverter": "AvroConverter",
    "io.confluent.connect.protobuf.ProtobufConverter": "ProtobufConverter",
    "org.apache.kafka.connect.storage.StringConverter": "StringConverter",
    "org.apache.kafka.connect.converters.ByteArrayConverter": "ByteArrayConverter",
    "org.apache.kafka.connect.storage.SimpleHeaderConverter": "SimpleHeaderConverter",
    "io.debezium.connector.postgresql.PostgresConnector": "PostgresCdcSource",
    **{
        f"org.apache.kafka.connect.converters.{name}": name
        for name in (
            "BooleanConverter",
            "DoubleConverter",
            "FloatConverter",
            "IntegerConverter",
            "LongConverter",
            "ShortConverter",
        )
    },
}
_JAVA_NAME_OF = {v: k for k, v in JAVA_ALIASES.items()}

JAVA_TRANSFORMS_PACKAGE = "org.apache.kafka.connect.transforms."
JAVA_PREDICATES_PACKAGE = "org.apache.kafka.connect.transforms.predicates."
_BUILTIN_TRANSFORMS_MODULE = "kconnect.transforms."
"""The built-in transforms and predicates are registered under Kafka Connect's nested-class
names (`InsertField$Value`), so the Java name is the package plus the entry point's name."""


def _java_transform_alias(name: str) -> str:
    for package in (JAVA_PREDICATES_PACKAGE, JAVA_TRANSFORMS_PACKAGE):
        if name.startswith(package):
            return name.removeprefix(package)
    return name


_SUFFIXES = ("Connector", "Converter", "Transformation", "Predicate")

FILE_CONNECTORS = ("FileStreamSource", "FileStreamSink")
"""The built-in plugins that read and write the worker's files, by entry-point name."""

T = TypeVar("T")


class PluginKind(StrEnum):
    SOURCE = "source"
    SINK = "sink"
    CONVERTER = "converter"
    HEADER_CONVERTER = "header_converter"
    TRANSFORMATION = "transformation"
    PREDICATE = "predicate"


@dataclass(frozen=True)
class PluginDescriptor:
    """A discovered plugin: the name shown in listings, its class, kinds and version."""

    class_name: str
    cls: type
    kinds: tuple[PluginKind, ...]
    version: str


def kinds_of(cls: type) -> tuple[PluginKind, ...]:
    kinds: list[PluginKind] = []
    if issubclass(cls, SourceConnector):
        kinds.append(PluginKind.SOURCE)
    if issubclass(cls, SinkConnector):
        kinds.append(PluginKind.SINK)
    if issubclass(cls, Converter):
        kinds.append(PluginKind.CONVERTER)
    if issubclass(cls, HeaderConverter):
        kinds.append(PluginKind.HEADER_CONVERTER)
    if issubclass(cls, Transformation):
        kinds.append(PluginKind.TRANSFORMATION)
    if issubclass(cls, Predicate):
        kinds.append(PluginKind.PREDICATE)
    return tuple(kinds)


def version_of(cls: type) -> str:
    """A plugin's version: a connector's `version()`, else kconnect's for a built-in."""
    if issubclass(cls, Connector):
        try:
            return cls.__new__(cls).version()
        except Exception:  # noqa: BLE001 - a plugin's version() is its own code
            return "unknown"
    from kconnect.api.connector import package_version  # noqa: PLC0415

    return package_version() if cls.__module__.startswith("kconnect.") else "unknown"


def version_mismatch(display_name: str, cls: type, requirement: str | None) -> str | None:
    """Why the installed `cls` does not meet a KIP-891 version requirement, or None when it
    does (or none is given); `VersionSpecError` when the requirement is malformed."""
    wanted = parse_requirement(requirement)
    installed = version_of(cls)
    if wanted is None or wanted.contains(installed):
        return None
    return (
        f"Plugin {display_name} not found that matches the version range {requirement}, "
        f"available versions: [{installed}]"
    )


class PluginRegistry:
    def __init__(self, eps: list[EntryPoint] | None = None) -> None:
        found = eps if eps is not None else list(entry_points(group=ENTRY_POINT_GROUP))
        self._eps: dict[str, EntryPoint] = {ep.name: ep for ep in found}
        self._loaded: dict[str, type] = {}
        self._broken: dict[str, str] = {}
        self._all_loaded = False
        self._refused: dict[str, str] = {}

    def without(self, refused: Mapping[str, str]) -> PluginRegistry:
        """A view of this registry, sharing what it loaded, that refuses the plugins named by
        entry point in `refused` (and their subclasses), each with the reason given."""
        view = copy.copy(self)
        view._refused = {**self._refused, **refused}
        return view

    def _refusal(self, cls: type) -> str | None:
        """Why `cls` is refused here, or None."""
        for ep_name, why in self._refused.items():
            try:
                refused = self._load(ep_name) if ep_name in self._eps else None
            except ConfigError:
                continue
            if refused is not None and isinstance(cls, type) and issubclass(cls, refused):
                return why
        return None

    # --- resolution
    def resolve(self, name: str) -> type:
        """The class for `name`, or a `ConfigError` saying what is known or why it is refused."""
        cls = self._resolve(name)
        why = self._refusal(cls) if self._refused else None
        if why is not None:
            raise ConfigError(f"plugin {name.strip()!r} is disabled on this worker: {why}")
        return cls

    def _resolve(self, name: str) -> type:
        name = name.strip()
        if not name:
            raise ConfigError("empty plugin class name")
        ep_name = JAVA_ALIASES.get(name) or _java_transform_alias(name)
        if ep_name in self._eps:
            return self._load(ep_name)
        if name in self._broken:
            raise ConfigError(f"plugin {name!r} failed to load: {self._broken[name]}")
        self._load_all()
        for loaded in self._loaded.values():
            simple = loaded.__name__
            if name == simple or name in (simple.removesuffix(s) for s in _SUFFIXES):
                return loaded
        if "." in name or ":" in name:
            return _import_path(name)
        known = ", ".join(sorted(self._eps))
        raise ConfigError(
            f"unknown plugin class {name!r}: expected an installed plugin ({known}), "
            "a Kafka Connect class name of one of them, or a dotted path such as "
            "'package.module:Class'"
        )

    def resolve_as(self, name: str, base: type[T], key: str) -> type[T]:
        """`resolve`, checked to be a subclass of `base`; errors name the config `key`."""
        try:
            cls = self.resolve(name)
        except ConfigError as e:
            raise ConfigError(f"invalid value {name!r} for key '{key}': {e}") from None
        if not isinstance(cls, type) or not issubclass(cls, base):
            raise ConfigError(
                f"invalid value {name!r} for key '{key}': {cls!r} is not a {base.__name__}"
            )
        return cls

    def display_name(self, cls: type) -> str:
        """The name a listing shows: the Java name of a built-in, else the dotted path."""
        for ep_name, loaded in self._loaded.items():
            if loaded is not cls:
                continue
            if ep_name in _JAVA_NAME_OF:
                return _JAVA_NAME_OF[ep_name]
            if self._eps[ep_name].value.startswith(_BUILTIN_TRANSFORMS_MODULE):
                predicate = issubclass(cls, Predicate)
                package = JAVA_PREDICATES_PACKAGE if predicate else JAVA_TRANSFORMS_PACKAGE
                return package + ep_name
        return f"{cls.__module__}.{cls.__qualname__}"

    # --- listing
    def plugins(self) -> list[PluginDescriptor]:
        self._load_all()
        seen: set[type] = set()
        out: list[PluginDescriptor] = []
        for cls in self._loaded.values():
            if cls in seen:
                continue
            seen.add(cls)
            if self._refused and self._refusal(cls) is not None:
                continue
            kinds = kinds_of(cls)
            if kinds:
                out.append(PluginDescriptor(self.display_name(cls), cls, kinds, version_of(cls)))
        return sorted(out, key=lambda d: d.class_name)

    # --- loading
    def _load(self, ep_name: str) -> type:
        if ep_name in self._loaded:
            return self._loaded[ep_name]
        if ep_name in self._broken:
            raise ConfigError(f"plugin {ep_name!r} failed to load: {self._broken[ep_name]}")
        ep = self._eps[ep_name]
        try:
            obj = ep.load()
        except (Exception, SystemExit) as e:  # noqa: BLE001 - a broken plugin must not hide the others
            self._broken[ep_name] = f"{type(e).__name__}: {e}"
            log.warning("plugin %s (%s) failed to load: %s", ep_name, ep.value, e)
            raise ConfigError(f"plugin {ep_name!r} ({ep.value}) failed to load: {e}") from None
        if not isinstance(obj, type):
            raise ConfigError(f"plugin {ep_name!r} ({ep.value}) is not a class")
        self._loaded[ep_name] = obj
        return obj

    def _load_all(self) -> None:
        if self._all_loaded:
            return
        for ep_name in self._eps:
            try:
                self._load(ep_name)
            except ConfigError:
                continue
        self._all_loaded = True


def _import_path(path: str) -> type:
    module_name, sep, attr = path.partition(":")
    if not sep:
        module_name, _, attr = path.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise ConfigError(f"cannot import module {module_name!r} for class {path!r}: {e}") from None
    except SystemExit as e:
        # A script-like module (one that runs and exits when imported) is not a plugin; its
        # exit must not end the worker, least of all with status 0 and no message.
        raise ConfigError(
            f"importing module {module_name!r} for class {path!r} tried to exit the process "
            f"(SystemExit({e.code!r})): it is not a plugin module"
        ) from None
    except Exception as e:  # noqa: BLE001 - the module's own code, run by importing it
        raise ConfigError(
            f"importing module {module_name!r} for class {path!r} failed: {type(e).__name__}: {e}"
        ) from None
    obj: object = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ConfigError(f"module {module_name!r} has no class {attr!r}") from None
    if not isinstance(obj, type):
        raise ConfigError(f"{path!r} is not a class")
    return obj


_default: PluginRegistry | None = None


def default_registry() -> PluginRegistry:
    global _default
    if _default is None:
        _default = PluginRegistry()
    return _default
