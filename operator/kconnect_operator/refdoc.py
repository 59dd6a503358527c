"""The resource reference pages in `docs/reference/`, generated from the CRDs.

`python -m kconnect_operator.refdoc [DIR]` writes one Markdown page per CRD in
`crdgen.DEFINITIONS` (`docs/reference/` by default): the group, version and kind, the names,
the printer columns and subresources, a table per object (the spec, each nested object, the
status) and every validation rule with the message the API server answers with.

The pages are read off `crdgen.crd()`, the same document that is written to `crds/`, never off
the pydantic models directly: so a page says exactly what the API server enforces (the defaults
it applies, its CEL rules), and it cannot drift from the CRD. Like `crdgen`, the output is a pure
function of the models: properties are sorted, objects are listed depth first in that order, and
a unit test regenerates the pages and compares them with the committed ones. Nothing here does
I/O except `write` and `main`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from kconnect_operator import crdgen
from kconnect_operator.core.shapes import JsonObject

DEFAULT_DIR: Final = "docs/reference"

_VALIDATIONS: Final = "x-kubernetes-validations"
_NONE: Final = "—"


@dataclass(frozen=True, slots=True)
class Table:
    """One object of the schema: where it sits and its properties' rows."""

    path: str
    """The object's field path, `spec.externalConfiguration.env[]`; `spec` for the spec."""
    description: str
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True, slots=True)
class Rule:
    """A CEL rule and the message the API server answers with when it fails."""

    path: str
    message: str
    rule: str


def file_name(definition: crdgen.Definition) -> str:
    """`kafkaconnector.md` for `KafkaConnector`."""
    return f"{definition.singular}.md"


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell: one line, pipes escaped."""
    return " ".join(text.split()).replace("|", "\\|")


def _code(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    fence = "``" if "`" in text else "`"
    pad = " " if fence == "``" else ""
    return f"{fence}{pad}{_cell(text)}{pad}{fence}"


def is_scalar_map(node: JsonObject) -> bool:
    """A config map (`shapes.scalar_map_schema`): any key, a string, number or boolean each,
    and properties only for the keys it refuses, each with a rule that always fails."""
    properties = node.get("properties")
    return (
        node.get("type") == "object"
        and node.get("x-kubernetes-preserve-unknown-fields") is True
        and isinstance(properties, dict)
        and all(
            [r["rule"] for r in p.get(_VALIDATIONS, [])] == ["false"] for p in properties.values()
        )
    )


def _refused_keys(node: JsonObject) -> list[str]:
    """A scalar map's refused keys, grouped by message: "keys `a`, `b`: message"."""
    by_message: dict[str, list[str]] = {}
    for key, prop in node["properties"].items():
        by_message.setdefault(prop[_VALIDATIONS][0]["message"], []).append(key)
    return [
        ("key " if len(keys) == 1 else "keys ")
        + ", ".join(_code(k) for k in keys)
        + ": "
        + _cell(message)
        for message, keys in by_message.items()
    ]


SCALAR_VALUES: Final = (
    "each value: a string, a number or a boolean (a number or boolean becomes its text: `2`, "
    "`0.5`, `true`); an object or a list is refused"
)


def _object_schema(node: JsonObject) -> JsonObject | None:
    """The object schema with properties under `node`: itself, its items' or its values'."""
    if is_scalar_map(node):
        return None
    if node.get("type") == "object" and "properties" in node:
        return node
    for key in ("items", "additionalProperties"):
        inner = node.get(key)
        if isinstance(inner, dict):
            found = _object_schema(inner)
            if found is not None:
                return found
    return None


def _suffix(node: JsonObject) -> str:
    """How a nested object's path continues below a field: `[]` for a list, `.*` for a map."""
    if node.get("type") == "array" and isinstance(node.get("items"), dict):
        return "[]" + _suffix(node["items"])
    if isinstance(node.get("additionalProperties"), dict):
        return ".*" + _suffix(node["additionalProperties"])
    return ""


def type_name(node: JsonObject) -> str:
    """A field's type as a reader would write it: `string`, `[]object`, `map[string]string`."""
    if node.get("x-kubernetes-int-or-string") is True:
        return "int-or-string"
    if is_scalar_map(node):
        return "map[string]scalar"
    kind = node.get("type", "any")
    if kind == "array" and isinstance(node.get("items"), dict):
        return "[]" + type_name(node["items"])
    additional = node.get("additionalProperties")
    if kind == "object" and isinstance(additional, dict):
        return "map[string]" + type_name(additional)
    if kind == "object" and "properties" not in node:
        return "object (free-form)"
    return str(kind)


def _constraints(node: JsonObject) -> list[str]:
    """The non-CEL constraints on `node` and, for a list or map, on its elements."""
    out: list[str] = []
    if "enum" in node:
        out.append("one of " + ", ".join(_code(v) for v in node["enum"]))
    for key, label in (
        ("minimum", "minimum"),
        ("maximum", "maximum"),
        ("minLength", "min length"),
        ("maxLength", "max length"),
        ("minItems", "min items"),
        ("maxItems", "max items"),
    ):
        if key in node:
            out.append(f"{label} {node[key]}")
    if "pattern" in node:
        out.append("pattern " + _code(node["pattern"]))
    for key, label in (("items", "each item"), ("additionalProperties", "each value")):
        inner = node.get(key)
        if isinstance(inner, dict) and "properties" not in inner:
            out += [f"{label}: {c}" for c in _constraints(inner)]
    return out


