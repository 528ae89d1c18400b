"""Instructions the first exec of a new process costs beyond ``import asyncio``, counted by
valgrind (cachegrind): a figure that does not depend on the machine's load, for comparing two
source trees on a busy machine. CPU time still needs a quiet machine (``bench_vm.first_exec``).

    python -m bench.first_exec_instructions [SRC ...]   (default: this tree's src)

Each SRC is a directory holding the ``pocketos`` package (e.g. ``git archive REV src | tar -x
-C /tmp/rev`` gives /tmp/rev/src). The interpreter runs in an empty directory with a fixed hash
seed, so the count is the same from run to run; the bytecode cache is written by a first run.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.bench_vm import FIRST_EXEC

BASELINE = "import asyncio, time"


def _instructions(code: str, src: str, cwd: str) -> int:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(PYTHONPATH=src, PYTHONHASHSEED="0")
    subprocess.run([sys.executable, "-c", code], env=env, cwd=cwd, check=True, capture_output=True)
    p = subprocess.run(
        [
            "valgrind",
            "--tool=cachegrind",
            "--cache-sim=no",
            "--cachegrind-out-file=/dev/null",
            sys.executable,
            "-c",
            code,
        ],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
    )
    m = re.search(r"I\s+refs:\s+([\d,]+)", p.stderr)
    if p.returncode != 0 or m is None:
        raise RuntimeError(p.stderr[-2000:])
    return int(m.group(1).replace(",", ""))


def main(argv: list[str]) -> None:
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed")
    srcs = [str(Path(s).resolve()) for s in argv] or [
        str(Path(__file__).resolve().parents[1] / "src")
    ]
    with tempfile.TemporaryDirectory() as empty:  # nothing on sys.path[0] to list
        for src in srcs:
            base = _instructions(BASELINE, src, empty)
            total = _instructions(FIRST_EXEC, src, empty)
            print(
                f"{src}: first exec {total / 1e6:.1f} M instructions, import asyncio "
                f"{base / 1e6:.1f} M, pocketos's part {(total - base) / 1e6:.1f} M"
            )


if __name__ == "__main__":
    main(sys.argv[1:])
