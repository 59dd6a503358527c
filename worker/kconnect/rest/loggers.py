"""`/admin/loggers`: Kafka Connect's dynamic log levels, acting on Python's `logging`.

Levels are shown and accepted under Kafka's (log4j) names, so scripts written for Kafka Connect
work unchanged. The mapping onto Python's numeric levels is:

    ALL 1, TRACE 5, DEBUG 10, INFO 20, WARN 30, ERROR 40, FATAL 50, OFF 60

Python's own `WARNING` and `CRITICAL` are accepted as synonyms. A Python level between two of
these is shown under the name of the one below it (a custom level 25 shows as INFO).

Which loggers are listed follows Kafka's `Loggers`: the root logger (as `root`) and every logger
whose level was set explicitly; a logger at OFF is left out. A logger that exists but has no level
of its own reports its effective level. Setting a level on a namespace sets it on that logger and
on every logger below it (dotted children) that has a level of its own, so none of them keeps
overriding the new level; setting `root` sets every explicitly set logger too. `last_modified`
is the time (epoch milliseconds) of the last change made through this API, kept per worker.

This module reads and writes the process-wide `logging` state and nothing else; it runs on the
event loop, and `logging` does its own locking.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from kconnect.api.types import JsonValue

ROOT_LOGGER_NAME = "root"

LEVELS: dict[str, int] = {
    "ALL": 1,
    "TRACE": 5,
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARN": logging.WARNING,
    "WARNING": logging.WARNING,
    "ERROR": logging.ERROR,
    "FATAL": logging.CRITICAL,
    "CRITICAL": logging.CRITICAL,
    "OFF": logging.CRITICAL + 10,
}
OFF = LEVELS["OFF"]

_NAMES_DESCENDING: list[tuple[int, str]] = [
    (OFF, "OFF"),
    (logging.CRITICAL, "FATAL"),
    (logging.ERROR, "ERROR"),
    (logging.WARNING, "WARN"),
    (logging.INFO, "INFO"),
    (logging.DEBUG, "DEBUG"),
    (LEVELS["TRACE"], "TRACE"),
]


def parse_level(text: str) -> int | None:
    """The Python level for a Kafka (or Python) level name in any case; None if unknown."""
    return LEVELS.get(text.strip().upper())


def level_name(level: int) -> str:
    """The Kafka name of a Python level."""
    for floor, name in _NAMES_DESCENDING:
        if level >= floor:
            return name
    return "ALL"


class PythonLoggers:
    """Reads and sets `logging` levels in the shapes of Kafka Connect's `LoggingResource`."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._last_modified: dict[str, int] = {}

    @staticmethod
    def _existing() -> dict[str, logging.Logger]:
        return {
            name: logger
            for name, logger in logging.root.manager.loggerDict.items()
            if isinstance(logger, logging.Logger)
        }

    def _describe(self, name: str, level: int) -> dict[str, JsonValue]:
        return {"level": level_name(level), "last_modified": self._last_modified.get(name)}

    def all_levels(self) -> dict[str, JsonValue]:
        """Every explicitly set logger and the root, by name, sorted; OFF ones left out."""
        out: dict[str, JsonValue] = {
            name: self._describe(name, logger.level)
            for name, logger in sorted(self._existing().items())
            if logger.level != logging.NOTSET and logger.level < OFF
        }
        if logging.root.level < OFF:
            out[ROOT_LOGGER_NAME] = self._describe(ROOT_LOGGER_NAME, logging.root.level)
        return dict(sorted(out.items()))

    def level(self, name: str) -> dict[str, JsonValue] | None:
        """One logger's level (its effective level if it has none); None if there's no such
        logger. Looking a logger up never creates it."""
        if name.lower() == ROOT_LOGGER_NAME:
            return self._describe(ROOT_LOGGER_NAME, logging.root.level)
        logger = self._existing().get(name)
        if logger is None:
            return None
        return self._describe(name, logger.getEffectiveLevel())

    def set_level(self, namespace: str, level: int) -> list[str]:
        """Set `namespace` and its explicitly set descendants to `level`; returns the sorted
        names of the loggers that now carry it."""
        existing = self._existing()
        targets: dict[str, logging.Logger]
        if namespace.lower() == ROOT_LOGGER_NAME:
            targets = {n: lg for n, lg in existing.items() if lg.level != logging.NOTSET}
            targets[ROOT_LOGGER_NAME] = logging.root
        else:
            prefix = namespace + "."
            targets = {
                n: lg
                for n, lg in existing.items()
                if n.startswith(prefix) and lg.level != logging.NOTSET
            }
            targets[namespace] = logging.getLogger(namespace)
        now = int(self._clock() * 1000)
        for name, logger in targets.items():
            if logger.level != level:
                logger.setLevel(level)
                self._last_modified[name] = now
        return sorted(targets)
