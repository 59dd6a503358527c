"""JsonConverter's fast paths read and write exactly what its general paths do.

- Payloads are parsed by pydantic-core's parser when it accepts them, by the `json` module
  otherwise: wherever the fast parser succeeds, its value (types included) is the `json` module's.
- Struct decoders and encoders are generated per schema; they must give the values, the bytes and
  the errors (naming the field) that the per-field decoders and encoders give.
- The second record with the same envelope schema takes the fast read; it must read the same
  value as the first, which took the full one.
"""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kconnect.converters.json import _UNPARSED, JsonConverter, _quick_parse
from kconnect.data import Schema, SchemaBuilder, Struct
from kconnect.errors import DataError


def _same(a: object, b: object) -> bool:
    """Equal values of identical types, all the way down (so 1 is not 1.0, and -0.0 is not 0.0)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        assert isinstance(b, float)
        return (math.isnan(a) and math.isnan(b)) or (
            a == b and math.copysign(1, a) == math.copysign(1, b)
        )
    if isinstance(a, list):
        assert isinstance(b, list)
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        assert isinstance(b, dict)
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return a == b


_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
_documents = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=400, deadline=None)
@given(_documents, st.booleans())
def test_quick_parse_agrees_with_the_json_module(doc: object, ascii_only: bool) -> None:
    text = json.dumps(doc, ensure_ascii=ascii_only)
    data = text.encode("utf-8", "surrogatepass")
    parsed = _quick_parse(data)
    if parsed is not _UNPARSED:
        assert _same(parsed, json.loads(text)), text


@pytest.mark.parametrize(
    "text",
    [
        "-0",
        "-0.0",
        "123456789012345678901234567890",
        '{"a":1,"a":2}',
        '"\\ud800\\udc00"',
        '"\\u0000"',
        "9007199254740993.0",
        ' [1, 2.5, "x", null, true] ',
    ],
)
def test_quick_parse_edge_values_match(text: str) -> None:
    parsed = _quick_parse(text.encode())
    assert parsed is not _UNPARSED
    assert _same(parsed, json.loads(text))


@pytest.mark.parametrize(
    "text", ['"\\ud800"', "NaN", "Infinity", "01", "1 2", '"a\nb"', "[1,]", "\ufeff1", "1e400"]
)
def test_quick_parse_declines_what_it_cannot_read_as_the_json_module_does(text: str) -> None:
    """Unpaired surrogates and numbers beyond a double (valid for `json`), the non-standard
    constants and malformed text are left to the `json` module, which accepts or rejects them with
    its own message."""
    assert _quick_parse(text.encode("utf-8", "surrogatepass")) is _UNPARSED


USER = (
    SchemaBuilder.struct()
    .name("bench.User")
    .field("id", Schema.INT64)
    .field("small", Schema.INT8)
    .field("name", Schema.STRING)
    .field("ok", Schema.BOOLEAN)
    .field("score", Schema.OPTIONAL_FLOAT64)
    .field("tag", SchemaBuilder.string().optional().default_value("none").build())
    .field("inner", SchemaBuilder.struct().optional().field("z", Schema.BOOLEAN).build())
    .build()
)


def _converter(schemas: bool = True) -> JsonConverter:
    c = JsonConverter()
    c.configure({"schemas.enable": str(schemas).lower()}, False)
    return c


def _user(**values: object) -> Struct:
    s = Struct(USER)
    for k, v in {"id": 1, "small": 2, "name": "n", "ok": True, **values}.items():
        s.put(k, v)
    return s


@pytest.mark.parametrize(
    "values",
    [
        {},
        {"name": 'quote " backslash \\ control \x01 é \u2028', "score": 0.1},
        {"id": -(2**63), "small": -128, "ok": False, "score": -0.0, "tag": "t"},
        {"id": 2**63 - 1, "small": 127, "score": 1e300},
    ],
)
def test_struct_round_trips_through_the_generated_code_twice(values: dict[str, object]) -> None:
    c = _converter()
    record = _user(**values)
    inner = Struct(USER.field("inner").schema)  # type: ignore[union-attr]
    inner.put("z", True)
    record.put("inner", inner)
    data = c.from_connect_data("t", USER, record)
    assert data is not None
    # A null with a default is written as the default (replace.null.with.default), so it reads
    # back as the default.
    expected = _user(**values)
    expected.put("inner", inner)
    expected.put("tag", values.get("tag", "none"))
    first = c.to_connect_data("t", data)  # reads the envelope's schema
    second = c.to_connect_data("t", data)  # the same schema text: the fast read
    assert first.value == expected
    assert second.value == expected
    assert repr(second.value) == repr(expected)
    payload = json.loads(data)["payload"]
    assert payload["name"] == record.get("name")
    assert payload["tag"] == expected.get("tag")


@pytest.mark.parametrize(
    ("payload", "field", "expected"),
    [
        ({"id": "1", "small": 1, "name": "n", "ok": True}, "id", "integer"),
        ({"id": 1, "small": 300, "name": "n", "ok": True}, "small", "[-128, 127]"),
        ({"id": 1, "small": 1, "name": 5, "ok": True}, "name", "a string"),
        ({"id": 1, "small": 1, "name": "n", "ok": 1}, "ok", "true or false"),
        ({"id": 1, "small": 1, "ok": True}, "name", "null"),
        ({"id": 1, "small": 1, "name": "n", "ok": True, "inner": {"z": "x"}}, "z", "true or false"),
    ],
)
def test_generated_struct_decoder_names_the_field_in_errors(
    payload: dict[str, object], field: str, expected: str
) -> None:
    c = _converter()
    good = c.from_connect_data("t", USER, _user())
    assert good is not None
    c.to_connect_data("t", good)  # so the bad record below takes the fast read
    envelope = json.loads(good)
    envelope["payload"] = payload
    with pytest.raises(DataError) as err:
        c.to_connect_data("t", json.dumps(envelope, separators=(",", ":")).encode())
    assert field in str(err.value)
    assert expected in str(err.value)


def test_missing_optional_and_defaulted_fields_read_as_null_and_default() -> None:
    c = _converter()
    good = c.from_connect_data("t", USER, _user())
    assert good is not None
    envelope = json.loads(good)
    envelope["payload"] = {"id": 5, "small": 0, "name": "", "ok": False}
    raw = json.dumps(envelope).encode()
    for _ in range(2):  # full read, then fast read
        value = c.to_connect_data("t", raw).value
        assert isinstance(value, Struct)
        assert value.get("score") is None
        assert value.get("tag") == "none"
        assert value.get("inner") is None


def test_unpaired_surrogate_falls_back_and_reads_as_before() -> None:
    """A payload only the `json` module reads still reads, on the fast path too."""
    c = _converter()
    schema = SchemaBuilder.struct().field("s", Schema.STRING).build()
    prefix = b'{"schema":' + c.as_json_schema(schema).encode() + b',"payload":'
    for text in (b'{"s":"a"}', b'{"s":"\\ud800"}', b'{"s":"\\ud800"}'):
        value = c.to_connect_data("t", prefix + text + b"}").value
        assert isinstance(value, Struct)
        assert value.get("s") == json.loads(text)["s"]


def test_generated_struct_encoder_errors_name_the_field() -> None:
    c = _converter()
    record = Struct(USER)
    record.put("id", 1)
    record.put("small", 1)
    record.put("ok", True)  # "name" is required and unset
    with pytest.raises(DataError, match="field 'name'"):
        c.from_connect_data("t", USER, record)


def test_field_names_that_need_escaping_round_trip() -> None:
    names = ['a"b', "back\\slash", "new\nline", "x)]}'", "{"]
    builder = SchemaBuilder.struct()
    for n in names:
        builder = builder.field(n, Schema.STRING)
    schema = builder.build()
    record = Struct(schema)
    for n in names:
        record.put(n, n * 2)
    c = _converter()
    data = c.from_connect_data("t", schema, record)
    assert data is not None
    assert json.loads(data)["payload"] == {n: n * 2 for n in names}
    for _ in range(2):
        assert c.to_connect_data("t", data).value == record


# --- schemaless values --------------------------------------------------------------------------


def _schemaless() -> JsonConverter:
    c = JsonConverter()
    c.configure({"schemas.enable": "false"}, is_key=False)
    return c


def _reference_text(v: object) -> str:
    """Schemaless JSON as Java's JsonConverter writes it, spelled out the plain way."""
    from kconnect.converters.json import json_double, json_str

    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return json_double(v)
    if isinstance(v, str):
        return json_str(v)
    if isinstance(v, list):
        return "[" + ",".join(_reference_text(x) for x in v) + "]"
    assert isinstance(v, dict)
    if all(isinstance(k, str) for k in v):
        return "{" + ",".join(json_str(k) + ":" + _reference_text(x) for k, x in v.items()) + "}"
    return (
        "[" + ",".join(f"[{_reference_text(k)},{_reference_text(x)}]" for k, x in v.items()) + "]"
    )


