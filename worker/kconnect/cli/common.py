"""What both worker modes do the same way: check the worker file, find Kafka, serve REST and
metrics, and stop on a signal."""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
import os
import signal
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import urlsplit

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from pydantic import ValidationError

from kconnect.config.validation import describe_errors
from kconnect.config.worker import WorkerConfig, unexpected_keys
from kconnect.errors import ConfigError
from kconnect.herder.base import Herder
from kconnect.plugins.registry import FILE_CONNECTORS, PluginRegistry, default_registry
from kconnect.prometheus import Registry
from kconnect.rest.listeners import parse_listener, parse_listeners
from kconnect.rest.security import RestSecurity, rest_security
from kconnect.rest.server import MetricsServer, RestServer
from kconnect.worker import client_errors, clients
from kconnect.worker.worker import build_converters

log = logging.getLogger("kconnect.cli")

CLUSTER_ID_TIMEOUT_S = 30.0
# Net container allocations between young collections once the worker runs (Python's is 700).
GC_YOUNG_THRESHOLD = 20_000

C = TypeVar("C", bound=WorkerConfig)
Problem = tuple[str, str]
"""A key and what is wrong with it."""


def check_worker_config(model: type[C], props: Mapping[str, str], source: str) -> C:
    """The parsed worker config; every mistake is a ConfigError naming the file."""
    config = model.parse(props, source=source)
    ignored, unknown = unexpected_keys(model, props)
    if ignored:
        log.warning("%s: these keys are ignored by kconnect: %s", source, ", ".join(ignored))
    if unknown:
        log.warning("%s: unknown keys, ignored: %s", source, ", ".join(unknown))
    problems = worker_setting_errors(config, props)
    if problems:
        raise ConfigError(f"{source}: {problems[0][1]}")
    return config


def worker_config_errors(model: type[WorkerConfig], props: Mapping[str, str]) -> list[Problem]:
    """Every problem `check_worker_config` would stop at, as (key, message), without stopping:
    the model's (all of them), else the converters', the listeners' and the metrics
    listener's."""
    try:
        config = model.model_validate(props)
    except ValidationError as e:
        return describe_errors(e, props)
    return worker_setting_errors(config, props)


def worker_setting_errors(config: WorkerConfig, props: Mapping[str, str]) -> list[Problem]:
    """What the model alone does not check: the converters resolve and accept their keys, and
    the REST and metrics listeners parse."""
    problems: list[Problem] = []
    try:
        build_converters(default_registry(), props, {})
    except ConfigError as e:
        problems.append((_converter_key(str(e)), str(e)))
    try:
        parse_listeners(config.listener_list())
    except ConfigError as e:
        problems.append(("listeners", str(e)))
    if config.metrics_listener:
        where = f"metrics.listener={config.metrics_listener!r}"
        try:
            listener = parse_listener(config.metrics_listener, "metrics.listener")
        except ConfigError as e:
            problems.append(("metrics.listener", f"{where}: {e}"))
        else:
            if listener.scheme != "http":
                problems.append(
                    ("metrics.listener", f"{where}: it serves plain http only (http://HOST:PORT)")
                )
    return problems


def _converter_key(message: str) -> str:
    for key in ("header.converter", "key.converter", "value.converter"):
        if key in message:
            return key
    return "converters"


def check_rest_security(
    props: Mapping[str, str],
    config: WorkerConfig,
    source: str,
    env: Mapping[str, str] | None = None,
) -> RestSecurity:
    """TLS, authentication and admin listeners of the REST API, read now so that a mistake stops
    the worker before it starts anything; every mistake is a ConfigError naming the file."""
    try:
        return rest_security(props, config, os.environ if env is None else env)
    except ConfigError as e:
        raise ConfigError(f"{source}: {e}") from None


FILE_CONNECTORS_DISABLED = (
    "the file connectors read and write any file the worker can, and this worker's config sets "
    "file.connectors.enable=false; set it to true to allow them"
)


def plugin_registry(config: WorkerConfig) -> PluginRegistry:
    """The worker's plugins: every installed one, less the file connectors when the config sets
    `file.connectors.enable=false`."""
    if config.file_connectors_enable:
        return default_registry()
    return default_registry().without(dict.fromkeys(FILE_CONNECTORS, FILE_CONNECTORS_DISABLED))


def make_admin(
    props: Mapping[str, str],
    config: WorkerConfig,
    failures: client_errors.Failures | None = None,
) -> AdminClient:
    """An admin client with the worker's client settings (`admin.` keys included); errors no
    retry fixes (a failed authentication or TLS handshake) are noted in `failures`."""
    conf: dict[str, Any] = dict(clients.admin_config(props))
    conf.setdefault("bootstrap.servers", config.bootstrap_servers)
    if failures is not None:
        failures.conf = dict(conf)
        conf["error_cb"] = failures
    return AdminClient(conf)


