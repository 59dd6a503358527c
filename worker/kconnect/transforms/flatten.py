"""Flatten: turn nested structs (or maps) into one level, joining the names with a delimiter.

Kafka Connect's `org.apache.kafka.connect.transforms.Flatten$Key` and `$Value`, with the key
`delimiter` (default `.`): `{"a": {"b": 1}}` becomes `{"a.b": 1}`. Arrays and their contents
are kept as they are.

Invariants:
- A null key or value (a tombstone) passes through untouched.
- Without a schema, the part must be a map. Nested maps are flattened; primitives, bytes,
  lists and nulls are kept under their joined names, in the order met. A struct, or a value
  Connect has no type for (a `Decimal`, a `datetime`), is a `DataError` naming the field.
- With a schema, the part must be a struct. Nested structs are flattened; the new schema,
  derived once per input schema, gives each flattened field its own schema (name, version, doc,
  parameters), made optional when the field or any struct above it is optional, and with the
  field's default, or else the default its enclosing structs' defaults give it. A map field is
  a `DataError`, as in Kafka Connect. Values are the fields' values with defaults applied; a
  null nested struct leaves its flattened fields null.
- Two fields that flatten to the same name are a `DataError`.
"""

from __future__ import annotations

import datetime as _dt
import decimal
from collections.abc import Mapping
from typing import TypeVar

from pydantic import Field

from kconnect.api.records import ConnectRecord
from kconnect.api.transform import TransformConfig
from kconnect.data.schema import Schema, SchemaBuilder, Struct, Type
from kconnect.errors import DataError
from kconnect.transforms._part import (
    Part,
    PartTransformation,
    SchemaUpdateCache,
    copy_schema_basics,
    require_map,
    require_struct,
)

R = TypeVar("R", bound=ConnectRecord)

PURPOSE = "flattening"

_KEPT_WITH_SCHEMA = frozenset(
    {
        Type.INT8,
        Type.INT16,
        Type.INT32,
        Type.INT64,
        Type.FLOAT32,
        Type.FLOAT64,
        Type.BOOLEAN,
        Type.STRING,
        Type.BYTES,
        Type.ARRAY,
    }
)
_KEPT_SCHEMALESS = (bool, int, float, str, bytes, bytearray, memoryview, list, tuple)


class FlattenConfig(TransformConfig):
    delimiter: str = Field(
        ".",
        alias="delimiter",
        description=(
            "Delimiter to insert between field names from the input record when generating field "
            "names for the output record"
        ),
        json_schema_extra={"importance": "MEDIUM"},
    )


class Flatten(PartTransformation[R]):
    """Flatten nested structs or maps of the key or value; see the module docstring."""

    config_model = FlattenConfig

    def __init__(self) -> None:
        self._delimiter = "."
        self._schemas = SchemaUpdateCache()

    def configure(self, configs: Mapping[str, str]) -> None:
        self._delimiter = FlattenConfig.parse(configs).delimiter
        self._schemas.clear()

    def _name(self, prefix: str, name: str) -> str:
        return name if not prefix else prefix + self._delimiter + name

    def apply(self, record: R) -> R | None:
        value = self.operating_value(record)
        if value is None:
            return record
        schema = self.operating_schema(record)
        if schema is None:
            flat: dict[str, object] = {}
            self._flatten_map(require_map(value, PURPOSE), "", flat)
            return self.new_part(record, None, flat)
        struct = require_struct(value, PURPOSE)
        updated = self._schemas.get_or_build(schema, self._updated_schema)
        result = Struct(updated)
        self._flatten_struct(struct, "", result)
        return self.new_part(record, updated, result)

    def _flatten_map(
        self, value: Mapping[str, object], prefix: str, out: dict[str, object]
    ) -> None:
        for key, item in value.items():
            if not isinstance(key, str):
                raise DataError(
                    f"Flatten transformation needs string keys, found the {type(key).__name__} "
                    f"key {key!r} under '{prefix}'"
                )
            name = self._name(prefix, key)
            if item is None or isinstance(item, _KEPT_SCHEMALESS):
                out[name] = item
            elif isinstance(item, Mapping):
                self._flatten_map(item, name, out)
            elif isinstance(item, Struct):
                raise DataError(
                    "Flatten transformation does not support Struct for record without schemas "
                    f"(for field {name})."
                )
            elif isinstance(item, decimal.Decimal | _dt.date | _dt.time):
                raise DataError(
                    f"Flatten transformation was passed a value of type {type(item).__name__} "
                    f"which is not supported by Connect's data API (for field {name})."
                )
            else:
                raise DataError(
                    f"Flatten transformation does not support {type(item).__name__} for record "
                    f"without schemas (for field {name})."
                )

    def _updated_schema(self, schema: Schema) -> Schema:
        builder = copy_schema_basics(schema, SchemaBuilder.struct())
        default = schema.default if isinstance(schema.default, Struct) else None
        self._add_fields(schema, "", builder, schema.optional, default)
        return builder.build()

    def _add_fields(
        self,
        schema: Schema,
        prefix: str,
        builder: SchemaBuilder,
        optional: bool,
        parent_default: Struct | None,
    ) -> None:
        for f in schema.fields:
            name = self._name(prefix, f.name)
            field_optional = optional or f.schema.optional
            default: object = f.schema.default
            if default is None and parent_default is not None:
                default = parent_default.get(f.name)
            if f.schema.type in _KEPT_WITH_SCHEMA:
                builder.field(name, _flattened_schema(f.schema, field_optional, default))
            elif f.schema.type is Type.STRUCT:
                nested = default if isinstance(default, Struct) else None
                self._add_fields(f.schema, name, builder, field_optional, nested)
            else:
                raise DataError(
                    f"Flatten transformation does not support {f.schema.type.value} for record "
                    f"with schemas (for field {name})."
                )

    def _flatten_struct(self, struct: Struct, prefix: str, out: Struct) -> None:
        for f in struct.schema.fields:
            name = self._name(prefix, f.name)
            if f.schema.type is Type.STRUCT:
                nested = struct.get(f)
                if nested is not None:
                    self._flatten_struct(require_struct(nested, PURPOSE), name, out)
            else:
                out.put(name, struct.get(f))

    def close(self) -> None:
        self._schemas.clear()


def _flattened_schema(original: Schema, optional: bool, default: object) -> Schema:
    """`original` with its basics (and an array's item schema), optional and default as given."""
    builder = (
        SchemaBuilder.array(original.value_schema)
        if original.type is Type.ARRAY and original.value_schema is not None
        else SchemaBuilder(original.type)
    )
    copy_schema_basics(original, builder)
    if optional:
        builder.optional()
    if default is not None:
        builder.default_value(default)
    return builder.build()


class FlattenKey(Flatten[R]):
    """`Flatten$Key`: flattens the record key."""

    part = Part.KEY


class FlattenValue(Flatten[R]):
    """`Flatten$Value`: flattens the record value."""

    part = Part.VALUE
