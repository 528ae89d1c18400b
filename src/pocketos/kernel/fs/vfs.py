"""The VFS: mount table, path resolution and permission checks.

Every path is resolved here, component by component: symlinks are followed inside the VM's
namespace (an absolute target means the VM's root, never the host's), ``..`` never climbs
above ``/``, and the loop limit gives ELOOP. Backends only ever see resolved paths, which is
what keeps a host-directory mount from being escaped through links. Permission checks are made
on the resolved path.
"""

from __future__ import annotations

import errno
import stat as S
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from pocketos.errors import fs_error
from pocketos.kernel.budget import check_alloc, check_time
from pocketos.kernel.fs import listing as _listing
from pocketos.kernel.fs import memory as _memory
from pocketos.kernel.fs.api import Backend, StatResult
from pocketos.kernel.fs.filehandle import FileHandle, _device_read, _device_write, _parts_of
from pocketos.kernel.record import SlotRecord

if TYPE_CHECKING:
    from pocketos.kernel.fsguard import FsGuard

__all__ = ["VFS", "FileHandle", "Mount", "MAX_SYMLINKS"]

MAX_SYMLINKS = 40
MAX_PATH = 4096

#: check(operation, resolved_path) -> None or raise PermissionError
Checker = Callable[[str, str], None]


class Mount(SlotRecord):
    """A backend mounted at ``path`` (``parts``: its components)."""

    __slots__ = ("path", "parts", "backend", "readonly", "kind")
    __hash__ = None  # type: ignore[assignment]

    def __init__(
        self, path: str, parts: tuple[str, ...], backend: Backend, readonly: bool, kind: str
    ) -> None:
        self.path = path
        self.parts = parts
        self.backend = backend
        self.readonly = readonly
        self.kind = kind


def validate_path(path: str) -> None:
    if "\0" in path:
        # an OSError like any other bad path: a command reports it (the VM's API checks first)
        raise fs_error(errno.EINVAL, path, "Invalid argument (path contains a NUL byte)")
    if len(path) > MAX_PATH:
        raise fs_error(errno.ENAMETOOLONG, path[:64] + "...")


#: cached resolutions kept per VM before the cache starts over
_MAX_RESOLVED = 1 << 16
#: deepest parent resolved (and cached) on its own before a name in it; deeper paths are
#: walked whole (each level is a Python call)
_MAX_PARENT_DEPTH = 32


