"""MaskField: replace the values of some fields with an empty value or a fixed replacement.

Kafka Connect's `org.apache.kafka.connect.transforms.MaskField$Key` and `$Value`, with the keys
`fields`, `replacement` and `replace.null.with.default`.

Without `replacement`, a field is set to the empty value of its type: `False`, `0`, `0.0`, `""`,
`Decimal(0)`, the epoch for `Date`, `Time` and `Timestamp` values, `[]` or `{}`. Bytes and
structs have no empty value and are a `DataError`, as in Kafka Connect. With `replacement`, the
text is read as the field's type: an integer in the type's range, a number, a decimal or, for a
string field, the text itself; a field of any other type, or text that doesn't read as the
type, is a `DataError` naming the field, the replacement and the type.

Invariants:
- With a schema, the field's schema decides the type, and the struct keeps its schema. Without
  one, the Python type of the value decides (an `int` is a Java `Long`, a `float` a `Double`).
- A null field stays null. As in Kafka Connect, a schemaless map gets each listed field, set to
  null when the map didn't have it, and a null key or value is not a map: it is a `DataError`.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import re
from collections.abc import Mapping
from typing import NamedTuple, TypeVar

from pydantic import Field, field_validator

from kconnect.api.records import ConnectRecord
from kconnect.api.transform import TransformConfig
from kconnect.config.connector import split_list
from kconnect.data.schema import (
    DATE_NAME,
    DECIMAL_NAME,
    INT_RANGES,
    TIME_NAME,
    TIMESTAMP_NAME,
    Schema,
    Struct,
    Type,
)
from kconnect.errors import DataError
from kconnect.transforms._part import (
    VALUE,
    Part,
    PartTransformation,
    ReplaceNullWithDefault,
    copied_values,
    has_field_defaults,
    require_map,
    require_struct,
    trusted_struct,
)

R = TypeVar("R", bound=ConnectRecord)

PURPOSE = "mask fields"

_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
_INTEGER = re.compile(r"[+-]?[0-9]+")
_MISSING = object()
_UNRESOLVED = object()
_PLAN_CACHE_SIZE = 16

# The empty value of each kind of value, keyed the way `_kind` names a value.
_EMPTY: dict[str, object] = {
    "boolean": False,
    "int8": 0,
    "int16": 0,
    "int32": 0,
    "int64": 0,
    "float32": 0.0,
    "float64": 0.0,
    "string": "",
    "decimal": decimal.Decimal(0),
    "date": _dt.date(1970, 1, 1),
    "time": _dt.time(0, 0),
    "timestamp": _EPOCH,
}


def _schema_kind(schema: Schema) -> str:
    """What a value of `schema` is, for choosing its empty value or reading a replacement."""
    name = schema.name
    if name == DECIMAL_NAME and schema.type is Type.BYTES:
        return "decimal"
    if name == DATE_NAME and schema.type is Type.INT32:
        return "date"
    if name == TIME_NAME and schema.type is Type.INT32:
        return "time"
    if name == TIMESTAMP_NAME and schema.type is Type.INT64:
        return "timestamp"
    return schema.type.value


def _value_kind(value: object) -> str:
    """What a schemaless value is, by its Python type (bool before int: a bool is an int)."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, decimal.Decimal):
        return "decimal"
    if isinstance(value, _dt.datetime):
        return "timestamp"
    if isinstance(value, _dt.date):
        return "date"
    if isinstance(value, _dt.time):
        return "time"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, Mapping):
        return "map"
    if isinstance(value, bytes | bytearray | memoryview):
        return "bytes"
    if isinstance(value, Struct):
        return "struct"
    return type(value).__name__


def _read_replacement(text: str, kind: str) -> object:
    """`text` as a value of `kind`; ValueError saying what was expected."""
    if kind in ("int8", "int16", "int32", "int64"):
        lo, hi = INT_RANGES[Type(kind)]
        if _INTEGER.fullmatch(text) is None or not lo <= int(text) <= hi:
            raise ValueError(f"expected an integer in [{lo}, {hi}]")
        return int(text)
    if kind in ("float32", "float64"):
        try:
            number = float(text)
        except ValueError:
            raise ValueError("expected a number") from None
        return number
    if kind == "decimal":
        try:
            exact = decimal.Decimal(text)
        except decimal.InvalidOperation:
            raise ValueError("expected a decimal number") from None
        if not exact.is_finite():
            raise ValueError("expected a finite decimal number")
        return exact
    if kind == "string":
        return text
    raise ValueError("only numeric and string fields can take a replacement")


class _Plan(NamedTuple):
    """How to mask a struct of one schema, worked out once per schema."""

    fill_defaults: bool
    """Whether its nulls read as their fields' defaults: only when some field has one."""
    constant: tuple[tuple[int, object], ...]
    """(index, mask value) of each masked field whose mask is the same on every record."""
    per_record: tuple[tuple[int, str, str], ...]
    """(index, name, kind) of each other masked field: an array or map, which gets an empty
    one of its own, or a field without a mask value, which is a `DataError` when non-null."""


class MaskFieldConfig(TransformConfig):
    fields: str = Field(
        alias="fields",
        description="Names of fields to mask.",
        json_schema_extra={"importance": "HIGH", "type": "LIST"},
    )
    replacement: str | None = Field(
        None,
        alias="replacement",
        description=(
            "Custom value replacement, that will be applied to all 'fields' values (numeric or "
            "non-empty string values only)."
        ),
        json_schema_extra={"importance": "LOW"},
    )
    replace_null_with_default: ReplaceNullWithDefault = True

    @field_validator("fields")
    @classmethod
    def _non_empty_list(cls, value: str) -> str:
        if not split_list(value):
            raise ValueError("expected a non-empty list of field names")
        return value

    @field_validator("replacement")
    @classmethod
    def _non_empty(cls, value: str | None) -> str | None:
        if value is not None and not value:
            raise ValueError("expected a non-empty string, or no replacement at all")
        return value


