"""The workspace store on a local directory: bases, open, commit, log, diff, checkout, fork,
delete, garbage collection, dedupe, corruption."""

from __future__ import annotations

import errno
import hashlib
import os
from pathlib import Path

import pytest

from pocketos import VM
from pocketos.workspaces import (
    CorruptObjectError,
    WorkspaceError,
    WorkspaceExistsError,
    WorkspaceNotFoundError,
    WorkspaceStore,
)
from tests.workspaces.tampering import tamper


@pytest.fixture
def store(tmp_path: Path) -> WorkspaceStore:
    return WorkspaceStore(tmp_path / "store")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    r = tmp_path / "repo"
    (r / "src").mkdir(parents=True)
    (r / "src" / "main.py").write_text("print('hi')\n")
    (r / "README").write_text("read me\n")
    (r / "data.bin").write_bytes(bytes(range(256)))
    os.symlink("src/main.py", r / "link")
    return r


def files_of(vm: VM, path: str) -> str:
    return vm.exec(f"cd {path} && find . | sort && cat README").stdout


def test_base_from_host_dir_opens_in_a_vm(store: WorkspaceStore, repo: Path) -> None:
    store.create_base("repo", host_dir=repo)
    store.create("t1", base="repo")
    with VM() as vm:
        co = store.open("t1", vm, "/work")
        assert co.runs == 0
        r = vm.exec("cd /work && find . | sort && cat src/main.py && readlink link")
        assert r.stdout == (
            ".\n./README\n./data.bin\n./link\n./src\n./src/main.py\nprint('hi')\nsrc/main.py\n"
        )
        assert vm.read_file("/work/data.bin") == bytes(range(256))


def test_commit_log_diff_and_reopen(store: WorkspaceStore, repo: Path) -> None:
    store.create_base("repo", host_dir=repo)
    store.create("t1", base="repo")
    with VM() as vm:
        co = store.open("t1", vm, "/work")
        vm.exec("cd /work && echo 'print(2)' >> src/main.py && rm README && echo new > NEW")
        assert [(c.status, c.path) for c in co.changes()] == [
            ("added", "NEW"),
            ("deleted", "README"),
            ("modified", "src/main.py"),
        ]
        run = co.commit("edit three files", author="agent-7")
        assert run is not None and run.n == 1
        assert run.stats["added"] == 1 and run.stats["deleted"] == 1
        assert run.stats["modified"] >= 1
        assert co.commit("nothing") is None  # nothing changed since
        vm.exec("echo again > /work/NEW")
        run2 = co.commit("second")
        assert run2 is not None and run2.n == 2
    log = store.log("t1")
    assert [(r.n, r.author, r.message) for r in log] == [
        (1, "agent-7", "edit three files"),
        (2, "", "second"),
    ]
    changes = store.diff("t1", 0, 1)
    by_path = {c.path: c for c in changes}
    assert sorted(by_path) == ["NEW", "README", "src/main.py"]
    assert by_path["src/main.py"].patch == (
        "--- a/src/main.py\n+++ b/src/main.py\n@@ -1 +1,2 @@\n print('hi')\n+print(2)\n"
    )
    assert by_path["README"].patch == "--- a/README\n+++ /dev/null\n@@ -1 +0,0 @@\n-read me\n"
    # default: the last run against the one before
    assert [(c.status, c.path) for c in store.diff("t1")] == [("modified", "NEW")]
    with VM() as vm2:
        store.open("t1", vm2, "/w")
        assert vm2.exec("cat /w/NEW /w/src/main.py; test -e /w/README; echo $?").stdout == (
            "again\nprint('hi')\nprint(2)\n1\n"
        )
    with VM() as vm3:
        store.open("t1", vm3, "/w", run=1)
        assert vm3.read_text("/w/NEW") == "new\n"


