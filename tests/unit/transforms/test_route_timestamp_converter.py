import datetime as dt

import pytest

from kconnect.data.logical import Date, Time, Timestamp
from kconnect.data.schema import Schema, SchemaBuilder, Struct
from kconnect.errors import ConfigError, DataError
from kconnect.transforms.timestamp_converter import (
    TimestampConverterKey,
    TimestampConverterValue,
)
from tests.unit.transforms.fieldhelpers import configured
from tests.unit.transforms.routehelpers import sink, source

# 1970-01-02T00:00:01.234Z, as Kafka Connect's own tests use it.
UNIX = 86_401_234
TIMESTAMP = dt.datetime(1970, 1, 2, 0, 0, 1, 234_000, tzinfo=dt.UTC)
DATE = dt.date(1970, 1, 2)
TIME = dt.time(0, 0, 1, 234_000)
STRING_FORMAT = "yyyy MM dd HH mm ss SSS z"
STRING = "1970 01 02 00 00 01 234 UTC"

OPTIONAL_DATE = Date.builder().optional().build()
OPTIONAL_TIME = Time.builder().optional().build()
OPTIONAL_TIMESTAMP = Timestamp.builder().optional().build()


def value_converter(target: str, **extra: str) -> TimestampConverterValue:
    props = {"target.type": target, **{k.replace("_", "."): v for k, v in extra.items()}}
    converter: TimestampConverterValue = configured(TimestampConverterValue, props)
    return converter


# --- configuration ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({}, "missing required key 'target.type'"),
        (
            {"target.type": "invalid"},
            "invalid value 'invalid' for key 'target.type': expected 'string', 'unix', 'Date', "
            "'Time' or 'Timestamp'",
        ),
        (
            {"target.type": "string"},
            "invalid value '' for key 'format': a format is required when 'target.type' is string",
        ),
        (
            {"target.type": "string", "format": "bad-format"},
            "invalid value 'bad-format' for key 'format': expected a SimpleDateFormat-compatible "
            "pattern: Illegal pattern character 'b'",
        ),
        (
            {"target.type": "unix", "format": "YYYY-MM-dd"},
            "invalid value 'YYYY-MM-dd' for key 'format'",
        ),
        (
            {"target.type": "unix", "unix.precision": "hours"},
            "invalid value 'hours' for key 'unix.precision': expected 'seconds', 'milliseconds', "
            "'microseconds' or 'nanoseconds'",
        ),
        (
            {"target.type": "unix", "replace.null.with.default": "maybe"},
            "invalid value 'maybe' for key 'replace.null.with.default'",
        ),
    ],
)
def test_bad_config_names_the_key(props: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        TimestampConverterValue().configure(props)
    assert message in str(raised.value)


# --- schemaless, whole value -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("Timestamp", TIMESTAMP),
        ("Date", DATE),
        ("Time", TIME),
        ("unix", UNIX),
    ],
)
def test_schemaless_timestamp_to_each_type(target: str, expected: object) -> None:
    transformed = value_converter(target).apply(source(TIMESTAMP))
    assert transformed.value_schema is None
    assert transformed.value == expected


def test_schemaless_timestamp_to_string() -> None:
    transformed = value_converter("string", format=STRING_FORMAT).apply(source(TIMESTAMP))
    assert transformed.value_schema is None
    assert transformed.value == STRING


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (DATE, dt.datetime(1970, 1, 2, tzinfo=dt.UTC)),
        (TIME, dt.datetime(1970, 1, 1, 0, 0, 1, 234_000, tzinfo=dt.UTC)),
        (UNIX, TIMESTAMP),
    ],
)
def test_schemaless_types_to_timestamp(value: object, expected: dt.datetime) -> None:
    assert value_converter("Timestamp").apply(source(value)).value == expected


def test_schemaless_string_to_timestamp() -> None:
    converter = value_converter("Timestamp", format=STRING_FORMAT)
    assert converter.apply(source(STRING)).value == TIMESTAMP


