"""`.proto` files as Confluent's ProtobufConverter registers them: a model, the printer, a reader.

The model (`ProtoFile`, `ProtoMessage`, `ProtoField`, `ProtoOneof`, `ProtoEnum`) holds what the
Connect mapping needs: messages nested in declaration order, fields with their number, label,
type name as written and the `confluent.field_meta` params, oneofs, enums.

`print_file` is Confluent's printer (`ProtobufSchemaUtils.toString`, non-normalized) for that
model, byte for byte: `syntax`, `package` on the next line, a blank line before the imports,
before the file options (`option name = value;`, strings quoted, in the model's order) and before
the messages; in a message the fields, then the oneofs, then (after a blank line) nested
messages and then nested enums; a nested element's every line indented by two spaces, empty lines
included; `field_meta` params printed as Confluent prints them (`precision` and `scale` with
`value` before `key`), then `json_name` last (several options: one per line, comma-separated,
indented); `WRAPPERS_TEXT` is google/protobuf/wrappers.proto so printed: what Confluent's
converter registers for a primitive root.

`parse_file` reads a registered schema into the same model: `.proto` text (Confluent's, Wire's,
hand-written) with `proto-schema-parser`, whose ANTLR error recovery is switched off (a syntax
error raises instead of reading as an empty file); or the base64 of a serialized
`FileDescriptorProto` (what confluent-kafka's serializer registers, returned as such by Apicurio
3.0.9), read by `read_descriptor`. Every field's type name is then resolved to a full name
(`resolve`), against the file's own types, the files its references name and the well-known
types: scalars stay keywords, `map<K, V>` fields become repeated `<CamelName>Entry` messages as
protoc makes them, proto3 `optional` fields get their synthetic oneof index. Unparseable text,
broken descriptors, editions, `group`s and type names that resolve to nothing are `DataError`s
naming what was wrong.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from kconnect.errors import DataError

SCALARS: Final = frozenset(
    {
        "double",
        "float",
        "int32",
        "int64",
        "uint32",
        "uint64",
        "sint32",
        "sint64",
        "fixed32",
        "fixed64",
        "sfixed32",
        "sfixed64",
        "bool",
        "string",
        "bytes",
    }
)

DECIMAL_TYPE: Final = "confluent.type.Decimal"
DATE_TYPE: Final = "google.type.Date"
TIME_TYPE: Final = "google.type.TimeOfDay"
TIMESTAMP_TYPE: Final = "google.protobuf.Timestamp"
WRAPPERS: Final = {
    "google.protobuf.DoubleValue": "double",
    "google.protobuf.FloatValue": "float",
    "google.protobuf.Int64Value": "int64",
    "google.protobuf.UInt64Value": "uint64",
    "google.protobuf.Int32Value": "int32",
    "google.protobuf.UInt32Value": "uint32",
    "google.protobuf.BoolValue": "bool",
    "google.protobuf.StringValue": "string",
    "google.protobuf.BytesValue": "bytes",
}
"""The well-known wrapper messages (one field `value = 1`), in wrappers.proto's order."""
KNOWN_TYPES: Final = frozenset({DECIMAL_TYPE, DATE_TYPE, TIME_TYPE, TIMESTAMP_TYPE, *WRAPPERS})
"""Types of imported well-known files that the Connect mapping reads."""


@dataclass
class ProtoField:
    name: str
    number: int
    type: str
    """The type as printed: a scalar keyword or a (relative or full) message/enum name. After
    `parse_file`, message and enum types are full names without the leading dot."""
    label: str = ""
    """"", "repeated", "optional" or "required"."""
    params: tuple[tuple[str, str], ...] = ()
    """`(confluent.field_meta)` params, in print order."""
    oneof_index: int | None = None
    """The oneof's index among the message's oneofs (synthetic ones included), when read."""
    json_name: str | None = None
    """A `json_name` the descriptor sets (printed as the last option); not read."""


@dataclass
class ProtoOneof:
    name: str
    fields: list[ProtoField] = field(default_factory=list)


