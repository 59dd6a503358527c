"""Connect values ↔ Avro binary: round trips, the bytes checked against fastavro and against
confluent-kafka's own AvroSerializer, and the errors a value that doesn't fit gets."""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import io
import json
import os
import struct
from collections.abc import Callable
from typing import Any

import fastavro
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bench.avro_codec_timing import SCHEMA, record
from kconnect.data import Schema, SchemaBuilder, Struct, Timestamp, avro_codec
from kconnect.data.avro import AvroData, AvroDataConfig
from kconnect.errors import DataError
from tests.support.connect_values import schema_and_value, schemas, values_for


def _fastavro_recode(avro: Any, data: bytes) -> bytes:
    parsed = fastavro.parse_schema(avro)
    datum = fastavro.schemaless_reader(io.BytesIO(data), parsed, None)
    out = io.BytesIO()
    fastavro.schemaless_writer(out, parsed, datum)
    return out.getvalue()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schema_and_value())
def test_round_trip_and_fastavro_reads_and_rewrites_the_same_bytes(
    case: tuple[Schema, object],
) -> None:
    schema, value = case
    ad = AvroData()
    try:
        ad.from_connect_schema(schema)
    except DataError as e:
        # one name for two different records (two unnamed maps with non-string keys of
        # different types, say): Java's Schema.toString fails the same way
        assume("Can't redefine" not in str(e))
        raise
    data = ad.encoder(schema)(value)
    avro = ad.from_connect_schema(schema)
    _, decode = ad.decoder(avro, reader_connect=schema)
    assert decode(data) == value
    assert _fastavro_recode(avro, data) == data
    # Avro -> Connect gives back the schema (no defaults here), and reads the same value
    back, decode_back = ad.decoder(avro)
    assert back == schema
    assert decode_back(memoryview(data)) == value


# --- fixed examples --------------------------------------------------------------------------

RECORD = SCHEMA


def _event(note: str | None = "n") -> Struct:
    s = record(3)
    s.put("seq", 2**40)
    s.put("name", "héllo")
    s.put("kind", "k" * 200)
    s.put("note", note)
    return s


def test_the_bytes_are_those_confluents_avro_serializer_writes() -> None:
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroSerializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    ad = AvroData()
    text = ad.schema_text(ad.from_connect_schema(RECORD))
    # confluent-kafka's in-memory client: only the serializer's payload encoding is checked here
    client = SchemaRegistryClient.new_client({"url": "mock://avro-codec"})
    serializer = AvroSerializer(client, text)
    for note in ("n", None):
        event = _event(note)
        datum = {f.name: v for f, v in event.values()}
        framed = serializer(datum, SerializationContext("t", MessageField.VALUE))
        assert framed is not None
        assert framed[5:] == ad.encoder(RECORD)(event)
        # and what the serializer writes reads back as the same Connect value
        schema, decode = ad.decoder(text)
        assert schema == RECORD
        assert decode(framed[5:]) == event


def test_a_null_field_takes_its_default_unless_ignore_default_for_nullables() -> None:
    s = (
        SchemaBuilder.struct()
        .field("a", SchemaBuilder.int32().default_value(5).build())
        .field("b", SchemaBuilder.string().optional().default_value("x").build())
        .build()
    )
    v = Struct(s)
    ad = AvroData()
    assert ad.encoder(s)(v) == b"\x0a" + b"\x00\x02x"
    _, decode = ad.decoder(ad.from_connect_schema(s), reader_connect=s)
    assert decode(ad.encoder(s)(v)) == Struct(s).put("a", 5).put("b", "x")
    ignoring = AvroData(AvroDataConfig(ignore_default_for_nullables=True))
    with pytest.raises(DataError, match="'a'"):
        ignoring.encoder(s)(v)
    assert ignoring.encoder(s)(Struct(s).put("a", 1)) == b"\x02" + b"\x02"


