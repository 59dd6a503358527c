"""Connect schemas to the JSON Schema text Confluent's JsonSchemaConverter registers, and back."""

from __future__ import annotations

import json
from decimal import Decimal as PyDecimal

import pytest

from kconnect.converters.jsonschema import Options, connect_schema, json_schema_text
from kconnect.data.logical import Date, Decimal, Time, Timestamp
from kconnect.data.schema import Schema, SchemaBuilder

OPTS = Options(numeric_decimals=True, replace_null=True, confluent_json=True)


@pytest.mark.parametrize(
    ("schema", "text"),
    [
        (SchemaBuilder.int8().build(), '{"type":"integer","connect.type":"int8"}'),
        (SchemaBuilder.int16().build(), '{"type":"integer","connect.type":"int16"}'),
        (SchemaBuilder.int32().build(), '{"type":"integer","connect.type":"int32"}'),
        (SchemaBuilder.int64().build(), '{"type":"integer","connect.type":"int64"}'),
        (SchemaBuilder.float32().build(), '{"type":"number","connect.type":"float32"}'),
        (SchemaBuilder.float64().build(), '{"type":"number","connect.type":"float64"}'),
        (SchemaBuilder.bool().build(), '{"type":"boolean"}'),
        (SchemaBuilder.string().build(), '{"type":"string"}'),
        (SchemaBuilder.bytes().build(), '{"type":"string","connect.type":"bytes"}'),
        (
            SchemaBuilder.string().optional().build(),
            '{"oneOf":[{"type":"null"},{"type":"string"}]}',
        ),
        (
            Decimal.builder(2).build(),
            '{"type":"number","title":"org.apache.kafka.connect.data.Decimal",'
            '"connect.version":1,"connect.type":"bytes","connect.parameters":{"scale":"2"}}',
        ),
        (
            Date.builder().build(),
            '{"type":"integer","title":"org.apache.kafka.connect.data.Date",'
            '"connect.version":1,"connect.type":"int32"}',
        ),
        (
            Time.builder().build(),
            '{"type":"integer","title":"org.apache.kafka.connect.data.Time",'
            '"connect.version":1,"connect.type":"int32"}',
        ),
        (
            Timestamp.builder().build(),
            '{"type":"integer","title":"org.apache.kafka.connect.data.Timestamp",'
            '"connect.version":1,"connect.type":"int64"}',
        ),
        (
            SchemaBuilder.array(SchemaBuilder.string().build()).build(),
            '{"type":"array","items":{"type":"string"}}',
        ),
        (
            SchemaBuilder.map(
                SchemaBuilder.string().build(), SchemaBuilder.int32().build()
            ).build(),
            '{"type":"object","connect.type":"map",'
            '"additionalProperties":{"type":"integer","connect.type":"int32"}}',
        ),
        (
            SchemaBuilder.map(
                SchemaBuilder.int32().build(), SchemaBuilder.string().build()
            ).build(),
            '{"type":"array","connect.type":"map","items":{"type":"object","properties":'
            '{"value":{"type":"string","connect.index":1},'
            '"key":{"type":"integer","connect.index":0,"connect.type":"int32"}}}}',
        ),
        (
            SchemaBuilder.string().name("n").doc("d").default_value("x").build(),
            '{"type":"string","title":"n","description":"d","default":"x"}',
        ),
        (
            SchemaBuilder.float64().default_value(1.0).build(),
            '{"type":"number","default":1,"connect.type":"float64"}',
        ),
    ],
)
def test_schema_text_per_connect_type(schema: Schema, text: str) -> None:
    assert json_schema_text(schema, OPTS) == text
    assert connect_schema(text) == schema


