import decimal

import pytest

from kconnect.data.logical import Decimal
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


# --- the wrapping schema is planned once per part schema ---------------------------------------


def test_each_part_schema_gets_its_own_wrapping_schema() -> None:
    t = configured(HoistFieldValue, {"field": "line"})
    cases = [
        ("a", Schema.STRING),
        (7, Schema.INT64),
        ("b", Schema.STRING),
        (None, Schema.OPTIONAL_INT64),
    ]
    for value, schema in cases:
        out = applied(t, sink(value, schema))
        expected = SchemaBuilder.struct().field("line", schema).build()
        assert out.value_schema == expected
        assert out.value == Struct(expected).put("line", value)


@pytest.mark.parametrize(
    ("value", "schema", "message"),
    [
        (7, Schema.STRING, "schema string expects a str"),
        ("7", Schema.INT64, "schema int64 expects an int"),
        (2**31, Schema.INT32, r"expects an int in \[-2147483648, 2147483647\]"),
        (1, Schema.BOOLEAN, "schema boolean expects a bool"),
        ("x", Schema.FLOAT64, "schema float64 expects a float"),
        ("x", Schema.BYTES, "schema bytes expects bytes"),
        (b"\x01", Decimal.schema(2), r"expects a finite decimal\.Decimal"),
        (None, Schema.BOOLEAN, "a required boolean field needs a value"),
    ],
)
def test_a_part_that_does_not_fit_its_schema_is_a_data_error(
    value: object, schema: Schema, message: str
) -> None:
    t = configured(HoistFieldValue, {"field": "f"})
    # The second time, the schema has been met and its plan is reused: still checked.
    for _ in range(2):
        with pytest.raises(DataError, match=message):
            t.apply(sink(value, schema))


@pytest.mark.parametrize(
    ("value", "schema"),
    [
        ("x", Schema.STRING),
        (True, Schema.BOOLEAN),
        (1.5, Schema.FLOAT32),
        (2, Schema.FLOAT64),
        (b"\x01", Schema.BYTES),
        (bytearray(b"\x01"), Schema.BYTES),
        (decimal.Decimal("1.25"), Decimal.schema(2)),
        (None, Schema.OPTIONAL_STRING),
    ],
)
def test_a_part_that_fits_its_schema_is_wrapped(value: object, schema: Schema) -> None:
    t = configured(HoistFieldValue, {"field": "f"})
    for _ in range(2):
        out = applied(t, sink(value, schema))
        assert isinstance(out.value, Struct)
        assert out.value.get_without_default("f") is value
        out.value.validate()


def test_configuring_again_forgets_the_wrapping_schema() -> None:
    t = configured(HoistFieldValue, {"field": "a"})
    applied(t, sink("x", Schema.STRING))
    t.configure({"field": "b"})
    out = applied(t, sink("x", Schema.STRING))
    assert out.value_schema == SchemaBuilder.struct().field("b", Schema.STRING).build()
