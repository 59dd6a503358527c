"""Assembling and running a standalone worker.

Order matters. Everything a user wrote is read and checked first: the worker file, every
connector file, the converters, the listeners, the offsets file. Only then is Kafka contacted and
anything started, so a mistake costs nothing and leaves nothing half-running. On SIGTERM or
SIGINT the worker stops taking requests, drains, flushes and commits every task, and exits 0.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping

from kconnect.api.connector import package_version
from kconnect.api.types import ConnectorName
from kconnect.cli.common import (
    CLUSTER_ID_TIMEOUT_S,
    check_rest_security,
    check_worker_config,
    lookup_cluster_id,
    make_admin,
    plugin_registry,
    serve,
)
from kconnect.cli.files import read_connector_config, read_worker_properties
from kconnect.config.worker import StandaloneConfig
from kconnect.errors import ConfigError
from kconnect.herder.standalone import StandaloneHerder
from kconnect.herder.validation import validate_config
from kconnect.herder.worker_metrics import worker_registry
from kconnect.plugins.registry import PluginRegistry
from kconnect.storage.file_offsets import FileOffsetStore
from kconnect.storage.status import MemoryStatusStore
from kconnect.worker import client_errors
from kconnect.worker.worker import Worker

log = logging.getLogger("kconnect.standalone")


def load_connectors(
    paths: list[str], worker_props: Mapping[str, str], registry: PluginRegistry
) -> list[dict[str, str]]:
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


def run_standalone(worker_path: str, connector_paths: list[str]) -> int:
    started = time.monotonic()
    props = read_worker_properties(worker_path)
    config = check_worker_config(StandaloneConfig, props, worker_path)
    security = check_rest_security(props, config, worker_path)
    registry = plugin_registry(config)
    connectors = load_connectors(connector_paths, props, registry)
    offsets = FileOffsetStore(config.offset_storage_file_filename)
    failures = client_errors.Failures()
    admin = make_admin(props, config, failures)
    cluster_id = lookup_cluster_id(admin, config.bootstrap_servers, CLUSTER_ID_TIMEOUT_S, failures)
    worker = Worker("standalone", props, config, registry, offsets, MemoryStatusStore())
    herder = StandaloneHerder(
        worker, admin=admin, kafka_cluster_id=cluster_id, version=package_version()
    )

    async def on_bound(worker_id: str) -> None:
        worker.worker_id = worker_id
        for connector in connectors:
            await herder.put_connector_config(
                ConnectorName(connector["name"]), connector, allow_replace=False
            )
        herder.mark_ready()

    try:
        asyncio.run(
            serve(
                herder,
                config,
                started=started,
                mode="standalone",
                on_bound=on_bound,
                on_stop=herder.stop,
                security=security,
                metrics=worker_registry(worker, mode="standalone", version=package_version()),
            )
        )
    finally:
        herder.stop()
        offsets.close()
    log.info("kconnect standalone stopped")
    return 0
