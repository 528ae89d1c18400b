"""The host side of what a process-isolated VM asks its host for, and the handles the host
holds on things that live in the worker.

* :class:`HostServices` answers the worker's callbacks: host tool calls and ``ask``
  decisions. The host trusts none of what the worker says: it finds the tool in its own
  toolkits, validates the arguments with the tool's real model, decides ``tool.invoke`` with
  its own copy of the policy (an ``ask`` rule needs a grant the host's handler gave), bounds
  the result's size and the number of callbacks per request.
* :class:`RemoteKernel` is the part of a kernel that host-side services (agent sessions, the
  Paperclip runner) read: permission checks, command names, host tools, audit sinks.
* :class:`RemoteProcess`, :class:`RemotePython` and :class:`RemoteShell` are the process
  VM's ``spawn()``, ``python()`` and ``shell()``: handles on objects in the worker.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import functools
import inspect
import threading
from collections.abc import Callable, Coroutine, Iterable, Mapping
from typing import Any, cast

from pocketos.errors import PocketOSError
from pocketos.kernel.audit import AuditEvent
from pocketos.kernel.permissions import PermissionRequest, Policy

__all__ = [
    "HostServices",
    "RemoteKernel",
    "RemoteProcess",
    "RemotePython",
    "RemoteShell",
    "toolkit_specs",
]

_ALLOW = frozenset({"allow_once", "allow", "once", "true", "yes", "allow_always", "always"})


def _error(kind: str, message: str) -> dict[str, Any]:
    return {"ok": False, "error": {"type": kind, "message": message}}


def toolkit_specs(kits: Iterable[Any]) -> list[dict[str, Any]]:
    """What the worker needs to build proxy toolkits: names, descriptions, schemas."""
    return [
        {
            "name": kit.name,
            "description": kit.description,
            "tools": [
                {
                    "name": t.name,
                    "description": t.description,
                    "timeout": t.timeout,
                    "examples": list(t.examples),
                    "input_schema": t.input_schema(),
                }
                for t in kit.tools.values()
            ],
        }
        for kit in kits
    ]


class HostServices:
    """Answers one process VM's callbacks (see the module docstring)."""

    def __init__(
        self,
        *,
        tools: Any,
        policy: Policy,
        handler: Callable[[PermissionRequest], Any] | None,
        vm_id: Callable[[], str],
        max_callbacks: int,
        max_result: int,
    ) -> None:
        self.tools = tools
        self.policy = policy
        self.handler = handler
        self.vm_id = vm_id
        self.max_callbacks = max_callbacks
        self.max_result = max_result
        #: the event loop host tools run on (the loop the VM is used from)
        self.loop: asyncio.AbstractEventLoop | None = None
        #: callbacks answered during the current request
        self.count = 0
        #: callbacks refused because a request made too many
        self.refused = 0
        #: sync calls on this VM made from its event loop's thread, waiting or running now
        self.loop_blocked = 0
        #: the pid whose output the current request polls (None: not a poll)
        self.polling: int | None = None
        #: pids a kill is on its way to (a callback made while polling one is given up)
        self.killing: set[int] = set()
        self._grants: dict[str, int] = {}
        self._always: set[str] = set()
        self._lock = threading.Lock()

    # --- dispatch ----------------------------------------------------------------------------
    def answer(self, frame: dict[str, Any]) -> dict[str, Any]:
        """Called by the thread waiting for the worker's reply; returns the answer fields."""
        with self._lock:
            self.count += 1
            over = self.count > self.max_callbacks
            if over:
                self.refused += 1
        if over:
            return _error(
                "ToolCallError",
                f"too many host callbacks in one request (more than {self.max_callbacks})",
            )
        kind = frame.get("kind")
        factory: Callable[[], Coroutine[Any, Any, dict[str, Any]]]
        if kind == "tool":
            factory = functools.partial(self._tool, frame)
        elif kind == "ask":
            factory = functools.partial(self._ask, frame.get("request"))
        else:
            return _error("PocketOSError", f"unknown callback {kind!r}")
        return self._run(factory)

    def _run(self, factory: Callable[[], Coroutine[Any, Any, dict[str, Any]]]) -> dict[str, Any]:
        loop = self.loop
        try:
            here: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            here = None
        if loop is not None and loop.is_running() and here is None:
            # the usual case: a thread waits for the worker while the host's loop runs
            return self._on_loop(factory, loop)
        return self._elsewhere(factory)

    def _on_loop(
        self,
        factory: Callable[[], Coroutine[Any, Any, dict[str, Any]]],
        loop: asyncio.AbstractEventLoop,
    ) -> dict[str, Any]:
        """Run the answer on the VM's loop. If that loop blocks in a sync call on this VM
        (which waits for the request this answer belongs to), an answer not yet started runs
        elsewhere and one already started is given up, rather than deadlock."""
        started = threading.Event()

        async def tracked() -> dict[str, Any]:
            started.set()
            return await factory()

        fut = asyncio.run_coroutine_threadsafe(tracked(), loop)
        while True:
            try:
                return fut.result(timeout=0.05)
            except concurrent.futures.TimeoutError:
                if self.polling is not None and self.polling in self.killing:
                    # the process waiting for this answer is being killed: it ends now,
                    # as an in-process call would be cancelled
                    fut.cancel()
                    return _error("Interrupted", "killed while a host tool call was running")
                if not self.loop_blocked:
                    continue
            if not started.is_set() and fut.cancel():
                return self._elsewhere(factory)
            fut.cancel()
            return _error(
                "ToolFailed",
                "interrupted: the host's event loop blocked in a call on this VM while "
                "the callback was running",
            )

    def _elsewhere(
        self, factory: Callable[[], Coroutine[Any, Any, dict[str, Any]]]
    ) -> dict[str, Any]:
        """Run the answer on a loop of its own (the waiting thread is itself a loop, or the
        VM's loop cannot take it)."""
        box: dict[str, Any] = {}

        def main() -> None:
            try:
                box["v"] = asyncio.run(factory())
            except BaseException as exc:  # pragma: no cover - reported below
                box["e"] = exc

        t = threading.Thread(target=main, name="pocketos-callback", daemon=True)
        t.start()
        t.join()
        if "e" in box:
            raise box["e"]
        return cast(dict[str, Any], box["v"])

    # --- tools -------------------------------------------------------------------------------
    async def _tool(self, frame: dict[str, Any]) -> dict[str, Any]:
        from pydantic import ValidationError

        from pocketos.tools._cli import dump_json, format_validation_error

        kit, name, args = frame.get("kit"), frame.get("tool"), frame.get("args")
        if not isinstance(kit, str) or not isinstance(name, str) or not isinstance(args, dict):
            return _error("ToolCallError", "malformed tool call")
        tool = self.tools.get(kit, name) if self.tools is not None else None
        if tool is None:
            return _error("ToolCallError", f"unknown tool {kit}:{name}")
        full = tool.full_name
        decision = self.policy.decide("tool", "invoke", full, {"kit": kit, "tool": name})
        if decision == "ask":
            with self._lock:
                if full in self._always:
                    decision = "allow"
                elif self._grants.get(full, 0) > 0:
                    self._grants[full] -= 1
                    decision = "allow"
        if decision != "allow":
            why = " (not granted)" if decision == "ask" else ""
            return _error("ToolDenied", f"permission denied: tool.invoke on {full}{why}")
        try:
            validated = tool.validate(args)
        except ValidationError as exc:
            return _error("ToolArgumentsInvalid", format_validation_error(tool, exc))
        cargs, kwargs = tool.call_args(validated)
        try:
            if tool.is_async:
                pending = tool.func(*cargs, **kwargs)
            else:
                ctx = contextvars.copy_context()
                call = functools.partial(ctx.run, tool.func, *cargs, **kwargs)
                pending = asyncio.get_running_loop().run_in_executor(None, call)
            try:
                result = await asyncio.wait_for(pending, tool.timeout)
                if asyncio.iscoroutine(result):
                    result = await asyncio.wait_for(result, tool.timeout)
            except TimeoutError:
                return _error("ToolTimeout", f"timed out after {tool.timeout:g}s")
        except Exception as exc:
            msg = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            return _error("ToolFailed", msg)
        try:
            text = dump_json(result)
        except (TypeError, ValueError) as exc:
            return _error("ToolFailed", f"result is not JSON-serializable: {exc}")
        if len(text) > self.max_result:
            return _error(
                "ToolFailed",
                f"the result of {full} is {len(text)} bytes, more than the VM may output "
                f"(max_output_bytes={self.max_result})",
            )
        return {"ok": True, "value": text}

    # --- permissions -------------------------------------------------------------------------
    async def _ask(self, r: Any) -> dict[str, Any]:
        if not isinstance(r, dict):
            return _error("PocketOSError", "malformed permission request")
        domain, op, resource = r.get("domain"), r.get("operation"), r.get("resource")
        if not all(isinstance(v, str) for v in (domain, op, resource)):
            return _error("PocketOSError", "malformed permission request")
        pid = r.get("pid")
        details = r.get("details")
        req = PermissionRequest(
            str(domain),
            str(op),
            str(resource),
            self.vm_id(),
            pid if type(pid) is int else None,
            dict(details) if isinstance(details, dict) else {},
        )
        handler = self.handler
        answer = "deny"
        if handler is not None:
            try:
                res = handler(req)
                if inspect.isawaitable(res):
                    res = await asyncio.wait_for(res, self.policy.ask_timeout)
                answer = str(getattr(res, "value", res)).lower()
            except Exception:
                answer = "deny"
        if domain == "tool" and op == "invoke" and answer in _ALLOW:
            with self._lock:
                if answer in ("allow_always", "always"):
                    self._always.add(str(resource))
                else:
                    self._grants[str(resource)] = self._grants.get(str(resource), 0) + 1
        return {"ok": True, "value": answer}


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


