"""Avro's binary encoding of Connect values, compiled once per schema.

`compile_encoder(schema, node)` returns a function from a Connect value of `schema` to the Avro
binary body for `node` (the Avro schema `kconnect.data.avro` maps `schema` to);
`compile_decoder(node, schema)` the inverse, from a body written with `node` to the Connect value
of `schema` (its `to_connect_schema`). Both walk the two schemas once, at compile time, so the
per-record work is straight-line code: a struct becomes one generated function that writes (or
reads) its integer, string, double, boolean and Timestamp fields inline and calls a field's own
function for everything else. That is what makes Avro as cheap per record as the JSON
converter in pure Python; fastavro (a C extension) is slower here, because its datum is a dict
that must be built from a Struct first.

Invariants: the bytes are those Avro's Java library writes for the same values (zig-zag varints,
IEEE little-endian floats, length-prefixed strings and bytes, arrays and maps as one block and a
zero); a struct field whose value is None takes its schema's default first (Java's
`Struct.get`), unless `use_defaults` is off (`ignore.default.for.nullables`); what is read back
fits its Connect schema, so structs are built without checking again.

Failures: a value that does not fit raises `DataError` naming the field path and the expected
type; truncated or malformed bytes raise `DataError` saying so. No name from a schema enters
generated source: fields are reached by index.

Records are read and written by the native module `kconnect.data._avroc` when it is built
(hatch_build.py): each record's reader and encoder is then a program of field codes for its C
loop, with this module's readers and encoders for the kinds and values it does not handle itself;
the generated Python is the specification it follows, and the codec without it.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import functools
import importlib
import io
import json
import struct as _struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol, cast

import fastavro

from kconnect.data.avro_schema import AvroNode
from kconnect.data.logical import Date, Decimal, Time, Timestamp
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
from kconnect.errors import DataError, FieldPathError

Encoder = Callable[[object], bytes]
Reader = Callable[[bytes, int], tuple[object, int]]


class _Native(Protocol):
    """`kconnect.data._avroc`: its record reader and field codes."""

    LONG: int
    STRING: int
    OPT_STRING: int
    DOUBLE: int
    FLOAT: int
    BOOLEAN: int
    TIMESTAMP: int
    READER: int
    FIELD: int

    def read_record(self, program: tuple[object, ...], data: bytes, pos: int, /) -> Any: ...

    def write_record(self, program: tuple[object, ...], value: object, /) -> bytes: ...


def _load_native() -> _Native | None:
    try:
        return cast(_Native, importlib.import_module("kconnect.data._avroc"))
    except ImportError:
        return None


NATIVE: _Native | None = _load_native()
"""The native record reader, or None; read when a record's reader is compiled."""

_EPOCH: Final = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
_EPOCH_DATE: Final = _dt.date(1970, 1, 1)
_MS: Final = _dt.timedelta(milliseconds=1)
_UTC: Final = _dt.UTC
_pack_double = _struct.Struct("<d").pack
_pack_float = _struct.Struct("<f").pack
_unpack_double = _struct.Struct("<d").unpack_from
_unpack_float = _struct.Struct("<f").unpack_from
_LOGICAL: Final = frozenset({DECIMAL_NAME, DATE_NAME, TIME_NAME, TIMESTAMP_NAME})


def _zigzag_slow(n: int) -> bytes:
    n = (n << 1) ^ (n >> 63)
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


# 14-bit groups: with continuation bits on both bytes, and as the last one or two bytes. The
# two tables hold 32768 small bytes objects (about 1.2 MB), imported only with this module.
_GROUP: Final = [bytes([(i & 0x7F) | 0x80, ((i >> 7) & 0x7F) | 0x80]) for i in range(1 << 14)]
_LAST: Final = [
    bytes([i]) if i < 0x80 else bytes([(i & 0x7F) | 0x80, i >> 7]) for i in range(1 << 14)
]


def _zigzag_big(n: int) -> bytes:
    """`zigzag` for any long, by 14-bit groups from tables (a bytewise loop costs twice as
    much for the 6-byte timestamps and sequence numbers that most records carry)."""
    n = (n << 1) ^ (n >> 63)
    if n < 0x4000:
        return _LAST[n]
    if n < 0x10000000:
        return _GROUP[n & 0x3FFF] + _LAST[n >> 14]
    if n < 0x40000000000:
        return _GROUP[n & 0x3FFF] + _GROUP[(n >> 14) & 0x3FFF] + _LAST[n >> 28]
    if n < 0x100000000000000:
        return (
            _GROUP[n & 0x3FFF]
            + _GROUP[(n >> 14) & 0x3FFF]
            + _GROUP[(n >> 28) & 0x3FFF]
            + _LAST[n >> 42]
        )
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


zigzag: Final = _zigzag_big
"""A long as Avro writes it: zig-zag, then a little-endian base-128 varint."""


def _epoch_millis(v: _dt.datetime) -> int:
    """Milliseconds since the epoch of an aware UTC datetime (floored, as Java's)."""
    d = v - _EPOCH
    return (d.days * 86400 + d.seconds) * 1000 + d.microseconds // 1000


def _length(n: int) -> bytes:
    """A non-negative length (zig-zag of n is 2n)."""
    return _LAST[n << 1] if n < 0x2000 else _zigzag_big(n)


AvroPathError = FieldPathError


