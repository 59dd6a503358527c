"""RegexRouter: rename a record's topic with a regular expression and a replacement.

Kafka Connect's `org.apache.kafka.connect.transforms.RegexRouter`, with the same keys. `regex` is
a Java regular expression that must match the whole topic (Java's `Matcher.matches()`); a topic
it doesn't match passes unchanged. For a topic it matches, the new topic is the topic with its
first match (Java's `replaceFirst`, which searches again from the start) replaced by
`replacement`, where `$1` is a group, `${name}` a named group and `\\$` a literal dollar. So
`regex=(.*)-(\\d+)` and `replacement=$1` send `orders-42` to `orders`.

Everything but the topic is kept. Java reports a `replacement` naming a group the regex doesn't
have on every matching record; here it is a `ConfigError` at configuration. Regex syntax Python
can't express is refused the same way (see `kconnect.transforms._javaregex`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TypeVar

from pydantic import Field, ValidationInfo, field_validator

from kconnect.api.records import ConnectRecord
from kconnect.api.transform import Transformation, TransformConfig
from kconnect.transforms._javaregex import Replacement, compile_java_regex, compile_replacement
from kconnect.transforms._part import with_topic

R = TypeVar("R", bound=ConnectRecord)


class RegexRouterConfig(TransformConfig):
    regex: str = Field(
        alias="regex",
        description="Regular expression to use for matching.",
        json_schema_extra={"importance": "HIGH"},
    )
    replacement: str = Field(
        alias="replacement",
        description="Replacement string.",
        json_schema_extra={"importance": "HIGH"},
    )

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            compile_java_regex(value)
        except ValueError as e:
            raise ValueError(f"expected a Java-compatible regular expression: {e}") from None
        return value

    @field_validator("replacement")
    @classmethod
    def _fits_the_regex(cls, value: str, info: ValidationInfo) -> str:
        regex = info.data.get("regex")
        if not isinstance(regex, str):
            return value  # the regex is missing or invalid, and reported as such
        try:
            compile_replacement(compile_java_regex(regex), value)
        except ValueError as e:
            raise ValueError(f"expected a replacement for the regex {regex!r}: {e}") from None
        return value


def reroute(pattern: re.Pattern[str], replacement: Replacement, topic: str) -> str | None:
    """The new topic, or None when `pattern` doesn't match all of `topic`."""
    if pattern.fullmatch(topic) is None:
        return None
    return pattern.sub(replacement, topic, count=1)


class RegexRouter(Transformation[R]):
    """Update the record topic using the configured regular expression and replacement string."""

    config_model = RegexRouterConfig

    def __init__(self) -> None:
        self._pattern: re.Pattern[str] = re.compile("")
        self._replacement: Replacement = lambda match: match.group(0)

    def configure(self, configs: Mapping[str, str]) -> None:
        config = RegexRouterConfig.parse(configs)
        self._pattern = compile_java_regex(config.regex)
        self._replacement = compile_replacement(self._pattern, config.replacement)

    def apply(self, record: R) -> R:
        topic = reroute(self._pattern, self._replacement, record.topic)
        if topic is None:
            return record
        return with_topic(record, topic)