def test_top_level_none() -> None:
    ad = AvroData()
    assert ad.encoder(Schema.OPTIONAL_STRING)(None) == b"\x00"
    with_default = SchemaBuilder.string().optional().default_value("d").build()
    assert ad.encoder(with_default)(None) == b"\x02"  # [string, null]: null is branch 1
    with pytest.raises(DataError, match="non-optional"):
        ad.encoder(Schema.STRING)(None)


def test_errors_name_the_field_path_and_the_expected_type() -> None:
    inner = SchemaBuilder.struct().field("x", Schema.INT16).build()
    outer = SchemaBuilder.struct().field("inner", inner).field("s", Schema.STRING).build()
    v = Struct(outer).put("inner", Struct(inner).put("x", 1)).put("s", "ok")
    v.get_without_default("inner")._values[0] = 70000  # type: ignore[attr-defined]
    with pytest.raises(DataError, match=r"INT16.*in \[-32768, 32767\].*'inner\.x'"):
        AvroData().encoder(outer)(v)
    w = Struct(outer).put("inner", Struct(inner).put("x", 1))
    with pytest.raises(DataError, match=r"Found null value for non-optional.*'s'"):
        AvroData().encoder(outer)(w)
    w._values[1] = "\ud800"
    with pytest.raises(DataError, match=r"unpaired surrogate.*'s'"):
        AvroData().encoder(outer)(w)
    with pytest.raises(DataError, match="expected a Struct"):
        AvroData().encoder(outer)({"s": "x"})


def test_union_structs() -> None:
    ad = AvroData()
    u = ad.to_connect_schema(["null", "int", "string"])
    data = ad.encoder(u)(Struct(u).put("string", "s"))
    assert data == b"\x04\x02s"
    schema, decode = ad.decoder(["null", "int", "string"])
    assert schema == u
    assert decode(data) == Struct(u).put("string", "s")
    assert decode(b"\x00") is None
    assert decode(b"\x02\x0a") == Struct(u).put("int", 5)


def test_enums_with_enhanced_support() -> None:
    ad = AvroData(AvroDataConfig(enhanced_avro_schema_support=True))
    avro = {"type": "enum", "name": "a.Color", "symbols": ["RED", "GREEN"]}
    schema, decode = ad.decoder(avro)
    assert decode(b"\x02") == "GREEN"
    assert ad.schema_text(ad.from_connect_schema(schema)).startswith(
        '{"type":"enum","name":"Color","namespace":"a","symbols":["RED","GREEN"]'
    )
    assert ad.encoder(schema)("GREEN") == b"\x02"
    with pytest.raises(DataError, match="symbols"):
        ad.encoder(schema)("BLUE")
    # without enhanced support the enum is a string in Connect and written as an Avro string
    plain = AvroData()
    assert plain.encoder(plain.to_connect_schema(avro))("GREEN") == b"\x0aGREEN"


def test_int8_reads_wrap_as_javas_byte_value() -> None:
    _, decode = AvroData().decoder({"type": "int", "connect.type": "int8"})
    assert decode(b"\xd8\x04") == 44  # 300 as a Java byte


def test_schemaless_values() -> None:
    ad = AvroData()
    value = {"a": [1, 2.5, "x", None, True, b"\x00"], 3: {"nested": None}}
    data = ad.encoder(None)(value)
    schema, decode = ad.decoder(ad.from_connect_schema(None))
    assert schema is None
    assert decode(data) == value
    fastavro_view = fastavro.schemaless_reader(
        io.BytesIO(data), fastavro.parse_schema(ad.from_connect_schema(None)), None
    )
    assert isinstance(fastavro_view, dict)
    assert fastavro_view["map"][0]["key"]["string"] == "a"
    with pytest.raises(DataError, match="schemaless"):
        ad.encoder(None)(decimal.Decimal(1))
    # a Java map keyed by a list: no Python dict can hold it
    enc = ad.encoder(None)
    list_key = b"\x00" * 8 + b"\x02\x02" + enc([1]) + enc(2) + b"\x00"
    with pytest.raises(DataError, match="cannot key a dict"):
        decode(list_key)


