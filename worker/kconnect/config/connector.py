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
from kconnect.config.versions import VersionSpecError, parse_requirement

NAME = "name"
CONNECTOR_CLASS = "connector.class"
TASKS_MAX = "tasks.max"
TOPICS = "topics"
TOPICS_REGEX = "topics.regex"
DLQ_TOPIC = "errors.deadletterqueue.topic.name"
CONNECTOR_PLUGIN_VERSION = "connector.plugin.version"
CONVERTER_PLUGIN_VERSIONS = {
    "key.converter": "key.converter.plugin.version",
    "value.converter": "value.converter.plugin.version",
    "header.converter": "header.converter.plugin.version",
}


ERRORS_RETRY_TIMEOUT_INFINITE = -1
ERRORS_RETRY_DELAY_MAX_MS = "errors.retry.delay.max.ms"
DEPRECATED_ERRORS_RETRY_MAX_DELAY_MS = "errors.retry.max.delay.ms"
"""kconnect's former, misspelt name of `errors.retry.delay.max.ms`: still read when Kafka's name
is absent, so configs written for earlier kconnect releases keep their cap."""


class ConfigActionReload(StrEnum):
    NONE = "none"
    RESTART = "restart"


class ExactlyOnceSupportLevel(StrEnum):
    REQUESTED = "requested"
    REQUIRED = "required"


