"""Validating a connector config the way `PUT /connector-plugins/{p}/config/validate` reports it.

Validation never raises for a bad config: every problem becomes an error on the key it concerns,
so a user sees all of them at once. It checks the runtime's common keys, the connector class,
the connector's own `config_model`, the converters the config names, and the transformation
chain.

The chain is checked as Kafka Connect's `ConnectorConfig.enrich` does: each alias in
`transforms` gets the group `Transforms: <alias>` with `transforms.<alias>.type`, `.predicate`,
`.negate` and the transform's own keys under their full names (`transforms.mask.fields`), and
each alias in `predicates` the group `Predicates: <alias>` likewise. A type that doesn't
resolve, or resolves to the wrong kind of plugin, is an error on its `type` key; a bad own key
is an error on that key's full name; a rule over several keys is reported on the `type` key. The
plugins are configured once (as the converters are) so that checks made in `configure` count
too; nothing here does I/O of its own.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, get_args, get_origin

from pydantic import BaseModel, SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from kconnect.api.connector import Connector, SinkConnector
from kconnect.api.converter import Converter, HeaderConverter
from kconnect.api.records import ConnectRecord
from kconnect.api.transform import Predicate, Transformation
from kconnect.config.connector import (
    CONNECTOR_PLUGIN_VERSION,
    CONVERTER_PLUGIN_VERSIONS,
    CommonConnectorConfig,
    SinkConnectorCommonConfig,
    SourceConnectorCommonConfig,
    sink_topic_errors,
    split_list,
)
from kconnect.config.providers import ConfigProviderError, ConfigTransformer
from kconnect.config.validation import describe_errors
from kconnect.config.versions import VersionSpecError
from kconnect.config.worker import WorkerConfig, prefixed
from kconnect.errors import ConfigError
from kconnect.herder.model import ConfigInfo, ConfigInfos, ConfigKeyInfo, ConfigValueInfo
from kconnect.plugins.registry import PluginKind, PluginRegistry, version_mismatch, version_of
from kconnect.transforms.chain import PREDICATES, TRANSFORMS, parse_chain_spec

_TYPES: dict[type, str] = {bool: "BOOLEAN", int: "INT", float: "DOUBLE", str: "STRING"}


def _java_type(field: FieldInfo) -> str:
    extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
    if isinstance(extra.get("type"), str):
        return str(extra["type"])
    ann: Any = field.annotation
    if get_origin(ann) is not None:
        args = [a for a in get_args(ann) if a is not type(None)]
        ann = args[0] if len(args) == 1 else ann
        if get_origin(ann) is list:
            return "LIST"
    if ann is SecretStr:
        return "PASSWORD"
    return _TYPES.get(ann, "STRING") if isinstance(ann, type) else "STRING"


def _default_text(field: FieldInfo) -> str | None:
    if field.default is PydanticUndefined or field.default is None:
        return None
    if isinstance(field.default, bool):
        return str(field.default).lower()
    return str(field.default)


def config_key_infos(model: type[BaseModel]) -> list[ConfigKeyInfo]:
    """Kafka Connect's config definitions for a pydantic model's fields."""
    out: list[ConfigKeyInfo] = []
    order: dict[str | None, int] = {}
    for name, field in model.model_fields.items():
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        group = extra.get("group")
        group_name = str(group) if isinstance(group, str) else None
        order[group_name] = order.get(group_name, 0) + 1
        out.append(
            ConfigKeyInfo(
                name=field.alias or name,
                type=_java_type(field),
                required=field.is_required(),
                default_value=_default_text(field),
                importance=str(extra.get("importance", "MEDIUM")),
                documentation=field.description or "",
                group=group_name,
                order_in_group=order[group_name] if group_name else -1,
                width=str(extra.get("width", "NONE")),
                display_name=str(extra.get("display_name", field.alias or name)),
            )
        )
    return out


def _model_errors(model: type[BaseModel], config: Mapping[str, str]) -> dict[str, list[str]]:
    try:
        model.model_validate(config)
    except ValidationError as e:
        errors: dict[str, list[str]] = {}
        for key, message in describe_errors(e, config):
            where = key
            if key == "<config>":
                if "DLQ topic" in message:
                    where = "errors.deadletterqueue.topic.name"
                elif "topics" in message:
                    where = "topics"
                else:
                    where = "connector.class"
            errors.setdefault(where, []).append(message)
        return errors
    return {}


_TRANSFORM_IMPLICIT_KEYS = ("type", "predicate", "negate")
_PREDICATE_IMPLICIT_KEYS = ("type",)


def _chain_key_infos(
    registry: PluginRegistry, config: Mapping[str, str], errors: dict[str, list[str]]
) -> list[ConfigKeyInfo]:
    """The definitions of every transform's and predicate's keys; their errors go to `errors`."""
    _, chain_errors = parse_chain_spec(config)
    for key, messages in chain_errors.items():
        errors.setdefault(key, []).extend(messages)
    out: list[ConfigKeyInfo] = []
    for alias in dict.fromkeys(split_list(config.get(TRANSFORMS, ""))):
        prefix = f"{TRANSFORMS}.{alias}."
        group = f"Transforms: {alias}"
        out += [
            ConfigKeyInfo(
                prefix + "type",
                "CLASS",
                True,
                None,
                "HIGH",
                f"Class for the '{alias}' transformation.",
                group,
                1,
                "LONG",
                f"Transformation type for {alias}",
            ),
            ConfigKeyInfo(
                prefix + "predicate",
                "STRING",
                False,
                None,
                "MEDIUM",
                "The alias of a predicate used to determine whether to apply this transformation.",
                group,
                2,
                "NONE",
                prefix + "predicate",
            ),
            ConfigKeyInfo(
                prefix + "negate",
                "BOOLEAN",
                False,
                "false",
                "MEDIUM",
                "Whether the configured predicate should be negated.",
                group,
                3,
                "NONE",
                prefix + "negate",
            ),
        ]
        out += _plugin_key_infos(
            registry, config, errors, prefix, group, Transformation, _TRANSFORM_IMPLICIT_KEYS
        )
    for alias in dict.fromkeys(split_list(config.get(PREDICATES, ""))):
        prefix = f"{PREDICATES}.{alias}."
        group = f"Predicates: {alias}"
        out.append(
            ConfigKeyInfo(
                prefix + "type",
                "CLASS",
                True,
                None,
                "HIGH",
                f"Class for the '{alias}' predicate.",
                group,
                1,
                "LONG",
                f"Predicate type for {alias}",
            )
        )
        out += _plugin_key_infos(
            registry, config, errors, prefix, group, Predicate, _PREDICATE_IMPLICIT_KEYS
        )
    return out


def _plugin_key_infos(
    registry: PluginRegistry,
    config: Mapping[str, str],
    errors: dict[str, list[str]],
    prefix: str,
    group: str,
    base: type[Transformation[ConnectRecord]] | type[Predicate[ConnectRecord]],
    implicit: tuple[str, ...],
) -> list[ConfigKeyInfo]:
    """One transform's or predicate's own keys under `prefix`, checked against its model."""
    type_key = prefix + "type"
    type_name = config.get(type_key, "").strip()
    if not type_name:
        return []  # the chain's own check reports the missing type
    try:
        cls = registry.resolve_as(type_name, base, type_key)
    except ConfigError as e:
        errors.setdefault(type_key, []).append(str(e))
        return []
    own = {
        k[len(prefix) :]: v
        for k, v in config.items()
        if k.startswith(prefix) and k[len(prefix) :] not in implicit
    }
    model = cls.config_model
    found = _model_errors_under(model, own, prefix, type_key)
    for key, messages in found.items():
        errors.setdefault(key, []).extend(messages)
    if not found:
        for message in _configure_errors(cls, own):
            errors.setdefault(type_key, []).append(message)
    # Keys named like the implicit ones are masked by them, as in Kafka Connect.
    keys = [k for k in config_key_infos(model) if k.name not in implicit]
    return [
        dataclasses.replace(
            k,
            name=prefix + k.name,
            group=group,
            order_in_group=len(implicit) + i,
        )
        for i, k in enumerate(keys, start=1)
    ]


def _model_errors_under(
    model: type[BaseModel], own: Mapping[str, str], prefix: str, type_key: str
) -> dict[str, list[str]]:
    """`model`'s errors for the keys without their prefix, reported on the full keys."""
    try:
        model.model_validate(own)
    except ValidationError as e:
        errors: dict[str, list[str]] = {}
        for key, message in describe_errors(e, own):
            if key == "<config>":
                errors.setdefault(type_key, []).append(message)
                continue
            full = prefix + key
            errors.setdefault(full, []).append(message.replace(f"'{key}'", f"'{full}'"))
        return errors
    return {}


