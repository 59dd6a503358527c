"""A real Apache Kafka broker for development and tests: fetched with Maven, run as a local process.

Kafka's jars come from Maven Central through ``e2e/services/kafka/pom.xml`` (the version is pinned
there), and the broker runs with ``java -cp 'libs/*' kafka.Kafka`` as a single KRaft node that is
broker and controller at once. Nothing but Java 17 and Maven is needed: no tarball, no Docker.

Invariants:

- **Only a complete download is ever used.** The jars live in
  ``$KCONNECT_CACHE/kafka-<version>/libs`` (``KCONNECT_CACHE`` defaults to ``~/.cache/kconnect``).
  Maven copies them into a temporary directory that is renamed into place, and only then is a marker
  written; it holds the pom's digest, so an edited pom fetches again. Concurrent fetches are
  serialized by a lock file.
- **One broker per state directory.** A state directory holds ``broker.json`` (pid, ports, paths)
  and ``data/`` (the broker's config, its KRaft metadata and topic data, and its logs).
  ``make kafka-up`` uses ``$KCONNECT_CACHE/run/kafka``; every pytest session uses a private
  temporary one. Start and stop on one state directory are serialized by a lock file, so two
  concurrent ``up`` start one broker.
- **A started broker serves.** :func:`start` returns only once the broker has answered a Kafka
  Metadata request that lists itself, i.e. it is unfenced and serving clients; ``broker.json`` is
  written only then. Otherwise it kills what it started and raises :class:`BrokerStartError` with
  the tail of the broker's logs. Every wait is bounded.
- **Loopback only.** Every listener binds 127.0.0.1, on ports picked free at start.

The readiness check speaks the Kafka protocol over a plain socket, so this module needs nothing
beyond the standard library; in particular it imports without confluent_kafka.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import dataclasses
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final

from e2e.services import processes
from e2e.services.processes import CHILDREN as _CHILDREN
from e2e.services.processes import exit_on_sigterm as _exit_on_sigterm
from e2e.services.processes import free_ports as _free_ports
from e2e.services.processes import is_alive as _is_alive
from e2e.services.processes import locked as _locked
from e2e.services.processes import parent_death_signal as _parent_death_signal
from e2e.services.processes import tail_text as _tail_text
from e2e.services.processes import write_atomically as _write_atomically

SERVICE_DIR: Final = Path(__file__).resolve().parent / "kafka"
POM: Final = SERVICE_DIR / "pom.xml"
LOG4J2_CONFIG: Final = SERVICE_DIR / "log4j2.xml"
HOST: Final = "127.0.0.1"

# A cold download is some 30 MB of jars plus Maven's own plugins.
FETCH_TIMEOUT_S: Final = 900.0
FORMAT_TIMEOUT_S: Final = 60.0
READY_TIMEOUT_S: Final = 60.0
STOP_GRACE_S: Final = 20.0
KILL_WAIT_S: Final = 10.0
PORT_ATTEMPTS: Final = 3

# A small heap, and a JVM that spends little of a 2-core machine on itself: the serial collector has
# no GC threads, and without perf data the JVM writes no hsperfdata file.
JVM_OPTIONS: Final = (
    "-Xms128m",
    "-Xmx512m",
    "-XX:+UseSerialGC",
    "-XX:-UsePerfData",
    "-Djava.awt.headless=true",
    "-Dlog4j2.disable.jmx=true",
)
TOOL_JVM_OPTIONS: Final = (
    "-Xmx256m",
    "-XX:+UseSerialGC",
    "-XX:-UsePerfData",
    "-XX:TieredStopAtLevel=1",
    "-Djava.awt.headless=true",
    "-Dlog4j2.disable.jmx=true",
)

STATE_FILE: Final = "broker.json"
LOCK_FILE: Final = "lock"
DATA_DIR: Final = "data"
CONFIG_FILE: Final = "server.properties"
SERVER_LOG: Final = "server.log"
CONSOLE_LOG: Final = "console.log"
LOG_TAIL_LINES: Final = 40


class KafkaServiceError(RuntimeError):
    """The broker could not be fetched, started or stopped; the message says why."""


class FetchError(KafkaServiceError):
    """Maven could not fetch Kafka's jars."""


