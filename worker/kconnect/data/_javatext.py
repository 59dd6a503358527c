"""Numbers and values written the way the JVM writes them.

Kafka Connect's wire formats are produced by Java: Jackson writes a `double` with
`Double.toString` and a `float` with `Float.toString`, and `Struct.toString` or
`Values.convertToString` print values with Java's `toString`. Matching those bytes exactly is
what lets a Java consumer and a kconnect consumer read each other's records and compare them.

Floating point text follows the JDK 19+ specification of `Double.toString` / `Float.toString`
(the shortest decimal that rounds back to the value, the closest such one on a tie, and at
least two digits considered when one would do). Older JDKs sometimes printed a longer digit
string for the same value; the value read back is identical either way.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import importlib
import math
import re
import struct
import time as _time
from collections.abc import Callable, Mapping
from json.encoder import encode_basestring as _c_encode_basestring
from typing import Any, Final, Protocol, cast

ESCAPE_FIX: Final = re.compile(r"\\\\|\\u00[01][0-9a-f]")
"""The escapes Python writes in lower case (`\\u001f`) that Jackson writes in upper case."""


def upper_escape(m: re.Match[str]) -> str:
    s = m.group()
    return s if s == "\\\\" else "\\u00" + s[4:].upper()


def jackson_str(s: str) -> str:
    """A JSON string literal as Jackson writes it: `"`, `\\` and control characters escaped
    (`\\b \\t \\n \\f \\r`, else `\\u00XX` in upper-case hex), everything else literal."""
    out: str = _c_encode_basestring(s)
    if "\\u" in out:
        out = ESCAPE_FIX.sub(upper_escape, out)
    return out


_F32 = struct.Struct(">f")
_MIN_NORMAL_F64 = 2.2250738585072014e-308
_MIN_NORMAL_F32 = 1.1754943508222875e-38


def to_float32(x: float) -> float:
    """`x` rounded to the nearest IEEE single, as Java's `(float) x`; OverflowError if too big."""
    return float(_F32.unpack(_F32.pack(x))[0])


def _digits_exp(text: str) -> tuple[str, int]:
    """Significant digits and the decimal exponent E of `text` (value = d.ddd x 10^E), unsigned."""
    mantissa, _, exp_text = text.partition("e")
    int_part, _, frac = mantissa.partition(".")
    all_digits = int_part + frac
    stripped = all_digits.lstrip("0")
    exp = len(int_part) - 1 - (len(all_digits) - len(stripped))
    if exp_text:
        exp += int(exp_text)
    return (stripped.rstrip("0") or "0"), exp


def _java_layout(negative: bool, digits: str, exp: int, plain: bool) -> str:
    sign = "-" if negative else ""
    if plain:
        if exp >= 0:
            int_part = digits[: exp + 1].ljust(exp + 1, "0")
            frac = digits[exp + 1 :] or "0"
            return f"{sign}{int_part}.{frac}"
        return f"{sign}0.{'0' * (-exp - 1)}{digits}"
    return f"{sign}{digits[0]}.{digits[1:] or '0'}E{exp}"


def _same_float32(text: str, a: float) -> bool:
    try:
        return to_float32(float(text)) == a
    except OverflowError:
        return False


def _special(x: float) -> str | None:
    if math.isnan(x):
        return "NaN"
    if x == math.inf:
        return "Infinity"
    if x == -math.inf:
        return "-Infinity"
    if x == 0.0:
        return "-0.0" if math.copysign(1.0, x) < 0 else "0.0"
    return None


def java_double_str(x: float) -> str:
    """Java's `Double.toString(x)`: `1.0E10`, `0.001`, `12.5`, `NaN`, `-Infinity`."""
    r = repr(x)
    a = abs(x)
    if 1e-3 <= a < 1e7 and "e" not in r:
        return r  # Python's repr and Java agree on this range: shortest digits, plain layout.
    special = _special(x)
    if special is not None:
        return special
    digits, exp = _digits_exp(r.lstrip("-"))
    if len(digits) == 1 and a < _MIN_NORMAL_F64:
        # Java considers two-digit decimals when one digit would do, and takes the closer one;
        # this can only differ for subnormals (Double.MIN_VALUE is "4.9E-324", not "5E-324").
        two = f"{a:.1e}"
        if float(two) == a:
            digits, exp = _digits_exp(two)
    return _java_layout(x < 0, digits, exp, 1e-3 <= a < 1e7)


