"""sort, uniq, comm, join, shuf."""

from __future__ import annotations

import functools
import hashlib
import operator
import random
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from itertools import compress, islice, repeat
from typing import TYPE_CHECKING, Any

from pocketos.commands import command
from pocketos.commands._args import Opt, UsageError, parse, report
from pocketos.commands.text_common import (
    LINE_OVERHEAD,
    close_input,
    decode,
    encode,
    line_batches,
    open_file,
    read_all,
    read_prefix,
    split_lines,
    usage,
)

if TYPE_CHECKING:
    from pocketos.kernel.process import Context

HELP = Opt("", "help")
BLANKS = b" \t"
_WS_ALL = b" \t\n\v\f\r"

# ------------------------------------------------------------------------------ comparisons

_NUM_RE = re.compile(rb"[ \t]*(-?)(\d*)(?:\.(\d*))?")
_HUM_RE = re.compile(rb"[ \t]*(-?)(\d*)(?:\.(\d*))?([KMGTPEZYRQk]?)")
_GEN_RE = re.compile(
    rb"\s*([-+]?(?:inf(?:inity)?|nan|0[xX][0-9a-fA-F]*\.?[0-9a-fA-F]*(?:[pP][-+]?\d+)?|"
    rb"(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?))",
    re.IGNORECASE,
)
_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        [
            b"JAN",
            b"FEB",
            b"MAR",
            b"APR",
            b"MAY",
            b"JUN",
            b"JUL",
            b"AUG",
            b"SEP",
            b"OCT",
            b"NOV",
            b"DEC",
        ]
    )
}
_SUFFIX = {
    b"": 0,
    b"k": 1,
    b"K": 1,
    b"M": 2,
    b"G": 3,
    b"T": 4,
    b"P": 5,
    b"E": 6,
    b"Z": 7,
    b"Y": 8,
    b"R": 9,
    b"Q": 10,
}
_ZERO = Decimal(0)


def num_key(s: bytes) -> Decimal | int:
    m = _NUM_RE.match(s)
    if not m:
        return _ZERO
    sign, ip, fp = m.groups()
    if not ip and not fp:
        return _ZERO
    if (not fp or not fp.strip(b"0")) and len(ip) <= 4000:
        return -int(ip or b"0") if sign else int(ip or b"0")
    # Decimal holds any number of digits (int() refuses more than 4,300)
    return Decimal((sign or b"").decode() + (ip or b"0").decode() + "." + (fp or b"0").decode())


def human_key(s: bytes) -> tuple[int, int, Decimal]:
    m = _HUM_RE.match(s)
    if not m:
        return (0, 0, _ZERO)
    sign, ip, fp, suf = m.groups()
    if not ip and not fp:
        return (0, 0, _ZERO)
    val = Decimal((sign or b"").decode() + (ip or b"0").decode() + "." + (fp or b"0").decode())
    if val == 0:
        return (0, 0, _ZERO)
    sg = -1 if val < 0 else 1
    return (sg, sg * _SUFFIX.get(suf, 0), val)


def general_key(s: bytes) -> tuple[int, float]:
    m = _GEN_RE.match(s)
    if not m:
        return (0, 0.0)
    text = m.group(1).decode()
    try:
        if text.lower().lstrip("+-").startswith("0x"):
            v = float.fromhex(text)
        else:
            v = float(text)
    except ValueError:
        return (0, 0.0)
    if v != v:
        return (1, 0.0)
    return (2, v)


def month_key(s: bytes) -> int:
    return _MONTHS.get(s.lstrip(_WS_ALL)[:3].upper(), 0)


def _ver_order(c: int) -> int:
    if 48 <= c <= 57:
        return 0
    if 65 <= c <= 90 or 97 <= c <= 122:
        return c
    if c == 126:
        return -1
    return c + 256


def _verrevcmp(a: bytes, b: bytes) -> int:
    i = j = 0
    la, lb = len(a), len(b)
    while i < la or j < lb:
        first_diff = 0
        while (i < la and not (48 <= a[i] <= 57)) or (j < lb and not (48 <= b[j] <= 57)):
            ac = _ver_order(a[i]) if i < la else 0
            bc = _ver_order(b[j]) if j < lb else 0
            if ac != bc:
                return ac - bc
            i += 1
            j += 1
        while i < la and a[i] == 48:
            i += 1
        while j < lb and b[j] == 48:
            j += 1
        while i < la and 48 <= a[i] <= 57 and j < lb and 48 <= b[j] <= 57:
            if not first_diff:
                first_diff = a[i] - b[j]
            i += 1
            j += 1
        if i < la and 48 <= a[i] <= 57:
            return 1
        if j < lb and 48 <= b[j] <= 57:
            return -1
        if first_diff:
            return first_diff
    return 0


_SUFFIX_RE = re.compile(rb"(?:\.[A-Za-z~][A-Za-z0-9~]*)*$")


def _file_prefix_len(s: bytes) -> int:
    start = 1 if s[:1] == b"." else 0
    m = _SUFFIX_RE.search(s, start)
    return m.start() if m else len(s)


def filevercmp(a: bytes, b: bytes) -> int:
    """GNU filevercmp (version sort) on bytes."""
    if a == b:
        return 0
    if not a:
        return -1
    if not b:
        return 1
    for special in (b".", b".."):
        if a == special:
            return -1
        if b == special:
            return 1
    if a[:1] == b"." and b[:1] != b".":
        return -1
    if b[:1] == b"." and a[:1] != b".":
        return 1
    pa, pb = _file_prefix_len(a), _file_prefix_len(b)
    if pa == pb and a[:pa] == b[:pb]:
        r = _verrevcmp(a, b)
    else:
        r = _verrevcmp(a[:pa], b[:pb])
    return r if r else (-1 if a < b else (1 if a > b else 0))


# ------------------------------------------------------------------------------- key specs


@dataclass
class Key:
    sword: int = 0
    schar: int = 0
    eword: int = -1  # -1: end of line
    echar: int = 0
    skipsblanks: bool = False
    skipeblanks: bool = False
    fold: bool = False
    dictionary: bool = False
    ignore_np: bool = False
    numeric: bool = False
    general: bool = False
    human: bool = False
    month: bool = False
    version: bool = False
    rand: bool = False
    reverse: bool = False

    def has_flags(self) -> bool:
        return any(
            (
                self.skipsblanks,
                self.skipeblanks,
                self.fold,
                self.dictionary,
                self.ignore_np,
                self.numeric,
                self.general,
                self.human,
                self.month,
                self.version,
                self.rand,
                self.reverse,
            )
        )


