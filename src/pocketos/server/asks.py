"""``ask`` questions of one VM, waiting for an answer given over the API.

The VM's permission handler parks each question here and ``answer`` settles it. A question has
an origin, the terminal or agent session whose command met the ``ask`` rule (an exec has
none): closing that terminal or session denies its questions, and any it would ask later.

Where the asker waits:

- a synchronous check (a command's file or spawn check) made on a VM's own thread blocks that
  thread until the answer, the VM closes or the time is up;
- an asynchronous check (an agent's tool call, a network fetch) awaits the answer on the loop
  it runs on, which stays free meanwhile;
- a synchronous check made on the server's loop cannot wait (the loop must carry the answer)
  and is refused at once. It happens only for an in-process VM that has no thread, that is one
  whose policy had no ``ask`` rule when it was created.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from pocketos.kernel.permissions import PermissionRequest, asking_thread
from pocketos.server.errors import ApiError

__all__ = ["Origin", "Permission", "PendingPermissions", "origin"]


class Origin:
    """Who runs the commands of a context: ``kind`` ("terminal" or "session") and ``id`` (set
    once the terminal or session exists). ``closed`` once it has gone away."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.id: str | None = None
        self.closed = False

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "id": self.id}


_ORIGIN: contextvars.ContextVar[Origin | None] = contextvars.ContextVar(
    "pocketos_server_origin", default=None
)


@contextlib.contextmanager
def origin(o: Origin) -> Iterator[Origin]:
    """Tasks started inside the block (a terminal's shell, a session's agent) carry ``o``."""
    token = _ORIGIN.set(o)
    try:
        yield o
    finally:
        _ORIGIN.reset(token)


@dataclass
class Permission:
    id: str
    request: PermissionRequest
    future: concurrent.futures.Future[str]
    created: float
    origin: Origin | None = None

    def to_dict(self) -> dict[str, Any]:
        r = self.request
        detail = {k: v for k, v in r.detail.items() if k in ("session_id", "title", "tool_call")}
        return {
            "id": self.id,
            "capability": r.capability,
            "domain": r.domain,
            "operation": r.operation,
            "resource": r.resource,
            "pid": r.pid,
            "created": self.created,
            "origin": self.origin.to_dict() if self.origin is not None else None,
            "detail": _jsonable(detail),
        }


def _jsonable(v: Any) -> Any:
    try:
        json.dumps(v)
        return v
    except (TypeError, ValueError):
        return json.loads(json.dumps(v, default=str))


class PendingPermissions:
    """``ask`` requests of one VM waiting for an answer over the API.

    The future of each is a thread-safe one, so a check made on another thread waits the same
    way; the list itself is changed on the server's loop only."""

    def __init__(self) -> None:
        #: the thread of the server's event loop (where API answers arrive)
        self.loop_thread = threading.get_ident()
        self.loop: asyncio.AbstractEventLoop | None = None
        #: seconds a question waits for its answer (the server's ``ask_timeout``)
        self.timeout = 30.0
        self.items: dict[str, Permission] = {}
        self._ids = itertools.count(1)
        self.listeners: list[Callable[[str, Permission], None]] = []
        #: set while requests are pending (for ``GET /permissions?wait=N``)
        self.changed = asyncio.Event()
        #: once the VM is closing every question is denied at once
        self.closed = False

    def bind(self) -> None:
        """Answers arrive on the running loop (the server's)."""
        self.loop_thread = threading.get_ident()
        self.loop = asyncio.get_running_loop()
        self.closed = False

    def handler(self, request: PermissionRequest) -> Any:
        who = _ORIGIN.get()
        if self.closed or (who is not None and who.closed):
            return "deny"
        asker = asking_thread()
        if asker == self.loop_thread:
            # a synchronous check made on the server's event loop: waiting would hold the loop
            # that must carry the answer, so refuse at once
            return "deny"
        if threading.get_ident() == self.loop_thread:
            return self._wait_on_loop(request, who)
        if asker is not None:
            return self._wait_here(request, who)
        return self._wait_elsewhere(request, who)

    def _new(self, request: PermissionRequest, who: Origin | None) -> Permission:
        fut: concurrent.futures.Future[str] = concurrent.futures.Future()
        return Permission(f"perm-{next(self._ids)}", request, fut, time.time(), who)

    def _add(self, item: Permission) -> None:
        """On the server's loop: list the question (or deny it if its asker has gone)."""
        if self.closed or (item.origin is not None and item.origin.closed):
            item.future.set_result("deny")
            return
        self.items[item.id] = item
        self._notify("pending", item)

    def _drop(self, item: Permission) -> None:
        """On the server's loop: forget a question nobody answered."""
        if self.items.pop(item.id, None) is not None:
            item.future.cancel()
            self._notify("expired", item)

    def _wait_on_loop(self, request: PermissionRequest, who: Origin | None) -> Any:
        """An asynchronous check on the server's loop: a coroutine awaiting the answer."""
        item = self._new(request, who)
        self._add(item)
        return self._await(item, self._drop)

    async def _await(self, item: Permission, drop: Callable[[Permission], Any]) -> str:
        """The answer to ``item``, awaited on the running loop; ``drop`` forgets it after."""
        try:
            return await asyncio.wrap_future(item.future)
        finally:
            drop(item)

    def _post(self, fn: Callable[[Permission], None], item: Permission) -> bool:
        loop = self.loop
        if loop is None or loop.is_closed():
            return False
        try:
            loop.call_soon_threadsafe(fn, item)
        except RuntimeError:  # the loop closed meanwhile
            return False
        return True

    def _wait_here(self, request: PermissionRequest, who: Origin | None) -> str:
        """A synchronous check on another thread (a VM thread): park the question on the loop,
        then block this thread until it is answered, the VM closes or the time is up."""
        item = self._new(request, who)
        if not self._post(self._add, item):
            return "deny"
        try:
            return item.future.result(timeout=self.timeout)
        except (concurrent.futures.TimeoutError, concurrent.futures.CancelledError):
            return "deny"
        finally:
            self._post(self._drop, item)

    def _wait_elsewhere(self, request: PermissionRequest, who: Origin | None) -> Any:
        """An asynchronous check on a VM thread's loop: a coroutine awaiting the answer there,
        so that loop keeps running the VM's other work meanwhile."""
        item = self._new(request, who)
        if not self._post(self._add, item):
            return "deny"
        return self._await(item, lambda it: self._post(self._drop, it))

    def _notify(self, what: str, item: Permission) -> None:
        if self.items:
            self.changed.set()
        else:
            self.changed.clear()
        for cb in list(self.listeners):
            with contextlib.suppress(Exception):
                cb(what, item)

    def list(self) -> list[dict[str, Any]]:
        return [p.to_dict() for p in self.items.values()]

    def answer(self, pid: str, decision: str) -> Permission:
        item = self.items.pop(pid, None)
        if item is None or item.future.done():
            raise ApiError(404, "not_found", f"no pending permission request {pid}")
        item.future.set_result(decision)
        self._notify("answered", item)
        return item

    def deny_all(self) -> None:
        for pid in list(self.items):
            with contextlib.suppress(ApiError):
                self.answer(pid, "deny")

    def deny_from(self, who: Origin) -> None:
        """``who`` has gone: deny its questions now and any it asks later."""
        who.closed = True
        for pid, item in list(self.items.items()):
            if item.origin is who:
                with contextlib.suppress(ApiError):
                    self.answer(pid, "deny")

    def close(self) -> None:
        """The VM is closing: deny every question, now and later."""
        self.closed = True
        self.deny_all()
