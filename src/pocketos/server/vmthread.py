"""A thread with an event loop of its own, where an in-process VM's execs and file calls run.

A command's permission check is synchronous: under an ``ask`` rule it blocks the thread it runs
on until the answer comes. On the server's event loop that would freeze every request, the one
that carries the answer included. An in-process VM whose policy has ``ask`` rules therefore runs
its execs and file calls here; the check then blocks only this thread while the answer arrives
over the API (``asks.PendingPermissions``). Its terminals and agent sessions run there too: one
loop per VM, so nothing touches its files from two threads at once.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from pocketos.server.errors import ApiError

__all__ = ["VMThread", "has_ask_rules"]

T = TypeVar("T")


def has_ask_rules(policy: Any) -> bool:
    """True when some domain of ``policy`` (a kernel Policy) can answer ``ask``."""
    for dp in getattr(policy, "domains", {}).values():
        if dp.default == "ask" or any(r.mode == "ask" for r in dp.rules):
            return True
    return False


class VMThread:
    """One daemon thread running one event loop until :meth:`aclose`."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._main, name=f"pocketos-vm-{name}", daemon=True)
        self._thread.start()

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
        finally:
            # whatever is still running when the VM closes is cancelled and awaited
            tasks = asyncio.all_tasks(self.loop)
            for t in tasks:
                t.cancel()
            if tasks:
                self.loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.close()

    async def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await ``coro`` on this thread's loop; cancelling the caller cancels it there too and
        waits until it has stopped."""
        done: concurrent.futures.Future[T] = concurrent.futures.Future()
        box: list[asyncio.Task[T]] = []

        def finished(task: asyncio.Task[T]) -> None:
            if task.cancelled():
                done.set_exception(asyncio.CancelledError())
            elif (exc := task.exception()) is not None:
                done.set_exception(exc)
            else:
                done.set_result(task.result())

        def start() -> None:
            task = self.loop.create_task(coro)
            box.append(task)
            task.add_done_callback(finished)

        try:
            self.loop.call_soon_threadsafe(start)
        except RuntimeError:  # the loop is closed: the VM went away meanwhile
            coro.close()
            raise ApiError(404, "vm_not_found", "the VM was closed") from None
        fut = asyncio.wrap_future(done)
        try:
            return await asyncio.shield(fut)
        except asyncio.CancelledError:
            # ``start`` was queued first, so the task exists when this runs
            self.loop.call_soon_threadsafe(lambda: box[0].cancel())
            with contextlib.suppress(BaseException):
                await fut
            raise

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """A sync function, called on this thread's loop (where the VM's async parts live)."""

        async def go() -> T:
            return fn(*args, **kwargs)

        return await self.run(go())

    async def aclose(self) -> None:
        if self.loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(self.loop.stop)
        await asyncio.to_thread(self._thread.join)
