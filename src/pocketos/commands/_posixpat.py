"""POSIX glob and BRE/ERE translation to Python regular expressions, used by find and expr."""

from __future__ import annotations

import re


def glob_to_regex(pat: str, icase: bool = False) -> re.Pattern[str]:
    """fnmatch(3) without flags: ``*``/``?`` match any character (``/`` and leading dots
    included), ``[...]`` classes with ``!``/``^`` negation, ``\\`` escapes."""
    out: list[str] = []
    i = 0
    n = len(pat)
    while i < n:
        c = pat[i]
        if c == "*":
            out.append(".*")
        elif c == "?":
            out.append(".")
        elif c == "\\" and i + 1 < n:
            i += 1
            out.append(re.escape(pat[i]))
        elif c == "[":
            j = i + 1
            if j < n and pat[j] in "!^":
                j += 1
            if j < n and pat[j] == "]":
                j += 1
            while j < n and pat[j] != "]":
                if pat[j] == "[" and j + 1 < n and pat[j + 1] == ":":
                    k = pat.find(":]", j + 2)
                    j = k + 2 if k >= 0 else j + 1
                    continue
                j += 1
            if j >= n:
                out.append(re.escape(c))
            else:
                body = pat[i + 1 : j]
                neg = body[:1] in ("!", "^")
                if neg:
                    body = body[1:]
                cls = _bracket_body(body)
                out.append(f"[{'^' if neg else ''}{cls}]")
                i = j
        else:
            out.append(re.escape(c))
        i += 1
    flags = re.DOTALL | (re.IGNORECASE if icase else 0)
    return re.compile("".join(out) + r"\Z", flags)


_CLASSES = {
    "alpha": "a-zA-Z",
    "digit": "0-9",
    "alnum": "a-zA-Z0-9",
    "upper": "A-Z",
    "lower": "a-z",
    "space": r" \t\n\r\f\v",
    "blank": r" \t",
    "punct": r"!-/:-@\[-`{-~",
    "xdigit": "0-9A-Fa-f",
    "cntrl": r"\x00-\x1f\x7f",
    "print": r" -~",
    "graph": r"!-~",
    "word": r"\w",
}


def _bracket_body(body: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(body):
        c = body[i]
        if c == "[" and body[i + 1 : i + 2] == ":":
            k = body.find(":]", i + 2)
            if k >= 0:
                out.append(_CLASSES.get(body[i + 2 : k], ""))
                i = k + 2
                continue
        if c == "\\" and i + 1 < len(body):
            out.append(re.escape(body[i + 1]))
            i += 2
            continue
        if c == "-" and out and i + 1 < len(body):
            out.append("-")
            i += 1
            continue
        out.append(re.escape(c) if c in "\\]^[-" else c)
        i += 1
    return "".join(out)


def _bracket_close(pat: str, i: int) -> int:
    """Index of the ``]`` closing the bracket expression opened at ``pat[i]``, or
    ``len(pat)`` when it is unterminated."""
    n = len(pat)
    j = i + 1
    if j < n and pat[j] == "^":
        j += 1
    if j < n and pat[j] == "]":
        j += 1
    while j < n and pat[j] != "]":
        if pat[j] == "[" and j + 1 < n and pat[j + 1] in ":.=":
            k = pat.find(pat[j + 1] + "]", j + 2)
            j = k + 2 if k >= 0 else j + 1
            continue
        j += 1
    return j


def _bracket(body: str) -> str:
    """A POSIX bracket expression (what stands between ``[`` and ``]``) in Python syntax."""
    neg = body.startswith("^")
    if neg:
        body = body[1:]
    return f"[{'^' if neg else ''}{_bracket_body(body)}]"


def bre_to_regex(pat: str, flavor: str = "basic") -> str:
    """Translate a POSIX basic (``basic``), GNU emacs (``emacs``) or extended (``extended``)
    regular expression into Python syntax."""
    if flavor == "extended":
        return _ere_fix(pat)
    out: list[str] = []
    i = 0
    n = len(pat)
    while i < n:
        c = pat[i]
        if c == "\\" and i + 1 < n:
            d = pat[i + 1]
            i += 2
            if d in "()|" or d in "{}" and flavor == "basic" or d in "+?" and flavor == "basic":
                out.append(d)
            elif d in "123456789" or d in "wWsSbB":
                out.append("\\" + d)
            elif d == "<":
                out.append(r"\b(?=\w)")
            elif d == ">":
                out.append(r"\b(?<=\w)")
            elif d == "`":
                out.append(r"\A")
            elif d == "'":
                out.append(r"\Z")
            else:
                out.append(re.escape(d))
            continue
        if c == "[":
            j = _bracket_close(pat, i)
            if j >= n:
                out.append(re.escape(c))
                i += 1
                continue
            out.append(_bracket(pat[i + 1 : j]))
            i = j + 1
            continue
        if c in "(){}|" or c in "+?" and flavor == "basic":
            out.append("\\" + c)
        elif c == "*" and (not out or out[-1] in ("(", "|", "^")):
            out.append(r"\*")
        elif c == "^" and out and flavor == "basic" and out[-1] not in ("(", "|"):
            out.append(r"\^")
        elif (
            c == "$"
            and flavor == "basic"
            and i + 1 < n
            and not pat.startswith("\\)", i + 1)
            and not pat.startswith("\\|", i + 1)
        ):
            out.append(r"\$")
        else:
            out.append(c)
        i += 1
    return "".join(out)


def _ere_fix(pat: str) -> str:
    """ERE -> Python: bracket expressions with POSIX classes; the rest is compatible."""
    out: list[str] = []
    i = 0
    n = len(pat)
    while i < n:
        c = pat[i]
        if c == "\\" and i + 1 < n:
            out.append(pat[i : i + 2])
            i += 2
            continue
        if c == "[":
            j = _bracket_close(pat, i)
            if j < n:
                out.append(_bracket(pat[i + 1 : j]))
                i = j + 1
                continue
        out.append(c)
        i += 1
    return "".join(out)


__all__ = ["glob_to_regex", "bre_to_regex"]
