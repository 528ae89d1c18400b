"""jq's Python path (``_jq_fast``) runs in the host process, where libjq's helper no longer
bounds it: its evaluation must stop at the deadline between slices of a large input, refuse
programs whose output can grow faster than their input, and keep what it holds (the parsed
input, the values it makes, its output) within the exec's memory, handing over to libjq
rather than going past it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from pocketos import VM
from pocketos.commands import _jq_fast
from pocketos.commands.jq import JqOptions
from tests.security._util import peak_rss, reset_peak_rss

MiB = 1024 * 1024
#: what the host may grow by beyond the limit (the VM, interpreter caches, the piece being laid
#: out); laying out a slice of 8,192 large elements at once grew it by 79-88 MiB over 32 MiB
OVERHEAD = 32 * MiB


class _Stop(Exception):
    pass


def _compiled(program: str, **opts: Any) -> _jq_fast.FastJq:
    fast = _jq_fast.compile_fast(program, JqOptions(**opts))
    assert fast is not None, program
    return fast


@pytest.mark.parametrize(
    ("program", "opts"),
    [
        ("[.[] | {a: ., b: [.]}] | length", {"compact": True}),
        (".[] | select(.n > 1) | .n", {"compact": True}),
        ("map(.n)", {"compact": True}),
        (".", {}),  # the two-space layout, a slice at a time
    ],
)
def test_the_evaluation_stops_at_the_deadline_midway(program: str, opts: Any) -> None:
    """The deadline's check runs between slices: one that fires on its third call ends the
    run long before the 100,000 elements are done."""
    doc = json.dumps([{"n": i} for i in range(100_000)]).encode()
    calls: list[int] = []

    def check() -> None:
        calls.append(1)
        if len(calls) >= 3:
            raise _Stop

    fast = _compiled(program, **opts)
    with pytest.raises(_Stop):
        fast.run(doc, 64 * len(doc), check)
    assert len(calls) == 3


@pytest.mark.parametrize(
    "program",
    [
        "[(.,.) | (.,.) | (.,.) | (.,.) | (.,.)]",
        "{a: ., b: .} | {a: ., b: .} | {a: ., b: .}",
        "[.[] | (1,1) | (1,1) | (1,1) | (1,1) | (1,1)]",
        "{a: .[], b: .}",
        "select(.[])",
    ],
)
def test_programs_whose_output_outgrows_their_input_go_to_libjq(program: str) -> None:
    assert _jq_fast.compile_fast(program, JqOptions(compact=True)) is None


@pytest.fixture(scope="module")
def vm() -> Iterator[VM]:
    with VM() as v:
        yield v


@pytest.mark.own_process  # the peak RSS of a process with no other test's threads
@pytest.mark.parametrize("flags", ["", "-c"])
def test_a_large_output_stays_within_the_memory_limit(vm: VM, flags: str) -> None:
    """Four copies of a 10 MB input, pretty or compact, under a 32 MiB limit: the Python path
    hands over to libjq (whose helper stops at the limit) or answers within it; the host
    grows by no more than the limit and its overhead."""
    if not reset_peak_rss():
        pytest.skip("cannot reset the peak RSS here")
    doc = json.dumps(["x" * 1000 + str(i) for i in range(10_000)]).encode()
    vm.write_file("/tmp/strings.json", doc)
    base = peak_rss()
    r = vm.exec(
        f"jq {flags} '[.[] | {{a: ., b: ., c: {{d: ., e: .}}}}]' /tmp/strings.json | wc -c",
        limits={"max_memory": 32 * MiB},
        timeout=120,
    )
    grown = peak_rss() - base
    assert r.exit_code in (0, 125), r
    if r.exit_code == 125:
        assert r.limit_hit == "max_memory", r
    else:
        assert int(r.stdout) > 40_000_000
    assert grown < 32 * MiB + OVERHEAD, grown


def test_an_input_the_parse_could_not_finish_before_the_deadline_goes_to_libjq(vm: VM) -> None:
    """The parse cannot stop at the deadline: with less time left than a slow machine's parse
    of the input would take, libjq's helper (which the deadline kills) gets it."""
    doc = json.dumps([{"n": i, "s": "x" * 40} for i in range(120_000)]).encode()
    assert len(doc) / _jq_fast.PARSE_RATE > 0.3
    vm.write_file("/tmp/big.json", doc)
    answers: list[bool] = []
    real = _jq_fast.FastJq.run

    def run(self: _jq_fast.FastJq, *args: Any) -> Any:
        out = real(self, *args)
        answers.append(out is not None)
        return out

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_jq_fast.FastJq, "run", run)
        r = vm.exec("jq -c 'map(.n) | add' /tmp/big.json", timeout=0.3)
        # (on a loaded machine the deadline may pass before jq reads its input at all)
        assert True not in answers, (answers, r)
        answers.clear()
        r = vm.exec("jq -c 'map(.n) | add' /tmp/big.json", timeout=300)
    assert answers == [True]
    assert (r.exit_code, r.stdout) == (0, f"{sum(range(120_000))}\n")


@pytest.mark.own_process
@pytest.mark.parametrize("flags", ["", "-c"])
def test_a_wrapped_large_value_is_laid_out_within_the_limit(vm: VM, flags: str) -> None:
    """100,000 values 60 arrays down (200 KB in, 12 MB of indented output): the Python path
    lays the wrappers out one by one and the inner array a slice at a time, each piece
    counted, so the host's allocations stay under the limit whichever path prints it."""
    from tests.security._util import exec_traced

    depth, width = 60, 100_000
    vm.write_file("/tmp/wide.json", b"[" * depth + b",".join([b"1"] * width) + b"]" * depth)
    expected = vm.exec(f"jq {flags} . /tmp/wide.json | sha256sum").stdout
    r, peak = exec_traced(vm, f"jq {flags} . /tmp/wide.json | sha256sum", 16 * MiB)
    assert (r.exit_code, r.stderr, r.stdout) == (0, "", expected), r
    assert peak < 16 * MiB, peak
    _jq_fast.ENABLED = False
    try:
        assert vm.exec(f"jq {flags} 'def f: .; f' /tmp/wide.json | sha256sum").stdout == expected
    finally:
        _jq_fast.ENABLED = True
