"""The host's handle on a terminal that runs in a process VM's worker (``vm.open_shell()`` with
``isolation="process"``): the API of :class:`~pocketos.terminal.Terminal`, its clients,
roles and flow control, with the shell in the worker.

Keys and resizes go to the worker as requests, in order. Output comes back unsolicited as it is
produced (see :mod:`.terms`) and is acknowledged once every writer client has read it down to
the high-water mark, so a host that does not read stops the worker's shell instead of growing
either process's memory. If the worker dies the terminal ends with the worker's status and
the reason is shown on it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import Any

from pocketos.terminal.clients import TerminalClient
from pocketos.terminal.shared import SharedTerminal, check_size

__all__ = ["RemoteTerminal"]


class RemoteTerminal(SharedTerminal):
    """A terminal in a worker process (see :class:`~pocketos.terminal.Terminal`)."""

    def __init__(
        self,
        vm: Any,
        *,
        cols: int = 80,
        rows: int = 24,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        timeout: float | None = None,
    ) -> None:
        self._init_shared(vm, cols, rows, timeout)
        self.name = "/dev/pts/?"
        self.running = False
        self._kwargs: dict[str, Any] = {
            "cols": cols,
            "rows": rows,
            "env": dict(env) if env else None,
        }
        self._kwargs.update(cwd=cwd, timeout=timeout)
        self._tid: int | None = None
        self._worker: Any = None
        self._generation = -1
        self._ops: asyncio.Queue[tuple[str, dict[str, Any], asyncio.Future[Any] | None]] = (
            asyncio.Queue()
        )
        self._unacked = 0
        self._data = asyncio.Event()
        self._done = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self.owner = TerminalClient(self, "writer", owner=True)  # type: ignore[arg-type]
        self.clients.append(self.owner)
        self._tasks: list[asyncio.Task[None]] = []

    # -- lifetime -----------------------------------------------------------------------------
    def start(self) -> RemoteTerminal:
        if not self._tasks:
            for coro in (self._send_ops(), self._send_acks()):
                t = asyncio.ensure_future(coro)
                t.set_name(f"pocketos-terminal-{self.id}")
                self._tasks.append(t)
                self.vm._tasks.add(t)
                t.add_done_callback(self.vm._tasks.discard)
        return self

    async def close(self) -> int:
        """End the shell in the worker (its EXIT trap runs, running commands are killed)."""
        if self.exit_code is None:
            fut = self._loop.create_future()
            self._ops.put_nowait(("close", {}, fut))
            with contextlib.suppress(Exception):
                await fut
            await self._done.wait()
        for t in self._tasks:
            t.cancel()
        return self.exit_code if self.exit_code is not None else 0

    def _forget(self, client: TerminalClient) -> None:
        super()._forget(client)
        self._data.set()  # a writer that left may have been what held output back

    # -- input and window size (called by the clients) ------------------------------------------
    async def _input(self, data: bytes) -> None:
        if self.exit_code is not None:
            raise ConnectionError(f"terminal {self.id} has ended (status {self.exit_code})")
        fut = self._loop.create_future()
        self._ops.put_nowait(("write", {"data": data}, fut))
        await fut

    def _resize(self, cols: int, rows: int) -> None:
        self.cols, self.rows = check_size(cols, rows)
        if self.exit_code is None:
            self._ops.put_nowait(("resize", {"cols": cols, "rows": rows}, None))

    # -- the requests ---------------------------------------------------------------------------
    async def _send_ops(self) -> None:
        from pocketos.isolation.process import WorkerDied

        try:
            gen = await asyncio.to_thread(self.vm._generation_for_call)
            opened = await self.vm._guest("term_open", gen, kwargs=self._kwargs)
            self._generation = gen
            self._tid = int(opened["tid"])
            self.name = str(opened.get("name", self.name))
            self._worker = self.vm._worker
            self._worker.add_terminal(self._tid, self._from_thread)
        except WorkerDied as exc:
            self._end(exc.status, exc.message)
            return
        except Exception as exc:
            self._end(1, f"could not open the terminal: {exc}")
            return
        try:
            await self._serve_ops()
        except asyncio.CancelledError:
            self._end(129, "the VM was closed")
            raise
        self._fail_pending()

    async def _serve_ops(self) -> None:
        from pocketos.isolation.process import WorkerDied

        while self.exit_code is None:
            op, fields, fut = await self._ops.get()
            if op == "end":
                continue
            try:
                value = await self.vm._guest(
                    f"term_{op}", self._generation, wait=None, tid=self._tid, **fields
                )
            except WorkerDied as exc:
                self._end(exc.status, exc.message)
                value = None
                if fut is not None and not fut.done():
                    fut.set_exception(ConnectionError(f"terminal {self.id}: {exc.message}"))
                continue
            except Exception as exc:
                if fut is not None and not fut.done():
                    fut.set_exception(exc)
                continue
            if fut is not None and not fut.done():
                fut.set_result(value)

    def _fail_pending(self) -> None:
        while not self._ops.empty():
            _, _, fut = self._ops.get_nowait()
            if fut is not None and not fut.done():
                fut.set_exception(
                    ConnectionError(f"terminal {self.id} has ended (status {self.exit_code})")
                )

    async def _send_acks(self) -> None:
        """Acknowledge output once every writer has read it down to its high-water mark."""
        while True:
            if not self._unacked:
                self._data.clear()
                await self._data.wait()
            for c in list(self.clients):
                if c.role == "writer":
                    await c._wait_drained()
            n, self._unacked = self._unacked, 0
            if self._tid is None or self.exit_code is not None:
                return
            if n:
                self._worker.terminal_taken(self._tid, n)
                with contextlib.suppress(Exception):
                    await self.vm._guest("term_ack", self._generation, tid=self._tid, n=n)

    # -- output ---------------------------------------------------------------------------------
    def _from_thread(self, frame: dict[str, Any]) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is listening
            self._loop.call_soon_threadsafe(self._frame, frame)

    def _frame(self, frame: dict[str, Any]) -> None:
        if self.exit_code is not None:
            return
        died = frame.get("died")
        if died is not None:
            self._end(int(died.status), str(died.message))
            return
        cols, rows = frame.get("cols"), frame.get("rows")
        if type(cols) is int and type(rows) is int:
            self.cols, self.rows = cols, rows
        self.running = bool(frame.get("running"))
        data = frame.get("data")
        if isinstance(data, bytes) and data:
            self._show(data)
            self._unacked += len(data)
            self._data.set()
        if type(frame.get("exit")) is int:
            self._end(int(frame["exit"]))

    def _show(self, data: bytes) -> None:
        self._keep(data)
        for c in list(self.clients):
            c._deliver(data)

    def _end(self, status: int, why: str | None = None) -> None:
        if self.exit_code is not None:
            return
        if why is not None:
            self._show(f"\r\npocketos: {why}; the terminal has ended\r\n".encode())
        self.exit_code = status & 0xFF
        self.running = False
        if self._worker is not None and self._tid is not None:
            self._worker.remove_terminal(self._tid)
        self._done.set()
        for c in list(self.clients):
            c._ready.set()
        self._fail_pending()
        self._ops.put_nowait(("end", {}, None))  # wakes the request task, which then stops
        if len(self._tasks) == 2 and self._tasks[1] is not asyncio.current_task():
            self._tasks[1].cancel()  # nothing more to acknowledge
