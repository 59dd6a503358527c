"""The Connect ↔ Protobuf mapping of Confluent's ProtobufConverter (`ProtobufData`).

Writing (`ProtobufData.from_connect_schema`): a STRUCT becomes a proto3 file with one top-level
message, named by the schema's name (the part before the last dot is the `package`) or
`ConnectDefault1`; nested structs, map entries and enums are nested in the message holding the
field; unnamed ones are `ConnectDefaultN`, one counter depth-first in field order. Field numbers
are the `io.confluent.connect.protobuf.Tag` parameters, else a counter. INT8/INT16 are `int32`
with a `confluent.field_meta` param `connect.type`; Decimal is `confluent.type.Decimal` with
`precision` (from `connect.decimal.precision`) and `scale` params; Date, Time and Timestamp the
Google types; ARRAY is `repeated`; MAP is `repeated <Name>Entry` with an explicit entry message.
The text is Confluent's printer's (`protobuf_schema.print_file`), so a subject gains no version
when a pipeline moves between runtimes. Doc, defaults, versions and other parameters are not in
the text (Confluent writes none either).

Reading (`ProtobufData.to_connect_schema`): the message a record's index list names becomes a
required STRUCT named by the message's name (its full name with
`enhanced.protobuf.schema.support`); real oneofs first (as optional union structs named
`io.confluent.connect.protobuf.Union.<oneof>`, field `<oneof>_<index>`), then the other fields,
each optional and carrying its number in the Tag parameter and its non-default scalar kind in the
Type parameter; enums are STRINGs with the Enum parameters; a repeated `*Entry` message with
fields `key` and `value` is a MAP.

With `optional.for.nullables`, optional fields are proto3 `optional` (written with presence, a
zero written and a null not) and only such fields read as optional.

Not supported (a `ConfigError` names the key): `wrapper.for.nullables`,
`generalized.sum.type.support`, `flatten.unions`, `generate.struct.for.nulls`,
`ignore.default.for.nullables` set true; `generate.index.for.unions`, `skip.known.types` set
false.

Primitive roots (a STRING key, an INT64 value, ...) are written as Confluent writes them: the
registered text is the whole google/protobuf/wrappers.proto as Confluent prints it
(`WRAPPERS_TEXT`), the root is the wrapper message of the type (`ROOT_WRAPPERS`: INT8/16/32
`Int32Value`, INT64 `Int64Value`, FLOAT32 `FloatValue`, FLOAT64 `DoubleValue`, BOOLEAN
`BoolValue`, STRING `StringValue`, BYTES `BytesValue`), its message index its position in the
file (`message_indexes`), the payload the wrapper with the value in field 1. The Type and Enum
parameters do not apply at the root. Decimal, Date, Time and Timestamp roots are `DataError`s
(Java registers the wrapper of the underlying type but writes the logical type's message), ARRAY
and MAP roots too (Java: "Unsupported root schema of type ..."). Reading a wrapper message at the
root gives the primitive with `wrapper.for.raw.primitives` (the default), a STRUCT with one
field `value` without.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from kconnect.data import protobuf_codec as codec
from kconnect.data.logical import Date, Decimal, Time, Timestamp
from kconnect.data.protobuf_schema import (
    DATE_TYPE,
    DECIMAL_TYPE,
    KNOWN_TYPES,
    TIME_TYPE,
    TIMESTAMP_TYPE,
    WRAPPERS,
    WRAPPERS_TEXT,
    ProtoEnum,
    ProtoField,
    ProtoFile,
    ProtoMessage,
    ProtoOneof,
    parse_file,
    print_file,
)
from kconnect.data.schema import (
    DATE_NAME,
    DECIMAL_NAME,
    TIME_NAME,
    TIMESTAMP_NAME,
    Schema,
    SchemaBuilder,
    Type,
)
from kconnect.errors import ConfigError, DataError

ENHANCED_PROTOBUF_SCHEMA_SUPPORT_CONFIG: Final = "enhanced.protobuf.schema.support"
SCRUB_INVALID_NAMES_CONFIG: Final = "scrub.invalid.names"
WRAPPER_FOR_RAW_PRIMITIVES_CONFIG: Final = "wrapper.for.raw.primitives"
INT_FOR_ENUMS_CONFIG: Final = "int.for.enums"
SCHEMAS_CACHE_SIZE_CONFIG: Final = "schemas.cache.config"
SCHEMAS_CACHE_SIZE_ALIAS: Final = "schemas.cache.size"
REFUSED_WHEN_TRUE: Final = (
    "wrapper.for.nullables",
    "generalized.sum.type.support",
    "flatten.unions",
    "generate.struct.for.nulls",
    "ignore.default.for.nullables",
    "reference.lookup.only",
)
REFUSED_WHEN_FALSE: Final = ("generate.index.for.unions", "skip.known.types")
OPTIONAL_FOR_NULLABLES_CONFIG: Final = "optional.for.nullables"
OPTIONAL_FOR_PROTO2_CONFIG: Final = "optional.for.proto2"

_IMPORTS: Final = {
    DECIMAL_NAME: ("confluent/type/decimal.proto", DECIMAL_TYPE),
    DATE_NAME: ("google/type/date.proto", DATE_TYPE),
    TIME_NAME: ("google/type/timeofday.proto", TIME_TYPE),
    TIMESTAMP_NAME: ("google/protobuf/timestamp.proto", TIMESTAMP_TYPE),
}
_VALID_NAME: Final = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
_INT_KINDS: Final = {
    "int32": Type.INT32,
    "sint32": Type.INT32,
    "sfixed32": Type.INT32,
    "int64": Type.INT64,
    "uint32": Type.INT64,
    "fixed32": Type.INT64,
    "uint64": Type.INT64,
    "sint64": Type.INT64,
    "fixed64": Type.INT64,
    "sfixed64": Type.INT64,
}
_OTHER_KINDS: Final = {
    "float": Type.FLOAT32,
    "double": Type.FLOAT64,
    "bool": Type.BOOLEAN,
    "string": Type.STRING,
    "bytes": Type.BYTES,
}


ROOT_WRAPPERS: Final = {
    Type.INT8: "google.protobuf.Int32Value",
    Type.INT16: "google.protobuf.Int32Value",
    Type.INT32: "google.protobuf.Int32Value",
    Type.INT64: "google.protobuf.Int64Value",
    Type.FLOAT32: "google.protobuf.FloatValue",
    Type.FLOAT64: "google.protobuf.DoubleValue",
    Type.BOOLEAN: "google.protobuf.BoolValue",
    Type.STRING: "google.protobuf.StringValue",
    Type.BYTES: "google.protobuf.BytesValue",
}
"""The wrapper message a primitive root is written as (`descriptorFromConnectSchema` in Java)."""
_WRAPPER_INDEXES: Final = {name: [i] for i, name in enumerate(WRAPPERS)}


def message_indexes(text: str, full_name: str) -> list[int]:
    """The message-index path of the root `from_connect_schema` gave as (`text`, `full_name`):
    in wrappers.proto the wrapper's position (`StringValue` is `[7]`), else the file's one
    message, `[0]` (a struct named like a wrapper included)."""
    if text == WRAPPERS_TEXT:
        return list(_WRAPPER_INDEXES[full_name])
    return [0]


def _bool(configs: Mapping[str, object], key: str, default: bool) -> bool:
    value = configs.get(key)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ConfigError(f"invalid value {value!r} for key '{key}': expected true or false")


@dataclass(frozen=True)
class ProtobufDataConfig:
    """Confluent's `ProtobufDataConfig`: the converter keys that shape the mapping."""

    enhanced_protobuf_schema_support: bool = False
    scrub_invalid_names: bool = False
    wrapper_for_raw_primitives: bool = True
    int_for_enums: bool = False
    optional_for_nullables: bool = False
    optional_for_proto2: bool = True
    schemas_cache_size: int = 1000

    @classmethod
    def from_configs(cls, configs: Mapping[str, object]) -> ProtobufDataConfig:
        """The config from a converter's keys (prefix removed). Options whose effect is not
        implemented are refused, naming the key, so no subject gets a schema Java would not
        register and no record is read differently from Java without notice."""
        for key in REFUSED_WHEN_TRUE:
            if _bool(configs, key, False):
                raise ConfigError(
                    f"invalid value {configs.get(key)!r} for key '{key}': expected false "
                    f"(kconnect's ProtobufConverter does not support {key})"
                )
        for key in REFUSED_WHEN_FALSE:
            if not _bool(configs, key, True):
                raise ConfigError(
                    f"invalid value {configs.get(key)!r} for key '{key}': expected true "
                    f"(kconnect's ProtobufConverter does not support {key}=false)"
                )
        strategy = configs.get("reference.subject.name.strategy")
        if strategy is not None and str(strategy).rsplit(".", 1)[-1] != (
            "DefaultReferenceSubjectNameStrategy"
        ):
            raise ConfigError(
                f"invalid value {strategy!r} for key 'reference.subject.name.strategy': "
                "expected DefaultReferenceSubjectNameStrategy (kconnect registers no references)"
            )
        size_key = (
            SCHEMAS_CACHE_SIZE_CONFIG
            if configs.get(SCHEMAS_CACHE_SIZE_CONFIG) is not None
            else SCHEMAS_CACHE_SIZE_ALIAS
        )
        size = configs.get(size_key, 1000)
        try:
            cache_size = max(1, int(str(size).strip()))
        except ValueError:
            raise ConfigError(
                f"invalid value {size!r} for key '{size_key}': expected an integer"
            ) from None
        return cls(
            enhanced_protobuf_schema_support=_bool(
                configs, ENHANCED_PROTOBUF_SCHEMA_SUPPORT_CONFIG, False
            ),
            scrub_invalid_names=_bool(configs, SCRUB_INVALID_NAMES_CONFIG, False),
            wrapper_for_raw_primitives=_bool(configs, WRAPPER_FOR_RAW_PRIMITIVES_CONFIG, True),
            int_for_enums=_bool(configs, INT_FOR_ENUMS_CONFIG, False),
            optional_for_nullables=_bool(configs, OPTIONAL_FOR_NULLABLES_CONFIG, False),
            optional_for_proto2=_bool(configs, OPTIONAL_FOR_PROTO2_CONFIG, True),
            schemas_cache_size=cache_size,
        )


