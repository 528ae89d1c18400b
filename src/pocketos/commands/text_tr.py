"""tr: translate, squeeze and delete bytes (sets with ranges, escapes, classes, [c*n])."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pocketos.commands import command
from pocketos.commands._args import Opt, UsageError, parse, report
from pocketos.commands.text_common import (
    encode,
    try_help,
    usage,
)

if TYPE_CHECKING:
    from pocketos.kernel.process import Context


HELP = Opt("", "help")


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
                            cnt = _repeat_count(num) if num else 0
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


#: GNU's largest repeat count in ``[c*n]`` (one less than the largest 64-bit number)
_MAX_REPEAT = (1 << 64) - 2


def _repeat_count(num: str) -> int:
    """The ``n`` of ``[c*n]``: decimal, octal with a leading 0; GNU's error otherwise."""
    try:
        cnt = int(num, 8) if num.startswith("0") else int(num)
    except ValueError:  # 8 or 9 in an octal count, or more digits than int() reads
        cnt = -1
    if not 0 <= cnt <= _MAX_REPEAT:
        raise TrError(f"invalid repeat count '{num}' in [c*n] construct")
    return cnt


def _expand_fills(items: list[int | tuple[str, int | None]], target: int) -> list[int]:
    """String2 with its ``[c*n]``/``[c*]`` spelled out. Only its first ``target`` bytes
    (set1's length) can translate anything, so a repeat is spelled out to at most
    ``target + 1`` copies (one more keeps the list longer than set1 when it was): the
    result agrees with the whole one where it is used, and ``[b*2000000000]`` costs
    nothing."""
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
                res.extend([c] * min(cnt[1] or 0, target + 1))
            k += 2
            continue
        assert isinstance(it, int)
        res.append(it)
        k += 1
    return res


@dataclass(frozen=True)
class _Plan:
    translate: bool
    table: bytes
    delete_set: bytes
    sq_re: re.Pattern[bytes] | None
    sq_set: frozenset[int]


def _plan(ops: tuple[str, ...], delete: bool, squeeze: bool, comp: bool, truncate: bool) -> _Plan:
    """What ``tr`` does to each byte, worked out once per set of operands and flags (a
    script calls the same ``tr`` again and again); raises TrError."""
    raw1, cls1 = parse_set(encode(ops[0]), False)
    s1 = [x for x in raw1 if isinstance(x, int)]
    s2: list[int] = []
    cls2: list[str] = []
    if len(ops) > 1:
        raw2, cls2 = parse_set(encode(ops[1]), True)
    if comp:
        present = set(s1)
        s1 = [c for c in range(256) if c not in present]
    translate = len(ops) > 1 and not delete
    table = bytes(range(256))
    if translate:
        s2 = _expand_fills(raw2, len(s1))
        if not s2 and s1:
            raise TrError("when not truncating set1, string2 must be non-empty")
        if truncate:
            s1 = s1[: len(s2)]
        elif len(s2) < len(s1):
            s2 = s2 + [s2[-1]] * (len(s1) - len(s2))
        bad = [c for c in cls2 if c not in ("upper", "lower")]
        if bad:
            raise TrError(
                "when translating, the only character classes that may appear in\n"
                "string2 are 'upper' and 'lower'"
            )
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
    return _Plan(translate, table, delete_set, sq_re, frozenset(sq_set))


#: plans of short operands kept (a long operand is worked out each time, not held)
_cached_plan = functools.lru_cache(maxsize=64)(_plan)
_CACHED_OPERANDS = 256


#: tr's options (parse() only reads them: one list for every call)
_SPEC = [
    Opt("c", "complement"),
    Opt("C", dest="complement"),
    Opt("d", "delete"),
    Opt("s", "squeeze-repeats"),
    Opt("t", "truncate-set1"),
    HELP,
]


@command("tr")
async def tr(ctx: Context) -> int:
    argv = ctx.argv
    if len(argv) == 3 and argv[1][:1] != "-" and argv[2][:1] != "-":
        # the common ``tr SET1 SET2`` (no option) needs no option parser
        return await _translate(ctx, argv[1:], False, False, False, False)
    try:
        p = parse("tr", argv[1:], _SPEC)
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
        await try_help(ctx, "tr")
        return 1
    maxops = 2 if not delete or squeeze else 1
    if len(ops) > maxops:
        await ctx.err(f"extra operand '{ops[maxops]}'")
        if delete and not squeeze and len(ops) == 2:  # GNU says it for two operands only
            await ctx.stderr.write(
                b"Only one string may be given when deleting without squeezing repeats.\n"
            )
        await try_help(ctx, "tr")
        return 1
    return await _translate(ctx, ops, delete, squeeze, comp, p.flag("truncate_set1"))


async def _translate(
    ctx: Context, ops: list[str], delete: bool, squeeze: bool, comp: bool, truncate: bool
) -> int:
    """Copy stdin to stdout through the sets ``ops`` (their number already checked)."""
    try:
        key = (tuple(ops), delete, squeeze, comp, truncate)
        short = sum(len(o) for o in ops) <= _CACHED_OPERANDS
        plan = _cached_plan(*key) if short else _plan(*key)
    except TrError as exc:
        await ctx.err(str(exc))
        return 1
    translate = plan.translate
    table, delete_set, sq_re, sq_set = plan.table, plan.delete_set, plan.sq_re, plan.sq_set
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
