"""The workspace store: named bases and workspaces, each a chain of committed runs.

On-disk format version 2 (see docs/workspaces.md)::

    format.json                      {"format": "pocketos-workspaces", "version": 2}
    objects/ab/cdef…                 blobs and zlib-compressed JSON documents, by SHA-256
    bases/NAME.json                  {"name", "tree", "created", "source"}
    workspaces/NAME/head.json        {"name", "kind", "base", "base_tree", "runs": [run ids]}
    workspaces/NAME/lock             held while a writer updates the workspace

A run is an immutable object ``{"n", "time", "author", "message", "delta", "manifest",
"stats", "meta"}``: ``delta`` is the tree of what the run wrote (format 2; ``null`` since
format 3: it is the difference of two manifests), ``manifest`` the whole tree after it, stored in chunks (:mod:`.manifest`) that it shares with the runs before except where
the run changed something. A commit writes new blobs, the changed chunks, the delta, the run
object, and last replaces ``head.json`` atomically: until that rename (or put) nothing of the
run is visible, so a writer killed at any point leaves the previous state intact, and what it
had written is garbage for :meth:`WorkspaceStore.gc`. Version 1 stores (flat trees, a
``checkpoint`` every 16 runs and deltas in between) are read as they are.
"""

from __future__ import annotations

import builtins
import contextlib
import json
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pocketos.workspaces.errors import (
    CorruptObjectError,
    WorkspaceError,
    WorkspaceExistsError,
    WorkspaceNotFoundError,
)
from pocketos.workspaces.lock import StoreLock
from pocketos.workspaces.manifest import (
    DictManifest,
    Manifest,
    apply_to_manifest,
    build_manifest,
    is_manifest,
    resolve_root,
)
from pocketos.workspaces.objects import ObjectStore
from pocketos.workspaces.storage import LocalStorage, Storage, open_storage
from pocketos.workspaces.tree import (
    Tree,
    apply_delta,
    blobs_of,
    capture_backend,
    capture_host,
    diff_trees,
    unified_diff,
)

__all__ = ["WorkspaceStore", "RunInfo", "Change", "FORMAT", "VERSION"]

FORMAT = "pocketos-workspaces"
VERSION = 3
#: versions this code reads (an older store is upgraded: its objects stay valid)
READS = (1, 2, 3)
#: gc merges pack files under this size once there are MERGE_PACKS of them
SMALL_PACK_FILE = 16 << 20
MERGE_PACKS = 8
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
EMPTY_TREE: Tree = {"": {"t": "d", "m": 0o755, "u": 0, "g": 0, "mt": 0}}


def _check_name(name: str, what: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(
            f"invalid {what} name {name!r}: use letters, digits, '.', '_' and '-' "
            "(at most 128, not starting with '.' or '-')"
        )
    return name


@dataclass
class RunInfo:
    """One committed run, as ``log`` shows it."""

    n: int
    id: str
    time: float
    author: str
    message: str
    stats: dict[str, int]
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "id": self.id,
            "time": self.time,
            "author": self.author,
            "message": self.message,
            "stats": dict(self.stats),
        }


@dataclass
class Change:
    """One path that differs between two points of a workspace."""

    status: str  # added | modified | deleted
    path: str
    binary: bool = False
    patch: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "path": self.path, "binary": self.binary}


