"""The ``printf`` engine of the shell: bash 5's ``printf`` builtin, minus option parsing.

:func:`format_printf` takes the format and the operands (``str`` decoded from bytes with
``surrogateescape``) and returns the output, the error messages (without the ``printf: ``
prefix; the caller adds ``bash: line N: printf: ``) and the exit status. Formatting is done on
bytes, as C ``printf`` does (widths and precisions count bytes), so any byte string survives the
round trip.

Floating point conversions emulate the x86 80-bit ``long double`` bash uses (see
shell/printf_numbers.py), so ``%.20f`` and ``%a`` produce the same digits as bash on x86-64
Linux; escapes and ``%q`` are in shell/printf_escapes.py.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from fractions import Fraction

from pocketos.shell.printf_escapes import (
    _OCT,
    _SE,
    _b,
    _escape,
    _expand_b_bytes,
    _quote_bytes,
    _s,
    _Stop,
    expand_b,
    quote_q,
)
from pocketos.shell.printf_numbers import (
    _DIGITS,
    _HEX,
    _LD,
    _clamped,
    _fmt_a,
    _fmt_e,
    _fmt_f,
    _fmt_g,
    _int,
    _lead,
    _str,
    _strtold,
)

__all__ = ["format_printf", "quote_q", "expand_b"]

_INTMAX = (1 << 63) - 1
_INTMIN = -(1 << 63)
_UINTMAX = (1 << 64) - 1
_INT_MAX = (1 << 31) - 1
_INT_MIN = -(1 << 31)
#: widths and precisions beyond this are clamped (bash would try to print gigabytes)
MAX_FIELD = 1 << 20
#: default bound on one call's output; past it printf stops with status 1
MAX_OUTPUT = 64 << 20

_FLAG_CHARS = b"#'-+ 0"
_LENMODS = b"hjlLtzZ"


class _Fatal(Exception):
    """A bad directive: bash stops at once with status 1."""


# --- numbers ----------------------------------------------------------------------------------
def _invalid_msg(word: bytes) -> str:
    if word[:1] == b"0" and word[1:2].isdigit():
        kind = "invalid octal number"
    elif word[:2] == b"0x":
        kind = "invalid hex number"
    else:
        kind = "invalid number"
    return f"{_s(word)}: {kind}"


def _char_value(word: bytes, utf8: bool) -> int:
    rest = word[1:]
    if not rest:
        return 0
    if utf8 and rest[0] >= 0x80:
        ch = rest.decode("utf-8", _SE)[0]
        if not 0xDC80 <= ord(ch) <= 0xDCFF:
            return ord(ch)
    return rest[0]


def _strtoint(word: bytes) -> tuple[int, int]:
    """strtoimax(word, &end, 0) without range checks: (value, end index)."""
    n = len(word)
    i, neg = _lead(word)
    if (
        i + 1 < n
        and word[i] == ord("0")
        and word[i + 1] in b"xX"
        and i + 2 < n
        and word[i + 2] in _HEX
    ):
        j = i + 2
        while j < n and word[j] in _HEX:
            j += 1
        value = _int(word[i + 2 : j], 16)
    elif i < n and word[i] == ord("0"):
        j = i + 1
        while j < n and word[j] in _OCT:
            j += 1
        value = _int(word[i:j], 8)
    elif i < n and word[i] in _DIGITS:
        j = i
        while j < n and word[j] in _DIGITS:
            j += 1
        value = _int(word[i:j])
    else:
        return 0, 0
    return (-value if neg else value), j


@dataclass
class _Args:
    items: list[bytes]
    pos: int = 0
    utf8: bool = False

    def more(self) -> bool:
        return self.pos < len(self.items)

    def take(self) -> bytes | None:
        if self.pos < len(self.items):
            self.pos += 1
            return self.items[self.pos - 1]
        return None


class _Printer:
    def __init__(self, args: list[bytes], utf8: bool) -> None:
        self.args = _Args(args, 0, utf8)
        self.utf8 = utf8
        self.errors: list[str] = []
        self.status = 0

    # integers
    def get_int(self, unsigned: bool = False) -> int:
        word = self.args.take()
        if word is None or word == b"":
            return 0
        if word[:1] in (b"'", b'"'):
            return _char_value(word, self.utf8)
        value, end = _strtoint(word)
        if end < len(word):
            self.errors.append(_invalid_msg(word))
            self.status = 1
        erange = False
        if unsigned:
            if abs(value) > _UINTMAX:
                value, erange = _UINTMAX, True
            value &= _UINTMAX
        elif value > _INTMAX:
            value, erange = _INTMAX, True
        elif value < _INTMIN:
            value, erange = _INTMIN, True
        if erange and end == len(word):
            self.errors.append(f"warning: {_s(word)}: Numerical result out of range")
        return value

    def get_star(self) -> int:
        word = self.args.items[self.args.pos] if self.args.more() else None
        value = self.get_int()
        if value > _INT_MAX or value < _INT_MIN:
            self.errors.append(f"warning: {_s(word or b'')}: Numerical result out of range")
            value = _INT_MAX if value > 0 else _INT_MIN
        return value

    def get_float(self) -> _LD:
        word = self.args.take()
        if word is None or word == b"":
            return _LD(False, Fraction(0))
        if word[:1] in (b"'", b'"'):
            return _LD(False, Fraction(_char_value(word, self.utf8)))
        value, end = _strtold(word)
        if end < len(word):
            self.errors.append(_invalid_msg(word))
            self.status = 1
            return value
        if value.erange:
            self.errors.append(f"warning: {_s(word)}: Numerical result out of range")
        return value


# --- the driver -------------------------------------------------------------------------------
def _pad(body: bytes, width: int, left: bool) -> bytes:
    if width <= len(body):
        return body
    fill = b" " * (width - len(body))
    return body + fill if left else fill + body


def _pad_num(
    sign: bytes, prefix: bytes, digits: bytes, width: int, left: bool, zero: bool
) -> bytes:
    body_len = len(sign) + len(prefix) + len(digits)
    if width <= body_len:
        return sign + prefix + digits
    if left:
        return sign + prefix + digits + b" " * (width - body_len)
    if zero:
        return sign + prefix + b"0" * (width - body_len) + digits
    return b" " * (width - body_len) + sign + prefix + digits


def format_printf(
    fmt: str, args: list[str], *, utf8: bool = False, max_output: int = MAX_OUTPUT
) -> tuple[str, list[str], int]:
    """Run bash's ``printf FORMAT ARGS...``: (output, error messages, exit status).

    ``utf8`` selects the behaviour of a UTF-8 locale (``\\u`` escapes, ``'c`` constants and
    ``%q``); the default is the C locale. ``%n`` is accepted and ignored (it consumes its
    operand); ``-v`` and ``--`` are for the caller. Output beyond ``max_output`` bytes stops
    printf with status 1 (``output too large``).
    """
    plain = fmt.replace("\\n", "\n") if "\\" in fmt else fmt
    if "\\" not in plain and plain.count("%") == 1 and "%s" in plain and plain.isascii():
        # one plain ``%s`` and no escape but ``\n`` (``'%s\n'``, ``'%s,'``): each argument
        # between the text around it, the format reused for each as bash does
        head, tail = plain.split("%s")
        if not args:
            return head + tail, [], 0
        out_s = "".join([head + a + tail for a in args])
        if len(out_s) <= max_output and out_s.isascii():
            return out_s, [], 0
    fmtb = _b(fmt)
    pr = _Printer([_b(a) for a in args], utf8)
    out = bytearray()
    try:
        while True:
            start_pos = pr.args.pos
            _one_pass(fmtb, pr, out, max_output)
            if not pr.args.more() or pr.args.pos == start_pos:
                break
    except _Stop as stop:
        if isinstance(stop, _StopWith):
            out += stop.data
        return _s(bytes(out)), pr.errors, 0
    except _Fatal:
        return _s(bytes(out)), pr.errors, 1
    return _s(bytes(out)), pr.errors, pr.status


def _one_pass(fmt: bytes, pr: _Printer, out: bytearray, max_output: int) -> None:
    n = len(fmt)
    i = 0
    while i < n:
        if len(out) > max_output:
            del out[max_output:]
            pr.errors.append("output too large")
            raise _Fatal
        c = fmt[i]
        if c == 0x5C:  # backslash
            piece, i = _escape(fmt, i + 1, False, pr.utf8, pr.errors)
            out += piece
            continue
        if c != 0x25:  # not %
            j = i + 1
            while j < n and fmt[j] not in (0x25, 0x5C):
                j += 1
            out += fmt[i:j]
            i = j
            continue
        if i + 1 < n and fmt[i + 1] == 0x25:
            out += b"%"
            i += 2
            continue
        start = i
        i += 1
        flags = set()
        while i < n and fmt[i] in _FLAG_CHARS:
            flags.add(chr(fmt[i]))
            i += 1
        width = 0
        if i < n and fmt[i] == ord("*"):
            i += 1
            width = pr.get_star()
            if width < 0:
                flags.add("-")
                width = -width
        else:
            s = i
            while i < n and fmt[i] in _DIGITS:
                i += 1
            if i > s:
                width = _clamped(fmt[s:i], MAX_FIELD)
        prec: int | None = None
        if i < n and fmt[i] == ord("."):
            i += 1
            if i < n and fmt[i] == ord("*"):
                i += 1
                prec = pr.get_star()
                if prec < 0:
                    prec = None
            else:
                s = i
                while i < n and fmt[i] in _DIGITS:
                    i += 1
                prec = _clamped(fmt[s:i], MAX_FIELD) if i > s else 0
        while i < n and fmt[i] in _LENMODS:
            i += 1
        if i >= n:
            pr.errors.append(f"`{_s(fmt[start:])}': missing format character")
            raise _Fatal
        conv = chr(fmt[i])
        i += 1
        width = min(width, MAX_FIELD)
        if prec is not None:
            prec = min(prec, MAX_FIELD)
        if conv == "(":
            close = fmt.find(b")", i)
            if close < 0 or close + 1 >= n or fmt[close + 1] != ord("T"):
                pr.errors.append("`(': invalid time format specification")
                raise _Fatal
            tfmt = _s(fmt[i:close])
            i = close + 2
            out += _pad(_strftime(tfmt, pr, prec), width, "-" in flags)
            continue
        out += _convert(conv, flags, width, prec, pr)


def _strftime(tfmt: str, pr: _Printer, prec: int | None) -> bytes:
    if pr.args.more():
        when = pr.get_int()
    else:
        when = -1
    if when in (-1, -2):
        when = int(time.time())
    try:
        text = time.strftime(tfmt or "%X", time.localtime(when))
    except (OverflowError, OSError, ValueError):
        text = ""
    data = text.encode("utf-8", _SE)
    return data[:prec] if prec is not None else data


def _convert(conv: str, flags: set[str], width: int, prec: int | None, pr: _Printer) -> bytes:
    left = "-" in flags
    if conv in "di":
        v = pr.get_int()
        sign = b"-" if v < 0 else b"+" if "+" in flags else b" " if " " in flags else b""
        digits = _str(abs(v)).encode()
        if prec is not None:
            digits = b"" if (prec == 0 and v == 0) else digits.rjust(prec, b"0")
        return _pad_num(sign, b"", digits, width, left, "0" in flags and prec is None)
    if conv in "ouxX":
        v = pr.get_int(unsigned=True)
        prefix = b""
        if conv == "o":
            digits = f"{v:o}".encode()
        elif conv == "u":
            digits = str(v).encode()
        else:
            digits = (f"{v:x}" if conv == "x" else f"{v:X}").encode()
            if "#" in flags and v != 0:
                prefix = b"0x" if conv == "x" else b"0X"
        if prec is not None:
            digits = b"" if (prec == 0 and v == 0) else digits.rjust(prec, b"0")
        if conv == "o" and "#" in flags and not digits.startswith(b"0"):
            digits = b"0" + digits
        return _pad_num(b"", prefix, digits, width, left, "0" in flags and prec is None)
    if conv in "eEfFgGaA":
        ld = pr.get_float()
        upper = conv.isupper()
        sign = b"-" if ld.neg else b"+" if "+" in flags else b" " if " " in flags else b""
        alt = "#" in flags
        if isinstance(ld.mag, str):
            special = ld.mag.upper() if upper else ld.mag
            return _pad_num(sign, b"", special.encode(), width, left, False)
        p = 6 if prec is None else prec
        if conv in "fF":
            text = _fmt_f(ld.mag, p, alt)
        elif conv in "eE":
            text = _fmt_e(ld.mag, p, alt, upper)
        elif conv in "gG":
            text = _fmt_g(ld.mag, p, alt, upper)
        else:
            text = _fmt_a(ld.mag, prec, alt, upper)
            prefix = text[:2].encode()
            return _pad_num(sign, prefix, text[2:].encode(), width, left, "0" in flags)
        return _pad_num(sign, b"", text.encode(), width, left, "0" in flags)
    if conv == "c":
        word = pr.args.take()
        body = word[:1] if word else b"\x00"
        return _pad(body, width, left)
    if conv == "s":
        word = pr.args.take() or b""
        if prec is not None:
            word = word[:prec]
        return _pad(word, width, left)
    if conv == "b":
        word = pr.args.take() or b""
        try:
            body, stopped = _expand_b_bytes(word, pr.utf8, pr.errors)
        except _Stop:  # pragma: no cover - _expand_b_bytes reports it as ``stopped``
            body, stopped = b"", True
        if prec is not None:
            body = body[:prec]
        if stopped:
            pr_out = _pad(body, width, left)
            raise _StopWith(pr_out)
        return _pad(body, width, left)
    if conv in "qQ":
        word = pr.args.take() or b""
        if conv == "Q" and prec is not None:
            word = word[:prec]
        body = _quote_bytes(word, pr.utf8)
        if conv == "q" and prec is not None:
            body = body[:prec]
        return _pad(body, width, left)
    if conv == "n":
        pr.args.take()
        return b""
    pr.errors.append(f"`{conv}': invalid format character")
    raise _Fatal


class _StopWith(_Stop):
    """``\\c`` inside ``%b``: the text to write before stopping."""

    def __init__(self, data: bytes) -> None:
        super().__init__()
        self.data = data
