"""Debezium's PostgreSQL connector in Apache Kafka Connect's Java runtime: the reference that
kconnect's ``PostgresCdcSource`` is compared with, record by record in the tests and event rate by
event rate in ``make bench-java``.

The jars come from Maven Central through ``bench/java/debezium/pom.xml``:
``io.debezium:debezium-connector-postgres`` with its runtime dependencies (the PostgreSQL JDBC
driver, ``debezium-api``, ``debezium-connector-common`` with what was ``debezium-core`` before
3.6, and ``debezium-connect-plugins`` with the transforms, ``ExtractNewRecordState`` among them),
one version for all of Debezium. They run as a Connect *plugin*, the way Debezium is deployed:
the worker of :mod:`bench.javaconnect` gets ``plugin.path`` naming a directory whose one
subdirectory is the jars, so Debezium's own Jackson stays apart from the worker's.

Invariants:

- **Only a complete download is ever used** (:func:`kconnect_devenv.kafka.maven_fetch`): the jars
  live in ``$KCONNECT_CACHE/debezium-postgres-java-<version>/libs`` beside a marker holding the
  pom's digest.
- **A connector is streaming when its slot is in use.** :meth:`DebeziumPostgres.wait_streaming`
  returns once the connector and its task are RUNNING and the connector's replication slot is
  active, i.e. its snapshot (if any) is done and its stream is open; the records of the snapshot
  are then all produced (Debezium streams only after its snapshot's last record).
- **Every wait is bounded, and the worker is stopped** by :meth:`DebeziumPostgres.stop` (SIGTERM,
  then SIGKILL), which a ``with`` block calls even on failure; :func:`bench.procs.kill_all` stops
  any left over.

``python -m bench.debezium fetch`` fetches the jars.
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
import time
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Final

import psycopg2

from bench import javaconnect
from kconnect_devenv import kafka, lifecycle

POM: Final = Path(__file__).resolve().parent / "java" / "debezium" / "pom.xml"
CONNECTOR_CLASS: Final = "io.debezium.connector.postgresql.PostgresConnector"
EXTRACT_NEW_RECORD_STATE: Final = "io.debezium.transforms.ExtractNewRecordState"
PLUGIN_DIR: Final = "plugins"
PLUGIN_NAME: Final = "debezium-connector-postgres"
JSON_CONVERTER: Final = "org.apache.kafka.connect.json.JsonConverter"

# A small JVM: tests run it beside a broker and PostgreSQL on two cores.
JVM_OPTIONS: Final = javaconnect.LIGHT_JVM_OPTIONS
START_TIMEOUT_S: Final = 180.0
POLL_S: Final = 0.25


class DebeziumError(RuntimeError):
    """Debezium's jars could not be fetched, or its connector did not start or stream."""


# --------------------------------------------------------------------------------------------------
# Fetch.


def debezium_version(pom: Path = POM) -> str:
    """The ``debezium.version`` pinned in ``bench/java/debezium/pom.xml``."""
    found = re.search(r"<debezium\.version>([^<]+)</debezium\.version>", pom.read_text("utf-8"))
    if found is None:
        raise DebeziumError(f"{pom} pins no <debezium.version>")
    return found.group(1).strip()


def libs_dir() -> Path:
    return lifecycle.cache_root() / f"debezium-postgres-java-{debezium_version()}" / "libs"


def fetched() -> Path | None:
    """The libs directory if a complete fetch for the current pom is in the cache, else None."""
    return kafka.maven_fetched(POM, libs_dir())


def fetch() -> Path:
    """Debezium's jars in the cache, downloaded by Maven on first use; the libs directory."""
    version = debezium_version()
    libs = kafka.maven_fetch(POM, libs_dir(), f"debezium-connector-postgres-{version}.jar")
    for jar in (f"debezium-connect-plugins-{version}.jar", f"debezium-api-{version}.jar"):
        if not (libs / jar).is_file():
            raise kafka.FetchError(f"{jar} is missing from {libs}; check {POM}")
    return libs


def plugin_path(workdir: Path, libs: Path) -> Path:
    """A ``plugin.path`` directory in ``workdir`` whose one plugin is ``libs`` (a link to it)."""
    plugins = workdir / PLUGIN_DIR
    plugins.mkdir(parents=True, exist_ok=True)
    link = plugins / PLUGIN_NAME
    if not link.is_symlink():
        link.symlink_to(libs, target_is_directory=True)
    return plugins


# --------------------------------------------------------------------------------------------------
# Configs.


