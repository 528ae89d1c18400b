"""Handles: the VM API on a VM that lives in a host actor somewhere in the cluster.

An :class:`AsyncVMHandle` sends each call to the host that holds its VM. When that host dies,
the handle has its durable VM reopened on another host from the last committed run and then:
a read is repeated there; anything else (an exec, a write, a prompt) raises
:class:`~pocketos.cluster.errors.Interrupted`, because it may or may not have happened — it is
never silently repeated or lost. A moved or recovered VM's sessions resume on the next call
(their store is shared). :class:`VMHandle` and :class:`SessionHandle` are the sync twins.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pocketos._loop import run_sync
from pocketos.cluster.errors import ClusterError, Interrupted
from pocketos.cluster.host import READS, WRITES
from pocketos.cluster.wire import HostGone
from pocketos.errors import PocketOSError

if TYPE_CHECKING:
    from pocketos.cluster.cluster import Cluster, HostRef

__all__ = [
    "AsyncSessionHandle",
    "AsyncShellHandle",
    "AsyncVMHandle",
    "SessionHandle",
    "ShellHandle",
    "VMHandle",
]

_RESUME_KEYS = (
    "store",
    "env",
    "mcp_servers",
    "permission_handler",
    "permission_timeout",
    "permission_default",
    "agent_config",
    "instructions",
)


def _actor_error() -> tuple[type[BaseException], ...]:
    """What a call to a dead host raises: Ray's error, or a broken direct connection."""
    from ray.exceptions import RayActorError

    return (RayActorError, HostGone)


def _unwrap(reply: tuple[str, Any]) -> Any:
    status, value = reply
    if status == "err":
        raise value
    return value


