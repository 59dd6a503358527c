"""The side-by-side report: kconnect and Apache Kafka Connect's Java runtime on the same workloads.

``bench/compare.py`` measures and builds ``Comparison`` objects; this module turns them into the
``workloads`` and ``side_by_side`` keys of ``bench/results/latest.json``, a section of
``docs/benchmarks.md`` and two PNG plots. ``Comparison``, ``workloads_json``, ``render_section``
and ``replace_section`` are pure; ``update_results``, the ``plot_*`` functions and
``write_outputs`` write files.

Invariants:

- **An advantage above 1 means kconnect did better.** ``Comparison.ratio`` divides the medians:
  kconnect/Java where a higher figure is better (rates), Java/kconnect where a lower one is
  (seconds, MiB, CPU seconds, restarts). A lower-is-better figure of 0 for kconnect against a
  positive one for Java is an infinite advantage (``math.inf``, ``"inf"`` in the JSON, ``∞×`` on
  the page); two figures of 0 are equal (1.0). A higher-is-better figure of 0 for Java means its
  run measured nothing, so that ratio is None, like the ratio of a workload a runtime did not run.
- **A workload not run is shown, not hidden.** A runtime with no runs reads "not run" in the
  table and the plots and ``null`` in the JSON; ``met`` is None when the figure its target
  applies to is missing. Nothing here raises because kconnect lost or missed a target.
- **The section lives inside the preserved notes.** ``make bench`` regenerates
  ``docs/benchmarks.md`` above the notes marker of ``bench.report`` and keeps everything from the
  marker on, so the section goes after that marker. ``replace_section`` rewrites only the span
  from ``SECTION_BEGIN`` to ``SECTION_END``; every other byte of the page is kept.
- **latest.json is shared.** Only the ``workloads`` and ``side_by_side`` keys are rewritten;
  ``make bench`` owns the others (``bench.report.merge_json``).
- **Importing this module is cheap.** matplotlib is imported by the plotting functions only. They
  draw on their own ``Figure`` with the Agg canvas and never touch pyplot, so no figure outlives
  the call and the caller's matplotlib backend is left alone.

How it fails: a ``Comparison`` with an unknown ``group`` or ``target_on`` raises ValueError when
built; ``workloads_json`` raises ValueError for two comparisons with one name (one would hide the
other in the JSON); ``replace_section`` raises ValueError for a page whose section markers are
broken (a begin without an end, more than one section) rather than guess which text is generated;
the plotting functions raise ValueError when there is nothing in their group to plot.
``write_outputs`` renders the page before it writes anything, so those errors leave every file
as it was.
"""

from __future__ import annotations

import dataclasses
import math
import os
import statistics
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

