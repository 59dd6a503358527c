"""What the herder reports: the shapes of Kafka Connect's REST responses.

Each class renders itself with `to_json()` into exactly the JSON Apache Kafka Connect 4.x
returns, key for key, so existing clients and UIs read it unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from kconnect.api.types import ConnectorName, JsonValue, TaskId
from kconnect.storage.states import StateInfo


class ConnectorType(StrEnum):
    SOURCE = "source"
    SINK = "sink"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class ConnectorInfo:
    name: ConnectorName
    config: dict[str, str]
    tasks: list[TaskId]
    type: ConnectorType

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "name": self.name,
            "config": dict(self.config),
            "tasks": [{"connector": t.connector, "task": t.task} for t in self.tasks],
            "type": self.type.value,
        }


@dataclass(frozen=True)
class TaskStateInfo:
    id: int
    info: StateInfo

    def to_json(self) -> dict[str, JsonValue]:
        return {"id": self.id, **self.info.to_json()}


@dataclass(frozen=True)
class ConnectorStateInfo:
    name: ConnectorName
    connector: StateInfo
    tasks: list[TaskStateInfo]
    type: ConnectorType

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "name": self.name,
            "connector": self.connector.to_json(),
            "tasks": [t.to_json() for t in self.tasks],
            "type": self.type.value,
        }


@dataclass(frozen=True)
class TaskInfo:
    id: TaskId
    config: dict[str, str]

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "id": {"connector": self.id.connector, "task": self.id.task},
            "config": dict(self.config),
        }


class PluginType(StrEnum):
    SOURCE = "source"
    SINK = "sink"
    CONVERTER = "converter"
    HEADER_CONVERTER = "header_converter"
    TRANSFORMATION = "transformation"
    PREDICATE = "predicate"
    CONFIG_PROVIDER = "config_provider"
    REST_EXTENSION = "rest_extension"
    CONNECTOR_CLIENT_CONFIG_OVERRIDE_POLICY = "connector_client_config_override_policy"


@dataclass(frozen=True)
class PluginInfo:
    class_name: str
    type: PluginType
    version: str

    def to_json(self) -> dict[str, JsonValue]:
        return {"class": self.class_name, "type": self.type.value, "version": self.version}


@dataclass(frozen=True)
class ConfigKeyInfo:
    """One key's definition, as `GET /connector-plugins/{p}/config` lists it."""

    name: str
    type: str  # BOOLEAN, STRING, INT, SHORT, LONG, DOUBLE, LIST, CLASS, PASSWORD
    required: bool
    default_value: str | None
    importance: str  # HIGH, MEDIUM, LOW
    documentation: str
    group: str | None = None
    order_in_group: int = -1
    width: str = "NONE"
    display_name: str = ""
    dependents: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "name": self.name,
            "type": self.type,
            "required": self.required,
            "default_value": self.default_value,
            "importance": self.importance,
            "documentation": self.documentation,
            "group": self.group,
            "width": self.width,
            "display_name": self.display_name or self.name,
            "dependents": list(self.dependents),
            "order": self.order_in_group,
        }


@dataclass(frozen=True)
class ConfigValueInfo:
    name: str
    value: str | None
    recommended_values: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    visible: bool = True

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "name": self.name,
            "value": self.value,
            "recommended_values": list(self.recommended_values),
            "errors": list(self.errors),
            "visible": self.visible,
        }


@dataclass(frozen=True)
class ConfigInfo:
    definition: ConfigKeyInfo
    value: ConfigValueInfo

    def to_json(self) -> dict[str, JsonValue]:
        return {"definition": self.definition.to_json(), "value": self.value.to_json()}


@dataclass(frozen=True)
class ConfigInfos:
    """The answer of `PUT /connector-plugins/{p}/config/validate`."""

    name: str
    error_count: int
    groups: list[str]
    configs: list[ConfigInfo]

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "name": self.name,
            "error_count": self.error_count,
            "groups": list(self.groups),
            "configs": [c.to_json() for c in self.configs],
        }

    def error_messages(self) -> list[str]:
        return [
            e if f"'{c.value.name}'" in e or e.startswith(c.value.name) else f"{c.value.name}: {e}"
            for c in self.configs
            for e in c.value.errors
        ]


@dataclass(frozen=True)
class ServerInfo:
    version: str
    commit: str
    kafka_cluster_id: str | None

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "version": self.version,
            "commit": self.commit,
            "kafka_cluster_id": self.kafka_cluster_id,
        }


@dataclass(frozen=True)
class ConnectorOffset:
    partition: dict[str, JsonValue]
    offset: dict[str, JsonValue] | None

    def to_json(self) -> dict[str, JsonValue]:
        return {"partition": self.partition, "offset": self.offset}


@dataclass(frozen=True)
class ConnectorOffsets:
    offsets: list[ConnectorOffset]

    def to_json(self) -> dict[str, JsonValue]:
        return {"offsets": [o.to_json() for o in self.offsets]}
