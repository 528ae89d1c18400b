"""Large files of the memory backend kept in unnamed host files instead of Python memory.

A file that grows past ``THRESHOLD`` bytes moves its bytes into an unnamed file (``O_TMPFILE``)
in the host's temp directory: the host kernel keeps them in its page cache, in large folios,
where a growing ``bytearray`` takes a zeroed 4 KiB page and a page fault per 4 KiB. Measured on
the development machine, storing 128 MiB in 1 MiB pieces costs about 28 ms of CPU into such a
file against 60-70 ms into a ``bytearray`` (docs/sandbox.md). The file stays the VM's: nothing
names it, only this process holds it (close-on-exec), and it is closed when the inode that owns
it is dropped. The backend still charges its bytes to ``max_bytes`` and checks
``max_file_size`` before each write, exactly as for bytes in memory.

Files stay in memory when:

- the process runs under a memory limit (a finite ``RLIMIT_DATA``, as a VM worker does): the
  page cache is not charged to it, so spilling would let a VM's files escape that limit;
- ``MAX_FILES`` spilled files are open already, or a quarter of ``RLIMIT_NOFILE`` (each holds
  a descriptor);
- the temp directory cannot hold unnamed files, has less than the file and 64 MiB free, or
  refuses one (full, ``RLIMIT_FSIZE``, Landlock): the write that would have moved the file
  keeps it in memory instead, and no file moves for ``BACKOFF`` seconds after a refusal.

A write or truncate the host file then refuses moves that file back into memory and is made
there: the VM sees no error its own limits do not make.

Set ``THRESHOLD`` to ``None`` to keep every file in memory (the bytes of a spilled file can
reach the host's disk blocks when the kernel writes its page cache back; with the temp
directory on tmpfs they stay in memory or swap).
"""

from __future__ import annotations

import errno
import os
import resource
import time
import weakref

from pocketos.errors import fs_error

__all__ = ["SpillFile", "THRESHOLD", "MAX_FILES", "available", "spill", "spill_copy", "copy_fd"]

#: a file reaching this many bytes moves to a host file (None: never)
THRESHOLD: int | None = 4 << 20
#: spilled files open at once in this process at most (each holds a descriptor)
MAX_FILES = 256
#: seconds without new host files after the host refused one's bytes
BACKOFF = 5.0
#: bytes the temp directory's file system keeps free beyond a new host file
_HEADROOM = 64 << 20
#: bytes per ``pwrite``/``pread`` when a copy cannot stay in the kernel
_CHUNK = 1 << 20

_open_files = 0
_refused_until = 0.0


def _memory_limited() -> bool:
    soft, _hard = resource.getrlimit(resource.RLIMIT_DATA)
    return soft != resource.RLIM_INFINITY


def _closed(fd: int) -> None:
    global _open_files
    _open_files -= 1
    try:
        os.close(fd)
    except OSError:
        pass


def copy_fd(src: int, dst: int, size: int, src_offset: int = 0, dst_offset: int = 0) -> None:
    """Copy ``size`` bytes from ``src`` to ``dst`` at the given offsets, in the kernel where it
    can (``copy_file_range``), else through a buffer."""
    done = 0
    try:
        while done < size:
            n = os.copy_file_range(src, dst, size - done, src_offset + done, dst_offset + done)
            if n == 0:
                raise fs_error(errno.EIO, "", "short copy")
            done += n
        return
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EINVAL, errno.EOPNOTSUPP, errno.ENOSYS):
            raise
    buf = bytearray(min(_CHUNK, size - done))
    while done < size:
        with memoryview(buf) as view:
            n = os.preadv(src, [view[: min(len(buf), size - done)]], src_offset + done)
            if n == 0:
                raise fs_error(errno.EIO, "", "short copy")
            _write_all(dst, view[:n], dst_offset + done)
        done += n


def _write_all(fd: int, data: bytes | bytearray | memoryview, offset: int) -> None:
    with memoryview(data) as view:
        done = 0
        while done < len(view):
            done += os.pwrite(fd, view[done:], offset + done)


