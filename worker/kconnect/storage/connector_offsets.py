"""A source connector's offsets when it has its own `offsets.storage.topic`: Kafka Connect's
`ConnectorOffsetBackingStore` (its connector store plus the worker's global one).

- **Reads** look in the connector's topic first, and in the worker's for partitions the
  connector's topic does not hold (offsets committed before the connector had a topic of its own,
  say). A tombstone in the connector's topic removes the partition there, so the worker's value,
  if any, shows through, as in Java (a reset writes tombstones to both).
- **A connector's partitions** are those of both topics.
- **Writes** go to the connector's topic, and once they are durable there, a copy goes to the
  worker's. The connector's topic is the one that counts: a failed copy is logged, never raised,
  as Java's secondary write.

A connector whose own topic is the worker's topic uses the worker's store alone; one without an
own topic never meets this class, so what it costs is paid only by connectors that have one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from kconnect.api.types import ConnectorName, SourceOffset, SourcePartition
from kconnect.storage.offsets import OffsetStore, canonical_partition

log = logging.getLogger(__name__)


class ConnectorOffsetStore(OffsetStore):
    """The connector's own topic (`primary`) before the worker's (`secondary`). Neither is owned:
    both are shared with other connectors and tasks, so `close` leaves them open."""

    def __init__(self, primary: OffsetStore, secondary: OffsetStore) -> None:
        self.primary = primary
        self.secondary = secondary

    def get(self, connector: ConnectorName, partition: SourcePartition) -> SourceOffset | None:
        found = self.primary.get(connector, partition)
        return found if found is not None else self.secondary.get(connector, partition)

    def connector_offsets(
        self, connector: ConnectorName
    ) -> list[tuple[SourcePartition, SourceOffset]]:
        merged = {
            canonical_partition(p): (p, o) for p, o in self.secondary.connector_offsets(connector)
        }
        merged.update(
            (canonical_partition(p), (p, o)) for p, o in self.primary.connector_offsets(connector)
        )
        return list(merged.values())

    def put(
        self,
        connector: ConnectorName,
        offsets: Iterable[tuple[SourcePartition, SourceOffset | None]],
    ) -> None:
        entries = list(offsets)
        self.primary.put(connector, entries)
        self.copy(connector, entries)

    def copy(
        self,
        connector: ConnectorName,
        offsets: list[tuple[SourcePartition, SourceOffset | None]],
    ) -> None:
        """The worker's copy of offsets already durable in the connector's topic; a failure is
        logged: the connector's topic, read first, holds them."""
        try:
            self.secondary.put(connector, offsets)
        except Exception as e:  # noqa: BLE001 - a copy; the write that counts has been made
            log.warning(
                "connector %s: offsets written to its own offsets topic but not copied to the "
                "worker's offsets topic: %s",
                connector,
                e,
            )

    def read_to_end(
        self, timeout: float = 30.0, *, interrupted: Callable[[], bool] | None = None
    ) -> None:
        self.primary.read_to_end(timeout, interrupted=interrupted)
        self.secondary.read_to_end(timeout, interrupted=interrupted)
