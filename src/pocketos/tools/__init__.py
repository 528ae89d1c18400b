"""Host tools: typed Python functions exposed to a VM as commands, to agents as a Markdown
reference and over MCP.

    kit = Toolkit("github", "GitHub issues")

    @kit.tool()
    def create_issue(repo: str, title: str, labels: list[str] = []) -> dict:
        '''Create an issue.'''
        ...

    vm = VM(toolkits=[kit], policy={"tool": "allow", ...})
    vm.exec("pocketos-github create-issue --repo a/b --title 'Bug' --labels bug")
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pocketos.tools._model import DEFAULT_TIMEOUT, Tool, Toolkit, toolkit
    from pocketos.tools._reference import reference_markdown
    from pocketos.tools._runtime import (
        ToolArgumentsInvalid,
        ToolCallError,
        ToolDenied,
        ToolFailed,
        ToolHost,
        ToolTimeout,
        get_host,
        install,
    )

#: public name -> module; loaded on first use, so registering the commands stays cheap
_LAZY = {
    "DEFAULT_TIMEOUT": "_model",
    "Tool": "_model",
    "Toolkit": "_model",
    "toolkit": "_model",
    "reference_markdown": "_reference",
    "ToolArgumentsInvalid": "_runtime",
    "ToolCallError": "_runtime",
    "ToolDenied": "_runtime",
    "ToolFailed": "_runtime",
    "ToolHost": "_runtime",
    "ToolTimeout": "_runtime",
    "get_host": "_runtime",
    "install": "_runtime",
}


def __getattr__(name: str) -> Any:
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module 'pocketos.tools' has no attribute {name!r}")
    return getattr(importlib.import_module(f"pocketos.tools.{mod}"), name)


__all__ = [
    "DEFAULT_TIMEOUT",
    "Tool",
    "ToolArgumentsInvalid",
    "ToolCallError",
    "ToolDenied",
    "ToolFailed",
    "ToolHost",
    "ToolTimeout",
    "Toolkit",
    "get_host",
    "install",
    "mcp_server",
    "reference_markdown",
    "toolkit",
]


def mcp_server(vm: Any, *, name: str = "pocketos") -> Any:
    """An MCP server (``mcp.server.mcpserver.MCPServer``) exposing the VM's tools; every call
    goes through the VM's policy and audit log. Needs the ``mcp`` package."""
    from pocketos.tools.mcp import build_server

    return build_server(vm, name=name)
