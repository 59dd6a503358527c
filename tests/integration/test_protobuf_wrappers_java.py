"""kconnect's primitive roots against protobuf-java: the wrappers.proto text and the payloads.

For a primitive root Confluent's converter registers its printer's text of protobuf-java's
`WrappersProto.getDescriptor().toProto()` and writes the wrapper message's `toByteArray()`.
`tests/support/java/WrappersProtoJava.java`, compiled against the protobuf-java 3.25.x jar of the
test registry's distribution (`make registry-fetch`), prints that descriptor and those payloads.
kconnect's text must be the printer applied to exactly that descriptor (every option, message and
field it holds, nothing else), and its payloads the same bytes. Confluent's printer itself
(`ProtobufSchemaUtils`) is not on this machine: its rules are taken from its source and checked on
Confluent's published texts (tests/unit/data/test_protobuf_data.py).
"""

from __future__ import annotations

import base64
import math
import random
import struct
from pathlib import Path
from typing import Any, Final

import pytest

from kconnect.data.protobuf import ProtobufData, ProtobufDataConfig
from kconnect.data.protobuf_schema import (
    WRAPPERS_OPTIONS,
    WRAPPERS_TEXT,
    ProtoField,
    ProtoFile,
    ProtoMessage,
    print_file,
)
from kconnect.data.schema import Schema
from kconnect_devenv import registry
from tests.support.java_programs import compile_program, run_program

PROGRAM: Final = Path(__file__).resolve().parents[1] / "support" / "java" / "WrappersProtoJava.java"
DATA: Final = ProtobufData(ProtobufDataConfig())
CONFLUENT_FILE_OPTION_ORDER: Final = (
    "java_package",
    "java_outer_classname",
    "java_multiple_files",
    "java_generate_equals_and_hash",
    "java_string_check_utf8",
    "optimize_for",
    "go_package",
    "cc_generic_services",
    "java_generic_services",
    "py_generic_services",
    "php_generic_services",
    "deprecated",
    "cc_enable_arenas",
    "objc_class_prefix",
    "csharp_namespace",
    "swift_prefix",
    "php_class_prefix",
    "php_namespace",
    "php_metadata_namespace",
    "ruby_package",
)
"""The standard file options in the order `ProtobufSchema.toProtoFile` emits them."""
_KINDS: Final = {1: "double", 2: "float", 3: "int64", 4: "uint64", 5: "int32", 8: "bool"}
_KINDS_LEN: Final = {9: "string", 12: "bytes", 13: "uint32"}


@pytest.fixture(scope="module")
def protobuf_java(tmp_path_factory: pytest.TempPathFactory) -> str:
    lib = registry.fetch() / "lib"
    jars = sorted(lib.glob("com.google.protobuf.protobuf-java-3.*.jar"))
    assert len(jars) == 1, f"one protobuf-java 3.x jar expected in {lib}, found {jars}"
    return compile_program(PROGRAM, jars, tmp_path_factory.mktemp("wrappers-java"))


def _java(classpath: str, lines: list[str]) -> list[str]:
    return run_program(classpath, "WrappersProtoJava", lines)


def test_the_wrappers_text_is_the_printer_over_protobuf_javas_descriptor(
    protobuf_java: str,
) -> None:
    from google.protobuf import descriptor_pb2

    fdp = descriptor_pb2.FileDescriptorProto.FromString(
        base64.b64decode(_java(protobuf_java, [])[0])
    )
    # All the descriptor holds is printed: no imports, enums, services, extensions.
    assert sorted(f.name for f, _ in fdp.ListFields()) == [
        "message_type",
        "name",
        "options",
        "package",
        "syntax",
    ]
    assert (fdp.name, fdp.syntax) == ("google/protobuf/wrappers.proto", "proto3")
    options = [(f.name, v) for f, v in fdp.options.ListFields()]
    unknown = [name for name, _ in options if name not in CONFLUENT_FILE_OPTION_ORDER]
    assert not unknown, f"options the printer would print as custom options: {unknown}"
    options.sort(key=lambda o: CONFLUENT_FILE_OPTION_ORDER.index(o[0]))
    assert [(n, type(v), v) for n, v in options] == [(n, type(v), v) for n, v in WRAPPERS_OPTIONS]
    messages = []
    for m in fdp.message_type:
        assert sorted(f.name for f, _ in m.ListFields()) == ["field", "name"], m
        fields = []
        for f in m.field:
            # A json_name (which the printer prints), no default, options or oneof.
            assert sorted(x.name for x, _ in f.ListFields()) == [
                "json_name",
                "label",
                "name",
                "number",
                "type",
            ]
            assert f.label == f.LABEL_OPTIONAL
            kind = {**_KINDS, **_KINDS_LEN}[f.type]
            fields.append(ProtoField(f.name, f.number, kind, json_name=f.json_name))
        messages.append(ProtoMessage(m.name, fields))
    java_file = ProtoFile(package=fdp.package, options=options, messages=messages)
    assert print_file(java_file) == WRAPPERS_TEXT


