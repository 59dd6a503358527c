"""Every failure answers Kafka Connect's `{"error_code": N, "message": ...}` with status N."""

from __future__ import annotations

import io
import logging
from typing import Any

import pytest

from kconnect.herder.errors import (
    AlreadyExistsError,
    BadRequestError,
    ConflictError,
    HerderError,
    NotFoundError,
    NotReadyError,
)
from tests.unit.rest.rest_support import FakeHerder, call, error_of, send, with_client


@pytest.fixture
def herder() -> FakeHerder:
    h = FakeHerder()
    h.add("src")
    return h


# --- herder errors keep their status


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (BadRequestError("Connector configuration is invalid"), 400),
        (NotFoundError("Connector src not found"), 404),
        (AlreadyExistsError("Connector src already exists"), 409),
        (ConflictError("Cannot complete request because of a rebalance"), 409),
        (NotReadyError("Worker is still starting"), 503),
        (HerderError("Topic tracking is disabled.", 403), 403),
        (HerderError("Request timed out"), 500),
    ],
)
def test_herder_errors_map_to_their_status(
    herder: FakeHerder, error: HerderError, status: int
) -> None:
    herder.fail["connector_status"] = error
    reply = call(herder, "GET", "/connectors/src/status")
    assert reply.status == status
    assert error_of(reply) == error.message


@pytest.mark.parametrize(
    ("method", "path", "herder_method", "kwargs"),
    [
        ("GET", "/connectors", "connectors", {}),
        ("POST", "/connectors", "put_connector_config", {"json": {"name": "n", "config": {}}}),
        ("GET", "/connectors/src", "connector_info", {}),
        ("DELETE", "/connectors/src", "delete_connector", {}),
        ("GET", "/connectors/src/config", "connector_config", {}),
        ("PUT", "/connectors/src/config", "put_connector_config", {"json": {}}),
        ("PATCH", "/connectors/src/config", "patch_connector_config", {"json": {}}),
        ("POST", "/connectors/src/restart", "restart_connector", {}),
        ("PUT", "/connectors/src/pause", "set_target_state", {}),
        ("PUT", "/connectors/src/resume", "set_target_state", {}),
        ("PUT", "/connectors/src/stop", "set_target_state", {}),
        ("GET", "/connectors/src/tasks", "task_configs", {}),
        ("GET", "/connectors/src/tasks/0/status", "task_status", {}),
        ("POST", "/connectors/src/tasks/0/restart", "restart_task", {}),
        ("GET", "/connectors/src/topics", "connector_topics", {}),
        ("PUT", "/connectors/src/topics/reset", "reset_connector_topics", {}),
        ("GET", "/connectors/src/offsets", "connector_offsets", {}),
        (
            "PATCH",
            "/connectors/src/offsets",
            "alter_connector_offsets",
            {"json": {"offsets": [{"partition": {}, "offset": {}}]}},
        ),
        ("DELETE", "/connectors/src/offsets", "reset_connector_offsets", {}),
        ("GET", "/connector-plugins", "connector_plugins", {}),
        ("GET", "/connector-plugins/FileStreamSink/config", "plugin_config", {}),
        (
            "PUT",
            "/connector-plugins/X/config/validate",
            "validate_connector_config",
            {"json": {"connector.class": "X"}},
        ),
        ("GET", "/", "server_info", {}),
        ("GET", "/health", "health", {}),
    ],
)
def test_every_endpoint_maps_herder_errors(
    herder: FakeHerder, method: str, path: str, herder_method: str, kwargs: dict[str, Any]
) -> None:
    herder.fail[herder_method] = ConflictError(f"{herder_method} conflicts")
    reply = call(herder, method, path, **kwargs)
    assert reply.status == 409
    assert error_of(reply) == f"{herder_method} conflicts"


def test_unexpected_exception_is_500_with_its_message_and_logged(
    herder: FakeHerder, caplog: pytest.LogCaptureFixture
) -> None:
    herder.fail["connector_info"] = RuntimeError("the store went away")
    with caplog.at_level(logging.ERROR, logger="kconnect.rest.app"):
        reply = call(herder, "GET", "/connectors/src")
    assert reply.status == 500
    assert error_of(reply) == "the store went away"
    [record] = [r for r in caplog.records if r.name == "kconnect.rest.app"]
    assert record.exc_info is not None
    assert "GET /connectors/src" in record.getMessage()


