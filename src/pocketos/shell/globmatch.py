"""Shell pattern matching in time linear in the subject (per pattern element), never
backtracking.

A pattern (``*``, ``?``, ``[...]``, extglob ``?() *() +() @() !()``) is compiled to a list of
nodes; matching runs them over *sets of positions* of the subject, each set a Python integer
used as a bit set (bit ``i``: "a match can be at position ``i``"). A character class advances
the set with one shift and mask; ``*`` fills every run of allowed characters with one addition
(the carry runs through the run); alternatives are unions. So ``[[ $x == *a*a*a*a*b ]]`` costs
a few big-integer operations per pattern element instead of Python ``re``'s backtracking, which
is exponential in the number of stars. ``*(...)``/``+(...)`` iterate to a fixed point and
``!(...)`` runs once per start position: at worst quadratic, and they call ``tick`` so that
the caller's deadline can stop them.

Used by ``[[ == ]]``, ``case``, ``${x#p}``/``${x%p}`` and ``${x/p/r}`` (see
:mod:`pocketos.shell.pattern` for the syntax and pathname globbing).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from pocketos.kernel.record import SlotRecord

__all__ = ["Matcher", "compile_nodes", "needs_engine", "nodes_for"]


class _Class(SlotRecord):
    """One character from a set, given as a Python regex character class."""

    __slots__ = ("rx",)

    def __init__(self, rx: str) -> None:
        self.rx = rx


class _Star(SlotRecord):
    __slots__ = ()


class _Group(SlotRecord):
    __slots__ = ("kind", "alts")

    def __init__(self, kind: str, alts: tuple[tuple[object, ...], ...]) -> None:
        self.kind = kind  # one of ? * + @ !
        self.alts = alts


_Node = _Class | _Star | _Group


def compile_nodes(p: str, *, extglob: bool = True) -> tuple[_Node, ...]:
    """Pattern text (backslash marks a quoted character) -> nodes."""
    from pocketos.shell.pattern import _bracket, _bracket_end, _paren_end, _split_alts

    out: list[_Node] = []
    i = 0
    n = len(p)
    while i < n:
        c = p[i]
        if c == "\\":
            out.append(_Class(re.escape(p[i + 1]) if i + 1 < n else "\\\\"))
            i += 2
            continue
        if extglob and c in "?*+@!" and i + 1 < n and p[i + 1] == "(":
            close = _paren_end(p, i + 1)
            if close > 0:
                alts = tuple(
                    compile_nodes(a, extglob=extglob) for a in _split_alts(p[i + 2 : close])
                )
                out.append(_Group(c, alts))
                i = close + 1
                continue
        if c == "*":
            while i + 1 < n and p[i + 1] == "*":
                i += 1
            out.append(_Star())
        elif c == "?":
            out.append(_Class("."))
        elif c == "[":
            end = _bracket_end(p, i)
            if end < 0:
                out.append(_Class("\\["))
            else:
                out.append(_Class(_bracket(p, i, end)))
                i = end
                continue
        else:
            out.append(_Class(re.escape(c)))
        i += 1
    return tuple(out)


def _reverse(nodes: tuple[_Node, ...]) -> tuple[_Node, ...]:
    out: list[_Node] = []
    for node in reversed(nodes):
        if isinstance(node, _Group):
            out.append(_Group(node.kind, tuple(_reverse(a) for a in node.alts)))  # type: ignore[arg-type]
        else:
            out.append(node)
    return tuple(out)


class Matcher:
    """Matches compiled nodes against one subject string."""

    def __init__(
        self,
        nodes: tuple[_Node, ...],
        s: str,
        *,
        nocase: bool = False,
        tick: Callable[[], None] | None = None,
    ) -> None:
        self.nodes = nodes
        self.s = s
        self.n = len(s)
        self.full = (1 << self.n) - 1
        self.flags = re.DOTALL | (re.IGNORECASE if nocase else 0)
        self.tick = tick
        self._masks: dict[str, int] = {}
        self._rev: Matcher | None = None

    # --- character masks ----------------------------------------------------------------------
    def _mask(self, cls: str) -> int:
        m = self._masks.get(cls)
        if m is None:
            m = self._masks[cls] = self._build_mask(cls)
        return m

    def _build_mask(self, cls: str) -> int:
        s = self.s
        if cls == "." or not s:
            return self.full
        rx = re.compile(cls, self.flags)
        if "\x00" not in s:
            # three passes at C speed: class members -> NUL, the rest -> "0", NUL -> "1"
            marked = rx.sub("\x00", s)
            bits = re.sub("[^\x00]", "0", marked).replace("\x00", "1")
        else:
            bits = "".join("1" if rx.match(ch) else "0" for ch in s)
        return int(bits[::-1], 2)

    # --- running nodes over position sets ---------------------------------------------------
    def run(self, nodes: tuple[_Node, ...], starts: int) -> int:
        cur = starts
        for node in nodes:
            if not cur:
                return 0
            if isinstance(node, _Class):
                cur = (cur & self._mask(node.rx)) << 1
            elif isinstance(node, _Star):
                c = self.full
                cur |= ((cur & c) + c) ^ c
            else:
                cur = self._group(node, cur)
        return cur

    def _alts(self, g: _Group, starts: int) -> int:
        out = 0
        for alt in g.alts:
            out |= self.run(alt, starts)  # type: ignore[arg-type]
        return out

    def _group(self, g: _Group, starts: int) -> int:
        kind = g.kind
        if kind == "@":
            return self._alts(g, starts)
        if kind == "?":
            return starts | self._alts(g, starts)
        if kind in "*+":
            reach = starts if kind == "*" else self._alts(g, starts)
            frontier = reach
            while frontier:
                if self.tick is not None:
                    self.tick()
                new = self._alts(g, frontier) & ~reach
                reach |= new
                frontier = new
            return reach
        # !(...): from each start, every end except those the alternatives reach
        out = 0
        rest = starts
        while rest:
            low = rest & -rest
            rest ^= low
            if self.tick is not None:
                self.tick()
            from_i = ((self.full << 1) | 1) & ~(low - 1)
            out |= from_i & ~self._alts(g, low)
        return out

    # --- questions ----------------------------------------------------------------------------
    def ends_from(self, start: int) -> int:
        """Bit set of every ``j`` such that ``s[start:j]`` matches."""
        return self.run(self.nodes, 1 << start)

    def fullmatch(self) -> bool:
        return bool(self.ends_from(0) >> self.n & 1)

    def _reversed(self) -> Matcher:
        if self._rev is None:
            self._rev = Matcher(_reverse(self.nodes), self.s[::-1], tick=self.tick)
            self._rev.flags = self.flags
        return self._rev

    def suffix_starts(self) -> int:
        """Bit set of every ``i`` such that ``s[i:]`` matches."""
        # bit L of the reversed run: a suffix of length L matches, i.e. from n - L
        return _flip(self._reversed().ends_from(0), self.n)

    def match_starts(self) -> int:
        """Bit set of every ``i`` at which some (possibly empty) match begins."""
        rev = self._reversed()
        return _flip(rev.run(rev.nodes, (rev.full << 1) | 1), self.n)


def _flip(bits: int, n: int) -> int:
    """Bit ``k`` -> bit ``n - k`` for ``0 <= k <= n``."""
    if not bits:
        return 0
    return int(format(bits, f"0{n + 1}b")[::-1], 2)


_NODES: dict[tuple[str, bool], tuple[_Node, ...]] = {}


def nodes_for(p: str, extglob: bool = True) -> tuple[_Node, ...]:
    key = (p, extglob)
    r = _NODES.get(key)
    if r is None:
        if len(_NODES) > 1024:
            _NODES.clear()
        r = _NODES[key] = compile_nodes(p, extglob=extglob)
    return r


def needs_engine(p: str) -> bool:
    """Could Python's ``re`` backtrack badly on this pattern? (two stars, or extglob)"""
    return p.count("*") > 1 or "(" in p
