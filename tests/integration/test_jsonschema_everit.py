"""The JSON Schema text kconnect registers, against everit's own printing.

Confluent's JSON Schema support builds its schemas with everit (com.github.erosb:everit-json-schema)
and registers everit's `toString()`; the key order of that text depends on everit's printer and on
the sizes of the `HashMap`s behind it. `tests/support/java/ConnectToEverit.java` makes the everit
schemas with the builder calls of `JsonSchemaData.rawSchemaFromConnectSchema`, compiled against
the everit and org.json jars of the test registry's distribution (`make registry-fetch`); for
each Connect schema here, kconnect's text must be the same to the byte.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Final

import pytest

from kconnect.converters.jsonschema import Options, json_schema_text
from kconnect.data.logical import Date, Decimal, Time, Timestamp
from kconnect.data.schema import Schema, SchemaBuilder, Type
from kconnect_devenv import registry
from tests.support.java_programs import compile_program, run_program

PROGRAM: Final = Path(__file__).resolve().parents[1] / "support" / "java" / "ConnectToEverit.java"
OPTS: Final = Options(numeric_decimals=True, replace_null=True, confluent_json=True)
ENUM: Final = "io.confluent.connect.json.Enum"
_TYPE_NAMES: Final = {Type.FLOAT32: "float32", Type.FLOAT64: "float64"}


def _descriptor(schema: Schema) -> dict[str, object]:
    d: dict[str, object] = {
        "type": _TYPE_NAMES.get(schema.type, schema.type.name.lower()),
        "optional": schema.optional,
    }
    if schema.name is not None:
        d["name"] = schema.name
    if schema.version is not None:
        d["version"] = schema.version
    if schema.doc is not None:
        d["doc"] = schema.doc
    if schema.parameters:
        d["parameters"] = [[k, v] for k, v in schema.parameters.items()]
    if schema.default is not None:
        d["default"] = schema.default
    if schema.type is Type.STRUCT:
        d["fields"] = [[f.name, _descriptor(f.schema)] for f in schema.fields]
    if schema.key_schema is not None:
        d["keys"] = _descriptor(schema.key_schema)
    if schema.value_schema is not None:
        d["values"] = _descriptor(schema.value_schema)
    return d


def _enum(*symbols: str) -> SchemaBuilder:
    builder = SchemaBuilder.string().parameter(ENUM, "")
    for symbol in symbols:
        builder.parameter(f"{ENUM}.{symbol}", symbol)
    return builder


def _random_struct(rng: random.Random, depth: int = 0) -> Schema:
    builder = SchemaBuilder.struct().name(f"rec{rng.randrange(1000)}")
    words = ["id", "name", "qty", "price", "at", "tags", "attrs", "flag", "note", "kind", "x", "y"]
    for name in rng.sample(words, rng.randrange(1, len(words))):
        builder.field(name, _random_schema(rng, depth + 1))
    if rng.random() < 0.3:
        builder.optional()
    return builder.build()


def _random_schema(rng: random.Random, depth: int) -> Schema:
    kinds = ["int8", "int16", "int32", "int64", "float32", "float64", "bool", "string", "bytes"]
    kinds += ["decimal", "date", "time", "timestamp", "enum"]
    if depth < 3:
        kinds += ["array", "smap", "imap", "struct"]
    kind = rng.choice(kinds)
    if kind == "struct":
        return _random_struct(rng, depth)
    builders = {
        "decimal": lambda: Decimal.builder(rng.randrange(4)),
        "date": Date.builder,
        "time": Time.builder,
        "timestamp": Timestamp.builder,
        "enum": lambda: _enum(*rng.sample(["RED", "GREEN", "BLUE", "CYAN", "MAGENTA"], 3)),
        "array": lambda: SchemaBuilder.array(_random_schema(rng, depth + 1)),
        "smap": lambda: SchemaBuilder.map(
            SchemaBuilder.string().build(), _random_schema(rng, depth + 1)
        ),
        "imap": lambda: SchemaBuilder.map(
            SchemaBuilder.int32().build(), _random_schema(rng, depth + 1)
        ),
    }
    builder = builders[kind]() if kind in builders else getattr(SchemaBuilder, kind)()
    if rng.random() < 0.2:
        builder.doc(f"doc of {kind}")
    if rng.random() < 0.2 and kind in ("int32", "int64", "string", "bool"):
        builder.default_value({"int32": 7, "int64": 8, "string": "s", "bool": True}[kind])
    if rng.random() < 0.15 and kind in ("string", "int64"):
        builder.parameter("p1", "v1").parameter("another.param", "v2")
    if rng.random() < 0.3:
        builder.optional()
    return builder.build()


HAND_PICKED: Final = [
    SchemaBuilder.struct()
    .name("T")
    .field("a", SchemaBuilder.int32().build())
    .field("b", SchemaBuilder.string().doc("d").optional().build())
    .field("flag", SchemaBuilder.bool().doc("on?").default_value(True).build())
    .field("price", Decimal.builder(2).parameter("connect.decimal.precision", "10").build())
    .field("at", Timestamp.builder().build())
    .field("color", _enum("RED", "GREEN", "BLUE").build())
    .field("dbl", SchemaBuilder.float64().default_value(1.0).build())
    .field("flt", SchemaBuilder.float32().default_value(1.5).build())
    .build(),
    SchemaBuilder.struct().name("Empty").build(),
    SchemaBuilder.map(SchemaBuilder.string().optional().build(), SchemaBuilder.int8().build())
    .version(3)
    .build(),
]


@pytest.fixture(scope="module")
def everit(tmp_path_factory: pytest.TempPathFactory) -> str:
    lib = registry.fetch() / "lib"
    jars = sorted(lib.glob("com.github.erosb.everit-json-schema-*.jar")) + sorted(
        lib.glob("org.json.json-*.jar")
    )
    assert len(jars) == 2, f"everit and org.json jars expected in {lib}, found {jars}"
    return compile_program(PROGRAM, jars, tmp_path_factory.mktemp("everit"))


def _everit_texts(classpath: str, schemas: list[Schema]) -> list[str]:
    return run_program(classpath, "ConnectToEverit", [json.dumps(_descriptor(s)) for s in schemas])


def test_hand_picked_schemas_print_as_everit_prints_them(everit: str) -> None:
    for schema, java in zip(HAND_PICKED, _everit_texts(everit, HAND_PICKED), strict=True):
        assert json_schema_text(schema, OPTS) == java


def test_random_schemas_print_as_everit_prints_them(everit: str) -> None:
    rng = random.Random(17)
    schemas = [_random_struct(rng) for _ in range(300)]
    for schema, java in zip(schemas, _everit_texts(everit, schemas), strict=True):
        assert json_schema_text(schema, OPTS) == java, schema
