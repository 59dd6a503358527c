"""Reading converter config values the way Kafka's `ConfigDef` does, with messages for people.

Values usually arrive as strings from a properties file or a REST body, but Python callers may
pass `bool`/`int` directly; both are accepted. Unknown keys are ignored, as in Java (the worker
passes every `key.converter.*` key through).
"""

from __future__ import annotations

import codecs
from collections.abc import Mapping

from pydantic import Field
from pydantic.config import JsonDict

from kconnect.api.config import ConnectorConfig
from kconnect.errors import ConfigError

TYPE_CONFIG = "converter.type"
CONVERTER_TYPES = ("key", "value", "header")


_TYPE_DOC = "How this converter will be used."


class ConverterTypeConfig(ConnectorConfig):
    """Kafka's `ConverterConfig`: the key every converter of Kafka's has. The models here describe
    the keys (`GET /connector-plugins/{p}/config`); the converters read them with the functions
    below."""

    converter_type: str = Field(
        alias=TYPE_CONFIG,
        description=_TYPE_DOC,
        json_schema_extra={"importance": "LOW", "display_name": TYPE_CONFIG},
    )


def _bad(key: str, value: object, expected: str) -> ConfigError:
    return ConfigError(f"invalid value {value!r} for key '{key}': expected {expected}")


def get_bool(configs: Mapping[str, object], key: str, default: bool) -> bool:
    value = configs.get(key)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        if text == "true":
            return True
        if text == "false":
            return False
    raise _bad(key, value, "true or false")


def get_int(
    configs: Mapping[str, object], key: str, default: int, minimum: int | None = None
) -> int:
    value = configs.get(key)
    if value is None:
        return default
    if isinstance(value, bool):
        raise _bad(key, value, "an integer")
    if isinstance(value, int):
        result = value
    elif isinstance(value, str):
        try:
            result = int(value.strip())
        except ValueError:
            raise _bad(key, value, "an integer") from None
    else:
        raise _bad(key, value, "an integer")
    if minimum is not None and result < minimum:
        raise _bad(key, value, f"an integer of at least {minimum}")
    return result


def get_choice(
    configs: Mapping[str, object], key: str, default: str, choices: tuple[str, ...]
) -> str:
    """A case-insensitive choice, returned upper-cased as Java's enums are named."""
    value = configs.get(key)
    if value is None:
        return default
    if isinstance(value, str) and value.strip().upper() in choices:
        return value.strip().upper()
    raise _bad(key, value, "one of " + ", ".join(choices) + " (case-insensitive)")


def get_converter_type(configs: Mapping[str, object]) -> str | None:
    """`converter.type` (key, value or header), checked but otherwise informational."""
    value = configs.get(TYPE_CONFIG)
    if value is None:
        return None
    if isinstance(value, str) and value.strip().lower() in CONVERTER_TYPES:
        return value.strip().lower()
    raise _bad(TYPE_CONFIG, value, "one of key, value, header")


def get_encoding(configs: Mapping[str, object], key: str, default: str) -> str:
    value = configs.get(key)
    if value is None:
        return default
    if not isinstance(value, str):
        raise _bad(key, value, "the name of a character encoding, such as UTF-8")
    try:
        return codecs.lookup(value.strip()).name
    except LookupError:
        raise _bad(key, value, "the name of a character encoding, such as UTF-8") from None


def _key(importance: str, display: str, group: str | None = None) -> JsonDict:
    extra: JsonDict = {"importance": importance, "display_name": display}
    if group is not None:
        extra["group"] = group
    return extra


class JsonConverterConfig(ConverterTypeConfig):
    """Kafka's `JsonConverterConfig`."""

    schemas_enable: bool = Field(
        True,
        alias="schemas.enable",
        description="Include schemas within each of the serialized values and keys.",
        json_schema_extra=_key("HIGH", "Enable Schemas", "Schemas"),
    )
    schemas_cache_size: int = Field(
        1000,
        alias="schemas.cache.size",
        description="The maximum number of schemas that can be cached in this converter instance.",
        json_schema_extra=_key("HIGH", "Schema Cache Size", "Schemas"),
    )
    decimal_format: str = Field(
        "BASE64",
        alias="decimal.format",
        description=(
            "Controls which format this converter will serialize decimals in. This value is "
            "case insensitive and can be either 'BASE64' (default) or 'NUMERIC'"
        ),
        json_schema_extra=_key("LOW", "Decimal Format", "Serialization"),
    )
    replace_null_with_default: bool = Field(
        True,
        alias="replace.null.with.default",
        description=(
            "Whether to replace fields that have a default value and that are null to the "
            "default value. When set to true, the default value is used, otherwise null is used."
        ),
        json_schema_extra=_key("LOW", "Replace null with default", "Serialization"),
    )


class StringConverterConfig(ConverterTypeConfig):
    """Kafka's `StringConverterConfig`, and the two keys Kafka's string serializer and
    deserializer read beside it."""

    converter_encoding: str = Field(
        "UTF-8",
        alias="converter.encoding",
        description=(
            "The name of the Java character set to use for encoding strings as byte arrays."
        ),
        json_schema_extra=_key("HIGH", "Encoding"),
    )
    serializer_encoding: str | None = Field(
        None,
        alias="serializer.encoding",
        description="The encoding for writing; overrides converter.encoding.",
        json_schema_extra=_key("LOW", "Serializer encoding"),
    )
    deserializer_encoding: str | None = Field(
        None,
        alias="deserializer.encoding",
        description="The encoding for reading; overrides converter.encoding.",
        json_schema_extra=_key("LOW", "Deserializer encoding"),
    )
