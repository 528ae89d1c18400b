"""``pocketos acp`` driven by a real ACP client over stdio, in a subprocess, against a fake
OpenAI-compatible model server: the agent's writes stay in the VM until /apply."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any, cast

import acp
from acp.schema import AllowedOutcome, RequestPermissionResponse

from tests.agent.fake_llm import FakeServer, openai_text, openai_tool

SRC = str(Path(__file__).resolve().parents[2] / "src")
#: the agent gets this long to exit after its stdin closes before the acp library signals it
#: (its default, 2 s, is shorter than a loaded machine may need to end the VM and write the store)
SHUTDOWN = {"shutdown_timeout": 120.0}


class _Client:
    def __init__(self) -> None:
        self.updates: list[Any] = []
        self.permissions: list[Any] = []

    def on_connect(self, conn: Any) -> None:
        pass

    async def session_update(self, session_id: str, update: Any, **kw: Any) -> None:
        self.updates.append(update)

    async def request_permission(
        self, options: Any, session_id: str, tool_call: Any, **kw: Any
    ) -> Any:
        self.permissions.append(tool_call)
        allow = next(o for o in options if o.kind == "allow_once")
        return RequestPermissionResponse(
            outcome=AllowedOutcome(outcome="selected", option_id=allow.option_id)
        )

    def text(self) -> str:
        return "".join(
            u.content.text
            for u in self.updates
            if getattr(u, "session_update", "") == "agent_message_chunk"
            and getattr(u.content, "type", "") == "text"
        )


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    env["POCKETOS_API_KEY"] = "test-key"
    env.pop("POCKETOS_STORE", None)
    return env


async def _drive(
    project: Path,
    extra: list[str],
    commands: list[str],
    *,
    mount: bool = True,
    mode: str | None = None,
) -> tuple[_Client, Any, FakeServer]:
    replies = [
        openai_tool("write", {"path": "/src/hello.txt", "content": "hi from the vm\n"}, "c1"),
        openai_tool("bash", {"command": "cat /src/hello.txt"}, "c2"),
        openai_text("Wrote hello.txt."),
    ]
    async with FakeServer(replies) as srv:
        client = _Client()
        argv = [
            "-m",
            "pocketos",
            "acp",
            *(["--mount", f"{project}:/src"] if mount else []),
            "--base-url",
            srv.url + "/v1",
            "--model",
            "gpt-4.1-mini",
            *extra,
        ]
        async with acp.spawn_agent_process(
            cast(Any, client),
            sys.executable,
            *argv,
            env=_env(),
            cwd=str(project),
            transport_kwargs=SHUTDOWN,
        ) as (conn, _proc):
            init = await conn.initialize(protocol_version=acp.PROTOCOL_VERSION)
            assert init.agent_info is not None and init.agent_info.name == "pocketos-acp"
            new = await conn.new_session(cwd=str(project), mcp_servers=[])
            assert new.session_id.startswith("ses-")
            if mode is not None:
                await conn.set_session_mode(session_id=new.session_id, mode_id=mode)
            resp = await conn.prompt(
                session_id=new.session_id, prompt=[acp.text_block("write hello.txt")]
            )
            assert resp.stop_reason == "end_turn"
            outs = []
            for cmd in commands:
                before = len(client.updates)
                r = await conn.prompt(session_id=new.session_id, prompt=[acp.text_block(cmd)])
                assert r.stop_reason == "end_turn"
                client_view = _Client()
                client_view.updates = client.updates[before:]
                outs.append(client_view.text())
        return client, outs, srv


def _tool_output(client: _Client) -> str:
    out = []
    for u in client.updates:
        if getattr(u, "session_update", "") == "tool_call_update" and u.content:
            for c in u.content:
                out.append(getattr(getattr(c, "content", None), "text", ""))
    return "\n".join(out)


def test_acp_overlay_keeps_writes_in_the_vm_until_applied(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    (project / "README").write_text("readme\n")

    async def go() -> tuple[_Client, Any, FakeServer]:
        return await _drive(project, [], ["/diff", "/apply"])

    client, (diff, applied), srv = asyncio.run(go())
    # the model was asked three times (write, cat, answer); /diff and /apply never reach it
    assert len(srv.requests) == 3
    # the VM has the file: the agent's own `cat` read it back
    assert "hi from the vm" in _tool_output(client)
    assert "Wrote hello.txt." in client.text()
    assert "/apply" in client.text()
    assert "+hi from the vm" in diff and "hello.txt" in diff
    assert "applied 1 change(s)" in applied
    # after /apply the host has it, with the VM's content; the untouched file is unchanged
    assert (project / "hello.txt").read_text() == "hi from the vm\n"
    assert (project / "README").read_text() == "readme\n"


def test_acp_overlay_without_apply_leaves_the_host_alone(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    project.mkdir()

    async def go() -> tuple[_Client, Any, FakeServer]:
        return await _drive(project, [], ["/changes"])

    client, (changes,), _srv = asyncio.run(go())
    assert "hi from the vm" in _tool_output(client)
    assert "A hello.txt" in changes
    assert not (project / "hello.txt").exists()
    assert sorted(os.listdir(project)) == []


def test_acp_rw_mount_writes_through(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    project.mkdir()

    async def go() -> tuple[_Client, Any, FakeServer]:
        return await _drive(project, ["--rw"], [])

    client, _outs, _srv = asyncio.run(go())
    assert (project / "hello.txt").read_text() == "hi from the vm\n"
    assert "/apply" not in client.text()


def test_acp_bad_mount_is_refused(tmp_path: Path) -> None:
    from pocketos.agent.acp_server import main

    assert main(["--mount", f"{tmp_path / 'missing'}:/src"]) == 2
    assert main(["--mount", "relative"]) == 2


def test_acp_policy_file_applies_to_the_agents_tools(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    policy = tmp_path / "policy.json"
    policy.write_text(
        json.dumps(
            {
                "fs": "allow",
                "env": "allow",
                "child_process": {
                    "default": "allow",
                    "rules": [{"mode": "deny", "paths": ["cat"]}],
                },
            }
        )
    )

    async def go() -> tuple[_Client, Any, FakeServer]:
        return await _drive(project, ["--policy", str(policy)], [])

    client, _outs, _srv = asyncio.run(go())
    out = _tool_output(client)
    assert "Permission denied: child_process.spawn on cat" in out
    assert "hi from the vm" not in out
    assert not (project / "hello.txt").exists()


def test_acp_bad_policy_file_is_refused(tmp_path: Path) -> None:
    from pocketos.agent.acp_server import main

    assert main(["--policy", str(tmp_path / "nope.toml")]) == 2


def test_acp_ask_mode_asks_the_editor_and_mounts_its_cwd(tmp_path: Path) -> None:
    # no --mount: the cwd of session/new is mounted at /src
    project = tmp_path / "proj"
    project.mkdir()

    async def go() -> tuple[_Client, Any, FakeServer]:
        return await _drive(project, [], ["/changes"], mount=False, mode="ask")

    client, (changes,), _srv = asyncio.run(go())
    titles = [str(p.title) for p in client.permissions]
    assert titles[:1] == ["write /src/hello.txt"]
    assert "hi from the vm" in _tool_output(client)
    assert "A hello.txt" in changes
    assert not (project / "hello.txt").exists()
