"""A Docker engine of the project's own: Debian's dockerd, started from its own state directory.

The images (:mod:`kconnect_devenv.images`) are built and run by this engine. It is Debian's
``docker.io`` (dockerd, with the containerd and runc it brings), installed once through
:func:`kconnect_devenv.debian.ensure`, and started by the project with its own settings, so that
nothing of the machine's Docker setup is used or touched.

Invariants:

- **One engine per state directory**, with the lifecycle of :mod:`kconnect_devenv.lifecycle`: the
  state file ``engine.json`` (pid and paths), the lock, ``users.lock`` (held shared by every
  :func:`session` using the engine), ``data/`` (dockerd's configuration, its
  unix socket, its exec root with the managed containerd's state, its pid file and its log;
  cleared on every start and stop) and ``images/``, dockerd's data root, which is *kept*: images
  and the build cache survive a restart. It is cache, outside git; delete the directory to start
  from nothing. The default state directory is ``$KCONNECT_CACHE/engine``, shared by
  ``make images``, ``python -m kconnect_devenv.engine up`` and the tests: two dockerds must never
  share a data root, and the state directory's lock guarantees that.
- **Nothing of the machine's is used or changed.** dockerd listens only on ``data/docker.sock``
  (never ``/var/run/docker.sock``), reads ``data/daemon.json`` instead of
  ``/etc/docker/daemon.json`` (it also moves dockerd's identity key, which has no flag, out of
  ``/etc/docker``), and the Docker client is pointed at the socket with a client configuration
  directory of its own (the machine's ``~/.docker`` may hold proxies or credential helpers). It
  makes no network: ``--bridge=none``, ``--iptables=false``, ``--ip-masq=false`` and
  ``--ip-forward=false`` leave the host's interfaces, firewall and sysctls alone; a port published
  with ``-p 127.0.0.1::PORT`` is served by ``docker-proxy`` in the host's namespace, which
  connects to the container's address (no NAT rule). Builds run with
  ``--network host`` (pip reaches the package index as the machine does); test containers run with
  ``--network none``. Two fixed paths stay outside the state directory: containerd 1.6 keeps its
  shims' sockets in ``/run/containerd/s`` while containers run, and dockerd makes the empty
  plugin directory ``/run/docker/plugins``; both are left empty.
- **No capability root lacks.** Root here lacks ``CAP_SYS_RESOURCE``; Docker 20.10 asks runc for
  every capability for a ``--privileged`` container (kind's nodes), which runc cannot grant. The
  engine's default runtime is :mod:`kconnect_devenv.boundedrunc`, copied into ``data/``, which
  drops from a spec what the bounding set lacks and runs runc.
- **No negative OOM score.** dockerd asks for ``oom_score_adj=-500`` by default, for itself and for
  the containerd it starts; root here lacks ``CAP_SYS_RESOURCE``, which lowering it needs, so the
  engine runs with ``--oom-score-adjust=0``, which dockerd also hands to its containerd.
- **A started engine serves.** :func:`start` returns once ``GET /_ping`` on the socket answers
  ``OK``; ``engine.json`` is written only then. Otherwise it kills dockerd (and with its process
  group the containerd it started) and raises :class:`EngineStartError` with the tail of
  dockerd's log. :func:`stop` sends SIGTERM, which stops dockerd's containers and its containerd,
  and then unmounts what dockerd leaves mounted in the state directory (the network namespace file
  in its exec root stays mounted even after a clean exit); so does a start that finds such
  leftovers of a dockerd that was killed. Every wait is bounded.

Stdlib only, like the other services.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import functools
import http.client
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Final

from kconnect_devenv import boundedrunc, debian, lifecycle, mounts, processes
from kconnect_devenv.lifecycle import cache_root

PACKAGES: Final = ("docker.io",)  # brings containerd and runc
DOCKERD: Final = Path("/usr/sbin/dockerd")
# Debian's client, of the engine's own version; another `docker` on PATH may be any version.
DOCKER: Final = Path("/usr/bin/docker")
DOCKER_PROXY: Final = Path("/usr/sbin/docker-proxy")

READY_TIMEOUT_S: Final = 60.0
PING_TIMEOUT_S: Final = 2.0
# dockerd gives its containers 15 s to stop, then stops its containerd.
STOP_GRACE_S: Final = 45.0
# A unix socket's path is at most 107 bytes on Linux; containerd's sits deepest, in the exec root.
MAX_SOCKET_PATH: Final = 107

STATE_FILE: Final = "engine.json"
DATA_DIR: Final = lifecycle.DATA_DIR
DATA_ROOT: Final = "images"
SOCKET: Final = "docker.sock"
CONFIG_FILE: Final = "daemon.json"
LOG_FILE: Final = "dockerd.log"
LOG_TAIL_LINES: Final = 40
OOM_SCORE_ADJ: Final = 0
USERS_LOCK: Final = "users.lock"
RUNTIME: Final = "bounded-runc"
SESSION_MARK: Final = "session-started"


class EngineError(lifecycle.ServiceError):
    """The engine could not be installed, started or stopped, or a docker command failed."""


class EngineStartError(EngineError, lifecycle.StartError):
    """dockerd did not come up; nothing started by the attempt is left running."""


@dataclasses.dataclass(frozen=True)
class Engine:
    """A running dockerd, as recorded in its state directory."""

    pid: int
    state_dir: Path
    data_dir: Path
    data_root: Path
    socket_path: Path
    config_path: Path
    log_path: Path

    @property
    def host(self) -> str:
        """The value for ``DOCKER_HOST`` / ``docker --host``."""
        return f"unix://{self.socket_path}"

    @property
    def pids(self) -> dict[str, int]:
        return {"dockerd": self.pid}

    @property
    def mark(self) -> Path:
        """Only this dockerd has its configuration file on its command line."""
        return self.config_path

    def log_paths(self) -> tuple[Path, ...]:
        return (self.log_path,)

    def client_env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment for the Docker client of this engine: its socket, a client
        configuration of its own, and the classic builder (BuildKit would fetch the ``# syntax=``
        frontend from a registry)."""
        env = dict(os.environ if base is None else base)
        env.update(
            DOCKER_HOST=self.host,
            DOCKER_CONFIG=str(self.data_dir / "client"),
            DOCKER_BUILDKIT="0",
        )
        for name in ("DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH"):
            env.pop(name, None)
        return env

    def docker(
        self,
        *args: str,
        timeout: float,
        cwd: Path | None = None,
        stdin: bytes | None = None,
        env: Mapping[str, str] | None = None,
        merge_stderr: bool = False,
    ) -> str:
        """Run ``docker ARGS`` against this engine and return its standard output (with its
        standard error after it when ``merge_stderr``: ``docker logs`` writes a container's there).

        Raises :class:`EngineError` with the command and the tail of its output when it fails or
        runs longer than ``timeout`` seconds (it is killed then).
        """
        command = [str(DOCKER), *args]
        env_ = self.client_env(env)
        return run_docker(
            command, env_, timeout=timeout, cwd=cwd, stdin=stdin, merge_stderr=merge_stderr
        )

    def to_json(self) -> dict[str, object]:
        return lifecycle.state_to_json(self)

    @classmethod
    def from_json(cls, raw: Mapping[str, object]) -> Engine:
        return lifecycle.state_from_json(cls, raw, STATE_FILE)


