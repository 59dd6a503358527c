"""The Schema Registry's config: loopback, KafkaSQL topics named by the prefix, and basic auth only
when users are given, with user names a properties key can carry."""

from __future__ import annotations

from pathlib import Path

import pytest

from kconnect_devenv import registry


def _config(users: dict[str, str] | None = None) -> dict[str, str]:
    return registry.registry_config(
        port=8081,
        bootstrap="127.0.0.1:9092",
        topic_prefix="team-a",
        data_dir=Path("/state/data"),
        users=users,
    )


def test_listens_on_loopback_and_keeps_schemas_in_the_prefixed_journal() -> None:
    config = _config()
    assert config["quarkus.http.host"] == "127.0.0.1"
    assert config["quarkus.http.port"] == "8081"
    assert config["apicurio.storage.kind"] == "kafkasql"
    assert config["apicurio.kafkasql.bootstrap.servers"] == "127.0.0.1:9092"
    assert config["apicurio.kafkasql.topic"] == "team-a-journal"
    assert config["apicurio.kafkasql.snapshots.topic"] == "team-a-snapshots"
    assert config["apicurio.rules.global.compatibility"] == "BACKWARD"
    assert not any(key.startswith("quarkus.http.auth") for key in config)


def test_users_turn_on_basic_auth_for_the_apis() -> None:
    config = _config({"alice": "s3cret"})
    assert config["quarkus.http.auth.basic"] == "true"
    assert config["quarkus.http.auth.permission.registry-api.paths"] == "/apis/*"
    assert config["quarkus.http.auth.permission.registry-api.policy"] == "authenticated"
    assert config["quarkus.security.users.embedded.users.alice"] == "s3cret"
    assert config["quarkus.security.users.embedded.roles.alice"] == "sr-admin"


@pytest.mark.parametrize("name", ["", "a.b", "a=b", "a b", "a:b"])
def test_a_user_name_a_key_cannot_carry_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="expected letters, digits"):
        _config({name: "pw"})


def test_the_url_is_the_confluent_compatible_base() -> None:
    state = registry.Registry(
        pid=1,
        port=8081,
        bootstrap="127.0.0.1:9092",
        topic_prefix="p",
        username="",
        state_dir=Path("/s"),
        data_dir=Path("/s/data"),
        console_path=Path("/s/data/console.log"),
        config_path=Path("/s/data/registry.properties"),
    )
    assert state.url == "http://127.0.0.1:8081/apis/ccompat/v7"
    assert registry.Registry.from_json(state.to_json()) == state


def test_basic_auth_header() -> None:
    assert registry.basic_auth_header("alice", "s3cret") == "Basic YWxpY2U6czNjcmV0"
