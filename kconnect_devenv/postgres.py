"""A real PostgreSQL server for development and tests: Debian's ``postgresql-15``, run locally.

The server is Debian's package, installed once through :func:`kconnect_devenv.debian.ensure`; the
package's own cluster (``/var/lib/postgresql/15/main``) is neither used nor started. Each state
directory gets a cluster of its own, made with ``initdb`` and run with ``postgres -D`` on a free
loopback port, with what logical decoding (the CDC connectors, Debezium) needs:
``wal_level=logical`` and :data:`MAX_REPLICATION_SLOTS` replication slots and WAL senders.

Invariants:

- **One server per state directory**, with the lifecycle of :mod:`kconnect_devenv.lifecycle`: the
  state file ``postgres.json`` (pid, port, paths; no password), the lock, ``data/`` (the server's
  log, cleared on every start and stop) and ``cluster``, a link to the cluster directory.
  ``make postgres-up`` uses ``$KCONNECT_CACHE/run/postgres``; every pytest session (each xdist
  worker) uses a temporary one.
- **Never root.** PostgreSQL refuses to run as root. Run by root, ``initdb`` and the server run
  as the package's ``postgres`` account (``setpriv``), which owns the cluster; run by anyone
  else, they run as that user. Root's state directories (``~/.cache``, pytest's temporary
  directories) are not searchable by another account, so the cluster directory is a private
  directory (mode 0700, owned by the server's account) under the system's temporary directory,
  ``kconnect-postgres-*``, holding ``pgdata/`` (the cluster), the unix socket and the superuser's
  password file (mode 0600). Nothing of the machine's is changed.
- **Nothing is left in the temporary directory.** A stop removes its cluster; a cluster whose
  state directory vanished without a stop (a session killed outright) is removed by the next
  start that makes a cluster, once its server no longer runs (the cluster directory names its
  state directory in ``state-dir``).
- **Data outlives a restart, not a stop.** :func:`restart` (or :func:`stop` with
  ``keep_data=True`` and :func:`start` again) keeps the cluster; :func:`stop` removes it. A start
  finds a kept cluster through ``cluster`` and uses it only if its ``initdb`` had completed.
- **Access by password only, from loopback only.** The superuser :data:`SUPERUSER` has a random
  password (SCRAM-SHA-256), made when the cluster is; ``pg_hba.conf`` lets users with a password
  connect from 127.0.0.1, for databases and for replication, and through the unix socket; nothing
  else. The password is only in the cluster's password file, never on a command line, in
  ``postgres.json`` or in an error.
- **A started server serves.** :func:`start` returns once ``pg_isready`` says the server accepts
  connections; otherwise it stops what it started and raises :class:`PostgresStartError` with the
  tail of the server's log (a port taken by another process is named there: "could not bind IPv4
  address ... Address already in use"; a picked port is then replaced and the start made again).
- **A stop is a fast shutdown**: SIGINT (clients, replication connections included, are
  disconnected, a checkpoint is written), then the lifecycle's SIGTERM and SIGKILL if the server
  outlives ``grace``. The server's children each lead their own session, so the postmaster is
  stopped first and they follow it.
- **Durable writes are kept** (``fsync`` stays on): the tests' databases are small, and a test of a
  source that resumes after a crash should see what a real server does.

Stdlib only, like the other services: databases are made with ``psql``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import pwd
import re
import secrets
import shutil
import signal
import sys
import tempfile
import time
import urllib.parse
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final

from kconnect_devenv import debian, lifecycle, processes
from kconnect_devenv.lifecycle import cache_root

PACKAGES: Final = ("postgresql-15",)
PG_MAJOR: Final = "15"
BIN_DIR: Final = Path(f"/usr/lib/postgresql/{PG_MAJOR}/bin")
SETPRIV: Final = "setpriv"
SERVER_ACCOUNT: Final = "postgres"  # made by Debian's postgresql-common
HOST: Final = "127.0.0.1"
SUPERUSER: Final = "kconnect"
DEFAULT_DATABASE: Final = "postgres"
MAX_REPLICATION_SLOTS: Final = 20
MAX_WAL_SENDERS: Final = 20

READY_TIMEOUT_S: Final = 60.0
STOP_GRACE_S: Final = 30.0
INITDB_TIMEOUT_S: Final = 120.0
PSQL_TIMEOUT_S: Final = 60.0
PROBE_TIMEOUT_S: Final = 5

STATE_FILE: Final = "postgres.json"
CLUSTER_LINK: Final = "cluster"
CLUSTER_PREFIX: Final = "kconnect-postgres-"
PGDATA: Final = "pgdata"
PASSWORD_FILE: Final = "password"  # noqa: S105 - a file name
INITIALIZED: Final = "initialized"
OWNER_FILE: Final = "state-dir"  # in a cluster directory: the state directory that links to it
LOG_FILE: Final = "postgres.log"
LOG_TAIL_LINES: Final = 40
DATABASE_NAME: Final = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class PostgresServiceError(lifecycle.ServiceError):
    """PostgreSQL could not be installed, started, stopped or used; the message says why."""


class PostgresStartError(PostgresServiceError, lifecycle.StartError):
    """The server did not come up; nothing started by the attempt is left running."""


@dataclasses.dataclass(frozen=True)
class Database:
    """One database of a running server and how to reach it as the superuser."""

    name: str
    port: int
    user: str
    password: str = dataclasses.field(repr=False)
    host: str = HOST

    @property
    def url(self) -> str:
        """``postgresql://user:password@host:port/name``, as libpq and psycopg2 accept it."""
        quoted = urllib.parse.quote(self.password, safe="")
        return f"postgresql://{self.user}:{quoted}@{self.host}:{self.port}/{self.name}"

    @property
    def dsn(self) -> str:
        """The libpq keyword form of :attr:`url`."""
        return (
            f"host={self.host} port={self.port} dbname={self.name} user={self.user} "
            f"password={self.password}"
        )

    def connector_config(self) -> dict[str, str]:
        """Debezium's ``database.*`` keys for this database."""
        return {
            "database.hostname": self.host,
            "database.port": str(self.port),
            "database.user": self.user,
            "database.password": self.password,
            "database.dbname": self.name,
        }