def test_schemaless_null_value_stays_null() -> None:
    transformed = value_converter("unix").apply(source(None))
    assert transformed.value is None
    assert transformed.value_schema is None


def test_schemaless_value_of_unsupported_type() -> None:
    with pytest.raises(
        DataError, match="TimestampConverter does not support float objects as timestamps"
    ):
        value_converter("unix").apply(source(1.5))


# --- with a schema, whole value --------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "schema", "expected"),
    [
        ("Timestamp", Timestamp.SCHEMA, TIMESTAMP),
        ("Date", Date.SCHEMA, DATE),
        ("Time", Time.SCHEMA, TIME),
        ("unix", Schema.INT64, UNIX),
    ],
)
def test_with_schema_timestamp_to_each_type(target: str, schema: Schema, expected: object) -> None:
    transformed = value_converter(target).apply(source(TIMESTAMP, schema=Timestamp.SCHEMA))
    assert transformed.value_schema == schema
    assert transformed.value == expected


def test_with_schema_timestamp_to_string() -> None:
    converter = value_converter("string", format=STRING_FORMAT)
    transformed = converter.apply(source(TIMESTAMP, schema=Timestamp.SCHEMA))
    assert transformed.value_schema == Schema.STRING
    assert transformed.value == STRING


@pytest.mark.parametrize(
    ("schema", "value", "expected"),
    [
        (Date.SCHEMA, DATE, dt.datetime(1970, 1, 2, tzinfo=dt.UTC)),
        (Time.SCHEMA, TIME, dt.datetime(1970, 1, 1, 0, 0, 1, 234_000, tzinfo=dt.UTC)),
        (Schema.INT64, UNIX, TIMESTAMP),
    ],
)
def test_with_schema_types_to_timestamp(schema: Schema, value: object, expected: object) -> None:
    transformed = value_converter("Timestamp").apply(source(value, schema=schema))
    assert transformed.value_schema == Timestamp.SCHEMA
    assert transformed.value == expected


def test_with_schema_string_to_timestamp() -> None:
    converter = value_converter("Timestamp", format=STRING_FORMAT)
    transformed = converter.apply(source(STRING, schema=Schema.STRING))
    assert transformed.value_schema == Timestamp.SCHEMA
    assert transformed.value == TIMESTAMP


@pytest.mark.parametrize(
    ("target", "schema"),
    [
        ("Timestamp", OPTIONAL_TIMESTAMP),
        ("Date", OPTIONAL_DATE),
        ("Time", OPTIONAL_TIME),
        ("unix", Schema.OPTIONAL_INT64),
    ],
)
def test_with_schema_null_value_gets_the_optional_target_schema(
    target: str, schema: Schema
) -> None:
    transformed = value_converter(target).apply(source(None, schema=OPTIONAL_TIMESTAMP))
    assert transformed.value_schema == schema
    assert transformed.value is None


def test_with_schema_string_that_does_not_match_the_format() -> None:
    converter = value_converter("unix", format="yyyy-MM-dd")
    with pytest.raises(
        DataError,
        match=r"Could not parse timestamp: value \(yesterday\) does not match pattern "
        r"\(yyyy-MM-dd\)",
    ):
        converter.apply(source("yesterday", schema=Schema.STRING))


def test_string_input_without_a_format_names_the_key() -> None:
    with pytest.raises(DataError, match="needs the 'format' key"):
        value_converter("unix").apply(source("2024-01-01", schema=Schema.STRING))


def test_schema_that_is_no_timestamp_type() -> None:
    with pytest.raises(DataError, match="does not correspond to a known timestamp type format"):
        value_converter("unix").apply(source(5, schema=Schema.INT32))