def test_reading_into_another_schema_resolves_it() -> None:
    ad = AvroData()
    writer = {
        "type": "record",
        "name": "R",
        "fields": [
            {"name": "a", "type": "int"},
            {"name": "gone", "type": "string"},
            {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        ],
    }
    reader = (
        SchemaBuilder.struct()
        .name("R")
        .field("a", Schema.INT64)
        .field("at", Timestamp.SCHEMA)
        .field("added", SchemaBuilder.string().optional().default_value("d").build())
        .build()
    )
    w = fastavro.parse_schema(writer)
    out = io.BytesIO()
    fastavro.schemaless_writer(out, w, {"a": 3, "gone": "x", "at": 1000})
    schema, decode = ad.decoder(writer, reader_connect=reader)
    assert schema is reader
    expected = Struct(reader).put("a", 3).put("added", "d")
    expected.put("at", dt.datetime(1970, 1, 1, 0, 0, 1, tzinfo=dt.UTC))
    assert decode(out.getvalue()) == expected


def test_truncated_data_is_a_data_error() -> None:
    ad = AvroData()
    data = ad.encoder(RECORD)(_event())
    _, decode = ad.decoder(ad.from_connect_schema(RECORD))
    with pytest.raises(DataError, match="ends early"):
        decode(data[:-3])


def test_compiled_functions_are_cached_per_schema() -> None:
    ad = AvroData(AvroDataConfig(schemas_cache_size=2))
    assert ad.encoder(RECORD) is ad.encoder(SchemaBuilder.of(RECORD).build())
    avro = json.loads(ad.schema_text(ad.from_connect_schema(RECORD)))
    assert ad.decoder(avro)[1] is ad.decoder(avro)[1]
    registry_text = json.dumps(avro, indent=2)  # not Java's text: parsed once, then by its text
    assert ad.decoder(registry_text)[1] is ad.decoder(avro)[1]
    assert ad.decoder(registry_text)[1] is ad.decoder(avro)[1]


def test_scrubbed_names_encode_by_position() -> None:
    s = SchemaBuilder.struct().name("my-rec").field("a-b", Schema.STRING).build()
    ad = AvroData(AvroDataConfig(scrub_invalid_names=True))
    avro = ad.from_connect_schema(s)
    assert isinstance(avro, dict)
    assert [f["name"] for f in avro["fields"]] == ["a_b"]
    data = ad.encoder(s)(Struct(s).put("a-b", "x"))
    assert fastavro.schemaless_reader(io.BytesIO(data), fastavro.parse_schema(avro), None) == {
        "a_b": "x"
    }


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=80))
def test_malformed_bodies_are_data_errors(data: bytes) -> None:
    ad = AvroData()
    nested = (
        SchemaBuilder.struct()
        .field(
            "l",
            SchemaBuilder.array(SchemaBuilder.struct().field("i", Schema.INT32).build()).build(),
        )
        .field("m", SchemaBuilder.map(Schema.INT64, Schema.OPTIONAL_STRING).build())
        .field("u", ad.to_connect_schema(["null", "int", "string", "bytes"]))
        .build()
    )
    for schema in (RECORD, nested, None):
        _, decode = ad.decoder(ad.connect_schema_text(schema))
        with contextlib.suppress(DataError):
            decode(data)


def test_a_huge_block_count_of_empty_records_is_refused() -> None:
    schema = SchemaBuilder.array(SchemaBuilder.struct().build()).build()
    ad = AvroData()
    _, decode = ad.decoder(ad.connect_schema_text(schema))
    with pytest.raises(DataError, match="longer than the data"):
        decode(b"\xfe\xff\xff\xff\x0f")  # 2**31 - 1 items, each of zero bytes


