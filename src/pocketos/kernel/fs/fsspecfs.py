"""A backend over any fsspec filesystem (S3, GCS, HTTP, zip, memory ...).

fsspec filesystems are mostly object stores: no symlinks, no hard links, no permission bits,
often no real directories. This backend maps the POSIX-like contract onto them:

- Directories: a path is a directory if the filesystem says so (on object stores: some key has
  it as a prefix) or if it was made with :meth:`FsspecBackend.mkdir` during this backend's
  life. Empty directories on a store without directory objects therefore exist only in memory;
  a directory that loses its last file through this backend stays visible.
- Writes: fsspec has no partial writes, so writing at an offset, appending and truncating read
  the whole object, patch it and upload it again — O(file size) per call.
- Renaming a directory moves its files one by one (not atomic on object stores).
- Symlinks and hard links: EPERM. Permission bits: reported (0644 files, 0755 directories, or
  the filesystem's own ``mode`` when it has one) but cannot be changed (ENOTSUP). Owners are
  the backend's ``uid``/``gid``.
- Timestamps come from ``info()`` (``mtime``, ``LastModified``, ``created`` ...); times set
  with :meth:`FsspecBackend.utimens` are kept in memory for this backend's life.
"""

from __future__ import annotations

import errno
import hashlib
import itertools
import posixpath
import stat as S
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar

from pocketos.errors import fs_error
from pocketos.kernel.fs.api import Backend, BytesLike, StatResult

__all__ = ["FsspecBackend"]

T = TypeVar("T")

_dev_counter = itertools.count(0x5000)
_TIME_KEYS = (
    "mtime",
    "LastModified",
    "last_modified",
    "modified",
    "updated",
    "mtime_ns",
    "created",
    "ctime",
    "time",
)


def _to_ns(value: Any) -> int | None:
    """A timestamp from ``info()`` in nanoseconds (datetime, epoch seconds or ISO text)."""
    try:
        if isinstance(value, datetime):
            return int(value.timestamp() * 1_000_000) * 1000
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            # ns, ms or s since the epoch, judged by magnitude
            if value > 10**17:
                return value
            if value > 10**11:
                return value * 1_000_000
            return value * 1_000_000_000
        if isinstance(value, float):
            return int(value * 1_000_000) * 1000
        if isinstance(value, str) and value:
            return (
                int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1_000_000)
                * 1000
            )
    except (ValueError, OverflowError, OSError):
        return None
    return None


def _parent_of(path: str) -> str:
    return posixpath.dirname(path.rstrip("/")) or "/"


def _join(path: str, name: str) -> str:
    return path.rstrip("/") + "/" + name