def _describe(schema: Schema) -> str:
    what = schema.type.name
    return f"{what} ({schema.name})" if schema.name else what


def _bad(schema: Schema, v: object, expected: str) -> AvroPathError:
    r = repr(v)
    if len(r) > 80:
        r = r[:77] + "..."
    return AvroPathError(
        f"Invalid value {r} of type {type(v).__name__} for {_describe(schema)}: expected {expected}"
    )


@dataclass(frozen=True)
class EncodeOptions:
    scrub: bool = False
    use_defaults: bool = True


# --- encoding ----------------------------------------------------------------------------------


def compile_encoder(schema: Schema, node: AvroNode, opts: EncodeOptions | None = None) -> Encoder:
    """The encoder of values of `schema` (None included, for an optional schema)."""
    opts = opts or EncodeOptions()
    inner = _nullable(schema, node, opts, use_default=False)

    def encode(value: object) -> bytes:
        try:
            return inner(value)
        except AvroPathError as e:
            raise DataError(f"Converting Kafka Connect data to Avro failed: {e}") from None

    return encode


def _null_index(node: AvroNode) -> tuple[bytes, bytes, AvroNode]:
    """For a union of null and one type: the null branch's index, the type's, and the type."""
    if node.type != "union" or len(node.branches) != 2:
        raise DataError(f"an optional schema needs an Avro union of null and one type, not {node}")
    if node.branches[0].type == "null":
        return b"\x00", b"\x02", node.branches[1]
    return b"\x02", b"\x00", node.branches[0]


def _nullable(schema: Schema, node: AvroNode, opts: EncodeOptions, use_default: bool) -> Encoder:
    """The encoder of `schema` that also takes None: the default (in a struct field), the null
    branch (optional), or an error."""
    default = schema.default if use_default and opts.use_defaults else None
    if _is_union_struct(schema):
        enc = _compile(schema, node, opts)
        optional = schema.optional

        def union(v: object) -> bytes:
            if v is None:
                v = default
            if v is None:
                if optional:
                    return b"\x00"
                raise AvroPathError("Found null value for non-optional union schema")
            return enc(v)

        return union
    if schema.optional:
        null, branch, inner_node = _null_index(node)
        enc = _compile(schema, inner_node, opts)
        if default is not None:
            encoded_default = branch + enc(default)
            return lambda v: encoded_default if v is None else branch + enc(v)
        return lambda v: null if v is None else branch + enc(v)
    enc = _compile(schema, node, opts)
    if default is not None:
        encoded = enc(default)
        return lambda v: encoded if v is None else enc(v)

    def required(v: object) -> bytes:
        if v is None:
            raise AvroPathError(
                f"Found null value for non-optional schema {_describe(schema)} with no default"
            )
        return enc(v)

    return required


def _is_union_struct(schema: Schema) -> bool:
    return schema.type is Type.STRUCT and schema.name == "io.confluent.connect.avro.Union"


