"""`/admin/loggers`: Kafka Connect's shapes and level names, acting on Python's `logging`."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator

import pytest

from kconnect.rest.loggers import PythonLoggers, level_name, parse_level
from tests.unit.rest.rest_support import FakeHerder, call, error_of

NOW = 1_700_000_000.5


@pytest.fixture
def namespace() -> Iterator[str]:
    """A logger namespace of this test's own; its loggers' levels are cleared afterwards."""
    name = f"kconnect.resttest{uuid.uuid4().hex[:8]}"
    yield name
    for logger_name, logger in list(logging.root.manager.loggerDict.items()):
        if logger_name.startswith(name) and isinstance(logger, logging.Logger):
            logger.setLevel(logging.NOTSET)


@pytest.fixture
def loggers() -> PythonLoggers:
    return PythonLoggers(clock=lambda: NOW)


@pytest.mark.parametrize(
    ("text", "level"),
    [
        ("TRACE", 5),
        ("debug", logging.DEBUG),
        ("Info", logging.INFO),
        ("WARN", logging.WARNING),
        ("WARNING", logging.WARNING),
        ("ERROR", logging.ERROR),
        ("FATAL", logging.CRITICAL),
        ("CRITICAL", logging.CRITICAL),
        ("OFF", logging.CRITICAL + 10),
        ("ALL", 1),
        ("VERBOSE", None),
        ("", None),
    ],
)
def test_parse_level(text: str, level: int | None) -> None:
    assert parse_level(text) == level


@pytest.mark.parametrize(
    ("level", "name"),
    [
        (1, "ALL"),
        (5, "TRACE"),
        (9, "TRACE"),
        (logging.DEBUG, "DEBUG"),
        (25, "INFO"),
        (logging.WARNING, "WARN"),
        (logging.ERROR, "ERROR"),
        (logging.CRITICAL, "FATAL"),
        (logging.CRITICAL + 10, "OFF"),
    ],
)
def test_level_name(level: int, name: str) -> None:
    assert level_name(level) == name


def test_set_level_acts_on_python_logging_and_lists_the_loggers(
    namespace: str, loggers: PythonLoggers
) -> None:
    child = logging.getLogger(f"{namespace}.child")
    child.setLevel(logging.ERROR)
    logging.getLogger(f"{namespace}.quiet")  # no level of its own: follows its parent
    logging.getLogger(f"{namespace}x").setLevel(logging.ERROR)  # not a child, despite the prefix
    reply = call(
        FakeHerder(), "PUT", f"/admin/loggers/{namespace}", json={"level": "WARN"}, loggers=loggers
    )
    assert reply.status == 200
    assert reply.body == [namespace, f"{namespace}.child"]
    assert logging.getLogger(namespace).level == logging.WARNING
    assert child.level == logging.WARNING
    assert logging.getLogger(f"{namespace}.quiet").getEffectiveLevel() == logging.WARNING
    assert logging.getLogger(f"{namespace}x").level == logging.ERROR


def test_get_logger_shows_level_and_last_modified(namespace: str, loggers: PythonLoggers) -> None:
    herder = FakeHerder()
    call(herder, "PUT", f"/admin/loggers/{namespace}", json={"level": "debug"}, loggers=loggers)
    reply = call(herder, "GET", f"/admin/loggers/{namespace}", loggers=loggers)
    assert reply.status == 200
    assert reply.body == {"level": "DEBUG", "last_modified": int(NOW * 1000)}


def test_get_logger_without_own_level_shows_the_effective_one(
    namespace: str, loggers: PythonLoggers
) -> None:
    logging.getLogger(namespace).setLevel(logging.ERROR)
    logging.getLogger(f"{namespace}.inner")
    reply = call(FakeHerder(), "GET", f"/admin/loggers/{namespace}.inner", loggers=loggers)
    assert reply.body == {"level": "ERROR", "last_modified": None}


def test_get_unknown_logger_is_404(namespace: str) -> None:
    reply = call(FakeHerder(), "GET", f"/admin/loggers/{namespace}.never")
    assert reply.status == 404
    assert error_of(reply) == f"Logger {namespace}.never not found."
    assert f"{namespace}.never" not in logging.root.manager.loggerDict


def test_root_is_listed_and_readable(namespace: str, loggers: PythonLoggers) -> None:
    logging.getLogger(namespace).setLevel(logging.INFO)
    logging.getLogger(f"{namespace}.off").setLevel(logging.CRITICAL + 10)
    logging.getLogger(f"{namespace}.unset")
    herder = FakeHerder()
    listing = call(herder, "GET", "/admin/loggers", loggers=loggers)
    assert listing.status == 200
    assert isinstance(listing.body, dict)
    assert listing.body["root"] == {"level": level_name(logging.root.level), "last_modified": None}
    assert listing.body[namespace] == {"level": "INFO", "last_modified": None}
    assert f"{namespace}.off" not in listing.body
    assert f"{namespace}.unset" not in listing.body
    assert list(listing.body) == sorted(listing.body)
    root = call(herder, "GET", "/admin/loggers/ROOT", loggers=loggers)
    assert root.body == listing.body["root"]


def test_set_root_sets_every_explicit_logger(namespace: str) -> None:
    saved = {
        name: lg.level
        for name, lg in logging.root.manager.loggerDict.items()
        if isinstance(lg, logging.Logger) and lg.level != logging.NOTSET
    }
    saved_root = logging.root.level
    logging.getLogger(namespace).setLevel(logging.ERROR)
    try:
        changed = PythonLoggers().set_level("root", logging.INFO)
        assert "root" in changed
        assert namespace in changed
        assert logging.root.level == logging.INFO
        assert logging.getLogger(namespace).level == logging.INFO
    finally:
        logging.root.setLevel(saved_root)
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


def test_last_modified_only_moves_on_a_change(namespace: str) -> None:
    times = iter([1.0, 2.0, 3.0])
    loggers = PythonLoggers(clock=lambda: next(times))
    loggers.set_level(namespace, logging.INFO)
    loggers.set_level(namespace, logging.INFO)
    assert loggers.level(namespace) == {"level": "INFO", "last_modified": 1000}
    loggers.set_level(namespace, logging.DEBUG)
    assert loggers.level(namespace) == {"level": "DEBUG", "last_modified": 3000}


def test_cluster_scope_is_204_and_applies_here(namespace: str) -> None:
    reply = call(
        FakeHerder(), "PUT", f"/admin/loggers/{namespace}?scope=cluster", json={"level": "ERROR"}
    )
    assert reply.status == 204
    assert logging.getLogger(namespace).level == logging.ERROR


def test_unknown_scope_falls_back_to_worker(namespace: str) -> None:
    reply = call(
        FakeHerder(), "PUT", f"/admin/loggers/{namespace}?scope=galaxy", json={"level": "ERROR"}
    )
    assert reply.status == 200
    assert reply.body == [namespace]


def test_missing_level_is_400(namespace: str) -> None:
    reply = call(FakeHerder(), "PUT", f"/admin/loggers/{namespace}", json={"lvl": "DEBUG"})
    assert reply.status == 400
    assert error_of(reply) == "Desired 'level' parameter was not specified in request."
    assert namespace not in logging.root.manager.loggerDict


def test_level_that_is_not_a_string_is_400(namespace: str) -> None:
    reply = call(FakeHerder(), "PUT", f"/admin/loggers/{namespace}", json={"level": 10})
    assert reply.status == 400
    assert "Field 'level' in request body must be a string" in error_of(reply)


def test_unknown_level_is_404_as_in_kafka_connect(namespace: str) -> None:
    reply = call(FakeHerder(), "PUT", f"/admin/loggers/{namespace}", json={"level": "LOUD"})
    assert reply.status == 404
    assert error_of(reply) == "invalid log level 'LOUD'."
    assert namespace not in logging.root.manager.loggerDict
