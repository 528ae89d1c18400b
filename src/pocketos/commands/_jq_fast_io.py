"""How jq's fast path (:mod:`pocketos.commands._jq_fast`) reads an input and prints its results:
the checks that send an input libjq's way, the parse, and jq's compact and two-space layouts
made a piece at a time, each piece counted against the exec's memory before the next is made."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from itertools import islice
from typing import Any

from pocketos.kernel.budget import LimitExceeded, current_budget

_orjson: Any
try:  # pragma: no cover - which branch depends on the environment
    import orjson as _orjson
except ImportError:  # pragma: no cover
    _orjson = None


class Unsupported(Exception):
    """Not for this path: libjq evaluates the input instead."""


_SLICE = 8192
_PIECE = 1 << 20
#: an array or object of at most this many elements, some of them arrays or objects, is
#: laid out element by element (it may be a wrapper around a large value)
_WRAPPER = 16


#: ``-0`` (Python's json reads 0) and escapes of surrogates (jq refuses lone ones); both
#: searches start from a literal prefix, so they run at C speed
_MINUS_ZERO = re.compile(rb"-0(?![.0-9])")
_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")
#: an escape of a high surrogate with no low one after it, or of a low one alone
_LONE_SURROGATE = re.compile(
    rb"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F])"
    rb"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F]"
)


def _float(text: str) -> float:
    value = float(text)
    if repr(value) != text or "e" in text:
        raise Unsupported
    return value


def _refuse(_text: str) -> Any:
    raise Unsupported


def parse_input(data: bytes) -> Any:
    """The one JSON value of ``data``, or :class:`Unsupported`."""
    if _MINUS_ZERO.search(data):
        raise Unsupported
    # pairs are fine; with an escaped backslash about, ``\\uD83D`` could pass for an escape
    if _SURROGATE.search(data) and (b"\\\\" in data or _LONE_SURROGATE.search(data)):
        raise Unsupported
    try:
        text = data.decode("utf-8")
        return json.loads(text, parse_float=_float, parse_constant=_refuse)
    except (ValueError, RecursionError):
        raise Unsupported from None


def _dump(value: Any, pretty: bool) -> bytes:
    """``value`` as jq prints it, before DEL is escaped."""
    try:
        if pretty:
            out: bytes = _orjson.dumps(value, option=_orjson.OPT_INDENT_2)
        elif _orjson is not None:
            out = _orjson.dumps(value)
        else:
            out = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
        return out
    except (TypeError, ValueError, RecursionError):  # orjson: nested past 255
        raise Unsupported from None


def _laid_out(
    value: Any, pretty: bool, held: _Held, check: Callable[[], None], depth: int = 0
) -> list[bytes]:
    """``value`` printed compact or in jq's two-space layout, ``depth`` levels down: the
    elements of a long array or object a slice at a time, and those of a short one holding
    arrays or objects (``[[[…100,000 values…]]]``) one by one, so that no piece is made whole
    before it is counted against the memory left."""
    t = type(value)
    shift = b"\n" + b"  " * depth
    if (t is not list and t is not dict) or not value:
        pieces = [_dump(value, pretty)]
    elif len(value) <= _WRAPPER and any(type(v) in (list, dict) and v for v in _values(value)):
        start, end, sep = _brackets(t, pretty, shift)
        pieces = [start]
        for k, v in value.items() if t is dict else enumerate(value):
            if len(pieces) > 1:
                pieces.append(sep)
            if t is dict:
                key = _dump(k, False).replace(b"\x7f", b"\\u007f")
                pieces.append(key + (b": " if pretty else b":"))
            pieces.extend(_laid_out(v, pretty, held, check, depth + 1))
        pieces.append(end)
        return pieces
    elif len(value) <= _WRAPPER:
        pieces = [_dump(value, pretty)]
    else:
        # a slice's text holds its elements' own indentation: "[\n  a,\n  b\n]"
        start, end, sep = _brackets(t, pretty, shift)
        if pretty:
            start, sep = start[:2], b",\n"
        pieces = [start]
        items = iter(value) if t is list else iter(value.items())
        # slices of about a piece's size: the first of a few elements tells their size
        count = _WRAPPER
        while True:
            check()
            part: Any = list(islice(items, count))
            if not part:
                break
            text = _dump(part if t is list else dict(part), pretty)
            count = max(1, min(_SLICE, _PIECE * len(part) // max(1, len(text))))
            if len(pieces) > 1:
                pieces.append(sep)
            # a slice's elements, between "[\n" and "\n]" (compact: "[" and "]")
            text = text[2:-2] if pretty else text[1:-1]
            pieces.append(shift[1:] + text.replace(b"\n", shift) if pretty and depth else text)
            held.add(len(pieces[-1]))
        pieces.append(end)
        return [piece.replace(b"\x7f", b"\\u007f") for piece in pieces]
    if pretty and depth:
        pieces = [pieces[0].replace(b"\n", shift)]
    held.add(len(pieces[0]))
    return [pieces[0].replace(b"\x7f", b"\\u007f")]


def _values(value: Any) -> Any:
    return value.values() if type(value) is dict else value


def _brackets(t: type, pretty: bool, shift: bytes) -> tuple[bytes, bytes, bytes]:
    """The opening, closing and separating texts of an array or object laid out with its
    elements one level below ``shift`` (a newline and the indentation of its own line)."""
    start, end = (b"[", b"]") if t is list else (b"{", b"}")
    if not pretty:
        return start, end, b","
    inner = shift + b"  "
    return start + inner, shift + end, b"," + inner


class _Held:
    """Memory this path holds, refused (:class:`Unsupported`) rather than over the budget."""

    def __init__(self) -> None:
        self.budget = current_budget()
        self.n = 0

    def add(self, n: int) -> None:
        if self.budget is None:
            return
        try:
            self.budget.charge(n, "jq: input")
        except LimitExceeded:
            raise Unsupported from None
        self.n += n

    def close(self) -> None:
        if self.budget is not None and self.n:
            self.budget.release(self.n)
            self.n = 0


def _last_text(value: Any) -> str:
    return "null" if value is None else "false" if value is False else "value"


def split_interpolation(body: str) -> tuple[list[str], list[str]]:
    """A string literal's body (between its quotes) cut at each ``\\( )``: the texts around
    them (still escaped) and the programs inside. A program holding a quote or a backslash is
    unsupported: the tokens would not have split it right."""
    pieces: list[str] = []
    sources: list[str] = []
    i = start = 0
    while i < len(body):
        if body[i] != "\\":
            i += 1
            continue
        if body[i + 1 : i + 2] != "(":
            i += 2
            continue
        pieces.append(body[start:i])
        depth, j = 1, i + 2
        while j < len(body) and depth:
            c = body[j]
            if c in '"\\':
                raise Unsupported
            depth += 1 if c == "(" else -1 if c == ")" else 0
            j += 1
        if depth:
            raise Unsupported
        sources.append(body[i + 2 : j - 1])
        i = start = j
    pieces.append(body[start:])
    return pieces, sources
