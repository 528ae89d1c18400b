"""The runtime of one awk run: the helpers behind awk's builtin functions (substr, split,
sub/gsub/gensub, match, sprintf, math, time, gawk's array sorting) on top of the record state
and the input and output streams."""

from __future__ import annotations

import calendar
import math
import re
import time
from collections.abc import Callable
from typing import Any

from pocketos.commands._awk.format import sprintf
from pocketos.commands._awk.records import _AWK_FIELDS, _LOWER, _UPPER, BIG_STRING
from pocketos.commands._awk.streams import StreamRuntime
from pocketos.commands._awk.values import (
    UNINIT,
    AwkArray,
    StrNum,
    num,
    numval,
    strnum_value,
)
from pocketos.lib import safe_regex
from pocketos.lib.safe_regex import SafePattern

__all__ = ["BIG_STRING", "AwkExit", "NextFile", "NextRecord", "Runtime"]


class NextRecord(Exception):
    pass


class NextFile(Exception):
    pass


class AwkExit(Exception):
    def __init__(self, code: int | None) -> None:
        super().__init__(code)
        self.code = code


class Runtime(StreamRuntime):
    # --- builtins -----------------------------------------------------------------------
    def substr(self, s: str, m: float, n: float | None = None) -> str:
        if m != m:
            return ""
        length = len(s)
        if m >= 1e18:
            return ""
        start = int(m) if m > -1e18 else -(10**18)
        if n is None:
            end = length
        else:
            if n != n or n <= 0:
                return ""
            cnt = int(n) if n < 1e18 else 10**18
            end = start - 1 + cnt if start >= 1 else cnt
        if start < 1:
            start = 1
        if end > length:
            end = length
        if end < start:
            return ""
        return s[start - 1 : end]

    def split(self, s: str, arr: AwkArray, fs: Any = None, seps: AwkArray | None = None) -> float:
        arr.clear()
        if seps is not None:
            seps.clear()
        if fs is None:
            fs = self.G["V_FS"]
        if isinstance(fs, SafePattern):
            if not s:
                return 0.0
            parts = (
                fs.split(s)
                if fs.groups == 0
                else safe_regex.compile("(?:" + fs.pattern + ")", fs.flags).split(s)
            )
            if seps is not None:
                for i, m in enumerate(fs.finditer(s)):
                    seps[str(i + 1)] = StrNum(m.group())
        else:
            fs = self.tostr(fs)
            if seps is not None and s:
                if fs == " ":
                    t = s.strip(" \t\n")
                    lead = s[: len(s) - len(s.lstrip(" \t\n"))]
                    trail = s[len(s.rstrip(" \t\n")) :]
                    if lead:
                        seps["0"] = StrNum(lead)
                    for i, m in enumerate(re.finditer(r"[ \t\n]+", t)):
                        seps[str(i + 1)] = StrNum(m.group())
                    if trail and t:
                        seps[str(len(_AWK_FIELDS.findall(t)))] = StrNum(trail)
                elif len(fs) == 1 and fs != "\\":
                    for i in range(s.count(fs)):
                        seps[str(i + 1)] = StrNum(fs)
                else:
                    for i, m in enumerate(self.regex(fs).finditer(s)):
                        seps[str(i + 1)] = StrNum(m.group())
            parts = self.split_with(s, fs, False)
        for i, p in enumerate(parts):
            arr[str(i + 1)] = StrNum(p)
        return float(len(parts))

    def patsplit(
        self, s: str, arr: AwkArray, pat: SafePattern, seps: AwkArray | None = None
    ) -> float:
        arr.clear()
        if seps is not None:
            seps.clear()
        pos = 0
        n = 0
        for m in pat.finditer(s):
            if m.end() == m.start():
                continue
            if seps is not None:
                seps[str(n)] = StrNum(s[pos : m.start()])
            n += 1
            arr[str(n)] = StrNum(m.group())
            pos = m.end()
        if seps is not None:
            seps[str(n)] = StrNum(s[pos:])
        return float(n)

    def fpat(self) -> str:
        return self.tostr(self.G.get("V_FPAT", "[^[:space:]]+"))

    def rmatch(self, s: str, pattern: str) -> bool:
        return self.regex(pattern).search(s) is not None

    def dynre(self, v: Any) -> SafePattern:
        if isinstance(v, SafePattern):
            return v
        return self.regex(self.tostr(v))

    def subst(self, pat: SafePattern, repl: str, target: str, glob: bool) -> tuple[float, str]:
        # decode the replacement once: & is the match, \& a literal &, \\ a backslash
        pieces: list[str | None] = []
        buf: list[str] = []
        i = 0
        n = len(repl)
        while i < n:
            c = repl[i]
            if c == "\\" and i + 1 < n and repl[i + 1] in "&\\":
                buf.append(repl[i + 1])
                i += 2
                continue
            if c == "&":
                pieces.append("".join(buf))
                buf = []
                pieces.append(None)
            else:
                buf.append(c)
            i += 1
        pieces.append("".join(buf))
        simple = len(pieces) == 1
        out: list[str] = []
        pos = 0
        count = 0
        last_end = -1
        for m in pat.finditer(target):
            st, en = m.span()
            if st == en and st == last_end:
                continue
            out.append(target[pos:st])
            if simple:
                out.append(pieces[0])  # type: ignore[arg-type]
            else:
                g = m.group()
                out.append("".join(g if p is None else p for p in pieces))
            pos = en
            last_end = en
            count += 1
            if not glob:
                break
        if not count:
            return 0.0, target
        out.append(target[pos:])
        return float(count), "".join(out)

    def gensub(self, pat: SafePattern, repl: str, how: Any, target: str) -> str:
        if how.__class__ is not float and self.tostr(how)[:1] in ("g", "G"):
            which = 0
        else:
            which = int(num(how))
            if which <= 0:
                which = 1
        out: list[str] = []
        pos = 0
        k = 0
        last_end = -1
        for m in pat.finditer(target):
            st, en = m.span()
            if st == en and st == last_end:
                continue
            k += 1
            last_end = en
            if which and k != which:
                continue
            out.append(target[pos:st])
            i = 0
            n = len(repl)
            while i < n:
                c = repl[i]
                if c == "\\" and i + 1 < n:
                    d = repl[i + 1]
                    if d.isdigit():
                        g = m.group(int(d)) if int(d) <= pat.groups else ""
                        out.append(g or "")
                    elif d == "&":
                        out.append("&")
                    elif d == "\\":
                        out.append("\\")
                    else:
                        out.append("\\" + d)
                    i += 2
                    continue
                out.append(m.group() if c == "&" else c)
                i += 1
            pos = en
            if which:
                break
        out.append(target[pos:])
        return "".join(out)

    def match(self, s: str, pat: SafePattern, arr: AwkArray | None = None) -> float:
        m = pat.search(s)
        G = self.G
        if arr is not None:
            arr.clear()
        if m is None:
            G["V_RSTART"] = 0.0
            G["V_RLENGTH"] = -1.0
            return 0.0
        G["V_RSTART"] = float(m.start() + 1)
        G["V_RLENGTH"] = float(m.end() - m.start())
        if arr is not None:
            sub = self.G["V_SUBSEP"]
            for gi in range(pat.groups + 1):
                g = m.group(gi)
                if g is None:
                    continue
                arr[str(gi)] = StrNum(g)
                arr[f"{gi}{sub}start"] = float(m.start(gi) + 1)
                arr[f"{gi}{sub}length"] = float(len(g))
        return float(m.start() + 1)

    def sprintf(self, fmt: Any, args: list[Any]) -> str:
        r = sprintf(self.tostr(fmt), args, self.G["V_CONVFMT"], self.byte_chars)
        if len(r) > 65536:
            self.note_big(len(r))
        return r

    def toupper(self, s: str) -> str:
        return s.translate(_UPPER) if self.byte_chars else s.upper()

    def tolower(self, s: str) -> str:
        return s.translate(_LOWER) if self.byte_chars else s.lower()

    def length(self, s: str) -> float:
        return float(len(s))

    def rand(self) -> float:
        return self.rng.random()

    def srand(self, seed: Any = None) -> float:
        prev = self.seed
        if seed is None:
            self.seed = float(int(time.time()))
        else:
            self.seed = num(seed)
        self.rng.seed(self.seed)
        return prev

    def log(self, x: float) -> float:
        if x < 0:
            self.pending.append(f"warning: log: received negative argument {self.tostr(x)}")
        if x < 0 or x != x:
            return -math.nan if x == x else x
        if x == 0:
            return -math.inf
        return math.log(x)

    def sqrt(self, x: float) -> float:
        if x < 0:
            self.pending.append(f"warning: sqrt: called with negative argument {self.tostr(x)}")
            return -math.nan
        return math.sqrt(x)

    def exp(self, x: float) -> float:
        try:
            return math.exp(x)
        except OverflowError:
            return math.inf

    def strftime(self, fmt: Any = None, ts: Any = None, utc: Any = None) -> str:
        f = "%a %b %e %H:%M:%S %Z %Y" if fmt is None else self.tostr(fmt)
        t = time.time() if ts is None else num(ts)
        try:
            tm = time.gmtime(int(t))
        except (OverflowError, ValueError, OSError):
            return ""
        f = f.replace("%Z", "UTC").replace("%z", "+0000")
        try:
            return time.strftime(f, tm)
        except ValueError:
            return f

    def mktime(self, spec: Any) -> float:
        parts = self.tostr(spec).split()
        try:
            y, mo, d, h, mi, s = (int(float(p)) for p in parts[:6])
        except ValueError:
            return -1.0
        try:
            return float(calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0)))
        except (OverflowError, ValueError):
            return -1.0

    def systime(self) -> float:
        return float(int(time.time()))

    def strtonum(self, v: Any) -> float:
        if v.__class__ is float:
            return v  # type: ignore[no-any-return]
        s = self.tostr(v).strip()
        m = re.match(r"[-+]?0[xX][0-9a-fA-F]+", s)
        if m:
            return float(int(m.group(), 16))
        m = re.match(r"[-+]?0[0-7]+\b(?![.eE])", s)
        if m:
            return float(int(m.group(), 8))
        return num(s)

    def keys(self, arr: AwkArray) -> list[str]:
        proc = self.G.get("V_PROCINFO")
        how = ""
        if proc is not None and "sorted_in" in proc:
            how = self.tostr(proc["sorted_in"])
        ks = list(arr)
        if not how:
            return ks
        return sort_keys(arr, ks, how, self.tostr)

    def asort(self, src: AwkArray, dest: AwkArray | None, by_index: bool) -> float:
        if by_index:
            vals: list[Any] = sorted(src, key=_index_key)
            vals = [StrNum(v) for v in vals]
        else:
            vals = sorted(src.values(), key=_value_key)
        target = dest if dest is not None else src
        target.clear()
        for i, v in enumerate(vals):
            target[str(i + 1)] = v
        return float(len(vals))


def _index_key(k: str) -> tuple[int, float, str]:
    x = strnum_value(k)
    if x is not None:
        return (0, x, k)
    return (1, 0.0, k)


def _value_key(v: Any) -> tuple[int, float, str]:
    if isinstance(v, dict):
        return (2, 0.0, "")
    x = numval(v)
    if x is not None and v is not UNINIT:
        return (0, x, "")
    if v is UNINIT:
        return (0, 0.0, "")
    return (1, 0.0, v if v.__class__ is not float else "")


def sort_keys(arr: AwkArray, ks: list[str], how: str, tostr: Callable[[Any], str]) -> list[str]:
    desc = how.endswith("desc")
    if how.startswith("@ind_num"):
        ks.sort(key=lambda k: (num(k), k), reverse=desc)
    elif how.startswith("@ind_str"):
        ks.sort(reverse=desc)
    elif how.startswith("@val_num"):
        ks.sort(key=lambda k: (num(arr[k]), k), reverse=desc)
    elif how.startswith("@val_str"):
        ks.sort(key=lambda k: (tostr(arr[k]), k), reverse=desc)
    elif how.startswith("@val_type"):
        ks.sort(key=lambda k: (_value_key(arr[k]), k), reverse=desc)
    return ks
