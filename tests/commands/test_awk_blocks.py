"""awk's whole-block path for rules that only accumulate numeric fields (``{s += $2}``,
``{s += $2; n++}``, ``$3 > x {c++}``) or print fields (``{print $1, $3}``) against GNU awk:
random lines of odd numeric text under random field separators, and inputs spanning several
reads."""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pocketos.commands._awk.compiler import compile_program
from pocketos.commands._awk.parser import parse_program
from tests.commands.test_text_fastpaths import check_big
from tests.compat import HOST_ENV, Case, have

needs_gawk = pytest.mark.skipif(not have("gawk"), reason="gawk is not installed on the host")


@pytest.fixture(scope="module")
def vm() -> Iterator[Any]:
    from pocketos import VM

    v = VM()
    yield v
    v.close()


def _plan(src: str) -> Any:
    return compile_program(parse_program(src)).block_plan


@pytest.mark.parametrize(
    "src",
    [
        "{s+=$2}",
        "{s += $2; n++}",
        "{ ++n; s += $(2) } END { print s / n }",
        "$3 > x {c++}",
        "$3 > -5 {c++; s += $3}",
        "5 <= $1 {s += $1}",
        "{a += $1; b += $3}",
        "{s += $0}",
        "{n++}",
        'BEGIN { FS = "," } { s += $2 } END { print s }',
        "{print $3}",
        "{print $1, $3}",
        "{print}",
        "{print $0}",
        "{ print $(2), $2 } END { print NR }",
    ],
)
def test_block_rules_get_a_block_plan(src: str) -> None:
    assert _plan(src) is not None


@pytest.mark.parametrize(
    "src",
    [
        "{s += $2; s += $3}",  # one variable fed from two fields: the order of additions
        "$3 > x {s += $2}",  # a test on one field and a sum of another
        '$3 > "abc" {c++}',  # a string comparison
        "$3 > NR {c++}",  # a value that changes per record
        "{s += $NF}",
        "{s += $i}",
        "{NR += $1}",
        "{a[$1] += $2}",
        "{s += $2} END {print s} {n++}",
        "{s += $2; print}",
        "/x/ {c++}",
        "{s += $2; getline}",
        "$2 > 1, $2 > 5 {c++}",
        'BEGINFILE { FS = "," } { s += $2 }',
        "{s -= $2}",
        "{s += $100}",
        "{print $1 $2}",
        "{print $1, $0}",
        '{print $1 > "f"}',
        "NR > 1 {print $1}",
        "{print $NF}",
        "{print $1; print $2}",
    ],
)
def test_other_rules_run_record_by_record(src: str) -> None:
    assert _plan(src) is None


# --- against GNU awk -----------------------------------------------------------------------------

#: field texts whose numeric value or look differs in the ways awk cares about
_NUMBERS = [
    "0",
    "7",
    "-3",
    "+5",
    "007",
    "-0",
    "123456789012",
    "9007199254740993",
    "99999999999999999999",
    "1.5",
    "-.5",
    "1.",
    "0.1",
    "1e3",
    "2E-2",
    "1e400",
]
_ODD = ["3abc", "0x10", "abc", "1e", "e5", ".", "+", "-", "1_0", "+inf", "-inf", "inf", "é9", "1é"]
_FIELD = st.sampled_from(_NUMBERS + _ODD)
_BLANKS = st.sampled_from([" ", " ", "  ", "\t", " \t "])

#: the rule shapes: $K becomes the field drawn, X the variable x (set with -v)
_PROGRAMS = [
    "{s += $K} END {print s, NR}",
    "{s += $K; n++} END {print s, n}",
    "$K > X {c++} END {print c + 0}",
    "$K <= X {c++; s += $K} END {print c, s}",
    "X < $K {s += $K} END {print s}",
    "$K == X {c++} END {print c}",
    "$K != X {c++} END {print c}",
    "{a += $1; b += $K} END {print a, b, NR, $0}",
    "{n++} END {print n + 0, $1}",
]


@st.composite
def _input(draw: Any) -> tuple[str, bytes]:
    fs = draw(st.sampled_from([" ", ",", ":", "\t", "|", "."]))
    lines = []
    for fields in draw(st.lists(st.lists(_FIELD, max_size=5), max_size=25)):
        if fs == " ":
            line = draw(st.sampled_from(["", " ", "\t"]))
            for i, f in enumerate(fields):
                line += (draw(_BLANKS) if i else "") + f
            line += draw(st.sampled_from(["", "", " "]))
        else:
            line = fs.join(fields)
        lines.append(line)
    text = "\n".join(lines)
    if lines and draw(st.booleans()):
        text += "\n"
    return fs, text.encode()