class BrokerStartError(KafkaServiceError):
    """The broker did not come up; nothing started by the attempt is left running."""


class _PortTakenError(BrokerStartError):
    """The broker exited because one of the ports picked for it was taken meanwhile."""


@dataclasses.dataclass(frozen=True)
class Broker:
    """A running broker, as recorded in its state directory."""

    pid: int
    port: int
    controller_port: int
    state_dir: Path
    data_dir: Path
    log_path: Path
    console_path: Path
    config_path: Path

    @property
    def bootstrap(self) -> str:
        """The value for ``bootstrap.servers``."""
        return f"{HOST}:{self.port}"

    def to_json(self) -> dict[str, object]:
        return {
            "pid": self.pid,
            "port": self.port,
            "controller_port": self.controller_port,
            "state_dir": str(self.state_dir),
            "data_dir": str(self.data_dir),
            "log_path": str(self.log_path),
            "console_path": str(self.console_path),
            "config_path": str(self.config_path),
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, object]) -> Broker:
        def integer(key: str) -> int:
            value = raw.get(key)
            if not isinstance(value, int):
                raise TypeError(f"{STATE_FILE}: {key!r} is {value!r}, expected an integer")
            return value

        def path(key: str) -> Path:
            value = raw.get(key)
            if not isinstance(value, str):
                raise TypeError(f"{STATE_FILE}: {key!r} is {value!r}, expected a path")
            return Path(value)

        return cls(
            pid=integer("pid"),
            port=integer("port"),
            controller_port=integer("controller_port"),
            state_dir=path("state_dir"),
            data_dir=path("data_dir"),
            log_path=path("log_path"),
            console_path=path("console_path"),
            config_path=path("config_path"),
        )


# --------------------------------------------------------------------------------------------------
# Pure parts: versions, paths, the broker config and the Kafka protocol probe.


def kafka_version(pom: Path = POM) -> str:
    """The Kafka version pinned in the pom (its ``kafka.version`` property)."""
    match = re.search(r"<kafka\.version>\s*([^<\s]+)\s*</kafka\.version>", pom.read_text("utf-8"))
    if match is None:
        raise KafkaServiceError(f"{pom}: no <kafka.version> property; expected e.g. 4.1.1")
    return match.group(1)


def cache_root() -> Path:
    """``$KCONNECT_CACHE``, or ``~/.cache/kconnect`` when it is unset or empty."""
    configured = os.environ.get("KCONNECT_CACHE", "")
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "kconnect"


def default_state_dir() -> Path:
    """The state directory of the broker that ``make kafka-up`` manages."""
    return cache_root() / "run" / "kafka"


def random_cluster_id() -> str:
    """A cluster id in Kafka's ``Uuid`` text form: 16 random bytes, URL-safe base64 without padding.

    Kafka's own generator never returns an id starting with ``-`` (it would read as a CLI option).
    """
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode("ascii")
        if not text.startswith("-"):
            return text