class SpillFile:
    """The bytes of one file, in an unnamed host file. ``len()`` is the file's size."""

    __slots__ = ("fd", "size", "__weakref__")

    def __init__(self, fd: int) -> None:
        global _open_files
        _open_files += 1
        self.fd = fd
        self.size = 0
        weakref.finalize(self, _closed, fd)

    def __len__(self) -> int:
        return self.size

    def __bytes__(self) -> bytes:
        return self.pread(0, self.size)

    def __reduce__(self) -> tuple[type[bytearray], tuple[bytes]]:
        # a descriptor means nothing in another process: a pickle or deepcopy holds the bytes
        return (bytearray, (bytes(self),))

    def pread(self, offset: int, size: int) -> bytes:
        """Up to ``size`` bytes at ``offset`` (fewer at the end of the file)."""
        size = max(0, min(size, self.size - offset))
        if size == 0:
            return b""
        out = os.pread(self.fd, size, offset)
        while len(out) < size:  # a read of a regular file returns less only at its end
            more = os.pread(self.fd, size - len(out), offset + len(out))
            if not more:
                raise fs_error(errno.EIO, "", "spilled file shorter than its size")
            out += more
        return out

    def pwrite(self, offset: int, data: bytes | bytearray | memoryview) -> None:
        """Store ``data`` at ``offset`` (a hole before it reads as zeros). On failure (the
        host's disk full) the file keeps its old size and the error is ENOSPC."""
        try:
            _write_all(self.fd, data, offset)
        except OSError as exc:
            try:
                os.ftruncate(self.fd, self.size)
            except OSError:
                pass
            raise fs_error(errno.ENOSPC, "", f"No space left on device (host: {exc})") from exc
        self.size = max(self.size, offset + len(data))

    def truncate(self, size: int) -> None:
        try:
            os.ftruncate(self.fd, size)
        except OSError as exc:
            raise fs_error(errno.ENOSPC, "", f"No space left on device (host: {exc})") from exc
        self.size = size


def _max_files() -> int:
    # never more than a quarter of the descriptors this process may open
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return MAX_FILES if soft == resource.RLIM_INFINITY else min(MAX_FILES, soft // 4)


def _new_fd(size: int) -> int | None:
    if _open_files >= _max_files() or _memory_limited() or time.monotonic() < _refused_until:
        return None
    # imported here: tempfile brings random and shutil, which the first exec does not need
    import tempfile

    where = tempfile.gettempdir()
    try:
        st = os.statvfs(where)
        if st.f_bavail * st.f_frsize < size + _HEADROOM:
            return None
        return os.open(where, os.O_TMPFILE | os.O_RDWR | os.O_CLOEXEC, 0o600)
    except OSError:
        return None


def refused() -> None:
    """The host refused a spilled file's bytes: no new host files for ``BACKOFF`` seconds
    (each move copies the whole file, so retrying every write would cost quadratic time)."""
    global _refused_until
    _refused_until = time.monotonic() + BACKOFF


def spill_copy(src: int, size: int) -> SpillFile | None:
    """A host file holding the first ``size`` bytes of host file ``src``, copied by the host
    kernel, or None when files stay in memory (see the module)."""
    fd = _new_fd(size)
    if fd is None:
        return None
    f = SpillFile(fd)
    try:
        copy_fd(src, fd, size)
    except OSError:
        refused()
        return None
    f.size = size
    return f


def available() -> bool:
    """Whether a file reaching ``THRESHOLD`` would move to a host file here and now."""
    return THRESHOLD is not None and spill(b"") is not None


def spill(data: bytes | bytearray | memoryview) -> SpillFile | None:
    """A host file holding ``data``, or None when files stay in memory (see the module)."""
    fd = _new_fd(len(data))
    if fd is None:
        return None
    f = SpillFile(fd)
    try:
        f.pwrite(0, data)
    except OSError:
        refused()
        return None  # dropping ``f`` closes its descriptor
    return f
