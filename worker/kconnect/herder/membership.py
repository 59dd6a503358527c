"""This worker's seat in the cluster's consumer group.

Every worker of a cluster joins one consumer group (`group.id`) and subscribes to the task
topics of the cluster's connectors. Kafka's group coordinator detects members and failures and
hands out partitions; the partitions a worker holds are the tasks it runs. The cooperative-sticky
assignor moves only the partitions that must move, so a rebalance never stops unrelated tasks.

The membership owns one consumer, used only on its own thread. The herder reacts to changes
through three callbacks, which run on that thread inside `poll()`:

- `on_assign(partitions)`: new work; it may return at once.
- `on_revoke(partitions)`: work moves elsewhere; it must return only once those tasks have been
  drained and committed, because the group gives the partitions to another worker only after
  this returns. That is what keeps two workers from running one task.
- `on_lost(partitions)`: this worker was dropped from the group (a missed session timeout, say);
  the tasks must stop without committing, since another worker may already own them.

Each assignment carries the group's generation (`generation`, read from the consumer's group
metadata). Statuses are stamped with it, so that a worker that lost a task cannot overwrite the
state its new owner reported (Kafka Connect's `putSafe`).

The group uses the classic protocol, because its session timeout is the client's to choose
(`session.timeout.ms`, Kafka Connect's default 10 s), while KIP-848's is set by the broker (45 s
by default). The task topics carry no records; the consumer is there for the group.

A missing ACL (on the group, or on a task topic the worker subscribes to) is no error librdkafka
gets past by retrying: it is kept in `failure`, saying which ACL, and `wait_joined` returns at
once instead of waiting out its timeout, so a worker that cannot join says why within seconds.
"""

from __future__ import annotations

import logging
import queue
import sys
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException

from kconnect.worker import client_errors

log = logging.getLogger(__name__)
CLIENT_LOG = logging.getLogger("kconnect.librdkafka")

TopicPartition = tuple[str, int]
Callback = Callable[[frozenset[TopicPartition]], None]


_GROUP_METADATA_MAGIC = b"CGMDv2:"
_FAILURE_CHECK_S = 0.2


def group_generation(metadata: bytes) -> int | None:
    """The generation id in librdkafka's serialized consumer group metadata, or None.

    The format (`rd_kafka_consumer_group_metadata_write`) is `CGMDv2:`, the generation as a
    32-bit integer in the host's byte order, then the group id, member id and instance id. None
    for anything else, or for -1 (not a member).
    """
    magic = _GROUP_METADATA_MAGIC
    if not metadata.startswith(magic) or len(metadata) < len(magic) + 4:
        return None
    raw = metadata[len(magic) : len(magic) + 4]
    generation = int.from_bytes(raw, sys.byteorder, signed=True)
    return generation if generation >= 0 else None


class RebalanceStats:
    """The group rebalances this worker has been through, for `/metrics`.

    Kafka Connect's `connect-worker-rebalance-metrics`, read from the group's own callbacks:
    a rebalance is complete when the group hands out an assignment (every rebalance does, with
    an empty one for a worker whose tasks did not change), and this worker is rebalancing from
    the moment tasks are taken from it (or from its start, until it first joins) until then.
    Only the membership thread writes; a scrape reads the attributes one by one.
    """

    __slots__ = ("completed", "last_completed", "rebalancing")

    def __init__(self) -> None:
        self.completed = 0
        self.rebalancing = True  # joining the group is this worker's first rebalance
        self.last_completed: float | None = None
        """`time.monotonic()` when the last rebalance completed; None before the first."""

    def started(self) -> None:
        self.rebalancing = True

    def finished(self) -> None:
        self.completed += 1
        self.rebalancing = False
        self.last_completed = time.monotonic()