from bench.report import (
    DEFAULT_NOTES,
    NOTES_MARKER,
    Measurement,
    Target,
    fmt_number,
    footnotes,
    merge_json,
    value_cell,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

RuntimeName = Literal["kconnect", "java"]
Group = Literal["throughput", "failover", "rebalance", "resources"]
TargetOn = Literal["ratio", "kconnect"]

RUNTIMES: Final[tuple[RuntimeName, ...]] = ("kconnect", "java")
GROUPS: Final[tuple[Group, ...]] = ("throughput", "failover", "rebalance", "resources")
GROUP_TITLES: Final[Mapping[Group, str]] = {
    "throughput": "Throughput",
    "failover": "Failover",
    "rebalance": "Rebalance",
    "resources": "Resources",
}
TARGET_ON: Final[tuple[TargetOn, ...]] = ("ratio", "kconnect")

SECTION_BEGIN: Final = "<!-- side-by-side:begin -->"
SECTION_END: Final = "<!-- side-by-side:end -->"
FOOTNOTE_PREFIX: Final = "s"
"""Footnote labels here are ``[^s1]``, ``[^s2]``...: ``make bench`` numbers its own ``[^1]``... on
the same page, and Markdown footnote labels are page-wide."""

THROUGHPUT_PNG: Final = "bench-side-by-side-throughput.png"
FAILOVER_PNG: Final = "bench-side-by-side-failover.png"
THROUGHPUT_TITLE: Final = "Throughput per task: kconnect vs Apache Kafka Connect"
FAILOVER_TITLE: Final = "Failover: SIGKILL of a worker → every task RUNNING"

_RUNTIME_TITLES: Final[Mapping[RuntimeName, str]] = {
    "kconnect": "kconnect",
    "java": "Apache Kafka Connect (Java)",
}
_COLOURS: Final[Mapping[RuntimeName, str]] = {"kconnect": "#1f77b4", "java": "#e8711a"}
_SIDES: Final[tuple[tuple[int, RuntimeName], ...]] = ((-1, "kconnect"), (1, "java"))
"""Where each runtime's bar sits in a pair: kconnect first (above, or left), then Java."""
_LOG_SCALE_ABOVE: Final = 20.0
"""The failover plot uses a log scale when its largest figure is more than this many times its
smallest, so that a 1 s bar stays visible next to a 60 s one."""


@dataclasses.dataclass(frozen=True)
class Comparison:
    """One workload run on both runtimes: the runs of each, and how to compare them."""

    name: str
    label: str
    unit: str
    group: Group
    kconnect: tuple[float, ...]
    java: tuple[float, ...]
    higher_is_better: bool
    target: Target | None = None
    target_on: TargetOn = "ratio"
    note: str = ""
    short: str = ""
    """A shorter label for the plots' axes; the label when empty."""

    @property
    def axis_label(self) -> str:
        return self.short or self.label

    def __post_init__(self) -> None:
        if self.group not in GROUPS:
            raise ValueError(
                f"comparison {self.name!r}: group={self.group!r}; expected one of "
                + ", ".join(GROUPS)
            )
        if self.target_on not in TARGET_ON:
            raise ValueError(
                f"comparison {self.name!r}: target_on={self.target_on!r}; expected one of "
                + ", ".join(TARGET_ON)
            )

    def runs(self, runtime: RuntimeName) -> tuple[float, ...]:
        return self.kconnect if runtime == "kconnect" else self.java

    def median(self, runtime: RuntimeName) -> float | None:
        runs = self.runs(runtime)
        return float(statistics.median(runs)) if runs else None

    def spread(self, runtime: RuntimeName) -> tuple[float, float] | None:
        runs = self.runs(runtime)
        return (min(runs), max(runs)) if runs else None

    @property
    def ratio(self) -> float | None:
        """kconnect's advantage on the medians; above 1 means kconnect did better (see the module
        docstring for the zero cases)."""
        kconnect, java = self.median("kconnect"), self.median("java")
        if kconnect is None or java is None:
            return None
        better_side, divisor = (kconnect, java) if self.higher_is_better else (java, kconnect)
        if divisor == 0:
            if better_side == 0:
                return 1.0
            if not self.higher_is_better and better_side > 0:
                return math.inf
            return None
        return better_side / divisor

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        figure = self.ratio if self.target_on == "ratio" else self.median("kconnect")
        return None if figure is None else self.target.met(figure)

    def to_json(self) -> dict[str, object]:
        ratio = self.ratio
        return {
            "label": self.label,
            "unit": self.unit,
            "group": self.group,
            "kconnect": _rounded(self.median("kconnect")),
            "java": _rounded(self.median("java")),
            "kconnect_runs": [round(r, 3) for r in self.kconnect],
            "java_runs": [round(r, 3) for r in self.java],
            "kconnect_spread": _rounded_pair(self.spread("kconnect")),
            "java_spread": _rounded_pair(self.spread("java")),
            "ratio": "inf" if ratio == math.inf else _rounded(ratio),
            "ratio_means": "kconnect advantage: "
            + ("kconnect/java" if self.higher_is_better else "java/kconnect"),
            "target": None
            if self.target is None
            else {"on": self.target_on, "kind": self.target.kind, "value": self.target.value},
            "met": self.met,
            "note": self.note,
        }


def comparison_from_json(name: str, obj: Mapping[str, Any], short: str = "") -> Comparison:
    """The comparison `Comparison.to_json` wrote under `name`, for drawing a page and plots
    again from `latest.json` without measuring (`python -m bench.compare --replot`)."""
    target = obj.get("target")
    return Comparison(
        name,
        str(obj["label"]),
        str(obj["unit"]),
        obj["group"],
        tuple(float(r) for r in obj["kconnect_runs"]),
        tuple(float(r) for r in obj["java_runs"]),
        higher_is_better=str(obj["ratio_means"]).endswith("kconnect/java"),
        target=None if target is None else Target(target["kind"], float(target["value"])),
        target_on="ratio" if target is None else target["on"],
        note=str(obj.get("note", "")),
        short=short,
    )


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _rounded_pair(pair: tuple[float, float] | None) -> list[float] | None:
    return None if pair is None else [round(pair[0], 3), round(pair[1], 3)]


# --- latest.json ---------------------------------------------------------------------------------


def workloads_json(comparisons: Sequence[Comparison]) -> dict[str, dict[str, object]]:
    """``{name: Comparison.to_json()}`` in the order given."""
    out: dict[str, dict[str, object]] = {}
    for c in comparisons:
        if c.name in out:
            raise ValueError(f"two comparisons are named {c.name!r}; names must be unique")
        out[c.name] = c.to_json()
    return out


def update_results(
    path: Path,
    comparisons: Sequence[Comparison],
    machine: Mapping[str, str],
    versions: Mapping[str, str],
    settings: Mapping[str, str],
    quick: bool,
) -> None:
    """Rewrite the ``workloads`` and ``side_by_side`` keys of ``path``; keep every other key."""
    merge_json(
        path,
        {
            "workloads": workloads_json(comparisons),
            "side_by_side": {
                "machine": dict(machine),
                "versions": dict(versions),
                "settings": dict(settings),
                "quick": quick,
            },
        },
    )


# --- the Markdown section ------------------------------------------------------------------------


def fmt_ratio(ratio: float | None) -> str:
    if ratio is None:
        return "—"
    return "∞×" if ratio == math.inf else f"{ratio:.2f}×"


def _fmt_factor(value: float) -> str:
    """A target factor with one or two decimals: 1.0, 0.8, 1.25."""
    text = f"{value:.2f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def runtime_cell(c: Comparison, runtime: RuntimeName) -> str:
    runs = c.runs(runtime)
    if not runs:
        return "not run"
    return value_cell(Measurement(c.name, c.label, c.unit, runs))


def target_cell(c: Comparison) -> str:
    if c.target is None:
        return "—"
    if c.target_on == "ratio":
        return f"{c.target.sign} {_fmt_factor(c.target.value)}×"
    return f"kconnect {c.target.text(c.unit)}"


def met_cell(c: Comparison) -> str:
    met = c.met
    return "—" if met is None else ("yes" if met else "**no**")


def _two_column_table(rows: Mapping[str, str]) -> list[str]:
    return ["| | |", "|---|---|", *(f"| {_cell(k)} | {_cell(v)} |" for k, v in rows.items())]


def render_section(
    comparisons: Sequence[Comparison],
    machine: Mapping[str, str],
    versions: Mapping[str, str],
    settings: Mapping[str, str],
    plots: Mapping[str, str],
    quick: bool,
) -> str:
    """The side-by-side section, from ``SECTION_BEGIN`` to ``SECTION_END`` (no final newline).

    ``plots`` maps a plot's title to its path relative to the page.
    """
    out = [
        SECTION_BEGIN,
        "",
        "## Side by side with Apache Kafka Connect",
        "",
        "Generated by `make bench-java` (`python -m bench.compare`), which rewrites this section",
        "on every run; the raw runs are in `bench/results/latest.json` under `workloads`. The",
        "kconnect advantage is kconnect/Java where a higher figure is better and Java/kconnect",
        "where a lower one is, so above 1× kconnect did better.",
        "",
    ]
    if quick:
        out += [
            "**These are QUICK=1 figures (short runs, one repeat each): do not quote them.**",
            "",
        ]
    numbers = footnotes(comparisons)
    for group in GROUPS:
        rows = [c for c in comparisons if c.group == group]
        if not rows:
            continue
        out += [
            f"### {GROUP_TITLES[group]}",
            "",
            "| workload | kconnect: median (min to max) | Java: median (min to max) "
            "| kconnect advantage | target | met? |",
            "|---|---|---|---|---|---|",
        ]
        for c in rows:
            label = _cell(c.label)
            if c.note:
                label += f" [^{FOOTNOTE_PREFIX}{numbers[c.note]}]"
            out.append(
                f"| {label} | {runtime_cell(c, 'kconnect')} | {runtime_cell(c, 'java')} "
                f"| {fmt_ratio(c.ratio)} | {target_cell(c)} | {met_cell(c)} |"
            )
        out.append("")
    if numbers:
        out += [*(f"[^{FOOTNOTE_PREFIX}{n}]: {text}" for text, n in numbers.items()), ""]
    for title, path in plots.items():
        out += [f"![{title}]({path})", ""]
    for heading, table in (("Versions", versions), ("Settings", settings), ("Machine", machine)):
        if table:
            out += [f"### {heading}", "", *_two_column_table(table), ""]
    out.append(SECTION_END)
    return "\n".join(out)


def replace_section(page: str | None, section: str) -> str:
    """``page`` with ``section`` in it: in place of the existing section, else right after the
    notes marker line. Every byte outside the section's span is kept.

    A missing page (None) becomes the default notes of ``bench.report`` with the section after
    the marker. A page without the marker keeps its text and gets the marker, the section and
    the default notes appended; ``make bench`` will regenerate what is above the marker.
    """
    if not (section.startswith(SECTION_BEGIN) and section.endswith(SECTION_END)):
        raise ValueError(
            f"a side-by-side section must start with {SECTION_BEGIN} and end with {SECTION_END}"
        )
    if section.count(SECTION_BEGIN) != 1 or section.count(SECTION_END) != 1:
        raise ValueError("a side-by-side section must hold its begin and end markers once each")
    if NOTES_MARKER in section:
        raise ValueError(
            f"a side-by-side section must not contain {NOTES_MARKER}: make bench keeps the page "
            "from its first occurrence on"
        )
    if page is None:
        return replace_section(DEFAULT_NOTES, section)

    begins, ends = page.count(SECTION_BEGIN), page.count(SECTION_END)
    if begins > 1 or ends > 1:
        raise ValueError(
            f"the page holds {begins} {SECTION_BEGIN} and {ends} {SECTION_END} markers; expected "
            "at most one of each: remove the extra side-by-side sections by hand"
        )
    if begins == 1:
        start = page.index(SECTION_BEGIN)
        end = page.find(SECTION_END, start)
        if end < 0:
            raise ValueError(
                f"the page has {SECTION_BEGIN} but no {SECTION_END} after it; restore the end "
                "marker by hand so that the generated span is known"
            )
        return page[:start] + section + page[end + len(SECTION_END) :]
    if ends == 1:
        raise ValueError(
            f"the page has {SECTION_END} but no {SECTION_BEGIN}; restore the begin marker by hand "
            "so that the generated span is known"
        )

    if NOTES_MARKER not in page:
        separator = "" if not page or page.endswith("\n") else "\n"
        lead = page + separator + ("\n" if page else "")
        return lead + replace_section(DEFAULT_NOTES, section)
    line_end = page.find("\n", page.index(NOTES_MARKER))
    if line_end < 0:
        return page + "\n\n" + section + "\n"
    return page[: line_end + 1] + "\n" + section + "\n" + page[line_end + 1 :]


# --- plots ---------------------------------------------------------------------------------------


def _in_group(comparisons: Sequence[Comparison], group: Group) -> list[Comparison]:
    rows = [c for c in comparisons if c.group == group]
    if not rows:
        raise ValueError(f"no {group} comparisons to plot")
    return rows


def _short_number(value: float) -> str:
    """462k, 1.2M: a bar label that stays short."""
    if abs(value) >= 1_000_000:
        return f"{value / 1_000_000:.1f}M"
    if abs(value) >= 1000:
        return f"{value / 1000:.0f}k"
    return fmt_number(value)


def _wrapped(label: str, width: int, lines: int) -> str:
    return "\n".join(textwrap.wrap(label, width, max_lines=lines, placeholder=" …"))


def _units(rows: Sequence[Comparison]) -> str:
    return " / ".join(dict.fromkeys(c.unit for c in rows))


def _figure(height: float = 4.5) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, height), dpi=120)
    FigureCanvasAgg(figure)
    return figure


