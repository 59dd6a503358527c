"""JdbcSink's write rate: batched upserts into an indexed PostgreSQL table.

`python -m bench.jdbc_sink [--records N] [--keys K] [--batch B ...]` starts a PostgreSQL server
of its own (kconnect_devenv.postgres, in a temporary directory, stopped at the end), creates
`bench_upserts (id BIGINT PRIMARY KEY, name TEXT, qty INT, at TIMESTAMP)` with a second index on
`name`, and hands a `JdbcSinkTask` (`insert.mode=upsert`, `pk.mode=record_key`) N records over K
keys (so most records update a row) in `put` batches of B records, as the runtime hands them
(`max.poll.records`). Each `put` is one transaction, committed before it returns. It prints rows
per second for each batch size: the task's work (records to rows, SQL, the server), without Kafka
or converters.
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import psycopg2

from kconnect.api.records import SinkRecord
from kconnect.api.task import ErrantRecordReporter, SinkTaskContext
from kconnect.api.types import TopicPartition
from kconnect.connectors.jdbc.sink import JdbcSinkTask
from kconnect.data.logical import Timestamp
from kconnect.data.schema import Schema, SchemaBuilder, Struct
from kconnect_devenv import postgres

KEY = SchemaBuilder.struct().name("bench.Key").field("id", Schema.INT64).build()
VALUE = (
    SchemaBuilder.struct()
    .name("bench.Value")
    .field("id", Schema.INT64)
    .field("name", Schema.STRING)
    .field("qty", Schema.INT32)
    .field("at", Timestamp.SCHEMA)
    .build()
)
TABLE = (
    "CREATE TABLE bench_upserts (id BIGINT PRIMARY KEY, name TEXT, qty INT, at TIMESTAMP)",
    "CREATE INDEX bench_upserts_name ON bench_upserts (name)",
)


class DirectContext(SinkTaskContext):
    """The runtime's side of a task driven directly: no partitions, no reporter, nothing kept."""

    def configs(self) -> Mapping[str, str]:
        return {}

    def errant_record_reporter(self) -> ErrantRecordReporter | None:
        return None

    def offset(self, offsets: Mapping[TopicPartition, int]) -> None:
        pass

    def timeout(self, timeout_ms: int) -> None:
        pass

    def assignment(self) -> set[TopicPartition]:
        return set()

    def pause(self, *partitions: TopicPartition) -> None:
        pass

    def resume(self, *partitions: TopicPartition) -> None:
        pass

    def request_commit(self) -> None:
        pass


def records(count: int, keys: int) -> list[SinkRecord]:
    at = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    out = []
    for n in range(count):
        i = n % keys
        value = (
            Struct(VALUE)
            .put("id", i)
            .put("name", f"name-{n % 1000}")
            .put("qty", n)
            .put("at", at + dt.timedelta(seconds=n))
        )
        key = Struct(KEY).put("id", i)
        out.append(
            SinkRecord("bench_upserts", 0, n, value, value_schema=VALUE, key=key, key_schema=KEY)
        )
    return out


def measure(database: postgres.Database, batch: list[SinkRecord], size: int) -> float:
    """Rows per second of upserting `batch` in `put`s of `size` records into a fresh table."""
    conn = psycopg2.connect(database.dsn)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS bench_upserts")
        for statement in TABLE:
            cur.execute(statement)
    conn.close()
    task = JdbcSinkTask()
    task.initialize(DirectContext())
    task.start(
        {
            "connection.url": f"jdbc:postgresql://{database.host}:{database.port}/{database.name}",
            "connection.user": database.user,
            "connection.password": database.password,
            "insert.mode": "upsert",
            "pk.mode": "record_key",
        }
    )
    try:
        task.put(batch[:size])  # connect and read the table first
        began = time.perf_counter()
        for start in range(0, len(batch), size):
            task.put(batch[start : start + size])
        return len(batch) / (time.perf_counter() - began)
    finally:
        task.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--keys", type=int, default=50_000)
    parser.add_argument("--batch", type=int, nargs="+", default=[500, 3000])
    args = parser.parse_args(argv)
    batch = records(args.records, args.keys)
    with tempfile.TemporaryDirectory(prefix="kconnect-bench-pg-") as tmp:
        state = Path(tmp)
        server = postgres.start(state, die_with_parent=True)
        try:
            database = postgres.create_database(server)
            for size in args.batch:
                rate = measure(database, batch, size)
                print(
                    f"upserts into an indexed table: {args.records} records over {args.keys} "
                    f"keys, put batches of {size}: {rate:,.0f} rows/s"
                )
        finally:
            postgres.stop(state)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