def _compile(schema: Schema, node: AvroNode, opts: EncodeOptions) -> Encoder:
    """The encoder of non-null values of `schema` as `node` (not a null union)."""
    t = schema.type
    name = schema.name
    if name == DECIMAL_NAME and t is Type.BYTES:
        size = node.size if node.type == "fixed" else -1

        def enc_decimal(v: object) -> bytes:
            if not isinstance(v, decimal.Decimal):
                raise _bad(schema, v, "a decimal.Decimal")
            try:
                raw = Decimal.from_logical(schema, v)
            except DataError as e:
                raise AvroPathError(str(e)) from None
            if size < 0:
                return _length(len(raw)) + raw
            if len(raw) > size:
                raise _bad(schema, v, f"a decimal that fits {size} bytes")
            return raw.rjust(size, b"\xff" if raw[0] & 0x80 else b"\x00")

        return enc_decimal
    if name == DATE_NAME and t is Type.INT32:

        def enc_date(v: object) -> bytes:
            if not isinstance(v, _dt.date):
                raise _bad(schema, v, "a datetime.date")
            try:
                return zigzag(Date.from_logical(schema, v))
            except DataError as e:
                raise AvroPathError(str(e)) from None

        return enc_date
    if name == TIME_NAME and t is Type.INT32:

        def enc_time(v: object) -> bytes:
            if not isinstance(v, _dt.time):
                raise _bad(schema, v, "a datetime.time")
            return zigzag(Time.from_logical(schema, v))

        return enc_time
    if name == TIMESTAMP_NAME and t is Type.INT64:

        def enc_timestamp(v: object) -> bytes:
            if type(v) is _dt.datetime and v.tzinfo is _UTC:
                return zigzag(_epoch_millis(v))
            if not isinstance(v, _dt.datetime):
                raise _bad(schema, v, "a datetime.datetime")
            return zigzag(Timestamp.from_logical(schema, v))

        return enc_timestamp
    if t in INT_RANGES:
        lo, hi = INT_RANGES[t]

        def enc_int(v: object) -> bytes:
            if type(v) is int and lo <= v <= hi:
                return _zigzag_big(v)
            if isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi:
                return zigzag(int(v))
            raise _bad(schema, v, f"an int in [{lo}, {hi}]")

        return enc_int
    if t is Type.FLOAT64:

        def enc_double(v: object) -> bytes:
            if type(v) is float:
                return _pack_double(v)
            if isinstance(v, int | float) and not isinstance(v, bool):
                return _pack_double(float(v))
            raise _bad(schema, v, "a float")

        return enc_double
    if t is Type.FLOAT32:

        def enc_float(v: object) -> bytes:
            if isinstance(v, int | float) and not isinstance(v, bool):
                try:
                    return _pack_float(float(v))
                except OverflowError:
                    raise _bad(schema, v, "a float in the range of a FLOAT32") from None
            raise _bad(schema, v, "a float")

        return enc_float
    if t is Type.BOOLEAN:

        def enc_bool(v: object) -> bytes:
            if v is True:
                return b"\x01"
            if v is False:
                return b"\x00"
            raise _bad(schema, v, "a bool")

        return enc_bool
    if t is Type.STRING:
        if node.type == "enum":
            indexes = {s: zigzag(i) for i, s in enumerate(node.symbols)}

            def enc_enum(v: object) -> bytes:
                if not isinstance(v, str):
                    raise _bad(schema, v, "a str")
                idx = indexes.get(v)
                if idx is None:
                    raise _bad(schema, v, f"one of the enum's symbols {node.symbols}")
                return idx

            return enc_enum

        def enc_str(v: object) -> bytes:
            if not isinstance(v, str):
                raise _bad(schema, v, "a str")
            try:
                b = v.encode("utf-8")
            except UnicodeEncodeError:
                raise _bad(schema, v, "a str UTF-8 can encode (no unpaired surrogate)") from None
            return _length(len(b)) + b

        return enc_str
    if t is Type.BYTES:
        if node.type == "fixed":
            size = node.size

            def enc_fixed(v: object) -> bytes:
                if not isinstance(v, bytes | bytearray | memoryview) or len(v) != size:
                    raise _bad(schema, v, f"bytes of length {size}")
                return bytes(v)

            return enc_fixed

        def enc_bytes(v: object) -> bytes:
            if not isinstance(v, bytes | bytearray | memoryview):
                raise _bad(schema, v, "bytes")
            b = bytes(v)
            return _length(len(b)) + b

        return enc_bytes
    if t is Type.ARRAY:
        assert schema.value_schema is not None
        assert node.items is not None
        item = _nullable(schema.value_schema, node.items, opts, use_default=False)

        def enc_array(v: object) -> bytes:
            if not isinstance(v, list | tuple):
                raise _bad(schema, v, "a list")
            if not v:
                return b"\x00"
            parts = [zigzag(len(v))]
            for i, x in enumerate(v):
                try:
                    parts.append(item(x))
                except AvroPathError as e:
                    raise e.at(f"[{i}]") from None
            parts.append(b"\x00")
            return b"".join(parts)

        return enc_array
    if t is Type.MAP:
        return _compile_map(schema, node, opts)
    if _is_union_struct(schema):
        return _compile_union(schema, node, opts)
    return _compile_struct(schema, node, opts)


def _compile_map(schema: Schema, node: AvroNode, opts: EncodeOptions) -> Encoder:
    """An Avro map (STRING keys) or an array of `MapEntry` records (other keys): both one
    block of (key, value) pairs."""
    ks, vs = schema.key_schema, schema.value_schema
    assert ks is not None
    assert vs is not None
    if node.type == "map":
        assert node.values is not None
        key = _compile(Schema.STRING, AvroNode("string"), opts)
        value = _nullable(vs, node.values, opts, use_default=False)
    else:
        entry = node.items
        assert entry is not None
        assert len(entry.fields) == 2
        key = _nullable(ks, entry.fields[0].type, opts, use_default=False)
        value = _nullable(vs, entry.fields[1].type, opts, use_default=False)

    def enc_map(v: object) -> bytes:
        if not isinstance(v, Mapping):
            raise _bad(schema, v, "a dict")
        if not v:
            return b"\x00"
        parts = [zigzag(len(v))]
        for k, x in v.items():
            try:
                parts.append(key(k))
                parts.append(value(x))
            except AvroPathError as e:
                raise e.at(f"[{k!r}]") from None
        parts.append(b"\x00")
        return b"".join(parts)

    return enc_map


def _compile_union(schema: Schema, node: AvroNode, opts: EncodeOptions) -> Encoder:
    """A struct named io.confluent.connect.avro.Union: its first non-null field picks the
    branch (branches follow the fields, after a leading null when the struct is optional)."""
    offset = 1 if schema.optional else 0
    if len(node.branches) != len(schema.fields) + offset:
        raise DataError(f"the Avro union {node} does not match the Connect union {schema!r}")
    encs = []
    for i, f in enumerate(schema.fields):
        member = f.schema
        inner = _compile(member, node.branches[i + offset], opts)
        encs.append((zigzag(i + offset), inner, member.default if opts.use_defaults else None))
    null = b"\x00" if schema.optional else None

    def enc_union(v: object) -> bytes:
        if not isinstance(v, Struct):
            raise _bad(schema, v, "a Struct")
        if v.schema is not schema and not v.schema.same_shape(schema):
            raise AvroPathError(f"Mismatching struct schema: {v.schema!r}, expected {schema!r}")
        for (idx, inner, default), x in zip(encs, v._values, strict=True):
            chosen = default if x is None else x
            if chosen is not None:
                return idx + inner(chosen)
        if null is None:
            raise AvroPathError("Found null value for non-optional union schema")
        return null

    return enc_union


