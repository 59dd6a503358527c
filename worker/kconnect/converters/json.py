"""JSON converter, byte-for-byte compatible with Apache Kafka's `JsonConverter`.

With `schemas.enable=true` (the default) a record is the envelope
`{"schema":<schema>,"payload":<value>}`; without, just the value. The bytes are those Kafka's
JsonConverter (Jackson) writes for the same schema and value:

- schema objects list `type`, then `items` / `keys`+`values` / `fields`, then `optional`,
  `name`, `version`, `doc`, `parameters`, `default` (the order `asJsonSchema` builds them in);
  a struct field's entry is its schema object with `field` appended last;
- compact separators; UTF-8 text with only `"`, `\\` and control characters escaped (`\\b`
  `\\t` `\\n` `\\f` `\\r`, else `\\u00XX` in upper-case hex);
- FLOAT64 as Java's `Double.toString`, FLOAT32 as `Float.toString` (`1.0E10`, `0.1`), and the
  non-finite values as the strings `"NaN"`, `"Infinity"`, `"-Infinity"`;
- BYTES as base64; Decimal as base64 of the two's-complement unscaled value, or a JSON number
  with `decimal.format=NUMERIC`; Date/Time/Timestamp as their integers;
- maps with STRING keys as objects, other maps as arrays of `[key, value]` pairs;
- a null value becomes the schema's default (`replace.null.with.default=true`), else `null`
  if the schema is optional, else it is an error.

Reading is the inverse: the schema is rebuilt from the envelope (logical types included) and the
payload checked against it. It is stricter than Java where Java silently coerces: a string where
an int is expected, or an int out of its type's range, is a `DataError` rather than 0 or a
truncated number. It also reads back the `"NaN"`/`"Infinity"` strings it writes for floats.

Speed: each schema is compiled once into a chain of closures that turn a value straight into
JSON text (and one that turns parsed JSON into Connect values), kept in an LRU cache bounded by
`schemas.cache.size`; the envelope's schema text is part of that cache. On read, when a record's
envelope starts with the same schema text as the previous one, the schema is not parsed again,
and the payload is parsed by msgspec's JSON decoder (falling back to the `json` module for
what it declines, see `_quick_parse`).
"""

from __future__ import annotations

import binascii
import json
import math
from collections import OrderedDict
from collections.abc import Callable, Mapping
from decimal import Decimal as _PyDecimal
from json.encoder import encode_basestring as _c_encode_basestring
from typing import TYPE_CHECKING, Final

import msgspec

from kconnect.api.converter import Converter, HeaderConverter
from kconnect.converters._config import (
    JsonConverterConfig,
    get_bool,
    get_choice,
    get_converter_type,
    get_int,
)
from kconnect.data._javatext import (
    ESCAPE_FIX,
    jackson_str,
    java_double_str,
    java_float_str,
    to_float32,
    upper_escape,
)
from kconnect.data.logical import Date, Decimal, Time, Timestamp
from kconnect.data.schema import (
    DATE_NAME,
    DECIMAL_NAME,
    INT_RANGES,
    TIME_NAME,
    TIMESTAMP_NAME,
    Schema,
    SchemaAndValue,
    SchemaBuilder,
    Struct,
    Type,
)
from kconnect.errors import DataError, FieldPathError

if TYPE_CHECKING:
    from kconnect.api.records import Headers

SCHEMAS_ENABLE_CONFIG: Final = "schemas.enable"
SCHEMAS_CACHE_SIZE_CONFIG: Final = "schemas.cache.size"
DECIMAL_FORMAT_CONFIG: Final = "decimal.format"
REPLACE_NULL_WITH_DEFAULT_CONFIG: Final = "replace.null.with.default"

Encoder = Callable[[object], str]
Decoder = Callable[[object], object]

_JSON_TYPE_NAMES: Final = {
    Type.BOOLEAN: "boolean",
    Type.INT8: "int8",
    Type.INT16: "int16",
    Type.INT32: "int32",
    Type.INT64: "int64",
    Type.FLOAT32: "float",
    Type.FLOAT64: "double",
    Type.BYTES: "bytes",
    Type.STRING: "string",
    Type.ARRAY: "array",
    Type.MAP: "map",
    Type.STRUCT: "struct",
}
_TYPES_BY_JSON_NAME: Final = {v: k for k, v in _JSON_TYPE_NAMES.items()}

_ENVELOPE_MSG: Final = (
    'JsonConverter with schemas.enable requires "schema" and "payload" fields and may not contain '
    "additional fields. If you are trying to deserialize plain JSON data, set schemas.enable=false "
    "in your converter configuration."
)
_LOGICAL_NAMES: Final = frozenset({DECIMAL_NAME, DATE_NAME, TIME_NAME, TIMESTAMP_NAME})
_SCHEMA_PREFIX: Final = '{"schema":'
_PAYLOAD_MARK: Final = ',"payload":'


# --- JSON text as Jackson writes it ---------------------------------------------------------

_ESCAPE_FIX = ESCAPE_FIX
_upper_escape = upper_escape
json_str = jackson_str


def json_double(v: float) -> str:
    r = repr(v)
    if "e" not in r and 1e-3 <= abs(v) < 1e7:
        return r
    if math.isfinite(v):
        return java_double_str(v)
    return '"' + java_double_str(v) + '"'


def json_float(v: float) -> str:
    try:
        text = java_float_str(v)
    except OverflowError:
        raise DataError(f"value {v!r} is out of the range of a FLOAT32") from None
    return text if text[-1].isdigit() else '"' + text + '"'


def _b64(v: bytes | bytearray | memoryview) -> str:
    return '"' + binascii.b2a_base64(v, newline=False).decode("ascii") + '"'


# --- errors that carry the path of the field they happened in --------------------------------


_PathError = FieldPathError


def _bad_value(schema: Schema | None, v: object) -> _PathError:
    what = "unknown schema" if schema is None else schema.type.name
    if schema is not None and schema.name:
        what += f" ({schema.name})"
    r = repr(v)
    if len(r) > 80:
        r = r[:77] + "..."
    return _PathError(f"Invalid type for {what}: {type(v).__name__} (value {r})")


