"""ValueToKey: replace the record key with some fields of the value.

Kafka Connect's `org.apache.kafka.connect.transforms.ValueToKey`, with the keys `fields` and
`replace.null.with.default`.

Invariants:
- Without a value schema, the value must be a map and the key becomes a map of the listed
  fields, in the order listed (null for a field the value lacks); the key schema becomes null.
- With a value schema, the value must be a struct; the key becomes a struct of the listed
  fields with their schemas from the value, derived once per value schema. A listed field the
  value's schema lacks is a `DataError` ("Field does not exist").
- The value is left as it was. As in Kafka Connect, a null value is not a map or a struct, so a
  tombstone is a `DataError`; put a `RecordIsTombstone` predicate in front to let it through.
- Listing a field twice is a `ConfigError` on `fields`: a key cannot hold two fields so named.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from pydantic import Field, field_validator

from kconnect.api.records import ConnectRecord
from kconnect.api.transform import Transformation, TransformConfig
from kconnect.config.connector import split_list
from kconnect.data.schema import Schema, SchemaBuilder
from kconnect.errors import DataError
from kconnect.transforms._part import (
    ReplaceNullWithDefault,
    SchemaUpdateCache,
    rebuild_struct,
    require_map,
    require_struct,
    with_key,
)

R = TypeVar("R", bound=ConnectRecord)

PURPOSE = "copying fields from value to key"


class ValueToKeyConfig(TransformConfig):
    fields: str = Field(
        alias="fields",
        description="Field names on the record value to extract as the record key.",
        json_schema_extra={"importance": "HIGH", "type": "LIST"},
    )
    replace_null_with_default: ReplaceNullWithDefault = True

    @field_validator("fields")
    @classmethod
    def _fields(cls, value: str) -> str:
        names = split_list(value)
        if not names:
            raise ValueError("expected a non-empty list of field names")
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"expected each field once, but {', '.join(repeated)} is repeated")
        return value


class ValueToKey(Transformation[R]):
    """Make the key from fields of the value; see the module docstring."""

    config_model = ValueToKeyConfig

    def __init__(self) -> None:
        self._fields: tuple[str, ...] = ()
        self._replace_null_with_default = True
        self._schemas = SchemaUpdateCache()

    def configure(self, configs: Mapping[str, str]) -> None:
        config = ValueToKeyConfig.parse(configs)
        self._fields = tuple(split_list(config.fields))
        self._replace_null_with_default = config.replace_null_with_default
        self._schemas.clear()

    def apply(self, record: R) -> R | None:
        if record.value_schema is None:
            value = require_map(record.value, PURPOSE)
            key = {name: value.get(name) for name in self._fields}
            return with_key(record, None, key)
        struct = require_struct(record.value, PURPOSE)
        key_schema = self._schemas.get_or_build(struct.schema, self._key_schema)
        key_struct = rebuild_struct(struct, key_schema, self._replace_null_with_default)
        return record.new_record(
            record.topic,
            record.kafka_partition,
            key_schema,
            key_struct,
            struct.schema,
            struct,
            record.timestamp,
        )

    def _key_schema(self, value_schema: Schema) -> Schema:
        builder = SchemaBuilder.struct()
        for name in self._fields:
            source = value_schema.field(name)
            if source is None:
                raise DataError(f"Field does not exist: {name}")
            builder.field(name, source.schema)
        return builder.build()

    def close(self) -> None:
        self._schemas.clear()