@dataclass
class ProtoEnum:
    name: str
    values: list[tuple[str, int]] = field(default_factory=list)
    full_name: str = ""


@dataclass
class ProtoMessage:
    name: str
    fields: list[ProtoField] = field(default_factory=list)
    """The fields that are in no real oneof, in declaration order."""
    oneofs: list[ProtoOneof] = field(default_factory=list)
    messages: list[ProtoMessage] = field(default_factory=list)
    enums: list[ProtoEnum] = field(default_factory=list)
    full_name: str = ""

    def nested(self, name: str) -> ProtoMessage | None:
        return next((m for m in self.messages if m.name == name), None)


@dataclass
class ProtoFile:
    package: str = ""
    imports: list[str] = field(default_factory=list)
    options: list[tuple[str, str | bool]] = field(default_factory=list)
    """File options (`java_package`, ...) in print order; printed, not read by `parse_file`."""
    messages: list[ProtoMessage] = field(default_factory=list)
    enums: list[ProtoEnum] = field(default_factory=list)
    syntax: str = "proto3"
    types: dict[str, ProtoMessage | ProtoEnum] = field(default_factory=dict)
    """Every message and enum of the file by full name (filled by `parse_file`)."""

    def message_at(self, indexes: list[int]) -> ProtoMessage:
        """The message a Confluent message-index path names (enums are not counted)."""
        level = self.messages
        message: ProtoMessage | None = None
        for depth, i in enumerate(indexes):
            if not 0 <= i < len(level):
                path = ", ".join(map(str, indexes))
                raise DataError(
                    f"message index {i} at depth {depth} of the record's index list [{path}] "
                    f"is out of range: the schema has {len(level)} message(s) there"
                )
            message = level[i]
            level = message.messages
        assert message is not None  # decode_message_indexes never gives an empty list
        return message


# --- the printer ------------------------------------------------------------------------------


def _indent(text: str) -> str:
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return "".join(f"  {line}\n" for line in lines)


def _quote(text: str) -> str:
    out = text.replace("\\", "\\\\")
    for char, escaped in (
        ("\a", "\\a"),
        ("\b", "\\b"),
        ("\f", "\\f"),
        ("\n", "\\n"),
        ("\r", "\\r"),
        ("\t", "\\t"),
        ("\v", "\\v"),
        ("'", "\\'"),
        ('"', '\\"'),
    ):
        out = out.replace(char, escaped)
    return f'"{out}"'


def _field_meta(params: tuple[tuple[str, str], ...]) -> str:
    elements = []
    for key, value in params:
        if key in ("precision", "scale"):  # Confluent prints these two value first
            body = f"value: {_quote(value)},\nkey: {_quote(key)}"
        else:
            body = f"key: {_quote(key)},\nvalue: {_quote(value)}"
        elements.append("{\n" + _indent(body) + "}")
    params_text = "params: [\n" + _indent(",\n".join(elements)) + "]"
    return "(confluent.field_meta) = {\n" + _indent(params_text) + "}"


def _field_text(f: ProtoField) -> str:
    label = f"{f.label} " if f.label else ""
    options = [_field_meta(f.params)] if f.params else []
    if f.json_name is not None:
        options.append(f"json_name = {_quote(f.json_name)}")
    if len(options) == 1:
        listed = f" [{options[0]}]"
    elif options:
        listed = " [\n" + _indent(",\n".join(options)) + "]"
    else:
        listed = ""
    return f"{label}{f.type} {f.name} = {f.number}{listed};\n"


def _enum_text(e: ProtoEnum) -> str:
    if not e.values:
        return f"enum {e.name} {{}}\n"
    return f"enum {e.name} {{\n" + "".join(_indent(f"{n} = {v};") for n, v in e.values) + "}\n"


