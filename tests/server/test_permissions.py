"""``ask`` rules met by a command in a process VM wait for an answer given over the API."""

from __future__ import annotations

import threading

from tests.server import harness  # noqa: F401  (skips without the server extra)

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


def test_process_vm_ask_allowed_over_the_api(server):
    c = server.client()
    vid = c.post("/v1/vms", json={"isolation": "process", "policy": ASK_POLICY}).json()["id"]
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


def test_process_vm_ask_denied_over_the_api(server):
    c = server.client()
    vid = c.post("/v1/vms", json={"isolation": "process", "policy": ASK_POLICY}).json()["id"]
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


def test_in_process_command_ask_is_refused_at_once(server):
    # a synchronous check in an in-process VM would hold the server's loop: refused, not hung
    c = server.client()
    vid = c.post("/v1/vms", json={"isolation": "in-process", "policy": ASK_POLICY}).json()["id"]
    c.post(f"/v1/vms/{vid}/mkdir/home/user/asked")
    r = c.post(f"/v1/vms/{vid}/exec", json={"script": "echo x > /home/user/asked/c.txt"})
    assert r.json()["exit_code"] == 1
    assert c.get("/v1/health").json()["ok"] is True
