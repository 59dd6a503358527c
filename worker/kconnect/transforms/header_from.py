"""HeaderFrom$Key and HeaderFrom$Value: copy or move fields of the key or value into headers.

Kafka Connect's `org.apache.kafka.connect.transforms.HeaderFrom`, with the same keys. The n-th
name in `fields` goes to a header named by the n-th name in `headers` (so both lists have the
same length); `operation=copy` leaves the field in place, `operation=move` removes it. Headers
are appended, so an existing header of the same name stays.

With a schema, the part must be a struct: each header gets the field's value and the field's
schema. A moved field is dropped from a rebuilt struct schema, which keeps the name, version,
doc and parameters but, as in Java, not the optionality or default of the original; rebuilt
schemas are cached per source schema. A null field is read as its default when
`replace.null.with.default` is true (the default), and as null otherwise, both for the header
and for the fields a move keeps. A field the schema doesn't have is a `DataError` naming it.

Without a schema, the part must be a map: each header gets the entry's value (None for a
missing entry) and no schema.

A null key or value (a tombstone) has no fields to read and is a `DataError`, as in Java; pair
the transform with the `RecordIsTombstone` predicate and `negate=true` to let tombstones pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, TypeVar

from pydantic import Field, ValidationInfo, field_validator

from kconnect.api.records import ConnectRecord, Headers
from kconnect.api.transform import TransformConfig
from kconnect.config.connector import split_list
from kconnect.data.schema import Schema, SchemaBuilder, Struct
from kconnect.errors import DataError
from kconnect.transforms._part import (
    Part,
    PartTransformation,
    ReplaceNullWithDefault,
    SchemaUpdateCache,
    copy_headers,
    copy_schema_basics,
    require_map,
    require_struct,
)

R = TypeVar("R", bound=ConnectRecord)

Operation = Literal["move", "copy"]


class HeaderFromConfig(TransformConfig):
    fields: str = Field(
        alias="fields",
        description="Field names in the record whose values are to be copied or moved to headers.",
        json_schema_extra={"importance": "HIGH", "type": "LIST"},
    )
    headers: str = Field(
        alias="headers",
        description="Header names, in the same order as the field names listed in the fields "
        "configuration property.",
        json_schema_extra={"importance": "HIGH", "type": "LIST"},
    )
    operation: Operation = Field(
        alias="operation",
        description="Either <code>move</code> if the fields are to be moved to the headers "
        "(removed from the key/value), or <code>copy</code> if the fields are to be copied to "
        "the headers (retained in the key/value).",
        json_schema_extra={"importance": "HIGH"},
    )
    replace_null_with_default: ReplaceNullWithDefault = True

    @field_validator("fields")
    @classmethod
    def _some_fields(cls, value: str) -> str:
        if not split_list(value):
            raise ValueError("expected a comma-separated list of at least one field name")
        return value

    @field_validator("headers")
    @classmethod
    def _one_header_per_field(cls, value: str, info: ValidationInfo) -> str:
        headers = split_list(value)
        if not headers:
            raise ValueError("expected a comma-separated list of at least one header name")
        fields = info.data.get("fields")
        if isinstance(fields, str) and len(split_list(fields)) != len(headers):
            raise ValueError(
                "'fields' config must have the same number of elements as 'headers' config: "
                f"expected one header per field of 'fields={fields}'"
            )
        return value

    def pairs(self) -> tuple[tuple[str, str], ...]:
        """(field, header) in the configured order."""
        return tuple(zip(split_list(self.fields), split_list(self.headers), strict=True))


class HeaderFrom(PartTransformation[R]):
    """Move or copy fields in the key (`$Key`) or value (`$Value`) of a record into headers."""

    config_model = HeaderFromConfig

    def __init__(self) -> None:
        self._pairs: tuple[tuple[str, str], ...] = ()
        self._operation: Operation = "copy"
        self._replace_null_with_default = True
        self._moved_schemas = SchemaUpdateCache()

    def configure(self, configs: Mapping[str, str]) -> None:
        config = HeaderFromConfig.parse(configs)
        self._pairs = config.pairs()
        self._operation = config.operation
        self._replace_null_with_default = config.replace_null_with_default
        self._moved_schemas = SchemaUpdateCache()

    def apply(self, record: R) -> R:
        schema = self.operating_schema(record)
        headers = copy_headers(record)
        updated_schema: Schema | None
        updated_value: object
        if schema is None:
            updated_schema, updated_value = None, self._apply_schemaless(record, headers)
        else:
            updated_schema, updated_value = self._apply_with_schema(record, schema, headers)
        return self.new_part(record, updated_schema, updated_value, headers)

    def _purpose(self) -> str:
        return f"header {self._operation}"

    def _apply_schemaless(self, record: R, headers: Headers) -> dict[str, object]:
        value = require_map(self.operating_value(record), self._purpose())
        updated = dict(value)
        for field_name, header_name in self._pairs:
            if self._operation == "move":
                updated.pop(field_name, None)
            headers.add(header_name, value.get(field_name), None)
        return updated

    def _apply_with_schema(
        self, record: R, schema: Schema, headers: Headers
    ) -> tuple[Schema, Struct]:
        value = require_struct(self.operating_value(record), self._purpose())
        updated_schema = schema
        updated = value
        if self._operation == "move":
            updated_schema = self._moved_schemas.get_or_build(schema, self._without_moved)
            updated = Struct(updated_schema)
            for kept in updated_schema.fields:
                updated.put(kept.name, self._read(value, kept.name))
        for field_name, header_name in self._pairs:
            found = schema.field(field_name)
            if found is None:
                known = ", ".join(f.name for f in schema.fields) or "none"
                raise DataError(
                    f"Field '{field_name}' (for header '{header_name}') is not in the schema of "
                    f"the record's {self.part.value}; its fields are: {known}"
                )
            in_value = value.schema.field(field_name) is not None
            header_value = self._read(value, field_name) if in_value else None
            headers.add(header_name, header_value, found.schema)
        return updated_schema, updated

    def _read(self, value: Struct, name: str) -> object:
        if self._replace_null_with_default:
            return value.get(name)
        return value.get_without_default(name)

    def _without_moved(self, schema: Schema) -> Schema:
        """The struct schema less the moved fields: Java's `copySchemaBasics` and the rest, so
        the result is required and has no default whatever the original had."""
        moved = {name for name, _ in self._pairs}
        builder = copy_schema_basics(schema, SchemaBuilder.struct())
        for f in schema.fields:
            if f.name not in moved:
                builder.field(f.name, f.schema)
        return builder.build()


class HeaderFromKey(HeaderFrom[R]):
    """`HeaderFrom$Key`: copy or move fields of the record key into headers."""

    part = Part.KEY


class HeaderFromValue(HeaderFrom[R]):
    """`HeaderFrom$Value`: copy or move fields of the record value into headers."""

    part = Part.VALUE
