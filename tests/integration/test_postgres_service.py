"""The PostgreSQL service: a server for logical decoding, reached with psycopg2 as a client would.

The session's server (fixture ``postgres``) serves a test's own database with ``wal_level``
logical; a ``pgoutput`` slot and a publication are made and a change is read back through
psycopg2's replication connection, as a CDC source reads it. Servers of their own (a few seconds
each) show that a restart keeps the data, a stop deletes it, a start on a taken port fails naming
the reason and leaves nothing running, and the command line prints ``POSTGRES_URL`` last.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import struct
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg2
import psycopg2.extras
import pytest

from kconnect_devenv import postgres as service

REPLICATION_TIMEOUT_S = 30.0
ROOT = Path(__file__).resolve().parents[2]


def _postmasters_of(cluster_dir: Path) -> list[int]:
    """The pids of processes whose command line names ``cluster_dir``'s data directory."""
    mark = os.fsencode(str(cluster_dir / service.PGDATA))
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            with contextlib.suppress(OSError):
                if mark in (proc / "cmdline").read_bytes():
                    found.append(int(proc.name))
    return found


def test_the_session_server_serves_logical_decoding(
    postgres: service.Postgres, postgres_database: service.Database
) -> None:
    with contextlib.closing(psycopg2.connect(postgres_database.url)) as conn:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SHOW wal_level")
            assert cur.fetchone() == ("logical",)
            cur.execute(
                "SELECT rolsuper, rolreplication FROM pg_roles WHERE rolname = current_user"
            )
            assert cur.fetchone() == (True, True)
            cur.execute("SELECT current_database(), inet_server_addr()::text, inet_server_port()")
            assert cur.fetchone() == (postgres_database.name, "127.0.0.1/32", postgres.port)
    state = (postgres.state_dir / service.STATE_FILE).read_text("utf-8")
    assert postgres.password not in state
    assert (postgres.cluster_dir / service.PASSWORD_FILE).stat().st_mode & 0o077 == 0
    assert postgres.cluster_dir.stat().st_mode & 0o077 == 0


def test_a_change_is_read_through_a_pgoutput_slot(postgres_database: service.Database) -> None:
    slot = f"slot_{uuid.uuid4().hex[:8]}"
    with contextlib.closing(psycopg2.connect(postgres_database.dsn)) as conn:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("CREATE TABLE items (id int PRIMARY KEY, name text)")
            cur.execute("CREATE PUBLICATION items_pub FOR TABLE items")
            cur.execute("SELECT pg_create_logical_replication_slot(%s, 'pgoutput')", (slot,))
            cur.execute("INSERT INTO items VALUES (7, 'widget')")
    replication = psycopg2.connect(
        postgres_database.dsn, connection_factory=psycopg2.extras.LogicalReplicationConnection
    )
    with contextlib.closing(replication):
        cur = replication.cursor()
        cur.start_replication(
            slot_name=slot,
            decode=False,
            options={"proto_version": "1", "publication_names": "items_pub"},
        )
        kinds: list[bytes] = []
        insert = b""
        deadline = time.monotonic() + REPLICATION_TIMEOUT_S
        while b"C" not in kinds and time.monotonic() < deadline:
            message = cur.read_message()
            if message is None:
                time.sleep(0.1)
                continue
            payload = bytes(message.payload)
            kinds.append(payload[:1])
            if payload[:1] == b"I":
                insert = payload
    # Begin, Relation (the table), Insert, Commit: pgoutput's protocol version 1.
    assert kinds == [b"B", b"R", b"I", b"C"]
    # Insert: relation oid, 'N', 2 columns, each 't' + length + text.
    columns = insert[5:]
    assert columns[:3] == b"N\x00\x02"
    (length,) = struct.unpack(">i", columns[4:8])
    assert columns[3:4] == b"t"
    assert columns[8 : 8 + length] == b"7"
    assert columns[8 + length :].endswith(b"widget")


def test_a_password_is_required(postgres_database: service.Database) -> None:
    for password in ("", "wrong"):
        with pytest.raises(psycopg2.OperationalError, match="password"):
            psycopg2.connect(
                host=postgres_database.host,
                port=postgres_database.port,
                dbname=postgres_database.name,
                user=postgres_database.user,
                password=password,
            )


