"""Attacks on a process-isolated VM: whatever the guest does, only its worker suffers.

Every test here ends on work that can never finish or on an event it waits for (a pipe closing,
a process exiting); none depends on how fast the machine is.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from pocketos import VM
from pocketos.isolation import WorkerLimits, WorkerPool, landlock, protocol
from pocketos.isolation.client import AsyncProcessVM
from pocketos.isolation.process import WorkerDied, WorkerProcess
from pocketos.wasm import python_available
from tests.security._util import SECRET_MARKER

SRC = str(Path(__file__).resolve().parents[2] / "src")


@pytest.fixture(scope="module")
def pool() -> Iterator[WorkerPool]:
    with WorkerPool(1) as p:
        yield p


def _endless() -> dict[str, int | None]:
    """VM limits under which a shell loop can only be ended from outside the VM."""
    return {"timeout": None, "max_loop_iterations": 10**15, "max_commands": 10**15}


@pytest.mark.skipif(
    not python_available(), reason="the wasm Python runtime is not installed (pocketos warmup)"
)
def test_memory_bomb_in_python_guest_is_stopped_by_the_worker_limit() -> None:
    # the VM's own wasm limit is set far above the worker's memory limit: only the
    # worker's RLIMIT_DATA can stop this guest
    limits = WorkerLimits(memory=768 * 1024 * 1024)
    with (
        WorkerPool(0, limits=limits) as pool,
        VM(isolation="process", pool=pool, limits={"wasm_memory": 4 * 1024**3}) as vm,
    ):
        vm.write_file("/kept", "state")
        r = vm.exec("python3 -c 'b = [bytearray(2**26) for _ in range(100)]; print(len(b))'")
        assert r.exit_code != 0 and r.stdout == ""
        assert r.limit_hit in ("memory", "wasm_memory"), r
        assert vm.exec("cat /kept").stdout == "state"


def test_a_crash_of_the_worker_mid_exec_is_a_result_not_an_exception(pool: WorkerPool) -> None:
    # a native crash (SIGSEGV) in the worker while the guest runs: the host gets a result,
    # keeps the output streamed so far, and the VM restarts from its last commit
    with VM(isolation="process", pool=pool, limits=_endless()) as vm:
        vm.write_file("/kept", "state")
        pid = vm.pid
        assert pid is not None

        def crash(data: bytes) -> None:
            if b"started" in data:
                os.kill(pid, signal.SIGSEGV)

        r = vm.exec("echo started; echo lost > /after; while :; do :; done", on_stdout=crash)
        assert (r.exit_code, r.limit_hit, r.stdout) == (128 + signal.SIGSEGV, "crash", "started\n")
        assert "crashed (SIGSEGV)" in r.stderr
        assert vm.exec("cat /kept; ls /after").stdout == "state"
        assert vm.pid != pid


def test_cpu_loop_is_ended_by_the_cpu_limit() -> None:
    with (
        WorkerPool(0, limits=WorkerLimits(cpu_seconds=2)) as pool,
        VM(isolation="process", pool=pool, limits=_endless()) as vm,
    ):
        r = vm.exec("while :; do :; done")
        assert (r.exit_code, r.limit_hit) == (125, "cpu")
        assert vm.exec("echo alive").stdout == "alive\n"


def test_foreground_fork_bomb_is_bounded(pool: WorkerPool) -> None:
    # whichever comes first ends it: the VM's process limit, its timeout, the worker's
    # memory limit or (if the worker stops answering) the wall-clock kill
    with VM(isolation="process", pool=pool) as vm:
        r = vm.exec("b() { b | b; }; b", timeout=0.5)
        assert r.exit_code in (124, 125), r
        assert r.limit_hit in ("timeout", "memory", "max_processes"), r
        assert vm.exec("echo alive").stdout == "alive\n"


def test_background_fork_storm_is_bounded(pool: WorkerPool) -> None:
    with VM(isolation="process", pool=pool, limits={"max_processes": 64}) as vm:
        r = vm.exec(":(){ :|:& };:; for i in 1 2 3; do :& done; wait", timeout=1)
        assert r.limit_hit in (None, "timeout", "max_processes"), r
        assert vm.exec("echo alive").stdout == "alive\n"


def test_worker_inherits_no_descriptors_and_no_environment(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET_MARKER)
    fd = os.open(secret, os.O_RDONLY)
    os.set_inheritable(fd, True)
    os.environ["POCKETOS_TEST_TOKEN"] = SECRET_MARKER
    try:
        w = WorkerProcess(WorkerLimits())
        try:
            w.wait_ready()
        finally:
            w.close()
    finally:
        os.close(fd)
        del os.environ["POCKETOS_TEST_TOKEN"]
    targets = set(w.open_fds.values())
    assert str(secret) not in targets
    assert set(w.open_fds) <= {"0", "1", "2", "3", "4", "5", "6", "7"}, w.open_fds
    assert w.open_fds["0"] == w.open_fds["1"] == w.open_fds["2"] == "/dev/null"
    # CPython itself sets LC_CTYPE when it starts with an empty environment (PEP 538)
    assert set(w.inherited_env) <= {"LC_CTYPE"}, w.inherited_env
    assert SECRET_MARKER not in " ".join(w.proc.args)  # type: ignore[arg-type]


def test_guest_sees_no_host_environment_through_proc(pool: WorkerPool) -> None:
    os.environ["POCKETOS_TEST_TOKEN"] = SECRET_MARKER
    try:
        with VM(isolation="process", pool=pool) as vm:
            r = vm.exec(
                "cat /proc/self/environ; env; cat /proc/1/environ; "
                f"cat /proc/{vm.pid}/environ; ls /proc"
            )
    finally:
        del os.environ["POCKETOS_TEST_TOKEN"]
    assert SECRET_MARKER not in r.stdout + r.stderr
    assert "POCKETOS_TEST_TOKEN" not in r.stdout + r.stderr


def test_seccomp_refuses_processes_programs_and_raising_limits() -> None:
    code = textwrap.dedent(
        """
        import os, resource, subprocess, threading
        from pocketos.isolation.sandbox import apply_base
        from pocketos.isolation.seccomp import install
        apply_base({"open_files": 64})
        note = install()
        if note != "seccomp":
            print("SKIP", note); raise SystemExit(0)
        out = []
        for name, fn in [
            ("fork", os.fork),
            ("exec", lambda: subprocess.run(["/bin/true"])),
            ("raise", lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))),
        ]:
            try:
                fn()
                out.append(name + ":allowed")
            except (OSError, ValueError) as exc:  # setrlimit's EPERM is a ValueError
                out.append(f"{name}:{getattr(exc, 'errno', None) or 'refused'}")
        t = threading.Thread(target=lambda: out.append("thread:ok"))
        t.start(); t.join()
        out.append("limits:" + str(resource.getrlimit(resource.RLIMIT_NOFILE)))
        print(" ".join(out))
        """
    )
    p = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": SRC},
        check=False,
    )
    if p.stdout.startswith("SKIP"):
        pytest.skip(p.stdout)
    assert p.stdout.split() == [
        "fork:1",
        "exec:1",
        "raise:refused",
        "thread:ok",
        "limits:(64,",
        "64)",
    ], p.stderr


def test_worker_exits_when_the_host_closes_its_pipe() -> None:
    w = WorkerProcess(WorkerLimits())
    w.wait_ready()
    assert w.proc.stdin is not None
    w.proc.stdin.close()
    assert w.proc.wait() == 0
    if w.proc.stdout is not None:
        w.proc.stdout.close()


def test_worker_dies_with_its_host() -> None:
    host = textwrap.dedent(
        """
        import os, sys
        from pocketos import VM
        vm = VM(isolation="process")
        print(vm.pid, flush=True)
        os.kill(os.getpid(), 9)
        """
    )
    p = subprocess.run(
        [sys.executable, "-c", host],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": SRC},
        check=False,
    )
    assert p.returncode == -signal.SIGKILL
    worker = int(p.stdout.split()[0])
    try:
        pidfd = os.pidfd_open(worker)
    except ProcessLookupError:
        return  # already gone
    try:
        # readable once the worker has exited; the bound only keeps a broken build from hanging
        ready, _, _ = select.select([pidfd], [], [], 120)
    finally:
        os.close(pidfd)
    assert ready, "the worker outlived its host"


def test_a_worker_sending_garbage_is_killed_and_reported() -> None:
    w = WorkerProcess(WorkerLimits())
    w.wait_ready()
    # stand in for a compromised worker: replace its reply pipe with one the test writes
    r, wr = os.pipe()
    os.write(wr, b"\xff\xff\xff\xff" + b"x" * 16)
    real = w.rfd
    w.rfd = r
    try:
        with pytest.raises(Exception) as info:
            w.request({"id": 1, "op": "ping"}, None)
    finally:
        os.close(r)
        os.close(wr)
        w.rfd = real
        w.close()
    assert getattr(info.value, "limit", None) == "crash"
    assert "protocol" in str(info.value)


@pytest.mark.skipif(landlock.abi() < 1, reason="the kernel has no Landlock")
@pytest.mark.parametrize("confined", [True, False])
def test_landlock_confines_the_worker_to_the_mounts_it_was_opened_with(
    tmp_path: Path, confined: bool
) -> None:
    given, later = tmp_path / "given", tmp_path / "later"
    given.mkdir()
    later.mkdir()
    (given / "f").write_text("given\n")
    (later / "g").write_text(SECRET_MARKER)
    limits = WorkerLimits(landlock=confined)
    with (
        WorkerPool(0, limits=limits) as pool,
        VM(isolation="process", pool=pool, mounts={"/given": str(given)}) as vm,
    ):
        assert any(n.startswith("landlock (") for n in vm.sandbox) == confined
        assert vm.exec("cat /given/f").stdout == "given\n"
        # a path the worker was not opened with, mounted inside the worker behind the host's
        # back (as a pocketos bug could): the kernel itself refuses it, whatever pocketos
        # would allow (the positive control reads it)
        inner = vm.async_vm
        assert isinstance(inner, AsyncProcessVM)
        inner._call("mount", "/later", host=str(later))
        r = vm.exec("cat /later/g")
        if confined:
            assert (r.exit_code, r.stdout) == (1, "")
            assert "Permission denied" in r.stderr
        else:
            assert r.stdout == SECRET_MARKER


def test_a_worker_flooding_output_is_killed_before_it_fills_the_host() -> None:
    w = WorkerProcess(WorkerLimits())
    w.wait_ready()
    # stand in for a compromised worker streaming far more than its VM may print
    r, wr = os.pipe()
    event = protocol.encode({"id": 1, "event": "stdout", "data": b"x" * 1000})
    real = w.rfd
    w.rfd = r
    seen: list[bytes] = []
    try:
        os.write(wr, event * 20)  # fits in the pipe buffer
        with pytest.raises(WorkerDied) as info:
            w.request({"id": 1, "op": "ping"}, None, lambda _k, d: seen.append(d), 10_000)
    finally:
        os.close(r)
        os.close(wr)
        w.rfd = real
        w.close()
    assert info.value.limit == "crash"
    assert sum(map(len, seen)) <= 10_000