class AsyncVMHandle:
    """A VM on a cluster host, with the :class:`~pocketos.AsyncVM` API: ``await h.exec(...)``,
    ``await h.read_file(p)`` (file calls are awaited here: they cross a process boundary),
    ``await h.create_session(...)``, ``await h.migrate(host)``, ``await h.close()``."""

    def __init__(
        self,
        cluster: Cluster,
        vm_id: str,
        spec: dict[str, Any],
        labels: dict[str, str] | None,
        host: HostRef,
        created: dict[str, Any],
    ) -> None:
        self._cluster = cluster
        self.id = vm_id
        self._spec = spec
        self._labels = labels
        self._host = host
        self.run_number: int | None = created.get("run")
        self.epoch = 0  # how many times the VM was (re)opened on a host since it was created
        self.closed = False
        self.lost: BaseException | None = None
        self._lock: asyncio.Lock | None = None

    def __repr__(self) -> str:
        what = f"durable {self.name!r}" if self.durable else "ephemeral"
        return f"<AsyncVMHandle {self.id} ({what}) on {self._host.name}>"

    @property
    def name(self) -> str | None:
        return self._spec.get("name")

    @property
    def durable(self) -> bool:
        return bool(self._spec.get("name"))

    @property
    def host(self) -> str:
        """The name of the host that holds the VM now."""
        return self._host.name

    # --- the call path -------------------------------------------------------------------
    def _alive(self) -> None:
        if self.lost is not None:
            raise self.lost
        if self.closed:
            raise PocketOSError(f"VM handle {self.id} is closed")

    async def _recover(self, epoch: int, dead: HostRef) -> None:
        """The host died under a call: fence it (the cluster reopens its durable VMs), then
        make sure this VM is back unless another call already did it."""
        await self._cluster._host_died(dead)
        await self._reopen_after(epoch, dead)

    async def _reopen_after(self, epoch: int, dead: HostRef) -> None:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self.epoch == epoch and self.lost is None and self._host is dead:
                await self._cluster._reopen(self, dead)

    async def _host_call(
        self, fn: str, *args: Any, retry: bool = False, what: str | None = None
    ) -> Any:
        """Call ``fn`` on the VM's host actor. When the host dies during the call, recover the
        VM, then repeat the call (``retry``) or raise Interrupted."""
        attempts = 0
        while True:
            self._alive()
            host, epoch = self._host, self.epoch
            try:
                reply = await host.send(fn, args)
            except _actor_error() as exc:
                attempts += 1
                await self._failed(host, epoch, exc, retry and attempts < 3, what or fn)
                continue
            return _unwrap(reply)

    def _host_call_sync(
        self, fn: str, *args: Any, retry: bool = False, what: str | None = None
    ) -> Any:
        """:meth:`_host_call` for sync callers, without an event loop."""
        attempts = 0
        while True:
            self._alive()
            host, epoch = self._host, self.epoch
            try:
                reply = host.send_sync(fn, args)
            except _actor_error() as exc:
                attempts += 1
                run_sync(self._failed(host, epoch, exc, retry and attempts < 3, what or fn))
                continue
            return _unwrap(reply)

    async def _failed(
        self, host: HostRef, epoch: int, exc: BaseException, retry: bool, what: str
    ) -> None:
        """After a call met a dead host: recover, then return (to repeat the call) or raise."""
        await self._recover(epoch, host)
        if self.lost is not None:
            raise self.lost from exc
        if retry:
            return
        raise Interrupted(
            f"{what} was interrupted: host {host.name} died while it ran. "
            f"VM {self.id} came back on host {self._host.name} from run "
            f"{self.run_number}; the call is not repeated"
        ) from exc

    def call_sync(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """:meth:`call` without an event loop (what :class:`VMHandle` uses)."""
        return self._host_call_sync(
            "call", self.id, method, args, kwargs, retry=method in READS, what=method
        )

    async def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """Call VM method ``method`` on the host (``exec``, ``read_file`` ...)."""
        return await self._host_call(
            "call", self.id, method, args, kwargs, retry=method in READS, what=method
        )

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or (name not in READS and name not in WRITES):
            raise AttributeError(f"{type(self).__name__!r} has no attribute {name!r}")

        async def method(*args: Any, **kwargs: Any) -> Any:
            return await self.call(name, *args, **kwargs)

        method.__name__ = name
        return method

    # the common calls, spelled out
    async def exec(self, script: str, **kw: Any) -> Any:
        return await self.call("exec", script, **kw)

    async def run(self, argv: list[str], **kw: Any) -> Any:
        return await self.call("run", argv, **kw)

    async def read_file(self, path: str) -> bytes:
        return await self.call("read_file", path)

    async def read_text(self, path: str) -> str:
        return await self.call("read_text", path)

    async def write_file(self, path: str, data: str | bytes, **kw: Any) -> None:
        await self.call("write_file", path, data, **kw)

    async def exists(self, path: str) -> bool:
        return await self.call("exists", path)

    async def save(self, message: str = "") -> Any:
        return await self.call("save", message)

    async def getattr(self, name: str) -> Any:
        """A VM property (``env``, ``cwd``, ``id``)."""
        return await self._host_call("attr", self.id, name, retry=True)

    # --- shells and sessions -----------------------------------------------------------
    async def shell(
        self, *, env: dict[str, str] | None = None, cwd: str | None = None
    ) -> AsyncShellHandle:
        """A persistent shell on the VM's host. It does not survive a move of the VM."""
        shid = await self._host_call("shell_open", self.id, env, cwd, what="shell")
        return AsyncShellHandle(self, shid)

    async def create_session(self, agent: Any = "pocketos", **options: Any) -> AsyncSessionHandle:
        """An agent session on the VM's host. Options as :meth:`AsyncVM.create_session`; a
        permission handler runs on the host. The session store defaults to the cluster's."""
        options = self._cluster._session_options(options)
        sid = await self._host_call(
            "session_create", self.id, agent, options, what="create_session"
        )
        return AsyncSessionHandle(self, sid, options)

    async def resume_session(self, session_id: str, **options: Any) -> AsyncSessionHandle:
        options = self._cluster._session_options(options)
        opts = {k: v for k, v in options.items() if k in _RESUME_KEYS}
        await self._host_call(
            "session_resume", self.id, session_id, opts, retry=True, what="resume_session"
        )
        return AsyncSessionHandle(self, session_id, options)

    # --- moves and lifetime ------------------------------------------------------------
    async def migrate(self, host: str | None = None) -> str:
        """Move the VM to host ``host`` (by name; the least-loaded other host when None): it
        is committed, closed here and reopened there. Only durable VMs move. Refused while an
        exec runs. Returns the new host's name."""
        self._alive()
        return await self._cluster._migrate(self, host)

    async def close(self, *, save: bool = True) -> None:
        """Close the VM on its host (a durable VM is committed first unless ``save=False``)."""
        if self.closed:
            return
        try:
            if self.lost is None:
                reply = await self._host.actor.release.remote(self.id, save=save)
                _unwrap(reply)
        except _actor_error():
            pass  # the host is gone; a durable VM stays at its last committed run
        finally:
            self.closed = True
            self._cluster._forget(self)


class AsyncShellHandle:
    """A persistent shell in a cluster VM: ``await sh.run(script)``."""

    def __init__(self, vm: AsyncVMHandle, shell_id: str) -> None:
        self.vm = vm
        self.id = shell_id
        self._epoch = vm.epoch

    async def _call(self, method: str, *args: Any, **kw: Any) -> Any:
        if self._epoch != self.vm.epoch:
            raise ClusterError(
                f"shell {self.id} ended when VM {self.vm.id} moved to host {self.vm.host}; "
                "open a new shell",
                "shell_lost",
            )
        return await self.vm._host_call(
            "shell_call", self.id, method, args, kw, what=f"shell {method}"
        )

    async def run(self, script: str, **kw: Any) -> Any:
        return await self._call("run", script, **kw)

    async def aclose(self) -> None:
        if self._epoch == self.vm.epoch and not self.vm.closed and self.vm.lost is None:
            await self._call("aclose")


class AsyncSessionHandle:
    """An agent session running on a cluster host. After its VM moves or its host dies it
    resumes on the VM's new host at the next call (a prompt that was running when the host
    died raises Interrupted)."""

    def __init__(self, vm: AsyncVMHandle, session_id: str, options: dict[str, Any]) -> None:
        self.vm = vm
        self.id = session_id
        self._options = {k: v for k, v in options.items() if k in _RESUME_KEYS}
        self._epoch = vm.epoch

    async def _call(self, method: str, *args: Any, **kw: Any) -> Any:
        if self._epoch != self.vm.epoch:
            await self.vm._host_call(
                "session_resume", self.vm.id, self.id, self._options, retry=True
            )
            self._epoch = self.vm.epoch
        try:
            return await self.vm._host_call(
                "session_call", self.id, method, args, kw, what=f"session {method}"
            )
        except Interrupted as exc:
            raise Interrupted(f"{exc.message}; session {self.id} resumes on the next call") from exc

    async def prompt(self, content: str | Sequence[Any]) -> Any:
        return await self._call("prompt", content)

    async def cancel(self) -> None:
        await self._call("cancel")

    async def set_mode(self, mode_id: str) -> None:
        await self._call("set_mode", mode_id)

    async def set_model(self, model_id: str) -> None:
        await self._call("set_model", model_id)

    async def transcript(self) -> str:
        return await self._call("transcript")

    async def close(self) -> None:
        if self._epoch == self.vm.epoch and not self.vm.closed and self.vm.lost is None:
            await self._call("close")


# --- sync twins --------------------------------------------------------------------------
class VMHandle:
    """The sync twin of :class:`AsyncVMHandle`: the :class:`~pocketos.VM` API, no ``await``."""

    def __init__(self, inner: AsyncVMHandle) -> None:
        self._h = inner

    def __repr__(self) -> str:
        return repr(self._h).replace("AsyncVMHandle", "VMHandle")

    @property
    def async_handle(self) -> AsyncVMHandle:
        return self._h

    @property
    def id(self) -> str:
        return self._h.id

    @property
    def name(self) -> str | None:
        return self._h.name

    @property
    def host(self) -> str:
        return self._h.host

    @property
    def durable(self) -> bool:
        return self._h.durable

    @property
    def closed(self) -> bool:
        return self._h.closed

    def __enter__(self) -> VMHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name in READS or name in WRITES:
            h = self._h

            def call(*args: Any, **kwargs: Any) -> Any:
                return h.call_sync(name, *args, **kwargs)

            call.__name__ = name
            return call
        fn = getattr(self._h, name)

        def method(*args: Any, **kwargs: Any) -> Any:
            return run_sync(fn(*args, **kwargs))

        method.__name__ = name
        return method

    def exec(self, script: str, **kw: Any) -> Any:
        return self._h.call_sync("exec", script, **kw)

    def run(self, argv: list[str], **kw: Any) -> Any:
        return self._h.call_sync("run", argv, **kw)

    def read_file(self, path: str) -> bytes:
        return self._h.call_sync("read_file", path)

    def write_file(self, path: str, data: str | bytes, **kw: Any) -> None:
        self._h.call_sync("write_file", path, data, **kw)

    def migrate(self, host: str | None = None) -> str:
        return run_sync(self._h.migrate(host))

    def shell(self, *, env: dict[str, str] | None = None, cwd: str | None = None) -> ShellHandle:
        return ShellHandle(run_sync(self._h.shell(env=env, cwd=cwd)))

    def create_session(self, agent: Any = "pocketos", **options: Any) -> SessionHandle:
        return SessionHandle(run_sync(self._h.create_session(agent, **options)))

    def resume_session(self, session_id: str, **options: Any) -> SessionHandle:
        return SessionHandle(run_sync(self._h.resume_session(session_id, **options)))

    def close(self, *, save: bool = True) -> None:
        run_sync(self._h.close(save=save))


class ShellHandle:
    """The sync twin of :class:`AsyncShellHandle`."""

    def __init__(self, inner: AsyncShellHandle) -> None:
        self._s = inner

    @property
    def id(self) -> str:
        return self._s.id

    def run(self, script: str, **kw: Any) -> Any:
        return run_sync(self._s.run(script, **kw))

    def close(self) -> None:
        run_sync(self._s.aclose())


class SessionHandle:
    """The sync twin of :class:`AsyncSessionHandle`."""

    def __init__(self, inner: AsyncSessionHandle) -> None:
        self._s = inner

    @property
    def id(self) -> str:
        return self._s.id

    def prompt(self, content: str | Sequence[Any]) -> Any:
        return run_sync(self._s.prompt(content))

    def set_mode(self, mode_id: str) -> None:
        run_sync(self._s.set_mode(mode_id))

    def cancel(self) -> None:
        run_sync(self._s.cancel())

    def close(self) -> None:
        run_sync(self._s.close())
