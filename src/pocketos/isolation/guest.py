"""Worker-side services a process-isolated VM gets from its host: host tools and ``ask``
decisions (answered by the host over the pipe), background processes and the persistent
interpreters (``python()``, ``shell()``) that the host drives by handle.

A host tool does not run in the worker. The worker installs a *proxy* toolkit with the same
names, descriptions and JSON schemas, so ``pocketos-<kit> <tool> --flag v`` parses, checks
``tool.invoke`` and audits exactly as in-process; the call itself is a callback frame to the
host, which validates the arguments with the real model, checks the policy again (it does not
trust the worker) and runs the function.
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict

from pocketos.kernel.permissions import PermissionRequest

__all__ = ["CallHost", "GuestObjects", "proxy_handler", "proxy_toolkits"]

#: ``call_host(handle, payload) -> answer frame``; blocking, thread-safe
CallHost = Callable[[str, dict[str, Any]], dict[str, Any]]

#: bytes of output one ``proc_poll`` returns at most
POLL_BYTES = 4 * 1024 * 1024


class _AnyArguments(BaseModel):
    """Arguments as given: the host validates them with the tool's real model."""

    model_config = ConfigDict(extra="allow")


def _raise_tool_error(err: Any) -> None:
    from pocketos.tools._runtime import (
        ToolArgumentsInvalid,
        ToolCallError,
        ToolDenied,
        ToolFailed,
        ToolTimeout,
    )

    kind = str(err.get("type", "")) if isinstance(err, dict) else ""
    message = str(err.get("message", "")) if isinstance(err, dict) else "host tool failed"
    if kind == "Interrupted":  # the host is killing the calling process
        raise asyncio.CancelledError(message)
    if kind == "ToolDenied":
        raise ToolDenied(message)
    if kind == "ToolTimeout":
        raise ToolTimeout(message)
    if kind == "ToolArgumentsInvalid":
        raise ToolArgumentsInvalid(message)
    if kind == "ToolFailed":
        raise ToolFailed(message, RuntimeError(message))
    raise ToolCallError(message or "host tool failed")


def proxy_toolkits(specs: Any, handle: str, call_host: CallHost) -> list[Any]:
    """Toolkits whose tools forward each call to the host (``specs`` as the host sent them:
    ``[{"name", "description", "tools": [{"name", "description", "timeout", "examples",
    "input_schema"}]}]``)."""
    from pocketos.tools._model import Tool, Toolkit

    @dataclass
    class RemoteTool(Tool):
        schema: dict[str, Any] = field(default_factory=dict)

        def input_schema(self) -> dict[str, Any]:
            return copy.deepcopy(self.schema)

        def validate(self, args: dict[str, Any]) -> BaseModel:
            return _AnyArguments.model_validate(args)

        def call_args(self, validated: BaseModel) -> tuple[tuple[Any, ...], dict[str, Any]]:
            return (), dict(validated.model_extra or {})

    kits: list[Any] = []
    for kspec in specs or []:
        kit = Toolkit(str(kspec["name"]), str(kspec.get("description") or kspec["name"]))
        for tspec in kspec.get("tools") or []:
            kit_name, tool_name = kit.name, str(tspec["name"])

            def make(kit_name: str, tool_name: str) -> Callable[..., Any]:
                async def forward(**kwargs: Any) -> Any:
                    payload = {"kind": "tool", "kit": kit_name, "tool": tool_name, "args": kwargs}
                    answer = await asyncio.to_thread(call_host, handle, payload)
                    if not answer.get("ok"):
                        _raise_tool_error(answer.get("error"))
                    value = answer.get("value")
                    return json.loads(value) if isinstance(value, str) else value

                return forward

            timeout = tspec.get("timeout")
            tool = RemoteTool(
                tool_name,
                make(kit_name, tool_name),
                str(tspec.get("description") or tool_name),
                _AnyArguments,
                False,
                float(timeout) if isinstance(timeout, (int, float)) else None,
                [str(e) for e in tspec.get("examples") or []],
                schema=dict(tspec.get("input_schema") or {"type": "object", "properties": {}}),
            )
            kit.add(tool)
        kits.append(kit)
    return kits


