"""Sort keys as GNU sort defines them (-k, -t, -n/-h/-g/-M/-V/-R ...), and the sort itself: shared by sort, uniq, comm and join."""

from __future__ import annotations

import functools
import hashlib
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from itertools import repeat
from typing import TYPE_CHECKING, Any

from pocketos.commands._args import Opt

if TYPE_CHECKING:
    pass


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
    if not lines:
        return []
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
