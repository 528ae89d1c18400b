"""cut: print selected bytes, characters or fields of each line."""

from __future__ import annotations

import errno
import re
from itertools import chain
from typing import TYPE_CHECKING, Any

from pocketos.commands import command
from pocketos.commands._args import Opt, UsageError, parse, report
from pocketos.commands.text_common import (
    CHUNK,
    MAX_LINE,
    close_input,
    encode,
    line_batches,
    open_input,
    try_help,
    usage,
)
from pocketos.kernel.budget import check_alloc

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from pocketos.kernel.process import Context
    from pocketos.kernel.streams import InputStream


HELP = Opt("", "help")


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
        await try_help(ctx, "cut")
        return 1
    if not kinds:
        await ctx.err("you must specify a list of bytes, characters, or fields")
        await try_help(ctx, "cut")
        return 1
    kind = kinds[0]
    try:
        ranges = parse_list(p.str(kind) or "")
    except ValueError as exc:
        await ctx.err(str(exc))
        await try_help(ctx, "cut")
        return 1
    if p.flag("complement"):
        ranges = _complement(ranges)
    delim_s = p.str("delimiter")
    if kind != "fields":
        if delim_s is not None:
            await ctx.err("an input delimiter may be specified only when operating on fields")
            await try_help(ctx, "cut")
            return 1
        if p.flag("only_delimited"):
            await ctx.err(
                "suppressing non-delimited lines makes sense\n\tonly when operating on fields"
            )
            await try_help(ctx, "cut")
            return 1
    delim = b"\t"
    if delim_s is not None:
        delim = encode(delim_s)
        if delim == b"":
            delim = b"\0"
        if len(delim) != 1:
            await ctx.err("the delimiter must be a single character")
            await try_help(ctx, "cut")
            return 1
    od_s = p.str("output_delimiter")
    outdelim: bytes | None = encode(od_s) if od_s is not None else None
    if od_s == "":
        outdelim = b"\0"  # as GNU: an empty output delimiter is the NUL byte
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
    cutter = None
    if kind == "fields" and delim != sep:
        cutter = fields_cutter(ranges, delim, sep, only)
    elif kind != "fields" and len(ranges) == 1 and sep == b"\n":
        fast = _bytes_regex(ranges[0])
    status = 0
    for name in p.operands or ["-"]:
        stream = await open_input(ctx, name)
        if stream is None:
            status = 1
            continue
        try:
            if cutter is not None:
                od = outdelim if outdelim not in (None, delim) else None
                async for block in line_blocks(stream, sep):
                    ctx.check_killed()
                    data = cutter.block(block)
                    if od is not None:
                        # the delimiters left in the output are the ones between fields
                        data = data.replace(delim, od)
                    await ctx.stdout.write(data)
                continue
            if fast is not None:
                async for block in line_blocks(stream, sep):
                    ctx.check_killed()
                    # one capture per line: the selected part (see _bytes_regex)
                    data = b"\n".join(fast.findall(block, 0, len(block) - 1)) + b"\n"
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
#: more ranges than this nest the expression too deep; such lists go line by line
_MAX_FAST_RANGES = 32
_BIG = 1 << 62


def _bytes_regex(rng: tuple[int, int]) -> re.Pattern[bytes] | None:
    """For one range of bytes: a MULTILINE expression matching once at each line start,
    whose only group captures what cut prints for that line. None when the range is too large
    for the expression engine."""
    lo, hi = rng
    big = hi >= _BIG
    if lo - 1 > _MAX_FAST_REPEAT or (not big and hi - lo > _MAX_FAST_REPEAT):
        return None
    body = rb"[^\n]*+" if big else rb"[^\n]{0,%d}+" % (hi - lo + 1)
    return re.compile(rb"^[^\n]{0,%d}+(%s)" % (lo - 1, body), re.MULTILINE)


def _field_runs(ranges: list[tuple[int, int]]) -> list[tuple[bool, int]] | None:
    """The field list as runs from field 1: (kept, how many fields; 0 = to the end of the
    line). None when a run is too long for the expression engine's counted repeats."""
    runs: list[tuple[bool, int]] = []
    nxt = 1
    for lo, hi in ranges:
        if lo > nxt:
            runs.append((False, lo - nxt))
        if hi >= _BIG:
            runs.append((True, 0))
            break
        runs.append((True, hi - lo + 1))
        nxt = hi + 1
    if len(ranges) > _MAX_FAST_RANGES or any(n > _MAX_FAST_REPEAT for _k, n in runs):
        return None
    return runs


