"""The operator's metrics, and the small registry that renders them for Prometheus.

The registry speaks the text exposition format 0.0.4 and nothing else: counters and gauges with
a fixed set of label names, no histograms, no timestamps. The operator's own metrics are defined
here at module level on `REGISTRY`, so a handler imports the object it updates
(`from kconnect_operator.metrics import RECONCILES`) and the health server renders the same
registry on `/metrics`.

Invariants:
- **A series is named by all of its metric's labels.** `inc`/`set` take every label name as a
  keyword and nothing else; a missing or unknown label raises `ValueError` naming it, so a typo
  in a handler fails in its first test instead of silently opening a new series.
- **Counters only go up.** `Counter.inc` refuses a negative amount; a counter series goes away
  only through `remove`, e.g. when its connector is deleted.
- **The output is deterministic.** Metrics render sorted by name and series sorted by their
  label values, so equal states render to equal text.
- **Rendering is safe under concurrent updates.** Each metric keeps a lock; kopf may run sync
  handlers on threads while the event loop renders. A render sees each metric at one instant,
  not the whole registry at one instant.
- **Label values are escaped, never rejected.** A backslash, a double quote and a newline in a
  value render as `\\\\`, `\\"` and `\\n`, so any Kubernetes name or error text is safe.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Iterable, Mapping
from importlib import metadata
from typing import ClassVar, Final

CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"
"""The media type of `Registry.render`'s output."""

RESULT_OK: Final = "ok"
RESULT_ERROR: Final = "error"
"""The values of the `result` label of `RECONCILES`."""

_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")

LabelValues = tuple[str, ...]


