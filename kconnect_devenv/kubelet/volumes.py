"""Pod volumes: what files each one holds (pure), and writing them the way the kubelet does.

A volume lives in ``<pod dir>/volumes/<volume name>``; the container shim bind-mounts it at each of
the container's mount paths inside the container's own mount namespace (see ``launch.py``), so
nothing of it appears on the host outside the state directory.

- **Supported:** ``configMap``, ``secret`` (``items``, ``defaultMode``, item ``mode``,
  ``optional``), ``downwardAPI`` (``fieldRef``, ``resourceFieldRef``), ``projected`` (sources
  ``configMap``, ``secret``, ``downwardAPI`` and ``serviceAccountToken``), ``emptyDir`` (a plain
  directory whatever its ``medium``; ``sizeLimit`` is not enforced), ``hostPath`` (the host's
  own path, bound as it is) and ``persistentVolumeClaim`` (the bound PV's ``hostPath``, once the
  claim is Bound; see ``claims.py``). Anything else raises :class:`VolumeError`.
- **Files are written atomically, as the real kubelet's AtomicWriter does:** a timestamped
  directory ``..<time>`` holds the files, the symlink ``..data`` points to it, and each top-level
  name is a symlink into ``..data``. A new payload goes into a new directory and ``..data`` is
  swapped with a rename, so a reader never sees half an update; an unchanged payload writes
  nothing. Whole-volume mounts see updates; ``subPath`` mounts do not (as in Kubernetes).
- **A reference that cannot be resolved** (a missing ConfigMap or key that is not optional) raises
  :class:`VolumeError` with the kubelet's message; the pod stays ``ContainerCreating`` and the
  kubelet tries again.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import os
import shutil
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Final, Protocol

from kconnect_devenv.kubelet.api import JsonObject
from kconnect_devenv.kubelet.envs import (
    VOLUME_FIELDS,
    ConfigError,
    ObjectSource,
    field_value,
    resource_value,
)

DEFAULT_MODE: Final = 0o644
DATA_LINK: Final = "..data"


class VolumeError(Exception):
    """A volume cannot be set up (yet); the message says why."""


@dataclasses.dataclass(frozen=True)
class File:
    data: bytes
    mode: int


Payload = dict[str, File]
"""Relative path (may contain ``/``) → content and mode."""


class TokenSource(Protocol):
    """Service account tokens for projected volumes (the TokenRequest API)."""

    def token(self, pod: JsonObject, audience: str | None, expiration_seconds: int) -> str: ...


# --------------------------------------------------------------------------------------------------
# Pure: what a volume holds


def volume_kind(volume: JsonObject) -> str:
    """``emptyDir``, ``hostPath``, ``persistentVolumeClaim`` or ``files`` (a volume the kubelet
    writes); VolumeError else."""
    for kind in ("emptyDir", "hostPath", "persistentVolumeClaim"):
        if kind in volume:
            return kind
    if any(kind in volume for kind in ("configMap", "secret", "downwardAPI", "projected")):
        return "files"
    kinds = sorted(set(volume) - {"name"})
    raise VolumeError(
        f'volume "{volume.get("name")}": type {", ".join(kinds) or "(none)"} is not supported '
        "by the test kubelet (supported: configMap, secret, downwardAPI, projected, emptyDir, "
        "hostPath, persistentVolumeClaim)"
    )


def volume_payload(
    pod: JsonObject,
    volume: JsonObject,
    objects: ObjectSource,
    tokens: TokenSource,
    node_allocatable: Mapping[str, str],
) -> Payload:
    """The files of a ``configMap``, ``secret``, ``downwardAPI`` or ``projected`` volume."""
    try:
        if "configMap" in volume:
            source = volume["configMap"]
            return _config_map_files(pod, source, objects, source.get("defaultMode", DEFAULT_MODE))
        if "secret" in volume:
            source = volume["secret"]
            return _secret_files(pod, source, objects, source.get("defaultMode", DEFAULT_MODE))
        if "downwardAPI" in volume:
            source = volume["downwardAPI"]
            return _downward_files(
                pod,
                source.get("items") or [],
                source.get("defaultMode", DEFAULT_MODE),
                node_allocatable,
            )
        if "projected" in volume:
            return _projected_files(pod, volume["projected"], objects, tokens, node_allocatable)
    except ConfigError as exc:
        raise VolumeError(str(exc)) from exc
    raise VolumeError(f'volume "{volume.get("name")}" is not a files volume')


def _config_map_files(
    pod: JsonObject, source: JsonObject, objects: ObjectSource, default_mode: int
) -> Payload:
    namespace = pod["metadata"]["namespace"]
    config_map = objects.config_map(namespace, source["name"])
    if config_map is None:
        if source.get("optional"):
            return {}
        raise VolumeError(f'configmap "{source["name"]}" not found')
    data = {key: str(value).encode() for key, value in (config_map.get("data") or {}).items()}
    for key, value in (config_map.get("binaryData") or {}).items():
        data[key] = base64.b64decode(value)
    return _keyed_files(
        data,
        source.get("items"),
        default_mode,
        bool(source.get("optional")),
        "configmap references non-existent config key:",
    )


def _secret_files(
    pod: JsonObject, source: JsonObject, objects: ObjectSource, default_mode: int
) -> Payload:
    namespace = pod["metadata"]["namespace"]
    name = source.get("secretName") or source.get("name")
    secret = objects.secret(namespace, str(name))
    if secret is None:
        if source.get("optional"):
            return {}
        raise VolumeError(f'secret "{name}" not found')
    data = {key: base64.b64decode(value) for key, value in (secret.get("data") or {}).items()}
    return _keyed_files(
        data,
        source.get("items"),
        default_mode,
        bool(source.get("optional")),
        "references non-existent secret key:",
    )


def _keyed_files(
    data: Mapping[str, bytes],
    items: list[JsonObject] | None,
    default_mode: int,
    optional: bool,
    missing: str,
) -> Payload:
    if not items:
        return {check_path(key): File(value, default_mode) for key, value in data.items()}
    files: Payload = {}
    for item in items:
        key = item["key"]
        if key not in data:
            if optional:
                continue
            raise VolumeError(f"{missing} {key}")
        files[check_path(item["path"])] = File(data[key], item.get("mode", default_mode))
    return files


def _downward_files(
    pod: JsonObject,
    items: list[JsonObject],
    default_mode: int,
    node_allocatable: Mapping[str, str],
) -> Payload:
    files: Payload = {}
    for item in items:
        if "fieldRef" in item:
            value = field_value(pod, item["fieldRef"]["fieldPath"], allowed=VOLUME_FIELDS)
        elif "resourceFieldRef" in item:
            ref = item["resourceFieldRef"]
            if not ref.get("containerName"):
                raise VolumeError(f"resourceFieldRef of {item['path']}: containerName is required")
            value = resource_value(
                pod, ref["containerName"], ref["resource"], ref.get("divisor"), node_allocatable
            )
        else:
            raise VolumeError(
                f"downward API item {item.get('path')}: no fieldRef or resourceFieldRef"
            )
        files[check_path(item["path"])] = File(value.encode(), item.get("mode", default_mode))
    return files


def _projected_files(
    pod: JsonObject,
    projected: JsonObject,
    objects: ObjectSource,
    tokens: TokenSource,
    node_allocatable: Mapping[str, str],
) -> Payload:
    default_mode = projected.get("defaultMode", DEFAULT_MODE)
    files: Payload = {}
    for source in projected.get("sources") or []:
        if "configMap" in source:
            files.update(_config_map_files(pod, source["configMap"], objects, default_mode))
        elif "secret" in source:
            files.update(_secret_files(pod, source["secret"], objects, default_mode))
        elif "downwardAPI" in source:
            items = source["downwardAPI"].get("items") or []
            files.update(_downward_files(pod, items, default_mode, node_allocatable))
        elif "serviceAccountToken" in source:
            request = source["serviceAccountToken"]
            token = tokens.token(
                pod, request.get("audience"), int(request.get("expirationSeconds") or 3600)
            )
            files[check_path(request["path"])] = File(token.encode(), default_mode)
        else:
            kinds = ", ".join(sorted(source))
            raise VolumeError(f"projected source {kinds} is not supported by the test kubelet")
    return files


def check_path(path: str) -> str:
    """``path`` if it is a safe relative path inside a volume; VolumeError otherwise."""
    parts = PurePosixPath(path).parts
    if not path or path.startswith(("/", "..")) or ".." in parts:
        raise VolumeError(f"invalid path {path!r} in a volume: must be relative, without '..'")
    return "/".join(parts)


def top_level_names(payload: Mapping[str, File]) -> set[str]:
    """The names the atomic writer links at the top of the volume: each path's first part."""
    return {path.split("/", 1)[0] for path in payload}


