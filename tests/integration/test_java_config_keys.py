"""Every config key kconnect reads is spelled as Apache Kafka Connect 4.1.1 spells it.

The key names are read from Kafka's own classes, not from a list written by hand: a small Java
program (`tests/support/java/ConfigKeyNames.java`), compiled against the jars that
`make bench-java-fetch` puts in the cache, prints the names of each `ConfigDef` (the worker's,
the connectors' common keys, each converter, transform and predicate) and the keys the config
providers declare. For every one of them the test compares kconnect's keys with Java's, both
ways, and the differences must be exactly the ones listed here, each with its reason:

- a key only kconnect has is either a kconnect extension or a Kafka 3.x key kconnect still
  reads; a misspelt key (`errors.retry.max.delay.ms` for `errors.retry.delay.max.ms`) is
  neither, so it fails the test;
- a Java key kconnect does not read is listed as not supported, so a gap is never silent, and
  a gap that gets closed fails the test until its entry is removed.

Without the jars the test fails and says how to fetch them; it never skips.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Final

import pytest
from pydantic import BaseModel

from bench import javaconnect
from kconnect.config.connector import (
    CommonConnectorConfig,
    SinkConnectorCommonConfig,
    SourceConnectorCommonConfig,
)
from kconnect.config.providers import (
    DirectoryConfigProvider,
    EnvVarConfigProvider,
    FileConfigProvider,
)
from kconnect.config.worker import (
    DISTRIBUTED_IGNORED_KEYS,
    IGNORED_KEYS,
    DistributedConfig,
    StandaloneConfig,
    WorkerConfig,
    known_keys,
    unexpected_keys,
)
from kconnect.plugins.registry import default_registry

PROGRAM: Final = Path(__file__).resolve().parents[1] / "support" / "java" / "ConfigKeyNames.java"

RUNTIME: Final = "org.apache.kafka.connect.runtime."
TRANSFORMS: Final = "org.apache.kafka.connect.transforms."
PREDICATES: Final = "org.apache.kafka.connect.transforms.predicates."
PROVIDERS: Final = "org.apache.kafka.common.config.provider."

# --------------------------------------------------------------------------------------------------
# The differences kconnect keeps on purpose, each with its reason.

KAFKA_3_WORKER_KEYS: Final = {
    "rest.host.name": "Kafka 3.x key, removed in 4.0; still read when `listeners` is unset",
    "rest.port": "Kafka 3.x key, removed in 4.0; still read when `listeners` is unset",
    "auto.include.jmx.reporter": "Kafka 3.x key, removed in 4.0; ignored by name",
    "internal.key.converter": "Kafka 2.x key, ignored by name so old files warn as ignored",
    "internal.value.converter": "Kafka 2.x key, ignored by name so old files warn as ignored",
}
KCONNECT_WORKER_KEYS: Final = {
    "metrics.listener": "kconnect extension: a listener serving only /metrics",
    "connector.client.config.override.allowed.urls": (
        "kconnect extension: the URLs client overrides may reach (Kafka: a JVM system property)"
    ),
    "connector.client.config.override.allowed.files": (
        "kconnect extension: the files client overrides may read (Kafka: a JVM system property)"
    ),
    "connector.client.config.override.allowed.unsafe.keys": (
        "kconnect extension: librdkafka keys that load code or run commands, allowed by name"
    ),
    "file.connectors.enable": (
        "kconnect extension: Kafka leaves the file connectors off the classpath instead"
    ),
    "java.security.auth.login.config": (
        "the JVM system property that names the JAAS file, as a worker key (there is no JVM)"
    ),
}
KCONNECT_DISTRIBUTED_WORKER_KEYS: Final = {
    "group.instance.id": (
        "kconnect extension: the Kafka consumer's static membership key (KIP-345), which Kafka "
        "Connect's own group protocol lacks"
    ),
}
WORKER_ONLY_IN_KCONNECT: Final = {**KAFKA_3_WORKER_KEYS, **KCONNECT_WORKER_KEYS}

WORKER_NOT_READ: Final = {
    "worker.unsync.backoff.ms": "no worker-to-worker sync: assignment is by the Kafka group",
    "metadata.recovery.strategy": "a Java client setting librdkafka has no counterpart for",
    "metadata.recovery.rebootstrap.trigger.ms": "a Java client setting, as above",
}
"""Java worker keys kconnect neither reads, passes on, nor ignores by name: they are warned
about as unknown."""

CONNECTOR_NOT_READ: Final[Mapping[str, str]] = {}
"""Every key of Kafka Connect's connector configs is declared by kconnect's models: some have no
effect there (`config.action.reload`, the exactly-once keys), as in a Kafka Connect standalone
worker, and the docs say so."""
SOURCE_NOT_READ: Final[Mapping[str, str]] = {}

_REPLACE_FIELD_OLD_NAMES: Final = {
    "blacklist": "Kafka 3.x name of `exclude`, removed in 4.0; still read",
    "whitelist": "Kafka 3.x name of `include`, removed in 4.0; still read",
}
PLUGIN_ONLY_IN_KCONNECT: Final[Mapping[str, Mapping[str, str]]] = {
    "org.apache.kafka.connect.storage.StringConverter": {
        "serializer.encoding": "read by Kafka's StringSerializer, outside the ConfigDef",
        "deserializer.encoding": "read by Kafka's StringDeserializer, outside the ConfigDef",
    },
    f"{TRANSFORMS}ReplaceField$Key": _REPLACE_FIELD_OLD_NAMES,
    f"{TRANSFORMS}ReplaceField$Value": _REPLACE_FIELD_OLD_NAMES,
}
PLUGIN_NOT_READ: Final[Mapping[str, Mapping[str, str]]] = {}


# --------------------------------------------------------------------------------------------------
# Java's key names.


@functools.cache
def _libs() -> Path:
    libs = javaconnect.fetched()
    if libs is None:
        pytest.fail(
            f"Kafka Connect {javaconnect.connect_version()}'s jars are not in "
            f"{javaconnect.libs_dir()}: fetch them with `make bench-java-fetch` "
            "(`make test` does it first)"
        )
    return libs


@pytest.fixture(scope="module")
def java_keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """Key names by target, for every target this module asks about, from one JVM."""
    libs = _libs()
    javac = shutil.which("javac")
    if javac is None:
        pytest.fail("javac is not on PATH: install a JDK (Debian: openjdk-17-jdk-headless)")
    classes = tmp_path_factory.mktemp("config-key-names")
    classpath = f"{libs}/*"
    subprocess.run(
        [javac, "-d", str(classes), "-cp", classpath, str(PROGRAM)],
        check=True,
        timeout=300,
    )
    targets = [*WORKER_TARGETS.values(), *CONNECTOR_TARGETS.values()]
    targets += [f"plugin:{name}" for name in PLUGINS]
    targets += [f"constants:{PROVIDERS}{name}" for name in PROVIDER_CLASSES]
    done = subprocess.run(
        [
            shutil.which("java") or "java",
            "-cp",
            f"{classes}:{classpath}",
            "ConfigKeyNames",
            *targets,
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    out: dict[str, list[str]] = {}
    for line in done.stdout.splitlines():
        target, _, names = line.partition("\t")
        out[target] = [n for n in names.split(",") if n]
    assert set(out) == set(targets)
    return out


def _differences(
    kconnect: set[str],
    java: set[str],
    only_kconnect: Mapping[str, str],
    not_read: Mapping[str, str],
) -> list[str]:
    problems = []
    for key in sorted(kconnect - java - set(only_kconnect)):
        problems.append(f"kconnect key {key!r} is not a Kafka Connect key (misspelt?)")
    for key in sorted(set(only_kconnect) - (kconnect - java)):
        problems.append(f"{key!r} is listed as kconnect's only, but it is not (any more)")
    for key in sorted(java - kconnect - set(not_read)):
        problems.append(f"Kafka Connect key {key!r} is not read by kconnect")
    for key in sorted(set(not_read) - (java - kconnect)):
        problems.append(f"{key!r} is listed as not read, but kconnect reads it (or Java lacks it)")
    return problems


# --------------------------------------------------------------------------------------------------
# The worker.

WORKER_TARGETS: Final = {
    "standalone": f"static:{RUNTIME}standalone.StandaloneConfig#CONFIG",
    "distributed": f"static:{RUNTIME}distributed.DistributedConfig#config",
}
WORKER_MODELS: Final[Mapping[str, type[WorkerConfig]]] = {
    "standalone": StandaloneConfig,
    "distributed": DistributedConfig,
}


@pytest.mark.parametrize("mode", sorted(WORKER_TARGETS))
def test_worker_keys_are_kafkas(mode: str, java_keys: dict[str, list[str]]) -> None:
    model = WORKER_MODELS[mode]
    java = set(java_keys[WORKER_TARGETS[mode]])
    # The lists of ignored keys serve both modes, so they are checked against both.
    java_any = java.union(*(java_keys[t] for t in WORKER_TARGETS.values()))
    named = set(known_keys(model)) | IGNORED_KEYS | DISTRIBUTED_IGNORED_KEYS
    only = set(WORKER_ONLY_IN_KCONNECT)
    if mode == "distributed":
        only |= set(KCONNECT_DISTRIBUTED_WORKER_KEYS)
    problems = [
        f"kconnect worker key {key!r} is not a Kafka Connect key (misspelt?)"
        for key in sorted(named - java_any - only)
    ]
    problems += [
        f"{key!r} is listed as kconnect's only, but it is not (any more)"
        for key in sorted(only - (named - java_any))
    ]
    # Every Java key is read, passed on to the clients (ssl.*, sasl.*, ...) or ignored by name,
    # except the ones listed as not read, which kconnect warns about as unknown.
    _, unknown = unexpected_keys(model, dict.fromkeys(java, ""))
    expected_unknown = set(WORKER_NOT_READ) & java
    problems += [
        f"Kafka Connect worker key {key!r} is unknown to kconnect"
        for key in sorted(set(unknown) - expected_unknown)
    ]
    problems += [
        f"{key!r} is listed as not read, but kconnect knows it"
        for key in sorted(expected_unknown - set(unknown))
    ]
    assert not problems, "\n".join(problems)


# --------------------------------------------------------------------------------------------------
# The connectors' common keys.

CONNECTOR_TARGETS: Final = {
    "source": f"static:{RUNTIME}SourceConnectorConfig#configDef",
    "sink": f"static:{RUNTIME}SinkConnectorConfig#configDef",
}
CONNECTOR_MODELS: Final[Mapping[str, type[BaseModel]]] = {
    "source": SourceConnectorCommonConfig,
    "sink": SinkConnectorCommonConfig,
}
CONNECTOR_NOT_READ_BY_KIND: Final = {"source": SOURCE_NOT_READ, "sink": CONNECTOR_NOT_READ}


@pytest.mark.parametrize("kind", sorted(CONNECTOR_TARGETS))
def test_connector_common_keys_are_kafkas(kind: str, java_keys: dict[str, list[str]]) -> None:
    kconnect = set(known_keys(CONNECTOR_MODELS[kind]))
    java = set(java_keys[CONNECTOR_TARGETS[kind]])
    problems = _differences(kconnect, java, {}, CONNECTOR_NOT_READ_BY_KIND[kind])
    assert not problems, "\n".join(problems)


def test_retry_cap_is_kafkas_key(java_keys: dict[str, list[str]]) -> None:
    """The key the issue found misspelt, named on its own so a regression reads plainly."""
    assert "errors.retry.delay.max.ms" in java_keys[CONNECTOR_TARGETS["sink"]]
    assert "errors.retry.delay.max.ms" in known_keys(CommonConnectorConfig)


# --------------------------------------------------------------------------------------------------
# Converters, transforms, predicates, connectors: every built-in plugin under its Java name.

PLUGINS: Final = (
    "org.apache.kafka.connect.json.JsonConverter",
    "org.apache.kafka.connect.storage.StringConverter",
    "org.apache.kafka.connect.storage.SimpleHeaderConverter",
    "org.apache.kafka.connect.converters.ByteArrayConverter",
    "org.apache.kafka.connect.converters.BooleanConverter",
    "org.apache.kafka.connect.converters.DoubleConverter",
    "org.apache.kafka.connect.converters.FloatConverter",
    "org.apache.kafka.connect.converters.IntegerConverter",
    "org.apache.kafka.connect.converters.LongConverter",
    "org.apache.kafka.connect.converters.ShortConverter",
    "org.apache.kafka.connect.file.FileStreamSourceConnector",
    "org.apache.kafka.connect.file.FileStreamSinkConnector",
    *(
        f"{TRANSFORMS}{name}${part}"
        for name in (
            "Cast",
            "ExtractField",
            "Flatten",
            "HeaderFrom",
            "HoistField",
            "InsertField",
            "MaskField",
            "ReplaceField",
            "SetSchemaMetadata",
            "TimestampConverter",
        )
        for part in ("Key", "Value")
    ),
    *(
        f"{TRANSFORMS}{name}"
        for name in (
            "DropHeaders",
            "Filter",
            "InsertHeader",
            "RegexRouter",
            "TimestampRouter",
            "ValueToKey",
        )
    ),
    *(f"{PREDICATES}{name}" for name in ("HasHeaderKey", "RecordIsTombstone", "TopicNameMatches")),
)


@pytest.mark.parametrize("java_name", PLUGINS)
def test_plugin_keys_are_kafkas(java_name: str, java_keys: dict[str, list[str]]) -> None:
    cls = default_registry().resolve(java_name)
    model = getattr(cls, "config_model", None)
    assert isinstance(model, type), f"{java_name} resolves to {cls!r}, without a config_model"
    assert issubclass(model, BaseModel)
    kconnect = set(known_keys(model))
    java = set(java_keys[f"plugin:{java_name}"])
    problems = _differences(
        kconnect,
        java,
        PLUGIN_ONLY_IN_KCONNECT.get(java_name, {}),
        PLUGIN_NOT_READ.get(java_name, {}),
    )
    assert not problems, "\n".join(problems)


# --------------------------------------------------------------------------------------------------
# Config providers.

PROVIDER_CLASSES: Final[Mapping[str, tuple[str, ...]]] = {
    "FileConfigProvider": FileConfigProvider.CONFIG_KEYS,
    "DirectoryConfigProvider": DirectoryConfigProvider.CONFIG_KEYS,
    "EnvVarConfigProvider": EnvVarConfigProvider.CONFIG_KEYS,
}


@pytest.mark.parametrize("name", sorted(PROVIDER_CLASSES))
def test_provider_keys_are_kafkas(name: str, java_keys: dict[str, list[str]]) -> None:
    kconnect = set(PROVIDER_CLASSES[name])
    java = set(java_keys[f"constants:{PROVIDERS}{name}"])
    assert java, f"no *_CONFIG constant found on {name}"
    problems = _differences(kconnect, java, {}, {})
    assert not problems, "\n".join(problems)
