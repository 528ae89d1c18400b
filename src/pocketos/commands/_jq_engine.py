"""Running jq programs in killable helper processes, bounded by the exec's time and memory.

libjq holds the GIL while it evaluates, so an evaluation in the host could be neither stopped at
the deadline nor kept under ``max_memory``. Each jq (or yq) command borrows a helper process
(:mod:`pocketos.commands._jq_helper`) from a small pool of pre-started ones, compiles its
program there and streams the results back in batches, waiting for them without blocking the
event loop. Before each run the helper's address space is capped (``RLIMIT_AS``) at its current
size plus what is left of the exec's and the VM's memory; a helper that runs out of it dies and
the command ends with ``max_memory``. A command cancelled (deadline, signal) while its helper
computes kills the helper; one that stops early between batches hands it back. A run whose
program passed :mod:`pocketos.commands._jq_screen` and whose bound with its input is small
evaluates in this process instead (no round trip).
"""

from __future__ import annotations

import asyncio
import atexit
import json
import os
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NoReturn

from pocketos.commands import _jq_helper
from pocketos.commands._jq_screen import MAX_COST, UNIT_BYTES, Screen
from pocketos.kernel.budget import Budget, current_budget

__all__ = ["HelperBusy", "JqCompileError", "JqEngine", "JqEngineError"]

_HELPER = str(Path(__file__).with_name("_jq_helper.py"))
_HEAD = struct.Struct(">cI")
#: what the helper keeps of the host's environment: enough to find its shared libraries and
#: the same packages (jq) as the host
_ENV_KEPT = (
    "PATH",
    "LD_LIBRARY_PATH",
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONUSERBASE",
    "VIRTUAL_ENV",
    "HOME",
    "LANG",
    "LC_ALL",
    "TMPDIR",
)
_EVENT = struct.Struct(">cII")
_SIZES = struct.Struct(">QQ")
_TUNABLES = "glibc.malloc.mxfast=0"
_PIPE_SIZE = 1 << 20

#: idle helpers kept ready
MAX_IDLE = 2
#: helpers alive at once in this host process (busy ones included)
MAX_HELPERS = 16
#: a helper whose resident size grew past this after a run is not reused
MAX_REUSE_RSS = 96 << 20

_lock = threading.Lock()
#: set once starting a helper is refused: evaluate in this process
_inline_only = False
_idle: list[_Helper] = []
_alive = 0


class JqEngineError(Exception):
    """The helper failed for a reason that is not a jq error (message for the user)."""


class HelperBusy(JqEngineError):
    pass


class JqCompileError(JqEngineError):
    """The program does not compile; the message is jq's."""


class _Died(Exception):
    pass


class _NoHelpers(Exception):
    pass


_KINDS = {b"o": "out", b"e": "err", b"p": "parse", b"x": "fail"}


class _Inline:
    """Evaluation in this process: for a process that may not start helpers (it is then the
    unit that is killed at the deadline and capped in memory), and for a run whose program
    and input passed the screen of :mod:`pocketos.commands._jq_screen`."""

    cache: dict[str, Any] = {}
    lock = threading.Lock()

    def __init__(self) -> None:
        self.prog: Any = None
        self.results: Iterator[tuple[bytes, int, str]] | None = None

    def compile(self, req: str) -> tuple[bool, str | None]:
        import jq

        with self.lock:
            self.prog, msg = _jq_helper._compile(jq, self.cache, json.loads(req))
        return self.prog is not None, msg

    def start(self, items: list[str]) -> None:
        self.results = _jq_helper._results(self.prog, items)

    def start_text(self, data: bytes) -> None:
        self.results = _jq_helper._text_results(self.prog, data.decode("utf-8", "replace"))

    def next(self) -> tuple[list[tuple[str, int, str]], bool]:
        assert self.results is not None
        events: list[tuple[str, int, str]] = []
        size = 0
        for kind, i, text in self.results:
            events.append((_KINDS.get(kind, "fail"), i, text))
            size += len(text)
            if len(events) >= _jq_helper.BATCH_EVENTS or size >= _jq_helper.BATCH_BYTES:
                return events, False
        self.results = None
        return events, True


