"""ByteArrayConverter: `org.apache.kafka.connect.converters.ByteArrayConverter`.

Bytes go through untouched in both directions; reading gives an optional BYTES schema. Writing
a value that isn't bytes, or with a schema that isn't BYTES, is a `DataError` naming it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from kconnect.api.converter import Converter, HeaderConverter
from kconnect.converters._config import ConverterTypeConfig, get_converter_type
from kconnect.data.schema import Schema, SchemaAndValue, Type
from kconnect.errors import DataError

if TYPE_CHECKING:
    from kconnect.api.records import Headers


class ByteArrayConverter(Converter, HeaderConverter):
    config_model = ConverterTypeConfig

    def configure(self, configs: Mapping[str, str], is_key: bool = False) -> None:
        get_converter_type(configs)

    def from_connect_data(
        self, topic: str, schema: Schema | None, value: object, headers: Headers | None = None
    ) -> bytes | None:
        if schema is not None and schema.type is not Type.BYTES:
            raise DataError(
                f"Invalid schema type for ByteArrayConverter: {schema.type.name} "
                f"(topic {topic!r}); expected BYTES"
            )
        if value is None:
            return None
        if type(value) is bytes:
            return value
        if isinstance(value, bytes | bytearray | memoryview):
            return bytes(value)
        raise DataError(
            f"ByteArrayConverter is not compatible with objects of type {type(value).__name__} "
            f"(topic {topic!r}); expected bytes"
        )

    def fixed_schema_reader(self) -> tuple[Schema | None, Callable[[bytes], object]]:
        return Schema.OPTIONAL_BYTES, _same

    def to_connect_data(
        self, topic: str, value: bytes | None, headers: Headers | None = None
    ) -> SchemaAndValue:
        return SchemaAndValue(Schema.OPTIONAL_BYTES, value)

    def from_connect_header(
        self, topic: str, header_key: str, schema: Schema | None, value: object
    ) -> bytes | None:
        return self.from_connect_data(topic, schema, value)

    def to_connect_header(self, topic: str, header_key: str, value: bytes | None) -> SchemaAndValue:
        return self.to_connect_data(topic, value)


def _same(value: bytes) -> bytes:
    return value
