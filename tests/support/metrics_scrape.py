"""Reading a worker's `/metrics`: every sample of the text exposition (format 0.0.4), its shape
checked on the way, keyed by name and labels."""

from __future__ import annotations

import re
import urllib.request

_SAMPLE = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)')

Series = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse_exposition(text: str) -> Series:
    """Every sample of a text-format 0.0.4 exposition, checking its shape on the way: each
    family has HELP then TYPE, and its samples follow them under its name."""
    series: Series = {}
    family = kind = ""
    for line in text.splitlines():
        if line.startswith("# HELP "):
            family = line.split(" ", 3)[2]
            kind = ""
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert name == family, line
            assert kind in ("counter", "gauge", "summary"), line
            continue
        match = _SAMPLE.fullmatch(line)
        assert match is not None, f"not a sample line: {line!r}"
        name, labels, value = match.groups()
        allowed = {family, f"{family}_sum", f"{family}_count"} if kind == "summary" else {family}
        assert kind, f"{line!r} before its family's TYPE"
        assert name in allowed, f"{line!r} outside its family {family!r}"
        pairs = frozenset(_LABEL.findall(labels or ""))
        key = (name, pairs)
        assert key not in series, f"duplicate series {line!r}"
        series[key] = float(value)
    return series


def scrape(url: str) -> tuple[str, Series]:
    with urllib.request.urlopen(url + "/metrics", timeout=30) as resp:
        assert resp.status == 200
        return resp.headers["Content-Type"], parse_exposition(resp.read().decode())


def value(series: Series, name: str, **labels: str) -> float | None:
    return series.get((name, frozenset(labels.items())))
