"""The Connect ↔ Protobuf mapping and codec against Confluent's published expected texts.

The golden text is ksqlDB's `shouldConvertComplexLogicalSchemaToProtobufSchema` (the output of
Confluent's ProtobufData and printer for a schema with every kind of field), and the payload
golden is ksqlDB's row `{A: 123, B: 234.0, C: ["hello"]}` encoded by protobuf-java.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import re

import pytest

from kconnect.data.logical import Date, Decimal, Time, Timestamp
from kconnect.data.protobuf import ProtobufData, ProtobufDataConfig, message_indexes, scrub_name
from kconnect.data.protobuf_schema import WRAPPERS_TEXT, parse_file
from kconnect.data.schema import Schema, Struct
from kconnect.data.schema import SchemaBuilder as B
from kconnect.errors import ConfigError, DataError

S = Schema.OPTIONAL_STRING
TYPE_PARAM_NAME = "io.confluent.connect.protobuf.Type"
I32 = Schema.OPTIONAL_INT32
DATA = ProtobufData(ProtobufDataConfig())


def _opt(b: B) -> Schema:
    return b.optional().build()


def _dec(precision: int, scale: int) -> Schema:
    return (
        Decimal.builder(scale)
        .parameter("connect.decimal.precision", str(precision))
        .optional()
        .build()
    )


KSQL_SCHEMA = (
    B.struct()
    .field("K", _opt(B.struct().field("F1", _opt(B.array(S)))))
    .field("STR", S)
    .field("LONG", Schema.OPTIONAL_INT64)
    .field("DEC", _dec(4, 2))
    .field("BYTES_", Schema.OPTIONAL_BYTES)
    .field("ARRAY", _opt(B.array(S)))
    .field("MAP", _opt(B.map(S, S)))
    .field("STRUCT", _opt(B.struct().field("F1", I32)))
    .field(
        "COMPLEX",
        _opt(
            B.struct()
            .field("DECIMAL", _dec(2, 1))
            .field("STRUCT", _opt(B.struct().field("F1", S).field("F2", I32)))
            .field("ARRAY_STRUCT", _opt(B.array(_opt(B.struct().field("F1", S)))))
            .field("ARRAY_MAP", _opt(B.array(_opt(B.map(S, I32)))))
            .field("MAP_ARRAY", _opt(B.map(S, _opt(B.array(S)))))
            .field("MAP_MAP", _opt(B.map(S, _opt(B.map(S, I32)))))
            .field("MAP_STRUCT", _opt(B.map(S, _opt(B.struct().field("F1", S)))))
        ),
    )
    .field("TIMESTAMP", Timestamp.builder().optional().build())
    .field("DATE", Date.builder().optional().build())
    .field("TIME", Time.builder().optional().build())
    .field("HEAD", Schema.OPTIONAL_BYTES)
    .build()
)

_META = """[(confluent.field_meta) = {{
{i}  params: [
{i}    {{
{i}      value: "{p}",
{i}      key: "precision"
{i}    }},
{i}    {{
{i}      value: "{s}",
{i}      key: "scale"
{i}    }}
{i}  ]
{i}}}];"""

KSQL_TEXT = (
    'syntax = "proto3";\n'
    "\n"
    'import "confluent/type/decimal.proto";\n'
    'import "google/protobuf/timestamp.proto";\n'
    'import "google/type/date.proto";\n'
    'import "google/type/timeofday.proto";\n'
    "\n"
    "message ConnectDefault1 {\n"
    "  ConnectDefault2 K = 1;\n"
    "  string STR = 2;\n"
    "  int64 LONG = 3;\n"
    "  confluent.type.Decimal DEC = 4 " + _META.format(i="  ", p=4, s=2) + "\n"
    "  bytes BYTES_ = 5;\n"
    "  repeated string ARRAY = 6;\n"
    "  repeated ConnectDefault3Entry MAP = 7;\n"
    "  ConnectDefault4 STRUCT = 8;\n"
    "  ConnectDefault5 COMPLEX = 9;\n"
    "  google.protobuf.Timestamp TIMESTAMP = 10;\n"
    "  google.type.Date DATE = 11;\n"
    "  google.type.TimeOfDay TIME = 12;\n"
    "  bytes HEAD = 13;\n"
    "\n"
    "  message ConnectDefault2 {\n"
    "    repeated string F1 = 1;\n"
    "  }\n"
    "  message ConnectDefault3Entry {\n"
    "    string key = 1;\n"
    "    string value = 2;\n"
    "  }\n"
    "  message ConnectDefault4 {\n"
    "    int32 F1 = 1;\n"
    "  }\n"
    "  message ConnectDefault5 {\n"
    "    confluent.type.Decimal DECIMAL = 1 " + _META.format(i="    ", p=2, s=1) + "\n"
    "    ConnectDefault6 STRUCT = 2;\n"
    "    repeated ConnectDefault7 ARRAY_STRUCT = 3;\n"
    "    repeated ConnectDefault8Entry ARRAY_MAP = 4;\n"
    "    repeated ConnectDefault9Entry MAP_ARRAY = 5;\n"
    "    repeated ConnectDefault10Entry MAP_MAP = 6;\n"
    "    repeated ConnectDefault12Entry MAP_STRUCT = 7;\n"
    "  \n"
    "    message ConnectDefault6 {\n"
    "      string F1 = 1;\n"
    "      int32 F2 = 2;\n"
    "    }\n"
    "    message ConnectDefault7 {\n"
    "      string F1 = 1;\n"
    "    }\n"
    "    message ConnectDefault8Entry {\n"
    "      string key = 1;\n"
    "      int32 value = 2;\n"
    "    }\n"
    "    message ConnectDefault9Entry {\n"
    "      string key = 1;\n"
    "      repeated string value = 2;\n"
    "    }\n"
    "    message ConnectDefault10Entry {\n"
    "      string key = 1;\n"
    "      repeated ConnectDefault11Entry value = 2;\n"
    "    \n"
    "      message ConnectDefault11Entry {\n"
    "        string key = 1;\n"
    "        int32 value = 2;\n"
    "      }\n"
    "    }\n"
    "    message ConnectDefault12Entry {\n"
    "      string key = 1;\n"
    "      ConnectDefault13 value = 2;\n"
    "    \n"
    "      message ConnectDefault13 {\n"
    "        string F1 = 1;\n"
    "      }\n"
    "    }\n"
    "  }\n"
    "}\n"
)


def test_ksqldb_expected_text_byte_for_byte() -> None:
    assert DATA.from_connect_schema(KSQL_SCHEMA) == (KSQL_TEXT, "ConnectDefault1")


def test_ksqldb_expected_payload() -> None:
    schema = (
        B.struct()
        .field("A", I32)
        .field("B", Schema.OPTIONAL_FLOAT64)
        .field("C", _opt(B.array(S)))
        .build()
    )
    row = Struct(schema).put("A", 123).put("B", 234.0).put("C", ["hello"])
    assert DATA.encoder(schema)(row) == base64.b64decode("CHsRAAAAAABAbUAaBWhlbGxv")


ORDER_TEXT = """syntax = "proto3";
package com.acme;