def _message_text(m: ProtoMessage) -> str:
    out = f"message {m.name} {{"
    if m.fields:
        out += "\n" + "".join(_indent(_field_text(f)) for f in m.fields)
    if m.oneofs:
        oneofs = (
            f"oneof {o.name} {{\n" + "".join(_indent(_field_text(f)) for f in o.fields) + "}\n"
            for o in m.oneofs
        )
        out += "\n" + "".join(_indent(text) for text in oneofs)
    if m.messages or m.enums:
        nested = [_message_text(n) for n in m.messages] + [_enum_text(e) for e in m.enums]
        out += "\n" + "".join(_indent(text) for text in nested)
    return out + "}\n"


def _option_text(name: str, value: str | bool) -> str:
    if isinstance(value, bool):
        return f"option {name} = {'true' if value else 'false'};\n"
    return f"option {name} = {_quote(value)};\n"


def print_file(file: ProtoFile) -> str:
    """The file's text as Confluent's `ProtobufSchema.canonicalString()` prints it."""
    out = f'syntax = "{file.syntax}";\n'
    if file.package:
        out += f"package {file.package};\n"
    if file.imports:
        out += "\n" + "".join(f'import "{i}";\n' for i in file.imports)
    if file.options:
        out += "\n" + "".join(_option_text(n, v) for n, v in file.options)
    if file.messages or file.enums:
        out += "\n" + "".join(_message_text(m) for m in file.messages)
        out += "".join(_enum_text(e) for e in file.enums)
    return out


WRAPPERS_OPTIONS: Final[tuple[tuple[str, str | bool], ...]] = (
    ("java_package", "com.google.protobuf"),
    ("java_outer_classname", "WrappersProto"),
    ("java_multiple_files", True),
    ("go_package", "google.golang.org/protobuf/types/known/wrapperspb"),
    ("cc_enable_arenas", True),
    ("objc_class_prefix", "GPB"),
    ("csharp_namespace", "Google.Protobuf.WellKnownTypes"),
)
"""The file options of google/protobuf/wrappers.proto as protobuf-java 3.25's `WrappersProto`
descriptor holds them (the protobuf-java Confluent's converter bundles), in the fixed order of
Confluent's `ProtobufSchema.toProtoFile`: `java_package`, `java_outer_classname`,
`java_multiple_files`, ..., `go_package`, ..., `cc_enable_arenas`, `objc_class_prefix`,
`csharp_namespace`, ... (tests/integration/test_protobuf_wrappers_java.py checks them against
that descriptor)."""


def wrappers_file() -> ProtoFile:
    """google/protobuf/wrappers.proto as Confluent's `ProtobufSchema` holds it: package
    `google.protobuf`, its file options, the nine wrapper messages in declaration order, each
    one field `value = 1` with the `json_name` "value" protoc sets in the descriptor (which
    Confluent's `toField` keeps and its printer prints); comments are not in a descriptor."""
    messages = [
        ProtoMessage(
            full_name.rpartition(".")[2],
            [ProtoField("value", 1, kind, json_name="value")],
            full_name=full_name,
        )
        for full_name, kind in WRAPPERS.items()
    ]
    return ProtoFile(package="google.protobuf", options=list(WRAPPERS_OPTIONS), messages=messages)


WRAPPERS_TEXT: Final = print_file(wrappers_file())
"""The text Confluent's converter registers for a primitive root: wrappers.proto, printed."""


# --- the reader -------------------------------------------------------------------------------


def _upper_camel(name: str) -> str:
    """protoc's map entry name part: underscores dropped, the next letter and the first upper."""
    out = []
    upper = True
    for char in name:
        if char == "_":
            upper = True
        elif upper:
            out.append(char.upper())
            upper = False
        else:
            out.append(char)
    return "".join(out)


def _field_meta_params(options: list[object]) -> tuple[tuple[str, str], ...]:
    from proto_schema_parser import ast  # noqa: PLC0415 - only where registered text is read

    params: list[tuple[str, str]] = []
    for option in options:
        if not isinstance(option, ast.Option) or option.name != "(confluent.field_meta)":
            continue
        if not isinstance(option.value, ast.MessageLiteral):
            continue
        for element in option.value.elements:
            if not isinstance(element, ast.MessageLiteralField) or element.name != "params":
                continue
            items = element.value if isinstance(element.value, list) else [element.value]
            for item in items:
                if not isinstance(item, ast.MessageLiteral):
                    continue
                kv = {
                    e.name: e.value for e in item.elements if isinstance(e, ast.MessageLiteralField)
                }
                key, value = kv.get("key"), kv.get("value")
                if isinstance(key, str) and isinstance(value, str):
                    params.append((key, value))
    return tuple(params)


