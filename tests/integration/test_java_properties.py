"""kconnect's `.properties` reader and writer agree with `java.util.Properties`, for real.

A small Java program (`tests/support/java/PropertiesFiles.java`) reads files with
`Properties.load(InputStream)`, as Kafka's `Utils.loadProps` does, and writes them with
`Properties.store(OutputStream, ...)`. Both directions are checked on the same hostile entries:
keys and values made of separators (`=`, `:`, white space, form feed), comment characters,
backslashes, line breaks, non-Latin-1 and astral characters. Hand-written files check the reader
on what Java writers and people write (continuations, `key\\fvalue`, surrogate pairs...).

Without a JDK the test fails and says what to install; it never skips.
"""

from __future__ import annotations

import random
import shutil
import subprocess
from pathlib import Path
from typing import Final

import pytest

from kconnect.config.properties import format_properties, parse_properties

PROGRAM: Final = Path(__file__).resolve().parents[1] / "support" / "java" / "PropertiesFiles.java"

ALPHABET: Final = [
    *"=:\\#! \t\n\r\fab.",
    "é",
    "ÿ",
    "\x00",
    "\x7f",
    "\x85",
    "€",
    "\u2028",
    "😀",
    "𝄞",
]

HAND_WRITTEN: Final = {
    "form-feed": "key\fvalue\n\f key2\f=\fvalue2\n",
    "surrogate-pair": "a=\\uD83D\\uDE00\nb=x\\ud834\\udd1ey\n",
    "continuations": "list=a,\\\n    b,\\\n\t c\nnext = 1\nodd=x\\\\\nend\\\n",
    "separators": "a b\nc:d\ne = f\ng\t:\th\ni\\=j=k\\:l\n m =  n  \n=empty key\nlone\n",
    "comments": "# c\n! c\n  # indented\n#not=a key\nx=#not a comment\n",
    "escapes": "k=\\t\\n\\r\\f\\q\\\\\\u00e9\\u20AC\nk2=trailing\\\n",
    "line-ends": "a=1\r\nb=2\rc=3\n\n\r\nd=4",
}


def _random_props(rng: random.Random) -> dict[str, str]:
    def text() -> str:
        return "".join(rng.choice(ALPHABET) for _ in range(rng.randrange(9)))

    return {text(): text() for _ in range(rng.randrange(1, 12))}


def _java(mode: str, directory: Path, classes: Path) -> None:
    java = shutil.which("java") or "java"
    done = subprocess.run(
        [java, "-cp", str(classes), "PropertiesFiles", mode, str(directory)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr


def _pairs(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text("ascii").splitlines():
        key, value = line.split("\t")
        out[bytes.fromhex(key).decode()] = bytes.fromhex(value).decode()
    return out


@pytest.fixture(scope="module")
def classes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    javac = shutil.which("javac")
    if javac is None:
        pytest.fail("javac is not on PATH: install a JDK (Debian: openjdk-17-jdk-headless)")
    out = tmp_path_factory.mktemp("properties-files")
    subprocess.run([javac, "-d", str(out), str(PROGRAM)], check=True, timeout=300)
    return out


CASES: Final = [_random_props(random.Random(seed)) for seed in range(200)]
CASES.append({c: c for c in ALPHABET})
CASES.append({"  lead": "  lead", "trail ": "trail ", "#k": "#v", "!k": "!v", "k": ""})


def test_java_reads_what_kconnect_writes(classes: Path, tmp_path: Path) -> None:
    for n, props in enumerate(CASES):
        (tmp_path / f"{n:03}.properties").write_text(format_properties(props), "ascii")
    _java("load", tmp_path, classes)
    for n, props in enumerate(CASES):
        assert _pairs(tmp_path / f"{n:03}.properties.pairs") == props, n


def test_kconnect_reads_what_java_writes(classes: Path, tmp_path: Path) -> None:
    for n, props in enumerate(CASES):
        lines = [f"{k.encode().hex()}\t{v.encode().hex()}\n" for k, v in props.items()]
        (tmp_path / f"{n:03}.pairs").write_text("".join(lines), "ascii")
    _java("store", tmp_path, classes)
    for n, props in enumerate(CASES):
        stored = (tmp_path / f"{n:03}.pairs.stored").read_text("latin-1")
        assert parse_properties(stored) == props, n


def test_kconnect_reads_hand_written_files_as_java_does(classes: Path, tmp_path: Path) -> None:
    for name, text in HAND_WRITTEN.items():
        (tmp_path / f"{name}.properties").write_bytes(text.encode("ascii"))
    _java("load", tmp_path, classes)
    for name, text in HAND_WRITTEN.items():
        java = _pairs(tmp_path / f"{name}.properties.pairs")
        assert parse_properties(text, name) == java, name
