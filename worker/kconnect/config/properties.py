"""Java `.properties` text: the one reader and the one writer of kconnect.

Both follow `java.util.Properties` through the `javaproperties` library, which implements Java's
rules: `#` and `!` comments, `=`, `:` or white space (space, tab, form feed) between key and
value, only `\\n`, `\\r` and `\\r\\n` ending a line (a form feed or U+2028 inside a line is
text), backslash line continuations, the escapes `\\t \\n \\r \\f \\uXXXX`, and a UTF-16
surrogate pair (`\\uD83D\\uDE00`) read as the one character it encodes.

Invariants:
- **What `format_properties` writes, `parse_properties` and Java's `Properties.load` read back
  unchanged**, for any keys and values: the writer escapes as `Properties.store` does (`=`, `:`,
  `#`, `!`, spaces in keys and leading spaces in values, control characters), and writes every
  character outside printable ASCII as `\\uXXXX` (a pair for one beyond U+FFFF), so the text is
  ASCII and reads the same as UTF-8 or as Latin-1, the encoding `Properties.load(InputStream)` uses.
- **A malformed file is an error that names the file and line** where its entry starts: a
  `\\u` escape without four hexadecimal digits, or half a surrogate pair, which Java would keep as
  a lone UTF-16 unit but no Python text can hold usefully. Nothing of the file's content beyond
  the bad escape is quoted.
- Later keys win, as in Java.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import javaproperties

from kconnect.errors import ConfigError

_LINE_END = re.compile(r"\r\n|\r|\n")
"""What ends a line for `Properties.load`; `str.splitlines` would also split at `\\f`, U+2028..."""

_SURROGATE = re.compile("[\ud800-\udfff]")


def parse_properties(text: str, source: str = "<string>") -> dict[str, str]:
    """The keys and values of `text`; `source` names it in errors (`w.properties:3: ...`)."""
    props: dict[str, str] = {}
    line_no = 1
    elements = javaproperties.parse(text)
    while True:
        try:
            element = next(elements)
        except StopIteration:
            return props
        except javaproperties.InvalidUEscapeError as e:
            raise ConfigError(
                f"{source}:{_bad_line(text, line_no)}: malformed \\uXXXX escape {e.escape!r}; "
                "expected four hexadecimal digits"
            ) from None
        if isinstance(element, javaproperties.KeyValue):
            for part in (element.key, element.value):
                if _SURROGATE.search(part):
                    raise ConfigError(
                        f"{source}:{line_no}: half of a UTF-16 surrogate pair, not a character; "
                        "write the pair (\\uD83D\\uDE00) or the character itself"
                    )
            props[element.key] = element.value
        line_no += len(_LINE_END.findall(element.source))


def _bad_line(text: str, first: int) -> int:
    """The line of the first malformed `\\u` escape at or after line `first` (where the entry
    that failed starts), counting a continued line's later lines too."""
    lines = _LINE_END.split(text)
    for n in range(first, len(lines) + 1):
        if re.search(r"\\u(?![0-9a-fA-F]{4})", lines[n - 1].replace("\\\\", "")):
            return n
    return first


def format_properties(props: Mapping[str, str]) -> str:
    """`props` as `.properties` text, keys sorted, one `key=value` line each, no comments."""
    for key, value in props.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError(
                f"property {key!r}: expected a str key and a str value, got a "
                f"{type(key).__name__} and a {type(value).__name__}"
            )
    return javaproperties.dumps(props, timestamp=False, sort_keys=True, ensure_ascii=True)
