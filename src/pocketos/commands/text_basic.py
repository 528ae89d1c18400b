"""cat, head, tail, wc, tee, rev, tac: the basic stream tools."""

from __future__ import annotations

import re
from collections import deque
from typing import TYPE_CHECKING, Any

from pocketos.commands import command
from pocketos.commands._args import Opt, Parsed, UsageError, parse, report
from pocketos.commands._common import drop_front, filter_lines
from pocketos.commands.text_common import (
    close_input,
    decode,
    encode,
    line_batches,
    open_file,
    open_input,
    read_all,
    usage,
)
from pocketos.lib import safe_regex

if TYPE_CHECKING:
    from pocketos.kernel.process import Context
    from pocketos.kernel.streams import InputStream

HELP = Opt("", "help")

_SIZE_RE = re.compile(r"^(\d+)([A-Za-z]*)$")
_POW = {
    "": 0,
    "K": 1,
    "k": 1,
    "M": 2,
    "m": 2,
    "G": 3,
    "g": 3,
    "T": 4,
    "t": 4,
    "P": 5,
    "E": 6,
    "Z": 7,
    "Y": 8,
    "R": 9,
    "Q": 10,
}


def parse_size(text: str) -> int | None:
    """``10``, ``2K``, ``1kB``, ``3MiB``, ``4b`` -> a count, or None when invalid."""
    m = _SIZE_RE.match(text)
    if not m:
        return None
    digits = m.group(1).lstrip("0")
    # past 4,000 digits int() refuses the text; such a count is "more than anything"
    n = int(digits or "0") if len(digits) <= 4000 else (1 << 63) - 1
    suf = m.group(2)
    if not suf:
        return n
    if suf == "b":
        return n * 512
    if suf in ("c", "w"):
        return n * (1 if suf == "c" else 2)
    letter, rest = suf[0], suf[1:]
    if letter not in _POW:
        return None
    p = _POW[letter]
    if rest == "":
        return n * 1024**p
    if rest == "B":
        return n * 1000**p
    if rest == "iB":
        return n * 1024**p
    return None


# --------------------------------------------------------------------------------------- cat


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
    for name in files:
        stream = await open_input(ctx, name)
        if stream is None:
            status = 1
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


# ---------------------------------------------------------------------------------- head/tail


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


# ----------------------------------------------------------------------------------------- wc


