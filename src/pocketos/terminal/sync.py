"""The sync twin of :class:`Terminal` (``VM.open_shell()``): the terminal's shell runs while a
call waits, as the sync VM's commands do."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from pocketos._loop import run_sync
from pocketos.terminal.terminal import Terminal

__all__ = ["SyncTerminal"]


class SyncTerminal:
    def __init__(self, inner: Terminal) -> None:
        self.inner = inner

    @property
    def id(self) -> str:
        return self.inner.id

    @property
    def exit_code(self) -> int | None:
        return self.inner.exit_code

    def write(self, data: str | bytes) -> None:
        run_sync(self.inner.write(data))

    def read(self, timeout: float | None = None) -> bytes:
        """Output not read yet; waits for some (at most ``timeout`` seconds, then ``b""``)."""

        async def go() -> bytes:
            try:
                return await asyncio.wait_for(self.inner.read(), timeout)
            except TimeoutError:
                return b""

        return run_sync(go())

    def read_until(self, marker: bytes | str, timeout: float | None = None) -> bytes:
        return run_sync(self.inner.read_until(marker, timeout))

    def on_output(self, callback: Callable[[bytes], object]) -> Callable[[], None]:
        return self.inner.on_output(callback)

    def resize(self, cols: int, rows: int) -> None:
        self.inner.resize(cols, rows)

    def wait(self, timeout: float | None = None) -> int:
        return run_sync(self.inner.wait(timeout))

    def close(self) -> int:
        return run_sync(self.inner.close())

    def __enter__(self) -> SyncTerminal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
