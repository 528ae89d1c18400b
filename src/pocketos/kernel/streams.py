"""Byte streams: bounded pipes with backpressure, sinks and sources.

Every process reads from an :class:`InputStream` and writes to :class:`OutputStream` objects.
A :class:`Pipe` connects a writer and a reader through a bounded buffer: a writer waits while the
buffer is full, a reader waits while it is empty, closing the write end gives EOF, and closing
the read end makes further writes raise ``BrokenPipeError`` (EPIPE), which is how
``yes | head -n1`` ends.
"""

from __future__ import annotations

import asyncio
import errno
from collections.abc import AsyncIterator, Callable
from typing import Any

from pocketos.kernel.budget import check_alloc, pace
from pocketos.kernel.fs.filehandle import FileHandle
from pocketos.kernel.jobctl import checkpoint, must_pause

__all__ = [
    "BytesSink",
    "BytesSource",
    "HandleInput",
    "InputStream",
    "NullInput",
    "NullOutput",
    "OutputStream",
    "Pipe",
]

DEFAULT_PIPE_BUFFER = 64 * 1024
READ_CHUNK = 64 * 1024


class InputStream:
    """Readable end of a byte stream. ``read(-1)`` reads to EOF; ``read(n)`` returns at most n
    bytes (``b""`` at EOF)."""

    async def read(self, n: int = -1) -> bytes:  # pragma: no cover - interface
        raise NotImplementedError

    async def readline(self) -> bytes:
        """One line including its ``\\n`` (the last line may lack it); ``b""`` at EOF."""
        return await self.readuntil(b"\n")

    async def readuntil(self, sep: bytes) -> bytes:  # pragma: no cover - interface
        raise NotImplementedError

    def close(self) -> None:
        """Close the read end (a pipe's writer then gets EPIPE)."""

    def read_rest(self, limit: int) -> bytes | None:
        """Everything the stream has left when that is known now to be at most ``limit``
        bytes (a short file, a value): one call, no waiting, and the stream is then at its
        end. None when it is not known (read on with :meth:`read`)."""
        return None

    def source_file(self) -> tuple[Any, int] | None:
        """The open VM file (a ``FileHandle``) this stream reads and the offset of the next
        byte it gives, or None when it reads no file."""
        return None

    @property
    def closed(self) -> bool:
        return False

    def isatty(self) -> bool:
        """True for an interactive terminal (never, for pipes and values)."""
        return False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            line = await self.readline()
            if not line:
                return
            yield line

    async def chunks(self, size: int = READ_CHUNK) -> AsyncIterator[bytes]:
        """Iterate over the stream in chunks of at most ``size`` bytes."""
        while True:
            data = await self.read(size)
            if not data:
                return
            yield data


class OutputStream:
    """Writable end of a byte stream."""

    async def write(self, data: bytes) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def close(self) -> None:
        """Close the write end (a pipe's reader then sees EOF)."""

    def target_file(self) -> Any:
        """The open VM file (a ``FileHandle``) this stream writes, or None."""
        return None

    @property
    def closed(self) -> bool:
        return False

    def isatty(self) -> bool:
        return False


class _BufferedInput(InputStream):
    """Shared line logic for inputs that hold bytes in ``self._buf``."""

    _buf: bytearray

    async def _fill(self) -> bool:  # pragma: no cover - interface
        """Add data to ``_buf``; return False at EOF."""
        raise NotImplementedError

    async def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            while await self._fill():
                check_alloc(len(self._buf), "input")
            data = bytes(self._buf)
            self._buf.clear()
            return data
        if n == 0:
            return b""
        if not self._buf:
            await self._fill()
            if len(self._buf) <= n:  # all of it: no slice to copy first
                data = bytes(self._buf)
                self._buf.clear()
                return data
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
            if start > 65536:
                check_alloc(start, "line")
            if not await self._fill():
                data = bytes(self._buf)
                self._buf.clear()
                return data


class BytesSource(_BufferedInput):
    """An input stream over fixed bytes (stdin given as a value)."""

    def __init__(self, data: bytes = b"") -> None:
        self._buf = bytearray(data)
        self._closed = False

    async def _fill(self) -> bool:
        return False

    def read_rest(self, limit: int) -> bytes | None:
        if len(self._buf) > limit:
            return None
        data = bytes(self._buf)
        self._buf.clear()
        return data

    def close(self) -> None:
        self._closed = True
        self._buf.clear()

    @property
    def closed(self) -> bool:
        return self._closed


class NullInput(BytesSource):
    """``/dev/null`` as input: always EOF."""


