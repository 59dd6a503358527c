"""Config values written as YAML or JSON scalars, turned into the strings Kafka Connect expects.

A Kubernetes manifest (a `KafkaConnector`'s `spec.config`, a `workerConfig`) is YAML, and YAML
makes `tasks.max: 2` a number and `enable.auto.commit: false` a boolean. Strimzi accepts them, so
manifests written for it carry over. Kafka Connect's configs are maps of strings, so each scalar
becomes the text a Java worker would have received for it (Strimzi's operator hands it to Jackson,
which prints it with Java's `toString`):

- a string stays as written;
- a boolean is `true` or `false`;
- an integer is its decimal digits (`2`, never `2.0`);
- a floating-point number is Java's `Double.toString`: `0.5`, `1.0`, `1.0E-4`, `1.0E20` (decimal
  notation from 10^-3 up to 10^7, else one digit, a point, the shortest digits and an exponent).
  YAML's `.inf` and `.nan` have no meaning in a config and are refused.

Anything else (a mapping, a list, a null) is refused with an error naming the key: a config value
is one setting, and turning a structure into text would guess at a format the plugin never asked
for.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal

from kconnect.errors import ConfigError

EXPECTED = "expected a string, number or boolean"


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "a list"
    return f"a {type(value).__name__}"


def java_double_text(value: float) -> str:
    """`value` as Java's `Double.toString` prints it (shortest digits, as Java 19 and later)."""
    if not math.isfinite(value):
        raise ValueError(f"{value!r} is not a finite number")
    if value == 0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    sign = "-" if value < 0 else ""
    _, digit_tuple, exponent = Decimal(repr(abs(value))).as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(map(str, digit_tuple)).rstrip("0") or "0"
    # The decimal exponent of the first digit: value = d.ddd x 10^point.
    point = len(digit_tuple) + exponent - 1
    if 1e-3 <= abs(value) < 1e7:
        if point >= 0:
            whole = digits[: point + 1].ljust(point + 1, "0")
            fraction = digits[point + 1 :] or "0"
        else:
            whole, fraction = "0", "0" * (-point - 1) + digits
        return f"{sign}{whole}.{fraction}"
    return f"{sign}{digits[0]}.{digits[1:] or '0'}E{point}"


def config_value_text(value: object) -> str:
    """The config text of one scalar; a ValueError says what was expected otherwise."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{EXPECTED}, got {value!r}, which is not a finite number")
        return java_double_text(value)
    raise ValueError(f"{EXPECTED}, got {_kind(value)}")


def config_map_text(mapping: object, where: str) -> dict[str, str]:
    """A map of config keys to scalars as a map of strings; a ConfigError names `where` (say
    `spec.config`) and the key."""
    if mapping is None:
        return {}
    if not isinstance(mapping, Mapping):
        raise ConfigError(f"{where}: expected a map of config keys to values, got {_kind(mapping)}")
    out: dict[str, str] = {}
    for key, value in mapping.items():
        if not isinstance(key, str):
            raise ConfigError(f"{where}: key {key!r} is not a string")
        try:
            out[key] = config_value_text(value)
        except ValueError as e:
            raise ConfigError(f"{where}: invalid value for key '{key}': {e}") from None
    return out
