"""Sessions against a real ACP agent subprocess (tests/fixtures/scripted_agent.py)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest

from pocketos import AsyncVM, PermissionRequest
from pocketos.sessions import AgentCrashed, Session, SessionError, create_session, list_sessions
from pocketos.sessions.session import resume_session
from pocketos.store import Store
from tests.sessions.conftest import SCRIPTED

ANSWERS: list[Any] = []
ASKED: list[PermissionRequest] = []


async def handler(req: PermissionRequest) -> Any:
    ASKED.append(req)
    answer = ANSWERS.pop(0)
    if answer == "hang":
        await asyncio.Event().wait()
    return answer


@pytest.fixture(scope="module")
def env(
    loop: asyncio.AbstractEventLoop, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[AsyncVM, Session, Store]]:
    vm = AsyncVM()
    vm.mkdir("/work")
    store = Store(str(tmp_path_factory.mktemp("st") / "s.db"))
    sess = loop.run_until_complete(
        create_session(
            vm,
            SCRIPTED,
            cwd="/work",
            store=store,
            permission_handler=handler,
            permission_timeout=0.2,
        )
    )
    yield vm, sess, store
    loop.run_until_complete(sess.close())
    loop.run_until_complete(vm.aclose())


def test_handshake(env: tuple[AsyncVM, Session, Store]) -> None:
    vm, s, store = env
    assert s.agent_info == {"name": "scripted", "title": "Scripted agent", "version": "1.0"}
    assert s.capabilities["loadSession"] is True
    assert s.modes is not None and s.modes["currentModeId"] == "default"
    assert s.status == "ready"
    rec = store.get_session(s.id)
    assert rec is not None and rec["status"] == "ready"
    assert rec["agent_session_id"] == s.agent_session_id
    assert s.events.events[0].kind == "session.started"


def test_echo_and_instructions(
    env: tuple[AsyncVM, Session, Store], loop: asyncio.AbstractEventLoop
) -> None:
    vm, s, store = env
    r = loop.run_until_complete(s.prompt("echo hello"))
    assert (r.stop_reason, r.text) == ("end_turn", "hello")
    kinds = [e.kind for e in r.events]
    assert kinds == ["prompt.started", "update", "prompt.ended"]
    seqs = [e.seq for e in r.events]
    assert seqs == list(range(seqs[0], seqs[0] + 3))


def test_every_client_method(
    env: tuple[AsyncVM, Session, Store], loop: asyncio.AbstractEventLoop
) -> None:
    vm, s, store = env
    r = loop.run_until_complete(s.prompt("callbacks /work"))
    out = json.loads(r.text)
    assert out == {
        "read": "two\n",
        "exit": 3,
        "output": "one\ntwo\nthree\nerr\n",
        "truncated": False,
        "limited": ["\n99998\n99999\n100000\n", True],
        "killed": [None, "SIGKILL"],
        "missing": [-32002, "Resource not found: /work/missing.txt"],
        "released": -32602,
    }
    assert vm.read_file("/work/a.txt") == b"one\ntwo\nthree\n"
    kinds = [e.kind for e in r.events]
    for k in (
        "fs.write",
        "fs.read",
        "terminal.created",
        "terminal.output",
        "terminal.exited",
        "terminal.released",
    ):
        assert k in kinds


@pytest.mark.parametrize(
    "answer,expected,source",
    [
        ("allow_once", "selected:a1", "handler"),
        ("reject_once", "selected:r1", "handler"),
        ("hang", "selected:r1", "timeout"),
        ("allow_always", "selected:aa", "handler"),
    ],
)
def test_permission_outcomes(
    env: tuple[AsyncVM, Session, Store],
    loop: asyncio.AbstractEventLoop,
    answer: str,
    expected: str,
    source: str,
) -> None:
    vm, s, store = env
    ANSWERS[:] = [answer]
    title = "deploy-" + answer
    r = loop.run_until_complete(s.prompt(f"permission other {title}"))
    assert r.text == expected
    answered = [e for e in r.events if e.kind == "permission.answered"]
    assert len(answered) == 1 and answered[0].data["source"] == source
    assert ASKED[-1].domain == "tool" and ASKED[-1].resource == title
    rows = [p for p in store.permissions(s.id) if p["resource"] == title]
    assert [(p["decision"], p["source"]) for p in rows] == [
        ("reject_once" if answer == "hang" else answer, source)
    ]


def test_allow_always_is_remembered(
    env: tuple[AsyncVM, Session, Store], loop: asyncio.AbstractEventLoop
) -> None:
    vm, s, store = env
    ANSWERS[:] = []
    r = loop.run_until_complete(s.prompt("permission other deploy-allow_always"))
    assert r.text == "selected:a1"
    ans = [e for e in r.events if e.kind == "permission.answered"][0]
    assert ans.data["source"] == "remembered"


def test_policy_denial_skips_the_handler(
    env: tuple[AsyncVM, Session, Store], loop: asyncio.AbstractEventLoop
) -> None:
    vm, s, store = env
    # default policy: fs allowed -> the handler decides; network denied -> rejected by policy
    ANSWERS[:] = ["allow_once"]
    r = loop.run_until_complete(s.prompt("permission read /work/a.txt"))
    assert r.text == "selected:a1"
    assert (ASKED[-1].capability, ASKED[-1].resource) == ("fs.read", "/work/a.txt")
    r = loop.run_until_complete(s.prompt("permission fetch https://example.com"))
    assert r.text == "selected:r1"
    assert ANSWERS == []
    srcs = [e.data["source"] for e in s.events.events if e.kind == "permission.answered"]
    assert srcs[-2:] == ["handler", "policy"]


def test_tool_calls_usage_mode_model(
    env: tuple[AsyncVM, Session, Store], loop: asyncio.AbstractEventLoop
) -> None:
    vm, s, store = env
    r = loop.run_until_complete(s.prompt("tool"))
    ups = [e.data["sessionUpdate"] for e in r.events if e.kind == "update"]
    assert ups == ["tool_call", "tool_call_update", "agent_message_chunk"]
    loop.run_until_complete(s.set_model("large"))
    assert s.config_options[0]["currentValue"] == "large"
    r = loop.run_until_complete(s.prompt("usage"))
    assert r.cost == 0.25 and r.usage is not None and r.usage["inputTokens"] == 100
    u = store.usage(s.id)[-1]
    assert (u["input_tokens"], u["output_tokens"], u["cost"], u["model"]) == (
        100,
        20,
        0.25,
        "large",
    )
    loop.run_until_complete(s.set_mode("plan"))
    assert s.modes is not None and s.modes["currentModeId"] == "plan"


def test_cancel(env: tuple[AsyncVM, Session, Store], loop: asyncio.AbstractEventLoop) -> None:
    vm, s, store = env

    async def go() -> str:
        seen = asyncio.Event()
        unsub = s.on_event(lambda e: seen.set() if e.kind == "update" else None, backlog=False)
        task = asyncio.ensure_future(s.prompt("wait"))
        await seen.wait()
        unsub()
        await s.cancel()
        return (await task).stop_reason

    assert loop.run_until_complete(go()) == "cancelled"


def test_late_subscriber_gets_backlog(
    env: tuple[AsyncVM, Session, Store], loop: asyncio.AbstractEventLoop
) -> None:
    vm, s, store = env

    async def go() -> list[int]:
        seqs: list[int] = []
        async for ev in s.subscribe():
            seqs.append(ev.seq)
            if ev.seq == s.events.seq:
                break
        return seqs

    seqs = loop.run_until_complete(go())
    assert seqs == list(range(1, s.events.seq + 1))
    stored = [e["seq"] for e in store.events(s.id)]
    assert stored == seqs


def test_crash_and_resume(loop: asyncio.AbstractEventLoop, tmp_path: Any) -> None:
    async def go() -> None:
        vm = AsyncVM()
        vm.mkdir("/work")
        store = Store(str(tmp_path / "c.db"))
        env = {"SCRIPTED_AGENT_STATE": str(tmp_path)}
        a = await create_session(vm, SCRIPTED, cwd="/work", store=store, env=env)
        b = await create_session(vm, SCRIPTED, cwd="/work", store=store, env=env)
        assert (await a.prompt("echo one")).text == "one"
        with pytest.raises(
            AgentCrashed,
            match="exited unexpectedly with status 3: scripted agent: crashing on purpose",
        ):
            await a.prompt("crash")
        assert a.status == "crashed"
        err = [e for e in a.events.events if e.kind == "session.error"]
        assert len(err) == 1 and err[0].data["exit_code"] == 3
        with pytest.raises(AgentCrashed):
            await a.prompt("echo again")
        # the VM and the other session are unaffected
        assert (await b.prompt("echo still here")).text == "still here"
        assert (await vm.exec("echo ok")).stdout == "ok\n"
        last = store.last_seq(a.id)
        await b.close()
        # after the crash, resume: session/load, numbering continues
        store.close()
        store2 = Store(str(tmp_path / "c.db"))
        a2 = await resume_session(vm, a.id, store=store2, env=env)
        assert a2.events.events[-1].kind == "session.resumed"
        assert a2.events.events[-1].seq == last + 1
        r = await a2.prompt("history")
        assert json.loads(r.text) == ["echo one", "crash"]
        rows = {x["id"]: x for x in list_sessions(vm, store=store2)}
        assert rows[a.id]["live"] is True and rows[b.id]["status"] == "closed"
        await a2.destroy()
        assert store2.get_session(a.id) is None
        await vm.aclose()

    loop.run_until_complete(go())


def test_unknown_agent_and_missing_command(loop: asyncio.AbstractEventLoop) -> None:
    vm = AsyncVM()
    with pytest.raises(
        ValueError,
        match="unknown agent 'nope'; known agents: pocketos, "
        "claude-code, claude-code-acp, codex, codex-acp, "
        "gemini, goose, opencode",
    ):
        loop.run_until_complete(create_session(vm, "nope", store=Store(":memory:")))
    with pytest.raises(SessionError, match="not installed on the host"):
        loop.run_until_complete(create_session(vm, ["no-such-agent-xyz"], store=Store(":memory:")))