@dataclasses.dataclass(frozen=True)
class Postgres:
    """A running server, as recorded in its state directory."""

    pid: int
    port: int
    state_dir: Path
    data_dir: Path
    cluster_dir: Path
    log_path: Path

    @property
    def pgdata(self) -> Path:
        return self.cluster_dir / PGDATA

    @property
    def socket_dir(self) -> Path:
        """Where the server's unix socket ``.s.PGSQL.<port>`` is."""
        return self.cluster_dir

    @property
    def password(self) -> str:
        """The superuser's password, read from the cluster's password file."""
        return read_password(self.cluster_dir)

    def database(self, name: str = DEFAULT_DATABASE) -> Database:
        """The database ``name`` (it is not made here: see :func:`create_database`)."""
        return Database(name=name, port=self.port, user=SUPERUSER, password=self.password)

    @property
    def url(self) -> str:
        """The URL of the default database ``postgres`` as the superuser."""
        return self.database().url

    @property
    def pids(self) -> dict[str, int]:
        return {"postgres": self.pid}

    @property
    def mark(self) -> Path:
        """Only this server has its cluster's directory on its command line."""
        return self.pgdata

    def log_paths(self) -> tuple[Path, ...]:
        return (self.log_path,)

    def to_json(self) -> dict[str, object]:
        return lifecycle.state_to_json(self)

    @classmethod
    def from_json(cls, raw: Mapping[str, object]) -> Postgres:
        return lifecycle.state_from_json(cls, raw, STATE_FILE)


_SERVICE: Final = lifecycle.Service(
    title="PostgreSQL",
    state_file=STATE_FILE,
    load=Postgres.from_json,
    error=PostgresServiceError,
    start_error=PostgresStartError,
    log_tail_lines=LOG_TAIL_LINES,
)


# --------------------------------------------------------------------------------------------------
# Pure parts: the server's settings and its client authentication.


def default_state_dir() -> Path:
    """The state directory of the server that ``make postgres-up`` manages."""
    return cache_root() / "run" / "postgres"


