"""The text commands in a VM against the GNU tools on the host (C locale)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.commands._text_cases import C, check
from tests.compat import Case, have

B = b"\x00\x01abc\xff\xfe\ndef\x00ghi\r\nend\x80"

CAT = [
    C("cat", "a.txt"),
    C("cat", "a.txt", "nonl", "a.txt"),
    C("cat", "-n", "a.txt", "nonl", "a.txt"),
    C("cat", "-b", "a.txt"),
    C("cat", "-s", "u.txt"),
    C("cat", "-bs", "u.txt"),
    C("cat", "-A", "bin"),
    C("cat", "-v", "bin"),
    C("cat", "-E", "crlf"),
    C("cat", "-T", "tabs"),
    C("cat", "-et", "tabs"),
    C("cat", "-", "nonl", stdin="in\n"),
    C("cat", "nope"),
    C("cat", "a.txt", "nope", "nonl"),
    C("cat", "-z", "a.txt"),
    C("cat", "--number", "empty", "nonl"),
    C("cat", stdin=B),
    C("cat", "-A", stdin="\x7f\x9b\xe9\n"),
]

HEAD = [
    C("head", "w.txt"),
    C("head", "-n", "3", "a.txt"),
    C("head", "-3", "a.txt"),
    C("head", "-n", "-2", "a.txt"),
    C("head", "-c", "10", "a.txt"),
    C("head", "-c", "-5", "a.txt"),
    C("head", "-n", "2", "a.txt", "nonl"),
    C("head", "-q", "-n", "1", "a.txt", "nonl"),
    C("head", "-v", "-n", "1", "a.txt"),
    C("head", "-n", "1", "nope", "a.txt"),
    C("head", "-n", "x", "a.txt"),
    C("head", "-c", "1K", "seq"),
    C("head", "-n", "0", "a.txt"),
    C("head", "-z", "-n", "1", stdin="a\0b\0c"),
    C("head", "-n", "2", stdin=B),
    C("head", "-c", "3", stdin=B),
    C("head", "-", "a.txt", stdin="x\ny\n"),
]

TAIL = [
    C("tail", "w.txt"),
    C("tail", "-n", "3", "a.txt"),
    C("tail", "-3", "a.txt"),
    C("tail", "+3", "a.txt"),
    C("tail", "-n", "+2", "nonl"),
    C("tail", "-c", "5", "a.txt"),
    C("tail", "-c", "+5", "a.txt"),
    C("tail", "-n", "1", "a.txt", "nonl"),
    C("tail", "-q", "-n", "1", "a.txt", "nonl"),
    C("tail", "-n", "0", "a.txt"),
    C("tail", "-n", "1", "nope"),
    C("tail", "-n", "2", stdin=B),
    C("tail", "-c", "4", stdin=B),
    C("tail", "-z", "-n", "1", stdin="a\0b\0c"),
    C("tail", "-n", "2", "crlf"),
]

WC = [
    C("wc", "a.txt"),
    C("wc", "a.txt", "nonl", "w.txt"),
    C("wc", "-l", "a.txt"),
    C("wc", "-w", "w.txt"),
    C("wc", "-c", "bin"),
    C("wc", "-m", "u8"),
    C("wc", "-L", "a.txt", "tabs"),
    C("wc", "-lwmcL", "a.txt", "u8"),
    C("wc", stdin="a b\nc\n"),
    C("wc", "-l", stdin="a b\nc"),
    C("wc", "-", "a.txt", stdin="x y\n"),
    C("wc", "a.txt", "nope"),
    C("wc", "bin"),
    C("wc", "empty"),
    C("wc", "-l", "empty", "a.txt"),
    C("wc", "crlf"),
]

SORT = [
    C("sort", "a.txt"),
    C("sort", "-r", "a.txt"),
    C("sort", "-f", "a.txt"),
    C("sort", "-u", "a.txt"),
    C("sort", "-uf", "a.txt"),
    C("sort", "-b", "a.txt"),
    C("sort", "-d", "a.txt"),
    C("sort", "-n", "n.txt"),
    C("sort", "-rn", "n.txt"),
    C("sort", "-nu", "n.txt"),
    C("sort", "-g", "g.txt"),
    C("sort", "-g", "n.txt"),
    C("sort", "-h", "h.txt"),
    C("sort", "-rh", "h.txt"),
    C("sort", "-V", "v.txt"),
    C("sort", "-M", "m.txt"),
    C("sort", "-k2n", "k.txt"),
    C("sort", "-k2,2n", "-k1,1", "k.txt"),
    C("sort", "-k2,2nr", "-k3", "k.txt"),
    C("sort", "-k1,1", "-s", "k.txt"),
    C("sort", "-k1,1f", "-k2n", "k.txt"),
    C("sort", "-k3", "k.txt"),
    C("sort", "-k1.2,1.3", "k.txt"),
    C("sort", "-k2.1b,2.2", "k.txt"),
    C("sort", "-b", "-k1", "k.txt"),
    C("sort", "-t", "\t", "-k3,3n", "-k2", "t.tsv"),
    C("sort", "-t", "\t", "-k3nr", "t.tsv"),
    C("sort", "-t,", "-k2", "c.csv"),
    C("sort", "-t,", "-k2n", "-k1r", "c.csv"),
    C("sort", "-t,", "-k3,3", "-u", "c.csv"),
    C("sort", "-k2", "empty"),
    C("sort", "-rn", "-k1,1", "-k2,2", "empty"),
    C("sort", "-k2n", stdin=""),
    C("sort", "-c", "a.txt"),
    C("sort", "-c", "seq"),
    C("sort", "-C", "a.txt"),
    C("sort", "-cn", "seq"),
    C("sort", "-z", stdin="b\0a\0c\0"),
    C("sort", "nope"),
    C("sort", "-t", "ab", "a.txt"),
    C("sort", "-k0", "a.txt"),
    C("sort", "a.txt", "nonl", "seq"),
    C("sort", "-m", "s1", "s2"),
    C("sort", "-n", "-k", "2", "-r", "k.txt"),
    C("sort", stdin=B),
    C("sort", "crlf"),
    C("sort", "-s", "-k1,1", "-f", "u.txt"),
    C("sort", "-r", "-s", "-k2,2", "k.txt"),
    C("sort", "--sort=numeric", "n.txt"),
    C("sort", "-n", "-h", "n.txt"),
]

UNIQ = [
    C("uniq", "u.txt"),
    C("uniq", "-c", "u.txt"),
    C("uniq", "-d", "u.txt"),
    C("uniq", "-D", "u.txt"),
    C("uniq", "-u", "u.txt"),
    C("uniq", "-i", "-c", "u.txt"),
    C("uniq", "--all-repeated=separate", "u.txt"),
    C("uniq", "--all-repeated=prepend", "u.txt"),
    C("uniq", "--group", "u.txt"),
    C("uniq", "--group=both", "u.txt"),
    C("uniq", "-f1", "u.txt"),
    C("uniq", "-s1", "-c", "u.txt"),
    C("uniq", "-w1", "-c", "u.txt"),
    C("uniq", "-z", stdin="a\0a\0b\0"),
    C("uniq", "-c", stdin=B + b"\n" + B),
    C("uniq", "nope"),
    C("uniq", "-c", "nonl"),
    C("uniq", stdin="x\nx"),
]

CUT = [
    C("cut", "-f2", "t.tsv"),
    C("cut", "-f1,3", "t.tsv"),
    C("cut", "-f2-", "t.tsv"),
    C("cut", "-d,", "-f2", "c.csv"),
    C("cut", "-d,", "-f2", "-s", "c.csv"),
    C("cut", "-d,", "-f1,3", "--output-delimiter=|", "c.csv"),
    C("cut", "-d,", "--complement", "-f2", "c.csv"),
    C("cut", "-c2-4", "a.txt"),
    C("cut", "-b1,3,5", "a.txt"),
    C("cut", "-c-3", "a.txt"),
    C("cut", "-c3-", "a.txt"),
    C("cut", "--complement", "-c2", "a.txt"),
    C("cut", "-c1-2,4-", "--output-delimiter=:", "a.txt"),
    C("cut", "-f", "0", "a.txt"),
    C("cut", "a.txt"),
    C("cut", "-d", "::", "-f1", "a.txt"),
    C("cut", "-c1-3", stdin=B),
    C("cut", "-d", " ", "-f1", "crlf"),
    C("cut", "-z", "-c1", stdin="ab\0cd\0"),
    C("cut", "-f1", "nonl"),
    C("cut", "-f3,1", "t.tsv"),
    C("cut", "-f", "2,2-3", "t.tsv"),
]

TR = [
    C("tr", "a-z", "A-Z", stdin="hello World\n"),
    C("tr", "-d", "a-c", stdin="abcdef\n"),
    C("tr", "-s", " ", stdin="a   b  c\n"),
    C("tr", "-c", "a-z", "_", stdin="ab1cd\n"),
    C("tr", "-cd", "[:alnum:]", stdin="a-b c!\n"),
    C("tr", "[:lower:]", "[:upper:]", stdin="abc\n"),
    C("tr", "[:upper:]", "[:lower:]", stdin="ABC def\n"),
    C("tr", "-s", "a-z", stdin="aabbcc  dd\n"),
    C("tr", "abc", "x", stdin="aabbcc\n"),
    C("tr", "-t", "abc", "x", stdin="aabbcc\n"),
    C("tr", "a-f", "[x*]", stdin="abcdefg\n"),
    C("tr", "a-f", "x[y*2]z", stdin="abcdefg\n"),
    C("tr", "\\n", " ", stdin="a\nb\n"),
    C("tr", "\\101", "b", stdin="AAA\n"),
    C("tr", "-ds", "a", "b", stdin="aabbba\n"),
    C("tr", "-s", "a", "b", stdin="aaccaa\n"),
    C("tr"),
    C("tr", "a"),
    C("tr", "-d", "a", "b"),
    C("tr", "[:digit:]", "#", stdin="a1b22\n"),
    C("tr", "-C", "a", "x", stdin="abc\n"),
    C("tr", "z-a", "x", stdin="a"),
    C("tr", "-d", "\\000", stdin=B),
    C("tr", "\\000-\\377", "x", stdin=B),
    C("tr", "-d", "\\r", stdin="a\r\nb\r\n"),
    C("tr", "[:space:]", "_", stdin="a b\tc\nd"),
    C("tr", "-s", "[:space:]", stdin="a  \n\n b\n"),
]

NL = [
    C("nl", "a.txt"),
    C("nl", "-ba", "a.txt"),
    C("nl", "-bn", "a.txt"),
    C("nl", "-nrz", "-w3", "a.txt"),
    C("nl", "-nln", "-s:", "a.txt"),
    C("nl", "-v10", "-i5", "a.txt"),
    C("nl", "-bp^a", "a.txt"),
    C("nl", "nonl"),
    C("nl", stdin=B),
    C("nl", "-ba", "-l2", "u.txt"),
]

PASTE = [
    C("paste", "s1", "s2"),
    C("paste", "-d,", "s1", "s2"),
    C("paste", "-s", "s1"),
    C("paste", "-sd:", "s1", "s2"),
    C("paste", "-d:,", "s1", "s2", "s1"),
    C("paste", "-", "-", stdin="1\n2\n3\n4\n5\n"),
    C("paste", "s1", "nonl"),
    C("paste", "-d", "\\n", "s1", "s2"),
    C("paste", "-d", "", "s1", "s2"),
    C("paste", "nope"),
    C("paste", "-s", "empty"),
    C("paste", "s1", "-", stdin=B),
]

FOLD = [
    C("fold", "-w10", "w.txt"),
    C("fold", "-sw10", "w.txt"),
    C("fold", "-bw7", "a.txt"),
    C("fold", "-5", "a.txt"),
    C("fold", "w.txt"),
    C("fold", "-w", "4", "tabs"),
    C("fold", "-w3", stdin=B),
    C("fold", "-s", "-w", "20", "w.txt"),
]

EXPAND = [
    C("expand", "tabs"),
    C("expand", "-t4", "tabs"),
    C("expand", "-t2,5", "tabs"),
    C("expand", "-i", "tabs"),
    C("expand", "-3", "tabs"),
    C("unexpand", "tabs"),
    C("unexpand", "-a", "tabs"),
    C("unexpand", "-t4", "tabs"),
    C("unexpand", "-a", "w.txt"),
    C("unexpand", "--first-only", "-t4", "tabs"),
    C("unexpand", stdin="        x\n    y   z   w\n a       b\n\t  c\n"),
    C("unexpand", "-a", stdin="        x\n    y   z   w\n a       b\n\t  c\n"),
]

REV_TAC = [
    C("rev", "a.txt"),
    C("rev", "nonl"),
    C("rev", "crlf"),
    C("tac", "a.txt"),
    C("tac", "nonl"),
    C("tac", "-s", ",", stdin="a,b,c,"),
    C("tac", "-b", "-s", ",", stdin="a,b,c"),
    C("tac", "-r", "-s", "[0-9]", stdin="a1b2c3"),
    C("tac", "a.txt", "nonl"),
    C("tac", stdin=B),
]

COMM = [
    C("comm", "s1", "s2"),
    C("comm", "-12", "s1", "s2"),
    C("comm", "-3", "s1", "s2"),
    C("comm", "-23", "s1", "s2"),
    C("comm", "--output-delimiter=|", "s1", "s2"),
    C("comm", "a.txt", "s1"),
    C("comm", "--check-order", "a.txt", "s1"),
    C("comm", "--nocheck-order", "a.txt", "s1"),
    C("comm", "-", "s2", stdin="apple\nbanana\n"),
    C("comm", "s1"),
]

JOIN = [
    C("join", "j1", "j2"),
    C("join", "-a1", "j1", "j2"),
    C("join", "-a1", "-a2", "j1", "j2"),
    C("join", "-v1", "j1", "j2"),
    C("join", "-v2", "j1", "j2"),
    C("join", "-o", "1.2,2.2", "j1", "j2"),
    C("join", "-a1", "-e", "NA", "-o", "0,1.2,2.2", "j1", "j2"),
    C(
        "join",
        "-t,",
        "-o",
        "auto",
        "-a1",
        "-e",
        "-",
        stdin="",
        id="join -t, auto",
        files={"x": "a,1\nb,2\nc,3\n", "y": "a,x\nc,y\nd,z\n"},
    ),
    C("join", "-t,", "x", "y", files={"x": "a,1\nb,2\nc,3\n", "y": "a,x\nc,y\nd,z\n"}),
    C("join", "-i", "x", "y", files={"x": "A 1\nb 2\n", "y": "a x\nB y\n"}),
    C("join", "--header", "x", "y", files={"x": "ID N\n1 A\n", "y": "ID Age\n1 30\n"}),
    C("join", "-j", "1", "j1", "j2"),
    C("join", "j1"),
]

COLUMN = [
    C("column", "seq"),
    C("column", "-x", "seq"),
    C("column", "-c", "40", "seq"),
    C("column", "words"),
    C("column", "-x", "words"),
    C("column", "-t", "t.tsv"),
    C("column", "-t", "-s,", "c.csv"),
    C("column", "-t", "-s,", "-o", "|", "c.csv"),
    C("column", "-t", "k.txt"),
    C("column", "-c", "20", "words"),
    C("column", "-t", "-N", "A,B,C", "k.txt"),
]

FMT = [
    C("fmt", "w.txt"),
    C("fmt", "-w", "40", "w.txt"),
    C("fmt", "-60", "w.txt"),
    C("fmt", "-u", "w.txt"),
    C("fmt", "-s", "-w", "30", "w.txt"),
    C("fmt", "a.txt"),
    C("fmt", "-w", "20", stdin="short line\nanother one\n\n  indented para\n  continues here\n"),
    C("fmt", "-c", stdin="  first\nsecond line of the paragraph which is long enough\n"),
]

SHUF = [
    C("shuf", "-n", "0", "a.txt"),
    C("shuf", "-i", "5-4"),
    C("shuf", "-e"),
    C("shuf", "nope"),
]

BIN = [
    C("od", "bin"),
    C("od", "-c", "bin"),
    C("od", "-a", "bin"),
    C("od", "-t", "x1", "bin"),
    C("od", "-t", "o2", "bin"),
    C("od", "-t", "d4", "bin"),
    C("od", "-t", "u1", "-t", "x1", "bin"),
    C("od", "-t", "d1", "-t", "c", "bin"),
    C("od", "-t", "x8", "-t", "d2", "bin"),
    C("od", "-t", "f4", "-N", "8", "a.txt"),
    C("od", "-t", "f8", "-N", "16", "a.txt"),
    C("od", "-A", "x", "-t", "x2", "bin"),
    C("od", "-A", "d", "-t", "d2", "bin"),
    C("od", "-A", "n", "-t", "x1", "bin"),
    C("od", "-j", "3", "-N", "5", "-t", "x1", "bin"),
    C("od", "-w8", "-t", "x1", "bin"),
    C("od", "-t", "x1z", "a.txt"),
    C("od", "-x", "a.txt"),
    C("od", "-b", "bin"),
    C("od", "empty"),
    C("od", "-t", "x1", stdin=b"\0" * 64 + b"x"),
    C("od", "-v", "-t", "x1", stdin=b"\0" * 40),
    C("od", "-c", stdin="\a\b\f\n\r\t\v\\"),
    C("xxd", "bin"),
    C("xxd", "a.txt"),
    C("xxd", "-p", "a.txt"),
    C("xxd", "-g1", "-c8", "-u", "bin"),
    C("xxd", "-l", "5", "a.txt"),
    C("xxd", "-s", "3", "a.txt"),
    C("xxd", "-c", "5", "bin"),
    C("xxd", "-g", "4", "a.txt"),
    C("xxd", "-i", "bin"),
    C("xxd", "empty"),
    C("xxd", "-r", "-p", stdin="68656c6c6f0a\n"),
    C("xxd", "-r", stdin="00000000: 6869 0a                                  hi.\n"),
    C("hexdump", "bin"),
    C("hexdump", "-C", "bin"),
    C("hexdump", "-C", "a.txt"),
    C("hexdump", "-C", "empty"),
    C("hexdump", "-n", "5", "-C", "a.txt"),
    C("hexdump", "-s", "3", "-C", "a.txt"),
    C("hexdump", "-C", stdin=b"\0" * 40 + b"x"),
    C("hexdump", "-c", "bin"),
    C("hexdump", "-b", "bin"),
    C("hexdump", "-x", "a.txt"),
    C("hexdump", "-d", "a.txt"),
    C("hexdump", "a.txt"),
    C("strings", "bin"),
    C("strings", "-n", "2", "bin"),
    C("strings", "-t", "x", "bin"),
    C("strings", "-3", "bin"),
    C("strings", "-n", "3", stdin=b"ab\0abc\x01abcd\xffxyzw"),
]

TEE = [
    C("tee", stdin="copy me\n"),
    C("tee", "-", stdin="twice\n"),
]

ERRORS = [
    C("cat", "-Z"),
    C("head", "--bogus"),
    C("tail", "-Z"),
    C("wc", "-Z"),
    C("sort", "-Z"),
    C("uniq", "-Z"),
    C("cut", "-Z"),
    C("tr", "-Z", "a", "b"),
    C("nl", "-Z"),
    C("paste", "-Z"),
    C("fold", "-Z"),
    C("expand", "-Z"),
    C("unexpand", "-Z"),
    C("tac", "-Z"),
    C("comm", "-Z", "a", "b"),
    C("join", "-Z", "a", "b"),
    C("fmt", "-Z"),
    C("shuf", "-Z"),
    C("od", "-Z"),
    C("tee", "--bogus"),
]


def _with_tool(cases: list[Case], tool: str) -> list[Any]:
    mark = pytest.mark.skipif(not have(tool), reason=f"{tool} not installed on the host")
    return [pytest.param(c, marks=mark, id=c.name()) for c in cases]


PARAMS = (
    _with_tool(
        CAT
        + HEAD
        + TAIL
        + WC
        + SORT
        + UNIQ
        + CUT
        + TR
        + NL
        + PASTE
        + FOLD
        + EXPAND
        + REV_TAC[3:]
        + COMM
        + JOIN
        + FMT
        + SHUF
        + TEE
        + ERRORS,
        "sort",
    )
    + _with_tool(REV_TAC[:3], "rev")
    + _with_tool(COLUMN, "column")
    + _with_tool([c for c in BIN if c.argv[0] == "od"], "od")
    + _with_tool([c for c in BIN if c.argv[0] == "xxd"], "xxd")
    + _with_tool([c for c in BIN if c.argv[0] == "hexdump"], "hexdump")
    + _with_tool([c for c in BIN if c.argv[0] == "strings"], "strings")
)


@pytest.fixture(scope="module")
def vm() -> Iterator[Any]:
    from pocketos import VM

    v = VM()
    yield v
    v.close()


@pytest.mark.parametrize("case", PARAMS)
def test_same_as_gnu(case: Case, vm: Any) -> None:
    check(case, vm)
