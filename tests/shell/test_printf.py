"""The printf engine against bash's own printf builtin on the host."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from pocketos.shell.printf import expand_b, format_printf, quote_q

HAVE_BASH = shutil.which("bash") is not None
PREFIX = re.compile(rb"(?:^|\n)bash: line \d+: printf: ")

# (format, args) pairs; every one is run in the C locale, the ones in UTF8 also in C.UTF-8
CASES: list[tuple[str, list[str]]] = [
    # plain text, reuse of the format, missing operands
    ("hello\n", []),
    ("x\n", ["a", "b"]),
    ("%s\n", ["a", "b", "c"]),
    ("%s %s\n", ["a", "b", "c"]),
    ("%s|%d|%f|%c|%b|%q|\n", []),
    ("%s %d|", ["a", "1", "b"]),
    ("[%s]", [""]),
    ("%%|%5%|", []),
    # integers
    ("%d %i %u\n", ["42", "-7", "9"]),
    ("%d\n", ["0x1f", "010", " 12", "+5", "-0x10", "0X1F", "'a", '"b', "'", ""]),
    ("%d\n", ["12abc"]),
    ("%d\n", ["12 "]),
    ("%d\n", ["08"]),
    ("%d\n", ["0x"]),
    ("%d\n", ["0X1G"]),
    ("%d\n", ["-"]),
    ("%d\n", ["1.5"]),
    ("%d|%d\n", ["abc", "7"]),
    ("%d\n", ["99999999999999999999"]),
    ("%d\n", ["-99999999999999999999"]),
    ("%d\n", ["9223372036854775807", "-9223372036854775808"]),
    ("%u %x %o\n", ["-1", "-1", "-1"]),
    ("%u\n", ["18446744073709551616"]),
    ("%x\n", ["-18446744073709551616"]),
    ("%x|%X|%o|%#x|%#X|%#o|%#o|%#x\n", ["255", "255", "8", "255", "255", "8", "0", "0"]),
    ("%-5d|%05d|%+d|% d|%+d|% d\n", ["3", "3", "3", "3", "-3", "-3"]),
    ("%.3d|%.0d|%5.3d|%-05d|%0-5d|%05.2d|\n", ["5", "0", "7", "3", "3", "4"]),
    ("%.3x|%#.3o|%#.0o|%.0x|%#5.0x|%.3u|%x|\n", ["1", "1", "0", "0", "0", "7", "'a"]),
    ("%-#8x|%+u|% u|%#5o|%+05d|%+5x\n", ["255", "5", "5", "8", "-42", "2"]),
    ("%hd %ld %lld %jd %zd %td %Lf\n", ["1", "2", "3", "4", "5", "6", "1.5"]),
    ("%qd\n", ["6"]),
    # width and precision from operands
    ("%*d|%-*d|%.*f|\n", ["5", "1", "5", "2", "3", "3.14159"]),
    ("%*d|\n", ["-3", "3"]),
    ("%.*d|\n", ["-3", "3"]),
    ("%*d|\n", ["x", "3"]),
    ("%*s|%.*s|\n", ["4", "ab", "1", "xyz"]),
    # strings and characters
    ("%10.4s|%-10s|%.s|%.0s|\n", ["abcdefg", "ab", "xyz", "q"]),
    ("%5c|%-3c|%c|\n", ["x", "y", "long"]),
    ("%c|%c|", [""]),
    ("%05s|%05c|%05b|%05q|\n", ["a", "b", "c", "d"]),
    # floats
    (
        "%f|",
        [
            "1e3",
            "0x1p3",
            "inf",
            "nan",
            "-inf",
            "'a",
            "",
            "010",
            " 2.5",
            "infinity",
            "-nan",
            "0x.8",
            "-0",
        ],
    ),
    ("%f|%f\n", ["1.5abc", "2"]),
    ("%f\n", ["1e5000"]),
    ("%f\n", ["1e-5000"]),
    ("%f|%f|%f|%f|%e\n", ["1e", "1e+", "infx", "nan(12)", "0x1.8p1"]),
    ("%f\n", ["."]),
    ("%.20f|%.25f|%.30e\n", ["0.1", "1.1", "3.3"]),
    ("%.0f %.0f %.0f %.0f %.2f %.1f\n", ["0.5", "1.5", "2.5", "3.5", "0.125", "0.25"]),
    (
        "%g|",
        [
            "100000",
            "1000000",
            "0.0001",
            "0.00001",
            "1.5",
            "123456789",
            "0",
            "-0",
            "1e-300",
            "1e100",
            "123456",
            "0.0001234",
            "99950",
            "100000.5",
            "nan",
        ],
    ),
    ("%e|%E|%G|%F|%a|%A\n", ["12345.678", "0.000123", "1e-10", "inf", "2.5", "-0.75"]),
    (
        "%#g|%#.3g|%+.2e|%08.3f|%-8.2f|%.0g|%.1g|%.3g|%#.0e|%#.0f\n",
        ["1", "1", "5", "-3.14159", "2.5", "12", "0.05", "99950", "25", "3"],
    ),
    (
        "%a|%a|%a|%a|%A|%#a|%.2a|%.0a|%.1a|%.20a\n",
        ["1", "0.1", "0", "-0", "255", "1", "1", "1.5", "1.03125", "3"],
    ),
    (
        "%05f|%05e|%010a|%5F|%-+6.1f|%+f|% f|%010.3f|%-10e|\n",
        ["inf", "-nan", "1", "nan", "2", "1", "1", "-2.5", "7"],
    ),
    ("%'d|%'f\n", ["1234567", "1234.5"]),
    ("%.3e|%.3e|%.10g|%.17g\n", ["9.9995", "9.9994", "1.0000000001", "0.1"]),
    ("%f %e %g\n", ["123456789012345678901234567890", "1e300", "1e-320"]),
    ("%.15f\n", ["0.30000000000000004"]),
    # the edges of the long double range, and very long operands
    (
        "%g|%g|%e|%e\n",
        ["1.18973149535723176502e+4932", "1.18973149535723176508e+4932", "3.6e-4951", "1e-5000"],
    ),
    ("%d|%u|%f\n", ["9" * 5000, "7" * 5000, "1" * 5000]),
    ("%f|%f\n", ["1e" + "9" * 50, "0." + "0" * 6000 + "1"]),
    ("%.3000f|%.0e|%.4400e\n", ["1e4000", "1e4000", "2"]),
    # escapes in the format
    ("a\\tb\\nc\\\\d\\a\\b\\e\\E\\f\\r\\v|\n", []),
    ("\\'\\\"\\?\\q\\c|\n", []),
    ("\\0101|\\101|\\1011|\\0|\\00041|\\8|\\|\n", []),
    ("\\x41\\x4142\\xffz|\n", []),
    ("\\xg\n", []),
    ("\\u00e9|\\U0001F600|\\u20ac|\\u41|\\U000000e9\n", []),
    ("\\u|\\Uzz\n", []),
    ("trailing\\", []),
    # %b
    (
        "[%b]\n",
        [
            "\\0101",
            "\\101",
            "\\1011",
            "\\0",
            "\\00041",
            "\\8",
            "\\x",
            "\\x4142",
            "a\\",
            "\\",
            "\\xffz",
            "\\'\\\"\\?\\q\\e\\\\",
            "a\\tb\\n",
        ],
    ),
    ("%b|%s\n", ["a\\cb", "c"]),
    ("%d|%b|%d\n", ["x", "a\\c", "3"]),
    ("%5b|%-5b|%.2b|\n", ["\\t", "x", "abc"]),
    ("%b\n", ["\\u00e9\\U0010FFFF\\uD800"]),
    ("%b\n", ["\\u"]),
    # %q and %Q
    (
        "%q|",
        [
            "a b",
            "",
            "~x",
            "a~",
            "#a",
            "a#",
            "a\tb",
            "a\nb",
            "a'b",
            "a\\b",
            "\x1b",
            "\t",
            " ",
            "!",
            "\x7f",
            "a=b",
            "x:~",
            "=~",
            "{a}",
            "a,b",
            "'",
            '"',
            "a b\x01",
            "~",
            "plain",
            "a-b_c.d/e+f@g%h",
        ],
    ),
    ("%q|%.2q|%Q|%.2Q|%10q|%-6q|\n", ["a b", "a b", "a b", "a b", "x y", "q"]),
    # bad directives
    ("%z\n", []),
    ("abc%", []),
    ("%-", []),
    ("%5", []),
    ("%.", []),
    ("%\n", []),
    ("%s %1$s", ["a"]),
    ("%y|%s", ["a"]),
]

# every byte value through %q
CASES.append(
    ("%q\n", ["a" + (chr(c) if c < 128 else chr(0xDC00 + c)) + "b" for c in range(1, 256)])
)

# checked in both locales; these differ between C and UTF-8
UTF8: list[tuple[str, list[str]]] = [
    ("%d|%d\n", ["'é", '"€']),
    ("%c|%.1s|%3s|%q\n", ["é", "é", "é", "é"]),
    ("%q|%q|%q\n", ["a\x80 b", "é b", "\u00a0x"]),
    ("\\u00e9|\\U0001F600|\\u20ac|%b\n", ["\\u00e9\\U0010FFFF\\uD800"]),
    ("\\U00110000|\\U7fffffff\n", []),
]

IDS = [f"{i}:{fmt[:20]!r}" for i, (fmt, _) in enumerate(CASES)]


def bash_printf_many(
    calls: list[tuple[str, list[str]]], locale: str = "C"
) -> list[tuple[bytes, list[str], int]]:
    """Run many printf calls in one bash process; each call's output goes to its own files."""
    with tempfile.TemporaryDirectory() as tmp:
        lines = []
        for i, (fmt, args) in enumerate(calls):
            words = " ".join(shlex.quote(a) for a in ["--", fmt, *args])
            lines.append(f"printf {words} >{tmp}/o{i} 2>{tmp}/e{i}; echo $? >{tmp}/s{i}")
        subprocess.run(
            ["bash", "--norc", "--noprofile", "-c", "\n".join(lines)],
            env={"LC_ALL": locale, "PATH": "/usr/bin:/bin"},
            timeout=60,
            check=True,
        )
        results = []
        for i in range(len(calls)):
            out = Path(tmp, f"o{i}").read_bytes()
            err = Path(tmp, f"e{i}").read_bytes()
            status = int(Path(tmp, f"s{i}").read_text())
            results.append((out, _messages(err), status))
        return results


