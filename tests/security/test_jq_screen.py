"""A small jq call runs in the host's libjq when its program passed a screen whose bound, with
the call's input, is small (pocketos/commands/_jq_screen.py); everything else still runs in a
killable, memory-capped helper. These tests attack the screen: a program it accepts must not be
made long or large by its input or its literals, and what it refuses must keep its limits."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from pocketos import VM
from pocketos.commands import _jq_engine, _jq_fast
from pocketos.commands._jq_screen import MAX_COST, screen_program
from tests.security._util import assert_no_crash

MiB = 1024 * 1024
MEM = 16 * MiB

DOC = '{"name": "pocketos", "tags": ["a", "b"], "n": {"x": 1, "y": [1, 2, 3]}}'

ACCEPTED = [
    ".",
    ".n.y",
    "[.n.y[] | select(. > 1) | . * 2]",
    "[range(100)] | add",
    "{name, tags}",
    '"\\(.name)=\\(.n.x)"',
    "to_entries[] | .key",
    '.tags | join(",")',
    "..|numbers",
    "{range: 1, if: 2}",
    ". as {name: $n} | $n",
    "# a comment with range(.n)\n.name",
    '"range(.n) and def f: f; f" | length',
]

REFUSED = [
    "def f: f; f",
    "[range(1e9)]",
    "range(.n.x)",
    "range(0; 5)",
    '"x" * 1e9',
    '"x" * .n.x',
    '"x" * 2 * .n.x',
    ".n.x * 2000 | tostring * 1000",
    ".[1e9] = 1",
    ".a |= 1",
    "reduce .[] as $x (0; . + $x)",
    "foreach .[] as $x (0; . + 1)",
    "limit(1; .[])",
    "until(. > 1; . + 1)",
    "repeat(1)",
    "recurse",
    'test("(a*)*b")',
    "env",
    "$ENV",
    "$__loc__",
    "input",
    "[inputs]",
    "label $out | 1",
    "implode",
    "@base64d",
    'getpath(["a"])',
    "paths",
    "debug",
    "stderr",
    "halt_error",
    'include "x"; .',
    "x::y",
    "@base32 | " * 40 + ".",
    '"\\(def f: f; f)"',
    "1" * 30,
    ".a" * 600,
]


@pytest.mark.parametrize("program", ACCEPTED)
def test_screen_accepts_simple_programs(program: str) -> None:
    screen = screen_program(program)
    assert screen is not None
    assert screen.cost(len("null")) <= MAX_COST


@pytest.mark.parametrize("program", REFUSED)
def test_screen_refuses_what_input_or_literals_could_make_unbounded(program: str) -> None:
    assert screen_program(program) is None


def test_chains_of_encodings_cannot_grow_past_the_bound() -> None:
    # each @base32 is 1.6 times its input: 40 of them would be 150,000 times
    assert screen_program("@base32 | " * 40 + ".") is None
    assert screen_program("tojson | " * 10 + ".") is None
    one = screen_program("@base32")
    assert one is not None and one.growth >= 2


def test_screen_bound_grows_with_the_input_and_the_iterations() -> None:
    one = screen_program(".[] | .a")
    three = screen_program(".[] | .[] | .[]")
    assert one is not None and three is not None
    assert one.cost(100) < one.cost(10_000)
    assert one.cost(100) <= MAX_COST < one.cost(10_000)
    assert three.cost(100) > MAX_COST


@pytest.fixture
def vm() -> Iterator[VM]:
    with VM(cwd="/data") as v:
        v.write_file("/data/s.json", (DOC + "\n").encode(), parents=True)
        yield v


@pytest.fixture(autouse=True)
def libjq_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """These attacks are on where libjq runs: the Python path for a subset of programs
    (``_jq_fast``) would answer some of them first."""
    monkeypatch.setattr(_jq_fast, "ENABLED", False)


@pytest.fixture
def no_helpers(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    started: list[int] = []
    real = _jq_engine._take

    def take() -> _jq_engine._Helper:
        started.append(1)
        return real()

    monkeypatch.setattr(_jq_engine, "_take", take)
    return started


def test_a_small_call_runs_without_a_helper(vm: VM, no_helpers: list[int]) -> None:
    r = vm.exec("jq -c '[.n.y[] | select(. > 1) | . * 2]' s.json; jq -n '[range(100)] | add'")
    assert (r.exit_code, r.stdout, r.stderr) == (0, "[4,6]\n4950\n", "")
    assert no_helpers == []


def test_a_screened_program_on_a_large_input_runs_in_a_helper(
    vm: VM, no_helpers: list[int]
) -> None:
    vm.write_file("/data/big.json", json.dumps([{"a": i} for i in range(2000)]).encode())
    r = vm.exec("jq -c '[.[] | .a] | length' big.json")
    assert (r.exit_code, r.stdout, r.stderr) == (0, "2000\n", ""), r
    assert no_helpers == [1]


def test_a_program_moved_to_a_known_helper_is_sent_with_its_inputs(
    vm: VM, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the helper's size is known from its first answer: from then on the compile request
    # goes in the same write as the inputs (one wakeup), and the run is still capped
    writes: list[list[bytes]] = []
    real = _jq_engine._Helper.send

    def send(self: _jq_engine._Helper, op: bytes, payload: bytes = b"", *more: bytes) -> None:
        writes.append([op, *more[::2]])
        real(self, op, payload, *more)

    monkeypatch.setattr(_jq_engine._Helper, "send", send)
    capped: list[int | None] = []
    real_cap = _jq_engine._Helper.cap_memory

    def cap(self: _jq_engine._Helper, limit: int | None) -> None:
        if limit is not None:
            capped.append(self.vsize)
        real_cap(self, limit)

    monkeypatch.setattr(_jq_engine._Helper, "cap_memory", cap)
    vm.write_file("/data/big.json", json.dumps([{"a": i} for i in range(2000)]).encode())
    for _ in range(3):
        r = vm.exec("jq -c '[.[] | .a] | add' big.json")
        assert (r.exit_code, r.stdout, r.stderr) == (0, "1999000\n", ""), r
    # a file goes whole, for libjq to parse (``T``)
    assert writes[-1] == [b"P", b"T"]
    assert capped and all(capped[-2:])


def test_a_large_value_among_small_ones_moves_the_run_to_a_helper(
    vm: VM, no_helpers: list[int]
) -> None:
    # a small value, then one too large for this process
    big = json.dumps(list(range(5000)))
    vm.write_file("/data/two.json", ("[1]\n" + big + "\n").encode())
    r = vm.exec("jq -c '[.[] | . + 1] | length' two.json")
    assert (r.exit_code, r.stdout, r.stderr) == (0, "1\n5000\n", ""), r
    assert no_helpers == [1]


# passes the screen's grammar, and its bound with the input is far over MAX_COST: a helper
# that the deadline kills runs it (27 billion steps, no memory)
CUBIC = "[.[] as $a | .[] as $b | .[] | select(. < 0)] | length"


@pytest.mark.timeout(120)
def test_iteration_over_a_large_input_is_bounded_by_the_timeout(vm: VM) -> None:
    vm.write_file("/data/wide.json", json.dumps(list(range(3000))).encode())
    timeout = 0.5
    r = vm.exec(f"jq '{CUBIC}' wide.json", timeout=timeout, limits={"max_memory": MEM})
    assert_no_crash(r)
    assert (r.exit_code, r.limit_hit) == (124, "timeout"), r


def test_a_huge_number_in_the_input_does_not_repeat_a_string_in_the_host(vm: VM) -> None:
    # "x" * .n is refused by the screen, so this runs in the helper, under max_memory
    r = vm.exec(
        "echo '{\"n\": 1e7}' | jq '\"xxxxxxxx\" * .n | length'",
        timeout=60,
        limits={"max_memory": MEM},
    )
    assert_no_crash(r)
    assert (r.exit_code, r.limit_hit) == (125, "max_memory"), r


def test_a_run_that_does_not_fit_the_memory_left_goes_to_a_helper(
    no_helpers: list[int],
) -> None:
    # the bound (~58,000 units of 64 bytes) is under MAX_COST but over the 2 MiB budget
    program = "[.[] | . * 2] | length"
    doc = json.dumps(list(range(40))).encode()
    screen = screen_program(program)
    assert screen is not None and screen.cost(len(doc)) <= MAX_COST
    with VM(cwd="/data", limits={"max_memory": 2 * MiB}) as vm:
        vm.write_file("/data/s.json", doc, parents=True)
        r = vm.exec(f"jq -c '{program}' s.json")
        assert (r.exit_code, r.stdout) == (0, "40\n"), r
    assert no_helpers == [1]


PROGRAMS = [
    ".",
    ".n.y",
    "[.n.y[] | select(. > 1) | . * 2]",
    "{name, tags} | keys",
    '"\\(.name)=\\(.n.x)"',
    'to_entries | map(.key) | join(",")',
    "[..|numbers] | add",
    ".tags | .[0], .[5], length",
    ".n.y | .[1:] | reverse",
    ".name | error",
    ".n.x | tostring | tojson | @base64",
    ".tags | map(ascii_upcase) | @csv",
    "[.[] | type] | unique",
    '.missing.deeper // "none"',
    "try (.name | .x) catch .",
]


@pytest.mark.parametrize("program", PROGRAMS)
def test_in_process_results_match_the_helpers(
    program: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = f"jq -c '{program}' s.json; echo status=$?"
    with VM(cwd="/data") as vm:
        vm.write_file("/data/s.json", (DOC + "\n").encode(), parents=True)
        here = vm.exec(script)
        monkeypatch.setattr(_jq_engine, "MAX_COST", 0)  # every run to a helper
        there = vm.exec(script)
    assert (here.stdout, here.stderr) == (there.stdout, there.stderr)
