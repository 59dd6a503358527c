import pytest

from kconnect.data.schema import Schema, SchemaBuilder, Struct
from kconnect.errors import ConfigError, DataError
from kconnect.transforms.set_schema_metadata import (
    SetSchemaMetadataKey,
    SetSchemaMetadataValue,
)
from tests.unit.transforms.fieldhelpers import configured
from tests.unit.transforms.routehelpers import sink, source


def value_setter(props: dict[str, str]) -> SetSchemaMetadataValue:
    setter: SetSchemaMetadataValue = configured(SetSchemaMetadataValue, props)
    return setter


def test_name_update() -> None:
    record = sink(None, schema=SchemaBuilder.struct().build())
    updated = value_setter({"schema.name": "foo"}).apply(record)
    assert updated.value_schema == SchemaBuilder.struct().name("foo").build()
    assert updated.value is None


def test_version_update_keeps_the_name() -> None:
    schema = SchemaBuilder.int32().name("bar").doc("d").optional().default_value(3).build()
    updated = value_setter({"schema.version": "42"}).apply(sink(7, schema=schema))
    expected = SchemaBuilder.int32().name("bar").doc("d").optional().default_value(3).version(42)
    assert updated.value_schema == expected.build()
    assert updated.value == 7


def test_name_and_version_update_with_struct() -> None:
    schema = (
        SchemaBuilder.struct()
        .name("my.orig.SchemaDefn")
        .version(1)
        .field("f1", Schema.STRING)
        .field("f2", Schema.INT32)
        .build()
    )
    value = Struct(schema).put("f1", "value1").put("f2", 1)
    updated = value_setter({"schema.name": "foo", "schema.version": "42"}).apply(
        source(value, schema=schema, key="k", timestamp=9)
    )
    new_schema = updated.value_schema
    assert (new_schema.name, new_schema.version) == ("foo", 42)
    assert new_schema.fields == schema.fields
    # The struct now carries the new schema, with the same values.
    assert updated.value.schema is new_schema
    assert updated.value == Struct(new_schema).put("f1", "value1").put("f2", 1)
    assert (updated.key, updated.timestamp) == ("k", 9)
    assert value.schema is schema


@pytest.mark.parametrize(("replace", "expected"), [("false", None), ("true", "default")])
def test_null_field_with_default(replace: str, expected: object) -> None:
    optional_with_default = SchemaBuilder.string().default_value("default").optional().build()
    schema = (
        SchemaBuilder.struct()
        .name("my.orig.SchemaDefn")
        .field("f1", optional_with_default)
        .field("f2", Schema.INT32)
        .build()
    )
    value = Struct(schema).put("f1", None).put("f2", 1)
    setter = value_setter(
        {"schema.name": "foo", "schema.version": "42", "replace.null.with.default": replace}
    )
    updated = setter.apply(sink(value, schema=schema))
    assert updated.value.get_without_default("f1") == expected
    assert updated.value.schema is updated.value_schema


def test_map_and_array_schemas_keep_their_element_schemas() -> None:
    map_schema = SchemaBuilder.map(Schema.STRING, Schema.INT64).build()
    updated = value_setter({"schema.name": "m"}).apply(sink({"a": 1}, schema=map_schema))
    assert updated.value_schema == SchemaBuilder.map(Schema.STRING, Schema.INT64).name("m").build()
    assert updated.value == {"a": 1}
    array_schema = SchemaBuilder.array(Schema.STRING).build()
    updated = value_setter({"schema.name": "a"}).apply(sink(["x"], schema=array_schema))
    assert updated.value_schema == SchemaBuilder.array(Schema.STRING).name("a").build()


def test_value_schema_required() -> None:
    with pytest.raises(DataError, match=r"Schema required for \[updating schema metadata\]"):
        value_setter({"schema.name": "foo"}).apply(sink(42))


def test_record_with_null_value_and_no_schema_passes_unchanged() -> None:
    record = sink(None)
    assert value_setter({"schema.name": "foo"}).apply(record) is record


def test_key() -> None:
    schema = SchemaBuilder.struct().name("k").field("id", Schema.INT64).build()
    setter: SetSchemaMetadataKey = configured(SetSchemaMetadataKey, {"schema.name": "key.v2"})
    record = source("v", schema=Schema.STRING, key=Struct(schema).put("id", 5), key_schema=schema)
    updated = setter.apply(record)
    assert updated.key_schema.name == "key.v2"
    assert updated.key.schema is updated.key_schema
    assert updated.key.get("id") == 5
    assert (updated.value, updated.value_schema) == ("v", Schema.STRING)


def test_key_schema_required() -> None:
    setter: SetSchemaMetadataKey = configured(SetSchemaMetadataKey, {"schema.version": "1"})
    with pytest.raises(DataError, match=r"Schema required for \[updating schema metadata\]"):
        setter.apply(source("v", key="k"))


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({}, "Neither schema name nor version configured: set 'schema.name', 'schema.version'"),
        ({"schema.version": "two"}, "invalid value 'two' for key 'schema.version'"),
    ],
)
def test_bad_config_names_the_key(props: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        SetSchemaMetadataValue().configure(props)
    assert message in str(raised.value)
