"""The ``printf`` engine of the shell: bash 5's ``printf`` builtin, minus option parsing.

:func:`format_printf` takes the format and the operands (``str`` decoded from bytes with
``surrogateescape``) and returns the output, the error messages (without the ``printf: ``
prefix; the caller adds ``bash: line N: printf: ``) and the exit status. Formatting is done on
bytes, as C ``printf`` does (widths and precisions count bytes), so any byte string survives the
round trip.

Floating point conversions emulate the x86 80-bit ``long double`` bash uses: operands are
parsed exactly, rounded to a 64-bit significand and printed exactly, so ``%.20f`` and ``%a``
produce the same digits as bash on x86-64 Linux.
"""

from __future__ import annotations

import decimal
import math
import time
from dataclasses import dataclass
from fractions import Fraction

__all__ = ["format_printf", "quote_q", "expand_b"]

_SE = "surrogateescape"
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
_SPACES = b" \t\n\v\f\r"
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
_HEX = b"0123456789abcdefABCDEF"
_OCT = b"01234567"
_DIGITS = b"0123456789"


class _Stop(Exception):
    """``\\c`` in a ``%b`` operand: stop all output."""


class _Fatal(Exception):
    """A bad directive: bash stops at once with status 1."""


def _int(digits: bytes | bytearray, base: int = 10) -> int:
    """int() without Python's limit on long decimal strings."""
    if base != 10 or len(digits) <= 4000:
        return int(digits, base)
    return int(decimal.Decimal(digits.decode("ascii")))


def _str(n: int) -> str:
    """str() without Python's limit on long decimal strings."""
    if n.bit_length() <= 13000:
        return str(n)
    return str(decimal.Decimal(n))


def _clamped(digits: bytes, limit: int) -> int:
    """A run of decimal digits as an int, at most ``limit``."""
    digits = digits.lstrip(b"0") or b"0"
    return limit if len(digits) > 12 else min(int(digits), limit)


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
    i = 0
    while i < n and word[i] in _SPACES:
        i += 1
    neg = False
    if i < n and word[i] in b"+-":
        neg = word[i] == ord("-")
        i += 1
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


@dataclass
class _LD:
    """An x86 long double: sign plus magnitude (exact fraction, ``"inf"`` or ``"nan"``)."""

    neg: bool
    mag: Fraction | str
    erange: bool = False


_LD_MIN_EXP = -16445  # exponent of the least significant bit of the smallest subnormal


def _round_ld(neg: bool, x: Fraction) -> _LD:
    if x == 0:
        return _LD(neg, Fraction(0))
    num, den = x.numerator, x.denominator
    e = num.bit_length() - den.bit_length() - 64
    # find e with 2**63 <= x / 2**e < 2**64
    while True:
        scaled = Fraction(num, den) / (Fraction(2) ** e)
        if scaled >= 1 << 64:
            e += 1
        elif scaled < 1 << 63:
            e -= 1
        else:
            break
    erange = False
    if e < _LD_MIN_EXP:
        e = _LD_MIN_EXP
        erange = True
    scaled = Fraction(num, den) / (Fraction(2) ** e)
    m = round(scaled)  # round half to even
    if m == 0:
        return _LD(neg, Fraction(0), True)
    value = Fraction(m) * Fraction(2) ** e
    if value >= Fraction(2) ** 16384:
        return _LD(neg, "inf", True)
    if value < Fraction(2) ** -16382:
        erange = True
    return _LD(neg, value, erange)


def _strtold(word: bytes) -> tuple[_LD, int]:
    """strtold(word, &end): (value, end index)."""
    n = len(word)
    i = 0
    while i < n and word[i] in _SPACES:
        i += 1
    neg = False
    if i < n and word[i] in b"+-":
        neg = word[i] == ord("-")
        i += 1
    low = word[i:].lower()
    if low.startswith(b"inf"):
        return _LD(neg, "inf"), i + (8 if low.startswith(b"infinity") else 3)
    if low.startswith(b"nan"):
        j = i + 3
        if j < n and word[j] == ord("("):
            k = j + 1
            while k < n and (chr(word[k]).isalnum() or word[k] == ord("_")) and word[k] < 128:
                k += 1
            if k < n and word[k] == ord(")"):
                j = k + 1
        return _LD(neg, "nan"), j
    if low[:2] == b"0x" and (
        low[2:3].isdigit()
        or low[2:3] in (b"a", b"b", b"c", b"d", b"e", b"f")
        or (low[2:3] == b"." and low[3:4] != b"" and low[3] in _HEX)
    ):
        j = i + 2
        mant = 0
        exp = 0
        seen_point = False
        while j < n and (word[j] in _HEX or (word[j] == ord(".") and not seen_point)):
            if word[j] == ord("."):
                seen_point = True
            else:
                mant = mant * 16 + int(chr(word[j]), 16)
                if seen_point:
                    exp -= 4
            j += 1
        if j < n and word[j] in b"pP":
            k = j + 1
            sign = 1
            if k < n and word[k] in b"+-":
                sign = -1 if word[k] == ord("-") else 1
                k += 1
            if k < n and word[k] in _DIGITS:
                s = k
                while k < n and word[k] in _DIGITS:
                    k += 1
                exp += sign * _clamped(word[s:k], 100000)
                j = k
        return _round_ld(neg, Fraction(mant) * Fraction(2) ** exp), j
    j = i
    digits = bytearray()
    frac_digits = 0
    while j < n and word[j] in _DIGITS:
        digits.append(word[j])
        j += 1
    if j < n and word[j] == ord("."):
        k = j + 1
        while k < n and word[k] in _DIGITS:
            digits.append(word[k])
            frac_digits += 1
            k += 1
        if digits:
            j = k
    if not digits:
        return _LD(False, Fraction(0)), 0
    exp = -frac_digits
    if j < n and word[j] in b"eE":
        k = j + 1
        sign = 1
        if k < n and word[k] in b"+-":
            sign = -1 if word[k] == ord("-") else 1
            k += 1
        if k < n and word[k] in _DIGITS:
            s = k
            while k < n and word[k] in _DIGITS:
                k += 1
            exp += sign * _clamped(word[s:k], 100000)
            j = k
    mant = _int(digits)
    if mant == 0:
        return _LD(neg, Fraction(0)), j
    # values far outside the long double range: skip the exact arithmetic
    magnitude = len(digits.lstrip(b"0")) + exp
    if magnitude > 4935:
        return _LD(neg, "inf", True), j
    if magnitude < -4955:
        return _LD(neg, Fraction(0), True), j
    return _round_ld(neg, Fraction(mant) * Fraction(10) ** exp), j


