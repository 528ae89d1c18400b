"""Agent sessions over the API against a scripted fake OpenAI server on 127.0.0.1: events with
sequence numbers replayed after a reconnect, and an ``ask`` answered over the API."""

from __future__ import annotations

import json

import pytest

from tests.agent.fake_llm import openai_text, openai_tool
from tests.server import harness  # noqa: F401  (skips without the server extra)

connect = pytest.importorskip("websockets.sync.client").connect


def _events_ws(srv, vid, sid, after=0, until_kind="prompt.ended"):
    out = []
    with connect(f"{srv.ws_url}/v1/vms/{vid}/sessions/{sid}/events/ws?after={after}") as ws:
        while True:
            ev = json.loads(ws.recv(timeout=60))
            out.append(ev)
            if ev["kind"] == until_kind:
                return out


@pytest.mark.parametrize("isolation", ["in-process", "process"])
def test_session_prompt_and_events_replayed_after_reconnect(llm_server, isolation):
    srv, llm = llm_server(
        [
            openai_tool("bash", {"command": "echo made > /home/user/f.txt; cat /home/user/f.txt"}),
            openai_text("All done."),
        ]
    )
    c = srv.client()
    vid = c.post("/v1/vms", json={"isolation": isolation}).json()["id"]
    r = c.post(f"/v1/vms/{vid}/sessions", json={"agent": "pocketos"})
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    assert [s["id"] for s in c.get(f"/v1/vms/{vid}/sessions").json()["sessions"]] == [sid]
    r = c.post(f"/v1/vms/{vid}/sessions/{sid}/prompt", json={"content": "make f.txt"})
    assert r.status_code == 202
    live = _events_ws(srv, vid, sid)
    seqs = [e["seq"] for e in live]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    kinds = [e["kind"] for e in live]
    assert "prompt.started" in kinds and kinds[-1] == "prompt.ended"
    tool_updates = [
        e for e in live if e["kind"] == "update" and e["data"].get("sessionUpdate") == "tool_call"
    ]
    assert tool_updates, kinds
    # a client that reconnects with the last seq it saw gets exactly the rest
    middle = seqs[len(seqs) // 2]
    again = _events_ws(srv, vid, sid, after=middle)
    assert [e["seq"] for e in again] == [s for s in seqs if s > middle]
    assert again == [e for e in live if e["seq"] > middle]
    # the same backlog over Server-Sent Events, with ids for Last-Event-ID
    got = []
    with c.stream(
        "GET", f"/v1/vms/{vid}/sessions/{sid}/events", headers={"last-event-id": str(middle)}
    ) as resp:
        for line in resp.iter_lines():
            if line.startswith("id: "):
                got.append(int(line[4:]))
            if line.startswith("event: prompt.ended"):
                break
    assert got == [s for s in seqs if s > middle]
    # the work really happened in the VM
    assert c.get(f"/v1/vms/{vid}/files/home/user/f.txt").content == b"made\n"
    info = c.get(f"/v1/vms/{vid}/sessions/{sid}").json()
    assert info["last_seq"] >= seqs[-1]
    assert c.delete(f"/v1/vms/{vid}/sessions/{sid}").json()["closed"] is True
    assert c.get(f"/v1/vms/{vid}/sessions/{sid}").json()["error"]["code"] == "session_not_found"


def test_ask_answered_over_the_api(llm_server):
    srv, llm = llm_server(
        [
            openai_tool("write", {"path": "/home/user/secret.txt", "content": "x"}, "c1"),
            openai_text("Understood, I will not write it."),
        ]
    )
    c = srv.client()
    vid = c.post("/v1/vms", json={}).json()["id"]
    sid = c.post(f"/v1/vms/{vid}/sessions", json={"mode": "ask"}).json()["id"]
    assert (
        c.post(f"/v1/vms/{vid}/sessions/{sid}/prompt", json={"content": "write"}).status_code == 202
    )
    # follow the events until the agent asks
    with connect(f"{srv.ws_url}/v1/vms/{vid}/sessions/{sid}/events/ws") as ws:
        while json.loads(ws.recv(timeout=60))["kind"] != "permission.asked":
            pass
        pending = c.get(f"/v1/vms/{vid}/permissions").json()["permissions"]
        assert len(pending) == 1
        assert pending[0]["detail"]["session_id"] == sid
        r = c.post(f"/v1/vms/{vid}/permissions/{pending[0]['id']}", json={"decision": "deny"})
        assert r.json()["decision"] == "deny"
        rest = []
        while True:
            ev = json.loads(ws.recv(timeout=60))
            rest.append(ev)
            if ev["kind"] == "prompt.ended":
                break
    answered = [e for e in rest if e["kind"] == "permission.answered"]
    assert answered and answered[0]["data"]["decision"].startswith("reject")
    # the agent got the denial as its tool result, and nothing was written
    tool_msgs = [m for m in llm.requests[-1]["json"]["messages"] if m["role"] == "tool"]
    assert "permission refused" in tool_msgs[0]["content"]
    r = c.get(f"/v1/vms/{vid}/files/home/user/secret.txt")
    assert r.json()["error"]["code"] == "ENOENT"
    assert c.get(f"/v1/vms/{vid}/permissions").json() == {"permissions": []}
    r = c.post(f"/v1/vms/{vid}/permissions/perm-99", json={"decision": "allow"})
    assert r.json()["error"]["code"] == "not_found"


def test_prompt_wait_and_resume(llm_server):
    srv, llm = llm_server([openai_text("first answer"), openai_text("second answer")])
    c = srv.client()
    vid = c.post("/v1/vms", json={}).json()["id"]
    sid = c.post(f"/v1/vms/{vid}/sessions", json={}).json()["id"]
    r = c.post(f"/v1/vms/{vid}/sessions/{sid}/prompt", json={"content": "hi", "wait": True})
    assert (r.json()["stop_reason"], r.json()["text"]) == ("end_turn", "first answer")
    last = c.get(f"/v1/vms/{vid}/sessions/{sid}").json()["last_seq"]
    c.delete(f"/v1/vms/{vid}/sessions/{sid}")
    r = c.post(f"/v1/vms/{vid}/sessions/{sid}/resume", json={})
    assert r.status_code == 200, r.text
    r = c.post(f"/v1/vms/{vid}/sessions/{sid}/prompt", json={"content": "again", "wait": True})
    assert r.json()["text"] == "second answer"
    assert min(r.json()["events"]) > last  # numbering continues
    # the resumed session replays its whole history from the store
    evs = _events_ws(srv, vid, sid, after=0)
    assert [e["seq"] for e in evs][:3] == [1, 2, 3]


def test_sessions_need_an_allowed_agent(llm_server):
    srv, _ = llm_server([])
    c = srv.client()
    vid = c.post("/v1/vms", json={}).json()["id"]
    r = c.post(f"/v1/vms/{vid}/sessions", json={"agent": "claude-code"})
    assert (r.status_code, r.json()["error"]["code"]) == (403, "agent_not_allowed")
    r = c.post(f"/v1/vms/{vid}/sessions", json={"agent_config": {"base_url": "http://evil"}})
    assert r.json()["error"]["code"] == "invalid_request"
