"""diff, patch and cmp.

The line matcher follows the classic divide-and-conquer shortest-edit-script search (forward
and backward searches meeting at a middle snake), preceded by discarding lines that cannot
match and followed by sliding change runs to canonical positions, so that hunks come out where
GNU diff puts them.
"""

from __future__ import annotations

import errno
import posixpath
import re
import stat as _stat
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pocketos.commands import command
from pocketos.commands._args import Opt, UsageError, parse, report
from pocketos.commands.text_common import decode, encode, read_all, read_prefix, usage

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pocketos.kernel.fs.view import FsView
    from pocketos.kernel.process import Context

HELP = Opt("", "help")

# ----------------------------------------------------------------------------- the matcher


def _compareseq(a: list[int], b: list[int], ca: list[int], cb: list[int]) -> None:
    """Mark changed lines (``ca[i] = 1`` / ``cb[j] = 1``) on a minimal edit script."""
    n, m = len(a), len(b)
    size = n + m + 3
    fd = [0] * (2 * size + 1)
    bd = [0] * (2 * size + 1)
    off = size

    def diag(xoff: int, xlim: int, yoff: int, ylim: int) -> tuple[int, int]:
        dmin = xoff - ylim
        dmax = xlim - yoff
        fmid = xoff - yoff
        bmid = xlim - ylim
        fmin = fmax = fmid
        bmin = bmax = bmid
        odd = (fmid - bmid) & 1
        fd[off + fmid] = xoff
        bd[off + bmid] = xlim
        while True:
            if fmin > dmin:
                fmin -= 1
                fd[off + fmin - 1] = -1
            else:
                fmin += 1
            if fmax < dmax:
                fmax += 1
                fd[off + fmax + 1] = -1
            else:
                fmax -= 1
            for d in range(fmax, fmin - 1, -2):
                tlo = fd[off + d - 1]
                thi = fd[off + d + 1]
                x = thi if tlo < thi else tlo + 1
                y = x - d
                while x < xlim and y < ylim and a[x] == b[y]:
                    x += 1
                    y += 1
                fd[off + d] = x
                if odd and bmin <= d <= bmax and bd[off + d] <= x:
                    return x, y
            big = 1 << 60
            if bmin > dmin:
                bmin -= 1
                bd[off + bmin - 1] = big
            else:
                bmin += 1
            if bmax < dmax:
                bmax += 1
                bd[off + bmax + 1] = big
            else:
                bmax -= 1
            for d in range(bmax, bmin - 1, -2):
                tlo = bd[off + d - 1]
                thi = bd[off + d + 1]
                x = tlo if tlo < thi else thi - 1
                y = x - d
                while xoff < x and yoff < y and a[x - 1] == b[y - 1]:
                    x -= 1
                    y -= 1
                bd[off + d] = x
                if not odd and fmin <= d <= fmax and x <= fd[off + d]:
                    return x, y

    stack = [(0, n, 0, m)]
    while stack:
        xoff, xlim, yoff, ylim = stack.pop()
        while xoff < xlim and yoff < ylim and a[xoff] == b[yoff]:
            xoff += 1
            yoff += 1
        while xoff < xlim and yoff < ylim and a[xlim - 1] == b[ylim - 1]:
            xlim -= 1
            ylim -= 1
        if xoff == xlim:
            for j in range(yoff, ylim):
                cb[j] = 1
        elif yoff == ylim:
            for i in range(xoff, xlim):
                ca[i] = 1
        else:
            xm, ym = diag(xoff, xlim, yoff, ylim)
            stack.append((xm, xlim, ym, ylim))
            stack.append((xoff, xm, yoff, ym))


def _discard_confusing(eqs: list[list[int]], nclasses: int) -> list[list[int]]:
    counts = [[0] * nclasses, [0] * nclasses]
    for f in range(2):
        for e in eqs[f]:
            counts[f][e] += 1
    discarded: list[list[int]] = []
    for f in range(2):
        end = len(eqs[f])
        other = counts[1 - f]
        many = 5
        tem = end // 64
        while True:
            tem >>= 2
            if tem <= 0:
                break
            many *= 2
        d = [0] * end
        for i, e in enumerate(eqs[f]):
            nm = other[e]
            if nm == 0:
                d[i] = 1
            elif nm > many:
                d[i] = 2
        discarded.append(d)
    for f in range(2):
        d = discarded[f]
        end = len(d)
        i = 0
        while i < end:
            if d[i] == 2:
                d[i] = 0
            elif d[i] != 0:
                provisional = 0
                j = i
                while j < end:
                    if d[j] == 0:
                        break
                    if d[j] == 2:
                        provisional += 1
                    j += 1
                while j > i and d[j - 1] == 2:
                    j -= 1
                    d[j] = 0
                    provisional -= 1
                length = j - i
                if provisional * 4 > length:
                    while j > i:
                        j -= 1
                        if d[j] == 2:
                            d[j] = 0
                else:
                    minimum = 1
                    tem = length >> 2
                    while True:
                        tem >>= 2
                        if tem <= 0:
                            break
                        minimum <<= 1
                    minimum += 1
                    j = 0
                    consec = 0
                    while j < length:
                        if d[i + j] != 2:
                            consec = 0
                        else:
                            consec += 1
                            if minimum == consec:
                                j -= consec
                            elif minimum < consec:
                                d[i + j] = 0
                        j += 1
                    consec = 0
                    for j in range(length):
                        if j >= 8 and d[i + j] == 1:
                            break
                        if d[i + j] == 2:
                            consec = 0
                            d[i + j] = 0
                        elif d[i + j] == 0:
                            consec = 0
                        else:
                            consec += 1
                        if consec == 3:
                            break
                    i += length - 1
                    consec = 0
                    for j in range(length):
                        if j >= 8 and d[i - j] == 1:
                            break
                        if d[i - j] == 2:
                            consec = 0
                            d[i - j] = 0
                        elif d[i - j] == 0:
                            consec = 0
                        else:
                            consec += 1
                        if consec == 3:
                            break
            i += 1
    return discarded


def _shift_boundaries(eqs: list[list[int]], changed: list[list[int]]) -> None:
    """Slide runs of changes to canonical places. ``changed[f]`` has a sentinel 0 at index 0
    and at the end (line i is at index i + 1)."""
    for f in range(2):
        ch = changed[f]
        oth = changed[1 - f]
        eq = eqs[f]
        i_end = len(eq)

        def E(k: int, eq: list[int] = eq) -> int:  # noqa: N802
            return eq[k]

        i = 0
        j = 0
        while True:
            while i < i_end and not ch[i + 1]:
                while oth[j + 1]:
                    j += 1
                j += 1
                i += 1
            if i == i_end:
                break
            start = i
            i += 1
            while ch[i + 1]:
                i += 1
            while oth[j + 1]:
                j += 1
            while True:
                runlength = i - start
                while start and E(start - 1) == E(i - 1):
                    start -= 1
                    ch[start + 1] = 1
                    i -= 1
                    ch[i + 1] = 0
                    while ch[start - 1 + 1]:
                        start -= 1
                    j -= 1
                    while oth[j + 1]:
                        j -= 1
                corresponding = i if oth[j - 1 + 1] else i_end
                while i != i_end and E(start) == E(i):
                    ch[start + 1] = 0
                    start += 1
                    ch[i + 1] = 1
                    i += 1
                    while ch[i + 1]:
                        i += 1
                    j += 1
                    while oth[j + 1]:
                        j += 1
                        corresponding = i
                if runlength == i - start:
                    break
            while corresponding < i:
                start -= 1
                ch[start + 1] = 1
                i -= 1
                ch[i + 1] = 0
                j -= 1
                while oth[j + 1]:
                    j -= 1


