"""The Connect ↔ Avro mapping of Confluent's AvroConverter (`io.confluent.connect.avro.AvroData`).

A Connect schema maps to exactly the Avro schema Java's AvroData builds for it, so the text a
converter registers (`AvroData.connect_schema_text`) is the one Java's AvroConverter registers and a
subject gains no version when a team switches runtimes. The mapping, as Java's:

- INT8/INT16 → `{"type":"int","connect.type":"int8"}`; INT32 int, INT64 long, FLOAT32 float,
  FLOAT64 double, BOOLEAN boolean, STRING string, BYTES bytes;
- STRUCT → record named after the schema (last dotted part the name, the rest the namespace), an
  unnamed one `io.confluent.connect.avro.ConnectDefault`, then `ConnectDefault2`, ... in the
  order they are met; a struct named `io.confluent.connect.avro.Union` → an Avro union;
- optional → `["null", T]` with field default null; optional with a default → `[T, "null"]`
  (an optional struct keeps null first); a default → the field's `default` when Avro 1.12
  accepts it for the field's type (Java drops it otherwise, as for maps with non-string keys);
- with `connect.meta.data` (default): `connect.doc`, `connect.version`, `connect.parameters`,
  `connect.default`, `connect.name`, `connect.type`, in that order, on every non-union schema;
- Decimal → bytes with `scale`, `precision` (parameter `connect.decimal.precision`, default 64)
  and `logicalType: decimal`; Date → int `date`; Time → int `time-millis`; Timestamp → long
  `timestamp-millis`; parameters whose key starts with `avro` become properties;
- MAP with non-optional STRING keys → Avro map; other maps → array of records `MapEntry`
  (namespace `io.confluent.connect.avro`) with fields `key` and `value`;
- a STRING with `io.confluent.connect.avro.Enum` parameters → Avro enum with
  `enhanced.avro.schema.support` (a string otherwise); BYTES with `connect.fixed.size` → fixed;
- no schema (schemaless data) → the record `io.confluent.connect.avro.Anything`.

Invariants: the same Connect schema always maps to the same node and text (cached); a name is
defined once per schema text, later uses refer to it; a field default is one Avro accepts.

`to_connect_schema` is Java's `toConnectSchema`: unions of null and one type become optional
schemas, other unions structs named `io.confluent.connect.avro.Union` with one optional field
per branch, enums strings with `io.confluent.connect.avro.Enum` parameters, fixed bytes with
`connect.fixed.size`; `date`, `time-millis`, `timestamp-millis` and `decimal` become Connect's
logical types, and every other logical type (`timestamp-micros`, `time-micros`, `uuid`, ...) its
underlying type, as in Java.

Values: `encoder(schema)` turns a Connect value into the Avro binary body (no magic byte or id)
and `decoder(writer)` reads one back into Connect values; both are compiled once per schema
(`kconnect.data.avro_codec`) and kept in LRU caches bounded by `schemas.cache.config`, as are
the schema mappings. A cache lookup compares schemas by content, so a converter keeps the function
it got for the schema object it last saw. Not thread-safe: one `AvroData` per converter instance.

Failures: a value that doesn't fit raises `DataError` naming the field path and the expected type;
an Avro schema kconnect cannot map (a standalone null, a recursive record, a broken annotation)
raises `DataError` naming it and why; bad configuration raises `ConfigError` naming the key.

Known differences from Java: maps are written in insertion order (Java writes a HashMap's order,
so equal maps may differ in bytes, never in meaning); two different struct schemas with one name
in one schema are an error here (Java silently reuses the first or fails, depending on object
identity); recursive Avro records cannot be read (Connect schemas here are acyclic); a Decimal
value with fewer fraction digits than the scale is padded rather than refused;
`generalized.sum.type.support` and `discard.type.doc.default` are not supported (refused).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import decimal
import json
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, TypeAlias

from kconnect.data import avro_codec
from kconnect.data._javatext import to_float32
from kconnect.data.avro_schema import (
    NO_DEFAULT,
    AvroField,
    AvroNode,
    JavaFloat,
    JsonValue,
    check_not_primitive,
    is_valid_default,
    parse,
    scrub_name,
    split_full_name,
    to_text,
    validate_name,
)
from kconnect.data.logical import Date, Decimal, Time, Timestamp
from kconnect.data.schema import (
    DATE_NAME,
    DECIMAL_NAME,
    TIME_NAME,
    TIMESTAMP_NAME,
    Schema,
    SchemaBuilder,
    Struct,
    Type,
)
from kconnect.errors import ConfigError, DataError

AvroSchema: TypeAlias = dict[str, Any] | list[Any] | str
"""An Avro schema as parsed JSON (or its text)."""

NAMESPACE: Final = "io.confluent.connect.avro"
DEFAULT_SCHEMA_NAME: Final = "ConnectDefault"
DEFAULT_SCHEMA_FULL_NAME: Final = NAMESPACE + "." + DEFAULT_SCHEMA_NAME
MAP_ENTRY_TYPE_NAME: Final = "MapEntry"
KEY_FIELD: Final = "key"
VALUE_FIELD: Final = "value"
CONNECT_NAME_PROP: Final = "connect.name"
CONNECT_DOC_PROP: Final = "connect.doc"
CONNECT_VERSION_PROP: Final = "connect.version"
CONNECT_DEFAULT_VALUE_PROP: Final = "connect.default"
CONNECT_PARAMETERS_PROP: Final = "connect.parameters"
CONNECT_INTERNAL_TYPE_NAME: Final = "connect.internal.type"
CONNECT_TYPE_PROP: Final = "connect.type"
AVRO_RECORD_DOC_PROP: Final = NAMESPACE + ".record.doc"
AVRO_ENUM_DOC_PREFIX_PROP: Final = NAMESPACE + ".enum.doc."
AVRO_FIELD_DOC_PREFIX_PROP: Final = NAMESPACE + ".field.doc."
AVRO_FIELD_DEFAULT_FLAG_PROP: Final = NAMESPACE + ".field.default"
AVRO_ENUM_DEFAULT_PREFIX_PROP: Final = NAMESPACE + ".enum.default."
AVRO_TYPE_UNION: Final = NAMESPACE + ".Union"
AVRO_TYPE_ENUM: Final = NAMESPACE + ".Enum"
AVRO_TYPE_ANYTHING: Final = NAMESPACE + ".Anything"
CONNECT_AVRO_FIXED_SIZE_PROP: Final = "connect.fixed.size"
CONNECT_AVRO_DECIMAL_PRECISION_PROP: Final = "connect.decimal.precision"
CONNECT_AVRO_DECIMAL_PRECISION_DEFAULT: Final = 64
AVRO_LOGICAL_TYPE_PROP: Final = "logicalType"

CONNECT_META_DATA_CONFIG: Final = "connect.meta.data"
ENHANCED_AVRO_SCHEMA_SUPPORT_CONFIG: Final = "enhanced.avro.schema.support"
SCRUB_INVALID_NAMES_CONFIG: Final = "scrub.invalid.names"
SCHEMAS_CACHE_SIZE_CONFIG: Final = "schemas.cache.config"
"""Java's key for the cache size (AbstractDataConfig); `schemas.cache.size` is read too."""
SCHEMAS_CACHE_SIZE_ALIAS: Final = "schemas.cache.size"
FLATTEN_SINGLETON_UNION_CONFIG: Final = "flatten.singleton.union"
UNSUPPORTED_CONFIGS: Final = ("generalized.sum.type.support", "discard.type.doc.default")
ALLOW_OPTIONAL_MAP_KEYS_CONFIG: Final = "allow.optional.map.keys"
IGNORE_DEFAULT_FOR_NULLABLES_CONFIG: Final = "ignore.default.for.nullables"

