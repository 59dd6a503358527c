"""PostgresCdcSource and its task: a snapshot, then the slot's change stream, as Debezium records.

One task per connector (a replication slot has one reader). The task:

1. reads its offset under `{"server": <topic.prefix>}`, makes sure of the publication
   (`publication.autocreate.mode`) and decides whether to snapshot (`snapshot.mode`);
2. to snapshot, creates the slot with an exported snapshot and reads the captured tables in a
   REPEATABLE READ transaction on that snapshot, so the rows read and the changes the slot sends
   after its consistent point together hold every change once; a slot left from a snapshot that
   did not finish is dropped and made again;
3. streams from the slot (`START_REPLICATION ... proto_version 1`), skipping what the stored
   offset says was delivered (`position.Resume`), and turns each change into Debezium's records.

The slot's confirmed position moves only in `commit()`, which the runtime calls once the offsets
of everything polled are stored, and only to the end of the last transaction every record of
which was polled (`position.FlushTracker`); between transactions, to what the server reported
it had sent. Standby status is sent every `status.update.interval.ms` so the server never has
to ask for it.

Failures: a database error while connecting or streaming fails the task with PostgreSQL's own
message (never the password); a slot another process reads is a clear error; a slot missing
while the offsets say changes were streamed from it fails the task unless `snapshot.mode` is
`when_needed`, which snapshots again.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg2
import psycopg2.extensions
import psycopg2.extras
from psycopg2 import sql

from kconnect.api.connector import ExactlyOnceSupport, SourceConnector
from kconnect.api.records import Header, Headers, SourceRecord
from kconnect.api.task import SourceTask
from kconnect.api.types import SourcePartition
from kconnect.connectors.pgcdc import catalog, events, pgoutput, position
from kconnect.connectors.pgcdc.config import PostgresCdcConfig, TableFilter
from kconnect.connectors.pgcdc.events import ShapedColumn, SnapshotMark, TableShape
from kconnect.connectors.pgcdc.replication import ReplicationError, ReplicationStream
from kconnect.connectors.pgcdc.types import BPCHAR, ColumnDef, PgType, TypeMapper
from kconnect.data.schema import Schema
from kconnect.errors import ConnectError

log = logging.getLogger(__name__)

MAX_RECONNECTS = 5
_MISSING_PUBLICATION = re.compile(r'publication "[^"]*" does not exist')
"""Consecutive failed attempts to stream again before the task fails."""

SESSION_OPTIONS = (
    "-c TimeZone=UTC -c DateStyle=ISO -c IntervalStyle=postgres -c bytea_output=hex "
    "-c extra_float_digits=3 -c statement_timeout=0 -c idle_in_transaction_session_timeout=0"
)
"""The text forms `types` parses (the walsender formats values with its session's settings),
and no timeout on the snapshot's transaction, which waits between polls while Kafka takes the
records."""


def connect_args(config: PostgresCdcConfig) -> dict[str, Any]:
    return {
        "host": config.database_hostname,
        "port": config.database_port,
        "user": config.database_user,
        "password": config.database_password.get_secret_value(),
        "dbname": config.database_dbname,
        "sslmode": config.database_sslmode,
        "options": SESSION_OPTIONS,
        "application_name": f"kconnect-cdc-{config.topic_prefix}",
        "connect_timeout": 10,
    }


def _db_error(what: str, e: psycopg2.Error) -> ConnectError:
    text = str(e).strip() or type(e).__name__
    return ConnectError(f"PostgresCdcSource could not {what}: {text}")


def _snapshot_column(column: ShapedColumn) -> sql.Composable:
    """A column as the snapshot selects it: its text form, as pgoutput sends it. A cast to text
    would trim a `char(n)`'s padding, so that one is read as it is (psycopg2 gives its text)."""
    if column.type_oid == BPCHAR:
        return sql.Identifier(column.name)
    return sql.SQL("{}::text").format(sql.Identifier(column.name))


def fatal_stream_error(slot: str, error: ReplicationError) -> ConnectError | None:
    """The error that ends the task for a stream that broke in a way no reconnect mends, or
    None when reconnecting may help.

    The server decodes each change with the publications as they were when it was made: a slot
    made before its publication (by hand, say) cannot stream those changes, ever.
    """
    if _MISSING_PUBLICATION.search(str(error)):
        return ConnectError(
            f"PostgresCdcSource cannot stream from replication slot '{slot}': {error}. A slot "
            "streams only changes made after its publication was created; create the "
            "publication before the slot (or drop the slot and let the connector make both)"
        )
    return None


class PostgresCdcConnector(SourceConnector):
    """Debezium's PostgreSQL connector, over pgoutput; always one task."""

    config_model = PostgresCdcConfig

    def __init__(self) -> None:
        self._props: dict[str, str] = {}

    def start(self, props: Mapping[str, str]) -> None:
        PostgresCdcConfig.parse(props)
        self._props = dict(props)

    def task_class(self) -> type[PostgresCdcTask]:
        return PostgresCdcTask

    def task_configs(self, max_tasks: int) -> list[dict[str, str]]:
        return [dict(self._props)]

    def exactly_once_support(self, config: Mapping[str, str]) -> ExactlyOnceSupport:
        # As Debezium's PostgresConnector: an event's offset (its LSNs) says exactly where the
        # stream resumes, and the slot is acknowledged only up to committed offsets.
        return ExactlyOnceSupport.SUPPORTED

    def stop(self) -> None:
        pass


@dataclass
class _Table:
    """A relation as the stream knows it: its Relation message and the shape of its events
    (None: not captured)."""

    relation: pgoutput.Relation
    shape: TableShape | None


@dataclass
class _SnapshotTable:
    shape: TableShape
    cursor: Any = None
    rows: deque[tuple[Any, ...]] | None = None
    exhausted: bool = False


class PostgresCdcTask(SourceTask):
    def __init__(self) -> None:
        self._stopping = threading.Event()
        self._lock = threading.Lock()  # held while poll/commit use the connections
        self._config: PostgresCdcConfig | None = None
        self._filter: TableFilter | None = None
        self._mapper = TypeMapper()
        self._types: dict[int, PgType] = {}
        self._conn: Any = None  # catalog queries and the snapshot
        self._repl: Any = None  # the replication connection
        self._rcur: Any = None
        self._stream: ReplicationStream | None = None
        self._broken: ReplicationError | None = None
        self._tx_id = ""
        self._tx_counts: dict[str, int] = {}
        # events per data collection of the transaction being read (transaction metadata)
        self._failures = 0
        self._partition: SourcePartition = {}
        self._header_items: tuple[Header, ...] = ()
        self._resume = position.Resume()
        self._tables: dict[int, _Table] = {}
        self._streaming = False
        self._snapshot: list[_SnapshotTable] = []
        self._snapshot_lsn = 0
        self._snapshot_txid = 0
        self._snapshot_first = True
        self._seen_tables: set[str] = set()
        # The stream's state
        self._in_txn = False
        self._skip_txn = False
        self._xid = 0
        self._commit_ts_us = 0
        self._event_index = -1
        self._last_commit_end: int | None = None
        self._last_xid: int | None = None
        self._flush = position.FlushTracker()
        self._next_status = 0.0
        self._next_heartbeat = 0.0

    # --- lifecycle -----------------------------------------------------------------------------
    def start(self, props: Mapping[str, str]) -> None:
        config = PostgresCdcConfig.parse(props)
        self._config = config
        self._filter = TableFilter(config)
        self._mapper = TypeMapper(config.decimal_handling_mode, config.time_precision_mode)
        self._partition = position.partition(config.topic_prefix)
        run_id = str(uuid.uuid4())
        self._header_items = (
            Header("__debezium.context.connectorLogicalName", Schema.STRING, config.topic_prefix),
            Header("__debezium.context.taskId", Schema.STRING, "0"),
            Header("__debezium.context.connectorName", Schema.STRING, events.CONNECTOR),
            Header("__debezium.context.runId", Schema.STRING, run_id),
        )
        offset = self.context.offset_storage_reader.offset(self._partition)
        self._resume = position.resume_from(offset)
        try:
            self._conn = psycopg2.connect(**connect_args(config))
            self._conn.autocommit = True
        except psycopg2.Error as e:
            raise _db_error(
                f"connect to {config.database_hostname}:{config.database_port} database "
                f"'{config.database_dbname}' as '{config.database_user}'",
                e,
            ) from None
        try:
            self._ensure_publication()
            self._begin()
        except psycopg2.Error as e:
            self._close()
            raise _db_error("start", e) from None
        except BaseException:
            self._close()
            raise
        if self._config.heartbeat_interval_ms:
            self._next_heartbeat = time.monotonic() + config.heartbeat_interval_ms / 1000

    def stop(self) -> None:
        self._stopping.set()
        # poll returns within a poll interval; close the connections once it has.
        if self._lock.acquire(timeout=10):
            try:
                self._close()
            finally:
                self._lock.release()

    def _close(self) -> None:
        for conn in (self._repl, self._conn):
            if conn is not None:
                try:
                    conn.close()
                except psycopg2.Error:
                    log.debug("closing a PostgreSQL connection failed", exc_info=True)
        self._repl = self._conn = self._rcur = self._stream = None

    # --- setup ---------------------------------------------------------------------------------
    def _ensure_publication(self) -> None:
        config = self._cfg
        name = config.publication_name
        with self._conn.cursor() as cur:
            cur.execute("SELECT puballtables FROM pg_publication WHERE pubname = %s", (name,))
            row = cur.fetchone()
            mode = config.publication_autocreate_mode
            if mode == "disabled":
                if row is None:
                    raise ConnectError(
                        f"publication '{name}' does not exist and publication.autocreate.mode is "
                        "'disabled'; create it (CREATE PUBLICATION ... FOR TABLE ...) or set "
                        "publication.autocreate.mode to all_tables or filtered"
                    )
                return
            if mode == "all_tables":
                if row is None:
                    log.info("creating publication %s FOR ALL TABLES", name)
                    cur.execute(
                        sql.SQL("CREATE PUBLICATION {} FOR ALL TABLES").format(sql.Identifier(name))
                    )
                return
            captured = [
                sql.SQL("{}.{}").format(sql.Identifier(s), sql.Identifier(t))
                for _, s, t in catalog.tables(self._conn)
                if self._flt.table(s, t)
            ]
            if not captured:
                raise ConnectError(
                    "no table matches table.include.list / table.exclude.list, so "
                    f"publication.autocreate.mode=filtered cannot create publication '{name}'"
                )
            verb = (
                "CREATE PUBLICATION {} FOR TABLE {}"
                if row is None
                else "ALTER PUBLICATION {} SET TABLE {}"
            )
            if row is not None and row[0]:
                raise ConnectError(
                    f"publication '{name}' publishes all tables, so publication.autocreate.mode="
                    "filtered cannot narrow it; drop it or use another publication.name"
                )
            cur.execute(sql.SQL(verb).format(sql.Identifier(name), sql.SQL(", ").join(captured)))

    def _slot(self) -> tuple[str, bool, int | None] | None:
        """(database, active, confirmed_flush_lsn) of the slot, or None when there is none."""
        with self._conn.cursor() as cur:
            cur.execute(
                "SELECT database, active, confirmed_flush_lsn::text, plugin FROM "
                "pg_replication_slots WHERE slot_name = %s",
                (self._cfg.slot_name,),
            )
            row = cur.fetchone()
        if row is None:
            return None
        db, active, flushed, plugin = row
        if plugin != "pgoutput":
            raise ConnectError(
                f"replication slot '{self._cfg.slot_name}' uses plugin '{plugin}'; expected "
                "'pgoutput'. Drop it or choose another slot.name"
            )
        if db != self._cfg.database_dbname:
            raise ConnectError(
                f"replication slot '{self._cfg.slot_name}' belongs to database '{db}', not "
                f"'{self._cfg.database_dbname}'; choose another slot.name"
            )
        return str(db), bool(active), None if flushed is None else position.parse_lsn(flushed)

    def _begin(self) -> None:
        config = self._cfg
        mode = config.snapshot
        resume = self._resume
        slot = self._slot()
        attempts = 0
        while slot is not None and slot[1]:
            # A reader that just died (a killed worker, a task moved in a rebalance) holds the
            # slot until the server notices; Debezium waits for it the same way.
            if attempts >= config.slot_max_retries or self._stopping.is_set():
                raise ConnectError(
                    f"replication slot '{config.slot_name}' is in use by another process "
                    f"(still after {attempts} retries {config.slot_retry_delay_ms} ms apart); only "
                    "one reader may stream from a slot (is another connector using the same "
                    "slot.name?)"
                )
            attempts += 1
            log.info(
                "replication slot %s is in use; retry %d of %d in %d ms",
                config.slot_name,
                attempts,
                config.slot_max_retries,
                config.slot_retry_delay_ms,
            )
            self._stopping.wait(config.slot_retry_delay_ms / 1000)
            slot = self._slot()
        snapshot = False
        if mode == "initial":
            snapshot = not resume.has_offset or resume.snapshot_running
        elif mode == "when_needed":
            snapshot = not resume.has_offset or resume.snapshot_running or slot is None
        if snapshot:
            self._start_snapshot(None if slot is None else (slot[2] or 0))
            return
        if slot is None:
            if resume.has_offset and not resume.snapshot_running:
                raise ConnectError(
                    f"replication slot '{config.slot_name}' does not exist, but the offsets say "
                    "changes were streamed from it: changes made since may be lost. Set "
                    "snapshot.mode=when_needed to snapshot again, or reset the offsets"
                )
            self._open_replication()
            self._rcur.create_replication_slot(config.slot_name, output_plugin="pgoutput")
            log.info("created replication slot %s", config.slot_name)
        self._start_streaming()

    def _open_replication(self) -> None:
        if self._repl is not None:
            return
        try:
            self._repl = psycopg2.connect(
                connection_factory=psycopg2.extras.LogicalReplicationConnection,
                **connect_args(self._cfg),
            )
        except psycopg2.Error as e:
            raise _db_error(
                "open a replication connection (the user needs REPLICATION)", e
            ) from None
        self._rcur = self._repl.cursor()

    # --- snapshot ------------------------------------------------------------------------------
    def _start_snapshot(self, slot_confirmed: int | None) -> None:
        """Snapshot the captured tables, then stream.

        Without a slot, the slot is made with an exported snapshot, and the tables are read in
        it: the stream then starts exactly where the snapshot's view ends. With a slot already
        there (a first run that ended before any offset was stored, or a snapshot cut short),
        the slot is kept and the stream starts at its confirmed position, which no record of an
        unconfirmed run has moved: every change since is sent again after the snapshot, a
        delete included, so a consumer that applies the records in order ends with the table
        as it is. Dropping the slot to export a fresh snapshot would lose the deletes made in
        between.
        """
        config = self._cfg
        snapshot_name: str | None = None
        if slot_confirmed is None:
            self._open_replication()
            self._rcur.execute(
                sql.SQL("CREATE_REPLICATION_SLOT {} LOGICAL pgoutput EXPORT_SNAPSHOT").format(
                    sql.Identifier(config.slot_name)
                )
            )
            _, consistent, snapshot_name, _ = self._rcur.fetchone()
            self._snapshot_lsn = position.parse_lsn(consistent)
            log.info("created replication slot %s, consistent at %s", config.slot_name, consistent)
        else:
            self._snapshot_lsn = slot_confirmed
            log.info(
                "snapshot again on replication slot %s; its changes since %s follow it",
                config.slot_name,
                position.lsn_text(slot_confirmed),
            )
        if config.snapshot in {"no_data", "never"}:
            self._start_streaming()
            return
        conn = self._conn
        conn.autocommit = False
        with conn.cursor() as cur:
            cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            if snapshot_name is not None:
                cur.execute("SET TRANSACTION SNAPSHOT %s", (snapshot_name,))
            cur.execute(
                "SELECT txid_current_if_assigned(), txid_snapshot_xmin(txid_current_snapshot()), "
                "txid_snapshot_xmax(txid_current_snapshot())"
            )
            row = cur.fetchone()
            if snapshot_name is None:
                # Transactions still open now are streamed after the snapshot; the snapshot's
                # offsets must not name one of them (a resume skips its changes up to their
                # lsn), so they carry the first id no transaction had yet.
                self._snapshot_txid = int(row[2])
            else:
                self._snapshot_txid = int(row[0] if row[0] is not None else row[1])
        for oid, schema_name, table_name in catalog.tables(conn):
            if not self._flt.table(schema_name, table_name):
                continue
            found = catalog.table(conn, oid, schema_name, table_name)
            shape = self._shape(
                found, [(c.name, c.type_oid, c.type_modifier) for c in found.columns]
            )
            self._snapshot.append(_SnapshotTable(shape))
        self._snapshot_first = True
        log.info("snapshot of %d tables begins", len(self._snapshot))

    def _snapshot_poll(self) -> list[SourceRecord]:
        config = self._cfg
        out: list[SourceRecord] = []
        while self._snapshot and len(out) < config.max_batch_size:
            table = self._snapshot[0]
            if table.cursor is None:
                table.cursor = self._conn.cursor(name=f"kconnect_snapshot_{id(table)}")
                table.cursor.itersize = config.snapshot_fetch_size
                shape = table.shape
                query = sql.SQL("SELECT {} FROM {}.{}").format(
                    sql.SQL(", ").join(_snapshot_column(c) for c in shape.columns)
                    if shape.columns
                    else sql.SQL("1"),
                    sql.Identifier(shape.schema_name),
                    sql.Identifier(shape.table_name),
                )
                table.cursor.execute(query)
                table.rows = deque()
            rows = table.rows
            assert rows is not None
            while len(rows) < 2 and not table.exhausted:
                more = table.cursor.fetchmany(config.snapshot_fetch_size)
                table.exhausted = len(more) < config.snapshot_fetch_size
                rows.extend(more)
            if not rows:
                table.cursor.close()
                self._snapshot.pop(0)
                continue
            row = rows.popleft()
            last_in_table = not rows and table.exhausted
            last_table = len(self._snapshot) == 1
            out.append(self._snapshot_record(table.shape, row, last_in_table, last_table))
        if not self._snapshot:
            self._conn.commit()
            self._conn.autocommit = True
            log.info("snapshot done; streaming from %s", position.lsn_text(self._snapshot_lsn))
            self._resume = position.Resume(lsn=self._snapshot_lsn)
            self._start_streaming()
        return out

    def _snapshot_record(
        self, shape: TableShape, row: Sequence[Any], last_in_table: bool, last_table: bool
    ) -> SourceRecord:
        first_in_table = shape.topic not in self._seen_tables
        mark: SnapshotMark
        if last_in_table and last_table:
            mark = "last"
        elif self._snapshot_first:
            mark = "first"
        elif last_in_table:
            mark = "last_in_data_collection"
        elif first_in_table and not self._snapshot_first:
            mark = "first_in_data_collection"
        else:
            mark = "true"
        self._snapshot_first = False
        self._seen_tables.add(shape.topic)
        now_us = time.time_ns() // 1000
        # The query selects the captured columns only; place them where the shape reads them.
        values: list[Any] = [None] * (shape.columns[-1].position + 1 if shape.columns else 0)
        for column, value in zip(shape.columns, row, strict=False):
            values[column.position] = value
        after = events.row_struct(shape, values)
        info = events.SourceInfo(
            self._cfg.topic_prefix,
            self._cfg.database_dbname,
            shape.schema_name,
            shape.table_name,
            now_us,
            mark,
            self._snapshot_txid,
            self._snapshot_lsn,
            None,
        )
        value = events.envelope(shape, "r", None, after, events.source_struct(info), now_us)
        offset = position.snapshot_offset(
            self._snapshot_lsn, self._snapshot_txid, now_us, mark == "last"
        )
        return SourceRecord(
            shape.topic,
            value,
            source_partition=self._partition,
            source_offset=offset,
            value_schema=shape.envelope_schema,
            key=events.key_struct(shape, after),
            key_schema=shape.key_schema,
            headers=self._headers(),
        )

    # --- streaming -----------------------------------------------------------------------------
    def _start_streaming(self) -> None:
        self._replicate()
        self._flush = position.FlushTracker(self._resume.lsn_commit or 0)
        self._last_commit_end = self._resume.lsn_commit

    def _replicate(self) -> None:
        """START_REPLICATION from `_resume`'s position, on a (new) replication connection."""
        config = self._cfg
        self._open_replication()
        start = self._resume.start_lsn
        try:
            self._rcur.start_replication(
                slot_name=config.slot_name,
                decode=False,
                start_lsn=start,
                options={"proto_version": "1", "publication_names": config.publication_name},
            )
        except psycopg2.Error as e:
            raise _db_error(f"stream from replication slot '{config.slot_name}'", e) from None
        self._stream = ReplicationStream(self._repl)
        self._stream.confirmed = self._flush.confirmed
        self._streaming = True
        self._next_status = time.monotonic() + config.status_update_interval_ms / 1000
        log.info(
            "streaming from replication slot %s at %s",
            config.slot_name,
            position.lsn_text(start) if start else "its confirmed position",
        )

    def poll(self) -> list[SourceRecord] | None:
        if self._stopping.is_set():
            return None
        with self._lock:
            if self._stopping.is_set() or self._conn is None:
                return None
            try:
                if not self._streaming:
                    return self._snapshot_poll() or None
                return self._stream_poll() or None
            except psycopg2.Error as e:
                if self._stopping.is_set():
                    return None
                raise _db_error("read the change stream", e) from None
            except ReplicationError as e:
                if self._stopping.is_set():
                    return None
                raise ConnectError(
                    f"PostgresCdcSource could not read the change stream: {e}"
                ) from None

    def _stream_poll(self) -> list[SourceRecord]:
        config = self._cfg
        if self._broken is not None and not self._reconnect():
            return []
        stream = self._stream
        assert stream is not None
        out: list[SourceRecord] = []
        deadline = time.monotonic() + config.poll_interval_ms / 1000
        while len(out) < config.max_batch_size and not self._stopping.is_set():
            # Return what there is as soon as the stream pauses; wait only for a first record.
            wait = 0.0 if out else min(deadline - time.monotonic(), 0.2)
            try:
                msg = stream.read(max(wait, 0.0))
            except ReplicationError as e:
                # What was handled is returned; the next poll reconnects after it.
                self._broken = e
                break
            self._failures = 0
            if msg is None:
                if out or time.monotonic() >= deadline:
                    break
                continue
            self._handle(msg[0], msg[1], out)
        self._flush.polled(self._safe_position())
        now = time.monotonic()
        if config.heartbeat_interval_ms and now >= self._next_heartbeat and not self._in_txn:
            self._next_heartbeat = now + config.heartbeat_interval_ms / 1000
            out.append(self._heartbeat())
        if now >= self._next_status and self._broken is None:
            # Standby status, so the server never has to ask for it (and never sees a silence).
            self._next_status = now + config.status_update_interval_ms / 1000
            try:
                stream.send_status()
            except ReplicationError as e:
                self._broken = e
        return out

    def _reconnect(self) -> bool:
        """Stream again after the replication connection broke (a restarted server, a timeout
        while the task was paused), from what was polled: the transactions the last poll
        finished are skipped, and so are the changes it handled of the one it was in."""
        broken = self._broken
        self._broken = None
        if broken is not None and (fatal := fatal_stream_error(self._cfg.slot_name, broken)):
            raise fatal
        self._failures += 1
        if self._failures > MAX_RECONNECTS:
            raise ConnectError(
                f"PostgresCdcSource lost its replication stream {MAX_RECONNECTS} times in a row; "
                f"last: {broken}"
            )
        log.warning("replication stream broke (%s); reconnecting", broken)
        self._stopping.wait(min(2.0**self._failures, 10.0))
        self._close_replication()
        self._resume = position.Resume(
            lsn_commit=self._last_commit_end,
            tx_id=self._xid if self._in_txn else None,
            event=self._event_index if self._in_txn else None,
        )
        self._in_txn = False
        try:
            self._replicate()
        except ConnectError as e:
            # A fresh connection next time: this one may be left in any state.
            self._close_replication()
            self._broken = ReplicationError(str(e))
            return False
        return True

    def _close_replication(self) -> None:
        if self._repl is not None:
            try:
                self._repl.close()
            except psycopg2.Error:
                log.debug("closing the replication connection failed", exc_info=True)
        self._repl = self._rcur = self._stream = None

    def _safe_position(self) -> int:
        """The end of the last transaction every record of which was polled; between
        transactions, what the server last said it had sent."""
        last = self._last_commit_end or 0
        if self._in_txn or self._stream is None:
            return last
        return max(last, self._stream.server_sent)

    def _heartbeat(self) -> SourceRecord:
        cfg = self._cfg
        now_us = time.time_ns() // 1000
        lsn = self._safe_position()
        offset = position.idle_offset(lsn, self._last_xid, self._commit_ts_us or now_us)
        return SourceRecord(
            f"{cfg.heartbeat_topics_prefix}.{cfg.topic_prefix}",
            events.heartbeat_value(now_us),
            source_partition=self._partition,
            source_offset=offset,
            value_schema=events.HEARTBEAT_VALUE_SCHEMA,
            key=events.heartbeat_key(cfg.topic_prefix),
            key_schema=events.HEARTBEAT_KEY_SCHEMA,
        )

    def _handle(self, lsn: int, payload: bytes, out: list[SourceRecord]) -> None:
        msg = pgoutput.decode(payload)
        if isinstance(msg, pgoutput.Begin):
            self._in_txn = True
            self._xid = msg.xid
            self._commit_ts_us = msg.commit_ts_us
            self._event_index = -1
            self._skip_txn = self._resume.skips_transaction(msg.final_lsn)
            self._tx_id = f"{msg.xid}:{lsn}"
            self._tx_counts = {}
        elif isinstance(msg, pgoutput.Commit):
            self._in_txn = False
            self._last_commit_end = msg.end_lsn
            self._last_xid = self._xid
            if self._tx_counts:
                out.append(self._transaction_record("END", msg.end_lsn))
                self._tx_counts = {}
        elif isinstance(msg, pgoutput.Relation):
            self._relation(msg)
        elif isinstance(
            msg, pgoutput.Insert | pgoutput.Update | pgoutput.Delete | pgoutput.Truncate
        ):
            self._event_index += 1
            if self._skip_txn or self._resume.skips_change(self._xid, lsn, self._event_index):
                return
            self._change(lsn, msg, out)

    def _relation(self, rel: pgoutput.Relation) -> None:
        shape: TableShape | None = None
        if self._flt.table(rel.namespace, rel.name):
            found = catalog.table(self._conn, rel.relation_id, rel.namespace, rel.name)
            shape = self._shape(found, [(c.name, c.type_oid, c.type_modifier) for c in rel.columns])
        self._tables[rel.relation_id] = _Table(rel, shape)

    def _shape(
        self, found: catalog.CatalogTable, columns: Sequence[tuple[str, int, int]]
    ) -> TableShape:
        """The events' shape for `columns` (name, type oid, type modifier, in tuple order)."""
        catalog.load_types(self._conn, [c[1] for c in columns], self._types)
        by_name = {c.name: c for c in found.columns}
        shaped: list[ShapedColumn] = []
        for i, (name, oid, mod) in enumerate(columns):
            if not self._flt.column(found.schema_name, found.table_name, name):
                continue
            known = by_name.get(name)
            optional = known is None or not known.not_null
            mapped = self._mapper.map(ColumnDef(name, oid, mod, optional), self._types)
            if mapped is None:
                continue  # Debezium leaves out columns of types it cannot map
            default: object = None
            literal = catalog.default_literal(known.default_expr if known else None)
            if literal is not None:
                try:
                    default = mapped.parse(literal)
                except (ValueError, ArithmeticError):
                    default = None
            shaped.append(ShapedColumn(name, i, mapped, default, oid))
        return events.shape_table(
            self._cfg.topic_prefix, found.schema_name, found.table_name, shaped, found.primary_key
        )

    def _change(self, lsn: int, msg: pgoutput.Message, out: list[SourceRecord]) -> None:
        skipped = self._cfg.skipped
        if isinstance(msg, pgoutput.Truncate):
            if "t" in skipped:
                return
            for rel_id in msg.relation_ids:
                table = self._tables.get(rel_id)
                if table is not None and table.shape is not None:
                    self._record(table.shape, lsn, "t", None, None, "TRUNCATE", out)
            return
        assert isinstance(msg, pgoutput.Insert | pgoutput.Update | pgoutput.Delete)
        table = self._tables.get(msg.relation_id)
        if table is None:
            raise ConnectError(
                f"pgoutput sent a change of relation {msg.relation_id} before its Relation message"
            )
        shape = table.shape
        if shape is None:
            return
        if isinstance(msg, pgoutput.Insert):
            if "c" not in skipped:
                self._record(
                    shape, lsn, "c", None, events.row_struct(shape, msg.new), "INSERT", out
                )
            return
        if isinstance(msg, pgoutput.Update):
            after = events.row_struct(shape, msg.new)
            before = None if msg.old is None else events.row_struct(shape, msg.old)
            if before is not None and events.key_struct(shape, before) != events.key_struct(
                shape, after
            ):
                # The key changed: Debezium sends a delete (and tombstone) of the old key and a
                # create of the new one.
                old_key = events.key_struct(shape, before)
                new_key = events.key_struct(shape, after)
                if "d" not in skipped:
                    self._delete(shape, lsn, before, out, ("__debezium.newkey", new_key))
                if "c" not in skipped:
                    created = self._record(shape, lsn, "c", None, after, "UPDATE", out)
                    created.headers.add("__debezium.oldkey", old_key, shape.key_schema)
                return
            if "u" not in skipped:
                self._record(shape, lsn, "u", before, after, "UPDATE", out)
            return
        if "d" not in skipped:
            self._delete(shape, lsn, events.row_struct(shape, msg.old), out)

    def _delete(
        self,
        shape: TableShape,
        lsn: int,
        before: Any,
        out: list[SourceRecord],
        key_header: tuple[str, Any] | None = None,
    ) -> None:
        """A delete and its tombstone; `key_header` (`__debezium.newkey`, the new key) when the
        delete is the first half of a key change, as Debezium marks both records."""
        record = self._record(shape, lsn, "d", before, None, "DELETE", out)
        if key_header is not None:
            record.headers.add(key_header[0], key_header[1], shape.key_schema)
        if self._cfg.tombstones_on_delete and shape.key_schema is not None:
            out.append(
                SourceRecord(
                    shape.topic,
                    None,
                    source_partition=self._partition,
                    source_offset=record.source_offset,
                    key=record.key,
                    key_schema=record.key_schema,
                    headers=record.headers.copy(),
                )
            )

    def _record(
        self,
        shape: TableShape,
        lsn: int,
        op: events.Op,
        before: Any,
        after: Any,
        message_type: str,
        out: list[SourceRecord],
    ) -> SourceRecord:
        """A change's record, appended to `out` (after its transaction's BEGIN, when
        provide.transaction.metadata is on and it is the transaction's first)."""
        now_us = time.time_ns() // 1000
        info = events.SourceInfo(
            self._cfg.topic_prefix,
            self._cfg.database_dbname,
            shape.schema_name,
            shape.table_name,
            self._commit_ts_us,
            "false",
            self._xid,
            lsn,
            self._last_commit_end,
        )
        block = None
        if self._cfg.provide_transaction_metadata and self._in_txn:
            block = self._transaction_block(shape, out)
        value = events.envelope(shape, op, before, after, events.source_struct(info), now_us, block)
        offset = position.stream_offset(
            lsn,
            self._last_commit_end,
            self._xid,
            self._commit_ts_us,
            self._event_index,
            message_type,
        )
        row = after if after is not None else before
        record = SourceRecord(
            shape.topic,
            value,
            source_partition=self._partition,
            source_offset=offset,
            value_schema=shape.envelope_schema,
            key=None if row is None else events.key_struct(shape, row),
            key_schema=None if row is None else shape.key_schema,
            headers=self._headers(),
        )
        out.append(record)
        return record

    def _transaction_block(self, shape: TableShape, out: list[SourceRecord]) -> Any:
        """The event's `transaction` block; the transaction's BEGIN first if it is its first."""
        if not self._tx_counts:
            out.append(self._transaction_record("BEGIN", None))
        name = f"{shape.schema_name}.{shape.table_name}"
        self._tx_counts[name] = self._tx_counts.get(name, 0) + 1
        total = sum(self._tx_counts.values())
        return events.transaction_block(self._tx_id, total, self._tx_counts[name])

    def _transaction_record(self, status: str, end_lsn: int | None) -> SourceRecord:
        """BEGIN (before the first event) or END (at the commit) on `<prefix>.transaction`."""
        cfg = self._cfg
        ts_ms = self._commit_ts_us // 1000
        if status == "BEGIN":
            value = events.transaction_begin(self._tx_id, ts_ms)
            offset = position.stream_offset(
                self._last_commit_end or 0,
                self._last_commit_end,
                self._xid,
                self._commit_ts_us,
                -1,
                "BEGIN",
            )
        else:
            assert end_lsn is not None
            value = events.transaction_end(self._tx_id, self._tx_counts, ts_ms)
            offset = position.idle_offset(end_lsn, self._xid, self._commit_ts_us)
        return SourceRecord(
            f"{cfg.topic_prefix}.{cfg.topic_transaction}",
            value,
            source_partition=self._partition,
            source_offset=offset,
            value_schema=events.TRANSACTION_VALUE_SCHEMA,
            key=events.transaction_key(self._tx_id),
            key_schema=events.TRANSACTION_KEY_SCHEMA,
        )

    # --- commits -------------------------------------------------------------------------------
    def commit(self) -> None:
        with self._lock:
            if self._stream is None or self._repl is None:
                return
            flushed = self._flush.committed()
            if flushed is not None and self._broken is None:
                try:
                    self._stream.confirm(flushed)
                except ReplicationError as e:
                    # The next poll streams again; the new stream confirms this position.
                    self._broken = e

    # --- helpers -------------------------------------------------------------------------------
    def _headers(self) -> Headers:
        """Debezium's context headers (connector, task, this start's run id)."""
        return Headers(list(self._header_items))

    @property
    def _cfg(self) -> PostgresCdcConfig:
        assert self._config is not None
        return self._config

    @property
    def _flt(self) -> TableFilter:
        assert self._filter is not None
        return self._filter
