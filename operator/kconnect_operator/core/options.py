"""What the operator process was told on its command line, shared by its handlers.

The CLI builds one `OperatorOptions` and hands it to kopf through the memo, so handlers read it as
`memo.options` and never look at the environment themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

DEFAULT_IMAGE: Final = "ghcr.io/kconnect/kconnect:latest"
"""The worker image used when a KafkaConnector names none; the chart sets it per release."""


@dataclass(frozen=True, slots=True)
class OperatorOptions:
    image: str = DEFAULT_IMAGE
    """The worker image for resources whose spec names none."""
    operator_namespace: str = "default"
    """Where the operator runs: the NetworkPolicy lets its pods reach the workers."""
    operator_labels: Mapping[str, str] = field(
        default_factory=lambda: {"app.kubernetes.io/name": "kconnect-operator"}
    )
    """The labels of the operator's pods, for the NetworkPolicy."""
    sync_interval_s: float = 10.0
    """How often each connector's REST state and status are refreshed without an event."""
    rest_timeout_s: float = 10.0
    """The timeout of one request to a worker's REST API."""
    restart_backoff_s: float = 10.0
    """The first auto-restart backoff; it doubles per restart up to `restart_backoff_max_s`."""
    restart_backoff_max_s: float = 600.0
    namespaces: tuple[str, ...] = ()
    """The namespaces served; empty for all of them."""
    instance: str = "default/kconnect-operator"
    """This operator install's name, claimed on each resource it reconciles (the annotation
    `kconnect.io/operator`): a resource another install claimed is left alone. By default the
    Lease's `<namespace>/<name>`, which two installs never share."""
