"""TimestampConverter$Key and TimestampConverter$Value: convert a timestamp between representations.

The same keys and behaviour as Kafka Connect's `org.apache.kafka.connect.transforms.
TimestampConverter`. A timestamp is the whole key or value (`field` empty) or one field of a
struct or map. It can be a formatted string, a Unix time (INT64), or a Connect `Date`, `Time` or
`Timestamp`; `target.type` picks the representation it becomes. Every conversion passes through
milliseconds since the epoch in UTC, as Java's passes through `java.util.Date`, so:

- sub-millisecond precision is lost (`unix.precision=microseconds` reads 1500 µs as 1 ms, and
  writes 1 ms as 1000 µs); Unix times are divided toward zero and multiplied with saturation at
  the INT64 limits, as Java's `TimeUnit` does;
- `Date` keeps the UTC day (the time of day is dropped), `Time` keeps the UTC time of day (the
  date becomes 1970-01-01).

With a schema, the source representation comes from the schema: the `Date`, `Time` and
`Timestamp` logical types, else STRING is a formatted string and INT64 a Unix time; any other
schema is a `DataError`. The converted part gets the target's schema, optional if the original
was. In field mode the struct's schema is rebuilt with the field's new schema (name, version,
doc, parameters, optionality and a converted default kept); rebuilt schemas are cached per
source schema. Without a schema, the source representation is inferred from the Python value:
`str`, `int`, `datetime.datetime`, `datetime.date` or `datetime.time`.

A null key or value stays null (with the target's optional schema for a whole-value
conversion). In field mode a null field stays null, or becomes the field's default first when
`replace.null.with.default` is true (the default), as in Java. A missing field of a schemaless
map is added as null, as Java's `HashMap.put` does.

Errors are `DataError`s naming what was found and what was expected: a value of the wrong type
for its schema, a string that doesn't match `format`, a part that isn't a struct or map in field
mode. Bad keys are `ConfigError`s naming the key.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, TypeVar

from pydantic import Field, ValidationInfo, field_validator

from kconnect.api.records import ConnectRecord
from kconnect.api.transform import TransformConfig
from kconnect.data.logical import Date, Time, Timestamp
from kconnect.data.schema import (
    DATE_NAME,
    TIME_NAME,
    TIMESTAMP_NAME,
    Schema,
    SchemaBuilder,
    Struct,
    Type,
)
from kconnect.errors import DataError
from kconnect.transforms._datefmt import DateFormat, PatternError, compile_pattern
from kconnect.transforms._part import (
    Part,
    PartTransformation,
    ReplaceNullWithDefault,
    SchemaUpdateCache,
    copy_schema_basics,
    field_value,
    require_map,
    require_struct_or_null,
)

R = TypeVar("R", bound=ConnectRecord)

PURPOSE = "converting timestamp formats"

TargetType = Literal["string", "unix", "Date", "Time", "Timestamp"]
UnixPrecision = Literal["seconds", "milliseconds", "microseconds", "nanoseconds"]

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_MS_PER_DAY = 86_400_000
_EPOCH_DATE = _dt.date(1970, 1, 1)
_OPTIONAL_DATE = Date.builder().optional().build()
_OPTIONAL_TIME = Time.builder().optional().build()
_OPTIONAL_TIMESTAMP = Timestamp.builder().optional().build()


class TimestampConverterConfig(TransformConfig):
    field_name: str = Field(
        "",
        alias="field",
        description="The field containing the timestamp, or empty if the entire value is a "
        "timestamp",
        json_schema_extra={"importance": "HIGH"},
    )
    target_type: TargetType = Field(
        alias="target.type",
        description="The desired timestamp representation: string, unix, Date, Time, or Timestamp",
        json_schema_extra={"importance": "HIGH"},
    )
    format: str = Field(
        "",
        alias="format",
        validate_default=True,
        description="A SimpleDateFormat-compatible format for the timestamp. Used to generate "
        "the output when type=string or used to parse the input if the input is a string.",
        json_schema_extra={"importance": "MEDIUM"},
    )
    unix_precision: UnixPrecision = Field(
        "milliseconds",
        alias="unix.precision",
        description="The desired Unix precision for the timestamp: seconds, milliseconds, "
        "microseconds, or nanoseconds. Used to generate the output when type=unix or used to "
        "parse the input if the input is a Long. Note: This SMT will cause precision loss "
        "during conversions from, and to, values with sub-millisecond components.",
        json_schema_extra={"importance": "LOW"},
    )
    replace_null_with_default: ReplaceNullWithDefault = True

    @field_validator("format")
    @classmethod
    def _compiles(cls, value: str, info: ValidationInfo) -> str:
        if not value:
            if info.data.get("target_type") == "string":
                raise ValueError(
                    "a format is required when 'target.type' is string: expected a "
                    "SimpleDateFormat pattern such as yyyy-MM-dd'T'HH:mm:ss.SSSX"
                )
            return value
        try:
            compile_pattern(value)
        except PatternError as e:
            raise ValueError(f"expected a SimpleDateFormat-compatible pattern: {e}") from None
        return value


@dataclass(frozen=True)
class Conversion:
    """What a configured converter does to one timestamp, independent of records."""

    target: TargetType
    fmt: DateFormat | None
    precision: UnixPrecision

    def convert(self, value: object, source: TargetType | None) -> object:
        """`value` (of representation `source`, inferred when None) in the target one."""
        if value is None:
            return None
        kind = source if source is not None else infer_type(value)
        return self.from_millis(self.to_millis(value, kind))

    def to_millis(self, value: object, kind: TargetType) -> int:
        if kind == "string":
            if not isinstance(value, str):
                raise DataError(
                    f"Expected string timestamp to be a String, but found {_type_name(value)}"
                )
            if self.fmt is None:
                raise DataError(
                    f"Could not parse timestamp {value!r}: a string timestamp needs the "
                    "'format' key, and it is not set"
                )
            try:
                return self.fmt.parse(value)
            except PatternError as e:
                raise DataError(f"Could not parse timestamp: {e}") from None
        if kind == "unix":
            if not isinstance(value, int) or isinstance(value, bool):
                raise DataError(
                    f"Expected Unix timestamp to be a Long, but found {_type_name(value)}"
                )
            return _unix_to_millis(value, self.precision)
        if kind == "Date":
            if not isinstance(value, _dt.date):
                raise DataError(
                    f"Expected Date to be a datetime.date, but found {_type_name(value)}"
                )
            if isinstance(value, _dt.datetime):
                return Timestamp.from_logical(Timestamp.SCHEMA, value)
            return (value - _EPOCH_DATE).days * _MS_PER_DAY
        if kind == "Time":
            if not isinstance(value, _dt.time):
                raise DataError(
                    f"Expected Time to be a datetime.time, but found {_type_name(value)}"
                )
            return Time.from_logical(Time.SCHEMA, value)
        if not isinstance(value, _dt.datetime):
            raise DataError(
                f"Expected Timestamp to be a datetime.datetime, but found {_type_name(value)}"
            )
        return Timestamp.from_logical(Timestamp.SCHEMA, value)

    def from_millis(self, millis: int) -> object:
        target = self.target
        if target == "string":
            assert self.fmt is not None  # the config requires a format for string
            try:
                return self.fmt.format(millis)
            except PatternError as e:
                raise DataError(f"Could not format timestamp: {e}") from None
        if target == "unix":
            return _millis_to_unix(millis, self.precision)
        if target == "Date":
            try:
                return _EPOCH_DATE + _dt.timedelta(days=millis // _MS_PER_DAY)
            except OverflowError:
                raise DataError(
                    f"Could not convert timestamp {millis} ms to a Date: outside the years 1 "
                    "to 9999"
                ) from None
        if target == "Time":
            return Time.to_logical(Time.SCHEMA, millis % _MS_PER_DAY)
        return Timestamp.to_logical(Timestamp.SCHEMA, millis)


def infer_type(value: object) -> TargetType:
    """The representation of a schemaless timestamp, from its Python type."""
    if isinstance(value, _dt.datetime):
        return "Timestamp"
    if isinstance(value, _dt.date):
        return "Date"
    if isinstance(value, _dt.time):
        return "Time"
    if isinstance(value, int) and not isinstance(value, bool):
        return "unix"
    if isinstance(value, str):
        return "string"
    raise DataError(
        f"TimestampConverter does not support {_type_name(value)} objects as timestamps"
    )


def type_from_schema(schema: Schema) -> TargetType:
    """The representation a schema says its values have."""
    if schema.name == TIMESTAMP_NAME:
        return "Timestamp"
    if schema.name == DATE_NAME:
        return "Date"
    if schema.name == TIME_NAME:
        return "Time"
    if schema.type is Type.STRING:
        return "string"
    if schema.type is Type.INT64:
        return "unix"
    raise DataError(f"Schema {schema!r} does not correspond to a known timestamp type format")


def target_schema(target: TargetType, optional: bool) -> Schema:
    if target == "string":
        return Schema.OPTIONAL_STRING if optional else Schema.STRING
    if target == "unix":
        return Schema.OPTIONAL_INT64 if optional else Schema.INT64
    if target == "Date":
        return _OPTIONAL_DATE if optional else Date.SCHEMA
    if target == "Time":
        return _OPTIONAL_TIME if optional else Time.SCHEMA
    return _OPTIONAL_TIMESTAMP if optional else Timestamp.SCHEMA


def _saturate(value: int) -> int:
    return max(_INT64_MIN, min(_INT64_MAX, value))


def _div_toward_zero(value: int, divisor: int) -> int:
    return value // divisor if value >= 0 else -(-value // divisor)


_UNITS_PER_MILLI: dict[str, int] = {"microseconds": 1000, "nanoseconds": 1_000_000}


def _unix_to_millis(value: int, precision: UnixPrecision) -> int:
    if precision == "seconds":
        return _saturate(value * 1000)
    if precision == "milliseconds":
        return value
    return _div_toward_zero(value, _UNITS_PER_MILLI[precision])


def _millis_to_unix(millis: int, precision: UnixPrecision) -> int:
    if precision == "seconds":
        return _div_toward_zero(millis, 1000)
    if precision == "milliseconds":
        return millis
    return _saturate(millis * _UNITS_PER_MILLI[precision])


def _type_name(value: object) -> str:
    return type(value).__name__


class TimestampConverter(PartTransformation[R]):
    """Convert the timestamp in the key (`$Key`) or value (`$Value`) of each record."""

    config_model = TimestampConverterConfig

    def __init__(self) -> None:
        self._field = ""
        self._replace_null_with_default = True
        self._conversion = Conversion("Timestamp", None, "milliseconds")
        self._schemas = SchemaUpdateCache()

    def configure(self, configs: Mapping[str, str]) -> None:
        config = TimestampConverterConfig.parse(configs)
        self._field = config.field_name
        self._replace_null_with_default = config.replace_null_with_default
        fmt = compile_pattern(config.format) if config.format else None
        self._conversion = Conversion(config.target_type, fmt, config.unix_precision)
        self._schemas = SchemaUpdateCache()

    def apply(self, record: R) -> R:
        schema = self.operating_schema(record)
        if schema is None:
            return self._apply_schemaless(record)
        return self._apply_with_schema(record, schema)

    def _apply_schemaless(self, record: R) -> R:
        raw = self.operating_value(record)
        if raw is None or not self._field:
            return self.new_part(record, None, self._conversion.convert(raw, None))
        value = require_map(raw, PURPOSE)
        updated = dict(value)
        updated[self._field] = self._conversion.convert(value.get(self._field), None)
        return self.new_part(record, None, updated)

    def _apply_with_schema(self, record: R, schema: Schema) -> R:
        conversion = self._conversion
        if not self._field:
            source = type_from_schema(schema)
            converted = conversion.convert(self.operating_value(record), source)
            return self.new_part(
                record, target_schema(conversion.target, schema.optional), converted
            )
        value = require_struct_or_null(self.operating_value(record), PURPOSE)
        updated_schema = self._schemas.get_or_build(schema, self._updated_schema)
        return self.new_part(record, updated_schema, self._updated_struct(value, updated_schema))

    def _updated_schema(self, schema: Schema) -> Schema:
        """The struct schema with the field's schema replaced by the target's."""
        builder = copy_schema_basics(schema, SchemaBuilder.struct())
        for f in schema.fields:
            if f.name == self._field:
                builder.field(f.name, target_schema(self._conversion.target, f.schema.optional))
            else:
                builder.field(f.name, f.schema)
        if schema.optional:
            builder.optional()
        if schema.default is not None:
            default = self._updated_struct(
                require_struct_or_null(schema.default, PURPOSE), builder.build()
            )
            builder.default_value(default)
        return builder.build()

    def _updated_struct(self, value: Struct | None, updated_schema: Schema) -> Struct | None:
        if value is None:
            return None
        updated = Struct(updated_schema)
        for f in value.schema.fields:
            v = field_value(value, f, self._replace_null_with_default)
            if f.name == self._field:
                v = self._conversion.convert(v, type_from_schema(f.schema))
            updated.put(f.name, v)
        return updated


class TimestampConverterKey(TimestampConverter[R]):
    """`TimestampConverter$Key`: convert the record key or a field of it."""

    part = Part.KEY


class TimestampConverterValue(TimestampConverter[R]):
    """`TimestampConverter$Value`: convert the record value or a field of it."""

    part = Part.VALUE