_INT_TYPES_BY_CODE: Final = {"int8": Type.INT8, "int16": Type.INT16}


def _config_bool(configs: Mapping[str, object], key: str, default: bool) -> bool:
    value = configs.get(key)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ConfigError(f"invalid value {value!r} for key '{key}': expected true or false")


def _config_int(configs: Mapping[str, object], key: str, default: int) -> int:
    value = configs.get(key)
    if value is None:
        return default
    if isinstance(value, int) and not isinstance(value, bool):
        result = value
    else:
        try:
            result = int(str(value).strip())
        except ValueError:
            raise ConfigError(
                f"invalid value {value!r} for key '{key}': expected an integer"
            ) from None
    return result


@dataclass(frozen=True)
class AvroDataConfig:
    """Confluent's `AvroDataConfig`: the converter keys that shape the mapping."""

    connect_meta_data: bool = True  # connect.meta.data
    enhanced_avro_schema_support: bool = False  # enhanced.avro.schema.support
    scrub_invalid_names: bool = False  # scrub.invalid.names
    schemas_cache_size: int = 1000  # schemas.cache.config (or schemas.cache.size)
    allow_optional_map_keys: bool = False  # allow.optional.map.keys
    ignore_default_for_nullables: bool = False  # ignore.default.for.nullables
    flatten_singleton_union: bool = True  # flatten.singleton.union

    @classmethod
    def from_configs(cls, configs: Mapping[str, str]) -> AvroDataConfig:
        """The config from a converter's keys (prefix removed); unknown keys are ignored. The
        cache size is `schemas.cache.config` (Java's key) or `schemas.cache.size`, at least 1
        as in Java. Options that change the mapping in ways not implemented here are refused,
        so a subject never silently gets a schema Java would not register."""
        for key in UNSUPPORTED_CONFIGS:
            if _config_bool(configs, key, False):
                raise ConfigError(
                    f"invalid value {configs.get(key)!r} for key '{key}': expected false "
                    f"(kconnect's Avro mapping does not support {key})"
                )
        size_key = (
            SCHEMAS_CACHE_SIZE_CONFIG
            if configs.get(SCHEMAS_CACHE_SIZE_CONFIG) is not None
            else SCHEMAS_CACHE_SIZE_ALIAS
        )
        return cls(
            connect_meta_data=_config_bool(configs, CONNECT_META_DATA_CONFIG, True),
            enhanced_avro_schema_support=_config_bool(
                configs, ENHANCED_AVRO_SCHEMA_SUPPORT_CONFIG, False
            ),
            scrub_invalid_names=_config_bool(configs, SCRUB_INVALID_NAMES_CONFIG, False),
            schemas_cache_size=max(1, _config_int(configs, size_key, 1000)),
            allow_optional_map_keys=_config_bool(configs, ALLOW_OPTIONAL_MAP_KEYS_CONFIG, False),
            ignore_default_for_nullables=_config_bool(
                configs, IGNORE_DEFAULT_FOR_NULLABLES_CONFIG, False
            ),
            flatten_singleton_union=_config_bool(configs, FLATTEN_SINGLETON_UNION_CONFIG, True),
        )


