"""The REST server's lifecycle: bind the listeners, serve, and stop gracefully.

`RestServer` serves the REST API (and `/metrics`); `MetricsServer` serves only `/metrics`, on
the `metrics.listener` of its own. Both share this lifecycle.

A server owns one aiohttp `AppRunner` and one listening socket per listener. It parses its
listeners when constructed, so a bad `listeners` value fails before anything starts. `start()`
binds every listener or none: if one can't be bound, the ones already bound are closed and the
`OSError` propagates. Port 0 binds a free port; `urls` and `port` then report the bound ones.

Each listener gets exactly one socket, so a listener has exactly one port even when it asks for
port 0: an empty host binds one dual-stack socket (IPv6 and IPv4) where the system supports it,
else IPv4's every interface; a named host binds the first address it resolves to.

`stop()` stops accepting, lets requests in flight finish within `shutdown_timeout` seconds, then
closes. It is idempotent, survives the cancellation of its caller (the shutdown carries on and the
next `stop()` waits for it), and may be called even if `start()` failed or never ran. A stopped
server may be started again.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Sequence

from aiohttp import web

from kconnect.herder.base import Herder
from kconnect.metrics import Registry
from kconnect.rest.app import build_app, build_metrics_app
from kconnect.rest.listeners import Listener, parse_listeners
from kconnect.rest.loggers import PythonLoggers

log = logging.getLogger(__name__)

_BACKLOG = 128


def _parse(listeners: Sequence[str]) -> list[Listener]:
    parsed = [listener for value in listeners for listener in parse_listeners(value)]
    if not parsed:
        # parse_listeners names the problem for an empty setting.
        parse_listeners("")
    return parsed


class _Server:
    """An aiohttp application served on its listeners: the lifecycle both servers share.
    `what` names the server in its log lines and bind errors ("REST", "metrics")."""

    def __init__(
        self,
        app: web.Application,
        listeners: list[Listener],
        *,
        what: str,
        shutdown_timeout: float,
    ) -> None:
        self._app = app
        self._listeners = listeners
        self._what = what
        self._shutdown_timeout = shutdown_timeout
        self._runner: web.AppRunner | None = None
        self._stopping: asyncio.Future[None] | None = None
        self._bound: list[tuple[Listener, int]] = []

    @property
    def app(self) -> web.Application:
        return self._app

    @property
    def listeners(self) -> list[Listener]:
        return list(self._listeners)

    @property
    def started(self) -> bool:
        return self._runner is not None

    @property
    def urls(self) -> list[str]:
        """One URL per listener with its bound port, a host a local client can reach (an
        all-interfaces listener reports 127.0.0.1). Empty until started."""
        return [
            listener.url(port)
            if not listener.all_interfaces
            else Listener(listener.scheme, "127.0.0.1", port).url()
            for listener, port in self._bound
        ]

    @property
    def port(self) -> int:
        """The bound port of the first listener."""
        if not self._bound:
            raise RuntimeError(f"The {self._what} server has no bound port: it isn't started")
        return self._bound[0][1]

    async def start(self) -> None:
        if self._runner is not None:
            raise RuntimeError(f"The {self._what} server is already started")
        if self._stopping is not None:
            await asyncio.shield(self._stopping)
            self._stopping = None
        runner = web.AppRunner(
            self._app, handle_signals=False, shutdown_timeout=self._shutdown_timeout
        )
        await runner.setup()
        bound: list[tuple[Listener, int]] = []
        try:
            for listener in self._listeners:
                sock = await _bind(listener, self._what)
                try:
                    site = web.SockSite(runner, sock, backlog=_BACKLOG)
                    await site.start()
                except BaseException:
                    sock.close()
                    raise
                bound.append((listener, sock.getsockname()[1]))
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._bound = bound
        log.info("%s server listening on %s", self._what, ", ".join(self.urls))

    async def stop(self) -> None:
        """Stop gracefully. The shutdown runs in a task of its own, shielded: a caller that is
        cancelled leaves it running, and any later `stop()` waits for that same shutdown."""
        runner, self._runner = self._runner, None
        if runner is not None:
            self._bound = []
            self._stopping = asyncio.ensure_future(self._shutdown(runner))
        if self._stopping is not None:
            await asyncio.shield(self._stopping)

    async def _shutdown(self, runner: web.AppRunner) -> None:
        log.info("Stopping the %s server", self._what)
        await runner.cleanup()
        log.info("%s server stopped", self._what)


class RestServer(_Server):
    """The Kafka Connect REST API over `herder` on `listeners`, with `/metrics` rendering
    `metrics`."""

    def __init__(
        self,
        herder: Herder,
        listeners: Sequence[str],
        advertised_url: str | None = None,
        *,
        shutdown_timeout: float = 30.0,
        loggers: PythonLoggers | None = None,
        metrics: Registry | None = None,
    ) -> None:
        super().__init__(
            build_app(herder, loggers=loggers, metrics=metrics),
            _parse(listeners),
            what="REST",
            shutdown_timeout=shutdown_timeout,
        )
        self._advertised_url = advertised_url.rstrip("/") if advertised_url else None

    @property
    def advertised_url(self) -> str:
        """The URL other parties should use: the configured one, else the first listener with
        its bound port and, for an all-interfaces listener, this host's name."""
        if self._advertised_url is not None:
            return self._advertised_url
        if not self._bound:
            raise RuntimeError("The REST server has no advertised URL yet: it isn't started")
        listener, port = self._bound[0]
        if listener.all_interfaces:
            return Listener(listener.scheme, socket.gethostname(), port).url()
        return listener.url(port)


class MetricsServer(_Server):
    """Only `GET /metrics`, rendering `metrics`, on listeners of its own."""

    def __init__(
        self, metrics: Registry, listeners: Sequence[str], *, shutdown_timeout: float = 5.0
    ) -> None:
        super().__init__(
            build_metrics_app(metrics),
            _parse(listeners),
            what="metrics",
            shutdown_timeout=shutdown_timeout,
        )


async def _bind(listener: Listener, what: str) -> socket.socket:
    """One socket for `listener`, bound and listening; an `OSError` names the listener."""
    try:
        return await _bind_socket(listener)
    except OSError as exc:
        message = f"Cannot bind {what} listener {listener.url()}: {exc.strerror or exc}"
        if exc.errno is None:
            raise OSError(message) from exc
        raise OSError(exc.errno, message) from exc


async def _bind_socket(listener: Listener) -> socket.socket:
    if listener.all_interfaces:
        if socket.has_dualstack_ipv6():
            return socket.create_server(
                ("", listener.port), family=socket.AF_INET6, dualstack_ipv6=True, backlog=_BACKLOG
            )
        return socket.create_server(("", listener.port), backlog=_BACKLOG)
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(
        listener.host, listener.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )
    family, _, _, _, address = infos[0]
    return socket.create_server(address[:2], family=family, backlog=_BACKLOG)
