"""Durable VMs across a server restart; snapshots and workspaces over the API."""

from __future__ import annotations

import io
import tarfile

from tests.server.harness import ALICE, BOB, TOKENS


def test_durable_vms_come_back_after_a_restart(serve, tmp_path):
    store = tmp_path / "store"
    s1 = serve(store=str(store), tokens=list(TOKENS), rate_limit=0)
    c = s1.client(ALICE)
    vm = c.post("/v1/vms", json={"durable": True, "name": "notes"}).json()
    assert (vm["durable"], vm["isolation"]) == (True, "in-process")
    plain = c.post("/v1/vms", json={}).json()
    r = c.post(
        f"/v1/vms/{vm['id']}/exec",
        json={"script": "mkdir -p /home/user/notes && echo kept > /home/user/notes/a.txt"},
    )
    assert r.json()["exit_code"] == 0
    s1.stop()

    s2 = serve(store=str(store), tokens=list(TOKENS), rate_limit=0)
    c2 = s2.client(ALICE)
    listed = c2.get("/v1/vms").json()["vms"]
    assert [v["id"] for v in listed] == [vm["id"]]  # the plain VM did not survive
    assert plain["id"] not in {v["id"] for v in listed}
    r = c2.post(f"/v1/vms/{vm['id']}/exec", json={"script": "cat /home/user/notes/a.txt"})
    assert r.json()["stdout"] == "kept\n"
    # ownership survives too
    assert s2.client(BOB).get(f"/v1/vms/{vm['id']}").status_code == 404
    # an explicit save is a run of the workspace, with its diff
    c2.put(f"/v1/vms/{vm['id']}/files/home/user/notes/b.txt", content=b"second\n")
    saved = c2.post(f"/v1/vms/{vm['id']}/save").json()
    assert saved["saved"] is True and saved["workspace"] == "alice.notes"
    assert [w["name"] for w in c2.get("/v1/workspaces").json()["workspaces"]] == ["notes"]
    assert s2.client(BOB).get("/v1/workspaces").json()["workspaces"] == []
    runs = c2.get("/v1/workspaces/notes/log").json()["runs"]
    assert len(runs) >= 2
    diff = c2.get("/v1/workspaces/notes/diff").json()["changes"]
    assert [(d["status"], d["path"]) for d in diff] == [("added", "home/user/notes/b.txt")]
    assert c2.get("/v1/workspaces/none/log").json()["error"]["code"] == "workspace_not_found"
    # a deleted durable VM does not come back
    c2.delete(f"/v1/vms/{vm['id']}")
    s2.stop()
    s3 = serve(store=str(store), tokens=list(TOKENS), rate_limit=0)
    assert s3.client(ALICE).get("/v1/vms").json()["vms"] == []


def test_durable_needs_a_store_and_in_process(serve):
    s = serve(isolation="process")
    c = s.client()
    r = c.post("/v1/vms", json={"durable": True})
    assert (r.status_code, r.json()["error"]["code"]) == (422, "no_store")


def test_snapshot_take_download_upload_and_start_from(server):
    c = server.client()
    vid = c.post("/v1/vms", json={}).json()["id"]
    c.post(f"/v1/vms/{vid}/exec", json={"script": "mkdir -p /srv/app && echo v1 > /srv/app/v"})
    snap = c.post(f"/v1/vms/{vid}/snapshots", json={"path": "/srv"})
    assert snap.status_code == 201
    digest = snap.json()["digest"]
    assert c.get("/v1/snapshots").json()["snapshots"] == [digest]
    data = c.get(f"/v1/snapshots/{digest}").content
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        assert tf.getnames()[0] == "pocketos-snapshot.json"
    child = c.post("/v1/vms", json={"snapshot": digest}).json()["id"]
    r = c.post(f"/v1/vms/{child}/exec", json={"script": "cat /app/v || cat /srv/app/v"})
    assert r.json()["stdout"] == "v1\n"
    up = c.put("/v1/snapshots", content=data)
    assert up.status_code == 201 and up.json()["digest"] == digest
    r = c.put("/v1/snapshots", content=b"junk" * 100)
    assert (r.status_code, r.json()["error"]["code"]) == (422, "invalid_snapshot")
    r = c.post("/v1/vms", json={"snapshot": "ab" * 32})
    assert (r.status_code, r.json()["error"]["code"]) == (404, "snapshot_not_found")


def test_an_idle_durable_vm_is_saved_and_reopened_on_use(serve, tmp_path):
    s = serve(store=str(tmp_path / "store"), idle_timeout=3600)
    c = s.client()
    vid = c.post("/v1/vms", json={"durable": True, "name": "idle"}).json()["id"]
    c.put(f"/v1/vms/{vid}/files/home/user/kept.txt", content=b"still here\n")
    s.state.registry.vms[vid].last_used -= 7200
    s.call(s.state.registry.reap_idle())
    listed = c.get("/v1/vms").json()["vms"]
    assert [(v["id"], v["open"]) for v in listed] == [(vid, False)]
    assert c.get(f"/v1/vms/{vid}/files/home/user/kept.txt").content == b"still here\n"
    assert c.get("/v1/vms").json()["vms"][0]["open"] is True
