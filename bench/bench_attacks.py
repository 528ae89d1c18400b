"""Attacks against the limits: how long an exec with ``timeout=T`` really takes to return, and
how much the host allocates, for each one-liner that used to hang the host or grow it by
gigabytes. The claim measured: every attack returns within T + 0.5 s, and the host's traced
allocations stay under ``max_memory`` plus a fixed overhead.

Run: ``python -m bench.run --only attacks`` (T = 1 s, ``max_memory`` = 64 MiB)."""

from __future__ import annotations

import time
import tracemalloc

from bench.common import Result

G = "attacks"
T = 1.0
MiB = 1024 * 1024
MEM = 64 * MiB

#: name -> script; each must end on a limit (timeout, max_memory, max_regex_time ...)
ATTACKS: dict[str, str] = {
    "yes > /dev/null": "yes > /dev/null",
    "seq 1 1e9 > /dev/null": "seq 1 1e9 > /dev/null",
    "sha256sum /dev/zero": "sha256sum /dev/zero",
    "gzip < /dev/zero > /dev/null": "gzip < /dev/zero > /dev/null",
    "grep x /dev/zero": "grep x /dev/zero",
    "awk 1 /dev/zero": "awk 1 /dev/zero",
    "od /dev/zero": "od /dev/zero > /dev/null",
    "yes | sort": "yes | sort",
    "yes | tac": "yes | tac",
    "yes | shuf": "yes | shuf",
    "x=$(yes)": "x=$(yes)",
    "mapfile < <(yes)": "mapfile < <(yes)",
    "diff <(yes) <(yes n)": "diff <(yes) <(yes n)",
    "awk s = s s": "awk 'BEGIN { s = \"x\"; while (1) s = s s }'",
    "grep 'x.*x.*y' (300 KB line)": "grep -c 'x.*x.*y' /tmp/long",
    "sed -E (x|xx)+y (300 KB line)": "sed -E 's/(x|xx)+y/Z/' /tmp/long",
    "sqlite3 recursive CTE": (
        "sqlite3 :memory: 'with recursive c(i) as (select 1 union all select i + 1 from c) "
        "select count(*) from c;'"
    ),
    "sqlite3 printf huge width": "sqlite3 :memory: \"select printf('%.*c', 2000000000, 'x');\"",
    "mkdir -p 250 deep": 'mkdir -p /tmp/deep/$(printf "a/%.0s" $(seq 250))',
    "jq 'def f: f; f'": "jq -n 'def f: f; f'",
    "jq '[range(1e9)]'": "jq -n '[range(1e9)]'",
    "[[ $x =~ (x|xx)+y ]] (300 KB)": "x=$(cat /tmp/long); [[ $x =~ (x|xx)+y ]]",
}


def run(quick: bool = False) -> list[Result]:
    from pocketos import VM

    reps = 1 if quick else 3
    out: list[Result] = []
    with VM() as vm:
        vm.write_file("/tmp/long", b"x" * 300_000 + b"\n")
        for name, script in ATTACKS.items():
            times: list[float] = []
            hits: set[str] = set()
            for _ in range(reps):
                vm.exec("rm -rf /tmp/deep")
                start = time.monotonic()
                r = vm.exec(script, timeout=T, limits={"max_memory": MEM})
                times.append(time.monotonic() - start)
                hits.add(str(r.limit_hit))
            vm.exec("rm -rf /tmp/deep")
            tracemalloc.start()
            try:
                vm.exec(script, timeout=T, limits={"max_memory": MEM})
                peak = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
            note = f"limit_hit {'/'.join(sorted(hits))}; traced peak {peak / MiB:.0f} MiB"
            out.append(Result(G, f"{name}, timeout {T:g} s", "pocketos", "s", times, note=note))
    return out


if __name__ == "__main__":
    for r in run(quick=True):
        print(f"{r.name:50s} {sorted(r.samples)[len(r.samples) // 2]:.3f} s  {r.note}")