def _compile_struct(schema: Schema, node: AvroNode, opts: EncodeOptions) -> Encoder:
    """A generated function for one STRUCT schema (see the module docstring)."""
    if node.type != "record" or len(node.fields) != len(schema.fields):
        raise DataError(f"the Avro record {node} does not match the Connect struct {schema!r}")
    fields = schema.fields
    names = tuple(f.name for f in fields)
    encs = tuple(
        _nullable(f.schema, af.type, opts, use_default=True)
        for f, af in zip(fields, node.fields, strict=True)
    )

    def full(i: int, x: object) -> bytes:
        try:
            return encs[i](x)
        except AvroPathError as e:
            raise e.at(names[i]) from None

    def not_a_struct(v: object) -> AvroPathError:
        return _bad(schema, v, "a Struct")

    def mismatch(vs: Schema) -> AvroPathError:
        return AvroPathError(f"Mismatching struct schema: {vs!r}, expected {schema!r}")

    namespace: dict[str, object] = {
        "Struct": Struct,
        "schema": schema,
        "full": full,
        "not_a_struct": not_a_struct,
        "mismatch": mismatch,
        "lasts": _LAST,
        "zz": _zigzag_big,
        "epoch_millis": _epoch_millis,
        "length": _length,
        "pack_double": _pack_double,
        "datetime": _dt.datetime,
        "UTC": _UTC,
        "EPOCH": _EPOCH,
        "MS": _MS,
    }
    lines = [
        "def enc_struct(v):",
        "    if type(v) is not Struct and not isinstance(v, Struct):",
        "        raise not_a_struct(v)",
        "    vs = v.schema",
        "    if vs is not schema and not vs.same_shape(schema):",
        "        raise mismatch(vs)",
    ]
    if not fields:
        lines.append("    return b''")
    else:
        lines.append(f"    {''.join(f'v{i}, ' for i in range(len(fields)))}= v._values")
    out: list[str] = []
    for i, (f, af) in enumerate(zip(fields, node.fields, strict=True)):
        fs = f.schema
        var = f"v{i}"
        kind = fs.type if fs.name not in _LOGICAL else fs.name
        prefix = ""
        if fs.optional and not _is_union_struct(fs):
            _, branch, inner_node = _null_index(af.type)
            prefix = f"{branch!r} + "
        else:
            inner_node = af.type
        if kind is Type.STRING and inner_node.type == "string":
            lines += [
                f"    if type({var}) is str:",
                f"        {var} = {var}.encode()",
                f"        {var} = {prefix}(lasts[len({var}) << 1] if len({var}) < 8192 else "
                f"length(len({var}))) + {var}",
                "    else:",
                f"        {var} = full({i}, {var})",
            ]
        elif kind in INT_RANGES and inner_node.type in ("int", "long"):
            assert isinstance(kind, Type)
            lo, hi = INT_RANGES[kind]
            lines.append(
                f"    {var} = {prefix}(lasts[({var} << 1) ^ ({var} >> 63)] "
                f"if -8192 <= {var} < 8192 else zz({var})) "
                f"if type({var}) is int and {lo} <= {var} <= {hi} else full({i}, {var})"
            )
        elif kind is Type.FLOAT64:
            lines.append(
                f"    {var} = {prefix}pack_double({var}) if type({var}) is float "
                f"else full({i}, {var})"
            )
        elif kind is Type.BOOLEAN and not prefix:
            lines.append(
                f"    {var} = b'\\x01' if {var} is True else b'\\x00' if {var} is False "
                f"else full({i}, {var})"
            )
        elif kind == TIMESTAMP_NAME:
            lines.append(
                f"    {var} = {prefix}zz(epoch_millis({var})) if type({var}) is datetime "
                f"and {var}.tzinfo is UTC else full({i}, {var})"
            )
        else:
            lines.append(f"    {var} = full({i}, {var})")
        out.append(var)
    if fields:
        lines.append(f"    return b''.join(({', '.join(out)},))")
    source = "\n".join(lines)
    try_lines = [source.replace("def enc_struct(v):", "def enc_fast(v):", 1)]
    try_lines += [
        "def enc_struct(v):",
        "    try:",
        "        return enc_fast(v)",
        "    except UnicodeEncodeError:",
        "        return enc_checked(v)",
    ]
    namespace["enc_checked"] = _checked_struct(schema, names, encs, not_a_struct, mismatch)
    exec(compile("\n".join(try_lines), "<avro struct encoder>", "exec"), namespace)  # noqa: S102
    enc = namespace["enc_struct"]
    assert callable(enc)
    if NATIVE is not None:
        return _native_struct_encoder(NATIVE, schema, node, enc, full)
    return enc


def _native_struct_encoder(
    native: _Native,
    schema: Schema,
    node: AvroNode,
    python: Encoder,
    full: Callable[[int, object], bytes],
) -> Encoder:
    """The struct encoder as a program for the native module: the fields the generated Python
    writes inline, written by the C in the same cases; every other value through `full`, and
    a struct that is not exactly a Struct of `schema` through the Python encoder."""
    ops: list[tuple[int, bytes, int, int, Callable[[object], bytes]]] = []
    for i, (f, af) in enumerate(zip(schema.fields, node.fields, strict=True)):
        fs = f.schema
        kind = fs.type if fs.name not in _LOGICAL else fs.name
        prefix = b""
        inner_node = af.type
        if fs.optional and not _is_union_struct(fs):
            _, prefix, inner_node = _null_index(af.type)
        field = functools.partial(full, i)
        lo, hi = 0, 0
        if kind is Type.STRING and inner_node.type == "string":
            code = native.STRING
        elif kind in INT_RANGES and inner_node.type in ("int", "long"):
            assert isinstance(kind, Type)
            code = native.LONG
            lo, hi = INT_RANGES[kind]
        elif kind is Type.FLOAT64:
            code = native.DOUBLE
        elif kind is Type.BOOLEAN and not prefix:
            code = native.BOOLEAN
        elif kind == TIMESTAMP_NAME:
            code = native.TIMESTAMP
        else:
            code = native.FIELD
        ops.append((code, prefix, lo, hi, field))
    return functools.partial(native.write_record, (Struct, schema, python, tuple(ops)))


