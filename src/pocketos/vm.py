"""The public facade: :class:`AsyncVM` and its sync twin :class:`VM`."""

from __future__ import annotations

import asyncio
import errno
import posixpath
import stat as S
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from pocketos._loop import run_sync
from pocketos.assembly import CommandSpec, command_table, default_names
from pocketos.errors import LimitExceeded, PocketOSError, fs_error
from pocketos.kernel.audit import AuditEvent
from pocketos.kernel.base import HOSTNAME, base_layer
from pocketos.kernel.budget import Budget, use_budget
from pocketos.kernel.fs.api import Backend, StatResult
from pocketos.kernel.fs.memory import MemoryBackend
from pocketos.kernel.fs.overlay import OverlayBackend
from pocketos.kernel.fs.vfs import VFS
from pocketos.kernel.kernel import Kernel
from pocketos.kernel.limits import Limits, check_seconds
from pocketos.kernel.permissions import PermissionHandler, Policy
from pocketos.kernel.process import Context, ProcessInfo, signal_number
from pocketos.kernel.streams import BytesSink, BytesSource, InputStream, OutputStream, Pipe

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

TIMEOUT_STATUS = 124
LIMIT_STATUS = 125


@dataclass
class ExecResult:
    """What ``exec``/``run`` return. ``limit_hit`` names the limit that ended the work."""

    exit_code: int
    stdout_bytes: bytes = b""
    stderr_bytes: bytes = b""
    duration: float = 0.0
    limit_hit: str | None = None

    @property
    def stdout(self) -> str:
        return self.stdout_bytes.decode("utf-8", "replace")

    @property
    def stderr(self) -> str:
        return self.stderr_bytes.decode("utf-8", "replace")

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "exit_code": self.exit_code,
            "stdout": self.stdout,
            "stderr": self.stderr,
            "duration": self.duration,
            "limit_hit": self.limit_hit,
        }


def _check_abs(path: str) -> str:
    if not isinstance(path, str):
        raise TypeError(f"path must be str, not {type(path).__name__}")
    if "\0" in path:
        raise ValueError(f"path contains a NUL byte: {path!r}")
    if not path.startswith("/"):
        raise ValueError(f"path must be absolute: {path!r}")
    norm = posixpath.normpath(path)
    if norm.startswith("//"):
        norm = "/" + norm.lstrip("/")
    if norm != path and path.rstrip("/") != norm:
        raise ValueError(f"path must be normalized: {path!r} (did you mean {norm!r}?)")
    return norm


def _b(data: str | bytes | bytearray) -> bytes:
    if isinstance(data, str):
        return data.encode("utf-8", "surrogateescape")
    if not isinstance(data, (bytes, bytearray, memoryview)):
        # bytes(123) would be 123 zero bytes
        raise TypeError(f"data must be str or bytes, not {type(data).__name__}")
    return bytes(data)


class _StreamBuffer(OutputStream, InputStream):
    """An unbounded buffer: a process writes, the host reads (``Process.stdout``)."""

    def __init__(self, budget: Budget | None = None) -> None:
        self.buf = bytearray()
        self.eof = False
        self.event = asyncio.Event()
        self.budget = budget

    async def write(self, data: bytes) -> None:
        if self.budget is not None:
            self.budget.output(len(data))
        self.buf += data
        self.event.set()

    def close(self) -> None:
        self.eof = True
        self.event.set()

    async def read(self, n: int = -1) -> bytes:
        while not self.buf and not self.eof:
            self.event.clear()
            await self.event.wait()
        if n < 0:
            while not self.eof:
                self.event.clear()
                await self.event.wait()
            data = bytes(self.buf)
            self.buf.clear()
            return data
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data

    async def readuntil(self, sep: bytes) -> bytes:
        while True:
            i = self.buf.find(sep)
            if i >= 0:
                data = bytes(self.buf[: i + len(sep)])
                del self.buf[: i + len(sep)]
                return data
            if self.eof:
                data = bytes(self.buf)
                self.buf.clear()
                return data
            self.event.clear()
            await self.event.wait()


def _killed_status(info: ProcessInfo) -> int:
    if info.exit_code is not None:
        return info.exit_code
    return 128 + (info.pending_signal or 9)


