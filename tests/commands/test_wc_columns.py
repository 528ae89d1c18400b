"""wc's column widths against GNU wc: every mix of counts with one file, several files, stdin
on a pipe, stdin redirected from a regular file, directories, missing files and
``--files0-from`` (a regular file or a pipe). GNU works one width out before it reads anything
(from the regular files' sizes and whether any operand is not a regular file), so a row's
padding depends on all the operands."""

from __future__ import annotations

import itertools
import shlex
from collections.abc import Iterator

import pytest

from pocketos import VM
from tests.compat import Case, have, run_host, run_vm

pytestmark = pytest.mark.skipif(not have("wc"), reason="GNU wc not installed on the host")

FILES: dict[str, bytes | str] = {
    "a": "one two\nthree\n",
    # 12,001 bytes: five digits of size, so the width differs from both 1 and 7
    "big": "w " * 6000 + "\n",
    "e": "",
    "u8": "h\u00e9llo w\u00f6rld\n\tx\n",
    "d/x": "q\n",
    "names": "a\0big\0",
    "one": "a\0",
}

COUNTS = ["", "-l", "-w", "-c", "-m", "-L", "-lw", "-wl", "-lc", "-wm", "-lwc", "-cL", "-lwmcL"]

#: operand lists; a string is a shell command line run by bash (for a redirected stdin)
OPERANDS: list[list[str] | str] = [
    [],
    ["a"],
    ["big"],
    ["e"],
    ["a", "big"],
    ["big", "e", "u8"],
    ["-"],
    ["-", "a"],
    ["a", "-", "big"],
    ["nope"],
    ["nope", "a", "big"],
    ["a", "nope"],
    ["d"],
    ["d", "a"],
    ["a", "d", "big"],
    ["--files0-from=names"],
    ["--files0-from=one"],
    "< big",
    "- a < big",
    "a - < e",
    "< d",
    "--files0-from=- < names",
    "< names --files0-from=-",
]


def _cases() -> Iterator[tuple[str, Case]]:
    for counts, ops in itertools.product(COUNTS, OPERANDS):
        flags = [counts] if counts else []
        if isinstance(ops, str):
            line = " ".join(["wc", *flags, ops])
            argv = ["bash", "-c", line]
        else:
            argv = ["wc", *flags, *ops]
            line = shlex.join(argv)
        yield line, Case(argv, files=FILES, stdin="x y\nz\n", id=line)


CASES = list(_cases())


@pytest.fixture(scope="module")
def vm() -> Iterator[VM]:
    with VM() as v:
        yield v


@pytest.mark.parametrize("case", [c for _, c in CASES], ids=[n for n, _ in CASES])
def test_wc_columns_match_gnu(vm: VM, case: Case) -> None:
    host = run_host(case)
    got = run_vm(case, vm)
    assert (got.stdout, got.exit_code) == (host.stdout, host.exit_code), (
        f"host stderr: {host.stderr!r}\nvm stderr: {got.stderr!r}"
    )
    assert bool(got.stderr) == bool(host.stderr)


def test_names_from_a_pipe_get_no_width() -> None:
    """Names read from a pipe are counted as they come: GNU pads nothing (width 1), whatever
    the files' sizes."""
    case = Case(["bash", "-c", "printf 'a\\0big\\0' | wc --files0-from=-"], files=FILES, id="pipe")
    host = run_host(case)
    assert host.stdout == b"2 3 14 a\n1 6000 12001 big\n3 6003 12015 total\n"
    assert run_vm(case).stdout == host.stdout
