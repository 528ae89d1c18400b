"""head and tail: the first or last lines or bytes of each input."""

from __future__ import annotations

import re
from collections import deque
from typing import TYPE_CHECKING

from pocketos.commands import command
from pocketos.commands._args import Opt, Parsed, UsageError, parse, report
from pocketos.commands._common import drop_front, parse_size
from pocketos.commands.text_common import (
    close_input,
    encode,
    line_batches,
    open_file,
    usage,
)

if TYPE_CHECKING:
    from pocketos.kernel.process import Context
    from pocketos.kernel.streams import InputStream


HELP = Opt("", "help")


def _legacy_count(args: list[str], allow_plus: bool) -> list[str]:
    """Rewrite ``-5``/``-5c``/``+5`` (first argument only) into ``-n``/``-c`` options."""
    if not args:
        return args
    a = args[0]
    m = re.match(r"^([-+])(\d+)([bkmcl]?)([fqvz]*)$", a)
    if not m or (m.group(1) == "+" and not allow_plus):
        return args
    sign, num, unit, extra = m.groups()
    val = ("+" if sign == "+" else "") + num
    if unit == "c":
        new = ["-c", val]
    elif unit == "b":
        new = ["-c", val + "b"]
    elif unit in ("k", "m"):
        new = ["-c", val + unit.upper()]
    else:
        new = ["-n", val]
    new += [f"-{ch}" for ch in extra]
    return new + args[1:]


def _count(text: str) -> tuple[str, int] | None:
    """Split a -n/-c value into sign (``""``, ``-``, ``+``) and count."""
    sign = ""
    if text[:1] in ("-", "+"):
        sign, text = text[0], text[1:]
    n = parse_size(text)
    if n is None:
        return None
    return sign, n


async def _header(ctx: Context, name: str, first: bool) -> None:
    shown = "standard input" if name == "-" else name
    await ctx.stdout.write(encode(("" if first else "\n") + f"==> {shown} <==\n"))


async def _count_option(ctx: Context, p: Parsed) -> tuple[str, str, int] | None:
    """The last of -c/-n (default ``-n 10``) as (``c`` or ``n``, sign, count); None once
    an invalid count is reported."""
    mode = "n"
    val = "10"
    for k, v in p.order:
        if k == "bytes":
            mode, val = "c", str(v)
        elif k == "lines":
            mode, val = "n", str(v)
    parsed = _count(val)
    if parsed is None:
        what = "bytes" if mode == "c" else "lines"
        await ctx.err(f"invalid number of {what}: '{val}'")
        return None
    return mode, parsed[0], parsed[1]


def _want_headers(p: Parsed, files: list[str]) -> bool:
    """Whether ``==> NAME <==`` headers are printed (the last of -q/-v wins)."""
    if p.flag("verbose") and p.flag("quiet"):
        return [k for k, _ in p.order if k in ("quiet", "verbose")][-1] == "verbose"
    return (len(files) > 1 or p.flag("verbose")) and not p.flag("quiet")


async def _open_with_header(
    ctx: Context, name: str, headers: bool, first: bool
) -> tuple[InputStream | None, bool]:
    """Open ``name`` for head/tail, printing its header when ``headers``; returns the
    stream (None once the error is reported) and the new value of ``first``."""
    try:
        stream = open_file(ctx, name)
    except IsADirectoryError:
        if headers:
            await _header(ctx, name, first)
            first = False
        await ctx.err(f"error reading '{name}': Is a directory")
        return None, first
    except BrokenPipeError:
        raise
    except OSError as exc:
        await ctx.err(f"cannot open '{name}' for reading: {exc.strerror}")
        return None, first
    if headers:
        await _header(ctx, name, first)
    return stream, False


@command("head")
async def head(ctx: Context) -> int:
    spec = [
        Opt("c", "bytes", "required"),
        Opt("n", "lines", "required"),
        Opt("q", "quiet"),
        Opt("", "silent", dest="quiet"),
        Opt("v", "verbose"),
        Opt("z", "zero-terminated"),
        HELP,
    ]
    try:
        p = parse("head", _legacy_count(ctx.argv[1:], False), spec)
    except UsageError as e:
        return await report(ctx, e)
    if p.flag("help"):
        return await usage(
            ctx,
            "Usage: head [OPTION]... [FILE]...\n"
            "Print the first 10 lines of each FILE to standard output.\n"
            "  -c [-]NUM  -n [-]NUM  -q  -v  -z",
        )
    counted = await _count_option(ctx, p)
    if counted is None:
        return 1
    mode, sign, n = counted
    all_but = sign == "-"
    sep = b"\0" if p.flag("zero_terminated") else b"\n"
    files = p.operands or ["-"]
    headers = _want_headers(p, files)
    status = 0
    first = True
    for name in files:
        stream, first = await _open_with_header(ctx, name, headers, first)
        if stream is None:
            status = 1
            continue
        try:
            if mode == "c":
                await _head_bytes(ctx, stream, n, all_but)
            else:
                await _head_lines(ctx, stream, n, all_but, sep)
        finally:
            close_input(ctx, stream)
    return status


