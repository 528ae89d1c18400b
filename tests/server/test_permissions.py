"""``ask`` rules met by a command wait for an answer given over the API, in process VMs and in
in-process VMs (whose execs then run on a thread of their own, so the server keeps serving)."""

from __future__ import annotations

import socket
import threading

import pytest

from tests.server import harness  # noqa: F401  (skips without the server extra)

ISOLATIONS = ["process", "in-process"]

ASK_POLICY = {
    "fs": {
        "default": "allow",
        "rules": [{"mode": "ask", "operations": ["write"], "paths": ["/home/user/asked/*.txt"]}],
    }
}


def _exec_in_thread(c, vid, script):
    box = {}

    def go():
        box["r"] = c.post(f"/v1/vms/{vid}/exec", json={"script": script})

    t = threading.Thread(target=go)
    t.start()
    return t, box


@pytest.mark.parametrize("isolation", ISOLATIONS)
def test_ask_allowed_over_the_api(server, isolation):
    c = server.client()
    vid = c.post("/v1/vms", json={"isolation": isolation, "policy": ASK_POLICY}).json()["id"]
    c.post(f"/v1/vms/{vid}/mkdir/home/user/asked")
    t, box = _exec_in_thread(c, vid, "echo granted > /home/user/asked/a.txt && echo wrote")
    pending = []
    while not pending:  # long poll: returns as soon as the question is pending
        pending = c.get(f"/v1/vms/{vid}/permissions?wait=60").json()["permissions"]
    (p,) = pending
    assert (p["capability"], p["resource"]) == ("fs.write", "/home/user/asked/a.txt")
    assert (
        c.post(f"/v1/vms/{vid}/permissions/{p['id']}", json={"decision": "allow"}).status_code
        == 200
    )
    t.join(120)
    assert box["r"].json()["stdout"] == "wrote\n"
    assert c.get(f"/v1/vms/{vid}/files/home/user/asked/a.txt").content == b"granted\n"
    audit = c.get(f"/v1/vms/{vid}/audit?capability=fs.write").json()["events"]
    assert [e["decision"] for e in audit][-2:] == ["ask", "allow"]


@pytest.mark.parametrize("isolation", ISOLATIONS)
def test_ask_denied_over_the_api(server, isolation):
    c = server.client()
    vid = c.post("/v1/vms", json={"isolation": isolation, "policy": ASK_POLICY}).json()["id"]
    c.post(f"/v1/vms/{vid}/mkdir/home/user/asked")
    t, box = _exec_in_thread(c, vid, "echo no > /home/user/asked/b.txt")
    pending = []
    while not pending:
        pending = c.get(f"/v1/vms/{vid}/permissions?wait=60").json()["permissions"]
    c.post(f"/v1/vms/{vid}/permissions/{pending[0]['id']}", json={"decision": "deny"})
    t.join(120)
    r = box["r"].json()
    assert r["exit_code"] == 1 and "denied" in r["stderr"].lower()
    assert c.get(f"/v1/vms/{vid}/stat/home/user/asked/b.txt").status_code == 404
    assert c.get(f"/v1/vms/{vid}/permissions?wait=0").json() == {"permissions": []}
    assert c.get(f"/v1/vms/{vid}/permissions?wait=x").status_code == 422


def test_in_process_ask_nobody_answers_is_denied_after_the_timeout(serve):
    # the question must still be pending when the test lists it: 5 s leaves a loaded machine
    # time to send that request
    srv = serve(ask_timeout=5)
    c = srv.client()
    vid = c.post("/v1/vms", json={"isolation": "in-process", "policy": ASK_POLICY}).json()["id"]
    c.post(f"/v1/vms/{vid}/mkdir/home/user/asked")
    t, box = _exec_in_thread(c, vid, "echo x > /home/user/asked/c.txt; echo status $?")
    pending = []
    while not pending:  # the question is listed while it waits ...
        pending = c.get(f"/v1/vms/{vid}/permissions?wait=60").json()["permissions"]
    assert pending[0]["resource"] == "/home/user/asked/c.txt"
    assert c.get("/v1/health").json()["ok"] is True  # ... and the server keeps serving
    t.join(120)
    r = box["r"].json()
    assert r["stdout"] == "status 1\n"
    assert r["stderr"].endswith("/home/user/asked/c.txt: Permission denied\n"), r["stderr"]
    assert c.get(f"/v1/vms/{vid}/permissions?wait=0").json() == {"permissions": []}
    assert c.get(f"/v1/vms/{vid}/stat/home/user/asked/c.txt").status_code == 404
    audit = c.get(f"/v1/vms/{vid}/audit?capability=fs.write").json()["events"]
    assert [e["decision"] for e in audit][-2:] == ["ask", "deny"]
    # an answer that comes too late is refused, and nothing else changes
    late = c.post(f"/v1/vms/{vid}/permissions/{pending[0]['id']}", json={"decision": "allow"})
    assert late.status_code == 404


def test_in_process_ask_waits_when_the_vm_is_deleted(server):
    # deleting the VM while a command waits for an answer denies the question and ends it
    c = server.client()
    vid = c.post("/v1/vms", json={"isolation": "in-process", "policy": ASK_POLICY}).json()["id"]
    c.post(f"/v1/vms/{vid}/mkdir/home/user/asked")
    t, box = _exec_in_thread(c, vid, "echo x > /home/user/asked/d.txt")
    pending = []
    while not pending:
        pending = c.get(f"/v1/vms/{vid}/permissions?wait=60").json()["permissions"]
    assert c.delete(f"/v1/vms/{vid}").status_code in (200, 204)
    t.join(120)
    assert not t.is_alive()
    assert box["r"].status_code in (200, 404)
    assert c.get("/v1/health").json()["ok"] is True


def test_a_long_poll_ends_when_its_client_goes_away(serve):
    # a client (a closed browser tab) that left a long poll open must not hold the server: the
    # handler ends when the connection does, so the server stops at once instead of after the
    # poll's ?wait= (up to 300 s)
    srv = serve()
    c = srv.client()
    vid = c.post("/v1/vms", json={"isolation": "in-process", "policy": ASK_POLICY}).json()["id"]
    tasks = srv.server.server_state.tasks
    with socket.create_connection(("127.0.0.1", srv.port)) as sock:
        sock.sendall(f"GET /v1/vms/{vid}/permissions?wait=300 HTTP/1.1\r\nhost: x\r\n\r\n".encode())
        while not tasks:  # the poll is being served (the per-test timeout bounds a failure)
            threading.Event().wait(0.01)
    srv.stop()
    assert not srv.thread.is_alive()
