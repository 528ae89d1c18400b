"""A WASI preview1 host over the VM: the calls QuickJS imports, served from an ``FsView``.

The guest has one preopened directory, ``/`` (fd 3), which is the VM's root; stdin, stdout and
stderr are the process's streams (stdin is read on demand, so ``yes | node -e ...`` works).
Every filesystem call is made on the VM's event loop through a :class:`LoopBridge`, so the
permission policy sees all of them. Nothing here opens a host file.
"""

from __future__ import annotations

import errno as E
import posixpath
import stat as S
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pocketos.wasm.bridge import LoopBridge, OutputSink

if TYPE_CHECKING:
    from pocketos.kernel.fs.view import FsView
    from pocketos.kernel.streams import InputStream

__all__ = ["WasiHost", "GuestExit", "GuestStop"]

# WASI preview1 errno numbers
#: the device a guest writes an HTTP request to and reads the answer from (see door.py)
DOOR_PATH = "/dev/pocketos-fetch"

W_SUCCESS, W_2BIG, W_ACCES, W_BADF, W_EXIST, W_FAULT, W_INVAL, W_IO = 0, 1, 2, 8, 20, 21, 28, 29
W_ISDIR, W_LOOP, W_NAMETOOLONG, W_NOENT, W_NOSPC, W_NOSYS = 31, 32, 37, 44, 51, 52
W_NOTDIR, W_NOTEMPTY, W_NOTSUP, W_PERM, W_PIPE, W_ROFS, W_SPIPE, W_XDEV = (
    54,
    55,
    58,
    63,
    64,
    69,
    70,
    75,
)

_HOST_TO_WASI = {
    E.EACCES: W_ACCES,
    E.EPERM: W_PERM,
    E.ENOENT: W_NOENT,
    E.EEXIST: W_EXIST,
    E.EISDIR: W_ISDIR,
    E.ENOTDIR: W_NOTDIR,
    E.ENOTEMPTY: W_NOTEMPTY,
    E.EROFS: W_ROFS,
    E.EXDEV: W_XDEV,
    E.ENOSPC: W_NOSPC,
    E.EINVAL: W_INVAL,
    E.ELOOP: W_LOOP,
    E.ENAMETOOLONG: W_NAMETOOLONG,
    E.EBADF: W_BADF,
    E.EPIPE: W_PIPE,
    E.ESPIPE: W_SPIPE,
    E.EDQUOT: W_NOSPC,
    E.EFBIG: W_NOSPC,
    E.ENOSYS: W_NOSYS,
}

# file types
FT_UNKNOWN, FT_CHAR, FT_DIR, FT_REG, FT_LINK = 0, 2, 3, 4, 7
# oflags, fdflags, rights, lookup flags
O_CREAT, O_DIRECTORY, O_EXCL, O_TRUNC = 1, 2, 4, 8
FDF_APPEND = 1
R_FD_READ, R_FD_SEEK, R_FD_TELL, R_FD_WRITE = 1 << 1, 1 << 2, 1 << 5, 1 << 6
ALL_RIGHTS = (1 << 29) - 1
LOOKUP_FOLLOW = 1
# the most one fd_read takes from a file at once
_MAX_FILE_READ = 1024 * 1024
MASK32 = 0xFFFFFFFF


class GuestExit(Exception):
    """``proc_exit`` was called."""

    def __init__(self, code: int) -> None:
        super().__init__(f"exit {code}")
        self.code = code


class GuestStop(Exception):
    """The host stopped the guest (cancel, broken pipe)."""


def _wasi_errno(exc: BaseException) -> int:
    if isinstance(exc, OSError) and exc.errno is not None:
        return _HOST_TO_WASI.get(exc.errno, W_IO)
    if isinstance(exc, PermissionError):
        return W_ACCES
    if type(exc).__name__ == "LimitExceeded":
        return W_NOSPC
    if isinstance(exc, ValueError):
        return W_INVAL
    return W_IO


