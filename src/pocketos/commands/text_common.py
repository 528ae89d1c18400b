"""Shared plumbing for the text commands: opening inputs, batched line reading, help text."""

from __future__ import annotations

import asyncio
import errno
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from pocketos.kernel.budget import check_alloc, pace
from pocketos.kernel.streams import BytesSource, InputStream

if TYPE_CHECKING:
    from pocketos.kernel.process import Context

__all__ = [
    "CHUNK",
    "FileInput",
    "decode",
    "encode",
    "help_requested",
    "line_batches",
    "open_input",
    "parse_int",
    "read_all",
    "read_prefix",
    "split_lines",
    "try_help",
    "usage",
]

CHUNK = 64 * 1024


def decode(b: bytes) -> str:
    return b.decode("utf-8", "surrogateescape")


def encode(s: str) -> bytes:
    return s.encode("utf-8", "surrogateescape")


#: the longest line (or whole input) a command holds in memory: past it the read fails with
#: EFBIG instead of growing without bound (e.g. a line-based tool on /dev/zero)
MAX_LINE = 256 * 1024 * 1024

#: host bytes one line costs when a command keeps it as an object in a list
LINE_OVERHEAD = 48


class _SmallFile(BytesSource):
    """A small regular file, read whole when opened. Its reads pace (the deadline, a stop,
    a turn for other tasks now and then): a command reading many such files never waits."""

    async def read(self, n: int = -1) -> bytes:
        await pace()
        return await super().read(n)

    async def readuntil(self, sep: bytes) -> bytes:
        await pace()
        return await super().readuntil(sep)


class FileInput(InputStream):
    """An input stream over an open VM file handle, read in chunks (works for endless
    device files such as ``/dev/zero``)."""

    def __init__(self, handle: Any) -> None:
        self._h = handle
        self._buf = bytearray()
        self._eof = False
        self._closed = False

    def _fill(self) -> bool:
        if self._eof:
            return False
        data = self._h.read(CHUNK)
        if not data:
            self._eof = True
            return False
        self._buf += data
        return True

    async def read(self, n: int = -1) -> bytes:
        # a file read never suspends by itself: yield to the loop so that a timeout or a kill
        # can end a command reading an endless device such as /dev/zero
        await asyncio.sleep(0)
        if n is None or n < 0:
            while self._fill():
                if len(self._buf) > MAX_LINE:
                    raise OSError(errno.EFBIG, "input too large to hold in memory")
                check_alloc(len(self._buf), "input")
                await asyncio.sleep(0)
            data = bytes(self._buf)
            self._buf.clear()
            return data
        if n == 0:
            return b""
        if not self._buf:
            self._fill()
        data = bytes(self._buf[:n])
        del self._buf[:n]
        return data

    async def readuntil(self, sep: bytes) -> bytes:
        start = 0
        while True:
            idx = self._buf.find(sep, start)
            if idx >= 0:
                end = idx + len(sep)
                data = bytes(self._buf[:end])
                del self._buf[:end]
                return data
            start = max(0, len(self._buf) - len(sep) + 1)
            if len(self._buf) > MAX_LINE:
                raise OSError(errno.EFBIG, "line too long to hold in memory")
            if start > CHUNK:
                check_alloc(start, "line")
            await asyncio.sleep(0)
            if not self._fill():
                data = bytes(self._buf)
                self._buf.clear()
                return data

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            try:
                self._h.close()
            except Exception:
                pass

    @property
    def closed(self) -> bool:
        return self._closed


def open_file(ctx: Context, name: str) -> InputStream:
    """Open ``name`` (``-`` is stdin) for reading; raises OSError (EISDIR for directories)."""
    if name == "-":
        return ctx.stdin
    st = ctx.fs.stat(name)
    if st.is_dir():
        raise IsADirectoryError(errno.EISDIR, "Is a directory", name)
    if st.is_file() and st.st_size <= CHUNK:
        # read whole: no handle, no yield on every read; a large file or a device streams
        return _SmallFile(ctx.fs.read_bytes(name))
    return FileInput(ctx.fs.open(name, "rb"))


async def open_input(ctx: Context, name: str, prefix: str = "") -> InputStream | None:
    """Like :func:`open_file` but reports the error (``NAME: PREFIXfile: reason``) and
    returns None."""
    try:
        return open_file(ctx, name)
    except BrokenPipeError:
        raise
    except OSError as exc:
        await ctx.err(f"{prefix}{name}: {exc.strerror or exc}")
        return None


def close_input(ctx: Context, stream: InputStream) -> None:
    if stream is not ctx.stdin:
        stream.close()


async def read_all(ctx: Context, name: str) -> bytes:
    """Whole contents of ``name`` (``-`` is stdin); raises OSError."""
    stream = open_file(ctx, name)
    try:
        data = await stream.read(-1)
    finally:
        close_input(ctx, stream)
    # the caller keeps it, and usually a list of its lines (an object each): charge both for
    # the process's life
    ctx.charge(len(data) + data.count(b"\n") * LINE_OVERHEAD)
    return data


async def read_prefix(ctx: Context, name: str, limit: int) -> bytes:
    """At most ``limit`` bytes from the start of ``name`` (safe on endless devices)."""
    stream = open_file(ctx, name)
    try:
        out = bytearray()
        while len(out) < limit:
            data = await stream.read(min(65536, limit - len(out)))
            if not data:
                break
            out += data
        return bytes(out)
    finally:
        close_input(ctx, stream)


def split_lines(data: bytes, sep: bytes = b"\n") -> list[bytes]:
    """Split into lines *without* terminators; a missing final terminator is tolerated."""
    if not data:
        return []
    parts = data.split(sep)
    if parts[-1] == b"":
        parts.pop()
    return parts


async def line_batches(
    stream: InputStream, sep: bytes = b"\n", size: int = CHUNK
) -> AsyncIterator[list[bytes]]:
    """Yield lists of complete lines, each *with* its terminator; the final line may lack
    it. Streams: each batch is what one read returned."""
    pending = bytearray()
    while True:
        data = await stream.read(size)
        if not data:
            break
        cut = data.rfind(sep)
        if cut < 0:
            # no line end yet: keep accumulating (without quadratic copies), but bounded
            pending += data
            if len(pending) > MAX_LINE:
                raise OSError(errno.EFBIG, "line too long to hold in memory")
            check_alloc(len(pending), "line")
            continue
        if pending:
            pending += data[:cut]
            body = bytes(pending)
            pending.clear()
        else:
            body = data[:cut]
        pending += data[cut + 1 :]
        lines = body.split(sep)
        yield [ln + sep for ln in lines]
    if pending:
        yield [bytes(pending)]


def parse_int(text: str) -> int | None:
    try:
        return int(text, 10)
    except ValueError:
        return None


def help_requested(ctx: Context) -> bool:
    args = ctx.argv[1:]
    for a in args:
        if a == "--":
            return False
        if a == "--help":
            return True
    return False


async def usage(ctx: Context, text: str) -> int:
    await ctx.stdout.write(encode(text.rstrip("\n") + "\n"))
    return 0


async def try_help(ctx: Context, name: str) -> None:
    """The line GNU tools print after a usage error."""
    await ctx.stderr.write(encode(f"Try '{name} --help' for more information.\n"))