def scrub_name(name: str) -> str:
    """Confluent's `scrubName`: URL-encode, prefix `x` before a digit or `_`, then `_` for
    every character outside `[A-Za-z0-9_]`."""
    if _VALID_NAME.match(name):
        return name
    encoded = urllib.parse.quote_plus(name, safe=".-*_")
    if encoded[:1].isdigit() or encoded[:1] == "_":
        encoded = "x" + encoded
    return re.sub(r"[^A-Za-z0-9_]", "_", encoded)


def _map_entry_name(name: str) -> str:
    if "_" in name:  # Guava LOWER_UNDERSCORE -> UPPER_CAMEL
        name = "".join(part[:1].upper() + part[1:].lower() for part in name.split("_"))
    return name + "Entry"


def _map_field_name(entry: str) -> str:
    base = entry.removesuffix("Entry")  # Guava UPPER_CAMEL -> LOWER_UNDERSCORE
    return re.sub(r"(?<!^)([A-Z])", r"_\1", base).lower()


@dataclass
class _Nested:
    message: ProtoMessage
    schema: Schema


@dataclass
class _FromConnect:
    scrub: bool
    optional_label: bool = False
    """`optional.for.nullables`: an optional field that is not repeated is proto3 `optional`."""
    counter: int = 0
    imports: list[str] = field(default_factory=list)
    shapes: dict[int, dict[str, Schema]] = field(default_factory=dict)

    def valid(self, name: str, what: str) -> str:
        if self.scrub:
            return scrub_name(name)
        if not _VALID_NAME.match(name):
            raise DataError(
                f"{what} {name!r} is not a valid Protobuf name (letters, digits and _, starting "
                "with a letter): rename it, or set scrub.invalid.names=true"
            )
        return name

    def type_name(self, schema: Schema) -> str:
        if schema.name:
            return self.valid(schema.name.rsplit(".", 1)[-1], "name")
        self.counter += 1
        return f"ConnectDefault{self.counter}"

    def message(self, schema: Schema, name: str) -> ProtoMessage:
        message = ProtoMessage(name)
        for index, number in codec.numbered_fields(schema):
            f = schema.fields[index]
            fs = f.schema
            if number is None:
                union = (fs.name or "").removeprefix(codec.UNION_PREFIX).lstrip(".")
                oneof = ProtoOneof(self.valid(union.rsplit(".", 1)[-1] or "union", "union"))
                for i, n in codec.union_members(fs, f.name):
                    member = fs.fields[i]
                    oneof.fields.append(self.field(message, member.name, member.schema, n))
                    oneof.fields[-1].label = ""
                message.oneofs.append(oneof)
                continue
            message.fields.append(self.field(message, f.name, fs, number))
        return message

    def field(self, parent: ProtoMessage, name: str, schema: Schema, number: int) -> ProtoField:
        name = self.valid(name, "field name")
        if schema.type is Type.ARRAY:
            element = schema.value_schema
            assert element is not None
            if element.type is Type.ARRAY:
                raise DataError(f"field {name}: Array cannot be nested (an array of arrays)")
            type_, params = self.type_of(parent, name, element)
            return ProtoField(name, number, type_, "repeated", params)
        type_, params = self.type_of(parent, name, schema)
        if schema.type is Type.MAP:
            label = "repeated"
        else:
            label = "optional" if self.optional_label and schema.optional else ""
        return ProtoField(name, number, type_, label, params)

    def add_import(self, path: str) -> None:
        if path not in self.imports:
            self.imports.append(path)

    def type_of(
        self, parent: ProtoMessage, field_name: str, schema: Schema
    ) -> tuple[str, tuple[tuple[str, str], ...]]:
        params = schema.parameters or {}
        logical = _IMPORTS.get(schema.name or "")
        if logical is not None:
            self.add_import(logical[0])
            if schema.name == DECIMAL_NAME:
                meta = []
                if codec.PRECISION_PARAM in params:
                    meta.append(("precision", params[codec.PRECISION_PARAM]))
                meta.append(("scale", params.get("scale", "0")))
                return logical[1], tuple(meta)
            return logical[1], ()
        t = schema.type
        if t in (Type.INT8, Type.INT16):
            return "int32", (("connect.type", t.value),)
        if t in (Type.STRING, Type.INT32) and codec.ENUM_PARAM in params:
            return self.enum(parent, schema), ()
        if t is Type.STRUCT:
            return self.struct(parent, field_name, schema), ()
        if t is Type.MAP:
            return self.map_entry(parent, schema), ()
        if t is Type.ARRAY:
            raise DataError(f"field {field_name}: Array cannot be nested (an array in a map)")
        return codec.scalar_kind(schema), ()

    def enum(self, parent: ProtoMessage, schema: Schema) -> str:
        name = self.type_name(schema)
        symbols = codec.enum_symbols(schema) or {}
        values = [(self.valid(s, "enum symbol"), n) for s, n in symbols.items()]
        if values and values[0][1] != 0:
            raise DataError(f"enum {name}: the first value must be 0 in proto3, not {values[0][1]}")
        existing = next((e for e in parent.enums if e.name == name), None)
        if existing is None:
            parent.enums.append(ProtoEnum(name, values))
        elif existing.values != values:
            raise DataError(f"two different enums named {name} in message {parent.name}")
        return (schema.parameters or {})[codec.ENUM_PARAM]

    def struct(self, parent: ProtoMessage, field_name: str, schema: Schema) -> str:
        name = self.type_name(schema)
        if name == field_name:
            name += "Message"
        shapes = self.shapes.setdefault(id(parent), {})
        if name in shapes:
            if not shapes[name].same_shape(schema):
                raise DataError(
                    f"two different structs named {name} in message {parent.name}: Confluent's "
                    "ProtobufData would silently write both with the first one's definition"
                )
            return name
        if name == parent.name:
            raise DataError(f"struct {name} is named like the message holding it")
        shapes[name] = schema
        nested = self.message(schema, name)
        parent.messages.append(nested)
        return name

    def map_entry(self, parent: ProtoMessage, schema: Schema) -> str:
        name = _map_entry_name(self.type_name(schema))
        if parent.nested(name) is not None:
            raise DataError(f"two maps whose entry message is {name} in message {parent.name}")
        key_schema, value_schema = schema.key_schema, schema.value_schema
        assert key_schema is not None
        assert value_schema is not None
        entry = ProtoMessage(name)
        parent.messages.append(entry)
        entry.fields = [
            self.field(entry, "key", key_schema, 1),
            self.field(entry, "value", value_schema, 2),
        ]
        return name