def _checked_struct(
    schema: Schema,
    names: tuple[str, ...],
    encs: tuple[Encoder, ...],
    not_a_struct: Callable[[object], AvroPathError],
    mismatch: Callable[[Schema], AvroPathError],
) -> Encoder:
    def enc_checked(v: object) -> bytes:
        if not isinstance(v, Struct):
            raise not_a_struct(v)
        if v.schema is not schema and not v.schema.same_shape(schema):
            raise mismatch(v.schema)
        parts = []
        for name, enc, x in zip(names, encs, v._values, strict=True):
            try:
                parts.append(enc(x))
            except AvroPathError as e:
                raise e.at(name) from None
        return b"".join(parts)

    return enc_checked


# --- decoding ----------------------------------------------------------------------------------


class _Truncated(Exception):
    pass


def _unrolled_read_long() -> Callable[[bytes, int], tuple[int, int]]:
    """`read_long` as straight-line code, one step per byte: a loop costs twice as much for
    the 6-byte timestamps and sequence numbers most records carry."""
    lines = [
        "def read_long(b, p):",
        "    x = b[p]",
        "    if x < 0x80:",
        "        return (x >> 1) ^ -(x & 1), p + 1",
        "    n = x & 0x7F",
    ]
    for k in range(1, 9):
        lines += [
            f"    x = b[p + {k}]",
            f"    n |= (x & 0x7F) << {7 * k}",
            "    if x < 0x80:",
            f"        return (n >> 1) ^ -(n & 1), p + {k + 1}",
        ]
    lines += [
        "    x = b[p + 9]",
        "    if x > 1:",
        "        raise ValueError('malformed Avro data: a varint longer than 64 bits')",
        "    n |= x << 63",
        "    return (n >> 1) ^ -(n & 1), p + 10",
    ]
    namespace: dict[str, object] = {}
    exec(compile("\n".join(lines), "<avro read_long>", "exec"), namespace)  # noqa: S102
    read = namespace["read_long"]
    assert callable(read)
    return read


read_long: Final = _unrolled_read_long()
"""A zig-zag varint at `p` in `b`: the value and the position after it."""


class Decoder(Protocol):
    """Reads one Avro body into a Connect value: from `data[start:]`, so that a framed record
    (the wire format's 5-byte header first) is read without copying its body out."""

    def __call__(self, data: bytes | memoryview, start: int = 0) -> object: ...


def compile_decoder(
    node: AvroNode, schema: Schema, member_name: Callable[[AvroNode], str] | None = None
) -> Decoder:
    """The decoder of bodies written with `node` into values of `schema`."""
    read = _reader(node, schema)

    def decode(data: bytes | memoryview, start: int = 0) -> object:
        b = data if type(data) is bytes else bytes(data)
        try:
            return read(b, start)[0]
        except (IndexError, _struct.error):
            raise DataError(
                f"Converting Avro to Kafka Connect data failed: the data ends early "
                f"({len(b)} bytes) for its schema"
            ) from None
        except (ValueError, OverflowError) as e:
            raise DataError(f"Converting Avro to Kafka Connect data failed: {e}") from None

    return decode


