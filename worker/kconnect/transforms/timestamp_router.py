"""TimestampRouter: route a record to a topic named after its topic and its timestamp.

Kafka Connect's `org.apache.kafka.connect.transforms.TimestampRouter`, with the same keys and
defaults. The new topic is `topic.format` with `${topic}` replaced by the record's topic and then
`${timestamp}` by the record's timestamp formatted with `timestamp.format`, a Java
`SimpleDateFormat` pattern applied in UTC (see `kconnect.transforms._datefmt` for the letters it
takes). The default, `${topic}-${timestamp}` with `yyyyMMdd`, sends a record of 2024-03-01 on
`orders` to `orders-20240301`: a topic or index per day for sinks that partition by name.

Everything but the topic is kept. A record without a timestamp can't be routed and is a
`DataError`, as in Java. A bad `timestamp.format` is a `ConfigError` at configuration, where Java
only fails on the first record.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from pydantic import Field, field_validator

from kconnect.api.records import ConnectRecord
from kconnect.api.transform import Transformation, TransformConfig
from kconnect.errors import DataError
from kconnect.transforms._datefmt import DateFormat, PatternError, compile_pattern
from kconnect.transforms._part import with_topic

R = TypeVar("R", bound=ConnectRecord)

TOPIC_PLACEHOLDER = "${topic}"
TIMESTAMP_PLACEHOLDER = "${timestamp}"


class TimestampRouterConfig(TransformConfig):
    topic_format: str = Field(
        "${topic}-${timestamp}",
        alias="topic.format",
        description="Format string which can contain ``${topic}`` and ``${timestamp}`` as "
        "placeholders for the topic and timestamp, respectively.",
        json_schema_extra={"importance": "HIGH"},
    )
    timestamp_format: str = Field(
        "yyyyMMdd",
        alias="timestamp.format",
        description="Format string for the timestamp that is compatible with "
        "``java.text.SimpleDateFormat``.",
        json_schema_extra={"importance": "HIGH"},
    )

    @field_validator("timestamp_format")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            compile_pattern(value)
        except PatternError as e:
            raise ValueError(f"expected a SimpleDateFormat-compatible pattern: {e}") from None
        return value


def routed_topic(topic_format: str, topic: str, formatted_timestamp: str) -> str:
    """The placeholders replaced in Java's order: `${topic}` first, then `${timestamp}`."""
    return topic_format.replace(TOPIC_PLACEHOLDER, topic).replace(
        TIMESTAMP_PLACEHOLDER, formatted_timestamp
    )


class TimestampRouter(Transformation[R]):
    """Update the record's topic from its original topic and its timestamp."""

    config_model = TimestampRouterConfig

    def __init__(self) -> None:
        self._topic_format = "${topic}-${timestamp}"
        self._timestamp_format: DateFormat = compile_pattern("yyyyMMdd")

    def configure(self, configs: Mapping[str, str]) -> None:
        config = TimestampRouterConfig.parse(configs)
        self._topic_format = config.topic_format
        self._timestamp_format = compile_pattern(config.timestamp_format)

    def apply(self, record: R) -> R:
        timestamp = record.timestamp
        if timestamp is None:
            raise DataError(f"Timestamp missing on record: {record!r}")
        try:
            formatted = self._timestamp_format.format(timestamp)
        except PatternError as e:
            raise DataError(f"Could not format the timestamp of the record: {e}") from None
        return with_topic(record, routed_topic(self._topic_format, record.topic, formatted))
