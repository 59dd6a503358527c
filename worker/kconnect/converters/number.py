"""The primitive converters Kafka ships in `org.apache.kafka.connect.converters`.

`BooleanConverter`, `ShortConverter`, `IntegerConverter`, `LongConverter`, `FloatConverter` and
`DoubleConverter` write a value as Kafka's own serializers do, so records pass between kconnect,
Kafka Connect and any Kafka client using `ShortSerializer`, `LongDeserializer` and the rest:

- booleans as one byte, `0x01` or `0x00`;
- integers as two, four or eight bytes, big-endian two's complement;
- floats as four or eight bytes, big-endian IEEE 754.

None is written as no bytes (a null value) and read back as None. Reading gives the optional
schema of the type (`OPTIONAL_INT64`, ...). A value of another type, an integer out of the
type's range, bytes of the wrong length, or a boolean byte other than 0 or 1 is a `DataError`
naming the topic, the type and what was found. Each is also a header converter, as in Java.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, ClassVar

from kconnect.api.converter import Converter, HeaderConverter
from kconnect.converters._config import ConverterTypeConfig, get_converter_type
from kconnect.data.schema import Schema, SchemaAndValue
from kconnect.errors import DataError

if TYPE_CHECKING:
    from kconnect.api.records import Headers


class _PrimitiveConverter(Converter, HeaderConverter):
    """One fixed-size type: `type_name` as Kafka's messages name it, its schema and format."""

    config_model = ConverterTypeConfig

    type_name: ClassVar[str]
    schema: ClassVar[Schema]
    fmt: ClassVar[struct.Struct]

    def configure(self, configs: Mapping[str, str], is_key: bool = False) -> None:
        get_converter_type(configs)

    def _check(self, topic: str, value: object) -> object:
        """The value to pack, or a DataError; subclasses check the type."""
        raise NotImplementedError

    def from_connect_data(
        self, topic: str, schema: Schema | None, value: object, headers: Headers | None = None
    ) -> bytes | None:
        if value is None:
            return None
        packed = self._check(topic, value)
        try:
            return self.fmt.pack(packed)
        except (struct.error, OverflowError) as e:
            raise DataError(
                f"Failed to serialize to {self.type_name} (topic {topic!r}): {value!r}: {e}"
            ) from None

    def _read(self, value: bytes) -> object:
        if len(value) != self.fmt.size:
            raise DataError(
                f"Failed to deserialize {self.type_name}: expected {self.fmt.size} byte(s), "
                f"got {len(value)}"
            )
        return self.fmt.unpack(value)[0]

    def fixed_schema_reader(self) -> tuple[Schema | None, Callable[[bytes], object]]:
        return self.schema, self._read

    def to_connect_data(
        self, topic: str, value: bytes | None, headers: Headers | None = None
    ) -> SchemaAndValue:
        if value is None:
            return SchemaAndValue(self.schema, None)
        try:
            return SchemaAndValue(self.schema, self._read(bytes(value)))
        except DataError as e:
            raise DataError(f"{e} (topic {topic!r})") from None

    def from_connect_header(
        self, topic: str, header_key: str, schema: Schema | None, value: object
    ) -> bytes | None:
        return self.from_connect_data(topic, schema, value)

    def to_connect_header(self, topic: str, header_key: str, value: bytes | None) -> SchemaAndValue:
        return self.to_connect_data(topic, value)


class _IntegerConverter(_PrimitiveConverter):
    bits: ClassVar[int]

    def _check(self, topic: str, value: object) -> object:
        if isinstance(value, bool) or not isinstance(value, int):
            raise DataError(
                f"Failed to serialize to {self.type_name} (was {type(value).__name__}, "
                f"topic {topic!r}): expected an integer"
            )
        bound = 1 << (self.bits - 1)
        if not -bound <= value < bound:
            raise DataError(
                f"Failed to serialize to {self.type_name} (topic {topic!r}): {value} is out of "
                f"range [{-bound}, {bound - 1}]"
            )
        return value


class _FloatingConverter(_PrimitiveConverter):
    def _check(self, topic: str, value: object) -> object:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise DataError(
                f"Failed to serialize to {self.type_name} (was {type(value).__name__}, "
                f"topic {topic!r}): expected a number"
            )
        return float(value)


class ShortConverter(_IntegerConverter):
    """`org.apache.kafka.connect.converters.ShortConverter`: Kafka's `ShortSerializer`."""

    type_name = "short"
    schema = Schema.OPTIONAL_INT16
    fmt = struct.Struct(">h")
    bits = 16


class IntegerConverter(_IntegerConverter):
    """`org.apache.kafka.connect.converters.IntegerConverter`: Kafka's `IntegerSerializer`."""

    type_name = "integer"
    schema = Schema.OPTIONAL_INT32
    fmt = struct.Struct(">i")
    bits = 32


class LongConverter(_IntegerConverter):
    """`org.apache.kafka.connect.converters.LongConverter`: Kafka's `LongSerializer`."""

    type_name = "long"
    schema = Schema.OPTIONAL_INT64
    fmt = struct.Struct(">q")
    bits = 64


class FloatConverter(_FloatingConverter):
    """`org.apache.kafka.connect.converters.FloatConverter`: Kafka's `FloatSerializer`."""

    type_name = "float"
    schema = Schema.OPTIONAL_FLOAT32
    fmt = struct.Struct(">f")


class DoubleConverter(_FloatingConverter):
    """`org.apache.kafka.connect.converters.DoubleConverter`: Kafka's `DoubleSerializer`."""

    type_name = "double"
    schema = Schema.OPTIONAL_FLOAT64
    fmt = struct.Struct(">d")


class BooleanConverter(_PrimitiveConverter):
    """`org.apache.kafka.connect.converters.BooleanConverter`: Kafka's `BooleanSerializer`."""

    type_name = "boolean"
    schema = Schema.OPTIONAL_BOOLEAN
    fmt = struct.Struct(">?")

    def _check(self, topic: str, value: object) -> object:
        if not isinstance(value, bool):
            raise DataError(
                f"Failed to serialize to boolean (was {type(value).__name__}, topic {topic!r}): "
                "expected true or false"
            )
        return value

    def _read(self, value: bytes) -> object:
        if len(value) != 1:
            raise DataError(f"Failed to deserialize boolean: expected 1 byte, got {len(value)}")
        if value[0] > 1:
            raise DataError(
                f"Failed to deserialize boolean: unexpected byte 0x{value[0]:02x}, "
                "expected 0x00 or 0x01"
            )
        return value[0] == 1
