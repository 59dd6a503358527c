"""Kafka client configs for tasks: Kafka Connect's keys, translated for librdkafka.

Kafka Connect users write Java client keys (`producer.buffer.memory`, `sasl.jaas.config`). Most
are spelled the same in librdkafka; the rest are translated where librdkafka has the same
setting, and dropped with a warning where it has none, so an existing worker config still runs.
Precedence, lowest first: the runtime's defaults, the worker's top-level client keys
(`bootstrap.servers`, `security.protocol`, `ssl.*`, `sasl.*`), the worker's `producer.` /
`consumer.` / `admin.` keys, then the connector's `producer.override.` / `consumer.override.` /
`admin.override.` keys, as `connector.client.config.override.policy` allows.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

from kconnect.config.worker import CLIENT_KEYS, CLIENT_PREFIXES, prefixed
from kconnect.errors import ConfigError

log = logging.getLogger(__name__)

# Java-only keys with no librdkafka equivalent; dropped.
_DROPPED = frozenset(
    {
        "key.serializer",
        "value.serializer",
        "key.deserializer",
        "value.deserializer",
        "buffer.memory",
        "max.block.ms",
        "interceptor.classes",
        "metric.reporters",
        "metrics.num.samples",
        "metrics.recording.level",
        "metrics.sample.window.ms",
        "auto.include.jmx.reporter",
        "ssl.truststore.type",
        "ssl.keystore.type",
        "ssl.protocol",
        "ssl.enabled.protocols",
        "ssl.trustmanager.algorithm",
        "ssl.keymanager.algorithm",
        "ssl.secure.random.implementation",
        "sasl.login.class",
        "sasl.client.callback.handler.class",
        "sasl.login.callback.handler.class",
        "partitioner.class",
        "partitioner.ignore.keys",
        "default.api.timeout.ms",
        "exclude.internal.topics",
        "client.dns.lookup",
        "retry.backoff.max.ms",
        "connections.max.idle.ms",
        "reconnect.backoff.max.ms",
        "send.buffer.bytes",
        "receive.buffer.bytes",
        "delivery.timeout.ms.legacy",
        "max.poll.records",
        "fetch.max.bytes.legacy",
    }
)

# Java name → librdkafka name, where they differ.
_RENAMED = {
    "max.request.size": "message.max.bytes",
    "ssl.truststore.location": "ssl.ca.location",
    "ssl.keystore.location": "ssl.keystore.location",
    "ssl.key.password": "ssl.key.password",
    "ssl.endpoint.identification.algorithm": "ssl.endpoint.identification.algorithm",
}

_JAAS = re.compile(r'(\w+)\s*=\s*"((?:[^"\\]|\\.)*)"')


def translate(props: Mapping[str, str], client: str) -> dict[str, str]:
    """Java client keys → librdkafka keys. Warns once per dropped key."""
    out: dict[str, str] = {}
    for key, value in props.items():
        if key in _DROPPED:
            log.warning("%s config %r has no librdkafka equivalent and is ignored", client, key)
            continue
        if key == "sasl.jaas.config":
            found = {k: re.sub(r"\\(.)", r"\1", v) for k, v in _JAAS.findall(value)}
            if "username" in found:
                out["sasl.username"] = found["username"]
            if "password" in found:
                out["sasl.password"] = found["password"]
            continue
        if key == "ssl.truststore.location" and not value.endswith((".pem", ".crt")):
            raise ConfigError(
                f"{client} config 'ssl.truststore.location'={value!r}: a JKS or PKCS12 trust store "
                "is not supported; expected a PEM file (use ssl.ca.location)"
            )
        out[_RENAMED.get(key, key)] = value
    return out


def _inherited(worker_props: Mapping[str, str]) -> dict[str, str]:
    return {
        k: v
        for k, v in worker_props.items()
        if k in CLIENT_KEYS or k.startswith(CLIENT_PREFIXES) or k == "bootstrap.servers"
    }


def _overrides(
    connector_props: Mapping[str, str], prefix: str, policy: str, connector: str
) -> dict[str, str]:
    found = prefixed(connector_props, prefix)
    if found and policy == "None":
        raise ConfigError(
            f"connector {connector!r}: client overrides {sorted(prefix + k for k in found)} are "
            "not allowed by connector.client.config.override.policy=None"
        )
    if policy == "Principal":
        allowed = {"sasl.jaas.config", "sasl.mechanism", "security.protocol"}
        bad = sorted(prefix + k for k in found if k not in allowed)
        if bad:
            raise ConfigError(
                f"connector {connector!r}: client overrides {bad} are not allowed by "
                "connector.client.config.override.policy=Principal (only sasl.jaas.config, "
                "sasl.mechanism and security.protocol)"
            )
    return found


def producer_config(
    worker_props: Mapping[str, str],
    connector_props: Mapping[str, str],
    *,
    connector: str,
    task: int,
    policy: str,
) -> dict[str, str]:
    base = {
        "client.id": f"connector-producer-{connector}-{task}",
        "acks": "all",
        "enable.idempotence": "true",
        # Java's partitioner for keyed records, so keys land where Kafka Connect puts them.
        "partitioner": "murmur2_random",
        "linger.ms": "5",
        "queue.buffering.max.messages": "500000",
        "queue.buffering.max.kbytes": "1048576",
    }
    merged = {**base, **_inherited(worker_props), **prefixed(worker_props, "producer.")}
    merged.update(_overrides(connector_props, "producer.override.", policy, connector))
    return translate(merged, "producer")


def sink_group_id(
    worker_props: Mapping[str, str], connector_props: Mapping[str, str], connector: str
) -> str:
    """A sink connector's consumer group, as `consumer_config` sets it: the connector's
    `consumer.override.group.id`, else the worker's `consumer.group.id`, else
    `connect-<connector>` (Kafka Connect's `baseConsumerConfigs`)."""
    return (
        connector_props.get("consumer.override.group.id")
        or worker_props.get("consumer.group.id")
        or f"connect-{connector}"
    )


def consumer_config(
    worker_props: Mapping[str, str],
    connector_props: Mapping[str, str],
    *,
    connector: str,
    task: int,
    policy: str,
) -> dict[str, str]:
    base = {
        "client.id": f"connector-consumer-{connector}-{task}",
        "group.id": f"connect-{connector}",  # the default of `sink_group_id`
        "enable.auto.commit": "false",
        "auto.offset.reset": "earliest",
        "enable.partition.eof": "false",
        # When the prefetch queue is full, librdkafka waits this long before fetching again
        # (default 1 s). A task drains 100,000 queued records in well under that, and then sat
        # idle: with 1 s the sink ran at a third of its speed.
        "fetch.queue.backoff.ms": "10",
        # As Java's consumer: subscribing to a missing topic creates it where the broker allows,
        # rather than waiting for the next metadata refresh to notice it.
        "allow.auto.create.topics": "true",
    }
    merged = {**base, **_inherited(worker_props), **prefixed(worker_props, "consumer.")}
    merged.update(_overrides(connector_props, "consumer.override.", policy, connector))
    merged.setdefault("group.protocol", "consumer")
    return with_group_protocol(translate(merged, "consumer"), merged["group.protocol"])


# Keys the broker owns under KIP-848's consumer protocol; librdkafka rejects them there.
_CLASSIC_ONLY = ("partition.assignment.strategy", "session.timeout.ms", "heartbeat.interval.ms")

_ASSIGNORS = {
    "org.apache.kafka.clients.consumer.RangeAssignor": "range",
    "org.apache.kafka.clients.consumer.RoundRobinAssignor": "roundrobin",
    "org.apache.kafka.clients.consumer.CooperativeStickyAssignor": "cooperative-sticky",
    "org.apache.kafka.clients.consumer.StickyAssignor": "cooperative-sticky",
}


def with_group_protocol(conf: Mapping[str, str], protocol: str) -> dict[str, str]:
    """A consumer config for `group.protocol` `consumer` (KIP-848) or `classic`.

    The consumer protocol is the default: the broker assigns partitions incrementally, with no
    stop-the-world rebalance, and it needs Kafka 4.0 or later. Under `classic` the assignors are
    Kafka Connect's default, range, unless configured; Java class names are translated.
    """
    out = dict(conf)
    out["group.protocol"] = protocol
    if protocol == "consumer":
        for key in _CLASSIC_ONLY:
            if out.pop(key, None) is not None:
                log.warning(
                    "consumer config %r does not apply under group.protocol=consumer (the broker "
                    "assigns partitions); ignored",
                    key,
                )
        return out
    strategies = out.get("partition.assignment.strategy", "range")
    out["partition.assignment.strategy"] = ",".join(
        _ASSIGNORS.get(s.strip(), s.strip()) for s in strategies.split(",") if s.strip()
    )
    return out


def group_protocol_chosen(
    worker_props: Mapping[str, str], connector_props: Mapping[str, str]
) -> bool:
    """Whether the user set `group.protocol` for sink consumers (else the runtime may fall back
    from `consumer` to `classic` on a broker that lacks KIP-848)."""
    return (
        "consumer.group.protocol" in worker_props
        or "consumer.override.group.protocol" in connector_props
    )


def max_poll_records(worker_props: Mapping[str, str], connector_props: Mapping[str, str]) -> int:
    """Kafka's `max.poll.records` (default 500): the largest batch given to `put`."""
    value = connector_props.get(
        "consumer.override.max.poll.records", worker_props.get("consumer.max.poll.records", "500")
    )
    try:
        n = int(value)
    except ValueError:
        raise ConfigError(
            f"invalid value {value!r} for key 'max.poll.records': expected a positive integer"
        ) from None
    if n < 1:
        raise ConfigError(
            f"invalid value {value!r} for key 'max.poll.records': expected a positive integer"
        )
    return n


def admin_config(worker_props: Mapping[str, str]) -> dict[str, str]:
    merged = {**_inherited(worker_props), **prefixed(worker_props, "admin.")}
    return translate(merged, "admin")
