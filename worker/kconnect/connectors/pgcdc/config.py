"""PostgresCdcSource's configuration: Debezium's keys for what it implements.

Values are checked when the connector is validated, before anything connects: a bad value is a
`ConfigError` naming the key, the value and what is expected. `plugin.name` accepts `pgoutput`
only (the plugin built into PostgreSQL 10+). `database.password` is a `SecretStr`: it is shown
nowhere, and the connection string handed to libpq is never logged.
"""

from __future__ import annotations

import re
from typing import Literal, Self

from pydantic import Field, SecretStr, field_validator, model_validator

from kconnect.api.config import ConnectorConfig
from kconnect.connectors.pgcdc.types import DecimalMode, TimePrecisionMode

SnapshotMode = Literal["initial", "no_data", "never", "when_needed", "schema_only"]
PublicationMode = Literal["all_tables", "disabled", "filtered"]
_OPERATIONS = {"c", "u", "d", "t", "none"}
_NAME = re.compile(r"[a-z0-9_]+")


def _regex_list(value: str, key: str) -> tuple[re.Pattern[str], ...]:
    patterns = []
    for item in (p.strip() for p in value.split(",")):
        if not item:
            continue
        try:
            patterns.append(re.compile(item))
        except re.error as e:
            raise ValueError(f"'{item}' in {key} is not a regular expression: {e}") from None
    return tuple(patterns)


