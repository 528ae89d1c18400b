"""Translate awk extended regular expressions (POSIX ERE plus gawk operators) to Python ``re``."""

from __future__ import annotations

import re

from pocketos.lib import safe_regex
from pocketos.lib.safe_regex import SafePattern

__all__ = ["AwkRegexError", "compile_ere", "translate"]


class AwkRegexError(Exception):
    pass


_CLASSES = {
    "alpha": "a-zA-Z",
    "digit": "0-9",
    "alnum": "0-9a-zA-Z",
    "upper": "A-Z",
    "lower": "a-z",
    "space": " \\t\\n\\r\\f\\v",
    "blank": " \\t",
    "punct": "!-/:-@\\[-`{-~",
    "print": " -~",
    "graph": "!-~",
    "cntrl": "\\x00-\\x1f\\x7f",
    "xdigit": "0-9A-Fa-f",
    "word": "0-9a-zA-Z_",
}

_SIMPLE_ESC = {
    "n": "\\n",
    "t": "\\t",
    "r": "\\r",
    "f": "\\f",
    "v": "\\v",
    "a": "\\x07",
    "b": "\\x08",
    "/": "/",
    '"': '"',
    "y": "\\b",
    "B": "\\B",
    "<": "\\b(?=\\w)",
    ">": "\\b(?<=\\w)",
    "s": "\\s",
    "S": "\\S",
    "w": "\\w",
    "W": "\\W",
    "`": "\\A",
    "'": "\\Z",
}


def _bracket(pat: str, i: int) -> tuple[str, int]:
    """Translate a bracket expression starting at ``pat[i] == '['``; return (text, next index)."""
    n = len(pat)
    j = i + 1
    out = ["["]
    if j < n and pat[j] == "^":
        out.append("^")
        j += 1
    first = True
    while True:
        if j >= n:
            raise AwkRegexError("unterminated [")
        c = pat[j]
        if c == "]" and not first:
            out.append("]")
            return "".join(out), j + 1
        first = False
        if c == "[" and j + 1 < n and pat[j + 1] in ":.=":
            kind = pat[j + 1]
            end = pat.find(kind + "]", j + 2)
            if end < 0:
                raise AwkRegexError("unterminated character class")
            name = pat[j + 2 : end]
            if kind == ":":
                if name not in _CLASSES:
                    raise AwkRegexError("invalid character class")
                out.append(_CLASSES[name])
            else:
                out.append(re.escape(name))
            j = end + 2
            continue
        if c == "\\" and j + 1 < n:
            d = pat[j + 1]
            if d in "ntrfvab":
                out.append(_SIMPLE_ESC[d])
            else:
                out.append(re.escape(d) if not d.isalnum() else d)
            j += 2
            continue
        if c in "[&~|-" and not (
            c == "-" and out[-1] not in ("[", "^") and j + 1 < n and pat[j + 1] != "]"
        ):
            out.append("\\" + c)
        elif c == "\\":
            out.append("\\\\")
        else:
            out.append(c)
        j += 1


_INTERVAL = re.compile(r"\{(\d*)(,?)(\d*)\}")


def translate(pat: str) -> str:
    """Return Python ``re`` source equivalent to the awk ERE ``pat``."""
    out: list[str] = []
    i = 0
    n = len(pat)
    last = -1  # index in ``out`` where the last repeatable item starts (-1: none)
    repeated = False  # the last item already carries a repetition operator
    groups: list[int] = []

    def atom(text: str) -> None:
        nonlocal last, repeated
        last = len(out)
        repeated = False
        out.append(text)

    def anchor(text: str) -> None:
        nonlocal last, repeated
        last = -1
        repeated = False
        out.append(text)

    def repeat(op: str) -> None:
        nonlocal repeated
        if last < 0:
            atom(re.escape(op[0]) + op[1:])
            return
        if repeated:
            out[last:] = ["(?:" + "".join(out[last:]) + ")"]
        out.append(op)
        repeated = True

    while i < n:
        c = pat[i]
        if c == "\\":
            if i + 1 >= n:
                atom("\\\\")
                i += 1
                continue
            d = pat[i + 1]
            i += 2
            if d in _SIMPLE_ESC:
                if d in "yB<>`'":
                    anchor(_SIMPLE_ESC[d])
                else:
                    atom(_SIMPLE_ESC[d])
            elif d in "01234567":
                k = i
                while k < n and k < i + 2 and pat[k] in "01234567":
                    k += 1
                atom(re.escape(chr(int(pat[i - 1 : k], 8) & 0xFF)))
                i = k
            else:
                atom(re.escape(d))
            continue
        if c == "[":
            text, i = _bracket(pat, i)
            atom(text)
            continue
        if c == "{":
            m = _INTERVAL.match(pat, i)
            if m and last >= 0 and (m.group(1) or (m.group(3) and m.group(2))):
                lo = m.group(1) or "0"
                repeat("{" + lo + m.group(2) + m.group(3) + "}")
                i = m.end()
                continue
            atom("\\{")
            i += 1
            continue
        if c in "*+?":
            repeat(c)
            i += 1
            continue
        if c == "$":
            anchor("\\Z")
            i += 1
            continue
        if c == "^":
            anchor("^")
            i += 1
            continue
        if c == "(":
            if i + 1 < n and pat[i + 1] == ")":
                atom("(?:)")
                i += 2
                continue
            groups.append(len(out))
            out.append("(")
            last = -1
            i += 1
            continue
        if c == ")":
            if not groups:
                raise AwkRegexError("Unmatched ) or \\)")
            start = groups.pop()
            out.append(")")
            last = start
            repeated = False
            i += 1
            continue
        if c == "|":
            anchor("|")
            i += 1
            continue
        if c == ".":
            atom(".")
        elif c in "#&~ \t\n-":
            atom(re.escape(c))
        else:
            atom(c)
        i += 1
    return "".join(out)


_cache: dict[tuple[str, int], SafePattern] = {}


def compile_ere(pat: str, flags: int = 0) -> SafePattern:
    """Compile an awk ERE into a pattern whose matches are bounded in time (see safe_regex)."""
    key = (pat, flags)
    r = _cache.get(key)
    if r is None:
        try:
            r = safe_regex.compile(translate(pat), re.DOTALL | flags)
        except re.error as exc:
            raise AwkRegexError(str(exc))
        if len(_cache) > 2000:
            _cache.clear()
        _cache[key] = r
    return r
