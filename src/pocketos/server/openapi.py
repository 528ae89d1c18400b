"""Routes that describe themselves, and the OpenAPI document built from them.

``api(path, endpoint, methods, summary, body=Model)`` makes a Starlette route and records what
``/openapi.json`` says about it; WebSocket routes are listed with an ``x-websocket`` mark.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import BaseModel
from starlette.routing import BaseRoute, Route, WebSocketRoute

__all__ = ["api", "ws", "openapi_document"]

_PARAM = re.compile(r"{([a-zA-Z_]+)(?::[a-z]+)?}")


def api(
    path: str,
    endpoint: Callable[..., Any],
    methods: Sequence[str],
    summary: str,
    *,
    body: type[BaseModel] | None = None,
    raw_body: str | None = None,
    query: dict[str, str] | None = None,
    produces: str = "application/json",
    status: int = 200,
) -> Route:
    route = Route(path, endpoint, methods=list(methods))
    route.openapi = {  # type: ignore[attr-defined]
        "summary": summary,
        "body": body,
        "raw_body": raw_body,
        "query": query or {},
        "produces": produces,
        "status": status,
    }
    return route


def ws(path: str, endpoint: Callable[..., Any], summary: str) -> WebSocketRoute:
    route = WebSocketRoute(path, endpoint)
    route.openapi = {"summary": summary, "websocket": True}  # type: ignore[attr-defined]
    return route


_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        }
    },
}


def openapi_document(routes: Sequence[BaseRoute], version: str) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = {"Error": _ERROR}
    for r in routes:
        meta = getattr(r, "openapi", None)
        if meta is None or not hasattr(r, "path"):
            continue
        path = _PARAM.sub(r"{\1}", r.path)
        params = [
            {"name": m, "in": "path", "required": True, "schema": {"type": "string"}}
            for m in _PARAM.findall(r.path)
        ]
        if meta.get("websocket"):
            paths.setdefault(path, {})["get"] = {
                "summary": meta["summary"],
                "x-websocket": True,
                "parameters": params,
                "responses": {"101": {"description": "switching protocols (WebSocket)"}},
            }
            continue
        for method in sorted(getattr(r, "methods", None) or ()):
            if method == "HEAD":
                continue
            op: dict[str, Any] = {
                "summary": meta["summary"],
                "parameters": params
                + [
                    {
                        "name": q,
                        "in": "query",
                        "required": False,
                        "description": d,
                        "schema": {"type": "string"},
                    }
                    for q, d in meta["query"].items()
                ],
                "responses": {
                    str(meta["status"]): {
                        "description": "success",
                        "content": {meta["produces"]: {"schema": {}}},
                    },
                    "default": {
                        "description": "an error",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                        },
                    },
                },
            }
            body = meta["body"]
            if body is not None:
                schema = body.model_json_schema(ref_template="#/components/schemas/{model}")
                for name, sub in schema.pop("$defs", {}).items():
                    schemas[name] = sub
                schemas[body.__name__] = schema
                op["requestBody"] = {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {"$ref": f"#/components/schemas/{body.__name__}"}
                        }
                    },
                }
            elif meta["raw_body"]:
                op["requestBody"] = {
                    "required": True,
                    "content": {
                        meta["raw_body"]: {"schema": {"type": "string", "format": "binary"}}
                    },
                }
            paths.setdefault(path, {})[method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "pocketos server",
            "version": version,
            "description": "VMs over HTTP and WebSocket (see docs/server.md).",
        },
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
        "paths": paths,
    }