def test_binary_diff_is_noted(store: WorkspaceStore) -> None:
    store.create("b")
    with VM() as vm:
        co = store.open("b", vm, "/w")
        vm.write_file("/w/blob", b"\x00\x01\x02")
        co.commit("one")
        vm.write_file("/w/blob", b"\x00\x01\x03")
        co.commit("two")
    (change,) = store.diff("b")
    assert (change.status, change.binary, change.patch) == (
        "modified",
        True,
        "Binary files a/blob and b/blob differ\n",
    )


def test_checkout_rolls_back_without_losing_history(store: WorkspaceStore) -> None:
    store.create("w")
    with VM() as vm:
        co = store.open("w", vm, "/w")
        for i in range(3):
            vm.write_file(f"/w/f{i}", f"v{i}\n")
            co.commit(f"run {i + 1}")
    run = store.checkout("w", 1)
    assert run.n == 4 and run.message == "checkout run 1"
    assert sorted(p for p in store.tree("w") if p) == ["f0"]
    assert len(store.log("w")) == 4
    assert sorted(p for p in store.tree("w", 3) if p) == ["f0", "f1", "f2"]
    with pytest.raises(WorkspaceNotFoundError, match="has no run 9"):
        store.checkout("w", 9)


def test_fork_shares_history_and_diverges(store: WorkspaceStore) -> None:
    store.create("w")
    with VM() as vm:
        co = store.open("w", vm, "/w")
        vm.write_file("/w/a", "a\n")
        co.commit("a")
        vm.write_file("/w/b", "b\n")
        co.commit("b")
    store.fork("w", "w2", run=1)
    assert [r.message for r in store.log("w2")] == ["a"]
    with VM() as vm:
        co = store.open("w2", vm, "/w")
        vm.write_file("/w/c", "c\n")
        co.commit("c")
    assert sorted(p for p in store.tree("w2") if p) == ["a", "c"]
    assert sorted(p for p in store.tree("w") if p) == ["a", "b"]
    with pytest.raises(WorkspaceExistsError):
        store.fork("w", "w2")
    assert [w["name"] for w in store.list()] == ["w", "w2"]


def test_delete_and_gc_with_retention(store: WorkspaceStore) -> None:
    store.create("keep")
    store.create("gone")
    for name, content in (("keep", b"shared\n"), ("gone", b"only in gone\n")):
        with VM() as vm:
            co = store.open(name, vm, "/w")
            vm.write_file("/w/shared", b"shared\n")
            vm.write_file("/w/own", content)
            co.commit("x")
    store.delete("gone")
    with pytest.raises(WorkspaceNotFoundError):
        store.head("gone")
    # young objects survive (a writer may be about to reference them)
    assert store.gc(grace=3600)["deleted"] == 0
    res = store.gc(grace=0)
    assert res["deleted"] >= 3  # its content blob, delta tree and run
    with VM() as vm:
        store.open("keep", vm, "/w")
        assert vm.exec("cat /w/shared /w/own").stdout == "shared\nshared\n"


def test_gc_keep_runs_prunes_old_history(store: WorkspaceStore) -> None:
    store.create("w")
    with VM() as vm:
        co = store.open("w", vm, "/w")
        for i in range(5):
            vm.write_file("/w/f", f"version {i}\n" * 100)
            co.commit(f"run {i}")
    before = store.tree("w")
    store.gc(grace=0, keep_runs=2)
    assert [r.message for r in store.log("w")] == ["run 3", "run 4"]
    assert store.tree("w") == before
    assert store.head("w")["pruned"] == 3
    # the blobs of versions 0..2 are gone (their pack files rewritten without them) and
    # nothing dead is left; the store still opens
    fresh = WorkspaceStore(store.url)
    for i in range(5):
        digest = hashlib.sha256(f"version {i}\n".encode() * 100).hexdigest()
        assert fresh.objects.has(digest) is (i >= 3)
    assert store.gc(grace=0)["deleted"] == 0
    with VM() as vm:
        fresh.open("w", vm, "/w")
        assert vm.read_text("/w/f") == "version 4\n" * 100