def _apply_flags(key: Key, flags: str, where: str) -> None:
    for ch in flags:
        if ch == "b":
            if where == "s":
                key.skipsblanks = True
            else:
                key.skipeblanks = True
        elif ch == "d":
            key.dictionary = True
        elif ch == "f":
            key.fold = True
        elif ch == "g":
            key.general = True
        elif ch == "h":
            key.human = True
        elif ch == "i":
            key.ignore_np = True
        elif ch == "M":
            key.month = True
        elif ch == "n":
            key.numeric = True
        elif ch == "R":
            key.rand = True
        elif ch == "r":
            key.reverse = True
        elif ch == "V":
            key.version = True
        else:
            raise ValueError(ch)


def parse_keydef(text: str) -> Key:
    """``F[.C][OPTS][,F[.C][OPTS]]`` -> Key; ValueError(message) when invalid."""
    m = re.fullmatch(r"(\d+)(?:\.(\d+))?([A-Za-z]*)(?:,(\d+)(?:\.(\d+))?([A-Za-z]*))?", text)
    if not m:
        if re.match(r"\d+(\.\d+)?[A-Za-z]*,?$", text) and text.endswith(","):
            raise ValueError("invalid number after ',': invalid count at start of ''")
        raise ValueError(f"invalid option -- invalid field specification '{text}'")
    sf, sc, sflags, ef, ec, eflags = m.groups()
    key = Key()
    if int(sf) == 0:
        raise ValueError(f"field number is zero: invalid field specification '{text}'")
    key.sword = int(sf) - 1
    if sc is not None:
        if int(sc) == 0:
            raise ValueError(f"character offset is zero: invalid field specification '{text}'")
        key.schar = int(sc) - 1
    try:
        _apply_flags(key, sflags, "s")
        if ef is not None:
            if int(ef) == 0:
                raise ValueError(f"field number is zero: invalid field specification '{text}'")
            key.eword = int(ef) - 1
            key.echar = int(ec) if ec is not None else 0
            _apply_flags(key, eflags, "e")
    except ValueError as exc:
        if str(exc).startswith("field"):
            raise
        raise ValueError(f"invalid option -- '{exc}'") from None
    return key


def _skip_blanks(line: bytes, ptr: int, lim: int) -> int:
    while ptr < lim and line[ptr] in BLANKS:
        ptr += 1
    return ptr


def key_span(line: bytes, key: Key, tab: int | None) -> bytes:
    lim = len(line)
    ptr = 0
    sword = key.sword
    if tab is not None:
        while ptr < lim and sword > 0:
            sword -= 1
            nxt = line.find(tab, ptr)
            ptr = lim if nxt < 0 else nxt + 1
    else:
        while ptr < lim and sword > 0:
            sword -= 1
            ptr = _skip_blanks(line, ptr, lim)
            while ptr < lim and line[ptr] not in BLANKS:
                ptr += 1
    if key.skipsblanks:
        ptr = _skip_blanks(line, ptr, lim)
    beg = min(lim, ptr + key.schar)
    if key.eword < 0:
        end = lim
    else:
        eword, echar = key.eword, key.echar
        if echar == 0:
            eword += 1
        p = 0
        if tab is not None:
            while p < lim and eword > 0:
                eword -= 1
                nxt = line.find(tab, p)
                p = lim if nxt < 0 else nxt
                if p < lim and (eword or echar):
                    p += 1
        else:
            while p < lim and eword > 0:
                eword -= 1
                p = _skip_blanks(line, p, lim)
                while p < lim and line[p] not in BLANKS:
                    p += 1
        if echar != 0:
            if key.skipeblanks:
                p = _skip_blanks(line, p, lim)
            p = min(lim, p + echar)
        end = p
    if end < beg:
        return b""
    return line[beg:end]


_BLANK_RUN = re.compile(rb"[ \t]*")


def _blank_extractor(key: Key) -> Callable[[bytes], bytes]:
    """Key extraction for blank-separated fields, done with regular expressions."""
    rs = re.compile(rb"(?:[ \t]*[^ \t]*){%d}" % key.sword)
    schar, echar = key.schar, key.echar
    sb, eb = key.skipsblanks, key.skipeblanks
    to_eol = key.eword < 0
    re_end = (
        None
        if to_eol
        else re.compile(rb"(?:[ \t]*[^ \t]*){%d}" % (key.eword + (1 if echar == 0 else 0)))
    )
    blank = _BLANK_RUN

    def extract(line: bytes) -> bytes:
        m = rs.match(line)
        b = m.end() if m else 0
        if sb:
            b = blank.match(line, b).end()  # type: ignore[union-attr]
        if schar:
            b = min(len(line), b + schar)
        if re_end is None:
            return line[b:]
        m2 = re_end.match(line)
        e = m2.end() if m2 else 0
        if echar:
            if eb:
                e = blank.match(line, e).end()  # type: ignore[union-attr]
            e = min(len(line), e + echar)
        return line[b:e] if e > b else b""

    return extract


_NOT_DICT = re.compile(rb"[^ \t0-9A-Za-z]")
_NOT_PRINT = re.compile(rb"[^\x20-\x7e]")


def make_keyfunc(key: Key, tab: int | None, whole: bool, salt: bytes) -> Callable[[bytes], Any]:
    """A function line -> comparable value for one key."""

    def extract_any(line: bytes) -> bytes:
        if whole:
            return line.lstrip(BLANKS) if key.skipsblanks else line
        return key_span(line, key, tab)

    extract: Callable[[bytes], bytes] = extract_any
    if not whole and tab is None:
        extract = _blank_extractor(key)

    if key.numeric:
        return lambda ln: num_key(extract(ln))
    if key.general:
        return lambda ln: general_key(extract(ln))
    if key.human:
        return lambda ln: human_key(extract(ln))
    if key.month:
        return lambda ln: month_key(extract(ln))

    def text(ln: bytes) -> bytes:
        s = extract(ln)
        if key.dictionary:
            s = _NOT_DICT.sub(b"", s)
        elif key.ignore_np:
            s = _NOT_PRINT.sub(b"", s)
        if key.fold:
            s = s.upper()
        return s

    if key.rand:
        return lambda ln: hashlib.md5(salt + text(ln)).digest()
    if key.version:
        cmpk = functools.cmp_to_key(filevercmp)
        return lambda ln: cmpk(text(ln))
    if whole and not (key.dictionary or key.ignore_np or key.fold or key.skipsblanks):
        return lambda ln: ln
    return text


