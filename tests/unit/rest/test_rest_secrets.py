"""No REST answer holds a resolved config provider value: a probe through every endpoint that
echoes a config or a message, against the real app over a real standalone herder and worker.

The worker's broker is an address nobody listens on: nothing here needs Kafka, because the
connectors probed are either rejected or left STOPPED. Every secret carries the marker `S3CRET`,
which survives any quoting (repr, JSON), so finding the marker anywhere in an answer is a leak;
the secrets end in a newline (as a mounted Secret's file does) and hold quotes, backslashes and
non-ASCII text, the cases a search-and-replace of the resolved text misses.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from confluent_kafka.admin import AdminClient

from kconnect.config.worker import StandaloneConfig
from kconnect.herder.standalone import StandaloneHerder
from kconnect.plugins.registry import default_registry
from kconnect.rest import build_app
from kconnect.storage.file_offsets import FileOffsetStore
from kconnect.storage.status import MemoryStatusStore
from kconnect.worker.worker import Worker
from tests.support.secrets import MARKER, bad_configs, leaks, provider_props, write_secrets
from tests.unit.rest.rest_support import Reply, send


@pytest.fixture
def secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return write_secrets(tmp_path, monkeypatch)


def _worker_props(tmp_path: Path) -> dict[str, str]:
    return {
        "bootstrap.servers": "127.0.0.1:9",
        "offset.storage.file.filename": str(tmp_path / "offsets"),
        **provider_props(),
    }


@contextmanager
def _standalone(props: dict[str, str]) -> Iterator[StandaloneHerder]:
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
    with _standalone(_worker_props(secrets)) as h:
        yield h


def _leaks(reply: Reply) -> list[str]:
    return leaks(reply.text)


def _run(herder: StandaloneHerder, scenario: Any) -> Any:
    async def main() -> Any:
        async with TestClient(TestServer(build_app(herder))) as client:
            return await scenario(client)

    return asyncio.run(main())


def test_validate_and_rejected_writes_never_answer_a_resolved_value(
    herder: StandaloneHerder, secrets: Path
) -> None:
    configs = bad_configs(secrets / "mounted", secrets / "db.properties")

    async def scenario(client: TestClient[Any, Any]) -> dict[str, list[tuple[str, Reply]]]:
        replies: dict[str, list[tuple[str, Reply]]] = {}
        # One good connector, left STOPPED, so PUT and PATCH of an existing one are probed too.
        good = {"connector.class": "FileStreamSink", "topics": "t", "file": "/dev/null"}
        created = await send(
            client,
            "POST",
            "/connectors",
            json={"name": "kept", "config": good, "initial_state": "STOPPED"},
        )
        assert created.status == 201, created.text
        for what, config in configs.items():
            replies[what] = [
                (
                    "validate",
                    await send(
                        client,
                        "PUT",
                        "/connector-plugins/FileStreamSink/config/validate",
                        json=config,
                    ),
                ),
                (
                    "POST",
                    await send(client, "POST", "/connectors", json={"name": "c", "config": config}),
                ),
                ("PUT new", await send(client, "PUT", "/connectors/c/config", json=config)),
                ("PUT", await send(client, "PUT", "/connectors/kept/config", json=config)),
                ("PATCH", await send(client, "PATCH", "/connectors/kept/config", json=config)),
            ]
        return replies

    replies = _run(herder, scenario)
    for what, answers in replies.items():
        for endpoint, reply in answers:
            assert not _leaks(reply), (what, endpoint, reply.text)
            if endpoint == "validate" and configs[what].get("connector.class") != "FileStreamSink":
                # As in Kafka Connect, the class as written is compared with the path's.
                assert reply.status == 400, (what, reply.text)
                assert "does not match request type" in reply.text
            elif endpoint == "validate":
                assert reply.status == 200, (what, reply.text)
                assert isinstance(reply.body, dict)
                assert reply.body["error_count"] > 0, (what, reply.text)
            else:
                assert reply.status == 400, (what, endpoint, reply.text)


def test_validate_shows_values_and_the_connector_name_as_written(
    herder: StandaloneHerder, secrets: Path
) -> None:
    d = secrets / "mounted"
    config = {
        "connector.class": f"${{dir:{d}:class}}",
        "topics": "t",
        "tasks.max": f"${{dir:{d}:tasks}}",
    }

    async def scenario(client: TestClient[Any, Any]) -> list[Reply]:
        path = "/connector-plugins/FileStreamSink/config/validate"
        return [
            await send(client, "PUT", path, json=config),
            await send(client, "PUT", path, json={**config, "connector.class": "FileStreamSink"}),
        ]

    mismatch, reply = _run(herder, scenario)
    # The class as written is compared with the path's, as Kafka Connect does: a variable never
    # matches, and the answer names it as written.
    assert mismatch.status == 400
    assert isinstance(mismatch.body, dict)
    assert config["connector.class"] in mismatch.body["message"]
    assert not _leaks(mismatch)
    assert isinstance(reply.body, dict)
    assert reply.body["name"] == "org.apache.kafka.connect.file.FileStreamSinkConnector"
    values = {c["value"]["name"]: c["value"] for c in reply.body["configs"]}
    # A value that does not parse is shown as null, as Kafka Connect shows it.
    assert values["tasks.max"]["value"] is None
    # The check ran on the resolved value, and says so with the variable as written.
    assert values["tasks.max"]["errors"] == [
        f"invalid value {config['tasks.max']!r} for key 'tasks.max': expected an integer"
    ]


def test_accepted_configs_are_served_as_written(herder: StandaloneHerder, secrets: Path) -> None:
    d = secrets / "mounted"
    (d / "sink").write_text(str(secrets / "S3CRET-out.txt") + "\n", "utf-8")
    config = {
        "connector.class": "FileStreamSink",
        "topics": "t",
        "file": f"${{dir:{d}:sink}}",
        "consumer.override.client.id": "${env:KC_SECRET_ENV}",
    }

    async def scenario(client: TestClient[Any, Any]) -> list[Reply]:
        out = [
            await send(
                client,
                "POST",
                "/connectors",
                json={"name": "s", "config": config, "initial_state": "STOPPED"},
            )
        ]
        for path in (
            "/connectors/s",
            "/connectors/s/config",
            "/connectors/s/status",
            "/connectors/s/tasks",
            "/connectors?expand=info&expand=status",
            "/connector-plugins",
            "/connector-plugins/FileStreamSink/config",
        ):
            out.append(await send(client, "GET", path))
        out.append(
            await send(
                client, "PUT", "/connector-plugins/FileStreamSink/config/validate", json=config
            )
        )
        return out

    replies = _run(herder, scenario)
    assert replies[0].status == 201, replies[0].text
    for reply in replies:
        assert reply.status == 200 or reply is replies[0], reply.text
        assert not _leaks(reply), reply.text
    assert isinstance(replies[2].body, dict)
    assert replies[2].body["file"] == config["file"]


# --- client overrides that load code, run commands, reach URLs or read files


def _override_replies(herder: StandaloneHerder, config: dict[str, str]) -> list[Reply]:
    async def scenario(client: TestClient[Any, Any]) -> list[Reply]:
        return [
            await send(
                client, "PUT", "/connector-plugins/FileStreamSink/config/validate", json=config
            ),
            await send(
                client,
                "POST",
                "/connectors",
                json={"name": "o", "config": config, "initial_state": "STOPPED"},
            ),
        ]

    result: list[Reply] = _run(herder, scenario)
    return result


def test_an_override_reaching_a_url_the_worker_does_not_allow_is_a_400_naming_the_key(
    herder: StandaloneHerder,
) -> None:
    key = "producer.override.sasl.oauthbearer.token.endpoint.url"
    config = {
        "connector.class": "FileStreamSink",
        "topics": "t",
        "consumer.override.plugin.library.paths": "/tmp/evil.so",
        key: "${env:KC_SECRET_ENV}",
    }
    validated, created = _override_replies(herder, config)
    assert isinstance(validated.body, dict)
    errors = {c["value"]["name"]: c["value"]["errors"] for c in validated.body["configs"]}
    assert errors[key] == [
        f"invalid value '${{env:KC_SECRET_ENV}}' for key '{key}': "
        "sasl.oauthbearer.token.endpoint.url makes the worker send credentials to that URL; "
        "expected a URL the worker's connector.client.config.override.allowed.urls lists "
        "(now: none)"
    ]
    assert (
        "'consumer.override.plugin.library.paths'"
        in errors["consumer.override.plugin.library.paths"][0]
    )
    assert created.status == 400
    assert isinstance(created.body, dict)
    assert key in created.body["message"]
    assert "consumer.override.plugin.library.paths" in created.body["message"]
    assert MARKER not in validated.text + created.text


def test_the_worker_config_allows_an_override_url(secrets: Path) -> None:
    url = "https://idp.example/oauth2/token"
    props = {
        **_worker_props(secrets),
        "connector.client.config.override.allowed.urls": f"https://other.example/, {url}",
    }
    config = {
        "name": "o",
        "connector.class": "FileStreamSink",
        "topics": "t",
        "producer.override.sasl.oauthbearer.token.endpoint.url": url,
    }
    with _standalone(props) as h:
        validated, created = _override_replies(h, config)
    assert isinstance(validated.body, dict)
    assert validated.body["error_count"] == 0, validated.text
    assert created.status == 201, created.text
