"""The REST server's lifecycle: bind the listeners, serve, and stop gracefully.

`RestServer` serves the REST API (and `/metrics`); `MetricsServer` serves only `/metrics`, on
the `metrics.listener` of its own. Both share this lifecycle.

What protects the REST API is applied here, to every listener, or the server does not start:
- an `https` listener serves TLS with the `ssl.SSLContext` given for it (`kconnect.rest.tls`
  builds it from the `listeners.https.ssl.*` keys); an https listener without one is a
  `ConfigError`, never plain HTTP;
- a `BasicAuthenticator` (`rest.extension.classes`) answers 401 to every request it does not
  admit, on the REST and the admin listeners alike (Kafka leaves separate admin listeners
  unauthenticated);
- `admin_listeners` (`admin.listeners`) moves the `/admin` endpoints to listeners of their own,
  which serve nothing else, and the REST listeners then answer 404 there; an empty list serves
  them nowhere. `None` keeps them on the REST listeners, as Kafka does by default.

A server owns one aiohttp `AppRunner` per application (the REST API, and the admin endpoints
when they have listeners of their own) and one listening socket per listener. It parses its
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
import ssl
from collections.abc import Sequence
from dataclasses import dataclass

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from kconnect.errors import ConfigError
from kconnect.herder.base import Herder
from kconnect.prometheus import Registry
from kconnect.rest.app import build_app, build_metrics_app
from kconnect.rest.basic_auth import BasicAuthenticator
from kconnect.rest.listeners import (
    ADMIN_LISTENERS_CONFIG,
    LISTENERS_CONFIG,
    Listener,
    parse_admin_listeners,
    parse_listeners,
)
from kconnect.rest.loggers import PythonLoggers

log = logging.getLogger(__name__)

_BACKLOG = 128


def _parse(listeners: Sequence[str], setting: str = LISTENERS_CONFIG) -> list[Listener]:
    parsed = [listener for value in listeners for listener in parse_listeners(value, setting)]
    if not parsed:
        # parse_listeners names the problem for an empty setting.
        parse_listeners("", setting)
    return parsed


@dataclass(frozen=True)
class _Endpoint:
    """An application, the listeners that serve it and the TLS context of its https ones."""

    app: web.Application
    listeners: list[Listener]
    ssl_context: ssl.SSLContext | None = None


def _local_urls(bound: list[tuple[Listener, int]]) -> list[str]:
    return [
        listener.url(port)
        if not listener.all_interfaces
        else Listener(listener.scheme, "127.0.0.1", port).url()
        for listener, port in bound
    ]


class _Server:
    """aiohttp applications served on their listeners: the lifecycle both servers share.
    `what` names the server in its log lines and bind errors ("REST", "metrics"). The first
    endpoint is the server's own: `urls` and `port` report its listeners."""

    def __init__(
        self,
        endpoints: list[_Endpoint],
        *,
        what: str,
        shutdown_timeout: float,
    ) -> None:
        self._endpoints = endpoints
        self._what = what
        self._shutdown_timeout = shutdown_timeout
        self._runners: list[web.AppRunner] = []
        self._stopping: asyncio.Future[None] | None = None
        self._bound_by: list[list[tuple[Listener, int]]] = []

    @property
    def app(self) -> web.Application:
        return self._endpoints[0].app

    @property
    def listeners(self) -> list[Listener]:
        return list(self._endpoints[0].listeners)

    @property
    def started(self) -> bool:
        return bool(self._runners)

    @property
    def _bound(self) -> list[tuple[Listener, int]]:
        return self._bound_by[0] if self._bound_by else []

    @property
    def urls(self) -> list[str]:
        """One URL per listener with its bound port, a host a local client can reach (an
        all-interfaces listener reports 127.0.0.1). Empty until started."""
        return _local_urls(self._bound)

    @property
    def port(self) -> int:
        """The bound port of the first listener."""
        if not self._bound:
            raise RuntimeError(f"The {self._what} server has no bound port: it isn't started")
        return self._bound[0][1]

    async def start(self) -> None:
        if self._runners:
            raise RuntimeError(f"The {self._what} server is already started")
        if self._stopping is not None:
            await asyncio.shield(self._stopping)
            self._stopping = None
        runners: list[web.AppRunner] = []
        bound_by: list[list[tuple[Listener, int]]] = []
        try:
            for endpoint in self._endpoints:
                runner = web.AppRunner(
                    endpoint.app, handle_signals=False, shutdown_timeout=self._shutdown_timeout
                )
                await runner.setup()
                runners.append(runner)
                bound: list[tuple[Listener, int]] = []
                for listener in endpoint.listeners:
                    sock = await _bind(listener, self._what)
                    context = endpoint.ssl_context if listener.scheme == "https" else None
                    try:
                        site = web.SockSite(runner, sock, backlog=_BACKLOG, ssl_context=context)
                        await site.start()
                    except BaseException:
                        sock.close()
                        raise
                    bound.append((listener, sock.getsockname()[1]))
                bound_by.append(bound)
        except BaseException:
            for runner in reversed(runners):
                await runner.cleanup()
            raise
        self._runners = runners
        self._bound_by = bound_by
        log.info(
            "%s server listening on %s",
            self._what,
            ", ".join(url for bound in bound_by for url in _local_urls(bound)),
        )

    async def stop(self) -> None:
        """Stop gracefully. The shutdown runs in a task of its own, shielded: a caller that is
        cancelled leaves it running, and any later `stop()` waits for that same shutdown."""
        runners, self._runners = self._runners, []
        if runners:
            self._bound_by = []
            self._stopping = asyncio.ensure_future(self._shutdown(runners))
        if self._stopping is not None:
            await asyncio.shield(self._stopping)

    async def _shutdown(self, runners: list[web.AppRunner]) -> None:
        log.info("Stopping the %s server", self._what)
        await asyncio.gather(*(runner.cleanup() for runner in runners))
        log.info("%s server stopped", self._what)


