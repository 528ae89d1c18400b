"""Events, permission routing, instructions and the agent table (no agent process)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from pocketos import AsyncVM
from pocketos.sessions import (
    EventLog,
    PermissionRouter,
    capability_for,
    os_instructions,
    resolve_agent,
)

OPTS = [
    {"optionId": "a", "kind": "allow_once"},
    {"optionId": "A", "kind": "allow_always"},
    {"optionId": "r", "kind": "reject_once"},
]


def test_event_order_backlog_and_close() -> None:
    async def go() -> tuple[list[int], list[int]]:
        log = EventLog("s")
        log.emit("a")
        log.emit("b")
        early: list[int] = []

        async def consume() -> None:
            async for ev in log.subscribe():
                early.append(ev.seq)

        t = asyncio.ensure_future(consume())
        await asyncio.sleep(0)
        log.emit("c")
        log.close()
        await t
        late = [ev.seq async for ev in log.subscribe(since=1)]
        return early, late

    assert asyncio.run(go()) == ([1, 2, 3], [2, 3])


def test_on_event_and_persist() -> None:
    stored: list[int] = []
    log = EventLog("s", start_seq=10, persist=lambda e: stored.append(e.seq))
    log.emit("x")
    seen: list[str] = []
    unsub = log.on_event(lambda e: seen.append(e.kind))
    log.emit("y")
    unsub()
    log.emit("z")
    assert (stored, seen) == ([11, 12, 13], ["x", "y"])


def test_capability_mapping() -> None:
    assert capability_for({"kind": "edit", "locations": [{"path": "/a/b"}]}) == (
        "fs",
        "write",
        "/a/b",
    )
    assert capability_for({"kind": "execute", "rawInput": {"command": "/bin/rm -rf /"}}) == (
        "child_process",
        "spawn",
        "rm",
    )
    assert capability_for({"kind": "fetch", "title": "https://x.org"}) == (
        "network",
        "fetch",
        "https://x.org",
    )
    assert capability_for({"title": "deploy"}) == ("tool", "invoke", "deploy")


@pytest.mark.parametrize(
    "policy,handler,default,expected",
    [
        (None, None, "reject", ("allow_once", "a", "policy")),
        ({"fs": "deny"}, lambda r: "allow_once", "reject", ("reject_once", "r", "policy")),
        ({"fs": "ask"}, None, "reject", ("reject_once", "r", "default")),
        ({"fs": "ask"}, None, "allow_always", ("allow_always", "A", "default")),
        ({"fs": "ask"}, lambda r: True, "reject", ("allow_once", "a", "handler")),
        ({"fs": "ask"}, lambda r: "A", "reject", ("allow_always", "A", "handler")),
        ({"fs": "ask"}, lambda r: 1 / 0, "reject", ("reject_once", "r", "error")),
    ],
)
def test_router(policy: Any, handler: Any, default: str, expected: tuple[str, str, str]) -> None:
    vm = AsyncVM(policy=policy) if policy else AsyncVM()
    router = PermissionRouter(vm, handler=handler, timeout=1, default=default)
    ans, req = asyncio.run(
        router.decide("s", {"kind": "read", "locations": [{"path": "/x"}]}, OPTS)
    )
    assert (ans.decision, ans.option_id, ans.source) == expected
    assert req.capability == "fs.read"


def test_instructions_describe_the_vm() -> None:
    vm = AsyncVM(
        policy={
            "fs": "allow",
            "network": {
                "default": "deny",
                "rules": [{"mode": "allow", "patterns": ["api.github.com"]}],
            },
        }
    )
    text = os_instructions(vm, cwd="/work", extra="Be brief.")
    assert text.startswith("# Your environment: a pocketos VM\n")
    assert "- Working directory: `/work`" in text
    assert "`grep`" in text and "`sed`" in text
    assert "- network: denied by default; allowed: all operations on api.github.com" in text
    assert "- child_process: denied (not granted)" in text
    assert text.endswith("## Instructions from the operator\n\nBe brief.\n")


def test_agent_table() -> None:
    assert resolve_agent("pocketos").builtin
    assert resolve_agent("gemini").argv == ["gemini", "--acp"]
    assert resolve_agent("pi").argv == ["pi-acp"]
    assert resolve_agent("goose").argv == ["goose", "acp"]
    assert resolve_agent(["/x/my-agent", "--acp"]).name == "my-agent"


def test_event_ranges_and_trimming() -> None:
    log = EventLog("s", maxlen=10)
    for i in range(25):
        log.emit("e", {"i": i})
    assert 9 <= len(log.events) <= 10 and log.events[-1].seq == 25
    assert [e.seq for e in log.since(20)] == [21, 22, 23, 24, 25]
    assert [e.seq for e in log.since(20, 23)] == [21, 22, 23]
    assert log.since(25) == []


def test_terminal_shell_is_policy_checked() -> None:
    from pocketos.sessions.terminals import TerminalManager

    async def go() -> tuple[str, dict[str, Any]]:
        vm = AsyncVM(
            policy={
                "fs": "allow",
                "child_process": {
                    "default": "allow",
                    "rules": [{"mode": "deny", "operations": ["spawn"], "paths": ["bash"]}],
                },
            }
        )
        tm = TerminalManager(vm, default_cwd="/")
        term = await tm.create("echo hi")
        return term.text(), await term.wait()

    assert asyncio.run(go()) == (
        "bash: Permission denied: child_process.spawn on bash\n",
        {"exitCode": 126, "signal": None},
    )


def test_claude_code_is_told_to_switch_off_its_host_side_tools() -> None:
    from pocketos import AsyncVM
    from pocketos.sessions.session import CLAUDE_HOST_TOOLS, Session
    from pocketos.store import Store

    vm = AsyncVM()
    for agent, claude in [("claude-code", True), ("codex", False), (["x/claude-code-acp"], True)]:
        s = Session(vm, resolve_agent(agent), store=Store(":memory:"))
        meta = s._meta()
        if claude:
            assert meta["claudeCode"] == {"options": {"disallowedTools": list(CLAUDE_HOST_TOOLS)}}
            assert {"Glob", "Grep", "WebFetch", "WebSearch", "Task", "Skill"} <= set(
                CLAUDE_HOST_TOOLS
            )
        else:
            assert "claudeCode" not in meta
    vm.close()


def test_handshake_timeout_for_an_agent_that_never_answers() -> None:
    from pocketos import VM
    from pocketos.sessions import SessionError

    with VM() as vm, pytest.raises(SessionError, match="did not answer initialize within 0.5 s"):
        vm.create_session(["/bin/sh", "-c", "cat > /dev/null"], handshake_timeout=0.5, store=False)


def test_known_agent_without_sandbox_needs_its_cwd_on_the_host() -> None:
    from pocketos import VM
    from pocketos.sessions import SessionError

    with VM() as vm, pytest.raises(SessionError, match="does not exist on the host") as info:
        vm.create_session("codex", cwd="/nonexistent-pocketos-cwd", store=False)
    assert "sandbox=True" in str(info.value)


#: an ACP agent speaking JSON-RPC by hand (json and sys only: it answers initialize within
#: milliseconds, where importing the acp package took seconds on a loaded machine and ate
#: into the handshake timeout the test is about); it never answers HANG[0], after saying HANG[1]
RAW_AGENT = """
import json, sys, uuid
HANG = {hang!r}
CAPS = {caps!r}
for line in sys.stdin:
    msg = json.loads(line)
    method, mid = msg.get("method"), msg.get("id")
    if mid is None:
        continue
    if method == HANG[0]:
        print(HANG[1], file=sys.stderr, flush=True)
        continue
    if method == "initialize":
        info = {{"name": "hang", "version": "1"}}
        result = {{"protocolVersion": 1, "agentCapabilities": CAPS, "agentInfo": info}}
    elif method == "session/new":
        result = {{"sessionId": uuid.uuid4().hex}}
    else:
        result = {{}}
    sys.stdout.write(json.dumps({{"jsonrpc": "2.0", "id": mid, "result": result}}) + "\\n")
    sys.stdout.flush()