def java_float_str(x: float) -> str:
    """Java's `Float.toString((float) x)`: `0.1` for 0.1f, `1.0E10`, `3.4028235E38`."""
    f = to_float32(x)
    special = _special(f)
    if special is not None:
        return special
    a = abs(f)
    text = ""
    for precision in range(9):  # nine significant digits always identify a float
        text = f"{a:.{precision}e}"
        if _same_float32(text, a):
            break
    digits, exp = _digits_exp(text)
    if len(digits) == 1 and a < _MIN_NORMAL_F32:
        two = f"{a:.1e}"
        if _same_float32(two, a):
            digits, exp = _digits_exp(two)
    return _java_layout(f < 0, digits, exp, 1e-3 <= a < 1e7)


def java_decimal_str(value: decimal.Decimal) -> str:
    """Java's `BigDecimal.toString()`; Python's `str` follows the same specification."""
    return str(value)


def _format_time(t: _dt.time) -> str:
    return f"{t.hour:02d}:{t.minute:02d}:{t.second:02d}.{t.microsecond // 1000:03d}Z"


_DAYS: Final = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS: Final = (
    "",
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
)
_EPOCH_DAY: Final = _dt.date(1970, 1, 1)
# Read once, as the JVM reads its default zone once at start.
_LOCAL_ZONE_IS_UTC: Final = _time.timezone == 0 and (not _time.daylight or _time.altzone == 0)
_LOCAL_ZONE_NAME: Final = _time.tzname[0]


def java_date_text(value: _dt.datetime | _dt.date | _dt.time) -> str:
    """A Connect Timestamp, Date or Time as Java's `java.util.Date.toString` prints it (which is
    what `Struct.toString` and `println` give): `EEE MMM dd HH:mm:ss zzz yyyy` in the process's
    time zone (Java's default zone comes from the same `TZ` and /etc/localtime; UTC in a
    container). A Date is midnight UTC of its day, a Time that moment of 1970-01-01 UTC; a naive
    datetime is taken as UTC."""
    if isinstance(value, _dt.datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=_dt.UTC)
    elif isinstance(value, _dt.date):
        moment = _dt.datetime(value.year, value.month, value.day, tzinfo=_dt.UTC)
    else:
        moment = _dt.datetime.combine(_EPOCH_DAY, value.replace(tzinfo=None), _dt.UTC)
    if _LOCAL_ZONE_IS_UTC:  # the usual case, and a container's: no zone database look-up
        local = moment if moment.tzinfo is _dt.UTC else moment.astimezone(_dt.UTC)
        zone = _LOCAL_ZONE_NAME
    else:
        local = moment.astimezone()
        zone = local.tzname() or ""
    return (
        f"{_DAYS[local.weekday()]} {_MONTHS[local.month]} {local.day:02d} "
        f"{local.hour:02d}:{local.minute:02d}:{local.second:02d} {zone} {local.year}"
    )


def timestamp_text(value: _dt.datetime) -> str:
    """`java_to_string` of a timestamp, `yyyy-MM-ddTHH:mm:ss.SSSZ` in UTC, by the C formatter
    when it is already in UTC (or naive, which is taken as UTC)."""
    tz = value.tzinfo
    if tz is None or tz is _dt.UTC:
        return value.isoformat(timespec="milliseconds")[:23] + "Z"
    utc = value.astimezone(_dt.UTC)
    return utc.isoformat(timespec="milliseconds")[:23] + "Z"


def java_to_string(value: object, *, embedded: bool = False) -> str:
    """A value as Kafka Connect's `Values.convertToString` prints it.

    Strings stay as they are at the top level and are quoted (with `\\` and `"` escaped) inside
    lists, maps and structs; `None` is `null`; bytes are base64; lists are `[a,b]`, maps and
    structs `{"k":v}`; dates `yyyy-MM-dd`, times `HH:mm:ss.SSSZ`, timestamps
    `yyyy-MM-ddTHH:mm:ss.SSSZ` in UTC. Floats are printed as Java doubles.
    """
    from kconnect.data.schema import Struct  # noqa: PLC0415 - schema imports this module

    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        if embedded:
            return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return java_double_str(value)
    if isinstance(value, decimal.Decimal):
        return java_decimal_str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        import base64  # noqa: PLC0415

        text = base64.b64encode(bytes(value)).decode("ascii")
        return f'"{text}"' if embedded else text
    if isinstance(value, list | tuple):
        return "[" + ",".join(java_to_string(v, embedded=True) for v in value) + "]"
    if isinstance(value, Mapping):
        return (
            "{"
            + ",".join(
                java_to_string(k, embedded=True) + ":" + java_to_string(v, embedded=True)
                for k, v in value.items()
            )
            + "}"
        )
    if isinstance(value, Struct):
        return (
            "{"
            + ",".join(
                java_to_string(f.name, embedded=True)
                + ":"
                + java_to_string(value.get(f), embedded=True)
                for f in value.schema.fields
            )
            + "}"
        )
    if isinstance(value, _dt.datetime):
        return timestamp_text(value)
    if isinstance(value, _dt.date):
        return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"
    if isinstance(value, _dt.time):
        return _format_time(value)
    return str(value)