def _reader(node: AvroNode, schema: Schema) -> Reader:
    t = node.type
    name = schema.name
    if t == "union":
        return _union_reader(node, schema)
    if t in ("int", "long"):
        st = schema.type
        if name == DATE_NAME:

            def read_date(b: bytes, p: int) -> tuple[object, int]:
                n, p = read_long(b, p)
                return Date.to_logical(schema, n), p

            return read_date
        if name == TIME_NAME:

            def read_time(b: bytes, p: int) -> tuple[object, int]:
                n, p = read_long(b, p)
                return Time.to_logical(schema, n), p

            return read_time
        if name == TIMESTAMP_NAME:

            def read_ts(b: bytes, p: int) -> tuple[object, int]:
                n, p = read_long(b, p)
                return _EPOCH + _dt.timedelta(0, 0, n * 1000), p

            return read_ts
        if st is Type.INT8:
            return lambda b, p: _wrap(read_long(b, p), 8)
        if st is Type.INT16:
            return lambda b, p: _wrap(read_long(b, p), 16)
        return read_long
    if t == "float":
        return lambda b, p: (_unpack_float(b, p)[0], p + 4)
    if t == "double":
        return lambda b, p: (_unpack_double(b, p)[0], p + 8)
    if t == "boolean":
        return lambda b, p: (b[p] == 1, p + 1)
    if t == "string":

        def read_str(b: bytes, p: int) -> tuple[object, int]:
            n, p = read_long(b, p)
            e = p + n
            if n < 0 or e > len(b):
                raise IndexError
            return b[p:e].decode("utf-8", "replace"), e

        return read_str
    if t == "enum":
        symbols = node.symbols

        def read_enum(b: bytes, p: int) -> tuple[object, int]:
            n, p = read_long(b, p)
            if not 0 <= n < len(symbols):
                raise ValueError(f"enum index {n} out of range for {node.full_name}")
            return symbols[n], p

        return read_enum
    if t in ("bytes", "fixed"):
        size = node.size
        is_fixed = t == "fixed"
        decimal_schema = name == DECIMAL_NAME

        def read_bytes(b: bytes, p: int) -> tuple[object, int]:
            if is_fixed:
                n = size
            else:
                n, p = read_long(b, p)
            e = p + n
            if n < 0 or e > len(b):
                raise IndexError
            raw = b[p:e]
            if decimal_schema:
                return Decimal.to_logical(schema, raw), e
            return raw, e

        return read_bytes
    if t == "array":
        assert node.items is not None
        if schema.type is Type.MAP:
            return _entries_reader(node.items, schema)
        assert schema.value_schema is not None
        item = _reader(node.items, schema.value_schema)

        def read_array(b: bytes, p: int) -> tuple[object, int]:
            out: list[object] = []
            while True:
                n, p = _block_count(b, p)
                if n == 0:
                    return out, p
                # Blocks of items that take no bytes (nulls, empty records) could otherwise
                # add up, block after block, to far more items than any writer wrote.
                if len(out) + n > len(b) + _MAX_EMPTY_ITEMS:
                    raise ValueError(
                        f"an array of over {len(out) + n} items is longer than the data"
                    )
                for _ in range(n):
                    x, p = item(b, p)
                    out.append(x)

        return read_array
    if t == "map":
        assert node.values is not None
        assert schema.value_schema is not None
        val = _reader(node.values, schema.value_schema)
        return _dict_reader(_reader(AvroNode("string"), Schema.STRING), val)
    if t == "record":
        return _record_reader(node, schema)
    raise DataError(f"cannot read Avro {t} as Connect {schema.type.name}")


_MAX_EMPTY_ITEMS: Final = 1_000_000


def _block_count(b: bytes, p: int) -> tuple[int, int]:
    """An array or map block's item count (0 ends the array or map); a negative count is
    followed by the block's size in bytes, which is skipped. A count that the remaining bytes
    cannot hold (beyond a million items of zero bytes, such as empty records) is malformed data,
    not a loop to run for ever."""
    n, p = read_long(b, p)
    if n < 0:
        n = -n
        _, p = read_long(b, p)
    if n > len(b) - p + _MAX_EMPTY_ITEMS:
        raise ValueError(f"a block of {n} items is longer than the data")
    return n, p


def _wrap(pair: tuple[int, int], bits: int) -> tuple[object, int]:
    n, p = pair
    half = 1 << (bits - 1)
    return ((n + half) & ((1 << bits) - 1)) - half, p


def _entries_reader(entry: AvroNode, schema: Schema) -> Reader:
    """A map with non-string keys: an array of `MapEntry` records (key, value)."""
    assert schema.key_schema is not None
    assert schema.value_schema is not None
    key = _reader(entry.fields[0].type, schema.key_schema)
    return _dict_reader(key, _reader(entry.fields[1].type, schema.value_schema))


def _dict_reader(key: Reader, value: Reader) -> Reader:
    """Blocks of (key, value) pairs into a dict: an Avro map, or an array of map entries."""

    def read_dict(b: bytes, p: int) -> tuple[object, int]:
        out: dict[object, object] = {}
        while True:
            n, p = _block_count(b, p)
            if n == 0:
                return out, p
            for _ in range(n):
                k, p = key(b, p)
                try:
                    out[k], p = value(b, p)
                except TypeError:
                    raise ValueError(f"map key {k!r} cannot key a dict") from None

    return read_dict


def _union_reader(node: AvroNode, schema: Schema) -> Reader:
    branches = node.branches
    readers: list[Reader | None] = []
    if schema.type is Type.STRUCT and schema.name == "io.confluent.connect.avro.Union":
        fields = iter(schema.fields)
        for br in branches:
            if br.type == "null":
                readers.append(None)
                continue
            f = next(fields)
            inner = _reader(br, f.schema)
            readers.append(_as_union_struct(schema, f.index, inner))
    else:
        for br in branches:
            readers.append(None if br.type == "null" else _reader(br, schema))
    count = len(readers)

    def read_union(b: bytes, p: int) -> tuple[object, int]:
        i, p = read_long(b, p)
        if not 0 <= i < count:
            raise ValueError(f"union index {i} out of range for {count} branches")
        r = readers[i]
        if r is None:
            return None, p
        return r(b, p)

    return read_union


def _as_union_struct(schema: Schema, index: int, inner: Reader) -> Reader:
    n = len(schema.fields)

    def read_member(b: bytes, p: int) -> tuple[object, int]:
        v, p = inner(b, p)
        values: list[object] = [None] * n
        values[index] = v
        return Struct._trusted(schema, values), p

    return read_member


