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
from collections.abc import Callable, Mapping
from typing import Annotated, ClassVar, TypeVar

from pydantic import Field as ConfigField
from pydantic import ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

from kconnect.api.records import ConnectRecord, Headers, SinkRecord
from kconnect.api.transform import Transformation
from kconnect.data.schema import Field, Schema, SchemaBuilder, Struct, Type
from kconnect.errors import DataError

R = TypeVar("R", bound=ConnectRecord)

ReplaceNullWithDefault = Annotated[
    bool,
    ConfigField(
        alias="replace.null.with.default",
        description=(
            "Whether to replace fields that have a default value and that are null to the "
            "default value. When set to true, the default value is used, otherwise null is used."
        ),
        json_schema_extra={"importance": "MEDIUM"},
    ),
]
"""The `replace.null.with.default` key (KIP-1040) of the transforms that read struct fields."""


class Part(enum.Enum):
    KEY = "key"
    VALUE = "value"


# The members as module constants: reading `Part.KEY` goes through the enum's metaclass and
# costs several times an attribute read, which shows on a per-record path.
KEY = Part.KEY
VALUE = Part.VALUE


class PartTransformation(Transformation[R]):
    """A transform of the record's key or value; the `$Key`/`$Value` subclass sets `part`."""

    part: ClassVar[Part] = Part.VALUE

    def operating_schema(self, record: R) -> Schema | None:
        return record.key_schema if self.part is KEY else record.value_schema

    def operating_value(self, record: R) -> object:
        return record.key if self.part is KEY else record.value

    def new_part(
        self, record: R, schema: Schema | None, value: object, headers: Headers | None = None
    ) -> R:
        """A copy of `record` with its key (or value) and that part's schema replaced."""
        if self.part is KEY:
            return with_key(record, schema, value, headers)
        return with_value(record, schema, value, headers)


def with_key(record: R, schema: Schema | None, key: object, headers: Headers | None = None) -> R:
    """A copy of `record` with another key and key schema (and headers, when given)."""
    return record.new_record(
        record.topic,
        record.kafka_partition,
        schema,
        key,
        record.value_schema,
        record.value,
        record.timestamp,
        headers,
    )


def with_value(
    record: R, schema: Schema | None, value: object, headers: Headers | None = None
) -> R:
    """A copy of `record` with another value and value schema (and headers, when given)."""
    return record.new_record(
        record.topic,
        record.kafka_partition,
        record.key_schema,
        record.key,
        schema,
        value,
        record.timestamp,
        headers,
    )


def with_topic(record: R, topic: str) -> R:
    """A copy of `record` sent to another topic."""
    return record.new_record(
        topic,
        record.kafka_partition,
        record.key_schema,
        record.key,
        record.value_schema,
        record.value,
        record.timestamp,
    )


def with_headers(record: R, headers: Headers) -> R:
    """A copy of `record` with `headers` in place of its own."""
    return with_value(record, record.value_schema, record.value, headers)


def copy_headers(record: ConnectRecord) -> Headers:
    """A new header list with the record's headers; the record's own list is left alone."""
    return record.headers.copy() if record.has_headers() else Headers()


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


_NO_RENAMES: Mapping[str, str] = {}


def copied_values(struct: Struct, replace_null_with_default: bool) -> list[object]:
    """The values of `struct`'s fields in order, read as `field_value` reads them: a new list
    a transform may extend with the fields it adds."""
    values = list(struct._values)
    if replace_null_with_default and None in values:
        fields = struct.schema.fields
        return [fields[i].schema.default if v is None else v for i, v in enumerate(values)]
    return values


def has_field_defaults(schema: Schema) -> bool:
    """Whether a field of struct `schema` has a default, so that reading its values with
    `replace.null.with.default` can differ from reading them as put."""
    return any(f.schema.default is not None for f in schema.fields)


trusted_struct = Struct._trusted
"""`Struct._trusted`, bound once: a per-record path calls it without looking up and binding
the class method on every record."""


def _check(field: Field, value: object) -> None:
    """`Struct.put`'s check, for a value a transform made rather than copied."""
    if value is not None or not field.schema.optional:
        field.schema.checker(value, field.name)


def rebuild_struct(
    struct: Struct,
    schema: Schema,
    replace_null_with_default: bool,
    *,
    renamed_from: Mapping[str, str] = _NO_RENAMES,
    update: Callable[[Field, object], object] | None = None,
) -> Struct:
    """A struct of `schema`, a schema derived from `struct`'s: each field takes the value of the
    field of `struct` with its name (or the name in `renamed_from`), read as `field_value` does
    and passed through `update(source_field, value)` when given.

    This runs per record, so a value is checked against its new field only when it may not fit:
    when `update` changed it or the field's schema changed. A value copied into a field of the
    same schema was checked when the input struct was made.
    """
    source_schema = struct.schema
    source_values = struct._values
    values: list[object] = []
    append = values.append
    for f in schema.fields:
        source = source_schema.field(renamed_from.get(f.name, f.name))
        assert source is not None  # `schema` was derived from this struct's schema
        original = source_values[source.index]
        if original is None and replace_null_with_default:
            original = source.schema.default
        current = original if update is None else update(source, original)
        if current is not original or (f.schema is not source.schema and f.schema != source.schema):
            _check(f, current)
        append(current)
    return Struct._trusted(schema, values)


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