def proxy_handler(handle: str, call_host: CallHost) -> Callable[[PermissionRequest], Any]:
    """A permission handler that asks the host's handler (the answer string comes back)."""

    async def ask(req: PermissionRequest) -> str:
        details = json.loads(json.dumps(req.detail or {}, default=str))
        payload = {
            "kind": "ask",
            "request": {
                "domain": req.domain,
                "operation": req.operation,
                "resource": req.resource,
                "pid": req.pid,
                "details": details,
            },
        }
        answer = await asyncio.to_thread(call_host, handle, payload)
        return str(answer.get("value")) if answer.get("ok") else "deny"

    return ask


class GuestObjects:
    """The background processes and interpreters one VM's host holds handles on."""

    def __init__(self) -> None:
        self.procs: dict[int, Any] = {}
        self.objects: dict[int, Any] = {}
        self._next = 1

    async def spawn(self, vm: Any, argv: list[str], kwargs: dict[str, Any]) -> int:
        proc = await vm.spawn([str(a) for a in argv], **kwargs)
        self.procs[proc.pid] = proc
        return int(proc.pid)

    def proc(self, pid: Any) -> Any:
        proc = self.procs.get(pid) if isinstance(pid, int) else None
        if proc is None:
            raise ProcessLookupError(3, f"No such process: {pid}")
        return proc

    async def poll(self, pid: Any, max_wait: float) -> dict[str, Any]:
        """Output so far and the exit status once the process has ended and its output is
        all taken; waits up to ``max_wait`` seconds for either."""
        proc = self.proc(pid)
        out, err = proc.stdout, proc.stderr
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(0.0, max_wait)
        while True:
            done = proc.task.done() and out.eof and err.eof
            if out.buf or err.buf or done:
                break
            left = deadline - loop.time()
            if left <= 0:
                break
            out.event.clear()
            err.event.clear()
            waits = [
                asyncio.ensure_future(out.event.wait()),
                asyncio.ensure_future(err.event.wait()),
            ]
            try:
                await asyncio.wait(
                    [*waits, asyncio.shield(proc.task)],
                    timeout=left,
                    return_when=asyncio.FIRST_COMPLETED,
                )
            finally:
                for w in waits:
                    w.cancel()
        half = POLL_BYTES // 2
        o, e = bytes(out.buf[:half]), bytes(err.buf[:half])
        del out.buf[: len(o)]
        del err.buf[: len(e)]
        code: int | None = None
        if proc.task.done() and out.eof and err.eof and not out.buf and not err.buf:
            code = proc.exit_code if proc.exit_code is not None else 137
            self.procs.pop(pid, None)
        return {"stdout": o, "stderr": e, "exit": code}

    async def open_object(self, vm: Any, kind: str, kwargs: dict[str, Any]) -> int:
        if kind == "python":
            obj: Any = vm.python(**kwargs)
        elif kind == "shell":
            obj = vm.shell(**kwargs)
        else:
            raise ValueError(f"unknown object kind {kind!r}")
        oid = self._next
        self._next += 1
        self.objects[oid] = (kind, obj)
        return oid

    def obj(self, oid: Any) -> tuple[str, Any]:
        entry = self.objects.get(oid) if isinstance(oid, int) else None
        if entry is None:
            raise LookupError(f"no interpreter {oid!r} in this VM (it ended)")
        return entry  # type: ignore[no-any-return]

    async def run_object(self, oid: Any, arg: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        import dataclasses

        kind, obj = self.obj(oid)
        if kind == "python":
            r = await obj.run(arg)
            return {**dataclasses.asdict(r), "closed": bool(obj.closed)}
        r = await obj.run(arg, **kwargs)
        return {
            "exit_code": r.exit_code,
            "stdout_bytes": r.stdout_bytes,
            "stderr_bytes": r.stderr_bytes,
            "duration": r.duration,
            "limit_hit": r.limit_hit,
            "cwd": obj.cwd,
            "exited": obj.exited,
        }

    async def close_object(self, oid: Any) -> None:
        entry = self.objects.pop(oid, None) if isinstance(oid, int) else None
        if entry is None:
            return
        kind, obj = entry
        if kind == "python":
            await obj.close()
        else:
            await obj.aclose()

    async def close(self) -> None:
        for oid in list(self.objects):
            try:
                await self.close_object(oid)
            except Exception:
                pass
        for proc in list(self.procs.values()):
            if not proc.task.done():
                proc.task.cancel()
        self.procs.clear()
