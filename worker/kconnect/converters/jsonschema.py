"""JSON Schema converter: Confluent's `io.confluent.connect.json.JsonSchemaConverter`.

A record is the Confluent wire format (`schemaregistry.frame`) around the value's JSON; the
value's schema is registered as a JSON Schema, the way Confluent's `JsonSchemaData` maps Connect
schemas, so that a subject gains no spurious version when a pipeline moves between runtimes:

- INT8..INT64 are `{"type":"integer","connect.type":"int8"...}`, FLOAT32/64 `"number"` with
  `float32`/`float64`, BYTES `{"type":"string","connect.type":"bytes"}` (base64 in the payload),
  Decimal `{"type":"number","connect.type":"bytes"}` titled `org.apache.kafka.connect.data.Decimal`
  (a JSON number in the payload), Date/Time/Timestamp integers titled with their logical name;
- a STRUCT is an object whose `properties` carry `connect.index` (the field's position); a MAP
  with required STRING keys an object with `additionalProperties`, any other MAP an array of
  `{"key":..,"value":..}` objects (key `connect.index` 0, value 1), both with `connect.type` map;
- the schema's name is its `title`, doc its `description`, version `connect.version`, parameters
  `connect.parameters`, default `default`; an optional schema is `{"oneOf":[{"type":"null"},..]}`
  with the field's `connect.index` on the `oneOf`;
- a STRING with the `io.confluent.connect.json.Enum` parameters is `{"enum":[...]}`, and a JSON
  enum reads back as that STRING;
- a union of several types (`oneOf`/`anyOf`) reads as Confluent's OneOf struct (named
  `io.confluent.connect.json.OneOf`, one optional field per branch, set for the first branch the
  JSON value fits), and such a struct is written as that union and as its set field's value.

**Key order** is Java's: everit's `ToStringVisitor` prints `type` (a boolean's last), `enum`,
`title`, `description`, `default`, then the extra keywords, then `items` / `additionalProperties`
/ `properties` / `oneOf`; the extra keywords, `properties`, `connect.parameters` and enum symbols
sit in `java.util.HashMap`s (or a HashSet), printed in iteration order, which depends on the
table's size: everit copies the extra keywords into a map sized for their count, org.json copies
the parameters into `HashMap(n)`, the rest grow from 16. `_java_hash_order` and
`_java_copied_order` reproduce them (String.hashCode, spread, bucket by table size, insertion
order within a bucket), checked against everit 1.14.5 and org.json printing the same builders
(`tests/integration/test_jsonschema_everit.py`) and against text Confluent's converter
registered.

Not mapped (a `DataError` says so): JSON Schemas with `$ref`, `allOf` or `const`.

Writing needs a schema (a value without one is a `DataError`, as in Java). Nulls are written
as Java writes them: no schema and no value is a null record (a tombstone); a null with a schema
is the schema's default, else JSON `null` in the wire format for an optional schema, else an
error, and a value that cannot be written registers nothing.

Reading takes the writer's schema by id. As in Java, the Connect schema read gets the version
the schema has under the record's subject (by the configured strategy) when it names no
`connect.version`; where that subject does not hold it (Java fails there), it gets none.

Speed: per Connect schema, the JSON Schema text, its id and compiled encoder are cached (LRU,
`schemas.cache.size`); per (topic, schema id), the Connect schema and compiled decoder. The
encoders and decoders are json.py's, with `confluent_json` (the entry-object map form and OneOf
unions) and NUMERIC decimals.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from decimal import Decimal as _PyDecimal
from typing import TYPE_CHECKING, Final

import msgspec
from pydantic import Field

from kconnect.converters._config import get_choice
from kconnect.converters.json import (
    DECIMAL_FORMAT_CONFIG,
    ONE_OF_NAME,
    Options,
    PathError,
    compile_decoder,
    compile_encoder,
    has_decimal,
    json_double,
    json_float,
    json_str,
    parse_json,
    with_nulls,
)
from kconnect.converters.schemaregistry import (
    LruCache,
    RegisteredSchema,
    RegistryConverter,
    SchemaRegistryConverterConfig,
    SchemaType,
    frame,
    unframe,
)
from kconnect.data.schema import (
    DATE_NAME,
    DECIMAL_NAME,
    TIME_NAME,
    TIMESTAMP_NAME,
    Schema,
    SchemaAndValue,
    SchemaBuilder,
    Type,
)
from kconnect.errors import DataError

if TYPE_CHECKING:
    from kconnect.api.records import Headers

NAMESPACE: Final = "io.confluent.connect.json"
CONNECT_TYPE: Final = "connect.type"
CONNECT_VERSION: Final = "connect.version"
CONNECT_PARAMETERS: Final = "connect.parameters"
CONNECT_INDEX: Final = "connect.index"
ENUM: Final = NAMESPACE + ".Enum"
ENUM_PREFIX: Final = ENUM + "."

_CONNECT_TYPES: Final = {
    Type.INT8: "int8",
    Type.INT16: "int16",
    Type.INT32: "int32",
    Type.INT64: "int64",
    Type.FLOAT32: "float32",
    Type.FLOAT64: "float64",
}
_TYPES_BY_CONNECT: Final = {v: k for k, v in _CONNECT_TYPES.items()}
_LOGICAL_INTS: Final = {DATE_NAME: Type.INT32, TIME_NAME: Type.INT32, TIMESTAMP_NAME: Type.INT64}
_NULL: Final = SchemaAndValue(None, None)
# msgspec reads a payload several times as fast as the json module; with Decimals in the schema
# every number with a fraction is read exactly, from its text.
_fast_decode: Final = msgspec.json.Decoder().decode
_exact_decode: Final = msgspec.json.Decoder(float_hook=_PyDecimal).decode


class JsonSchemaConverterConfig(SchemaRegistryConverterConfig):
    """Confluent's `JsonSchemaConverterConfig` with `JsonSchemaDataConfig`'s decimal key."""

    decimal_format: str = Field(
        "NUMERIC",
        alias=DECIMAL_FORMAT_CONFIG,
        description="Controls which format this converter will serialize decimals in: NUMERIC "
        "(default) or BASE64.",
        json_schema_extra={"importance": "LOW", "display_name": "Decimal Format"},
    )


# --- Java's HashMap iteration order ----------------------------------------------------------


def _java_string_hash(s: str) -> int:
    h = 0
    data = s.encode("utf-16-be", "surrogatepass")
    for i in range(0, len(data), 2):
        h = (31 * h + ((data[i] << 8) | data[i + 1])) & 0xFFFFFFFF
    return h


def _bucket(key: str, capacity: int) -> int:
    h = _java_string_hash(key)
    return ((h ^ (h >> 16)) & 0xFFFFFFFF) & (capacity - 1)


def _power_of_two(n: int) -> int:
    capacity = 1
    while capacity < n:
        capacity *= 2
    return capacity


def _in_buckets(keys: list[str], capacity: int) -> list[str]:
    return [k for _, _, k in sorted((_bucket(k, capacity), i, k) for i, k in enumerate(keys))]


def _java_hash_order(keys: list[str], initial_capacity: int = 16) -> list[str]:
    """The iteration order of a `java.util.HashMap` (of that initial capacity) the keys were
    put into in this order: by bucket, then by insertion within a bucket (a resize keeps it)."""
    capacity = _power_of_two(initial_capacity)
    while len(keys) > capacity * 0.75:
        capacity *= 2
    return _in_buckets(keys, capacity)


def _java_copied_order(keys: list[str]) -> list[str]:
    """The order of `new HashMap<>(map)` over a default HashMap the keys were put into: the copy
    is sized for the count (`tableSizeFor((int) (n / 0.75f + 1))`), which reorders small maps.
    everit copies a schema's extra keywords so."""
    return _in_buckets(_java_hash_order(keys), _power_of_two(int(len(keys) / 0.75 + 1.0)))


