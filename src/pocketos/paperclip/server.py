"""``python -m pocketos.paperclip serve SOCKET``: a warm runner. It imports everything a run
needs once, then forks one child per run, so a heartbeat does not pay for Python's start-up and
imports (about a second on a quiet machine, most of it the ACP schema's pydantic models).

Protocol, on a Unix socket only the current user can open: the client sends the run's JSON
envelope plus ``"processEnv"`` (the runner's environment) and closes its sending side; the
child answers ``{"type": "spawn", "pid": N}`` and then exactly what ``python -m
pocketos.paperclip`` prints (stderr goes to the same stream). The child leads its own process
group, so the adapter cancels a run with a signal to ``-N``. The server exits when its stdin
closes (the adapter, its parent, went away)."""

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
                envelope = json.loads(_recv_all(conn))
                if not isinstance(envelope, dict):
                    raise ValueError("the envelope is not an object")
                conn.settimeout(None)
            except (OSError, ValueError) as exc:
                with contextlib.suppress(OSError):
                    msg = {"type": "result", "exitCode": 2, "errorMessage": f"bad envelope: {exc}"}
                    conn.sendall((json.dumps(msg) + "\n").encode())
                conn.close()
                continue
            pid = os.fork()
            if pid == 0:
                srv.close()
                _child(conn, envelope)
            conn.close()
    finally:
        srv.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
