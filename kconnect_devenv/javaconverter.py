"""A Java reference for the Schema Registry converters: Apicurio's Kafka Connect ``AvroConverter``,
run on Kafka Connect JSON envelopes against a real registry, in Confluent's wire format.

Tests compare kconnect's registry converters with it: the bytes on the topic and the schemas that
land in the registry (docs/converter-reference.md). One call is one JVM
(``kconnect_devenv/javaconverter/ConverterReference.java``) that reads every record on stdin and
writes every result on stdout:

- :func:`to_bytes`: envelope ``{"schema": ..., "payload": ...}`` → Kafka's own ``JsonConverter``
  (``schemas.enable=true``) → Connect schema and value → the reference's ``fromConnectData`` →
  bytes (magic byte 0, the schema's 4-byte id, the Avro binary); it registers the schema under
  ``<topic>-value`` (``<topic>-key``) when absent.
- :func:`to_envelopes`: bytes → the reference's ``toConnectData`` → ``JsonConverter`` → envelope
  text, exactly as Java's ``JsonConverter`` writes it.

Invariants:

- **Only a complete build is ever used** (:mod:`kconnect_devenv.builds`): the jars of
  ``javaconverter/pom.xml`` are fetched by Maven into
  ``$KCONNECT_CACHE/apicurio-converter-<version>/libs`` (as Kafka's are), and the program is
  compiled by ``javac`` into ``classes/`` beside it, keyed by the digest of its source and the pom.
- **The ids are the Confluent API's.** The converter writes Apicurio's *content id* in 4 bytes
  (``Legacy4ByteIdHandler``, ``use-id=contentId``): in Apicurio Registry 3.0 the ``id`` of the
  Confluent-compatible API is the content id (the same schema under two subjects has one id), not
  the global id, which counts versions.
- **Credentials never reach a command line**: the converter's config, registry password included,
  is a properties file of mode 0600 in a private temporary directory, removed after the call;
  the password is scrubbed from any error text.
- **A failure is an error, never a short list**: a JVM exiting non-zero, or printing another number
  of lines than it was given, raises :class:`JavaConverterError` with the line that failed and the
  Java exception chain. Every call is bounded by ``timeout``.

Only Avro has a reference: Apicurio 2.6's converter module holds ``AvroConverter`` and
``ExtJsonConverter`` (Apicurio's own JSON-with-id format, not Confluent's JSON Schema format) and
no Protobuf converter; see the docs page for why 2.6 and not 3.0.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Final, Literal

from kconnect.config.properties import format_properties
from kconnect_devenv import builds, kafka, processes, registry
from kconnect_devenv.lifecycle import cache_root

SOURCE_DIR: Final = Path(__file__).resolve().parent / "javaconverter"
POM: Final = SOURCE_DIR / "pom.xml"
SOURCE: Final = SOURCE_DIR / "ConverterReference.java"
MAIN_CLASS: Final = "ConverterReference"

Converter = Literal["avro"]
CONVERTER_CLASSES: Final[Mapping[str, str]] = {
    "avro": "io.apicurio.registry.utils.converter.AvroConverter",
}
# The registry's own API that Apicurio 2.6's client speaks; Apicurio Registry 3.0 still serves it.
REGISTRY_V2_PATH: Final = "/apis/registry/v2"
NULL_LINE: Final = "null"

COMPILE_TIMEOUT_S: Final = 300.0
CALL_TIMEOUT_S: Final = 120.0
LOG_TAIL_LINES: Final = 20


class JavaConverterError(RuntimeError):
    """The reference could not be fetched, compiled or run, or a record failed to convert."""


@dataclasses.dataclass(frozen=True)
class Reference:
    """A fetched and compiled reference: its jars and its compiled program."""

    libs: Path
    classes: Path

    @property
    def classpath(self) -> str:
        return f"{self.classes}{os.pathsep}{self.libs}/*"


# --------------------------------------------------------------------------------------------------
# Pure parts: versions, paths and the converter's config.


def apicurio_version(pom: Path = POM) -> str:
    """The Apicurio version pinned in the pom (its ``apicurio.version`` property)."""
    text = pom.read_text("utf-8")
    match = re.search(r"<apicurio\.version>\s*([^<\s]+)\s*</apicurio\.version>", text)
    if match is None:
        raise JavaConverterError(
            f"{pom}: no <apicurio.version> property; expected e.g. 2.6.13.Final"
        )
    return match.group(1)


def home_dir() -> Path:
    return cache_root() / f"apicurio-converter-{apicurio_version()}"


def converter_config(
    converter: str,
    *,
    registry_url: str,
    topic: str,
    is_key: bool = False,
    credentials: tuple[str, str] | None = None,
    auto_register: bool = True,
) -> dict[str, str]:
    """The properties :data:`MAIN_CLASS` reads: its own ``reference.*`` keys and the converter's.

    ``registry_url`` is the URL Confluent clients use (:attr:`registry.Registry.url`, ending in
    ``/apis/ccompat/v7``); the reference reaches the same registry through its v2 API.
    Raises ValueError for an unknown converter or a URL that is not a Confluent-compatible base.
    """
    if converter not in CONVERTER_CLASSES:
        raise ValueError(
            f"converter {converter!r}: expected one of {', '.join(sorted(CONVERTER_CLASSES))}"
        )
    if not topic or any(c.isspace() for c in topic):
        raise ValueError(f"topic {topic!r}: expected a non-empty topic name without spaces")
    base = registry_url.rstrip("/")
    if not base.endswith(registry.CCOMPAT_PATH):
        raise ValueError(
            f"registry_url {registry_url!r}: expected Apicurio's Confluent-compatible base, "
            f"ending in {registry.CCOMPAT_PATH}"
        )
    config = {
        "reference.converter": CONVERTER_CLASSES[converter],
        "reference.topic": topic,
        "reference.is.key": str(is_key).lower(),
        "apicurio.registry.url": base.removesuffix(registry.CCOMPAT_PATH) + REGISTRY_V2_PATH,
        # Confluent's framing: magic byte 0 and a 4-byte id in the payload, no Kafka headers.
        "apicurio.registry.id-handler": "io.apicurio.registry.serde.Legacy4ByteIdHandler",
        "apicurio.registry.use-id": "contentId",
        "apicurio.registry.headers.enabled": "false",
        # <topic>-value / <topic>-key in the default group: the subject of TopicNameStrategy.
        "apicurio.registry.artifact-resolver-strategy": (
            "io.apicurio.registry.serde.strategy.TopicIdStrategy"
        ),
        "apicurio.registry.auto-register": str(auto_register).lower(),
        # A registered schema that is already there is found, not versioned again.
        "apicurio.registry.auto-register.if-exists": "RETURN_OR_UPDATE",
    }
    if credentials is not None:
        username, password = credentials
        config["apicurio.auth.username"] = username
        config["apicurio.auth.password"] = password
    return config


# --------------------------------------------------------------------------------------------------
# Fetch and compile.


def _classes_marker(classes: Path) -> Path:
    return classes.parent / "compiled"


def _classes_digest() -> str:
    return hashlib.sha256(SOURCE.read_bytes() + b"\0" + POM.read_bytes()).hexdigest()


def fetched() -> Reference | None:
    """The reference if its jars and compiled program are in the cache, else None."""
    home = home_dir()
    libs = kafka.maven_fetched(POM, home / "libs")
    classes = home / "classes"
    if libs is None or not builds.is_complete(
        classes, _classes_marker(classes), _classes_digest(), [f"{MAIN_CLASS}.class"]
    ):
        return None
    return Reference(libs, classes)


def fetch() -> Reference:
    """The reference in the cache, its jars fetched by Maven and its program compiled on first
    use. Instant once done; a failed or interrupted run leaves nothing in place."""
    home = home_dir()
    try:
        libs = kafka.maven_fetch(
            POM, home / "libs", f"apicurio-registry-utils-converter-{apicurio_version()}.jar"
        )
    except kafka.KafkaServiceError as exc:
        raise JavaConverterError(str(exc)) from exc
    classes = home / "classes"
    builds.produce(
        classes,
        _classes_marker(classes),
        digest=_classes_digest,
        done=lambda: fetched() is not None,
        write=lambda output: _compile(libs, output),
    )
    return Reference(libs, classes)


def _javac() -> str:
    """The ``javac`` of the JDK whose ``java`` runs the reference, else the one on PATH."""
    beside_java = Path(kafka.java_executable()).resolve().parent / "javac"
    found = str(beside_java) if beside_java.is_file() else shutil.which("javac")
    if found is None:
        raise JavaConverterError(
            f"no 'javac' beside {beside_java.parent} nor on PATH; the reference converter needs "
            "a JDK 17"
        )
    return found


def _compile(libs: Path, output: Path) -> None:
    command = [
        _javac(),
        "--release",
        "17",
        "-Xlint:all",
        "-cp",
        f"{libs}/*",
        "-d",
        str(output),
        str(SOURCE),
    ]
    result = processes.run_tool(
        command, what="javac", timeout=COMPILE_TIMEOUT_S, error=JavaConverterError
    )
    if result.returncode != 0 or not (output / f"{MAIN_CLASS}.class").is_file():
        tail = processes.tail_text(result.stdout + result.stderr, LOG_TAIL_LINES)
        raise JavaConverterError(f"javac exited with {result.returncode}: {command}\n{tail}")


# --------------------------------------------------------------------------------------------------
# Calls.


def to_bytes(
    envelopes: Iterable[str | Mapping[str, object]],
    *,
    converter: Converter = "avro",
    registry_url: str,
    topic: str,
    credentials: tuple[str, str] | None = None,
    is_key: bool = False,
    auto_register: bool = True,
    timeout: float = CALL_TIMEOUT_S,
) -> list[bytes | None]:
    """What the reference converter writes for each JsonConverter envelope (text or a parsed
    mapping); None where it writes null (a null envelope)."""
    lines = [e if isinstance(e, str) else json.dumps(e) for e in envelopes]
    for number, line in enumerate(lines, 1):
        if "\n" in line or "\r" in line:
            raise ValueError(f"envelope {number}: expected JSON on one line")
    config = converter_config(
        converter,
        registry_url=registry_url,
        topic=topic,
        is_key=is_key,
        credentials=credentials,
        auto_register=auto_register,
    )
    printed = _run("to-bytes", config, lines, timeout)
    return [None if line == NULL_LINE else base64.b64decode(line) for line in printed]


def to_envelopes(
    records: Iterable[bytes | None],
    *,
    converter: Converter = "avro",
    registry_url: str,
    topic: str,
    credentials: tuple[str, str] | None = None,
    is_key: bool = False,
    timeout: float = CALL_TIMEOUT_S,
) -> list[str | None]:
    """The JsonConverter envelope text (``schemas.enable=true``) of what the reference converter
    reads from each record's bytes; None for a None record (a tombstone reads as no schema and no
    value, which JsonConverter writes as null)."""
    lines = [NULL_LINE if r is None else base64.b64encode(r).decode("ascii") for r in records]
    config = converter_config(
        converter, registry_url=registry_url, topic=topic, is_key=is_key, credentials=credentials
    )
    return [
        None if line == NULL_LINE else line for line in _run("to-envelopes", config, lines, timeout)
    ]


def _run(mode: str, config: Mapping[str, str], lines: Sequence[str], timeout: float) -> list[str]:
    reference = fetch()
    password = config.get("apicurio.auth.password", "")
    with tempfile.TemporaryDirectory(prefix="kconnect-javaconverter-") as scratch:
        config_path = Path(scratch) / "converter.properties"
        fd = os.open(config_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(format_properties(dict(config)))
        command = [
            kafka.java_executable(),
            "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",
            "-Xshare:auto",
            "-cp",
            reference.classpath,
            MAIN_CLASS,
            mode,
            str(config_path),
        ]
        try:
            result = subprocess.run(
                command,
                input="".join(f"{line}\n" for line in lines),
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise JavaConverterError(
                f"the reference converter ({mode}, {len(lines)} records) did not finish within "
                f"{timeout:.0f}s"
            ) from exc
    printed = result.stdout.splitlines()
    if result.returncode != 0 or len(printed) != len(lines):
        tail = processes.tail_text(result.stderr, LOG_TAIL_LINES)
        if password:
            tail = tail.replace(password, "***")
        raise JavaConverterError(
            f"the reference converter ({mode}) exited with {result.returncode} after "
            f"{len(printed)} of {len(lines)} records:\n{tail}"
        )
    return printed


# --------------------------------------------------------------------------------------------------
# Command line: python -m kconnect_devenv.javaconverter fetch


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args != ["fetch"]:
        print("usage: python -m kconnect_devenv.javaconverter fetch", file=sys.stderr)
        return 2
    try:
        reference = fetch()
    except JavaConverterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"reference converter: {reference.classes} with {reference.libs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
