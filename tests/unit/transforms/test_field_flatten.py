import datetime as dt
import decimal

import pytest

from kconnect.data.logical import Timestamp
from kconnect.data.schema import Schema, SchemaBuilder, Struct
from kconnect.errors import DataError
from kconnect.transforms.flatten import FlattenKey, FlattenValue
from tests.unit.transforms.fieldhelpers import applied, configured, sink

DEEP = SchemaBuilder.struct().optional().field("x", Schema.INT32).build()
INNER = (
    SchemaBuilder.struct()
    .field("b", Schema.STRING)
    .field("deep", DEEP)
    .field("arr", SchemaBuilder.array(Schema.STRING).build())
    .field("ts", Timestamp.SCHEMA)
    .build()
)
SCHEMA = (
    SchemaBuilder.struct().name("top").version(3).field("a", INNER).field("n", Schema.INT64).build()
)
WHEN = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


def nested() -> Struct:
    return (
        Struct(SCHEMA)
        .put(
            "a",
            Struct(INNER)
            .put("b", "x")
            .put("deep", Struct(DEEP).put("x", 9))
            .put("arr", ["q"])
            .put("ts", WHEN),
        )
        .put("n", 5)
    )


def test_schemaless_nested_maps() -> None:
    t = configured(FlattenValue, {})
    value = {"a": {"b": {"c": 1, "d": None}, "l": [1, {"x": 1}]}, "e": None, "f": b"x", "g": 1.5}
    assert applied(t, sink(value)).value == {
        "a.b.c": 1,
        "a.b.d": None,
        "a.l": [1, {"x": 1}],
        "e": None,
        "f": b"x",
        "g": 1.5,
    }


def test_delimiter() -> None:
    t = configured(FlattenKey, {"delimiter": "_"})
    out = applied(t, sink("v", key={"a": {"b": True}}))
    assert out.key == {"a_b": True}
    assert out.value == "v"


def test_with_schema() -> None:
    t = configured(FlattenValue, {"delimiter": "#"})
    out = applied(t, sink(nested(), SCHEMA))
    expected = (
        SchemaBuilder.struct()
        .name("top")
        .version(3)
        .field("a#b", Schema.STRING)
        .field("a#deep#x", Schema.OPTIONAL_INT32)
        .field("a#arr", SchemaBuilder.array(Schema.STRING).build())
        .field("a#ts", Timestamp.SCHEMA)
        .field("n", Schema.INT64)
        .build()
    )
    assert out.value_schema == expected
    assert out.value == (
        Struct(expected)
        .put("a#b", "x")
        .put("a#deep#x", 9)
        .put("a#arr", ["q"])
        .put("a#ts", WHEN)
        .put("n", 5)
    )
    assert applied(t, sink(nested(), SCHEMA)).value_schema is out.value_schema


def test_optional_parents_and_defaults_carry_down() -> None:
    child = (
        SchemaBuilder.struct()
        .optional()
        .field("req", Schema.INT32)
        .field("dflt", SchemaBuilder.string().default_value("own").build())
        .build()
    )
    parent_default = Struct(child).put("req", 7)
    parent = (
        SchemaBuilder.struct()
        .optional()
        .field("req", Schema.INT32)
        .field("dflt", SchemaBuilder.string().default_value("own").build())
        .default_value(parent_default)
        .build()
    )
    schema = SchemaBuilder.struct().field("child", child).field("parent", parent).build()
    t = configured(FlattenValue, {})
    out = applied(t, sink(Struct(schema), schema))
    assert out.value_schema == (
        SchemaBuilder.struct()
        .field("child.req", Schema.OPTIONAL_INT32)
        .field("child.dflt", SchemaBuilder.string().optional().default_value("own").build())
        .field("parent.req", SchemaBuilder.int32().optional().default_value(7).build())
        .field("parent.dflt", SchemaBuilder.string().optional().default_value("own").build())
        .build()
    )
    assert isinstance(out.value, Struct)
    # The null child leaves its fields null; the null parent takes its default struct.
    assert [out.value.get_without_default(f) for f in out.value.schema.fields] == [
        None,
        None,
        7,
        "own",
    ]


@pytest.mark.parametrize("cls", [FlattenKey, FlattenValue])
def test_tombstones_pass_through(cls: type[FlattenValue]) -> None:
    record = sink(None, SCHEMA, key=None, key_schema=SCHEMA)
    assert configured(cls, {}).apply(record) is record


def test_map_fields_with_schema_are_not_supported() -> None:
    schema = (
        SchemaBuilder.struct()
        .field("m", SchemaBuilder.map(Schema.STRING, Schema.STRING).build())
        .build()
    )
    t = configured(FlattenValue, {})
    with pytest.raises(
        DataError,
        match=r"^Flatten transformation does not support map for record with schemas "
        r"\(for field m\)\.$",
    ):
        t.apply(sink(Struct(schema).put("m", {}), schema))


def test_unsupported_schemaless_values() -> None:
    t = configured(FlattenValue, {})
    with pytest.raises(
        DataError,
        match=r"^Flatten transformation does not support Struct for record without schemas "
        r"\(for field a\.s\)\.$",
    ):
        t.apply(sink({"a": {"s": Struct(DEEP)}}))
    with pytest.raises(
        DataError,
        match=r"^Flatten transformation was passed a value of type Decimal which is not "
        r"supported by Connect's data API \(for field d\)\.$",
    ):
        t.apply(sink({"d": decimal.Decimal(1)}))


def test_wrong_value_types() -> None:
    t = configured(FlattenValue, {})
    with pytest.raises(
        DataError,
        match=r"^Only Map objects supported in absence of schema for \[flattening\], found: str$",
    ):
        t.apply(sink("x"))
    with pytest.raises(
        DataError, match=r"^Only Struct objects supported for \[flattening\], found: dict$"
    ):
        t.apply(sink({"a": 1}, SCHEMA))


def test_colliding_names_are_a_data_error() -> None:
    t = configured(FlattenValue, {})
    schema = (
        SchemaBuilder.struct()
        .field("a.b", Schema.INT32)
        .field("a", SchemaBuilder.struct().field("b", Schema.INT32).build())
        .build()
    )
    with pytest.raises(DataError, match=r"'a\.b'.*already has a field"):
        t.apply(sink(Struct(schema), schema))