def test_commit_cost_is_proportional_to_the_change(store: WorkspaceStore) -> None:
    with VM() as vm:
        vm.exec("mkdir -p /seed/d{0,1,2,3,4,5,6,7,8,9}")
        for i in range(200):
            vm.write_file(f"/seed/d{i % 10}/f{i}", f"{i}\n" * 500)
        store.create_base("big", vm=vm, path="/seed")
    store.create("w", base="big")
    with VM() as vm:
        co = store.open("w", vm, "/w")
        vm.exec("echo changed > /w/d3/f3")
        run = co.commit("one file")
    assert run is not None
    # one new blob, the manifest chunk holding the file and the manifest's root (a line per
    # chunk), a delta and a run record: a small fraction of the 200-file tree's 200 KB
    assert run.stats["bytes_written"] < 5000
    assert run.stats["modified"] == 1 and run.stats["files"] == 200


def test_blobs_are_shared_across_workspaces(store: WorkspaceStore) -> None:
    payload = os.urandom(64 * 1024)
    written = []
    for name in ("a", "b", "c"):
        store.create(name)
        with VM() as vm:
            co = store.open(name, vm, "/w")
            vm.write_file("/w/same.bin", payload)
            run = co.commit("same content")
            assert run is not None
            written.append(run.stats["bytes_written"])
    assert written[0] > len(payload)
    assert written[1] < 1024 and written[2] < 1024  # only metadata: the blob is stored once
    stored = store.storage.keys("objects") + store.storage.keys("packs")
    sizes = [store.storage.size(k) for k in stored]
    assert sum(sizes) < 2 * len(payload)


def test_concurrent_checkouts_merge_disjoint_changes(store: WorkspaceStore) -> None:
    store.create("w")
    with VM() as v1, VM() as v2:
        c1 = store.open("w", v1, "/w")
        c2 = store.open("w", v2, "/w")
        v1.write_file("/w/one", "1\n")
        v2.write_file("/w/two", "2\n")
        c1.commit("one")
        c2.commit("two")  # applied on top of "one": nothing lost
        assert sorted(p for p in store.tree("w") if p) == ["one", "two"]
        assert v2.exec("ls /w").stdout == "one\ntwo\n"
        v1.write_file("/w/one", "1b\n")
        v2.write_file("/w/one", "1c\n")
        c1.commit("edit")
        with pytest.raises(WorkspaceError, match="changed since it was opened.*one"):
            c2.commit("clash")
    assert [r.message for r in store.log("w")] == ["one", "two", "edit"]


def test_tampered_blob_is_detected(store: WorkspaceStore) -> None:
    store.create("w")
    with VM() as vm:
        co = store.open("w", vm, "/w")
        vm.write_file("/w/secret", b"the real content\n")
        co.commit("x")
    digest = store.tree("w")["secret"]["b"]
    tamper(store, digest, b"the fake content\n")
    fresh = WorkspaceStore(store.url)
    with VM() as vm:
        fresh.open("w", vm, "/w")
        r = vm.exec("cat /w/secret")
        assert r.exit_code == 1 and r.stdout == ""
        assert "Input/output error" in r.stderr and digest in r.stderr
        with pytest.raises(OSError) as ei:
            vm.read_file("/w/secret")
        assert ei.value.errno == errno.EIO
    with pytest.raises(CorruptObjectError, match="corrupt"):
        fresh.objects.get(digest)


def test_tampered_tree_is_detected(store: WorkspaceStore) -> None:
    store.create("w")
    with VM() as vm:
        co = store.open("w", vm, "/w")
        vm.write_file("/w/f", "x")
        co.commit("x")
    run = store.run_doc(store.head("w")["runs"][0])
    pack = store.objects.get_doc(run["manifest"])["chunks"][0][3]
    for oid in (pack, run["manifest"]):  # the chunks of the run's tree, then its root
        tamper(store, oid, b"garbage")
        with pytest.raises(CorruptObjectError, match=oid):
            WorkspaceStore(store.url).tree("w")


