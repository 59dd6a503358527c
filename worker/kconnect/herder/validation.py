"""Validating a connector config the way `PUT /connector-plugins/{p}/config/validate` reports it.

Validation never raises for a bad config: every problem becomes an error on the key it concerns,
so a user sees all of them at once. It checks the runtime's common keys, the connector class,
the connector's own `config_model`, and the converters the config names.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, get_args, get_origin

from pydantic import BaseModel, SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from kconnect.api.connector import Connector, SinkConnector
from kconnect.api.converter import Converter, HeaderConverter
from kconnect.config.connector import CommonConnectorConfig, SinkConnectorCommonConfig
from kconnect.config.providers import ConfigProviderError, ConfigTransformer
from kconnect.config.validation import describe_errors
from kconnect.config.worker import prefixed
from kconnect.errors import ConfigError
from kconnect.herder.model import ConfigInfo, ConfigInfos, ConfigKeyInfo, ConfigValueInfo
from kconnect.plugins.registry import PluginRegistry

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
                where = "topics" if "topics" in message else "connector.class"
            errors.setdefault(where, []).append(message)
        return errors
    return {}


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
        else CommonConnectorConfig
    )
    for key, messages in _model_errors(common, config).items():
        errors.setdefault(key, []).extend(messages)
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
            conv = cls()
            if isinstance(conv, Converter):
                conv.configure(prefixed(config, key + "."), key == "key.converter")
            elif isinstance(conv, HeaderConverter):
                conv.configure(prefixed(config, key + "."))
        except ConfigError as e:
            errors.setdefault(key, []).append(str(e))

    infos: list[ConfigInfo] = []
    seen: set[str] = set()
    groups: list[str] = []
    for model in models:
        for key_info in config_key_infos(model):
            if key_info.name in seen:
                continue
            seen.add(key_info.name)
            if key_info.group and key_info.group not in groups:
                groups.append(key_info.group)
            value = raw.get(key_info.name, key_info.default_value)
            infos.append(
                ConfigInfo(
                    key_info,
                    ConfigValueInfo(
                        key_info.name,
                        None if key_info.type == "PASSWORD" and value else value,
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
