"""The host's handle on one worker process: start it, talk to it, kill it, say why it died."""

from __future__ import annotations

import json
import os
import queue
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pocketos.isolation import protocol

__all__ = ["WorkerLimits", "WorkerProcess", "WorkerDied"]

MiB = 1024 * 1024

_BOOT = (
    "import sys; sys.path.insert(0, sys.argv.pop(1)); "
    "from pocketos.isolation.worker import main; main()"
)


@dataclass(frozen=True)
class WorkerLimits:
    """Hard limits the kernel enforces on a worker process (not on one exec).

    ``memory``: bytes of heap and anonymous memory (``RLIMIT_DATA``); ``cpu_seconds``: CPU time
    over the worker's life after its start-up (``RLIMIT_CPU``; the worker is replaced when it
    is hit);
    ``open_files``: ``RLIMIT_NOFILE``; ``file_size``: largest host file the worker may write
    (``RLIMIT_FSIZE``); ``grace``: seconds past an exec's timeout before the host kills a worker
    that has not answered (the wall-clock kill); ``start_timeout``: seconds a new worker has to
    say hello; ``seccomp``: install the syscall filter; ``landlock``: restrict the
    worker's host paths when it opens its VM (one VM per worker only); ``max_callbacks``: host
    tool calls and ``ask`` questions a worker may send during one request (more are refused
    without reaching the host's code). ``None``: no limit.
    """

    memory: int | None = 2048 * MiB
    cpu_seconds: int | None = None
    open_files: int | None = 1024
    file_size: int | None = None
    grace: float = 2.0
    start_timeout: float = 120.0
    seccomp: bool = True
    landlock: bool = True
    max_callbacks: int = 10_000

    def __post_init__(self) -> None:
        if type(self.max_callbacks) is not int or self.max_callbacks < 0:
            raise ValueError(
                f"worker limit max_callbacks must be an int >= 0, not {self.max_callbacks!r}"
            )
        for name in ("memory", "cpu_seconds", "open_files", "file_size"):
            v = getattr(self, name)
            if v is not None and (type(v) is not int or v <= 0):
                raise ValueError(f"worker limit {name} must be a positive int or None, not {v!r}")
        for name in ("grace", "start_timeout"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not v >= 0 or v == float("inf"):
                raise ValueError(f"worker limit {name} must be a finite number >= 0, not {v!r}")

    @classmethod
    def coerce(cls, value: WorkerLimits | dict[str, Any] | None) -> WorkerLimits:
        if value is None:
            return cls()
        if isinstance(value, cls):
            return value
        if isinstance(value, dict):
            known = set(asdict(cls()))
            unknown = set(value) - known
            if unknown:
                raise ValueError(
                    f"unknown worker limit(s): {', '.join(sorted(unknown))}; "
                    f"known: {', '.join(sorted(known))}"
                )
            return cls(**value)
        raise TypeError(f"worker_limits must be WorkerLimits or a dict, not {type(value).__name__}")


class WorkerDied(Exception):
    """The worker is gone. ``limit`` says why, in ``ExecResult.limit_hit`` terms:
    ``timeout`` (killed by the wall clock), ``cpu``, ``memory``, ``crash`` or ``killed``."""

    def __init__(self, limit: str, message: str, status: int) -> None:
        super().__init__(message)
        self.limit = limit
        self.message = message
        self.status = status


def _signame(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"


class WorkerProcess:
    """One started worker. Not thread-safe by itself: callers hold :attr:`lock`."""

    def __init__(self, limits: WorkerLimits) -> None:
        from pocketos.wasm.cache import cache_dir

        self.limits = limits
        self.lock = threading.Lock()
        self.kill_reason: str | None = None
        self.vms = 0
        src = str(Path(__file__).resolve().parents[2])
        #: the worker's private temporary directory, made when its first VM opens (so a
        #: worker waiting in a pool leaves nothing on disk) and removed when it is reaped
        self.tmpdir: str | None = None
        config = {
            "memory": limits.memory,
            "cpu_seconds": limits.cpu_seconds,
            "open_files": limits.open_files,
            "file_size": limits.file_size,
            "seccomp": limits.seccomp,
            "cache": str(cache_dir()),
            "host_pid": os.getpid(),
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-X", "utf8", "-c", _BOOT, src, json.dumps(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env={},
            close_fds=True,
            start_new_session=True,
            cwd="/",
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.wfd = self.proc.stdin.fileno()
        self.rfd = self.proc.stdout.fileno()
        self.pid = self.proc.pid
        self.sandbox: list[str] = []
        self.inherited_env: list[str] = []
        self.open_fds: dict[str, str] = {}
        #: per VM handle: answers the worker's callbacks (host tools, ``ask`` decisions)
        self.handlers: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {}
        self._hello = False
        #: a terminal's frames go to its handler (called from a reader thread); frames for a
        #: terminal not registered yet wait in ``_term_early`` (the worker bounds them)
        self._term_handlers: dict[int, Callable[[dict[str, Any]], None]] = {}
        self._term_early: dict[int, list[dict[str, Any]]] = {}
        self._term_unacked: dict[int, int] = {}
        self._term_lock = threading.Lock()
        #: once a terminal is open, one thread reads every frame and passes on the others
        self._reader: threading.Thread | None = None
        self._frames: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._died: WorkerDied | None = None

    # --- lifecycle -------------------------------------------------------------------
    def wait_ready(self) -> None:
        """Wait for the hello frame (raises WorkerDied if the worker cannot start)."""
        if self._hello:
            return
        msg = self._recv(time.monotonic() + self.limits.start_timeout)
        if msg.get("op") != "hello":
            self.kill("protocol")
            raise WorkerDied("crash", "worker process sent no hello", 1)
        notes = msg.get("sandbox")
        self.sandbox = [str(n) for n in notes] if isinstance(notes, list) else []
        env, fds = msg.get("environ"), msg.get("fds")
        #: names of the environment variables the worker started with (should be none)
        self.inherited_env = [str(e) for e in env] if isinstance(env, list) else []
        #: the worker's open descriptors when it became ready: {fd: what it points at}
        self.open_fds = {str(k): str(v) for k, v in fds.items()} if isinstance(fds, dict) else {}
        self._hello = True

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self, reason: str) -> None:
        if self.kill_reason is None:
            self.kill_reason = reason
        try:
            self.proc.kill()
        except ProcessLookupError:
            pass

    def close(self) -> None:
        """Ask the worker to exit; kill it if it does not."""
        if self.alive:
            try:
                protocol.write_frame(self.wfd, {"op": "exit"})
            except OSError:
                pass
        if self._reader is not None and self._reader is not threading.current_thread():
            # the reader owns the pipe until it sees the worker's end: closing the descriptor
            # under it could let it read whatever file reuses the number
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.kill("closed")
                self.proc.wait()
            self._reader.join(10)
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                if f is not None:
                    f.close()
            except OSError:
                pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill("closed")
            self.proc.wait()
        self._cleanup()

    def private_tmpdir(self) -> str:
        """The worker's temporary directory (made on first use)."""
        if self.tmpdir is None:
            self.tmpdir = tempfile.mkdtemp(prefix="pocketos-worker-")
        return self.tmpdir

    def _cleanup(self) -> None:
        if self.tmpdir is not None:
            shutil.rmtree(self.tmpdir, ignore_errors=True)

    def death(self) -> WorkerDied:
        """Reap the worker and say why it ended."""
        if self.alive and self.kill_reason is None:
            # its pipe closed: it is on its way out; one that lingers is killed
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill("protocol")
        status = self.proc.wait()
        self._cleanup()
        reason = self.kill_reason
        if reason == "timeout":
            return WorkerDied("timeout", "the worker did not answer in time and was killed", 124)
        if reason == "protocol":
            return WorkerDied("crash", "the worker broke the protocol and was killed", 2)
        if status < 0:
            sig = -status
            if sig == signal.SIGXCPU:
                return WorkerDied("cpu", "the worker used up its CPU time limit", 125)
            if sig == signal.SIGKILL and reason is None:
                return WorkerDied("killed", "the worker was killed (SIGKILL)", 128 + sig)
            if sig in (signal.SIGSEGV, signal.SIGBUS, signal.SIGABRT, signal.SIGILL, signal.SIGFPE):
                return WorkerDied("crash", f"the worker crashed ({_signame(sig)})", 128 + sig)
            return WorkerDied(
                reason or "killed", f"the worker was killed ({_signame(sig)})", 128 + sig
            )
        from pocketos.isolation.worker import EXIT_MEMORY

        if status == EXIT_MEMORY:
            return WorkerDied("memory", "the worker ran out of memory", 125)
        return WorkerDied("crash", f"the worker exited unexpectedly (status {status})", 2)

    # --- terminals -------------------------------------------------------------------
    def start_reader(self) -> None:
        """Read the worker's frames all the time from now on (the caller holds ``lock``):
        terminals' output arrives between requests too."""
        if self._reader is None:
            self._reader = threading.Thread(
                target=self._read_all, name=f"pocketos-worker-{self.pid}-reader", daemon=True
            )
            self._reader.start()

    def _read_all(self) -> None:
        while True:
            try:
                frame = self._recv(None)
            except WorkerDied as exc:
                died = exc
                break
            except Exception as exc:  # a closed pipe: the worker is being shut down
                died = WorkerDied("crash", f"the worker's pipe failed: {exc}", 2)
                break
            if "term" in frame:
                self._dispatch_term(frame)
            else:
                self._frames.put(frame)
        with self._term_lock:
            self._died = died
            handlers = list(self._term_handlers.values())
        self._frames.put(None)
        for h in handlers:
            h({"died": died})

    def _dispatch_term(self, frame: dict[str, Any]) -> None:
        """Pass on a terminal's frame. The worker is not trusted: one that sends a terminal
        more than the window it was given (or frames for too many unknown terminals) broke
        the protocol and is killed, so the host's memory stays bounded."""
        from pocketos.isolation.terms import CHUNK, WINDOW

        tid = frame.get("term")
        if type(tid) is not int:
            return
        data = frame.get("data")
        with self._term_lock:
            held = self._term_unacked.get(tid, 0) + (len(data) if isinstance(data, bytes) else 0)
            handler = self._term_handlers.get(tid)
            if held > WINDOW + CHUNK or (handler is None and len(self._term_early) >= 64):
                self.kill("protocol")
                return
            self._term_unacked[tid] = held
            if handler is None:
                self._term_early.setdefault(tid, []).append(frame)
                return
        handler(frame)

    def terminal_taken(self, tid: int, n: int) -> None:
        """The host has taken ``n`` bytes of terminal ``tid``'s output (it acknowledges them)."""
        with self._term_lock:
            if tid in self._term_unacked:
                self._term_unacked[tid] = max(0, self._term_unacked[tid] - n)

    def add_terminal(self, tid: int, handler: Callable[[dict[str, Any]], None]) -> None:
        """Send terminal ``tid``'s frames to ``handler`` (those already here first)."""
        with self._term_lock:
            early = self._term_early.pop(tid, [])
            died = self._died
            if died is None:
                self._term_handlers[tid] = handler
        for frame in early:
            handler(frame)
        if died is not None:
            handler({"died": died})

    def remove_terminal(self, tid: int) -> None:
        with self._term_lock:
            self._term_handlers.pop(tid, None)
            self._term_early.pop(tid, None)
            self._term_unacked.pop(tid, None)

    # --- messages --------------------------------------------------------------------
    def _next(self, deadline: float | None) -> dict[str, Any]:
        """The next frame that is not a terminal's."""
        if self._reader is None:
            return self._recv(deadline)
        try:
            if deadline is None:
                frame = self._frames.get()
            else:
                frame = self._frames.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            self.kill("timeout")
            raise self.death() from None
        if frame is None:
            self._frames.put(None)  # for any later request too
            raise self._died if self._died is not None else self.death()
        return frame

    def _recv(self, deadline: float | None) -> dict[str, Any]:
        poller = select.poll()
        poller.register(self.rfd, select.POLLIN | select.POLLHUP | select.POLLERR)
        while True:
            wait_ms = None
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    self.kill("timeout")
                    raise self.death()
                wait_ms = max(1, int(left * 1000))
            if poller.poll(wait_ms):
                break
        try:
            return protocol.read_frame(self.rfd)
        except EOFError:
            raise self.death() from None
        except protocol.ProtocolError:
            self.kill("protocol")
            raise self.death() from None

    def request(
        self,
        msg: dict[str, Any],
        deadline: float | None,
        on_event: Callable[[str, bytes], None] | None = None,
        max_event_bytes: int | None = None,
    ) -> dict[str, Any]:
        """Send one request and return its reply; events before it go to ``on_event``. A
        worker streaming more than ``max_event_bytes`` (more than its VM may output) is
        killed: the host does not let a worker fill its memory.

        Callbacks the worker sends meanwhile are answered by the VM's handler in
        :attr:`handlers`; the time the host spends answering is added to ``deadline`` (the
        worker was waiting, not running)."""
        if msg.get("op") == "term_open":
            self.start_reader()
        try:
            protocol.write_frame(self.wfd, msg)
        except (BrokenPipeError, ConnectionResetError):
            raise self.death() from None
        streamed = 0
        while True:
            reply = self._next(deadline)
            if "term" in reply:
                self._dispatch_term(reply)
                continue
            if "callback" in reply:
                started = time.monotonic()
                answer = self._answer(reply)
                if deadline is not None:
                    deadline += time.monotonic() - started
                try:
                    frame = protocol.encode(answer)
                except (protocol.ProtocolError, TypeError, ValueError) as exc:
                    frame = protocol.encode(
                        {
                            "op": "answer",
                            "cb": answer.get("cb"),
                            "ok": False,
                            "error": {"type": "PocketOSError", "message": str(exc)},
                        }
                    )
                try:
                    protocol.write_raw(self.wfd, frame)
                except (BrokenPipeError, ConnectionResetError):
                    raise self.death() from None
                continue
            if "event" in reply:
                data = reply.get("data")
                if isinstance(data, bytes):
                    streamed += len(data)
                    if max_event_bytes is not None and streamed > max_event_bytes:
                        self.kill("protocol")
                        raise self.death()
                    if on_event is not None:
                        on_event(str(reply["event"]), data)
                continue
            if reply.get("id") != msg.get("id"):
                self.kill("protocol")
                raise self.death()
            return reply

    def _answer(self, frame: dict[str, Any]) -> dict[str, Any]:
        cid = frame.get("callback")
        handler = self.handlers.get(str(frame.get("vm", "")))
        out: dict[str, Any]
        if handler is None:
            out = {"ok": False, "error": {"type": "PocketOSError", "message": "unknown VM"}}
        else:
            try:
                out = handler(frame)
            except Exception as exc:  # a handler bug is the worker's error, not the host's
                out = {"ok": False, "error": {"type": type(exc).__name__, "message": str(exc)}}
        return {**out, "op": "answer", "cb": cid}