class _Helper:
    """One helper process and the host's end of its pipes."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            # -P: the script's directory (pocketos/commands) is not put on sys.path
            [sys.executable, "-P", _HELPER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            close_fds=True,
            start_new_session=True,
            # the helper needs nothing of the host's environment (which may be large)
            env=_helper_env(),
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.wfd = self.proc.stdin.fileno()
        self.rfd = self.proc.stdout.fileno()
        _widen(self.wfd)
        os.set_blocking(self.rfd, False)
        self.buf = bytearray()
        self.ready = False
        #: address-space and resident sizes the helper reported last
        self.vsize = 0
        self.rss = 0
        #: "idle", "running" (computing a batch) or "waiting" (for M or S)
        self.state = "idle"

    def alive(self) -> bool:
        return self.proc.poll() is None

    def send(self, op: bytes, payload: bytes = b"", *more: bytes) -> None:
        """Send one frame, or several (``more``: op, payload, ...) in one write, which wakes
        the helper once."""
        frames = [_HEAD.pack(op, len(payload)), payload]
        for i in range(0, len(more), 2):
            frames += (_HEAD.pack(more[i], len(more[i + 1])), more[i + 1])
        data = memoryview(b"".join(frames))
        try:
            while data:
                n = os.write(self.wfd, data)
                data = data[n:]
        except OSError:
            raise _Died() from None

    async def _fill(self, n: int, budget: Budget | None) -> None:
        """Read until ``n`` bytes are buffered; past the exec's deadline the budget raises
        ``LimitExceeded`` (the caller then kills the helper)."""
        loop = asyncio.get_running_loop()
        while len(self.buf) < n:
            try:
                data = os.read(self.rfd, max(1 << 16, n - len(self.buf)))
            except BlockingIOError:
                fut: asyncio.Future[None] = loop.create_future()
                loop.add_reader(self.rfd, _wake, fut)
                deadline = budget.deadline if budget is not None else None
                try:
                    if deadline is None:
                        await fut
                    else:
                        await asyncio.wait_for(fut, max(0.0, deadline - time.monotonic()))
                except TimeoutError:
                    assert budget is not None
                    budget.check_time()
                    continue
                finally:
                    loop.remove_reader(self.rfd)
                continue
            except OSError:
                raise _Died() from None
            if not data:
                raise _Died()
            self.buf += data

    async def recv(self, budget: Budget | None) -> tuple[bytes, bytes]:
        await self._fill(_HEAD.size, budget)
        op, size = _HEAD.unpack_from(self.buf)
        if budget is not None:
            budget.check_alloc(size, "jq: output")
        await self._fill(_HEAD.size + size, budget)
        payload = bytes(self.buf[_HEAD.size : _HEAD.size + size])
        del self.buf[: _HEAD.size + size]
        return op, payload

    async def wait_ready(self, budget: Budget | None) -> None:
        if not self.ready:
            op, payload = await self.recv(budget)
            if op != b"Y":
                raise _Died()
            self.sizes(payload, 0)
            self.ready = True

    def cap_memory(self, limit: int | None) -> None:
        """Cap the helper's address space at its size after its last answer plus ``limit``
        bytes (no cap for None)."""
        try:
            import resource

            cap = -1 if limit is None or not self.vsize else self.vsize + limit
            resource.prlimit(self.proc.pid, resource.RLIMIT_AS, (cap, -1))
        except (ImportError, OSError, ValueError, AttributeError):
            pass  # not Linux, or the helper has just died (the next read says so)

    def sizes(self, payload: bytes, at: int) -> None:
        if len(payload) >= at + _SIZES.size:
            self.vsize, self.rss = _SIZES.unpack_from(payload, at)

    def kill(self) -> None:
        global _alive
        if self.proc.returncode is None:
            try:
                self.proc.kill()
            except OSError:
                pass
            # SIGKILLed: reaped at once (a wait with a timeout would poll with sleeps)
            self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                if f is not None:
                    f.close()
            except OSError:
                pass
        with _lock:
            _alive -= 1


def _helper_env() -> dict[str, str]:
    env = {k: os.environ[k] for k in _ENV_KEPT if k in os.environ}
    # glibc's fast bins make libjq pay for consolidating them while it frees a large parsed
    # document (measured: 10% of a 10 MB run); the helper's allocations do without them
    env["GLIBC_TUNABLES"] = _TUNABLES
    return env


def _widen(fd: int) -> None:
    """Give the pipe that carries inputs to the helper room for 1 MiB (64 KiB by default): a
    large input then goes over in a few writes and wakeups, not hundreds."""
    try:
        import fcntl

        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, _PIPE_SIZE)
    except (ImportError, AttributeError, OSError):
        pass  # not Linux, or above /proc/sys/fs/pipe-max-size: the default size works


_spawn_pool: ThreadPoolExecutor | None = None


def _spawner() -> ThreadPoolExecutor:
    """The one thread that starts helpers. A helper asks Linux to kill it when the thread
    that started it ends (``PR_SET_PDEATHSIG`` follows the thread, not the process), and
    helpers move between threads through the pool: so they are all started from this
    thread, which lives as long as the process."""
    global _spawn_pool
    with _lock:
        if _spawn_pool is None:
            _spawn_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pocketos-jq")
        return _spawn_pool


def _wake(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


def _spawn() -> _Helper:
    global _alive
    with _lock:
        if _alive >= MAX_HELPERS:
            raise HelperBusy(f"jq: too many jq programs running at once (at most {MAX_HELPERS})")
        _alive += 1
    try:
        return _spawner().submit(_Helper).result()
    except PermissionError:
        # a process that may not start programs (the isolation worker's seccomp filter) is
        # itself the killable, memory-capped unit: evaluate in it from now on
        global _inline_only
        with _lock:
            _alive -= 1
            _inline_only = True
        raise _NoHelpers() from None
    except OSError as exc:
        with _lock:
            _alive -= 1
        raise JqEngineError(f"jq: cannot start the jq engine: {exc.strerror or exc}") from None


def _take() -> _Helper:
    """An idle helper (a fresh one if none is ready); starts a spare for the next command."""
    helper: _Helper | None = None
    while True:
        with _lock:
            if not _idle:
                break
            candidate = _idle.pop()
        if candidate.alive():
            helper = candidate
            break
        candidate.kill()
    if helper is None:
        helper = _spawn()
    with _lock:
        want_spare = not _idle and _alive < MAX_HELPERS
    if want_spare:
        try:
            spare = _spawn()
        except JqEngineError:
            pass
        else:
            _give_back(spare)
    return helper


def _give_back(helper: _Helper) -> None:
    with _lock:
        if len(_idle) < MAX_IDLE:
            _idle.append(helper)
            return
    helper.kill()


def _close_all() -> None:
    with _lock:
        helpers = list(_idle)
        _idle.clear()
    for h in helpers:
        h.kill()


def _forget_after_fork() -> None:
    # a forked child must not use (or kill) its parent's helpers, nor its spawning thread
    global _alive, _spawn_pool
    _idle.clear()
    _alive = 0
    _spawn_pool = None


atexit.register(_close_all)
os.register_at_fork(after_in_child=_forget_after_fork)


def _compile_message(payload: bytes) -> str:
    msg = json.loads(payload).get("msg")
    if isinstance(msg, str):
        return msg
    return "jq: error: cannot compile program\njq: 1 compile error"


def _memory_left(budget: Budget | None) -> tuple[int | None, bool]:
    """Bytes left to the exec (and the VM), and whether the exec's limit is the smaller."""
    if budget is None:
        return None, True
    left = budget.limits.max_memory - budget.memory
    pool = budget.pool
    if pool is not None and pool.cap - pool.used < left:
        return max(0, pool.cap - pool.used), False
    return max(0, left), True