def _filetype(mode: int) -> int:
    if S.S_ISDIR(mode):
        return FT_DIR
    if S.S_ISREG(mode):
        return FT_REG
    if S.S_ISLNK(mode):
        return FT_LINK
    if S.S_ISCHR(mode):
        return FT_CHAR
    return FT_UNKNOWN


@dataclass
class _Fd:
    kind: str  # "dir", "file", "stdin", "stdout", "stderr", "door"
    path: str = "/"
    handle: Any = None
    readable: bool = True
    writable: bool = False
    append: bool = False
    listing: list[tuple[str, int, int]] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class WasiHost:
    """The imports of ``wasi_snapshot_preview1`` that QuickJS uses, for one guest."""

    def __init__(
        self,
        fs: FsView,
        bridge: LoopBridge,
        stdin: InputStream,
        stdout: OutputSink,
        stderr: OutputSink,
        env: dict[str, str],
        cancel: threading.Event,
        stdin_data: bytes | None = None,
        door: Callable[[bytes], bytes] | None = None,
    ) -> None:
        self.fs = fs
        #: answers the requests a guest writes to :data:`DOOR_PATH` (HTTP through the gateway)
        self.door = door
        self.bridge = bridge
        self.stdin = stdin
        self.stdin_buf = b""
        self.stdin_eof = False
        if stdin_data is not None:
            self.stdin_buf, self.stdin_eof = stdin_data, True
        self.out = stdout
        self.err = stderr
        self.env = [f"{k}={v}".encode("utf-8", "surrogateescape") + b"\0" for k, v in env.items()]
        self.cancel = cancel
        #: how the guest ended inside a host call (proc_exit, a stop). Kept here because
        #: wasmtime-py hands a host call's exception back through one process-wide slot,
        #: which a guest trapping at the same time on another thread can take.
        self.ended: GuestExit | GuestStop | None = None
        self.fds: dict[int, _Fd] = {
            0: _Fd("stdin"),
            1: _Fd("stdout", writable=True),
            2: _Fd("stderr", writable=True),
            3: _Fd("dir", "/"),
        }
        self.next_fd = 4
        self.max_fds = 1024
        self.memory: Any = None
        self.store: Any = None
        self.origin = time.monotonic_ns()

    # --- plumbing ----------------------------------------------------------------------
    def define(self, linker: Any, wt: Any) -> None:
        i32, i64 = wt.ValType.i32(), wt.ValType.i64()
        sigs: dict[str, tuple[list[Any], Callable[..., Any]]] = {
            "environ_get": ([i32, i32], self.environ_get),
            "environ_sizes_get": ([i32, i32], self.environ_sizes_get),
            "clock_time_get": ([i32, i64, i32], self.clock_time_get),
            "fd_close": ([i32], self.fd_close),
            "fd_fdstat_get": ([i32, i32], self.fd_fdstat_get),
            "fd_fdstat_set_flags": ([i32, i32], self.fd_fdstat_set_flags),
            "fd_prestat_get": ([i32, i32], self.fd_prestat_get),
            "fd_prestat_dir_name": ([i32, i32, i32], self.fd_prestat_dir_name),
            "fd_read": ([i32, i32, i32, i32], self.fd_read),
            "fd_readdir": ([i32, i32, i32, i64, i32], self.fd_readdir),
            "fd_seek": ([i32, i64, i32, i32], self.fd_seek),
            "fd_write": ([i32, i32, i32, i32], self.fd_write),
            "path_create_directory": ([i32, i32, i32], self.path_create_directory),
            "path_filestat_get": ([i32, i32, i32, i32, i32], self.path_filestat_get),
            "path_filestat_set_times": (
                [i32, i32, i32, i32, i64, i64, i32],
                self.path_filestat_set_times,
            ),
            "path_open": ([i32, i32, i32, i32, i32, i64, i64, i32, i32], self.path_open),
            "path_remove_directory": ([i32, i32, i32], self.path_remove_directory),
            "path_rename": ([i32, i32, i32, i32, i32, i32], self.path_rename),
            "path_unlink_file": ([i32, i32, i32], self.path_unlink_file),
            "poll_oneoff": ([i32, i32, i32, i32], self.poll_oneoff),
            "proc_exit": ([i32], self.proc_exit),
        }
        for name, (params, fn) in sigs.items():
            results = [] if name == "proc_exit" else [i32]
            linker.define_func(
                "wasi_snapshot_preview1", name, wt.FuncType(params, results), self._guard(fn)
            )

    def _guard(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any) -> Any:
            if self.cancel.is_set():
                self.ended = GuestStop("stopped")
                raise self.ended
            try:
                return fn(*args)
            except (GuestExit, GuestStop) as exc:
                self.ended = exc
                raise
            except BaseException as exc:
                if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                    raise
                return _wasi_errno(exc)

        return call

    def _fs(self, fn: Callable[..., Any], *args: Any) -> Any:
        return self.bridge.call(fn, *args)

    def _read(self, ptr: int, n: int) -> bytes:
        return bytes(self.memory.read(self.store, ptr & MASK32, (ptr & MASK32) + (n & MASK32)))

    def _write(self, ptr: int, data: bytes) -> None:
        self.memory.write(self.store, data, ptr & MASK32)

    def _u32(self, ptr: int, v: int) -> None:
        self._write(ptr, struct.pack("<I", v & MASK32))

    def _path(self, dirfd: int, ptr: int, n: int) -> str:
        d = self.fds.get(dirfd)
        if d is None or d.kind != "dir":
            raise OSError(E.EBADF, "bad file descriptor")
        rel = self._read(ptr, n).decode("utf-8", "surrogateescape")
        if "\0" in rel:
            raise OSError(E.EINVAL, "NUL in path")
        p = posixpath.normpath(posixpath.join(d.path, rel))
        return "/" + p.lstrip("/") if p != "/" else "/"

    def _iovs(self, iovs: int, n: int) -> list[tuple[int, int]]:
        raw = self._read(iovs, 8 * (n & MASK32))
        return [struct.unpack_from("<II", raw, 8 * i) for i in range(n & MASK32)]

    # --- environment and clocks --------------------------------------------------------
    def environ_sizes_get(self, count_ptr: int, size_ptr: int) -> int:
        self._u32(count_ptr, len(self.env))
        self._u32(size_ptr, sum(len(e) for e in self.env))
        return W_SUCCESS

    def environ_get(self, env_ptr: int, buf_ptr: int) -> int:
        ptrs = []
        pos = buf_ptr & MASK32
        blob = b"".join(self.env)
        for e in self.env:
            ptrs.append(pos)
            pos += len(e)
        self._write(buf_ptr, blob)
        self._write(env_ptr, struct.pack(f"<{len(ptrs)}I", *ptrs))
        return W_SUCCESS

    def clock_time_get(self, clock: int, precision: int, out: int) -> int:
        now = time.time_ns() if clock == 0 else time.monotonic_ns()
        self._write(out, struct.pack("<Q", now))
        return W_SUCCESS

    # --- descriptors -------------------------------------------------------------------
    def fd_close(self, fd: int) -> int:
        f = self.fds.pop(fd, None)
        if f is None or fd == 3:
            if f is not None:
                self.fds[fd] = f
            return W_BADF
        if f.handle is not None:
            self._fs(f.handle.close)
        return W_SUCCESS

    def fd_fdstat_get(self, fd: int, out: int) -> int:
        f = self.fds.get(fd)
        if f is None:
            return W_BADF
        if f.kind == "dir":
            ft, rights = FT_DIR, ALL_RIGHTS
        elif f.kind == "file":
            ft, rights = FT_REG, ALL_RIGHTS
        else:  # a pipe: a character device that can seek is "not a tty" for wasi-libc
            ft, rights = FT_CHAR, ALL_RIGHTS
        flags = FDF_APPEND if f.append else 0
        self._write(out, struct.pack("<BxHxxxxQQ", ft, flags, rights, rights))
        return W_SUCCESS

    def fd_fdstat_set_flags(self, fd: int, flags: int) -> int:
        f = self.fds.get(fd)
        if f is None:
            return W_BADF
        f.append = bool(flags & FDF_APPEND)
        return W_SUCCESS

    def fd_prestat_get(self, fd: int, out: int) -> int:
        if fd != 3:
            return W_BADF
        self._write(out, struct.pack("<BxxxI", 0, 1))
        return W_SUCCESS

    def fd_prestat_dir_name(self, fd: int, ptr: int, n: int) -> int:
        if fd != 3:
            return W_BADF
        self._write(ptr, b"/"[: n & MASK32])
        return W_SUCCESS

    def _read_stdin(self, want: int) -> bytes:
        if not self.stdin_buf and not self.stdin_eof:
            chunk = self.bridge.run(self.stdin.read(65536))
            if not chunk:
                self.stdin_eof = True
            self.stdin_buf = chunk
        data, self.stdin_buf = self.stdin_buf[:want], self.stdin_buf[want:]
        return data

    def _door_read(self, f: _Fd, want: int) -> bytes:
        if f.extra["answer"] is None:
            assert self.door is not None
            f.extra["answer"] = self.door(bytes(f.extra["request"]))
            f.extra["pos"] = 0
        pos = f.extra["pos"]
        data = f.extra["answer"][pos : pos + want]
        f.extra["pos"] = pos + len(data)
        return bytes(data)

    def fd_read(self, fd: int, iovs: int, n: int, nread: int) -> int:
        f = self.fds.get(fd)
        if f is None or not f.readable or f.kind in ("stdout", "stderr"):
            return W_BADF
        if f.kind == "dir":
            return W_ISDIR
        total = 0
        for ptr, length in self._iovs(iovs, n):
            if length == 0:
                continue
            if f.kind == "stdin":
                data = self._read_stdin(length)
            elif f.kind == "door":
                data = self._door_read(f, length)
            else:
                # a short read (as POSIX allows): a guest asking for a whole large file never
                # makes the host hold it at once
                data = self._fs(f.handle.read, min(length, _MAX_FILE_READ))
            self._write(ptr, data)
            total += len(data)
            if len(data) < length:
                break
        self._u32(nread, total)
        return W_SUCCESS

    def fd_write(self, fd: int, iovs: int, n: int, nwritten: int) -> int:
        f = self.fds.get(fd)
        if f is None or not f.writable:
            return W_BADF
        data = b"".join(self._read(p, ln) for p, ln in self._iovs(iovs, n))
        if f.kind == "stdout":
            self.out.write(data)
        elif f.kind == "stderr":
            self.err.write(data)
        elif f.kind == "door":
            if f.extra["answer"] is not None:
                return W_INVAL
            f.extra["request"] += data
        else:
            h = f.handle
            if f.append:
                self._fs(h.seek, 0, 2)
            self._fs(h.write, data)
        if self.out.broken or self.err.broken:
            raise GuestStop("broken pipe")
        self._u32(nwritten, len(data))
        return W_SUCCESS

    def fd_seek(self, fd: int, offset: int, whence: int, out: int) -> int:
        f = self.fds.get(fd)
        if f is None:
            return W_BADF
        if f.kind != "file":
            return W_SPIPE
        if whence not in (0, 1, 2):
            return W_INVAL
        pos = self._fs(f.handle.seek, offset, whence)
        if pos is None:
            pos = self._fs(f.handle.tell)
        self._write(out, struct.pack("<Q", pos))
        return W_SUCCESS

    def fd_readdir(self, fd: int, buf: int, buf_len: int, cookie: int, used: int) -> int:
        f = self.fds.get(fd)
        if f is None:
            return W_BADF
        if f.kind != "dir":
            return W_NOTDIR
        if f.listing is None or cookie == 0:
            f.listing = self._fs(self._listing, f.path)
        out = bytearray()
        cap = buf_len & MASK32
        for i in range(cookie, len(f.listing)):
            name, ino, ft = f.listing[i]
            raw = name.encode("utf-8", "surrogateescape")
            out += struct.pack("<QQIBxxx", i + 1, ino, len(raw), ft) + raw
            if len(out) >= cap:
                break
        out = out[:cap]
        self._write(buf, bytes(out))
        self._u32(used, len(out))
        return W_SUCCESS

    def _listing(self, path: str) -> list[tuple[str, int, int]]:
        st = self.fs.stat(path)
        parent = self.fs.stat(posixpath.dirname(path) or "/")
        rows = [(".", st.st_ino, FT_DIR), ("..", parent.st_ino, FT_DIR)]
        base = path.rstrip("/")
        for name in sorted(self.fs.listdir(path)):
            try:
                est = self.fs.lstat(f"{base}/{name}")
                rows.append((name, est.st_ino, _filetype(est.st_mode)))
            except OSError:
                continue
        return rows

    # --- paths -------------------------------------------------------------------------
    def path_filestat_get(self, dirfd: int, flags: int, ptr: int, n: int, out: int) -> int:
        path = self._path(dirfd, ptr, n)
        follow = bool(flags & LOOKUP_FOLLOW)
        st = self._fs(self.fs.stat, path, follow)
        self._write(
            out,
            struct.pack(
                "<QQBxxxxxxxQQQQQ",
                st.st_dev & ((1 << 64) - 1),
                st.st_ino & ((1 << 64) - 1),
                _filetype(st.st_mode),
                st.st_nlink,
                max(0, st.st_size),
                max(0, st.st_atime_ns),
                max(0, st.st_mtime_ns),
                max(0, st.st_ctime_ns),
            ),
        )
        return W_SUCCESS

    def path_filestat_set_times(
        self, dirfd: int, flags: int, ptr: int, n: int, atim: int, mtim: int, fst: int
    ) -> int:
        path = self._path(dirfd, ptr, n)
        now = time.time_ns()
        a = now if fst & 2 else (atim if fst & 1 else None)
        m = now if fst & 8 else (mtim if fst & 4 else None)
        self._fs(self.fs.utime, path, (a, m), bool(flags & LOOKUP_FOLLOW))
        return W_SUCCESS

    def path_open(
        self,
        dirfd: int,
        lookup: int,
        ptr: int,
        n: int,
        oflags: int,
        rights: int,
        inheriting: int,
        fdflags: int,
        out: int,
    ) -> int:
        path = self._path(dirfd, ptr, n)
        if len(self.fds) >= self.max_fds:
            return 33  # EMFILE
        if path == DOOR_PATH and self.door is not None:
            fd = self.next_fd
            self.next_fd += 1
            self.fds[fd] = _Fd(
                "door", path, writable=True, extra={"request": bytearray(), "answer": None}
            )
            self._u32(out, fd)
            return W_SUCCESS
        want_read = bool(rights & R_FD_READ) or not rights & R_FD_WRITE
        want_write = bool(rights & R_FD_WRITE)
        if oflags & (O_CREAT | O_TRUNC):
            want_write = True
        fd_obj = self._fs(self._open, path, oflags, want_read, want_write, fdflags)
        fd = self.next_fd
        self.next_fd += 1
        self.fds[fd] = fd_obj
        self._u32(out, fd)
        return W_SUCCESS

    def _open(self, path: str, oflags: int, want_read: bool, want_write: bool, fdflags: int) -> _Fd:
        try:
            st = self.fs.stat(path)
        except FileNotFoundError:
            st = None
        if st is not None and oflags & O_CREAT and oflags & O_EXCL:
            raise FileExistsError(E.EEXIST, "File exists", path)
        if st is not None and S.S_ISDIR(st.st_mode):
            if want_write and not oflags & O_DIRECTORY and oflags & (O_CREAT | O_TRUNC):
                raise IsADirectoryError(E.EISDIR, "Is a directory", path)
            return _Fd("dir", path)
        if oflags & O_DIRECTORY:
            if st is None:
                raise FileNotFoundError(E.ENOENT, "No such file or directory", path)
            raise NotADirectoryError(E.ENOTDIR, "Not a directory", path)
        if st is None and not oflags & O_CREAT:
            raise FileNotFoundError(E.ENOENT, "No such file or directory", path)
        if not want_write:
            mode = "rb"
        elif st is None or oflags & O_TRUNC:
            mode = "w+b" if want_read else "wb"
        else:
            mode = "r+b" if want_read else "ab" if fdflags & FDF_APPEND else "r+b"
        handle = self.fs.open(path, mode)
        return _Fd(
            "file",
            path,
            handle,
            readable=want_read,
            writable=want_write,
            append=bool(fdflags & FDF_APPEND),
        )

    def path_create_directory(self, dirfd: int, ptr: int, n: int) -> int:
        self._fs(self.fs.mkdir, self._path(dirfd, ptr, n))
        return W_SUCCESS

    def path_remove_directory(self, dirfd: int, ptr: int, n: int) -> int:
        self._fs(self.fs.rmdir, self._path(dirfd, ptr, n))
        return W_SUCCESS

    def path_unlink_file(self, dirfd: int, ptr: int, n: int) -> int:
        path = self._path(dirfd, ptr, n)

        def rm() -> None:
            if S.S_ISDIR(self.fs.lstat(path).st_mode):
                raise IsADirectoryError(E.EISDIR, "Is a directory", path)
            self.fs.unlink(path)

        self._fs(rm)
        return W_SUCCESS

    def path_rename(self, fd1: int, p1: int, n1: int, fd2: int, p2: int, n2: int) -> int:
        self._fs(self.fs.rename, self._path(fd1, p1, n1), self._path(fd2, p2, n2))
        return W_SUCCESS

    # --- waiting and exiting -----------------------------------------------------------
    def poll_oneoff(self, inp: int, outp: int, nsubs: int, nevents: int) -> int:
        nsubs &= MASK32
        if nsubs == 0:
            return W_INVAL
        raw = self._read(inp, 48 * nsubs)
        ready = []
        clocks = []
        now_real, now_mono = time.time_ns(), time.monotonic_ns()
        for i in range(nsubs):
            userdata, tag = struct.unpack_from("<QB", raw, 48 * i)
            if tag == 0:
                clock_id, timeout, _prec, flags = struct.unpack_from("<I4xQQH", raw, 48 * i + 16)
                if flags & 1:
                    timeout -= now_real if clock_id == 0 else now_mono
                clocks.append((max(0, timeout), userdata))
            else:
                ready.append(struct.pack("<QHBxxxxxQHxxxxxx", userdata, 0, tag, 1, 0))
        if not ready and clocks:
            wait_ns = min(t for t, _ in clocks)
            if wait_ns > 0:
                self.cancel.wait(wait_ns / 1e9)
            if self.cancel.is_set():
                raise GuestStop("stopped")
            ready = [
                struct.pack("<QHBxxxxxQHxxxxxx", u, 0, 0, 0, 0) for t, u in clocks if t <= wait_ns
            ]
        self._write(outp, b"".join(ready))
        self._u32(nevents, len(ready))
        return W_SUCCESS

    def proc_exit(self, code: int) -> None:
        raise GuestExit(code & 0xFF)

    def close_all(self) -> None:
        for fd, f in list(self.fds.items()):
            if f.handle is not None:
                try:
                    self._fs(f.handle.close)
                except Exception:
                    pass
            if fd > 3:
                del self.fds[fd]
