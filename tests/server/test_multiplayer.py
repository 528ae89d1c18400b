"""Several people on one agent session: two clients following its events see the same
numbered events, live (terminals shared by several clients: test_terminals.py)."""

from __future__ import annotations

import json
import threading

from websockets.sync.client import connect

from tests.agent.fake_llm import FakeServer, openai_text, openai_tool


def _follow(url: str, out: list[dict], ready: threading.Event) -> None:
    with connect(url) as ws:
        ready.set()
        while True:
            ev = json.loads(ws.recv(timeout=60))
            out.append(ev)
            if ev["kind"] == "prompt.ended":
                return


def test_two_clients_follow_one_session_live(serve) -> None:
    llm = FakeServer(
        [
            openai_tool("bash", {"command": "echo shared > /home/user/s.txt"}),
            openai_text("Done."),
        ]
    )
    srv = serve()
    srv.call(llm.__aenter__())
    srv.config.agent_config.update(
        {"provider": "openai", "base_url": llm.url + "/v1", "api_key": "k", "backoff": 0}
    )
    c = srv.client()
    vid = c.post("/v1/vms", json={}).json()["id"]
    sid = c.post(f"/v1/vms/{vid}/sessions", json={}).json()["id"]
    url = f"{srv.ws_url}/v1/vms/{vid}/sessions/{sid}/events/ws"
    seen: list[list[dict]] = [[], []]
    ready = [threading.Event(), threading.Event()]
    threads = [
        threading.Thread(target=_follow, args=(url, seen[i], ready[i]), daemon=True)
        for i in range(2)
    ]
    for t in threads:
        t.start()
    for r in ready:
        assert r.wait(60)
    # both are attached before the prompt: what they get is the live stream
    assert c.post(f"/v1/vms/{vid}/sessions/{sid}/prompt", json={"content": "go"}).status_code == 202
    for t in threads:
        t.join(120)
        assert not t.is_alive()
    assert seen[0] == seen[1]
    kinds = [e["kind"] for e in seen[0]]
    assert kinds[-1] == "prompt.ended" and "prompt.started" in kinds
    assert any(
        e["kind"] == "update" and e["data"].get("sessionUpdate") == "tool_call" for e in seen[0]
    )
