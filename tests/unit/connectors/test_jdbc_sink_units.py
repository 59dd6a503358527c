"""JdbcSink without a database: URL parsing, the config's rules, the SQL, records into rows."""

from __future__ import annotations

import datetime as dt
import decimal
import zoneinfo

import pytest

from kconnect.api.records import SinkRecord
from kconnect.connectors.jdbc import url as jdbc_url
from kconnect.connectors.jdbc.config import JdbcSinkConfig, PrimaryKeyMode
from kconnect.connectors.jdbc.dialect import Column, PostgreSqlDialect, TableId
from kconnect.connectors.jdbc.rows import Settings, plan
from kconnect.connectors.jdbc.writer import Op, _last_per_key, _runs
from kconnect.data.logical import Date, Decimal, Time, Timestamp
from kconnect.data.schema import Schema, SchemaBuilder, Struct
from kconnect.errors import ConfigError, DataError
from kconnect.plugins.registry import PluginRegistry

URL = "jdbc:postgresql://db.example:6543/shop"


def config(**extra: str) -> JdbcSinkConfig:
    return JdbcSinkConfig.parse({"connection.url": URL, **extra})


# --- connection.url


def test_url_host_port_database_and_driver_parameters() -> None:
    parsed = jdbc_url.parse(
        "jdbc:postgresql://h1:5433,[::1]/my%20db?user=u&password=p%26w&sslmode=require"
        "&ApplicationName=app&connectTimeout=7&currentSchema=s1,my schema&socketTimeout=3"
    )
    assert parsed.keywords == {
        "host": "h1,::1",
        "port": "5433,5432",
        "dbname": "my db",
        "user": "u",
        "password": "p&w",
        "sslmode": "require",
        "application_name": "app",
        "connect_timeout": "7",
        "options": "-c search_path=s1,my\\ schema",
    }
    assert parsed.ignored == ("socketTimeout",)


def test_url_short_forms() -> None:
    assert jdbc_url.parse("jdbc:postgresql:shop").keywords == {"dbname": "shop"}
    assert jdbc_url.parse("jdbc:postgresql://h/").keywords == {"host": "h"}
    assert jdbc_url.parse("jdbc:postgresql://h?ssl=true").keywords == {
        "host": "h",
        "sslmode": "verify-full",
    }


