"""Shared helpers for the benchmarks: timing with percentiles, RSS from /proc, traced
allocations in a child process, result tables."""

from __future__ import annotations

import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import tracemalloc
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

    def tail(self, p: float) -> float:
        """The slow-end percentile: p95 of a time, the 5th percentile of a rate."""
        return self.pct(100 - p) if self.unit == "MB/s" else self.pct(p)

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
        return {
            "group": self.group,
            "name": self.name,
            "system": self.system,
            "unit": self.unit,
            "median": self.median,
            "p95": self.tail(95),
            "p99": self.tail(99),
            "n": len(self.samples) or 1,
            "note": self.note,
        }


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


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: the child of :func:`traced_in_child`: tracing starts before anything (and any thread of
#: wasmtime's) exists, and ``os._exit`` ends it so that Python's shutdown never stops it
_TRACED_CHILD = """
import tracemalloc
tracemalloc.start()
import importlib, json, os, sys
sys.path.insert(0, sys.argv[1])
module, _, name = sys.argv[2].partition(":")
result = getattr(importlib.import_module(module), name)(*json.loads(sys.argv[3]))
sys.stdout.write("\\n" + json.dumps(result))
sys.stdout.flush()
sys.stderr.flush()
os._exit(0)
"""


def traced_in_child(target: str, *args: Any, timeout: float = 1800) -> Any:
    """``module:function(*args)`` run in a child Python process that traces its allocations
    from its first line and never stops tracing; returns the function's JSON result.

    Why not here: on CPython 3.11 ``tracemalloc.stop()`` can crash the process when one of
    wasmtime's threads enters a Python callback at the same moment (python/cpython#128679), so
    no benchmark starts or stops tracemalloc in the process that runs the others. The function
    measures with :func:`traced_peak` and :func:`traced_now`; its arguments and result are
    JSON."""
    p = subprocess.run(
        [sys.executable, "-c", _TRACED_CHILD, ROOT, target, json.dumps(list(args))],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
    )
    if p.returncode != 0:
        raise RuntimeError(f"{target} ended with status {p.returncode}:\n{p.stderr[-4000:]}")
    return json.loads(p.stdout.rsplit("\n", 1)[-1])


def _tracing() -> None:
    if not tracemalloc.is_tracing():
        raise RuntimeError("call this inside traced_in_child(): tracemalloc is not tracing")


def traced_now() -> int:
    """The bytes of Python allocations traced now (inside :func:`traced_in_child`)."""
    _tracing()
    return tracemalloc.get_traced_memory()[0]


def traced_peak(fn: Callable[[], Any]) -> int:
    """The most the traced allocations grew above their level before ``fn()`` while it ran
    (inside :func:`traced_in_child`)."""
    _tracing()
    before = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    fn()
    return max(0, tracemalloc.get_traced_memory()[1] - before)


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
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, {cpu}, "
        f"Python {platform.python_version()}"
    )


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
    lines = [
        "| benchmark | system | median | p95 | p99 | vs pocketos |",
        "|---|---|---|---|---|---|",
    ]
    base: dict[tuple[str, str], float] = {}
    for r in results:
        if r.system == baseline:
            base[(r.group, r.name)] = r.median
    for r in results:
        b = base.get((r.group, r.name))
        ratio = ""
        if b and r.system != baseline and r.median:
            # higher is better for a rate, lower for a time or a size
            better = b >= r.median if r.unit == "MB/s" else b <= r.median
            factor = max(b, r.median) / min(b, r.median)
            good, bad = ("smaller", "larger") if r.unit == "bytes" else ("faster", "slower")
            ratio = f"pocketos {good if better else bad} {factor:.1f}×"
        p95 = fmt_value(r, r.tail(95)) if r.samples else "—"
        p99 = fmt_value(r, r.tail(99)) if r.samples else "—"
        note = f" ({r.note})" if r.note else ""
        label = f"{r.group}: {r.name}{note}".replace("|", "\\|")
        lines.append(
            f"| {label} | {r.system} | {fmt_value(r, r.median)} | {p95} | {p99} | {ratio} |"
        )
    return "\n".join(lines)


