"""The ASGI app: ``create_app(config) -> Starlette``.

:data:`ROUTE_MODULES` is the registry of endpoint modules: each has a ``routes`` list, mounted
in this order. Adding a module to the server is one line here.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from pocketos import __version__
from pocketos.server.auth import AuthMiddleware
from pocketos.server.config import ServerConfig
from pocketos.server.errors import EXCEPTION_HANDLERS
from pocketos.server.limits import BodyLimitMiddleware
from pocketos.server.openapi import openapi_document
from pocketos.server.state import ServerState

__all__ = ["create_app", "ROUTE_MODULES"]

ROUTE_MODULES = [
    "pocketos.server.vms",
    "pocketos.server.exec",
    "pocketos.server.files",
    "pocketos.server.snapshots",
    "pocketos.server.sessions",
    "pocketos.server.audit",
    "pocketos.server.terminals",
    "pocketos.server.handles",
    "pocketos.server.tools",
    "pocketos.server.webconsole",
]


def _routes() -> list[BaseRoute]:
    out: list[BaseRoute] = []
    for name in ROUTE_MODULES:
        out.extend(importlib.import_module(name).routes)
    return out


def create_app(config: ServerConfig | None = None) -> Starlette:
    """The server's app for ``config`` (default: :class:`ServerConfig()`)."""
    cfg = config or ServerConfig()
    routes = _routes()
    document = openapi_document(routes, __version__)

    async def openapi(request: Request) -> Response:
        return JSONResponse(document)

    routes.append(Route("/openapi.json", openapi, methods=["GET"]))
    state = ServerState(cfg)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with asyncio.TaskGroup() as tg:
            state.group = tg
            reaper = tg.create_task(state.registry.run_reaper(), name="pocketos-idle-reaper")
            try:
                yield
            finally:
                reaper.cancel()
                await state.stop()
                state.group = None

    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(AuthMiddleware, config=cfg),
            Middleware(BodyLimitMiddleware, max_bytes=cfg.max_request_bytes),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    app.state.pocketos = state
    return app