def _display_width(text: str) -> int:
    """Columns for -L: tabs to the next multiple of 8; printable chars count 1."""
    col = 0
    for ch in text:
        if ch == "\t":
            col = (col // 8 + 1) * 8
        elif ch.isprintable() and not ("\udc80" <= ch <= "\udcff"):
            col += 1
    return col


_WS = b" \t\n\v\f\r"


@command("wc")
async def wc(ctx: Context) -> int:
    spec = [
        Opt("c", "bytes"),
        Opt("m", "chars"),
        Opt("l", "lines"),
        Opt("w", "words"),
        Opt("L", "max-line-length"),
        Opt("", "total", "required"),
        Opt("", "files0-from", "required"),
        HELP,
    ]
    try:
        p = parse("wc", ctx.argv[1:], spec)
    except UsageError as e:
        return await report(ctx, e)
    if p.flag("help"):
        return await usage(
            ctx,
            "Usage: wc [OPTION]... [FILE]...\n"
            "Print newline, word, and byte counts for each FILE.\n"
            "  -c -m -l -w -L --total=auto|always|only|never",
        )
    sel = [
        p.flag("lines"),
        p.flag("words"),
        p.flag("chars"),
        p.flag("bytes"),
        p.flag("max_line_length"),
    ]
    if not any(sel):
        sel = [True, True, False, True, False]
    total_mode = p.str("total", "auto")
    if total_mode not in ("auto", "always", "only", "never"):
        await ctx.err(f"invalid argument '{total_mode}' for '--total'")
        return 1
    files = list(p.operands)
    f0 = p.str("files0_from")
    if f0 is not None:
        try:
            from pocketos.commands.text_common import read_all

            raw = await read_all(ctx, f0)
        except BrokenPipeError:
            raise
        except OSError as exc:
            await ctx.err(f"cannot open '{f0}' for reading: {exc.strerror}")
            return 1
        files = [decode(x) for x in raw.split(b"\0") if x]
    shown_names = bool(files)
    if not files:
        files = ["-"]
    # column width, as GNU computes it
    if len(files) == 1 and sum(sel) == 1:
        width = 1
    else:
        regular = 0
        minw = 1
        for name in files:
            if name == "-":
                minw = 7
                continue
            try:
                st = ctx.fs.stat(name)
            except OSError:
                continue
            if st.is_file():
                regular += st.st_size
            else:
                minw = 7
        width = max(len(str(regular)), minw)
    utf8 = utf8_locale(ctx.env)
    need_words = sel[1]
    need_chars = sel[2] or sel[4]
    totals = [0, 0, 0, 0, 0]
    status = 0
    rows: list[tuple[list[int], str | None]] = []

    async def emit(vals: list[int], name: str | None) -> None:
        cols = [str(v).rjust(width) for v, s in zip(vals, sel, strict=True) if s]
        if total_mode == "only":
            return
        line = " ".join(cols)
        if name is not None:
            line += " " + name
        await ctx.stdout.write(encode(line + "\n"))

    for name in files:
        stream = await open_input(ctx, name)
        if stream is None:
            status = 1
            continue
        lines = words = chars = nbytes = maxlen = 0
        in_word = False
        pending = b""
        try:
            while True:
                data = await stream.read(65536)
                if not data:
                    break
                ctx.check_killed()
                nbytes += len(data)
                lines += data.count(b"\n")
                if need_words:
                    parts = data.split()
                    if parts:
                        starts_ws = data[0] in _WS
                        words += len(parts)
                        if in_word and not starts_ws:
                            words -= 1
                    in_word = data[-1] not in _WS
                if need_chars:
                    pending += data
                    cut = pending.rfind(b"\n")
                    if cut >= 0:
                        chunk, pending = pending[: cut + 1], pending[cut + 1 :]
                        c, m = _char_stats(chunk, sel[4], utf8)
                        chars += c
                        maxlen = max(maxlen, m)
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
        if pending:
            c, m = _char_stats(pending, sel[4], utf8)
            chars += c
            maxlen = max(maxlen, m)
        vals = [lines, words, chars, nbytes, maxlen]
        for i in range(4):
            totals[i] += vals[i]
        totals[4] = max(totals[4], maxlen)
        rows.append((vals, name if shown_names else None))
        await emit(vals, name if shown_names else None)
    if total_mode == "always" or (total_mode == "auto" and len(files) > 1):
        await emit(totals, "total")
    elif total_mode == "only":
        cols = [str(v) for v, s in zip(totals, sel, strict=True) if s]
        await ctx.stdout.write(encode(" ".join(cols) + "\n"))
    return status


def utf8_locale(env: dict[str, str]) -> bool:
    """Whether the environment selects a UTF-8 locale (otherwise: the C locale, bytes)."""
    loc = env.get("LC_ALL") or env.get("LC_CTYPE") or env.get("LANG") or "C"
    return "utf-8" in loc.lower() or "utf8" in loc.lower()


def _char_stats(chunk: bytes, want_len: bool, utf8: bool = True) -> tuple[int, int]:
    """(characters, longest line width) of whole lines; invalid bytes are not characters."""
    if not utf8:
        best = 0
        if want_len:
            for line in re.split(rb"[\n\r\f]", chunk):
                col = 0
                for c in line:
                    if c == 9:
                        col = (col // 8 + 1) * 8
                    elif 32 <= c < 127:
                        col += 1
                best = max(best, col)
        return len(chunk), best
    text = chunk.decode("utf-8", "surrogateescape")
    chars = (
        len(text) - sum(1 for ch in text if "\udc80" <= ch <= "\udcff")
        if any("\udc80" <= ch <= "\udcff" for ch in text)
        else len(text)
    )
    if not want_len:
        return chars, 0
    best = 0
    for line in re.split(r"[\n\r\f]", text):
        w = (
            _display_width(line)
            if not line.isascii() or "\t" in line
            else sum(1 for ch in line if ch.isprintable())
        )
        if w > best:
            best = w
    return chars, best


# ---------------------------------------------------------------------------------------- tee


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
