"""Converters: between a record's Connect data (schema and value) and the bytes in Kafka.

A converter is configured once per task, for keys or for values, and then called on the task's
thread for every record; it needs no locking, but it must be cheap. Config keys are those of
Kafka Connect (`schemas.enable`, `converter.encoding`, ...), without the `key.converter.` or
`value.converter.` prefix. A bad config raises `ConfigError`; bytes that can't be read raise
`DataError`. A class describes its keys with a pydantic `config_model`, as connectors and
transforms do; `GET /connector-plugins/{p}/config` lists them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, ClassVar

from kconnect.api.config import ConnectorConfig

if TYPE_CHECKING:
    from kconnect.api.records import Headers
    from kconnect.data.schema import Schema, SchemaAndValue


class Converter(ABC):
    config_model: ClassVar[type[ConnectorConfig]] = ConnectorConfig

    def configure(self, configs: Mapping[str, str], is_key: bool) -> None:
        """Read the converter's own keys (prefix removed)."""

    @abstractmethod
    def from_connect_data(
        self, topic: str, schema: Schema | None, value: object, headers: Headers | None = None
    ) -> bytes | None: ...

    @abstractmethod
    def to_connect_data(
        self, topic: str, value: bytes | None, headers: Headers | None = None
    ) -> SchemaAndValue: ...

    def close(self) -> None:
        """Release what `configure` opened (a Schema Registry client's connections, say); the
        runtime calls it once the task using the converter has stopped."""

    def fixed_schema_reader(self) -> tuple[Schema | None, Callable[[bytes], object]] | None:
        """An optional fast path for reading: when every value this converter reads has the same
        schema, whatever the topic and headers, return that schema and a function from non-null
        bytes to the value. The runtime then calls the function directly, saving a
        `SchemaAndValue` per record. It must agree with `to_connect_data`."""
        return None


class HeaderConverter(ABC):
    config_model: ClassVar[type[ConnectorConfig]] = ConnectorConfig

    def configure(self, configs: Mapping[str, str]) -> None:
        """Read the converter's own keys (prefix removed)."""

    @abstractmethod
    def from_connect_header(
        self, topic: str, header_key: str, schema: Schema | None, value: object
    ) -> bytes | None: ...

    @abstractmethod
    def to_connect_header(
        self, topic: str, header_key: str, value: bytes | None
    ) -> SchemaAndValue: ...