class WorkspaceStore:
    """Workspaces on a local directory (``WorkspaceStore("/var/ws")``) or any fsspec URL
    (``WorkspaceStore("s3://bucket/ws", key=…, secret=…)``)."""

    def __init__(
        self,
        url: str | os.PathLike[str] | Storage | None = None,
        *,
        lock_timeout: float = 30.0,
        stale_after: float = 600.0,
        fsync: bool = True,
        **storage_options: Any,
    ) -> None:
        if url is None:
            url = default_store_dir()
        self.storage = open_storage(url, fsync=fsync, **storage_options)
        self.objects = ObjectStore(self.storage)
        self.lock_timeout = lock_timeout
        self.stale_after = stale_after
        self._check_format()

    @property
    def url(self) -> str:
        return self.storage.url

    def _check_format(self) -> None:
        try:
            doc = json.loads(self.storage.read("format.json"))
        except FileNotFoundError:
            self.storage.create("format.json", _dumps({"format": FORMAT, "version": VERSION}))
            return
        except ValueError:
            raise WorkspaceError(f"{self.url}: format.json is not valid JSON") from None
        if doc.get("format") != FORMAT:
            raise WorkspaceError(f"{self.url} is not a pocketos workspace store")
        if doc.get("version") not in READS:
            raise WorkspaceError(
                f"{self.url}: unsupported workspace store version {doc.get('version')} "
                f"(this pocketos reads versions {', '.join(map(str, READS))})"
            )
        if doc.get("version") != VERSION:
            # new runs are written in this format, which an older reader cannot follow:
            # say so, so that it refuses the store instead of misreading it (a store this
            # process may not write to is only read, and stays as it is)
            with contextlib.suppress(Exception):
                self.storage.write("format.json", _dumps({"format": FORMAT, "version": VERSION}))

    # --- documents -----------------------------------------------------------------------------
    def _read_json(self, key: str, missing: str) -> dict[str, Any]:
        try:
            raw = self.storage.read(key)
        except FileNotFoundError:
            raise WorkspaceNotFoundError(missing) from None
        try:
            doc = json.loads(raw)
        except ValueError:
            raise CorruptObjectError(f"{key} in {self.url} is not valid JSON") from None
        if not isinstance(doc, dict):
            raise CorruptObjectError(f"{key} in {self.url} is not a JSON object")
        return doc

    def _head_key(self, name: str) -> str:
        return f"workspaces/{_check_name(name, 'workspace')}/head.json"

    def head(self, name: str) -> dict[str, Any]:
        return self._read_json(self._head_key(name), f"no workspace named {name!r}")

    def _write_head(self, head: dict[str, Any]) -> None:
        self.storage.write(self._head_key(head["name"]), _dumps(head))

    def lock(self, name: str, timeout: float | None = None) -> StoreLock:
        """The writer's lock of workspace ``name`` (a context manager)."""
        return StoreLock(
            self.storage,
            f"workspaces/{_check_name(name, 'workspace')}/lock",
            timeout=self.lock_timeout if timeout is None else timeout,
            stale_after=self.stale_after,
            what=f"workspace {name!r}",
        )

    # --- bases -----------------------------------------------------------------------------
    def create_base(
        self,
        name: str,
        *,
        host_dir: str | os.PathLike[str] | None = None,
        snapshot: Any = None,
        vm: Any = None,
        path: str = "/",
        tree: Tree | None = None,
        blobs: Mapping[str, bytes] | None = None,
        source: str = "",
    ) -> str:
        """Save a named, read-only base from exactly one source: a host directory, a snapshot
        (a :class:`~pocketos.snapshot.Snapshot`, its bytes or a file), a VM's tree at ``path``
        (for instance after a setup script ran in it) or a tree. Returns the tree's id."""
        _check_name(name, "base")
        given = [x is not None for x in (host_dir, snapshot, vm, tree)]
        if sum(given) != 1:
            raise ValueError("create_base needs exactly one of host_dir, snapshot, vm, tree")
        if host_dir is not None:
            tree, blobs = capture_host(host_dir)
            source = source or f"host:{Path(host_dir).absolute()}"
        elif snapshot is not None:
            from pocketos.snapshot import Snapshot

            snap = snapshot if isinstance(snapshot, Snapshot) else Snapshot.load(snapshot)
            tree, blobs = capture_backend(snap.to_backend(), snap.root)
            source = source or "snapshot"
        elif vm is not None:
            from pocketos.workspaces.tree import capture_vfs

            tree, blobs = capture_vfs(vm.vfs, path)
            source = source or f"vm:{path}"
        assert tree is not None
        if "" not in tree:
            raise ValueError("a tree needs its root entry ''")
        with self.objects.batch():
            for d, data in (blobs or {}).items():
                self.objects.put(data, d)
            tid = build_manifest(self.objects, tree).root_id
        self.storage.barrier()
        doc = {"name": name, "tree": tid, "created": time.time(), "source": source}
        if not self.storage.create(f"bases/{name}.json", _dumps(doc)):
            raise WorkspaceExistsError(f"a base named {name!r} already exists")
        return tid

    def base(self, name: str) -> dict[str, Any]:
        return self._read_json(f"bases/{_check_name(name, 'base')}.json", f"no base {name!r}")

    def list_bases(self) -> builtins.list[dict[str, Any]]:
        out = []
        for key in self.storage.keys("bases"):
            if key.endswith(".json"):
                out.append(self._read_json(key, key))
        return sorted(out, key=lambda d: d["name"])

    def delete_base(self, name: str) -> None:
        self.base(name)
        users = [h["name"] for h in self._heads() if h.get("base") == name]
        if users:
            raise WorkspaceError(f"base {name!r} is used by workspaces: {', '.join(users)}")
        self.storage.delete(f"bases/{name}.json")

    # --- workspaces ------------------------------------------------------------------------
    def create(self, name: str, *, base: str | None = None, kind: str = "tree") -> dict[str, Any]:
        """A new workspace on ``base`` (none: empty). ``kind`` ``root`` makes a workspace that
        holds a whole VM root above the base image (durable VMs)."""
        _check_name(name, "workspace")
        if kind not in ("tree", "root"):
            raise ValueError(f"kind must be 'tree' or 'root', not {kind!r}")
        base_tree = (
            self.base(base)["tree"]
            if base is not None
            else build_manifest(self.objects, EMPTY_TREE).root_id
        )
        self.storage.barrier()
        head: dict[str, Any] = {
            "name": name,
            "kind": kind,
            "base": base,
            "base_tree": base_tree,
            "created": time.time(),
            "runs": [],
        }
        if not self.storage.create(self._head_key(name), _dumps(head)):
            raise WorkspaceExistsError(f"a workspace named {name!r} already exists")
        return head

    def exists(self, name: str) -> bool:
        return self.storage.exists(self._head_key(name))

    def _heads(self) -> builtins.list[dict[str, Any]]:
        out = []
        for key in self.storage.keys("workspaces"):
            if key.endswith("/head.json"):
                try:
                    out.append(self._read_json(key, key))
                except WorkspaceError:
                    continue
        return out

    def list(self) -> builtins.list[dict[str, Any]]:
        """Every workspace: name, kind, base, number of runs."""
        return sorted(
            (
                {
                    "name": h["name"],
                    "kind": h.get("kind", "tree"),
                    "base": h.get("base"),
                    "runs": len(h["runs"]),
                    "created": h.get("created"),
                }
                for h in self._heads()
            ),
            key=lambda d: d["name"],
        )

    def delete(self, name: str) -> None:
        """Forget workspace ``name`` (its objects go at the next :meth:`gc`)."""
        with self.lock(name):
            self.head(name)
            self.storage.delete(self._head_key(name))

    def fork(self, name: str, new: str, *, run: int | None = None) -> dict[str, Any]:
        """A new workspace sharing ``name``'s history up to ``run`` (default: all). O(runs) in
        metadata; no file is copied."""
        _check_name(new, "workspace")
        head = self.head(name)
        k = self._run_index(head, run)
        forked = dict(head, name=new, created=time.time(), runs=head["runs"][:k])
        forked["forked_from"] = {"workspace": name, "run": k}
        if not self.storage.create(self._head_key(new), _dumps(forked)):
            raise WorkspaceExistsError(f"a workspace named {new!r} already exists")
        return forked

    # --- runs and trees --------------------------------------------------------------------
    def _run_index(self, head: dict[str, Any], run: int | None) -> int:
        n = len(head["runs"])
        if run is None:
            return n
        if run < 0:
            run = n + 1 + run
        if not 0 <= run <= n:
            raise WorkspaceNotFoundError(
                f"workspace {head['name']!r} has no run {run} (it has runs 0..{n})"
            )
        return run

    def run_doc(self, run_id: str) -> dict[str, Any]:
        doc = self.objects.get_doc(run_id)
        if not isinstance(doc, dict) or "delta" not in doc:
            raise CorruptObjectError(f"object {run_id} is not a run")
        return doc

    def tree(
        self, name: str, run: int | None = None, *, head: dict[str, Any] | None = None
    ) -> Tree:
        """The whole tree of workspace ``name`` after ``run`` (0: the base; default: latest)."""
        head = head or self.head(name)
        k = self._run_index(head, run)
        runs = head["runs"][:k]
        docs: list[dict[str, Any]] = []
        tree: Tree | None = None
        for rid in reversed(runs):
            doc = self.run_doc(rid)
            if doc.get("manifest"):
                tree = self._load_tree(doc["manifest"])
                break
            if doc.get("checkpoint"):
                tree = self._load_tree(doc["checkpoint"])
                break
            docs.append(doc)
        if tree is None:
            tree = self._load_tree(head["base_tree"])
        keep = head.get("kind") == "root"
        for doc in reversed(docs):
            tree = apply_delta(tree, self._load_tree(doc["delta"], delta=True), keep_whiteouts=keep)
        return tree

    def _load_tree(self, tid: str, *, delta: bool = False) -> Tree:
        t = self.objects.get_doc(tid)
        if is_manifest(t) and not delta:
            return Manifest(self.objects, tid, t).to_dict()
        if not isinstance(t, dict) or ("" not in t and not delta):
            raise CorruptObjectError(f"object {tid} is not a tree")
        return t

    def manifest(
        self, name: str, run: int | None = None, *, head: dict[str, Any] | None = None
    ) -> Manifest | DictManifest:
        """The tree of ``name`` after ``run`` for lookups: a stored manifest is read chunk by
        chunk as needed (format 1 trees are loaded whole)."""
        head = head or self.head(name)
        k = self._run_index(head, run)
        if k == 0:
            tid = head["base_tree"]
        else:
            doc = self.run_doc(head["runs"][k - 1])
            tid = doc.get("manifest")
            if not tid:
                return DictManifest(self.tree(name, k, head=head))
        t = self.objects.get_doc(tid)
        if is_manifest(t):
            return Manifest(self.objects, tid, t)
        if not isinstance(t, dict) or "" not in t:
            raise CorruptObjectError(f"object {tid} is not a tree")
        return DictManifest(t)

    def log(self, name: str) -> builtins.list[RunInfo]:
        """The runs of ``name``, oldest first."""
        out = []
        for i, rid in enumerate(self.head(name)["runs"], start=1):
            doc = self.run_doc(rid)
            out.append(
                RunInfo(
                    i,
                    rid,
                    doc["time"],
                    doc.get("author", ""),
                    doc.get("message", ""),
                    dict(doc.get("stats", {})),
                    dict(doc.get("meta", {})),
                )
            )
        return out

    def append_run(
        self,
        name: str,
        delta: Tree,
        blobs: Mapping[str, bytes],
        *,
        expect_runs: int | None = None,
        author: str = "",
        message: str = "",
        meta: Mapping[str, Any] | None = None,
        full: Tree | None = None,
        prev: Manifest | DictManifest | None = None,
        lock_timeout: float | None = None,
    ) -> tuple[RunInfo, Manifest]:
        """Commit a run that wrote ``delta`` on top of run ``expect_runs`` (what the writer
        opened). If others committed since, the delta is applied on their work when it
        touches other paths; a path changed by both fails with a clear error. ``full`` (for
        checkout) gives the whole resulting tree instead; ``prev`` is the tree of run
        ``expect_runs`` if the caller has it (saves loading it). Returns the run and the new
        tree."""
        with self.lock(name, lock_timeout):
            head = self.head(name)
            n = len(head["runs"])
            if expect_runs is not None and n != expect_runs and full is None:
                theirs = self._changed_since(head, expect_runs)
                ours = set(delta)
                clash = sorted(p for p in ours if p in theirs)
                if clash:
                    raise WorkspaceError(
                        f"workspace {name!r} changed since it was opened (runs "
                        f"{expect_runs + 1}..{n}) and both changed: {', '.join(clash[:5])}"
                        + (" ..." if len(clash) > 5 else "")
                        + "; fork the workspace or reopen it"
                    )
            with self.objects.batch():
                before = self.bytes_written
                for d, data in blobs.items():
                    self.objects.put(data, d)
                    self.objects.remember(d, data)
                if prev is None or expect_runs != n:
                    prev = self.manifest(name, head=head)
                keep = head.get("kind") == "root"
                if full is not None:
                    new = build_manifest(self.objects, full)
                    changes = diff_trees(prev.to_dict(), full)
                elif isinstance(prev, Manifest):
                    # only the chunks the delta touches are read and written again
                    new, old_part, new_part = apply_to_manifest(prev, delta, keep_whiteouts=keep)
                    changes = diff_trees(old_part, new_part)
                else:  # a format 1 tree: its first run stores it as a manifest
                    old_tree = prev.to_dict()
                    new_tree = apply_delta(old_tree, delta, keep_whiteouts=keep)
                    new = build_manifest(self.objects, new_tree)
                    changes = diff_trees(old_tree, new_tree)
                stats = {
                    "added": sum(1 for s, _ in changes if s == "added"),
                    "modified": sum(1 for s, _ in changes if s == "modified"),
                    "deleted": sum(1 for s, _ in changes if s == "deleted"),
                    "files": new.files,
                }
                doc: dict[str, Any] = {
                    "n": n + 1,
                    "time": time.time(),
                    "author": author,
                    "message": message,
                    "meta": dict(meta or {}),
                    # what the run wrote is the difference of its manifest and the one
                    # before: format 3 does not store it again
                    "delta": None,
                    "manifest": new.root_id,
                }
                stats["bytes_written"] = self.bytes_written - before
                doc["stats"] = stats
                rid = self.objects.put_doc(doc)
            self.storage.barrier()  # everything the head will reference is on disk
            head = dict(head, runs=[*head["runs"], rid])
            self._write_head(head)  # the commit point
        info = RunInfo(n + 1, rid, doc["time"], author, message, stats, doc["meta"])
        return info, new

    @property
    def bytes_written(self) -> int:
        return self.objects.bytes_written

    def _changed_since(self, head: dict[str, Any], k: int) -> set[str]:
        old = self.tree(head["name"], k, head=head)
        new = self.tree(head["name"], head=head)
        return {p for _, p in diff_trees(old, new)}

    def checkout(self, name: str, run: int, *, author: str = "", message: str = "") -> RunInfo:
        """Roll ``name`` back to ``run``: a new run whose tree is that run's tree, so nothing
        of the later history is lost."""
        head = self.head(name)
        k = self._run_index(head, run)
        target = self.tree(name, k, head=head)
        info, _ = self.append_run(
            name,
            {},
            {},
            author=author,
            message=message or f"checkout run {k}",
            full=target,
            meta={"checkout": k},
        )
        return info

    def diff(self, name: str, a: int | None = None, b: int | None = None) -> builtins.list[Change]:
        """Changes from run ``a`` (default: the one before ``b``) to run ``b`` (default:
        latest), with a unified diff for each text file."""
        head = self.head(name)
        kb = self._run_index(head, b)
        ka = self._run_index(head, a) if a is not None else max(kb - 1, 0)
        ta = self.tree(name, ka, head=head)
        tb = self.tree(name, kb, head=head)
        return self.diff_trees(ta, tb)

    def diff_trees(self, ta: Tree, tb: Tree) -> builtins.list[Change]:
        out = []
        for status, p in diff_trees(ta, tb):
            patch = unified_diff(p, ta.get(p), tb.get(p), self.objects.get)
            out.append(Change(status, p, patch.startswith("Binary files "), patch))
        return out

    # --- garbage collection ------------------------------------------------------------------
    def gc(self, *, grace: float = 3600.0, keep_runs: int | None = None) -> dict[str, int]:
        """Delete objects nothing references. Retention: objects younger than ``grace``
        seconds are kept (a writer may be about to reference them); with ``keep_runs``, each
        workspace keeps only its last ``keep_runs`` runs (the oldest kept run gets a
        checkpoint so it still opens)."""
        if keep_runs is not None:
            if keep_runs < 1:
                raise ValueError("keep_runs must be at least 1")
            for h in self._heads():
                if len(h["runs"]) > keep_runs:
                    self._prune(h["name"], keep_runs)
        trees: set[str] = {b["tree"] for b in self.list_bases()}
        runs: set[str] = set()
        for h in self._heads():
            trees.add(h["base_tree"])
            for rid in h["runs"]:
                runs.add(rid)
                doc = self.run_doc(rid)
                if doc["delta"]:
                    trees.add(doc["delta"])
                for k in ("checkpoint", "manifest"):
                    if doc.get(k):
                        trees.add(doc[k])
        live = trees | runs | self._reachable(trees)
        now = time.time()
        deleted = kept = freed = 0
        for d in self.objects.all():
            if d in live:
                continue
            key = self.objects.key(d)
            try:
                if now - self.storage.mtime(key) < grace:
                    kept += 1
                    continue
                size = self.storage.size(key)
            except FileNotFoundError:
                continue
            self.storage.delete(key)
            self.objects.forget(d)
            deleted += 1
            freed += size
        # pack files: those holding dead objects are written again with their live ones
        # (durably, before the old ones go), and small ones are merged once they pile up
        # (every commit makes one; a reader reads the index of each)
        rewrite: builtins.list[str] = []
        small: builtins.list[str] = []
        for key, oids in self.objects.pack_contents().items():
            dead = [o for o in oids if o not in live]
            try:
                if now - self.storage.mtime(key) < grace:
                    kept += len(dead)
                    continue
                size = self.storage.size(key)
            except FileNotFoundError:
                continue
            if dead:
                rewrite.append(key)
                deleted += len(dead)
                freed += size
            elif size < SMALL_PACK_FILE:
                small.append(key)
        if len(small) >= MERGE_PACKS:
            rewrite += small
            freed += sum(self.storage.size(k) for k in small)
        if rewrite:
            freed -= self.objects.rewrite_packs(rewrite, live)
        if isinstance(self.storage, LocalStorage):
            for tmp in self.storage.temporaries():
                try:
                    if now - tmp.stat().st_mtime >= grace:
                        tmp.unlink()
                except FileNotFoundError:
                    pass
        return {"live": len(live), "deleted": deleted, "bytes_freed": freed, "young": kept}

    def _reachable(self, trees: set[str]) -> set[str]:
        """The blobs and manifest packs the trees ``trees`` (flat trees, deltas or manifest
        roots) reference; a pack shared by many manifests is read once."""
        packs: dict[str, set[str]] = {}
        flat: builtins.list[Tree] = []
        roots: set[str] = set()
        memo: dict[str, builtins.list[Any]] = {}
        for t in trees:
            doc = self.objects.get_doc(t)
            if is_manifest(doc):
                lines, chain = resolve_root(self.objects, t, doc, memo)
                roots.update(chain)
                for c in lines:
                    packs.setdefault(c[3], set()).add(c[1])
            elif isinstance(doc, dict):
                flat.append(doc)
        out = set(packs) | roots | blobs_of(flat)
        for pid, cids in packs.items():
            chunks = self.objects.get_doc(pid).get("chunks", {})
            for cid in cids:
                for _, e in chunks.get(cid, ()):
                    if e.get("t") == "f":
                        out.add(e["b"])
        return out

    def _prune(self, name: str, keep: int) -> None:
        with self.lock(name):
            head = self.head(name)
            runs = head["runs"]
            if len(runs) <= keep:
                return
            first = len(runs) - keep + 1  # 1-based number of the oldest kept run
            doc = dict(self.run_doc(runs[first - 1]))
            with self.objects.batch():
                if not doc.get("manifest"):  # a format 1 run: give it its whole tree
                    doc["manifest"] = build_manifest(
                        self.objects, self.tree(name, first, head=head)
                    ).root_id
                rid = self.objects.put_doc(doc)
            self.storage.barrier()
            new_runs = [rid, *runs[first:]]
            pruned = head.get("pruned", 0) + first - 1
            self._write_head(dict(head, runs=new_runs, pruned=pruned))


def _dumps(doc: Any) -> bytes:
    return json.dumps(doc, sort_keys=True, indent=1).encode() + b"\n"


def default_store_dir() -> str:
    """``$POCKETOS_WORKSPACES``, else ``$XDG_DATA_HOME/pocketos/workspaces``."""
    env = os.environ.get("POCKETOS_WORKSPACES")
    if env:
        return env
    data = os.environ.get("XDG_DATA_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "share"
    )
    return os.path.join(data, "pocketos", "workspaces")
