"""Filter: drop every record it is applied to.

Kafka Connect's `org.apache.kafka.connect.transforms.Filter`. It has no keys of its own and is
meant to be used with a predicate, which decides which records it sees:

    transforms=dropTombstones
    transforms.dropTombstones.type=org.apache.kafka.connect.transforms.Filter
    transforms.dropTombstones.predicate=isTombstone
    predicates=isTombstone
    predicates.isTombstone.type=org.apache.kafka.connect.transforms.predicates.RecordIsTombstone

Without a predicate it drops every record. A dropped source record is never written, and its
offset is committed with those around it; a dropped sink record is never given to the task, and
its offset is committed as consumed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from kconnect.api.records import ConnectRecord
from kconnect.api.transform import Transformation, TransformConfig

R = TypeVar("R", bound=ConnectRecord)


class Filter(Transformation[R]):
    """Drops all records, filtering them from subsequent transformations in the chain."""

    config_model = TransformConfig

    def configure(self, configs: Mapping[str, str]) -> None:
        TransformConfig.parse(configs)

    def apply(self, record: R) -> None:
        return None