def _json_object(entries: list[tuple[str, str]], initial_capacity: int = 16) -> str:
    texts = dict(entries)
    order = _java_hash_order([k for k, _ in entries], initial_capacity)
    return "{" + ",".join(json_str(k) + ":" + texts[k] for k in order) + "}"


# --- Connect schema -> JSON Schema text ------------------------------------------------------


def _default_text(schema: Schema, opts: Options) -> str:
    """A default as everit's JSON writer prints the Java object (org.json's number text)."""
    value = schema.default
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = json_float(value) if schema.type is Type.FLOAT32 else json_double(value)
        if "." in text and "E" not in text and not text.startswith('"'):
            text = text.rstrip("0").rstrip(".")
        return text
    if isinstance(value, str):
        return json_str(value)
    if isinstance(value, _PyDecimal):
        return str(value)
    try:
        return compile_encoder(schema, opts)(value)
    except PathError as e:
        raise DataError(f"Cannot write the schema's default value as JSON: {e}") from None


def _non_optional(schema: Schema) -> Schema:
    builder = SchemaBuilder.of(schema)
    builder.required()
    return builder.build()


def json_schema_text(schema: Schema, opts: Options) -> str:
    """The JSON Schema text Confluent's JsonSchemaConverter registers for `schema`."""
    return _raw(schema, opts, None, False)


