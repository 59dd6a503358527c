"""Cast: change the type of some fields, or of the whole key or value.

Kafka Connect's `org.apache.kafka.connect.transforms.Cast$Key` and `$Value`, with the keys `spec`
and `replace.null.with.default`. `spec` is either `field:type,...` to cast fields of a struct or
map, or a single `type` to cast a whole primitive key or value. The types are int8, int16,
int32, int64, float32, float64, boolean and string (in any case); values of those types, bytes
and the logical types can be cast from.

The conversions are Java's, so both runtimes give the same output for the same input:
- To an integer type, a number is narrowed as a Java cast narrows it: fractions are truncated,
  out-of-range floats saturate and out-of-range integers wrap (300 as int8 is 44). Booleans are
  1 and 0. Text must be a decimal integer in range, else a `DataError`.
- To a float type, numbers convert (float32 rounds to single precision), booleans are 1.0 and
  0.0, text is parsed (`NaN`, `Infinity` and an `f`/`d` suffix accepted, as `Double.parseDouble`).
- To boolean, a number is true when its integer part is not zero, text is true only when it is
  `true` in any case.
- To string, numbers print as Java prints them (`1.0E10`), booleans as `true`/`false`, bytes as
  base64, decimals as `BigDecimal.toString`, and `Date`/`Time`/`Timestamp` values as Kafka
  Connect's `Values` formats a date: a time (`HH:mm:ss.SSSZ`) when the instant is within the
  first day after the epoch or before it, a date (`yyyy-MM-dd`) at midnight, else a timestamp,
  always in UTC.
- Before a non-string cast, `Date`, `Time` and `Timestamp` values become their Kafka
  representation (days, milliseconds of the day, epoch milliseconds).

Invariants:
- A null key or value (a tombstone) passes through untouched; a null field stays null.
- With a schema, the new schema is derived once per input schema: a cast field gets a fresh
  schema of the target type that keeps the field's optionality and casts its default. A
  whole-value cast keeps the schema's name, version, doc and parameters, except those of a
  logical type, which no longer describe the value.
- Without a schema, the map gets every field of the spec (null for one it didn't have), as in
  Kafka Connect; the Python type of a value decides what it is cast from.
- A spec that is not `field:type` pairs or one type, or names a type that can't be cast to, is a
  `ConfigError` on `spec`; a value of a type that can't be cast from is a `DataError`.
"""

from __future__ import annotations

import base64
import datetime as _dt
import decimal
import math
import re
from collections.abc import Mapping
from typing import TypeVar

from pydantic import Field, field_validator

from kconnect.api.records import ConnectRecord
from kconnect.api.transform import TransformConfig
from kconnect.config.connector import split_list
from kconnect.data._javatext import java_decimal_str, java_double_str, java_float_str, to_float32
from kconnect.data.logical import (
    LOGICAL_NAMES,
    MILLIS_PER_DAY,
    Date,
    Time,
    Timestamp,
)
from kconnect.data.schema import (
    DATE_NAME,
    INT_RANGES,
    TIME_NAME,
    TIMESTAMP_NAME,
    Schema,
    SchemaBuilder,
    Struct,
    Type,
)
from kconnect.data.schema import (
    Field as SchemaField,
)
from kconnect.errors import DataError
from kconnect.transforms._part import (
    Part,
    PartTransformation,
    ReplaceNullWithDefault,
    SchemaUpdateCache,
    copy_schema_basics,
    rebuild_struct,
    require_map,
    require_struct,
)

R = TypeVar("R", bound=ConnectRecord)

PURPOSE = "cast types"

OUTPUT_TYPES: tuple[Type, ...] = (
    Type.INT8,
    Type.INT16,
    Type.INT32,
    Type.INT64,
    Type.FLOAT32,
    Type.FLOAT64,
    Type.BOOLEAN,
    Type.STRING,
)
INPUT_TYPES: frozenset[Type] = frozenset((*OUTPUT_TYPES, Type.BYTES))
_BITS = {Type.INT8: 8, Type.INT16: 16, Type.INT32: 32, Type.INT64: 64}
_JAVA_INTEGER = re.compile(r"[+-]?[0-9]+")
_JAVA_FLOAT = re.compile(
    r"[+-]?(?:NaN|Infinity|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?[fFdD]?)"
)
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)


