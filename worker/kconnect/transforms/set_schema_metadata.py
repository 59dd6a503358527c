"""SetSchemaMetadata$Key and SetSchemaMetadata$Value: set the name and/or version of a schema.

Kafka Connect's `org.apache.kafka.connect.transforms.SetSchemaMetadata`, with the same keys. The
key's (or value's) schema is replaced by a copy with `schema.name` and/or `schema.version` set;
its type, optionality, default, doc, parameters, fields and key/value schemas are kept. Converters
that register schemas (Avro, Protobuf) then see the name a downstream system expects.

A struct carries its schema, so a struct key or value is rebuilt against the new schema, as
Java's `updateSchemaIn` does; other values are kept as they are. Rebuilding reads each field with
its default substituted for null when `replace.null.with.default` is true (the default), or
exactly as it was when false, so a null stays null.

A part without a schema can't have its schema renamed: a `DataError` unless the part is null
too (a tombstone passes unchanged). Setting neither key is a `ConfigError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Self, TypeVar

from pydantic import Field, model_validator

from kconnect.api.records import ConnectRecord
from kconnect.api.transform import TransformConfig
from kconnect.data.schema import Schema, Struct
from kconnect.transforms._part import (
    Part,
    PartTransformation,
    ReplaceNullWithDefault,
    field_value,
    require_schema,
)

R = TypeVar("R", bound=ConnectRecord)

PURPOSE = "updating schema metadata"


class SetSchemaMetadataConfig(TransformConfig):
    schema_name: str | None = Field(
        None,
        alias="schema.name",
        description="Schema name to set.",
        json_schema_extra={"importance": "HIGH"},
    )
    schema_version: int | None = Field(
        None,
        alias="schema.version",
        description="Schema version to set.",
        json_schema_extra={"importance": "HIGH", "type": "INT"},
    )
    replace_null_with_default: ReplaceNullWithDefault = True

    @model_validator(mode="after")
    def _something_to_set(self) -> Self:
        if self.schema_name is None and self.schema_version is None:
            raise ValueError(
                "Neither schema name nor version configured: set 'schema.name', "
                "'schema.version' or both"
            )
        return self


def renamed_schema(schema: Schema, name: str | None, version: int | None) -> Schema:
    """`schema` with its name and/or version replaced; None keeps what it has."""
    return Schema(
        schema.type,
        schema.optional,
        default=schema.default,
        name=name if name is not None else schema.name,
        version=version if version is not None else schema.version,
        doc=schema.doc,
        parameters=schema.parameters,
        fields=schema.fields,
        key_schema=schema.key_schema,
        value_schema=schema.value_schema,
    )


def update_schema_in(value: object, schema: Schema, replace_null_with_default: bool) -> object:
    """A struct rebuilt against `schema` (which has the same fields); other values unchanged."""
    if not isinstance(value, Struct):
        return value
    updated = Struct(schema)
    for f in schema.fields:
        updated.put(f.name, field_value(value, f, replace_null_with_default))
    return updated


class SetSchemaMetadata(PartTransformation[R]):
    """Set the schema name, version or both on the record's key or value schema."""

    config_model = SetSchemaMetadataConfig

    def __init__(self) -> None:
        self._name: str | None = None
        self._version: int | None = None
        self._replace_null_with_default = True

    def configure(self, configs: Mapping[str, str]) -> None:
        config = SetSchemaMetadataConfig.parse(configs)
        self._name = config.schema_name
        self._version = config.schema_version
        self._replace_null_with_default = config.replace_null_with_default

    def apply(self, record: R) -> R:
        schema = self.operating_schema(record)
        value = self.operating_value(record)
        if schema is None and value is None:
            return record
        updated_schema = renamed_schema(require_schema(schema, PURPOSE), self._name, self._version)
        return self.new_part(
            record,
            updated_schema,
            update_schema_in(value, updated_schema, self._replace_null_with_default),
        )


class SetSchemaMetadataKey(SetSchemaMetadata[R]):
    """`SetSchemaMetadata$Key`: set the name and/or version of the key schema."""

    part = Part.KEY


class SetSchemaMetadataValue(SetSchemaMetadata[R]):
    """`SetSchemaMetadata$Value`: set the name and/or version of the value schema."""

    part = Part.VALUE
