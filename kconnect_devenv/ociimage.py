"""Container images written by the project: one-layer OCI image archives, no engine involved.

The node's runtime loads images from files (``ctr images import``); no registry is reachable and
nothing is ever pulled. :func:`write_archive` writes an OCI image layout (``oci-layout``,
``index.json``, ``blobs/sha256/...``) as one tar file holding a single image of one uncompressed
layer, named by the ``io.containerd.image.name`` and ``org.opencontainers.image.ref.name``
annotations so that an import gives it its full reference.

The archive is reproducible: the same files and config give the same bytes (tar entries have
mtime 0, owner root, sorted names), so the image id only changes with its content.

Stdlib only.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import tarfile
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Final

LAYER_MEDIA_TYPE: Final = "application/vnd.oci.image.layer.v1.tar"
CONFIG_MEDIA_TYPE: Final = "application/vnd.oci.image.config.v1+json"
MANIFEST_MEDIA_TYPE: Final = "application/vnd.oci.image.manifest.v1+json"
INDEX_MEDIA_TYPE: Final = "application/vnd.oci.image.index.v1+json"
DEFAULT_PATH: Final = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclasses.dataclass(frozen=True)
class File:
    """A file of the image's one layer: its absolute path in the image, content and mode."""

    path: str
    content: bytes
    mode: int = 0o755


@dataclasses.dataclass(frozen=True)
class Image:
    """What to write: the reference, the files, and the image config's process settings."""

    reference: str  # e.g. "registry.k8s.io/pause:3.10.1"
    files: Sequence[File]
    entrypoint: Sequence[str]
    user: str = ""
    env: Mapping[str, str] = dataclasses.field(default_factory=lambda: {"PATH": DEFAULT_PATH})
    links: Mapping[str, str] = dataclasses.field(default_factory=dict)  # path -> symlink target


def _tar_info(name: str, kind: bytes, mode: int, size: int = 0) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.size = size
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def layer_bytes(image: Image) -> bytes:
    """The layer as an uncompressed tar: parent directories first, then files and links."""
    entries: dict[str, tuple[bytes, int, bytes | None, str | None]] = {}
    paths = [f.path for f in image.files] + list(image.links)
    for path in paths:
        for parent in reversed(PurePosixPath(path).relative_to("/").parents[:-1]):
            entries.setdefault(str(parent), (tarfile.DIRTYPE, 0o755, None, None))
    for file in image.files:
        name = str(PurePosixPath(file.path).relative_to("/"))
        entries[name] = (tarfile.REGTYPE, file.mode, file.content, None)
    for path, link_target in image.links.items():
        name = str(PurePosixPath(path).relative_to("/"))
        entries[name] = (tarfile.SYMTYPE, 0o777, None, link_target)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(entries):
            kind, mode, content, linkname = entries[name]
            info = _tar_info(name, kind, mode, len(content) if content is not None else 0)
            if linkname is not None:
                info.linkname = linkname
            tar.addfile(info, io.BytesIO(content) if content is not None else None)
    return buffer.getvalue()


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _json(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def archive_blobs(image: Image) -> tuple[dict[str, bytes], bytes, str]:
    """The blobs by digest, the ``index.json`` bytes and the manifest's digest."""
    layer = layer_bytes(image)
    config_doc: dict[str, object] = {
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "Entrypoint": list(image.entrypoint),
            "Env": [f"{key}={value}" for key, value in image.env.items()],
            **({"User": image.user} if image.user else {}),
        },
        "rootfs": {"type": "layers", "diff_ids": [_digest(layer)]},
        "history": [{"created_by": "kconnect_devenv.ociimage", "created": "1970-01-01T00:00:00Z"}],
        "created": "1970-01-01T00:00:00Z",
    }
    config = _json(config_doc)
    manifest = _json(
        {
            "schemaVersion": 2,
            "mediaType": MANIFEST_MEDIA_TYPE,
            "config": {
                "mediaType": CONFIG_MEDIA_TYPE,
                "digest": _digest(config),
                "size": len(config),
            },
            "layers": [
                {"mediaType": LAYER_MEDIA_TYPE, "digest": _digest(layer), "size": len(layer)}
            ],
        }
    )
    index = _json(
        {
            "schemaVersion": 2,
            "mediaType": INDEX_MEDIA_TYPE,
            "manifests": [
                {
                    "mediaType": MANIFEST_MEDIA_TYPE,
                    "digest": _digest(manifest),
                    "size": len(manifest),
                    "platform": {"architecture": "amd64", "os": "linux"},
                    "annotations": {
                        "io.containerd.image.name": image.reference,
                        "org.opencontainers.image.ref.name": image.reference,
                    },
                }
            ],
        }
    )
    blobs = {_digest(blob): blob for blob in (layer, config, manifest)}
    return blobs, index, _digest(manifest)


def write_archive(image: Image, path: Path) -> str:
    """Write ``image`` as an OCI layout tar at ``path``; returns the manifest's digest."""
    blobs, index, manifest_digest = archive_blobs(image)
    files = {
        "oci-layout": _json({"imageLayoutVersion": "1.0.0"}),
        "index.json": index,
        **{f"blobs/sha256/{digest.split(':', 1)[1]}": blob for digest, blob in blobs.items()},
    }
    with tarfile.open(path, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for directory in ("blobs", "blobs/sha256"):
            tar.addfile(_tar_info(directory, tarfile.DIRTYPE, 0o755))
        for name in sorted(files):
            data = files[name]
            tar.addfile(_tar_info(name, tarfile.REGTYPE, 0o644, len(data)), io.BytesIO(data))
    return manifest_digest