def _raw(schema: Schema, opts: Options, index: int | None, ignore_optional: bool) -> str:
    t = schema.type
    head: list[tuple[str, str]] = []  # keywords everit prints before the extra ones
    tail: list[tuple[str, str]] = []  # ... and after them
    extra: list[tuple[str, str]] = []  # the HashMap of "unprocessed" keywords
    if t in _CONNECT_TYPES:
        integer = t in (Type.INT8, Type.INT16, Type.INT32, Type.INT64)
        head.append(("type", '"integer"' if integer else '"number"'))
        extra.append((CONNECT_TYPE, json_str(_CONNECT_TYPES[t])))
    elif t is Type.BOOLEAN:
        tail.append(("type", '"boolean"'))  # everit prints a boolean's type last
    elif t is Type.STRING:
        if schema.parameters and ENUM in schema.parameters:
            # everit keeps the symbols in a HashSet.
            symbols = _java_hash_order(
                [v for k, v in schema.parameters.items() if k.startswith(ENUM_PREFIX)]
            )
            head.append(("enum", "[" + ",".join(json_str(v) for v in symbols) + "]"))
        else:
            head.append(("type", '"string"'))
    elif t is Type.BYTES:
        head.append(("type", '"number"' if schema.name == DECIMAL_NAME else '"string"'))
        extra.append((CONNECT_TYPE, '"bytes"'))
    elif t is Type.ARRAY:
        assert schema.value_schema is not None
        head.append(("type", '"array"'))
        tail.append(("items", _raw(schema.value_schema, opts, None, False)))
    elif t is Type.MAP:
        ks, vs = schema.key_schema, schema.value_schema
        assert ks is not None
        assert vs is not None
        if ks.type is Type.STRING and not ks.optional:
            head.append(("type", '"object"'))
            tail.append(("additionalProperties", _raw(vs, opts, None, False)))
        else:
            entry = (
                '{"type":"object","properties":'
                + _json_object(
                    [("key", _raw(ks, opts, 0, False)), ("value", _raw(vs, opts, 1, False))]
                )
                + "}"
            )
            head.append(("type", '"array"'))
            tail.append(("items", entry))
        extra.append((CONNECT_TYPE, '"map"'))
    elif t is Type.STRUCT:
        if schema.name == ONE_OF_NAME:
            # A union: each field's schema, required and with its index, as one branch.
            branches = ['{"type":"null"}'] if schema.optional else []
            branches += [_raw(_non_optional(f.schema), opts, f.index, True) for f in schema.fields]
            extra = [(CONNECT_INDEX, str(index))] if index is not None else []
            return _print([], extra, [("oneOf", "[" + ",".join(branches) + "]")])
        if schema.optional and not ignore_optional:
            return _one_of_null(_raw(_non_optional(schema), opts, None, False), index)
        head.append(("type", '"object"'))
        props = [(f.name, _raw(f.schema, opts, f.index, False)) for f in schema.fields]
        if props:
            tail.append(("properties", _json_object(props)))
    else:  # pragma: no cover - every type is above
        raise DataError(f"unsupported schema type {t}")
    if schema.name is not None:
        head.append(("title", json_str(schema.name)))
    if schema.version is not None:
        extra.append((CONNECT_VERSION, str(schema.version)))
    if schema.doc is not None:
        head.append(("description", json_str(schema.doc)))
    if schema.parameters:
        params = [
            (k, json_str(v)) for k, v in schema.parameters.items() if not k.startswith(NAMESPACE)
        ]
        if params:
            # Collected into a HashMap, then copied by org.json into one sized to fit.
            ordered = [(k, dict(params)[k]) for k in _java_hash_order([k for k, _ in params])]
            extra.append((CONNECT_PARAMETERS, _json_object(ordered, len(ordered))))
    if schema.default is not None:
        head.append(("default", _default_text(schema, opts)))
    if schema.optional and not ignore_optional:
        inner = _print(head, extra, tail)
        return _one_of_null(inner, index)
    if index is not None:
        extra.append((CONNECT_INDEX, str(index)))
    return _print(head, extra, tail)