def test_many_blocks_of_empty_records_do_not_add_up_past_the_bound() -> None:
    schema = SchemaBuilder.array(SchemaBuilder.struct().build()).build()
    ad = AvroData()
    _, decode = ad.decoder(ad.connect_schema_text(schema))
    block = b"\x80\x89\x7a"  # 1,000,000 items (zig-zag varint), each of zero bytes
    assert len(decode(block + b"\x00")) == 1_000_000  # type: ignore[arg-type]
    # Each block alone is within the bound; a few hundred bytes of them are not.
    with pytest.raises(DataError, match="longer than the data"):
        decode(block * 100 + b"\x00")


# The native record reader (kconnect.data._avroc) against the generated Python one, its
# specification: the same value from every body, the same error from every malformed one.

NATIVE_OFF = os.environ.get("KCONNECT_NATIVE", "").strip().lower() == "off"


def test_the_native_record_reader_is_built() -> None:
    """`make setup` builds it (KCONNECT_NATIVE=require); the suite must test the shipped path."""
    if NATIVE_OFF:
        pytest.skip("KCONNECT_NATIVE=off")
    assert avro_codec.NATIVE is not None, "kconnect.data._avroc is missing: run `make setup`"


def _native_and_python(monkeypatch: pytest.MonkeyPatch, make: Callable[[], Any]) -> tuple[Any, Any]:
    """`make()` compiled with the native module, then without it (the Python specification)."""
    if avro_codec.NATIVE is None:
        pytest.skip("the native module is not built (KCONNECT_NATIVE=off)")
    native = avro_codec.NATIVE
    made = []
    for module in (native, None):
        monkeypatch.setattr(avro_codec, "NATIVE", module)
        made.append(make())
    monkeypatch.setattr(avro_codec, "NATIVE", native)
    return made[0], made[1]


@pytest.fixture
def both_readers(monkeypatch: pytest.MonkeyPatch) -> Callable[[Schema], tuple[Any, Any]]:
    """(native decoder, Python decoder) of a Connect schema's Avro bodies."""

    def make(schema: Schema) -> tuple[Any, Any]:
        def decoder() -> Any:
            ad = AvroData()
            return ad.decoder(ad.from_connect_schema(schema), reader_connect=schema)[1]

        return _native_and_python(monkeypatch, decoder)

    return make


def _record_of(fields: list[Schema]) -> Schema:
    builder = SchemaBuilder.struct()
    for i, field in enumerate(fields):
        builder.field(f"f{i}", field)
    return builder.build()


def _exact(value: object) -> object:
    """`value` in a form that compares equal only to the same value: floats by their bits (a NaN
    equals itself), structs by schema and values, containers by their members."""
    if isinstance(value, float):
        return ("float", struct.pack("<d", value))
    if isinstance(value, Struct):
        fields = value.schema.fields
        return ("struct", value.schema, [_exact(value.get_without_default(f)) for f in fields])
    if isinstance(value, list):
        return [_exact(v) for v in value]
    if isinstance(value, dict):
        return [(_exact(k), _exact(v)) for k, v in value.items()]
    return (type(value).__name__, value)


def _outcome(decode: Callable[[bytes], object], data: bytes) -> tuple[str, object]:
    try:
        return "value", _exact(decode(data))
    except DataError as e:
        return "error", str(e)


# `both_readers` is a factory that leaves nothing behind between examples.
@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(st.lists(schemas, min_size=1, max_size=6), st.data())
def test_native_records_read_as_the_python_reads_them(
    both_readers: Callable[[Schema], tuple[Any, Any]],
    fields: list[Schema],
    data: st.DataObject,
) -> None:
    # A record of generated fields: the kinds the native reader reads itself (ints, strings,
    # optional strings, doubles, floats, booleans, Timestamps) and every other through Python.
    schema = _record_of(fields)
    value = data.draw(values_for(schema))
    try:
        native, python = both_readers(schema)
    except DataError as e:
        assume("Can't redefine" not in str(e))
        raise
    ad = AvroData()
    body = ad.encoder(schema)(value)
    assert native(body) == python(body) == value
    # Malformed bodies: cut short anywhere, each byte changed to values that matter to varints,
    # union branches and booleans, bytes added.
    variants = [body[:cut] for cut in range(len(body))]
    variants += [body + data.draw(st.binary(min_size=1, max_size=4))]
    for at in range(len(body)):
        for byte in (0x00, 0x01, 0x02, 0x05, 0x7F, 0x80, 0xFF):
            variants.append(body[:at] + bytes([byte]) + body[at + 1 :])
    for variant in variants:
        assert _outcome(native, variant) == _outcome(python, variant)


