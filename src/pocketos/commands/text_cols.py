"""nl, paste, fold: number lines, join lines side by side, wrap long lines."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from pocketos.commands import command
from pocketos.commands._args import Opt, UsageError, parse, report
from pocketos.commands._common import (
    filter_batches,
    filter_lines,
    leading_number_option,
)
from pocketos.commands.text_common import (
    close_input,
    encode,
    open_file,
    usage,
)
from pocketos.lib import safe_regex

if TYPE_CHECKING:
    from pocketos.kernel.process import Context
    from pocketos.kernel.streams import InputStream


HELP = Opt("", "help")


@command("nl")
async def nl(ctx: Context) -> int:
    spec = [
        Opt("b", "body-numbering", "required"),
        Opt("d", "section-delimiter", "required"),
        Opt("f", "footer-numbering", "required"),
        Opt("h", "header-numbering", "required"),
        Opt("i", "line-increment", "required"),
        Opt("l", "join-blank-lines", "required"),
        Opt("n", "number-format", "required"),
        Opt("p", "no-renumber"),
        Opt("s", "number-separator", "required"),
        Opt("v", "starting-line-number", "required"),
        Opt("w", "number-width", "required"),
        HELP,
    ]
    try:
        p = parse("nl", ctx.argv[1:], spec)
    except UsageError as e:
        return await report(ctx, e)
    if p.flag("help"):
        return await usage(
            ctx,
            "Usage: nl [OPTION]... [FILE]...\n"
            "Write each FILE to standard output, with line numbers added.\n"
            "  -b STYLE -h STYLE -f STYLE -n ln|rn|rz -w N -s STR -v N -i N "
            "-l N -d CC -p",
        )
    styles: dict[str, tuple[str, safe_regex.SafePattern | None]] = {}
    for key, default in (
        ("body_numbering", "t"),
        ("header_numbering", "n"),
        ("footer_numbering", "n"),
    ):
        st = p.str(key, default) or default
        if st not in ("a", "t", "n") and not st.startswith("p"):
            await ctx.err(f"invalid {key.split('_')[0]} numbering style: '{st}'")
            return 1
        if st.startswith("p"):
            try:
                styles[key] = ("p", safe_regex.compile(encode(st[1:])))
            except re.error:
                await ctx.err(f"invalid regular expression: {st[1:]}")
                return 1
        else:
            styles[key] = (st, None)
    fmt = p.str("number_format", "rn") or "rn"
    if fmt not in ("ln", "rn", "rz"):
        await ctx.err(f"invalid line numbering format: '{fmt}'")
        return 1
    nums = {}
    for key, default, label in (
        ("number_width", "6", "line number field width"),
        ("line_increment", "1", "line number increment"),
        ("starting_line_number", "1", "starting line number"),
        ("join_blank_lines", "1", "line number of blank lines"),
    ):
        v = p.str(key, default) or default
        if not re.fullmatch(r"-?\d{1,4000}", v) or (
            key == "number_width" and not (0 < int(v) <= ctx.limits.max_output_bytes)
        ):
            await ctx.err(f"invalid {label}: '{v}'")
            return 1
        nums[key] = int(v)
    width = nums["number_width"]
    incr = nums["line_increment"]
    start = nums["starting_line_number"]
    sep = encode(p.str("number_separator", "\t") or "")
    delim = encode(p.str("section_delimiter", "\\:") or "")
    if len(delim) == 1:
        delim += b":"
    no_renumber = p.flag("no_renumber")
    lineno = start
    blank_join = nums["join_blank_lines"]
    blanks = 0
    section = "body_numbering"
    pad = b" " * (width + len(sep))

    def numtxt(n: int) -> bytes:
        s = str(n)
        if fmt == "ln":
            return s.ljust(width).encode()
        if fmt == "rz":
            if n < 0:
                return ("-" + s[1:].rjust(width - 1, "0")).encode()
            return s.rjust(width, "0").encode()
        return s.rjust(width).encode()

    def number_batch(batch: list[bytes]) -> bytes:
        nonlocal lineno, blanks, section
        out: list[bytes] = []
        for line in batch:
            body = line[:-1] if line.endswith(b"\n") else line
            if delim and body in (delim * 3, delim * 2, delim):
                section = {3: "header_numbering", 2: "body_numbering", 1: "footer_numbering"}[
                    len(body) // len(delim)
                ]
                if section == "header_numbering" and not no_renumber:
                    lineno = start
                out.append(b"\n")
                continue
            style, rx = styles[section]
            if style == "a":
                if body == b"":
                    blanks += 1
                    number = blanks >= blank_join
                    if number:
                        blanks = 0
                else:
                    blanks = 0
                    number = True
            elif style == "t":
                number = body != b""
            elif style == "n":
                number = False
            else:
                assert rx is not None
                number = rx.search(body) is not None
            if not line.endswith(b"\n"):
                line += b"\n"
            if number:
                out.append(numtxt(lineno) + sep + line)
                lineno += incr
            else:
                out.append(pad + line)
        return b"".join(out)

    return await filter_batches(ctx, p.operands, number_batch)


# ------------------------------------------------------------------------------------- paste


def _paste_delims(text: str) -> list[bytes]:
    out: list[bytes] = []
    b = encode(text)
    i = 0
    while i < len(b):
        c = b[i]
        if c == 92 and i + 1 < len(b):
            n = chr(b[i + 1])
            out.append(
                {
                    "n": b"\n",
                    "t": b"\t",
                    "\\": b"\\",
                    "0": b"",
                    "b": b"\b",
                    "f": b"\f",
                    "r": b"\r",
                    "v": b"\v",
                }.get(n, bytes([b[i + 1]]))
            )
            i += 2
            continue
        out.append(bytes([c]))
        i += 1
    return out


@command("paste")
async def paste(ctx: Context) -> int:
    spec = [
        Opt("d", "delimiters", "required"),
        Opt("s", "serial"),
        Opt("z", "zero-terminated"),
        HELP,
    ]
    try:
        p = parse("paste", ctx.argv[1:], spec)
    except UsageError as e:
        return await report(ctx, e)
    if p.flag("help"):
        return await usage(
            ctx,
            "Usage: paste [OPTION]... [FILE]...\n"
            "Write lines consisting of the sequentially corresponding lines "
            "from each FILE.\n  -d LIST -s -z",
        )
    dl = p.str("delimiters")
    delims = _paste_delims(dl) if dl is not None else [b"\t"]
    if dl is not None and dl.endswith("\\") and not dl.endswith("\\\\"):
        await ctx.err(f"delimiter list ends with an unescaped backslash: {dl}")
        return 1
    if not delims:
        delims = [b""]
    sep = b"\0" if p.flag("zero_terminated") else b"\n"
    names = p.operands or ["-"]
    streams: list[InputStream | None] = []
    status = 0
    for name in names:
        try:
            streams.append(open_file(ctx, name))
        except BrokenPipeError:
            raise
        except OSError as exc:
            await ctx.err(f"{name}: {exc.strerror}")
            return 1
    try:
        if p.flag("serial"):
            for st in streams:
                assert st is not None
                data = await st.read(-1)
                lines = data.split(sep)
                if lines and lines[-1] == b"":
                    lines.pop()
                if not lines:
                    await ctx.stdout.write(sep)
                    continue
                parts = [lines[0]]
                for k, ln in enumerate(lines[1:]):
                    parts.append(delims[k % len(delims)])
                    parts.append(ln)
                await ctx.stdout.write(b"".join(parts) + sep)
            return status
        live = [True] * len(streams)
        while True:
            ctx.check_killed()
            row: list[bytes] = []
            got = False
            for k, st in enumerate(streams):
                line = b""
                if live[k] and st is not None:
                    line = await st.readuntil(sep)
                    if not line:
                        live[k] = False
                    else:
                        got = True
                        if line.endswith(sep):
                            line = line[:-1]
                row.append(line)
            if not got:
                break
            parts = [row[0]]
            for k, cell in enumerate(row[1:]):
                parts.append(delims[k % len(delims)])
                parts.append(cell)
            await ctx.stdout.write(b"".join(parts) + sep)
    finally:
        for st in streams:
            if st is not None:
                close_input(ctx, st)
    return status


# -------------------------------------------------------------------------------------- fold


@command("fold")
async def fold(ctx: Context) -> int:
    spec = [
        Opt("b", "bytes"),
        Opt("c", "characters"),
        Opt("s", "spaces"),
        Opt("w", "width", "required"),
        HELP,
    ]
    args = leading_number_option(ctx.argv[1:], "w")
    try:
        p = parse("fold", args, spec)
    except UsageError as e:
        return await report(ctx, e)
    if p.flag("help"):
        return await usage(
            ctx,
            "Usage: fold [OPTION]... [FILE]...\n"
            "Wrap input lines in each FILE, writing to standard output.\n"
            "  -b -s -w WIDTH",
        )
    ws = p.str("width", "80") or "80"
    if not ws.isdigit() or len(ws) > 4000 or int(ws) < 1:
        await ctx.err(f"invalid number of columns: '{ws}'")
        return 1
    width = int(ws)
    count_bytes = p.flag("bytes")
    spaces = p.flag("spaces")

    def adv(col: int, c: int) -> int:
        if count_bytes:
            return col + 1
        if c == 8:
            return max(col - 1, 0)
        if c == 13:
            return 0
        if c == 9:
            return col + 8 - col % 8
        return col + 1

    def fold_line(line: bytes) -> bytes:
        has_nl = line.endswith(b"\n")
        body = line[:-1] if has_nl else line
        out = bytearray()
        buf = bytearray()
        col = 0
        for c in body:
            ncol = adv(col, c)
            if ncol > width and not (not count_bytes and c in (8, 13)):
                if spaces:
                    idx = -1
                    for k in range(len(buf) - 1, -1, -1):
                        if buf[k] in (32, 9):
                            idx = k
                            break
                    if idx >= 0:
                        out += buf[: idx + 1] + b"\n"
                        buf = buf[idx + 1 :]
                        col = 0
                        for b2 in buf:
                            col = adv(col, b2)
                        ncol = adv(col, c)
                        if ncol <= width:
                            buf.append(c)
                            col = ncol
                            continue
                if buf:
                    out += buf + b"\n"
                buf = bytearray()
                col = 0
                ncol = adv(col, c)
            buf.append(c)
            col = ncol
        out += buf
        if has_nl:
            out += b"\n"
        return bytes(out)

    return await filter_lines(ctx, p.operands, fold_line)
