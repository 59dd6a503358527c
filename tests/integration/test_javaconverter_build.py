"""Building the Java reference converter (:mod:`kconnect_devenv.javaconverter`) in a private cache:
Maven copies the pom's jars from the local Maven repository, ``javac`` compiles the program, and a
build that fails leaves nothing that :func:`javaconverter.fetched` would take for done.

Some 5-10 s: Maven's copy and two ``javac`` runs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kconnect_devenv import javaconverter


def test_a_failed_compile_leaves_nothing_and_the_next_fetch_builds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KCONNECT_CACHE", str(tmp_path / "cache"))
    broken = tmp_path / "ConverterReference.java"
    broken.write_text(
        javaconverter.SOURCE.read_text("utf-8").replace("private ConverterReference() {}", "oops")
    )
    monkeypatch.setattr(javaconverter, "SOURCE", broken)

    with pytest.raises(javaconverter.JavaConverterError, match="javac exited with 1") as failed:
        javaconverter.fetch()

    assert "ConverterReference.java" in str(failed.value)
    assert javaconverter.fetched() is None
    home = javaconverter.home_dir()
    assert not (home / "classes").exists()
    assert not (home / "compiled").exists()
    assert not list(home.glob("classes.partial-*"))

    monkeypatch.setattr(javaconverter, "SOURCE", javaconverter.SOURCE_DIR / broken.name)
    reference = javaconverter.fetch()

    assert reference == javaconverter.fetched()
    assert (reference.classes / "ConverterReference.class").is_file()
    assert (reference.libs / "apicurio-registry-utils-converter-2.6.13.Final.jar").is_file()
    assert reference.classpath.startswith(f"{reference.classes}:")
