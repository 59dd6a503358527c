"""Kafka client configs for tasks: Kafka Connect's keys, translated for librdkafka.

Kafka Connect users write Java client keys (`producer.buffer.memory`, `sasl.jaas.config`). Most
are spelled the same in librdkafka; the rest are translated where librdkafka has the same
setting, and dropped with a warning where it has none, so an existing worker config still runs.
Precedence, lowest first: the runtime's defaults, the worker's top-level client keys
(`bootstrap.servers`, `security.protocol`, `ssl.*`, `sasl.*`), the worker's `producer.` /
`consumer.` / `admin.` keys, then the connector's `producer.override.` / `consumer.override.` /
`admin.override.` keys, as `connector.client.config.override.policy` allows.

Whatever the policy, a connector's overrides never set a key that makes the worker load code,
run a command, send credentials to a URL or read a file of the caller's choosing, unless the
worker's own config allows it (`override_errors`): validation reports them on their keys, and a
task is never built with one.
"""

from __future__ import annotations

import logging
import posixpath
import re
from collections.abc import Mapping

from kconnect.config import java_stores
from kconnect.config.worker import CLIENT_KEYS, CLIENT_PREFIXES, admin_client_props, prefixed
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
        "ssl.protocol",
        "ssl.enabled.protocols",
        "ssl.trustmanager.algorithm",
        "ssl.keymanager.algorithm",
        "ssl.secure.random.implementation",
        "sasl.login.class",
        "sasl.client.callback.handler.class",
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
    "sasl.oauthbearer.client.credentials.client.id": "sasl.oauthbearer.client.id",
    "sasl.oauthbearer.client.credentials.client.secret": "sasl.oauthbearer.client.secret",
}

# Java's TLS store keys: read together by `_tls` into librdkafka's PEM keys.
_STORE_KEYS = frozenset(
    {
        "ssl.truststore.location",
        "ssl.truststore.password",
        "ssl.truststore.type",
        "ssl.truststore.certificates",
        "ssl.keystore.location",
        "ssl.keystore.password",
        "ssl.keystore.type",
        "ssl.keystore.certificate.chain",
        "ssl.keystore.key",
        "ssl.key.password",
    }
)

# Java-only settings of the Java client's own OAuth login and token checks; librdkafka's OIDC
# client has no counterpart, so they are dropped (with a warning, as other Java-only keys).
_JAVA_OAUTH_ONLY = frozenset(
    {
        "sasl.oauthbearer.jwks.endpoint.url",
        "sasl.oauthbearer.jwks.endpoint.refresh.ms",
        "sasl.oauthbearer.jwks.endpoint.retry.backoff.ms",
        "sasl.oauthbearer.jwks.endpoint.retry.backoff.max.ms",
        "sasl.oauthbearer.expected.audience",
        "sasl.oauthbearer.expected.issuer",
        "sasl.oauthbearer.scope.claim.name",
        "sasl.oauthbearer.sub.claim.name",
        "sasl.oauthbearer.clock.skew.seconds",
        "sasl.oauthbearer.jwt.retriever.class",
        "sasl.oauthbearer.jwt.validator.class",
        "sasl.oauthbearer.header.urlencode",
        "sasl.login.connect.timeout.ms",
        "sasl.login.read.timeout.ms",
        "sasl.login.retry.backoff.ms",
        "sasl.login.retry.backoff.max.ms",
        "sasl.login.refresh.window.factor",
        "sasl.login.refresh.window.jitter",
        "sasl.login.refresh.min.period.seconds",
        "sasl.login.refresh.buffer.seconds",
    }
)
# Java's OIDC login handlers: librdkafka's `sasl.oauthbearer.method=oidc` does their job.
_OAUTH_LOGIN_HANDLERS = frozenset(
    {
        "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginCallbackHandler",
        "org.apache.kafka.common.security.oauthbearer.secured.OAuthBearerLoginCallbackHandler",
    }
)

_JAAS_MODULE = re.compile(r"\s*([\w.$]+)\s+(?:required|requisite|sufficient|optional)\b")
_JAAS = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s;"]+))')


def jaas_options(value: str) -> tuple[str, dict[str, str]]:
    """The login module's class name and the options of a `sasl.jaas.config` value."""
    module = _JAAS_MODULE.match(value)
    options = {
        k: re.sub(r"\\(.)", r"\1", quoted) if quoted or not bare else bare
        for k, quoted, bare in _JAAS.findall(value)
    }
    return (module.group(1) if module else ""), options


