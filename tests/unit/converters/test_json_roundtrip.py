"""Property tests: whatever JsonConverter writes, it reads back as the same schema and value."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
import re
import string

from hypothesis import given, settings
from hypothesis import strategies as st

from kconnect.converters.json import JsonConverter
from kconnect.data import Date, Decimal, Schema, SchemaBuilder, Struct, Time, Timestamp, Type
from kconnect.data._javatext import java_double_str, java_float_str, to_float32

PRIMITIVES = [
    Type.INT8,
    Type.INT16,
    Type.INT32,
    Type.INT64,
    Type.FLOAT32,
    Type.FLOAT64,
    Type.BOOLEAN,
    Type.STRING,
    Type.BYTES,
]
INT_BOUNDS = {Type.INT8: 7, Type.INT16: 15, Type.INT32: 31, Type.INT64: 63}


def _maybe_optional(builder: SchemaBuilder, optional: bool) -> Schema:
    return (builder.optional() if optional else builder).build()


primitive_schemas = st.builds(
    lambda t, opt: _maybe_optional(SchemaBuilder(t), opt),
    st.sampled_from(PRIMITIVES),
    st.booleans(),
)
logical_schemas = st.one_of(
    st.builds(
        lambda s, o: _maybe_optional(Decimal.builder(s), o), st.integers(0, 6), st.booleans()
    ),
    st.builds(lambda o: _maybe_optional(Date.builder(), o), st.booleans()),
    st.builds(lambda o: _maybe_optional(Time.builder(), o), st.booleans()),
    st.builds(lambda o: _maybe_optional(Timestamp.builder(), o), st.booleans()),
)
names = st.text(alphabet=string.ascii_letters + "_\u00e9", min_size=1, max_size=6)


def _struct(fields: list[tuple[str, Schema]], name: str | None, optional: bool) -> Schema:
    b = SchemaBuilder.struct()
    if name:
        b.name(name)
    for fname, fschema in fields:
        b.field(fname, fschema)
    return _maybe_optional(b, optional)


def _extend(children: st.SearchStrategy[Schema]) -> st.SearchStrategy[Schema]:
    return st.one_of(
        st.builds(lambda v, o: _maybe_optional(SchemaBuilder.array(v), o), children, st.booleans()),
        st.builds(
            lambda k, v, o: _maybe_optional(SchemaBuilder.map(k, v), o),
            st.sampled_from([Schema.STRING, Schema.INT32, Schema.INT64]),
            children,
            st.booleans(),
        ),
        st.builds(
            _struct,
            st.lists(st.tuples(names, children), max_size=4, unique_by=lambda f: f[0]),
            st.none() | st.just("com.example.Record"),
            st.booleans(),
        ),
    )


schemas = st.recursive(st.one_of(primitive_schemas, logical_schemas), _extend, max_leaves=8)


def values_for(schema: Schema) -> st.SearchStrategy[object]:
    inner = _non_null_values(schema)
    return st.none() | inner if schema.optional else inner


def _non_null_values(schema: Schema) -> st.SearchStrategy[object]:
    t = schema.type
    if schema.name == Decimal.LOGICAL_NAME:
        scale = Decimal.scale(schema)
        return st.integers(-(10**25), 10**25).map(lambda n: decimal.Decimal(f"{n}E-{scale}"))
    if schema.name == Date.LOGICAL_NAME:
        return st.dates()
    if schema.name == Time.LOGICAL_NAME:
        return st.times().map(lambda t: t.replace(microsecond=t.microsecond // 1000 * 1000))
    if schema.name == Timestamp.LOGICAL_NAME:
        return st.datetimes(
            min_value=dt.datetime(1, 1, 2),
            max_value=dt.datetime(9999, 12, 30),
            timezones=st.just(dt.UTC),
        ).map(lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000))
    if t in INT_BOUNDS:
        bits = INT_BOUNDS[t]
        return st.integers(-(2**bits), 2**bits - 1)
    if t is Type.FLOAT32:
        return st.floats(width=32, allow_nan=False)
    if t is Type.FLOAT64:
        return st.floats(allow_nan=False)
    if t is Type.BOOLEAN:
        return st.booleans()
    if t is Type.STRING:
        return st.text(max_size=20)
    if t is Type.BYTES:
        return st.binary(max_size=20)
    if t is Type.ARRAY:
        assert schema.value_schema is not None
        return st.lists(values_for(schema.value_schema), max_size=4)
    if t is Type.MAP:
        assert schema.key_schema is not None
        assert schema.value_schema is not None
        return st.dictionaries(
            _non_null_values(schema.key_schema), values_for(schema.value_schema), max_size=3
        )

    @st.composite
    def struct_values(draw: st.DrawFn) -> Struct:
        s = Struct(schema)
        for f in schema.fields:
            s.put(f.name, draw(values_for(f.schema)))
        return s

    return struct_values()


def normalize(schema: Schema | None, value: object) -> object:
    """FLOAT32 values compared as the float they are on the wire (0.1 reads back as 0.1)."""
    if value is None or schema is None:
        return value
    if schema.type is Type.FLOAT32:
        assert isinstance(value, float)
        return to_float32(value)
    if schema.type is Type.ARRAY:
        assert isinstance(value, list)
        return [normalize(schema.value_schema, v) for v in value]
    if schema.type is Type.MAP:
        assert isinstance(value, dict)
        return {k: normalize(schema.value_schema, v) for k, v in value.items()}
    if schema.type is Type.STRUCT:
        assert isinstance(value, Struct)
        return [normalize(f.schema, value.get(f)) for f in schema.fields]
    return value


@st.composite
def schema_and_value(draw: st.DrawFn) -> tuple[Schema, object]:
    schema = draw(schemas)
    return schema, draw(values_for(schema))


@settings(max_examples=300, deadline=None)
@given(schema_and_value(), st.sampled_from(["BASE64", "NUMERIC"]))
def test_round_trip_with_schemas(sv: tuple[Schema, object], decimal_format: str) -> None:
    schema, value = sv
    c = JsonConverter()
    c.configure({"decimal.format": decimal_format}, False)
    raw = c.from_connect_data("t", schema, value)
    assert raw is not None
    json.loads(raw)  # always valid JSON
    for _ in range(2):  # a full parse, then the remembered-schema path
        read = c.to_connect_data("t", raw)
        assert read.schema == schema
        assert normalize(schema, read.value) == normalize(schema, value)
    # A second converter (fresh caches) reads the same bytes the same way, and writes them again.
    other = JsonConverter()
    other.configure({"decimal.format": decimal_format}, False)
    again = other.to_connect_data("t", raw)
    assert other.from_connect_data("t", again.schema, again.value) == raw


@settings(max_examples=200, deadline=None)
@given(schema_and_value())
def test_without_schemas_the_payload_is_the_envelope_payload(sv: tuple[Schema, object]) -> None:
    schema, value = sv
    with_env, without = JsonConverter(), JsonConverter()
    with_env.configure({}, False)
    without.configure({"schemas.enable": "false"}, False)
    full = with_env.from_connect_data("t", schema, value)
    bare = without.from_connect_data("t", schema, value)
    assert full is not None
    assert bare is not None
    assert full.endswith(b',"payload":' + bare + b"}")


JAVA_FLOAT = re.compile(r"-?(\d+\.\d+|\d\.\d+E-?\d+)|NaN|-?Infinity")


@given(st.floats())
def test_double_text_is_java_shaped_and_exact(x: float) -> None:
    text = java_double_str(x)
    assert JAVA_FLOAT.fullmatch(text)
    if not math.isnan(x):
        assert float(text) == x
        plain = "E" not in text and x != 0 and abs(x) != float("inf")
        assert plain == (1e-3 <= abs(x) < 1e7)


@given(st.floats(width=32))
def test_float_text_is_java_shaped_and_exact(x: float) -> None:
    text = java_float_str(x)
    assert JAVA_FLOAT.fullmatch(text)
    if math.isfinite(x):
        assert to_float32(float(text)) == x
        digits = re.sub(r"E.*|[-.]", "", text).strip("0")
        if len(digits) > 2:  # no shorter decimal names the same float
            shorter = float(f"{abs(x):.{len(digits) - 2}e}")
            assert shorter > 3.4028235677973366e38 or to_float32(shorter) != abs(x)