def _messages(stderr: bytes) -> list[str]:
    errors: list[str] = []
    if stderr:
        m = PREFIX.match(stderr)
        assert m and stderr.endswith(b"\n"), stderr
        for msg in PREFIX.split(stderr[:-1])[1:]:
            errors.append(msg.rstrip(b"\n").decode("utf-8", "surrogateescape"))
    return errors


_CACHE: dict[str, list[tuple[bytes, list[str], int]]] = {}


def expected(index: int, locale: str = "C", table: str = "main") -> tuple[bytes, list[str], int]:
    key = f"{table}/{locale}"
    if key not in _CACHE:
        _CACHE[key] = bash_printf_many(CASES if table == "main" else UTF8, locale)
    return _CACHE[key][index]


def check(index: int, locale: str = "C", table: str = "main") -> None:
    fmt, args = (CASES if table == "main" else UTF8)[index]
    want_out, want_err, want_rc = expected(index, locale, table)
    out, err, rc = format_printf(fmt, args, utf8=locale != "C")
    assert out.encode("utf-8", "surrogateescape") == want_out
    assert err == want_err
    assert rc == want_rc


pytestmark = pytest.mark.skipif(not HAVE_BASH, reason="bash is not installed")


@pytest.mark.parametrize("index", range(len(CASES)), ids=IDS)
def test_like_bash(index: int) -> None:
    check(index)


