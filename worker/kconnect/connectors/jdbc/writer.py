"""The sink's database I/O: one connection, tables made to fit, batches in one transaction.

`write` takes the records of one `put` and either commits all of them in one transaction or
raises with nothing of them committed; `write_each` is the slow path after a failure that will
not pass: each record in its own savepoint, so that the records that fail are handed to the
caller and the rest still commit.

Order: records go to their tables in the order they came. Within a table, consecutive records
of the same shape (schemas, and write or delete) form a run; runs are written one after the
other, so a delete and a later re-insert of the same key keep their order, and records of
different schema versions are written with statements of their own columns. Within one
multi-row upsert a key that repeats keeps its last row (PostgreSQL refuses to change one row
twice in one statement; the last row is what writing them one by one would leave).

Tables: before a run is written, its table must have its columns. A missing table is created
(`auto.create`) and missing columns added (`auto.evolve`, only optional fields or fields with a
default, never a drop), in a transaction of their own with `IF NOT EXISTS`, so two tasks racing
to create the same table both succeed. What the table has is cached and read again after any
error.

The connection: opened on first use, `connection.attempts` times `connection.backoff.ms` apart;
its session TimeZone is `db.timezone`. Any error drops it, so the next write starts on a fresh
one. Messages name the URL with its password masked and never the password.
"""

from __future__ import annotations

import datetime as _dt
import logging
import threading
import zoneinfo
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import psycopg2
import psycopg2.extensions
import psycopg2.extras

from kconnect.api.records import SinkRecord
from kconnect.connectors.jdbc.config import InsertMode, JdbcSinkConfig
from kconnect.connectors.jdbc.dialect import ColumnInfo, Dialect, TableId
from kconnect.connectors.jdbc.rows import Row, RowPlan, Settings, plan, where
from kconnect.errors import ConnectError, DataError

log = logging.getLogger(__name__)

DEFAULT_CONNECT_TIMEOUT_S = "10"


class Op(NamedTuple):
    """One record to write: its plan, whether it deletes, and its row (or key) values."""

    record: SinkRecord
    plan: RowPlan
    delete: bool
    row: Row


class TableError(ConnectError):
    """A table is missing or lacks columns, and the config does not let the sink fix it."""


@dataclass
class _Table:
    columns: dict[str, ColumnInfo] = field(default_factory=dict)


