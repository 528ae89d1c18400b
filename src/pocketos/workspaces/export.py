"""Writing a workspace tree out: to a new host directory, or to a snapshot file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pocketos.workspaces.store import WorkspaceStore
from pocketos.workspaces.tree import Tree

__all__ = ["export_tree", "tree_to_snapshot", "safe_rel"]


def safe_rel(rel: str) -> str:
    """``rel`` if it is a plain relative path (no ``..``, no absolute or empty parts)."""
    if rel and (rel.startswith("/") or any(p in ("", ".", "..") for p in rel.split("/"))):
        raise ValueError(f"unsafe path in workspace tree: {rel!r}")
    if "\0" in rel:
        raise ValueError(f"unsafe path in workspace tree: {rel!r}")
    return rel


def tree_to_snapshot(store: WorkspaceStore, tree: Tree) -> Any:
    """A :class:`~pocketos.snapshot.Snapshot` of ``tree`` rooted at ``/``."""
    from pocketos.snapshot import Snapshot

    entries: list[dict[str, Any]] = []
    blobs: dict[str, bytes] = {}
    first: dict[str, str] = {}
    for rel in sorted(tree):
        e = tree[safe_rel(rel)]
        mt = int(e.get("mt", 0))
        out: dict[str, Any] = {
            "path": rel,
            "mode": int(e.get("m", 0)),
            "uid": int(e.get("u", 0)),
            "gid": int(e.get("g", 0)),
            "atime_ns": mt,
            "mtime_ns": mt,
        }
        t = e["t"]
        if t == "d":
            out["type"] = "dir"
        elif t == "l":
            out.update(type="symlink", target=e["l"])
        elif t == "c":
            out.update(type="chardev", rdev=int(e.get("r", 0)))
        elif t == "f":
            h = e.get("h")
            if h and h in first:
                out.update(type="hardlink", link=first[h])
            else:
                if h:
                    first[h] = rel
                blobs[e["b"]] = store.objects.get(e["b"])
                out.update(type="file", size=int(e["s"]), blob=e["b"])
        else:
            continue  # whiteouts only matter above the base image
        entries.append(out)
    return Snapshot("/", entries, blobs)


def export_tree(store: WorkspaceStore, tree: Tree, dest: str | os.PathLike[str]) -> int:
    """Write ``tree`` to ``dest``: a snapshot file if it ends in ``.snap``, else a new (or
    empty) host directory. Symlinks are written as symlinks and never followed. Returns the
    number of entries written."""
    d = Path(dest)
    if d.name.endswith(".snap"):
        snap = tree_to_snapshot(store, tree)
        tmp = d.with_name(f".{d.name}.{os.getpid()}.tmp")
        tmp.write_bytes(snap.to_bytes())
        os.replace(tmp, d)
        return len(snap.entries)
    if d.exists() and (not d.is_dir() or any(d.iterdir())):
        raise FileExistsError(f"{d} exists and is not an empty directory")
    d.mkdir(parents=True, exist_ok=True)
    dirs = {""}
    first: dict[str, Path] = {}
    times: list[tuple[Path, int]] = []
    n = 0
    for rel in sorted(tree):
        if not rel:
            continue
        e = tree[safe_rel(rel)]
        parent = rel.rpartition("/")[0]
        if parent not in dirs:
            raise ValueError(f"workspace tree entry {rel!r} is not under a directory")
        target = d / rel
        t = e["t"]
        if t == "d":
            target.mkdir(mode=0o700)
            dirs.add(rel)
            times.append((target, int(e.get("mt", 0))))
            n += 1
            continue
        if t == "l":
            os.symlink(e["l"], target)
        elif t == "f":
            h = e.get("h")
            if h and h in first:
                os.link(first[h], target)
            else:
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
                with os.fdopen(fd, "wb") as f:
                    f.write(store.objects.get(e["b"]) if e["s"] else b"")
                if h:
                    first[h] = target
            os.chmod(target, int(e.get("m", 0o644)) & 0o7777)
            times.append((target, int(e.get("mt", 0))))
        else:
            continue
        n += 1
    for rel in sorted(dirs, reverse=True):
        if rel:
            os.chmod(d / rel, int(tree[rel].get("m", 0o755)) & 0o7777)
    for path, mt in times:
        if mt:
            os.utime(path, ns=(mt, mt), follow_symlinks=False)
    return n
