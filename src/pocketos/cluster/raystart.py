"""Starting and stopping Ray in this process without breaking its VMs.

``ray.init`` turns on :mod:`faulthandler` and Ray's core worker installs its own handlers for
crash signals; ``ray.shutdown`` changes them again. wasmtime (Python and JavaScript in VMs)
traps guest faults with its own SIGSEGV/SIGILL/SIGFPE/SIGBUS handlers and refuses to run once
they were replaced. So the crash-signal handlers are saved before each of these calls and put
back after it: a process that starts a cluster keeps running its own VMs' interpreters.
"""

from __future__ import annotations

import ctypes
import faulthandler
import signal
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["init_ray", "shutdown_ray"]

T = TypeVar("T")
_SIGNALS = [
    getattr(signal, n) for n in ("SIGSEGV", "SIGILL", "SIGFPE", "SIGBUS") if hasattr(signal, n)
]
_SIGACTION_SIZE = 512  # larger than struct sigaction on every libc


def _sigaction() -> Any:
    try:
        return ctypes.CDLL(None, use_errno=True).sigaction
    except (OSError, AttributeError):  # no libc sigaction here: nothing to keep
        return None


def _keeping_handlers(call: Callable[[], T]) -> T:
    sigaction = _sigaction()
    saved: dict[int, Any] = {}
    if sigaction is not None:
        for sig in _SIGNALS:
            buf = ctypes.create_string_buffer(_SIGACTION_SIZE)
            if sigaction(sig, None, buf) == 0:
                saved[sig] = buf
    faults = faulthandler.is_enabled()
    try:
        return call()
    finally:
        if not faults and faulthandler.is_enabled():
            faulthandler.disable()
        for sig, buf in saved.items():
            sigaction(sig, buf, None)


def init_ray(**kwargs: Any) -> Any:
    """``ray.init(**kwargs)``, keeping this process's crash-signal handlers."""
    import ray

    return _keeping_handlers(lambda: ray.init(**kwargs))


def shutdown_ray() -> None:
    """``ray.shutdown()``, keeping this process's crash-signal handlers."""
    import ray

    _keeping_handlers(ray.shutdown)