class JqEngine:
    """One command's use of a helper: compile once, then run batches of inputs."""

    def __init__(self) -> None:
        self.helper: _Helper | None = None
        self.inline: _Inline | None = None
        self.budget = current_budget()
        self._exec_level = True
        #: for a program compiled here that passed the screen: its cost bound, and the
        #: request to compile it in a helper should an input be too large for this process
        self._screen: Screen | None = None
        self._req = ""
        #: a compile request sent with the run's inputs (one write); its answer comes first
        self._queued: bytes | None = None
        self._compile_reply = False

    async def compile(
        self,
        text: str,
        args: dict[str, Any],
        bare: str,
        raw: dict[str, str] | None = None,
        *,
        screen: Screen | None = None,
        defer: bool = False,
    ) -> str | None:
        """Compile ``text`` with ``args`` (and ``raw``: arguments given as JSON texts) in the
        helper; returns None, or the compile error's message (the one for ``bare``, the
        user's own program, when it has one). With ``screen`` (the program passed it), the
        program is compiled here and each run decides by its input's size where it runs.
        With ``defer``, a helper's compile request waits to go in the same write as the first
        run's inputs (one round trip, not two); its error is then raised as
        :class:`JqCompileError` by :meth:`next` or :meth:`flush`."""
        args_json = json.dumps({k: v for k, v in args.items() if not raw or k not in raw})
        if raw:
            extra = ",".join(f"{json.dumps(k)}:{v}" for k, v in raw.items())
            args_json = args_json[:-1] + ("," if len(args_json) > 2 else "") + extra + "}"
        req = f'{{"text":{json.dumps(text)},"bare":{json.dumps(bare)},"args":{args_json}}}'
        if self.budget is not None:
            self.budget.check_alloc(len(req), "jq: input")
        if self._screen is not None:
            # compiled here before: a program that did not pass the screen runs in a helper
            self.inline, self._screen = None, None
        if screen is not None and self.helper is None and self.inline is None:
            self.inline, self._screen, self._req = _Inline(), screen, req
        h = self.helper
        if h is None and self.inline is None:
            try:
                h = self.helper = None if _inline_only else _take()
            except _NoHelpers:
                pass
            if h is None:
                self.inline = _Inline()
        if h is None:
            assert self.inline is not None
            ok, msg = self.inline.compile(req)
            op, payload = (b"K", b"") if ok else (b"E", json.dumps({"msg": msg}).encode())
        elif defer and await self._queue(h, req):
            return None
        else:
            op, payload = await self._compile(h, req)
        return None if op == b"K" else _compile_message(payload)

    async def _queue(self, h: _Helper, req: str) -> bool:
        """Keep ``req`` to send with the first run's inputs, under the cap set for the run,
        which needs the helper's size (told when it is ready): False if it is not known."""
        try:
            await h.wait_ready(self.budget)
        except _Died:
            self._died()
        if not h.vsize:
            return False
        self._queued = req.encode("utf-8", "surrogatepass")
        return True

    async def flush(self) -> None:
        """Send a compile request still waiting for a run (none came: the inputs were empty,
        or one failed to read), so that a compile error is reported first, as jq does."""
        h = self.helper
        if self._queued is None or h is None:
            return
        req, self._queued = self._queued, None
        op, payload = await self._compile(h, req)
        if op != b"K":
            raise JqCompileError(_compile_message(payload))

    async def _compile(self, h: _Helper, req: str | bytes) -> tuple[bytes, bytes]:
        try:
            await h.wait_ready(self.budget)
            h.send(b"P", req if isinstance(req, bytes) else req.encode("utf-8", "surrogatepass"))
            h.state = "running"
            op, payload = await h.recv(self.budget)
            h.state = "idle"
        except _Died:
            self._died()
        if op == b"K":
            h.sizes(payload, 0)
        return op, payload

    async def start(self, items: list[str]) -> None:
        """Run the compiled program on ``items`` (JSON texts); read results with :meth:`next`."""
        await self._run(b"R", items, None)

    async def start_text(self, data: bytes) -> None:
        """Run the compiled program on every JSON value of ``data``, parsed by libjq (the index
        of an event is its value's position in ``data``; a ``parse`` event ends the run)."""
        await self._run(b"T", None, data)

    async def _run(self, op: bytes, items: list[str] | None, data: bytes | None) -> None:
        if self.inline is not None and self._screen is not None:
            size = len(data) if data is not None else sum(len(t) for t in items or ())
            await self._place(size)
        if self.inline is not None:
            if data is not None:
                self.inline.start_text(data)
            else:
                self.inline.start(items or [])
            return
        h = self.helper
        assert h is not None and h.state == "idle"
        left, self._exec_level = _memory_left(self.budget)
        h.cap_memory(left)
        run = data if data is not None else "\0".join(items or ()).encode("utf-8", "surrogatepass")
        try:
            if self._queued is not None:
                h.send(b"P", self._queued, op, run)
                self._queued, self._compile_reply = None, True
            else:
                h.send(op, run)
        except _Died:
            self._died()
        h.state = "running"

    async def _place(self, input_bytes: int) -> None:
        """Keep a screened program here when this run's bound is small and fits what is left
        of the memory budget; otherwise move it to a helper for this and later runs."""
        assert self._screen is not None
        cost = self._screen.cost(input_bytes)
        left, _ = _memory_left(self.budget)
        if cost <= MAX_COST and (left is None or cost * UNIT_BYTES <= left):
            return
        self.inline, self._screen = None, None
        try:
            h = self.helper = None if _inline_only else _take()
        except _NoHelpers:
            h = None
        if h is None:
            self.inline = _Inline()
            ok, msg = self.inline.compile(self._req)
            if not ok:  # pragma: no cover - it compiled here before
                raise JqEngineError(msg or "jq: error: cannot compile program")
            return
        if await self._queue(h, self._req):
            # it compiled here, so it compiles there: the request goes with the inputs
            return
        op, _ = await self._compile(h, self._req)
        if op != b"K":  # pragma: no cover - it compiled here before
            raise JqEngineError("jq: the jq engine could not compile the program")

    async def next(self) -> tuple[list[tuple[str, int, str]], bool]:
        """The next batch of results as (kind, input index, text), and whether the run is
        over. Kinds: ``out`` (JSON text), ``err`` (jq's error message), ``parse`` (the
        input's parse error, after which the run ends), ``fail``."""
        if self.inline is not None:
            return self.inline.next()
        h = self.helper
        assert h is not None
        try:
            if h.state == "waiting":
                h.send(b"M")
                h.state = "running"
            if self._compile_reply:
                self._compile_reply = False
                op, payload = await h.recv(self.budget)
                if op == b"E":
                    # the helper drops the run that came with a program that did not compile
                    h.state = "idle"
                    raise JqCompileError(_compile_message(payload))
                if op != b"K":
                    self._died()
                h.sizes(payload, 0)
            op, payload = await h.recv(self.budget)
        except _Died:
            self._died()
        if op != b"B":
            self._died()
        done = payload[:1] == b"\1"
        h.state = "idle" if done else "waiting"
        events: list[tuple[str, int, str]] = []
        pos, end = 1, len(payload)
        if done:
            h.sizes(payload, 1)
            pos += _SIZES.size
        unpack = _EVENT.unpack_from
        kinds = _KINDS
        while pos < end:
            kind, i, size = unpack(payload, pos)
            pos += _EVENT.size
            events.append(
                (kinds.get(kind, "fail"), i, payload[pos : pos + size].decode("utf-8", "replace"))
            )
            pos += size
        return events, done

    def close(self) -> None:
        """Hand the helper back (stopping an unfinished run) or kill it if it is computing."""
        self.inline, self._screen = None, None
        self._queued, self._compile_reply = None, False
        h = self.helper
        self.helper = None
        if h is None:
            return
        if h.state == "waiting":
            try:
                h.send(b"S")
                h.state = "idle"
            except _Died:
                pass
        if h.state != "idle" or not h.alive() or h.buf or h.rss > MAX_REUSE_RSS:
            h.kill()
            return
        h.cap_memory(None)
        _give_back(h)

    def _died(self) -> NoReturn:
        """The helper went away mid-request: out of its memory cap, or killed."""
        h = self.helper
        self.helper = None
        code = None
        if h is not None:
            try:
                code = h.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:  # pragma: no cover
                pass
            h.kill()
        b = self.budget
        if b is not None and code in (3, -6, -11):
            raise b.memory_error("jq", self._exec_level)
        raise JqEngineError(f"jq: the jq engine stopped unexpectedly (status {code})")

    async def __aenter__(self) -> JqEngine:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()