@dataclass
class Change:
    """``deleted`` lines of file 0 starting at ``line0`` replaced by ``inserted`` lines of
    file 1 starting at ``line1`` (0-based)."""

    line0: int
    line1: int
    deleted: int
    inserted: int


def compute_changes(
    keys0: list[bytes],
    keys1: list[bytes],
    minimal: bool = False,
    raw0: list[bytes] | None = None,
    raw1: list[bytes] | None = None,
    horizon: int = 0,
) -> list[Change]:
    """Changes turning ``keys0`` into ``keys1``. ``raw0``/``raw1`` (the lines as read) decide
    the identical prefix and suffix when the keys are normalised copies."""
    classes: dict[bytes, int] = {}
    eqs: list[list[int]] = [
        [classes.setdefault(k, len(classes)) for k in keys0],
        [classes.setdefault(k, len(classes)) for k in keys1],
    ]
    r0 = raw0 if raw0 is not None else keys0
    r1 = raw1 if raw1 is not None else keys1
    n0, n1 = len(eqs[0]), len(eqs[1])
    # the identical prefix and suffix never take part in the search
    pre = 0
    while pre < n0 and pre < n1 and r0[pre] == r1[pre]:
        pre += 1
    suf = 0
    while suf < n0 - pre and suf < n1 - pre and r0[n0 - 1 - suf] == r1[n1 - 1 - suf]:
        suf += 1
    # lines kept around the change for context still take part, as GNU diff does
    pre = max(0, pre - horizon)
    suf = max(0, suf - horizon)
    mid = [eqs[0][pre : n0 - suf], eqs[1][pre : n1 - suf]]
    m0, m1 = len(mid[0]), len(mid[1])
    mchanged = [[0] * (m0 + 2), [0] * (m1 + 2)]
    if mid[0] or mid[1]:
        if minimal:
            disc = [[0] * m0, [0] * m1]
        else:
            disc = _discard_confusing(mid, len(classes))
        und: list[list[int]] = [[], []]
        real: list[list[int]] = [[], []]
        for f in range(2):
            for i, e in enumerate(mid[f]):
                if disc[f][i] == 0:
                    und[f].append(e)
                    real[f].append(i)
                else:
                    mchanged[f][i + 1] = 1
        ca = [0] * len(und[0])
        cb = [0] * len(und[1])
        _compareseq(und[0], und[1], ca, cb)
        for i, c in enumerate(ca):
            if c:
                mchanged[0][real[0][i] + 1] = 1
        for j, c in enumerate(cb):
            if c:
                mchanged[1][real[1][j] + 1] = 1
        _shift_boundaries(mid, mchanged)
    changed = [
        [0] * (pre + 1) + mchanged[0][1 : m0 + 1] + [0] * (suf + 1),
        [0] * (pre + 1) + mchanged[1][1 : m1 + 1] + [0] * (suf + 1),
    ]
    out: list[Change] = []
    i = j = 0
    c0, c1 = changed
    while i < n0 or j < n1:
        if c0[i + 1] or c1[j + 1]:
            i0, j0 = i, j
            while c0[i + 1]:
                i += 1
            while c1[j + 1]:
                j += 1
            out.append(Change(i0, j0, i - i0, j - j0))
        i += 1
        j += 1
    return out


# ------------------------------------------------------------------------------- formatting


def _split_keep(data: bytes) -> list[bytes]:
    if not data:
        return []
    lines = data.split(b"\n")
    last = lines.pop()
    out = [ln + b"\n" for ln in lines]
    if last:
        out.append(last)
    return out


_NO_NL = b"\\ No newline at end of file\n"


def _emit(prefix: bytes, line: bytes) -> bytes:
    if line.endswith(b"\n"):
        return prefix + line
    return prefix + line + b"\n" + _NO_NL


def _range_normal(start: int, count: int) -> str:
    """1-based range for normal format; count 0 -> the line before."""
    if count == 0:
        return str(start)
    if count == 1:
        return str(start + 1)
    return f"{start + 1},{start + count}"


def format_normal(a: list[bytes], b: list[bytes], changes: list[Change]) -> bytes:
    out: list[bytes] = []
    for c in changes:
        if c.deleted and c.inserted:
            op = "c"
        elif c.deleted:
            op = "d"
        else:
            op = "a"
        left = _range_normal(c.line0, c.deleted)
        right = _range_normal(c.line1, c.inserted)
        out.append(f"{left}{op}{right}\n".encode())
        for k in range(c.deleted):
            out.append(_emit(b"< ", a[c.line0 + k]))
        if c.deleted and c.inserted:
            out.append(b"---\n")
        for k in range(c.inserted):
            out.append(_emit(b"> ", b[c.line1 + k]))
    return b"".join(out)


def _group(changes: list[Change], context: int, n0: int) -> list[list[Change]]:
    groups: list[list[Change]] = []
    for c in changes:
        if groups:
            last = groups[-1][-1]
            if c.line0 - (last.line0 + last.deleted) <= 2 * context:
                groups[-1].append(c)
                continue
        groups.append([c])
    return groups


def _hunks(
    changes: list[Change], context: int, len0: int
) -> Iterator[tuple[list[Change], int, int, int, int]]:
    """Each group of changes with its span in both files, context lines included:
    (group, start0, end0, start1, end1), ends exclusive."""
    for grp in _group(changes, context, len0):
        first, last = grp[0], grp[-1]
        s0 = max(0, first.line0 - context)
        e0 = min(len0, last.line0 + last.deleted + context)
        s1 = first.line1 - (first.line0 - s0)
        e1 = last.line1 + last.inserted + (e0 - (last.line0 + last.deleted))
        yield grp, s0, e0, s1, e1


def _uni_range(start: int, count: int) -> str:
    if count == 0:
        return f"{start},0"
    if count == 1:
        return f"{start + 1}"
    return f"{start + 1},{count}"


def format_unified(
    a: list[bytes], b: list[bytes], changes: list[Change], context: int, head0: str, head1: str
) -> bytes:
    out: list[bytes] = [encode(f"--- {head0}\n+++ {head1}\n")]
    for grp, s0, e0, s1, e1 in _hunks(changes, context, len(a)):
        out.append(f"@@ -{_uni_range(s0, e0 - s0)} +{_uni_range(s1, e1 - s1)} @@\n".encode())
        i = s0
        for c in grp:
            for k in range(i, c.line0):
                out.append(_emit(b" ", a[k]))
            for k in range(c.deleted):
                out.append(_emit(b"-", a[c.line0 + k]))
            for k in range(c.inserted):
                out.append(_emit(b"+", b[c.line1 + k]))
            i = c.line0 + c.deleted
        for k in range(i, e0):
            out.append(_emit(b" ", a[k]))
    return b"".join(out)


