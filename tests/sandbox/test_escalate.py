"""``vm.exec(script, escalate=True)``: the script runs with the host's real bash in the heavy
sandbox over the VM's tree, under the ``sandbox.run`` permission for ``bash``."""

from __future__ import annotations

import os

import pytest

from pocketos import VM
from pocketos.sandbox import SandboxUnavailable
from tests.sandbox.conftest import make_vm, needs_sandbox


@needs_sandbox
def test_escalated_exec_runs_host_bash_over_the_vm_tree() -> None:
    with make_vm() as vm:
        vm.write_file("/home/user/in.txt", "from the vm\n")
        r = vm.exec(
            'readlink /proc/$$/exe; echo "$0 $1 $2"; cat in.txt; tr a-z A-Z; '
            "echo made > escalated.txt; echo err >&2; exit 7",
            args=["one", "two"],
            argv0="myscript",
            stdin="abc\n",
            escalate=True,
        )
        assert r.exit_code == 7
        exe, rest = r.stdout.split("\n", 1)
        # the host's bash binary ran (the VM's shell has no /proc/PID/exe)
        assert os.path.realpath(exe) == os.path.realpath("/bin/bash")
        assert rest == "myscript one two\nfrom the vm\nABC\n"
        assert r.stderr == "err\n"
        assert vm.read_text("/home/user/escalated.txt") == "made\n"
        runs = [e for e in vm.audit_log() if e.capability == "sandbox.run"]
        assert [(e.resource, e.decision) for e in runs][-1] == ("bash", "allow")
    assert not os.path.exists("/home/user/escalated.txt")


@needs_sandbox
def test_escalated_exec_takes_sandbox_options_and_timeout() -> None:
    with make_vm() as vm:
        r = vm.exec("echo $((1 + 2))", escalate={"max_processes": 16, "memory": 256 << 20})
        assert (r.exit_code, r.stdout) == (0, "3\n")
        r = vm.exec("while :; do :; done", escalate=True, timeout=1)
        assert (r.exit_code, r.limit_hit) == (124, "timeout")
        with pytest.raises(TypeError, match="'nonsense'"):
            vm.exec("true", escalate={"nonsense": 1})
        with pytest.raises(ValueError, match="limits="):
            vm.exec("true", escalate=True, limits={"max_memory": 1 << 20})


def test_escalated_exec_needs_the_sandbox_permission() -> None:
    with VM() as vm:  # the default policy denies sandbox.run
        with pytest.raises(PermissionError, match=r"sandbox\.run on bash"):
            vm.exec("echo hi > x.txt", escalate=True)
        assert not vm.exists("/home/user/x.txt")
        assert vm.exec("echo still works").stdout == "still works\n"


def test_escalated_exec_without_bubblewrap_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent-pocketos-path")
    missing = r"bubblewrap \(bwrap\) is not installed"
    with make_vm() as vm, pytest.raises(SandboxUnavailable, match=missing):
        vm.exec("true", escalate=True)