def broker_config(
    *, port: int, controller_port: int, log_dir: Path, overrides: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The ``server.properties`` of a single-node KRaft broker+controller on loopback.

    Replication factors are 1 because there is one node. Internal topics get few partitions, so the
    first consumer group or transaction does not wait for 50 partitions to be created. Everything
    else is Kafka's default, including topic auto-creation, so Kafka's quickstart configs work.
    """
    config = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@{HOST}:{controller_port}",
        "listeners": f"PLAINTEXT://{HOST}:{port},CONTROLLER://{HOST}:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://{HOST}:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(log_dir),
        "num.partitions": "1",
        "auto.create.topics.enable": "true",
        "group.initial.rebalance.delay.ms": "0",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "5",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "5",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "share.coordinator.state.topic.num.partitions": "5",
    }
    config.update(overrides or {})
    return config


def render_properties(config: Mapping[str, str]) -> str:
    """Java properties text; backslashes are escaped, since Java reads them as escapes."""
    lines = [f"{key}={value.replace(chr(92), chr(92) * 2)}" for key, value in config.items()]
    return "\n".join(lines) + "\n"


METADATA_API_KEY: Final = 3
# Version 4 is the oldest with AllowAutoTopicCreation, and Kafka 4.x still accepts it; before
# version 9 nothing is "flexible" (tagged), which keeps the encoding to fixed fields and strings.
METADATA_API_VERSION: Final = 4
PROBE_CLIENT_ID: Final = b"kconnect-kafka-probe"


class ProtocolError(Exception):
    """A response that is not the Metadata response that was asked for."""


def encode_metadata_request(correlation_id: int) -> bytes:
    """A size-prefixed Metadata v4 request for no topics: the answer lists the live brokers only."""
    header = struct.pack(
        ">hhih", METADATA_API_KEY, METADATA_API_VERSION, correlation_id, len(PROBE_CLIENT_ID)
    )
    header += PROBE_CLIENT_ID
    body = struct.pack(
        ">i?", 0, False
    )  # Topics: empty (not null, which would mean all); no auto-create
    return struct.pack(">i", len(header) + len(body)) + header + body


def decode_metadata_brokers(payload: bytes, correlation_id: int) -> list[tuple[int, str, int]]:
    """The ``(node_id, host, port)`` of each broker in a Metadata v4 response (without size prefix).

    A KRaft broker lists only unfenced brokers, so a node seeing itself here is ready for clients.
    """
    try:
        (got_correlation_id, _throttle_ms, count) = struct.unpack_from(">iii", payload, 0)
        if got_correlation_id != correlation_id:
            raise ProtocolError(f"correlation id {got_correlation_id}, expected {correlation_id}")
        offset = 12
        brokers = []
        for _ in range(count):
            node_id, host_len = struct.unpack_from(">ih", payload, offset)
            offset += 6
            host = payload[offset : offset + host_len].decode("utf-8")
            offset += host_len
            (port, rack_len) = struct.unpack_from(">ih", payload, offset)
            offset += 6 + max(rack_len, 0)
            brokers.append((node_id, host, port))
    except (struct.error, UnicodeDecodeError) as exc:
        raise ProtocolError(f"malformed Metadata response: {exc}") from exc
    return brokers


def metadata_brokers(port: int, *, timeout: float = 2.0) -> list[tuple[int, str, int]]:
    """Ask the broker at ``127.0.0.1:port`` which brokers are live.

    Raises OSError when it cannot be reached, ProtocolError when it answers nonsense.
    """
    correlation_id = os.getpid() & 0x7FFFFFFF
    with socket.create_connection((HOST, port), timeout=timeout) as sock:
        sock.sendall(encode_metadata_request(correlation_id))
        (size,) = struct.unpack(">i", _recv_exactly(sock, 4))
        return decode_metadata_brokers(_recv_exactly(sock, size), correlation_id)


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(size - len(chunks))
        if not chunk:
            raise ProtocolError(f"connection closed after {len(chunks)} of {size} bytes")
        chunks += chunk
    return bytes(chunks)


def is_serving(port: int) -> bool:
    """Whether the broker on ``port`` answers Metadata and lists itself among the live brokers."""
    try:
        return any(broker_port == port for _, _, broker_port in metadata_brokers(port))
    except (OSError, ProtocolError):
        return False


# --------------------------------------------------------------------------------------------------
# Fetch.


def libs_dir() -> Path:
    return cache_root() / f"kafka-{kafka_version()}" / "libs"


def fetched() -> Path | None:
    """The libs directory if a complete fetch for the current pom is in the cache, else None."""
    return maven_fetched(POM, libs_dir())


def fetch() -> Path:
    """Kafka's jars in the cache, downloaded by Maven on first use; returns the libs directory.

    Instant once done. A failed or interrupted run leaves no marker, so the next call starts over.
    """
    return maven_fetch(POM, libs_dir(), f"kafka_2.13-{kafka_version()}.jar")


def _pom_digest(pom: Path) -> str:
    return hashlib.sha256(pom.read_bytes()).hexdigest()


def _marker(libs: Path) -> Path:
    return libs.parent / "fetched"


def maven_fetched(pom: Path, libs: Path) -> Path | None:
    """``libs`` if it holds a complete copy of ``pom``'s runtime dependencies, else None.

    Complete means that the marker next to ``libs`` holds the digest of ``pom`` as it is now.
    """
    with contextlib.suppress(OSError):
        if _marker(libs).read_text("ascii").strip() == _pom_digest(pom) and libs.is_dir():
            return libs
    return None


def maven_fetch(pom: Path, libs: Path, expected_jar: str) -> Path:
    """Copy ``pom``'s runtime dependencies into ``libs`` with Maven, unless already done.

    Maven writes into a temporary sibling of ``libs`` that is renamed into place once
    ``expected_jar`` is among the copied files; the marker is written last. A lock file next to
    ``libs``'s parent serializes concurrent fetches of the same directory.
    """
    done = maven_fetched(pom, libs)
    if done is not None:
        return done
    home = libs.parent
    home.mkdir(parents=True, exist_ok=True)
    with _locked(home.parent / f"{home.name}.lock"):
        done = maven_fetched(pom, libs)  # another process may have finished meanwhile
        if done is not None:
            return done
        mvn = shutil.which("mvn")
        if mvn is None:
            raise FetchError(
                f"Maven ('mvn') is not on PATH; it is needed once, to fetch the jars of {pom}"
            )
        digest = _pom_digest(pom)  # of the pom Maven reads, even if it is edited meanwhile
        partial = Path(tempfile.mkdtemp(prefix="libs.partial-", dir=home))
        try:
            command = [
                mvn,
                "-q",
                "-B",
                "-f",
                str(pom),
                "dependency:copy-dependencies",
                f"-DoutputDirectory={partial}",
            ]
            try:
                result = subprocess.run(
                    command,
                    stdin=subprocess.DEVNULL,
                    capture_output=True,
                    text=True,
                    timeout=FETCH_TIMEOUT_S,
                    check=False,
                )
            except subprocess.TimeoutExpired as exc:
                raise FetchError(
                    f"Maven did not finish within {FETCH_TIMEOUT_S:.0f}s: {command}"
                ) from exc
            output = _tail_text(result.stdout + result.stderr, LOG_TAIL_LINES)
            if result.returncode != 0:
                raise FetchError(f"Maven exited with {result.returncode}: {command}\n{output}")
            expected = partial / expected_jar
            if not expected.is_file():
                raise FetchError(
                    f"Maven succeeded but {expected.name} is missing from {partial}\n{output}"
                )
            _marker(libs).unlink(missing_ok=True)
            if libs.exists():
                shutil.rmtree(libs)
            partial.rename(libs)
            _write_atomically(_marker(libs), digest + "\n")
        finally:
            shutil.rmtree(partial, ignore_errors=True)
    return libs


# --------------------------------------------------------------------------------------------------
# Start, stop, inspect.


def running(state_dir: Path | None = None) -> Broker | None:
    """The broker recorded in ``state_dir`` if its process still runs, else None."""
    broker = _read_state(state_dir or default_state_dir())
    if broker is None or not _is_alive(broker.pid, broker.config_path):
        return None
    return broker


def start(
    state_dir: Path | None = None,
    *,
    overrides: Mapping[str, str] | None = None,
    ready_timeout: float = READY_TIMEOUT_S,
    die_with_parent: bool = False,
) -> Broker:
    """Start a broker for ``state_dir``, or return the one already running there.

    ``overrides`` are extra ``server.properties`` entries; they apply only when a broker is started.
    With ``die_with_parent`` (Linux), the broker gets SIGTERM when the calling thread dies, so a
    test session killed outright leaves no JVM behind; the calling thread must outlive the broker,
    as the main thread of a pytest session does.

    After a failed start the data directory stays for inspection until the next start or stop.
    """
    state_dir = (state_dir or default_state_dir()).resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    with _locked(state_dir / LOCK_FILE):
        existing = running(state_dir)
        if existing is not None:
            return existing
        libs = fetch()
        for attempt in range(1, PORT_ATTEMPTS + 1):
            _clear(state_dir)
            try:
                return _start_once(libs, state_dir, overrides, ready_timeout, die_with_parent)
            except _PortTakenError:
                # Another process bound a port between the pick and the broker's bind.
                if attempt == PORT_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")


def _start_once(
    libs: Path,
    state_dir: Path,
    overrides: Mapping[str, str] | None,
    ready_timeout: float,
    die_with_parent: bool,
) -> Broker:
    data_dir = state_dir / DATA_DIR
    data_dir.mkdir()
    port, controller_port = _free_ports(2)
    config_path = data_dir / CONFIG_FILE
    config = broker_config(
        port=port, controller_port=controller_port, log_dir=data_dir / "kraft", overrides=overrides
    )
    config_path.write_text(render_properties(config), "utf-8")
    broker = Broker(
        pid=0,
        port=port,
        controller_port=controller_port,
        state_dir=state_dir,
        data_dir=data_dir,
        log_path=data_dir / SERVER_LOG,
        console_path=data_dir / CONSOLE_LOG,
        config_path=config_path,
    )
    _format_storage(libs, broker)
    process = _spawn(libs, broker, die_with_parent=die_with_parent)
    broker = dataclasses.replace(broker, pid=process.pid)
    try:
        _wait_until_serving(process, broker, ready_timeout)
        _write_atomically(state_dir / STATE_FILE, json.dumps(broker.to_json(), indent=2) + "\n")
    except BaseException:
        processes.kill(process.pid, KILL_WAIT_S)
        _CHILDREN.pop(process.pid, None)
        raise
    return broker


def stop(state_dir: Path | None = None, *, grace: float = STOP_GRACE_S) -> None:
    """Stop the broker of ``state_dir`` (SIGTERM, SIGKILL after ``grace`` s) and delete its data.

    Does nothing when no broker runs there, and removes leftovers of a crashed one.
    """
    state_dir = (state_dir or default_state_dir()).resolve()
    if not state_dir.is_dir():
        return
    with _locked(state_dir / LOCK_FILE):
        broker = running(state_dir)
        if broker is not None:
            _terminate(broker.pid, broker.config_path, grace)
        _clear(state_dir)


# Brokers started by this process. Their Popen objects are kept so that their exit status is
# collected (no zombie), and so that Python does not warn about a dropped child that still runs.
def _format_storage(libs: Path, broker: Broker) -> None:
    command = _java_command(
        libs,
        TOOL_JVM_OPTIONS,
        broker.data_dir,
        "kafka.tools.StorageTool",
        ["format", "--config", str(broker.config_path), "--cluster-id", random_cluster_id()],
    )
    try:
        result = subprocess.run(
            command,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=FORMAT_TIMEOUT_S,
            check=False,
            cwd=broker.data_dir,
        )
    except subprocess.TimeoutExpired as exc:
        raise BrokerStartError(
            f"Kafka's StorageTool did not finish within {FORMAT_TIMEOUT_S:.0f}s"
        ) from exc
    if result.returncode != 0:
        output = _tail_text(result.stdout + result.stderr, LOG_TAIL_LINES)
        raise BrokerStartError(
            f"Kafka's StorageTool could not format {broker.data_dir} "
            f"(exit {result.returncode}):\n{output}"
        )


def _spawn(libs: Path, broker: Broker, *, die_with_parent: bool) -> subprocess.Popen[bytes]:
    command = _java_command(
        libs, JVM_OPTIONS, broker.data_dir, "kafka.Kafka", [str(broker.config_path)]
    )
    preexec = _parent_death_signal(signal.SIGTERM) if die_with_parent else None
    with broker.console_path.open("ab") as console:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=console,
            stderr=subprocess.STDOUT,
            cwd=broker.data_dir,
            start_new_session=True,
            preexec_fn=preexec,  # noqa: PLW1509 - it only calls prctl, resolved before the fork
        )
    _CHILDREN[process.pid] = process
    return process


def _wait_until_serving(process: subprocess.Popen[bytes], broker: Broker, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        code = process.poll()
        if code is not None:
            tails = _log_tails(broker)
            error = _PortTakenError if "Address already in use" in tails else BrokerStartError
            raise error(f"the Kafka broker exited with {code} during startup\n{tails}")
        if is_serving(broker.port):
            return
        if time.monotonic() >= deadline:
            raise BrokerStartError(
                f"the Kafka broker did not answer on {broker.bootstrap} within {timeout:g}s; "
                f"it was stopped\n{_log_tails(broker)}"
            )
        time.sleep(0.2)


def _java_command(
    libs: Path, jvm_options: Sequence[str], logs_dir: Path, main_class: str, args: Sequence[str]
) -> list[str]:
    return [
        java_executable(),
        *jvm_options,
        f"-Dlog4j2.configurationFile={LOG4J2_CONFIG}",
        f"-Dkafka.logs.dir={logs_dir}",
        "-cp",
        f"{libs}/*",
        main_class,
        *args,
    ]


def java_executable() -> str:
    java_home = os.environ.get("JAVA_HOME", "")
    if java_home and (Path(java_home) / "bin" / "java").is_file():
        return str(Path(java_home) / "bin" / "java")
    found = shutil.which("java")
    if found is None:
        raise KafkaServiceError(
            "'java' is not on PATH and JAVA_HOME is unset; Kafka needs Java 17+"
        )
    return found


def _terminate(pid: int, config_path: Path, grace: float) -> None:
    if not processes.terminate(pid, config_path, grace, KILL_WAIT_S):
        raise KafkaServiceError(
            f"the Kafka broker (pid {pid}) survived SIGKILL for {KILL_WAIT_S:.0f}s"
        )


def _read_state(state_dir: Path) -> Broker | None:
    try:
        raw = json.loads((state_dir / STATE_FILE).read_text("utf-8"))
        broker = Broker.from_json(raw)
    except (OSError, ValueError, TypeError, AttributeError):
        return None
    return broker


def _clear(state_dir: Path) -> None:
    """Remove what a previous broker left in ``state_dir``: its state file and its data."""
    (state_dir / STATE_FILE).unlink(missing_ok=True)
    shutil.rmtree(state_dir / DATA_DIR, ignore_errors=True)


def _log_tails(broker: Broker) -> str:
    parts = []
    for path in (broker.console_path, broker.log_path):
        with contextlib.suppress(OSError):
            tail = _tail_text(path.read_text("utf-8", errors="replace"), LOG_TAIL_LINES)
            if tail:
                parts.append(f"--- last lines of {path} ---\n{tail}")
    return "\n".join(parts) or f"(no broker output in {broker.data_dir})"


# --------------------------------------------------------------------------------------------------
# Command line: python -m e2e.services.kafka {fetch,up,down,status}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m e2e.services.kafka",
        description="Fetch, start and stop the local Apache Kafka broker used for development.",
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help="where the broker's state and data live (default: $KCONNECT_CACHE/run/kafka)",
    )
    parser.add_argument("command", choices=["fetch", "up", "down", "status"])
    args = parser.parse_args(argv)
    state_dir: Path = args.state_dir or default_state_dir()
    # SIGTERM unwinds like Ctrl-C, so a broker being started is stopped rather than orphaned.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        if args.command == "fetch":
            return _cli_fetch()
        if args.command == "up":
            return _cli_up(state_dir)
        if args.command == "down":
            return _cli_down(state_dir)
        return _cli_status(state_dir)
    except KafkaServiceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _cli_fetch() -> int:
    libs = fetched()
    if libs is None:
        print(
            f"Fetching Apache Kafka {kafka_version()} with Maven into {libs_dir()} ...", flush=True
        )
        began = time.monotonic()
        libs = fetch()
        print(f"Fetched in {time.monotonic() - began:.1f}s.")
    print(f"Apache Kafka {kafka_version()} jars: {libs}")
    return 0


def _cli_up(state_dir: Path) -> int:
    broker = running(state_dir)
    if broker is not None:
        print(f"Kafka is already running (pid {broker.pid}, data {broker.data_dir}).")
    else:
        if fetched() is None:
            _cli_fetch()
        print(f"Starting Apache Kafka {kafka_version()} ...", flush=True)
        began = time.monotonic()
        broker = start(state_dir)
        print(f"Kafka started in {time.monotonic() - began:.1f}s (pid {broker.pid}).")
        print(f"Data and logs: {broker.data_dir}")
    print(f"KAFKA_BOOTSTRAP={broker.bootstrap}")
    return 0


def _cli_down(state_dir: Path) -> int:
    broker = running(state_dir)
    stop(state_dir)
    print("Kafka stopped; its data is deleted." if broker else "Kafka was not running.")
    return 0


def _cli_status(state_dir: Path) -> int:
    broker = running(state_dir)
    if broker is None:
        print("Kafka is not running.")
        return 1
    serving = "serving" if is_serving(broker.port) else "NOT answering"
    print(f"Kafka is running (pid {broker.pid}, {serving}).")
    print(f"KAFKA_BOOTSTRAP={broker.bootstrap}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
