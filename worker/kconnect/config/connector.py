"""The runtime's own connector keys: those every connector config has, whatever its class.

The connector's own keys are checked by its `config_model`; these are checked here, the same way,
so that an error always names the key, the value and what was expected.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from kconnect.config.validation import validate_model

NAME = "name"
CONNECTOR_CLASS = "connector.class"
TASKS_MAX = "tasks.max"
TOPICS = "topics"
TOPICS_REGEX = "topics.regex"


class CommonConnectorConfig(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True)

    name: str = Field(
        alias="name",
        min_length=1,
        description="Globally unique name to use for this connector.",
        json_schema_extra={
            "importance": "HIGH",
            "group": "Common",
            "display_name": "Connector name",
        },
    )
    connector_class: str = Field(
        alias="connector.class",
        min_length=1,
        description=(
            "Name or alias of the class for this connector: an installed plugin's name, a "
            "Kafka Connect class name, or a dotted path."
        ),
        json_schema_extra={
            "importance": "HIGH",
            "group": "Common",
            "display_name": "Connector class",
        },
    )
    tasks_max: int = Field(
        1,
        alias="tasks.max",
        ge=1,
        description="Maximum number of tasks to use for this connector.",
        json_schema_extra={"importance": "HIGH", "group": "Common", "display_name": "Tasks max"},
    )
    tasks_max_enforce: bool = Field(
        True,
        alias="tasks.max.enforce",
        description="Fail tasks when the connector makes more task configs than tasks.max.",
        json_schema_extra={"importance": "LOW", "group": "Common"},
    )
    key_converter: str | None = Field(
        None,
        alias="key.converter",
        description="Converter class for keys; overrides the worker's key.converter.",
        json_schema_extra={"importance": "LOW", "group": "Common", "type": "CLASS"},
    )
    value_converter: str | None = Field(
        None,
        alias="value.converter",
        description="Converter class for values; overrides the worker's value.converter.",
        json_schema_extra={"importance": "LOW", "group": "Common", "type": "CLASS"},
    )
    header_converter: str | None = Field(
        None,
        alias="header.converter",
        description="Header converter class; overrides the worker's header.converter.",
        json_schema_extra={"importance": "LOW", "group": "Common", "type": "CLASS"},
    )
    transforms: str = Field(
        "",
        alias="transforms",
        description="Aliases for the transformations to be applied to records.",
        json_schema_extra={"importance": "LOW", "group": "Transforms", "type": "LIST"},
    )
    predicates: str = Field(
        "",
        alias="predicates",
        description="Aliases for the predicates used by transformations.",
        json_schema_extra={"importance": "LOW", "group": "Predicates", "type": "LIST"},
    )

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if any(ord(c) < 0x20 or ord(c) == 0x7F for c in v):
            raise ValueError("connector names may not contain ISO control characters")
        if v != v.strip():
            raise ValueError("connector names may not start or end with white space")
        return v

    @classmethod
    def parse(cls, props: Mapping[str, str], source: str | None = None) -> Self:
        return validate_model(cls, props, source)


class SinkConnectorCommonConfig(CommonConnectorConfig):
    topics: str = Field(
        "",
        alias="topics",
        description="List of topics to consume, separated by commas.",
        json_schema_extra={"importance": "HIGH", "group": "Common", "type": "LIST"},
    )
    topics_regex: str = Field(
        "",
        alias="topics.regex",
        description="Regular expression giving topics to consume.",
        json_schema_extra={"importance": "HIGH", "group": "Common"},
    )

    @field_validator("topics_regex")
    @classmethod
    def _regex(cls, v: str) -> str:
        if v:
            try:
                re.compile(v)
            except re.error as e:
                raise ValueError(f"not a valid regular expression: {e}") from None
        return v

    @model_validator(mode="after")
    def _topics_xor_regex(self) -> Self:
        has_topics = bool(self.topic_list())
        if has_topics and self.topics_regex:
            raise ValueError("topics and topics.regex are mutually exclusive; set only one of them")
        if not has_topics and not self.topics_regex:
            raise ValueError("Must configure one of topics or topics.regex")
        return self

    def topic_list(self) -> list[str]:
        return [t.strip() for t in self.topics.split(",") if t.strip()]


def split_list(value: str) -> list[str]:
    """A Kafka Connect LIST value: comma-separated, blanks trimmed, empties dropped."""
    return [v.strip() for v in value.split(",") if v.strip()]
