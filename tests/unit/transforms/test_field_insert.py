import datetime as dt

import pytest

from kconnect.data.logical import Timestamp
from kconnect.data.schema import Schema, SchemaBuilder, Struct
from kconnect.errors import ConfigError, DataError
from kconnect.transforms.insert_field import InsertFieldKey, InsertFieldValue
from tests.unit.transforms.fieldhelpers import applied, configured, sink, source

ALL = {
    "topic.field": "topic!",
    "partition.field": "partition",
    "offset.field": "offset?",
    "timestamp.field": "ts",
    "static.field": "source",
    "static.value": "db1",
}

VALUE_SCHEMA = (
    SchemaBuilder.struct()
    .name("order")
    .version(2)
    .doc("an order")
    .field("id", Schema.INT32)
    .build()
)


def test_schemaless_value_gets_every_field() -> None:
    t = configured(InsertFieldValue, ALL)
    out = applied(t, sink({"id": 7}, key="k"))
    assert out.value == {
        "id": 7,
        "topic": "orders",
        "partition": 3,
        "offset": 42,
        "ts": 1_700_000_000_123,
        "source": "db1",
    }
    assert out.value_schema is None
    assert out.key == "k"


def test_schema_value_gets_fields_and_a_derived_schema() -> None:
    t = configured(InsertFieldValue, ALL)
    value = Struct(VALUE_SCHEMA).put("id", 7)
    out = applied(t, sink(value, VALUE_SCHEMA))
    expected_schema = (
        SchemaBuilder.struct()
        .name("order")
        .version(2)
        .doc("an order")
        .field("id", Schema.INT32)
        .field("topic", Schema.STRING)
        .field("partition", Schema.OPTIONAL_INT32)
        .field("offset", Schema.OPTIONAL_INT64)
        .field("ts", Timestamp.builder().optional().build())
        .field("source", Schema.OPTIONAL_STRING)
        .build()
    )
    assert out.value_schema == expected_schema
    assert isinstance(out.value, Struct)
    assert out.value == (
        Struct(expected_schema)
        .put("id", 7)
        .put("topic", "orders")
        .put("partition", 3)
        .put("offset", 42)
        .put("ts", dt.datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=dt.UTC))
        .put("source", "db1")
    )


def test_derived_schema_is_cached_per_input_schema() -> None:
    t = configured(InsertFieldValue, {"topic.field": "topic"})
    first = applied(t, sink(Struct(VALUE_SCHEMA).put("id", 1), VALUE_SCHEMA))
    second = applied(t, sink(Struct(VALUE_SCHEMA).put("id", 2), VALUE_SCHEMA))
    assert first.value_schema is second.value_schema


def test_key_variant_changes_only_the_key() -> None:
    t = configured(InsertFieldKey, {"topic.field": "t", "static.field": "s", "static.value": "v"})
    out = applied(t, sink({"v": 1}, key={"id": 1}))
    assert out.key == {"id": 1, "t": "orders", "s": "v"}
    assert out.value == {"v": 1}


@pytest.mark.parametrize("cls", [InsertFieldKey, InsertFieldValue])
def test_tombstones_pass_through(cls: type[InsertFieldValue]) -> None:
    t = configured(cls, {"topic.field": "topic"})
    record = sink(None, Schema.OPTIONAL_STRING, key=None)
    assert t.apply(record) is record


def test_missing_partition_and_timestamp_are_left_out() -> None:
    t = configured(InsertFieldValue, {"partition.field": "p", "timestamp.field": "ts"})
    out = applied(t, source({"a": 1}))
    assert out.value == {"a": 1}
    with_schema = applied(
        t, source(Struct(VALUE_SCHEMA).put("id", 1), VALUE_SCHEMA, kafka_partition=None)
    )
    assert isinstance(with_schema.value, Struct)
    assert with_schema.value.get("p") is None
    assert with_schema.value.get("ts") is None


def test_offset_needs_a_sink_record() -> None:
    t = configured(InsertFieldValue, {"offset.field": "offset"})
    with pytest.raises(
        DataError, match=r"^Only SinkRecord supported for \[field insertion\], found: SourceRecord$"
    ):
        t.apply(source({"a": 1}))


def test_wrong_value_types_are_data_errors() -> None:
    t = configured(InsertFieldValue, {"topic.field": "topic"})
    with pytest.raises(
        DataError,
        match=r"Only Map objects supported in absence of schema for \[field insertion\], "
        r"found: str",
    ):
        t.apply(sink("text"))
    with pytest.raises(
        DataError, match=r"Only Struct objects supported for \[field insertion\], found: dict"
    ):
        t.apply(sink({"a": 1}, VALUE_SCHEMA))


def test_inserting_an_existing_field_is_a_data_error() -> None:
    t = configured(InsertFieldValue, {"topic.field": "id"})
    with pytest.raises(
        DataError, match=r"^cannot add field 'id': the struct already has a field so named$"
    ):
        t.apply(sink(Struct(VALUE_SCHEMA).put("id", 1), VALUE_SCHEMA))


def test_replace_null_with_default() -> None:
    schema = (
        SchemaBuilder.struct()
        .field("n", SchemaBuilder.int32().optional().default_value(5).build())
        .build()
    )
    value = Struct(schema)  # n unset: null, with a default of 5
    replacing = configured(InsertFieldValue, {"topic.field": "t"})
    keeping = configured(
        InsertFieldValue, {"topic.field": "t", "replace.null.with.default": "false"}
    )
    replaced = applied(replacing, sink(value, schema)).value
    kept = applied(keeping, sink(value, schema)).value
    assert isinstance(replaced, Struct)
    assert isinstance(kept, Struct)
    assert replaced.get_without_default("n") == 5
    assert kept.get_without_default("n") is None