def _null_required(schema: Schema) -> _PathError:
    return _PathError(
        f"Conversion error: null value for field that is required and has no default value "
        f"(schema {schema.type.name})"
    )


# --- encoding: Connect value -> JSON text ---------------------------------------------------


class _Options:
    """How values are written. `confluent_json` selects the forms of Confluent's JSON Schema
    converter: a map that cannot be a JSON object (keys not a required STRING) is an array of
    `{"key":k,"value":v}` objects, where JsonConverter writes `[k,v]` pairs (and objects for any
    STRING keys); and a union struct (`ONE_OF_NAME`) is the value of its one set field."""

    __slots__ = ("confluent_json", "numeric_decimals", "replace_null")

    def __init__(
        self, numeric_decimals: bool, replace_null: bool, confluent_json: bool = False
    ) -> None:
        self.numeric_decimals = numeric_decimals
        self.replace_null = replace_null
        self.confluent_json = confluent_json


Options = _Options
ONE_OF_NAME: Final = "io.confluent.connect.json.OneOf"
PathError = _PathError


def _null_text(schema: Schema, enc: Encoder, opts: _Options) -> str | None:
    """What a null becomes for `schema`: the default's JSON, `null`, or None for an error."""
    if schema.default is not None and opts.replace_null:
        return enc(schema.default)
    if schema.optional:
        return "null"
    return None


def _with_nulls(schema: Schema, enc: Encoder, opts: _Options) -> Encoder:
    null = _null_text(schema, enc, opts)

    def encode(v: object) -> str:
        if v is None:
            if null is None:
                raise _null_required(schema)
            return null
        return enc(v)

    return encode


def compile_encoder(schema: Schema, opts: _Options) -> Encoder:
    """The encoder of non-null values of `schema`."""
    return _compile_nonnull(schema, opts)


def _compile_nonnull(schema: Schema, opts: _Options) -> Encoder:
    t = schema.type
    name = schema.name
    if name is not None:
        if name == DECIMAL_NAME and t is Type.BYTES:
            if opts.numeric_decimals:

                def enc_decimal_numeric(v: object) -> str:
                    if type(v) is not _PyDecimal or not v.is_finite():
                        raise _bad_value(schema, v)
                    return str(v)

                return enc_decimal_numeric

            def enc_decimal(v: object) -> str:
                if not isinstance(v, _PyDecimal):
                    raise _bad_value(schema, v)
                return _b64(Decimal.from_logical(schema, v))

            return enc_decimal
        if name == DATE_NAME and t is Type.INT32:
            return lambda v: str(Date.from_logical(schema, v))  # type: ignore[arg-type]
        if name == TIME_NAME and t is Type.INT32:
            return lambda v: str(Time.from_logical(schema, v))  # type: ignore[arg-type]
        if name == TIMESTAMP_NAME and t is Type.INT64:
            return lambda v: str(Timestamp.from_logical(schema, v))  # type: ignore[arg-type]
    if t in INT_RANGES:
        lo, hi = INT_RANGES[t]

        def enc_int(v: object) -> str:
            if type(v) is int and lo <= v <= hi:
                return int.__repr__(v)
            if isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi:
                return int.__repr__(int(v))
            raise _bad_value(schema, v)

        return enc_int
    if t is Type.STRING:

        def enc_str(v: object) -> str:
            if type(v) is str or isinstance(v, str):
                out: str = _c_encode_basestring(v)
                if "\\u" in out:
                    out = _ESCAPE_FIX.sub(_upper_escape, out)
                return out
            raise _bad_value(schema, v)

        return enc_str
    if t is Type.BOOLEAN:

        def enc_bool(v: object) -> str:
            if v is True:
                return "true"
            if v is False:
                return "false"
            raise _bad_value(schema, v)

        return enc_bool
    if t is Type.FLOAT64:

        def enc_double(v: object) -> str:
            if type(v) is float:
                return json_double(v)
            if isinstance(v, int | float) and not isinstance(v, bool):
                return json_double(float(v))
            raise _bad_value(schema, v)

        return enc_double
    if t is Type.FLOAT32:

        def enc_float(v: object) -> str:
            if isinstance(v, int | float) and not isinstance(v, bool):
                return json_float(float(v))
            raise _bad_value(schema, v)

        return enc_float
    if t is Type.BYTES:

        def enc_bytes(v: object) -> str:
            if isinstance(v, bytes | bytearray | memoryview):
                return _b64(v)
            raise _bad_value(schema, v)

        return enc_bytes
    if t is Type.ARRAY:
        assert schema.value_schema is not None
        item = _with_nulls(schema.value_schema, _compile_nonnull(schema.value_schema, opts), opts)

        def enc_array(v: object) -> str:
            if not isinstance(v, list | tuple):
                raise _bad_value(schema, v)
            return "[" + ",".join([item(x) for x in v]) + "]"

        return enc_array
    if t is Type.MAP:
        ks, vs = schema.key_schema, schema.value_schema
        assert ks is not None
        assert vs is not None
        kenc = _compile_nonnull(ks, opts)
        key = _with_nulls(ks, kenc, opts)
        val = _with_nulls(vs, _compile_nonnull(vs, opts), opts)
        if opts.confluent_json and (ks.type is not Type.STRING or ks.optional):

            def enc_confluent_json(v: object) -> str:
                if not isinstance(v, Mapping):
                    raise _bad_value(schema, v)
                return (
                    "["
                    + ",".join(
                        ['{"key":' + key(k) + ',"value":' + val(x) + "}" for k, x in v.items()]
                    )
                    + "]"
                )

            return enc_confluent_json
        if ks.type is Type.STRING:
            # Jackson takes the key node's text: a null key becomes the string "null".
            knull = _null_text(ks, kenc, opts)
            knull_key = '"null"' if knull == "null" else knull

            def enc_key(k: object) -> str:
                if k is None:
                    if knull_key is None:
                        raise _null_required(ks)
                    return knull_key
                return kenc(k)

            def enc_map_obj(v: object) -> str:
                if not isinstance(v, Mapping):
                    raise _bad_value(schema, v)
                return "{" + ",".join([enc_key(k) + ":" + val(x) for k, x in v.items()]) + "}"

            return enc_map_obj

        def enc_map_pairs(v: object) -> str:
            if not isinstance(v, Mapping):
                raise _bad_value(schema, v)
            return "[" + ",".join(["[" + key(k) + "," + val(x) + "]" for k, x in v.items()]) + "]"

        return enc_map_pairs
    if opts.confluent_json and schema.name == ONE_OF_NAME:
        return _compile_one_of(schema, opts)
    return _compile_struct(schema, opts)


