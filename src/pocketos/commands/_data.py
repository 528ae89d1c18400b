"""Helpers shared by the data commands: operand reading and jq-style JSON output."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
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


def format_json(compact: str, indent: str | None, ascii_only: bool = False) -> str:
    """Re-indent jq's compact JSON text like jq does (``indent`` None: compact)."""
    if ascii_only:
        compact = _NON_ASCII.sub(_ascii_escape, compact)
    if indent is None or len(compact) < 3 or compact[0] not in "[{":
        return compact
    # every step runs in C: the tokens, the depth after each token (a running sum), then each
    # structural token and its depth looked up in a table of laid-out pieces (any other token
    # is its own piece)
    toks = _TOKEN.findall(compact)
    depths = list(accumulate(map(_DEPTH_STEP.get, toks, repeat(0))))
    lines = ["\n" + indent * d for d in range(max(depths) + 1)]
    table: dict[tuple[str, int], str] = {}
    for d, nl in enumerate(lines):
        table["{", d] = "{" + nl
        table["[", d] = "[" + nl
        table["}", d] = nl + "}"
        table["]", d] = nl + "]"
        table[",", d] = "," + nl
        table[":", d] = ": "
    return "".join(map(table.get, zip(toks, depths, strict=True), toks))


__all__ = ["format_json"]
