"""Debezium's type mapping for PostgreSQL columns, and the parse of the text forms."""

from __future__ import annotations

import datetime as dt
import decimal

import pytest

from kconnect.connectors.pgcdc import types as t
from kconnect.connectors.pgcdc.catalog import default_literal
from kconnect.data.schema import Struct, Type

ENUM = t.PgType(40000, "mood", "e", enum_labels=("sad", "ok", "happy"))
INT_ARRAY = t.PgType(1007, "_int4", "b", element_oid=t.INT4)
TEXT_ARRAY = t.PgType(1009, "_text", "b", element_oid=t.TEXT)
DOMAIN = t.PgType(40001, "positive", "d", base_oid=t.INT8)
CATALOG = {x.oid: x for x in (ENUM, INT_ARRAY, TEXT_ARRAY, DOMAIN)}


def mapped(
    oid: int, mod: int = -1, optional: bool = True, mapper: t.TypeMapper | None = None
) -> t.Mapped:
    m = (mapper or t.TypeMapper()).map(t.ColumnDef("c", oid, mod, optional), CATALOG)
    assert m is not None
    return m


@pytest.mark.parametrize(
    ("oid", "type_", "name", "text", "value"),
    [
        (t.INT2, Type.INT16, None, "-7", -7),
        (t.INT4, Type.INT32, None, "42", 42),
        (t.INT8, Type.INT64, None, "9007199254740993", 9007199254740993),
        (t.FLOAT4, Type.FLOAT32, None, "1.5", 1.5),
        (t.FLOAT8, Type.FLOAT64, None, "-Infinity", float("-inf")),
        (t.BOOL, Type.BOOLEAN, None, "t", True),
        (t.TEXT, Type.STRING, None, "a b", "a b"),
        (t.VARCHAR, Type.STRING, None, "x", "x"),
        (t.BPCHAR, Type.STRING, None, "ab  ", "ab  "),
        (t.BYTEA, Type.BYTES, None, "\\x00ff", b"\x00\xff"),
        (t.UUID, Type.STRING, "io.debezium.data.Uuid", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
         "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
        (t.JSONB, Type.STRING, "io.debezium.data.Json", '{"a": 1}', '{"a": 1}'),
        (t.JSON, Type.STRING, "io.debezium.data.Json", "[1]", "[1]"),
        (t.DATE, Type.INT32, "io.debezium.time.Date", "2024-01-02", 19724),
        (t.DATE, Type.INT32, "io.debezium.time.Date", "1969-12-31", -1),
        (t.TIMESTAMP, Type.INT64, "io.debezium.time.MicroTimestamp", "2024-01-02 03:04:05.123456",
         1704164645123456),
        (t.TIMESTAMPTZ, Type.STRING, "io.debezium.time.ZonedTimestamp", "2024-01-02 03:04:05+02",
         "2024-01-02T01:04:05.000000Z"),
        (t.TIMESTAMPTZ, Type.STRING, "io.debezium.time.ZonedTimestamp",
         "2024-01-02 03:04:05.12+05:30", "2024-01-01T21:34:05.120000Z"),
        (t.TIME, Type.INT64, "io.debezium.time.MicroTime", "10:11:12.5", 36672500000),
        (t.TIME, Type.INT64, "io.debezium.time.MicroTime", "24:00:00", 86400000000),
        (t.TIMETZ, Type.STRING, "io.debezium.time.ZonedTime", "10:11:12+01", "09:11:12Z"),
        (t.INTERVAL, Type.INT64, "io.debezium.time.MicroDuration",
         "1 year 2 mons 3 days 04:05:06.5", 37091106500000),
        (t.INTERVAL, Type.INT64, "io.debezium.time.MicroDuration", "-00:00:01", -1000000),
        (ENUM.oid, Type.STRING, "io.debezium.data.Enum", "ok", "ok"),
        (DOMAIN.oid, Type.INT64, None, "5", 5),
    ],
)  # fmt: skip
def test_mapping_and_parse(
    oid: int, type_: Type, name: str | None, text: str, value: object
) -> None:
    m = mapped(oid)
    assert m.schema.type is type_
    assert m.schema.name == name
    assert m.schema.optional
    if name is not None:
        assert m.schema.version == 1
    assert m.parse(text) == value


def test_zoned_timestamp_has_the_column_precision_in_digits() -> None:
    assert mapped(t.TIMESTAMPTZ, 3).parse("2024-01-02 03:04:05.5+00") == "2024-01-02T03:04:05.500Z"
    assert mapped(t.TIMESTAMPTZ, 0).parse("2024-01-02 03:04:05+00") == "2024-01-02T03:04:05Z"


def test_enum_carries_its_labels() -> None:
    assert mapped(ENUM.oid).schema.parameters == {"allowed": "sad,ok,happy"}


def test_numeric_modes() -> None:
    mod = (10 << 16 | 2) + 4
    precise = mapped(t.NUMERIC, mod)
    assert precise.schema.name == "org.apache.kafka.connect.data.Decimal"
    assert precise.schema.parameters == {"scale": "2", "connect.decimal.precision": "10"}
    assert precise.parse("1.5") == decimal.Decimal("1.50")
    variable = mapped(t.NUMERIC)
    assert variable.schema.name == "io.debezium.data.VariableScaleDecimal"
    value = variable.parse("-3.14159")
    assert isinstance(value, Struct)
    assert value.get("scale") == 5
    assert int.from_bytes(value.get("value"), "big", signed=True) == -314159  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="NaN"):
        variable.parse("NaN")
    double = mapped(t.NUMERIC, mod, mapper=t.TypeMapper(decimal_mode="double"))
    assert (double.schema.type, double.parse("1.25")) == (Type.FLOAT64, 1.25)
    string = mapped(t.NUMERIC, mod, mapper=t.TypeMapper(decimal_mode="string"))
    assert (string.schema.type, string.parse("1.25")) == (Type.STRING, "1.25")


