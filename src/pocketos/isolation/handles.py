"""Handles the host holds on what lives in a process-isolated VM's worker.

* :class:`RemoteKernel` is the part of a kernel that host-side services (agent sessions, the
  Paperclip runner) read: permission checks, command names, host tools, audit sinks.
* :class:`RemoteProcess`, :class:`RemotePython` and :class:`RemoteShell` are the process
  VM's ``spawn()``, ``python()`` and ``shell()``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from typing import Any, cast

from pocketos.errors import PocketOSError
from pocketos.kernel.audit import AuditEvent
from pocketos.kernel.permissions import Policy
from pocketos.shell.session import ShellElsewhere
from pocketos.vm_processes import PumpedProcess

__all__ = ["RemoteKernel", "RemoteProcess", "RemotePython", "RemoteShell"]


class _Audit:
    """Audit sinks on the host: each event the worker records is passed to them."""

    def __init__(self, vm: Any) -> None:
        self._vm = vm
        self.sinks: list[Callable[[AuditEvent], None]] = []

    def query(self, since: float | None = None, kind: str | None = None) -> list[AuditEvent]:
        return list(self._vm.audit_log(since, kind))

    def deliver(self, events: list[dict[str, Any]]) -> None:
        for raw in events:
            try:
                ev = AuditEvent(**raw)
            except TypeError:
                continue
            for sink in list(self.sinks):
                try:
                    sink(ev)
                except Exception:  # a sink never breaks the VM
                    pass


class _Commands:
    def __init__(self, vm: Any) -> None:
        self._vm = vm
        self._names: list[str] | None = None

    def names(self) -> list[str]:
        if self._names is None:
            self._names = [str(n) for n in self._vm._call("command_names")]
        return list(self._names)


class RemoteKernel:
    """What host-side services read from a process VM's kernel (which is in the worker)."""

    def __init__(self, vm: Any, tools: Any) -> None:
        self._vm = vm
        self.tools = tools
        self.audit = _Audit(vm)
        self.commands = _Commands(vm)

    @property
    def id(self) -> str:
        return str(self._vm.id)

    @property
    def policy(self) -> Policy:
        return cast(Policy, self._vm.policy)

    @property
    def env(self) -> dict[str, str]:
        return cast(dict[str, str], self._vm.env)

    def check(self, domain: str, op: str, resource: str) -> None:
        """The kernel's permission check, made in the worker (``ask`` comes to the host)."""
        self._vm._call("check", domain, op, resource)


class RemoteProcess(PumpedProcess):
    """A process started with the process VM's ``spawn``: the same surface as
    :class:`pocketos.vm.Process`. Its output is pulled from the worker by a task; if the
    worker dies, the process ends with the worker's status and the reason on stderr."""

    def __init__(self, vm: Any, pid: int, generation: int, writable: bool) -> None:
        self.vm = vm
        self.generation = generation
        super().__init__(pid, writable)

    async def _pull(self) -> int:
        while True:
            r = await self.vm._guest("proc_poll", self.generation, pid=self.pid)
            if not isinstance(r, dict):
                raise PocketOSError("the VM's worker sent a malformed reply")
            for stream, key in ((self.stdout, "stdout"), (self.stderr, "stderr")):
                data = r.get(key)
                if isinstance(data, bytes) and data:
                    await stream.write(data)
            if type(r.get("exit")) is int:
                return int(r["exit"])

    async def _lost(self, exc: Exception) -> int:
        from pocketos.isolation.process import WorkerDied

        if isinstance(exc, WorkerDied):
            await self.stderr.write(
                f"pocketos: {exc.message}; the VM restarts from its last commit\n".encode()
            )
            return exc.status
        if isinstance(exc, (PocketOSError, ProcessLookupError, LookupError)):
            await self.stderr.write(f"pocketos: {exc}\n".encode())
            return 137
        raise exc

    async def _input(self, data: bytes) -> None:
        await self.vm._guest("proc_write", self.generation, pid=self.pid, data=data)

    def close_stdin(self) -> None:
        if self._writable and not self.task.done():
            try:
                self.vm._guest_now("proc_close_stdin", self.generation, pid=self.pid)
            except (PocketOSError, ProcessLookupError):
                pass

    def kill(self, sig: int | str = "KILL") -> None:
        """Signal the process. From a running event loop the signal is sent by a background
        request (the loop is not held while a poll of the worker finishes)."""
        if self.task.done() or self.generation != self.vm._generation:
            return
        from pocketos.kernel.process import signal_number

        signal_number(sig)  # a bad signal is still an error, at once
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            try:
                self.vm.kill(self.pid, sig)
            except (PocketOSError, ProcessLookupError):
                if not self.task.done():
                    raise
            return

        services = self.vm._services
        services.killing.add(self.pid)

        async def send() -> None:
            try:
                with contextlib.suppress(PocketOSError, ProcessLookupError, LookupError):
                    await self.vm._guest(
                        "call", self.generation, method="kill", args=[self.pid, sig]
                    )
            finally:
                services.killing.discard(self.pid)

        t = asyncio.ensure_future(send())
        self.vm._tasks.add(t)
        t.add_done_callback(self.vm._tasks.discard)


