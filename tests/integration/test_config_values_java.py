"""A YAML floating-point config value becomes the text Java's `Double.toString` gives it, checked
against the real Java runtime (what Strimzi's operator sends for the same manifest)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from kconnect.config.values import java_double_text
from kconnect_devenv import kafka

JAVA_TIMEOUT_S = 60.0

PROGRAM = """
public class PrintDoubles {
    public static void main(String[] args) {
        for (String arg : args) System.out.println(Double.toString(Double.parseDouble(arg)));
    }
}
"""

# Values whose shortest digits every supported Java release prints alike (Java 17 prints a few
# values, such as 1e23, with more digits than the shortest; Java 19 and later do not).
VALUES = (
    0.5,
    1.0,
    100.0,
    0.001,
    9.999e-4,
    1234567.0,
    1e7,
    12345678.0,
    1e-4,
    1e20,
    0.1 + 0.2,
    -2.5,
    3.14159,
    2.5e-10,
    6.02e23,
    0.0,
)


def test_float_text_matches_javas_double_to_string(tmp_path: Path) -> None:
    source = tmp_path / "PrintDoubles.java"
    source.write_text(PROGRAM, "utf-8")
    out = subprocess.run(
        [kafka.java_executable(), str(source), *(repr(v) for v in VALUES)],
        capture_output=True,
        text=True,
        check=True,
        timeout=JAVA_TIMEOUT_S,
    ).stdout.split()
    assert [java_double_text(v) for v in VALUES] == out
