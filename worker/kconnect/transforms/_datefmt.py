"""Java `SimpleDateFormat` patterns, read into a formatter and parser that work in UTC.

Kafka Connect's `TimestampConverter` and `TimestampRouter` take their `format` and
`timestamp.format` as `java.text.SimpleDateFormat` patterns, and always in the UTC time zone.
Users copy those patterns from working Java configs, so this module reads the same pattern
language and gives the same text for the same instant, rather than asking for `strftime` codes.

What is kept:

- Pattern syntax as in Java: a run of one ASCII letter is a field, its length the field's width;
  text in single quotes is literal, and `''` is a single quote inside or outside quotes; any
  other character is literal. A letter Java doesn't know is rejected as Java rejects it
  (`Illegal pattern character`), and so is an unterminated quote.
- Formatting of the letters `G y M L d D F E u a H k K h m s S z Z X` as Java does in an
  English locale and UTC: `yy` is the last two digits of the year, `M`/`MM` a number and
  `MMM`/`MMMM` the short/full month name, `S` the milliseconds (not a fraction: `SSSS` is
  `0123`), `z` is `UTC` (`zzzz`: `Coordinated Universal Time`), `Z` is `+0000`, `X` is `Z`.
- Parsing as Java's lenient parser does: spaces and tabs before a field are skipped; a number
  takes as many digits as are there, except that a number directly followed by another number
  field takes at most its pattern width (`yyyyMMdd`); out-of-range values roll over (month 13 is
  January of the next year); fields not in the pattern default to 1970-01-01T00:00:00.000Z; a
  two-digit year for `y`/`yy` falls in the 100 years starting 80 years before the formatter was
  made; month and day names match in any case, full or short; text after the pattern is
  ignored, as `DateFormat.parse(String)` ignores it.

What is not, and fails loudly instead: the week-based letters `Y`, `w` and `W` depend on a
locale's first day of the week, so a pattern that uses them is refused (with a hint that `yyyy`
is the calendar year); time zone names other than UTC and GMT are not recognised when parsing;
instants before year 1 or after year 9999 cannot be formatted or parsed; dates before the
Gregorian reform of 1582 are proleptic Gregorian here, where Java switches to the Julian
calendar.

`compile_pattern` raises `PatternError` (a `ValueError`) naming the problem; the caller turns it
into a `ConfigError` naming its key. `DateFormat.parse` raises `PatternError` for text that
doesn't match, and `DateFormat.format` raises `PatternError` for an instant it can't represent.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
_EPOCH_ORDINAL = _dt.date(1970, 1, 1).toordinal()
_MS_PER_DAY = 86_400_000

_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_SHORT_MONTHS = tuple(m[:3] for m in _MONTHS)
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_SHORT_DAYS = tuple(d[:3] for d in _DAYS)

JAVA_LETTERS = frozenset("GyYMLwWDdFEuaHkKhmsSzZX")
"""Every letter `SimpleDateFormat` accepts."""
SUPPORTED_LETTERS = frozenset("GyMLdDFEuaHkKhmsSzZX")
"""The letters formatted and parsed here."""

_NUMERIC = frozenset("yMLdDFuHkKhmsS")
_UTC_NAMES = ("Coordinated Universal Time", "Greenwich Mean Time", "UTC", "GMT")


class PatternError(ValueError):
    """A pattern that can't be compiled, text that doesn't match it, or an unformattable instant."""


@dataclass(frozen=True, slots=True)
class _Field:
    letter: str
    width: int

    @property
    def numeric(self) -> bool:
        return self.letter in _NUMERIC and not (self.letter in "ML" and self.width >= 3)


_Token = _Field | str


def compile_pattern(pattern: str) -> DateFormat:
    """The formatter for a `SimpleDateFormat` pattern, or `PatternError` saying what is wrong."""
    tokens: list[_Token] = []

    def literal(text: str) -> None:
        if tokens and isinstance(tokens[-1], str):
            tokens[-1] += text
        else:
            tokens.append(text)

    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "'":
            if i + 1 < n and pattern[i + 1] == "'":
                literal("'")
                i += 2
                continue
            j = i + 1
            quoted: list[str] = []
            while True:
                if j >= n:
                    raise PatternError(f"Unterminated quote in pattern {pattern!r}")
                if pattern[j] == "'":
                    if j + 1 < n and pattern[j + 1] == "'":
                        quoted.append("'")
                        j += 2
                        continue
                    break
                quoted.append(pattern[j])
                j += 1
            literal("".join(quoted))
            i = j + 1
        elif c.isascii() and c.isalpha():
            if c not in JAVA_LETTERS:
                raise PatternError(f"Illegal pattern character '{c}' in pattern {pattern!r}")
            if c not in SUPPORTED_LETTERS:
                hint = " (use 'y' for the calendar year)" if c == "Y" else ""
                raise PatternError(
                    f"pattern letter '{c}' in {pattern!r} is not supported: week-based fields "
                    f"depend on the locale's first day of the week{hint}"
                )
            j = i
            while j < n and pattern[j] == c:
                j += 1
            if c == "X" and j - i > 3:
                raise PatternError(f"invalid ISO 8601 zone 'X' of length {j - i} in {pattern!r}")
            tokens.append(_Field(c, j - i))
            i = j
        else:
            literal(c)
            i += 1
    century_start = _dt.datetime.now(_dt.UTC).year - 80
    return DateFormat(pattern, tuple(tokens), century_start)


def _pad(value: int, width: int) -> str:
    return str(value).zfill(width)


@dataclass(frozen=True)
class DateFormat:
    """A compiled pattern. `format` and `parse` work in milliseconds since the epoch, UTC."""

    pattern: str
    tokens: tuple[_Token, ...]
    century_start_year: int
    """Two-digit years are read into the 100 years starting here (Java: now minus 80 years)."""

    def format(self, millis: int) -> str:
        try:
            t = _EPOCH + _dt.timedelta(milliseconds=millis)
        except OverflowError:
            raise PatternError(
                f"timestamp {millis} is outside the years 1 to 9999 that can be formatted"
            ) from None
        return "".join(
            token if isinstance(token, str) else _format_field(token, t) for token in self.tokens
        )

    def parse(self, text: str) -> int:
        """Milliseconds since the epoch for `text`, read leniently as Java does."""
        fields = _Parsed()
        pos = 0
        for i, token in enumerate(self.tokens):
            if isinstance(token, str):
                if not text.startswith(token, pos):
                    raise self._mismatch(text)
                pos += len(token)
                continue
            while pos < len(text) and text[pos] in " \t":
                pos += 1
            following = self.tokens[i + 1] if i + 1 < len(self.tokens) else None
            obey_width = isinstance(following, _Field) and following.numeric
            end = self._parse_field(token, text, pos, obey_width, fields)
            if end < 0:
                raise self._mismatch(text)
            pos = end
        return fields.millis(text, self.pattern)

    def _mismatch(self, text: str) -> PatternError:
        return PatternError(f"value ({text}) does not match pattern ({self.pattern})")

    def _parse_field(
        self, field: _Field, text: str, pos: int, obey_width: bool, out: _Parsed
    ) -> int:
        """Where the field ends in `text` (recording its value in `out`), or -1."""
        letter = field.letter
        if field.numeric:
            limit = min(len(text), pos + field.width) if obey_width else len(text)
            end = pos
            while end < limit and text[end].isascii() and text[end].isdigit():
                end += 1
            if end == pos:
                return -1
            value = int(text[pos:end])
            if letter == "y":
                if field.width <= 2 and end - pos == 2:
                    value = self._two_digit_year(value)
                out.year = value
            elif letter in "ML":
                out.month = value
            elif letter == "d":
                out.day = value
            elif letter == "D":
                out.day_of_year = value
            elif letter in "Hk":
                out.hour_of_day = 0 if letter == "k" and value == 24 else value
                out.hour_of_day_last = True
            elif letter in "hK":
                out.hour = 0 if letter == "h" and value == 12 else value
                out.hour_of_day_last = False
            elif letter == "m":
                out.minute = value
            elif letter == "s":
                out.second = value
            elif letter == "S":
                out.millisecond = value
            # 'F' and 'u' are read but, as in Java, don't decide the date.
            return end
        if letter in "ML":
            found = _match_name(text, pos, _MONTHS + _SHORT_MONTHS)
            if found is None:
                return -1
            index, end = found
            out.month = index % 12 + 1
            return end
        if letter == "E":
            found = _match_name(text, pos, _DAYS + _SHORT_DAYS)
            return -1 if found is None else found[1]
        if letter == "a":
            found = _match_name(text, pos, ("AM", "PM"))
            if found is None:
                return -1
            out.pm = found[0] == 1
            return found[1]
        if letter == "G":
            found = _match_name(text, pos, ("AD", "BC"))
            if found is None:
                return -1
            out.bc = found[0] == 1
            return found[1]
        return _parse_zone(field, text, pos, out)

    def _two_digit_year(self, value: int) -> int:
        start = self.century_start_year
        return (start // 100) * 100 + value + (100 if value < start % 100 else 0)


def _format_field(field: _Field, t: _dt.datetime) -> str:
    letter, width = field.letter, field.width
    if letter == "G":
        return "AD"
    if letter == "y":
        return _pad(t.year % 100, 2) if width == 2 else _pad(t.year, width)
    if letter in "ML":
        if width >= 4:
            return _MONTHS[t.month - 1]
        if width == 3:
            return _SHORT_MONTHS[t.month - 1]
        return _pad(t.month, width)
    if letter == "d":
        return _pad(t.day, width)
    if letter == "D":
        return _pad(t.timetuple().tm_yday, width)
    if letter == "F":
        return _pad((t.day - 1) // 7 + 1, width)
    if letter == "E":
        return _DAYS[t.weekday()] if width >= 4 else _SHORT_DAYS[t.weekday()]
    if letter == "u":
        return _pad(t.isoweekday(), width)
    if letter == "a":
        return "AM" if t.hour < 12 else "PM"
    if letter == "H":
        return _pad(t.hour, width)
    if letter == "k":
        return _pad(t.hour or 24, width)
    if letter == "K":
        return _pad(t.hour % 12, width)
    if letter == "h":
        return _pad(t.hour % 12 or 12, width)
    if letter == "m":
        return _pad(t.minute, width)
    if letter == "s":
        return _pad(t.second, width)
    if letter == "S":
        return _pad(t.microsecond // 1000, width)
    if letter == "z":
        return "Coordinated Universal Time" if width >= 4 else "UTC"
    if letter == "Z":
        return "+0000"
    return "Z"  # 'X': the ISO 8601 zone of UTC, whatever the width


def _match_name(text: str, pos: int, names: tuple[str, ...]) -> tuple[int, int] | None:
    """(index in `names`, end) of the longest name at `pos`, compared without case."""
    best: tuple[int, int] | None = None
    for index, name in enumerate(names):
        if text[pos : pos + len(name)].lower() == name.lower() and (
            best is None or len(name) > best[1] - pos
        ):
            best = (index, pos + len(name))
    return best


def _parse_zone(field: _Field, text: str, pos: int, out: _Parsed) -> int:
    if pos >= len(text):
        return -1
    c = text[pos]
    if field.letter == "X":
        if c == "Z":
            out.offset_minutes = 0
            return pos + 1
        if c not in "+-":
            return -1
        return _numeric_zone(text, pos + 1, c, field.width, field.width == 3, out)
    if c in "+-":
        return _numeric_zone(text, pos + 1, c, 0, False, out)
    if text[pos : pos + 3].casefold() == "gmt" and pos + 3 < len(text) and text[pos + 3] in "+-":
        return _numeric_zone(text, pos + 4, text[pos + 3], 0, True, out)
    found = _match_name(text, pos, _UTC_NAMES)
    if found is None:
        return -1
    out.offset_minutes = 0
    return found[1]


def _numeric_zone(text: str, pos: int, sign: str, width: int, colon: bool, out: _Parsed) -> int:
    """`hh[[:]mm]` after the sign, as Java reads RFC 822, `GMT+h:mm` and ISO 8601 offsets."""

    def digit(at: int) -> int | None:
        return int(text[at]) if at < len(text) and text[at] in "0123456789" else None

    first = digit(pos)
    if first is None:
        return -1
    hours, end = first, pos + 1
    second = digit(end)
    if second is not None:
        hours, end = hours * 10 + second, end + 1
    elif width > 0 or not colon:
        return -1
    if hours > 23:
        return -1
    minutes = 0
    if width != 1:
        if colon:
            if end >= len(text) or text[end] != ":":
                return -1
            end += 1
        tens, ones = digit(end), digit(end + 1)
        if tens is None or ones is None:
            return -1
        minutes = tens * 10 + ones
        end += 2
        if minutes > 59:
            return -1
    total = hours * 60 + minutes
    out.offset_minutes = -total if sign == "-" else total
    return end


class _Parsed:
    """The fields read from a text so far; what isn't read keeps Java's default."""

    __slots__ = (
        "bc",
        "day",
        "day_of_year",
        "hour",
        "hour_of_day",
        "hour_of_day_last",
        "millisecond",
        "minute",
        "month",
        "offset_minutes",
        "pm",
        "second",
        "year",
    )

    def __init__(self) -> None:
        self.year = 1970
        self.month: int | None = None
        self.day: int | None = None
        self.day_of_year: int | None = None
        self.hour_of_day: int | None = None
        self.hour: int | None = None
        self.hour_of_day_last = True
        self.pm = False
        self.minute = 0
        self.second = 0
        self.millisecond = 0
        self.offset_minutes = 0
        self.bc = False

    def millis(self, text: str, pattern: str) -> int:
        """The instant, with out-of-range fields rolled over as Java's lenient calendar does."""
        year = 1 - self.year if self.bc else self.year
        try:
            if self.day_of_year is not None and self.month is None and self.day is None:
                ordinal = _dt.date(year, 1, 1).toordinal() + self.day_of_year - 1
            else:
                month = self.month if self.month is not None else 1
                year += (month - 1) // 12
                month = (month - 1) % 12 + 1
                day = self.day if self.day is not None else 1
                ordinal = _dt.date(year, month, 1).toordinal() + day - 1
        except ValueError:
            raise PatternError(
                f"value ({text}) matches pattern ({pattern}) but its year {year} is outside "
                "the years 1 to 9999"
            ) from None
        if self.hour_of_day is not None and (self.hour_of_day_last or self.hour is None):
            hour = self.hour_of_day
        else:
            hour = (self.hour or 0) + (12 if self.pm else 0)
        days = ordinal - _EPOCH_ORDINAL
        return (
            days * _MS_PER_DAY
            + ((hour * 60 + self.minute - self.offset_minutes) * 60 + self.second) * 1000
            + self.millisecond
        )
