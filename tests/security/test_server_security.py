"""Attacks on ``pocketos serve``: one tenant reaching another's VMs, snapshots, workspaces or
sessions; host paths and agent endpoints chosen by a caller; tokens in the wrong place."""

from __future__ import annotations

import json
import re

import pytest

pytest.importorskip("uvicorn", reason="the server extra is not installed (uvicorn is missing)")
pytest.importorskip(
    "websockets", reason="the server extra is not installed (websockets is missing)"
)

from starlette.routing import Route, WebSocketRoute  # noqa: E402
from websockets.exceptions import InvalidStatus  # noqa: E402
from websockets.sync.client import connect  # noqa: E402

from tests.server.harness import (  # noqa: E402
    ALICE,
    BOB,
    TOKENS,
    servers,  # noqa: E402
)


@pytest.fixture
def serve():
    with servers() as start:
        yield start


@pytest.fixture
def two(serve, tmp_path):
    s = serve(tokens=list(TOKENS), rate_limit=0, store=str(tmp_path / "store"))
    alice, bob = s.client(ALICE), s.client(BOB)
    vm = alice.post("/v1/vms", json={"durable": True, "name": "private"}).json()
    alice.put(f"/v1/vms/{vm['id']}/files/home/user/secret.txt", content=b"alice's secret")
    return s, alice, bob, vm["id"]


def test_no_route_lets_one_token_reach_anothers_vm(two):
    s, alice, bob, vid = two
    checked = 0
    for route in s.app.routes:
        path = getattr(route, "path", "")
        if "{vm_id}" not in path:
            continue
        concrete = re.sub(r"{path:path}", "home/user/secret.txt", path.replace("{vm_id}", vid))
        concrete = re.sub(r"{[a-z_]+}", "x1", concrete)
        if isinstance(route, WebSocketRoute):
            url = s.ws_url + concrete
            with pytest.raises(InvalidStatus) as exc:
                connect(url, additional_headers={"Authorization": f"Bearer {BOB}"}).close()
            assert exc.value.response.status_code == 404, path
            checked += 1
            continue
        assert isinstance(route, Route)
        for method in sorted(route.methods or ()):
            if method == "HEAD":
                continue
            r = bob.request(
                method, concrete, content=b"{}", headers={"content-type": "application/json"}
            )
            assert r.status_code == 404, (method, path, r.text)
            assert r.json()["error"]["code"] == "vm_not_found", (method, path)
            checked += 1
    assert checked >= 20
    # and alice's VM is untouched by all that
    assert alice.get(f"/v1/vms/{vid}/files/home/user/secret.txt").content == b"alice's secret"


def test_snapshots_and_workspaces_are_per_token(two):
    s, alice, bob, vid = two
    digest = alice.post(f"/v1/vms/{vid}/snapshots", json={}).json()["digest"]
    assert bob.get(f"/v1/snapshots/{digest}").status_code == 404
    assert bob.get("/v1/snapshots").json() == {"snapshots": []}
    r = bob.post("/v1/vms", json={"snapshot": digest})
    assert r.json()["error"]["code"] == "snapshot_not_found"
    assert bob.get("/v1/workspaces/private/log").status_code == 404
    # bob's "private" workspace is his own, empty one
    mine = bob.post("/v1/vms", json={"workspace": "private"}).json()
    r = bob.post(f"/v1/vms/{mine['id']}/exec", json={"script": "cat /home/user/secret.txt"})
    assert r.json()["exit_code"] == 1
    for bad in ("../alice.private", "alice.private/..", ".hidden", "a" * 65):
        r = bob.post("/v1/vms", json={"workspace": bad})
        assert r.status_code == 422, bad


def test_digest_cannot_walk_the_store(two):
    s, alice, bob, vid = two
    for bad in ("..%2F..%2Fvms.json", "..%2Fbob%2F" + "ab" * 32, "ZZ" * 32):
        r = alice.get(f"/v1/snapshots/{bad}")
        assert r.status_code in (404, 422), bad
        assert set(r.json()) == {"error"}


def test_a_caller_cannot_mount_host_paths_or_choose_agent_endpoints(serve, tmp_path):
    s = serve(mounts={"data": {"host": str(tmp_path), "mode": "ro"}})
    c = s.client()
    for spec in ("/", "/etc", str(tmp_path), "../data", {"name": "data", "mode": "rw"}):
        r = c.post("/v1/vms", json={"mounts": {"/m": spec}})
        assert (r.status_code, r.json()["error"]["code"]) == (403, "mount_not_allowed"), spec
    vid = c.post("/v1/vms", json={}).json()["id"]
    for body in (
        {"agent": "pocketos", "agent_config": {"base_url": "http://169.254.169.254"}},
        {"agent": "pocketos", "env": {"POCKETOS_BASE_URL": "http://x"}},
        {"agent": "/bin/sh"},
    ):
        r = c.post(f"/v1/vms/{vid}/sessions", json=body)
        assert r.status_code in (403, 422), body


def test_http_does_not_take_a_token_in_the_url(two):
    s, alice, bob, vid = two
    anon = s.client()
    r = anon.get(f"/v1/vms?token={ALICE}")
    assert r.status_code == 401


def test_websocket_message_size_is_bounded(serve):
    s = serve(max_request_bytes=1 << 16)
    vid = s.client().post("/v1/vms", json={}).json()["id"]
    # the test server allows 16 MiB frames; a bigger one is refused without hurting the server
    with connect(f"{s.ws_url}/v1/vms/{vid}/exec/ws", max_size=None) as ws:
        try:
            ws.send(json.dumps({"script": "true", "stdin": "x" * (17 << 20)}))
            ws.recv(timeout=60)
        except Exception:
            pass
    assert s.client().get("/v1/health").json()["ok"] is True