def test_url_parameters_libpq_would_read_files_from_are_not_passed() -> None:
    parsed = jdbc_url.parse("jdbc:postgresql://h/db?passfile=/etc/x&service=s")
    assert parsed.keywords == {"host": "h", "dbname": "db"}
    assert parsed.ignored == ("passfile", "service")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://h/db?password=hunter22", "not a PostgreSQL JDBC URL"),
        ("jdbc:postgresql://h:99999/db?password=hunter22", "port '99999'"),
        ("jdbc:postgresql://h/db?sslmode=bogus&password=hunter22", "sslmode 'bogus'"),
        ("jdbc:postgresql://[::1/db?password=hunter22", "closing ']'"),
    ],
)
def test_a_bad_url_is_named_with_its_password_masked(url: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        JdbcSinkConfig.parse({"connection.url": url})
    message = str(caught.value)
    assert expected in message
    assert "hunter22" not in message
    assert "password=****" in message


def test_connection_user_and_password_keys_join_the_url() -> None:
    c = config(**{"connection.user": "app", "connection.password": "s3cret-pw"})
    assert c.connection_keywords["user"] == "app"
    assert c.connection_keywords["password"] == "s3cret-pw"  # noqa: S105 - a test value
    assert "s3cret-pw" not in repr(c)
    in_url = JdbcSinkConfig.parse(
        {"connection.url": URL + "?user=u&password=pw1", "connection.password": "other"}
    )
    assert in_url.connection_keywords["password"] == "pw1"  # noqa: S105 - the URL wins
    assert in_url.shown_url == URL + "?user=u&password=****"


# --- the config's rules


def test_defaults_are_confluents() -> None:
    c = config()
    assert (c.insert_mode.value, c.pk_mode.value, c.batch_size) == ("insert", "none", 3000)
    assert (c.max_retries, c.retry_backoff_ms, c.table_name_format) == (10, 3000, "${topic}")
    assert (c.auto_create, c.auto_evolve, c.delete_enabled) == (False, False, False)
    assert (c.db_timezone, c.quote_sql_identifiers.value) == ("UTC", "always")


def test_modes_are_case_insensitive() -> None:
    c = config(**{"insert.mode": "UPSERT", "pk.mode": "RECORD_KEY"})
    assert c.pk_mode is PrimaryKeyMode.RECORD_KEY


@pytest.mark.parametrize(
    ("props", "expected"),
    [
        (
            {"delete.enabled": "true", "pk.mode": "record_value"},
            "Primary key mode must be 'record_key' when delete support is enabled",
        ),
        ({"insert.mode": "upsert"}, "insert.mode=upsert needs the primary key columns"),
        ({"pk.mode": "kafka", "pk.fields": "a,b"}, "exactly 3"),
        ({"insert.mode": "merge"}, "insert.mode"),
        ({"db.timezone": "Mars/Olympus"}, "time zone"),
        ({"dialect.name": "MySqlDatabaseDialect"}, "PostgreSqlDatabaseDialect"),
        ({"batch.size": "-1"}, "batch.size"),
    ],
)
def test_config_rules(props: dict[str, str], expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config(**props)
    assert expected in str(caught.value)


def test_registered_under_the_java_names() -> None:
    registry = PluginRegistry()
    from kconnect.connectors.jdbc.sink import JdbcSinkConnector

    assert registry.resolve("io.confluent.connect.jdbc.JdbcSinkConnector") is JdbcSinkConnector
    assert registry.resolve("JdbcSink") is JdbcSinkConnector


# --- the dialect

PG = PostgreSqlDialect()


def test_identifiers_are_quoted_and_escaped() -> None:
    assert PG.quote('we"ird') == '"we""ird"'
    assert PG.quote("100%") == '"100%%"'
    assert PG.quote('x"; DROP TABLE t; --') == '"x""; DROP TABLE t; --"'
    assert PostgreSqlDialect(fold_case=True).quote("MixedCase") == '"mixedcase"'
    with pytest.raises(DataError, match="NUL"):
        PG.quote("a\x00b")
    assert len(PG.identifier("é" * 40).encode()) <= 63


def test_table_names() -> None:
    assert PG.table_id("orders") == TableId("orders")
    assert PG.table_id("sales.orders") == TableId("orders", "sales")
    assert PG.qualified(PG.table_id("db.sales.orders")) == '"db"."sales"."orders"'
    with pytest.raises(DataError, match="not of the form"):
        PG.table_id("a..b")


@pytest.mark.parametrize(
    ("schema", "sql"),
    [
        (Schema.INT8, "SMALLINT"),
        (Schema.INT16, "SMALLINT"),
        (Schema.INT32, "INT"),
        (Schema.INT64, "BIGINT"),
        (Schema.FLOAT32, "REAL"),
        (Schema.FLOAT64, "DOUBLE PRECISION"),
        (Schema.BOOLEAN, "BOOLEAN"),
        (Schema.STRING, "TEXT"),
        (Schema.BYTES, "BYTEA"),
        (Decimal.schema(2), "DECIMAL"),
        (Date.SCHEMA, "DATE"),
        (Time.SCHEMA, "TIME"),
        (Timestamp.SCHEMA, "TIMESTAMP"),
        (SchemaBuilder.array(Schema.INT32).build(), "INT[]"),
    ],
)
def test_type_mapping_is_confluents(schema: Schema, sql: str) -> None:
    assert PG.sql_type(Column("c", schema, False)) == sql


def test_maps_and_structs_have_no_column_type() -> None:
    nested = SchemaBuilder.map(Schema.STRING, Schema.STRING).build()
    with pytest.raises(DataError, match=r"column .m.*MAP"):
        PG.sql_type(Column("m", nested, False))


def test_statements() -> None:
    t = TableId("orders", "public")
    assert PG.upsert(t, ["id"], ["name", "qty"]) == (
        'INSERT INTO "public"."orders" ("id","name","qty") VALUES %s ON CONFLICT ("id") '
        'DO UPDATE SET "name"=EXCLUDED."name","qty"=EXCLUDED."qty"'
    )
    assert PG.upsert(t, ["id"], []).endswith('ON CONFLICT ("id") DO NOTHING')
    assert PG.update(t, ["a", "b"], ["c"]) == (
        'UPDATE "public"."orders" SET "c" = %s WHERE "a" = %s AND "b" = %s'
    )
    assert PG.delete(t, ["id"]) == 'DELETE FROM "public"."orders" WHERE "id" = %s'
    optional_with_default = SchemaBuilder.string().optional().default_value("x").build()
    sql, params = PG.create_table(
        t,
        [
            Column("id", Schema.INT64, True),
            Column("name", optional_with_default, False),
            Column("qty", Schema.INT32, False),
        ],
    )
    assert sql == (
        'CREATE TABLE IF NOT EXISTS "public"."orders" (\n"id" BIGINT NOT NULL,\n'
        '"name" TEXT DEFAULT %s NULL,\n"qty" INT NOT NULL,\nPRIMARY KEY("id"))'
    )
    assert params == ("x",)
    [(alter, _)] = PG.add_columns(t, [Column("note", Schema.OPTIONAL_STRING, False)])
    assert alter == 'ALTER TABLE "public"."orders" ADD COLUMN IF NOT EXISTS "note" TEXT NULL'


def test_transient_errors_are_told_from_the_rest() -> None:
    import psycopg2

    class Coded(psycopg2.OperationalError):
        def __init__(self, code: str | None) -> None:
            super().__init__("x")
            self._code = code

        @property
        def pgcode(self) -> str | None:  # type: ignore[override]
            return self._code

    assert PG.is_transient(psycopg2.InterfaceError("connection already closed"))
    assert PG.is_transient(Coded(None))  # the server went away
    assert PG.is_transient(Coded("57P01"))  # admin shutdown
    assert PG.is_transient(Coded("40P01"))  # deadlock
    assert not PG.is_transient(Coded("23505"))  # unique violation
    assert not PG.is_transient(Coded("42703"))  # undefined column
    assert not PG.is_transient(ValueError("x"))


# --- records into rows

KEY = SchemaBuilder.struct().name("k").field("id", Schema.INT64).build()
VALUE = (
    SchemaBuilder.struct()
    .name("v")
    .field("id", Schema.INT64)
    .field("name", Schema.OPTIONAL_STRING)
    .field("qty", SchemaBuilder.int32().optional().default_value(1).build())
    .field("at", Time.SCHEMA)
    .build()
)


def settings(
    mode: PrimaryKeyMode, *fields: str, whitelist: frozenset[str] = frozenset()
) -> Settings:
    return Settings(mode, fields, whitelist, False, dt.UTC)


def record(key: object = None, value: object = None, offset: int = 7) -> SinkRecord:
    return SinkRecord(
        "orders",
        2,
        offset,
        value,
        value_schema=VALUE if isinstance(value, Struct) else None,
        key=key,
        key_schema=KEY if isinstance(key, Struct) else (Schema.INT64 if key is not None else None),
    )


def row_value(i: int = 5, name: str | None = "a\x00b") -> Struct:
    return Struct(VALUE).put("id", i).put("name", name).put("at", dt.time(1, 2, 3))


T = TableId("orders")


def test_record_key_struct_plan_and_row() -> None:
    p = plan(settings(PrimaryKeyMode.RECORD_KEY), PG, T, KEY, VALUE, tombstone=False)
    assert (p.key_names, p.other_names) == (("id",), ("name", "qty", "at"))
    rec = record(Struct(KEY).put("id", 9), row_value())
    # The NUL goes, the null with a default takes it.
    assert p.row(rec) == (9, "ab", 1, dt.time(1, 2, 3))


def test_record_key_primitive_needs_one_pk_field() -> None:
    with pytest.raises(DataError, match="exactly one"):
        plan(settings(PrimaryKeyMode.RECORD_KEY), PG, T, Schema.INT64, VALUE, tombstone=False)
    p = plan(settings(PrimaryKeyMode.RECORD_KEY, "pk"), PG, T, Schema.INT64, VALUE, tombstone=False)
    assert p.key_names == ("pk",)
    assert p.row(record(3, row_value()))[0] == 3


def test_kafka_coordinates_and_whitelist() -> None:
    s = settings(PrimaryKeyMode.KAFKA, whitelist=frozenset({"name"}))
    p = plan(s, PG, T, None, VALUE, tombstone=False)
    assert p.key_names == ("__connect_topic", "__connect_partition", "__connect_offset")
    assert p.other_names == ("name",)
    assert p.row(record(None, row_value(), offset=41)) == ("orders", 2, 41, "ab")


def test_record_value_keys_in_schema_order() -> None:
    p = plan(
        settings(PrimaryKeyMode.RECORD_VALUE, "name", "id"), PG, T, None, VALUE, tombstone=False
    )
    assert p.key_names == ("id", "name")
    assert p.row(record(None, row_value(4, "x"))) == (4, "x", 1, dt.time(1, 2, 3))


def test_hostile_records_are_data_errors_naming_the_record() -> None:
    p = plan(settings(PrimaryKeyMode.RECORD_KEY), PG, T, KEY, VALUE, tombstone=False)
    with pytest.raises(DataError, match=r"topic .orders. partition 2 offset 7.*Struct"):
        p.row(_with_value("text"))
    with pytest.raises(DataError, match="no key schema"):
        plan(settings(PrimaryKeyMode.RECORD_KEY), PG, T, None, VALUE, tombstone=False)
    with pytest.raises(DataError, match="must be a STRUCT"):
        plan(settings(PrimaryKeyMode.NONE), PG, T, None, Schema.STRING, tombstone=False)
    nul_named = SchemaBuilder.struct().field("a\x00", Schema.INT32).build()
    with pytest.raises(DataError, match="NUL"):
        plan(settings(PrimaryKeyMode.NONE), PG, T, None, nul_named, tombstone=False)
    nested = SchemaBuilder.struct().field("inner", VALUE).build()
    with pytest.raises(DataError, match=r"'inner' is a STRUCT.*Flatten"):
        plan(settings(PrimaryKeyMode.NONE), PG, T, None, nested, tombstone=False)


def _with_value(value: object) -> SinkRecord:
    return SinkRecord(
        "orders", 2, 7, value, value_schema=VALUE, key=Struct(KEY).put("id", 1), key_schema=KEY
    )


def test_time_moves_into_db_timezone() -> None:
    paris = Settings(PrimaryKeyMode.NONE, (), frozenset(), False, zoneinfo.ZoneInfo("Europe/Paris"))
    p = plan(paris, PG, T, None, VALUE, tombstone=False)
    assert p.row(record(None, row_value()))[-1] == dt.time(2, 2, 3)


def test_decimal_and_timestamps_pass_as_python_values() -> None:
    schema = (
        SchemaBuilder.struct().field("d", Decimal.schema(2)).field("ts", Timestamp.SCHEMA).build()
    )
    when = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    value = Struct(schema).put("d", decimal.Decimal("1.25")).put("ts", when)
    p = plan(settings(PrimaryKeyMode.NONE), PG, T, None, schema, tombstone=False)
    rec = SinkRecord("orders", 0, 0, value, value_schema=schema)
    assert p.row(rec) == (decimal.Decimal("1.25"), when)


def test_runs_keep_order_per_table_and_split_on_shape_and_deletes() -> None:
    s = settings(PrimaryKeyMode.RECORD_KEY)
    v2 = SchemaBuilder.struct().name("v").field("id", Schema.INT64).build()
    p1 = plan(s, PG, T, KEY, VALUE, tombstone=False)
    p2 = plan(s, PG, T, KEY, v2, tombstone=False)
    pd = plan(s, PG, T, KEY, None, tombstone=True)
    other = plan(s, PG, TableId("other"), KEY, VALUE, tombstone=False)
    rec = record(Struct(KEY).put("id", 1), row_value())
    ops = [
        Op(rec, p1, False, (1,)),
        Op(rec, other, False, (1,)),
        Op(rec, p1, False, (2,)),
        Op(rec, p2, False, (3,)),
        Op(rec, pd, True, (1,)),
        Op(rec, p1, False, (1,)),
    ]
    runs = _runs(ops)
    assert [[op.row for op in run] for run in runs] == [
        [(1,), (2,)],
        [(3,)],
        [(1,)],
        [(1,)],
        [(1,)],
    ]
    assert runs[-1][0].plan is other


def test_a_repeated_key_keeps_its_last_row() -> None:
    rec = record(Struct(KEY).put("id", 1), row_value())
    p = plan(settings(PrimaryKeyMode.RECORD_KEY), PG, T, KEY, VALUE, tombstone=False)
    ops = [Op(rec, p, False, (1, "a")), Op(rec, p, False, (2, "b")), Op(rec, p, False, (1, "c"))]
    assert sorted(op.row for op in _last_per_key(ops, 1)) == [(1, "c"), (2, "b")]


def test_kafka_key_columns_named_by_pk_fields_keep_their_values() -> None:
    p = plan(settings(PrimaryKeyMode.KAFKA, "t", "p", "o"), PG, T, None, VALUE, tombstone=False)
    assert p.key_names == ("o", "p", "t")  # Confluent orders other key columns by name
    assert p.row(record(None, row_value(), offset=41))[:3] == (41, 2, "orders")


def test_a_record_without_a_value_schema_cannot_be_written() -> None:
    with pytest.raises(DataError, match="no schema"):
        plan(settings(PrimaryKeyMode.NONE), PG, T, None, None, tombstone=False)
