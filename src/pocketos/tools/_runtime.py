"""The toolkits installed in one VM and the single path every call takes: policy check
(``tool.invoke`` on ``kit:tool``, ``ask`` included), argument validation, the call itself under a
timeout, and one audit event."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from pocketos.kernel.permissions import PermissionRequest
from pocketos.tools._model import Tool, Toolkit

if TYPE_CHECKING:
    from pocketos.kernel.kernel import Kernel

__all__ = [
    "ToolHost",
    "ToolCallError",
    "ToolDenied",
    "ToolTimeout",
    "ToolFailed",
    "ToolArgumentsInvalid",
    "install",
    "get_host",
]


class ToolCallError(Exception):
    """A tool call that did not produce a result. ``str(exc)`` is the message."""


class ToolDenied(ToolCallError, PermissionError):
    pass


class ToolTimeout(ToolCallError, TimeoutError):
    pass


class ToolFailed(ToolCallError):
    """The tool raised; ``original`` is its exception."""

    def __init__(self, message: str, original: BaseException) -> None:
        super().__init__(message)
        self.original = original


class ToolArgumentsInvalid(ToolCallError, ValueError):
    def __init__(self, message: str, validation: ValidationError | None = None) -> None:
        super().__init__(message)
        self.validation = validation


class ToolHost:
    """The toolkits of one VM (``kernel.tools``)."""

    def __init__(self, kernel: Kernel, toolkits: Iterable[Toolkit] = ()) -> None:
        self.kernel = kernel
        self.kits: dict[str, Toolkit] = {}
        for kit in toolkits:
            self.add(kit)

    def add(self, kit: Toolkit) -> None:
        if not isinstance(kit, Toolkit):
            raise TypeError(
                f"expected a Toolkit, not {type(kit).__name__} (build one with "
                f"pocketos.tools.toolkit(name, [functions], description=...))"
            )
        if kit.name in self.kits:
            raise ValueError(f"duplicate toolkit name {kit.name!r}")
        self.kits[kit.name] = kit

    def get(self, kit: str, tool: str) -> Tool | None:
        k = self.kits.get(kit)
        return None if k is None else k.tools.get(tool)

    def all_tools(self) -> list[Tool]:
        return [t for k in self.kits.values() for t in k.tools.values()]

    async def authorize(self, tool: Tool, *, pid: int | None = None) -> None:
        """Raise :class:`ToolDenied` unless the policy lets this VM call ``tool``."""
        kernel = self.kernel
        resource = tool.full_name
        decision = kernel.policy.decide(
            "tool", "invoke", resource, {"kit": tool.kit, "tool": tool.name}
        )
        if decision == "allow":
            return
        if decision == "ask":
            req = PermissionRequest(
                "tool", "invoke", resource, kernel.id, pid, {"kit": tool.kit, "tool": tool.name}
            )
            kernel.audit.record(
                "permission", capability="tool.invoke", resource=resource, decision="ask", pid=pid
            )
            if await kernel.policy.ask_async(req):
                kernel.audit.record(
                    "permission",
                    capability="tool.invoke",
                    resource=resource,
                    decision="allow",
                    reason="granted by handler",
                    pid=pid,
                )
                return
            kernel.audit.record(
                "tool",
                capability="tool.invoke",
                resource=resource,
                decision="deny",
                reason="refused by handler or no answer",
                pid=pid,
                duration=0.0,
                ok=False,
            )
            raise ToolDenied(f"permission denied: tool.invoke on {resource} (not granted)")
        kernel.audit.record(
            "tool",
            capability="tool.invoke",
            resource=resource,
            decision="deny",
            reason="policy",
            pid=pid,
            duration=0.0,
            ok=False,
        )
        raise ToolDenied(f"permission denied: tool.invoke on {resource}")

    async def invoke(
        self,
        kit: str,
        name: str,
        args: dict[str, Any] | None = None,
        *,
        pid: int | None = None,
        actor: str = "",
    ) -> Any:
        """Call a tool with an arguments object and return its result.

        Raises :class:`ToolDenied`, :class:`ToolArgumentsInvalid`, :class:`ToolTimeout`,
        :class:`ToolFailed` or LookupError (unknown kit or tool).
        """
        tool = self.get(kit, name)
        if tool is None:
            if kit not in self.kits:
                raise LookupError(f"unknown toolkit {kit!r}")
            raise LookupError(f"unknown tool {name!r} in toolkit {kit!r}")
        await self.authorize(tool, pid=pid)
        try:
            validated = tool.validate(dict(args or {}))
        except ValidationError as exc:
            raise ToolArgumentsInvalid(str(exc), exc)
        return await self.call_validated(tool, validated, pid=pid, actor=actor)

    async def call_validated(
        self, tool: Tool, validated: Any, *, pid: int | None = None, actor: str = ""
    ) -> Any:
        """Run an authorized tool on validated arguments, with its timeout, and audit it."""
        cargs, kwargs = tool.call_args(validated)
        start = time.perf_counter()
        ok = False
        reason = ""
        try:
            if tool.is_async:
                coro = tool.func(*cargs, **kwargs)
            else:
                ctx = contextvars.copy_context()
                call = functools.partial(ctx.run, tool.func, *cargs, **kwargs)
                coro = asyncio.get_running_loop().run_in_executor(None, call)
            try:
                result = await asyncio.wait_for(coro, tool.timeout)
            except TimeoutError:
                reason = "timeout"
                raise ToolTimeout(f"timed out after {tool.timeout:g}s")
            if asyncio.iscoroutine(result):  # a sync wrapper that returned a coroutine
                result = await asyncio.wait_for(result, tool.timeout)
            ok = True
            return result
        except ToolCallError:
            raise
        except asyncio.CancelledError:
            reason = "cancelled"
            raise
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"
            raise ToolFailed(
                f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__, exc
            )
        finally:
            self.kernel.audit.record(
                "tool",
                capability="tool.invoke",
                resource=tool.full_name,
                decision="allow",
                reason=reason,
                pid=pid,
                actor=actor,
                duration=round(time.perf_counter() - start, 6),
                ok=ok,
            )


def get_host(kernel: Kernel) -> ToolHost | None:
    host = kernel.tools
    return host if isinstance(host, ToolHost) else None


def install(kernel: Kernel, toolkits: Iterable[Toolkit]) -> ToolHost:
    """Install ``toolkits`` in a VM's kernel: ``kernel.tools`` becomes a :class:`ToolHost` and
    ``pocketos-<kit>`` plus ``pocketos`` are registered as per-VM commands. Duplicate toolkit
    names raise ValueError; installing again adds kits to the same host."""
    from pocketos.tools.commands import kit_command, master_command

    kits = list(toolkits)
    host = get_host(kernel)
    names = [k.name for k in kits if isinstance(k, Toolkit)]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f"duplicate toolkit name(s): {', '.join(dup)}")
    if host is None:
        host = ToolHost(kernel)
    clash = sorted(n for n in names if n in host.kits)
    if clash:
        raise ValueError(f"duplicate toolkit name(s): {', '.join(clash)}")
    for kit in kits:
        host.add(kit)
    kernel.tools = host
    for kit in kits:
        kernel.commands.add(f"pocketos-{kit.name}", kit_command(kit.name))
    kernel.commands.add("pocketos", master_command)
    return host
