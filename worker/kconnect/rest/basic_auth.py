"""HTTP basic authentication of the REST API: Kafka's `BasicAuthSecurityRestExtension`.

A worker file that names the extension in `rest.extension.classes` gets what Kafka Connect gives
it: every request must carry `Authorization: Basic ...` with a user and password listed in the
credentials file that the JAAS file's `KafkaConnect` entry names:

    KafkaConnect {
        org.apache.kafka.connect.rest.basic.auth.extension.PropertyFileLoginModule required
        file="/mnt/secret/credentials.properties";
    };

There is no JVM, so the JAAS file is found where a Kafka user has already put it: the worker key
`java.security.auth.login.config`, else `-Djava.security.auth.login.config=...` in the environment
variable `KAFKA_OPTS`. The credentials file is a Java properties file of `user: password` lines,
read once at start-up.

It fails safe where Kafka fails open, and never serves the API unauthenticated when asked for
authentication: any other `rest.extension.classes` value, a missing or malformed JAAS file, a
`KafkaConnect` entry with another login module, a missing credentials file and an *empty* one
(Kafka then lets every request through) all stop the worker with a message naming the file and
what was expected. No message holds a password or a line of the credentials file.

Passwords are compared in constant time, through their SHA-256 digests, so that neither the
password's content nor its length shows in the timing; an unknown user costs the same comparison.
No path is exempt: Kafka exempts only its worker-to-worker endpoints, which kconnect does not
have. A failed request gets 401 with `WWW-Authenticate: Basic` (as RFC 9110 asks; Kafka sends
none) and Kafka's message in Kafka Connect's error body.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web
from aiohttp.typedefs import Middleware

from kconnect.config.properties import parse_properties
from kconnect.errors import ConfigError
from kconnect.rest.app import Handler, error_response

log = logging.getLogger(__name__)

REST_EXTENSION_CLASSES = "rest.extension.classes"
BASIC_AUTH_EXTENSION = (
    "org.apache.kafka.connect.rest.basic.auth.extension.BasicAuthSecurityRestExtension"
)
PROPERTY_FILE_LOGIN_MODULE = (
    "org.apache.kafka.connect.rest.basic.auth.extension.PropertyFileLoginModule"
)
JAAS_ENTRY = "KafkaConnect"
JAAS_CONFIG_PROPERTY = "java.security.auth.login.config"
KAFKA_OPTS = "KAFKA_OPTS"

UNAUTHORIZED_MESSAGE = "User cannot access the resource."
"""Kafka's `JaasBasicAuthFilter` answers this to every request that fails authentication."""
CHALLENGE = 'Basic realm="Kafka Connect", charset="UTF-8"'

_CONTROL_FLAGS = ("required", "requisite", "sufficient", "optional")
_HOW_TO_NAME_IT = (
    f"set {JAAS_CONFIG_PROPERTY}=/path/to/jaas.conf in the worker config, or "
    f"-D{JAAS_CONFIG_PROPERTY}=/path/to/jaas.conf in the environment variable {KAFKA_OPTS}"
)


# --- the JAAS file


@dataclass(frozen=True)
class LoginModule:
    """One login module of a JAAS entry: its class, control flag and options."""

    class_name: str
    flag: str
    options: Mapping[str, str] = field(default_factory=dict)