def _configure_errors(
    cls: type[Transformation[ConnectRecord]] | type[Predicate[ConnectRecord]],
    own: Mapping[str, str],
) -> list[str]:
    """What `configure` rejects beyond the model, such as a check written in code."""
    try:
        plugin = cls()
        try:
            plugin.configure(own)
        finally:
            plugin.close()
    except ConfigError as e:
        return [str(e)]
    except Exception as e:  # noqa: BLE001 - a plugin's configure is its own code
        return [f"{cls.__qualname__}.configure failed: {type(e).__name__}: {e}"]
    return []


def _without_resolved_values(
    errors: dict[str, list[str]], raw: Mapping[str, str], resolved: Mapping[str, str]
) -> dict[str, list[str]]:
    """Error messages with every resolved variable shown as written: a message quoting a bad
    value must not reveal the secret a `${...}` variable resolved to."""
    swaps = [
        (resolved[k], v)
        for k, v in raw.items()
        if k in resolved and resolved[k] != v and resolved[k]
    ]
    if not swaps:
        return errors
    swaps.sort(key=lambda s: len(s[0]), reverse=True)
    out: dict[str, list[str]] = {}
    for key, messages in errors.items():
        cleaned = []
        for message in messages:
            text = message
            for secret, written in swaps:
                text = text.replace(secret, written)
            cleaned.append(text)
        out[key] = cleaned
    return out


