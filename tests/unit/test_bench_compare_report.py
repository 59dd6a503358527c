"""The side-by-side report of ``bench/compare_report.py``: figures, the page section, latest.json.

The page tests pin what the two bench commands promise each other: ``make bench-java`` rewrites
only its section of ``docs/benchmarks.md`` and its keys of ``bench/results/latest.json``, and a
later ``make bench`` keeps both.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from bench import run
from bench.compare_report import (
    FAILOVER_PNG,
    FAILOVER_TITLE,
    SECTION_BEGIN,
    SECTION_END,
    THROUGHPUT_PNG,
    THROUGHPUT_TITLE,
    Comparison,
    comparison_from_json,
    plot_failover,
    plot_throughput,
    render_section,
    replace_section,
    update_results,
    workloads_json,
    write_outputs,
)
from bench.report import (
    DEFAULT_NOTES,
    NOTES_MARKER,
    Measurement,
    Target,
    preserved_notes,
    render_page,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MACHINE = {"CPU": "test CPU", "cores": "2"}
VERSIONS = {"Apache Kafka Connect": "4.1.1", "kconnect": "abc123"}
SETTINGS = {"records per run": "1,000"}


def rate(
    kconnect: tuple[float, ...],
    java: tuple[float, ...],
    *,
    name: str = "source_string",
    target: Target | None = None,
    note: str = "",
) -> Comparison:
    return Comparison(
        name=name,
        label="FileStreamSource → topic, StringConverter",
        unit="records/s",
        group="throughput",
        kconnect=kconnect,
        java=java,
        higher_is_better=True,
        target=target,
        note=note,
    )


def seconds(
    kconnect: tuple[float, ...],
    java: tuple[float, ...],
    *,
    name: str = "failover_default",
    label: str = "failover, defaults",
    target: Target | None = None,
    target_on: str = "ratio",
    note: str = "",
) -> Comparison:
    return Comparison(
        name=name,
        label=label,
        unit="s",
        group="failover",
        kconnect=kconnect,
        java=java,
        higher_is_better=False,
        target=target,
        target_on=target_on,  # type: ignore[arg-type]
        note=note,
    )


def restarts(kconnect: tuple[float, ...], java: tuple[float, ...]) -> Comparison:
    return Comparison(
        name="rebalance_extra_restarts",
        label="worker joins: tasks restarted but not moved",
        unit="tasks",
        group="rebalance",
        kconnect=kconnect,
        java=java,
        higher_is_better=False,
        target=Target("eq", 0),
        target_on="kconnect",
    )


SAMPLE = (
    rate((400_000.0, 462_000.0, 470_000.0), (300_000.0, 310_000.0, 320_000.0), note="rate note"),
    rate((90_000.0,), (), name="sink_json"),
    seconds((11.0, 10.9, 11.1), (12.0, 13.5, 12.5), note="failover note"),
    seconds((6.0,), (), name="failover_tuned", label="failover, tuned", note="failover note"),
    restarts((0.0, 0.0), (3.0, 4.0, 3.0)),
)


# --- Comparison ----------------------------------------------------------------------------------


def test_ratio_is_kconnect_over_java_when_higher_is_better() -> None:
    assert rate((300.0,), (100.0,)).ratio == pytest.approx(3.0)
    assert rate((100.0,), (400.0,)).ratio == pytest.approx(0.25)


def test_ratio_is_java_over_kconnect_when_lower_is_better() -> None:
    assert seconds((2.0,), (10.0,)).ratio == pytest.approx(5.0)
    assert seconds((10.0,), (2.0,)).ratio == pytest.approx(0.2)


def test_ratio_uses_the_medians() -> None:
    c = rate((100.0, 200.0, 1000.0), (50.0, 100.0, 100.0))
    assert c.median("kconnect") == 200.0
    assert c.spread("kconnect") == (100.0, 1000.0)
    assert c.ratio == pytest.approx(2.0)


def test_ratio_of_zero_against_something_lower_is_better_is_infinite() -> None:
    assert restarts((0.0,), (3.0,)).ratio == math.inf
    assert restarts((0.0,), (0.0,)).ratio == 1.0


def test_ratio_is_none_when_a_runtime_did_not_run_or_java_measured_no_rate() -> None:
    assert rate((100.0,), ()).ratio is None
    assert rate((), (100.0,)).ratio is None
    assert rate((100.0,), (0.0,)).ratio is None
    assert rate((), ()).median("java") is None
    assert rate((), ()).spread("kconnect") is None


def test_met_applies_a_ratio_target_to_the_ratio() -> None:
    at_least_par = Target("min", 1.0)
    assert rate((200.0,), (100.0,), target=at_least_par).met is True
    assert rate((50.0,), (100.0,), target=at_least_par).met is False
    assert rate((50.0,), (), target=at_least_par).met is None
    assert rate((50.0,), (100.0,)).met is None


def test_met_applies_a_kconnect_target_to_kconnects_median_alone() -> None:
    assert restarts((0.0, 0.0, 1.0), ()).met is True  # Java not run: no ratio, target still judged
    assert restarts((0.0, 2.0, 2.0), (5.0,)).met is False
    assert restarts((), (5.0,)).met is None


def test_an_unknown_group_is_refused_with_the_value() -> None:
    with pytest.raises(ValueError, match="'latency'"):
        Comparison("x", "x", "s", "latency", (1.0,), (1.0,), False)  # type: ignore[arg-type]


def test_to_json_shape() -> None:
    c = seconds(
        (1.23456, 2.0, 3.0), (10.0,), target=Target("min", 1.5), note="how", name="failover_x"
    )
    assert c.to_json() == {
        "label": "failover, defaults",
        "unit": "s",
        "group": "failover",
        "kconnect": 2.0,
        "java": 10.0,
        "kconnect_runs": [1.235, 2.0, 3.0],
        "java_runs": [10.0],
        "kconnect_spread": [1.235, 3.0],
        "java_spread": [10.0, 10.0],
        "ratio": 5.0,
        "ratio_means": "kconnect advantage: java/kconnect",
        "target": {"on": "ratio", "kind": "min", "value": 1.5},
        "met": True,
        "note": "how",
    }


def test_to_json_of_missing_and_infinite_figures_is_valid_json() -> None:
    missing = rate((100.0,), ()).to_json()
    assert missing["java"] is None
    assert missing["java_spread"] is None
    assert missing["java_runs"] == []
    assert missing["ratio"] is None
    assert missing["ratio_means"] == "kconnect advantage: kconnect/java"
    infinite = restarts((0.0,), (2.0,)).to_json()
    assert infinite["ratio"] == "inf"
    assert infinite["target"] == {"on": "kconnect", "kind": "eq", "value": 0}
    json.loads(json.dumps(workloads_json(SAMPLE), allow_nan=False))


def test_workloads_json_keeps_order_and_refuses_duplicate_names() -> None:
    assert list(workloads_json(SAMPLE)) == [c.name for c in SAMPLE]
    with pytest.raises(ValueError, match="source_string"):
        workloads_json([rate((1.0,), (1.0,)), rate((2.0,), (2.0,))])


# --- the Markdown section ------------------------------------------------------------------------


def section(quick: bool = False) -> str:
    plots = {THROUGHPUT_TITLE: f"images/{THROUGHPUT_PNG}"}
    return render_section(SAMPLE, MACHINE, VERSIONS, SETTINGS, plots, quick)


def row(text: str, label: str) -> str:
    [line] = [line for line in text.splitlines() if line.startswith(f"| {label}")]
    return line


def test_section_is_delimited_and_titled() -> None:
    text = section()
    assert text.startswith(SECTION_BEGIN + "\n")
    assert text.endswith("\n" + SECTION_END)
    assert "## Side by side with Apache Kafka Connect" in text
    assert "`make bench-java`" in text
    assert "QUICK=1" not in text
    assert "QUICK=1" in section(quick=True)


def test_section_tables_come_in_group_order_with_medians_spreads_and_ratios() -> None:
    text = section()
    headings = [line for line in text.splitlines() if line.startswith("### ")]
    assert headings == [
        "### Throughput",
        "### Failover",
        "### Rebalance",
        "### Versions",
        "### Settings",
        "### Machine",
    ]
    source = row(text, "FileStreamSource → topic, StringConverter [^s1]")
    assert "| 462,000 records/s (400,000 to 470,000) |" in source
    assert "| 310,000 records/s (300,000 to 320,000) |" in source
    assert "| 1.49× |" in source


def test_section_shows_not_run_without_ratio_and_no_spread_for_one_run() -> None:
    tuned = row(section(), "failover, tuned")
    assert tuned == "| failover, tuned [^s2] | 6 s | not run | — | — | — |"


def test_section_targets_and_met() -> None:
    extra = row(section(), "worker joins")
    assert extra == (
        "| worker joins: tasks restarted but not moved | 0 tasks (0 to 0) "
        "| 3 tasks (3 to 4) | ∞× | kconnect = 0 tasks | yes |"
    )
    missed = rate((50.0,), (100.0,), target=Target("min", 1.0))
    text = render_section([missed], {}, {}, {}, {}, False)
    assert "| 0.50× | ≥ 1.0× | **no** |" in text


def test_section_footnotes_are_numbered_once_with_their_own_prefix() -> None:
    text = section()
    assert text.count("[^s2]:") == 1
    assert "[^s1]: rate note" in text
    assert "[^s2]: failover note" in text
    assert "[^1]" not in text
    assert row(text, "failover, defaults").startswith("| failover, defaults [^s2] |")


def test_section_links_plots_and_lists_versions() -> None:
    text = section()
    assert f"![{THROUGHPUT_TITLE}](images/{THROUGHPUT_PNG})" in text
    assert "| Apache Kafka Connect | 4.1.1 |" in text
    assert "| records per run | 1,000 |" in text


# --- placing the section in docs/benchmarks.md ---------------------------------------------------


HEAD = "# Benchmarks\n\ngenerated figures\n\n"
NOTES = "\n## Notes\n\nhand-written, kept.\n"
PAGE = HEAD + NOTES_MARKER + "\n" + NOTES


def test_replace_section_inserts_after_the_marker_and_keeps_the_rest() -> None:
    text = section()
    page = replace_section(PAGE, text)
    assert page == HEAD + NOTES_MARKER + "\n\n" + text + "\n" + NOTES


def test_replace_section_replaces_only_its_span_and_is_idempotent() -> None:
    old = replace_section(PAGE, section())
    new_section = render_section(SAMPLE[:1], MACHINE, VERSIONS, SETTINGS, {}, True)
    page = replace_section(old, new_section)
    start = old.index(SECTION_BEGIN)
    end = old.index(SECTION_END) + len(SECTION_END)
    assert page == old[:start] + new_section + old[end:]
    assert replace_section(page, new_section) == page


def test_replace_section_without_a_page_or_a_marker_uses_the_default_notes() -> None:
    text = section()
    fresh = replace_section(None, text)
    assert fresh.startswith(NOTES_MARKER + "\n\n" + text + "\n")
    assert fresh.endswith(DEFAULT_NOTES[len(NOTES_MARKER) + 1 :])
    handwritten = "# My page\n"
    kept = replace_section(handwritten, text)
    assert kept.startswith(handwritten)
    assert kept[len(handwritten) :].lstrip("\n") == fresh


def test_replace_section_refuses_a_page_with_half_a_section() -> None:
    with pytest.raises(ValueError, match="no <!-- side-by-side:end -->"):
        replace_section(PAGE + SECTION_BEGIN + "\n", section())
    with pytest.raises(ValueError, match="at most one"):
        replace_section(PAGE + (section() + "\n") * 2, section())


def test_make_bench_regeneration_keeps_the_section() -> None:
    first = [Measurement("startup", "start-up", "s", (0.5, 0.4, 0.6), Target("max", 2.0), "n1")]
    again = [Measurement("startup", "start-up", "s", (0.7,), Target("max", 2.0), "n2")]
    page = render_page(first, MACHINE, {"x": "1"}, preserved_notes(None))
    text = section()
    with_section = replace_section(page, text)

    regenerated = render_page(again, MACHINE, {"x": "2"}, preserved_notes(with_section))
    assert text in regenerated
    assert "0.70 s" in regenerated
    # The section sits inside the preserved notes, which are kept byte for byte.
    notes = with_section[with_section.index(NOTES_MARKER) :]
    assert regenerated.endswith(notes)
    assert replace_section(regenerated, text) == regenerated


# --- latest.json ---------------------------------------------------------------------------------


def test_update_results_keeps_the_keys_make_bench_owns(tmp_path: Path) -> None:
    results = tmp_path / "latest.json"
    mine = {"machine": {"CPU": "x"}, "setup": {"a": "b"}, "measurements": [{"name": "startup"}]}
    results.write_text(json.dumps(mine))
    update_results(results, SAMPLE, MACHINE, VERSIONS, SETTINGS, True)

    text = results.read_text()
    assert text.endswith("}\n")
    assert text.startswith('{\n  "machine"')
    data = json.loads(text)
    assert {k: data[k] for k in mine} == mine
    assert data["workloads"] == workloads_json(SAMPLE)
    assert data["side_by_side"] == {
        "machine": MACHINE,
        "versions": VERSIONS,
        "settings": SETTINGS,
        "quick": True,
    }


@pytest.mark.parametrize("existing", [None, "not json {", "[1, 2]"])
def test_update_results_starts_afresh_from_a_missing_or_unusable_file(
    tmp_path: Path, existing: str | None
) -> None:
    results = tmp_path / "results" / "latest.json"
    if existing is not None:
        results.parent.mkdir()
        results.write_text(existing)
    update_results(results, SAMPLE, MACHINE, VERSIONS, SETTINGS, False)
    assert set(json.loads(results.read_text())) == {"workloads", "side_by_side"}


def test_make_bench_write_report_keeps_the_side_by_side_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc, results = tmp_path / "benchmarks.md", tmp_path / "latest.json"
    monkeypatch.setattr(run, "DOC", doc)
    monkeypatch.setattr(run, "RESULTS", results)
    monkeypatch.setattr(run, "machine", lambda: dict(MACHINE))
    update_results(results, SAMPLE, MACHINE, VERSIONS, SETTINGS, False)
    doc.write_text(replace_section(None, section()))

    run.write_report([Measurement("startup", "start-up", "s", (0.5,))], {"x": "1"})

    data = json.loads(results.read_text())
    assert data["workloads"] == workloads_json(SAMPLE)
    assert data["side_by_side"]["versions"] == VERSIONS
    assert [m["name"] for m in data["measurements"]] == ["startup"]
    assert section() in doc.read_text()


# --- plots and all outputs -----------------------------------------------------------------------


def assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert len(data) > 5000


def test_plots_are_pngs_even_with_a_runtime_not_run(tmp_path: Path) -> None:
    plot_throughput(SAMPLE, tmp_path / "throughput.png")
    plot_failover(SAMPLE, tmp_path / "failover.png")
    assert_png(tmp_path / "throughput.png")
    assert_png(tmp_path / "failover.png")


def test_failover_plot_takes_figures_far_apart_and_none_at_all(tmp_path: Path) -> None:
    far_apart = [seconds((0.5,), (60.0, 70.0)), seconds((), (), name="f2", label="neither")]
    plot_failover(far_apart, tmp_path / "failover.png")
    assert_png(tmp_path / "failover.png")


def test_a_plot_with_nothing_in_its_group_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no throughput comparisons"):
        plot_throughput([restarts((0.0,), (1.0,))], tmp_path / "t.png")
    assert not (tmp_path / "t.png").exists()


def test_write_outputs_writes_plots_results_and_links_relative_to_the_page(
    tmp_path: Path,
) -> None:
    doc = tmp_path / "docs" / "benchmarks.md"
    results = tmp_path / "bench" / "results" / "latest.json"
    images = tmp_path / "docs" / "images"
    doc.parent.mkdir()
    doc.write_text(PAGE)

    written = write_outputs(
        SAMPLE, MACHINE, VERSIONS, SETTINGS, False, doc=doc, results=results, images=images
    )

    assert written == {
        "throughput_plot": images / THROUGHPUT_PNG,
        "failover_plot": images / FAILOVER_PNG,
        "results": results,
        "doc": doc,
    }
    assert_png(images / THROUGHPUT_PNG)
    assert_png(images / FAILOVER_PNG)
    page = doc.read_text()
    assert f"![{THROUGHPUT_TITLE}](images/{THROUGHPUT_PNG})" in page
    assert f"![{FAILOVER_TITLE}](images/{FAILOVER_PNG})" in page
    assert page.startswith(HEAD + NOTES_MARKER + "\n\n" + SECTION_BEGIN)
    assert page.endswith(SECTION_END + "\n" + NOTES)
    assert set(json.loads(results.read_text())) == {"workloads", "side_by_side"}


def test_write_outputs_skips_an_empty_group_and_writes_nothing_for_a_broken_page(
    tmp_path: Path,
) -> None:
    doc, results, images = tmp_path / "b.md", tmp_path / "latest.json", tmp_path / "img"
    only_rates = [rate((1.0,), (2.0,))]
    written = write_outputs(only_rates, {}, {}, {}, True, doc=doc, results=results, images=images)
    assert set(written) == {"throughput_plot", "results", "doc"}
    assert not (images / FAILOVER_PNG).exists()
    assert FAILOVER_TITLE not in doc.read_text()

    broken = tmp_path / "broken.md"
    broken.write_text(PAGE + SECTION_BEGIN + "\n")
    elsewhere = tmp_path / "elsewhere.json"
    with pytest.raises(ValueError, match="side-by-side:end"):
        write_outputs(
            only_rates, {}, {}, {}, True, doc=broken, results=elsewhere, images=tmp_path / "i2"
        )
    assert not elsewhere.exists()
    assert not (tmp_path / "i2").exists()


def test_a_comparison_read_back_from_its_json_is_the_same_comparison() -> None:
    """`python -m bench.compare --replot` draws the page again from latest.json."""
    for c in SAMPLE:
        back = comparison_from_json(c.name, json.loads(json.dumps(c.to_json())), short="axis")
        assert back.to_json() == c.to_json()
        assert back.axis_label == "axis"
        assert (back.ratio, back.met) == (c.ratio, c.met)
    assert SAMPLE[0].axis_label == SAMPLE[0].label


def test_update_replaces_only_the_named_workloads_and_notes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`python -m bench.compare --only NAME --update`: the new figures of NAME take the place of
    the full run's, every other row stays, and the settings say which rows were measured when."""
    from bench import compare

    doc = tmp_path / "docs" / "benchmarks.md"
    results = tmp_path / "latest.json"
    doc.parent.mkdir()
    doc.write_text(PAGE)
    write_outputs(
        SAMPLE, MACHINE, VERSIONS, SETTINGS, False, doc=doc, results=results, images=tmp_path
    )
    monkeypatch.setattr(compare, "DOC", doc)
    monkeypatch.setattr(compare, "RESULTS", results)
    monkeypatch.setattr(compare, "IMAGES", tmp_path / "images")
    monkeypatch.setattr(compare, "REPO", tmp_path)
    name = SAMPLE[0].name
    fresh = rate((9.0, 9.5, 9.9), (1.0, 1.1, 1.2), name=name)
    assert compare.replot([fresh], f"{name}: measured again") == 0

    data = json.loads(results.read_text())
    assert data["workloads"][name] == fresh.to_json()
    others = {c.name: c.to_json() for c in SAMPLE[1:]}
    assert {k: v for k, v in data["workloads"].items() if k != name} == others
    tail = "; every other row is from the full run"
    assert data["side_by_side"]["settings"]["re-measured"] == f"{name}: measured again{tail}"
    assert f"{name}: measured again" in doc.read_text()

    # A later re-measurement keeps the earlier one named.
    assert compare.replot([fresh], f"{name}: measured a third time") == 0
    data = json.loads(results.read_text())
    assert data["side_by_side"]["settings"]["re-measured"] == (
        f"{name}: measured a third time; before that, {name}: measured again{tail}"
    )

    unknown = rate((1.0,), (1.0,), name="no_such_workload")
    assert compare.replot([unknown], "x") == 1
