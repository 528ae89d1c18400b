"""Backslash escapes and quoting for ``printf``: the escapes of a format and of ``%b``
operands (``\\c`` stops all output), and ``%q``'s shell quoting (``$'...'`` where bash uses
it). Works on bytes; text comes and goes as ``surrogateescape`` str."""

from __future__ import annotations

from pocketos.shell.printf_numbers import _HEX

__all__ = ["expand_b", "quote_q"]

_SE = "surrogateescape"

_SIMPLE_ESC = {
    ord("a"): b"\x07",
    ord("b"): b"\x08",
    ord("e"): b"\x1b",
    ord("E"): b"\x1b",
    ord("f"): b"\x0c",
    ord("n"): b"\n",
    ord("r"): b"\r",
    ord("t"): b"\t",
    ord("v"): b"\x0b",
    ord("\\"): b"\\",
}
_OCT = b"01234567"


class _Stop(Exception):
    """``\\c`` in a ``%b`` operand: stop all output."""


def _b(s: str) -> bytes:
    return s.encode("utf-8", _SE)


def _s(b: bytes) -> str:
    return b.decode("utf-8", _SE)


def _utf8_encode(cp: int) -> bytes:
    """UTF-8 the way bash writes it: surrogates and values up to 2**31 included."""
    if cp < 0x80:
        return bytes([cp])
    if cp < 0x800:
        return bytes([0xC0 | cp >> 6, 0x80 | cp & 0x3F])
    if cp < 0x10000:
        return bytes([0xE0 | cp >> 12, 0x80 | cp >> 6 & 0x3F, 0x80 | cp & 0x3F])
    if cp < 0x200000:
        return bytes(
            [0xF0 | cp >> 18, 0x80 | cp >> 12 & 0x3F, 0x80 | cp >> 6 & 0x3F, 0x80 | cp & 0x3F]
        )
    if cp < 0x4000000:
        return bytes(
            [
                0xF8 | cp >> 24,
                0x80 | cp >> 18 & 0x3F,
                0x80 | cp >> 12 & 0x3F,
                0x80 | cp >> 6 & 0x3F,
                0x80 | cp & 0x3F,
            ]
        )
    return bytes(
        [
            0xFC | cp >> 30 & 0x01,
            0x80 | cp >> 24 & 0x3F,
            0x80 | cp >> 18 & 0x3F,
            0x80 | cp >> 12 & 0x3F,
            0x80 | cp >> 6 & 0x3F,
            0x80 | cp & 0x3F,
        ]
    )


def _escape(data: bytes, i: int, in_b: bool, utf8: bool, errors: list[str]) -> tuple[bytes, int]:
    """Decode the escape whose backslash is at ``data[i - 1]``; ``data[i]`` is the next byte.

    Returns (bytes to emit, index of the next unread byte). ``in_b`` selects the ``%b`` rules.
    Raises :class:`_Stop` for ``\\c`` under ``%b``.
    """
    n = len(data)
    if i >= n:
        return b"\\", i
    c = data[i]
    if c in _SIMPLE_ESC:
        return _SIMPLE_ESC[c], i + 1
    if c in b"'\"?":
        return (b"\\", i) if in_b else (bytes([c]), i + 1)
    if c in _OCT:
        value = c - 48
        more = 3 if (in_b and value == 0) else 2
        j = i + 1
        while j < n and more and data[j] in _OCT:
            value = value * 8 + data[j] - 48
            j += 1
            more -= 1
        return bytes([value & 0xFF]), j
    if c == ord("x"):
        j = i + 1
        value = 0
        while j < n and j < i + 3 and data[j] in _HEX:
            value = value * 16 + int(chr(data[j]), 16)
            j += 1
        if j == i + 1:
            errors.append("missing hex digit for \\x")
            return b"\\", i
        return bytes([value]), j
    if c in b"uU":
        limit = 4 if c == ord("u") else 8
        j = i + 1
        value = 0
        while j < n and j < i + 1 + limit and data[j] in _HEX:
            value = value * 16 + int(chr(data[j]), 16)
            j += 1
        if j == i + 1:
            errors.append(f"missing unicode digit for \\{chr(c)}")
            return b"\\", i
        if value <= 0x7F:
            return bytes([value]), j
        if utf8:
            return _utf8_encode(value & 0x7FFFFFFF), j
        if value <= 0xFFFF:
            return f"\\u{value:04X}".encode(), j
        return f"\\U{value:08X}".encode(), j
    if c == ord("c") and in_b:
        raise _Stop
    return b"\\", i


