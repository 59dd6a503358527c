"""The PostgreSQL service's pure parts: its settings, its client authentication, the URLs and
connector keys it hands out, and the names it accepts for databases."""

from __future__ import annotations

import urllib.parse
from pathlib import Path

import pytest

from bench import debezium
from kconnect_devenv import postgres


def test_settings_enable_logical_decoding_on_loopback_only() -> None:
    settings = postgres.server_settings(port=5433, socket_dir=Path("/tmp/x"), cluster_name="c")
    assert settings["wal_level"] == "logical"
    assert settings["listen_addresses"] == "127.0.0.1"
    assert settings["port"] == "5433"
    assert settings["unix_socket_directories"] == "/tmp/x"
    assert int(settings["max_replication_slots"]) >= 10
    assert int(settings["max_wal_senders"]) >= 10
    assert "fsync" not in settings


def test_every_connection_needs_a_password_from_loopback() -> None:
    rules = [
        line.split()
        for line in postgres.hba_rules().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert rules == [
        ["local", "all", "all", "scram-sha-256"],
        ["host", "all", "all", "127.0.0.1/32", "scram-sha-256"],
        ["host", "replication", "all", "127.0.0.1/32", "scram-sha-256"],
    ]


def test_a_database_url_quotes_its_password_and_hides_it_from_repr() -> None:
    database = postgres.Database(name="db_1", port=5433, user="kconnect", password="p@ss/w:rd")  # noqa: S106
    parsed = urllib.parse.urlsplit(database.url)
    assert (parsed.scheme, parsed.hostname, parsed.port, parsed.path) == (
        "postgresql",
        "127.0.0.1",
        5433,
        "/db_1",
    )
    assert urllib.parse.unquote(parsed.password or "") == "p@ss/w:rd"
    assert "p@ss" not in repr(database)
    assert database.connector_config() == {
        "database.hostname": "127.0.0.1",
        "database.port": "5433",
        "database.user": "kconnect",
        "database.password": "p@ss/w:rd",
        "database.dbname": "db_1",
    }


@pytest.mark.parametrize("name", ["-", "1db", "Db", 'x"; DROP DATABASE postgres; --', "a" * 64])
def test_database_names_are_plain_identifiers(name: str) -> None:
    server = postgres.Postgres(
        pid=0,
        port=1,
        state_dir=Path("/nonexistent"),
        data_dir=Path("/nonexistent/data"),
        cluster_dir=Path("/nonexistent/cluster"),
        log_path=Path("/nonexistent/data/postgres.log"),
    )
    with pytest.raises(ValueError, match="database name"):
        postgres.create_database(server, name)
    with pytest.raises(ValueError, match="database name"):
        postgres.drop_database(server, name)


def test_debezium_connector_config_uses_pgoutput_and_its_own_slot() -> None:
    assert debezium.debezium_version() == "3.6.1.Final"
    config = debezium.connector_config(
        {"database.dbname": "db_1"},
        topic_prefix="p",
        slot_name="s",
        publication_name="pub",
        overrides={"snapshot.mode": "no_data"},
    )
    assert config["connector.class"] == "io.debezium.connector.postgresql.PostgresConnector"
    assert (config["plugin.name"], config["slot.name"], config["publication.name"]) == (
        "pgoutput",
        "s",
        "pub",
    )
    assert (config["topic.prefix"], config["snapshot.mode"]) == ("p", "no_data")
    assert config["database.dbname"] == "db_1"
