"""Reading a PostgreSQL JDBC URL into libpq's connection keywords.

`connection.url` takes the PostgreSQL JDBC driver's forms:

- `jdbc:postgresql://host[:port][,host2[:port2]...]/database?key=value&...`
- `jdbc:postgresql://host/` and `jdbc:postgresql:database` (local host, default port);
- IPv6 hosts in brackets (`[::1]:5432`); `%XX` escapes in the query's keys and values.

The driver's parameters that have a libpq equivalent are translated (`user`, `password`,
`ssl`, `sslmode`, `sslrootcert`, `sslcert`, `sslkey`, `sslpassword`, `connectTimeout`,
`loginTimeout`, `ApplicationName`, `currentSchema`, `options`, `targetServerType`,
`tcpKeepAlive`); any other parameter is ignored with a warning naming it, as the driver ignores
what it does not know. Nothing else of the URL reaches libpq, so a URL cannot name files or
services libpq would otherwise read (`passfile`, `service`).

Invariants: a message about a URL never holds its password or key password: `masked` replaces
them, and every `ValueError` raised here is built from the masked URL.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote

PREFIX = "jdbc:postgresql:"
SECRET_PARAMETERS = frozenset({"password", "sslpassword"})
_SECRET_VALUE = re.compile(r"(?i)([?&](?:ssl)?password=)[^&]*")
MASK = "****"

_SSLMODES = frozenset({"disable", "allow", "prefer", "require", "verify-ca", "verify-full"})
_TARGETS = {
    "any": "any",
    "primary": "primary",
    "master": "primary",
    "secondary": "standby",
    "slave": "standby",
    "prefersecondary": "prefer-standby",
    "preferslave": "prefer-standby",
    "preferprimary": "any",
}


def masked(url: str) -> str:
    """`url` with the values of its `password` and `sslpassword` parameters replaced."""
    return _SECRET_VALUE.sub(lambda m: m.group(1) + MASK, url)


@dataclass(frozen=True)
class ConnectionParameters:
    """libpq's keywords for one URL (secrets included), and the parameters it ignored."""

    keywords: dict[str, str] = field(default_factory=dict)
    ignored: tuple[str, ...] = ()


def parse(url: str) -> ConnectionParameters:
    """The libpq keywords `url` stands for; ValueError (naming the masked URL) when it is not a
    PostgreSQL JDBC URL."""
    shown = masked(url)
    if not url.startswith(PREFIX):
        raise ValueError(
            f"'{shown}' is not a PostgreSQL JDBC URL; expected "
            "jdbc:postgresql://host[:port]/database[?key=value&...]"
        )
    rest = url[len(PREFIX) :]
    rest, _, query = rest.partition("?")
    keywords: dict[str, str] = {}
    if rest.startswith("//"):
        authority, slash, database = rest[2:].partition("/")
        hosts, ports = _hosts(authority, shown)
        if hosts:
            keywords["host"] = ",".join(hosts)
            if any(ports):
                keywords["port"] = ",".join(p or "5432" for p in ports)
        if slash and database:
            keywords["dbname"] = unquote(database)
    elif rest and not rest.startswith("/"):
        keywords["dbname"] = unquote(rest)
    elif rest not in ("", "/"):
        raise ValueError(f"'{shown}' has no host; expected jdbc:postgresql://host[:port]/database")
    ignored: list[str] = []
    for key, value in _query(query, shown).items():
        _translate(key, value, keywords, ignored, shown)
    return ConnectionParameters(keywords, tuple(ignored))


def _hosts(authority: str, shown: str) -> tuple[list[str], list[str]]:
    hosts: list[str] = []
    ports: list[str] = []
    if not authority:
        return hosts, ports
    for item in authority.split(","):
        if item.startswith("["):
            end = item.find("]")
            if end < 0:
                raise ValueError(f"'{shown}': an IPv6 host is missing its closing ']'")
            host, after = item[1:end], item[end + 1 :]
            port = after[1:] if after.startswith(":") else ""
            if after and not after.startswith(":"):
                raise ValueError(f"'{shown}': unexpected text after the IPv6 host [{host}]")
        else:
            host, _, port = item.partition(":")
        if not host:
            raise ValueError(f"'{shown}': an empty host name; expected host[:port]")
        if port and (not port.isdigit() or not 0 < int(port) < 65536):
            raise ValueError(f"'{shown}': port '{port}' is not a number between 1 and 65535")
        hosts.append(host)
        ports.append(port)
    return hosts, ports


def _query(query: str, shown: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in query.split("&"):
        if not pair:
            continue
        key, eq, value = pair.partition("=")
        if not eq:
            value = ""
        out[unquote(key)] = unquote(value)
    return out


def _translate(
    key: str, value: str, keywords: dict[str, str], ignored: list[str], shown: str
) -> None:
    lower = key.lower()
    if lower in ("user", "password", "sslrootcert", "sslcert", "sslkey", "sslpassword"):
        keywords[lower] = value
    elif lower == "ssl":
        if value.lower() in ("", "true") and "sslmode" not in keywords:
            # The JDBC driver's `ssl=true` verifies the server fully.
            keywords["sslmode"] = "verify-full"
    elif lower == "sslmode":
        if value not in _SSLMODES:
            raise ValueError(
                f"'{shown}': sslmode '{value}' is not one of {', '.join(sorted(_SSLMODES))}"
            )
        keywords["sslmode"] = value
    elif lower in ("connecttimeout", "logintimeout"):
        if not value.isdigit():
            raise ValueError(f"'{shown}': {key} '{value}' is not a whole number of seconds")
        if lower == "connecttimeout" or "connect_timeout" not in keywords:
            keywords["connect_timeout"] = value
    elif lower == "applicationname":
        keywords["application_name"] = value
    elif lower == "currentschema":
        schemas = ",".join(_quote_option(s.strip()) for s in value.split(",") if s.strip())
        keywords["options"] = (keywords.get("options", "") + f" -c search_path={schemas}").strip()
    elif lower == "options":
        keywords["options"] = (value + " " + keywords.get("options", "")).strip()
    elif lower == "targetservertype":
        target = _TARGETS.get(value.lower())
        if target is None:
            raise ValueError(
                f"'{shown}': targetServerType '{value}' is not one of "
                "any, primary, secondary, preferSecondary"
            )
        keywords["target_session_attrs"] = target
    elif lower == "tcpkeepalive":
        keywords["keepalives"] = "1" if value.lower() == "true" else "0"
    else:
        ignored.append(key)


def _quote_option(value: str) -> str:
    """A value inside libpq's `options`: spaces and backslashes escaped with a backslash."""
    return value.replace("\\", "\\\\").replace(" ", "\\ ")


def with_credentials(
    parameters: ConnectionParameters, user: str | None, password: str | None
) -> Mapping[str, str]:
    """The keywords with `connection.user` / `connection.password` added. As in the JDBC
    driver, where the URL's own `user` / `password` parameters are set, they win."""
    keywords = dict(parameters.keywords)
    if user and "user" not in keywords:
        keywords["user"] = user
    if password and "password" not in keywords:
        keywords["password"] = password
    return keywords
