"""What every terminal shows its clients, wherever its shell runs: the owner's I/O, the
multiplayer rules (who may attach, who may type) and waiting for the end.

:class:`~pocketos.terminal.Terminal` (the shell in this process) and the process VM's
``RemoteTerminal`` (the shell in a worker) both build on :class:`SharedTerminal`; they differ
only in how keys reach the shell and output comes back.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

from pocketos.terminal.clients import TerminalClient

__all__ = ["SharedTerminal", "check_size", "MAX_CLIENTS", "SCROLLBACK"]

#: recent output kept for a client that attaches later
SCROLLBACK = 64 * 1024
MAX_COLS = MAX_ROWS = 10_000
#: clients attached to one terminal at most
MAX_CLIENTS = 256


def check_size(cols: int, rows: int) -> tuple[int, int]:
    for name, v, top in (("cols", cols, MAX_COLS), ("rows", rows, MAX_ROWS)):
        if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= top:
            raise ValueError(f"{name} must be an integer from 1 to {top}, not {v!r}")
    return cols, rows


class SharedTerminal:
    """The clients' side of a terminal. A subclass sets ``id``, ``cols``, ``rows``,
    ``exit_code``, ``max_writers``, ``clients``, ``scrollback``, ``owner`` and ``_done``, and
    provides ``start()``, ``close()``, ``_input(data)`` and ``_resize(cols, rows)``."""

    id: str
    cols: int
    rows: int
    exit_code: int | None
    max_writers: int
    clients: list[TerminalClient]
    scrollback: bytearray
    owner: TerminalClient
    _done: asyncio.Event

    def _init_shared(self, vm: Any, cols: int, rows: int, timeout: float | None) -> None:
        """The state every terminal starts with (the size checked first)."""
        self.cols, self.rows = check_size(cols, rows)
        self.vm = vm
        self.id = uuid.uuid4().hex[:12]
        self.timeout = timeout
        #: the shell's exit status once it has ended, None while it runs
        self.exit_code = None
        self.max_writers = 1
        self.clients = []
        self.scrollback = bytearray()

    def __repr__(self) -> str:
        state = "running" if self.exit_code is None else f"exited {self.exit_code}"
        return f"<{type(self).__name__} {self.id} {self.cols}x{self.rows} {state}>"

    def start(self) -> Any:
        raise NotImplementedError

    async def close(self) -> int:
        raise NotImplementedError

    async def __aenter__(self) -> Any:
        return self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def wait(self, timeout: float | None = None) -> int:
        """The shell's exit status, once it ends (``exit``, Ctrl-D at an empty prompt or
        ``close()``)."""
        if timeout is None:
            await self._done.wait()
        else:
            await asyncio.wait_for(self._done.wait(), timeout)
        assert self.exit_code is not None
        return self.exit_code

    # -- the owner's side (the API of agentOS's openShell) ------------------------------------
    async def write(self, data: str | bytes) -> None:
        await self.owner.write(data)

    async def read(self, n: int = -1) -> bytes:
        return await self.owner.read(n)

    async def read_until(self, marker: bytes | str, timeout: float | None = None) -> bytes:
        return await self.owner.read_until(marker, timeout)

    def on_output(self, callback: Callable[[bytes], object]) -> Callable[[], None]:
        return self.owner.on_output(callback)

    def resize(self, cols: int, rows: int) -> None:
        self.owner.resize(cols, rows)

    # -- multiplayer ---------------------------------------------------------------------------
    def allow_writers(self, n: int | None = None) -> None:
        """Let ``n`` clients type at once (None: any number); 1 means only the owner."""
        if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
            raise ValueError(f"writers must be a positive integer or None, not {n!r}")
        self.max_writers = n if n is not None else 1 << 30

    def attach(self, role: str = "viewer", *, replay: bool = True) -> TerminalClient:
        """A new client; it first receives the recent output (``replay``), then everything."""
        if self.exit_code is not None:
            raise ConnectionError(f"terminal {self.id} has ended (status {self.exit_code})")
        if len(self.clients) >= MAX_CLIENTS:
            raise ConnectionRefusedError(
                f"terminal {self.id} has {len(self.clients)} clients (the most is {MAX_CLIENTS})"
            )
        client = TerminalClient(self, role)  # type: ignore[arg-type]
        if role == "writer":
            writers = sum(1 for c in self.clients if c.role == "writer")
            if writers >= self.max_writers:
                raise PermissionError(
                    f"terminal {self.id} already has {writers} writer(s); "
                    "the owner must allow_writers() for more"
                )
        if replay and self.scrollback:
            client._deliver(bytes(self.scrollback))
        self.clients.append(client)
        return client

    def _forget(self, client: TerminalClient) -> None:
        if client in self.clients:
            self.clients.remove(client)

    def _keep(self, data: bytes) -> None:
        """Add output to the scrollback a late client is shown."""
        self.scrollback += data
        if len(self.scrollback) > SCROLLBACK:
            del self.scrollback[: len(self.scrollback) - SCROLLBACK]
