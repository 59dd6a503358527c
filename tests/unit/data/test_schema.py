"""Schemas, builders, structs and value checks."""

from __future__ import annotations

import datetime as dt
import decimal
import pickle

import pytest

from kconnect.data import (
    Decimal,
    Field,
    Schema,
    SchemaBuilder,
    Struct,
    Timestamp,
    Type,
    validate_value,
)
from kconnect.errors import DataError


def test_type_values_are_connect_names() -> None:
    assert [t.value for t in Type] == [
        "int8",
        "int16",
        "int32",
        "int64",
        "float32",
        "float64",
        "boolean",
        "string",
        "bytes",
        "array",
        "map",
        "struct",
    ]


def test_constants() -> None:
    assert Schema.INT32.type is Type.INT32
    assert not Schema.INT32.optional
    assert Schema.OPTIONAL_BYTES.type is Type.BYTES
    assert Schema.OPTIONAL_BYTES.optional
    assert Schema.STRING.fields == ()
    assert Schema.STRING.key_schema is None


def test_builder_sets_everything() -> None:
    s = (
        SchemaBuilder.struct()
        .name("n")
        .version(2)
        .doc("d")
        .parameter("a", "1")
        .optional()
        .field("x", Schema.INT32)
        .field("y", SchemaBuilder.array(Schema.STRING).build())
        .build()
    )
    assert (s.type, s.name, s.version, s.doc, s.optional) == (Type.STRUCT, "n", 2, "d", True)
    assert dict(s.parameters or {}) == {"a": "1"}
    assert s.fields == (Field("x", 0, Schema.INT32), Field("y", 1, s.fields[1].schema))
    assert s.field("y") is s.fields[1]
    assert s.field("nope") is None
    m = SchemaBuilder.map(Schema.STRING, Schema.INT64).build()
    assert (m.key_schema, m.value_schema) == (Schema.STRING, Schema.INT64)


def test_equality_and_hash_by_content() -> None:
    a = SchemaBuilder.struct().name("r").field("x", Schema.INT32).build()
    b = SchemaBuilder.struct().name("r").field("x", SchemaBuilder.int32().build()).build()
    c = SchemaBuilder.struct().name("r").field("x", Schema.INT64).build()
    assert a == b
    assert hash(a) == hash(b)
    assert a != c
    assert {a: 1}[b] == 1
    assert SchemaBuilder.int32().default_value(1).build() != SchemaBuilder.int32().build()
    assert pickle.loads(pickle.dumps(a)) == a  # noqa: S301 - our own bytes


def test_schema_is_immutable() -> None:
    with pytest.raises(AttributeError):
        Schema.INT32.optional = True  # type: ignore[misc]
    p = Decimal.schema(2).parameters
    assert p is not None
    with pytest.raises(TypeError):
        p["scale"] = "3"  # type: ignore[index]


def test_builder_rejects_bad_defaults_and_fields() -> None:
    with pytest.raises(DataError, match="invalid default value for int8 schema"):
        SchemaBuilder.int8().default_value(1000)
    with pytest.raises(DataError, match="expects a str"):
        SchemaBuilder.string().default_value(5)
    with pytest.raises(DataError, match=r"decimal\.Decimal"):
        Decimal.builder(2).default_value(1.5)
    with pytest.raises(DataError, match="cannot add field"):
        SchemaBuilder.int32().field("x", Schema.INT32)
    with pytest.raises(DataError, match="already has a field"):
        SchemaBuilder.struct().field("x", Schema.INT32).field("x", Schema.INT32)


def test_struct_put_get_and_defaults() -> None:
    schema = (
        SchemaBuilder.struct()
        .field("a", Schema.INT32)
        .field("b", SchemaBuilder.string().optional().default_value("dflt").build())
        .build()
    )
    s = Struct(schema).put("a", 1)
    assert s.get("a") == 1
    assert s.get("b") == "dflt"
    assert s.get_without_default("b") is None
    assert s["a"] == 1
    with pytest.raises(DataError, match="'c' is not a valid field name; the fields are: a, b"):
        s.put("c", 1)


def test_struct_put_validates_with_path_value_and_type() -> None:
    schema = SchemaBuilder.struct().field("a", Schema.INT16).build()
    with pytest.raises(DataError) as info:
        Struct(schema).put("a", "12")
    msg = str(info.value)
    assert "'12'" in msg
    assert "field 'a'" in msg
    assert "int16" in msg
    with pytest.raises(DataError, match=r"an int in \[-32768, 32767\]"):
        Struct(schema).put("a", 40000)
    with pytest.raises(DataError, match="expects an int"):
        Struct(schema).put("a", True)


def test_struct_validate_finds_missing_required_fields() -> None:
    schema = (
        SchemaBuilder.struct()
        .field("req", Schema.STRING)
        .field("opt", Schema.OPTIONAL_STRING)
        .field("dflt", SchemaBuilder.int32().default_value(3).build())
        .build()
    )
    s = Struct(schema)
    with pytest.raises(DataError, match="field 'req'"):
        s.validate()
    s.put("req", "x")
    s.validate()


