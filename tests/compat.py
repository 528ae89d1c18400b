"""Differential testing: run the same command on the host (the GNU tool) and in a VM.

A case is argv + files + stdin. On the host it runs in a fresh temporary directory holding the
files; in the VM it runs with cwd ``/work`` holding the same files. stdout and exit status must
match exactly; stderr is compared by presence (and by first word where asked).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field

HOST_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "LC_ALL": "C",
    "LANG": "C",
    "TZ": "UTC",
    "HOME": "/home/user",
    "USER": "user",
}


@dataclass
class Case:
    argv: list[str]
    files: dict[str, bytes | str] = field(default_factory=dict)
    stdin: bytes | str = b""
    #: compare stderr emptiness too
    check_stderr: bool = True
    id: str = ""

    def name(self) -> str:
        return self.id or " ".join(self.argv)[:80]


@dataclass
class Outcome:
    exit_code: int
    stdout: bytes
    stderr: bytes


def _b(x: bytes | str) -> bytes:
    return x.encode() if isinstance(x, str) else x


def have(tool: str) -> bool:
    return shutil.which(tool) is not None


def run_host(case: Case, timeout: float = 20) -> Outcome:
    with tempfile.TemporaryDirectory() as tmp:
        for rel, data in case.files.items():
            path = os.path.join(tmp, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as fh:
                fh.write(_b(data))
        p = subprocess.run(
            case.argv,
            cwd=tmp,
            input=_b(case.stdin),
            capture_output=True,
            env=HOST_ENV,
            timeout=timeout,
        )
        return Outcome(p.returncode, p.stdout, p.stderr)


def run_vm(case: Case, vm: object | None = None) -> Outcome:
    from pocketos import VM

    own = vm is None
    v = VM() if own else vm
    try:
        v.mkdir("/work", parents=True, exist_ok=True)  # type: ignore[attr-defined]
        for rel, data in case.files.items():
            v.write_file("/work/" + rel, _b(data), parents=True)  # type: ignore[attr-defined]
        r = v.run(case.argv, stdin=_b(case.stdin), cwd="/work", env=dict(HOST_ENV))  # type: ignore[attr-defined]
        return Outcome(r.exit_code, r.stdout_bytes, r.stderr_bytes)
    finally:
        if own:
            v.close()  # type: ignore[attr-defined]


def assert_same(case: Case) -> None:
    host = run_host(case)
    vm = run_vm(case)
    assert vm.stdout == host.stdout, (
        f"stdout differs for {case.argv!r}\nhost: {host.stdout!r}\nvm:   {vm.stdout!r}\n"
        f"vm stderr: {vm.stderr!r}"
    )
    assert vm.exit_code == host.exit_code, (
        f"exit status differs for {case.argv!r}: host {host.exit_code}, vm {vm.exit_code}\n"
        f"host stderr: {host.stderr!r}\nvm stderr: {vm.stderr!r}"
    )
    if case.check_stderr:
        assert bool(vm.stderr) == bool(host.stderr), (
            f"stderr presence differs for {case.argv!r}\nhost: {host.stderr!r}\nvm: {vm.stderr!r}"
        )