def test_value_that_does_not_fit_its_schema() -> None:
    with pytest.raises(DataError, match="Expected Unix timestamp to be a Long, but found str"):
        value_converter("Timestamp").apply(source("5", schema=Schema.INT64))


def test_format_is_applied_in_utc_with_lenient_parsing() -> None:
    converter = value_converter("unix", format="yyyy-MM-dd")
    assert converter.apply(source("2023-03-02")).value == 1_677_715_200_000
    # February 30th rolls over to March 2nd, as in Java's lenient SimpleDateFormat.
    assert converter.apply(source("2023-02-30")).value == 1_677_715_200_000


# --- unix.precision --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("precision", "unix"),
    [
        ("seconds", 86_401),
        ("milliseconds", 86_401_234),
        ("microseconds", 86_401_234_000),
        ("nanoseconds", 86_401_234_000_000),
    ],
)
def test_unix_precision_when_writing(precision: str, unix: int) -> None:
    converter = value_converter("unix", unix_precision=precision)
    assert converter.apply(source(TIMESTAMP, schema=Timestamp.SCHEMA)).value == unix


@pytest.mark.parametrize(
    ("precision", "unix", "expected"),
    [
        ("seconds", 86_401, dt.datetime(1970, 1, 2, 0, 0, 1, tzinfo=dt.UTC)),
        ("microseconds", 86_401_234_567, TIMESTAMP),
        ("nanoseconds", 86_401_234_567_891, TIMESTAMP),
        # Division truncates toward zero, as Java's TimeUnit does: -1500 µs is -1 ms.
        ("microseconds", -1500, dt.datetime(1969, 12, 31, 23, 59, 59, 999_000, tzinfo=dt.UTC)),
    ],
)
def test_unix_precision_when_reading(precision: str, unix: int, expected: dt.datetime) -> None:
    converter = value_converter("Timestamp", unix_precision=precision)
    assert converter.apply(source(unix, schema=Schema.INT64)).value == expected


def test_unix_to_unix_changes_precision_through_milliseconds() -> None:
    converter = value_converter("unix", unix_precision="nanoseconds")
    # Read as nanoseconds (sub-millisecond digits lost), written as nanoseconds.
    assert converter.apply(source(1_234_567)).value == 1_000_000


# --- a field of the value --------------------------------------------------------------------


def event_schema(ts: Schema = Schema.INT64) -> Schema:
    return (
        SchemaBuilder.struct()
        .name("com.example.Event")
        .version(3)
        .doc("an event")
        .field("ts", ts)
        .field("other", Schema.STRING)
        .build()
    )


def test_with_schema_field_conversion() -> None:
    schema = event_schema()
    original = Struct(schema).put("ts", UNIX).put("other", "test")
    converter = value_converter("Timestamp", field="ts")

    transformed = converter.apply(source(original, schema=schema))

    expected_schema = (
        SchemaBuilder.struct()
        .name("com.example.Event")
        .version(3)
        .doc("an event")
        .field("ts", Timestamp.SCHEMA)
        .field("other", Schema.STRING)
        .build()
    )
    assert transformed.value_schema == expected_schema
    assert transformed.value == Struct(expected_schema).put("ts", TIMESTAMP).put("other", "test")
    assert original.get("ts") == UNIX  # the input record is left alone


def test_with_schema_field_conversion_reuses_the_rebuilt_schema() -> None:
    schema = event_schema()
    converter = value_converter("Date", field="ts")
    first = converter.apply(source(Struct(schema).put("ts", 1).put("other", "b"), schema=schema))
    second = converter.apply(source(Struct(schema).put("ts", 2).put("other", "c"), schema=schema))
    assert first.value_schema is second.value_schema
    assert second.value.get("ts") == dt.date(1970, 1, 1)


def test_with_schema_optional_struct_and_null_value() -> None:
    schema = SchemaBuilder.struct().optional().field("ts", Schema.OPTIONAL_INT64).build()
    transformed = value_converter("Date", field="ts").apply(source(None, schema=schema))
    assert transformed.value is None
    assert transformed.value_schema == (
        SchemaBuilder.struct().optional().field("ts", OPTIONAL_DATE).build()
    )