import "confluent/type/decimal.proto";
import "google/protobuf/timestamp.proto";

message Order {
  int32 id = 1 [(confluent.field_meta) = {
    params: [
      {
        key: "connect.type",
        value: "int8"
      }
    ]
  }];
  confluent.type.Decimal amount = 2 [(confluent.field_meta) = {
    params: [
      {
        value: "2",
        key: "scale"
      }
    ]
  }];
  google.protobuf.Timestamp at = 3;
  repeated string tags = 4;
  repeated ConnectDefault1Entry attrs = 5;
  Inner inner = 6;
  Status status = 7;

  message ConnectDefault1Entry {
    string key = 1;
    int32 value = 2;
  }
  message Inner {
    string name = 1;
  }
  enum Status {
    NEW = 0;
    PAID = 1;
  }
}
"""

STATUS = (
    B.string()
    .name("com.acme.Status")
    .parameter("io.confluent.connect.protobuf.Enum", "Status")
    .parameter("io.confluent.connect.protobuf.Enum.NEW", "0")
    .parameter("io.confluent.connect.protobuf.Enum.PAID", "1")
    .optional()
    .build()
)
ORDER = (
    B.struct()
    .name("com.acme.Order")
    .field("id", Schema.INT8)
    .field("amount", Decimal.schema(2))
    .field("at", Timestamp.builder().optional().build())
    .field("tags", _opt(B.array(Schema.STRING)))
    .field("attrs", _opt(B.map(Schema.STRING, Schema.INT32)))
    .field("inner", _opt(B.struct().name("com.acme.Inner").field("name", Schema.STRING)))
    .field("status", STATUS)
    .build()
)


def _order() -> Struct:
    inner = ORDER.field("inner").schema  # type: ignore[union-attr]
    return (
        Struct(ORDER)
        .put("id", -3)
        .put("amount", decimal.Decimal("-12.80"))
        .put("at", dt.datetime(1969, 12, 31, 23, 59, 59, 500000, tzinfo=dt.UTC))
        .put("tags", ["a", "", "b"])
        .put("attrs", {"x": 1, "y": 0})
        .put("inner", Struct(inner).put("name", "n"))
        .put("status", "PAID")
    )


def test_named_struct_with_enum_decimal_timestamp_and_map() -> None:
    assert DATA.from_connect_schema(ORDER) == (ORDER_TEXT, "com.acme.Order")


def test_round_trip_through_the_registered_text() -> None:
    payload = DATA.encoder(ORDER)(_order())
    read = DATA.to_connect_schema(parse_file(ORDER_TEXT), [0], version=3)
    assert read.name == "Order"
    assert read.version == 3
    assert [f.name for f in read.fields] == [f.name for f in ORDER.fields]
    assert read.field("id").schema.type.value == "int8"  # type: ignore[union-attr]
    assert read.field("amount").schema.parameters == {  # type: ignore[union-attr]
        "scale": "2",
        "io.confluent.connect.protobuf.Tag": "2",
    }
    value = DATA.decoder(read)(payload, 0)
    assert isinstance(value, Struct)
    assert value["id"] == -3
    assert value["amount"] == decimal.Decimal("-12.80")
    assert value["at"] == dt.datetime(1969, 12, 31, 23, 59, 59, 500000, tzinfo=dt.UTC)
    assert value["tags"] == ["a", "", "b"]
    assert value["attrs"] == {"x": 1, "y": 0}
    assert value["inner"]["name"] == "n"  # type: ignore[index]
    assert value["status"] == "PAID"
    assert DATA.encoder(read)(value) == payload  # the read schema writes the same bytes


def test_proto3_presence_and_javas_byte_layouts() -> None:
    schema = (
        B.struct()
        .field("d", Decimal.builder(2).optional().build())
        .field("z", Schema.OPTIONAL_FLOAT64)
        .field("n", Schema.OPTIONAL_INT32)
        .field("s", S)
        .field("day", Date.builder().optional().build())
        .build()
    )
    enc = DATA.encoder(schema)
    zero = Struct(schema).put("d", decimal.Decimal("0.00")).put("z", 0.0).put("n", 0).put("s", "")
    assert enc(zero) == bytes.fromhex("0a07 0a0100 1001 1802".replace(" ", ""))
    assert enc(Struct(schema).put("z", -0.0)) == bytes.fromhex("110000000000000080")
    assert enc(Struct(schema).put("n", -1)) == bytes.fromhex("18ffffffffffffffffff01")
    assert enc(Struct(schema).put("d", decimal.Decimal("1.28"))) == bytes.fromhex(
        "0a08 0a020080 1003 1802".replace(" ", "")
    )
    # 1500-03-01 is 1500-02-20 in Java's (Julian before 1582-10-15) calendar.
    julian = enc(Struct(schema).put("day", dt.date(1500, 3, 1)))
    assert julian == bytes.fromhex("2a07 08dc0b 1002 1814".replace(" ", ""))
    read = DATA.decoder(
        DATA.to_connect_schema(parse_file(DATA.from_connect_schema(schema)[0]), [0])
    )
    assert read(julian, 0)["day"] == dt.date(1500, 3, 1)
    assert read(b"", 0)["s"] == ""


def test_bad_payloads_are_data_errors_naming_the_problem() -> None:
    read = DATA.decoder(DATA.to_connect_schema(parse_file(ORDER_TEXT), [0]))
    with pytest.raises(DataError, match="ends inside"):
        read(b"\x22\x05ab", 0)
    with pytest.raises(DataError, match="wire type"):
        read(b"\x0a\x01a", 0)  # field 1 (int32) as length-delimited
    with pytest.raises(DataError, match="enum number 7"):
        read(b"\x38\x07", 0)
    with pytest.raises(DataError, match="out of range"):
        DATA.to_connect_schema(parse_file(ORDER_TEXT), [1])


def test_schemas_confluent_refuses_and_names_it_scrubs() -> None:
    nested = B.struct().field("a", _opt(B.array(_opt(B.array(S))))).build()
    with pytest.raises(DataError, match="Array cannot be nested"):
        DATA.from_connect_schema(nested)
    with pytest.raises(DataError, match="Unsupported root schema of type ARRAY"):
        DATA.from_connect_schema(B.array(S).build())
    with pytest.raises(DataError, match="Unsupported root schema of type MAP"):
        DATA.from_connect_schema(B.map(S, S).build())
    with pytest.raises(
        DataError, match=r"org\.apache\.kafka\.connect\.data\.Timestamp.*Int64Value"
    ):
        DATA.from_connect_schema(Timestamp.builder().build())
    bad = B.struct().field("my-field", S).build()
    with pytest.raises(DataError, match=r"scrub\.invalid\.names"):
        DATA.from_connect_schema(bad)
    scrubbing = ProtobufData(ProtobufDataConfig.from_configs({"scrub.invalid.names": "true"}))
    assert "string my_field = 1;" in scrubbing.from_connect_schema(bad)[0]
    assert [scrub_name(n) for n in ("1abc", "_id", "a b", "é")] == [
        "x1abc",
        "x_id",
        "a_b",
        "_C3_A9",
    ]


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("optional.for.nullables", "sometimes"),
        ("wrapper.for.nullables", "true"),
        ("int.for.enums", "yes"),
        ("generate.index.for.unions", "false"),
        ("skip.known.types", "false"),
        ("flatten.unions", "true"),
        ("scrub.invalid.names", "maybe"),
    ],
)
def test_unsupported_options_are_refused_naming_the_key(key: str, value: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(f"'{key}'")):
        ProtobufDataConfig.from_configs({key: value})


WIRE_TEXT = """// Proto schema formatted by Wire, do not edit.
// Source:

