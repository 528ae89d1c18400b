"""A wasm guest stopped by the exec's timeout while it writes its output must not leave a host
thread behind: the guest's thread used to wait forever for an event loop that had finished
with it, and the host process could then never exit (its thread pool is joined at exit).

Each script runs in a child process; the child must print its result and exit on its own. The
outer timeout only detects a hang (it is generous: a cold machine compiles nothing here, but
may be slow)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.wasm.conftest import need_js, need_python

ROOT = Path(__file__).resolve().parents[2]
HANG = 120


def _run_child(guest: str) -> subprocess.CompletedProcess[str]:
    code = textwrap.dedent(
        f"""
        from pocketos import VM
        with VM() as vm:
            # the timeout must be what stops the guest: at 16 MB/s seen under load, a faster
            # machine could print the default 64 MiB output limit within the second
            r = vm.exec({guest!r}, timeout=1, limits={{"max_output_bytes": 1 << 30}})
            print(r.exit_code, r.limit_hit, flush=True)
        print("closed", flush=True)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + str(ROOT)}
    try:
        return subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            timeout=HANG,
            env=env,
            cwd=ROOT,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"the host process did not exit after the guest was stopped: {exc.stdout!r}")


GUESTS = [
    "python3 -c 'while True: print(\"x\" * 100)'",
    "python3 -c 'while True: print(\"x\" * 100)' | sleep 30",
    "python3 -c 'import sys\nwhile True: sys.stderr.write(\"e\" * 100)'",
]


@pytest.mark.parametrize("guest", GUESTS)
def test_python_guest_stopped_while_printing_lets_the_host_exit(guest: str) -> None:
    need_python()
    r = _run_child(guest)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.splitlines() == ["124 timeout", "closed"], r


def test_js_guest_stopped_while_printing_lets_the_host_exit() -> None:
    need_js()
    r = _run_child("node -e 'while (true) console.log(\"x\".repeat(100))' | sleep 30")
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.splitlines() == ["124 timeout", "closed"], r
