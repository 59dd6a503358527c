"""ExtractField: replace the key or value with one of its fields.

Kafka Connect's `org.apache.kafka.connect.transforms.ExtractField$Key` and `$Value`, with the keys
`field`, `field.syntax.version` and `replace.null.with.default`.

`field.syntax.version=V1` (the default) reads `field` as one top-level field name, dots and all.
`V2` (KIP-821) reads it as a path: dots separate the steps (`address.city`), and a step wrapped
in backticks may contain dots (`` `geo.point`.lat ``); inside such a step a backtick directly
followed by a dot is written with a backslash before it. A path whose opening backtick has no
closing one is a `ConfigError` on `field`.

Invariants:
- A null key or value passes through as null (with the field's schema, when there is one).
- Without a schema, the part must be a map; a missing field gives null, and so does a step
  whose value is null. With a schema, the part must be a struct, and a path the schema doesn't
  have is a `DataError` ("Unknown field"). On the way down, a step whose value is neither null
  nor a map (or struct) is a `DataError`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from typing import Self, TypeVar

from pydantic import Field, field_validator, model_validator

from kconnect.api.records import ConnectRecord
from kconnect.api.transform import TransformConfig
from kconnect.data.schema import Field as SchemaField
from kconnect.data.schema import Schema, Struct
from kconnect.errors import DataError
from kconnect.transforms._part import (
    Part,
    PartTransformation,
    ReplaceNullWithDefault,
    config_key_error,
    field_value,
    require_map_or_null,
    require_struct_or_null,
)

R = TypeVar("R", bound=ConnectRecord)

PURPOSE = "field extraction"
NESTED = "nested field access"

_BACKTICK = "`"
_DOT = "."
_BACKSLASH = "\\"


class FieldSyntaxVersion(enum.Enum):
    """How a field path is read (KIP-821): V1 a single name, V2 a dotted path."""

    V1 = "V1"
    V2 = "V2"


FIELD_SYNTAX_VERSION_DOC = (
    "Defines the version of the syntax to access fields. If set to `V1`, then the field paths "
    "are limited to access the elements at the root level of the struct or map. If set to `V2`, "
    "the syntax will support accessing nested elements. To access nested elements, dotted "
    "notation is used. If dots are already included in the field name, then backtick pairs can "
    "be used to wrap field names containing dots. E.g. to access the subfield `baz` from a "
    'field named "foo.bar" in a struct/map the following format can be used to access its '
    'elements: "`foo.bar`.baz".'
)


def parse_field_path(path: str, version: FieldSyntaxVersion) -> tuple[str, ...]:
    """The steps of `path`; ValueError for a backtick that opens a step and never closes it."""
    if version is FieldSyntaxVersion.V1:
        return (path,)
    steps: list[str] = []
    i = 0
    n = len(path)
    while i < n:
        if path[i] != _BACKTICK:
            dot = path.find(_DOT, i)
            if dot < 0:
                steps.append(path[i:])
                i = n
            else:
                steps.append(path[i:dot])
                i = dot + 1
            continue
        opened_at = i
        i += 1
        start = i
        parts: list[str] = []
        while True:
            closing = path.find(_BACKTICK, i)
            if closing < 0:
                raise ValueError(_incomplete(path, opened_at))
            escaped = path[closing - 1] == _BACKSLASH
            if closing == n - 1:
                # A backtick at the very end closes the step, unless it is escaped.
                if escaped:
                    raise ValueError(_incomplete(path, opened_at))
                parts.append(path[start:closing])
                steps.append("".join(parts))
                i = n
                break
            if path[closing + 1] != _DOT:
                # Not followed by a dot: part of the name; keep looking for the closing one.
                i = closing + 1
                continue
            if escaped:
                # \` followed by a dot: a literal backtick (the backslash dropped).
                parts.append(path[start : closing - 1])
                parts.append(_BACKTICK)
                i = start = closing + 1
                continue
            parts.append(path[start:closing])
            steps.append("".join(parts))
            i = closing + 2
            break
    if path.endswith(_DOT):
        steps.append("")
    return tuple(steps)


def _incomplete(path: str, position: int) -> str:
    return (
        f"Incomplete backtick pair in path: [{path}], consider adding a backslash before "
        f"backtick at position {position} to escape it"
    )


class SingleFieldPath:
    """A parsed field path and the lookups along it, in schemas, structs and maps."""

    __slots__ = ("_last", "_parents", "text")

    def __init__(self, text: str, steps: Sequence[str]) -> None:
        self.text = text
        self._parents = tuple(steps[:-1])
        self._last = steps[-1]

    def field_from(self, schema: Schema) -> SchemaField | None:
        """The field at this path in `schema`, or None when the schema has no such path."""
        current = schema
        for step in self._parents:
            found = current.field(step)
            if found is None:
                return None
            current = found.schema
        return current.field(self._last)

    def value_from_struct(self, struct: Struct, replace_null_with_default: bool) -> object:
        current = struct
        for step in self._parents:
            found = current.schema.field(step)
            if found is None:
                return None
            inner = require_struct_or_null(
                field_value(current, found, replace_null_with_default), NESTED
            )
            if inner is None:
                return None
            current = inner
        last = current.schema.field(self._last)
        return None if last is None else field_value(current, last, replace_null_with_default)

    def value_from_map(self, value: Mapping[str, object]) -> object:
        current: Mapping[str, object] = value
        for step in self._parents:
            inner = require_map_or_null(current.get(step), NESTED)
            if inner is None:
                return None
            current = inner
        return current.get(self._last)


class ExtractFieldConfig(TransformConfig):
    field: str = Field(
        alias="field",
        description="Field name to extract.",
        json_schema_extra={"importance": "MEDIUM"},
    )
    field_syntax_version: FieldSyntaxVersion = Field(
        FieldSyntaxVersion.V1,
        alias="field.syntax.version",
        description=FIELD_SYNTAX_VERSION_DOC,
        json_schema_extra={"importance": "HIGH", "type": "STRING"},
    )
    replace_null_with_default: ReplaceNullWithDefault = True

    @field_validator("field_syntax_version", mode="before")
    @classmethod
    def _version(cls, value: object) -> object:
        if isinstance(value, str):
            upper = value.strip().upper()
            if upper not in FieldSyntaxVersion.__members__:
                raise ValueError("expected one of V1, V2 (case-insensitive)")
            return FieldSyntaxVersion(upper)
        return value

    @model_validator(mode="after")
    def _path(self) -> Self:
        # Checked once both keys are read; the error names `field`, whose value is wrong.
        try:
            parse_field_path(self.field, self.field_syntax_version)
        except ValueError as e:
            raise config_key_error(type(self).__name__, "field", self.field, str(e)) from None
        return self

    def path(self) -> SingleFieldPath:
        return SingleFieldPath(self.field, parse_field_path(self.field, self.field_syntax_version))


class ExtractField(PartTransformation[R]):
    """Replace the key or value with one of its fields; see the module docstring."""

    config_model = ExtractFieldConfig

    def __init__(self) -> None:
        self._path = SingleFieldPath("", ("",))
        self._replace_null_with_default = True

    def configure(self, configs: Mapping[str, str]) -> None:
        config = ExtractFieldConfig.parse(configs)
        self._path = config.path()
        self._replace_null_with_default = config.replace_null_with_default

    def apply(self, record: R) -> R | None:
        value = self.operating_value(record)
        schema = self.operating_schema(record)
        if schema is None:
            original = require_map_or_null(value, PURPOSE)
            extracted = None if original is None else self._path.value_from_map(original)
            return self.new_part(record, None, extracted)
        struct = require_struct_or_null(value, PURPOSE)
        found = self._path.field_from(schema)
        if found is None:
            raise DataError(f"Unknown field: {self._path.text}")
        extracted = (
            None
            if struct is None
            else self._path.value_from_struct(struct, self._replace_null_with_default)
        )
        return self.new_part(record, found.schema, extracted)


class ExtractFieldKey(ExtractField[R]):
    """`ExtractField$Key`: replaces the record key with one of its fields."""

    part = Part.KEY


class ExtractFieldValue(ExtractField[R]):
    """`ExtractField$Value`: replaces the record value with one of its fields."""

    part = Part.VALUE
