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

from typing import Any

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