def run_docker(
    command: Sequence[str],
    env: Mapping[str, str],
    *,
    timeout: float,
    cwd: Path | None = None,
    stdin: bytes | None = None,
    merge_stderr: bool = False,
) -> str:
    try:
        result = subprocess.run(
            list(command),
            input=stdin,
            stdin=None if stdin is not None else subprocess.DEVNULL,
            capture_output=True,
            env=dict(env),
            cwd=cwd,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise EngineError(
            f"{' '.join(command[:3])} ... did not finish within {timeout:.0f}s"
        ) from exc
    stdout = result.stdout.decode("utf-8", errors="replace")
    stderr = result.stderr.decode("utf-8", errors="replace")
    if result.returncode != 0:
        output = processes.tail_text(stdout + stderr, LOG_TAIL_LINES)
        raise EngineError(f"{' '.join(command)} exited with {result.returncode}:\n{output}")
    return stdout + stderr if merge_stderr else stdout


def _release(state_dir: Path) -> None:
    """Unmount what dockerd left mounted in ``state_dir``: its data root's bind mount and, even
    after a clean exit, the network namespace file in its exec root."""
    mounts.unmount_below(state_dir, EngineError)


_SERVICE: Final = lifecycle.Service(
    title="the Docker engine",
    state_file=STATE_FILE,
    load=Engine.from_json,
    error=EngineError,
    start_error=EngineStartError,
    log_tail_lines=LOG_TAIL_LINES,
    release=_release,
)


# --------------------------------------------------------------------------------------------------
# Pure parts: paths and dockerd's command line.


def default_state_dir() -> Path:
    """The engine of ``make images`` and of the tests; its ``images/`` is dockerd's data root."""
    return cache_root() / "engine"


def daemon_config(engine: Engine) -> dict[str, object]:
    """dockerd's ``daemon.json``, read instead of the machine's. Settings are on the command line,
    where ``ps`` shows them, but for one that has no flag: the daemon's identity key, which dockerd
    would otherwise create as ``/etc/docker/key.json``; and the runtime, which has a flag but no
    way to make it the default: :mod:`kconnect_devenv.boundedrunc`, runc asked only for the
    capabilities root here holds."""
    return {
        "deprecated-key-path": str(engine.data_dir / "key.json"),
        "runtimes": {RUNTIME: {"path": str(engine.data_dir / RUNTIME)}},
        "default-runtime": RUNTIME,
    }


def dockerd_command(engine: Engine, exec_root: Path) -> list[str]:
    return [
        str(DOCKERD),
        f"--config-file={engine.config_path}",
        f"--host={engine.host}",
        f"--data-root={engine.data_root}",
        f"--exec-root={exec_root}",
        f"--pidfile={engine.data_dir / 'dockerd.pid'}",
        "--storage-driver=overlay2",
        # No network of dockerd's: the host's interfaces, iptables and sysctls stay as they are.
        "--bridge=none",
        "--iptables=false",
        "--ip6tables=false",
        "--ip-masq=false",
        "--ip-forward=false",
        # Published ports (kind publishes its API server on 127.0.0.1) are served by docker-proxy,
        # a process in the host's namespace: no NAT rule, no forwarding.
        "--userland-proxy=true",
        f"--userland-proxy-path={DOCKER_PROXY}",
        # Root here lacks CAP_SYS_RESOURCE: no negative oom_score_adj for dockerd or its containerd.
        f"--oom-score-adjust={OOM_SCORE_ADJ}",
        "--log-level=info",
    ]


def layout(state_dir: Path) -> Engine:
    """Where the engine of ``state_dir`` keeps what (pid 0: nothing is started)."""
    data_dir = state_dir / DATA_DIR
    return Engine(
        pid=0,
        state_dir=state_dir,
        data_dir=data_dir,
        data_root=state_dir / DATA_ROOT,
        socket_path=data_dir / SOCKET,
        config_path=data_dir / CONFIG_FILE,
        log_path=data_dir / LOG_FILE,
    )


# --------------------------------------------------------------------------------------------------
# Readiness: the Engine API's /_ping over the unix socket.


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: Path, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(str(self._path))
        except OSError:
            sock.close()
            raise
        self.sock = sock


def ping(socket_path: Path, *, timeout: float = PING_TIMEOUT_S) -> bool:
    """Whether the engine on ``socket_path`` answers ``GET /_ping`` with ``OK``."""
    connection = _UnixConnection(socket_path, timeout)
    try:
        connection.request("GET", "/_ping")
        response = connection.getresponse()
        return response.status == 200 and response.read().strip() == b"OK"
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()


# --------------------------------------------------------------------------------------------------
# Start, stop, inspect.


def running(state_dir: Path | None = None) -> Engine | None:
    """The engine recorded in ``state_dir`` if dockerd still runs, else None."""
    return _SERVICE.running(state_dir or default_state_dir())


def install() -> None:
    """Debian's ``docker.io`` (dockerd, containerd, runc), installed once."""
    debian.ensure(PACKAGES, cache_root())
    if not DOCKERD.is_file() or not DOCKER.is_file():
        raise EngineError(f"docker.io is installed but {DOCKERD} or {DOCKER} is missing")


def start(
    state_dir: Path | None = None,
    *,
    ready_timeout: float = READY_TIMEOUT_S,
    die_with_parent: bool = False,
) -> Engine:
    """Start dockerd for ``state_dir``, or return the one already running there.

    With ``die_with_parent`` (Linux), dockerd gets SIGTERM when the calling thread dies.
    """
    return _SERVICE.start(
        state_dir or default_state_dir(),
        install,
        _launch,
        ready_timeout=ready_timeout,
        die_with_parent=die_with_parent,
    )


def _launch(_installed: None, attempt: lifecycle.Launch) -> Engine:
    engine = layout(attempt.state_dir)
    exec_root = engine.data_dir / "run"
    deepest = exec_root / "containerd" / "containerd.sock.ttrpc"
    if len(os.fsencode(str(deepest))) > MAX_SOCKET_PATH:
        raise EngineStartError(
            f"the state directory {attempt.state_dir} is too deep for containerd's socket "
            f"({deepest} is longer than {MAX_SOCKET_PATH} bytes); use a shorter KCONNECT_CACHE"
        )
    processes.write_atomically(engine.config_path, json.dumps(daemon_config(engine)) + "\n")
    runtime = engine.data_dir / RUNTIME
    runtime.write_bytes(Path(boundedrunc.__file__).read_bytes())
    runtime.chmod(0o755)
    (engine.data_dir / "client").mkdir()
    pid = attempt.spawn(
        "dockerd", dockerd_command(engine, exec_root), engine.log_path, engine.data_dir
    )
    engine = dataclasses.replace(engine, pid=pid)
    attempt.wait_for(
        engine,
        functools.partial(ping, engine.socket_path),
        during="during startup",
        timed_out=f"dockerd did not answer on {engine.socket_path} within "
        f"{attempt.ready_timeout:g}s; it was stopped",
    )
    return engine


def stop(state_dir: Path | None = None, *, grace: float = STOP_GRACE_S) -> None:
    """Stop the engine of ``state_dir`` (SIGTERM, SIGKILL after ``grace`` s); its images stay."""
    _SERVICE.stop(state_dir or default_state_dir(), grace=grace)


@contextlib.contextmanager
def session(state_dir: Path | None = None) -> Iterator[Engine]:
    """The engine of ``state_dir`` for the duration of the block, shared with concurrent blocks.

    An engine that runs already is used. One that does not is started and marked as started for
    sessions (``data/session-started``). Each block holds a shared ``flock`` on ``users.lock`` while
    it runs; the last block to leave (the one that then gets the lock exclusively) stops an engine
    that a session started, also when the block fails. An engine started by ``up`` is left
    running, and so is one still used by another block (``make images`` beside a test run).
    """
    state_dir = (state_dir or default_state_dir()).resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    with (state_dir / USERS_LOCK).open("a") as users:
        fcntl.flock(users, fcntl.LOCK_SH)
        try:
            engine = running(state_dir)
            if engine is None:
                engine = start(state_dir)
                (engine.data_dir / SESSION_MARK).touch()
            yield engine
        finally:
            try:
                fcntl.flock(users, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                pass  # another block still uses the engine; the last one out stops it
            else:
                if (state_dir / DATA_DIR / SESSION_MARK).exists():
                    stop(state_dir)
            fcntl.flock(users, fcntl.LOCK_UN)


# --------------------------------------------------------------------------------------------------
# Command line: python -m kconnect_devenv.engine {up,down,status}


def main(argv: Sequence[str] | None = None) -> int:
    return lifecycle.run_cli(
        argv,
        prog="python -m kconnect_devenv.engine",
        description="Start and stop the project's own Docker engine (Debian's dockerd).",
        default_state_dir=default_state_dir,
        state_dir_help="where the engine's state, socket and images live "
        "(default: $KCONNECT_CACHE/engine)",
        commands={"up": _cli_up, "down": _cli_down, "status": _cli_status},
    )


def _cli_up(state_dir: Path) -> int:
    engine = running(state_dir)
    if engine is not None:
        print(f"The Docker engine is already running (pid {engine.pid}).")
    else:
        print("Starting the Docker engine ...", flush=True)
        began = time.monotonic()
        engine = start(state_dir)
        print(f"The Docker engine started in {time.monotonic() - began:.1f}s (pid {engine.pid}).")
        print(f"Log: {engine.log_path}")
    print(f"DOCKER_HOST={engine.host}")
    return 0


def _cli_down(state_dir: Path) -> int:
    engine = running(state_dir)
    stop(state_dir)
    print(
        f"The Docker engine stopped; its images stay in {state_dir.resolve() / DATA_ROOT}."
        if engine
        else "The Docker engine was not running."
    )
    return 0


def _cli_status(state_dir: Path) -> int:
    engine = running(state_dir)
    if engine is None:
        print("The Docker engine is not running.")
        return 1
    serving = "serving" if ping(engine.socket_path) else "NOT answering"
    print(f"The Docker engine is running (pid {engine.pid}, {serving}).")
    print(f"DOCKER_HOST={engine.host}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
