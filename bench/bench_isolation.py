"""Process-isolated VMs: create from a warm pool, exec round trip, vs in-process and bash -c."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable
from typing import Any

from bench.common import Result, timeit

PROCESS = "pocketos process"


def _wait_warm(pool: Any, want: int = 1) -> None:
    """Block (outside the timed region) until the pool has a started, ready worker."""
    while pool.warm < want:
        time.sleep(0.01)
    with pool._lock:
        idle = list(pool._idle)
    for w in idle:
        w.wait_ready()


def _timed(make: Callable[[], Any], before: Callable[[], None], n: int) -> list[float]:
    out: list[float] = []
    pc = time.perf_counter
    for _ in range(n):
        before()
        t = pc()
        vm = make()
        out.append(pc() - t)
        closer = threading.Thread(target=vm.close)
        closer.start()
        closer.join()
    return out


def run(quick: bool = False) -> list[Result]:
    from pocketos import VM
    from pocketos.isolation import WorkerPool

    out: list[Result] = []
    n_pool = 10 if quick else 40
    n_exec = 300 if quick else 3000
    n_sub = 100 if quick else 500

    VM().close()
    out.append(Result("isolation", "create VM", "pocketos", "s", timeit(lambda: VM(), n_exec * 3)))
    with WorkerPool(1) as pool:
        samples = _timed(
            lambda: VM(isolation="process", pool=pool), lambda: _wait_warm(pool), n_pool
        )
        out.append(
            Result(
                "isolation",
                "create VM",
                PROCESS,
                "s",
                samples,
                note="one worker per VM, from a warm pool",
            )
        )
    with WorkerPool(1, vms_per_worker=10_000) as pool:
        VM(isolation="process", pool=pool)  # the shared worker, kept open
        shared = [VM(isolation="process", pool=pool) for _ in range(10)]
        t = timeit(lambda: shared.append(VM(isolation="process", pool=pool)), n_exec // 3)
        out.append(Result("isolation", "create VM", PROCESS + " (shared worker)", "s", t))
    with WorkerPool(0) as pool:
        cold = _timed(lambda: VM(isolation="process", pool=pool), lambda: None, 3 if quick else 5)
        out.append(
            Result("isolation", "create VM", PROCESS + " (no pool)", "s", cold, note="cold start")
        )
    out.append(
        Result(
            "isolation",
            "create VM",
            "bash -c (subprocess)",
            "s",
            timeit(lambda: subprocess.run(["/bin/bash", "-c", "true"], check=True), n_sub),
            note="process start only",
        )
    )

    script = "echo hello"
    with VM() as vm:
        out.append(
            Result(
                "isolation",
                "exec round trip",
                "pocketos",
                "s",
                timeit(lambda: vm.exec(script), n_exec),
            )
        )
    with WorkerPool(1) as pool, VM(isolation="process", pool=pool) as pvm:
        assert pvm.exec(script).stdout == "hello\n"
        out.append(
            Result(
                "isolation",
                "exec round trip",
                PROCESS,
                "s",
                timeit(lambda: pvm.exec(script), n_exec),
            )
        )
        pvm.write_file("/data.txt", b"x" * 1024)
        out.append(
            Result(
                "isolation",
                "read_file 1 KB",
                PROCESS,
                "s",
                timeit(lambda: pvm.read_file("/data.txt"), n_exec),
            )
        )
    with VM() as vm:
        vm.write_file("/data.txt", b"x" * 1024)
        out.append(
            Result(
                "isolation",
                "read_file 1 KB",
                "pocketos",
                "s",
                timeit(lambda: vm.read_file("/data.txt"), n_exec),
            )
        )
    out.append(
        Result(
            "isolation",
            "exec round trip",
            "bash -c (subprocess)",
            "s",
            timeit(
                lambda: subprocess.run(
                    ["/bin/bash", "-c", script], check=True, capture_output=True
                ),
                n_sub,
            ),
        )
    )
    return out
