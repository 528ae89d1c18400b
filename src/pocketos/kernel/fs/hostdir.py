"""A backend that serves a directory of the host, confined to it.

Every operation walks the path one component at a time from a descriptor held on the root,
opening each directory with ``O_NOFOLLOW | O_DIRECTORY`` relative to its parent, and then acts
on the final name with the ``dir_fd=`` / ``follow_symlinks=False`` forms of the ``os`` calls.
No call ever hands the kernel a multi-component path, so a symlink anywhere in the host tree
(absolute, relative, ``..``-laden, swapped in between two calls) cannot lead outside the root:
symlinks are reported as symlinks and the VFS resolves them inside the mount.

Hard links: a host file with ``st_nlink > 1`` may have other names outside the root. Reading it
is allowed (the host put those bytes under the root); modifying its contents is refused with
EPERM, unless every extra link was made through this backend while the file had a single name.

Regular files only: FIFOs, sockets and devices found under the root are listed and stat'ed but
never opened for data (opening a FIFO could block; a device could be anything).
"""

from __future__ import annotations

import errno
import os
import stat as S
from collections.abc import Iterator
from contextlib import contextmanager

from pocketos.errors import fs_error
from pocketos.kernel.fs.api import Backend, BytesLike, StatResult

__all__ = ["HostDirBackend"]

_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_NOCTTY = getattr(os, "O_NOCTTY", 0)
#: open a directory only to use it as ``dir_fd`` (no read permission needed)
_PATH = getattr(os, "O_PATH", 0)
_WALK_FLAGS = (_PATH or os.O_RDONLY) | _DIRECTORY | _NOFOLLOW | _CLOEXEC
_LIST_FLAGS = os.O_RDONLY | _DIRECTORY | _NOFOLLOW | _CLOEXEC
_CHUNK = 1 << 20


def _check_path(path: str) -> list[str]:
    """Components of backend path ``path``; refuses NUL bytes and ``..``."""
    if "\0" in path:
        raise fs_error(
            errno.EINVAL, path.replace("\0", "\\0"), "Invalid argument (NUL byte in path)"
        )
    parts: list[str] = []
    for part in path.split("/"):
        if not part or part == ".":
            continue
        if part == "..":
            raise fs_error(errno.EINVAL, path, "Invalid argument ('..' in a backend path)")
        parts.append(part)
    return parts


