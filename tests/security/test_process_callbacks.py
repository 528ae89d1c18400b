"""Attacks on the callback path of a process-isolated VM (host tools and ``ask`` decisions
answered by the host over the worker's pipe): floods, huge results, a worker that dies in the
middle of a session's tool call, forged callbacks, and leaks of the host's environment or
descriptors."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pocketos import VM, AsyncVM
from pocketos.isolation import AsyncProcessVM, WorkerLimits, WorkerPool
from pocketos.sessions import create_session
from pocketos.store import Store
from pocketos.tools import Toolkit
from tests.agent.fake_llm import FakeServer, openai_text, openai_tool

SECRET = "host-secret-6b1d"

POLICY: dict[str, Any] = {
    "fs": "allow",
    "child_process": "allow",
    "env": "allow",
    "process": "allow",
    "tool": {
        "default": "allow",
        "rules": [
            {"mode": "ask", "operations": ["invoke"], "patterns": ["kit:asked"]},
            {"mode": "deny", "operations": ["invoke"], "patterns": ["kit:forbidden"]},
        ],
    },
}


def make_kit(calls: list[str], *, huge: int = 0, victim: list[Any] | None = None) -> Toolkit:
    kit = Toolkit("kit", "Test tools")

    @kit.tool()
    def ping() -> str:
        """Answer pong."""
        calls.append("ping")
        return "pong"

    @kit.tool()
    def asked() -> str:
        """A tool behind an ask rule."""
        calls.append("asked")
        return "ok"

    @kit.tool()
    def forbidden() -> str:
        """A tool the policy denies."""
        calls.append("forbidden")
        return SECRET

    @kit.tool()
    def big() -> str:
        """Return a lot of data."""
        calls.append("big")
        return "x" * huge

    @kit.tool()
    def crash() -> str:
        """Kill the VM's worker process while the call is in flight."""
        calls.append("crash")
        assert victim
        os.kill(victim[0].pid, signal.SIGKILL)
        return "the worker is gone"

    return kit


@pytest.fixture(scope="module")
def pool() -> Iterator[WorkerPool]:
    with WorkerPool(1, limits=WorkerLimits(max_callbacks=20)) as p:
        yield p


def test_a_guest_flooding_tool_calls_is_bounded_per_request(pool: WorkerPool) -> None:
    calls: list[str] = []
    with VM(isolation="process", pool=pool, policy=POLICY, toolkits=[make_kit(calls)]) as vm:
        r = vm.exec(
            "ok=0; refused=0; for i in $(seq 100); do "
            "if pocketos-kit ping >/dev/null 2>err; then ok=$((ok+1)); "
            "elif grep -q 'too many host callbacks' err; then refused=$((refused+1)); fi; "
            "done; echo $ok $refused"
        )
        assert r.stdout == "20 80\n"
        assert calls == ["ping"] * 20
        # the bound is per request: the next one is served again
        assert vm.exec("pocketos-kit ping").stdout == '{"ok": true, "result": "pong"}\n'
        assert len(calls) == 21


def test_a_guest_flooding_ask_questions_does_not_reach_the_handler_past_the_bound(
    pool: WorkerPool,
) -> None:
    asked: list[str] = []

    def handler(req: Any) -> str:
        asked.append(req.resource)
        return "deny"

    calls: list[str] = []
    with VM(
        isolation="process",
        pool=pool,
        policy=POLICY,
        toolkits=[make_kit(calls)],
        permission_handler=handler,
    ) as vm:
        r = vm.exec("for i in $(seq 100); do pocketos-kit asked 2>/dev/null; done; echo end")
        assert r.stdout == "end\n"
        assert len(asked) == 20
        assert calls == []


def test_a_huge_tool_result_is_refused_not_carried(pool: WorkerPool) -> None:
    calls: list[str] = []
    limit = 1 << 20
    kit = make_kit(calls, huge=4 * limit)
    with VM(
        isolation="process",
        pool=pool,
        policy=POLICY,
        toolkits=[kit],
        limits={"max_output_bytes": limit},
    ) as vm:
        r = vm.exec("pocketos-kit big | wc -c")
        assert r.stdout == "0\n"
        assert f"more than the VM may output (max_output_bytes={limit})" in r.stderr, r.stderr
        assert calls == ["big"]
        assert vm.exec("echo still here").stdout == "still here\n"
        assert vm.restarts == 0


