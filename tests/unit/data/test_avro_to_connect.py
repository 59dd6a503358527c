"""Avro → Connect schemas, as Java's AvroData.toConnectSchema maps them."""

from __future__ import annotations

import pytest

from kconnect.data import Date, Decimal, Schema, SchemaBuilder, Struct, Time, Timestamp, Type
from kconnect.data.avro import AvroData, AvroDataConfig
from kconnect.errors import DataError


def connect(avro: object, **config: object) -> Schema:
    return AvroData(AvroDataConfig(**config)).to_connect_schema(avro)  # type: ignore[arg-type]


def test_primitives_and_annotations() -> None:
    assert connect("int") == Schema.INT32
    assert connect("long") == Schema.INT64
    assert connect("float") == Schema.FLOAT32
    assert connect("double") == Schema.FLOAT64
    assert connect("boolean") == Schema.BOOLEAN
    assert connect("string") == Schema.STRING
    assert connect("bytes") == Schema.BYTES
    assert connect({"type": "int", "connect.type": "int8"}) == Schema.INT8
    assert connect({"type": "int", "connect.type": "int16"}) == Schema.INT16
    with pytest.raises(DataError, match="int8 or int16"):
        connect({"type": "int", "connect.type": "int64"})


def test_null_unions_are_optional_and_other_unions_union_structs() -> None:
    assert connect(["null", "string"]) == Schema.OPTIONAL_STRING
    assert connect(["string", "null"]) == Schema.OPTIONAL_STRING
    u = connect(["null", "int", "string", {"type": "record", "name": "a.R", "fields": []}])
    assert u.name == "io.confluent.connect.avro.Union"
    assert u.optional
    assert [f.name for f in u.fields] == ["int", "string", "R"]
    assert all(f.schema.optional for f in u.fields)
    assert u.fields[2].schema.name == "a.R"
    enhanced = connect(["int", {"type": "record", "name": "a.R", "fields": []}], **_ENH)
    assert [f.name for f in enhanced.fields] == ["int", "a.R"]


_ENH = {"enhanced_avro_schema_support": True}


def test_singleton_unions_are_flattened_unless_configured_not_to() -> None:
    assert connect(["string"]) == Schema.STRING
    u = connect(["string"], flatten_singleton_union=False)
    assert u.name == "io.confluent.connect.avro.Union"
    assert [f.name for f in u.fields] == ["string"]


