"""The primitive converters of `org.apache.kafka.connect.converters`, byte for byte as Kafka's
serializers write them (`LongSerializer`, `BooleanSerializer`, ...)."""

from __future__ import annotations

import math

import pytest

from kconnect.api.converter import Converter, HeaderConverter
from kconnect.converters.number import (
    BooleanConverter,
    DoubleConverter,
    FloatConverter,
    IntegerConverter,
    LongConverter,
    ShortConverter,
)
from kconnect.data import Schema, SchemaAndValue
from kconnect.errors import DataError
from kconnect.plugins.registry import default_registry

# (converter, value, Kafka's serialized bytes)
WIRE = [
    (ShortConverter, 1, b"\x00\x01"),
    (ShortConverter, -2, b"\xff\xfe"),
    (ShortConverter, 32767, b"\x7f\xff"),
    (IntegerConverter, 258, b"\x00\x00\x01\x02"),
    (IntegerConverter, -1, b"\xff\xff\xff\xff"),
    (IntegerConverter, -(2**31), b"\x80\x00\x00\x00"),
    (LongConverter, 1, b"\x00\x00\x00\x00\x00\x00\x00\x01"),
    (LongConverter, 2**63 - 1, b"\x7f\xff\xff\xff\xff\xff\xff\xff"),
    (FloatConverter, 1.5, b"\x3f\xc0\x00\x00"),
    (FloatConverter, -0.0, b"\x80\x00\x00\x00"),
    (DoubleConverter, 1.5, b"\x3f\xf8\x00\x00\x00\x00\x00\x00"),
    (DoubleConverter, math.inf, b"\x7f\xf0\x00\x00\x00\x00\x00\x00"),
    (BooleanConverter, True, b"\x01"),
    (BooleanConverter, False, b"\x00"),
]
SCHEMAS: dict[type[Converter], Schema] = {
    ShortConverter: Schema.OPTIONAL_INT16,
    IntegerConverter: Schema.OPTIONAL_INT32,
    LongConverter: Schema.OPTIONAL_INT64,
    FloatConverter: Schema.OPTIONAL_FLOAT32,
    DoubleConverter: Schema.OPTIONAL_FLOAT64,
    BooleanConverter: Schema.OPTIONAL_BOOLEAN,
}


@pytest.mark.parametrize(("cls", "value", "wire"), WIRE)
def test_writes_and_reads_kafkas_serialized_form(
    cls: type[Converter], value: object, wire: bytes
) -> None:
    c = cls()
    c.configure({"converter.type": "value"}, False)
    assert c.from_connect_data("t", SCHEMAS[cls], value) == wire
    assert c.to_connect_data("t", wire) == SchemaAndValue(SCHEMAS[cls], value)
    fixed = c.fixed_schema_reader()
    assert fixed is not None
    assert fixed[0] == SCHEMAS[cls]
    assert fixed[1](wire) == value
    header: object = c
    assert isinstance(header, HeaderConverter)
    assert header.from_connect_header("t", "h", None, value) == wire
    assert header.to_connect_header("t", "h", wire) == SchemaAndValue(SCHEMAS[cls], value)


@pytest.mark.parametrize("cls", list(SCHEMAS))
def test_null_is_no_bytes(cls: type[Converter]) -> None:
    c = cls()
    assert c.from_connect_data("t", None, None) is None
    assert c.to_connect_data("t", None) == SchemaAndValue(SCHEMAS[cls], None)


@pytest.mark.parametrize(
    ("cls", "value", "message"),
    [
        (ShortConverter, 32768, "out of range"),
        (IntegerConverter, 2**31, "out of range"),
        (LongConverter, "1", "was str"),
        (IntegerConverter, True, "was bool"),
        (DoubleConverter, "1.0", "was str"),
        (BooleanConverter, 1, "was int"),
    ],
)
def test_a_value_of_another_type_is_a_data_error(
    cls: type[Converter], value: object, message: str
) -> None:
    with pytest.raises(DataError, match=message):
        cls().from_connect_data("orders", None, value)


@pytest.mark.parametrize(
    ("cls", "wire", "message"),
    [
        (LongConverter, b"\x00\x01", "expected 8 byte"),
        (ShortConverter, b"", "expected 2 byte"),
        (BooleanConverter, b"\x02", "unexpected byte 0x02"),
        (BooleanConverter, b"\x00\x00", "expected 1 byte"),
    ],
)
def test_bytes_of_the_wrong_size_are_a_data_error(
    cls: type[Converter], wire: bytes, message: str
) -> None:
    with pytest.raises(DataError, match=f"{message}.*'orders'"):
        cls().to_connect_data("orders", wire)


@pytest.mark.parametrize("cls", list(SCHEMAS))
def test_registered_under_kafkas_class_names(cls: type[Converter]) -> None:
    registry = default_registry()
    java = f"org.apache.kafka.connect.converters.{cls.__name__}"
    assert registry.resolve(java) is cls
    assert registry.resolve(cls.__name__) is cls
    assert registry.display_name(cls) == java
