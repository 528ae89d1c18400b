"""VM(isolation="process"): the same API as the in-process VM, with the VM in a worker."""

from __future__ import annotations

import asyncio
import errno
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from pocketos import VM, AsyncVM
from pocketos.errors import PocketOSError
from pocketos.isolation import AsyncProcessVM, WorkerLimits, WorkerPool
from pocketos.isolation import state as vmstate
from pocketos.kernel.fs.memory import MemoryBackend
from tests.net.conftest import Server, allow
from tests.net.conftest import policy as net_policy


def inner(vm: VM) -> AsyncProcessVM:
    a = vm.async_vm
    assert isinstance(a, AsyncProcessVM)
    return a


@pytest.fixture(scope="module")
def pool() -> Iterator[WorkerPool]:
    with WorkerPool(1) as p:
        yield p


@pytest.fixture
def vm(pool: WorkerPool) -> Iterator[VM]:
    with VM(isolation="process", pool=pool) as v:
        yield v


SCRIPTS = [
    "echo hello; echo oops >&2; exit 3",
    "printf '%s\\n' a b c | sort -r | head -n 2",
    "x=1; for i in 1 2 3; do x=$((x*i+1)); done; echo $x",
    "cd /tmp && mkdir -p d/e && touch d/e/f && find d | sort",
    "cat /nonexistent",
    "echo $HOME $USER; pwd",
]


@pytest.mark.parametrize("script", SCRIPTS)
def test_exec_matches_the_in_process_vm(vm: VM, script: str) -> None:
    with VM() as ref:
        want = ref.exec(script)
    got = vm.exec(script)
    assert (got.exit_code, got.stdout, got.stderr, got.limit_hit) == (
        want.exit_code,
        want.stdout,
        want.stderr,
        want.limit_hit,
    )


def test_the_facade_builds_a_process_vm(vm: VM) -> None:
    assert isinstance(vm.async_vm, AsyncProcessVM)
    assert vm.pid is not None and vm.pid != os.getpid()
    with pytest.raises(ValueError, match="isolation must be"):
        VM(isolation="thread")


def test_file_api_round_trips_and_errors_keep_their_errno(vm: VM) -> None:
    vm.write_file("/work/a.txt", "héllo", parents=True)
    vm.write_file("/work/a.txt", b"\x00\xff", append=True)
    assert vm.read_file("/work/a.txt") == "héllo".encode() + b"\x00\xff"
    assert vm.readdir("/work") == ["a.txt"]
    st = vm.stat("/work/a.txt")
    assert st.st_size == len("héllo".encode()) + 2 and st.type_name == "file"
    vm.symlink("a.txt", "/work/l")
    assert vm.readlink("/work/l") == "a.txt"
    vm.copy("/work/a.txt", "/work/b.txt")
    vm.move("/work/b.txt", "/work/c.txt")
    assert vm.exists("/work/c.txt") and not vm.exists("/work/b.txt")
    with pytest.raises(FileNotFoundError) as info:
        vm.read_file("/work/missing")
    assert info.value.errno == errno.ENOENT
    with pytest.raises(IsADirectoryError):
        vm.read_file("/work")
    with pytest.raises(ValueError, match="absolute"):
        vm.read_file("relative")
    with pytest.raises(TypeError):
        vm.write_file("/work/x", 123)  # type: ignore[arg-type]
    res = vm.write_files({"/w2/one": "1", "relative": "x"})
    assert [r["ok"] for r in res] == [True, False]
    assert vm.exec("cat /w2/one /work/l").stdout == "1héllo\x00\ufffd"


def test_permissions_are_enforced_in_the_worker() -> None:
    policy = {
        "fs": {
            "default": "allow",
            "rules": [{"mode": "deny", "operations": ["read"], "paths": ["/secret/**"]}],
        },
        "child_process": "allow",
    }
    with VM(isolation="process", policy=policy, worker_limits={"grace": 2.0}) as vm:
        vm.write_file("/secret/key", "s3cr3t", parents=True)
        with pytest.raises(PermissionError):
            vm.read_file("/secret/key")
        r = vm.exec("cat /secret/key")
        assert r.exit_code == 1 and "s3cr3t" not in r.stdout
        assert any(e.decision == "deny" for e in vm.audit_log(kind="permission"))