def _ctx_range(start: int, end: int) -> str:
    """Context-format range over [start, end) (0-based)."""
    if end - start <= 1:
        return str(end if end > start else start)
    return f"{start + 1},{end}"


def format_context(
    a: list[bytes], b: list[bytes], changes: list[Change], context: int, head0: str, head1: str
) -> bytes:
    out: list[bytes] = [encode(f"*** {head0}\n--- {head1}\n")]
    for grp, s0, e0, s1, e1 in _hunks(changes, context, len(a)):
        out.append(b"***************\n")
        out.append(f"*** {_ctx_range(s0, e0)} ****\n".encode())
        if any(c.deleted for c in grp):
            _context_side(out, a, grp, s0, e0, True)
        out.append(f"--- {_ctx_range(s1, e1)} ----\n".encode())
        if any(c.inserted for c in grp):
            _context_side(out, b, grp, s1, e1, False)
    return b"".join(out)


def _context_side(
    out: list[bytes], lines: list[bytes], grp: list[Change], start: int, end: int, old: bool
) -> None:
    """One side of a context-format hunk: lines [start, end) of the old (or new) file,
    changed ones marked ``- `` (``+ ``), or ``! `` when the other side changed too."""
    i = start
    for c in grp:
        pos, count, other = (
            (c.line0, c.deleted, c.inserted) if old else (c.line1, c.inserted, c.deleted)
        )
        for k in range(i, pos):
            out.append(_emit(b"  ", lines[k]))
        mark = b"! " if other else (b"- " if old else b"+ ")
        for k in range(count):
            out.append(_emit(mark, lines[pos + k]))
        i = pos + count
    for k in range(i, end):
        out.append(_emit(b"  ", lines[k]))


# ------------------------------------------------------------------------------------- diff


@dataclass
class DiffOpts:
    fmt: str = "normal"  # normal | unified | context
    context: int = 3
    brief: bool = False
    ignore_case: bool = False
    ignore_all_space: bool = False
    ignore_space_change: bool = False
    ignore_blank_lines: bool = False
    ignore_trailing_space: bool = False
    strip_cr: bool = False
    text: bool = False
    new_file: bool = False
    recursive: bool = False
    report_identical: bool = False
    minimal: bool = False
    labels: list[str] = field(default_factory=list)
    switches: str = ""
    exclude: list[str] = field(default_factory=list)


_WS_RUN = re.compile(rb"[ \t\v\f\r]+")
_WS_ANY = re.compile(rb"[ \t\v\f\r]")


def _key(line: bytes, o: DiffOpts) -> bytes:
    k = line
    if o.strip_cr and k.endswith(b"\r\n"):
        k = k[:-2] + b"\n"
    if o.ignore_all_space:
        k = _WS_ANY.sub(b"", k)
    elif o.ignore_space_change:
        nl = k.endswith(b"\n")
        body = k[:-1] if nl else k
        body = _WS_RUN.sub(b" ", body).rstrip(b" ")
        k = body + (b"\n" if nl else b"")
    elif o.ignore_trailing_space:
        nl = k.endswith(b"\n")
        body = (k[:-1] if nl else k).rstrip(b" \t\v\f\r")
        k = body + (b"\n" if nl else b"")
    if o.ignore_case:
        k = k.lower()
    # a missing final newline does not count as a difference in white space
    if (o.ignore_all_space or o.ignore_space_change) and not k.endswith(b"\n"):
        k += b"\n"
    return k


def _timestamp(ctx: Context, path: str) -> str:
    try:
        st = ctx.fs.stat(path)
        ns = st.st_mtime_ns
    except OSError:
        ns = 0
    secs, frac = divmod(ns, 1_000_000_000)
    t = time.gmtime(secs)
    return time.strftime("%Y-%m-%d %H:%M:%S", t) + f".{frac:09d} +0000"