def connector_config(
    database: Mapping[str, str],
    *,
    topic_prefix: str,
    slot_name: str,
    publication_name: str,
    overrides: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """A ``PostgresConnector`` config on ``database`` (Debezium's ``database.*`` keys, e.g.
    :meth:`kconnect_devenv.postgres.Database.connector_config`) with the ``pgoutput`` plugin, a
    slot and a publication of its own (created by Debezium for all tables:
    ``publication.autocreate.mode=all_tables``, Debezium's default), then ``overrides``."""
    return {
        "connector.class": CONNECTOR_CLASS,
        "tasks.max": "1",
        **database,
        "topic.prefix": topic_prefix,
        "plugin.name": "pgoutput",
        "slot.name": slot_name,
        "publication.name": publication_name,
        # The broker creates topics on first use with one partition; say so for brokers that don't.
        "topic.creation.default.replication.factor": "1",
        "topic.creation.default.partitions": "1",
        **(overrides or {}),
    }


def worker_config(bootstrap: str, offsets_file: Path, plugins: Path) -> dict[str, str]:
    """A standalone worker's config: JsonConverter with schemas for keys and values, offsets in
    ``offsets_file``, Debezium from ``plugins``."""
    return {
        "bootstrap.servers": bootstrap,
        "key.converter": JSON_CONVERTER,
        "value.converter": JSON_CONVERTER,
        "key.converter.schemas.enable": "true",
        "value.converter.schemas.enable": "true",
        "offset.storage.file.filename": str(offsets_file),
        "offset.flush.interval.ms": "1000",
        "plugin.path": str(plugins),
        # Every plugin here has a ServiceLoader manifest; reading only those (not scanning every
        # class as the default hybrid_warn does) halves the worker's start: 2.4 s instead of 4.7.
        "plugin.discovery": "service_load",
    }


# --------------------------------------------------------------------------------------------------
# The connector on a Java worker.


class DebeziumPostgres:
    """Debezium's ``PostgresConnector`` on one Java ``ConnectStandalone`` worker in ``workdir``.

    ``config`` is the connector's (see :func:`connector_config`); ``worker_overrides`` change the
    worker's (converters, say). The worker starts at once; use it in a ``with`` block, or call
    :meth:`stop`.
    """

    def __init__(
        self,
        workdir: Path,
        bootstrap: str,
        config: Mapping[str, str],
        *,
        name: str = "debezium-postgres",
        worker_overrides: Mapping[str, str] | None = None,
        jvm_options: Sequence[str] = JVM_OPTIONS,
    ) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.config = dict(config)
        self.offsets_file = workdir / f"{name}.offsets"
        plugins = plugin_path(workdir, fetch())
        worker = {
            **worker_config(bootstrap, self.offsets_file, plugins),
            **(worker_overrides or {}),
        }
        self.worker = javaconnect.JavaWorker(
            workdir,
            name,
            worker,
            [{"name": name, **self.config}],
            libs=javaconnect.fetch(),
            jvm_options=jvm_options,
        )

    def __enter__(self) -> DebeziumPostgres:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def log_path(self) -> Path:
        return self.worker.log_path

    def slot_active(self) -> bool:
        """Whether the connector's replication slot is in use by a WAL sender (its stream)."""
        connection = psycopg2.connect(
            host=self.config["database.hostname"],
            port=int(self.config.get("database.port", "5432")),
            dbname=self.config["database.dbname"],
            user=self.config["database.user"],
            password=self.config["database.password"],
            connect_timeout=5,
        )
        try:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT active FROM pg_replication_slots WHERE slot_name = %s",
                    (self.config["slot.name"],),
                )
                row = cursor.fetchone()
        finally:
            connection.close()
        return bool(row and row[0])

    def wait_streaming(self, timeout: float = START_TIMEOUT_S) -> float:
        """Wait until the connector and its task are RUNNING and its replication slot is in use;
        the monotonic time it was seen. A FAILED connector or task, or a worker that exits, raises
        :class:`bench.procs.HarnessError` at once with the worker's log tail."""
        self.worker.wait_running(self.name, timeout, POLL_S)
        return self.worker.wait_for(
            f"Debezium's replication slot {self.config['slot.name']} to be in use",
            lambda: time.monotonic() if self.slot_active() else None,
            timeout,
            POLL_S,
        )

    def offsets(self) -> object:
        """``GET /connectors/<name>/offsets``: the source partitions and offsets Connect stored."""
        url = f"http://127.0.0.1:{self.worker.port}/connectors/{self.name}/offsets"
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                return json.loads(response.read())
        except (OSError, ValueError) as exc:
            raise self.worker.fail(f"GET {url} failed: {exc}") from exc

    def stop(self) -> None:
        """Stop the worker (SIGTERM, SIGKILL after a bound); its log stays in the workdir."""
        self.worker.stop()


# --------------------------------------------------------------------------------------------------
# Command line: python -m bench.debezium fetch


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args != ["fetch"]:
        print("usage: python -m bench.debezium fetch", file=sys.stderr)
        return 2
    with contextlib.suppress(KeyboardInterrupt):
        libs = fetched()
        if libs is None:
            print(f"Fetching Debezium {debezium_version()} with Maven into {libs_dir()} ...")
            began = time.monotonic()
            libs = fetch()
            print(f"Fetched in {time.monotonic() - began:.1f}s.")
        print(f"Debezium {debezium_version()} PostgreSQL connector jars: {libs}")
        return 0
    return 130


if __name__ == "__main__":
    sys.exit(main())
