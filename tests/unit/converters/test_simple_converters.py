"""StringConverter, ByteArrayConverter and SimpleHeaderConverter."""

from __future__ import annotations

import datetime as dt
import decimal

import pytest

from kconnect.converters.bytearray import ByteArrayConverter
from kconnect.converters.header import SimpleHeaderConverter
from kconnect.converters.string import StringConverter
from kconnect.data import Decimal, Schema, SchemaAndValue, SchemaBuilder, Struct
from kconnect.errors import ConfigError, DataError


def test_string_converter_round_trip_and_encoding() -> None:
    c = StringConverter()
    c.configure({"converter.type": "value"}, False)
    assert c.from_connect_data("t", Schema.STRING, "h\u00e9") == "h\u00e9".encode()
    assert c.to_connect_data("t", "h\u00e9".encode()) == SchemaAndValue(
        Schema.OPTIONAL_STRING, "h\u00e9"
    )
    assert c.from_connect_data("t", None, None) is None
    assert c.to_connect_data("t", None) == SchemaAndValue(Schema.OPTIONAL_STRING, None)
    latin = StringConverter()
    latin.configure({"converter.encoding": "ISO-8859-1"})
    assert latin.from_connect_data("t", None, "\u00e9") == b"\xe9"
    assert latin.to_connect_data("t", b"\xe9").value == "\u00e9"


def test_string_converter_writes_other_values_like_java_to_string() -> None:
    c = StringConverter()
    c.configure({}, True)
    assert c.from_connect_data("t", Schema.INT32, 12) == b"12"
    assert c.from_connect_data("t", Schema.BOOLEAN, True) == b"true"
    assert c.from_connect_data("t", Schema.FLOAT64, 1e10) == b"1.0E10"
    assert c.from_connect_data("t", Schema.FLOAT32, 0.1) == b"0.1"
    assert c.from_connect_data("t", None, [1, "a"]) == b'[1,"a"]'


def test_string_converter_errors() -> None:
    with pytest.raises(ConfigError, match=r"converter\.encoding"):
        StringConverter().configure({"converter.encoding": "no-such-charset"})
    c = StringConverter()
    c.configure({})
    with pytest.raises(DataError, match=r"not valid utf-8"):
        c.to_connect_data("t", b"\xff")


def test_bytearray_converter() -> None:
    c = ByteArrayConverter()
    c.configure({"converter.type": "key"}, True)
    assert c.from_connect_data("t", Schema.BYTES, b"\x00\x01") == b"\x00\x01"
    assert c.from_connect_data("t", None, bytearray(b"x")) == b"x"
    assert c.from_connect_data("t", None, None) is None
    assert c.to_connect_data("t", b"ab") == SchemaAndValue(Schema.OPTIONAL_BYTES, b"ab")
    with pytest.raises(DataError, match="objects of type str"):
        c.from_connect_data("t", None, "text")
    with pytest.raises(DataError, match="Invalid schema type for ByteArrayConverter: STRING"):
        c.from_connect_data("t", Schema.STRING, b"x")


@pytest.mark.parametrize(
    ("schema", "value", "text"),
    [
        (Schema.STRING, "plain", "plain"),
        (Schema.INT64, 42, "42"),
        (Schema.BOOLEAN, False, "false"),
        (Schema.FLOAT64, 0.0001, "1.0E-4"),
        (Schema.FLOAT32, 1.5, "1.5"),
        (Schema.BYTES, b"hi", "aGk="),
        (Decimal.schema(2), decimal.Decimal("1.50"), "1.50"),
        (None, ["a", 1, None], '["a",1,null]'),
        (None, {"k": 'say "hi"'}, '{"k":"say \\"hi\\""}'),
        (None, dt.date(2020, 2, 3), "2020-02-03"),
        (None, dt.datetime(2020, 2, 3, 4, 5, 6, 7000, tzinfo=dt.UTC), "2020-02-03T04:05:06.007Z"),
    ],
)
def test_header_converter_writes_values_convert_to_string(
    schema: Schema | None, value: object, text: str
) -> None:
    c = SimpleHeaderConverter()
    c.configure({"converter.type": "header"})
    assert c.from_connect_header("t", "h", schema, value) == text.encode()


def test_header_converter_writes_structs_as_json_like_text() -> None:
    schema = SchemaBuilder.struct().field("a", Schema.INT32).field("b", Schema.STRING).build()
    c = SimpleHeaderConverter()
    out = c.from_connect_header("t", "h", schema, Struct(schema).put("a", 1).put("b", "x"))
    assert out == b'{"a":1,"b":"x"}'
    assert c.from_connect_header("t", "h", None, None) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", SchemaAndValue(Schema.STRING, "")),
        ("true", SchemaAndValue(Schema.BOOLEAN, True)),
        ("FALSE", SchemaAndValue(Schema.BOOLEAN, False)),
        ("12", SchemaAndValue(Schema.INT8, 12)),
        ("-129", SchemaAndValue(Schema.INT16, -129)),
        ("40000", SchemaAndValue(Schema.INT32, 40000)),
        ("3000000000", SchemaAndValue(Schema.INT64, 3000000000)),
        ("1.0", SchemaAndValue(Schema.INT8, 1)),
        ("99999999999999999999", SchemaAndValue(Decimal.schema(0), decimal.Decimal(10**20 - 1))),
        ("1.5", SchemaAndValue(Schema.FLOAT32, 1.5)),
        ("1.5e300", SchemaAndValue(Decimal.schema(0), decimal.Decimal("1.5e300"))),
        (
            "340282356779733661637539395458142568448.5",
            SchemaAndValue(Schema.FLOAT64, 3.4028235677973366e38),
        ),
        ("hello", SchemaAndValue(Schema.STRING, "hello")),
        ("12 apples", SchemaAndValue(Schema.STRING, "12 apples")),
        ("-Infinity", SchemaAndValue(Schema.STRING, "-Infinity")),
        ("1_000", SchemaAndValue(Schema.STRING, "1_000")),
    ],
)
def test_header_converter_infers_schemas_like_values_parse_string(
    text: str, expected: SchemaAndValue
) -> None:
    c = SimpleHeaderConverter()
    assert c.to_connect_header("t", "h", text.encode()) == expected


def test_header_converter_null_and_binary_values() -> None:
    c = SimpleHeaderConverter()
    assert c.to_connect_header("t", "h", None) == SchemaAndValue(None, None)
    # A binary header (not UTF-8 text) is kept as BYTES, unchanged, instead of failing the record.
    for raw in (b"\xff", b"\xff\xfe\x00\x01", b"\xc3\x28", b"ok\x80"):
        assert c.to_connect_header("t", "h", raw) == SchemaAndValue(Schema.BYTES, raw)
        assert c.to_connect_data("t", raw) == SchemaAndValue(Schema.BYTES, raw)
    # Written back, it is base64 text, as Java's Values.convertToString writes BYTES.
    assert c.from_connect_header("t", "h", Schema.BYTES, b"\xff\xfe") == b"//4="
