"""What the `$Key` and `$Value` variants of a transform share: which part of the record they change.

Kafka Connect ships most transforms as two nested classes, `InsertField$Key` and
`InsertField$Value`, that differ only in the part of the record they read and replace. Here a
transform is written once against `PartTransformation` and its two variants set `part`.

The `require_*` helpers raise `DataError`s worded as Kafka Connect's `Requirements` does, naming
the transform's purpose and what it found, so a log line or a dead-letter header says which
record was wrong and why.
"""

from __future__ import annotations

import enum
from collections import OrderedDict
from collections.abc import Callable
from typing import ClassVar, TypeVar

from pydantic import ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

from kconnect.api.records import ConnectRecord, SinkRecord
from kconnect.api.transform import Transformation
from kconnect.data.schema import Field, Schema, SchemaBuilder, Struct, Type
from kconnect.errors import DataError

R = TypeVar("R", bound=ConnectRecord)


class Part(enum.Enum):
    KEY = "key"
    VALUE = "value"


class PartTransformation(Transformation[R]):
    """A transform of the record's key or value; the `$Key`/`$Value` subclass sets `part`."""

    part: ClassVar[Part] = Part.VALUE

    def operating_schema(self, record: R) -> Schema | None:
        return record.key_schema if self.part is Part.KEY else record.value_schema

    def operating_value(self, record: R) -> object:
        return record.key if self.part is Part.KEY else record.value

    def new_part(self, record: R, schema: Schema | None, value: object) -> R:
        """A copy of `record` with its key (or value) and that part's schema replaced."""
        if self.part is Part.KEY:
            return record.new_record(
                record.topic,
                record.kafka_partition,
                schema,
                value,
                record.value_schema,
                record.value,
                record.timestamp,
            )
        return record.new_record(
            record.topic,
            record.kafka_partition,
            record.key_schema,
            record.key,
            schema,
            value,
            record.timestamp,
        )


def _type_name(value: object) -> str:
    return "null" if value is None else type(value).__name__


def require_map(value: object, purpose: str) -> dict[str, object]:
    """A schemaless value must be a map (a dict with string keys)."""
    if not isinstance(value, dict):
        raise DataError(
            f"Only Map objects supported in absence of schema for [{purpose}], found: "
            f"{_type_name(value)}"
        )
    return value


def require_map_or_null(value: object, purpose: str) -> dict[str, object] | None:
    return None if value is None else require_map(value, purpose)


def require_struct(value: object, purpose: str) -> Struct:
    if not isinstance(value, Struct):
        raise DataError(
            f"Only Struct objects supported for [{purpose}], found: {_type_name(value)}"
        )
    return value


def require_struct_or_null(value: object, purpose: str) -> Struct | None:
    return None if value is None else require_struct(value, purpose)


def require_schema(schema: Schema | None, purpose: str) -> Schema:
    if schema is None:
        raise DataError(f"Schema required for [{purpose}]")
    return schema


def is_struct_schema(schema: Schema | None) -> bool:
    return schema is not None and schema.type is Type.STRUCT


def require_sink_record(record: ConnectRecord, purpose: str) -> SinkRecord:
    """Kafka coordinates such as the offset exist only on records read from Kafka."""
    if not isinstance(record, SinkRecord):
        raise DataError(
            f"Only SinkRecord supported for [{purpose}], found: {type(record).__name__}"
        )
    return record


def copy_schema_basics(source: Schema, builder: SchemaBuilder) -> SchemaBuilder:
    """`builder` with the name, version, doc and parameters of `source`, as Kafka Connect's
    `SchemaUtil.copySchemaBasics`: optionality and default stay the caller's choice."""
    if source.name is not None:
        builder.name(source.name)
    if source.version is not None:
        builder.version(source.version)
    if source.doc is not None:
        builder.doc(source.doc)
    if source.parameters is not None:
        builder.parameters(source.parameters)
    return builder


def field_value(struct: Struct, field: Field, replace_null_with_default: bool) -> object:
    """A field's value; with `replace.null.with.default=false` a null stays null even when the
    field's schema has a default (KIP-1040)."""
    return struct.get(field) if replace_null_with_default else struct.get_without_default(field)


class SchemaUpdateCache:
    """The derived schema for each input schema a transform has met, as Kafka Connect's
    per-transform LRU cache of 16: deriving a schema costs far more than looking it up, and a
    topic rarely carries more than a few schemas at once. Not thread-safe; a transform instance
    runs on one task's thread."""

    __slots__ = ("_entries", "_size")

    def __init__(self, size: int = 16) -> None:
        self._entries: OrderedDict[Schema, Schema] = OrderedDict()
        self._size = size

    def get_or_build(self, schema: Schema, build: Callable[[Schema], Schema]) -> Schema:
        entries = self._entries
        found = entries.get(schema)
        if found is not None:
            entries.move_to_end(schema)
            return found
        updated = build(schema)
        entries[schema] = updated
        if len(entries) > self._size:
            entries.popitem(last=False)
        return updated

    def clear(self) -> None:
        self._entries.clear()


def config_key_error(model: str, key: str, value: object, message: str) -> ValidationError:
    """A config model's error on one key, for a rule a model validator checks over several
    keys: raised from the validator, it is reported on `key` rather than on the whole config."""
    return ValidationError.from_exception_data(
        model,
        [
            InitErrorDetails(
                type=PydanticCustomError("value_error", message), loc=(key,), input=value
            )
        ],
    )
