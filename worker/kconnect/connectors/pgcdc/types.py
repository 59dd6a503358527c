"""PostgreSQL column types as Debezium's PostgreSQL connector maps them, and the parse of the text
form pgoutput sends (and a snapshot's `::text` reads) into Connect values. No I/O.

Schema names, versions and parameters are Debezium's (`io.debezium.time.MicroTimestamp`
version 1, `org.apache.kafka.connect.data.Decimal` with `scale` and
`connect.decimal.precision`, `io.debezium.data.Enum` with `allowed`, ...), so a consumer
cannot tell the two connectors' records apart. The mapping depends on `decimal.handling.mode`
and `time.precision.mode` only; a column whose type has no mapping is left out of the records,
as Debezium does while `include.unknown.datatypes` is false.

A value that does not parse raises `ValueError` naming the type and the text; it is never
passed on half-converted.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from kconnect.data import logical
from kconnect.data.schema import Schema, SchemaBuilder, Struct

DecimalMode = Literal["precise", "double", "string"]
TimePrecisionMode = Literal["adaptive", "adaptive_time_microseconds", "connect"]

Parse = Callable[[str], object]


@dataclass(frozen=True, slots=True)
class PgType:
    """What the catalog says of a type (pg_type, and pg_enum for enums)."""

    oid: int
    name: str
    kind: str
    """typtype: 'b' base, 'e' enum, 'd' domain, 'c' composite, 'r' range ..."""
    element_oid: int = 0
    """typelem of an array type (0 for other types)."""
    base_oid: int = 0
    """typbasetype of a domain."""
    enum_labels: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ColumnDef:
    name: str
    type_oid: int
    type_modifier: int
    optional: bool


@dataclass(frozen=True, slots=True)
class Mapped:
    schema: Schema
    parse: Parse


BOOL, BYTEA, CHAR, NAME, INT8, INT2, INT4, TEXT, OID = 16, 17, 18, 19, 20, 21, 23, 25, 26
JSON, XML, FLOAT4, FLOAT8, MONEY, BPCHAR, VARCHAR = 114, 142, 700, 701, 790, 1042, 1043
DATE, TIME, TIMESTAMP, TIMESTAMPTZ, INTERVAL, TIMETZ = 1082, 1083, 1114, 1184, 1186, 1266
NUMERIC, UUID, JSONB, INET, CIDR, MACADDR, MACADDR8 = 1700, 2950, 3802, 869, 650, 829, 774
CITEXT_NAME = "citext"

_EPOCH_DATE = _dt.date(1970, 1, 1)
_EPOCH = _dt.datetime(1970, 1, 1)
_UTC_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
DAYS_PER_MONTH_AVG = 365.25 / 12


def _semantic(builder: SchemaBuilder, name: str) -> SchemaBuilder:
    return builder.name(name).version(1)


# --- parsers of the text form -----------------------------------------------------------------


def parse_bool(text: str) -> bool:
    if text in ("t", "true"):
        return True
    if text in ("f", "false"):
        return False
    raise ValueError(f"boolean text {text!r} is neither 't' nor 'f'")


def parse_bytea(text: str) -> bytes:
    if text.startswith("\\x"):
        return bytes.fromhex(text[2:])
    raise ValueError(f"bytea text {text[:20]!r} is not in hex format (bytea_output=hex)")


def parse_float(text: str) -> float:
    return float(text)  # 'NaN', 'Infinity', '-Infinity' included


def _date(text: str) -> _dt.date:
    if text.endswith(" BC"):
        raise ValueError(f"date {text!r} is before year 1, which Connect values cannot hold")
    if text in {"infinity", "-infinity"}:
        raise ValueError(f"date {text!r} has no Connect value")
    return _dt.date.fromisoformat(text)


def parse_date_days(text: str) -> int:
    return (_date(text) - _EPOCH_DATE).days


def _time_micros(text: str) -> int:
    if text.startswith("24:00:00"):
        return 86_400_000_000
    t = _dt.time.fromisoformat(text)
    return ((t.hour * 60 + t.minute) * 60 + t.second) * 1_000_000 + t.microsecond


def _timestamp(text: str) -> _dt.datetime:
    if text.endswith(" BC") or text in ("infinity", "-infinity"):
        raise ValueError(f"timestamp {text!r} has no Connect value")
    return _dt.datetime.fromisoformat(text)


def _local_micros(text: str) -> int:
    delta = _timestamp(text) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _tz_fix(text: str) -> str:
    # PostgreSQL writes offsets as +HH, +HH:MM or +HH:MM:SS; Python wants at least +HH:MM.
    m = re.search(r"([+-]\d\d)$", text)
    return text + ":00" if m else text


def _iso_utc(value: _dt.datetime, digits: int) -> str:
    """As Debezium's ZonedTimestamp: ISO-8601 in UTC with 'Z', and as many fraction digits as
    the column's precision (none for precision 0)."""
    utc = value.astimezone(_dt.UTC)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    if digits > 0:
        text += "." + f"{utc.microsecond:06d}"[:digits]
    return text + "Z"


