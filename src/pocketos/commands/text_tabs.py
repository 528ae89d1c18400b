"""expand and unexpand: convert between tabs and spaces at tab stops."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from pocketos.commands import command
from pocketos.commands._args import Opt, Parsed, UsageError, parse, report
from pocketos.commands._common import (
    filter_lines,
)
from pocketos.commands.text_common import (
    usage,
)

if TYPE_CHECKING:
    from pocketos.kernel.process import Context


HELP = Opt("", "help")


def _parse_tabs(specs: list[str]) -> tuple[list[int], int] | str:
    """Returns (explicit stops, repeat increment) or an error message."""
    stops: list[int] = []
    for s in specs:
        for part in re.split(r"[ ,]+", s.strip()):
            if not part:
                continue
            if not part.isdigit():
                return f"tab size contains invalid character(s): '{part}'"
            if len(part) > 18:
                return f"tab stop is too large '{part}'"
            stops.append(int(part))
    if not stops:
        return [], 8
    if len(stops) == 1:
        if stops[0] == 0:
            return "tab size cannot be 0"
        return [], stops[0]
    for a, b in zip(stops, stops[1:], strict=False):
        if b <= a:
            return "tab sizes must be ascending"
    return stops, 0


def _next_stop(col: int, stops: list[int], inc: int) -> int:
    if inc:
        return col + inc - col % inc
    for s in stops:
        if s > col:
            return s
    return col + 1


def _tab_args(argv: list[str]) -> list[str]:
    out = []
    for a in argv:
        if re.fullmatch(r"-\d+(,\d+)*", a):
            out += ["-t", a[1:]]
        else:
            out.append(a)
    return out


async def _tab_command(
    ctx: Context, name: str, spec: list[Opt], help_text: str
) -> tuple[Parsed, list[int], int] | int:
    """Parse expand/unexpand options (``spec`` plus -t and --help): (parsed options, tab
    stops, repeat increment), or the exit status once help or an error is printed."""
    try:
        p = parse(
            name,
            _tab_args(ctx.argv[1:]),
            [*spec, Opt("t", "tabs", "required", multiple=True), HELP],
        )
    except UsageError as e:
        return await report(ctx, e)
    if p.flag("help"):
        return await usage(ctx, help_text)
    parsed = _parse_tabs(p.list("tabs"))
    if isinstance(parsed, str):
        await ctx.err(parsed)
        return 1
    return p, parsed[0], parsed[1]


@command("expand")
async def expand(ctx: Context) -> int:
    got = await _tab_command(
        ctx,
        "expand",
        [Opt("i", "initial")],
        "Usage: expand [OPTION]... [FILE]...\nConvert tabs in each FILE to spaces.\n  -i -t N|LIST",
    )
    if isinstance(got, int):
        return got
    p, stops, inc = got
    initial = p.flag("initial")

    def conv(line: bytes) -> bytes:
        if b"\t" not in line:
            return line
        out = bytearray()
        col = 0
        leading = True
        for c in line:
            if c == 9 and (leading or not initial):
                nxt = _next_stop(col, stops, inc)
                out += b" " * (nxt - col)
                col = nxt
                continue
            if c == 8:
                col = max(col - 1, 0)
            elif c == 10:
                col = 0
                leading = True
            else:
                col += 1
            if c not in (32, 9, 10):
                leading = False
            out.append(c)
        return bytes(out)

    return await filter_lines(ctx, p.operands, conv)


@command("unexpand")
async def unexpand(ctx: Context) -> int:
    got = await _tab_command(
        ctx,
        "unexpand",
        [Opt("a", "all"), Opt("", "first-only")],
        "Usage: unexpand [OPTION]... [FILE]...\n"
        "Convert blanks in each FILE to tabs.\n"
        "  -a --first-only -t N|LIST",
    )
    if isinstance(got, int):
        return got
    p, stops, inc = got
    all_blanks = (p.flag("all") or bool(p.list("tabs"))) and not p.flag("first_only")

    def run_out(start: int, end: int, only_spaces: bool, raw: bytes) -> bytes:
        res = bytearray()
        cur = start
        while True:
            if not inc and (not stops or cur >= stops[-1]):
                break
            nxt = _next_stop(cur, stops, inc)
            if nxt > end:
                break
            if nxt - cur == 1 and only_spaces and (end > nxt or len(raw) == 1):
                res.append(32)
            else:
                res.append(9)
            cur = nxt
        if cur == start:
            return raw
        return bytes(res) + b" " * (end - cur)

    def conv(line: bytes) -> bytes:
        out = bytearray()
        col = 0
        i = 0
        n = len(line)
        leading = True
        while i < n:
            c = line[i]
            if c in (32, 9) and (leading or all_blanks):
                j = i
                start = col
                while j < n and line[j] in (32, 9):
                    col = _next_stop(col, stops, inc) if line[j] == 9 else col + 1
                    j += 1
                raw = line[i:j]
                out += run_out(start, col, 9 not in raw, raw)
                i = j
                continue
            out.append(c)
            if c == 8:
                col = max(col - 1, 0)
            elif c == 10:
                col = 0
                leading = True
                i += 1
                continue
            else:
                col += 1
            leading = False
            i += 1
        return bytes(out)

    return await filter_lines(ctx, p.operands, conv)