# --------------------------------------------------------------------------------------------------
# Writing


def write_payload(target: Path, payload: Mapping[str, File], now: datetime.datetime) -> bool:
    """Make ``target`` hold exactly ``payload``; False if it already did (nothing written)."""
    target.mkdir(parents=True, exist_ok=True)
    link = target / DATA_LINK
    if link.is_symlink() and read_payload(link) == dict(payload):
        return False
    stamp = now.strftime("..%Y_%m_%d_%H_%M_%S.%f")
    fresh = target / stamp
    suffix = 0
    while fresh.exists():
        suffix += 1
        fresh = target / f"{stamp}{suffix}"
    fresh.mkdir()
    for relative, file in payload.items():
        path = fresh / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(file.data)
        path.chmod(file.mode & 0o7777)
    old = os.readlink(link) if link.is_symlink() else None
    temporary = target / "..data_tmp"
    temporary.unlink(missing_ok=True)
    temporary.symlink_to(fresh.name)
    temporary.replace(link)
    names = top_level_names(payload)
    for name in names:
        entry = target / name
        if not entry.is_symlink():
            if entry.exists():
                # Not ours (e.g. a mount point made for a nested mount): leave it alone.
                continue
            entry.symlink_to(f"{DATA_LINK}/{name}")
    for entry in target.iterdir():
        if entry.name.startswith("..") or entry.name in names:
            continue
        if entry.is_symlink() and os.readlink(entry).startswith(f"{DATA_LINK}/"):
            entry.unlink()
    if old is not None and old != fresh.name:
        shutil.rmtree(target / old, ignore_errors=True)
    return True


def read_payload(directory: Path) -> Payload:
    """What a written volume holds (``directory`` is its ``..data``)."""
    files: Payload = {}
    root = directory.resolve()
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            relative = path.relative_to(root).as_posix()
            files[relative] = File(path.read_bytes(), path.stat().st_mode & 0o7777)
    return files
