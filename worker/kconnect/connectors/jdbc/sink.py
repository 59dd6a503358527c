"""JdbcSinkConnector and its task: Kafka records into PostgreSQL tables.

The offsets contract: `put` returns only once its records are committed in the database (one
transaction per `put`), so the runtime's default `pre_commit` (flush, then every offset `put`
accepted) commits nothing the database does not have. A kill between the database's commit and
the offsets' commit redelivers records that are already written: with `insert.mode=upsert` (or
`update`, or a delete) writing them again changes nothing.

Failures, as Confluent's `JdbcSinkTask` treats them:

- **An error that may pass** (the connection dropped, the server restarting, a deadlock): the
  connection is dropped and `put` raises `RetriableError` after asking for `retry.backoff.ms`
  (`context.timeout`), so the runtime hands the same batch again; after `max.retries` such
  retries in a row the task fails. A successful `put` restores the count.
- **An error that will not pass** (a constraint, bad data, a missing column): the batch is
  written again record by record, each in a savepoint; every record that fails is handed to the
  errant record reporter with a message naming the table, the column or constraint and what the
  server said. Under `errors.tolerance=all` it goes to the dead-letter queue and the others
  commit; under `none` the first one fails the task and nothing of the batch is committed.
- **A record the sink cannot map** (no key under `record_key`, a value that is not a struct, a
  tombstone without `delete.enabled`) is an errant record the same way, before anything is
  written.

A record reported once is not reported again while its batch is retried, so a dead-letter queue
gets it once.

No message holds the connection password: the URL is shown with its secrets masked, and the
database's errors (which never quote the password) are shown as the server wrote them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection, Mapping, Sequence

import psycopg2

from kconnect.api.records import SinkRecord
from kconnect.api.task import SinkTask
from kconnect.api.types import OffsetAndMetadata, TopicPartition
from kconnect.connectors._sinks import ConfigSharingSinkConnector
from kconnect.connectors.jdbc.config import JdbcSinkConfig, QuoteMethod
from kconnect.connectors.jdbc.dialect import PostgreSqlDialect, describe_error
from kconnect.connectors.jdbc.rows import where
from kconnect.connectors.jdbc.writer import Op, TableError, Writer
from kconnect.errors import ConnectError, DataError, RetriableError

log = logging.getLogger(__name__)


class JdbcSinkConnector(ConfigSharingSinkConnector):
    """Writes records into PostgreSQL tables: insert, upsert or update, deletes on tombstones."""

    config_model = JdbcSinkConfig

    def __init__(self) -> None:
        self._props: dict[str, str] = {}

    def start(self, props: Mapping[str, str]) -> None:
        config = JdbcSinkConfig.parse(props)
        self._props = dict(props)
        for name in config.ignored_url_parameters:
            log.warning("connection.url parameter '%s' has no PostgreSQL equivalent; ignored", name)
        log.info("Starting JDBC sink connector writing to %s", config.shown_url)

    def task_class(self) -> type[JdbcSinkTask]:
        return JdbcSinkTask


class JdbcSinkTask(SinkTask):
    """Writes each `put` in one transaction; see the module for retries and errant records."""

    def __init__(self) -> None:
        self._stopping = threading.Event()
        self._config: JdbcSinkConfig | None = None
        self._writer: Writer | None = None
        self._remaining_retries = 0
        # Records reported as errant while their batch is retried: a retry reports them once.
        self._reported: set[tuple[str, int, int]] = set()

    def start(self, props: Mapping[str, str]) -> None:
        config = JdbcSinkConfig.parse(props)
        self._config = config
        dialect = PostgreSqlDialect(fold_case=config.quote_sql_identifiers is QuoteMethod.NEVER)
        self._writer = Writer(config, dialect, self._stopping)
        self._remaining_retries = config.max_retries
        log.info("Starting JDBC sink task writing to %s with %s", config.shown_url, dialect.name)

    def open(self, partitions: Collection[TopicPartition]) -> None:
        log.debug("JDBC sink task assigned %s", sorted(partitions))

    def put(self, records: Sequence[SinkRecord]) -> None:
        if not records:
            return
        writer, config = self._running()
        ops, bad = writer.prepare(records)
        for record, error in bad:
            self._report(record, error)
        try:
            writer.write(ops)
        except (psycopg2.Error, TableError, DataError) as e:
            self._failed(writer, config, ops, e)
        self._remaining_retries = config.max_retries
        self._reported.clear()

    def _failed(
        self, writer: Writer, config: JdbcSinkConfig, ops: Sequence[Op], error: BaseException
    ) -> None:
        if self._transient(writer, error):
            self._retry_or_fail(writer, config, len(ops), error)
            return
        log.warning(
            "Writing %d records failed (%s); writing them one by one to find the bad ones",
            len(ops),
            describe_error(error),
        )
        try:
            writer.write_each(ops, lambda op, e: self._report(op.record, _record_error(op, e)))
        except psycopg2.Error as e:
            if self._transient(writer, e):
                self._retry_or_fail(writer, config, len(ops), e)
                return
            raise ConnectError(f"Writing to {config.shown_url} failed: {describe_error(e)}") from e

    def _transient(self, writer: Writer, error: BaseException) -> bool:
        return isinstance(error, psycopg2.Error) and writer.dialect.is_transient(error)

    def _retry_or_fail(
        self, writer: Writer, config: JdbcSinkConfig, count: int, error: BaseException
    ) -> None:
        writer.drop_connection()
        reason = describe_error(error)
        if self._remaining_retries <= 0:
            raise ConnectError(
                f"Writing {count} records to {config.shown_url} failed after max.retries="
                f"{config.max_retries} retries: {reason}"
            ) from error
        self._remaining_retries -= 1
        log.warning(
            "Writing %d records to %s failed, %d retries left, next in %d ms: %s",
            count,
            config.shown_url,
            self._remaining_retries,
            config.retry_backoff_ms,
            reason,
        )
        self.context.timeout(config.retry_backoff_ms)
        raise RetriableError(f"Writing {count} records failed, will retry: {reason}") from error

    def _report(self, record: SinkRecord, error: BaseException) -> None:
        reporter = self.context.errant_record_reporter()
        if reporter is None:
            raise ConnectError(str(error)) from error
        where = (
            record.original_topic,
            record.original_kafka_partition,
            record.original_kafka_offset,
        )
        if where in self._reported:
            return  # reported before this batch's retry
        reporter.report(record, error)
        self._reported.add(where)

    def flush(self, current_offsets: Mapping[TopicPartition, OffsetAndMetadata]) -> None:
        """Nothing to do: `put` returns only after its transaction committed."""

    def stop(self) -> None:
        self._stopping.set()
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()

    def _running(self) -> tuple[Writer, JdbcSinkConfig]:
        if self._writer is None or self._config is None:
            raise ConnectError("JdbcSinkTask is not running")
        return self._writer, self._config


def _record_error(op: Op, error: BaseException) -> ConnectError:
    """The error of one record, for the dead-letter queue or the task's failure."""
    action = "deleting from" if op.delete else "writing to"
    columns = ""
    if isinstance(error, psycopg2.Error) and not error.diag.column_name:
        # The server names no column (a value out of range, text that is not a number): name
        # the columns the record wrote, with their types, so the mismatch can be found.
        written = op.plan.keys if op.delete else op.plan.columns
        columns = "; the record's columns: " + ", ".join(
            f"{c.name} ({c.schema.name or c.schema.type.value.upper()})" for c in written
        )
    return DataError(
        f"The record at {where(op.record)} failed {action} table {op.plan.table}: "
        f"{describe_error(error)}{columns}"
    )
