"""A minimal OpenID Connect issuer on loopback: a client-credentials token endpoint and a JWKS.

The secured test broker validates OAUTHBEARER tokens against this issuer's JWKS (Kafka's
``OAuthBearerValidatorCallbackHandler``), and workers get their tokens from its token endpoint
(librdkafka's ``sasl.oauthbearer.method=oidc``), so both sides talk to a real HTTP endpoint as in
production.

- ``POST /token`` takes ``grant_type=client_credentials`` with the client's id and secret in HTTP
  Basic authentication (as librdkafka and Kafka's Java client send them) or in the form, and answers
  ``{"access_token": <JWT>, "token_type": "Bearer", "expires_in": ...}``. A JWT is signed RS256 with
  the issuer's key and holds ``sub`` (the client's principal), ``iat``, ``exp``, ``iss``, ``aud``
  and ``scope``. An unknown client or a wrong secret gets 401 ``invalid_client``.
- ``GET /jwks`` answers the JSON Web Key Set with the one public key.

Invariants: it listens on 127.0.0.1 only, on a port picked free; its server thread is owned by the
:class:`Issuer`, which stops and joins it (:meth:`Issuer.stop`, also on ``with``). The RSA key is
made and used with the ``openssl`` command (no crypto library is needed); a failing ``openssl``
answers 500 and is logged.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import shutil
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Final

log = logging.getLogger(__name__)

HOST: Final = "127.0.0.1"
KEY_ID: Final = "kconnect-test-key"
TOKEN_LIFETIME_S: Final = 3600
AUDIENCE: Final = "kafka"
OPENSSL_TIMEOUT_S: Final = 30.0


class IssuerError(RuntimeError):
    """The issuer could not be set up (its key could not be made)."""


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _openssl(*args: str, data: bytes | None = None) -> bytes:
    openssl = shutil.which("openssl")
    if openssl is None:
        raise IssuerError("'openssl' is not on PATH; the OIDC issuer signs its tokens with it")
    result = subprocess.run(
        [openssl, *args], input=data, capture_output=True, timeout=OPENSSL_TIMEOUT_S, check=False
    )
    if result.returncode != 0:
        raise IssuerError(f"openssl {args[0]} failed: {result.stderr.decode(errors='replace')}")
    return result.stdout


class Issuer:
    """The issuer: ``clients`` maps a client id to its secret and the ``sub`` its tokens carry."""

    def __init__(self, key_dir: Path, clients: Mapping[str, tuple[str, str]]) -> None:
        self.clients = dict(clients)
        key_dir.mkdir(parents=True, exist_ok=True)
        self.key_path = key_dir / "oidc-signing.key"
        if not self.key_path.exists():
            _openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                     "-out", str(self.key_path))  # fmt: skip
        modulus = _openssl("rsa", "-in", str(self.key_path), "-noout", "-modulus").decode()
        n = binascii.unhexlify(modulus.strip().split("=", 1)[1])
        self.jwks = {
            "keys": [
                {
                    "kty": "RSA",
                    "kid": KEY_ID,
                    "use": "sig",
                    "alg": "RS256",
                    "n": _b64url(n),
                    "e": _b64url((65537).to_bytes(3, "big")),
                }
            ]
        }
        self.tokens_issued = 0
        self._server = ThreadingHTTPServer((HOST, 0), _handler(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def token_url(self) -> str:
        return f"{self.url}/token"

    @property
    def jwks_url(self) -> str:
        return f"{self.url}/jwks"

    def start(self) -> Issuer:
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="oidc-issuer", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=10)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> Issuer:
        return self.start()

    def __exit__(
        self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self.stop()

    def token(self, subject: str, scope: str) -> str:
        """A signed JWT for ``subject``."""
        now = int(time.time())
        header = {"alg": "RS256", "typ": "JWT", "kid": KEY_ID}
        claims: dict[str, object] = {
            "sub": subject,
            "iat": now,
            "exp": now + TOKEN_LIFETIME_S,
            "iss": self.url,
            "aud": AUDIENCE,
        }
        if scope:  # Kafka refuses an empty scope claim
            claims["scope"] = scope
        signing_input = (
            _b64url(json.dumps(header).encode()) + "." + _b64url(json.dumps(claims).encode())
        )
        signature = _openssl(
            "dgst", "-sha256", "-sign", str(self.key_path), data=signing_input.encode()
        )
        self.tokens_issued += 1
        return signing_input + "." + _b64url(signature)

    def client_subject(self, client_id: str, secret: str) -> str | None:
        known = self.clients.get(client_id)
        if known is None or known[0] != secret:
            return None
        return known[1]


def _handler(issuer: Issuer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            log.debug("oidc issuer: " + format, *args)

        def _answer(self, status: int, body: object) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path == "/jwks":
                self._answer(200, issuer.jwks)
            else:
                self._answer(404, {"error": "not_found"})

        def do_POST(self) -> None:
            if self.path != "/token":
                self._answer(404, {"error": "not_found"})
                return
            length = int(self.headers.get("Content-Length") or 0)
            form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
            client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
            auth = self.headers.get("Authorization", "")
            if auth.lower().startswith("basic "):
                decoded = base64.b64decode(auth[6:].strip()).decode()
                client_id, _, secret = decoded.partition(":")
                client_id = urllib.parse.unquote_plus(client_id)
                secret = urllib.parse.unquote_plus(secret)
            if form.get("grant_type") != "client_credentials":
                self._answer(400, {"error": "unsupported_grant_type"})
                return
            subject = issuer.client_subject(client_id, secret)
            if subject is None:
                self._answer(401, {"error": "invalid_client"})
                return
            try:
                token = issuer.token(subject, form.get("scope", ""))
            except (IssuerError, subprocess.TimeoutExpired):
                log.exception("oidc issuer: could not sign a token")
                self._answer(500, {"error": "server_error"})
                return
            self._answer(
                200,
                {"access_token": token, "token_type": "Bearer", "expires_in": TOKEN_LIFETIME_S},
            )

    return Handler
