"""Request limits: a cap on body size, and a token bucket per caller."""

from __future__ import annotations

import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pocketos.server.errors import ApiError, error_body

__all__ = ["RateLimiter", "BodyLimitMiddleware"]


class RateLimiter:
    """``rate`` requests per second per key, in bursts of up to ``2 * rate`` (0: no limit)."""

    def __init__(self, rate: float, *, clock: Any = time.monotonic) -> None:
        self.rate = float(rate)
        self.burst = max(1.0, 2.0 * self.rate)
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, key: str) -> float:
        """Take one request for ``key``: 0 when allowed, else the seconds until it would be."""
        if self.rate <= 0:
            return 0.0
        now = self.clock()
        level, last = self._buckets.get(key, (self.burst, now))
        level = min(self.burst, level + (now - last) * self.rate)
        if level >= 1.0:
            self._buckets[key] = (level - 1.0, now)
            return 0.0
        self._buckets[key] = (level, now)
        return (1.0 - level) / self.rate


class BodyLimitMiddleware:
    """Refuses a request body over ``max_bytes`` with 413, whether or not it says its size."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.max_bytes <= 0:
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes
        for key, value in scope.get("headers", []):
            if key == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared > limit:
                    if declared <= _drain_cap(limit):
                        # read what the client is sending before answering: closing a socket
                        # with unread data resets it, and the client may never see the 413
                        await _drain(receive, _drain_cap(limit))
                    await _too_large(send, limit)
                    return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > limit:
                    if msg.get("more_body", False):
                        await _drain(receive, _drain_cap(limit))
                    raise ApiError(413, "request_too_large", _too_large_text(limit))
            return msg

        await self.app(scope, counted, send)


def _drain_cap(limit: int) -> int:
    """How much of a refused body is read and thrown away so that the client gets the 413."""
    return max(4 * limit, 1 << 20)


async def _drain(receive: Receive, cap: int) -> None:
    seen = 0
    while seen <= cap:
        msg = await receive()
        if msg["type"] != "http.request":
            return
        seen += len(msg.get("body", b""))
        if not msg.get("more_body", False):
            return


def _too_large_text(limit: int) -> str:
    return f"the request body is larger than the server's limit of {limit} bytes"


async def _too_large(send: Send, limit: int) -> None:
    import json

    body = json.dumps(error_body("request_too_large", _too_large_text(limit))).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
