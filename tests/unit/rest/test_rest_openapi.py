"""The OpenAPI document describes exactly the routes the app serves."""

from __future__ import annotations

import json
import re
from typing import Any

from kconnect.rest import build_app
from kconnect.rest.app import openapi_document
from tests.unit.rest.rest_support import FakeHerder, call

HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


def _document() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(openapi_document())
    return doc


def _app_routes() -> set[tuple[str, str]]:
    routes = set()
    for route in build_app(FakeHerder()).router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if path != "/" and path.endswith("/"):
            # Every path also answers with a trailing slash; the document lists it once.
            path = path[:-1]
        routes.add((route.method.upper(), path))
    return routes


def _documented_routes() -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, item in _document()["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }


def test_every_route_is_documented_and_every_documented_route_served() -> None:
    app_routes = _app_routes()
    documented = _documented_routes()
    assert app_routes - documented == set(), "served but not documented"
    assert documented - app_routes == set(), "documented but not served"
    assert len(app_routes) == 31


def test_every_path_with_a_slash_is_also_served() -> None:
    canonical = {
        route.resource.canonical
        for route in build_app(FakeHerder()).router.routes()
        if route.resource is not None
    }
    for _, path in _documented_routes():
        if path != "/":
            assert path + "/" in canonical


def test_every_path_parameter_is_declared_and_every_ref_resolves() -> None:
    doc = _document()
    assert doc["openapi"].startswith("3.0.")
    schemas = doc["components"]["schemas"]
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert declared == set(re.findall(r"{(\w+)}", path)), (method, path)
            assert operation["responses"], (method, path)
    refs = re.findall(r'"\$ref": "#/components/schemas/(\w+)"', json.dumps(doc))
    assert refs
    assert set(refs) <= set(schemas)


def test_document_is_served() -> None:
    reply = call(FakeHerder(), "GET", "/openapi.json")
    assert reply.status == 200
    assert reply.headers["Content-Type"].startswith("application/json")
    assert reply.body == _document()