def _round_half_even(x: Fraction) -> int:
    return round(x)


def _exact_places(mag: Fraction) -> int | None:
    """Decimal places after which ``mag`` has only zeros (its denominator is 2**k: k places),
    or None when the expansion does not end."""
    d = mag.denominator
    if d & (d - 1) == 0:
        return d.bit_length() - 1
    return None


def _fmt_f(mag: Fraction, prec: int, alt: bool) -> str:
    # a binary fraction has at most k decimal places: compute those, pad the rest with zeros
    # (a precision of a million digits must not cost a million-digit multiplication)
    k = _exact_places(mag)
    pad = 0
    if k is not None and prec > k:
        pad, prec = prec - k, k
    digits = _str(_round_half_even(mag * 10**prec))
    if prec == 0:
        out = digits + ("." if alt or pad else "")
        return out + "0" * pad
    digits = digits.rjust(prec + 1, "0")
    return digits[:-prec] + "." + digits[-prec:] + "0" * pad


def _exp10(mag: Fraction) -> int:
    """floor(log10(mag)) for mag > 0."""
    e = math.floor((mag.numerator.bit_length() - mag.denominator.bit_length()) * 0.30103)
    while Fraction(10) ** e > mag:
        e -= 1
    while Fraction(10) ** (e + 1) <= mag:
        e += 1
    return e


def _e_parts(mag: Fraction, prec: int) -> tuple[str, int]:
    if mag == 0:
        return "0" * (prec + 1), 0
    e = _exp10(mag)
    k = _exact_places(mag)
    pad = 0
    if k is not None and prec - e > k + 1:
        # digits past the exact expansion are zeros
        pad = prec - e - (k + 1)
        prec -= pad
    digits = _round_half_even(mag * Fraction(10) ** (prec - e))
    if digits >= 10 ** (prec + 1):
        e += 1
        digits = _round_half_even(mag * Fraction(10) ** (prec - e))
    return _str(digits) + "0" * pad, e


def _fmt_e(mag: Fraction, prec: int, alt: bool, upper: bool) -> str:
    digits, e = _e_parts(mag, prec)
    body = digits[0] + ("." + digits[1:] if prec > 0 or alt else "")
    sign = "-" if e < 0 else "+"
    return body + ("E" if upper else "e") + sign + f"{abs(e):02d}"


def _fmt_g(mag: Fraction, prec: int, alt: bool, upper: bool) -> str:
    p = prec if prec != 0 else 1
    _, x = _e_parts(mag, p - 1)
    if p > x >= -4:
        text = _fmt_f(mag, p - 1 - x, alt)
        if not alt and "." in text:
            text = text.rstrip("0").rstrip(".")
        return text
    text = _fmt_e(mag, p - 1, alt, upper)
    if not alt:
        m, _, ex = text.partition("E" if upper else "e")
        if "." in m:
            m = m.rstrip("0").rstrip(".")
        text = m + ("E" if upper else "e") + ex
    return text


def _fmt_a(mag: Fraction, prec: int | None, alt: bool, upper: bool) -> str:
    if mag == 0:
        lead, frac, exp = 0, "", 0
        if prec:
            frac = "0" * prec
    else:
        num, den = mag.numerator, mag.denominator
        e = num.bit_length() - den.bit_length() - 64
        while mag / Fraction(2) ** e >= 1 << 64:
            e += 1
        while mag / Fraction(2) ** e < 1 << 63:
            e -= 1
        m = int(mag / Fraction(2) ** e)
        exp = e + 60
        if prec is not None and prec < 15:
            shift = 4 * (15 - prec)
            m = _round_half_even(Fraction(m, 1 << shift)) << shift
        lead = m >> 60
        if lead > 15:
            lead >>= 4
            m >>= 4
            exp += 4
        frac = f"{m & ((1 << 60) - 1):015x}"
        if prec is None:
            frac = frac.rstrip("0")
        elif prec <= 15:
            frac = frac[:prec]
        else:
            frac += "0" * (prec - 15)
    text = f"0x{lead:x}" + ("." + frac if frac or alt else "") + f"p{exp:+d}"
    return text.upper() if upper else text


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