def server_settings(*, port: int, socket_dir: Path, cluster_name: str) -> dict[str, str]:
    """The settings the server is started with (``-c`` options, over ``postgresql.conf``)."""
    return {
        "listen_addresses": HOST,
        "port": str(port),
        "unix_socket_directories": str(socket_dir),
        "unix_socket_permissions": "0700",
        "cluster_name": cluster_name,
        "password_encryption": "scram-sha-256",
        "wal_level": "logical",
        "max_replication_slots": str(MAX_REPLICATION_SLOTS),
        "max_wal_senders": str(MAX_WAL_SENDERS),
        # A slot left behind by a failed test must not fill the disk with retained WAL.
        "max_slot_wal_keep_size": "1GB",
        "shared_buffers": "64MB",
        "logging_collector": "off",
        "log_line_prefix": "%m [%p] %q%u@%d ",
        "log_timezone": "UTC",
        "timezone": "UTC",
    }


def hba_rules() -> str:
    """``pg_hba.conf``: a password (SCRAM) for every connection, from loopback or the socket."""
    return (
        "# kconnect: password authentication, loopback and the cluster's own socket only.\n"
        "local   all          all                  scram-sha-256\n"
        f"host    all          all   {HOST}/32   scram-sha-256\n"
        f"host    replication  all   {HOST}/32   scram-sha-256\n"
    )


def read_password(cluster_dir: Path) -> str:
    try:
        return (cluster_dir / PASSWORD_FILE).read_text("ascii").strip()
    except OSError as exc:
        raise PostgresServiceError(
            f"the superuser's password file of {cluster_dir} cannot be read: {exc}"
        ) from exc


# --------------------------------------------------------------------------------------------------
# Install and the server's account.


def install() -> None:
    """Debian's ``postgresql-15`` (server, ``initdb``, ``psql``, ``pg_isready``), installed once."""
    debian.ensure(PACKAGES, cache_root())
    for tool in ("postgres", "initdb", "psql", "pg_isready"):
        if not (BIN_DIR / tool).is_file():
            raise PostgresServiceError(
                f"{PACKAGES[0]} is installed but {BIN_DIR / tool} is missing"
            )
    if os.geteuid() == 0 and shutil.which(SETPRIV) is None:
        raise PostgresServiceError(f"'{SETPRIV}' (util-linux) is needed to run PostgreSQL as root")


def _server_account() -> pwd.struct_passwd | None:
    """The account the server runs as when this process is root; None: this process's own."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SERVER_ACCOUNT)
    except KeyError as exc:
        raise PostgresServiceError(
            f"PostgreSQL refuses to run as root and the account {SERVER_ACCOUNT!r} (made by "
            f"Debian's postgresql-common) does not exist"
        ) from exc


def _as_server(command: Sequence[str], pdeathsig: str = "keep") -> list[str]:
    """``command`` run as the server's account: ``setpriv`` execs it, so its pid is the server's.

    Changing the user id clears a parent-death signal; ``setpriv --pdeathsig`` sets it again.
    """
    account = _server_account()
    if account is None:
        return list(command)
    return [
        SETPRIV,
        f"--reuid={account.pw_uid}",
        f"--regid={account.pw_gid}",
        "--init-groups",
        f"--pdeathsig={pdeathsig}",
        *command,
    ]


def _server_env() -> dict[str, str]:
    account = _server_account()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "TZ": "UTC"}
    if account is not None:
        env.update(HOME=account.pw_dir, USER=account.pw_name, LOGNAME=account.pw_name)
    return env


# --------------------------------------------------------------------------------------------------
# The cluster.


def _cluster_of(state_dir: Path) -> Path | None:
    """The cluster directory ``state_dir`` links to if its ``initdb`` completed, else None."""
    link = state_dir / CLUSTER_LINK
    if not link.is_symlink():
        return None
    target = Path(os.readlink(link))
    if (target / INITIALIZED).is_file() and (target / PGDATA / "PG_VERSION").is_file():
        return target
    return None


def _remove_cluster(state_dir: Path) -> None:
    """Remove the cluster ``state_dir`` links to, complete or not, and the link."""
    link = state_dir / CLUSTER_LINK
    if link.is_symlink():
        target = Path(os.readlink(link))
        if target.name.startswith(CLUSTER_PREFIX):
            shutil.rmtree(target, ignore_errors=True)
        link.unlink()


def _postmaster_runs(cluster: Path) -> bool:
    """Whether the server that ``cluster``'s ``postmaster.pid`` names still runs on it."""
    try:
        pid = int((cluster / PGDATA / "postmaster.pid").read_text("ascii").split()[0])
    except (OSError, ValueError, IndexError):
        return False
    return processes.is_alive(pid, cluster / PGDATA)


