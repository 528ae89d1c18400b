"""The workspace store on a real S3 API (``moto_server`` on 127.0.0.1, through s3fs)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

pytest.importorskip("s3fs", reason="s3fs is not installed (dev extra)")
boto3 = pytest.importorskip("boto3", reason="boto3 is not installed (dev extra)")
pytest.importorskip("moto.server", reason="moto[server] is not installed (dev extra)")

from pocketos import VM  # noqa: E402
from pocketos.workspaces import (  # noqa: E402
    FsspecStorage,
    WorkspaceExistsError,
    WorkspaceLockedError,
    WorkspaceStore,
)
from tests.kernel.test_s3_mount import BUCKET, CREDENTIALS, s3_endpoint  # noqa: E402, F401
from tests.workspaces.tampering import tamper  # noqa: E402


def make_store(endpoint: str) -> WorkspaceStore:
    url = f"s3://{BUCKET}/ws-{uuid.uuid4().hex[:8]}"
    return WorkspaceStore(
        url,
        key=CREDENTIALS["aws_access_key_id"],
        secret=CREDENTIALS["aws_secret_access_key"],
        client_kwargs={"endpoint_url": endpoint, "region_name": "us-east-1"},
        use_listings_cache=False,
    )


def test_workspace_life_cycle_on_s3(s3_endpoint: str, tmp_path: Path) -> None:  # noqa: F811
    store = make_store(s3_endpoint)
    assert isinstance(store.storage, FsspecStorage)
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "a.txt").write_text("one\n")
    store.create_base("repo", host_dir=repo)
    store.create("task", base="repo")
    with VM() as vm:
        co = store.open("task", vm, "/w")
        assert vm.read_text("/w/a.txt") == "one\n"
        vm.exec("echo two >> /w/a.txt; echo b > /w/b.txt")
        assert co.commit("edit", author="s3-test") is not None
    assert [(r.n, r.author) for r in store.log("task")] == [(1, "s3-test")]
    assert [(c.status, c.path) for c in store.diff("task")] == [
        ("modified", "a.txt"),
        ("added", "b.txt"),
    ]
    store.fork("task", "copy")
    store.checkout("task", 0)
    with VM() as vm:
        store.open("task", vm, "/w")
        assert vm.exec("ls /w").stdout == "a.txt\n"
        store.open("copy", vm, "/c")
        assert vm.exec("cat /c/a.txt").stdout == "one\ntwo\n"
    store.delete("copy")
    assert store.gc(grace=0)["deleted"] == 0  # "task" still references every object
    with pytest.raises(WorkspaceExistsError):
        store.create("task")


def test_conditional_put_and_lock_on_s3(s3_endpoint: str) -> None:  # noqa: F811
    store = make_store(s3_endpoint)
    assert store.storage.create("probe", b"first") is True
    assert store.storage.create("probe", b"second") is False
    assert store.storage.read("probe") == b"first"
    store.create("w")
    with store.lock("w"), pytest.raises(WorkspaceLockedError, match="workspace 'w' is locked"):
        store.lock("w", timeout=0).acquire()
    with store.lock("w", timeout=0):
        pass


def test_dedupe_and_corruption_on_s3(s3_endpoint: str) -> None:  # noqa: F811
    store = make_store(s3_endpoint)
    payload = b"shared payload\n" * 1000
    written = []
    for name in ("a", "b"):
        store.create(name)
        with VM() as vm:
            co = store.open(name, vm, "/w")
            vm.write_file("/w/p", payload)
            run = co.commit("p")
            assert run is not None
            written.append(run.stats["bytes_written"])
    assert written[0] > len(payload) > 20 * written[1]
    digest = store.tree("a")["p"]["b"]
    tamper(store, digest, b"tampered")
    with VM() as vm:
        fresh = WorkspaceStore(store.storage)  # a fresh read cache
        fresh.open("a", vm, "/w")
        r = vm.exec("cat /w/p")
        assert r.exit_code == 1 and "corrupt" in r.stderr
