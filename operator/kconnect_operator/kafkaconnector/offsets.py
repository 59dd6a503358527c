"""A connector's offsets from the resource, as Strimzi's KafkaConnector manages them: pure.

The annotation `kconnect.io/connector-offsets` asks for one operation on the workers' offsets
API (KIP-875):
- `list`: `GET /connectors/{c}/offsets` into the ConfigMap `spec.listOffsets.toConfigMap.name`
  (key `offsets.json`), in any state;
- `alter`: `PATCH /connectors/{c}/offsets` with the JSON of `spec.alterOffsets.fromConfigMap.name`
  (key `offsets.json`);
- `reset`: `DELETE /connectors/{c}/offsets`.
Alter and reset need the connector STOPPED: with `spec.state: stopped` the request waits for the
workers to report STOPPED; with any other state it is refused. Every request ends with the
annotation removed, done or refused (an unknown value, a missing field, a missing ConfigMap or
one that is not offsets JSON, the workers' refusal), so none is ever retried by itself; a refusal
is a Warning Event and the `Offsets` condition False, naming what is wrong. Only no answer from
the workers (or a rebalance) keeps the annotation for the next pass.

`spec.initialOffsets.fromConfigMap` gives a new connector its offsets: it is created STOPPED, the
offsets are written, then it moves to `spec.state` (`status.initialOffsets` Pending, then Applied).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from kconnect_operator.core.actions import (
    OFFSETS_KEY,
    Action,
    AlterOffsets,
    ListOffsets,
    RemoveAnnotations,
    ResetOffsets,
    Warn,
)
from kconnect_operator.core.shapes import ConnectorStatus, JsonObject
from kconnect_operator.kafkaconnector.model import KafkaConnectorSpec, TargetState

OFFSETS_ANNOTATION: Final = "kconnect.io/connector-offsets"
"""The operation to run: `list`, `alter` or `reset` (Strimzi's `strimzi.io/connector-offsets`)."""

OFFSETS_CONDITION: Final = "Offsets"


class OffsetsOperation(StrEnum):
    LIST = "list"
    ALTER = "alter"
    RESET = "reset"


class OffsetsError(ValueError):
    """Offsets that cannot be used; the message names the ConfigMap, the key and what is wrong."""


_TYPE_NAMES: Final = {
    dict: "an object",
    list: "a list",
    str: "a string",
    int: "a number",
    float: "a number",
    bool: "a boolean",
    type(None): "null",
}


def _kind(value: object) -> str:
    return _TYPE_NAMES.get(type(value), type(value).__name__)


def parse_offsets(data: Mapping[str, str] | None, config_map: str, field: str) -> JsonObject:
    """The offsets body in the ConfigMap `config_map`'s data (None: the ConfigMap is missing),
    checked for the shape of `PATCH /connectors/{c}/offsets`: `{"offsets": [{"partition":
    {...}, "offset": {...} | null}, ...]}`. `field` names the spec field that names it."""
    where = f"ConfigMap {config_map!r} (named by {field})"
    if data is None:
        raise OffsetsError(f"{where} does not exist in the resource's namespace")
    if OFFSETS_KEY not in data:
        keys = ", ".join(sorted(data)) or "none"
        raise OffsetsError(f"{where} has no key {OFFSETS_KEY!r} (its keys: {keys})")
    where = f"{where}, key {OFFSETS_KEY}"
    try:
        body = json.loads(data[OFFSETS_KEY])
    except ValueError as e:
        raise OffsetsError(f"{where}: not JSON: {e}") from None
    if not isinstance(body, dict):
        raise OffsetsError(f'{where}: expected an object {{"offsets": [...]}}, got {_kind(body)}')
    entries = body.get("offsets")
    if not isinstance(entries, list):
        got = "no key 'offsets'" if "offsets" not in body else _kind(entries)
        raise OffsetsError(f"{where}: expected 'offsets' to be a list, got {got}")
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise OffsetsError(f"{where}: offsets[{i}]: expected an object, got {_kind(entry)}")
        unknown = sorted(set(entry) - {"partition", "offset"})
        if unknown:
            raise OffsetsError(
                f"{where}: offsets[{i}]: unknown key {unknown[0]!r}; expected partition and offset"
            )
        if not isinstance(entry.get("partition"), dict):
            raise OffsetsError(
                f"{where}: offsets[{i}].partition: expected an object, "
                f"got {_kind(entry.get('partition'))}"
            )
        if "offset" not in entry:
            raise OffsetsError(f"{where}: offsets[{i}]: missing 'offset' (an object, or null)")
        if not isinstance(entry["offset"], dict | None):
            raise OffsetsError(
                f"{where}: offsets[{i}].offset: expected an object or null, "
                f"got {_kind(entry['offset'])}"
            )
    return {"offsets": entries}


def config_maps_to_read(
    spec: KafkaConnectorSpec, annotations: Mapping[str, str], *, initial: bool
) -> tuple[str, ...]:
    """The ConfigMaps a pass reads offsets from: the alter source while the annotation asks for
    `alter`, the initial offsets' while they may still be written (`initial`)."""
    names: list[str] = []
    value = annotations.get(OFFSETS_ANNOTATION, "").strip().lower()
    if value == OffsetsOperation.ALTER and spec.alter_offsets is not None:
        names.append(spec.alter_offsets.from_config_map.name)
    if initial and spec.initial_offsets is not None:
        names.append(spec.initial_offsets.from_config_map.name)
    return tuple(dict.fromkeys(names))


@dataclass(frozen=True, slots=True)
class OffsetsRequest:
    """What the annotation leads to in this pass."""

    actions: tuple[Action, ...]
    """The operation (if any), a Warning (if refused) and the annotation's removal, in order;
    empty while the request waits."""
    operation: ListOffsets | AlterOffsets | ResetOffsets | None = None
    error: str | None = None
    """Why the request was refused (for the `Offsets` condition)."""


def offsets_request(
    annotations: Mapping[str, str],
    spec: KafkaConnectorSpec,
    name: str,
    connector: ConnectorStatus | None,
    config_maps: Mapping[str, Mapping[str, str] | None],
) -> OffsetsRequest:
    """The actions for the annotation `kconnect.io/connector-offsets`, given the connector's
    status (None: unknown, or just changed: the request waits) and the ConfigMaps read."""
    if OFFSETS_ANNOTATION not in annotations:
        return OffsetsRequest(())
    raw = annotations[OFFSETS_ANNOTATION]
    value = raw.strip().lower()
    remove = RemoveAnnotations((OFFSETS_ANNOTATION,))

    def refuse(message: str) -> OffsetsRequest:
        text = f"annotation {OFFSETS_ANNOTATION}={raw!r}: {message}"
        return OffsetsRequest((Warn("OffsetsFailed", text), remove), error=text)

    if value not in set(OffsetsOperation):
        return refuse("expected list, alter or reset")
    operation = OffsetsOperation(value)
    if operation is OffsetsOperation.LIST:
        if spec.list_offsets is None:
            return refuse("spec.listOffsets.toConfigMap.name is not set: it names the ConfigMap")
        if connector is None:
            return OffsetsRequest(())
        listed = ListOffsets(name, spec.list_offsets.to_config_map.name)
        return OffsetsRequest((listed, remove), listed)
    if operation is OffsetsOperation.ALTER and spec.alter_offsets is None:
        return refuse("spec.alterOffsets.fromConfigMap.name is not set: it names the ConfigMap")
    if spec.state is not TargetState.STOPPED:
        return refuse(
            f"{operation.value} needs the connector stopped: set spec.state to stopped "
            f"(it is {spec.state.value}), then annotate again"
        )
    if connector is None or connector.state != "STOPPED":
        return OffsetsRequest(())  # stopping: the request waits for STOPPED
    if operation is OffsetsOperation.RESET:
        reset = ResetOffsets(name)
        return OffsetsRequest((reset, remove), reset)
    assert spec.alter_offsets is not None
    source = spec.alter_offsets.from_config_map.name
    try:
        offsets = parse_offsets(config_maps.get(source), source, "spec.alterOffsets.fromConfigMap")
    except OffsetsError as e:
        return refuse(str(e))
    altered = AlterOffsets(name, offsets, source)
    return OffsetsRequest((altered, remove), altered)


def done_message(operation: ListOffsets | AlterOffsets | ResetOffsets) -> tuple[str, str]:
    """The reason and message of a finished operation, for its Event and the condition."""
    if isinstance(operation, ListOffsets):
        return "OffsetsListed", f"offsets listed into ConfigMap {operation.config_map}"
    if isinstance(operation, AlterOffsets):
        count = len(operation.offsets.get("offsets") or [])
        what = "spec.initialOffsets" if operation.initial else "offsets"
        return (
            "InitialOffsetsApplied" if operation.initial else "OffsetsAltered",
            f"{what}: {count} partitions' offsets written from ConfigMap {operation.source}",
        )
    return "OffsetsReset", "offsets reset"
