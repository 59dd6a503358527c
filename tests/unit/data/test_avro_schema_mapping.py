"""Connect → Avro schemas: the exact text Java's AvroData + Schema.toString() produce.

Each expected text is reasoned from Confluent's AvroData.fromConnectSchema (which properties it
adds, in which order) and Avro's Schema.toJson (key order, namespace elision, name references).
"""

from __future__ import annotations

import datetime as dt
import decimal

import pytest

from kconnect.data import Date, Decimal, Schema, SchemaBuilder, Struct, Time, Timestamp
from kconnect.data.avro import ANYTHING_SCHEMA_TEXT, AvroData, AvroDataConfig
from kconnect.errors import ConfigError, DataError


def text(schema: Schema | None, **config: object) -> str:
    ad = AvroData(AvroDataConfig(**config))  # type: ignore[arg-type]
    result = ad.schema_text(ad.from_connect_schema(schema))
    assert ad.connect_schema_text(schema) == result
    return result


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        (Schema.INT8, '{"type":"int","connect.type":"int8"}'),
        (Schema.INT16, '{"type":"int","connect.type":"int16"}'),
        (Schema.INT32, '"int"'),
        (Schema.INT64, '"long"'),
        (Schema.FLOAT32, '"float"'),
        (Schema.FLOAT64, '"double"'),
        (Schema.BOOLEAN, '"boolean"'),
        (Schema.STRING, '"string"'),
        (Schema.BYTES, '"bytes"'),
        (Schema.OPTIONAL_STRING, '["null","string"]'),
        (Schema.OPTIONAL_INT8, '["null",{"type":"int","connect.type":"int8"}]'),
    ],
)
def test_primitives(schema: Schema, expected: str) -> None:
    assert text(schema) == expected


def test_int8_without_connect_meta_data_is_a_plain_int() -> None:
    assert text(Schema.INT8, connect_meta_data=False) == '"int"'


def test_unnamed_structs_are_connect_default_with_a_counter() -> None:
    inner = SchemaBuilder.struct().field("x", Schema.INT32).build()
    other = SchemaBuilder.struct().field("y", Schema.STRING).build()
    s = SchemaBuilder.struct().field("a", inner).field("b", other).build()
    assert text(s) == (
        '{"type":"record","name":"ConnectDefault","namespace":"io.confluent.connect.avro",'
        '"fields":[{"name":"a","type":{"type":"record","name":"ConnectDefault2","fields":'
        '[{"name":"x","type":"int"}]}},{"name":"b","type":{"type":"record","name":'
        '"ConnectDefault3","fields":[{"name":"y","type":"string"}]}}]}'
    )


def test_named_struct_name_namespace_and_metadata_order() -> None:
    s = (
        SchemaBuilder.struct()
        .name("com.acme.Order")
        .version(3)
        .doc("an order")
        .parameter("owner", "sales")
        .field("id", Schema.INT64)
        .build()
    )
    assert text(s) == (
        '{"type":"record","name":"Order","namespace":"com.acme","fields":[{"name":"id",'
        '"type":"long"}],"connect.doc":"an order","connect.version":3,'
        '"connect.parameters":{"owner":"sales"},"connect.name":"com.acme.Order"}'
    )


def test_a_nested_name_without_namespace_inside_one_writes_an_empty_namespace() -> None:
    inner = SchemaBuilder.struct().name("Inner").field("x", Schema.INT32).build()
    s = SchemaBuilder.struct().name("com.acme.Outer").field("i", inner).build()
    assert text(s) == (
        '{"type":"record","name":"Outer","namespace":"com.acme","fields":[{"name":"i","type":'
        '{"type":"record","name":"Inner","namespace":"","fields":[{"name":"x","type":"int"}],'
        '"connect.name":"Inner"}}],"connect.name":"com.acme.Outer"}'
    )


def test_a_reused_struct_is_written_once_then_by_name() -> None:
    addr = SchemaBuilder.struct().name("com.acme.Address").field("city", Schema.STRING).build()
    s = (
        SchemaBuilder.struct()
        .name("com.acme.Person")
        .field("home", addr)
        .field("work", addr)
        .field("others", SchemaBuilder.array(addr).build())
        .build()
    )
    assert text(s) == (
        '{"type":"record","name":"Person","namespace":"com.acme","fields":[{"name":"home",'
        '"type":{"type":"record","name":"Address","fields":[{"name":"city","type":"string"}],'
        '"connect.name":"com.acme.Address"}},{"name":"work","type":"Address"},'
        '{"name":"others","type":{"type":"array","items":"Address"}}],'
        '"connect.name":"com.acme.Person"}'
    )


