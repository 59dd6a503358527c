"""Connect schemas to the JSON Schema text Confluent's JsonSchemaConverter registers, and back."""

from __future__ import annotations

import json

import pytest

from kconnect.converters.jsonschema import Options, connect_schema, json_schema_text
from kconnect.data.logical import Date, Decimal, Time, Timestamp
from kconnect.data.schema import Schema, SchemaBuilder

OPTS = Options(numeric_decimals=True, replace_null=True, map_entries=True)


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
