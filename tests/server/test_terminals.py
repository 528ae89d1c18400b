"""Terminals over the API: open, type, see the output, two clients on one terminal, viewers
that cannot type, the owner allowing a second writer, resize, exit, errors."""

from __future__ import annotations

import json

from websockets.sync.client import connect

PROMPT = b"user@pocketos:~$ "


def _until(ws, marker: bytes, seen: bytearray | None = None) -> bytes:
    """Binary frames until ``marker`` shows up (JSON frames are kept aside in ``seen``)."""
    got = bytearray()
    while marker not in got:
        msg = ws.recv(timeout=60)
        if isinstance(msg, bytes):
            got += msg
        elif seen is not None:
            seen += msg.encode() + b"\n"
    return bytes(got)


def _json(ws) -> dict:
    while True:
        msg = ws.recv(timeout=60)
        if isinstance(msg, str):
            return json.loads(msg)


def test_open_type_and_exit_over_a_websocket(server) -> None:
    c = server.client()
    vid = c.post("/v1/vms", json={}).json()["id"]
    with connect(f"{server.ws_url}/v1/vms/{vid}/terminals/new/ws?cols=100&rows=30") as ws:
        hello = json.loads(ws.recv(timeout=60))
        assert hello["type"] == "hello" and hello["role"] == "writer"
        assert (hello["terminal"]["cols"], hello["terminal"]["rows"]) == (100, 30)
        tid = hello["terminal"]["id"]
        assert _until(ws, PROMPT) == PROMPT
        for ch in b"echo hi\r":
            ws.send(bytes([ch]))
        assert _until(ws, b"\n" + PROMPT) == b"echo hi\r\nhi\r\n" + PROMPT
        ws.send(json.dumps({"type": "resize", "cols": 120, "rows": 40}))
        ws.send(json.dumps({"type": "input", "data": "stty size\r"}))
        assert _until(ws, b"\n" + PROMPT).endswith(b"\r\n40 120\r\n" + PROMPT)
        listed = c.get(f"/v1/vms/{vid}/terminals").json()["terminals"]
        assert [t["id"] for t in listed] == [tid]
        assert listed[0]["clients"] == [{"role": "writer"}]
        ws.send(b"exit 7\r")
        assert _json(ws) == {"type": "exit", "exit_code": 7}
    assert c.get(f"/v1/vms/{vid}/terminals").json() == {"terminals": []}


def test_two_clients_one_terminal(server) -> None:
    c = server.client()
    vid = c.post("/v1/vms", json={}).json()["id"]
    r = c.post(f"/v1/vms/{vid}/terminals", json={"cols": 80, "rows": 24})
    assert r.status_code == 201, r.text
    tid = r.json()["id"]
    base = f"{server.ws_url}/v1/vms/{vid}/terminals/{tid}/ws"
    with connect(base + "?role=writer") as w, connect(base + "?role=viewer") as v:
        assert json.loads(w.recv(timeout=60))["role"] == "writer"
        assert json.loads(v.recv(timeout=60))["role"] == "viewer"
        # both start with the prompt (replayed to whoever attaches)
        assert _until(w, PROMPT) == PROMPT
        assert _until(v, PROMPT) == PROMPT
        w.send(b"echo together\r")
        mine = _until(w, b"\n" + PROMPT)
        assert mine == b"echo together\r\ntogether\r\n" + PROMPT
        assert _until(v, b"\n" + PROMPT) == mine
        # the viewer's keys are refused; the socket stays open
        v.send(b"rm -rf /\r")
        err = _json(v)
        assert err["type"] == "error" and err["error"]["code"] == "read_only"
        # a second writer is refused until the owner allows it
        with connect(base + "?role=writer") as w2:
            err = json.loads(w2.recv(timeout=60))
            assert err["error"]["code"] == "writer_taken"
        r = c.patch(f"/v1/vms/{vid}/terminals/{tid}", json={"writers": 2})
        assert r.json()["writers"] == 2
        with connect(base + "?role=writer&replay=0") as w2:
            assert json.loads(w2.recv(timeout=60))["role"] == "writer"
            w2.send(b"echo second\r")
            assert _until(w2, b"\n" + PROMPT) == b"echo second\r\nsecond\r\n" + PROMPT
            assert _until(w, b"\n" + PROMPT) == b"echo second\r\nsecond\r\n" + PROMPT
        # closing the terminal ends every client with the exit status
        assert c.delete(f"/v1/vms/{vid}/terminals/{tid}").json()["closed"] is True
        assert _json(w)["type"] == "exit"
        assert _json(v)["type"] == "exit"
    r = c.get(f"/v1/vms/{vid}/terminals/{tid}")
    assert r.status_code == 404 and r.json()["error"]["code"] == "terminal_not_found"


