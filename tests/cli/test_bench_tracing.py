"""Benchmarks measure traced allocations in a child process, never in the one running the
groups: stopping tracemalloc while a wasmtime thread enters Python can crash CPython 3.11
(python/cpython#128679), which would lose a whole ``python -m bench.run``."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if not (ROOT / "bench" / "common.py").exists():
    pytest.skip("the bench suite is not in this tree", allow_module_level=True)
sys.path.insert(0, str(ROOT))

from bench.common import traced_in_child, traced_now, traced_peak  # noqa: E402


def test_no_benchmark_starts_or_stops_tracemalloc_itself() -> None:
    calls = re.compile(r"tracemalloc\.(start|stop)\(")
    found = [
        f.name
        for f in sorted((ROOT / "bench").glob("*.py"))
        if f.name != "common.py" and calls.search(f.read_text())
    ]
    assert found == []


def allocate(n: int) -> dict[str, int]:
    """Run in the child: what keeping ``n`` bytes costs, and its peak."""
    before = traced_now()
    keep: list[bytes] = []
    peak = traced_peak(lambda: keep.append(bytes(n)))
    return {"peak": peak, "kept": traced_now() - before}


def test_traced_in_child_measures_in_a_child() -> None:
    got = traced_in_child("tests.cli.test_bench_tracing:allocate", 4 << 20)
    assert got["peak"] >= 4 << 20
    assert got["kept"] >= 4 << 20


def test_a_failing_child_is_an_error_with_its_stderr() -> None:
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        traced_in_child("tests.cli.test_bench_tracing:divide", 0)


def divide(n: int) -> float:
    return 1 / n


def test_measuring_outside_a_traced_child_is_refused() -> None:
    import tracemalloc

    if tracemalloc.is_tracing():
        pytest.skip("this process traces allocations already")
    with pytest.raises(RuntimeError, match="traced_in_child"):
        traced_now()