def test_struct_properties_in_java_hashmap_order_with_connect_index() -> None:
    """The order Java's HashMap gives these names (checked against text Confluent's converter
    registered for Debezium's source struct), not the fields' order."""
    names = [
        "version",
        "connector",
        "name",
        "ts_ms",
        "snapshot",
        "db",
        "sequence",
        "table",
        "server_id",
        "gtid",
        "file",
        "pos",
        "row",
        "thread",
        "query",
    ]
    builder = SchemaBuilder.struct().name("io.debezium.connector.mysql.Source")
    for name in names:
        builder.field(name, SchemaBuilder.string().build())
    schema = builder.build()
    text = json_schema_text(schema, OPTS)
    assert text.startswith(
        '{"type":"object","title":"io.debezium.connector.mysql.Source","properties":'
        '{"query":{"type":"string","connect.index":14},"thread":'
    )
    assert list(json.loads(text)["properties"]) == [
        "query",
        "thread",
        "server_id",
        "version",
        "sequence",
        "file",
        "connector",
        "pos",
        "name",
        "gtid",
        "row",
        "ts_ms",
        "snapshot",
        "db",
        "table",
    ]
    assert connect_schema(text) == schema


def test_optional_struct_field_puts_the_index_on_the_one_of() -> None:
    inner = SchemaBuilder.struct().name("Inner").field("a", SchemaBuilder.int32().build())
    schema = SchemaBuilder.struct().name("Outer").field("inner", inner.optional().build()).build()
    assert json_schema_text(schema, OPTS) == (
        '{"type":"object","title":"Outer","properties":{"inner":{"connect.index":0,"oneOf":'
        '[{"type":"null"},{"type":"object","title":"Inner","properties":{"a":{"type":"integer",'
        '"connect.index":0,"connect.type":"int32"}}}]}}}'
    )
    assert connect_schema(json_schema_text(schema, OPTS)) == schema


def _payload_schema() -> Schema:
    return (
        SchemaBuilder.struct()
        .name("P")
        .field("b", SchemaBuilder.bytes().build())
        .field("d", Decimal.builder(2).build())
        .field("day", Date.builder().build())
        .field(
            "m",
            SchemaBuilder.map(
                SchemaBuilder.int32().build(), SchemaBuilder.string().build()
            ).build(),
        )
        .field(
            "om",
            SchemaBuilder.map(
                SchemaBuilder.string().optional().build(), SchemaBuilder.int8().build()
            ).build(),
        )
        .field(
            "sm",
            SchemaBuilder.map(SchemaBuilder.string().build(), SchemaBuilder.bool().build()).build(),
        )
        .field("note", SchemaBuilder.string().optional().build())
        .field("n", SchemaBuilder.int32().default_value(5).build())
        .build()
    )


def test_payload_is_the_json_confluent_writes() -> None:
    import datetime

    from kconnect.converters.json import compile_decoder, compile_encoder
    from kconnect.data.schema import Struct

    schema = _payload_schema()
    value = Struct(schema)
    value.put("b", b"\x00\xff").put("d", PyDecimal("-1.50")).put("day", datetime.date(1970, 1, 3))
    value.put("m", {1: "a"}).put("om", {None: 1}).put("sm", {"k": True}).put("note", None)
    text = compile_encoder(schema, OPTS)(value)
    assert text == (
        '{"b":"AP8=","d":-1.50,"day":2,"m":[{"key":1,"value":"a"}],'
        '"om":[{"key":null,"value":1}],"sm":{"k":true},"note":null,"n":5}'
    )
    back = compile_decoder(schema, OPTS)(json.loads(text, parse_float=PyDecimal))
    value.put("n", 5)  # a null with a default reads back as the default
    assert back == value
    base64 = Options(numeric_decimals=False, replace_null=True, confluent_json=True)
    assert compile_encoder(Decimal.builder(2).build(), base64)(PyDecimal("-1.50")) == '"/2o="'


