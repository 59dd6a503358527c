"""A real Apache Kafka broker for development and tests: fetched with Maven, run as a local process.

Kafka's jars come from Maven Central through ``kconnect_devenv/kafka/pom.xml`` (the version is
pinned there), and the broker runs with ``java -cp 'libs/*' kafka.Kafka`` as a single KRaft node
that is broker and controller at once. Nothing but Java 17 and Maven is needed: no tarball, no
Docker.

Invariants:

- **Only a complete download is ever used.** The jars live in
  ``$KCONNECT_CACHE/kafka-<version>/libs`` (``KCONNECT_CACHE`` defaults to ``~/.cache/kconnect``),
  beside a marker holding the pom's digest, so an edited pom fetches again
  (:mod:`kconnect_devenv.builds`).
- **One broker per state directory**, with the lifecycle of :mod:`kconnect_devenv.lifecycle`: the
  state file ``broker.json`` (pid, ports, paths), the lock, and ``data/`` (the broker's config, its
  KRaft metadata and topic data, and its logs). ``make kafka-up`` uses
  ``$KCONNECT_CACHE/run/kafka``; every pytest session uses a private temporary one. A stale
  ``broker.json`` (the broker died) is cleared by the next start, which starts a new broker.
- **A started broker serves.** :func:`start` returns only once the broker has answered a Kafka
  Metadata request that lists itself, i.e. it is unfenced and serving clients; ``broker.json`` is
  written only then. Otherwise it kills what it started and raises :class:`BrokerStartError` with
  the tail of the broker's logs. Every wait is bounded.
- **Loopback only.** Every listener binds 127.0.0.1, on ports picked free at start. The one
  exception is asked for: ``start(pods_listener=True)`` adds the listener ``PODS`` on
  :data:`kconnect_devenv.nodenetwork.HOST_ADDRESS`, where the real node's pods reach the host (a
  control plane started for a node has put that address on ``lo``); clients that bootstrap there
  are told that address back.

The readiness check speaks the Kafka protocol over a plain socket, so this module needs nothing
beyond the standard library; in particular it imports without confluent_kafka.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import functools
import hashlib
import os
import re
import shutil
import socket
import struct
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final

from kconnect.config.properties import format_properties
from kconnect_devenv import builds, lifecycle, nodenetwork, processes
from kconnect_devenv.lifecycle import cache_root

SERVICE_DIR: Final = Path(__file__).resolve().parent / "kafka"
POM: Final = SERVICE_DIR / "pom.xml"
LOG4J2_CONFIG: Final = SERVICE_DIR / "log4j2.xml"
HOST: Final = "127.0.0.1"

# A cold download is some 30 MB of jars plus Maven's own plugins.
FETCH_TIMEOUT_S: Final = 900.0
FORMAT_TIMEOUT_S: Final = 60.0
READY_TIMEOUT_S: Final = 60.0
STOP_GRACE_S: Final = 20.0

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
DATA_DIR: Final = lifecycle.DATA_DIR
CONFIG_FILE: Final = "server.properties"
SERVER_LOG: Final = "server.log"
CONSOLE_LOG: Final = "console.log"
LOG_TAIL_LINES: Final = 40


class KafkaServiceError(lifecycle.ServiceError):
    """The broker could not be fetched, started or stopped; the message says why."""


class FetchError(KafkaServiceError):
    """Maven could not fetch Kafka's jars."""


class BrokerStartError(KafkaServiceError, lifecycle.StartError):
    """The broker did not come up; nothing started by the attempt is left running."""


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
    pods_port: int  # 0 without a listener for pods

    @property
    def bootstrap(self) -> str:
        """The value for ``bootstrap.servers``."""
        return f"{HOST}:{self.port}"

    @property
    def pods_bootstrap(self) -> str | None:
        """``bootstrap.servers`` for a pod on the real node, if the broker listens for pods."""
        return f"{nodenetwork.HOST_ADDRESS}:{self.pods_port}" if self.pods_port else None

    @property
    def pids(self) -> dict[str, int]:
        return {"kafka": self.pid}

    @property
    def mark(self) -> Path:
        """Only this broker has its config file on its command line."""
        return self.config_path

    def log_paths(self) -> tuple[Path, ...]:
        return (self.console_path, self.log_path)

    def to_json(self) -> dict[str, object]:
        return lifecycle.state_to_json(self)

    @classmethod
    def from_json(cls, raw: Mapping[str, object]) -> Broker:
        return lifecycle.state_from_json(cls, raw, STATE_FILE)


_SERVICE: Final = lifecycle.Service(
    title="the Kafka broker",
    state_file=STATE_FILE,
    load=Broker.from_json,
    error=KafkaServiceError,
    start_error=BrokerStartError,
    log_tail_lines=LOG_TAIL_LINES,
)


# --------------------------------------------------------------------------------------------------
# Pure parts: versions, paths, the broker config and the Kafka protocol probe.


