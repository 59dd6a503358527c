"""The operator's probe and metrics endpoints: `/healthz`, `/readyz` and `/metrics`.

One small aiohttp server runs on the operator's event loop, so a probe that gets an answer proves
the loop is not blocked. What the answers mean:

- `/healthz` (liveness): 200 `ok` while `live()` is true; for the operator, that is while the
  event loop serves and, when this replica leads, kopf's task is still running. 500 otherwise,
  so the kubelet restarts a replica whose operator died under it.
- `/readyz` (readiness): 200 `ok` once `ready()` is true; for the operator, once it has its
  Kubernetes client and has started the election (a standby is ready: it is doing its job).
  503 otherwise.
- `/metrics`: the registry in Prometheus' text format 0.0.4.

The server is started before anything that can block (the election, kopf's login), and stopped
last. `start` fails with `OSError` when the port is taken; the message names host and port.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from aiohttp import web

from kconnect_operator.io import operator_metrics

logger = logging.getLogger(__name__)

Probe = Callable[[], bool]

SHUTDOWN_TIMEOUT_S = 2.0
"""How long `stop` lets in-flight probe requests finish."""

HTTP_OK = 200
HTTP_SERVER_ERROR = 500
HTTP_UNAVAILABLE = 503


class HealthServer:
    """Serves the probes and the metrics on one host and port until `stop`."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        live: Probe,
        ready: Probe,
        registry: operator_metrics.Registry = operator_metrics.REGISTRY,
    ) -> None:
        self.host = host
        self.port = port
        self._live = live
        self._ready = ready
        self._registry = registry
        self._runner: web.AppRunner | None = None

    def make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics)
        return app

    async def start(self) -> None:
        """Listens; when the port is 0, `port` is the one the system picked afterwards."""
        runner = web.AppRunner(
            self.make_app(), access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT_S
        )
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, reuse_address=True)
        try:
            await site.start()
        except OSError as error:
            await runner.cleanup()
            raise OSError(
                error.errno, f"cannot serve the probes on {self.host}:{self.port}: {error}"
            ) from error
        self._runner = runner
        if self.port == 0 and runner.addresses:
            self.port = int(runner.addresses[0][1])
        logger.info("Serving /healthz, /readyz and /metrics on %s:%d.", self.host, self.port)

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def _healthz(self, _request: web.Request) -> web.Response:
        if self._live():
            return web.Response(text="ok")
        return web.Response(status=HTTP_SERVER_ERROR, text="the operator is not running\n")

    async def _readyz(self, _request: web.Request) -> web.Response:
        if self._ready():
            return web.Response(text="ok")
        return web.Response(status=HTTP_UNAVAILABLE, text="not ready\n")

    async def _metrics(self, _request: web.Request) -> web.Response:
        body = self._registry.render().encode("utf-8")
        return web.Response(body=body, headers={"Content-Type": operator_metrics.CONTENT_TYPE})