_WORKER_CONVERTER_DEFAULTS = {
    key: str(WorkerConfig.model_fields[field].default)
    for key, field in (
        ("key.converter", "key_converter"),
        ("value.converter", "value_converter"),
        ("header.converter", "header_converter"),
    )
}


def _implied_values(
    registry: PluginRegistry,
    worker_props: Mapping[str, str],
    config: Mapping[str, str],
    connector_cls: type | None,
) -> dict[str, str]:
    """The values Kafka Connect shows for keys the config leaves unset: the worker's converters,
    and the versions of the connector and converters that would run."""
    implied: dict[str, str] = {}
    if connector_cls is not None:
        implied[CONNECTOR_PLUGIN_VERSION] = version_of(connector_cls)
    for key, version_key in CONVERTER_PLUGIN_VERSIONS.items():
        name = config.get(key) or worker_props.get(key) or _WORKER_CONVERTER_DEFAULTS[key]
        implied[key] = name
        try:
            implied[version_key] = version_of(registry.resolve(name))
        except ConfigError:
            continue  # reported on the converter's key
    return implied


def _recommended_values(
    registry: PluginRegistry, implied: Mapping[str, str]
) -> dict[str, list[str]]:
    """Kafka Connect's recommenders: the installed converters (by the names listings show) for
    the converter keys, and the installed version for each version key."""
    by_kind: dict[PluginKind, list[str]] = {}
    for plugin in registry.plugins():
        for kind in plugin.kinds:
            by_kind.setdefault(kind, []).append(plugin.class_name)
    converters = sorted(by_kind.get(PluginKind.CONVERTER, []))
    out: dict[str, list[str]] = {
        "key.converter": converters,
        "value.converter": converters,
        "header.converter": sorted(by_kind.get(PluginKind.HEADER_CONVERTER, [])),
    }
    for key in (CONNECTOR_PLUGIN_VERSION, *CONVERTER_PLUGIN_VERSIONS.values()):
        if key in implied:
            out[key] = [implied[key]]
    return out


_PARSERS: dict[str, Callable[[str], object]] = {
    "INT": int,
    "LONG": int,
    "SHORT": int,
    "DOUBLE": float,
}


def _parses(java_type: str, text: str) -> bool:
    if java_type == "BOOLEAN":
        return text.strip().lower() in ("true", "false")
    parse = _PARSERS.get(java_type)
    if parse is None:
        return True
    try:
        parse(text.strip())
    except ValueError:
        return False
    return True


def _check_version(
    registry: PluginRegistry,
    cls: type,
    requirement: str | None,
    key: str,
    errors: dict[str, list[str]],
) -> None:
    """A KIP-891 version requirement the installed plugin does not meet is an error on `key`
    (a malformed one is reported by the model)."""
    try:
        mismatch = version_mismatch(registry.display_name(cls), cls, requirement)
    except VersionSpecError:
        return
    if mismatch is not None:
        errors.setdefault(key, []).append(mismatch)