def test_databases_are_separate_and_dropped_with_their_slots(postgres: service.Postgres) -> None:
    first = service.create_database(postgres)
    second = service.create_database(postgres)
    assert first.name != second.name
    with contextlib.closing(psycopg2.connect(first.url)) as conn, conn.cursor() as cur:
        conn.autocommit = True
        cur.execute("CREATE TABLE t (id int PRIMARY KEY)")
        cur.execute("SELECT pg_create_logical_replication_slot('left_behind', 'pgoutput')")
    with contextlib.closing(psycopg2.connect(second.url)) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_tables WHERE tablename = 't'")
        assert cur.fetchone() == (0,)
    service.drop_database(postgres, first.name)
    service.drop_database(postgres, second.name)
    listed = service.psql(
        postgres, "SELECT datname FROM pg_database", "SELECT slot_name FROM pg_replication_slots"
    )
    assert first.name not in listed
    assert "left_behind" not in listed
    with pytest.raises(ValueError, match="database name"):
        service.create_database(postgres, 'x"; DROP DATABASE postgres; --')


def test_a_restart_keeps_the_data_and_a_stop_deletes_it(tmp_path: Path) -> None:
    state_dir = tmp_path / "pg"
    try:
        first = service.start(state_dir)
        database = service.create_database(first, "kept")
        with contextlib.closing(psycopg2.connect(database.url)) as conn, conn.cursor() as cur:
            cur.execute("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1), (2)")
            conn.commit()
        again = service.restart(state_dir)
        assert again.pid != first.pid
        assert (again.port, again.cluster_dir, again.password) == (
            first.port,
            first.cluster_dir,
            first.password,
        )
        assert _postmasters_of(first.cluster_dir) == [again.pid]
        with contextlib.closing(psycopg2.connect(database.url)) as conn, conn.cursor() as cur:
            cur.execute("SELECT id FROM t ORDER BY id")
            assert cur.fetchall() == [(1,), (2,)]
    finally:
        service.stop(state_dir)
    assert service.running(state_dir) is None
    assert _postmasters_of(first.cluster_dir) == []
    assert not first.cluster_dir.exists()
    assert not (state_dir / service.CLUSTER_LINK).exists()
    assert not (state_dir / service.STATE_FILE).exists()


def test_a_cluster_left_behind_is_removed_by_the_next_start(tmp_path: Path) -> None:
    gone = tmp_path / "gone"
    kept = tmp_path / "kept"
    try:
        left = service.start(gone)
        service.stop(gone, keep_data=True)
        shutil.rmtree(gone)  # the state directory vanishes without a stop
        other = service.start(kept)
        assert left.cluster_dir != other.cluster_dir
        assert not left.cluster_dir.exists()
        assert other.cluster_dir.is_dir()
    finally:
        service.stop(kept)


def test_a_start_on_a_taken_port_says_why_and_leaves_nothing_running(tmp_path: Path) -> None:
    state_dir = tmp_path / "pg"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        try:
            with pytest.raises(service.PostgresStartError) as failed:
                service.start(state_dir, port=port)
            message = str(failed.value)
            assert "PostgreSQL exited" in message
            assert "Address already in use" in message
            assert "last lines of" in message
            assert service.running(state_dir) is None
            assert not (state_dir / service.STATE_FILE).exists()
            cluster = Path(os.readlink(state_dir / service.CLUSTER_LINK))
            assert _postmasters_of(cluster) == []
        finally:
            service.stop(state_dir)
    assert not cluster.exists()


def test_the_command_line_prints_the_url_last(tmp_path: Path) -> None:
    state_dir = tmp_path / "pg"
    command = [sys.executable, "-m", "kconnect_devenv.postgres", "--state-dir", str(state_dir)]
    try:
        up = subprocess.run(
            [*command, "up"], capture_output=True, text=True, timeout=120, check=True, cwd=ROOT
        )
        last = up.stdout.strip().splitlines()[-1]
        assert last.startswith("POSTGRES_URL=postgresql://kconnect:")
        url = last.partition("=")[2]
        with contextlib.closing(psycopg2.connect(url)) as conn, conn.cursor() as cur:
            cur.execute("SELECT 1")
            assert cur.fetchone() == (1,)
        status = subprocess.run(
            [*command, "status"], capture_output=True, text=True, timeout=60, check=True, cwd=ROOT
        )
        assert status.stdout.strip().splitlines()[-1] == last
    finally:
        down = subprocess.run(
            [*command, "down"], capture_output=True, text=True, timeout=120, check=False, cwd=ROOT
        )
    assert down.returncode == 0, down.stderr
    assert "PostgreSQL stopped" in down.stdout
    stopped = subprocess.run(
        [*command, "status"], capture_output=True, text=True, timeout=60, check=False, cwd=ROOT
    )
    assert stopped.returncode == 1
