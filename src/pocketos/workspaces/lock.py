"""A writer's lock on one workspace, held in the store itself.

The lock is a key created exclusively (``O_EXCL`` / a conditional put) holding who took it:
host, pid and time. A second writer waits (polling) up to ``timeout`` seconds and then fails
with :class:`WorkspaceLockedError` naming the holder. A lock is *stale*, and is broken, when its
holder is a process of this host that no longer exists, or when it is older than
``stale_after`` seconds (a holder on another host that died).
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from types import TracebackType

from pocketos.workspaces.errors import WorkspaceLockedError
from pocketos.workspaces.storage import Storage

__all__ = ["StoreLock"]

POLL = 0.05


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class StoreLock:
    def __init__(
        self,
        storage: Storage,
        key: str,
        *,
        timeout: float = 30.0,
        stale_after: float = 600.0,
        what: str = "",
    ) -> None:
        self.storage = storage
        self.key = key
        self.timeout = timeout
        self.stale_after = stale_after
        self.what = what or key
        self.token = uuid.uuid4().hex
        self.held = False

    def _record(self) -> bytes:
        rec = {"host": socket.gethostname(), "pid": os.getpid(), "time": time.time()}
        rec["token"] = self.token
        return json.dumps(rec).encode()

    def _holder(self) -> dict[str, object] | None:
        try:
            return dict(json.loads(self.storage.read(self.key)))
        except FileNotFoundError:
            return None
        except ValueError:
            return {}  # a torn or foreign record: judged by its age only

    def _stale(self, holder: dict[str, object]) -> bool:
        if holder.get("host") == socket.gethostname():
            pid = holder.get("pid")
            if isinstance(pid, int) and pid != os.getpid() and not _pid_alive(pid):
                return True
        t = holder.get("time")
        if not isinstance(t, (int, float)):
            try:
                t = self.storage.mtime(self.key)
            except FileNotFoundError:
                return False
        return time.time() - float(t) > self.stale_after

    def acquire(self) -> None:
        deadline = time.monotonic() + self.timeout
        while True:
            if self.storage.create(self.key, self._record(), durable=False):
                self.held = True
                return
            holder = self._holder()
            if holder is not None and self._stale(holder):
                # break it, unless someone broke it and took it since we looked
                if self._holder() == holder:
                    self.storage.delete(self.key)
                continue
            if time.monotonic() >= deadline:
                who = ""
                if holder:
                    who = f" (held by pid {holder.get('pid')} on {holder.get('host')})"
                raise WorkspaceLockedError(
                    f"{self.what} is locked by another writer{who}; gave up after "
                    f"{self.timeout:g} s"
                )
            time.sleep(POLL)

    def release(self) -> None:
        if not self.held:
            return
        self.held = False
        holder = self._holder()
        if holder is not None and holder.get("token") == self.token:
            self.storage.delete(self.key)

    def __enter__(self) -> StoreLock:
        self.acquire()
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()