class VFS:
    """One VM's filesystem namespace."""

    def __init__(
        self,
        root: Backend,
        *,
        checker: Checker | None = None,
        max_file_size: int | None = None,
        max_readdir_entries: int | None = None,
        root_readonly: bool = False,
        guard: FsGuard | None = None,
    ) -> None:
        self.mounts: list[Mount] = [Mount("/", (), root, root_readonly or root.readonly, root.kind)]
        self.root = root
        self.checker = checker
        #: judges renames and hard links on every object they give a new path
        self.guard = guard
        #: directories of the root filesystem that are read-only whatever the mount says
        #: (the kernel's own ``/proc``, like Linux's procfs)
        self.readonly_dirs: tuple[str, ...] = ("/proc",)
        self.max_file_size = max_file_size
        self.max_readdir_entries = max_readdir_entries
        #: (path, follow) -> (resolved parts, mount, backend path, is a directory)
        self._resolved: dict[tuple[str, bool], tuple[tuple[str, ...], Mount, str, bool]] = {}
        self._resolved_token: tuple[int, ...] | None = None
        #: ``memory.changes`` when the token was last found to be ``_resolved_token`` (-1:
        #: never, or the cache is off): while it is the same, so is the token
        self._epoch = -1
        #: called with the canonical path of every file whose contents or name change (a
        #: write, truncate, unlink, rename, link or utime), after the change; a FUSE server
        #: uses it to drop what the host kernel cached
        self.watchers: list[Callable[[str], None]] = []

    def _changed(self, parts: Sequence[str]) -> None:
        if self.watchers:
            path = "/" + "/".join(parts)
            for w in list(self.watchers):
                w(path)

    # --- mount table ---------------------------------------------------------------------
    def mount(
        self, path: str, backend: Backend, *, readonly: bool = False, kind: str | None = None
    ) -> None:
        parts = tuple(p for p in path.split("/") if p)
        if not parts:
            raise ValueError("cannot mount over /")
        norm = "/" + "/".join(parts)
        for m in self.mounts:
            if m.path == norm:
                raise fs_error(errno.EBUSY, norm, "Device or resource busy (already mounted)")
        # the mount point must exist as a directory (create it in the parent fs if missing)
        try:
            st = self.stat(norm, check=False)
            if not S.S_ISDIR(st.st_mode):
                raise fs_error(errno.ENOTDIR, norm)
        except FileNotFoundError:
            try:
                self.mkdir(norm, parents=True, check=False, mount_point=True)
            except OSError:
                pass  # read-only parent: the mount point is synthesized by resolve()
        self.mounts.append(
            Mount(norm, parts, backend, readonly or backend.readonly, kind or backend.kind)
        )
        self.mounts.sort(key=lambda m: len(m.parts), reverse=True)
        _memory.namespace_changed()
        self._changed(parts)

    def unmount(self, path: str) -> Backend:
        parts = tuple(p for p in path.split("/") if p)
        for i, m in enumerate(self.mounts):
            if m.parts == parts and parts:
                for other in self.mounts:
                    if len(other.parts) > len(parts) and other.parts[: len(parts)] == parts:
                        raise fs_error(errno.EBUSY, path, "Device or resource busy (nested mount)")
                del self.mounts[i]
                _memory.namespace_changed()
                self._changed(parts)
                return m.backend
        raise fs_error(errno.EINVAL, path, "Invalid argument (not a mount point)")

    def _mount_for(self, parts: list[str]) -> tuple[Mount, str]:
        mounts = self.mounts
        if len(mounts) == 1:
            m = mounts[0]
            return m, "/" + "/".join(parts)
        n = len(parts)
        for m in mounts:
            k = len(m.parts)
            if k <= n and tuple(parts[:k]) == m.parts:
                return m, "/" + "/".join(parts[k:])
        raise AssertionError("root mount missing")

    def _synthetic_dir(self, parts: list[str]) -> StatResult | None:
        """A directory that exists only because a mount lies below it."""
        if len(self.mounts) == 1:
            return None
        n = len(parts)
        t = tuple(parts)
        for m in self.mounts:
            if len(m.parts) > n and m.parts[:n] == t:
                return StatResult(S.S_IFDIR | 0o755, 0, 0, 2, 0, 0, 4096, 0, 0, 0, 0)
        return None

    def mount_of(self, path: str) -> tuple[str, str, bool]:
        m, _ = self._mount_for([p for p in path.split("/") if p])
        return m.path, m.kind, m.readonly

    def changes_seen(self, path: str) -> bool:
        """Whether every change to ``path`` is made through this VFS (so the watchers hear of
        it): false on a backend that changes by itself, such as a host directory."""
        m, _ = self._mount_for([p for p in path.split("/") if p])
        return m.backend.generation is not None

    # --- resolution ----------------------------------------------------------------------
    # Resolutions of existing paths are cached (path, follow) -> (parts, mount, backend path)
    # while no name was lost or moved: the token is the mount table and every mounted
    # backend's generation, so any rename, unlink, mount or layer change starts the cache over
    # (a new name cannot change how an existing path resolves). A backend
    # that cannot tell when it changes (a host directory) turns the cache off. A hit still
    # takes a fresh stat of the final component.

    def _namespace_token(self) -> tuple[int, ...] | None:
        mounts = self.mounts
        if len(mounts) == 1:  # the usual case: the root alone
            m = mounts[0]
            gen = m.backend.generation
            return None if gen is None else (id(m), gen)
        token: list[int] = []
        for m in mounts:
            gen = m.backend.generation
            if gen is None:
                return None
            token.append(id(m))
            token.append(gen)
        return tuple(token)

    def _cache_on(self) -> bool:
        """Whether the resolution cache may be used (it is started over first if the
        namespace changed since it was filled)."""
        now = _memory.changes
        if self._epoch == now:
            return True
        token = self._namespace_token()
        if token is None:
            self._epoch = -1
            return False
        if token != self._resolved_token:
            self._resolved.clear()
            self._resolved_token = token
        self._epoch = now
        return True

    def resolve(
        self, path: str, follow: bool = True, shown: str | None = None
    ) -> tuple[list[str], Mount, str, StatResult | None]:
        """Resolve absolute ``path``. Returns (resolved parts, mount, backend path, stat or None
        if the final component does not exist). Intermediate components must exist."""
        if self._epoch != _memory.changes and not self._cache_on():
            return self._resolve(path, follow, shown)
        cache = self._resolved
        hit = cache.get((path, follow))
        if hit is not None:
            parts, m, bpath, _ = hit
            try:
                return list(parts), m, bpath, m.backend.lstat(bpath)
            except OSError:
                pass  # not a plain backend entry (a synthesized mount point): resolve again
        result = self._resolve_last(path, follow) or self._resolve(path, follow, shown)
        if result[3] is not None:  # only what exists: adding a name leaves the token alone
            if len(cache) >= _MAX_RESOLVED:
                cache.clear()
            is_dir = S.S_ISDIR(result[3].st_mode)
            cache[(path, follow)] = (tuple(result[0]), result[1], result[2], is_dir)
        return result

    def _resolve_last(
        self, path: str, follow: bool
    ) -> tuple[list[str], Mount, str, StatResult | None] | None:
        """One step from the (cached) parent directory, for a plain last name; None when the
        full walk must decide (errors, symlinks to follow, ``.``/``..``, a trailing slash)."""
        head, _, name = path.rpartition("/")
        if not name or name in (".", "..") or not head or "\0" in path or len(path) > MAX_PATH:
            return None
        # a directory resolves the same followed or not (a FUSE server looks names up unfollowed)
        hit = self._resolved.get((head, True)) or self._resolved.get((head, False))
        if hit is None:
            # resolve (and so cache) the parent first: the next name looked up in the same
            # directory, and the directory's own subdirectories, then take one step each
            if head.count("/") > _MAX_PARENT_DEPTH:
                return None
            try:
                if self.resolve(head, True)[3] is None:
                    return None
            except OSError:
                return None  # the full walk reports it, naming the whole path
            hit = self._resolved.get((head, True))
            if hit is None:
                return None
        pparts, pm, pbpath, pdir = hit
        # a cached directory is still one: turning it into anything else loses or moves a name,
        # which started the cache over
        if not pdir:
            return None
        parts = [*pparts, name]
        m, bpath = self._mount_for(parts)
        try:
            st = m.backend.lstat(bpath)
        except FileNotFoundError:
            if self._synthetic_dir(parts) is not None:
                return None
            return parts, m, bpath, None
        except OSError:
            return None
        if follow and S.S_ISLNK(st.st_mode):
            return None
        return parts, m, bpath, st

    def _resolve(
        self, path: str, follow: bool, shown: str | None
    ) -> tuple[list[str], Mount, str, StatResult | None]:
        validate_path(path)
        # a lookup costs the square of the depth (each prefix is looked up from the root):
        # deep trees must still meet the exec's deadline
        check_time()
        todo = [p for p in path.split("/") if p]
        todo.reverse()
        resolved: list[str] = []
        links = 0
        st: StatResult | None = None
        if not todo:
            m, bpath = self._mount_for(resolved)
            return resolved, m, bpath, m.backend.lstat(bpath)
        while todo:
            name = todo.pop()
            if name == ".":
                if not todo:
                    m, bpath = self._mount_for(resolved)
                    return resolved, m, bpath, m.backend.lstat(bpath)
                continue
            if name == "..":
                if resolved:
                    resolved.pop()
                if not todo:
                    m, bpath = self._mount_for(resolved)
                    return resolved, m, bpath, m.backend.lstat(bpath)
                continue
            resolved.append(name)
            m, bpath = self._mount_for(resolved)
            last = not todo
            try:
                st = m.backend.lstat(bpath)
            except FileNotFoundError:
                st = self._synthetic_dir(resolved)
                if st is None:
                    if last:
                        return resolved, m, bpath, None
                    raise fs_error(errno.ENOENT, shown or path)
            except NotADirectoryError:
                raise fs_error(errno.ENOTDIR, shown or path)
            mode = st.st_mode
            if S.S_ISLNK(mode) and (follow or not last):
                links += 1
                if links > MAX_SYMLINKS:
                    raise fs_error(errno.ELOOP, shown or path)
                target = m.backend.readlink(bpath)
                resolved.pop()
                if target.startswith("/"):
                    resolved = []
                for part in reversed([p for p in target.split("/") if p]):
                    todo.append(part)
                if not todo:
                    # link to "/" (or empty)
                    m, bpath = self._mount_for(resolved)
                    return resolved, m, bpath, m.backend.lstat(bpath)
                continue
            if not last and not S.S_ISDIR(mode):
                raise fs_error(errno.ENOTDIR, shown or path)
        m, bpath = self._mount_for(resolved)
        if (
            st is not None
            and path.endswith("/")
            and not S.S_ISDIR(st.st_mode)
            and not (S.S_ISLNK(st.st_mode) and not follow)
        ):
            raise fs_error(errno.ENOTDIR, shown or path)
        return resolved, m, bpath, st

    def _check(self, op: str, parts: list[str]) -> None:
        if self.checker is not None:
            self.checker(op, "/" + "/".join(parts))

    def _writable(self, m: Mount, shown: str, bpath: str | None = None) -> None:
        if m.readonly:
            raise fs_error(errno.EROFS, shown)
        if not m.parts and bpath is not None and self.readonly_dirs:
            for d in self.readonly_dirs:
                if bpath == d or bpath.startswith(d + "/"):
                    raise fs_error(errno.EROFS, shown)

    def _resolve_for(
        self, path: str, op: str, follow: bool, shown: str | None, check: bool
    ) -> tuple[list[str], Mount, str, StatResult | None]:
        """resolve(), but a path the policy denies is EACCES even when it does not exist, so a
        denial never reveals whether something is there."""
        try:
            return self.resolve(path, follow, shown)
        except (FileNotFoundError, NotADirectoryError):
            if check and self.checker is not None:
                self.checker(op, path.rstrip("/") or "/")
            raise

    def _existing(
        self, path: str, op: str, follow: bool, shown: str | None, check: bool = True
    ) -> tuple[list[str], Mount, str, StatResult]:
        parts, m, bpath, st = self._resolve_for(path, op, follow, shown, check)
        if check:
            self._check(op, parts)
        if st is None:
            raise fs_error(errno.ENOENT, shown or path)
        return parts, m, bpath, st

    def _rename_err(self, exc: OSError, shown: str) -> OSError:
        exc.filename = shown
        return exc

    # --- queries -------------------------------------------------------------------------
    def stat(
        self, path: str, follow_symlinks: bool = True, shown: str | None = None, check: bool = True
    ) -> StatResult:
        _, _, _, st = self._existing(path, "stat", follow_symlinks, shown, check)
        return st

    def listdir(self, path: str, shown: str | None = None) -> list[str]:
        return _listing.names(self, path, shown, False)[0]

    def scandir(self, path: str, shown: str | None = None) -> list[tuple[str, StatResult | None]]:
        """listdir() with each entry's lstat (None when it has none), in one call. Only the
        listing is checked by the policy: a caller showing an entry's metadata checks it."""
        return _listing.scan(self, path, shown)[0]

    def lstat_entries(
        self, path: str, shown: str | None = None
    ) -> list[tuple[str, StatResult | OSError | None]]:
        """scandir() for a walker: each entry is checked by the policy as ``lstat(path/name)``
        checks it (a denied one carries the PermissionError that lstat would raise); None
        where the walker must lstat the entry itself."""
        return _listing.checked(self, path, shown)

    def readlink(self, path: str, shown: str | None = None) -> str:
        parts, m, bpath, st = self._existing(path, "readlink", False, shown)
        if not S.S_ISLNK(st.st_mode):
            raise fs_error(errno.EINVAL, shown or path)
        return m.backend.readlink(bpath)

    def realpath(self, path: str, strict: bool = False, shown: str | None = None) -> str:
        try:
            parts, _, _, st = self.resolve(path, True, shown)
        except FileNotFoundError:
            if strict:
                raise
            # resolve what exists, append the rest lexically
            head, _, tail = path.rstrip("/").rpartition("/")
            base = self.realpath(head or "/", strict=False)
            return (base.rstrip("/") + "/" + tail) if tail else base
        if strict and st is None:
            raise fs_error(errno.ENOENT, shown or path)
        return "/" + "/".join(parts)

    def read_file(self, path: str, shown: str | None = None) -> bytes:
        parts, m, bpath, st = self._existing(path, "read", True, shown)
        mode = st.st_mode
        if S.S_ISDIR(mode):
            raise fs_error(errno.EISDIR, shown or path)
        if S.S_ISCHR(mode):
            return _device_read(st.st_rdev, -1)
        # a whole file is one buffer: a file on a host mount can be far larger than the exec
        # may hold, so it is checked against the memory budget before it is read
        check_alloc(st.st_size, f"reading {shown or path}")
        return m.backend.read(bpath)

    def read_regular(
        self, path: str, shown: str | None = None, max_size: int | None = None
    ) -> bytes | None:
        """:meth:`read_file` in one lookup, but None for a character device (which never
        ends: its reader opens it as a stream instead) and for a file over ``max_size``."""
        parts, m, bpath, st = self._existing(path, "read", True, shown)
        mode = st.st_mode
        if S.S_ISDIR(mode):
            raise fs_error(errno.EISDIR, shown or path)
        if S.S_ISCHR(mode) or (max_size is not None and st.st_size > max_size):
            return None
        check_alloc(st.st_size, f"reading {shown or path}")
        return m.backend.read(bpath)

    # --- writes --------------------------------------------------------------------------
    def _prepare_write(
        self,
        path: str,
        shown: str | None,
        *,
        create: bool,
        mode: int,
        exclusive: bool,
        truncate: bool,
    ) -> tuple[Mount, str, StatResult | None]:
        parts, m, bpath, st = self._resolve_for(path, "write", True, shown, True)
        self._check("write", parts)
        if path.endswith("/") and path != "/":
            # "name/" names a directory: creating a file there is EISDIR, a file is ENOTDIR
            if st is None or S.S_ISDIR(st.st_mode):
                raise fs_error(errno.EISDIR, shown or path)
            raise fs_error(errno.ENOTDIR, shown or path)
        if st is not None:
            if exclusive:
                raise fs_error(errno.EEXIST, shown or path)
            if S.S_ISDIR(st.st_mode):
                raise fs_error(errno.EISDIR, shown or path)
            if S.S_ISCHR(st.st_mode):
                return m, bpath, st
            self._writable(m, shown or path, bpath)
            if truncate and st.st_size:
                m.backend.truncate(bpath, 0)
            return m, bpath, st
        if not create:
            raise fs_error(errno.ENOENT, shown or path)
        self._writable(m, shown or path, bpath)
        if bpath == "/":
            raise fs_error(errno.EISDIR, shown or path)
        m.backend.create(bpath, mode, exclusive=True)
        return m, bpath, None

    def write_file(
        self,
        path: str,
        data: bytes,
        *,
        append: bool = False,
        mode: int = 0o644,
        exclusive: bool = False,
        shown: str | None = None,
    ) -> None:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError("data must be bytes")
        # no truncation up front: the new bytes go over the old ones, then the tail is cut,
        # so a write that fails (ENOSPC, EFBIG) leaves the old content intact
        m, bpath, st = self._prepare_write(
            path, shown, create=True, mode=mode, exclusive=exclusive, truncate=False
        )
        if st is not None and S.S_ISCHR(st.st_mode):
            _device_write(st.st_rdev, shown or path)
            return
        if self.max_file_size is not None:
            size = (st.st_size if (st is not None and append) else 0) + len(data)
            if size > self.max_file_size:
                raise fs_error(
                    errno.EFBIG,
                    shown or path,
                    f"File too large (max_file_size={self.max_file_size})",
                )
        if append:
            if data:
                m.backend.write(bpath, bytes(data), None)
                if self.watchers:
                    self._changed(_parts_of(m, bpath))
            return
        if data:
            m.backend.write(bpath, bytes(data), 0)
        if st is not None and st.st_size > len(data):
            m.backend.truncate(bpath, len(data))
        if self.watchers:
            self._changed(_parts_of(m, bpath))

    def open(self, path: str, mode: str = "rb", shown: str | None = None) -> FileHandle:
        if mode == "rb":  # the common case, without taking the mode apart
            handle = self._open_cached(path, shown)
            if handle is not None:
                return handle
            m_, plus = "r", False
        else:
            m_ = mode.replace("b", "").replace("t", "")
            plus = "+" in m_
            m_ = m_.replace("+", "")
        if m_ not in ("r", "w", "a", "x"):
            raise ValueError(f"invalid mode: {mode!r}")
        if m_ == "r":
            parts, m, bpath, st = self._existing(path, "read", True, shown)
            if plus:
                self._check("write", parts)
                self._writable(m, shown or path, bpath)
            if S.S_ISDIR(st.st_mode):
                raise fs_error(errno.EISDIR, shown or path)
            node = None if plus else m.backend.node_of(bpath)
            return FileHandle(self, m, bpath, st, writable=plus, shown=shown or path, node=node)
        mt, bpath, st2 = self._prepare_write(
            path, shown, create=True, mode=0o644, exclusive=(m_ == "x"), truncate=(m_ == "w")
        )
        st3 = st2 if st2 is not None and S.S_ISCHR(st2.st_mode) else mt.backend.lstat(bpath)
        if (m_ == "w" or st2 is None) and self.watchers:
            self._changed(_parts_of(mt, bpath))
        return FileHandle(
            self,
            mt,
            bpath,
            st3,
            readable=plus,
            writable=True,
            append=(m_ == "a"),
            shown=shown or path,
        )

    def _open_cached(self, path: str, shown: str | None) -> FileHandle | None:
        """``open(path, "rb")`` from a cached resolution and the inode the backend holds
        there, with no lookup and no stat; None when either is not at hand. The policy is
        asked as on every open."""
        if self._epoch != _memory.changes and not self._cache_on():
            return None
        hit = self._resolved.get((path, True))
        if hit is None:
            return None
        parts, m, bpath, _ = hit
        node = m.backend.node_of(bpath)
        if node is None:
            return None
        if self.checker is not None:
            self.checker("read", "/" + "/".join(parts))
        if node.entries is not None:
            raise fs_error(errno.EISDIR, shown or path)
        if node.data is None:  # a device: its reads take the device's way
            return FileHandle(self, m, bpath, None, node=node, shown=shown or path)
        return FileHandle.reading(self, m, bpath, node, shown or path)

    def mkdir(
        self,
        path: str,
        mode: int = 0o755,
        parents: bool = False,
        exist_ok: bool = False,
        shown: str | None = None,
        check: bool = True,
        mount_point: bool = False,
    ) -> None:
        try:
            parts, m, bpath, st = self._resolve_for(path, "create_dir", True, shown, check)
        except FileNotFoundError:
            if not parents:
                raise
            head = path.rstrip("/").rpartition("/")[0] or "/"
            self.mkdir(head, 0o755, parents=True, exist_ok=True, check=check)
            parts, m, bpath, st = self.resolve(path, True, shown)
        if check:
            self._check("create_dir", parts)
        if st is not None:
            if (parents or exist_ok) and S.S_ISDIR(st.st_mode):
                return
            raise fs_error(errno.EEXIST, shown or path)
        if not mount_point:
            self._writable(m, shown or path, bpath)
        m.backend.mkdir(bpath, mode)
        self._changed(parts)

    def rmdir(self, path: str, shown: str | None = None) -> None:
        parts, m, bpath, st = self._existing(path, "rm", False, shown)
        if not S.S_ISDIR(st.st_mode):
            raise fs_error(errno.ENOTDIR, shown or path)
        if bpath == "/":
            raise fs_error(errno.EBUSY, shown or path)
        self._writable(m, shown or path, bpath)
        m.backend.rmdir(bpath)
        self._changed(parts)

    def unlink(self, path: str, shown: str | None = None) -> None:
        parts, m, bpath, st = self._existing(path, "rm", False, shown)
        if S.S_ISDIR(st.st_mode):
            raise fs_error(errno.EISDIR, shown or path)
        self._writable(m, shown or path, bpath)
        m.backend.unlink(bpath)
        self._changed(parts)

    def remove_tree(self, path: str, shown: str | None = None) -> None:
        parts, m, bpath, st = self._existing(path, "rm", False, shown)
        if S.S_ISDIR(st.st_mode):
            full = "/" + "/".join(parts)
            for name in self.listdir(full):
                self.remove_tree(full.rstrip("/") + "/" + name)
            self.rmdir(full, shown=shown)
        else:
            self.unlink("/" + "/".join(parts), shown=shown)

    def rename(
        self, src: str, dst: str, shown: str | None = None, shown2: str | None = None
    ) -> None:
        sparts, sm, sbpath, sst = self._existing(src, "rename", False, shown)
        if dst.endswith("/") and not S.S_ISDIR(sst.st_mode):
            # "x/" names a directory: a non-directory cannot be renamed onto it
            raise fs_error(errno.ENOTDIR, shown2 or dst)
        dparts, dm, dbpath, dst_st = self.resolve(dst, False, shown2)
        self._check("rename", dparts)
        if sm is not dm:
            raise fs_error(
                errno.EXDEV, shown or src, "Invalid cross-device link", path2=shown2 or dst
            )
        self._writable(sm, shown or src, sbpath)
        self._writable(dm, shown2 or dst, dbpath)
        if sbpath == "/" or dbpath == "/":
            raise fs_error(errno.EBUSY, shown or src)
        if len(self.mounts) > 1 and S.S_ISDIR(sst.st_mode):
            n = len(sparts)
            if any(len(m.parts) > n and list(m.parts[:n]) == sparts for m in self.mounts):
                raise fs_error(errno.EBUSY, shown or src, "Device or resource busy (mount below)")
        if self.guard is not None:
            self.guard.check_rename(sm.backend, sbpath, sparts, dparts, S.S_ISDIR(sst.st_mode))
        try:
            sm.backend.rename(sbpath, dbpath)
        except OSError as exc:
            if exc.filename == dbpath:
                exc.filename = shown2 or dst
            elif exc.filename == sbpath:
                exc.filename = shown or src
            raise
        self._changed(sparts)
        self._changed(dparts)

    def symlink(self, target: str, path: str, shown: str | None = None) -> None:
        validate_path(target)
        parts, m, bpath, st = self.resolve(path, False, shown)
        self._check("symlink", parts)
        if st is not None:
            raise fs_error(errno.EEXIST, shown or path)
        self._writable(m, shown or path, bpath)
        m.backend.symlink(target, bpath)
        self._changed(parts)

    def link(self, src: str, dst: str, shown: str | None = None, shown2: str | None = None) -> None:
        sparts, sm, sbpath, sst = self._existing(src, "read", False, shown)
        dparts, dm, dbpath, dst_st = self.resolve(dst, False, shown2)
        self._check("link", dparts)
        if dst_st is not None:
            raise fs_error(errno.EEXIST, shown2 or dst)
        if sm is not dm:
            raise fs_error(
                errno.EXDEV, shown or src, "Invalid cross-device link", path2=shown2 or dst
            )
        self._writable(dm, shown2 or dst, dbpath)
        self._writable(sm, shown or src, sbpath)  # an alias would make it writable
        if self.guard is not None:
            self.guard.check_link(sparts, dparts)
        dm.backend.link(sbpath, dbpath)
        self._changed(sparts)  # its link count
        self._changed(dparts)

    def chmod(
        self, path: str, mode: int, follow_symlinks: bool = True, shown: str | None = None
    ) -> None:
        parts, m, bpath, st = self._existing(path, "chmod", follow_symlinks, shown)
        self._writable(m, shown or path, bpath)
        m.backend.chmod(bpath, mode)
        self._changed(parts)

    def chown(
        self, path: str, uid: int, gid: int, follow_symlinks: bool = True, shown: str | None = None
    ) -> None:
        parts, m, bpath, st = self._existing(path, "chmod", follow_symlinks, shown)
        self._writable(m, shown or path, bpath)
        m.backend.chown(bpath, uid, gid)
        self._changed(parts)

    def utime(
        self,
        path: str,
        ns: tuple[int | None, int | None] | None = None,
        follow_symlinks: bool = True,
        shown: str | None = None,
    ) -> None:
        parts, m, bpath, st = self._existing(path, "write", follow_symlinks, shown)
        self._writable(m, shown or path, bpath)
        if ns is None:
            now = time.time_ns()
            ns = (now, now)
        m.backend.utimens(bpath, ns[0], ns[1])
        self._changed(parts)

    def truncate(self, path: str, size: int, shown: str | None = None) -> None:
        parts, m, bpath, st = self._existing(path, "truncate", True, shown)
        if S.S_ISDIR(st.st_mode):
            raise fs_error(errno.EISDIR, shown or path)
        self._writable(m, shown or path, bpath)
        if self.max_file_size is not None and size > self.max_file_size:
            raise fs_error(
                errno.EFBIG, shown or path, f"File too large (max_file_size={self.max_file_size})"
            )
        m.backend.truncate(bpath, size)
        self._changed(parts)

    def usage(self) -> tuple[int, int]:
        b = i = 0
        for m in self.mounts:
            ub, ui = m.backend.usage()
            b += ub
            i += ui
        return b, i