def test_schemas_json_schema_cannot_map_say_so() -> None:
    from kconnect.errors import DataError

    with pytest.raises(DataError, match="'allOf'"):
        connect_schema('{"allOf":[{"type":"string"}]}')
    with pytest.raises(DataError, match="'\\$ref'"):
        connect_schema('{"$ref":"#/definitions/x"}')
    with pytest.raises(DataError, match="not JSON"):
        connect_schema("{")


def test_a_hand_written_schema_reads_as_java_reads_it() -> None:
    text = (
        '{"$schema":"http://json-schema.org/draft-07/schema#","title":"User","type":"object",'
        '"properties":{"name":{"type":"string"},"age":{"type":["null","integer"]},'
        '"score":{"type":"number"}},"required":["name"]}'
    )
    # Without connect.index, fields come in Java's HashMap order of the names, as Java reads them.
    assert connect_schema(text) == (
        SchemaBuilder.struct()
        .name("User")
        .field("score", SchemaBuilder.float64().build())
        .field("name", SchemaBuilder.string().build())
        .field("age", SchemaBuilder.int64().optional().build())
        .build()
    )


def test_a_boolean_prints_its_type_last_as_everit_does() -> None:
    schema = (
        SchemaBuilder.struct()
        .field("flag", SchemaBuilder.bool().doc("on?").default_value(True).build())
        .build()
    )
    text = json_schema_text(schema, OPTS)
    assert text == (
        '{"type":"object","properties":{"flag":{"description":"on?","default":true,'
        '"connect.index":0,"type":"boolean"}}}'
    )
    assert connect_schema(text) == schema


def test_a_struct_without_fields_has_no_properties() -> None:
    schema = SchemaBuilder.struct().name("Empty").build()
    assert json_schema_text(schema, OPTS) == '{"type":"object","title":"Empty"}'
    assert connect_schema('{"type":"object","title":"Empty"}') == schema


def test_json_enums_both_ways() -> None:
    schema = (
        SchemaBuilder.string()
        .parameter("io.confluent.connect.json.Enum", "")
        .parameter("io.confluent.connect.json.Enum.RED", "RED")
        .parameter("io.confluent.connect.json.Enum.GREEN", "GREEN")
        .build()
    )
    assert json_schema_text(schema, OPTS) == '{"enum":["RED","GREEN"]}'
    assert connect_schema('{"enum":["RED","GREEN"]}') == schema
    assert connect_schema('{"type":"string","enum":["RED","GREEN"]}') == schema


ONE_OF = "io.confluent.connect.json.OneOf"


def _string_or_int64() -> Schema:
    return (
        SchemaBuilder.struct()
        .name(ONE_OF)
        .field(ONE_OF + ".field.0", SchemaBuilder.string().optional().build())
        .field(ONE_OF + ".field.1", SchemaBuilder.int64().optional().build())
        .optional()
        .build()
    )


def test_a_union_reads_as_a_one_of_struct_and_writes_back_the_same() -> None:
    text = (
        '{"oneOf":[{"type":"null"},{"type":"string","connect.index":0},'
        '{"type":"integer","connect.index":1,"connect.type":"int64"}]}'
    )
    union = _string_or_int64()
    assert connect_schema(text) == union
    assert json_schema_text(union, OPTS) == text
    from kconnect.converters.json import compile_decoder, compile_encoder
    from kconnect.data.schema import Struct

    decode = compile_decoder(union, OPTS)
    encode = compile_encoder(union, OPTS)
    assert decode("x") == Struct(union).put(ONE_OF + ".field.0", "x")
    assert decode(5) == Struct(union).put(ONE_OF + ".field.1", 5)
    assert decode(None) is None
    assert encode(Struct(union).put(ONE_OF + ".field.1", 5)) == "5"
    assert encode(Struct(union)) == "null"
    from kconnect.errors import DataError

    with pytest.raises(DataError, match="Did not find matching oneof field"):
        decode(True)


def test_a_type_list_is_a_union_too() -> None:
    assert connect_schema('{"type":["string","integer","null"]}') == _string_or_int64()
