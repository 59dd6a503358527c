"""JsonConverter: the exact bytes Kafka's JsonConverter (Jackson) writes, and reading them back.

The expected bytes are derived from Kafka's JsonConverter.asJsonSchema / convertToJson and
Jackson's writer: schema keys in the order type, items|keys,values|fields, optional, name,
version, doc, parameters, default; a struct field's "field" key appended after its schema's
keys; compact separators; UTF-8 text with control characters as upper-case \\u00XX; doubles and
floats as Double.toString / Float.toString; NaN and infinities as quoted strings.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math

import pytest

from kconnect.converters.json import JsonConverter
from kconnect.data import (
    Date,
    Decimal,
    Schema,
    SchemaAndValue,
    SchemaBuilder,
    Struct,
    Time,
    Timestamp,
)
from kconnect.errors import ConfigError, DataError

TOPIC = "topic"


def converter(**configs: str) -> JsonConverter:
    c = JsonConverter()
    c.configure({k.replace("_", "."): v for k, v in configs.items()}, False)
    return c


def envelope(schema_json: str, payload_json: str) -> bytes:
    return ('{"schema":' + schema_json + ',"payload":' + payload_json + "}").encode()


# --- exact bytes of primitives --------------------------------------------------------------------

PRIMITIVES = [
    (Schema.BOOLEAN, True, '{"type":"boolean","optional":false}', "true"),
    (Schema.BOOLEAN, False, '{"type":"boolean","optional":false}', "false"),
    (Schema.INT8, 12, '{"type":"int8","optional":false}', "12"),
    (Schema.INT8, -128, '{"type":"int8","optional":false}', "-128"),
    (Schema.INT16, 12, '{"type":"int16","optional":false}', "12"),
    (Schema.INT32, 12, '{"type":"int32","optional":false}', "12"),
    (Schema.INT64, 4398046511104, '{"type":"int64","optional":false}', "4398046511104"),
    (Schema.INT64, -(2**63), '{"type":"int64","optional":false}', "-9223372036854775808"),
    (Schema.FLOAT32, 12.34, '{"type":"float","optional":false}', "12.34"),
    (Schema.FLOAT32, 0.1, '{"type":"float","optional":false}', "0.1"),
    (Schema.FLOAT32, 1e10, '{"type":"float","optional":false}', "1.0E10"),
    (Schema.FLOAT32, 3.4028234663852886e38, '{"type":"float","optional":false}', "3.4028235E38"),
    (Schema.FLOAT32, 1.401298464324817e-45, '{"type":"float","optional":false}', "1.4E-45"),
    (Schema.FLOAT64, 12.34, '{"type":"double","optional":false}', "12.34"),
    (Schema.FLOAT64, 1e10, '{"type":"double","optional":false}', "1.0E10"),
    (Schema.FLOAT64, 100.0, '{"type":"double","optional":false}', "100.0"),
    (Schema.FLOAT64, 1e7, '{"type":"double","optional":false}', "1.0E7"),
    (Schema.FLOAT64, 9999999.0, '{"type":"double","optional":false}', "9999999.0"),
    (Schema.FLOAT64, 0.001, '{"type":"double","optional":false}', "0.001"),
    (Schema.FLOAT64, 0.0001, '{"type":"double","optional":false}', "1.0E-4"),
    (Schema.FLOAT64, 1.5e-7, '{"type":"double","optional":false}', "1.5E-7"),
    (Schema.FLOAT64, -2.5e20, '{"type":"double","optional":false}', "-2.5E20"),
    (Schema.FLOAT64, 0.0, '{"type":"double","optional":false}', "0.0"),
    (Schema.FLOAT64, -0.0, '{"type":"double","optional":false}', "-0.0"),
    (Schema.FLOAT64, 5e-324, '{"type":"double","optional":false}', "4.9E-324"),
    (
        Schema.FLOAT64,
        1.7976931348623157e308,
        '{"type":"double","optional":false}',
        "1.7976931348623157E308",
    ),
    (Schema.FLOAT64, 3, '{"type":"double","optional":false}', "3.0"),
    (Schema.FLOAT64, math.nan, '{"type":"double","optional":false}', '"NaN"'),
    (Schema.FLOAT64, math.inf, '{"type":"double","optional":false}', '"Infinity"'),
    (Schema.FLOAT32, -math.inf, '{"type":"float","optional":false}', '"-Infinity"'),
    (Schema.STRING, "test-string", '{"type":"string","optional":false}', '"test-string"'),
    (Schema.BYTES, b"test-string", '{"type":"bytes","optional":false}', '"dGVzdC1zdHJpbmc="'),
    (Schema.BYTES, bytearray(b"\x00\xff"), '{"type":"bytes","optional":false}', '"AP8="'),
    (Schema.BYTES, b"", '{"type":"bytes","optional":false}', '""'),
]


@pytest.mark.parametrize(("schema", "value", "schema_json", "payload_json"), PRIMITIVES)
def test_primitive_bytes_match_java(
    schema: Schema, value: object, schema_json: str, payload_json: str
) -> None:
    assert converter().from_connect_data(TOPIC, schema, value) == envelope(
        schema_json, payload_json
    )


def test_strings_are_utf8_with_jackson_escapes() -> None:
    value = 'h\u00e9llo \u2713 \U0001f600 "q" \\ /\b\f\n\r\t\x00\x01\x1f\x7f'
    expected = (
        '"h\u00e9llo \u2713 \U0001f600 \\"q\\" \\\\ /\\b\\f\\n\\r\\t\\u0000\\u0001\\u001F\x7f"'
    )
    out = converter(schemas_enable="false").from_connect_data(TOPIC, Schema.STRING, value)
    assert out == expected.encode("utf-8")


def test_a_literal_backslash_u_is_not_mistaken_for_an_escape() -> None:
    value = "\\u001f and \x1f"
    out = converter(schemas_enable="false").from_connect_data(TOPIC, Schema.STRING, value)
    assert out == b'"\\\\u001f and \\u001F"'


def test_unpaired_surrogate_is_a_data_error() -> None:
    with pytest.raises(DataError, match="surrogate"):
        converter().from_connect_data(TOPIC, Schema.STRING, "\ud800")


# --- schema metadata, optional and defaults -------------------------------------------------------


def test_schema_metadata_order() -> None:
    schema = (
        SchemaBuilder.bool()
        .optional()
        .name("bool")
        .version(2)
        .doc("the documentation")
        .parameter("foo", "bar")
        .parameter("baz", "qux")
        .default_value(True)
        .build()
    )
    out = converter().from_connect_data(TOPIC, schema, None)
    assert out == envelope(
        '{"type":"boolean","optional":true,"name":"bool","version":2,"doc":"the documentation",'
        '"parameters":{"foo":"bar","baz":"qux"},"default":true}',
        "true",
    )


def test_optional_null_payload() -> None:
    assert converter().from_connect_data(TOPIC, Schema.OPTIONAL_INT32, None) == envelope(
        '{"type":"int32","optional":true}', "null"
    )


def test_null_becomes_default_unless_disabled() -> None:
    schema = SchemaBuilder.int32().optional().default_value(42).build()
    schema_json = '{"type":"int32","optional":true,"default":42}'
    assert converter().from_connect_data(TOPIC, schema, None) == envelope(schema_json, "42")
    off = converter(replace_null_with_default="false")
    assert off.from_connect_data(TOPIC, schema, None) == envelope(schema_json, "null")


def test_required_null_without_default_is_an_error() -> None:
    with pytest.raises(DataError, match="null value for field that is required"):
        converter().from_connect_data(TOPIC, Schema.INT32, None)


def test_required_null_with_default_and_replacement_off_is_an_error() -> None:
    schema = SchemaBuilder.string().default_value("x").build()
    with pytest.raises(DataError, match="required"):
        converter(replace_null_with_default="false").from_connect_data(TOPIC, schema, None)


def test_no_schema_and_no_value_is_no_bytes() -> None:
    assert converter().from_connect_data(TOPIC, None, None) is None


# --- structs, arrays, maps ------------------------------------------------------------------------


def test_struct_field_entries_carry_field_last() -> None:
    schema = (
        SchemaBuilder.struct()
        .field("field1", Schema.BOOLEAN)
        .field("field2", Schema.STRING)
        .field("field3", Schema.STRING)
        .field("field4", Schema.BOOLEAN)
        .build()
    )
    value = (
        Struct(schema)
        .put("field1", True)
        .put("field2", "string2")
        .put("field3", "string3")
        .put("field4", False)
    )
    assert converter().from_connect_data(TOPIC, schema, value) == envelope(
        '{"type":"struct","fields":['
        '{"type":"boolean","optional":false,"field":"field1"},'
        '{"type":"string","optional":false,"field":"field2"},'
        '{"type":"string","optional":false,"field":"field3"},'
        '{"type":"boolean","optional":false,"field":"field4"}],"optional":false}',
        '{"field1":true,"field2":"string2","field3":"string3","field4":false}',
    )


def test_nested_struct_with_metadata_defaults_and_nulls() -> None:
    inner = (
        SchemaBuilder.struct()
        .name("com.example.Inner")
        .optional()
        .field("n", SchemaBuilder.int64().optional().default_value(7).build())
        .build()
    )
    outer = (
        SchemaBuilder.struct()
        .name("com.example.Outer")
        .version(1)
        .doc("outer \u00e9")
        .field("inner", inner)
        .field("missing", inner)
        .field("s", Schema.OPTIONAL_STRING)
        .build()
    )
    value = Struct(outer).put("inner", Struct(inner))
    assert converter().from_connect_data(TOPIC, outer, value) == envelope(
        '{"type":"struct","fields":['
        '{"type":"struct","fields":[{"type":"int64","optional":true,"default":7,"field":"n"}],'
        '"optional":true,"name":"com.example.Inner","field":"inner"},'
        '{"type":"struct","fields":[{"type":"int64","optional":true,"default":7,"field":"n"}],'
        '"optional":true,"name":"com.example.Inner","field":"missing"},'
        '{"type":"string","optional":true,"field":"s"}],'
        '"optional":false,"name":"com.example.Outer","version":1,"doc":"outer \u00e9"}',
        '{"inner":{"n":7},"missing":null,"s":null}',
    )
    off = converter(replace_null_with_default="false")
    assert off.from_connect_data(TOPIC, outer, value).endswith(
        b'"payload":{"inner":{"n":null},"missing":null,"s":null}}'
    )


def test_array() -> None:
    schema = SchemaBuilder.array(Schema.INT32).build()
    assert converter().from_connect_data(TOPIC, schema, [1, 2, 3]) == envelope(
        '{"type":"array","items":{"type":"int32","optional":false},"optional":false}', "[1,2,3]"
    )


def test_array_of_optional_items_with_nulls() -> None:
    schema = SchemaBuilder.array(Schema.OPTIONAL_STRING).optional().build()
    assert converter().from_connect_data(TOPIC, schema, ["a", None]) == envelope(
        '{"type":"array","items":{"type":"string","optional":true},"optional":true}',
        '["a",null]',
    )


def test_map_with_string_keys_is_an_object() -> None:
    schema = SchemaBuilder.map(Schema.STRING, Schema.INT32).build()
    assert converter().from_connect_data(TOPIC, schema, {"key1": 12, "key2": 15}) == envelope(
        '{"type":"map","keys":{"type":"string","optional":false},'
        '"values":{"type":"int32","optional":false},"optional":false}',
        '{"key1":12,"key2":15}',
    )


def test_map_with_non_string_keys_is_an_array_of_pairs() -> None:
    schema = SchemaBuilder.map(Schema.INT32, Schema.OPTIONAL_FLOAT64).build()
    assert converter().from_connect_data(TOPIC, schema, {1: 12.0, 2: None}) == envelope(
        '{"type":"map","keys":{"type":"int32","optional":false},'
        '"values":{"type":"double","optional":true},"optional":false}',
        "[[1,12.0],[2,null]]",
    )


def test_struct_with_a_mismatching_schema_is_an_error() -> None:
    a = SchemaBuilder.struct().field("x", Schema.INT32).build()
    b = SchemaBuilder.struct().field("y", Schema.INT32).build()
    with pytest.raises(DataError, match="Mismatching schema"):
        converter().from_connect_data(TOPIC, a, Struct(b).put("y", 1))


def test_wrong_python_type_is_an_error_naming_it() -> None:
    with pytest.raises(DataError, match=r"Invalid type for FLOAT64: bool"):
        converter().from_connect_data(TOPIC, Schema.FLOAT64, True)
    with pytest.raises(DataError, match=r"INT8"):
        converter().from_connect_data(TOPIC, Schema.INT8, 128)


def test_error_in_a_nested_field_names_its_path() -> None:
    inner = SchemaBuilder.struct().field("xs", SchemaBuilder.array(Schema.INT32).build()).build()
    outer = SchemaBuilder.struct().field("inner", inner).build()
    xs: list[object] = [1]
    value = Struct(outer).put("inner", Struct(inner).put("xs", xs))
    xs.append("two")  # changed after the struct checked it
    with pytest.raises(DataError, match=r"Invalid type for INT32: str .*at field 'inner\.xs'"):
        converter().from_connect_data(TOPIC, outer, value)


# --- logical types --------------------------------------------------------------------------------


def test_decimal_base64_and_numeric() -> None:
    schema = Decimal.schema(2)
    schema_json = (
        '{"type":"bytes","optional":false,"name":"org.apache.kafka.connect.data.Decimal",'
        '"version":1,"parameters":{"scale":"2"}}'
    )
    value = decimal.Decimal("1.56")
    assert converter().from_connect_data(TOPIC, schema, value) == envelope(schema_json, '"AJw="')
    numeric = converter(decimal_format="numeric")
    assert numeric.from_connect_data(TOPIC, schema, value) == envelope(schema_json, "1.56")


def test_negative_decimal_is_twos_complement() -> None:
    # -1.56 -> unscaled -156 -> 0xFF64
    out = converter().from_connect_data(TOPIC, Decimal.schema(2), decimal.Decimal("-1.56"))
    assert out is not None
    assert out.endswith(b'"payload":"/2Q="}')


def test_decimal_default_is_written_in_the_configured_format() -> None:
    schema = Decimal.builder(2).optional().default_value(decimal.Decimal("1.56")).build()
    out = converter(decimal_format="NUMERIC").from_connect_data(TOPIC, schema, None)
    assert out == envelope(
        '{"type":"bytes","optional":true,"name":"org.apache.kafka.connect.data.Decimal",'
        '"version":1,"parameters":{"scale":"2"},"default":1.56}',
        "1.56",
    )


def test_date_time_timestamp_as_integers() -> None:
    c = converter()
    date = dt.date(1970, 1, 1) + dt.timedelta(days=10000)
    assert c.from_connect_data(TOPIC, Date.SCHEMA, date) == envelope(
        '{"type":"int32","optional":false,"name":"org.apache.kafka.connect.data.Date","version":1}',
        "10000",
    )
    assert c.from_connect_data(TOPIC, Time.SCHEMA, dt.time(4, 0)) == envelope(
        '{"type":"int32","optional":false,"name":"org.apache.kafka.connect.data.Time","version":1}',
        "14400000",
    )
    instant = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(milliseconds=4000000000)
    assert c.from_connect_data(TOPIC, Timestamp.SCHEMA, instant) == envelope(
        '{"type":"int64","optional":false,"name":"org.apache.kafka.connect.data.Timestamp",'
        '"version":1}',
        "4000000000",
    )


# --- without schemas ------------------------------------------------------------------------------


def test_schemas_disabled_writes_plain_json() -> None:
    c = converter(schemas_enable="false")
    schema = SchemaBuilder.struct().field("a", Schema.INT32).field("b", Schema.STRING).build()
    assert c.from_connect_data(TOPIC, schema, Struct(schema).put("a", 1).put("b", "x")) == (
        b'{"a":1,"b":"x"}'
    )
    assert c.from_connect_data(TOPIC, None, True) == b"true"


def test_null_schema_in_an_envelope() -> None:
    c = converter()
    assert c.from_connect_data(TOPIC, None, [1, "string", True]) == (
        b'{"schema":null,"payload":[1,"string",true]}'
    )
    assert c.from_connect_data(TOPIC, None, {"string": 12, 52: "string", False: True}) == (
        b'{"schema":null,"payload":[["string",12],[52,"string"],[false,true]]}'
    )
    assert c.from_connect_data(TOPIC, None, {"key1": 12, "key2": 1.5}) == (
        b'{"schema":null,"payload":{"key1":12,"key2":1.5}}'
    )


def test_schemaless_value_of_an_unknown_type_is_an_error() -> None:
    with pytest.raises(DataError, match="does not have a corresponding schema type"):
        converter().from_connect_data(TOPIC, None, object())


# --- reading --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '{ "schema": { "type": "boolean" }, "payload": true }',
            SchemaAndValue(Schema.BOOLEAN, True),
        ),
        ('{ "schema": { "type": "int8" }, "payload": 12 }', SchemaAndValue(Schema.INT8, 12)),
        ('{ "schema": { "type": "int16" }, "payload": 12 }', SchemaAndValue(Schema.INT16, 12)),
        ('{ "schema": { "type": "int32" }, "payload": 12 }', SchemaAndValue(Schema.INT32, 12)),
        (
            '{ "schema": { "type": "int64" }, "payload": 4398046511104 }',
            SchemaAndValue(Schema.INT64, 4398046511104),
        ),
        (
            '{ "schema": { "type": "float" }, "payload": 12.34 }',
            SchemaAndValue(Schema.FLOAT32, 12.34),
        ),
        (
            '{ "schema": { "type": "double" }, "payload": 12.34 }',
            SchemaAndValue(Schema.FLOAT64, 12.34),
        ),
        (
            '{ "schema": { "type": "string" }, "payload": "foo-bar-baz" }',
            SchemaAndValue(Schema.STRING, "foo-bar-baz"),
        ),
        (
            '{ "schema": { "type": "bytes" }, "payload": "dGVzdC1zdHJpbmc=" }',
            SchemaAndValue(Schema.BYTES, b"test-string"),
        ),
        (
            '{ "schema": { "type": "boolean", "optional": true }, "payload": null }',
            SchemaAndValue(Schema.OPTIONAL_BOOLEAN, None),
        ),
        (
            '{ "schema": { "type": "boolean", "default": true }, "payload": null }',
            SchemaAndValue(SchemaBuilder.bool().default_value(True).build(), True),
        ),
        ('{ "schema": null, "payload": null }', SchemaAndValue(None, None)),
        ('{ "schema": null, "payload": 12 }', SchemaAndValue(None, 12)),
        ('{ "schema": null, "payload": 12.24 }', SchemaAndValue(None, 12.24)),
        ('{ "schema": null, "payload": [1, "2", 3] }', SchemaAndValue(None, [1, "2", 3])),
        (
            '{ "schema": { "type": "double" }, "payload": "-Infinity" }',
            SchemaAndValue(Schema.FLOAT64, -math.inf),
        ),
    ],
)
def test_reads_java_envelopes(text: str, expected: SchemaAndValue) -> None:
    assert converter().to_connect_data(TOPIC, text.encode()) == expected


def test_reads_schema_metadata() -> None:
    text = (
        '{ "schema": { "type": "boolean", "optional": false, "name": "bool", "version": 2, '
        '"doc": "the documentation", "parameters": { "foo": "bar" }}, "payload": true }'
    )
    expected = (
        SchemaBuilder.bool()
        .name("bool")
        .version(2)
        .doc("the documentation")
        .parameter("foo", "bar")
        .build()
    )
    assert converter().to_connect_data(TOPIC, text.encode()) == SchemaAndValue(expected, True)


def test_reads_structs_maps_and_arrays() -> None:
    c = converter()
    text = (
        '{ "schema": { "type": "struct", "fields": [{ "field":"optional", "type": "string", '
        '"optional": true }, {  "field": "required", "type": "string" }, {"field": "m", '
        '"type": "map", "keys": {"type": "int32"}, "values": {"type": "int32"}, "optional": true},'
        '{"field": "a", "type": "array", "items": {"type": "int32"}, "optional": true}] }, '
        '"payload": { "required": "required", "m": [[1, 12], [2, 15]], "a": [1, 2] } }'
    )
    schema = (
        SchemaBuilder.struct()
        .field("optional", Schema.OPTIONAL_STRING)
        .field("required", Schema.STRING)
        .field("m", SchemaBuilder.map(Schema.INT32, Schema.INT32).optional().build())
        .field("a", SchemaBuilder.array(Schema.INT32).optional().build())
        .build()
    )
    expected = Struct(schema).put("required", "required").put("m", {1: 12, 2: 15}).put("a", [1, 2])
    assert c.to_connect_data(TOPIC, text.encode()) == SchemaAndValue(schema, expected)


def test_reads_logical_types() -> None:
    c = converter()
    dec = (
        '{ "schema": { "type": "bytes", "name": "org.apache.kafka.connect.data.Decimal", '
        '"version": 1, "parameters": { "scale": "2" } }, "payload": "AJw=" }'
    )
    assert c.to_connect_data(TOPIC, dec.encode()) == SchemaAndValue(
        Decimal.schema(2), decimal.Decimal("1.56")
    )
    numeric = dec.replace('"AJw="', "1.56")
    assert c.to_connect_data(TOPIC, numeric.encode()).value == decimal.Decimal("1.56")
    with_default = (
        '{ "schema": { "type": "bytes", "name": "org.apache.kafka.connect.data.Decimal", '
        '"version": 1, "default": "AJw=", "parameters": { "scale": "2" } }, "payload": null }'
    )
    read = c.to_connect_data(TOPIC, with_default.encode())
    assert read.value == decimal.Decimal("1.56")
    assert read.schema == Decimal.builder(2).default_value(decimal.Decimal("1.56")).build()
    ts = (
        '{ "schema": { "type": "int64", "name": "org.apache.kafka.connect.data.Timestamp", '
        '"version": 1 }, "payload": 4000000000 }'
    )
    assert c.to_connect_data(TOPIC, ts.encode()).value == dt.datetime(
        1970, 2, 16, 7, 6, 40, tzinfo=dt.UTC
    )


def test_high_precision_numeric_decimal_is_exact() -> None:
    text = (
        '{"schema":{"type":"bytes","name":"org.apache.kafka.connect.data.Decimal",'
        '"parameters":{"scale":"20"}},"payload":1.23456789012345678901}'
    )
    c = converter()
    for _ in range(2):  # once parsed in full, once through the remembered-schema path
        assert c.to_connect_data(TOPIC, text.encode()).value == decimal.Decimal(
            "1.23456789012345678901"
        )


def test_tombstone_and_schemaless_reads() -> None:
    assert converter().to_connect_data(TOPIC, None) == SchemaAndValue(None, None)
    plain = converter(schemas_enable="false")
    assert plain.to_connect_data(TOPIC, b"") == SchemaAndValue(None, None)
    assert plain.to_connect_data(TOPIC, b'{ "a": "", "b": null}') == SchemaAndValue(
        None, {"a": "", "b": None}
    )
    assert plain.to_connect_data(TOPIC, b"true") == SchemaAndValue(None, True)


def test_bytes_that_are_not_json_are_a_data_error() -> None:
    with pytest.raises(DataError, match="serialization error"):
        converter().to_connect_data(TOPIC, b"{not json")
    with pytest.raises(DataError, match="serialization error"):
        converter(schemas_enable="false").to_connect_data(TOPIC, b"NaN")


@pytest.mark.parametrize(
    "text", ['{"payload": 1}', '{"schema": null, "payload": 1, "extra": 2}', "[1]", "12", ""]
)
def test_malformed_envelope_is_a_data_error(text: str) -> None:
    with pytest.raises(DataError, match='requires "schema" and "payload" fields'):
        converter().to_connect_data(TOPIC, text.encode())


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ('{"schema": {"type": "int32"}, "payload": "12"}', "Invalid JSON STRING"),
        ('{"schema": {"type": "int8"}, "payload": 300}', r"\[-128, 127\]"),
        ('{"schema": {"type": "int32"}, "payload": null}', "Invalid null value for required"),
        ('{"schema": {"type": "bytes"}, "payload": "***"}', "not base64"),
        ('{"schema": {"type": "widget"}, "payload": 1}', "Unknown schema type: widget"),
        ('{"schema": {"optional": true}, "payload": 1}', "must contain 'type' field"),
        ('{"schema": {"type": "array"}, "payload": []}', "did not specify the element type"),
        (
            '{"schema": {"type": "struct", "fields": [{"field": "a", "type": "int32"}]},'
            ' "payload": {"a": true}}',
            r"at field 'a'",
        ),
    ],
)
def test_payload_that_does_not_fit_is_a_data_error(text: str, match: str) -> None:
    with pytest.raises(DataError, match=match):
        converter().to_connect_data(TOPIC, text.encode())


def test_remembered_schema_path_checks_the_envelope_end() -> None:
    c = converter()
    good = envelope('{"type":"int32","optional":false}', "1")
    assert c.to_connect_data(TOPIC, good).value == 1
    assert c.to_connect_data(TOPIC, envelope('{"type":"int32","optional":false}', "2")).value == 2
    with pytest.raises(DataError, match='requires "schema" and "payload"'):
        c.to_connect_data(TOPIC, good[:-1] + b',"x":1}')
    # A record with another schema next: the remembered schema must not be reused for it.
    assert c.to_connect_data(TOPIC, envelope('{"type":"string","optional":false}', '"s"')) == (
        SchemaAndValue(Schema.STRING, "s")
    )


def test_headers_use_the_same_format() -> None:
    c = converter()
    raw = c.from_connect_header(TOPIC, "h", Schema.INT32, 5)
    assert raw == envelope('{"type":"int32","optional":false}', "5")
    assert c.to_connect_header(TOPIC, "h", raw) == SchemaAndValue(Schema.INT32, 5)


# --- config ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("schemas.enable", "yes"),
        ("schemas.cache.size", "lots"),
        ("schemas.cache.size", "-1"),
        ("decimal.format", "HEX"),
        ("replace.null.with.default", "maybe"),
        ("converter.type", "sideways"),
    ],
)
def test_bad_config_names_key_and_value(key: str, value: str) -> None:
    with pytest.raises(ConfigError) as info:
        JsonConverter().configure({key: value}, False)
    assert key in str(info.value)
    assert repr(value) in str(info.value)
    assert "expected" in str(info.value)


def test_config_accepts_converter_type_and_case_insensitive_values() -> None:
    c = JsonConverter()
    c.configure(
        {"converter.type": "header", "schemas.enable": "FALSE", "decimal.format": "Numeric"}
    )
    assert c.from_connect_data(TOPIC, Decimal.schema(1), decimal.Decimal("2.5")) == b"2.5"


def test_schema_cache_is_bounded() -> None:
    c = converter(schemas_cache_size="2")
    for i in range(5):
        c.from_connect_data(TOPIC, SchemaBuilder.int32().version(i + 1).build(), i)
    assert len(c._enc_cache) == 2


def test_output_parses_as_the_same_json_python_reads() -> None:
    schema = SchemaBuilder.map(Schema.STRING, Schema.FLOAT64).build()
    out = converter().from_connect_data(TOPIC, schema, {"a": 1e22, "b": 0.5})
    assert out is not None
    assert json.loads(out)["payload"] == {"a": 1e22, "b": 0.5}
