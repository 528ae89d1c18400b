"""A main rule that only accumulates numeric fields, run over whole blocks of records.

Programs such as ``{s += $2}``, ``{s += $2; n++}`` or ``$3 > x {c++}`` spend nearly all their
time converting one field per record. For them the compiler makes a :class:`BlockPlan`: each
block of newline-terminated records is handled with C-level string operations (one regular
expression pulls field k out of every line, ``int``/``float`` convert the fields, ``reduce``
adds them in record order), with awk's conversions kept exactly:

- a field made only of digits and signs that ``int`` accepts, or only of digits, signs, dots
  and exponents that ``float`` accepts, is a plain decimal: its value is the one ``strtod``
  gives, and it looks numeric in a comparison;
- anything else (leading blanks, ``3abc``, ``0x10``, ``+inf``, non-ASCII text) goes through the
  generic conversion of :mod:`values`, field by field;
- sums are the sequential double additions awk makes: integers whose partial sums stay below
  2**53 are added exactly in one step (every partial sum is then exact in a double too),
  everything else is added one by one in order;
- a line without field k has ``$k == ""``: it adds nothing to a sum and is compared as the
  empty string.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from functools import reduce
from itertools import compress
from typing import Any

from pocketos.commands._awk.parser import Node, Program
from pocketos.commands._awk.values import (
    EMPTY,
    StrNum,
    cmp_eq,
    cmp_ge,
    cmp_gt,
    cmp_le,
    cmp_lt,
    cmp_ne,
    num,
    numval,
)

__all__ = ["BlockPlan", "block_plan", "increment", "unparen"]

#: 2**53: integers below it are exact in a double
_EXACT = 9007199254740992
#: the highest field index the plan handles (the extraction regex repeats a group k-1 times)
MAX_FIELD = 64
#: variables that are not plain accumulators (special, per record, or builtin arrays)
_NOT_PLAIN = {
    "FS",
    "OFS",
    "ORS",
    "RS",
    "SUBSEP",
    "CONVFMT",
    "OFMT",
    "NR",
    "FNR",
    "NF",
    "FILENAME",
    "RSTART",
    "RLENGTH",
    "ARGC",
    "RT",
    "ENVIRON",
    "ARGV",
    "PROCINFO",
}
_CMP: dict[str, Callable[[Any, Any], bool]] = {
    "<": cmp_lt,
    "<=": cmp_le,
    ">": cmp_gt,
    ">=": cmp_ge,
    "==": cmp_eq,
    "!=": cmp_ne,
}
#: ``field OP value`` as a method of the value: ``$k > v`` is ``v.__lt__(field)``
_RMETHOD = {
    "<": "__gt__",
    "<=": "__ge__",
    ">": "__lt__",
    ">=": "__le__",
    "==": "__eq__",
    "!=": "__ne__",
}
_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}
_INT_CHARS = b"0123456789+-"
_FLOAT_CHARS = b"0123456789+-.eE"


class BlockPlan:
    """What the main rule does to one record: an optional test ``$k OP value`` and the
    accumulations of its action (``var += $k`` or ``var++``), in statement order."""

    __slots__ = ("test", "accums", "prints", "fields", "_extractors", "_splitters")

    def __init__(
        self,
        test: tuple[str, int, Node] | None,
        accums: list[tuple[str, int | None]],
        prints: tuple[int, ...] | None = None,
    ):
        self.test = test
        self.accums = accums
        #: the rule is ``{print $i, $j, ...}`` (``(0,)``: ``{print}``)
        self.prints = prints
        needed = {k for _, k in accums if k is not None}
        if test is not None:
            needed.add(test[1])
        self.fields = sorted(needed)
        self._extractors: dict[tuple[str, int], re.Pattern[str]] = {}
        self._splitters: dict[tuple[str, tuple[int, ...]], re.Pattern[str]] = {}

    # --- fields ---------------------------------------------------------------------------
    @staticmethod
    def handles_fs(fs: str) -> bool:
        """Whether fields are split by a blank run or by one literal character."""
        return fs == " " or (len(fs) == 1 and fs not in "\\\n")

    def _extractor(self, fs: str, k: int) -> re.Pattern[str]:
        pat = self._extractors.get((fs, k))
        if pat is None:
            if fs == " ":
                src = r"\n[ \t]*+(?:[^ \t\n]++[ \t]++){%d}([^ \t\n]++)" % (k - 1)  # noqa: UP031
            else:
                c = re.escape(fs)
                src = r"\n(?:[^%s\n]*+%s){%d}([^%s\n]*+)" % (c, c, k - 1, c)  # noqa: UP031
            pat = self._extractors[(fs, k)] = re.compile(src)
        return pat

    def field_values(self, blk: str, fs: str, k: int) -> list[str]:
        """Field ``k`` of every line of ``blk`` that has a non-empty one, in order."""
        if k == 0:
            return list(filter(None, blk.split("\n")))
        found = self._extractor(fs, k).findall("\n" + blk)
        if fs != " ":
            found = list(filter(None, found))
        return found

    def _splitter(self, fs: str, fields: tuple[int, ...]) -> re.Pattern[str]:
        """One match per line start: its group is field k ("" when missing) for one field
        k, else the groups are fields 1..max."""
        pat = self._splitters.get((fs, fields))
        if pat is None:
            if fs == " ":
                lead, sep, fld = r"[ \t]*+", r"[ \t]++", r"[^ \t\n]++"
            else:
                lead, sep, fld = "", re.escape(fs), r"[^%s\n]*+" % re.escape(fs)  # noqa: UP031
            if len(fields) == 1:
                skip = "(?:%s%s){%d}" % (fld, sep, fields[0] - 1)  # noqa: UP031
                src = "(?:%s%s(%s))?" % (lead, skip, fld)  # noqa: UP031
            else:
                src = ""
                for i in range(max(fields), 0, -1):
                    src = "(?:%s(%s)%s)?" % (sep if i > 1 else "", fld, src)  # noqa: UP031
                src = lead + src
            # the rest of the line is consumed so that the search goes on from its end
            pat = self._splitters[(fs, fields)] = re.compile("(?m)^" + src + r"[^\n]*+")
        return pat

    def printed(self, G: dict[str, Any], blk: str, fs: str) -> str:
        """What ``{print $i, $j, ...}`` writes for the records of ``blk``."""
        prints = self.prints
        assert prints is not None
        ors = G["V_ORS"]
        if prints == (0,):
            return (blk.replace("\n", ors) if ors != "\n" else blk) + ors
        pat = self._splitter(fs, prints)
        rows = pat.findall(blk)
        if len(prints) > 1:
            pick = operator.itemgetter(*(i - 1 for i in prints))
            # findall gives strings, not tuples, for a pattern of one group ({print $1, $1})
            rows = list(map(G["V_OFS"].join, map(pick, zip(rows) if pat.groups == 1 else rows)))
        return ors.join(rows) + ors

    # --- a block ----------------------------------------------------------------------------
    def run(self, G: dict[str, Any], blk: str, nrec: int, fs: str, out: list[str]) -> bool:
        """Apply the rule to the ``nrec`` records of ``blk`` (lines without their newlines),
        appending what it prints to ``out``. False, changing nothing, when this block needs
        the record-by-record loop."""
        if self.prints is not None:
            out.append(self.printed(G, blk, fs))
            return True
        starts: list[float] = []
        for name, k in self.accums:
            s0 = num(G["V_" + name])
            if k is not None and s0 == 0.0 and math.copysign(1.0, s0) < 0:
                return False  # -0.0 + -0.0 keeps the sign that the shortcuts below lose
            starts.append(s0)
        values = {k: self.field_values(blk, fs, k) for k in self.fields}
        numbers: dict[int, tuple[list[Any], str]] = {}

        def numbers_of(k: int) -> tuple[list[Any], str]:
            got = numbers.get(k)
            if got is None:
                got = numbers[k] = _numbers(values[k])
            return got

        mask: list[bool] | None = None
        runs = nrec  # how many records run the action
        if self.test is not None:
            op, k, rhs_node = self.test
            rhs = rhs_node[1] if rhs_node[0] == "num" else G["V_" + rhs_node[1]]
            strs = values[k]
            rv = numval(rhs)
            xs, kind = numbers_of(k)
            if kind != "any" and rv is not None:
                fl = xs if kind == "float" else list(map(float, xs))
                mask = list(map(getattr(rv, _RMETHOD[op]), fl))
            else:
                fn = _CMP[op]
                mask = [fn(StrNum(s), rhs) for s in strs]
            missing = nrec - len(strs)
            runs = sum(mask) + (missing if missing and _CMP[op](EMPTY, rhs) else 0)
        if runs == 0:
            return True
        for (name, k), s0 in zip(self.accums, starts, strict=True):
            if k is None:
                G["V_" + name] = increment(s0, runs)
                continue
            xs, kind = numbers_of(k)
            if mask is not None:
                xs = list(compress(xs, mask))
            G["V_" + name] = _add(s0, xs, kind == "int")
        return True


def _numbers(strs: list[str]) -> tuple[list[Any], str]:
    """The numeric values of input fields and how they were read: ``int`` (plain decimal
    integers), ``float`` (plain decimals) or ``any`` (awk's generic conversion)."""
    joined = "".join(strs)
    if joined.isascii():
        b = joined.encode("ascii")
        try:
            if not b.translate(None, _INT_CHARS):
                return list(map(int, strs)), "int"
            if not b.translate(None, _FLOAT_CHARS):
                return list(map(float, strs)), "float"
        except ValueError:
            pass
    return list(map(num, strs)), "any"


def _add(s0: float, xs: list[Any], ints: bool) -> float:
    """``s0 + xs[0] + xs[1] + ...`` in doubles, in order."""
    if ints and s0.is_integer() and abs(s0) + sum(map(abs, xs)) < _EXACT:
        return s0 + float(sum(xs))
    return reduce(operator.add, map(float, xs), s0)


def increment(n0: float, k: int) -> float:
    """``n0`` incremented ``k`` times in doubles."""
    if n0.is_integer() and abs(n0) + k < _EXACT:
        return n0 + k
    for _ in range(k):
        n0 += 1.0
    return n0


# --- recognising the rule ---------------------------------------------------------------------
def unparen(node: Node) -> Node:
    """``node`` without the parentheses around it."""
    while node[0] == "paren":
        node = node[1]
    return node


def _field_index(node: Node) -> int | None:
    node = unparen(node)
    if node[0] != "field":
        return None
    idx = unparen(node[1])
    if idx[0] != "num":
        return None
    k = idx[1]
    if not (0 <= k <= MAX_FIELD) or k != int(k):
        return None
    return int(k)


def block_plan(prog: Program, arrays: set[str]) -> BlockPlan | None:
    """The plan of ``prog``'s main rule, or None when it does more than accumulate."""
    if len(prog.rules) != 1 or prog.beginfile or prog.endfile:
        return None
    pattern, pattern2, action = prog.rules[0]
    if pattern2 is not None or action is None or action[0] != "block":
        return None

    def plain(name: str) -> bool:
        return name not in _NOT_PLAIN and name not in arrays and name not in prog.functions

    body = action[1]
    if pattern is None and len(body) == 1 and body[0][0] == "print" and body[0][2] is None:
        idx = [_field_index(a) for a in body[0][1]] or [0]
        if idx == [0] or all(i for i in idx):
            return BlockPlan(None, [], tuple(i or 0 for i in idx))
        return None
    accums: list[tuple[str, int | None]] = []
    for st in body:
        if st[0] != "expr":
            return None
        e = unparen(st[1])
        if e[0] in ("postinc", "preinc") and e[1] == "++":
            target, k = e[2], None
        elif e[0] == "assign" and e[1] == "+=":
            target, k = e[2], _field_index(e[3])
            if k is None:
                return None
        else:
            return None
        if target[0] != "var" or not plain(target[1]):
            return None
        accums.append((target[1], k))
    names = [n for n, _ in accums]
    if len(set(names)) != len(names):
        return None
    test: tuple[str, int, Node] | None = None
    if pattern is not None:
        p = unparen(pattern)
        if p[0] != "cmp":
            return None
        op, a, b = p[1], p[2], p[3]
        k = _field_index(a)
        other = b
        if k is None:
            k, other, op = _field_index(b), a, _FLIP[op]
        other = unparen(other)
        if k is None:
            return None
        if other[0] == "unary" and other[1] == "-" and unparen(other[2])[0] == "num":
            other = ("num", -unparen(other[2])[1])
        if other[0] == "var":
            if not plain(other[1]) or other[1] in names:
                return None
        elif other[0] != "num":
            return None
        if any(f is not None and f != k for _, f in accums):
            return None  # the fields tested and added must come from the same lines
        test = (op, k, other)
    return BlockPlan(test, accums)
