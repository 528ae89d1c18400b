"""Differential tests: find against the host's GNU findutils.

GNU find walks directories in the host's on-disk order while the VM walks them sorted, so
multi-line outputs are compared as sorted lists of records.
"""

from __future__ import annotations

import pytest

from tests.commands.test_fileops_compat import FILES, check, prefetch
from tests.compat import Case

F = dict(FILES)
F.update({"sub/deep/e.txt": "eee\n", "x.py": "print()\n", "A.TXT": "up\n"})


def C(*argv: str, stdin: bytes | str = b"") -> Case:
    return Case(list(argv), dict(F), stdin)


SORTED = [
    C("find", *a)
    for a in (
        (),
        (".",),
        (".", "-name", "*.txt"),
        (".", "-iname", "*.TXT"),
        (".", "-type", "d"),
        (".", "-type", "f"),
        (".", "-maxdepth", "1"),
        (".", "-mindepth", "2"),
        ("sub",),
        ("sub/",),
        (".", "-path", "./sub/*"),
        (".", "-name", "*.txt", "-o", "-name", "*.md"),
        (".", "!", "-name", "*.txt"),
        (".", "-not", "-type", "d"),
        (".", "(", "-name", "a*", "-o", "-name", "b*", ")", "-print"),
        (".", "-empty"),
        (".", "-size", "0"),
        (".", "-size", "+1c"),
        (".", "-size", "-3c"),
        (".", "-size", "1"),
        (".", "-regex", ".*\\.txt"),
        (".", "-regex", "\\./sub/\\(c\\|deep\\).*"),
        (".", "-regextype", "posix-extended", "-regex", "\\./(a|b)\\..*"),
        (".", "-name", "sub", "-prune", "-o", "-print"),
        (".", "-type", "f", "-printf", "%P|%f|%h|%d|%s|%y|%m|%M\\n"),
        (".", "-perm", "644", "-type", "f"),
        (".", "-perm", "-u+r", "-type", "f"),
        (".", "-perm", "/111"),
        (".", "-mtime", "-1", "-type", "f"),
        (".", "-mmin", "+5"),
        (".", "-depth", "-type", "d"),
        ("-L", "."),
        (".", "-maxdepth", "0"),
        (".", "-wholename", "*deep*"),
        (".", "-lname", "*"),
        (".", "-type", "f", "-name", "*.log", "-o", "-type", "d", "-name", "deep"),
        (".", "-false"),
        (".", "-true", "-maxdepth", "1"),
        (".", "-links", "1", "-type", "f"),
        ("a.txt", "b.log"),
        (".", "-name", "[ab]*"),
        (".", "-name", "?.txt"),
        (".", "-name", "\\*"),
        (".", "-name", "*.txt", "-exec", "echo", "found", "{}", ";"),
        (".", "-name", "*.md", "-execdir", "echo", "{}", ";"),
        (".", "-type", "f", "-name", "*.txt", "-size", "-3c"),
        (".", "-iname", "a*", "-type", "f"),
        (".", "-ipath", "./SUB/*.TXT"),
        (".", "-type", "f,d", "-name", "*e*"),
        (".", "-name", "*.txt", "-printf", "%p\\n", "-o", "-name", "*.md", "-printf", "md %f\\n"),
        (".", "-type", "d", "-empty"),
        (".", "-mindepth", "1", "-maxdepth", "1", "-type", "d"),
        (".", "-newer", "nope"),
        ("sub", "-name", "deep", "-prune"),
        (".", "-name", ".*"),
        (".", "-path", "*/deep", "-prune", "-o", "-type", "f", "-print"),
        (".", "-not", "(", "-name", "*.txt", "-o", "-type", "d", ")"),
        ("nope", "."),
        (".", "-name", "*.txt", ",", "-name", "*.md"),
        (".", "-size", "+0", "-size", "-4c"),
        (".", "-type", "f", "-printf", "%s %p\\n"),
        (".", "-printf", "%%|%d\\n"),
        (".", "-user", "root", "-type", "f", "-name", "a*"),
        (".", "-group", "root", "-name", "*.md"),
        (".", "-uid", "0", "-name", "x.py"),
        (".", "-nouser"),
        (".", "-type", "l"),
        (".", "-executable", "-type", "f"),
        (".", "-readable", "-name", "*.md"),
        (".", ")"),
    )
]

