"""A real Schema Registry for development and tests: Apicurio Registry, run as a local Java process.

Apicurio Registry speaks Confluent's Schema Registry API under ``/apis/ccompat/v7``;
:attr:`Registry.url` is that base, which Confluent clients (``schema.registry.url``) use as is.
The registry's own distribution (the ``all`` tar.gz that Apicurio publishes on Maven Central, a
Quarkus application with its runner jar and ``lib/``) is fetched once with Maven and unpacked into
``$KCONNECT_CACHE/apicurio-registry-<version>/app``, then run with ``java -jar``. Nothing but
Java 17 and Maven is needed.

Invariants:

- **Only a complete download is ever used** (:mod:`kconnect_devenv.builds`): the unpacked
  distribution is renamed into place whole, then the marker is written.
- **Schemas live in Kafka, as with Confluent's registry.** The registry uses Apicurio's KafkaSQL
  storage: every change is a record in the topic ``<topic_prefix>-journal`` of the broker it is
  given, and a start replays that topic. A registry stopped and started again with the same broker
  and prefix serves the same subjects, versions and ids; another prefix is another registry.
- **One registry per state directory**, with the lifecycle of :mod:`kconnect_devenv.lifecycle`:
  ``registry.json`` (pid, port, paths), the lock, and ``data/`` (the registry's config file, mode
  0600 because it may hold passwords, and its console log). ``make registry-up`` uses
  ``$KCONNECT_CACHE/run/registry``; tests use temporary ones.
- **A started registry serves.** :func:`start` returns only once the registry is ready and its
  Confluent API answers, i.e. the journal has been replayed; otherwise it kills what it started and
  raises :class:`RegistryStartError` with the tail of the registry's log. Every wait is bounded.
- **Loopback only**: the registry listens on 127.0.0.1, on a port picked free at start.
- **Basic auth when asked**: with ``users``, every request under ``/apis/`` needs HTTP basic
  credentials of one of them (Quarkus's embedded user realm); the passwords are in the config file
  only, never on a command line, in ``registry.json`` or in an error.

Apicurio 3.0.9 is pinned because it is the newest whose classes run on Java 17: the 3.3 line is
built for Java 21 and fails at start with ``UnsupportedClassVersionError``.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import hashlib
import shutil
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final

from kconnect.config.properties import format_properties
from kconnect_devenv import builds, kafka, lifecycle, processes
from kconnect_devenv.lifecycle import cache_root

HOST: Final = "127.0.0.1"
APICURIO_VERSION: Final = "3.0.9"
ARTIFACT: Final = f"io.apicurio:apicurio-registry-app:{APICURIO_VERSION}:tar.gz:all"
# maven-dependency-plugin 2.8's `get` resolves the one file without its parent pom, which Maven
# Central lacks for this version (3.x's `get`, `copy` and `unpack` all fail reading it), and it
# still has `dest`, which copies the file out of the local repository.
MAVEN_GET: Final = "org.apache.maven.plugins:maven-dependency-plugin:2.8:get"
RUNNER_JAR: Final = f"apicurio-registry-app-{APICURIO_VERSION}-runner.jar"
CCOMPAT_PATH: Final = "/apis/ccompat/v7"
DEFAULT_TOPIC_PREFIX: Final = "kconnect-registry"

# A cold download is some 110 MB.
FETCH_TIMEOUT_S: Final = 900.0
READY_TIMEOUT_S: Final = 120.0
STOP_GRACE_S: Final = 20.0
PROBE_TIMEOUT_S: Final = 5.0

JVM_OPTIONS: Final = (
    "-Xms64m",
    "-Xmx512m",
    "-XX:+UseSerialGC",
    "-XX:-UsePerfData",
    "-Djava.awt.headless=true",
)

STATE_FILE: Final = "registry.json"
CONFIG_FILE: Final = "registry.properties"
CONSOLE_LOG: Final = "console.log"
LOG_TAIL_LINES: Final = 40
# Written by `up` when it started the broker, so that `down` stops it again.
STARTED_KAFKA: Final = "started-kafka"


class RegistryServiceError(lifecycle.ServiceError):
    """The registry could not be fetched, started or stopped; the message says why."""


class FetchError(RegistryServiceError):
    """Maven could not fetch the registry's distribution."""


class RegistryStartError(RegistryServiceError, lifecycle.StartError):
    """The registry did not come up; nothing started by the attempt is left running."""