_HEAD_ORDER: Final = ("type", "enum", "title", "description", "default")


def _print(
    head: list[tuple[str, str]], extra: list[tuple[str, str]], tail: list[tuple[str, str]]
) -> str:
    ordered = sorted(head, key=lambda kv: _HEAD_ORDER.index(kv[0]))
    texts = dict(extra)
    keys = _java_copied_order([k for k, _ in extra])
    parts = [json_str(k) + ":" + v for k, v in ordered]
    parts += [json_str(k) + ":" + texts[k] for k in keys]
    parts += [json_str(k) + ":" + v for k, v in tail]
    return "{" + ",".join(parts) + "}"


def _one_of_null(inner: str, index: int | None) -> str:
    extra = [(CONNECT_INDEX, str(index))] if index is not None else []
    return _print([], extra, [("oneOf", '[{"type":"null"},' + inner + "]")])


# --- JSON Schema -> Connect schema -----------------------------------------------------------

JsonNode = Mapping[str, object]


def parse_schema(text: str) -> JsonNode:
    try:
        node = json.loads(text)
    except ValueError as e:
        raise DataError(f"the registered JSON Schema is not JSON: {e}") from None
    if not isinstance(node, dict):
        raise DataError("the registered JSON Schema is not a JSON object")
    return node


def connect_schema(text: str | JsonNode, version: int | None = None) -> Schema:
    """The Connect schema of a registered JSON Schema, as JsonSchemaData.toConnectSchema reads
    it; `version` (the registry's) is the top schema's when it names no `connect.version`."""
    node = parse_schema(text) if isinstance(text, str) else text
    return _to_connect(node, optional=False, version=version)


def _null_branch(node: object) -> bool:
    return isinstance(node, dict) and node.get("type") == "null"