def remove_orphaned_clusters() -> list[Path]:
    """Remove the cluster directories whose state directory is gone or no longer links to them
    and whose server does not run: what a session killed outright leaves in the temporary
    directory. Returns what was removed; another account's clusters are left alone."""
    removed = []
    for cluster in sorted(Path(tempfile.gettempdir()).glob(f"{CLUSTER_PREFIX}*")):
        try:
            owner = Path((cluster / OWNER_FILE).read_text("utf-8").strip())
        except OSError:
            continue  # being made (the owner file is written last), or not readable here
        try:
            if Path(os.readlink(owner / CLUSTER_LINK)) == cluster:
                continue
        except PermissionError:
            continue
        except OSError:
            pass  # no link there any more
        if not _postmaster_runs(cluster):
            shutil.rmtree(cluster, ignore_errors=True)
            removed.append(cluster)
    return removed


def _ensure_cluster(state_dir: Path) -> Path:
    """The cluster of ``state_dir``, made with ``initdb`` unless a complete one is kept there."""
    kept = _cluster_of(state_dir)
    if kept is not None:
        return kept
    _remove_cluster(state_dir)
    remove_orphaned_clusters()
    cluster = Path(tempfile.mkdtemp(prefix=CLUSTER_PREFIX))
    (state_dir / CLUSTER_LINK).symlink_to(cluster)
    (cluster / OWNER_FILE).write_text(f"{state_dir}\n", "utf-8")
    account = _server_account()
    password_file = cluster / PASSWORD_FILE
    password_file.touch(mode=0o600)
    password_file.write_text(secrets.token_urlsafe(24) + "\n", "ascii")
    if account is not None:
        for path in (cluster, password_file):
            os.chown(path, account.pw_uid, account.pw_gid)
    command = _as_server(
        [
            str(BIN_DIR / "initdb"),
            f"--pgdata={cluster / PGDATA}",
            f"--username={SUPERUSER}",
            f"--pwfile={password_file}",
            "--auth=scram-sha-256",
            "--encoding=UTF8",
            "--no-locale",
            "--no-instructions",
        ]
    )
    result = processes.run_tool(
        command,
        what="initdb",
        timeout=INITDB_TIMEOUT_S,
        error=PostgresStartError,
        cwd=cluster,
        env=_server_env(),
    )
    if result.returncode != 0:
        tail = processes.tail_text(result.stdout + result.stderr, LOG_TAIL_LINES)
        raise PostgresStartError(f"initdb failed (exit {result.returncode}) in {cluster}:\n{tail}")
    (cluster / PGDATA / "pg_hba.conf").write_text(hba_rules(), "ascii")
    (cluster / INITIALIZED).write_text("initdb completed\n", "ascii")
    return cluster


# --------------------------------------------------------------------------------------------------
# Start, stop, inspect.


def is_ready(port: int) -> bool:
    """Whether the server on ``port`` accepts connections (``pg_isready``)."""
    with contextlib.suppress(PostgresServiceError):
        result = processes.run_tool(
            [str(BIN_DIR / "pg_isready"), "-q", "-h", HOST, "-p", str(port), "-t", "2"],
            what="pg_isready",
            timeout=PROBE_TIMEOUT_S + 5,
            error=PostgresServiceError,
        )
        return result.returncode == 0
    return False


