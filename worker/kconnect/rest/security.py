"""What protects a worker's REST API, read from its config at start-up: TLS for https listeners,
basic authentication, and where the admin endpoints are served.

`rest_security` reads every file it needs (key stores, the JAAS and credentials files) once, so
a mistake stops the worker before it connects to Kafka, with a `ConfigError` naming the key or
file; it never returns settings weaker than the config asks for.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass

from kconnect.config.worker import WorkerConfig
from kconnect.rest.basic_auth import BasicAuthenticator, rest_authenticator
from kconnect.rest.listeners import parse_admin_listeners, parse_listeners
from kconnect.rest.tls import ADMIN_LISTENERS_PREFIX, LISTENERS_PREFIX, server_context


@dataclass(frozen=True)
class RestSecurity:
    """`RestServer`'s settings beyond its listeners."""

    admin_listeners: str | None = None
    authenticator: BasicAuthenticator | None = None
    ssl_context: ssl.SSLContext | None = None
    admin_ssl_context: ssl.SSLContext | None = None


def rest_security(
    props: Mapping[str, str], config: WorkerConfig, env: Mapping[str, str]
) -> RestSecurity:
    """The REST server's TLS, authentication and admin listeners for this worker config; `env`
    is the process environment (for `KAFKA_OPTS`)."""
    listeners = parse_listeners(config.listener_list())
    admin = parse_admin_listeners(config.admin_listeners) or []
    ssl_context = (
        server_context(props, LISTENERS_PREFIX)
        if any(listener.scheme == "https" for listener in listeners)
        else None
    )
    admin_ssl_context = (
        server_context(props, ADMIN_LISTENERS_PREFIX)
        if any(listener.scheme == "https" for listener in admin)
        else None
    )
    return RestSecurity(
        admin_listeners=config.admin_listeners,
        authenticator=rest_authenticator(
            config.rest_extension_classes, config.jaas_config_file, env
        ),
        ssl_context=ssl_context,
        admin_ssl_context=admin_ssl_context,
    )