def _type_names(types: tuple[Type, ...] | frozenset[Type]) -> str:
    return ", ".join(t.value for t in sorted(types, key=lambda t: list(Type).index(t)))


def _target_type(text: str) -> Type:
    name = text.strip().lower()
    try:
        target = Type(name)
    except ValueError:
        raise ValueError(
            f"Invalid type found in casting spec: {text.strip()}; expected one of "
            f"{_type_names(OUTPUT_TYPES)}"
        ) from None
    if target not in OUTPUT_TYPES:
        raise ValueError(
            f"Cast transformation does not support casting to {name}; supported types are "
            f"{_type_names(OUTPUT_TYPES)}"
        )
    return target


def parse_spec(text: str) -> tuple[dict[str, Type], Type | None]:
    """The field casts and the whole-value cast that `spec` asks for; ValueError if wrong."""
    mappings = split_list(text)
    if not mappings:
        raise ValueError("Must specify at least one field to cast.")
    casts: dict[str, Type] = {}
    whole: Type | None = None
    for mapping in mappings:
        parts = mapping.split(":")
        if len(parts) > 2:
            raise ValueError(
                f"Invalid cast mapping: {mapping}; expected field:type or a single type"
            )
        if len(parts) == 1:
            whole = _target_type(parts[0])
        else:
            casts[parts[0].strip()] = _target_type(parts[1])
    if whole is not None and len(mappings) > 1:
        raise ValueError(
            "Cast transformations that specify a type to cast the entire value to may only "
            "specify a single cast in their spec"
        )
    return casts, whole


def _wrap(value: int, bits: int) -> int:
    """Java's narrowing of an integer to `bits` bits: keep the low bits, two's complement."""
    mask = (1 << bits) - 1
    low = value & mask
    return low - (1 << bits) if low >> (bits - 1) else low


def _java_float_to_int(value: float, bits: int) -> int:
    """Java's `(int)` / `(long)` of a double: truncated, NaN is 0, out of range saturates."""
    if math.isnan(value):
        return 0
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    if math.isinf(value):
        return hi if value > 0 else lo
    return max(lo, min(hi, math.trunc(value)))


def _infer_type(value: object) -> Type | None:
    """The Connect type of a schemaless value, or None for one Connect has no type for."""
    if isinstance(value, bool):
        return Type.BOOLEAN
    if isinstance(value, int):
        return Type.INT64
    if isinstance(value, float):
        return Type.FLOAT64
    if isinstance(value, str):
        return Type.STRING
    if isinstance(value, bytes | bytearray | memoryview):
        return Type.BYTES
    if isinstance(value, list | tuple):
        return Type.ARRAY
    if isinstance(value, Mapping):
        return Type.MAP
    if isinstance(value, Struct):
        return Type.STRUCT
    return None


def _encode_logical(schema: Schema, value: object) -> object:
    """A `Date`, `Time` or `Timestamp` value as the integer Kafka stores for it."""
    name = schema.name
    if name == DATE_NAME and isinstance(value, _dt.date):
        return Date.from_logical(schema, value)
    if name == TIME_NAME and isinstance(value, _dt.time):
        return Time.from_logical(schema, value)
    if name == TIMESTAMP_NAME and isinstance(value, _dt.datetime):
        return Timestamp.from_logical(schema, value)
    return value


def _epoch_millis(value: _dt.date | _dt.time) -> int:
    if isinstance(value, _dt.datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=_dt.UTC)
        return (aware - _EPOCH) // _dt.timedelta(milliseconds=1)
    if isinstance(value, _dt.date):
        return (value - _EPOCH.date()).days * MILLIS_PER_DAY
    return Time.from_logical(Time.SCHEMA, value)