syntax = "proto3";

package com.acme;

message Order {
  int32 id = 1;
  .com.acme.Order.Inner inner = 2;
  repeated .com.acme.Order.AttrsEntry attrs = 3;
  optional string note = 4;

  oneof choice {
    string a = 5;
    int64 b = 6;
  }

  message Inner {
    string name = 1;
  }

  message AttrsEntry {
    option map_entry = true;

    string key = 1;
    sint32 value = 2;
  }
}
"""


def test_wire_text_as_apicurio_stores_base64_registrations() -> None:
    schema = DATA.to_connect_schema(parse_file(WIRE_TEXT), [0])
    assert [f.name for f in schema.fields] == ["choice_0", "id", "inner", "attrs", "note"]
    union = schema.field("choice_0").schema  # type: ignore[union-attr]
    assert union.name == "io.confluent.connect.protobuf.Union.choice"
    attrs = schema.field("attrs").schema  # type: ignore[union-attr]
    assert attrs.type.value == "map"
    assert attrs.name == "attrs"
    assert attrs.value_schema.parameters["io.confluent.connect.protobuf.Type"] == "sint32"  # type: ignore[index, union-attr]
    payload = bytes.fromhex("0801 2201 78 3001 1a05 0a01 6b 1003")
    value = DATA.decoder(schema)(payload, 0)
    assert value["choice_0"]["b"] == 1
    assert value["note"] == "x"
    assert value["id"] == 1
    assert value["attrs"] == {"k": -2}
    assert DATA.encoder(schema)(value) == bytes.fromhex("0801 1a05 0a01 6b 1003 2201 78 3001")


def test_a_text_that_does_not_parse_is_a_data_error() -> None:
    with pytest.raises(DataError, match=r"not a \.proto file that parses: line 2:8"):
        parse_file('syntax = "proto3";\nmessage {')


def test_base64_descriptor_as_confluent_kafkas_serializer_registers_it() -> None:
    from google.protobuf import descriptor_pb2

    f = descriptor_pb2.FieldDescriptorProto
    fdp = descriptor_pb2.FileDescriptorProto(name="a.proto", package="com.acme", syntax="proto3")
    order = fdp.message_type.add(name="Order")
    order.field.add(name="id", number=1, type=f.TYPE_INT32)
    order.field.add(name="a", number=5, type=f.TYPE_STRING, oneof_index=0)
    order.field.add(name="b", number=6, type=f.TYPE_INT64, oneof_index=0)
    order.field.add(name="note", number=4, type=f.TYPE_STRING, oneof_index=1, proto3_optional=True)
    order.field.add(
        name="attrs",
        number=3,
        type=f.TYPE_MESSAGE,
        label=f.LABEL_REPEATED,
        type_name=".com.acme.Order.AttrsEntry",
    )
    order.oneof_decl.add(name="choice")
    order.oneof_decl.add(name="_note")
    entry = order.nested_type.add(name="AttrsEntry")
    entry.options.map_entry = True
    entry.field.add(name="key", number=1, type=f.TYPE_STRING)
    entry.field.add(name="value", number=2, type=f.TYPE_SINT32)

    text = base64.b64encode(fdp.SerializeToString()).decode()
    schema = DATA.to_connect_schema(parse_file(text), [0])

    assert [f.name for f in schema.fields] == ["choice_0", "id", "note", "attrs"]
    attrs = schema.field("attrs")
    assert attrs is not None
    assert attrs.schema.type.value == "map"
    value = DATA.decoder(schema)(bytes.fromhex("0801 2201 78 3001 1a05 0a01 6b 1003"), 0)
    assert value["attrs"] == {"k": -2}
    assert value["choice_0"]["b"] == 1


def test_a_decimal_of_forty_digits_reads_back_exactly() -> None:
    schema = B.struct().field("d", Decimal.builder(3).optional().build()).build()
    big = decimal.Decimal("-1234567890123456789012345678901234567.890")
    text, _ = DATA.from_connect_schema(schema)
    read = DATA.decoder(DATA.to_connect_schema(parse_file(text), [0]))
    assert read(DATA.encoder(schema)(Struct(schema).put("d", big)), 0)["d"] == big


def test_the_converter_under_both_names_with_its_keys_described() -> None:
    from kconnect.converters.protobuf import ProtobufConverter, ProtobufConverterConfig
    from kconnect.herder.validation import config_key_infos
    from kconnect.plugins.registry import PluginRegistry

    plugins = PluginRegistry()
    assert plugins.resolve("io.confluent.connect.protobuf.ProtobufConverter") is ProtobufConverter
    assert plugins.resolve("ProtobufConverter") is ProtobufConverter
    keys = {k.name: k.type for k in config_key_infos(ProtobufConverterConfig)}
    assert keys["basic.auth.user.info"] == "PASSWORD"
    assert {"enhanced.protobuf.schema.support", "scrub.invalid.names"} <= keys.keys()


FLINK_TEXT = (  # Flink's Confluent-Protobuf test schema: absolute names, proto3 `optional`
    'syntax = "proto3";\n'
    "package io.confluent.protobuf.generated;\n"
    "\n"
    'import "confluent/type/decimal.proto";\n'
    'import "google/protobuf/timestamp.proto";\n'
    'import "google/type/date.proto";\n'
    'import "google/type/timeofday.proto";\n'
    "\n"
    "message Row {\n"
    "  bool booleanNotNull = 1;\n"
    '  int32 tinyIntNotNull = 3 [(confluent.field_meta) = { params: [ { key: "connect.type",'
    ' value: "int8" } ] }];\n'
    "  optional .google.type.Date date = 15;\n"
    "  optional .confluent.type.Decimal decimal = 16 [(confluent.field_meta) = {\n"
    '    params: [ { value: "5", key: "precision" }, { value: "1", key: "scale" } ]\n'
    "  }];\n"
    "  optional .google.protobuf.Timestamp timestamp = 17;"
    "  optional .google.type.TimeOfDay time = 18;\n"
    "  optional string string = 19;\n"
    "}"
)


def test_flinks_schema_text_reads_with_its_logical_types() -> None:
    schema = DATA.to_connect_schema(parse_file(FLINK_TEXT), [0])
    fields = {f.name: f.schema for f in schema.fields}
    assert fields["tinyIntNotNull"].type.value == "int8"
    assert fields["decimal"].parameters == {
        "scale": "1",
        "connect.decimal.precision": "5",
        "io.confluent.connect.protobuf.Tag": "16",
    }
    assert [fields[n].name for n in ("date", "timestamp", "time")] == [
        "org.apache.kafka.connect.data.Date",
        "org.apache.kafka.connect.data.Timestamp",
        "org.apache.kafka.connect.data.Time",
    ]
    # Java's DecimalUtils.fromBigDecimal(1234.5) and TimeOfDay 16:45:01.000009.
    payload = bytes.fromhex("8201 08 0a023039 1005 1801  9201 09 0810 102d 1801 20a846")
    value = DATA.decoder(schema)(payload, 0)
    assert value["decimal"] == decimal.Decimal("1234.5")
    assert value["time"] == dt.time(16, 45, 1)


@pytest.mark.parametrize(
    "text",
    [
        base64.b64encode(b"\x0a\x02\xff\xfe").decode(),  # a name that is not UTF-8
        base64.b64encode(b"\x22\x04\x12\x02\x48\x05").decode(),  # a field in oneof 5 of none
        base64.b64encode(b"\x22\x03\x0a\x01").decode(),  # truncated
        "message A { int32 a = 1; } }",
        'syntax = "proto3"; message A { B b = 1; }',
    ],
)
def test_registered_schemas_that_are_broken_are_data_errors(text: str) -> None:
    with pytest.raises(DataError):
        DATA.to_connect_schema(parse_file(text), [0])


def test_int_for_enums_reads_an_enum_as_int32_that_writes_the_same_text_and_bytes() -> None:
    ints = ProtobufData(ProtobufDataConfig.from_configs({"int.for.enums": "true"}))
    read = ints.to_connect_schema(parse_file(ORDER_TEXT), [0])
    status = read.field("status")
    assert status is not None
    assert status.schema.type.value == "int32"
    assert status.schema.parameters is not None
    assert status.schema.parameters["io.confluent.connect.protobuf.Enum.PAID"] == "1"
    payload = DATA.encoder(ORDER)(_order())
    value = ints.decoder(read)(payload, 0)
    assert value["status"] == 1
    assert ints.encoder(read)(value) == payload


# Confluent's ProtobufConverterTest: the Connect schema its converter reads for TestMessage (every
# scalar kind, Tags and Type parameters, optional, version 1) and the bytes protobuf-java writes
# for {test_string: "Hello World", test_int32: 123} with every other field at its zero value.
TEST_MESSAGE_TEXT = """syntax = "proto3";
package io.confluent.kafka.serializers.protobuf.test;

