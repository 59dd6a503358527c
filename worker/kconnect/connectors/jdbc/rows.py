"""Which columns a record gives, and its row: Confluent's `FieldsMetadata`, as pure functions.

A `RowPlan` is made once per (table, key schema, value schema) and then applied to every record
with those schemas, so the per-record work is a few index reads:

- `pk.mode=none`: no key columns; the value's fields (those of `fields.whitelist`, when set).
- `pk.mode=kafka`: `__connect_topic` (STRING), `__connect_partition` (INT32), `__connect_offset`
  (INT64), or the three `pk.fields` names, from the record's coordinates.
- `pk.mode=record_key`: a primitive key is one column named by the single `pk.fields`; a struct
  key gives its fields (or those `pk.fields` names).
- `pk.mode=record_value`: the value's fields (or those `pk.fields` names) are the key.

Columns are ordered as Confluent orders them: the Kafka coordinates, then the value's fields in
schema order, then any other key columns by name.

Values: a struct field that is null takes its schema's default (Java's `Struct.get`); strings
lose NUL characters, which PostgreSQL's text cannot hold (as Confluent's dialect strips them);
Time values are moved into `db.timezone` as Confluent binds them; Timestamps stay aware and the
session's TimeZone (set to `db.timezone`) gives TIMESTAMP columns their wall-clock time; Dates
are written as the calendar date they are.

Every record-level problem is a `DataError` naming the record's coordinates and what was wrong
with it: no key under `record_key`, a value that is not a struct, no value schema, a tombstone
without `delete.enabled`, a null key field.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from kconnect.api.records import SinkRecord
from kconnect.connectors.jdbc.config import DEFAULT_KAFKA_PK_NAMES, PrimaryKeyMode
from kconnect.connectors.jdbc.dialect import Column, Dialect, TableId
from kconnect.data.schema import TIME_NAME, Schema, Struct, Type
from kconnect.errors import DataError

Row = tuple[object, ...]
Extract = Callable[[SinkRecord], Row]


def where(record: SinkRecord) -> str:
    """The record's coordinates, as messages name them."""
    return (
        f"topic '{record.original_topic}' partition {record.original_kafka_partition} "
        f"offset {record.original_kafka_offset}"
    )


@dataclass(frozen=True)
class Settings:
    """What of the config decides the columns."""

    pk_mode: PrimaryKeyMode
    pk_fields: tuple[str, ...]
    value_fields: frozenset[str]
    delete_enabled: bool
    timezone: _dt.tzinfo


@dataclass(frozen=True)
class RowPlan:
    """The columns records of one shape give, and how to read their values."""

    table: TableId
    keys: tuple[Column, ...]
    others: tuple[Column, ...]
    row: Extract
    """The key columns' values, then the others'."""
    key: Extract
    """The key columns' values alone (a delete)."""

    @property
    def columns(self) -> tuple[Column, ...]:
        return (*self.keys, *self.others)

    @property
    def key_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.keys)

    @property
    def other_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.others)


