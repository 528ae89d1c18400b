"""Two checkouts side by side, interleaved: the first exec in a new process, and find/tar over
10,000 files.

    git archive OLD src | tar -x -C /tmp/before
    python -m bench.before_after /tmp/before/src src [FIRST_RUNS] [TREE_RUNS]
"""

from __future__ import annotations

import statistics
import subprocess
import sys

FIRST = """
import time
t, c = time.perf_counter(), time.process_time()
from pocketos import VM
vm = VM()
r = vm.exec("echo hi")
print(time.perf_counter() - t, time.process_time() - c)
"""
TREE = r"""
import time
from pocketos import VM
vm = VM(cwd="/data")
files = {}
for i in range(100):
    for j in range(100):
        files[f"/data/tree/d{i:03d}/f{j:03d}{'7' if j % 10 == 0 else ''}.txt"] = f"file {i} {j}\n".encode()
for p, d in files.items():
    vm.write_file(p, d, parents=True)
out = []
for s in ["find tree -name '*7.txt' | wc -l", "tar -czf tree.tgz tree", "rm -rf out && mkdir out && tar -xzf tree.tgz -C out"]:
    vm.exec(s)
    t = time.perf_counter(); r = vm.exec(s); out.append(time.perf_counter() - t)
    assert r.exit_code == 0, r.stderr
print(*out)
"""


def run(src: str, code: str) -> list[float]:
    p = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": src, "PATH": "/usr/bin:/bin"},
        timeout=1200,
    )
    assert p.returncode == 0, p.stderr
    return [float(x) for x in p.stdout.split()]


def main(argv: list[str]) -> None:
    trees = {"before": argv[0], "after": argv[1]}
    first_runs = int(argv[2]) if len(argv) > 2 else 7
    tree_runs = int(argv[3]) if len(argv) > 3 else 3
    keys = ("first", "cpu", "find", "czf", "xzf")
    res: dict[str, dict[str, list[float]]] = {k: {m: [] for m in keys} for k in trees}
    for src in trees.values():
        run(src, FIRST)  # writes the bytecode caches
    for _ in range(first_runs):
        for k, src in trees.items():
            w, c = run(src, FIRST)
            res[k]["first"].append(w)
            res[k]["cpu"].append(c)
    for _ in range(tree_runs):
        for k, src in trees.items():
            f, cz, xz = run(src, TREE)
            res[k]["find"].append(f)
            res[k]["czf"].append(cz)
            res[k]["xzf"].append(xz)
    for k in trees:
        print(k, {m: round(statistics.median(v) * 1000, 1) for m, v in res[k].items() if v}, "ms")


if __name__ == "__main__":
    main(sys.argv[1:])
