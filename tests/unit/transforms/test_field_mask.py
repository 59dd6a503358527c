import datetime as dt
import decimal

import pytest

from kconnect.data.logical import Date, Decimal, Time, Timestamp
from kconnect.data.schema import Schema, SchemaBuilder, Struct
from kconnect.errors import ConfigError, DataError
from kconnect.transforms.mask_field import MaskFieldKey, MaskFieldValue
from tests.unit.transforms.fieldhelpers import applied, configured, sink

SCHEMA = (
    SchemaBuilder.struct()
    .field("magic", Schema.INT32)
    .field("bool", Schema.BOOLEAN)
    .field("byte", Schema.INT8)
    .field("short", Schema.INT16)
    .field("int", Schema.INT32)
    .field("long", Schema.INT64)
    .field("float", Schema.FLOAT32)
    .field("double", Schema.FLOAT64)
    .field("string", Schema.STRING)
    .field("date", Date.SCHEMA)
    .field("time", Time.SCHEMA)
    .field("timestamp", Timestamp.SCHEMA)
    .field("decimal", Decimal.schema(2))
    .field("array", SchemaBuilder.array(Schema.INT32).build())
    .field("map", SchemaBuilder.map(Schema.STRING, Schema.STRING).build())
    .field("bytes", Schema.OPTIONAL_BYTES)
    .field("null", Schema.OPTIONAL_STRING)
    .build()
)
MASKABLE = [f.name for f in SCHEMA.fields if f.name not in ("magic", "bytes")]


def full_struct() -> Struct:
    return (
        Struct(SCHEMA)
        .put("magic", 42)
        .put("bool", True)
        .put("byte", 42)
        .put("short", 42)
        .put("int", 42)
        .put("long", 42)
        .put("float", 42.5)
        .put("double", 42.5)
        .put("string", "55.121.20.20")
        .put("date", dt.date(2024, 2, 29))
        .put("time", dt.time(13, 14, 15))
        .put("timestamp", dt.datetime(2024, 2, 29, 13, 14, 15, tzinfo=dt.UTC))
        .put("decimal", decimal.Decimal("42.10"))
        .put("array", [1, 2, 3])
        .put("map", {"what": "what"})
        .put("bytes", b"\x01")
    )


def test_with_schema_every_type_gets_its_empty_value() -> None:
    t = configured(MaskFieldValue, {"fields": ",".join(MASKABLE)})
    out = applied(t, sink(full_struct(), SCHEMA))
    assert out.value_schema is SCHEMA
    assert out.value == (
        Struct(SCHEMA)
        .put("magic", 42)
        .put("bool", False)
        .put("byte", 0)
        .put("short", 0)
        .put("int", 0)
        .put("long", 0)
        .put("float", 0.0)
        .put("double", 0.0)
        .put("string", "")
        .put("date", dt.date(1970, 1, 1))
        .put("time", dt.time(0, 0))
        .put("timestamp", dt.datetime(1970, 1, 1, tzinfo=dt.UTC))
        .put("decimal", decimal.Decimal(0))
        .put("array", [])
        .put("map", {})
        .put("bytes", b"\x01")
    )


def test_schemaless_values_are_masked_by_their_python_type() -> None:
    t = configured(MaskFieldValue, {"fields": "bool,int,float,string,dec,date,list,map,none,gone"})
    value = {
        "magic": 42,
        "bool": True,
        "int": 42,
        "float": 42.0,
        "string": "secret",
        "dec": decimal.Decimal("4.2"),
        "date": dt.datetime(2024, 1, 1, 12, 0, tzinfo=dt.UTC),
        "list": [42],
        "map": {"key": "value"},
        "none": None,
    }
    assert applied(t, sink(value)).value == {
        "magic": 42,
        "bool": False,
        "int": 0,
        "float": 0.0,
        "string": "",
        "dec": decimal.Decimal(0),
        "date": dt.datetime(1970, 1, 1, tzinfo=dt.UTC),
        "list": [],
        "map": {},
        "none": None,
        # As in Kafka Connect, a listed field the map lacks is added as null.
        "gone": None,
    }


@pytest.mark.parametrize(
    ("field", "replacement", "expected"),
    [
        ("byte", "123", 123),
        ("short", "-123", -123),
        ("int", "123", 123),
        ("long", "9223372036854775807", 9223372036854775807),
        ("float", "123.5", 123.5),
        ("double", "1e3", 1000.0),
        ("string", "***-**-****", "***-**-****"),
        ("decimal", "123.45", decimal.Decimal("123.45")),
    ],
)
def test_replacement_with_schema(field: str, replacement: str, expected: object) -> None:
    t = configured(MaskFieldValue, {"fields": field, "replacement": replacement})
    out = applied(t, sink(full_struct(), SCHEMA)).value
    assert isinstance(out, Struct)
    assert out.get(field) == expected
    assert out.get("magic") == 42


