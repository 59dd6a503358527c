"""`kconnect standalone` with malformed files: exit code 1 and one message naming the file (and the
line, where the file has lines), never a traceback, never a start.

Every file here is read and rejected before Kafka is contacted, so `bootstrap.servers` names a
port nothing listens on and no broker is needed. The command runs as a process, as a user runs it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

DEEP = "[" * 60_000 + "]" * 60_000
BIG = "9" * 5_000


def _worker(tmp: Path, offsets: str | None = None, extra: str = "") -> Path:
    path = tmp / "worker.properties"
    path.write_text(
        "bootstrap.servers=127.0.0.1:1\n"
        "listeners=http://127.0.0.1:0\n"
        f"offset.storage.file.filename={offsets or tmp / 'offsets.json'}\n" + extra
    )
    return path


def _json_connector(body: str) -> Callable[[Path], list[Path]]:
    def make(tmp: Path) -> list[Path]:
        path = tmp / "c.json"
        path.write_text(body)
        return [_worker(tmp), path]

    return make


def _properties_connector(body: str) -> Callable[[Path], list[Path]]:
    def make(tmp: Path) -> list[Path]:
        path = tmp / "c.properties"
        path.write_text(body)
        return [_worker(tmp), path]

    return make


def _offsets_file(content: bytes) -> Callable[[Path], list[Path]]:
    def make(tmp: Path) -> list[Path]:
        offsets = tmp / "offsets.json"
        offsets.write_bytes(content)
        return [_worker(tmp, str(offsets))]

    return make


def _worker_text(extra: str) -> Callable[[Path], list[Path]]:
    def make(tmp: Path) -> list[Path]:
        return [_worker(tmp, extra=extra)]

    return make


def _provider_file(content: bytes) -> Callable[[Path], list[Path]]:
    def make(tmp: Path) -> list[Path]:
        secret = tmp / "secret.properties"
        secret.write_bytes(content)
        extra = (
            "config.providers=file\n"
            "config.providers.file.class="
            "org.apache.kafka.common.config.provider.FileConfigProvider\n"
            f"client.id=${{file:{secret}:id}}\n"
        )
        return [_worker(tmp, extra=extra)]

    return make


CONNECTOR = '"connector.class": "FileStreamSource", "topic": "t"'

# Modules on the test's PYTHONPATH, named by a class name in a file: one that exits when
# imported (as a script's `__main__` module does), one that fails.
MODULES = {
    "exits_at_import": "raise SystemExit(0)\n",
    "fails_at_import": 'raise RuntimeError("boom at import")\n',
}

CASES = {
    "json nested 60,000 deep": (
        _json_connector('{"name": "a", "config": {"x": ' + DEEP + "}}"),
        ["c.json", "line 1", "nested more than 200 deep"],
    ),
    "json integer of 5,000 digits": (
        _json_connector('{"name": "a",\n "config": {' + CONNECTOR + ', "tasks.max": ' + BIG + "}}"),
        ["c.json", "line 2", "over 4,300 digits"],
    ),
    "json lone surrogate": (
        _json_connector('{"name": "a",\n\n "config": {' + CONNECTOR + ', "file": "\\ud800"}}'),
        ["c.json", "line 3", "surrogate"],
    ),
    "json NaN": (
        _json_connector('{"name": "a", "config": {' + CONNECTOR + ', "x": NaN}}'),
        ["c.json", "line 1", "'NaN'"],
    ),
    "properties lone surrogate": (
        _properties_connector("name=a\nconnector.class=FileStreamSource\nfile=\\ud800\n"),
        ["c.properties:3", "surrogate"],
    ),
    "worker properties lone surrogate": (
        _worker_text("client.id=\\udc00\n"),
        ["worker.properties:4", "surrogate"],
    ),
    "offsets file nested 60,000 deep": (
        _offsets_file(DEEP.encode()),
        ["offsets.json", "line 1", "nested more than 200 deep"],
    ),
    "offsets file with a huge integer": (
        _offsets_file(b'{"version": 1,\n"offsets": ' + BIG.encode() + b"}"),
        ["offsets.json", "line 2", "over 4,300 digits"],
    ),
    "offsets file of binary bytes": (
        _offsets_file(b"\xff\xfe\x00garbage"),
        ["offsets.json", "not UTF-8"],
    ),
    "offsets file whose offsets are an object": (
        _offsets_file(b'{"version": 1, "offsets": {"ab": "cd"}}'),
        ["offsets.json", "list of [key, value] pairs"],
    ),
    "connector class whose module exits at import": (
        _properties_connector("name=a\nconnector.class=exits_at_import.Connector\n"),
        ["c.properties", "'connector.class'", "tried to exit the process"],
    ),
    "connector class whose module fails at import": (
        _properties_connector("name=a\nconnector.class=fails_at_import.Connector\n"),
        ["c.properties", "'connector.class'", "RuntimeError: boom at import"],
    ),
    "worker converter whose module exits at import": (
        _worker_text("value.converter=exits_at_import.Converter\n"),
        ["worker.properties", "'value.converter'", "tried to exit the process"],
    ),
    "provider file of binary bytes": (
        _provider_file(b"\xff\xfe\x00"),
        ["secret.properties", "not UTF-8"],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_malformed_file_exits_1_naming_file_and_line(case: str, tmp_path: Path) -> None:
    make, expected = CASES[case]
    args = [str(p) for p in make(tmp_path)]
    modules = tmp_path / "modules"
    modules.mkdir()
    for name, text in MODULES.items():
        (modules / f"{name}.py").write_text(text)
    done = subprocess.run(
        [sys.executable, "-m", "kconnect.cli", "standalone", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(modules)},
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    errors = [line for line in done.stderr.splitlines() if "kconnect: error:" in line]
    assert len(errors) == 1, done.stderr
    for text in expected:
        assert text in errors[0], errors[0]
    # Nothing started: no REST server was announced.
    assert "REST server listening" not in done.stderr
