"""kconnect's proto3 codec against upb (`protobuf`, dev extra) as an oracle, for random schemas.

For each random Connect struct schema, the registered text is parsed back into kconnect's model,
turned here into a `FileDescriptorProto` and loaded into upb. Then for random values: upb parses
kconnect's bytes and writes the same bytes back (fields by number, packed, proto3 presence), and
kconnect's decoder reads upb's bytes to the value kconnect wrote (nulls read as proto3 defaults).
"""

from __future__ import annotations

import contextlib
import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from kconnect.data.protobuf import ProtobufData, ProtobufDataConfig, message_indexes
from kconnect.data.protobuf_schema import (
    WRAPPERS_OPTIONS,
    WRAPPERS_TEXT,
    ProtoEnum,
    ProtoFile,
    ProtoMessage,
    parse_file,
    wrappers_file,
)
from kconnect.data.schema import Schema, Struct, Type
from kconnect.data.schema import SchemaBuilder as B

DATA = ProtobufData(ProtobufDataConfig())
TYPE_PARAM = "io.confluent.connect.protobuf.Type"
ENUM = "io.confluent.connect.protobuf.Enum"

_SCALARS: list[tuple[Schema, Any]] = [
    (Schema.OPTIONAL_INT8, st.integers(-128, 127)),
    (Schema.OPTIONAL_INT16, st.integers(-(2**15), 2**15 - 1)),
    (Schema.OPTIONAL_INT32, st.integers(-(2**31), 2**31 - 1)),
    (Schema.OPTIONAL_INT64, st.integers(-(2**63), 2**63 - 1)),
    (
        B.int32().parameter(TYPE_PARAM, "sint32").optional().build(),
        st.integers(-(2**31), 2**31 - 1),
    ),
    (
        B.int32().parameter(TYPE_PARAM, "sfixed32").optional().build(),
        st.integers(-(2**31), 2**31 - 1),
    ),
    (
        B.int64().parameter(TYPE_PARAM, "sint64").optional().build(),
        st.integers(-(2**63), 2**63 - 1),
    ),
    (B.int64().parameter(TYPE_PARAM, "uint32").optional().build(), st.integers(0, 2**32 - 1)),
    (B.int64().parameter(TYPE_PARAM, "fixed64").optional().build(), st.integers(0, 2**63 - 1)),
    (
        B.int64().parameter(TYPE_PARAM, "sfixed64").optional().build(),
        st.integers(-(2**63), 2**63 - 1),
    ),
    (Schema.OPTIONAL_FLOAT64, st.floats(allow_nan=False)),
    (Schema.OPTIONAL_FLOAT32, st.floats(width=32, allow_nan=False)),
    (Schema.OPTIONAL_BOOLEAN, st.booleans()),
    (Schema.OPTIONAL_STRING, st.text(max_size=8)),
    (Schema.OPTIONAL_BYTES, st.binary(max_size=8)),
]
_ENUM = (
    B.string()
    .name("Color")
    .parameter(ENUM, "Color")
    .parameter(f"{ENUM}.RED", "0")
    .parameter(f"{ENUM}.GREEN", "1")
    .parameter(f"{ENUM}.BLUE", "-2")
    .optional()
    .build()
)