class MaskField(PartTransformation[R]):
    """Mask the listed fields of the key or value; see the module docstring."""

    config_model = MaskFieldConfig

    def __init__(self) -> None:
        self._fields: tuple[str, ...] = ()
        self._masked: frozenset[str] = frozenset()
        self._replacement: str | None = None
        self._replace_null_with_default = True
        self._replacements: dict[str, object] = {}
        self._plans: dict[Schema, _Plan] = {}
        self._forget_plan()

    def configure(self, configs: Mapping[str, str]) -> None:
        config = MaskFieldConfig.parse(configs)
        self._fields = tuple(dict.fromkeys(split_list(config.fields)))
        self._masked = frozenset(self._fields)
        self._replacement = config.replacement
        self._replace_null_with_default = config.replace_null_with_default
        self._replacements = {}
        self._plans = {}
        self._forget_plan()

    def _forget_plan(self) -> None:
        # The plan of the last struct schema met, recognised by identity: a converter hands out
        # the same schema object record after record, and an identity check costs far less
        # than the hash and equality of a dict lookup.
        self._last_schema: Schema | None = None
        self._last_plan = _Plan(False, (), ())

    def apply(self, record: R) -> R | None:
        on_value = self.part is VALUE
        if on_value:
            value = record.value
            schema = record.value_schema
        else:
            value = record.key
            schema = record.key_schema
        if schema is None:
            original = require_map(value, PURPOSE)
            updated = dict(original)
            for name in self._fields:
                field_val = original.get(name)
                updated[name] = (
                    None if field_val is None else self._masked_value(name, _value_kind(field_val))
                )
            return self.new_part(record, None, updated)
        struct = value if type(value) is Struct else require_struct(value, PURPOSE)
        struct_schema = struct.schema
        if struct_schema is self._last_schema:
            fill_defaults, constant, per_record = self._last_plan
        else:
            fill_defaults, constant, per_record = self._plan(struct_schema)
        values = copied_values(struct, True) if fill_defaults else struct._values.copy()
        for index, mask in constant:
            if values[index] is not None:
                values[index] = mask
        if per_record:
            for index, name, kind in per_record:
                if values[index] is not None:
                    values[index] = self._masked_value(name, kind)
        # Unmasked values were checked when the input struct was made, and a masked one is
        # the empty value or the replacement read for the field's own type.
        masked = trusted_struct(struct_schema, values)
        if on_value:  # `new_part`, inlined: this runs per record
            return record.new_record(
                record.topic,
                record.kafka_partition,
                record.key_schema,
                record.key,
                schema,
                masked,
                record.timestamp,
            )
        return self.new_part(record, schema, masked)

    def _plan(self, schema: Schema) -> _Plan:
        """How to mask a struct of `schema`; worked out once per schema."""
        plan = self._plans.get(schema)
        if plan is None:
            if len(self._plans) >= _PLAN_CACHE_SIZE:
                self._plans.clear()
            constant: list[tuple[int, object]] = []
            per_record: list[tuple[int, str, str]] = []
            for f in schema.fields:
                if f.name in self._masked:
                    kind = _schema_kind(f.schema)
                    mask = self._constant_mask(f.name, kind)
                    if mask is _UNRESOLVED:
                        per_record.append((f.index, f.name, kind))
                    else:
                        constant.append((f.index, mask))
            plan = _Plan(
                self._replace_null_with_default and has_field_defaults(schema),
                tuple(constant),
                tuple(per_record),
            )
            self._plans[schema] = plan
        self._last_schema = schema
        self._last_plan = plan
        return plan

    def _constant_mask(self, name: str, kind: str) -> object:
        """The value every non-null field of `kind` is masked with, or `_UNRESOLVED` when each
        needs its own (an empty list or map, which the sink may change) or there is none."""
        if kind in ("array", "map"):
            return _UNRESOLVED
        try:
            return self._masked_value(name, kind)
        except DataError:
            return _UNRESOLVED

    def _masked_value(self, name: str, kind: str) -> object:
        """The value a non-null field of `kind` is masked with; `DataError` when there is none."""
        replacement = self._replacement
        if replacement is None:
            if kind == "array":
                return []
            if kind == "map":
                return {}
            if kind not in _EMPTY:
                raise DataError(
                    f"Cannot mask value of type {kind} (field '{name}'): there is no empty value "
                    "for it; mask numeric, boolean, string, decimal, date, time, timestamp, "
                    "array or map fields"
                )
            return _EMPTY[kind]
        cached = self._replacements.get(kind, _MISSING)
        if cached is _MISSING:
            try:
                cached = _read_replacement(replacement, kind)
            except ValueError as e:
                raise DataError(
                    f"Cannot mask field '{name}' of type {kind} with replacement "
                    f"{replacement!r}: {e}"
                ) from None
            self._replacements[kind] = cached
        return cached


class MaskFieldKey(MaskField[R]):
    """`MaskField$Key`: masks fields of the record key."""

    part = Part.KEY


class MaskFieldValue(MaskField[R]):
    """`MaskField$Value`: masks fields of the record value."""

    part = Part.VALUE
