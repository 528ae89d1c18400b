"""The host side of a process-isolated VM: the same API as :class:`pocketos.AsyncVM`.

``AsyncVM(isolation="process", ...)`` and ``VM(isolation="process", ...)`` build one of these.
The VM itself lives in a worker process; every call is a request over the worker's pipe.

Durable state: the VM's *commit* is its root filesystem's writable layer as it stood after the
last request that completed — the worker sends it back whenever a request changed it and the
host keeps it. If the worker dies (a limit, a crash, a kill), the request that was running
returns a clear result (``exit_code`` 124/125/128+signal and ``limit_hit`` ``timeout``,
``cpu``, ``memory``, ``crash`` or ``killed``) and the next request starts a new worker from
the last commit. Mounts are replayed from their specs (host directories keep their own state;
memory mounts start empty); the audit log and process table start over.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import os
import posixpath
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pocketos.errors import PocketOSError
from pocketos.isolation import protocol
from pocketos.isolation.pool import WorkerPool, default_pool
from pocketos.isolation.process import WorkerDied, WorkerLimits, WorkerProcess
from pocketos.kernel.audit import AuditEvent
from pocketos.kernel.fs.api import StatResult
from pocketos.kernel.limits import Limits
from pocketos.kernel.permissions import Policy

__all__ = ["AsyncProcessVM"]

_ids = itertools.count(1)
_LIMIT_STATUS = {"timeout": 124, "cpu": 125, "memory": 125}

_UNSUPPORTED_OPTIONS = {
    "permission_handler": "ask rules need a handler in the host process",
    "toolkits": "host tools run in the host process",
    "store": "a durable store is opened by the host process",
    "_lowers": "internal option",
    "_upper": "internal option",
}


def _policy_spec(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, Policy):
        if value.handler is not None:
            raise NotImplementedError(
                "a policy with a permission handler cannot be used with isolation='process'"
            )
        return dict(value.spec)
    if isinstance(value, Mapping):
        Policy.coerce(value, None)  # refuse a bad policy here, with the in-process message
        return dict(value)
    raise TypeError(f"policy must be a dict or Policy, not {type(value).__name__}")


def _mount_spec(path: str, spec: Any) -> dict[str, Any]:
    if isinstance(spec, str):
        return {"host": os.path.abspath(spec)}
    if isinstance(spec, Mapping):
        out = dict(spec)
        if "backend" in out or "fsspec" in out:
            raise NotImplementedError(
                f"mount {path}: only host= and memory= mounts cross into a worker process"
            )
        if isinstance(out.get("host"), str):
            out["host"] = os.path.abspath(out["host"])
        return out
    raise NotImplementedError(
        f"mount {path}: only host= and memory= mounts cross into a worker process"
    )


class AsyncProcessVM:
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
        for key, why in _UNSUPPORTED_OPTIONS.items():
            if options.get(key) is not None:
                raise NotImplementedError(f"{key} is not available with isolation='process': {why}")
            options.pop(key, None)
        network = options.get("network")
        if network is not None and not isinstance(network, Mapping):
            raise NotImplementedError("with isolation='process' network must be a dict of options")
        self.limits = Limits().merged(limits) if not isinstance(limits, Limits) else limits
        opts: dict[str, Any] = dict(options)
        opts["policy"] = _policy_spec(policy if policy is not None else permissions)
        opts["limits"] = dataclasses.asdict(self.limits)
        if snapshots:
            from pocketos.snapshot import Snapshot

            blobs: list[bytes] = []
            for s in snapshots:
                blobs.append(
                    s.to_bytes() if isinstance(s, Snapshot) else Snapshot.load(s).to_bytes()
                )
            opts["snapshots"] = blobs
        self._mounts: dict[str, dict[str, Any]] = {
            p: _mount_spec(p, spec) for p, spec in (mounts or {}).items()
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
        self._state: Any = None
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
        self._worker = w
        return w

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
        try:
            with w.lock:
                reply = w.request(
                    msg, self._deadline(timeout, w.limits.grace), on_event, max_event_bytes
                )
        except WorkerDied as exc:
            self.last_death = exc
            self.pool.discard(w)
            self._worker = w  # replaced (and counted) on the next request
            raise
        if "state" in reply and reply["state"] is not None:
            self._state = reply["state"]
            self.commit_error = None
        if isinstance(reply.get("commit_error"), str):
            self.commit_error = reply["commit_error"]
        return reply

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
        return Policy.coerce(self._call("policy_spec"), None)

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
        w, self._worker = self._worker, None
        if w is None:
            return
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
        if not isinstance(data, (str, bytes, bytearray, memoryview)):
            raise TypeError(f"data must be str or bytes, not {type(data).__name__}")
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        self._call("write_file", path, bytes(data), parents=parents, mode=mode, append=append)

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
        s = _mount_spec(path, spec)
        self._call("mount", path, **s)
        self._mounts[posixpath.normpath(path)] = s

    def unmount(self, path: str) -> None:
        self._call("unmount", path)
        self._mounts.pop(posixpath.normpath(path), None)

    def mounts(self) -> list[dict[str, Any]]:
        return list(self._call("mounts"))

    def snapshot(self, path: str = "/") -> Any:
        from pocketos.snapshot import Snapshot

        value = self._call("snapshot", path)
        if not isinstance(value, dict) or not isinstance(value.get("$snapshot"), bytes):
            raise PocketOSError("the VM's worker sent a malformed snapshot")
        return Snapshot.load(value["$snapshot"])

    # --- not available across a process boundary ---------------------------------------------
    def _unsupported(self, what: str) -> NotImplementedError:
        return NotImplementedError(f"{what} is not available with isolation='process' (yet)")

    def fork(self, **options: Any) -> Any:
        raise self._unsupported("fork()")

    async def spawn(self, argv: list[str], **kw: Any) -> Any:
        raise self._unsupported("spawn()")

    async def wait(self, pid: int, timeout: float | None = None) -> int:
        raise self._unsupported("wait()")

    def python(self, **kw: Any) -> Any:
        raise self._unsupported("python()")

    def shell(self, **kw: Any) -> Any:
        raise self._unsupported("shell()")

    async def create_session(self, agent: Any = "pocketos", **options: Any) -> Any:
        raise self._unsupported("create_session()")

    async def resume_session(self, session_id: str, **options: Any) -> Any:
        raise self._unsupported("resume_session()")

    def list_sessions(self, *, store: Any = None) -> list[dict[str, Any]]:
        raise self._unsupported("list_sessions()")