class _LRU(OrderedDict[Any, Any]):
    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def lookup(self, key: object) -> Any:
        value = self.get(key)
        if value is not None:
            self.move_to_end(key)
        return value

    def store(self, key: object, value: object) -> None:
        if self.size <= 0:
            return
        self[key] = value
        if len(self) > self.size:
            self.popitem(last=False)


class _FromConnectContext:
    __slots__ = ("counter", "cycle_refs", "schema_map")

    def __init__(self) -> None:
        self.schema_map: dict[Schema, AvroNode] = {}
        self.cycle_refs: dict[str, tuple[Schema, AvroNode]] = {}
        self.counter = 0


def _prim(t: str) -> AvroNode:
    return AvroNode(t)


def non_optional(schema: Schema) -> Schema:
    """The schema with `optional` false, everything else (the default too) kept, as Java's."""
    if not schema.optional:
        return schema
    return Schema(
        schema.type,
        False,
        default=schema.default,
        name=schema.name,
        version=schema.version,
        doc=schema.doc,
        parameters=schema.parameters,
        fields=schema.fields,
        key_schema=schema.key_schema,
        value_schema=schema.value_schema,
    )


def is_union_schema(schema: Schema) -> bool:
    return schema.type is Type.STRUCT and schema.name == AVRO_TYPE_UNION


def _is_fixed_schema(schema: Schema) -> bool:
    return (
        schema.type is Type.BYTES
        and schema.name is not None
        and schema.parameters is not None
        and CONNECT_AVRO_FIXED_SIZE_PROP in schema.parameters
    )


def _int_param(schema: Schema, key: str) -> int:
    params = schema.parameters or {}
    text = params.get(key)
    try:
        return int(str(text))
    except ValueError:
        raise DataError(
            f"schema {schema.name}: parameter {key!r} is {text!r}, expected an integer"
        ) from None


def _anything_schema() -> AvroNode:
    anything = AvroNode("record")
    anything.namespace, anything.name = NAMESPACE, "Anything"

    def optional(node: AvroNode) -> AvroNode:
        u = AvroNode("union")
        u.branches = [_prim("null"), node]
        return u

    for t in ("boolean", "bytes", "double", "float", "int", "long", "string"):
        anything.fields.append(AvroField(t, optional(_prim(t)), default=None))
    array = AvroNode("array")
    array.items = anything
    anything.fields.append(AvroField("array", optional(array), default=None))
    entry = AvroNode("record")
    entry.namespace, entry.name = NAMESPACE, MAP_ENTRY_TYPE_NAME
    entry.fields = [AvroField(KEY_FIELD, anything), AvroField(VALUE_FIELD, anything)]
    entries = AvroNode("array")
    entries.items = entry
    anything.fields.append(AvroField("map", optional(entries), default=None))
    return anything


ANYTHING_SCHEMA: Final = _anything_schema()
ANYTHING_SCHEMA_TEXT: Final = to_text(ANYTHING_SCHEMA)