def _zigzag(n: int) -> bytes:
    z = (n << 1) ^ (n >> 63)
    out = bytearray()
    while z >= 0x80:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)
    return bytes(out)


@pytest.mark.parametrize(
    "millis",
    [
        0,
        -1,
        1,
        86_399_999,
        -86_400_001,
        1_699_755_340_825,  # 2023-11-12T02:15:40.825Z
        -62_135_596_800_000,  # 0001-01-01T00:00:00Z, datetime's first moment
        -62_135_596_800_001,  # one millisecond before: out of range
        253_402_300_799_999,  # 9999-12-31T23:59:59.999Z
        253_402_300_800_000,  # out of range
        -(2**63),
        2**63 - 1,
    ],
)
def test_native_timestamps_are_the_pythons_to_the_range_edges(
    both_readers: Callable[[Schema], tuple[Any, Any]], millis: int
) -> None:
    schema = SchemaBuilder.struct().field("at", Timestamp.builder().build()).build()
    native, python = both_readers(schema)
    assert _outcome(native, _zigzag(millis)) == _outcome(python, _zigzag(millis))


@pytest.mark.parametrize(
    ("field", "body"),
    [
        (Schema.INT64, b"\xff" * 9 + b"\x02"),  # a varint longer than 64 bits
        (Schema.INT64, b"\xff" * 9),  # a varint that ends with the data
        (Schema.STRING, b"\x7f"),  # a length of -64
        (Schema.STRING, b"\xfe\xff\xff\xff\x0f"),  # far longer than the data
        (Schema.OPTIONAL_STRING, b"\x04"),  # a union branch out of range
        (Schema.OPTIONAL_STRING, b"\x02\x06ab"),  # a string cut short
        (Schema.FLOAT64, b"\x00" * 7),
        (Schema.FLOAT32, b"\x00" * 3),
        (Schema.BOOLEAN, b""),
    ],
)
def test_native_malformed_fields_fail_as_the_python_does(
    both_readers: Callable[[Schema], tuple[Any, Any]], field: Schema, body: bytes
) -> None:
    schema = SchemaBuilder.struct().field("f", field).build()
    native, python = both_readers(schema)
    outcome = _outcome(native, body)
    assert outcome[0] == "error", outcome
    assert outcome == _outcome(python, body)


@pytest.fixture
def both_encoders(monkeypatch: pytest.MonkeyPatch) -> Callable[[Schema], tuple[Any, Any]]:
    """(native encoder, Python encoder) of a Connect schema's values."""
    return lambda schema: _native_and_python(monkeypatch, lambda: AvroData().encoder(schema))


def _written(encode: Callable[[object], bytes], value: object) -> tuple[str, object]:
    try:
        return "bytes", encode(value)
    except DataError as e:
        return "error", str(e)


_odd_values = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**65), max_value=2**65)
    | st.floats()
    | st.text(max_size=4)
    | st.sampled_from(["\ud800", "a\udfffb"])  # lone surrogates: not valid UTF-8
    | st.binary(max_size=3)
    | st.datetimes(timezones=st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=-3))]))
    | st.datetimes()
    | st.decimals(allow_nan=False, places=2)
)