@needs_gawk
@settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    data=_input(),
    program=st.sampled_from(_PROGRAMS),
    k=st.integers(min_value=0, max_value=4),
    x=st.sampled_from(["0", "5", "-1", "1e3", "0.1", "abc", "", "-0"]),
    start=st.sampled_from(["", "s = 0.5; n = 1e17", "s = -0", 's = 2 ^ 53; c = ""']),
)
def test_block_rules_same_as_gawk(
    data: tuple[str, bytes], program: str, k: int, x: str, start: str, vm: Any
) -> None:
    fs, text = data
    src = program.replace("$K", f"${k}").replace("X", "x")
    src = f'BEGIN {{ OFMT = "%.17g"; {start} }} {src}'
    assert _plan(src) is not None, src
    argv = [f"-F{fs}" if fs != " " else "-F ", "-v", f"x={x}", src]
    want = subprocess.run(
        ["gawk", *argv, "/dev/stdin"], input=text, capture_output=True, env=HOST_ENV, timeout=20
    )
    vm.write_file("/tmp/in.txt", text)
    got = vm.exec(" ".join(shlex.quote(a) for a in ["awk", *argv, "/tmp/in.txt"]))
    assert (got.exit_code, got.stdout_bytes, got.stderr) == (
        want.returncode,
        want.stdout,
        want.stderr.decode(),
    ), (src, fs, text)


@needs_gawk
@settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    data=_input(),
    fields=st.one_of(
        st.just(""),
        st.just("$0"),
        st.lists(st.integers(min_value=1, max_value=5), min_size=1, max_size=3).map(
            lambda ks: ", ".join(f"${k}" for k in ks)
        ),
    ),
    ofs=st.sampled_from([" ", "-", ""]),
    ors=st.sampled_from(["\n", "|", "", "\n\n"]),
)
def test_print_rules_same_as_gawk(
    data: tuple[str, bytes], fields: str, ofs: str, ors: str, vm: Any
) -> None:
    fs, text = data
    src = f"{{print {fields}}}"
    assert _plan(src) is not None, src
    argv = [f"-F{fs}" if fs != " " else "-F ", "-v", f"OFS={ofs}", "-v", f"ORS={ors}", src]
    want = subprocess.run(
        ["gawk", *argv, "/dev/stdin"], input=text, capture_output=True, env=HOST_ENV, timeout=20
    )
    vm.write_file("/tmp/in.txt", text)
    got = vm.exec(" ".join(shlex.quote(a) for a in ["awk", *argv, "/tmp/in.txt"]))
    assert (got.exit_code, got.stdout_bytes, got.stderr) == (
        want.returncode,
        want.stdout,
        want.stderr.decode(),
    ), (src, fs, text)


def _rows(n: int) -> bytes:
    out = []
    for i in range(n):
        odd = "7x" if i % 9973 == 0 else str(i % 1000 - 500)
        out.append(f"k{i % 7} {odd} {i * 0.37:.2f},{i % 13},\t{i}")
    return ("\n".join(out) + "\n").encode()


ROWS = _rows(60000)  # about 1.5 MB: many reads


def A(*argv: str) -> Case:
    return Case(["gawk", *argv], {"rows": ROWS, "nonl": b"a 1\nb 2\nc 3", "more": b"z 5\n"})


BIG_CASES = [
    A("{s += $2} END {print s, NR, FNR, $0}", "rows"),
    A('BEGIN {OFMT = "%.17g"} {s += $3; n++} END {print s, n}', "rows"),
    A("$2 > 100 {c++; s += $2} END {print c, s}", "rows"),
    A("-v", "x=abc", "$1 < x {c++} END {print c}", "rows"),
    A("-F,", "{s += $2} END {print s, NR}", "rows"),
    A("-F\t", '{s += $2} END {printf "%d %s\\n", s, $0}', "rows"),
    A("{s += $2} END {print s, NR, FILENAME, $0}", "rows", "nonl", "more"),
    A("BEGIN {s = -0} {s += $2} END {print s, NR}", "rows"),
    A("{n++} END {print n, $1}", "nonl"),
    A("{s += $2} END {print s, NR}", "rows", "FS=,", "rows"),
    A("-F", "[, ]", "{s += $2} END {print s, NR}", "rows"),
    A("{s += $2} END {print RT, s}", "nonl"),
    A("{print $2}", "rows", "nonl", "more"),
    A("-F,", "-v", "OFS=|", "{print $3, $1}", "rows"),
    A("-v", "ORS=;", "{print} END {print NR, $0}", "rows", "nonl"),
    A("{print $1, $5} END {print NR}", "rows"),
]


@needs_gawk
@pytest.mark.parametrize("case", BIG_CASES, ids=lambda c: " ".join(c.argv[1:])[:60])
def test_block_rules_over_several_reads(case: Case, vm: Any) -> None:
    check_big(case, vm)
