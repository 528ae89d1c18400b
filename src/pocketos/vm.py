"""The public facade: :class:`AsyncVM` and its sync twin :class:`VM`.

The VM's parts live by concept in their own modules: the file and mount methods in
:mod:`pocketos.vm_files`, processes (exec, run, sandbox_run, spawn) in
:mod:`pocketos.vm_processes`, and what every VM flavour shares (``ExecResult``, argument
checks) in :mod:`pocketos.vm_api`. This module builds the VM and holds its lifetime, durable
workspaces, cron, fork, agent sessions and interpreters.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Mapping
from typing import Any, cast

from pocketos._loop import run_sync
from pocketos.assembly import CommandSpec, command_table, default_names
from pocketos.errors import PocketOSError
from pocketos.kernel.audit import AuditEvent
from pocketos.kernel.base import HOSTNAME, base_layer
from pocketos.kernel.fs.api import Backend
from pocketos.kernel.fs.memory import MemoryBackend
from pocketos.kernel.fs.overlay import OverlayBackend
from pocketos.kernel.fs.vfs import VFS
from pocketos.kernel.kernel import Kernel
from pocketos.kernel.limits import Limits
from pocketos.kernel.permissions import PermissionHandler, Policy
from pocketos.vm_api import ExecResult, SyncFacade, check_abs
from pocketos.vm_api import to_bytes as _b  # noqa: F401  (imported from here by name)
from pocketos.vm_files import FilesMixin
from pocketos.vm_processes import Process, ProcessesMixin, SyncProcess
from pocketos.vm_processes import _StreamBuffer as _StreamBuffer

__all__ = ["AsyncVM", "VM", "ExecResult", "Process", "DEFAULT_ENV"]

DEFAULT_ENV: dict[str, str] = {
    "HOME": "/home/user",
    "USER": "user",
    "LOGNAME": "user",
    "SHELL": "/bin/bash",
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "TERM": "dumb",
    "HOSTNAME": HOSTNAME,
}


class AsyncVM(FilesMixin, ProcessesMixin):
    """One VM: its filesystem, processes, shells, permissions and limits.

    Create with ``AsyncVM()`` (or ``await AsyncVM.create(...)``); use as an async context
    manager or call ``close()``. ``isolation="process"`` builds the same VM in a sandboxed
    worker process instead (:class:`pocketos.isolation.AsyncProcessVM`, docs/isolation.md).
    """

    def __new__(cls, *args: Any, **options: Any) -> Any:
        isolation = options.get("isolation", "in-process")
        if isolation == "process" and cls is AsyncVM and "_lowers" not in options:
            from pocketos.isolation import AsyncProcessVM

            return AsyncProcessVM(**options)
        return super().__new__(cls)

    def __init__(
        self,
        *,
        isolation: str = "in-process",
        policy: Policy | Mapping[str, Any] | None = None,
        permissions: Policy | Mapping[str, Any] | None = None,
        permission_handler: PermissionHandler | None = None,
        limits: Limits | Mapping[str, Any] | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str = "/home/user",
        root: str = "memory",
        snapshots: Iterable[Any] | None = None,
        mounts: Mapping[str, Any] | None = None,
        name: str | None = None,
        toolkits: Iterable[Any] | None = None,
        network: Mapping[str, Any] | Any | None = None,
        store: Any = None,
        commands: CommandSpec | None = None,
        _lowers: list[Backend] | None = None,
        _upper: MemoryBackend | None = None,
    ) -> None:
        if isolation != "in-process":
            raise ValueError(f"isolation must be 'in-process' or 'process', not {isolation!r}")
        self.limits = Limits().merged(limits) if not isinstance(limits, Limits) else limits
        pol = Policy.coerce(policy if policy is not None else permissions, permission_handler)
        base_env = dict(DEFAULT_ENV)
        if env:
            base_env.update(env)
        self.cwd = cwd
        if root not in ("memory", "read-only"):
            raise ValueError(f"root must be 'memory' or 'read-only', not {root!r}")
        lim = self.limits
        lowers = _lowers
        if lowers is None:
            lowers = [base_layer(default_names())]
            if snapshots:
                from pocketos.snapshot import Snapshot

                for snap in snapshots:
                    s = snap if isinstance(snap, Snapshot) else Snapshot.load(snap)
                    lowers.insert(0, s.to_backend())
        upper = _upper or MemoryBackend(
            max_bytes=lim.max_fs_bytes,
            max_inodes=lim.max_fs_inodes,
            max_file_size=lim.max_file_size,
        )
        self._root = OverlayBackend(lowers, upper, readonly=(root == "read-only"))

        def make_vfs(k: Kernel) -> VFS:
            return VFS(
                self._root,
                checker=k.fs_checker(),
                guard=k.fs_guard(),
                max_file_size=lim.max_file_size,
                max_readdir_entries=lim.max_readdir_entries,
                root_readonly=(root == "read-only"),
            )

        self.kernel = Kernel(
            make_vfs,
            policy=pol,
            limits=lim,
            env=base_env,
            name=name,
            commands=command_table(commands),
        )
        self.vfs = self.kernel.vfs
        self.closed = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self._durable: Any = None  # set by AsyncVM.open (pocketos.workspaces.durable)
        self._cron: Any = None  # a pocketos.cron.Scheduler once something is scheduled
        #: how each mount was declared (host folder, memory), for durable VMs; None: a mount
        #: that cannot be declared again (a backend object) or was unmounted
        self._mount_decls: dict[str, dict[str, Any] | None] = {}
        self._shells: dict[str, Any] = {}  # named persistent shells (saved by durable VMs)
        self.store = store
        if store is not None:
            # the audit log is persisted in the store as it is written
            self.kernel.audit.sinks.append(lambda ev: store.append_audit(ev.to_dict()))
        if toolkits is not None:
            from pocketos.tools import install as install_tools

            install_tools(self.kernel, list(toolkits))
        if network is not None:
            from pocketos.net import install as install_network

            install_network(self.kernel, network)
        if mounts:
            for path, spec in mounts.items():
                self._mount_spec(path, spec)

    @classmethod
    async def create(cls, **options: Any) -> AsyncVM:
        return cls(**options)

    @classmethod
    def open(
        cls, name: str, *, store: Any = None, autosave: bool = True, **options: Any
    ) -> AsyncVM:
        """A durable VM: its files, env and cwd live in workspace ``name`` of ``store`` (a
        WorkspaceStore, directory or fsspec URL; default ``~/.local/share/pocketos/workspaces``)
        and come back on the next ``open``. ``save()`` commits; closing saves unless
        ``autosave=False``. See docs/workspaces.md."""
        from pocketos.workspaces.durable import open_durable

        base = base_layer(default_names())
        return open_durable(cls, name, base=base, store=store, autosave=autosave, **options)

    # --- cron --------------------------------------------------------------------------------
    def schedule(self, cron: str | None = None, **options: Any) -> Any:
        """Run ``exec=`` a script, ``prompt=`` an agent prompt or ``callback=`` a function on a
        cron expression (or ``at=`` a time), with ``overlap`` skip|queue|allow. Inside a
        running event loop the schedules start running at once; otherwise call
        :meth:`run_schedules`. See :mod:`pocketos.cron`."""
        from pocketos.cron import Scheduler

        self._alive()
        if self._cron is None:
            self._cron = Scheduler(self)
        job = self._cron.add(cron, **options)
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return job
        if not any(t.get_name() == "pocketos-cron" for t in self._tasks):
            task = asyncio.get_running_loop().create_task(self._cron.run(), name="pocketos-cron")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return job

    def unschedule(self, job_id: str) -> None:
        if self._cron is None:
            raise KeyError(f"no schedule {job_id!r}")
        self._cron.remove(job_id)

    def schedules(self) -> list[dict[str, Any]]:
        if self._cron is None:
            return []
        return [
            {**j.to_dict(), "next_run": j.next_run, "runs": j.runs, "running": j.running}
            for j in self._cron.jobs.values()
        ]

    async def run_schedules(self, *, until: float | None = None) -> None:
        """Run scheduled jobs as they come due, until ``until`` (a ``time.time()`` value) or
        forever."""
        self._alive()
        if self._cron is not None:
            await self._cron.run(until=until)

    @classmethod
    def open_for_session(
        cls, session_id: str, *, store: Any = None, workspaces: Any = None, **options: Any
    ) -> AsyncVM:
        """Reopen the durable VM that session ``session_id`` (in the session ``store``) ran
        in, as it was saved at its last tool call or prompt end, with the policy and limits
        it had. ``workspaces`` overrides the workspace store recorded with the session.
        ``resume_session(None, session_id)`` does this itself."""
        from pocketos.sessions.session import _coerce_store
        from pocketos.sessions.vmstate import reopen_vm

        rec = _coerce_store(store).get_session(session_id)
        if rec is None:
            raise PocketOSError(f"no such session: {session_id}")
        options.setdefault("autosave", True)
        return cast(AsyncVM, reopen_vm(session_id, rec, workspaces=workspaces, **options))

    def save(self, message: str = "") -> Any:
        """Commit a durable VM's changes as a run of its workspace (None if nothing changed)."""
        self._alive()
        if self._durable is None:
            raise PocketOSError("not a durable VM: open it with VM.open(name, store=...)")
        return self._durable.save(self, message)

    @property
    def id(self) -> str:
        return self.kernel.id

    @property
    def env(self) -> dict[str, str]:
        return self.kernel.env

    @property
    def policy(self) -> Policy:
        return self.kernel.policy

    async def __aenter__(self) -> AsyncVM:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        for t in list(self._tasks):
            t.cancel()
        for t in list(self._tasks):
            try:
                await t
            except BaseException:
                pass
        self.close()

    def close(self) -> None:
        if self.closed:
            return
        if self._durable is not None and self._durable.autosave:
            self._durable.save(self, "autosave on close")
        self.closed = True
        for m in self.vfs.mounts:
            try:
                m.backend.release()
            except Exception:
                pass

    def _alive(self) -> None:
        if self.closed:
            raise PocketOSError("VM is closed")

    # --- snapshots and fork --------------------------------------------------------------
    def snapshot(self, path: str = "/") -> Any:
        """A content-addressed snapshot of the tree at ``path`` (mounts below are skipped)."""
        from pocketos.snapshot import Snapshot

        self._alive()
        return Snapshot.capture(self.vfs, check_abs(path))

    def fork(self, **options: Any) -> AsyncVM:
        """A new VM sharing this one's files copy-on-write: O(1), both continue
        independently. ``options`` override policy, limits, env ..."""
        self._alive()
        sealed = self._root.seal()
        _ = sealed
        # the child uses the same lower layers and host mounts: each is shared, so closing one
        # VM releases its use without closing what the other still reads
        lowers = [layer.share() for layer in self._root.lowers]
        lim = self.limits
        upper = MemoryBackend(
            max_bytes=lim.max_fs_bytes,
            max_inodes=lim.max_fs_inodes,
            max_file_size=lim.max_file_size,
        )
        upper.bytes_used, upper.inodes_used = self._root.upper.usage()
        kwargs: dict[str, Any] = dict(
            policy=self.kernel.policy,
            limits=self.limits,
            env=dict(self.kernel.env),
            cwd=self.cwd,
            commands=self.kernel.commands,
        )
        if self.kernel.tools is not None:
            kwargs["toolkits"] = list(self.kernel.tools.kits.values())
        if self.kernel.network is not None:
            kwargs["network"] = self.kernel.network.options
        kwargs.update(options)
        child = type(self)(_lowers=lowers, _upper=upper, **kwargs)
        for m in list(self.vfs.mounts):  # the loop remounts in the parent
            if m.path == "/":
                continue
            b = m.backend
            if isinstance(b, OverlayBackend):
                b.seal()
                lw = [layer.share() for layer in b.lowers]
                b = OverlayBackend(lw, MemoryBackend(), readonly=b.readonly)
            elif isinstance(b, MemoryBackend):
                frozen = b
                b = OverlayBackend([frozen.share()], MemoryBackend())
                # the parent continues on its own overlay over the same frozen layer
                self.vfs.unmount(m.path)
                self.vfs.mount(
                    m.path,
                    OverlayBackend([frozen.freeze()], MemoryBackend()),
                    readonly=m.readonly,
                    kind=m.kind,
                )
            else:
                b = b.share()
            child.vfs.mount(m.path, b, readonly=m.readonly, kind=m.kind)
        return child

    def audit_log(self, since: float | None = None, kind: str | None = None) -> list[AuditEvent]:
        return self.kernel.audit.query(since, kind)

    # --- agent sessions ------------------------------------------------------------------
    async def create_session(self, agent: Any = "pocketos", **options: Any) -> Any:
        """Start an agent speaking ACP against this VM (``"pocketos"``, a known agent name
        or an argv list) and run initialize + session/new. See docs/sessions.md."""
        from pocketos.sessions import create_session

        self._alive()
        return await create_session(self, agent, **options)

    async def resume_session(self, session_id: str, **options: Any) -> Any:
        """Reopen a stored session (ACP session/load, or the built-in agent's own history)."""
        from pocketos.sessions import resume_session

        self._alive()
        return await resume_session(self, session_id, **options)

    def list_sessions(self, *, store: Any = None) -> list[dict[str, Any]]:
        from pocketos.sessions import list_sessions

        return list_sessions(self, store=store)

    # --- interpreters --------------------------------------------------------------------
    def python(self, *, cwd: str | None = None, env: Mapping[str, str] | None = None) -> Any:
        """A persistent Python interpreter (CPython in wasm): ``await py.run(code)`` returns
        stdout, stderr and the repr of the last expression, like a notebook cell."""
        from pocketos.wasm.session import PythonSession

        self._alive()
        kw: dict[str, Any] = {"cwd": cwd or self.cwd}
        if env is not None:
            kw["env"] = dict(env)
        return PythonSession.for_vm(self, **kw)

    # --- shells --------------------------------------------------------------------------
    def shell(
        self,
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        name: str | None = None,
    ) -> Any:
        """A persistent shell: variables, functions, cwd, traps persist across ``run()``.

        ``name`` names it: a durable VM saves the cwd and exported variables of its named
        shells, and ``shell(name=...)`` after the next ``open`` starts from them (unless
        ``env`` or ``cwd`` is given)."""
        from pocketos.shell.session import ShellSession

        self._alive()
        if name is not None:
            live = self._shells.get(name)
            if live is not None and not live.closed:
                raise ValueError(f"a shell named {name!r} is already open")
            saved = self._durable.shell_state(name) if self._durable is not None else None
            if saved is not None and env is None and cwd is None:
                env = saved["env"]
                with contextlib.suppress(OSError, ValueError):
                    if self.stat(saved["cwd"]).is_dir():  # else: the default, as bash does
                        cwd = saved["cwd"]
        session = ShellSession(self, env=env, cwd=cwd)
        if name is not None:
            self._shells[name] = session
        return session

    def open_shell(
        self,
        cols: int = 80,
        rows: int = 24,
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        timeout: float | None = None,
    ) -> Any:
        """An interactive terminal (agentOS's ``openShell``): ``write(keys)``, ``read()`` or
        ``on_output(cb)``, ``resize(cols, rows)``, ``attach(role=...)``, ``wait()``, ``close()``.
        See docs/terminal.md. Must be called with the VM's event loop running."""
        from pocketos.terminal import open_terminal

        self._alive()
        return open_terminal(self, cols=cols, rows=rows, env=env, cwd=cwd, timeout=timeout)


