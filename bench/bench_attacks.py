"""Attacks against the limits: how long an exec with ``timeout=T`` really takes to return, and
how much the host allocates, for each one-liner that used to hang the host or grow it by
gigabytes. The claim measured: every attack returns within T + 0.5 s, and the host's traced
allocations stay under ``max_memory`` plus a fixed overhead. The allocations are traced in a
child process (``traced_in_child``), never in the process that runs the other groups.

Run: ``python -m bench.run --only attacks`` (T = 1 s, ``max_memory`` = 64 MiB)."""

from __future__ import annotations

import functools
import time

from bench.common import Result, traced_in_child, traced_peak

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
    timed: dict[str, tuple[list[float], set[str]]] = {}
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
            timed[name] = (times, hits)
    peaks = traced_in_child("bench.bench_attacks:traced_peaks")
    out: list[Result] = []
    for name, (times, hits) in timed.items():
        note = f"limit_hit {'/'.join(sorted(hits))}; traced peak {peaks[name] / MiB:.0f} MiB"
        out.append(Result(G, f"{name}, timeout {T:g} s", "pocketos", "s", times, note=note))
    return out


def traced_peaks() -> dict[str, int]:
    """Each attack's peak of traced host allocations, in a process that traces from its start
    (run through ``traced_in_child``); one exec first so that lazy imports are not counted,
    as they were not when the timed runs came first."""
    from pocketos import VM

    peaks: dict[str, int] = {}
    with VM() as vm:
        vm.write_file("/tmp/long", b"x" * 300_000 + b"\n")
        for name, script in ATTACKS.items():
            vm.exec("rm -rf /tmp/deep")
            vm.exec(script, timeout=T, limits={"max_memory": MEM})
            vm.exec("rm -rf /tmp/deep")
            peaks[name] = traced_peak(
                functools.partial(vm.exec, script, timeout=T, limits={"max_memory": MEM})
            )
    return peaks


if __name__ == "__main__":
    for r in run(quick=True):
        print(f"{r.name:50s} {sorted(r.samples)[len(r.samples) // 2]:.3f} s  {r.note}")
