"""Manifests (store format 2): trees in content-defined chunks, read lazily, rewritten only
where a run changed them; and format 1 stores still read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pocketos import VM
from pocketos.workspaces import CorruptObjectError, WorkspaceStore, manifest
from pocketos.workspaces.manifest import apply_to_manifest, build_manifest
from pocketos.workspaces.objects import ObjectStore
from pocketos.workspaces.storage import LocalStorage
from pocketos.workspaces.store import VERSION
from pocketos.workspaces.tree import Tree, apply_delta

NAMES = ["a", "b", "c", "d"]
_PATHS = [
    "/".join(p)
    for p in (
        [(x,) for x in NAMES]
        + [(x, y) for x in NAMES for y in NAMES]
        + [(x, y, z) for x in NAMES[:2] for y in NAMES for z in NAMES]
    )
]


def _file(n: int, h: str | None = None) -> dict[str, Any]:
    e: dict[str, Any] = {"t": "f", "m": 0o644, "u": 0, "g": 0, "mt": n, "s": 1, "b": f"{n:064x}"}
    if h:
        e["h"] = h
    return e


def _dir(opaque: bool = False) -> dict[str, Any]:
    e: dict[str, Any] = {"t": "d", "m": 0o755, "u": 0, "g": 0, "mt": 0}
    if opaque:
        e["o"] = True
    return e


def _valid(paths: dict[str, int]) -> Tree:
    """A tree holding ``paths`` as files, their parents as directories."""
    tree: Tree = {"": _dir()}
    for p, n in sorted(paths.items()):
        parts = p.split("/")
        if any(tree.get("/".join(parts[:i]), {"t": "d"})["t"] != "d" for i in range(1, len(parts))):
            continue  # a parent is already a file
        if any(q.startswith(p + "/") for q in tree):
            continue
        for i in range(1, len(parts)):
            tree.setdefault("/".join(parts[:i]), _dir())
        tree[p] = _file(n, "g1" if n % 5 == 0 else None)
    return tree


def _upper(raw: Tree) -> Tree:
    """``raw`` as an overlay's writable layer holds it: the parents of every entry are
    directories in it too (a whiteout or a file has nothing below it)."""
    delta: Tree = {}
    for p, e in sorted(raw.items()):
        parts = p.split("/")
        for i in range(1, len(parts)):
            q = "/".join(parts[:i])
            if delta.get(q, {"t": "d"})["t"] != "d" or q not in delta:
                delta[q] = _dir()
        if delta.get(p, {}).get("t") == "d" and e["t"] != "d":
            continue  # already a parent of an earlier entry
        delta[p] = e
    return delta


_entry = st.one_of(
    st.integers(1, 50).map(_file),
    st.integers(1, 50).map(lambda n: _file(n, "g1")),
    st.just({"t": "w"}),
    st.booleans().map(_dir),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(st.sampled_from(_PATHS), st.integers(1, 99), max_size=30),
    st.lists(st.dictionaries(st.sampled_from(_PATHS), _entry, max_size=6), max_size=4),
    st.booleans(),
)
def test_applying_a_delta_to_chunks_equals_rebuilding(
    tmp_path_factory: pytest.TempPathFactory,
    files: dict[str, int],
    deltas: list[Tree],
    keep: bool,
) -> None:
    """Whatever the runs wrote, the manifest rewritten chunk by chunk has the very chunks a
    rebuild of the whole tree gives (chunk ends depend on paths only), and its lookups
    answer like the tree."""
    old_average = manifest.AVERAGE
    manifest.AVERAGE = 2  # many chunks even for small trees
    try:
        objects = ObjectStore(LocalStorage(tmp_path_factory.mktemp("m"), fsync=False))
        tree = _valid(files)
        m = build_manifest(objects, tree)
        for raw in deltas:
            delta = _upper(raw)
            tree = apply_delta(tree, delta, keep_whiteouts=keep)
            m, _, _ = apply_to_manifest(m, delta, keep_whiteouts=keep)
            assert m.to_dict() == tree
            whole = build_manifest(objects, tree)  # same chunks (packed differently)
            assert [c[:3] for c in m.chunks] == [c[:3] for c in whole.chunks]
            assert m.files == sum(1 for e in tree.values() if e["t"] == "f")
            for p in ["", *_PATHS]:
                assert m.get(p) == tree.get(p)
                kids = sorted(q.rpartition("/")[2] for q in tree if q and q.rpartition("/")[0] == p)
                assert sorted(m.children(p)) == kids
            links = sorted(p for p, e in tree.items() if e.get("h") == "g1" and e["t"] == "f")
            assert sorted(m.links("g1")) == links
    finally:
        manifest.AVERAGE = old_average


class _Counting(LocalStorage):
    reads: list[str]
    writes: list[str]

    def read(self, key: str) -> bytes:
        data = super().read(key)  # a missing key is not counted
        self.reads.append(key)
        return data

    def read_range(self, key: str, start: int, length: int) -> bytes:
        # an object is read from its pack file at its offset; a pack's index at offset 0
        self.reads.append(f"{key}@{start}" if start else f"{key}:index")
        return super().read_range(key, start, length)

    def write(self, key: str, data: bytes) -> None:
        self.writes.append(key)
        super().write(key, data)

    def put_object(self, key: str, data: bytes) -> bool:
        self.writes.append(key)
        return super().put_object(key, data)

    def objects_read(self) -> list[str]:
        return [k for k in self.reads if k.startswith("objects/") or "@" in k]


def test_open_reads_the_root_only_and_a_commit_writes_what_changed(tmp_path: Path) -> None:
    with VM() as vm:
        for d in range(40):
            for f in range(50):
                vm.write_file(f"/seed/d{d}/f{f}", f"{d}/{f}\n", parents=True)
        store = WorkspaceStore(tmp_path, fsync=False)
        store.create_base("big", vm=vm, path="/seed")
    store.create("w", base="big")
    counting = _Counting(tmp_path, fsync=False)
    counting.reads, counting.writes = [], []
    cold = WorkspaceStore(counting)
    with VM() as vm:
        co = cold.open("w", vm, "/w")
        assert len(counting.objects_read()) == 1  # the manifest's root: no chunk, no file
        assert len({k for k in counting.reads if k.endswith(":index")}) == 1  # the base's pack
        assert vm.read_text("/w/d7/f3") == "7/3\n"
        assert len(counting.objects_read()) <= 8  # the chunks on the way (of 65) and the blob
        for f in range(10):
            vm.write_file(f"/w/d{f}/f{f}", "changed\n")
        counting.writes.clear()
        run = co.commit("ten files")
        assert run is not None and run.stats["modified"] == 10 and run.stats["files"] == 2000
        # one pack file (1 blob - same content -, the chunks, the root, the delta, the run),
        # then the head
        assert counting.writes == [counting.writes[0], "workspaces/w/head.json"]
        assert counting.writes[0].startswith("packs/") and counting.writes[0].endswith(".pack")
    with VM() as vm:
        WorkspaceStore(tmp_path).open("w", vm, "/w")
        assert vm.exec("cat /w/d3/f3 /w/d3/f4").stdout == "changed\n3/4\n"
        assert vm.exec("ls /w | wc -l; ls /w/d39 | wc -l").stdout == "40\n50\n"


def _v1_store(root: Path) -> None:
    """A store as format 1 wrote it: flat trees, runs with deltas and checkpoints."""
    storage = LocalStorage(root, fsync=False)
    objects = ObjectStore(storage)
    blob = objects.put(b"one\n")
    base: Tree = {"": _dir(), "a": {**_file(1), "b": blob, "s": 4}, "d": _dir()}
    base_id = objects.put_doc(base)
    delta1 = {"d": _dir(), "d/x": {**_file(2), "b": blob, "s": 4}}
    run1 = objects.put_doc(
        {"n": 1, "time": 1.0, "author": "", "message": "one", "meta": {}, "stats": {},
         "delta": objects.put_doc(delta1), "checkpoint": None}
    )  # fmt: skip
    delta2 = {"a": {"t": "w"}}
    after2 = apply_delta(apply_delta(base, delta1, keep_whiteouts=False), delta2,
                         keep_whiteouts=False)  # fmt: skip
    run2 = objects.put_doc(
        {"n": 2, "time": 2.0, "author": "", "message": "two", "meta": {}, "stats": {},
         "delta": objects.put_doc(delta2), "checkpoint": objects.put_doc(after2)}
    )  # fmt: skip
    delta3 = {"b": {**_file(3), "b": blob, "s": 4}}
    run3 = objects.put_doc(
        {"n": 3, "time": 3.0, "author": "", "message": "three", "meta": {}, "stats": {},
         "delta": objects.put_doc(delta3), "checkpoint": None}
    )  # fmt: skip
    storage.write(
        "format.json", json.dumps({"format": "pocketos-workspaces", "version": 1}).encode()
    )
    head = {"name": "old", "kind": "tree", "base": None, "base_tree": base_id, "created": 0.0,
            "runs": [run1, run2, run3]}  # fmt: skip
    storage.write("workspaces/old/head.json", json.dumps(head).encode())


def test_a_format_1_store_is_read_and_upgraded(tmp_path: Path) -> None:
    _v1_store(tmp_path)
    store = WorkspaceStore(tmp_path)
    assert json.loads((tmp_path / "format.json").read_text())["version"] == VERSION
    assert sorted(store.tree("old", 0)) == ["", "a", "d"]
    assert sorted(store.tree("old", 1)) == ["", "a", "d", "d/x"]
    assert sorted(store.tree("old")) == ["", "b", "d", "d/x"]
    with VM() as vm:
        co = store.open("old", vm, "/w")
        assert vm.exec("cd /w && find . | sort && cat b").stdout == ".\n./b\n./d\n./d/x\none\n"
        vm.write_file("/w/new", "new\n")
        run = co.commit("four")
        assert run is not None and run.stats == {**run.stats, "added": 1, "files": 3}
    assert [r.message for r in store.log("old")] == ["one", "two", "three", "four"]
    assert [c.path for c in store.diff("old", 0, 4)] == ["a", "b", "d/x", "new"]
    store.gc(grace=0)
    with VM() as vm:
        store.open("old", vm, "/w", run=1)
        assert vm.exec("cat /w/a /w/d/x").stdout == "one\none\n"


class _ReadOnly(LocalStorage):
    def write(self, key: str, data: bytes) -> None:
        raise PermissionError(13, "Permission denied", key)


def test_a_format_1_store_that_cannot_be_written_is_still_read(tmp_path: Path) -> None:
    _v1_store(tmp_path)
    store = WorkspaceStore(_ReadOnly(tmp_path))
    assert json.loads((tmp_path / "format.json").read_text())["version"] == 1
    assert sorted(store.tree("old")) == ["", "b", "d", "d/x"]
    assert [r.message for r in store.log("old")] == ["one", "two", "three"]


def test_a_format_2_store_is_read_and_upgraded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Format 2 kept every object in a file of its own; format 3 adds pack files. A format 2
    store opens, its runs read, new runs go to pack files, and gc keeps both kinds."""
    import contextlib

    with monkeypatch.context() as m:  # write as format 2 did: no pack files
        m.setattr(ObjectStore, "batch", lambda self: contextlib.nullcontext())
        old = WorkspaceStore(tmp_path)
        old.create("w")
        with VM() as vm:
            co = old.open("w", vm, "/w")
            vm.write_file("/w/a", "one\n")
            co.commit("one")
            vm.write_file("/w/b", "two\n")
            co.commit("two")
    (tmp_path / "format.json").write_text('{"format": "pocketos-workspaces", "version": 2}')
    assert not (tmp_path / "packs").exists() and (tmp_path / "objects").is_dir()
    store = WorkspaceStore(tmp_path)
    assert json.loads((tmp_path / "format.json").read_text())["version"] == VERSION
    assert [r.message for r in store.log("w")] == ["one", "two"]
    with VM() as vm:
        co = store.open("w", vm, "/w")
        assert vm.exec("cat /w/a /w/b").stdout == "one\ntwo\n"
        vm.write_file("/w/a", "three\n")
        co.commit("three")
    assert len(list((tmp_path / "packs").glob("*.pack"))) == 1
    store.gc(grace=0)
    for run, want in ((1, "one\n"), (2, "one\ntwo\n"), (3, "three\ntwo\n")):
        with VM() as vm:
            WorkspaceStore(tmp_path).open("w", vm, "/w", run=run)
            assert vm.exec("cat /w/a /w/b 2>/dev/null").stdout == want


