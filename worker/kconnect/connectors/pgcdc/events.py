"""Debezium's change event shapes for PostgreSQL. No I/O.

For table `<schema>.<table>` under `topic.prefix` P, as Debezium 3.x makes them:

- topic `P.<schema>.<table>`;
- key: struct `P.<schema>.<table>.Key` of the primary key columns (no key without one);
- value: struct `P.<schema>.<table>.Envelope` (version 2) with fields `before` / `after`
  (optional `P.<schema>.<table>.Value`), `source` (`io.debezium.connector.postgresql.Source`),
  `transaction` (optional `event.block`), `op`, `ts_ms`, `ts_us`, `ts_ns`;
- after a delete, a tombstone: the same key, a null value and no value schema.

A table's shape (`TableShape`) is a pure function of its columns as the catalog describes them
and the connector's mapping, so a changed table (a Relation message after an ALTER) just gets a
new shape. A NOT NULL column the server sent no value for (the non-key columns of a delete's
old row under the default replica identity) gets its default or the type's zero, as Debezium
fills it; an unchanged TOASTed text gets Debezium's placeholder.
"""

from __future__ import annotations

import datetime
import decimal
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from kconnect.connectors.pgcdc.pgoutput import UNCHANGED_TOAST, ColumnValue
from kconnect.connectors.pgcdc.types import Mapped
from kconnect.data.schema import Schema, SchemaBuilder, Struct, Type

CONNECTOR = "postgresql"
DEBEZIUM_VERSION = "3.6.1.Final"
"""What `source.version` says: the Debezium release whose records these reproduce."""
UNAVAILABLE_PLACEHOLDER = "__debezium_unavailable_value"

Op = Literal["c", "u", "d", "r", "t"]

SNAPSHOT_MARKS = (
    "true,first,first_in_data_collection,last_in_data_collection,last,false,incremental"
)
SnapshotMark = Literal[
    "true", "first", "first_in_data_collection", "last_in_data_collection", "last", "false"
]

SNAPSHOT_SCHEMA = (
    SchemaBuilder.string()
    .name("io.debezium.data.Enum")
    .version(1)
    .parameter("allowed", SNAPSHOT_MARKS)
    .default_value("false")
    .optional()
    .build()
)

SOURCE_SCHEMA = (
    SchemaBuilder.struct()
    .name("io.debezium.connector.postgresql.Source")
    .version(1)
    .field("version", Schema.STRING)
    .field("connector", Schema.STRING)
    .field("name", Schema.STRING)
    .field("ts_ms", Schema.INT64)
    .field("snapshot", SNAPSHOT_SCHEMA)
    .field("db", Schema.STRING)
    .field("sequence", Schema.OPTIONAL_STRING)
    .field("ts_us", Schema.OPTIONAL_INT64)
    .field("ts_ns", Schema.OPTIONAL_INT64)
    .field("schema", Schema.STRING)
    .field("table", Schema.STRING)
    .field("txId", Schema.OPTIONAL_INT64)
    .field("lsn", Schema.OPTIONAL_INT64)
    .field("xmin", Schema.OPTIONAL_INT64)
    .field("origin", Schema.OPTIONAL_STRING)
    .field("origin_lsn", Schema.OPTIONAL_INT64)
    .build()
)

TRANSACTION_SCHEMA = (
    SchemaBuilder.struct()
    .name("event.block")
    .version(1)
    .optional()
    .field("id", Schema.STRING)
    .field("total_order", Schema.INT64)
    .field("data_collection_order", Schema.INT64)
    .build()
)

TRANSACTION_KEY_SCHEMA = (
    SchemaBuilder.struct()
    .name("io.debezium.connector.common.TransactionMetadataKey")
    .version(1)
    .field("id", Schema.STRING)
    .build()
)
DATA_COLLECTION_SCHEMA = (
    SchemaBuilder.struct()
    .name("event.collection")
    .version(1)
    .optional()
    .field("data_collection", Schema.STRING)
    .field("event_count", Schema.INT64)
    .build()
)
TRANSACTION_VALUE_SCHEMA = (
    SchemaBuilder.struct()
    .name("io.debezium.connector.common.TransactionMetadataValue")
    .version(1)
    .field("status", Schema.STRING)
    .field("id", Schema.STRING)
    .field("event_count", Schema.OPTIONAL_INT64)
    .field("data_collections", SchemaBuilder.array(DATA_COLLECTION_SCHEMA).optional().build())
    .field("ts_ms", Schema.INT64)
    .build()
)

