"""git in the VM against the host's git binary: status, commit, log and diff on the same trees.

``python -m bench.run --only git``
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

from bench.common import Result, timeit

G = "git"

IDENT = {
    "GIT_AUTHOR_NAME": "B",
    "GIT_AUTHOR_EMAIL": "b@example.com",
    "GIT_COMMITTER_NAME": "B",
    "GIT_COMMITTER_EMAIL": "b@example.com",
    "GIT_AUTHOR_DATE": "@1700000000 +0000",
    "GIT_COMMITTER_DATE": "@1700000000 +0000",
}

#: each case: (name, setup script, measured script, setup to rerun before each sample)
FILES = 1000
SETUP_TREE = (
    "git init -q . && mkdir -p d0 d1 d2 d3 d4 d5 d6 d7 d8 d9 && "
    f"i=0; while [ $i -lt {FILES} ]; do printf 'line %s\\n' $i > d$((i % 10))/f$i; "
    "i=$((i+1)); done; git add . && git commit -qm init"
)
SETUP_LOG = (
    "git init -q . && i=0; while [ $i -lt 1000 ]; do printf '%s\\n' $i > f; git add f; "
    "git commit -qm c$i; i=$((i+1)); done"
)
SETUP_DIFF = (
    "git init -q . && seq 1 150000 > big && git add big && git commit -qm base && "
    "sed -i 's/5$/five/' big"
)


def _host(script: str, cwd: str) -> None:
    env = {"PATH": os.environ["PATH"], "HOME": cwd, "GIT_CONFIG_NOSYSTEM": "1", **IDENT}
    subprocess.run(["bash", "-c", script], cwd=cwd, env=env, check=True, capture_output=True)


def run(quick: bool = False) -> list[Result]:
    from pocketos import VM

    if shutil.which("git") is None:
        return []
    n = 3 if quick else 10
    cases = [
        (f"status, {FILES}-file repository", SETUP_TREE, "git status --porcelain", None),
        (
            "commit of 10 changed files",
            SETUP_TREE,
            "git commit -qam again",
            "for i in 0 1 2 3 4 5 6 7 8 9; do echo x >> d$i/f$i; done",
        ),
        ("log of 1,000 commits", SETUP_LOG, "git log --oneline > /dev/null", None),
        ("diff of a 1 MB file", SETUP_DIFF, "git diff > /dev/null", None),
    ]
    if quick:
        cases = [c for c in cases if "log" not in c[0]]
    out: list[Result] = []
    for name, setup, script, before in cases:
        with tempfile.TemporaryDirectory() as d:
            _host(setup, d)
            samples = []
            for _ in range(n):
                if before:
                    _host(before, d)
                samples.extend(timeit(lambda s=script, c=d: _host(s, c), 1, warmup=0))
            out.append(Result(G, name, "host git", "s", samples))
        with VM(env=IDENT, cwd="/r") as vm:
            vm.exec("mkdir -p /r")
            r = vm.exec(setup, cwd="/r", timeout=600)
            if r.exit_code != 0:
                raise RuntimeError(f"setup failed: {r.stderr}")
            samples = []
            for _ in range(n):
                if before:
                    vm.exec(before, cwd="/r")

                def pocket(s: str = script) -> None:
                    r = vm.exec(s, cwd="/r", timeout=600)
                    if r.exit_code != 0:
                        raise RuntimeError(r.stderr)

                samples.extend(timeit(pocket, 1, warmup=0))
            out.append(Result(G, name, "pocketos", "s", samples))
    return out
