"""The backend contract every filesystem and mount type implements.

A backend sees absolute, normalized POSIX paths relative to its own root (``"/"`` is the root of
the backend, whatever the mount point). The VFS (:mod:`pocketos.kernel.fs.vfs`) resolves
symlinks and ``..`` itself and calls the backend with paths whose intermediate components are
directories, so a backend never follows a symlink on its own; backends that front real host
storage must still enforce that (a component may have been swapped for a link since).

All methods raise ``OSError`` subclasses with real errno values (use
:func:`pocketos.errors.fs_error`).
"""

from __future__ import annotations

import stat as _stat
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dataclasses import dataclass as record
else:
    from pocketos.kernel.record import record

__all__ = ["Backend", "BytesLike", "StatResult", "split_path", "join_path"]

#: what a backend's ``write`` accepts: bytes, or a view of a caller's buffer it must copy
BytesLike = bytes | bytearray | memoryview


@record(slots=True)
class StatResult:
    """Like ``os.stat_result``: ``st_mode`` carries the file type bits of :mod:`stat`."""

    st_mode: int
    st_ino: int
    st_dev: int
    st_nlink: int
    st_uid: int
    st_gid: int
    st_size: int
    st_atime_ns: int
    st_mtime_ns: int
    st_ctime_ns: int
    st_birthtime_ns: int
    st_rdev: int = 0

    def __init__(
        self,
        st_mode: int,
        st_ino: int,
        st_dev: int,
        st_nlink: int,
        st_uid: int,
        st_gid: int,
        st_size: int,
        st_atime_ns: int,
        st_mtime_ns: int,
        st_ctime_ns: int,
        st_birthtime_ns: int,
        st_rdev: int = 0,
    ) -> None:
        self.st_mode = st_mode
        self.st_ino = st_ino
        self.st_dev = st_dev
        self.st_nlink = st_nlink
        self.st_uid = st_uid
        self.st_gid = st_gid
        self.st_size = st_size
        self.st_atime_ns = st_atime_ns
        self.st_mtime_ns = st_mtime_ns
        self.st_ctime_ns = st_ctime_ns
        self.st_birthtime_ns = st_birthtime_ns
        self.st_rdev = st_rdev

    @property
    def st_atime(self) -> float:
        return self.st_atime_ns / 1e9

    @property
    def st_mtime(self) -> float:
        return self.st_mtime_ns / 1e9

    @property
    def st_ctime(self) -> float:
        return self.st_ctime_ns / 1e9

    @property
    def st_birthtime(self) -> float:
        return self.st_birthtime_ns / 1e9

    @property
    def st_blocks(self) -> int:
        return (self.st_size + 511) // 512

    @property
    def st_blksize(self) -> int:
        return 4096

    def is_dir(self) -> bool:
        return _stat.S_ISDIR(self.st_mode)

    def is_file(self) -> bool:
        return _stat.S_ISREG(self.st_mode)

    def is_symlink(self) -> bool:
        return _stat.S_ISLNK(self.st_mode)

    def is_chardev(self) -> bool:
        return _stat.S_ISCHR(self.st_mode)

    @property
    def type_name(self) -> str:
        """``file``, ``directory``, ``symlink``, ``chardev`` ..."""
        m = self.st_mode
        if _stat.S_ISREG(m):
            return "file"
        if _stat.S_ISDIR(m):
            return "directory"
        if _stat.S_ISLNK(m):
            return "symlink"
        if _stat.S_ISCHR(m):
            return "chardev"
        if _stat.S_ISFIFO(m):
            return "fifo"
        return "other"


def split_path(path: str) -> list[str]:
    """``"/a/b"`` -> ``["a", "b"]``; ``"/"`` -> ``[]``."""
    return [p for p in path.split("/") if p]


def join_path(parts: list[str] | tuple[str, ...]) -> str:
    return "/" + "/".join(parts)


