import pytest

from kconnect.data.schema import Schema, SchemaBuilder, Struct
from kconnect.errors import ConfigError, DataError
from kconnect.transforms.value_to_key import ValueToKey
from tests.unit.transforms.fieldhelpers import applied, configured, sink, source

SCHEMA = (
    SchemaBuilder.struct()
    .field("a", Schema.INT32)
    .field("b", Schema.INT32)
    .field("c", SchemaBuilder.string().optional().default_value("dflt").build())
    .build()
)


def test_schemaless() -> None:
    t = configured(ValueToKey, {"fields": "b,a,missing"})
    out = applied(t, sink({"a": 1, "b": 2, "c": 3}, key="old"))
    assert out.key == {"b": 2, "a": 1, "missing": None}
    assert list(out.key) == ["b", "a", "missing"]
    assert out.key_schema is None
    assert out.value == {"a": 1, "b": 2, "c": 3}


def test_with_schema() -> None:
    t = configured(ValueToKey, {"fields": "a,b"})
    value = Struct(SCHEMA).put("a", 1).put("b", 2)
    out = applied(t, source(value, SCHEMA, key="old", key_schema=Schema.STRING))
    expected = SchemaBuilder.struct().field("a", Schema.INT32).field("b", Schema.INT32).build()
    assert out.key_schema == expected
    assert out.key == Struct(expected).put("a", 1).put("b", 2)
    assert out.value is value
    assert out.value_schema is SCHEMA


def test_key_schema_is_cached() -> None:
    t = configured(ValueToKey, {"fields": "a"})
    first = applied(t, sink(Struct(SCHEMA).put("a", 1).put("b", 1), SCHEMA))
    second = applied(t, sink(Struct(SCHEMA).put("a", 2).put("b", 2), SCHEMA))
    assert first.key_schema is second.key_schema


def test_replace_null_with_default() -> None:
    value = Struct(SCHEMA).put("a", 1).put("b", 2)
    replaced = applied(configured(ValueToKey, {"fields": "c"}), sink(value, SCHEMA)).key
    kept = applied(
        configured(ValueToKey, {"fields": "c", "replace.null.with.default": "false"}),
        sink(value, SCHEMA),
    ).key
    assert isinstance(replaced, Struct)
    assert isinstance(kept, Struct)
    assert replaced.get_without_default("c") == "dflt"
    assert kept.get_without_default("c") is None


def test_missing_field_with_schema() -> None:
    t = configured(ValueToKey, {"fields": "a,nope"})
    with pytest.raises(DataError, match=r"^Field does not exist: nope$"):
        t.apply(sink(Struct(SCHEMA).put("a", 1).put("b", 2), SCHEMA))


def test_wrong_values() -> None:
    t = configured(ValueToKey, {"fields": "a"})
    with pytest.raises(
        DataError,
        match=r"^Only Map objects supported in absence of schema for "
        r"\[copying fields from value to key\], found: null$",
    ):
        t.apply(sink(None))
    with pytest.raises(
        DataError,
        match=r"^Only Struct objects supported for \[copying fields from value to key\], "
        r"found: int$",
    ):
        t.apply(sink(3, Schema.INT32))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ("", r"^invalid value '' for key 'fields': expected a non-empty list of field names$"),
        ("a,b,a", r"^invalid value 'a,b,a' for key 'fields': expected each field once, but a "),
    ],
)
def test_config_errors(fields: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        configured(ValueToKey, {"fields": fields})