_keys = st.text(max_size=6) | st.integers(-5, 5)
_nested = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_keys, inner, max_size=4),
    max_leaves=16,
)


@settings(max_examples=400, deadline=None)
@given(_nested)
def test_schemaless_writer_matches_the_plain_spelling(value: object) -> None:
    out = _schemaless().from_connect_data("t", None, value)
    if value is None:
        assert out is None
        return
    assert out is not None
    assert out.decode("utf-8", "surrogatepass") == _reference_text(value)


def test_schemaless_writer_keeps_nested_maps_with_other_keys_as_pairs() -> None:
    value = {"outer": {1: "a", 2: [{"x": 1.0e16}]}, "b": [b"\x00", None]}
    out = _schemaless().from_connect_data("t", None, value)
    assert out == b'{"outer":[[1,"a"],[2,[{"x":1.0E16}]]],"b":["AA==",null]}'


def test_schemaless_reader_takes_blank_values_as_null_and_reads_what_the_fast_parser_declines() -> (
    None
):
    c = _schemaless()
    assert c.to_connect_data("t", b"  \n").value is None
    assert c.to_connect_data("t", b'{"a":"\\ud800"}').value == {"a": "\ud800"}
    with pytest.raises(DataError, match="serialization error"):
        c.to_connect_data("t", b'{"a":')


