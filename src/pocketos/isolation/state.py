"""A process-isolated VM's committed state: its root filesystem's writable layer.

The worker sends the layer to the host after every request that changed it; the host keeps the
latest copy and hands it to the next worker when one dies. The format is a plain dict that
travels in a protocol frame:

``{"format": "pocketos-upper", "version": 1, "nodes": [...], "data": [bytes, ...]}``

Each node is ``[path, kind, mode, uid, gid, atime, mtime, ctime, extra, opaque, link]`` in
depth-first order (a directory before its children); ``kind`` is ``d`` (directory), ``f``
(file: ``extra`` indexes ``data``), ``l`` (symlink: ``extra`` is the target), ``c`` (device or
whiteout: ``extra`` is rdev); ``link`` names the first path of an inode seen before (a hard
link), or is null. A restoring worker validates everything: the state came from a worker, and
workers are not trusted.
"""

from __future__ import annotations

import hashlib
import stat as S
from typing import Any

from pocketos.kernel.fs.memory import Inode, MemoryBackend, file_data

__all__ = ["capture", "fingerprint", "restore", "StateError"]

FORMAT = "pocketos-upper"
VERSION = 1


class StateError(ValueError):
    """A committed state that cannot be restored."""


def _walk(root: Inode) -> list[tuple[str, Inode]]:
    out: list[tuple[str, Inode]] = [("/", root)]
    stack: list[tuple[str, Inode]] = [("", root)]
    while stack:
        prefix, node = stack.pop()
        assert node.entries is not None
        for name in sorted(node.entries, reverse=True):
            child = node.entries[name]
            path = f"{prefix}/{name}"
            out.append((path, child))
            if child.entries is not None:
                stack.append((path, child))
    # depth first with parents before children, in a stable order
    out.sort(key=lambda item: item[0].split("/"))
    return out


def fingerprint(upper: MemoryBackend) -> str:
    """A digest of the layer's metadata that changes whenever its content does (every
    mutation sets mtime or ctime); cheap next to :func:`capture`."""
    h = hashlib.blake2b(digest_size=16)
    for path, node in _walk(upper.root):
        h.update(
            f"{path}\0{node.ino}\0{node.mode}\0{node.mtime}\0{node.ctime}\0"
            f"{node.size()}\0{node.nlink}\0{node.opaque}\0{node.uid}\0{node.gid}\n".encode(
                "utf-8", "surrogateescape"
            )
        )
    return h.hexdigest()


def capture(upper: MemoryBackend) -> dict[str, Any]:
    nodes: list[list[Any]] = []
    data: list[bytes] = []
    first: dict[int, str] = {}
    for path, node in _walk(upper.root):
        link = first.get(node.ino)
        if link is not None:
            nodes.append([path, "h", 0, 0, 0, 0, 0, 0, None, False, link])
            continue
        first[node.ino] = path
        extra: Any
        if node.entries is not None:
            kind, extra = "d", None
        elif node.target is not None:
            kind, extra = "l", node.target
        elif S.S_ISCHR(node.mode):
            kind, extra = "c", node.rdev
        else:
            kind, extra = "f", len(data)
            data.append(bytes(node.data or b""))
        nodes.append(
            [
                path,
                kind,
                node.mode,
                node.uid,
                node.gid,
                node.atime,
                node.mtime,
                node.ctime,
                extra,
                node.opaque,
                None,
            ]
        )
    return {"format": FORMAT, "version": VERSION, "nodes": nodes, "data": data}


def _int(v: Any, what: str) -> int:
    if type(v) is not int or v < 0:
        raise StateError(f"bad {what} in committed state: {v!r}")
    return v


def restore(state: Any, **limits: Any) -> MemoryBackend:
    """Rebuild a writable layer (with the VM's fs limits) from :func:`capture`'s output."""
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise StateError("not a committed VM state")
    if state.get("version") != VERSION:
        raise StateError(f"unsupported committed state version {state.get('version')!r}")
    nodes, data = state.get("nodes"), state.get("data")
    if not isinstance(nodes, list) or not isinstance(data, list):
        raise StateError("committed state lacks nodes or data")
    fs = MemoryBackend(**limits)
    by_path: dict[str, Inode] = {"/": fs.root}
    inodes = 1
    size = 0
    for item in nodes:
        if not isinstance(item, list) or len(item) != 11:
            raise StateError(f"bad node in committed state: {item!r:.80}")
        path, kind, mode, uid, gid, atime, mtime, ctime, extra, opaque, link = item
        if not isinstance(path, str) or not path.startswith("/") or "\0" in path:
            raise StateError(f"bad path in committed state: {path!r:.80}")
        if path == "/":
            node = fs.root
        else:
            head, _, name = path.rpartition("/")
            parent = by_path.get(head or "/")
            if parent is None or parent.entries is None or name in ("", ".", ".."):
                raise StateError(f"committed state names {path!r} without its directory")
            if name in parent.entries:
                raise StateError(f"committed state names {path!r} twice")
            if kind == "h":
                target = by_path.get(link) if isinstance(link, str) else None
                if target is None or target.entries is not None:
                    raise StateError(f"bad hard link in committed state: {path!r}")
                target.nlink += 1
                parent.entries[name] = target
                by_path[path] = target
                continue
            node = Inode(_int(mode, "mode"))
            inodes += 1
            parent.entries[name] = node
            by_path[path] = node
        node.mode = _int(mode, "mode")
        node.uid, node.gid = _int(uid, "uid"), _int(gid, "gid")
        node.atime, node.mtime = _int(atime, "atime"), _int(mtime, "mtime")
        node.ctime = _int(ctime, "ctime")
        node.opaque = bool(opaque)
        if kind == "d":
            if not S.S_ISDIR(node.mode):
                raise StateError(f"directory {path!r} has a non-directory mode")
            if node.entries is None:
                node.entries = {}
                node.nlink = 2
        elif path == "/":
            raise StateError("the root of a committed state must be a directory")
        elif kind == "f":
            idx = _int(extra, "data index")
            if idx >= len(data) or not isinstance(data[idx], bytes):
                raise StateError(f"file {path!r} has no data")
            node.data = file_data(data[idx])
            size += len(node.data)
        elif kind == "l":
            if not isinstance(extra, str):
                raise StateError(f"symlink {path!r} has no target")
            node.target = extra
        elif kind == "c":
            node.rdev = _int(extra, "rdev")
        else:
            raise StateError(f"unknown node kind {kind!r} in committed state")
    fs.inodes_used = inodes
    fs.bytes_used = size
    return fs