@dataclasses.dataclass(frozen=True)
class Registry:
    """A running registry, as recorded in its state directory."""

    pid: int
    port: int
    bootstrap: str
    topic_prefix: str
    username: str  # "" without basic auth
    state_dir: Path
    data_dir: Path
    console_path: Path
    config_path: Path

    @property
    def url(self) -> str:
        """The value for ``schema.registry.url``: the base of the Confluent-compatible API."""
        return f"http://{HOST}:{self.port}{CCOMPAT_PATH}"

    @property
    def pids(self) -> dict[str, int]:
        return {"registry": self.pid}

    @property
    def mark(self) -> Path:
        """Only this registry has its config file on its command line."""
        return self.config_path

    def log_paths(self) -> tuple[Path, ...]:
        return (self.console_path,)

    def to_json(self) -> dict[str, object]:
        return lifecycle.state_to_json(self)

    @classmethod
    def from_json(cls, raw: Mapping[str, object]) -> Registry:
        return lifecycle.state_from_json(cls, raw, STATE_FILE)


_SERVICE: Final = lifecycle.Service(
    title="the Schema Registry",
    state_file=STATE_FILE,
    load=Registry.from_json,
    error=RegistryServiceError,
    start_error=RegistryStartError,
    log_tail_lines=LOG_TAIL_LINES,
)


# --------------------------------------------------------------------------------------------------
# Pure parts: the registry's config and the readiness probe.


def default_state_dir() -> Path:
    """The state directory of the registry that ``make registry-up`` manages."""
    return cache_root() / "run" / "registry"