def zoned_timestamp_parser(precision: int) -> Parse:
    """The parser of a `timestamptz(precision)` column's text."""

    def parse_zoned_timestamp(text: str) -> str:
        if text in ("infinity", "-infinity") or text.endswith(" BC"):
            raise ValueError(f"timestamptz {text!r} has no Connect value")
        return _iso_utc(_dt.datetime.fromisoformat(_tz_fix(text)), precision)

    return parse_zoned_timestamp


def parse_zoned_time(text: str) -> str:
    m = re.fullmatch(r"(\d\d:\d\d:\d\d(?:\.\d+)?)([+-]\d\d(?::\d\d){0,2})", text)
    if m is None:
        raise ValueError(f"timetz text {text!r} is not HH:MM:SS[.f]+HH[:MM]")
    local = _dt.datetime.combine(_dt.date(1970, 1, 1), _dt.time.fromisoformat(m.group(1)))
    offset = m.group(2)
    parts = [int(p) for p in offset[1:].split(":")] + [0, 0]
    sign = -1 if offset[0] == "-" else 1
    delta = _dt.timedelta(hours=parts[0], minutes=parts[1], seconds=parts[2]) * sign
    utc = (local - delta).time()
    text_out = utc.strftime("%H:%M:%S")
    if utc.microsecond:
        text_out += ("." + f"{utc.microsecond:06d}").rstrip("0")
    return text_out + "Z"


_INTERVAL_UNITS = {
    "year": "years",
    "years": "years",
    "mon": "months",
    "mons": "months",
    "day": "days",
    "days": "days",
}
_INTERVAL = re.compile(
    r"(?P<num>[+-]?\d+) (?P<unit>years?|mons?|days?)|(?P<time>[+-]?\d+:\d\d:\d\d(?:\.\d+)?)"
)


def parse_interval_micros(text: str) -> int:
    """An interval in IntervalStyle 'postgres' (the server's default) as Debezium's
    MicroDuration: a month is 365.25 / 12 days."""
    years = months = days = 0
    micros = 0
    pos = 0
    text = text.strip()
    for m in _INTERVAL.finditer(text):
        if text[pos : m.start()].strip():
            raise ValueError(f"interval text {text!r} is not in IntervalStyle 'postgres'")
        pos = m.end()
        if m.group("time"):
            t = m.group("time")
            sign = -1 if t.startswith("-") else 1
            h, mi, s = t.lstrip("+-").split(":")
            whole, _, frac = s.partition(".")
            micros += sign * (
                ((int(h) * 60 + int(mi)) * 60 + int(whole)) * 1_000_000 + int((frac + "000000")[:6])
            )
        else:
            unit = _INTERVAL_UNITS[m.group("unit")]
            n = int(m.group("num"))
            if unit == "years":
                years += n
            elif unit == "months":
                months += n
            else:
                days += n
    if text[pos:].strip():
        raise ValueError(f"interval text {text!r} is not in IntervalStyle 'postgres'")
    month_days = (years * 12 + months) * DAYS_PER_MONTH_AVG
    return int((month_days + days) * 86_400 * 1_000_000) + micros


def numeric_precision_scale(type_modifier: int) -> tuple[int, int] | None:
    """(precision, scale) of numeric(p, s); None for unconstrained numeric."""
    if type_modifier < 4:
        return None
    mod = type_modifier - 4
    return (mod >> 16) & 0xFFFF, mod & 0xFFFF


VARIABLE_SCALE_DECIMAL = (
    SchemaBuilder.struct()
    .name("io.debezium.data.VariableScaleDecimal")
    .version(1)
    .doc("Variable scaled decimal")
    .field("scale", Schema.INT32)
    .field("value", Schema.BYTES)
)


