"""Bearer-token authentication, and who owns what.

Every path under ``/v1/`` (except ``/v1/health``) needs ``Authorization: Bearer TOKEN`` when the
server has tokens; a WebSocket may instead pass ``?token=TOKEN`` (browsers cannot set headers
on a WebSocket). Each token is a :class:`Principal`: it sees only the VMs it created, and an
admin token sees all. Without tokens every caller is the local admin, and the server only
listens on loopback.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from pocketos.server.config import ServerConfig
from pocketos.server.errors import error_body
from pocketos.server.limits import RateLimiter

__all__ = ["Principal", "AuthMiddleware", "principal_of", "LOCAL"]

PUBLIC = ("/v1/health",)


@dataclass(frozen=True)
class Principal:
    name: str
    admin: bool = False


#: the caller when the server has no tokens (loopback only)
LOCAL = Principal("local", admin=True)


def principal_of(conn: HTTPConnection) -> Principal:
    p = conn.scope.get("pocketos.principal")
    return p if isinstance(p, Principal) else LOCAL


def _presented(scope: Scope) -> str | None:
    for key, value in scope.get("headers", []):
        if key == b"authorization":
            text = value.decode("latin-1")
            scheme, _, cred = text.partition(" ")
            if scheme.lower() == "bearer" and cred.strip():
                return cred.strip()
            return ""
    if scope["type"] == "websocket":
        qs = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        if qs.get("token"):
            return qs["token"][0]
    return None


class AuthMiddleware:
    """Authenticates ``/v1/`` requests and applies the per-token rate limit."""

    def __init__(self, app: ASGIApp, config: ServerConfig) -> None:
        self.app = app
        self.config = config
        self.limiter = RateLimiter(config.rate_limit)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        if not path.startswith("/v1/") or path in PUBLIC:
            await self.app(scope, receive, send)
            return
        principal = LOCAL
        if self.config.auth:
            given = _presented(scope)
            if not given:
                await _deny(
                    scope,
                    receive,
                    send,
                    401,
                    "unauthorized",
                    "a bearer token is needed (Authorization: Bearer TOKEN)",
                )
                return
            tok = self.config.find_token(given)
            if tok is None:
                await _deny(scope, receive, send, 401, "invalid_token", "the token is not valid")
                return
            principal = Principal(tok.name, tok.admin)
        wait = self.limiter.take(principal.name)
        if wait > 0:
            secs = str(max(1, math.ceil(wait)))
            msg = f"too many requests for {principal.name}; retry after {secs} s"
            await _deny(scope, receive, send, 429, "rate_limited", msg, {"retry-after": secs})
            return
        scope["pocketos.principal"] = principal
        await self.app(scope, receive, send)


async def _deny(
    scope: Scope,
    receive: Receive,
    send: Send,
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
) -> None:
    import json

    body = json.dumps(error_body(code, message)).encode()
    hdrs: list[tuple[bytes, bytes]] = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    if status == 401:
        hdrs.append((b"www-authenticate", b'Bearer realm="pocketos"'))
    for k, v in (headers or {}).items():
        hdrs.append((k.encode(), v.encode()))
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": status, "headers": hdrs})
        await send({"type": "http.response.body", "body": body})
        return
    # a WebSocket: answer the handshake with the HTTP error when the server can, else close
    msg: Any = await receive()
    if msg.get("type") != "websocket.connect":
        return
    if "websocket.http.response" in scope.get("extensions", {}):
        await send({"type": "websocket.http.response.start", "status": status, "headers": hdrs})
        await send({"type": "websocket.http.response.body", "body": body})
    else:
        await send({"type": "websocket.close", "code": 1008, "reason": code})
