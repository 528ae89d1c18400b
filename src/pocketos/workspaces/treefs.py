"""A read-only filesystem layer serving a tree from the object store.

Opening reads nothing but the manifest's root: the chunk holding a path is read on the first
lookup that needs it, and a file's blob is fetched and digest-checked on its first read. The layer is a normal overlay lower: it may
carry whiteouts and opaque directories (root workspaces sit on the VM's base image).
"""

from __future__ import annotations

import errno
import itertools
import stat as S

from pocketos.errors import fs_error
from pocketos.kernel.fs.api import Backend, BytesLike, StatResult
from pocketos.workspaces.errors import CorruptObjectError
from pocketos.workspaces.manifest import DictManifest, Manifest
from pocketos.workspaces.objects import ObjectStore
from pocketos.workspaces.tree import Entry, Tree

__all__ = ["TreeBackend"]

_dev_counter = itertools.count(1 << 20)
_TYPE = {"d": S.S_IFDIR, "f": S.S_IFREG, "l": S.S_IFLNK, "c": S.S_IFCHR, "w": S.S_IFCHR}


def _rel(path: str) -> str:
    return path.strip("/")


class TreeBackend(Backend):
    """``tree`` (a manifest, or a whole tree in memory) served read-only; file contents come
    from ``objects`` on first read."""

    kind = "workspace"
    #: the served tree never changes (a commit puts a new layer in its place), so overlays
    #: above it may cache their lookups
    immutable = True

    def __init__(self, tree: Tree | Manifest | DictManifest, objects: ObjectStore) -> None:
        self.manifest: Manifest | DictManifest = (
            DictManifest(tree) if isinstance(tree, dict) else tree
        )
        self.objects = objects
        self.readonly = True
        self.dev = next(_dev_counter)
        self._inos: dict[int, str] | None = None  # inode number -> hard-link group

    @property
    def tree(self) -> Tree:
        """The whole tree (reads every chunk of a stored manifest)."""
        return self.manifest.to_dict()

    def _ino(self, rel: str, e: Entry) -> int:
        """A stable inode number: the names of one hard-linked file share it."""
        return (hash(e.get("h") or rel) & 0x7FFFFFFFFFFF) | 2

    def _nlink(self, e: Entry) -> int:
        h = e.get("h")
        if not h:
            return 1
        return max(len(self.manifest.links(h)), 1)

    def aliases(self, ino: int) -> list[str]:
        """Every path naming the hard-linked file with inode ``ino`` (for overlay copy-up)."""
        if self._inos is None:
            self._inos = {self._ino("", {"h": h}): h for h in self.manifest.groups()}
        h = self._inos.get(ino)
        return ["/" + p for p in self.manifest.links(h)] if h is not None else []

    def _entry(self, path: str) -> tuple[str, Entry]:
        rel = _rel(path)
        get = self.manifest.get
        e = get(rel)
        if e is None:
            parent = rel
            while parent:
                parent = parent.rpartition("/")[0]
                pe = get(parent)
                if pe is not None and pe["t"] != "d":
                    raise fs_error(errno.ENOTDIR, path)
                if pe is not None:
                    break
            raise fs_error(errno.ENOENT, path)
        return rel, e

    def lstat(self, path: str) -> StatResult:
        rel, e = self._entry(path)
        t = e["t"]
        if t == "w":
            mode = S.S_IFCHR
            return StatResult(mode, self._ino(rel, e), self.dev, 1, 0, 0, 0, 0, 0, 0, 0, 0)
        mt = int(e.get("mt", 0))
        if t == "f":
            size = int(e["s"])
            nlink = self._nlink(e)
        elif t == "l":
            size = len(e["l"].encode("utf-8", "surrogateescape"))
            nlink = 1
        elif t == "d":
            size = 4096
            nlink = 2
            for n in self.manifest.children(rel):
                child = self.manifest.get(_j(rel, n))
                if child is not None and child["t"] == "d":
                    nlink += 1
        else:
            size, nlink = 0, 1
        return StatResult(
            _TYPE[t] | int(e.get("m", 0)),
            self._ino(rel, e),
            self.dev,
            nlink,
            int(e.get("u", 0)),
            int(e.get("g", 0)),
            size,
            mt,
            mt,
            mt,
            mt,
            int(e.get("r", 0)),
        )

    def listdir(self, path: str) -> list[str]:
        rel, e = self._entry(path)
        if e["t"] != "d":
            raise fs_error(errno.ENOTDIR, path)
        return self.manifest.children(rel)

    def readlink(self, path: str) -> str:
        _, e = self._entry(path)
        if e["t"] != "l":
            raise fs_error(errno.EINVAL, path)
        return str(e["l"])

    def read(self, path: str, offset: int = 0, size: int = -1) -> bytes:
        _, e = self._entry(path)
        t = e["t"]
        if t == "d":
            raise fs_error(errno.EISDIR, path)
        if t == "c":
            return b""
        if t != "f":
            raise fs_error(errno.EINVAL, path)
        try:
            data = self.objects.get(e["b"]) if e["s"] else b""
        except CorruptObjectError as exc:
            # reported like a failing disk: EIO with the reason, never the wrong bytes
            raise fs_error(errno.EIO, path, f"Input/output error ({exc})") from None
        if offset == 0 and size < 0:
            return data
        return data[offset : (len(data) if size < 0 else offset + size)]

    def is_opaque(self, path: str) -> bool:
        e = self.manifest.get(_rel(path))
        return bool(e is not None and e.get("o"))

    # --- every mutation is refused: the layer is sealed --------------------------------------
    def _rofs(self, path: str) -> OSError:
        return fs_error(errno.EROFS, path)

    def create(
        self, path: str, mode: int = 0o644, exclusive: bool = False, truncate: bool = True
    ) -> None:
        raise self._rofs(path)

    def write(self, path: str, data: BytesLike, offset: int | None = None) -> int:
        raise self._rofs(path)

    def truncate(self, path: str, size: int) -> None:
        raise self._rofs(path)

    def mkdir(self, path: str, mode: int = 0o755) -> None:
        raise self._rofs(path)

    def rmdir(self, path: str) -> None:
        raise self._rofs(path)

    def unlink(self, path: str) -> None:
        raise self._rofs(path)

    def rename(self, src: str, dst: str) -> None:
        raise self._rofs(src)

    def symlink(self, target: str, path: str) -> None:
        raise self._rofs(path)

    def link(self, src: str, dst: str) -> None:
        raise self._rofs(dst)

    def chmod(self, path: str, mode: int) -> None:
        raise self._rofs(path)

    def chown(self, path: str, uid: int, gid: int) -> None:
        raise self._rofs(path)

    def utimens(self, path: str, atime_ns: int | None, mtime_ns: int | None) -> None:
        raise self._rofs(path)

    def mknod(self, path: str, mode: int, rdev: int) -> None:
        raise self._rofs(path)


def _j(rel: str, name: str) -> str:
    return f"{rel}/{name}" if rel else name