def test_replacement_schemaless() -> None:
    t = configured(MaskFieldValue, {"fields": "int,float,string,dec", "replacement": "123"})
    value = {"int": 5, "float": 5.5, "string": "abc", "dec": decimal.Decimal(1), "other": 1}
    assert applied(t, sink(value)).value == {
        "int": 123,
        "float": 123.0,
        "string": "123",
        "dec": decimal.Decimal(123),
        "other": 1,
    }


@pytest.mark.parametrize(
    ("field", "replacement", "message"),
    [
        (
            "byte",
            "300",
            r"Cannot mask field 'byte' of type int8 with replacement '300': "
            r"expected an integer in \[-128, 127\]",
        ),
        (
            "int",
            "foo",
            r"Cannot mask field 'int' of type int32 with replacement 'foo': "
            r"expected an integer",
        ),
        (
            "double",
            "foo",
            r"Cannot mask field 'double' of type float64 with replacement 'foo': "
            r"expected a number",
        ),
        (
            "decimal",
            "NaN",
            r"Cannot mask field 'decimal' of type decimal .*: "
            r"expected a finite decimal number",
        ),
        (
            "bool",
            "true",
            r"Cannot mask field 'bool' of type boolean with replacement 'true': "
            r"only numeric and string fields can take a replacement",
        ),
        ("timestamp", "0", r"of type timestamp .*only numeric and string fields"),
        ("array", "0", r"of type array .*only numeric and string fields"),
    ],
)
def test_replacement_that_does_not_fit_the_type(field: str, replacement: str, message: str) -> None:
    t = configured(MaskFieldValue, {"fields": field, "replacement": replacement})
    with pytest.raises(DataError, match=message):
        t.apply(sink(full_struct(), SCHEMA))


def test_bytes_have_no_empty_value() -> None:
    t = configured(MaskFieldValue, {"fields": "bytes"})
    with pytest.raises(DataError, match=r"^Cannot mask value of type bytes \(field 'bytes'\)"):
        t.apply(sink(full_struct(), SCHEMA))


def test_null_fields_stay_null_and_keep_defaults_per_config() -> None:
    schema = (
        SchemaBuilder.struct()
        .field("n", SchemaBuilder.string().optional().default_value("d").build())
        .build()
    )
    masked = applied(configured(MaskFieldValue, {"fields": "n"}), sink(Struct(schema), schema))
    kept = applied(
        configured(MaskFieldValue, {"fields": "n", "replace.null.with.default": "false"}),
        sink(Struct(schema), schema),
    )
    assert isinstance(masked.value, Struct)
    assert isinstance(kept.value, Struct)
    # The default is the value, and then it is masked.
    assert masked.value.get_without_default("n") == ""
    assert kept.value.get_without_default("n") is None


def test_key_variant() -> None:
    t = configured(MaskFieldKey, {"fields": "ssn"})
    out = applied(t, sink({"ssn": "x"}, key={"ssn": "123", "id": 1}))
    assert out.key == {"ssn": "", "id": 1}
    assert out.value == {"ssn": "x"}


def test_a_null_value_is_not_a_map() -> None:
    t = configured(MaskFieldValue, {"fields": "ssn"})
    with pytest.raises(
        DataError,
        match=r"^Only Map objects supported in absence of schema for \[mask fields\], found: null$",
    ):
        t.apply(sink(None))
    with pytest.raises(
        DataError, match=r"^Only Struct objects supported for \[mask fields\], found: str$"
    ):
        t.apply(sink("x", Schema.STRING))


def test_config_errors_name_the_key() -> None:
    with pytest.raises(ConfigError, match=r"^missing required key 'fields'$"):
        configured(MaskFieldValue, {})
    with pytest.raises(
        ConfigError,
        match=r"^invalid value ' , ' for key 'fields': expected a non-empty list of field names$",
    ):
        configured(MaskFieldValue, {"fields": " , "})
    with pytest.raises(ConfigError, match=r"invalid value ' ' for key 'replacement'"):
        configured(MaskFieldValue, {"fields": "a", "replacement": " "})


# --- the masks are planned once per struct schema ---------------------------------------------

