"""Kafka Connect's logical types: a named schema over a primitive, with a richer Python value.

Names, versions and parameters are Java's, so schemas travel between the two runtimes:

| type      | schema                                   | Python value                       |
|-----------|------------------------------------------|------------------------------------|
| Decimal   | BYTES, parameter `scale`, version 1      | `decimal.Decimal`                  |
| Date      | INT32 days since 1970-01-01, version 1   | `datetime.date`                    |
| Time      | INT32 milliseconds since midnight, v. 1  | `datetime.time`                    |
| Timestamp | INT64 milliseconds since the epoch, v. 1 | `datetime.datetime`, aware, UTC    |

`from_logical` gives the primitive that goes on the wire; `to_logical` reads it back. Both raise
`DataError` for a value they can't represent. Naive datetimes and times are taken to be UTC;
aware ones are converted to UTC. Sub-millisecond precision is truncated (floored), as Java's
`java.util.Date` holds milliseconds only.
"""

from __future__ import annotations

import datetime as _dt
import decimal

from kconnect.data.schema import (
    DATE_NAME,
    DECIMAL_NAME,
    TIME_NAME,
    TIMESTAMP_NAME,
    Schema,
    SchemaBuilder,
)
from kconnect.errors import DataError

_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
_EPOCH_DATE = _dt.date(1970, 1, 1)
_MS = _dt.timedelta(milliseconds=1)
MILLIS_PER_DAY = 86_400_000


def _utc(value: _dt.datetime) -> _dt.datetime:
    return value.replace(tzinfo=_dt.UTC) if value.tzinfo is None else value.astimezone(_dt.UTC)


class Decimal:
    """Arbitrary-precision decimals: the two's-complement big-endian unscaled value."""

    LOGICAL_NAME = DECIMAL_NAME
    SCALE_FIELD = "scale"

    @staticmethod
    def builder(scale: int) -> SchemaBuilder:
        return (
            SchemaBuilder.bytes()
            .name(DECIMAL_NAME)
            .parameter(Decimal.SCALE_FIELD, str(scale))
            .version(1)
        )

    @staticmethod
    def schema(scale: int) -> Schema:
        return Decimal.builder(scale).build()

    @staticmethod
    def scale(schema: Schema) -> int:
        params = schema.parameters or {}
        text = params.get(Decimal.SCALE_FIELD)
        if text is None:
            raise DataError(f"invalid Decimal schema {schema!r}: the 'scale' parameter is missing")
        try:
            return int(text)
        except ValueError:
            raise DataError(
                f"invalid Decimal schema: parameter 'scale' is {text!r}, expected an integer"
            ) from None

    @staticmethod
    def from_logical(schema: Schema, value: decimal.Decimal) -> bytes:
        """The unscaled value's bytes, as Java's `BigInteger.toByteArray()` (minimal length).

        A value with fewer fraction digits than the scale is padded (1.5 at scale 2 is 1.50);
        one that would need rounding is an error, as in Java.
        """
        scale = Decimal.scale(schema)
        if not isinstance(value, decimal.Decimal) or not value.is_finite():
            raise DataError(f"invalid Decimal value {value!r}: expected a finite decimal.Decimal")
        sign, digits, exp = value.as_tuple()
        assert isinstance(exp, int)
        unscaled = int("".join(map(str, digits)) or "0")
        shift = exp + scale
        if shift >= 0:
            unscaled *= 10**shift
        else:
            q, r = divmod(unscaled, 10**-shift)
            if r:
                raise DataError(
                    f"Decimal value {value} has scale {-exp}, more than the schema's scale {scale}"
                )
            unscaled = q
        if sign:
            unscaled = -unscaled
        length = (unscaled + (unscaled < 0)).bit_length() // 8 + 1
        raw: bytes = unscaled.to_bytes(length, "big", signed=True)
        return raw

    @staticmethod
    def to_logical(schema: Schema, raw: bytes) -> decimal.Decimal:
        scale = Decimal.scale(schema)
        if not isinstance(raw, bytes | bytearray | memoryview):
            raise DataError(f"invalid Decimal representation {raw!r}: expected bytes")
        if len(raw) == 0:
            raise DataError("invalid Decimal representation: empty bytes")
        unscaled = int.from_bytes(raw, "big", signed=True)
        return decimal.Decimal(f"{unscaled}E{-scale}")