def _date_text(value: _dt.date | _dt.time) -> str:
    """Kafka Connect's `Values.dateFormatFor(date).format(date)`, in UTC."""
    millis = _epoch_millis(value)
    instant = _EPOCH + _dt.timedelta(milliseconds=millis)
    if millis < MILLIS_PER_DAY:
        return f"{instant:%H:%M:%S}.{instant.microsecond // 1000:03d}Z"
    if millis % MILLIS_PER_DAY == 0:
        return f"{instant.year:04d}-{instant:%m-%d}"
    return f"{instant.year:04d}-{instant:%m-%dT%H:%M:%S}.{instant.microsecond // 1000:03d}Z"


def _out_of_range(value: str, target: Type) -> DataError:
    if target in _BITS:
        lo, hi = INT_RANGES[target]
        expected = f"a decimal integer in [{lo}, {hi}]"
    else:
        expected = "a number"
    return DataError(
        f"Value ({value}) was out of range for requested data type {target.value}: "
        f"expected {expected}"
    )


def _unexpected(value: object, target: Type) -> DataError:
    return DataError(
        f"Unexpected type in Cast transformation: cannot cast a {type(value).__name__} "
        f"({value!r}) to {target.value}"
    )


def _to_integer(value: object, target: Type) -> int:
    bits = _BITS[target]
    if isinstance(value, bool):
        return 1 if value else 0
    if isinstance(value, int):
        return _wrap(value, bits)
    if isinstance(value, float):
        # (byte) and (short) of a double go through int, as in Java.
        return _wrap(_java_float_to_int(value, max(bits, 32)), bits)
    if isinstance(value, decimal.Decimal):
        return _wrap(_wrap(int(value), max(bits, 32)), bits)
    if isinstance(value, str):
        number = int(value) if _JAVA_INTEGER.fullmatch(value) else None
        if number is None or _wrap(number, bits) != number:
            raise _out_of_range(value, target)
        return number
    raise _unexpected(value, target)


def _to_float(value: object, target: Type) -> float:
    if isinstance(value, bool):
        number = 1.0 if value else 0.0
    elif isinstance(value, int | float | decimal.Decimal):
        try:
            number = float(value)
        except OverflowError:
            number = math.inf if value > 0 else -math.inf
    elif isinstance(value, str):
        text = value.strip()
        if _JAVA_FLOAT.fullmatch(text) is None:
            raise _out_of_range(value, target)
        number = float(text.rstrip("fFdD").replace("Infinity", "inf"))
    else:
        raise _unexpected(value, target)
    if target is Type.FLOAT32:
        try:
            return to_float32(number)
        except OverflowError:
            return math.copysign(math.inf, number)
    return number


def _to_boolean(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return _wrap(value, 64) != 0
    if isinstance(value, float):
        return _java_float_to_int(value, 64) != 0
    if isinstance(value, decimal.Decimal):
        return _wrap(int(value), 64) != 0
    if isinstance(value, str):
        return value.lower() == "true"
    raise _unexpected(value, Type.BOOLEAN)


def _to_string(value: object, source: Type | None) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return java_float_str(value) if source is Type.FLOAT32 else java_double_str(value)
    if isinstance(value, decimal.Decimal):
        return java_decimal_str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, _dt.date | _dt.time):
        return _date_text(value)
    return str(value)


def cast_value(schema: Schema | None, value: object, target: Type) -> object:
    """`value` (of `schema`, or schemaless) cast to `target`, as Kafka Connect's Cast does."""
    if value is None:
        return None
    source = schema.type if schema is not None else _infer_type(value)
    if source is None:
        raise DataError(
            f"Cast transformation was passed a value of type {type(value).__name__} which is "
            "not supported by Connect's data API"
        )
    if source not in INPUT_TYPES:
        raise DataError(
            f"Cast transformation does not support casting from {source.value}; supported "
            f"types are {_type_names(INPUT_TYPES)}"
        )
    if schema is not None and schema.name is not None and target is not Type.STRING:
        value = _encode_logical(schema, value)
    if target in _BITS:
        return _to_integer(value, target)
    if target is Type.FLOAT32 or target is Type.FLOAT64:
        return _to_float(value, target)
    if target is Type.BOOLEAN:
        return _to_boolean(value)
    return _to_string(value, source)