class Backend(ABC):
    """One filesystem: the contract shared by memory, overlay, host-dir and fsspec backends.

    ``readonly`` backends raise EROFS from every mutating method.
    """

    readonly: bool = False
    #: bumped when a name is removed or moved, or an opaque flag or device node changes, so
    #: that lookup caches above can tell they are stale (added names are listed apart, see
    #: ``MemoryBackend.additions``); None when the backend cannot tell (a host directory or a
    #: remote store changes behind our back), which disables those caches
    generation: int | None = None
    #: a short name for messages and ``df``/``mount`` output
    kind: str = "backend"

    # --- queries -------------------------------------------------------------------------
    @abstractmethod
    def lstat(self, path: str) -> StatResult:
        """Stat ``path`` without following a final symlink."""

    @abstractmethod
    def listdir(self, path: str) -> list[str]:
        """Names in directory ``path`` (no ``.``/``..``), in a stable order."""

    def lstat_entries(self, path: str) -> dict[str, StatResult] | None:
        """Each entry of directory ``path`` with what ``lstat`` gives for it, where the
        backend holds them at hand (one call instead of a lookup per name); None where it
        does not (the caller then lstats each name)."""
        return None

    @abstractmethod
    def readlink(self, path: str) -> str:
        """Target of symlink ``path`` (EINVAL if not a symlink)."""

    @abstractmethod
    def read(self, path: str, offset: int = 0, size: int = -1) -> bytes:
        """Bytes of regular file ``path`` from ``offset``; ``size=-1`` to the end."""

    def read_view(self, path: str, offset: int, size: int) -> bytes | memoryview:
        """``read`` (``size=-1`` to the end) without a copy where the backend can: a
        read-only view of the stored bytes, which the caller must release
        (``memoryview.release``) before the file can change again (a held view of a growing
        file makes the write fail). The default copies."""
        return self.read(path, offset, size)

    def host_file(self, path: str) -> tuple[int, int] | None:
        """``(descriptor, size)`` of a host file the backend keeps ``path``'s bytes in, for
        a copy the host kernel makes itself (``copy_file_range``); valid until the file next
        changes, and never to be written or closed by the caller. None (the default): the
        bytes are elsewhere; read them."""
        return None

    def node_of(self, path: str) -> Any:
        """The memory inode (``memory.Inode``) whose ``data`` holds the bytes of ``path``, for
        an open file to read directly while ``memory.changes`` stays as it was when this was
        asked (then ``path`` still names that inode); None (the default): read through the
        backend."""
        return None

    def change_token(self) -> object:
        """A value equal to a later call's only if nothing this backend shows changed in
        between (no byte of a file, no name); None when the backend cannot tell (a host
        directory or a remote store changes behind our back). The default cannot tell."""
        return None

    # --- mutations -------------------------------------------------------------------------
    @abstractmethod
    def create(
        self, path: str, mode: int = 0o644, exclusive: bool = False, truncate: bool = True
    ) -> None:
        """Create regular file ``path`` (parent must exist). If it exists: EEXIST when
        ``exclusive``, else truncate it when ``truncate``."""

    @abstractmethod
    def write(self, path: str, data: BytesLike, offset: int | None = None) -> int:
        """Write ``data`` into existing file ``path`` at ``offset`` (``None`` appends); returns
        the byte count. Gaps are filled with NULs. ``data`` may be any bytes-like object
        (a view of a caller's buffer): the backend copies what it keeps, never the object."""

    @abstractmethod
    def truncate(self, path: str, size: int) -> None: ...

    @abstractmethod
    def mkdir(self, path: str, mode: int = 0o755) -> None: ...

    @abstractmethod
    def rmdir(self, path: str) -> None: ...

    @abstractmethod
    def unlink(self, path: str) -> None:
        """Remove a non-directory entry."""

    @abstractmethod
    def rename(self, src: str, dst: str) -> None:
        """POSIX rename within this backend (replaces a file or an empty directory)."""

    @abstractmethod
    def symlink(self, target: str, path: str) -> None: ...

    @abstractmethod
    def link(self, src: str, dst: str) -> None:
        """Hard link (EPERM for directories)."""

    @abstractmethod
    def chmod(self, path: str, mode: int) -> None:
        """Set permission bits (``mode & 0o7777``) of ``path`` itself."""

    @abstractmethod
    def chown(self, path: str, uid: int, gid: int) -> None:
        """Record owner ids (-1 keeps the current one)."""

    @abstractmethod
    def utimens(self, path: str, atime_ns: int | None, mtime_ns: int | None) -> None:
        """Set access/modification times (``None`` keeps the current one)."""

    # --- accounting ------------------------------------------------------------------------
    def usage(self) -> tuple[int, int]:
        """(bytes, inodes) this backend holds that count against the VM's limits."""
        return (0, 0)

    def close(self) -> None:  # noqa: B027 - optional hook, most backends hold nothing
        """Release resources (file descriptors, connections)."""

    #: users beyond the first (a forked VM shares its parent's host mounts and lower layers)
    _shares: int = 0

    def share(self) -> Backend:
        """Count one more user of this backend: ``release()`` closes it only for the last."""
        self._shares += 1
        return self

    def release(self) -> None:
        """One user is done: close the backend when nobody else uses it."""
        if self._shares > 0:
            self._shares -= 1
            return
        self.close()
