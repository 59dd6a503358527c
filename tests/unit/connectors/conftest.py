"""Contexts for running connector tasks directly: the runtime's side, reduced to stored offsets."""

from __future__ import annotations

import json
from collections.abc import Mapping

import pytest

from kconnect.api.task import OffsetStorageReader, SourceTaskContext
from kconnect.api.types import SourceOffset, SourcePartition


class DictOffsetReader(OffsetStorageReader):
    """Committed offsets, keyed by the partition's JSON as the offset stores key them."""

    def __init__(self, offsets: Mapping[str, SourceOffset] | None = None) -> None:
        self.stored: dict[str, SourceOffset] = dict(offsets or {})
        self.asked: list[SourcePartition] = []

    @staticmethod
    def key(partition: SourcePartition) -> str:
        return json.dumps(partition, sort_keys=True)

    def store(self, partition: SourcePartition, offset: SourceOffset) -> None:
        self.stored[self.key(partition)] = offset

    def offset(self, partition: SourcePartition) -> SourceOffset | None:
        self.asked.append(partition)
        return self.stored.get(self.key(partition))


class FakeSourceTaskContext(SourceTaskContext):
    def __init__(self, props: Mapping[str, str], reader: DictOffsetReader) -> None:
        self._props = dict(props)
        self._reader = reader

    def configs(self) -> Mapping[str, str]:
        return self._props

    @property
    def offset_storage_reader(self) -> DictOffsetReader:
        return self._reader


@pytest.fixture
def offset_reader() -> DictOffsetReader:
    """The committed offsets a task will find; store some before starting the task."""
    return DictOffsetReader()


@pytest.fixture
def source_context(offset_reader: DictOffsetReader) -> FakeSourceTaskContext:
    return FakeSourceTaskContext({}, offset_reader)