message TestMessage {
  string test_string = 1;
  bool test_bool = 2;
  bytes test_bytes = 3;
  double test_double = 4;
  float test_float = 5;
  fixed32 test_fixed32 = 6;
  fixed64 test_fixed64 = 7;
  int32 test_int32 = 8;
  int64 test_int64 = 9;
  sfixed32 test_sfixed32 = 10;
  sfixed64 test_sfixed64 = 11;
  sint32 test_sint32 = 12;
  sint64 test_sint64 = 13;
  uint32 test_uint32 = 14;
  uint64 test_uint64 = 15;
}
"""
_TEST_MESSAGE_FIELDS = [
    ("test_string", B.string(), None),
    ("test_bool", B.bool(), None),
    ("test_bytes", B.bytes(), None),
    ("test_double", B.float64(), None),
    ("test_float", B.float32(), None),
    ("test_fixed32", B.int64(), "fixed32"),
    ("test_fixed64", B.int64(), "fixed64"),
    ("test_int32", B.int32(), None),
    ("test_int64", B.int64(), None),
    ("test_sfixed32", B.int32(), "sfixed32"),
    ("test_sfixed64", B.int64(), "sfixed64"),
    ("test_sint32", B.int32(), "sint32"),
    ("test_sint64", B.int64(), "sint64"),
    ("test_uint32", B.int64(), "uint32"),
    ("test_uint64", B.int64(), "uint64"),
]


def _java_test_message_schema(name: str) -> Schema:
    builder = B.struct().name(name)
    for tag, (field, kind, type_) in enumerate(_TEST_MESSAGE_FIELDS, start=1):
        kind.optional().parameter("io.confluent.connect.protobuf.Tag", str(tag))
        if type_ is not None:
            kind.parameter("io.confluent.connect.protobuf.Type", type_)
        builder.field(field, kind.build())
    return builder.version(1).build()


def test_confluents_converter_test_message_read_and_written() -> None:
    expected = _java_test_message_schema("TestMessage")
    read = DATA.to_connect_schema(parse_file(TEST_MESSAGE_TEXT), [0], version=1)
    assert read == expected
    hello = bytes.fromhex("0a0b") + b"Hello World" + bytes.fromhex("407b")
    value = DATA.decoder(read)(hello, 0)
    zeros = {
        f: value[f] for f, _, _ in _TEST_MESSAGE_FIELDS if f not in ("test_string", "test_int32")
    }
    assert set(zeros.values()) == {0, b""}  # False == 0 == 0.0: Java's zero values
    assert (value["test_string"], value["test_int32"]) == ("Hello World", 123)
    # Java's testFromConnectDataForValue[WithNamespace]: the struct with zeros set writes hello.
    for name in ("TestMessage", "io.confluent.kafka.serializers.protobuf.test.TestMessage"):
        schema = _java_test_message_schema(name)
        struct = Struct(schema)
        for f, _, _ in _TEST_MESSAGE_FIELDS:
            struct.put(f, value[f])
        assert DATA.encoder(schema)(struct) == hello


def test_confluents_converter_test_complex_round_trip() -> None:
    """Confluent's `testComplex`: an unnamed struct with Tags, written and read back, reads as
    `ConnectDefault1` (version 1) with the map named `connect_default2`."""

    def tagged(b: B, tag: int) -> Schema:
        return b.optional().parameter("io.confluent.connect.protobuf.Tag", str(tag)).build()

    def fields(builder: B) -> B:
        return (
            builder.field("int32", tagged(B.int32(), 1))
            .field("int64", tagged(B.int64(), 2))
            .field("float32", tagged(B.float32(), 3))
            .field("float64", tagged(B.float64(), 4))
            .field("boolean", tagged(B.bool(), 5))
            .field("string", tagged(B.string(), 6))
            .field("bytes", tagged(B.bytes(), 7))
            .field("array", tagged(B.array(Schema.OPTIONAL_STRING), 8))
            .field(
                "map",
                tagged(
                    B.map(tagged(B.string(), 1), tagged(B.int32(), 2)).name("connect_default2"), 9
                ),
            )
        )

    schema = fields(B.struct()).build()
    values = {
        "int32": 12,
        "int64": 12,
        "float32": 12.199999809265137,
        "float64": 12.2,
        "boolean": True,
        "string": "foo",
        "bytes": b"foo",
        "array": ["a", "b", "c"],
        "map": {"field": 1},
    }
    original = Struct(schema)
    for name, value in values.items():
        original.put(name, value)
    text, name = DATA.from_connect_schema(schema)
    read = DATA.to_connect_schema(parse_file(text), [0], version=1)

    assert name == "ConnectDefault1"
    assert read == fields(B.struct().name("ConnectDefault1").version(1)).build()
    back = DATA.decoder(read)(DATA.encoder(schema)(original), 0)
    assert {n: back[n] for n in values} == values


def test_confluents_converter_test_complex_optional_round_trip() -> None:
    """Confluent's `testComplexOptional` (`optional.for.nullables=true`): optional fields are
    proto3 `optional`, so a null reads back as null and a zero as zero; required ones stay
    required; the map's key and value (required) too."""
    tag = "io.confluent.connect.protobuf.Tag"
    kinds = [B.int32, B.int64, B.float32, B.float64, B.bool, B.string, B.bytes]
    names = ["int32", "int64", "float32", "float64", "boolean", "string", "bytes"]

    def fields(builder: B) -> B:
        number = 1
        for suffix, optional in (("_null", True), ("_opt", True), ("", False)):
            for name, kind in zip(names, kinds, strict=True):
                b = kind().parameter(tag, str(number))
                builder.field(name + suffix, (b.optional() if optional else b).build())
                number += 1
        builder.field(
            "array", B.array(Schema.OPTIONAL_STRING).optional().parameter(tag, "22").build()
        )
        entry = B.map(B.string().parameter(tag, "1").build(), B.int32().parameter(tag, "2").build())
        return builder.field(
            "map", entry.name("connect_default2").optional().parameter(tag, "23").build()
        )

    schema = fields(B.struct()).build()
    zeros: list[object] = [0, 0, 0.0, 0.0, False, "", b""]
    full: list[object] = [12, 12, 12.199999809265137, 12.2, True, "foo", b"foo"]
    values: dict[str, object] = {}
    for name, zero, value in zip(names, zeros, full, strict=True):
        values |= {name + "_null": None, name + "_opt": zero, name: value}
    values |= {"array": ["a", "b", "c"], "map": {"field": 1}}
    original = Struct(schema)
    for name, value in values.items():
        original.put(name, value)
    data = ProtobufData(ProtobufDataConfig.from_configs({"optional.for.nullables": "true"}))

    text, _ = data.from_connect_schema(schema)
    read = data.to_connect_schema(parse_file(text), [0], version=1)
    back = data.decoder(read)(data.encoder(schema)(original), 0)

    assert "  optional int32 int32_null = 1;\n" in text
    assert "  int32 int32 = 15;\n" in text
    assert "    string key = 1;\n" in text
    assert read == fields(B.struct().name("ConnectDefault1").version(1)).build()
    assert {n: back[n] for n in values} == values
    assert type(back["float64_opt"]) is float


