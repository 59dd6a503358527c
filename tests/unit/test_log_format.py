"""The worker's log formats: Kafka Connect's text layout and JSON lines, and how they are chosen."""

from __future__ import annotations

import io
import json
import logging
import threading
import time
from pathlib import Path
from types import TracebackType

import pytest

from kconnect import cli
from kconnect.cli.logs import JsonFormatter, TextFormatter, _log_uncaught_in_thread, log_handler
from kconnect.logcontext import RECORD_ATTRIBUTE, LogContext, log_context

CREATED = 1_706_700_000.0421  # 2024-01-31T11:20:00.042Z

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


def _record(
    message: str = "started %s",
    args: tuple[object, ...] = ("orders",),
    level: int = logging.INFO,
    context: LogContext | None = None,
    exc_info: ExcInfo | None = None,
) -> logging.LogRecord:
    record = logging.LogRecord(
        "kconnect.worker.source", level, "/src/source.py", 212, message, args, exc_info
    )
    record.created = CREATED
    record.msecs = 42.0
    record.threadName = "task-orders-0"
    setattr(record, RECORD_ATTRIBUTE, context)
    return record


def _boom() -> ExcInfo:
    try:
        raise ValueError("bad value")
    except ValueError as e:
        return type(e), e, e.__traceback__


def test_a_json_line_has_every_field_and_the_context() -> None:
    line = JsonFormatter().format(_record(context=LogContext("orders", 0)))
    assert "\n" not in line
    assert json.loads(line) == {
        "time": "2024-01-31T11:20:00.042Z",
        "level": "INFO",
        "logger": "kconnect.worker.source",
        "message": "started orders",
        "thread": "task-orders-0",
        "connector": "orders",
        "task": 0,
    }


def test_a_json_line_carries_the_trace_and_stays_one_ascii_line() -> None:
    record = _record(
        "caf\u00e9 failed:\n%s", ("two\nlines",), logging.ERROR, LogContext("c"), _boom()
    )
    line = JsonFormatter().format(record)
    assert "\n" not in line
    assert line.isascii()
    entry = json.loads(line)
    assert entry["message"] == "caf\u00e9 failed:\ntwo\nlines"
    assert entry["level"] == "ERROR"
    assert entry["connector"] == "c"
    assert "task" not in entry
    assert entry["exception"].startswith("Traceback (most recent call last):")
    assert entry["exception"].endswith("ValueError: bad value")


@pytest.mark.parametrize(
    ("level", "name"),
    [
        (5, "TRACE"),
        (logging.DEBUG, "DEBUG"),
        (logging.INFO, "INFO"),
        (logging.WARNING, "WARN"),
        (logging.ERROR, "ERROR"),
        (logging.CRITICAL, "FATAL"),
    ],
)
def test_levels_have_kafkas_names_in_both_formats(level: int, name: str) -> None:
    assert json.loads(JsonFormatter().format(_record(level=level)))["level"] == name
    assert f"] {name} started orders" in TextFormatter().format(_record(level=level))


def test_arguments_that_do_not_fit_the_message_are_shown_not_raised() -> None:
    entry = json.loads(JsonFormatter().format(_record("%d records", ("many",))))
    assert entry["message"].startswith("'%d records' % ('many',) (the arguments do not fit:")


def test_the_text_line_is_kafka_connects_layout_with_the_mdc() -> None:
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(CREATED))
    text = TextFormatter()
    assert text.format(_record(context=LogContext("orders", 0))) == (
        f"[{stamp},042] INFO [orders|task-0] started orders (kconnect.worker.source:212)"
    )
    assert text.format(_record(context=LogContext("orders"))) == (
        f"[{stamp},042] INFO [orders|worker] started orders (kconnect.worker.source:212)"
    )
    assert text.format(_record()) == (
        f"[{stamp},042] INFO started orders (kconnect.worker.source:212)"
    )
    with_trace = text.format(_record(level=logging.ERROR, exc_info=_boom())).splitlines()
    assert with_trace[1] == "Traceback (most recent call last):"
    assert with_trace[-1] == "ValueError: bad value"


def test_the_handler_stamps_the_context_of_the_logging_thread() -> None:
    stream = io.StringIO()
    handler = log_handler("json", stream)
    logger = logging.getLogger("tests.log_format.handler")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("no context")
        with log_context("orders", 4):
            logger.warning("with context")
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [(e["message"], e.get("connector"), e.get("task")) for e in lines] == [
        ("no context", None, None),
        ("with context", "orders", 4),
    ]
    with pytest.raises(ValueError, match="unknown log format 'xml'"):
        log_handler("xml", stream)


def test_the_format_comes_from_the_flag_else_the_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = cli._parser()

    def settings(*argv: str) -> tuple[int, str]:
        return cli._log_settings(parser, parser.parse_args([*argv, "distributed", "w"]))

    monkeypatch.delenv("KCONNECT_LOG_FORMAT", raising=False)
    assert settings() == (logging.INFO, "text")
    monkeypatch.setenv("KCONNECT_LOG_FORMAT", "JSON")
    assert settings() == (logging.INFO, "json")
    assert settings("--log-format", "text", "--log-level", "warn") == (logging.WARNING, "text")
    assert settings("--log-level", "TRACE") == (5, "json")
    monkeypatch.setenv("KCONNECT_LOG_FORMAT", "xml")
    with pytest.raises(SystemExit) as exit_:
        settings()
    assert exit_.value.code == 2
    assert "invalid KCONNECT_LOG_FORMAT='xml': expected one of text, json" in (
        capsys.readouterr().err
    )
    with pytest.raises(SystemExit):
        settings("--log-format", "text", "--log-level", "LOUD")
    assert "invalid level 'LOUD'" in capsys.readouterr().err


def test_in_json_a_startup_error_is_a_log_line_not_plain_text(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = str(tmp_path / "missing.properties")
    with caplog.at_level(logging.ERROR, logger="kconnect.cli"):
        assert cli.main(["--log-format", "json", "distributed", missing]) == cli.EXIT_CONFIG
    assert capsys.readouterr().err == ""
    assert any(
        r.levelno == logging.ERROR and r.getMessage().startswith("kconnect: error: ")
        for r in caplog.records
    )
    assert cli.main(["--log-format", "text", "distributed", missing]) == cli.EXIT_CONFIG
    assert capsys.readouterr().err.startswith("kconnect: error: ")


def test_an_uncaught_exception_in_a_thread_is_logged_with_its_trace(
    caplog: pytest.LogCaptureFixture,
) -> None:
    exc_type, exc, tb = _boom()
    thread = threading.Thread(name="task-orders-1")
    with caplog.at_level(logging.CRITICAL, logger="kconnect.cli"):
        _log_uncaught_in_thread(threading.ExceptHookArgs([exc_type, exc, tb, thread]))
        _log_uncaught_in_thread(threading.ExceptHookArgs([SystemExit, SystemExit(), None, thread]))
    [record] = caplog.records
    assert record.getMessage() == "uncaught exception in thread task-orders-1"
    assert record.exc_info is not None
    assert record.exc_info[1] is exc
