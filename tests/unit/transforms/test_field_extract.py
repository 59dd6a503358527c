import pytest

from kconnect.data.schema import Schema, SchemaBuilder, Struct
from kconnect.errors import ConfigError, DataError
from kconnect.transforms.extract_field import (
    ExtractFieldKey,
    ExtractFieldValue,
    FieldSyntaxVersion,
    parse_field_path,
)
from tests.unit.transforms.fieldhelpers import applied, configured, sink

INNER = (
    SchemaBuilder.struct()
    .optional()
    .field("city", Schema.STRING)
    .field("zip", SchemaBuilder.string().optional().default_value("00000").build())
    .build()
)
SCHEMA = (
    SchemaBuilder.struct()
    .field("magic", Schema.INT32)
    .field("address", INNER)
    .field("dotted.name", Schema.STRING)
    .build()
)


def value() -> Struct:
    return (
        Struct(SCHEMA)
        .put("magic", 42)
        .put("address", Struct(INNER).put("city", "Oslo"))
        .put("dotted.name", "dots")
    )


def test_schemaless_key() -> None:
    t = configured(ExtractFieldKey, {"field": "magic"})
    out = applied(t, sink("v", key={"magic": 42}))
    assert out.key == 42
    assert out.key_schema is None
    assert out.value == "v"


def test_schemaless_missing_field_is_null() -> None:
    t = configured(ExtractFieldValue, {"field": "nope"})
    assert applied(t, sink({"magic": 42})).value is None


def test_with_schema() -> None:
    t = configured(ExtractFieldValue, {"field": "magic"})
    out = applied(t, sink(value(), SCHEMA))
    assert out.value == 42
    assert out.value_schema == Schema.INT32


def test_v1_reads_dots_as_part_of_the_name() -> None:
    t = configured(ExtractFieldValue, {"field": "dotted.name"})
    assert applied(t, sink(value(), SCHEMA)).value == "dots"
    assert applied(t, sink({"dotted.name": 1, "dotted": {"name": 2}})).value == 1


def test_v2_nested_paths_with_schema() -> None:
    t = configured(ExtractFieldValue, {"field": "address.city", "field.syntax.version": "v2"})
    out = applied(t, sink(value(), SCHEMA))
    assert out.value == "Oslo"
    assert out.value_schema == Schema.STRING
    quoted = configured(ExtractFieldValue, {"field": "`dotted.name`", "field.syntax.version": "V2"})
    assert applied(quoted, sink(value(), SCHEMA)).value == "dots"


def test_v2_nested_paths_schemaless() -> None:
    t = configured(ExtractFieldValue, {"field": "a.`b.c`.d", "field.syntax.version": "V2"})
    assert applied(t, sink({"a": {"b.c": {"d": 7}}})).value == 7
    assert applied(t, sink({"a": None})).value is None
    assert applied(t, sink({"x": 1})).value is None
    with pytest.raises(
        DataError,
        match=r"^Only Map objects supported in absence of schema for \[nested field access\], "
        r"found: int$",
    ):
        t.apply(sink({"a": 5}))


def test_v2_null_parent_struct_gives_null() -> None:
    t = configured(ExtractFieldValue, {"field": "address.city", "field.syntax.version": "V2"})
    row = Struct(SCHEMA).put("magic", 1).put("dotted.name", "x")
    out = applied(t, sink(row, SCHEMA))
    assert out.value is None
    assert out.value_schema == Schema.STRING


def test_replace_null_with_default() -> None:
    props = {"field": "address.zip", "field.syntax.version": "V2"}
    replaced = configured(ExtractFieldValue, props)
    kept = configured(ExtractFieldValue, {**props, "replace.null.with.default": "false"})
    assert applied(replaced, sink(value(), SCHEMA)).value == "00000"
    assert applied(kept, sink(value(), SCHEMA)).value is None


@pytest.mark.parametrize("cls", [ExtractFieldKey, ExtractFieldValue])
def test_null_passes_through_with_the_field_schema(cls: type[ExtractFieldValue]) -> None:
    t = configured(cls, {"field": "magic"})
    out = applied(t, sink(None, SCHEMA, key=None, key_schema=SCHEMA))
    assert (out.key, out.value) == (None, None)
    schemaless = applied(t, sink(None, key=None))
    assert (schemaless.key, schemaless.value) == (None, None)


def test_unknown_field_with_schema() -> None:
    t = configured(ExtractFieldValue, {"field": "address.nope", "field.syntax.version": "V2"})
    with pytest.raises(DataError, match=r"^Unknown field: address\.nope$"):
        t.apply(sink(value(), SCHEMA))


def test_wrong_value_types() -> None:
    t = configured(ExtractFieldValue, {"field": "magic"})
    with pytest.raises(
        DataError,
        match=r"^Only Map objects supported in absence of schema for \[field extraction\], "
        r"found: list$",
    ):
        t.apply(sink([1]))
    with pytest.raises(
        DataError, match=r"^Only Struct objects supported for \[field extraction\], found: dict$"
    ):
        t.apply(sink({"magic": 1}, SCHEMA))


@pytest.mark.parametrize(
    ("path", "steps"),
    [
        ("foo", ("foo",)),
        ("foo.bar", ("foo", "bar")),
        ("`foo.bar`.baz", ("foo.bar", "baz")),
        ("foo.`bar.baz`", ("foo", "bar.baz")),
        ("`foo\\`.bar`.baz", ("foo`.bar", "baz")),
        ("`foo`bar`.baz", ("foo`bar", "baz")),
        ("foo.", ("foo", "")),
        ("foo..bar", ("foo", "", "bar")),
        ("``", ("",)),
    ],
)
def test_v2_path_syntax(path: str, steps: tuple[str, ...]) -> None:
    assert parse_field_path(path, FieldSyntaxVersion.V2) == steps
    assert parse_field_path(path, FieldSyntaxVersion.V1) == (path,)


@pytest.mark.parametrize(("path", "position"), [("`foo.bar", 0), ("a.`b\\`", 2)])
def test_incomplete_backticks_are_a_config_error_on_field(path: str, position: int) -> None:
    with pytest.raises(
        ConfigError,
        match=rf"^invalid value .* for key 'field': Incomplete backtick pair in path: "
        rf"\[.*\], consider adding a backslash before backtick at position {position} to "
        r"escape it$",
    ):
        configured(ExtractFieldValue, {"field": path, "field.syntax.version": "V2"})
    # V1 reads the same text as a plain name.
    configured(ExtractFieldValue, {"field": path})


def test_bad_syntax_version_names_the_key() -> None:
    with pytest.raises(
        ConfigError,
        match=r"^invalid value 'V3' for key 'field\.syntax\.version': expected one of V1, V2",
    ):
        configured(ExtractFieldValue, {"field": "a", "field.syntax.version": "V3"})
