"""The benchmark report: ratios phrased from pocketos' side, tails of rates, escaped pipes."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if not (ROOT / "bench" / "common.py").exists():
    pytest.skip("the bench suite is not in this tree", allow_module_level=True)
sys.path.insert(0, str(ROOT))

from bench.common import Result, table, text_data  # noqa: E402


def test_table() -> None:
    rows = [
        Result("g", "a | b", "pocketos", "s", [1.0, 1.0, 2.0]),
        Result("g", "a | b", "other", "s", [3.0, 3.0, 3.0]),
        Result("g", "rate", "pocketos", "MB/s", [10.0, 20.0, 30.0]),
        Result("g", "rate", "gnu", "MB/s", [60.0]),
        Result("g", "mem", "pocketos", "bytes", value=2048),
        Result("g", "mem", "other", "bytes", value=20480, note="fresh process"),
    ]
    assert table(rows).splitlines() == [
        "| benchmark | system | median | p95 | p99 | vs pocketos |",
        "|---|---|---|---|---|---|",
        "| g: a \\| b | pocketos | 1.00 s | 2.00 s | 2.00 s |  |",
        "| g: a \\| b | other | 3.00 s | 3.00 s | 3.00 s | pocketos faster 3.0× |",
        "| g: rate | pocketos | 20.0 MB/s | 10.0 MB/s | 10.0 MB/s |  |",
        "| g: rate | gnu | 60.0 MB/s | 60.0 MB/s | 60.0 MB/s | pocketos slower 3.0× |",
        "| g: mem | pocketos | 2.0 KB | — | — |  |",
        "| g: mem (fresh process) | other | 20.0 KB | — | — | pocketos smaller 10.0× |",
    ]


def test_text_data_is_deterministic() -> None:
    a = text_data(10_000)
    assert a == text_data(10_000)
    assert len(a) >= 10_000 and a.endswith(b"\n")