# --------------------------------------------------------------------- batch key extraction
#
# The per-line key functions above are exact but cost a few Python calls per line. For the
# common key shapes (whole line or whole fields, plain/folded text or ``-n``) the keys of all
# lines are computed at once: the lines are joined with ``\n`` and one MULTILINE expression
# yields one capture per line (``findall``), so the work per line happens in C.

BatchFn = Callable[[list[bytes]], list[Any]]

_NUM_CAPTURE = rb"[ \t]*+(-?\d*+(?:\.\d*+)?+)"
_NUM_UNSAFE_TABS = b" \t\n-.0123456789"


def _num_from_prefix(p: bytes) -> Decimal | int:
    """``num_key`` of a captured numeric prefix (0 for none: equal to ``num_key``'s zero)."""
    if p.isdigit() and len(p) <= 4000:
        return int(p)
    if not p or p == b"-":
        return 0
    return num_key(p)


def _key_regex(key: Key, tab: int | None, whole: bool) -> re.Pattern[bytes] | None:
    """A MULTILINE expression whose single group captures, at each line start, exactly what
    the line's key function would compare (the numeric prefix for ``-n``); None when the key
    has a shape this does not cover."""
    numeric = key.numeric
    if whole:
        if numeric:
            return re.compile(rb"^" + _NUM_CAPTURE, re.MULTILINE)
        return None
    if key.schar or key.echar:
        return None
    if key.eword >= 0 and key.eword < key.sword:
        return None
    nfields = None if key.eword < 0 else key.eword - key.sword + 1
    if tab is None:
        field = rb"[ \t]*+[^ \t\n]*+"
        head = rb"^(?:%s){%d}+" % (field, key.sword)
        if numeric:
            return re.compile(head + _NUM_CAPTURE, re.MULTILINE)
        lead = rb"[ \t]*+" if key.skipsblanks else b""
        body = rb"[^\n]*+" if nfields is None else rb"(?:%s){%d}+" % (field, nfields)
        return re.compile(head + lead + b"(" + body + b")", re.MULTILINE)
    if tab == 10 or (numeric and tab in _NUM_UNSAFE_TABS) or (key.skipsblanks and not numeric):
        return None
    t = re.escape(bytes([tab]))
    field = rb"[^%s\n]*+" % t
    head = rb"(?:%s%s){%d}+" % (field, t, key.sword)
    if numeric:
        return re.compile(rb"^(?:" + head + _NUM_CAPTURE + rb")?", re.MULTILINE)
    body = rb"[^\n]*+" if nfields is None else field + rb"(?:%s%s){0,%d}+" % (t, field, nfields - 1)
    return re.compile(rb"^(?:" + head + b"(" + body + rb"))?", re.MULTILINE)


def make_batch(key: Key, tab: int | None, whole: bool) -> BatchFn | None:
    """Keys of many lines at once (the same values as the per-line key function), or None
    when the key needs the per-line path."""
    if (
        key.general
        or key.human
        or key.month
        or key.version
        or key.rand
        or key.dictionary
        or key.ignore_np
    ):
        return None
    if whole and not key.numeric:
        if key.skipsblanks:
            return None
        if key.fold:
            return lambda lines: list(map(bytes.upper, lines))
        return None
    rx = _key_regex(key, tab, whole)
    if rx is None:
        return None
    numeric, fold = key.numeric, key.fold

    def batch(lines: list[bytes]) -> list[Any]:
        found = rx.findall(b"\n".join(lines))
        if numeric:
            try:
                return list(map(int, found))
            except ValueError:
                return list(map(_num_from_prefix, found))
        if fold:
            return list(map(bytes.upper, found))
        return found

    return batch


@dataclass
class SortPlan:
    passes: list[tuple[Callable[[bytes], Any], bool]]  # most significant first
    last_resort: bool
    reverse: bool
    #: per pass, a function computing the keys of all lines at once (or None)
    batches: list[BatchFn | None] | None = None
    #: per pass, True when its keys are substrings of the line (possibly case-folded)
    text_keys: list[bool] | None = None


def _pass_keys(
    lines: list[bytes], fn: Callable[[bytes], Any], batch: BatchFn | None, newline_free: bool
) -> list[Any]:
    if batch is not None and newline_free:
        return batch(lines)
    return [fn(ln) for ln in lines]


def sort_lines(lines: list[bytes], plan: SortPlan, unique: bool, sep: bytes = b"\n") -> list[bytes]:
    passes = plan.passes
    if len(passes) == 1 and not unique:
        fn, rev = passes[0]
        if fn is _IDENT:
            return sorted(lines, reverse=rev)
    batches = plan.batches or [None] * len(passes)
    # batch extraction joins lines with newlines, so no line may contain one
    newline_free = (
        sep == b"\n"
        or not any(b is not None for b in batches)
        or all(b"\n" not in ln for ln in lines)
    )
    if len(passes) == 1 and not unique:
        (fn, rev), batch = passes[0], batches[0]
        if (
            plan.last_resort
            and rev == plan.reverse
            and plan.text_keys
            and plan.text_keys[0]
            and b"\0" not in b"".join(lines)
        ):
            # one text key, ties broken by the whole line in the same direction: a single
            # sort of "key NUL line" strings orders exactly like (key, line) pairs
            kv = _pass_keys(lines, fn, batch, newline_free)
            joined = list(map(b"\0".join, zip(kv, lines, strict=True)))
            joined.sort(reverse=rev)
            return list(map(_third, map(bytes.partition, joined, repeat(b"\0"))))
        # ties by whole line first, then a stable sort on the precomputed keys (the key
        # "function" hands out the keys in list order, as list.sort asks for them)
        ordered = sorted(lines, reverse=plan.reverse) if plan.last_resort else list(lines)
        kv = _pass_keys(ordered, fn, batch, newline_free)
        ordered.sort(key=functools.partial(next, iter(kv)), reverse=rev)
        return ordered
    keys = [
        _pass_keys(lines, fn, b, newline_free) for (fn, _), b in zip(passes, batches, strict=True)
    ]
    idx = list(range(len(lines)))
    if plan.last_resort and not unique:
        idx.sort(key=lines.__getitem__, reverse=plan.reverse)
    for (_, rev), kv in zip(reversed(passes), reversed(keys), strict=True):
        idx.sort(key=kv.__getitem__, reverse=rev)
    if unique:
        out: list[bytes] = []
        prev: list[Any] | None = None
        for i in idx:
            cur = [kv[i] for kv in keys]
            if prev is None or cur != prev:
                out.append(lines[i])
                prev = cur
        return out
    return list(map(lines.__getitem__, idx))


_third = operator.itemgetter(2)


def _IDENT(ln: bytes) -> bytes:  # noqa: N802
    return ln


