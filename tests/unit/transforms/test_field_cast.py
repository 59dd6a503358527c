import datetime as dt
import decimal
import math

import pytest

from kconnect.data.logical import Date, Decimal, Time, Timestamp
from kconnect.data.schema import Schema, SchemaBuilder, Struct, Type
from kconnect.errors import ConfigError, DataError
from kconnect.transforms.cast import CastKey, CastValue, cast_value
from tests.unit.transforms.fieldhelpers import applied, configured, sink

SCHEMA = (
    SchemaBuilder.struct()
    .name("row")
    .field("int8", Schema.INT8)
    .field("int32", SchemaBuilder.int32().optional().default_value(2).build())
    .field("int64", Schema.INT64)
    .field("float32", Schema.FLOAT32)
    .field("float64", Schema.FLOAT64)
    .field("boolean", Schema.BOOLEAN)
    .field("string", Schema.STRING)
    .field("bigdecimal", Decimal.schema(2))
    .field("date", Date.SCHEMA)
    .field("timestamp", Timestamp.SCHEMA)
    .field("bytes", Schema.BYTES)
    .field("optional", Schema.OPTIONAL_STRING)
    .build()
)


def row() -> Struct:
    return (
        Struct(SCHEMA)
        .put("int8", 8)
        .put("int32", 32)
        .put("int64", 64)
        .put("float32", 32.5)
        .put("float64", -64.9)
        .put("boolean", True)
        .put("string", "42")
        .put("bigdecimal", decimal.Decimal("42.25"))
        .put("date", dt.date(2024, 3, 1))
        .put("timestamp", dt.datetime(2024, 3, 1, 12, 30, 45, 678000, tzinfo=dt.UTC))
        .put("bytes", b"hello")
    )


SPEC = (
    "int8:int16,int32:string,int64:float64,float32:int32,float64:int64,boolean:int8,"
    "string:int32,bigdecimal:float64,date:int32,timestamp:string,bytes:string,optional:int8"
)


def test_fields_with_schema() -> None:
    t = configured(CastValue, {"spec": SPEC})
    out = applied(t, sink(row(), SCHEMA))
    expected_schema = (
        SchemaBuilder.struct()
        .name("row")
        .field("int8", Schema.INT16)
        .field("int32", SchemaBuilder.string().optional().default_value("2").build())
        .field("int64", Schema.FLOAT64)
        .field("float32", Schema.INT32)
        .field("float64", Schema.INT64)
        .field("boolean", Schema.INT8)
        .field("string", Schema.INT32)
        .field("bigdecimal", Schema.FLOAT64)
        .field("date", Schema.INT32)
        .field("timestamp", Schema.STRING)
        .field("bytes", Schema.STRING)
        .field("optional", Schema.OPTIONAL_INT8)
        .build()
    )
    assert out.value_schema == expected_schema
    assert out.value == (
        Struct(expected_schema)
        .put("int8", 8)
        .put("int32", "32")
        .put("int64", 64.0)
        .put("float32", 32)
        .put("float64", -64)
        .put("boolean", 1)
        .put("string", 42)
        .put("bigdecimal", 42.25)
        .put("date", 19783)
        .put("timestamp", "2024-03-01T12:30:45.678Z")
        .put("bytes", "aGVsbG8=")
    )


def test_schema_is_cached() -> None:
    t = configured(CastValue, {"spec": "int8:int32"})
    first = applied(t, sink(row(), SCHEMA))
    second = applied(t, sink(row(), SCHEMA))
    assert first.value_schema is second.value_schema


def test_schemaless_fields() -> None:
    t = configured(
        CastValue, {"spec": "a:int8,b:float32,c:boolean,d:string,e:int64,missing:string"}
    )
    value = {"a": 300, "b": "1.5", "c": "TRUE", "d": 1e10, "e": b"\x00", "other": [1]}
    with pytest.raises(DataError, match=r"Unexpected type in Cast transformation: cannot cast"):
        t.apply(sink(value))
    value["e"] = 7.9
    assert applied(t, sink(value)).value == {
        "a": 44,
        "b": 1.5,
        "c": True,
        "d": "1.0E10",
        "e": 7,
        "other": [1],
        # As in Kafka Connect, a spec field the map lacks is added as null.
        "missing": None,
    }


