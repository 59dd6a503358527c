"""Single message transforms and predicates: the API a transform is written against.

A transform changes one record at a time, between the connector and the converter (sources) or
between the converter and the connector (sinks). It returns a new record, made with the record's
own `new_record`, or `None` to drop it. It never changes the record it was given: the runtime may
still need the original, for a dead-letter queue or for the source offset.

A predicate decides whether a transform applies to a record (`transforms.<t>.predicate`, with
`transforms.<t>.negate`).

Both are configured from the keys under their alias with the prefix removed
(`transforms.mask.fields=ssn` reaches `configure` as `fields=ssn`). A class describes those keys
with a pydantic `config_model`, whose field aliases are the dotted keys, exactly as connectors do;
`configure` raises `ConfigError` naming the key, the value and what was expected. Instances run
on one task's thread, so they need no locking; they must be cheap, because they run per record.

A transform or predicate raises `DataError` for a record it cannot handle (a missing field, a
value of the wrong type), and `RetriableError` for a fault that may pass. The runtime's error
handling (`errors.tolerance`, `errors.retry.timeout`) decides what happens next.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import ClassVar, Generic, TypeVar

from kconnect.api.config import ConnectorConfig
from kconnect.api.records import ConnectRecord

R = TypeVar("R", bound=ConnectRecord)


class TransformConfig(ConnectorConfig):
    """The base of a transform's or predicate's config model: no keys of its own."""


class _RecordPlugin(ABC):
    """What a transform and a predicate share: a config model, a version, `configure` and
    `close`. The two stay siblings, never one a subclass of the other, since the plugin registry
    tells a transform from a predicate by subclass."""

    config_model: ClassVar[type[ConnectorConfig]] = TransformConfig

    def version(self) -> str:
        from kconnect.api.connector import package_version  # noqa: PLC0415

        return package_version()

    @abstractmethod
    def configure(self, configs: Mapping[str, str]) -> None:
        """Read this plugin's keys (the `transforms.<alias>.` or `predicates.<alias>.` prefix
        removed)."""

    def close(self) -> None:
        """Release what `configure` acquired."""


class Transformation(_RecordPlugin, Generic[R]):
    """A single message transform. Subclasses set `config_model` to describe their keys."""

    @abstractmethod
    def apply(self, record: R) -> R | None:
        """The transformed record, or None to drop it."""


class Predicate(_RecordPlugin, Generic[R]):
    """A condition on a record, used to apply a transform only to some records."""

    @abstractmethod
    def test(self, record: R) -> bool: ...