def test_two_different_structs_with_one_name_are_an_error() -> None:
    a = SchemaBuilder.struct().name("X").field("a", Schema.INT32).build()
    b = SchemaBuilder.struct().name("X").field("b", Schema.INT32).build()
    s = SchemaBuilder.struct().name("Top").field("a", a).field("b", b).build()
    with pytest.raises(DataError, match="X"):
        text(s)


def test_optional_fields_defaults_and_union_order() -> None:
    s = (
        SchemaBuilder.struct()
        .name("R")
        .field("opt", Schema.OPTIONAL_STRING)
        .field("req_default", SchemaBuilder.int32().default_value(42).build())
        .field("opt_default", SchemaBuilder.string().optional().default_value("x").build())
        .build()
    )
    assert text(s) == (
        '{"type":"record","name":"R","fields":['
        '{"name":"opt","type":["null","string"],"default":null},'
        '{"name":"req_default","type":{"type":"int","connect.default":42},"default":42},'
        '{"name":"opt_default","type":[{"type":"string","connect.default":"x"},"null"],'
        '"default":"x"}],"connect.name":"R"}'
    )


def test_an_optional_struct_with_a_default_keeps_null_first_and_its_default() -> None:
    inner = SchemaBuilder.struct().name("I").field("x", Schema.INT32).build()
    default = Struct(inner).put("x", 1)
    opt = SchemaBuilder.of(inner).optional().default_value(default).build()
    s = SchemaBuilder.struct().name("R").field("i", opt).build()
    # Avro 1.12 accepts a union default that fits any branch, not only the first
    assert text(s) == (
        '{"type":"record","name":"R","fields":[{"name":"i","type":["null",{"type":"record",'
        '"name":"I","fields":[{"name":"x","type":"int"}],'
        '"connect.default":{"x":1},"connect.name":"I"}],"default":{"x":1}}],"connect.name":"R"}'
    )


def test_struct_default_float32_and_bytes_defaults_are_written_as_jackson_does() -> None:
    s = (
        SchemaBuilder.struct()
        .name("R")
        .field("f", SchemaBuilder.float32().default_value(0.1).build())
        .field("d", SchemaBuilder.float64().default_value(1e10).build())
        .field("b", SchemaBuilder.bytes().default_value(b"\x00\xff").build())
        .build()
    )
    assert text(s) == (
        '{"type":"record","name":"R","fields":['
        '{"name":"f","type":{"type":"float","connect.default":0.1},"default":0.1},'
        '{"name":"d","type":{"type":"double","connect.default":1.0E10},"default":1.0E10},'
        '{"name":"b","type":{"type":"bytes","connect.default":"\\u0000\u00ff"},'
        '"default":"\\u0000\u00ff"}],"connect.name":"R"}'
    )


def test_logical_types() -> None:
    assert text(Decimal.schema(2)) == (
        '{"type":"bytes","scale":2,"precision":64,"connect.version":1,'
        '"connect.parameters":{"scale":"2"},"connect.name":"org.apache.kafka.connect.data.Decimal",'
        '"logicalType":"decimal"}'
    )
    assert text(Date.SCHEMA) == (
        '{"type":"int","connect.version":1,"connect.name":"org.apache.kafka.connect.data.Date",'
        '"logicalType":"date"}'
    )
    assert text(Time.SCHEMA) == (
        '{"type":"int","connect.version":1,"connect.name":"org.apache.kafka.connect.data.Time",'
        '"logicalType":"time-millis"}'
    )
    assert text(Timestamp.SCHEMA) == (
        '{"type":"long","connect.version":1,'
        '"connect.name":"org.apache.kafka.connect.data.Timestamp","logicalType":"timestamp-millis"}'
    )


def test_decimal_precision_parameter() -> None:
    s = Decimal.builder(3).parameter("connect.decimal.precision", "10").build()
    assert text(s) == (
        '{"type":"bytes","scale":3,"precision":10,"connect.version":1,'
        '"connect.parameters":{"scale":"3","connect.decimal.precision":"10"},'
        '"connect.name":"org.apache.kafka.connect.data.Decimal","logicalType":"decimal"}'
    )


def test_logical_type_defaults() -> None:
    s = (
        SchemaBuilder.struct()
        .name("R")
        .field("ts", Timestamp.builder().default_value(dt.datetime(1970, 1, 1, 0, 0, 1)).build())
        .field("dec", Decimal.builder(1).default_value(decimal.Decimal("0.1")).build())
        .build()
    )
    assert '"connect.default":1000,' in text(s)
    assert '"connect.default":"\\u0001",' in text(s)


