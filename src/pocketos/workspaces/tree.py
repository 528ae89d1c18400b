"""Trees: the flat, path-keyed description of a workspace's files, and changes between them.

A tree maps a relative path (``""`` is the root, ``"src/a.py"``) to an entry, a small dict
with one-letter keys (short, because a tree of 10,000 files is stored at every checkpoint):

``t``  type: ``d`` directory, ``f`` regular file, ``l`` symlink, ``c`` character device,
       ``w`` whiteout (hides the same path of a layer below; only in root workspaces)
``m``  permission bits, ``u``/``g`` owner, ``mt`` mtime in ns
``s``/``b``  size and blob digest of a file; ``h`` hard-link group (files sharing an inode)
``l``  symlink target; ``r`` device number; ``o`` true for an opaque directory

A *delta* has the same shape: the entries a run wrote (its copy-up layer). Applying it removes
what its whiteouts and opaque directories hide, then sets its entries.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import stat as S
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from pocketos.kernel.fs.api import Backend
from pocketos.kernel.fs.memory import Inode, MemoryBackend
from pocketos.kernel.fs.vfs import VFS

__all__ = [
    "Tree",
    "Entry",
    "capture_upper",
    "capture_vfs",
    "capture_host",
    "capture_backend",
    "apply_delta",
    "diff_trees",
    "unified_diff",
    "entry_changed",
]

Entry = dict[str, Any]
Tree = dict[str, Entry]


def _join(rel: str, name: str) -> str:
    return f"{rel}/{name}" if rel else name


def _parent(rel: str) -> str:
    return rel.rpartition("/")[0]


# --- capture -----------------------------------------------------------------------------------
def capture_upper(upper: MemoryBackend) -> tuple[Tree, dict[str, bytes]]:
    """The delta held by an overlay's writable layer (cost proportional to that layer only),
    and the contents of its files by digest."""
    delta: Tree = {}
    blobs: dict[str, bytes] = {}
    groups: dict[int, str] = {}
    token = uuid.uuid4().hex[:12]

    def walk(node: Inode, rel: str) -> None:
        e: Entry = {"m": S.S_IMODE(node.mode), "u": node.uid, "g": node.gid, "mt": node.mtime}
        if node.entries is not None:
            e["t"] = "d"
            if node.opaque:
                e["o"] = True
            delta[rel] = e
            for name, child in node.entries.items():
                walk(child, _join(rel, name))
            return
        if node.target is not None:
            e["t"] = "l"
            e["l"] = node.target
        elif node.data is not None:
            data = bytes(node.data)
            d = hashlib.sha256(data).hexdigest()
            blobs[d] = data
            e.update(t="f", s=len(data), b=d)
            if node.nlink > 1:
                e["h"] = groups.setdefault(node.ino, f"{token}-{node.ino}")
        elif S.S_ISCHR(node.mode) and node.rdev == 0:
            e = {"t": "w"}
        else:
            e["t"] = "c"
            e["r"] = node.rdev
        delta[rel] = e

    walk(upper.root, "")
    del delta[""]  # the mount's root directory itself is not versioned
    return delta, blobs


def capture_vfs(vfs: VFS, path: str) -> tuple[Tree, dict[str, bytes]]:
    """The tree visible at ``path`` in a VM (mounts below it are skipped)."""
    tree: Tree = {}
    blobs: dict[str, bytes] = {}
    groups: dict[tuple[int, int], str] = {}
    token = uuid.uuid4().hex[:12]
    root_mount = vfs.mount_of(path)[0]

    def walk(abs_path: str, rel: str) -> None:
        st = vfs.stat(abs_path, follow_symlinks=False)
        e: Entry = {"m": S.S_IMODE(st.st_mode), "u": st.st_uid, "g": st.st_gid}
        e["mt"] = st.st_mtime_ns
        m = st.st_mode
        if S.S_ISDIR(m):
            e["t"] = "d"
            tree[rel] = e
            for name in sorted(vfs.listdir(abs_path)):
                child = abs_path.rstrip("/") + "/" + name
                if vfs.mount_of(child)[0] == root_mount:
                    walk(child, _join(rel, name))
            return
        if S.S_ISLNK(m):
            e.update(t="l", l=vfs.readlink(abs_path))
        elif S.S_ISREG(m):
            data = vfs.read_file(abs_path)
            d = hashlib.sha256(data).hexdigest()
            blobs[d] = data
            e.update(t="f", s=len(data), b=d)
            if st.st_nlink > 1:
                e["h"] = groups.setdefault((st.st_dev, st.st_ino), f"{token}-{st.st_ino}")
        elif S.S_ISCHR(m):
            e.update(t="c", r=st.st_rdev)
        else:
            return
        tree[rel] = e

    walk(path, "")
    return tree, blobs


def capture_backend(backend: Backend, path: str = "/") -> tuple[Tree, dict[str, bytes]]:
    """The tree of ``path`` in a filesystem backend (for instance a loaded snapshot)."""
    tree: Tree = {}
    blobs: dict[str, bytes] = {}
    groups: dict[int, str] = {}
    token = uuid.uuid4().hex[:12]

    def walk(abs_path: str, rel: str) -> None:
        st = backend.lstat(abs_path)
        e: Entry = {"m": S.S_IMODE(st.st_mode), "u": st.st_uid, "g": st.st_gid}
        e["mt"] = st.st_mtime_ns
        m = st.st_mode
        if S.S_ISDIR(m):
            e["t"] = "d"
            tree[rel] = e
            for name in sorted(backend.listdir(abs_path)):
                walk(abs_path.rstrip("/") + "/" + name, _join(rel, name))
            return
        if S.S_ISLNK(m):
            e.update(t="l", l=backend.readlink(abs_path))
        elif S.S_ISREG(m):
            data = backend.read(abs_path)
            d = hashlib.sha256(data).hexdigest()
            blobs[d] = data
            e.update(t="f", s=len(data), b=d)
            if st.st_nlink > 1:
                e["h"] = groups.setdefault(st.st_ino, f"{token}-{st.st_ino}")
        elif S.S_ISCHR(m):
            e.update(t="c", r=st.st_rdev)
        else:
            return
        tree[rel] = e

    walk(path, "")
    return tree, blobs


def capture_host(root: str | os.PathLike[str]) -> tuple[Tree, dict[str, bytes]]:
    """The tree of a host directory. Symlinks are recorded, never followed; sockets, fifos
    and devices are skipped."""
    base = Path(root)
    if not base.is_dir():
        raise NotADirectoryError(f"not a directory: {base}")
    tree: Tree = {}
    blobs: dict[str, bytes] = {}
    groups: dict[tuple[int, int], str] = {}
    token = uuid.uuid4().hex[:12]

    def walk(p: Path, rel: str) -> None:
        st = os.lstat(p)
        e: Entry = {"m": S.S_IMODE(st.st_mode), "u": 0, "g": 0, "mt": st.st_mtime_ns}
        if S.S_ISDIR(st.st_mode):
            e["t"] = "d"
            tree[rel] = e
            for name in sorted(os.listdir(p)):
                walk(p / name, _join(rel, name))
            return
        if S.S_ISLNK(st.st_mode):
            e.update(t="l", l=os.readlink(p))
        elif S.S_ISREG(st.st_mode):
            data = p.read_bytes()
            d = hashlib.sha256(data).hexdigest()
            blobs[d] = data
            e.update(t="f", s=len(data), b=d)
            if st.st_nlink > 1:
                e["h"] = groups.setdefault((st.st_dev, st.st_ino), f"{token}-{st.st_ino}")
        else:
            return
        tree[rel] = e

    walk(base, "")
    return tree, blobs


# --- applying a run's delta --------------------------------------------------------------------
def _under(path: str, roots: set[str], strict: set[str]) -> bool:
    """True if ``path`` is removed by a removal root: itself or an ancestor in ``roots``, or a
    proper ancestor in ``strict`` (opaque directories keep their own entry)."""
    if path in roots:
        return True
    p = path
    while p:
        p = _parent(p)
        if p in roots or p in strict:
            return True
        if not p:
            break
    return False


def apply_delta(tree: Tree, delta: Tree, *, keep_whiteouts: bool) -> Tree:
    """The tree after a run that wrote ``delta``. ``keep_whiteouts`` (root workspaces, which
    sit on the VM's base image) keeps whiteouts and opaque marks so they still hide it."""
    roots: set[str] = set()
    strict: set[str] = set()
    for p, e in delta.items():
        t = e["t"]
        old = tree.get(p)
        if t == "w":
            roots.add(p)
        elif t == "d" and e.get("o"):
            strict.add(p)
        elif t != "d" and old is not None and old["t"] == "d":
            roots.add(p)
    if roots or strict:
        new = {p: e for p, e in tree.items() if not _under(p, roots, strict)}
    else:
        new = dict(tree)
    for p, e in delta.items():
        if e["t"] == "w":
            if keep_whiteouts:
                new[p] = e
            continue
        if not keep_whiteouts and e.get("o"):
            e = {k: v for k, v in e.items() if k != "o"}
        elif keep_whiteouts and e["t"] == "d" and not e.get("o"):
            prev = tree.get(p)
            if prev is not None and (prev.get("o") or prev["t"] != "d"):
                # still hides the base below: a directory made over an earlier layer's
                # whiteout (or file) is not marked opaque, the layer below ended the stack
                e = dict(e, o=True)
        new[p] = e
    return new


# --- comparing ---------------------------------------------------------------------------------
_SAME_KEYS = ("t", "m", "b", "l", "r")


def entry_changed(a: Entry, b: Entry) -> bool:
    return any(a.get(k) != b.get(k) for k in _SAME_KEYS)


def diff_trees(a: Tree, b: Tree, paths: Iterable[str] | None = None) -> list[tuple[str, str]]:
    """``(status, path)`` for every path that differs (among ``paths`` if given), sorted by
    path; status is ``added``, ``modified`` or ``deleted``. Whiteouts count as absent; owners
    and times are ignored."""
    out: list[tuple[str, str]] = []
    for p in sorted(set(paths) if paths is not None else set(a) | set(b)):
        if not p:
            continue
        ea, eb = a.get(p), b.get(p)
        if ea is not None and ea["t"] == "w":
            ea = None
        if eb is not None and eb["t"] == "w":
            eb = None
        if ea is None and eb is None:
            continue
        if ea is None:
            out.append(("added", p))
        elif eb is None:
            out.append(("deleted", p))
        elif entry_changed(ea, eb):
            out.append(("modified", p))
    return out


def _is_text(data: bytes) -> bool:
    if b"\0" in data[:8192]:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def unified_diff(
    path: str,
    old: Entry | None,
    new: Entry | None,
    content: Callable[[str], bytes],
) -> str:
    """A ``diff -u``-style patch for one path (``Binary files … differ`` for binary files)."""
    a_name = f"a/{path}" if old is not None else "/dev/null"
    b_name = f"b/{path}" if new is not None else "/dev/null"

    def text_of(e: Entry | None) -> bytes | None:
        if e is None or e["t"] == "w":
            return b""
        if e["t"] == "f":
            return content(e["b"])
        if e["t"] == "l":
            return e["l"].encode() + b"\n"
        return None

    if (old is not None and old["t"] == "d") or (new is not None and new["t"] == "d"):
        return ""  # a directory: its files carry the patch
    ta, tb = text_of(old), text_of(new)
    if ta is None or tb is None or not (_is_text(ta) and _is_text(tb)):
        return f"Binary files {a_name} and {b_name} differ\n"
    lines = difflib.unified_diff(
        ta.decode().splitlines(keepends=True),
        tb.decode().splitlines(keepends=True),
        fromfile=a_name,
        tofile=b_name,
    )
    out = []
    for line in lines:
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    if not out and old is not None and new is not None and old.get("m") != new.get("m"):
        return f"mode change {old.get('m', 0):o} => {new.get('m', 0):o} {path}\n"
    return "".join(out)


def blobs_of(trees: Iterable[Tree]) -> set[str]:
    return {e["b"] for t in trees for e in t.values() if e.get("t") == "f"}
