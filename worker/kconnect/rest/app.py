"""The REST API of Apache Kafka Connect 4.x, as an aiohttp application over a `Herder`.

Paths, methods, query parameters, bodies and status codes are Kafka Connect's, so existing
clients and UIs work unchanged. Handlers are thin: they decode the request (`bodies`), await the
herder's coroutine (or call its plain method for server info, health and plugins) and render the
herder's model with `to_json()`. They keep no state besides the log-level registry, and do
nothing per request beyond that decoding, one herder call and the rendering, because tools poll
`/connectors/{c}/status`. `/metrics`, which Kafka Connect lacks, renders a `kconnect.prometheus`
registry that reads the running worker when it is scraped.

Every failure leaves as Kafka's `{"error_code": N, "message": "..."}` with status N:

- a `HerderError` carries its own status (400, 404, 409, 503, ...);
- a body that is not JSON, or not of the expected shape, is a 400 naming the field at fault;
- an unknown path is a 404 and a known path with the wrong method a 405 (with `Allow`);
- anything else is a 500 with the exception's message, logged with its traceback.

Like Jersey, every path also answers with a trailing slash (`GET /connectors/`). Path segments
are percent-decoded, so a connector named `a/b c` is `/connectors/a%2Fb%20c`.

A request body must be sent as `application/json` (any parameters, such as a charset, are
allowed); another Content-Type, or none, is a 415, as in Kafka Connect.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
import logging
from collections.abc import Awaitable, Callable
from urllib.parse import quote

from aiohttp import web

from kconnect.api.types import ConnectorName, JsonValue, TaskId, TaskNumber
from kconnect.herder.base import Herder
from kconnect.herder.errors import HerderError, NotFoundError
from kconnect.prometheus import CONTENT_TYPE, Registry
from kconnect.rest import bodies
from kconnect.rest.loggers import PythonLoggers, parse_level
from kconnect.storage.states import TargetState

log = logging.getLogger(__name__)

HERDER_KEY = web.AppKey("herder", Herder)
LOGGERS_KEY = web.AppKey("loggers", PythonLoggers)
METRICS_KEY = web.AppKey("metrics", Registry)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

HEALTHY_MESSAGE = "Worker has completed startup and is ready to handle requests."
STARTING_MESSAGE = "Worker is still starting up."


# --- responses


def json_response(
    data: JsonValue, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """A JSON body as Jackson writes it: compact, UTF-8."""
    return web.Response(
        text=json.dumps(data, separators=(",", ":"), ensure_ascii=False),
        status=status,
        content_type="application/json",
        headers=headers,
    )


def error_response(
    status: int, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    return json_response({"error_code": status, "message": message}, status, headers)


def _no_content() -> web.Response:
    return web.Response(status=204)


def _accepted() -> web.Response:
    return web.Response(status=202)


@functools.cache
def openapi_document() -> bytes:
    """The OpenAPI document shipped beside this module."""
    return importlib.resources.files("kconnect.rest").joinpath("openapi.json").read_bytes()


# --- the error mapping


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every failure into Kafka Connect's error body (its `ConnectExceptionMapper`)."""
    try:
        return await handler(request)
    except HerderError as exc:
        log.debug("REST %s %s failed: %s", request.method, request.path, exc.message)
        return error_response(exc.status, exc.message)
    except web.HTTPMethodNotAllowed as exc:
        allowed = ", ".join(sorted(exc.allowed_methods))
        return error_response(
            exc.status,
            f"HTTP 405 Method Not Allowed: {request.method} is not allowed on {request.path}; "
            f"allowed: {allowed}",
            {"Allow": allowed},
        )
    except web.HTTPNotFound as exc:
        return error_response(
            exc.status, f"HTTP 404 Not Found: no endpoint {request.method} {request.path}"
        )
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error_response(exc.status, f"HTTP {exc.status} {exc.reason}: {exc.text or ''}")
    except Exception as exc:
        log.exception("Uncaught exception in REST call %s %s", request.method, request.path)
        return error_response(500, str(exc) or type(exc).__name__)


# --- request helpers


def _herder(request: web.Request) -> Herder:
    return request.app[HERDER_KEY]


def _connector(request: web.Request) -> ConnectorName:
    return ConnectorName(request.match_info["connector"])