def running(state_dir: Path | None = None) -> Postgres | None:
    """The server recorded in ``state_dir`` if it still runs, else None."""
    return _SERVICE.running(state_dir or default_state_dir())


def start(
    state_dir: Path | None = None,
    *,
    port: int | None = None,
    ready_timeout: float = READY_TIMEOUT_S,
    die_with_parent: bool = False,
) -> Postgres:
    """Start the server of ``state_dir``, or return the one already running there.

    The cluster kept by :func:`restart` or ``stop(keep_data=True)`` is started again; otherwise a
    new one is made. ``port`` is the loopback port to listen on (default: one picked free). With
    ``die_with_parent`` (Linux), the server gets SIGINT (a fast shutdown) when the calling thread
    dies.
    """
    return _SERVICE.start(
        state_dir or default_state_dir(),
        install,
        functools.partial(_launch, port=port, die_with_parent=die_with_parent),
        ready_timeout=ready_timeout,
        die_with_parent=die_with_parent,
    )


def _launch(
    _installed: None, attempt: lifecycle.Launch, *, port: int | None, die_with_parent: bool
) -> Postgres:
    cluster = _ensure_cluster(attempt.state_dir)
    if port is None:
        (port,) = processes.free_ports(1)
    server = Postgres(
        pid=0,
        port=port,
        state_dir=attempt.state_dir,
        data_dir=attempt.data_dir,
        cluster_dir=cluster,
        log_path=attempt.data_dir / LOG_FILE,
    )
    settings = server_settings(
        port=port, socket_dir=server.socket_dir, cluster_name=f"kconnect-{port}"
    )
    command = _as_server(
        [
            str(BIN_DIR / "postgres"),
            "-D",
            str(server.pgdata),
            *(arg for key, value in settings.items() for arg in ("-c", f"{key}={value}")),
        ],
        pdeathsig="INT" if die_with_parent else "clear",
    )
    pid = attempt.spawn("PostgreSQL", command, server.log_path, cluster, env=_server_env())
    server = dataclasses.replace(server, pid=pid)
    attempt.wait_for(
        server,
        functools.partial(is_ready, port),
        during="during startup",
        timed_out=f"PostgreSQL did not accept connections on {HOST}:{port} within "
        f"{attempt.ready_timeout:g}s; it was stopped",
    )
    return server


def stop(
    state_dir: Path | None = None, *, grace: float = STOP_GRACE_S, keep_data: bool = False
) -> None:
    """Stop the server of ``state_dir`` (a fast shutdown; SIGKILL after ``grace`` s) and, unless
    ``keep_data``, delete its cluster. Does nothing when no server runs there, and removes
    leftovers of a crashed one."""
    state_dir = (state_dir or default_state_dir()).resolve()
    server = _SERVICE.running(state_dir)
    if server is not None:
        # SIGINT is PostgreSQL's fast shutdown; the lifecycle's SIGTERM would wait for clients.
        processes.signal_group(server.pid, signal.SIGINT)
        processes.wait_gone(server.pid, server.mark, grace)
    _SERVICE.stop(state_dir, grace=grace)
    if not keep_data and state_dir.is_dir():
        with processes.locked(state_dir / lifecycle.LOCK_FILE):
            if _SERVICE.read_state(state_dir) is None:  # no start came in between
                _remove_cluster(state_dir)


def restart(state_dir: Path | None = None, *, grace: float = STOP_GRACE_S) -> Postgres:
    """Stop the server of ``state_dir`` and start it again on the same port, with its data."""
    state_dir = state_dir or default_state_dir()
    server = running(state_dir)
    if server is None:
        raise PostgresServiceError(f"no PostgreSQL runs in {state_dir}; nothing to restart")
    stop(state_dir, grace=grace, keep_data=True)
    return start(state_dir, port=server.port)


# --------------------------------------------------------------------------------------------------
# Databases.


