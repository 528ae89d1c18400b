"""Instructions per command substitution, per loop iteration and per run of the agent script,
counted by valgrind (cachegrind) for pocketos source trees and for just-bash: figures that do
not depend on the machine's load, for comparing trees (and the two shells) on a busy machine.
Wall and CPU time still need a quiet machine (``python -m bench.run --only shell``).

    python -m bench.subst_instructions [--just-bash] [--agent] [SRC ...]

Each SRC is a directory holding the ``pocketos`` package (``git archive REV src | tar -x -C
/tmp/rev`` gives /tmp/rev/src; default: this tree's src). A figure is the difference between
two runs with a different number of iterations (loop rows: 100 and 400; the agent script: 2
and 6 runs), divided by that difference, so start-up and warm-up cancel out.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.bench_shell import AGENT, LOOP, SUBSTS

#: the loop bodies counted: bench_shell's substitutions and its arithmetic loop's body
BODIES = {
    **SUBSTS,
    "loop iteration": LOOP.split("do ", 1)[1].split(";", 1)[0],
}

POCKET = """
import sys
from pocketos import VM
body, n = sys.argv[1], int(sys.argv[2])
vm = VM(cwd="/d")
vm.write_file("/d/f.txt", b"a\\nb\\nc\\n", parents=True)
if body == "AGENT":
    script = open(sys.argv[3]).read()
    for i in range(n + 2):
        vm.exec(f"mkdir -p /w/{i}")
        assert vm.exec(script, cwd=f"/w/{i}").exit_code == 0
else:
    vm.exec(f"x=0; for ((i=0;i<50;i++)); do {body}; done")
    assert vm.exec(f"x=0; for ((i=0;i<{n};i++)); do {body}; done").exit_code == 0
"""

JUST_BASH = """
import sys
from just_bash import Bash, ExecutionLimits
body, n = sys.argv[1], int(sys.argv[2])
big = 10**9
lim = ExecutionLimits(max_call_depth=1000, max_command_count=big, max_loop_iterations=big,
                      max_awk_iterations=big, max_sed_iterations=big)
b = Bash(files={"/d/f.txt": b"a\\nb\\nc\\n"}, limits=lim)
if body == "AGENT":
    script = open(sys.argv[3]).read()
    for i in range(n + 2):
        b.run(f"mkdir -p /w/{i}")
        b.run(script, cwd=f"/w/{i}")
else:
    b.run(f"x=0; for ((i=0;i<50;i++)); do {body}; done", cwd="/d")
    assert b.run(f"x=0; for ((i=0;i<{n};i++)); do {body}; done", cwd="/d").exit_code == 0
"""


def _instructions(code: str, src: str | None, body: str, n: int) -> int:
    env = {
        k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPATH")
    }
    env["PYTHONHASHSEED"] = "0"
    if src is not None:
        env["PYTHONPATH"] = src
    args = [sys.executable, "-c", code, body, str(n), str(AGENT)]
    with tempfile.TemporaryDirectory() as cwd:
        subprocess.run(args, env=env, cwd=cwd, check=True, capture_output=True)  # bytecode cache
        p = subprocess.run(
            ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null"]
            + args,
            env=env,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=1800,
        )
    m = re.search(r"I\s+refs:\s+([\d,]+)", p.stderr)
    if p.returncode != 0 or m is None:
        raise RuntimeError(p.stderr[-2000:])
    return int(m.group(1).replace(",", ""))


def per(code: str, src: str | None, body: str) -> float:
    """Instructions per iteration (per run for the agent script)."""
    lo, hi = (2, 6) if body == "AGENT" else (100, 400)
    return (_instructions(code, src, body, hi) - _instructions(code, src, body, lo)) / (hi - lo)


def main(argv: list[str]) -> None:
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed")
    jb = "--just-bash" in argv
    agent = "--agent" in argv
    srcs = [str(Path(s).resolve()) for s in argv if not s.startswith("--")] or [
        str(Path(__file__).resolve().parents[1] / "src")
    ]
    rows = [(label, body) for label, body in BODIES.items()]
    if agent:
        rows.append(("agent script (per run)", "AGENT"))
    print("| measured | system | instructions |")
    print("|---|---|---|")
    for label, body in rows:
        unit, scale = ("M", 1e6) if body == "AGENT" else ("k", 1e3)
        for src in srcs:
            n = per(POCKET, src, body)
            print(f"| {label} | pocketos {src} | {n / scale:.1f} {unit} |", flush=True)
        if jb:
            n = per(JUST_BASH, None, body)
            print(f"| {label} | just-bash | {n / scale:.1f} {unit} |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
