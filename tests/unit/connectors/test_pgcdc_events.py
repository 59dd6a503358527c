"""The record shapes: Debezium's schema names, field order and optionality."""

from __future__ import annotations

import pytest

from kconnect.connectors.pgcdc import events as e
from kconnect.connectors.pgcdc import types as t
from kconnect.connectors.pgcdc.config import PostgresCdcConfig, TableFilter
from kconnect.connectors.pgcdc.pgoutput import UNCHANGED_TOAST
from kconnect.data.schema import Type
from kconnect.errors import ConfigError

MAPPER = t.TypeMapper()


def col(
    name: str, oid: int, pos: int, optional: bool = True, default: object = None
) -> e.ShapedColumn:
    m = MAPPER.map(t.ColumnDef(name, oid, -1, optional), {})
    assert m is not None
    return e.ShapedColumn(name, pos, m, default)


SHAPE = e.shape_table(
    "srv",
    "public",
    "users",
    [col("id", t.INT4, 0, optional=False), col("name", t.TEXT, 1, optional=False, default="x"),
     col("note", t.TEXT, 2)],
    ["id"],
)  # fmt: skip


def test_source_schema_matches_debezium() -> None:
    s = e.SOURCE_SCHEMA
    assert s.name == "io.debezium.connector.postgresql.Source"
    assert [(f.name, f.schema.type, f.schema.optional) for f in s.fields] == [
        ("version", Type.STRING, False),
        ("connector", Type.STRING, False),
        ("name", Type.STRING, False),
        ("ts_ms", Type.INT64, False),
        ("snapshot", Type.STRING, True),
        ("db", Type.STRING, False),
        ("sequence", Type.STRING, True),
        ("ts_us", Type.INT64, True),
        ("ts_ns", Type.INT64, True),
        ("schema", Type.STRING, False),
        ("table", Type.STRING, False),
        ("txId", Type.INT64, True),
        ("lsn", Type.INT64, True),
        ("xmin", Type.INT64, True),
        ("origin", Type.STRING, True),
        ("origin_lsn", Type.INT64, True),
    ]
    snapshot = s.fields[4].schema
    assert snapshot.name == "io.debezium.data.Enum"
    assert snapshot.default == "false"


def test_table_shape() -> None:
    assert SHAPE.topic == "srv.public.users"
    assert SHAPE.key_schema is not None
    assert SHAPE.key_schema.name == "srv.public.users.Key"
    assert [f.name for f in SHAPE.key_schema.fields] == ["id"]
    assert SHAPE.value_schema.name == "srv.public.users.Value"
    assert SHAPE.value_schema.optional
    env = SHAPE.envelope_schema
    assert (env.name, env.version, env.optional) == ("srv.public.users.Envelope", 2, False)
    assert [f.name for f in env.fields] == [
        "before", "after", "source", "transaction", "op", "ts_ms", "ts_us", "ts_ns",
    ]  # fmt: skip
    assert env.fields[3].schema.name == "event.block"
    name_field = SHAPE.value_schema.fields[1].schema
    assert name_field.default == "x"


def test_no_primary_key_no_key() -> None:
    shape = e.shape_table("srv", "public", "log", [col("line", t.TEXT, 0)], [])
    assert shape.key_schema is None


def test_row_fills_required_columns_and_placeholders() -> None:
    # a delete's old row under the default replica identity: the key only
    row = e.row_struct(SHAPE, ("7", None, None))
    assert (row.get("id"), row.get("name"), row.get("note")) == (7, "x", None)
    toasted = e.row_struct(SHAPE, ("7", "a", UNCHANGED_TOAST))
    assert toasted.get("note") == "__debezium_unavailable_value"
    key = e.key_struct(SHAPE, row)
    assert key is not None
    assert key.get("id") == 7


