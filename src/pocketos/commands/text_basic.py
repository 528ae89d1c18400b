"""cat, tee, rev, tac: the basic stream tools."""

from __future__ import annotations

import re
import stat as S
from typing import TYPE_CHECKING, Any

from pocketos.commands import command
from pocketos.commands._args import Opt, UsageError, parse, report
from pocketos.commands._common import filter_lines
from pocketos.commands.text_common import (
    close_input,
    decode,
    encode,
    line_batches,
    open_input,
    read_all,
    usage,
)
from pocketos.lib import safe_regex

if TYPE_CHECKING:
    from pocketos.kernel.process import Context
    from pocketos.kernel.streams import InputStream


HELP = Opt("", "help")


def _make_vis(show_nonprinting: bool, show_tabs: bool) -> list[bytes]:
    table: list[bytes] = []
    for c in range(256):
        if c == 10:
            table.append(b"\n")
        elif c == 9:
            table.append(b"^I" if show_tabs else b"\t")
        elif not show_nonprinting:
            table.append(bytes([c]))
        elif c < 32:
            table.append(b"^" + bytes([c + 64]))
        elif c < 127:
            table.append(bytes([c]))
        elif c == 127:
            table.append(b"^?")
        else:
            d = c - 128
            if d < 32:
                table.append(b"M-^" + bytes([d + 64]))
            elif d < 127:
                table.append(b"M-" + bytes([d]))
            else:
                table.append(b"M-^?")
    return table


def _is_output(ctx: Context, name: str, stream: InputStream, out_file: Any) -> bool:
    """Whether ``stream`` reads the regular file ``out_file`` writes, with bytes left to read
    (so ``cat f > f``, which emptied f first, is fine and ``cat f >> f`` is not)."""
    out_st = out_file.fstat()
    if out_st is None or not S.S_ISREG(out_st.st_mode):
        return False
    src = stream.source_file()
    if src is not None:
        in_st, pos = src[0].fstat(), src[1]
    elif name != "-":
        try:
            in_st, pos = ctx.fs.stat(name), 0
        except OSError:
            return False
    else:
        return False
    return (
        in_st is not None
        and (in_st.st_dev, in_st.st_ino) == (out_st.st_dev, out_st.st_ino)
        and pos < out_st.st_size
    )


@command("cat")
async def cat(ctx: Context) -> int:
    spec = [
        Opt("A", "show-all"),
        Opt("b", "number-nonblank"),
        Opt("e"),
        Opt("E", "show-ends"),
        Opt("n", "number"),
        Opt("s", "squeeze-blank"),
        Opt("t"),
        Opt("T", "show-tabs"),
        Opt("u"),
        Opt("v", "show-nonprinting"),
        HELP,
    ]
    try:
        p = parse("cat", ctx.argv[1:], spec)
    except UsageError as e:
        return await report(ctx, e)
    if p.flag("help"):
        return await usage(
            ctx,
            "Usage: cat [OPTION]... [FILE]...\n"
            "Concatenate FILE(s) to standard output.\n"
            "  -A, -b, -e, -E, -n, -s, -t, -T, -u, -v as in GNU cat",
        )
    show_all = p.flag("show_all")
    nonprint = show_all or p.flag("e") or p.flag("t") or p.flag("show_nonprinting")
    ends = show_all or p.flag("e") or p.flag("show_ends")
    tabs = show_all or p.flag("t") or p.flag("show_tabs")
    nonblank = p.flag("number_nonblank")
    number = nonblank or p.flag("number")
    squeeze = p.flag("squeeze_blank")
    plain = not (nonprint or ends or tabs or number or squeeze)
    table = _make_vis(nonprint, tabs) if (nonprint or tabs) else None
    files = p.operands or ["-"]
    status = 0
    at_start = True
    blank_run = 0
    lineno = 0
    out = ctx.stdout
    out_file = out.target_file()
    for name in files:
        stream = await open_input(ctx, name)
        if stream is None:
            status = 1
            continue
        if out_file is not None and _is_output(ctx, name, stream, out_file):
            # GNU cat: copying a file onto its own unread part would never end
            await ctx.err(f"{name}: input file is output file")
            status = 1
            close_input(ctx, stream)
            continue
        try:
            if plain:
                while True:
                    data = await stream.read(65536)
                    if not data:
                        break
                    await out.write(data)
                continue
            async for batch in line_batches(stream):
                ctx.check_killed()
                parts: list[bytes] = []
                for seg in batch:
                    has_nl = seg.endswith(b"\n")
                    body = seg[:-1] if has_nl else seg
                    if at_start and has_nl and not body:
                        blank_run += 1
                        if squeeze and blank_run > 1:
                            continue
                    elif at_start:
                        blank_run = 0
                    if at_start and number and not (nonblank and not body):
                        lineno += 1
                        parts.append(b"%6d\t" % lineno)
                    cr = ends and has_nl and body.endswith(b"\r") and not nonprint
                    if cr:
                        body = body[:-1]
                    if table is not None:
                        body = b"".join([table[c] for c in body])
                    parts.append(body + b"^M" if cr else body)
                    if has_nl:
                        parts.append(b"$\n" if ends else b"\n")
                    at_start = has_nl
                if parts:
                    await out.write(b"".join(parts))
        except IsADirectoryError:
            await ctx.err(f"{name}: Is a directory")
            status = 1
        except BrokenPipeError:
            raise
        except OSError as exc:
            await ctx.err(f"{name}: {exc.strerror}")
            status = 1
        finally:
            close_input(ctx, stream)
    return status