@st.composite
def _field(draw: st.DrawFn, depth: int) -> tuple[Schema, Any]:
    kinds = ["scalar", "enum", "array", "map"] + (["struct"] if depth < 2 else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "scalar":
        return draw(st.sampled_from(_SCALARS))
    if kind == "enum":
        return _ENUM, st.sampled_from(["RED", "GREEN", "BLUE"])
    if kind == "array":
        element, values = draw(st.sampled_from(_SCALARS))
        required = B.of(element).required().build()
        return B.array(required).optional().build(), st.lists(values, max_size=4)
    if kind == "map":
        value_schema, values = draw(st.sampled_from(_SCALARS))
        return (
            B.map(Schema.STRING, B.of(value_schema).required().build()).optional().build(),
            st.dictionaries(st.text(max_size=4), values, max_size=3),
        )
    return draw(_struct(depth + 1, optional=True))


@st.composite
def _struct(draw: st.DrawFn, depth: int = 0, optional: bool = False) -> tuple[Schema, Any]:
    n = draw(st.integers(1, 5))
    fields = [draw(_field(depth)) for _ in range(n)]
    builder = B.struct()
    for i, (schema, _) in enumerate(fields):
        builder.field(f"f{i}", schema)
    if optional:
        builder.optional()
    schema = builder.build()

    @st.composite
    def value(draw2: st.DrawFn) -> Struct:
        s = Struct(schema)
        for i, (_, values) in enumerate(fields):
            if draw2(st.booleans()):
                s.put(f"f{i}", draw2(values))
        return s

    return schema, value()


def _descriptor(file: ProtoFile) -> Any:
    from google.protobuf import descriptor_pb2

    f = descriptor_pb2.FieldDescriptorProto
    scalar = {
        "double": f.TYPE_DOUBLE, "float": f.TYPE_FLOAT, "int64": f.TYPE_INT64,
        "uint64": f.TYPE_UINT64, "int32": f.TYPE_INT32, "fixed64": f.TYPE_FIXED64,
        "fixed32": f.TYPE_FIXED32, "bool": f.TYPE_BOOL, "string": f.TYPE_STRING,
        "bytes": f.TYPE_BYTES, "uint32": f.TYPE_UINT32, "sfixed32": f.TYPE_SFIXED32,
        "sfixed64": f.TYPE_SFIXED64, "sint32": f.TYPE_SINT32, "sint64": f.TYPE_SINT64,
    }  # fmt: skip

    def enum(target: Any, e: ProtoEnum) -> None:
        out = target.enum_type.add(name=e.name)
        for name, number in e.values:
            out.value.add(name=name, number=number)

    def message(target: Any, m: ProtoMessage) -> None:
        out = target.add(name=m.name)
        for pf in m.fields:
            label = f.LABEL_REPEATED if pf.label == "repeated" else f.LABEL_OPTIONAL
            fd = out.field.add(name=pf.name, number=pf.number, label=label)
            if pf.type in scalar:
                fd.type = scalar[pf.type]
            else:
                kind = file.types[pf.type]
                fd.type = f.TYPE_ENUM if isinstance(kind, ProtoEnum) else f.TYPE_MESSAGE
                fd.type_name = "." + pf.type
        for nested in m.messages:
            message(out.nested_type, nested)
        for e in m.enums:
            enum(out, e)

    fdp = descriptor_pb2.FileDescriptorProto(name="oracle.proto", syntax="proto3")
    for m in file.messages:
        message(fdp.message_type, m)
    return fdp


def _message_class(text: str) -> Any:
    from google.protobuf import descriptor_pool, message_factory

    file = parse_file(text)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(_descriptor(file))
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(file.messages[0].name))


def _as_read(schema: Schema, value: Any) -> Any:
    """What a written value reads back as: nulls as proto3 defaults, float32 rounded."""
    t = schema.type
    if t is Type.STRUCT:
        if value is None:
            return None
        return [_as_read(f.schema, value.get(f.name)) for f in schema.fields]
    if t is Type.ARRAY:
        assert schema.value_schema is not None
        return [_as_read(schema.value_schema, v) for v in value or []]
    if t is Type.MAP:
        assert schema.value_schema is not None
        return {k: _as_read(schema.value_schema, v) for k, v in (value or {}).items()}
    if value is None:
        if schema.parameters and ENUM in schema.parameters:
            return "RED"
        return {Type.STRING: "", Type.BYTES: b"", Type.BOOLEAN: False}.get(t, 0)
    if t is Type.FLOAT32:
        import struct

        return struct.unpack("<f", struct.pack("<f", value))[0]
    return value


@settings(max_examples=120, deadline=None)
@given(data=st.data())
def test_upb_reads_and_rewrites_kconnects_bytes(data: st.DataObject) -> None:
    schema, values = data.draw(_struct())
    text, _ = DATA.from_connect_schema(schema)
    message_class = _message_class(text)
    encode = DATA.encoder(schema)
    read_schema = DATA.to_connect_schema(parse_file(text), [0])
    decode = DATA.decoder(read_schema)
    for _ in range(3):
        value = data.draw(values)
        ours = encode(value)
        message = message_class.FromString(ours)
        assert message.SerializeToString(deterministic=True) == ours
        back = decode(message.SerializeToString(), 0)
        expected, got = _as_read(schema, value), _as_read(read_schema, back)
        assert _same(got, expected), (got, expected)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (a == b and math.copysign(1, a) == math.copysign(1, b)) or a == b == 0.0
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return bool(a == b)


