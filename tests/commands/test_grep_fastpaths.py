"""grep's dense path (most lines selected: split + filter per chunk) against GNU grep, on
inputs spanning several read chunks and on the edge cases of line splitting."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest

from tests.commands.test_text_fastpaths import check_big as check
from tests.compat import Case, have

pytestmark = pytest.mark.skipif(not have("grep"), reason="GNU grep not installed on the host")


def _big(seed: int, n: int, rare: float = 0.1) -> bytes:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        word = "bar" if rnd.random() < rare else "foo"
        out.append(f"{word}{i} {rnd.randint(0, 999)} {'x' * rnd.randint(0, 30)}\n")
    return "".join(out).encode()


# ~1 MB: several 256 KiB chunks, so the dense path is entered after the first one
BIG = _big(1, 30000)
BIG_NONL = BIG + b"foo tail without newline"
EDGES = (b"foo\n\nfoo\r\nbar\r\n\xff\xfefoo\xff\n" + b"foo " + b"y" * 300000 + b"\n") * 3
EDGES += BIG[:300000] + b"foo last"
NUL = BIG[:1000] + b"foo\0bar\n" + BIG[1000:600000]
SPARSE_THEN_DENSE = _big(2, 12000, rare=0.9) + _big(3, 12000, rare=0.0) + _big(4, 12000, 0.9)

FILES: dict[str, bytes | str] = {
    "big": BIG,
    "nonl": BIG_NONL,
    "edges": EDGES,
    "nul": NUL,
    "mix": SPARSE_THEN_DENSE,
    "small": "foo\nbar\n",
}


def G(*argv: str, stdin: bytes = b"") -> Case:
    files = {k: v for k, v in FILES.items() if k in argv}
    return Case(["grep", *argv], files, stdin)


CASES = [
    G("foo", "big"),
    G("foo", "nonl"),
    G("foo", "edges"),
    G("-v", "bar", "big"),
    G("-v", "bar", "nonl"),
    G("-c", "foo", "big"),
    G("-c", "-v", "bar", "mix"),
    G("-n", "foo", "big"),
    G("-n", "-v", "bar", "mix"),
    G("foo", "mix"),
    G("-m", "20000", "foo", "big"),
    G("-m", "9000", "-n", "foo", "mix"),
    G("-m", "25000", "-c", "foo", "big"),
    G("-H", "foo", "big"),
    G("foo", "big", "small"),
    G("-h", "-n", "foo", "big", "nonl"),
    G("o", "nul"),
    G("-a", "o", "nul"),
    G("-c", "o", "nul"),
    G("-i", "FOO", "big"),
    G("-x", "foo", "edges"),
    G("-w", "foo", "edges"),
    G("-E", "^foo[0-9]+ 1", "big"),
    G("-v", "^$", "edges"),
    G("-Z", "-H", "foo", "small"),
    G("-Z", "-H", "-n", "foo", "mix"),
    G("foo", stdin=BIG_NONL),
    G("-v", "x", stdin=EDGES),
    G("-q", "foo", "big"),
    G("-l", "foo", "big", "small"),
    G("-L", "zzz", "big"),
]


@pytest.fixture(scope="module")
def vm() -> Iterator[Any]:
    from pocketos import VM

    v = VM()
    yield v
    v.close()


@pytest.mark.parametrize("case", CASES, ids=lambda c: " ".join(c.argv[1:])[:60])
def test_dense_path_same_as_gnu(case: Case, vm: Any) -> None:
    check(case, vm)


def test_yes_grep_m1_streams(vm: Any) -> None:
    r = vm.exec("yes | grep -m1 y")
    assert (r.exit_code, r.stdout) == (0, "y\n")
    r = vm.exec("yes abc | grep -c -m 100000 b")
    assert (r.exit_code, r.stdout) == (0, "100000\n")
