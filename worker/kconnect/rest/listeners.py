"""The `listeners` worker setting: where the REST API binds.

The syntax is Kafka Connect's: a comma-separated list of `PROTOCOL://HOST:PORT`, with the protocol
in any case, an empty host for every interface, an IPv6 host in brackets (`http://[::1]:8083`) and
port 0 for a free port chosen at bind time. Parsing is pure and fails with a `ConfigError` that
names the listener at fault and the form expected; nothing here opens a socket.

The protocols are `http` and `https`; an `https` listener gets its certificate from the
`listeners.https.ssl.*` keys (`kconnect.rest.tls`). Anything else is rejected here, at config time.
`admin.listeners` has the same syntax, and there an empty value is allowed: it means no listener.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kconnect.errors import ConfigError

LISTENERS_CONFIG = "listeners"
ADMIN_LISTENERS_CONFIG = "admin.listeners"
EXPECTED_FORM = (
    "http://HOST:PORT or https://HOST:PORT (an empty HOST binds every interface, e.g. http://:8083)"
)

_LISTENER = re.compile(
    r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<host>\[[^\]]*\]|[^\[\]/:]*):(?P<port>[^:/]*)/?$"
)
_MAX_PORT = 65535


@dataclass(frozen=True)
class Listener:
    """One address to serve the REST API on. `host` is empty for every interface."""

    scheme: str
    host: str
    port: int

    @property
    def all_interfaces(self) -> bool:
        return self.host == ""

    def url(self, port: int | None = None) -> str:
        """The listener as a URL, with `port` (the bound port) in place of a requested 0."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port if port is None else port}"


def parse_listener(value: str, setting: str = LISTENERS_CONFIG) -> Listener:
    """Parse one `PROTOCOL://HOST:PORT`; `ConfigError` naming it and the expected form."""
    text = value.strip()
    match = _LISTENER.match(text)
    if match is None:
        raise ConfigError(f"Invalid value {value!r} in {setting}: expected {EXPECTED_FORM}")
    scheme = match["scheme"].lower()
    host = match["host"]
    if host.startswith("["):
        host = host[1:-1]
        if ":" not in host:
            raise ConfigError(
                f"Invalid value {value!r} in {setting}: brackets are for IPv6 "
                f"addresses only; expected {EXPECTED_FORM}"
            )
    port_text = match["port"]
    if not port_text.isdigit() or int(port_text) > _MAX_PORT:
        raise ConfigError(
            f"Invalid port {port_text!r} in listener {value!r} of {setting}: "
            f"expected an integer from 0 to {_MAX_PORT} in {EXPECTED_FORM}"
        )
    if scheme not in ("http", "https"):
        raise ConfigError(
            f"Unsupported protocol {match['scheme']!r} in listener {value!r} of "
            f"{setting}: expected {EXPECTED_FORM}"
        )
    return Listener(scheme=scheme, host=host, port=int(port_text))


def parse_listeners(value: str, setting: str = LISTENERS_CONFIG) -> list[Listener]:
    """Parse the comma-separated `listeners` setting into at least one `Listener`."""
    items = [item for item in (part.strip() for part in value.split(",")) if item]
    if not items:
        raise ConfigError(
            f"Invalid value {value!r} for {setting}: expected a comma-separated "
            f"list of at least one {EXPECTED_FORM}"
        )
    return [parse_listener(item, setting) for item in items]


def parse_admin_listeners(value: str | None) -> list[Listener] | None:
    """`admin.listeners`: None when unset (the admin endpoints stay on `listeners`), an empty
    list when blank (no admin endpoints at all), else the listeners."""
    if value is None:
        return None
    if not value.strip():
        return []
    return parse_listeners(value, ADMIN_LISTENERS_CONFIG)
