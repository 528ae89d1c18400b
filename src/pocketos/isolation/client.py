"""The host side of a process-isolated VM: the same API as :class:`pocketos.AsyncVM`.

``AsyncVM(isolation="process", ...)`` and ``VM(isolation="process", ...)`` build one of these.
The VM itself lives in a worker process; every call is a request over the worker's pipe.

Durable state: the VM's *commit* is its root filesystem's writable layer as it stood after the
last request that completed — the worker sends it back whenever a request changed it and the
host keeps it. If the worker dies (a limit, a crash, a kill), the request that was running
returns a clear result (``exit_code`` 124/125/128+signal and ``limit_hit`` ``timeout``,
``cpu``, ``memory``, ``crash`` or ``killed``) and the next request starts a new worker from
the last commit. Mounts are replayed from their specs (host directories keep their own state;
memory mounts start empty); the audit log and process table start over. A Landlocked worker
cannot change its domain, so a host mount added or removed after the start moves the VM to a
new worker the same way (refused while that would lose background processes or memory mounts).
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import os
import posixpath
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, cast

from pocketos.errors import PocketOSError
from pocketos.isolation import protocol
from pocketos.isolation.pool import WorkerPool, default_pool
from pocketos.isolation.process import WorkerDied, WorkerLimits, WorkerProcess
from pocketos.isolation.remount import check_movable, is_landlocked
from pocketos.isolation.specs import mount_spec, policy_spec
from pocketos.kernel.audit import AuditEvent
from pocketos.kernel.fs.api import StatResult
from pocketos.kernel.limits import Limits
from pocketos.kernel.permissions import Policy
from pocketos.vm_api import FileFront, to_bytes

__all__ = ["AsyncProcessVM"]

_ids = itertools.count(1)
_LIMIT_STATUS = {"timeout": 124, "cpu": 125, "memory": 125}

_UNSUPPORTED_OPTIONS = {
    "_lowers": "internal option",
    "_upper": "internal option",
}

#: ``_guest``'s default wait: the VM's own timeout
_VM_TIMEOUT: Any = object()


class AsyncProcessVM(FileFront):
    """A VM in a worker process. Options are those of :class:`~pocketos.AsyncVM` plus
    ``pool`` (a :class:`WorkerPool`; default: a shared pool) and ``worker_limits``
    (a :class:`WorkerLimits` or dict, used for the default pool)."""

    isolation = "process"

    def __init__(
        self,
        *,
        isolation: str = "process",
        pool: WorkerPool | None = None,
        worker_limits: WorkerLimits | Mapping[str, Any] | None = None,
        policy: Any = None,
        permissions: Any = None,
        limits: Limits | Mapping[str, Any] | None = None,
        snapshots: Iterable[Any] | None = None,
        mounts: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> None:
        if isolation != "process":
            raise ValueError(f"AsyncProcessVM needs isolation='process', not {isolation!r}")
        self._ctor: dict[str, Any] = dict(
            options,
            pool=pool,
            worker_limits=worker_limits,
            policy=policy,
            permissions=permissions,
            limits=limits,
            snapshots=snapshots,
            mounts=mounts,
        )
        state = options.pop("_state", None)
        for key, why in _UNSUPPORTED_OPTIONS.items():
            if options.get(key) is not None:
                raise NotImplementedError(f"{key} is not available with isolation='process': {why}")
            options.pop(key, None)
        from pocketos.isolation.callbacks import HostServices, toolkit_specs
        from pocketos.isolation.handles import RemoteKernel
        from pocketos.tools._runtime import ToolHost

        toolkits = options.pop("toolkits", None)
        handler = options.pop("permission_handler", None)
        #: the durable store the VM's audit log is written to (it stays in the host)
        self.store = options.pop("store", None)
        tools: ToolHost | None = None
        if toolkits is not None:
            tools = ToolHost(cast(Any, None), list(toolkits))
        network = options.get("network")
        if network is not None and not isinstance(network, Mapping):
            raise NotImplementedError("with isolation='process' network must be a dict of options")
        self.limits = Limits().merged(limits) if not isinstance(limits, Limits) else limits
        opts: dict[str, Any] = dict(options)
        spec, policy_handler = policy_spec(policy if policy is not None else permissions)
        handler = handler if handler is not None else policy_handler
        opts["policy"] = spec
        opts["limits"] = dataclasses.asdict(self.limits)
        if tools is not None:
            opts["tools"] = toolkit_specs(tools.kits.values())
        opts["ask"] = handler is not None
        self._policy = Policy.coerce(spec, handler)
        if snapshots:
            from pocketos.snapshot import Snapshot

            blobs: list[bytes] = []
            for s in snapshots:
                blobs.append(
                    s.to_bytes() if isinstance(s, Snapshot) else Snapshot.load(s).to_bytes()
                )
            opts["snapshots"] = blobs
        self._mounts: dict[str, dict[str, Any]] = {
            p: mount_spec(p, spec) for p, spec in (mounts or {}).items()
        }
        opts["mounts"] = dict(self._mounts)
        self._options = opts
        if pool is None:
            lim = (
                worker_limits
                if isinstance(worker_limits, WorkerLimits)
                else WorkerLimits.coerce(dict(worker_limits) if worker_limits else None)
            )
            pool = default_pool(lim)
        elif worker_limits is not None:
            raise ValueError("give worker_limits to the WorkerPool, not with pool=")
        self.pool = pool
        self._handle = f"p{os.getpid()}-{next(_ids)}"
        self._state: Any = state
        self._services = HostServices(
            tools=tools,
            policy=self._policy,
            handler=handler,
            vm_id=lambda: self.id,
            max_callbacks=pool.limits.max_callbacks,
            max_result=self.limits.max_output_bytes,
        )
        #: what host-side services read of the VM's kernel (see :mod:`.handles`)
        self.kernel = RemoteKernel(self, tools)
        #: how many workers this VM has had (a handle on a process or interpreter belongs to one)
        self._generation = 0
        #: the generations whose worker ended to change the host mounts (see :mod:`.remount`)
        self._moved: set[int] = set()
        self._procs: dict[int, Any] = {}
        self._worker: WorkerProcess | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._rid = itertools.count(1)
        self.closed = False
        #: how many times a dead worker was replaced
        self.restarts = 0
        #: why the last worker ended, if one died
        self.last_death: WorkerDied | None = None
        #: why the VM's latest change could not be committed (None: the commit is current)
        self.commit_error: str | None = None
        self._id: str | None = options.get("name")
        self._worker_for_call()

    @classmethod
    async def create(cls, **options: Any) -> AsyncProcessVM:
        return cls(**options)

    # --- worker management --------------------------------------------------------------
    def _worker_for_call(self) -> WorkerProcess:
        w = self._worker
        if w is not None and w.alive:
            return w
        if w is not None:
            self.pool.discard(w)
            self._worker = None
            self.restarts += 1
        opts = dict(self._options)
        opts["mounts"] = dict(self._mounts)
        # the worker's kernel has the host's id: audit events and the store name this VM
        opts["name"] = self.id
        try:
            w = self.pool.acquire()
        except WorkerDied as exc:
            self.last_death = exc
            raise PocketOSError(f"could not start the VM's worker: {exc.message}") from None
        try:
            with w.lock:
                reply = w.request(
                    {
                        "id": next(self._rid),
                        "op": "open",
                        "vm": self._handle,
                        "options": opts,
                        "state": self._state,
                        "landlock": w.limits.landlock and self.pool.vms_per_worker == 1,
                        "tmpdir": w.private_tmpdir(),
                    },
                    time.monotonic() + w.limits.start_timeout,
                )
        except WorkerDied as exc:
            self.last_death = exc
            self.pool.discard(w)
            raise PocketOSError(f"could not start the VM's worker: {exc.message}") from None
        finally:
            self.pool.replenish()
        if not reply.get("ok"):
            self.pool.release(w)
            raise protocol.error_from_wire(reply.get("error"))
        notes = reply.get("value")
        if isinstance(notes, list):
            w.sandbox.extend(str(n) for n in notes)
        w.handlers[self._handle] = self._services.answer
        self._worker = w
        self._generation += 1
        return w

    def _generation_for_call(self) -> int:
        """The generation of the worker the next request goes to (started if needed)."""
        self._alive()
        self._worker_for_call()
        return self._generation

    def _deadline(self, timeout: float | None, grace: float) -> float | None:
        if timeout is None:
            return None
        return time.monotonic() + timeout + grace

    def _send(
        self,
        msg: dict[str, Any],
        timeout: float | None,
        on_event: Callable[[str, bytes], None] | None = None,
        max_event_bytes: int | None = None,
    ) -> dict[str, Any]:
        """One request; WorkerDied if the worker dies on it."""
        self._alive()
        w = self._worker_for_call()
        msg = {"id": next(self._rid), "vm": self._handle, **msg}
        services = self._services
        try:
            on_loop = asyncio.get_running_loop() is services.loop
        except RuntimeError:
            on_loop = False
        if on_loop:
            # a sync call from the VM's loop: callbacks answered on that loop cannot run now
            services.loop_blocked += 1
        try:
            with w.lock:
                services.count = 0
                pid = msg.get("pid")
                services.polling = (
                    pid if msg.get("op") == "proc_poll" and type(pid) is int else None
                )
                reply = w.request(
                    msg, self._deadline(timeout, w.limits.grace), on_event, max_event_bytes
                )
        except WorkerDied as exc:
            self.last_death = exc
            self.pool.discard(w)
            self._worker = w  # replaced (and counted) on the next request
            raise
        finally:
            if on_loop:
                services.loop_blocked -= 1
        if "state" in reply and reply["state"] is not None:
            self._state = reply["state"]
            self.commit_error = None
        if isinstance(reply.get("commit_error"), str):
            self.commit_error = reply["commit_error"]
        events = reply.get("audit")
        if isinstance(events, list) and events:
            self._deliver_audit([e for e in events if isinstance(e, dict)])
        return reply

    def _deliver_audit(self, events: list[dict[str, Any]]) -> None:
        """Pass the worker's audit events to the store and the host's sinks, on the loop
        the VM is used from (sinks are not expected to be thread-safe)."""
        if self.store is not None:
            for e in events:
                try:
                    self.store.append_audit(e)
                except Exception:
                    pass
        if not self.kernel.audit.sinks:
            return
        loop = self._services.loop
        try:
            here: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            here = None
        if loop is not None and loop.is_running() and here is not loop:
            loop.call_soon_threadsafe(self.kernel.audit.deliver, events)
        else:
            self.kernel.audit.deliver(events)

    def _note_loop(self) -> None:
        """Remember the event loop the VM is used from: host tools run on it."""
        try:
            self._services.loop = asyncio.get_running_loop()
        except RuntimeError:
            pass

    def _guest_now(self, op: str, generation: int, wait: Any = _VM_TIMEOUT, **fields: Any) -> Any:
        """One request about a process or interpreter of worker ``generation``: LookupError
        when that worker is gone, WorkerDied when it dies on this request."""
        self._alive()
        w = self._worker
        if generation != self._generation or w is None or not w.alive:
            why = "it was replaced to change the VM's host mounts"
            if generation not in self._moved and self.last_death is not None:
                why = self.last_death.message
            raise LookupError(f"it ended with the VM's worker process ({why})")
        reply = self._send(
            {"op": op, **fields}, self.limits.timeout if wait is _VM_TIMEOUT else wait
        )
        if not reply.get("ok"):
            raise protocol.error_from_wire(reply.get("error"))
        return reply.get("value")

    async def _guest(self, op: str, generation: int, wait: Any = _VM_TIMEOUT, **fields: Any) -> Any:
        self._note_loop()
        return await asyncio.to_thread(self._guest_now, op, generation, wait, **fields)

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        try:
            reply = self._send(
                {"op": "call", "method": method, "args": list(args), "kwargs": kwargs},
                self.limits.timeout,
            )
        except WorkerDied as exc:
            raise PocketOSError(
                f"{method}: the VM's worker process died ({exc.message}); "
                "the VM restarts from its last commit"
            ) from None
        if not reply.get("ok"):
            raise protocol.error_from_wire(reply.get("error"))
        return reply.get("value")

    # --- identity and lifetime --------------------------------------------------------------
    @property
    def id(self) -> str:
        if self._id is None:
            self._id = self._handle
        return self._id

    @property
    def pid(self) -> int | None:
        """The worker's host pid (None when no worker is running)."""
        w = self._worker
        return w.pid if w is not None and w.alive else None

    @property
    def sandbox(self) -> list[str]:
        """What the current worker applied to itself (and what it could not)."""
        return list(self._worker.sandbox) if self._worker is not None else []

    @property
    def env(self) -> dict[str, str]:
        return dict(self._call("env"))

    @property
    def policy(self) -> Policy:
        """The VM's policy (the host's copy, with the host's permission handler)."""
        return self._policy

    def _alive(self) -> None:
        if self.closed:
            raise PocketOSError("VM is closed")

    def commit(self) -> None:
        """Make sure the host holds the VM's current filesystem (it normally does already:
        every completed request commits)."""
        try:
            reply = self._send({"op": "commit", "force": self._state is None}, self.limits.timeout)
        except WorkerDied as exc:
            raise PocketOSError(f"commit: the VM's worker process died ({exc.message})") from None
        if reply.get("state") is not None:
            self._state = reply["state"]

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for t in list(self._tasks):
            t.cancel()
        w, self._worker = self._worker, None
        if w is None:
            return
        w.handlers.pop(self._handle, None)
        if w.alive and self.pool.vms_per_worker > 1:
            try:
                with w.lock:
                    w.request(
                        {"id": next(self._rid), "op": "close", "vm": self._handle},
                        time.monotonic() + w.limits.grace + 5,
                    )
            except WorkerDied:
                pass
        self.pool.release(w)

    async def aclose(self) -> None:
        tasks = list(self._tasks)
        for t in tasks:
            t.cancel()
        for t in tasks:
            try:
                await t
            except BaseException:
                pass
        self.close()

    async def __aenter__(self) -> AsyncProcessVM:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    # --- processes ---------------------------------------------------------------------------
    def _exec_sync(
        self,
        body: dict[str, Any],
        timeout: float | None,
        on_stdout: Callable[[bytes], Any] | None,
        on_stderr: Callable[[bytes], Any] | None,
    ) -> Any:
        from pocketos.vm import ExecResult

        out, err = bytearray(), bytearray()
        stream = on_stdout is not None or on_stderr is not None

        def on_event(kind: str, data: bytes) -> None:
            if kind == "stdout":
                out.extend(data)
                if on_stdout is not None:
                    on_stdout(data)
            elif kind == "stderr":
                err.extend(data)
                if on_stderr is not None:
                    on_stderr(data)

        start = time.perf_counter()
        try:
            reply = self._send(
                {"op": "exec", **body, "stream": stream},
                timeout,
                on_event,
                # both streams of the exec, with room for the VM's own limit messages
                2 * self.limits.max_output_bytes + (1 << 20),
            )
        except WorkerDied as exc:
            msg = f"pocketos: {exc.message}; the VM restarts from its last commit\n".encode()
            status = _LIMIT_STATUS.get(exc.limit, exc.status)
            return ExecResult(
                status, bytes(out), bytes(err) + msg, time.perf_counter() - start, exc.limit
            )
        if not reply.get("ok"):
            raise protocol.error_from_wire(reply.get("error"))
        v = reply.get("value")
        if not isinstance(v, dict):
            raise PocketOSError("the VM's worker sent a malformed result")
        code = v.get("exit_code")
        hit = v.get("limit_hit")
        out_b, err_b = v.get("stdout_bytes"), v.get("stderr_bytes")
        return ExecResult(
            code if type(code) is int else 2,
            out_b if isinstance(out_b, bytes) else b"",
            err_b if isinstance(err_b, bytes) else b"",
            time.perf_counter() - start,
            hit if isinstance(hit, str) else None,
        )

    def _timeout(self, timeout: float | None, limits: Any) -> tuple[float | None, Any]:
        lim = self.limits.merged(limits)
        t = timeout if timeout is not None else lim.timeout
        wire = dataclasses.asdict(lim) if limits is not None else None
        return t, wire

    async def exec(
        self,
        script: str,
        *,
        on_stdout: Callable[[bytes], Any] | None = None,
        on_stderr: Callable[[bytes], Any] | None = None,
        timeout: float | None = None,
        limits: Limits | Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        """Run ``script`` in a fresh shell in the worker, like ``AsyncVM.exec``."""
        self._alive()
        if not isinstance(script, str):
            raise TypeError(f"script must be str, not {type(script).__name__}")
        self._note_loop()
        t, wire = self._timeout(timeout, limits)
        kw = dict(kwargs, timeout=timeout)
        if wire is not None:
            kw["limits"] = wire
        body = {"script": script, "kwargs": kw}
        return await asyncio.to_thread(self._exec_sync, body, t, on_stdout, on_stderr)

    async def run(
        self,
        argv: list[str],
        *,
        timeout: float | None = None,
        limits: Limits | Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        """Run one command (no shell) in the worker, like ``AsyncVM.run``."""
        self._alive()
        if not argv:
            raise ValueError("argv must not be empty")
        self._note_loop()
        t, wire = self._timeout(timeout, limits)
        kw = dict(kwargs, timeout=timeout)
        if wire is not None:
            kw["limits"] = wire
        body = {"argv": [str(a) for a in argv], "kwargs": kw}
        return await asyncio.to_thread(self._exec_sync, body, t, None, None)

    def kill(self, pid: int, sig: int | str = "TERM") -> None:
        self._call("kill", pid, sig)

    def list_processes(self) -> list[dict[str, Any]]:
        return list(self._call("list_processes"))

    def process_tree(self) -> list[dict[str, Any]]:
        return list(self._call("process_tree"))

    def audit_log(self, since: float | None = None, kind: str | None = None) -> list[AuditEvent]:
        return [AuditEvent(**e) for e in self._call("audit_log", since, kind)]

    # --- files ---------------------------------------------------------------------------
    def read_file(self, path: str) -> bytes:
        data = self._call("read_file", path)
        if not isinstance(data, bytes):
            raise PocketOSError("the VM's worker sent a malformed reply")
        return data

    def _put_file(
        self, path: str, data: str | bytes, *, parents: bool, mode: int | None, append: bool
    ) -> None:
        self._call("write_file", path, to_bytes(data), parents=parents, mode=mode, append=append)

    def write_files(
        self, files: Mapping[str, str | bytes] | Iterable[tuple[str, str | bytes]]
    ) -> list[dict[str, Any]]:
        items = files.items() if isinstance(files, Mapping) else files
        return list(self._call("write_files", [[p, d] for p, d in items]))

    def read_files(self, paths: Iterable[str]) -> list[dict[str, Any]]:
        return list(self._call("read_files", list(paths)))

    def mkdir(
        self, path: str, *, parents: bool = False, exist_ok: bool = False, mode: int = 0o755
    ) -> None:
        self._call("mkdir", path, parents=parents, exist_ok=exist_ok, mode=mode)

    def readdir(self, path: str) -> list[str]:
        return list(self._call("readdir", path))

    def readdir_recursive(
        self, path: str, *, max_depth: int | None = None, exclude: Iterable[str] = ()
    ) -> list[dict[str, Any]]:
        return list(
            self._call("readdir_recursive", path, max_depth=max_depth, exclude=list(exclude))
        )

    def stat(self, path: str) -> StatResult:
        return StatResult(**self._call("stat", path))

    def lstat(self, path: str) -> StatResult:
        return StatResult(**self._call("lstat", path))

    def exists(self, path: str) -> bool:
        return bool(self._call("exists", path))

    def move(self, src: str, dst: str, *, overwrite: bool = True) -> None:
        self._call("move", src, dst, overwrite=overwrite)

    def rename(self, src: str, dst: str) -> None:
        self._call("rename", src, dst)

    def copy(self, src: str, dst: str, *, recursive: bool = False) -> None:
        self._call("copy", src, dst, recursive=recursive)

    def delete(self, path: str, *, recursive: bool = False) -> None:
        self._call("delete", path, recursive=recursive)

    def chmod(self, path: str, mode: int) -> None:
        self._call("chmod", path, mode)

    def symlink(self, target: str, path: str) -> None:
        self._call("symlink", target, path)

    def readlink(self, path: str) -> str:
        return str(self._call("readlink", path))

    def disk_usage(self) -> tuple[int, int]:
        used, inodes = self._call("disk_usage")
        return int(used), int(inodes)

    # --- mounts and snapshots ---------------------------------------------------------------
    def mount(self, path: str, backend: Any = None, **spec: Any) -> None:
        """Mount a host directory (``host=``, ``mode=``) or a memory filesystem
        (``memory=True``); other backends cannot cross into a worker."""
        if backend is not None:
            raise NotImplementedError("only host= and memory= mounts cross into a worker process")
        s = mount_spec(path, spec)
        move = isinstance(s.get("host"), str) and self._landlocked()
        if move:
            check_movable(f"mount {path}", self._procs, self._mounts, self.commit_error)
        self._call("mount", path, **s)
        self._mounts[posixpath.normpath(path)] = s
        if move:
            self._move_to_new_worker()

    def unmount(self, path: str) -> None:
        key = posixpath.normpath(path)
        old = self._mounts.get(key)
        move = old is not None and isinstance(old.get("host"), str) and self._landlocked()
        if move:
            check_movable(f"unmount {path}", self._procs, self._mounts, self.commit_error)
        self._call("unmount", path)
        self._mounts.pop(key, None)
        if move:
            self._move_to_new_worker()

    def _landlocked(self) -> bool:
        self._alive()
        return is_landlocked(self._worker_for_call().sandbox)

    def _move_to_new_worker(self) -> None:
        """Commit, end the worker, open the VM in a new one (see :mod:`.remount`)."""
        self.commit()
        self._moved.add(self._generation)
        w, self._worker = self._worker, None
        if w is not None:
            w.handlers.pop(self._handle, None)
            self.pool.release(w)
        self._worker_for_call()

    def mounts(self) -> list[dict[str, Any]]:
        return list(self._call("mounts"))

    def snapshot(self, path: str = "/") -> Any:
        from pocketos.snapshot import Snapshot

        value = self._call("snapshot", path)
        if not isinstance(value, dict) or not isinstance(value.get("$snapshot"), bytes):
            raise PocketOSError("the VM's worker sent a malformed snapshot")
        return Snapshot.load(value["$snapshot"])

    # --- fork ------------------------------------------------------------------------------
    def fork(self, **options: Any) -> AsyncProcessVM:
        """A new process VM starting from this one's committed filesystem, in a worker of its
        own (a copy, not O(1) sharing as in-process). Host mounts are mounted again in the
        child; memory mounts start empty. ``options`` override the parent's."""
        self._alive()
        self.commit()
        kw = dict(self._ctor)
        kw["mounts"] = dict(self._mounts)
        kw.pop("name", None)
        if kw.get("pool") is not None:
            kw["worker_limits"] = None
        kw.update(options)
        kw["_state"] = self._state
        if "toolkits" not in options and self.kernel.tools is not None:
            kw["toolkits"] = list(self.kernel.tools.kits.values())
        return AsyncProcessVM(**kw)

    # --- background processes and interpreters ---------------------------------------------
    async def spawn(
        self,
        argv: list[str],
        *,
        stdin: str | bytes | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        limits: Limits | Mapping[str, Any] | None = None,
    ) -> Any:
        """Start a command in the worker in the background (like ``AsyncVM.spawn``): the
        handle's ``stdout``/``stderr`` fill as the worker is polled."""
        from pocketos.isolation.handles import RemoteProcess

        self._alive()
        self._note_loop()
        if not argv:
            raise ValueError("argv must not be empty")
        kw: dict[str, Any] = {"env": dict(env) if env is not None else None, "cwd": cwd}
        if stdin is not None:
            kw["stdin"] = (
                stdin.encode("utf-8", "surrogateescape") if isinstance(stdin, str) else stdin
            )
        if limits is not None:
            kw["limits"] = dataclasses.asdict(self.limits.merged(limits))
        gen = await asyncio.to_thread(self._generation_for_call)
        pid = await self._guest("spawn", gen, argv=[str(a) for a in argv], kwargs=kw)
        proc = RemoteProcess(self, int(pid), gen, stdin is None)
        self._procs[proc.pid] = proc
        self._tasks.add(proc.task)

        def done(t: asyncio.Task[int]) -> None:
            self._tasks.discard(t)

        proc.task.add_done_callback(done)
        return proc

    async def wait(self, pid: int, timeout: float | None = None) -> int:
        proc = self._procs.get(pid)
        if proc is None:
            raise ProcessLookupError(3, f"No such process: {pid}")
        return int(await proc.wait(timeout))

    def python(self, *, cwd: str | None = None, env: Mapping[str, str] | None = None) -> Any:
        """A persistent Python interpreter in the worker (``await py.run(code)``)."""
        from pocketos.isolation.handles import RemotePython

        self._alive()
        kw: dict[str, Any] = {"cwd": cwd}
        if env is not None:
            kw["env"] = dict(env)
        return RemotePython(self, kw)

    def open_shell(
        self,
        cols: int = 80,
        rows: int = 24,
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        timeout: float | None = None,
    ) -> Any:
        """An interactive terminal whose shell runs in the worker (the API of
        :meth:`pocketos.AsyncVM.open_shell`; docs/terminal.md). Must be called with the VM's
        event loop running."""
        from pocketos.isolation.remote_terminal import RemoteTerminal

        self._alive()
        self._note_loop()
        term = RemoteTerminal(self, cols=cols, rows=rows, env=env, cwd=cwd, timeout=timeout)
        return term.start()

    def shell(self, *, env: Mapping[str, str] | None = None, cwd: str | None = None) -> Any:
        """A persistent shell in the worker."""
        from pocketos.isolation.handles import RemoteShell

        self._alive()
        return RemoteShell(self, {"env": dict(env) if env is not None else None, "cwd": cwd})

    # --- agent sessions (the session loop runs in the host; the VM's side in the worker) ----
    async def create_session(self, agent: Any = "pocketos", **options: Any) -> Any:
        from pocketos.sessions import create_session

        self._alive()
        if options.get("sandbox"):
            raise NotImplementedError(
                "sandbox=True is not available with isolation='process' (yet)"
            )
        self._note_loop()
        return await create_session(self, agent, **options)

    async def resume_session(self, session_id: str, **options: Any) -> Any:
        from pocketos.sessions import resume_session

        self._alive()
        self._note_loop()
        return await resume_session(self, session_id, **options)

    def list_sessions(self, *, store: Any = None) -> list[dict[str, Any]]:
        from pocketos.sessions import list_sessions

        return list_sessions(self, store=store)