def _legend(ax: Axes) -> None:
    from matplotlib.patches import Patch

    handles = [Patch(color=_COLOURS[r], label=_RUNTIME_TITLES[r]) for r in RUNTIMES]
    ax.legend(handles=handles, fontsize=8, loc="best")


def _save(figure: Figure, path: Path) -> None:
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png")


def plot_throughput(comparisons: Sequence[Comparison], path: Path) -> None:
    """Horizontal bars, a kconnect/Java pair per throughput comparison: the median, with the
    min-to-max spread as the error bar."""
    from matplotlib.ticker import FuncFormatter
    from matplotlib.transforms import blended_transform_factory

    rows = _in_group(comparisons, "throughput")
    figure = _figure(max(4.5, 1.2 + 0.6 * len(rows)))
    ax = figure.add_subplot()
    not_run_at = blended_transform_factory(ax.transAxes, ax.transData)
    bar = 0.38
    top = max((v for c in rows for r in RUNTIMES for v in c.runs(r)), default=0.0)
    for side, runtime in _SIDES:
        for i, c in enumerate(rows):
            y = i + side * bar / 2
            median, spread = c.median(runtime), c.spread(runtime)
            if median is None or spread is None:
                ax.text(0.01, y, "not run", transform=not_run_at, va="center", fontsize=8)
                continue
            low, high = spread
            ax.barh(
                y,
                median,
                bar,
                color=_COLOURS[runtime],
                xerr=[[median - low], [high - median]],
                capsize=3,
                error_kw={"elinewidth": 1},
            )
            ax.annotate(
                _short_number(median),
                (high, y),
                xytext=(4, 0),
                textcoords="offset points",
                va="center",
                fontsize=8,
            )
    ax.set_yticks(range(len(rows)), [_wrapped(c.axis_label, 34, 2) for c in rows], fontsize=8)
    # Top to bottom in the given order; the limits also keep a "not run" slot in view.
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_xlim(0, top * 1.2 if top > 0 else 1)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: _short_number(v)))
    ax.set_xlabel(_units(rows))
    ax.set_title(THROUGHPUT_TITLE, fontsize=11)
    _legend(ax)
    _save(figure, path)


