"""Property tests: whatever JsonConverter writes, it reads back as the same schema and value."""

from __future__ import annotations

import json
import math
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from kconnect.converters.json import JsonConverter
from kconnect.data import Schema, Struct, Type
from kconnect.data._javatext import java_double_str, java_float_str, to_float32
from tests.support.connect_values import schema_and_value


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