def test_every_run_has_its_whole_tree(store: WorkspaceStore) -> None:
    """No replay: each run names the manifest of its whole tree (sharing unchanged chunks
    with the run before), so opening any run reads one root document."""
    store.create("w")
    with VM() as vm:
        co = store.open("w", vm, "/w")
        for i in range(18):
            vm.write_file(f"/w/f{i}", str(i))
            co.commit(str(i))
    runs = [store.run_doc(r) for r in store.head("w")["runs"]]
    assert all(r["manifest"] and "checkpoint" not in r for r in runs)
    assert len([p for p in store.tree("w") if p]) == 18
    assert sorted(store.manifest("w", 5).children("")) == sorted(f"f{i}" for i in range(5))


def test_rename_and_opaque_dirs_round_trip(store: WorkspaceStore) -> None:
    store.create("w")
    with VM() as vm:
        co = store.open("w", vm, "/w")
        vm.exec("mkdir -p /w/d/sub && echo 1 > /w/d/sub/x && echo 2 > /w/d/y")
        co.commit("tree")
        vm.exec("rm -r /w/d && mkdir /w/d && echo 3 > /w/d/z && mv /w/d /w/e")
        co.commit("replace")
    with VM() as vm:
        store.open("w", vm, "/w")
        assert vm.exec("cd /w && find . | sort").stdout == ".\n./e\n./e/z\n"


def test_snapshot_base(store: WorkspaceStore) -> None:
    with VM() as vm:
        vm.exec("mkdir -p /srv/app && echo app > /srv/app/main && ln /srv/app/main /srv/app/hl")
        snap = vm.snapshot("/srv/app")
    store.create_base("snap", snapshot=snap.to_bytes())
    store.create("w", base="snap")
    with VM() as vm:
        store.open("w", vm, "/w")
        assert vm.exec("cat /w/main /w/hl; stat -c %h /w/main").stdout == "app\napp\n2\n"


def test_bad_names_and_duplicates(store: WorkspaceStore, repo: Path) -> None:
    for bad in ("", "../x", "a/b", ".hidden", "x" * 200):
        with pytest.raises(ValueError, match="invalid workspace name"):
            store.create(bad)
    store.create("w")
    with pytest.raises(WorkspaceExistsError, match="already exists"):
        store.create("w")
    with pytest.raises(WorkspaceNotFoundError, match="no base 'nope'"):
        store.create("x", base="nope")
    with pytest.raises(ValueError, match="exactly one"):
        store.create_base("b")
    store.create_base("b", host_dir=repo)
    store.create("uses-b", base="b")
    with pytest.raises(WorkspaceError, match="used by workspaces: uses-b"):
        store.delete_base("b")


def test_store_format_is_checked(tmp_path: Path) -> None:
    (tmp_path / "format.json").write_text('{"format": "pocketos-workspaces", "version": 99}')
    with pytest.raises(WorkspaceError, match="unsupported workspace store version 99"):
        WorkspaceStore(tmp_path)
    (tmp_path / "format.json").write_text('{"format": "other"}')
    with pytest.raises(WorkspaceError, match="not a pocketos workspace store"):
        WorkspaceStore(tmp_path)


def test_forked_vm_commits_both_layers(store: WorkspaceStore) -> None:
    store.create("w")
    with VM() as vm:
        co = store.open("w", vm, "/w")
        vm.write_file("/w/before", "b\n")
        child = vm.fork()  # seals the writable layer under a new one
        child.close()
        vm.write_file("/w/after", "a\n")
        vm.exec("rm /w/before")
        run = co.commit("both")
        assert run is not None
    assert sorted(p for p in store.tree("w") if p) == ["after"]


def test_hard_links_stay_links_after_open(store: WorkspaceStore) -> None:
    with VM() as vm:
        vm.exec("mkdir -p /seed && echo one > /seed/a && ln /seed/a /seed/b")
        store.create_base("hl", vm=vm, path="/seed")
    store.create("w", base="hl")
    with VM() as vm:
        co = store.open("w", vm, "/w")
        assert vm.exec("stat -c %h /w/a; echo two >> /w/b; cat /w/a").stdout == "2\none\ntwo\n"
        co.commit("append through one name")
    with VM() as vm:
        store.open("w", vm, "/w")
        assert vm.exec("cat /w/a; stat -c %h /w/b").stdout == "one\ntwo\n2\n"


