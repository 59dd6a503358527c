"""The predicates Kafka Connect ships: TopicNameMatches, HasHeaderKey and RecordIsTombstone.

A predicate makes a transform apply to some records only (`transforms.<t>.predicate`, with
`transforms.<t>.negate=true` to apply it to the others). These are
`org.apache.kafka.connect.transforms.predicates.*`, with the same keys:

- `TopicNameMatches` is true when `pattern`, a Java regular expression, matches the whole topic
  name (Java's `Matcher.matches()`, not a search). The pattern is checked at configuration;
  syntax Python can't express is refused there (see `kconnect.transforms._javaregex`).
- `HasHeaderKey` is true when at least one header is named `name`, whatever its value (a null
  value counts).
- `RecordIsTombstone` is true when the value is null, whatever the key and schemas.

Each is a pure test of the record; none changes it or keeps state between records.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TypeVar

from pydantic import Field, field_validator

from kconnect.api.records import ConnectRecord
from kconnect.api.transform import Predicate, TransformConfig
from kconnect.transforms._javaregex import compile_java_regex

R = TypeVar("R", bound=ConnectRecord)


class TopicNameMatchesConfig(TransformConfig):
    pattern: str = Field(
        alias="pattern",
        min_length=1,
        description="A Java regular expression for matching against the name of a record's topic.",
        json_schema_extra={"importance": "MEDIUM"},
    )

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            compile_java_regex(value)
        except ValueError as e:
            raise ValueError(f"entry must be a Java-compatible regular expression: {e}") from None
        return value


class TopicNameMatches(Predicate[R]):
    """True for records with a topic name that matches the configured regular expression."""

    config_model = TopicNameMatchesConfig

    def __init__(self) -> None:
        self._pattern: re.Pattern[str] | None = None

    def configure(self, configs: Mapping[str, str]) -> None:
        self._pattern = compile_java_regex(TopicNameMatchesConfig.parse(configs).pattern)

    def test(self, record: R) -> bool:
        pattern = self._pattern
        if pattern is None:
            raise RuntimeError("TopicNameMatches.test called before configure")
        return record.topic is not None and pattern.fullmatch(record.topic) is not None

    def __repr__(self) -> str:
        shown = None if self._pattern is None else self._pattern.pattern
        return f"TopicNameMatches{{pattern={shown}}}"


class HasHeaderKeyConfig(TransformConfig):
    name: str = Field(
        alias="name",
        min_length=1,
        description="The header name.",
        json_schema_extra={"importance": "MEDIUM"},
    )


class HasHeaderKey(Predicate[R]):
    """True for records with at least one header with the configured name."""

    config_model = HasHeaderKeyConfig

    def __init__(self) -> None:
        self._name = ""

    def configure(self, configs: Mapping[str, str]) -> None:
        self._name = HasHeaderKeyConfig.parse(configs).name

    def test(self, record: R) -> bool:
        return record.has_headers() and record.headers.last(self._name) is not None

    def __repr__(self) -> str:
        return f"HasHeaderKey{{name='{self._name}'}}"


class RecordIsTombstone(Predicate[R]):
    """True for records which are tombstones (a null value)."""

    config_model = TransformConfig

    def configure(self, configs: Mapping[str, str]) -> None:
        TransformConfig.parse(configs)

    def test(self, record: R) -> bool:
        return record.value is None