def _compile_one_of(schema: Schema, opts: _Options) -> Encoder:
    """Confluent's JSON union: a struct of optional fields, one per branch, written as the value
    of its first set field (as JsonSchemaData writes it)."""
    fields = schema.fields
    encs = tuple(_compile_nonnull(f.schema, opts) for f in fields)

    def enc_one_of(v: object) -> str:
        if not isinstance(v, Struct):
            raise _bad_value(schema, v)
        for i, x in enumerate(v._values):
            if x is not None:
                try:
                    return encs[i](x)
                except _PathError as e:
                    raise e.at(fields[i].name) from None
        if schema.default is not None and opts.replace_null and schema.default is not v:
            return enc_one_of(schema.default)
        if schema.optional:
            return "null"
        raise _null_required(schema)

    return enc_one_of


def _compile_struct(schema: Schema, opts: _Options) -> Encoder:
    """A STRUCT encoder generated for `schema`: straight-line code that writes STRING, BOOLEAN and
    integer fields inline and hands every other field, and every null, to its own encoder (which
    also names the field in errors). Writing a struct is the per-record work of every
    JsonConverter source, so no call is spent on a field that needs none."""
    fields = schema.fields
    names = tuple(f.name for f in fields)
    encs = tuple(_compile_nonnull(f.schema, opts) for f in fields)
    nulls = tuple(_null_text(f.schema, e, opts) for f, e in zip(fields, encs, strict=True))

    def full(i: int, x: object) -> str:
        if x is None:
            null = nulls[i]
            if null is None:
                raise _null_required(fields[i].schema).at(names[i])
            return null
        try:
            return encs[i](x)
        except _PathError as e:
            raise e.at(names[i]) from None

    def not_a_struct(v: object) -> _PathError:
        return _bad_value(schema, v)

    def mismatch(vs: Schema) -> _PathError:
        return _PathError(f"Mismatching schema: the struct's is {vs!r}, expected {schema!r}")

    lines = [
        "def enc_struct(v):",
        "    if not isinstance(v, Struct):",
        "        raise not_a_struct(v)",
        "    vs = v.schema",
        "    if vs is not schema and not vs.same_shape(schema):",
        "        raise mismatch(vs)",
    ]
    if not fields:
        lines.append("    return '{}'")
    else:
        lines.append(f"    {''.join(f'v{i}, ' for i in range(len(fields)))}= v._values")
    parts: list[str] = []
    for i, f in enumerate(fields):
        var = f"v{i}"
        kind = f.schema.type if f.schema.name not in _LOGICAL_NAMES else None
        if kind is Type.STRING:
            lines += [
                f"    if type({var}) is str:",
                f"        {var} = escape({var})",
                f"        if BACKSLASH_U in {var}:",
                f"            {var} = upper_escapes({var})",
                "    else:",
                f"        {var} = full({i}, {var})",
            ]
        elif kind is Type.BOOLEAN:
            lines.append(
                f"    {var} = 'true' if {var} is True else 'false' if {var} is False "
                f"else full({i}, {var})"
            )
        elif kind in INT_RANGES:
            lo, hi = INT_RANGES[kind]
            lines.append(
                f"    {var} = int_repr({var}) if type({var}) is int and {lo} <= {var} <= {hi} "
                f"else full({i}, {var})"
            )
        else:
            # Non-null values go straight to the field's encoder (a nested struct's, say): no
            # call through `full`, which is left the nulls.
            lines += [
                f"    if {var} is None:",
                f"        {var} = full({i}, None)",
                "    else:",
                "        try:",
                f"            {var} = encs[{i}]({var})",
                "        except PathError as e:",
                f"            raise e.at(names[{i}]) from None",
            ]
        key = ("{" if i == 0 else ",") + json_str(f.name) + ":"
        parts += [repr(key), var]
    if fields:
        lines.append(f"    return ''.join(({', '.join(parts)}, '}}'))")
    namespace: dict[str, object] = {
        "Struct": Struct,
        "schema": schema,
        "full": full,
        "encs": encs,
        "names": names,
        "PathError": _PathError,
        "not_a_struct": not_a_struct,
        "mismatch": mismatch,
        "escape": _c_encode_basestring,
        "BACKSLASH_U": "\\u",
        "upper_escapes": lambda out: _ESCAPE_FIX.sub(_upper_escape, out),
        "int_repr": int.__repr__,
    }
    # The source is built above; field names enter it only through repr() of json_str().
    code = compile("\n".join(lines), f"<JsonConverter struct {schema.name or ''}>", "exec")
    exec(code, namespace)  # noqa: S102
    encoder = namespace["enc_struct"]
    assert callable(encoder)
    return encoder


def _encode_schemaless(v: object, opts: _Options) -> str:
    """A value without a schema: its JSON type follows its Python type.

    It runs per record over nested values: the common types are tested by identity first, and a
    container writes its string members without a call.
    """
    if type(v) is str:
        return json_str(v)
    if type(v) is dict:
        enc = _encode_schemaless
        try:
            # json_str raises TypeError for a key that is not a string.
            return (
                "{"
                + ",".join(
                    [
                        json_str(k) + ":" + (json_str(x) if type(x) is str else enc(x, opts))
                        for k, x in v.items()
                    ]
                )
                + "}"
            )
        except TypeError:
            if all(isinstance(k, str) for k in v):
                raise
            return _encode_pairs(v, opts)
    if type(v) is list:
        enc = _encode_schemaless
        return "[" + ",".join([json_str(x) if type(x) is str else enc(x, opts) for x in v]) + "]"
    if type(v) is int:
        return int.__repr__(v)
    if type(v) is float:
        return json_double(v)
    return _encode_schemaless_other(v, opts)


def _encode_pairs(v: Mapping[object, object], opts: _Options) -> str:
    """A map with a key that is not a string: an array of `[key, value]` pairs, as Java writes."""
    return (
        "["
        + ",".join(
            [
                "[" + _encode_schemaless(k, opts) + "," + _encode_schemaless(x, opts) + "]"
                for k, x in v.items()
            ]
        )
        + "]"
    )


