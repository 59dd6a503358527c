"""Logical types: Java's names, versions and encodings."""

from __future__ import annotations

import datetime as dt
import decimal

import pytest

from kconnect.data import Date, Decimal, Schema, Time, Timestamp, Type
from kconnect.errors import DataError


def test_schemas_match_java() -> None:
    d = Decimal.schema(2)
    assert (d.type, d.name, d.version, dict(d.parameters or {})) == (
        Type.BYTES,
        "org.apache.kafka.connect.data.Decimal",
        1,
        {"scale": "2"},
    )
    assert (Date.SCHEMA.type, Date.SCHEMA.name, Date.SCHEMA.version) == (
        Type.INT32,
        "org.apache.kafka.connect.data.Date",
        1,
    )
    assert (Time.SCHEMA.type, Time.SCHEMA.name) == (
        Type.INT32,
        "org.apache.kafka.connect.data.Time",
    )
    assert (Timestamp.SCHEMA.type, Timestamp.SCHEMA.name) == (
        Type.INT64,
        "org.apache.kafka.connect.data.Timestamp",
    )


@pytest.mark.parametrize(
    ("value", "raw"),
    [
        ("1.56", b"\x00\x9c"),  # Kafka's DecimalTest / JsonConverterTest vector
        ("-1.56", b"\xff\x64"),
        ("0.00", b"\x00"),
        ("1.27", b"\x7f"),
        ("1.28", b"\x00\x80"),
        ("-1.28", b"\x80"),
        ("-1.29", b"\xff\x7f"),
        ("1.5", b"\x00\x96"),  # padded to the schema's scale
    ],
)
def test_decimal_bytes_are_javas_big_integer_bytes(value: str, raw: bytes) -> None:
    schema = Decimal.schema(2)
    assert Decimal.from_logical(schema, decimal.Decimal(value)) == raw
    assert Decimal.to_logical(schema, raw) == decimal.Decimal(value)


def test_decimal_keeps_its_scale_and_precision() -> None:
    schema = Decimal.schema(20)
    big = decimal.Decimal("123456789012345678901234567890.12345678901234567890")
    back = Decimal.to_logical(schema, Decimal.from_logical(schema, big))
    assert back == big
    assert back.as_tuple().exponent == -20


def test_decimal_that_needs_rounding_is_an_error() -> None:
    with pytest.raises(DataError, match="scale 3, more than the schema's scale 2"):
        Decimal.from_logical(Decimal.schema(2), decimal.Decimal("1.234"))
    with pytest.raises(DataError, match="'scale' parameter is missing"):
        Decimal.from_logical(Schema.BYTES, decimal.Decimal("1"))


def test_date() -> None:
    assert Date.from_logical(Date.SCHEMA, dt.date(1970, 1, 1)) == 0
    assert Date.from_logical(Date.SCHEMA, dt.date(1969, 12, 31)) == -1
    assert Date.to_logical(Date.SCHEMA, 10000) == dt.date(1997, 5, 19)
    with pytest.raises(DataError, match="should not have any time fields"):
        Date.from_logical(Date.SCHEMA, dt.datetime(2020, 1, 1, 1, tzinfo=dt.UTC))


def test_time() -> None:
    assert Time.from_logical(Time.SCHEMA, dt.time(4, 0, 0, 1999)) == 14400001
    assert Time.to_logical(Time.SCHEMA, 14400001) == dt.time(4, 0, 0, 1000)
    east = dt.timezone(dt.timedelta(hours=1))
    assert Time.from_logical(Time.SCHEMA, dt.time(0, 30, tzinfo=east)) == 84_600_000
    with pytest.raises(DataError, match=r"\[0, 86400000\)"):
        Time.to_logical(Time.SCHEMA, 86_400_000)


def test_timestamp() -> None:
    t = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    assert Timestamp.from_logical(Timestamp.SCHEMA, t) == 1577836800000
    assert Timestamp.from_logical(Timestamp.SCHEMA, t.replace(tzinfo=None)) == 1577836800000
    berlin = dt.timezone(dt.timedelta(hours=1))
    assert Timestamp.from_logical(Timestamp.SCHEMA, dt.datetime(2020, 1, 1, 1, tzinfo=berlin)) == (
        1577836800000
    )
    assert (
        Timestamp.from_logical(
            Timestamp.SCHEMA, dt.datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC)
        )
        == -1
    )  # floored, as a Java Date of that instant
    assert Timestamp.to_logical(Timestamp.SCHEMA, -1) == dt.datetime(
        1969, 12, 31, 23, 59, 59, 999000, tzinfo=dt.UTC
    )