def _sasl(value: str, props: Mapping[str, str]) -> dict[str, str]:
    """librdkafka's keys for a `sasl.jaas.config`: a user and password for PLAIN and SCRAM, the
    client credentials of OIDC for OAUTHBEARER (Java's `OAuthBearerLoginModule`)."""
    module, options = jaas_options(value)
    out: dict[str, str] = {}
    if module.endswith("OAuthBearerLoginModule"):
        for option, name in (
            ("clientId", "sasl.oauthbearer.client.id"),
            ("clientSecret", "sasl.oauthbearer.client.secret"),
            ("scope", "sasl.oauthbearer.scope"),
        ):
            if option in options:
                out[name] = options[option]
        extensions = [
            f"{k.removeprefix('extension_')}={v}"
            for k, v in options.items()
            if k.startswith("extension_")
        ]
        if extensions:
            out["sasl.oauthbearer.extensions"] = ",".join(extensions)
        if "sasl.oauthbearer.token.endpoint.url" in props:
            out.setdefault("sasl.oauthbearer.method", "oidc")
        return out
    if "username" in options:
        out["sasl.username"] = options["username"]
    if "password" in options:
        out["sasl.password"] = options["password"]
    return out


def _tls(props: Mapping[str, str], client: str) -> dict[str, str]:
    """librdkafka's CA, certificate and key settings for Java's trust and key store keys.

    A PEM trust store path stays a path (`ssl.ca.location`); a JKS or PKCS12 one, and every key
    store, is read (`java_stores`) and passed as PEM text, in memory.
    """
    out: dict[str, str] = {}
    trust = props.get("ssl.truststore.location", "").strip()
    if trust:
        if trust.endswith((".pem", ".crt")) or props.get("ssl.truststore.type", "") == "PEM":
            out["ssl.ca.location"] = trust
        else:
            store = java_stores.read_store(
                trust, props.get("ssl.truststore.password"), key=f"{client} ssl.truststore.location"
            )
            if not store.certificates:
                raise java_stores.StoreError(
                    f"{client} ssl.truststore.location={trust!r}: the store holds no certificate"
                )
            out["ssl.ca.pem"] = "".join(store.certificates)
    if props.get("ssl.truststore.certificates", "").strip():
        out["ssl.ca.pem"] = props["ssl.truststore.certificates"]
    key_store = props.get("ssl.keystore.location", "").strip()
    key_password = props.get("ssl.key.password") or props.get("ssl.keystore.password")
    if key_store:
        what = f"{client} ssl.keystore.location"
        store = java_stores.read_store(
            key_store, props.get("ssl.keystore.password"), key=what, key_password=key_password
        )
        if store.key is None:
            raise java_stores.StoreError(f"{what}={key_store!r}: the store holds no private key")
        if java_stores.is_encrypted_pem(store.key):  # only a PEM file's key is still encrypted
            if not key_password:
                raise java_stores.StoreError(
                    f"{what}={key_store!r}: the key is encrypted; set ssl.key.password"
                )
            out["ssl.key.password"] = key_password
        out["ssl.key.pem"] = store.key
        out["ssl.certificate.pem"] = "".join(store.chain)
    if props.get("ssl.keystore.certificate.chain", "").strip():
        out["ssl.certificate.pem"] = props["ssl.keystore.certificate.chain"]
    if props.get("ssl.keystore.key", "").strip():
        out["ssl.key.pem"] = props["ssl.keystore.key"]
        if props.get("ssl.key.password"):
            out["ssl.key.password"] = props["ssl.key.password"]
    return out


def _identification(value: str) -> str:
    """Java's `ssl.endpoint.identification.algorithm`: `https` (the default) checks the broker's
    host name against its certificate; an empty value turns the check off (librdkafka `none`)."""
    return "none" if not value.strip() or value.strip().lower() == "none" else "https"