def _read_message(node: object, scope: str) -> ProtoMessage:
    from proto_schema_parser import ast  # noqa: PLC0415

    assert isinstance(node, ast.Message)
    message = ProtoMessage(node.name, full_name=f"{scope}{node.name}")
    inner_scope = message.full_name + "."
    oneof_count = 0
    synthetic: list[ProtoField] = []
    for element in node.elements:
        if isinstance(element, ast.Field):
            label = element.cardinality.value.lower() if element.cardinality else ""
            f = ProtoField(
                element.name,
                element.number,
                element.type,
                label,
                _field_meta_params(list(element.options)),
            )
            if label == "optional":
                synthetic.append(f)
            message.fields.append(f)
        elif isinstance(element, ast.MapField):
            entry = ProtoMessage(_upper_camel(element.name) + "Entry", full_name=f"{inner_scope}")
            entry.full_name += entry.name
            entry.fields = [
                ProtoField("key", 1, element.key_type),
                ProtoField("value", 2, element.value_type),
            ]
            message.messages.append(entry)
            message.fields.append(
                ProtoField(
                    element.name,
                    element.number,
                    entry.name,
                    "repeated",
                    _field_meta_params(list(element.options)),
                )
            )
        elif isinstance(element, ast.OneOf):
            oneof = ProtoOneof(element.name)
            for member in element.elements:
                if isinstance(member, ast.Field):
                    oneof.fields.append(
                        ProtoField(
                            member.name,
                            member.number,
                            member.type,
                            "",
                            _field_meta_params(list(member.options)),
                            oneof_count,
                        )
                    )
                elif isinstance(member, ast.Group):
                    raise DataError(f"group {member.name} in message {message.full_name}")
            message.oneofs.append(oneof)
            oneof_count += 1
        elif isinstance(element, ast.Message):
            message.messages.append(_read_message(element, inner_scope))
        elif isinstance(element, ast.Enum):
            message.enums.append(_read_enum(element, inner_scope))
        elif isinstance(element, ast.Group):
            raise DataError(
                f"message {message.full_name} has a group ({element.name}), which the Connect "
                "mapping does not read"
            )
    for f in synthetic:  # protoc numbers the synthetic oneofs after the real ones
        f.oneof_index = oneof_count
        oneof_count += 1
    return message


def _read_enum(node: object, scope: str) -> ProtoEnum:
    from proto_schema_parser import ast  # noqa: PLC0415

    assert isinstance(node, ast.Enum)
    values = [(v.name, v.number) for v in node.elements if isinstance(v, ast.EnumValue)]
    return ProtoEnum(node.name, values, full_name=f"{scope}{node.name}")


def _index(file: ProtoFile, imported: Sequence[ProtoFile] = ()) -> None:
    for other in imported:
        file.types.update(other.types)

    def add(messages: list[ProtoMessage], enums: list[ProtoEnum]) -> None:
        for e in enums:
            file.types[e.full_name] = e
        for m in messages:
            file.types[m.full_name] = m
            add(m.messages, m.enums)

    add(file.messages, file.enums)


def resolve(file: ProtoFile, scope: str, name: str) -> str:
    """The full name (no leading dot) that type `name` used in scope `scope` (a message's full
    name) stands for, by protobuf's scoping rules; a scalar keyword stays itself."""
    if name in SCALARS:
        return name
    if name.startswith("."):
        full = name[1:]
        if full in file.types or full in KNOWN_TYPES:
            return full
    else:
        parts = scope.split(".") if scope else []
        while True:
            candidate = ".".join([*parts, name])
            if candidate in file.types or candidate in KNOWN_TYPES:
                return candidate
            if not parts:
                break
            parts.pop()
    raise DataError(
        f"type {name!r} used in {scope or 'the file'} names no message or enum of the schema "
        "and no well-known type the Connect mapping reads (google.protobuf.Timestamp, "
        "google.type.Date, google.type.TimeOfDay, confluent.type.Decimal, the wrappers)"
    )


