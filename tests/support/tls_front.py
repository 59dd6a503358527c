"""An HTTPS front for a plain-HTTP server on loopback: TLS (optionally requiring a client
certificate) terminated here, each request passed on as it came and the answer passed back.

The test registry has no TLS of its own; put this in front of it to test a client's trust and key
stores, and its host name check, against the real registry behind. Started and stopped by its
owner (a context manager); every wait is bounded.
"""

from __future__ import annotations

import http.server
import ssl
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

_PASSED_HEADERS = ("Authorization", "Content-Type", "Accept")


@contextmanager
def https_front(context: ssl.SSLContext, target: str) -> Iterator[str]:
    """Serve `target` (an http:// base URL) over TLS; yields the https:// URL with the same
    path."""
    parts = urlsplit(target)
    upstream = f"{parts.scheme}://{parts.netloc}"

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _pass(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            request = urllib.request.Request(upstream + self.path, data=body, method=self.command)
            for name in _PASSED_HEADERS:
                if self.headers.get(name):
                    request.add_header(name, self.headers[name])
            try:
                with urllib.request.urlopen(request, timeout=30) as answer:
                    status, data, kind = answer.status, answer.read(), answer.headers
            except urllib.error.HTTPError as e:
                status, data, kind = e.code, e.read(), e.headers
            self.send_response(status)
            self.send_header("Content-Type", kind.get("Content-Type", "application/json"))
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = _pass  # noqa: N815 - http.server's names

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}{parts.path}"
    finally:
        server.shutdown()
        thread.join(30)
        server.server_close()
