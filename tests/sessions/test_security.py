"""Everything an external ACP agent does to the VM passes the VM's policy and limits: files
(fs/*), commands (terminal/*), the Python interpreter extension and permission requests.
The agent is a real host process (tests/sessions/probe_agent.py) that sends raw JSON-RPC."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pocketos import AsyncVM
from pocketos.sessions import Session, create_session
from pocketos.store import Store
from pocketos.wasm import python_available

PROBE = [sys.executable, str(Path(__file__).resolve().parent / "probe_agent.py")]

POLICY = {
    "fs": {
        "default": "allow",
        "rules": [{"mode": "deny", "operations": ["read", "write"], "paths": ["/secret/**"]}],
    },
    "child_process": {
        "default": "allow",
        "rules": [{"mode": "deny", "operations": ["spawn"], "paths": ["rm"]}],
    },
    "env": "allow",
    "process": "allow",
}
LIMITS = {"timeout": 1.0, "max_output_bytes": 20_000, "wasm_deadline": 120.0}
DENIED_READ = "Permission denied: fs.read on /secret/key.txt"


@pytest.fixture(scope="module")
def probe(loop: asyncio.AbstractEventLoop) -> Iterator[tuple[AsyncVM, Session]]:
    os.environ["POCKETOS_HOST_SECRET"] = "host-only"
    seed = AsyncVM()
    seed.write_file("/work/a.txt", b"a\n", parents=True)
    seed.write_file("/secret/key.txt", b"k\n", parents=True)
    vm = AsyncVM(policy=POLICY, limits=LIMITS, snapshots=[seed.snapshot()])
    sess = loop.run_until_complete(create_session(vm, PROBE, cwd="/work", store=Store(":memory:")))
    yield vm, sess
    loop.run_until_complete(sess.close())
    loop.run_until_complete(vm.aclose())
    os.environ.pop("POCKETOS_HOST_SECRET", None)


def calls(
    loop: asyncio.AbstractEventLoop, sess: Session, *pairs: tuple[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    r = loop.run_until_complete(sess.prompt(json.dumps([list(p) for p in pairs])))
    return [json.loads(line) for line in r.text.splitlines()]


def run_terminal(
    loop: asyncio.AbstractEventLoop, sess: Session, command: str
) -> tuple[str, dict[str, Any]]:
    [created] = calls(loop, sess, ("terminal/create", {"command": command}))
    tid = created["result"]["terminalId"]
    waited, out, _ = calls(
        loop,
        sess,
        ("terminal/wait_for_exit", {"terminalId": tid}),
        ("terminal/output", {"terminalId": tid}),
        ("terminal/release", {"terminalId": tid}),
    )
    return out["result"]["output"], waited["result"]


def test_denied_file_access_is_a_jsonrpc_error(
    probe: tuple[AsyncVM, Session], loop: asyncio.AbstractEventLoop
) -> None:
    vm, sess = probe
    got = calls(
        loop,
        sess,
        ("fs/read_text_file", {"path": "/secret/key.txt"}),
        ("fs/write_text_file", {"path": "/secret/new.txt", "content": "x"}),
        ("fs/read_text_file", {"path": "/work/../secret/key.txt"}),
        ("fs/read_text_file", {"path": "secret/key.txt"}),
        ("fs/read_text_file", {"path": "/work/a.txt"}),
    )
    assert got == [
        {
            "error": {
                "code": -32603,
                "message": DENIED_READ,
                "data": {"path": "/secret/key.txt", "errno": 13, "error": DENIED_READ},
            }
        },
        {
            "error": {
                "code": -32603,
                "message": "Permission denied: fs.write on /secret/new.txt",
                "data": {
                    "path": "/secret/new.txt",
                    "errno": 13,
                    "error": "Permission denied: fs.write on /secret/new.txt",
                },
            }
        },
        {
            "error": {
                "code": -32603,
                "message": "path must be normalized: '/work/../secret/key.txt' (did you mean "
                "'/secret/key.txt'?): /work/../secret/key.txt",
                "data": {
                    "path": "/work/../secret/key.txt",
                    "error": "path must be normalized: '/work/../secret/key.txt' (did "
                    "you mean '/secret/key.txt'?)",
                },
            }
        },
        {
            "error": {
                "code": -32602,
                "message": "Invalid params",
                "data": {"path": "secret/key.txt", "details": "path must be absolute"},
            }
        },
        {"result": {"content": "a\n"}},
    ]
    assert not vm.exists("/secret/new.txt")
    # every refusal is in the transcript and in the VM's audit log
    reads = [e.data for e in sess.events.events if e.kind in ("fs.read", "fs.write")][-4:]
    assert [(d["path"], d["ok"]) for d in reads] == [
        ("/secret/key.txt", False),
        ("/secret/new.txt", False),
        ("/work/../secret/key.txt", False),
        ("/work/a.txt", True),
    ]
    denials = [
        (a.capability, a.resource) for a in vm.audit_log(kind="permission") if a.decision == "deny"
    ]
    assert ("fs.read", "/secret/key.txt") in denials
    assert ("fs.write", "/secret/new.txt") in denials


def test_bad_params_are_invalid_params(
    probe: tuple[AsyncVM, Session], loop: asyncio.AbstractEventLoop
) -> None:
    vm, sess = probe
    got = calls(
        loop,
        sess,
        ("terminal/create", {"command": "echo", "args": "not a list"}),
        ("terminal/output", {"terminalId": "term-none"}),
        ("fs/write_text_file", {"path": "/work/b.txt"}),
        ("fs/read_text_file", {"path": "/work/a.txt", "line": -1}),
    )
    assert [g["error"]["code"] for g in got] == [-32602] * 4
    assert [g["error"]["data"]["details"] for g in got] == [
        "args must be a list of strings",
        "unknown terminal",
        "content must be a string",
        "line must be a non-negative integer",
    ]


def test_terminal_commands_are_policy_checked(
    probe: tuple[AsyncVM, Session], loop: asyncio.AbstractEventLoop
) -> None:
    vm, sess = probe
    out, status = run_terminal(
        loop, sess, 'cat /secret/key.txt; rm -f a.txt; echo "[$POCKETOS_HOST_SECRET]"; cat a.txt'
    )
    assert out == (
        "cat: /secret/key.txt: Permission denied: fs.read on /secret/key.txt\n"
        "rm: Permission denied: child_process.spawn on rm\n"
        "[]\n"
        "a\n"
    )
    assert status == {"exitCode": 0}
    assert vm.read_file("/work/a.txt") == b"a\n"


def test_terminals_run_under_the_vm_limits(
    probe: tuple[AsyncVM, Session], loop: asyncio.AbstractEventLoop
) -> None:
    vm, sess = probe
    out, status = run_terminal(loop, sess, "sleep 30")
    assert (out, status) == ("bash: timed out after 1s\n", {"exitCode": 124})
    out, status = run_terminal(loop, sess, "yes")
    assert status == {"exitCode": 125}
    assert out.splitlines()[-1] == "bash: output limit exceeded (max_output_bytes=20000)"
    assert set(out.splitlines()[:-1]) == {"y"}


@pytest.mark.skipif(
    not python_available(), reason="the wasm Python runtime is not installed (pocketos warmup)"
)
def test_python_extension_is_persistent_and_policy_checked(
    probe: tuple[AsyncVM, Session], loop: asyncio.AbstractEventLoop
) -> None:
    vm, sess = probe
    got = calls(
        loop,
        sess,
        ("_pocketos/python", {"code": "x = 41\nprint('set')"}),
        ("_pocketos/python", {"code": "x + 1"}),
        ("_pocketos/python", {"code": "open('/secret/key.txt').read()"}),
        ("_pocketos/python", {"code": "open('/work/a.txt').read()"}),
    )
    assert got[0]["result"] == {
        "stdout": "set\n",
        "stderr": "",
        "value": None,
        "error": None,
        "restarted": False,
        "ended": False,
    }
    assert got[1]["result"]["value"] == "42"
    # the errno the wasm runtime reports is its own business; the refusal is the point
    err = got[2]["result"]["error"]
    assert err.startswith("PermissionError: [Errno ")
    assert err.endswith("] Permission denied: '/secret/key.txt'")
    assert got[3]["result"]["value"] == "'a\\n'"
    runs = [e.data for e in sess.events.events if e.kind == "python.run"][-4:]
    assert [r["ok"] for r in runs] == [True, True, False, True]


def test_permission_requests_follow_the_policy(
    probe: tuple[AsyncVM, Session], loop: asyncio.AbstractEventLoop
) -> None:
    vm, sess = probe
    opts = [
        {"optionId": "y", "name": "Yes", "kind": "allow_once"},
        {"optionId": "n", "name": "No", "kind": "reject_once"},
    ]
    got = calls(
        loop,
        sess,
        (
            "session/request_permission",
            {
                "toolCall": {
                    "toolCallId": "t1",
                    "kind": "read",
                    "title": "read key",
                    "locations": [{"path": "/secret/key.txt"}],
                },
                "options": opts,
            },
        ),
        (
            "session/request_permission",
            {
                "toolCall": {
                    "toolCallId": "t2",
                    "kind": "execute",
                    "title": "rm",
                    "rawInput": {"command": "rm -rf /work"},
                },
                "options": opts,
            },
        ),
        (
            "session/request_permission",
            {
                "toolCall": {
                    "toolCallId": "t3",
                    "kind": "read",
                    "title": "read a",
                    "locations": [{"path": "/work/a.txt"}],
                },
                "options": opts,
            },
        ),
    )
    assert got == [
        {"result": {"outcome": {"outcome": "selected", "optionId": "n"}}},
        {"result": {"outcome": {"outcome": "selected", "optionId": "n"}}},
        {"result": {"outcome": {"outcome": "selected", "optionId": "y"}}},
    ]
    answered = [e.data for e in sess.events.events if e.kind == "permission.answered"][-3:]
    assert [(a["capability"], a["resource"], a["source"]) for a in answered] == [
        ("fs.read", "/secret/key.txt", "policy"),
        ("child_process.spawn", "rm", "policy"),
        ("fs.read", "/work/a.txt", "policy"),
    ]


def test_permission_request_judged_by_the_earlier_tool_call(
    probe: tuple[AsyncVM, Session], loop: asyncio.AbstractEventLoop
) -> None:
    # the request names only the call's id: its kind and location come from the tool_call
    # update the agent sent before, so the policy's deny applies at the permission step
    vm, sess = probe
    opts = [
        {"optionId": "y", "name": "Yes", "kind": "allow_once"},
        {"optionId": "n", "name": "No", "kind": "reject_once"},
    ]
    update = {
        "sessionUpdate": "tool_call",
        "toolCallId": "w9",
        "title": "Write",
        "kind": "edit",
        "status": "pending",
        "locations": [{"path": "/secret/key.txt"}],
    }
    got = calls(
        loop,
        sess,
        ("session/update", {"update": update}),
        ("session/request_permission", {"toolCall": {"toolCallId": "w9"}, "options": opts}),
    )
    assert got[1] == {"result": {"outcome": {"outcome": "selected", "optionId": "n"}}}
    answered = [e.data for e in sess.events.events if e.kind == "permission.answered"][-1]
    assert (answered["capability"], answered["resource"], answered["source"]) == (
        "fs.write",
        "/secret/key.txt",
        "policy",
    )