_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
    | (?P<comment>//[^\n]*|/\*.*?\*/|\#[^\n]*)
    | (?P<quoted>"(?:[^"\\]|\\.)*")
    | (?P<word>[A-Za-z0-9_$.*\-]+)
    | (?P<punct>[{};=])
    """,
    re.VERBOSE | re.DOTALL,
)
_QUOTED_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "f": "\f", "b": "\b"}


def _tokens(text: str, source: str) -> list[tuple[str, str, int]]:
    """(kind, text, line) for every token of a JAAS file; `kind` is word, quoted or punct."""
    out: list[tuple[str, str, int]] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        line = text.count("\n", 0, pos) + 1
        if match is None:
            raise ConfigError(
                f"{source}:{line}: unexpected character {text[pos]!r} in the JAAS file; "
                'expected Name { LoginModuleClass flag option="value"; };'
            )
        kind = match.lastgroup or ""
        if kind == "quoted":
            body = match.group()[1:-1]
            value = re.sub(r"\\(.)", lambda m: _QUOTED_ESCAPES.get(m[1], m[1]), body)
            out.append(("quoted", value, line))
        elif kind in ("word", "punct"):
            out.append((kind, match.group(), line))
        pos = match.end()
    return out


def parse_jaas(text: str, source: str) -> dict[str, list[LoginModule]]:
    """The entries of a JAAS login configuration file, by name, in the syntax of Java's
    `ConfigFile`: `Name { Class flag key=value ...; ... };`, with `//`, `/* */` and `#`
    comments. A `ConfigError` names the file, the line and what was expected there."""
    tokens = _tokens(text, source)
    entries: dict[str, list[LoginModule]] = {}
    i = 0

    def take(expected: str, *, kinds: tuple[str, ...] = ("word",), text: str | None = None) -> str:
        nonlocal i
        if i >= len(tokens):
            raise ConfigError(f"{source}: the JAAS file ends early: expected {expected}")
        kind, value, line = tokens[i]
        if kind not in kinds or (text is not None and value != text):
            shown = value if kind != "quoted" else "a quoted string"
            raise ConfigError(f"{source}:{line}: found {shown!r} where {expected} was expected")
        i += 1
        return value

    def peek(value: str) -> bool:
        return i < len(tokens) and tokens[i][0] == "punct" and tokens[i][1] == value

    while i < len(tokens):
        name = take("an entry name (such as KafkaConnect)", kinds=("word", "quoted"))
        take("'{' after the entry name", kinds=("punct",), text="{")
        modules: list[LoginModule] = []
        while not peek("}"):
            class_name = take("a login module class name")
            flag = take(f"a control flag ({', '.join(_CONTROL_FLAGS)})")
            if flag.lower() not in _CONTROL_FLAGS:
                raise ConfigError(
                    f"{source}: login module {class_name} of entry {name} has the control flag "
                    f"{flag!r}; expected one of {', '.join(_CONTROL_FLAGS)}"
                )
            options: dict[str, str] = {}
            while not peek(";"):
                key = take(f"an option name or ';' after {class_name}")
                take(f"'=' after option {key}", kinds=("punct",), text="=")
                options[key] = take(f"a value for option {key}", kinds=("word", "quoted"))
            take("';'", kinds=("punct",), text=";")
            modules.append(LoginModule(class_name, flag.lower(), options))
        take("'}'", kinds=("punct",), text="}")
        take(f"';' after the '}}' of entry {name}", kinds=("punct",), text=";")
        entries[name] = modules
    return entries


def jaas_path(configured: str | None, env: Mapping[str, str]) -> str | None:
    """The JAAS file: the worker key, else `-Djava.security.auth.login.config=` in `KAFKA_OPTS`
    (the last one, as the JVM takes it). Java's `==` form (this file only) and a `file:` URL
    name a file too. The value of `KAFKA_OPTS` is never quoted in an error: it may hold
    passwords."""
    value = configured
    if value is None:
        opts = env.get(KAFKA_OPTS, "")
        try:
            args = shlex.split(opts)
        except ValueError as e:
            raise ConfigError(
                f"cannot read -D{JAAS_CONFIG_PROPERTY} from the environment variable "
                f"{KAFKA_OPTS}: it is not a valid shell word list ({e})"
            ) from None
        prefix = f"-D{JAAS_CONFIG_PROPERTY}="
        for arg in args:
            if arg.startswith(prefix):
                value = arg[len(prefix) :]
    if value is None:
        return None
    value = value.strip().removeprefix("=")
    if value.startswith("file:"):
        value = value.removeprefix("file:")
        if value.startswith("//"):
            value = value[2:]
    return value or None


# --- the credentials


def load_credentials(path: str) -> dict[str, str]:
    """The `user: password` lines of a credentials file (Java properties). Errors name the
    file, never its content."""
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise ConfigError(
            f"cannot read the credentials file {path} named by the JAAS entry {JAAS_ENTRY}: "
            f"{e.strerror or e}"
        ) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")  # what Java's Properties.load reads
    try:
        return parse_properties(text, path)
    except ConfigError:
        raise ConfigError(
            f"the credentials file {path} is not a valid properties file (a malformed "
            "\\uXXXX escape); expected `user: password` lines"
        ) from None


class BasicAuthenticator:
    """Checks `Authorization` headers against a fixed set of users, in constant time."""

    def __init__(self, credentials: Mapping[str, str]) -> None:
        if not credentials:
            raise ConfigError("basic authentication needs at least one user")
        self._digests = {user: _digest(password) for user, password in credentials.items()}
        self._decoy = _digest("")

    @property
    def users(self) -> int:
        return len(self._digests)

    def authenticate(self, header: str | None) -> str | None:
        """The user an `Authorization` header proves, or None."""
        credentials = _basic_credentials(header)
        if credentials is None:
            return None
        user, password = credentials
        expected = self._digests.get(user)
        matches = hmac.compare_digest(_digest(password), expected or self._decoy)
        return user if matches and expected is not None else None

    def middleware(self) -> Middleware:
        """An aiohttp middleware that answers 401 to every request this does not admit."""

        @web.middleware
        async def basic_auth(request: web.Request, handler: Handler) -> web.StreamResponse:
            if self.authenticate(request.headers.get("Authorization")) is None:
                log.debug("REST %s %s: request failed authentication", request.method, request.path)
                return error_response(401, UNAUTHORIZED_MESSAGE, {"WWW-Authenticate": CHALLENGE})
            return await handler(request)

        middleware: Middleware = basic_auth
        return middleware


def _digest(password: str) -> bytes:
    return hashlib.sha256(password.encode("utf-8", "surrogatepass")).digest()


def _basic_credentials(header: str | None) -> tuple[str, str] | None:
    """(user, password) of `Basic <base64(user:password)>`, or None when absent or malformed
    (Kafka's `BasicAuthCredentials`: the scheme in any case, a non-empty user)."""
    if header is None:
        return None
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        text = encoded.strip()
        # Java's decoder, which Kafka uses, takes the padding as optional.
        decoded = base64.b64decode(text + "=" * (-len(text) % 4), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    user, colon, password = decoded.partition(":")
    if not colon or not user:
        return None
    return user, password


# --- the worker setting


def extension_classes(value: str) -> list[str]:
    return [name for name in (part.strip() for part in value.split(",")) if name]


def rest_authenticator(
    extension_setting: str, jaas_setting: str | None, env: Mapping[str, str]
) -> BasicAuthenticator | None:
    """The authenticator `rest.extension.classes` asks for, or None when it names nothing.

    Every way this could fall short of what was asked is a `ConfigError`: the worker must not
    start."""
    classes = extension_classes(extension_setting)
    if not classes:
        return None
    unsupported = [
        name
        for name in classes
        if name not in (BASIC_AUTH_EXTENSION, BASIC_AUTH_EXTENSION.rsplit(".", 1)[1])
    ]
    if unsupported:
        raise ConfigError(
            f"{REST_EXTENSION_CLASSES}: unsupported REST extension "
            f"{', '.join(repr(n) for n in unsupported)}: kconnect runs no Java REST extensions "
            f"and supports only {BASIC_AUTH_EXTENSION}. The worker does not start rather than "
            "serve the REST API without what the extension was meant to add."
        )
    path = jaas_path(jaas_setting, env)
    if path is None:
        raise ConfigError(
            f"{REST_EXTENSION_CLASSES} names BasicAuthSecurityRestExtension, which needs a JAAS "
            f"file with a {JAAS_ENTRY} entry: {_HOW_TO_NAME_IT}"
        )
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        reason = e.strerror if isinstance(e, OSError) else "not UTF-8 text"
        raise ConfigError(f"cannot read the JAAS file {path}: {reason or e}") from None
    entries = parse_jaas(text, path)
    modules = entries.get(JAAS_ENTRY)
    if modules is None:
        found = ", ".join(sorted(entries)) or "none"
        raise ConfigError(
            f"the JAAS file {path} has no {JAAS_ENTRY} entry (entries found: {found}); "
            f"expected {JAAS_ENTRY} {{ {PROPERTY_FILE_LOGIN_MODULE} required "
            'file="/path/to/credentials.properties"; };'
        )
    if len(modules) != 1 or modules[0].class_name != PROPERTY_FILE_LOGIN_MODULE:
        names = ", ".join(m.class_name for m in modules) or "no login module"
        raise ConfigError(
            f"the {JAAS_ENTRY} entry of the JAAS file {path} has {names}; kconnect supports "
            f"exactly one login module there: {PROPERTY_FILE_LOGIN_MODULE}"
        )
    credentials_file = modules[0].options.get("file", "").strip()
    if not credentials_file:
        raise ConfigError(
            f"the {JAAS_ENTRY} entry of the JAAS file {path} names no credentials file: "
            'expected the option file="/path/to/credentials.properties"'
        )
    credentials = load_credentials(credentials_file)
    if not credentials:
        raise ConfigError(
            f"the credentials file {credentials_file} lists no users. Kafka Connect would then "
            "let every request through; kconnect does not start. Expected `user: password` lines."
        )
    authenticator = BasicAuthenticator(credentials)
    log.info(
        "REST API: basic authentication of %d user(s) from %s (JAAS file %s)",
        authenticator.users,
        credentials_file,
        path,
    )
    return authenticator