def compare_lines(a: bytes, b: bytes, plan: SortPlan, unique: bool) -> int:
    for fn, rev in plan.passes:
        x, y = fn(a), fn(b)
        if x != y:
            r = -1 if x < y else 1
            return -r if rev else r
    if plan.last_resort and not unique and a != b:
        r = -1 if a < b else 1
        return -r if plan.reverse else r
    return 0


_SORT_SPEC = [
    Opt("b", "ignore-leading-blanks"),
    Opt("d", "dictionary-order"),
    Opt("f", "ignore-case"),
    Opt("g", "general-numeric-sort"),
    Opt("i", "ignore-nonprinting"),
    Opt("M", "month-sort"),
    Opt("h", "human-numeric-sort"),
    Opt("n", "numeric-sort"),
    Opt("R", "random-sort"),
    Opt("", "random-source", "required"),
    Opt("r", "reverse"),
    Opt("", "sort", "required"),
    Opt("V", "version-sort"),
    Opt("c", dest="check"),
    Opt("", "check", "optional"),
    Opt("C"),
    Opt("", "compress-program", "required"),
    Opt("", "debug"),
    Opt("", "files0-from", "required"),
    Opt("k", "key", "required", multiple=True),
    Opt("m", "merge"),
    Opt("o", "output", "required"),
    Opt("s", "stable"),
    Opt("S", "buffer-size", "required"),
    Opt("t", "field-separator", "required"),
    Opt("T", "temporary-directory", "required"),
    Opt("", "parallel", "required"),
    Opt("u", "unique"),
    Opt("z", "zero-terminated"),
    HELP,
]

_SORT_WORDS = {
    "general-numeric": "g",
    "human-numeric": "h",
    "month": "M",
    "numeric": "n",
    "random": "R",
    "version": "V",
}


@command("sort")
async def sort(ctx: Context) -> int:
    try:
        p = parse("sort", ctx.argv[1:], _SORT_SPEC, status=2)
    except UsageError as e:
        return await report(ctx, e)
    if p.flag("help"):
        return await usage(
            ctx,
            "Usage: sort [OPTION]... [FILE]...\n"
            "Write sorted concatenation of all FILE(s) to standard output.\n"
            "  -b -d -f -g -h -i -M -n -R -r -V -k KEYDEF -t SEP -u -s -o FILE\n"
            "  -c -C -z -m --random-source=FILE",
        )
    gkey = Key()
    flagmap = {
        "ignore_leading_blanks": "b",
        "dictionary_order": "d",
        "ignore_case": "f",
        "general_numeric_sort": "g",
        "ignore_nonprinting": "i",
        "month_sort": "M",
        "human_numeric_sort": "h",
        "numeric_sort": "n",
        "random_sort": "R",
        "reverse": "r",
        "version_sort": "V",
    }
    for k, v in p.order:
        if k in flagmap:
            ch = flagmap[k]
            _apply_flags(gkey, ch, "s")
            if ch == "b":
                gkey.skipeblanks = True
        elif k == "sort":
            word = str(v)
            if word not in _SORT_WORDS:
                await ctx.stderr.write(
                    encode(
                        f"sort: invalid argument '{word}' for '--sort'\n"
                        "Valid arguments are:\n  - 'general-numeric'\n  - 'human-numeric'\n"
                        "  - 'month'\n  - 'numeric'\n  - 'random'\n  - 'version'\n"
                        "Try 'sort --help' for more information.\n"
                    )
                )
                return 2
            _apply_flags(gkey, _SORT_WORDS[word], "s")
    ordering = [gkey.numeric, gkey.general, gkey.human, gkey.month, gkey.version, gkey.rand]
    if sum(ordering) > 1:
        opts = "".join(c for c, f in zip("nghMVR", ordering, strict=True) if f)
        await ctx.err(f"options '-{opts}' are incompatible")
        return 2
    tab: int | None = None
    tsep = p.str("field_separator")
    if tsep is not None:
        tb = encode(tsep)
        if tb == b"\\0":
            tb = b"\0"
        if len(tb) != 1:
            if not tb:
                await ctx.err("empty tab")
            else:
                await ctx.err(f"multi-character tab '{tsep}'")
            return 2
        tab = tb[0]
    keys: list[Key] = []
    for kdef in p.list("key"):
        try:
            keys.append(parse_keydef(kdef))
        except ValueError as exc:
            await ctx.err(str(exc))
            return 2
    salt = b""
    if gkey.rand or any(k.rand for k in keys):
        src = p.str("random_source")
        if src is not None:
            try:
                salt = await read_prefix(ctx, src, 64)
            except BrokenPipeError:
                raise
            except OSError as exc:
                await ctx.err(f"{src}: {exc.strerror}")
                return 2
        else:
            salt = secrets.token_bytes(16)
    passes: list[tuple[Callable[[bytes], Any], bool]] = []
    batches: list[BatchFn | None] = []
    text_keys: list[bool] = []

    def is_text(k: Key) -> bool:
        return not (k.numeric or k.general or k.human or k.month or k.version or k.rand)

    if not keys:
        only_reverse = gkey.has_flags() and not any(
            (
                gkey.skipsblanks,
                gkey.dictionary,
                gkey.ignore_np,
                gkey.fold,
                gkey.numeric,
                gkey.general,
                gkey.human,
                gkey.month,
                gkey.version,
                gkey.rand,
            )
        )
        if gkey.has_flags() and not only_reverse:
            passes.append((make_keyfunc(gkey, tab, True, salt), gkey.reverse))
            batches.append(make_batch(gkey, tab, True))
        else:
            passes.append((_IDENT, gkey.reverse))
            batches.append(None)
        text_keys.append(is_text(gkey))
    else:
        for kd in keys:
            if not kd.has_flags():
                for attr in (
                    "skipsblanks",
                    "skipeblanks",
                    "fold",
                    "dictionary",
                    "ignore_np",
                    "numeric",
                    "general",
                    "human",
                    "month",
                    "version",
                    "rand",
                    "reverse",
                ):
                    setattr(kd, attr, getattr(gkey, attr))
            passes.append((make_keyfunc(kd, tab, False, salt), kd.reverse))
            batches.append(make_batch(kd, tab, False))
            text_keys.append(is_text(kd))
    stable = p.flag("stable")
    unique = p.flag("unique")
    plan = SortPlan(
        passes, last_resort=not stable, reverse=gkey.reverse, batches=batches, text_keys=text_keys
    )
    sep = b"\0" if p.flag("zero_terminated") else b"\n"
    files = list(p.operands)
    f0 = p.str("files0_from")
    if f0 is not None:
        try:
            raw = await read_all(ctx, f0)
        except BrokenPipeError:
            raise
        except OSError as exc:
            await ctx.err(f"cannot open '{f0}' for reading: {exc.strerror}")
            return 2
        files = [decode(x) for x in raw.split(b"\0") if x]
    if not files:
        files = ["-"]
    check = p.get("check")
    quiet_check = p.flag("C")
    if check is not None or quiet_check:
        if isinstance(check, str) and check not in ("quiet", "silent", "diagnose-first"):
            await ctx.err(f"invalid argument '{check}' for '--check'")
            return 2
        quiet = quiet_check or check in ("quiet", "silent")
        if len(files) > 1:
            await ctx.err(f"extra operand '{files[1]}' not allowed with -c")
            return 2
        try:
            data = await read_all(ctx, files[0])
        except BrokenPipeError:
            raise
        except OSError as exc:
            await ctx.err(f"cannot read: {files[0]}: {exc.strerror}")
            return 2
        lines = split_lines(data, sep)
        for i in range(1, len(lines)):
            if i % 4096 == 0:
                ctx.check_killed()
            c = compare_lines(lines[i - 1], lines[i], plan, unique)
            if c > 0 or (unique and c == 0):
                if not quiet:
                    await ctx.err(f"{files[0]}:{i + 1}: disorder: {decode(lines[i])}")
                return 1
        return 0
    chunks: list[bytes] = []
    for name in files:
        try:
            data = await read_all(ctx, name)
        except BrokenPipeError:
            raise
        except OSError as exc:
            if isinstance(exc, IsADirectoryError):
                await ctx.err(f"read failed: {name}: Is a directory")
            else:
                await ctx.err(f"cannot read: {name}: {exc.strerror}")
            return 2
        if data and not data.endswith(sep):
            data += sep
        chunks.append(data)
    lines = split_lines(b"".join(chunks), sep)
    ctx.check_killed()
    result = sort_lines(lines, plan, unique, sep)
    ctx.check_killed()
    payload = sep.join(result) + sep if result else b""
    outname = p.str("output")
    if outname is not None:
        try:
            ctx.fs.write_bytes(outname, payload)
        except BrokenPipeError:
            raise
        except OSError as exc:
            await ctx.err(f"open failed: {outname}: {exc.strerror}")
            return 2
        return 0
    await ctx.stdout.write(payload)
    return 0