class ProtobufData:
    """Confluent's ProtobufData for one converter's config."""

    def __init__(self, config: ProtobufDataConfig) -> None:
        self.config = config

    # --- writing --------------------------------------------------------------------------

    def from_connect_schema(self, schema: Schema | None) -> tuple[str, str]:
        """(the registered text, the root message's full name) of a value schema."""
        if schema is None:
            raise DataError("a Protobuf record needs a schema: the value has none")
        wrapper = ROOT_WRAPPERS.get(schema.type)
        if wrapper is not None:
            logical = _IMPORTS.get(schema.name or "")
            if logical is not None:
                raise DataError(
                    f"a {schema.name} value cannot be the root of a Protobuf record: Confluent's "
                    f"ProtobufData registers {wrapper} for its {schema.type.value} type but writes "
                    f"the {logical[1]} message, which that schema does not describe; wrap it in a "
                    "STRUCT"
                )
            return WRAPPERS_TEXT, wrapper
        if schema.type is not Type.STRUCT:
            raise DataError(
                f"Unsupported root schema of type {schema.type.name}: a Protobuf record is a "
                "STRUCT or a primitive (written as its google.protobuf wrapper message), never "
                f"a {schema.type.value}; wrap it in a STRUCT"
            )
        build = _FromConnect(self.config.scrub_invalid_names, self.config.optional_for_nullables)
        package, _, short = (schema.name or "").rpartition(".")
        name = build.valid(short, "name") if short else build.type_name(schema)
        root = build.message(schema, name)
        file = ProtoFile(package=package, imports=build.imports, messages=[root])
        full_name = f"{package}.{name}" if package else name
        return print_file(file), full_name

    def encoder(self, schema: Schema) -> codec.Encoder:
        """The payload encoder of a root schema `from_connect_schema` accepts."""
        if schema.type in ROOT_WRAPPERS:
            return codec.wrapper_encoder(schema)
        return codec.encoder(schema, presence=self.config.optional_for_nullables)

    # --- reading --------------------------------------------------------------------------

    def parse(self, text: str, imported: Sequence[ProtoFile] = ()) -> ProtoFile:
        return parse_file(text, imported)

    def to_connect_schema(
        self, file: ProtoFile, indexes: list[int], version: int | None = None
    ) -> Schema:
        """The Connect schema of the message `indexes` names in `file`."""
        message = file.message_at(indexes)
        kind = WRAPPERS.get(message.full_name)
        if kind is not None and self.config.wrapper_for_raw_primitives:
            # A wrapper message at the root reads as its primitive (Java's primitive keys).
            value = ProtoField("value", 1, kind)
            primitive = self._single(file, value, None, ()).optional()
            if version is not None:
                primitive.version(version)
            return primitive.build()
        builder = self._struct(file, message, ())
        if version is not None:
            builder.version(version)
        return builder.build()

    def decoder(self, schema: Schema) -> codec.Decoder:
        """The payload decoder of a schema `to_connect_schema` gave (a primitive is the
        `value` field of its wrapper message)."""
        if schema.type is Type.STRUCT:
            return codec.decoder(schema, self.config.optional_for_nullables)
        return codec.wrapper_decoder(schema)

    def _name(self, full_name: str, short: str) -> str:
        return full_name if self.config.enhanced_protobuf_schema_support else short

    def _struct(
        self, file: ProtoFile, message: ProtoMessage, seen: tuple[str, ...]
    ) -> SchemaBuilder:
        if message.full_name in seen:
            raise DataError(f"message {message.full_name} is recursive, which Connect cannot hold")
        stack = (*seen, message.full_name)
        builder = SchemaBuilder.struct().name(self._name(message.full_name, message.name))
        for i, oneof in enumerate(message.oneofs):
            union = SchemaBuilder.struct().name(
                f"{codec.UNION_PREFIX}."
                + self._name(f"{message.full_name}.{oneof.name}", oneof.name)
            )
            for member in oneof.fields:
                union.field(member.name, self._field(file, member, stack, in_oneof=True))
            index = oneof.fields[0].oneof_index if oneof.fields else i
            builder.field(f"{oneof.name}_{index}", union.optional().build())
        for f in message.fields:
            builder.field(f.name, self._field(file, f, stack))
        return builder

    def _field(
        self, file: ProtoFile, f: ProtoField, seen: tuple[str, ...], in_oneof: bool = False
    ) -> Schema:
        target = file.types.get(f.type)
        if f.label == "repeated":
            if (
                isinstance(target, ProtoMessage)
                and target.name.endswith("Entry")
                and [x.name for x in target.fields] == ["key", "value"]
                and not target.oneofs
                and all(x.label != "repeated" for x in target.fields)
            ):
                key = self._field(file, target.fields[0], seen)
                value = self._field(file, target.fields[1], seen)
                return (
                    SchemaBuilder.map(key, value)
                    .name(self._map_name(target))
                    .parameter(codec.TAG_PARAM, str(f.number))
                    .optional()
                    .build()
                )
            element = self._single(file, f, target, seen).optional().build()
            return (
                SchemaBuilder.array(element)
                .parameter(codec.TAG_PARAM, str(f.number))
                .optional()
                .build()
            )
        builder = self._single(file, f, target, seen).parameter(codec.TAG_PARAM, str(f.number))
        if self._nullable(file, f, target, in_oneof):
            builder.optional()
        return builder.build()

    def _nullable(self, file: ProtoFile, f: ProtoField, target: object, in_oneof: bool) -> bool:
        """Whether a (not repeated) field reads as optional: always, as Confluent reads it,
        but with `optional.for.nullables` only fields with presence (proto3 `optional`, proto2
        `optional` with `optional.for.proto2`), messages, enums and oneof members."""
        if not self.config.optional_for_nullables or in_oneof:
            return True
        if f.label == "optional":
            return file.syntax != "proto2" or self.config.optional_for_proto2
        return f.type in KNOWN_TYPES or isinstance(target, ProtoMessage | ProtoEnum)

    def _map_name(self, entry: ProtoMessage) -> str:
        short = _map_field_name(entry.name)
        if not self.config.enhanced_protobuf_schema_support:
            return short
        return f"{entry.full_name.rpartition('.')[0]}.{short}".lstrip(".")

    def _single(
        self,
        file: ProtoFile,
        f: ProtoField,
        target: ProtoMessage | ProtoEnum | None,
        seen: tuple[str, ...],
    ) -> SchemaBuilder:
        kind = f.type
        params = dict(f.params)
        if kind in _INT_KINDS:
            t = _INT_KINDS[kind]
            connect_type = params.get("connect.type")
            if kind == "int32" and connect_type in ("int8", "int16"):
                return SchemaBuilder.int8() if connect_type == "int8" else SchemaBuilder.int16()
            builder = SchemaBuilder.int32() if t is Type.INT32 else SchemaBuilder.int64()
            if kind not in ("int32", "int64"):
                builder.parameter(codec.TYPE_PARAM, kind)
            return builder
        if kind in _OTHER_KINDS:
            return SchemaBuilder(_OTHER_KINDS[kind])
        if kind == DECIMAL_TYPE:
            builder = Decimal.builder(int(params.get("scale", "0")))
            if "precision" in params:
                builder.parameter(codec.PRECISION_PARAM, params["precision"])
            return builder
        if kind == DATE_TYPE:
            return Date.builder()
        if kind == TIME_TYPE:
            return Time.builder()
        if kind == TIMESTAMP_TYPE:
            return Timestamp.builder()
        if kind in WRAPPERS:
            value = ProtoField("value", 1, WRAPPERS[kind])
            return (
                SchemaBuilder.struct()
                .name(self._name(kind, kind.rsplit(".", 1)[-1]))
                .field("value", self._field(file, value, seen))
            )
        if isinstance(target, ProtoEnum):
            builder = SchemaBuilder.int32() if self.config.int_for_enums else SchemaBuilder.string()
            builder.name(self._name(target.full_name, target.name))
            builder.parameter(codec.ENUM_PARAM, target.name)
            for symbol, number in target.values:
                builder.parameter(f"{codec.ENUM_PARAM}.{symbol}", str(number))
            return builder
        if isinstance(target, ProtoMessage):
            return self._struct(file, target, seen)
        raise DataError(f"field {f.name}: type {kind} is not read by the Connect mapping")