class RemoteProcess:
    """A process started with the process VM's ``spawn``: the same surface as
    :class:`pocketos.vm.Process`. Its output is pulled from the worker by a task; if the
    worker dies, the process ends with the worker's status and the reason on stderr."""

    def __init__(self, vm: Any, pid: int, generation: int, writable: bool) -> None:
        from pocketos.vm import _StreamBuffer

        self.vm = vm
        self.pid = pid
        self.generation = generation
        self._writable = writable
        self.stdout = _StreamBuffer()
        self.stderr = _StreamBuffer()
        self.task: asyncio.Task[int] = asyncio.ensure_future(self._pump())

    async def _pump(self) -> int:
        from pocketos.isolation.process import WorkerDied

        code = 1
        try:
            while True:
                r = await self.vm._guest("proc_poll", self.generation, pid=self.pid)
                if not isinstance(r, dict):
                    raise PocketOSError("the VM's worker sent a malformed reply")
                for stream, key in ((self.stdout, "stdout"), (self.stderr, "stderr")):
                    data = r.get(key)
                    if isinstance(data, bytes) and data:
                        await stream.write(data)
                if type(r.get("exit")) is int:
                    code = int(r["exit"])
                    break
        except WorkerDied as exc:
            await self.stderr.write(
                f"pocketos: {exc.message}; the VM restarts from its last commit\n".encode()
            )
            code = exc.status
        except (PocketOSError, ProcessLookupError, LookupError) as exc:
            await self.stderr.write(f"pocketos: {exc}\n".encode())
            code = 137
        finally:
            self.stdout.close()
            self.stderr.close()
        return code

    async def write(self, data: str | bytes) -> None:
        if not self._writable:
            raise ValueError("stdin was given as a value; it is not writable")
        b = data.encode("utf-8", "surrogateescape") if isinstance(data, str) else bytes(data)
        await self.vm._guest("proc_write", self.generation, pid=self.pid, data=b)

    def close_stdin(self) -> None:
        if self._writable and not self.task.done():
            try:
                self.vm._guest_now("proc_close_stdin", self.generation, pid=self.pid)
            except (PocketOSError, ProcessLookupError):
                pass

    async def wait(self, timeout: float | None = None) -> int:
        from pocketos.kernel.limits import check_seconds

        return await asyncio.wait_for(asyncio.shield(self.task), check_seconds(timeout))

    @property
    def exit_code(self) -> int | None:
        return self.task.result() if self.task.done() and not self.task.cancelled() else None

    @property
    def returncode(self) -> int | None:
        return self.exit_code

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


class RemoteShell:
    """The process VM's ``shell()``: a persistent shell in the worker (variables, functions,
    cwd and traps persist across :meth:`run`)."""

    def __init__(self, vm: Any, kwargs: Mapping[str, Any]) -> None:
        self.vm = vm
        self._kwargs = dict(kwargs)
        self._oid: int | None = None
        self._generation = -1
        self._cwd = str(kwargs.get("cwd") or vm._options.get("cwd") or "/home/user")
        self._exited = False
        self.closed = False

    @property
    def cwd(self) -> str:
        return self._cwd

    @property
    def exited(self) -> bool:
        return self._exited

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

        if self.closed:
            raise RuntimeError("shell is closed")
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
        if on_stdout is not None and out:
            on_stdout(out)
        if on_stderr is not None and err:
            on_stderr(err)
        if isinstance(d.get("cwd"), str):
            self._cwd = d["cwd"]
        self._exited = bool(d.get("exited"))
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