def test_with_schema_struct_default_is_converted() -> None:
    plain = SchemaBuilder.struct().field("ts", Schema.INT64).build()
    schema = (
        SchemaBuilder.struct()
        .optional()
        .field("ts", Schema.INT64)
        .default_value(Struct(plain).put("ts", UNIX))
        .build()
    )
    transformed = value_converter("Timestamp", field="ts").apply(source(None, schema=schema))
    default = transformed.value_schema.default
    assert isinstance(default, Struct)
    assert default.get("ts") == TIMESTAMP
    assert transformed.value_schema.field("ts").schema == Timestamp.SCHEMA


@pytest.mark.parametrize(("replace", "expected"), [("true", DATE), ("false", None)])
def test_null_field_with_default(replace: str, expected: object) -> None:
    ts = SchemaBuilder.int64().optional().default_value(UNIX).build()
    schema = SchemaBuilder.struct().field("ts", ts).field("n", Schema.INT32).build()
    converter = value_converter("Date", field="ts", replace_null_with_default=replace)
    transformed = converter.apply(source(Struct(schema).put("n", 1), schema=schema))
    assert transformed.value.get_without_default("ts") == expected
    assert transformed.value.get("n") == 1


def test_with_schema_field_mode_needs_a_struct() -> None:
    with pytest.raises(
        DataError,
        match=r"Only Struct objects supported for \[converting timestamp formats\], found: int",
    ):
        value_converter("Date", field="ts").apply(source(UNIX, schema=Schema.INT64))


def test_schemaless_field_conversion() -> None:
    converter = value_converter("Date", field="ts")
    original = {"ts": TIMESTAMP, "other": "x"}
    transformed = converter.apply(source(original))
    assert transformed.value_schema is None
    assert transformed.value == {"ts": DATE, "other": "x"}
    assert original == {"ts": TIMESTAMP, "other": "x"}


def test_schemaless_field_missing_from_the_map_is_added_as_null() -> None:
    transformed = value_converter("Date", field="ts").apply(source({"other": 1}))
    assert transformed.value == {"other": 1, "ts": None}


def test_schemaless_field_mode_with_a_tombstone() -> None:
    transformed = value_converter("Date", field="ts").apply(source(None))
    assert transformed.value is None


def test_schemaless_field_mode_needs_a_map() -> None:
    with pytest.raises(
        DataError,
        match=r"Only Map objects supported in absence of schema for \[converting timestamp "
        r"formats\], found: list",
    ):
        value_converter("Date", field="ts").apply(source([1]))


# --- the key ---------------------------------------------------------------------------------


def test_key_schemaless() -> None:
    converter: TimestampConverterKey = configured(TimestampConverterKey, {"target.type": "unix"})
    record = sink("value", key=TIMESTAMP, timestamp=5)
    transformed = converter.apply(record)
    assert transformed.key == UNIX
    assert transformed.key_schema is None
    assert transformed.value == "value"
    assert transformed.timestamp == 5
    assert transformed.kafka_offset == 99


def test_key_field_with_schema() -> None:
    schema = event_schema()
    converter: TimestampConverterKey = configured(
        TimestampConverterKey,
        {"target.type": "string", "field": "ts", "format": "yyyy-MM-dd'T'HH:mm:ss.SSSX"},
    )
    key = Struct(schema).put("ts", UNIX).put("other", "o")
    transformed = converter.apply(source("v", schema=Schema.STRING, key=key, key_schema=schema))
    assert transformed.key.get("ts") == "1970-01-02T00:00:01.234Z"
    assert transformed.key_schema.field("ts").schema == Schema.STRING
    assert transformed.value == "v"
    assert transformed.value_schema == Schema.STRING