@pytest.mark.parametrize("index", range(len(UTF8)), ids=[f"{i}" for i in range(len(UTF8))])
@pytest.mark.parametrize("locale", ["C", "C.UTF-8"])
def test_locales(index: int, locale: str) -> None:
    check(index, locale, "utf8")


def test_invalid_utf8_and_nul_escape_pass_through() -> None:
    data = "x\udcff\udc80y"
    out, err, rc = format_printf("%s|%b|\\0|%5s", [data, data, "ab"])
    assert out == data + "|" + data + "|\x00|   ab"
    assert (err, rc) == ([], 0)


def test_huge_width_and_precision_never_raise() -> None:
    for fmt in ["%" + "9" * 5000 + "d", "%." + "9" * 5000 + "f", "%.*s"]:
        out, _, rc = format_printf(fmt, ["1", "2"])
        assert rc == 0
        assert len(out) <= 2 * (1 << 20) + 8


def test_total_output_is_bounded() -> None:
    out, err, rc = format_printf("%500000d", ["1"] * 1000, max_output=1 << 22)
    assert rc == 1
    assert err == ["output too large"]
    assert len(out) <= (1 << 22)


def test_huge_width_is_clamped() -> None:
    out, _, rc = format_printf("%*d", ["99999999999", "3"])
    assert rc == 0
    assert len(out) == (1 << 20)


def test_helpers() -> None:
    assert quote_q("a b") == "a\\ b"
    assert quote_q("") == "''"
    assert quote_q("é", utf8=True) == "é"
    assert quote_q("é") == "$'\\303\\251'"
    assert expand_b("a\\tb\\cc") == ("a\tb", True, [])
    assert expand_b("\\x") == ("\\x", False, ["missing hex digit for \\x"])


def test_time_format_uses_operand() -> None:
    out, err, rc = format_printf("%(%Y-%m-%d)T|%(%%)T", ["86400"])
    assert rc == 0 and err == []
    assert out.endswith("|%")
    assert out[:4] in ("1970",)
