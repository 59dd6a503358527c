"""What `deletionPolicy: Delete` removes from Kafka, and removing it.

A KafkaConnector's cluster keeps its state in Kafka: the three internal topics, the connector's
task topic, the worker group and, for a sink, the connector's consumer group. `kafka_state` names
them (a pure function of the spec); `delete_kafka_state` deletes them with an admin client that
uses the workers' own client settings (`bootstrapServers`, `tls` and `authentication` with the
Secrets' content read through the API and held in memory, and the `security.*`, `sasl.*` and
`ssl.*` keys of `workerConfig`).

It must run after the workers are gone, or they would recreate the topics. Deleting what is
already gone is not an error, so the deletion can be retried until it succeeds. A topic or group
another KafkaConnector uses (an explicit `groupId`, topic or sink group override shared by two
resources, or two older resources sharing Kafka Connect's `connect-<name>`) is kept (`shared`),
even when that resource's workers are stopped; and a consumer group that still has members is
refused by the broker (and reported). A group whose coordinator the broker cannot name yet (its
offsets topic not created, or the coordinator moving) is asked again within the timeout, as
Kafka's own admin client does.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient

from kconnect.storage.topics import task_topic_name
from kconnect.worker.clients import admin_config
from kconnect_operator.core import kafka_security
from kconnect_operator.kafkaconnector.model import (
    CLUSTER_GROUP_PREFIX,
    KafkaConnectorSpec,
    KConnectClusterSpec,
    derived_names,
)

_GONE: Final = frozenset(
    {KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError.GROUP_ID_NOT_FOUND, KafkaError._UNKNOWN_TOPIC}
)
_COORDINATOR_MOVED: Final = frozenset(
    {
        KafkaError.NOT_COORDINATOR,
        KafkaError.COORDINATOR_NOT_AVAILABLE,
        KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
    }
)
"""Group errors Kafka's own admin client retries (its DeleteConsumerGroups handler looks the
coordinator up again): a broker whose offsets topic does not exist yet, or whose coordinator
moved or is loading, answers them. librdkafka reports them instead."""
RETRY_BACKOFF_S: Final = 0.5


@dataclass(frozen=True, slots=True)
class KafkaState:
    topics: tuple[str, ...]
    groups: tuple[str, ...]


def kafka_state(spec: KafkaConnectorSpec, namespace: str, name: str, sink_group: str) -> KafkaState:
    """The topics and groups of one resource; `sink_group` is `build.sink_group`'s."""
    names = derived_names(spec, namespace, name)
    return KafkaState(
        topics=(
            names.config_storage_topic,
            names.offset_storage_topic,
            names.status_storage_topic,
            task_topic_name(names.group_id, name),
        ),
        groups=(names.group_id, sink_group),
    )


def cluster_kafka_state(spec: KConnectClusterSpec, namespace: str, name: str) -> KafkaState:
    """The worker group and internal topics of a KConnectCluster (its connectors' task topics
    and sink groups are theirs): what a KafkaConnector's clean-up must keep when its explicit
    names are the cluster's."""
    names = derived_names(spec, namespace, name, prefix=CLUSTER_GROUP_PREFIX)
    return KafkaState(
        topics=(
            names.config_storage_topic,
            names.offset_storage_topic,
            names.status_storage_topic,
        ),
        groups=(names.group_id,),
    )


def shared(state: KafkaState, others: Mapping[str, KafkaState]) -> tuple[KafkaState, list[str]]:
    """`state` less every topic and group one of `others` (by `namespace/name`) uses too, and a
    line per one kept: a resource never deletes what another still uses."""
    users: dict[str, str] = {}
    for other, theirs in sorted(others.items()):
        for item in (*theirs.topics, *theirs.groups):
            users.setdefault(item, other)
    kept = [
        f"{what} {item} (used by {users[item]})"
        for what, items in (("topic", state.topics), ("consumer group", state.groups))
        for item in items
        if item in users
    ]
    return (
        KafkaState(
            topics=tuple(t for t in state.topics if t not in users),
            groups=tuple(g for g in state.groups if g not in users),
        ),
        kept,
    )


def client_config(
    spec: KafkaConnectorSpec, secret_data: Mapping[str, Mapping[str, str]] | None = None
) -> dict[str, str]:
    """The admin client's settings: the workers' connection and security settings. With
    `spec.tls` or `spec.authentication`, `secret_data` (Secret name -> key -> text, read through
    the API) supplies the certificates, key and password in memory: no file is written. Raises
    `kafka_security.SecretReferenceError` for a missing Secret or key."""
    security: dict[str, str] = {}
    if kafka_security.is_secured(spec):
        security = kafka_security.in_memory_client_keys(spec, secret_data or {})
    https_ca = security.pop("https.ca.pem", None)
    worker: Mapping[str, str] = {
        **{
            k: v
            for k, v in spec.worker_config.items()
            if k.startswith(("security.", "sasl.", "ssl.", "client.dns.lookup"))
        },
        **security,
        # Only a resource with dedicated workers cleans up (the CRD allows `deletionPolicy:
        # Delete` only without `spec.cluster`, and requires the servers then).
        "bootstrap.servers": spec.bootstrap_servers or "",
    }
    config = admin_config(worker)
    if https_ca is not None:
        config["https.ca.pem"] = https_ca
    return config


@dataclass(frozen=True, slots=True)
class CleanupReport:
    deleted_topics: tuple[str, ...]
    deleted_groups: tuple[str, ...]
    errors: tuple[str, ...]


def _settle(
    futures: Mapping[str, Any], what: str, timeout_s: float, *, retry: frozenset[int] = frozenset()
) -> tuple[tuple[str, ...], list[str], dict[str, str]]:
    """The names whose deletion succeeded, an error per failure other than "already gone" or one
    in `retry`, and the error of each name that failed with one in `retry`."""
    done: list[str] = []
    errors: list[str] = []
    retriable: dict[str, str] = {}
    for name, future in futures.items():
        try:
            future.result(timeout=timeout_s)
            done.append(name)
        except KafkaException as e:
            error = e.args[0] if e.args else None
            code = error.code() if isinstance(error, KafkaError) else None
            if code in retry:
                retriable[name] = f"{what} {name}: {e}"
            elif code not in _GONE:
                errors.append(f"{what} {name}: {e}")
    return tuple(done), errors, retriable


def delete_kafka_state(
    config: Mapping[str, str], state: KafkaState, *, timeout_s: float = 30.0
) -> CleanupReport:
    """Delete the topics and groups of `state` (blocking: run it in a thread)."""
    admin = AdminClient(dict(config))
    topics, topic_errors, _ = _settle(
        admin.delete_topics(list(state.topics), operation_timeout=timeout_s), "topic", timeout_s
    )
    deadline = time.monotonic() + timeout_s
    groups: tuple[str, ...] = ()
    group_errors: list[str] = []
    pending = list(state.groups)
    while pending:
        deleted, errors, retriable = _settle(
            admin.delete_consumer_groups(pending, request_timeout=timeout_s),
            "consumer group",
            timeout_s,
            retry=_COORDINATOR_MOVED,
        )
        groups += deleted
        group_errors += errors
        if retriable and time.monotonic() + RETRY_BACKOFF_S < deadline:
            time.sleep(RETRY_BACKOFF_S)  # the coordinator is looked up again
            pending = list(retriable)
            continue
        group_errors += retriable.values()
        break
    return CleanupReport(topics, groups, tuple(topic_errors + group_errors))