def registry_config(
    *,
    port: int,
    bootstrap: str,
    topic_prefix: str,
    data_dir: Path,
    users: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The Quarkus/Apicurio config of a registry on loopback with KafkaSQL storage and, like
    Confluent's, BACKWARD compatibility by default.

    ``users`` (name to password) turn on HTTP basic auth for everything under ``/apis/``; each user
    gets Apicurio's admin role. Raises ValueError for a user name a properties key cannot carry.
    """
    config = {
        "quarkus.http.host": HOST,
        "quarkus.http.port": str(port),
        "apicurio.storage.kind": "kafkasql",
        "apicurio.kafkasql.bootstrap.servers": bootstrap,
        "apicurio.kafkasql.topic": f"{topic_prefix}-journal",
        "apicurio.kafkasql.snapshots.topic": f"{topic_prefix}-snapshots",
        "apicurio.events.kafka.topic": f"{topic_prefix}-events",
        "apicurio.events.kafka.config.bootstrap.servers": bootstrap,
        "apicurio.storage.snapshot.location": str(data_dir),
        # Confluent's registry checks BACKWARD compatibility unless told otherwise; Apicurio checks
        # nothing without a global rule.
        "apicurio.rules.global.compatibility": "BACKWARD",
    }
    if users:
        config.update(
            {
                "quarkus.http.auth.basic": "true",
                "quarkus.security.users.embedded.enabled": "true",
                "quarkus.security.users.embedded.plain-text": "true",
                "quarkus.http.auth.permission.registry-api.paths": "/apis/*",
                "quarkus.http.auth.permission.registry-api.policy": "authenticated",
            }
        )
        for name, password in users.items():
            if not name or not all(c.isalnum() or c in "-_" for c in name):
                raise ValueError(
                    f"registry user {name!r}: expected letters, digits, '-' or '_' only"
                )
            config[f"quarkus.security.users.embedded.users.{name}"] = password
            config[f"quarkus.security.users.embedded.roles.{name}"] = "sr-admin"
    return config


def basic_auth_header(username: str, password: str) -> str:
    """The ``Authorization`` header value of HTTP basic auth."""
    token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


def answers(url: str, authorization: str | None = None) -> bool:
    """Whether a GET of ``url`` returns 200 within :data:`PROBE_TIMEOUT_S`."""
    request = urllib.request.Request(url)  # noqa: S310 - a loopback http URL built here
    if authorization:
        request.add_header("Authorization", authorization)
    try:
        with urllib.request.urlopen(request, timeout=PROBE_TIMEOUT_S) as response:  # noqa: S310
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


# --------------------------------------------------------------------------------------------------
# Fetch.


def app_dir() -> Path:
    return cache_root() / f"apicurio-registry-{APICURIO_VERSION}" / "app"


def _marker(app: Path) -> Path:
    return app.parent / "fetched"


def _digest() -> str:
    return hashlib.sha256(f"{ARTIFACT}\n{MAVEN_GET}\n".encode()).hexdigest()


def fetched() -> Path | None:
    """The unpacked distribution if a complete fetch is in the cache, else None."""
    app = app_dir()
    return app if builds.is_complete(app, _marker(app), _digest(), [RUNNER_JAR]) else None


def fetch() -> Path:
    """The registry's distribution in the cache, fetched by Maven on first use; returns its
    directory. Instant once done; a failed or interrupted run leaves nothing in place."""
    app = app_dir()
    return builds.produce(
        app, _marker(app), digest=_digest, done=lambda: fetched() is not None, write=_download
    )


def _download(output: Path) -> None:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise FetchError("Maven ('mvn') is not on PATH; it is needed once, to fetch the registry")
    with tempfile.TemporaryDirectory(dir=output.parent) as scratch:
        archive = Path(scratch) / "registry.tar.gz"
        command = [
            mvn,
            "-q",
            "-B",
            MAVEN_GET,
            f"-Dartifact={ARTIFACT}",
            "-Dtransitive=false",
            f"-Ddest={archive}",
        ]
        result = processes.run_tool(
            command, what="Maven", timeout=FETCH_TIMEOUT_S, error=FetchError
        )
        if result.returncode != 0 or not archive.is_file():
            tail = processes.tail_text(result.stdout + result.stderr, LOG_TAIL_LINES)
            raise FetchError(
                f"Maven could not fetch {ARTIFACT} (exit {result.returncode}):\n{tail}"
            )
        output.mkdir(parents=True, exist_ok=True)
        try:
            with tarfile.open(archive) as tar:
                tar.extractall(output, filter="data")
        except (tarfile.TarError, OSError) as exc:
            raise FetchError(f"{ARTIFACT} could not be unpacked: {exc}") from exc
    if not (output / RUNNER_JAR).is_file():
        raise FetchError(f"{ARTIFACT} holds no {RUNNER_JAR}")


# --------------------------------------------------------------------------------------------------
# Start, stop, inspect.


def running(state_dir: Path | None = None) -> Registry | None:
    """The registry recorded in ``state_dir`` if its process still runs, else None."""
    return _SERVICE.running(state_dir or default_state_dir())


def start(
    state_dir: Path | None = None,
    *,
    bootstrap: str,
    topic_prefix: str = DEFAULT_TOPIC_PREFIX,
    users: Mapping[str, str] | None = None,
    ready_timeout: float = READY_TIMEOUT_S,
    die_with_parent: bool = False,
    port: int | None = None,
) -> Registry:
    """Start a registry for ``state_dir`` on the broker ``bootstrap``, or return the one already
    running there.

    ``port`` is the loopback port to listen on (default: one picked free); a registry started
    again on the port of a stopped one has the same URL, as a restarted server would for its
    clients.

    Its schemas are kept in the broker's topic ``<topic_prefix>-journal``: a registry started
    again with the same broker and prefix serves what the previous one registered. ``users``
    (name to password) require HTTP basic auth under ``/apis/``. With ``die_with_parent`` (Linux),
    the registry gets SIGTERM when the calling thread dies.
    """
    if users is not None and len(users) == 0:
        raise ValueError("users: expected at least one name and password, or None for no auth")
    return _SERVICE.start(
        state_dir or default_state_dir(),
        fetch,
        functools.partial(
            _launch, bootstrap=bootstrap, topic_prefix=topic_prefix, users=users, port=port
        ),
        ready_timeout=ready_timeout,
        die_with_parent=die_with_parent,
    )


def _launch(
    app: Path,
    attempt: lifecycle.Launch,
    *,
    bootstrap: str,
    topic_prefix: str,
    users: Mapping[str, str] | None,
    port: int | None = None,
) -> Registry:
    data_dir = attempt.data_dir
    if port is None:
        (port,) = processes.free_ports(1)
    config_path = data_dir / CONFIG_FILE
    config = registry_config(
        port=port, bootstrap=bootstrap, topic_prefix=topic_prefix, data_dir=data_dir, users=users
    )
    config_path.touch(mode=0o600)
    config_path.write_text(format_properties(config), "ascii")
    username, password = next(iter(users.items())) if users else ("", "")
    registry = Registry(
        pid=0,
        port=port,
        bootstrap=bootstrap,
        topic_prefix=topic_prefix,
        username=username,
        state_dir=attempt.state_dir,
        data_dir=data_dir,
        console_path=data_dir / CONSOLE_LOG,
        config_path=config_path,
    )
    command = [
        kafka.java_executable(),
        *JVM_OPTIONS,
        f"-Dquarkus.config.locations={config_path}",
        "-jar",
        str(app / RUNNER_JAR),
    ]
    pid = attempt.spawn("the Schema Registry", command, registry.console_path, data_dir)
    registry = dataclasses.replace(registry, pid=pid)
    authorization = basic_auth_header(username, password) if users else None
    attempt.wait_for(
        registry,
        functools.partial(_is_serving, registry, authorization),
        during="during startup",
        timed_out=f"the Schema Registry did not answer on {registry.url} within "
        f"{attempt.ready_timeout:g}s; it was stopped",
    )
    return registry


def _is_serving(registry: Registry, authorization: str | None) -> bool:
    base = f"http://{HOST}:{registry.port}"
    return answers(f"{base}/health/ready") and answers(f"{registry.url}/subjects", authorization)


def stop(state_dir: Path | None = None, *, grace: float = STOP_GRACE_S) -> None:
    """Stop the registry of ``state_dir`` (SIGTERM, SIGKILL after ``grace`` s) and delete its
    config and log. Its schemas stay in the broker's journal topic."""
    _SERVICE.stop(state_dir or default_state_dir(), grace=grace)


# --------------------------------------------------------------------------------------------------
# Command line: python -m kconnect_devenv.registry {fetch,up,down,status}


def main(argv: Sequence[str] | None = None) -> int:
    return lifecycle.run_cli(
        argv,
        prog="python -m kconnect_devenv.registry",
        description="Fetch, start and stop the local Schema Registry (Apicurio Registry) used for "
        "development; `up` starts the Kafka broker of `make kafka-up` too if it is not running.",
        default_state_dir=default_state_dir,
        state_dir_help="where the registry's state lives (default: $KCONNECT_CACHE/run/registry)",
        commands={"fetch": _cli_fetch, "up": _cli_up, "down": _cli_down, "status": _cli_status},
    )


def _cli_fetch(_state_dir: Path | None = None) -> int:
    app = fetched()
    if app is None:
        print(f"Fetching Apicurio Registry {APICURIO_VERSION} with Maven into {app_dir()} ...")
        began = time.monotonic()
        app = fetch()
        print(f"Fetched in {time.monotonic() - began:.1f}s.")
    print(f"Apicurio Registry {APICURIO_VERSION}: {app}")
    return 0


def _cli_up(state_dir: Path) -> int:
    broker = kafka.running()
    if broker is None:
        print("Starting the Kafka broker of `make kafka-up` ...", flush=True)
        broker = kafka.start()
        state_dir.mkdir(parents=True, exist_ok=True)
        (state_dir / STARTED_KAFKA).write_text("the registry's `up` started the broker\n", "utf-8")
        print(f"KAFKA_BOOTSTRAP={broker.bootstrap}")
    registry = running(state_dir)
    if registry is not None and registry.bootstrap != broker.bootstrap:
        print(f"The registry uses {registry.bootstrap}, not the broker; restarting it.")
        stop(state_dir)
        registry = None
    if registry is not None:
        print(f"The Schema Registry is already running (pid {registry.pid}).")
    else:
        if fetched() is None:
            _cli_fetch()
        print(f"Starting Apicurio Registry {APICURIO_VERSION} ...", flush=True)
        began = time.monotonic()
        registry = start(state_dir, bootstrap=broker.bootstrap)
        print(
            f"The Schema Registry started in {time.monotonic() - began:.1f}s (pid {registry.pid})."
        )
        print(f"Log: {registry.console_path}")
    print(f"SCHEMA_REGISTRY_URL={registry.url}")
    return 0


def _cli_down(state_dir: Path) -> int:
    registry = running(state_dir)
    stop(state_dir)
    print("The Schema Registry stopped." if registry else "The Schema Registry was not running.")
    marker = state_dir / STARTED_KAFKA
    if marker.is_file():
        kafka.stop()
        marker.unlink()
        print("The Kafka broker its `up` started is stopped; its data, schemas too, is deleted.")
    return 0


def _cli_status(state_dir: Path) -> int:
    registry = running(state_dir)
    if registry is None:
        print("The Schema Registry is not running.")
        return 1
    serving = "serving" if answers(f"http://{HOST}:{registry.port}/health/ready") else "NOT ready"
    print(f"The Schema Registry is running (pid {registry.pid}, {serving}).")
    print(f"SCHEMA_REGISTRY_URL={registry.url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