def test_time_precision_modes() -> None:
    # adaptive: millisecond columns get millisecond types
    assert mapped(t.TIME, 3).schema.name == "io.debezium.time.Time"
    assert mapped(t.TIME, 3).parse("00:00:01.5") == 1500
    assert mapped(t.TIMESTAMP, 3).schema.name == "io.debezium.time.Timestamp"
    assert mapped(t.TIMESTAMP, 3).parse("1970-01-01 00:00:01.5") == 1500
    micro = t.TypeMapper(time_mode="adaptive_time_microseconds")
    assert mapped(t.TIME, 3, mapper=micro).schema.name == "io.debezium.time.MicroTime"
    connect = t.TypeMapper(time_mode="connect")
    d = mapped(t.DATE, mapper=connect)
    assert d.schema.name == "org.apache.kafka.connect.data.Date"
    assert d.parse("2024-01-02") == dt.date(2024, 1, 2)
    ts = mapped(t.TIMESTAMP, mapper=connect)
    assert ts.schema.name == "org.apache.kafka.connect.data.Timestamp"
    assert ts.parse("2024-01-02 03:04:05.5") == dt.datetime(2024, 1, 2, 3, 4, 5, 500000, dt.UTC)
    tm = mapped(t.TIME, mapper=connect)
    assert tm.schema.name == "org.apache.kafka.connect.data.Time"
    assert tm.parse("10:00:00") == dt.time(10)


def test_arrays() -> None:
    ints = mapped(INT_ARRAY.oid)
    assert ints.schema.type is Type.ARRAY
    assert ints.schema.value_schema is not None
    assert ints.schema.value_schema.optional
    assert ints.parse("{1,2,NULL}") == [1, 2, None]
    assert ints.parse("{}") == []
    texts = mapped(TEXT_ARRAY.oid)
    assert texts.parse('{a,"b c","q\\"uote","NULL",NULL}') == ["a", "b c", 'q"uote', "NULL", None]


def test_required_column_and_unknown_type() -> None:
    assert not mapped(t.INT4, optional=False).schema.optional
    assert t.TypeMapper().map(t.ColumnDef("c", 99999, -1, True), CATALOG) is None


@pytest.mark.parametrize("text", ["infinity", "5874897-01-01 BC"])
def test_dates_without_connect_value_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"no Connect value|before year 1"):
        mapped(t.DATE).parse(text)


@pytest.mark.parametrize(
    ("expr", "literal"),
    [
        ("'unnamed'::text", "unnamed"),
        ("'it''s'::character varying", "it's"),
        ("0", "0"),
        ("'-1.5'::numeric", "-1.5"),
        ("(-7)", "-7"),
        ("true", "t"),
        ("'happy'::mood", "happy"),
        ("nextval('items_id_seq'::regclass)", None),
        ("now()", None),
        (None, None),
    ],
)
def test_constant_defaults_are_read_expressions_are_not(
    expr: str | None, literal: str | None
) -> None:
    assert default_literal(expr) == literal
