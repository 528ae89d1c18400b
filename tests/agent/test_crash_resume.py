"""A host process killed with SIGKILL in the middle of a prompt (during a tool call, or while
the model request is in flight), then the session resumed in another process against a strict
fake model server that answers 400 to conversations the real APIs reject."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from pocketos import AsyncVM
from pocketos.sessions import create_session, list_sessions, resume_session
from pocketos.store import Store
from tests.agent.fake_llm import (
    FakeServer,
    Reply,
    anthropic_text,
    anthropic_tool,
    conversation_error,
    openai_text,
    openai_tool,
)

CHILD = Path(__file__).with_name("crash_child.py")
ROOT = Path(__file__).parents[2]


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    paths = [str(ROOT / "src"), str(ROOT)]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


def base(url: str, provider: str) -> str:
    return url + ("/v1" if provider == "openai" else "")


def tool_results(req: dict[str, Any], provider: str) -> list[str]:
    msgs = req["json"]["messages"]
    if provider == "openai":
        return [m["content"] for m in msgs if m["role"] == "tool"]
    return [
        b["content"]
        for m in msgs
        if m["role"] == "user" and isinstance(m["content"], list)
        for b in m["content"]
        if b["type"] == "tool_result"
    ]


async def crash(db: Path, provider: str, during: str) -> str:
    """Run the child against a server until it is inside a tool call (or waiting for the
    model), SIGKILL it, and return the session id."""
    never = asyncio.Event()
    if during == "tool":
        tool = openai_tool if provider == "openai" else anthropic_tool
        first = tool("write", {"path": "hello.txt", "content": "hi\n"}, "call_w")
    else:
        first = Reply(hold=never)
    async with FakeServer([first]) as srv:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            str(CHILD),
            str(db),
            base(srv.url, provider),
            provider,
            stdout=asyncio.subprocess.PIPE,
            env=child_env(),
        )
        assert proc.stdout is not None
        try:
            line = (await proc.stdout.readline()).decode()
            assert line.startswith("SESSION ses-"), line
            sid = line.split()[1]
            if during == "tool":
                assert (await proc.stdout.readline()).decode() == "IN TOOL\n"
            else:
                await srv.received.wait()  # the model request is in flight
            proc.send_signal(signal.SIGKILL)
        finally:
            if proc.returncode is None:
                proc.kill()
            await proc.wait()
    assert proc.returncode == -signal.SIGKILL
    return sid


@pytest.mark.parametrize("during", ["tool", "stream"])
@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_resume_after_sigkill(tmp_path: Path, provider: str, during: str) -> None:
    db = tmp_path / "s.db"

    async def go() -> None:
        sid = await crash(db, provider, during)

        # the store still says what the dead process last wrote; list_sessions says the truth
        store = Store(str(db))
        (row,) = [r for r in list_sessions(store=store) if r["id"] == sid]
        assert row["status"] == "interrupted" and not row["live"]
        assert store.get_session(sid)["status"] == "prompting"  # type: ignore[index]

        text = openai_text if provider == "openai" else anthropic_text
        async with FakeServer([text("Resumed fine.")], strict=True) as srv:
            vm = AsyncVM()
            s = await resume_session(
                vm,
                sid,
                store=store,
                agent_config={"base_url": base(srv.url, provider), "api_key": "k"},
            )
            r = await s.prompt("go on")
            assert r.text == "Resumed fine." and r.stop_reason == "end_turn"
            (req,) = srv.requests
            assert conversation_error(req["json"], provider == "anthropic") is None
            if during == "tool":
                (result,) = tool_results(req, provider)
                assert "interrupted" in result
            else:
                assert tool_results(req, provider) == []
            await s.close()
            await vm.aclose()

        prompts = store.prompts(sid)
        assert [(p["n"], p["error"]) for p in prompts] == [
            (1, "interrupted (the host process ended)"),
            (2, None),
        ]
        assert prompts[0]["ended"] is not None and prompts[1]["stop_reason"] == "end_turn"
        ended = [e["data"] for e in store.events(sid) if e["kind"] == "prompt.ended"]
        assert ended[0] == {
            "prompt": 1,
            "stopReason": None,
            "error": "interrupted (the host process ended)",
        }
        (row,) = [r for r in list_sessions(store=store) if r["id"] == sid]
        assert row["status"] == "closed"
        store.close()

    asyncio.run(go())


def test_strict_server_rejects_what_the_old_resume_sent() -> None:
    """The fake server's rule is the real APIs' rule: a tool call without a result, followed
    by a user message, is a 400."""
    broken = {
        "messages": [
            {"role": "user", "content": "write"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "w", "arguments": "{}"}}
                ],
            },
            {"role": "user", "content": "go on"},
        ]
    }
    assert "must be followed by tool messages" in (conversation_error(broken, False) or "")
    anth = {
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "write"}]},
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "t1", "name": "w", "input": {}}],
            },
            {"role": "user", "content": [{"type": "text", "text": "go on"}]},
        ]
    }
    assert "without tool_result" in (conversation_error(anth, True) or "")


def test_resume_after_the_agent_process_is_killed_during_a_tool_call(tmp_path: Path) -> None:
    from pocketos.sessions import AgentCrashed

    async def go() -> None:
        store = Store(str(tmp_path / "s.db"))
        argv = [sys.executable, "-m", "pocketos.agent", "--store", str(tmp_path / "agent.db")]
        asking = asyncio.Event()
        pypath = {"PYTHONPATH": child_env()["PYTHONPATH"]}  # the agent runs this tree's code

        async def ask(req: Any) -> str:
            asking.set()
            await asyncio.Event().wait()  # the agent is killed while it waits for this
            return "allow_once"

        tool = openai_tool("write", {"path": "hello.txt", "content": "hi\n"}, "call_w")
        async with FakeServer([tool]) as srv:
            env = {"POCKETOS_API_KEY": "k", "POCKETOS_BASE_URL": srv.url + "/v1", **pypath}
            vm = AsyncVM()
            s = await create_session(
                vm, argv, store=store, env=env, permission_handler=ask, permission_timeout=3600
            )
            await s.set_mode("ask")
            task = asyncio.ensure_future(s.prompt("write hello.txt"))
            await asking.wait()
            assert s._proc is not None
            s._proc.send_signal(signal.SIGKILL)
            with pytest.raises(AgentCrashed) as info:
                await task
            assert info.value.code == "agent_crashed"
            assert s.status == "crashed"
            await s.close()

        async with FakeServer([openai_text("Resumed fine.")], strict=True) as srv:
            env = {"POCKETOS_API_KEY": "k", "POCKETOS_BASE_URL": srv.url + "/v1", **pypath}
            s = await resume_session(vm, s.id, store=store, env=env)
            r = await s.prompt("go on")
            assert r.text == "Resumed fine."
            (req,) = srv.requests
            assert conversation_error(req["json"], False) is None
            (result,) = tool_results(req, "openai")
            assert "interrupted" in result
            await s.close()
        await vm.aclose()
        store.close()

    asyncio.run(go())


CHILD_DURABLE = Path(__file__).with_name("crash_child_durable.py")


def test_resume_reopens_the_durable_vm_the_killed_host_left(tmp_path: Path) -> None:
    """The agent writes a file with one tool call, the host is SIGKILLed during the next
    one; resumed in this process without passing a VM, the session reopens the durable VM as
    the first tool call left it (with its policy), and the model's next tool call sees the
    file."""
    db, ws = tmp_path / "s.db", tmp_path / "ws"

    async def go() -> None:
        replies = [
            openai_tool("write", {"path": "hello.txt", "content": "hi\n"}, "call_w"),
            openai_tool("bash", {"command": "rm hello.txt"}, "call_rm"),
        ]
        async with FakeServer(replies) as srv:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                str(CHILD_DURABLE),
                str(db),
                str(ws),
                srv.url + "/v1",
                stdout=asyncio.subprocess.PIPE,
                env=child_env(),
            )
            assert proc.stdout is not None
            try:
                line = (await proc.stdout.readline()).decode()
                assert line.startswith("SESSION ses-"), line
                sid = line.split()[1]
                assert (await proc.stdout.readline()).decode() == "IN TOOL\n"
                proc.send_signal(signal.SIGKILL)
            finally:
                if proc.returncode is None:
                    proc.kill()
                await proc.wait()
        assert proc.returncode == -signal.SIGKILL

        store = Store(str(db))
        replies = [
            openai_tool("read", {"path": "hello.txt"}, "call_r"),
            openai_text("It says hi."),
        ]
        async with FakeServer(replies, strict=True) as srv:
            s = await resume_session(
                None, sid, store=store, agent_config={"base_url": srv.url + "/v1", "api_key": "k"}
            )
            vm = s.vm
            assert vm.read_text("/home/user/hello.txt") == "hi\n"
            # the policy the VM had is restored with it
            with pytest.raises(PermissionError):
                vm.write_file("/secret/x", b"no")
            r = await s.prompt("what does hello.txt say?")
            assert r.text == "It says hi."
            first, second = srv.requests
            assert conversation_error(first["json"], False) is None
            results = tool_results(first, "openai")
            assert any("interrupted" in t for t in results), results  # the rm never ran
            assert tool_results(second, "openai")[-1].rstrip().endswith("hi")
            await s.close()
        assert vm.closed  # resume opened it, close closed it
        store.close()

    asyncio.run(go())


def test_resume_without_a_vm_needs_a_durable_one(tmp_path: Path) -> None:
    from pocketos.sessions import SessionError

    async def go() -> None:
        store = Store(str(tmp_path / "s.db"))
        async with FakeServer([openai_text("x")]) as srv:
            vm = AsyncVM()
            cfg = {"base_url": srv.url + "/v1", "api_key": "k", "backoff": 0}
            s = await create_session(vm, "pocketos", store=store, agent_config=cfg)
            await s.close()
            await vm.aclose()
        with pytest.raises(SessionError, match="did not run in a durable VM") as info:
            await resume_session(None, s.id, store=store)
        assert info.value.code == "not_resumable"
        store.close()

    asyncio.run(go())


def test_a_reused_pid_is_not_taken_for_the_dead_host(tmp_path: Path) -> None:
    """The store names the host process by pid and start time: a live process that got the
    dead host's pid is not the host, so its session reads as interrupted."""
    import socket
    import subprocess

    from pocketos.sessions.session import _started

    store = Store(str(tmp_path / "s.db"))
    other = subprocess.Popen(["sleep", "1000000"])
    try:
        started = _started(other.pid)
        assert started is not None
        for sid, when in (("ses-reused", started + 1), ("ses-alive", started)):
            store.create_session(sid, agent="pocketos", agent_argv=None, vm="vm-1", cwd="/")
            store.update_session(
                sid,
                status="prompting",
                agent_session_id="pa-1",
                info={"host": socket.gethostname(), "host_pid": other.pid, "host_started": when},
            )
        rows = {r["id"]: r["status"] for r in list_sessions(store=store)}
        assert rows == {"ses-reused": "interrupted", "ses-alive": "prompting"}
    finally:
        other.kill()
        other.wait()
        store.close()
