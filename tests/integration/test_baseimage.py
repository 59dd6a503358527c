"""A failed debootstrap, for real: the error names the cause, and nothing half-made is left.

The recipe asks for a package the machine's Debian archive does not have, so debootstrap fails
after it has read the archive's package lists (about 10 s). The cache is a private one.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kconnect_devenv import baseimage, mounts

pytestmark = pytest.mark.timeout(300)

MISSING = "no-such-package-kconnect-test"


def test_a_failed_debootstrap_says_why_and_leaves_no_base_and_nothing_mounted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KCONNECT_CACHE", str(tmp_path))
    base = baseimage.Base("broken", "kconnect-test-broken", ("python3", MISSING))
    with pytest.raises(baseimage.BaseImageError) as failure:
        baseimage.build(base)
    message = str(failure.value)
    assert message.startswith("debootstrap of the broken base exited with")
    assert f"Couldn't find these debs: {MISSING}" in message
    log = base.home() / "debootstrap.log"
    assert f"(log: {log})" in message
    assert MISSING in log.read_text()
    assert baseimage.built(base) is None
    assert sorted(p.name for p in base.home().iterdir()) == ["debootstrap.log"]
    assert mounts.mounts_below(tmp_path) == []
