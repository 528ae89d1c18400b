"""Agent sessions, host tools, ``ask`` rules, background processes and interpreters: the same
tests against an in-process VM and a process-isolated one (the session loop and the host tools
stay in the host; the VM's side runs in the worker)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pocketos import VM, AsyncVM
from pocketos.isolation import WorkerPool
from pocketos.sessions import create_session, resume_session
from pocketos.store import Store
from pocketos.tools import Toolkit
from tests.agent.fake_llm import FakeServer, openai_text, openai_tool

ISOLATIONS = ["in-process", "process"]

POLICY: dict[str, Any] = {
    "fs": {
        "default": "allow",
        "rules": [{"mode": "ask", "operations": ["write"], "paths": ["/asked/**"]}],
    },
    "child_process": "allow",
    "env": "allow",
    "process": "allow",
    "tool": {
        "default": "allow",
        "rules": [{"mode": "ask", "operations": ["invoke"], "patterns": ["notes:publish"]}],
    },
}


@pytest.fixture(scope="module")
def pool() -> Iterator[WorkerPool]:
    with WorkerPool(1) as p:
        yield p


@pytest.fixture(params=ISOLATIONS)
def isolation(request: pytest.FixtureRequest) -> str:
    return str(request.param)


Factory = Callable[..., Any]


@pytest.fixture
def make_vm(isolation: str, pool: WorkerPool) -> Factory:
    def make(**kw: Any) -> Any:
        if isolation == "process":
            kw["pool"] = pool
        return AsyncVM(isolation=isolation, **kw)

    return make


def notes_kit(log: list[Any]) -> Toolkit:
    kit = Toolkit("notes", "Notes kept by the host")

    @kit.tool()
    def add(title: str, words: int = 0) -> dict[str, Any]:
        """Add a note."""
        log.append(("add", title, words))
        return {"id": len(log), "title": title}

    @kit.tool()
    async def publish(note: int) -> str:
        """Publish a note."""
        await asyncio.sleep(0)
        log.append(("publish", note))
        return f"published {note}"

    return kit


def cfg(srv: FakeServer) -> dict[str, Any]:
    return {
        "provider": "openai",
        "base_url": srv.url + "/v1",
        "api_key": "test-key",
        "model": "gpt-4.1-mini",
        "backoff": 0,
    }


def tool_results(srv: FakeServer) -> list[str]:
    return [m["content"] for m in srv.requests[-1]["json"]["messages"] if m["role"] == "tool"]


# The Python steps run only against a process VM: in-process, the wasm interpreter depends on
# the test process's signal handlers, which other suites (Ray) replace after the first run; the
# wasm suites cover in-process Python. A worker is a fresh process.


def test_builtin_agent_with_host_tools_shell_files_and_resume(
    make_vm: Factory, isolation: str, tmp_path: Any
) -> None:
    log: list[Any] = []
    script = [
        openai_tool("write", {"path": "hello.txt", "content": "hi\n"}, "c1"),
        openai_tool("bash", {"command": "cat hello.txt; echo done; exit 3"}, "c2"),
        openai_tool("notes_add", {"title": "first", "words": 2}, "c3"),
        openai_tool("notes_add", {"title": "bad", "words": "many"}, "c4"),
        openai_tool("read", {"path": "/work/hello.txt"}, "c5"),
    ]
    if isolation == "process":
        script.append(openai_tool("python", {"code": "x = 20\nx * 2"}, "c6"))
    script.append(openai_text("All done."))

    async def go() -> None:
        db = str(tmp_path / "s.db")
        async with FakeServer(script) as srv:
            vm = make_vm(policy=POLICY, toolkits=[notes_kit(log)])
            vm.mkdir("/work")
            store = Store(db)
            s = await create_session(
                vm, "pocketos", cwd="/work", store=store, agent_config=cfg(srv)
            )
            assert "`pocketos-notes add`" in s.instructions
            r = await s.prompt("Do the things.")
            names = [t["function"]["name"] for t in srv.requests[0]["json"]["tools"]]
            assert names[-2:] == ["notes_add", "notes_publish"]
            assert r.text == "All done."
            assert vm.read_file("/work/hello.txt") == b"hi\n"
            results = tool_results(srv)
            assert results[:3] == [
                "wrote 3 bytes to /work/hello.txt",
                "hi\ndone\n[exit status 3]",
                '{"ok": true, "result": {"id": 1, "title": "first"}}\n',
            ]
            assert results[3].startswith("pocketos-notes add: ")
            assert "words" in results[3] and results[3].endswith("[exit status 1]")
            assert results[4] == "hi\n"
            if isolation == "process":
                assert "40" in results[5]
            assert log == [("add", "first", 2)]
            sid = s.id
            await s.close()
            store.close()
            await vm.aclose()

        async with FakeServer([openai_text("You asked me to do the things.")]) as srv2:
            store2 = Store(db)
            vm2 = make_vm(policy=POLICY)
            s2 = await resume_session(
                vm2, sid, store=store2, agent_config={"base_url": srv2.url + "/v1", "api_key": "k"}
            )
            r2 = await s2.prompt("What did I ask?")
            assert r2.text == "You asked me to do the things."
            assert "Do the things." in json.dumps(srv2.requests[0]["json"]["messages"])
            assert [row["id"] for row in vm2.list_sessions(store=store2)] == [sid]
            await s2.close()
            store2.close()
            await vm2.aclose()

    asyncio.run(go())


@pytest.mark.parametrize("answer", ["allow_once", "deny"])
def test_ask_rules_are_answered_by_the_host_handler(make_vm: Factory, answer: str) -> None:
    log: list[Any] = []
    asked: list[Any] = []

    async def handler(req: Any) -> str:
        await asyncio.sleep(0)
        asked.append((req.domain, req.operation, req.resource))
        return answer

    script = [
        openai_tool("notes_publish", {"note": 7}, "c1"),
        openai_tool("bash", {"command": "mkdir -p /asked; echo x > /asked/f && echo wrote"}, "c2"),
        openai_text("ok"),
    ]

    async def go() -> None:
        async with FakeServer(script) as srv:
            vm = make_vm(policy=POLICY, toolkits=[notes_kit(log)], permission_handler=handler)
            s = await create_session(vm, "pocketos", store=Store(":memory:"), agent_config=cfg(srv))
            await s.prompt("publish")
            results = tool_results(srv)
            if answer == "allow_once":
                assert results[0] == '{"ok": true, "result": "published 7"}\n'
                assert log == [("publish", 7)]
                assert results[1] == "wrote\n[exit status 0]"
                assert vm.read_file("/asked/f") == b"x\n"
            else:
                assert results[0] == (
                    "pocketos-notes publish: permission denied: tool.invoke on notes:publish "
                    "(not granted)\n\n[exit status 1]"
                )
                assert log == []
                assert not vm.exists("/asked/f")
            assert ("tool", "invoke", "notes:publish") in asked
            assert ("fs", "create_dir", "/asked") in asked
            denials = [e for e in vm.audit_log() if e.decision == "deny"]
            assert bool(denials) == (answer == "deny")
            await s.close()
            await vm.aclose()

    asyncio.run(go())


def test_audit_sinks_see_the_vms_denials(make_vm: Factory) -> None:
    async def go() -> None:
        vm = make_vm(
            policy={
                "fs": {
                    "default": "allow",
                    "rules": [{"mode": "deny", "operations": ["write"], "paths": ["/etc/**"]}],
                },
                "child_process": "allow",
            }
        )
        seen: list[Any] = []
        vm.kernel.audit.sinks.append(lambda ev: seen.append((ev.decision, ev.resource)))
        r = await vm.exec("echo x > /etc/nope")
        assert r.exit_code == 1
        await asyncio.sleep(0)  # sinks run on the loop the VM is used from
        assert ("deny", "/etc/nope") in seen
        await vm.aclose()

    asyncio.run(go())


def test_spawn_wait_python_and_shell(make_vm: Factory, isolation: str) -> None:
    async def go() -> None:
        vm = make_vm()
        p = await vm.spawn(["bash", "-c", "echo out; echo err >&2; read x; echo got $x; exit 4"])
        await p.write("abc\n")
        p.close_stdin()
        assert await p.wait() == 4
        assert (await p.stdout.read(), await p.stderr.read()) == (b"out\ngot abc\n", b"err\n")
        assert await vm.wait(p.pid) == 4
        q = await vm.spawn(["cat"], stdin=b"given\n")
        assert (await q.wait(), await q.stdout.read()) == (0, b"given\n")
        forever = await vm.spawn(["bash", "-c", "echo started; sleep infinity"])
        assert await forever.stdout.readuntil(b"\n") == b"started\n"
        forever.kill("KILL")
        assert await forever.wait() == 137
        if isolation == "process":  # see the note above the first test
            py = vm.python()
            assert (await py.run("x = 40")).ok
            r = await py.run("print('p'); x + 2")
            assert (r.stdout, r.value, r.error) == ("p\n", "42", None)
            await py.close()
            assert py.closed
        sh = vm.shell(cwd="/tmp")
        assert (await sh.run("A=5; cd /home")).exit_code == 0
        r = await sh.run("echo $A $PWD; exit 2")
        assert (r.exit_code, r.stdout) == (2, "5 /home\n")
        await sh.aclose()
        await vm.aclose()

    asyncio.run(go())


def test_fork_starts_from_the_parents_files(isolation: str, pool: WorkerPool) -> None:
    kw: dict[str, Any] = {"pool": pool} if isolation == "process" else {}
    log: list[Any] = []
    with VM(isolation=isolation, toolkits=[notes_kit(log)], policy=POLICY, **kw) as vm:
        vm.write_file("/home/user/f", "parent\n")
        child = vm.fork()
        try:
            child.write_file("/home/user/g", "child\n")
            vm.write_file("/home/user/f", "parent 2\n")
            assert child.read_file("/home/user/f") == b"parent\n"
            assert vm.readdir("/home/user") == ["f"]
            assert sorted(child.readdir("/home/user")) == ["f", "g"]
            r = child.exec("pocketos-notes add --title t")
            assert r.stdout == '{"ok": true, "result": {"id": 1, "title": "t"}}\n'
        finally:
            child.close()
        assert vm.read_file("/home/user/f") == b"parent 2\n"


def test_a_sync_call_from_the_loop_during_a_host_tool_call_does_not_deadlock(
    pool: WorkerPool,
) -> None:
    """The host tool runs on the VM's loop while a poll of the worker waits for it; a sync
    call on the VM from that loop waits for the poll. The tool call is given up (an error
    the guest sees) instead of both waiting for ever; a kill from the loop never waits."""
    kit = Toolkit("slow", "Slow tools")
    started = asyncio.Event()

    @kit.tool()
    async def wait() -> str:
        """Wait until released."""
        started.set()
        await asyncio.Event().wait()
        return "never"

    async def go() -> None:
        vm = AsyncVM(isolation="process", pool=pool, toolkits=[kit], policy=POLICY)
        vm.write_file("/home/user/f", "still readable\n")
        p = await vm.spawn(["pocketos-slow", "wait"])
        await started.wait()
        assert vm.read_file("/home/user/f") == b"still readable\n"
        assert await p.wait() == 1
        err = await p.stderr.read()
        assert err.startswith(b"pocketos-slow wait: interrupted: the host's event loop blocked")
        started.clear()
        q = await vm.spawn(["pocketos-slow", "wait"])
        await started.wait()
        q.kill("KILL")
        assert await q.wait() == 137
        assert vm.read_file("/home/user/f") == b"still readable\n"
        await vm.aclose()

    asyncio.run(go())


def test_the_store_keeps_the_vms_audit_log(make_vm: Factory) -> None:
    from pocketos.store import Store

    store = Store(":memory:")
    policy = {
        "fs": {
            "default": "allow",
            "rules": [{"mode": "deny", "operations": ["write"], "paths": ["/etc/**"]}],
        },
        "child_process": "allow",
    }

    ids: list[str] = []

    async def go() -> None:
        vm = make_vm(policy=policy, store=store)
        ids.append(vm.id)
        assert (await vm.exec("echo x > /etc/nope")).exit_code == 1
        await vm.aclose()

    asyncio.run(go())
    store.flush()
    denied = [e for e in store.audit_events() if e["decision"] == "deny"]
    assert [(e["resource"], e["capability"]) for e in denied] == [("/etc/nope", "fs.write")]
    assert {e["vm"] for e in store.audit_events()} == set(ids)