class VM(SyncFacade[AsyncVM]):
    """The sync facade over :class:`AsyncVM` (same options, same methods, no ``await``)."""

    def __init__(self, **options: Any) -> None:
        self._vm = options.pop("_async", None) or AsyncVM(**options)

    @classmethod
    def create(cls, **options: Any) -> VM:
        return cls(**options)

    @classmethod
    def open(cls, name: str, *, store: Any = None, autosave: bool = True, **options: Any) -> VM:
        """A durable VM (see :meth:`AsyncVM.open`)."""
        return cls(_async=AsyncVM.open(name, store=store, autosave=autosave, **options))

    def close(self) -> None:
        if self._vm._tasks:
            run_sync(self._vm.aclose())
        else:
            self._vm.close()

    @property
    def kernel(self) -> Kernel:
        return self._vm.kernel

    def __getattr__(self, name: str) -> Any:
        # file API and other sync methods pass straight through
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._vm, name)

    def exec(self, script: str, **kw: Any) -> ExecResult:
        return run_sync(self._vm.exec(script, **kw))

    def run(self, argv: list[str], **kw: Any) -> ExecResult:
        return run_sync(self._vm.run(argv, **kw))

    def sandbox_run(self, argv: list[str], **kw: Any) -> ExecResult:
        return run_sync(self._vm.sandbox_run(argv, **kw))

    def spawn(self, argv: list[str], **kw: Any) -> SyncProcess:
        return SyncProcess(run_sync(self._vm.spawn(argv, **kw)))

    def wait(self, pid: int, timeout: float | None = None) -> int:
        return run_sync(self._vm.wait(pid, timeout))

    def fork(self, **options: Any) -> VM:
        return VM(_async=self._vm.fork(**options))

    def run_schedules(self, *, until: float | None = None) -> None:
        run_sync(self._vm.run_schedules(until=until))

    @classmethod
    def open_for_session(cls, session_id: str, **options: Any) -> VM:
        """The durable VM a session ran in (see :meth:`AsyncVM.open_for_session`)."""
        return cls(_async=AsyncVM.open_for_session(session_id, **options))

    def create_session(self, agent: Any = "pocketos", **options: Any) -> Any:
        from pocketos.sessions import SyncSession

        return SyncSession(run_sync(self._vm.create_session(agent, **options)))

    def resume_session(self, session_id: str, **options: Any) -> Any:
        from pocketos.sessions import SyncSession

        return SyncSession(run_sync(self._vm.resume_session(session_id, **options)))

    def python(self, **kw: Any) -> SyncPython:
        return SyncPython(self._vm.python(**kw))

    def shell(self, **kw: Any) -> Any:
        from pocketos.shell.session import SyncShellSession

        return SyncShellSession(self._vm.shell(**kw))

    def open_shell(self, cols: int = 80, rows: int = 24, **kw: Any) -> Any:
        """A terminal driven from sync code (see :meth:`AsyncVM.open_shell`)."""
        from pocketos.terminal.sync import SyncTerminal

        return SyncTerminal(run_sync(self._open_shell(cols, rows, **kw)))

    async def _open_shell(self, cols: int, rows: int, **kw: Any) -> Any:
        return self._vm.open_shell(cols, rows, **kw)


class SyncPython:
    """Sync wrapper of the persistent Python interpreter."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def run(self, code: str) -> Any:
        return run_sync(self.inner.run(code))

    def close(self) -> None:
        run_sync(self.inner.close())

    def __enter__(self) -> SyncPython:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