def test_struct_equality_and_repr() -> None:
    inner = SchemaBuilder.struct().field("z", Schema.BOOLEAN).build()
    schema = (
        SchemaBuilder.struct()
        .field("a", Schema.INT32)
        .field("b", Schema.STRING)
        .field("c", Schema.OPTIONAL_FLOAT64)
        .field("d", inner)
        .build()
    )
    s = Struct(schema).put("a", 1).put("b", "x").put("d", Struct(inner).put("z", True))
    t = Struct(schema).put("a", 1).put("b", "x").put("d", Struct(inner).put("z", True))
    assert s == t
    t.put("c", 1e10)
    assert s != t
    assert repr(s) == "Struct{a=1,b=x,d=Struct{z=true}}"
    assert repr(t) == "Struct{a=1,b=x,c=1.0E10,d=Struct{z=true}}"


def test_nested_struct_must_have_the_fields_schema_shape() -> None:
    inner = SchemaBuilder.struct().name("I").field("z", Schema.INT32).build()
    other = SchemaBuilder.struct().name("J").field("z", Schema.INT32).build()
    outer = SchemaBuilder.struct().field("i", inner).field("o", inner).build()
    optional_inner = SchemaBuilder.of(inner).optional().build()
    outer2 = SchemaBuilder.struct().field("i", optional_inner).build()
    Struct(outer2).put("i", Struct(inner).put("z", 1))  # same shape, optional: accepted
    with pytest.raises(DataError, match="does not match"):
        Struct(outer).put("i", Struct(other).put("z", 1))
    with pytest.raises(DataError, match=r"field 'i\.z'"):
        Struct(outer).put("i", Struct(inner))  # nested required field unset


def test_validate_value_containers_name_the_element() -> None:
    schema = SchemaBuilder.map(Schema.STRING, SchemaBuilder.array(Schema.INT8).build()).build()
    validate_value(schema, {"k": [1, 2]})
    with pytest.raises(DataError, match=r"field 'root\['k'\]\[1\]'"):
        validate_value(schema, {"k": [1, "x"]}, "root")
    with pytest.raises(DataError, match="a required int8 field needs a value"):
        validate_value(schema, {"k": [None]})
    with pytest.raises(DataError, match="expects a dict"):
        validate_value(schema, [1])


def test_logical_values_are_checked() -> None:
    validate_value(Decimal.schema(2), decimal.Decimal("1.50"))
    validate_value(Timestamp.SCHEMA, dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    with pytest.raises(DataError, match=r"datetime\.datetime"):
        validate_value(Timestamp.SCHEMA, 1577836800000)
    with pytest.raises(DataError, match="finite decimal"):
        validate_value(Decimal.schema(2), decimal.Decimal("NaN"))


def test_accepted_python_types() -> None:
    validate_value(Schema.BYTES, bytearray(b"x"))
    validate_value(Schema.BYTES, memoryview(b"x"))
    validate_value(Schema.FLOAT32, 3)
    validate_value(SchemaBuilder.array(Schema.INT32).build(), (1, 2))
    with pytest.raises(DataError):
        validate_value(Schema.FLOAT64, True)
    with pytest.raises(DataError):
        validate_value(Schema.BOOLEAN, 1)


def test_struct_checks_each_field_by_its_own_rules_and_names_it() -> None:
    """The generated struct checker: fitting types pass on their type, everything else meets the
    field's own checker, with the field's path in the message; odd field names are data, never
    code."""
    odd = "a'b\"}{\\n"
    inner = SchemaBuilder.struct().field(odd, Schema.BYTES).build()
    schema = (
        SchemaBuilder.struct()
        .field("s", Schema.STRING)
        .field("b", Schema.OPTIONAL_BOOLEAN)
        .field("f", Schema.FLOAT64)
        .field("d", Decimal.schema(2))
        .field("i", Schema.INT8)
        .field("n", inner)
        .build()
    )
    good = Struct(schema)
    good.put("s", "x").put("f", 1.5).put("d", decimal.Decimal("1.50")).put("i", 7)
    good.put("n", Struct(inner).put(odd, b"\x00"))
    validate_value(schema, good)
    cases = [
        (2, b"bytes", "field 'top.f'"),  # float field: bytes are not a number
        (3, b"\x01", "field 'top.d'"),  # a Decimal field's BYTES type alone does not fit
        (4, 300, r"field 'top.i'.*\[-128, 127\]"),
        (0, None, "field 'top.s'.*needs a value"),
    ]
    for index, value, message in cases:
        bad = Struct(schema)
        bad._values = list(good._values)
        bad._values[index] = value
        with pytest.raises(DataError, match=message):
            validate_value(schema, bad, "top")
    nested = Struct(schema)
    nested._values = list(good._values)
    nested._values[5] = Struct(inner)._trusted(inner, ["not bytes"])
    with pytest.raises(DataError, match=r"field 'top\.n\.a'b"):
        validate_value(schema, nested, "top")
    cut = Struct(schema)
    cut._values = good._values[:2]
    with pytest.raises(ValueError, match="values to unpack"):
        validate_value(schema, cut)
