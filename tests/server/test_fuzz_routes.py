"""Every route of the API, with malformed bodies, queries and paths: always a JSON answer,
never a 500, and the server keeps serving."""

from __future__ import annotations

import re

from starlette.routing import Route

from tests.server import harness  # noqa: F401  (skips without the server extra)

BODIES = [
    b"",
    b"{}",
    b"[]",
    b'"text"',
    b"null",
    b"{not json",
    b'{"script": 1, "argv": "x", "decision": 7, "content": null, "path": {}}',
    b'{"script": "echo ok", "timeout": -5, "limits": {"timeout": "soon"}}',
    b'{"isolation": "in-process", "policy": {"fs": {"rules": []}}}',
    b'{"agent": ["/bin/sh"], "mode": 3}',
    b"\xff\xfe\x00garbage",
]
QUERIES = ["", "?after=-1", "?after=x", "?wait=1e9", "?limit=-3&since=abc", "?parents=maybe"]
PATHS = ["home/user/x", "..%2F..%2Fetc%2Fpasswd", "a%00b", "%ff%fe", "tmp/" + "d" * 300]


def test_every_route_answers_json_to_bad_input(server):
    c = server.client()
    vid = c.post("/v1/vms", json={"isolation": "in-process"}).json()["id"]
    tried = 0
    routes = [r for r in server.app.routes if isinstance(r, Route) and r.path.startswith("/v1/")]
    for route, method in sorted(
        ((r, m) for r in routes for m in (r.methods or set()) - {"HEAD"}),
        # deleting the VM last, so every other route meets a live VM
        key=lambda rm: (rm[0].path == "/v1/vms/{vm_id}" and rm[1] == "DELETE", rm[0].path, rm[1]),
    ):
        if True:
            for sub in PATHS if "{path:path}" in route.path else [None]:
                path = route.path.replace("{vm_id}", vid)
                if sub is not None:
                    path = path.replace("{path:path}", sub)
                path = re.sub(r"{[a-z_]+}", "zz-9", path)
                for body in BODIES:
                    for q in QUERIES[:2] if body else QUERIES:
                        r = c.request(
                            method,
                            path + q,
                            content=body,
                            headers={"content-type": "application/json"},
                        )
                        tried += 1
                        assert r.status_code < 500, (method, path + q, body, r.text)
                        if r.status_code >= 400:
                            err = r.json()["error"]
                            assert err["code"] and err["message"], (method, path, body)
    assert tried > 500
    assert c.get("/v1/health").json()["ok"] is True
    vid = c.post("/v1/vms", json={}).json()["id"]
    r = c.post(f"/v1/vms/{vid}/exec", json={"script": "echo alive"})
    assert r.json().get("stdout") == "alive\n", r.text
