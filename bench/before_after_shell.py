"""Two checkouts side by side, interleaved: the shell's hot paths, in CPU time per iteration
(best of 7 runs in a fresh process, each process one sample) — the arithmetic loop of
``bench_shell``'s loop row, a function call, and a ``$(...)`` that forks the shell (also
under ``set -e``, where the substitution runs with errexit off, followed by ``set --``).

    git archive OLD src | tar -x -C /tmp/before
    python -m bench.before_after_shell /tmp/before/src src [ROUNDS]
"""

from __future__ import annotations

import statistics
import sys

from bench.before_after import run
from bench.bench_shell import LOOP, LOOP_N

N = 2000
SCRIPTS = {
    "loop": (LOOP, LOOP_N),
    "function call": (f"f() {{ :; }}; for ((i=0;i<{N};i++)); do f; done", N),
    "$(...) with a fork": (f"for ((i=0;i<{N};i++)); do x=$(echo $i; :); done", N),
    "$(...) with a fork under set -e": (
        f"set -e; for ((i=0;i<{N};i++)); do x=$(echo $i; :); set -- $x; done",
        N,
    ),
}

CODE = """
import time
from pocketos import VM
vm = VM()
out = []
for script, n in {scripts!r}:
    vm.exec(script)
    best = 1e9
    for _ in range(7):
        c = time.process_time()
        r = vm.exec(script)
        best = min(best, time.process_time() - c)
        assert r.exit_code == 0, r.stderr
    out.append(best / n)
print(*out)
"""


def main(argv: list[str]) -> None:
    trees = {"before": argv[0], "after": argv[1]}
    rounds = int(argv[2]) if len(argv) > 2 else 5
    code = CODE.format(scripts=list(SCRIPTS.values()))
    res: dict[str, list[list[float]]] = {k: [] for k in trees}
    for src in trees.values():
        run(src, code)  # writes the bytecode caches
    for _ in range(rounds):
        for k, src in trees.items():
            res[k].append(run(src, code))
    for i, name in enumerate(SCRIPTS):
        med = {k: statistics.median(r[i] for r in res[k]) * 1e6 for k in trees}
        print(
            f"{name}: before {med['before']:.2f} µs, after {med['after']:.2f} µs"
            f" (after/before {med['after'] / med['before']:.2f})"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