class Date:
    """A calendar date, as days since 1970-01-01."""

    LOGICAL_NAME = DATE_NAME

    @staticmethod
    def builder() -> SchemaBuilder:
        return SchemaBuilder.int32().name(DATE_NAME).version(1)

    SCHEMA: Schema

    @staticmethod
    def from_logical(schema: Schema, value: _dt.date) -> int:
        if isinstance(value, _dt.datetime):
            utc = _utc(value)
            if utc.time() != _dt.time():
                raise DataError(
                    f"Kafka Connect Date type should not have any time fields set, got {value!r}"
                )
            value = utc.date()
        if not isinstance(value, _dt.date):
            raise DataError(f"invalid Date value {value!r}: expected a datetime.date")
        return (value - _EPOCH_DATE).days

    @staticmethod
    def to_logical(schema: Schema, raw: int) -> _dt.date:
        try:
            return _EPOCH_DATE + _dt.timedelta(days=raw)
        except (OverflowError, TypeError):
            raise DataError(f"invalid Date representation {raw!r}: out of range") from None


class Time:
    """A time of day, as milliseconds since midnight."""

    LOGICAL_NAME = TIME_NAME

    @staticmethod
    def builder() -> SchemaBuilder:
        return SchemaBuilder.int32().name(TIME_NAME).version(1)

    SCHEMA: Schema

    @staticmethod
    def from_logical(schema: Schema, value: _dt.time) -> int:
        if not isinstance(value, _dt.time):
            raise DataError(f"invalid Time value {value!r}: expected a datetime.time")
        offset = value.utcoffset()
        ms = (
            (value.hour * 60 + value.minute) * 60 + value.second
        ) * 1000 + value.microsecond // 1000
        if offset is not None:
            ms = (ms - offset // _MS) % MILLIS_PER_DAY
        return ms

    @staticmethod
    def to_logical(schema: Schema, raw: int) -> _dt.time:
        if not isinstance(raw, int) or not 0 <= raw < MILLIS_PER_DAY:
            raise DataError(
                f"invalid Time representation {raw!r}: "
                f"expected milliseconds in [0, {MILLIS_PER_DAY})"
            )
        seconds, ms = divmod(raw, 1000)
        minutes, second = divmod(seconds, 60)
        hour, minute = divmod(minutes, 60)
        return _dt.time(hour, minute, second, ms * 1000)


class Timestamp:
    """An instant, as milliseconds since the epoch (UTC)."""

    LOGICAL_NAME = TIMESTAMP_NAME

    @staticmethod
    def builder() -> SchemaBuilder:
        return SchemaBuilder.int64().name(TIMESTAMP_NAME).version(1)

    SCHEMA: Schema

    @staticmethod
    def from_logical(schema: Schema, value: _dt.datetime) -> int:
        if not isinstance(value, _dt.datetime):
            raise DataError(f"invalid Timestamp value {value!r}: expected a datetime.datetime")
        return (_utc(value) - _EPOCH) // _MS

    @staticmethod
    def to_logical(schema: Schema, raw: int) -> _dt.datetime:
        try:
            return _EPOCH + _dt.timedelta(milliseconds=raw)
        except (OverflowError, TypeError):
            raise DataError(f"invalid Timestamp representation {raw!r}: out of range") from None


Date.SCHEMA = Date.builder().build()
Time.SCHEMA = Time.builder().build()
Timestamp.SCHEMA = Timestamp.builder().build()

LOGICAL_NAMES = frozenset({DECIMAL_NAME, DATE_NAME, TIME_NAME, TIMESTAMP_NAME})
