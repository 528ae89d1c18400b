"""Files over HTTP: read, write, list, stat, mkdir, delete, tar both ways, and the policy."""

from __future__ import annotations

import io
import tarfile

import pytest

from tests.server import harness  # noqa: F401  (skips without the server extra)


@pytest.fixture(params=["in-process", "process"])
def vm(request, server):
    c = server.client()
    vid = c.post("/v1/vms", json={"isolation": request.param}).json()["id"]
    return c, f"/v1/vms/{vid}"


def test_write_read_stat_list_delete(vm):
    c, base = vm
    data = bytes(range(256))
    r = c.put(f"{base}/files/home/user/dir/blob.bin?parents=1&mode=600", content=data)
    assert r.status_code == 201 and r.json() == {"path": "/home/user/dir/blob.bin", "size": 256}
    assert c.get(f"{base}/files/home/user/dir/blob.bin").content == data
    st = c.get(f"{base}/stat/home/user/dir/blob.bin").json()
    assert (st["type"], st["size"], st["mode"]) == ("file", 256, "0o600")
    assert c.post(f"{base}/mkdir/home/user/dir/sub").status_code == 201
    listing = c.get(f"{base}/list/home/user/dir").json()
    assert [(e["name"], e["type"]) for e in listing["entries"]] == [
        ("blob.bin", "file"),
        ("sub", "directory"),
    ]
    r = c.delete(f"{base}/files/home/user/dir")
    assert r.status_code == 409 and r.json()["error"]["code"] in ("ENOTEMPTY", "EISDIR")
    assert c.delete(f"{base}/files/home/user/dir?recursive=1").json()["deleted"] is True
    assert c.get(f"{base}/stat/home/user/dir").json()["error"]["code"] == "ENOENT"
    # the shell in the VM sees what the API wrote, and the other way round
    c.put(f"{base}/files/tmp/a.txt", content=b"from api\n")
    r = c.post(f"{base}/exec", json={"script": "cat /tmp/a.txt; echo from vm > /tmp/b.txt"})
    assert r.json()["stdout"] == "from api\n"
    assert c.get(f"{base}/files/tmp/b.txt").content == b"from vm\n"


def test_errors_are_errno_codes(vm):
    c, base = vm
    r = c.get(f"{base}/files/no/such/file")
    assert (r.status_code, r.json()["error"]["code"]) == (404, "ENOENT")
    r = c.put(f"{base}/files/no/such/file", content=b"x")
    assert (r.status_code, r.json()["error"]["code"]) == (404, "ENOENT")
    r = c.post(f"{base}/mkdir/tmp")
    assert (r.status_code, r.json()["error"]["code"]) == (409, "EEXIST")
    r = c.put(f"{base}/files/tmp/x?mode=rwx", content=b"x")
    assert r.json()["error"]["code"] == "invalid_request"


def test_tar_round_trip(vm):
    c, base = vm
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, body in [("a.txt", b"alpha\n"), ("sub/b.txt", b"beta\n")]:
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tf.addfile(info, io.BytesIO(body))
    r = c.put(f"{base}/tar/home/user/project", content=buf.getvalue())
    assert r.status_code == 201, r.text
    r = c.post(f"{base}/exec", json={"script": "cd project && cat a.txt sub/b.txt"})
    assert r.json()["stdout"] == "alpha\nbeta\n"
    r = c.get(f"{base}/tar/home/user/project")
    assert r.headers["content-type"] == "application/x-tar"
    with tarfile.open(fileobj=io.BytesIO(r.content)) as tf:
        names = sorted(n.lstrip("./") for n in tf.getnames() if n.lstrip("./"))
        assert names == ["a.txt", "sub", "sub/b.txt"]
        member = tf.extractfile(next(m for m in tf.getmembers() if m.name.endswith("b.txt")))
        assert member is not None and member.read() == b"beta\n"
    r = c.put(f"{base}/tar/tmp/bad", content=b"this is not a tar archive" * 40)
    assert r.status_code == 422 and r.json()["error"]["code"] == "tar_failed"


def test_policy_applies_to_the_api(server):
    c = server.client()
    policy = {
        "fs": {
            "default": "allow",
            "rules": [{"mode": "deny", "operations": ["read", "write"], "paths": ["/secret/**"]}],
        }
    }
    vid = c.post("/v1/vms", json={"isolation": "in-process", "policy": policy}).json()["id"]
    r = c.put(f"/v1/vms/{vid}/files/secret/key", content=b"x")
    assert (r.status_code, r.json()["error"]["code"]) == (403, "EACCES")
    r = c.get(f"/v1/vms/{vid}/audit?decision=deny&capability=fs.*").json()
    assert r["events"] and all(e["decision"] == "deny" for e in r["events"])
    assert c.get(f"/v1/vms/{vid}/audit?limit=x").json()["error"]["code"] == "invalid_request"
