"""Assembling and running a standalone worker.

Order matters. Everything a user wrote is read and checked first: the worker file, every
connector file, the converters, the listeners, the offsets file. Only then is Kafka contacted and
anything started, so a mistake costs nothing and leaves nothing half-running. On SIGTERM or
SIGINT the worker stops taking requests, drains, flushes and commits every task, and exits 0.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Mapping
from urllib.parse import urlsplit

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from kconnect.api.connector import package_version
from kconnect.api.types import ConnectorName
from kconnect.cli.files import read_connector_config, read_properties
from kconnect.config.worker import StandaloneConfig, unexpected_keys
from kconnect.errors import ConfigError
from kconnect.herder.standalone import StandaloneHerder
from kconnect.herder.validation import validate_config
from kconnect.plugins.registry import default_registry
from kconnect.rest.listeners import parse_listeners
from kconnect.rest.server import RestServer
from kconnect.storage.file_offsets import FileOffsetStore
from kconnect.storage.status import MemoryStatusStore
from kconnect.worker import clients
from kconnect.worker.worker import Worker, build_converters

log = logging.getLogger("kconnect.standalone")

CLUSTER_ID_TIMEOUT_S = 30.0


def warn_unexpected(props: Mapping[str, str], source: str) -> None:
    ignored, unknown = unexpected_keys(StandaloneConfig, props)
    if ignored:
        log.warning("%s: these keys are ignored by kconnect: %s", source, ", ".join(ignored))
    if unknown:
        log.warning("%s: unknown keys, ignored: %s", source, ", ".join(unknown))


def load_connectors(paths: list[str], worker_props: Mapping[str, str]) -> list[dict[str, str]]:
    registry = default_registry()
    seen: dict[str, str] = {}
    out: list[dict[str, str]] = []
    for path in paths:
        config = read_connector_config(path)
        infos = validate_config(registry, worker_props, config)
        if infos.error_count:
            raise ConfigError(f"{path}: " + "; ".join(infos.error_messages()))
        name = config["name"]
        if name in seen:
            raise ConfigError(f"{path}: connector name {name!r} is already used by {seen[name]}")
        seen[name] = path
        out.append(config)
    return out


def lookup_cluster_id(admin_conf: Mapping[str, str], timeout_s: float) -> str:
    """The Kafka cluster id, which also proves the brokers are reachable."""
    admin = AdminClient(dict(admin_conf))
    deadline = time.monotonic() + timeout_s
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            metadata = admin.list_topics(timeout=min(5.0, max(0.1, deadline - time.monotonic())))
            return str(metadata.cluster_id)
        except KafkaException as e:
            last = e
    raise ConfigError(
        f"cannot reach Kafka at bootstrap.servers={admin_conf.get('bootstrap.servers')!r} "
        f"within {timeout_s:.0f}s: {last}"
    )


def _advertised(config: StandaloneConfig, bound_url: str) -> str:
    parts = urlsplit(bound_url)
    host = config.rest_advertised_host_name or parts.hostname or "localhost"
    port = config.rest_advertised_port or parts.port or 8083
    return f"{parts.scheme}://{host}:{port}"


def run_standalone(worker_path: str, connector_paths: list[str]) -> int:
    started = time.monotonic()
    props = read_properties(worker_path)
    config = StandaloneConfig.parse(props, source=worker_path)
    warn_unexpected(props, worker_path)
    registry = default_registry()
    try:
        build_converters(registry, props, {})
    except ConfigError as e:
        raise ConfigError(f"{worker_path}: {e}") from None
    listeners = config.listener_list()
    try:
        parse_listeners(listeners)
    except ConfigError as e:
        raise ConfigError(f"{worker_path}: {e}") from None
    connectors = load_connectors(connector_paths, props)
    offsets = FileOffsetStore(config.offset_storage_file_filename)
    admin_conf = clients.admin_config(props)
    admin_conf.setdefault("bootstrap.servers", config.bootstrap_servers)
    cluster_id = lookup_cluster_id(admin_conf, CLUSTER_ID_TIMEOUT_S)
    worker = Worker("standalone", props, config, registry, offsets, MemoryStatusStore())
    herder = StandaloneHerder(worker, kafka_cluster_id=cluster_id, version=package_version())
    try:
        asyncio.run(_serve(herder, worker, config, listeners, connectors, started))
    finally:
        herder.stop()
        offsets.close()
    log.info("kconnect standalone stopped")
    return 0


async def _serve(
    herder: StandaloneHerder,
    worker: Worker,
    config: StandaloneConfig,
    listeners: str,
    connectors: list[dict[str, str]],
    started: float,
) -> None:
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    rest = RestServer(herder, [listeners])
    try:
        await rest.start()
    except OSError as e:
        raise ConfigError(f"listeners={listeners!r}: cannot listen: {e.strerror}") from None
    try:
        advertised = _advertised(config, rest.urls[0])
        worker.worker_id = urlsplit(advertised).netloc
        log.info("REST server listening on %s, advertised as %s", rest.urls, advertised)
        for connector in connectors:
            await herder.put_connector_config(
                ConnectorName(connector["name"]), connector, allow_replace=False
            )
        herder.mark_ready()
        log.info("kconnect standalone started in %.2fs", time.monotonic() - started)
        await stopping.wait()
        log.info("stopping: draining, flushing and committing every task")
        await loop.run_in_executor(None, herder.stop)
    finally:
        await rest.stop()
