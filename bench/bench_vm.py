"""VM create time and memory per idle VM (pocketos vs just-bash)."""

from __future__ import annotations

import subprocess
import sys

from bench.common import Result, timeit

STAIRCASE = """
import gc
{setup}
def rss():
    with open('/proc/self/status') as fh:
        for line in fh:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) * 1024
gc.collect()
before = rss()
keep = [{factory} for _ in range({count})]
{after}
gc.collect()
print((rss() - before) / {count})
"""


def staircase(setup: str, factory: str, count: int, after: str = "") -> float:
    """RSS growth per object, measured in a fresh interpreter (a warm heap would hide it)."""
    code = STAIRCASE.format(setup=setup, factory=factory, count=count, after=after)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    if p.returncode != 0:
        raise RuntimeError(p.stderr)
    return float(p.stdout.strip().splitlines()[-1])


def run(quick: bool = False) -> list[Result]:
    from pocketos import VM

    n = 1000 if quick else 10_000
    out: list[Result] = []
    VM().close()
    out.append(Result("vm", "create", "pocketos", "s", timeit(lambda: VM(), n)))
    try:
        from just_bash import Bash

        Bash()
        out.append(Result("vm", "create", "just-bash", "s", timeit(lambda: Bash(), n // 10)))
    except ImportError:
        pass

    count = 200 if quick else 1000
    for system, setup, factory in (
        ("pocketos", "from pocketos import VM; VM().close()", "VM()"),
        ("just-bash", "from just_bash import Bash; Bash()", "Bash()"),
    ):
        try:
            per = staircase(setup, factory, count)
        except RuntimeError:
            continue
        out.append(
            Result(
                "vm",
                "memory per idle VM",
                system,
                "bytes",
                value=per,
                note=f"RSS delta over {count} VMs, fresh process",
            )
        )
    return out
