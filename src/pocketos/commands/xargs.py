"""``xargs`` (GNU findutils behaviour); commands run through ``ctx.run``."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

from pocketos.commands import command
from pocketos.commands._args import Opt, UsageError, parse, report
from pocketos.commands._fs import (
    q,
    short_keys,
    strerror,
)
from pocketos.kernel.process import Context
from pocketos.kernel.streams import BytesSource, NullInput

XARGS_HELP = """Usage: xargs [OPTION]... COMMAND [INITIAL-ARGS]...
Run COMMAND with arguments INITIAL-ARGS and more arguments read from input.

  -0, --null                   items are separated by a null, not whitespace
  -a, --arg-file=FILE          read arguments from FILE, not standard input
  -d, --delimiter=CHARACTER    items in input stream are separated by CHARACTER
  -E END                       set logical EOF string
  -I R                         same as --replace=R
  -i, --replace[=R]            replace R in INITIAL-ARGS with names read from input
  -L, --max-lines=MAX-LINES    use at most MAX-LINES non-blank input lines per command line
  -n, --max-args=MAX-ARGS      use at most MAX-ARGS arguments per command line
  -P, --max-procs=MAX-PROCS    run at most MAX-PROCS processes at a time
  -r, --no-run-if-empty        if there are no arguments, then do not run COMMAND
  -s, --max-chars=MAX-CHARS    limit length of command line to MAX-CHARS
  -t, --verbose                print commands before executing them
  -x, --exit                   exit if the size (see -s) is exceeded
