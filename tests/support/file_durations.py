"""How long each test file takes, so that ``make test``'s parallel sessions start with the longest.

``tests/file_durations.json`` maps a test file (relative to the repository) to the seconds its
tests took in a whole run of the unit and integration tiers. It orders work and nothing else: a
stale or missing entry only makes the parallel sessions end less evenly, never changes what runs
or whether it passes. A file absent from the table is weighed by its tier (an integration file as
a middling one, a unit file as a quick one).

Refresh it after a run that wrote a JUnit report::

    .venv/bin/python -m pytest -n 3 --dist loadfile --junitxml=/tmp/tiers.xml tests
    .venv/bin/python -m tests.support.file_durations /tmp/tiers.xml
"""

from __future__ import annotations

import argparse
import collections
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Final
from xml.etree import ElementTree

ROOT: Final = Path(__file__).resolve().parents[2]
TABLE: Final = ROOT / "tests" / "file_durations.json"
UNLISTED_INTEGRATION_S: Final = 10.0
UNLISTED_UNIT_S: Final = 1.0
# Files quicker than this are left out of the table: their order does not matter.
LISTED_FROM_S: Final = 2.0


def load(table: Path = TABLE) -> Mapping[str, float]:
    try:
        raw = json.loads(table.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(raw, dict):
        return {}
    return {
        str(path): float(seconds)
        for path, seconds in raw.items()
        if isinstance(seconds, int | float)
    }


def weight(table: Mapping[str, float], path: Path) -> float:
    relative = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else path.as_posix()
    listed = table.get(relative)
    if listed is not None:
        return listed
    return UNLISTED_INTEGRATION_S if relative.startswith("tests/integration/") else UNLISTED_UNIT_S


def from_junit(report: Path) -> dict[str, int]:
    """Seconds per test file (setup, call and teardown) from a pytest JUnit report."""
    seconds: collections.Counter[str] = collections.Counter()
    # The report is one this machine's own pytest wrote.
    for case in ElementTree.parse(report).iter("testcase"):  # noqa: S314
        parts = (case.get("classname") or "").split(".")
        modules = [index for index, part in enumerate(parts) if part.startswith("test_")]
        if not modules:
            continue
        seconds["/".join(parts[: modules[0] + 1]) + ".py"] += float(case.get("time") or 0.0)
    return {path: round(total) for path, total in seconds.most_common() if total >= LISTED_FROM_S}


def main() -> None:
    parser = argparse.ArgumentParser(
        description="Refresh tests/file_durations.json from a JUnit report."
    )
    parser.add_argument("report", type=Path)
    table = from_junit(parser.parse_args().report)
    TABLE.write_text(json.dumps(table, indent=1) + "\n")
    print(f"{len(table)} files in {TABLE}")


if __name__ == "__main__":
    main()