def _resolve_all(file: ProtoFile) -> None:
    def walk(message: ProtoMessage) -> None:
        for f in [*message.fields, *(m for o in message.oneofs for m in o.fields)]:
            f.type = resolve(file, message.full_name, f.type)
        for nested in message.messages:
            walk(nested)

    for m in file.messages:
        walk(m)


def _strict(recognizer: Any) -> None:
    """Make an ANTLR lexer or parser raise on the first syntax error instead of printing it
    and recovering (which would read a broken text as an empty file)."""
    from antlr4.error.ErrorListener import ErrorListener  # type: ignore[import-untyped]  # noqa: PLC0415

    class _Raise(ErrorListener):  # type: ignore[misc]
        def syntaxError(  # noqa: N802 - ANTLR's name
            self, recognizer: object, symbol: object, line: int, column: int, msg: str, e: object
        ) -> None:
            raise DataError(f"line {line}:{column}: {msg}")

    recognizer.removeErrorListeners()
    recognizer.addErrorListener(_Raise())


def parse_file(text: str, imported: Sequence[ProtoFile] = ()) -> ProtoFile:
    """The model of a registered schema, every field type resolved to a full name: `.proto`
    text, or the base64 of a serialized `FileDescriptorProto` (what confluent-kafka's
    ProtobufSerializer registers, and what Apicurio 3.0.9 returns for it as registered).
    `imported` are the files its references name (parsed the same way): their types resolve."""
    from proto_schema_parser import ast  # noqa: PLC0415
    from proto_schema_parser.parser import Parser  # noqa: PLC0415

    if _BASE64.match(text.strip()):
        try:
            raw = base64.b64decode(text.strip(), validate=True)
        except ValueError:
            raw = b""
        if raw:
            try:
                file = read_descriptor(raw)
            except (UnicodeDecodeError, IndexError, ValueError) as e:
                raise DataError(
                    f"the schema is not a serialized FileDescriptorProto: {e}"
                ) from None
            _index(file, imported)
            _resolve_all(file)
            return file
    try:
        tree = Parser(setup_lexer=_strict, setup_parser=_strict).parse(text)
    except DataError as e:
        raise DataError(f"the schema is not a .proto file that parses: {e}") from None
    except Exception as e:  # noqa: BLE001 - the parser's errors have no common base
        raise DataError(f"the schema is not a .proto file that parses: {e}") from None
    if tree.edition is not None:
        raise DataError(f"the schema uses edition {tree.edition}, which is not read")
    file = ProtoFile(syntax=tree.syntax or "proto2")
    for element in tree.file_elements:
        if isinstance(element, ast.Package):
            file.package = element.name
    scope = f"{file.package}." if file.package else ""
    for element in tree.file_elements:
        if isinstance(element, ast.Import):
            file.imports.append(element.name)
        elif isinstance(element, ast.Message):
            file.messages.append(_read_message(element, scope))
        elif isinstance(element, ast.Enum):
            file.enums.append(_read_enum(element, scope))
    _index(file, imported)
    _resolve_all(file)
    return file


# --- serialized descriptors ---------------------------------------------------------------------

_BASE64: Final = re.compile(r"[A-Za-z0-9+/]+={0,2}\Z")
_DESCRIPTOR_TYPES: Final = {
    1: "double",
    2: "float",
    3: "int64",
    4: "uint64",
    5: "int32",
    6: "fixed64",
    7: "fixed32",
    8: "bool",
    9: "string",
    12: "bytes",
    13: "uint32",
    15: "sfixed32",
    16: "sfixed64",
    17: "sint32",
    18: "sint64",
}
_LABELS: Final = {1: "optional", 2: "required", 3: "repeated"}