def test_whole_value_with_schema_keeps_basics() -> None:
    schema = SchemaBuilder.int64().name("count").doc("how many").optional().default_value(5).build()
    t = configured(CastKey, {"spec": "string"})
    out = applied(t, sink("v", key=42, key_schema=schema))
    assert out.key == "42"
    assert out.key_schema == (
        SchemaBuilder.string().name("count").doc("how many").optional().default_value("5").build()
    )
    assert out.value == "v"


def test_whole_value_of_a_logical_type_loses_the_logical_name() -> None:
    t = configured(CastValue, {"spec": "int64"})
    out = applied(t, sink(dt.datetime(1970, 1, 2, tzinfo=dt.UTC), Timestamp.SCHEMA))
    assert out.value == 86_400_000
    assert out.value_schema == Schema.INT64


def test_whole_value_schemaless() -> None:
    t = configured(CastValue, {"spec": "Int32"})
    assert applied(t, sink("123")).value == 123
    assert applied(t, sink(2.5e12)).value == 2147483647


@pytest.mark.parametrize("cls", [CastKey, CastValue])
def test_tombstones_pass_through(cls: type[CastValue]) -> None:
    record = sink(None, SCHEMA, key=None, key_schema=SCHEMA)
    assert configured(cls, {"spec": "int8:int16"}).apply(record) is record
    schemaless = sink(None)
    assert configured(cls, {"spec": "int32"}).apply(schemaless) is schemaless


def test_replace_null_with_default_false_keeps_null() -> None:
    t = configured(CastValue, {"spec": "int32:int64", "replace.null.with.default": "false"})
    value = row().put("int32", None)
    out = applied(t, sink(value, SCHEMA)).value
    assert isinstance(out, Struct)
    assert out.get_without_default("int32") is None
    replaced = applied(configured(CastValue, {"spec": "int32:int64"}), sink(value, SCHEMA)).value
    assert isinstance(replaced, Struct)
    assert replaced.get_without_default("int32") == 2


@pytest.mark.parametrize(
    ("value", "target", "expected"),
    [
        (300, Type.INT8, 44),
        (-129, Type.INT8, 127),
        (70000, Type.INT16, 4464),
        (2**40, Type.INT32, 0),
        (-1.7, Type.INT32, -1),
        (1e20, Type.INT32, 2147483647),
        (-1e20, Type.INT64, -(2**63)),
        (3.9e9, Type.INT16, -1),
        (math.nan, Type.INT64, 0),
        (True, Type.INT16, 1),
        (False, Type.FLOAT64, 0.0),
        ("-42", Type.INT64, -42),
        ("+7", Type.INT8, 7),
        (16777217, Type.FLOAT32, 16777216.0),
        (" 1.5e3d ", Type.FLOAT64, 1500.0),
        ("-Infinity", Type.FLOAT32, -math.inf),
        (0.5, Type.BOOLEAN, False),
        (2, Type.BOOLEAN, True),
        ("TrUe", Type.BOOLEAN, True),
        ("yes", Type.BOOLEAN, False),
        (1e-5, Type.STRING, "1.0E-5"),
        (100.0, Type.STRING, "100.0"),
        (True, Type.STRING, "true"),
        (b"\x00\xff", Type.STRING, "AP8="),
    ],
)
def test_schemaless_conversions_follow_java(value: object, target: Type, expected: object) -> None:
    assert cast_value(None, value, target) == expected


