"""printf/sprintf formatting with C semantics."""

from __future__ import annotations

import math
import re
from typing import Any

from pocketos.commands._awk import values as _values
from pocketos.commands._awk.values import (
    UNINIT,
    AwkFatal,
    fmt_number,
    fmt_special,
    num,
    numval,
)
from pocketos.kernel.budget import check_alloc

__all__ = ["sprintf"]

_SPEC = re.compile(r"%([-+ #0']*)(\*|\d+)?(?:\.(\*|\d*))?([a-zA-Z%]?)")

# parsed format: list of literal strings and (flags, width, precision, conv) tuples
_Piece = str | tuple[str, str | None, str | None, str]
_cache: dict[str, list[_Piece]] = {}


def _parse(fmt: str) -> list[_Piece]:
    pieces = _cache.get(fmt)
    if pieces is not None:
        return pieces
    pieces = []
    pos = 0
    lit: list[str] = []
    while True:
        j = fmt.find("%", pos)
        if j < 0:
            lit.append(fmt[pos:])
            break
        lit.append(fmt[pos:j])
        m = _SPEC.match(fmt, j)
        assert m is not None
        flags, width, prec, conv = m.groups()
        if conv == "%" and not flags and width is None and prec is None:
            lit.append("%")
            pos = m.end()
            continue
        if conv == "" or conv not in "cdiouxXeEfFgGsa%":
            lit.append(fmt[j : m.end()])
            pos = m.end()
            continue
        if lit:
            pieces.append("".join(lit))
            lit = []
        pieces.append((flags.replace("'", ""), width, prec, conv))
        pos = m.end()
    if lit and "".join(lit):
        pieces.append("".join(lit))
    if len(_cache) > 500:
        _cache.clear()
    _cache[fmt] = pieces
    return pieces


def _pad(s: str, flags: str, width: int | None) -> str:
    if width is None or len(s) >= width:
        return s
    if "-" in flags:
        return s.ljust(width)
    return s.rjust(width)


def sprintf(fmt: str, args: list[Any], convfmt: str = "%.6g", byte_chars: bool = True) -> str:
    out: list[str] = []
    ai = 0
    nargs = len(args)

    def take() -> Any:
        nonlocal ai
        if ai >= nargs:
            raise AwkFatal("not enough arguments to satisfy format string")
        v = args[ai]
        ai += 1
        return v

    for p in _parse(fmt):
        if isinstance(p, str):
            out.append(p)
            continue
        flags, w, pr, conv = p
        width: int | None = None
        prec: int | None = None
        if w == "*":
            width = int(num(take()))
            if width < 0:
                flags += "-"
                width = -width
        elif w is not None:
            width = int(w)
        if pr == "*":
            prec = int(num(take()))
            if prec < 0:
                prec = None
        elif pr is not None:
            prec = int(pr) if pr else 0
        if conv == "%":
            out.append("%")
            continue
        # a width (or a number's precision) is a buffer of that size: check it before it is made
        big = max(width or 0, 0 if conv in "sc" else prec or 0)
        if big > 65536:
            check_alloc(big, "awk: string")
        v = take()
        spec = (
            "%"
            + flags
            + (str(width) if width is not None else "")
            + ("." + str(prec) if prec is not None else "")
        )
        if conv == "s":
            s = v if v.__class__ is not float else fmt_number(v, convfmt)
            out.append((spec + "s") % s)
        elif conv == "c":
            if v.__class__ is not float and v is not UNINIT:
                x = numval(v)
                if x is not None:
                    v = x
            if v.__class__ is float:
                n = int(v) if math.isfinite(v) else 0
                ch = chr(n & 0xFF) if byte_chars else (chr(n) if 0 <= n < 0x110000 else "")
            else:
                ch = v[:1] or "\0"
            out.append(_pad(ch, flags, width))
        elif conv in "dioxXu":
            x = num(v)
            if not math.isfinite(x):
                s = fmt_special(x)
                out.append(_pad(s, flags, width))
                continue
            n = int(x)
            if conv in "oxXu" and n < 0:
                n += 1 << 64
            c = "d" if conv in "iu" else conv
            if n == 0 and prec == 0:
                sign = (
                    "+" if "+" in flags and c == "d" else (" " if " " in flags and c == "d" else "")
                )
                out.append(_pad(sign, flags, width))
                continue
            if c == "o" and "#" in flags:
                body = "%o" % n  # noqa: UP031
                if not body.startswith("0"):
                    body = "0" + body
                if prec is not None and len(body) < prec:
                    body = body.zfill(prec)
                out.append(_pad(body, flags, width))
                continue
            out.append((spec + c) % n)
        elif conv in "eEfFgGa":
            x = num(v)
            if conv == "a":
                conv = "e"
            if not math.isfinite(x):
                s = fmt_special(x)
                if s.startswith("+") and "+" not in flags:
                    s = (" " if " " in flags else "") + s[1:]
                if conv in "EFG":
                    s = s.upper()
                out.append(_pad(s, flags.replace("0", ""), width))
                continue
            out.append((spec + conv) % x)
    if ai < nargs:
        pass
    return "".join(out)


_values.FORMATTER = sprintf