def _records(buf: bytes) -> list[tuple[int, int | bytes]]:
    """(field number, varint or bytes) of a message's fields, fixed-size ones skipped."""
    out: list[tuple[int, int | bytes]] = []
    pos = 0
    end = len(buf)

    def varint() -> int:
        nonlocal pos
        n = shift = 0
        while True:
            if pos >= end or shift > 63:
                raise DataError("the serialized descriptor is truncated")
            b = buf[pos]
            pos += 1
            n |= (b & 0x7F) << shift
            if b < 0x80:
                return n
            shift += 7

    while pos < end:
        key = varint()
        number, wire = key >> 3, key & 7
        if wire == 0:
            out.append((number, varint()))
        elif wire == 2:
            n = varint()
            if pos + n > end:
                raise DataError("the serialized descriptor is truncated")
            out.append((number, buf[pos : pos + n]))
            pos += n
        elif wire in (1, 5):
            pos += 8 if wire == 1 else 4
        else:
            raise DataError(f"the serialized descriptor has wire type {wire}")
    return out


def _text(value: int | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else ""


def _descriptor_enum(raw: bytes, scope: str) -> ProtoEnum:
    enum = ProtoEnum("")
    for number, value in _records(raw):
        if number == 1:
            enum.name = _text(value)
        elif number == 2 and isinstance(value, bytes):
            fields = dict(_records(value))
            symbol = _text(fields.get(1, b""))
            n = int(fields.get(2, 0))
            enum.values.append((symbol, n - (1 << 64) if n >= 1 << 63 else n))
    enum.full_name = scope + enum.name
    return enum


def _descriptor_message(raw: bytes, scope: str, proto3: bool) -> ProtoMessage:
    records = _records(raw)
    name = next((_text(v) for n, v in records if n == 1), "")
    message = ProtoMessage(name, full_name=scope + name)
    inner = message.full_name + "."
    oneof_names = [
        _text(dict(_records(v)).get(1, b"")) for n, v in records if n == 8 and isinstance(v, bytes)
    ]
    real: dict[int, ProtoOneof] = {}
    for number, value in records:
        if not isinstance(value, bytes):
            continue
        if number == 2:
            fields = dict(_records(value))
            kind = int(fields.get(5, 0))
            if kind == 10:
                raise DataError(f"message {message.full_name} has a group")
            type_name = _text(fields.get(6, b"")) or _DESCRIPTOR_TYPES.get(kind, "")
            f = ProtoField(
                _text(fields.get(1, b"")),
                int(fields.get(3, 0)),
                type_name,
                _LABELS.get(int(fields.get(4, 1)), ""),
            )
            if proto3 and f.label == "optional" and not fields.get(17):
                f.label = ""  # proto3 implicit presence (proto2 keeps "optional")
            oneof = fields.get(9)
            if isinstance(oneof, int):
                f.oneof_index = oneof
                if not fields.get(17):
                    f.label = ""
                    if oneof not in real:
                        real[oneof] = ProtoOneof(oneof_names[oneof])
                    real[oneof].fields.append(f)
                    continue
            message.fields.append(f)
        elif number == 3:
            message.messages.append(_descriptor_message(value, inner, proto3))
        elif number == 4:
            message.enums.append(_descriptor_enum(value, inner))
    message.oneofs = [real[i] for i in sorted(real)]
    return message


def read_descriptor(raw: bytes) -> ProtoFile:
    """The model of a serialized `FileDescriptorProto` (type names as written, unresolved)."""
    file = ProtoFile(syntax="proto2")
    records = _records(raw)
    for number, value in records:
        if number == 2:
            file.package = _text(value)
        elif number == 12:
            file.syntax = _text(value) or "proto2"
    scope = f"{file.package}." if file.package else ""
    for number, value in records:
        if not isinstance(value, bytes):
            continue
        if number == 3:
            file.imports.append(_text(value))
        elif number == 4:
            file.messages.append(_descriptor_message(value, scope, file.syntax == "proto3"))
        elif number == 5:
            file.enums.append(_descriptor_enum(value, scope))
    return file
