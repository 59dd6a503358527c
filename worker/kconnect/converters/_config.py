"""Reading converter config values the way Kafka's `ConfigDef` does, with messages for people.

Values usually arrive as strings from a properties file or a REST body, but Python callers may
pass `bool`/`int` directly; both are accepted. Unknown keys are ignored, as in Java (the worker
passes every `key.converter.*` key through).
"""

from __future__ import annotations

import codecs
from collections.abc import Mapping

from kconnect.errors import ConfigError

TYPE_CONFIG = "converter.type"
CONVERTER_TYPES = ("key", "value", "header")


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
