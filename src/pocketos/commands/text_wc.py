"""wc: count lines, words, characters, bytes and the longest line's width."""

from __future__ import annotations

import re
import stat as S
from typing import TYPE_CHECKING

from pocketos.commands import command
from pocketos.commands._args import Opt, UsageError, parse, report
from pocketos.commands.text_common import (
    close_input,
    decode,
    encode,
    open_file,
    usage,
)

if TYPE_CHECKING:
    from pocketos.kernel.fs.api import StatResult
    from pocketos.kernel.process import Context
    from pocketos.kernel.streams import InputStream


HELP = Opt("", "help")


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


#: wc's options (parse() only reads them: one list for every call)
_SPEC = [
    Opt("c", "bytes"),
    Opt("m", "chars"),
    Opt("l", "lines"),
    Opt("w", "words"),
    Opt("L", "max-line-length"),
    Opt("", "total", "required"),
    Opt("", "files0-from", "required"),
    HELP,
]


@command("wc")
async def wc(ctx: Context) -> int:
    argv = ctx.argv
    if len(argv) == 2 and argv[1] in _SHORT_ONE_COLUMN:
        # the common ``... | wc -l``, ``$(wc -l < f)`` (or -c, -w) needs no option parser
        return await _one_column(ctx, _SHORT_ONE_COLUMN[argv[1]])
    try:
        p = parse("wc", argv[1:], _SPEC)
    except UsageError as e:
        return await report(ctx, e)
    opts = p.opts
    if len(opts) == 1 and not p.operands:
        col = _ONE_COLUMN.get(next(iter(opts)))
        if col is not None:
            return await _one_column(ctx, col)
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
    names_from_stream = False
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
        # GNU stats the names it read whole from a regular file; names from a pipe are
        # counted as they come, with no width worked out ahead
        names_from_stream = not _is_regular(ctx, f0)
    shown_names = bool(files)
    if not files:
        files = ["-"]
    width = _number_width(ctx, files, sum(sel), names_from_stream)
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
        try:
            stream: InputStream | None = open_file(ctx, name)
        except BrokenPipeError:
            raise
        except IsADirectoryError:
            # GNU opens a directory, fails to read it and still prints its row of zeros
            await ctx.err(f"{name}: Is a directory")
            stream = None
        except OSError as exc:
            await ctx.err(f"{name}: {exc.strerror or exc}")
            status = 1
            continue
        if stream is None:
            vals, ok = [0, 0, 0, 0, 0], False
        else:
            vals, ok = await _count(ctx, name, stream, need_words, need_chars, sel[4], utf8)
        if not ok:
            status = 1
        for i in range(4):
            totals[i] += vals[i]
        totals[4] = max(totals[4], vals[4])
        rows.append((vals, name if shown_names else None))
        await emit(vals, name if shown_names else None)
    if total_mode == "always" or (total_mode == "auto" and len(files) > 1):
        await emit(totals, "total")
    elif total_mode == "only":
        cols = [str(v) for v, s in zip(totals, sel, strict=True) if s]
        await ctx.stdout.write(encode(" ".join(cols) + "\n"))
    return status


def _is_regular(ctx: Context, name: str) -> bool:
    """Whether ``name`` (``-``: stdin) is a regular file, following symlinks."""
    st = _stat(ctx, name)
    return st is not None and S.S_ISREG(st.st_mode)


def _stat(ctx: Context, name: str) -> StatResult | None:
    """The stat of ``name`` (``-``: of the file stdin reads), or None when it cannot be had
    (stdin is a pipe, a value or a device with no VM file behind it)."""
    if name == "-":
        src = ctx.stdin.source_file()
        return src[0].fstat() if src is not None else None
    try:
        return ctx.fs.stat(name)
    except OSError:
        return None


def _number_width(ctx: Context, files: list[str], ncols: int, names_from_stream: bool) -> int:
    """The width of every count column, as GNU wc works it out before reading anything: 1 for
    one count of one file (or names read from a pipe); otherwise the digits of the regular
    files' total size, and at least 7 when any operand is not a regular file (stdin on a pipe,
    a directory, a device). A name that cannot be stat'ed adds nothing."""
    if names_from_stream or (len(files) == 1 and ncols == 1):
        return 1
    regular = 0
    minw = 1
    for name in files:
        st = _stat(ctx, name)
        if st is None:
            if name == "-":
                minw = 7  # stdin with no file behind it: a pipe or a device
            continue
        if S.S_ISREG(st.st_mode):
            regular += st.st_size
        else:
            minw = 7
    return max(len(str(regular)), minw)


#: the options that select one column needing no decoding, and that column's index
_ONE_COLUMN = {"lines": 0, "words": 1, "bytes": 3}
#: the same, as the one short option of a command line
_SHORT_ONE_COLUMN = {"-l": 0, "-w": 1, "-c": 3}


async def _one_column(ctx: Context, col: int) -> int:
    """One column of stdin, no name, width 1 (``wc -l``, ``-c`` or ``-w`` alone)."""
    data = ctx.stdin.read_rest(65536)
    if data is not None:  # a short file or value, whole: one count
        n = data.count(b"\n") if col == 0 else len(data.split()) if col == 1 else len(data)
        await ctx.stdout.write(b"%d\n" % n)
        return 0
    vals, ok = await _count(ctx, "-", ctx.stdin, col == 1, False, False, False)
    await ctx.stdout.write(b"%d\n" % vals[col])
    return 0 if ok else 1


async def _count(
    ctx: Context,
    name: str,
    stream: InputStream,
    need_words: bool,
    need_chars: bool,
    want_len: bool,
    utf8: bool,
) -> tuple[list[int], bool]:
    """[lines, words, chars, bytes, longest line] of ``stream`` (closed at the end unless it
    is stdin), and False when reading it failed (reported as ``wc: NAME: reason``)."""
    lines = words = chars = nbytes = maxlen = 0
    in_word = False
    pending = b""
    ok = True
    read = stream.read
    try:
        if not (need_words or need_chars):  # lines and bytes: one count per chunk
            while data := await read(65536):
                ctx.check_killed()
                nbytes += len(data)
                lines += data.count(b"\n")
        else:
            while data := await read(65536):
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
                        c, m = _char_stats(chunk, want_len, utf8)
                        chars += c
                        maxlen = max(maxlen, m)
    except IsADirectoryError:
        await ctx.err(f"{name}: Is a directory")
        ok = False
    except BrokenPipeError:
        raise
    except OSError as exc:
        await ctx.err(f"{name}: {exc.strerror}")
        ok = False
    finally:
        close_input(ctx, stream)
    if pending:
        c, m = _char_stats(pending, want_len, utf8)
        chars += c
        maxlen = max(maxlen, m)
    return [lines, words, chars, nbytes, maxlen], ok


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