class AvroData:
    """Confluent's AvroData: Connect schemas and values to Avro and back (see the module doc)."""

    def __init__(self, config: AvroDataConfig | None = None) -> None:
        self.config = config = config or AvroDataConfig()
        self._meta = config.connect_meta_data
        self._enhanced = config.enhanced_avro_schema_support
        self._scrub = config.scrub_invalid_names
        size = config.schemas_cache_size
        self._from_cache: _LRU = _LRU(size)
        self._to_cache: _LRU = _LRU(size)
        self._enc_cache: _LRU = _LRU(size)
        self._dec_cache: _LRU = _LRU(size)

    # -- Connect -> Avro schema

    def from_connect_schema(self, schema: Schema | None) -> AvroSchema:
        """The Avro schema (parsed JSON) Java's `fromConnectSchema` builds for `schema`."""
        result: AvroSchema = json.loads(self.connect_schema_text(schema))
        return result

    def connect_schema_text(self, schema: Schema | None) -> str:
        """`schema_text(from_connect_schema(schema))`, cached per schema: what a converter
        registers for records of `schema`, cheap enough to ask for every record."""
        return self._from_entry(schema)[1]

    def schema_text(self, avro: AvroSchema | AvroNode) -> str:
        """Java's `org.apache.avro.Schema.toString()` of `avro` (a parsed schema, its text, or a
        node): the text to register."""
        node = avro if isinstance(avro, AvroNode) else parse(avro)
        return to_text(node)

    def avro_node(self, schema: Schema | None) -> AvroNode:
        """`from_connect_schema` as an `AvroNode` (cached per schema)."""
        return self._from_entry(schema)[0]

    def _from_entry(self, schema: Schema | None) -> tuple[AvroNode, str]:
        if schema is None:
            return ANYTHING_SCHEMA, ANYTHING_SCHEMA_TEXT
        cached: tuple[AvroNode, str] | None = self._from_cache.lookup(schema)
        if cached is not None:
            return cached
        node = self._from_connect(schema, _FromConnectContext(), False)
        entry = (node, to_text(node))  # a name defined twice fails here, as in Java's toString
        self._from_cache.store(schema, entry)
        return entry

    def _scrub_name(self, name: str) -> str:
        return scrub_name(name) if self._scrub else name

    def _split(self, full: str) -> tuple[str | None, str]:
        parts = [self._scrub_name(p) for p in full.split(".")]
        if len(parts) <= 1:
            return None, parts[0]
        return ".".join(parts[:-1]), parts[-1]

    def _name_or_default(self, ctx: _FromConnectContext, name: str | None) -> tuple[str, str]:
        if name is not None:
            ns, short = self._split(name)
            return ns or "", short
        ctx.counter += 1
        suffix = str(ctx.counter) if ctx.counter > 1 else ""
        return NAMESPACE, DEFAULT_SCHEMA_NAME + suffix

    def _named(self, t: str, ctx: _FromConnectContext, name: str | None) -> AvroNode:
        ns, short = self._name_or_default(ctx, name)
        node = AvroNode(t)
        node.namespace, node.name = (ns or None), validate_name(short, f"{t} name")
        check_not_primitive(node.full_name)
        return node

    def _with_cycle(
        self, schema: Schema, ctx: _FromConnectContext, ignore_optional: bool
    ) -> AvroNode:
        name = schema.name
        if name is not None and name in ctx.cycle_refs:
            known, node = ctx.cycle_refs[name]
            # Java finds the record by its name alone; the same record met again may differ in
            # its metadata (a field default, its parameters, doc) but not in its fields
            if schema.type is Type.STRUCT and known.fields != schema.fields:
                raise DataError(
                    f"Can't redefine: two different struct schemas are named {name!r} in one "
                    f"schema; Avro needs distinct names for distinct records"
                )
            if schema.type is Type.STRUCT:
                return node if ignore_optional else self._maybe_optional(schema, node)
        return self._from_connect(schema, ctx, ignore_optional)

    def _from_connect(
        self, schema: Schema, ctx: _FromConnectContext, ignore_optional: bool
    ) -> AvroNode:
        union = is_union_schema(schema)
        if not union and not schema.optional:
            cached = ctx.schema_map.get(schema)
            if cached is not None:
                return cached
        connect_type: str | None = None
        t = schema.type
        params = schema.parameters
        base: AvroNode
        if t is Type.INT8 or t is Type.INT16:
            connect_type = t.value
            base = _prim("int")
        elif t is Type.INT32:
            base = _prim("int")
        elif t is Type.INT64:
            base = _prim("long")
        elif t is Type.FLOAT32:
            base = _prim("float")
        elif t is Type.FLOAT64:
            base = _prim("double")
        elif t is Type.BOOLEAN:
            base = _prim("boolean")
        elif t is Type.STRING:
            if self._enhanced and params is not None and AVRO_TYPE_ENUM in params:
                prefix = AVRO_TYPE_ENUM + "."
                symbols = [k[len(prefix) :] for k in params if k.startswith(prefix)]
                _, short = self._name_or_default(ctx, schema.name)
                base = AvroNode("enum")
                base.namespace, base.name = split_full_name(params[AVRO_TYPE_ENUM])
                validate_name(base.name, "enum name")
                base.doc = params.get(AVRO_ENUM_DOC_PREFIX_PROP + short)
                base.enum_default = params.get(AVRO_ENUM_DEFAULT_PREFIX_PROP + short)
                seen: set[str] = set()
                for s in symbols:
                    validate_name(s, "enum symbol")
                    if s in seen:
                        raise DataError(f"Duplicate enum symbol: {s}")
                    seen.add(s)
                if base.enum_default is not None and base.enum_default not in seen:
                    raise DataError(
                        f"The Enum Default: {base.enum_default} is not in the enum symbol set: "
                        f"{symbols}"
                    )
                base.symbols = symbols
            else:
                base = _prim("string")
        elif t is Type.BYTES:
            if _is_fixed_schema(schema):
                base = self._named("fixed", ctx, schema.name)
                base.size = _int_param(schema, CONNECT_AVRO_FIXED_SIZE_PROP)
            else:
                base = _prim("bytes")
            if schema.name is not None and schema.name.lower() == DECIMAL_NAME.lower():
                base.add_prop("scale", _int_param(schema, Decimal.SCALE_FIELD))
                if params is not None and CONNECT_AVRO_DECIMAL_PRECISION_PROP in params:
                    precision = _int_param(schema, CONNECT_AVRO_DECIMAL_PRECISION_PROP)
                else:
                    precision = CONNECT_AVRO_DECIMAL_PRECISION_DEFAULT
                base.add_prop("precision", precision)
        elif t is Type.ARRAY:
            assert schema.value_schema is not None
            base = AvroNode("array")
            base.items = self._with_cycle(schema.value_schema, ctx, False)
        elif t is Type.MAP:
            ks, vs = schema.key_schema, schema.value_schema
            assert ks is not None
            assert vs is not None
            if self._string_keys(ks):
                base = AvroNode("map")
                base.values = self._with_cycle(vs, ctx, False)
            else:
                if schema.name is None:
                    entry = AvroNode("record")
                    entry.namespace, entry.name = NAMESPACE, MAP_ENTRY_TYPE_NAME
                else:
                    entry = self._named("record", ctx, schema.name)
                    entry.add_prop(CONNECT_INTERNAL_TYPE_NAME, MAP_ENTRY_TYPE_NAME)
                entry.fields = [
                    self._record_field(KEY_FIELD, ks, None, ctx),
                    self._record_field(VALUE_FIELD, vs, None, ctx),
                ]
                base = AvroNode("array")
                base.items = entry
        elif union:
            base = AvroNode("union")
            if schema.optional:
                base.branches.append(_prim("null"))
            for f in schema.fields:
                base.branches.append(self._with_cycle(non_optional(f.schema), ctx, True))
            seen_branches: set[str] = set()
            for b in base.branches:
                if b.type == "union":
                    raise DataError(f"Nested union in the Connect union {schema!r}")
                if b.full_name in seen_branches:
                    raise DataError(
                        f"Duplicate in union: {b.full_name} (two fields of the Connect union "
                        f"{schema.name} map to the same Avro type)"
                    )
                seen_branches.add(b.full_name)
        elif schema.optional:
            base = AvroNode("union")
            base.branches = [_prim("null"), self._with_cycle(non_optional(schema), ctx, False)]
        else:
            base = self._named("record", ctx, schema.name)
            if params is not None:
                base.doc = params.get(AVRO_RECORD_DOC_PROP)
            if schema.name is not None:
                ctx.cycle_refs[schema.name] = (schema, base)
            names: set[str] = set()
            for f in schema.fields:
                fname = self._scrub_name(f.name)
                if fname in names:
                    raise DataError(f"Duplicate field {fname} in record {base.full_name}")
                names.add(fname)
                doc = None if params is None else params.get(AVRO_FIELD_DOC_PREFIX_PROP + f.name)
                base.fields.append(self._record_field(fname, f.schema, doc, ctx))
        final = base
        if base.type != "union":
            self._add_metadata(schema, base, connect_type)
            if not ignore_optional:
                final = self._maybe_optional(schema, base)
        if not schema.optional:
            ctx.schema_map[schema] = final
        return final

    def _string_keys(self, key_schema: Schema) -> bool:
        return key_schema.type is Type.STRING and (
            not key_schema.optional or self.config.allow_optional_map_keys
        )

    def _add_metadata(self, schema: Schema, base: AvroNode, connect_type: str | None) -> None:
        params = schema.parameters
        name = schema.name
        if self._meta:
            if schema.doc is not None:
                base.add_prop(CONNECT_DOC_PROP, schema.doc)
            if schema.version is not None:
                base.add_prop(CONNECT_VERSION_PROP, schema.version)
            if params is not None:
                shown = {k: v for k, v in params.items() if k != AVRO_FIELD_DEFAULT_FLAG_PROP}
                if shown:
                    base.add_prop(CONNECT_PARAMETERS_PROP, shown)
            if schema.default is not None and (
                params is None or AVRO_FIELD_DEFAULT_FLAG_PROP not in params
            ):
                base.add_prop(
                    CONNECT_DEFAULT_VALUE_PROP, self._default_json(schema, schema.default)
                )
            if name is not None:
                base.add_prop(CONNECT_NAME_PROP, name)
            if connect_type is not None:
                base.add_prop(CONNECT_TYPE_PROP, connect_type)
        if name is not None:
            lname = name.lower()
            if lname == DECIMAL_NAME.lower():
                base.add_prop(AVRO_LOGICAL_TYPE_PROP, "decimal")
            elif lname == TIME_NAME.lower():
                self._logical(base, "time-millis", "int")
            elif lname == TIMESTAMP_NAME.lower():
                self._logical(base, "timestamp-millis", "long")
            elif lname == DATE_NAME.lower():
                self._logical(base, "date", "int")
        if params is not None:
            for k, v in params.items():
                if k.startswith("avro"):
                    base.add_prop(k, v)

    @staticmethod
    def _logical(base: AvroNode, logical: str, avro_type: str) -> None:
        if base.type != avro_type:
            raise DataError(
                f"Logical type {logical} must be backed by {avro_type}, not {base.type}"
            )
        base.add_prop(AVRO_LOGICAL_TYPE_PROP, logical)

    @staticmethod
    def _maybe_optional(schema: Schema, base: AvroNode) -> AvroNode:
        if not schema.optional:
            return base
        union = AvroNode("union")
        if schema.default is not None:
            union.branches = [base, _prim("null")]
        else:
            union.branches = [_prim("null"), base]
        return union

    def _record_field(
        self, name: str, schema: Schema, doc: str | None, ctx: _FromConnectContext
    ) -> AvroField:
        default: JsonValue = NO_DEFAULT
        if schema.default is not None:
            # Java passes the default through Avro's JacksonUtils.toObject and back, which with
            # Avro 1.12 gives the same JSON (a FLOAT32 default stays a float: 0.1, not the
            # widened 0.10000000149011612)
            default = self._default_json(schema, schema.default)
        elif schema.optional:
            default = None
        node = self._from_connect(schema, ctx, False)
        validate_name(name, "field name")
        if default is not NO_DEFAULT and not is_valid_default(node, default):
            default = NO_DEFAULT  # Java: "Ignoring invalid default for field"
        return AvroField(name, node, doc, default)

    def _default_json(self, schema: Schema, value: object) -> JsonValue:
        """Java's `defaultValueFromConnect`: a Connect default as the JSON Avro writes."""
        if value is None:
            return None
        try:
            v = _to_avro_logical(schema, value)
            t = schema.type
            if t in (Type.INT8, Type.INT16, Type.INT32, Type.INT64):
                if not isinstance(v, int) or isinstance(v, bool):
                    raise TypeError
                return int(v)
            if t is Type.FLOAT32:
                return JavaFloat(to_float32(float(v)))  # type: ignore[arg-type]
            if t is Type.FLOAT64:
                return float(v)  # type: ignore[arg-type]
            if t is Type.BOOLEAN:
                return bool(v)
            if t is Type.STRING:
                if not isinstance(v, str):
                    raise TypeError
                return v
            if t is Type.BYTES:
                return bytes(v).decode("latin-1")  # type: ignore[call-overload]
            if t is Type.ARRAY:
                assert schema.value_schema is not None
                return [self._default_json(schema.value_schema, x) for x in v]  # type: ignore[attr-defined]
            if t is Type.MAP:
                ks, vs = schema.key_schema, schema.value_schema
                assert ks is not None
                assert vs is not None
                items = v.items()  # type: ignore[attr-defined]
                if self._string_keys(ks):
                    return {k: self._default_json(vs, x) for k, x in items}
                return [[self._default_json(ks, k), self._default_json(vs, x)] for k, x in items]
            if not isinstance(v, Struct):
                raise TypeError
            if is_union_schema(schema):
                for f in schema.fields:
                    return self._default_json(f.schema, v.get(f))
                return None
            return {
                self._scrub_name(f.name): self._default_json(f.schema, v.get(f))
                for f in schema.fields
            }
        except (TypeError, ValueError, AttributeError, OverflowError):
            raise DataError(
                f"Invalid type used for default value of {schema.type.name} field: "
                f"{type(value).__name__}"
            ) from None

    # -- Avro -> Connect schema

    def to_connect_schema(self, avro: AvroSchema | AvroNode, version: int | None = None) -> Schema:
        """Java's `toConnectSchema`; `version` is the registry's version of the schema, used
        when it carries no `connect.version` (Java's AvroConverter passes it)."""
        node = avro if isinstance(avro, AvroNode) else parse(avro)
        key = (to_text(node), version)
        cached: Schema | None = self._to_cache.lookup(key)
        if cached is not None:
            return cached
        result = self._to_connect(node, False, NO_DEFAULT, version, set())
        self._to_cache.store(key, result)
        return result

    def _member_field_name(self, node: AvroNode) -> str:
        if node.type in ("record", "enum", "fixed"):
            if self._enhanced:
                return node.full_name
            return self._split(node.name or "")[1]
        return node.type

    def _to_connect(
        self,
        node: AvroNode,
        force_optional: bool,
        field_default: JsonValue,
        version: int | None,
        active: set[int],
    ) -> Schema:
        t = node.type
        props = node.props
        connect_type = props.get(CONNECT_TYPE_PROP)
        logical = props.get(AVRO_LOGICAL_TYPE_PROP)
        lt = logical.lower() if isinstance(logical, str) else None
        meta = self._meta
        builder: SchemaBuilder
        if t == "boolean":
            builder = SchemaBuilder.bool()
        elif t in ("bytes", "fixed"):
            if lt == "decimal":
                scale = props.get("scale")
                builder = Decimal.builder(
                    int(scale) if isinstance(scale, int | float) and scale is not True else 0
                )
                precision = props.get("precision")
                if precision is not None:
                    if not isinstance(precision, int | float) or isinstance(precision, bool):
                        raise DataError(
                            "precision property must be a JSON Integer. "
                            "https://avro.apache.org/docs/1.9.1/spec.html#Decimal"
                        )
                    if int(precision) != CONNECT_AVRO_DECIMAL_PRECISION_DEFAULT:
                        builder.parameter(CONNECT_AVRO_DECIMAL_PRECISION_PROP, str(int(precision)))
            else:
                builder = SchemaBuilder.bytes()
            if t == "fixed":
                builder.parameter(CONNECT_AVRO_FIXED_SIZE_PROP, str(node.size))
        elif t == "double":
            builder = SchemaBuilder.float64()
        elif t == "float":
            builder = SchemaBuilder.float32()
        elif t == "int":
            if connect_type is None and logical is None:
                builder = SchemaBuilder.int32()
            elif logical is not None:
                if lt == "date":
                    builder = Date.builder()
                elif lt == "time-millis":
                    builder = Time.builder()
                else:
                    builder = SchemaBuilder.int32()
            else:
                code = _INT_TYPES_BY_CODE.get(str(connect_type))
                if code is None:
                    raise DataError(
                        f"Connect type annotation {connect_type!r} for an Avro int is not "
                        f"int8 or int16"
                    )
                builder = SchemaBuilder(code)
        elif t == "long":
            builder = Timestamp.builder() if lt == "timestamp-millis" else SchemaBuilder.int64()
        elif t == "string":
            builder = SchemaBuilder.string()
        elif t == "array":
            assert node.items is not None
            elem = node.items
            if _is_map_entry(elem):
                kf, vf = elem.field(KEY_FIELD), elem.field(VALUE_FIELD)
                if len(elem.fields) != 2 or kf is None or vf is None:
                    raise DataError(
                        "Found map encoded as array of key-value pairs, but array elements do "
                        "not match the expected format."
                    )
                builder = SchemaBuilder.map(
                    self._to_connect(kf.type, False, NO_DEFAULT, None, active),
                    self._to_connect(vf.type, False, NO_DEFAULT, None, active),
                )
            else:
                builder = SchemaBuilder.array(
                    self._to_connect(elem, False, NO_DEFAULT, None, active)
                )
        elif t == "map":
            assert node.values is not None
            builder = SchemaBuilder.map(
                Schema.STRING, self._to_connect(node.values, False, NO_DEFAULT, None, active)
            )
        elif t == "record":
            if id(node) in active:
                raise DataError(
                    f"the Avro record {node.full_name} refers to itself; recursive schemas "
                    f"cannot be mapped to Connect schemas"
                )
            active = active | {id(node)}
            builder = SchemaBuilder.struct()
            if meta and node.doc is not None:
                builder.parameter(AVRO_RECORD_DOC_PROP, node.doc)
            for f in node.fields:
                if meta and f.doc is not None:
                    builder.parameter(AVRO_FIELD_DOC_PREFIX_PROP + f.name, f.doc)
                builder.field(f.name, self._to_connect(f.type, False, f.default, None, active))
        elif t == "enum":
            builder = SchemaBuilder.string()
            if meta:
                if node.doc is not None:
                    builder.parameter(AVRO_ENUM_DOC_PREFIX_PROP + (node.name or ""), node.doc)
                if node.enum_default is not None:
                    builder.parameter(
                        AVRO_ENUM_DEFAULT_PREFIX_PROP + (node.name or ""), node.enum_default
                    )
            builder.parameter(AVRO_TYPE_ENUM, node.full_name)
            for s in node.symbols:
                builder.parameter(AVRO_TYPE_ENUM + "." + s, s)
        elif t == "union":
            branches = node.branches
            if len(branches) == 1 and self.config.flatten_singleton_union:
                return self._to_connect(branches[0], False, NO_DEFAULT, None, active)
            if len(branches) == 2 and any(b.type == "null" and not b.props for b in branches):
                for b in branches:
                    if not (b.type == "null" and not b.props):
                        return self._to_connect(b, True, NO_DEFAULT, None, active)
            builder = SchemaBuilder.struct().name(AVRO_TYPE_UNION)
            names: set[str] = set()
            for b in branches:
                if b.type == "null":
                    builder.optional()
                    continue
                fname = self._member_field_name(b)
                if fname in names:
                    raise DataError("Multiple union schemas map to the Connect union field name")
                names.add(fname)
                builder.field(fname, self._to_connect(b, True, NO_DEFAULT, None, active))
        elif t == "null":
            raise DataError("Standalone null schemas are not supported by this converter")
        else:
            raise DataError(f"Couldn't translate unsupported schema type {t}.")

        doc = props.get(CONNECT_DOC_PROP)
        if meta and isinstance(doc, str):
            builder.doc(doc)
        version_node = props.get(CONNECT_VERSION_PROP)
        v: int | None = None
        if version_node is not None:
            if not isinstance(version_node, int | float) or isinstance(version_node, bool):
                raise DataError(f"Invalid Connect version found: {version_node}")
            v = int(version_node)
        elif version is not None:
            v = version
        if v is not None and v >= 0:
            current = builder._version
            if current is not None and current != v:
                raise DataError(
                    f"Mismatched versions: version already added to SchemaBuilder ({current}) "
                    f"differs from version in source schema ({v})"
                )
            builder.version(v)
        parameters = props.get(CONNECT_PARAMETERS_PROP)
        if meta and parameters is not None:
            if not isinstance(parameters, dict):
                raise DataError(
                    f"Expected JSON object for schema parameters but found: {parameters}"
                )
            for pk, pv in parameters.items():
                if not isinstance(pv, str):
                    raise DataError(
                        f"Expected schema parameter values to be strings but found: {pv}"
                    )
                builder.parameter(pk, pv)
        for pk, pv in props.items():
            if pk.startswith("avro"):
                builder.parameter(pk, pv if isinstance(pv, str) else json.dumps(pv))
        connect_default = props.get(CONNECT_DEFAULT_VALUE_PROP, NO_DEFAULT)
        if field_default is NO_DEFAULT:
            field_default = connect_default
        elif meta and connect_default is NO_DEFAULT:
            builder.parameter(AVRO_FIELD_DEFAULT_FLAG_PROP, "true")
        name_node = props.get(CONNECT_NAME_PROP)
        name: str | None = None
        if name_node is not None:
            if not isinstance(name_node, str):
                raise DataError(f"Invalid schema name: {name_node}")
            name = name_node
        elif t in ("record", "enum", "fixed"):
            name = node.full_name
        if name is not None and not name.startswith(DEFAULT_SCHEMA_FULL_NAME):
            current_name = builder._name
            if current_name is not None and current_name != name:
                raise DataError(
                    f"Mismatched names: name already added to SchemaBuilder ({current_name}) "
                    f"differs from name in source schema ({name})"
                )
            builder.name(name)
        if field_default is not NO_DEFAULT and field_default is not None:
            bare = builder.build()
            with contextlib.suppress(DataError):  # Java: "Ignoring invalid default for schema"
                builder.default_value(self._default_from_avro(bare, node, field_default))
        if force_optional:
            builder.optional()
        return builder.build()

    def _default_from_avro(self, schema: Schema, node: AvroNode, value: JsonValue) -> object:
        """Java's `defaultValueFromAvro`: a JSON default as the Connect value of `schema`."""
        raw = self._default_raw(schema, node, value)
        if raw is None:
            return None
        return _to_connect_logical(schema, raw)

    def _default_raw(self, schema: Schema, node: AvroNode, value: JsonValue) -> object:
        if value is None:
            return None
        t = node.type
        st = schema.type
        bad = DataError(f"invalid default {value!r} for Avro {t}")
        if t == "int":
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise bad
            n = int(value)
            if st is Type.INT8:
                return ((n + 128) & 0xFF) - 128
            if st is Type.INT16:
                return ((n + 32768) & 0xFFFF) - 32768
            if st is Type.INT32:
                return ((n + 2**31) & 0xFFFFFFFF) - 2**31
            return None
        if t == "long":
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise bad
            return int(value)
        if t in ("float", "double"):
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise bad
            return float(value)  # a FLOAT32 default as written (0.1), as JsonConverter reads it
        if t == "boolean":
            return value is True
        if t == "null":
            return None
        if t in ("string", "enum"):
            return value if isinstance(value, str) else json.dumps(value)
        if t in ("bytes", "fixed"):
            if not isinstance(value, str):
                raise bad
            try:
                return value.encode("latin-1")
            except UnicodeEncodeError:
                raise bad from None
        if t == "array":
            assert node.items is not None
            if not isinstance(value, list) or schema.value_schema is None:
                raise bad
            vs, items = schema.value_schema, node.items
            return [self._default_from_avro(vs, items, x) for x in value]
        if t == "map":
            assert node.values is not None
            if not isinstance(value, dict) or schema.value_schema is None:
                raise bad
            vs, values = schema.value_schema, node.values
            return {k: self._default_from_avro(vs, values, x) for k, x in value.items()}
        if t == "record":
            if not isinstance(value, dict) or schema.type is not Type.STRUCT:
                raise bad
            struct = Struct(schema)
            for af in node.fields:
                f = schema.field(af.name)
                if f is None:
                    raise bad
                fv = value.get(af.name, NO_DEFAULT)
                if fv is NO_DEFAULT:
                    struct.put(f, f.schema.default)
                else:
                    struct.put(f, self._default_from_avro(f.schema, af.type, fv))
            return struct
        if t == "union":
            first = node.branches[0] if node.branches else None
            if first is None or first.type == "null":
                return None
            if not is_union_schema(schema):
                return self._default_from_avro(schema, first, value)
            f = schema.field(self._member_field_name(first))
            if f is None:
                raise bad
            struct = Struct(schema)
            struct.put(f, self._default_from_avro(f.schema, first, value))
            return struct
        return None

    # -- values

    def encoder(self, schema: Schema | None) -> Callable[[object], bytes]:
        """Connect value → Avro binary body (no magic byte or schema id), for `schema`."""
        key = schema if schema is not None else _SCHEMALESS
        enc: Callable[[object], bytes] | None = self._enc_cache.lookup(key)
        if enc is None:
            if schema is None:
                enc = avro_codec.encode_schemaless
            else:
                enc = avro_codec.compile_encoder(
                    schema,
                    self.avro_node(schema),
                    avro_codec.EncodeOptions(
                        scrub=self._scrub,
                        use_defaults=not self.config.ignore_default_for_nullables,
                    ),
                )
            self._enc_cache.store(key, enc)
        return enc

    def decoder(
        self,
        writer: AvroSchema | AvroNode,
        reader_connect: Schema | None = None,
        version: int | None = None,
    ) -> tuple[Schema | None, avro_codec.Decoder]:
        """The Connect schema of records written with `writer`, and the function that reads one
        body (no magic byte or id) into its Connect value. With `reader_connect`, records are
        resolved (Avro schema resolution) into that schema instead.

        Cached per writer schema: a writer given as text (as a registry returns it) is looked
        up by that text before it is parsed."""
        cached: tuple[Schema | None, avro_codec.Decoder] | None
        raw_key = (writer, reader_connect, version) if isinstance(writer, str) else None
        if raw_key is not None:
            cached = self._dec_cache.lookup(raw_key)
            if cached is not None:
                return cached
        node = writer if isinstance(writer, AvroNode) else parse(writer)
        text = to_text(node)
        key = (text, reader_connect, version)
        cached = self._dec_cache.lookup(key)
        if cached is not None:
            if raw_key is not None:
                self._dec_cache.store(raw_key, cached)
            return cached
        result: tuple[Schema | None, avro_codec.Decoder]
        if text == ANYTHING_SCHEMA_TEXT:
            result = (None, avro_codec.decode_schemaless)
        elif reader_connect is None:
            schema = self.to_connect_schema(node, version)
            result = (schema, avro_codec.compile_decoder(node, schema, self._member_field_name))
        else:
            reader = self.avro_node(reader_connect)
            reader_text = to_text(reader)
            read = avro_codec.compile_decoder(reader, reader_connect, self._member_field_name)
            if reader_text == text:
                result = (reader_connect, read)
            else:
                result = (reader_connect, avro_codec.resolving_decoder(text, reader_text, read))
        self._dec_cache.store(key, result)
        if raw_key is not None and raw_key != key:
            self._dec_cache.store(raw_key, result)
        return result


_SCHEMALESS: Final = object()


def _is_map_entry(node: AvroNode) -> bool:
    if node.type != "record":
        return False
    if node.namespace == NAMESPACE and node.name == MAP_ENTRY_TYPE_NAME:
        return True
    return node.props.get(CONNECT_INTERNAL_TYPE_NAME) == MAP_ENTRY_TYPE_NAME


_LOGICAL_TYPES: Final[dict[str, tuple[type, Any]]] = {
    DECIMAL_NAME: (decimal.Decimal, Decimal),
    DATE_NAME: (_dt.date, Date),
    TIME_NAME: (_dt.time, Time),
    TIMESTAMP_NAME: (_dt.datetime, Timestamp),
}


def _to_avro_logical(schema: Schema, value: object) -> object:
    """A logical type's value as its underlying primitive (TypeError for a wrong value)."""
    logical = _LOGICAL_TYPES.get(schema.name or "")
    if logical is None:
        return value
    python_type, cls = logical
    if not isinstance(value, python_type):
        raise TypeError
    return cls.from_logical(schema, value)


def _to_connect_logical(schema: Schema, value: object) -> object:
    logical = _LOGICAL_TYPES.get(schema.name or "")
    return value if logical is None else logical[1].to_logical(schema, value)