def test_a_commit_splices_the_root_and_the_chain_stays_short(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A commit stores the lines of the root it changed, naming the root before; past
    MAX_DEPTH such roots the whole list is written again. Every run reads as a rebuild of
    its tree would, and a tampered root anywhere in the chain is reported."""
    from tests.workspaces.tampering import tamper

    monkeypatch.setattr(manifest, "MAX_DEPTH", 3)
    with VM() as vm:
        for d in range(20):
            for f in range(20):
                vm.write_file(f"/seed/d{d}/f{f}", f"{d}/{f}\n", parents=True)
        store = WorkspaceStore(tmp_path, fsync=False)
        store.create_base("big", vm=vm, path="/seed")
    store.create("w", base="big")
    with VM() as vm:
        co = store.open("w", vm, "/w")
        for i in range(9):
            vm.write_file(f"/w/d{i}/f{i}", f"changed {i}\n")
            co.commit(f"run {i}")
    runs = [store.run_doc(r) for r in store.head("w")["runs"]]
    roots = [store.objects.get_doc(r["manifest"]) for r in runs]
    assert [r.get("depth", 0) for r in roots] == [1, 2, 3, 0, 1, 2, 3, 0, 1]
    assert all(("chunks" in r) == (r.get("depth", 0) == 0) for r in roots)
    full = len(store.objects.get(runs[3]["manifest"]))
    assert all(len(store.objects.get(r["manifest"])) * 4 < full for r in runs[4:7])
    rebuilt = ObjectStore(LocalStorage(tmp_path / "rebuilt", fsync=False))
    for k in range(10):
        m = WorkspaceStore(tmp_path).manifest("w", k)
        tree = m.to_dict()
        assert [c[:3] for c in m.chunks] == [c[:3] for c in build_manifest(rebuilt, tree).chunks]
        with VM() as vm:
            WorkspaceStore(tmp_path).open("w", vm, "/w", run=k)
            want = "".join(f"changed {i}\n" if i < k else f"{i}/{i}\n" for i in range(9))
            assert vm.exec("cat " + " ".join(f"/w/d{i}/f{i}" for i in range(9))).stdout == want
    tamper(store, runs[4]["manifest"], b"garbage")  # the root run 6 is spliced onto
    with pytest.raises(CorruptObjectError, match=runs[4]["manifest"]):
        WorkspaceStore(tmp_path).tree("w", 6)
    assert len(WorkspaceStore(tmp_path).tree("w", 4)) == 421  # before it: unaffected
