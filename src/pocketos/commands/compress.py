"""gzip/gunzip/zcat, bzip2/bunzip2/bzcat and xz/unxz/xzcat."""

from __future__ import annotations

import posixpath
import stat as _stat
import struct
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pocketos.commands import command
from pocketos.commands._args import Opt, UsageError, parse, report

if TYPE_CHECKING:
    from pocketos.kernel.process import Context

from pocketos.commands._archive import (
    BZIP2,
    CHUNK,
    GZIP,
    XZ,
    Codec,
    Decoder,
    NotFormat,
    TooLarge,
    _enc,
    _gzip_header,
    _parse_gzip_header,
)


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