# --- primitive roots: google/protobuf/wrappers.proto ---------------------------------------------

WRAPPERS_GOLDEN = """syntax = "proto3";
package google.protobuf;

option java_package = "com.google.protobuf";
option java_outer_classname = "WrappersProto";
option java_multiple_files = true;
option go_package = "google.golang.org/protobuf/types/known/wrapperspb";
option cc_enable_arenas = true;
option objc_class_prefix = "GPB";
option csharp_namespace = "Google.Protobuf.WellKnownTypes";

message DoubleValue {
  double value = 1 [json_name = "value"];
}
message FloatValue {
  float value = 1 [json_name = "value"];
}
message Int64Value {
  int64 value = 1 [json_name = "value"];
}
message UInt64Value {
  uint64 value = 1 [json_name = "value"];
}
message Int32Value {
  int32 value = 1 [json_name = "value"];
}
message UInt32Value {
  uint32 value = 1 [json_name = "value"];
}
message BoolValue {
  bool value = 1 [json_name = "value"];
}
message StringValue {
  string value = 1 [json_name = "value"];
}
message BytesValue {
  bytes value = 1 [json_name = "value"];
}
"""

PRIMITIVE_ROOTS = [
    (Schema.INT8, "Int32Value", [4], -3, "08fdffffffffffffffff01", Schema.OPTIONAL_INT32),
    (Schema.INT16, "Int32Value", [4], 300, "08ac02", Schema.OPTIONAL_INT32),
    (Schema.INT32, "Int32Value", [4], 0, "", Schema.OPTIONAL_INT32),
    (Schema.INT64, "Int64Value", [2], 2**63 - 1, "08ffffffffffffffff7f", Schema.OPTIONAL_INT64),
    (Schema.FLOAT32, "FloatValue", [1], 1.5, "0d0000c03f", Schema.OPTIONAL_FLOAT32),
    (Schema.FLOAT64, "DoubleValue", [0], -0.0, "090000000000000080", Schema.OPTIONAL_FLOAT64),
    (Schema.OPTIONAL_BOOLEAN, "BoolValue", [6], True, "0801", Schema.OPTIONAL_BOOLEAN),
    (Schema.BOOLEAN, "BoolValue", [6], False, "", Schema.OPTIONAL_BOOLEAN),
    (Schema.STRING, "StringValue", [7], "k1", "0a026b31", Schema.OPTIONAL_STRING),
    (Schema.STRING, "StringValue", [7], "", "", Schema.OPTIONAL_STRING),
    (Schema.BYTES, "BytesValue", [8], b"\x00\xff", "0a0200ff", Schema.OPTIONAL_BYTES),
]


