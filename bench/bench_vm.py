"""VM create time and memory per idle VM (pocketos vs just-bash)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
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


def _fresh_seconds(argv: list[str], env: dict[str, str] | None = None) -> float:
    t = time.perf_counter()
    p = subprocess.run(argv, capture_output=True, text=True, timeout=600, env=env)
    elapsed = time.perf_counter() - t
    if p.returncode != 0:
        raise RuntimeError(p.stderr)
    return elapsed


ASYNCIO_ONLY = """
import time
c = time.process_time()
import asyncio
print(0.0, time.process_time() - c)
"""


def _inside(code: str, env: dict[str, str]) -> tuple[float, float]:
    p = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=600, env=env
    )
    if p.returncode != 0:
        raise RuntimeError(p.stderr)
    wall_s, cpu_s = p.stdout.strip().splitlines()[-1].split()
    return float(wall_s), float(cpu_s)


def first_exec(n: int) -> list[Result]:
    """A new process: ``import pocketos`` + ``VM()`` + ``exec('echo hi')`` measured inside it
    (bytecode cached by a first run), the same with no bytecode cache, and the whole
    ``pocketos exec`` process vs ``bash -c``.

    The first run must write the cache even where ``PYTHONDONTWRITEBYTECODE`` is set (as in
    some development environments): without it every run compiles the shell's sources again,
    which once made this row read 136 ms instead of about 65."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    _inside(FIRST_EXEC, env)  # writes the bytecode cache
    with tempfile.TemporaryDirectory() as empty:
        # an empty cache directory, never written: every module is compiled from source
        cold_env = dict(env, PYTHONPYCACHEPREFIX=empty, PYTHONDONTWRITEBYTECODE="1")
        inside, cpu, cold, base = [], [], [], []
        for _ in range(n):  # interleaved, so load changes hit all three
            wall_s, cpu_s = _inside(FIRST_EXEC, env)
            inside.append(wall_s)
            cpu.append(cpu_s)
            cold.append(_inside(FIRST_EXEC, cold_env)[1])
            base.append(_inside(ASYNCIO_ONLY, env)[1])
    cli = [sys.executable, "-m", "pocketos", "exec", "echo hi"]
    bash = ["bash", "-c", "echo hi"]
    _fresh_seconds(cli, env)
    whole, ref = [], []
    for _ in range(n):  # interleaved, so load changes hit both
        whole.append(_fresh_seconds(cli, env))
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
            "first exec in a fresh process, CPU ms (import + VM() + exec, bytecode cached)",
            "pocketos",
            "s",
            cpu,
        ),
        Result(
            "vm",
            "first exec in a fresh process, CPU ms (import + VM() + exec, bytecode cached)",
            "python: import asyncio alone",
            "s",
            base,
        ),
        Result(
            "vm",
            "first exec in a fresh process, CPU ms, no bytecode cache (all compiled)",
            "pocketos",
            "s",
            cold,
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
