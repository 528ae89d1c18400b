"""The batch and whole-chunk fast paths of the text commands agree with their per-line
definitions, on the edge cases that tend to break them."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest

from pocketos.commands._sortkeys import Key, make_batch, make_keyfunc, parse_keydef
from tests.compat import Case, have, run_host, run_vm

LINES = [
    b"",
    b" ",
    b"\t",
    b"a",
    b"  a b  c ",
    b"b\ta\tc",
    b"x,y,z",
    b",,",
    b"1,2,3",
    b"-5 x",
    b" -0.5 y",
    b"+3 z",
    b"007 q",
    b"1e3 w",
    b"-",
    b"-.",
    b".5",
    b"3.",
    b"12.50 a",
    b"99999999999999999999999 big",
    b"\x00nul 5",
    b"caf\xc3\xa9 9",
    b"\xff\xfe 1",
    b"a  b",
    b"a , b , c",
    b"10\t20\t30",
    b"CRLF 4\r",
    b"x" * 5000 + b" 7",
    b"k1 k2 k3 k4 k5",
    b"1,,3",
    b"  42",
    b"\t-17\tz",
    b"3-4",
    b"1.2.3 v",
]


def _random_lines(n: int) -> list[bytes]:
    rnd = random.Random(7)
    alphabet = [b" ", b"\t", b",", b"a", b"B", b"1", b"9", b"-", b".", b"0", b":", b"\xc3\xa9"]
    return [b"".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 12))) for _ in range(n)]


SPECS = [
    "1",
    "2",
    "3",
    "1,1",
    "2,2",
    "2,3",
    "3,3",
    "1,2",
    "5",
    "2b",
    "2,2b",
    "1n",
    "2n",
    "2,2n",
    "3,3n",
    "1,1f",
    "2f",
    "2,2f",
    "4,4n",
    "2,2r",
    "2nr",
    "1b,1",
    "3b,4",
]


@pytest.mark.parametrize("tab", [None, ord(","), ord("\t"), ord(" "), ord("-"), ord(":")])
@pytest.mark.parametrize("spec", SPECS)
def test_sort_batch_keys_match_per_line(spec: str, tab: int | None) -> None:
    key = parse_keydef(spec)
    batch = make_batch(key, tab, False)
    if batch is None:
        return
    lines = LINES + _random_lines(400)
    fn = make_keyfunc(key, tab, False, b"")
    expect: list[Any] = [fn(ln) for ln in lines]
    assert batch(lines) == expect


@pytest.mark.parametrize("flags", ["n", "f", "nr", "b", ""])
def test_sort_batch_whole_line(flags: str) -> None:
    key = Key()
    for ch in flags:
        if ch == "n":
            key.numeric = True
        elif ch == "f":
            key.fold = True
        elif ch == "r":
            key.reverse = True
        elif ch == "b":
            key.skipsblanks = True
    batch = make_batch(key, None, True)
    if batch is None:
        assert flags in ("b", "")
        return
    lines = LINES + _random_lines(400)
    fn = make_keyfunc(key, None, True, b"")
    assert batch(lines) == [fn(ln) for ln in lines]


def test_sort_batch_declines_unusual_keys() -> None:
    assert make_batch(parse_keydef("2.2,3"), None, False) is None
    assert make_batch(parse_keydef("2,2.3"), None, False) is None
    assert make_batch(parse_keydef("3,2"), None, False) is None
    assert make_batch(parse_keydef("2g"), None, False) is None
    assert make_batch(parse_keydef("2V"), None, False) is None
    assert make_batch(parse_keydef("2,2n"), ord("."), False) is None
    assert make_batch(parse_keydef("2,2n"), ord(" "), False) is None
    assert make_batch(parse_keydef("2,2"), ord("\n"), False) is None


# --- differential cases over inputs spanning several read batches -------------------------


def check_big(case: Case, vm: Any) -> None:
    """Like tests.compat.assert_same on a shared VM, with short messages for big outputs."""
    try:
        vm.delete("/work", recursive=True)
    except OSError:
        pass
    host = run_host(case)
    got = run_vm(case, vm)
    if got.stdout != host.stdout:
        pairs = zip(got.stdout, host.stdout, strict=False)
        i = next(
            (k for k, (a, b) in enumerate(pairs) if a != b), min(len(got.stdout), len(host.stdout))
        )
        raise AssertionError(
            f"stdout differs for {case.argv!r} at byte {i} (vm {len(got.stdout)} bytes, "
            f"host {len(host.stdout)}): vm {got.stdout[i - 40 : i + 40]!r} "
            f"host {host.stdout[i - 40 : i + 40]!r}; vm stderr {got.stderr[:200]!r}"
        )
    assert got.exit_code == host.exit_code, (case.argv, got.stderr[:200], host.stderr[:200])
    assert bool(got.stderr) == bool(host.stderr), (case.argv, got.stderr[:200], host.stderr[:200])


def _rows(seed: int, n: int) -> bytes:
    rnd = random.Random(seed)
    words = ["alpha", "beta", "Gamma", "delta", "", "x y", "-3", "007", "1.5", "-0.25"]
    out = []
    for _ in range(n):
        out.append(
            f"{rnd.choice(words)}{rnd.randint(0, 50)} {rnd.randint(-999, 999)} "
            f"{rnd.choice(words)},{rnd.randint(0, 9)},{rnd.choice(words)}\n"
        )
    return "".join(out).encode()


def _runs(seed: int, n: int) -> bytes:
    """Groups of equal lines with random lengths (some longer than a read batch)."""
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        k = rnd.choice([1, 1, 2, 3, 50, 7000])
        out.append(f"line {i % 7}\n".encode() * k)
    return b"".join(out)


ROWS = _rows(5, 40000)
ODD = (
    b"b 2\n\n  a 1\n\tz -5\r\nnodelim\n,,\n"
    + b"k" * 100000
    + b" 3\n"
    + b"x\0y 4\n"
    + b"\xff\xfe 9\n"
) * 5 + b"last 0"
RUNS = _runs(6, 400)
TFILES: dict[str, bytes | str] = {
    "rows": ROWS,
    "odd": ODD,
    "runs": RUNS,
    "runs_nonl": RUNS + b"line 1",
}


def T(*argv: str) -> Case:
    return Case(list(argv), {k: v for k, v in TFILES.items() if k in argv})


TEXT_CASES = [
    T("sort", "-n", "rows"),
    T("sort", "-k2,2n", "rows"),
    T("sort", "-k3", "rows"),
    T("sort", "-t,", "-k2,2", "rows"),
    T("sort", "-t,", "-k2,2n", "rows"),
    T("sort", "-k2,2nr", "rows"),
    T("sort", "-r", "-k3", "rows"),
    T("sort", "-k3r", "rows"),
    T("sort", "-s", "-k2,2n", "rows"),
    T("sort", "-u", "-k1,1", "rows"),
    T("sort", "-f", "-k3,3", "rows"),
    T("sort", "-t,", "-k3", "rows"),
    T("sort", "-b", "-k2", "rows"),
    T("sort", "-n", "odd"),
    T("sort", "-k2,2n", "odd"),
    T("sort", "-k2", "odd"),
    T("sort", "-t,", "-k2,3", "odd"),
    T("sort", "-rn", "odd"),
    T("cut", "-d,", "-f1", "rows"),
    T("cut", "-d,", "-f2", "rows"),
    T("cut", "-d,", "-f2-", "rows"),
    T("cut", "-d", " ", "-f2-3", "rows"),
    T("cut", "-d,", "-f3", "--output-delimiter=::", "rows"),
    T("cut", "-c2-5", "rows"),
    T("cut", "-d,", "-f2", "odd"),
    T("cut", "-d", " ", "-f1", "odd"),
    T("cut", "-c3-", "odd"),
    T("cut", "-b1", "odd"),
    T("cut", "-d,", "-f1-2", "--output-delimiter=|", "odd"),
    T("uniq", "runs"),
    T("uniq", "-c", "runs"),
    T("uniq", "-d", "runs"),
    T("uniq", "-u", "runs"),
    T("uniq", "-c", "-d", "runs"),
    T("uniq", "runs_nonl"),
    T("uniq", "-c", "runs_nonl"),
    T("uniq", "odd"),
    T("uniq", "-c", "odd"),
]


@pytest.fixture(scope="module")
def vm() -> Iterator[Any]:
    from pocketos import VM

    v = VM()
    yield v
    v.close()


@pytest.mark.skipif(not have("sort"), reason="GNU coreutils not installed on the host")
@pytest.mark.parametrize("case", TEXT_CASES, ids=lambda c: " ".join(c.argv)[:60])
def test_fast_paths_same_as_gnu(case: Case, vm: Any) -> None:
    check_big(case, vm)


def test_uniq_to_output_file(vm: Any) -> None:
    vm.write_file("/work/in.txt", b"a\na\nb\nb\nb\nc", parents=True)
    r = vm.run(["uniq", "-c", "in.txt", "out.txt"], cwd="/work")
    assert (r.exit_code, r.stdout) == (0, "")
    assert vm.read_file("/work/out.txt") == b"      2 a\n      3 b\n      1 c\n"
