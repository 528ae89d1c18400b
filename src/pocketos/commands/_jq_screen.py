"""Which jq calls are cheap enough to evaluate in this process.

libjq holds the GIL while it evaluates, so a guest's program normally runs in a helper process
that the deadline can kill (:mod:`pocketos.commands._jq_engine`). Starting that round trip
costs more than a small call itself, so a program is first screened: one built only from
paths, iteration, ``select``/``map``-style builtins, comparisons, arithmetic and construction
(no ``def``, ``reduce``, ``foreach``, recursion, ``range`` of a non-literal, regexes, paths,
assignment, multi-argument calls or ``$__loc__``/``env``/``input``) does work bounded by its
input: at most about ``size ** (iterations + 1) * growth`` steps and bytes, where ``size`` is
the bytes of input, arguments and program, ``iterations`` counts what fans out over the input
(``.[]``, ``..``, ``map``, sorting, quadratic array operations) and ``growth`` what may
multiply a value (``,``, ``+``, ``*`` by a small literal, string interpolation, escaping).
The engine evaluates in process only when that bound is under :data:`MAX_COST`; anything else
goes to the helper, whose limits stay the guarantee.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

__all__ = ["MAX_COST", "Screen", "screen_program"]

#: the most work (steps, and bytes over ``UNIT_BYTES``) evaluated in this process
MAX_COST = 1 << 17
#: host bytes assumed per unit of cost (jv values, text)
UNIT_BYTES = 64
#: longest program screened
MAX_PROGRAM = 1024
#: largest literal accepted in ``range(n)`` and next to ``*``
MAX_LITERAL = 1024

#: builtins and keywords accepted, with how many powers of the input size they may cost
_FANOUT = 1
_NAMES: dict[str, int] = {
    **dict.fromkeys(
        [
            "if",
            "then",
            "elif",
            "else",
            "end",
            "and",
            "or",
            "not",
            "as",
            "try",
            "catch",
            "length",
            "utf8bytelength",
            "type",
            "keys_unsorted",
            "values",
            "has",
            "in",
            "select",
            "empty",
            "error",
            "null",
            "true",
            "false",
            "tonumber",
            "fromjson",
            "ascii_downcase",
            "ascii_upcase",
            "ltrimstr",
            "rtrimstr",
            "startswith",
            "endswith",
            "split",
            "to_entries",
            "min",
            "max",
            "reverse",
            "first",
            "last",
            "floor",
            "ceil",
            "round",
            "sqrt",
            "fabs",
            "isnan",
            "isinfinite",
            "isnormal",
            "infinite",
            "nan",
            "nulls",
            "booleans",
            "numbers",
            "strings",
            "arrays",
            "objects",
            "iterables",
            "scalars",
            "explode",
            "ascii",
            "trim",
            "ltrim",
            "rtrim",
        ],
        0,
    ),
    **dict.fromkeys(
        [
            "keys",
            "join",
            "add",
            "any",
            "all",
            "map",
            "map_values",
            "from_entries",
            "with_entries",
            "sort",
            "sort_by",
            "group_by",
            "unique",
            "unique_by",
            "min_by",
            "max_by",
            "flatten",
            "contains",
            "inside",
            "indices",
            "index",
            "rindex",
            "del",
        ],
        _FANOUT,
    ),
}
#: builtins and formats whose output may be several times their input (escaping, encoding:
#: at most 6 bytes for one, base32 8 for 5); each multiplies the bound, so that a chain of
#: them (``@base32 | @base32 | ...``) cannot grow a value past it
_ESCAPING = {
    "tostring",
    "tojson",
    "@json",
    "@text",
    "@sh",
    "@csv",
    "@tsv",
    "@html",
    "@uri",
    "@base64",
    "@base32",
}
_FORMATS = _ESCAPING
_ESCAPE_GROWTH = 8

_TOKEN = re.compile(
    r"""(?P<ws>\s+|\#[^\n]*)
      | (?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
      | (?P<field>\.[A-Za-z_][A-Za-z0-9_]*)
      | (?P<var>\$[A-Za-z_][A-Za-z0-9_]*)
      | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:::[A-Za-z_][A-Za-z0-9_]*)*)
      | (?P<fmt>@[A-Za-z0-9_]+)
      | (?P<op>\?//|//=|\|=|\+=|-=|\*=|/=|%=|==|!=|<=|>=|//|\.\.|[.|,+\-*/%<>=()\[\]{}:;?])
      | (?P<quote>")
    """,
    re.VERBOSE,
)


class Screen:
    """What a program that passed the screen may cost: ``(size) ** (fanout + 1) * growth``."""

    __slots__ = ("fanout", "growth", "base")

    def __init__(self, fanout: int, growth: int, base: int) -> None:
        self.fanout = fanout
        self.growth = growth
        #: bytes the program brings itself (its text, its arguments)
        self.base = base

    def with_bytes(self, n: int) -> Screen:
        """The same program with ``n`` more bytes of arguments (``input``'s values)."""
        return Screen(self.fanout, self.growth, self.base + n)

    def cost(self, input_bytes: int) -> int:
        size = max(16, self.base + input_bytes)
        return int(size ** (self.fanout + 1)) * self.growth


class _Rejected(Exception):
    pass


def _tokens(src: str) -> list[tuple[str, str]]:
    """(kind, text) tokens of a jq program; a string literal is one ``str`` token and each
    ``\\(...)`` in it an ``interp`` token followed by the tokens inside."""
    out: list[tuple[str, str]] = []
    # a stack of open parentheses per nesting of string interpolation
    depth: list[int] = []
    i, n = 0, len(src)
    while i < n:
        m = _TOKEN.match(src, i)
        if m is None:
            raise _Rejected()
        kind = m.lastgroup or ""
        text = m.group()
        i = m.end()
        if kind == "ws":
            continue
        if kind == "quote":
            i = _string(src, i, out, depth)
            continue
        if depth and text == "(":
            depth[-1] += 1
        elif depth and text == ")":
            depth[-1] -= 1
            if depth[-1] == 0:
                depth.pop()
                i = _string(src, i, out, depth)
                continue
        out.append((kind, text))
    if depth:
        raise _Rejected()
    return out


def _string(src: str, i: int, out: list[tuple[str, str]], depth: list[int]) -> int:
    """Scan string text from ``i`` to its closing quote or to an interpolation's ``\\(``."""
    n = len(src)
    while i < n:
        c = src[i]
        if c == '"':
            out.append(("str", '"'))
            return i + 1
        if c == "\\":
            if src[i + 1 : i + 2] == "(":
                out.append(("interp", "\\("))
                depth.append(1)
                return i + 2
            i += 2
            continue
        i += 1
    raise _Rejected()


def _literal(tok: tuple[str, str] | None) -> float | None:
    if tok is None or tok[0] != "num" or len(tok[1]) > 24:
        return None
    try:
        v = float(tok[1])
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def _is_key(toks: list[tuple[str, str]], i: int, brackets: list[str]) -> bool:
    """Is the name at ``i`` an object key (``{name}``, ``{name: v}``), not a call?"""
    if not brackets or brackets[-1] != "{":
        return False
    before = toks[i - 1][1] if i else ""
    after = toks[i + 1][1] if i + 1 < len(toks) else ""
    return before in ("{", ",") and after in (":", ",", "}")


def screen_program(
    source: str, args: list[Any] | None = None, sort_keys: bool = False
) -> Screen | None:
    """The cost bound of ``source`` when it may run in this process, else None. ``args``:
    its ``--arg``/``--argjson``/positional values (their size counts as input)."""
    if len(source) > MAX_PROGRAM:
        return None
    arg_bytes = sum(len(json.dumps(a, default=str)) for a in args or () if a)
    try:
        toks = _tokens(source)
        fanout, growth = _measure(toks)
    except _Rejected:
        return None
    if sort_keys:
        fanout += _FANOUT
    return Screen(fanout, growth, len(source) + 2 * arg_bytes)


def _measure(toks: list[tuple[str, str]]) -> tuple[int, int]:
    fanout, growth = 0, 1
    brackets: list[str] = []
    for i, (kind, text) in enumerate(toks):
        prev = toks[i - 1] if i else None
        nxt = toks[i + 1] if i + 1 < len(toks) else None
        if kind == "name":
            if _is_key(toks, i, brackets):
                continue
            if text == "range":
                # only range(N) of a small literal
                if i + 3 >= len(toks) or nxt != ("op", "(") or toks[i + 3] != ("op", ")"):
                    raise _Rejected()
                lit = _literal(toks[i + 2])
                if lit is None or not 0 <= lit <= MAX_LITERAL:
                    raise _Rejected()
                growth *= max(1, int(lit))
                continue
            if text in _ESCAPING:
                growth *= _ESCAPE_GROWTH
                continue
            cost = _NAMES.get(text)
            if cost is None:
                raise _Rejected()
            fanout += cost
        elif kind == "num":
            if len(text) > 24:
                raise _Rejected()  # long literals go through libjq's decNumber code
        elif kind == "var":
            if text in ("$__loc__", "$ENV", "$__prog_args") or text.startswith("$__pocketos"):
                raise _Rejected()
        elif kind == "fmt":
            if text not in _FORMATS:
                raise _Rejected()
            if text in _ESCAPING:
                growth *= _ESCAPE_GROWTH
        elif kind == "interp":
            growth *= 2
        elif kind == "op":
            if text in ("(", "[", "{"):
                brackets.append(text)
                if text == "[" and nxt == ("op", "]"):
                    fanout += _FANOUT  # .[] (or an empty array: counted all the same)
            elif text in (")", "]", "}"):
                if not brackets:
                    raise _Rejected()
                brackets.pop()
            elif text == "..":
                fanout += _FANOUT
            elif text in (",", "+"):
                growth *= 2
            elif text == "-":
                fanout += _FANOUT  # array difference is quadratic
            elif text == "*":
                lit = _literal(nxt)
                if lit is None and (i < 2 or toks[i - 2][1] not in ("*", "/", "%")):
                    # ``a * 2 * b`` is ``(a * 2) * b``: a literal on the left is the whole
                    # left operand only when no operator of the same precedence precedes it
                    lit = _literal(prev)
                if lit is None or abs(lit) > MAX_LITERAL:
                    raise _Rejected()
                growth *= max(2, math.ceil(abs(lit)))
            elif text == ";" or text.endswith("=") and text not in ("==", "!=", "<=", ">="):
                raise _Rejected()
        if growth > MAX_COST:
            raise _Rejected()
    if fanout > 8:
        raise _Rejected()
    return fanout, growth