# --- inputs and the other systems (shared by bench_shell and bench_commands) ------------------
MB = 1024 * 1024
_WORDS = ["alpha", "beta", "gamma", "delta", "foo", "omega", "sigma", "kappa", "lambda", "theta"]


def text_data(size: int, seed: int = 1) -> bytes:
    """``size`` bytes (rounded up to a line) of deterministic text lines; one line in ten
    holds ``foo`` as its first word (so ``grep foo`` matches about 19% of the lines)."""
    import random

    rnd = random.Random(seed)
    out: list[str] = []
    n = 0
    while n < size:
        line = (
            f"{rnd.choice(_WORDS)} {rnd.randrange(1_000_000)} {rnd.choice(_WORDS)}"
            f"{rnd.randrange(100)} lorem ipsum dolor\n"
        )
        out.append(line)
        n += len(line)
    return "".join(out).encode()


def json_data(size: int, seed: int = 1) -> bytes:
    """A JSON array of small objects, about ``size`` bytes."""
    import json
    import random

    rnd = random.Random(seed)
    items: list[dict[str, Any]] = []
    n = 2
    while n < size:
        item = {
            "id": len(items),
            "name": rnd.choice(_WORDS[:5]),
            "n": rnd.randrange(1000),
            "tags": [rnd.choice(_WORDS) for _ in range(3)],
        }
        n += len(json.dumps(item)) + 2
        items.append(item)
    return json.dumps(items).encode()


def have_just_bash() -> bool:
    try:
        import just_bash  # noqa: F401
    except ImportError:
        return False
    return True


def just_bash(files: dict[str, bytes] | None = None) -> Any:
    """A just-bash shell with its loop/command limits raised out of the way (its defaults stop
    a 10,000-iteration loop)."""
    from just_bash import Bash, ExecutionLimits

    big = 10**9
    lim = ExecutionLimits(
        max_call_depth=1000,
        max_command_count=big,
        max_loop_iterations=big,
        max_awk_iterations=big,
        max_sed_iterations=big,
    )
    return Bash(files=dict(files or {}), limits=lim)


BWRAP = [
    "/usr/bin/bwrap",
    "--ro-bind",
    "/usr",
    "/usr",
    "--ro-bind",
    "/bin",
    "/bin",
    "--ro-bind",
    "/lib",
    "/lib",
    "--ro-bind-try",
    "/lib64",
    "/lib64",
    "--proc",
    "/proc",
    "--dev",
    "/dev",
    "--tmpfs",
    "/tmp",
    "--unshare-all",
    "--die-with-parent",
]


def have_bwrap() -> bool:
    import subprocess

    if not os.path.exists(BWRAP[0]):
        return False
    try:
        p = subprocess.run([*BWRAP, "/bin/true"], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return p.returncode == 0


def host_bash(script: str, cwd: str | None = None, sandbox: bool = False) -> bytes:
    """Run ``script`` with the host's ``bash -c`` (optionally inside bubblewrap)."""
    import subprocess

    argv = ["/bin/bash", "-c", script]
    if sandbox:
        argv = [*BWRAP, *(["--ro-bind", cwd, cwd, "--chdir", cwd] if cwd else []), *argv]
    p = subprocess.run(
        argv,
        capture_output=True,
        cwd=cwd,
        timeout=600,
        env={"PATH": "/usr/bin:/bin", "LC_ALL": "C", "HOME": "/tmp"},
    )
    if p.returncode != 0:
        raise RuntimeError(f"bash -c {script!r} failed: {p.stderr.decode(errors='replace')}")
    return p.stdout


def once(fn: Callable[[], Any]) -> float:
    """Wall time of one call."""
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def load_average() -> str:
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "unknown"
    return f"{one:.2f} {five:.2f} {fifteen:.2f} (1/5/15 min, {os.cpu_count()} cores)"
