"""In an in-process server VM with ``ask`` rules, a terminal's command and an agent session's
command wait for the answer given over the API, like an exec: allowed, denied, no answer in
time, the VM deleted or the terminal (session) closed while the question waits."""

from __future__ import annotations

import json

import pytest

from tests.agent.fake_llm import openai_text, openai_tool
from tests.server import harness  # noqa: F401  (skips without the server extra)

connect = pytest.importorskip("websockets.sync.client").connect
ConnectionClosed = pytest.importorskip("websockets.exceptions").ConnectionClosed

ASK_POLICY = {
    "fs": {
        "default": "allow",
        "rules": [{"mode": "ask", "operations": ["write"], "paths": ["/home/user/asked/*.txt"]}],
    },
    "child_process": "allow",  # the agent's bash tool
}


def _until(ws, marker: bytes) -> bytes:
    """Terminal output until ``marker``; JSON frames end it with an error."""
    got = bytearray()
    while marker not in got:
        msg = ws.recv(timeout=60)
        if isinstance(msg, str):
            raise AssertionError(f"{msg} after {bytes(got)!r}")
        got += msg
    return bytes(got)


def _pending(c, vid) -> list[dict]:
    pending: list[dict] = []
    while not pending:  # long poll: returns as soon as a question is pending
        pending = c.get(f"/v1/vms/{vid}/permissions?wait=60").json()["permissions"]
    return pending


def _vm(c) -> str:
    vid = c.post("/v1/vms", json={"isolation": "in-process", "policy": ASK_POLICY}).json()["id"]
    assert c.post(f"/v1/vms/{vid}/mkdir/home/user/asked").status_code < 300
    return vid


def _terminal(srv, vid):
    return connect(f"{srv.ws_url}/v1/vms/{vid}/terminals/new/ws")


def _hello(ws) -> str:
    """The terminal's id, once its first prompt is shown."""
    hello = json.loads(ws.recv(timeout=60))
    _until(ws, b"$ ")
    return str(hello["terminal"]["id"])


@pytest.mark.parametrize("decision", ["allow", "deny"])
def test_a_terminal_command_waits_for_the_answer(server, decision) -> None:
    c = server.client()
    vid = _vm(c)
    with _terminal(server, vid) as ws:
        tid = _hello(ws)
        ws.send(b"echo typed > /home/user/asked/t.txt; echo status=$? E''ND\r")
        (p,) = _pending(c, vid)
        assert (p["capability"], p["resource"]) == ("fs.write", "/home/user/asked/t.txt")
        assert p["origin"] == {"kind": "terminal", "id": tid}
        assert c.get("/v1/health").json()["ok"] is True  # the server serves meanwhile
        r = c.post(f"/v1/vms/{vid}/permissions/{p['id']}", json={"decision": decision})
        assert r.status_code == 200
        out = _until(ws, b"END\r\n")
    got = c.get(f"/v1/vms/{vid}/files/home/user/asked/t.txt")
    if decision == "allow":
        assert b"\r\nstatus=0 END\r\n" in out, out
        assert got.content == b"typed\n"
    else:
        assert b"t.txt: Permission denied\r\nstatus=1 END\r\n" in out, out
        assert got.status_code == 404
    assert c.get(f"/v1/vms/{vid}/permissions?wait=0").json() == {"permissions": []}
    audit = c.get(f"/v1/vms/{vid}/audit?capability=fs.write").json()["events"]
    assert [e["decision"] for e in audit][-2:] == ["ask", decision]


def test_a_terminal_command_nobody_answers_is_denied_after_the_timeout(serve) -> None:
    # the question must still be pending when the test lists it: 5 s leaves a loaded machine
    # time to send that request
    srv = serve(ask_timeout=5)
    c = srv.client()
    vid = _vm(c)
    with _terminal(srv, vid) as ws:
        _hello(ws)
        ws.send(b"echo x > /home/user/asked/late.txt; echo status=$? E''ND\r")
        (p,) = _pending(c, vid)
        out = _until(ws, b"END\r\n")
    assert b"status=1 END\r\n" in out, out
    assert b"/home/user/asked/late.txt: Permission denied" in out, out
    late = c.post(f"/v1/vms/{vid}/permissions/{p['id']}", json={"decision": "allow"})
    assert late.status_code == 404
    assert c.get(f"/v1/vms/{vid}/stat/home/user/asked/late.txt").status_code == 404


