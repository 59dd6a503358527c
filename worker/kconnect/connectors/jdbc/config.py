"""JdbcSink's keys: Confluent's `JdbcSinkConfig`, with its names, defaults and rules.

Rules over several keys are checked here, before a task starts, with Confluent's wording where it
has one: `delete.enabled=true` needs `pk.mode=record_key`; `upsert` and `update` need a primary
key (`pk.mode` other than `none`); `pk.mode=kafka` takes no `pk.fields` or exactly three.

`connection.password` is a `SecretStr`: it shows as `PASSWORD` in the config definitions, is
hidden in `/config/validate` answers, and never appears in a message. A bad `connection.url` is
reported with its `password` / `sslpassword` parameters masked, as a rule over the config (not
on the key, whose error would quote the value as written).
"""

from __future__ import annotations

import enum
import zoneinfo
from typing import Self

from pydantic import Field, SecretStr, field_validator, model_validator

from kconnect.api.config import ConnectorConfig
from kconnect.config.connector import split_list
from kconnect.connectors.jdbc import url as jdbc_url

DEFAULT_KAFKA_PK_NAMES = ("__connect_topic", "__connect_partition", "__connect_offset")
POSTGRES_DIALECT = "PostgreSqlDatabaseDialect"


class InsertMode(enum.Enum):
    INSERT = "insert"
    UPSERT = "upsert"
    UPDATE = "update"


class PrimaryKeyMode(enum.Enum):
    NONE = "none"
    KAFKA = "kafka"
    RECORD_KEY = "record_key"
    RECORD_VALUE = "record_value"


class QuoteMethod(enum.Enum):
    ALWAYS = "always"
    NEVER = "never"


def _lower(value: object) -> object:
    return value.strip().lower() if isinstance(value, str) else value


_CONNECTION = "Connection"
_WRITES = "Writes"
_MAPPING = "Data Mapping"
_DDL = "DDL Support"
_RETRIES = "Retries"


