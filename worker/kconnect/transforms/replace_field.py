"""ReplaceField: keep, drop and rename the fields of the key or value.

Kafka Connect's `org.apache.kafka.connect.transforms.ReplaceField$Key` and `$Value`. `exclude`
drops fields and takes precedence over `include`, which keeps only the fields it names (all of
them when empty); `renames` is a list of `old:new` pairs. The keys `blacklist` and `whitelist`,
which Kafka Connect 4 no longer accepts, are still read as `exclude` and `include` when those are
not set, with a warning, so older configs keep working.

Invariants:
- A null key or value (a tombstone) passes through untouched.
- A schemaless part must be a map: the result keeps the surviving entries in their order, under
  their new names. A renamed field is filtered under its old name.
- A part with a schema must be a struct; the new schema keeps the surviving fields in their
  order, each with its own schema, and is derived once per input schema. Two fields that end up
  with one name are a `DataError`, as Kafka Connect's schema builder refuses a duplicate name.
- A rename that is not exactly `old:new` is a `ConfigError` on `renames`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TypeVar

from pydantic import Field, field_validator

from kconnect.api.records import ConnectRecord
from kconnect.api.transform import TransformConfig
from kconnect.config.connector import split_list
from kconnect.data.schema import Schema, SchemaBuilder
from kconnect.transforms._part import (
    Part,
    PartTransformation,
    ReplaceNullWithDefault,
    SchemaUpdateCache,
    copy_schema_basics,
    rebuild_struct,
    require_map,
    require_struct,
)

log = logging.getLogger(__name__)

R = TypeVar("R", bound=ConnectRecord)

PURPOSE = "field replacement"


def parse_renames(text: str) -> dict[str, str]:
    """`a:b,c:d` as {"a": "b", "c": "d"}; ValueError naming the first bad pair."""
    renames: dict[str, str] = {}
    for mapping in split_list(text):
        old, sep, new = mapping.partition(":")
        if not sep or not old or not new or ":" in new:
            raise ValueError(
                f"Invalid rename mapping: {mapping}; expected a list of colon-delimited pairs, "
                "e.g. foo:bar,abc:xyz"
            )
        renames[old] = new
    return renames


class ReplaceFieldConfig(TransformConfig):
    exclude: str | None = Field(
        None,
        alias="exclude",
        description="Fields to exclude. This takes precedence over the fields to include.",
        json_schema_extra={"importance": "MEDIUM", "type": "LIST"},
    )
    include: str | None = Field(
        None,
        alias="include",
        description="Fields to include. If specified, only these fields will be used.",
        json_schema_extra={"importance": "MEDIUM", "type": "LIST"},
    )
    renames: str = Field(
        "",
        alias="renames",
        description="Field rename mappings, a list of colon-delimited pairs, e.g. foo:bar,abc:xyz.",
        json_schema_extra={"importance": "MEDIUM", "type": "LIST"},
    )
    blacklist: str | None = Field(
        None,
        alias="blacklist",
        description="Deprecated. Use exclude instead.",
        json_schema_extra={"importance": "LOW", "type": "LIST"},
    )
    whitelist: str | None = Field(
        None,
        alias="whitelist",
        description="Deprecated. Use include instead.",
        json_schema_extra={"importance": "LOW", "type": "LIST"},
    )
    replace_null_with_default: ReplaceNullWithDefault = True

    @field_validator("renames")
    @classmethod
    def _renames(cls, value: str) -> str:
        parse_renames(value)
        return value

    def excluded(self) -> list[str]:
        return split_list(_current_or_deprecated(self.exclude, self.blacklist, "exclude"))

    def included(self) -> list[str]:
        return split_list(_current_or_deprecated(self.include, self.whitelist, "include"))


def _current_or_deprecated(current: str | None, deprecated: str | None, key: str) -> str:
    """The new key wins when both are set, as Kafka Connect's translation of deprecated keys."""
    old = {"exclude": "blacklist", "include": "whitelist"}[key]
    if deprecated is not None:
        if current is not None:
            log.warning("ReplaceField: '%s' is set, so the deprecated '%s' is ignored", key, old)
        else:
            log.warning("ReplaceField: '%s' is deprecated; use '%s' instead", old, key)
            return deprecated
    return current or ""


class ReplaceField(PartTransformation[R]):
    """Filter and rename the fields of the key or value; see the module docstring."""

    config_model = ReplaceFieldConfig

    def __init__(self) -> None:
        self._exclude: frozenset[str] = frozenset()
        self._include: frozenset[str] = frozenset()
        self._renames: dict[str, str] = {}
        self._reverse_renames: dict[str, str] = {}
        self._replace_null_with_default = True
        self._schemas = SchemaUpdateCache()

    def configure(self, configs: Mapping[str, str]) -> None:
        config = ReplaceFieldConfig.parse(configs)
        self._exclude = frozenset(config.excluded())
        self._include = frozenset(config.included())
        self._renames = parse_renames(config.renames)
        self._reverse_renames = {new: old for old, new in self._renames.items()}
        self._replace_null_with_default = config.replace_null_with_default
        self._schemas.clear()

    def _keeps(self, name: str) -> bool:
        return name not in self._exclude and (not self._include or name in self._include)

    def apply(self, record: R) -> R | None:
        value = self.operating_value(record)
        if value is None:
            return record
        if self.operating_schema(record) is None:
            renames = self._renames
            updated = {
                renames.get(k, k): v
                for k, v in require_map(value, PURPOSE).items()
                if self._keeps(k)
            }
            return self.new_part(record, None, updated)
        struct = require_struct(value, PURPOSE)
        schema = self._schemas.get_or_build(struct.schema, self._updated_schema)
        result = rebuild_struct(
            struct, schema, self._replace_null_with_default, renamed_from=self._reverse_renames
        )
        return self.new_part(record, schema, result)

    def _updated_schema(self, schema: Schema) -> Schema:
        builder = copy_schema_basics(schema, SchemaBuilder.struct())
        for f in schema.fields:
            if self._keeps(f.name):
                builder.field(self._renames.get(f.name, f.name), f.schema)
        return builder.build()

    def close(self) -> None:
        self._schemas.clear()


class ReplaceFieldKey(ReplaceField[R]):
    """`ReplaceField$Key`: filters and renames the fields of the record key."""

    part = Part.KEY


class ReplaceFieldValue(ReplaceField[R]):
    """`ReplaceField$Value`: filters and renames the fields of the record value."""

    part = Part.VALUE
