"""Config values written as YAML scalars become the text Kafka Connect expects."""

from __future__ import annotations

import math

import pytest

from kconnect.config.values import config_map_text, config_value_text, java_double_text
from kconnect.errors import ConfigError


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("all", "all"),
        ("", ""),
        (True, "true"),
        (False, "false"),
        (0, "0"),
        (2, "2"),
        (-7, "-7"),
        (12345678901234567890, "12345678901234567890"),
        (0.5, "0.5"),
        (1.0, "1.0"),
        (-2.5, "-2.5"),
        (100.0, "100.0"),
        (0.001, "0.001"),
        (1234567.0, "1234567.0"),
        (1e7, "1.0E7"),
        (12345678.0, "1.2345678E7"),
        (1e-4, "1.0E-4"),
        (1e20, "1.0E20"),
        (0.1 + 0.2, "0.30000000000000004"),
        (0.0, "0.0"),
        (-0.0, "-0.0"),
    ],
)
def test_scalars_become_javas_text(value: object, text: str) -> None:
    assert config_value_text(value) == text


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"a": 1}, "got an object"),
        ([1], "got a list"),
        (None, "got null"),
        (math.inf, "not a finite number"),
        (math.nan, "not a finite number"),
    ],
)
def test_what_is_not_one_setting_is_refused(value: object, expected: str) -> None:
    with pytest.raises(ValueError, match="expected a string, number or boolean") as info:
        config_value_text(value)
    assert expected in str(info.value)


def test_java_double_text_refuses_non_finite_numbers() -> None:
    with pytest.raises(ValueError, match="finite"):
        java_double_text(math.inf)


def test_a_map_error_names_where_and_the_key() -> None:
    assert config_map_text({"tasks.max": 2, "enabled": False}, "spec.config") == {
        "tasks.max": "2",
        "enabled": "false",
    }
    assert config_map_text(None, "spec.config") == {}
    with pytest.raises(ConfigError) as info:
        config_map_text({"topic": "t", "transforms": ["a", "b"]}, "spec.config")
    assert str(info.value) == (
        "spec.config: invalid value for key 'transforms': expected a string, number or boolean, "
        "got a list"
    )
    with pytest.raises(ConfigError, match=r"spec\.workerConfig: expected a map"):
        config_map_text(["a"], "spec.workerConfig")
