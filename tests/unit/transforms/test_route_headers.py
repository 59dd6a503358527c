"""InsertHeader, DropHeaders and HeaderFrom."""

import datetime as dt
import decimal

import pytest

from kconnect.data.logical import Date, Decimal, Time, Timestamp
from kconnect.data.schema import Schema, SchemaBuilder, Struct
from kconnect.errors import ConfigError, DataError
from kconnect.transforms.header_from import HeaderFromKey, HeaderFromValue
from kconnect.transforms.headers import DropHeaders, InsertHeader
from tests.unit.transforms.fieldhelpers import configured
from tests.unit.transforms.routehelpers import header_list, headers_of, sink, source

# --- InsertHeader ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("literal", "schema", "value"),
    [
        ("hello world", Schema.STRING, "hello world"),
        ("true", Schema.BOOLEAN, True),
        ("false", Schema.BOOLEAN, False),
        ("True", Schema.STRING, "True"),
        ("null", None, None),
        ("42", Schema.INT8, 42),
        ("-129", Schema.INT16, -129),
        ("+70000", Schema.INT32, 70000),
        ("1.0", Schema.INT8, 1),
        ("1e3", Schema.INT16, 1000),
        ("3000000000", Schema.INT64, 3_000_000_000),
        ("2.5", Schema.FLOAT32, 2.5),
        ("-0.1", Schema.FLOAT32, -0.10000000149011612),
        # Integers in value, but with a negative scale: floats, as in Java.
        ("1e30", Schema.FLOAT32, 1.0000000150474662e30),
        ("1e39", Schema.FLOAT64, 1e39),
        ("1.5e300", Schema.FLOAT64, 1.5e300),
        ("99999999999999999999", Decimal.schema(0), decimal.Decimal("99999999999999999999")),
        ("2024-03-05", Date.SCHEMA, dt.date(2024, 3, 5)),
        ("07:08:09.045Z", Time.SCHEMA, dt.time(7, 8, 9, 45_000)),
        (
            "2024-03-05T07:08:09.045Z",
            Timestamp.SCHEMA,
            dt.datetime(2024, 3, 5, 7, 8, 9, 45_000, tzinfo=dt.UTC),
        ),
        ("2024-03-05x", Schema.STRING, "2024-03-05x"),
        (".5", Schema.STRING, ".5"),
        ("0x10", Schema.STRING, "0x10"),
        ("[1,2]", Schema.STRING, "[1,2]"),
        ("", Schema.STRING, ""),
    ],
)
def test_insert_header_parses_the_literal(
    literal: str, schema: Schema | None, value: object
) -> None:
    inserter = configured(InsertHeader, {"header": "h", "value.literal": literal})
    record = source("v", schema=Schema.STRING, key="k", topic="t", timestamp=3)
    inserted = inserter.apply(record)
    assert header_list(inserted.headers) == [("h", schema, value)]
    assert (inserted.topic, inserted.key, inserted.value, inserted.timestamp) == ("t", "k", "v", 3)