def test_envelope_and_source_values() -> None:
    info = e.SourceInfo("srv", "db", "public", "users", 1_700_000_000_123_456, "false", 9, 500, 400)
    source = e.source_struct(info)
    assert source.get("ts_ms") == 1_700_000_000_123
    assert source.get("ts_ns") == 1_700_000_000_123_456_000
    assert source.get("sequence") == '["400","500"]'
    after = e.row_struct(SHAPE, ("1", "a", "b"))
    value = e.envelope(SHAPE, "c", None, after, source, 1_700_000_000_999_999)
    value.validate()
    assert value.get("op") == "c"
    assert value.get("ts_us") == 1_700_000_000_999_999


BASE = {
    "database.hostname": "h",
    "database.user": "u",
    "database.dbname": "d",
    "topic.prefix": "srv",
}


@pytest.mark.parametrize(
    ("extra", "key", "expected"),
    [
        ({"plugin.name": "decoderbufs"}, "plugin.name", "pgoutput"),
        ({"snapshot.mode": "sometimes"}, "snapshot.mode", "initial"),
        ({"decimal.handling.mode": "exact"}, "decimal.handling.mode", "precise"),
        ({"time.precision.mode": "nanos"}, "time.precision.mode", "adaptive"),
        ({"skipped.operations": "c,x"}, "skipped.operations", "c, u, d, t"),
        ({"slot.name": "Bad-Slot"}, "slot.name", "lower-case"),
        ({"table.include.list": "public.(a"}, "table.include.list", "regular expression"),
        ({"publication.autocreate.mode": "some"}, "publication.autocreate.mode", "filtered"),
    ],
)
def test_bad_config_names_key_and_expectation(
    extra: dict[str, str], key: str, expected: str
) -> None:
    with pytest.raises(ConfigError) as info:
        PostgresCdcConfig.parse({**BASE, **extra})
    assert key in str(info.value)
    assert expected in str(info.value)


def test_password_is_never_shown() -> None:
    config = PostgresCdcConfig.parse({**BASE, "database.password": "s3cret"})
    assert "s3cret" not in repr(config)
    assert config.database_password.get_secret_value() == "s3cret"


def test_filters_match_whole_names() -> None:
    config = PostgresCdcConfig.parse(
        {
            **BASE,
            "table.include.list": "public.users,inv\\..*",
            "column.exclude.list": "public.users.secret",
        }
    )
    f = TableFilter(config)
    assert f.table("public", "users")
    assert not f.table("public", "users2")
    assert f.table("inv", "orders")
    assert not f.column("public", "users", "secret")
    assert f.column("public", "users", "secret2")
    assert config.skipped == {"t"}
    assert PostgresCdcConfig.parse({**BASE, "skipped.operations": "none"}).skipped == frozenset()


def test_rows_of_every_mapped_type_fit_their_schemas() -> None:
    """`row_struct` skips per-field checks: every parser must return what its schema takes."""
    samples = [
        (t.INT2, "1"), (t.INT4, "2"), (t.INT8, "3"), (t.FLOAT4, "1.5"), (t.FLOAT8, "2.5"),
        (t.BOOL, "f"), (t.TEXT, "x"), (t.BYTEA, "\\x01"),
        (t.UUID, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), (t.JSONB, "{}"), (t.DATE, "2024-01-01"),
        (t.TIME, "01:02:03"), (t.TIMESTAMP, "2024-01-01 00:00:00"),
        (t.TIMESTAMPTZ, "2024-01-01 00:00:00+00"), (t.TIMETZ, "01:02:03+00"),
        (t.INTERVAL, "1 day"), (t.NUMERIC, "1.5"), (t.XML, "<a/>"),
    ]  # fmt: skip
    for mapper in (
        t.TypeMapper(),
        t.TypeMapper("double", "connect"),
        t.TypeMapper("string", "adaptive_time_microseconds"),
    ):
        columns = []
        for i, (oid, _) in enumerate(samples):
            m = mapper.map(t.ColumnDef(f"c{i}", oid, -1, optional=i % 2 == 0), {})
            assert m is not None
            columns.append(e.ShapedColumn(f"c{i}", i, m))
        shape = e.shape_table("srv", "public", "all", columns, ["c1"])
        e.row_struct(shape, [text for _, text in samples]).validate()
        e.row_struct(shape, [None] * len(samples)).validate()  # required ones zero-filled
