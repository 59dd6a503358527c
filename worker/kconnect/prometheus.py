"""A small Prometheus registry: metrics kept here, and metrics gathered when they are scraped.

The registry speaks the text exposition format 0.0.4 and nothing else: counters, gauges and
summaries without quantiles, no timestamps. It is shared by the worker (`/metrics` on its REST
listener) and the operator (`/metrics` on its health port), and imports nothing else of kconnect,
so both can build on it.

A value gets into the output in one of two ways:

- **Kept here**: a `Counter` or `Gauge` registered on the `Registry` holds its series and is
  updated where the event happens (`RECONCILES.inc(kind=..., result="ok")`).
- **Gathered at scrape time**: a collector registered with `Registry.register_collector` is a
  callable that returns `Family` objects built from values it reads right then. The worker's
  task metrics work this way: the task threads update plain attributes, and nothing is copied
  per record or per batch; a scrape reads them.

Invariants:
- **A series is named by all of its metric's labels.** `inc`/`set`/`add` take every label name
  as a keyword and nothing else; a missing or unknown label raises `ValueError` naming it, so a
  typo fails in its first test instead of silently opening a new series.
- **Counters only go up.** `Counter.inc` refuses a negative amount; a counter series goes away
  only through `remove`, e.g. when its connector is deleted.
- **The output is deterministic.** Families render sorted by name and series sorted by their
  label values, so equal states render to equal text. Two families of one name (a kept metric
  and a collected one, say) are a programming error: `render` raises `ValueError` naming it.
- **Rendering is safe under concurrent updates.** Each kept metric has a lock, since updates
  come from other threads while the event loop renders. A render sees each metric at one
  instant, not the whole registry at one instant. A collector is called on the rendering thread
  and must only read.
- **Label values are escaped, never rejected.** A backslash, a double quote and a newline in a
  value render as `\\\\`, `\\"` and `\\n`, so any connector name or error text is safe.

Why not `prometheus_client`: its text exposition (0.0.4 and OpenMetrics alike) writes every
counter as `<name>_total`, so Kafka Connect's counters whose names do not end in `_total`
(`task-error-metrics`' `total-retries` is `kconnect_task_error_total_retries`, six more like it)
would be renamed under the dashboards built on them; its kept counters also add a
`<name>_created` family each. The task metrics cost the hot path nothing either way (they are
plain attributes read at scrape time, see `kconnect.herder.worker_metrics`), so the choice is
only about the output, and the output must not change.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import ClassVar, Final, Literal

CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"
"""The media type of `Registry.render`'s output."""

MetricType = Literal["counter", "gauge", "summary"]

_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_SUFFIXES: Final[Mapping[str, frozenset[str]]] = {
    "counter": frozenset({""}),
    "gauge": frozenset({""}),
    "summary": frozenset({"_sum", "_count"}),
}
"""The sample name suffixes each type allows: a summary has `<name>_sum` and `<name>_count`."""

LabelValues = tuple[str, ...]


def _check_names(name: str, labelnames: tuple[str, ...]) -> None:
    if not _METRIC_NAME.fullmatch(name):
        raise ValueError(f"invalid metric name {name!r}: expected {_METRIC_NAME.pattern}")
    for label in labelnames:
        if not _LABEL_NAME.fullmatch(label) or label.startswith("__"):
            raise ValueError(
                f"invalid label name {label!r} of metric {name!r}: expected "
                f"{_LABEL_NAME.pattern}, not starting with '__'"
            )
    if len(set(labelnames)) != len(labelnames):
        raise ValueError(f"duplicate label names for metric {name!r}: {labelnames}")


def _label_key(name: str, labelnames: tuple[str, ...], labels: Mapping[str, str]) -> LabelValues:
    """The values of `labels` in the order of `labelnames`, which they must match exactly."""
    if set(labels) != set(labelnames):
        missing = sorted(set(labelnames) - set(labels))
        unknown = sorted(set(labels) - set(labelnames))
        raise ValueError(
            f"metric {name!r} takes exactly the labels {list(labelnames)}: "
            f"missing {missing}, unknown {unknown}"
        )
    for label, value in labels.items():
        if not isinstance(value, str):
            raise TypeError(
                f"label {label!r} of metric {name!r} must be a str, "
                f"got {type(value).__name__} {value!r}"
            )
    return tuple(labels[label] for label in labelnames)