def test_insert_header_appends_and_leaves_the_original_alone() -> None:
    inserter = configured(InsertHeader, {"header": "h", "value.literal": "2"})
    original = headers_of(("h", Schema.STRING, "1"), ("other", None, None))
    record = sink("v", headers=original)
    inserted = inserter.apply(record)
    assert header_list(inserted.headers) == [
        ("h", Schema.STRING, "1"),
        ("other", None, None),
        ("h", Schema.INT8, 2),
    ]
    assert header_list(record.headers) == [("h", Schema.STRING, "1"), ("other", None, None)]
    assert inserted.kafka_offset == 99


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"value.literal": "x"}, "missing required key 'header'"),
        ({"header": "h"}, "missing required key 'value.literal'"),
    ],
)
def test_insert_header_bad_config_names_the_key(props: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        InsertHeader().configure(props)


# --- DropHeaders -----------------------------------------------------------------------------


def test_drop_headers_removes_every_header_of_the_names() -> None:
    dropper = configured(DropHeaders, {"headers": "a, c"})
    original = headers_of(("a", None, 1), ("b", None, 2), ("c", None, 3), ("a", None, 4))
    record = source("v", headers=original)
    dropped = dropper.apply(record)
    assert header_list(dropped.headers) == [("b", None, 2)]
    assert len(record.headers) == 4
    assert dropped.value == "v"


def test_drop_headers_on_a_record_without_headers() -> None:
    dropped = configured(DropHeaders, {"headers": "a"}).apply(source(None))
    assert header_list(dropped.headers) == []
    assert dropped.value is None


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({}, "missing required key 'headers'"),
        ({"headers": " , "}, "invalid value ' , ' for key 'headers': expected a comma-separated"),
    ],
)
def test_drop_headers_bad_config_names_the_key(props: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        DropHeaders().configure(props)


# --- HeaderFrom ------------------------------------------------------------------------------

OPTIONAL_WITH_DEFAULT = SchemaBuilder.string().optional().default_value("dflt").build()
SCHEMA = (
    SchemaBuilder.struct()
    .name("com.example.Order")
    .version(2)
    .optional()
    .field("id", Schema.INT64)
    .field("region", OPTIONAL_WITH_DEFAULT)
    .field("amount", Schema.FLOAT64)
    .build()
)


def order(region: str | None = "eu") -> Struct:
    return Struct(SCHEMA).put("id", 7).put("region", region).put("amount", 2.5)


def header_from(cls: type, operation: str, **extra: str) -> object:
    props = {"fields": "id,region", "headers": "order-id, order-region", "operation": operation}
    props.update({k.replace("_", "."): v for k, v in extra.items()})
    return configured(cls, props)


def test_copy_with_schema() -> None:
    record = source(order(), schema=SCHEMA, headers=headers_of(("x", None, 0)))
    copied = header_from(HeaderFromValue, "copy").apply(record)
    assert copied.value is record.value
    assert copied.value_schema is SCHEMA
    assert header_list(copied.headers) == [
        ("x", None, 0),
        ("order-id", Schema.INT64, 7),
        ("order-region", OPTIONAL_WITH_DEFAULT, "eu"),
    ]
    assert header_list(record.headers) == [("x", None, 0)]


def test_move_with_schema() -> None:
    moved = header_from(HeaderFromValue, "move").apply(source(order(), schema=SCHEMA))
    # As Java's copySchemaBasics: name and version kept, optionality not.
    expected_schema = (
        SchemaBuilder.struct()
        .name("com.example.Order")
        .version(2)
        .field("amount", Schema.FLOAT64)
        .build()
    )
    assert moved.value_schema == expected_schema
    assert moved.value == Struct(expected_schema).put("amount", 2.5)
    assert header_list(moved.headers) == [
        ("order-id", Schema.INT64, 7),
        ("order-region", OPTIONAL_WITH_DEFAULT, "eu"),
    ]


@pytest.mark.parametrize(("replace", "expected"), [("true", "dflt"), ("false", None)])
def test_null_field_with_default(replace: str, expected: object) -> None:
    transform = header_from(HeaderFromValue, "copy", replace_null_with_default=replace)
    copied = transform.apply(source(order(region=None), schema=SCHEMA))
    assert copied.headers.last("order-region").value == expected


@pytest.mark.parametrize(("replace", "expected"), [("true", "dflt"), ("false", None)])
def test_move_keeps_null_fields_as_configured(replace: str, expected: object) -> None:
    transform = configured(
        HeaderFromValue,
        {
            "fields": "id",
            "headers": "id",
            "operation": "move",
            "replace.null.with.default": replace,
        },
    )
    moved = transform.apply(source(order(region=None), schema=SCHEMA))
    assert moved.value.get_without_default("region") == expected


def test_copy_and_move_schemaless() -> None:
    value = {"id": 7, "region": "eu", "amount": 2.5}
    copied = header_from(HeaderFromValue, "copy").apply(source(value))
    assert copied.value == value
    assert copied.value is not value
    assert header_list(copied.headers) == [("order-id", None, 7), ("order-region", None, "eu")]
    moved = header_from(HeaderFromValue, "move").apply(source(value))
    assert moved.value == {"amount": 2.5}
    assert moved.value_schema is None
    assert header_list(moved.headers) == header_list(copied.headers)
    assert value == {"id": 7, "region": "eu", "amount": 2.5}


def test_schemaless_missing_field_gives_a_null_header() -> None:
    moved = header_from(HeaderFromValue, "move").apply(source({"id": 1}))
    assert moved.value == {}
    assert header_list(moved.headers) == [("order-id", None, 1), ("order-region", None, None)]


def test_key_variant() -> None:
    record = sink("v", schema=Schema.STRING, key=order(), key_schema=SCHEMA, timestamp=4)
    moved = header_from(HeaderFromKey, "move").apply(record)
    assert moved.key.get("amount") == 2.5
    assert moved.key_schema.field("id") is None
    assert (moved.value, moved.value_schema, moved.timestamp) == ("v", Schema.STRING, 4)
    assert moved.headers.last("order-id").value == 7
    schemaless = header_from(HeaderFromKey, "copy").apply(sink("v", key={"id": 3}))
    assert schemaless.key == {"id": 3}
    assert header_list(schemaless.headers) == [("order-id", None, 3), ("order-region", None, None)]


def test_field_not_in_the_schema() -> None:
    transform = configured(HeaderFromValue, {"fields": "nope", "headers": "h", "operation": "copy"})
    with pytest.raises(
        DataError,
        match=r"Field 'nope' \(for header 'h'\) is not in the schema of the record's value; "
        r"its fields are: id, region, amount",
    ):
        transform.apply(source(order(), schema=SCHEMA))


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (
            source(None, schema=SCHEMA),
            r"Only Struct objects supported for \[header move\], "
            r"found: null",
        ),
        (
            source(None),
            r"Only Map objects supported in absence of schema for \[header move\], "
            r"found: null",
        ),
        (
            source("text"),
            r"Only Map objects supported in absence of schema for \[header move\], "
            r"found: str",
        ),
    ],
)
def test_wrong_input(record: object, message: str) -> None:
    with pytest.raises(DataError, match=message):
        header_from(HeaderFromValue, "move").apply(record)


@pytest.mark.parametrize(
    ("props", "message"),
    [
        (
            {"fields": "a,b", "headers": "x", "operation": "copy"},
            "'fields' config must have the same number of elements as 'headers' config",
        ),
        (
            {"fields": "a", "headers": "x", "operation": "swap"},
            "invalid value 'swap' for key 'operation': expected 'move' or 'copy'",
        ),
        ({"fields": "a", "headers": "x"}, "missing required key 'operation'"),
        ({"fields": "", "headers": "x", "operation": "copy"}, "invalid value '' for key 'fields'"),
        (
            {"fields": "a", "headers": ",", "operation": "copy"},
            "invalid value ',' for key 'headers'",
        ),
    ],
)
def test_header_from_bad_config_names_the_key(props: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        HeaderFromValue().configure(props)
    assert message in str(raised.value)