def expand_b(arg: str, *, utf8: bool = False) -> tuple[str, bool, list[str]]:
    """Expand backslash escapes like ``%b`` / ``echo -e``.

    Returns (text, stopped, errors): ``stopped`` is true when ``\\c`` ended the text.
    """
    errors: list[str] = []
    out, stopped = _expand_b_bytes(_b(arg), utf8, errors)
    return _s(out), stopped, errors


def _expand_b_bytes(data: bytes, utf8: bool, errors: list[str]) -> tuple[bytes, bool]:
    out = bytearray()
    i = 0
    n = len(data)
    while i < n:
        j = data.find(b"\\", i)
        if j < 0:
            out += data[i:]
            break
        out += data[i:j]
        try:
            piece, i = _escape(data, j + 1, True, utf8, errors)
        except _Stop:
            return bytes(out), True
        out += piece
    return bytes(out), False


# --- %q ---------------------------------------------------------------------------------------
_BACKSLASH_CHARS = frozenset(b" \t\n!\"$&'()*,;<>?[\\]^`{|}")
_ANSI_NAMED = {7: "a", 8: "b", 9: "t", 10: "n", 11: "v", 12: "f", 13: "r", 27: "E"}


def _needs_ansi(data: bytes, utf8: bool) -> bool:
    if not utf8:
        return any(c < 0x20 or c >= 0x7F for c in data)
    text = data.decode("utf-8", _SE)
    for ch in text:
        o = ord(ch)
        if o < 0x20 or o == 0x7F or 0x80 <= o < 0xA0 or 0xDC80 <= o <= 0xDCFF:
            return True
    return False


def _quote_bytes(data: bytes, utf8: bool) -> bytes:
    if not data:
        return b"''"
    if _needs_ansi(data, utf8):
        out = bytearray(b"$'")
        text = data.decode("utf-8", _SE) if utf8 else None
        if text is not None:
            for ch in text:
                o = ord(ch)
                if 0xDC80 <= o <= 0xDCFF:
                    out += f"\\{o - 0xDC00:03o}".encode()
                elif o < 0x80:
                    out += _ansi_byte(o)
                elif o < 0xA0:
                    for byte in ch.encode("utf-8"):
                        out += f"\\{byte:03o}".encode()
                else:
                    out += ch.encode("utf-8")
        else:
            for byte in data:
                out += _ansi_byte(byte) if byte < 0x80 else f"\\{byte:03o}".encode()
        out += b"'"
        return bytes(out)
    out = bytearray()
    for k, byte in enumerate(data):
        if (
            byte in _BACKSLASH_CHARS
            or (byte == ord("#") and k == 0)
            or (byte == ord("~") and (k == 0 or data[k - 1] in b":="))
        ):
            out += b"\\"
        out.append(byte)
    return bytes(out)


def _ansi_byte(o: int) -> bytes:
    if o in _ANSI_NAMED:
        return b"\\" + _ANSI_NAMED[o].encode()
    if o == 0x5C:
        return b"\\\\"
    if o == 0x27:
        return b"\\'"
    if o < 0x20 or o == 0x7F:
        return f"\\{o:03o}".encode()
    return bytes([o])


def quote_q(arg: str, *, utf8: bool = False) -> str:
    """Quote ``arg`` for reuse as shell input, like bash 5's ``printf %q``."""
    return _s(_quote_bytes(_b(arg), utf8))