def test_maps() -> None:
    assert text(SchemaBuilder.map(Schema.STRING, Schema.INT32).build()) == (
        '{"type":"map","values":"int"}'
    )
    assert text(SchemaBuilder.map(Schema.INT32, Schema.OPTIONAL_STRING).build()) == (
        '{"type":"array","items":{"type":"record","name":"MapEntry","namespace":'
        '"io.confluent.connect.avro","fields":[{"name":"key","type":"int"},{"name":"value",'
        '"type":["null","string"],"default":null}]}}'
    )
    # an optional string key is not a string-keyed Avro map (allow.optional.map.keys=false)
    assert '"MapEntry"' in text(SchemaBuilder.map(Schema.OPTIONAL_STRING, Schema.INT32).build())
    assert text(
        SchemaBuilder.map(Schema.OPTIONAL_STRING, Schema.INT32).build(),
        allow_optional_map_keys=True,
    ) == ('{"type":"map","values":"int"}')


def test_a_named_non_string_map_names_its_entry_record() -> None:
    s = SchemaBuilder.map(Schema.INT32, Schema.INT32).name("com.acme.Counts").build()
    assert text(s) == (
        '{"type":"array","items":{"type":"record","name":"Counts","namespace":"com.acme",'
        '"fields":[{"name":"key","type":"int"},{"name":"value","type":"int"}],'
        '"connect.internal.type":"MapEntry"},"connect.name":"com.acme.Counts"}'
    )


def test_a_non_string_map_default_is_no_valid_avro_default() -> None:
    m = SchemaBuilder.map(Schema.INT32, Schema.INT32).default_value({1: 2}).build()
    s = SchemaBuilder.struct().name("R").field("m", m).build()
    assert text(s) == (
        '{"type":"record","name":"R","fields":[{"name":"m","type":{"type":"array","items":'
        '{"type":"record","name":"MapEntry","namespace":"io.confluent.connect.avro","fields":'
        '[{"name":"key","type":"int"},{"name":"value","type":"int"}]},'
        '"connect.default":[[1,2]]}}],"connect.name":"R"}'
    )


def _color(optional: bool = False) -> Schema:
    b = (
        SchemaBuilder.string()
        .name("com.acme.Color")
        .parameter("io.confluent.connect.avro.Enum", "com.acme.Color")
        .parameter("io.confluent.connect.avro.Enum.RED", "RED")
        .parameter("io.confluent.connect.avro.Enum.GREEN", "GREEN")
        .parameter("io.confluent.connect.avro.enum.default.Color", "RED")
    )
    return (b.optional() if optional else b).build()


def test_enums_without_and_with_enhanced_support() -> None:
    params = (
        '"connect.parameters":{"io.confluent.connect.avro.Enum":"com.acme.Color",'
        '"io.confluent.connect.avro.Enum.RED":"RED","io.confluent.connect.avro.Enum.GREEN":'
        '"GREEN","io.confluent.connect.avro.enum.default.Color":"RED"},'
        '"connect.name":"com.acme.Color"'
    )
    assert text(_color()) == '{"type":"string",' + params + "}"
    assert text(_color(), enhanced_avro_schema_support=True) == (
        '{"type":"enum","name":"Color","namespace":"com.acme","symbols":["RED","GREEN"],'
        '"default":"RED",' + params + "}"
    )


def test_fixed() -> None:
    s = SchemaBuilder.bytes().name("com.acme.Hash").parameter("connect.fixed.size", "4").build()
    assert text(s) == (
        '{"type":"fixed","name":"Hash","namespace":"com.acme","size":4,'
        '"connect.parameters":{"connect.fixed.size":"4"},"connect.name":"com.acme.Hash"}'
    )


def test_union_struct_becomes_an_avro_union() -> None:
    u = (
        SchemaBuilder.struct()
        .name("io.confluent.connect.avro.Union")
        .field("int", Schema.OPTIONAL_INT32)
        .field("string", Schema.OPTIONAL_STRING)
        .optional()
        .build()
    )
    s = SchemaBuilder.struct().name("R").field("u", u).build()
    assert text(s) == (
        '{"type":"record","name":"R","fields":[{"name":"u","type":["null","int","string"],'
        '"default":null}],"connect.name":"R"}'
    )


def test_scrub_invalid_names() -> None:
    s = SchemaBuilder.struct().name("com.my-app.1Rec").field("a-b", Schema.INT32).build()
    with pytest.raises(DataError, match=r"scrub\.invalid\.names"):
        text(s)
    assert text(s, scrub_invalid_names=True) == (
        '{"type":"record","name":"x1Rec","namespace":"com.my_app","fields":[{"name":"a_b",'
        '"type":"int"}],"connect.name":"com.my-app.1Rec"}'
    )


