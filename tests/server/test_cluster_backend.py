"""``pocketos serve --cluster``: the same HTTP API with the VMs on a (local) Ray cluster's VM
hosts instead of in the server process; durable VMs outlive the server in its store."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'pocketos[ray]')")

from tests.cluster.local_ray import start_local_ray, stop_local_ray  # noqa: E402
from tests.server.conftest import ALICE, TOKENS  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def local_ray() -> Iterator[None]:
    started = start_local_ray()
    yield
    if started:
        stop_local_ray()


def test_serve_with_a_cluster_backend(serve, tmp_path):
    store = tmp_path / "store"
    s1 = serve(store=str(store), tokens=list(TOKENS), rate_limit=0, cluster="local")
    c = s1.client(ALICE)
    vm = c.post("/v1/vms", json={"durable": True, "name": "notes"}).json()
    assert (vm["durable"], vm["isolation"]) == (True, "cluster")
    plain = c.post("/v1/vms", json={"env": {"WHO": "plain"}}).json()
    r = c.post(f"/v1/vms/{plain['id']}/exec", json={"script": "echo $WHO; exit 4"}).json()
    assert (r["stdout"], r["exit_code"]) == ("plain\n", 4)
    assert c.put(f"/v1/vms/{vm['id']}/files/home/user/a.txt", content=b"kept\n").status_code < 300
    r = c.post(f"/v1/vms/{vm['id']}/exec", json={"script": "cat /home/user/a.txt"}).json()
    assert r["stdout"] == "kept\n"
    assert c.get(f"/v1/vms/{vm['id']}/files/home/user/a.txt").content == b"kept\n"
    assert c.get(f"/v1/vms/{vm['id']}/files/home/user/none").status_code == 404
    # the VMs are on the cluster's hosts, not in the server process
    hosts = s1.state.registry.cluster.hosts()
    assert sum(h["vms"] for h in hosts) == 2
    assert all(h["pid"] != os.getpid() for h in hosts)
    # what needs the VM in the server process says so
    r = c.post(f"/v1/vms/{vm['id']}/sessions", json={})
    assert r.status_code == 501
    s1.stop()

    s2 = serve(store=str(store), tokens=list(TOKENS), rate_limit=0, cluster="local")
    c2 = s2.client(ALICE)
    assert [v["id"] for v in c2.get("/v1/vms").json()["vms"]] == [vm["id"]]
    r = c2.post(f"/v1/vms/{vm['id']}/exec", json={"script": "cat /home/user/a.txt"}).json()
    assert r["stdout"] == "kept\n"
    s2.stop()
