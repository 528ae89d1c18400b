"""Shared helpers for the benchmarks: timing with percentiles, RSS from /proc, result tables."""

from __future__ import annotations

import gc
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Result:
    group: str
    name: str
    system: str
    unit: str
    samples: list[float] = field(default_factory=list)
    value: float | None = None  # for single measurements (memory, throughput)
    note: str = ""

    def pct(self, p: float) -> float:
        if not self.samples:
            return self.value or 0.0
        s = sorted(self.samples)
        k = min(len(s) - 1, max(0, int(round(p / 100 * (len(s) - 1)))))
        return s[k]

    @property
    def median(self) -> float:
        if not self.samples:
            return self.value or 0.0
        return statistics.median(self.samples)

    def to_dict(self) -> dict[str, Any]:
        return {"group": self.group, "name": self.name, "system": self.system, "unit": self.unit,
                "median": self.median, "p95": self.pct(95), "p99": self.pct(99),
                "n": len(self.samples) or 1, "note": self.note}


def timeit(fn: Callable[[], Any], n: int, warmup: int = 10) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    pc = time.perf_counter
    gc_was = gc.isenabled()
    gc.disable()
    try:
        for i in range(n):
            t = pc()
            fn()
            out.append(pc() - t)
            if i % 1000 == 999:
                gc.collect()
    finally:
        if gc_was:
            gc.enable()
    return out


def rss_bytes() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def machine() -> str:
    cpu = ""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, {cpu}, "
            f"Python {platform.python_version()}")


def fmt_time(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def fmt_value(r: Result, v: float) -> str:
    if r.unit == "s":
        return fmt_time(v)
    if r.unit == "bytes":
        if v >= 1024 * 1024:
            return f"{v / 1024 / 1024:.1f} MB"
        if v >= 1024:
            return f"{v / 1024:.1f} KB"
        return f"{v:.0f} B"
    if r.unit == "MB/s":
        return f"{v:.1f} MB/s"
    return f"{v:.3g} {r.unit}"


def table(results: list[Result], baseline: str = "pocketos") -> str:
    """Markdown table: one row per (group, name, system) with median/p95/p99 and the ratio
    to pocketos for the same benchmark."""
    lines = ["| benchmark | system | median | p95 | p99 | vs pocketos |",
             "|---|---|---|---|---|---|"]
    base: dict[tuple[str, str], float] = {}
    for r in results:
        if r.system == baseline:
            base[(r.group, r.name)] = r.median
    for r in results:
        b = base.get((r.group, r.name))
        ratio = ""
        if b and r.system != baseline and r.median:
            if r.unit == "MB/s":
                ratio = f"{b / r.median:.1f}× faster" if b >= r.median else \
                    f"{r.median / b:.1f}× slower"
            else:
                ratio = f"{r.median / b:.1f}× slower" if r.median >= b else \
                    f"{b / r.median:.1f}× faster"
            ratio = ratio.replace("slower", "more").replace("faster", "less") \
                if r.unit == "bytes" else ratio
            # phrase it from pocketos' point of view
            ratio = "pocketos " + {"slower": "faster", "faster": "slower", "more": "smaller",
                                   "less": "larger"}[ratio.split()[-1]] + " " + ratio.split()[0]
        p95 = fmt_value(r, r.pct(95)) if r.samples else "—"
        p99 = fmt_value(r, r.pct(99)) if r.samples else "—"
        note = f" ({r.note})" if r.note else ""
        lines.append(f"| {r.group}: {r.name}{note} | {r.system} | {fmt_value(r, r.median)} | "
                     f"{p95} | {p99} | {ratio} |")
    return "\n".join(lines)
