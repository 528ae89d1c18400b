"""The host's answers to a process-isolated VM's callbacks: host tool calls and ``ask``
decisions.

The host trusts none of what the worker says: it finds the tool in its own toolkits, validates
the arguments with the tool's real model, decides ``tool.invoke`` with its own copy of the
policy (an ``ask`` rule needs a grant the host's handler gave), bounds the result's size and
the number of callbacks per request, and runs the function on the event loop the VM is used
from.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import functools
import inspect
import threading
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, cast

from pocketos.kernel.permissions import PermissionRequest, Policy

__all__ = ["HostServices", "call_tool", "toolkit_specs"]

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


async def call_tool(tool: Any, args: dict[str, Any], max_result: int) -> dict[str, Any]:
    """Validate ``args`` with the tool's real model, run it with its timeout and answer
    ``{"ok": True, "value": JSON}`` or an error of the kind the calling side raises again.
    The caller has decided ``tool.invoke`` already."""
    from pydantic import ValidationError

    from pocketos.tools._cli import dump_json, format_validation_error

    full = tool.full_name
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
    if len(text) > max_result:
        return _error(
            "ToolFailed",
            f"the result of {full} is {len(text)} bytes, more than the VM may output "
            f"(max_output_bytes={max_result})",
        )
    return {"ok": True, "value": text}


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
        return await call_tool(tool, args, self.max_result)

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
