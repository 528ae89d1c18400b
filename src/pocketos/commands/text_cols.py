"""cut, tr, nl, paste, fold, expand, unexpand."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from pocketos.commands import command
from pocketos.commands._args import Opt, Parsed, UsageError, parse, report
from pocketos.commands._common import (
    filter_batches,
    filter_lines,
    leading_number_option,
)
from pocketos.commands.text_common import (
    CHUNK,
    close_input,
    encode,
    line_batches,
    open_file,
    open_input,
    usage,
)
from pocketos.lib import safe_regex

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from pocketos.kernel.process import Context
    from pocketos.kernel.streams import InputStream

HELP = Opt("", "help")


async def _try_help(ctx: Context, name: str) -> None:
    await ctx.stderr.write(encode(f"Try '{name} --help' for more information.\n"))


# ---------------------------------------------------------------------------------------- cut


def parse_list(text: str) -> list[tuple[int, int]]:
    """``1,3-5,7-`` -> merged, sorted 1-based inclusive ranges (end 0 = to the end)."""
    ranges: list[tuple[int, int]] = []
    for part in text.split(","):
        if part == "":
            raise ValueError("fields and positions are numbered from 1")
        m = re.fullmatch(r"(\d*)(-?)(\d*)", part)
        if not m or (not m.group(1) and not m.group(3)):
            if part == "-":
                raise ValueError("invalid range with no endpoint: -")
            raise ValueError(f"invalid field value '{part}'")
        lo_s, dash, hi_s = m.groups()
        if not dash:
            n = int(lo_s)
            if n == 0:
                raise ValueError("fields and positions are numbered from 1")
            ranges.append((n, n))
            continue
        lo = int(lo_s) if lo_s else 1
        hi = int(hi_s) if hi_s else 0
        if lo == 0 or (hi_s and hi == 0):
            raise ValueError("fields and positions are numbered from 1")
        if hi and hi < lo:
            raise ValueError("invalid decreasing range")
        ranges.append((lo, hi))
    big = 1 << 62
    norm = sorted((lo, hi if hi else big) for lo, hi in ranges)
    merged: list[tuple[int, int]] = []
    for lo, hi in norm:
        if merged and lo <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


def _complement(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    nxt = 1
    big = 1 << 62
    for lo, hi in ranges:
        if lo > nxt:
            out.append((nxt, lo - 1))
        nxt = hi + 1
    if nxt <= big:
        out.append((nxt, big))
    return out


@command("cut")
async def cut(ctx: Context) -> int:
    spec = [
        Opt("b", "bytes", "required"),
        Opt("c", "characters", "required"),
        Opt("d", "delimiter", "required"),
        Opt("f", "fields", "required"),
        Opt("n"),
        Opt("", "complement"),
        Opt("s", "only-delimited"),
        Opt("", "output-delimiter", "required"),
        Opt("z", "zero-terminated"),
        HELP,
    ]
    try:
        p = parse("cut", ctx.argv[1:], spec)
    except UsageError as e:
        return await report(ctx, e)
    if p.flag("help"):
        return await usage(
            ctx,
            "Usage: cut OPTION... [FILE]...\n"
            "Print selected parts of lines from each FILE to standard output.\n"
            "  -b LIST -c LIST -f LIST -d DELIM -s --complement "
            "--output-delimiter=STRING -z",
        )
    kinds = [k for k in ("bytes", "characters", "fields") if p.get(k) is not None]
    if len(kinds) > 1:
        await ctx.err("only one type of list may be specified")
        await _try_help(ctx, "cut")
        return 1
    if not kinds:
        await ctx.err("you must specify a list of bytes, characters, or fields")
        await _try_help(ctx, "cut")
        return 1
    kind = kinds[0]
    try:
        ranges = parse_list(p.str(kind) or "")
    except ValueError as exc:
        await ctx.err(str(exc))
        await _try_help(ctx, "cut")
        return 1
    if p.flag("complement"):
        ranges = _complement(ranges)
    delim_s = p.str("delimiter")
    if kind != "fields":
        if delim_s is not None:
            await ctx.err("an input delimiter may be specified only when operating on fields")
            await _try_help(ctx, "cut")
            return 1
        if p.flag("only_delimited"):
            await ctx.err(
                "suppressing non-delimited lines makes sense\n\tonly when operating on fields"
            )
            await _try_help(ctx, "cut")
            return 1
    delim = b"\t"
    if delim_s is not None:
        delim = encode(delim_s)
        if delim == b"":
            delim = b"\0"
        if len(delim) != 1:
            await ctx.err("the delimiter must be a single character")
            await _try_help(ctx, "cut")
            return 1
    od_s = p.str("output_delimiter")
    outdelim: bytes | None = encode(od_s) if od_s is not None else None
    if od_s == "":
        outdelim = b""
    sep = b"\0" if p.flag("zero_terminated") else b"\n"
    only = p.flag("only_delimited")

    def cut_line(body: bytes) -> bytes | None:
        if kind == "fields":
            if delim not in body:
                return None if only else body
            fields = body.split(delim)
            nf = len(fields)
            picked = []
            for lo, hi in ranges:
                if lo > nf:
                    break
                picked.extend(fields[lo - 1 : min(hi, nf)])
            return (outdelim if outdelim is not None else delim).join(picked)
        pieces = []
        n = len(body)
        for lo, hi in ranges:
            if lo > n:
                break
            pieces.append(body[lo - 1 : min(hi, n)])
        if outdelim is None:
            return b"".join(pieces)
        return outdelim.join(pieces)

    fast = None
    if len(ranges) == 1 and sep == b"\n" and not only and delim != sep:
        fast = _cut_regex(kind, ranges[0], delim)
    status = 0
    for name in p.operands or ["-"]:
        stream = await open_input(ctx, name)
        if stream is None:
            status = 1
            continue
        try:
            if fast is not None:
                od = outdelim if kind == "fields" and outdelim not in (None, delim) else None
                async for block in line_blocks(stream, sep):
                    ctx.check_killed()
                    # one capture per line: the selected part (see _cut_regex)
                    data = b"\n".join(fast.findall(block, 0, len(block) - 1)) + b"\n"
                    if od is not None:
                        data = data.replace(delim, od)
                    await ctx.stdout.write(data)
                continue
            async for batch in line_batches(stream, sep):
                ctx.check_killed()
                out: list[bytes] = []
                for line in batch:
                    body = line[:-1] if line.endswith(sep) else line
                    r = cut_line(body)
                    if r is not None:
                        out.append(r + sep)
                await ctx.stdout.write(b"".join(out))
        except BrokenPipeError:
            raise
        except OSError as exc:
            await ctx.err(f"{name}: {exc.strerror}")
            status = 1
        finally:
            close_input(ctx, stream)
    return status


_MAX_FAST_REPEAT = 65535


def _cut_regex(kind: str, rng: tuple[int, int], delim: bytes) -> re.Pattern[bytes] | None:
    """For one range of fields or bytes: a MULTILINE expression matching once at each line
    start, whose only group captures what cut prints for that line. None when the range is
    too large for the expression engine.

    Fields ``lo-hi``: with at least lo-1 delimiters, fields lo..hi; else, when the line has a
    delimiter, nothing; else the whole line."""
    lo, hi = rng
    big = hi >= (1 << 62)
    if lo - 1 > _MAX_FAST_REPEAT or (not big and hi - lo > _MAX_FAST_REPEAT):
        return None
    if kind != "fields":
        body = rb"[^\n]*+" if big else rb"[^\n]{0,%d}+" % (hi - lo + 1)
        return re.compile(rb"^[^\n]{0,%d}+(%s)" % (lo - 1, body), re.MULTILINE)
    d = re.escape(delim)
    field = rb"[^%s\n]*+" % d
    if big:
        body = rb"[^\n]*+"
    else:
        body = field + rb"(?:%s%s){0,%d}+" % (d, field, hi - lo)
    if lo == 1:
        return re.compile(rb"^(%s)" % body, re.MULTILINE)
    skip = rb"(?:%s%s){%d}+" % (field, d, lo - 1)
    return re.compile(rb"^(?:%s|(?=%s%s)[^\n]*+|)(%s)" % (skip, field, d, body), re.MULTILINE)


async def line_blocks(stream: InputStream, sep: bytes) -> AsyncIterator[bytes]:
    """Runs of whole lines, each run ending with ``sep`` (a missing final one is added)."""
    rest = b""
    while True:
        data = await stream.read(CHUNK)
        if not data:
            break
        if rest:
            data = rest + data
        cut = data.rfind(sep)
        if cut < 0:
            rest = data
            continue
        rest = data[cut + 1 :]
        yield data[: cut + 1]
    if rest:
        yield rest + sep


# ----------------------------------------------------------------------------------------- tr

_CLASSES: dict[str, bytes] = {
    "alnum": bytes(c for c in range(256) if chr(c).isascii() and chr(c).isalnum()),
    "alpha": bytes(c for c in range(256) if chr(c).isascii() and chr(c).isalpha()),
    "blank": b" \t",
    "cntrl": bytes(list(range(32)) + [127]),
    "digit": b"0123456789",
    "graph": bytes(range(33, 127)),
    "lower": bytes(range(97, 123)),
    "print": bytes(range(32, 127)),
    "punct": bytes(c for c in range(33, 127) if not chr(c).isalnum()),
    "space": b" \t\n\v\f\r",
    "upper": bytes(range(65, 91)),
    "xdigit": b"0123456789ABCDEFabcdef",
}

_ESC = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92}


class TrError(Exception):
    pass


def _unescape_char(s: bytes, i: int) -> tuple[int, int]:
    """Read one (possibly escaped) char at ``i``; return (byte, next index)."""
    c = s[i]
    if c != 92 or i + 1 >= len(s):
        return c, i + 1
    n = s[i + 1]
    ch = chr(n)
    if ch in _ESC:
        return _ESC[ch], i + 2
    if 48 <= n <= 55:
        j = i + 1
        val = 0
        while j < len(s) and j < i + 4 and 48 <= s[j] <= 55:
            nv = val * 8 + (s[j] - 48)
            if nv > 255:
                break
            val = nv
            j += 1
        return val, j
    return n, i + 2


def parse_set(spec: bytes, is_set2: bool) -> tuple[list[int | tuple[str, int | None]], list[str]]:
    """Expand a tr set into a list of bytes; ``("fill", n)`` items stand for ``[c*n]`` and
    class names used are returned as the second element."""
    out: list[int | tuple[str, int | None]] = []
    classes: list[str] = []
    i = 0
    n = len(spec)
    while i < n:
        if spec[i] == 91 and i + 1 < n:  # '['
            if spec[i + 1] == 58:  # [:
                end = spec.find(b":]", i + 2)
                if end >= 0:
                    name = spec[i + 2 : end].decode("latin-1")
                    if name not in _CLASSES:
                        raise TrError(f"invalid character class '{name}'")
                    classes.append(name)
                    out.extend(_CLASSES[name])
                    i = end + 2
                    continue
            if spec[i + 1] == 61:  # [=
                end = spec.find(b"=]", i + 2)
                if end >= 0 and end > i + 2:
                    c, _ = _unescape_char(spec, i + 2)
                    out.append(c)
                    i = end + 2
                    continue
            # [c*n]
            if i + 2 < n:
                c, j = _unescape_char(spec, i + 1)
                if j < n and spec[j] == 42:  # '*'
                    end = spec.find(b"]", j + 1)
                    if end >= 0:
                        num = spec[j + 1 : end].decode("latin-1")
                        if re.fullmatch(r"\d*", num):
                            if not is_set2:
                                raise TrError("the [c*] repeat construct may not appear in string1")
                            if num:
                                cnt = int(num, 8) if num.startswith("0") else int(num)
                            else:
                                cnt = 0
                            out.append(("fill", c))
                            out.append(("count", cnt if cnt else None))
                            i = end + 1
                            continue
        c, j = _unescape_char(spec, i)
        if j < n and spec[j] == 45 and j + 1 < n:  # range a-z
            hi, k = _unescape_char(spec, j + 1)
            if hi < c:
                raise TrError(
                    f"range-endpoints of '{chr(c)}-{chr(hi)}' are in reverse collating "
                    "sequence order"
                )
            out.extend(range(c, hi + 1))
            i = k
            continue
        out.append(c)
        i = j
    return out, classes


def _expand_fills(items: list[int | tuple[str, int | None]], target: int) -> list[int]:
    fixed = 0
    open_fill = None
    k = 0
    while k < len(items):
        it = items[k]
        if isinstance(it, tuple) and it[0] == "fill":
            cnt = items[k + 1]
            assert isinstance(cnt, tuple)
            if cnt[1] is None and open_fill is None:
                open_fill = k
            else:
                fixed += cnt[1] or 0
            k += 2
            continue
        fixed += 1
        k += 1
    res: list[int] = []
    k = 0
    while k < len(items):
        it = items[k]
        if isinstance(it, tuple) and it[0] == "fill":
            cnt = items[k + 1]
            assert isinstance(cnt, tuple)
            c = it[1]
            assert isinstance(c, int)
            if k == open_fill:
                res.extend([c] * max(0, target - fixed))
            else:
                res.extend([c] * (cnt[1] or 0))
            k += 2
            continue
        assert isinstance(it, int)
        res.append(it)
        k += 1
    return res


@command("tr")
async def tr(ctx: Context) -> int:
    spec = [
        Opt("c", "complement"),
        Opt("C", dest="complement"),
        Opt("d", "delete"),
        Opt("s", "squeeze-repeats"),
        Opt("t", "truncate-set1"),
        HELP,
    ]
    try:
        p = parse("tr", ctx.argv[1:], spec)
    except UsageError as e:
        return await report(ctx, e)
    if p.flag("help"):
        return await usage(
            ctx,
            "Usage: tr [OPTION]... STRING1 [STRING2]\n"
            "Translate, squeeze, and/or delete characters from standard input.\n"
            "  -c -C -d -s -t; sets take ranges, \\NNN, [:class:], [c*n]",
        )
    ops = p.operands
    delete = p.flag("delete")
    squeeze = p.flag("squeeze_repeats")
    comp = p.flag("complement")
    need = 2 if (not delete and not squeeze) or (delete and squeeze) else 1
    if len(ops) < need or not ops:
        if not ops:
            await ctx.err("missing operand")
        elif need == 2 and not delete and not squeeze:
            await ctx.err(
                f"missing operand after '{ops[0]}'\nTwo strings must be given when translating."
            )
        else:
            await ctx.err(
                f"missing operand after '{ops[0]}'\n"
                "Two strings must be given when both deleting and squeezing "
                "repeats."
            )
        await _try_help(ctx, "tr")
        return 1
    maxops = 2 if not delete or squeeze else 1
    if len(ops) > maxops:
        await ctx.err(f"extra operand '{ops[maxops]}'")
        if delete and not squeeze:
            await ctx.stderr.write(
                b"Only one string may be given when deleting without squeezing repeats.\n"
            )
        await _try_help(ctx, "tr")
        return 1
    try:
        raw1, cls1 = parse_set(encode(ops[0]), False)
        s1 = [x for x in raw1 if isinstance(x, int)]
        s2: list[int] = []
        cls2: list[str] = []
        if len(ops) > 1:
            raw2, cls2 = parse_set(encode(ops[1]), True)
    except TrError as exc:
        await ctx.err(str(exc))
        return 1
    if comp:
        present = set(s1)
        s1 = [c for c in range(256) if c not in present]
    translate = len(ops) > 1 and not delete
    table = bytes(range(256))
    if translate:
        s2 = _expand_fills(raw2, len(s1))
        if not s2 and s1:
            await ctx.err("when not truncating set1, string2 must be non-empty")
            return 1
        if p.flag("truncate_set1"):
            s1 = s1[: len(s2)]
        elif len(s2) < len(s1):
            s2 = s2 + [s2[-1]] * (len(s1) - len(s2))
        bad = [c for c in cls2 if c not in ("upper", "lower")]
        if bad:
            await ctx.err(
                "when translating, the only character classes that may appear in\n"
                "string2 are 'upper' and 'lower'"
            )
            return 1
        tbl = list(range(256))
        if cls2 and cls1 and not comp and len(cls1) == len(cls2):
            pass
        for a, b in zip(s1, s2, strict=False):
            tbl[a] = b
        table = bytes(tbl)
    elif len(ops) > 1:
        s2 = _expand_fills(raw2, 0)
    delete_set = bytes(sorted(set(s1))) if delete else b""
    sq_src = (s2 if (translate or delete) and len(ops) > 1 else s1) if squeeze else []
    sq_set = set(sq_src)
    sq_re = None
    if sq_set:
        cls = b"".join(re.escape(bytes([c])) for c in sorted(sq_set))
        sq_re = re.compile(b"([" + cls + b"])\\1+")
    last = -1
    while True:
        data = await ctx.stdin.read(65536)
        if not data:
            break
        ctx.check_killed()
        if delete:
            data = data.translate(None, delete_set)
        elif translate:
            data = data.translate(table)
        if sq_re is not None and data:
            data = sq_re.sub(b"\\1", data)
            if last >= 0 and data[0] == last:
                data = data[1:]
            if data:
                last = data[-1] if data[-1] in sq_set else -1
        if data:
            await ctx.stdout.write(data)
    return 0


# ---------------------------------------------------------------------------------------- nl


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


# --------------------------------------------------------------------------- expand/unexpand


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