# --------------------------------------------------------------------------------------- uniq


def _skip_fields(line: bytes, n: int) -> bytes:
    ptr = 0
    lim = len(line)
    for _ in range(n):
        if ptr >= lim:
            break  # nothing left to skip: a huge count must not spin
        while ptr < lim and line[ptr] in BLANKS:
            ptr += 1
        while ptr < lim and line[ptr] not in BLANKS:
            ptr += 1
    return line[ptr:]


@command("uniq")
async def uniq(ctx: Context) -> int:
    spec = [
        Opt("c", "count"),
        Opt("d", "repeated"),
        Opt("D", "", "none", dest="all_rep"),
        Opt("", "all-repeated", "optional"),
        Opt("f", "skip-fields", "required"),
        Opt("", "group", "optional"),
        Opt("i", "ignore-case"),
        Opt("s", "skip-chars", "required"),
        Opt("u", "unique"),
        Opt("z", "zero-terminated"),
        Opt("w", "check-chars", "required"),
        HELP,
    ]
    try:
        p = parse("uniq", ctx.argv[1:], spec)
    except UsageError as e:
        return await report(ctx, e)
    if p.flag("help"):
        return await usage(
            ctx,
            "Usage: uniq [OPTION]... [INPUT [OUTPUT]]\n"
            "Filter adjacent matching lines from INPUT.\n"
            "  -c -d -D -u -i -f N -s N -w N -z --group",
        )
    nums: dict[str, int | None] = {}
    for key, label in (
        ("skip_fields", "number of fields to skip"),
        ("skip_chars", "number of bytes to skip"),
        ("check_chars", "number of bytes to compare"),
    ):
        v = p.str(key)
        if v is None:
            nums[key] = None
            continue
        if not v.isdigit():
            await ctx.err(f"{v}: invalid {label}")
            return 1
        nums[key] = int(v) if len(v) <= 4000 else (1 << 63) - 1
    skip_f = nums["skip_fields"] or 0
    skip_c = nums["skip_chars"] or 0
    width = nums["check_chars"]
    count = p.flag("count")
    repeated = p.flag("repeated")
    uniq_only = p.flag("unique")
    method: str | None = None
    if p.flag("all_rep"):
        method = "none"
    ar = p.get("all_repeated")
    if ar is not None:
        method = "none" if ar is True else str(ar)
        if method not in ("none", "prepend", "separate"):
            await ctx.err(f"invalid argument '{method}' for '--all-repeated'")
            return 1
    group = p.get("group")
    gmethod: str | None = None
    if group is not None:
        gmethod = "separate" if group is True else str(group)
        if gmethod not in ("separate", "prepend", "append", "both"):
            await ctx.err(f"invalid argument '{gmethod}' for '--group'")
            return 1
        if count or repeated or uniq_only or method:
            await ctx.err("--group is mutually exclusive with -c/-d/-D/-u")
            await ctx.stderr.write(b"Try 'uniq --help' for more information.\n")
            return 1
    if count and method is not None:
        await ctx.err("printing all duplicated lines and repeat counts is meaningless")
        await ctx.stderr.write(b"Try 'uniq --help' for more information.\n")
        return 1
    fold = p.flag("ignore_case")
    sep = b"\0" if p.flag("zero_terminated") else b"\n"
    ops = p.operands
    if len(ops) > 2:
        await ctx.err(f"extra operand '{ops[2]}'")
        await ctx.stderr.write(b"Try 'uniq --help' for more information.\n")
        return 1
    inname = ops[0] if ops else "-"
    try:
        stream = open_file(ctx, inname)
    except BrokenPipeError:
        raise
    except OSError as exc:
        await ctx.err(f"{inname}: {exc.strerror}")
        return 1
    outbuf: list[bytes] = []
    outname = ops[1] if len(ops) > 1 else None

    def keyof(line: bytes) -> bytes:
        s = line[:-1] if line.endswith(sep) else line
        if skip_f:
            s = _skip_fields(s, skip_f)
        if skip_c:
            s = s[skip_c:]
        if width is not None:
            s = s[:width]
        if fold:
            s = s.lower()
        return s

    def norm(line: bytes) -> bytes:
        return line if line.endswith(sep) else line + sep

    group_lines: list[bytes] = []
    # -D and --group hold a whole group of lines, and OUTPUT is written at the end: both grow
    # with the input, so they are charged to the exec's memory budget
    held_group = ctx.budget.hold("uniq")

    def keep(parts: list[bytes]) -> None:
        ctx.charge(sum(map(len, parts)) + len(parts) * LINE_OVERHEAD, "uniq")
        outbuf.extend(parts)

    group_key: bytes | None = None
    first_group = True
    out = ctx.stdout

    # only -D/--all-repeated and --group need every line of a group; the rest count
    keep_all = method is not None or gmethod is not None
    group_count = 0

    def flush_group() -> list[bytes]:
        nonlocal first_group
        res: list[bytes] = []
        n = len(group_lines) if keep_all else (group_count if group_lines else 0)
        if not n:
            return res
        if gmethod is not None:
            if gmethod in ("prepend", "both") or (
                not first_group and gmethod in ("separate", "append")
            ):
                res.append(sep)
            res.extend(norm(x) for x in group_lines)
            first_group = False
            return res
        if method is not None:
            if n > 1:
                if method == "prepend" or (method == "separate" and not first_group):
                    res.append(sep)
                res.extend(norm(x) for x in group_lines)
                first_group = False
            return res
        if (repeated and n == 1) or (uniq_only and n > 1):
            return res
        if count:
            res.append(b"%7d " % n + norm(group_lines[0]))
        else:
            res.append(norm(group_lines[0]))
        return res

    # without per-line key options, whole lines are compared: find group boundaries of a
    # batch with C-level passes (see _uniq_fast)
    fast = not (skip_f or skip_c or width is not None or fold or keep_all)
    carry: list[Any] = [None, 0]  # the open group: first line, count so far
    try:
        async for batch in line_batches(stream, sep):
            ctx.check_killed()
            if fast:
                fout = _uniq_fast(batch, sep, carry, count, repeated, uniq_only, False)
                if fout:
                    if outname is None:
                        await out.write(b"".join(fout))
                    else:
                        keep(fout)
                continue
            emit: list[bytes] = []
            for line in batch:
                k = keyof(line)
                if group_key is not None and k == group_key:
                    if keep_all:
                        held_group.add(len(line) + LINE_OVERHEAD)
                        group_lines.append(line)
                    else:
                        group_count += 1
                    continue
                emit.extend(flush_group())
                if keep_all:
                    held_group.set(len(line) + LINE_OVERHEAD)
                group_lines = [line]
                group_count = 1
                group_key = k
            if emit:
                if outname is None:
                    await out.write(b"".join(emit))
                else:
                    keep(emit)
        tail = (
            _uniq_fast([], sep, carry, count, repeated, uniq_only, True) if fast else flush_group()
        )
        if gmethod in ("append", "both") and not first_group:
            tail.append(sep)
        if outname is None:
            await out.write(b"".join(tail))
        else:
            keep(tail)
    except BrokenPipeError:
        raise
    except OSError as exc:
        await ctx.err(f"{inname}: {exc.strerror}")
        return 1
    finally:
        close_input(ctx, stream)
        held_group.close()
    if outname is not None:
        try:
            ctx.fs.write_bytes(outname, b"".join(outbuf))
        except BrokenPipeError:
            raise
        except OSError as exc:
            await ctx.err(f"{outname}: {exc.strerror}")
            return 1
    return 0


