"""`--dist loadgroup` keeps an `xdist_group` on one session: the e2e tier relies on it to start
the secured module's broker once (e2e/conftest.py). pytest 9.2 with pytest-xdist 3.8 does not
(pyproject.toml holds pytest below 9.2); this fails on a pair that breaks it again."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

GROUPED = """
import os
import pytest

pytestmark = pytest.mark.xdist_group("together")


@pytest.fixture(scope="module")
def once():
    print("SETUP", os.environ["PYTEST_XDIST_WORKER"])


@pytest.mark.parametrize("n", range(6))
def test_grouped(once, n):
    print("RAN", os.environ["PYTEST_XDIST_WORKER"])
"""


def test_a_group_runs_on_one_session_and_sets_its_module_up_once(tmp_path: Path) -> None:
    (tmp_path / "test_grouped.py").write_text(GROUPED, "utf-8")
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n", "2"]
    result = subprocess.run(
        [*command, "--dist", "loadgroup", "-rP", "-q", "test_grouped.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    ran = {line.split()[1] for line in lines if line.startswith("RAN ")}
    setups = [line for line in lines if line.startswith("SETUP ")]
    assert len([line for line in lines if line.startswith("RAN ")]) == 6, result.stdout
    assert len(ran) == 1, result.stdout
    assert len(setups) == 1, result.stdout
