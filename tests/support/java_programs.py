"""Small Java reference programs in tests: compiled against given jars, run over stdin lines.

A program is one `.java` file in `tests/support/java/` whose class has the file's name. The JDK
comes with the broker's Java (`make setup`); a missing `javac`, a compile error or a failing run
fails the test with the compiler's or the program's stderr. Every run is bounded (120 s).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

_TIMEOUT_S = 120


def compile_program(program: Path, jars: Sequence[Path], into: Path) -> str:
    """Compile `program` against `jars` into `into`; the classpath to run it with."""
    javac = shutil.which("javac")
    if javac is None:
        pytest.fail("javac is missing: the JDK is installed with the broker's Java (make setup)")
    classpath = ":".join(str(j) for j in jars)
    done = subprocess.run(
        [javac, "-cp", classpath, "-d", str(into), str(program)],
        capture_output=True,
        text=True,
        check=False,
        timeout=_TIMEOUT_S,
    )
    assert done.returncode == 0, done.stderr
    return f"{into}:{classpath}"


def run_program(classpath: str, main: str, lines: Sequence[str]) -> list[str]:
    """The stdout lines of class `main` given `lines` on stdin."""
    java = shutil.which("java") or "java"
    done = subprocess.run(
        [java, "-cp", classpath, main],
        input="".join(f"{line}\n" for line in lines),
        capture_output=True,
        text=True,
        check=False,
        timeout=_TIMEOUT_S,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()
