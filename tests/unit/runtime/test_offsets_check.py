"""The connector's own check of offsets the REST API writes (KIP-875's `alterOffsets`), through a
real standalone herder with its offsets file: what the connector is asked, what is written, and
the answer, for each way a connector can answer. Sinks are asked before the consumer group is
touched, so a refusing sink needs no broker (the herder's admin client points at none)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from confluent_kafka.admin import AdminClient

from kconnect.config.redaction import Redactor
from kconnect.config.worker import StandaloneConfig
from kconnect.errors import ConnectError
from kconnect.herder.errors import HerderError
from kconnect.herder.offsets_check import ask_connector, modified_message
from kconnect.herder.standalone import StandaloneHerder
from kconnect.plugins.registry import default_registry
from kconnect.rest import build_app
from kconnect.storage.file_offsets import FileOffsetStore
from kconnect.storage.status import MemoryStatusStore
from kconnect.worker.worker import Worker
from tests.support import offsets_connectors as oc
from tests.support.secrets import MARKER, provider_props, write_secrets
from tests.unit.rest.rest_support import Reply, error_of, send

ALTERED = "The offsets for this connector have been altered successfully"
RESET = "The offsets for this connector have been reset successfully"
FRAMEWORK_ALTERED = (
    "The Connect framework-managed offsets for this connector have been altered successfully. "
    "However, if this connector manages offsets externally, they will need to be manually "
    "altered in the system that the connector uses."
)
FRAMEWORK_RESET = (
    "The Connect framework-managed offsets for this connector have been reset successfully. "
    "However, if this connector manages offsets externally, they will need to be manually "
    "reset in the system that the connector uses."
)
OFFSETS = {"offsets": [{"partition": {"p": "a"}, "offset": {"n": 1}}]}


# --- the answer, pure --------------------------------------------------------------------------


def test_the_answers_are_kafka_connects() -> None:
    assert modified_message(True, reset=False) == ALTERED
    assert modified_message(True, reset=True) == RESET
    assert modified_message(False, reset=False) == FRAMEWORK_ALTERED
    assert modified_message(False, reset=True) == FRAMEWORK_RESET


@pytest.mark.parametrize(
    ("connector", "agreed"),
    [(oc.AgreeingSource, True), (oc.DefaultSource, False), (oc.TruthySource, False)],
)
def test_only_true_is_agreement(connector: type[oc._Source], agreed: bool) -> None:
    def ask(c: Any) -> object:
        return c.alter_offsets({}, [])

    assert ask_connector(connector, "c", "source", ask, Redactor()) is agreed


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (ConnectError("bad position"), "bad position"),
        (
            NotImplementedError(),
            "Failed to modify offsets for connector c because it doesn't support external "
            "modification of offsets",
        ),
        (ValueError("oops"), "Failed to modify offsets for sink connector c: ValueError: oops"),
    ],
)
def test_a_refusal_is_a_500_with_the_connectors_message(
    error: Exception, message: str, caplog: pytest.LogCaptureFixture
) -> None:
    def ask(c: Any) -> object:
        raise error

    with pytest.raises(HerderError) as info:
        ask_connector(oc.DefaultSink, "c", "sink", ask, Redactor())
    assert (info.value.status, info.value.message) == (500, message)
    assert message in caplog.text


def test_a_connector_that_cannot_be_made_is_a_refusal() -> None:
    def make() -> Any:
        raise RuntimeError("no constructor today")

    with pytest.raises(HerderError, match="source connector c: RuntimeError: no constructor"):
        ask_connector(make, "c", "source", lambda c: True, Redactor())


# --- through the standalone herder -------------------------------------------------------------


@pytest.fixture
def secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return write_secrets(tmp_path, monkeypatch)


@contextmanager
def _standalone(tmp_path: Path) -> Iterator[StandaloneHerder]:
    props = {
        "bootstrap.servers": "127.0.0.1:9",
        "offset.storage.file.filename": str(tmp_path / "offsets"),
        **provider_props(),
    }
    config = StandaloneConfig.parse(props)
    offsets = FileOffsetStore(config.offset_storage_file_filename)
    worker = Worker("standalone", props, config, default_registry(), offsets, MemoryStatusStore())
    h = StandaloneHerder(
        worker,
        admin=AdminClient({"bootstrap.servers": "127.0.0.1:9", "log_level": "0"}),
        kafka_cluster_id="c",
        version="test",
    )
    h.mark_ready()
    try:
        yield h
    finally:
        h.stop()
        offsets.close()


@pytest.fixture
def herder(secrets: Path) -> Iterator[StandaloneHerder]:
    oc.CALLS.clear()
    with _standalone(secrets) as h:
        yield h


def _run(herder: StandaloneHerder, *requests: tuple[Any, ...]) -> list[Reply]:
    """Create each connector STOPPED, then send the requests in order."""

    async def main() -> list[Reply]:
        async with TestClient(TestServer(build_app(herder))) as client:
            return [
                await send(client, r[0], r[1], **(r[2] if len(r) > 2 else {})) for r in requests
            ]

    return asyncio.run(main())


def _create(name: str, connector_class: str, **config: str) -> tuple[Any, ...]:
    body = {
        "name": name,
        "config": {"connector.class": connector_class, **config},
        "initial_state": "STOPPED",
    }
    return ("POST", "/connectors", {"json": body})


def _patch(name: str, body: object = OFFSETS) -> tuple[Any, ...]:
    return ("PATCH", f"/connectors/{name}/offsets", {"json": body})


def _offsets(name: str) -> tuple[Any, ...]:
    return ("GET", f"/connectors/{name}/offsets")


def _delete(name: str) -> tuple[Any, ...]:
    return ("DELETE", f"/connectors/{name}/offsets")


@pytest.mark.parametrize(
    ("connector", "altered", "reset"),
    [("AgreeingSource", ALTERED, RESET), ("DefaultSource", FRAMEWORK_ALTERED, FRAMEWORK_RESET)],
)
def test_a_source_is_asked_before_its_offsets_are_written(
    herder: StandaloneHerder, secrets: Path, connector: str, altered: str, reset: str
) -> None:
    d = secrets / "mounted"
    created, patched, after_patch, deleted, after_reset, reset_again = _run(
        herder,
        _create("c", f"{oc.PATH}:{connector}", **{"secret.key": f"${{dir:{d}:tasks}}"}),
        _patch("c"),
        _offsets("c"),
        _delete("c"),
        _offsets("c"),
        _delete("c"),
    )
    assert created.status == 201, created.text
    assert (patched.status, patched.body) == (200, {"message": altered})
    assert after_patch.body == OFFSETS
    assert (deleted.status, deleted.body) == (200, {"message": reset})
    assert after_reset.body == {"offsets": []}
    # A reset with nothing to reset asks the connector too, with no partitions, as Java does.
    assert (reset_again.status, reset_again.body) == (200, {"message": reset})
    assert [(name, offsets) for name, _, offsets in oc.CALLS] == [
        (connector, [({"p": "a"}, {"n": 1})]),
        (connector, [({"p": "a"}, None)]),
        (connector, []),
    ]
    # The config is the connector's as its tasks get it: variables resolved, `name` included.
    config = oc.CALLS[0][1]
    assert config["name"] == "c"
    assert config["secret.key"] == f"{MARKER}-tasks\n"


def test_a_refused_alter_or_reset_writes_nothing(herder: StandaloneHerder) -> None:
    writes = [
        ("PATCH", "/connectors/ok/offsets", {"json": OFFSETS}),
        (
            "PUT",
            "/connectors/ok/config",
            {"json": {"connector.class": f"{oc.PATH}:RefusingSource"}},
        ),
    ]
    replies = _run(
        herder,
        _create("ok", f"{oc.PATH}:AgreeingSource"),
        *writes,
        ("PUT", "/connectors/ok/stop"),
        _patch("ok", {"offsets": [{"partition": {"p": "a"}, "offset": {"n": 2}}]}),
        _delete("ok"),
        _offsets("ok"),
    )
    assert [r.status for r in replies[:4]] == [201, 200, 200, 204], [r.text for r in replies]
    refused_alter, refused_reset, kept = replies[4:]
    assert (refused_alter.status, error_of(refused_alter)) == (500, "refused")
    assert (refused_reset.status, error_of(refused_reset)) == (500, "refused")
    assert kept.body == OFFSETS
    assert [(name, offsets) for name, _, offsets in oc.CALLS] == [
        ("AgreeingSource", [({"p": "a"}, {"n": 1})]),
        ("RefusingSource", [({"p": "a"}, {"n": 2})]),
        ("RefusingSource", [({"p": "a"}, None)]),
    ]


def test_a_refusal_quoting_a_secret_shows_the_variable(
    herder: StandaloneHerder, secrets: Path, caplog: pytest.LogCaptureFixture
) -> None:
    d = secrets / "mounted"
    caplog.set_level(logging.DEBUG)
    variable = f"${{dir:{d}:passwd}}"
    _, refused = _run(
        herder,
        _create("r", f"{oc.PATH}:RefusingSource", **{oc.REFUSE_MESSAGE: variable}),
        _patch("r"),
    )
    assert refused.status == 500
    assert error_of(refused) == variable
    assert MARKER not in caplog.text


def test_a_source_offset_holding_an_object_or_a_list_is_refused_before_the_connector(
    herder: StandaloneHerder,
) -> None:
    nested = {"offsets": [{"partition": {"p": "a"}, "offset": {"n": {"deep": 1}}}]}
    listed = {"offsets": [{"partition": {"p": ["a"]}, "offset": {"n": 1}}]}
    _, in_offset, in_partition, offsets = _run(
        herder,
        _create("n", f"{oc.PATH}:AgreeingSource"),
        _patch("n", nested),
        _patch("n", listed),
        _offsets("n"),
    )
    assert (in_offset.status, error_of(in_offset)) == (
        500,
        "Offsets may only contain primitive types as values, but field n contains MAP",
    )
    assert (in_partition.status, error_of(in_partition)) == (
        500,
        "Offsets may only contain primitive types as values, but field p contains ARRAY",
    )
    assert offsets.body == {"offsets": []}
    assert oc.CALLS == []


def test_a_broken_or_unsupporting_source_answers_500(herder: StandaloneHerder) -> None:
    replies = _run(
        herder,
        _create("b", f"{oc.PATH}:BrokenSource", **{oc.REFUSE_MESSAGE: "no key"}),
        _patch("b"),
        _create("u", f"{oc.PATH}:UnsupportedSource"),
        _delete("u"),
        _offsets("b"),
    )
    assert (replies[1].status, error_of(replies[1])) == (
        500,
        "Failed to modify offsets for source connector b: KeyError: 'no key'",
    )
    assert (replies[3].status, error_of(replies[3])) == (
        500,
        "Failed to modify offsets for connector u because it doesn't support external "
        "modification of offsets",
    )
    assert replies[4].body == {"offsets": []}


def test_file_stream_source_refuses_what_java_refuses(
    herder: StandaloneHerder, tmp_path: Path
) -> None:
    partition = {"filename": str(tmp_path / "in.txt")}
    good = {"offsets": [{"partition": partition, "offset": {"position": 5}}]}
    bad = {"offsets": [{"partition": partition, "offset": {"position": "5"}}]}
    created, refused, altered, offsets = _run(
        herder,
        _create("f", "FileStreamSource", file=partition["filename"], topic="t"),
        _patch("f", bad),
        _patch("f", good),
        _offsets("f"),
    )
    assert created.status == 201, created.text
    assert refused.status == 500
    assert error_of(refused) == (
        "The value for the 'position' key in the offset is expected to be a Long value"
    )
    assert (altered.status, altered.body) == (200, {"message": ALTERED})
    assert offsets.body == good


def test_a_refusing_sink_is_asked_before_its_group_is_touched(herder: StandaloneHerder) -> None:
    """The admin client reaches no broker: an attempt to write would fail, not answer the
    connector's message."""
    sink = {
        "offsets": [
            {"partition": {"kafka_topic": "t", "kafka_partition": 0}, "offset": {"kafka_offset": 4}}
        ]
    }
    bad = {"offsets": [{"partition": {"kafka_topic": "t"}, "offset": {"kafka_offset": 4}}]}
    created, malformed, refused = _run(
        herder,
        _create("s", f"{oc.PATH}:RefusingSink", topics="t", **{oc.REFUSE_MESSAGE: "not now"}),
        _patch("s", bad),
        _patch("s", sink),
    )
    assert created.status == 201, created.text
    # Offsets that are not a sink's are a 400 before the connector is asked, as in Java.
    assert malformed.status == 400
    assert (refused.status, error_of(refused)) == (500, "not now")
    assert [(name, offsets) for name, _, offsets in oc.CALLS] == [
        ("RefusingSink", {("t", 0): 4}),
    ]
