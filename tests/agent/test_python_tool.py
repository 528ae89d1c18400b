"""The built-in agent's tools act through the VM: a persistent Python interpreter per session
(the client's ``_pocketos/python`` extension) and file and command tools that the VM's policy
checks."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from pocketos import AsyncVM
from pocketos.agent.tools import BUILTIN_TOOLS, ToolError, ToolRunner, _python_result
from pocketos.sessions import create_session
from pocketos.store import Store
from pocketos.wasm import python_available
from tests.agent.fake_llm import FakeServer, openai_text, openai_tool


def cfg(srv: FakeServer) -> dict[str, Any]:
    return {
        "provider": "openai",
        "base_url": srv.url + "/v1",
        "api_key": "k",
        "model": "gpt-4.1-mini",
        "backoff": 0,
    }


def tool_results(req: dict[str, Any]) -> list[str]:
    return [m["content"] for m in req["json"]["messages"] if m["role"] == "tool"]


@pytest.mark.skipif(
    not python_available(), reason="the wasm Python runtime is not installed (pocketos warmup)"
)
def test_python_state_persists_across_calls_and_prompts() -> None:
    async def go() -> None:
        replies = [
            openai_tool("python", {"code": "x = 41"}, "p1"),
            openai_tool("python", {"code": "x + 1"}, "p2"),
            openai_text("42"),
            openai_tool("python", {"code": "print(x * 2)\nx = 0"}, "p3"),
            openai_tool("python", {"code": "x", "reset": True}, "p4"),
            openai_text("reset"),
        ]
        async with FakeServer(replies) as srv:
            vm = AsyncVM()
            s = await create_session(vm, "pocketos", store=Store(":memory:"), agent_config=cfg(srv))
            r = await s.prompt("set x to 41, then add one")
            assert r.text == "42"
            assert tool_results(srv.requests[2]) == ["[no output]\n", "42\n"]
            r = await s.prompt("double it, then start over")
            assert r.text == "reset"
            assert tool_results(srv.requests[5])[2:] == [
                "82\n",
                "error: Traceback (most recent call last):\n"
                '  File "<cell-1>", line 1, in <module>\n'
                "    x\n"
                "NameError: name 'x' is not defined",
            ]
            runs = [e.data for e in s.events.events if e.kind == "python.run"]
            assert [(d["code"], d["ok"]) for d in runs] == [
                ("x = 41", True),
                ("x + 1", True),
                ("print(x * 2)\nx = 0", True),
                ("x", False),
            ]
            py = s._python
            assert py is not None and not py.closed
            await s.close()
            assert py.closed and s._python is None
            await vm.aclose()

    asyncio.run(go())


def test_tools_are_checked_by_the_vm_policy() -> None:
    async def go() -> None:
        replies = [
            openai_tool("read", {"path": "/secret/key.txt"}, "r1"),
            openai_tool("bash", {"command": "cat /secret/key.txt"}, "b1"),
            openai_tool("python", {"code": "1"}, "p1"),
            openai_tool("write", {"path": "/secret/x", "content": "x"}, "w1"),
            openai_text("all refused"),
        ]
        async with FakeServer(replies) as srv:
            seed = AsyncVM()
            seed.write_file("/secret/key.txt", b"k\n", parents=True)
            vm = AsyncVM(
                snapshots=[seed.snapshot()],
                policy={
                    "fs": {
                        "default": "allow",
                        "rules": [
                            {
                                "mode": "deny",
                                "operations": ["read", "write"],
                                "paths": ["/secret/**"],
                            }
                        ],
                    },
                    "child_process": {
                        "default": "allow",
                        "rules": [{"mode": "deny", "operations": ["spawn"], "paths": ["python3"]}],
                    },
                },
            )
            s = await create_session(vm, "pocketos", store=Store(":memory:"), agent_config=cfg(srv))
            r = await s.prompt("read the key")
            assert r.text == "all refused"
            assert tool_results(srv.requests[-1]) == [
                "error: Permission denied: fs.read on /secret/key.txt",
                "cat: /secret/key.txt: Permission denied: fs.read on /secret/key.txt\n"
                "[exit status 1]",
                "error: python3: Permission denied: child_process.spawn on python3",
                "error: Permission denied: fs.write on /secret/x",
            ]
            assert not vm.exists("/secret/x")
            await s.close()
            await vm.aclose()

    asyncio.run(go())


class _NoExtensionClient:
    """An ACP client without the interpreter extension: python falls back to python3 -c."""

    def __init__(self) -> None:
        self.commands: list[tuple[str, list[str] | None]] = []

    async def ext_method(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        from acp import RequestError

        raise RequestError.method_not_found("_" + method)

    async def create_terminal(
        self, *, command: str, args: list[str] | None = None, **kw: Any
    ) -> Any:
        self.commands.append((command, args))
        return SimpleNamespace(terminal_id="t1")

    async def wait_for_terminal_exit(self, **kw: Any) -> Any:
        return SimpleNamespace(exit_code=0)

    async def terminal_output(self, **kw: Any) -> Any:
        return SimpleNamespace(output="2\n", truncated=False)

    async def release_terminal(self, **kw: Any) -> None:
        return None


def test_python_falls_back_to_a_process_per_call() -> None:
    client = _NoExtensionClient()
    runner = ToolRunner(client, "s", "/work", BUILTIN_TOOLS)
    out = asyncio.run(runner.run("python", {"code": "print(1 + 1)"}))
    assert out == "2\n[exit status 0]"
    assert client.commands == [("python3", ["-c", "print(1 + 1)"])]
    assert runner.persistent_python is False


def test_python_result_text() -> None:
    assert _python_result({"stdout": "a", "stderr": "", "value": "3", "error": None}) == "a\n3\n"
    assert (
        _python_result({"stdout": "", "stderr": "", "value": None, "error": None})
        == "[no output]\n"
    )
    assert _python_result({"stdout": "x\n", "value": None, "error": None, "restarted": True}) == (
        "[the interpreter had stopped and was restarted: earlier variables are gone]\nx\n"
    )
    with pytest.raises(ToolError) as info:
        _python_result(
            {
                "stdout": "",
                "stderr": "",
                "value": None,
                "error": "LimitExceeded: time limit exceeded",
                "ended": True,
            }
        )
    assert str(info.value) == (
        "LimitExceeded: time limit exceeded\n"
        "[the interpreter stopped; the next call starts a fresh one]"
    )
