"""Which children to apply, and what applying them repairs or rolls, as pure functions.

Both kinds' loops observe their children (a GET per child) on every pass and hand them here with
the children the builders want. `plan` returns the children to server-side apply and, for
people, what that repairs and why the worker pods roll. Nothing here does I/O.

Invariants:
- **A child is applied only when it is missing or does not hold what the builders want.**
  "Holds" means every field the operator sets has the wanted value in the live object: fields
  the API server or other controllers add (defaults, status, extra labels, list entries of
  their own) are not drift, and quantities compare by value (`0.5` and `500m` are the same
  CPU). List entries with a `name` are matched by name, other lists by position.
- **Drift is told apart from a spec change by the applied hash.** Every child carries
  `kconnect.io/applied-hash`, the hash of the manifest the operator last applied. A live child
  whose hash is the wanted manifest's but whose fields differ was changed by someone else: that
  is drift, repaired and reported. A child whose hash differs is an update the spec (or a
  referenced Secret or ConfigMap) asked for.
- **A missing child of a resource that was reconciled before was deleted:** it is recreated and
  reported. On a first reconcile, creating children is not news.
- **A roll names its cause.** The workload's `kconnect.io/config-sources` annotation lists what
  feeds the pod template's config hash (the rendered config, each referenced Secret's and
  ConfigMap's resourceVersion, the log format); a roll is reported with the entries that
  changed.
- **The worker count is the resource's.** The workload's `spec.replicas` is the resource's
  `spec.replicas`; the scale subresource (and an HPA or KEDA on it) changes that, and a workload
  scaled by hand is scaled back.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from kconnect_operator.core.shapes import JsonObject

APPLIED_HASH_ANNOTATION: Final = "kconnect.io/applied-hash"
CONFIG_SOURCES_ANNOTATION: Final = "kconnect.io/config-sources"
CONFIG_HASH_ANNOTATION: Final = "kconnect.io/config-hash"
WORKLOAD_KINDS: Final = frozenset({"Deployment", "StatefulSet"})
MAX_REPORTED_FIELDS: Final = 5
"""How many drifted fields one message names."""


def child_key(child: Mapping[str, Any]) -> str:
    """`Kind/name`: a child's identity among its owner's children."""
    return f"{child['kind']}/{child['metadata']['name']}"


def manifest_hash(child: Mapping[str, Any]) -> str:
    """The hash of a manifest as the builders made it (without the applied-hash annotation)."""
    text = json.dumps(child, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def stamped(child: JsonObject) -> JsonObject:
    """`child` with its `kconnect.io/applied-hash` annotation."""
    meta = dict(child["metadata"])
    annotations = dict(meta.get("annotations") or {})
    annotations[APPLIED_HASH_ANNOTATION] = manifest_hash(child)
    meta["annotations"] = dict(sorted(annotations.items()))
    return {**child, "metadata": meta}


def config_sources(payload: Mapping[str, Any]) -> str:
    """The `kconnect.io/config-sources` annotation: what feeds a config hash, flattened to
    `source: version` entries (a rendered file as a short hash of its text)."""
    flat: dict[str, str] = {}
    for key, value in payload.items():
        if isinstance(value, Mapping):
            for name, item in value.items():
                flat[f"{key}/{name}"] = _short(item)
        else:
            flat[key] = _short(value)
    return json.dumps(dict(sorted(flat.items())), separators=(",", ":"))


def _short(value: object) -> str:
    if value is None:
        return "absent"
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    if len(text) <= 20:
        return text
    return hashlib.sha256(text.encode()).hexdigest()[:12]


_SOURCE_WORDS: Final[Mapping[str, str]] = {
    "secrets": "Secret",
    "kafkaSecrets": "Secret",
    "configMaps": "ConfigMap",
    "files": "file",
}


def roll_causes(old: str | None, new: str | None) -> list[str]:
    """What changed between two `kconnect.io/config-sources` annotations, for people."""
    try:
        before = json.loads(old) if old else None
        after = json.loads(new) if new else {}
    except ValueError:
        before = None
    if not isinstance(before, dict) or not isinstance(after, dict):
        return ["the pod template's config hash changed"]
    causes: list[str] = []
    for key in sorted(set(before) | set(after)):
        was, now = before.get(key), after.get(key)
        if was == now:
            continue
        kind, _, name = key.partition("/")
        if name:
            what = f"{_SOURCE_WORDS.get(kind, kind)} {name}"
            if now == "absent" or now is None:
                causes.append(f"{what} was removed")
            elif was == "absent" or was is None:
                causes.append(f"{what} was added")
            else:
                causes.append(f"{what} changed (version {was} -> {now})")
        elif key == "properties":
            causes.append("the worker config changed")
        elif key == "logFormat":
            causes.append(f"the log format changed to {now or 'text'}")
        else:
            causes.append(f"{key} changed")
    return causes or ["the pod template's config hash changed"]


# --- comparing a wanted manifest with the live object

_QUANTITY: Final = re.compile(
    r"^([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$"
)
_SUFFIX: Final[Mapping[str, Decimal]] = {
    "": Decimal(1),
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
    "Ki": Decimal(2**10),
    "Mi": Decimal(2**20),
    "Gi": Decimal(2**30),
    "Ti": Decimal(2**40),
    "Pi": Decimal(2**50),
    "Ei": Decimal(2**60),
}


def quantity(value: object) -> Decimal | None:
    """A Kubernetes quantity's value, or None when `value` is not one."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    match = _QUANTITY.match(str(value))
    if match is None:
        return None
    try:
        return Decimal(match.group(1)) * _SUFFIX[match.group(2) or ""]
    except InvalidOperation:
        return None