class HostDirBackend(Backend):
    """The host directory ``root`` as a backend; read-only unless ``writable``.

    The root descriptor is held until :meth:`close`; every other descriptor lives only for the
    duration of one call.
    """

    kind = "hostdir"
    supports_symlinks = True
    supports_hardlinks = True
    supports_chmod = True
    #: owners cannot be changed (that would be a host privilege operation)
    supports_chown = False

    def __init__(self, root: str, *, writable: bool = False) -> None:
        if "\0" in root:
            raise fs_error(errno.EINVAL, root.replace("\0", "\\0"))
        self.root = root
        self.readonly = not writable
        self._root_fd: int | None = os.open(root, _WALK_FLAGS)
        # (st_dev, st_ino) -> link count known to be made of names under the root only
        self._own_links: dict[tuple[int, int], int] = {}

    # --- lifetime ----------------------------------------------------------------------------
    def close(self) -> None:
        fd, self._root_fd = self._root_fd, None
        if fd is not None:
            os.close(fd)

    def __enter__(self) -> HostDirBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    def __repr__(self) -> str:
        mode = "ro" if self.readonly else "rw"
        return f"HostDirBackend({self.root!r}, {mode})"

    # --- descriptor plumbing -----------------------------------------------------------------
    def _rootfd(self, path: str) -> int:
        if self._root_fd is None:
            raise fs_error(errno.EBADF, path, "Bad file descriptor (backend closed)")
        return self._root_fd

    @contextmanager
    def _errors(self, path: str, path2: str | None = None) -> Iterator[None]:
        """Re-raise host errors under the backend path (never the host's names)."""
        try:
            yield
        except OSError as e:
            code = e.errno or errno.EIO
            raise fs_error(code, path, os.strerror(code), path2) from None
        except ValueError:
            raise fs_error(errno.EINVAL, path) from None

    def _open_dir(self, parts: list[str], path: str) -> int:
        """A fresh descriptor on the directory ``parts`` (``O_PATH`` where available)."""
        root = self._rootfd(path)
        fd = os.open(".", _WALK_FLAGS, dir_fd=root)
        try:
            for name in parts:
                nfd = os.open(name, _WALK_FLAGS, dir_fd=fd)
                os.close(fd)
                fd = nfd
        except BaseException:
            os.close(fd)
            raise
        return fd

    @contextmanager
    def _parent(self, path: str, path2: str | None = None) -> Iterator[tuple[int, str]]:
        """``(parent_fd, name)`` for ``path``; the root itself has no parent name (``""``)."""
        parts = _check_path(path)
        with self._errors(path, path2):
            fd = self._open_dir(parts[:-1], path)
        try:
            yield fd, (parts[-1] if parts else "")
        finally:
            os.close(fd)

    def _ro(self, path: str) -> None:
        if self.readonly:
            raise fs_error(errno.EROFS, path)

    def _open_file(self, path: str, flags: int) -> int:
        """Open the regular file ``path`` (never through a symlink); caller closes."""
        with self._parent(path) as (pfd, name), self._errors(path):
            if not name:
                raise OSError(errno.EISDIR, "")
            # look first, so FIFOs and devices are never opened (opening has side effects);
            # the checks are repeated on the descriptor in case the entry changes meanwhile
            st = os.stat(name, dir_fd=pfd, follow_symlinks=False)
            if S.S_ISLNK(st.st_mode):
                raise OSError(errno.ELOOP, "")
            if S.S_ISDIR(st.st_mode):
                raise OSError(errno.EISDIR, "")
            if not S.S_ISREG(st.st_mode):
                raise OSError(errno.EINVAL, "")
            fd = os.open(name, flags | _NOFOLLOW | _NONBLOCK | _NOCTTY | _CLOEXEC, dir_fd=pfd)
            try:
                st = os.fstat(fd)
                if S.S_ISDIR(st.st_mode):
                    raise OSError(errno.EISDIR, "")
                if not S.S_ISREG(st.st_mode):
                    raise OSError(errno.EINVAL, "")
            except BaseException:
                os.close(fd)
                raise
            return fd

    def _check_writable_inode(self, st: os.stat_result, path: str) -> None:
        if st.st_nlink > 1 and self._own_links.get((st.st_dev, st.st_ino), 1) < st.st_nlink:
            raise fs_error(
                errno.EPERM, path, "Operation not permitted (file has other hard links on the host)"
            )

    def _open_for_write(self, path: str) -> int:
        self._ro(path)
        fd = self._open_file(path, os.O_WRONLY)
        try:
            self._check_writable_inode(os.fstat(fd), path)
        except BaseException:
            os.close(fd)
            raise
        return fd

    @staticmethod
    def _convert(st: os.stat_result) -> StatResult:
        birth = getattr(st, "st_birthtime_ns", None)
        if birth is None:
            birth = min(st.st_ctime_ns, st.st_mtime_ns)
        return StatResult(
            st.st_mode,
            st.st_ino,
            st.st_dev,
            st.st_nlink,
            st.st_uid,
            st.st_gid,
            st.st_size,
            st.st_atime_ns,
            st.st_mtime_ns,
            st.st_ctime_ns,
            birth,
            st.st_rdev,
        )

    def _lstat_host(self, path: str) -> os.stat_result:
        with self._parent(path) as (pfd, name), self._errors(path):
            if not name:
                return os.fstat(pfd)
            return os.stat(name, dir_fd=pfd, follow_symlinks=False)

    # --- queries -----------------------------------------------------------------------------
    def lstat(self, path: str) -> StatResult:
        return self._convert(self._lstat_host(path))

    def listdir(self, path: str) -> list[str]:
        parts = _check_path(path)
        with self._errors(path):
            pfd = self._open_dir(parts[:-1], path)
            try:
                fd = os.open(parts[-1] if parts else ".", _LIST_FLAGS, dir_fd=pfd)
            finally:
                os.close(pfd)
            try:
                names = os.listdir(fd)
            finally:
                os.close(fd)
        return sorted(names)

    def readlink(self, path: str) -> str:
        with self._parent(path) as (pfd, name), self._errors(path):
            if not name:
                raise OSError(errno.EINVAL, "")
            return os.readlink(name, dir_fd=pfd)

    def read(self, path: str, offset: int = 0, size: int = -1) -> bytes:
        if offset < 0:
            raise fs_error(errno.EINVAL, path)
        fd = self._open_file(path, os.O_RDONLY)
        try:
            with self._errors(path):
                out: list[bytes] = []
                pos = offset
                remaining = size
                while remaining != 0:
                    want = _CHUNK if remaining < 0 else min(remaining, _CHUNK)
                    chunk = os.pread(fd, want, pos)
                    if not chunk:
                        break
                    out.append(chunk)
                    pos += len(chunk)
                    if remaining > 0:
                        remaining -= len(chunk)
                return b"".join(out)
        finally:
            os.close(fd)

    # --- mutations ---------------------------------------------------------------------------
    def create(
        self, path: str, mode: int = 0o644, exclusive: bool = False, truncate: bool = True
    ) -> None:
        self._ro(path)
        perm = _safe_mode(S.S_IFREG, mode)
        for _ in range(8):  # retry if the entry appears/disappears under us
            with self._parent(path) as (pfd, name), self._errors(path):
                if not name:
                    raise OSError(errno.EEXIST if exclusive else errno.EISDIR, "")
                flags = _NOFOLLOW | _NONBLOCK | _NOCTTY | _CLOEXEC
                try:
                    fd = os.open(
                        name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | flags, perm, dir_fd=pfd
                    )
                except FileExistsError:
                    if exclusive:
                        raise
                else:
                    try:
                        os.fchmod(fd, perm)
                    finally:
                        os.close(fd)
                    return
                try:
                    st = os.stat(name, dir_fd=pfd, follow_symlinks=False)
                except FileNotFoundError:
                    continue
                if S.S_ISDIR(st.st_mode):
                    raise OSError(errno.EISDIR, "")
                if S.S_ISLNK(st.st_mode):
                    raise OSError(errno.ELOOP, "")
                if not S.S_ISREG(st.st_mode):
                    raise OSError(errno.EINVAL, "")
                if not truncate or st.st_size == 0:
                    return
            fd = self._open_for_write(path)
            try:
                with self._errors(path):
                    os.ftruncate(fd, 0)
            finally:
                os.close(fd)
            return
        raise fs_error(errno.EAGAIN, path)

    def write(self, path: str, data: BytesLike, offset: int | None = None) -> int:
        if offset is not None and offset < 0:
            raise fs_error(errno.EINVAL, path)
        fd = self._open_for_write(path)
        try:
            with self._errors(path):
                pos = os.fstat(fd).st_size if offset is None else offset
                view = memoryview(data)
                done = 0
                while done < len(view):
                    n = os.pwrite(fd, view[done : done + _CHUNK], pos + done)
                    if n <= 0:
                        raise OSError(errno.EIO, "")
                    done += n
                return done
        finally:
            os.close(fd)

    def truncate(self, path: str, size: int) -> None:
        if size < 0:
            raise fs_error(errno.EINVAL, path)
        fd = self._open_for_write(path)
        try:
            with self._errors(path):
                os.ftruncate(fd, size)
        finally:
            os.close(fd)

    def mkdir(self, path: str, mode: int = 0o755) -> None:
        self._ro(path)
        perm = _safe_mode(S.S_IFDIR, mode)
        with self._parent(path) as (pfd, name), self._errors(path):
            if not name:
                raise OSError(errno.EEXIST, "")
            os.mkdir(name, perm, dir_fd=pfd)
            # the umask may have dropped bits: set them exactly, on the directory just made
            fd = os.open(name, _WALK_FLAGS, dir_fd=pfd)
            try:
                _fchmod(fd, perm)
            finally:
                os.close(fd)

    def rmdir(self, path: str) -> None:
        self._ro(path)
        with self._parent(path) as (pfd, name), self._errors(path):
            if not name:
                raise OSError(errno.EBUSY, "")
            os.rmdir(name, dir_fd=pfd)

    def unlink(self, path: str) -> None:
        self._ro(path)
        with self._parent(path) as (pfd, name), self._errors(path):
            if not name:
                raise OSError(errno.EISDIR, "")
            st = os.stat(name, dir_fd=pfd, follow_symlinks=False)
            os.unlink(name, dir_fd=pfd)
            self._forget_link(st)

    def rename(self, src: str, dst: str) -> None:
        self._ro(src)
        with (
            self._parent(src, dst) as (sfd, sname),
            self._parent(dst, src) as (dfd, dname),
            self._errors(src, dst),
        ):
            if not sname or not dname:
                raise OSError(errno.EBUSY, "")
            try:
                old = os.stat(dname, dir_fd=dfd, follow_symlinks=False)
            except OSError:
                old = None
            os.rename(sname, dname, src_dir_fd=sfd, dst_dir_fd=dfd)
            if old is not None:
                self._forget_link(old)

    def symlink(self, target: str, path: str) -> None:
        self._ro(path)
        if "\0" in target:
            raise fs_error(errno.EINVAL, path, "Invalid argument (NUL byte in link target)")
        with self._parent(path) as (pfd, name), self._errors(path):
            if not name:
                raise OSError(errno.EEXIST, "")
            os.symlink(target, name, dir_fd=pfd)

    def link(self, src: str, dst: str) -> None:
        self._ro(dst)
        with (
            self._parent(src, dst) as (sfd, sname),
            self._parent(dst, src) as (dfd, dname),
            self._errors(src, dst),
        ):
            if not sname:
                raise OSError(errno.EPERM, "")
            if not dname:
                raise OSError(errno.EEXIST, "")
            st = os.stat(sname, dir_fd=sfd, follow_symlinks=False)
            if S.S_ISDIR(st.st_mode):
                raise OSError(errno.EPERM, "")
            os.link(sname, dname, src_dir_fd=sfd, dst_dir_fd=dfd, follow_symlinks=False)
            key = (st.st_dev, st.st_ino)
            if st.st_nlink <= self._own_links.get(key, 1):
                self._own_links[key] = st.st_nlink + 1

    def _forget_link(self, st: os.stat_result) -> None:
        key = (st.st_dev, st.st_ino)
        count = self._own_links.get(key)
        if count is not None:
            if count <= 2:
                del self._own_links[key]
            else:
                self._own_links[key] = count - 1

    def chmod(self, path: str, mode: int) -> None:
        self._ro(path)
        with self._inode(path) as (fd, st), self._errors(path):
            if S.S_ISLNK(st.st_mode):
                # Linux has no way to change a symlink's own mode
                raise OSError(errno.EOPNOTSUPP, "")
            _fchmod(fd, _safe_mode(st.st_mode, mode))

    def chown(self, path: str, uid: int, gid: int) -> None:
        self._ro(path)
        st = self._lstat_host(path)
        if (uid in (-1, st.st_uid)) and (gid in (-1, st.st_gid)):
            return
        raise fs_error(
            errno.EPERM, path, "Operation not permitted (cannot change owners of host files)"
        )

    def utimens(self, path: str, atime_ns: int | None, mtime_ns: int | None) -> None:
        self._ro(path)
        with self._inode(path) as (fd, st), self._errors(path):
            ns = (
                st.st_atime_ns if atime_ns is None else atime_ns,
                st.st_mtime_ns if mtime_ns is None else mtime_ns,
            )
            if S.S_ISLNK(st.st_mode) or not _PATH:
                with self._parent(path) as (pfd, name):
                    os.utime(name or ".", ns=ns, dir_fd=pfd, follow_symlinks=False)
            else:
                os.utime(f"/proc/self/fd/{fd}", ns=ns)

    @contextmanager
    def _inode(self, path: str) -> Iterator[tuple[int, os.stat_result]]:
        """A descriptor on the entry ``path`` itself (never through a symlink) and its stat,
        for metadata changes. Non-directories with foreign hard links are refused, as their
        metadata is shared with names outside the root."""
        with self._parent(path) as (pfd, name), self._errors(path):
            flags = (_PATH or os.O_RDONLY | _NONBLOCK | _NOCTTY) | _NOFOLLOW | _CLOEXEC
            fd = os.open(name or ".", flags, dir_fd=pfd)
        try:
            with self._errors(path):
                st = os.fstat(fd)
            if not S.S_ISDIR(st.st_mode):
                self._check_writable_inode(st, path)
            yield fd, st
        finally:
            os.close(fd)

    def usage(self) -> tuple[int, int]:
        """Host bytes do not count against the VM's limits."""
        return (0, 0)


def _fchmod(fd: int, perm: int) -> None:
    """chmod the inode behind ``fd``, which may be an ``O_PATH`` descriptor."""
    if _PATH:
        # fchmod() refuses O_PATH descriptors; the /proc link names exactly the inode held,
        # whatever has happened to its name since
        os.chmod(f"/proc/self/fd/{fd}", perm)
    else:
        os.fchmod(fd, perm)


def _safe_mode(file_mode: int, mode: int) -> int:
    """Permission bits to apply on the host: set-user-ID and set-group-ID are dropped from
    non-directories (a guest must not mint set-ID programs on the host)."""
    perm = mode & 0o7777
    if not S.S_ISDIR(file_mode):
        perm &= ~(S.S_ISUID | S.S_ISGID)
    return perm