def _inline_varint(var: str, inline_bytes: int) -> list[str]:
    """Source that reads the zig-zag varint at `p` into `var` and moves `p` past it: the
    first `inline_bytes` bytes unrolled in place (no call), longer ones through `read_long`."""
    lines = ["    x = b[p]", "    if x < 128:", "        n = x", "        p += 1", "    else:"]
    lines.append("        n = x & 127")
    indent = "        "
    for k in range(1, inline_bytes):
        lines += [
            f"{indent}x = b[p + {k}]",
            f"{indent}n |= (x & 127) << {7 * k}",
            f"{indent}if x < 128:",
            f"{indent}    p += {k + 1}",
            f"{indent}else:",
        ]
        indent += "    "
    lines += [
        f"{indent}n, p = read_long(b, p)",
        f"{indent}n = (n << 1) ^ (n >> 63)",
        f"    {var} = (n >> 1) ^ -(n & 1)",
    ]
    return lines


def _inline_string(var: str, indent: str) -> list[str]:
    """Source that reads the length-prefixed UTF-8 string at `p` into `var` (invalid UTF-8
    replaced, as Java's `new String(bytes, UTF_8)` does)."""
    lines = [
        "x = b[p]",
        "if x < 128:",
        "    n = (x >> 1) ^ -(x & 1)",
        "    p += 1",
        "else:",
        "    n, p = read_long(b, p)",
        "e = p + n",
        "if n < 0 or e > len(b):",
        "    raise IndexError",
        f"{var} = b[p:e].decode('utf-8', 'replace')",
        "p = e",
    ]
    return [indent + line for line in lines]


def _record_reader(node: AvroNode, schema: Schema) -> Reader:
    """A generated reader for one record: int, long, string, double, boolean and Timestamp
    fields inline, others through their own readers."""
    if schema.type is not Type.STRUCT or len(schema.fields) != len(node.fields):
        raise DataError(f"cannot read the Avro record {node.full_name} as {schema!r}")
    if NATIVE is not None:
        return _native_record_reader(NATIVE, node, schema)
    namespace: dict[str, object] = {
        "Struct": Struct,
        "new": object.__new__,
        "schema": schema,
        "read_long": read_long,
        "unpack_double": _unpack_double,
        "EPOCH": _EPOCH,
        "timedelta": _dt.timedelta,
    }
    lines = ["def read_record(b, p):"]
    for i, (f, af) in enumerate(zip(schema.fields, node.fields, strict=True)):
        var = f"v{i}"
        fs = f.schema
        at = af.type
        kind = fs.type if fs.name not in _LOGICAL else fs.name
        if kind in (Type.INT32, Type.INT64) and at.type in ("int", "long"):
            lines += _inline_varint(var, 5 if at.type == "int" else 9)
        elif kind is Type.STRING and at.type == "string":
            lines += _inline_string(var, "    ")
        elif (
            kind is Type.STRING
            and fs.optional
            and at.type == "union"
            and [br.type for br in at.branches] == ["null", "string"]
        ):
            lines += ["    x = b[p]", "    p += 1", "    if x == 0:", f"        {var} = None"]
            lines += ["    elif x == 2:", *_inline_string(var, "        ")]
            lines += ["    else:", "        raise ValueError(f'union index {x} out of range')"]
        elif kind is Type.FLOAT64 and at.type == "double":
            lines += [f"    {var} = unpack_double(b, p)[0]", "    p += 8"]
        elif kind is Type.BOOLEAN and at.type == "boolean":
            lines += [f"    {var} = b[p] == 1", "    p += 1"]
        elif kind == TIMESTAMP_NAME and at.type == "long":
            lines += _inline_varint("n", 9)
            lines += [
                f"    {var} = EPOCH + timedelta(0, 0, n * 1000)",
            ]
        else:
            namespace[f"r{i}"] = _reader(at, fs)
            lines.append(f"    {var}, p = r{i}(b, p)")
    values = ", ".join(f"v{i}" for i in range(len(schema.fields)))
    lines += [
        "    s = new(Struct)",
        "    s.schema = schema",
        f"    s._values = [{values}]",
        "    return s, p",
    ]
    exec(compile("\n".join(lines), "<avro record reader>", "exec"), namespace)  # noqa: S102
    reader = namespace["read_record"]
    assert callable(reader)
    return reader


def _timestamp(n: int) -> _dt.datetime:
    return _EPOCH + _dt.timedelta(0, 0, n * 1000)


def _native_record_reader(native: _Native, node: AvroNode, schema: Schema) -> Reader:
    """The record reader as a program for the native module: the same fields inline as the
    generated Python reads inline (plus FLOAT32), the others through their own readers."""
    ops: list[tuple[int, object]] = []
    for f, af in zip(schema.fields, node.fields, strict=True):
        fs = f.schema
        at = af.type
        kind = fs.type if fs.name not in _LOGICAL else fs.name
        if kind in (Type.INT32, Type.INT64) and at.type in ("int", "long"):
            ops.append((native.LONG, None))
        elif kind is Type.STRING and at.type == "string":
            ops.append((native.STRING, None))
        elif (
            kind is Type.STRING
            and fs.optional
            and at.type == "union"
            and [br.type for br in at.branches] == ["null", "string"]
        ):
            ops.append((native.OPT_STRING, None))
        elif kind is Type.FLOAT64 and at.type == "double":
            ops.append((native.DOUBLE, None))
        elif kind is Type.FLOAT32 and at.type == "float":
            ops.append((native.FLOAT, None))
        elif kind is Type.BOOLEAN and at.type == "boolean":
            ops.append((native.BOOLEAN, None))
        elif kind == TIMESTAMP_NAME and at.type == "long":
            ops.append((native.TIMESTAMP, _timestamp))
        else:
            ops.append((native.READER, _reader(at, fs)))
    return functools.partial(native.read_record, (Struct, schema, tuple(ops)))


