"""awk values: numbers are ``float``, strings ``str``; input-derived strings are :class:`StrNum`
(compared as numbers when they look numeric); :data:`UNINIT` is the uninitialized value."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

__all__ = [
    "AwkArray",
    "AwkFatal",
    "StrNum",
    "UNINIT",
    "EMPTY",
    "num",
    "numval",
    "truth",
    "fmt_number",
    "cmp_lt",
    "cmp_le",
    "cmp_gt",
    "cmp_ge",
    "cmp_eq",
    "cmp_ne",
]


class AwkFatal(Exception):
    """A runtime error: the program stops with status 2."""

    def __init__(self, message: str, located: bool = True) -> None:
        super().__init__(message)
        self.message = message
        self.located = located


class StrNum(str):
    """A string that came from input (fields, getline, split, ARGV, ENVIRON, -v)."""

    __slots__ = ()


class _Uninit(StrNum):
    __slots__ = ()


UNINIT: Any = _Uninit("")
EMPTY: Any = StrNum("")


class AwkArray(dict):  # type: ignore[type-arg]
    """An awk associative array: referencing a missing element creates it."""

    __slots__ = ()

    def __missing__(self, key: str) -> Any:
        self[key] = UNINIT
        return UNINIT


_LEAD = re.compile(r"[ \t\n\r\f\v]*([-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?)")
_FULL = re.compile(
    r"[ \t\n\r\f\v]*([-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?)[ \t\n\r\f\v]*\Z"
)
_SPECIAL = re.compile(r"[ \t\n\r\f\v]*([-+])(inf|nan)", re.IGNORECASE)

#: the printf implementation, installed by the format module (it imports this one)
FORMATTER: Callable[[str, list[Any]], str] | None = None

_numcache: dict[str, float] = {}
_svcache: dict[str, float | None] = {}


def _parse_num(s: str) -> float:
    m = _LEAD.match(s)
    if m is None:
        m2 = _SPECIAL.match(s)
        # like gawk, only the whole (blank-trimmed) text "+inf", "-nan", ... is special
        if m2 is not None and m2.end() == len(s.rstrip(" \t\n\r\f\v")):
            v = math.inf if m2.group(2).lower() == "inf" else math.nan
            return -v if m2.group(1) == "-" else v
        return 0.0
    try:
        return float(m.group(1))
    except (ValueError, OverflowError):  # pragma: no cover
        return 0.0


def num(v: Any) -> float:
    """Numeric value of an awk value."""
    if v.__class__ is float:
        return v  # type: ignore[no-any-return]
    try:
        r = float(v)
    except ValueError:
        pass
    except TypeError:
        return float(v)
    else:
        # float() also takes "1_0", Unicode digits and blanks, which strtod does not
        if v[-1] in _DIGITS and v[0] in _START and "_" not in v and v.isascii():
            return r
    try:
        return _numcache[v]
    except KeyError:
        pass
    r = _parse_num(v)
    if len(_numcache) > 50000:
        _numcache.clear()
    _numcache[v] = r
    return r


_DIGITS = frozenset("0123456789.")
_START = frozenset("0123456789.+-")


def strnum_value(s: str) -> float | None:
    """The number a strnum stands for, or None when it does not look numeric."""
    try:
        return _svcache[s]
    except KeyError:
        pass
    m = _FULL.match(s)
    r: float | None
    if m is None:
        m2 = _SPECIAL.match(s)
        r = _parse_num(s) if m2 is not None and m2.end() == len(s.rstrip(" \t\n\r\f\v")) else None
    else:
        r = float(m.group(1))
    if len(_svcache) > 50000:
        _svcache.clear()
    _svcache[s] = r
    return r


def numval(v: Any) -> float | None:
    """The number used in a comparison, or None when the value compares as a string."""
    c = v.__class__
    if c is float:
        return v  # type: ignore[no-any-return]
    if c is StrNum:
        return strnum_value(v)
    if v is UNINIT:
        return 0.0
    return None


def truth(v: Any) -> bool:
    c = v.__class__
    if c is float:
        return v != 0.0  # type: ignore[no-any-return]
    if c is StrNum:
        x = strnum_value(v)
        if x is not None:
            return x != 0.0
    return v != ""  # type: ignore[no-any-return]


def fmt_special(v: float) -> str:
    if v != v:
        return "-nan" if math.copysign(1.0, v) < 0 else "+nan"
    return "+inf" if v > 0 else "-inf"


def fmt_number(v: float, fmt: str) -> str:
    """Number to string with CONVFMT/OFMT ``fmt`` (integers print as integers)."""
    if v.is_integer():
        return "%d" % v  # noqa: UP031
    if v != v or v in (math.inf, -math.inf):
        return fmt_special(v)
    try:
        return fmt % v
    except (TypeError, ValueError):
        if FORMATTER is None:
            return "%.6g" % v  # noqa: UP031
        return FORMATTER(fmt, [v])


def _cmp_prep(a: Any, b: Any, conv: str) -> tuple[Any, Any]:
    x = numval(a)
    if x is not None:
        y = numval(b)
        if y is not None:
            return x, y
    sa = a if a.__class__ is not float else fmt_number(a, conv)
    sb = b if b.__class__ is not float else fmt_number(b, conv)
    return sa, sb


def cmp_lt(a: Any, b: Any, conv: str = "%.6g") -> bool:
    x, y = _cmp_prep(a, b, conv)
    return x < y  # type: ignore[no-any-return]


def cmp_le(a: Any, b: Any, conv: str = "%.6g") -> bool:
    x, y = _cmp_prep(a, b, conv)
    return x <= y  # type: ignore[no-any-return]


def cmp_gt(a: Any, b: Any, conv: str = "%.6g") -> bool:
    x, y = _cmp_prep(a, b, conv)
    return x > y  # type: ignore[no-any-return]


def cmp_ge(a: Any, b: Any, conv: str = "%.6g") -> bool:
    x, y = _cmp_prep(a, b, conv)
    return x >= y  # type: ignore[no-any-return]


def cmp_eq(a: Any, b: Any, conv: str = "%.6g") -> bool:
    x, y = _cmp_prep(a, b, conv)
    return x == y  # type: ignore[no-any-return]


def cmp_ne(a: Any, b: Any, conv: str = "%.6g") -> bool:
    x, y = _cmp_prep(a, b, conv)
    return x != y  # type: ignore[no-any-return]