def kafka_version(pom: Path = POM) -> str:
    """The Kafka version pinned in the pom (its ``kafka.version`` property)."""
    match = re.search(r"<kafka\.version>\s*([^<\s]+)\s*</kafka\.version>", pom.read_text("utf-8"))
    if match is None:
        raise KafkaServiceError(f"{pom}: no <kafka.version> property; expected e.g. 4.1.1")
    return match.group(1)


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
    *,
    port: int,
    controller_port: int,
    log_dir: Path,
    overrides: Mapping[str, str] | None = None,
    pods_port: int = 0,
    extra_listeners: Sequence[Listener] = (),
) -> dict[str, str]:
    """The ``server.properties`` of a single-node KRaft broker+controller on loopback.

    Replication factors are 1 because there is one node. Internal topics get few partitions, so the
    first consumer group or transaction does not wait for 50 partitions to be created. Everything
    else is Kafka's default, including topic auto-creation, so Kafka's quickstart configs work.
    ``extra_listeners`` are added to the listeners, the advertised listeners and the protocol map;
    the broker itself keeps talking to itself over PLAINTEXT.
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
    if pods_port:
        pods = f"PODS://{nodenetwork.HOST_ADDRESS}:{pods_port}"
        config["listeners"] += f",{pods}"
        config["advertised.listeners"] += f",{pods}"
        config["listener.security.protocol.map"] += ",PODS:PLAINTEXT"
    for listener in extra_listeners:
        config["listeners"] += f",{listener.name}://{listener.host}:{listener.port}"
        config["advertised.listeners"] += f",{listener.name}://{listener.host}:{listener.port}"
        config["listener.security.protocol.map"] += f",{listener.name}:{listener.protocol}"
    config.update(overrides or {})
    return config


@dataclasses.dataclass(frozen=True)
class Listener:
    """A listener beyond PLAINTEXT and CONTROLLER: its name, security protocol, port and the
    address it listens on and advertises (loopback unless the real node's pods must reach it:
    :data:`kconnect_devenv.nodenetwork.HOST_ADDRESS`)."""

    name: str
    protocol: str
    port: int
    host: str = HOST


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
        if builds.is_complete(libs, _marker(libs), _pom_digest(pom)):
            return libs
    return None


def maven_fetch(pom: Path, libs: Path, expected_jar: str) -> Path:
    """Copy ``pom``'s runtime dependencies into ``libs`` with Maven, unless already done.

    A cached build (:func:`kconnect_devenv.builds.produce`): complete once ``expected_jar`` is among
    the copied files, serialized by a lock file next to ``libs``'s parent.
    """
    return builds.produce(
        libs,
        _marker(libs),
        digest=lambda: _pom_digest(pom),  # of the pom Maven reads, even if it is edited meanwhile
        done=lambda: maven_fetched(pom, libs) is not None,
        write=functools.partial(_maven_copy, pom, expected_jar),
    )


def _maven_copy(pom: Path, expected_jar: str, output: Path) -> None:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise FetchError(
            f"Maven ('mvn') is not on PATH; it is needed once, to fetch the jars of {pom}"
        )
    command = [
        mvn,
        "-q",
        "-B",
        "-f",
        str(pom),
        "dependency:copy-dependencies",
        f"-DoutputDirectory={output}",
    ]
    result = processes.run_tool(command, what="Maven", timeout=FETCH_TIMEOUT_S, error=FetchError)
    tail = processes.tail_text(result.stdout + result.stderr, LOG_TAIL_LINES)
    if result.returncode != 0:
        raise FetchError(f"Maven exited with {result.returncode}: {command}\n{tail}")
    expected = output / expected_jar
    if not expected.is_file():
        raise FetchError(f"Maven succeeded but {expected.name} is missing from {output}\n{tail}")


# --------------------------------------------------------------------------------------------------
# Start, stop, inspect.


def running(state_dir: Path | None = None) -> Broker | None:
    """The broker recorded in ``state_dir`` if its process still runs, else None."""
    return _SERVICE.running(state_dir or default_state_dir())


def start(
    state_dir: Path | None = None,
    *,
    overrides: Mapping[str, str] | None = None,
    ready_timeout: float = READY_TIMEOUT_S,
    die_with_parent: bool = False,
    pods_listener: bool = False,
    extra_listeners: Sequence[Listener] = (),
    format_args: Sequence[str] = (),
    jvm_options: Sequence[str] = (),
) -> Broker:
    """Start a broker for ``state_dir``, or return the one already running there.

    ``overrides`` are extra ``server.properties`` entries; they apply only when a broker is started.
    ``extra_listeners`` (see :func:`broker_config`), ``format_args`` (extra arguments of
    ``kafka-storage format``, e.g. ``--add-scram``) and ``jvm_options`` (e.g. ``-D`` system
    properties) serve a secured broker (:mod:`kconnect_devenv.secured_kafka`).
    With ``die_with_parent`` (Linux), the broker gets SIGTERM when the calling thread dies, so a
    test session killed outright leaves no JVM behind; the calling thread must outlive the broker,
    as the main thread of a pytest session does.

    ``pods_listener`` adds a listener where the real node's pods reach the host
    (:attr:`Broker.pods_bootstrap`); it needs that address on ``lo``, as a control plane started
    for a node puts it there.

    After a failed start the data directory stays for inspection until the next start or stop.
    """
    return _SERVICE.start(
        state_dir or default_state_dir(),
        fetch,
        functools.partial(
            _launch,
            overrides=overrides,
            pods_listener=pods_listener,
            extra_listeners=extra_listeners,
            format_args=format_args,
            jvm_options=jvm_options,
        ),
        ready_timeout=ready_timeout,
        die_with_parent=die_with_parent,
    )


def _launch(
    libs: Path,
    attempt: lifecycle.Launch,
    *,
    overrides: Mapping[str, str] | None,
    pods_listener: bool = False,
    extra_listeners: Sequence[Listener] = (),
    format_args: Sequence[str] = (),
    jvm_options: Sequence[str] = (),
) -> Broker:
    data_dir = attempt.data_dir
    port, controller_port, pods_port = processes.free_ports(
        3, avoid={listener.port for listener in extra_listeners}
    )
    if not pods_listener:
        pods_port = 0
    config_path = data_dir / CONFIG_FILE
    config = broker_config(
        port=port,
        controller_port=controller_port,
        log_dir=data_dir / "kraft",
        overrides=overrides,
        pods_port=pods_port,
        extra_listeners=extra_listeners,
    )
    # format_properties writes ASCII with \uXXXX escapes, which the broker reads as Latin-1.
    config_path.write_text(format_properties(config), "ascii")
    broker = Broker(
        pid=0,
        port=port,
        controller_port=controller_port,
        state_dir=attempt.state_dir,
        data_dir=data_dir,
        log_path=data_dir / SERVER_LOG,
        console_path=data_dir / CONSOLE_LOG,
        config_path=config_path,
        pods_port=pods_port,
    )
    _format_storage(libs, broker, format_args)
    command = _java_command(
        libs,
        (*JVM_OPTIONS, *jvm_options),
        broker.data_dir,
        "kafka.Kafka",
        [str(broker.config_path)],
    )
    pid = attempt.spawn("the Kafka broker", command, broker.console_path, broker.data_dir)
    broker = dataclasses.replace(broker, pid=pid)
    attempt.wait_for(
        broker,
        functools.partial(is_serving, broker.port),
        during="during startup",
        timed_out=f"the Kafka broker did not answer on {broker.bootstrap} within "
        f"{attempt.ready_timeout:g}s; it was stopped",
    )
    return broker


def stop(state_dir: Path | None = None, *, grace: float = STOP_GRACE_S) -> None:
    """Stop the broker of ``state_dir`` (SIGTERM, SIGKILL after ``grace`` s) and delete its data.

    Does nothing when no broker runs there, and removes leftovers of a crashed one.
    """
    _SERVICE.stop(state_dir or default_state_dir(), grace=grace)


def _format_storage(libs: Path, broker: Broker, extra_args: Sequence[str] = ()) -> None:
    command = _java_command(
        libs,
        TOOL_JVM_OPTIONS,
        broker.data_dir,
        "kafka.tools.StorageTool",
        [
            "format",
            "--config",
            str(broker.config_path),
            "--cluster-id",
            random_cluster_id(),
            *extra_args,
        ],
    )
    result = processes.run_tool(
        command,
        what="Kafka's StorageTool",
        timeout=FORMAT_TIMEOUT_S,
        error=BrokerStartError,
        cwd=broker.data_dir,
    )
    if result.returncode != 0:
        output = processes.tail_text(result.stdout + result.stderr, LOG_TAIL_LINES)
        raise BrokerStartError(
            f"Kafka's StorageTool could not format {broker.data_dir} "
            f"(exit {result.returncode}):\n{output}"
        )


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


# --------------------------------------------------------------------------------------------------
# Command line: python -m kconnect_devenv.kafka {fetch,up,down,status}


def main(argv: Sequence[str] | None = None) -> int:
    return lifecycle.run_cli(
        argv,
        prog="python -m kconnect_devenv.kafka",
        description="Fetch, start and stop the local Apache Kafka broker used for development.",
        default_state_dir=default_state_dir,
        state_dir_help="where the broker's state and data live "
        "(default: $KCONNECT_CACHE/run/kafka)",
        commands={"fetch": _cli_fetch, "up": _cli_up, "down": _cli_down, "status": _cli_status},
    )


def _cli_fetch(_state_dir: Path | None = None) -> int:
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
            _cli_fetch(state_dir)
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
