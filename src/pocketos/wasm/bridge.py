"""Between a guest's worker thread and the VM's event loop.

wasmtime runs guests on blocking threads; the VM (filesystem, pipes) belongs to its asyncio loop.
A guest thread never touches either directly: it hands each call to the loop and waits for the
answer, which also gives pipes their backpressure (a guest writing into a full pipe waits).

A guest whose process is suspended (STOP, TSTP) pauses at these calls until CONT continues it:
its output, its stdin and the door wait; computing without calling the host goes on.

The wait ends when the guest is stopped (the bridge's ``cancel`` event, set when the command is
cancelled) or the loop is closed, so that a guest stopped while it writes never leaves its
thread waiting for a loop that has finished with it (which kept the host process from exiting).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from pocketos.kernel.jobctl import ProcessGroup, current_group, current_process
from pocketos.kernel.streams import OutputStream

__all__ = ["BridgeClosed", "LoopBridge", "OutputSink"]

#: how often a waiting guest thread looks at the cancel event
POLL = 0.05


class BridgeClosed(Exception):
    """The guest was stopped (or its loop closed) while it waited for the loop."""


T = TypeVar("T")


class LoopBridge:
    """Run callables and coroutines on ``loop`` from another thread, waiting for the result."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, cancel: threading.Event | None = None
    ) -> None:
        self.loop = loop
        self.owner = threading.get_ident()
        #: the guest's process and group (made in the process's task): a stopped guest's
        #: calls through ``run`` (its output, its stdin, the door) wait for CONT
        self.group = current_group()
        self.process = current_process()
        #: set when the guest is stopped: waits end with BridgeClosed
        self.cancel = cancel

    def _wait(self, fut: concurrent.futures.Future[T]) -> T:
        cancel = self.cancel
        while True:
            try:
                return fut.result(timeout=POLL)
            except concurrent.futures.TimeoutError:
                if (cancel is not None and cancel.is_set()) or self.loop.is_closed():
                    fut.cancel()
                    raise BridgeClosed("the guest was stopped") from None

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        if threading.get_ident() == self.owner:
            return fn(*args)
        fut: concurrent.futures.Future[T] = concurrent.futures.Future()

        def task() -> None:
            if not fut.set_running_or_notify_cancel():
                return
            try:
                fut.set_result(fn(*args))
            except BaseException as exc:  # handed to the waiting thread
                fut.set_exception(exc)

        try:
            self.loop.call_soon_threadsafe(task)
        except RuntimeError:  # the loop is closed
            raise BridgeClosed("the guest was stopped") from None
        return self._wait(fut)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        group = self.group
        if group is not None:
            coro = self._after_stop(group, coro)
        try:
            fut = asyncio.run_coroutine_threadsafe(coro, self.loop)
        except RuntimeError:  # the loop is closed
            coro.close()
            raise BridgeClosed("the guest was stopped") from None
        return self._wait(fut)

    async def _after_stop(self, group: ProcessGroup, coro: Coroutine[Any, Any, T]) -> T:
        if group.stop_signal is not None:
            try:
                await group.wait_continued(self.process)
            except BaseException:
                coro.close()
                raise
        return await coro


class OutputSink:
    """A guest stream forwarded, write by write, to a process's :class:`OutputStream`.

    A write to a closed pipe sets ``broken`` and calls ``on_broken`` (which stops the guest);
    later writes are dropped.
    """

    def __init__(
        self,
        bridge: LoopBridge,
        stream: OutputStream,
        on_broken: Callable[[], None] | None = None,
        on_write: Callable[[int], None] | None = None,
    ) -> None:
        self.bridge = bridge
        self.stream = stream
        self.on_broken = on_broken
        self.on_write = on_write
        self.broken = False
        self.error: BaseException | None = None

    def write(self, data: bytes) -> None:
        if self.broken or not data:
            return
        try:
            if self.on_write is not None:
                self.on_write(len(data))
            self.bridge.run(self.stream.write(bytes(data)))
        except BrokenPipeError:
            self._stop(None)
        except BaseException as exc:  # a limit or a closed stream: stop the guest, report later
            self._stop(exc)

    def _stop(self, exc: BaseException | None) -> None:
        self.broken = True
        if exc is not None and self.error is None:
            self.error = exc
        if self.on_broken is not None:
            self.on_broken()
