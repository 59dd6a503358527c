import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kconnect.api.types import ConnectorName
from kconnect.errors import ConfigError, DataError
from kconnect.storage.connector_offsets import ConnectorOffsetStore
from kconnect.storage.file_offsets import FileOffsetStore
from kconnect.storage.offsets import (
    MemoryOffsetStore,
    parse_key,
    parse_value,
    serialize_key,
    serialize_value,
)

C = ConnectorName("file-source")


def test_key_and_value_use_kafka_connects_format() -> None:
    assert serialize_key("file-source", {"filename": "/tmp/test.txt"}) == (
        b'["file-source",{"filename":"/tmp/test.txt"}]'
    )
    assert serialize_value({"position": 42}) == b'{"position":42}'
    assert serialize_value(None) is None


json_scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=8)
partitions = st.dictionaries(st.text(max_size=8), json_scalars, max_size=4)


@given(st.text(max_size=20), partitions)
def test_key_round_trip(connector: str, partition: dict[str, object]) -> None:
    assert parse_key(serialize_key(connector, partition)) == (connector, partition)  # type: ignore[arg-type]


@pytest.mark.parametrize("raw", [b"not json", b'{"a":1}', b'["c"]', b"[1,{}]", b'["c",[]]'])
def test_malformed_keys_are_data_errors(raw: bytes) -> None:
    with pytest.raises(DataError, match="offset key"):
        parse_key(raw)


def test_malformed_value() -> None:
    with pytest.raises(DataError, match="not a JSON object"):
        parse_value(b"[1]")


def test_lookup_ignores_partition_key_order() -> None:
    store = MemoryOffsetStore()
    store.put(C, [({"a": 1, "b": 2}, {"pos": 7})])
    assert store.get(C, {"b": 2, "a": 1}) == {"pos": 7}
    assert store.get(ConnectorName("other"), {"a": 1, "b": 2}) is None


def test_none_offset_removes() -> None:
    store = MemoryOffsetStore()
    store.put(C, [({"f": "x"}, {"pos": 1})])
    store.put(C, [({"f": "x"}, None)])
    assert store.connector_offsets(C) == []


def test_file_store_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "offsets" / "connect.offsets"
    store = FileOffsetStore(path)
    store.put(C, [({"filename": "/a"}, {"position": 10}), ({"filename": "/b"}, {"position": 3})])
    store.put(C, [({"filename": "/a"}, {"position": 20})])
    reopened = FileOffsetStore(path)
    assert reopened.get(C, {"filename": "/a"}) == {"position": 20}
    assert reopened.get(C, {"filename": "/b"}) == {"position": 3}
    doc = json.loads(path.read_text())
    assert ['["file-source",{"filename":"/a"}]', '{"position":20}'] in doc["offsets"]
    assert [p.name for p in path.parent.iterdir()] == ["connect.offsets"]  # no temp files left


def test_corrupt_file_is_a_clear_error_not_a_reset(tmp_path: Path) -> None:
    path = tmp_path / "connect.offsets"
    path.write_text("{garbage")
    with pytest.raises(ConfigError, match=r"connect\.offsets is not a kconnect offsets file"):
        FileOffsetStore(path)
    assert path.read_text() == "{garbage"


def test_empty_file_is_empty_store(tmp_path: Path) -> None:
    path = tmp_path / "connect.offsets"
    path.write_text("")
    assert FileOffsetStore(path).connector_offsets(C) == []


class _Refusing(MemoryOffsetStore):
    """A worker's store whose writes fail (a broker that refuses them)."""

    def put(self, connector: ConnectorName, offsets: object) -> None:  # type: ignore[override]
        raise RuntimeError("broker down")


def test_a_connectors_own_store_is_read_first_and_the_workers_for_what_it_lacks() -> None:
    """Kafka Connect's ConnectorOffsetBackingStore: the connector's topic wins; the worker's
    topic answers for partitions the connector's does not hold; the partitions are both's."""
    own, worker = MemoryOffsetStore(), MemoryOffsetStore()
    worker.put(C, [({"f": "a"}, {"position": 1}), ({"f": "b"}, {"position": 2})])
    own.put(C, [({"f": "b"}, {"position": 20}), ({"f": "c"}, {"position": 30})])
    store = ConnectorOffsetStore(own, worker)
    assert store.get(C, {"f": "a"}) == {"position": 1}
    assert store.get(C, {"f": "b"}) == {"position": 20}
    assert store.get(C, {"f": "c"}) == {"position": 30}
    assert store.get(C, {"f": "d"}) is None
    assert sorted(store.connector_offsets(C), key=lambda e: str(e[0])) == [
        ({"f": "a"}, {"position": 1}),
        ({"f": "b"}, {"position": 20}),
        ({"f": "c"}, {"position": 30}),
    ]


def test_a_connectors_own_store_writes_its_topic_then_copies_to_the_workers() -> None:
    own, worker = MemoryOffsetStore(), MemoryOffsetStore()
    store = ConnectorOffsetStore(own, worker)
    store.put(C, [({"f": "a"}, {"position": 5})])
    assert own.get(C, {"f": "a"}) == worker.get(C, {"f": "a"}) == {"position": 5}
    # A tombstone (a reset) removes the partition from both, so no older value shows through.
    store.put(C, [({"f": "a"}, None)])
    assert store.get(C, {"f": "a"}) is None
    assert store.connector_offsets(C) == []


def test_a_failed_copy_to_the_workers_store_is_logged_not_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    own = MemoryOffsetStore()
    store = ConnectorOffsetStore(own, _Refusing())
    store.put(C, [({"f": "a"}, {"position": 5})])
    assert own.get(C, {"f": "a"}) == {"position": 5}
    assert "not copied to the worker's offsets topic: broker down" in caplog.text