def validate_config(
    registry: PluginRegistry, worker_props: Mapping[str, str], config: Mapping[str, str]
) -> ConfigInfos:
    errors: dict[str, list[str]] = {}
    raw = config
    # Variables are validated as the worker would start them: resolved. Values shown stay raw.
    try:
        config = ConfigTransformer.from_worker_props(worker_props).transform(config)
    except ConfigProviderError as e:
        errors.setdefault(e.key, []).append(str(e))
    except ConfigError as e:  # the worker's provider declarations themselves
        errors.setdefault("connector.class", []).append(str(e))
    class_name = config.get("connector.class", "")
    connector_cls: type[Connector] | None = None
    try:
        connector_cls = registry.resolve_as(class_name, Connector, "connector.class")
    except ConfigError as e:
        errors.setdefault("connector.class", []).append(str(e))

    common: type[CommonConnectorConfig] = (
        SinkConnectorCommonConfig
        if connector_cls is not None and issubclass(connector_cls, SinkConnector)
        else SourceConnectorCommonConfig
    )
    if connector_cls is not None:
        _check_version(
            registry,
            connector_cls,
            config.get(CONNECTOR_PLUGIN_VERSION),
            CONNECTOR_PLUGIN_VERSION,
            errors,
        )
    rules = sink_topic_errors(config) if common is SinkConnectorCommonConfig else []
    rule_messages = {message for _, message in rules}
    for key, messages in _model_errors(common, config).items():
        # The sink's rules over several keys come from `rules`, whether or not the model got
        # as far as checking them.
        kept = [m for m in messages if m not in rule_messages]
        if kept:
            errors.setdefault(key, []).extend(kept)
    for key, message in rules:
        errors.setdefault(key, []).append(message)
    models: list[type[BaseModel]] = [common]
    if connector_cls is not None:
        models.append(connector_cls.config_model)
        for key, messages in _model_errors(connector_cls.config_model, config).items():
            errors.setdefault(key, []).extend(messages)
    for key, base in (
        ("key.converter", Converter),
        ("value.converter", Converter),
        ("header.converter", HeaderConverter),
    ):
        if not config.get(key):
            continue
        try:
            cls = registry.resolve_as(config[key], base, key)
            version_key = CONVERTER_PLUGIN_VERSIONS[key]
            _check_version(registry, cls, config.get(version_key), version_key, errors)
            conv = cls()
            if isinstance(conv, Converter):
                conv.configure(prefixed(config, key + "."), key == "key.converter")
            elif isinstance(conv, HeaderConverter):
                conv.configure(prefixed(config, key + "."))
        except ConfigError as e:
            errors.setdefault(key, []).append(str(e))

    chain_keys = _chain_key_infos(registry, config, errors)
    errors = _without_resolved_values(errors, raw, config)

    implied = _implied_values(registry, worker_props, config, connector_cls)
    recommended = _recommended_values(registry, implied)
    infos: list[ConfigInfo] = []
    seen: set[str] = set()
    groups: list[str] = []
    # As Kafka Connect's definitions enriched for the worker: its converters and the installed
    # versions are the defaults.
    definitions = [
        dataclasses.replace(key_info, default_value=implied[key_info.name])
        if key_info.name in implied
        else key_info
        for model in models
        for key_info in config_key_infos(model)
    ]
    for key_info in [*definitions, *chain_keys]:
        if key_info.name in seen:
            continue
        seen.add(key_info.name)
        if key_info.group and key_info.group not in groups:
            groups.append(key_info.group)
        value = raw.get(key_info.name)
        if value is None:
            value = key_info.default_value
        elif key_info.name in errors and not _parses(key_info.type, value):
            value = None  # Kafka Connect shows no value for one it could not parse
        infos.append(
            ConfigInfo(
                key_info,
                ConfigValueInfo(
                    key_info.name,
                    None if key_info.type == "PASSWORD" and value else value,
                    recommended_values=list(recommended.get(key_info.name, ())),
                    errors=errors.pop(key_info.name, []),
                ),
            )
        )
    # Errors on keys no model declares (a converter's prefixed key, say) still count.
    for key, messages in errors.items():
        definition = ConfigKeyInfo(key, "STRING", False, None, "LOW", "", None)
        infos.append(ConfigInfo(definition, ConfigValueInfo(key, raw.get(key), errors=messages)))
    name = registry.display_name(connector_cls) if connector_cls is not None else class_name
    error_count = sum(len(c.value.errors) for c in infos)
    return ConfigInfos(name=name, error_count=error_count, groups=groups, configs=infos)
