"""What the built-in sink connectors share: every task takes the connector's own config, and
the connector keeps no offsets of its own, so any consumer offsets may be written
(`PATCH /connectors/{c}/offsets`)."""

from __future__ import annotations

from collections.abc import Mapping

from kconnect.api.connector import SinkConnector
from kconnect.api.types import TopicPartition


class ConfigSharingSinkConnector(SinkConnector):
    """A sink connector whose `start` keeps its props in `_props`."""

    _props: dict[str, str]

    def task_configs(self, max_tasks: int) -> list[dict[str, str]]:
        return [dict(self._props) for _ in range(max_tasks)]

    def alter_offsets(
        self, connector_config: Mapping[str, str], offsets: Mapping[TopicPartition, int | None]
    ) -> bool:
        """Any consumer offsets may be written: the sink keeps no offsets of its own."""
        return True
