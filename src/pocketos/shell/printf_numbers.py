"""Numbers for ``printf``: decimal digit strings beyond Python's int/str length limit, and the
x86 80-bit ``long double`` bash formats floats with — operands parsed exactly, rounded to a
64-bit significand, printed exactly (``%f``, ``%e``, ``%g``, ``%a``)."""

from __future__ import annotations

import decimal
import math
from dataclasses import dataclass
from fractions import Fraction

__all__ = ["_LD", "_strtold"]

_SPACES = b" \t\n\v\f\r"
_HEX = b"0123456789abcdefABCDEF"
_DIGITS = b"0123456789"


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


def _lead(word: bytes) -> tuple[int, bool]:
    """Where a number's digits start after leading blanks and a sign, and whether it is
    negative (strtol and strtold skip them alike)."""
    n = len(word)
    i = 0
    while i < n and word[i] in _SPACES:
        i += 1
    neg = False
    if i < n and word[i] in b"+-":
        neg = word[i] == ord("-")
        i += 1
    return i, neg


def _exponent(word: bytes, j: int) -> tuple[int, int]:
    """The signed decimal exponent after the ``e``/``p`` at ``j`` (clamped) and where it ends;
    ``(0, j)`` when no digits follow, so the letter is not part of the number."""
    n = len(word)
    k = j + 1
    sign = 1
    if k < n and word[k] in b"+-":
        sign = -1 if word[k] == ord("-") else 1
        k += 1
    if k < n and word[k] in _DIGITS:
        s = k
        while k < n and word[k] in _DIGITS:
            k += 1
        return sign * _clamped(word[s:k], 100000), k
    return 0, j


def _strtold(word: bytes) -> tuple[_LD, int]:
    """strtold(word, &end): (value, end index)."""
    n = len(word)
    i, neg = _lead(word)
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
            delta, j = _exponent(word, j)
            exp += delta
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
        delta, j = _exponent(word, j)
        exp += delta
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
