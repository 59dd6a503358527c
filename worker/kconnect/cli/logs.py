"""The worker's log output on stderr: Kafka Connect's text layout, or one JSON object per line.

- **text** (the default) is Kafka Connect's `connect-log4j.properties` layout,
  `[%d] %p %X{connector.context}%m (%c:%L)%n`:

      [2025-01-31 12:00:00,123] INFO [orders|task-0] started (kconnect.worker.source:212)

  A trace follows on the next lines, as log4j prints it.
- **json** is one object per line, for log pipelines that parse (Loki, Elasticsearch, Cloud
  Logging): `time` (ISO 8601, UTC, milliseconds), `level`, `logger`, `message`, `thread`, then
  `connector` and `task` when the line is about one, and `exception` (the formatted trace) when
  there is one. A line is pure ASCII (other characters are `\\u` escapes), so it survives any
  stream encoding, and a newline in a message or a trace never splits it.

Levels are shown under Kafka's (log4j) names in both: TRACE DEBUG INFO WARN ERROR FATAL, the
names `/admin/loggers` shows and accepts. The connector context comes from `kconnect.logcontext`.

In the json format nothing else may write to stderr, so uncaught exceptions (in the main thread
or any other) and Python warnings are logged too, instead of being printed as raw text.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from types import TracebackType
from typing import Final, TextIO

from kconnect.api.types import JsonValue
from kconnect.config.redaction import RedactingFilter
from kconnect.logcontext import ContextFilter, context_of
from kconnect.rest.loggers import level_name

TEXT: Final = "text"
JSON: Final = "json"
LOG_FORMATS: Final = (TEXT, JSON)
LOG_FORMAT_ENV: Final = "KCONNECT_LOG_FORMAT"
"""The environment variable that chooses the format when `--log-format` is not given."""

log = logging.getLogger("kconnect.cli")


def _message(record: logging.LogRecord) -> str:
    """The record's message; a message whose arguments don't fit it is shown, not lost."""
    try:
        return record.getMessage()
    except Exception as e:  # noqa: BLE001 - any __str__ or a bad format string may raise
        return f"{record.msg!r} % {record.args!r} (the arguments do not fit: {e!r})"


class TextFormatter(logging.Formatter):
    """Kafka Connect's text layout, with its connector context and level names."""

    def format(self, record: logging.LogRecord) -> str:
        context = context_of(record)
        line = (
            f"[{self.formatTime(record)}] {level_name(record.levelno)} "
            f"{context.mdc if context is not None else ''}{_message(record)} "
            f"({record.name}:{record.lineno})"
        )
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        elif record.exc_text:
            line += "\n" + record.exc_text
        if record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
        return line


def _utc_timestamp(record: logging.LogRecord) -> str:
    seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
    return f"{seconds}.{int(record.msecs):03d}Z"


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, JsonValue] = {
            "time": _utc_timestamp(record),
            "level": level_name(record.levelno),
            "logger": record.name,
            "message": _message(record),
            "thread": record.threadName,
        }
        context = context_of(record)
        if context is not None:
            entry["connector"] = context.connector
            if context.task is not None:
                entry["task"] = context.task
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=True, separators=(",", ":"))


def log_handler(log_format: str, stream: TextIO) -> logging.Handler:
    """A handler writing `log_format` lines to `stream`, with the connector context."""
    if log_format not in LOG_FORMATS:
        raise ValueError(f"unknown log format {log_format!r}: expected one of {LOG_FORMATS}")
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if log_format == JSON else TextFormatter())
    handler.addFilter(ContextFilter())
    handler.addFilter(RedactingFilter())
    return handler


def configure_logging(level: int, log_format: str = TEXT) -> None:
    """Send every log line to stderr in `log_format`, at `level` and above.

    Like `logging.basicConfig`, this does nothing to a root logger that already has handlers
    (an embedding application's, or a test runner's).
    """
    if logging.root.handlers:
        return
    logging.basicConfig(level=level, handlers=[log_handler(log_format, sys.stderr)])
    if log_format == JSON:
        logging.captureWarnings(True)
        sys.excepthook = _log_uncaught
        threading.excepthook = _log_uncaught_in_thread


def _log_uncaught(
    exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
) -> None:
    log.critical("uncaught exception", exc_info=(exc_type, exc, tb))


def _log_uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:
        return  # as the default hook: a thread that exits this way says nothing
    name = args.thread.name if args.thread is not None else "?"
    log.critical("uncaught exception in thread %s", name, exc_info=args.exc_value)