def test_the_host_checks_the_policy_itself_for_forged_tool_calls(pool: WorkerPool) -> None:
    calls: list[str] = []
    vm = AsyncVM(isolation="process", pool=pool, policy=POLICY, toolkits=[make_kit(calls)])
    assert isinstance(vm, AsyncProcessVM)
    try:
        answer = vm._services.answer
        # a compromised worker skipping its own checks
        denied = answer(
            {"callback": 1, "kind": "tool", "kit": "kit", "tool": "forbidden", "args": {}}
        )
        assert denied["ok"] is False and denied["error"]["type"] == "ToolDenied"
        ungranted = answer(
            {"callback": 2, "kind": "tool", "kit": "kit", "tool": "asked", "args": {}}
        )
        assert ungranted["ok"] is False and "(not granted)" in ungranted["error"]["message"]
        unknown = answer({"callback": 3, "kind": "tool", "kit": "os", "tool": "system", "args": {}})
        assert unknown == {
            "ok": False,
            "error": {"type": "ToolCallError", "message": "unknown tool os:system"},
        }
        bad_args = answer(
            {"callback": 4, "kind": "tool", "kit": "kit", "tool": "ping", "args": {"x": 1}}
        )
        assert bad_args["ok"] is False and bad_args["error"]["type"] == "ToolArgumentsInvalid"
        odd = answer({"callback": 5, "kind": "exec", "argv": ["sh"]})
        assert odd["ok"] is False
        assert calls == []
    finally:
        vm.close()


def test_a_worker_dying_in_a_session_tool_call_is_a_tool_result(pool: WorkerPool) -> None:
    calls: list[str] = []
    victim: list[Any] = []
    script = [
        openai_tool("bash", {"command": "echo before > kept.txt"}, "c1"),
        openai_tool("kit_crash", {}, "c2"),
        openai_tool("bash", {"command": "cat kept.txt; echo after"}, "c3"),
        openai_text("survived"),
    ]

    async def go() -> None:
        async with FakeServer(script) as srv:
            vm = AsyncVM(
                isolation="process",
                pool=pool,
                policy=POLICY,
                toolkits=[make_kit(calls, victim=victim)],
            )
            victim.append(vm)
            s = await create_session(
                vm,
                "pocketos",
                store=Store(":memory:"),
                agent_config={
                    "provider": "openai",
                    "base_url": srv.url + "/v1",
                    "api_key": "k",
                    "model": "gpt-4.1-mini",
                    "backoff": 0,
                },
            )
            r = await s.prompt("go")
            assert r.text == "survived"
            results = [
                m["content"] for m in srv.requests[-1]["json"]["messages"] if m["role"] == "tool"
            ]
            assert results[0] == "[exit status 0]"
            assert (
                "the worker was killed (SIGKILL); the VM restarts from its last commit"
                in (results[1])
            ), results[1]
            assert results[1].endswith("[exit status 137]")
            # the files committed before the death are there in the new worker
            assert results[2] == "before\nafter\n[exit status 0]"
            assert calls == ["crash"]
            assert vm.restarts == 1
            await s.close()
            await vm.aclose()

    asyncio.run(go())


def test_no_host_environment_or_descriptor_leaks_through_callbacks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POCKETOS_LEAK_TEST", SECRET)
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text(SECRET)
    fd = os.open(secret_file, os.O_RDONLY)
    os.set_inheritable(fd, True)
    asked: list[str] = []

    def handler(req: Any) -> str:
        asked.append(req.resource)
        return "allow_once"

    calls: list[str] = []
    try:
        with (
            WorkerPool(0) as own,
            VM(
                isolation="process",
                pool=own,
                policy=POLICY,
                toolkits=[make_kit(calls)],
                permission_handler=handler,
            ) as vm,
        ):
            r = vm.exec(
                "pocketos-kit ping; pocketos-kit asked; env; cat /proc/self/environ; "
                "ls /proc/self/fd"
            )
            assert calls == ["ping", "asked"] and asked == ["kit:asked"]
            assert SECRET not in r.stdout + r.stderr
            pid = vm.pid
            assert pid is not None
            with open(f"/proc/{pid}/environ", "rb") as f:
                assert SECRET.encode() not in f.read()
            targets = {os.readlink(f"/proc/{pid}/fd/{n}") for n in os.listdir(f"/proc/{pid}/fd")}
            assert str(secret_file) not in targets
            assert not [t for t in targets if t.startswith(str(tmp_path))]
    finally:
        os.close(fd)
