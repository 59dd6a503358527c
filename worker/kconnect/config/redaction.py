"""Putting config provider variables back into text the worker writes: traces and log lines.

The worker resolves `${provider:path:key}` variables only in memory, to start a connector or a
task. What it writes about them (a FAILED task's trace in the status topic and `/status`, its log
lines) is free text, often made by connector code or Python itself from the resolved value ("No
such file or directory: '/mnt/secret/path'"), so no message can be built from the config as
written there, as validation does. Instead, a `Redactor` knows each resolved value and the
variable it came from, and replaces the value with the variable wherever it shows up in text:

- as written, and as Python's `repr`, JSON (`\\uXXXX` or not) and `unicode_escape` would quote it,
  since messages quote values more often than they print them bare;
- without surrounding white space (a mounted Secret's file ends in a newline, which code strips);
- line by line, for a value of several lines (a file's content), which a message may quote in part.

A piece shorter than `MIN_LENGTH` characters is left alone: it cannot be told apart from any other
text of a trace (a "1" or a "true"), so values that short are not protected in free text.

`REDACTORS` holds the redactors of what runs in this process, by owner (the worker registers each
connector and task while it runs); `RedactingFilter`, on a log handler, applies all of them to
every line, its trace included.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Hashable, Iterable, Mapping
from typing import Final

from kconnect.config.providers import VARIABLE

MIN_LENGTH: Final = 4


def _forms(value: str) -> set[str]:
    """The ways a message may quote `value` (and its pieces)."""
    pieces = {value, value.strip()}
    pieces.update(line.strip() for line in value.splitlines())
    out: set[str] = set()
    for piece in pieces:
        if len(piece) < MIN_LENGTH:
            continue
        out.add(piece)
        out.add(repr(piece)[1:-1])
        out.add(json.dumps(piece)[1:-1])
        out.add(json.dumps(piece, ensure_ascii=False)[1:-1])
        out.add(piece.encode("unicode_escape").decode("ascii"))
    return {f for f in out if len(f) >= MIN_LENGTH}


def _variable_values(written: str, resolved: str) -> list[tuple[str, str]]:
    """(what it resolved to, the variable) for each variable of `written`, found by matching
    the text around the variables against `resolved`."""
    parts = VARIABLE.split(written)
    variables = [m.group(0) for m in VARIABLE.finditer(written)]
    if not variables:
        return []
    # VARIABLE has three groups: split() puts them between the literal texts.
    literals = parts[:: VARIABLE.groups + 1]
    pattern = "(.*?)".join(re.escape(lit) for lit in literals)
    match = re.fullmatch(pattern, resolved, re.DOTALL)
    if match is None:
        return []
    return [
        (value, variable)
        for value, variable in zip(match.groups(), variables, strict=True)
        if value != variable
    ]


class Redactor:
    """Replaces resolved values in text with the variables they were resolved from."""

    def __init__(self, pairs: Iterable[tuple[str, str]] = ()) -> None:
        self._by_form: dict[str, str] = {}
        for resolved, written in pairs:
            for form in _forms(resolved):
                self._by_form.setdefault(form, written)
        forms = sorted(self._by_form, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, forms))) if forms else None

    @classmethod
    def of(cls, written: Mapping[str, str], resolved: Mapping[str, str]) -> Redactor:
        """For a config as written and as resolved: each value a variable changed, and within
        it what each variable resolved to (`jdbc:...?password=${env:PW}`: the password alone)."""
        pairs: list[tuple[str, str]] = []
        for key, text in written.items():
            value = resolved.get(key, text)
            if value == text:
                continue
            pairs.append((value, text))
            pairs.extend(_variable_values(text, value))
        return cls(pairs)

    def pairs(self) -> list[tuple[str, str]]:
        return list(self._by_form.items())

    def __bool__(self) -> bool:
        return self._pattern is not None

    def __call__(self, text: str) -> str:
        if self._pattern is None:
            return text
        return self._pattern.sub(lambda m: self._by_form[m.group(0)], text)


class RedactorRegistry:
    """The redactors of what runs in this process, by owner; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owned: dict[Hashable, Redactor] = {}
        self._combined = Redactor()

    def register(self, owner: Hashable, redactor: Redactor) -> None:
        with self._lock:
            if redactor:
                self._owned[owner] = redactor
            else:
                self._owned.pop(owner, None)
            self._rebuild()

    def unregister(self, owner: Hashable) -> None:
        with self._lock:
            if self._owned.pop(owner, None) is not None:
                self._rebuild()

    def _rebuild(self) -> None:
        self._combined = Redactor(
            (form, written) for r in self._owned.values() for form, written in r.pairs()
        )

    def __call__(self, text: str) -> str:
        return self._combined(text)


REDACTORS: Final = RedactorRegistry()
"""This process's: the worker registers what it runs; `RedactingFilter` reads it."""


class RedactingFilter(logging.Filter):
    """Puts variables back into every record a handler writes: message, trace and stack.

    Put it on a handler (as `ContextFilter`), so that it sees the records of every logger. It
    formats the message and the trace itself, so the formatter gets text, not arguments.
    """

    def __init__(self, redact: RedactorRegistry = REDACTORS) -> None:
        super().__init__()
        self._redact = redact
        self._formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string is shown without its arguments
            message = f"{record.msg!r} (its arguments do not fit it)"
        record.msg = self._redact(message)
        record.args = None
        if record.exc_info:
            record.exc_text = self._formatter.formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = self._redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self._redact(record.stack_info)
        return True
