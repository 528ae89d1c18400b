"""VM lifetime, exec, errors, auth and limits against a real uvicorn."""

from __future__ import annotations

import pytest

from pocketos.server import ConfigError, ServerConfig, Token, check_bind
from tests.server.harness import ALICE, BOB, ROOT


def _error(r, status: int, code: str) -> str:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    return body["error"]["message"]


def test_create_list_get_delete(server):
    c = server.client()
    r = c.post("/v1/vms", json={"env": {"GREETING": "hello"}})
    assert r.status_code == 201
    vm = r.json()
    assert vm["isolation"] == "in-process" and vm["owner"] == "local"
    assert c.get("/v1/vms").json()["vms"][0]["id"] == vm["id"]
    got = c.get(f"/v1/vms/{vm['id']}").json()
    assert got["mounts"] == [{"path": "/", "kind": "overlay", "readonly": False}]
    r = c.post(f"/v1/vms/{vm['id']}/exec", json={"script": "echo $GREETING"})
    assert r.json()["stdout"] == "hello\n"
    assert c.delete(f"/v1/vms/{vm['id']}").json() == {"id": vm["id"], "deleted": True}
    _error(c.get(f"/v1/vms/{vm['id']}"), 404, "vm_not_found")
    assert c.get("/v1/vms").json() == {"vms": []}


def test_exec_result_and_argv(server):
    c = server.client()
    vid = c.post("/v1/vms", json={}).json()["id"]
    r = c.post(f"/v1/vms/{vid}/exec", json={"script": "echo out; echo err >&2; exit 3"})
    body = r.json()
    assert (body["exit_code"], body["stdout"], body["stderr"]) == (3, "out\n", "err\n")
    assert body["limit_hit"] is None
    r = c.post(f"/v1/vms/{vid}/exec", json={"argv": ["printf", "%s|", "a b", "c"]})
    assert r.json()["stdout"] == "a b|c|"
    r = c.post(f"/v1/vms/{vid}/exec", json={"script": "tr a-z A-Z", "stdin": "shout\n"})
    assert r.json()["stdout"] == "SHOUT\n"
    r = c.post(
        f"/v1/vms/{vid}/exec",
        json={"script": "printf '\\377\\000x'", "encoding": "base64"},
    )
    assert r.json()["stdout_base64"] == "/wB4"
    r = c.post(f"/v1/vms/{vid}/exec", json={"script": "while :; do :; done", "timeout": 0.3})
    assert (r.json()["exit_code"], r.json()["limit_hit"]) == (124, "timeout")


def test_process_isolation_is_the_default(serve):
    s = serve(isolation="process")
    c = s.client()
    vm = c.post("/v1/vms", json={}).json()
    assert vm["isolation"] == "process"
    r = c.post(f"/v1/vms/{vm['id']}/exec", json={"script": "echo $((6*7)) > /tmp/x; cat /tmp/x"})
    assert r.json()["stdout"] == "42\n"
    in_proc = c.post("/v1/vms", json={"isolation": "in-process"}).json()
    assert in_proc["isolation"] == "in-process"


def test_json_errors_everywhere(server):
    c = server.client()
    msg = _error(c.get("/v1/nothing-here"), 404, "not_found")
    assert "/v1/nothing-here" in msg
    msg = _error(c.delete("/v1/health"), 405, "method_not_allowed")
    assert "GET" in msg
    _error(c.post("/v1/vms", json={"colour": "red"}), 422, "invalid_request")
    _error(c.post("/v1/vms", json={"isolation": "vmware"}), 422, "invalid_request")
    _error(c.post("/v1/vms", content=b"{not json"), 422, "invalid_json")
    r = c.post("/v1/vms", content=b"a=1", headers={"content-type": "text/plain"})
    _error(r, 415, "unsupported_media_type")
    vid = c.post("/v1/vms", json={}).json()["id"]
    _error(c.post(f"/v1/vms/{vid}/exec", json={}), 422, "invalid_request")
    _error(
        c.post(f"/v1/vms/{vid}/exec", json={"script": "x", "argv": ["y"]}), 422, "invalid_request"
    )
    _error(c.post(f"/v1/vms/{vid}/exec", json={"script": "true", "cwd": "/nope"}), 404, "ENOENT")
    _error(
        c.post(f"/v1/vms/{vid}/exec", json={"script": "true", "timeout": -1}),
        422,
        "invalid_request",
    )
    _error(c.post("/v1/vms", json={"mounts": {"/data": "secrets"}}), 403, "mount_not_allowed")


