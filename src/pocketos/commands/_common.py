"""Loops shared by several command modules."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from pocketos.commands.text_common import close_input, line_batches, open_input

if TYPE_CHECKING:
    from pocketos.kernel.process import Context

__all__ = [
    "drop_front",
    "filter_batches",
    "filter_lines",
    "leading_number_option",
    "parse_size",
]

_Seq = TypeVar("_Seq", bytes, list[bytes])


def drop_front(items: _Seq, skip: int) -> tuple[_Seq, int]:
    """Drop up to ``skip`` items from the front of ``items``: (what is kept, how many are
    still to skip after it)."""
    if len(items) <= skip:
        return items[:0], skip - len(items)
    return items[skip:], 0


def leading_number_option(args: list[str], letter: str) -> list[str]:
    """Rewrite an obsolete ``-NUM`` first argument as ``-LETTER NUM`` (``fold -40``)."""
    if args and re.fullmatch(r"-\d+", args[0]):
        return [f"-{letter}", args[0][1:], *args[1:]]
    return list(args)


async def filter_batches(
    ctx: Context,
    names: list[str],
    fn: Callable[[list[bytes]], bytes],
    sep: bytes = b"\n",
    *,
    open_prefix: str = "",
    read_errors: bool = False,
) -> int:
    """Stream each input (``-`` is stdin, none means stdin) through ``fn``, one batch of
    lines (each with its terminator) at a time, writing what it returns to stdout.
    Inputs that cannot be opened are reported (``NAME: OPEN_PREFIXfile: reason``) and make
    the status 1; so do errors while reading when ``read_errors`` (else they propagate)."""
    status = 0
    for name in names or ["-"]:
        stream = await open_input(ctx, name, prefix=open_prefix)
        if stream is None:
            status = 1
            continue
        try:
            async for batch in line_batches(stream, sep):
                ctx.check_killed()
                await ctx.stdout.write(fn(batch))
        except BrokenPipeError:
            raise
        except OSError as exc:
            if not read_errors:
                raise
            await ctx.err(f"{name}: {exc.strerror}")
            status = 1
        finally:
            close_input(ctx, stream)
    return status


async def filter_lines(
    ctx: Context,
    names: list[str],
    fn: Callable[[bytes], bytes],
    sep: bytes = b"\n",
    *,
    open_prefix: str = "",
    read_errors: bool = False,
) -> int:
    """:func:`filter_batches` with ``fn`` applied to each line."""
    return await filter_batches(
        ctx,
        names,
        lambda batch: b"".join(map(fn, batch)),
        sep,
        open_prefix=open_prefix,
        read_errors=read_errors,
    )


_SIZE_RE = re.compile(r"^(\d+)([A-Za-z]*)$")
_POW = {
    "": 0,
    "K": 1,
    "k": 1,
    "M": 2,
    "m": 2,
    "G": 3,
    "g": 3,
    "T": 4,
    "t": 4,
    "P": 5,
    "E": 6,
    "Z": 7,
    "Y": 8,
    "R": 9,
    "Q": 10,
}


def parse_size(text: str) -> int | None:
    """``10``, ``2K``, ``1kB``, ``3MiB``, ``4b`` -> a count, or None when invalid."""
    m = _SIZE_RE.match(text)
    if not m:
        return None
    digits = m.group(1).lstrip("0")
    # past 4,000 digits int() refuses the text; such a count is "more than anything"
    n = int(digits or "0") if len(digits) <= 4000 else (1 << 63) - 1
    suf = m.group(2)
    if not suf:
        return n
    if suf == "b":
        return n * 512
    if suf in ("c", "w"):
        return n * (1 if suf == "c" else 2)
    letter, rest = suf[0], suf[1:]
    if letter not in _POW:
        return None
    p = _POW[letter]
    if rest == "":
        return n * 1024**p
    if rest == "B":
        return n * 1000**p
    if rest == "iB":
        return n * 1024**p
    return None