def _same_scalar(wanted: object, live: object) -> bool:
    if wanted == live and type(wanted) is type(live):
        return True
    if isinstance(wanted, str) and isinstance(live, str | int) and not isinstance(live, bool):
        a, b = quantity(wanted), quantity(live)
        return a is not None and a == b
    return False


def _empty(value: object) -> bool:
    return value is None or (isinstance(value, dict | list) and not value)


def differences(wanted: object, live: object, path: str = "") -> list[str]:
    """The paths where `live` does not hold `wanted`: every field of `wanted` must be in `live`
    with the same value; `live` may have more."""
    if isinstance(wanted, Mapping):
        if not isinstance(live, Mapping):
            return [] if _empty(wanted) and live is None else [path or "."]
        out: list[str] = []
        for key, value in wanted.items():
            sub = f"{path}.{key}" if path else str(key)
            if key not in live:
                if not _empty(value):
                    out.append(sub)
                continue
            out.extend(differences(value, live[key], sub))
        return out
    if isinstance(wanted, list):
        if not isinstance(live, list):
            return [] if not wanted and live is None else [path]
        named = all(isinstance(w, Mapping) and "name" in w for w in wanted)
        if named and wanted:
            by_name = {
                item.get("name"): item
                for item in live
                if isinstance(item, Mapping) and "name" in item
            }
            out = []
            for item in wanted:
                sub = f"{path}[{item['name']}]"
                if item["name"] not in by_name:
                    out.append(sub)
                else:
                    out.extend(differences(item, by_name[item["name"]], sub))
            return out
        if len(wanted) != len(live):
            return [path]
        out = []
        for i, (w, v) in enumerate(zip(wanted, live, strict=True)):
            out.extend(differences(w, v, f"{path}[{i}]"))
        return out
    return [] if _same_scalar(wanted, live) else [path]


# --- the plan


@dataclass(frozen=True, slots=True)
class ChildrenPlan:
    apply: tuple[JsonObject, ...]
    """The (stamped) children to server-side apply, in the builders' order."""
    repaired: tuple[tuple[str, str], ...]
    """`(child_key, message)` per child that drifted or was deleted, for an Event."""
    roll: tuple[str, ...]
    """Why the workload's pods roll; empty when they do not."""
    workload: str | None = None
    """The `child_key` of the workload whose pods roll."""

    def changed(self, key: str, before: JsonObject | None, after: JsonObject | None) -> bool:
        """Whether applying `key` changed it: it was missing, or the API server wrote a new
        version. An apply that changed nothing (the live object held the wanted values in a
        form `differences` does not recognise) is not reported."""
        if before is None:
            return True
        return _version(before) != _version(after)


def _version(obj: JsonObject | None) -> str | None:
    if obj is None:
        return None
    value = (obj.get("metadata") or {}).get("resourceVersion")
    return str(value) if value is not None else None


def _annotation(obj: Mapping[str, Any] | None, name: str) -> str | None:
    if obj is None:
        return None
    value = ((obj.get("metadata") or {}).get("annotations") or {}).get(name)
    return str(value) if value is not None else None


def _template_hash(obj: Mapping[str, Any] | None) -> str | None:
    if obj is None:
        return None
    template = (obj.get("spec") or {}).get("template") or {}
    return _annotation(template, CONFIG_HASH_ANNOTATION)


def _named(paths: Sequence[str]) -> str:
    shown = ", ".join(paths[:MAX_REPORTED_FIELDS])
    more = len(paths) - MAX_REPORTED_FIELDS
    return shown + (f" and {more} more" if more > 0 else "")


def plan(
    wanted: Sequence[JsonObject],
    live: Mapping[str, JsonObject | None],
    *,
    reconciled_before: bool,
) -> ChildrenPlan:
    """What to apply of `wanted` (the builders' children) given `live` (each child by
    `child_key`, None when it does not exist). `reconciled_before`: the resource's children were
    made before (its status has a condition), so a missing one was deleted."""
    apply: list[JsonObject] = []
    repaired: list[tuple[str, str]] = []
    roll: list[str] = []
    workload: str | None = None
    for child in wanted:
        key = child_key(child)
        current = live.get(key)
        desired = stamped(child)
        if current is None:
            apply.append(desired)
            if reconciled_before:
                repaired.append((key, f"{key.replace('/', ' ')} was deleted: recreated it"))
            continue
        drift = differences(desired, current)
        if not drift:
            continue
        apply.append(desired)
        same_manifest = _annotation(current, APPLIED_HASH_ANNOTATION) == manifest_hash(child)
        if same_manifest:
            repaired.append(
                (
                    key,
                    f"{key.replace('/', ' ')} was changed outside the operator "
                    f"({_named(drift)}): restored it",
                )
            )
        template = [p for p in drift if p.startswith("spec.template")]
        if child["kind"] not in WORKLOAD_KINDS or not template:
            continue
        workload = key
        if _template_hash(current) != _template_hash(child):
            roll.extend(
                roll_causes(
                    _annotation(current, CONFIG_SOURCES_ANNOTATION),
                    _annotation(child, CONFIG_SOURCES_ANNOTATION),
                )
            )
        else:
            roll.append(f"the pod template changed ({_named(template)})")
    return ChildrenPlan(
        apply=tuple(apply), repaired=tuple(repaired), roll=tuple(roll), workload=workload
    )
