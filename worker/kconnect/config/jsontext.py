"""Reading JSON that a user or a client wrote: REST bodies, connector `.json` files, offsets files.

Every way a document can be malformed is one `JsonTextError` with a message for people and the
line and column where reading stopped; nothing else escapes. That covers what Python's `json`
module lets through or fails on without a position:

- nesting deeper than `MAX_DEPTH` (the `json` module's C scanner fails with `RecursionError`
  some 50,000 levels down, after using the whole stack);
- integers of more than 4,300 digits (`json` fails with a `ValueError` that names no position);
- a `\\uXXXX` escape of half a UTF-16 surrogate pair (`"\\ud800"`): `json` gives a string that
  cannot be encoded as UTF-8, which fails later, wherever the value goes next (a Kafka record,
  a REST answer), long after the request was accepted;
- `NaN`, `Infinity` and `-Infinity`, which are not JSON.

A valid surrogate pair (`"\\ud83d\\ude00"`) is the one character it encodes, as in Java.

The reader is pydantic-core's (jiter), already a dependency: it checks all of the above in one
pass and reports every error with its position.
"""

from __future__ import annotations

import re
from typing import Final

from pydantic_core import from_json

MAX_DEPTH: Final = 200
"""jiter's limit on nested arrays and objects; Kafka Connect's configs need a handful."""

_POSITION: Final = re.compile(r"^(.*) at line (\d+) column (\d+)$", re.DOTALL)
_EXPLAINED: Final = {
    "recursion limit exceeded": f"arrays and objects nested more than {MAX_DEPTH} deep",
    "number out of range": "a number too large to read (over 4,300 digits)",
    "lone leading surrogate in hex escape": (
        "a \\uXXXX escape of half a UTF-16 surrogate pair, which is not a character"
    ),
    "unexpected end of hex escape": (
        "a \\uXXXX escape of half a UTF-16 surrogate pair, which is not a character"
    ),
    "invalid escape": "an invalid escape in a string",
    "expected value": "expected a JSON value",
}


class JsonTextError(ValueError):
    """A document that is not acceptable JSON: what is wrong (`reason`) and where."""

    def __init__(self, reason: str, line: int, column: int) -> None:
        super().__init__(f"{reason} at line {line}, column {column}")
        self.reason = reason
        self.line = line
        self.column = column


def loads(text: str | bytes) -> object:
    """The value of a JSON document, or `JsonTextError`. Bytes must be UTF-8."""
    try:
        return from_json(text, allow_inf_nan=False)
    except ValueError as e:
        raise _describe(str(e), text) from None


def _describe(message: str, text: str | bytes) -> JsonTextError:
    match = _POSITION.match(message)
    if match is None:
        return JsonTextError(message, 1, 1)
    reason, line, column = match.group(1), int(match.group(2)), max(int(match.group(3)), 1)
    explained = _EXPLAINED.get(reason, reason)
    if reason == "expected value":
        found = _token_at(text, line, column)
        if found:
            explained = f"{explained}, found {found!r}"
    return JsonTextError(explained, line, column)


def _token_at(text: str | bytes, line: int, column: int) -> str:
    """The word at (line, column), such as `NaN`, at most 20 characters; '' if none."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    lines = text.split("\n")
    if not 0 < line <= len(lines):
        return ""
    word = re.match(r"[^\s,:\[\]{}\"]{1,20}", lines[line - 1][column - 1 :])
    return word.group(0) if word else ""
