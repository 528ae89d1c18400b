"""Helpers shared by the archive commands: the compression codecs and size guards."""

from __future__ import annotations

import bz2
import lzma
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    pass


CHUNK = 256 * 1024
OUT_CHUNK = 1024 * 1024


def _enc(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def _dec(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


class TooLarge(Exception):
    """Decompressed data went past the allowed size."""


class _Decomp(Protocol):
    def decompress(self, data: bytes, max_length: int = -1) -> bytes: ...


class NotFormat(Exception):
    """The input is not in the codec's format."""


@dataclass
class Codec:
    name: str
    suffix: str
    magic: bytes

    def compressor(self, level: int) -> Any:
        if self.name == "gzip":
            return zlib.compressobj(level, zlib.DEFLATED, -15, 8)
        if self.name == "bzip2":
            return bz2.BZ2Compressor(level)
        return lzma.LZMACompressor(format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC64, preset=level)


GZIP = Codec("gzip", ".gz", b"\x1f\x8b")
BZIP2 = Codec("bzip2", ".bz2", b"BZh")
XZ = Codec("xz", ".xz", b"\xfd7zXZ\x00")


def _gzip_header(name: str | None, mtime: int, level: int) -> bytes:
    flags = 0x08 if name else 0
    xfl = 2 if level == 9 else 4 if level == 1 else 0
    head = (
        b"\x1f\x8b\x08" + bytes([flags]) + struct.pack("<I", mtime & 0xFFFFFFFF) + bytes([xfl, 3])
    )
    if name:
        head += name.encode("latin-1", "replace") + b"\0"
    return head


def compress_iter(
    codec: Codec, chunks: Iterator[bytes], level: int, name: str | None = None, mtime: int = 0
) -> Iterator[bytes]:
    """Compress a stream of chunks; yields compressed chunks."""
    comp = codec.compressor(level)
    if codec is GZIP:
        yield _gzip_header(name, mtime, level)
        crc = 0
        size = 0
        for c in chunks:
            crc = zlib.crc32(c, crc)
            size += len(c)
            out = comp.compress(c)
            if out:
                yield out
        yield comp.flush()
        yield struct.pack("<II", crc & 0xFFFFFFFF, size & 0xFFFFFFFF)
        return
    for c in chunks:
        out = comp.compress(c)
        if out:
            yield out
    yield comp.flush()


def compress_bytes(
    codec: Codec, data: bytes, level: int, name: str | None = None, mtime: int = 0
) -> bytes:
    return b"".join(compress_iter(codec, iter([data]), level, name, mtime))


@dataclass
class _GzMember:
    name: str | None
    mtime: int


def _parse_gzip_header(buf: bytes) -> tuple[int, _GzMember] | None:
    """Returns (header length, info), None if more data is needed. Raises NotFormat."""
    if len(buf) < 10:
        if not GZIP.magic.startswith(buf[:2]):
            raise NotFormat()
        return None
    if buf[:2] != b"\x1f\x8b" or buf[2] != 8:
        raise NotFormat()
    flags = buf[3]
    mtime = struct.unpack("<I", buf[4:8])[0]
    pos = 10
    if flags & 0x04:
        if len(buf) < pos + 2:
            return None
        xlen = struct.unpack("<H", buf[pos : pos + 2])[0]
        pos += 2 + xlen
    name = None
    for bit in (0x08, 0x10):
        if flags & bit:
            end = buf.find(b"\0", pos)
            if end < 0:
                return None
            if bit == 0x08:
                name = buf[pos:end].decode("latin-1")
            pos = end + 1
    if flags & 0x02:
        pos += 2
    if len(buf) < pos:
        return None
    return pos, _GzMember(name, mtime)


class Decoder:
    """Streaming, multi-member decompression with a size ceiling.

    ``feed(data)`` yields decompressed chunks; ``finish()`` checks the end of the stream.
    ``trailing`` is set when bytes that are not a new member follow the data.
    """

    def __init__(self, codec: Codec, limit: int) -> None:
        self.codec = codec
        self.limit = limit
        self.total = 0
        self.obj: Any = None
        self.pending = b""
        self.members = 0
        self.in_member = False
        self.trailing = False
        self.first: _GzMember | None = None
        self.crc = 0
        self.size = 0
        self.trailer_needed = 0

    def _new(self) -> Any:
        if self.codec is GZIP:
            return zlib.decompressobj(-15)
        if self.codec is BZIP2:
            return bz2.BZ2Decompressor()
        return lzma.LZMADecompressor(format=lzma.FORMAT_AUTO)

    def feed(self, data: bytes) -> Iterator[bytes]:
        buf = self.pending + data
        self.pending = b""
        while buf:
            if self.trailing:
                return
            if self.trailer_needed:
                if len(buf) < 8:
                    self.pending = buf
                    return
                crc, size = struct.unpack("<II", buf[:8])
                if crc != self.crc & 0xFFFFFFFF or size != self.size & 0xFFFFFFFF:
                    raise ValueError("invalid compressed data--crc error")
                buf = buf[8:]
                self.trailer_needed = 0
                continue
            if not self.in_member:
                if self.members and not buf.strip(b"\0") and self.codec is not XZ:
                    return
                if self.codec is GZIP:
                    try:
                        hdr = _parse_gzip_header(buf)
                    except NotFormat:
                        if self.members:
                            self.trailing = True
                            return
                        raise
                    if hdr is None:
                        self.pending = buf
                        return
                    hlen, info = hdr
                    if self.first is None:
                        self.first = info
                    buf = buf[hlen:]
                    self.crc = 0
                    self.size = 0
                else:
                    need = len(self.codec.magic)
                    if len(buf) < need:
                        if not self.codec.magic.startswith(buf):
                            if self.members:
                                self.trailing = True
                                return
                            raise NotFormat()
                        self.pending = buf
                        return
                    alone = self.codec is XZ and buf[0] == 0x5D and not self.members
                    if not buf.startswith(self.codec.magic) and not alone:
                        if self.members:
                            self.trailing = True
                            return
                        raise NotFormat()
                self.obj = self._new()
                self.in_member = True
            obj = self.obj
            try:
                out = obj.decompress(buf, OUT_CHUNK)
            except (zlib.error, OSError, lzma.LZMAError, EOFError) as exc:
                raise ValueError(str(exc)) from None
            buf = b""
            while True:
                if out:
                    self.total += len(out)
                    if self.total > self.limit:
                        raise TooLarge()
                    if self.codec is GZIP:
                        self.crc = zlib.crc32(out, self.crc)
                        self.size += len(out)
                    yield out
                if obj.eof:
                    break
                more = obj.unconsumed_tail if self.codec is GZIP else b""
                if self.codec is GZIP and more:
                    try:
                        out = obj.decompress(more, OUT_CHUNK)
                    except zlib.error as exc:
                        raise ValueError(str(exc)) from None
                    continue
                if self.codec is not GZIP and not obj.needs_input:
                    try:
                        out = obj.decompress(b"", OUT_CHUNK)
                    except (OSError, lzma.LZMAError, EOFError) as exc:
                        raise ValueError(str(exc)) from None
                    continue
                break
            if obj.eof:
                self.members += 1
                self.in_member = False
                buf = obj.unused_data
                if self.codec is GZIP:
                    self.trailer_needed = 8
                if self.codec is XZ:
                    # xz streams may be followed by stream padding
                    buf = buf.lstrip(b"\0") if not buf.startswith(XZ.magic) else buf

    def finish(self) -> None:
        if self.trailer_needed or self.in_member or (self.pending and not self.trailing):
            if self.members == 0 and not self.in_member and not self.trailer_needed:
                raise NotFormat()
            raise ValueError("unexpected end of file")
        if self.members == 0:
            raise NotFormat()


def decompress_all(codec: Codec, data: bytes, limit: int) -> bytes:
    d = Decoder(codec, limit)
    out = b"".join(d.feed(data))
    d.finish()
    return out


def detect_codec(data: bytes) -> Codec | None:
    for c in (GZIP, BZIP2, XZ):
        if data.startswith(c.magic):
            return c
    return None