class HandleInput(_BufferedInput):
    """An input stream over an open file handle read in chunks (the first one may be larger:
    ``first_read``), which works for files that never end too (``/dev/zero``, ``/dev/urandom``
    as ``< /dev/zero``). Each read checks the deadline and lets other tasks run now and then."""

    #: whether a read may take a short file's rest straight from the handle: not for a
    #: subclass with its own ``_fill``, which decides what a read gives
    _direct = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._direct = cls._fill is HandleInput._fill

    def __init__(self, handle: Any, first_read: int = READ_CHUNK) -> None:
        self._h = handle
        self._buf = bytearray()
        self._closed = False
        self._want = first_read

    def read_rest(self, limit: int) -> bytes | None:
        h = self._h
        if self._buf or not self._direct or type(h) is not FileHandle:
            return None
        return h.read_rest(limit)

    async def read(self, n: int = -1) -> bytes:
        h = self._h
        if n > 0 and not self._buf and self._direct and type(h) is FileHandle:
            # the rest of a file known to be short is one read, with no buffer between
            data = h.read_rest(n)
            if data is not None:
                return data
        return await _BufferedInput.read(self, n)

    async def _fill(self) -> bool:
        if self._closed:
            return False
        h = self._h
        if type(h) is FileHandle:
            # a read that takes the rest of a short file is bounded: it needs no pace
            data = h.read_rest(self._want)
            if data is None:
                if h.at_end():
                    return False  # read to its end and unchanged since: nothing to wait for
                await pace()
                data = h.read(self._want)
        else:
            await pace()
            data = h.read(self._want)
        if len(data) > READ_CHUNK:
            # a first read larger than a chunk is held whole, as a whole-file read would be
            check_alloc(len(data), f"reading {getattr(self._h, 'name', 'a file')}")
        self._want = READ_CHUNK
        if not data:
            return False
        self._buf += data
        return True

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._direct = False
            self._buf.clear()
            try:
                self._h.close()
            except OSError:
                pass

    def source_file(self) -> tuple[Any, int] | None:
        return self._h, self._h.tell() - len(self._buf)

    @property
    def closed(self) -> bool:
        return self._closed


class NullOutput(OutputStream):
    """``/dev/null`` as output: discards everything."""

    async def write(self, data: bytes) -> None:
        # nothing here ever waits: check the deadline and let other tasks run now and then
        await pace()


class BytesSink(OutputStream):
    """Collects everything written. ``limit`` bounds the bytes kept; ``on_write`` observes
    each chunk (used for streaming callbacks and output limits)."""

    def __init__(self, on_write: Callable[[bytes], None] | None = None) -> None:
        self.buffer = bytearray()
        self.on_write = on_write
        self._closed = False

    async def write(self, data: bytes) -> None:
        if self.on_write is not None:
            self.on_write(data)
        if len(data) > 4096 or len(self.buffer) > 65536:
            check_alloc(len(self.buffer) + len(data), "output buffer")
        self.buffer += data

    def getvalue(self) -> bytes:
        return bytes(self.buffer)

    def close(self) -> None:
        self._closed = True

    @property
    def closed(self) -> bool:
        return self._closed


class Pipe:
    """A bounded byte pipe. ``reader`` and ``writer`` are its two ends.

    Ends are reference counted: ``dup_writer()``/``dup_reader()`` hand out another reference
    (like ``dup(2)``); the pipe sees EOF when every writer reference is closed.
    """

    def __init__(self, capacity: int = DEFAULT_PIPE_BUFFER) -> None:
        self.capacity = max(1, capacity)
        self.buf = bytearray()
        self.writers = 0
        self.readers = 0
        self._event = asyncio.Event()
        self.reader = self.dup_reader()
        self.writer = self.dup_writer()

    def dup_reader(self) -> PipeReader:
        self.readers += 1
        return PipeReader(self)

    def dup_writer(self) -> PipeWriter:
        self.writers += 1
        return PipeWriter(self)

    def _wake(self) -> None:
        self._event.set()

    async def _wait(self) -> None:
        self._event.clear()
        await self._event.wait()
        if must_pause():
            await checkpoint()  # a stopped reader or writer does not go on when woken


class PipeReader(_BufferedInput):
    def __init__(self, pipe: Pipe) -> None:
        self.pipe = pipe
        self._buf = bytearray()
        self._closed = False

    async def _fill(self) -> bool:
        pipe = self.pipe
        if must_pause():
            await checkpoint()
        while not pipe.buf:
            if pipe.writers <= 0 or self._closed:
                return False
            await pipe._wait()
        self._buf += pipe.buf
        pipe.buf.clear()
        pipe._wake()
        return True

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.pipe.readers -= 1
            if self.pipe.readers <= 0:
                self.pipe.buf.clear()
            self.pipe._wake()

    @property
    def closed(self) -> bool:
        return self._closed


class PipeWriter(OutputStream):
    def __init__(self, pipe: Pipe) -> None:
        self.pipe = pipe
        self._closed = False

    async def write(self, data: bytes) -> None:
        pipe = self.pipe
        if self._closed:
            raise ValueError("write to closed pipe end")
        view = memoryview(data)
        while view:
            if pipe.readers <= 0:
                raise BrokenPipeError(errno.EPIPE, "Broken pipe")
            room = pipe.capacity - len(pipe.buf)
            if room <= 0:
                await pipe._wait()
                continue
            pipe.buf += view[:room]
            view = view[room:]
            pipe._wake()
        # Let the reader run: keeps pipelines streaming and fair (and a stopped writer pauses).
        await asyncio.sleep(0)
        if must_pause():
            await checkpoint()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.pipe.writers -= 1
            self.pipe._wake()

    @property
    def closed(self) -> bool:
        return self._closed