def test_mounts_only_from_the_config(serve, tmp_path):
    (tmp_path / "data.txt").write_text("host data\n")
    s = serve(mounts={"shared": {"host": str(tmp_path), "mode": "ro"}})
    c = s.client()
    vm = c.post("/v1/vms", json={"mounts": {"/mnt/shared": "shared"}}).json()
    r = c.post(f"/v1/vms/{vm['id']}/exec", json={"script": "cat /mnt/shared/data.txt"})
    assert r.json()["stdout"] == "host data\n"
    r = c.post(f"/v1/vms/{vm['id']}/exec", json={"script": "echo x > /mnt/shared/new"})
    assert r.json()["exit_code"] != 0
    assert not (tmp_path / "new").exists()
    # a request cannot widen the mode the config gives
    r = c.post("/v1/vms", json={"mounts": {"/m": {"name": "shared", "mode": "rw"}}})
    _error(r, 403, "mount_not_allowed")
    # nor name a host path itself
    r = c.post("/v1/vms", json={"mounts": {"/m": str(tmp_path)}})
    _error(r, 403, "mount_not_allowed")


def test_tokens_are_needed_and_checked(authed):
    anon = authed.client()
    _error(anon.get("/v1/vms"), 401, "unauthorized")
    assert anon.get("/v1/vms").headers["www-authenticate"].startswith("Bearer")
    _error(authed.client("wrong-token-000").get("/v1/vms"), 401, "invalid_token")
    r = anon.get("/v1/vms", headers={"authorization": f"Basic {ALICE}"})
    _error(r, 401, "unauthorized")
    assert anon.get("/v1/health").json()["auth"] is True
    assert anon.get("/openapi.json").status_code == 200


def test_each_token_sees_only_its_vms_and_admin_sees_all(authed):
    alice, bob, root = authed.client(ALICE), authed.client(BOB), authed.client(ROOT)
    a = alice.post("/v1/vms", json={}).json()
    b = bob.post("/v1/vms", json={}).json()
    assert (a["owner"], b["owner"]) == ("alice", "bob")
    assert [v["id"] for v in alice.get("/v1/vms").json()["vms"]] == [a["id"]]
    assert [v["id"] for v in bob.get("/v1/vms").json()["vms"]] == [b["id"]]
    for method, path in [
        ("GET", f"/v1/vms/{a['id']}"),
        ("POST", f"/v1/vms/{a['id']}/exec"),
        ("GET", f"/v1/vms/{a['id']}/files/etc/hostname"),
        ("DELETE", f"/v1/vms/{a['id']}"),
    ]:
        r = bob.request(method, path, json={"script": "true"} if method == "POST" else None)
        _error(r, 404, "vm_not_found")
    assert alice.get(f"/v1/vms/{a['id']}").status_code == 200
    assert {v["id"] for v in root.get("/v1/vms").json()["vms"]} == {a["id"], b["id"]}
    r = root.post(f"/v1/vms/{b['id']}/exec", json={"script": "echo admin"})
    assert r.json()["stdout"] == "admin\n"


def test_rate_limit_answers_429_with_retry_after(serve):
    s = serve(tokens=[Token("a", ALICE)], rate_limit=0.001)
    c = s.client(ALICE)
    assert c.get("/v1/vms").status_code == 200  # the burst is one request at this rate
    r = c.get("/v1/vms")
    _error(r, 429, "rate_limited")
    assert int(r.headers["retry-after"]) >= 1
    # the limit is per token: another caller is not held back by this one
    assert s.client().get("/v1/health").status_code == 200


def test_request_body_limit(serve):
    s = serve(max_request_bytes=1024)
    c = s.client()
    vid = c.post("/v1/vms", json={}).json()["id"]
    r = c.put(f"/v1/vms/{vid}/files/tmp/big", content=b"x" * 4096)
    _error(r, 413, "request_too_large")

    def chunks():
        for _ in range(8):
            yield b"y" * 512

    # a body that does not say its size is counted as it comes
    r = c.put(f"/v1/vms/{vid}/files/tmp/big", content=chunks())
    _error(r, 413, "request_too_large")
    r = c.post(f"/v1/vms/{vid}/exec", json={"script": "ls /tmp"})
    assert r.json()["stdout"] == ""
    assert c.put(f"/v1/vms/{vid}/files/tmp/small", content=b"z" * 100).status_code == 201


