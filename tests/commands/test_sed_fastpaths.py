"""sed's whole-chunk paths (dense ``s``, ``y`` alone) against GNU sed, on inputs spanning
several read chunks and on the edge cases of line splitting."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest

from tests.commands.test_text_fastpaths import check_big
from tests.compat import Case, have

pytestmark = pytest.mark.skipif(not have("sed"), reason="GNU sed not installed on the host")


def _text(seed: int, n: int, rare: float) -> bytes:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        word = "hello" if rnd.random() > rare else "xyz"
        out.append(f"{word} {i} abc cab {'e' * rnd.randint(0, 5)}\n")
    return "".join(out).encode()


DENSE = _text(1, 40000, 0.05)
MIXED = _text(2, 15000, 0.95) + _text(3, 15000, 0.0) + _text(4, 15000, 0.95)
ODD = (b"hello\n\nabc\r\n\xff\xfeabc\x00e\n" + b"e" * 200000 + b"\n") * 3 + b"tail e"
FILES: dict[str, bytes | str] = {
    "dense": DENSE,
    "mixed": MIXED,
    "odd": ODD,
    "nonl": b"abc\nlast e",
    "two": b"eee\n",
}


def S(*argv: str) -> Case:
    return Case(["sed", *argv], {k: v for k, v in FILES.items() if k in argv})


CASES = [
    S("s/e/E/g", "dense"),
    S("s/e/E/", "dense"),
    S("s/l\\+/L/g", "dense"),
    S("s/\\(h\\)e/\\1X\\1/g", "dense"),
    S("-E", "s/(a)(b)?c/[\\2\\1]/g", "dense"),
    S("s/e/E/g", "mixed"),
    S("s/e*/-/g", "nonl", "two"),
    S("s/^/> /", "dense"),
    S("s/$/ <", "mixed"),
    S("s/e/\\n/g", "dense"),
    S("s/E/x/gI", "dense"),
    S("s/e/E/2", "dense"),
    S("s/e/E/gp", "dense"),
    S("-n", "s/e/E/gp", "dense"),
    S("s/e/E/g", "odd"),
    S("s/c/C/g", "nonl", "two"),
    S("s/x/&&/", "nonl", "dense"),
    S("y/abc/xyz/", "dense"),
    S("y/abc/xyz/", "odd"),
    S("y/e/\\n/", "dense"),
    S("y/abc/bca/;y/xyz/XYZ/", "mixed"),
    S("y/ce/ec/", "nonl", "two"),
    S("-n", "y/abc/xyz/", "dense"),
    S("-s", "y/abc/xyz/", "nonl", "two"),
    S("s/\\u\\(h\\)/\\U&x/g", "dense"),
]


@pytest.fixture(scope="module")
def vm() -> Iterator[Any]:
    from pocketos import VM

    v = VM()
    yield v
    v.close()


@pytest.mark.parametrize("case", CASES, ids=lambda c: " ".join(c.argv[1:])[:60])
def test_chunk_paths_same_as_gnu(case: Case, vm: Any) -> None:
    check_big(case, vm)


def test_sed_streams(vm: Any) -> None:
    r = vm.exec("yes | sed y/y/n/ | head -n 2")
    assert (r.exit_code, r.stdout) == (0, "n\nn\n")
    r = vm.exec("yes abe | sed s/e/E/g | head -n 1")
    assert (r.exit_code, r.stdout) == (0, "abE\n")
