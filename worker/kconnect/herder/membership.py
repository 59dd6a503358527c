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
So is a `session.timeout.ms` the broker refuses (INVALID_SESSION_TIMEOUT).

Static membership (KIP-345, `group.instance.id`): the seat outlives the process. `stop()` closes
the consumer without a LeaveGroup (librdkafka sends none for a static member), so the group
keeps this worker's partitions for it until `session.timeout.ms` runs out, and a worker that
comes back with the same id within it gets exactly them back, with no rebalance for anyone
else. `on_revoke` still runs for everything on `stop()`, so the tasks drain and commit as on any
graceful stop. `stop(leave=True)` gives the seat up instead: `unsubscribe()` does send the
LeaveGroup for a static member, so the others take the partitions at once.

A second process joining with the same instance id takes the seat over; the coordinator fences
the older one (FENCED_INSTANCE_ID, which librdkafka makes a fatal consumer error) at its next
heartbeat. The fenced member reports through `on_fatal`, with a message naming the key and the
id, then treats its partitions as lost (`on_lost`: no commit, since their new holder may run
them already) and stops consuming. Until that heartbeat (at most `heartbeat.interval.ms`) both
processes run the tasks, as any two Kafka consumers would.
"""

from __future__ import annotations

import logging
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException

from kconnect.worker import client_errors

log = logging.getLogger(__name__)
CLIENT_LOG = logging.getLogger("kconnect.librdkafka")

TopicPartition = tuple[str, int]
Callback = Callable[[frozenset[TopicPartition]], None]


_GROUP_METADATA_MAGIC = b"CGMDv2:"
_FAILURE_CHECK_S = 0.2
_LEAVE_GRACE_S = 0.5
"""How long a leaving static member keeps polling after its revocation, so that librdkafka
sends the LeaveGroup (queued once the revocation is done) before the consumer closes."""
_TOPIC_CHECK_S = 1.0
"""How often a static member looks for the wanted topics that did not exist yet."""


def fenced_message(group_id: str, instance_id: str | None, err: KafkaError) -> str:
    """What a worker says when its consumer hits a fatal error: the group fenced it off."""
    if instance_id is not None and "fenced" in err.str():
        return (
            f"group.instance.id={instance_id!r} is in use by another worker of group "
            f"{group_id!r}: the broker gave that worker this one's seat and tasks "
            f"(FENCED_INSTANCE_ID), so this worker stopped its tasks without committing. "
            f"Give each worker its own group.instance.id"
        )
    return f"the worker group {group_id!r} fenced this worker off: {err.str()}"


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


def seat_holder_warning(
    members: Iterable[tuple[str | None, str, str]], instance_id: str, client_id: str
) -> str | None:
    """What a static member about to join says when another process holds its seat.

    `members` are the group's (group.instance.id, client.id, host). The seat held under this
    worker's own client id (`connect-<worker id>`) is this worker's previous run: no warning.
    Held under another, it is a duplicate id, or a previous run that advertised another REST
    address; the newcomer cannot tell which, so it says what happens either way.
    """
    for member_instance, member_client, host in members:
        if member_instance == instance_id and member_client != client_id:
            return (
                f"group.instance.id={instance_id!r} is held by another member (client.id "
                f"{member_client!r}, host {host}): this worker takes its seat and tasks over. "
                f"If that is another worker still running, the group fences it off and it "
                f"stops; give each worker its own group.instance.id"
            )
    return None


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


class _Stop:
    """The command that ends the membership thread."""

    __slots__ = ("leave", "timeout")

    def __init__(self, *, leave: bool, timeout: float) -> None:
        self.leave = leave
        self.timeout = timeout


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
        on_fatal: Callable[[str], None],
        group_instance_id: str | None = None,
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
        if group_instance_id is not None:
            self._conf["group.instance.id"] = group_instance_id
        self._session_timeout_ms = session_timeout_ms
        self._group_id = group_id
        self.instance_id = group_instance_id
        """The static member id (`group.instance.id`), or None for a dynamic member."""
        # The config topic always exists: with no connector, the worker is a member through it.
        self._anchor = anchor_topic
        self._on_assign = on_assign
        self._on_revoke = on_revoke
        self._on_lost = on_lost
        self._on_fatal = on_fatal
        self._fatal: str | None = None
        self._commands: queue.SimpleQueue[list[str] | _Stop] = queue.SimpleQueue()
        self._topics: list[str] = [anchor_topic]
        # The membership thread's own: what it was asked for, what it subscribed to, and
        # whether a wanted topic was missing at the last look (a static member's, see
        # `_subscribe`).
        self._wanted: list[str] = [anchor_topic]
        self._subscribed: list[str] = []
        self._missing = False
        self._next_topic_check = 0.0
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

    def stop(self, timeout: float, *, leave: bool = False) -> None:
        """Revoke everything (through on_revoke), then close.

        A dynamic member leaves the group. A static one keeps its seat for `session.timeout.ms`
        unless `leave` is true, which gives it up at once.
        """
        if not self._thread.is_alive():
            return
        self._commands.put(_Stop(leave=leave, timeout=timeout))
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
                if isinstance(command, _Stop):
                    if command.leave and self.instance_id is not None:
                        self._leave(consumer, command.timeout)
                    break
                if command:
                    self._subscribe(consumer, command)
                elif self._missing and time.monotonic() >= self._next_topic_check:
                    self._subscribe(consumer, self._wanted)
                self._consume(consumer)
                if self._fatal is not None:
                    self._fenced(self._fatal)
                    break
        except Exception:
            log.exception("group membership failed")
            raise
        finally:
            try:
                consumer.close()  # leaves the group; on_revoke runs for what is left
            finally:
                self._stopped.set()

    def _consume(self, consumer: Any, timeout: float = 0.2) -> None:
        for msg in consumer.consume(100, timeout):
            err = msg.error()
            if err is not None and err.code() not in (
                KafkaError._PARTITION_EOF,
                KafkaError.UNKNOWN_TOPIC_OR_PART,
            ):
                self._on_error(err)

    def _leave(self, consumer: Any, timeout: float) -> None:
        """A static member gives its seat up: unsubscribing revokes everything and sends the
        LeaveGroup that closing would not."""
        log.info(
            "leaving group %s: giving up group.instance.id=%r", self._group_id, self.instance_id
        )
        consumer.unsubscribe()
        deadline = time.monotonic() + timeout
        while self.assigned and self._fatal is None and time.monotonic() < deadline:
            self._consume(consumer, 0.1)
        grace = min(time.monotonic() + _LEAVE_GRACE_S, deadline)
        while time.monotonic() < grace:
            self._consume(consumer, 0.1)

    def _fenced(self, message: str) -> None:
        """The consumer hit a fatal error: the partitions are someone else's now."""
        lost = self.assigned
        self.assigned = frozenset()
        self._on_fatal(message)
        if lost:
            self._on_lost(lost)

    def _subscribe(self, consumer: Any, topics: list[str]) -> None:
        """Subscribe to `topics`; a static member, only to those that exist yet.

        A static member that got its seat back without a rebalance (a restart within the session
        timeout) is not told it leads the group, so librdkafka never notices a subscribed topic
        being created and no one assigns its partitions. Subscribing once the topic exists
        changes the member's subscription, which makes the coordinator rebalance. Topics not
        there yet are checked for every `_TOPIC_CHECK_S`; until one of the wanted topics exists,
        the member keeps the anchor so that it stays in the group.
        """
        self._wanted = topics
        effective = topics
        if self.instance_id is not None and topics != [self._anchor]:
            existing = self._existing_topics(consumer)
            if existing is not None:
                effective = [t for t in topics if t in existing]
                self._missing = len(effective) < len(topics)
                self._next_topic_check = time.monotonic() + _TOPIC_CHECK_S
                effective = effective or [self._anchor]
        else:
            self._missing = False
        if effective == self._subscribed:
            return
        self._subscribed = effective
        consumer.subscribe(
            effective,
            on_assign=self._assigned_cb,
            on_revoke=self._revoked_cb,
            on_lost=self._lost_cb,
        )

    def _existing_topics(self, consumer: Any) -> set[str] | None:
        """The topics of the cluster, or None when the metadata could not be read (then the
        member subscribes to every wanted topic, as a dynamic member does)."""
        try:
            return set(consumer.list_topics(timeout=_TOPIC_CHECK_S * 5).topics)
        except KafkaException as e:
            log.warning("could not read the cluster's topics (%s); subscribing anyway", e)
            self._missing = False
            return None

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
        if err.fatal() or err.code() in (KafkaError._FATAL, KafkaError.FENCED_INSTANCE_ID):
            # librdkafka's only fatal consumer error: a newer member took this static seat.
            if self._fatal is None:
                self._fatal = fenced_message(self._group_id, self.instance_id, err)
                if self.failure is None:
                    self.failure = self._fatal
            return
        log.warning("group membership: %s", err)
        if err.code() == KafkaError.INVALID_SESSION_TIMEOUT and self.failure is None:
            self.failure = (
                f"session.timeout.ms={self._session_timeout_ms} is outside the range the broker "
                f"accepts (its group.min.session.timeout.ms and group.max.session.timeout.ms, "
                f"6000 and 1800000 by default)"
            )
            return
        hint = client_errors.authorization_hint(err.code())
        if hint is not None and self.failure is None:
            self.failure = f"{hint} ({err.str()})"