"""


class XargsError(Exception):
    pass


async def _xargs_items(
    ctx: Context, source: object, mode: str, delim: bytes, eof: str | None
) -> AsyncIterator[tuple[str, bool]]:
    """Yield (item, ends_line) from the input. ``mode``: "ws" (quotes and backslashes),
    "delim" (split on ``delim``) or "lines" (for -I: whole lines, leading blanks dropped)."""
    stream = source
    if mode == "delim":
        buf = b""
        while True:
            chunk = await stream.read(65536)  # type: ignore[attr-defined]
            if not chunk:
                break
            buf += chunk
            *parts, buf = buf.split(delim)
            for part in parts:
                yield part.decode("utf-8", "surrogateescape"), True
        if buf:
            yield buf.decode("utf-8", "surrogateescape"), True
        return
    while True:
        raw = await stream.readline()  # type: ignore[attr-defined]
        if not raw:
            return
        while mode == "ws" and re.search(rb"(?<!\\)(?:\\\\)*\\\n$", raw):
            more = await stream.readline()  # type: ignore[attr-defined]
            if not more:
                break
            raw += more
        line = raw.decode("utf-8", "surrogateescape")
        if line.endswith("\n"):
            line = line[:-1]
        if mode == "lines":
            item = line.lstrip(" \t")
            if eof is not None and item == eof:
                return
            if item:
                yield item, True
            continue
        # whitespace mode with quoting
        items: list[str] = []
        cur: list[str] = []
        have = False
        i = 0
        n = len(line)
        while i < n:
            c = line[i]
            if c in " \t\v\f\r":
                if have:
                    items.append("".join(cur))
                    cur = []
                    have = False
                i += 1
                continue
            if c in "'\"":
                j = line.find(c, i + 1)
                if j < 0:
                    kind = "single" if c == "'" else "double"
                    raise XargsError(
                        f"unmatched {kind} quote; by default quotes are special "
                        "to xargs unless you use the -0 option"
                    )
                cur.append(line[i + 1 : j])
                have = True
                i = j + 1
                continue
            if c == "\\" and i + 1 < n:
                cur.append(line[i + 1])
                have = True
                i += 2
                continue
            cur.append(c)
            have = True
            i += 1
        if have:
            items.append("".join(cur))
        # a line ending in blank continues the logical line for -L
        cont = raw.rstrip(b"\n").endswith((b" ", b"\t"))
        for k, it in enumerate(items):
            if eof is not None and it == eof:
                return
            yield it, (k == len(items) - 1 and not cont)


def _xargs_escape(text: str) -> bytes:
    if len(text) == 1:
        return text.encode("utf-8", "surrogateescape")
    m = re.fullmatch(r"\\(?:([0-7]{1,3})|x([0-9a-fA-F]{1,2})|(.))", text, re.DOTALL)
    if m:
        if m.group(1):
            return bytes([int(m.group(1), 8) & 0xFF])
        if m.group(2):
            return bytes([int(m.group(2), 16)])
        ch = m.group(3)
        return {
            "n": b"\n",
            "t": b"\t",
            "r": b"\r",
            "0": b"\0",
            "\\": b"\\",
            "a": b"\a",
            "b": b"\b",
            "f": b"\f",
            "v": b"\v",
        }.get(ch, ch.encode())
    raise XargsError(
        f"invalid input delimiter specification {text}: the delimiter must be "
        "either a single character or an escape sequence starting with \\."
    )


@command("xargs")
async def xargs(ctx: Context) -> int:
    spec = [
        Opt("0", "null"),
        Opt("a", "arg-file", "required"),
        Opt("d", "delimiter", "required"),
        Opt("E", "", "required", dest="eof"),
        Opt("e", "eof", "optional", dest="eof_old"),
        Opt("I", "", "required", dest="replace_I"),
        Opt("i", "replace", "optional", dest="replace"),
        Opt("L", "max-lines", "required"),
        Opt("l", "", "optional", dest="l_old"),
        Opt("n", "max-args", "required"),
        Opt("P", "max-procs", "required"),
        Opt("r", "no-run-if-empty"),
        Opt("s", "max-chars", "required"),
        Opt("t", "verbose"),
        Opt("x", "exit"),
        Opt("p", "interactive"),
        Opt("o", "open-tty"),
        Opt("", "process-slot-var", "required"),
        Opt("", "show-limits"),
        Opt("", "help"),
    ]
    try:
        p = parse("xargs", ctx.argv[1:], short_keys(spec), stop_at_operand=True)
    except UsageError as e:
        return await report(ctx, e)
    if p.flag("help"):
        await ctx.out(XARGS_HELP)
        return 0
    cmd = p.operands or ["echo"]
    replace: str | None = p.str("replace_I")
    ri = p.get("replace")
    if replace is None and ri is not None:
        replace = ri if isinstance(ri, str) else "{}"
    eof = p.str("eof")
    eo = p.get("eof_old")
    if eof is None and isinstance(eo, str):
        eof = eo
    max_args: int | None = None
    max_lines: int | None = None

    async def bad_num(opt: str, v: str) -> int:
        await ctx.err(f'invalid number "{v}" for -{opt} option')
        return 1

    for key, opt in (("n", "n"), ("L", "L"), ("P", "P"), ("s", "s")):
        v = p.str(key)
        if v is not None and not re.fullmatch(r"\d+", v):
            return await bad_num(opt, v)
    if p.str("n") is not None:
        n_text = (p.str("n") or "0").lstrip("0") or "0"
        max_args = int(n_text) if len(n_text) <= 4000 else (1 << 63) - 1
        if max_args < 1:
            await ctx.err(f"value {max_args} for -n option should be >= 1")
            return 1
    if p.str("L") is not None:
        max_lines = int(p.str("L") or 0)
        if max_lines < 1:
            await ctx.err(f"value {max_lines} for -L option should be >= 1")
            return 1
    lo = p.get("l_old")
    if lo is not None:
        max_lines = int(lo) if isinstance(lo, str) and lo.isdigit() else 1
    # the last of -n/-L/-I given wins, like GNU
    for k, _ in p.order:
        if k == "n":
            max_lines = None if replace is None else max_lines
        elif k in ("L", "l_old"):
            max_args = None
    procs = int(p.str("P") or 1)
    max_chars = int(p.str("s") or 131072)
    if p.str("s") is not None and max_chars < 1:
        await ctx.err(f"value {max_chars} for -s option should be >= 1")
        return 1
    mode = "ws"
    delim = b"\n"
    try:
        if p.flag("0"):
            mode, delim = "delim", b"\0"
        if p.str("d") is not None:
            mode, delim = "delim", _xargs_escape(p.str("d") or "")
    except XargsError as exc:
        await ctx.err(str(exc))
        return 1
    if replace is not None:
        keys = [k for k, _ in p.order]
        last_r = max(i for i, k in enumerate(keys) if k in ("replace_I", "replace"))
        for key, long in (("n", "--max-args"), ("L", "--max-lines")):
            if key in keys[:last_r]:
                await ctx.err(
                    f"warning: options {long} and --replace/-I/-i are mutually "
                    f"exclusive, ignoring previous {long} value"
                )
        if mode == "ws":
            mode = "lines"
        max_lines = 1
        max_args = None
    source: object = ctx.stdin
    argfile = p.str("a")
    if argfile is not None:
        try:
            source = BytesSource(ctx.fs.read_bytes(argfile))
        except OSError as exc:
            await ctx.err(f"Cannot open input file {q(argfile)}: {strerror(exc)}")
            return 1
    status = 0
    stop = False
    running: set[asyncio.Task[int]] = set()
    verbose = p.flag("t")
    base_len = sum(len(a) + 1 for a in cmd)

    async def launch(items: list[str]) -> None:
        nonlocal status, stop
        if replace is not None:
            joined = items[0] if items else ""
            argv = [a.replace(replace, joined) for a in cmd]
        else:
            argv = [*cmd, *items]
        if verbose:
            await ctx.stderr.write((" ".join(argv) + "\n").encode("utf-8", "surrogateescape"))
        if procs == 1:
            code = await ctx.run(argv, stdin=NullInput())
            _account(code)
            return
        while len(running) >= max(procs, 1) if procs else False:
            done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            for t in done:
                running.discard(t)
                _account(t.result())
        task = asyncio.ensure_future(ctx.run(argv, stdin=NullInput()))
        running.add(task)

    def _account(code: int) -> None:
        nonlocal status, stop
        if code == 255:
            stop = True
            status = 124
        elif code in (126, 127):
            stop = True
            status = code
        elif code > 128 and code != 255:
            stop = True
            status = 125
        elif code != 0 and status == 0:
            status = 123

    batch: list[str] = []
    lines_in_batch = 0
    chars = base_len
    ran = False
    try:
        async for item, ends_line in _xargs_items(ctx, source, mode, delim, eof):
            ctx.check_killed()
            if replace is None and base_len + len(item) + 1 > max_chars:
                if batch:
                    await launch(batch)
                for t in list(running):
                    _account(await t)
                await ctx.err("argument line too long")
                return 1
            if replace is None and chars + len(item) + 1 > max_chars and batch:
                await launch(batch)
                ran = True
                batch, lines_in_batch, chars = [], 0, base_len
                if stop:
                    break
            batch.append(item)
            chars += len(item) + 1
            if ends_line:
                lines_in_batch += 1
            full = (max_args is not None and len(batch) >= max_args) or (
                max_lines is not None and lines_in_batch >= max_lines
            )
            if full:
                await launch(batch)
                ran = True
                batch, lines_in_batch, chars = [], 0, base_len
                if stop:
                    break
    except XargsError as exc:
        if batch:
            await launch(batch)
        for t in list(running):
            _account(await t)
        await ctx.err(str(exc))
        return 1
    if not stop and (batch or (not ran and not p.flag("r") and replace is None)):
        await launch(batch)
    for t in list(running):
        _account(await t)
    if stop and status == 124:
        await ctx.err(f"{cmd[0]}: exited with status 255; aborting")
    return status


__all__ = ["xargs"]