def _literal(kind: str, value: Any) -> str:
    if kind == "float":
        return f"{int.from_bytes(struct.pack('<f', value), 'little'):x}"
    if kind == "double":
        return f"{int.from_bytes(struct.pack('<d', value), 'little'):x}"
    if kind == "bool":
        return "true" if value else "false"
    if kind == "string":
        return base64.b64encode(value.encode()).decode()
    if kind == "bytes":
        return base64.b64encode(value).decode()
    return str(value)


_ROOTS: Final = {
    "int32": [Schema.INT8, Schema.INT16, Schema.INT32],
    "int64": [Schema.INT64],
    "float": [Schema.FLOAT32],
    "double": [Schema.FLOAT64],
    "bool": [Schema.BOOLEAN],
    "string": [Schema.STRING],
    "bytes": [Schema.BYTES],
}
_PICKED: Final[list[tuple[Schema, str, Any]]] = [
    (Schema.INT8, "int32", -128),
    (Schema.INT8, "int32", 127),
    (Schema.INT16, "int32", -(2**15)),
    (Schema.INT32, "int32", 0),
    (Schema.INT32, "int32", -1),
    (Schema.INT32, "int32", -(2**31)),
    (Schema.INT32, "int32", 2**31 - 1),
    (Schema.INT64, "int64", 0),
    (Schema.INT64, "int64", -1),
    (Schema.INT64, "int64", -(2**63)),
    (Schema.INT64, "int64", 2**63 - 1),
    *((Schema.FLOAT32, "float", v) for v in (0.0, -0.0, 1.5, math.inf, -math.inf, math.nan)),
    (Schema.FLOAT32, "float", 1e-45),
    *((Schema.FLOAT64, "double", v) for v in (0.0, -0.0, -1.25, math.inf, math.nan, 5e-324)),
    (Schema.BOOLEAN, "bool", True),
    (Schema.BOOLEAN, "bool", False),
    *((Schema.STRING, "string", v) for v in ("", "k1", "ünï€😀", "x" * 200)),
    *((Schema.BYTES, "bytes", v) for v in (b"", b"\x00", bytes(range(256)))),
]


def _random_values(rng: random.Random, count: int) -> list[tuple[Schema, str, Any]]:
    out: list[tuple[Schema, str, Any]] = []
    for _ in range(count):
        kind = rng.choice(list(_ROOTS))
        schema = rng.choice(_ROOTS[kind])
        bits = {Schema.INT8: 7, Schema.INT16: 15, Schema.INT32: 31, Schema.INT64: 63}
        if schema in bits:
            n = bits[schema]
            value: Any = rng.randrange(-(2**n), 2**n)
        elif kind == "float":
            value = struct.unpack("<f", struct.pack("<f", rng.uniform(-1e30, 1e30)))[0]
        elif kind == "double":
            value = struct.unpack("<d", rng.randbytes(8))[0]
            if math.isnan(value):
                value = 0.5
        elif kind == "bool":
            value = rng.random() < 0.5
        elif kind == "string":
            value = "".join(
                chr(rng.choice([rng.randrange(32, 127), rng.randrange(160, 0xD7FF)]))
                for _ in range(rng.randrange(6))
            )
        else:
            value = rng.randbytes(rng.randrange(20))
        out.append((schema, kind, value))
    return out


def test_primitive_payloads_are_protobuf_javas_bytes(protobuf_java: str) -> None:
    cases = _PICKED + _random_values(random.Random(23), 300)
    java = _java(protobuf_java, [f"{kind} {_literal(kind, v)}" for _, kind, v in cases])[1:]
    assert len(java) == len(cases)
    for (schema, _, value), expected in zip(cases, java, strict=True):
        assert DATA.encoder(schema)(value).hex() == expected, (schema, value)
