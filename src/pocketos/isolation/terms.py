"""The worker's side of terminals on a process-isolated VM (``vm.open_shell()``).

Each terminal runs in the worker as an ordinary :class:`~pocketos.terminal.Terminal`; the host
is its owner client. While any terminal is open the worker keeps its event loop running between
requests, and a forwarding task sends the terminal's output to the host as it is produced, in
unsolicited ``{"term": id, "data": bytes, ...}`` frames; the last frame carries ``"exit"``.

Flow control: the worker sends at most :data:`WINDOW` bytes the host has not acknowledged
(``term_ack``). Beyond that the forwarder stops reading the terminal, whose owner client then
fills up to the terminal's high-water mark and makes the shell's commands wait, as a pty does
when nobody reads it. A host that never reads therefore costs a bounded amount of memory on
both sides.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Callable
from typing import Any

__all__ = ["WINDOW", "CHUNK", "WorkerTerminals"]

#: output bytes in flight to the host without an acknowledgement, at most
WINDOW = 256 * 1024
#: output bytes in one frame, at most
CHUNK = 64 * 1024


class _Entry:
    def __init__(self, term: Any, handle: str) -> None:
        self.term = term
        self.handle = handle
        self.sent = 0
        self.acked = 0
        self.credit = asyncio.Event()
        #: being closed: what is left is sent as far as the window allows, not waited for
        self.closing = False
        self.task: asyncio.Task[None] | None = None


class WorkerTerminals:
    """The terminals open in one worker, for all of its VMs."""

    def __init__(self, send: Callable[[dict[str, Any]], None]) -> None:
        self.send = send
        self.items: dict[int, _Entry] = {}
        self._ids = itertools.count(1)

    def __bool__(self) -> bool:
        return bool(self.items)

    def _get(self, tid: Any, handle: str) -> _Entry:
        e = self.items.get(tid) if type(tid) is int else None
        if e is None or e.handle != handle:
            raise LookupError(f"no terminal {tid!r} in this VM")
        return e

    async def open(self, vm: Any, handle: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        cols, rows = kwargs.get("cols", 80), kwargs.get("rows", 24)
        opts: dict[str, Any] = {}
        for key in ("env", "cwd", "timeout"):
            if kwargs.get(key) is not None:
                opts[key] = kwargs[key]
        term = vm.open_shell(cols, rows, **opts)
        tid = next(self._ids)
        e = _Entry(term, handle)
        self.items[tid] = e
        e.task = asyncio.ensure_future(self._forward(tid, e))
        return {"tid": tid, "name": term.name}

    async def _forward(self, tid: int, e: _Entry) -> None:
        term = e.term
        status: int | None = None
        try:
            while True:
                while e.sent - e.acked >= WINDOW and not e.closing:
                    e.credit.clear()
                    await e.credit.wait()
                room = WINDOW - (e.sent - e.acked)
                if room <= 0:
                    break  # closed while the host is not reading: the rest is dropped
                data = await term.owner.read(min(CHUNK, room))
                if not data:
                    break
                e.sent += len(data)
                self.send(self._frame(tid, e, data=data))
            status = await term.wait()
        finally:
            self.items.pop(tid, None)
            if status is None:
                status = await term.close()
            self.send(self._frame(tid, e, exit=status))

    @staticmethod
    def _frame(tid: int, e: _Entry, **extra: Any) -> dict[str, Any]:
        t = e.term
        return {"term": tid, "cols": t.cols, "rows": t.rows, "running": t.running, **extra}

    async def write(self, tid: Any, handle: str, data: Any) -> None:
        e = self._get(tid, handle)
        await e.term.write(data if isinstance(data, bytes) else b"")

    def resize(self, tid: Any, handle: str, cols: Any, rows: Any) -> None:
        self._get(tid, handle).term.resize(cols, rows)

    def ack(self, tid: Any, handle: str, n: Any) -> None:
        e = self.items.get(tid) if type(tid) is int else None
        if e is None or e.handle != handle or type(n) is not int or n < 0:
            return
        e.acked = min(e.sent, e.acked + n)
        e.credit.set()

    async def close(self, tid: Any, handle: str) -> int:
        e = self._get(tid, handle)
        code = int(await e.term.close())
        e.closing = True
        e.credit.set()
        if e.task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await e.task
        return code

    async def close_vm(self, handle: str) -> None:
        for tid, e in list(self.items.items()):
            if e.handle == handle:
                with contextlib.suppress(Exception):
                    await self.close(tid, handle)
