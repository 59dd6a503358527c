"""`admin.listeners`: the REST server's key, not the admin client's; the /admin endpoints served
on those listeners only, or nowhere when it is empty, as in Kafka Connect."""

from __future__ import annotations

import asyncio
import base64

import pytest
from aiohttp import ClientSession

from kconnect.config.worker import DistributedConfig, StandaloneConfig, unexpected_keys
from kconnect.errors import ConfigError
from kconnect.rest import RestServer
from kconnect.rest.basic_auth import BasicAuthenticator
from kconnect.rest.listeners import parse_admin_listeners
from kconnect.worker.clients import admin_config
from tests.unit.rest.rest_support import FakeHerder

WORKER = {"bootstrap.servers": "k:9092", "offset.storage.file.filename": "/tmp/o"}


def test_admin_listeners_is_a_worker_key_not_an_admin_client_key() -> None:
    props = {
        **WORKER,
        "admin.listeners": "http://:8084",
        "admin.listeners.https.ssl.keystore.location": "/etc/ks.pem",
        "admin.request.timeout.ms": "5000",
    }
    config = StandaloneConfig.parse(props)
    assert config.admin_listeners == "http://:8084"
    assert unexpected_keys(StandaloneConfig, props) == ([], [])
    client = admin_config(props)
    assert client["request.timeout.ms"] == "5000"
    assert not any(key.startswith("listeners") for key in client), client
    dist = DistributedConfig.parse(
        {
            **props,
            "group.id": "g",
            "config.storage.topic": "c",
            "offset.storage.topic": "o",
            "status.storage.topic": "s",
            "admin.listeners": "",
        }
    )
    assert dist.admin_listeners == ""


def test_admin_listeners_parsing() -> None:
    assert parse_admin_listeners(None) is None
    assert parse_admin_listeners("") == []
    assert parse_admin_listeners("  ") == []
    [listener] = parse_admin_listeners("https://127.0.0.1:8443") or []
    assert (listener.scheme, listener.port) == ("https", 8443)
    with pytest.raises(ConfigError, match=r"Invalid port 'x' in listener .* of admin\.listeners"):
        parse_admin_listeners("http://:x")


async def _status(url: str, headers: dict[str, str] | None = None) -> int:
    async with ClientSession() as session, session.get(url, headers=headers) as response:
        await response.read()
        return response.status


def test_admin_endpoints_move_to_their_own_listeners() -> None:
    async def scenario() -> None:
        server = RestServer(
            FakeHerder(), ["http://127.0.0.1:0"], admin_listeners="http://127.0.0.1:0"
        )
        await server.start()
        try:
            [rest] = server.urls
            [admin] = server.admin_urls
            assert rest != admin
            assert await _status(admin + "/admin/loggers") == 200
            assert await _status(admin + "/admin/loggers/") == 200
            assert await _status(rest + "/admin/loggers") == 404
            assert await _status(rest + "/admin/loggers/root") == 404
            assert await _status(rest + "/connectors") == 200
            assert await _status(admin + "/connectors") == 404
            assert await _status(admin + "/") == 404
        finally:
            await server.stop()
        assert server.admin_urls == []

    asyncio.run(scenario())


def test_empty_admin_listeners_disables_the_admin_endpoints() -> None:
    async def scenario() -> None:
        server = RestServer(FakeHerder(), ["http://127.0.0.1:0"], admin_listeners="")
        await server.start()
        try:
            [rest] = server.urls
            assert server.admin_urls == []
            assert await _status(rest + "/admin/loggers") == 404
            assert await _status(rest + "/connectors") == 200
        finally:
            await server.stop()

    asyncio.run(scenario())


def test_unset_admin_listeners_keeps_them_on_the_rest_listeners() -> None:
    async def scenario() -> None:
        server = RestServer(FakeHerder(), ["http://127.0.0.1:0"])
        await server.start()
        try:
            assert await _status(server.urls[0] + "/admin/loggers") == 200
        finally:
            await server.stop()

    asyncio.run(scenario())


def test_admin_listeners_are_authenticated_too() -> None:
    """Kafka registers REST extensions on the main listeners only; kconnect protects both."""
    auth = BasicAuthenticator({"ops": "pw"})
    good = {"Authorization": "Basic " + base64.b64encode(b"ops:pw").decode()}

    async def scenario() -> None:
        server = RestServer(
            FakeHerder(),
            ["http://127.0.0.1:0"],
            admin_listeners="http://127.0.0.1:0",
            authenticator=auth,
        )
        await server.start()
        try:
            [admin] = server.admin_urls
            assert await _status(admin + "/admin/loggers") == 401
            assert await _status(admin + "/admin/loggers", good) == 200
            assert await _status(server.urls[0] + "/admin/loggers", good) == 404
        finally:
            await server.stop()

    asyncio.run(scenario())
