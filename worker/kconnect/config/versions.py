"""Plugin version requirements (KIP-891), written as Kafka Connect 4.1 writes them.

A requirement is Maven's version specification, as `VersionRange.createFromVersionSpec` reads it:

- `1.0`: that version exactly (Kafka Connect reads a bare version as `[1.0]`);
- `[1.0,2.0)`, `(1.0,2.0]`, `[1.0,)`, `(,2.0]`, `[1.0]`: a range, `[`/`]` inclusive and `(`/`)`
  exclusive; several ranges separated by commas are a union (`(,1.0],[1.2,)`);
- `latest`, or no requirement: any version.

Versions compare as Maven's do in the common cases: split on `.` and `-`, numeric parts as
numbers, a numeric part above a textual one, missing parts as zero (`1.0` equals `1.0.0`).
Anything else is a `VersionSpecError` naming the text, as Kafka Connect's "Invalid version
specification".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

LATEST: Final = "latest"

_PART: Final = re.compile(r"[.\-]")


class VersionSpecError(ValueError):
    """A requirement that is not a version or a range."""


def _key(version: str) -> tuple[tuple[int, int | str], ...]:
    parts: list[tuple[int, int | str]] = []
    for part in _PART.split(version.strip()):
        if part.isdigit():
            parts.append((1, int(part)))
        elif part:
            parts.append((0, part.lower()))
    while parts and parts[-1] == (1, 0):
        parts.pop()
    return tuple(parts)


@dataclass(frozen=True)
class _Restriction:
    lower: str | None
    lower_inclusive: bool
    upper: str | None
    upper_inclusive: bool

    def contains(self, version: str) -> bool:
        key = _key(version)
        if self.lower is not None:
            low = _key(self.lower)
            if key < low or (key == low and not self.lower_inclusive):
                return False
        if self.upper is not None:
            high = _key(self.upper)
            if key > high or (key == high and not self.upper_inclusive):
                return False
        return True


@dataclass(frozen=True)
class VersionRange:
    """A parsed requirement; no restrictions means any version."""

    spec: str
    restrictions: tuple[_Restriction, ...]

    def contains(self, version: str) -> bool:
        return not self.restrictions or any(r.contains(version) for r in self.restrictions)


_RANGE: Final = re.compile(r"\s*([\[(])([^\[\]()]*)([\])])\s*(?:,|$)")
_BARE: Final = re.compile(r"[0-9A-Za-z][0-9A-Za-z.\-_+]*")


def parse_requirement(spec: str | None) -> VersionRange | None:
    """The requirement `spec` states; None for none (absent, empty or `latest`)."""
    if spec is None or not spec.strip() or spec.strip() == LATEST:
        return None
    text = spec.strip()
    if text[0] not in "[(":
        if not _BARE.fullmatch(text):
            raise VersionSpecError(f"Invalid version specification: {spec}")
        return VersionRange(text, (_Restriction(text, True, text, True),))
    restrictions: list[_Restriction] = []
    pos = 0
    while pos < len(text):
        match = _RANGE.match(text, pos)
        if match is None:
            raise VersionSpecError(f"Invalid version specification: {spec}")
        opening, body, closing = match.groups()
        restrictions.append(_restriction(spec, opening, body, closing))
        pos = match.end()
    return VersionRange(text, tuple(restrictions))


def _restriction(spec: str, opening: str, body: str, closing: str) -> _Restriction:
    bad = VersionSpecError(f"Invalid version specification: {spec}")
    if "," not in body:
        version = body.strip()
        if opening != "[" or closing != "]" or not _BARE.fullmatch(version):
            raise bad
        return _Restriction(version, True, version, True)
    low_text, _, high_text = body.partition(",")
    if "," in high_text:
        raise bad
    low, high = low_text.strip() or None, high_text.strip() or None
    for bound in (low, high):
        if bound is not None and not _BARE.fullmatch(bound):
            raise bad
    if low is None and high is None:
        raise bad
    if low is not None and high is not None and _key(high) < _key(low):
        raise bad
    return _Restriction(low, opening == "[", high, closing == "]")