def _variable_scale_value(schema: Schema, value: decimal.Decimal) -> Struct:
    sign, digits, exp = value.as_tuple()
    assert isinstance(exp, int)
    scale = -exp if exp < 0 else 0
    unscaled = int("".join(map(str, digits)) or "0") * (10**exp if exp > 0 else 1)
    if sign:
        unscaled = -unscaled
    length = (unscaled + (unscaled < 0)).bit_length() // 8 + 1
    return (
        Struct(schema)
        .put("scale", scale)
        .put("value", unscaled.to_bytes(length, "big", signed=True))
    )


def _decimal(text: str) -> decimal.Decimal:
    value = decimal.Decimal(text)
    if not value.is_finite():
        raise ValueError(f"numeric {text!r} has no value in decimal.handling.mode=precise")
    return value


# --- arrays -----------------------------------------------------------------------------------


def parse_array_literal(text: str) -> list[str | None]:
    """The elements of a one-dimensional array literal, `{a,"b c",NULL}`, as text."""
    if text.startswith("["):  # explicit bounds: [0:1]={...}
        text = text[text.index("=") + 1 :]
    if not (text.startswith("{") and text.endswith("}")):
        raise ValueError(f"array text {text[:40]!r} is not a {{...}} literal")
    body = text[1:-1]
    out: list[str | None] = []
    if not body:
        return out
    i = 0
    n = len(body)
    while i <= n:
        if i < n and body[i] == "{":
            raise ValueError("multi-dimensional arrays are not supported")
        if i < n and body[i] == '"':
            i += 1
            chars: list[str] = []
            while i < n and body[i] != '"':
                if body[i] == "\\":
                    i += 1
                chars.append(body[i])
                i += 1
            i += 1  # the closing quote
            out.append("".join(chars))
        else:
            end = body.find(",", i)
            end = n if end < 0 else end
            item = body[i:end].strip()
            out.append(None if item == "NULL" else item)
            i = end
        i += 1  # the comma
    return out


