"""What is particular to a database, behind the small `Dialect` interface; PostgreSQL first.

A dialect turns names and schemas into SQL text and tells errors that may pass from those that
will not. It does no I/O: the writer runs what it returns.

Invariants of `PostgreSqlDialect`:

- **Identifiers are always quoted and escaped** (`"` doubled), whatever `quote.sql.identifiers`
  says: under `never` a name is folded to lower case first, which is what PostgreSQL does to an
  unquoted name, so the same tables are reached and no field name can inject SQL. `%` is doubled
  too, since psycopg2 reads `%` in a statement that has parameters. A name with a NUL character
  is a `DataError`; a name longer than PostgreSQL's 63 bytes is cut there, as the server would.
- **Values are never written into SQL text**: statements carry `%s` placeholders, defaults in
  `CREATE TABLE` included.
- Connect types map as Confluent's `PostgreSqlDatabaseDialect` maps them (INT8 and INT16 →
  SMALLINT, INT32 → INT, INT64 → BIGINT, FLOAT32 → REAL, FLOAT64 → DOUBLE PRECISION, BOOLEAN,
  STRING → TEXT, BYTES → BYTEA, Decimal → DECIMAL, Date → DATE, Time → TIME, Timestamp →
  TIMESTAMP, ARRAY of those → `<type>[]`); MAP and STRUCT have no column type (`DataError`).
- An error may pass (`is_transient`) when it is about the connection or the server's state
  (SQLSTATE classes 08, 40, 53, 57, 58, or no SQLSTATE at all, as when the connection dropped);
  bad data, a constraint, a missing column or table will not pass however often it is retried.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

import psycopg2

from kconnect.data.schema import DATE_NAME, DECIMAL_NAME, TIME_NAME, TIMESTAMP_NAME, Schema, Type
from kconnect.errors import DataError

MAX_IDENTIFIER_BYTES = 63


@dataclass(frozen=True)
class TableId:
    """A table's name, and the schema (and database) it is in when the name gives them."""

    table: str
    schema: str | None = None
    catalog: str | None = None

    def __str__(self) -> str:
        return ".".join(p for p in (self.catalog, self.schema, self.table) if p is not None)


@dataclass(frozen=True)
class Column:
    """A column a record gives: its name, its Connect schema, and whether it is a key column."""

    name: str
    schema: Schema
    is_key: bool


@dataclass(frozen=True)
class ColumnInfo:
    """A column as the database has it."""

    name: str
    type_name: str
    nullable: bool


Statement = tuple[str, tuple[object, ...]]


class Dialect(ABC):
    """SQL text and error kinds for one database."""

    name: str

    @abstractmethod
    def table_id(self, name: str) -> TableId:
        """The table a `table.name.format` result names (`schema.table` when dotted)."""

    @abstractmethod
    def identifier(self, name: str) -> str:
        """The name as the database stores it (case folding, length limit)."""

    @abstractmethod
    def quote(self, name: str) -> str:
        """The name quoted and escaped for a statement."""

    @abstractmethod
    def qualified(self, table: TableId) -> str: ...

    @abstractmethod
    def sql_type(self, column: Column) -> str:
        """The column type for a Connect schema; `DataError` for one without."""

    @abstractmethod
    def describe(self, table: TableId) -> Statement:
        """A query returning (name, type, nullable) for each column of `table`, no rows when it
        doesn't exist."""

    @abstractmethod
    def exists(self, table: TableId) -> Statement:
        """A query returning one row, true when the table exists."""

    @abstractmethod
    def create_table(self, table: TableId, columns: Sequence[Column]) -> Statement: ...

    @abstractmethod
    def add_columns(self, table: TableId, columns: Sequence[Column]) -> list[Statement]: ...

    @abstractmethod
    def insert(self, table: TableId, keys: Sequence[str], others: Sequence[str]) -> str:
        """A multi-row INSERT with one `VALUES %s` for all rows."""

    @abstractmethod
    def upsert(self, table: TableId, keys: Sequence[str], others: Sequence[str]) -> str:
        """A multi-row insert-or-update on the key columns, one `VALUES %s` for all rows."""

    @abstractmethod
    def update(self, table: TableId, keys: Sequence[str], others: Sequence[str]) -> str:
        """A one-row UPDATE: the other columns' values, then the keys', as `%s`."""

    @abstractmethod
    def delete(self, table: TableId, keys: Sequence[str]) -> str:
        """A one-row DELETE by the key columns' values, as `%s`."""

    @abstractmethod
    def is_transient(self, error: BaseException) -> bool:
        """Whether the same write may succeed later (the connection, the server's state)."""