def test_the_wrappers_file_as_confluents_printer_prints_it() -> None:
    assert WRAPPERS_TEXT == WRAPPERS_GOLDEN
    file = parse_file(WRAPPERS_TEXT)
    assert file.package == "google.protobuf"
    assert [m.name for m in file.messages][7] == "StringValue"


@pytest.mark.parametrize(
    ("schema", "wrapper", "indexes", "value", "payload", "read_as"), PRIMITIVE_ROOTS
)
def test_a_primitive_root_is_its_wrapper_message_in_wrappers_proto(
    schema: Schema, wrapper: str, indexes: list[int], value: object, payload: str, read_as: Schema
) -> None:
    text, full_name = DATA.from_connect_schema(schema)
    assert (text, full_name) == (WRAPPERS_TEXT, f"google.protobuf.{wrapper}")
    assert message_indexes(text, full_name) == indexes
    written = DATA.encoder(schema)(value)
    assert written == bytes.fromhex(payload)
    read_schema = DATA.to_connect_schema(parse_file(text), indexes, version=4)
    assert read_schema == B.of(read_as).version(4).build()
    back = DATA.decoder(read_schema)(written, 0)
    assert back == value
    assert str(back) == str(value)  # -0.0 stays negative


def test_a_named_primitive_root_with_protobuf_parameters_is_still_the_plain_wrapper() -> None:
    schema = B.int64().name("com.acme.Key").parameter(TYPE_PARAM_NAME, "sint64").build()
    assert DATA.from_connect_schema(schema) == (WRAPPERS_TEXT, "google.protobuf.Int64Value")
    assert DATA.encoder(schema)(-1) == bytes.fromhex("08ffffffffffffffffff01")  # int64, no zigzag
    # A struct named like a wrapper is its own file's one message.
    like = B.struct().name("google.protobuf.StringValue").field("value", S).build()
    text, full_name = DATA.from_connect_schema(like)
    assert full_name == "google.protobuf.StringValue"
    assert text != WRAPPERS_TEXT
    assert message_indexes(text, full_name) == [0]


def test_a_wrapper_payload_that_is_not_one_is_a_data_error() -> None:
    read = DATA.decoder(DATA.to_connect_schema(parse_file(WRAPPERS_TEXT), [7]))
    assert read(bytes.fromhex("0a026b31 0a026b32"), 0) == "k2"  # the last one wins
    with pytest.raises(DataError, match=r"field value \(number 1\) has wire type 0, not 2"):
        read(b"\x08\x01", 0)
    with pytest.raises(DataError, match="ends inside"):
        read(b"\x0a\x05ab", 0)
    with pytest.raises(DataError, match="not UTF-8"):
        read(b"\x0a\x01\xff", 0)


def test_a_primitive_value_that_does_not_fit_is_a_data_error() -> None:
    with pytest.raises(DataError, match="int8"):
        DATA.encoder(Schema.INT8)(200)
    with pytest.raises(DataError, match="string"):
        DATA.encoder(Schema.STRING)(5)
