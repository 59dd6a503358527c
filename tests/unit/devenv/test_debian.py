"""The Debian-packages helper asks dpkg, and installs only what is missing."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kconnect_devenv import debian

pytestmark = pytest.mark.skipif(shutil.which("dpkg-query") is None, reason="not a Debian machine")


def test_an_installed_package_is_not_missing_and_an_unknown_one_is() -> None:
    assert debian.missing(["dpkg", "kconnect-no-such-package", "dpkg"]) == [
        "kconnect-no-such-package"
    ]


def test_nothing_asked_is_nothing_missing() -> None:
    assert debian.missing([]) == []


def test_ensure_returns_at_once_when_everything_is_installed(tmp_path: Path) -> None:
    debian.ensure(["dpkg", "coreutils"], tmp_path / "cache")
    assert not (tmp_path / "cache").exists(), "no lock is taken when nothing is missing"
