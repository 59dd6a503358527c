"""Protobuf binary (proto3) for Connect values: `encoder(schema)`, `decoder(schema)`.

A struct's encoder is generated source (fields by index, never by name: no schema text is
evaluated), the common scalars written in line; everything else is closures built once per schema.

The Connect schema says everything the wire needs: a field's number is its
`io.confluent.connect.protobuf.Tag` parameter, else the counter Confluent's `ProtobufData` uses
(from 1, advanced only by fields without a Tag, a union consuming one); the scalar kind is the
`io.confluent.connect.protobuf.Type` parameter (`sint32`, `fixed64`, `uint32`, ...) or the
type's default (INT8/16/32 `int32`, INT64 `int64`); a STRING with
`io.confluent.connect.protobuf.Enum` parameters is an enum; a STRUCT named
`io.confluent.connect.protobuf.Union.<name>` is a oneof whose members are the message's fields;
Decimal, Date, Time and Timestamp are `confluent.type.Decimal`, `google.type.Date`,
`google.type.TimeOfDay` and `google.protobuf.Timestamp` messages; a MAP is repeated
`{key = 1, value = 2}` entry messages.

Writing is protobuf-java's `DynamicMessage.writeTo` for what Confluent's converter builds: fields
by ascending number; proto3 implicit presence (zero numbers, `false`, empty strings and bytes,
enum value 0 and null fields are not written; -0.0 is); message fields always written when set;
repeated numbers packed; a Decimal's `precision` is the value's digit count and its bytes Java's
`BigInteger.toByteArray`; dates before 1582-10-15 are Julian, as Java's `GregorianCalendar`.

Reading accepts any valid encoding: fields in any order, packed or not, unknown fields skipped,
the last of a repeated scalar winning. Absent scalars read as their zero value, absent messages
as null, absent repeated fields as empty lists/maps, as Confluent reads them.

Failures are `DataError`s naming the field path: a value that does not fit, bytes that end early,
a wire type that is not the field's, an enum symbol or number the schema does not have.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import struct as _struct
from collections.abc import Callable
from typing import Any, Final

from kconnect.data.logical import Date, Time, Timestamp
from kconnect.data.schema import (
    DATE_NAME,
    DECIMAL_NAME,
    TIME_NAME,
    TIMESTAMP_NAME,
    Schema,
    Struct,
    Type,
)
from kconnect.errors import DataError

TAG_PARAM: Final = "io.confluent.connect.protobuf.Tag"
TYPE_PARAM: Final = "io.confluent.connect.protobuf.Type"
ENUM_PARAM: Final = "io.confluent.connect.protobuf.Enum"
UNION_PREFIX: Final = "io.confluent.connect.protobuf.Union"
PRECISION_PARAM: Final = "connect.decimal.precision"

Encoder = Callable[[Any], bytes]
Decoder = Callable[[bytes | memoryview, int], Any]

_VARINT, _I64, _LEN, _I32 = 0, 1, 2, 5
_M64: Final = (1 << 64) - 1
_M32: Final = (1 << 32) - 1
_JULIAN_CUTOVER_JDN: Final = 2299161  # 1582-10-15 (Gregorian), Java's default cutover
_EPOCH_JDN: Final = 2440588


def is_union(schema: Schema) -> bool:
    return schema.type is Type.STRUCT and (schema.name or "").startswith(UNION_PREFIX)


def _tag(schema: Schema) -> int | None:
    text = (schema.parameters or {}).get(TAG_PARAM)
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        raise DataError(f"parameter {TAG_PARAM} is {text!r}, not a field number") from None


def numbered_fields(schema: Schema) -> list[tuple[int, int | None]]:
    """(field index, field number) of a STRUCT's fields as Confluent numbers them; a union's
    number is None (its members carry their own Tags)."""
    out: list[tuple[int, int | None]] = []
    counter = 1
    for f in schema.fields:
        if is_union(f.schema):
            out.append((f.index, None))
            counter += 1
            continue
        tag = _tag(f.schema)
        if tag is None:
            tag = counter
            counter += 1
        out.append((f.index, tag))
    return out


def union_members(schema: Schema, path: str) -> list[tuple[int, int]]:
    """(member index, field number) of a union struct; each member needs a Tag."""
    out = []
    for f in schema.fields:
        tag = _tag(f.schema)
        if tag is None:
            raise DataError(
                f"union {path} member {f.name!r} has no {TAG_PARAM} parameter: Confluent's "
                "ProtobufData gives it field number 0, which protobuf refuses"
            )
        out.append((f.index, tag))
    return out


def scalar_kind(schema: Schema) -> str:
    """The proto scalar keyword a primitive Connect schema is written as."""
    t = schema.type
    declared = (schema.parameters or {}).get(TYPE_PARAM)
    if t in (Type.INT8, Type.INT16):
        return "int32"
    if t is Type.INT32:
        return declared if declared in ("sint32", "sfixed32") else "int32"
    if t is Type.INT64:
        allowed = ("uint32", "fixed32", "uint64", "sint64", "fixed64", "sfixed64")
        return declared if declared in allowed else "int64"
    return {
        Type.FLOAT32: "float",
        Type.FLOAT64: "double",
        Type.BOOLEAN: "bool",
        Type.STRING: "string",
        Type.BYTES: "bytes",
    }[t]


def enum_symbols(schema: Schema) -> dict[str, int] | None:
    params = schema.parameters or {}
    if ENUM_PARAM not in params:
        return None
    prefix = ENUM_PARAM + "."
    out = {}
    for key, value in params.items():
        if key.startswith(prefix):
            try:
                out[key[len(prefix) :]] = int(value)
            except ValueError:
                raise DataError(f"parameter {key} is {value!r}, not an enum number") from None
    return out


# --- varints ----------------------------------------------------------------------------------


_SMALL: Final = [bytes((i,)) for i in range(128)]


def _varint(n: int) -> bytes:
    if 0 <= n < 0x80:
        return _SMALL[n]
    n &= _M64
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _key(number: int, wire: int) -> bytes:
    return _varint((number << 3) | wire)


def _read_varint(buf: bytes | memoryview, pos: int) -> tuple[int, int]:
    if pos < len(buf):
        first = buf[pos]
        if first < 0x80:
            return first, pos + 1
    n = 0
    shift = 0
    end = len(buf)
    while True:
        if pos >= end:
            raise DataError("the message ends inside a varint")
        b = buf[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        if b < 0x80:
            return n & _M64, pos
        shift += 7
        if shift >= 70:
            raise DataError("a varint is longer than 10 bytes")


def _signed64(n: int) -> int:
    return n - (1 << 64) if n >= 1 << 63 else n


def _signed32(n: int) -> int:
    n &= _M32
    return n - (1 << 32) if n >= 1 << 31 else n


# --- scalars: (wire type, encode value -> bytes, is default, decode raw -> value) ------------

_ScalarEnc = Callable[[Any], bytes]


def _scalar_encoder(kind: str) -> tuple[int, _ScalarEnc]:
    if kind in {"int32", "int64"}:
        return _VARINT, _varint
    if kind == "uint32":
        return _VARINT, lambda v: _varint(v & _M32)
    if kind == "uint64":
        return _VARINT, _varint
    if kind == "sint32":
        return _VARINT, lambda v: _varint(((v << 1) ^ (v >> 31)) & _M32)
    if kind == "sint64":
        return _VARINT, lambda v: _varint(((v << 1) ^ (v >> 63)) & _M64)
    if kind == "fixed32":
        return _I32, lambda v: _struct.pack("<I", v & _M32)
    if kind == "sfixed32":
        return _I32, lambda v: _struct.pack("<i", v)
    if kind == "fixed64":
        return _I64, lambda v: _struct.pack("<Q", v & _M64)
    if kind == "sfixed64":
        return _I64, lambda v: _struct.pack("<q", v)
    if kind == "float":
        return _I32, lambda v: _struct.pack("<f", v)
    if kind == "double":
        return _I64, lambda v: _struct.pack("<d", v)
    if kind == "bool":
        return _VARINT, lambda v: b"\x01" if v else b"\x00"
    if kind == "string":
        return _LEN, lambda v: _length_delimited(v.encode())
    return _LEN, lambda v: _length_delimited(bytes(v))


def _length_delimited(data: bytes) -> bytes:
    return _varint(len(data)) + data


def _is_zero(v: Any) -> bool:
    if v is False or v == 0:
        if isinstance(v, float):
            return str(v)[0] != "-"  # -0.0 is written (Java compares the bits)
        return True
    return v in {"", b""}


# --- encoding ---------------------------------------------------------------------------------


def _java_date_fields(days: int) -> tuple[int, int, int]:
    """(year, month, day) of a day count as Java's GregorianCalendar in UTC gives them."""
    jdn = days + _EPOCH_JDN
    if jdn >= _JULIAN_CUTOVER_JDN:
        gregorian = _dt.date(1970, 1, 1) + _dt.timedelta(days=days)
        return gregorian.year, gregorian.month, gregorian.day
    c = jdn + 32082
    d = (4 * c + 3) // 1461
    e = c - (1461 * d) // 4
    m = (5 * e + 2) // 153
    day = e - (153 * m + 2) // 5 + 1
    month = m + 3 - 12 * (m // 10)
    year = d - 4800 + m // 10
    return year, month, day


def _java_date_days(year: int, month: int, day: int) -> int:
    """The day count of Java's GregorianCalendar(year, month - 1, day) in UTC."""
    a = (14 - month) // 12
    y = year + 4800 - a
    m = month + 12 * a - 3
    gregorian = day + (153 * m + 2) // 5 + 365 * y + y // 4 - y // 100 + y // 400 - 32045
    if gregorian >= _JULIAN_CUTOVER_JDN:
        return gregorian - _EPOCH_JDN
    return day + (153 * m + 2) // 5 + 365 * y + y // 4 - 32083 - _EPOCH_JDN


def _decimal_body(v: decimal.Decimal) -> bytes:
    sign, digits, exponent = v.as_tuple()
    if not isinstance(exponent, int):
        raise DataError(f"decimal {v} is not a finite number")
    unscaled = int("".join(map(str, digits)) or "0")
    if sign:
        unscaled = -unscaled
    bits = unscaled.bit_length() if unscaled >= 0 else (~unscaled).bit_length()
    raw = unscaled.to_bytes(bits // 8 + 1, "big", signed=True)
    out = b"\x0a" + _length_delimited(raw)
    precision = len(digits)
    out += b"\x10" + _varint(precision)
    if exponent != 0:
        out += b"\x18" + _varint(-exponent)
    return out


def _message_encoder(schema: Schema, path: str, presence: bool = False) -> Encoder | None:
    """The body encoder of a message-typed value, None for a scalar schema."""
    name = schema.name
    if name == DECIMAL_NAME:
        return _decimal_body
    if name == DATE_NAME:

        def date(v: Any) -> bytes:
            year, month, day = _java_date_fields(Date.from_logical(schema, v))
            return b"".join(
                _key(n, _VARINT) + _varint(x) for n, x in ((1, year), (2, month), (3, day)) if x
            )

        return date
    if name == TIME_NAME:

        def time(v: Any) -> bytes:
            ms = Time.from_logical(schema, v)
            parts = (
                (1, (ms // 3_600_000) % 24),
                (2, ms // 60_000 % 60),
                (3, ms // 1000 % 60),
                (4, ms % 1000 * 1_000_000),
            )
            return b"".join(_key(n, _VARINT) + _varint(x) for n, x in parts if x)

        return time
    if name == TIMESTAMP_NAME:

        def timestamp(v: Any) -> bytes:
            ms = Timestamp.from_logical(schema, v)
            seconds, millis = divmod(ms, 1000)
            out = _key(1, _VARINT) + _varint(seconds) if seconds else b""
            return out + (_key(2, _VARINT) + _varint(millis * 1_000_000) if millis else b"")

        return timestamp
    if schema.type is Type.STRUCT:
        return _struct_encoder(schema, path, presence)
    return None


def _value_encoder(
    schema: Schema, number: int, path: str, in_list: bool = False, presence: bool = False
) -> Encoder:
    """Encoder of one field (key and value) holding a non-null value of `schema`."""
    message = _message_encoder(schema, path, presence)
    if message is not None:
        key = _key(number, _LEN)
        return lambda v: key + _length_delimited(message(v))
    if schema.type is Type.MAP:
        raise AssertionError("maps are encoded by _field_encoder")
    always = in_list or (presence and schema.optional)  # a zero is written where present
    symbols = enum_symbols(schema) if schema.type in (Type.STRING, Type.INT32) else None
    if symbols is not None:
        key = _key(number, _VARINT)

        def enum(v: Any) -> bytes:
            if schema.type is Type.INT32:
                n = v
            else:
                n = symbols.get(v)
                if n is None:
                    raise DataError(f"{path}: {v!r} is not a symbol of the enum")
            return b"" if n == 0 and not always else key + _varint(n)

        return enum
    kind = scalar_kind(schema)
    wire, enc = _scalar_encoder(kind)
    key = _key(number, wire)
    if always:
        return lambda v: key + enc(v)
    fast = _fast_scalar(kind, key)
    if fast is not None:
        return fast
    return lambda v: b"" if _is_zero(v) else key + enc(v)


def _fast_scalar(kind: str, key: bytes) -> Encoder | None:
    """One-call encoders of the common kinds (what `_scalar_encoder` does, inlined)."""
    small = _SMALL
    if kind in ("int32", "int64"):

        def varint(v: int) -> bytes:
            if 0 < v < 0x80:
                return key + small[v]
            return key + _varint(v) if v else b""

        return varint
    if kind == "string":

        def string(v: Any) -> bytes:
            if not v:
                return b""
            data: bytes = v.encode()
            n = len(data)
            return key + (small[n] if n < 0x80 else _varint(n)) + data

        return string
    if kind == "bool":
        true = key + b"\x01"
        return lambda v: true if v else b""
    if kind == "double":
        pack = _struct.Struct("<d").pack
        return lambda v: key + pack(v) if v or _is_negative_zero(v) else b""
    return None


def _is_negative_zero(v: float) -> bool:
    return str(v)[0] == "-"


def _field_encoder(schema: Schema, number: int, path: str, presence: bool = False) -> Encoder:
    """Encoder of a (non-union) field's non-null value: bytes of all its records."""
    if schema.type is Type.ARRAY:
        element = schema.value_schema
        assert element is not None
        if element.type is Type.ARRAY:
            raise DataError(f"{path}: Confluent's ProtobufData refuses an array of arrays")
        if element.type is Type.MAP:
            return _field_encoder(element, number, path, presence)
        packed = (
            element.type not in (Type.STRING, Type.BYTES, Type.STRUCT, Type.MAP)
            and _message_encoder(element, path, presence) is None
        )
        if packed:
            symbols = enum_symbols(element)
            enc: Callable[[Any], bytes]
            if symbols is not None and element.type is Type.STRING:

                def enc(v: Any) -> bytes:
                    try:
                        return _varint(symbols[v])
                    except KeyError:
                        raise DataError(f"{path}: {v!r} is not a symbol of the enum") from None
            else:
                enc = _scalar_encoder(scalar_kind(element))[1]
            key = _key(number, _LEN)

            def packed_list(v: Any) -> bytes:
                if not v:
                    return b""
                return key + _length_delimited(b"".join(enc(x) for x in v))

            return packed_list
        one = _value_encoder(element, number, path + "[]", in_list=True, presence=presence)

        def listed(v: Any) -> bytes:
            out = []
            for x in v:
                if x is None:
                    raise DataError(f"{path}: protobuf has no null list elements")
                out.append(one(x))
            return b"".join(out)

        return listed
    if schema.type is Type.MAP:
        key_schema, value_schema = schema.key_schema, schema.value_schema
        assert key_schema is not None
        assert value_schema is not None
        key_enc = _field_encoder(key_schema, 1, path + ".key", presence)
        value_enc = _field_encoder(value_schema, 2, path + ".value", presence)
        tag = _key(number, _LEN)

        def entries(v: Any) -> bytes:
            out = []
            for k, x in v.items():
                body = (b"" if k is None else key_enc(k)) + (b"" if x is None else value_enc(x))
                out.append(tag + _length_delimited(body))
            return b"".join(out)

        return entries
    return _value_encoder(schema, number, path, presence=presence)


def _struct_encoder(schema: Schema, path: str, presence: bool = False) -> Encoder:
    parts: list[tuple[int, int, Callable[[Any], bytes]]] = []  # (number, index, encoder)
    for index, number in numbered_fields(schema):
        f = schema.fields[index]
        where = f"{path}.{f.name}" if path else f.name
        if number is None:
            members = union_members(f.schema, where)
            members_enc = [
                (
                    i,
                    _field_encoder(
                        f.schema.fields[i].schema,
                        n,
                        f"{where}.{f.schema.fields[i].name}",
                        presence,
                    ),
                )
                for i, n in members
            ]

            def union(
                v: Any, encoders: list[tuple[int, Encoder]] = members_enc, where: str = where
            ) -> bytes:
                if not isinstance(v, Struct):
                    raise DataError(
                        f"{where}: expected a Struct for the union, got {type(v).__name__}"
                    )
                for i, enc in encoders:
                    x = v._values[i]
                    if x is not None:
                        return enc(x)
                raise DataError(f"{where}: Cannot find non-null field in the union")

            first = min((n for _, n in members), default=0)
            parts.append((first, index, union))
        else:
            parts.append((number, index, _field_encoder(f.schema, number, where, presence)))
    parts.sort(key=lambda p: p[0])
    return _generated_encoder(schema, path, [(n, i, enc) for n, i, enc in parts], presence)


def _inline_kind(schema: Schema) -> str | None:
    """The scalar kinds whose writing the generated encoder inlines."""
    if (
        schema.name in (DECIMAL_NAME, DATE_NAME, TIME_NAME, TIMESTAMP_NAME)
        or enum_symbols(schema) is not None
    ):
        return None
    if schema.type in (Type.INT8, Type.INT16, Type.INT32, Type.INT64):
        kind = scalar_kind(schema)
        return "int" if kind in ("int32", "int64") else None
    if schema.type is Type.STRING:
        return "string"
    if schema.type is Type.BOOLEAN:
        return "bool"
    return None


def _generated_encoder(
    schema: Schema, path: str, parts: list[tuple[int, int, Encoder]], presence: bool
) -> Encoder:
    """A struct's encoder as generated source: the fields in number order, the common scalars
    written in line, the rest through their encoders. The source holds no names from the
    schema (fields are reached by index), so no schema text is ever evaluated."""
    count = len(schema.fields)
    names = [f.name for f in schema.fields]
    defaults = [f.schema.default for f in schema.fields]
    keys: list[bytes] = []
    encoders: list[Encoder] = []
    lines = [
        "def encode(v):",
        "    if type(v) is not Struct and not isinstance(v, Struct):",
        "        raise DataError(WHERE + ': expected a Struct, got ' + type(v).__name__)",
        "    if v.schema is not S and not v.schema.same_shape(S):",
        "        raise DataError(WHERE + ': Mismatching struct schema')",
        f"    {''.join(f'v{i}, ' for i in range(count))}= v._values",
        "    out = b''",
        "    f = 0",
        "    try:",
    ]
    for slot, (number, index, enc) in enumerate(parts):
        field_schema = schema.fields[index].schema
        present = presence and field_schema.optional  # zeros written too: not in line
        kind = None if is_union(field_schema) or present else _inline_kind(field_schema)
        keys.append(_key(number, _VARINT if kind in ("int", "bool") else _LEN))
        encoders.append(enc)
        value = f"v{index}"
        lines.append(f"        f = {index}")
        if defaults[index] is not None:
            lines.append(f"        if {value} is None: {value} = D[{index}]")
        if kind == "int":
            lines.append(f"        if {value}:")
            lines.append(
                f"            out += K[{slot}] + (SMALL[{value}] if 0 < {value} < 128 "
                f"else varint({value}))"
            )
        elif kind == "string":
            lines.append(f"        if {value}:")
            lines.append(f"            b = {value}.encode()")
            lines.append("            n = len(b)")
            lines.append(f"            out += K[{slot}] + (SMALL[n] if n < 128 else varint(n)) + b")
        elif kind == "bool":
            lines.append(f"        if {value}: out += K[{slot}] + ONE")
        else:
            lines.append(f"        if {value} is not None: out += E[{slot}]({value})")
    lines += [
        "    except DataError:",
        "        raise",
        "    except (TypeError, AttributeError, ValueError, OverflowError, StructError) as e:",
        "        raise DataError(PREFIX + NAMES[f] + ': ' + str(e)) from None",
        "    return out",
    ]
    namespace: dict[str, Any] = {
        "Struct": Struct,
        "DataError": DataError,
        "StructError": _struct.error,
        "S": schema,
        "WHERE": path or "the value",
        "PREFIX": f"{path}." if path else "",
        "NAMES": names,
        "D": defaults,
        "K": keys,
        "E": encoders,
        "SMALL": _SMALL,
        "ONE": b"\x01",
        "varint": _varint,
    }
    exec(compile("\n".join(lines), "<protobuf encoder>", "exec"), namespace)  # noqa: S102
    encode: Encoder = namespace["encode"]
    return encode


def encoder(schema: Schema, presence: bool = False) -> Encoder:
    """The payload encoder of a STRUCT schema's non-null values; with `presence` (Confluent's
    `optional.for.nullables`) an optional field's zero value is written, as proto3 `optional`
    fields are."""
    if schema.type is not Type.STRUCT:
        raise DataError(f"a {schema.type.value} schema is not a Protobuf message")
    return _struct_encoder(schema, "", presence)


def wrapper_encoder(schema: Schema) -> Encoder:
    """The payload encoder of a primitive root's non-null values: its well-known wrapper message
    (`google.protobuf.StringValue`, ...) whose field 1 holds the value, of the wrapper's kind
    (`int32` for INT8/16/32, `int64`, `float`, `double`, `bool`, `string`, `bytes`; the Type
    and Enum parameters do not apply); a zero value is not written (proto3), so `""`, `0` and
    `false` are an empty payload, while -0.0 is written (protobuf-java compares the bits)."""
    if not schema.type.is_primitive:
        raise DataError(f"a {schema.type.value} schema has no wrapper message")
    plain = Schema(schema.type)
    check = plain.checker
    field = _value_encoder(plain, 1, "the value")

    def encode(v: Any) -> bytes:
        check(v, "")
        return field(v)

    return encode


# --- decoding ---------------------------------------------------------------------------------


def _skip(buf: bytes | memoryview, pos: int, wire: int, end: int) -> int:
    if wire == _VARINT:
        return _read_varint(buf, pos)[1]
    if wire == _I64:
        pos += 8
    elif wire == _I32:
        pos += 4
    elif wire == _LEN:
        n, pos = _read_varint(buf, pos)
        pos += n
    else:
        raise DataError(f"unsupported wire type {wire}")
    if pos > end:
        raise DataError("the message ends inside a field")
    return pos


def _zigzag32(n: int) -> int:
    n &= _M32
    return (n >> 1) ^ -(n & 1)


_VARINT_CONVERSIONS: Final[dict[str, Callable[[int], object]]] = {
    "int32": _signed32,
    "int64": _signed64,
    "uint64": _signed64,
    "uint32": lambda n: n & _M32,
    "sint32": _zigzag32,
    "sint64": lambda n: (n >> 1) ^ -(n & 1),
    "bool": lambda n: n != 0,
    "int8": lambda n: ((n + 128) & 0xFF) - 128,
    "int16": lambda n: ((n + 32768) & 0xFFFF) - 32768,
}
"""A varint (as read, unsigned 64-bit) to the Connect value of each kind (Java's truncation
for INT8/INT16, `Integer.toUnsignedLong` for uint32, a negative long for uint64 >= 2^63)."""


def _scalar_reader(
    schema: Schema, kind: str
) -> tuple[int, Callable[[bytes | memoryview, int], tuple[object, int]]]:
    t = schema.type
    if kind in ("int32", "int64", "uint32", "uint64", "sint32", "sint64", "bool") or (
        enum_symbols(schema) is not None
    ):
        symbols = enum_symbols(schema)
        by_number = {n: s for s, n in symbols.items()} if symbols is not None else None

        convert = _VARINT_CONVERSIONS.get(kind if t not in (Type.INT8, Type.INT16) else t.value)
        if by_number is None and convert is not None:

            def plain(buf: bytes | memoryview, pos: int) -> tuple[object, int]:
                if pos < len(buf):
                    first = buf[pos]
                    if first < 0x80:
                        return convert(first), pos + 1
                n, pos = _read_varint(buf, pos)
                return convert(n), pos

            return _VARINT, plain

        def varint(buf: bytes | memoryview, pos: int) -> tuple[object, int]:
            n, pos = _read_varint(buf, pos)
            if by_number is not None:
                n = _signed32(n)
                if t is Type.INT32:
                    return n, pos
                symbol = by_number.get(n)
                if symbol is None:
                    raise DataError(f"enum number {n} is not a value of the enum")
                return symbol, pos
            if kind == "bool":
                return n != 0, pos
            if kind == "sint32":
                n &= _M32
                return (n >> 1) ^ -(n & 1), pos
            if kind == "sint64":
                return (n >> 1) ^ -(n & 1), pos
            if kind == "uint32":
                return n & _M32, pos
            if kind in ("int64", "uint64"):
                return _signed64(n), pos
            n = _signed32(n)
            if t is Type.INT8:
                return ((n + 128) & 0xFF) - 128, pos
            if t is Type.INT16:
                return ((n + 32768) & 0xFFFF) - 32768, pos
            return n, pos

        return _VARINT, varint
    fmt = {"fixed32": "<I", "sfixed32": "<i", "fixed64": "<Q", "sfixed64": "<q"}.get(kind)
    if kind in ("float", "double") or fmt is not None:
        fmt = fmt or ("<f" if kind == "float" else "<d")
        size = _struct.calcsize(fmt)
        unpack = _struct.Struct(fmt).unpack_from

        def fixed(buf: bytes | memoryview, pos: int) -> tuple[object, int]:
            if pos + size > len(buf):
                raise DataError("the message ends inside a fixed-size field")
            (x,) = unpack(buf, pos)
            if kind == "fixed64":
                x = _signed64(x)
            return x, pos + size

        return (_I32 if size == 4 else _I64), fixed

    text = kind == "string"

    def length(buf: bytes | memoryview, pos: int) -> tuple[object, int]:
        n = buf[pos] if pos < len(buf) else 0x80
        if n < 0x80:
            pos += 1
        else:
            n, pos = _read_varint(buf, pos)
        stop = pos + n
        if stop > len(buf):
            raise DataError("the message ends inside a string or bytes field")
        if text:
            try:
                return str(buf[pos:stop], "utf-8"), stop
            except UnicodeDecodeError:
                raise DataError("a string field is not UTF-8") from None
        return bytes(buf[pos:stop]), stop

    return _LEN, length


def _zero(schema: Schema, presence: bool = False) -> object:
    """What an absent field reads as (Confluent: the proto3 default; with `presence`, null for
    an optional scalar, a proto3 `optional` field)."""
    if schema.type in (Type.ARRAY,):
        return []
    if schema.type is Type.MAP:
        return {}
    if schema.type is Type.STRUCT or schema.name in (
        DECIMAL_NAME,
        DATE_NAME,
        TIME_NAME,
        TIMESTAMP_NAME,
    ):
        return None
    symbols = enum_symbols(schema)
    if presence and schema.optional and symbols is None:
        return None
    if symbols is not None and schema.type is Type.STRING:
        return next((s for s, n in symbols.items() if n == 0), next(iter(symbols), ""))
    return {
        Type.INT8: 0,
        Type.INT16: 0,
        Type.INT32: 0,
        Type.INT64: 0,
        Type.FLOAT32: 0.0,
        Type.FLOAT64: 0.0,
        Type.BOOLEAN: False,
        Type.STRING: "",
        Type.BYTES: b"",
    }[schema.type]


def wrapper_decoder(schema: Schema) -> Decoder:
    """The payload decoder of a wrapper message at the root (`google.protobuf.StringValue`,
    ...) read as its primitive `schema` (field 1 of the schema's scalar kind; the last one wins,
    other fields are skipped, an absent one reads as the kind's zero)."""
    if not schema.type.is_primitive:
        raise DataError(f"a {schema.type.value} schema is not a wrapper message's value")
    wire, read = _scalar_reader(schema, scalar_kind(schema))
    key = (1 << 3) | wire
    zero = _zero(schema)

    def decode(buf: bytes | memoryview, pos: int) -> object:
        value = zero
        end = len(buf)
        while pos < end:
            tag, pos = _read_varint(buf, pos)
            if tag == key:
                value, pos = read(buf, pos)
                continue
            number, found = tag >> 3, tag & 7
            if number == 1:
                raise DataError(f"field value (number 1) has wire type {found}, not {wire}")
            if number == 0:
                raise DataError("the payload has a field number 0, which protobuf does not allow")
            pos = _skip(buf, pos, found, end)
        return value

    return decode


def _message_decoder(schema: Schema, path: str, presence: bool = False) -> Decoder | None:
    """Decoder of a message body (buf, pos, end packed as buf[:end] view) for message types."""
    name = schema.name
    if name in (DECIMAL_NAME, DATE_NAME, TIME_NAME, TIMESTAMP_NAME):
        return _logical_decoder(schema)
    if schema.type is Type.STRUCT:
        return _struct_decoder(schema, path, presence)
    return None


def _fields_of(buf: bytes | memoryview) -> dict[int, int | bytes]:
    """Numbers to values (varints, or bytes of length-delimited fields) of a small message."""
    out: dict[int, int | bytes] = {}
    pos, end = 0, len(buf)
    while pos < end:
        key, pos = _read_varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == _VARINT:
            out[number], pos = _read_varint(buf, pos)
        elif wire == _LEN:
            n, pos = _read_varint(buf, pos)
            if pos + n > end:
                raise DataError("the message ends inside a field")
            out[number] = bytes(buf[pos : pos + n])
            pos += n
        else:
            pos = _skip(buf, pos, wire, end)
    return out


def _logical_decoder(schema: Schema) -> Decoder:
    name = schema.name

    def decode(buf: bytes | memoryview, pos: int) -> object:
        f = _fields_of(buf[pos:])
        if name == DECIMAL_NAME:
            raw = f.get(1, b"")
            unscaled = int.from_bytes(raw, "big", signed=True) if isinstance(raw, bytes) else 0
            scale = _signed32(int(f.get(3, 0)))
            precision = int(f.get(2, 0))
            value = decimal.Decimal(f"{unscaled}E{-scale}")  # exact, whatever its length
            if precision:
                value = decimal.Context(prec=precision).create_decimal(value)
            return value
        if name == DATE_NAME:
            year, month, day = (_signed32(int(f.get(n, 0))) for n in (1, 2, 3))
            if not (1 <= month <= 12 and 1 <= day <= 31):
                raise DataError(f"google.type.Date {year}-{month}-{day} is not a date")
            return Date.to_logical(schema, _java_date_days(year, month, day))
        if name == TIME_NAME:
            h, m, s, nanos = (_signed32(int(f.get(n, 0))) for n in (1, 2, 3, 4))
            if not (0 <= h < 24 and 0 <= m < 60 and 0 <= s < 60 and 0 <= nanos < 10**9):
                raise DataError(f"google.type.TimeOfDay {h}:{m}:{s}.{nanos} is not a time")
            return Time.to_logical(schema, ((h * 60 + m) * 60 + s) * 1000 + nanos // 1_000_000)
        seconds = _signed64(int(f.get(1, 0)))
        nanos = _signed32(int(f.get(2, 0)))
        return Timestamp.to_logical(schema, seconds * 1000 + nanos // 1_000_000)

    return decode


def _element_reader(
    schema: Schema, path: str, presence: bool = False
) -> tuple[int, Callable[[bytes | memoryview, int], tuple[object, int]]]:
    """(wire type, read one value at pos -> (value, next pos)) for a non-repeated value."""
    message = _message_decoder(schema, path, presence)
    if message is not None:

        def read(buf: bytes | memoryview, pos: int) -> tuple[object, int]:
            n, pos = _read_varint(buf, pos)
            if pos + n > len(buf):
                raise DataError(f"{path}: the message ends inside a nested message")
            return message(buf[: pos + n], pos), pos + n

        return _LEN, read
    return _scalar_reader(schema, scalar_kind(schema))


def _struct_decoder(schema: Schema, path: str, presence: bool = False) -> Decoder:
    # number -> (field index, kind, reader); kinds: 0 single, 1 list, 2 map, 3 union member
    table: dict[int, tuple[int, int, int, Callable[..., tuple[Any, int]], Any]] = {}
    zeros: list[object] = []
    for index, number in numbered_fields(schema):
        f = schema.fields[index]
        where = f"{path}.{f.name}" if path else f.name
        fs = f.schema
        zeros.append(None if number is None else _zero(fs, presence))
        if number is None:
            for i, n in union_members(fs, where):
                member = fs.fields[i].schema
                wire, read = _element_reader(member, f"{where}.{fs.fields[i].name}", presence)
                table[n] = (index, 3, wire, read, (fs, i))
        elif fs.type is Type.ARRAY:
            element = fs.value_schema
            assert element is not None
            if element.type is Type.MAP:
                table[number] = (index, 2, _LEN, _entry_reader(element, where, presence), None)
            else:
                wire, read = _element_reader(element, where + "[]", presence)
                table[number] = (index, 1, wire, read, None)
        elif fs.type is Type.MAP:
            table[number] = (index, 2, _LEN, _entry_reader(fs, where, presence), None)
        else:
            wire, read = _element_reader(fs, where, presence)
            table[number] = (index, 0, wire, read, None)

    # Single (not repeated, not union) fields by their whole key: one lookup per field read.
    single = {
        (number << 3) | expected: (index, read)
        for number, (index, kind, expected, read, _) in table.items()
        if kind == 0
    }

    def decode(buf: bytes | memoryview, pos: int) -> object:
        values: list[Any] = list(zeros)
        fresh = [True] * len(values)
        end = len(buf)
        while pos < end:
            key = buf[pos]
            if key < 0x80:
                pos += 1
            else:
                key, pos = _read_varint(buf, pos)
            hit = single.get(key)
            if hit is not None:
                values[hit[0]], pos = hit[1](buf, pos)
                continue
            number, wire = key >> 3, key & 7
            entry = table.get(number)
            if entry is None:
                pos = _skip(buf, pos, wire, end)
                continue
            index, kind, expected, read, extra = entry
            if kind == 1:
                if fresh[index]:
                    values[index] = []
                    fresh[index] = False
                if wire == _LEN and expected != _LEN:  # packed
                    n, pos = _read_varint(buf, pos)
                    stop = pos + n
                    if stop > end:
                        raise DataError(f"{path}: the message ends inside a packed field")
                    view = buf[:stop]
                    while pos < stop:
                        x, pos = read(view, pos)
                        values[index].append(x)
                    continue
            if wire != expected:
                name = schema.fields[index].name
                raise DataError(
                    f"field {path + '.' if path else ''}{name} (number {number}) has wire type "
                    f"{wire}, not {expected}"
                )
            x, pos = read(buf, pos)
            if kind == 0:
                values[index] = x
            elif kind == 1:
                values[index].append(x)
            elif kind == 2:
                if fresh[index]:
                    values[index] = {}
                    fresh[index] = False
                k, v = x
                values[index][k] = v
            else:
                union_schema, member = extra
                members: list[object] = [None] * len(union_schema.fields)
                members[member] = x
                values[index] = Struct._trusted(union_schema, members)
        return Struct._trusted(schema, values)

    return decode


def _entry_reader(
    schema: Schema, path: str, presence: bool = False
) -> Callable[[bytes | memoryview, int], tuple[object, int]]:
    key_schema, value_schema = schema.key_schema, schema.value_schema
    assert key_schema is not None
    assert value_schema is not None
    key_read = _element_reader(key_schema, path + ".key", presence)
    value_read = _element_reader(value_schema, path + ".value", presence)
    value_message = _message_decoder(value_schema, path + ".value", presence)
    key_message = _message_decoder(key_schema, path + ".key", presence)

    def read(buf: bytes | memoryview, pos: int) -> tuple[object, int]:
        n, pos = _read_varint(buf, pos)
        stop = pos + n
        if stop > len(buf):
            raise DataError(f"{path}: the message ends inside a map entry")
        view = buf[:stop]
        k: object = _MISSING
        v: Any = _MISSING
        p = pos
        while p < stop:
            key, p = _read_varint(view, p)
            number, wire = key >> 3, key & 7
            if number == 1 and wire == key_read[0]:
                k, p = key_read[1](view, p)
            elif number == 2 and wire == value_read[0]:
                v, p = value_read[1](view, p)
            else:
                p = _skip(view, p, wire, stop)
        if k is _MISSING:
            k = key_message(b"", 0) if key_message is not None else _zero(key_schema, presence)
        if v is _MISSING:
            v = (
                value_message(b"", 0)
                if value_message is not None
                else _zero(value_schema, presence)
            )
        return (k, v), stop

    return read


_MISSING: Final = object()


def decoder(schema: Schema, presence: bool = False) -> Decoder:
    """`decode(buf, pos)`: the Struct of the message that fills `buf` from `pos`; with
    `presence` (`optional.for.nullables`) an absent optional scalar reads as null."""
    if schema.type is not Type.STRUCT:
        raise DataError(f"a {schema.type.value} schema is not a Protobuf message")
    inner = _struct_decoder(schema, "", presence)

    def decode(buf: bytes | memoryview, pos: int) -> object:
        if isinstance(buf, memoryview):  # indexing bytes is cheaper than a view
            buf = bytes(buf[pos:])
            pos = 0
        try:
            return inner(buf, pos)
        except DataError:
            raise
        except (ValueError, OverflowError, IndexError, TypeError) as e:
            raise DataError(f"the payload is not Protobuf of the writer's schema: {e}") from None

    return decode
