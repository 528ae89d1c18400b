"""The people and programs attached to a terminal: each client sees every byte the terminal
shows from the moment it attaches (after a replay of recent output), at its own pace; only a
writer's keys reach the shell."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pocketos.terminal.terminal import Terminal

__all__ = ["ROLES", "TerminalClient"]

ROLES = ("viewer", "writer")

#: output a client may have unread before it is detached (a viewer) or the terminal waits for
#: it (a writer: the terminal's output then has the flow control of a real pty)
HIGH_WATER = 1024 * 1024


class TerminalClient:
    """One attachment to a :class:`Terminal`.

    ``read()`` returns the next output (``b""`` once the terminal has ended and everything was
    read, or the client was detached); ``write()`` sends keys (writers only); ``resize()``
    changes the window (writers only); ``detach()`` leaves.
    """

    def __init__(self, terminal: Terminal, role: str, owner: bool = False) -> None:
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        self.terminal = terminal
        self.role = role
        self.owner = owner
        self.detached = False
        #: why the client was detached ("closed", "lagging", "left"), None while attached
        self.reason: str | None = None
        self._buf = bytearray()
        self._ready = asyncio.Event()
        self._drained = asyncio.Event()
        self._drained.set()
        self._listeners: list[Callable[[bytes], object]] = []

    def __repr__(self) -> str:
        return f"<TerminalClient {self.role}{' owner' if self.owner else ''} of {self.terminal.id}>"

    @property
    def can_write(self) -> bool:
        return self.role == "writer" and not self.detached

    # -- output -------------------------------------------------------------------------------
    def _deliver(self, data: bytes, droppable: bool = False) -> None:
        if self.detached:
            return
        if droppable and len(self._buf) > HIGH_WATER:
            return  # an echo for a client that does not read: lost, like a full tty queue
        self._buf += data
        self._ready.set()
        for cb in list(self._listeners):
            cb(data)
        if len(self._buf) > HIGH_WATER:
            if self.role == "viewer":
                self._detach("lagging")
            else:
                self._drained.clear()

    async def _wait_drained(self) -> None:
        if not self._drained.is_set():
            await self._drained.wait()

    def on_output(self, callback: Callable[[bytes], object]) -> Callable[[], None]:
        """Call ``callback(bytes)`` for every chunk of output; returns a function that stops
        the calls."""
        self._listeners.append(callback)

        def remove() -> None:
            if callback in self._listeners:
                self._listeners.remove(callback)

        return remove

    async def read(self, n: int = -1) -> bytes:
        """Output not read yet (at most ``n`` bytes); waits for some; ``b""`` at the end."""
        while not self._buf:
            if self.detached or self.terminal.exit_code is not None:
                return b""
            self._ready.clear()
            await self._ready.wait()
        if n is None or n < 0 or n >= len(self._buf):
            data = bytes(self._buf)
            self._buf.clear()
        else:
            data = bytes(self._buf[:n])
            del self._buf[:n]
        if len(self._buf) <= HIGH_WATER // 2:
            self._drained.set()
        return data

    async def read_until(self, marker: bytes | str, timeout: float | None = None) -> bytes:
        """Read until ``marker`` appears in what was read; returns all of it. Raises
        ``TimeoutError`` after ``timeout`` seconds and ``EOFError`` if the output ends first."""
        m = marker.encode() if isinstance(marker, str) else marker
        got = bytearray()

        async def loop() -> bytes:
            while m not in got:
                chunk = await self.read()
                if not chunk:
                    raise EOFError(f"terminal output ended before {m!r}: ...{bytes(got[-300:])!r}")
                got.extend(chunk)
            return bytes(got)

        if timeout is None:
            return await loop()
        try:
            return await asyncio.wait_for(loop(), timeout)
        except TimeoutError:
            raise TimeoutError(
                f"no {m!r} in terminal output within {timeout:g}s: ...{bytes(got[-300:])!r}"
            )

    # -- input --------------------------------------------------------------------------------
    async def write(self, data: str | bytes) -> None:
        if self.detached:
            raise ConnectionError("client is detached from the terminal")
        if self.role != "writer":
            raise PermissionError(
                f"a {self.role} cannot type into terminal {self.terminal.id} "
                "(attach as a writer, which the owner must allow)"
            )
        await self.terminal._input(data.encode() if isinstance(data, str) else bytes(data))

    def resize(self, cols: int, rows: int) -> None:
        if self.role != "writer":
            raise PermissionError(f"a {self.role} cannot resize terminal {self.terminal.id}")
        self.terminal._resize(cols, rows)

    def detach(self) -> None:
        self._detach("left")

    def _detach(self, reason: str) -> None:
        if self.detached:
            return
        self.detached = True
        self.reason = reason
        self._ready.set()
        self._drained.set()
        self.terminal._forget(self)
