"""A process's view of the VM filesystem: relative paths resolve against its cwd, every call is
checked against the VM's permission policy (through the VFS)."""

from __future__ import annotations

import errno
import posixpath
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from pocketos.errors import fs_error
from pocketos.kernel.fs.api import StatResult

if TYPE_CHECKING:
    from pocketos.kernel.fs.vfs import VFS, FileHandle

__all__ = ["FsView"]


class FsView:
    """Sync filesystem calls for commands. Paths may be relative (to ``cwd``).

    Errors are ``OSError`` subclasses with real errno values and ``filename`` set to the path
    as given, so ``f"{name}: {path}: {exc.strerror}"`` reads like coreutils.
    """

    __slots__ = ("vfs", "cwd", "owner")

    def __init__(self, vfs: VFS, cwd: str = "/", owner: Any = None) -> None:
        self.vfs = vfs
        self.cwd = cwd
        #: the process whose open files are counted (``open_files``/``max_open_files``)
        self.owner = owner

    def abspath(self, path: str) -> str:
        """Absolute, normalized (``.``/``..`` folded lexically, symlinks untouched) path."""
        if "\0" in path:
            # commands get an OSError like any other bad path (the public API raises ValueError)
            raise fs_error(errno.EINVAL, path, "Invalid argument (path contains a NUL byte)")
        if not path.startswith("/"):
            path = self.cwd.rstrip("/") + "/" + path
        if path == "/":
            return "/"
        if "/." not in path and "//" not in path and path[-1] != "/":
            return path  # already normal: no ".", "..", empty component or trailing slash
        norm = posixpath.normpath(path).replace("//", "/")
        # a trailing slash means "a directory": keep it so the VFS can say ENOTDIR/EISDIR
        if path.endswith("/") and norm != "/":
            norm += "/"
        return norm

    def with_cwd(self, cwd: str) -> FsView:
        return FsView(self.vfs, cwd, self.owner)

    # --- queries ----------------------------------------------------------------------------
    def stat(self, path: str, follow_symlinks: bool = True) -> StatResult:
        return self.vfs.stat(self.abspath(path), follow_symlinks=follow_symlinks, shown=path)

    def lstat(self, path: str) -> StatResult:
        return self.stat(path, follow_symlinks=False)

    def exists(self, path: str) -> bool:
        try:
            self.stat(path)
            return True
        except OSError:
            return False

    def lexists(self, path: str) -> bool:
        try:
            self.lstat(path)
            return True
        except OSError:
            return False

    def isdir(self, path: str) -> bool:
        try:
            return self.stat(path).is_dir()
        except OSError:
            return False

    def isfile(self, path: str) -> bool:
        try:
            return self.stat(path).is_file()
        except OSError:
            return False

    def islink(self, path: str) -> bool:
        try:
            return self.lstat(path).is_symlink()
        except OSError:
            return False

    def listdir(self, path: str = ".") -> list[str]:
        """Entry names (no ``.``/``..``), in backend order: sort them yourself."""
        return self.vfs.listdir(self.abspath(path), shown=path)

    def lstat_entries(self, path: str = ".") -> list[tuple[str, StatResult | OSError | None]]:
        """listdir() with each entry's lstat for a walker (see ``VFS.lstat_entries``): the
        StatResult, the error lstat would raise, or None where the walker must lstat itself."""
        return self.vfs.lstat_entries(self.abspath(path), shown=path)

    def readlink(self, path: str) -> str:
        return self.vfs.readlink(self.abspath(path), shown=path)

    def realpath(self, path: str, strict: bool = False) -> str:
        """Resolve every symlink. ``strict``: raise when a component is missing."""
        return self.vfs.realpath(self.abspath(path), strict=strict, shown=path)

    def walk(
        self, top: str, topdown: bool = True, follow_symlinks: bool = False
    ) -> Iterator[tuple[str, list[str], list[str]]]:
        """Like ``os.walk`` (errors on subdirectories are skipped)."""
        try:
            names = sorted(self.listdir(top))
        except OSError:
            return
        dirs: list[str] = []
        files: list[str] = []
        for n in names:
            p = posixpath.join(top, n)
            try:
                st = self.stat(p, follow_symlinks=follow_symlinks)
            except OSError:
                files.append(n)
                continue
            (dirs if st.is_dir() else files).append(n)
        if topdown:
            yield top, dirs, files
        for d in dirs:
            yield from self.walk(posixpath.join(top, d), topdown, follow_symlinks)
        if not topdown:
            yield top, dirs, files

    # --- file contents ----------------------------------------------------------------------
    def read_bytes(self, path: str) -> bytes:
        return self.vfs.read_file(self.abspath(path), shown=path)

    def read_regular(self, path: str, max_size: int | None = None) -> bytes | None:
        """The bytes of a file, or None for a character device or a file over ``max_size``
        (open it as a stream)."""
        return self.vfs.read_regular(self.abspath(path), shown=path, max_size=max_size)

    def read_text(self, path: str) -> str:
        return self.read_bytes(path).decode("utf-8", "surrogateescape")

    def write_bytes(
        self,
        path: str,
        data: bytes,
        *,
        append: bool = False,
        mode: int = 0o644,
        exclusive: bool = False,
    ) -> None:
        self.vfs.write_file(
            self.abspath(path), data, append=append, mode=mode, exclusive=exclusive, shown=path
        )

    def write_text(self, path: str, text: str, *, append: bool = False) -> None:
        self.write_bytes(path, text.encode("utf-8", "surrogateescape"), append=append)

    def open(self, path: str, mode: str = "rb") -> FileHandle:
        """Open for streaming: modes ``rb``, ``wb``, ``ab``, ``r+b``, ``w+b``, ``xb``.
        The handle has ``read(n=-1)``, ``write(b)``, ``seek``, ``tell``, ``truncate``, ``close``
        and is a context manager."""
        owner = self.owner
        if owner is not None and owner.open_files >= owner.max_open_files:
            budget = getattr(owner, "budget", None)
            if budget is not None and budget.limit_hit is None:
                budget.limit_hit = "max_open_files"
            raise fs_error(
                errno.EMFILE, path, f"Too many open files (max_open_files={owner.max_open_files})"
            )
        handle = self.vfs.open(self.abspath(path), mode, shown=path)
        if owner is not None:
            owner.open_files += 1
            handle.owner = owner
        return handle

    # --- mutations --------------------------------------------------------------------------
    def mkdir(
        self, path: str, mode: int = 0o755, parents: bool = False, exist_ok: bool = False
    ) -> None:
        self.vfs.mkdir(
            self.abspath(path), mode=mode, parents=parents, exist_ok=exist_ok, shown=path
        )

    def rmdir(self, path: str) -> None:
        self.vfs.rmdir(self.abspath(path), shown=path)

    def unlink(self, path: str) -> None:
        self.vfs.unlink(self.abspath(path), shown=path)

    def rename(self, src: str, dst: str) -> None:
        """POSIX rename; across mounts raises OSError(EXDEV)."""
        self.vfs.rename(self.abspath(src), self.abspath(dst), shown=src, shown2=dst)

    def symlink(self, target: str, path: str) -> None:
        """Create symlink ``path`` pointing at ``target`` (stored as given)."""
        self.vfs.symlink(target, self.abspath(path), shown=path)

    def link(self, src: str, dst: str) -> None:
        self.vfs.link(self.abspath(src), self.abspath(dst), shown=src, shown2=dst)

    def chmod(self, path: str, mode: int, follow_symlinks: bool = True) -> None:
        self.vfs.chmod(self.abspath(path), mode, follow_symlinks=follow_symlinks, shown=path)

    def chown(self, path: str, uid: int, gid: int, follow_symlinks: bool = True) -> None:
        self.vfs.chown(self.abspath(path), uid, gid, follow_symlinks=follow_symlinks, shown=path)

    def utime(
        self,
        path: str,
        ns: tuple[int | None, int | None] | None = None,
        follow_symlinks: bool = True,
    ) -> None:
        """Set (atime_ns, mtime_ns); ``None`` sets both to now, a ``None`` member keeps it."""
        self.vfs.utime(self.abspath(path), ns, follow_symlinks=follow_symlinks, shown=path)

    def truncate(self, path: str, size: int) -> None:
        self.vfs.truncate(self.abspath(path), size, shown=path)

    def remove_tree(self, path: str) -> None:
        """``rm -rf`` semantics for one path (missing is an error; links are not followed)."""
        self.vfs.remove_tree(self.abspath(path), shown=path)

    def mount_of(self, path: str) -> tuple[str, str, bool]:
        """(mount point, backend kind, read-only) for ``path`` — for ``df``/``stat -f``."""
        return self.vfs.mount_of(self.abspath(path))
