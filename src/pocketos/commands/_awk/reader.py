"""Reading awk records from a byte stream: RS as a newline, a single character, a regex
(gawk) or empty (paragraph mode), decoding as the run's codec, with RT set to what ended the
record."""

from __future__ import annotations

import codecs
import re
from collections.abc import Awaitable, Callable
from typing import Any

from pocketos.commands._awk.regex import compile_ere

__all__ = ["CHUNK", "Reader"]

CHUNK = 65536

ReadFn = Callable[[], Awaitable[bytes]]


class Reader:
    """Splits a byte source into records according to RS."""

    __slots__ = ("read", "decoder", "buf", "pos", "eof", "batch", "bi", "rt", "closed", "closer")

    def __init__(self, read: ReadFn, codec: str) -> None:
        self.read = read
        self.decoder = codecs.getincrementaldecoder(codec)("surrogateescape")
        self.buf = ""
        self.pos = 0
        self.eof = False
        self.batch: list[str] = []
        self.bi = 0
        self.rt = "\n"
        self.closed = False
        self.closer: Callable[[], Any] | None = None

    def close(self) -> None:
        if self.closer is not None and not self.closed:
            self.closed = True
            try:
                self.closer()
            except OSError:
                pass

    async def _fill(self) -> bool:
        if self.eof:
            return False
        data = await self.read()
        if self.pos:
            self.buf = self.buf[self.pos :]
            self.pos = 0
        if not data:
            self.eof = True
            tail = self.decoder.decode(b"", True)
            if tail:
                self.buf += tail
            return False
        self.buf += self.decoder.decode(data)
        return True

    def _unbatch(self) -> None:
        if self.bi < len(self.batch):
            self.buf = "\n".join(self.batch[self.bi :]) + "\n" + self.buf[self.pos :]
            self.pos = 0
        self.batch = []
        self.bi = 0

    def _rest(self) -> str | None:
        """The unterminated last record at end of input."""
        r = self.buf[self.pos :]
        self.buf = ""
        self.pos = 0
        self.rt = ""
        return r if r else None

    async def block(self) -> str | None:
        """Every newline-terminated record buffered (reading when none is) as one string,
        newlines between them, without the last one; at end of input the unterminated last
        record; None when the input is done. RS must be a newline."""
        self._unbatch()
        while True:
            i = self.buf.rfind("\n", self.pos)
            if i >= 0:
                blk = self.buf[self.pos : i]
                self.buf = self.buf[i + 1 :]
                self.pos = 0
                self.rt = "\n"
                return blk
            if not await self._fill():
                return self._rest()

    async def next(self, rs: str) -> str | None:
        """The next record (None at end of input); ``self.rt`` is its terminator."""
        if rs == "\n":
            b = self.batch
            if self.bi < len(b):
                r = b[self.bi]
                self.bi += 1
                self.rt = "\n"
                return r
            while True:
                i = self.buf.rfind("\n", self.pos)
                if i >= 0:
                    self.batch = b = self.buf[self.pos : i].split("\n")
                    self.buf = self.buf[i + 1 :]
                    self.pos = 0
                    self.bi = 1
                    self.rt = "\n"
                    return b[0]
                if not await self._fill():
                    return self._rest()
        self._unbatch()
        if rs == "":
            return await self._paragraph()
        if len(rs) == 1:
            while True:
                i = self.buf.find(rs, self.pos)
                if i >= 0:
                    r = self.buf[self.pos : i]
                    self.pos = i + 1
                    self.rt = rs
                    return r
                if not await self._fill():
                    return self._rest()
        pat = compile_ere(rs)
        while True:
            m = pat.search(self.buf, self.pos)
            if m is not None and m.end() > m.start() and (m.end() < len(self.buf) or self.eof):
                r = self.buf[self.pos : m.start()]
                self.rt = m.group()
                self.pos = m.end()
                return r
            if not await self._fill():
                if m is not None and m.end() > m.start():
                    continue
                return self._rest()

    async def _paragraph(self) -> str | None:
        # skip leading newlines
        while True:
            n = len(self.buf)
            p = self.pos
            while p < n and self.buf[p] == "\n":
                p += 1
            self.pos = p
            if p < n:
                break
            if not await self._fill():
                return None
        while True:
            m = _PARA_SEP.search(self.buf, self.pos)
            if m is not None and (m.end() < len(self.buf) or self.eof):
                r = self.buf[self.pos : m.start()]
                self.rt = m.group()
                self.pos = m.end()
                return r
            if not await self._fill():
                if m is not None:
                    continue
                r = self.buf[self.pos :]
                self.buf = ""
                self.pos = 0
                if r.endswith("\n"):
                    self.rt = "\n"
                    r = r[:-1]
                else:
                    self.rt = ""
                return r if r else None


_PARA_SEP = re.compile(r"\n\n+")
