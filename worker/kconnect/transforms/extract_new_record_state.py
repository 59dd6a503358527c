"""ExtractNewRecordState: Debezium's unwrap transform, io.debezium.transforms.ExtractNewRecordState.

A Debezium change event's value is an envelope (`before`, `after`, `source`, `op`, `ts_ms`,
`transaction`) under a schema named `<...>.Envelope`; this transform replaces it with the row
state, so that a sink sees rows. It takes Debezium 3.x's keys:

| key | default | |
|---|---|---|
| `delete.tombstone.handling.mode` | `tombstone` | what deletes and tombstones become (below) |
| `route.by.field` | | a row field whose value becomes the topic (`before`'s for a delete) |
| `add.fields` | | envelope fields to append to the row (below) |
| `add.fields.prefix` | `__` | put before each added field's name (`__op`, `__source_ts_ms`) |
| `add.headers`, `add.headers.prefix` | , `__` | the same fields as headers |
| `drop.fields.header.name` | | a header listing field names to drop from the value |
| `drop.fields.from.key` | `false` | drop them from the key too |
| `drop.fields.keep.schema.compatible` | `true` | drop only optional fields |
| `replace.null.with.default` | `true` | a rewritten row's null fields take their defaults |

`add.fields` names envelope fields: `op`, `ts_ms`, `ts_us`, `ts_ns` (top level), `id`,
`total_order`, `data_collection_order` (from `transaction`), any other name from `source`;
`struct.field` names the struct, and `field:newName` names the new field.

`delete.tombstone.handling.mode`:

| mode | a delete event becomes | a tombstone |
|---|---|---|
| `drop` | dropped | dropped |
| `tombstone` | a record with a null value (the `after` field's schema) | dropped |
| `rewrite` | the `before` row with `__deleted`=`"true"` (other rows get `"false"`) | dropped |
| `rewrite-with-tombstone` | as `rewrite` | kept |
| `delete-to-tombstone` | a tombstone (null value and schema) | dropped |

The keys Debezium 2.x deprecated, `drop.tombstones` (default `true`) and `delete.handling.mode`
(`drop`, `rewrite`, `none`; default `drop`), are read when `delete.tombstone.handling.mode` is
not set and either of them is. A truncate event (neither `before` nor `after`) is dropped. A
record whose value schema is not an envelope passes unchanged.

Added fields take the envelope field's schema made optional; a name the envelope lacks is left
out. The unwrapped row's fields come first, then `__deleted` (rewrite modes), then the added
fields. Schemas made for a row schema are cached, so a stream of one table builds them once.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Self, TypeVar

from pydantic import Field, field_validator, model_validator

from kconnect.api.records import ConnectRecord, Headers
from kconnect.api.transform import Transformation, TransformConfig
from kconnect.config.connector import split_list
from kconnect.data.schema import Schema, SchemaBuilder, Struct, Type
from kconnect.errors import ConfigError, DataError
from kconnect.transforms._part import (
    copied_values,
    copy_headers,
    copy_schema_basics,
    require_struct,
    trusted_struct,
    with_topic,
    with_value,
)

R = TypeVar("R", bound=ConnectRecord)

DELETED_FIELD = "__deleted"
ENVELOPE_SUFFIX = ".Envelope"
PURPOSE = "source field insertion"
_TOP_LEVEL = frozenset({"op", "ts_ms", "ts_us", "ts_ns"})
_TRANSACTION = frozenset({"id", "total_order", "data_collection_order"})


class DeleteTombstoneHandling(enum.Enum):
    DROP = "drop"
    TOMBSTONE = "tombstone"
    REWRITE = "rewrite"
    REWRITE_WITH_TOMBSTONE = "rewrite-with-tombstone"
    DELETE_TO_TOMBSTONE = "delete-to-tombstone"


class LegacyDeleteHandling(enum.Enum):
    DROP = "drop"
    REWRITE = "rewrite"
    NONE = "none"


class ExtractNewRecordStateConfig(TransformConfig):
    delete_tombstone_handling_mode: DeleteTombstoneHandling | None = Field(
        None,
        alias="delete.tombstone.handling.mode",
        description=(
            "How to handle delete events and tombstones: drop, tombstone (the default), "
            "rewrite, rewrite-with-tombstone or delete-to-tombstone."
        ),
        json_schema_extra={"importance": "MEDIUM"},
    )
    drop_tombstones: bool | None = Field(
        None,
        alias="drop.tombstones",
        description="Deprecated (Debezium 2.x): drop tombstones; default true.",
        json_schema_extra={"importance": "LOW"},
    )
    delete_handling_mode: LegacyDeleteHandling | None = Field(
        None,
        alias="delete.handling.mode",
        description="Deprecated (Debezium 2.x): drop, rewrite or none; default drop.",
        json_schema_extra={"importance": "LOW"},
    )
    route_by_field: str = Field(
        "",
        alias="route.by.field",
        description=(
            "The column which determines how the events will be routed, the value will replace "
            "the topic name."
        ),
        json_schema_extra={"importance": "LOW"},
    )
    add_fields_prefix: str = Field(
        "__",
        alias="add.fields.prefix",
        description="Adds this prefix to each field listed.",
        json_schema_extra={"importance": "LOW"},
    )
    add_fields: str = Field(
        "",
        alias="add.fields",
        description=(
            "Adds each field listed, prefixed with __ (or __<struct>_ if the struct is "
            "specified); field:newName names the new field."
        ),
        json_schema_extra={"importance": "LOW", "type": "LIST"},
    )
    add_headers_prefix: str = Field(
        "__",
        alias="add.headers.prefix",
        description="Adds this prefix listed to each header.",
        json_schema_extra={"importance": "LOW"},
    )
    add_headers: str = Field(
        "",
        alias="add.headers",
        description="Adds the specified fields to the header if they exist.",
        json_schema_extra={"importance": "LOW", "type": "LIST"},
    )
    drop_fields_header_name: str = Field(
        "",
        alias="drop.fields.header.name",
        description="The name of a header that lists fields to be removed from the value.",
        json_schema_extra={"importance": "LOW"},
    )
    drop_fields_from_key: bool = Field(
        False,
        alias="drop.fields.from.key",
        description="Whether to remove the fields to be dropped from the key as well.",
        json_schema_extra={"importance": "LOW"},
    )
    drop_fields_keep_schema_compatible: bool = Field(
        True,
        alias="drop.fields.keep.schema.compatible",
        description="true: only optional fields are dropped; false: the listed fields are.",
        json_schema_extra={"importance": "LOW"},
    )
    replace_null_with_default: bool = Field(
        True,
        alias="replace.null.with.default",
        description="Null field values are replaced by their defaults when the row is rewritten.",
        json_schema_extra={"importance": "LOW"},
    )

    @field_validator("delete_tombstone_handling_mode", "delete_handling_mode", mode="before")
    @classmethod
    def _case_insensitive(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.strip().lower()
            return value or None
        return value

    @model_validator(mode="after")
    def _references(self) -> Self:
        for text in (self.add_fields, self.add_headers):
            for item in split_list(text):
                if item.count(":") > 1:
                    raise ValueError(
                        f"Unexpected field name: {item}; expected field or field:newName"
                    )
        return self

    def handling(self) -> tuple[DeleteTombstoneHandling, bool]:
        """What a delete event becomes (as the mode of that name does), and whether tombstones
        are kept; from the legacy keys when the new one is not set."""
        mode = self.delete_tombstone_handling_mode
        if mode is not None:
            if mode is DeleteTombstoneHandling.REWRITE_WITH_TOMBSTONE:
                return DeleteTombstoneHandling.REWRITE, True
            return mode, False
        if self.drop_tombstones is None and self.delete_handling_mode is None:
            return DeleteTombstoneHandling.TOMBSTONE, False
        keep = self.drop_tombstones is False
        legacy = self.delete_handling_mode or LegacyDeleteHandling.DROP
        deletes = {
            LegacyDeleteHandling.DROP: DeleteTombstoneHandling.DROP,
            LegacyDeleteHandling.REWRITE: DeleteTombstoneHandling.REWRITE,
            LegacyDeleteHandling.NONE: DeleteTombstoneHandling.TOMBSTONE,
        }[legacy]
        return deletes, keep


class FieldReference:
    """An envelope field named in `add.fields` / `add.headers`, and the name it gets."""

    __slots__ = ("field", "new_name", "struct")

    def __init__(self, prefix: str, text: str) -> None:
        path, _, rename = text.partition(":")
        parts = path.split(".")
        self.field = parts[0] if len(parts) == 1 else parts[1]
        if len(parts) == 1:
            self.struct: str | None = _home(self.field)
        else:
            self.struct = parts[0]
        if rename:
            self.new_name = prefix + rename
        elif len(parts) == 1:
            self.new_name = prefix + self.field
        else:
            self.new_name = f"{prefix}{self.struct}_{self.field}"

    def schema(self, envelope: Schema) -> Schema | None:
        """The added field's schema: the envelope field's, made optional; None when absent."""
        parent: Schema | None = envelope
        if self.struct is not None:
            holder = envelope.field(self.struct)
            parent = holder.schema if holder is not None else None
        found = parent.field(self.field) if parent is not None else None
        if found is None:
            found = envelope.field(self.field)  # a field another transform put at the top
        if found is None:
            return None
        return _optional(found.schema)

    def value(self, envelope: Struct) -> object:
        parent = envelope
        if self.struct is not None:
            holder = envelope.schema.field(self.struct)
            inner = envelope.get_without_default(self.struct) if holder is not None else None
            if not isinstance(inner, Struct):
                if holder is None and envelope.schema.field(self.field) is not None:
                    return envelope.get_without_default(self.field)
                return None  # e.g. no transaction block while snapshotting
            parent = inner
        if parent.schema.field(self.field) is not None:
            return parent.get_without_default(self.field)
        if envelope.schema.field(self.field) is not None:
            return envelope.get_without_default(self.field)
        return None


def _home(name: str) -> str | None:
    if name in _TOP_LEVEL:
        return None
    if name in _TRANSACTION:
        return "transaction"
    return "source"


def _optional(schema: Schema) -> Schema:
    if schema.optional and schema.default is None:
        return schema
    builder = copy_schema_basics(schema, SchemaBuilder(schema.type))
    if schema.type is Type.STRUCT:
        for f in schema.fields:
            builder.field(f.name, f.schema)
    elif schema.type is Type.ARRAY and schema.value_schema is not None:
        builder = copy_schema_basics(schema, SchemaBuilder.array(schema.value_schema))
    elif (
        schema.type is Type.MAP
        and schema.key_schema is not None
        and schema.value_schema is not None
    ):
        builder = copy_schema_basics(
            schema, SchemaBuilder.map(schema.key_schema, schema.value_schema)
        )
    return builder.optional().build()


class ExtractNewRecordState(Transformation[R]):
    """Unwraps Debezium's change event envelope into the row; see the module docstring."""

    config_model = ExtractNewRecordStateConfig

    def __init__(self) -> None:
        self._mode = DeleteTombstoneHandling.TOMBSTONE
        self._keep_tombstones = False
        self._rewrite = False
        self._fields: list[FieldReference] = []
        self._headers: list[FieldReference] = []
        self._route_by = ""
        self._drop_header = ""
        self._drop_from_key = False
        self._drop_optional_only = True
        self._replace_null = True
        self._schemas: dict[tuple[Schema, Schema, bool], tuple[Schema, list[FieldReference]]] = {}

    def configure(self, configs: Mapping[str, str]) -> None:
        config = ExtractNewRecordStateConfig.parse(configs)
        self._mode, self._keep_tombstones = config.handling()
        self._rewrite = self._mode is DeleteTombstoneHandling.REWRITE
        try:
            self._fields = [
                FieldReference(config.add_fields_prefix, t) for t in split_list(config.add_fields)
            ]
            self._headers = [
                FieldReference(config.add_headers_prefix, t) for t in split_list(config.add_headers)
            ]
        except IndexError as e:
            raise ConfigError(f"add.fields / add.headers: unexpected field name ({e})") from None
        self._route_by = config.route_by_field
        self._drop_header = config.drop_fields_header_name
        self._drop_from_key = config.drop_fields_from_key
        self._drop_optional_only = config.drop_fields_keep_schema_compatible
        self._replace_null = config.replace_null_with_default
        self._schemas.clear()

    def apply(self, record: R) -> R | None:
        value = record.value
        if value is None:
            if not self._keep_tombstones:
                return None
            if self._headers:
                marked = copy_headers(record)
                for ref in self._headers:
                    if ref.field == "op" and ref.struct is None:
                        marked.add(ref.new_name, "d", Schema.STRING)
                return with_value(record, record.value_schema, None, marked)
            return record
        schema = record.value_schema
        if schema is None or schema.name is None or not schema.name.endswith(ENVELOPE_SUFFIX):
            return record
        envelope = require_struct(value, "Read envelope")
        headers: Headers | None = None
        if self._headers:
            headers = copy_headers(record)
            for ref in self._headers:
                header_schema = ref.schema(schema)
                if header_schema is not None:
                    headers.add(ref.new_name, ref.value(envelope), header_schema)
        after_field = schema.field("after")
        before_field = schema.field("before")
        after = envelope.get_without_default("after") if after_field is not None else None
        before = envelope.get_without_default("before") if before_field is not None else None
        if after is None and before is None:
            return None  # a truncate event
        if headers is not None:
            record = with_value(record, record.value_schema, record.value, headers)
        if after is None:
            out = self._deleted(record, envelope, schema, before, before_field)
        else:
            assert after_field is not None
            row = require_struct(after, PURPOSE)
            out = self._row(record, envelope, schema, row, deleted=False)
            out = self._route(out, row)
        if out is None:
            return None
        return self._drop_fields(out)

    def _deleted(
        self,
        record: R,
        envelope: Struct,
        schema: Schema,
        before: object,
        before_field: object,
    ) -> R | None:
        mode = self._mode
        if mode is DeleteTombstoneHandling.DROP:
            return None
        row = before if isinstance(before, Struct) else None
        if mode is DeleteTombstoneHandling.DELETE_TO_TOMBSTONE:
            out = with_value(record, None, None)
        elif self._rewrite:
            if row is None:
                raise DataError("Only Struct objects supported for [Read before], found: null")
            out = self._row(record, envelope, schema, row, deleted=True)
        else:
            after_field = schema.field("after")
            out = with_value(record, after_field.schema if after_field is not None else None, None)
        return self._route(out, row) if row is not None else out

    def _row(self, record: R, envelope: Struct, schema: Schema, row: Struct, *, deleted: bool) -> R:
        """The row (with `__deleted` in the rewrite modes and the added fields) as the value."""
        if not self._rewrite and not self._fields:
            return with_value(record, row.schema, row)
        key = (row.schema, schema, deleted)
        cached = self._schemas.get(key)
        if cached is None:
            builder = copy_schema_basics(row.schema, SchemaBuilder.struct())
            for f in row.schema.fields:
                builder.field(f.name, f.schema)
            if self._rewrite:
                builder.field(DELETED_FIELD, Schema.OPTIONAL_STRING)
            present: list[FieldReference] = []
            for ref in self._fields:
                field_schema = ref.schema(schema)
                if field_schema is not None:
                    builder.field(ref.new_name, field_schema)
                    present.append(ref)
            cached = (builder.build(), present)
            self._schemas[key] = cached
        new_schema, present = cached
        values = (
            copied_values(row, self._replace_null)
            if self._rewrite
            else list(
                row._values  # copied as put, as Debezium copies (no defaults)
            )
        )
        if self._rewrite:
            values.append("true" if deleted else "false")
        values.extend(ref.value(envelope) for ref in present)
        return with_value(record, new_schema, trusted_struct(new_schema, values))

    def _route(self, record: R, row: Struct) -> R:
        if not self._route_by:
            return record
        if row.schema.field(self._route_by) is None:
            raise DataError(f"route.by.field '{self._route_by}' is not a field of the row")
        topic = row.get_without_default(self._route_by)
        if topic is None or (isinstance(topic, str) and not topic.strip()):
            return record
        if not isinstance(topic, str):
            raise DataError(
                f"route.by.field '{self._route_by}' must be a string field, found "
                f"{type(topic).__name__}"
            )
        return with_topic(record, topic)

    def _drop_fields(self, record: R) -> R:
        if not self._drop_header or not record.has_headers():
            return record
        header = record.headers.last(self._drop_header)
        if header is None or not header.value:
            return record
        names = header.value
        if not isinstance(names, list):
            raise DataError(
                f"header '{self._drop_header}' must hold a list of field names, found "
                f"{type(names).__name__}"
            )
        wanted = {str(n) for n in names}
        out = record
        if self._drop_from_key and isinstance(record.key, Struct):
            schema, value = self._without(record.key, wanted)
            out = out.new_record(
                out.topic,
                out.kafka_partition,
                schema,
                value,
                out.value_schema,
                out.value,
                out.timestamp,
            )
        if isinstance(out.value, Struct):
            schema, value = self._without(out.value, wanted)
            out = with_value(out, schema, value)
        return out

    def _without(self, struct: Struct, wanted: set[str]) -> tuple[Schema, Struct]:
        drop = {
            f.name
            for f in struct.schema.fields
            if f.name in wanted and (f.schema.optional or not self._drop_optional_only)
        }
        if not drop:
            return struct.schema, struct
        builder = copy_schema_basics(struct.schema, SchemaBuilder.struct())
        kept = [f for f in struct.schema.fields if f.name not in drop]
        for f in kept:
            builder.field(f.name, f.schema)
        if struct.schema.optional:
            builder.optional()
        schema = builder.build()
        return schema, trusted_struct(schema, [struct.get_without_default(f.name) for f in kept])