def _rule_messages(node: JsonObject, label: str = "") -> list[str]:
    """The messages of the CEL rules on `node` and on the elements of a list or map it holds."""
    found = [label + _cell(r["message"]) for r in node.get(_VALIDATIONS, [])]
    for key, inner_label in (("items", "each item: "), ("additionalProperties", "each value: ")):
        inner = node.get(key)
        if isinstance(inner, dict):
            found += _rule_messages(inner, label + inner_label)
    return found


def _validation(node: JsonObject) -> str:
    if is_scalar_map(node):
        parts = [SCALAR_VALUES, *_refused_keys(node)]
        return "<br>".join(parts)
    parts = _constraints(node) + _rule_messages(node)
    return "<br>".join(parts) if parts else _NONE


def tables(schema: JsonObject, path: str) -> Iterator[Table]:
    """`schema`'s table, then each nested object's, depth first in property order."""
    required = set(schema.get("required", []))
    rows: list[tuple[str, ...]] = []
    nested: list[tuple[str, JsonObject]] = []
    for name, node in schema.get("properties", {}).items():
        field = f"{path}.{name}"
        default = _code(node["default"]) if "default" in node else _NONE
        rows.append(
            (
                _code(field),
                _code(type_name(node)),
                default,
                "yes" if name in required else "no",
                _cell(node.get("description", "")) or _NONE,
                _validation(node),
            )
        )
        inner = _object_schema(node)
        if inner is not None:
            nested.append((field + _suffix(node), inner))
    yield Table(path=path, description=_cell(schema.get("description", "")), rows=tuple(rows))
    for field, inner in nested:
        yield from tables(inner, field)


def rules(schema: JsonObject, path: str = "") -> Iterator[Rule]:
    """Every CEL rule in `schema`, with the path of the node that carries it, in schema order."""
    for rule in schema.get(_VALIDATIONS, []):
        yield Rule(path=path or "(the resource)", message=rule["message"], rule=rule["rule"])
    for name, node in schema.get("properties", {}).items():
        yield from rules(node, f"{path}.{name}" if path else name)
    for key, suffix in (("items", "[]"), ("additionalProperties", ".*")):
        inner = schema.get(key)
        if isinstance(inner, dict):
            yield from rules(inner, path + suffix)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def render(definition: crdgen.Definition) -> str:
    """The reference page of one CRD."""
    document = crdgen.crd(definition)
    spec = document["spec"]
    names = spec["names"]
    version = spec["versions"][0]
    schema = version["schema"]["openAPIV3Schema"]
    api_version = f"{spec['group']}/{version['name']}"
    lines = [
        f"<!-- Generated by `python -m kconnect_operator.refdoc` from {definition.source}.",
        "     Do not edit: change the models and run `make crds`. -->",
        "",
        f"# {names['kind']}",
        "",
        _cell(schema["description"]),
        "",
        *_table(
            ("Property", "Value"),
            (
                ("API version", _code(api_version)),
                ("Kind", _code(names["kind"])),
                ("Scope", spec["scope"]),
                ("CRD", _code(document["metadata"]["name"])),
                ("Plural / singular", f"{_code(names['plural'])} / {_code(names['singular'])}"),
                ("Short names", ", ".join(_code(n) for n in names["shortNames"])),
                ("Categories", ", ".join(_code(n) for n in names["categories"])),
                ("Subresources", ", ".join(_code(s) for s in sorted(version["subresources"]))),
            ),
        ),
        "",
        f"The schema is in `crds/{definition.file}`.",
        "",
        "## Printer columns",
        "",
        "`kubectl get` shows these columns; `-o wide` adds those of priority 1.",
        "",
        *_table(
            ("Column", "Type", "JSONPath", "Priority", "Description"),
            [
                (
                    c["name"],
                    c["type"],
                    _code(c["jsonPath"]),
                    str(c.get("priority", 0)),
                    _cell(c.get("description", "")) or _NONE,
                )
                for c in version["additionalPrinterColumns"]
            ],
        ),
        "",
    ]
    scale = version["subresources"].get("scale")
    if scale is not None:
        lines += [
            "## Scale subresource",
            "",
            "`kubectl scale`, a HorizontalPodAutoscaler or KEDA act on these paths.",
            "",
            *_table(("Field", "Path"), [(k, _code(v)) for k, v in sorted(scale.items())]),
            "",
        ]
    header = ("Field", "Type", "Default", "Required", "Description", "Validation")
    for part in ("spec", "status"):
        lines += [f"## {part.capitalize()}", ""]
        for table in tables(schema["properties"][part], part):
            if table.path != part:
                lines += [f"### `{table.path}`", ""]
            if table.description:
                lines += [table.description, ""]
            lines += [*_table(header, table.rows), ""]
    lines += [
        "## Validation rules",
        "",
        "The API server refuses a resource that breaks one of these CEL rules, and answers with "
        "the message. Rules comparing `self` with `oldSelf` apply to updates only.",
        "",
        *_table(
            ("Field", "Message", "Rule"),
            [(_code(r.path), _cell(r.message), _code(r.rule)) for r in rules(schema)],
        ),
    ]
    return "\n".join(lines) + "\n"


def write(directory: Path) -> list[Path]:
    """Write every CRD's page into `directory`; the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for definition in crdgen.DEFINITIONS:
        target = directory / file_name(definition)
        target.write_text(render(definition), encoding="utf-8")
        written.append(target)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) > 1:
        print("usage: python -m kconnect_operator.refdoc [DIR]", file=sys.stderr)
        return 2
    for target in write(Path(args[0] if args else DEFAULT_DIR)):
        print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
