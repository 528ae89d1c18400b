"""``pocketos acp`` with a session store, driven by a real ACP client over stdio: an editor
restart reopens a session with ``session/load`` (the conversation replayed, the VM back), and
the policy's ``ask`` rules are put to the editor as ``session/request_permission``."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any, cast

import acp
from acp.schema import AllowedOutcome, RequestPermissionResponse

from tests.agent.fake_llm import FakeServer, openai_text, openai_tool
from tests.agent.test_acp_server import SHUTDOWN, _Client, _env, _tool_output


class _Editor(_Client):
    """A client whose user answers permission questions with ``answer`` (an option kind)."""

    def __init__(self, answer: str = "allow_once") -> None:
        super().__init__()
        self.answer = answer

    async def request_permission(
        self, options: Any, session_id: str, tool_call: Any, **kw: Any
    ) -> Any:
        self.permissions.append(tool_call)
        pick = next(o for o in options if o.kind == self.answer)
        return RequestPermissionResponse(
            outcome=AllowedOutcome(outcome="selected", option_id=pick.option_id)
        )


def _argv(srv: FakeServer, *extra: str) -> list[str]:
    return [
        "-m",
        "pocketos",
        "acp",
        "--base-url",
        srv.url + "/v1",
        "--model",
        "gpt-4.1-mini",
        *extra,
    ]


def test_acp_session_load_replays_the_conversation_and_reopens_the_vm(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    store = ["--store", str(tmp_path / "s.db"), "--workspaces", str(tmp_path / "ws")]

    async def first() -> str:
        replies = [
            openai_tool("write", {"path": "/home/user/notes.txt", "content": "remember\n"}, "c1"),
            openai_text("Noted."),
        ]
        async with FakeServer(replies) as srv:
            client = _Client()
            async with acp.spawn_agent_process(
                cast(Any, client),
                sys.executable,
                *_argv(srv, *store),
                env=_env(),
                cwd=str(project),
                transport_kwargs=SHUTDOWN,
            ) as (conn, _proc):
                init = await conn.initialize(protocol_version=acp.PROTOCOL_VERSION)
                assert init.agent_capabilities is not None
                assert init.agent_capabilities.load_session is True
                new = await conn.new_session(cwd=str(project), mcp_servers=[])
                r = await conn.prompt(
                    session_id=new.session_id, prompt=[acp.text_block("write a note")]
                )
                assert r.stop_reason == "end_turn"
        return str(new.session_id)

    async def second(sid: str) -> tuple[_Client, FakeServer, int]:
        replies = [
            openai_tool("read", {"path": "/home/user/notes.txt"}, "c2"),
            openai_text("It says remember."),
        ]
        async with FakeServer(replies, strict=True) as srv:
            client = _Client()
            async with acp.spawn_agent_process(
                cast(Any, client),
                sys.executable,
                *_argv(srv, *store),
                env=_env(),
                cwd=str(project),
                transport_kwargs=SHUTDOWN,
            ) as (conn, _proc):
                await conn.initialize(protocol_version=acp.PROTOCOL_VERSION)
                await conn.load_session(cwd=str(project), session_id=sid, mcp_servers=[])
                replayed = len(client.updates)
                r = await conn.prompt(
                    session_id=sid, prompt=[acp.text_block("what does the note say?")]
                )
                assert r.stop_reason == "end_turn"
        return client, srv, replayed

    sid = asyncio.run(first())
    client, srv, replayed = asyncio.run(second(sid))
    # the editor was shown the earlier conversation before session/load answered
    kinds = [getattr(u, "session_update", "") for u in client.updates[:replayed]]
    assert kinds[0] == "user_message_chunk"
    assert client.updates[0].content.text == "write a note"
    assert "tool_call" in kinds
    earlier = _Client()
    earlier.updates = client.updates[:replayed]
    assert earlier.text() == "Noted."
    # the VM came back: the model's tool call read the file the first run wrote
    assert "remember" in _tool_output(client)
    assert client.text().endswith("It says remember.")
    first_request = srv.requests[0]["json"]["messages"]
    assert any(m["role"] == "assistant" and m.get("content") == "Noted." for m in first_request)


def test_acp_session_load_without_a_store_is_refused(tmp_path: Path) -> None:
    async def go() -> None:
        async with FakeServer([]) as srv:
            client = _Client()
            async with acp.spawn_agent_process(
                cast(Any, client),
                sys.executable,
                *_argv(srv),
                env=_env(),
                cwd=str(tmp_path),
                transport_kwargs=SHUTDOWN,
            ) as (conn, _proc):
                init = await conn.initialize(protocol_version=acp.PROTOCOL_VERSION)
                assert init.agent_capabilities is not None
                assert not init.agent_capabilities.load_session
                try:
                    await conn.load_session(
                        cwd=str(tmp_path), session_id="ses-nope", mcp_servers=[]
                    )
                except acp.RequestError as exc:
                    assert "session store" in json.dumps(exc.data)
                else:
                    raise AssertionError("session/load without a store was accepted")

    asyncio.run(go())


def _ask_policy(tmp_path: Path) -> Path:
    policy = tmp_path / "policy.json"
    policy.write_text(
        json.dumps(
            {
                "fs": "allow",
                "env": "allow",
                "child_process": {
                    "default": "allow",
                    "rules": [{"mode": "ask", "paths": ["cat"]}],
                },
            }
        )
    )
    return policy


def _ask_run(tmp_path: Path, answer: str) -> _Editor:
    project = tmp_path / "proj"
    project.mkdir()
    (project / "a.txt").write_text("the secret\n")
    policy = _ask_policy(tmp_path)

    async def go() -> _Editor:
        replies = [
            openai_tool("bash", {"command": "cat /src/a.txt"}, "c1"),
            openai_text("Done."),
        ]
        async with FakeServer(replies) as srv:
            client = _Editor(answer)
            argv = _argv(srv, "--policy", str(policy), "--mount", f"{project}:/src")
            async with acp.spawn_agent_process(
                cast(Any, client),
                sys.executable,
                *argv,
                env=_env(),
                cwd=str(project),
                transport_kwargs=SHUTDOWN,
            ) as (conn, _proc):
                await conn.initialize(protocol_version=acp.PROTOCOL_VERSION)
                new = await conn.new_session(cwd=str(project), mcp_servers=[])
                r = await conn.prompt(session_id=new.session_id, prompt=[acp.text_block("cat")])
                assert r.stop_reason == "end_turn"
        return client

    return asyncio.run(go())


def test_acp_policy_ask_rule_allowed_by_the_editor(tmp_path: Path) -> None:
    client = _ask_run(tmp_path, "allow_once")
    (asked,) = client.permissions
    assert asked.title == "child_process.spawn on cat"
    assert asked.tool_call_id == "c1"  # shown as part of the tool call that needs it
    assert "the secret" in _tool_output(client)


def test_acp_policy_ask_rule_refused_by_the_editor(tmp_path: Path) -> None:
    client = _ask_run(tmp_path, "reject_once")
    (asked,) = client.permissions
    assert asked.title == "child_process.spawn on cat"
    out = _tool_output(client)
    assert "Permission denied: child_process.spawn on cat" in out
    assert "the secret" not in out