class CastConfig(TransformConfig):
    spec: str = Field(
        alias="spec",
        description=(
            "List of fields and the type to cast them to of the form field1:type,field2:type to "
            "cast fields of Maps or Structs. A single type to cast the entire value. Valid types "
            "are int8, int16, int32, int64, float32, float64, boolean, and string. Note that "
            "binary fields can only be cast to string."
        ),
        json_schema_extra={"importance": "HIGH", "type": "LIST"},
    )
    replace_null_with_default: ReplaceNullWithDefault = True

    @field_validator("spec")
    @classmethod
    def _spec(cls, value: str) -> str:
        parse_spec(value)
        return value


class Cast(PartTransformation[R]):
    """Cast fields, or the whole key or value; see the module docstring."""

    config_model = CastConfig

    def __init__(self) -> None:
        self._casts: dict[str, Type] = {}
        self._whole: Type | None = None
        self._replace_null_with_default = True
        self._schemas = SchemaUpdateCache()

    def configure(self, configs: Mapping[str, str]) -> None:
        config = CastConfig.parse(configs)
        self._casts, self._whole = parse_spec(config.spec)
        self._replace_null_with_default = config.replace_null_with_default
        self._schemas.clear()

    def apply(self, record: R) -> R | None:
        value = self.operating_value(record)
        if value is None:
            return record
        schema = self.operating_schema(record)
        whole = self._whole
        if schema is None:
            if whole is not None:
                return self.new_part(record, None, cast_value(None, value, whole))
            original = require_map(value, PURPOSE)
            updated = dict(original)
            for name, field_type in self._casts.items():
                updated[name] = cast_value(None, original.get(name), field_type)
            return self.new_part(record, None, updated)
        if whole is not None:
            updated_schema = self._schemas.get_or_build(schema, self._updated_schema)
            return self.new_part(record, updated_schema, cast_value(schema, value, whole))
        struct = require_struct(value, PURPOSE)
        updated_schema = self._schemas.get_or_build(schema, self._updated_schema)
        result = rebuild_struct(
            struct, updated_schema, self._replace_null_with_default, update=self._cast_field
        )
        return self.new_part(record, updated_schema, result)

    def _cast_field(self, f: SchemaField, value: object) -> object:
        target = self._casts.get(f.name)
        return value if target is None else cast_value(f.schema, value, target)

    def _updated_schema(self, schema: Schema) -> Schema:
        if self._whole is not None:
            builder = SchemaBuilder(self._whole)
            if schema.name not in LOGICAL_NAMES:
                copy_schema_basics(schema, builder)
        else:
            builder = copy_schema_basics(schema, SchemaBuilder.struct())
            for f in schema.fields:
                builder.field(f.name, self._field_schema(f))
        if schema.optional:
            builder.optional()
        if schema.default is not None:
            builder.default_value(cast_value(schema, schema.default, builder.type))
        return builder.build()

    def _field_schema(self, f: SchemaField) -> Schema:
        target = self._casts.get(f.name)
        if target is None:
            return f.schema
        builder = SchemaBuilder(target)
        if f.schema.optional:
            builder.optional()
        if f.schema.default is not None:
            builder.default_value(cast_value(f.schema, f.schema.default, target))
        return builder.build()

    def close(self) -> None:
        self._schemas.clear()


class CastKey(Cast[R]):
    """`Cast$Key`: casts the record key or its fields."""

    part = Part.KEY


class CastValue(Cast[R]):
    """`Cast$Value`: casts the record value or its fields."""

    part = Part.VALUE
