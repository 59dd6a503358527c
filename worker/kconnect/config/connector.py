"""The runtime's own connector keys: those every connector config has, whatever its class.

The connector's own keys are checked by its `config_model`; these are checked here, the same way,
so that an error always names the key, the value and what was expected.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from kconnect.config.validation import validate_model

NAME = "name"
CONNECTOR_CLASS = "connector.class"
TASKS_MAX = "tasks.max"
TOPICS = "topics"
TOPICS_REGEX = "topics.regex"


ERRORS_RETRY_TIMEOUT_INFINITE = -1
ERRORS_RETRY_DELAY_MAX_MS = "errors.retry.delay.max.ms"
DEPRECATED_ERRORS_RETRY_MAX_DELAY_MS = "errors.retry.max.delay.ms"
"""kconnect's former, misspelt name of `errors.retry.delay.max.ms`: still read when Kafka's name
is absent, so configs written for earlier kconnect releases keep their cap."""


class ToleranceType(StrEnum):
    NONE = "none"
    ALL = "all"


_ERRORS = {"group": "Error Handling"}


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

    errors_retry_timeout: int = Field(
        0,
        alias="errors.retry.timeout",
        ge=ERRORS_RETRY_TIMEOUT_INFINITE,
        description=(
            "The maximum duration in milliseconds that a failed operation will be reattempted. "
            "The default is 0, which means no retries will be attempted. Use -1 for infinite "
            "retries."
        ),
        json_schema_extra={"importance": "MEDIUM", **_ERRORS, "type": "LONG"},
    )
    errors_retry_delay_max_ms: int = Field(
        60000,
        alias=ERRORS_RETRY_DELAY_MAX_MS,
        ge=1,
        description=(
            "The maximum duration in milliseconds between consecutive retry attempts. Jitter "
            "will be added to the delay once this limit is reached to prevent thundering herd "
            "issues."
        ),
        json_schema_extra={"importance": "MEDIUM", **_ERRORS, "type": "LONG"},
    )
    errors_tolerance: ToleranceType = Field(
        ToleranceType.NONE,
        alias="errors.tolerance",
        description=(
            "Behavior for tolerating errors during connector operation. 'none' is the default "
            "value and signals that any error will result in an immediate connector task "
            "failure; 'all' changes the behavior to skip over problematic records."
        ),
        json_schema_extra={"importance": "MEDIUM", **_ERRORS},
    )
    errors_log_enable: bool = Field(
        False,
        alias="errors.log.enable",
        description=(
            "If true, write each error and the details of the failed operation and problematic "
            "record to the Connect application log. This is 'false' by default, so that only "
            "errors that are not tolerated are reported."
        ),
        json_schema_extra={"importance": "MEDIUM", **_ERRORS},
    )
    errors_log_include_messages: bool = Field(
        False,
        alias="errors.log.include.messages",
        description=(
            "Whether to include in the log the Connect record that resulted in a failure. For "
            "sink records, the topic, partition, offset, and timestamp will be logged. For "
            "source records, the key and value (and their schemas), all headers, and the "
            "timestamp, Kafka topic, Kafka partition, source partition, and source offset will "
            "be logged. This is 'false' by default, which will prevent record keys, values, "
            "and headers from being written to log files."
        ),
        json_schema_extra={"importance": "MEDIUM", **_ERRORS},
    )

    @model_validator(mode="before")
    @classmethod
    def _deprecated_names(cls, data: object) -> object:
        if (
            isinstance(data, Mapping)
            and DEPRECATED_ERRORS_RETRY_MAX_DELAY_MS in data
            and ERRORS_RETRY_DELAY_MAX_MS not in data
        ):
            return {**data, ERRORS_RETRY_DELAY_MAX_MS: data[DEPRECATED_ERRORS_RETRY_MAX_DELAY_MS]}
        return data

    @field_validator("errors_tolerance", mode="before")
    @classmethod
    def _tolerance(cls, v: object) -> object:
        # Kafka Connect accepts the value in any case.
        return v.strip().lower() if isinstance(v, str) else v

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

    errors_deadletterqueue_topic_name: str = Field(
        "",
        alias="errors.deadletterqueue.topic.name",
        description=(
            "The name of the topic to be used as the dead letter queue (DLQ) for messages that "
            "result in an error when processed by this sink connector, or its transformations "
            "or converters. The topic name is blank by default, which means that no messages "
            "are to be recorded in the DLQ."
        ),
        json_schema_extra={"importance": "MEDIUM", **_ERRORS},
    )
    errors_deadletterqueue_topic_replication_factor: int = Field(
        3,
        alias="errors.deadletterqueue.topic.replication.factor",
        ge=-1,
        description=(
            "Replication factor used to create the dead letter queue topic when it doesn't "
            "already exist; -1 uses the broker's default."
        ),
        json_schema_extra={"importance": "MEDIUM", **_ERRORS, "type": "SHORT"},
    )
    errors_deadletterqueue_context_headers_enable: bool = Field(
        False,
        alias="errors.deadletterqueue.context.headers.enable",
        description=(
            "If true, add headers containing error context to the messages written to the dead "
            "letter queue. To avoid clashing with headers from the original record, all error "
            "context header keys, all error context header keys will start with __connect.errors."
        ),
        json_schema_extra={"importance": "MEDIUM", **_ERRORS},
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
        dlq = self.errors_deadletterqueue_topic_name.strip()
        if dlq and dlq in self.topic_list():
            raise ValueError(
                f"The DLQ topic '{dlq}' may not be included in the list of topics "
                f"('topics={self.topics}') consumed by the connector"
            )
        if dlq and self.topics_regex and re.fullmatch(self.topics_regex, dlq):
            raise ValueError(
                f"The DLQ topic '{dlq}' may not be matched by the regex for the topics "
                f"('topics.regex={self.topics_regex}') consumed by the connector"
            )
        return self

    def topic_list(self) -> list[str]:
        return [t.strip() for t in self.topics.split(",") if t.strip()]


def split_list(value: str) -> list[str]:
    """A Kafka Connect LIST value: comma-separated, blanks trimmed, empties dropped."""
    return [v.strip() for v in value.split(",") if v.strip()]
