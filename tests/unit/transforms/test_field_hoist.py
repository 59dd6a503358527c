import pytest

from kconnect.data.schema import Schema, SchemaBuilder, Struct
from kconnect.errors import ConfigError, DataError
from kconnect.transforms.hoist_field import HoistFieldKey, HoistFieldValue
from tests.unit.transforms.fieldhelpers import applied, configured, sink


def test_schemaless_key() -> None:
    t = configured(HoistFieldKey, {"field": "magic"})
    out = applied(t, sink("v", key=42))
    assert out.key == {"magic": 42}
    assert out.key_schema is None
    assert out.value == "v"


def test_schemaless_null_is_wrapped() -> None:
    t = configured(HoistFieldValue, {"field": "payload"})
    assert applied(t, sink(None)).value == {"payload": None}


def test_with_schema() -> None:
    t = configured(HoistFieldValue, {"field": "magic"})
    out = applied(t, sink(42, Schema.INT32))
    expected = SchemaBuilder.struct().field("magic", Schema.INT32).build()
    assert out.value_schema == expected
    assert out.value == Struct(expected).put("magic", 42)
    again = applied(t, sink(43, Schema.INT32))
    assert again.value_schema is out.value_schema


def test_struct_is_wrapped_whole() -> None:
    inner = SchemaBuilder.struct().field("a", Schema.STRING).build()
    t = configured(HoistFieldKey, {"field": "wrapped"})
    out = applied(t, sink(None, key=Struct(inner).put("a", "x"), key_schema=inner))
    assert isinstance(out.key, Struct)
    assert out.key.get("wrapped") == Struct(inner).put("a", "x")


def test_null_under_optional_schema() -> None:
    t = configured(HoistFieldValue, {"field": "f"})
    out = applied(t, sink(None, Schema.OPTIONAL_STRING))
    assert isinstance(out.value, Struct)
    assert out.value.get("f") is None


def test_null_under_required_schema_is_a_data_error() -> None:
    t = configured(HoistFieldValue, {"field": "f"})
    with pytest.raises(DataError, match="a required string field needs a value"):
        t.apply(sink(None, Schema.STRING))


def test_field_is_required() -> None:
    with pytest.raises(ConfigError, match=r"^missing required key 'field'$"):
        configured(HoistFieldValue, {})
    with pytest.raises(ConfigError, match=r"^invalid value '' for key 'field'"):
        configured(HoistFieldValue, {"field": ""})