def test_unexpected_exception_without_a_message_names_its_type(herder: FakeHerder) -> None:
    herder.fail["connector_info"] = KeyError()
    reply = call(herder, "GET", "/connectors/src")
    assert reply.status == 500
    assert error_of(reply) == "KeyError"


# --- routing


def test_unknown_path_is_404_in_the_error_shape(herder: FakeHerder) -> None:
    reply = call(herder, "GET", "/nope")
    assert reply.status == 404
    assert "/nope" in error_of(reply)


def test_task_id_that_is_not_an_integer_is_404(herder: FakeHerder) -> None:
    reply = call(herder, "GET", "/connectors/src/tasks/abc/status")
    assert reply.status == 404
    error_of(reply)
    assert herder.called("task_status") == []


def test_wrong_method_is_405_in_the_error_shape(herder: FakeHerder) -> None:
    reply = call(herder, "POST", "/connectors/src/status")
    assert reply.status == 405
    message = error_of(reply)
    assert "POST" in message
    assert "GET" in message
    assert reply.headers["Allow"] == "GET"


def test_wrong_method_on_a_path_with_several_lists_them(herder: FakeHerder) -> None:
    reply = call(herder, "POST", "/connectors/src/config")
    assert reply.status == 405
    error_of(reply)
    assert reply.headers["Allow"] == "GET, PATCH, PUT"


# --- malformed bodies


def test_body_that_is_not_json_is_400_naming_where(herder: FakeHerder) -> None:
    reply = call(
        herder,
        "POST",
        "/connectors",
        data=b'{"name": "x",\n "config": {"a": "b",}}',
        headers={"Content-Type": "application/json"},
    )
    assert reply.status == 400
    message = error_of(reply)
    assert message.startswith("Request body is not valid JSON")
    assert "line 2, column" in message
    assert herder.called("put_connector_config") == []


def test_empty_body_is_400(herder: FakeHerder) -> None:
    reply = call(herder, "PUT", "/connectors/src/config", data=b"")
    assert reply.status == 400
    assert "empty" in error_of(reply)


def test_body_that_is_not_utf8_is_400(herder: FakeHerder) -> None:
    reply = call(herder, "PUT", "/connectors/src/config", data=b'{"a": "\xff"}')
    assert reply.status == 400
    assert "UTF-8" in error_of(reply)


def test_nan_is_not_json(herder: FakeHerder) -> None:
    reply = call(herder, "PUT", "/connectors/src/config", data=b'{"a": NaN}')
    assert reply.status == 400
    assert "NaN" in error_of(reply)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/connectors"),
        ("PUT", "/connectors/src/config"),
        ("PATCH", "/connectors/src/config"),
        ("PATCH", "/connectors/src/offsets"),
        ("PUT", "/connector-plugins/X/config/validate"),
        ("PUT", "/admin/loggers/kconnect"),
    ],
)
def test_body_that_is_not_an_object_is_400(herder: FakeHerder, method: str, path: str) -> None:
    reply = call(herder, method, path, json=["a", "b"])
    assert reply.status == 400
    assert "must be a JSON object, not an array" in error_of(reply)


@pytest.mark.parametrize(
    ("method", "path"),
    [("PUT", "/connectors/src/config"), ("PATCH", "/connectors/src/config")],
)
def test_config_value_that_is_an_object_is_400_naming_the_key(
    herder: FakeHerder, method: str, path: str
) -> None:
    reply = call(herder, method, path, json={"transforms": "t", "nested": {"a": 1}})
    assert reply.status == 400
    message = error_of(reply)
    assert "'nested'" in message
    assert "must be a string, number or boolean, not an object" in message


def test_config_value_that_is_null_is_400_outside_patch(herder: FakeHerder) -> None:
    reply = call(herder, "PUT", "/connectors/src/config", json={"topic": None})
    assert reply.status == 400
    message = error_of(reply)
    assert "'topic'" in message
    assert "null" in message


