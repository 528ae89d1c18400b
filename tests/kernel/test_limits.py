"""Every limit: a default, configurable per VM and per exec, ends the work with a clear message
and names itself in ExecResult.limit_hit; the VM stays usable."""

from __future__ import annotations

import gc
import threading

import pytest

from pocketos import VM, Limits


def test_every_limit_has_a_default() -> None:
    d = Limits()
    for name in Limits.names():
        assert getattr(d, name) is not None or name in ("wasm_deadline", "wasm_fuel"), name


def test_per_exec_override_does_not_change_the_vm() -> None:
    with VM(limits={"max_loop_iterations": 1_000_000}) as vm:
        r = vm.exec("i=0; while true; do i=$((i+1)); done", limits={"max_loop_iterations": 50})
        assert r.limit_hit == "max_loop_iterations"
        r = vm.exec("for i in $(seq 1 500); do :; done; echo ok")
        assert (r.exit_code, r.stdout, r.limit_hit) == (0, "ok\n", None)


CASES = [
    ("timeout", {"timeout": 0.3}, "sleep 30", 124),
    ("timeout", {"timeout": 0.3}, "while :; do :; done", 124),
    ("max_commands", {"max_commands": 100}, "for i in $(seq 1 1000); do true; done", 125),
    ("max_loop_iterations", {"max_loop_iterations": 100}, "while :; do :; done", 125),
    ("max_call_depth", {"max_call_depth": 50}, "f() { f; }; f", 125),
    ("max_source_bytes", {"max_source_bytes": 100}, "echo " + "x" * 200, 125),
    ("max_output_bytes", {"max_output_bytes": 1000}, "yes", 125),
]


@pytest.mark.parametrize(
    "limit, override, script, status", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)]
)
def test_shell_limits(limit: str, override: dict, script: str, status: int) -> None:
    with VM(limits=override) as vm:
        r = vm.exec(script)
        assert r.limit_hit == limit
        assert r.exit_code == status
        assert r.stderr.strip() != ""
        ok = vm.exec("echo still usable")
        assert (ok.exit_code, ok.stdout) == (0, "still usable\n")


def test_max_processes_in_pipelines() -> None:
    with VM(limits={"max_processes": 4}) as vm:
        r = vm.exec("cat /dev/zero | head -c 10 | cat | cat | cat | wc -c")
        assert r.exit_code != 0 or r.limit_hit == "max_processes"
        assert r.limit_hit == "max_processes"
        assert "max_processes" in r.stderr
        assert vm.exec("echo a | cat").stdout == "a\n"


def test_max_open_files() -> None:
    with VM(limits={"max_open_files": 3}) as vm:
        r = vm.exec("exec 3>/tmp/a 4>/tmp/b 5>/tmp/c 6>/tmp/d; echo after")
        assert r.limit_hit == "max_open_files"
        assert "Too many open files" in r.stderr
        assert vm.exec("echo hi > /tmp/x && cat /tmp/x").stdout == "hi\n"


def test_pipe_buffer_bounds_pipes() -> None:
    with VM(limits={"pipe_buffer": 16}) as vm:
        r = vm.exec("seq 1 2000 | tail -n 1")
        assert r.stdout == "2000\n"


def test_fs_limits_in_the_shell() -> None:
    with VM(limits={"max_fs_bytes": 50_000}) as vm:
        r = vm.exec("head -c 100000 /dev/zero > /tmp/big")
        assert r.exit_code != 0
        assert "No space left on device" in r.stderr
    with VM(limits={"max_file_size": 1000}) as vm:
        r = vm.exec("head -c 5000 /dev/zero > /tmp/big")
        assert "File too large" in r.stderr
    with VM(limits={"max_fs_inodes": 50}) as vm:
        r = vm.exec("for i in $(seq 1 100); do : > /tmp/f$i || break; done; echo done")
        assert "No space left on device" in r.stderr
        assert r.stdout == "done\n"


def test_hundred_vms_exhausting_limits_leave_the_host_healthy() -> None:
    scripts = [
        ({"timeout": 0.05}, "while :; do :; done"),
        ({"max_commands": 20}, "while :; do true; done"),
        ({"max_loop_iterations": 20}, "for ((;;)); do :; done"),
        ({"max_call_depth": 10}, "f() { f; }; f"),
        ({"max_source_bytes": 10}, "echo this is too long"),
        ({"max_output_bytes": 100}, "yes"),
        ({"max_processes": 2}, "cat /dev/zero | cat | cat | head -c 1"),
        ({"max_open_files": 2}, "exec 3>/tmp/a 4>/tmp/b 5>/tmp/c"),
        ({"max_fs_bytes": 1000}, "head -c 5000 /dev/zero > /tmp/x"),
        ({"max_fs_inodes": 30}, "for i in $(seq 100); do : > /tmp/$i || exit 1; done"),
    ]
    threads_before = threading.active_count()
    vms = []
    for i in range(100):
        lim, script = scripts[i % len(scripts)]
        vm = VM(limits=lim)
        r = vm.exec(script)
        assert r.exit_code != 0, (lim, r)
        vms.append(vm)
    for vm in vms:
        assert vm.exec("echo ok").stdout == "ok\n"
        vm.close()
    del vms
    gc.collect()
    assert threading.active_count() <= threads_before + 2
    with VM() as fresh:
        assert fresh.exec("echo $((6*7))").stdout == "42\n"