@pytest.mark.parametrize(
    "data",
    [
        b"  \n",
        b'{"a":"\\ud800"}',
        b'{"a":1,"a":2}',
        b"1e400",
        b"-0.0",
        b'[1, "x", null]',
        b"\xef\xbb\xbf1",
    ],
)
def test_schemaless_fixed_reader_agrees_with_to_connect_data(data: bytes) -> None:
    c = _schemaless()
    fixed = c.fixed_schema_reader()
    assert fixed is not None
    schema, read = fixed
    assert schema is None
    assert _same(read(data), c.to_connect_data("t", data).value)


@settings(max_examples=200, deadline=None)
@given(_documents)
def test_schemaless_fixed_reader_reads_generated_documents_as_to_connect_data_does(
    doc: object,
) -> None:
    c = _schemaless()
    fixed = c.fixed_schema_reader()
    assert fixed is not None
    data = json.dumps(doc).encode()
    assert _same(fixed[1](data), c.to_connect_data("t", data).value)


def test_schemaless_fixed_reader_fails_as_to_connect_data_does() -> None:
    c = _schemaless()
    fixed = c.fixed_schema_reader()
    assert fixed is not None
    with pytest.raises(DataError, match="serialization error"):
        fixed[1](b'{"a":')
    enveloped = JsonConverter()
    enveloped.configure({"schemas.enable": "true"}, False)
    assert enveloped.fixed_schema_reader() is None