def test_streaming_callbacks_and_stdin(vm: VM) -> None:
    seen: list[bytes] = []
    r = vm.exec("cat; echo done", stdin="in\n", on_stdout=seen.append)
    assert r.stdout == "in\ndone\n"
    assert b"".join(seen) == b"in\ndone\n"
    assert vm.run(["echo", "a", "b"]).stdout == "a b\n"


def test_state_survives_the_death_of_the_worker(vm: VM) -> None:
    vm.write_file("/data/kept", "one\n", parents=True)
    assert vm.exec("echo two >> /data/kept").ok
    w = inner(vm)._worker
    assert w is not None
    os.kill(w.pid, signal.SIGKILL)
    w.proc.wait()
    # the next request starts a new worker from the last commit
    assert vm.exec("cat /data/kept").stdout == "one\ntwo\n"
    assert inner(vm).restarts == 1
    assert vm.pid != w.pid


def test_an_exec_that_kills_its_worker_is_not_committed() -> None:
    limits = WorkerLimits(cpu_seconds=2)
    with (
        WorkerPool(0, limits=limits) as pool,
        VM(
            isolation="process",
            pool=pool,
            limits={"timeout": None, "max_loop_iterations": 10**15, "max_commands": 10**15},
        ) as vm,
    ):
        vm.write_file("/before", "kept")
        r = vm.exec("echo lost > /after; while :; do :; done")
        assert (r.exit_code, r.limit_hit) == (125, "cpu")
        assert "CPU time" in r.stderr
        assert vm.exec("cat /before; ls /after").stdout == "kept"
        assert inner(vm).restarts == 1


def test_wall_clock_kill_of_a_worker_stuck_in_a_native_call(vm: VM) -> None:
    vm.write_file("/f", "x")
    # jq's evaluation is one native call that never returns: only killing the worker ends it
    r = vm.exec("jq -n 'def f: f; f'", timeout=0.5)
    assert (r.exit_code, r.limit_hit) == (124, "timeout")
    assert "did not answer in time" in r.stderr
    assert vm.read_file("/f") == b"x"


def test_close_ends_the_worker(pool: WorkerPool) -> None:
    vm = VM(isolation="process", pool=pool)
    w = inner(vm)._worker
    assert w is not None
    vm.close()
    assert w.proc.wait() == 0
    with pytest.raises(PocketOSError, match="closed"):
        vm.exec("true")


def test_many_vms_share_a_worker_when_configured() -> None:
    with WorkerPool(1, vms_per_worker=3) as pool:
        vms = [VM(isolation="process", pool=pool) for _ in range(3)]
        assert len({v.pid for v in vms}) == 1
        for i, v in enumerate(vms):
            v.write_file("/me", str(i))
        assert [v.read_text("/me") for v in vms] == ["0", "1", "2"]
        vms[0].close()
        assert vms[1].exec("cat /me").stdout == "1"
        for v in vms[1:]:
            v.close()


def test_async_facade() -> None:
    async def main() -> str:
        async with AsyncVM(isolation="process") as vm:
            assert isinstance(vm, AsyncProcessVM)
            r1, r2 = await asyncio.gather(vm.exec("echo a"), vm.exec("echo b"))
            return r1.stdout + r2.stdout

    assert sorted(asyncio.run(main())) == ["\n", "\n", "a", "b"]


def test_unsupported_options_are_refused_clearly(pool: WorkerPool) -> None:
    with pytest.raises(TypeError, match="expected a Toolkit"):
        VM(isolation="process", pool=pool, toolkits=[object()])
    with pytest.raises(NotImplementedError, match="host= and memory="):
        VM(isolation="process", pool=pool, mounts={"/m": MemoryBackend()})
    with (
        VM(isolation="process", pool=pool) as vm,
        pytest.raises(NotImplementedError, match="sandbox"),
    ):
        vm.create_session("pocketos", sandbox=True)


def test_host_mounts_cross_into_the_worker(tmp_path: Path, pool: WorkerPool) -> None:
    (tmp_path / "in.txt").write_text("from host\n")
    mounts = {"/h": str(tmp_path), "/rw": {"host": str(tmp_path), "mode": "rw"}}
    with VM(isolation="process", pool=pool, mounts=mounts) as vm:
        assert vm.exec("cat /h/in.txt").stdout == "from host\n"
        assert vm.exec("echo x > /h/new").exit_code != 0  # read-only by default
        assert vm.exec("echo y > /rw/new").ok
        assert (tmp_path / "new").read_text() == "y\n"
        vm.mount("/mem", memory=True)
        vm.write_file("/mem/f", "m")
        assert vm.exec("cat /mem/f").stdout == "m"
        # a restarted worker mounts the same things again (memory mounts start empty)
        w = inner(vm)._worker
        assert w is not None
        os.kill(w.pid, signal.SIGKILL)
        w.proc.wait()
        assert vm.exec("cat /rw/new; ls /mem").stdout == "y\n"
        assert [m["path"] for m in vm.mounts()] == ["/", "/h", "/mem", "/rw"]