EXACT = [
    C("find", *a)
    for a in (
        ("nope",),
        (".", "-bogus"),
        (".", "-name"),
        (".", "-type", "x"),
        (".", "-maxdepth", "x"),
        (".", "-name", "a.txt", "-print", "-quit"),
        (".", "-name", "d.md", "-exec", "echo", "{}", "+"),
        (".", "(", "-name", "x"),
        (".", "-size", "3q"),
        (".", "-perm", "bogus"),
        (".", "-exec", "echo"),
        (".", "-user", "nosuchuser"),
        (".", "-regextype", "bogus"),
        (".", "-name", "a.txt", "-exec", "false", ";"),
        (".", "-name", "b.log", "-exec", "false", "{}", "+"),
        (".", "-name", "a.txt", "-printf", "[%-8f]\\n"),
        (".", "-name", "a.txt", "-printf", "%5s|\\t|\\c"),
        (".", "-name", "b.log", "-delete"),
        (".", "-o"),
        (".", "!"),
        ("-H", "sub", "-name", "c.txt"),
        (".", "-name", "a.txt", "-fprint", "out"),
        (".", "-samefile", "a.txt"),
    )
]

EXTRA_SORTED = [
    C("find", ".", "-name", "*.txt", "-printf", "%f %h\\n"),
    C("find", "sub/", "-printf", "%p|%P|%h|%f\\n"),
    C("find", "sub//", "-name", "c.txt"),
    C("find", "./sub/../sub", "-name", "c.txt"),
    C("find", ".", "-maxdepth", "1", "-printf", "%y %p\\n"),
    C("find", ".", "-path", "./sub", "-prune", "-o", "-name", "*.txt", "-print"),
    C("find", ".", "-name", "*.md", "-o", "-print"),
    C("find", ".", "-type", "f", "-a", "-name", "a*", "-o", "-name", "s*"),
    C("find", ".", "!", "(", "-type", "d", ")", "-name", "*.*"),
    C("find", ".", "-empty", "-type", "f", "-printf", "E %p\\n"),
    C("find", ".", "-size", "-1"),
    C("find", ".", "-size", "+0k"),
    C("find", ".", "-size", "2c"),
    C("find", ".", "-size", "12c"),
    C("find", ".", "-perm", "u=rw,go=r", "-type", "f"),
    C("find", ".", "-perm", "/o+w"),
    C("find", ".", "-regex", ".*/[a-c]\\.txt"),
    C("find", ".", "-iregex", ".*A\\.TXT"),
    C("find", ".", "-regex", "./sub.*", "-type", "f"),
    C("find", ".", "-regextype", "egrep", "-regex", ".*\\.(txt|md)"),
    C("find", ".", "-regextype", "posix-basic", "-regex", ".*\\(txt\\|log\\)"),
    C("find", ".", "-name", "*.txt", "-exec", "echo", "{}", "{}", ";"),
    C("find", ".", "-name", "a.txt", "-exec", "echo", "x{}y", ";"),
    # the reference is made older first: files the harness writes one after another can share
    # an mtime on a kernel with coarse (per-tick) timestamps, so "newer" would depend on timing
    C("sh", "-c", "touch -d 2020-01-01 a.txt && find . -maxdepth 1 -type f -newer a.txt"),
    C("find", ".", "-mindepth", "1", "-maxdepth", "1", "-name", "*", "-printf", "%f\\n"),
    C("find", ".", "-type", "d", "-printf", "%p %d\\n"),
    C("find", ".", "-mindepth", "3"),
]

