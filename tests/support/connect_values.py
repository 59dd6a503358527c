"""Hypothesis strategies for Connect schemas and values that fit them (logical types, nested
arrays, maps and structs, optional or not), shared by the converters' round-trip tests."""

from __future__ import annotations

import datetime as dt
import decimal
import string

from hypothesis import strategies as st

from kconnect.data import Date, Decimal, Schema, SchemaBuilder, Struct, Time, Timestamp, Type

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


@st.composite
def schema_and_value(draw: st.DrawFn) -> tuple[Schema, object]:
    schema = draw(schemas)
    return schema, draw(values_for(schema))
