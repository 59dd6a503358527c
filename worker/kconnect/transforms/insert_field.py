"""InsertField: add the record's topic, partition, offset, timestamp or a constant as fields.

Kafka Connect's `org.apache.kafka.connect.transforms.InsertField$Key` and `$Value`, with the same
keys. Each of `topic.field`, `partition.field`, `offset.field`, `timestamp.field` and
`static.field` names a field to add; a trailing `!` makes the added field required in the new
schema, a trailing `?` (or no suffix) keeps it optional.

Invariants:
- A null key or value (a tombstone) passes through untouched, so deletes keep working.
- A schemaless part must be a map; the fields are added to a copy of it. A partition or
  timestamp the record doesn't have is left out rather than set to null.
- A part with a schema must be a struct; the new schema is the old one's fields followed by the
  inserted ones (topic, partition, offset, timestamp, static), derived once per input schema.
  The timestamp is a `Timestamp` logical value (an aware UTC `datetime`) there, and the epoch
  milliseconds when schemaless.
- `offset.field` needs a sink record: a source record has no Kafka offset yet, and is a
  `DataError` naming the transform's purpose.
- Inserting a field the struct already has is a `DataError`, as Kafka Connect's schema builder
  refuses a duplicate name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Self, TypeVar

from pydantic import Field, field_validator, model_validator

from kconnect.api.records import ConnectRecord
from kconnect.api.transform import TransformConfig
from kconnect.data.logical import Timestamp
from kconnect.data.schema import Schema, SchemaBuilder, Struct
from kconnect.transforms._part import (
    VALUE,
    Part,
    PartTransformation,
    ReplaceNullWithDefault,
    SchemaUpdateCache,
    config_key_error,
    copied_values,
    copy_schema_basics,
    has_field_defaults,
    require_map,
    require_sink_record,
    require_struct,
    trusted_struct,
)

R = TypeVar("R", bound=ConnectRecord)

PURPOSE = "field insertion"

_OPTIONALITY = (
    " Suffix with ! to make this a required field, or ? to keep it optional (the default)."
)
_OPTIONAL_TIMESTAMP = Timestamp.builder().optional().build()


@dataclass(frozen=True, slots=True)
class InsertionSpec:
    """A field to insert: its name and whether the new schema marks it optional."""

    name: str
    optional: bool

    @staticmethod
    def parse(spec: str | None) -> InsertionSpec | None:
        """`name!` is required, `name?` and `name` optional; unset or empty inserts nothing."""
        if not spec:
            return None
        if spec.endswith("?"):
            return InsertionSpec(spec[:-1], True)
        if spec.endswith("!"):
            return InsertionSpec(spec[:-1], False)
        return InsertionSpec(spec, True)


class InsertFieldConfig(TransformConfig):
    topic_field: str | None = Field(
        None,
        alias="topic.field",
        description="Field name for Kafka topic." + _OPTIONALITY,
        json_schema_extra={"importance": "MEDIUM"},
    )
    partition_field: str | None = Field(
        None,
        alias="partition.field",
        description="Field name for Kafka partition." + _OPTIONALITY,
        json_schema_extra={"importance": "MEDIUM"},
    )
    offset_field: str | None = Field(
        None,
        alias="offset.field",
        description=(
            "Field name for Kafka offset - only applicable to sink connectors." + _OPTIONALITY
        ),
        json_schema_extra={"importance": "MEDIUM"},
    )
    timestamp_field: str | None = Field(
        None,
        alias="timestamp.field",
        description="Field name for record timestamp." + _OPTIONALITY,
        json_schema_extra={"importance": "MEDIUM"},
    )
    static_field: str | None = Field(
        None,
        alias="static.field",
        description="Field name for static data field." + _OPTIONALITY,
        json_schema_extra={"importance": "MEDIUM"},
    )
    static_value: str | None = Field(
        None,
        alias="static.value",
        description="Static field value, if field name configured.",
        json_schema_extra={"importance": "MEDIUM"},
    )
    replace_null_with_default: ReplaceNullWithDefault = True

    @field_validator(
        "topic_field", "partition_field", "offset_field", "timestamp_field", "static_field"
    )
    @classmethod
    def _field_name(cls, value: str | None) -> str | None:
        if value in ("!", "?"):
            raise ValueError("expected a field name before the ! or ? suffix")
        return value

    @model_validator(mode="after")
    def _something_to_insert(self) -> Self:
        specs = (
            self.topic_field,
            self.partition_field,
            self.offset_field,
            self.timestamp_field,
            self.static_field,
        )
        if not any(specs):
            raise ValueError(
                "No field insertion configured: set at least one of topic.field, "
                "partition.field, offset.field, timestamp.field or static.field"
            )
        if self.static_field and self.static_value is None:
            raise config_key_error(
                type(self).__name__,
                "static.value",
                None,
                f"No value specified for static field: {self.static_field}",
            )
        return self


class InsertField(PartTransformation[R]):
    """Insert record metadata or a constant into the key or value; see the module docstring."""

    config_model = InsertFieldConfig

    def __init__(self) -> None:
        self._topic: InsertionSpec | None = None
        self._partition: InsertionSpec | None = None
        self._offset: InsertionSpec | None = None
        self._timestamp: InsertionSpec | None = None
        self._static: InsertionSpec | None = None
        self._static_value: str | None = None
        self._replace_null_with_default = True
        self._schemas = SchemaUpdateCache()
        self._static_tail: list[object] = []
        self._from_record = False
        self._forget_plan()

    def configure(self, configs: Mapping[str, str]) -> None:
        config = InsertFieldConfig.parse(configs)
        self._topic = InsertionSpec.parse(config.topic_field)
        self._partition = InsertionSpec.parse(config.partition_field)
        self._offset = InsertionSpec.parse(config.offset_field)
        self._timestamp = InsertionSpec.parse(config.timestamp_field)
        self._static = InsertionSpec.parse(config.static_field)
        self._static_value = config.static_value
        self._replace_null_with_default = config.replace_null_with_default
        # The static field is the last one added, so its value is the same tail on every record.
        self._static_tail = [self._static_value] if self._static is not None else []
        self._from_record = any(
            spec is not None
            for spec in (self._topic, self._partition, self._offset, self._timestamp)
        )
        self._schemas.clear()
        self._forget_plan()

    def _forget_plan(self) -> None:
        # The plan of the last input schema met, recognised by identity: a converter hands out
        # the same schema object record after record, and an identity check costs far less
        # than the hash and equality of a cache lookup.
        self._last_schema: Schema | None = None
        self._last_plan: tuple[Schema, bool] = (Schema.STRING, False)

    def apply(self, record: R) -> R | None:
        on_value = self.part is VALUE
        if on_value:
            value = record.value
            schema = record.value_schema
        else:
            value = record.key
            schema = record.key_schema
        if value is None:
            return record
        if schema is None:
            return self._apply_schemaless(record, value)
        struct = value if type(value) is Struct else require_struct(value, PURPOSE)
        source_schema = struct.schema
        if source_schema is self._last_schema:
            updated, fill_defaults = self._last_plan
        else:
            updated, fill_defaults = self._plan(source_schema)
        # Built without checking each value again: the copied ones were checked when the input
        # struct was made, and each inserted one is made to fit its field's fixed schema, in
        # the order `_updated_schema` adds the fields.
        copied = copied_values(struct, True) if fill_defaults else struct._values
        if self._from_record:
            values = copied + self._record_values(record) + self._static_tail
        else:
            values = copied + self._static_tail
        # A required field left null (a record without a timestamp, say) fails where Kafka
        # Connect fails it: in the converter, which checks the whole struct.
        inserted = trusted_struct(updated, values)
        if on_value:  # `new_part`, inlined: this runs per record
            return record.new_record(
                record.topic,
                record.kafka_partition,
                record.key_schema,
                record.key,
                updated,
                inserted,
                record.timestamp,
            )
        return self.new_part(record, updated, inserted)

    def _apply_schemaless(self, record: R, value: object) -> R:
        updated = dict(require_map(value, PURPOSE))
        if self._topic is not None:
            updated[self._topic.name] = record.topic
        if self._partition is not None and record.kafka_partition is not None:
            updated[self._partition.name] = record.kafka_partition
        if self._offset is not None:
            updated[self._offset.name] = require_sink_record(record, PURPOSE).kafka_offset
        if self._timestamp is not None and record.timestamp is not None:
            updated[self._timestamp.name] = record.timestamp
        if self._static is not None and self._static_value is not None:
            updated[self._static.name] = self._static_value
        return self.new_part(record, None, updated)

    def _plan(self, source_schema: Schema) -> tuple[Schema, bool]:
        """The schema a struct of `source_schema` becomes, and whether its nulls must be read
        as their fields' defaults (only when some field has one)."""
        plan = (
            self._schemas.get_or_build(source_schema, self._updated_schema),
            self._replace_null_with_default and has_field_defaults(source_schema),
        )
        self._last_schema = source_schema
        self._last_plan = plan
        return plan

    def _record_values(self, record: R) -> list[object]:
        """The values of the fields taken from the record, in the order they are added."""
        values: list[object] = []
        if self._topic is not None:
            values.append(record.topic)
        if self._partition is not None:
            values.append(record.kafka_partition)
        if self._offset is not None:
            values.append(require_sink_record(record, PURPOSE).kafka_offset)
        if self._timestamp is not None:
            ts = record.timestamp
            values.append(None if ts is None else Timestamp.to_logical(Timestamp.SCHEMA, ts))
        return values

    def _updated_schema(self, schema: Schema) -> Schema:
        builder = copy_schema_basics(schema, SchemaBuilder.struct())
        for f in schema.fields:
            builder.field(f.name, f.schema)
        if self._topic is not None:
            builder.field(
                self._topic.name, Schema.OPTIONAL_STRING if self._topic.optional else Schema.STRING
            )
        if self._partition is not None:
            builder.field(
                self._partition.name,
                Schema.OPTIONAL_INT32 if self._partition.optional else Schema.INT32,
            )
        if self._offset is not None:
            builder.field(
                self._offset.name, Schema.OPTIONAL_INT64 if self._offset.optional else Schema.INT64
            )
        if self._timestamp is not None:
            builder.field(
                self._timestamp.name,
                _OPTIONAL_TIMESTAMP if self._timestamp.optional else Timestamp.SCHEMA,
            )
        if self._static is not None:
            builder.field(
                self._static.name,
                Schema.OPTIONAL_STRING if self._static.optional else Schema.STRING,
            )
        return builder.build()

    def close(self) -> None:
        self._schemas.clear()
        self._forget_plan()


class InsertFieldKey(InsertField[R]):
    """`InsertField$Key`: inserts into the record key."""

    part = Part.KEY


class InsertFieldValue(InsertField[R]):
    """`InsertField$Value`: inserts into the record value."""

    part = Part.VALUE
