"""HoistField: wrap the whole key or value in a struct (or map) of one field.

Kafka Connect's `org.apache.kafka.connect.transforms.HoistField$Key` and `$Value`, with the key
`field`.

Invariants:
- Without a schema, the part becomes `{field: part}`, whatever the part is, null included.
- With a schema, the part becomes a struct with the one field `field` of the part's schema; the
  struct schema is derived once per part schema. A null part fits only an optional schema: a
  null under a required schema is a `DataError`, as Kafka Connect's struct refuses it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from pydantic import Field

from kconnect.api.records import ConnectRecord
from kconnect.api.transform import TransformConfig
from kconnect.data.schema import Schema, SchemaBuilder, Struct
from kconnect.transforms._part import Part, PartTransformation, SchemaUpdateCache

R = TypeVar("R", bound=ConnectRecord)


class HoistFieldConfig(TransformConfig):
    field: str = Field(
        alias="field",
        min_length=1,
        description=(
            "Field name for the single field that will be created in the resulting Struct or Map."
        ),
        json_schema_extra={"importance": "MEDIUM"},
    )


class HoistField(PartTransformation[R]):
    """Wrap the key or value in a single field; see the module docstring."""

    config_model = HoistFieldConfig

    def __init__(self) -> None:
        self._field = ""
        self._schemas = SchemaUpdateCache()

    def configure(self, configs: Mapping[str, str]) -> None:
        self._field = HoistFieldConfig.parse(configs).field
        self._schemas.clear()

    def apply(self, record: R) -> R | None:
        value = self.operating_value(record)
        schema = self.operating_schema(record)
        if schema is None:
            return self.new_part(record, None, {self._field: value})
        updated = self._schemas.get_or_build(schema, self._wrapping_schema)
        return self.new_part(record, updated, Struct(updated).put(self._field, value))

    def _wrapping_schema(self, schema: Schema) -> Schema:
        return SchemaBuilder.struct().field(self._field, schema).build()

    def close(self) -> None:
        self._schemas.clear()


class HoistFieldKey(HoistField[R]):
    """`HoistField$Key`: wraps the record key."""

    part = Part.KEY


class HoistFieldValue(HoistField[R]):
    """`HoistField$Value`: wraps the record value."""

    part = Part.VALUE
