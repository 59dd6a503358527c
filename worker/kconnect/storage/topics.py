"""The internal topics of a distributed cluster: created when missing, checked when present.

Kafka Connect's rules, with its messages: every internal topic is compacted
(`cleanup.policy=compact` and nothing else, since deleting by age would lose configs, offsets or
statuses), and the config topic has exactly one partition, because its records are only
totally ordered within a partition. A topic that breaks a rule stops the worker with a
`ConfigError` naming the topic, the worker property that chose it, and what to change; it is
never altered behind the operator's back. A topic created concurrently by another worker is
fine: every worker checks what is there after creating.

A cleanup policy that can't be read (no DescribeConfigs permission) is logged and not checked,
as Java does.

Task topics (one per connector, a partition per task) are named by `task_topic_name`, a pure
function safe for any connector name.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AdminClient,
    ConfigResource,
    NewPartitions,
    NewTopic,
    ResourceType,
)

from kconnect.errors import ConfigError, ConnectError

log = logging.getLogger(__name__)

_PURPOSES: Mapping[str, tuple[str, str]] = {
    # purpose → (worker property naming the topic, what it keeps, in Java's words)
    "config": ("config.storage.topic", "connector configurations"),
    "offset": ("offset.storage.topic", "source connector offsets"),
    "status": ("status.storage.topic", "connector and task statuses"),
}

MAX_TOPIC_NAME = 249


@dataclass(frozen=True)
class InternalTopic:
    """An internal topic as the worker config asks for it.

    `partitions` and `replication_factor` of -1 mean the broker's defaults. `settings` are extra
    topic configs for creation (Java's `config.storage.*` / `offset.storage.*` /
    `status.storage.*` keys); `cleanup.policy` is always `compact`, whatever they say.
    """

    name: str
    partitions: int
    replication_factor: int
    purpose: str  # "config", "offset" or "status"
    settings: tuple[tuple[str, str], ...] = field(default=())

    def __post_init__(self) -> None:
        if self.purpose not in _PURPOSES:
            raise ValueError(
                f"internal topic {self.name!r}: purpose {self.purpose!r} is not one of "
                f"{sorted(_PURPOSES)}"
            )

    @property
    def property_name(self) -> str:
        return _PURPOSES[self.purpose][0]

    @property
    def keeps(self) -> str:
        return _PURPOSES[self.purpose][1]


def ensure_internal_topics(
    admin: AdminClient, topics: Sequence[InternalTopic], timeout: float = 30.0
) -> None:
    """Create the missing topics, then check every topic; raise `ConfigError` on a bad one."""
    deadline = time.monotonic() + timeout
    existing = _existing_topics(admin, [t.name for t in topics], deadline)
    missing = [t for t in topics if t.name not in existing]
    if missing:
        _create(admin, missing, deadline)
        existing.update(_wait_visible(admin, [t.name for t in missing], deadline))
    for topic in topics:
        check_partitions(topic, existing[topic.name])
    policies = _cleanup_policies(admin, [t.name for t in topics], deadline)
    for topic in topics:
        policy = policies.get(topic.name)
        if policy is None:
            log.info(
                "Unable to verify the cleanup policy of topic %r: the broker did not describe "
                "its configs (the principal may lack DescribeConfigs permission)",
                topic.name,
            )
            continue
        check_cleanup_policy(topic, policy)


def check_partitions(topic: InternalTopic, partitions: int) -> None:
    """The config topic must have a single partition."""
    if topic.purpose == "config" and partitions != 1:
        raise ConfigError(
            f"Topic '{topic.name}' supplied via the '{topic.property_name}' property is required "
            "to have a single partition in order to guarantee consistency of connector "
            f"configurations, but found {partitions} partitions."
        )


def check_cleanup_policy(topic: InternalTopic, policy: str) -> None:
    """Every internal topic must be compacted, and only compacted."""
    found = {p.strip() for p in policy.split(",") if p.strip()}
    if found != {"compact"}:
        shown = ",".join(sorted(found))
        raise ConfigError(
            f"Topic '{topic.name}' supplied via the '{topic.property_name}' property is required "
            f"to have 'cleanup.policy=compact' to guarantee consistency and durability of "
            f"{topic.keeps}, but found the topic currently has 'cleanup.policy={shown}'. "
            f"Continuing would likely result in eventually losing {topic.keeps} and problems "
            f"restarting this Connect cluster in the future. Change the '{topic.property_name}' "
            "property in the Connect worker configurations to use a topic with "
            "'cleanup.policy=compact'."
        )


def _remaining(deadline: float) -> float:
    return max(deadline - time.monotonic(), 0.1)


def _existing_topics(admin: AdminClient, names: Sequence[str], deadline: float) -> dict[str, int]:
    """Partition counts of the topics among `names` that exist."""
    try:
        metadata = admin.list_topics(timeout=_remaining(deadline))
    except KafkaException as e:
        raise ConnectError(f"cannot list the cluster's topics: {e}") from None
    out: dict[str, int] = {}
    for name in names:
        found = metadata.topics.get(name)
        if found is not None and found.error is None:
            out[name] = len(found.partitions)
    return out


def _create(admin: AdminClient, topics: Sequence[InternalTopic], deadline: float) -> None:
    specs = [
        NewTopic(
            t.name,
            num_partitions=t.partitions,
            replication_factor=t.replication_factor,
            config={**dict(t.settings), "cleanup.policy": "compact"},
        )
        for t in topics
    ]
    futures = admin.create_topics(specs, operation_timeout=_remaining(deadline))
    for name, future in futures.items():
        try:
            future.result(timeout=_remaining(deadline))
            log.info("Created internal topic %r", name)
        except KafkaException as e:
            err = e.args[0] if e.args else None
            if isinstance(err, KafkaError) and err.code() == KafkaError.TOPIC_ALREADY_EXISTS:
                log.info("Internal topic %r was created concurrently", name)
                continue
            if isinstance(err, KafkaError) and err.code() in (
                KafkaError.TOPIC_AUTHORIZATION_FAILED,
                KafkaError.CLUSTER_AUTHORIZATION_FAILED,
            ):
                raise ConnectError(
                    f"cannot create internal topic {name!r}: missing ACL: the worker's principal "
                    "is not allowed to create the topic; grant it Create on the topic (or the "
                    f"cluster), or create the topic beforehand (see docs/security.md): {e}"
                ) from None
            raise ConnectError(f"cannot create internal topic {name!r}: {e}") from None
        except TimeoutError:
            raise TimeoutError(f"creating internal topic {name!r} did not finish in time") from None


def _wait_visible(admin: AdminClient, names: Sequence[str], deadline: float) -> dict[str, int]:
    """Created topics reach the metadata a moment after creation is acknowledged."""
    while True:
        found = _existing_topics(admin, names, deadline)
        if len(found) == len(names) and all(found.values()):
            return found
        if time.monotonic() >= deadline:
            missing = sorted(set(names) - set(found))
            raise TimeoutError(f"internal topics {missing} not visible in the metadata in time")
        time.sleep(0.1)


def _cleanup_policies(admin: AdminClient, names: Sequence[str], deadline: float) -> dict[str, str]:
    """`cleanup.policy` of each topic whose configs the broker would describe."""
    resources = [ConfigResource(ResourceType.TOPIC, name) for name in names]
    futures = admin.describe_configs(resources, request_timeout=_remaining(deadline))
    out: dict[str, str] = {}
    for resource, future in futures.items():
        try:
            entries = future.result(timeout=_remaining(deadline))
        except KafkaException as e:
            err = e.args[0] if e.args else None
            if isinstance(err, KafkaError) and err.code() in (
                KafkaError.TOPIC_AUTHORIZATION_FAILED,
                KafkaError.CLUSTER_AUTHORIZATION_FAILED,
            ):
                continue
            raise ConnectError(
                f"cannot describe the configs of topic {resource.name!r}: {e}"
            ) from None
        entry = entries.get("cleanup.policy")
        if entry is not None and entry.value is not None:
            out[resource.name] = entry.value
    return out


# -- task topics -----------------------------------------------------------------------------

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
_HASH_LEN = 16
_GROUP_MAX = 80
_INFIX = "-tasks-"


def task_topic_name(group_id: str, connector: str) -> str:
    """The task topic of `connector` in the cluster `group_id`: `<group>-tasks-<connector>-<hash>`.

    Any character outside `[A-Za-z0-9_-]` becomes `_` (no `.`, so the name can't collide with
    another in Kafka's metric names), both parts are truncated to keep the whole within 249
    characters, and the hash of the exact (group id, connector) pair keeps names of different
    pairs apart however much sanitizing and truncating folded them together.
    """
    digest = hashlib.sha256(
        json.dumps([group_id, connector], ensure_ascii=False).encode()
    ).hexdigest()[:_HASH_LEN]
    group = _UNSAFE.sub("_", group_id)[:_GROUP_MAX]
    room = MAX_TOPIC_NAME - len(group) - len(_INFIX) - 1 - _HASH_LEN
    return f"{group}{_INFIX}{_UNSAFE.sub('_', connector)[:room]}-{digest}"


def ensure_task_topic(
    admin: AdminClient, name: str, partitions: int, timeout: float = 30.0
) -> None:
    """A connector's task topic with at least `partitions` (≥ 1) partitions.

    The topic holds no records: its partitions are the connector's tasks, handed out by the
    worker group. Partitions can only grow; a concurrent creation by another worker is fine.
    """
    want = max(1, partitions)
    metadata = admin.list_topics(topic=name, timeout=timeout)
    found = metadata.topics.get(name)
    have = len(found.partitions) if found is not None and found.error is None else 0
    if have == 0:
        futures = admin.create_topics([NewTopic(name, num_partitions=want, replication_factor=-1)])
        tolerated = "TOPIC_ALREADY_EXISTS"
    elif have < want:
        futures = admin.create_partitions([NewPartitions(name, want)])
        tolerated = "INVALID_PARTITIONS"  # another worker grew it first
    else:
        return
    for future in futures.values():
        try:
            future.result(timeout=timeout)
        except KafkaException as e:
            if tolerated not in str(e):
                raise


def delete_task_topic(admin: AdminClient, name: str, timeout: float = 30.0) -> None:
    """Best effort: a task topic holds no data, and a leftover one is harmless."""
    for future in admin.delete_topics([name]).values():
        try:
            future.result(timeout=timeout)
        except KafkaException as e:
            log.warning("could not delete task topic %s: %s", name, e)