class RemotePython:
    """The process VM's ``python()``: a persistent interpreter in the worker."""

    def __init__(self, vm: Any, kwargs: Mapping[str, Any]) -> None:
        self.vm = vm
        self._kwargs = dict(kwargs)
        self._oid: int | None = None
        self._generation = -1
        self._closed = False
        self._lock = asyncio.Lock()

    @property
    def closed(self) -> bool:
        return self._closed

    async def start(self) -> None:
        from pocketos.wasm.session import SessionClosed

        if self._closed:
            raise SessionClosed("the session is closed")
        if self._oid is None:
            gen = self.vm._generation_for_call()
            oid = await self.vm._guest("obj_open", gen, kind="python", kwargs=self._kwargs)
            self._oid, self._generation = int(oid), gen

    async def run(self, code: str) -> Any:
        from pocketos.isolation.process import WorkerDied
        from pocketos.wasm.session import PyResult, SessionClosed

        async with self._lock:
            if self._closed:
                raise SessionClosed("the session is closed")
            await self.start()
            try:
                d = await self.vm._guest("obj_run", self._generation, oid=self._oid, arg=code)
            except WorkerDied as exc:
                self._closed = True
                msg = f"the VM's worker process died ({exc.message})"
                return PyResult("", msg + "\n", None, f"WorkerDied: {msg}")
            except (LookupError, PocketOSError) as exc:
                self._closed = True
                raise SessionClosed(str(exc)) from None
            if not isinstance(d, dict):
                raise PocketOSError("the VM's worker sent a malformed reply")
            if d.get("closed"):
                self._closed = True
            out, err = d.get("stdout_bytes"), d.get("stderr_bytes")
            out = out if isinstance(out, bytes) else b""
            err = err if isinstance(err, bytes) else b""
            value, error = d.get("value"), d.get("error")
            return PyResult(
                out.decode("utf-8", "replace"),
                err.decode("utf-8", "replace"),
                value if isinstance(value, str) else None,
                error if isinstance(error, str) else None,
                out,
                err,
            )

    async def close(self) -> None:
        oid, self._oid = self._oid, None
        self._closed = True
        if oid is not None and not self.vm.closed and self._generation == self.vm._generation:
            try:
                await self.vm._guest("obj_close", self._generation, oid=oid)
            except Exception:
                pass

    async def __aenter__(self) -> RemotePython:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class RemoteShell(ShellElsewhere):
    """The process VM's ``shell()``: a persistent shell in the worker (variables, functions,
    cwd and traps persist across :meth:`run`)."""

    def __init__(self, vm: Any, kwargs: Mapping[str, Any]) -> None:
        super().__init__(str(kwargs.get("cwd") or vm._options.get("cwd") or "/home/user"))
        self.vm = vm
        self._kwargs = dict(kwargs)
        self._oid: int | None = None
        self._generation = -1

    async def run(
        self,
        script: str,
        *,
        stdin: str | bytes | None = None,
        timeout: float | None = None,
        on_stdout: Callable[[bytes], Any] | None = None,
        on_stderr: Callable[[bytes], Any] | None = None,
    ) -> Any:
        from pocketos.isolation.process import WorkerDied
        from pocketos.vm import ExecResult

        self._check_open()
        if self._oid is None:
            gen = self.vm._generation_for_call()
            oid = await self.vm._guest("obj_open", gen, kind="shell", kwargs=self._kwargs)
            self._oid, self._generation = int(oid), gen
        kw: dict[str, Any] = {"timeout": timeout}
        if stdin is not None:
            kw["stdin"] = (
                stdin.encode("utf-8", "surrogateescape") if isinstance(stdin, str) else stdin
            )
        try:
            d = await self.vm._guest(
                "obj_run",
                self._generation,
                wait=timeout if timeout is not None else self.vm.limits.timeout,
                oid=self._oid,
                arg=script,
                kwargs=kw,
            )
        except WorkerDied as exc:
            self.closed = True
            msg = f"pocketos: {exc.message}; the shell ended with its worker process\n"
            return ExecResult(exc.status, b"", msg.encode(), 0.0, exc.limit)
        except LookupError as exc:
            self.closed = True
            raise RuntimeError(f"shell is closed: {exc}") from None
        if not isinstance(d, dict):
            raise PocketOSError("the VM's worker sent a malformed reply")
        out, err = d.get("stdout_bytes"), d.get("stderr_bytes")
        out = out if isinstance(out, bytes) else b""
        err = err if isinstance(err, bytes) else b""
        self._ran(d, out, err, on_stdout, on_stderr)
        code, hit = d.get("exit_code"), d.get("limit_hit")
        dur = d.get("duration")
        return ExecResult(
            code if type(code) is int else 2,
            out,
            err,
            float(dur) if isinstance(dur, (int, float)) else 0.0,
            hit if isinstance(hit, str) else None,
        )

    async def aclose(self) -> None:
        if self.closed:
            return
        self.closed = True
        oid, self._oid = self._oid, None
        if oid is not None and not self.vm.closed and self._generation == self.vm._generation:
            try:
                await self.vm._guest("obj_close", self._generation, oid=oid)
            except Exception:
                pass

    def close(self) -> None:
        from pocketos._loop import run_sync

        run_sync(self.aclose())
