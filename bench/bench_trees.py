"""Commands over a tree of 10,000 files (100 directories of 100): find, tar czf and tar xzf —
pocketos side by side with the GNU tools through ``bash -c`` and with just-bash. Times in
seconds (lower is better); the GNU runs include starting bash."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from bench.common import Result, have_just_bash, host_bash, just_bash, once

G = "trees"
DIRS, FILES = 100, 100

#: name -> script run in the directory that holds ``tree/`` (and ``tree.tgz`` after the first)
CASES: dict[str, str] = {
    "find -name over 10,000 files": "find tree -name '*7.txt' | wc -l",
    "tar czf of 10,000 files": "tar -czf tree.tgz tree",
    "tar xzf of 10,000 files": "rm -rf out && mkdir out && tar -xzf tree.tgz -C out",
}


def _files() -> dict[str, bytes]:
    return {
        f"tree/d{i:03d}/f{j:03d}7.txt" if j % 10 == 0 else f"tree/d{i:03d}/f{j:03d}.txt": (
            f"file {i} {j}\n".encode()
        )
        for i in range(DIRS)
        for j in range(FILES)
    }


def run(quick: bool = False) -> list[Result]:
    from pocketos import VM

    reps = 1 if quick else 5
    files = _files()
    out: list[Result] = []
    expected = b""
    with tempfile.TemporaryDirectory() as d:
        for rel, data in files.items():
            p = Path(d, rel)
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(data)
        for name, script in CASES.items():
            host_bash(script, cwd=d)
            if name.startswith("find"):
                expected = host_bash(script, cwd=d)
            out.append(
                Result(
                    G,
                    name,
                    "bash -c (GNU)",
                    "s",
                    [once(lambda s=script: host_bash(s, cwd=d)) for _ in range(reps)],
                )
            )

    with VM(cwd="/data") as vm:
        vm.write_files({f"/data/{rel}": data for rel, data in files.items()})
        for name, script in CASES.items():

            def pocket(s: str = script, n: str = name) -> None:
                r = vm.exec(s)
                assert r.exit_code == 0, r.stderr
                assert not n.startswith("find") or r.stdout_bytes.strip() == expected.strip()

            pocket()
            out.append(Result(G, name, "pocketos", "s", [once(pocket) for _ in range(reps)]))

    if have_just_bash():
        shell = just_bash({f"/data/{rel}": data for rel, data in files.items()})
        for name, script in CASES.items():

            def jb(s: str = script) -> None:
                r = shell.run(s, cwd="/data")
                assert r.exit_code == 0, r.stderr

            try:
                jb()
            except AssertionError as exc:  # say what just-bash cannot do instead of failing
                print(f"# trees: just-bash fails {name!r}: {exc}"[:200], file=sys.stderr)
                continue
            out.append(Result(G, name, "just-bash", "s", [once(jb) for _ in range(reps)]))
    order = {n: i for i, n in enumerate(CASES)}
    out.sort(key=lambda r: order[r.name])
    return out