def psql(server: Postgres, *statements: str, database: str = DEFAULT_DATABASE) -> str:
    """Run ``statements`` as the superuser, each in a transaction of its own; their unaligned
    output.

    Raises :class:`PostgresServiceError` with psql's message when a statement fails.
    """
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PGPASSWORD": server.password,
        "PGCONNECT_TIMEOUT": str(PROBE_TIMEOUT_S),
        "LC_ALL": "C",
    }
    command = [
        str(BIN_DIR / "psql"),
        "--no-psqlrc",
        "--no-align",
        "--tuples-only",
        "--set=ON_ERROR_STOP=1",
        f"--host={HOST}",
        f"--port={server.port}",
        f"--username={SUPERUSER}",
        f"--dbname={database}",
        *(f"--command={statement}" for statement in statements),
    ]
    result = processes.run_tool(
        command, what="psql", timeout=PSQL_TIMEOUT_S, error=PostgresServiceError, env=env
    )
    if result.returncode != 0:
        raise PostgresServiceError(
            f"psql on {HOST}:{server.port}/{database} failed (exit {result.returncode}): "
            f"{result.stderr.strip()}"
        )
    return result.stdout


def create_database(server: Postgres, name: str | None = None) -> Database:
    """A new, empty database on ``server`` (named ``name``, default a unique ``db_<hex>``)."""
    name = name or f"db_{uuid.uuid4().hex[:12]}"
    if not DATABASE_NAME.fullmatch(name):
        raise ValueError(
            f"database name {name!r}: expected 1-63 lower-case letters, digits or '_', "
            "not starting with a digit"
        )
    psql(server, f'CREATE DATABASE "{name}"')
    return server.database(name)


def drop_database(server: Postgres, name: str) -> None:
    """Drop the database ``name``: its replication slots first, its sessions disconnected."""
    if not DATABASE_NAME.fullmatch(name):
        raise ValueError(f"database name {name!r}: not a name create_database makes")
    # A slot in use must lose its walsender first: the terminate waits (up to 10 s) until it's gone.
    # ``name`` is checked above: it can only be a plain identifier.
    in_database = f"FROM pg_replication_slots WHERE database = '{name}'"
    psql(
        server,
        f"SELECT pg_terminate_backend(active_pid, 10000) {in_database} AND active_pid IS NOT NULL",
        f"SELECT pg_drop_replication_slot(slot_name) {in_database}",
        f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
    )


# --------------------------------------------------------------------------------------------------
# Command line: python -m kconnect_devenv.postgres {fetch,up,down,status}


def main(argv: Sequence[str] | None = None) -> int:
    return lifecycle.run_cli(
        argv,
        prog="python -m kconnect_devenv.postgres",
        description="Install, start and stop the local PostgreSQL server used for development "
        "(Debian's postgresql-15 with wal_level=logical).",
        default_state_dir=default_state_dir,
        state_dir_help="where the server's state lives (default: $KCONNECT_CACHE/run/postgres)",
        commands={"fetch": _cli_fetch, "up": _cli_up, "down": _cli_down, "status": _cli_status},
    )


def _cli_fetch(_state_dir: Path | None = None) -> int:
    install()
    print(f"PostgreSQL {PG_MAJOR}: {BIN_DIR}")
    return 0


def _cli_up(state_dir: Path) -> int:
    server = running(state_dir)
    if server is not None:
        print(f"PostgreSQL is already running (pid {server.pid}).")
    else:
        print(f"Starting PostgreSQL {PG_MAJOR} ...", flush=True)
        began = time.monotonic()
        server = start(state_dir)
        print(f"PostgreSQL started in {time.monotonic() - began:.1f}s (pid {server.pid}).")
        print(f"Cluster: {server.pgdata}")
        print(f"Log: {server.log_path}")
    print(f"POSTGRES_URL={server.url}")
    return 0


def _cli_down(state_dir: Path) -> int:
    server = running(state_dir)
    stop(state_dir)
    print("PostgreSQL stopped; its data is deleted." if server else "PostgreSQL was not running.")
    return 0


def _cli_status(state_dir: Path) -> int:
    server = running(state_dir)
    if server is None:
        print("PostgreSQL is not running.")
        return 1
    serving = "accepting connections" if is_ready(server.port) else "NOT accepting connections"
    print(f"PostgreSQL is running (pid {server.pid}, {serving}).")
    print(f"POSTGRES_URL={server.url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
