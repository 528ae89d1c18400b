"""base64."""

from __future__ import annotations

import base64 as _b64
import binascii
from typing import TYPE_CHECKING

from pocketos.commands import command
from pocketos.commands._args import Opt, UsageError, parse, report

if TYPE_CHECKING:
    from pocketos.kernel.process import Context

from pocketos.commands._data import _iter_operand

_B64_USAGE = """Usage: base64 [OPTION]... [FILE]
Base64 encode or decode FILE, or standard input, to standard output.

With no FILE, or when FILE is -, read standard input.

  -d, --decode          decode data
  -i, --ignore-garbage  when decoding, ignore non-alphabet characters
  -w, --wrap=COLS       wrap encoded lines after COLS character (default 76).
                          Use 0 to disable line wrapping
      --help        display this help and exit
"""

_B64_ALPHABET = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")
_B64_GARBAGE = bytes(c for c in range(256) if c not in _B64_ALPHABET)


def _b64_group(group: bytes) -> bytes | None:
    """Decode one group of up to 4 characters the way GNU does (None: invalid)."""
    body = group.rstrip(b"=")
    pad = len(group) - len(body)
    if b"=" in body or len(body) < 2 or (len(group) == 4 and pad > 2):
        return None
    if len(group) < 4 and pad:
        return None
    try:
        return binascii.a2b_base64(body + b"=" * (-len(body) % 4), strict_mode=True)
    except binascii.Error:
        return None


@command("base64")
async def base64_cmd(ctx: Context) -> int:
    spec = [
        Opt("d", "decode"),
        Opt("i", "ignore-garbage"),
        Opt("w", "wrap", "required"),
        Opt("", "help"),
    ]
    try:
        p = parse("base64", ctx.argv[1:], spec)
    except UsageError as e:
        return await report(ctx, e)
    if p.flag("help"):
        await ctx.out(_B64_USAGE)
        return 0
    wrap = 76
    if p.get("wrap") is not None:
        w = p.str("wrap") or ""
        if not w.isdigit():
            await ctx.err(f"invalid wrap size: '{w}'")
            return 1
        wrap = int(w)
    if len(p.operands) > 1:
        await ctx.err(f"extra operand '{p.operands[1]}'\nTry 'base64 --help' for more information.")
        return 1
    name = p.operands[0] if p.operands else "-"
    try:
        if p.flag("decode"):
            return await _b64_decode(ctx, name, p.flag("ignore_garbage"))
        await _b64_encode(ctx, name, wrap)
    except OSError as exc:
        if isinstance(exc, BrokenPipeError):
            raise
        await ctx.os_error(exc, name)
        return 1
    return 0


async def _b64_encode(ctx: Context, name: str, wrap: int) -> None:
    carry = b""
    col = 0
    async for chunk in _iter_operand(ctx, name):
        data = carry + chunk
        cut = len(data) - len(data) % 3
        carry = data[cut:]
        enc = _b64.b64encode(data[:cut])
        out, col = _wrap(enc, wrap, col)
        if out:
            await ctx.stdout.write(out)
    enc = _b64.b64encode(carry)
    out, col = _wrap(enc, wrap, col)
    if wrap > 0 and col:
        out += b"\n"
    if out:
        await ctx.stdout.write(out)


def _wrap(enc: bytes, wrap: int, col: int) -> tuple[bytes, int]:
    if wrap <= 0 or not enc:
        return enc, col + len(enc)
    parts: list[bytes] = []
    i = 0
    while i < len(enc):
        take = min(wrap - col, len(enc) - i)
        parts.append(enc[i : i + take])
        i += take
        col += take
        if col == wrap:
            parts.append(b"\n")
            col = 0
    return b"".join(parts), col


async def _b64_decode(ctx: Context, name: str, ignore: bool) -> int:
    pending = b""
    async for chunk in _iter_operand(ctx, name):
        if ignore:
            chunk = chunk.translate(None, _B64_GARBAGE)
        else:
            chunk = chunk.replace(b"\n", b"")
        data = pending + chunk
        cut = len(data) - len(data) % 4
        pending = data[cut:]
        out, ok = _b64_decode_groups(data[:cut])
        if out:
            await ctx.stdout.write(out)
        if not ok:
            await ctx.err("invalid input")
            return 1
    if pending:
        out, ok = _b64_decode_groups(pending)
        if out:
            await ctx.stdout.write(out)
        if not ok or len(pending) % 4:
            await ctx.err("invalid input")
            return 1
    return 0


def _b64_decode_groups(data: bytes) -> tuple[bytes, bool]:
    # fast path: a run without padding inside
    if data and b"=" not in data[:-4]:
        try:
            return binascii.a2b_base64(data, strict_mode=True), True
        except binascii.Error:
            pass
    out: list[bytes] = []
    for i in range(0, len(data), 4):
        group = data[i : i + 4]
        dec = _b64_group(group)
        if dec is None:
            # GNU decodes as much of a short or broken group as it can
            body = group.split(b"=")[0]
            keep = b""
            for k in range(len(body), 1, -1):
                d = _b64_group(body[:k])
                if d is not None and all(c in _B64_ALPHABET for c in body[:k]):
                    keep = d
                    break
            out.append(keep)
            return b"".join(out), False
        out.append(dec)
    return b"".join(out), True