"""

HANGS_AT_NEW = RAW_AGENT.format(hang=("session/new", "waiting for the licence server"), caps={})


def test_handshake_timeout_covers_session_new_and_says_what_the_agent_printed(
    tmp_path: Path,
) -> None:
    import sys

    from pocketos import VM
    from pocketos.sessions import SessionError

    script = tmp_path / "hang_agent.py"
    script.write_text(HANGS_AT_NEW)
    # the agent answers initialize, then never answers session/new
    with VM() as vm, pytest.raises(SessionError) as info:
        # generous: initialize must be answered in time even on a slow machine
        vm.create_session([sys.executable, str(script)], handshake_timeout=15, store=False)
    assert info.value.code == "handshake_timeout"
    assert "did not answer session/new within 15 s" in str(info.value)
    assert "waiting for the licence server" in str(info.value)


HANGS_AT_SET_MODE = """
import asyncio, sys, uuid
import acp
from acp import InitializeResponse, NewSessionResponse
from acp.schema import AgentCapabilities, Implementation

class Agent:
    def on_connect(self, conn):
        pass

    async def initialize(self, protocol_version, client_capabilities=None, client_info=None, **kw):
        return InitializeResponse(
            protocol_version=acp.PROTOCOL_VERSION,
            agent_capabilities=AgentCapabilities(),
            agent_info=Implementation(name="hang", version="1"),
        )

    async def new_session(self, cwd, mcp_servers=None, **kw):
        return NewSessionResponse(session_id=uuid.uuid4().hex)

    async def set_session_mode(self, mode_id, session_id, **kw):
        print("switching to " + mode_id, file=sys.stderr, flush=True)
        await asyncio.Event().wait()

