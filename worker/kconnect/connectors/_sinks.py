"""What the built-in sink connectors share: every task takes the connector's own config."""

from __future__ import annotations

from kconnect.api.connector import SinkConnector


class ConfigSharingSinkConnector(SinkConnector):
    """A sink connector whose `start` keeps its props in `_props`."""

    _props: dict[str, str]

    def task_configs(self, max_tasks: int) -> list[dict[str, str]]:
        return [dict(self._props) for _ in range(max_tasks)]
