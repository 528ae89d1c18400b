"""Running the async core from sync code.

The sync facade drives a private event loop kept per thread (creating a loop per call would cost
more than the work). When called from inside a running loop, the coroutine runs on a private
loop in a worker thread instead.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

T = TypeVar("T")

_local = threading.local()
_pool: ThreadPoolExecutor | None = None


def _loop() -> asyncio.AbstractEventLoop:
    loop: asyncio.AbstractEventLoop | None = getattr(_local, "loop", None)
    if loop is None or loop.is_closed():
        loop = asyncio.new_event_loop()
        _local.loop = loop
    return loop


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _loop().run_until_complete(coro)
    global _pool
    if _pool is None:
        from concurrent.futures import ThreadPoolExecutor  # only when called inside a loop

        _pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="pocketos-sync")
    return _pool.submit(lambda: _loop().run_until_complete(coro)).result()
