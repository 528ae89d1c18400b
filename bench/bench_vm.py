"""VM create time and memory per idle VM (pocketos vs just-bash)."""

from __future__ import annotations

import subprocess
import sys
import time

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


FIRST_EXEC = """
import time
t, c = time.perf_counter(), time.process_time()
from pocketos import VM
vm = VM()
r = vm.exec("echo hi")
elapsed, cpu = time.perf_counter() - t, time.process_time() - c
assert r.stdout == "hi\\n", r
print(elapsed, cpu)
"""


def _fresh_seconds(argv: list[str]) -> float:
    t = time.perf_counter()
    p = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    elapsed = time.perf_counter() - t
    if p.returncode != 0:
        raise RuntimeError(p.stderr)
    return elapsed


def first_exec(n: int) -> list[Result]:
    """A new process: ``import pocketos`` + ``VM()`` + ``exec('echo hi')`` measured inside it
    (bytecode cached by a first run), and the whole ``pocketos exec`` process vs ``bash -c``."""
    code = [sys.executable, "-c", FIRST_EXEC]
    subprocess.run(code, capture_output=True, timeout=600)  # writes the bytecode cache
    inside, cpu = [], []
    for _ in range(n):
        p = subprocess.run(code, capture_output=True, text=True, timeout=600)
        if p.returncode != 0:
            raise RuntimeError(p.stderr)
        wall_s, cpu_s = p.stdout.strip().splitlines()[-1].split()
        inside.append(float(wall_s))
        cpu.append(float(cpu_s))
    cli = [sys.executable, "-m", "pocketos", "exec", "echo hi"]
    bash = ["bash", "-c", "echo hi"]
    _fresh_seconds(cli)
    whole, ref = [], []
    for _ in range(n):  # interleaved, so load changes hit both
        whole.append(_fresh_seconds(cli))
        ref.append(_fresh_seconds(bash))
    return [
        Result(
            "vm",
            "first exec in a new process: import + VM() + exec('echo hi') (target < 60 ms)",
            "pocketos",
            "s",
            inside,
        ),
        Result(
            "vm",
            "first exec in a new process, CPU time of the same (less sensitive to load)",
            "pocketos",
            "s",
            cpu,
        ),
        Result("vm", "`pocketos exec 'echo hi'`, whole process", "pocketos", "s", whole),
        Result("vm", "`pocketos exec 'echo hi'`, whole process", "bash -c", "s", ref),
    ]


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

    out.extend(first_exec(5 if quick else 20))

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
