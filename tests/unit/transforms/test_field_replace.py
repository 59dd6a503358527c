import logging

import pytest

from kconnect.data.schema import Schema, SchemaBuilder, Struct
from kconnect.errors import ConfigError, DataError
from kconnect.transforms.replace_field import ReplaceFieldKey, ReplaceFieldValue
from tests.unit.transforms.fieldhelpers import applied, configured, sink

SCHEMA = (
    SchemaBuilder.struct()
    .name("row")
    .field("dont", Schema.INT32)
    .field("abc", Schema.INT32)
    .field("foo", Schema.STRING)
    .field("etc", Schema.OPTIONAL_STRING)
    .build()
)
MAP = {"dont": 1, "abc": 2, "foo": "x", "etc": "y"}


def row() -> Struct:
    return Struct(SCHEMA).put("dont", 1).put("abc", 2).put("foo", "x").put("etc", "y")


def test_schemaless_exclude_and_rename() -> None:
    t = configured(ReplaceFieldValue, {"exclude": "dont", "renames": "abc:xyz,foo:bar"})
    assert applied(t, sink(MAP)).value == {"xyz": 2, "bar": "x", "etc": "y"}


def test_schemaless_include_keeps_only_those() -> None:
    t = configured(ReplaceFieldValue, {"include": "abc,foo", "renames": "abc:xyz"})
    assert applied(t, sink(MAP)).value == {"xyz": 2, "foo": "x"}


def test_exclude_takes_precedence_over_include() -> None:
    t = configured(ReplaceFieldValue, {"include": "abc,foo", "exclude": "foo"})
    assert applied(t, sink(MAP)).value == {"abc": 2}


def test_with_schema() -> None:
    t = configured(ReplaceFieldValue, {"exclude": "dont", "renames": "abc:xyz,foo:bar"})
    out = applied(t, sink(row(), SCHEMA))
    expected = (
        SchemaBuilder.struct()
        .name("row")
        .field("xyz", Schema.INT32)
        .field("bar", Schema.STRING)
        .field("etc", Schema.OPTIONAL_STRING)
        .build()
    )
    assert out.value_schema == expected
    assert out.value == Struct(expected).put("xyz", 2).put("bar", "x").put("etc", "y")


def test_renames_can_swap_names() -> None:
    t = configured(ReplaceFieldValue, {"include": "abc,dont", "renames": "abc:dont,dont:abc"})
    out = applied(t, sink(row(), SCHEMA))
    assert isinstance(out.value, Struct)
    assert [f.name for f in out.value.schema.fields] == ["abc", "dont"]
    assert out.value.get("abc") == 1
    assert out.value.get("dont") == 2


def test_key_variant() -> None:
    t = configured(ReplaceFieldKey, {"include": "abc"})
    out = applied(t, sink("v", key=row(), key_schema=SCHEMA))
    expected = SchemaBuilder.struct().name("row").field("abc", Schema.INT32).build()
    assert out.key_schema == expected
    assert out.key == Struct(expected).put("abc", 2)
    assert out.value == "v"


@pytest.mark.parametrize("cls", [ReplaceFieldKey, ReplaceFieldValue])
def test_tombstones_pass_through(cls: type[ReplaceFieldValue]) -> None:
    record = sink(None, SCHEMA, key=None, key_schema=SCHEMA)
    assert configured(cls, {"exclude": "dont"}).apply(record) is record


def test_replace_null_with_default_false_keeps_nulls() -> None:
    schema = (
        SchemaBuilder.struct()
        .field("n", SchemaBuilder.string().optional().default_value("d").build())
        .build()
    )
    kept = applied(
        configured(ReplaceFieldValue, {"renames": "n:m", "replace.null.with.default": "false"}),
        sink(Struct(schema), schema),
    ).value
    replaced = applied(
        configured(ReplaceFieldValue, {"renames": "n:m"}), sink(Struct(schema), schema)
    ).value
    assert isinstance(kept, Struct)
    assert isinstance(replaced, Struct)
    assert kept.get_without_default("m") is None
    assert replaced.get_without_default("m") == "d"


def test_deprecated_keys_still_work(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        t = configured(ReplaceFieldValue, {"blacklist": "dont", "whitelist": "dont,abc"})
    assert applied(t, sink(MAP)).value == {"abc": 2}
    assert "'blacklist' is deprecated; use 'exclude' instead" in caplog.text
    newer = configured(ReplaceFieldValue, {"exclude": "abc", "blacklist": "dont"})
    assert applied(newer, sink(MAP)).value == {"dont": 1, "foo": "x", "etc": "y"}


def test_wrong_value_types_are_data_errors() -> None:
    t = configured(ReplaceFieldValue, {"exclude": "dont"})
    with pytest.raises(
        DataError,
        match=r"^Only Map objects supported in absence of schema for \[field replacement\], "
        r"found: list$",
    ):
        t.apply(sink([1, 2]))
    with pytest.raises(
        DataError, match=r"^Only Struct objects supported for \[field replacement\], found: int$"
    ):
        t.apply(sink(5, Schema.INT32))


def test_renaming_onto_an_existing_field_is_a_data_error() -> None:
    t = configured(ReplaceFieldValue, {"renames": "abc:foo"})
    with pytest.raises(
        DataError, match=r"^cannot add field 'foo': the struct already has a field so named$"
    ):
        t.apply(sink(row(), SCHEMA))


@pytest.mark.parametrize("renames", ["abc", "abc:", ":xyz", "a:b:c"])
def test_bad_rename_names_the_key_and_the_mapping(renames: str) -> None:
    with pytest.raises(
        ConfigError,
        match=rf"^invalid value '{renames}' for key 'renames': Invalid rename mapping: {renames};",
    ):
        configured(ReplaceFieldValue, {"renames": renames})
