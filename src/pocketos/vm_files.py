"""The file and mount methods of the in-process VM (:class:`FilesMixin` of
:class:`~pocketos.AsyncVM`): plain calls on its VFS, every path checked absolute first."""

from __future__ import annotations

import errno
import os
import posixpath
import stat as S
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from pocketos.errors import fs_error
from pocketos.kernel.fs.api import Backend, StatResult
from pocketos.kernel.fs.memory import MemoryBackend
from pocketos.kernel.fs.overlay import OverlayBackend
from pocketos.vm_api import FileFront, check_abs, err_text, to_bytes

if TYPE_CHECKING:
    from pocketos.kernel.fs.vfs import VFS
    from pocketos.kernel.kernel import Kernel
    from pocketos.kernel.limits import Limits

__all__ = ["FilesMixin"]


class FilesMixin(FileFront):
    """Files, directories, links and mounts of a VM's filesystem."""

    if TYPE_CHECKING:
        vfs: VFS
        kernel: Kernel
        limits: Limits
        _mount_decls: dict[str, dict[str, Any] | None]

        def _alive(self) -> None: ...

    # --- files -------------------------------------------------------------------------
    def read_file(self, path: str) -> bytes:
        self._alive()
        return self.vfs.read_file(check_abs(path))

    def _put_file(
        self, path: str, data: str | bytes, *, parents: bool, mode: int | None, append: bool
    ) -> None:
        self._alive()
        p = check_abs(path)
        if parents:
            head = posixpath.dirname(p)
            if head != "/":
                self.vfs.mkdir(head, parents=True, exist_ok=True)
        self.vfs.write_file(p, to_bytes(data), append=append)
        if mode is not None:
            self.vfs.chmod(p, mode)

    def write_files(
        self, files: Mapping[str, str | bytes] | Iterable[tuple[str, str | bytes]]
    ) -> list[dict[str, Any]]:
        """Write many files (parents created). Returns one result per entry:
        ``{"path", "ok", "error"}``; a failure does not stop the batch."""
        items = files.items() if isinstance(files, Mapping) else files
        out: list[dict[str, Any]] = []
        for path, data in items:
            try:
                self.write_file(path, data, parents=True)
                out.append({"path": path, "ok": True, "error": None})
            except (OSError, ValueError, TypeError) as exc:
                out.append({"path": path, "ok": False, "error": err_text(exc)})
        return out

    def read_files(self, paths: Iterable[str]) -> list[dict[str, Any]]:
        """Read many files: ``{"path", "ok", "content" (bytes) | None, "error"}`` each."""
        out: list[dict[str, Any]] = []
        for path in paths:
            try:
                out.append(
                    {"path": path, "ok": True, "content": self.read_file(path), "error": None}
                )
            except (OSError, ValueError, TypeError) as exc:
                out.append({"path": path, "ok": False, "content": None, "error": err_text(exc)})
        return out

    def mkdir(
        self, path: str, *, parents: bool = False, exist_ok: bool = False, mode: int = 0o755
    ) -> None:
        self._alive()
        self.vfs.mkdir(check_abs(path), mode, parents=parents, exist_ok=exist_ok)

    def readdir(self, path: str) -> list[str]:
        self._alive()
        return sorted(self.vfs.listdir(check_abs(path)))

    def readdir_recursive(
        self, path: str, *, max_depth: int | None = None, exclude: Iterable[str] = ()
    ) -> list[dict[str, Any]]:
        """Entries below ``path``: ``{"path", "type", "size"}``, depth first, sorted; names
        in ``exclude`` (glob patterns of one name, like ``node_modules`` or ``*.pyc``) are
        skipped with their subtrees. ``max_depth`` counts levels of recursion, as agentOS
        does: 0 lists only the immediate children, 1 also their children, and so on."""
        import fnmatch

        self._alive()
        if max_depth is not None and (
            isinstance(max_depth, bool) or not isinstance(max_depth, int) or max_depth < 0
        ):
            raise ValueError(f"max_depth must be a non-negative int or None, not {max_depth!r}")
        root = check_abs(path)
        excl = list(exclude)
        out: list[dict[str, Any]] = []

        def walk(d: str, depth: int) -> None:
            for name in sorted(self.vfs.listdir(d)):
                if any(fnmatch.fnmatchcase(name, e) for e in excl):
                    continue
                p = d.rstrip("/") + "/" + name
                try:
                    st = self.vfs.stat(p, follow_symlinks=False)
                except OSError:
                    continue
                out.append({"path": p, "type": st.type_name, "size": st.st_size})
                if S.S_ISDIR(st.st_mode) and (max_depth is None or depth < max_depth):
                    walk(p, depth + 1)

        walk(root, 0)
        return out

    def stat(self, path: str) -> StatResult:
        self._alive()
        return self.vfs.stat(check_abs(path))

    def lstat(self, path: str) -> StatResult:
        self._alive()
        return self.vfs.stat(check_abs(path), follow_symlinks=False)

    def exists(self, path: str) -> bool:
        """Like ``os.path.exists``: False also when the policy hides the path."""
        try:
            self.stat(path)
            return True
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            return False

    def move(self, src: str, dst: str, *, overwrite: bool = True) -> None:
        """Rename; across mounts it copies and deletes (like ``mv``). The low-level
        ``rename`` raises EXDEV instead."""
        self._alive()
        s, d = check_abs(src), check_abs(dst)
        if not overwrite and self.vfs.resolve(d, False)[3] is not None:
            raise fs_error(errno.EEXIST, dst)
        try:
            self.vfs.rename(s, d)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            self.copy(s, d, recursive=True)
            self.vfs.remove_tree(s)

    def rename(self, src: str, dst: str) -> None:
        self._alive()
        self.vfs.rename(check_abs(src), check_abs(dst))

    def copy(self, src: str, dst: str, *, recursive: bool = False) -> None:
        self._alive()
        s, d = check_abs(src), check_abs(dst)
        st = self.vfs.stat(s, follow_symlinks=False)
        if S.S_ISDIR(st.st_mode):
            if not recursive:
                raise fs_error(errno.EISDIR, src, "Is a directory (use recursive=True)")
            self.vfs.mkdir(d, st.st_mode & 0o7777, exist_ok=True)
            for name in sorted(self.vfs.listdir(s)):
                self.copy(s.rstrip("/") + "/" + name, d.rstrip("/") + "/" + name, recursive=True)
        elif S.S_ISLNK(st.st_mode):
            self.vfs.symlink(self.vfs.readlink(s), d)
        else:
            self.vfs.write_file(d, self.vfs.read_file(s), mode=st.st_mode & 0o7777)
            self.vfs.chmod(d, st.st_mode & 0o7777)

    def delete(self, path: str, *, recursive: bool = False) -> None:
        self._alive()
        p = check_abs(path)
        st = self.vfs.stat(p, follow_symlinks=False)
        if S.S_ISDIR(st.st_mode):
            if recursive:
                self.vfs.remove_tree(p)
            else:
                self.vfs.rmdir(p)
        else:
            self.vfs.unlink(p)

    def chmod(self, path: str, mode: int) -> None:
        self._alive()
        self.vfs.chmod(check_abs(path), mode)

    def symlink(self, target: str, path: str) -> None:
        self._alive()
        self.vfs.symlink(target, check_abs(path))

    def readlink(self, path: str) -> str:
        self._alive()
        return self.vfs.readlink(check_abs(path))

    def disk_usage(self) -> tuple[int, int]:
        """(bytes, inodes) held by the VM's writable layers."""
        return self.vfs.usage()

    # --- mounts ------------------------------------------------------------------------
    def mount(
        self,
        path: str,
        backend: Backend | None = None,
        *,
        host: str | None = None,
        mode: str = "ro",
        memory: bool = False,
        fsspec: Any = None,
        root: str = "",
        readonly: bool = False,
    ) -> None:
        """Mount a filesystem at ``path``.

        ``host="/dir"`` with ``mode`` ``"ro"`` (default), ``"rw"`` (writes reach the host) or
        ``"overlay"`` (reads the host, writes stay in the VM); ``memory=True``; ``fsspec=fs``
        (any fsspec filesystem, with ``root`` inside it); or any ``backend``.
        """
        self._alive()
        p = check_abs(path)
        kind = None
        decl: dict[str, Any] | None = None
        if host is not None:
            from pocketos.kernel.fs.hostdir import HostDirBackend

            if mode not in ("ro", "rw", "overlay"):
                raise ValueError(f"mount mode must be ro, rw or overlay, not {mode!r}")
            hb = HostDirBackend(host, writable=(mode == "rw"))
            decl = {"host": os.path.abspath(host), "mode": mode, "readonly": readonly}
            if mode == "overlay":
                lim = self.limits
                backend = OverlayBackend(
                    [hb],
                    MemoryBackend(
                        max_bytes=lim.max_fs_bytes,
                        max_inodes=lim.max_fs_inodes,
                        max_file_size=lim.max_file_size,
                    ),
                )
                kind = "overlay-hostdir"
            else:
                backend = hb
                kind = "hostdir"
                readonly = readonly or mode == "ro"
        elif memory:
            decl = {"memory": True, "readonly": readonly}
            lim = self.limits
            backend = MemoryBackend(
                max_bytes=lim.max_fs_bytes,
                max_inodes=lim.max_fs_inodes,
                max_file_size=lim.max_file_size,
            )
        elif fsspec is not None:
            from pocketos.kernel.fs.fsspecfs import FsspecBackend

            backend = FsspecBackend(fsspec, root, readonly=readonly)
            kind = "fsspec"
        if backend is None:
            raise ValueError("mount needs a backend, host=, memory=True or fsspec=")
        self.vfs.mount(p, backend, readonly=readonly, kind=kind)
        self._mount_decls[p] = decl
        self.kernel.audit.record(
            "mount",
            capability="fs.mount",
            resource=p,
            decision="allow",
            kind_=kind or backend.kind,
            readonly=readonly,
        )

    def _mount_spec(self, path: str, spec: Any) -> None:
        if isinstance(spec, Backend):
            self.mount(path, spec)
        elif isinstance(spec, Mapping):
            self.mount(path, **spec)
        elif isinstance(spec, str):
            self.mount(path, host=spec)
        else:
            raise ValueError(f"bad mount spec for {path}: {spec!r}")

    def unmount(self, path: str) -> None:
        self._alive()
        p = check_abs(path)
        backend = self.vfs.unmount(p)
        self._mount_decls[p] = None
        self.kernel.audit.record("mount", capability="fs.unmount", resource=p, decision="allow")
        backend.release()

    def mounts(self) -> list[dict[str, Any]]:
        return [
            {"path": m.path, "kind": m.kind, "readonly": m.readonly}
            for m in sorted(self.vfs.mounts, key=lambda m: m.path)
        ]
