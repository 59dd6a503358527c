"""Avro schemas as Apache Avro's Java library holds them: parsing JSON, and `Schema.toString()`.

A Schema Registry compares schemas by their text, so the text kconnect registers must be the one
Java's `org.apache.avro.Schema.toString()` writes for the same schema, byte for byte. This module
holds the model (`AvroNode`, `AvroField`) that `kconnect.data.avro` builds from Connect schemas
and that `parse` builds from JSON read from a registry, and writes it out as Java does:

- compact JSON; an object's keys in Java's order: `type`, `name`, `namespace`, `doc`, then
  `fields` / `items` / `values` / `symbols` (+ the enum's `default`) / `size`, then the other
  properties in the order they were added, then `aliases`; a field: `name`, `type`, `doc`,
  `default`, `order`, `aliases`, then its properties;
- a primitive without properties as a bare string (`"int"`);
- `namespace` written only where it differs from the enclosing one (`""` for a name without a
  namespace inside one that has one);
- a named type written in full once, and by name afterwards (the short name inside its own
  namespace); two different definitions of one name are an error (Java's "Can't redefine");
- numbers as Jackson writes them: integers as they are, doubles as Java's `Double.toString`
  (`1.0E10`), floats held as `JavaFloat` (a Jackson FloatNode) as `Float.toString`; strings with
  `"`, `\\` and control characters escaped (`\\u00XX` upper-case), everything else literal.

Invariants: nodes are built once and never changed after `to_text` has seen them; a recursive
schema (a record that refers to itself) is one node reachable from itself. Failures raise
`DataError` naming the schema element and what was wrong.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from typing import Any, Final

from kconnect.data._javatext import jackson_str, java_double_str, java_float_str
from kconnect.errors import DataError

JsonValue = Any
"""A JSON value as `json.loads` gives it (a schema's default or property value)."""

PRIMITIVES: Final = frozenset(
    {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}
)
NAMED: Final = frozenset({"record", "error", "enum", "fixed"})
_SCHEMA_RESERVED: Final = frozenset(
    {"doc", "fields", "items", "name", "namespace", "size", "symbols", "values", "type", "aliases"}
)
_ENUM_RESERVED: Final = _SCHEMA_RESERVED | {"default"}
_FIELD_RESERVED: Final = frozenset({"default", "doc", "name", "order", "type", "aliases"})
_TYPE_NAMES: Final = PRIMITIVES | {"record", "enum", "array", "map", "union", "fixed"}


class JavaFloat(float):
    """A float that Jackson holds as a FloatNode: written as Java's `Float.toString`."""


class _NoDefault:
    __slots__ = ()

    def __repr__(self) -> str:
        return "NO_DEFAULT"


NO_DEFAULT: Final = _NoDefault()
"""A field without a default (distinct from a default of JSON null, which is None)."""


class AvroField:
    """A record field: name, schema, doc, default (NO_DEFAULT when absent), order, properties."""

    __slots__ = ("aliases", "default", "doc", "name", "order", "props", "type")

    def __init__(
        self,
        name: str,
        type: AvroNode,
        doc: str | None = None,
        default: JsonValue = NO_DEFAULT,
        order: str | None = None,
        aliases: list[str] | None = None,
        props: dict[str, JsonValue] | None = None,
    ) -> None:
        self.name = name
        self.type = type
        self.doc = doc
        self.default = default
        self.order = order
        self.aliases = aliases
        self.props: dict[str, JsonValue] = props if props is not None else {}


class AvroNode:
    """One Avro schema. `type` is the Avro type name ("record", "int", "union", ...)."""

    __slots__ = (
        "aliases",
        "branches",
        "doc",
        "enum_default",
        "error",
        "fields",
        "items",
        "name",
        "namespace",
        "props",
        "size",
        "symbols",
        "type",
        "values",
    )

    def __init__(self, type: str) -> None:
        self.type = type
        self.name: str | None = None
        self.namespace: str | None = None
        self.doc: str | None = None
        self.props: dict[str, JsonValue] = {}
        self.fields: list[AvroField] = []
        self.items: AvroNode | None = None
        self.values: AvroNode | None = None
        self.symbols: list[str] = []
        self.enum_default: str | None = None
        self.size = 0
        self.branches: list[AvroNode] = []
        self.aliases: list[str] | None = None
        """Full names."""
        self.error = False
        """A record declared as `"type": "error"`."""

    @property
    def full_name(self) -> str:
        """The full name of a named type; the type name of any other."""
        if self.name is None:
            return self.type
        return f"{self.namespace}.{self.name}" if self.namespace else self.name

    def field(self, name: str) -> AvroField | None:
        for f in self.fields:
            if f.name == name:
                return f
        return None

    def add_prop(self, key: str, value: JsonValue) -> None:
        """Avro's `addProp`: a property is set once; setting it again to another value fails."""
        if key in self.props:
            if not _json_equal(self.props[key], value):
                raise DataError(f"Can't overwrite property: {key} of Avro schema {self.full_name}")
            return
        self.props[key] = value

    def __repr__(self) -> str:
        return f"AvroNode({to_text(self)})"


# --- names ------------------------------------------------------------------------------------


def validate_name(name: str, what: str = "name") -> str:
    """Avro's name rule: a letter or `_`, then letters, digits or `_`."""
    if not name:
        raise DataError(f"Empty Avro {what}")
    first = name[0]
    if not (first.isalpha() or first == "_"):
        raise DataError(
            f"Illegal initial character in Avro {what} {name!r}: a name starts with a letter "
            f"or '_' (set scrub.invalid.names=true to replace invalid characters)"
        )
    for c in name[1:]:
        if not (c.isalpha() or c.isdecimal() or c == "_"):
            raise DataError(
                f"Illegal character {c!r} in Avro {what} {name!r}: a name holds letters, digits "
                f"and '_' only (set scrub.invalid.names=true to replace invalid characters)"
            )
    return name


def check_not_primitive(full_name: str) -> str:
    """Avro refuses a named type called like a primitive (`int`, `string`, ...)."""
    if full_name in PRIMITIVES:
        raise DataError(f"Schemas may not be named after primitives: {full_name}")
    return full_name


def split_full_name(full: str, space: str | None = None) -> tuple[str | None, str]:
    """Avro's `Name(name, space)`: a dotted name carries its own namespace."""
    dot = full.rfind(".")
    if dot >= 0:
        space = full[:dot]
        full = full[dot + 1 :]
    return (space or None), full


_SCRUB_OK = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_NOT_NAME_CHAR = re.compile(r"[^A-Za-z0-9_]")
_URL_SAFE = re.compile(r"[A-Za-z0-9.\-*_]")


def scrub_name(name: str) -> str:
    """Confluent's `doScrubName`: URL-encode (Java's URLEncoder, UTF-8), prefix `x` to a leading
    digit, then every character other than a letter, digit or `_` becomes `_`."""
    if not name or _SCRUB_OK.match(name):
        return name
    parts: list[str] = []
    for c in name:
        if _URL_SAFE.match(c):
            parts.append(c)
        elif c == " ":
            parts.append("+")
        else:
            parts.extend(f"%{b:02X}" for b in c.encode("utf-8", "replace"))
    encoded = "".join(parts)
    if encoded[0].isdigit():
        encoded = "x" + encoded
    return _NOT_NAME_CHAR.sub("_", encoded)


# --- parsing JSON ------------------------------------------------------------------------------


def parse(schema: JsonValue | str) -> AvroNode:
    """An Avro schema from its JSON (text or loaded), as Java's `Schema.Parser` reads it."""
    if isinstance(schema, str):
        stripped = schema.strip()
        if stripped.startswith(("{", "[", '"')):
            try:
                schema = json.loads(stripped)
            except ValueError as e:
                raise DataError(f"invalid Avro schema JSON: {e}") from None
    return _parse(schema, None, {})


def _parse(obj: JsonValue, space: str | None, names: dict[str, AvroNode]) -> AvroNode:
    if isinstance(obj, str):
        if obj in PRIMITIVES:
            return AvroNode(obj)
        return _lookup(obj, space, names)
    if isinstance(obj, list):
        node = AvroNode("union")
        node.branches = [_parse(b, space, names) for b in obj]
        return node
    if not isinstance(obj, dict):
        raise DataError(f"invalid Avro schema {obj!r}: expected a string, object or array")
    t = obj.get("type")
    if not isinstance(t, str):
        raise DataError(f"invalid Avro schema {_short(obj)}: 'type' must be a string")
    if t in PRIMITIVES:
        node = AvroNode(t)
    elif t in NAMED:
        node = AvroNode("record" if t == "error" else t)
        node.error = t == "error"
        name = obj.get("name")
        if not isinstance(name, str):
            raise DataError(f"invalid Avro {t} {_short(obj)}: it needs a string 'name'")
        ns = obj.get("namespace", space)
        if ns is not None and not isinstance(ns, str):
            raise DataError(f"invalid Avro {t} {name!r}: 'namespace' must be a string")
        node.namespace, node.name = split_full_name(name, ns)
        validate_name(node.name, f"{t} name")
        doc = obj.get("doc")
        node.doc = doc if isinstance(doc, str) else None
        aliases = obj.get("aliases")
        if isinstance(aliases, list):
            node.aliases = []
            for a in aliases:
                a_space, a_name = split_full_name(str(a), node.namespace)
                node.aliases.append(f"{a_space}.{a_name}" if a_space else a_name)
        full = check_not_primitive(node.full_name)
        if full in names:
            raise DataError(f"Can't redefine Avro type: {full}")
        names[full] = node
        inner = node.namespace
        if node.type == "record":
            fields = obj.get("fields")
            if not isinstance(fields, list):
                raise DataError(f"invalid Avro record {full}: 'fields' must be an array")
            seen: set[str] = set()
            for f in fields:
                fld = _parse_field(f, inner, names, full)
                if fld.name in seen:
                    raise DataError(f"Duplicate field {fld.name} in Avro record {full}")
                seen.add(fld.name)
                node.fields.append(fld)
        elif node.type == "enum":
            symbols = obj.get("symbols")
            if not isinstance(symbols, list) or not all(isinstance(s, str) for s in symbols):
                raise DataError(f"invalid Avro enum {full}: 'symbols' must be an array of names")
            node.symbols = list(symbols)
            default = obj.get("default")
            node.enum_default = default if isinstance(default, str) else None
        else:
            size = obj.get("size")
            if type(size) is not int or size < 0:
                raise DataError(f"invalid Avro fixed {full}: 'size' must be a positive integer")
            node.size = size
    elif t == "array":
        node = AvroNode(t)
        if "items" not in obj:
            raise DataError(f"invalid Avro array {_short(obj)}: it needs 'items'")
        node.items = _parse(obj["items"], space, names)
    elif t == "map":
        node = AvroNode(t)
        if "values" not in obj:
            raise DataError(f"invalid Avro map {_short(obj)}: it needs 'values'")
        node.values = _parse(obj["values"], space, names)
    else:
        return _lookup(t, space, names)
    reserved = _ENUM_RESERVED if node.type == "enum" else _SCHEMA_RESERVED
    for key, value in obj.items():
        if key not in reserved:
            node.props[key] = value
    return node


def _parse_field(
    obj: JsonValue, space: str | None, names: dict[str, AvroNode], record: str
) -> AvroField:
    if not isinstance(obj, dict) or not isinstance(obj.get("name"), str) or "type" not in obj:
        raise DataError(f"invalid field {_short(obj)} of Avro record {record}: needs name and type")
    name = validate_name(obj["name"], "field name")
    doc = obj.get("doc")
    order = obj.get("order")
    aliases = obj.get("aliases")
    return AvroField(
        name,
        _parse(obj["type"], space, names),
        doc if isinstance(doc, str) else None,
        obj.get("default", NO_DEFAULT),
        order if isinstance(order, str) and order != "ascending" else None,
        [str(a) for a in aliases] if isinstance(aliases, list) else None,
        {k: v for k, v in obj.items() if k not in _FIELD_RESERVED},
    )


def _lookup(name: str, space: str | None, names: dict[str, AvroNode]) -> AvroNode:
    ns, short = split_full_name(name, space)
    full = f"{ns}.{short}" if ns else short
    node = names.get(full) or names.get(name)
    if node is None:
        raise DataError(f"undefined Avro type name {name!r}")
    return node


def _short(obj: object) -> str:
    text = json.dumps(obj)
    return text if len(text) <= 80 else text[:77] + "..."


# --- writing: Java's Schema.toString() ----------------------------------------------------------

json_string = jackson_str


def json_value(v: JsonValue) -> str:
    """A JSON value (a default or a property) as Jackson writes its tree."""
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, str):
        return json_string(v)
    if isinstance(v, int):
        return str(int(v))
    if isinstance(v, float):
        text = java_float_str(v) if isinstance(v, JavaFloat) else java_double_str(v)
        return text if math.isfinite(v) else '"' + text + '"'
    if isinstance(v, list | tuple):
        return "[" + ",".join(json_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ",".join(json_string(k) + ":" + json_value(x) for k, x in v.items()) + "}"
    raise DataError(f"cannot write {v!r} as JSON")


class _Names:
    __slots__ = ("defined", "space")

    def __init__(self) -> None:
        self.defined: dict[str, AvroNode] = {}
        self.space: str | None = None


def to_text(node: AvroNode) -> str:
    """Java's `Schema.toString()` of `node`."""
    out: list[str] = []
    _write(node, _Names(), out)
    return "".join(out)


def to_json(node: AvroNode) -> JsonValue:
    """`node` as parsed JSON: `json.loads(to_text(node))`."""
    return json.loads(to_text(node))


def _write_props(props: dict[str, JsonValue], out: list[str]) -> None:
    for k, v in props.items():
        out.append("," + json_string(k) + ":" + json_value(v))


def _qualified(node: AvroNode, space: str | None) -> str:
    assert node.name is not None
    if node.namespace is not None and node.namespace == space and node.name not in _TYPE_NAMES:
        return node.name
    return node.full_name


def _write(node: AvroNode, names: _Names, out: list[str]) -> None:
    t = node.type
    if t in PRIMITIVES:
        if not node.props:
            out.append(json_string(t))
            return
        out.append('{"type":' + json_string(t))
        _write_props(node.props, out)
        out.append("}")
        return
    if t == "union":
        out.append("[")
        for i, b in enumerate(node.branches):
            if i:
                out.append(",")
            _write(b, names, out)
        out.append("]")
        return
    if t == "array":
        assert node.items is not None
        out.append('{"type":"array","items":')
        _write(node.items, names, out)
        _write_props(node.props, out)
        out.append("}")
        return
    if t == "map":
        assert node.values is not None
        out.append('{"type":"map","values":')
        _write(node.values, names, out)
        _write_props(node.props, out)
        out.append("}")
        return
    # a named type: a reference when already written
    full = node.full_name
    known = names.defined.get(full)
    if known is not None:
        if known is not node and not same_schema(known, node):
            raise DataError(
                f"Can't redefine: {full} (two different Avro types have this name, as Java's "
                f"AvroData also finds; give the Connect schemas distinct names: a map with "
                f"non-string keys names its entry record after the map schema's name)"
            )
        out.append(json_string(_qualified(node, names.space)))
        return
    names.defined[full] = node
    saved = names.space
    written_type = "error" if node.error else t
    out.append('{"type":' + json_string(written_type) + ',"name":' + json_string(node.name or ""))
    if node.namespace is not None:
        if node.namespace != names.space:
            out.append(',"namespace":' + json_string(node.namespace))
    elif names.space is not None:
        out.append(',"namespace":""')
    if t == "record":
        names.space = node.namespace
    if node.doc is not None:
        out.append(',"doc":' + json_string(node.doc))
    if t == "record":
        out.append(',"fields":[')
        for i, f in enumerate(node.fields):
            if i:
                out.append(",")
            out.append('{"name":' + json_string(f.name) + ',"type":')
            _write(f.type, names, out)
            if f.doc is not None:
                out.append(',"doc":' + json_string(f.doc))
            if f.default is not NO_DEFAULT:
                out.append(',"default":' + json_value(f.default))
            if f.order is not None:
                out.append(',"order":' + json_string(f.order))
            if f.aliases:
                out.append(',"aliases":' + json_value(f.aliases))
            _write_props(f.props, out)
            out.append("}")
        out.append("]")
    elif t == "enum":
        out.append(',"symbols":' + json_value(node.symbols))
        if node.enum_default is not None:
            out.append(',"default":' + json_string(node.enum_default))
    else:
        out.append(',"size":' + str(node.size))
    _write_props(node.props, out)
    if node.aliases:
        ns = node.namespace
        qualified = [a[len(ns) + 1 :] if ns and a.startswith(ns + ".") else a for a in node.aliases]
        out.append(',"aliases":' + json_value(qualified))
    out.append("}")
    names.space = saved


def same_schema(a: AvroNode, b: AvroNode) -> bool:
    """Avro's `Schema.equals`: the same types, names, properties, fields (name, type, default,
    order, properties), symbols and sizes; docs and an enum's default are not compared."""
    return bool(_expand(a, set()) == _expand(b, set()))


def _expand(node: AvroNode, seen: set[int]) -> JsonValue:
    if node.type in NAMED:
        if id(node) in seen:
            return node.full_name
        seen = seen | {id(node)}
    out: dict[str, JsonValue] = {"type": node.type, "props": node.props}
    if node.name is not None:
        out["name"] = node.full_name
    if node.type == "record":
        out["fields"] = [
            (f.name, _expand(f.type, seen), repr(f.default), f.order, f.props) for f in node.fields
        ]
    elif node.type == "enum":
        out["symbols"] = node.symbols
    elif node.type == "fixed":
        out["size"] = node.size
    elif node.type == "union":
        out["branches"] = [_expand(b, seen) for b in node.branches]
    elif node.items is not None:
        out["items"] = _expand(node.items, seen)
    elif node.values is not None:
        out["values"] = _expand(node.values, seen)
    return out


def _json_equal(a: JsonValue, b: JsonValue) -> bool:
    return json_value(a) == json_value(b)


def walk(node: AvroNode) -> Iterator[AvroNode]:
    """Every node reachable from `node`, each once (recursive schemas included)."""
    seen: set[int] = set()
    stack = [node]
    while stack:
        n = stack.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        yield n
        stack.extend(f.type for f in n.fields)
        stack.extend(n.branches)
        if n.items is not None:
            stack.append(n.items)
        if n.values is not None:
            stack.append(n.values)


# --- Avro's default-value check (Schema.isValidDefault) ---------------------------------------


def is_valid_default(node: AvroNode, value: JsonValue) -> bool:
    """Whether `value` is a valid default for `node` as Avro 1.12's Java library judges it (a
    union's default may fit any branch; Avro 1.11 and older wanted the first)."""
    t = node.type
    if t in ("string", "bytes", "enum", "fixed"):
        return isinstance(value, str)
    if t == "int":
        return type(value) is int and -(2**31) <= value < 2**31
    if t == "long":
        return type(value) is int and -(2**63) <= value < 2**63
    if t in ("float", "double"):
        return isinstance(value, int | float) and not isinstance(value, bool)
    if t == "boolean":
        return isinstance(value, bool)
    if t == "null":
        return value is None
    if t == "array":
        assert node.items is not None
        items = node.items
        return isinstance(value, list) and all(is_valid_default(items, x) for x in value)
    if t == "map":
        assert node.values is not None
        values = node.values
        return isinstance(value, dict) and all(is_valid_default(values, x) for x in value.values())
    if t == "union":
        return any(is_valid_default(b, value) for b in node.branches)
    if t == "record":
        if not isinstance(value, dict):
            return False
        for f in node.fields:
            if f.name in value:
                if not is_valid_default(f.type, value[f.name]):
                    return False
            elif f.default is NO_DEFAULT or not is_valid_default(f.type, f.default):
                return False
        return True
    return False
