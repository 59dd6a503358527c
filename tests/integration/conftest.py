"""Fixtures for integration tests that run worker processes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.workers import Standalone


@pytest.fixture
def standalone(tmp_path: Path, kafka_bootstrap: str) -> Iterator[Standalone]:
    s = Standalone(tmp_path, kafka_bootstrap)
    try:
        yield s
    finally:
        s.close()