class Membership:
    def __init__(
        self,
        client_config: Mapping[str, str],
        *,
        group_id: str,
        client_id: str,
        anchor_topic: str,
        session_timeout_ms: int,
        heartbeat_interval_ms: int,
        rebalance_timeout_ms: int,
        on_assign: Callback,
        on_revoke: Callback,
        on_lost: Callback,
    ) -> None:
        self._conf: dict[str, Any] = {
            **client_config,
            "group.id": group_id,
            "client.id": client_id,
            "group.protocol": "classic",
            "partition.assignment.strategy": "cooperative-sticky",
            "session.timeout.ms": str(session_timeout_ms),
            "heartbeat.interval.ms": str(heartbeat_interval_ms),
            "max.poll.interval.ms": str(max(rebalance_timeout_ms, session_timeout_ms)),
            "enable.auto.commit": "false",
            "auto.offset.reset": "latest",
            # Notice new task topics and added partitions quickly.
            "topic.metadata.refresh.interval.ms": "2000",
            "logger": CLIENT_LOG,
            "error_cb": self._on_error,
        }
        # The config topic always exists: with no connector, the worker is a member through it.
        self._anchor = anchor_topic
        self._on_assign = on_assign
        self._on_revoke = on_revoke
        self._on_lost = on_lost
        self._commands: queue.SimpleQueue[list[str] | None] = queue.SimpleQueue()
        self._topics: list[str] = [anchor_topic]
        self._thread = threading.Thread(target=self._run, name="membership", daemon=True)
        self._joined = threading.Event()
        self._stopped = threading.Event()
        self.failure: str | None = None
        """Why this worker cannot be a member: a missing ACL (see `client_errors`)."""
        self.assigned: frozenset[TopicPartition] = frozenset()
        self.generation = 0
        """The group generation of the last assignment (0 before the first)."""
        self.rebalance = RebalanceStats()

    # --- any thread
    def start(self) -> None:
        self._thread.start()

    @property
    def joined(self) -> bool:
        """True once the group has answered with an assignment (possibly empty)."""
        return self._joined.is_set()

    def wait_joined(self, timeout: float) -> bool:
        """True once joined; False after `timeout`, or as soon as `failure` is known."""
        deadline = time.monotonic() + timeout
        while not self._joined.wait(min(_FAILURE_CHECK_S, max(deadline - time.monotonic(), 0))):
            if self.failure is not None or time.monotonic() >= deadline:
                return False
        return True

    def set_topics(self, topics: list[str]) -> None:
        """Subscribe to these task topics (the change is made on the membership thread).

        With no task topic the worker subscribes to the anchor (the config topic) alone, so it
        is still a member. The anchor is dropped as soon as there is a task topic: as one more
        partition to hand out it would unbalance the task assignment.
        """
        wanted = sorted(set(topics)) or [self._anchor]
        if wanted != self._topics:
            self._topics = wanted
            if self._thread.is_alive():
                self._commands.put(wanted)

    def stop(self, timeout: float) -> None:
        """Leave the group: revokes everything (through on_revoke), then closes."""
        if not self._thread.is_alive():
            return
        self._commands.put(None)
        self._thread.join(timeout)

    # --- the membership thread
    def _run(self) -> None:
        consumer = Consumer(self._conf)
        try:
            self._subscribe(consumer, self._topics)
            while True:
                try:
                    command = self._commands.get_nowait()
                except queue.Empty:
                    command = []
                if command is None:
                    break
                if command:
                    self._subscribe(consumer, command)
                for msg in consumer.consume(100, 0.2):
                    err = msg.error()
                    if err is not None and err.code() not in (
                        KafkaError._PARTITION_EOF,
                        KafkaError.UNKNOWN_TOPIC_OR_PART,
                    ):
                        self._on_error(err)
        except Exception:
            log.exception("group membership failed")
            raise
        finally:
            try:
                consumer.close()  # leaves the group; on_revoke runs for what is left
            finally:
                self._stopped.set()

    def _subscribe(self, consumer: Any, topics: list[str]) -> None:
        consumer.subscribe(
            topics,
            on_assign=self._assigned_cb,
            on_revoke=self._revoked_cb,
            on_lost=self._lost_cb,
        )

    def _parts(self, consumer: Any, partitions: list[Any]) -> frozenset[TopicPartition]:
        found = frozenset((p.topic, p.partition) for p in partitions)
        anchor = [p for p in partitions if p.topic == self._anchor]
        if anchor and consumer is not None:
            try:
                consumer.pause(anchor)
            except Exception:  # noqa: BLE001 - pausing is an optimisation only
                log.debug("could not pause %s", anchor)
        return frozenset(tp for tp in found if tp[0] != self._anchor)

    def _assigned_cb(self, consumer: Any, partitions: list[Any]) -> None:
        try:
            generation = group_generation(consumer.consumer_group_metadata())
        except KafkaException:  # the generation only orders status writes
            log.debug("could not read the group generation", exc_info=True)
            generation = None
        if generation is not None:
            self.generation = generation
        added = self._parts(consumer, partitions)
        self.assigned = self.assigned | added
        self.rebalance.finished()
        self._joined.set()
        if added:
            log.info("assigned %d task partitions: %s", len(added), sorted(added))
        self._on_assign(added)

    def _revoked_cb(self, consumer: Any, partitions: list[Any]) -> None:
        removed = self._parts(None, partitions)
        self.assigned = self.assigned - removed
        self.rebalance.started()
        if removed:
            log.info("revoked %d task partitions: %s", len(removed), sorted(removed))
            self._on_revoke(removed)

    def _lost_cb(self, consumer: Any, partitions: list[Any]) -> None:
        lost = self._parts(None, partitions)
        self.assigned = self.assigned - lost
        self.rebalance.started()
        if lost:
            log.warning("lost %d task partitions: %s", len(lost), sorted(lost))
            self._on_lost(lost)

    def _on_error(self, err: KafkaError) -> None:
        log.warning("group membership: %s", err)
        hint = client_errors.authorization_hint(err.code())
        if hint is not None and self.failure is None:
            self.failure = f"{hint} ({err.str()})"