def _killed_before_start(task: asyncio.Task[int]) -> bool:
    """Whether a CancelledError out of awaiting ``task`` means it was killed before its first
    step (so its body never ran) rather than that the waiter itself is being cancelled."""
    me = asyncio.current_task()
    return task.cancelled() and not (me is not None and me.cancelling())


class Process:
    """A process started with ``spawn``: write its stdin, read its output, wait or kill it."""

    def __init__(
        self,
        vm: AsyncVM,
        info: ProcessInfo,
        stdin: Pipe | None,
        stdout: _StreamBuffer,
        stderr: _StreamBuffer,
        task: asyncio.Task[int],
    ) -> None:
        self.vm = vm
        self.info = info
        self.pid = info.pid
        self._stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
        self.task = task

    async def write(self, data: str | bytes) -> None:
        if self._stdin is None:
            raise ValueError("stdin was given as a value; it is not writable")
        await self._stdin.writer.write(_b(data))

    def close_stdin(self) -> None:
        if self._stdin is not None:
            self._stdin.writer.close()

    async def wait(self, timeout: float | None = None) -> int:
        try:
            return await asyncio.wait_for(asyncio.shield(self.task), check_seconds(timeout))
        except asyncio.CancelledError:
            if not _killed_before_start(self.task):
                raise
        return _killed_status(self.info)

    @property
    def exit_code(self) -> int | None:
        if not self.task.done():
            return None
        return _killed_status(self.info) if self.task.cancelled() else self.task.result()

    @property
    def returncode(self) -> int | None:
        return self.exit_code

    def kill(self, sig: int | str = "KILL") -> None:
        self.vm.kill(self.pid, sig)