HEARTBEAT_KEY_SCHEMA = (
    SchemaBuilder.struct()
    .name("io.debezium.connector.common.ServerNameKey")
    .field("serverName", Schema.STRING)
    .build()
)
HEARTBEAT_VALUE_SCHEMA = (
    SchemaBuilder.struct()
    .name("io.debezium.connector.common.Heartbeat")
    .field("ts_ms", Schema.INT64)
    .build()
)


@dataclass(frozen=True, slots=True)
class ShapedColumn:
    name: str
    position: int
    """Index of the column in the Relation message's tuples."""
    mapped: Mapped
    default: object = None
    type_oid: int = 0


@dataclass(frozen=True, slots=True)
class TableShape:
    schema_name: str
    table_name: str
    topic: str
    key_schema: Schema | None
    value_schema: Schema
    envelope_schema: Schema
    columns: tuple[ShapedColumn, ...]
    key_columns: tuple[ShapedColumn, ...]


def shape_table(
    prefix: str,
    schema_name: str,
    table_name: str,
    columns: Sequence[ShapedColumn],
    primary_key: Sequence[str],
) -> TableShape:
    """The shape of a table's events from its (mapped, filtered) columns and primary key."""
    base = f"{prefix}.{schema_name}.{table_name}"
    value = SchemaBuilder.struct().name(f"{base}.Value").optional()
    for c in columns:
        value.field(c.name, _with_default(c))
    value_schema = value.build()
    by_name = {c.name: c for c in columns}
    key_columns = tuple(by_name[n] for n in primary_key if n in by_name)
    key_schema: Schema | None = None
    if key_columns:
        key = SchemaBuilder.struct().name(f"{base}.Key")
        for c in key_columns:
            key.field(c.name, _with_default(c))
        key_schema = key.build()
    envelope = (
        SchemaBuilder.struct()
        .name(f"{base}.Envelope")
        .version(2)
        .field("before", value_schema)
        .field("after", value_schema)
        .field("source", SOURCE_SCHEMA)
        .field("transaction", TRANSACTION_SCHEMA)
        .field("op", Schema.STRING)
        .field("ts_ms", Schema.OPTIONAL_INT64)
        .field("ts_us", Schema.OPTIONAL_INT64)
        .field("ts_ns", Schema.OPTIONAL_INT64)
        .build()
    )
    return TableShape(
        schema_name,
        table_name,
        base,
        key_schema,
        value_schema,
        envelope,
        tuple(columns),
        key_columns,
    )


def _with_default(column: ShapedColumn) -> Schema:
    if column.default is None:
        return column.mapped.schema
    return SchemaBuilder.of(column.mapped.schema).default_value(column.default).build()


def zero_value(schema: Schema) -> object:
    """What Debezium puts in a NOT NULL column it has no value for."""
    if schema.default is not None:
        return schema.default
    if schema.name == "org.apache.kafka.connect.data.Decimal":
        return decimal.Decimal(0).scaleb(-int((schema.parameters or {}).get("scale", "0")))
    if schema.name == "org.apache.kafka.connect.data.Date":
        return datetime.date(1970, 1, 1)
    if schema.name == "org.apache.kafka.connect.data.Time":
        return datetime.time(0)
    if schema.name == "org.apache.kafka.connect.data.Timestamp":
        return datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
    t = schema.type
    if t in (Type.INT8, Type.INT16, Type.INT32, Type.INT64):
        return 0
    if t in (Type.FLOAT32, Type.FLOAT64):
        return 0.0
    if t is Type.BOOLEAN:
        return False
    if t is Type.STRING:
        return ""
    if t is Type.BYTES:
        return b""
    if t is Type.ARRAY:
        return []
    if t is Type.STRUCT and schema.name == "io.debezium.data.VariableScaleDecimal":
        return Struct(schema).put("scale", 0).put("value", b"\0")
    return None


