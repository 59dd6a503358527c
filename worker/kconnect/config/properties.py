"""A reader for Java `.properties` files, as Kafka's example configs are written.

It follows `java.util.Properties.load`: `#` and `!` comments, `=`, `:` or white space between key
and value, backslash line continuations, and the escapes `\\t \\n \\r \\f \\uXXXX`, where a UTF-16
surrogate pair (`\\uD83D\\uDE00`) is the one character it encodes, as in Java. A malformed escape,
or half a surrogate pair, is an error that names the file and line.
"""

from __future__ import annotations

import re

from kconnect.errors import ConfigError

_LOW_SURROGATE = re.compile(r"\\u[dD][c-fC-F][0-9a-fA-F]{2}")
_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}


def parse_properties(text: str, source: str = "<string>") -> dict[str, str]:
    props: dict[str, str] = {}
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line_no = i + 1
        logical = lines[i].lstrip(" \t\f")
        i += 1
        if not logical or logical[0] in "#!":
            continue
        # A line that ends in an odd number of backslashes continues on the next one.
        while _continues(logical) and i < len(lines):
            logical = logical[:-1] + lines[i].lstrip(" \t\f")
            i += 1
        if _continues(logical):
            logical = logical[:-1]
        key, value = _split(logical)
        props[_unescape(key, source, line_no)] = _unescape(value, source, line_no)
    return props


def _continues(line: str) -> bool:
    count = len(line) - len(line.rstrip("\\"))
    return count % 2 == 1


def _split(line: str) -> tuple[str, str]:
    i = 0
    while i < len(line):
        c = line[i]
        if c == "\\":
            i += 2
            continue
        if c in "=: \t\f":
            break
        i += 1
    key = line[:i]
    rest = line[i:].lstrip(" \t\f")
    if rest[:1] in ("=", ":") and ((i < len(line) and line[i] in " \t\f") or True):
        if i < len(line) and line[i] in "=:":
            rest = line[i + 1 :].lstrip(" \t\f")
        elif rest[:1] in ("=", ":"):
            rest = rest[1:].lstrip(" \t\f")
    return key, rest


def _unescape(s: str, source: str, line_no: int) -> str:
    if "\\" not in s:
        return s
    out: list[str] = []
    i = 0
    while i < len(s):
        c = s[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        if i + 1 >= len(s):
            break
        n = s[i + 1]
        if n == "u":
            digits = s[i + 2 : i + 6]
            if len(digits) != 4 or any(d not in "0123456789abcdefABCDEF" for d in digits):
                raise ConfigError(
                    f"{source}:{line_no}: malformed \\uXXXX escape {s[i : i + 6]!r}; "
                    "expected four hexadecimal digits"
                )
            unit = int(digits, 16)
            i += 6
            if 0xD800 <= unit <= 0xDBFF and _LOW_SURROGATE.match(s, i):
                # A UTF-16 surrogate pair, as Java writes a character beyond U+FFFF.
                unit = 0x10000 + ((unit - 0xD800) << 10) + (int(s[i + 2 : i + 6], 16) - 0xDC00)
                i += 6
            elif 0xD800 <= unit <= 0xDFFF:
                raise ConfigError(
                    f"{source}:{line_no}: \\u{digits} is half of a UTF-16 surrogate pair, not a "
                    "character; write the pair (\\uD83D\\uDE00) or the character itself"
                )
            out.append(chr(unit))
            continue
        out.append(_ESCAPES.get(n, n))
        i += 2
    return "".join(out)
