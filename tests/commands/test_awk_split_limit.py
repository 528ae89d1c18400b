"""A record is split only as far as the last field the program reads (``{print $1}`` splits
once), when it reads fields by constant index only, never assigns one and never uses NF; the
output stays GNU awk's."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from pocketos.commands._awk.codegen import field_split_limit
from pocketos.commands._awk.parser import parse_program
from tests.commands.test_text_fastpaths import check_big
from tests.compat import Case, have


@pytest.mark.parametrize(
    ("src", "limit"),
    [
        ("{print $1}", 1),
        ("{print $3, $1}", 3),
        ("{print $(2)}", 2),
        ("function f(x) { return $4 } {print f($1)}", 4),
        ("END {print $2}", 2),
        ("{print}", 0),
        ("{print NF}", 0),
        ("{print $NF}", 0),
        ("{print $i}", 0),
        ("{$2 = 1; print $1}", 0),
        ("{$2++; print $1}", 0),
        ('{sub(/a/, "b"); print $1}', 0),
        ('{gsub(/a/, "b", $3); print $1}', 0),
        ("{getline $2; print $1}", 0),
        ('{getline $2 < "f"; print $1}', 0),
        ("{print $1000}", 0),
    ],
)
def test_split_limit(src: str, limit: int) -> None:
    assert field_split_limit(parse_program(src)) == limit


@pytest.fixture(scope="module")
def vm() -> Iterator[Any]:
    from pocketos import VM

    v = VM()
    yield v
    v.close()


DATA = (
    b"a b c d e f\n  lead  two\tthree   four  \n\none\nx\ry z\np,q,,r,s\n\tt1\t\tt2 t3\n"
) * 3000


def A(*argv: str) -> Case:
    return Case(["gawk", *argv], {"data": DATA})


CASES = [
    A("{print $1}", "data"),
    A('{print $2 "|" $1}', "data"),
    A('{print "[" $3 "]"}', "data"),
    A('{x = $2} END {print x, $1, $3 "|"}', "data"),
    A("-F,", '{print $2 "|" $3}', "data"),
    A("-F\t", '{print $2 "|" $1}', "data"),
    A('{print $1; $0 = "u v w"; print $3}', "data"),
    A("{print $2; print $0}", "data"),
    A('$2 == "b" {print $1}', "data"),
]


@pytest.mark.skipif(not have("gawk"), reason="gawk is not installed on the host")
@pytest.mark.parametrize("case", CASES, ids=lambda c: " ".join(c.argv[1:])[:60])
def test_split_limit_same_as_gawk(case: Case, vm: Any) -> None:
    check_big(case, vm)