def _to_connect(node: JsonNode, optional: bool, version: int | None = None) -> Schema:
    for combiner in ("oneOf", "anyOf"):
        subs = node.get(combiner)
        if isinstance(subs, list):
            rest = [s for s in subs if not _null_branch(s)]
            if len(rest) == 1 and len(subs) == 2 and isinstance(rest[0], dict):
                return _to_connect(rest[0], optional=True, version=version)
            return _union_to_connect(node, subs, optional)
    for unsupported in ("$ref", "allOf", "const"):
        if unsupported in node:
            raise DataError(f"JSON Schema keyword {unsupported!r} is not mapped")
    symbols = node.get("enum")
    if symbols is not None:
        return _enum_to_connect(node, symbols, optional, version)
    kind = node.get("type")
    if isinstance(kind, list):
        rest_kinds = [k for k in kind if k != "null"]
        if len(rest_kinds) > 1:  # a union in short: one branch per type, the rest shared
            shared = {k: v for k, v in node.items() if k not in ("type", "title", "description")}
            branches: list[object] = [{**shared, "type": k} for k in kind]
            return _union_to_connect(node, branches, optional)
        if not rest_kinds:
            raise DataError(f"JSON Schema type {kind!r} is not mapped")
        optional = optional or "null" in kind
        kind = rest_kinds[0]
    connect_type = node.get(CONNECT_TYPE)
    title = node.get("title")
    builder: SchemaBuilder
    if kind == "integer":
        t = _TYPES_BY_CONNECT.get(str(connect_type), Type.INT64)
        if isinstance(title, str) and title in _LOGICAL_INTS:
            t = _LOGICAL_INTS[title]
        builder = SchemaBuilder(t)
    elif kind == "number":
        if connect_type == "bytes":  # a Decimal: its title and parameters name it
            builder = SchemaBuilder.bytes()
        else:
            builder = SchemaBuilder(_TYPES_BY_CONNECT.get(str(connect_type), Type.FLOAT64))
    elif kind == "boolean":
        builder = SchemaBuilder.bool()
    elif kind == "string":
        builder = SchemaBuilder.bytes() if connect_type == "bytes" else SchemaBuilder.string()
    elif kind == "array":
        items = node.get("items")
        if not isinstance(items, dict):
            raise DataError("a JSON Schema array without one items schema is not mapped")
        if connect_type == "map":
            entry = items.get("properties")
            if not isinstance(entry, dict) or not {"key", "value"} <= entry.keys():
                raise DataError("a connect.type map array needs items with key and value")
            builder = SchemaBuilder.map(
                _to_connect(entry["key"], False), _to_connect(entry["value"], False)
            )
        else:
            builder = SchemaBuilder.array(_to_connect(items, False))
    elif kind == "object":
        additional = node.get("additionalProperties")
        if connect_type == "map":
            if not isinstance(additional, dict):
                raise DataError("a connect.type map object needs an additionalProperties schema")
            builder = SchemaBuilder.map(
                SchemaBuilder.string().build(), _to_connect(additional, False)
            )
        else:
            builder = SchemaBuilder.struct()
            props = node.get("properties") or {}
            if not isinstance(props, dict):
                raise DataError("JSON Schema properties must be an object")
            for name, sub in _fields_in_java_order(props):
                builder.field(name, _to_connect(sub, False))
    else:
        raise DataError(f"JSON Schema type {kind!r} is not mapped")
    _describe(builder, node, version)
    if optional:
        builder.optional()
    return builder.build()


def _describe(builder: SchemaBuilder, node: JsonNode, registry_version: int | None) -> None:
    """The name, version, doc, parameters and default a JSON Schema gives a Connect schema."""
    title = node.get("title")
    if isinstance(title, str):
        builder.name(title)
    version = node.get(CONNECT_VERSION)
    if type(version) is int:
        builder.version(version)
    elif registry_version is not None:
        builder.version(registry_version)
    doc = node.get("description")
    if isinstance(doc, str):
        builder.doc(doc)
    params = node.get(CONNECT_PARAMETERS)
    if isinstance(params, dict):
        for k, v in params.items():
            if isinstance(v, str):
                builder.parameter(k, v)
    if "default" in node and node["default"] is not None:
        bare = builder.build()
        try:
            builder.default_value(
                compile_decoder(bare, Options(True, False, True))(node["default"])
            )
        except PathError as e:
            raise DataError(f"the JSON Schema's default does not fit its type: {e}") from None