class Family:
    """One metric as it is rendered: name, type, help, label names and samples.

    A collector builds one per metric at scrape time and `add`s a sample per series; a summary
    gets two samples per series, `suffix="_sum"` and `suffix="_count"`.
    """

    def __init__(
        self,
        name: str,
        type_name: MetricType,
        documentation: str,
        labelnames: Iterable[str] = (),
    ) -> None:
        names = tuple(labelnames)
        _check_names(name, names)
        self.name: Final = name
        self.type_name: Final = type_name
        self.documentation: Final = documentation
        self.labelnames: Final = names
        self._samples: dict[tuple[LabelValues, str], float] = {}

    def add(self, value: float, *, suffix: str = "", **labels: str) -> None:
        if suffix not in _SUFFIXES[self.type_name]:
            allowed = sorted(_SUFFIXES[self.type_name])
            raise ValueError(
                f"a {self.type_name} sample of {self.name!r} cannot have the suffix {suffix!r}; "
                f"expected one of {allowed}"
            )
        sample = (_label_key(self.name, self.labelnames, labels), suffix)
        if sample in self._samples:
            raise ValueError(f"metric {self.name!r} already has the sample {labels}{suffix}")
        self._samples[sample] = value

    @property
    def samples(self) -> list[tuple[dict[str, str], str, float]]:
        """(labels, suffix, value) of every sample, in the order they were added."""
        return [
            (dict(zip(self.labelnames, key, strict=True)), suffix, value)
            for (key, suffix), value in self._samples.items()
        ]

    def render(self) -> str:
        lines = [
            f"# HELP {self.name} {_escape_help(self.documentation)}\n",
            f"# TYPE {self.name} {self.type_name}\n",
        ]
        for (key, suffix), value in sorted(self._samples.items(), key=lambda s: s[0]):
            lines.append(f"{self.name}{suffix}{self._render_labels(key)} {_format_value(value)}\n")
        return "".join(lines)

    def _render_labels(self, key: LabelValues) -> str:
        if not key:
            return ""
        pairs = ",".join(
            f'{name}="{_escape_label_value(value)}"'
            for name, value in zip(self.labelnames, key, strict=True)
        )
        return "{" + pairs + "}"


Collector = Callable[[], Iterable[Family]]
"""Called at each scrape, on the rendering thread; returns the families it read just then."""


class Registry:
    """A set of metrics and collectors with distinct names, rendered together."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._metrics: dict[str, _Metric] = {}
        self._collectors: list[Collector] = []

    def register(self, metric: _Metric) -> None:
        with self._lock:
            if metric.name in self._metrics:
                raise ValueError(f"a metric named {metric.name!r} is already registered")
            self._metrics[metric.name] = metric

    def register_collector(self, collector: Collector) -> None:
        with self._lock:
            self._collectors.append(collector)

    def collect(self) -> list[Family]:
        """Every family, kept and gathered, sorted by name; `ValueError` on a name twice."""
        with self._lock:
            metrics = list(self._metrics.values())
            collectors = list(self._collectors)
        families = [metric.collect() for metric in metrics]
        for collector in collectors:
            families.extend(collector())
        seen: set[str] = set()
        for family in families:
            if family.name in seen:
                raise ValueError(f"two metrics are named {family.name!r}")
            seen.add(family.name)
        return sorted(families, key=lambda f: f.name)

    def render(self) -> str:
        """The text exposition of every metric, sorted by name; empty for an empty registry."""
        return "".join(family.render() for family in self.collect())


class _Metric:
    """One kept metric: its name, help text, label names, and the value of each series."""

    type_name: ClassVar[MetricType]

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Iterable[str] = (),
        *,
        registry: Registry | None = None,
    ) -> None:
        names = tuple(labelnames)
        _check_names(name, names)
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
        key = _label_key(self.name, self.labelnames, labels)
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

    def collect(self) -> Family:
        """The metric's series as they are now."""
        family = Family(self.name, self.type_name, self.documentation, self.labelnames)
        with self._lock:
            series = list(self._values.items())
        for key, value in series:
            family.add(value, **dict(zip(self.labelnames, key, strict=True)))
        return family

    def render(self) -> str:
        return self.collect().render()

    def _add(self, amount: float, labels: Mapping[str, str]) -> None:
        key = _label_key(self.name, self.labelnames, labels)
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + amount

    def _set(self, value: float, labels: Mapping[str, str]) -> None:
        key = _label_key(self.name, self.labelnames, labels)
        with self._lock:
            self._values[key] = float(value)


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
    if float(value).is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(float(value))