class DiffRunner:
    def __init__(self, ctx: Context, o: DiffOpts) -> None:
        self.ctx = ctx
        self.o = o
        self.status = 0

    async def out(self, data: bytes) -> None:
        await self.ctx.stdout.write(data)

    async def trouble(self, msg: str) -> None:
        await self.ctx.err(msg)
        self.status = 2

    def _is_dir(self, path: str) -> bool:
        return path != "-" and self.ctx.fs.isdir(path)

    async def compare_paths(self, p0: str, p1: str, top: bool = True) -> None:
        fs = self.ctx.fs
        d0, d1 = self._is_dir(p0), self._is_dir(p1)
        if top and d0 and not d1 and p1 != "-":
            p0 = posixpath.join(p0, posixpath.basename(p1))
            d0 = self._is_dir(p0)
        elif top and d1 and not d0 and p0 != "-":
            p1 = posixpath.join(p1, posixpath.basename(p0))
            d1 = self._is_dir(p1)
        if d0 and d1:
            await self.compare_dirs(p0, p1)
            return
        if d0 != d1 and not top:
            a = "directory" if d0 else "regular file"
            b = "directory" if d1 else "regular file"
            await self.out(encode(f"File {p0} is a {a} while file {p1} is a {b}\n"))
            self.status = max(self.status, 1)
            return
        exists0, err0 = _probe(fs, p0)
        exists1, err1 = _probe(fs, p1)
        for p, err in ((p0, err0), (p1, err1)):
            if err is not None:
                # anything but "missing" (a denied path, a link loop) is trouble even with -N
                await self.trouble(f"{p}: {err.strerror}")
                return
        data0 = data1 = b""
        if exists0:
            try:
                data0 = await read_all(self.ctx, p0)
            except BrokenPipeError:
                raise
            except OSError as exc:
                await self.trouble(f"{p0}: {exc.strerror}")
                return
        elif not self.o.new_file:
            await self.trouble(f"{p0}: No such file or directory")
            if not exists1 and top:
                await self.trouble(f"{p1}: No such file or directory")
            return
        if exists1:
            try:
                data1 = await read_all(self.ctx, p1)
            except BrokenPipeError:
                raise
            except OSError as exc:
                await self.trouble(f"{p1}: {exc.strerror}")
                return
        elif not self.o.new_file:
            await self.trouble(f"{p1}: No such file or directory")
            return
        await self.compare_data(p0, p1, data0, data1, exists0, exists1, top)

    async def compare_data(
        self, p0: str, p1: str, data0: bytes, data1: bytes, exists0: bool, exists1: bool, top: bool
    ) -> None:
        o = self.o
        if data0 == data1:
            if o.report_identical:
                await self.out(encode(f"Files {p0} and {p1} are identical\n"))
            return
        binary = not o.text and (b"\0" in data0[:65536] or b"\0" in data1[:65536])
        if binary or o.brief:
            if binary and not o.brief:
                await self.out(encode(f"Binary files {p0} and {p1} differ\n"))
                self.status = max(self.status, 1)
                return
            # brief: still needs a real comparison when options relax equality
            if not binary and self._relaxed():
                a, b = _split_keep(data0), _split_keep(data1)
                if not self._changes(a, b):
                    return
            await self.out(encode(f"Files {p0} and {p1} differ\n"))
            self.status = max(self.status, 1)
            return
        a, b = _split_keep(data0), _split_keep(data1)
        changes = self._changes(a, b)
        if not changes:
            return
        self.status = max(self.status, 1)
        if not top and o.switches is not None:
            await self.out(encode(f"diff{o.switches} {p0} {p1}\n"))
        if o.fmt == "normal":
            await self.out(format_normal(a, b, changes))
            return
        h0 = o.labels[0] if len(o.labels) > 0 else f"{p0}\t{self._stamp(p0, exists0)}"
        h1 = o.labels[1] if len(o.labels) > 1 else f"{p1}\t{self._stamp(p1, exists1)}"
        if o.fmt == "unified":
            await self.out(format_unified(a, b, changes, o.context, h0, h1))
        else:
            await self.out(format_context(a, b, changes, o.context, h0, h1))

    def _stamp(self, path: str, exists: bool) -> str:
        if not exists:
            return "1970-01-01 00:00:00.000000000 +0000"
        if path == "-":
            ns = time.time_ns()
            secs, frac = divmod(ns, 1_000_000_000)
            return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(secs)) + f".{frac:09d} +0000"
        return _timestamp(self.ctx, path)

    def _relaxed(self) -> bool:
        o = self.o
        return (
            o.ignore_case
            or o.ignore_all_space
            or o.ignore_space_change
            or o.ignore_blank_lines
            or o.ignore_trailing_space
            or o.strip_cr
        )

    def _changes(self, a: list[bytes], b: list[bytes]) -> list[Change]:
        o = self.o
        if self._relaxed():
            ka = [_key(x, o) for x in a]
            kb = [_key(x, o) for x in b]
        else:
            ka, kb = a, b
        horizon = o.context if o.fmt != "normal" else 0
        changes = compute_changes(ka, kb, o.minimal, a, b, horizon)
        if o.ignore_blank_lines:

            def blank(line: bytes) -> bool:
                return (
                    line.strip(b" \t\r\n\v\f") == b""
                    if o.ignore_all_space or o.ignore_space_change
                    else line in (b"\n", b"")
                )

            changes = [
                c
                for c in changes
                if not (
                    all(blank(x) for x in a[c.line0 : c.line0 + c.deleted])
                    and all(blank(x) for x in b[c.line1 : c.line1 + c.inserted])
                )
            ]
        return changes

    def _excluded(self, name: str) -> bool:
        import fnmatch

        return any(fnmatch.fnmatchcase(name, pat) for pat in self.o.exclude)

    async def compare_dirs(self, d0: str, d1: str) -> None:
        fs = self.ctx.fs
        try:
            n0 = set(fs.listdir(d0))
        except BrokenPipeError:
            raise
        except OSError as exc:
            await self.trouble(f"{d0}: {exc.strerror}")
            return
        try:
            n1 = set(fs.listdir(d1))
        except BrokenPipeError:
            raise
        except OSError as exc:
            await self.trouble(f"{d1}: {exc.strerror}")
            return
        for name in sorted(n0 | n1):
            self.ctx.check_killed()
            if self._excluded(name):
                continue
            p0 = posixpath.join(d0, name)
            p1 = posixpath.join(d1, name)
            if name not in n1 and not self.o.new_file:
                await self.out(encode(f"Only in {d0}: {name}\n"))
                self.status = max(self.status, 1)
                continue
            if name not in n0 and not self.o.new_file:
                await self.out(encode(f"Only in {d1}: {name}\n"))
                self.status = max(self.status, 1)
                continue
            is_d0 = name in n0 and fs.isdir(p0)
            is_d1 = name in n1 and fs.isdir(p1)
            if is_d0 and is_d1:
                if self.o.recursive:
                    await self.compare_dirs(p0, p1)
                else:
                    await self.out(encode(f"Common subdirectories: {p0} and {p1}\n"))
                continue
            if (is_d0 or is_d1) and (name not in n0 or name not in n1):
                # -N with a directory on one side only
                if self.o.recursive:
                    await self._new_dir(p0, p1, is_d0)
                else:
                    side = d0 if is_d0 else d1
                    await self.out(encode(f"Only in {side}: {name}\n"))
                    self.status = max(self.status, 1)
                continue
            await self.compare_paths(p0, p1, top=False)

    async def _new_dir(self, p0: str, p1: str, left: bool) -> None:
        fs = self.ctx.fs
        base = p0 if left else p1
        for name in sorted(fs.listdir(base)):
            await self.compare_paths(posixpath.join(p0, name), posixpath.join(p1, name), top=False)


_DIFF_SPEC = [
    Opt("u"),
    Opt("", "unified", "optional"),
    Opt("U", arg="required", dest="unified"),
    Opt("c"),
    Opt("", "context", "optional"),
    Opt("C", arg="required", dest="context"),
    Opt("", "normal"),
    Opt("q", "brief"),
    Opt("s", "report-identical-files"),
    Opt("i", "ignore-case"),
    Opt("w", "ignore-all-space"),
    Opt("b", "ignore-space-change"),
    Opt("B", "ignore-blank-lines"),
    Opt("Z", "ignore-trailing-space"),
    Opt("", "strip-trailing-cr"),
    Opt("a", "text"),
    Opt("N", "new-file"),
    Opt("r", "recursive"),
    Opt("d", "minimal"),
    Opt("", "label", "required", multiple=True),
    Opt("L", dest="label", arg="required", multiple=True),
    Opt("", "color", "optional"),
    Opt("p", "show-c-function"),
    Opt("x", "exclude", "required", multiple=True),
    Opt("", "no-dereference"),
    Opt("", "speed-large-files"),
    Opt("H"),
    Opt("", "from-file", "required"),
    Opt("", "to-file", "required"),
    HELP,
]


