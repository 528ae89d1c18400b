"""The in-memory, inode-based filesystem backend.

Inodes carry mode, uid, gid, nlink and nanosecond timestamps. Directories map names to inodes,
so hard links are two names for one inode. Character-device inodes represent ``/dev/null`` and
friends and, with ``rdev == 0``, overlay whiteouts.
"""

from __future__ import annotations

import errno
import itertools
import stat as S
import time

from pocketos.errors import fs_error
from pocketos.kernel.fs import spill as _spill
from pocketos.kernel.fs.api import Backend, BytesLike, StatResult
from pocketos.kernel.fs.spill import SpillFile

__all__ = [
    "Inode",
    "MemoryBackend",
    "FileData",
    "file_data",
    "DEV_NULL",
    "DEV_ZERO",
    "DEV_URANDOM",
    "DEV_FULL",
]

#: a regular file's bytes: in memory, or past ``spill.THRESHOLD`` in an unnamed host file
FileData = bytearray | SpillFile

_ino_counter = itertools.count(2)
_dev_counter = itertools.count(100)

DEV_NULL = (1 << 8) | 3
DEV_ZERO = (1 << 8) | 5
DEV_FULL = (1 << 8) | 7
DEV_URANDOM = (1 << 8) | 9


class Inode:
    __slots__ = (
        "ino",
        "mode",
        "uid",
        "gid",
        "nlink",
        "atime",
        "mtime",
        "ctime",
        "btime",
        "data",
        "entries",
        "target",
        "rdev",
        "opaque",
    )

    def __init__(self, mode: int, uid: int = 0, gid: int = 0, now: int | None = None) -> None:
        t = time.time_ns() if now is None else now
        self.ino = next(_ino_counter)
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.nlink = 1
        self.atime = self.mtime = self.ctime = self.btime = t
        self.data: FileData | None = None
        self.entries: dict[str, Inode] | None = None
        self.target: str | None = None
        self.rdev = 0
        self.opaque = False

    def size(self) -> int:
        if self.data is not None:
            return len(self.data)
        if self.target is not None:
            return len(self.target.encode("utf-8", "surrogateescape"))
        if self.entries is not None:
            return 4096
        return 0


def _large(size: int) -> bool:
    limit = _spill.THRESHOLD
    return limit is not None and size >= limit


def _to_host(data: bytearray) -> FileData:
    moved = _spill.spill(data)
    return data if moved is None else moved


def _to_memory(data: SpillFile) -> bytearray:
    _spill.refused()
    return bytearray(bytes(data))


def file_data(data: BytesLike) -> FileData:
    """Storage for a file's bytes: a host file past ``spill.THRESHOLD``, else memory."""
    if _large(len(data)):
        f = _spill.spill(data)
        if f is not None:
            return f
    return bytearray(data)


#: names kept in ``MemoryBackend.additions`` before it starts over
_MAX_ADDED = 4096

#: bumped after any memory backend gains, loses or moves a name (its ``generation`` or
#: ``additions`` changed), and after any change of an overlay's layers or of a VFS's mounts
#: (:func:`namespace_changed`): while it stays the same, every path of the memory backends,
#: overlays over them and VFSs over those names the inode it named before, so a cache keyed
#: on it needs no other check (the VFS's resolutions, the overlay's lookups, an open file's
#: inode)
changes = 0


def namespace_changed() -> None:
    """Count a change of names made outside a memory backend (an overlay's layers, a VFS's
    mount table) in ``changes``, so caches keyed on it start over."""
    global changes
    changes += 1


#: bumped after the bytes of a file in any memory backend change (a write, a truncation):
#: with ``changes`` it proves that nothing a memory backend holds changed in between
writes = 0


