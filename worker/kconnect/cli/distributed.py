"""Assembling and running a distributed worker.

As in standalone mode, the worker file is checked before anything starts. Then the internal
topics are created or checked (a config topic with more than one partition, or not compacted,
stops the worker with a message), the offset and status topics are read, and the herder reads
the config topic and joins the group. Only then is the worker ready (`GET /health` says 200).

With `group.instance.id` (static membership) SIGTERM and SIGINT keep the worker's seat in the
group, so a worker restarted within `session.timeout.ms` gets its own tasks back and nobody
else's move; SIGUSR1 stops it the same way but gives the seat up, so its tasks move to the other
workers at once (a worker removed for good). A worker fenced off by another with the same
`group.instance.id` stops its tasks and exits with an error naming the key and the id.
"""

from __future__ import annotations

import asyncio
import logging
import time

from kconnect.api.connector import package_version
from kconnect.cli.common import (
    CLUSTER_ID_TIMEOUT_S,
    Stopper,
    check_rest_security,
    check_worker_config,
    lookup_cluster_id,
    make_admin,
    plugin_registry,
    serve,
)
from kconnect.cli.files import read_worker_properties
from kconnect.config.worker import DistributedConfig
from kconnect.errors import ConnectError
from kconnect.herder.distributed import DistributedHerder
from kconnect.herder.worker_metrics import worker_registry
from kconnect.storage.kafka_offsets import KafkaOffsetStore
from kconnect.storage.kafka_status import KafkaStatusStore
from kconnect.storage.topics import InternalTopic, ensure_internal_topics
from kconnect.worker import client_errors, clients
from kconnect.worker.worker import Worker

log = logging.getLogger("kconnect.distributed")


def internal_topics(config: DistributedConfig) -> list[InternalTopic]:
    return [
        InternalTopic(
            config.config_storage_topic, 1, config.config_storage_replication_factor, "config"
        ),
        InternalTopic(
            config.offset_storage_topic,
            config.offset_storage_partitions,
            config.offset_storage_replication_factor,
            "offset",
        ),
        InternalTopic(
            config.status_storage_topic,
            config.status_storage_partitions,
            config.status_storage_replication_factor,
            "status",
        ),
    ]


def run_distributed(worker_path: str) -> int:
    started = time.monotonic()
    props = read_worker_properties(worker_path)
    config = check_worker_config(DistributedConfig, props, worker_path)
    security = check_rest_security(props, config, worker_path)
    failures = client_errors.Failures()
    admin = make_admin(props, config, failures)
    cluster_id = lookup_cluster_id(admin, config.bootstrap_servers, CLUSTER_ID_TIMEOUT_S, failures)
    ensure_internal_topics(admin, internal_topics(config))
    client_config = clients.admin_config(props)
    client_config.setdefault("bootstrap.servers", config.bootstrap_servers)
    offsets = KafkaOffsetStore(
        config.offset_storage_topic, client_config=client_config, reader_group=config.group_id
    )
    status = KafkaStatusStore(
        config.status_storage_topic, client_config=client_config, reader_group=config.group_id
    )
    offsets.start()
    status.start()
    worker = Worker("unbound", props, config, plugin_registry(config), offsets, status)
    stopper = Stopper()
    herder = DistributedHerder(
        worker,
        config,
        client_config=client_config,
        admin=admin,
        status=status,
        kafka_cluster_id=cluster_id,
        version=package_version(),
        on_fatal=stopper.fail,
    )

    async def on_bound(worker_id: str) -> None:
        worker.worker_id = worker_id
        await asyncio.get_running_loop().run_in_executor(None, herder.start)

    try:
        asyncio.run(
            serve(
                herder,
                config,
                started=started,
                mode="distributed",
                on_bound=on_bound,
                on_stop=lambda: herder.stop(leave_group=stopper.leave),
                security=security,
                stopper=stopper,
                leave_signal=True,
                metrics=worker_registry(
                    worker,
                    mode="distributed",
                    version=package_version(),
                    rebalance=lambda: herder.rebalance,
                ),
            )
        )
    finally:
        herder.stop()
        status.close()
        offsets.close()
    if stopper.reason is not None:
        raise ConnectError(stopper.reason)
    log.info("kconnect distributed stopped")
    return 0
