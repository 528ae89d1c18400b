"""awk's compiled batch loop (``_main_batch``) against gawk, on inputs spanning several
read batches, with the statements that leave the per-record loop early."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest

from pocketos.commands._awk.compiler import compile_program
from pocketos.commands._awk.parser import parse_program
from tests.commands.test_text_fastpaths import check_big
from tests.compat import Case, have

pytestmark = pytest.mark.skipif(not have("gawk"), reason="gawk is not installed on the host")


def _rows(seed: int, n: int) -> bytes:
    rnd = random.Random(seed)
    return "".join(
        f"k{rnd.randint(0, 20)} {rnd.randint(-500, 500)} {rnd.random():.3f},"
        f"{rnd.choice(['a', 'b', ''])},x\n"
        for _ in range(n)
    ).encode()


ROWS = _rows(1, 30000)
FILES: dict[str, bytes | str] = {
    "rows": ROWS,
    "nonl": b"a 1\nb 2\nc 3",
    "small": "x 1\ny 2\n",
    "odd": b"\n \t\nA\x00B 5\r\n\xff 7\n" * 1000 + b"z 9",
}


def A(*argv: str) -> Case:
    return Case(["gawk", *argv], {k: v for k, v in FILES.items() if k in argv})


CASES = [
    A("{s+=$2} END{print s, NR}", "rows"),
    A("-F,", "{print $1}", "rows"),
    A("-F,", '{print $2 "|" NF}', "rows"),
    A("END{print NR, $0}", "rows"),
    A("NR%3==0{next} {n++} END{print n}", "rows"),
    A("{print FNR, FILENAME; nextfile}", "rows", "small"),
    A("FNR==2{nextfile} {print}", "nonl", "small", "rows"),
    A('{print $1; FS=","}', "small", "rows"),
    A("NR==5{exit} {print}", "rows"),
    A('NR==100{RS=","} NR>100 && NR<110{print "[" $0 "]"}', "rows"),
    A("{$2=$2*2; print}", "rows"),
    A('{print NR ": " $0}', "nonl"),
    A("{c[$1]++} END{for (k in c) n++; print n}", "rows"),
    A("{print length($0)}", "odd"),
    A("{print $2}", "odd"),
    A("{t += NF} END{print t}", "odd"),
    A('BEGIN{getline; print "first", $0} {print}', "small"),
    A("{getline x; print x}", "rows"),
    A("/k1[0-9]/,/k2/{n++} END{print n}", "rows"),
    A("{print RT}", "nonl"),
]


@pytest.fixture(scope="module")
def vm() -> Iterator[Any]:
    from pocketos import VM

    v = VM()
    yield v
    v.close()


@pytest.mark.parametrize("case", CASES, ids=lambda c: " ".join(c.argv[1:])[:60])
def test_batch_loop_same_as_gawk(case: Case, vm: Any) -> None:
    check_big(case, vm)


def test_batch_function_is_generated_without_getline() -> None:
    cp = compile_program(parse_program("$1 > 2 {next} {print}"))
    assert "async def _main_batch(" in cp.source
    assert "raise _NextRecord()" in cp.source
    cp = compile_program(parse_program("{getline; print}"))
    assert "_main_batch" not in cp.source


def test_awk_streams(vm: Any) -> None:
    r = vm.exec("yes | awk '{print NR}' | head -n 3")
    assert (r.exit_code, r.stdout) == (0, "1\n2\n3\n")
