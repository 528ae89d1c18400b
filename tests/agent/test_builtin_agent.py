"""The built-in agent end to end against fake OpenAI-compatible and Anthropic servers on
127.0.0.1 (real HTTP, scripted streaming replies with tool calls)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from pocketos import AsyncVM
from pocketos.agent import AgentConfig, ConfigError, estimate_cost
from pocketos.sessions import SessionError, create_session, resume_session
from pocketos.store import Store
from tests.agent.fake_llm import (
    FakeServer,
    Reply,
    anthropic_text,
    anthropic_tool,
    openai_text,
    openai_tool,
)


def cfg(srv: FakeServer, provider: str = "openai", **kw: Any) -> dict[str, Any]:
    base = srv.url + ("/v1" if provider == "openai" else "")
    model = "gpt-4.1-mini" if provider == "openai" else "claude-sonnet-4-5"
    return {
        "provider": provider,
        "base_url": base,
        "api_key": "test-key",
        "model": model,
        "backoff": 0,
        **kw,
    }


def script(provider: str) -> list[Reply]:
    tool = openai_tool if provider == "openai" else anthropic_tool
    text = openai_text if provider == "openai" else anthropic_text
    return [
        tool("write", {"path": "hello.txt", "content": "hi\n"}, "c1", (100, 10)),
        tool("bash", {"command": "cat hello.txt; echo done"}, "c2", (200, 20)),
        tool("read", {"path": "/work/hello.txt"}, "c3", (300, 30)),
        text("The file says hi.", (400, 40)),
    ]


def tool_results(req: dict[str, Any], provider: str) -> list[str]:
    msgs = req["json"]["messages"]
    if provider == "openai":
        return [m["content"] for m in msgs if m["role"] == "tool"]
    out = []
    for m in msgs:
        if m["role"] == "user" and isinstance(m["content"], list):
            out += [b["content"] for b in m["content"] if b["type"] == "tool_result"]
    return out


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_end_to_end_and_resume(provider: str, tmp_path: Any) -> None:
    async def go() -> None:
        async with FakeServer(script(provider)) as srv:
            vm = AsyncVM()
            vm.mkdir("/work")
            db = str(tmp_path / "s.db")
            store = Store(db)
            s = await create_session(
                vm, "pocketos", cwd="/work", store=store, agent_config=cfg(srv, provider)
            )
            r = await s.prompt("Create hello.txt containing hi, run it, and tell me.")
            assert (r.stop_reason, r.text) == (
                "end_turn",
                "Working. " * 3 + "The file says hi."
                if provider == "anthropic"
                else "The file says hi.",
            )
            assert vm.read_file("/work/hello.txt") == b"hi\n"
            assert tool_results(srv.requests[-1], provider) == [
                "wrote 3 bytes to /work/hello.txt",
                "hi\ndone\n[exit status 0]",
                "hi\n",
            ]
            req = srv.requests[0]
            if provider == "openai":
                assert req["path"] == "/v1/chat/completions"
                assert req["headers"]["authorization"] == "Bearer test-key"
                assert req["json"]["messages"][0]["role"] == "system"
                assert "pocketos VM" in req["json"]["messages"][0]["content"]
                names = [t["function"]["name"] for t in req["json"]["tools"]]
            else:
                assert req["path"] == "/v1/messages"
                assert req["headers"]["x-api-key"] == "test-key"
                assert "pocketos VM" in req["json"]["system"]
                names = [t["name"] for t in req["json"]["tools"]]
            assert names == ["bash", "read", "write", "edit", "ls", "glob", "grep", "python"]
            # usage and cost recorded
            assert r.usage is not None
            assert (r.usage["inputTokens"], r.usage["outputTokens"]) == (1000, 100)
            expected = estimate_cost(cfg(srv, provider)["model"], 1000, 100)
            assert expected is not None and r.cost == pytest.approx(expected)
            tot = store.usage_totals(s.id)
            assert (tot["input_tokens"], tot["output_tokens"]) == (1000, 100)
            assert tot["cost"] == pytest.approx(expected)
            kinds = [e.data.get("sessionUpdate") for e in r.events if e.kind == "update"]
            assert kinds.count("tool_call") == 3 and "usage_update" in kinds
            agent_sid = s.agent_session_id
            await s.close()
            store.close()

        # a restart: new store object, new VM, new server; the conversation continues
        second = [
            openai_text("You asked for hello.txt.")
            if provider == "openai"
            else anthropic_text("You asked for hello.txt.")
        ]
        async with FakeServer(second) as srv2:
            store2 = Store(db)
            vm2 = AsyncVM()
            s2 = await resume_session(
                vm2,
                s.id,
                store=store2,
                agent_config={"base_url": cfg(srv2, provider)["base_url"], "api_key": "test-key"},
            )
            assert s2.agent_session_id == agent_sid
            r2 = await s2.prompt("What did I ask before?")
            assert r2.text == "You asked for hello.txt."
            msgs = srv2.requests[0]["json"]["messages"]
            texts = json.dumps(msgs)
            assert "Create hello.txt containing hi" in texts
            assert "What did I ask before?" in texts
            assert "The file says hi." in texts
            seqs = [e["seq"] for e in store2.events(s.id)]
            assert seqs == list(range(1, len(seqs) + 1))
            await s2.close()
            await vm.aclose()
            await vm2.aclose()

    asyncio.run(go())


def test_retry_on_429_and_500() -> None:
    async def go() -> None:
        replies = [
            Reply(429, b'{"error": {"message": "slow down"}}'),
            Reply(503, b"busy"),
            openai_text("fine"),
        ]
        async with FakeServer(replies) as srv:
            vm = AsyncVM()
            s = await create_session(vm, "pocketos", store=Store(":memory:"), agent_config=cfg(srv))
            r = await s.prompt("hi")
            assert r.text == "fine" and len(srv.requests) == 3
            await s.close()

    asyncio.run(go())


def test_provider_error_is_reported() -> None:
    async def go() -> None:
        async with FakeServer([Reply(401, b'{"error": {"message": "bad key"}}')]) as srv:
            vm = AsyncVM()
            s = await create_session(vm, "pocketos", store=Store(":memory:"), agent_config=cfg(srv))
            with pytest.raises(SessionError, match="openai API error 401: bad key") as info:
                await s.prompt("hi")
            assert info.value.code == "http_error"
            # the session survives a failed prompt
            assert s.status == "ready"
            await s.close()

    asyncio.run(go())


def test_missing_key_names_the_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("POCKETOS_API_KEY", "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "POCKETOS_PROVIDER"):
        monkeypatch.delenv(var, raising=False)

    async def go() -> None:
        vm = AsyncVM()
        with pytest.raises(
            SessionError,
            match="set POCKETOS_API_KEY \\(or OPENAI_API_KEY\\); "
            "optionally POCKETOS_BASE_URL, POCKETOS_MODEL",
        ):
            await create_session(vm, "pocketos", store=Store(":memory:"))

    asyncio.run(go())
    with pytest.raises(ConfigError, match="ANTHROPIC_API_KEY"):
        AgentConfig.resolve({"provider": "anthropic"}, {}).require_key()


def test_cancel_mid_turn_then_continue() -> None:
    async def go() -> None:
        hold = asyncio.Event()
        first = openai_text("never seen")
        first.hold = hold
        async with FakeServer([first, openai_text("back")]) as srv:
            vm = AsyncVM()
            s = await create_session(vm, "pocketos", store=Store(":memory:"), agent_config=cfg(srv))
            task = asyncio.ensure_future(s.prompt("long job"))
            await srv.received.wait()
            await s.cancel()
            r = await task
            assert r.stop_reason == "cancelled"
            hold.set()
            r2 = await s.prompt("again")
            assert r2.text == "back"
            roles = [m["role"] for m in srv.requests[-1]["json"]["messages"]]
            assert roles == ["system", "user", "user"]
            await s.close()

    asyncio.run(go())


def test_edit_uniqueness_modes_and_policy() -> None:
    async def go() -> None:
        replies = [
            openai_tool("edit", {"path": "f.txt", "old_string": "a", "new_string": "b"}, "e1"),
            openai_tool("edit", {"path": "f.txt", "old_string": "a\nc", "new_string": "X"}, "e2"),
            openai_tool("write", {"path": "/etc/x", "content": "no"}, "w1"),
            openai_text("done"),
            openai_tool("write", {"path": "g.txt", "content": "x"}, "w2"),
            openai_text("refused"),
        ]
        async with FakeServer(replies) as srv:
            vm = AsyncVM(
                policy={
                    "fs": {
                        "default": "allow",
                        "rules": [
                            {
                                "mode": "deny",
                                "operations": ["write", "create_dir"],
                                "paths": ["/etc/**"],
                            }
                        ],
                    },
                    "child_process": "allow",
                }
            )
            vm.write_file("/home/user/f.txt", "a\na\nc\n")
            asked: list[Any] = []

            def refuse(req: Any) -> str:
                asked.append(req)
                return "reject"

            s = await create_session(
                vm,
                "pocketos",
                store=Store(":memory:"),
                agent_config=cfg(srv),
                permission_handler=refuse,
            )
            r = await s.prompt("edit it")
            assert r.text == "done"
            res = [m["content"] for m in srv.requests[3]["json"]["messages"] if m["role"] == "tool"]
            assert res[0] == (
                "error: old_string occurs 2 times in /home/user/f.txt; add "
                "surrounding context to make it unique, or set replace_all"
            )
            assert res[1] == "replaced 1 occurrence(s) in /home/user/f.txt"
            assert res[2].startswith("error: Permission denied")
            assert vm.read_file("/home/user/f.txt") == b"a\nX\n"
            await s.set_mode("ask")
            r = await s.prompt("write g")
            assert r.text == "refused" and not vm.exists("/home/user/g.txt")
            assert len(asked) == 1 and asked[0].detail["title"] == "write g.txt"
            # the request names the pocketos session, and the agent's own id separately
            assert asked[0].detail["session_id"] == s.id and s.id.startswith("ses-")
            assert asked[0].detail["agent_session_id"] == s.agent_session_id != s.id
            await s.close()

    asyncio.run(go())


def test_builtin_agent_as_subprocess(tmp_path: Any) -> None:
    """``python -m pocketos.agent`` over stdio: same tools, same VM callbacks."""
    import sys

    async def go() -> None:
        replies = [openai_tool("bash", {"command": "echo hi > out.txt"}, "c1"), openai_text("ok")]
        async with FakeServer(replies) as srv:
            vm = AsyncVM()
            s = await create_session(
                vm,
                [sys.executable, "-m", "pocketos.agent", "--store", str(tmp_path / "agent.db")],
                store=Store(":memory:"),
                env={
                    "POCKETOS_API_KEY": "k",
                    "POCKETOS_BASE_URL": srv.url + "/v1",
                    "POCKETOS_MODEL": "gpt-4.1-mini",
                },
            )
            assert s.agent_info is not None and s.agent_info["name"] == "pocketos-agent"
            r = await s.prompt("write out.txt")
            assert r.text == "ok"
            assert vm.read_file("/home/user/out.txt") == b"hi\n"
            assert srv.requests[-1]["json"]["messages"][-1]["content"] == "[exit status 0]"
            await s.close()
            await vm.aclose()

    asyncio.run(go())


def test_host_tools_are_agent_tools() -> None:
    from pocketos.tools import Toolkit, install

    kit = Toolkit("math", "Math tools")

    @kit.tool()
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    async def go() -> None:
        async with FakeServer([openai_tool("math_add", {"a": 1, "b": 2}), openai_text("3")]) as srv:
            vm = AsyncVM(policy={"fs": "allow", "child_process": "allow", "tool": "allow"})
            install(vm.kernel, [kit])
            s = await create_session(vm, "pocketos", store=Store(":memory:"), agent_config=cfg(srv))
            assert "`pocketos-math add`" in s.instructions
            r = await s.prompt("add 1 and 2")
            assert r.text == "3"
            names = [t["function"]["name"] for t in srv.requests[0]["json"]["tools"]]
            assert names[-1] == "math_add"
            assert (
                srv.requests[-1]["json"]["messages"][-1]["content"] == '{"ok": true, "result": 3}\n'
            )
            await s.close()

    asyncio.run(go())