def _encode_schemaless_other(v: object, opts: _Options) -> str:
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, str):
        return json_str(v)
    if isinstance(v, int):
        return int.__repr__(int(v))
    if isinstance(v, float):
        return json_double(v)
    if isinstance(v, bytes | bytearray | memoryview):
        return _b64(v)
    if isinstance(v, list | tuple):
        return "[" + ",".join([_encode_schemaless(x, opts) for x in v]) + "]"
    if isinstance(v, Mapping):
        if all(isinstance(k, str) for k in v):
            return (
                "{"
                + ",".join([json_str(k) + ":" + _encode_schemaless(x, opts) for k, x in v.items()])
                + "}"
            )
        return _encode_pairs(v, opts)
    if isinstance(v, Struct):
        # Java fails here ("Mismatching schema"); the struct carries its schema, so use it.
        return _compile_nonnull(v.schema, opts)(v)
    if isinstance(v, _PyDecimal) and v.is_finite():
        return str(v)
    raise _PathError(
        f"Python type {type(v).__name__} does not have a corresponding schema type; "
        "give the value a schema"
    )


def schema_to_json(schema: Schema, opts: _Options) -> str:
    """The schema object as JsonConverter.asJsonSchema writes it."""
    t = schema.type
    parts = ['"type":"' + _JSON_TYPE_NAMES[t] + '"']
    if t is Type.ARRAY:
        assert schema.value_schema is not None
        parts.append('"items":' + schema_to_json(schema.value_schema, opts))
    elif t is Type.MAP:
        assert schema.key_schema is not None
        assert schema.value_schema is not None
        parts.append('"keys":' + schema_to_json(schema.key_schema, opts))
        parts.append('"values":' + schema_to_json(schema.value_schema, opts))
    elif t is Type.STRUCT:
        parts.append(
            '"fields":['
            + ",".join(
                schema_to_json(f.schema, opts)[:-1] + ',"field":' + json_str(f.name) + "}"
                for f in schema.fields
            )
            + "]"
        )
    parts.append('"optional":' + ("true" if schema.optional else "false"))
    if schema.name is not None:
        parts.append('"name":' + json_str(schema.name))
    if schema.version is not None:
        parts.append('"version":' + str(schema.version))
    if schema.doc is not None:
        parts.append('"doc":' + json_str(schema.doc))
    if schema.parameters is not None:
        parts.append(
            '"parameters":{'
            + ",".join(json_str(k) + ":" + json_str(v) for k, v in schema.parameters.items())
            + "}"
        )
    if schema.default is not None:
        parts.append('"default":' + _compile_nonnull(schema, opts)(schema.default))
    return "{" + ",".join(parts) + "}"


# --- decoding: parsed JSON -> Connect value --------------------------------------------------


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not valid JSON")


_PLAIN = json.JSONDecoder(parse_constant=_reject_constant)
_EXACT = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_PyDecimal)
_NON_FINITE: Final = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def _json_kind(x: object) -> str:
    if x is None:
        return "NULL"
    if isinstance(x, bool):
        return "BOOLEAN"
    if isinstance(x, int | float | _PyDecimal):
        return "NUMBER"
    if isinstance(x, str):
        return "STRING"
    if isinstance(x, list):
        return "ARRAY"
    return "OBJECT"


def _bad_json(schema: Schema, x: object, expected: str) -> _PathError:
    r = repr(x)
    if len(r) > 80:
        r = r[:77] + "..."
    what = schema.type.name + (f" ({schema.name})" if schema.name else "")
    return _PathError(f"Invalid JSON {_json_kind(x)} {r} for {what}: expected {expected}")


def _decoder_with_nulls(schema: Schema, dec: Decoder, opts: _Options) -> Decoder:
    default = schema.default
    use_default = default is not None and opts.replace_null
    optional = schema.optional

    def decode(x: object) -> object:
        if x is None:
            if use_default:
                return default
            if optional:
                return None
            raise _PathError(f"Invalid null value for required {schema.type.name} field")
        return dec(x)

    return decode


def compile_decoder(schema: Schema, opts: _Options) -> Decoder:
    return _decoder_with_nulls(schema, _compile_dec(schema, opts), opts)


def _to_float(schema: Schema, x: object) -> float:
    if type(x) is float:
        return x
    if isinstance(x, int | _PyDecimal) and not isinstance(x, bool):
        return float(x)
    if isinstance(x, str) and x in _NON_FINITE:
        return _NON_FINITE[x]
    raise _bad_json(schema, x, "a number")