class PostgresCdcConfig(ConnectorConfig):
    database_hostname: str = Field(
        alias="database.hostname", description="Host name or address of the PostgreSQL server"
    )
    database_port: int = Field(
        5432, alias="database.port", description="Port of the PostgreSQL server", ge=1, le=65535
    )
    database_user: str = Field(
        alias="database.user",
        description="A user with the REPLICATION attribute (and CREATE on the database when "
        "publication.autocreate.mode creates the publication)",
    )
    database_password: SecretStr = Field(
        SecretStr(""), alias="database.password", description="Password of database.user"
    )
    database_dbname: str = Field(alias="database.dbname", description="The database to capture")
    database_sslmode: Literal[
        "disable", "allow", "prefer", "require", "verify-ca", "verify-full"
    ] = Field(
        "prefer", alias="database.sslmode", description="libpq's sslmode for both connections"
    )
    topic_prefix: str = Field(
        alias="topic.prefix",
        description="Names the server: the prefix of every topic, and the source partition",
    )
    plugin_name: str = Field(
        "pgoutput",
        alias="plugin.name",
        description="The logical decoding plugin: only pgoutput (built into PostgreSQL 10+)",
    )
    slot_name: str = Field(
        "debezium",
        alias="slot.name",
        description="The logical replication slot, created when missing",
    )
    publication_name: str = Field(
        "dbz_publication", alias="publication.name", description="The publication the slot streams"
    )
    publication_autocreate_mode: PublicationMode = Field(
        "all_tables",
        alias="publication.autocreate.mode",
        description=(
            "all_tables: create FOR ALL TABLES when missing; filtered: create or SET TABLE to "
            "the captured tables; disabled: it must exist"
        ),
    )
    table_include_list: str = Field(
        "",
        alias="table.include.list",
        description="Comma-separated regular expressions of schema.table to capture (whole names)",
    )
    table_exclude_list: str = Field(
        "",
        alias="table.exclude.list",
        description="Comma-separated regular expressions of schema.table not to capture",
    )
    schema_include_list: str = Field(
        "",
        alias="schema.include.list",
        description="Comma-separated regular expressions of schemas to capture",
    )
    schema_exclude_list: str = Field(
        "",
        alias="schema.exclude.list",
        description="Comma-separated regular expressions of schemas not to capture",
    )
    column_include_list: str = Field(
        "",
        alias="column.include.list",
        description="Comma-separated regular expressions of schema.table.column to keep",
    )
    column_exclude_list: str = Field(
        "",
        alias="column.exclude.list",
        description="Comma-separated regular expressions of schema.table.column to leave out",
    )
    snapshot_mode: SnapshotMode = Field(
        "initial",
        alias="snapshot.mode",
        description="initial, no_data (alias schema_only), never or when_needed",
    )
    heartbeat_interval_ms: int = Field(
        0,
        alias="heartbeat.interval.ms",
        description="Emit a heartbeat record this often (0: never); it also moves an idle slot on",
        ge=0,
    )
    heartbeat_topics_prefix: str = Field(
        "__debezium-heartbeat",
        alias="topic.heartbeat.prefix",
        description="Heartbeats go to <this>.<topic.prefix>",
    )
    decimal_handling_mode: DecimalMode = Field(
        "precise",
        alias="decimal.handling.mode",
        description="precise (Connect Decimal), double or string",
    )
    time_precision_mode: TimePrecisionMode = Field(
        "adaptive",
        alias="time.precision.mode",
        description="adaptive, adaptive_time_microseconds or connect",
    )
    tombstones_on_delete: bool = Field(
        True,
        alias="tombstones.on.delete",
        description="Follow each delete with a tombstone (null value)",
    )
    skipped_operations: str = Field(
        "t",
        alias="skipped.operations",
        description="Comma-separated operations not to emit: c, u, d, t, or none",
    )
    provide_transaction_metadata: bool = Field(
        False,
        alias="provide.transaction.metadata",
        description=(
            "BEGIN/END records on <topic.prefix>.<topic.transaction>, and the envelope's "
            "transaction block"
        ),
    )
    topic_transaction: str = Field(
        "transaction",
        alias="topic.transaction",
        description="Suffix of the transaction metadata topic",
    )
    slot_max_retries: int = Field(
        6,
        alias="slot.max.retries",
        description="How often to retry a slot another reader still holds",
        ge=0,
    )
    slot_retry_delay_ms: int = Field(
        10_000, alias="slot.retry.delay.ms", description="Wait between those retries", ge=0
    )
    max_batch_size: int = Field(
        2048, alias="max.batch.size", description="Most records one poll returns", ge=1
    )
    poll_interval_ms: int = Field(
        500, alias="poll.interval.ms", description="How long a poll waits for a first change", ge=1
    )
    snapshot_fetch_size: int = Field(
        10240,
        alias="snapshot.fetch.size",
        description="Rows fetched at a time from a table being snapshotted",
        ge=1,
    )
    status_update_interval_ms: int = Field(
        10_000,
        alias="status.update.interval.ms",
        description="Send standby status to the server at least this often",
        ge=1,
    )

    @field_validator("plugin_name")
    @classmethod
    def _pgoutput_only(cls, value: str) -> str:
        if value != "pgoutput":
            raise ValueError(
                "expected 'pgoutput' (the logical decoding plugin built into PostgreSQL); "
                "decoderbufs and wal2json are not supported"
            )
        return value

    @field_validator("slot_name")
    @classmethod
    def _slot_name(cls, value: str) -> str:
        if not _NAME.fullmatch(value) or len(value) > 63:
            raise ValueError(
                "expected a replication slot name: lower-case letters, digits and underscores, "
                "at most 63 characters"
            )
        return value

    @field_validator("topic_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if not value or not re.fullmatch(r"[A-Za-z0-9._-]+", value):
            raise ValueError(
                "expected a non-empty name of letters, digits, '.', '_' and '-' (it starts "
                "every topic name)"
            )
        return value

    @field_validator("skipped_operations")
    @classmethod
    def _operations(cls, value: str) -> str:
        ops = {o.strip() for o in value.split(",") if o.strip()}
        bad = ops - _OPERATIONS
        if bad:
            raise ValueError(
                f"unknown operation(s) {', '.join(sorted(bad))}; expected a comma-separated "
                "list of c, u, d, t, or none"
            )
        return value

    @model_validator(mode="after")
    def _lists(self) -> Self:
        for key, value in (
            ("table.include.list", self.table_include_list),
            ("table.exclude.list", self.table_exclude_list),
            ("schema.include.list", self.schema_include_list),
            ("schema.exclude.list", self.schema_exclude_list),
            ("column.include.list", self.column_include_list),
            ("column.exclude.list", self.column_exclude_list),
        ):
            _regex_list(value, key)
        if self.table_include_list and self.table_exclude_list:
            raise ValueError(
                "'table.include.list' and 'table.exclude.list' cannot both be set; expected one"
            )
        if self.column_include_list and self.column_exclude_list:
            raise ValueError(
                "'column.include.list' and 'column.exclude.list' cannot both be set; expected one"
            )
        return self

    @property
    def skipped(self) -> frozenset[str]:
        return frozenset(o.strip() for o in self.skipped_operations.split(",")) - {"none", ""}

    @property
    def snapshot(self) -> SnapshotMode:
        return "no_data" if self.snapshot_mode == "schema_only" else self.snapshot_mode


class TableFilter:
    """Debezium's table and column filters: each pattern must match the whole identifier
    (`schema.table`, `schema.table.column`), case-sensitively."""

    def __init__(self, config: PostgresCdcConfig) -> None:
        self._tin = _regex_list(config.table_include_list, "table.include.list")
        self._tex = _regex_list(config.table_exclude_list, "table.exclude.list")
        self._sin = _regex_list(config.schema_include_list, "schema.include.list")
        self._sex = _regex_list(config.schema_exclude_list, "schema.exclude.list")
        self._cin = _regex_list(config.column_include_list, "column.include.list")
        self._cex = _regex_list(config.column_exclude_list, "column.exclude.list")

    @staticmethod
    def _any(patterns: tuple[re.Pattern[str], ...], text: str) -> bool:
        return any(p.fullmatch(text) for p in patterns)

    def table(self, schema: str, table: str) -> bool:
        if schema in ("pg_catalog", "information_schema"):
            return False
        if self._sin and not self._any(self._sin, schema):
            return False
        if self._sex and self._any(self._sex, schema):
            return False
        name = f"{schema}.{table}"
        if self._tin:
            return self._any(self._tin, name)
        return not self._any(self._tex, name)

    def column(self, schema: str, table: str, column: str) -> bool:
        name = f"{schema}.{table}.{column}"
        if self._cin:
            return self._any(self._cin, name)
        return not self._any(self._cex, name)

    @property
    def table_list_set(self) -> bool:
        return bool(self._tin or self._tex or self._sin or self._sex)