def _task(request: web.Request) -> TaskId:
    # The route only matches an integer, as JAX-RS answers 404 for a task id that isn't one.
    return TaskId(_connector(request), TaskNumber(int(request.match_info["task"])))


def _flag(request: web.Request, name: str, default: bool) -> bool:
    """A boolean query parameter read as Java's `Boolean.valueOf`: only "true" is true."""
    value = request.query.get(name)
    if value is None:
        return default
    return value.strip().lower() == "true"


async def _body(request: web.Request) -> JsonValue:
    if not bodies.is_json_media_type(request.headers.get("Content-Type", "")):
        # Jersey's answer to a resource that consumes only application/json.
        raise HerderError("HTTP 415 Unsupported Media Type", 415)
    return bodies.parse_json(await request.read())


def _location(request: web.Request, name: str) -> str:
    return f"{request.url.origin()}/connectors/{quote(name, safe='')}"


# --- root


async def server_info(request: web.Request) -> web.Response:
    return json_response(_herder(request).server_info().to_json())


async def health(request: web.Request) -> web.Response:
    """Kafka Connect's messages; the herder's own message details a worker still starting."""
    ready, message = _herder(request).health()
    if ready:
        return json_response({"status": "healthy", "message": HEALTHY_MESSAGE})
    text = STARTING_MESSAGE if not message else f"{STARTING_MESSAGE} {message}"
    return json_response({"status": "starting", "message": text}, 503)


async def openapi(request: web.Request) -> web.Response:
    return web.Response(body=openapi_document(), content_type="application/json")


async def prometheus_metrics(request: web.Request) -> web.Response:
    """Not Kafka Connect's (it has JMX): the worker's metrics in Prometheus' text format 0.0.4,
    read from the running worker now."""
    body = request.app[METRICS_KEY].render().encode()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})


# --- connectors


async def list_connectors(request: web.Request) -> web.Response:
    herder = _herder(request)
    names = await herder.connectors()
    if "expand" not in request.query:
        return json_response(list(names))
    expansions = request.query.getall("expand")
    out: dict[str, JsonValue] = {}
    for name in names:
        try:
            expanded: dict[str, JsonValue] = {}
            for expansion in expansions:
                if expansion == "status":
                    expanded["status"] = (await herder.connector_status(name)).to_json()
                elif expansion == "info":
                    expanded["info"] = (await herder.connector_info(name)).to_json()
                else:
                    log.info("Ignoring unknown expansion type %s", expansion)
            out[name] = expanded
        except NotFoundError:
            # Deleted while the list was being expanded: leave it out, as Kafka Connect does.
            log.debug("Unable to get connector info for %s on this worker", name)
    return json_response(out)


async def create_connector(request: web.Request) -> web.Response:
    create = bodies.parse_create_request(await _body(request))
    _, info = await _herder(request).put_connector_config(
        create.name, create.config, allow_replace=False, initial_state=create.initial_state
    )
    return json_response(info.to_json(), 201, {"Location": _location(request, create.name)})


async def get_connector(request: web.Request) -> web.Response:
    return json_response((await _herder(request).connector_info(_connector(request))).to_json())


async def delete_connector(request: web.Request) -> web.Response:
    await _herder(request).delete_connector(_connector(request))
    return _no_content()


async def get_connector_config(request: web.Request) -> web.Response:
    config = await _herder(request).connector_config(_connector(request))
    return json_response(dict(config))


async def put_connector_config(request: web.Request) -> web.Response:
    name = _connector(request)
    config = bodies.config_map(await _body(request), "Connector config")
    config = bodies.check_and_put_name(name, config, "URL")
    created, info = await _herder(request).put_connector_config(name, config, allow_replace=True)
    if created:
        return json_response(info.to_json(), 201, {"Location": _location(request, name)})
    return json_response(info.to_json())


async def patch_connector_config(request: web.Request) -> web.Response:
    patch = bodies.config_patch(await _body(request), "Connector config patch")
    info = await _herder(request).patch_connector_config(_connector(request), patch)
    return json_response(info.to_json())


async def connector_status(request: web.Request) -> web.Response:
    status = await _herder(request).connector_status(_connector(request))
    return json_response(status.to_json())