def _uniq_fast(
    batch: list[bytes],
    sep: bytes,
    carry: list[Any],
    count: bool,
    repeated: bool,
    uniq_only: bool,
    final: bool,
) -> list[bytes]:
    """Plain ``uniq`` (with -c/-d/-u) over one batch of lines. ``carry`` holds the group
    still open from earlier batches ([first line, count]); the batch's last group stays open
    unless ``final``. Returns the output lines."""
    if batch and not batch[-1].endswith(sep):
        batch[-1] += sep  # a missing final terminator compares (and prints) as present
    prev, prev_n = carry
    seq = batch if prev is None else [prev, *batch]
    extra = 0 if prev is None else prev_n - 1
    m = len(seq)
    if not m:
        return []
    starts = [0]
    starts.extend(compress(range(1, m), map(operator.ne, islice(seq, 1, None), seq)))
    if final:
        closed = starts
        ends = [*starts[1:], m]
    else:
        closed = starts[:-1]
        ends = starts[1:]
        last = starts[-1]
        carry[0] = seq[last]
        carry[1] = m - last + (extra if last == 0 else 0)
    if not closed:
        return []
    firsts = list(map(seq.__getitem__, closed))
    if not (count or repeated or uniq_only):
        return firsts
    counts = list(map(operator.sub, ends, closed))
    counts[0] += extra
    if repeated or uniq_only:
        keep = [(n > 1 if repeated else True) and (n == 1 if uniq_only else True) for n in counts]
        firsts = list(compress(firsts, keep))
        counts = list(compress(counts, keep))
    if count:
        return list(map(operator.add, map(b"%7d ".__mod__, counts), firsts))
    return firsts


# --------------------------------------------------------------------------------------- comm