def translate(props: Mapping[str, str], client: str) -> dict[str, str]:
    """Java client keys → librdkafka keys. Warns once per dropped key.

    Raises ConfigError (naming the key and file, never a secret) when a trust or key store cannot
    be read.
    """
    out: dict[str, str] = {}
    for key, value in props.items():
        if key in _DROPPED or key in _JAVA_OAUTH_ONLY:
            log.warning("%s config %r has no librdkafka equivalent and is ignored", client, key)
            continue
        if key == "sasl.login.callback.handler.class" and value.strip() in _OAUTH_LOGIN_HANDLERS:
            continue
        if key == "sasl.login.callback.handler.class":
            log.warning("%s config %r has no librdkafka equivalent and is ignored", client, key)
            continue
        if key in _STORE_KEYS:
            continue
        if key == "sasl.jaas.config":
            out.update(_sasl(value, props))
            continue
        if key == "ssl.endpoint.identification.algorithm":
            out[key] = _identification(value)
            continue
        out[_RENAMED.get(key, key)] = value
    out.update(_tls(props, client))
    return out


def _inherited(worker_props: Mapping[str, str]) -> dict[str, str]:
    return {
        k: v
        for k, v in worker_props.items()
        if k in CLIENT_KEYS or k.startswith(CLIENT_PREFIXES) or k == "bootstrap.servers"
    }


OVERRIDE_PREFIXES = ("producer.override.", "consumer.override.", "admin.override.")

ALLOWED_URLS_KEY = "connector.client.config.override.allowed.urls"
ALLOWED_FILES_KEY = "connector.client.config.override.allowed.files"
ALLOWED_UNSAFE_KEYS_KEY = "connector.client.config.override.allowed.unsafe.keys"

_LOADS_CODE = {
    "plugin.library.paths": "loads native libraries into the worker",
    "ssl.engine.location": "loads an OpenSSL engine library into the worker",
    "ssl.engine.id": "chooses an OpenSSL engine to load into the worker",
    "ssl.providers": "loads OpenSSL providers into the worker",
}
_REACHES_URLS = frozenset(
    {"sasl.oauthbearer.token.endpoint.url", "sasl.oauthbearer.jwks.endpoint.url"}
)
_READS_FILES = frozenset(
    {
        "ssl.key.location",
        "ssl.certificate.location",
        "ssl.ca.location",
        "ssl.crl.location",
        "ssl.keystore.location",
        "ssl.truststore.location",
        "https.ca.location",
        "sasl.oauthbearer.assertion.private.key.file",
        "sasl.oauthbearer.assertion.file",
        "sasl.oauthbearer.assertion.jwt.template.file",
        "sasl.kerberos.keytab",
        "offset.store.path",
    }
)
_KINIT_CMD = "sasl.kerberos.kinit.cmd"
_DEFAULT_KINIT_CMD = (
    'kinit -R -t "%{sasl.kerberos.keytab}" -k %{sasl.kerberos.principal} || '
    'kinit -t "%{sasl.kerberos.keytab}" -k %{sasl.kerberos.principal}'
)
_KINIT_VARIABLE = re.compile(r"%\{([^}]*)\}")
_METADATA_AUTH = "sasl.oauthbearer.metadata.authentication.type"


def _listed(worker_props: Mapping[str, str], key: str) -> list[str]:
    return [v.strip() for v in worker_props.get(key, "").split(",") if v.strip()]


def _file_allowed(path: str, allowed: list[str]) -> bool:
    """An allowed file is named exactly; an entry ending in "/" admits the files under it."""
    if path.strip() in allowed:
        return True
    normal = posixpath.normpath(path.strip())
    if not normal.startswith("/"):
        return False
    return any(
        entry.endswith("/") and normal.startswith(posixpath.normpath(entry) + "/")
        for entry in allowed
    )


def _kinit_keys(worker_props: Mapping[str, str]) -> set[str]:
    """The client keys the worker's Kerberos command line is built from (`%{key}`)."""
    keys = [_KINIT_CMD, *(f"{client}.{_KINIT_CMD}" for client in ("producer", "consumer", "admin"))]
    commands = [_DEFAULT_KINIT_CMD, *(worker_props[k] for k in keys if k in worker_props)]
    return {name for cmd in commands for name in _KINIT_VARIABLE.findall(cmd)}


