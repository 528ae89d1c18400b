"""jq in two checkouts side by side, interleaved, with just-bash in the same rounds: the 10 MB
``jq select + add`` of the commands group, ``jq .`` (pretty output) on 2 MB and 10 MB, and
small calls (the agent script's five on its
users.json, and one that runs in process). Wall time and CPU time (this process and the jq
helpers it reaped: a helper that parsed a large input is not reused, so its CPU is counted;
the CPU of the small calls' helpers, which live on, is not) are medians per exec.

    git archive OLD src | tar -x -C /tmp/before
    python -m bench.jq_before_after /tmp/before/src src [ROUNDS] [SMALL_CALLS]
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

BIG = "jq '[.[] | select(.name == \"foo\") | .n] | add' big.json"
#: large inputs, each run once per round
BIGS = [BIG, "jq . big2.json > /dev/null", "jq . big.json > /dev/null"]
SMALL = [
    "jq -r '.[] | select(.active) | \"\\(.name) \\(.role) \\(.logins)\"' users.json",
    "jq '[.[] | .logins] | add' users.json",
    "jq -r 'group_by(.role) | .[] | \"\\(.[0].role): \\(length)\"' users.json",
    "jq '[.[] | select(.active)] | length' users.json",
    "jq -c 'map({(.name): .logins}) | add' users.json",
    "jq .n.y small.json",
]

RUN = r"""
import json, os, sys, time
from pocketos import VM

bigs, small, n, files = json.loads(sys.stdin.read())
out = {}
with VM(cwd="/data") as vm:
    for name, text in files.items():
        vm.write_file("/data/" + name, text.encode("latin-1"), parents=True)
    for cmd in bigs + small:
        vm.exec(cmd)
        walls, cpus = [], []
        for _ in range(1 if cmd in bigs else n):
            t0, c, w = os.times(), time.process_time(), time.perf_counter()
            r = vm.exec(cmd)
            w, c, t1 = time.perf_counter() - w, time.process_time() - c, os.times()
            assert r.exit_code == 0, r.stderr
            walls.append(w)
            cpus.append(c + t1.children_user + t1.children_system - t0.children_user - t0.children_system)
        out[cmd] = (walls, cpus)
print(json.dumps(out))
"""


def _users() -> str:
    script = Path(__file__).with_name("agent_script.sh").read_text()
    start = script.index("cat > data/users.json <<'JSON'\n") + len(
        "cat > data/users.json <<'JSON'\n"
    )
    return script[start : script.index("\nJSON", start)] + "\n"


def main(argv: list[str]) -> None:
    from bench.common import MB, have_just_bash, json_data, just_bash

    trees = {"before": argv[0], "after": argv[1]}
    rounds = int(argv[2]) if len(argv) > 2 else 3
    n = int(argv[3]) if len(argv) > 3 else 50
    files = {
        "big.json": json_data(10 * MB).decode("latin-1"),
        "big2.json": json_data(2 * MB).decode("latin-1"),
        "users.json": _users(),
        "small.json": '{"n": {"y": [1, 2, 3]}}',
    }
    payload = json.dumps([BIGS, SMALL, n, files])
    res: dict[str, dict[str, tuple[list[float], list[float]]]] = {}
    jb = None
    if have_just_bash():
        jb = just_bash({f"/data/{k}": v.encode("latin-1") for k, v in files.items()})
        jb_small = just_bash(
            {f"/data/{k}": v.encode("latin-1") for k, v in files.items() if "big" not in k}
        )
    for _ in range(rounds):
        for name, src in trees.items():
            p = subprocess.run(
                [sys.executable, "-c", RUN],
                input=payload,
                capture_output=True,
                text=True,
                env={"PYTHONPATH": src, "PATH": os.environ.get("PATH", "/usr/bin:/bin")},
                timeout=1200,
            )
            assert p.returncode == 0, p.stderr
            for cmd, (w, c) in json.loads(p.stdout).items():
                walls, cpus = res.setdefault(name, {}).setdefault(cmd, ([], []))
                walls.extend(w)
                cpus.extend(c)
        if jb is not None:
            import time

            for cmd in [*BIGS, *SMALL]:
                shell = jb if cmd in BIGS else jb_small
                for _ in range(1 if cmd in BIGS else n):
                    w, c = time.perf_counter(), time.process_time()
                    r = shell.run(cmd, cwd="/data")
                    w, c = time.perf_counter() - w, time.process_time() - c
                    assert r.exit_code == 0, r.stderr
                    walls, cpus = res.setdefault("just-bash", {}).setdefault(cmd, ([], []))
                    walls.append(w)
                    cpus.append(c)
    print(f"load average {os.getloadavg()[0]:.1f} (2 cores); medians, wall / CPU")
    for cmd in [*BIGS, *SMALL]:
        row = []
        for name in res:
            walls, cpus = res[name][cmd]
            unit, k = ("s", 1) if cmd in BIGS else ("us", 1e6)
            w, c = statistics.median(walls) * k, statistics.median(cpus) * k
            row.append(f"{name} {w:.3g}/{c:.3g} {unit}")
        print(f"{cmd[:60]:60}  " + "  ".join(row))


if __name__ == "__main__":
    main(sys.argv[1:])
