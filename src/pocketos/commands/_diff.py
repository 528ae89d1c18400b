"""The line matcher and output formats of diff.

The line matcher follows the classic divide-and-conquer shortest-edit-script search (forward
and backward searches meeting at a middle snake), preceded by discarding lines that cannot
match and followed by sliding change runs to canonical positions, so that hunks come out where
GNU diff puts them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pocketos.commands._args import Opt
from pocketos.commands.text_common import encode

if TYPE_CHECKING:
    from collections.abc import Iterator


HELP = Opt("", "help")


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
