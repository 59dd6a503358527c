"""StringConverter: `org.apache.kafka.connect.storage.StringConverter`.

Writes any value as text: a `str` as it is, anything else as Kafka Connect's `Values` would print
it (numbers, `true`/`false`, lists `[a,b]`, maps and structs `{"k":v}`, bytes as base64), and
None as no bytes at all. Reads text back as an optional STRING. Bytes that aren't valid in the
configured encoding are a `DataError`, not replaced silently as Java's `new String(bytes)` does.

Config: `converter.encoding` (default UTF-8), overridden for one direction by
`serializer.encoding` / `deserializer.encoding`, and `converter.type`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from kconnect.api.converter import Converter, HeaderConverter
from kconnect.converters._config import StringConverterConfig, get_converter_type, get_encoding
from kconnect.data._javatext import java_float_str, java_to_string
from kconnect.data.schema import Schema, SchemaAndValue, Type
from kconnect.errors import DataError

if TYPE_CHECKING:
    from kconnect.api.records import Headers

ENCODING_CONFIG = "converter.encoding"


class StringConverter(Converter, HeaderConverter):
    config_model = StringConverterConfig

    def __init__(self) -> None:
        self._encode_with = "utf-8"
        self._decode_with = "utf-8"

    def configure(self, configs: Mapping[str, str], is_key: bool = False) -> None:
        get_converter_type(configs)
        encoding = get_encoding(configs, ENCODING_CONFIG, "utf-8")
        self._encode_with = get_encoding(configs, "serializer.encoding", encoding)
        self._decode_with = get_encoding(configs, "deserializer.encoding", encoding)

    def from_connect_data(
        self, topic: str, schema: Schema | None, value: object, headers: Headers | None = None
    ) -> bytes | None:
        if value is None:
            return None
        if type(value) is str:
            text = value
        elif isinstance(value, float) and schema is not None and schema.type is Type.FLOAT32:
            text = java_float_str(value)
        else:
            text = java_to_string(value)
        try:
            return text.encode(self._encode_with)
        except UnicodeEncodeError as e:
            raise DataError(
                f"cannot write {text[e.start : e.end]!r} in encoding {self._encode_with} "
                f"(topic {topic!r})"
            ) from None

    def fixed_schema_reader(self) -> tuple[Schema | None, Callable[[bytes], object]]:
        return Schema.OPTIONAL_STRING, self._decode

    def _decode(self, value: bytes) -> str:
        try:
            return value.decode(self._decode_with)
        except UnicodeDecodeError as e:
            raise DataError(
                f"bytes at offset {e.start} are not valid {self._decode_with} text; "
                "set converter.encoding to the data's encoding"
            ) from None

    def to_connect_data(
        self, topic: str, value: bytes | None, headers: Headers | None = None
    ) -> SchemaAndValue:
        if value is None:
            return SchemaAndValue(Schema.OPTIONAL_STRING, None)
        try:
            return SchemaAndValue(Schema.OPTIONAL_STRING, bytes(value).decode(self._decode_with))
        except UnicodeDecodeError as e:
            raise DataError(
                f"bytes at offset {e.start} are not valid {self._decode_with} text "
                f"(topic {topic!r}); set converter.encoding to the data's encoding"
            ) from None

    def from_connect_header(
        self, topic: str, header_key: str, schema: Schema | None, value: object
    ) -> bytes | None:
        return self.from_connect_data(topic, schema, value)

    def to_connect_header(self, topic: str, header_key: str, value: bytes | None) -> SchemaAndValue:
        return self.to_connect_data(topic, value)
