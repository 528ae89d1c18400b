"""Command throughput on 10 MB inputs: grep, sed, awk, sort and jq — pocketos side by side with
just-bash (PyPI) and, for reference, the GNU tools through ``bash -c``. Results in MB/s (higher
is better)."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from bench.common import (
    MB,
    Result,
    have_just_bash,
    host_bash,
    json_data,
    just_bash,
    once,
    text_data,
)

G = "commands"
SIZE = 10 * MB

#: name -> (script run in the data directory, input file, compare stdout across systems)
CASES: dict[str, tuple[str, str, bool]] = {
    "grep -c foo": ("grep -c foo big.txt", "big.txt", True),
    "sed s/foo/bar/g": ("sed 's/foo/bar/g' big.txt > /dev/null", "big.txt", False),
    "awk sum of a column": ("awk '{s+=$2} END {print s}' big.txt", "big.txt", True),
    "sort": ("sort big.txt > /dev/null", "big.txt", False),
    "jq select + add": ("jq '[.[] | select(.name == \"foo\") | .n] | add' big.json", "big.json",
                        True),
}


def _rate(size: int, fn: Callable[[], object], reps: int) -> list[float]:
    return [size / MB / once(fn) for _ in range(reps)]


def run(quick: bool = False) -> list[Result]:
    from pocketos import VM

    reps = 1 if quick else 3
    inputs = {"big.txt": text_data(SIZE), "big.json": json_data(SIZE)}
    small = {"big.txt": text_data(MB), "big.json": json_data(MB)}
    out: list[Result] = []
    expected: dict[str, bytes] = {}

    with tempfile.TemporaryDirectory() as d:
        for name, data in inputs.items():
            Path(d, name).write_bytes(data)
        host: list[Result] = []
        for label, (script, src, _check) in CASES.items():
            expected[label] = host_bash(script, cwd=d)
            host.append(Result(G, f"{label}, 10 MB", "bash -c (GNU)", "MB/s",
                               _rate(len(inputs[src]), lambda s=script: host_bash(s, cwd=d),
                                     reps)))

    with VM(cwd="/data") as vm:
        for name, data in inputs.items():
            vm.write_file(f"/data/{name}", data, parents=True)
        for label, (script, src, check) in CASES.items():
            def pocket(s: str = script, lab: str = label, c: bool = check) -> None:
                r = vm.exec(s)
                assert r.exit_code == 0, r.stderr
                assert not c or r.stdout_bytes == expected[lab], (r.stdout, expected[lab])
            pocket()
            out.append(Result(G, f"{label}, 10 MB", "pocketos", "MB/s",
                              _rate(len(inputs[src]), pocket, reps)))

    if have_just_bash():
        # just-bash is far slower on some of these (its sed needs minutes for 10 MB): measure
        # 1 MB first and go on to 10 MB only in a full run when 1 MB took under 2 s
        jb_small = just_bash({f"/data/{k}": v for k, v in small.items()})
        jb_big = None
        for label, (script, src, _check) in CASES.items():
            def jb_run(shell: object, s: str = script) -> None:
                r = shell.run(s, cwd="/data")  # type: ignore[attr-defined]
                assert r.exit_code == 0, r.stderr
            t1 = once(lambda: jb_run(jb_small))
            if not quick and t1 < 2:
                if jb_big is None:
                    jb_big = just_bash({f"/data/{k}": v for k, v in inputs.items()})
                shell = jb_big
                out.append(Result(G, f"{label}, 10 MB", "just-bash", "MB/s",
                                  _rate(len(inputs[src]), lambda sh=shell: jb_run(sh), reps)))
            else:
                out.append(Result(G, f"{label}, 10 MB", "just-bash", "MB/s",
                                  [len(small[src]) / MB / t1],
                                  note="1 MB input: 10 MB takes too long"))
    out.extend(host)
    order = {f"{label}, 10 MB": i for i, label in enumerate(CASES)}
    out.sort(key=lambda r: order[r.name])
    return out
