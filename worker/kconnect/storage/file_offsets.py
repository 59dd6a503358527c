"""Standalone offsets in a local file (`offset.storage.file.filename`).

The file is JSON: `{"version": 1, "offsets": [[key, value], ...]}`, where key and value are the
exact strings the offsets topic would hold, so a file can be replayed into a distributed cluster.
Each commit rewrites the file atomically (write a temp file, fsync, rename, fsync the directory):
a crash leaves either the old offsets or the new, never a torn file. A file that can't be read
stops the worker with a message naming it; it is never silently reset.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from kconnect.config import jsontext
from kconnect.errors import ConfigError, DataError
from kconnect.storage.offsets import MemoryOffsetStore, serialize_key, serialize_value

FORMAT_VERSION = 1


class FileOffsetStore(MemoryOffsetStore):
    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__()
        self.path = Path(path)
        self._load()

    def _load(self) -> None:
        not_offsets = f"offset.storage.file.filename: {self.path} is not a kconnect offsets file"
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return
        except UnicodeDecodeError as e:
            raise ConfigError(f"{not_offsets}: not UTF-8 text (at byte {e.start})") from None
        except (OSError, ValueError) as e:  # ValueError: a NUL in the name
            raise ConfigError(
                f"offset.storage.file.filename: cannot read {self.path}: {e}"
            ) from None
        if not text.strip():
            return
        try:
            doc = jsontext.loads(text)
        except jsontext.JsonTextError as e:
            raise ConfigError(
                f"{not_offsets}: line {e.line}, column {e.column}: {e.reason}"
            ) from None
        try:
            if not isinstance(doc, dict) or doc.get("version") != FORMAT_VERSION:
                raise DataError(f'expected an object with "version": {FORMAT_VERSION}')
            entries = doc["offsets"]
            if not isinstance(entries, list):
                raise DataError('expected "offsets" to be a list of [key, value] pairs')
            items: dict[bytes, bytes | None] = {}
            for key, value in entries:
                items[str(key).encode()] = None if value is None else str(value).encode()
            self._load_items(items)
        except (ValueError, KeyError, TypeError, DataError, RecursionError) as e:
            raise ConfigError(f"{not_offsets}: {e}") from None

    def _persist(self) -> None:
        entries = [
            [serialize_key(c, p).decode(), (serialize_value(o) or b"").decode()]
            for c, p, o in self._items()
        ]
        data = json.dumps({"version": FORMAT_VERSION, "offsets": entries}, ensure_ascii=False)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=self.path.name + ".", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
