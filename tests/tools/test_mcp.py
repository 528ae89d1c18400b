"""The toolkits over MCP, with a real MCP client: in process and over stdio."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import mcp
from mcp.client.stdio import StdioServerParameters

from pocketos import VM
from pocketos.tools import install, mcp_server
from tests.tools.conftest import tool_policy
from tests.tools.sample_kits import KITS

ROOT = Path(__file__).resolve().parents[2]


def text_of(result: Any) -> str:
    return "".join(getattr(c, "text", "") for c in result.content)


async def _exercise(client: Any) -> dict[str, Any]:
    tools = (await client.list_tools()).tools
    names = [t.name for t in tools]
    by_name = {t.name: t for t in tools}
    add = await client.call_tool("math_add", {"a": 2, "b": 3})
    issue = await client.call_tool(
        "github_create-issue", {"repo": "a/b", "title": "x", "labels": ["bug"]}
    )
    bad = await client.call_tool("math_add", {"b": 3})
    boom = await client.call_tool("github_explode", {"message": "kaput"})
    return {"names": names, "tools": by_name, "add": add, "issue": issue, "bad": bad, "boom": boom}


def _check(out: dict[str, Any]) -> None:
    assert out["names"] == [
        "github_create-issue",
        "github_list-issues",
        "github_wait-forever",
        "github_explode",
        "math_add",
        "math_scale",
    ]
    t = out["tools"]["github_create-issue"]
    assert t.description == "Create an issue in a repository."
    assert t.input_schema["required"] == ["repo", "title"]
    assert out["tools"]["math_add"].input_schema["required"] == ["a"]
    assert not out["add"].is_error and json.loads(text_of(out["add"])) == 5.0
    assert json.loads(text_of(out["issue"]))["labels"] == ["bug"]
    assert out["bad"].is_error
    assert out["boom"].is_error and "RuntimeError: kaput" in text_of(out["boom"])


def test_in_process() -> None:
    with VM(policy=tool_policy()) as vm:
        install(vm.kernel, KITS)
        server = mcp_server(vm)

        async def main() -> dict[str, Any]:
            async with mcp.Client(server) as client:
                return await _exercise(client)

        _check(asyncio.run(main()))
        evs = [(e.resource, e.actor, e.detail["ok"]) for e in vm.audit_log(kind="tool")]
        assert evs == [
            ("math:add", "mcp", True),
            ("github:create-issue", "mcp", True),
            ("github:explode", "mcp", False),
        ]


def test_in_process_respects_policy() -> None:
    with VM() as vm:  # tools denied by default
        install(vm.kernel, KITS)

        async def main() -> Any:
            async with mcp.Client(mcp_server(vm)) as client:
                return await client.call_tool("math_add", {"a": 1})

        res = asyncio.run(main())
        assert res.is_error
        assert text_of(res).endswith("permission denied: tool.invoke on math:add")


def test_stdio() -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "src"), env.get("PYTHONPATH", "")])
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "pocketos.tools.mcp", "--module", "tests.tools.sample_kits:KITS"],
        env=env,
        cwd=str(ROOT),
    )

    async def main() -> dict[str, Any]:
        async with mcp.Client(params) as client:
            return await _exercise(client)

    _check(asyncio.run(main()))
