"""Between a guest's worker thread and the VM's event loop.

wasmtime runs guests on blocking threads; the VM (filesystem, pipes) belongs to its asyncio loop.
A guest thread never touches either directly: it hands each call to the loop and waits for the
answer, which also gives pipes their backpressure (a guest writing into a full pipe waits).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from pocketos.kernel.streams import OutputStream

__all__ = ["LoopBridge", "OutputSink"]

T = TypeVar("T")


class LoopBridge:
    """Run callables and coroutines on ``loop`` from another thread, waiting for the result."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.owner = threading.get_ident()

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

        self.loop.call_soon_threadsafe(task)
        return fut.result()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()


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
