"""The VM's toolkits over MCP (PyPI ``mcp>=2``).

In process::

    server = pocketos.tools.mcp_server(vm)      # an mcp.server.mcpserver.MCPServer
    async with mcp.Client(server) as client:
        await client.call_tool("github_create-issue", {"title": "x"})

Over stdio::

    python -m pocketos.tools.mcp --module mymod:toolkits [--policy policy.json]

MCP tool names are ``<kit>_<tool>`` (kit names never contain ``_``, so the split is
unambiguous, and the name fits the ``[A-Za-z0-9_-]`` alphabet every client accepts). Every
call goes through the VM's tool host: ``tool.invoke`` policy check, validation, timeout, audit.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import sys
from collections.abc import Sequence
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from pocketos.tools._model import Tool, Toolkit
from pocketos.tools._runtime import ToolCallError, ToolHost, get_host, install

__all__ = ["build_server", "mcp_tool_name", "main", "load_toolkits"]


def mcp_tool_name(tool: Tool) -> str:
    return f"{tool.kit}_{tool.name}"


def _kernel_of(vm: Any) -> Any:
    kernel = getattr(vm, "kernel", None)
    if kernel is None:
        raise TypeError(f"expected a VM or AsyncVM, not {type(vm).__name__}")
    return kernel


def _wrapper(host: ToolHost, tool: Tool) -> Any:
    params = []
    for name, info in tool.model.model_fields.items():
        default: Any = inspect.Parameter.empty if info.is_required() else info
        params.append(
            inspect.Parameter(
                name, inspect.Parameter.KEYWORD_ONLY, annotation=info.annotation, default=default
            )
        )

    async def call(**kwargs: Any) -> Any:
        try:
            return await host.invoke(tool.kit, tool.name, kwargs, actor="mcp")
        except ToolCallError as exc:
            raise ToolError(str(exc)) from exc
        except LookupError as exc:
            raise ToolError(str(exc)) from exc

    call.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    call.__name__ = mcp_tool_name(tool).replace("-", "_")
    call.__doc__ = tool.description
    call.__annotations__ = {p.name: p.annotation for p in params}
    return call


def build_server(vm: Any, *, name: str = "pocketos") -> MCPServer:
    """An MCPServer exposing every tool installed in ``vm`` (a VM or AsyncVM)."""
    host = get_host(_kernel_of(vm))
    server: MCPServer = MCPServer(name, instructions="Host tools of a pocketos VM.")
    if host is None:
        return server
    for tool in host.all_tools():
        server.add_tool(
            _wrapper(host, tool),
            name=mcp_tool_name(tool),
            description=tool.description,
            structured_output=False,
        )
    return server


def load_toolkits(spec: str) -> list[Toolkit]:
    """``module:attr`` -> toolkits. ``attr`` may be a Toolkit, a list of them or a function
    returning either."""
    mod_name, _, attr = spec.partition(":")
    if not mod_name or not attr:
        raise ValueError(f"--module wants MODULE:ATTRIBUTE, not {spec!r}")
    obj: Any = importlib.import_module(mod_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    if callable(obj) and not isinstance(obj, Toolkit):
        obj = obj()
    if isinstance(obj, Toolkit):
        return [obj]
    kits = list(obj)
    for k in kits:
        if not isinstance(k, Toolkit):
            raise TypeError(f"{spec}: expected Toolkit objects, got {type(k).__name__}")
    return kits


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m pocketos.tools.mcp", description="Serve pocketos toolkits over MCP (stdio)."
    )
    ap.add_argument(
        "--module",
        action="append",
        required=True,
        metavar="MODULE:ATTR",
        help="where the toolkits are (repeatable)",
    )
    ap.add_argument(
        "--policy",
        metavar="FILE",
        help="a JSON permission policy for the VM (default: allow every tool "
        "of the given toolkits, deny everything of the host)",
    )
    ap.add_argument("--name", default="pocketos", help="server name")
    ns = ap.parse_args(list(argv) if argv is not None else None)
    from pocketos.kernel.permissions import DEFAULT_POLICY
    from pocketos.vm import AsyncVM

    kits: list[Toolkit] = []
    for spec in ns.module:
        kits.extend(load_toolkits(spec))
    if ns.policy:
        with open(ns.policy, encoding="utf-8") as fh:
            policy = json.load(fh)
    else:
        policy = dict(DEFAULT_POLICY)
        policy["tool"] = "allow"
    vm = AsyncVM(policy=policy)
    install(vm.kernel, kits)
    server = build_server(vm, name=ns.name)
    try:
        server.run("stdio")
    finally:
        vm.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
