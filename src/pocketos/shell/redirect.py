# mypy: disable-error-code="misc"
"""Redirections: opening files, here-documents, fd duplication and ``{var}`` fds for a command, as
a mixin of the interpreter."""

from __future__ import annotations

import errno
import os
from typing import TYPE_CHECKING, Any

from pocketos.kernel.budget import pace
from pocketos.kernel.streams import (
    READ_CHUNK,
    BytesSource,
    HandleInput,
    InputStream,
    NullInput,
    NullOutput,
    OutputStream,
)
from pocketos.shell.ast import (
    Redir,
    Word,
)
from pocketos.shell.state import (
    ShellAttrs,
    ShellError,
)

if TYPE_CHECKING:
    from pocketos.shell.interp import Shell

__all__ = ["Redirections"]

# a '<' file up to this size is read whole at once; a larger one (a file on a host mount may
# be far larger than the exec may hold) is read as a stream
_READ_WHOLE = 1024 * 1024


class FileIn(HandleInput):
    """A file opened with ``<``. It is opened when the redirection is made and read when the
    command reads it, so what happens to the file in between is what the command sees, as in
    bash: ``cat < f > f`` reads the file the ``>`` just emptied. The first read takes up to
    1 MiB at once (most inputs are small); the rest of a larger file streams in chunks."""

    def __init__(self, handle: Any) -> None:
        super().__init__(handle, _READ_WHOLE if handle.rdev is None else READ_CHUNK)


class HeldFileIn(FileIn):
    """A ``<`` file of a command that runs more commands before it reads (a group, a loop, a
    function, ``exec 3< f``). Those may truncate or append to the file, which is then read as
    it is; or remove, rename or replace it, and then what it held when it was opened is read,
    as from bash's open file (a copy of a file up to 1 MiB is kept for that)."""

    def __init__(self, handle: Any, copy: bytes, ident: tuple[int, int]) -> None:
        super().__init__(handle)
        self._copy: bytes | None = copy
        self._ident = ident
        self._gone = False

    async def _fill(self) -> bool:
        if self._gone:
            return False
        copy = self._copy
        if copy is not None:
            st = self._h.fstat()
            if st is None or (st.st_dev, st.st_ino) != self._ident:
                # not the file that was opened any more: the rest of its copy is read (the
                # part already read, before the name changed, came from the file itself)
                self._gone = True
                self._copy = None
                rest = copy[self._h.tell() :]
                self._buf += rest
                return bool(rest)
        return await super()._fill()

    def close(self) -> None:
        self._copy = None
        super().close()