def _compile_dec(schema: Schema, opts: _Options) -> Decoder:
    t = schema.type
    name = schema.name
    if name is not None:
        if name == DECIMAL_NAME and t is Type.BYTES:

            def dec_decimal(x: object) -> object:
                if isinstance(x, _PyDecimal):
                    return x
                if isinstance(x, int) and not isinstance(x, bool):
                    return _PyDecimal(x)
                if isinstance(x, float):
                    return _PyDecimal(repr(x))
                if isinstance(x, str):
                    try:
                        raw = binascii.a2b_base64(x, strict_mode=True)
                    except (binascii.Error, ValueError):
                        raise _PathError(f"Invalid bytes for Decimal field: {x!r}") from None
                    return Decimal.to_logical(schema, raw)
                raise _bad_json(schema, x, "a number or base64 bytes")

            return dec_decimal
        if name == DATE_NAME and t is Type.INT32:

            def dec_date(x: object) -> object:
                if type(x) is not int or not -(2**31) <= x < 2**31:
                    raise _bad_json(schema, x, "an int32 number of days")
                return Date.to_logical(schema, x)

            return dec_date
        if name == TIME_NAME and t is Type.INT32:

            def dec_time(x: object) -> object:
                if type(x) is not int:
                    raise _bad_json(schema, x, "an int32 number of milliseconds")
                return Time.to_logical(schema, x)

            return dec_time
        if name == TIMESTAMP_NAME and t is Type.INT64:

            def dec_ts(x: object) -> object:
                if type(x) is not int or not -(2**63) <= x < 2**63:
                    raise _bad_json(schema, x, "an int64 number of milliseconds")
                return Timestamp.to_logical(schema, x)

            return dec_ts
    if t in INT_RANGES:
        lo, hi = INT_RANGES[t]

        def dec_int(x: object) -> object:
            if type(x) is int and lo <= x <= hi:
                return x
            raise _bad_json(schema, x, f"an integer in [{lo}, {hi}]")

        return dec_int
    if t is Type.STRING:

        def dec_str(x: object) -> object:
            if type(x) is str:
                return x
            raise _bad_json(schema, x, "a string")

        return dec_str
    if t is Type.BOOLEAN:

        def dec_bool(x: object) -> object:
            if type(x) is bool:
                return x
            raise _bad_json(schema, x, "true or false")

        return dec_bool
    if t is Type.FLOAT64:
        return lambda x: _to_float(schema, x)
    if t is Type.FLOAT32:

        def dec_float(x: object) -> object:
            # The decimal as written (0.1 reads as 0.1, not as 0.10000000149011612): writing it
            # again gives the same text. Past FLOAT32's range it is infinite, as Java's (float).
            f = _to_float(schema, x)
            try:
                to_float32(f)
            except OverflowError:
                return math.copysign(math.inf, f)
            return f

        return dec_float
    if t is Type.BYTES:

        def dec_bytes(x: object) -> object:
            if type(x) is not str:
                raise _bad_json(schema, x, "a base64 string")
            try:
                return binascii.a2b_base64(x, strict_mode=True)
            except (binascii.Error, ValueError):
                raise _PathError(f"Invalid bytes field: {x[:40]!r} is not base64") from None

        return dec_bytes
    if t is Type.ARRAY:
        assert schema.value_schema is not None
        item = compile_decoder(schema.value_schema, opts)

        def dec_array(x: object) -> object:
            if type(x) is not list:
                raise _bad_json(schema, x, "an array")
            return [item(e) for e in x]

        return dec_array
    if t is Type.MAP:
        ks, vs = schema.key_schema, schema.value_schema
        assert ks is not None
        assert vs is not None
        kdec = compile_decoder(ks, opts)
        vdec = compile_decoder(vs, opts)
        if opts.confluent_json and (ks.type is not Type.STRING or ks.optional):
            return _map_list_decoder(kdec, vdec, entry_objects=True)
        if ks.type is Type.STRING:

            def dec_map_obj(x: object) -> object:
                if type(x) is not dict:
                    raise _PathError(
                        "Maps with string fields should be encoded as JSON objects, but found "
                        + _json_kind(x)
                    )
                return {k: vdec(e) for k, e in x.items()}

            return dec_map_obj

        return _map_list_decoder(kdec, vdec, entry_objects=False)
    if opts.confluent_json and schema.name == ONE_OF_NAME:
        return _one_of_decoder(schema, opts)
    return _compile_struct_dec(schema, opts)


def _json_fits(schema: Schema) -> Callable[[object], bool]:
    """Whether parsed JSON is of the kind a union branch of `schema` holds (JsonSchemaData's
    `isInstanceOfSchemaTypeForSimpleSchema`)."""
    t = schema.type
    if t in INT_RANGES:
        return lambda x: type(x) is int
    if t in (Type.FLOAT32, Type.FLOAT64):
        return lambda x: isinstance(x, int | float | _PyDecimal) and not isinstance(x, bool)
    if t is Type.BOOLEAN:
        return lambda x: type(x) is bool
    if t is Type.STRING:
        return lambda x: type(x) is str
    if t is Type.BYTES:
        return lambda x: isinstance(x, _PyDecimal)
    if t is Type.ARRAY:
        return lambda x: type(x) is list
    if t is Type.MAP:
        return lambda x: type(x) is dict or type(x) is list
    names = frozenset(f.name for f in schema.fields)
    return lambda x: type(x) is dict and names.issuperset(x)


def _one_of_decoder(schema: Schema, opts: _Options) -> Decoder:
    fields = schema.fields
    fits = tuple(_json_fits(f.schema) for f in fields)
    decoders = tuple(compile_decoder(f.schema, opts) for f in fields)

    def dec_one_of(x: object) -> object:
        for i, fit in enumerate(fits):
            if fit(x):
                values: list[object] = [None] * len(fields)
                try:
                    values[i] = decoders[i](x)
                except _PathError as e:
                    raise e.at(fields[i].name) from None
                return Struct._trusted(schema, values)
        r = repr(x)
        raise _PathError(f"Did not find matching oneof field for data: {r[:77]}")

    return dec_one_of


def _map_list_decoder(kdec: Decoder, vdec: Decoder, entry_objects: bool) -> Decoder:
    """A map written as a JSON array: of `[key, value]` tuples (JsonConverter), or of
    `{"key":..,"value":..}` objects (`entry_objects`, Confluent's JSON Schema form)."""
    form = "objects" if entry_objects else "tuples"

    def unpack(entry: object) -> tuple[object, object]:
        if entry_objects:
            if type(entry) is not dict:
                raise _PathError("Found invalid map entry instead of object: " + _json_kind(entry))
            if len(entry) != 2 or "key" not in entry or "value" not in entry:
                raise _PathError(
                    f"Found invalid map entry, expected the fields key and value but found "
                    f"{sorted(entry)}"
                )
            return entry["key"], entry["value"]
        if type(entry) is not list:
            raise _PathError("Found invalid map entry instead of array tuple: " + _json_kind(entry))
        if len(entry) != 2:
            raise _PathError(f"Found invalid map entry, expected length 2 but found :{len(entry)}")
        return entry[0], entry[1]

    def dec_map_list(x: object) -> object:
        if type(x) is not list:
            raise _PathError(
                f"Maps with non-string fields should be encoded as JSON array of {form}, but "
                "found " + _json_kind(x)
            )
        result: dict[object, object] = {}
        for entry in x:
            raw_key, raw_value = unpack(entry)
            k = kdec(raw_key)
            try:
                result[k] = vdec(raw_value)
            except TypeError:
                raise _PathError(
                    f"map key {k!r} of type {type(k).__name__} can't key a Python dict"
                ) from None
        return result

    return dec_map_list