def test_a_commit_flushes_a_constant_few_files(
    store: WorkspaceStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """However many files a run changed, a commit flushes one pack file holding every new
    object and its directory, then the new head and its directory — in that order."""
    from pocketos.workspaces import storage

    store.create("w")
    synced: list[str] = []
    real = os.fsync

    def fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr(storage.os, "fsync", fsync)
    root = str(store.storage.root)  # type: ignore[attr-defined]
    with VM() as vm:
        co = store.open("w", vm, "/w")
        for n in (1, 40):
            for i in range(n):
                vm.write_file(f"/w/d{i % 7}/f{i}", f"{n} {i}\n", parents=True)
            synced.clear()
            run = co.commit(f"{n} files")
            assert run is not None and run.stats["added"] + run.stats["modified"] >= n
            where = [p.removeprefix(root) for p in synced]
            assert len(where) == 4, where
            assert where[0].startswith("/packs/.tmp-") and where[1] == "/packs"
            assert where[2].startswith("/workspaces/w/.tmp-") and where[2].endswith("head.json")
            assert where[3] == "/workspaces/w"
    assert [r.message for r in store.log("w")] == ["1 files", "40 files"]


def test_gc_merges_small_pack_files(store: WorkspaceStore) -> None:
    """Each commit writes a pack file and a reader reads each one's index: gc merges small
    ones once they pile up, and every run reads the same afterwards."""
    store.create("w")
    with VM() as vm:
        co = store.open("w", vm, "/w")
        for i in range(12):
            vm.write_file(f"/w/f{i}", f"{i}\n")
            co.commit(str(i))
    packs = store.storage.root / "packs"  # type: ignore[attr-defined]
    assert len(list(packs.glob("*.pack"))) == 12
    before = [store.tree("w", k) for k in range(13)]
    assert store.gc(grace=3600)["deleted"] == 0  # young: left alone
    assert len(list(packs.glob("*.pack"))) == 12
    res = store.gc(grace=0)
    assert res["deleted"] == 0 and len(list(packs.glob("*.pack"))) == 1
    fresh = WorkspaceStore(store.url)
    assert [fresh.tree("w", k) for k in range(13)] == before
    with VM() as vm:
        fresh.open("w", vm, "/w", run=7)
        assert vm.exec("cat /w/f0 /w/f6").stdout == "0\n6\n"


def test_a_big_pack_index_is_searched_in_place(
    store: WorkspaceStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A base's pack file indexes one object per file: it is searched where it was read, not
    copied into a dict. Reads, dedupe against it and gc work the same."""
    from pocketos.workspaces import objects

    monkeypatch.setattr(objects, "BIG_PACK", 4)
    with VM() as vm:
        for i in range(30):
            vm.write_file(f"/seed/f{i}", f"file {i}\n" * 400, parents=True)
        store.create_base("b", vm=vm, path="/seed")
    store.create("w", base="b")
    fresh = WorkspaceStore(store.url)
    with VM() as vm:
        co = fresh.open("w", vm, "/w")
        assert fresh.objects._big
        assert vm.exec("cat /w/f3 /w/f29").stdout == "file 3\n" * 400 + "file 29\n" * 400
        vm.write_file("/w/copy", "file 7\n" * 400)  # a base file's bytes: not stored again
        run = co.commit("copy")
        assert run is not None and run.stats["bytes_written"] < 2800
    assert fresh.gc(grace=0)["deleted"] == 0
    with VM() as vm:
        WorkspaceStore(store.url).open("w", vm, "/w")
        assert vm.exec("cat /w/copy /w/f0").stdout == "file 7\n" * 400 + "file 0\n" * 400
