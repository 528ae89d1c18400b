"""``cut -f``'s whole-block path (one expression per line, groups joined in C) against GNU cut:
random field lists over random lines, and fixed cases over inputs spanning several reads."""

from __future__ import annotations

import random
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pocketos.commands.text_cut import fields_cutter, parse_list
from tests.commands.test_text_fastpaths import check_big as check
from tests.compat import HOST_ENV, Case, have

needs_cut = pytest.mark.skipif(not have("cut"), reason="GNU cut not installed on the host")


@pytest.fixture(scope="module")
def vm() -> Iterator[Any]:
    from pocketos import VM

    v = VM()
    yield v
    v.close()


def _cut_host(argv: list[str], data: bytes) -> tuple[int, bytes]:
    p = subprocess.run(["cut", *argv], input=data, capture_output=True, env=HOST_ENV, timeout=20)
    return p.returncode, p.stdout


# a field list: 1-3 items, each N, N-M, N- or -M, over small numbers
_NUM = st.integers(min_value=1, max_value=7)
_ITEM = st.one_of(
    _NUM.map(str),
    st.tuples(_NUM, _NUM).map(lambda t: f"{min(t)}-{max(t)}"),
    _NUM.map(lambda n: f"{n}-"),
    _NUM.map(lambda n: f"-{n}"),
)
_LIST = st.lists(_ITEM, min_size=1, max_size=3).map(",".join)
_LINE = st.text(alphabet="ab:, \t", max_size=12)


@needs_cut
@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    fields=_LIST,
    delim=st.sampled_from([":", ",", " ", "\t"]),
    extra=st.sampled_from(
        [
            [],
            ["-s"],
            ["--complement"],
            ["--output-delimiter=<>"],
            ["--output-delimiter="],
            ["-s", "--complement"],
            ["-z"],
        ]
    ),
    lines=st.lists(_LINE, max_size=12),
    final_sep=st.booleans(),
)
def test_random_field_lists_same_as_gnu(
    fields: str, delim: str, extra: list[str], lines: list[str], final_sep: bool, vm: Any
) -> None:
    sep = "\0" if "-z" in extra else "\n"
    data = sep.join(lines).encode()
    if lines and final_sep:
        data += sep.encode()
    argv = [f"-d{delim}", "-f", fields, *extra]
    want = _cut_host(argv, data)
    r = vm.run(["cut", *argv], stdin=data, env=dict(HOST_ENV))
    assert (r.exit_code, r.stdout_bytes) == want, (argv, data)


def _rows(seed: int, n: int) -> bytes:
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        k = rnd.choice([0, 1, 2, 3, 4, 6, 9])
        out.append(" ".join(rnd.choice(["x", "", "yy", "zzz", "\t", "é"]) for _ in range(k)))
    return ("\n".join(out)).encode()


# ~1 MB over many 64 KiB reads; a very long line and a last line without newline
BIG = _rows(3, 90000) + b"\n" + b"w " * 100000 + b"\n" + _rows(4, 100)
FILES: dict[str, bytes | str] = {"big": BIG}
CASES = [
    Case(["cut", "-d", " ", "-f", spec, *extra, "big"], FILES)
    for spec, extra in [
        ("2,4", []),
        ("1", []),
        ("3", []),
        ("2-", []),
        ("-2,5", []),
        ("1,3-4,7-", []),
        ("2,4", ["-s"]),
        ("2,4", ["--complement"]),
        ("1-3", ["--output-delimiter=::"]),
        ("2,4", ["--output-delimiter="]),
        ("70000", []),
        ("1,70000-", []),
        ("60000,60002", []),
    ]
] + [Case(["cut", "-c", "1,3-4", "--output-delimiter=", "big"], FILES)]


@needs_cut
@pytest.mark.parametrize("case", CASES, ids=lambda c: " ".join(c.argv[3:-1]))
def test_big_inputs_same_as_gnu(case: Case, vm: Any) -> None:
    check(case, vm)


def test_field_lists_the_expression_cannot_take_go_line_by_line() -> None:
    """Repeat counts past the engine's fast range and very long lists get no expression."""
    assert fields_cutter(parse_list("2,4"), b" ", b"\n", False) is not None
    assert fields_cutter(parse_list("100000"), b" ", b"\n", False) is None
    many = ",".join(str(i) for i in range(1, 200, 2))
    assert fields_cutter(parse_list(many), b" ", b"\n", False) is None
