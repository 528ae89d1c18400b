"""The commands group's cases (bench_commands.CASES) in two checkouts and in GNU through
``bash -c``, interleaved process by process, timed in CPU seconds as well as wall seconds. On a
loaded machine wall time mostly measures the wait for a core; CPU time moves much less, so the
ratios in CPU time are the ones to compare there (a quiet machine is still the reference).

    git archive OLD src | tar -x -C /tmp/before
    python -m bench.commands_cpu /tmp/before/src src [ROUNDS] [REPS]

Prints one Markdown table: per case the median over rounds of the best of REPS runs.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

POCKET = """
import json, sys, time
from bench.common import MB, json_data, text_data
from bench.bench_commands import CASES
from pocketos import VM
reps = int(sys.argv[1])
inputs = {"big.txt": text_data(10 * MB), "big.json": json_data(10 * MB)}
out = {}
with VM(cwd="/data") as vm:
    for name, data in inputs.items():
        vm.write_file(f"/data/{name}", data, parents=True)
    for label, (script, _src, _check) in CASES.items():
        r = vm.exec(script)
        walls, cpus = [], []
        for _ in range(reps):
            t, c = time.perf_counter(), time.process_time()
            r = vm.exec(script)
            walls.append(time.perf_counter() - t)
            cpus.append(time.process_time() - c)
            assert r.exit_code == 0, r.stderr
        out[label] = [min(walls), min(cpus), r.stdout]
print(json.dumps(out))
"""

GNU = """
import json, os, resource, subprocess, sys, time
from bench.bench_commands import CASES
reps, d = int(sys.argv[1]), sys.argv[2]
def children():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime
out = {}
for label, (script, _src, _check) in CASES.items():
    walls, cpus = [], []
    for _ in range(reps):
        t, c = time.perf_counter(), children()
        p = subprocess.run(["bash", "-c", script], cwd=d, capture_output=True)
        walls.append(time.perf_counter() - t)
        cpus.append(children() - c)
    out[label] = [min(walls), min(cpus), p.stdout.decode("utf-8", "replace")]
print(json.dumps(out))
"""


def _run(code: str, src: str, *args: str) -> dict[str, list[object]]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": f"{src}:{ROOT}"}
    p = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=3600,
    )
    assert p.returncode == 0, p.stderr[-2000:]
    result: dict[str, list[object]] = json.loads(p.stdout)
    return result


def main(argv: list[str]) -> None:
    from bench.common import MB, json_data, text_data

    before, after = argv[0], argv[1]
    rounds = int(argv[2]) if len(argv) > 2 else 3
    reps = argv[3] if len(argv) > 3 else "3"
    res: dict[str, list[dict[str, list[object]]]] = {"before": [], "after": [], "GNU": []}
    loads = []
    with tempfile.TemporaryDirectory() as d:
        Path(d, "big.txt").write_bytes(text_data(10 * MB))
        Path(d, "big.json").write_bytes(json_data(10 * MB))
        for _ in range(rounds):
            loads.append(os.getloadavg()[0])
            res["before"].append(_run(POCKET, before, reps))
            res["after"].append(_run(POCKET, after, reps))
            res["GNU"].append(_run(GNU, after, reps, d))
    loads.append(os.getloadavg()[0])

    def med(side: str, label: str, i: int) -> float:
        return statistics.median(float(r[label][i]) for r in res[side])  # type: ignore[arg-type]

    print(f"load average (1 min) during the rounds: {', '.join(f'{x:.1f}' for x in loads)}\n")
    print(
        "| case | before CPU | after CPU | GNU CPU | after / before | after / GNU, CPU "
        "| after / GNU, wall |"
    )
    print("|---|---|---|---|---|---|---|")
    for label in res["after"][0]:
        b, a, g = med("before", label, 1), med("after", label, 1), med("GNU", label, 1)
        aw, gw = med("after", label, 0), med("GNU", label, 0)
        outs = {r[label][2] for r in res["after"] + res["before"]}
        warn = "" if len(outs) == 1 else " (outputs differ)"
        print(
            f"| {label}{warn} | {b * 1000:.1f} ms | {a * 1000:.1f} ms | {g * 1000:.1f} ms "
            f"| {a / b:.2f} | {a / g:.1f}× | {aw / gw:.1f}× |"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
