"""The table that orders `make test`'s parallel sessions: read from JUnit, weighed by tier."""

from __future__ import annotations

from pathlib import Path

from tests.support import file_durations

REPORT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest">
<testcase classname="tests.integration.test_slow" name="test_a" time="40.5"/>
<testcase classname="tests.integration.test_slow" name="test_b" time="20.0"/>
<testcase classname="tests.unit.data.test_quick.TestGroup" name="test_c" time="3.2"/>
<testcase classname="tests.unit.test_instant" name="test_d" time="0.01"/>
</testsuite></testsuites>
"""


def test_a_report_gives_seconds_per_file_longest_first_and_leaves_out_quick_files(
    tmp_path: Path,
) -> None:
    report = tmp_path / "report.xml"
    report.write_text(REPORT)
    table = file_durations.from_junit(report)
    assert list(table.items()) == [
        ("tests/integration/test_slow.py", 60),
        ("tests/unit/data/test_quick.py", 3),
    ]


def test_an_unlisted_file_is_weighed_by_its_tier() -> None:
    root = file_durations.ROOT
    table = {"tests/integration/test_slow.py": 60.0}
    assert file_durations.weight(table, root / "tests/integration/test_slow.py") == 60.0
    assert (
        file_durations.weight(table, root / "tests/integration/test_new.py")
        == file_durations.UNLISTED_INTEGRATION_S
    )
    assert (
        file_durations.weight(table, root / "tests/unit/test_new.py")
        == file_durations.UNLISTED_UNIT_S
    )


def test_a_missing_or_malformed_table_orders_nothing(tmp_path: Path) -> None:
    assert file_durations.load(tmp_path / "absent.json") == {}
    malformed = tmp_path / "malformed.json"
    malformed.write_text("[1, 2")
    assert file_durations.load(malformed) == {}
    listed = tmp_path / "listed.json"
    listed.write_text('{"tests/unit/test_x.py": 4, "tests/unit/test_y.py": "soon"}')
    assert file_durations.load(listed) == {"tests/unit/test_x.py": 4.0}


def test_the_committed_table_names_only_files_that_exist() -> None:
    table = file_durations.load()
    assert table, "tests/file_durations.json is empty or unreadable"
    missing = [path for path in table if not (file_durations.ROOT / path).is_file()]
    assert missing == []
