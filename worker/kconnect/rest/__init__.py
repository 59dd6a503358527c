"""The Kafka Connect-compatible REST API (aiohttp), written against the `Herder` interface.

`build_app(herder)` gives the aiohttp application; `RestServer` owns its listening sockets and
lifecycle; `parse_listeners` reads the `listeners` worker setting. The API is described by
`openapi.json` beside this module, also served at `GET /openapi.json`.
"""

from kconnect.rest.app import build_app
from kconnect.rest.listeners import Listener, parse_listeners
from kconnect.rest.loggers import PythonLoggers
from kconnect.rest.server import RestServer

__all__ = ["Listener", "PythonLoggers", "RestServer", "build_app", "parse_listeners"]
