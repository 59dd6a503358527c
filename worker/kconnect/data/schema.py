"""Kafka Connect's type system: schemas, structs, and the check that a value fits a schema.

Invariants:
- A `Schema` is immutable, hashable and compared by content, so it can key caches (the JSON
  converter keeps one compiled encoder per schema). Its hash is computed once.
- A `Struct` only ever holds values that fit their field's schema: `put` checks before it stores,
  so code that reads a struct (converters, transforms) need not check again.
- Values are plain Python: INT8..INT64 are `int` (range-checked), FLOAT32/FLOAT64 `float` (an
  `int` is accepted too), BOOLEAN `bool`, STRING `str`, BYTES `bytes` (`bytearray` and
  `memoryview` accepted), ARRAY `list` (or tuple), MAP `dict`, STRUCT `Struct`. A schema named as
  one of the logical types in `kconnect.data.logical` takes that type's Python value instead
  (`decimal.Decimal`, `datetime.date`, `datetime.time`, `datetime.datetime`).

Failures are `DataError`s whose message names the field path, the value and the expected type.
As in Java, a STRUCT value must carry a schema equal to the one it is checked against; unlike
Java, a struct whose schema differs only in being optional or in its default is accepted too,
so one struct can fill both a required and an optional field of the same shape.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import enum
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import ClassVar, NamedTuple

from kconnect.data import _javatext
from kconnect.data._javatext import java_text
from kconnect.errors import DataError

DECIMAL_NAME = "org.apache.kafka.connect.data.Decimal"
DATE_NAME = "org.apache.kafka.connect.data.Date"
TIME_NAME = "org.apache.kafka.connect.data.Time"
TIMESTAMP_NAME = "org.apache.kafka.connect.data.Timestamp"


class Type(enum.Enum):
    """A schema's type; the value is Kafka Connect's lower-case name."""

    INT8 = "int8"
    INT16 = "int16"
    INT32 = "int32"
    INT64 = "int64"
    FLOAT32 = "float32"
    FLOAT64 = "float64"
    BOOLEAN = "boolean"
    STRING = "string"
    BYTES = "bytes"
    ARRAY = "array"
    MAP = "map"
    STRUCT = "struct"

    @property
    def is_primitive(self) -> bool:
        return self not in (Type.ARRAY, Type.MAP, Type.STRUCT)


INT_RANGES: dict[Type, tuple[int, int]] = {
    Type.INT8: (-(2**7), 2**7 - 1),
    Type.INT16: (-(2**15), 2**15 - 1),
    Type.INT32: (-(2**31), 2**31 - 1),
    Type.INT64: (-(2**63), 2**63 - 1),
}


@dataclass(frozen=True, slots=True)
class Field:
    """A field of a STRUCT schema: its name, its position, and its schema."""

    name: str
    index: int
    schema: Schema


Checker = Callable[[object, str], None]


class Schema:
    """An immutable Connect schema. Build one with `SchemaBuilder`, or use the constants."""

    __slots__ = (
        "_checker",
        "_field_map",
        "_hash",
        "_struct_repr",
        "_struct_text",
        "default",
        "doc",
        "fields",
        "key_schema",
        "name",
        "optional",
        "parameters",
        "type",
        "value_schema",
        "version",
    )

    type: Type
    optional: bool
    default: object
    name: str | None
    version: int | None
    doc: str | None
    parameters: Mapping[str, str] | None
    fields: tuple[Field, ...]
    key_schema: Schema | None
    value_schema: Schema | None
    _field_map: dict[str, Field]
    _struct_repr: Callable[[list[object]], str] | None
    _struct_text: tuple[str, ...] | None  # each field's `name=`, for the native spelling
    _hash: int
    _checker: Checker | None

    INT8: ClassVar[Schema]
    INT16: ClassVar[Schema]
    INT32: ClassVar[Schema]
    INT64: ClassVar[Schema]
    FLOAT32: ClassVar[Schema]
    FLOAT64: ClassVar[Schema]
    BOOLEAN: ClassVar[Schema]
    STRING: ClassVar[Schema]
    BYTES: ClassVar[Schema]
    OPTIONAL_INT8: ClassVar[Schema]
    OPTIONAL_INT16: ClassVar[Schema]
    OPTIONAL_INT32: ClassVar[Schema]
    OPTIONAL_INT64: ClassVar[Schema]
    OPTIONAL_FLOAT32: ClassVar[Schema]
    OPTIONAL_FLOAT64: ClassVar[Schema]
    OPTIONAL_BOOLEAN: ClassVar[Schema]
    OPTIONAL_STRING: ClassVar[Schema]
    OPTIONAL_BYTES: ClassVar[Schema]

    def __init__(
        self,
        type: Type,
        optional: bool = False,
        *,
        default: object = None,
        name: str | None = None,
        version: int | None = None,
        doc: str | None = None,
        parameters: Mapping[str, str] | None = None,
        fields: tuple[Field, ...] = (),
        key_schema: Schema | None = None,
        value_schema: Schema | None = None,
    ) -> None:
        if type is Type.STRUCT:
            for i, f in enumerate(fields):
                if f.index != i:
                    raise DataError(f"field {f.name!r} has index {f.index}, expected {i}")
        elif fields:
            raise DataError(f"a {type.value} schema cannot have fields")
        if type is Type.MAP and (key_schema is None or value_schema is None):
            raise DataError("a map schema needs a key schema and a value schema")
        if type is Type.ARRAY and value_schema is None:
            raise DataError("an array schema needs a value schema")
        sa = object.__setattr__
        sa(self, "type", type)
        sa(self, "optional", optional)
        sa(self, "default", default)
        sa(self, "name", name)
        sa(self, "version", version)
        sa(self, "doc", doc)
        sa(self, "parameters", None if parameters is None else MappingProxyType(dict(parameters)))
        sa(self, "fields", tuple(fields))
        sa(self, "key_schema", key_schema if type is Type.MAP else None)
        sa(self, "value_schema", value_schema if type in (Type.MAP, Type.ARRAY) else None)
        sa(self, "_field_map", {f.name: f for f in fields})
        sa(self, "_struct_repr", None)
        sa(self, "_struct_text", None)
        sa(
            self,
            "_hash",
            hash(
                (
                    type,
                    optional,
                    name,
                    version,
                    doc,
                    tuple(f.name for f in fields),
                    key_schema,
                    value_schema,
                )
            ),
        )
        sa(self, "_checker", None)

    def __setattr__(self, key: str, value: object) -> None:
        raise AttributeError(f"Schema is immutable; cannot set {key!r}")

    def __delattr__(self, key: str) -> None:
        raise AttributeError(f"Schema is immutable; cannot delete {key!r}")

    def __reduce__(self) -> tuple[object, ...]:
        return (_schema_from_state, (self.type, self.optional, self._state()))

    def _state(self) -> dict[str, object]:
        return {
            "default": self.default,
            "name": self.name,
            "version": self.version,
            "doc": self.doc,
            "parameters": None if self.parameters is None else dict(self.parameters),
            "fields": self.fields,
            "key_schema": self.key_schema,
            "value_schema": self.value_schema,
        }

    def field(self, name: str) -> Field | None:
        """The field called `name`, or None (also None for a schema that isn't a STRUCT)."""
        return self._field_map.get(name)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if not isinstance(other, Schema) or self._hash != other._hash:
            return False
        return (
            self.type is other.type
            and self.optional == other.optional
            and self.name == other.name
            and self.version == other.version
            and self.doc == other.doc
            and _params_eq(self.parameters, other.parameters)
            and self.fields == other.fields
            and self.key_schema == other.key_schema
            and self.value_schema == other.value_schema
            and _values_eq(self.default, other.default)
        )

    def __repr__(self) -> str:
        parts = [self.type.value]
        if self.name is not None:
            parts.append(f"name={self.name!r}")
        if self.optional:
            parts.append("optional")
        if self.default is not None:
            parts.append(f"default={self.default!r}")
        if self.version is not None:
            parts.append(f"version={self.version}")
        if self.parameters:
            parts.append(f"parameters={dict(self.parameters)!r}")
        if self.type is Type.STRUCT:
            inner = ", ".join(f"{f.name}: {f.schema!r}" for f in self.fields)
            parts.append(f"fields=[{inner}]")
        elif self.type is Type.MAP:
            parts.append(f"keys={self.key_schema!r}, values={self.value_schema!r}")
        elif self.type is Type.ARRAY:
            parts.append(f"items={self.value_schema!r}")
        return "Schema(" + ", ".join(parts) + ")"

    def same_shape(self, other: Schema) -> bool:
        """Equal apart from `optional` and `default`: a struct of one fits a field of the other."""
        return self is other or (
            self.type is other.type
            and self.name == other.name
            and self.version == other.version
            and self.doc == other.doc
            and _params_eq(self.parameters, other.parameters)
            and self.fields == other.fields
            and self.key_schema == other.key_schema
            and self.value_schema == other.value_schema
        )

    @property
    def checker(self) -> Checker:
        """A function (value, path) -> None that raises DataError when the value doesn't fit."""
        c = self._checker
        if c is None:
            c = _compile_checker(self)
            object.__setattr__(self, "_checker", c)
        return c


def _schema_from_state(type: Type, optional: bool, state: dict[str, object]) -> Schema:
    return Schema(type, optional, **state)  # type: ignore[arg-type]


def _params_eq(a: Mapping[str, str] | None, b: Mapping[str, str] | None) -> bool:
    if a is None or b is None:
        return a is b
    return dict(a) == dict(b)


def _values_eq(a: object, b: object) -> bool:
    if type(a) is not type(b) and not (isinstance(a, int | float) and isinstance(b, int | float)):
        return False
    return a == b


def _primitive(t: Type, optional: bool) -> Schema:
    return Schema(t, optional=optional)


Schema.INT8 = _primitive(Type.INT8, False)
Schema.INT16 = _primitive(Type.INT16, False)
Schema.INT32 = _primitive(Type.INT32, False)
Schema.INT64 = _primitive(Type.INT64, False)
Schema.FLOAT32 = _primitive(Type.FLOAT32, False)
Schema.FLOAT64 = _primitive(Type.FLOAT64, False)
Schema.BOOLEAN = _primitive(Type.BOOLEAN, False)
Schema.STRING = _primitive(Type.STRING, False)
Schema.BYTES = _primitive(Type.BYTES, False)
Schema.OPTIONAL_INT8 = _primitive(Type.INT8, True)
Schema.OPTIONAL_INT16 = _primitive(Type.INT16, True)
Schema.OPTIONAL_INT32 = _primitive(Type.INT32, True)
Schema.OPTIONAL_INT64 = _primitive(Type.INT64, True)
Schema.OPTIONAL_FLOAT32 = _primitive(Type.FLOAT32, True)
Schema.OPTIONAL_FLOAT64 = _primitive(Type.FLOAT64, True)
Schema.OPTIONAL_BOOLEAN = _primitive(Type.BOOLEAN, True)
Schema.OPTIONAL_STRING = _primitive(Type.STRING, True)
Schema.OPTIONAL_BYTES = _primitive(Type.BYTES, True)


class SchemaBuilder:
    """A fluent builder, like Java's: `SchemaBuilder.struct().name("x").field("a", s).build()`."""

    __slots__ = (
        "_default",
        "_doc",
        "_fields",
        "_key",
        "_name",
        "_optional",
        "_params",
        "_type",
        "_value",
        "_version",
    )

    def __init__(self, type: Type) -> None:
        self._type = type
        self._optional = False
        self._default: object = None
        self._name: str | None = None
        self._version: int | None = None
        self._doc: str | None = None
        self._params: dict[str, str] | None = None
        self._fields: dict[str, Schema] = {}
        self._key: Schema | None = None
        self._value: Schema | None = None

    @staticmethod
    def int8() -> SchemaBuilder:
        return SchemaBuilder(Type.INT8)

    @staticmethod
    def int16() -> SchemaBuilder:
        return SchemaBuilder(Type.INT16)

    @staticmethod
    def int32() -> SchemaBuilder:
        return SchemaBuilder(Type.INT32)

    @staticmethod
    def int64() -> SchemaBuilder:
        return SchemaBuilder(Type.INT64)

    @staticmethod
    def float32() -> SchemaBuilder:
        return SchemaBuilder(Type.FLOAT32)

    @staticmethod
    def float64() -> SchemaBuilder:
        return SchemaBuilder(Type.FLOAT64)

    @staticmethod
    def bool() -> SchemaBuilder:
        return SchemaBuilder(Type.BOOLEAN)

    boolean = bool

    @staticmethod
    def string() -> SchemaBuilder:
        return SchemaBuilder(Type.STRING)

    @staticmethod
    def bytes() -> SchemaBuilder:
        return SchemaBuilder(Type.BYTES)

    @staticmethod
    def struct() -> SchemaBuilder:
        return SchemaBuilder(Type.STRUCT)

    @staticmethod
    def array(value_schema: Schema) -> SchemaBuilder:
        b = SchemaBuilder(Type.ARRAY)
        b._value = value_schema
        return b

    @staticmethod
    def map(key_schema: Schema, value_schema: Schema) -> SchemaBuilder:
        b = SchemaBuilder(Type.MAP)
        b._key = key_schema
        b._value = value_schema
        return b

    @staticmethod
    def of(schema: Schema) -> SchemaBuilder:
        """A builder that starts as a copy of `schema` (to derive a variant of it)."""
        b = SchemaBuilder(schema.type)
        b._optional = schema.optional
        b._default = schema.default
        b._name = schema.name
        b._version = schema.version
        b._doc = schema.doc
        b._params = None if schema.parameters is None else dict(schema.parameters)
        b._fields = {f.name: f.schema for f in schema.fields}
        b._key = schema.key_schema
        b._value = schema.value_schema
        return b

    @property
    def type(self) -> Type:
        return self._type

    def name(self, name: str) -> SchemaBuilder:
        self._name = name
        return self

    def version(self, version: int) -> SchemaBuilder:
        self._version = version
        return self

    def doc(self, doc: str) -> SchemaBuilder:
        self._doc = doc
        return self

    def parameter(self, key: str, value: str) -> SchemaBuilder:
        if self._params is None:
            self._params = {}
        self._params[key] = value
        return self

    def parameters(self, params: Mapping[str, str]) -> SchemaBuilder:
        if self._params is None:
            self._params = {}
        self._params.update(params)
        return self

    def optional(self) -> SchemaBuilder:
        self._optional = True
        return self

    def required(self) -> SchemaBuilder:
        self._optional = False
        return self

    def default_value(self, value: object) -> SchemaBuilder:
        """Set the default; it must fit the schema as built so far (name included)."""
        if value is not None:
            try:
                self._build(None).checker(value, "<default>")
            except DataError as e:
                raise DataError(f"invalid default value for {self._describe()}: {e}") from None
        self._default = value
        return self

    def field(self, name: str, schema: Schema) -> SchemaBuilder:
        if self._type is not Type.STRUCT:
            raise DataError(f"cannot add field {name!r} to a {self._type.value} schema")
        if not isinstance(name, str) or not name:
            raise DataError(f"invalid field name {name!r}: expected a non-empty string")
        if name in self._fields:
            raise DataError(f"cannot add field {name!r}: the struct already has a field so named")
        if not isinstance(schema, Schema):
            raise DataError(
                f"field {name!r} needs a Schema (call .build()), got {type(schema).__name__}"
            )
        self._fields[name] = schema
        return self

    def _describe(self) -> str:
        return f"{self._type.value} schema" + (f" {self._name!r}" if self._name else "")

    def _build(self, default: object) -> Schema:
        fields = tuple(Field(n, i, s) for i, (n, s) in enumerate(self._fields.items()))
        return Schema(
            self._type,
            self._optional,
            default=default,
            name=self._name,
            version=self._version,
            doc=self._doc,
            parameters=self._params,
            fields=fields,
            key_schema=self._key,
            value_schema=self._value,
        )

    def build(self) -> Schema:
        schema = self._build(self._default)
        if self._default is not None:
            try:
                self._build(None).checker(self._default, "<default>")
            except DataError as e:
                raise DataError(f"invalid default value for {self._describe()}: {e}") from None
        return schema


class SchemaAndValue(NamedTuple):
    schema: Schema | None
    value: object


_MISSING = object()


class Struct:
    """A record-like value of a STRUCT schema. `put` checks each value against its field."""

    __slots__ = ("_values", "schema")

    def __init__(self, schema: Schema) -> None:
        if not isinstance(schema, Schema) or schema.type is not Type.STRUCT:
            raise DataError(f"a Struct needs a STRUCT schema, got {schema!r}")
        self.schema = schema
        self._values: list[object] = [None] * len(schema.fields)

    @classmethod
    def _trusted(cls, schema: Schema, values: list[object]) -> Struct:
        """A struct from values already known to fit (converters use it on their hot path)."""
        s = cls.__new__(cls)
        s.schema = schema
        s._values = values
        return s

    def _lookup(self, name: str | Field) -> Field:
        if isinstance(name, Field):
            f = self.schema.fields[name.index] if name.index < len(self.schema.fields) else None
            if f is None or f != name:
                raise DataError(f"field {name.name!r} is not a field of this struct's schema")
            return f
        f2 = self.schema._field_map.get(name)
        if f2 is None:
            known = ", ".join(self.schema._field_map) or "none"
            raise DataError(f"{name!r} is not a valid field name; the fields are: {known}")
        return f2

    def put(self, name: str | Field, value: object) -> Struct:
        """Set a field, checking the value against the field's schema first."""
        f = self._lookup(name)
        if value is not None or not f.schema.optional:
            f.schema.checker(value, f.name)
        self._values[f.index] = value
        return self

    def get(self, name: str | Field) -> object:
        """The field's value, or the field schema's default when the value is None."""
        f = self._lookup(name)
        v = self._values[f.index]
        return f.schema.default if v is None else v

    def get_without_default(self, name: str | Field) -> object:
        """The field's value as put, None when unset (the default is not substituted)."""
        return self._values[self._lookup(name).index]

    def __getitem__(self, name: str) -> object:
        return self.get(name)

    def __setitem__(self, name: str, value: object) -> None:
        self.put(name, value)

    def validate(self) -> None:
        """Raise DataError if a required field without a default is unset or a value doesn't fit."""
        for f, v in zip(self.schema.fields, self._values, strict=True):
            if v is None and (f.schema.optional or f.schema.default is not None):
                continue
            f.schema.checker(v, f.name)

    def values(self) -> Iterator[tuple[Field, object]]:
        """(field, value as put) pairs in field order."""
        return zip(self.schema.fields, self._values, strict=True)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Struct):
            return NotImplemented
        return self.schema == other.schema and all(
            _values_eq(a, b) for a, b in zip(self._values, other._values, strict=True)
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        # Java's `Struct.toString`: `Struct{a=1,b=x}`, unset fields left out. FileStreamSink
        # writes this for every struct record: the native module spells it when it is built
        # (registered below), else each schema gets its own generated formatter.
        if _javatext.NATIVE is not None:
            return java_text(self)
        schema = self.schema
        fmt = schema._struct_repr
        if fmt is None:
            fmt = _compile_struct_repr(schema)
            object.__setattr__(schema, "_struct_repr", fmt)
        return fmt(self._values)


def _struct_prefixes(schema: Schema) -> tuple[str, ...]:
    """Each field's `name=`, made once per schema, for the native spelling of a Struct."""
    prefixes = schema._struct_text
    if prefixes is None:
        prefixes = tuple(f"{f.name}=" for f in schema.fields)
        object.__setattr__(schema, "_struct_text", prefixes)
    return prefixes


_javatext.register_struct(Struct, _struct_prefixes)


def _field_text(v: object) -> str:
    # Java's `Struct.toString` appends each value's own `toString`: `java_text` spells them.
    if type(v) is int:
        return str(v)
    if type(v) is Struct:
        return repr(v)
    return java_text(v)


def _compile_struct_repr(schema: Schema) -> Callable[[list[object]], str]:
    """`Struct.__repr__` for `schema` as straight-line code: a STRING field's str and an integer
    field's int are written inline; every other value goes through `_field_text`."""
    n = len(schema.fields)
    if n == 0:
        return lambda values: "Struct{}"
    lines = [
        "def struct_repr(values):",
        f"    {''.join(f'v{i}, ' for i in range(n))}= values",
        "    parts = []",
        "    append = parts.append",
    ]
    for i, f in enumerate(schema.fields):
        var = f"v{i}"
        t = f.schema.type
        if t is Type.STRING:
            text = f"{var} if type({var}) is str else text({var})"
        elif t in INT_RANGES and f.schema.name is None:
            text = f"str({var}) if type({var}) is int else text({var})"
        else:
            text = f"text({var})"
        lines += [f"    if {var} is not None:", f"        append({f.name + '='!r} + ({text}))"]
    lines.append("    return 'Struct{' + ','.join(parts) + '}'")
    namespace: dict[str, object] = {"text": _field_text}
    # The source is built above; field names enter it only through repr().
    exec(compile("\n".join(lines), "<Struct repr>", "exec"), namespace)  # noqa: S102
    fmt = namespace["struct_repr"]
    assert callable(fmt)
    return fmt


def validate_value(schema: Schema, value: object, path: str = "") -> None:
    """Raise DataError unless `value` fits `schema`, naming the path, the value and the type."""
    schema.checker(value, path)


# --- compiled checkers --------------------------------------------------------------------


def _where(path: str) -> str:
    return f" for field '{path}'" if path else ""


def _short(value: object) -> str:
    r = repr(value)
    return r if len(r) <= 80 else r[:77] + "..."


def _fail(schema: Schema, value: object, path: str, expected: str) -> DataError:
    what = schema.type.value if schema.name is None else f"{schema.type.value} ({schema.name})"
    return DataError(
        f"invalid value {_short(value)} of type {type(value).__name__}{_where(path)}: "
        f"schema {what} expects {expected}"
    )


def _nullable(schema: Schema) -> bool:
    """Whether a struct field of `schema` may be None: optional, or with a default to stand in."""
    return schema.optional or schema.default is not None


def fitting_type(schema: Schema) -> type | None:
    """A type every value of which fits `schema` with no check beyond the type itself (None when
    there is none): integers are range-checked, and logical and container types look further."""
    t = schema.type
    if t is Type.STRING:
        return str
    if t is Type.BOOLEAN:
        return bool
    if t is Type.FLOAT32 or t is Type.FLOAT64:
        return float
    if t is Type.BYTES and schema.name != DECIMAL_NAME:
        return bytes
    return None


def _compile_checker(schema: Schema) -> Checker:
    optional = schema.optional
    t = schema.type

    def null_ok(path: str) -> None:
        if not optional:
            raise DataError(
                f"invalid value None{_where(path)}: a required {t.value} field needs a value"
            )

    inner = _compile_inner(schema)

    def check(value: object, path: str) -> None:
        if value is None:
            null_ok(path)
        else:
            inner(value, path)

    return check


def _compile_inner(schema: Schema) -> Checker:
    t = schema.type
    name = schema.name
    if name == DECIMAL_NAME and t is Type.BYTES:

        def check_decimal(v: object, path: str) -> None:
            if not isinstance(v, decimal.Decimal) or not v.is_finite():
                raise _fail(schema, v, path, "a finite decimal.Decimal")

        return check_decimal
    if name == DATE_NAME and t is Type.INT32:

        def check_date(v: object, path: str) -> None:
            if not isinstance(v, _dt.date) or (
                isinstance(v, _dt.datetime) and v.timetz().replace(tzinfo=None) != _dt.time()
            ):
                raise _fail(schema, v, path, "a datetime.date (no time of day)")

        return check_date
    if name == TIME_NAME and t is Type.INT32:

        def check_time(v: object, path: str) -> None:
            if not isinstance(v, _dt.time):
                raise _fail(schema, v, path, "a datetime.time")

        return check_time
    if name == TIMESTAMP_NAME and t is Type.INT64:

        def check_ts(v: object, path: str) -> None:
            if not isinstance(v, _dt.datetime):
                raise _fail(schema, v, path, "a datetime.datetime")

        return check_ts
    if t in INT_RANGES:
        lo, hi = INT_RANGES[t]

        def check_int(v: object, path: str) -> None:
            if type(v) is not int and (not isinstance(v, int) or isinstance(v, bool)):
                raise _fail(schema, v, path, "an int")
            if not lo <= v <= hi:
                raise _fail(schema, v, path, f"an int in [{lo}, {hi}]")

        return check_int
    if t is Type.FLOAT32 or t is Type.FLOAT64:

        def check_float(v: object, path: str) -> None:
            if type(v) is not float and (not isinstance(v, int | float) or isinstance(v, bool)):
                raise _fail(schema, v, path, "a float")

        return check_float
    if t is Type.BOOLEAN:

        def check_bool(v: object, path: str) -> None:
            if not isinstance(v, bool):
                raise _fail(schema, v, path, "a bool")

        return check_bool
    if t is Type.STRING:

        def check_str(v: object, path: str) -> None:
            if not isinstance(v, str):
                raise _fail(schema, v, path, "a str")

        return check_str
    if t is Type.BYTES:

        def check_bytes(v: object, path: str) -> None:
            if not isinstance(v, bytes | bytearray | memoryview):
                raise _fail(schema, v, path, "bytes")

        return check_bytes
    if t is Type.ARRAY:
        vs = schema.value_schema
        assert vs is not None

        def check_array(v: object, path: str) -> None:
            if not isinstance(v, list | tuple):
                raise _fail(schema, v, path, "a list")
            c = vs.checker
            for i, item in enumerate(v):
                c(item, f"{path}[{i}]")

        return check_array
    if t is Type.MAP:
        ks, vs2 = schema.key_schema, schema.value_schema
        assert ks is not None
        assert vs2 is not None

        def check_map(v: object, path: str) -> None:
            if not isinstance(v, Mapping):
                raise _fail(schema, v, path, "a dict")
            kc, vc = ks.checker, vs2.checker
            for k, item in v.items():
                kc(k, f"{path}<key {k!r}>")
                vc(item, f"{path}[{k!r}]")

        return check_map

    return _struct_checker(schema)


def _struct_checker(schema: Schema) -> Checker:
    """A STRUCT checker generated for `schema`: straight-line code with one line per field.

    A struct passes through HoistField and the converters once per record, and most fields are
    strings: a field whose value has its schema's `fitting_type` costs one type test, a None
    where None may stand costs one more, and only other values call the field's own checker.
    A field's path is spelled only then. No name from the schema enters the generated source:
    fields are reached by index.
    """
    fields = schema.fields
    names = tuple(f.name for f in fields)
    checkers = tuple(f.schema.checker for f in fields)

    def not_a_struct(v: object, path: str) -> DataError:
        return _fail(schema, v, path, "a Struct")

    def mismatch(v: Struct, path: str) -> DataError:
        return DataError(
            f"invalid value {_short(v)}{_where(path)}: the struct's schema "
            f"{v.schema!r} does not match the expected schema {schema!r}"
        )

    def at(path: str, i: int) -> str:
        return f"{path}.{names[i]}" if path else names[i]

    namespace: dict[str, object] = {
        "Struct": Struct,
        "schema": schema,
        "checkers": checkers,
        "not_a_struct": not_a_struct,
        "mismatch": mismatch,
        "at": at,
    }
    lines = [
        "def check_struct(v, path):",
        "    if type(v) is not Struct and not isinstance(v, Struct):",
        "        raise not_a_struct(v, path)",
        "    vs = v.schema",
        "    if vs is not schema and not vs.same_shape(schema):",
        "        raise mismatch(v, path)",
    ]
    if fields:
        # same_shape means as many values as fields; a struct whose list was cut raises here.
        lines.append(f"    {''.join(f'v{i}, ' for i in range(len(fields)))}= v._values")
    for i, f in enumerate(fields):
        skip = []
        fits = fitting_type(f.schema)
        if fits is not None:
            namespace[f"fits{i}"] = fits
            skip.append(f"type(v{i}) is fits{i}")
        if _nullable(f.schema):
            skip.append(f"v{i} is None")
        condition = f"not ({' or '.join(skip)})" if skip else "True"
        lines += [f"    if {condition}:", f"        checkers[{i}](v{i}, at(path, {i}))"]
    lines.append("    return None")
    code = compile("\n".join(lines), f"<struct checker {schema.name or ''}>", "exec")
    exec(code, namespace)  # noqa: S102 - built above from indices only
    checker = namespace["check_struct"]
    assert callable(checker)
    return checker
