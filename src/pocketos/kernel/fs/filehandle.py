"""An open file of the VFS (``VFS.open``): reads and writes through the mount's backend, device
files (zero, full, urandom), the file-size limit and change notices."""

from __future__ import annotations

import errno
import os
import stat as S
from typing import TYPE_CHECKING, Any

from pocketos.errors import fs_error
from pocketos.kernel.budget import check_time
from pocketos.kernel.fs import memory as _memory
from pocketos.kernel.fs.api import BytesLike, StatResult
from pocketos.kernel.fs.memory import DEV_FULL, DEV_URANDOM, DEV_ZERO

if TYPE_CHECKING:
    from pocketos.kernel.fs.vfs import VFS, Mount


def _parts_of(m: Mount, bpath: str) -> tuple[str, ...]:
    return (*m.parts, *(p for p in bpath.split("/") if p))


def _device_read(rdev: int, size: int) -> bytes:
    if rdev in (DEV_ZERO, DEV_FULL):
        return b"\0" * (size if size >= 0 else 65536)
    if rdev == DEV_URANDOM:
        return os.urandom(size if size >= 0 else 65536)
    return b""


def _device_write(rdev: int, shown: str) -> None:
    if rdev == DEV_FULL:
        raise fs_error(errno.ENOSPC, shown)