def test_terminal_errors(server, serve) -> None:
    c = server.client()
    vid = c.post("/v1/vms", json={}).json()["id"]
    r = c.post(f"/v1/vms/{vid}/terminals", json={"cols": 0})
    assert r.status_code == 422
    r = c.post(f"/v1/vms/{vid}/terminals", json={"bogus": 1})
    assert r.status_code == 422
    tid = c.post(f"/v1/vms/{vid}/terminals", json={}).json()["id"]
    with connect(f"{server.ws_url}/v1/vms/{vid}/terminals/{tid}/ws") as ws:
        json.loads(ws.recv(timeout=60))
        ws.send("not json")
        assert _json(ws)["error"]["code"] == "invalid_json"
        ws.send(json.dumps({"type": "resize", "cols": -1, "rows": 5}))
        assert _json(ws)["error"]["code"] == "invalid_request"
        ws.send(json.dumps({"type": "warp"}))
        assert _json(ws)["error"]["code"] == "invalid_request"
        ws.send(b"echo still-here\r")
        assert _until(ws, b"still-here\r\n" + PROMPT).endswith(b"still-here\r\n" + PROMPT)


def test_terminal_on_a_process_vm_over_websockets(serve) -> None:
    """The server's default VMs run in worker processes: their terminals work the same way,
    output pushed from the worker as it is produced, to every client."""
    server = serve(isolation="process")
    c = server.client()
    vid = c.post("/v1/vms", json={}).json()["id"]
    url = f"{server.ws_url}/v1/vms/{vid}/terminals/new/ws?cols=100&rows=30"
    with connect(url) as ws:
        hello = json.loads(ws.recv(timeout=60))
        assert hello["type"] == "hello" and hello["role"] == "writer"
        tid = hello["terminal"]["id"]
        assert _until(ws, PROMPT) == PROMPT
        for ch in b"echo hi\r":
            ws.send(bytes([ch]))
        assert _until(ws, b"\n" + PROMPT) == b"echo hi\r\nhi\r\n" + PROMPT
        with connect(f"{server.ws_url}/v1/vms/{vid}/terminals/{tid}/ws?role=viewer") as view:
            assert json.loads(view.recv(timeout=60))["role"] == "viewer"
            assert _until(view, b"hi\r\n" + PROMPT).endswith(b"hi\r\n" + PROMPT)
            ws.send(json.dumps({"type": "resize", "cols": 120, "rows": 40}))
            ws.send(b"stty size\r")
            want = b"stty size\r\n40 120\r\n" + PROMPT
            assert _until(ws, b"\n" + PROMPT) == want
            assert _until(view, b"\n" + PROMPT) == want
            # a command that never ends by itself, interrupted with Ctrl-C
            ws.send(b"while :; do sleep infinity; done\r")
            _until(ws, b"done\r\n")
            ws.send(b"\x03")
            assert _until(ws, PROMPT) == b"^C\r\n" + PROMPT
            assert _until(view, b"^C\r\n" + PROMPT).endswith(b"^C\r\n" + PROMPT)
        ws.send(b"exit 7\r")
        assert _json(ws) == {"type": "exit", "exit_code": 7}


def test_terminals_belong_to_the_vm_owner(authed) -> None:
    from tests.server.conftest import ALICE, BOB

    a, b = authed.client(ALICE), authed.client(BOB)
    vid = a.post("/v1/vms", json={}).json()["id"]
    tid = a.post(f"/v1/vms/{vid}/terminals", json={}).json()["id"]
    assert b.get(f"/v1/vms/{vid}/terminals").status_code == 404
    r = b.delete(f"/v1/vms/{vid}/terminals/{tid}")
    assert r.status_code == 404 and r.json()["error"]["code"] == "vm_not_found"
    # no token: no socket
    import pytest
    from websockets.exceptions import InvalidStatus

    with pytest.raises(InvalidStatus), connect(f"{authed.ws_url}/v1/vms/{vid}/terminals/{tid}/ws"):
        pass
    with (
        pytest.raises(InvalidStatus),
        connect(f"{authed.ws_url}/v1/vms/{vid}/terminals/{tid}/ws?token={BOB}"),
    ):
        pass
    with connect(f"{authed.ws_url}/v1/vms/{vid}/terminals/{tid}/ws?token={ALICE}") as ws:
        assert json.loads(ws.recv(timeout=60))["type"] == "hello"


def test_ctrl_z_over_a_websocket_stops_the_job_and_fg_resumes_it(server) -> None:
    c = server.client()
    vid = c.post("/v1/vms", json={}).json()["id"]
    with connect(f"{server.ws_url}/v1/vms/{vid}/terminals/new/ws") as ws:
        json.loads(ws.recv(timeout=60))
        assert _until(ws, PROMPT) == PROMPT
        # the job says "go" once it runs: a Ctrl-Z before that would reach the shell
        ws.send(b"sh -c 'echo go; cat'\r")
        _until(ws, b"go\r\n")
        ws.send(b"\x1a")
        stopped = _until(ws, b"\n" + PROMPT)
        assert stopped == b"^Z\r\n[1]+  Stopped                 sh -c 'echo go; cat'\r\n" + PROMPT
        ws.send(b"fg\r")
        _until(ws, b"fg\r\nsh -c 'echo go; cat'\r\n")
        ws.send(b"back\r")
        assert _until(ws, b"back\r\nback\r\n") == b"back\r\nback\r\n"
        ws.send(b"\x04")
        _until(ws, PROMPT)
        ws.send(b"echo $?; jobs\r")
        assert _until(ws, b"\n" + PROMPT) == b"echo $?; jobs\r\n0\r\n" + PROMPT