class MemoryBackend(Backend):
    """Inode-based in-memory filesystem.

    ``max_bytes``/``max_inodes``/``max_file_size`` (``None``: unlimited) make writes fail with
    ENOSPC/EFBIG. ``uid``/``gid`` own what is created.
    """

    kind = "memory"

    def __init__(
        self,
        *,
        readonly: bool = False,
        max_bytes: int | None = None,
        max_inodes: int | None = None,
        max_file_size: int | None = None,
        uid: int = 0,
        gid: int = 0,
        root_mode: int = 0o755,
    ) -> None:
        self.readonly = readonly
        self.max_bytes = max_bytes
        self.max_inodes = max_inodes
        self.max_file_size = max_file_size
        self.uid = uid
        self.gid = gid
        self.dev = next(_dev_counter)
        self.root = Inode(S.S_IFDIR | root_mode, uid, gid)
        self.root.entries = {}
        self.root.nlink = 2
        self.bytes_used = 0
        self.inodes_used = 1
        self.generation: int = 0
        #: names added since ``generation`` last changed (the overlay drops just those from its
        #: lookup cache); past ``_MAX_ADDED`` the list starts over and ``generation`` moves on
        self.additions: list[str] = []

    # --- helpers -------------------------------------------------------------------------
    def _ro(self, path: str) -> None:
        if self.readonly:
            raise fs_error(errno.EROFS, path)

    def _added(self, path: str) -> None:
        global changes
        additions = self.additions
        if len(additions) >= _MAX_ADDED:
            additions.clear()
            self.generation += 1
        additions.append("/" + "/".join(p for p in path.split("/") if p))
        changes += 1

    def _moved(self) -> None:
        """A name was lost or moved: lookups cached by generation start over."""
        global changes
        self.generation += 1
        changes += 1

    def _get(self, path: str) -> Inode:
        node = self.root
        if path == "/":
            return node
        for part in path.split("/"):
            if not part:
                continue
            entries = node.entries
            if entries is None:
                raise fs_error(errno.ENOTDIR, path)
            child = entries.get(part)
            if child is None:
                raise fs_error(errno.ENOENT, path)
            node = child
        return node

    def lookup(self, path: str) -> Inode | None:
        """The inode at ``path``, or None (missing, or under a non-directory)."""
        node = self.root
        for part in path.split("/"):
            if part:
                entries = node.entries
                if entries is None:
                    return None
                child = entries.get(part)
                if child is None:
                    return None
                node = child
        return node

    def _parent(self, path: str) -> tuple[Inode, str]:
        head, _, name = path.rstrip("/").rpartition("/")
        if not name:
            raise fs_error(errno.EEXIST if path == "/" else errno.ENOENT, path)
        parent = self._get(head or "/")
        if parent.entries is None:
            raise fs_error(errno.ENOTDIR, path)
        return parent, name

    def _new_inode(self, mode: int, path: str) -> Inode:
        if self.max_inodes is not None and self.inodes_used >= self.max_inodes:
            raise fs_error(errno.ENOSPC, path, "No space left on device (inode limit)")
        self.inodes_used += 1
        return Inode(mode, self.uid, self.gid)

    def _grow(self, delta: int, path: str, new_size: int) -> None:
        if delta <= 0:
            return
        if self.max_file_size is not None and new_size > self.max_file_size:
            raise fs_error(errno.EFBIG, path, "File too large")
        if self.max_bytes is not None and self.bytes_used + delta > self.max_bytes:
            raise fs_error(errno.ENOSPC, path, "No space left on device")

    def _drop(self, node: Inode) -> None:
        node.nlink -= 1
        if node.nlink <= 0 or (node.entries is not None and node.nlink <= 1):
            self.inodes_used -= 1
            if node.data is not None:
                self.bytes_used -= len(node.data)

    @staticmethod
    def stat_of(node: Inode, dev: int = 0) -> StatResult:
        return StatResult(
            node.mode,
            node.ino,
            dev,
            node.nlink,
            node.uid,
            node.gid,
            node.size(),
            node.atime,
            node.mtime,
            node.ctime,
            node.btime,
            node.rdev,
        )

    # --- queries -------------------------------------------------------------------------
    def lstat(self, path: str) -> StatResult:
        n = self._get(path)
        return StatResult(
            n.mode,
            n.ino,
            self.dev,
            n.nlink,
            n.uid,
            n.gid,
            n.size(),
            n.atime,
            n.mtime,
            n.ctime,
            n.btime,
            n.rdev,
        )

    def listdir(self, path: str) -> list[str]:
        n = self._get(path)
        if n.entries is None:
            raise fs_error(errno.ENOTDIR, path)
        return list(n.entries)

    def lstat_entries(self, path: str) -> dict[str, StatResult] | None:
        node = self.lookup(path)
        if node is None or node.entries is None:
            return None
        dev = self.dev
        return {name: self.stat_of(child, dev) for name, child in node.entries.items()}

    def readlink(self, path: str) -> str:
        n = self._get(path)
        if n.target is None:
            raise fs_error(errno.EINVAL, path)
        return n.target

    def read(self, path: str, offset: int = 0, size: int = -1) -> bytes:
        n = self._get(path)
        if n.data is None:
            if n.entries is not None:
                raise fs_error(errno.EISDIR, path)
            if n.rdev:
                return b""
            raise fs_error(errno.EINVAL, path)
        data = n.data
        if isinstance(data, SpillFile):
            return data.pread(offset, data.size if size < 0 else size)
        if offset == 0 and (size < 0 or size >= len(data)):
            return bytes(data)
        if offset >= len(data):
            return b""
        end = len(data) if size < 0 else offset + size
        with memoryview(data) as view:  # one copy, not a slice and then its bytes
            return view[offset:end].tobytes()

    def read_view(self, path: str, offset: int, size: int) -> bytes | memoryview:
        n = self._get(path)
        data = n.data
        if data is None or isinstance(data, SpillFile):
            return self.read(path, offset, size)  # a host file's bytes: one copy
        end = len(data) if size < 0 else offset + size
        with memoryview(data) as whole:  # the slice keeps its own hold on the buffer
            return whole[offset:end].toreadonly()

    def host_file(self, path: str) -> tuple[int, int] | None:
        data = self._get(path).data
        return (data.fd, data.size) if isinstance(data, SpillFile) else None

    def node_of(self, path: str) -> Inode | None:
        return self.lookup(path)

    def is_opaque(self, path: str) -> bool:
        n = self.lookup(path)
        return bool(n is not None and n.opaque)

    def usage(self) -> tuple[int, int]:
        return (self.bytes_used, self.inodes_used)

    def change_token(self) -> object:
        # every memory backend counts into the same two counters: cheaper to check than a
        # counter per backend, and only too cautious
        return (changes, writes)

    # --- mutations -----------------------------------------------------------------------
    def create(
        self, path: str, mode: int = 0o644, exclusive: bool = False, truncate: bool = True
    ) -> None:
        self._ro(path)
        parent, name = self._parent(path)
        assert parent.entries is not None
        existing = parent.entries.get(name)
        if existing is not None:
            if exclusive:
                raise fs_error(errno.EEXIST, path)
            if existing.entries is not None:
                raise fs_error(errno.EISDIR, path)
            if truncate and existing.data is not None and existing.data:
                self.bytes_used -= len(existing.data)
                existing.data = bytearray()
                existing.mtime = existing.ctime = time.time_ns()
                global writes
                writes += 1
            return
        node = self._new_inode(S.S_IFREG | (mode & 0o7777), path)
        node.data = bytearray()
        parent.entries[name] = node
        self._added(path)
        parent.mtime = parent.ctime = node.btime

    def write(self, path: str, data: BytesLike, offset: int | None = None) -> int:
        self._ro(path)
        n = self._get(path)
        buf = n.data
        if buf is None:
            if n.entries is not None:
                raise fs_error(errno.EISDIR, path)
            if n.rdev:
                return len(data)
            raise fs_error(errno.EINVAL, path)
        old = len(buf)
        if offset is None:
            offset = old
        end = offset + len(data)
        new = max(old, end)
        self._grow(new - old, path, new)
        if not isinstance(buf, SpillFile) and new > old and _large(new):
            # a file growing past the threshold moves to a host file (spill.py says why)
            buf = n.data = _to_host(buf)
        if isinstance(buf, SpillFile):
            try:
                buf.pwrite(offset, data)
            except OSError:
                buf = n.data = _to_memory(buf)  # the host refused: the write is made in memory
        if not isinstance(buf, SpillFile):
            if offset == old:
                buf += data
            else:
                if offset > old:
                    buf += b"\0" * (offset - old)
                buf[offset:end] = data
        self.bytes_used += new - old
        n.mtime = n.ctime = time.time_ns()
        global writes
        writes += 1
        return len(data)

    def copy_from_host(self, path: str, fd: int, size: int) -> bool:
        """Fill the empty file ``path`` with the first ``size`` bytes of host file ``fd`` (a
        copy the host kernel makes, into a host file of its own), under the same limits as a
        write; False, changing nothing, when the file would stay in memory (then write it)."""
        self._ro(path)
        n = self._get(path)
        if n.data is None or len(n.data) or not _large(size):
            return False
        self._grow(size, path, size)
        f = _spill.spill_copy(fd, size)
        if f is None:
            return False
        n.data = f
        self.bytes_used += size
        n.mtime = n.ctime = time.time_ns()
        global writes
        writes += 1
        return True

    def truncate(self, path: str, size: int) -> None:
        self._ro(path)
        if size < 0:
            raise fs_error(errno.EINVAL, path)
        n = self._get(path)
        if n.data is None:
            raise fs_error(errno.EISDIR if n.entries is not None else errno.EINVAL, path)
        old = len(n.data)
        self._grow(size - old, path, size)
        data = n.data
        if not isinstance(data, SpillFile) and size > old and _large(size):
            # to a host file: the new bytes are a hole there, not zeroed memory
            data = n.data = _to_host(data)
        if isinstance(data, SpillFile):
            try:
                data.truncate(size)
            except OSError:
                data = n.data = _to_memory(data)
        if not isinstance(data, SpillFile):
            if size < old:
                del data[size:]
            else:
                data += b"\0" * (size - old)
        self.bytes_used += size - old
        n.mtime = n.ctime = time.time_ns()
        global writes
        writes += 1

    def mkdir(self, path: str, mode: int = 0o755) -> None:
        self._ro(path)
        parent, name = self._parent(path)
        assert parent.entries is not None
        if name in parent.entries:
            raise fs_error(errno.EEXIST, path)
        node = self._new_inode(S.S_IFDIR | (mode & 0o7777), path)
        node.entries = {}
        node.nlink = 2
        parent.entries[name] = node
        self._added(path)
        parent.nlink += 1
        parent.mtime = parent.ctime = node.btime

    def rmdir(self, path: str) -> None:
        self._ro(path)
        parent, name = self._parent(path)
        assert parent.entries is not None
        node = parent.entries.get(name)
        if node is None:
            raise fs_error(errno.ENOENT, path)
        if node.entries is None:
            raise fs_error(errno.ENOTDIR, path)
        if node.entries:
            raise fs_error(errno.ENOTEMPTY, path)
        del parent.entries[name]
        self._moved()
        parent.nlink -= 1
        parent.mtime = parent.ctime = time.time_ns()
        self.inodes_used -= 1

    def unlink(self, path: str) -> None:
        self._ro(path)
        parent, name = self._parent(path)
        assert parent.entries is not None
        node = parent.entries.get(name)
        if node is None:
            raise fs_error(errno.ENOENT, path)
        if node.entries is not None:
            raise fs_error(errno.EISDIR, path)
        del parent.entries[name]
        self._moved()
        self._drop(node)
        now = time.time_ns()
        node.ctime = now
        parent.mtime = parent.ctime = now

    def rename(self, src: str, dst: str) -> None:
        self._ro(src)
        sparent, sname = self._parent(src)
        dparent, dname = self._parent(dst)
        assert sparent.entries is not None and dparent.entries is not None
        node = sparent.entries.get(sname)
        if node is None:
            raise fs_error(errno.ENOENT, src)
        if node.entries is not None:
            # moving a directory into its own subtree is EINVAL
            s_parts = [p for p in src.split("/") if p]
            d_parts = [p for p in dst.split("/") if p]
            if d_parts[: len(s_parts)] == s_parts and len(d_parts) > len(s_parts):
                raise fs_error(errno.EINVAL, src, path2=dst)
        target = dparent.entries.get(dname)
        if target is node:
            return
        if target is not None:
            if node.entries is not None:
                if target.entries is None:
                    raise fs_error(errno.ENOTDIR, dst)
                if target.entries:
                    raise fs_error(errno.ENOTEMPTY, dst)
                dparent.nlink -= 1
                self.inodes_used -= 1
            else:
                if target.entries is not None:
                    raise fs_error(errno.EISDIR, dst)
                self._drop(target)
        del sparent.entries[sname]
        self._moved()
        dparent.entries[dname] = node
        self._moved()
        if node.entries is not None and sparent is not dparent:
            sparent.nlink -= 1
            dparent.nlink += 1
        now = time.time_ns()
        node.ctime = now
        sparent.mtime = sparent.ctime = dparent.mtime = dparent.ctime = now

    def symlink(self, target: str, path: str) -> None:
        self._ro(path)
        parent, name = self._parent(path)
        assert parent.entries is not None
        if name in parent.entries:
            raise fs_error(errno.EEXIST, path)
        node = self._new_inode(S.S_IFLNK | 0o777, path)
        node.target = target
        parent.entries[name] = node
        self._added(path)
        parent.mtime = parent.ctime = node.btime

    def link(self, src: str, dst: str) -> None:
        self._ro(dst)
        node = self._get(src)
        if node.entries is not None:
            raise fs_error(errno.EPERM, src, path2=dst)
        parent, name = self._parent(dst)
        assert parent.entries is not None
        if name in parent.entries:
            raise fs_error(errno.EEXIST, dst)
        parent.entries[name] = node
        self._added(dst)
        node.nlink += 1
        now = time.time_ns()
        node.ctime = now
        parent.mtime = parent.ctime = now

    def chmod(self, path: str, mode: int) -> None:
        self._ro(path)
        n = self._get(path)
        n.mode = (n.mode & ~0o7777) | (mode & 0o7777)
        n.ctime = time.time_ns()

    def chown(self, path: str, uid: int, gid: int) -> None:
        self._ro(path)
        n = self._get(path)
        if uid != -1:
            n.uid = uid
        if gid != -1:
            n.gid = gid
        n.ctime = time.time_ns()

    def utimens(self, path: str, atime_ns: int | None, mtime_ns: int | None) -> None:
        self._ro(path)
        n = self._get(path)
        if atime_ns is not None:
            n.atime = atime_ns
        if mtime_ns is not None:
            n.mtime = mtime_ns
        n.ctime = time.time_ns()

    # --- special nodes (used by the overlay and the base image) ------------------------------
    def mknod(self, path: str, mode: int, rdev: int) -> None:
        self._ro(path)
        parent, name = self._parent(path)
        assert parent.entries is not None
        if name in parent.entries:
            raise fs_error(errno.EEXIST, path)
        node = self._new_inode(S.S_IFCHR | (mode & 0o7777), path)
        node.rdev = rdev
        parent.entries[name] = node
        self._moved()

    def set_opaque(self, path: str, opaque: bool = True) -> None:
        self._get(path).opaque = opaque
        self._moved()

    def freeze(self) -> MemoryBackend:
        """Make this backend read-only (it can then be shared as a lower layer)."""
        self.readonly = True
        return self
