"""Streamed exec: WebSocket frames and Server-Sent Events."""

from __future__ import annotations

import json

import pytest

from tests.server.harness import ALICE, BOB

connect = pytest.importorskip("websockets.sync.client").connect
InvalidStatus = pytest.importorskip("websockets.exceptions").InvalidStatus


def _frames(ws) -> list[dict]:
    out = []
    while True:
        f = json.loads(ws.recv(timeout=60))
        out.append(f)
        if f["type"] in ("exit", "error"):
            return out


def test_ws_frames_in_order_and_reuse(server):
    vid = server.client().post("/v1/vms", json={}).json()["id"]
    with connect(f"{server.ws_url}/v1/vms/{vid}/exec/ws") as ws:
        ws.send(json.dumps({"script": "echo one; echo two >&2; echo three; exit 4"}))
        frames = _frames(ws)
        assert [f["seq"] for f in frames] == list(range(1, len(frames) + 1))
        out = "".join(f["data"] for f in frames if f["type"] == "stdout")
        err = "".join(f["data"] for f in frames if f["type"] == "stderr")
        assert (out, err) == ("one\nthree\n", "two\n")
        assert frames[-1]["type"] == "exit" and frames[-1]["exit_code"] == 4
        # the same socket runs the next request
        ws.send(json.dumps({"argv": ["echo", "again"]}))
        frames = _frames(ws)
        assert [(f["type"], f.get("data")) for f in frames[:-1]] == [("stdout", "again\n")]
        # a bad request is an error frame, and the socket stays usable
        ws.send("{not json")
        assert json.loads(ws.recv(timeout=60))["error"]["code"] == "invalid_request"
        ws.send(json.dumps({"script": "echo ok"}))
        assert _frames(ws)[-1]["exit_code"] == 0


def test_ws_cancel_stops_an_endless_exec(server):
    vid = server.client().post("/v1/vms", json={}).json()["id"]
    with connect(f"{server.ws_url}/v1/vms/{vid}/exec/ws") as ws:
        ws.send(json.dumps({"script": "echo started; sleep infinity"}))
        first = json.loads(ws.recv(timeout=60))
        assert first == {"type": "stdout", "seq": 1, "data": "started\n"}
        ws.send(json.dumps({"type": "cancel"}))
        frames = _frames(ws)
        assert frames[-1]["type"] == "exit"
        assert (frames[-1]["exit_code"], frames[-1]["limit_hit"]) == (130, "cancelled")
        ws.send(json.dumps({"script": "echo alive"}))
        assert _frames(ws)[0]["data"] == "alive\n"


def test_ws_utf8_split_across_writes_is_whole(server):
    vid = server.client().post("/v1/vms", json={}).json()["id"]
    with connect(f"{server.ws_url}/v1/vms/{vid}/exec/ws") as ws:
        ws.send(json.dumps({"script": "printf '\\xc3'; printf '\\xa9\\n'"}))
        frames = _frames(ws)
        assert "".join(f.get("data", "") for f in frames if f["type"] == "stdout") == "é\n"


def test_ws_needs_a_token_and_sees_only_its_vms(authed):
    vid = authed.client(ALICE).post("/v1/vms", json={}).json()["id"]
    url = f"{authed.ws_url}/v1/vms/{vid}/exec/ws"
    try:
        connect(url).close()
        raise AssertionError("connected without a token")
    except InvalidStatus as exc:
        assert exc.response.status_code == 401
    with connect(url, additional_headers={"Authorization": f"Bearer {ALICE}"}) as ws:
        ws.send(json.dumps({"script": "echo mine"}))
        assert _frames(ws)[0]["data"] == "mine\n"
    with connect(f"{url}?token={ALICE}") as ws:
        ws.send(json.dumps({"script": "echo query"}))
        assert _frames(ws)[0]["data"] == "query\n"
    try:
        connect(f"{url}?token={BOB}").close()
        raise AssertionError("bob reached alice's VM")
    except InvalidStatus as exc:
        assert exc.response.status_code == 404


def test_sse_stream(server):
    c = server.client()
    vid = c.post("/v1/vms", json={}).json()["id"]
    events = []
    with c.stream(
        "POST", f"/v1/vms/{vid}/exec/stream", json={"script": "echo a; echo b >&2; exit 2"}
    ) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        name = None
        for line in r.iter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                events.append((name, json.loads(line[6:])))
    assert [n for n, _ in events] == ["stdout", "stderr", "exit"]
    assert [d["seq"] for _, d in events] == [1, 2, 3]
    assert events[-1][1]["exit_code"] == 2