def test_closing_the_terminal_denies_its_question(server) -> None:
    c = server.client()
    vid = _vm(c)
    with _terminal(server, vid) as ws:
        tid = _hello(ws)
        # the question is denied, and so is the one the loop would ask next
        ws.send(b"for i in 1 2 3; do echo x > /home/user/asked/c$i.txt; done\r")
        (p,) = _pending(c, vid)
        assert p["origin"]["id"] == tid
        r = c.delete(f"/v1/vms/{vid}/terminals/{tid}")
        assert r.status_code == 200 and r.json()["closed"] is True
        while isinstance(msg := ws.recv(timeout=60), bytes):
            pass
        assert json.loads(msg)["type"] == "exit"
    assert c.get(f"/v1/vms/{vid}/permissions?wait=0").json() == {"permissions": []}
    listing = c.post(f"/v1/vms/{vid}/exec", json={"script": "ls -A /home/user/asked"}).json()
    assert listing["stdout"] == "", listing
    # the VM carries on: another terminal opens and runs commands
    with _terminal(server, vid) as ws:
        _hello(ws)
        ws.send(b"echo still' 'here\r")
        _until(ws, b"still here\r\n")


def test_deleting_the_vm_ends_a_waiting_terminal(server) -> None:
    c = server.client()
    vid = _vm(c)
    with _terminal(server, vid) as ws:
        _hello(ws)
        ws.send(b"echo x > /home/user/asked/d.txt\r")
        _pending(c, vid)
        assert c.delete(f"/v1/vms/{vid}").status_code in (200, 204)
        with pytest.raises(ConnectionClosed):  # after the last frames, the socket ends
            while True:
                ws.recv(timeout=60)
    assert c.get(f"/v1/vms/{vid}").status_code == 404
    assert c.get("/v1/health").json()["ok"] is True


def test_a_session_command_waits_for_the_answer(llm_server) -> None:
    srv, llm = llm_server(
        [
            openai_tool("bash", {"command": "echo agent > /home/user/asked/s.txt; echo st=$?"}),
            openai_text("Written."),
        ]
    )
    c = srv.client()
    vid = _vm(c)
    sid = c.post(f"/v1/vms/{vid}/sessions", json={"agent": "pocketos"}).json()["id"]
    r = c.post(f"/v1/vms/{vid}/sessions/{sid}/prompt", json={"content": "write"})
    assert r.status_code == 202
    (p,) = _pending(c, vid)
    assert (p["resource"], p["origin"]) == (
        "/home/user/asked/s.txt",
        {"kind": "session", "id": sid},
    )
    c.post(f"/v1/vms/{vid}/permissions/{p['id']}", json={"decision": "allow"})
    with connect(f"{srv.ws_url}/v1/vms/{vid}/sessions/{sid}/events/ws") as ws:
        while json.loads(ws.recv(timeout=60))["kind"] != "prompt.ended":
            pass
    assert c.get(f"/v1/vms/{vid}/files/home/user/asked/s.txt").content == b"agent\n"
    tool_msgs = [m for m in llm.requests[-1]["json"]["messages"] if m["role"] == "tool"]
    assert "st=0" in tool_msgs[0]["content"]


def test_closing_the_session_denies_its_question(llm_server) -> None:
    srv, _ = llm_server(
        [openai_tool("bash", {"command": "echo agent > /home/user/asked/q.txt"}), openai_text(".")]
    )
    c = srv.client()
    vid = _vm(c)
    sid = c.post(f"/v1/vms/{vid}/sessions", json={"agent": "pocketos"}).json()["id"]
    c.post(f"/v1/vms/{vid}/sessions/{sid}/prompt", json={"content": "write"})
    (p,) = _pending(c, vid)
    assert p["origin"] == {"kind": "session", "id": sid}
    r = c.delete(f"/v1/vms/{vid}/sessions/{sid}")
    assert r.status_code == 200, r.text
    assert c.get(f"/v1/vms/{vid}/permissions?wait=0").json() == {"permissions": []}
    assert c.get(f"/v1/vms/{vid}/stat/home/user/asked/q.txt").status_code == 404
    # the VM still serves its execs
    assert c.post(f"/v1/vms/{vid}/exec", json={"script": "echo ok"}).json()["stdout"] == "ok\n"