# --- Java's toString, as PrintStream.println(Object) writes a value ------------------------------


def java_text_py(value: object) -> str:
    """`value` as Java's `toString` spells it: null, true, [a, b], {k=v}; pure Python.

    This is the specification `kconnect.data._javatextc` follows. Bytes are decoded as UTF-8
    (Java would print an array's identity, which helps nobody); a Struct shows as its repr, which
    is Java's `Struct{a=1,b=x}`; a float as `Double.toString`.

    It runs per record, and schemaless values nest: the common types are tested by identity
    first, and a container formats its string members without a call.
    """
    if type(value) is str:
        return value
    if type(value) is dict:
        pairs = [
            (k if type(k) is str else java_text_py(k))
            + "="
            + (v if type(v) is str else java_text_py(v))
            for k, v in value.items()
        ]
        return "{" + ", ".join(pairs) + "}"
    if type(value) is list:
        return "[" + ", ".join([v if type(v) is str else java_text_py(v) for v in value]) + "]"
    if type(value) is int:
        return int.__repr__(value)
    return _spell_other(value, java_text_py)


def _spell_other(value: object, spell: Callable[[object], str]) -> str:
    """The types `java_text_py`'s fast path (and the native module) leave aside; `spell` spells
    members of containers."""
    if value is None:
        return "null"
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, float):
        return java_double_str(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join([spell(v) for v in value]) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join([f"{spell(k)}={spell(v)}" for k, v in value.items()]) + "}"
    if isinstance(value, _dt.datetime | _dt.date | _dt.time):
        return java_date_text(value)
    return str(value)


class _Native(Protocol):
    """`kconnect.data._javatextc`, built from `_javatextc.c` by hatch_build.py when it can be."""

    def java_text(self, other: Callable[[object], str], value: object, /) -> str: ...

    def java_lines(self, other: Callable[[object], str], values: list[object], /) -> str: ...

    def configure(
        self, struct_type: type, prefixes: Callable[[Any], tuple[str, ...]], zone: str | None, /
    ) -> None: ...


def _load_native() -> _Native | None:
    try:
        return cast(_Native, importlib.import_module("kconnect.data._javatextc"))
    except ImportError:
        return None


NATIVE: Final = _load_native()
_STRUCT: tuple[type, Callable[[Any], tuple[str, ...]]] | None = None


def register_struct(struct_type: type, prefixes: Callable[[Any], tuple[str, ...]]) -> None:
    """Let the native module spell `struct_type` (kconnect.data.schema.Struct, which imports
    this module) itself, with `prefixes(schema)` giving each field's `name=`."""
    global _STRUCT  # set once, by the module that defines Struct
    _STRUCT = (struct_type, prefixes)
    configure_native()


def configure_native() -> None:
    """Hand the native module the Struct type and, when the process's zone is UTC, its name (it
    spells dates itself only then); again after a test changes the zone."""
    if NATIVE is not None and _STRUCT is not None:
        NATIVE.configure(*_STRUCT, _LOCAL_ZONE_NAME if _LOCAL_ZONE_IS_UTC else None)


def _native_other(value: object) -> str:
    return _spell_other(value, java_text)


def java_text(value: object) -> str:
    """`java_text_py(value)`, from the native module when it is built."""
    if NATIVE is not None:
        return NATIVE.java_text(_native_other, value)
    return java_text_py(value)


def java_lines(values: list[object]) -> str:
    """Each value as `java_text` spells it, each followed by a newline: a batch of output lines."""
    if NATIVE is not None:
        return NATIVE.java_lines(_native_other, values)
    lines = [v if type(v) is str else java_text_py(v) for v in values]
    lines.append("")  # so that the join ends with a newline
    return "\n".join(lines)