def row_struct(shape: TableShape, values: Sequence[ColumnValue]) -> Struct:
    """The `...Value` struct of a row from pgoutput's tuple (text values).

    Built without per-field checks: each parser returns the Python type its schema takes (the
    unit tests validate every mapping), and this is the per-change hot path.
    """
    out: list[object] = []
    append = out.append
    count = len(values)
    for c, field in zip(shape.columns, shape.value_schema.fields, strict=True):
        raw = values[c.position] if c.position < count else None
        value: object
        if raw is None:
            value = None
        elif raw is UNCHANGED_TOAST:
            t = field.schema.type
            if t is Type.STRING:
                value = UNAVAILABLE_PLACEHOLDER
            elif t is Type.BYTES:
                value = UNAVAILABLE_PLACEHOLDER.encode()
            else:
                value = None
        else:
            value = c.mapped.parse(raw)  # type: ignore[arg-type]
        if value is None and not field.schema.optional:
            value = zero_value(field.schema)
        append(value)
    return Struct._trusted(shape.value_schema, out)


def key_struct(shape: TableShape, row: Struct) -> Struct | None:
    if shape.key_schema is None:
        return None
    return Struct._trusted(shape.key_schema, [row.get(c.name) for c in shape.key_columns])


@dataclass(frozen=True, slots=True)
class SourceInfo:
    server: str
    db: str
    schema_name: str
    table: str
    ts_us: int
    snapshot: SnapshotMark
    tx_id: int | None
    lsn: int | None
    last_commit_lsn: int | None


def source_struct(info: SourceInfo) -> Struct:
    last = "null" if info.last_commit_lsn is None else f'"{info.last_commit_lsn}"'
    this = "null" if info.lsn is None else f'"{info.lsn}"'
    return Struct._trusted(
        SOURCE_SCHEMA,
        [
            DEBEZIUM_VERSION,
            CONNECTOR,
            info.server,
            info.ts_us // 1000,
            info.snapshot,
            info.db,
            f"[{last},{this}]",
            info.ts_us,
            info.ts_us * 1000,
            info.schema_name,
            info.table,
            info.tx_id,
            info.lsn,
            None,
            None,
            None,
        ],
    )


def envelope(
    shape: TableShape,
    op: Op,
    before: Struct | None,
    after: Struct | None,
    source: Struct,
    now_us: int,
    transaction: Struct | None = None,
) -> Struct:
    """before, after, source, transaction, op, ts_ms, ts_us, ts_ns (`shape_table`'s order)."""
    return Struct._trusted(
        shape.envelope_schema,
        [before, after, source, transaction, op, now_us // 1000, now_us, now_us * 1000],
    )


def transaction_block(tx_id: str, total_order: int, collection_order: int) -> Struct:
    """The envelope's `transaction` field: the event's place in its transaction (from 1)."""
    return Struct._trusted(TRANSACTION_SCHEMA, [tx_id, total_order, collection_order])


def transaction_key(tx_id: str) -> Struct:
    return Struct._trusted(TRANSACTION_KEY_SCHEMA, [tx_id])


def transaction_begin(tx_id: str, ts_ms: int) -> Struct:
    return Struct._trusted(TRANSACTION_VALUE_SCHEMA, ["BEGIN", tx_id, None, None, ts_ms])


def transaction_end(tx_id: str, counts: dict[str, int], ts_ms: int) -> Struct:
    """END, with the events per data collection (`schema.table`) in the order first seen."""
    collections = [
        Struct._trusted(DATA_COLLECTION_SCHEMA, [name, count]) for name, count in counts.items()
    ]
    total = sum(counts.values())
    return Struct._trusted(TRANSACTION_VALUE_SCHEMA, ["END", tx_id, total, collections, ts_ms])


def heartbeat_value(now_us: int) -> Struct:
    return Struct(HEARTBEAT_VALUE_SCHEMA).put("ts_ms", now_us // 1000)


def heartbeat_key(server: str) -> Struct:
    return Struct(HEARTBEAT_KEY_SCHEMA).put("serverName", server)