asyncio.run(acp.run_agent(Agent()))
"""


def test_client_requests_time_out(tmp_path: Path) -> None:
    import sys

    from pocketos import VM
    from pocketos.sessions import SessionError

    script = tmp_path / "hang_agent.py"
    script.write_text(HANGS_AT_SET_MODE)
    with VM() as vm:
        s = vm.create_session([sys.executable, str(script)], handshake_timeout=60, store=False)
        s.inner.handshake_timeout = 0.5  # the request below is never answered
        with pytest.raises(SessionError) as info:
            s.set_mode("ask")
        assert info.value.code == "agent_timeout"
        assert "did not answer session/set_mode within 0.5 s" in str(info.value)
        s.close()  # returns: the agent's process group is killed
        assert s.status == "closed"


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except (FileNotFoundError, ProcessLookupError):  # reaped before open, or between open and read
        return True


def test_close_kills_what_a_launcher_left_holding_the_pipes(tmp_path: Path) -> None:
    """The agent is started by a launcher whose background child keeps the agent's stdout and
    stderr open after the agent exits: close() still returns, and the child is killed."""
    import os
    import shlex
    import signal
    import sys
    import time

    from pocketos import VM

    script = tmp_path / "agent.py"
    script.write_text(HANGS_AT_SET_MODE)
    pidfile = tmp_path / "child.pid"
    launcher = (
        f"trap '' TERM HUP; sleep 1000000 & echo $! > {shlex.quote(str(pidfile))}; "
        f"exec {shlex.quote(sys.executable)} {shlex.quote(str(script))}"
    )
    with VM() as vm:
        s = vm.create_session(["/bin/sh", "-c", launcher], store=False)
        pid = int(pidfile.read_text())
        try:
            assert not _gone(pid)
            s.close()  # returns although `sleep` still holds the pipes
            assert s.status == "closed"
            deadline = time.monotonic() + 60  # SIGKILL was sent; wait for the kernel to act
            while not _gone(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert _gone(pid)
        finally:
            if not _gone(pid):
                os.kill(pid, signal.SIGKILL)


HANGS_AT_LOAD = RAW_AGENT.format(
    hang=("session/load", "replaying a huge history"), caps={"loadSession": True}
)


def test_handshake_timeout_covers_session_load(tmp_path: Path) -> None:
    import asyncio
    import sys

    from pocketos import AsyncVM
    from pocketos.sessions import SessionError, create_session, resume_session
    from pocketos.store import Store

    script = tmp_path / "hang_agent.py"
    script.write_text(HANGS_AT_LOAD)

    async def go() -> None:
        store = Store(str(tmp_path / "s.db"))
        async with AsyncVM() as vm:
            s = await create_session(vm, [sys.executable, str(script)], store=store)
            await s.close()
            with pytest.raises(SessionError) as info:
                # generous: initialize must be answered in time even on a slow machine
                await resume_session(vm, s.id, store=store, handshake_timeout=15)
        assert info.value.code == "handshake_timeout"
        assert "did not answer session/load within 15 s" in str(info.value)
        assert "replaying a huge history" in str(info.value)
        assert store.get_session(s.id)["status"] == "failed"  # type: ignore[index]
        store.close()

    asyncio.run(go())


def test_session_error_codes_are_documented() -> None:
    from pocketos.agent.providers import ERROR_CODES
    from pocketos.sessions.errors import SESSION_ERROR_CODES

    assert set(ERROR_CODES) <= set(SESSION_ERROR_CODES)
    doc = (Path(__file__).parents[2] / "docs" / "sessions.md").read_text()
    missing = [c for c in SESSION_ERROR_CODES if f"`{c}`" not in doc]
    assert not missing, f"codes not in docs/sessions.md: {missing}"
