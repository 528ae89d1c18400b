"""``python -m pocketos.paperclip serve SOCKET``: a warm runner. It imports everything a run
needs once, then forks one child per run, so a heartbeat does not pay for Python's start-up and
imports (about a second on a quiet machine, most of it the ACP schema's pydantic models).

Protocol, on a Unix socket only the current user can open: the client sends the run's JSON
envelope plus ``"processEnv"`` (the runner's environment) and closes its sending side; the
child answers ``{"type": "spawn", "pid": N}`` and then exactly what ``python -m
pocketos.paperclip`` prints (stderr goes to the same stream). The child leads its own process
group, so the adapter cancels a run with a signal to ``-N``. The server exits when its stdin
closes (the adapter, its parent, went away).

The server keeps one *spare* child forked ahead of time: it starts the worker process of the
next run's process-isolated VM (the default isolation) and waits; a run is handed to it (the
connection's descriptor and the envelope over a socket pair), so the run does not wait for a
worker to start. If the spare is gone, the server forks a child for the run as before."""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import sys
import threading
from typing import Any

__all__ = ["serve"]


def _preload() -> None:
    """Import (and touch once) what every run uses."""
    import acp  # noqa: F401
    import acp.schema  # noqa: F401
    import anyio._backends._asyncio  # noqa: F401
    import httpcore  # noqa: F401
    import httpx  # noqa: F401

    import pocketos.agent.acp_agent  # noqa: F401
    import pocketos.agent.providers  # noqa: F401
    import pocketos.net.gateway  # noqa: F401
    import pocketos.paperclip.runner  # noqa: F401
    import pocketos.paperclip.tools  # noqa: F401
    import pocketos.sessions.session  # noqa: F401
    import pocketos.store._sqlite  # noqa: F401
    import pocketos.tools._runtime  # noqa: F401
    import pocketos.tools.commands  # noqa: F401
    from pocketos import VM
    from pocketos.agent.providers import tls_context

    tls_context()  # the CA bundle, loaded once for every run forked from here
    VM().close()


def _recv_all(conn: socket.socket, limit: int = 64 << 20) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        b = conn.recv(1 << 16)
        if not b:
            return b"".join(chunks)
        size += len(b)
        if size > limit:
            raise ValueError("envelope too large")
        chunks.append(b)


def _child(conn: socket.socket, envelope: dict[str, Any]) -> None:
    """In the forked child: become the runner for one run, never return."""
    code = 1
    try:
        os.setsid()
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_DFL)
        env = envelope.pop("processEnv", None)
        if isinstance(env, dict):
            os.environ.clear()
            os.environ.update({str(k): str(v) for k, v in env.items()})
        fd = conn.fileno()
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        sys.stdout = open(1, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
        print(json.dumps({"type": "spawn", "pid": os.getpid()}), flush=True)
        import asyncio

        from pocketos.paperclip.runner import run

        os.environ.setdefault("POCKETOS_STORE", ":memory:")
        result = asyncio.run(run(envelope, sys.stdout))
        code = int(result.get("exitCode") or 0)
    except BaseException as exc:  # the child must end here, whatever happens
        with contextlib.suppress(Exception):
            print(f"pocketos runner: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def _no_parent_death_signal(sig: int) -> None:
    """``prctl(PR_SET_PDEATHSIG, sig)`` (0: none), where the C library offers it."""
    import ctypes

    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(1, sig, 0, 0, 0)


def _spare(sock: socket.socket, server_pid: int) -> None:
    """In a spare child: start the next run's worker, wait for the run, then become its
    runner (never returns)."""
    envelope: Any = None
    conn: socket.socket | None = None
    try:

        def stop(*_: Any) -> None:
            raise SystemExit(0)

        signal.signal(signal.SIGTERM, stop)
        for sig in (signal.SIGINT, signal.SIGCHLD, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_DFL)
        _no_parent_death_signal(signal.SIGTERM)
        if os.getppid() != server_pid:  # the server ended before we were ready
            os._exit(0)
        from pocketos.paperclip.runner import prestart_worker

        with contextlib.suppress(Exception):  # the run starts its own worker instead
            prestart_worker()
        _msg, fds, _flags, _addr = socket.recv_fds(sock, 16, 1)
        if not fds:
            raise SystemExit(0)
        conn = socket.socket(fileno=fds[0])
        envelope = json.loads(_recv_all(sock))
        sock.close()
        _no_parent_death_signal(0)  # a run, once started, outlives the server like any child
        if not isinstance(envelope, dict):
            raise ValueError("the envelope is not an object")
    except BaseException:
        with contextlib.suppress(BaseException):
            from pocketos.paperclip.runner import discard_prestarted

            discard_prestarted()
        os._exit(0)
    _child(conn, envelope)


def _start_spare(srv: socket.socket) -> tuple[int, socket.socket] | None:
    try:
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    except OSError:
        return None
    server_pid = os.getpid()
    pid = os.fork()
    if pid == 0:
        srv.close()
        mine.close()
        _spare(theirs, server_pid)
    theirs.close()
    return pid, mine


def _hand_over(spare: tuple[int, socket.socket], conn: socket.socket, raw: bytes) -> bool:
    """Give the run to the spare child; False if it cannot take it (it is gone)."""
    pid, sock = spare
    try:
        socket.send_fds(sock, [b"R"], [conn.fileno()])
        sock.sendall(raw)
        return True
    except OSError:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
        return False
    finally:
        sock.close()


def _end_spare(spare: tuple[int, socket.socket] | None) -> None:
    """Let the spare child close its worker and exit (waiting a bounded time for it)."""
    if spare is None:
        return
    pid, sock = spare
    sock.close()
    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        return
    try:
        select.select([fd], [], [], 10.0)
    finally:
        os.close(fd)
    _reap()


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def serve(path: str) -> int:
    _preload()
    if threading.active_count() != 1:
        print("pocketos runner server: threads after preload; cannot fork safely", file=sys.stderr)
        return 1
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        srv.bind(path)
    finally:
        os.umask(old)
    srv.listen(64)

    def stop(*_: Any) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    spare = _start_spare(srv)
    print("ready", flush=True)
    stdin = sys.stdin.fileno()
    try:
        while True:
            ready, _, _ = select.select([srv, stdin], [], [], 1.0)
            _reap()
            if stdin in ready and not os.read(stdin, 4096):
                return 0
            if srv not in ready:
                continue
            conn, _ = srv.accept()
            try:
                conn.settimeout(30)
                raw = _recv_all(conn)
                envelope = json.loads(raw)
                if not isinstance(envelope, dict):
                    raise ValueError("the envelope is not an object")
                conn.settimeout(None)
            except (OSError, ValueError) as exc:
                with contextlib.suppress(OSError):
                    msg = {"type": "result", "exitCode": 2, "errorMessage": f"bad envelope: {exc}"}
                    conn.sendall((json.dumps(msg) + "\n").encode())
                conn.close()
                continue
            if spare is not None and _hand_over(spare, conn, raw):
                conn.close()
                spare = _start_spare(srv)
                continue
            spare = None
            pid = os.fork()
            if pid == 0:
                srv.close()
                _child(conn, envelope)
            conn.close()
            spare = _start_spare(srv)
    finally:
        _end_spare(spare)
        srv.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