def test_avro_parameters_become_properties() -> None:
    s = SchemaBuilder.string().parameter("avro.java.string", "String").build()
    assert text(s) == (
        '{"type":"string","connect.parameters":{"avro.java.string":"String"},'
        '"avro.java.string":"String"}'
    )


def test_schemaless_is_the_anything_record() -> None:
    assert text(None) == ANYTHING_SCHEMA_TEXT
    assert ANYTHING_SCHEMA_TEXT == (
        '{"type":"record","name":"Anything","namespace":"io.confluent.connect.avro","fields":['
        '{"name":"boolean","type":["null","boolean"],"default":null},'
        '{"name":"bytes","type":["null","bytes"],"default":null},'
        '{"name":"double","type":["null","double"],"default":null},'
        '{"name":"float","type":["null","float"],"default":null},'
        '{"name":"int","type":["null","int"],"default":null},'
        '{"name":"long","type":["null","long"],"default":null},'
        '{"name":"string","type":["null","string"],"default":null},'
        '{"name":"array","type":["null",{"type":"array","items":"Anything"}],"default":null},'
        '{"name":"map","type":["null",{"type":"array","items":{"type":"record",'
        '"name":"MapEntry","fields":[{"name":"key","type":"Anything"},'
        '{"name":"value","type":"Anything"}]}}],"default":null}]}'
    )


def test_schema_text_rewrites_registry_text_as_java_would() -> None:
    ad = AvroData()
    registry = {
        "namespace": "a.b",
        "type": "record",
        "name": "R",
        "fields": [
            {"type": "string", "name": "s", "doc": "d"},
            {
                "name": "i",
                "type": {"name": "I", "type": "record", "namespace": "a.b", "fields": []},
            },
            {"name": "j", "type": "I"},
        ],
        "doc": "top",
    }
    assert ad.schema_text(registry) == (
        '{"type":"record","name":"R","namespace":"a.b","doc":"top","fields":[{"name":"s",'
        '"type":"string","doc":"d"},{"name":"i","type":{"type":"record","name":"I",'
        '"fields":[]}},{"name":"j","type":"I"}]}'
    )


def test_config_from_converter_keys() -> None:
    c = AvroDataConfig.from_configs(
        {
            "connect.meta.data": "false",
            "enhanced.avro.schema.support": "true",
            "scrub.invalid.names": "TRUE",
            "schemas.cache.config": "5",
            "flatten.singleton.union": "false",
            "schema.registry.url": "http://ignored",
        }
    )
    assert c == AvroDataConfig(
        connect_meta_data=False,
        enhanced_avro_schema_support=True,
        scrub_invalid_names=True,
        schemas_cache_size=5,
        flatten_singleton_union=False,
    )
    assert AvroDataConfig.from_configs({"schemas.cache.size": "7"}).schemas_cache_size == 7
    assert AvroDataConfig.from_configs({"schemas.cache.config": "-3"}).schemas_cache_size == 1
    with pytest.raises(ConfigError, match=r"connect\.meta\.data.*true or false"):
        AvroDataConfig.from_configs({"connect.meta.data": "yes"})
    with pytest.raises(ConfigError, match=r"schemas\.cache\.config.*integer"):
        AvroDataConfig.from_configs({"schemas.cache.config": "many"})
    with pytest.raises(ConfigError, match=r"generalized\.sum\.type\.support.*not support"):
        AvroDataConfig.from_configs({"generalized.sum.type.support": "true"})


def test_schema_text_keeps_errors_aliases_and_refers_to_equal_types_by_name() -> None:
    ad = AvroData()
    registry = {
        "type": "error",
        "name": "Oops",
        "namespace": "a",
        "aliases": ["Old", "b.Older"],
        "fields": [
            {"name": "e", "type": {"type": "enum", "name": "E", "symbols": ["X"], "doc": "1"}},
            {"name": "f", "type": "E", "order": "descending", "aliases": ["g"]},
        ],
    }
    assert ad.schema_text(registry) == (
        '{"type":"error","name":"Oops","namespace":"a","fields":[{"name":"e","type":'
        '{"type":"enum","name":"E","doc":"1","symbols":["X"]}},{"name":"f","type":"E",'
        '"order":"descending","aliases":["g"]}],"aliases":["Old","b.Older"]}'
    )


def test_unions_avro_refuses() -> None:
    u = (
        SchemaBuilder.struct()
        .name("io.confluent.connect.avro.Union")
        .field("a", Schema.OPTIONAL_INT32)
        .field("b", Schema.OPTIONAL_INT32)
        .build()
    )
    with pytest.raises(DataError, match="Duplicate in union: int"):
        text(u)
    with pytest.raises(DataError, match="named after primitives"):
        text(SchemaBuilder.struct().name("int").build())