class FsspecBackend(Backend):
    """``fs`` (an ``fsspec.AbstractFileSystem``) under ``root`` as a backend."""

    kind = "fsspec"
    supports_symlinks = False
    supports_hardlinks = False
    supports_chmod = False
    supports_chown = False

    def __init__(
        self, fs: Any, root: str = "", *, readonly: bool = False, uid: int = 0, gid: int = 0
    ) -> None:
        if "\0" in root:
            raise fs_error(errno.EINVAL, root.replace("\0", "\\0"))
        self.fs = fs
        strip = getattr(fs, "_strip_protocol", None)
        root = strip(root) if (strip is not None and root) else root
        self.root = str(root).rstrip("/")
        self.readonly = readonly
        self.uid = uid
        self.gid = gid
        self.dev = next(_dev_counter)
        protocol = getattr(fs, "protocol", "fsspec")
        self.protocol = protocol[0] if isinstance(protocol, (tuple, list)) else str(protocol)
        self.kind = f"fsspec:{self.protocol}"
        self._born = time.time_ns()
        #: directories known to exist even when the store holds nothing under them
        self._dirs: dict[str, int] = {}
        #: times set by utimens: path -> (atime_ns, mtime_ns)
        self._times: dict[str, tuple[int, int]] = {}
        #: status-change times of changes made through this backend
        self._ctimes: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"FsspecBackend({self.protocol}:{self.root or '/'})"

    # --- plumbing ----------------------------------------------------------------------------
    def _full(self, path: str) -> str:
        if path in ("", "/"):
            return self.root or "/"
        return self.root + path

    @staticmethod
    def _check(path: str) -> str:
        if "\0" in path:
            raise fs_error(
                errno.EINVAL, path.replace("\0", "\\0"), "Invalid argument (NUL byte in path)"
            )
        parts = [p for p in path.split("/") if p and p != "."]
        if ".." in parts:
            raise fs_error(errno.EINVAL, path, "Invalid argument ('..' in a backend path)")
        return "/" + "/".join(parts)

    @contextmanager
    def _errors(self, path: str, path2: str | None = None) -> Iterator[None]:
        """Turn whatever the filesystem raises into an OSError naming the backend path."""
        try:
            yield
        except OSError as e:
            code = e.errno if isinstance(e.errno, int) and e.errno else _errno_of(e)
            raise fs_error(code, path, None, path2) from None
        except LookupError:
            raise fs_error(errno.ENOENT, path, None, path2) from None
        except NotImplementedError:
            raise fs_error(
                errno.EOPNOTSUPP,
                path,
                f"Operation not supported by the {self.protocol} filesystem",
                path2,
            ) from None
        except ValueError as e:
            raise fs_error(errno.EINVAL, path, f"Invalid argument ({e})", path2) from None
        except Exception as e:  # network and service errors of the store
            raise fs_error(
                errno.EIO, path, f"Input/output error ({type(e).__name__}: {e})", path2
            ) from None

    def _call(self, path: str, fn: Callable[[], T], path2: str | None = None) -> T:
        with self._errors(path, path2):
            return fn()

    def _ro(self, path: str) -> None:
        if self.readonly:
            raise fs_error(errno.EROFS, path)

    def _info(self, path: str) -> dict[str, Any] | None:
        """``info()`` of ``path`` with ``type`` ``file``/``directory``; None if missing."""
        if path == "/":
            return {"type": "directory", "size": 0}
        try:
            with self._errors(path):
                info = self.fs.info(self._full(path))
        except (FileNotFoundError, NotADirectoryError):
            info = None
        if info is None or info.get("type") not in ("file", "directory"):
            if path in self._dirs:
                return {"type": "directory", "size": 0}
            return None
        return dict(info)

    def _need(self, path: str) -> dict[str, Any]:
        """``info()`` of an existing ``path`` (ENOENT, or ENOTDIR when a parent is a file)."""
        info = self._info(path)
        if info is None:
            self._missing(path)
        assert info is not None
        return info

    def _missing(self, path: str) -> None:
        parent = _parent_of(path)
        while parent != "/":
            pinfo = self._info(parent)
            if pinfo is not None:
                if pinfo["type"] != "directory":
                    raise fs_error(errno.ENOTDIR, path)
                break
            parent = _parent_of(parent)
        raise fs_error(errno.ENOENT, path)

    def _need_parent(self, path: str) -> None:
        if path == "/":
            return
        parent = _parent_of(path)
        pinfo = self._info(parent)
        if pinfo is None:
            self._missing(parent)
        elif pinfo["type"] != "directory":
            raise fs_error(errno.ENOTDIR, path)

    def _touched(self, path: str, *, content: bool = False) -> None:
        now = time.time_ns()
        self._ctimes[path] = now
        if content:
            self._times.pop(path, None)

    def _remember_parent(self, path: str) -> None:
        """Keep a directory visible after its last object is removed or moved away."""
        parent = _parent_of(path)
        if parent != "/":
            self._dirs.setdefault(parent, time.time_ns())
        self._touched(parent)

    def _read_all(self, path: str, info: dict[str, Any]) -> bytes:
        if not int(info.get("size") or 0):
            return b""
        data = self._call(path, lambda: self.fs.cat_file(self._full(path)))
        return bytes(data)

    def _put(self, path: str, data: bytes) -> None:
        self._call(path, lambda: self.fs.pipe_file(self._full(path), bytes(data)))
        self._touched(path, content=True)

    # --- queries -----------------------------------------------------------------------------
    def lstat(self, path: str) -> StatResult:
        path = self._check(path)
        info = self._need(path)
        is_dir = info["type"] == "directory"
        mode = info.get("mode")
        if isinstance(mode, int) and mode & 0o170000:
            st_mode = mode
        else:
            perm = mode & 0o7777 if isinstance(mode, int) and mode else (0o755 if is_dir else 0o644)
            st_mode = (S.S_IFDIR if is_dir else S.S_IFREG) | perm
        mtime: int | None = None
        for key in _TIME_KEYS:
            if key in info:
                mtime = _to_ns(info[key])
                if mtime is not None:
                    break
        if mtime is None:
            mtime = self._dirs.get(path, self._born)
        ctime = max(self._ctimes.get(path, 0), mtime)
        atime = mtime
        if path in self._times:
            atime, mtime = self._times[path]
        size = 4096 if is_dir else int(info.get("size") or 0)
        digest = hashlib.blake2b(
            self._full(path).encode("utf-8", "surrogateescape"), digest_size=7
        ).digest()
        ino = int.from_bytes(digest, "big") or 1
        return StatResult(
            st_mode,
            ino,
            self.dev,
            2 if is_dir else 1,
            self.uid,
            self.gid,
            size,
            atime,
            mtime,
            ctime,
            min(mtime, ctime),
        )

    def listdir(self, path: str) -> list[str]:
        path = self._check(path)
        info = self._need(path)
        if info["type"] != "directory":
            raise fs_error(errno.ENOTDIR, path)
        full = self._full(path).rstrip("/")
        names: set[str] = set()
        try:
            with self._errors(path):
                entries = self.fs.ls(self._full(path), detail=True)
        except FileNotFoundError:
            entries = []
        for entry in entries:
            name = entry["name"] if isinstance(entry, dict) else str(entry)
            name = name.rstrip("/")
            if name == full or not name:
                continue
            base = posixpath.basename(name)
            if base and base not in (".", ".."):
                names.add(base)
        prefix = path.rstrip("/") + "/"
        for d in self._dirs:
            if d.startswith(prefix) and "/" not in d[len(prefix) :]:
                names.add(d[len(prefix) :])
        return sorted(names)

    def readlink(self, path: str) -> str:
        path = self._check(path)
        self._need(path)
        raise fs_error(errno.EINVAL, path)

    def read(self, path: str, offset: int = 0, size: int = -1) -> bytes:
        path = self._check(path)
        if offset < 0:
            raise fs_error(errno.EINVAL, path)
        info = self._need(path)
        if info["type"] == "directory":
            raise fs_error(errno.EISDIR, path)
        total = int(info.get("size") or 0)
        if offset >= total or size == 0:
            return b""
        end = total if size < 0 else min(total, offset + size)
        if offset == 0 and end == total:
            return self._read_all(path, info)
        data = self._call(path, lambda: self.fs.cat_file(self._full(path), start=offset, end=end))
        return bytes(data)

    # --- mutations ---------------------------------------------------------------------------
    def create(
        self, path: str, mode: int = 0o644, exclusive: bool = False, truncate: bool = True
    ) -> None:
        path = self._check(path)
        self._ro(path)
        if path == "/":
            raise fs_error(errno.EEXIST if exclusive else errno.EISDIR, path)
        self._need_parent(path)
        info = self._info(path)
        if info is not None:
            if exclusive:
                raise fs_error(errno.EEXIST, path)
            if info["type"] == "directory":
                raise fs_error(errno.EISDIR, path)
            if truncate and int(info.get("size") or 0):
                self._put(path, b"")
            return
        self._put(path, b"")
        self._touched(_parent_of(path))

    def write(self, path: str, data: BytesLike, offset: int | None = None) -> int:
        path = self._check(path)
        self._ro(path)
        if offset is not None and offset < 0:
            raise fs_error(errno.EINVAL, path)
        info = self._need(path)
        if info["type"] == "directory":
            raise fs_error(errno.EISDIR, path)
        old = self._read_all(path, info)
        if offset is None or offset == len(old):
            new = old + bytes(data)
        else:
            buf = bytearray(old)
            if offset > len(buf):
                buf += b"\0" * (offset - len(buf))
            buf[offset : offset + len(data)] = data
            new = bytes(buf)
        self._put(path, new)
        return len(data)

    def truncate(self, path: str, size: int) -> None:
        path = self._check(path)
        self._ro(path)
        if size < 0:
            raise fs_error(errno.EINVAL, path)
        info = self._need(path)
        if info["type"] == "directory":
            raise fs_error(errno.EISDIR, path)
        old = self._read_all(path, info)
        if len(old) == size:
            self._touched(path, content=True)
            return
        new = old[:size] if size < len(old) else old + b"\0" * (size - len(old))
        self._put(path, new)

    def mkdir(self, path: str, mode: int = 0o755) -> None:
        path = self._check(path)
        self._ro(path)
        if path == "/" or self._info(path) is not None:
            raise fs_error(errno.EEXIST, path)
        self._need_parent(path)
        try:
            with self._errors(path):
                self.fs.mkdir(self._full(path), create_parents=True)
        except FileExistsError:
            pass
        self._dirs[path] = time.time_ns()
        self._touched(_parent_of(path))

    def rmdir(self, path: str) -> None:
        path = self._check(path)
        self._ro(path)
        if path == "/":
            raise fs_error(errno.EBUSY, path)
        info = self._need(path)
        if info["type"] != "directory":
            raise fs_error(errno.ENOTDIR, path)
        if self.listdir(path):
            raise fs_error(errno.ENOTEMPTY, path)
        self._drop_dir(path)
        self._remember_parent(path)

    def _drop_dir(self, path: str) -> None:
        try:
            with self._errors(path):
                self.fs.rmdir(self._full(path))
        except OSError:
            pass  # stores without directory objects have nothing to remove
        self._dirs.pop(path, None)
        self._times.pop(path, None)
        self._ctimes.pop(path, None)

    def unlink(self, path: str) -> None:
        path = self._check(path)
        self._ro(path)
        info = self._need(path)
        if info["type"] == "directory":
            raise fs_error(errno.EISDIR, path)
        self._call(path, lambda: self.fs.rm_file(self._full(path)))
        self._times.pop(path, None)
        self._ctimes.pop(path, None)
        self._remember_parent(path)

    def rename(self, src: str, dst: str) -> None:
        src = self._check(src)
        dst = self._check(dst)
        self._ro(src)
        if src == "/" or dst == "/":
            raise fs_error(errno.EBUSY, src, path2=dst)
        sinfo = self._need(src)
        self._need_parent(dst)
        if src == dst:
            return
        src_dir = sinfo["type"] == "directory"
        if src_dir and dst.startswith(src.rstrip("/") + "/"):
            raise fs_error(errno.EINVAL, src, path2=dst)
        dinfo = self._info(dst)
        if dinfo is not None:
            dst_dir = dinfo["type"] == "directory"
            if src_dir and not dst_dir:
                raise fs_error(errno.ENOTDIR, dst)
            if not src_dir and dst_dir:
                raise fs_error(errno.EISDIR, dst)
            if dst_dir:
                if self.listdir(dst):
                    raise fs_error(errno.ENOTEMPTY, dst)
                self._drop_dir(dst)
        if src_dir:
            self._move_tree(src, dst)
        else:
            self._call(src, lambda: self._move_file(src, dst), dst)
            self._move_meta(src, dst)
        self._remember_parent(src)
        self._touched(_parent_of(dst))
        self._touched(dst)

    def _move_file(self, src: str, dst: str) -> None:
        """Copy then delete one object by its exact name. fsspec's ``mv``/``rm``/``copy``
        expand glob characters, so a file named ``*`` would take the whole folder along;
        ``cp_file``/``rm_file`` never expand."""
        self.fs.cp_file(self._full(src), self._full(dst))
        self.fs.rm_file(self._full(src))

    def _move_meta(self, src: str, dst: str) -> None:
        if src in self._times:
            self._times[dst] = self._times.pop(src)
        else:
            self._times.pop(dst, None)
        self._ctimes.pop(src, None)

    def _move_tree(self, src: str, dst: str) -> None:
        self._dirs[dst] = self._dirs.get(src, time.time_ns())
        try:
            with self._errors(dst):
                self.fs.mkdir(self._full(dst), create_parents=True)
        except FileExistsError:
            pass
        for name in self.listdir(src):
            s, d = _join(src, name), _join(dst, name)
            if self._need(s)["type"] == "directory":
                self._move_tree(s, d)
            else:
                with self._errors(s, d):
                    self._move_file(s, d)
                self._move_meta(s, d)
        self._drop_dir(src)

    def symlink(self, target: str, path: str) -> None:
        path = self._check(path)
        self._ro(path)
        raise fs_error(
            errno.EPERM,
            path,
            f"Operation not permitted (no symbolic links on {self.protocol} storage)",
        )

    def link(self, src: str, dst: str) -> None:
        dst = self._check(dst)
        self._ro(dst)
        raise fs_error(
            errno.EPERM,
            src,
            f"Operation not permitted (no hard links on {self.protocol} storage)",
            dst,
        )

    def chmod(self, path: str, mode: int) -> None:
        path = self._check(path)
        self._ro(path)
        st = self.lstat(path)
        if (st.st_mode & 0o7777) == (mode & 0o7777):
            return
        raise fs_error(
            errno.EOPNOTSUPP,
            path,
            f"Operation not supported (no permission bits on {self.protocol} storage)",
        )

    def chown(self, path: str, uid: int, gid: int) -> None:
        path = self._check(path)
        self._ro(path)
        self._need(path)
        if uid in (-1, self.uid) and gid in (-1, self.gid):
            return
        raise fs_error(
            errno.EPERM, path, f"Operation not permitted (no owners on {self.protocol} storage)"
        )

    def utimens(self, path: str, atime_ns: int | None, mtime_ns: int | None) -> None:
        path = self._check(path)
        self._ro(path)
        st = self.lstat(path)
        self._times[path] = (
            st.st_atime_ns if atime_ns is None else atime_ns,
            st.st_mtime_ns if mtime_ns is None else mtime_ns,
        )
        self._touched(path)

    def usage(self) -> tuple[int, int]:
        """Remote bytes do not count against the VM's limits."""
        return (0, 0)


def _errno_of(e: OSError) -> int:
    if isinstance(e, FileNotFoundError):
        return errno.ENOENT
    if isinstance(e, FileExistsError):
        return errno.EEXIST
    if isinstance(e, IsADirectoryError):
        return errno.EISDIR
    if isinstance(e, NotADirectoryError):
        return errno.ENOTDIR
    if isinstance(e, PermissionError):
        return errno.EACCES
    return errno.EIO
