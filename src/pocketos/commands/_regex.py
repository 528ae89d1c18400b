"""POSIX regular expressions (GNU flavour) translated into Python :mod:`re` syntax.

``bre_to_py`` handles basic regular expressions (grep, sed), ``ere_to_py`` extended ones
(grep -E, sed -E, awk). The result is a pattern string meant to be compiled as ``str`` against
text decoded with ``"utf-8", "surrogateescape"``, so any byte sequence survives a round trip.

What is translated:

* BRE: ``\\( \\)`` groups, ``\\{m,n\\}`` intervals, ``*`` literal at the start of an expression
  (after ``^``, ``\\(`` or ``\\|`` too), the GNU extensions ``\\+ \\? \\|``; ``+ ? | ( ) {``
  are literal.
* ERE: ``( ) | + ? {m,n}``; a quantifier with nothing to repeat is ignored (as GNU does); a
  ``{`` that does not start a valid interval is literal; an unmatched ``)`` is literal.
* Both: back-references ``\\1``..``\\9``, ``\\< \\> \\b \\B \\w \\W \\s \\S \\` \\'``, bracket
  expressions with every POSIX class, ``]`` first, ranges, ``[=a=]`` (best effort) and
  ``[.x.]`` for one character; Python-special characters are escaped.
* ``^`` and ``$``: with ``multiline=True`` they become line anchors (compile with
  ``re.MULTILINE``); otherwise ``$`` is ``\\Z`` so that it never matches before a final newline.

POSIX picks the leftmost-longest match; Python picks the leftmost match of the first
alternative that succeeds. ``a|ab`` against ``ab`` therefore matches ``a`` here.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["RegexError", "bre_to_py", "ere_to_py", "translate", "POSIX_CLASSES"]


class RegexError(ValueError):
    """An invalid expression; ``str(exc)`` is the GNU wording (``Unmatched ( or \\(``)."""


#: POSIX character classes as the body of a Python set (ASCII semantics, like the C locale)
POSIX_CLASSES: dict[str, str] = {
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
}

_SPECIAL_OUTSIDE = set("\\.^$*+?{}[]|()")

_SED_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "f": "\f", "v": "\v", "a": "\a"}


def _lit(c: str) -> str:
    """A literal character outside a set."""
    if c in _SPECIAL_OUTSIDE:
        return "\\" + c
    if c == "\n":
        return "\\n"
    return c


def _set_char(c: str) -> str:
    """A literal character inside a set."""
    if c.isascii() and not c.isalnum():
        if c == "\n":
            return "\\n"
        if c in "\t\r\f\v\x00" or ord(c) < 0x20 or c == "\x7f":
            return f"\\x{ord(c):02x}"
        return "\\" + c
    return c


_EQUIV_CACHE: dict[str, str] = {}


def _equivalents(c: str) -> str:
    """Characters sharing ``c``'s base letter (``e`` -> ``eéèêë``...), best effort."""
    got = _EQUIV_CACHE.get(c)
    if got is not None:
        return got
    base = unicodedata.normalize("NFD", c)[:1]
    chars = [c]
    for cp in range(0xC0, 0x250):
        ch = chr(cp)
        if ch != c and unicodedata.normalize("NFD", ch)[:1] == base:
            chars.append(ch)
    res = "".join(_set_char(x) for x in chars)
    _EQUIV_CACHE[c] = res
    return res


def _escape_value(p: str, j: int) -> tuple[str, int] | None:
    """GNU sed escapes ``\\n \\t \\dNNN \\oNNN \\xHH \\cX``: (char, next index) or None."""
    c = p[j]
    if c in _SED_ESCAPES:
        return _SED_ESCAPES[c], j + 1
    if c == "d":
        m = re.match(r"[0-9]{1,3}", p[j + 1 :])
        if m:
            return chr(int(m.group()) & 0xFF), j + 1 + m.end()
    elif c == "o":
        m = re.match(r"[0-7]{1,3}", p[j + 1 :])
        if m:
            return chr(int(m.group(), 8) & 0xFF), j + 1 + m.end()
    elif c == "x":
        m = re.match(r"[0-9a-fA-F]{1,2}", p[j + 1 :])
        if m:
            return chr(int(m.group(), 16)), j + 1 + m.end()
    elif c == "c" and j + 1 < len(p):
        return chr(ord(p[j + 1].upper()) ^ 0x40), j + 2
    return None


def _bracket(p: str, i: int, multiline: bool, escapes: bool) -> tuple[str, int]:
    """Translate the bracket expression starting at ``p[i] == '['``."""
    n = len(p)
    j = i + 1
    neg = False
    if j < n and p[j] == "^":
        neg = True
        j += 1
    parts: list[str] = []
    first = True
    unmatched = "Unmatched [, [^, [:, [., or [="

    def single(k: int) -> tuple[str | None, str, int]:
        """(char or None for a class, set text, next index)."""
        c = p[k]
        if c == "[" and k + 1 < n and p[k + 1] in ":=.":
            kind = p[k + 1]
            end = p.find(kind + "]", k + 2)
            if end < 0:
                raise RegexError(unmatched)
            name = p[k + 2 : end]
            nxt = end + 2
            if kind == ":":
                body = POSIX_CLASSES.get(name)
                if body is None:
                    raise RegexError("Invalid character class name")
                return None, body, nxt
            if len(name) != 1:
                raise RegexError("Invalid collation character")
            if kind == "=":
                return None, _equivalents(name), nxt
            return name, _set_char(name), nxt
        if escapes and c == "\\" and k + 1 < n:
            if p[k + 1] == "\\":
                return "\\", "\\\\", k + 2
            if p[k + 1] == "]":
                return "]", "\\]", k + 2
            ev = _escape_value(p, k + 1)
            if ev is not None:
                return ev[0], _set_char(ev[0]), ev[1]
        return c, _set_char(c), k + 1

    while True:
        if j >= n:
            raise RegexError(unmatched)
        c = p[j]
        if c == "]" and not first:
            j += 1
            break
        first = False
        ch, text, j = single(j)
        if ch is not None and j + 1 < n and p[j] == "-" and p[j + 1] != "]":
            ch2, text2, j2 = single(j + 1)
            if ch2 is None:
                raise RegexError("Invalid range end")
            if ord(ch2) < ord(ch):
                raise RegexError("Invalid range end")
            parts.append(f"{text}-{text2}")
            j = j2
            continue
        parts.append(text)
    inner = p[i + 1 : j - 1]
    if len(inner) >= 2 and inner[0] == ":" and inner[-1] == ":":
        raise RegexError("character class syntax is [[:space:]], not [:space:]")
    body = "".join(parts)
    if neg:
        return "[^" + body + ("\\n" if multiline else "") + "]", j
    if not body:
        return "(?!)", j
    return "[" + body + "]", j


#: translations already made: (pattern and options) -> (Python pattern, warnings). A
#: translation depends on nothing but its arguments; long patterns are not kept
_MEMO: dict[tuple[str, bool, bool, bool, bool, int], tuple[str, tuple[str, ...]]] = {}
_MEMO_MAX = 256
_MEMO_LONGEST = 1024


def translate(
    pattern: str,
    *,
    ere: bool = False,
    icase: bool = False,
    multiline: bool = False,
    escapes: bool = False,
    group_offset: int = 0,
    warnings: list[str] | None = None,
) -> str:
    """Translate a POSIX BRE (or ERE with ``ere=True``) into Python syntax.

    ``multiline``: ``^``/``$`` are line anchors (compile with ``re.MULTILINE``) and negated
    sets do not match a newline. ``escapes``: GNU sed escapes (``\\n``, ``\\t``, ``\\xHH`` ...)
    are recognised, also inside brackets. ``group_offset`` shifts back-references (for
    patterns joined after others that have groups). ``warnings`` collects GNU grep's
    warnings (``* at start of expression``). Raises :class:`RegexError` on invalid input.
    """
    key = (pattern, ere, icase, multiline, escapes, group_offset)
    hit = _MEMO.get(key)
    if hit is None:
        found: list[str] = []
        text = _translate(pattern, ere, icase, multiline, escapes, group_offset, found)
        hit = (text, tuple(found))
        if len(pattern) <= _MEMO_LONGEST:
            if len(_MEMO) >= _MEMO_MAX:
                _MEMO.clear()
            _MEMO[key] = hit
    if warnings is not None:
        warnings.extend(hit[1])
    return hit[0]


def _translate(
    pattern: str,
    ere: bool,
    icase: bool,
    multiline: bool,
    escapes: bool,
    group_offset: int,
    warnings: list[str],
) -> str:
    """:func:`translate` without the memo."""
    p = pattern
    n = len(p)
    out: list[str] = []
    # index in ``out`` where the most recent quantifiable atom starts, or -1 if none
    atom = -1
    quantified = False
    at_start = True  # a quantifier here has nothing to repeat
    open_groups: list[int] = []
    closed = 0
    i = 0

    def add_atom(text: str) -> None:
        nonlocal atom, quantified, at_start
        atom = len(out)
        out.append(text)
        quantified = False
        at_start = False

    def add_anchor(text: str) -> None:
        nonlocal atom, quantified
        out.append(text)
        atom = -1
        quantified = False

    def add_quant(q: str) -> None:
        nonlocal quantified
        if quantified:
            # ``a**`` or ``a*\{2\}``: quantify the quantified atom as a whole
            inner = "".join(out[atom:])
            del out[atom:]
            out.append("(?:" + inner + ")")
        out.append(q)
        quantified = True

    def interval(j: int, close: str) -> tuple[str, int] | None:
        """Parse ``m,n`` + close at ``p[j:]``: (python quantifier, next index) or None."""
        m = re.match(r"([0-9]*)(,?)([0-9]*)", p[j:])
        assert m is not None
        k = j + m.end()
        if not p.startswith(close, k):
            return None
        lo, comma, hi = m.group(1), m.group(2), m.group(3)
        if not lo and not comma:
            return None
        if not lo and not hi and not ere:
            lo = "0"
        if lo and hi and int(lo) > int(hi):
            raise RegexError("Invalid content of \\{\\}")
        if (lo and int(lo) > 32767) or (hi and int(hi) > 32767):
            raise RegexError("Regular expression too big")
        if comma:
            q = "{" + (lo or "0") + "," + hi + "}"
        else:
            q = "{" + lo + "}"
        return q, k + len(close)

    while i < n:
        c = p[i]
        if c == "\\":
            if i + 1 >= n:
                raise RegexError("Trailing backslash")
            d = p[i + 1]
            i += 2
            if not ere and d == "(":
                open_groups.append(len(out))
                out.append("(")
                atom = -1
                at_start = True
                continue
            if not ere and d == ")":
                if not open_groups:
                    raise RegexError("Unmatched ) or \\)")
                start = open_groups.pop()
                out.append(")")
                closed += 1
                atom = start
                quantified = False
                at_start = False
                continue
            if not ere and d == "|":
                out.append("|")
                atom = -1
                at_start = True
                continue
            if not ere and d == "{":
                if at_start or atom < 0:
                    raise RegexError("Invalid preceding regular expression")
                got = interval(i, "\\}")
                if got is None:
                    if "\\}" in p[i:]:
                        raise RegexError("Invalid content of \\{\\}")
                    raise RegexError("Unmatched \\{")
                add_quant(got[0])
                i = got[1]
                continue
            if not ere and d in "+?":
                if at_start or atom < 0:
                    add_atom(_lit(d))
                else:
                    add_quant(d)
                continue
            if d.isdigit() and d != "0":
                num = int(d)
                if num > closed:
                    raise RegexError("Invalid back reference")
                add_atom(f"(?:\\{num + group_offset})")
                continue
            if d == "<":
                add_anchor(r"\b(?=\w)")
                continue
            if d == ">":
                add_anchor(r"\b(?<=\w)")
                continue
            if d in "bB":
                add_anchor("\\" + d)
                continue
            if d == "`":
                add_anchor(r"\A")
                continue
            if d == "'":
                add_anchor(r"\Z")
                continue
            if d in "wWsS":
                add_atom("\\" + d)
                continue
            if d == "n":
                add_atom("\\n")
                continue
            if escapes:
                ev = _escape_value(p, i - 1)
                if ev is not None:
                    add_atom(_lit(ev[0]))
                    i = ev[1]
                    continue
            add_atom(_lit(d))
            continue
        if c == "[":
            text, i = _bracket(p, i, multiline, escapes)
            add_atom(text)
            continue
        if c == ".":
            add_atom("." if multiline else "(?s:.)")
            i += 1
            continue
        if c == "*":
            i += 1
            if at_start or atom < 0:
                if not ere:
                    add_atom("\\*")
                elif warnings is not None:
                    warnings.append("* at start of expression")
                continue
            add_quant("*")
            continue
        if c == "^":
            i += 1
            if ere or at_start:
                add_anchor("^")
                at_start = True
            else:
                add_atom("\\^")
            continue
        if c == "$":
            i += 1
            if ere or i == n or p.startswith("\\)", i) or p.startswith("\\|", i):
                add_anchor("$" if multiline else r"\Z")
            else:
                add_atom("\\$")
            continue
        if ere:
            if c in "+?":
                i += 1
                if not (at_start or atom < 0):
                    add_quant(c)
                elif warnings is not None:
                    warnings.append(f"{c} at start of expression")
                continue
            if c == "{":
                got = interval(i + 1, "}")
                if got is not None and (at_start or atom < 0) and warnings is not None:
                    warnings.append("{...} at start of expression")
                if got is None or at_start or atom < 0:
                    add_atom("\\{")
                    i += 1
                    continue
                add_quant(got[0])
                i = got[1]
                continue
            if c == "(":
                open_groups.append(len(out))
                out.append("(")
                atom = -1
                at_start = True
                i += 1
                continue
            if c == ")":
                i += 1
                if not open_groups:
                    add_atom("\\)")
                    continue
                start = open_groups.pop()
                out.append(")")
                closed += 1
                atom = start
                quantified = False
                at_start = False
                continue
            if c == "|":
                out.append("|")
                atom = -1
                at_start = True
                i += 1
                continue
        add_atom(_lit(c))
        i += 1
    if open_groups:
        raise RegexError("Unmatched ( or \\(")
    res = "".join(out)
    if icase:
        res = "(?i)" + res
    return res


def bre_to_py(
    pattern: str,
    *,
    icase: bool = False,
    multiline: bool = False,
    escapes: bool = False,
    warnings: list[str] | None = None,
) -> str:
    """Translate a POSIX basic regular expression (GNU flavour) into Python syntax."""
    return translate(
        pattern, ere=False, icase=icase, multiline=multiline, escapes=escapes, warnings=warnings
    )


def ere_to_py(
    pattern: str,
    *,
    icase: bool = False,
    multiline: bool = False,
    escapes: bool = False,
    warnings: list[str] | None = None,
) -> str:
    """Translate a POSIX extended regular expression (GNU flavour) into Python syntax."""
    return translate(
        pattern, ere=True, icase=icase, multiline=multiline, escapes=escapes, warnings=warnings
    )
