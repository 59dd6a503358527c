"""Names for the values that flow between the runtime's layers."""

from __future__ import annotations

from typing import NamedTuple, NewType, TypeAlias

ConnectorName = NewType("ConnectorName", str)
TaskNumber = NewType("TaskNumber", int)

JsonValue: TypeAlias = "bool | int | float | str | list[JsonValue] | dict[str, JsonValue] | None"
"""A value as JSON decodes it: what offsets, partitions and REST bodies are made of."""

SourcePartition: TypeAlias = "dict[str, JsonValue]"
SourceOffset: TypeAlias = "dict[str, JsonValue]"


class TaskId(NamedTuple):
    """A task of a connector: Kafka Connect's `ConnectorTaskId`."""

    connector: ConnectorName
    task: TaskNumber

    def __str__(self) -> str:
        return f"{self.connector}-{self.task}"


class TopicPartition(NamedTuple):
    topic: str
    partition: int


class OffsetAndMetadata(NamedTuple):
    """The next offset to consume in a topic partition, as a sink commits it."""

    offset: int
    metadata: str = ""