class TransactionBoundary(StrEnum):
    POLL = "poll"
    INTERVAL = "interval"
    CONNECTOR = "connector"


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
    connector_plugin_version: str | None = Field(
        None,
        alias="connector.plugin.version",
        description=(
            "Version of the connector (KIP-891): a version or a range such as [1.0,2.0). "
            "kconnect has one version of each plugin; a requirement it does not meet is an error."
        ),
        json_schema_extra={
            "importance": "MEDIUM",
            "group": "Common",
            "display_name": "Connector version",
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
    key_converter_plugin_version: str | None = Field(
        None,
        alias="key.converter.plugin.version",
        description="Version of the key converter (KIP-891), as connector.plugin.version.",
        json_schema_extra={
            "importance": "LOW",
            "group": "Common",
            "display_name": "Key converter version",
        },
    )
    value_converter: str | None = Field(
        None,
        alias="value.converter",
        description="Converter class for values; overrides the worker's value.converter.",
        json_schema_extra={"importance": "LOW", "group": "Common", "type": "CLASS"},
    )
    value_converter_plugin_version: str | None = Field(
        None,
        alias="value.converter.plugin.version",
        description="Version of the value converter (KIP-891), as connector.plugin.version.",
        json_schema_extra={
            "importance": "LOW",
            "group": "Common",
            "display_name": "Value converter version",
        },
    )
    header_converter: str | None = Field(
        None,
        alias="header.converter",
        description="Header converter class; overrides the worker's header.converter.",
        json_schema_extra={"importance": "LOW", "group": "Common", "type": "CLASS"},
    )
    header_converter_plugin_version: str | None = Field(
        None,
        alias="header.converter.plugin.version",
        description="Version of the header converter (KIP-891), as connector.plugin.version.",
        json_schema_extra={
            "importance": "LOW",
            "group": "Common",
            "display_name": "Header converter version",
        },
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
    config_action_reload: ConfigActionReload = Field(
        ConfigActionReload.RESTART,
        alias="config.action.reload",
        description=(
            "The action to take when a config provider reports a change to the connector's "
            "configuration: 'restart' or 'none'. kconnect's built-in providers report no "
            "changes; a restart always reads the values afresh."
        ),
        json_schema_extra={"importance": "LOW", "group": "Common", "display_name": "Reload Action"},
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

    @field_validator(
        "connector_plugin_version",
        "key_converter_plugin_version",
        "value_converter_plugin_version",
        "header_converter_plugin_version",
    )
    @classmethod
    def _version_requirement(cls, v: str | None) -> str | None:
        try:
            parse_requirement(v)
        except VersionSpecError as e:
            raise ValueError(str(e)) from None
        return v

    @field_validator("errors_tolerance", "config_action_reload", mode="before")
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


_EXACTLY_ONCE = {"group": "Exactly Once Support"}


class SourceConnectorCommonConfig(CommonConnectorConfig):
    """Kafka Connect's `SourceConnectorConfig` keys. kconnect creates topics with the broker's
    defaults, as a Kafka Connect standalone worker does. The exactly-once keys are checked here
    for their form; whether the worker and the connector can honour them is checked by the
    herder's validation (`herder.validation`), which knows the worker's
    `exactly.once.source.support`."""

    topic_creation_groups: str = Field(
        "",
        alias="topic.creation.groups",
        description="Groups of configurations for topics created by source connectors",
        json_schema_extra={"importance": "LOW", "group": "Topic Creation", "type": "LIST"},
    )
    exactly_once_support: ExactlyOnceSupportLevel = Field(
        ExactlyOnceSupportLevel.REQUESTED,
        alias="exactly.once.support",
        description=(
            "Permitted values are requested, required. If set to 'required', forces a "
            "preflight check for the connector to ensure that it can provide exactly-once "
            "semantics with the given configuration."
        ),
        json_schema_extra={"importance": "MEDIUM", **_EXACTLY_ONCE},
    )
    transaction_boundary: TransactionBoundary = Field(
        TransactionBoundary.POLL,
        alias="transaction.boundary",
        description=(
            "Permitted values are: poll, interval, connector. The transaction boundary "
            "applies only to workers with exactly-once support."
        ),
        json_schema_extra={"importance": "MEDIUM", **_EXACTLY_ONCE},
    )
    transaction_boundary_interval_ms: int | None = Field(
        None,
        alias="transaction.boundary.interval.ms",
        ge=0,
        description="If 'transaction.boundary' is set to 'interval', the commit interval.",
        json_schema_extra={"importance": "LOW", **_EXACTLY_ONCE, "type": "LONG"},
    )
    offsets_storage_topic: str | None = Field(
        None,
        alias="offsets.storage.topic",
        description=(
            "The name of a separate offsets topic to use for this connector; used only with "
            "exactly-once support."
        ),
        json_schema_extra={"importance": "LOW", "group": "offsets.topic"},
    )

    @field_validator("exactly_once_support", "transaction_boundary", mode="before")
    @classmethod
    def _lower(cls, v: object) -> object:
        return v.strip().lower() if isinstance(v, str) else v


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
        problems = sink_topic_errors(
            {
                TOPICS: self.topics,
                TOPICS_REGEX: self.topics_regex,
                DLQ_TOPIC: self.errors_deadletterqueue_topic_name,
            }
        )
        if problems:
            raise ValueError(problems[0][1])
        return self

    def topic_list(self) -> list[str]:
        return [t.strip() for t in self.topics.split(",") if t.strip()]


def sink_topic_errors(config: Mapping[str, str]) -> list[tuple[str, str]]:
    """The rules over several sink keys, as (key, message): on the raw values, so validation
    reports them even when another key of the config is already wrong. As Kafka Connect does, a
    rule on `topics` and `topics.regex` is reported on both keys."""
    topics = split_list(config.get(TOPICS, "") or "")
    regex = (config.get(TOPICS_REGEX, "") or "").strip()
    dlq = (config.get(DLQ_TOPIC, "") or "").strip()
    both = "topics and topics.regex are mutually exclusive options, but both are set."
    neither = "Must configure one of topics or topics.regex"
    if topics and regex:
        return [(TOPICS, both), (TOPICS_REGEX, both)]
    if not topics and not regex:
        return [(TOPICS, neither), (TOPICS_REGEX, neither)]
    if dlq and dlq in topics:
        return [
            (
                DLQ_TOPIC,
                f"The DLQ topic '{dlq}' may not be included in the list of topics "
                f"('topics={config.get(TOPICS)}') consumed by the connector",
            )
        ]
    if dlq and regex:
        try:
            matched = re.fullmatch(regex, dlq) is not None
        except re.error:
            return []  # reported on topics.regex
        if matched:
            return [
                (
                    DLQ_TOPIC,
                    f"The DLQ topic '{dlq}' may not be matched by the regex for the topics "
                    f"('topics.regex={regex}') consumed by the connector",
                )
            ]
    return []


def split_list(value: str) -> list[str]:
    """A Kafka Connect LIST value: comma-separated, blanks trimmed, empties dropped."""
    return [v.strip() for v in value.split(",") if v.strip()]
