"""Each endpoint: the herder call it makes, the status it answers and the body it renders."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from kconnect.api.types import ConnectorName, TaskId, TaskNumber
from kconnect.herder.model import ConnectorStateInfo, ConnectorType
from kconnect.storage.states import State, StateInfo, TargetState
from tests.unit.rest.rest_support import WORKER, FakeHerder, Reply, call, send, with_client


@pytest.fixture
def herder() -> FakeHerder:
    h = FakeHerder()
    h.add("src", **{"tasks.max": "2"})
    return h


# --- root


def test_root_reports_server_info(herder: FakeHerder) -> None:
    reply = call(herder, "GET", "/")
    assert reply.status == 200
    assert reply.body == {"version": "4.0.0", "commit": "abc123", "kafka_cluster_id": "cluster-1"}
    assert reply.headers["Content-Type"] == "application/json; charset=utf-8"


def test_health_is_200_when_ready(herder: FakeHerder) -> None:
    herder.health_message = "all good"
    reply = call(herder, "GET", "/health")
    assert reply.status == 200
    assert reply.body == {
        "status": "healthy",
        "message": "Worker has completed startup and is ready to handle requests.",
    }


def test_health_is_503_while_starting_without_details(herder: FakeHerder) -> None:
    herder.ready = False
    reply = call(herder, "GET", "/health")
    assert reply.status == 503
    assert reply.body == {"status": "starting", "message": "Worker is still starting up."}


def test_health_is_503_while_starting(herder: FakeHerder) -> None:
    herder.ready = False
    herder.health_message = "Reading the config topic."
    reply = call(herder, "GET", "/health")
    assert reply.status == 503
    assert reply.body == {
        "status": "starting",
        "message": "Worker is still starting up. Reading the config topic.",
    }


# --- listing and expand


def test_list_connectors_gives_names(herder: FakeHerder) -> None:
    herder.add("sink")
    reply = call(herder, "GET", "/connectors")
    assert reply.status == 200
    assert reply.body == ["sink", "src"]


def test_trailing_slash_is_the_same_endpoint(herder: FakeHerder) -> None:
    assert call(herder, "GET", "/connectors/").body == ["src"]
    assert call(herder, "GET", "/connectors/src/status/").status == 200


def test_expand_status_and_info(herder: FakeHerder) -> None:
    reply = call(herder, "GET", "/connectors?expand=status&expand=info")
    assert reply.status == 200
    assert isinstance(reply.body, dict)
    assert set(reply.body) == {"src"}
    entry = reply.body["src"]
    assert isinstance(entry, dict)
    assert set(entry) == {"status", "info"}
    assert entry["status"] == {
        "name": "src",
        "connector": {"state": "RUNNING", "worker_id": WORKER},
        "tasks": [{"id": 0, "state": "FAILED", "worker_id": WORKER, "trace": "Traceback: boom"}],
        "type": "source",
    }
    assert entry["info"] == {
        "name": "src",
        "config": {"name": "src", "connector.class": "X", "tasks.max": "2"},
        "tasks": [{"connector": "src", "task": 0}, {"connector": "src", "task": 1}],
        "type": "source",
    }


def test_expand_only_status(herder: FakeHerder) -> None:
    reply = call(herder, "GET", "/connectors", params=[("expand", "status")])
    assert isinstance(reply.body, dict)
    entry = reply.body["src"]
    assert isinstance(entry, dict)
    assert list(entry) == ["status"]
    assert herder.called("connector_info") == []


def test_expand_ignores_unknown_kinds_but_answers_the_map_form(herder: FakeHerder) -> None:
    reply = call(herder, "GET", "/connectors?expand=bogus")
    assert reply.status == 200
    assert reply.body == {"src": {}}


def test_expand_skips_a_connector_deleted_meanwhile(herder: FakeHerder) -> None:
    herder.add("gone")
    herder.vanish_on_status.add(ConnectorName("gone"))
    reply = call(herder, "GET", "/connectors?expand=status")
    assert isinstance(reply.body, dict)
    assert set(reply.body) == {"src"}


# --- create


def test_create_connector_is_201_with_location(herder: FakeHerder) -> None:
    reply = call(
        herder,
        "POST",
        "/connectors",
        json={"name": "new", "config": {"connector.class": "X", "tasks.max": "1"}},
    )
    assert reply.status == 201
    assert reply.headers["Location"].endswith("/connectors/new")
    assert reply.headers["Location"].startswith("http://")
    assert isinstance(reply.body, dict)
    assert reply.body["name"] == "new"
    assert reply.body["tasks"] == [{"connector": "new", "task": 0}]
    [(args, kwargs)] = herder.called("put_connector_config")
    assert args == ("new", {"connector.class": "X", "tasks.max": "1", "name": "new"})
    assert kwargs == {"allow_replace": False, "initial_state": None}


def test_create_connector_trims_the_name_and_passes_initial_state(herder: FakeHerder) -> None:
    reply = call(
        herder,
        "POST",
        "/connectors",
        json={"name": "  new  ", "config": {"connector.class": "X"}, "initial_state": "stopped"},
    )
    assert reply.status == 201
    [(args, kwargs)] = herder.called("put_connector_config")
    assert args[0] == "new"
    assert args[1]["name"] == "new"
    assert kwargs["initial_state"] is TargetState.STOPPED


def test_create_connector_accepts_a_matching_name_in_config(herder: FakeHerder) -> None:
    reply = call(herder, "POST", "/connectors", json={"name": "new", "config": {"name": "new"}})
    assert reply.status == 201


def test_create_connector_reads_numbers_and_booleans_as_text(herder: FakeHerder) -> None:
    reply = call(
        herder,
        "POST",
        "/connectors",
        json={"name": "new", "config": {"tasks.max": 3, "errors.log.enable": True, "x": 1.5}},
    )
    assert reply.status == 201
    [(args, _)] = herder.called("put_connector_config")
    assert args[1] == {"tasks.max": "3", "errors.log.enable": "true", "x": "1.5", "name": "new"}


def test_create_existing_connector_is_409(herder: FakeHerder) -> None:
    reply = call(herder, "POST", "/connectors", json={"name": "src", "config": {}})
    assert reply.status == 409
    assert reply.body == {"error_code": 409, "message": "Connector src already exists"}


# --- one connector


def test_get_connector(herder: FakeHerder) -> None:
    reply = call(herder, "GET", "/connectors/src")
    assert reply.status == 200
    assert isinstance(reply.body, dict)
    assert reply.body["name"] == "src"
    assert herder.called("connector_info") == [(("src",), {})]


def test_delete_connector_is_204(herder: FakeHerder) -> None:
    reply = call(herder, "DELETE", "/connectors/src")
    assert reply.status == 204
    assert reply.text == ""
    assert herder.called("delete_connector") == [(("src",), {})]


def test_get_connector_config(herder: FakeHerder) -> None:
    reply = call(herder, "GET", "/connectors/src/config")
    assert reply.status == 200
    assert reply.body == {"name": "src", "connector.class": "X", "tasks.max": "2"}


def test_put_config_of_new_connector_is_201(herder: FakeHerder) -> None:
    reply = call(herder, "PUT", "/connectors/new/config", json={"connector.class": "X"})
    assert reply.status == 201
    assert reply.headers["Location"].endswith("/connectors/new")
    [(args, kwargs)] = herder.called("put_connector_config")
    assert args == ("new", {"connector.class": "X", "name": "new"})
    assert kwargs == {"allow_replace": True, "initial_state": None}


def test_put_config_of_existing_connector_is_200(herder: FakeHerder) -> None:
    reply = call(
        herder, "PUT", "/connectors/src/config", json={"name": "src", "connector.class": "Y"}
    )
    assert reply.status == 200
    assert "Location" not in reply.headers
    assert isinstance(reply.body, dict)
    assert reply.body["config"] == {"name": "src", "connector.class": "Y"}


def test_patch_config_passes_null_as_removal(herder: FakeHerder) -> None:
    reply = call(herder, "PATCH", "/connectors/src/config", json={"tasks.max": None, "topic": "t"})
    assert reply.status == 200
    assert herder.called("patch_connector_config") == [
        (("src", {"tasks.max": None, "topic": "t"}), {})
    ]
    assert isinstance(reply.body, dict)
    assert reply.body["config"] == {"name": "src", "connector.class": "X", "topic": "t"}


def test_connector_status(herder: FakeHerder) -> None:
    reply = call(herder, "GET", "/connectors/src/status")
    assert reply.status == 200
    assert isinstance(reply.body, dict)
    assert reply.body["connector"] == {"state": "RUNNING", "worker_id": WORKER}


# --- restart, pause, resume, stop


def test_plain_restart_is_204(herder: FakeHerder) -> None:
    reply = call(herder, "POST", "/connectors/src/restart")
    assert reply.status == 204
    assert herder.called("restart_connector") == [
        (("src",), {"include_tasks": False, "only_failed": False})
    ]


def test_restart_with_tasks_is_202_with_status(herder: FakeHerder) -> None:
    herder.restart_answer = ConnectorStateInfo(
        ConnectorName("src"), StateInfo(State.RESTARTING, WORKER), [], ConnectorType.SOURCE
    )
    reply = call(herder, "POST", "/connectors/src/restart?includeTasks=true&onlyFailed=TRUE")
    assert reply.status == 202
    assert reply.body == {
        "name": "src",
        "connector": {"state": "RESTARTING", "worker_id": WORKER},
        "tasks": [],
        "type": "source",
    }
    assert herder.called("restart_connector") == [
        (("src",), {"include_tasks": True, "only_failed": True})
    ]


def test_restart_flags_other_than_true_are_false(herder: FakeHerder) -> None:
    call(herder, "POST", "/connectors/src/restart?includeTasks=yes&onlyFailed=1")
    assert herder.called("restart_connector") == [
        (("src",), {"include_tasks": False, "only_failed": False})
    ]


@pytest.mark.parametrize(
    ("action", "status", "state"),
    [
        ("pause", 202, TargetState.PAUSED),
        ("resume", 202, TargetState.STARTED),
        ("stop", 204, TargetState.STOPPED),
    ],
)
def test_target_state_changes(
    herder: FakeHerder, action: str, status: int, state: TargetState
) -> None:
    reply = call(herder, "PUT", f"/connectors/src/{action}")
    assert reply.status == status
    assert reply.text == ""
    assert herder.called("set_target_state") == [(("src", state), {})]


# --- tasks


def test_task_configs(herder: FakeHerder) -> None:
    reply = call(herder, "GET", "/connectors/src/tasks")
    assert reply.status == 200
    assert reply.body == [
        {"id": {"connector": "src", "task": 0}, "config": {"task.class": "XTask"}},
        {"id": {"connector": "src", "task": 1}, "config": {"task.class": "XTask"}},
    ]


def test_task_status(herder: FakeHerder) -> None:
    reply = call(herder, "GET", "/connectors/src/tasks/0/status")
    assert reply.status == 200
    assert reply.body == {"id": 0, "state": "RUNNING", "worker_id": WORKER}
    assert herder.called("task_status") == [((TaskId(ConnectorName("src"), TaskNumber(0)),), {})]


def test_restart_task_is_204(herder: FakeHerder) -> None:
    reply = call(herder, "POST", "/connectors/src/tasks/1/restart")
    assert reply.status == 204
    assert herder.called("restart_task") == [((TaskId(ConnectorName("src"), TaskNumber(1)),), {})]


# --- topics and offsets


def test_topics_are_keyed_by_connector(herder: FakeHerder) -> None:
    reply = call(herder, "GET", "/connectors/src/topics")
    assert reply.status == 200
    assert reply.body == {"src": {"topics": ["orders", "payments"]}}


def test_topics_reset_is_202(herder: FakeHerder) -> None:
    reply = call(herder, "PUT", "/connectors/src/topics/reset")
    assert reply.status == 202
    assert herder.called("reset_connector_topics") == [(("src",), {})]


def test_get_offsets(herder: FakeHerder) -> None:
    reply = call(herder, "GET", "/connectors/src/offsets")
    assert reply.status == 200
    assert reply.body == {
        "offsets": [{"partition": {"filename": "/tmp/in"}, "offset": {"position": 42}}]
    }


def test_alter_offsets_passes_entries_and_answers_the_message(herder: FakeHerder) -> None:
    offsets = [
        {"partition": {"filename": "/tmp/in"}, "offset": {"position": 7}},
        {"partition": {"filename": "/tmp/old"}, "offset": None},
        {"partition": {"filename": "/tmp/none"}},
    ]
    reply = call(herder, "PATCH", "/connectors/src/offsets", json={"offsets": offsets})
    assert reply.status == 200
    assert reply.body == {
        "message": "The offsets for this connector have been altered successfully"
    }
    [(args, _)] = herder.called("alter_connector_offsets")
    assert args == (
        "src",
        [
            {"partition": {"filename": "/tmp/in"}, "offset": {"position": 7}},
            {"partition": {"filename": "/tmp/old"}, "offset": None},
            {"partition": {"filename": "/tmp/none"}, "offset": None},
        ],
    )


def test_reset_offsets_answers_the_message(herder: FakeHerder) -> None:
    reply = call(herder, "DELETE", "/connectors/src/offsets")
    assert reply.status == 200
    assert reply.body == {"message": "The offsets for this connector have been reset successfully"}


# --- plugins


def test_plugins_default_to_connectors_only(herder: FakeHerder) -> None:
    reply = call(herder, "GET", "/connector-plugins")
    assert reply.status == 200
    assert reply.body == [
        {
            "class": "kconnect.connectors.file.FileStreamSinkConnector",
            "type": "sink",
            "version": "0.1.0",
        },
        {
            "class": "kconnect.connectors.file.FileStreamSourceConnector",
            "type": "source",
            "version": "0.1.0",
        },
    ]
    assert herder.called("connector_plugins") == [((True,), {})]


def test_plugins_with_connectors_only_false_lists_all(herder: FakeHerder) -> None:
    reply = call(herder, "GET", "/connector-plugins?connectorsOnly=false")
    assert isinstance(reply.body, list)
    assert len(reply.body) == 3
    assert herder.called("connector_plugins") == [((False,), {})]


def test_plugin_config(herder: FakeHerder) -> None:
    reply = call(herder, "GET", "/connector-plugins/FileStreamSink/config")
    assert reply.status == 200
    assert reply.body == [
        {
            "name": "topics",
            "type": "LIST",
            "required": True,
            "default_value": None,
            "importance": "HIGH",
            "documentation": "Topics to read",
            "group": None,
            "width": "NONE",
            "display_name": "topics",
            "dependents": [],
            "order": -1,
        }
    ]


def test_plugin_config_of_unknown_plugin_is_404(herder: FakeHerder) -> None:
    reply = call(herder, "GET", "/connector-plugins/Nope/config")
    assert reply.status == 404
    assert reply.body == {"error_code": 404, "message": "Unknown plugin Nope."}


def test_validate_passes_plugin_and_config(herder: FakeHerder) -> None:
    reply = call(
        herder,
        "PUT",
        "/connector-plugins/FileStreamSink/config/validate",
        json={"connector.class": "FileStreamSink", "topics": "t", "file": None, "tasks.max": 1},
    )
    assert reply.status == 200
    assert isinstance(reply.body, dict)
    assert reply.body["name"] == "FileStreamSink"
    assert reply.body["error_count"] == 0
    assert herder.called("validate_connector_config") == [
        (
            (
                {"connector.class": "FileStreamSink", "topics": "t", "tasks.max": "1"},
                "FileStreamSink",
            ),
            {},
        )
    ]


# --- names in paths


def test_names_in_paths_are_percent_decoded(herder: FakeHerder) -> None:
    herder.add("a/b c")

    async def scenario(client: TestClient[Any, Any]) -> list[Reply]:
        return [
            await send(client, "GET", "/connectors/a%2Fb%20c/status"),
            await send(client, "POST", "/connectors/a%2Fb%20c/tasks/0/restart"),
            await send(client, "DELETE", "/connectors/a%2Fb%20c"),
        ]

    status, restart, delete = with_client(herder, scenario)
    assert status.status == 200
    assert isinstance(status.body, dict)
    assert status.body["name"] == "a/b c"
    assert restart.status == 204
    assert herder.called("restart_task") == [((TaskId(ConnectorName("a/b c"), TaskNumber(0)),), {})]
    assert delete.status == 204
    assert herder.called("delete_connector") == [(("a/b c",), {})]


@pytest.mark.parametrize("raw", ["a{b}", "a%7Bb%7D", "%7B%7D"])
def test_names_with_braces_are_managed_like_any_other(herder: FakeHerder, raw: str) -> None:
    """Kafka Connect allows `{` and `}` in a connector's name; every route must reach it."""
    name = raw.replace("%7B", "{").replace("%7D", "}")
    herder.add(name)

    async def scenario(client: TestClient[Any, Any]) -> list[Reply]:
        return [
            await send(client, "GET", f"/connectors/{raw}/status"),
            await send(client, "GET", f"/connectors/{raw}/config"),
            await send(client, "PUT", f"/connectors/{raw}/pause"),
            await send(client, "GET", f"/connectors/{raw}/tasks/0/status"),
            await send(client, "DELETE", f"/connectors/{raw}"),
        ]

    status, config, pause, _, delete = with_client(herder, scenario)
    assert status.status == 200
    assert isinstance(status.body, dict)
    assert status.body["name"] == name
    assert config.status == 200
    assert pause.status == 202
    assert delete.status == 204
    assert herder.called("delete_connector") == [((name,), {})]


def test_location_of_a_created_connector_is_percent_encoded(herder: FakeHerder) -> None:
    reply = call(herder, "POST", "/connectors", json={"name": "a/b c", "config": {}})
    assert reply.status == 201
    assert reply.headers["Location"].endswith("/connectors/a%2Fb%20c")


def test_put_config_name_must_match_the_decoded_path(herder: FakeHerder) -> None:
    reply = call(herder, "PUT", "/connectors/a%20b/config", json={"name": "a b"})
    assert reply.status == 201
    [(args, _)] = herder.called("put_connector_config")
    assert args[0] == "a b"


def test_fence_on_a_standalone_worker_answers_as_kafka_connects(herder: FakeHerder) -> None:
    reply = call(herder, "PUT", "/connectors/src/fence")
    assert reply.status == 500
    assert reply.body == {
        "error_code": 500,
        "message": "Kafka Connect in standalone mode does not support exactly-once source "
        "connectors.",
    }
