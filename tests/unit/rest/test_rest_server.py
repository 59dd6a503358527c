"""`RestServer`: binds its listeners (port 0 included), reports them, and stops."""

from __future__ import annotations

import asyncio
import json
import socket

import pytest
from aiohttp import ClientSession, web

from kconnect.api.types import ConnectorName
from kconnect.errors import ConfigError
from kconnect.rest import RestServer
from tests.unit.rest.rest_support import FakeHerder


async def _get(url: str) -> tuple[int, object]:
    async with ClientSession() as session, session.get(url) as response:
        return response.status, json.loads(await response.text())


def test_binds_port_zero_serves_and_stops() -> None:
    async def scenario() -> None:
        server = RestServer(FakeHerder(), ["http://127.0.0.1:0"])
        assert server.urls == []
        await server.start()
        port = server.port
        try:
            assert port > 0
            assert server.urls == [f"http://127.0.0.1:{port}"]
            assert server.advertised_url == f"http://127.0.0.1:{port}"
            status, body = await _get(server.urls[0] + "/")
            assert status == 200
            assert isinstance(body, dict)
            assert body["version"] == "4.0.0"
        finally:
            await server.stop()
        assert not server.started
        assert server.urls == []
        with pytest.raises(OSError):  # nothing listens there any more
            await asyncio.open_connection("127.0.0.1", port)
        await server.stop()  # idempotent

    asyncio.run(scenario())


def test_all_interfaces_and_several_listeners() -> None:
    async def scenario() -> None:
        server = RestServer(FakeHerder(), ["http://:0,http://127.0.0.1:0"], "http://w1:8083/")
        await server.start()
        try:
            assert len(server.urls) == 2
            assert server.advertised_url == "http://w1:8083"
            for url in server.urls:
                status, body = await _get(url + "/connectors")
                assert (status, body) == (200, [])
        finally:
            await server.stop()

    asyncio.run(scenario())


def test_advertised_url_of_all_interfaces_names_this_host() -> None:
    async def scenario() -> None:
        server = RestServer(FakeHerder(), ["http://:0"])
        await server.start()
        try:
            assert server.advertised_url == f"http://{socket.gethostname()}:{server.port}"
        finally:
            await server.stop()

    asyncio.run(scenario())


def test_https_listener_fails_before_anything_starts() -> None:
    with pytest.raises(ConfigError, match="https://:8443"):
        RestServer(FakeHerder(), ["http://:8083", "https://:8443"])


def test_no_listener_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="listeners"):
        RestServer(FakeHerder(), [])


def test_port_in_use_fails_naming_the_listener_and_binds_nothing() -> None:
    async def scenario() -> None:
        first = RestServer(FakeHerder(), ["http://127.0.0.1:0"])
        await first.start()
        try:
            taken = f"http://127.0.0.1:{first.port}"
            second = RestServer(FakeHerder(), ["http://127.0.0.1:0", taken])
            with pytest.raises(OSError, match=f"Cannot bind REST listener {taken}"):
                await second.start()
            assert not second.started
            assert second.urls == []
            await second.stop()
        finally:
            await first.stop()

    asyncio.run(scenario())


def test_start_twice_is_refused() -> None:
    async def scenario() -> None:
        server = RestServer(FakeHerder(), ["http://127.0.0.1:0"])
        await server.start()
        try:
            with pytest.raises(RuntimeError, match="already started"):
                await server.start()
        finally:
            await server.stop()

    asyncio.run(scenario())


def test_port_before_start_is_an_error() -> None:
    server = RestServer(FakeHerder(), ["http://127.0.0.1:0"])
    with pytest.raises(RuntimeError, match="isn't started"):
        _ = server.port


def _shutting_down(server: RestServer) -> asyncio.Event:
    """Set once `stop()` has closed the listeners and begun waiting for requests in flight."""
    event = asyncio.Event()

    async def on_shutdown(app: web.Application) -> None:
        event.set()

    server.app.on_shutdown.append(on_shutdown)
    return event


class SlowHerder(FakeHerder):
    """`connectors()` waits until the test lets it answer."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def connectors(self) -> list[ConnectorName]:
        self.entered.set()
        await self.release.wait()
        return [ConnectorName("late")]


def test_stop_lets_a_request_in_flight_finish() -> None:
    async def scenario() -> None:
        herder = SlowHerder()
        server = RestServer(herder, ["http://127.0.0.1:0"])
        shutting_down = _shutting_down(server)
        await server.start()
        request = asyncio.ensure_future(_get(server.urls[0] + "/connectors"))
        await herder.entered.wait()
        stopping = asyncio.ensure_future(server.stop())
        await shutting_down.wait()
        assert not stopping.done()
        herder.release.set()
        assert await request == (200, ["late"])
        await stopping

    asyncio.run(scenario())


def test_a_cancelled_stop_still_shuts_down_and_the_next_stop_waits_for_it() -> None:
    async def scenario() -> None:
        herder = SlowHerder()
        server = RestServer(herder, ["http://127.0.0.1:0"])
        shutting_down = _shutting_down(server)
        await server.start()
        request = asyncio.ensure_future(_get(server.urls[0] + "/connectors"))
        await herder.entered.wait()
        first = asyncio.ensure_future(server.stop())
        await shutting_down.wait()
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        second = asyncio.ensure_future(server.stop())
        herder.release.set()
        assert await request == (200, ["late"])
        await second
        await server.start()  # and it can serve again
        try:
            assert await _get(server.urls[0] + "/connectors") == (200, ["late"])
        finally:
            await server.stop()

    asyncio.run(scenario())