def plot_failover(comparisons: Sequence[Comparison], path: Path) -> None:
    """Vertical bars, a kconnect/Java pair per failover comparison: the median, with the
    min-to-max spread as the error bar; a log scale when the figures span more than 20×."""
    from matplotlib.transforms import blended_transform_factory

    rows = _in_group(comparisons, "failover")
    figure = _figure()
    ax = figure.add_subplot()
    not_run_at = blended_transform_factory(ax.transData, ax.transAxes)
    positive = [v for c in rows for r in RUNTIMES for v in c.runs(r) if v > 0]
    log = bool(positive) and max(positive) / min(positive) > _LOG_SCALE_ABOVE
    bar = 0.38
    for side, runtime in _SIDES:
        for i, c in enumerate(rows):
            x = i + side * bar / 2
            median, spread = c.median(runtime), c.spread(runtime)
            if median is None or spread is None:
                ax.text(x, 0.02, "not run", transform=not_run_at, ha="center", fontsize=8)
                continue
            low, high = spread
            ax.bar(
                x,
                median,
                bar,
                color=_COLOURS[runtime],
                yerr=[[median - low], [high - median]],
                capsize=3,
                error_kw={"elinewidth": 1},
            )
            ax.annotate(
                f"{median:.1f} {c.unit}",
                (x, high),
                xytext=(0, 3),
                textcoords="offset points",
                ha="center",
                fontsize=8,
            )
    ax.set_xticks(range(len(rows)), [_wrapped(c.axis_label, 30, 3) for c in rows], fontsize=8)
    ax.set_xlim(-0.5, len(rows) - 0.5)  # keeps a "not run" slot in view
    if log:
        ax.set_yscale("log")
        ax.set_ylim(min(positive) / 2, max(positive) * 3)
    else:
        ax.set_ylim(0, max(positive, default=1.0) * 1.25)
    ax.set_ylabel(_units(rows))
    ax.set_title(FAILOVER_TITLE, fontsize=11)
    _legend(ax)
    _save(figure, path)


