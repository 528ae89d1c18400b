"""jq per call: a small document through a small program, the way agents use jq, pocketos side
by side with just-bash and GNU jq through ``bash -c``. These programs and inputs pass the
screen of ``pocketos/commands/_jq_screen.py`` and run in the host's libjq; anything larger runs
in a pre-started helper process that the exec's deadline can kill (docs/limits.md).

Run: ``python -m bench.run --only jq``."""

from __future__ import annotations

import tempfile
from pathlib import Path

from bench.common import Result, have_just_bash, host_bash, just_bash, timeit

G = "jq"
DOC = b'{"name": "pocketos", "tags": ["a", "b"], "n": {"x": 1, "y": [1, 2, 3]}}\n'
CASES = {
    "jq .n.y on a small file": "jq -c .n.y s.json",
    "jq map/select on a small file": "jq -c '[.n.y[] | select(. > 1) | . * 2]' s.json",
    "echo | jq -n range(100)": "jq -n '[range(100)] | add'",
}


def run(quick: bool = False) -> list[Result]:
    from pocketos import VM

    n = 20 if quick else 200
    out: list[Result] = []
    with VM(cwd="/data") as vm:
        vm.write_file("/data/s.json", DOC, parents=True)
        for label, script in CASES.items():

            def pocket(s: str = script) -> None:
                r = vm.exec(s)
                assert r.exit_code == 0, r.stderr

            out.append(Result(G, label, "pocketos", "s", timeit(pocket, n)))
    if have_just_bash():
        shell = just_bash({"/data/s.json": DOC})
        for label, script in CASES.items():

            def jb(s: str = script) -> None:
                r = shell.run(s, cwd="/data")
                assert r.exit_code == 0, r.stderr

            out.append(Result(G, label, "just-bash", "s", timeit(jb, n)))
    with tempfile.TemporaryDirectory() as d:
        Path(d, "s.json").write_bytes(DOC)
        for label, script in CASES.items():
            try:
                host_bash(script, cwd=d)
            except (RuntimeError, OSError):
                continue  # no jq on this host

            def gnu(s: str = script, cwd: str = d) -> None:
                host_bash(s, cwd=cwd)

            samples = timeit(gnu, max(5, n // 10), warmup=2)
            out.append(Result(G, label, "bash -c (GNU)", "s", samples))
    return out


if __name__ == "__main__":
    for r in run(quick=True):
        print(f"{r.name:40s} {r.system:15s} {r.median * 1000:.2f} ms")