_TRANSIENT_CLASSES = frozenset({"08", "40", "53", "57", "58"})

_PRIMITIVE_TYPES = {
    Type.INT8: "SMALLINT",
    Type.INT16: "SMALLINT",
    Type.INT32: "INT",
    Type.INT64: "BIGINT",
    Type.FLOAT32: "REAL",
    Type.FLOAT64: "DOUBLE PRECISION",
    Type.BOOLEAN: "BOOLEAN",
    Type.STRING: "TEXT",
    Type.BYTES: "BYTEA",
}
_LOGICAL_TYPES = {
    DECIMAL_NAME: "DECIMAL",
    DATE_NAME: "DATE",
    TIME_NAME: "TIME",
    TIMESTAMP_NAME: "TIMESTAMP",
}


def _cut(name: str, limit: int) -> str:
    raw = name.encode("utf-8")
    if len(raw) <= limit:
        return name
    return raw[:limit].decode("utf-8", "ignore")


class PostgreSqlDialect(Dialect):
    name = "PostgreSqlDatabaseDialect"

    def __init__(self, *, fold_case: bool = False) -> None:
        self._fold = fold_case

    def table_id(self, name: str) -> TableId:
        parts = name.split(".")
        if any(not p for p in parts) or len(parts) > 3:
            raise DataError(
                f"table name '{name}' is not of the form table, schema.table or "
                "database.schema.table"
            )
        table = self.identifier(parts[-1])
        schema = self.identifier(parts[-2]) if len(parts) >= 2 else None
        catalog = self.identifier(parts[-3]) if len(parts) == 3 else None
        return TableId(table, schema, catalog)

    def identifier(self, name: str) -> str:
        if "\x00" in name:
            raise DataError(f"the name {name!r} holds a NUL character, which SQL names cannot")
        if not name:
            raise DataError("an empty name cannot name a table or column")
        return _cut(name.lower() if self._fold else name, MAX_IDENTIFIER_BYTES)

    def quote(self, name: str) -> str:
        escaped = self.identifier(name).replace('"', '""').replace("%", "%%")
        return f'"{escaped}"'

    def qualified(self, table: TableId) -> str:
        parts = (table.catalog, table.schema, table.table)
        return ".".join(self.quote(p) for p in parts if p is not None)

    def _regclass_text(self, table: TableId) -> str:
        # to_regclass reads a name as SQL does: quoted parts, "" for a quote. Passed as a
        # parameter, so `%` needs no doubling here.
        parts = (table.catalog, table.schema, table.table)
        return ".".join('"' + p.replace('"', '""') + '"' for p in parts if p is not None)

    def sql_type(self, column: Column) -> str:
        schema = column.schema
        if schema.name in _LOGICAL_TYPES:
            return _LOGICAL_TYPES[schema.name]
        primitive = _PRIMITIVE_TYPES.get(schema.type)
        if primitive is not None:
            return primitive
        if schema.type is Type.ARRAY and schema.value_schema is not None:
            inner = Column(column.name, schema.value_schema, column.is_key)
            if schema.value_schema.type is Type.ARRAY:
                return self.sql_type(inner)  # PostgreSQL arrays are n-dimensional already
            return self.sql_type(inner) + "[]"
        raise DataError(
            f"column '{column.name}': a Connect {schema.type.value.upper()} field has no "
            "PostgreSQL column type (supported: primitives, Decimal, Date, Time, Timestamp and "
            "arrays of them)"
        )

    def describe(self, table: TableId) -> Statement:
        return (
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull "
            "FROM pg_catalog.pg_attribute a "
            "WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped "
            "ORDER BY a.attnum",
            (self._regclass_text(table),),
        )

    def exists(self, table: TableId) -> Statement:
        return ("SELECT to_regclass(%s) IS NOT NULL", (self._regclass_text(table),))

    def _column_definition(self, column: Column) -> Statement:
        parts = [self.quote(column.name), self.sql_type(column)]
        params: tuple[object, ...] = ()
        default = column.schema.default
        if default is not None and column.schema.type not in (Type.ARRAY, Type.MAP, Type.STRUCT):
            parts.append("DEFAULT %s")
            params = (default,)
        parts.append("NULL" if column.schema.optional and not column.is_key else "NOT NULL")
        return " ".join(parts), params

    def create_table(self, table: TableId, columns: Sequence[Column]) -> Statement:
        definitions: list[str] = []
        params: list[object] = []
        for column in columns:
            text, values = self._column_definition(column)
            definitions.append(text)
            params.extend(values)
        keys = [self.quote(c.name) for c in columns if c.is_key]
        if keys:
            definitions.append(f"PRIMARY KEY({', '.join(keys)})")
        body = ",\n".join(definitions)
        return f"CREATE TABLE IF NOT EXISTS {self.qualified(table)} (\n{body})", tuple(params)

    def add_columns(self, table: TableId, columns: Sequence[Column]) -> list[Statement]:
        out: list[Statement] = []
        for column in columns:
            text, params = self._column_definition(column)
            out.append(
                (f"ALTER TABLE {self.qualified(table)} ADD COLUMN IF NOT EXISTS {text}", params)
            )
        return out

    def insert(self, table: TableId, keys: Sequence[str], others: Sequence[str]) -> str:
        columns = ",".join(self.quote(c) for c in (*keys, *others))
        return f"INSERT INTO {self.qualified(table)} ({columns}) VALUES %s"  # noqa: S608 - identifiers quoted

    def upsert(self, table: TableId, keys: Sequence[str], others: Sequence[str]) -> str:
        conflict = ",".join(self.quote(c) for c in keys)
        base = self.insert(table, keys, others) + f" ON CONFLICT ({conflict})"
        if not others:
            return base + " DO NOTHING"
        sets = ",".join(f"{self.quote(c)}=EXCLUDED.{self.quote(c)}" for c in others)
        return base + f" DO UPDATE SET {sets}"

    def update(self, table: TableId, keys: Sequence[str], others: Sequence[str]) -> str:
        sets = ", ".join(f"{self.quote(c)} = %s" for c in others)
        where = " AND ".join(f"{self.quote(c)} = %s" for c in keys)
        return f"UPDATE {self.qualified(table)} SET {sets} WHERE {where}"  # noqa: S608 - identifiers quoted

    def delete(self, table: TableId, keys: Sequence[str]) -> str:
        where = " AND ".join(f"{self.quote(c)} = %s" for c in keys)
        return f"DELETE FROM {self.qualified(table)} WHERE {where}"  # noqa: S608 - identifiers quoted

    def is_transient(self, error: BaseException) -> bool:
        if isinstance(error, psycopg2.InterfaceError):
            return True  # the connection is closed
        if not isinstance(error, psycopg2.Error):
            return False
        code = error.pgcode
        if code is None:
            # No SQLSTATE: the client lost the server (connection refused, reset, timed out).
            return isinstance(error, psycopg2.OperationalError)
        return code[:2] in _TRANSIENT_CLASSES


def describe_error(error: BaseException) -> str:
    """A database error as a sentence: the server's message, and the table, column and
    constraint it names. Never the statement's values beyond what the server quotes."""
    if not isinstance(error, psycopg2.Error):
        return str(error)
    diag = error.diag
    primary = diag.message_primary or str(error).strip().splitlines()[0] if str(error) else ""
    parts = [primary or type(error).__name__]
    where = []
    if diag.schema_name and diag.table_name:
        where.append(f"table {diag.schema_name}.{diag.table_name}")
    elif diag.table_name:
        where.append(f"table {diag.table_name}")
    if diag.column_name:
        where.append(f"column {diag.column_name}")
    if diag.constraint_name:
        where.append(f"constraint {diag.constraint_name}")
    if where:
        parts.append("(" + ", ".join(where) + ")")
    if diag.message_detail:
        parts.append(f"- {diag.message_detail}")
    if error.pgcode:
        parts.append(f"[SQLSTATE {error.pgcode}]")
    return " ".join(parts)