EXTRA_EXACT = [
    C("find", ".", "-maxdepth", "-1"),
    C("find", ".", "-mtime", "x"),
    C("find", ".", "-mtime"),
    C("find", ".", "-newer"),
    C("find", ".", "-size", "+1z"),
    C("find", ".", "-type", "ff"),
    C("find", ".", "-type", ""),
    C("find", ".", "-printf"),
    C("find", ".", "-exec", "echo", "{}"),
    C("find", ".", "-execdir"),
    C("find", ".", "-a"),
    C("find", ".", "-name", "x", "-o"),
    C("find", ".", "-name", "x", "!"),
    C("find", ".", "(", ")"),
    C("find", "-L", "nope"),
    C("find", "a.txt", "-printf", "%y%%%Y\\n"),
    C("find", "a.txt", "-printf", "%"),
    C("find", "a.txt", "-printf", "%z\\n"),
    C("find", "a.txt", "-printf", "\\q\\101\\n"),
    C("find", "a.txt", "-printf", "%p\\cX\\n"),
    C("find", "a.txt", "-fprintf", "out", "%p\\n"),
    C("find", "a.txt", "b.log", "-printf", "%H:%P\\n"),
    C("find", ".", "-name", "a.txt", "-print", "-print0"),
    C("find", "a.txt", "-true", "-o", "-print"),
    C("find", "a.txt", "-false", "-a", "-print"),
    C("find", "a.txt", "-false", "-o", "-false"),
    C("find", "a.txt", "-not", "-not", "-name", "a.txt"),
    C("find", "a.txt", ",", "-print"),
    C("find", "a.txt", "-print", ",", "-print"),
    C("xargs", "-n", "3", stdin=b"1 2 3 4 5 6 7\n"),
    C("xargs", "-L", "1", stdin=b"a b \nc\nd\n"),
    C("xargs", "-I", "%", "echo", "%-%", stdin=b"x\n\ny\n"),
    C("xargs", "-I{}", "echo", "{}", stdin=b"  lead\n"),
    C("xargs", "-d", "\\t", "echo", stdin=b"a\tb\t"),
    C("xargs", "-0", stdin=b"a\nb\x00c\x00"),
    C("xargs", "-d", "x", stdin=b"axbxc"),
    C("xargs", "-n1", "-r"),
    C("xargs", "-E", "b", "-n", "1", stdin=b"a b c\n"),
    C("xargs", "-e", "b", stdin=b"a b c\n"),
    C("xargs", "echo", stdin=b"a\\\nb\n"),
    C("xargs", "echo", stdin=b"\"a'b\" 'c\"d'\n"),
    C("xargs", "-t", "-n", "2", "echo", stdin=b"1 2 3\n"),
    C("xargs", "-s", "20", "echo", stdin=b"aaaa bbbb cccc dddd eeee\n"),
    C("xargs", "-x", "-s", "12", "echo", stdin=b"aaaa bbbb cccc\n"),
    C("xargs", "-L", "x"),
    C("xargs", "-P", "x"),
    C("xargs", "-d"),
    C("xargs", "-d", "ab", stdin=b"x"),
    C("xargs", "sh", "-c", "echo $0 $1", "X", stdin=b"1 2\n"),
    C("xargs", "-n", "1", "test", "-f", stdin=b"a.txt nope\n"),
]
SORTED += EXTRA_SORTED
EXACT += EXTRA_EXACT
prefetch(SORTED + EXACT)


@pytest.mark.parametrize("case", SORTED, ids=lambda c: c.name())
def test_find_compat_sorted(case: Case) -> None:
    check(case, sort=True)


def test_find_print0_sorted() -> None:
    check(C("find", ".", "-name", "*.txt", "-print0"), sort=True, sep=b"\0")


@pytest.mark.parametrize("case", EXACT, ids=lambda c: c.name())
def test_find_compat(case: Case) -> None:
    check(case)
