"""kconnect: Kafka Connect, rewritten in Python and built for Kubernetes.

This package exports the connector API that plugins build on. Everything under `kconnect.*` that
is not re-exported here is internal and may change.
"""

from kconnect.api.config import ConnectorConfig
from kconnect.api.connector import (
    Connector,
    ConnectorContext,
    ConnectorTransactionBoundaries,
    ExactlyOnceSupport,
    SinkConnector,
    SourceConnector,
)
from kconnect.api.records import ConnectRecord, Header, Headers, SinkRecord, SourceRecord
from kconnect.api.task import (
    ErrantRecordReporter,
    OffsetStorageReader,
    RecordMetadata,
    SinkTask,
    SinkTaskContext,
    SourceTask,
    SourceTaskContext,
    Task,
    TransactionContext,
)
from kconnect.api.transform import Predicate, Transformation, TransformConfig
from kconnect.api.types import (
    ConnectorName,
    JsonValue,
    OffsetAndMetadata,
    TaskId,
    TaskNumber,
    TopicPartition,
)
from kconnect.errors import ConfigError, ConnectError, DataError, RetriableError

__all__ = [
    "ConfigError",
    "ConnectError",
    "ConnectRecord",
    "Connector",
    "ConnectorConfig",
    "ConnectorContext",
    "ConnectorName",
    "ConnectorTransactionBoundaries",
    "DataError",
    "ErrantRecordReporter",
    "ExactlyOnceSupport",
    "Header",
    "Headers",
    "JsonValue",
    "OffsetAndMetadata",
    "OffsetStorageReader",
    "Predicate",
    "RecordMetadata",
    "RetriableError",
    "SinkConnector",
    "SinkRecord",
    "SinkTask",
    "SinkTaskContext",
    "SourceConnector",
    "SourceRecord",
    "SourceTask",
    "SourceTaskContext",
    "Task",
    "TaskId",
    "TaskNumber",
    "TopicPartition",
    "TransactionContext",
    "TransformConfig",
    "Transformation",
]
