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
from kconnect.data.schema import Schema, SchemaBuilder, Struct, fitting_type
from kconnect.transforms._part import (
    VALUE,
    Part,
    PartTransformation,
    SchemaUpdateCache,
    trusted_struct,
)

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
        self._forget_plan()

    def configure(self, configs: Mapping[str, str]) -> None:
        self._field = HoistFieldConfig.parse(configs).field
        self._schemas.clear()
        self._forget_plan()

    def _forget_plan(self) -> None:
        # The plan of the last part schema met, recognised by identity: a connector hands out
        # the same schema object record after record (`Schema.STRING`, say), and an identity
        # check costs far less than the hash and equality of a cache lookup.
        self._last_schema: Schema | None = None
        self._last_plan: tuple[Schema, type | None] = (Schema.STRING, None)

    def apply(self, record: R) -> R | None:
        on_value = self.part is VALUE
        if on_value:
            value = record.value
            schema = record.value_schema
        else:
            value = record.key
            schema = record.key_schema
        if schema is None:
            return self.new_part(record, None, {self._field: value})
        if schema is self._last_schema:
            updated, fitting_type = self._last_plan
        else:
            updated, fitting_type = self._plan(schema)
        # The part is checked against its schema as `Struct.put` would check it, unless its
        # type alone shows that it fits, or it is a struct of this very schema (`Struct.put`
        # checks a struct by its schema alone: what it holds was checked as it was put).
        if type(value) is not fitting_type and not (
            type(value) is Struct and value.schema is schema
        ):
            updated.fields[0].schema.checker(value, self._field)
        hoisted = trusted_struct(updated, [value])
        if on_value:  # `new_part`, inlined: this runs per record
            return record.new_record(
                record.topic,
                record.kafka_partition,
                record.key_schema,
                record.key,
                updated,
                hoisted,
                record.timestamp,
            )
        return self.new_part(record, updated, hoisted)

    def _plan(self, schema: Schema) -> tuple[Schema, type | None]:
        """The struct schema a part of `schema` is wrapped in, and the Python type whose values
        fit `schema` without a check (None when every value needs one)."""
        plan = (self._schemas.get_or_build(schema, self._wrapping_schema), fitting_type(schema))
        self._last_schema = schema
        self._last_plan = plan
        return plan

    def _wrapping_schema(self, schema: Schema) -> Schema:
        return SchemaBuilder.struct().field(self._field, schema).build()

    def close(self) -> None:
        self._schemas.clear()
        self._forget_plan()


class HoistFieldKey(HoistField[R]):
    """`HoistField$Key`: wraps the record key."""

    part = Part.KEY


class HoistFieldValue(HoistField[R]):
    """`HoistField$Value`: wraps the record value."""

    part = Part.VALUE
