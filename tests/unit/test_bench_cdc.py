"""The PostgreSQL benchmark's report: ratios both ways, its table, and the span it rewrites."""

from __future__ import annotations

import pytest

from bench import cdc
from bench.report import replace_span


def test_a_ratio_favours_kconnect_when_it_is_better_whichever_way_the_unit_points() -> None:
    rate = cdc.Row("r", "rate", "events/s", True, (30.0, 10.0, 20.0), (10.0,))
    lag = cdc.Row("l", "lag", "ms", False, (5.0,), (50.0, 40.0, 60.0))
    assert rate.ratio() == pytest.approx(2.0)
    assert lag.ratio() == pytest.approx(10.0)
    assert cdc.Row("s", "sink", "rows/s", True, (25_000.0,)).ratio() is None


def test_the_table_shows_medians_spreads_and_a_dash_where_a_runtime_has_no_runs() -> None:
    rows = [
        cdc.Row("r", "rate", "events/s", True, (30.0, 10.0, 20.0), (10.0,), "≥ Debezium"),
        cdc.Row("s", "sink", "rows/s", True, (25_000.0,), (), "≥ 20,000 rows/s"),
    ]
    lines = cdc.table(rows)
    assert lines[2] == "| rate | events/s | 20 (10–30) | 10 (10–10) | 2.00× | ≥ Debezium |"
    assert lines[3] == "| sink | rows/s | 25,000 (25,000–25,000) | — | — | ≥ 20,000 rows/s |"


def test_the_section_replaces_only_its_span() -> None:
    page = f"head\n{cdc.SECTION_BEGIN}\nold\n{cdc.SECTION_END}\ntail\n"
    rows = [cdc.Row("r", "rate", "events/s", True, (2.0,), (1.0,))]
    section = cdc.render_section(rows, {"measured": "now"})
    new = replace_span(page, section, cdc.SECTION_BEGIN, cdc.SECTION_END, "the test")
    assert new.startswith("head\n")
    assert new.endswith("\ntail\n")
    assert "old" not in new
    assert "| measured | now |" in new
    assert replace_span(new, section, cdc.SECTION_BEGIN, cdc.SECTION_END, "the test") == new


def test_a_page_without_its_markers_is_refused_naming_the_command() -> None:
    with pytest.raises(ValueError, match="the test"):
        replace_span("no markers", "x", cdc.SECTION_BEGIN, cdc.SECTION_END, "the test")