class FieldCutter:
    """``cut -f`` on whole blocks of lines: an expression matches each line (through ``sep``)
    and its groups, joined in C, are what cut prints for that line — the kept fields with
    the delimiters between them.

    The general expression walks a line run by run: a run of kept fields is a group, a run
    of skipped fields is not; each run after the first begins with a delimiter and sits in an
    optional (possessive) group inside the one before, so a line with fewer fields stops
    early. A line without the delimiter is printed whole (an alternative tried first; not
    needed when field 1 is kept, which then is the whole line) or, with ``-s``, not at all;
    with ``-s`` the terminator is a group too, so that such a line prints nothing.

    Most inputs have every field the list names on every line: a flat expression without the
    optional groups (about a fifth faster) is tried first. It can match only lines that have
    all those fields, only at their start, and through their end, so when it matches as many
    times as the block has lines it matched every line; otherwise the block goes through the
    general one. Both are linear: possessive runs of bytes, each taken once."""

    def __init__(self, runs: list[tuple[bool, int]], delim: bytes, sep: bytes, only: bool):
        self.sep = sep
        self.only = only
        d = re.escape(delim)
        s = re.escape(sep)
        field = rb"[^%s%s]*+" % (d, s)
        rest = rb"[^%s]*+" % s
        general: list[bytes] = []
        flat: list[bytes] = []
        seen_kept = False
        for i, (kept, n) in enumerate(runs):
            lead = d if i else b""
            if not kept:
                more = n - 1 if i == 0 else n
                skip = (field if i == 0 else b"") + (
                    rb"(?:%s%s){%d}" % (d, field, more) if more else b""
                )
                general.append(skip)
                flat.append(skip)
                continue
            if n == 0:
                body = exact = rest
            else:
                body = exact = field
                if n > 1:
                    body += rb"(?:%s%s){0,%d}+" % (d, field, n - 1)
                    exact += rb"(?:%s%s){%d}" % (d, field, n - 1)
            if seen_kept:
                general.append(rb"(%s%s)" % (lead, body))
                flat.append(rb"(%s%s)" % (lead, exact))
            else:
                general.append(rb"%s(%s)" % (lead, body))
                flat.append(rb"%s(%s)" % (lead, exact))
            seen_kept = True
        walk = b""
        for part in reversed(general):
            walk = rb"(?:%s%s)?+" % (part, walk)
        end = rb"(%s)" % s if only else s
        whole = walk + rest + end
        if only:
            self.general = re.compile(rb"%s%s|%s" % (field, s, whole))
        elif runs and runs[0][0]:
            self.general = re.compile(whole)
        else:
            self.general = re.compile(rb"(%s)%s|%s" % (field, s, whole))
        # only when the list names a field past the first: a line it matches then has the
        # delimiter, so -s drops nothing and no line is printed whole
        needed = sum(n for _k, n in runs) + (1 if runs and runs[-1][1] == 0 else 0)
        # (anchored at line starts: a line it cannot match costs one failed try and one
        # cheap look back per byte, never a rescan from each of its bytes)
        flat_rx = rb"(?<![^%s])%s%s%s" % (s, b"".join(flat), rest, s)
        self.flat = re.compile(flat_rx) if needed > 1 else None

    def block(self, data: bytes) -> bytes:
        """What cut prints for ``data``: whole lines, each ending with ``sep``."""
        sep = self.sep
        if self.flat is not None:
            rows = self.flat.findall(data)
            if len(rows) == data.count(sep):
                return self._join(rows, self.flat.groups, False)
        return self._join(self.general.findall(data), self.general.groups, self.only)

    def _join(self, rows: list[Any], groups: int, only: bool) -> bytes:
        if groups == 1:  # findall gives the group itself, not a tuple
            return b"".join(rows) if only else self.sep.join(rows) + self.sep
        if only:
            return b"".join(chain.from_iterable(rows))
        return self.sep.join(map(b"".join, rows)) + self.sep


def fields_cutter(
    ranges: list[tuple[int, int]], delim: bytes, sep: bytes, only: bool
) -> FieldCutter | None:
    """A :class:`FieldCutter` for the list, or None when it is too long or its numbers too
    large for the expression engine (such lists go line by line)."""
    runs = _field_runs(ranges)
    return None if runs is None else FieldCutter(runs, delim, sep, only)


async def line_blocks(stream: InputStream, sep: bytes) -> AsyncIterator[bytes]:
    """Runs of whole lines, each run ending with ``sep`` (a missing final one is added). A
    line longer than a read is gathered without quadratic copies, within the memory limit."""
    pending = bytearray()
    while True:
        data = await stream.read(CHUNK)
        if not data:
            break
        cut = data.rfind(sep)
        if cut < 0:
            pending += data
            if len(pending) > MAX_LINE:
                raise OSError(errno.EFBIG, "line too long to hold in memory")
            check_alloc(len(pending), "line")
            continue
        if pending:
            pending += data[: cut + 1]
            block = bytes(pending)
            pending.clear()
        else:
            block = data[: cut + 1]
        pending += data[cut + 1 :]
        yield block
    if pending:
        yield bytes(pending) + sep