def resolving_decoder(writer_text: str, reader_text: str, read: Decoder) -> Decoder:
    """A decoder that resolves data written with one schema into another (Avro's schema
    resolution, by fastavro), then reads it with `read` (compiled for the reader schema)."""
    try:
        writer = fastavro.parse_schema(_plain(writer_text))
        reader = fastavro.parse_schema(_plain(reader_text))
    except Exception as e:  # noqa: BLE001 - fastavro's parse errors have no common base
        raise DataError(f"cannot resolve Avro schemas: {e}") from None

    def decode(data: bytes | memoryview, start: int = 0) -> object:
        try:
            datum = fastavro.schemaless_reader(io.BytesIO(bytes(data[start:])), writer, reader)
            out = io.BytesIO()
            fastavro.schemaless_writer(out, reader, datum)
        except Exception as e:  # noqa: BLE001 - fastavro raises many kinds
            raise DataError(
                f"Converting Avro to Kafka Connect data failed: the writer's schema does not "
                f"resolve into the reader's: {e}"
            ) from None
        return read(out.getvalue())

    return decode


def _plain(text: str) -> Any:
    """A schema's JSON without logical types, so fastavro passes values through unchanged."""

    def strip(x: Any) -> Any:
        if isinstance(x, dict):
            return {k: strip(v) for k, v in x.items() if k != "logicalType"}
        if isinstance(x, list):
            return [strip(v) for v in x]
        return x

    return strip(json.loads(text))


# --- schemaless data: io.confluent.connect.avro.Anything -----------------------------------------

_N: Final = b"\x00"
_P: Final = b"\x02"


def encode_schemaless(value: object) -> bytes:
    """A schemaless value as the record `Anything`: the field its type selects set, the others
    null. Integers go to `long` (as Java's JsonConverter reads them), floats to `double`."""
    try:
        return _any(value)
    except AvroPathError as e:
        raise DataError(f"Converting Kafka Connect data to Avro failed: {e}") from None


def _any(v: object) -> bytes:
    if v is None:
        return _N * 9
    if isinstance(v, bool):
        return _P + (b"\x01" if v else b"\x00") + _N * 8
    if isinstance(v, bytes | bytearray | memoryview):
        b = bytes(v)
        return _N + _P + _length(len(b)) + b + _N * 7
    if isinstance(v, float):
        return _N * 2 + _P + _pack_double(v) + _N * 6
    if isinstance(v, int):
        if not -(2**63) <= v < 2**63:
            raise AvroPathError(f"integer {v} is out of the range of a long")
        return _N * 5 + _P + zigzag(v) + _N * 3
    if isinstance(v, str):
        s = v.encode("utf-8", "surrogatepass")
        return _N * 6 + _P + _length(len(s)) + s + _N * 2
    if isinstance(v, list | tuple):
        body = (zigzag(len(v)) + b"".join(_any(x) for x in v) + _N) if v else _N
        return _N * 7 + _P + body + _N
    if isinstance(v, Mapping):
        pairs = b"".join(_any(k) + _any(x) for k, x in v.items())
        body = (zigzag(len(v)) + pairs + _N) if v else _N
        return _N * 8 + _P + body
    raise AvroPathError(f"Unknown type for schemaless data: {type(v).__name__}")


def decode_schemaless(data: bytes | memoryview, start: int = 0) -> object:
    b = data if type(data) is bytes else bytes(data)
    try:
        return _read_any(b, start)[0]
    except (IndexError, _struct.error):
        raise DataError(
            "Converting Avro to Kafka Connect data failed: the data ends early"
        ) from None
    except (ValueError, OverflowError) as e:
        raise DataError(f"Converting Avro to Kafka Connect data failed: {e}") from None


def _read_any(b: bytes, p: int) -> tuple[object, int]:
    result: object = None
    found = False
    for field in range(9):
        i, p = read_long(b, p)
        if i == 0:
            continue
        if i != 1:
            raise DataError(f"malformed Anything record: union index {i}")
        v: object
        if field == 0:
            v = b[p] == 1
            p += 1
        elif field in (1, 6):
            n, p = read_long(b, p)
            v = b[p : p + n] if field == 1 else b[p : p + n].decode("utf-8", "replace")
            p += n
        elif field == 2:
            v = _unpack_double(b, p)[0]
            p += 8
        elif field == 3:
            v = _unpack_float(b, p)[0]
            p += 4
        elif field in (4, 5):
            v, p = read_long(b, p)
        elif field == 7:
            items: list[object] = []
            while True:
                n, p = _block_count(b, p)
                if n == 0:
                    break
                for _ in range(n):
                    x, p = _read_any(b, p)
                    items.append(x)
            v = items
        else:
            entries: dict[object, object] = {}
            while True:
                n, p = _block_count(b, p)
                if n == 0:
                    break
                for _ in range(n):
                    k, p = _read_any(b, p)
                    x, p = _read_any(b, p)
                    try:
                        entries[k] = x
                    except TypeError:
                        raise ValueError(f"map key {k!r} cannot key a dict") from None
            v = entries
        if not found:
            result, found = v, True
    return result, p