@command("comm")
async def comm(ctx: Context) -> int:
    spec = [
        Opt("1"),
        Opt("2"),
        Opt("3"),
        Opt("", "check-order"),
        Opt("", "nocheck-order"),
        Opt("", "output-delimiter", "required"),
        Opt("", "total"),
        Opt("z", "zero-terminated"),
        HELP,
    ]
    try:
        p = parse("comm", ctx.argv[1:], spec)
    except UsageError as e:
        return await report(ctx, e)
    if p.flag("help"):
        return await usage(
            ctx,
            "Usage: comm [OPTION]... FILE1 FILE2\n"
            "Compare sorted files FILE1 and FILE2 line by line.\n"
            "  -1 -2 -3 --check-order --nocheck-order --output-delimiter=STR "
            "--total -z",
        )
    ops = p.operands
    if len(ops) < 2:
        if not ops:
            await ctx.err("missing operand")
        else:
            await ctx.err(f"missing operand after '{ops[-1]}'")
        await ctx.stderr.write(b"Try 'comm --help' for more information.\n")
        return 1
    if len(ops) > 2:
        await ctx.err(f"extra operand '{ops[2]}'")
        await ctx.stderr.write(b"Try 'comm --help' for more information.\n")
        return 1
    sep = b"\0" if p.flag("zero_terminated") else b"\n"
    datas = []
    for name in ops:
        try:
            datas.append(split_lines(await read_all(ctx, name), sep))
        except BrokenPipeError:
            raise
        except OSError as exc:
            await ctx.err(f"{name}: {exc.strerror}")
            return 1
    a, b = datas
    delim_s = p.str("output_delimiter")
    delim = encode(delim_s) if delim_s is not None else b"\t"
    if delim_s == "":
        delim = b"\0"
    show = [not p.flag("1"), not p.flag("2"), not p.flag("3")]
    check = "default"
    if p.flag("check_order"):
        check = "on"
    if p.flag("nocheck_order"):
        check = "off"
    col1 = b""
    col2 = delim if show[0] else b""
    col3 = (delim if show[0] else b"") + (delim if show[1] else b"")
    prefixes = [col1, col2, col3]
    out: list[bytes] = []
    counts = [0, 0, 0]
    warned = [False, False]
    seen_unpairable = False
    status = 0
    i = j = 0
    prev: list[bytes | None] = [None, None]

    async def check_order(which: int, line: bytes) -> bool:
        nonlocal status
        if check == "off" or (check == "default" and not seen_unpairable):
            return True
        pv = prev[which]
        if pv is not None and not warned[which] and pv > line:
            warned[which] = True
            await ctx.stdout.write(b"".join(out))
            out.clear()
            await ctx.err(f"file {which + 1} is not in sorted order")
            if check == "on":
                status = 1
                return False
        return True

    while i < len(a) or j < len(b):
        if j >= len(b) or (i < len(a) and a[i] < b[j]):
            which, line = 0, a[i]
            i += 1
            seen_unpairable = True
            col = 0
        elif i >= len(a) or b[j] < a[i]:
            which, line = 1, b[j]
            j += 1
            seen_unpairable = True
            col = 1
        else:
            line = a[i]
            if not await check_order(0, a[i]) or not await check_order(1, b[j]):
                break
            prev[0], prev[1] = a[i], b[j]
            i += 1
            j += 1
            counts[2] += 1
            if show[2]:
                out.append(prefixes[2] + line + sep)
            continue
        if not await check_order(which, line):
            break
        prev[which] = line
        counts[col] += 1
        if show[col]:
            out.append(prefixes[col] + line + sep)
    if status:
        return 1
    if p.flag("total"):
        out.append(
            encode(f"{counts[0]}")
            + delim
            + encode(f"{counts[1]}")
            + delim
            + encode(f"{counts[2]}")
            + delim
            + b"total"
            + sep
        )
    await ctx.stdout.write(b"".join(out))
    if warned[0] or warned[1]:
        await ctx.err("input is not in sorted order")
        return 1
    return 0


# --------------------------------------------------------------------------------------- join


def _join_fields(line: bytes, tab: bytes | None) -> list[bytes]:
    if tab is not None:
        return line.split(tab)
    return line.split()


@command("join")
async def join(ctx: Context) -> int:
    spec = [
        Opt("a", "", "required", multiple=True),
        Opt("e", "", "required"),
        Opt("i", "ignore-case"),
        Opt("j", "", "required"),
        Opt("o", "", "required", multiple=True),
        Opt("t", "", "required"),
        Opt("v", "", "required", multiple=True),
        Opt("1", "", "required", dest="f1"),
        Opt("2", "", "required", dest="f2"),
        Opt("", "check-order"),
        Opt("", "nocheck-order"),
        Opt("", "header"),
        Opt("z", "zero-terminated"),
        HELP,
    ]
    try:
        p = parse("join", ctx.argv[1:], spec)
    except UsageError as e:
        return await report(ctx, e)
    if p.flag("help"):
        return await usage(
            ctx,
            "Usage: join [OPTION]... FILE1 FILE2\n"
            "For each pair of input lines with identical join fields, write a "
            "line to standard output.\n"
            "  -a FILENUM -e EMPTY -i -j FIELD -o FORMAT -t CHAR -v FILENUM "
            "-1 FIELD -2 FIELD --header -z",
        )
    ops = p.operands
    if len(ops) != 2:
        if len(ops) < 2:
            await ctx.err("missing operand" if not ops else f"missing operand after '{ops[-1]}'")
        else:
            await ctx.err(f"extra operand '{ops[2]}'")
        await ctx.stderr.write(b"Try 'join --help' for more information.\n")
        return 1
    f1 = f2 = 0
    for k, v in p.order:
        sv = str(v)
        if k in ("j", "f1", "f2"):
            if not sv.isdigit() or int(sv) < 1:
                await ctx.err(f"invalid field number: '{sv}'")
                return 1
            if k in ("j", "f1"):
                f1 = int(sv) - 1
            if k in ("j", "f2"):
                f2 = int(sv) - 1
    unpaired: set[int] = set()
    only_unpaired = False
    for v in p.list("a"):
        if v not in ("1", "2"):
            await ctx.err(f"invalid file number: '{v}'")
            return 1
        unpaired.add(int(v))
    for v in p.list("v"):
        if v not in ("1", "2"):
            await ctx.err(f"invalid file number: '{v}'")
            return 1
        unpaired.add(int(v))
        only_unpaired = True
    tab: bytes | None = None
    if p.str("t") is not None:
        tb = encode(p.str("t") or "")
        if len(tb) > 1 and tb != b"\\0":
            await ctx.err(f"multi-character tab '{p.str('t')}'")
            return 1
        tab = b"\0" if tb == b"\\0" else (tb if tb else b"\n")
    empty = p.str("e")
    fmt: list[tuple[int, int]] | None = None
    auto = False
    olist = p.list("o")
    if olist:
        fmt = []
        for spec_s in olist:
            for item in re.split(r"[ ,]+", str(spec_s).strip()):
                if item == "auto" and len(olist) == 1:
                    auto = True
                    continue
                if item == "0":
                    fmt.append((0, 0))
                    continue
                m = re.fullmatch(r"([12])\.(\d+)", item)
                if not m or int(m.group(2)) < 1:
                    await ctx.err(f"invalid field specifier: '{item}'")
                    return 1
                fmt.append((int(m.group(1)), int(m.group(2)) - 1))
        if auto:
            fmt = None
    fold = p.flag("ignore_case")
    sep = b"\0" if p.flag("zero_terminated") else b"\n"
    datas = []
    for name in ops:
        try:
            datas.append(split_lines(await read_all(ctx, name), sep))
        except BrokenPipeError:
            raise
        except OSError as exc:
            await ctx.err(f"{name}: {exc.strerror}")
            return 1
    la = [_join_fields(x, tab) for x in datas[0]]
    lb = [_join_fields(x, tab) for x in datas[1]]
    osep = tab if tab is not None else b" "
    empty_b = encode(empty) if empty is not None else None
    out: list[bytes] = []

    def keyf(fields: list[bytes], n: int) -> bytes:
        k = fields[n] if n < len(fields) else b""
        return k.lower() if fold else k

    auto_n = (len(la[0]) if la else 0, len(lb[0]) if lb else 0)

    def render(x: list[bytes] | None, y: list[bytes] | None) -> bytes:
        parts: list[bytes] = []
        if fmt is not None:
            for fno, idx in fmt:
                if fno == 0:
                    src = x if x is not None else y
                    n = f1 if x is not None else f2
                    val = src[n] if src is not None and n < len(src) else None
                else:
                    src = x if fno == 1 else y
                    val = src[idx] if src is not None and idx < len(src) else None
                parts.append(val if val is not None else (empty_b or b""))
            return osep.join(parts) + sep
        src = x if x is not None else y
        n = f1 if x is not None else f2
        key = src[n] if src is not None and n < len(src) else (empty_b or b"")
        parts.append(key)
        for fields, jn, cnt in ((x, f1, auto_n[0]), (y, f2, auto_n[1])):
            if auto:
                for c in range(cnt):
                    if c == jn:
                        continue
                    if fields is not None and c < len(fields):
                        parts.append(fields[c])
                    else:
                        parts.append(empty_b or b"")
            elif fields is not None:
                parts.extend(v for c, v in enumerate(fields) if c != jn)
        return osep.join(parts) + sep

    i = j = 0
    if p.flag("header") and la and lb:
        out.append(render(la[0], lb[0]))
        i = j = 1
    elif p.flag("header"):
        if la:
            out.append(render(la[0], None))
            i = 1
        if lb:
            out.append(render(None, lb[0]))
            j = 1
    while i < len(la) and j < len(lb):
        ka, kb = keyf(la[i], f1), keyf(lb[j], f2)
        if ka < kb:
            if 1 in unpaired:
                out.append(render(la[i], None))
            i += 1
        elif ka > kb:
            if 2 in unpaired:
                out.append(render(None, lb[j]))
            j += 1
        else:
            i2 = i
            while i2 < len(la) and keyf(la[i2], f1) == ka:
                i2 += 1
            j2 = j
            while j2 < len(lb) and keyf(lb[j2], f2) == kb:
                j2 += 1
            if not only_unpaired:
                for x in la[i:i2]:
                    for y in lb[j:j2]:
                        out.append(render(x, y))
            i, j = i2, j2
    if 1 in unpaired:
        out.extend(render(x, None) for x in la[i:])
    if 2 in unpaired:
        out.extend(render(None, y) for y in lb[j:])
    await ctx.stdout.write(b"".join(out))
    return 0