def _unsafe(
    key: str, value: str, worker_props: Mapping[str, str], kinit_keys: set[str]
) -> str | None:
    """Why a connector may not set client key `key` to `value`, or None when it may.

    These keys make the worker load code, run a command, send credentials to a URL or read a
    file of its own choosing; the worker's config alone may set them, or allow them:
    `connector.client.config.override.allowed.unsafe.keys` (any value of the keys it lists),
    `...allowed.urls` (these URLs) and `...allowed.files` (these files), as Kafka's
    `org.apache.kafka.sasl.oauthbearer.allowed.urls` and `...allowed.files` do for OAuth.
    """
    name = key.strip().lower()
    if name in _listed(worker_props, ALLOWED_UNSAFE_KEYS_KEY):
        return None
    unsafe_keys = f"the worker's {ALLOWED_UNSAFE_KEYS_KEY} lists {name}"
    if name in _LOADS_CODE:
        return f"{name} {_LOADS_CODE[name]}; a connector may not set it unless {unsafe_keys}"
    if name == _KINIT_CMD or name in kinit_keys:
        return (
            f"{name} is part of the Kerberos command line the client runs in a shell; a "
            f"connector may not set it unless {unsafe_keys}"
        )
    if name == _METADATA_AUTH and value.strip().lower() != "none":
        return (
            f"{name} makes the client fetch credentials from the cloud's metadata service and "
            f"send them to the brokers; a connector may set only 'none' unless {unsafe_keys}"
        )
    if name in _REACHES_URLS and value.strip() not in _listed(worker_props, ALLOWED_URLS_KEY):
        allowed = ", ".join(_listed(worker_props, ALLOWED_URLS_KEY)) or "none"
        return (
            f"{name} makes the worker send credentials to that URL; expected a URL the worker's "
            f"{ALLOWED_URLS_KEY} lists (now: {allowed})"
        )
    if name in _READS_FILES and value.strip() != "probe":
        allowed_files = _listed(worker_props, ALLOWED_FILES_KEY)
        if not _file_allowed(value, allowed_files):
            return (
                f"{name} makes the worker read (or write) that file; expected a file the "
                f"worker's {ALLOWED_FILES_KEY} lists, or one under a directory it lists with a "
                f"trailing '/' (now: {', '.join(allowed_files) or 'none'})"
            )
    return None


def override_errors(
    worker_props: Mapping[str, str],
    connector_props: Mapping[str, str],
    policy: str,
    written: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """{connector key: why it is not allowed} for each client override in `connector_props`
    that `policy` or the worker's allow-lists forbid. Values are checked as given (resolved);
    a message shows the value as `written` holds it, and no value without `written`."""
    kinit_keys = _kinit_keys(worker_props)
    errors: dict[str, str] = {}
    for prefix in OVERRIDE_PREFIXES:
        for client_key, value in prefixed(connector_props, prefix).items():
            full = prefix + client_key
            if policy == "None" or (policy == "Principal" and client_key not in _PRINCIPAL):
                errors[full] = (
                    f"The '{policy}' policy does not allow '{client_key}' to be overridden in "
                    f"the connector configuration (key '{full}', "
                    f"connector.client.config.override.policy={policy})"
                )
                continue
            reason = _unsafe(client_key, value, worker_props, kinit_keys)
            if reason is None:
                continue
            if written is not None and full in written:
                errors[full] = f"invalid value {written[full]!r} for key '{full}': {reason}"
            else:
                errors[full] = f"key '{full}': {reason}"
    return errors


_PRINCIPAL = frozenset({"sasl.jaas.config", "sasl.mechanism", "security.protocol"})


def _overrides(
    worker_props: Mapping[str, str],
    connector_props: Mapping[str, str],
    prefix: str,
    policy: str,
    connector: str,
) -> dict[str, str]:
    found = prefixed(connector_props, prefix)
    errors = {
        k: v
        for k, v in override_errors(worker_props, connector_props, policy).items()
        if k.startswith(prefix)
    }
    if errors:
        raise ConfigError(f"connector {connector!r}: " + "; ".join(errors.values()))
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
    merged.update(
        _overrides(worker_props, connector_props, "producer.override.", policy, connector)
    )
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
    merged.update(
        _overrides(worker_props, connector_props, "consumer.override.", policy, connector)
    )
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
    merged = {**_inherited(worker_props), **admin_client_props(worker_props)}
    return translate(merged, "admin")


def connector_admin_config(
    worker_props: Mapping[str, str],
    connector_props: Mapping[str, str],
    *,
    connector: str,
    policy: str,
) -> dict[str, str]:
    """A connector's own admin client (its dead-letter queue's): the worker's admin keys with the
    connector's `admin.override.` keys on top, as Kafka Connect builds it."""
    merged = {**_inherited(worker_props), **admin_client_props(worker_props)}
    merged.update(_overrides(worker_props, connector_props, "admin.override.", policy, connector))
    return translate(merged, "admin")