def test_put_config_with_another_name_is_400(herder: FakeHerder) -> None:
    reply = call(herder, "PUT", "/connectors/src/config", json={"name": "other"})
    assert reply.status == 400
    assert error_of(reply) == (
        "Connector name configuration (other) doesn't match connector name in the URL (src)"
    )
    assert herder.called("put_connector_config") == []


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"config": {}}, "Field 'name' in request body is missing or empty"),
        ({"name": "", "config": {}}, "Field 'name' in request body is missing or empty"),
        ({"name": "   ", "config": {}}, "Field 'name' in request body is missing or empty"),
        ({"name": None, "config": {}}, "Field 'name' in request body is missing or empty"),
        ({"name": ["x"], "config": {}}, "Field 'name' in request body must be a string"),
        ({"name": "x"}, "Field 'config' in request body is missing"),
        ({"name": "x", "config": None}, "Field 'config' in request body is missing"),
        ({"name": "x", "config": "a=b"}, "'config' must be a JSON object, not a string"),
        ({"name": "x", "config": {"k": [1]}}, "Value of 'k' in 'config' must be a string"),
        (
            {"name": "x", "config": {"name": "y"}},
            "Connector name configuration (y) doesn't match connector name in the request body (x)",
        ),
        ({"name": "x", "configs": {}}, "Unknown field 'configs' in request body"),
        ({"name": "x", "config": {}, "initial_state": "GONE"}, "invalid initial_state 'GONE'"),
        ({"name": "x", "config": {}, "initial_state": 1}, "Field 'initial_state' in request"),
    ],
)
def test_malformed_create_request_is_400(
    herder: FakeHerder, body: dict[str, Any], expected: str
) -> None:
    reply = call(herder, "POST", "/connectors", json=body)
    assert reply.status == 400
    assert expected in error_of(reply)
    assert herder.called("put_connector_config") == []


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({}, "Partitions / offsets need to be provided for an alter offsets request"),
        ({"offsets": []}, "Partitions / offsets need to be provided for an alter offsets request"),
        ({"offsets": {"a": 1}}, "Field 'offsets' in request body must be an array"),
        ({"offsets": [1]}, "offsets[0] must be a JSON object, not a number"),
        ({"offsets": [{"offset": {}}]}, "Field 'partition' of offsets[0] must be a JSON object"),
        (
            {"offsets": [{"partition": {}, "offset": {}}, {"partition": {}, "offset": 5}]},
            "Field 'offset' of offsets[1] must be a JSON object or null, not a number",
        ),
    ],
)
def test_malformed_offsets_are_400(herder: FakeHerder, body: dict[str, Any], expected: str) -> None:
    reply = call(herder, "PATCH", "/connectors/src/offsets", json=body)
    assert reply.status == 400
    assert expected in error_of(reply)
    assert herder.called("alter_connector_offsets") == []


def test_body_too_large_is_413_in_the_error_shape(herder: FakeHerder) -> None:
    body = io.BytesIO(b'{"a": "' + b"x" * 2_000_000 + b'"}')
    reply = call(herder, "PUT", "/connectors/src/config", data=body)
    assert reply.status == 413
    error_of(reply)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"name": "x", "config": {"a": "\\ud800"}}', "surrogate"),
        (b'{"name": "x", "config": {"a": "b\\udc00"}}', "surrogate"),
        (b'{"name": "\\ud800", "config": {}}', "surrogate"),
        (b'{"name": "x", "config": {"a": ' + b"[" * 50_000 + b"]" * 50_000 + b"}}", "deep"),
        (b'{"name": "x", "config": {"tasks.max": ' + b"9" * 4_301 + b"}}", "4,300 digits"),
    ],
    ids=["surrogate", "low-surrogate", "surrogate-name", "deep", "long-integer"],
)
@pytest.mark.parametrize(
    ("method", "path", "herder_call"),
    [
        ("POST", "/connectors", "put_connector_config"),
        ("PUT", "/connectors/x/config", "put_connector_config"),
        ("PATCH", "/connectors/x/config", "patch_connector_config"),
        ("PUT", "/connector-plugins/X/config/validate", "validate_connector_config"),
    ],
)
def test_unreadable_json_is_400_and_reaches_nothing(
    herder: FakeHerder, body: bytes, expected: str, method: str, path: str, herder_call: str
) -> None:
    """A body Python's json module would read into a value that fails later (half a surrogate
    pair), or fail on with a RecursionError or a ValueError without position, is a 400 naming
    the line and column; the herder is never called, so nothing is created or changed."""
    reply = call(herder, method, path, data=body, headers={"Content-Type": "application/json"})
    assert reply.status == 400
    message = error_of(reply)
    assert message.startswith("Request body is not valid JSON")
    assert expected in message
    assert "line 1, column" in message
    assert herder.called(herder_call) == []