def lookup_cluster_id(
    admin: AdminClient,
    bootstrap: str,
    timeout_s: float,
    failures: client_errors.Failures | None = None,
) -> str:
    """The Kafka cluster id, which also proves the brokers are reachable. Fails at once, saying
    why, when `failures` (the admin client's) notes an error no retry fixes."""
    deadline = time.monotonic() + timeout_s
    last: Exception | None = None
    while time.monotonic() < deadline:
        admin.poll(0)  # serves error_cb, which an admin client calls only when polled
        if failures is not None and failures.reason is not None:
            raise ConfigError(
                f"cannot use Kafka at bootstrap.servers={bootstrap!r}: {failures.reason}"
            )
        try:
            metadata = admin.list_topics(timeout=min(1.0, max(0.1, deadline - time.monotonic())))
            return str(metadata.cluster_id)
        except KafkaException as e:
            last = e
    raise ConfigError(
        f"cannot reach Kafka at bootstrap.servers={bootstrap!r} within {timeout_s:.0f}s: {last}"
    )


def advertised_url(config: WorkerConfig, bound_url: str) -> str:
    parts = urlsplit(bound_url)
    host = config.rest_advertised_host_name or parts.hostname or "localhost"
    port = config.rest_advertised_port or parts.port or 8083
    return f"{parts.scheme}://{host}:{port}"


T = TypeVar("T")


class Stopper:
    """Why and how the serving loop stops, besides SIGTERM and SIGINT.

    `fail(reason)` (any thread) stops the process as an error: `reason` is then what it exits
    with. `leave` is set by SIGUSR1 where `serve(leave_signal=True)`: a stop that gives the
    worker's group seat up (see `DistributedHerder.stop`).
    """

    def __init__(self) -> None:
        self.reason: str | None = None
        self.leave = False
        self._lock = threading.Lock()
        self._wake: Callable[[], object] | None = None

    def bind(self, loop: asyncio.AbstractEventLoop, stopping: asyncio.Event) -> None:
        with self._lock:
            self._wake = functools.partial(loop.call_soon_threadsafe, stopping.set)
            failed = self.reason is not None
        if failed:
            stopping.set()

    def fail(self, reason: str) -> None:
        with self._lock:
            if self.reason is None:
                self.reason = reason
            wake = self._wake
        if wake is not None:
            wake()


async def serve(
    herder: Herder,
    config: WorkerConfig,
    *,
    started: float,
    mode: str,
    on_bound: Callable[[str], Awaitable[None]],
    on_stop: Callable[[], None],
    metrics: Registry | None = None,
    security: RestSecurity | None = None,
    stopper: Stopper | None = None,
    leave_signal: bool = False,
) -> None:
    """Serve REST (and `metrics` on `/metrics`, also on `metrics.listener` when set) until
    SIGTERM or SIGINT. `on_bound(worker_id)` runs once the REST port is bound (a worker's id is
    its advertised host:port); `on_stop` drains and commits. `stopper` stops it too (see
    `Stopper`), and with `leave_signal` SIGUSR1 stops it with `stopper.leave` set."""
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    stopper = stopper if stopper is not None else Stopper()
    stopper.bind(loop, stopping)
    if leave_signal:

        def leave() -> None:
            stopper.leave = True
            stopping.set()

        loop.add_signal_handler(signal.SIGUSR1, leave)
    metrics = metrics if metrics is not None else Registry()
    listeners = config.listener_list()
    security = security if security is not None else RestSecurity()
    rest = RestServer(
        herder,
        [listeners],
        metrics=metrics,
        admin_listeners=security.admin_listeners,
        authenticator=security.authenticator,
        ssl_context=security.ssl_context,
        admin_ssl_context=security.admin_ssl_context,
    )
    try:
        await rest.start()
    except OSError as e:
        raise ConfigError(f"REST listeners: cannot listen: {e.strerror or e}") from None
    metrics_server: MetricsServer | None = None
    try:
        if config.metrics_listener:
            metrics_server = MetricsServer(metrics, [config.metrics_listener])
            try:
                await metrics_server.start()
            except OSError as e:
                raise ConfigError(
                    f"metrics.listener={config.metrics_listener!r}: cannot listen: "
                    f"{e.strerror or e}"
                ) from None
        advertised = advertised_url(config, rest.urls[0])
        log.info("REST server listening on %s, advertised as %s", rest.urls, advertised)
        # What start-up made (modules, plugins, configs) lives as long as the process: moved out
        # of the collector's generations, it is not scanned again by every full collection that
        # the records' short-lived objects set off.
        gc.freeze()
        # A sink batch keeps its records' containers alive until put() returns (500 records of
        # nested JSON are about 4,000 dicts and lists), and Python's default threshold (700 net
        # container allocations) scans and promotes them a dozen times per batch. Freed
        # containers count down, so only what truly accumulates (cyclic garbage) reaches this.
        gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
        await on_bound(urlsplit(advertised).netloc)
        log.info("kconnect %s started in %.2fs", mode, time.monotonic() - started)
        await stopping.wait()
        if stopper.reason is not None:
            log.error("stopping: %s", stopper.reason)
        else:
            log.info("stopping: draining, flushing and committing every task")
        await loop.run_in_executor(None, on_stop)
    finally:
        if metrics_server is not None:
            await metrics_server.stop()
        await rest.stop()