def test_vm_quota_per_token(serve):
    s = serve(max_vms_per_token=2)
    c = s.client()
    for _ in range(2):
        assert c.post("/v1/vms", json={}).status_code == 201
    _error(c.post("/v1/vms", json={}), 403, "too_many_vms")


def test_no_tokens_means_loopback_only():
    assert "without authentication" in (check_bind(ServerConfig(host="127.0.0.1")) or "")
    with pytest.raises(ConfigError, match="loopback"):
        check_bind(ServerConfig(host="0.0.0.0"))
    assert check_bind(ServerConfig(host="0.0.0.0", tokens=[Token("a", ALICE)])) is None


def test_config_file_and_env_tokens(tmp_path):
    cfg = tmp_path / "server.toml"
    cfg.write_text(
        'port = 9000\nisolation = "in-process"\n'
        '[[tokens]]\nname = "ci"\ntoken = "ci-token-xyz"\n'
        '[mounts]\ndata = { host = "/srv", mode = "rw" }\n'
    )
    env = {"POCKETOS_SERVER_TOKENS": "dev:dev-token-1,admin@ops:ops-token-2"}
    c = ServerConfig.load(cfg, env=env, port=None, host="::1")
    assert (c.port, c.host, c.isolation) == (9000, "::1", "in-process")
    assert [(t.name, t.admin) for t in c.tokens] == [("ci", False), ("dev", False), ("ops", True)]
    assert c.find_token("ops-token-2").name == "ops"
    assert c.find_token("ops-token-3") is None
    assert c.mounts["data"] == {"host": "/srv", "mode": "rw"}
    cfg.write_text("colour = 1\n")
    with pytest.raises(ConfigError, match="unknown config key"):
        ServerConfig.load(cfg, env={})
    with pytest.raises(ConfigError, match="too short"):
        ServerConfig.load(None, env={"POCKETOS_SERVER_TOKENS": "x:abc"})


def test_idle_vms_are_closed(serve):
    s = serve(idle_timeout=3600)
    c = s.client()
    vid = c.post("/v1/vms", json={}).json()["id"]
    busy = c.post("/v1/vms", json={}).json()["id"]
    assert s.call(s.state.registry.reap_idle()) == 0  # nothing idle for an hour yet
    # an hour passes for the first VM only; the reaper's pass runs now instead of on its period
    s.state.registry.vms[vid].last_used -= 7200
    s.call(s.state.registry.reap_idle())
    _error(c.get(f"/v1/vms/{vid}"), 404, "vm_not_found")
    assert c.get(f"/v1/vms/{busy}").status_code == 200


def test_the_config_example_in_the_docs_loads(tmp_path):
    from pathlib import Path

    doc = (Path(__file__).parents[2] / "docs" / "server.md").read_text()
    block = doc[doc.index("# server.toml\n") :]
    block = block[: block.index("```")]
    (tmp_path / "server.toml").write_text(block)
    c = ServerConfig.load(tmp_path / "server.toml", env={})
    assert [t.name for t in c.tokens] == ["alice", "ops"] and c.tokens[1].admin
    assert c.agents == ["pocketos"] and c.agent_config["provider"] == "openai"
    assert c.mounts["datasets"]["mode"] == "ro"


def test_openapi_lists_every_route(server):
    from starlette.routing import Route, WebSocketRoute

    doc = server.client().get("/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    paths = doc["paths"]
    for r in server.app.routes:
        if not getattr(r, "path", "").startswith("/v1/"):
            continue
        path = r.path.replace("{path:path}", "{path}")
        assert path in paths, path
        if isinstance(r, WebSocketRoute):
            assert paths[path]["get"]["x-websocket"] is True
        elif isinstance(r, Route):
            for m in (r.methods or set()) - {"HEAD"}:
                assert m.lower() in paths[path], (m, path)
    create = paths["/v1/vms"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert create == {"$ref": "#/components/schemas/CreateVM"}
    assert "isolation" in doc["components"]["schemas"]["CreateVM"]["properties"]