def _union_to_connect(node: JsonNode, branches: list[object], optional: bool) -> Schema:
    """A union of several schemas: Confluent's OneOf struct, one optional field per branch
    (`io.confluent.connect.json.OneOf.field.<i>`), optional itself when a branch is null."""
    builder = SchemaBuilder.struct().name(ONE_OF_NAME)
    i = 0
    for branch in branches:
        if _null_branch(branch):
            optional = True
            continue
        if not isinstance(branch, dict):
            raise DataError("a JSON Schema oneOf branch is not a schema object")
        builder.field(f"{ONE_OF_NAME}.field.{i}", _to_connect(branch, optional=True))
        i += 1
    doc = node.get("description")
    if isinstance(doc, str):
        builder.doc(doc)
    if optional:
        builder.optional()
    return builder.build()


def _enum_to_connect(
    node: JsonNode, symbols: object, optional: bool, version: int | None
) -> Schema:
    """A JSON enum: a STRING whose parameters list the symbols, as JsonSchemaData reads it."""
    if not isinstance(symbols, list) or not symbols:
        raise DataError("a JSON Schema enum must list its values")
    builder = SchemaBuilder.string().parameter(ENUM, "")
    for symbol in symbols:
        text = symbol if isinstance(symbol, str) else json.dumps(symbol)
        builder.parameter(ENUM_PREFIX + text, text)
    _describe(builder, node, version)
    if optional:
        builder.optional()
    return builder.build()


def _fields_in_java_order(props: Mapping[str, object]) -> list[tuple[str, JsonNode]]:
    """The properties in the order JsonSchemaData gives their fields: by `connect.index`; a
    property without one takes the count of those placed before it, visiting the properties in
    Java's HashMap order (so a hand-written schema's fields come in that order, not the text's).
    Where two properties claim one index Java keeps the last silently; here it is an error."""
    placed: dict[int, tuple[str, JsonNode]] = {}
    for name in _java_hash_order(list(props)):
        sub = props[name]
        if not isinstance(sub, dict):
            raise DataError(f"JSON Schema property {name!r} is not a schema object")
        index = sub.get(CONNECT_INDEX)
        if type(index) is not int:
            index = len(placed)
        if index in placed:
            raise DataError(
                f"JSON Schema properties {placed[index][0]!r} and {name!r} both take field "
                f"position {index} (connect.index)"
            )
        placed[index] = (name, sub)
    return [placed[i] for i in sorted(placed)]


# --- the converter ---------------------------------------------------------------------------


class _Writer:
    """A schema's compiled encoder, and its id once registered (after the first value that could
    be written: as in Java, a value that cannot be written registers nothing)."""

    __slots__ = ("encoder", "schema", "schema_id", "subject", "text")

    def __init__(
        self, schema: Schema, subject: str, text: str, encoder: Callable[[object], str]
    ) -> None:
        self.schema = schema
        self.subject = subject
        self.text = text
        self.encoder = encoder
        self.schema_id: int | None = None


class _Reader:
    __slots__ = ("decoder", "exact", "schema")

    def __init__(self, schema: Schema, decoder: Callable[[object], object], exact: bool) -> None:
        self.schema = schema
        self.decoder = decoder
        self.exact = exact