def test_logical_types_and_the_ones_java_leaves_as_their_base_type() -> None:
    assert connect({"type": "int", "logicalType": "date"}) == Date.SCHEMA
    assert connect({"type": "int", "logicalType": "time-millis"}) == Time.SCHEMA
    assert connect({"type": "long", "logicalType": "timestamp-millis"}) == Timestamp.SCHEMA
    assert connect({"type": "long", "logicalType": "timestamp-micros"}) == Schema.INT64
    assert connect({"type": "long", "logicalType": "time-micros"}) == Schema.INT64
    assert connect({"type": "long", "logicalType": "local-timestamp-millis"}) == Schema.INT64
    assert connect({"type": "string", "logicalType": "uuid"}) == Schema.STRING
    d = connect({"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 2})
    assert d == Decimal.builder(2).parameter("connect.decimal.precision", "10").build()
    assert connect({"type": "bytes", "logicalType": "decimal", "precision": 64, "scale": 2}) == (
        Decimal.schema(2)
    )


def test_enum_and_fixed() -> None:
    e = connect(
        {"type": "enum", "name": "a.Color", "doc": "colors", "symbols": ["R", "G"], "default": "R"}
    )
    assert e.type is Type.STRING
    assert e.name == "a.Color"
    assert dict(e.parameters or {}) == {
        "io.confluent.connect.avro.enum.doc.Color": "colors",
        "io.confluent.connect.avro.enum.default.Color": "R",
        "io.confluent.connect.avro.Enum": "a.Color",
        "io.confluent.connect.avro.Enum.R": "R",
        "io.confluent.connect.avro.Enum.G": "G",
    }
    f = connect({"type": "fixed", "name": "a.Hash", "size": 16})
    assert f == SchemaBuilder.bytes().name("a.Hash").parameter("connect.fixed.size", "16").build()


def test_record_docs_defaults_and_the_field_default_flag() -> None:
    s = connect(
        {
            "type": "record",
            "name": "User",
            "namespace": "a",
            "doc": "a user",
            "fields": [
                {"name": "n", "type": "int", "default": 5, "doc": "count"},
                {"name": "o", "type": ["null", "string"], "default": None},
                {"name": "m", "type": {"type": "map", "values": "long"}, "default": {"x": 1}},
            ],
        }
    )
    assert s.name == "a.User"
    assert dict(s.parameters or {}) == {
        "io.confluent.connect.avro.record.doc": "a user",
        "io.confluent.connect.avro.field.doc.n": "count",
    }
    n = s.fields[0].schema
    assert n.default == 5
    assert dict(n.parameters or {}) == {"io.confluent.connect.avro.field.default": "true"}
    assert s.fields[1].schema == Schema.OPTIONAL_STRING
    assert s.fields[2].schema.default == {"x": 1}
    # back to Avro: the flag keeps connect.default out and is itself left out of
    # connect.parameters; the docs stay there too, and connect.name is added
    ad = AvroData()
    assert ad.schema_text(ad.from_connect_schema(s)) == (
        '{"type":"record","name":"User","namespace":"a","doc":"a user","fields":[{"name":"n",'
        '"type":"int","doc":"count","default":5},{"name":"o","type":["null","string"],'
        '"default":null},{"name":"m","type":{"type":"map","values":"long"},'
        '"default":{"x":1}}],"connect.parameters":{"io.confluent.connect.avro.record.doc":'
        '"a user","io.confluent.connect.avro.field.doc.n":"count"},"connect.name":"a.User"}'
    )


def test_record_default_becomes_a_struct() -> None:
    s = connect(
        {
            "type": "record",
            "name": "O",
            "fields": [
                {
                    "name": "i",
                    "type": {
                        "type": "record",
                        "name": "I",
                        "fields": [{"name": "x", "type": "int"}],
                    },
                    "default": {"x": 3},
                }
            ],
        }
    )
    inner = s.fields[0].schema
    assert isinstance(inner.default, Struct)
    assert inner.default.get("x") == 3


def test_connect_metadata_round_trips() -> None:
    ad = AvroData()
    original = (
        SchemaBuilder.struct()
        .name("com.acme.Rec")
        .version(4)
        .doc("d")
        .field("a", Schema.INT16)
        .field("b", SchemaBuilder.string().optional().default_value("x").build())
        .field("c", SchemaBuilder.map(Schema.INT64, Schema.OPTIONAL_BOOLEAN).build())
        .field("t", Timestamp.builder().optional().build())
        .build()
    )
    assert ad.to_connect_schema(ad.from_connect_schema(original)) == original


def test_registry_version_is_used_without_connect_version() -> None:
    avro = {"type": "record", "name": "R", "fields": []}
    assert AvroData().to_connect_schema(avro, version=7).version == 7
    with_version = {**avro, "connect.version": 2}
    assert AvroData().to_connect_schema(with_version, version=7).version == 2


def test_schemas_kconnect_cannot_map() -> None:
    with pytest.raises(DataError, match="Standalone null"):
        connect("null")
    recursive = {
        "type": "record",
        "name": "Node",
        "fields": [{"name": "next", "type": ["null", "Node"]}],
    }
    with pytest.raises(DataError, match="refers to itself"):
        connect(recursive)
    with pytest.raises(DataError, match="undefined Avro type name"):
        connect({"type": "array", "items": "Missing"})
    with pytest.raises(DataError, match="Invalid Connect version"):
        connect({"type": "string", "connect.version": "one"})
    with pytest.raises(DataError, match="Mismatched names"):
        connect({"type": "int", "logicalType": "date", "connect.name": "other"})


def test_a_record_used_twice_with_a_field_default_maps_back_to_one_record() -> None:
    avro = {
        "type": "record",
        "name": "O",
        "fields": [
            {
                "name": "i",
                "type": {"type": "record", "name": "I", "fields": [{"name": "x", "type": "int"}]},
                "default": {"x": 3},
            },
            {"name": "arr", "type": {"type": "array", "items": "I"}, "default": []},
        ],
    }
    ad = AvroData()
    # the text Java's AvroData (Apicurio's fork, Avro 1.12) gives for the same round trip
    assert ad.connect_schema_text(ad.to_connect_schema(avro)) == (
        '{"type":"record","name":"O","fields":[{"name":"i","type":{"type":"record","name":"I",'
        '"fields":[{"name":"x","type":"int"}],"connect.name":"I"},"default":{"x":3}},'
        '{"name":"arr","type":{"type":"array","items":"I"},"default":[]}],"connect.name":"O"}'
    )
