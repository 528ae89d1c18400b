"""Differential tests: the same script in real bash (host, fresh temp dir) and in a VM.

Cases live in ``tests/shell/cases/*.txt``: each starts with a line ``### <name>`` and runs to the
next such line. Text before the first header is a comment. ``known_diff.txt`` holds cases where
the VM differs on purpose; it is not run.

stdout and the exit status must be equal; stderr must agree in its first two words (so both
empty, or both starting with e.g. ``bash: line``).

Run ``python tests/shell/test_bash_compat.py [--show] [NAME...]`` to execute the cases in bash
only, twice each, and report any whose output is not deterministic.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

CASES_DIR = Path(__file__).with_name("cases")
SKIP_FILES = {"known_diff.txt"}
VM_CWD = "/home/user/work"
TIMEOUT = 10.0


@dataclass(frozen=True)
class ShellCase:
    group: str
    name: str
    script: str

    @property
    def id(self) -> str:
        return f"{self.group}:{self.name}"


@dataclass
class Result:
    status: int
    stdout: bytes
    stderr: bytes


def parse_cases(text: str, group: str) -> list[ShellCase]:
    cases: list[ShellCase] = []
    name: str | None = None
    lines: list[str] = []
    for line in text.splitlines(keepends=True):
        if line.startswith("### "):
            if name is not None:
                cases.append(ShellCase(group, name, "".join(lines)))
            name = line[4:].strip()
            lines = []
        elif name is not None:
            lines.append(line)
    if name is not None:
        cases.append(ShellCase(group, name, "".join(lines)))
    return cases


def load_cases(include_known: bool = False) -> list[ShellCase]:
    out: list[ShellCase] = []
    for path in sorted(CASES_DIR.glob("*.txt")):
        if path.name in SKIP_FILES and not include_known:
            continue
        out.extend(parse_cases(path.read_text(encoding="utf-8"), path.stem))
    return out


def env_for(home: str) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "HOME": home, "LC_ALL": "C", "TZ": "UTC"}


def run_bash(script: str) -> Result:
    with tempfile.TemporaryDirectory() as tmp:
        p = subprocess.run(
            ["bash", "--norc", "--noprofile", "-c", script],
            cwd=tmp,
            env=env_for(tmp),
            capture_output=True,
            stdin=subprocess.DEVNULL,
            timeout=TIMEOUT,
        )
        return Result(p.returncode, p.stdout, p.stderr)


def run_vm(script: str) -> Result:
    from pocketos import VM

    with VM() as vm:
        vm.mkdir(VM_CWD, parents=True, exist_ok=True)
        r = vm.exec(script, cwd=VM_CWD, env=env_for(VM_CWD), timeout=TIMEOUT)
        return Result(r.exit_code, r.stdout_bytes, r.stderr_bytes)


def first_words(data: bytes, n: int = 2) -> list[bytes]:
    return data.split()[:n]


def _have_vm_shell() -> bool:
    try:
        import pocketos.shell.interp  # noqa: F401
        from pocketos import VM  # noqa: F401
    except Exception:
        return False
    return True


CASES = load_cases()


@pytest.fixture(scope="module")
def bash_results() -> dict[str, Result]:
    """Every case's bash result, computed up front in parallel (bash runs in subprocesses)."""
    with ThreadPoolExecutor(max_workers=max(4, (os.cpu_count() or 1) * 2)) as pool:
        results = pool.map(lambda c: run_bash(c.script), CASES)
        return {c.id: r for c, r in zip(CASES, results, strict=True)}


def test_cases_are_well_formed() -> None:
    ids = [c.id for c in load_cases(include_known=True)]
    assert len(ids) == len(set(ids)), "duplicate case names"
    assert len(CASES) >= 550
    for c in CASES:
        assert c.script.strip(), c.id


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
@pytest.mark.skipif(not _have_vm_shell(), reason="the VM shell is not available")
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_same_as_bash(case: ShellCase, bash_results: dict[str, Result]) -> None:
    want = bash_results[case.id]
    got = run_vm(case.script)
    detail = (
        f"\n--- script ---\n{case.script}\n--- bash ---\nstatus {want.status}\n"
        f"stdout {want.stdout!r}\nstderr {want.stderr!r}\n--- vm ---\n"
        f"status {got.status}\nstdout {got.stdout!r}\nstderr {got.stderr!r}"
    )
    assert got.stdout == want.stdout, "stdout differs" + detail
    assert got.status == want.status, "exit status differs" + detail
    assert first_words(got.stderr) == first_words(want.stderr), "stderr differs" + detail


def main(argv: list[str]) -> int:
    """Host-only check: every case runs twice in bash and must give the same result."""
    show = "--show" in argv
    names = [a for a in argv if not a.startswith("--")]
    bad = 0
    cases = load_cases(include_known="--known" in argv)
    for case in cases:
        if names and not any(n in case.id for n in names):
            continue
        a, b = run_bash(case.script), run_bash(case.script)
        # temp dir names differ between runs; anything depending on them is a bad case
        if (a.status, a.stdout, first_words(a.stderr)) != (
            b.status,
            b.stdout,
            first_words(b.stderr),
        ):
            bad += 1
            print(f"NONDETERMINISTIC {case.id}")
        if b"/tmp" in a.stdout:
            bad += 1
            print(f"HOST PATH IN OUTPUT {case.id}")
        if show:
            print(
                f"=== {case.id} status={a.status}\n{a.stdout.decode(errors='replace')}"
                f"--- stderr: {a.stderr.decode(errors='replace')}"
            )
    print(f"{len(cases)} cases, {bad} problems", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    os.environ.setdefault("LC_ALL", "C")
    sys.exit(main(sys.argv[1:]))