# `both_encoders` is a factory that leaves nothing behind between examples.
@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(st.lists(schemas, min_size=1, max_size=6), st.data())
def test_native_records_are_written_as_the_python_writes_them(
    both_encoders: Callable[[Schema], tuple[Any, Any]],
    fields: list[Schema],
    data: st.DataObject,
) -> None:
    schema = _record_of(fields)
    try:
        native, python = both_encoders(schema)
    except DataError as e:
        assume("Can't redefine" not in str(e))
        raise
    value = data.draw(values_for(schema))
    assert isinstance(value, Struct)
    assert native(value) == python(value)
    # Each field in turn given a value of any kind: the same bytes, or the same error.
    for i in range(len(fields)):
        odd = Struct._trusted(schema, list(value._values))
        odd._values[i] = data.draw(_odd_values)
        assert _written(native, odd) == _written(python, odd)
    # A struct of the same shape but another schema object, and not a struct at all.
    same_shape = Struct._trusted(SchemaBuilder.of(schema).build(), list(value._values))
    assert _written(native, same_shape) == _written(python, same_shape)
    assert _written(native, {"f0": 1}) == _written(python, {"f0": 1})


_UTC_MOMENTS = [
    dt.datetime(y, m, d, h, mi, s, us, tzinfo=dt.UTC)
    for (y, m, d, h, mi, s) in [
        (1, 1, 1, 0, 0, 0),
        (1969, 12, 31, 23, 59, 59),
        (1970, 1, 1, 0, 0, 0),
        (2000, 2, 29, 12, 30, 1),
        (2023, 11, 12, 2, 15, 40),
        (9999, 12, 31, 23, 59, 59),
    ]
    for us in (0, 1, 499, 500, 999, 999_999)
]
_FAST_CASES: dict[str, tuple[Schema, list[object]]] = {
    "int8": (Schema.INT8, [0, -128, 127, -129, 128, True, 1.0, None, "1"]),
    "int16": (Schema.INT16, [-(2**15), 2**15 - 1, 2**15, -(2**15) - 1]),
    "int32": (Schema.OPTIONAL_INT32, [0, -1, 2**31 - 1, -(2**31), 2**31, None, False]),
    "int64": (Schema.INT64, [2**63 - 1, -(2**63), 2**63, -(2**63) - 1, 2**80, 8191, -8193]),
    "string": (Schema.STRING, ["", "é", "a" * 9000, "\ud800", "x\udfff", b"x", None, 5]),
    "optional string": (Schema.OPTIONAL_STRING, ["", "ü", "\ud800", None, 1.5]),
    "double": (Schema.FLOAT64, [0.0, -0.0, float("nan"), float("inf"), 1e308, 1, None, "x"]),
    "optional double": (Schema.OPTIONAL_FLOAT64, [2.5, None, True]),
    "boolean": (Schema.BOOLEAN, [True, False, 1, 0, None]),
    "optional boolean": (Schema.OPTIONAL_BOOLEAN, [True, False, None, 1]),
    "timestamp": (
        Timestamp.builder().build(),
        [
            *_UTC_MOMENTS,
            dt.datetime(2023, 1, 1, 0, 0, 0, 500),  # naive
            dt.datetime(2023, 1, 1, 0, 0, 0, 500, tzinfo=dt.timezone(dt.timedelta(hours=-3))),
            dt.date(2023, 1, 1),
            None,
            1_700_000_000_000,
        ],
    ),
    "optional timestamp": (Timestamp.builder().optional().build(), [*_UTC_MOMENTS[:6], None]),
}


@pytest.mark.parametrize("case", sorted(_FAST_CASES))
def test_native_fast_fields_are_written_as_the_python_writes_them(
    both_encoders: Callable[[Schema], tuple[Any, Any]], case: str
) -> None:
    field, values = _FAST_CASES[case]
    schema = SchemaBuilder.struct().field("before", Schema.STRING).field("f", field).build()
    native, python = both_encoders(schema)
    for value in values:
        record = Struct._trusted(schema, ["b", value])
        assert _written(native, record) == _written(python, record), value
