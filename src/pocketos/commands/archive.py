"""Archive and compression commands: tar, gzip/gunzip/zcat, bzip2/bunzip2/bzcat,
xz/unxz/xzcat, zip and unzip.

Archives are built and read in memory (``io.BytesIO``) and every file goes through ``ctx.fs``.
Decompression is streamed with a ceiling (``ctx.limits.max_file_size`` per file) so a
decompression bomb ends with a clear error instead of filling memory.
"""

from __future__ import annotations

import bz2
import fnmatch
import io
import lzma
import posixpath
import stat as _stat
import struct
import tarfile
import time
import zipfile
import zlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from pocketos.commands import command
from pocketos.commands._args import Opt, UsageError, parse, report

if TYPE_CHECKING:
    from pocketos.kernel.process import Context

__all__: list[str] = []

CHUNK = 256 * 1024
OUT_CHUNK = 1024 * 1024


def _enc(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def _dec(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


class TooLarge(Exception):
    """Decompressed data went past the allowed size."""


# =============================================================================================
# codecs
# =============================================================================================


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


# =============================================================================================
# gzip / bzip2 / xz front ends
# =============================================================================================


@dataclass
class _Tool:
    name: str
    codec: Codec
    suffixes: tuple[str, ...]
    default_level: int


_GZ = _Tool("gzip", GZIP, (".gz", "-gz", ".z", "-z", "_z", ".tgz", ".taz"), 6)
_BZ = _Tool("bzip2", BZIP2, (".bz2", ".bz", ".tbz2", ".tbz"), 9)
_XZT = _Tool("xz", XZ, (".xz", ".txz", ".lzma", ".tlz"), 6)


def _strip_suffix(tool: _Tool, name: str, suffix: str | None) -> str | None:
    sfx = (suffix,) if suffix else ()
    for s in sfx + tool.suffixes:
        if name.endswith(s) and len(name) > len(s):
            base = name[: -len(s)]
            if s in (".tgz", ".taz", ".tbz2", ".tbz", ".txz", ".tlz"):
                return base + ".tar"
            return base
    return None


def _usage(tool: _Tool) -> str:
    n = tool.name
    return (
        f"Usage: {n} [OPTION]... [FILE]...\n"
        f"Compress or uncompress FILEs (by default, compress FILES in-place).\n\n"
        "  -c, --stdout      write on standard output, keep original files unchanged\n"
        "  -d, --decompress  decompress\n"
        "  -f, --force       force overwrite of output file\n"
        "  -k, --keep        keep (don't delete) input files\n"
        "  -l, --list        list compressed file contents\n"
        "  -n, --no-name     do not save or restore the original name and timestamp\n"
        "  -N, --name        save or restore the original name and timestamp\n"
        "  -q, --quiet       suppress all warnings\n"
        "  -S, --suffix=SUF  use suffix SUF on compressed files\n"
        "  -t, --test        test compressed file integrity\n"
        "  -v, --verbose     verbose mode\n"
        "  -1, --fast        compress faster\n"
        "  -9, --best        compress better\n"
        "      --help        display this help and exit\n"
    )


_COMP_SPEC = [
    Opt("c", "stdout"),
    Opt("d", "decompress"),
    Opt("z", "compress"),
    Opt("f", "force"),
    Opt("k", "keep"),
    Opt("l", "list"),
    Opt("n", "no-name"),
    Opt("N", "name"),
    Opt("q", "quiet"),
    Opt("S", "suffix", "required"),
    Opt("t", "test"),
    Opt("v", "verbose"),
    Opt("r", "recursive"),
    Opt("T", "threads", "required"),
    Opt("e", "extreme"),
    Opt("F", "format", "required"),
    Opt("s", "small"),
    Opt("", "fast", dest="fast"),
    Opt("", "best", dest="best"),
    Opt("", "help"),
    Opt("V", "version"),
    Opt("", "uncompress", dest="decompress"),
    Opt("", "to-stdout", dest="stdout"),
] + [Opt(str(d), "", dest=f"level{d}") for d in range(10)]


def _tool_for(name: str) -> tuple[_Tool, bool, bool]:
    """(tool, decompress, to_stdout) implied by the command name."""
    return {
        "gzip": (_GZ, False, False),
        "gunzip": (_GZ, True, False),
        "zcat": (_GZ, True, True),
        "bzip2": (_BZ, False, False),
        "bunzip2": (_BZ, True, False),
        "bzcat": (_BZ, True, True),
        "xz": (_XZT, False, False),
        "unxz": (_XZT, True, False),
        "xzcat": (_XZT, True, True),
        "lzma": (_XZT, False, False),
        "unlzma": (_XZT, True, False),
    }.get(name, (_GZ, False, False))


class _Msgs:
    """Per-tool message wording."""

    def __init__(self, ctx: Context, tool: _Tool, quiet: bool) -> None:
        self.ctx = ctx
        self.tool = tool
        self.quiet = quiet

    async def missing(self, f: str, exc: OSError) -> None:
        if self.tool.name == "bzip2":
            await self.ctx.stderr.write(
                _enc(f"{self.ctx.name}: Can't open input file {f}: {exc.strerror}.\n")
            )
        else:
            await self.ctx.stderr.write(_enc(f"{self.ctx.name}: {f}: {exc.strerror}\n"))

    async def not_format(self, f: str) -> None:
        n = self.ctx.name
        if self.tool.name == "gzip":
            await self.ctx.stderr.write(_enc(f"{n}: {f}: not in gzip format\n"))
        elif self.tool.name == "bzip2":
            await self.ctx.stderr.write(_enc(f"{n}: {f} is not a bzip2 file.\n"))
        else:
            await self.ctx.stderr.write(_enc(f"{n}: {f}: File format not recognized\n"))

    async def corrupt(self, f: str, detail: str) -> None:
        n = self.ctx.name
        if self.tool.name == "gzip":
            await self.ctx.stderr.write(_enc(f"{n}: {f}: {detail}\n"))
        elif self.tool.name == "bzip2":
            await self.ctx.stderr.write(
                _enc(
                    f"{n}: Data integrity error when decompressing.\n\tInput file = {f}, "
                    f"output file = (stdout)\n"
                )
            )
        else:
            await self.ctx.stderr.write(_enc(f"{n}: {f}: Compressed data is corrupt\n"))

    async def too_large(self, f: str, limit: int) -> None:
        await self.ctx.stderr.write(
            _enc(
                f"{self.ctx.name}: {f}: decompressed data exceeds the file size limit "
                f"({limit} bytes)\n"
            )
        )


@command("gzip", "gunzip", "zcat", "bzip2", "bunzip2", "bzcat", "xz", "unxz", "xzcat")
async def compress_cmd(ctx: Context) -> int:
    tool, decompress, to_stdout = _tool_for(ctx.name)
    try:
        p = parse(ctx.name, ctx.argv[1:], _COMP_SPEC)
    except UsageError as e:
        return await report(ctx, e)
    if p.flag("help"):
        await ctx.out(_usage(tool))
        return 0
    if p.flag("version"):
        await ctx.out(f"{ctx.name} (pocketos) 1.0\n")
        return 0
    level = tool.default_level
    for k, _v in p.order:
        if k.startswith("level"):
            level = int(k[5:])
        elif k == "fast":
            level = 1
        elif k == "best":
            level = 9
    if tool.codec is not XZ:
        level = max(level, 1)
    decompress = decompress or p.flag("decompress") or p.flag("test") or p.flag("list")
    if p.flag("compress"):
        decompress = False
    to_stdout = to_stdout or p.flag("stdout")
    files = p.operands or ["-"]
    msgs = _Msgs(ctx, tool, p.flag("quiet"))
    status = 0
    list_rows: list[tuple[int, int, str, int]] = []
    for f in files:
        ctx.check_killed()
        try:
            if p.flag("list") and tool.codec is GZIP:
                st = await _gzip_list_one(ctx, f, msgs)
                if st is None:
                    status = 1
                else:
                    list_rows.append(st)
                continue
            rc = await _one_file(ctx, tool, f, decompress, to_stdout, level, p, msgs)
        except BrokenPipeError:
            raise
        status = max(status, rc) if status != 1 else 1
        if rc == 1:
            status = 1
    if p.flag("list") and tool.codec is GZIP and list_rows:
        await _gzip_list_print(ctx, list_rows)
    return status


async def _read_input(ctx: Context, f: str) -> bytes:
    if f == "-":
        return await ctx.stdin.read()
    return ctx.fs.read_bytes(f)


async def _chunks(ctx: Context, f: str) -> AsyncIterator[bytes]:
    """The input in chunks, as it arrives (stdin) or from the file."""
    if f == "-":
        async for chunk in ctx.stdin.chunks(CHUNK):
            yield chunk
        return
    with ctx.fs.open(f, "rb") as fh:
        while True:
            data = fh.read(CHUNK)
            if not data:
                return
            yield data


class _Compressor:
    """Incremental compression with the container framing (gzip header and trailer)."""

    def __init__(self, codec: Codec, level: int, name: str | None, mtime: int) -> None:
        self.codec = codec
        self.obj = codec.compressor(level)
        self.head = _gzip_header(name, mtime, level) if codec is GZIP else b""
        self.crc = 0
        self.size = 0

    def feed(self, data: bytes) -> bytes:
        if self.codec is GZIP:
            self.crc = zlib.crc32(data, self.crc)
            self.size += len(data)
        out = self.head + self.obj.compress(data)
        self.head = b""
        return bytes(out)

    def finish(self) -> bytes:
        out = self.head + self.obj.flush()
        if self.codec is GZIP:
            out += struct.pack("<II", self.crc & 0xFFFFFFFF, self.size & 0xFFFFFFFF)
        return bytes(out)


async def _one_file(
    ctx: Context,
    tool: _Tool,
    f: str,
    decompress: bool,
    to_stdout: bool,
    level: int,
    p: Any,
    msgs: _Msgs,
) -> int:
    name = ctx.name
    is_stdin = f == "-"
    to_stdout = to_stdout or is_stdin
    shown = "stdin" if is_stdin and tool.name == "gzip" else ("(stdin)" if is_stdin else f)
    st = None
    if not is_stdin:
        try:
            st = ctx.fs.stat(f)
        except OSError as exc:
            await msgs.missing(f, exc)
            return 1
        if st.is_dir():
            if not p.flag("quiet"):
                if tool.name == "bzip2":
                    await ctx.stderr.write(_enc(f"{name}: Input file {f} is a directory.\n"))
                elif tool.name == "gzip":
                    await ctx.stderr.write(_enc(f"{name}: {f} is a directory -- ignored\n"))
                else:
                    await ctx.stderr.write(_enc(f"{name}: {f}: Is a directory, skipping\n"))
            return 2 if tool.name == "gzip" else 1
    limit = ctx.limits.max_file_size
    if not decompress:
        if not is_stdin and not to_stdout and not p.flag("force"):
            sfx = p.str("suffix") or tool.codec.suffix
            if f.endswith(sfx) or (tool.name == "gzip" and _strip_suffix(tool, f, None)):
                if tool.name == "gzip":
                    await ctx.stderr.write(
                        _enc(f"{name}: {f} already has {sfx} suffix -- unchanged\n")
                    )
                    return 2
                if tool.name == "bzip2":
                    await ctx.stderr.write(
                        _enc(f"{name}: Input file {f} already has {sfx} suffix.\n")
                    )
                    return 1
                await ctx.stderr.write(
                    _enc(f"{name}: {f}: File already has `{sfx}' suffix, skipping\n")
                )
                return 2
        keep_name = tool.codec is GZIP and not p.flag("no_name") and not is_stdin
        mtime = (st.st_mtime_ns // 10**9) if (st is not None and keep_name) else 0
        gzname = posixpath.basename(f) if keep_name else None
        comp = _Compressor(tool.codec, level, gzname, mtime)
        parts: list[bytes] = []
        try:
            async for chunk in _chunks(ctx, f):
                ctx.check_killed()
                out = comp.feed(chunk)
                if to_stdout:
                    if out:
                        await ctx.stdout.write(out)
                else:
                    parts.append(out)
        except BrokenPipeError:
            raise
        except OSError as exc:
            await msgs.missing(f, exc)
            return 1
        if to_stdout:
            await ctx.stdout.write(comp.finish())
            return 0
        parts.append(comp.finish())
        return await _write_output(
            ctx, tool, f, f + (p.str("suffix") or tool.codec.suffix), b"".join(parts), st, p
        )
    # decompress / test
    target: str | None = None
    if not to_stdout and not p.flag("test"):
        target = _strip_suffix(tool, f, p.str("suffix"))
        if target is None:
            if tool.name == "bzip2":
                target = f + ".out"
                await ctx.stderr.write(
                    _enc(f"{name}: Can't guess original name for {f} -- using {target}\n")
                )
            elif tool.name == "gzip":
                await ctx.stderr.write(_enc(f"{name}: {f}: unknown suffix -- ignored\n"))
                return 2
            else:
                await ctx.stderr.write(
                    _enc(f"{name}: {f}: Filename has an unknown suffix, skipping\n")
                )
                return 1
    dec = Decoder(tool.codec, limit)
    parts = []
    head: list[bytes] = []  # input seen before the first member (for gzip -cdf passthrough)
    testing = p.flag("test")
    source = _chunks(ctx, f)
    try:
        async for chunk in source:
            ctx.check_killed()
            if dec.members == 0 and not dec.in_member:
                head.append(chunk)
            for out in dec.feed(chunk):
                if testing:
                    continue
                if to_stdout:
                    await ctx.stdout.write(out)
                else:
                    parts.append(out)
            if dec.in_member or dec.members:
                head = []
            if dec.trailing:
                break
        dec.finish()
    except BrokenPipeError:
        raise
    except NotFormat:
        if to_stdout and p.flag("force") and tool.name == "gzip" and not testing:
            await ctx.stdout.write(b"".join(head))
            async for chunk in source:
                await ctx.stdout.write(chunk)
            return 0
        await msgs.not_format(shown)
        return 2 if tool.name == "bzip2" else 1
    except TooLarge:
        await msgs.too_large(shown, limit)
        return 1
    except ValueError as exc:
        text = str(exc)
        if tool.name == "gzip":
            text = (
                "invalid compressed data--crc error"
                if "crc" in text
                else "unexpected end of file"
                if "end of file" in text
                else "invalid compressed data--format violated"
            )
        await msgs.corrupt(shown, text)
        return 2 if tool.name == "bzip2" else 1
    except OSError as exc:
        await msgs.missing(f, exc)
        return 1
    rc = 0
    if dec.trailing:
        if tool.name == "gzip":
            if not p.flag("quiet"):
                await ctx.stderr.write(
                    _enc(f"{name}: {shown}: decompression OK, trailing garbage ignored\n")
                )
            rc = 2
        elif tool.name == "bzip2":
            await ctx.stderr.write(_enc(f"{name}: {shown}: trailing garbage after EOF ignored\n"))
        else:
            await msgs.corrupt(shown, "")
            return 1
    if testing:
        if p.flag("verbose"):
            await ctx.stderr.write(_enc(f"{shown}:\t OK\n"))
        return rc
    if target is None:
        return rc
    wrc = await _write_output(ctx, tool, f, target, b"".join(parts), st, p, restore_mtime=True)
    return wrc if wrc else rc


async def _write_output(
    ctx: Context,
    tool: _Tool,
    src: str,
    target: str,
    data: bytes,
    st: Any,
    p: Any,
    restore_mtime: bool = True,
) -> int:
    name = ctx.name
    if ctx.fs.lexists(target) and not p.flag("force"):
        if tool.name == "gzip":
            await ctx.stderr.write(_enc(f"{name}: {target} already exists;\tnot overwritten\n"))
            return 2
        if tool.name == "bzip2":
            await ctx.stderr.write(_enc(f"{name}: Output file {target} already exists.\n"))
            return 1
        await ctx.stderr.write(_enc(f"{name}: {target}: File exists\n"))
        return 1
    try:
        if ctx.fs.lexists(target):
            ctx.fs.unlink(target)
        mode = _stat.S_IMODE(st.st_mode) if st is not None else 0o644
        ctx.fs.write_bytes(target, data, mode=mode)
        if st is not None:
            try:
                ctx.fs.chmod(target, mode)
                ctx.fs.utime(target, (st.st_atime_ns, st.st_mtime_ns))
            except OSError:
                pass
        if not p.flag("keep"):
            ctx.fs.unlink(src)
    except OSError as exc:
        await ctx.stderr.write(_enc(f"{name}: {target}: {exc.strerror}\n"))
        return 1
    if p.flag("verbose"):
        await ctx.stderr.write(_enc(f"{src}:\t -- replaced with {target}\n"))
    return 0


async def _gzip_list_one(ctx: Context, f: str, msgs: _Msgs) -> tuple[int, int, str, int] | None:
    try:
        raw = await _read_input(ctx, f)
    except OSError as exc:
        await msgs.missing(f, exc)
        return None
    try:
        hdr = _parse_gzip_header(raw)
    except NotFormat:
        hdr = None
    if hdr is None:
        await msgs.not_format(f)
        return None
    usize = struct.unpack("<I", raw[-4:])[0] if len(raw) >= 18 else 0
    uname = "stdout" if f == "-" else (_strip_suffix(_GZ, f, None) or f)
    return len(raw), usize, uname, hdr[0] + 8


def _gzip_ratio(comp: int, uncomp: int, overhead: int) -> str:
    if uncomp == 0:
        return "  0.0%"
    return f"{100.0 * (uncomp - (comp - overhead)) / uncomp:5.1f}%"


async def _gzip_list_print(ctx: Context, rows: list[tuple[int, int, str, int]]) -> None:
    lines = ["         compressed        uncompressed  ratio uncompressed_name"]
    for comp, uncomp, nm, over in rows:
        lines.append(f"{comp:19d} {uncomp:19d} {_gzip_ratio(comp, uncomp, over)} {nm}")
    if len(rows) > 1:
        tc = sum(r[0] for r in rows)
        tu = sum(r[1] for r in rows)
        # gzip subtracts the header size of the last file only
        lines.append(f"{tc:19d} {tu:19d} {_gzip_ratio(tc, tu, rows[-1][3])} (totals)")
    await ctx.out("\n".join(lines) + "\n")


# =============================================================================================
# tar
# =============================================================================================

_TAR_USAGE = """Usage: tar [OPTION...] [FILE]...
Create, list or extract tar archives.

  -c, --create               create a new archive
  -x, --extract, --get       extract files from an archive
  -t, --list                 list the contents of an archive
  -f, --file=ARCHIVE         use archive file ARCHIVE ('-' for stdin/stdout)
  -C, --directory=DIR        change to directory DIR
  -v, --verbose              verbosely list files processed
  -z, --gzip                 filter the archive through gzip
  -j, --bzip2                filter the archive through bzip2
  -J, --xz                   filter the archive through xz
  -a, --auto-compress        use archive suffix to determine the compression
  -O, --to-stdout            extract files to standard output
  -p, --preserve-permissions extract information about file permissions
  -k, --keep-old-files       don't replace existing files when extracting
      --strip-components=N   strip N leading components from file names
      --exclude=PATTERN      exclude files matching PATTERN
  -T, --files-from=FILE      get names to extract or create from FILE
      --help                 give this help list
"""

_TAR_SPEC = [
    Opt("c", "create"),
    Opt("x", "extract"),
    Opt("", "get", dest="extract"),
    Opt("t", "list"),
    Opt("r", "append"),
    Opt("u", "update", dest="append"),
    Opt("f", "file", "required"),
    Opt("C", "directory", "required", multiple=True),
    Opt("v", "verbose"),
    Opt("z", "gzip"),
    Opt("", "gunzip", dest="gzip"),
    Opt("", "ungzip", dest="gzip"),
    Opt("j", "bzip2"),
    Opt("J", "xz"),
    Opt("a", "auto-compress"),
    Opt("O", "to-stdout"),
    Opt("p", "preserve-permissions"),
    Opt("", "same-permissions", dest="preserve_permissions"),
    Opt("k", "keep-old-files"),
    Opt("", "overwrite"),
    Opt("", "skip-old-files"),
    Opt("", "strip-components", "required"),
    Opt("", "exclude", "required", multiple=True),
    Opt("T", "files-from", "required"),
    Opt("m", "touch"),
    Opt("h", "dereference"),
    Opt("", "no-same-owner"),
    Opt("", "same-owner"),
    Opt("", "numeric-owner"),
    Opt("", "owner", "required"),
    Opt("", "group", "required"),
    Opt("", "mode", "required"),
    Opt("", "mtime", "required"),
    Opt("", "sort", "required"),
    Opt("", "help"),
    Opt("", "version"),
    Opt("o", "", dest="no_same_owner"),
    Opt("", "wildcards"),
    Opt("", "no-recursion"),
    Opt("P", "absolute-names"),
    Opt("", "totals"),
    Opt("", "format", "required"),
    Opt("H", "", "required", dest="format"),
]
_TAR_ARG_LETTERS = set("fCTXbNKgLVH")


def _expand_old_style(args: list[str]) -> list[str]:
    """``tar czf a.tgz dir`` -> ``tar -c -z -f a.tgz dir``."""
    if not args or args[0].startswith("-"):
        return args
    letters = args[0]
    rest = args[1:]
    out: list[str] = []
    for c in letters:
        out.append("-" + c)
        if c in _TAR_ARG_LETTERS and rest:
            out.append(rest.pop(0))
    return out + rest


class _TarErr:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.failed = False
        self.warned: set[str] = set()

    async def say(self, msg: str) -> None:
        await self.ctx.stderr.write(_enc(f"tar: {msg}\n"))

    async def fail(self, msg: str) -> None:
        self.failed = True
        await self.say(msg)

    async def once(self, msg: str) -> None:
        if msg not in self.warned:
            self.warned.add(msg)
            await self.say(msg)


def _lookup_names(ctx: Context) -> tuple[dict[int, str], dict[int, str]]:
    users: dict[int, str] = {}
    groups: dict[int, str] = {}
    for path, table in (("/etc/passwd", users), ("/etc/group", groups)):
        try:
            for line in ctx.fs.read_text(path).splitlines():
                parts = line.split(":")
                if len(parts) >= 3 and parts[2].isdigit():
                    table.setdefault(int(parts[2]), parts[0])
        except OSError:
            pass
    return users, groups


def _safe_member_name(name: str) -> tuple[str | None, str | None]:
    """(sanitized name or None to skip, the leading prefix removed)."""
    prefix = ""
    n = name
    while n.startswith("/"):
        prefix += "/"
        n = n[1:]
    parts = n.split("/")
    if ".." in parts:
        # GNU strips everything up to the last '..' and refuses the member
        last = len(parts) - 1 - parts[::-1].index("..")
        removed = "/".join(parts[: last + 1]) + "/"
        return None, prefix + removed
    return n, prefix or None


def _excluded(name: str, patterns: list[str]) -> bool:
    """GNU's unanchored matching: a pattern may match any run of whole components."""
    if not patterns:
        return False
    parts = name.rstrip("/").split("/")
    n = len(parts)
    for pat in patterns:
        pat = pat.rstrip("/")
        for i in range(n):
            for j in range(i + 1, n + 1):
                if fnmatch.fnmatchcase("/".join(parts[i:j]), pat):
                    return True
    return False


def _mode_string(mode: int, typ: bytes) -> str:
    kind = {
        tarfile.DIRTYPE: "d",
        tarfile.SYMTYPE: "l",
        tarfile.LNKTYPE: "h",
        tarfile.CHRTYPE: "c",
        tarfile.BLKTYPE: "b",
        tarfile.FIFOTYPE: "p",
    }.get(typ, "-")
    s = _stat.filemode(mode)[1:]
    return kind + s


@command("tar")
async def tar_cmd(ctx: Context) -> int:
    try:
        p = parse("tar", _expand_old_style(list(ctx.argv[1:])), _TAR_SPEC, status=64)
    except UsageError as e:
        return await report(ctx, e)
    if p.flag("help"):
        await ctx.out(_TAR_USAGE)
        return 0
    if p.flag("version"):
        await ctx.out("tar (GNU tar) 1.34\n")
        return 0
    _UGSWIDTH[0] = 19
    modes = [m for m in ("create", "extract", "list", "append") if p.flag(m)]
    err = _TarErr(ctx)
    if not modes:
        await err.say(
            "You must specify one of the '-Acdtrux', '--delete' or '--test-label'"
            " options\nTry 'tar --help' or 'tar --usage' for more information."
        )
        return 2
    if len(modes) > 1:
        await err.say(
            "You may not specify more than one '-Acdtrux', '--delete' or  "
            "'--test-label' option\nTry 'tar --help' or 'tar --usage' for more "
            "information."
        )
        return 2
    mode = modes[0]
    archive = p.str("file") or "-"
    operands = list(p.operands)
    if p.get("files_from") is not None:
        src = p.str("files_from") or "-"
        try:
            data = await ctx.stdin.read() if src == "-" else ctx.fs.read_bytes(src)
        except OSError as exc:
            await err.say(f"{src}: Cannot open: {exc.strerror}")
            await err.say("Error is not recoverable: exiting now")
            return 2
        operands += [ln for ln in _dec(data).splitlines() if ln]
    codec: Codec | None = None
    if p.flag("gzip"):
        codec = GZIP
    elif p.flag("bzip2"):
        codec = BZIP2
    elif p.flag("xz"):
        codec = XZ
    elif p.flag("auto_compress"):
        for sfx, c in (
            (".tgz", GZIP),
            (".tar.gz", GZIP),
            (".gz", GZIP),
            (".tbz2", BZIP2),
            (".tbz", BZIP2),
            (".bz2", BZIP2),
            (".txz", XZ),
            (".xz", XZ),
        ):
            if archive.endswith(sfx):
                codec = c
                break
    try:
        strip = int(p.str("strip_components") or "0")
    except ValueError:
        await err.say(f"Invalid number of elements: '{p.str('strip_components')}'")
        return 2
    dirs = p.list("directory")
    base = dirs[-1] if dirs else "."
    try:
        if mode == "create":
            await _tar_create(ctx, p, err, archive, codec, operands, base)
        elif mode == "append":
            await _tar_append(ctx, p, err, archive, operands, base)
        else:
            await _tar_read(ctx, p, err, archive, codec, operands, base, mode, strip)
    except _TarFatal:
        return 2
    if err.failed:
        await err.say("Exiting with failure status due to previous errors")
        return 2
    return 0


class _TarFatal(Exception):
    pass


def _tar_info_for(
    ctx: Context,
    fs_path: str,
    arcname: str,
    st: Any,
    users: dict[int, str],
    groups: dict[int, str],
    p: Any,
) -> tarfile.TarInfo:
    ti = tarfile.TarInfo(arcname)
    ti.mode = _stat.S_IMODE(st.st_mode)
    ti.mtime = st.st_mtime_ns // 10**9
    ti.uid = st.st_uid
    ti.gid = st.st_gid
    ti.uname = users.get(st.st_uid, "") if not p.flag("numeric_owner") else ""
    ti.gname = groups.get(st.st_gid, "") if not p.flag("numeric_owner") else ""
    if p.get("owner") is not None:
        ti.uname = (p.str("owner") or "").split(":")[0]
    if p.get("group") is not None:
        ti.gname = (p.str("group") or "").split(":")[0]
    return ti


async def _tar_create(
    ctx: Context,
    p: Any,
    err: _TarErr,
    archive: str,
    codec: Codec | None,
    operands: list[str],
    base: str,
) -> None:
    if not operands:
        await err.say(
            "Cowardly refusing to create an empty archive\n"
            "Try 'tar --help' or 'tar --usage' for more information."
        )
        raise _TarFatal()
    fs = ctx.fs.with_cwd(ctx.fs.abspath(base))
    users, groups = _lookup_names(ctx)
    buf = io.BytesIO()
    verbose_out = ctx.stderr if archive == "-" else ctx.stdout
    excludes = p.list("exclude")
    seen_inodes: dict[tuple[int, int], str] = {}
    archive_abs = ctx.fs.abspath(archive) if archive != "-" else None
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tf:
        for op in operands:
            ctx.check_killed()
            arc = op
            stripped = ""
            while arc.startswith("/"):
                arc = arc[1:]
                stripped = "/"
            if stripped and not p.flag("absolute_names"):
                await err.once("Removing leading `/' from member names")
            parts = arc.split("/")
            if ".." in parts and not p.flag("absolute_names"):
                last = len(parts) - 1 - parts[::-1].index("..")
                prefix = "/".join(parts[: last + 1]) + "/"
                await err.once(f"Removing leading `{prefix}' from member names")
                arc = "/".join(parts[last + 1 :])
            try:
                st = fs.stat(op, follow_symlinks=p.flag("dereference"))
            except OSError as exc:
                await err.fail(f"{op}: Cannot stat: {exc.strerror}")
                continue
            for fs_path, name, est in _walk_for_tar(fs, op, arc, st, p):
                ctx.check_killed()
                if _excluded(name, excludes):
                    continue
                if archive_abs is not None and fs.abspath(fs_path) == archive_abs:
                    await err.say(f"{name}: file is the archive; not dumped")
                    continue
                ti = _tar_info_for(ctx, fs_path, name, est, users, groups, p)
                data: bytes | None = None
                if est.is_dir():
                    ti.type = tarfile.DIRTYPE
                elif est.is_symlink():
                    ti.type = tarfile.SYMTYPE
                    ti.linkname = fs.readlink(fs_path)
                elif est.is_file():
                    key = (est.st_dev, est.st_ino)
                    if est.st_nlink > 1 and key in seen_inodes:
                        ti.type = tarfile.LNKTYPE
                        ti.linkname = seen_inodes[key]
                    else:
                        if est.st_nlink > 1:
                            seen_inodes[key] = name
                        try:
                            data = fs.read_bytes(fs_path)
                        except OSError as exc:
                            await err.fail(f"{fs_path}: Cannot open: {exc.strerror}")
                            continue
                        ti.size = len(data)
                else:
                    await err.say(f"{name}: file type not supported; not dumped")
                    continue
                if not name:
                    continue
                tf.addfile(ti, io.BytesIO(data) if data is not None else None)
                if p.flag("verbose"):
                    shown = name + ("/" if est.is_dir() and not name.endswith("/") else "")
                    await verbose_out.write(_enc(_tar_verbose_line(ti, shown, p) + "\n"))
    raw = buf.getvalue()
    if codec is not None:
        raw = compress_bytes(codec, raw, 6 if codec is not BZIP2 else 9)
    if archive == "-":
        await ctx.stdout.write(raw)
    else:
        try:
            ctx.fs.write_bytes(archive, raw)
        except OSError as exc:
            await err.say(f"{archive}: Cannot open: {exc.strerror}")
            await err.say("Error is not recoverable: exiting now")
            raise _TarFatal() from None


def _walk_for_tar(fs: Any, path: str, arc: str, st: Any, p: Any) -> Iterator[tuple[str, str, Any]]:
    yield path, arc, st
    if not st.is_dir() or p.flag("no_recursion"):
        return
    try:
        names = sorted(fs.listdir(path))
    except OSError:
        return
    for n in names:
        child = posixpath.join(path, n)
        carc = (arc.rstrip("/") + "/" + n) if arc not in ("", ".") else n
        if arc == ".":
            carc = "./" + n
        try:
            cst = fs.stat(child, follow_symlinks=p.flag("dereference"))
        except OSError:
            continue
        yield from _walk_for_tar(fs, child, carc, cst, p)


def _tar_verbose_line(ti: tarfile.TarInfo, shown: str, p: Any) -> str:
    if p.count("verbose") < 2:
        return shown
    return _tar_long_line(ti, shown)


# GNU tar widens the owner/size column as longer entries appear and keeps it wide
_UGSWIDTH = [19]


def _tar_long_line(ti: tarfile.TarInfo, name: str) -> str:
    mode = _mode_string(ti.mode, ti.type)
    owner = f"{ti.uname or ti.uid}/{ti.gname or ti.gid}"
    size = (
        str(ti.size)
        if ti.type not in (tarfile.CHRTYPE, tarfile.BLKTYPE)
        else f"{ti.devmajor},{ti.devminor}"
    )
    pad = len(owner) + 1 + len(size)
    if pad > _UGSWIDTH[0]:
        _UGSWIDTH[0] = pad
    width = _UGSWIDTH[0] - pad + len(size)
    when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(ti.mtime))
    line = f"{mode} {owner} {size.rjust(width)} {when} {name}"
    if ti.type == tarfile.SYMTYPE:
        line += f" -> {ti.linkname}"
    elif ti.type == tarfile.LNKTYPE:
        line += f" link to {ti.linkname}"
    return line


async def _tar_load(ctx: Context, err: _TarErr, archive: str, codec: Codec | None) -> bytes:
    try:
        if archive == "-":
            raw = await ctx.stdin.read()
        else:
            raw = ctx.fs.read_bytes(archive)
    except OSError as exc:
        await err.say(f"{archive}: Cannot open: {exc.strerror}")
        await err.say("Error is not recoverable: exiting now")
        raise _TarFatal() from None
    found = detect_codec(raw)
    use = found or codec
    if use is not None:
        try:
            raw = decompress_all(use, raw, ctx.limits.max_fs_bytes)
        except TooLarge:
            await err.say(
                f"{archive}: decompressed archive exceeds the filesystem limit "
                f"({ctx.limits.max_fs_bytes} bytes)"
            )
            raise _TarFatal() from None
        except (NotFormat, ValueError):
            await err.say("Child returned status 1")
            await err.say("Error is not recoverable: exiting now")
            raise _TarFatal() from None
    return raw


def _member_selected(name: str, operands: list[str], used: set[str]) -> bool:
    if not operands:
        return True
    n = name.rstrip("/")
    for op in operands:
        o = op.rstrip("/")
        if (
            n == o
            or n.startswith(o + "/")
            or (any(ch in o for ch in "*?[") and fnmatch.fnmatchcase(n, o))
        ):
            used.add(op)
            return True
    return False


async def _tar_read(
    ctx: Context,
    p: Any,
    err: _TarErr,
    archive: str,
    codec: Codec | None,
    operands: list[str],
    base: str,
    mode: str,
    strip: int,
) -> None:
    raw = await _tar_load(ctx, err, archive, codec)
    try:
        tf = tarfile.open(fileobj=io.BytesIO(raw), mode="r:")  # noqa: SIM115
    except tarfile.TarError:
        if not raw:
            await err.say("This does not look like a tar archive")
        else:
            await err.say("This does not look like a tar archive")
            await err.say("Skipping to next header")
        await err.say("Exiting with failure status due to previous errors")
        raise _TarFatal() from None
    excludes = p.list("exclude")
    used: set[str] = set()
    fs = ctx.fs.with_cwd(ctx.fs.abspath(base)) if mode == "extract" else ctx.fs
    if mode == "extract" and not ctx.fs.isdir(base):
        await err.say(f"{base}: Cannot open: No such file or directory")
        await err.say("Error is not recoverable: exiting now")
        raise _TarFatal()
    verbose_out = ctx.stdout
    dir_times: list[tuple[str, int, int]] = []
    limit = ctx.limits.max_file_size
    try:
        members = iter(tf)
        while True:
            try:
                ti = next(members)
            except StopIteration:
                break
            except tarfile.TarError:
                await err.fail("Skipping to next header")
                break
            ctx.check_killed()
            name = ti.name
            if ti.isdir() and not name.endswith("/"):
                shown_name = name + "/"
            else:
                shown_name = name
            if _excluded(name, excludes) or not _member_selected(name, operands, used):
                continue
            if mode == "list":
                _, removed = _safe_member_name(name)
                if removed:
                    await err.once(f"Removing leading `{removed}' from member names")
                if p.flag("verbose"):
                    await verbose_out.write(_enc(_tar_long_line(ti, shown_name) + "\n"))
                else:
                    await verbose_out.write(_enc(shown_name + "\n"))
                continue
            safe, removed = _safe_member_name(name)
            if removed:
                await err.once(f"Removing leading `{removed}' from member names")
            if safe is None:
                await err.fail(f"{name}: Member name contains '..'")
                continue
            if strip:
                parts = [x for x in safe.split("/") if x]
                if len(parts) <= strip:
                    continue
                safe = "/".join(parts[strip:])
            if (not safe or safe in (".", "./")) and ti.isdir():
                continue
            if p.flag("verbose"):
                out = ctx.stderr if p.flag("to_stdout") else verbose_out
                line = _tar_long_line(ti, shown_name) if p.count("verbose") >= 2 else shown_name
                await out.write(_enc(line + "\n"))
            if p.flag("to_stdout"):
                if ti.isfile():
                    try:
                        fh = tf.extractfile(ti)
                        data = fh.read() if fh is not None else b""
                    except (tarfile.TarError, EOFError, ValueError, OSError) as exc:
                        await err.fail(f"{name}: Cannot read: {exc}")
                        continue
                    await ctx.stdout.write(data)
                continue
            try:
                await _tar_extract_member(ctx, fs, tf, ti, safe, p, err, dir_times, limit)
            except (tarfile.TarError, EOFError, ValueError, zlib.error) as exc:
                await err.fail(f"{name}: Cannot extract: {exc}")
    finally:
        tf.close()
    for path, atime, mtime in reversed(dir_times):
        try:
            fs.utime(path, (atime, mtime))
        except OSError:
            pass
    for op in operands:
        if op not in used:
            await err.fail(f"{op}: Not found in archive")


def _through_symlink(fs: Any, path: str) -> bool:
    parts = path.split("/")[:-1]
    cur = ""
    for part in parts:
        if not part or part == ".":
            continue
        cur = f"{cur}/{part}" if cur else part
        try:
            if fs.lstat(cur).is_symlink():
                return True
        except OSError:
            return False
    return False


async def _tar_extract_member(
    ctx: Context,
    fs: Any,
    tf: tarfile.TarFile,
    ti: tarfile.TarInfo,
    path: str,
    p: Any,
    err: _TarErr,
    dir_times: list[tuple[str, int, int]],
    limit: int,
) -> None:
    path = path.rstrip("/") or path
    if _through_symlink(fs, path):
        await err.fail(f"{path}: Cannot open: Not a directory (refusing to follow a symbolic link)")
        return
    parent = posixpath.dirname(path)
    try:
        if parent:
            fs.mkdir(parent, parents=True, exist_ok=True)
    except OSError as exc:
        await err.fail(f"{path}: Cannot mkdir: {exc.strerror}")
        return
    mode = ti.mode & 0o7777
    if not p.flag("preserve_permissions"):
        mode &= ~0o022
    mtime_ns = int(ti.mtime) * 10**9
    exists = fs.lexists(path)
    if exists and p.flag("keep_old_files") and not ti.isdir():
        await err.fail(f"{path}: Cannot open: File exists")
        return
    if exists and p.flag("skip_old_files") and not ti.isdir():
        return
    try:
        if ti.isdir():
            if exists and not fs.isdir(path):
                fs.unlink(path)
            fs.mkdir(path, mode=mode | 0o700, parents=True, exist_ok=True)
            try:
                fs.chmod(path, mode)
            except OSError:
                pass
            if not p.flag("touch"):
                dir_times.append((path, mtime_ns, mtime_ns))
            return
        if exists:
            if fs.isdir(path) and not fs.islink(path):
                await err.fail(f"{path}: Cannot open: Is a directory")
                return
            fs.unlink(path)
        if ti.issym():
            fs.symlink(ti.linkname, path)
            return
        if ti.islnk():
            target, _ = _safe_member_name(ti.linkname)
            if target is None:
                await err.fail(f"{path}: Cannot hard link to '{ti.linkname}': Invalid argument")
                return
            fs.link(target, path)
            return
        if not ti.isfile():
            await err.fail(f"{path}: Cannot create special file: not supported")
            return
        if ti.size > limit:
            await err.fail(f"{path}: Cannot write: File too large (limit {limit} bytes)")
            return
        fh = tf.extractfile(ti)
        data = fh.read() if fh is not None else b""
        fs.write_bytes(path, data, mode=mode)
        fs.chmod(path, mode)
        if not p.flag("touch"):
            fs.utime(path, (mtime_ns, mtime_ns))
    except OSError as exc:
        await err.fail(f"{path}: Cannot open: {exc.strerror}")


async def _tar_append(
    ctx: Context, p: Any, err: _TarErr, archive: str, operands: list[str], base: str
) -> None:
    if archive == "-":
        await err.say("Options '-Aru' are incompatible with '-f -'")
        raise _TarFatal()
    try:
        old = ctx.fs.read_bytes(archive) if ctx.fs.exists(archive) else b""
    except OSError as exc:
        await err.say(f"{archive}: Cannot open: {exc.strerror}")
        raise _TarFatal() from None
    if detect_codec(old) is not None:
        await err.say("Cannot update compressed archives")
        await err.say("Error is not recoverable: exiting now")
        raise _TarFatal()
    sink = _Capture()
    saved = ctx.stdout
    ctx.stdout = sink  # type: ignore[assignment]
    try:
        await _tar_create(ctx, p, err, "-", None, operands, base)
    finally:
        ctx.stdout = saved
    members: list[tuple[tarfile.TarInfo, bytes | None]] = []
    for blob in (old, sink.getvalue()):
        if not blob:
            continue
        with tarfile.open(fileobj=io.BytesIO(blob), mode="r:") as tf:
            for ti in tf:
                fh = tf.extractfile(ti) if ti.isfile() else None
                members.append((ti, fh.read() if fh is not None else None))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as out:
        for ti, data in members:
            out.addfile(ti, io.BytesIO(data) if data is not None else None)
    try:
        ctx.fs.write_bytes(archive, buf.getvalue())
    except OSError as exc:
        await err.say(f"{archive}: Cannot open: {exc.strerror}")
        raise _TarFatal() from None


class _Capture:
    def __init__(self) -> None:
        self.buf = bytearray()

    async def write(self, data: bytes) -> None:
        self.buf += data

    def getvalue(self) -> bytes:
        return bytes(self.buf)


# =============================================================================================
# zip / unzip
# =============================================================================================

# what a damaged zip file can raise while it is read
_ZIP_ERRORS: tuple[type[BaseException], ...] = (
    zipfile.BadZipFile,
    zlib.error,
    lzma.LZMAError,
    ValueError,
    NotImplementedError,
    RuntimeError,
    EOFError,
    struct.error,
    OSError,
)
_ZIP_ERRORS_OR_LIMIT: tuple[type[BaseException], ...] = (TooLarge, *_ZIP_ERRORS)

_ZIP_USAGE = """Usage: zip [-options] zipfile list
  -r   recurse into directories     -j   junk (don't record) directory names
  -q   quiet operation              -0   store only
  -1   compress faster              -9   compress better
  -d   delete entries in zipfile    -m   move into zipfile (delete OS files)
  -D   do not add directory entries -x   exclude the names that follow
"""


def _dos_time(mtime_ns: int) -> tuple[int, int, int, int, int, int]:
    t = time.gmtime(mtime_ns // 10**9)
    if t.tm_year < 1980:
        return (1980, 1, 1, 0, 0, 0)
    return (t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec)


def _zip_args(argv: list[str]) -> tuple[dict[str, Any], list[str], list[str]]:
    """Parse zip's own option style: flags may be clustered, ``-x`` takes the rest."""
    flags: dict[str, Any] = {"level": 6}
    operands: list[str] = []
    excludes: list[str] = []
    i = 0
    in_x = False
    while i < len(argv):
        a = argv[i]
        if a in ("-x", "--exclude"):
            in_x = True
            i += 1
            continue
        if a in ("-i", "--include"):
            in_x = False
            i += 1
            continue
        if in_x and not (a.startswith("-") and len(a) > 1):
            excludes.append(a)
            i += 1
            continue
        if a == "--help":
            flags["help"] = True
        elif a.startswith("--"):
            long = {
                "--recurse-paths": "r",
                "--quiet": "q",
                "--junk-paths": "j",
                "--delete": "d",
                "--move": "m",
                "--no-dir-entries": "D",
                "--symlinks": "y",
                "--test": "T",
            }.get(a)
            if long is None:
                raise UsageError(
                    f"zip error: Invalid command arguments (long option '{a[2:]}' not supported)",
                    16,
                )
            flags[long] = True
        elif a.startswith("-") and len(a) > 1:
            for c in a[1:]:
                if c.isdigit():
                    flags["level"] = int(c)
                elif c in "rqjdmDyTvXoRlFSAuf":
                    flags[c] = True
                elif c == "x":
                    in_x = True
                else:
                    raise UsageError(
                        f"zip error: Invalid command arguments (short option '{c}' not supported)",
                        16,
                    )
            in_x = in_x and a.endswith("x")
        else:
            operands.append(a)
            in_x = False
        i += 1
    return flags, operands, excludes


@command("zip")
async def zip_cmd(ctx: Context) -> int:
    try:
        flags, operands, excludes = _zip_args(list(ctx.argv[1:]))
    except UsageError as e:
        await ctx.stderr.write(_enc(e.message + "\n"))
        return e.status
    if flags.get("help"):
        await ctx.out(_ZIP_USAGE)
        return 0
    if not operands:
        await ctx.stderr.write(b"zip error: Nothing to do! (try: zip -r archive.zip . )\n")
        return 12
    zname = operands[0]
    if not posixpath.basename(zname).count(".") and not ctx.fs.exists(zname):
        zname += ".zip"
    names = operands[1:]
    zabs = ctx.fs.abspath(zname)
    quiet = bool(flags.get("q"))
    existing: dict[str, tuple[zipfile.ZipInfo, bytes]] = {}
    order: list[str] = []
    if ctx.fs.exists(zname):
        try:
            raw = ctx.fs.read_bytes(zname)
            with zipfile.ZipFile(io.BytesIO(raw)) as zf:
                for info in zf.infolist():
                    existing[info.filename] = (
                        info,
                        zf.read(info) if info.file_size <= ctx.limits.max_file_size else b"",
                    )
                    order.append(info.filename)
        except _ZIP_ERRORS:
            await ctx.stderr.write(_enc(f"\nzip error: Zip file structure invalid ({zname})\n"))
            return 3
    if flags.get("d"):
        removed = 0
        for n in names:
            for key in list(order):
                if key == n or fnmatch.fnmatchcase(key, n):
                    order.remove(key)
                    existing.pop(key, None)
                    removed += 1
                    if not quiet:
                        await ctx.out(f"deleting: {key}\n")
        if not removed:
            await ctx.stderr.write(_enc(f"\nzip error: Nothing to do! ({zname})\n"))
            return 12
        return await _zip_write(ctx, zname, existing, order, {})
    added: dict[str, tuple[zipfile.ZipInfo, bytes]] = {}
    to_move: list[str] = []
    for n in names:
        if n == "-":
            data = await ctx.stdin.read()
            zi = zipfile.ZipInfo("-", _dos_time(time.time_ns()))
            zi.external_attr = 0o100644 << 16
            added["-"] = (zi, data)
            continue
        try:
            st = ctx.fs.stat(n)
        except OSError:
            await ctx.stderr.write(_enc(f"\tzip warning: name not matched: {n}\n"))
            continue
        for path, est in _zip_walk(ctx, n, st, bool(flags.get("r"))):
            ctx.check_killed()
            if ctx.fs.abspath(path) == zabs:
                continue
            arc = path.lstrip("/")
            while arc.startswith("./"):
                arc = arc[2:]
            if flags.get("j"):
                if est.is_dir():
                    continue
                arc = posixpath.basename(arc)
            if est.is_dir():
                if flags.get("D"):
                    continue
                arc = arc.rstrip("/") + "/"
            if not arc or arc == "/":
                continue
            if any(fnmatch.fnmatchcase(arc, x) or fnmatch.fnmatchcase(path, x) for x in excludes):
                continue
            zi = zipfile.ZipInfo(arc, _dos_time(est.st_mtime_ns))
            zi.create_system = 3
            zi.external_attr = (est.st_mode & 0xFFFF) << 16
            if est.is_dir():
                zi.external_attr |= 0x10
                data = b""
            else:
                try:
                    data = ctx.fs.read_bytes(path)
                except OSError as exc:
                    await ctx.stderr.write(
                        _enc(f"\tzip warning: could not open for reading: {path}: {exc.strerror}\n")
                    )
                    continue
            added[arc] = (zi, data)
            to_move.append(path)
    if not added:
        await ctx.stderr.write(_enc(f"\nzip error: Nothing to do! ({zname})\n"))
        return 12
    level = int(flags.get("level", 6))
    verb_lines: list[str] = []
    final: dict[str, tuple[zipfile.ZipInfo, bytes]] = dict(existing)
    for arc, (zi, data) in added.items():
        if arc.endswith("/") or not data or level == 0:
            zi.compress_type = zipfile.ZIP_STORED
            how = "stored 0%"
        else:
            comp = zlib.compressobj(level, zlib.DEFLATED, -15)
            csize = len(comp.compress(data) + comp.flush())
            if csize < len(data):
                zi.compress_type = zipfile.ZIP_DEFLATED
                pct = int(round((1 - csize / len(data)) * 100)) if data else 0
                how = f"deflated {pct}%"
            else:
                zi.compress_type = zipfile.ZIP_STORED
                how = "stored 0%"
        verb = "updating" if arc in existing else "  adding"
        verb_lines.append(f"{verb}: {arc} ({how})\n")
        final[arc] = (zi, data)
        if arc not in order:
            order.append(arc)
    rc = await _zip_write(ctx, zname, final, order, {}, level)
    if rc:
        return rc
    if not quiet:
        await ctx.out("".join(verb_lines))
    if flags.get("m"):
        for path in reversed(to_move):
            try:
                if ctx.fs.isdir(path):
                    ctx.fs.rmdir(path)
                else:
                    ctx.fs.unlink(path)
            except OSError:
                pass
    return 0


def _zip_walk(ctx: Context, path: str, st: Any, recurse: bool) -> Iterator[tuple[str, Any]]:
    yield path, st
    if not st.is_dir() or not recurse:
        return
    try:
        names = sorted(ctx.fs.listdir(path))
    except OSError:
        return
    for n in names:
        child = path.rstrip("/") + "/" + n if path not in (".",) else n
        try:
            cst = ctx.fs.stat(child)
        except OSError:
            continue
        yield from _zip_walk(ctx, child, cst, recurse)


async def _zip_write(
    ctx: Context,
    zname: str,
    entries: dict[str, tuple[zipfile.ZipInfo, bytes]],
    order: list[str],
    _unused: dict[str, Any],
    level: int = 6,
) -> int:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name in order:
            if name not in entries:
                continue
            zi, data = entries[name]
            if zi.compress_type == zipfile.ZIP_DEFLATED:
                zf.writestr(zi, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=level or 6)
            else:
                zf.writestr(zi, data, compress_type=zipfile.ZIP_STORED)
    try:
        ctx.fs.write_bytes(zname, buf.getvalue())
    except OSError as exc:
        await ctx.stderr.write(
            _enc(
                f"zip I/O error: {exc.strerror}\nzip error: Could not "
                f"create output file ({zname})\n"
            )
        )
        return 15
    return 0


_UNZIP_USAGE = """UnZip 6.00 (pocketos). Usage: unzip [-opts[modifiers]] file[.zip] [list]
  -p  extract files to pipe, no messages     -l  list files (short format)
  -t  test compressed archive data           -d  extract files into exdir
  -o  overwrite files WITHOUT prompting      -n  never overwrite existing files
  -q  quiet mode                             -j  junk paths (do not make directories)
  -x  exclude files that follow
"""


def _unzip_args(argv: list[str]) -> tuple[dict[str, Any], list[str], list[str]]:
    flags: dict[str, Any] = {}
    operands: list[str] = []
    excludes: list[str] = []
    i = 0
    in_x = False
    while i < len(argv):
        a = argv[i]
        if a == "--help" or a == "-h":
            flags["help"] = True
        elif a.startswith("-") and len(a) > 1 and not in_x:
            j = 1
            while j < len(a):
                c = a[j]
                if c == "d":
                    rest = a[j + 1 :]
                    if rest:
                        flags["d"] = rest
                    elif i + 1 < len(argv):
                        i += 1
                        flags["d"] = argv[i]
                    else:
                        raise UsageError(
                            "error:  must specify directory to which to extract with -d option", 10
                        )
                    break
                if c == "x":
                    in_x = True
                elif c in "lopqtjnvcaCLXKZ":
                    flags[c] = flags.get(c, 0) + 1
                else:
                    raise UsageError(f"unzip:  unrecognized option -- '{c}'", 10)
                j += 1
        elif in_x:
            if a.startswith("-"):
                in_x = False
                continue
            excludes.append(a)
        else:
            operands.append(a)
        i += 1
    return flags, operands, excludes


def _zip_sanitize(name: str) -> tuple[str, list[str]]:
    """Strip absolute and ``..`` parts like Info-ZIP; returns (name, warnings)."""
    warnings: list[str] = []
    n = name
    if n.startswith("/"):
        warnings.append(f"warning: stripped absolute path spec from {name}")
        n = n.lstrip("/")
    parts = n.split("/")
    if ".." in parts:
        warnings.append(f'warning:  skipped "../" path component(s) in {name}')
        parts = [x for x in parts if x != ".."]
        n = "/".join(parts)
    return n, warnings


@command("unzip")
async def unzip_cmd(ctx: Context) -> int:
    try:
        flags, operands, excludes = _unzip_args(list(ctx.argv[1:]))
    except UsageError as e:
        await ctx.stderr.write(_enc(e.message + "\n"))
        return e.status
    if flags.get("help") or not operands:
        await ctx.out(_UNZIP_USAGE)
        return 0
    zname = operands[0]
    members = operands[1:]
    raw = None
    for cand in (zname, zname + ".zip", zname + ".ZIP"):
        try:
            if ctx.fs.isfile(cand):
                raw = ctx.fs.read_bytes(cand)
                zname = cand
                break
        except OSError:
            continue
    if raw is None:
        await ctx.stderr.write(
            _enc(f"unzip:  cannot find or open {zname}, {zname}.zip or {zname}.ZIP.\n")
        )
        return 9
    try:
        zf = zipfile.ZipFile(io.BytesIO(raw))
    except _ZIP_ERRORS:
        await ctx.out(f"Archive:  {zname}\n")
        await ctx.stderr.write(
            _enc(
                "  End-of-central-directory signature not found.  Either this file is not\n"
                "  a zipfile, or it constitutes one disk of a multi-part archive.  In the\n"
                "  latter case the central directory and zipfile comment will be found on\n"
                f"  the last disk(s) of this archive.\nunzip:  cannot find zipfile directory in "
                f"one of {zname} or\n        {zname}.zip, and cannot find {zname}.ZIP, period.\n"
            )
        )
        return 9
    quiet = int(flags.get("q", 0))
    infos = zf.infolist()
    used: set[str] = set()

    def selected(n: str) -> bool:
        if excludes and any(fnmatch.fnmatchcase(n, x) for x in excludes):
            return False
        if not members:
            return True
        for m in members:
            if n == m or fnmatch.fnmatchcase(n, m):
                used.add(m)
                return True
        return False

    chosen = [i for i in infos if selected(i.filename)]
    status = 0
    with zf:
        if flags.get("l") or flags.get("v"):
            await _unzip_list(ctx, zname, chosen, quiet)
        elif flags.get("p") or flags.get("c"):
            for info in chosen:
                if info.is_dir():
                    continue
                try:
                    async for chunk in _zip_read(ctx, zf, info):
                        await ctx.stdout.write(chunk)
                except TooLarge:
                    await ctx.stderr.write(
                        _enc(
                            f"unzip: {info.filename}: exceeds the file size limit "
                            f"({ctx.limits.max_file_size} bytes)\n"
                        )
                    )
                    status = 2
                except _ZIP_ERRORS as exc:
                    await ctx.stderr.write(_enc(f"unzip: {info.filename}: {exc}\n"))
                    status = 2
        elif flags.get("t"):
            if not quiet:
                await ctx.out(f"Archive:  {zname}\n")
            bad = 0
            for info in chosen:
                try:
                    async for _ in _zip_read(ctx, zf, info):
                        pass
                    if not quiet:
                        await ctx.out(f"    testing: {info.filename.ljust(22)}   OK\n")
                except _ZIP_ERRORS_OR_LIMIT:
                    bad += 1
                    await ctx.out(f"    testing: {info.filename.ljust(22)}  bad CRC\n")
            if bad:
                await ctx.out(f"At least one error was detected in {zname}.\n")
                status = 2
            elif not quiet or quiet < 2:
                await ctx.out(f"No errors detected in compressed data of {zname}.\n")
        else:
            status = await _unzip_extract(ctx, zf, zname, chosen, flags, quiet)
    for m in members:
        if m not in used:
            await ctx.stderr.write(_enc(f"caution: filename not matched:  {m}\n"))
            status = 11
    return status


async def _zip_read(
    ctx: Context, zf: zipfile.ZipFile, info: zipfile.ZipInfo
) -> AsyncIterator[bytes]:
    limit = ctx.limits.max_file_size
    if info.file_size > limit:
        raise TooLarge()
    total = 0
    with zf.open(info) as fh:
        while True:
            chunk = fh.read(OUT_CHUNK)
            if not chunk:
                return
            total += len(chunk)
            if total > limit:
                raise TooLarge()
            ctx.check_killed()
            yield chunk


async def _unzip_list(ctx: Context, zname: str, infos: list[zipfile.ZipInfo], quiet: int) -> None:
    lines: list[str] = []
    if not quiet:
        lines.append(f"Archive:  {zname}")
    lines.append("  Length      Date    Time    Name")
    lines.append("---------  ---------- -----   ----")
    total = 0
    for i in infos:
        y, mo, d, h, mi, _s = i.date_time
        total += i.file_size
        lines.append(f"{i.file_size:9d}  {y:04d}-{mo:02d}-{d:02d} {h:02d}:{mi:02d}   {i.filename}")
    lines.append("---------                     -------")
    n = len(infos)
    lines.append(f"{total:9d}                     {n} file{'s' if n != 1 else ''}")
    await ctx.out("\n".join(lines) + "\n")


async def _unzip_extract(
    ctx: Context,
    zf: zipfile.ZipFile,
    zname: str,
    infos: list[zipfile.ZipInfo],
    flags: dict[str, Any],
    quiet: int,
) -> int:
    dest = flags.get("d")
    out: list[str] = []
    status = 0
    if not quiet:
        await ctx.out(f"Archive:  {zname}\n")
    if dest:
        try:
            ctx.fs.mkdir(dest, exist_ok=True)
        except OSError as exc:
            await ctx.stderr.write(
                _enc(
                    f"checkdir:  cannot create extraction directory: "
                    f"{dest}\n           {exc.strerror}\n"
                )
            )
            return 2
    never = bool(flags.get("n"))
    always = bool(flags.get("o"))
    for info in infos:
        ctx.check_killed()
        name, warns = _zip_sanitize(info.filename)
        for w in warns:
            await ctx.stderr.write(_enc(w + "\n"))
            status = max(status, 1)
        if flags.get("j"):
            if info.is_dir():
                continue
            name = posixpath.basename(name)
        if not name or name in ("/", "."):
            continue
        path = posixpath.join(dest, name) if dest else name
        shown = path
        if _through_symlink(ctx.fs, path.rstrip("/")):
            await ctx.stderr.write(
                _enc(f"error:  cannot create {shown}\n        refusing to follow a symbolic link\n")
            )
            status = max(status, 1)
            continue
        try:
            if info.is_dir():
                if not ctx.fs.isdir(path):
                    ctx.fs.mkdir(path.rstrip("/"), parents=True, exist_ok=True)
                    if not quiet:
                        await ctx.out(f"   creating: {shown}\n")
                continue
            parent = posixpath.dirname(path)
            if parent and not ctx.fs.isdir(parent):
                ctx.fs.mkdir(parent, parents=True, exist_ok=True)
                if not quiet:
                    await ctx.out(f"   creating: {parent}/\n")
            if ctx.fs.lexists(path) and not always:
                if never:
                    continue
                await ctx.stderr.write(
                    _enc(
                        f"replace {shown}? [y]es, [n]o, [A]ll, [N]one, [r]ename:  NULL\n"
                        '(EOF or read error, treating as "[N]one" ...)\n'
                    )
                )
                never = True
                status = max(status, 1)
                continue
            parts: list[bytes] = []
            async for chunk in _zip_read(ctx, zf, info):
                parts.append(chunk)
            data = b"".join(parts)
            if ctx.fs.lexists(path):
                ctx.fs.unlink(path)
            mode = (info.external_attr >> 16) & 0o7777 if info.create_system == 3 else 0o644
            mode = mode or 0o644
            ctx.fs.write_bytes(path, data, mode=mode)
            try:
                ctx.fs.chmod(path, mode & ~0o022 if mode else 0o644)
                ts_ns = int(_utc_from_dos(info.date_time)) * 10**9
                ctx.fs.utime(path, (ts_ns, ts_ns))
            except (OSError, OverflowError, ValueError):
                pass
            if not quiet:
                label = " extracting" if info.compress_type == zipfile.ZIP_STORED else "  inflating"
                out.append(f"{label}: {shown.ljust(22)}  \n")
                await ctx.out(out.pop())
        except TooLarge:
            await ctx.stderr.write(
                _enc(
                    f"error: {shown}: exceeds the file size limit "
                    f"({ctx.limits.max_file_size} bytes)\n"
                )
            )
            status = 2
        except _ZIP_ERRORS[:-1] as exc:
            await ctx.stderr.write(_enc(f"error: {shown}: {exc}\n"))
            status = 2
        except OSError as exc:
            await ctx.stderr.write(_enc(f"error:  cannot create {shown}\n        {exc.strerror}\n"))
            status = 2
    return status


def _utc_from_dos(dt: tuple[int, int, int, int, int, int]) -> float:
    import calendar

    return calendar.timegm((*dt, 0, 0, 0))