class AsyncVM:
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

    # --- files -------------------------------------------------------------------------
    def read_file(self, path: str) -> bytes:
        self._alive()
        return self.vfs.read_file(_check_abs(path))

    def read_text(self, path: str) -> str:
        return self.read_file(path).decode("utf-8", "replace")

    def write_file(
        self,
        path: str,
        data: str | bytes,
        *,
        parents: bool = False,
        mode: int | None = None,
        append: bool = False,
    ) -> None:
        self._alive()
        p = _check_abs(path)
        if parents:
            head = posixpath.dirname(p)
            if head != "/":
                self.vfs.mkdir(head, parents=True, exist_ok=True)
        self.vfs.write_file(p, _b(data), append=append)
        if mode is not None:
            self.vfs.chmod(p, mode)

    def write_files(
        self, files: Mapping[str, str | bytes] | Iterable[tuple[str, str | bytes]]
    ) -> list[dict[str, Any]]:
        """Write many files (parents created). Returns one result per entry:
        ``{"path", "ok", "error"}``; a failure does not stop the batch."""
        items = files.items() if isinstance(files, Mapping) else files
        out: list[dict[str, Any]] = []
        for path, data in items:
            try:
                self.write_file(path, data, parents=True)
                out.append({"path": path, "ok": True, "error": None})
            except (OSError, ValueError, TypeError) as exc:
                out.append({"path": path, "ok": False, "error": _err_text(exc)})
        return out

    def read_files(self, paths: Iterable[str]) -> list[dict[str, Any]]:
        """Read many files: ``{"path", "ok", "content" (bytes) | None, "error"}`` each."""
        out: list[dict[str, Any]] = []
        for path in paths:
            try:
                out.append(
                    {"path": path, "ok": True, "content": self.read_file(path), "error": None}
                )
            except (OSError, ValueError, TypeError) as exc:
                out.append({"path": path, "ok": False, "content": None, "error": _err_text(exc)})
        return out

    def mkdir(
        self, path: str, *, parents: bool = False, exist_ok: bool = False, mode: int = 0o755
    ) -> None:
        self._alive()
        self.vfs.mkdir(_check_abs(path), mode, parents=parents, exist_ok=exist_ok)

    def readdir(self, path: str) -> list[str]:
        self._alive()
        return sorted(self.vfs.listdir(_check_abs(path)))

    def readdir_recursive(
        self, path: str, *, max_depth: int | None = None, exclude: Iterable[str] = ()
    ) -> list[dict[str, Any]]:
        """Entries below ``path``: ``{"path", "type", "size"}``, depth first, sorted; names
        in ``exclude`` (glob patterns of one name, like ``node_modules`` or ``*.pyc``) are
        skipped with their subtrees. ``max_depth`` counts levels of recursion, as agentOS
        does: 0 lists only the immediate children, 1 also their children, and so on."""
        import fnmatch

        self._alive()
        if max_depth is not None and (
            isinstance(max_depth, bool) or not isinstance(max_depth, int) or max_depth < 0
        ):
            raise ValueError(f"max_depth must be a non-negative int or None, not {max_depth!r}")
        root = _check_abs(path)
        excl = list(exclude)
        out: list[dict[str, Any]] = []

        def walk(d: str, depth: int) -> None:
            for name in sorted(self.vfs.listdir(d)):
                if any(fnmatch.fnmatchcase(name, e) for e in excl):
                    continue
                p = d.rstrip("/") + "/" + name
                try:
                    st = self.vfs.stat(p, follow_symlinks=False)
                except OSError:
                    continue
                out.append({"path": p, "type": st.type_name, "size": st.st_size})
                if S.S_ISDIR(st.st_mode) and (max_depth is None or depth < max_depth):
                    walk(p, depth + 1)

        walk(root, 0)
        return out

    def stat(self, path: str) -> StatResult:
        self._alive()
        return self.vfs.stat(_check_abs(path))

    def lstat(self, path: str) -> StatResult:
        self._alive()
        return self.vfs.stat(_check_abs(path), follow_symlinks=False)

    def exists(self, path: str) -> bool:
        """Like ``os.path.exists``: False also when the policy hides the path."""
        try:
            self.stat(path)
            return True
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            return False

    def move(self, src: str, dst: str, *, overwrite: bool = True) -> None:
        """Rename; across mounts it copies and deletes (like ``mv``). The low-level
        ``rename`` raises EXDEV instead."""
        self._alive()
        s, d = _check_abs(src), _check_abs(dst)
        if not overwrite and self.vfs.resolve(d, False)[3] is not None:
            raise fs_error(errno.EEXIST, dst)
        try:
            self.vfs.rename(s, d)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            self.copy(s, d, recursive=True)
            self.vfs.remove_tree(s)

    def rename(self, src: str, dst: str) -> None:
        self._alive()
        self.vfs.rename(_check_abs(src), _check_abs(dst))

    def copy(self, src: str, dst: str, *, recursive: bool = False) -> None:
        self._alive()
        s, d = _check_abs(src), _check_abs(dst)
        st = self.vfs.stat(s, follow_symlinks=False)
        if S.S_ISDIR(st.st_mode):
            if not recursive:
                raise fs_error(errno.EISDIR, src, "Is a directory (use recursive=True)")
            self.vfs.mkdir(d, st.st_mode & 0o7777, exist_ok=True)
            for name in sorted(self.vfs.listdir(s)):
                self.copy(s.rstrip("/") + "/" + name, d.rstrip("/") + "/" + name, recursive=True)
        elif S.S_ISLNK(st.st_mode):
            self.vfs.symlink(self.vfs.readlink(s), d)
        else:
            self.vfs.write_file(d, self.vfs.read_file(s), mode=st.st_mode & 0o7777)
            self.vfs.chmod(d, st.st_mode & 0o7777)

    def delete(self, path: str, *, recursive: bool = False) -> None:
        self._alive()
        p = _check_abs(path)
        st = self.vfs.stat(p, follow_symlinks=False)
        if S.S_ISDIR(st.st_mode):
            if recursive:
                self.vfs.remove_tree(p)
            else:
                self.vfs.rmdir(p)
        else:
            self.vfs.unlink(p)

    def chmod(self, path: str, mode: int) -> None:
        self._alive()
        self.vfs.chmod(_check_abs(path), mode)

    def symlink(self, target: str, path: str) -> None:
        self._alive()
        self.vfs.symlink(target, _check_abs(path))

    def readlink(self, path: str) -> str:
        self._alive()
        return self.vfs.readlink(_check_abs(path))

    def disk_usage(self) -> tuple[int, int]:
        """(bytes, inodes) held by the VM's writable layers."""
        return self.vfs.usage()

    # --- mounts ------------------------------------------------------------------------
    def mount(
        self,
        path: str,
        backend: Backend | None = None,
        *,
        host: str | None = None,
        mode: str = "ro",
        memory: bool = False,
        fsspec: Any = None,
        root: str = "",
        readonly: bool = False,
    ) -> None:
        """Mount a filesystem at ``path``.

        ``host="/dir"`` with ``mode`` ``"ro"`` (default), ``"rw"`` (writes reach the host) or
        ``"overlay"`` (reads the host, writes stay in the VM); ``memory=True``; ``fsspec=fs``
        (any fsspec filesystem, with ``root`` inside it); or any ``backend``.
        """
        self._alive()
        p = _check_abs(path)
        kind = None
        if host is not None:
            from pocketos.kernel.fs.hostdir import HostDirBackend

            if mode not in ("ro", "rw", "overlay"):
                raise ValueError(f"mount mode must be ro, rw or overlay, not {mode!r}")
            hb = HostDirBackend(host, writable=(mode == "rw"))
            if mode == "overlay":
                lim = self.limits
                backend = OverlayBackend(
                    [hb],
                    MemoryBackend(
                        max_bytes=lim.max_fs_bytes,
                        max_inodes=lim.max_fs_inodes,
                        max_file_size=lim.max_file_size,
                    ),
                )
                kind = "overlay-hostdir"
            else:
                backend = hb
                kind = "hostdir"
                readonly = readonly or mode == "ro"
        elif memory:
            lim = self.limits
            backend = MemoryBackend(
                max_bytes=lim.max_fs_bytes,
                max_inodes=lim.max_fs_inodes,
                max_file_size=lim.max_file_size,
            )
        elif fsspec is not None:
            from pocketos.kernel.fs.fsspecfs import FsspecBackend

            backend = FsspecBackend(fsspec, root, readonly=readonly)
            kind = "fsspec"
        if backend is None:
            raise ValueError("mount needs a backend, host=, memory=True or fsspec=")
        self.vfs.mount(p, backend, readonly=readonly, kind=kind)
        self.kernel.audit.record(
            "mount",
            capability="fs.mount",
            resource=p,
            decision="allow",
            kind_=kind or backend.kind,
            readonly=readonly,
        )

    def _mount_spec(self, path: str, spec: Any) -> None:
        if isinstance(spec, Backend):
            self.mount(path, spec)
        elif isinstance(spec, Mapping):
            self.mount(path, **spec)
        elif isinstance(spec, str):
            self.mount(path, host=spec)
        else:
            raise ValueError(f"bad mount spec for {path}: {spec!r}")

    def unmount(self, path: str) -> None:
        self._alive()
        p = _check_abs(path)
        backend = self.vfs.unmount(p)
        self.kernel.audit.record("mount", capability="fs.unmount", resource=p, decision="allow")
        backend.release()

    def mounts(self) -> list[dict[str, Any]]:
        return [
            {"path": m.path, "kind": m.kind, "readonly": m.readonly}
            for m in sorted(self.vfs.mounts, key=lambda m: m.path)
        ]

    # --- snapshots and fork --------------------------------------------------------------
    def snapshot(self, path: str = "/") -> Any:
        """A content-addressed snapshot of the tree at ``path`` (mounts below are skipped)."""
        from pocketos.snapshot import Snapshot

        self._alive()
        return Snapshot.capture(self.vfs, _check_abs(path))

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

    # --- processes ---------------------------------------------------------------------
    def _cwd(self, cwd: str | None) -> str:
        """The working directory for a new process: an explicit ``cwd`` must be an existing
        directory (like ``subprocess``), never silently a path that is not there."""
        if cwd is None:
            return self.cwd
        c = _check_abs(cwd)
        st = self.vfs.stat(c)
        if not S.S_ISDIR(st.st_mode):
            raise fs_error(errno.ENOTDIR, c)
        return c

    def _root_ctx(
        self,
        *,
        env: Mapping[str, str] | None,
        cwd: str | None,
        stdin: InputStream,
        stdout: OutputStream,
        stderr: OutputStream,
        budget: Budget,
        argv: list[str],
    ) -> Context:
        e = self.kernel.environ(env)
        c = self._cwd(cwd)
        info = self.kernel.new_process(argv, env=e, cwd=c, ppid=0)
        return Context(
            self.kernel,
            argv,
            env=e,
            cwd=c,
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            pid=info.pid,
            ppid=0,
            limits=budget.limits,
            info=info,
            budget=budget,
        )

    def _sinks(
        self,
        budget: Budget,
        on_stdout: Callable[[bytes], Any] | None,
        on_stderr: Callable[[bytes], Any] | None,
    ) -> tuple[BytesSink, BytesSink]:
        def counter(cb: Callable[[bytes], Any] | None) -> Callable[[bytes], None]:
            def on_write(data: bytes) -> None:
                budget.output(len(data))
                if cb is not None:
                    cb(data)

            return on_write

        return BytesSink(counter(on_stdout)), BytesSink(counter(on_stderr))

    async def _run_with_limits(
        self,
        coro: Any,
        budget: Budget,
        timeout: float | None,
        stderr: BytesSink,
        ctx: Context | None,
        who: str = "bash",
    ) -> tuple[int, str | None]:
        if budget.pool is None:
            budget.pool = self.kernel.memory

        async def bounded() -> int:
            # the shell itself and every process it starts find the budget from here
            use_budget(budget)
            return int(await coro)

        task = asyncio.ensure_future(bounded())
        if ctx is not None and ctx.info is not None:
            ctx.info.task = task
        try:
            code = await asyncio.wait_for(task, timeout) if timeout is not None else await task
        except TimeoutError:
            budget.limit_hit = budget.limit_hit or "timeout"
            stderr.buffer += f"{who}: timed out after {timeout:g}s\n".encode()
            code = TIMEOUT_STATUS
        except asyncio.CancelledError:
            # the guest's process was killed by a signal (``kill``): a status, not an exception
            # for our caller, unless our caller itself is being cancelled
            me = asyncio.current_task()
            info = ctx.info if ctx is not None else None
            if (me is not None and me.cancelling()) or info is None or not task.cancelled():
                raise
            code = 128 + (info.pending_signal or 9)
        except LimitExceeded as exc:
            stderr.buffer += f"{who}: {exc.message}\n".encode()
            code = TIMEOUT_STATUS if exc.limit == "timeout" else LIMIT_STATUS
            if budget.limit_hit is None:
                budget.limit_hit = exc.limit
        finally:
            budget.reset_memory()
            if ctx is not None and ctx.info is not None and ctx.info.status == "running":
                self.kernel.end_process(ctx.info, 0)
        return code, budget.limit_hit

    async def exec(
        self,
        script: str,
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        stdin: str | bytes | None = None,
        timeout: float | None = None,
        on_stdout: Callable[[bytes], Any] | None = None,
        on_stderr: Callable[[bytes], Any] | None = None,
        limits: Limits | Mapping[str, Any] | None = None,
        args: list[str] | None = None,
        argv0: str = "bash",
        escalate: bool | Mapping[str, Any] = False,
    ) -> ExecResult:
        """Run ``script`` in a fresh shell, like ``bash -c script argv0 args...``.

        ``escalate=True`` (or a dict of sandbox options: memory, max_processes, expose, ports)
        runs the script with the host's real ``bash`` in the heavy sandbox over this VM's
        files instead; that needs the ``sandbox.run`` permission for ``bash``."""
        self._alive()
        if escalate is not False:
            if limits is not None:
                raise ValueError(
                    "exec(escalate=...) does not take limits=; pass sandbox options "
                    "(memory, max_processes) in escalate={...}"
                )
            extra = {} if escalate is True else dict(escalate)
            return await self.sandbox_run(
                ["bash", "-c", script, argv0, *(args or [])],
                cwd=cwd,
                env=env,
                stdin=stdin,
                timeout=timeout,
                on_stdout=on_stdout,
                on_stderr=on_stderr,
                **extra,
            )
        from pocketos.shell.interp import Shell

        lim = self.limits.merged(limits)
        t = check_seconds(timeout) if timeout is not None else lim.timeout
        budget = Budget(lim, t)
        out, err = self._sinks(budget, on_stdout, on_stderr)
        src = BytesSource(_b(stdin)) if stdin is not None else BytesSource(b"")
        start = time.perf_counter()
        ctx = self._root_ctx(
            env=env,
            cwd=cwd,
            stdin=src,
            stdout=out,
            stderr=err,
            budget=budget,
            argv=["bash", "-c", script],
        )
        shell = Shell(ctx, argv0=argv0, args=args)
        code, hit = await self._run_with_limits(shell.run(script), budget, t, err, ctx)
        return ExecResult(code, out.getvalue(), err.getvalue(), time.perf_counter() - start, hit)

    async def run(
        self,
        argv: list[str],
        *,
        stdin: str | bytes | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        timeout: float | None = None,
        limits: Limits | Mapping[str, Any] | None = None,
    ) -> ExecResult:
        """Run one command (no shell) and collect its output."""
        self._alive()
        if not argv:
            raise ValueError("argv must not be empty")
        lim = self.limits.merged(limits)
        t = check_seconds(timeout) if timeout is not None else lim.timeout
        budget = Budget(lim, t)
        out, err = self._sinks(budget, None, None)
        src = BytesSource(_b(stdin)) if stdin is not None else BytesSource(b"")
        e = self.kernel.environ(env)
        start = time.perf_counter()
        coro = self.kernel.run_command(
            list(argv),
            stdin=src,
            stdout=out,
            stderr=err,
            env=e,
            cwd=self._cwd(cwd),
            ppid=0,
            limits=lim,
            budget=budget,
        )
        code, hit = await self._run_with_limits(coro, budget, t, err, None, who=argv[0])
        return ExecResult(code, out.getvalue(), err.getvalue(), time.perf_counter() - start, hit)

    async def sandbox_run(
        self,
        argv: list[str],
        *,
        cwd: str | None = None,
        env: Mapping[str, str] | None = None,
        stdin: str | bytes | None = None,
        timeout: float | None = None,
        on_stdout: Callable[[bytes], Any] | None = None,
        on_stderr: Callable[[bytes], Any] | None = None,
        **options: Any,
    ) -> ExecResult:
        """Run a real host program in the heavy sandbox over this VM's files, policy and
        network (needs ``sandbox.run``; ``options``: memory, max_processes, expose, ports).
        See docs/sandbox.md."""
        self._alive()
        from pocketos.sandbox import SandboxOptions, sandbox_run

        opts = SandboxOptions(timeout=timeout if timeout is not None else self.limits.timeout)
        for k, v in options.items():
            if not hasattr(opts, k):
                raise TypeError(f"sandbox_run() got an unexpected keyword argument {k!r}")
            setattr(opts, k, tuple(v) if k in ("expose", "ports") else v)
        out, err = self._sinks(Budget(self.limits), on_stdout, on_stderr)
        start = time.perf_counter()
        hit: str | None = None
        try:
            code = await sandbox_run(
                self.kernel,
                list(argv),
                cwd=cwd or self.cwd,
                env={**self.kernel.env, **(env or {})},
                stdin=_b(stdin) if stdin is not None else None,
                stdout=out.write,
                stderr=err.write,
                options=opts,
            )
        except LimitExceeded as exc:
            err.buffer += f"sandbox: {exc.message}\n".encode()
            code, hit = LIMIT_STATUS, exc.limit
        if code == TIMEOUT_STATUS and opts.timeout is not None:
            hit = "timeout"
        return ExecResult(code, out.getvalue(), err.getvalue(), time.perf_counter() - start, hit)

    async def spawn(
        self,
        argv: list[str],
        *,
        stdin: str | bytes | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        limits: Limits | Mapping[str, Any] | None = None,
    ) -> Process:
        """Start a command in the background. ``stdin=None`` gives a writable pipe
        (``await proc.write(...)``, ``proc.close_stdin()``)."""
        self._alive()
        lim = self.limits.merged(limits)
        budget = Budget(lim, lim.timeout)
        pipe: Pipe | None = None
        src: InputStream
        if stdin is None:
            pipe = Pipe(lim.pipe_buffer)
            src = pipe.reader
        else:
            src = BytesSource(_b(stdin))
        out, err = _StreamBuffer(budget), _StreamBuffer(budget)
        e = self.kernel.environ(env)
        info_holder: dict[str, ProcessInfo] = {}
        kernel = self.kernel
        func = kernel.find_command(argv[0], e, cwd or self.cwd)
        if func is None:
            raise FileNotFoundError(errno.ENOENT, f"command not found: {argv[0]}", argv[0])
        kernel.check("child_process", "spawn", argv[0].rsplit("/", 1)[-1])
        info = kernel.new_process(list(argv), env=e, cwd=self._cwd(cwd), ppid=0)
        info_holder["i"] = info

        async def main() -> int:
            ctx = Context(
                kernel,
                list(argv),
                env=e,
                cwd=cwd or self.cwd,
                stdin=src,
                stdout=out,
                stderr=err,
                pid=info.pid,
                limits=lim,
                info=info,
                budget=budget,
            )
            code, status = 1, "exited"
            try:
                code = await func(ctx)
                code = (code or 0) & 0xFF
                status = "exited"
            except BrokenPipeError:
                code, status = 141, "killed"
            except asyncio.CancelledError:
                sig = info.pending_signal or 9
                code, status = 128 + sig, "killed"
            except LimitExceeded as exc:
                # the message bypasses the (possibly exhausted) output budget
                err.buf += f"{argv[0]}: {exc.message}\n".encode()
                code, status = (
                    (TIMEOUT_STATUS if exc.limit == "timeout" else LIMIT_STATUS),
                    "killed",
                )
            except Exception as exc:
                err.buf += f"{argv[0]}: internal error: {exc}\n".encode()
                code, status = 2, "exited"
            finally:
                out.close()
                err.close()
                kernel.end_process(info, code, status)
            return code

        def reap_unstarted(t: asyncio.Task[int]) -> None:
            # a task cancelled before its first step never enters main(): end it here
            if t.cancelled() and info.status == "running":
                out.close()
                err.close()
                kernel.end_process(info, _killed_status(info), "killed")

        task = asyncio.ensure_future(main())
        info.task = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(reap_unstarted)
        return Process(self, info, pipe, out, err, task)

    def kill(self, pid: int, sig: int | str = "TERM") -> None:
        """Signal process ``pid``; a process that has exited but is still listed is left
        alone (no error), an unknown pid is ProcessLookupError."""
        info = self.kernel.procs.get(pid)
        if info is not None and info.status != "running":
            signal_number(sig)  # a bad signal is still an error
            return
        self.kernel.kill(pid, sig)

    async def wait(self, pid: int, timeout: float | None = None) -> int:
        info = self.kernel.procs.get(pid)
        if info is None:
            raise ProcessLookupError(errno.ESRCH, f"No such process: {pid}")
        if info.task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(info.task), check_seconds(timeout))
            except asyncio.CancelledError:
                if not _killed_before_start(info.task):
                    raise
        return info.exit_code if info.exit_code is not None else -1

    def list_processes(self) -> list[dict[str, Any]]:
        return [p.to_dict() for p in self.kernel.procs.values()]

    def process_tree(self) -> list[dict[str, Any]]:
        return self.kernel.process_tree()

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
    def shell(self, *, env: Mapping[str, str] | None = None, cwd: str | None = None) -> Any:
        """A persistent shell: variables, functions, cwd, traps persist across ``run()``."""
        from pocketos.shell.session import ShellSession

        self._alive()
        return ShellSession(self, env=env, cwd=cwd)

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


def _err_text(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    return str(exc)


class VM:
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

    def __enter__(self) -> VM:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._vm._tasks:
            run_sync(self._vm.aclose())
        else:
            self._vm.close()

    @property
    def async_vm(self) -> AsyncVM:
        return self._vm

    @property
    def kernel(self) -> Kernel:
        return self._vm.kernel

    @property
    def id(self) -> str:
        return self._vm.id

    @property
    def closed(self) -> bool:
        return self._vm.closed

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


@dataclass
class SyncProcess:
    proc: Process
    _out: bytearray = field(default_factory=bytearray)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def write(self, data: str | bytes) -> None:
        run_sync(self.proc.write(data))

    def close_stdin(self) -> None:
        self.proc.close_stdin()

    def wait(self, timeout: float | None = None) -> int:
        return run_sync(self.proc.wait(timeout))

    def read_stdout(self, n: int = -1) -> bytes:
        return run_sync(self.proc.stdout.read(n))

    def read_stderr(self, n: int = -1) -> bytes:
        return run_sync(self.proc.stderr.read(n))

    def kill(self, sig: int | str = "KILL") -> None:
        self.proc.kill(sig)

    @property
    def exit_code(self) -> int | None:
        return self.proc.exit_code
