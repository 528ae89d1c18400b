"""Tearing this process's live sandboxes down when it is told to terminate.

Python's default action for SIGTERM and SIGHUP ends the process at once: no ``finally`` runs,
so no sandbox is closed, and its mount directory and cgroup would stay behind until a later
sweep (:func:`pocketos.sandbox.leftovers.prune`). While at least one sandbox runs, each of these
signals whose disposition is still the default gets a handler that tears every live sandbox
down synchronously (kill, cgroup removal, lazy unmount, directory removal) and then dies of
the same signal with the default action, so the exit status is what it would have been.

A handler set by the embedding application (its own function, ``SIG_IGN``, asyncio's
``loop.add_signal_handler``) is never replaced: the application owns the signal, and is
expected to close its VMs. The handler is put back to the default when the last sandbox
closes. Only the main thread may set handlers, so a sandbox started from another thread adds
none (its leftovers are swept later). A forked child that inherits the handler does not tear
down its parent's sandboxes.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable
from types import FrameType

__all__ = ["SIGNALS", "register", "unregister"]

SIGNALS = (signal.SIGTERM, signal.SIGHUP)
#: live sandboxes: key -> (owning pid, synchronous teardown)
_live: dict[int, tuple[int, Callable[[], None]]] = {}


def _on_signal(signum: int, frame: FrameType | None) -> None:
    me = os.getpid()
    for pid, teardown in list(_live.values()):
        if pid == me:
            with contextlib.suppress(Exception):
                teardown()
    _live.clear()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(me, signum)


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def register(key: int, teardown: Callable[[], None]) -> None:
    """``teardown`` runs if this process gets SIGTERM or SIGHUP before :func:`unregister`."""
    _live[key] = (os.getpid(), teardown)
    if not _main_thread():
        return
    for sig in SIGNALS:
        with contextlib.suppress(ValueError, OSError):
            if signal.getsignal(sig) == signal.SIG_DFL:
                signal.signal(sig, _on_signal)


def unregister(key: int) -> None:
    _live.pop(key, None)
    if _live or not _main_thread():
        return
    for sig in SIGNALS:
        with contextlib.suppress(ValueError, OSError):
            if signal.getsignal(sig) is _on_signal:
                signal.signal(sig, signal.SIG_DFL)