class RestServer(_Server):
    """The Kafka Connect REST API over `herder` on `listeners`, with `/metrics` rendering
    `metrics`. `admin_listeners` is the `admin.listeners` setting (None: unset);
    `authenticator` admits requests on every listener; `ssl_context` serves the https
    `listeners`, `admin_ssl_context` the https `admin_listeners`."""

    def __init__(
        self,
        herder: Herder,
        listeners: Sequence[str],
        advertised_url: str | None = None,
        *,
        shutdown_timeout: float = 30.0,
        loggers: PythonLoggers | None = None,
        metrics: Registry | None = None,
        admin_listeners: str | None = None,
        authenticator: BasicAuthenticator | None = None,
        ssl_context: ssl.SSLContext | None = None,
        admin_ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        loggers = loggers if loggers is not None else PythonLoggers()
        main = _parse(listeners)
        admin = parse_admin_listeners(admin_listeners)
        _check_tls(main, ssl_context, LISTENERS_CONFIG)
        _check_tls(admin or [], admin_ssl_context, ADMIN_LISTENERS_CONFIG)
        app = build_app(herder, loggers=loggers, metrics=metrics)
        endpoints = [_Endpoint(app, main, ssl_context)]
        if admin is not None:
            # The admin endpoints leave the REST listeners; they get listeners of their own.
            _restrict(app, admin=False)
            if admin:
                admin_app = build_app(herder, loggers=loggers, metrics=metrics)
                _restrict(admin_app, admin=True)
                endpoints.append(_Endpoint(admin_app, admin, admin_ssl_context))
        if authenticator is not None:
            for endpoint in endpoints:
                endpoint.app.middlewares.insert(0, authenticator.middleware())
        super().__init__(endpoints, what="REST", shutdown_timeout=shutdown_timeout)
        self._advertised_url = advertised_url.rstrip("/") if advertised_url else None

    @property
    def admin_urls(self) -> list[str]:
        """The admin listeners' URLs, as `urls`; empty when the admin endpoints are served on
        the REST listeners, or nowhere."""
        return _local_urls(self._bound_by[1]) if len(self._bound_by) > 1 else []

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
        parsed = _parse(listeners, "metrics.listener")
        for listener in parsed:
            if listener.scheme != "http":
                raise ConfigError(
                    f"Unsupported listener {listener.url()!r} in metrics.listener: it serves "
                    "plain http only (http://HOST:PORT)"
                )
        super().__init__(
            [_Endpoint(build_metrics_app(metrics), parsed)],
            what="metrics",
            shutdown_timeout=shutdown_timeout,
        )


def _check_tls(listeners: list[Listener], context: ssl.SSLContext | None, setting: str) -> None:
    """An https listener is served with TLS or not at all."""
    https = [listener.url() for listener in listeners if listener.scheme == "https"]
    if https and context is None:
        raise ConfigError(
            f"{setting}: the https listener {https[0]} has no TLS settings: set "
            f"{setting}.https.ssl.keystore.location (a PEM file with the key and certificate "
            "chain) and the other ssl.* keys under that prefix"
        )


def _is_admin_path(path: str) -> bool:
    return path == "/admin" or path.startswith("/admin/")


def _restrict(app: web.Application, *, admin: bool) -> None:
    """Serve only the /admin endpoints (`admin`), or everything but them: a 404 otherwise."""

    @web.middleware
    async def only(request: web.Request, handler: Handler) -> web.StreamResponse:
        if _is_admin_path(request.path) != admin:
            raise web.HTTPNotFound()
        return await handler(request)

    middleware: Middleware = only
    app.middlewares.append(middleware)


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