async def restart_connector(request: web.Request) -> web.Response:
    status = await _herder(request).restart_connector(
        _connector(request),
        include_tasks=_flag(request, "includeTasks", False),
        only_failed=_flag(request, "onlyFailed", False),
    )
    if status is None:
        return _no_content()
    return json_response(status.to_json(), 202)


async def pause_connector(request: web.Request) -> web.Response:
    await _herder(request).set_target_state(_connector(request), TargetState.PAUSED)
    return _accepted()


async def resume_connector(request: web.Request) -> web.Response:
    await _herder(request).set_target_state(_connector(request), TargetState.STARTED)
    return _accepted()


async def stop_connector(request: web.Request) -> web.Response:
    await _herder(request).set_target_state(_connector(request), TargetState.STOPPED)
    return _no_content()


async def task_configs(request: web.Request) -> web.Response:
    tasks = await _herder(request).task_configs(_connector(request))
    return json_response([t.to_json() for t in tasks])


async def task_status(request: web.Request) -> web.Response:
    return json_response((await _herder(request).task_status(_task(request))).to_json())


async def restart_task(request: web.Request) -> web.Response:
    await _herder(request).restart_task(_task(request))
    return _no_content()


async def fence_zombies(request: web.Request) -> web.Response:
    """Kafka Connect's internal endpoint (InternalConnectResource). kconnect's workers sign no
    requests to each other, so it is answered as a Java worker with `connect.protocol=compatible`
    answers it: 204 once the fencing is recorded."""
    await _herder(request).fence_zombies(_connector(request))
    return _no_content()


async def connector_topics(request: web.Request) -> web.Response:
    name = _connector(request)
    topics = await _herder(request).connector_topics(name)
    return json_response({name: {"topics": list(topics)}})


async def reset_connector_topics(request: web.Request) -> web.Response:
    await _herder(request).reset_connector_topics(_connector(request))
    return _accepted()


async def connector_offsets(request: web.Request) -> web.Response:
    offsets = await _herder(request).connector_offsets(_connector(request))
    return json_response(offsets.to_json())


async def alter_connector_offsets(request: web.Request) -> web.Response:
    offsets = bodies.parse_offsets(await _body(request))
    message = await _herder(request).alter_connector_offsets(_connector(request), offsets)
    return json_response({"message": message})


async def reset_connector_offsets(request: web.Request) -> web.Response:
    message = await _herder(request).reset_connector_offsets(_connector(request))
    return json_response({"message": message})


# --- plugins


async def list_plugins(request: web.Request) -> web.Response:
    plugins = _herder(request).connector_plugins(_flag(request, "connectorsOnly", True))
    return json_response([p.to_json() for p in plugins])


async def plugin_config(request: web.Request) -> web.Response:
    keys = _herder(request).plugin_config(
        request.match_info["plugin"], request.query.get("version")
    )
    return json_response([k.to_json() for k in keys])


async def validate_config(request: web.Request) -> web.Response:
    plugin = request.match_info["plugin"]
    config = bodies.config_to_validate(await _body(request), "Connector config")
    config = bodies.check_plugin(plugin, config)
    infos = await _herder(request).validate_connector_config(config, plugin)
    return json_response(infos.to_json())


# --- loggers


async def list_loggers(request: web.Request) -> web.Response:
    return json_response(request.app[LOGGERS_KEY].all_levels())


async def get_logger(request: web.Request) -> web.Response:
    name = request.match_info["logger"]
    level = request.app[LOGGERS_KEY].level(name)
    if level is None:
        raise NotFoundError(f"Logger {name} not found.")
    return json_response(level)


async def set_logger_level(request: web.Request) -> web.Response:
    """Kafka's `scope=worker` (the default, and what an unknown scope falls back to) answers
    with the loggers changed; `scope=cluster` answers 204. Both act on this worker only: the
    herder has no cluster-wide log level to forward to."""
    namespace = request.match_info["logger"]
    text = bodies.parse_level_request(await _body(request))
    level = parse_level(text)
    if level is None:
        # Kafka Connect answers 404 (not 400) for a level it doesn't know.
        raise NotFoundError(f"invalid log level '{text}'.")
    scope = request.query.get("scope", "worker").lower()
    if scope not in ("worker", "cluster"):
        log.warning(
            "Received invalid scope '%s' in request to adjust logging level; "
            "will default to worker",
            scope,
        )
    changed = request.app[LOGGERS_KEY].set_level(namespace, level)
    log.info("Set level of logger %s and its children to %s", namespace, text.upper())
    if scope == "cluster":
        return _no_content()
    return json_response(list(changed))