def test_a_surrogate_pair_is_one_character(herder: FakeHerder) -> None:
    reply = call(
        herder,
        "POST",
        "/connectors",
        data=b'{"name": "x", "config": {"connector.class": "C", "a": "\\ud83d\\ude00"}}',
    )
    assert reply.status == 201
    ((args, _),) = herder.called("put_connector_config")
    assert args[1]["a"] == "\U0001f600"


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "application/octet-stream", "text/json"],
)
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/connectors"),
        ("PUT", "/connectors/x/config"),
        ("PATCH", "/connectors/x/config"),
        ("PUT", "/connector-plugins/X/config/validate"),
        ("PUT", "/admin/loggers/kconnect"),
    ],
)
def test_a_body_that_is_not_sent_as_json_is_415(
    herder: FakeHerder, content_type: str, method: str, path: str
) -> None:
    """As Kafka Connect's resources consume only application/json."""
    body = b'{"name": "x", "config": {"connector.class": "C"}}'
    reply = call(herder, method, path, data=body, headers={"Content-Type": content_type})
    assert reply.status == 415
    assert error_of(reply) == "HTTP 415 Unsupported Media Type"
    assert herder.called("put_connector_config") == []


@pytest.mark.parametrize("content_type", ["application/json", "Application/JSON; charset=UTF-8"])
def test_json_with_parameters_is_accepted(herder: FakeHerder, content_type: str) -> None:
    body = b'{"name": "x", "config": {"connector.class": "C"}}'
    reply = call(herder, "POST", "/connectors", data=body, headers={"Content-Type": content_type})
    assert reply.status == 201


@pytest.mark.parametrize(
    ("plugin", "included", "ok"),
    [
        ("FileStreamSource", "org.apache.kafka.connect.file.FileStreamSourceConnector", True),
        ("FileStreamSourceConnector", "FileStreamSource", True),
        ("FileStreamSource", "FileStreamSource", True),
        ("FileStreamSource", "org.apache.kafka.connect.file.FileStreamSinkConnector", False),
        ("org.apache.kafka.connect.file.FileStreamSinkConnector", "FileStreamSink", False),
    ],
)
def test_validate_checks_the_class_against_the_path(
    herder: FakeHerder, plugin: str, included: str, ok: bool
) -> None:
    """Kafka Connect's rule: the body's connector.class must end with the path's plugin name,
    `Connector` suffixes aside; otherwise a 400 and nothing is validated."""
    reply = call(
        herder,
        "PUT",
        f"/connector-plugins/{plugin}/config/validate",
        json={"connector.class": included, "name": "v"},
    )
    if ok:
        assert reply.status == 200
        assert len(herder.called("validate_connector_config")) == 1
    else:
        assert reply.status == 400
        assert error_of(reply) == (
            f"Included connector type {included} does not match request type {plugin}"
        )
        assert herder.called("validate_connector_config") == []


def test_validate_without_a_connector_class_is_400(herder: FakeHerder) -> None:
    reply = call(herder, "PUT", "/connector-plugins/X/config/validate", json={"name": "v"})
    assert reply.status == 400
    assert "contains no connector type" in error_of(reply)


def test_a_body_with_no_content_type_is_415(herder: FakeHerder) -> None:
    async def scenario(client: Any) -> Any:
        # aiohttp's client adds no Content-Type to bytes passed through a payload this way.
        from aiohttp import payload

        body = payload.BytesPayload(b'{"name": "x", "config": {}}', content_type="")
        return await send(client, "POST", "/connectors", data=body, headers={})

    reply = with_client(herder, scenario)
    assert reply.status == 415