# --- the mapping ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TypeMapper:
    """Debezium's mapping under one connector's `decimal.handling.mode` and
    `time.precision.mode`; `types` is the catalog (oid -> PgType) for types past the built-in
    ones."""

    decimal_mode: DecimalMode = "precise"
    time_mode: TimePrecisionMode = "adaptive"

    def map(self, column: ColumnDef, types: Mapping[int, PgType]) -> Mapped | None:
        """The column's schema and parser; None for a type Debezium does not map."""
        found = self._builder(column.type_oid, column.type_modifier, types)
        if found is None:
            return None
        builder, parse = found
        if column.optional:
            builder = builder.optional()
        return Mapped(builder.build(), parse)

    def _builder(
        self, oid: int, mod: int, types: Mapping[int, PgType]
    ) -> tuple[SchemaBuilder, Parse] | None:
        if oid == INT2:
            return SchemaBuilder.int16(), int
        if oid == INT4:
            return SchemaBuilder.int32(), int
        if oid in (INT8, OID):
            return SchemaBuilder.int64(), int
        if oid == FLOAT4:
            return SchemaBuilder.float32(), parse_float
        if oid == FLOAT8:
            return SchemaBuilder.float64(), parse_float
        if oid == BOOL:
            return SchemaBuilder.bool(), parse_bool
        if oid in (TEXT, VARCHAR, BPCHAR, CHAR, NAME, INET, CIDR, MACADDR, MACADDR8):
            return SchemaBuilder.string(), str
        if oid == BYTEA:
            return SchemaBuilder.bytes(), parse_bytea
        if oid == UUID:
            return _semantic(SchemaBuilder.string(), "io.debezium.data.Uuid"), str
        if oid in (JSON, JSONB):
            return _semantic(SchemaBuilder.string(), "io.debezium.data.Json"), str
        if oid == XML:
            return _semantic(SchemaBuilder.string(), "io.debezium.data.Xml"), str
        if oid == NUMERIC:
            return self._numeric(mod)
        if oid == DATE:
            if self.time_mode == "connect":
                return logical.Date.builder(), _date
            return _semantic(SchemaBuilder.int32(), "io.debezium.time.Date"), parse_date_days
        if oid == TIME:
            return self._time(mod)
        if oid == TIMESTAMP:
            return self._timestamp(mod)
        if oid == TIMESTAMPTZ:
            b = _semantic(SchemaBuilder.string(), "io.debezium.time.ZonedTimestamp")
            return b, zoned_timestamp_parser(6 if mod < 0 else mod)
        if oid == TIMETZ:
            return _semantic(SchemaBuilder.string(), "io.debezium.time.ZonedTime"), parse_zoned_time
        if oid == INTERVAL:
            b = _semantic(SchemaBuilder.int64(), "io.debezium.time.MicroDuration")
            return b, parse_interval_micros
        t = types.get(oid)
        if t is None:
            return None
        if t.kind == "e":
            b = _semantic(SchemaBuilder.string(), "io.debezium.data.Enum").parameter(
                "allowed", ",".join(t.enum_labels)
            )
            return b, str
        if t.kind == "d" and t.base_oid:
            return self._builder(t.base_oid, mod, types)
        if t.name == CITEXT_NAME:
            return SchemaBuilder.string(), str
        if t.element_oid and t.name.startswith("_"):
            element = self._builder(t.element_oid, -1, types)
            if element is None:
                return None
            eb, eparse = element
            element_schema = eb.optional().build()

            def parse_array(text: str) -> list[object]:
                return [None if e is None else eparse(e) for e in parse_array_literal(text)]

            return SchemaBuilder.array(element_schema), parse_array
        return None

    def _numeric(self, mod: int) -> tuple[SchemaBuilder, Parse]:
        ps = numeric_precision_scale(mod)
        if self.decimal_mode == "double":
            return SchemaBuilder.float64(), parse_float
        if self.decimal_mode == "string":
            return SchemaBuilder.string(), str
        if ps is None:
            vsd = VARIABLE_SCALE_DECIMAL

            def parse_vsd(text: str) -> Struct:
                return _variable_scale_value(vsd.build(), _decimal(text))

            return SchemaBuilder.of(vsd.build()), parse_vsd
        precision, scale = ps
        b = logical.Decimal.builder(scale).parameter("connect.decimal.precision", str(precision))
        quantum = decimal.Decimal(1).scaleb(-scale)

        def parse_decimal(text: str) -> decimal.Decimal:
            return _decimal(text).quantize(quantum)

        return b, parse_decimal

    def _time(self, mod: int) -> tuple[SchemaBuilder, Parse]:
        precision = 6 if mod < 0 else mod
        if self.time_mode == "connect":

            def parse_connect_time(text: str) -> _dt.time:
                micros = _time_micros(text) % 86_400_000_000
                return (_dt.datetime.min + _dt.timedelta(microseconds=micros)).time()

            return logical.Time.builder(), parse_connect_time
        if self.time_mode == "adaptive" and precision <= 3:
            b = _semantic(SchemaBuilder.int32(), "io.debezium.time.Time")
            return b, lambda text: _time_micros(text) // 1000
        return _semantic(SchemaBuilder.int64(), "io.debezium.time.MicroTime"), _time_micros

    def _timestamp(self, mod: int) -> tuple[SchemaBuilder, Parse]:
        precision = 6 if mod < 0 else mod
        if self.time_mode == "connect":

            def parse_connect_ts(text: str) -> _dt.datetime:
                return _timestamp(text).replace(tzinfo=_dt.UTC)

            return logical.Timestamp.builder(), parse_connect_ts
        if precision <= 3:
            b = _semantic(SchemaBuilder.int64(), "io.debezium.time.Timestamp")
            return b, lambda text: _local_micros(text) // 1000
        return _semantic(SchemaBuilder.int64(), "io.debezium.time.MicroTimestamp"), _local_micros


def catalog_oids_needed(oids: Sequence[int]) -> list[int]:
    """The type oids of `oids` the mapping needs the catalog for (not built in)."""
    builtin = {
        BOOL, BYTEA, CHAR, NAME, INT8, INT2, INT4, TEXT, OID, JSON, XML, FLOAT4, FLOAT8, BPCHAR,
        VARCHAR, DATE, TIME, TIMESTAMP, TIMESTAMPTZ, INTERVAL, TIMETZ, NUMERIC, UUID, JSONB, INET,
        CIDR, MACADDR, MACADDR8,
    }  # fmt: skip
    return sorted({o for o in oids if o not in builtin})