def test_committed_state_round_trips_links_whiteouts_and_modes() -> None:
    with VM() as vm:
        vm.exec(
            "mkdir -p /a/b && echo 1 > /a/b/f && ln /a/b/f /a/hard && ln -s b/f /a/sym && "
            "chmod 600 /a/b/f && rm /etc/hostname && rm -rf /home/user && mkdir /home/user"
        )
        upper = vm.async_vm._root.upper
        state = vmstate.capture(upper)
        rebuilt = vmstate.restore(state)
        assert vmstate.capture(rebuilt) == state
        assert rebuilt.usage() == upper.usage()
        bad = dict(
            state, nodes=[*state["nodes"], ["/x/y", "f", 0o100644, 0, 0, 0, 0, 0, 0, False, None]]
        )
        with pytest.raises(vmstate.StateError, match="without its directory"):
            vmstate.restore(bad)


def test_network_through_the_gateway_in_the_worker(http_server: Server) -> None:
    pol = net_policy(allow("127.0.0.1"))
    url = http_server.url("/hello")
    with VM(isolation="process", policy=pol, network={}) as vm:
        assert vm.exec(f"curl -sS {url}").stdout == "hello\n"
    # without a network option the worker has no gateway, and Landlock refuses TCP too
    with VM(isolation="process", policy=pol) as vm:
        r = vm.exec(f"curl -sS {url}")
        assert r.exit_code != 0 and r.stdout == ""


def test_a_change_too_big_to_commit_keeps_the_reply_and_the_last_commit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pocketos.isolation import protocol
    from pocketos.isolation.worker import Worker

    req_r, req_w = os.pipe()
    rep_r, rep_w = os.pipe()
    worker = Worker(req_r, rep_w)
    try:
        worker.handle({"id": 1, "op": "open", "vm": "v", "options": {}})
        assert protocol.read_frame(rep_r)["ok"]
        worker.handle(
            {"id": 2, "op": "call", "vm": "v", "method": "write_file", "args": ["/small", b"s"]}
        )
        small = protocol.read_frame(rep_r)
        assert small["ok"] and small["state"] is not None
        monkeypatch.setattr(protocol, "MAX_FRAME", 6_000)
        worker.handle(
            {
                "id": 3,
                "op": "call",
                "vm": "v",
                "method": "write_file",
                "args": ["/big", b"b" * 8_000],
            }
        )
        big = protocol.read_frame(rep_r)
        assert big["ok"] and "state" not in big
        assert "too big to commit" in big["commit_error"]
        monkeypatch.setattr(protocol, "MAX_FRAME", 10**9)
        worker.handle({"id": 4, "op": "commit", "vm": "v"})
        later = protocol.read_frame(rep_r)
        assert later["state"] is not None  # committed once it fits again
    finally:
        worker.loop.run_until_complete(worker.vms["v"].aclose())
        worker.loop.close()
        for fd in (req_r, req_w, rep_r, rep_w):
            os.close(fd)


def test_a_vm_created_from_a_short_lived_thread_keeps_its_worker() -> None:
    # a worker's parent-death signal follows the thread that started it: the pool starts
    # every worker from its own thread, so the creating thread may end
    import threading

    with WorkerPool(0) as pool:
        made: list[VM] = []
        t = threading.Thread(target=lambda: made.append(VM(isolation="process", pool=pool)))
        t.start()
        t.join()
        vm = made[0]
        try:
            assert vm.exec("echo alive").stdout == "alive\n"
            assert inner(vm).restarts == 0
        finally:
            vm.close()


def test_a_worker_that_cannot_start_is_a_clear_error() -> None:
    # 1 MiB of data segment is not enough to start a Python interpreter
    with (
        WorkerPool(0, limits={"memory": 1 << 20}) as pool,
        pytest.raises(PocketOSError, match="could not start the VM's worker"),
    ):
        VM(isolation="process", pool=pool)
