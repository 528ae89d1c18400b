"""Python and JavaScript in the VM (wasm): warm runs, first use in a new process, numpy import,
memory per running interpreter. Needs the module cache warm (``pocketos warmup``)."""

from __future__ import annotations

import subprocess
import sys
import time

from bench.common import Result, timeit

FIRST_USE = """
import time
from pocketos import VM
vm = VM()
t = time.perf_counter()
r = vm.run({argv!r}, stdin=b"")
assert r.exit_code == 0, r.stderr
print(time.perf_counter() - t)
"""

SESSION_RSS = """
import asyncio, gc
from bench.common import rss_bytes
from pocketos.vm import AsyncVM
from pocketos.wasm import PythonSession

async def main():
    vm = AsyncVM()
    warm = PythonSession.for_vm(vm)
    await warm.run("1")  # the runtime loaded once: its code is shared by every interpreter
    gc.collect()
    before = rss_bytes()
    keep = []
    for _ in range({count}):
        s = PythonSession.for_vm(vm)
        await s.run("x = 1")
        keep.append(s)
    gc.collect()
    print((rss_bytes() - before) / {count})
    for s in keep + [warm]:
        await s.close()

asyncio.run(main())
"""


POOL_RSS = """
import gc, time
from bench.common import rss_bytes
from pocketos.wasm import pool
from pocketos.kernel.limits import Limits

lim = Limits()
key = pool.PoolKey(lim.wasm_memory, lim.max_open_files, False)
pool.open_interpreter(key, warm=True).session.close()  # the runtime loaded once
gc.collect()
before = rss_bytes()
keep = [pool.open_interpreter(key, warm=True) for _ in range({count})]
gc.collect()
print((rss_bytes() - before) / {count})
for it in keep:
    it.session.close()
"""


def _fresh(code: str) -> float:
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=900)
    if p.returncode != 0:
        raise RuntimeError(p.stderr)
    return float(p.stdout.strip().splitlines()[-1])


def run(quick: bool = False) -> list[Result]:
    from pocketos import VM
    from pocketos.wasm import cache

    out: list[Result] = []
    n = 10 if quick else 50
    if not cache.python_is_cached() or not cache.js_available():
        cache.warmup()
    with VM() as vm:

        def py() -> None:
            r = vm.run(["python3", "-c", "print(1)"], stdin=b"")
            assert r.exit_code == 0, r.stderr

        def node() -> None:
            r = vm.run(["node", "-e", "console.log(1)"], stdin=b"")
            assert r.exit_code == 0, r.stderr

        def numpy() -> None:
            r = vm.run(["python3", "-c", "import numpy"], stdin=b"")
            assert r.exit_code == 0, r.stderr

        def py_paced() -> None:
            time.sleep(0.15)  # an agent's pace: the pool has refilled between commands
            py()

        out.append(
            Result(
                "wasm",
                "python3 -c 'print(1)' (warm VM, paced)",
                "pocketos",
                "s",
                [t - 0.15 for t in timeit(py_paced, max(5, n // 2), warmup=2)],
                note="target < 40 ms",
            )
        )
        out.append(
            Result(
                "wasm",
                "python3 -c 'print(1)' (warm VM, back to back)",
                "pocketos",
                "s",
                timeit(py, n, warmup=3),
                note="the pool refills meanwhile",
            )
        )
        out.append(
            Result(
                "wasm",
                "python3 -c 'import numpy'",
                "pocketos",
                "s",
                timeit(numpy, max(3, n // 5), warmup=1),
            )
        )
        out.append(
            Result(
                "wasm",
                "node -e 'console.log(1)' (warm VM)",
                "pocketos",
                "s",
                timeit(node, n, warmup=3),
            )
        )
    reps = 1 if quick else 3
    out.append(
        Result(
            "wasm",
            "python3 first use, new process, warm cache",
            "pocketos",
            "s",
            [_fresh(FIRST_USE.format(argv=["python3", "-c", "print(1)"])) for _ in range(reps)],
            note="target < 1 s",
        )
    )
    out.append(
        Result(
            "wasm",
            "node first use, new process, warm cache",
            "pocketos",
            "s",
            [_fresh(FIRST_USE.format(argv=["node", "-e", "console.log(1)"])) for _ in range(reps)],
        )
    )
    count = 2 if quick else 4
    out.append(
        Result(
            "wasm",
            "memory per pooled (pre-started) interpreter",
            "pocketos",
            "bytes",
            value=_fresh(POOL_RSS.format(count=count)),
            note=f"RSS delta over {count} warm, never-used interpreters",
        )
    )
    out.append(
        Result(
            "wasm",
            "memory per running Python interpreter",
            "pocketos",
            "bytes",
            value=_fresh(SESSION_RSS.format(count=count)),
            note=f"RSS delta over {count} open PythonSessions",
        )
    )
    return out