class Writer:
    def __init__(self, config: JdbcSinkConfig, dialect: Dialect, stopping: threading.Event) -> None:
        self._config = config
        self._dialect = dialect
        self._stopping = stopping
        self._settings = Settings(
            pk_mode=config.pk_mode,
            pk_fields=tuple(config.primary_key_fields),
            value_fields=config.value_fields,
            delete_enabled=config.delete_enabled,
            timezone=_dt.UTC
            if config.db_timezone == "UTC"
            else zoneinfo.ZoneInfo(config.db_timezone),
        )
        self._plans: dict[tuple[str, object, object, bool], RowPlan] = {}
        self._tables: dict[TableId, _Table] = {}
        self._conn: Any = None

    @property
    def dialect(self) -> Dialect:
        return self._dialect

    # --- records to operations (no I/O)
    def prepare(
        self, records: Sequence[SinkRecord]
    ) -> tuple[list[Op], list[tuple[SinkRecord, DataError]]]:
        """Each record's operation, and the records that cannot be written, with why."""
        ops: list[Op] = []
        bad: list[tuple[SinkRecord, DataError]] = []
        fmt = self._config.table_name_format
        delete_enabled = self._config.delete_enabled
        plans = self._plans
        for record in records:
            tombstone = record.value is None
            try:
                if tombstone and not delete_enabled:
                    raise DataError(
                        f"the record at {where(record)} has a null value (a tombstone); a "
                        "tombstone deletes a row only with delete.enabled=true"
                    )
                name = fmt.replace("${topic}", record.topic)
                cache_key = (name, record.key_schema, record.value_schema, tombstone)
                row_plan = plans.get(cache_key)
                if row_plan is None:
                    row_plan = plan(
                        self._settings,
                        self._dialect,
                        self._dialect.table_id(name),
                        record.key_schema,
                        None if tombstone else record.value_schema,
                        tombstone=tombstone,
                    )
                    plans[cache_key] = row_plan
                row = row_plan.key(record) if tombstone else row_plan.row(record)
            except DataError as e:
                if "the record at " in str(e):
                    bad.append((record, e))
                else:
                    bad.append((record, DataError(f"the record at {where(record)}: {e}")))
                continue
            ops.append(Op(record, row_plan, tombstone, row))
        return ops, bad

    # --- the connection
    def _connection(self) -> Any:
        if self._conn is not None and not self._conn.closed:
            return self._conn
        keywords: dict[str, Any] = dict(self._config.connection_keywords)
        keywords.setdefault("connect_timeout", DEFAULT_CONNECT_TIMEOUT_S)
        attempts = self._config.connection_attempts
        backoff = self._config.connection_backoff_ms / 1000
        for attempt in range(1, attempts + 1):
            try:
                conn = psycopg2.connect(**keywords)
            except psycopg2.OperationalError as e:
                message = str(e).strip()
                if attempt >= attempts or self._stopping.is_set():
                    raise
                log.warning(
                    "Could not connect to %s (attempt %d of %d), trying again in %.1fs: %s",
                    self._config.shown_url,
                    attempt,
                    attempts,
                    backoff,
                    message,
                )
                if self._stopping.wait(backoff):
                    raise
                continue
            try:
                with conn.cursor() as cur:
                    cur.execute("SET TIME ZONE %s", (self._config.db_timezone,))
                conn.commit()
            except BaseException:
                conn.close()
                raise
            self._conn = conn
            log.info("Connected to %s", self._config.shown_url)
            return conn
        raise AssertionError("unreachable")

    def drop_connection(self) -> None:
        """Forget the connection (after an error) and what was read about the tables."""
        conn, self._conn = self._conn, None
        self._tables.clear()
        if conn is not None:
            try:
                conn.close()
            except psycopg2.Error:
                log.debug("Closing the connection failed", exc_info=True)

    def close(self) -> None:
        self.drop_connection()

    # --- tables
    def _describe(self, cur: Any, table: TableId) -> _Table | None:
        known = self._tables.get(table)
        if known is not None:
            return known
        sql, params = self._dialect.exists(table)
        cur.execute(sql, params)
        if not cur.fetchone()[0]:
            return None
        sql, params = self._dialect.describe(table)
        cur.execute(sql, params)
        described = _Table(
            {
                name: ColumnInfo(name, type_name, nullable)
                for name, type_name, nullable in cur.fetchall()
            }
        )
        self._tables[table] = described
        return described

    def ensure_tables(self, plans: Iterable[RowPlan]) -> None:
        """Make each plan's table have its columns (creating and evolving as configured), and
        commit that; `TableError` when the config forbids it."""
        conn = self._connection()
        with conn.cursor() as cur:
            for row_plan in _distinct(plans):
                self._ensure(cur, row_plan)
        conn.commit()

    def _ensure(self, cur: Any, row_plan: RowPlan) -> None:
        dialect = self._dialect
        table = row_plan.table
        described = self._describe(cur, table)
        if described is None:
            if not self._config.auto_create:
                raise TableError(f"Table {table} is missing and auto-creation is disabled")
            sql, params = dialect.create_table(table, row_plan.columns)
            log.info("Creating table %s with columns %s", table, [c.name for c in row_plan.columns])
            cur.execute(sql, params)
            self._tables.pop(table, None)
            described = self._describe(cur, table)
            if described is None:
                raise TableError(f"Table {table} was created but cannot be found")
        missing = [
            c for c in row_plan.columns if dialect.identifier(c.name) not in described.columns
        ]
        if not missing:
            return
        names = ", ".join(c.name for c in missing)
        if not self._config.auto_evolve:
            raise TableError(
                f"Table {table} is missing fields ({names}) and auto-evolution is disabled"
            )
        for column in missing:
            if not column.schema.optional and column.schema.default is None:
                raise TableError(
                    f"Cannot ALTER TABLE {table} to add missing field {column.name}, as the field "
                    "is not optional and does not have a default value"
                )
        log.info("Adding columns %s to table %s", names, table)
        for sql, params in dialect.add_columns(table, missing):
            cur.execute(sql, params)
        self._tables.pop(table, None)
        self._describe(cur, table)

    # --- writing
    def write(self, ops: Sequence[Op]) -> None:
        """All of `ops` in one transaction, committed; on any error nothing of them is."""
        if not ops:
            return
        self.ensure_tables(op.plan for op in ops)
        conn = self._connection()
        try:
            with conn.cursor() as cur:
                for run in _runs(ops):
                    self._write_run(cur, run)
            conn.commit()
        except BaseException:
            self._rollback()
            raise

    def write_each(self, ops: Sequence[Op], failed: Callable[[Op, BaseException], None]) -> None:
        """Each op on its own (a savepoint each), then a commit of those that succeeded. Each op
        that fails is handed to `failed` first; when `failed` raises (or an error that may pass
        comes), nothing is committed."""
        bad_plans: dict[int, BaseException] = {}
        for row_plan in _distinct(op.plan for op in ops):
            try:
                self.ensure_tables([row_plan])
            except (TableError, DataError) as e:
                bad_plans[id(row_plan)] = e
                self._rollback()
            except psycopg2.Error as e:
                if self._dialect.is_transient(e):
                    raise
                bad_plans[id(row_plan)] = e
                self._rollback()
        conn = self._connection()
        try:
            with conn.cursor() as cur:
                for op in ops:
                    problem = bad_plans.get(id(op.plan))
                    if problem is not None:
                        failed(op, problem)
                        continue
                    cur.execute("SAVEPOINT kconnect_record")
                    try:
                        self._write_run(cur, [op])
                    except psycopg2.Error as e:
                        if self._dialect.is_transient(e):
                            raise
                        cur.execute("ROLLBACK TO SAVEPOINT kconnect_record")
                        failed(op, e)
                    else:
                        cur.execute("RELEASE SAVEPOINT kconnect_record")
            conn.commit()
        except BaseException:
            self._rollback()
            raise

    def _rollback(self) -> None:
        conn = self._conn
        self._tables.clear()
        if conn is None or conn.closed:
            self._conn = None
            return
        try:
            conn.rollback()
        except psycopg2.Error:
            self.drop_connection()

    def _write_run(self, cur: Any, run: Sequence[Op]) -> None:
        first = run[0]
        row_plan = first.plan
        dialect = self._dialect
        keys = row_plan.key_names
        others = row_plan.other_names
        batch = max(1, self._config.batch_size)
        if first.delete:
            rows = [op.row for op in _last_per_key(run, len(keys))]
            psycopg2.extras.execute_batch(
                cur, dialect.delete(row_plan.table, keys), rows, page_size=batch
            )
            return
        mode = self._config.insert_mode
        if mode is InsertMode.UPDATE:
            if not others:
                return  # nothing but the key: nothing to change
            split = len(keys)
            rows = [op.row[split:] + op.row[:split] for op in _last_per_key(run, split)]
            psycopg2.extras.execute_batch(
                cur, dialect.update(row_plan.table, keys, others), rows, page_size=batch
            )
            return
        if mode is InsertMode.UPSERT:
            sql = dialect.upsert(row_plan.table, keys, others)
            values = [op.row for op in _last_per_key(run, len(keys))]
        else:
            sql = dialect.insert(row_plan.table, keys, others)
            values = [op.row for op in run]
        psycopg2.extras.execute_values(cur, sql, values, page_size=batch)


