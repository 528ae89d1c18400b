"""An agent session on a server: ``prompt``, ``cancel``, ``close`` and its events."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any
from urllib.parse import quote

from pocketos.sessions.events import Event

__all__ = ["AsyncRemoteSession", "RemoteSession"]


def _event(d: dict[str, Any]) -> Event:
    return Event(
        int(d["seq"]),
        float(d.get("time", 0.0)),
        str(d.get("session_id", "")),
        str(d["kind"]),
        dict(d.get("data") or {}),
    )


def _prompt_result(d: dict[str, Any]) -> Any:
    from pocketos.sessions.session import PromptResult

    return PromptResult(
        stop_reason=d["stop_reason"],
        text=d.get("text", ""),
        prompt=int(d.get("prompt", 0)),
        usage=d.get("usage"),
        cost=d.get("cost"),
    )


class AsyncRemoteSession:
    def __init__(self, vm: Any, info: dict[str, Any]) -> None:
        self.vm = vm
        self._info = info
        self.id: str = info["id"]
        self._base = f"{vm._base}/sessions/{quote(self.id)}"

    @property
    def agent(self) -> str:
        return str(self._info.get("agent", ""))

    def info(self) -> dict[str, Any]:
        self._info = self.vm.conn.request("GET", self._base).json()
        return self._info

    async def prompt(self, content: str | Sequence[Any]) -> Any:
        """Send a prompt and wait for the turn to end (a PromptResult, without its events:
        follow them with :meth:`subscribe`)."""
        body = {"content": content if isinstance(content, str) else list(content), "wait": True}
        r = await self.vm.conn.arequest("POST", f"{self._base}/prompt", json=body)
        return _prompt_result(r.json())

    async def start_prompt(self, content: str | Sequence[Any]) -> int:
        """Send a prompt and return at once; the sequence number to follow events after."""
        body = {"content": content if isinstance(content, str) else list(content)}
        r = await self.vm.conn.arequest("POST", f"{self._base}/prompt", json=body)
        return int(r.json()["last_seq"])

    async def cancel(self) -> None:
        await self.vm.conn.arequest("POST", f"{self._base}/cancel")

    async def close(self) -> None:
        await self.vm.conn.arequest("DELETE", self._base)

    async def subscribe(self, *, since: int = 0) -> AsyncIterator[Event]:
        """Events with ``seq > since``: the backlog, then live ones until the session closes."""
        from websockets.asyncio.client import connect
        from websockets.exceptions import ConnectionClosedOK

        url = f"{self.vm.conn.ws_url}{self._base}/events/ws?after={int(since)}"
        async with connect(url, additional_headers=self.vm.conn.headers, max_size=None) as ws:
            while True:
                try:
                    raw = await ws.recv()
                except ConnectionClosedOK:
                    return
                yield _event(json.loads(raw))

    async def __aenter__(self) -> AsyncRemoteSession:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class RemoteSession:
    """The sync twin of :class:`AsyncRemoteSession`."""

    def __init__(self, inner: AsyncRemoteSession) -> None:
        self._inner = inner
        self.id = inner.id

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def _conn(self) -> Any:
        return self._inner.vm.conn

    def prompt(self, content: str | Sequence[Any]) -> Any:
        body = {"content": content if isinstance(content, str) else list(content), "wait": True}
        r = self._conn().request("POST", f"{self._inner._base}/prompt", json=body)
        return _prompt_result(r.json())

    def start_prompt(self, content: str | Sequence[Any]) -> int:
        body = {"content": content if isinstance(content, str) else list(content)}
        r = self._conn().request("POST", f"{self._inner._base}/prompt", json=body)
        return int(r.json()["last_seq"])

    def cancel(self) -> None:
        self._conn().request("POST", f"{self._inner._base}/cancel")

    def close(self) -> None:
        self._conn().request("DELETE", self._inner._base)

    def subscribe(self, *, since: int = 0) -> Iterator[Event]:
        from websockets.exceptions import ConnectionClosedOK
        from websockets.sync.client import connect

        url = f"{self._conn().ws_url}{self._inner._base}/events/ws?after={int(since)}"
        with connect(url, additional_headers=self._conn().headers, max_size=None) as ws:
            while True:
                try:
                    raw = ws.recv()
                except ConnectionClosedOK:
                    return
                yield _event(json.loads(raw))

    def __enter__(self) -> RemoteSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