def _plain_test(schema: Schema, var: str) -> str | None:
    """A Python expression that is true when JSON value `var` is already what the field's decoder
    would return unchanged: a str for STRING, a bool for BOOLEAN, an in-range int for an integer
    type, a float for FLOAT64. None for logical types and everything else, which always take the
    decoder."""
    if schema.name in _LOGICAL_NAMES:
        return None
    t = schema.type
    if t is Type.STRING:
        return f"type({var}) is str"
    if t is Type.BOOLEAN:
        return f"type({var}) is bool"
    if t is Type.FLOAT64:
        return f"type({var}) is float"
    if t in INT_RANGES:
        lo, hi = INT_RANGES[t]
        return f"type({var}) is int and {lo} <= {var} <= {hi}"
    return None


def _compile_struct_dec(schema: Schema, opts: _Options) -> Decoder:
    """A STRUCT decoder generated for `schema`: straight-line code with one inline type test per
    primitive field, falling back to the field's full decoder (nulls, defaults, logical types,
    errors with the field's path) only when the test fails. Reading a struct is the per-record
    work of every JsonConverter sink, so it pays to spend no call on a field that needs none."""
    names = tuple(f.name for f in schema.fields)
    decoders = tuple(compile_decoder(f.schema, opts) for f in schema.fields)

    def full(i: int, x: object) -> object:
        try:
            return decoders[i](x)
        except _PathError as e:
            raise e.at(names[i]) from None

    def not_an_object(x: object) -> _PathError:
        return _PathError("Structs should be encoded as JSON objects, but found " + _json_kind(x))

    lines = [
        "def dec_struct(x):",
        "    if type(x) is not dict:",
        "        raise not_an_object(x)",
        "    get = x.get",
    ]
    for i, f in enumerate(schema.fields):
        var = f"v{i}"
        lines.append(f"    {var} = get({f.name!r})")
        test = _plain_test(f.schema, var)
        if test is None:
            lines.append(f"    {var} = full({i}, {var})")
        else:
            lines += [f"    if not ({test}):", f"        {var} = full({i}, {var})"]
    # Struct._trusted, inlined: the values were checked above.
    lines += [
        "    s = new(Struct)",
        "    s.schema = schema",
        f"    s._values = [{', '.join(f'v{i}' for i in range(len(names)))}]",
        "    return s",
    ]
    namespace: dict[str, object] = {
        "full": full,
        "not_an_object": not_an_object,
        "new": Struct.__new__,
        "Struct": Struct,
        "schema": schema,
    }
    # The source is built above; field names enter it only through repr().
    code = compile("\n".join(lines), f"<JsonConverter struct {schema.name or ''}>", "exec")
    exec(code, namespace)  # noqa: S102
    decoder = namespace["dec_struct"]
    assert callable(decoder)
    return decoder


def _has_decimal(schema: Schema) -> bool:
    if schema.name == DECIMAL_NAME:
        return True
    return any(
        _has_decimal(s)
        for s in (
            *(f.schema for f in schema.fields),
            *((schema.key_schema,) if schema.key_schema else ()),
            *((schema.value_schema,) if schema.value_schema else ()),
        )
    )


def json_to_schema(node: object, opts: _Options) -> Schema | None:
    """The schema an envelope's `schema` object describes, as JsonConverter.asConnectSchema."""
    if node is None:
        return None
    if type(node) is not dict:
        raise _PathError(f"Schema must be a JSON object, but found {_json_kind(node)}")
    type_name = node.get("type")
    if type(type_name) is not str:
        raise _PathError("Schema must contain 'type' field")
    t = _TYPES_BY_JSON_NAME.get(type_name)
    if t is None:
        raise _PathError(f"Unknown schema type: {type_name}")
    if t is Type.ARRAY:
        items = node.get("items")
        if items is None:
            raise _PathError("Array schema did not specify the element type")
        item_schema = json_to_schema(items, opts)
        assert item_schema is not None
        builder = SchemaBuilder.array(item_schema)
    elif t is Type.MAP:
        if "keys" not in node:
            raise _PathError("Map schema did not specify the key type")
        if "values" not in node:
            raise _PathError("Map schema did not specify the value type")
        k = json_to_schema(node["keys"], opts)
        v = json_to_schema(node["values"], opts)
        if k is None or v is None:
            raise _PathError("Map schema's key and value types may not be null")
        builder = SchemaBuilder.map(k, v)
    elif t is Type.STRUCT:
        builder = SchemaBuilder.struct()
        fields = node.get("fields")
        if type(fields) is not list:
            raise _PathError('Struct schema\'s "fields" argument is not an array.')
        for fnode in fields:
            fname = fnode.get("field") if type(fnode) is dict else None
            if type(fname) is not str:
                raise _PathError("Struct schema's field name not specified properly")
            fschema = json_to_schema(fnode, opts)
            assert fschema is not None
            try:
                builder.field(fname, fschema)
            except DataError as e:
                raise _PathError(str(e)) from None
    else:
        builder = SchemaBuilder(t)
    if node.get("optional") is True:
        builder.optional()
    name = node.get("name")
    if type(name) is str:
        builder.name(name)
    version = node.get("version")
    if type(version) is int:
        builder.version(version)
    doc = node.get("doc")
    if type(doc) is str:
        builder.doc(doc)
    params = node.get("parameters")
    if type(params) is dict:
        for pk, pv in params.items():
            if type(pv) is not str:
                raise _PathError("Schema parameters must have string values.")
            builder.parameter(pk, pv)
    if "default" in node:
        bare = builder.build()
        default = compile_decoder(bare, _Options(opts.numeric_decimals, False))(node["default"])
        if default is not None:
            builder._default = default
    return builder.build()


# --- the converter ----------------------------------------------------------------------------


class _Entry:
    """What the converter keeps per schema: its envelope prefix and compiled encoder/decoder."""

    __slots__ = (
        "decoder",
        "encoder",
        "exact",
        "nonnull_decoder",
        "nonnull_encoder",
        "prefix",
        "schema",
    )

    def __init__(
        self,
        schema: Schema | None,
        prefix: str,
        encoder: Encoder,
        decoder: Decoder,
        exact: bool,
        nonnull_decoder: Decoder | None = None,
        nonnull_encoder: Encoder | None = None,
    ) -> None:
        self.schema = schema
        self.prefix = prefix
        self.encoder = encoder
        self.nonnull_encoder = nonnull_encoder or encoder
        """`encoder` without its null handling, for a value known not to be None."""
        self.decoder = decoder
        self.exact = exact
        self.nonnull_decoder = nonnull_decoder or decoder
        """`decoder` without its null handling, for a payload known not to be null."""


