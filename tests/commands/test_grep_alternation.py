"""grep with alternation, and ``grep -c``'s whole-chunk count (one match per selected line),
against GNU grep: fixed cases over inputs spanning several read chunks, and random patterns
over random lines."""

from __future__ import annotations

import random
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pocketos.lib.safe_regex import may_match_newline
from tests.commands.test_text_fastpaths import check_big as check
from tests.compat import HOST_ENV, Case, have

needs_grep = pytest.mark.skipif(not have("grep"), reason="GNU grep not installed on the host")

_WORDS = ["alpha", "beta", "foo", "sigma", "kappa", "Kappa", "FOO", "fo", "x"]


def _text(seed: int, n: int) -> bytes:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        words = [rnd.choice(_WORDS) + rnd.choice(["", str(i % 10), " ", "-"]) for _ in range(3)]
        out.append(" ".join(words).rstrip(" ") + rnd.choice(["", " ", "\t"]) + "\n")
    return "".join(out).encode()


# ~1 MB over several 256 KiB chunks; "edges" has empty lines, CRLF, invalid UTF-8, a long line,
# and ends without a newline
BIG = _text(1, 40000)
EDGES = (
    b"foo\n\n\nkappa \r\n\xff\xfefoo\xff\nsigma1\tsigma\n  \n"
    + b"alpha " * 60000
    + b"\nfoo|kappa\nx\n"
) * 3 + b"kappa last"

FILES: dict[str, bytes | str] = {"big": BIG, "edges": EDGES}


def G(*argv: str) -> Case:
    return Case(["grep", *argv], {k: v for k, v in FILES.items() if k in argv})


ALT = "foo|sigma[0-9]|kappa "
CASES = [
    G("-cE", ALT, "big"),
    G("-cE", ALT, "edges"),
    G("-cvE", ALT, "big"),
    G("-cvE", ALT, "edges"),
    G("-ciE", ALT, "big"),
    G("-cwE", "foo|sigma|x", "big"),
    G("-cxE", "x|foo|alpha beta", "edges"),
    G("-cxE", "x|foo|", "edges"),
    G("-c", "foo\\|sigma[0-9]", "big"),
    G("-cF", "-e", "kappa", "-e", "fo", "big"),
    G("-cE", "-m", "1000", ALT, "big"),
    G("-cvE", "-m", "5000", ALT, "big"),
    G("-cE", "-m", "0", ALT, "big"),
    G("-cE", "^foo|x$", "big"),
    G("-cE", "^|x", "edges"),
    G("-cE", "$|x", "edges"),
    G("-cE", "^$|x", "edges"),
    G("-cE", "(fo)o?|x", "big"),
    G("-cE", "(a|b)\\1|x", "big"),
    # patterns that can match a newline keep to the per-line path
    G("-cE", "x\\s|foo", "big"),
    G("-cE", "x[[:space:]]|foo", "edges"),
    G("-cE", "x\\W|alpha", "edges"),
    G("-cE", "a[^b]|foo", "edges"),
    G("-c", "-P", "x\\s|foo", "big"),
    G("-nE", ALT, "big"),
    G("-oE", ALT, "big"),
    G("-vE", ALT, "big"),
    G("-iE", ALT, "edges"),
    G("-wE", "foo|sigma|x", "big"),
    G("-xE", "x|foo|alpha beta", "edges"),
    G("-E", ALT, "big"),
    G("-lE", ALT, "big", "edges"),
    G("-cE", ALT, "big", "edges"),
    G("-chE", ALT, "big", "edges"),
]


@pytest.fixture(scope="module")
def vm() -> Iterator[Any]:
    from pocketos import VM

    v = VM()
    yield v
    v.close()


@needs_grep
@pytest.mark.parametrize("case", CASES, ids=lambda c: " ".join(c.argv[1:])[:60])
def test_alternation_same_as_gnu(case: Case, vm: Any) -> None:
    check(case, vm)


@pytest.mark.parametrize(
    ("pattern", "crosses"),
    [
        ("foo|sigma[0-9]|kappa ", False),
        ("[^a\\n]|^$", False),
        ("(?<!\\w)(?:a|b)(?!\\w)", False),
        ("(a)\\1", False),
        ("(?s:(?-s:.))", False),
        (".", False),
        ("a\\sb", True),
        ("[^a]", True),
        ("\\D", True),
        ("\\W", True),
        ("[\\x00-\\x20]", True),
        ("[^\\S]", True),
        ("(?s)a.", True),
        ("(?>a\\s)", True),
        ("(?=\\n)", True),
        ("(a)?(?(1)b|c)", True),
    ],
)
def test_may_match_newline(pattern: str, crosses: bool) -> None:
    assert may_match_newline(pattern) is crosses


# --- random alternations over random lines --------------------------------------------------

_ATOMS = ["a", "b", "ab", "ba", "a b", " ", "^a", "b$", "^", "$", "[ab]", "[^a]", "a\\?", "."]
_FLAGS = ["-c", "-cv", "-ci", "-cw", "-cx", "-n", "-o", "-v", "-vn"]
_LINE = st.text(alphabet="abAB \t", max_size=8)


def _grep_host(flag: str, pattern: str, data: bytes) -> tuple[int, bytes]:
    p = subprocess.run(
        ["grep", flag, "-E", pattern],
        input=data,
        capture_output=True,
        env=HOST_ENV,
        timeout=20,
    )
    return p.returncode, p.stdout


@needs_grep
@settings(
    max_examples=80,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    alts=st.lists(st.sampled_from(_ATOMS), min_size=1, max_size=4),
    flag=st.sampled_from(_FLAGS),
    lines=st.lists(_LINE, max_size=40),
    final_newline=st.booleans(),
)
def test_random_alternations_same_as_gnu(
    alts: list[str], flag: str, lines: list[str], final_newline: bool, vm: Any
) -> None:
    pattern = "|".join(alts)
    data = "\n".join(lines).encode()
    if lines and final_newline:
        data += b"\n"
    want = _grep_host(flag, pattern, data)
    r = vm.run(["grep", flag, "-E", pattern], stdin=data, env=dict(HOST_ENV))
    assert (r.exit_code, r.stdout_bytes) == want, (pattern, flag, data)