class FileOut(OutputStream):
    """Output redirected to a file in the VM filesystem."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle
        self._closed = False

    def target_file(self) -> Any:
        return self.handle

    async def write(self, data: bytes) -> None:
        if self._closed:
            raise OSError(errno.EBADF, "Bad file descriptor")
        self.handle.write(data)
        await pace()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            try:
                self.handle.close()
            except OSError:
                pass

    @property
    def closed(self) -> bool:
        return self._closed


class FileRW(FileOut, InputStream):
    """A file opened with ``<>``: readable and writable."""

    async def read(self, n: int = -1) -> bytes:
        return bytes(self.handle.read(n))

    def source_file(self) -> tuple[Any, int] | None:
        return self.handle, self.handle.tell()

    async def readuntil(self, sep: bytes) -> bytes:
        out = bytearray()
        while True:
            c = self.handle.read(1)
            if not c:
                return bytes(out)
            out += c
            if out.endswith(sep):
                return bytes(out)


class _DirInput(InputStream):
    """A directory opened for reading: opening works, reading fails (like on Linux)."""

    async def read(self, n: int = -1) -> bytes:
        raise IsADirectoryError(errno.EISDIR, "Is a directory")

    async def readuntil(self, sep: bytes) -> bytes:
        raise IsADirectoryError(errno.EISDIR, "Is a directory")


class _ClosedOut(OutputStream):
    async def write(self, data: bytes) -> None:
        raise OSError(errno.EBADF, "Bad file descriptor")


def _close_all(opened: list[Any]) -> None:
    for s in opened:
        try:
            s.close()
        except Exception:
            pass


def _strerror(exc: OSError) -> str:
    if exc.errno is not None:
        try:
            return os.strerror(exc.errno)
        except ValueError:
            pass
    return exc.strerror or str(exc)


class Redirections(ShellAttrs):
    """Mixin for :class:`Shell`: redirections and the files they open."""

    # --- redirections ---------------------------------------------------------------------------
    async def apply_redirs(
        self: Shell,
        redirs: list[Redir],
        fds: dict[int, Any],
        opened: list[Any],
        hold: bool = False,
    ) -> dict[int, Any]:
        """Apply ``redirs`` in order to ``fds``; ``hold`` for a command that runs others before
        it reads (a compound command, a function, ``exec``): see :class:`HeldFileIn`."""
        for r in redirs:
            op = r.op
            fd = r.fd
            if r.fdvar:
                fd = await self._fdvar_fd(r, fds)
                if fd < 0:
                    continue
            if r.heredoc is not None:
                hd = r.heredoc
                body = hd.body
                text = (
                    ""
                    if body is None
                    else (body.simple if body.simple is not None else await self.expand_str(body))
                )
                fds[0 if fd is None else fd] = BytesSource(text.encode("utf-8", "surrogateescape"))
                continue
            assert r.target is not None
            if op == "<<<":
                text = await self.expand_str(r.target)
                fds[0 if fd is None else fd] = BytesSource(
                    (text + "\n").encode("utf-8", "surrogateescape")
                )
                continue
            if op in (">&", "<&"):
                target = await self.expand_str(r.target)
                src_fd = (1 if op == ">&" else 0) if fd is None else fd
                if target == "-":
                    fds.pop(src_fd, None)
                    continue
                if target.endswith("-") and target[:-1].isdigit():
                    n = int(target[:-1])
                    if n not in fds:
                        raise ShellError(f"{n}: Bad file descriptor")
                    fds[src_fd] = fds[n]
                    fds.pop(n, None)
                    continue
                if target.isdigit():
                    n = int(target)
                    if n not in fds:
                        raise ShellError(f"{target}: Bad file descriptor")
                    fds[src_fd] = fds[n]
                    continue
                if op == "<&":
                    raise ShellError(f"{target}: ambiguous redirect")
                if fd is not None:
                    raise ShellError(f"{target}: ambiguous redirect")
                op = "&>"
            path = await self._redir_target(r.target)
            if op == "<":
                stream = self._open_in(path, hold=hold)
                if isinstance(stream, FileIn):
                    opened.append(stream)
                fds[0 if fd is None else fd] = stream
            elif op == "<>":
                rw = self._open_rw(path)
                opened.append(rw)
                fds[0 if fd is None else fd] = rw
            elif op in (">", ">|", ">>", "&>", "&>>"):
                append = op in (">>", "&>>")
                out = self._open_out(path, append, clobber=op == ">|")
                if not isinstance(out, (NullOutput,)) and isinstance(out, FileOut):
                    opened.append(out)
                if op in ("&>", "&>>"):
                    fds[1] = out
                    fds[2] = out
                else:
                    fds[1 if fd is None else fd] = out
        return fds

    async def _fdvar_fd(self: Shell, r: Redir, fds: dict[int, Any]) -> int:
        """``{name}>file``: the lowest free fd from 10 up, stored in ``name``; ``{name}>&-``
        closes the fd that ``name`` holds (and returns -1: nothing more to do)."""
        name = r.fdvar or ""
        if r.op in (">&", "<&") and r.target is not None and r.target.simple == "-":
            cur = self.get_str(name)
            if cur is None or not cur.isdigit():
                raise ShellError(f"{name}: ambiguous redirect")
            if int(cur) not in fds:
                raise ShellError(f"{cur}: Bad file descriptor")
            fds.pop(int(cur), None)
            return -1
        fd = 10
        while fd in fds:
            fd += 1
        self.assign_var(name, str(fd))
        return fd

    async def _redir_target(self: Shell, w: Word) -> str:
        if w.simple is not None:
            return w.simple
        fields = await self.expand_word(w)
        if len(fields) != 1:
            raise ShellError(f"{w.text}: ambiguous redirect")
        return fields[0]

    def _special_stream(self: Shell, path: str) -> Any:
        if not path.startswith("/dev/"):
            return None
        if path == "/dev/null":
            return "null"
        if path in ("/dev/stdin", "/dev/fd/0"):
            return self.fds.get(0)
        if path in ("/dev/stdout", "/dev/fd/1"):
            return self.fds.get(1)
        if path in ("/dev/stderr", "/dev/fd/2"):
            return self.fds.get(2)
        if path.startswith("/dev/fd/") and path[8:].isdigit():
            return self.fds.get(int(path[8:]))
        return None

    def _open_in(self: Shell, path: str, now: bool = False, hold: bool = False) -> InputStream:
        """The input of ``< path``: a :class:`FileIn` (to close after the command), or with
        ``hold`` a :class:`HeldFileIn`; with ``now`` (``$(< path)``, read at once) a file up to
        1 MiB is read here instead."""
        sp = self._special_stream(path)
        if sp == "null":
            return NullInput()
        if isinstance(sp, InputStream):
            return sp
        try:
            p = self._redir_path(path)
            if now:
                data = self.fs.read_regular(p, max_size=_READ_WHOLE)
                if data is not None:
                    return BytesSource(data)
            handle = self.fs.open(p, "rb")
            if hold and handle.rdev is None:
                st = handle.fstat()
                copy = self.fs.read_regular(p, max_size=_READ_WHOLE) if st is not None else None
                if st is not None and copy is not None:
                    return HeldFileIn(handle, copy, (st.st_dev, st.st_ino))
            return FileIn(handle)
        except IsADirectoryError:
            return _DirInput()
        except OSError as exc:
            raise ShellError(f"{path}: {_strerror(exc)}") from None

    def _open_rw(self: Shell, path: str) -> FileRW:
        p = self._redir_path(path)
        try:
            if not self.fs.exists(p):
                self.fs.write_bytes(p, b"")
            return FileRW(self.fs.open(p, "r+b"))
        except OSError as exc:
            raise ShellError(f"{path}: {_strerror(exc)}") from None

    def _open_out(self: Shell, path: str, append: bool, clobber: bool) -> OutputStream:
        sp = self._special_stream(path)
        if sp == "null":
            return NullOutput()
        if isinstance(sp, OutputStream):
            return sp
        p = self._redir_path(path)
        if self.opts.noclobber and not append and not clobber:
            try:
                st = self.fs.stat(p)
                import stat as S

                if S.S_ISREG(st.st_mode):
                    raise ShellError(f"{path}: cannot overwrite existing file")
            except FileNotFoundError:
                pass
            except OSError:
                pass
        try:
            h = self.fs.open(p, "ab" if append else "wb")
        except OSError as exc:
            raise ShellError(f"{path}: {_strerror(exc)}") from None
        return FileOut(h)

    def _redir_path(self: Shell, path: str) -> str:
        if not path:  # '< ""' names no file (not the current directory), as in bash
            raise ShellError(": No such file or directory")
        return self.abs_path(path)

    def abs_path(self: Shell, path: str) -> str:
        if path.startswith("/"):
            return path
        return self.cwd.rstrip("/") + "/" + path