async def _head_bytes(ctx: Context, stream: InputStream, n: int, all_but: bool) -> None:
    out = ctx.stdout
    if not all_but:
        left = n
        while left > 0:
            data = (await stream.read(min(left, 65536)))[:left]
            if not data:
                break
            left -= len(data)
            await out.write(data)
        return
    held = bytearray()
    while True:
        data = await stream.read(65536)
        if not data:
            break
        held += data
        if len(held) > n:
            cut = len(held) - n
            await out.write(bytes(held[:cut]))
            del held[:cut]


async def _head_lines(ctx: Context, stream: InputStream, n: int, all_but: bool, sep: bytes) -> None:
    out = ctx.stdout
    if not all_but:
        left = n
        if left <= 0:
            return
        async for batch in line_batches(stream, sep):
            if len(batch) >= left:
                await out.write(b"".join(batch[:left]))
                return
            left -= len(batch)
            await out.write(b"".join(batch))
        return
    held: deque[bytes] = deque()
    async for batch in line_batches(stream, sep):
        ctx.check_killed()
        held.extend(batch)
        if len(held) > n:
            emit = [held.popleft() for _ in range(len(held) - n)]
            await out.write(b"".join(emit))


@command("tail")
async def tail(ctx: Context) -> int:
    spec = [
        Opt("c", "bytes", "required"),
        Opt("n", "lines", "required"),
        Opt("q", "quiet"),
        Opt("", "silent", dest="quiet"),
        Opt("v", "verbose"),
        Opt("z", "zero-terminated"),
        Opt("f", "follow", "optional"),
        Opt("F"),
        Opt("s", "sleep-interval", "required"),
        Opt("", "pid", "required"),
        Opt("", "retry"),
        HELP,
    ]
    try:
        p = parse("tail", _legacy_count(ctx.argv[1:], True), spec)
    except UsageError as e:
        return await report(ctx, e)
    if p.flag("help"):
        return await usage(
            ctx,
            "Usage: tail [OPTION]... [FILE]...\n"
            "Print the last 10 lines of each FILE to standard output.\n"
            "  -c [+]NUM  -n [+]NUM  -q  -v  -z  (-f is not supported)",
        )
    if p.flag("follow") or p.flag("F"):
        await ctx.err("option --follow (-f) is not supported in this environment")
        return 1
    counted = await _count_option(ctx, p)
    if counted is None:
        return 1
    mode, sign, n = counted
    from_start = sign == "+"
    sep = b"\0" if p.flag("zero_terminated") else b"\n"
    files = p.operands or ["-"]
    headers = _want_headers(p, files)
    status = 0
    first = True
    out = ctx.stdout
    for name in files:
        stream, first = await _open_with_header(ctx, name, headers, first)
        if stream is None:
            status = 1
            continue
        try:
            if mode == "c":
                if from_start:
                    skip = max(n - 1, 0)
                    while True:
                        data = await stream.read(65536)
                        if not data:
                            break
                        if skip:
                            data, skip = drop_front(data, skip)
                            if not data:
                                continue
                        await out.write(data)
                else:
                    data = await stream.read(-1)
                    if n:
                        await out.write(data[-n:])
            elif from_start:
                skip = max(n - 1, 0)
                async for batch in line_batches(stream, sep):
                    ctx.check_killed()
                    if skip:
                        batch, skip = drop_front(batch, skip)
                        if not batch:
                            continue
                    await out.write(b"".join(batch))
            else:
                ring: deque[bytes] = deque(maxlen=n) if n else deque(maxlen=0)
                async for batch in line_batches(stream, sep):
                    ctx.check_killed()
                    ring.extend(batch)
                await out.write(b"".join(ring))
        finally:
            close_input(ctx, stream)
    return status