@pytest.mark.parametrize(
    ("value", "schema", "target", "expected"),
    [
        (0.1, Schema.FLOAT32, Type.STRING, "0.1"),
        (decimal.Decimal("300.70"), Decimal.schema(2), Type.INT8, 44),
        (decimal.Decimal("1E+3"), Decimal.schema(0), Type.STRING, "1E+3"),
        (decimal.Decimal("0.50"), Decimal.schema(2), Type.BOOLEAN, False),
        (dt.date(2024, 3, 1), Date.SCHEMA, Type.STRING, "2024-03-01"),
        # Java formats an instant within a day of the epoch (or before it) as a time.
        (dt.date(1970, 1, 1), Date.SCHEMA, Type.STRING, "00:00:00.000Z"),
        (dt.time(13, 14, 15, 16000), Time.SCHEMA, Type.STRING, "13:14:15.016Z"),
        (dt.time(13, 14, 15), Time.SCHEMA, Type.INT32, 47_655_000),
        (dt.datetime(2024, 3, 1, tzinfo=dt.UTC), Timestamp.SCHEMA, Type.STRING, "2024-03-01"),
        (
            dt.datetime(1960, 1, 1, 8, 0, tzinfo=dt.UTC),
            Timestamp.SCHEMA,
            Type.STRING,
            "08:00:00.000Z",
        ),
    ],
)
def test_conversions_with_schema(
    value: object, schema: Schema, target: Type, expected: object
) -> None:
    assert cast_value(schema, value, target) == expected


@pytest.mark.parametrize(
    ("value", "schema", "target", "message"),
    [
        (
            "abc",
            None,
            Type.INT32,
            r"^Value \(abc\) was out of range for requested data type "
            r"int32: expected a decimal integer in \[-2147483648, 2147483647\]$",
        ),
        ("128", None, Type.INT8, r"^Value \(128\) was out of range for requested data type int8"),
        ("1,5", None, Type.FLOAT64, r"float64: expected a number$"),
        (
            [1],
            None,
            Type.STRING,
            r"^Cast transformation does not support casting from array; "
            r"supported types are int8, int16, int32, int64, float32, float64, boolean, string, "
            r"bytes$",
        ),
        (
            decimal.Decimal(1),
            None,
            Type.INT8,
            r"^Cast transformation was passed a value of type "
            r"Decimal which is not supported by Connect's data API$",
        ),
        (
            b"x",
            Schema.BYTES,
            Type.INT32,
            r"^Unexpected type in Cast transformation: cannot cast "
            r"a bytes \(b'x'\) to int32$",
        ),
    ],
)
def test_conversion_errors(
    value: object, schema: Schema | None, target: Type, message: str
) -> None:
    with pytest.raises(DataError, match=message):
        cast_value(schema, value, target)


def test_field_spec_needs_a_struct() -> None:
    t = configured(CastValue, {"spec": "a:int8"})
    with pytest.raises(
        DataError, match=r"^Only Struct objects supported for \[cast types\], found: int$"
    ):
        t.apply(sink(5, Schema.INT32))
    with pytest.raises(
        DataError,
        match=r"^Only Map objects supported in absence of schema for \[cast types\], found: int$",
    ):
        t.apply(sink(5))


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", r"Must specify at least one field to cast\."),
        (
            "a:int8,b:bytes",
            r"Cast transformation does not support casting to bytes; supported "
            r"types are int8, int16, int32, int64, float32, float64, boolean, string$",
        ),
        ("a:struct", r"Cast transformation does not support casting to struct"),
        ("a:foo", r"Invalid type found in casting spec: foo; expected one of int8,"),
        ("a:int8:x", r"Invalid cast mapping: a:int8:x; expected field:type or a single type$"),
        (
            "int8,a:int8",
            r"Cast transformations that specify a type to cast the entire value to may only "
            r"specify a single cast in their spec$",
        ),
    ],
)
def test_bad_spec_names_the_key(spec: str, message: str) -> None:
    with pytest.raises(ConfigError, match=rf"^invalid value '{spec}' for key 'spec': {message}"):
        configured(CastValue, {"spec": spec})