def test_config_needs_something_to_insert() -> None:
    with pytest.raises(ConfigError, match="No field insertion configured"):
        configured(InsertFieldValue, {})


def test_static_field_needs_a_value() -> None:
    with pytest.raises(
        ConfigError,
        match=r"for key 'static\.value': No value specified for static field: source",
    ):
        configured(InsertFieldValue, {"static.field": "source"})


def test_a_suffix_alone_is_not_a_field_name() -> None:
    with pytest.raises(ConfigError, match=r"invalid value '!' for key 'topic\.field'"):
        configured(InsertFieldValue, {"topic.field": "!"})


def test_bad_boolean_names_the_key() -> None:
    with pytest.raises(
        ConfigError, match=r"invalid value 'maybe' for key 'replace\.null\.with\.default'"
    ):
        configured(InsertFieldValue, {"topic.field": "t", "replace.null.with.default": "maybe"})


# --- the derived schema is planned once per input schema --------------------------------------

OTHER_SCHEMA = (
    SchemaBuilder.struct()
    .field("name", Schema.STRING)
    .field("n", SchemaBuilder.int64().optional().default_value(9).build())
    .build()
)


def inserted(schema: Schema, static_field: str = "origin") -> Schema:
    """What `schema` becomes with a topic field and an optional static field, built here."""
    builder = SchemaBuilder.struct()
    if schema.name is not None:
        builder.name(schema.name)
    if schema.version is not None:
        builder.version(schema.version)
    if schema.doc is not None:
        builder.doc(schema.doc)
    for f in schema.fields:
        builder.field(f.name, f.schema)
    return builder.field("t", Schema.STRING).field(static_field, Schema.OPTIONAL_STRING).build()


def test_each_input_schema_gets_its_own_derived_schema_and_values() -> None:
    t = configured(
        InsertFieldValue, {"topic.field": "t!", "static.field": "origin", "static.value": "db"}
    )
    first = Struct(VALUE_SCHEMA).put("id", 1)
    other = Struct(OTHER_SCHEMA).put("name", "x")  # n null, with a default of 9
    for value in (first, other, first, other):
        out = applied(t, sink(value, value.schema))
        expected = inserted(value.schema)
        assert out.value_schema == expected
        reference = Struct(expected).put("t", "orders").put("origin", "db")
        for f in value.schema.fields:
            reference.put(f.name, value.get(f))
        assert out.value == reference
        assert isinstance(out.value, Struct)
        assert out.value.schema is out.value_schema
        out.value.validate()


def test_an_equal_input_schema_shares_the_derived_schema() -> None:
    t = configured(InsertFieldValue, {"static.field": "origin", "static.value": "db"})
    rebuilt = SchemaBuilder.struct().name("order").version(2).doc("an order")
    equal_schema = rebuilt.field("id", Schema.INT32).build()
    assert equal_schema == VALUE_SCHEMA
    assert equal_schema is not VALUE_SCHEMA
    first = applied(t, sink(Struct(VALUE_SCHEMA).put("id", 1), VALUE_SCHEMA))
    applied(t, sink(Struct(OTHER_SCHEMA).put("name", "x"), OTHER_SCHEMA))
    second = applied(t, sink(Struct(equal_schema).put("id", 2), equal_schema))
    assert second.value_schema is first.value_schema


def test_defaults_are_read_only_from_schemas_that_have_them() -> None:
    t = configured(InsertFieldValue, {"static.field": "origin", "static.value": "db"})
    with_default = applied(t, sink(Struct(OTHER_SCHEMA).put("name", "x"), OTHER_SCHEMA)).value
    without = applied(t, sink(Struct(VALUE_SCHEMA).put("id", 1), VALUE_SCHEMA)).value
    assert isinstance(with_default, Struct)
    assert isinstance(without, Struct)
    assert with_default.get_without_default("n") == 9
    assert without.get_without_default("id") == 1


def test_the_input_struct_and_record_are_left_alone() -> None:
    t = configured(InsertFieldValue, {"static.field": "origin", "static.value": "db"})
    value = Struct(VALUE_SCHEMA).put("id", 1)
    record = sink(value, VALUE_SCHEMA)
    out = applied(t, record)
    assert isinstance(out.value, Struct)
    out.value.put("id", 2)
    assert value.get("id") == 1
    assert record.value is value
    assert record.value_schema is VALUE_SCHEMA


def test_fields_from_the_record_are_read_per_record() -> None:
    t = configured(
        InsertFieldValue,
        {
            "offset.field": "offset",
            "timestamp.field": "ts",
            "static.field": "s",
            "static.value": "v",
        },
    )
    value = Struct(VALUE_SCHEMA).put("id", 1)
    first = applied(t, sink(value, VALUE_SCHEMA)).value
    second = applied(t, sink(value, VALUE_SCHEMA, timestamp=None)).value
    assert isinstance(first, Struct)
    assert isinstance(second, Struct)
    assert [v for _, v in first.values()] == [
        1,
        42,
        dt.datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=dt.UTC),
        "v",
    ]
    assert [v for _, v in second.values()] == [1, 42, None, "v"]


def test_configuring_again_forgets_the_derived_schema() -> None:
    t = configured(InsertFieldValue, {"static.field": "origin", "static.value": "db"})
    applied(t, sink(Struct(VALUE_SCHEMA).put("id", 1), VALUE_SCHEMA))
    t.configure({"static.field": "source", "static.value": "db2"})
    out = applied(t, sink(Struct(VALUE_SCHEMA).put("id", 1), VALUE_SCHEMA))
    assert isinstance(out.value, Struct)
    assert [f.name for f in out.value.schema.fields] == ["id", "source"]
    assert out.value.get("source") == "db2"