def plan(
    settings: Settings,
    dialect: Dialect,
    table: TableId,
    key_schema: Schema | None,
    value_schema: Schema | None,
    *,
    tombstone: bool,
) -> RowPlan:
    """The plan for records of these schemas; `DataError` when such records cannot be written
    (the message says why, and the table it was for)."""
    if value_schema is None and not tombstone:
        raise DataError(
            f"table {table}: the record value has no schema; JdbcSink needs STRUCT values, from "
            "a converter with schemas (JsonConverter with schemas.enable=true, Avro, Protobuf)"
        )
    if value_schema is not None and value_schema.type is not Type.STRUCT:
        raise DataError(
            f"table {table}: the record value's schema must be a STRUCT, not "
            f"{value_schema.type.value.upper()}"
        )
    keys: list[Column] = []
    key_extract: Extract
    mode = settings.pk_mode
    if mode is PrimaryKeyMode.NONE:
        key_extract = _no_key
    elif mode is PrimaryKeyMode.KAFKA:
        names = settings.pk_fields or DEFAULT_KAFKA_PK_NAMES
        keys = [
            Column(names[0], Schema.STRING, True),
            Column(names[1], Schema.INT32, True),
            Column(names[2], Schema.INT64, True),
        ]
        key_extract = _kafka_coordinates
    elif mode is PrimaryKeyMode.RECORD_KEY:
        keys, key_extract = _record_key_columns(settings, table, key_schema)
    else:
        if value_schema is None:
            raise DataError(
                f"table {table}: pk.mode is record_value, but the record has no value schema"
            )
        names = settings.pk_fields or tuple(f.name for f in value_schema.fields)
        for name in names:
            if value_schema.field(name) is None:
                raise DataError(
                    f"table {table}: pk.mode is record_value with pk.fields "
                    f"{','.join(settings.pk_fields)}, but the value schema has no field '{name}'"
                )
        keys = [Column(n, _field_schema(value_schema, n), True) for n in names]
        key_extract = _struct_reader(value_schema, names, "value", settings.timezone)
    key_names = {c.name for c in keys}
    others: list[Column] = []
    if value_schema is not None and not tombstone:
        for f in value_schema.fields:
            if f.name in key_names:
                continue
            if settings.value_fields and f.name not in settings.value_fields:
                continue
            others.append(Column(f.name, f.schema, False))
    keys = _confluent_order(keys, value_schema)
    columns = (*keys, *others)
    for column in columns:
        dialect.identifier(column.name)  # a NUL or empty name fails here, for the whole shape
        if column.schema.type in (Type.MAP, Type.STRUCT):
            raise DataError(
                f"table {table}: field '{column.name}' is a {column.schema.type.value.upper()}, "
                "which has no column type; flatten it first (the Flatten transform)"
            )
    if not columns:
        raise DataError(f"No fields found using key and value schemas for table: {table}")
    key_extract = _reorder_keys(key_extract, keys, mode, key_schema, value_schema, settings)
    if tombstone:
        return RowPlan(table, tuple(keys), (), key_extract, key_extract)
    assert value_schema is not None
    value_extract = _struct_reader(
        value_schema, [c.name for c in others], "value", settings.timezone
    )
    return RowPlan(
        table, tuple(keys), tuple(others), _joined(key_extract, value_extract), key_extract
    )


def _field_schema(schema: Schema, name: str) -> Schema:
    found = schema.field(name)
    assert found is not None
    return found.schema


def _confluent_order(keys: list[Column], value_schema: Schema | None) -> list[Column]:
    """Kafka coordinates first, then value fields in schema order, then the rest by name."""
    if not keys:
        return keys
    by_name = {c.name: c for c in keys}
    ordered: list[Column] = []
    for name in DEFAULT_KAFKA_PK_NAMES:
        if name in by_name:
            ordered.append(by_name.pop(name))
    if value_schema is not None:
        for f in value_schema.fields:
            if f.name in by_name:
                ordered.append(by_name.pop(f.name))
    ordered.extend(by_name[n] for n in sorted(by_name))
    return ordered if len(ordered) == len(keys) else keys


def _reorder_keys(
    extract: Extract,
    keys: list[Column],
    mode: PrimaryKeyMode,
    key_schema: Schema | None,
    value_schema: Schema | None,
    settings: Settings,
) -> Extract:
    """`extract` reads the key columns in the order they were named; the plan's order may differ
    (`_confluent_order`): give the values in the plan's order."""
    if mode is PrimaryKeyMode.NONE:
        return extract
    if mode is PrimaryKeyMode.KAFKA:
        names = settings.pk_fields or DEFAULT_KAFKA_PK_NAMES
        order = [names.index(c.name) for c in keys]
        if order == [0, 1, 2]:
            return extract
        pick = itemgetter(*order)

        def coordinates(record: SinkRecord) -> Row:
            return tuple(pick(_kafka_coordinates(record)))

        return coordinates
    if mode is PrimaryKeyMode.RECORD_VALUE:
        assert value_schema is not None
        return _struct_reader(value_schema, [c.name for c in keys], "value", settings.timezone)
    if key_schema is not None and key_schema.type is Type.STRUCT:
        return _struct_reader(key_schema, [c.name for c in keys], "key", settings.timezone)
    return extract


def _no_key(record: SinkRecord) -> Row:
    return ()


def _kafka_coordinates(record: SinkRecord) -> Row:
    return (record.topic, record.kafka_partition, record.kafka_offset)


