"""Helpers shared by the data commands: operand reading and jq-style JSON output."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Iterator
from itertools import accumulate, repeat
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pocketos.kernel.process import Context


CHUNK = 64 * 1024


def _enc(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def _dec(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


async def _read_operand(ctx: Context, name: str) -> bytes:
    """Whole contents of a file operand (``-`` is stdin). Raises OSError."""
    if name == "-":
        return await ctx.stdin.read()
    st = ctx.fs.stat(name)
    if st.is_dir():
        raise IsADirectoryError(21, "Is a directory", name)
    return ctx.fs.read_bytes(name)


async def _iter_operand(ctx: Context, name: str) -> AsyncIterator[bytes]:
    """Chunks of a file operand (``-`` is stdin). Raises OSError."""
    if name == "-":
        async for chunk in ctx.stdin.chunks(CHUNK):
            yield chunk
        return
    st = ctx.fs.stat(name)
    if st.is_dir():
        raise IsADirectoryError(21, "Is a directory", name)
    with ctx.fs.open(name, "rb") as fh:
        while True:
            data = fh.read(CHUNK)
            if not data:
                return
            yield data
            ctx.check_killed()


_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def _ascii_escape(m: re.Match[str]) -> str:
    cp = ord(m.group(0))
    if cp < 0x10000:
        return f"\\u{cp:04x}"
    cp -= 0x10000
    return f"\\u{0xD800 + (cp >> 10):04x}\\u{0xDC00 + (cp & 0x3FF):04x}"


#: a token of compact JSON: a string, an empty array or object, a structural character, or a
#: number or literal
_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|\[\]|\{\}|[{}\[\]:,]|[^{}\[\]:,"]+')
_DEPTH_STEP = {"{": 1, "[": 1, "}": -1, "]": -1}


#: levels whose pieces are laid out once per value and looked up per token
_TABLE_DEPTH = 64
#: tokens laid out at once: at most 64 levels of 7 columns each, a piece stays near 2 MB
_SLICE = 4096
#: up to a slice of whole tokens from a position (where the next slice starts)
_RUN = re.compile(f"(?:{_TOKEN.pattern}){{1,{_SLICE}}}")


def format_json(compact: str, indent: str | None, ascii_only: bool = False) -> str:
    """Re-indent jq's compact JSON text like jq does (``indent`` None: compact)."""
    return "".join(iter_json(compact, indent, ascii_only))


def iter_json(compact: str, indent: str | None, ascii_only: bool = False) -> Iterator[str]:
    """:func:`format_json`'s text in pieces of bounded size. The layout grows with the square
    of the depth (each line is indented by its level): 16 KB nested 4,000 deep lay out as 32 MB,
    so it is never held whole; and the text is split into tokens a slice at a time (a list of
    every token of ``[12,12,…]`` takes some 25 times the text)."""
    if ascii_only:
        compact = _NON_ASCII.sub(_ascii_escape, compact)
    if indent is None or len(compact) < 3 or compact[0] not in "[{":
        yield compact
        return
    # every step runs in C: the tokens, the depth after each token (a running sum), then each
    # structural token and its depth looked up in a table of laid-out pieces (any other token
    # is its own piece)
    get = None
    built = -1
    depth = 0
    pos = 0
    n = len(compact)
    while pos < n:
        if n <= _SLICE:  # at most a slice of tokens (each is a character or more)
            end = n
        else:
            m = _RUN.match(compact, pos)
            if m is None:  # not text libjq prints (an unterminated string): the rest as is
                yield compact[pos:]
                return
            end = m.end()
        ts = _TOKEN.findall(compact, pos, end)
        ds = list(accumulate(map(_DEPTH_STEP.get, ts, repeat(0)), initial=depth))
        del ds[0]
        depth = ds[-1]
        deepest = max(ds)
        if get is None or (deepest > built and built < _TABLE_DEPTH):
            built = min(deepest, _TABLE_DEPTH)
            get = _piece_table(indent, built).get
        if deepest <= _TABLE_DEPTH:
            yield "".join(map(get, zip(ts, ds, strict=True), ts))
        else:
            yield from _deep_pieces(ts, ds, get, indent)
        pos = end


def _piece_table(indent: str, deepest: int) -> dict[tuple[str, int], str]:
    """Each structural token at each level up to ``deepest`` -> its laid-out text."""
    table: dict[tuple[str, int], str] = {}
    for d in range(deepest + 1):
        nl = "\n" + indent * d
        table["{", d] = "{" + nl
        table["[", d] = "[" + nl
        table["}", d] = nl + "}"
        table["]", d] = nl + "]"
        table[",", d] = "," + nl
        table[":", d] = ": "
    return table


def _deep_pieces(
    toks: list[str], depths: list[int], get: Callable[[tuple[str, int]], str | None], indent: str
) -> Iterator[str]:
    """The layout of tokens some of which lie deeper than the table: about ``CHUNK``
    characters at a time, each deep piece made when it is needed."""
    buf: list[str] = []
    size = 0
    for tok, d in zip(toks, depths, strict=True):
        piece = get((tok, d))
        if piece is None:
            if tok in _OPENING:
                piece = tok + "\n" + indent * d
            elif tok in _CLOSING:
                piece = "\n" + indent * d + tok
            elif tok == ",":
                piece = ",\n" + indent * d
            elif tok == ":":
                piece = ": "
            else:
                piece = tok
        buf.append(piece)
        size += len(piece)
        if size >= CHUNK:
            yield "".join(buf)
            buf = []
            size = 0
    if buf:
        yield "".join(buf)


_OPENING = ("[", "{")
_CLOSING = ("]", "}")


__all__ = ["format_json", "iter_json"]
