"""Shell patterns (``*``, ``?``, ``[...]``, extglob) -> Python regular expressions, and
pathname expansion against a :class:`~pocketos.kernel.fs.view.FsView`.

A pattern string here uses backslash to mark a quoted character: expansion turns quoted text
into escaped text, so ``"*"`` arrives as ``\\*`` and matches only a literal star.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING

from pocketos.shell.globmatch import Matcher, needs_engine, nodes_for

if TYPE_CHECKING:
    from pocketos.kernel.fs.view import FsView

__all__ = ["compile_pattern", "escape", "glob", "has_glob", "match", "to_regex", "unescape"]

_CLASSES = {
    "alpha": "a-zA-Z",
    "digit": "0-9",
    "alnum": "a-zA-Z0-9",
    "upper": "A-Z",
    "lower": "a-z",
    "space": " \\t\\n\\r\\f\\v",
    "blank": " \\t",
    "punct": re.escape("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"),
    "xdigit": "0-9A-Fa-f",
    "word": "a-zA-Z0-9_",
    "cntrl": "\\x00-\\x1f\\x7f",
    "print": "\\x20-\\x7e",
    "graph": "\\x21-\\x7e",
}

_SPECIAL = frozenset("*?[\\")


def escape(s: str) -> str:
    """Quote every pattern-special character of literal text."""
    if not any(c in "*?[\\]()|@!+&" for c in s):
        return s
    return "".join("\\" + c if c in "*?[\\]()|@!+&" else c for c in s)


def unescape(p: str) -> str:
    if "\\" not in p:
        return p
    out: list[str] = []
    i = 0
    while i < len(p):
        c = p[i]
        if c == "\\" and i + 1 < len(p):
            out.append(p[i + 1])
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


@cache
def _maybe_glob() -> re.Pattern[str]:
    return re.compile(r"[*?\[]|[+@!]\(")


def has_glob(p: str, extglob: bool = True) -> bool:
    # substring tests run at memchr speed; the regex only when one of them hits
    if "*" not in p and "?" not in p and "[" not in p and "(" not in p:
        return False
    if _maybe_glob().search(p) is None:
        return False
    if "\\" not in p and ("*" in p or "?" in p):
        return True
    i = 0
    n = len(p)
    while i < n:
        c = p[i]
        if c == "\\":
            i += 2
            continue
        if c in "*?":
            return True
        if c == "[" and _bracket_end(p, i) > 0:
            return True
        if extglob and c in "+@!" and i + 1 < n and p[i + 1] == "(":
            return True
        i += 1
    return False


def _bracket_end(p: str, i: int) -> int:
    """Index just past the ``]`` closing the bracket expression at ``i``, or -1."""
    j = i + 1
    n = len(p)
    if j < n and p[j] in "!^":
        j += 1
    if j < n and p[j] == "]":
        j += 1
    while j < n:
        c = p[j]
        if c == "\\":
            j += 2
            continue
        if c == "[" and j + 1 < n and p[j + 1] in ":.=":
            k = p.find(p[j + 1] + "]", j + 2)
            if k > 0:
                j = k + 2
                continue
        if c == "]":
            return j + 1
        j += 1
    return -1


def _bracket(p: str, i: int, end: int) -> str:
    j = i + 1
    neg = False
    if p[j] in "!^":
        neg = True
        j += 1
    items: list[str] = []
    first = True
    while j < end - 1:
        c = p[j]
        if c == "]" and not first:
            break
        first = False
        k = p.find(":]", j + 2) if c == "[" and j + 1 < end and p[j + 1] == ":" else -1
        if 0 < k < end - 1:  # [:class:] inside this bracket; an unclosed "[:" is literal
            name = p[j + 2 : k]
            items.append(_CLASSES.get(name, ""))
            j = k + 2
            continue
        if c == "\\" and j + 1 < end:
            c = p[j + 1]
            j += 1
        if j + 2 < end - 1 and p[j + 1] == "-" and p[j + 2] != "]":
            hi = p[j + 2]
            if hi == "\\" and j + 3 < end - 1:
                hi = p[j + 3]
                j += 1
            if ord(hi) >= ord(c):
                items.append(re.escape(c) + "-" + re.escape(hi))
            j += 3
            continue
        items.append(re.escape(c))
        j += 1
    body = "".join(items)
    if not body:
        return "(?!)" if not neg else "."
    return ("[^" if neg else "[") + body + "]"


def to_regex(p: str, *, pathname: bool = False, extglob: bool = True) -> str:
    out: list[str] = []
    i = 0
    n = len(p)
    star = "[^/]*" if pathname else ".*"
    one = "[^/]" if pathname else "."
    while i < n:
        c = p[i]
        if c == "\\":
            if i + 1 < n:
                out.append(re.escape(p[i + 1]))
                i += 2
            else:
                out.append("\\\\")
                i += 1
            continue
        if extglob and c in "?*+@!" and i + 1 < n and p[i + 1] == "(":
            close = _paren_end(p, i + 1)
            if close > 0:
                alts = _split_alts(p[i + 2 : close])
                inner = "|".join(to_regex(a, pathname=pathname, extglob=extglob) for a in alts)
                if c == "?":
                    out.append(f"(?:{inner})?")
                elif c == "*":
                    out.append(f"(?:{inner})*")
                elif c == "+":
                    out.append(f"(?:{inner})+")
                elif c == "@":
                    out.append(f"(?:{inner})")
                else:
                    rest = to_regex(p[close + 1 :], pathname=pathname, extglob=extglob)
                    out.append(f"(?:(?!(?:{inner}){rest}$){star})")
                i = close + 1
                continue
        if c == "*":
            while i + 1 < n and p[i + 1] == "*":
                i += 1
            out.append(star)
        elif c == "?":
            out.append(one)
        elif c == "[":
            end = _bracket_end(p, i)
            if end < 0:
                out.append("\\[")
            else:
                out.append(_bracket(p, i, end))
                i = end
                continue
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


def _paren_end(p: str, i: int) -> int:
    depth = 0
    j = i
    while j < len(p):
        c = p[j]
        if c == "\\":
            j += 2
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return j
        j += 1
    return -1


def _split_alts(s: str) -> list[str]:
    out: list[str] = []
    depth = 0
    cur: list[str] = []
    i = 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            cur.append(s[i : i + 2])
            i += 2
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        if c == "|" and depth == 0:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    out.append("".join(cur))
    return out


_CACHE: dict[tuple[str, bool, bool, bool], re.Pattern[str]] = {}


def compile_pattern(
    p: str, *, pathname: bool = False, extglob: bool = True, nocase: bool = False
) -> re.Pattern[str]:
    key = (p, pathname, nocase, extglob)
    r = _CACHE.get(key)
    if r is None:
        flags = re.DOTALL | (re.IGNORECASE if nocase else 0)
        try:
            r = re.compile(to_regex(p, pathname=pathname, extglob=extglob), flags)
        except re.error:
            r = re.compile(re.escape(unescape(p)), flags)
        if len(_CACHE) > 4096:
            _CACHE.clear()
        _CACHE[key] = r
    return r


def match(
    p: str,
    s: str,
    nocase: bool = False,
    extglob: bool = True,
    tick: Callable[[], None] | None = None,
) -> bool:
    """Does the whole of ``s`` match pattern ``p``? Patterns on which a backtracking regex
    could take exponential time run on the linear matcher of :mod:`globmatch`."""
    if not has_glob(p, extglob):
        u = unescape(p)
        return u == s if not nocase else u.lower() == s.lower()
    if needs_engine(p):
        return Matcher(nodes_for(p, extglob), s, nocase=nocase, tick=tick).fullmatch()
    return compile_pattern(p, nocase=nocase, extglob=extglob).fullmatch(s) is not None


def _split_path(p: str) -> list[str]:
    parts: list[str] = []
    cur: list[str] = []
    i = 0
    depth = 0
    while i < len(p):
        c = p[i]
        if c == "\\" and i + 1 < len(p):
            cur.append(p[i : i + 2])
            i += 2
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        if c == "/" and depth <= 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    parts.append("".join(cur))
    return parts


def glob(
    fs: FsView,
    pattern: str,
    *,
    dotglob: bool = False,
    globstar: bool = False,
    extglob: bool = True,
    nocase: bool = False,
) -> list[str]:
    """Expand a pathname pattern; returns matches sorted like bash in the C locale."""
    comps = _split_path(pattern)
    absolute = pattern.startswith("/")
    if absolute:
        comps = comps[1:]
        bases = ["/"]
    else:
        bases = [""]
    for k, comp in enumerate(comps):
        last = k == len(comps) - 1
        if comp == "":
            if last:
                bases = [
                    b + "/" if b and not b.endswith("/") else b
                    for b in bases
                    if b == "" or fs.isdir(b)
                ]
            continue
        new: list[str] = []
        if globstar and comp == "**":
            for b in bases:
                new.extend(_globstar(fs, b, dotglob, dirs_only=not last))
            bases = new
            continue
        if not has_glob(comp, extglob):
            lit = unescape(comp)
            for b in bases:
                path = _join(b, lit)
                if fs.lexists(path) if last else fs.isdir(path):
                    new.append(path)
            bases = new
            continue
        if needs_engine(comp):
            # names hold no "/", so the linear matcher's * and ? need no pathname rule
            nodes = nodes_for(comp, extglob)

            def hit(name: str, nodes: tuple[object, ...] = nodes) -> bool:
                return Matcher(nodes, name, nocase=nocase).fullmatch()  # type: ignore[arg-type]
        else:
            hit = compile_pattern(comp, pathname=True, extglob=extglob, nocase=nocase).fullmatch  # type: ignore[assignment]
        explicit_dot = comp.startswith(".") or comp.startswith("\\.")
        for b in bases:
            try:
                names = fs.listdir(b or ".")
            except OSError:
                continue
            names = sorted(names)
            for nm in names:
                if nm.startswith(".") and not explicit_dot and (not dotglob or nm in (".", "..")):
                    continue
                if hit(nm):
                    path = _join(b, nm)
                    if last or fs.isdir(path):
                        new.append(path)
        bases = new
        if not bases:
            return []
    return sorted(bases, key=_sort_key) if len(bases) > 1 else bases


def _sort_key(s: str) -> bytes:
    return s.encode("utf-8", "surrogateescape")


def _join(base: str, name: str) -> str:
    if not base:
        return name
    if base.endswith("/"):
        return base + name
    return base + "/" + name


def _globstar(fs: FsView, base: str, dotglob: bool, dirs_only: bool) -> list[str]:
    out: list[str] = []
    if dirs_only:
        out.append(base)

    def walk(d: str) -> None:
        try:
            names = sorted(fs.listdir(d or "."))
        except OSError:
            return
        for nm in names:
            if nm.startswith(".") and not dotglob:
                continue
            path = _join(d, nm)
            isdir = fs.isdir(path) and not fs.islink(path)
            if isdir:
                out.append(path + ("/" if not dirs_only else ""))
                if not dirs_only:
                    out[-1] = path
                walk(path)
            elif not dirs_only:
                out.append(path)

    walk(base)
    if not dirs_only and base:
        pass
    return out
