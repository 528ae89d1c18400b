"""wasmtime's trap handlers, kept in place for the life of the process.

wasmtime turns a fault in guest code (an out-of-bounds access, a stack overflow) into a trap with
its own handlers for SIGSEGV, SIGILL, SIGFPE and SIGBUS, installed when its first engine is made.
A library the host loads later may put its own handler over them — ``faulthandler.enable()``,
a crash reporter, Ray's start and stop — and after that a guest's trap would end or hang the host
process; the Python runtime then refuses every run. So the handlers seen after the first run
that went through are remembered, and before each later run any of them that was replaced is put
back (one ``sigaction`` read per signal when nothing changed). A handler that displaced
wasmtime's no longer sees faults; wasmtime passes faults that are not its guests' on to the
handler that was there before it.
"""

from __future__ import annotations

import ctypes
import signal
import threading
from typing import Any

__all__ = ["keep", "remember"]

_SIGNALS = [
    int(getattr(signal, n)) for n in ("SIGSEGV", "SIGILL", "SIGFPE", "SIGBUS") if hasattr(signal, n)
]
_SIZE = 512  # larger than struct sigaction on every libc
_lock = threading.Lock()
_saved: dict[int, bytes] | None = None
_libc: Any = None


def _sigaction() -> Any:
    global _libc
    if _libc is None:
        fn: Any = False  # no sigaction here: nothing to keep
        try:
            fn = ctypes.CDLL(None, use_errno=True).sigaction
        except (OSError, AttributeError):
            pass
        _libc = fn
    return _libc or None


def _read(fn: Any, sig: int) -> bytes | None:
    buf = ctypes.create_string_buffer(_SIZE)
    return buf.raw if fn(sig, None, buf) == 0 else None


def remember() -> None:
    """After a run went through (so the handlers were wasmtime's): keep them, once."""
    global _saved
    if _saved is not None:
        return
    fn = _sigaction()
    if fn is None:
        return
    with _lock:
        if _saved is None:
            got = {sig: _read(fn, sig) for sig in _SIGNALS}
            _saved = {sig: raw for sig, raw in got.items() if raw is not None}


def keep() -> None:
    """Before a run: put back any remembered handler that was replaced since."""
    saved = _saved
    if not saved:
        return
    fn = _sigaction()
    with _lock:
        for sig, raw in saved.items():
            if _read(fn, sig) != raw:
                fn(sig, ctypes.create_string_buffer(raw, _SIZE), None)