# --------------------------------------------------------------------------------------- shuf


@command("shuf")
async def shuf(ctx: Context) -> int:
    spec = [
        Opt("e", "echo"),
        Opt("i", "input-range", "required"),
        Opt("n", "head-count", "required"),
        Opt("o", "output", "required"),
        Opt("", "random-source", "required"),
        Opt("r", "repeat"),
        Opt("z", "zero-terminated"),
        HELP,
    ]
    try:
        p = parse("shuf", ctx.argv[1:], spec)
    except UsageError as e:
        return await report(ctx, e)
    if p.flag("help"):
        return await usage(
            ctx,
            "Usage: shuf [OPTION]... [FILE]\n"
            "  or:  shuf -e [OPTION]... [ARG]...\n"
            "  or:  shuf -i LO-HI [OPTION]...\n"
            "Write a random permutation of the input lines to standard output.\n"
            "  -n COUNT -o FILE -r --random-source=FILE -z",
        )
    sep = b"\0" if p.flag("zero_terminated") else b"\n"
    limit: int | None = None
    if p.str("head_count") is not None:
        hc = p.str("head_count") or ""
        if not hc.isdigit():
            await ctx.err(f"invalid line count: '{hc}'")
            return 1
        limit = int(hc)
    src = p.str("random_source")
    if src is not None:
        try:
            seed = await read_prefix(ctx, src, 1 << 16)
        except BrokenPipeError:
            raise
        except OSError as exc:
            await ctx.err(f"{src}: {exc.strerror}")
            return 1
        rng = random.Random(hashlib.sha256(seed).digest())
    else:
        rng = random.Random(secrets.randbits(128))
    rng_range = p.str("input_range")
    items: list[bytes] | range
    if rng_range is not None:
        m = re.fullmatch(r"(\d+)-(\d+)", rng_range)
        if (
            not m
            or max(len(m.group(1)), len(m.group(2))) > 4000
            or int(m.group(2)) + 1 < int(m.group(1))
        ):
            await ctx.err(f"invalid input range: '{rng_range}'")
            return 1
        if p.operands:
            await ctx.err(f"extra operand '{p.operands[0]}'")
            return 1
        lo, hi = int(m.group(1)), int(m.group(2))
        items = range(lo, hi + 1)
    elif p.flag("echo"):
        items = [encode(x) for x in p.operands]
    else:
        if len(p.operands) > 1:
            await ctx.err(f"extra operand '{p.operands[1]}'")
            await ctx.stderr.write(b"Try 'shuf --help' for more information.\n")
            return 1
        name = p.operands[0] if p.operands else "-"
        try:
            items = split_lines(await read_all(ctx, name), sep)
        except BrokenPipeError:
            raise
        except OSError as exc:
            await ctx.err(f"{name}: {exc.strerror}")
            return 1

    def item(i: int) -> bytes:
        v = items[i]
        return str(v).encode() if isinstance(v, int) else v

    out_parts: list[bytes] = []
    outname = p.str("output")
    if p.flag("repeat"):
        if len(items) == 0:
            if limit:
                await ctx.err("no lines to repeat")
                return 1
            return 0
        n = limit
        count = 0
        while n is None or count < n:
            out_parts.append(item(rng.randrange(len(items))) + sep)
            count += 1
            if len(out_parts) >= 1024 or (n is not None and count >= n):
                if outname is None:
                    await ctx.stdout.write(b"".join(out_parts))
                    out_parts.clear()
                ctx.check_killed()
        if outname is None:
            return 0
    else:
        total = len(items)
        k = total if limit is None else min(limit, total)
        if isinstance(items, range) and k < total:
            picks = rng.sample(items, k)
            out_parts = [str(v).encode() + sep for v in picks]
        else:
            order = list(range(total))
            rng.shuffle(order)
            out_parts = [item(i) + sep for i in order[:k]]
    payload = b"".join(out_parts)
    if outname is not None:
        try:
            ctx.fs.write_bytes(outname, payload)
        except BrokenPipeError:
            raise
        except OSError as exc:
            await ctx.err(f"{outname}: {exc.strerror}")
            return 1
        return 0
    await ctx.stdout.write(payload)
    return 0