def _distinct(plans: Iterable[RowPlan]) -> list[RowPlan]:
    seen: dict[int, RowPlan] = {}
    for p in plans:
        seen.setdefault(id(p), p)
    return list(seen.values())


def _runs(ops: Sequence[Op]) -> list[list[Op]]:
    """The ops grouped by table (tables in order of first appearance), each table's ops cut into
    runs of the same plan and kind, in order."""
    by_table: dict[TableId, list[Op]] = {}
    for op in ops:
        by_table.setdefault(op.plan.table, []).append(op)
    runs: list[list[Op]] = []
    for table_ops in by_table.values():
        current: list[Op] = []
        for op in table_ops:
            if current and (op.plan is not current[0].plan or op.delete != current[0].delete):
                runs.append(current)
                current = []
            current.append(op)
        if current:
            runs.append(current)
    return runs


def _last_per_key(run: Sequence[Op], key_count: int) -> list[Op]:
    """The run with each key's last op only (all of it when there are no key columns)."""
    if key_count == 0:
        return list(run)
    last: dict[Row, Op] = {}
    try:
        for op in run:
            last[op.row[:key_count]] = op
    except TypeError:  # a key value that cannot be hashed (an array): keep every op
        return list(run)
    if len(last) == len(run):
        return list(run)
    return list(last.values())
