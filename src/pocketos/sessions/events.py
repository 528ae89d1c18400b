"""Sequenced session events: every ``session/update`` from the agent and every event of our
own (prompt started/ended, permission asked/answered, file access, terminal output, errors)
gets the next sequence number of its session. Subscribers receive events in order; a late
subscriber receives the backlog first."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Event", "EventLog", "EVENT_KINDS"]

#: every kind of event a session emits (``update`` carries the agent's session/update)
EVENT_KINDS = (
    "session.started",
    "session.resumed",
    "session.closed",
    "session.error",
    "prompt.started",
    "prompt.ended",
    "update",
    "permission.asked",
    "permission.answered",
    "fs.read",
    "fs.write",
    "terminal.created",
    "terminal.output",
    "terminal.exited",
    "terminal.released",
    "python.run",
    "usage",
)


@dataclass(slots=True)
class Event:
    seq: int
    time: float
    session_id: str
    kind: str
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def update_type(self) -> str | None:
        """For ``update`` events, the ACP ``sessionUpdate`` discriminator."""
        if self.kind != "update":
            return None
        t = self.data.get("sessionUpdate")
        return str(t) if t is not None else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "time": self.time,
            "session_id": self.session_id,
            "kind": self.kind,
            "data": self.data,
        }


_CLOSE = object()


class EventLog:
    """The ordered events of one session, kept in memory (bounded) and fanned out."""

    def __init__(
        self,
        session_id: str,
        *,
        start_seq: int = 0,
        maxlen: int = 100_000,
        persist: Callable[[Event], None] | None = None,
    ) -> None:
        self.session_id = session_id
        self.seq = start_seq
        self.events: list[Event] = []
        self.maxlen = maxlen
        self._queues: list[asyncio.Queue[Any]] = []
        self._callbacks: list[Callable[[Event], Any]] = []
        self._persist = persist
        self.closed = False

    def emit(self, kind: str, data: dict[str, Any] | None = None) -> Event:
        self.seq += 1
        ev = Event(self.seq, time.time(), self.session_id, kind, {} if data is None else dict(data))
        events = self.events
        events.append(ev)
        if len(events) > self.maxlen:
            # trim in blocks, so a full log does not shift the list on every event
            del events[: len(events) - self.maxlen + self.maxlen // 10]
        if self._persist is not None:
            try:
                self._persist(ev)
            except Exception:  # a failing store never stops the session
                pass
        if self._queues:
            for q in self._queues:
                q.put_nowait(ev)
        if self._callbacks:
            for cb in list(self._callbacks):
                try:
                    cb(ev)
                except Exception:
                    pass
        return ev

    def since(self, after: int, until: int | None = None) -> list[Event]:
        """The kept events with ``after < seq <= until`` in order (found from the end, so a
        recent range costs only its own length)."""
        evs = self.events
        i = len(evs)
        while i > 0 and evs[i - 1].seq > after:
            i -= 1
        out = evs[i:]
        if until is not None:
            while out and out[-1].seq > until:
                out.pop()
        return out

    def on_event(
        self, callback: Callable[[Event], Any], *, backlog: bool = True
    ) -> Callable[[], None]:
        """Call ``callback(event)`` for every event (the backlog first); returns an
        unsubscribe function."""
        if backlog:
            for ev in list(self.events):
                callback(ev)
        self._callbacks.append(callback)

        def unsubscribe() -> None:
            if callback in self._callbacks:
                self._callbacks.remove(callback)

        return unsubscribe

    async def subscribe(self, *, since: int = 0, backlog: bool = True) -> AsyncIterator[Event]:
        """Events with ``seq > since``: the backlog, then live ones until the session ends."""
        q: asyncio.Queue[Any] = asyncio.Queue()
        if backlog:
            for ev in self.events:
                if ev.seq > since:
                    q.put_nowait(ev)
        if self.closed:
            q.put_nowait(_CLOSE)
        else:
            self._queues.append(q)
        try:
            while True:
                item = await q.get()
                if item is _CLOSE:
                    return
                yield item
        finally:
            if q in self._queues:
                self._queues.remove(q)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for q in self._queues:
            q.put_nowait(_CLOSE)
        self._queues.clear()