@command("diff")
async def diff(ctx: Context) -> int:
    args = list(ctx.argv[1:])
    # -NUM is an old spelling of -C NUM / -U NUM context
    try:
        p = parse("diff", args, _DIFF_SPEC, status=2)
    except UsageError as e:
        return await report(ctx, e)
    if p.flag("help"):
        return await usage(
            ctx,
            "Usage: diff [OPTION]... FILES\n"
            "Compare FILES line by line.\n"
            "  -u -U N -c -C N -q -s -r -N -i -w -b -B -a --label LABEL "
            "--normal -x PAT",
        )
    o = DiffOpts()
    for k, v in p.order:
        if k == "u":
            o.fmt = "unified"
        elif k == "c":
            o.fmt = "context"
        elif k in ("unified", "context"):
            o.fmt = k
            if v is not True:
                sv = str(v)
                if not sv.isdigit():
                    await ctx.err(f"invalid context length '{sv}'")
                    await ctx.stderr.write(b"Try 'diff --help' for more information.\n")
                    return 2
                o.context = int(sv)
        elif k == "normal":
            o.fmt = "normal"
    o.brief = p.flag("brief")
    o.report_identical = p.flag("report_identical_files")
    o.ignore_case = p.flag("ignore_case")
    o.ignore_all_space = p.flag("ignore_all_space")
    o.ignore_space_change = p.flag("ignore_space_change")
    o.ignore_blank_lines = p.flag("ignore_blank_lines")
    o.ignore_trailing_space = p.flag("ignore_trailing_space")
    o.strip_cr = p.flag("strip_trailing_cr")
    o.text = p.flag("text")
    o.new_file = p.flag("new_file")
    o.recursive = p.flag("recursive")
    o.minimal = p.flag("minimal")
    o.labels = p.list("label")
    o.exclude = p.list("exclude")
    # the switches as written, for the "diff -r ..." lines of recursive comparisons
    sw = list(args)
    if "--" in sw:
        sw = sw[: sw.index("--")]
    left = list(p.operands)
    for idx in range(len(sw) - 1, -1, -1):
        if left and sw[idx] == left[-1]:
            left.pop()
            del sw[idx]
    o.switches = "".join(" " + s for s in sw)
    ops = p.operands
    ff, tf = p.str("from_file"), p.str("to_file")
    pairs: list[tuple[str, str]] = []
    if ff is not None:
        pairs = [(ff, x) for x in ops]
    elif tf is not None:
        pairs = [(x, tf) for x in ops]
    else:
        if len(ops) < 2:
            if not ops:
                await ctx.err("missing operand after 'diff'")
            else:
                await ctx.err(f"missing operand after '{ops[-1]}'")
            await ctx.stderr.write(b"diff: Try 'diff --help' for more information.\n")
            return 2
        if len(ops) > 2:
            await ctx.err(f"extra operand '{ops[2]}'")
            await ctx.stderr.write(b"diff: Try 'diff --help' for more information.\n")
            return 2
        pairs = [(ops[0], ops[1])]
    runner = DiffRunner(ctx, o)
    for a, b in pairs:
        await runner.compare_paths(a, b)
    return runner.status


# ------------------------------------------------------------------------------------ patch


@dataclass
class Hunk:
    old_start: int  # 1-based; 0 when the old side is empty
    old_lines: list[bytes]
    new_start: int
    new_lines: list[bytes]
    text: list[bytes]  # the hunk as written in the patch, for .rej files
    kind: str = "unified"
    # unified hunks: list of (tag, line) with tag in " -+"
    body: list[tuple[str, bytes]] = field(default_factory=list)


@dataclass
class FilePatch:
    old_name: str | None
    new_name: str | None
    header: list[bytes]
    hunks: list[Hunk] = field(default_factory=list)
    kind: str = "unified"