_UNPARSED: Final = object()
_NULL: Final = SchemaAndValue(None, None)
# SchemaAndValue's own __new__ is a Python function; tuple's builds the same object in C.
_schema_and_value: Final = tuple.__new__


# msgspec's decoder: about 1.5 times as fast as pydantic-core's on a record's payload, and it
# keeps integers of any size exact.
_fast_decode: Final = msgspec.json.Decoder().decode


def _quick_parse(data: bytes) -> object:
    """`data` parsed by msgspec's JSON decoder, or `_UNPARSED` when it declines.

    It parses a record's payload about four times as fast as the `json` module, and returns the
    same values wherever it succeeds (big integers, -0.0 and duplicate keys, last wins, included;
    a test compares the two on generated documents). It declines a little more than the `json`
    module does: unpaired surrogate escapes (`"\\ud800"`), numbers too large for a double
    (`1e400`, which `json` reads as inf), other encodings than UTF-8, and a byte-order mark. So
    whatever it declines goes to the `json` module, which decides, and its error messages stay the
    ones users see.
    """
    try:
        return _fast_decode(data)
    except ValueError:  # msgspec.DecodeError is one
        return _UNPARSED


def _identity(x: object) -> object:
    return x


def _no_encoder(x: object) -> str:
    raise AssertionError("entries read from an envelope are never used to write")