USER = (
    SchemaBuilder.struct()
    .field("id", Schema.INT64)
    .field("email", Schema.STRING)
    .field("note", Schema.OPTIONAL_STRING)
    .build()
)
# The masked field elsewhere, and with a default.
MOVED = (
    SchemaBuilder.struct()
    .field("note", Schema.OPTIONAL_STRING)
    .field("id", Schema.INT64)
    .field("email", SchemaBuilder.string().optional().default_value("d").build())
    .build()
)


def test_each_struct_schema_gets_its_own_plan() -> None:
    t = configured(MaskFieldValue, {"fields": "email,note"})
    user = Struct(USER).put("id", 1).put("email", "a@b").put("note", "n")
    moved = Struct(MOVED).put("id", 2).put("note", "m")  # email null, with a default
    for value in (user, moved, user, moved):
        out = applied(t, sink(value, value.schema))
        assert isinstance(out.value, Struct)
        assert out.value_schema is value.schema
        assert out.value.schema is value.schema
        assert out.value.get("email") == ""
        assert out.value.get("note") == ""
        assert out.value.get("id") == value.get("id")
        out.value.validate()


def test_an_equal_struct_schema_is_masked_the_same() -> None:
    t = configured(MaskFieldValue, {"fields": "email", "replacement": "***"})
    equal_schema = (
        SchemaBuilder.struct()
        .field("id", Schema.INT64)
        .field("email", Schema.STRING)
        .field("note", Schema.OPTIONAL_STRING)
        .build()
    )
    assert equal_schema == USER
    assert equal_schema is not USER
    applied(t, sink(Struct(USER).put("id", 1).put("email", "a@b"), USER))
    out = applied(t, sink(Struct(equal_schema).put("id", 2).put("email", "c@d"), equal_schema))
    assert isinstance(out.value, Struct)
    assert out.value.schema is equal_schema
    assert out.value.get("email") == "***"


def test_empty_arrays_and_maps_are_new_for_each_record() -> None:
    t = configured(MaskFieldValue, {"fields": "array,map"})
    first = applied(t, sink(full_struct(), SCHEMA)).value
    second = applied(t, sink(full_struct(), SCHEMA)).value
    assert isinstance(first, Struct)
    assert isinstance(second, Struct)
    first_array = first.get("array")
    assert isinstance(first_array, list)
    first_array.append(1)
    assert second.get("array") == []
    assert second.get("map") == {}
    assert first.get("map") is not second.get("map")


def test_a_field_without_a_mask_fails_each_record_that_has_a_value() -> None:
    t = configured(MaskFieldValue, {"fields": "bytes"})
    unset = full_struct().put("bytes", None)
    assert applied(t, sink(unset, SCHEMA)).value == unset
    for _ in range(2):
        with pytest.raises(DataError, match=r"^Cannot mask value of type bytes"):
            t.apply(sink(full_struct(), SCHEMA))
    assert applied(t, sink(unset, SCHEMA)).value == unset


def test_a_replacement_that_does_not_fit_fails_only_records_with_a_value() -> None:
    t = configured(MaskFieldValue, {"fields": "note", "replacement": "abc"})
    moved = Struct(MOVED).put("id", 2).put("email", "e")
    assert applied(t, sink(moved, MOVED)).value == moved
    int_note = SchemaBuilder.struct().field("note", Schema.OPTIONAL_INT32).build()
    assert applied(t, sink(Struct(int_note), int_note)).value == Struct(int_note)
    for _ in range(2):
        with pytest.raises(DataError, match=r"^Cannot mask field 'note' of type int32"):
            t.apply(sink(Struct(int_note).put("note", 5), int_note))


def test_the_input_struct_is_left_alone() -> None:
    t = configured(MaskFieldValue, {"fields": "email"})
    value = Struct(USER).put("id", 1).put("email", "a@b")
    out = applied(t, sink(value, USER))
    assert value.get("email") == "a@b"
    assert isinstance(out.value, Struct)
    out.value.put("id", 2)
    assert value.get("id") == 1


def test_configuring_again_forgets_the_plan() -> None:
    t = configured(MaskFieldValue, {"fields": "email"})
    value = Struct(USER).put("id", 1).put("email", "a@b").put("note", "n")
    applied(t, sink(value, USER))
    t.configure({"fields": "note"})
    out = applied(t, sink(value, USER))
    assert isinstance(out.value, Struct)
    assert (out.value.get("email"), out.value.get("note")) == ("a@b", "")
