"""jq's pretty layout of deeply nested values: its output grows with the square of the depth
(each line is indented by its depth), so a 16 KB document 4,000 levels deep pretty-prints to
32 MB. The host laid the whole output out as one string, from a table holding every depth's
indentation five times over: 100+ MB of host memory under a 16 MiB limit. The layout now
streams in bounded pieces through the pipe, so the output is whole and the host stays small.
libjq refuses documents more than 10,000 levels deep with a parse error."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest

from pocketos import VM
from tests.security._util import assert_no_crash, exec_traced

# the attacks measure the host's allocations (tests/_own_process.py)
pytestmark = pytest.mark.own_process

MiB = 1024 * 1024
MEM = 16 * MiB


@pytest.fixture(scope="module")
def vm() -> Iterator[VM]:
    with VM() as v:
        yield v


def _nested_pretty(depth: int, inner: str, indent: str = "  ") -> Iterator[str]:
    """jq's pretty text of ``inner`` (a one-line JSON text) inside ``depth`` arrays."""
    for d in range(depth):
        yield "[\n" + indent * (d + 1)
    yield inner
    for d in reversed(range(depth)):
        yield "\n" + indent * d + "]"
    yield "\n"


def _sha_line(pieces: Iterator[str]) -> str:
    h = hashlib.sha256()
    for p in pieces:
        h.update(p.encode())
    return f"{h.hexdigest()}  -\n"


def test_deep_document_pretty_prints_within_the_memory_limit(vm: VM) -> None:
    depth = 4000
    vm.write_file("/tmp/deep.json", b"[" * depth + b"]" * depth)
    r, peak = exec_traced(vm, "jq . /tmp/deep.json | sha256sum", MEM)
    assert_no_crash(r)
    assert (r.exit_code, r.stderr) == (0, ""), r
    assert r.stdout == _sha_line(_nested_pretty(depth - 1, "[]"))
    assert peak < MEM, peak


def test_deep_value_made_by_the_program_pretty_prints_within_the_limit(vm: VM) -> None:
    depth = 4000
    r, peak = exec_traced(
        vm, f"jq -n --indent 3 'reduce range({depth}) as $i (0; [.])' | sha256sum", MEM
    )
    assert_no_crash(r)
    assert (r.exit_code, r.stderr) == (0, ""), r
    assert r.stdout == _sha_line(_nested_pretty(depth, "0", "   "))
    assert peak < MEM, peak


def test_many_leaves_deep_down_pretty_print_within_the_limit(vm: VM) -> None:
    # 100,000 leaves 60 levels down: 200 KB of input, 12 MB of indented output
    depth, width = 60, 100_000
    vm.write_file("/tmp/wide.json", b"[" * depth + b",".join([b"1"] * width) + b"]" * depth)
    # a ``def`` keeps the program off the Python fast path: libjq's results, laid out here
    r, peak = exec_traced(vm, "jq 'def f: .; f' /tmp/wide.json | sha256sum", MEM)
    assert_no_crash(r)
    assert (r.exit_code, r.stderr) == (0, ""), r
    pad = "\n" + "  " * depth
    inner = "1" + ("," + pad + "1") * (width - 1)
    pieces = list(_nested_pretty(depth - 1, "[" + pad + inner + "\n" + "  " * (depth - 1) + "]"))
    assert r.stdout == _sha_line(iter(pieces))
    assert peak < MEM, peak


def test_a_long_flat_result_is_split_into_tokens_a_slice_at_a_time(vm: VM) -> None:
    # 900 KB of result text, 600,000 tokens: a list of all of them (and of their depths) took
    # 29 MB of host allocations (traced); the layout now tokenizes a slice at a time
    n = 300_000
    r, peak = exec_traced(vm, f"jq 'def f: .; [range({n}) | 12] | f' -n | sha256sum", MEM)
    assert_no_crash(r)
    assert (r.exit_code, r.stderr) == (0, ""), r
    assert r.stdout == _sha_line(iter(["[\n  " + ",\n  ".join(["12"] * n) + "\n]\n"]))
    assert peak < MEM, peak


def test_document_deeper_than_libjq_parses_is_a_clean_error(vm: VM) -> None:
    depth = 10_001
    vm.write_file("/tmp/deeper.json", b"[" * depth + b"]" * depth)
    r, peak = exec_traced(vm, "jq . /tmp/deeper.json", MEM)
    assert_no_crash(r)
    assert r.exit_code == 2, r
    assert r.stdout == ""
    assert "Exceeds depth limit for parsing" in r.stderr, r
    assert peak < MEM, peak


def test_deep_document_on_a_pipe_is_read_as_libjq_reads_it(vm: VM) -> None:
    # values on a pipe are split by Python's JSON decoder, which refused (RecursionError)
    # anything over ~1,000 levels: libjq reads them up to its own limit
    depth = 5000
    vm.write_file("/tmp/deep.json", b"[" * depth + b"]" * depth)
    r = vm.exec("(echo 1; cat /tmp/deep.json; echo 2) | jq -c 'length'")
    assert (r.exit_code, r.stdout, r.stderr) == (0, "1\n1\n2\n", ""), r
    vm.write_file("/tmp/deeper.json", b"[" * 10_001 + b"]" * 10_001)
    r = vm.exec("(echo 1; cat /tmp/deeper.json) | jq -c 'length'")
    assert_no_crash(r)
    assert r.exit_code == 2, r
    assert r.stdout == "1\n"
    assert r.stderr == "parse error: Exceeds depth limit for parsing at line 2, column 10001\n"