class FileHandle:
    """An open file: ``read``, ``write``, ``seek``, ``tell``, ``truncate``, ``close``.

    A file opened for reading only may hold the memory inode its path named at the open
    (``node``): while no name changed anywhere since (``memory.changes``), the path still
    names that inode, so reads take its bytes directly and its size tells where the file ends.
    After any change of names, reads go through the backend by path, as for any other file."""

    #: the process charged for this open file (see FsView.open)
    owner: Any = None
    pos = 0
    closed = False
    #: where a read last reached the end of the file, and the backend's change token then:
    #: while neither moved, a read there returns nothing without asking the backend
    _end: tuple[int, object] | None = None
    #: the inode the file was opened on (None: read through the backend; always None once
    #: closed), and ``memory.changes`` then
    _node: Any = None
    _epoch = -1

    def __init__(
        self,
        vfs: VFS,
        mount: Mount,
        bpath: str,
        st: StatResult | None,
        *,
        readable: bool = True,
        writable: bool = False,
        append: bool = False,
        shown: str,
        node: Any = None,
    ) -> None:
        self.vfs = vfs
        self.mount = mount
        self.bpath = bpath
        self.readable = readable
        self.writable = writable
        self.append = append
        self.name = shown
        if node is not None:
            self.rdev = node.rdev if S.S_ISCHR(node.mode) else None
            if node.data is not None and not writable:  # a device's inode has no bytes
                self._node = node
                self._epoch = _memory.changes
        else:
            assert st is not None
            self.rdev = st.st_rdev if S.S_ISCHR(st.st_mode) else None

    @classmethod
    def reading(cls, vfs: VFS, mount: Mount, bpath: str, node: Any, shown: str) -> FileHandle:
        """A file opened for reading only on the regular file's ``node`` (see the class)."""
        fh = cls.__new__(cls)
        fh.vfs = vfs
        fh.mount = mount
        fh.bpath = bpath
        fh.readable = True
        fh.writable = fh.append = False
        fh.name = shown
        fh.rdev = None
        fh._node = node
        fh._epoch = _memory.changes
        return fh

    def __enter__(self) -> FileHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _open(self) -> None:
        if self.closed:
            raise ValueError("I/O operation on closed file")

    def read(self, size: int = -1) -> bytes:
        node = self._node
        if node is not None and self._epoch == _memory.changes:
            data = node.data
            if type(data) is bytearray:
                pos = self.pos
                n = len(data)
                if pos >= n:
                    return b""
                end = n if size < 0 or pos + size >= n else pos + size
                self.pos = end
                if pos == 0 and end == n:
                    return bytes(data)
                with memoryview(data) as view:  # one copy, not a slice and then its bytes
                    return view[pos:end].tobytes()
        self._open()
        if not self.readable:
            raise fs_error(errno.EBADF, self.name)
        if self.rdev is not None:
            # an endless device: a loop reading it must still meet the exec's deadline
            check_time()
            return _device_read(self.rdev, size)
        if size != 0 and self._end is not None and self.at_end():
            return b""
        backend = self.mount.backend
        data = backend.read(self.bpath, self.pos, size)
        self.pos += len(data)
        if size < 0 or len(data) < size:
            # the end of the file: the next read there finds nothing new unless the
            # backend changed (a backend that cannot tell gives None, and is asked again)
            token = backend.change_token()
            if token is not None:
                self._end = (self.pos, token)
        return data

    def read_rest(self, limit: int) -> bytes | None:
        """The rest of the file in one read when it is known to be at most ``limit`` bytes
        (``b""`` at its end), from the inode the file was opened on; None when that is not
        known (read it with :meth:`read`)."""
        node = self._node
        if node is None or self._epoch != _memory.changes:
            return None
        data = node.data
        pos = self.pos
        if type(data) is not bytearray or len(data) - pos > limit:
            return None
        if not pos:
            self.pos = len(data)
            return bytes(data)
        if pos >= len(data):
            return b""
        self.pos = len(data)
        with memoryview(data) as view:
            return view[pos:].tobytes()

    def at_end(self) -> bool:
        """Whether a read now is known to find nothing without asking the backend: the last
        read reached the end of the file here and nothing changed since."""
        node = self._node
        if node is not None and self._epoch == _memory.changes:
            data = node.data
            if type(data) is bytearray:
                return self.pos >= len(data)
        end = self._end
        if end is None:
            return False
        if end[0] == self.pos and self.mount.backend.change_token() == end[1]:
            return True
        self._end = None
        return False

    def host_file(self) -> tuple[int, int] | None:
        """``(descriptor, size)`` of a host file holding this file's bytes, for a copy the
        host kernel makes itself, or None (see ``Backend.host_file``)."""
        self._open()
        if not self.readable:
            raise fs_error(errno.EBADF, self.name)
        if self.rdev is not None:
            return None
        return self.mount.backend.host_file(self.bpath)

    def read_view(self, size: int) -> bytes | memoryview:
        """``read(size)`` without copying where the backend can: the result may be a
        read-only view of the file's bytes, to release before the file changes again."""
        self._open()
        if not self.readable:
            raise fs_error(errno.EBADF, self.name)
        if self.rdev is not None:
            return self.read(size)
        data = self.mount.backend.read_view(self.bpath, self.pos, size)
        self.pos += len(data)
        return data

    def readline(self) -> bytes:
        out = bytearray()
        while True:
            chunk = self.read(8192)
            if not chunk:
                break
            idx = chunk.find(b"\n")
            if idx >= 0:
                out += chunk[: idx + 1]
                self.pos -= len(chunk) - idx - 1
                break
            out += chunk
        return bytes(out)

    def __iter__(self):  # type: ignore[no-untyped-def]
        while True:
            line = self.readline()
            if not line:
                return
            yield line

    def write(self, data: BytesLike) -> int:
        """Write any bytes-like ``data`` (a view of a caller's buffer is not copied here:
        the backend copies what it keeps)."""
        self._open()
        if not self.writable:
            raise fs_error(errno.EBADF, self.name)
        if not isinstance(data, (bytes, bytearray)) and not (
            isinstance(data, memoryview) and data.format == "B" and data.ndim == 1
        ):
            data = bytes(data)  # anything else is flattened to its bytes, as before
        if self.rdev is not None:
            check_time()
            _device_write(self.rdev, self.name)
            return len(data)
        backend = self.mount.backend
        lim = self.vfs.max_file_size
        if self.append:
            if lim is not None and backend.lstat(self.bpath).st_size + len(data) > lim:
                raise fs_error(errno.EFBIG, self.name, f"File too large (max_file_size={lim})")
            n = backend.write(self.bpath, data, None)
            self.pos = backend.lstat(self.bpath).st_size
            if self.vfs.watchers:
                self.vfs._changed(_parts_of(self.mount, self.bpath))
            return n
        if lim is not None and self.pos + len(data) > lim:
            raise fs_error(errno.EFBIG, self.name, f"File too large (max_file_size={lim})")
        n = backend.write(self.bpath, data, self.pos)
        self.pos += n
        if self.vfs.watchers:
            self.vfs._changed(_parts_of(self.mount, self.bpath))
        return n

    def seek(self, offset: int, whence: int = 0) -> int:
        self._open()
        if whence == 0:
            self.pos = offset
        elif whence == 1:
            self.pos += offset
        else:
            self.pos = self.size() + offset
        self.pos = max(0, self.pos)
        return self.pos

    def tell(self) -> int:
        return self.pos

    def size(self) -> int:
        if self.rdev is not None:
            return 0
        return self.mount.backend.lstat(self.bpath).st_size

    def fstat(self) -> StatResult | None:
        """The file's status now, as the VFS reports it (``st_dev``/``st_ino`` name the
        file), or None for a device or a file whose path is gone."""
        if self.rdev is not None:
            return None
        try:
            path = "/" + "/".join(_parts_of(self.mount, self.bpath))
            return self.vfs.stat(path, follow_symlinks=False, check=False)
        except OSError:
            return None

    def truncate(self, size: int | None = None) -> int:
        self._open()
        if not self.writable:
            raise fs_error(errno.EBADF, self.name)
        n = self.pos if size is None else size
        if self.rdev is None:
            self.mount.backend.truncate(self.bpath, n)
            if self.vfs.watchers:
                self.vfs._changed(_parts_of(self.mount, self.bpath))
        return n

    def close(self) -> None:
        if not self.closed and self.owner is not None:
            self.owner.open_files -= 1
            self.owner = None
        self.closed = True
        self._node = None

    def __del__(self) -> None:
        if not self.closed and self.owner is not None:
            self.owner.open_files -= 1