# --- the application

ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/", server_info),
    ("GET", "/health", health),
    ("GET", "/openapi.json", openapi),
    ("GET", "/metrics", prometheus_metrics),
    ("GET", "/connectors", list_connectors),
    ("POST", "/connectors", create_connector),
    ("GET", "/connectors/{connector}", get_connector),
    ("DELETE", "/connectors/{connector}", delete_connector),
    ("GET", "/connectors/{connector}/config", get_connector_config),
    ("PUT", "/connectors/{connector}/config", put_connector_config),
    ("PATCH", "/connectors/{connector}/config", patch_connector_config),
    ("GET", "/connectors/{connector}/status", connector_status),
    ("POST", "/connectors/{connector}/restart", restart_connector),
    ("PUT", "/connectors/{connector}/pause", pause_connector),
    ("PUT", "/connectors/{connector}/resume", resume_connector),
    ("PUT", "/connectors/{connector}/stop", stop_connector),
    ("GET", "/connectors/{connector}/tasks", task_configs),
    ("GET", "/connectors/{connector}/tasks/{task}/status", task_status),
    ("POST", "/connectors/{connector}/tasks/{task}/restart", restart_task),
    ("PUT", "/connectors/{connector}/fence", fence_zombies),
    ("GET", "/connectors/{connector}/topics", connector_topics),
    ("PUT", "/connectors/{connector}/topics/reset", reset_connector_topics),
    ("GET", "/connectors/{connector}/offsets", connector_offsets),
    ("PATCH", "/connectors/{connector}/offsets", alter_connector_offsets),
    ("DELETE", "/connectors/{connector}/offsets", reset_connector_offsets),
    ("GET", "/connector-plugins", list_plugins),
    ("GET", "/connector-plugins/{plugin}/config", plugin_config),
    ("PUT", "/connector-plugins/{plugin}/config/validate", validate_config),
    ("GET", "/admin/loggers", list_loggers),
    ("GET", "/admin/loggers/{logger}", get_logger),
    ("PUT", "/admin/loggers/{logger}", set_logger_level),
]
"""Every endpoint, as (method, path template as the OpenAPI document spells it, handler)."""

# Path parameters with another pattern than aiohttp's default `[^{}/]+`: a connector's or a
# logger's name may hold `{` and `}` (Kafka Connect allows them), a task id is an integer.
_PATTERNS = {
    "{connector}": "{connector:[^/]+}",
    "{logger}": "{logger:[^/]+}",
    "{plugin}": "{plugin:[^/]+}",
    "{task}": "{task:-?[0-9]+}",
}


def _aiohttp_path(template: str) -> str:
    for name, pattern in _PATTERNS.items():
        template = template.replace(name, pattern)
    return template


def _add_routes(app: web.Application, routes: list[tuple[str, str, Handler]]) -> None:
    for method, template, handler in routes:
        path = _aiohttp_path(template)
        app.router.add_route(method, path, handler)
        if path != "/":
            app.router.add_route(method, path + "/", handler)


def build_app(
    herder: Herder,
    *,
    loggers: PythonLoggers | None = None,
    metrics: Registry | None = None,
) -> web.Application:
    """The Kafka Connect REST API over `herder`. `loggers` backs `/admin/loggers` (one per
    worker, so `last_modified` survives across requests); `metrics` is what `/metrics` renders
    (without one, it answers an empty exposition)."""
    app = web.Application(middlewares=[error_middleware])
    app[HERDER_KEY] = herder
    app[LOGGERS_KEY] = loggers if loggers is not None else PythonLoggers()
    app[METRICS_KEY] = metrics if metrics is not None else Registry()
    _add_routes(app, ROUTES)
    return app


def build_metrics_app(metrics: Registry) -> web.Application:
    """`GET /metrics` alone, for a listener of its own (`metrics.listener`); every other path
    is a 404 in Kafka Connect's error shape."""
    app = web.Application(middlewares=[error_middleware])
    app[METRICS_KEY] = metrics
    _add_routes(app, [("GET", "/metrics", prometheus_metrics)])
    return app
