"""The web console: ``/`` serves the page, ``/console/...`` its assets (shipped in the package,
no CDN). The page talks to the API with the token the user gives it; nothing here needs one."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

__all__ = ["ASSETS", "routes"]

ASSETS = Path(__file__).with_name("console")

#: the page may only load what it ships with and talk to this server
_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data: blob:; "
        "style-src 'self' 'unsafe-inline'; script-src 'self'; frame-ancestors 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-cache",
}


async def page(request: Request) -> Response:
    return FileResponse(ASSETS / "index.html", media_type="text/html", headers=_HEADERS)


async def console_redirect(request: Request) -> Response:
    return RedirectResponse("/", status_code=308)


routes = [
    Route("/", page, methods=["GET"]),
    Route("/console", console_redirect, methods=["GET"]),
    Mount("/console", app=StaticFiles(directory=ASSETS), name="console"),
]
