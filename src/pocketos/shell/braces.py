"""Brace expansion: ``{a,b}`` lists and ``{1..9..2}``/``{a..z}`` sequences, charged to the
exec's memory budget before the words are made."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from pocketos.kernel import budget as budget_mod
from pocketos.shell.ast import Lit, Part, Quoted

__all__ = ["brace_expand", "simple_sequence"]


# the patterns are compiled on first use: most scripts expand no braces
@cache
def _brace_seq() -> re.Pattern[str]:
    return re.compile(r"^(-?\d+|[A-Za-z])\.\.(-?\d+|[A-Za-z])(?:\.\.(-?\d+))?$")


@cache
def _simple_seq_word() -> re.Pattern[str]:
    """A word that is one brace sequence between plain text: ``a{1..9}b``."""
    return re.compile(r"^([^{}$,*?\[\\~'\"`]*)\{([^{}]*)\}([^{}$,*?\[\\~'\"`]*)$")


#: host bytes one generated word costs, beyond its characters: as a plain string (fast path),
#: and as the per-character items of the general brace expander
_WORD_COST = 120
_ITEM_COST = 72


def _seq_budget(count: int, per_word: int) -> None:
    """Refuse a brace sequence whose words would not fit in the exec's memory, before
    making any of them (``{1..100000000}``)."""
    if count > 4096:
        budget_mod.check_alloc(count * per_word, "brace expansion")
        budget_mod.check_time()


def _grown(count: int, items: int) -> None:
    """Nested braces multiply: check what the words made so far hold."""
    if count > 4096:
        budget_mod.check_alloc(count * _ITEM_COST * (items + 4), "brace expansion")
        budget_mod.check_time()


def simple_sequence(text: str) -> list[str] | None:
    """``pre{a..b}post`` with plain text around it -> its words, made directly (no
    per-character items); ``None`` for anything else."""
    m = _simple_seq_word().match(text)
    if m is None:
        return None
    pre, body, post = m.groups()
    seq = _sequence(body, _WORD_COST + len(pre) + len(post))
    if seq is None:
        return None
    if pre or post:
        seq = [pre + x + post for x in seq]
    return seq


def brace_expand(parts: list[Part]) -> list[list[Part]]:
    """Brace expansion over parts (only unquoted literal text is scanned)."""
    # flatten into items: ("c", char) for unquoted literal chars, ("p", part) otherwise
    items: list[tuple[str, Any]] = []
    for p in parts:
        if isinstance(p, Lit):
            items.extend(("c", c) for c in p.text)
        else:
            items.append(("p", p))
    results = _brace_items(items)
    out: list[list[Part]] = []
    for r in results:
        plist: list[Part] = []
        buf: list[str] = []
        for kind, v in r:
            if kind == "c":
                buf.append(v)
            else:
                if buf:
                    plist.append(Lit("".join(buf)))
                    buf = []
                plist.append(v)
        if buf:
            plist.append(Lit("".join(buf)))
        out.append(plist)
    return out


def _brace_items(items: list[tuple[str, Any]]) -> list[list[tuple[str, Any]]]:
    n = len(items)
    i = 0
    while i < n:
        if items[i] == ("c", "$") and i + 1 < n and items[i + 1] == ("c", "{"):
            i += 2
            continue
        if items[i] == ("c", "{"):
            depth = 0
            commas: list[int] = []
            j = i
            close = -1
            while j < n:
                it = items[j]
                if it == ("c", "{"):
                    depth += 1
                elif it == ("c", "}"):
                    depth -= 1
                    if depth == 0:
                        close = j
                        break
                elif it == ("c", ",") and depth == 1:
                    commas.append(j)
                j += 1
            if close < 0:
                return [items]
            pre = items[:i]
            post = items[close + 1 :]
            if commas:
                alts: list[list[tuple[str, Any]]] = []
                start = i + 1
                for c in commas + [close]:
                    alts.append(items[start:c])
                    start = c + 1
                res: list[list[tuple[str, Any]]] = []
                for a in alts:
                    res.extend(_brace_items(pre + a + post))
                    _grown(len(res), n)
                return res
            inner = items[i + 1 : close]
            if all(k == "c" for k, _ in inner):
                seq = _sequence("".join(v for _, v in inner), _ITEM_COST * (n + 4))
                if seq is not None:
                    res = []
                    for s in seq:
                        _grown(len(res), n)
                        mid: list[tuple[str, Any]] = (
                            [("c", c) for c in s] if s else [("p", Quoted(""))]
                        )
                        res.extend(_brace_items(pre + mid + post))
                    return res
            # not an expansion: keep the brace literal, continue after it
            rest = _brace_items(items[i + 1 :])
            return [items[: i + 1] + r for r in rest]
        i += 1
    return [items]


def _sequence(s: str, per_word: int = _WORD_COST) -> list[str] | None:
    m = _brace_seq().match(s)
    if not m:
        return None
    a, b, step_s = m.group(1), m.group(2), m.group(3)
    step = abs(int(step_s)) if step_s else 1
    if step == 0:
        step = 1
    if a.lstrip("-").isdigit() and b.lstrip("-").isdigit():
        x, y = int(a), int(b)
        width = 0
        if (len(a.lstrip("-")) > 1 and a.lstrip("-").startswith("0")) or (
            len(b.lstrip("-")) > 1 and b.lstrip("-").startswith("0")
        ):
            width = max(len(a), len(b))
        rng = range(x, y + 1, step) if x <= y else range(x, y - 1, -step)
        _seq_budget(len(rng), per_word + max(len(a), len(b)))
        if width:
            return [f"{v:0{width}d}" if v >= 0 else "-" + f"{-v:0{width - 1}d}" for v in rng]
        return [str(v) for v in rng]
    if len(a) == 1 and len(b) == 1 and not a.isdigit() and not b.isdigit():
        x, y = ord(a), ord(b)
        rng = range(x, y + 1, step) if x <= y else range(x, y - 1, -step)
        return ["" if v == 92 else chr(v) for v in rng]
    return None