class JsonSchemaConverter(RegistryConverter):
    """Confluent's JsonSchemaConverter: JSON values framed with a registered JSON Schema's id.

    Config keys (prefix removed): the Schema Registry keys of `SchemaRegistryConverterConfig`,
    and `decimal.format` (NUMERIC or BASE64, default NUMERIC).
    """

    config_model = JsonSchemaConverterConfig

    def __init__(self) -> None:
        self._opts = Options(numeric_decimals=True, replace_null=True, confluent_json=True)
        self._writers: LruCache[tuple[str, Schema], _Writer] = LruCache(1000)
        self._readers: LruCache[tuple[str, int], _Reader] = LruCache(1000)
        self._texts: LruCache[Schema, str] = LruCache(1000)
        self._last: tuple[str, Schema, _Writer] | None = None

    def configure(self, configs: Mapping[str, str], is_key: bool = False) -> None:
        decimals = get_choice(configs, DECIMAL_FORMAT_CONFIG, "NUMERIC", ("NUMERIC", "BASE64"))
        settings = self.configure_registry(configs, is_key)
        self._opts = Options(
            numeric_decimals=decimals == "NUMERIC", replace_null=True, confluent_json=True
        )
        size = settings.cache_size
        self._writers = LruCache(size)
        self._readers = LruCache(size)
        self._texts = LruCache(size)
        self._last = None

    def schema_text(self, schema: Schema) -> str:
        """The JSON Schema text registered for `schema`."""
        text = self._texts.get(schema)
        if text is None:
            text = json_schema_text(schema, self._opts)
            self._texts.put(schema, text)
        return text

    def _writer(self, topic: str, schema: Schema) -> _Writer:
        last = self._last
        if last is not None and last[0] == topic and (last[1] is schema or last[1] == schema):
            return last[2]
        writer = self._writers.get((topic, schema))
        if writer is None:
            subject = self.registry.subject(topic, schema.name)
            encoder = with_nulls(schema, compile_encoder(schema, self._opts), self._opts)
            writer = _Writer(schema, subject, self.schema_text(schema), encoder)
            self._writers.put((topic, schema), writer)
        self._last = (topic, schema, writer)
        return writer

    def from_connect_data(
        self, topic: str, schema: Schema | None, value: object, headers: Headers | None = None
    ) -> bytes | None:
        if schema is None:
            if value is None:
                return None
            raise DataError(
                "JsonSchemaConverter needs a schema to write a value: give the record a schema"
            )
        writer = self._writer(topic, schema)
        try:
            # A null is written as Java writes it: the default, else JSON null for an optional
            # schema (framed: not a tombstone), else an error.
            payload = writer.encoder(value)
        except PathError as e:
            raise DataError(f"Converting Kafka Connect data to JSON failed: {e}") from None
        schema_id = writer.schema_id
        if schema_id is None:
            schema_id = self.registry.id_for(writer.subject, writer.text, SchemaType.JSON)
            writer.schema_id = schema_id
        try:
            return frame(schema_id, payload.encode("utf-8"))
        except UnicodeEncodeError:
            raise DataError(
                "Converting Kafka Connect data to JSON failed: a string holds an unpaired "
                "surrogate, which UTF-8 cannot encode"
            ) from None

    def _reader(self, topic: str, schema_id: int) -> _Reader:
        reader = self._readers.get((topic, schema_id))
        if reader is None:
            nodes: list[JsonNode] = []

            def title(registered: RegisteredSchema) -> str | None:
                nodes.append(parse_schema(registered.text))
                found = nodes[0].get("title")
                return found if isinstance(found, str) else None

            _, version = self.writer_schema(topic, schema_id, SchemaType.JSON, title)
            schema = connect_schema(nodes[0], version)
            reader = _Reader(schema, compile_decoder(schema, self._opts), has_decimal(schema))
            self._readers.put((topic, schema_id), reader)
        return reader

    def to_connect_data(
        self, topic: str, value: bytes | None, headers: Headers | None = None
    ) -> SchemaAndValue:
        if value is None:
            return _NULL
        schema_id, payload = unframe(value)
        reader = self._reader(topic, schema_id)
        data = bytes(payload)
        try:
            parsed = (_exact_decode if reader.exact else _fast_decode)(data)
        except ValueError:  # msgspec.DecodeError is one; json.py's parser decides and explains
            parsed = parse_json(data, exact=reader.exact)
        try:
            return SchemaAndValue(reader.schema, reader.decoder(parsed))
        except PathError as e:
            raise DataError(f"Converting JSON to Kafka Connect data failed: {e}") from None