class JdbcSinkConfig(ConnectorConfig):
    connection_url: str = Field(
        alias="connection.url",
        min_length=1,
        description=(
            "JDBC connection URL, jdbc:postgresql://host[:port]/database[?key=value&...]. The "
            "user and password may be given as its `user` and `password` parameters."
        ),
        json_schema_extra={"importance": "HIGH", "group": _CONNECTION, "display_name": "JDBC URL"},
    )
    connection_user: str | None = Field(
        None,
        alias="connection.user",
        description="JDBC connection user.",
        json_schema_extra={"importance": "HIGH", "group": _CONNECTION},
    )
    connection_password: SecretStr | None = Field(
        None,
        alias="connection.password",
        description="JDBC connection password.",
        json_schema_extra={"importance": "HIGH", "group": _CONNECTION},
    )
    dialect_name: str = Field(
        "",
        alias="dialect.name",
        description=(
            "The database dialect; empty to choose it from the URL. Only "
            f"{POSTGRES_DIALECT} is available."
        ),
        json_schema_extra={"importance": "LOW", "group": _CONNECTION},
    )
    connection_attempts: int = Field(
        3,
        ge=1,
        alias="connection.attempts",
        description="The maximum number of attempts to get a valid JDBC connection.",
        json_schema_extra={"importance": "LOW", "group": _CONNECTION},
    )
    connection_backoff_ms: int = Field(
        10_000,
        ge=0,
        alias="connection.backoff.ms",
        description="The backoff time in milliseconds between connection attempts.",
        json_schema_extra={"importance": "LOW", "group": _CONNECTION, "type": "LONG"},
    )
    insert_mode: InsertMode = Field(
        InsertMode.INSERT,
        alias="insert.mode",
        description=(
            "The insertion mode to use: insert (INSERT), upsert (INSERT ... ON CONFLICT (key) DO "
            "UPDATE) or update (UPDATE ... WHERE key)."
        ),
        json_schema_extra={"importance": "HIGH", "group": _WRITES},
    )
    batch_size: int = Field(
        3000,
        ge=0,
        alias="batch.size",
        description=(
            "Specifies how many records to attempt to batch together for insertion into the "
            "destination table, when possible."
        ),
        json_schema_extra={"importance": "MEDIUM", "group": _WRITES},
    )
    delete_enabled: bool = Field(
        False,
        alias="delete.enabled",
        description="Whether to treat null record values as deletes. Requires pk.mode=record_key.",
        json_schema_extra={"importance": "MEDIUM", "group": _WRITES},
    )
    table_name_format: str = Field(
        "${topic}",
        min_length=1,
        alias="table.name.format",
        description=(
            "A format string for the destination table name, which may contain '${topic}' as a "
            "placeholder for the originating topic name. A dotted name is schema.table."
        ),
        json_schema_extra={"importance": "MEDIUM", "group": _MAPPING},
    )
    pk_mode: PrimaryKeyMode = Field(
        PrimaryKeyMode.NONE,
        alias="pk.mode",
        description=(
            "The primary key mode: none, kafka (__connect_topic, __connect_partition, "
            "__connect_offset), record_key (fields of the key, or the key itself) or "
            "record_value (fields of the value)."
        ),
        json_schema_extra={"importance": "HIGH", "group": _MAPPING},
    )
    pk_fields: str = Field(
        "",
        alias="pk.fields",
        description=(
            "List of comma-separated primary key field names; their meaning depends on pk.mode."
        ),
        json_schema_extra={"importance": "MEDIUM", "group": _MAPPING, "type": "LIST"},
    )
    fields_whitelist: str = Field(
        "",
        alias="fields.whitelist",
        description=(
            "List of comma-separated record value field names. If empty, all fields from the "
            "record value are utilized, otherwise used to filter to the desired fields."
        ),
        json_schema_extra={"importance": "MEDIUM", "group": _MAPPING, "type": "LIST"},
    )
    db_timezone: str = Field(
        "UTC",
        alias="db.timezone",
        description=(
            "Name of the time zone the connector uses when inserting time-based values: the "
            "session's TimeZone, in which TIMESTAMP columns get their wall-clock time."
        ),
        json_schema_extra={"importance": "MEDIUM", "group": _MAPPING},
    )
    auto_create: bool = Field(
        False,
        alias="auto.create",
        description=(
            "Whether to automatically create the destination table based on record schema if "
            "it is found to be missing by issuing CREATE."
        ),
        json_schema_extra={"importance": "MEDIUM", "group": _DDL},
    )
    auto_evolve: bool = Field(
        False,
        alias="auto.evolve",
        description=(
            "Whether to automatically add columns in the table schema when found to be missing "
            "relative to the record schema by issuing ALTER."
        ),
        json_schema_extra={"importance": "MEDIUM", "group": _DDL},
    )
    quote_sql_identifiers: QuoteMethod = Field(
        QuoteMethod.ALWAYS,
        alias="quote.sql.identifiers",
        description=(
            "When to quote table names, column names and other identifiers: always (names as "
            "they are) or never (names folded to lower case, as PostgreSQL folds unquoted "
            "ones). Identifiers are escaped either way."
        ),
        json_schema_extra={"importance": "MEDIUM", "group": _DDL},
    )
    max_retries: int = Field(
        10,
        ge=0,
        alias="max.retries",
        description="The maximum number of times to retry on errors before failing the task.",
        json_schema_extra={"importance": "MEDIUM", "group": _RETRIES},
    )
    retry_backoff_ms: int = Field(
        3000,
        ge=0,
        alias="retry.backoff.ms",
        description=(
            "The time in milliseconds to wait following an error before a retry attempt is made."
        ),
        json_schema_extra={"importance": "MEDIUM", "group": _RETRIES},
    )

    @field_validator("insert_mode", "pk_mode", "quote_sql_identifiers", mode="before")
    @classmethod
    def _case_insensitive(cls, value: object) -> object:
        return _lower(value)

    @field_validator("db_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError("expected a time zone ID such as UTC or Europe/Paris") from None
        return value

    @field_validator("dialect_name")
    @classmethod
    def _postgres_only(cls, value: str) -> str:
        if value not in ("", POSTGRES_DIALECT):
            raise ValueError(f"expected {POSTGRES_DIALECT} (or nothing)")
        return value

    @model_validator(mode="after")
    def _rules(self) -> Self:
        try:
            jdbc_url.parse(self.connection_url)
        except ValueError as e:
            raise ValueError(f"connection.url: {e}") from None
        if self.delete_enabled and self.pk_mode is not PrimaryKeyMode.RECORD_KEY:
            raise ValueError(
                "Primary key mode must be 'record_key' when delete support is enabled "
                f"(delete.enabled=true, pk.mode={self.pk_mode.value})"
            )
        if self.insert_mode is not InsertMode.INSERT and self.pk_mode is PrimaryKeyMode.NONE:
            raise ValueError(
                f"insert.mode={self.insert_mode.value} needs the primary key columns: set "
                "pk.mode to record_key, record_value or kafka"
            )
        if self.pk_mode is PrimaryKeyMode.KAFKA and len(self.primary_key_fields) not in (0, 3):
            raise ValueError(
                "pk.mode=kafka takes either no pk.fields (for the defaults "
                f"{','.join(DEFAULT_KAFKA_PK_NAMES)}) or exactly 3, not "
                f"{','.join(self.primary_key_fields)}"
            )
        return self

    @property
    def primary_key_fields(self) -> list[str]:
        return split_list(self.pk_fields)

    @property
    def value_fields(self) -> frozenset[str]:
        """`fields.whitelist`; empty for all fields."""
        return frozenset(split_list(self.fields_whitelist))

    @property
    def connection_keywords(self) -> dict[str, str]:
        """libpq's keywords: the URL's, with the user and password keys added."""
        password = self.connection_password.get_secret_value() if self.connection_password else None
        return dict(
            jdbc_url.with_credentials(
                jdbc_url.parse(self.connection_url), self.connection_user, password
            )
        )

    @property
    def ignored_url_parameters(self) -> tuple[str, ...]:
        return jdbc_url.parse(self.connection_url).ignored

    @property
    def shown_url(self) -> str:
        """The URL as messages may show it: its secrets masked."""
        return jdbc_url.masked(self.connection_url)
