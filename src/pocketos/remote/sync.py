"""``RemoteVM``: the sync twin of :class:`AsyncRemoteVM` (the API of :class:`pocketos.VM`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast
from urllib.parse import quote

from pocketos._loop import run_sync
from pocketos.remote.client import AsyncRemoteVM
from pocketos.remote.session import AsyncRemoteSession, RemoteSession
from pocketos.vm import SyncPython
from pocketos.vm_api import SyncFacade
from pocketos.vm_processes import SyncProcess

__all__ = ["RemoteVM"]


class RemoteVM(SyncFacade[AsyncRemoteVM]):
    """A VM on a pocketos server, used without ``await``: ``RemoteVM(url, token=...)``."""

    def __init__(self, url: str, **options: Any) -> None:
        self._vm = AsyncRemoteVM(url, **options)

    def __getattr__(self, name: str) -> Any:
        # the file, snapshot, audit and permission methods are plain calls already
        return getattr(self._vm, name)

    def close(self) -> None:
        self._vm.close()

    def exec(self, script: str, **kw: Any) -> Any:
        if not isinstance(script, str):
            raise TypeError(f"script must be str, not {type(script).__name__}")
        return self._vm.exec_sync(script, None, **kw)

    def run(self, argv: Sequence[str], **kw: Any) -> Any:
        if not argv:
            raise ValueError("argv must not be empty")
        return self._vm.exec_sync(None, list(argv), **kw)

    def spawn(self, argv: Sequence[str], **kw: Any) -> SyncProcess:
        # the remote process has the surface of a local one
        return SyncProcess(cast(Any, run_sync(self._vm.spawn(list(argv), **kw))))

    def wait(self, pid: int, timeout: float | None = None) -> int:
        return run_sync(self._vm.wait(pid, timeout))

    def fork(self, **options: Any) -> RemoteVM:
        child = RemoteVM.__new__(RemoteVM)
        child._vm = self._vm.fork(**options)
        return child

    def python(self, **kw: Any) -> SyncPython:
        return SyncPython(self._vm.python(**kw))

    def shell(self, **kw: Any) -> Any:
        from pocketos.shell.session import SyncShellSession

        return SyncShellSession(self._vm.shell(**kw))  # type: ignore[arg-type]

    def create_session(self, agent: str = "pocketos", **options: Any) -> RemoteSession:
        r = self._vm.conn.request(
            "POST", f"{self._vm._base}/sessions", json={"agent": agent, **options}
        )
        return RemoteSession(AsyncRemoteSession(self._vm, r.json()))

    def resume_session(self, session_id: str, **options: Any) -> RemoteSession:
        r = self._vm.conn.request(
            "POST", f"{self._vm._base}/sessions/{quote(session_id)}/resume", json=options
        )
        return RemoteSession(AsyncRemoteSession(self._vm, r.json()))

    def __repr__(self) -> str:
        return f"<RemoteVM {self.id} on {self._vm.url}>"