@settings(max_examples=300, deadline=None)
@given(data=st.data(), noise=st.binary(max_size=64))
def test_any_bytes_decode_or_fail_with_a_data_error(data: st.DataObject, noise: bytes) -> None:
    from kconnect.errors import DataError

    schema, values = data.draw(_struct())
    text, _ = DATA.from_connect_schema(schema)
    decode = DATA.decoder(DATA.to_connect_schema(parse_file(text), [0]))
    written = DATA.encoder(schema)(data.draw(values))
    cut = data.draw(st.integers(0, len(written)))
    for payload in (noise, written[:cut] + noise, written[:cut]):
        with contextlib.suppress(DataError):
            decode(payload, 0)


# --- primitive roots against upb's well-known wrappers ------------------------------------------

_ROOTS: list[tuple[Schema, Any, str]] = [
    (Schema.INT8, st.integers(-128, 127), "Int32Value"),
    (Schema.INT16, st.integers(-(2**15), 2**15 - 1), "Int32Value"),
    (Schema.INT32, st.integers(-(2**31), 2**31 - 1), "Int32Value"),
    (Schema.INT64, st.integers(-(2**63), 2**63 - 1), "Int64Value"),
    (Schema.FLOAT32, st.floats(width=32), "FloatValue"),
    (Schema.FLOAT64, st.floats(), "DoubleValue"),
    (Schema.BOOLEAN, st.booleans(), "BoolValue"),
    (Schema.STRING, st.text(max_size=12), "StringValue"),
    (Schema.BYTES, st.binary(max_size=12), "BytesValue"),
]


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_upb_reads_and_rewrites_kconnects_primitive_roots(data: st.DataObject) -> None:
    from google.protobuf import wrappers_pb2

    schema, values, wrapper = data.draw(st.sampled_from(_ROOTS))
    text, full_name = DATA.from_connect_schema(schema)
    assert full_name == f"google.protobuf.{wrapper}"
    value = data.draw(values)
    ours = DATA.encoder(schema)(value)
    message = getattr(wrappers_pb2, wrapper).FromString(ours)
    assert message.SerializeToString() == ours
    read = DATA.decoder(DATA.to_connect_schema(parse_file(text), message_indexes(text, full_name)))
    back = read(message.SerializeToString(), 0)
    expected = _as_read(B.of(schema).optional().build(), value)
    both_nan = isinstance(value, float) and math.isnan(value) and math.isnan(back)
    assert both_nan or _same(back, expected), (back, value)
    # Unknown fields around it are skipped; noise decodes or fails with a DataError.
    assert _same(read(b"\x10\x05" + ours + b"\x1a\x01x", 0), back) or both_nan
    from kconnect.errors import DataError

    noise = data.draw(st.binary(max_size=24))
    for payload in (noise, ours + noise, ours[: len(ours) // 2]):
        with contextlib.suppress(DataError):
            read(payload, 0)


def test_the_wrappers_text_has_the_messages_and_options_of_upbs_wrappers_descriptor() -> None:
    from google.protobuf import descriptor_pb2, wrappers_pb2

    fdp = descriptor_pb2.FileDescriptorProto()
    wrappers_pb2.DESCRIPTOR.CopyToProto(fdp)
    file = parse_file(WRAPPERS_TEXT)
    assert file.package == fdp.package
    model = wrappers_file()
    assert [
        (m.name, [(f.name, f.number, f.type, f.json_name) for f in m.fields])
        for m in model.messages
    ] == [
        (m.name, [(f.name, f.number, _KIND_NAMES[f.type], f.json_name) for f in m.field])
        for m in fdp.message_type
    ]
    assert [m.full_name for m in file.messages] == [m.full_name for m in model.messages]
    set_options = {f.name: v for f, v in fdp.options.ListFields()}
    assert set_options == dict(WRAPPERS_OPTIONS)


_KIND_NAMES = {
    1: "double", 2: "float", 3: "int64", 4: "uint64", 5: "int32",
    8: "bool", 9: "string", 12: "bytes", 13: "uint32",
}  # fmt: skip