# --- all outputs ---------------------------------------------------------------------------------


def write_outputs(
    comparisons: Sequence[Comparison],
    machine: Mapping[str, str],
    versions: Mapping[str, str],
    settings: Mapping[str, str],
    quick: bool,
    *,
    doc: Path,
    results: Path,
    images: Path,
) -> dict[str, Path]:
    """Write the plots into ``images``, the ``results`` JSON and the section of ``doc``.

    A plot whose group has no comparisons is not drawn. Returns what was written, keyed
    ``throughput_plot``, ``failover_plot``, ``results`` and ``doc``.
    """
    workloads_json(comparisons)  # duplicate names fail here, before any file is written
    plotters = (
        ("throughput", THROUGHPUT_PNG, THROUGHPUT_TITLE, plot_throughput),
        ("failover", FAILOVER_PNG, FAILOVER_TITLE, plot_failover),
    )
    drawn = [
        (f"{group}_plot", images / filename, title, plot)
        for group, filename, title, plot in plotters
        if any(c.group == group for c in comparisons)
    ]
    links = {
        title: Path(os.path.relpath(image, doc.parent)).as_posix() for _, image, title, _ in drawn
    }
    section = render_section(comparisons, machine, versions, settings, links, quick)
    page = replace_section(doc.read_text("utf-8") if doc.exists() else None, section)

    written: dict[str, Path] = {}
    for key, image, _, plot in drawn:
        plot(comparisons, image)
        written[key] = image
    update_results(results, comparisons, machine, versions, settings, quick)
    written["results"] = results
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(page, "utf-8")
    written["doc"] = doc
    return written