@command("tee")
async def tee(ctx: Context) -> int:
    spec = [
        Opt("a", "append"),
        Opt("i", "ignore-interrupts"),
        Opt("p"),
        Opt("", "output-error", "optional"),
        HELP,
    ]
    try:
        p = parse("tee", ctx.argv[1:], spec)
    except UsageError as e:
        return await report(ctx, e)
    if p.flag("help"):
        return await usage(
            ctx,
            "Usage: tee [OPTION]... [FILE]...\n"
            "Copy standard input to each FILE, and also to standard output.\n"
            "  -a, --append  append to the given FILEs, do not overwrite",
        )
    mode = "ab" if p.flag("append") else "wb"
    status = 0
    handles: list[tuple[str, Any]] = []
    for name in p.operands:
        try:
            handles.append((name, ctx.fs.open(name, mode)))
        except BrokenPipeError:
            raise
        except OSError as exc:
            await ctx.err(f"{name}: {exc.strerror}")
            status = 1
    stdout_ok = True
    try:
        while True:
            data = await ctx.stdin.read(65536)
            if not data:
                break
            for i, (name, h) in enumerate(handles):
                if h is None:
                    continue
                try:
                    h.write(data)
                except BrokenPipeError:
                    raise
                except OSError as exc:
                    await ctx.err(f"{name}: {exc.strerror}")
                    status = 1
                    handles[i] = (name, None)
            if stdout_ok:
                await ctx.stdout.write(data)
    finally:
        for _, h in handles:
            if h is not None:
                h.close()
    return status


# ------------------------------------------------------------------------------------ rev/tac


@command("rev")
async def rev(ctx: Context) -> int:
    try:
        p = parse("rev", ctx.argv[1:], [Opt("0", "zero"), HELP])
    except UsageError as e:
        return await report(ctx, e)
    if p.flag("help"):
        return await usage(
            ctx,
            "Usage: rev [options] [file ...]\n"
            "Reverse lines characterwise.\n  -0, --zero  zero termination",
        )
    sep = b"\0" if p.flag("zero") else b"\n"

    def reverse(line: bytes) -> bytes:
        has = line.endswith(sep)
        body = line[:-1] if has else line
        return encode(decode(body)[::-1]) + (sep if has else b"")

    return await filter_lines(
        ctx, p.operands, reverse, sep, open_prefix="cannot open ", read_errors=True
    )


@command("tac")
async def tac(ctx: Context) -> int:
    spec = [Opt("b", "before"), Opt("r", "regex"), Opt("s", "separator", "required"), HELP]
    try:
        p = parse("tac", ctx.argv[1:], spec)
    except UsageError as e:
        return await report(ctx, e)
    if p.flag("help"):
        return await usage(
            ctx,
            "Usage: tac [OPTION]... [FILE]...\n"
            "Write each FILE to standard output, last line first.\n"
            "  -b  -r  -s STRING",
        )
    sep_s = p.str("separator", "\n") or ""
    if sep_s == "":
        sep_s = "\0"
    sep = encode(sep_s)
    before = p.flag("before")
    status = 0
    for name in p.operands or ["-"]:
        try:
            data = await read_all(ctx, name)
        except BrokenPipeError:
            raise
        except OSError as exc:
            if isinstance(exc, IsADirectoryError):
                await ctx.err(f"{name}: read error: Is a directory")
            else:
                await ctx.err(f"failed to open '{name}' for reading: {exc.strerror}")
            status = 1
            continue
        if p.flag("regex"):
            try:
                rx = safe_regex.compile(sep)
            except re.error:
                await ctx.err(f"invalid regular expression: {sep_s}")
                return 1
            pieces = _split_regex(data, rx, before)
        else:
            pieces = _split_plain(data, sep, before)
        pieces.reverse()
        await ctx.stdout.write(b"".join(pieces))
    return status


def _split_plain(data: bytes, sep: bytes, before: bool) -> list[bytes]:
    if not data:
        return []
    parts = data.split(sep)
    if before:
        out = [parts[0]] if parts[0] else []
        out += [sep + x for x in parts[1:]]
        return out
    out = [x + sep for x in parts[:-1]]
    if parts[-1]:
        out.append(parts[-1])
    return out


def _split_regex(data: bytes, rx: safe_regex.SafePattern, before: bool) -> list[bytes]:
    out: list[bytes] = []
    pos = 0
    for m in rx.finditer(data):
        if m.end() == m.start():
            continue
        if before:
            if m.start() > pos or out or pos:
                out.append(data[pos : m.start()])
            pos = m.start()
        else:
            out.append(data[pos : m.end()])
            pos = m.end()
    if pos < len(data):
        out.append(data[pos:])
    return [x for x in out if x]