class JsonConverter(Converter, HeaderConverter):
    """Kafka Connect's JsonConverter: `org.apache.kafka.connect.json.JsonConverter`.

    Config keys (prefix removed): `schemas.enable` (default true), `schemas.cache.size`
    (default 1000), `decimal.format` (BASE64 or NUMERIC, default BASE64),
    `replace.null.with.default` (default true), and `converter.type`.
    """

    config_model = JsonConverterConfig

    def __init__(self) -> None:
        self._schemas_enable = True
        self._cache_size = 1000
        self._opts = _Options(numeric_decimals=False, replace_null=True)
        self._enc_cache: OrderedDict[Schema, _Entry] = OrderedDict()
        self._dec_cache: OrderedDict[str, _Entry] = OrderedDict()
        self._last_enc: _Entry | None = None
        self._last_dec: _Entry | None = None
        self._last_dec_mark = ""
        self._last_dec_mark_bytes = b""

    def configure(self, configs: Mapping[str, str], is_key: bool = False) -> None:
        get_converter_type(configs)
        self._schemas_enable = get_bool(configs, SCHEMAS_ENABLE_CONFIG, True)
        self._cache_size = get_int(configs, SCHEMAS_CACHE_SIZE_CONFIG, 1000, minimum=0)
        numeric = get_choice(configs, DECIMAL_FORMAT_CONFIG, "BASE64", ("BASE64", "NUMERIC"))
        replace = get_bool(configs, REPLACE_NULL_WITH_DEFAULT_CONFIG, True)
        self._opts = _Options(numeric_decimals=numeric == "NUMERIC", replace_null=replace)
        self._enc_cache.clear()
        self._dec_cache.clear()
        self._last_enc = None
        self._last_dec = None
        self._last_dec_mark = ""
        self._last_dec_mark_bytes = b""

    @property
    def schemas_enabled(self) -> bool:
        return self._schemas_enable

    # -- writing

    def _entry_for(self, schema: Schema) -> _Entry:
        cache = self._enc_cache
        entry = cache.get(schema)
        if entry is not None:
            cache.move_to_end(schema)
            return entry
        opts = self._opts
        try:
            prefix = _SCHEMA_PREFIX + schema_to_json(schema, opts) + _PAYLOAD_MARK
        except _PathError as e:
            raise DataError(f"Cannot write the schema's default value as JSON: {e}") from None
        nonnull = _compile_nonnull(schema, opts)
        entry = _Entry(
            schema,
            prefix,
            _with_nulls(schema, nonnull, opts),
            compile_decoder(schema, opts),
            _has_decimal(schema),
            nonnull_encoder=nonnull,
        )
        if self._cache_size > 0:
            cache[schema] = entry
            if len(cache) > self._cache_size:
                cache.popitem(last=False)
        return entry

    def as_json_schema(self, schema: Schema) -> str:
        """The schema as the envelope's `schema` object (JSON text)."""
        return schema_to_json(schema, self._opts)

    def from_connect_data(
        self, topic: str, schema: Schema | None, value: object, headers: Headers | None = None
    ) -> bytes | None:
        if schema is None:
            if value is None:
                return None
            try:
                payload = _encode_schemaless(value, self._opts)
            except _PathError as e:
                raise DataError(f"Converting Kafka Connect data to JSON failed: {e}") from None
            text = '{"schema":null,"payload":' + payload + "}" if self._schemas_enable else payload
        else:
            entry = self._last_enc
            if entry is None or (entry.schema is not schema and entry.schema != schema):
                entry = self._entry_for(schema)
                self._last_enc = entry
            try:
                payload = entry.encoder(value) if value is None else entry.nonnull_encoder(value)
            except _PathError as e:
                raise DataError(f"Converting Kafka Connect data to JSON failed: {e}") from None
            text = entry.prefix + payload + "}" if self._schemas_enable else payload
        try:
            return text.encode("utf-8")
        except UnicodeEncodeError as e:
            raise DataError(
                f"Converting Kafka Connect data to JSON failed: a string holds an unpaired "
                f"surrogate {text[e.start : e.end]!r}, which UTF-8 cannot encode"
            ) from None

    # -- reading

    def fixed_schema_reader(self) -> tuple[Schema | None, Callable[[bytes], object]] | None:
        """Schemaless JSON has no schema, whatever the record: the runtime may then call
        `_read_schemaless` directly. With `schemas.enable` each envelope names its own."""
        if self._schemas_enable:
            return None
        return None, self._read_schemaless

    def _read_schemaless(self, value: bytes) -> object:
        """`to_connect_data(...).value` for non-null bytes and `schemas.enable=false`."""
        try:
            return _fast_decode(value)
        except ValueError:  # msgspec.DecodeError is one; the json module decides
            pass
        if not value.strip():
            return None
        return self._parse(value, declined=True)

    def to_connect_data(
        self, topic: str, value: bytes | None, headers: Headers | None = None
    ) -> SchemaAndValue:
        if value is None:
            return _NULL
        if type(value) is not bytes:
            value = bytes(value)
        if not self._schemas_enable:
            parsed = _quick_parse(value)
            if parsed is not _UNPARSED:
                return _schema_and_value(SchemaAndValue, (None, parsed))
            if not value.strip():
                return _NULL
            return SchemaAndValue(None, self._parse(value, declined=True))
        entry = self._last_dec
        if entry is not None and not entry.exact and value.startswith(self._last_dec_mark_bytes):
            body = value.rstrip(b" \t\r\n")
            if body.endswith(b"}"):
                payload = _quick_parse(body[len(self._last_dec_mark_bytes) : -1])
                if payload is not _UNPARSED:
                    try:
                        decoded = (
                            entry.decoder(payload)
                            if payload is None
                            else entry.nonnull_decoder(payload)
                        )
                        return _schema_and_value(SchemaAndValue, (entry.schema, decoded))
                    except _PathError as e:
                        raise DataError(
                            f"Converting JSON to Kafka Connect data failed: {e}"
                        ) from None
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        if text is not None:
            entry = self._last_dec
            if entry is not None and text.startswith(self._last_dec_mark):
                result = self._fast_read(text, entry)
                if result is not None:
                    return result
        return self._slow_read(value, text)

    def _fast_read(self, text: str, entry: _Entry) -> SchemaAndValue | None:
        """The payload of an envelope whose schema text is the previous record's, or None."""
        try:
            payload, end = (_EXACT if entry.exact else _PLAIN).raw_decode(
                text, len(self._last_dec_mark)
            )
        except ValueError:
            return None
        if text[end:].rstrip(" \t\r\n") != "}":
            return None
        try:
            return SchemaAndValue(entry.schema, entry.decoder(payload))
        except _PathError as e:
            raise DataError(f"Converting JSON to Kafka Connect data failed: {e}") from None

    @staticmethod
    def _parse(value: bytes, exact: bool = False, declined: bool = False) -> object:
        """The JSON document in `value` (UTF-8, or the UTF-16/32 that Jackson also detects).

        `declined` says the fast parser has already declined `value`.
        """
        if not exact and not declined:
            parsed = _quick_parse(value)
            if parsed is not _UNPARSED:
                return parsed
        try:
            try:
                text = value.decode("utf-8")
            except UnicodeDecodeError:
                text = value.decode(json.detect_encoding(value), "surrogatepass")
            return (_EXACT if exact else _PLAIN).decode(text.removeprefix("\ufeff"))
        except (ValueError, UnicodeDecodeError) as e:
            raise DataError(
                f"Converting byte[] to Kafka Connect data failed due to serialization error: {e}"
            ) from None

    def _slow_read(self, value: bytes, text: str | None) -> SchemaAndValue:
        if not value.strip():
            raise DataError(_ENVELOPE_MSG)
        envelope = self._parse(value)
        if (
            type(envelope) is not dict
            or len(envelope) != 2
            or "schema" not in envelope
            or "payload" not in envelope
        ):
            raise DataError(_ENVELOPE_MSG)
        schema_node = envelope["schema"]
        key = json.dumps(schema_node, separators=(",", ":"), ensure_ascii=False)
        entry = self._dec_cache.get(key)
        if entry is None:
            try:
                schema = json_to_schema(schema_node, self._opts)
            except _PathError as e:
                raise DataError(f"Invalid schema in the JSON envelope: {e}") from None
            if schema is None:
                entry = _Entry(None, "", _no_encoder, _identity, False)
            else:
                entry = _Entry(
                    schema,
                    "",
                    _no_encoder,
                    compile_decoder(schema, self._opts),
                    _has_decimal(schema),
                    _compile_dec(schema, self._opts),
                )
            if self._cache_size > 0:
                self._dec_cache[key] = entry
                if len(self._dec_cache) > self._cache_size:
                    self._dec_cache.popitem(last=False)
        else:
            self._dec_cache.move_to_end(key)
        payload = envelope["payload"]
        if entry.exact:
            reparsed = self._parse(value, exact=True)
            assert isinstance(reparsed, dict)
            payload = reparsed["payload"]
        self._remember_schema_text(text, entry)
        try:
            return SchemaAndValue(entry.schema, entry.decoder(payload))
        except _PathError as e:
            raise DataError(f"Converting JSON to Kafka Connect data failed: {e}") from None

    def _remember_schema_text(self, text: str | None, entry: _Entry) -> None:
        """Note the envelope's exact schema text, so the next record can skip parsing it."""
        if text is None or not text.startswith(_SCHEMA_PREFIX):
            return
        try:
            _, end = _PLAIN.raw_decode(text, len(_SCHEMA_PREFIX))
        except ValueError:
            return
        if text.startswith(_PAYLOAD_MARK, end):
            self._last_dec = entry
            self._last_dec_mark = text[: end + len(_PAYLOAD_MARK)]
            self._last_dec_mark_bytes = self._last_dec_mark.encode("utf-8")

    # -- headers: the same format

    def from_connect_header(
        self, topic: str, header_key: str, schema: Schema | None, value: object
    ) -> bytes | None:
        return self.from_connect_data(topic, schema, value)

    def to_connect_header(self, topic: str, header_key: str, value: bytes | None) -> SchemaAndValue:
        return self.to_connect_data(topic, value)


has_decimal = _has_decimal
"""Whether a schema holds a Decimal anywhere, so its JSON must be parsed with exact numbers."""

with_nulls = _with_nulls
"""An encoder that also writes nulls: the default, `null` when optional, else an error."""


def parse_json(value: bytes, exact: bool = False) -> object:
    """A JSON document read as JsonConverter reads one (`exact`: numbers with a fraction as
    `decimal.Decimal`); a `DataError` for what is not JSON."""
    return JsonConverter._parse(value, exact=exact)