class Registry:
    """A set of metrics with distinct names, rendered together."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._metrics: dict[str, _Metric] = {}

    def register(self, metric: _Metric) -> None:
        with self._lock:
            if metric.name in self._metrics:
                raise ValueError(f"a metric named {metric.name!r} is already registered")
            self._metrics[metric.name] = metric

    def render(self) -> str:
        """The text exposition of every metric, sorted by name; empty for an empty registry."""
        with self._lock:
            metrics = sorted(self._metrics.values(), key=lambda m: m.name)
        return "".join(metric.render() for metric in metrics)


class _Metric:
    """One metric: its name, help text, label names, and the value of each series."""

    type_name: ClassVar[str]

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Iterable[str] = (),
        *,
        registry: Registry | None = None,
    ) -> None:
        if not _METRIC_NAME.fullmatch(name):
            raise ValueError(f"invalid metric name {name!r}: expected {_METRIC_NAME.pattern}")
        names = tuple(labelnames)
        for label in names:
            if not _LABEL_NAME.fullmatch(label) or label.startswith("__"):
                raise ValueError(
                    f"invalid label name {label!r} of metric {name!r}: expected "
                    f"{_LABEL_NAME.pattern}, not starting with '__'"
                )
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate label names for metric {name!r}: {names}")
        self.name: Final = name
        self.documentation: Final = documentation
        self.labelnames: Final = names
        self._lock = threading.Lock()
        # An unlabelled metric has exactly one series, present from the start with value 0.
        self._values: dict[LabelValues, float] = {} if names else {(): 0.0}
        if registry is not None:
            registry.register(self)

    def value(self, **labels: str) -> float:
        """The current value of one series; 0 for a series that was never set."""
        key = self._key(labels)
        with self._lock:
            return self._values.get(key, 0.0)

    def remove(self, **labels: str) -> int:
        """Drops every series whose labels match the given ones, and says how many.

        The labels given may be any subset of the label names: `remove(namespace=ns, name=n)`
        drops all states of one connector in a metric labelled `namespace, name, state`, and
        `remove()` drops every series. An unlabelled metric goes back to 0 instead.
        """
        unknown = sorted(set(labels) - set(self.labelnames))
        if unknown:
            raise ValueError(
                f"unknown labels {unknown} for metric {self.name!r}; "
                f"its labels are {list(self.labelnames)}"
            )
        positions = [(self.labelnames.index(k), v) for k, v in labels.items()]
        with self._lock:
            if not self.labelnames:
                self._values[()] = 0.0
                return 1
            doomed = [key for key in self._values if all(key[i] == v for i, v in positions)]
            for key in doomed:
                del self._values[key]
            return len(doomed)

    def render(self) -> str:
        with self._lock:
            series = sorted(self._values.items())
        lines = [
            f"# HELP {self.name} {_escape_help(self.documentation)}\n",
            f"# TYPE {self.name} {self.type_name}\n",
        ]
        for key, value in series:
            lines.append(f"{self.name}{self._render_labels(key)} {_format_value(value)}\n")
        return "".join(lines)

    def _add(self, amount: float, labels: Mapping[str, str]) -> None:
        key = self._key(labels)
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + amount

    def _set(self, value: float, labels: Mapping[str, str]) -> None:
        key = self._key(labels)
        with self._lock:
            self._values[key] = float(value)

    def _key(self, labels: Mapping[str, str]) -> LabelValues:
        if set(labels) != set(self.labelnames):
            missing = sorted(set(self.labelnames) - set(labels))
            unknown = sorted(set(labels) - set(self.labelnames))
            raise ValueError(
                f"metric {self.name!r} takes exactly the labels {list(self.labelnames)}: "
                f"missing {missing}, unknown {unknown}"
            )
        for label, value in labels.items():
            if not isinstance(value, str):
                raise TypeError(
                    f"label {label!r} of metric {self.name!r} must be a str, "
                    f"got {type(value).__name__} {value!r}"
                )
        return tuple(labels[name] for name in self.labelnames)

    def _render_labels(self, key: LabelValues) -> str:
        if not key:
            return ""
        pairs = ",".join(
            f'{name}="{_escape_label_value(value)}"'
            for name, value in zip(self.labelnames, key, strict=True)
        )
        return "{" + pairs + "}"


class Counter(_Metric):
    """A value that only goes up: events since the process started."""

    type_name = "counter"

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        if not amount >= 0:  # also refuses NaN
            raise ValueError(
                f"counter {self.name!r} can only go up: inc({amount!r}) is not allowed"
            )
        self._add(amount, labels)


class Gauge(_Metric):
    """A value that goes up and down: a state observed now."""

    type_name = "gauge"

    def set(self, value: float, **labels: str) -> None:
        self._set(value, labels)

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        self._add(amount, labels)

    def dec(self, amount: float = 1.0, **labels: str) -> None:
        self._add(-amount, labels)


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _escape_label_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _format_value(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(value)


def _version() -> str:
    try:
        return metadata.version("kconnect")
    except metadata.PackageNotFoundError:
        return "unknown"


# --------------------------------------------------------------------------------------------------
# The operator's metrics.

REGISTRY: Final = Registry()

LEADER: Final = Gauge(
    "kconnect_operator_leader",
    "1 when this replica holds the leader lease and runs the handlers, 0 while it stands by.",
    registry=REGISTRY,
)
INFO: Final = Gauge(
    "kconnect_operator_info",
    "Always 1; the version label says which kconnect operator runs.",
    ("version",),
    registry=REGISTRY,
)
RECONCILES: Final = Counter(
    "kconnect_operator_reconcile_total",
    "Reconciliations of a resource kind, by result (ok or error).",
    ("kind", "result"),
    registry=REGISTRY,
)
REST_REQUESTS: Final = Counter(
    "kconnect_operator_rest_requests_total",
    "Requests to the workers' REST APIs, by method and HTTP status code (0 when no response came).",
    ("method", "code"),
    registry=REGISTRY,
)
CONNECTOR_READY: Final = Gauge(
    "kconnect_operator_connector_ready",
    "1 when the connector's Ready condition is True, else 0.",
    ("namespace", "name"),
    registry=REGISTRY,
)
CONNECTOR_TASKS: Final = Gauge(
    "kconnect_operator_connector_tasks",
    "The connector's tasks, by state (RUNNING, PAUSED, FAILED, UNASSIGNED, ...).",
    ("namespace", "name", "state"),
    registry=REGISTRY,
)
CONNECTOR_WORKERS_READY: Final = Gauge(
    "kconnect_operator_connector_workers_ready",
    "The ready worker pods of the connector's cluster.",
    ("namespace", "name"),
    registry=REGISTRY,
)
AUTO_RESTARTS: Final = Counter(
    "kconnect_operator_auto_restarts_total",
    "Restarts of failed connectors or tasks that the operator made on its own.",
    ("namespace", "name"),
    registry=REGISTRY,
)

RESOURCE_SYNCS: Final = Counter(
    "kconnect_operator_resource_syncs_total",
    "Passes of the operator's loop over one resource (its workers, REST state and status), "
    "ok or not.",
    ("kind", "namespace", "name"),
    registry=REGISTRY,
)

PER_CONNECTOR: Final = (
    RESOURCE_SYNCS,
    CONNECTOR_READY,
    CONNECTOR_TASKS,
    CONNECTOR_WORKERS_READY,
    AUTO_RESTARTS,
)
"""The metrics with one or more series per connector, labelled by `namespace` and `name`."""

INFO.set(1, version=_version())


def forget_connector(namespace: str, name: str) -> None:
    """Drops every series of one connector, e.g. once the resource is deleted."""
    for metric in PER_CONNECTOR:
        metric.remove(namespace=namespace, name=name)