_UNI_HDR = re.compile(rb"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_NORMAL_CMD = re.compile(rb"^(\d+)(?:,(\d+))?([acd])(\d+)(?:,(\d+))?\s*$")
_CTX_OLD = re.compile(rb"^\*\*\* (\d+)(?:,(\d+))? \*\*\*\*")
_CTX_NEW = re.compile(rb"^--- (\d+)(?:,(\d+))? ----")


def _hdr_name(line: bytes) -> str:
    name = decode(line[4:].rstrip(b"\n").rstrip(b"\r"))
    if "\t" in name:
        name = name.split("\t", 1)[0]
    elif re.search(r" \d{4}-\d\d-\d\d \d\d:\d\d:\d\d", name):
        name = re.split(r" \d{4}-\d\d-\d\d ", name, maxsplit=1)[0]
    if name.startswith('"') and name.endswith('"') and len(name) > 1:
        name = name[1:-1]
    return name


def _take_normal(
    lines: list[bytes], i: int, count: int, mark: bytes, dest: list[bytes], text: list[bytes]
) -> int:
    """Read up to ``count`` normal-format lines marked ``< `` or ``> `` from ``lines[i:]``
    into ``dest`` (mark removed) and ``text`` (as is), with any ``\\ No newline`` marker;
    returns the index after them."""
    n = len(lines)
    for _ in range(count):
        if i < n and lines[i].startswith(mark):
            dest.append(lines[i][2:])
            text.append(lines[i])
            i += 1
            if i < n and lines[i].startswith(b"\\"):
                _strip_nl_marker(dest)
                text.append(lines[i])
                i += 1
    return i


def _strip_nl_marker(lines: list[bytes]) -> None:
    """Apply a ``\\ No newline at end of file`` marker to the last line in place."""
    if lines and lines[-1].endswith(b"\n"):
        lines[-1] = lines[-1][:-1]


class PatchError(ValueError):
    """A patch that cannot be read; GNU patch reports it as ``**** MESSAGE``, status 2."""


def _show_line(line: bytes) -> str:
    return line.decode("utf-8", "surrogateescape").rstrip("\n")


def parse_patch(data: bytes) -> list[FilePatch]:
    lines = data.split(b"\n")
    lines = [ln + b"\n" for ln in lines[:-1]] + ([lines[-1]] if lines[-1] else [])
    patches: list[FilePatch] = []
    i = 0
    n = len(lines)
    pending_header: list[bytes] = []
    normal: FilePatch | None = None
    while i < n:
        ln = lines[i]
        if ln.startswith(b"--- ") and i + 1 < n and lines[i + 1].startswith(b"+++ "):
            fp = FilePatch(_hdr_name(ln), _hdr_name(lines[i + 1]), [ln, lines[i + 1]])
            patches.append(fp)
            normal = None
            i += 2
            while i < n:
                m = _UNI_HDR.match(lines[i])
                if not m:
                    break
                os_, oc, ns, nc = m.groups()
                for num in (os_, oc, ns, nc):
                    if num is not None and len(num.lstrip(b"0")) > 18:
                        raise PatchError(
                            f"line number {num.decode()} is too large at line "
                            f"{i + 1}: {_show_line(lines[i])}"
                        )
                ocount = int(oc) if oc is not None else 1
                ncount = int(nc) if nc is not None else 1
                hunk = Hunk(int(os_), [], int(ns), [], [lines[i]])
                hunk_line = i
                i += 1
                o_left, n_left = ocount, ncount
                while i < n and (o_left > 0 or n_left > 0):
                    t = lines[i]
                    tag = t[:1]
                    if t in (b"\n", b"\r\n") and o_left > 0 and n_left > 0:
                        tag, t = b" ", b" " + t
                    if tag == b" ":
                        hunk.old_lines.append(t[1:])
                        hunk.new_lines.append(t[1:])
                        hunk.body.append((" ", t[1:]))
                        o_left -= 1
                        n_left -= 1
                    elif tag == b"-":
                        hunk.old_lines.append(t[1:])
                        hunk.body.append(("-", t[1:]))
                        o_left -= 1
                    elif tag == b"+":
                        hunk.new_lines.append(t[1:])
                        hunk.body.append(("+", t[1:]))
                        n_left -= 1
                    elif tag == b"\\":
                        pass
                    else:
                        break
                    hunk.text.append(lines[i])
                    i += 1
                    if i < n and lines[i].startswith(b"\\"):
                        hunk.text.append(lines[i])
                        prev = hunk.body[-1][0] if hunk.body else " "
                        if prev in (" ", "-"):
                            _strip_nl_marker(hunk.old_lines)
                        if prev in (" ", "+"):
                            _strip_nl_marker(hunk.new_lines)
                        if hunk.body:
                            tg, bl = hunk.body[-1]
                            hunk.body[-1] = (tg, bl[:-1] if bl.endswith(b"\n") else bl)
                        i += 1
                if o_left > 0 or n_left > 0:
                    at = min(i, n - 1) if i < n else hunk_line
                    raise PatchError(
                        f"malformed patch at line {at + 1}: "
                        f"{_show_line(lines[at]) if i < n else ''}"
                    )
                fp.hunks.append(hunk)
            continue
        if (
            ln.startswith(b"*** ")
            and i + 1 < n
            and lines[i + 1].startswith(b"--- ")
            and not _CTX_OLD.match(ln)
        ):
            fp = FilePatch(
                _hdr_name(ln), _hdr_name(lines[i + 1]), [ln, lines[i + 1]], kind="context"
            )
            patches.append(fp)
            normal = None
            i += 2
            while i < n and lines[i].startswith(b"***************"):
                i = _parse_ctx_hunk(lines, i, fp)
            continue
        m = _NORMAL_CMD.match(ln)
        if m:
            if normal is None:
                normal = FilePatch(None, None, pending_header, kind="normal")
                patches.append(normal)
            a1, a2, op, b1, b2 = m.groups()
            s0 = int(a1)
            e0 = int(a2) if a2 else s0
            s1 = int(b1)
            e1 = int(b2) if b2 else s1
            hunk = Hunk(0, [], 0, [], [ln], kind="normal")
            i += 1
            if op in (b"c", b"d"):
                i = _take_normal(lines, i, e0 - s0 + 1, b"< ", hunk.old_lines, hunk.text)
                if op == b"c" and i < n and lines[i].startswith(b"---"):
                    hunk.text.append(lines[i])
                    i += 1
            if op in (b"c", b"a"):
                i = _take_normal(lines, i, e1 - s1 + 1, b"> ", hunk.new_lines, hunk.text)
            hunk.old_start = s0 if op != b"a" else s0 + 1
            hunk.new_start = s1 if op != b"d" else s1 + 1
            if op == b"a":
                hunk.old_start = s0
            if op == b"d":
                hunk.new_start = s1
            normal.hunks.append(hunk)
            continue
        if ln.startswith(b"diff ") or ln.startswith(b"Index:") or ln.startswith(b"Only in"):
            normal = None
        pending_header = [ln]
        i += 1
    return [p for p in patches if p.hunks or p.kind != "normal"]


def _parse_ctx_hunk(lines: list[bytes], i: int, fp: FilePatch) -> int:
    n = len(lines)
    text = [lines[i]]
    i += 1
    if i >= n:
        return i
    m = _CTX_OLD.match(lines[i])
    if not m:
        return i
    o1 = int(m.group(1))
    text.append(lines[i])
    i += 1
    old_part: list[tuple[str, bytes]] = []
    while i < n and not _CTX_NEW.match(lines[i]):
        t = lines[i]
        if t.startswith(b"\\"):
            if old_part:
                tg, bl = old_part[-1]
                old_part[-1] = (tg, bl[:-1] if bl.endswith(b"\n") else bl)
        elif t[:2] in (b"  ", b"- ", b"! "):
            old_part.append((t[:1].decode(), t[2:]))
        else:
            break
        text.append(t)
        i += 1
    new_part: list[tuple[str, bytes]] = []
    n1 = 1
    if i < n:
        m2 = _CTX_NEW.match(lines[i])
        if m2:
            n1 = int(m2.group(1))
            text.append(lines[i])
            i += 1
            while i < n:
                t = lines[i]
                if t.startswith(b"\\"):
                    if new_part:
                        tg, bl = new_part[-1]
                        new_part[-1] = (tg, bl[:-1] if bl.endswith(b"\n") else bl)
                elif t[:2] in (b"  ", b"+ ", b"! "):
                    new_part.append((t[:1].decode(), t[2:]))
                else:
                    break
                text.append(t)
                i += 1
    old_lines = [ln for _, ln in old_part]
    if not new_part:
        new_lines = [ln for tg, ln in old_part if tg == " "]
    else:
        new_lines = [ln for _, ln in new_part]
    if not old_part:
        old_lines = [ln for tg, ln in new_part if tg == " "]
    fp.hunks.append(Hunk(o1, old_lines, n1, new_lines, text, kind="context"))
    return i


def _strip_path(name: str | None, strip: int | None) -> str | None:
    if name is None or name == "/dev/null":
        return name
    if strip is None:
        return posixpath.basename(name)
    parts = name.split("/")
    if strip >= len(parts):
        return None
    return "/".join(parts[strip:]) if strip else name


def _find_hunk(lines: list[bytes], old: list[bytes], where: int, lo: int) -> int | None:
    """Index at which ``old`` matches ``lines``, searching outward from ``where``."""
    n = len(lines)
    k = len(old)
    maxoff = max(where - lo, n - where) + 1

    def ok(pos: int) -> bool:
        return lo <= pos and pos + k <= n and lines[pos : pos + k] == old

    if ok(where):
        return where
    for d in range(1, maxoff + 1):
        if ok(where + d):
            return where + d
        if ok(where - d):
            return where - d
    return None


@command("patch")
async def patch(ctx: Context) -> int:
    spec = [
        Opt("p", "strip", "required"),
        Opt("R", "reverse"),
        Opt("i", "input", "required"),
        Opt("o", "output", "required"),
        Opt("", "dry-run"),
        Opt("N", "forward"),
        Opt("s", "silent"),
        Opt("", "quiet", dest="silent"),
        Opt("f", "force"),
        Opt("t", "batch"),
        Opt("E", "remove-empty-files"),
        Opt("b", "backup"),
        Opt("r", "reject-file", "required"),
        Opt("d", "directory", "required"),
        Opt("u", "unified"),
        Opt("n", "normal"),
        Opt("c", "context"),
        Opt("F", "fuzz", "required"),
        Opt("l", "ignore-whitespace"),
        Opt("", "no-backup-if-mismatch"),
        Opt("", "verbose"),
        HELP,
    ]
    try:
        p = parse("patch", ctx.argv[1:], spec, status=2)
    except UsageError as e:
        return await report(ctx, e)
    if p.flag("help"):
        return await usage(
            ctx,
            "Usage: patch [OPTION]... [ORIGFILE [PATCHFILE]]\n"
            "  -p NUM -R -i PATCHFILE -o FILE --dry-run -N -s -E -r FILE "
            "-d DIR",
        )
    strip: int | None = None
    ps = p.str("strip")
    if ps is not None:
        if not ps.isdigit():
            await ctx.err(f"strip count {ps} is not a number")
            return 2
        strip = int(ps)
    ops = p.operands
    target = ops[0] if ops else None
    pfile = p.str("input") or (ops[1] if len(ops) > 1 else None)
    fs = ctx.fs
    workdir = p.str("directory")
    if workdir is not None:
        if not fs.isdir(workdir):
            await ctx.err(f"Can't change to directory {workdir} : No such file or directory")
            return 2
        fs = fs.with_cwd(fs.abspath(workdir))
    try:
        pdata = (
            await read_all(ctx, pfile)
            if pfile is not None and pfile != "-"
            else await ctx.stdin.read(-1)
        )
    except BrokenPipeError:
        raise
    except OSError as exc:
        await ctx.err(f"Can't open patch file {pfile} : {exc.strerror}")
        return 2
    try:
        patches = parse_patch(pdata)
    except PatchError as exc:
        await ctx.err(f"**** {exc}")
        return 2
    silent = p.flag("silent")
    dry = p.flag("dry_run")
    reverse = p.flag("reverse")
    forward = p.flag("forward")
    outname = p.str("output")
    out_msgs: list[str] = []
    status = 0
    if not any(fp.hunks for fp in patches):
        await ctx.err("**** Only garbage was found in the patch input.")
        return 2
    for fp in patches:
        ctx.check_killed()
        old_n = _strip_path(fp.old_name, strip)
        new_n = _strip_path(fp.new_name, strip)
        creating = fp.old_name == "/dev/null" or (
            fp.hunks and all(h.old_start == 0 and not h.old_lines for h in fp.hunks)
        )
        deleting = fp.new_name == "/dev/null"
        if reverse:
            old_n, new_n = new_n, old_n
            creating, deleting = deleting, creating
        name: str | None
        if target is not None:
            name = target
        else:
            cands = [x for x in (old_n, new_n) if x and x != "/dev/null"]
            name = next((x for x in cands if fs.exists(x)), None)
            if name is None:
                if creating and cands:
                    name = new_n if new_n and new_n != "/dev/null" else cands[0]
                elif cands:
                    name = cands[0]
        if name is None:
            await ctx.stdout.write(
                b"can't find file to patch at input line 1\nNo file to patch.  Skipping patch.\n"
            )
            status = 1
            continue
        exists = fs.exists(name)
        if exists:
            try:
                data = fs.read_bytes(name)
            except BrokenPipeError:
                raise
            except OSError as exc:
                await ctx.err(f"Can't open file {name} : {exc.strerror}")
                status = 2
                continue
        elif creating:
            data = b""
        else:
            await ctx.stdout.write(
                encode(
                    f"can't find file to patch at input line 1\n"
                    f"No such file: {name}\nSkipping patch.\n"
                )
            )
            status = 1
            continue
        lines = _split_keep(data)
        verb = "checking" if dry else "patching"
        shown = name if outname is None else f"{outname} (read from {name})"
        if not silent:
            out_msgs.append(f"{verb} file {shown}\n")
        result, failed, msgs, reversed_seen, exact = _apply(lines, fp.hunks, reverse)
        if reversed_seen and not reverse:
            # every hunk would apply backwards: the patch was probably applied already
            if forward:
                out_msgs.append(
                    "Reversed (or previously applied) patch detected!  Skipping patch.\n"
                )
            else:
                out_msgs.append(
                    "Reversed (or previously applied) patch detected!  "
                    "Assume -R? [n] \nApply anyway? [n] \nSkipping patch.\n"
                )
            out_msgs.append(
                f"{len(fp.hunks)} out of {len(fp.hunks)} hunk"
                f"{'s' if len(fp.hunks) != 1 else ''} ignored"
                + (f" -- saving rejects to file {name}.rej\n" if not dry else "\n")
            )
            if not dry:
                _write_rej(fs, p.str("reject_file") or name + ".rej", fp, fp.hunks, name)
            status = max(status, 1)
            continue
        if not silent:
            out_msgs.extend(msgs)
        if failed:
            total = len(fp.hunks)
            rej = p.str("reject_file") or name + ".rej"
            msg = f"{len(failed)} out of {total} hunk{'s' if total != 1 else ''} FAILED"
            if dry:
                out_msgs.append(msg + "\n")
            else:
                out_msgs.append(msg + f" -- saving rejects to file {rej}\n")
                _write_rej(fs, rej, fp, failed, name)
            status = max(status, 1)
        if dry:
            continue
        payload = b"".join(result)
        want_backup = p.flag("backup") or (
            not exact and exists and outname is None and not p.flag("no_backup_if_mismatch")
        )
        if want_backup:
            try:
                fs.write_bytes(name + ".orig", data)
            except OSError:
                pass
        try:
            if outname is not None:
                fs.write_bytes(outname, payload)
            elif deleting and not payload or not payload and p.flag("remove_empty_files"):
                fs.unlink(name)
            else:
                if exists:
                    st = fs.stat(name)
                    fs.write_bytes(name, payload)
                    fs.chmod(name, _stat.S_IMODE(st.st_mode))
                else:
                    parent = posixpath.dirname(fs.abspath(name))
                    if not fs.isdir(parent):
                        fs.mkdir(parent, parents=True, exist_ok=True)
                    fs.write_bytes(name, payload)
        except BrokenPipeError:
            raise
        except OSError as exc:
            await ctx.err(f"{name}: {exc.strerror}")
            status = 2
    await ctx.stdout.write(encode("".join(out_msgs)))
    return status


def _apply(
    lines: list[bytes], hunks: list[Hunk], reverse: bool
) -> tuple[list[bytes], list[Hunk], list[str], bool, bool]:
    """Apply hunks; returns (lines, failed hunks, messages, looks-reversed, exact)."""
    out = list(lines)
    failed: list[Hunk] = []
    msgs: list[str] = []
    last_offset = 0
    growth = 0
    lo = 0
    reversed_ok = 0
    exact = True
    for num, h in enumerate(hunks, 1):
        old, new = (h.new_lines, h.old_lines) if reverse else (h.old_lines, h.new_lines)
        start = h.new_start if reverse else h.old_start
        stated = max(start - 1, 0) if old else start
        where = max(0, min(stated + last_offset + growth, len(out)))
        pos = _find_hunk(out, old, where, lo)
        if pos is None:
            exact = False
            if new and _find_hunk(out, new, where, 0) is not None:
                reversed_ok += 1
            failed.append(h)
            msgs.append(f"Hunk #{num} FAILED at {start + last_offset}.\n")
            continue
        out[pos : pos + len(old)] = new
        delta = pos - growth - stated
        if delta:
            exact = False
            at = pos + 1 if old else pos + 1
            msgs.append(
                f"Hunk #{num} succeeded at {at} "
                f"(offset {delta} line{'s' if abs(delta) != 1 else ''}).\n"
            )
        last_offset = delta
        growth += len(new) - len(old)
        lo = pos + len(new)
    all_reversed = bool(hunks) and reversed_ok == len(hunks) and len(failed) == len(hunks)
    return out, failed, msgs, all_reversed, exact


def _write_rej(fs: object, path: str, fp: FilePatch, hunks: list[Hunk], name: str) -> None:
    parts: list[bytes] = []
    if fp.kind == "unified":
        parts = [encode(f"--- {name}\n+++ {name}\n")]
    elif fp.kind == "context":
        parts = [encode(f"*** {name}\n--- {name}\n")]
    for h in hunks:
        parts.extend(h.text)
    try:
        fs.write_bytes(path, b"".join(parts))  # type: ignore[attr-defined]
    except OSError:
        pass


# -------------------------------------------------------------------------------------- cmp


@command("cmp")
async def cmp(ctx: Context) -> int:
    spec = [
        Opt("b", "print-bytes"),
        Opt("i", "ignore-initial", "required"),
        Opt("l", "verbose"),
        Opt("n", "bytes", "required"),
        Opt("s", "quiet"),
        Opt("", "silent", dest="quiet"),
        HELP,
    ]
    try:
        p = parse("cmp", ctx.argv[1:], spec, status=2)
    except UsageError as e:
        return await report(ctx, e)
    if p.flag("help"):
        return await usage(
            ctx,
            "Usage: cmp [OPTION]... FILE1 [FILE2 [SKIP1 [SKIP2]]]\n"
            "Compare two files byte by byte.\n  -b -i SKIP -l -n LIMIT -s",
        )
    ops = p.operands
    if not ops:
        await ctx.err("missing operand after 'cmp'")
        await ctx.stderr.write(b"cmp: Try 'cmp --help' for more information.\n")
        return 2
    if len(ops) > 4:
        await ctx.err(f"extra operand '{ops[4]}'")
        await ctx.stderr.write(b"cmp: Try 'cmp --help' for more information.\n")
        return 2
    n0 = ops[0]
    n1 = ops[1] if len(ops) > 1 else "-"
    skips = [0, 0]
    ig = p.str("ignore_initial")
    from pocketos.commands.text_bin import _parse_num

    if ig is not None:
        parts = ig.split(":", 1)
        vals = [_parse_num(x) for x in parts]
        if any(v is None for v in vals):
            await ctx.err(f"invalid --ignore-initial value '{ig}'")
            return 2
        skips = [vals[0] or 0, (vals[1] if len(vals) > 1 else vals[0]) or 0]
    for k, s in enumerate(ops[2:4]):
        v = _parse_num(s)
        if v is None:
            await ctx.err(f"invalid --ignore-initial value '{s}'")
            return 2
        skips[k] = v
    limit: int | None = None
    if p.str("bytes") is not None:
        limit = _parse_num(p.str("bytes") or "")
        if limit is None:
            await ctx.err(f"invalid --bytes value '{p.str('bytes')}'")
            return 2
    quiet = p.flag("quiet")
    verbose = p.flag("verbose")
    if quiet and verbose:
        await ctx.err("options -l and -s are incompatible")
        return 2
    datas = []
    for k, name in enumerate((n0, n1)):
        try:
            if limit is not None:
                datas.append(await read_prefix(ctx, name, skips[k] + limit))
            else:
                datas.append(await read_all(ctx, name))
        except BrokenPipeError:
            raise
        except OSError as exc:
            await ctx.err(f"{name}: {exc.strerror}")
            return 2
    a = datas[0][skips[0] :]
    b = datas[1][skips[1] :]
    if limit is not None:
        a, b = a[:limit], b[:limit]
    if n0 == n1 and n0 != "-" and skips[0] == skips[1]:
        return 0
    m = min(len(a), len(b))
    if verbose:
        width = len(str(m if m else 1))
        diffs: list[str] = []
        for i in range(m):
            if a[i] != b[i]:
                if p.flag("print_bytes"):
                    diffs.append(
                        f"{i + 1:>{width}} {a[i]:3o} {_pb(a[i]):<4} {b[i]:3o} {_pb(b[i])}\n"
                    )
                else:
                    diffs.append(f"{i + 1:>{width}} {a[i]:3o} {b[i]:3o}\n")
        await ctx.stdout.write(encode("".join(diffs)))
        if len(a) != len(b):
            short = n0 if len(a) < len(b) else n1
            await _eof(ctx, short, m, a if len(a) < len(b) else b, verbose=True)
            return 1
        return 1 if diffs else 0
    first = -1
    if a[:m] != b[:m]:
        lo, hi = 0, m
        # find the first differing byte quickly
        step = 4096
        i = 0
        while i < m:
            j = min(m, i + step)
            if a[i:j] != b[i:j]:
                lo, hi = i, j
                break
            i = j
        for k in range(lo, hi):
            if a[k] != b[k]:
                first = k
                break
    if first >= 0:
        if not quiet:
            line = a[:first].count(b"\n") + 1
            unit = "byte" if _localized(ctx) or p.flag("print_bytes") else "char"
            msg = f"{n0} {n1} differ: {unit} {first + 1}, line {line}"
            if p.flag("print_bytes"):
                msg += f" is {a[first]:3o} {_pb(a[first])} {b[first]:3o} {_pb(b[first])}"
            await ctx.stdout.write(encode(msg + "\n"))
        return 1
    if len(a) != len(b):
        if not quiet:
            short = n0 if len(a) < len(b) else n1
            await _eof(ctx, short, m, a if len(a) < len(b) else b)
        return 1
    return 0


def _localized(ctx: Context) -> bool:
    """True under a real locale (e.g. en_US.UTF-8), where GNU cmp says "byte" rather than
    the C locale's "char"."""
    env = ctx.env
    loc = env.get("LC_ALL") or env.get("LC_MESSAGES") or env.get("LANG") or "C"
    return loc not in ("C", "POSIX") and not loc.startswith("C.")


def _pb(c: int) -> str:
    """cmp -b rendering of a byte (like ``cat -v``)."""
    s = ""
    if c >= 128:
        s = "M-"
        c -= 128
    if c < 32:
        return s + "^" + chr(c + 64)
    if c == 127:
        return s + "^?"
    return s + chr(c)


async def _eof(ctx: Context, name: str, nbytes: int, data: bytes, verbose: bool = False) -> None:
    if nbytes == 0:
        await ctx.err(f"EOF on {name} which is empty")
        return
    if verbose:
        await ctx.err(f"EOF on {name} after byte {nbytes}")
        return
    lines = data[:nbytes].count(b"\n")
    if data[:nbytes].endswith(b"\n"):
        await ctx.err(f"EOF on {name} after byte {nbytes}, line {lines}")
    else:
        await ctx.err(f"EOF on {name} after byte {nbytes}, in line {lines + 1}")


def _probe(fs: FsView, path: str) -> tuple[bool, OSError | None]:
    """Whether ``path`` exists, and the error when it cannot be told apart from "missing"."""
    if path == "-":
        return True, None
    try:
        fs.stat(path)
        return True, None
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return False, None
        return False, exc
