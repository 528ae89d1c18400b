"""``pocketos serve``: VMs over HTTP and WebSocket (see docs/server.md).

``create_app(config)`` builds the ASGI app; :func:`serve` runs it on uvicorn.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any, TextIO

from pocketos.server.app import ROUTE_MODULES, create_app
from pocketos.server.config import ConfigError, ServerConfig, Token, is_loopback

__all__ = [
    "ServerConfig",
    "Token",
    "ConfigError",
    "create_app",
    "serve",
    "check_bind",
    "ROUTE_MODULES",
]


def check_bind(config: ServerConfig) -> str | None:
    """Refuse to serve without tokens on anything but loopback; the note to print, if any."""
    if config.auth:
        return None
    if not is_loopback(config.host):
        raise ConfigError(
            f"no tokens are configured, so the server only listens on loopback, not "
            f"{config.host}: set $POCKETOS_SERVER_TOKENS or [[tokens]] in --config"
        )
    return (
        f"pocketos serve: no tokens configured; serving without authentication on "
        f"{config.host} only"
    )


def serve(config: ServerConfig, *, log: TextIO | None = None) -> None:
    """Run the server until it is stopped (SIGINT/SIGTERM)."""
    import uvicorn

    out = log or sys.stderr
    note = check_bind(config)
    if note:
        print(note, file=out, flush=True)
    app = create_app(config)
    uv = uvicorn.Config(
        app,
        host=config.host,
        port=config.port,
        log_level="warning",
        ws_max_size=max(config.max_request_bytes, 1 << 20),
        lifespan="on",
    )
    server = uvicorn.Server(uv)

    async def main() -> None:
        async with asyncio.TaskGroup() as tg:
            task = tg.create_task(server.serve())
            while not server.started and not task.done():
                await asyncio.sleep(0.01)
            if server.started:
                # said once the socket accepts connections, so a reader may connect at once;
                # the port is the bound one (with --port 0 the kernel picked it)
                port = _bound_port(server) or config.port
                print(
                    f"pocketos serve: listening on http://{config.host}:{port}"
                    + (f" (store {config.store})" if config.store else ""),
                    file=out,
                    flush=True,
                )

    asyncio.run(main())


def _bound_port(server: Any) -> int | None:
    """The port uvicorn's first listening socket is bound to."""
    for srv in getattr(server, "servers", None) or []:
        for sock in srv.sockets:
            return int(sock.getsockname()[1])
    return None
