"""The `listeners` setting: Kafka Connect's syntax, and errors that name the listener."""

from __future__ import annotations

import pytest

from kconnect.errors import ConfigError
from kconnect.rest import Listener, parse_listeners


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("http://:8083", [Listener("http", "", 8083)]),
        ("http://127.0.0.1:0", [Listener("http", "127.0.0.1", 0)]),
        ("HTTP://worker-1.example.com:8083", [Listener("http", "worker-1.example.com", 8083)]),
        ("http://[::1]:8083", [Listener("http", "::1", 8083)]),
        ("HTTPS://:8443,http://:8083", [Listener("https", "", 8443), Listener("http", "", 8083)]),
        ("http://localhost:8083/", [Listener("http", "localhost", 8083)]),
        (
            " http://:8083 , http://127.0.0.1:9083,",
            [Listener("http", "", 8083), Listener("http", "127.0.0.1", 9083)],
        ),
    ],
)
def test_parse_listeners(value: str, expected: list[Listener]) -> None:
    assert parse_listeners(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", "expected a comma-separated list of at least one http://HOST:PORT"),
        (" , ", "expected a comma-separated list of at least one http://HOST:PORT"),
        (
            "localhost:8083",
            "Invalid value 'localhost:8083' in listeners: expected http://HOST:PORT",
        ),
        ("http://localhost", "Invalid value 'http://localhost' in listeners"),
        ("http://::1:8083", "Invalid value 'http://::1:8083' in listeners"),
        ("http://[localhost]:8083", "brackets are for IPv6 addresses only"),
        ("http://host:port", "Invalid port 'port' in listener 'http://host:port'"),
        ("http://host:-1", "Invalid port '-1' in listener 'http://host:-1'"),
        ("http://host:65536", "expected an integer from 0 to 65535"),
        ("ftp://:21", "Unsupported protocol 'ftp' in listener 'ftp://:21' of listeners"),
    ],
)
def test_bad_listeners_name_the_listener_and_the_form(value: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_listeners(value)
    assert expected in str(info.value)
    assert "http://HOST:PORT" in str(info.value)


def test_only_the_bad_listener_is_named() -> None:
    with pytest.raises(ConfigError, match="'ws://:8443'") as info:
        parse_listeners("http://:8083,ws://:8443")
    assert "'http://:8083'" not in str(info.value)


@pytest.mark.parametrize(
    ("listener", "port", "url"),
    [
        (Listener("http", "", 0), 4242, "http://:4242"),
        (Listener("http", "::1", 0), 4242, "http://[::1]:4242"),
        (Listener("http", "h", 8083), None, "http://h:8083"),
    ],
)
def test_listener_url(listener: Listener, port: int | None, url: str) -> None:
    assert listener.url(port) == url