def _record_key_columns(
    settings: Settings, table: TableId, key_schema: Schema | None
) -> tuple[list[Column], Extract]:
    if key_schema is None:
        raise DataError(
            f"table {table}: pk.mode is record_key, but the record has no key schema (a record "
            "without a key, or a key converter without schemas)"
        )
    if key_schema.type.is_primitive:
        if len(settings.pk_fields) != 1:
            raise DataError(
                f"table {table}: the record key is a {key_schema.type.value.upper()}, so "
                "pk.fields must name exactly one column for it, not "
                f"'{','.join(settings.pk_fields)}'"
            )
        name = settings.pk_fields[0]
        convert = _converter(key_schema, settings.timezone)

        def primitive_key(record: SinkRecord) -> Row:
            key = record.key
            if key is None:
                raise DataError(f"the record at {where(record)} has no key (pk.mode=record_key)")
            return (convert(key) if convert is not None else key,)

        return [Column(name, key_schema, True)], primitive_key
    if key_schema.type is not Type.STRUCT:
        raise DataError(
            f"table {table}: the key schema must be a primitive type or a STRUCT, not "
            f"{key_schema.type.value.upper()}"
        )
    names = settings.pk_fields or tuple(f.name for f in key_schema.fields)
    for name in names:
        if key_schema.field(name) is None:
            raise DataError(
                f"table {table}: pk.mode is record_key with pk.fields "
                f"{','.join(settings.pk_fields)}, but the key schema has no field '{name}'"
            )
    columns = [Column(n, _field_schema(key_schema, n), True) for n in names]
    return columns, _struct_reader(key_schema, names, "key", settings.timezone)


def _strip_nul(value: Any) -> Any:
    return value.replace("\x00", "") if "\x00" in value else value


def _converter(schema: Schema, zone: _dt.tzinfo) -> Callable[[Any], Any] | None:
    """What a value of `schema` needs before it is bound, or None when it is bound as it is."""
    if schema.type is Type.STRING and schema.name is None:
        return _strip_nul
    if schema.name == TIME_NAME and zone is not _dt.UTC:

        def shift(value: Any) -> Any:
            instant = _dt.datetime.combine(_dt.date(1970, 1, 1), value, tzinfo=_dt.UTC)
            return instant.astimezone(zone).time().replace(tzinfo=None)

        return shift
    if schema.type is Type.ARRAY and schema.value_schema is not None:
        inner = _converter(schema.value_schema, zone)
        if inner is None:
            return None
        element = inner

        def each(value: Any) -> Any:
            return [None if v is None else element(v) for v in value]

        return each
    return None


def _struct_reader(schema: Schema, names: Sequence[str], part: str, zone: _dt.tzinfo) -> Extract:
    """Reads `names` from the record's key or value struct, defaults and conversions applied."""
    fields = [schema.field(n) for n in names]
    indexes = [f.index for f in fields if f is not None]
    defaults = [
        (i, f.schema.default) for i, f in enumerate(fields) if f and f.schema.default is not None
    ]
    converters = [
        (i, c)
        for i, f in enumerate(fields)
        if f is not None and (c := _converter(f.schema, zone)) is not None
    ]
    required = [
        (i, f.name)
        for i, f in enumerate(fields)
        if f is not None and not f.schema.optional and f.schema.default is None
    ]
    is_key = part == "key"
    if not indexes:
        return _no_key
    getter = itemgetter(*indexes)
    single = len(indexes) == 1

    def read(record: SinkRecord) -> Row:
        struct = record.key if is_key else record.value
        if type(struct) is not Struct:
            raise DataError(_not_a_struct(record, part, struct))
        if struct.schema is not schema and struct.schema != schema:
            raise DataError(
                f"the record at {where(record)}: its {part} struct's schema is not the record's "
                f"{part} schema"
            )
        got = getter(struct._values)  # the per-record read of the fields
        row = [got] if single else list(got)
        for i, default in defaults:
            if row[i] is None:
                row[i] = default
        for i, name in required:
            if row[i] is None:
                raise DataError(
                    f"the record at {where(record)}: required {part} field '{name}' is null"
                )
        for i, convert in converters:
            value = row[i]
            if value is not None:
                row[i] = convert(value)
        return tuple(row)

    return read


def _not_a_struct(record: SinkRecord, part: str, value: object) -> str:
    if value is None:
        if part == "value":
            return (
                f"the record at {where(record)} has a null value (a tombstone); a tombstone "
                "deletes a row only with delete.enabled=true"
            )
        return f"the record at {where(record)} has no key (pk.mode=record_key)"
    return (
        f"the record at {where(record)}: its {part} must be a Struct (a converter with schemas), "
        f"not {type(value).__name__}"
    )


def _joined(first: Extract, second: Extract) -> Extract:
    if first is _no_key:
        return second

    def both(record: SinkRecord) -> Row:
        return first(record) + second(record)

    return both
