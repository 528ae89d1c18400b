"""The VM host without Ray: the host class is plain Python, so its bookkeeping (capacity,
running execs, commits after each change, release, errors that cross a process boundary) is
tested here directly; tests/cluster/test_cluster.py runs it as Ray actors."""

from __future__ import annotations

import asyncio
import pickle
import sys
from pathlib import Path

import pytest

from pocketos.cluster.errors import ClusterError, ClusterFull, Interrupted, VMLost
from pocketos.cluster.host import VMHost
from pocketos.errors import PocketOSError
from pocketos.workspaces import WorkspaceStore


def test_cluster_errors_keep_their_code_across_pickling() -> None:
    for exc in (
        ClusterError("x", "busy"),
        ClusterFull("full"),
        Interrupted("cut"),
        VMLost("gone"),
    ):
        back = pickle.loads(pickle.dumps(exc))
        assert type(back) is type(exc)
        assert (str(back), back.code) == (str(exc), exc.code)
    assert ClusterFull("f").code == "capacity"


def test_without_ray_the_package_imports_and_says_how_to_get_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    from pocketos.cluster import Cluster, ray_available

    assert not ray_available()
    with pytest.raises(PocketOSError, match=r"pip install 'pocketos\[ray\]'"):
        Cluster()


def test_host_capacity_calls_and_release(tmp_path: Path) -> None:
    async def go() -> None:
        host = VMHost("h", capacity=2)
        assert host.create("a", {"options": {}})[0] == "ok"
        assert host.create("b", {"options": {"env": {"X": "1"}}})[0] == "ok"
        status, err = host.create("c", {"options": {}})
        assert status == "err" and isinstance(err, ClusterFull)
        status, err = host.create("a", {"options": {}})
        assert status == "err" and err.code == "exists"
        assert await host.call("b", "exec", ("echo $X",), {}) == ("ok", await_stdout("1\n"))
        status, err = await host.call("a", "read_file", ("/nope",), {})
        assert status == "err" and isinstance(err, FileNotFoundError)
        status, err = await host.call("a", "kernel", (), {})
        assert status == "err" and isinstance(err, AttributeError)
        status, err = await host.call("zz", "exec", ("true",), {})
        assert status == "err" and isinstance(err, VMLost)
        # a running exec is counted, and a VM with one is not released without force
        task = asyncio.ensure_future(host.call("a", "exec", ("sleep infinity",), {}))
        while host.info()[1]["running"] == 0:
            await asyncio.sleep(0)  # counted before its process starts: release copes
        status, err = await host.release("a")
        assert status == "err" and err.code == "busy"
        assert (await host.release("a", force=True))[0] == "ok"
        status, result = await task
        assert (status, result.exit_code) == ("ok", 137)
        info = host.info()[1]
        assert (info["vms"], info["running"]) == (1, 0)
        await host.shutdown()
        assert host.info()[1]["vms"] == 0

    asyncio.run(go())


class await_stdout:
    """Equal to an ExecResult with this stdout and status 0."""

    def __init__(self, out: str) -> None:
        self.out = out

    def __eq__(self, other: object) -> bool:
        return getattr(other, "stdout", None) == self.out and getattr(other, "exit_code", 1) == 0


def test_durable_vm_is_committed_after_each_change_with_durability_call(tmp_path: Path) -> None:
    async def go() -> None:
        store = str(tmp_path / "ws")
        host = VMHost("h")
        spec = {"name": "d", "store": store, "options": {}, "durability": "call"}
        assert host.create("d", spec)[0] == "ok"
        assert (await host.call("d", "write_file", ("/home/user/f", "1"), {}))[0] == "ok"
        assert (await host.call("d", "exec", ("echo 2 > /home/user/g",), {}))[0] == "ok"
        # what a caller saw done is in the store, without a save or a close
        log = WorkspaceStore(store).log("d")
        assert len(log) == 2
        manual = {"name": "m", "store": store, "options": {}, "durability": "manual"}
        assert host.create("m", manual)[0] == "ok"
        assert (await host.call("m", "write_file", ("/home/user/f", "1"), {}))[0] == "ok"
        assert WorkspaceStore(store).log("m") == []
        # release commits a durable VM; a new host reopens it from the store
        assert (await host.release("m"))[0] == "ok"
        other = VMHost("h2")
        assert other.create("m", manual)[0] == "ok"
        assert await other.call("m", "read_text", ("/home/user/f",), {}) == ("ok", "1")
        await other.shutdown()
        await host.shutdown()

    asyncio.run(go())


def test_starting_and_stopping_ray_keeps_the_wasm_signal_handlers() -> None:
    """ray.init turns faulthandler on and ray.shutdown changes the crash-signal handlers;
    wasmtime refuses to run once its SIGSEGV handler was replaced. A VM in the process that
    started and stopped a cluster must still run python3."""
    pytest.importorskip("ray", reason="ray is not installed (pip install 'pocketos[ray]')")
    from pocketos import VM
    from tests.cluster.local_ray import start_local_ray, stop_local_ray

    vm = VM()

    def py(n: int) -> None:
        r = vm.exec(f"python3 -c 'print({n})'")
        # the whole result, so that a failure says how the guest ended
        assert (r.exit_code, r.stdout) == (0, f"{n}\n"), (r.exit_code, r.limit_hit, r.stderr)

    try:
        py(40)  # wasmtime's handlers are in
        started = start_local_ray()
        py(41)
        if started:
            stop_local_ray()
        py(42)
    finally:
        vm.close()


def test_a_host_outside_ray_reports_no_node_and_starts_no_ray() -> None:
    """A host used directly (over the wire, in a test) in a process that imported Ray but never
    joined a cluster reports no node: asking Ray's runtime context for one started a whole local
    Ray (head, raylet, dashboard) that ran until the process ended."""
    ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'pocketos[ray]')")
    from pocketos.cluster.raystart import shutdown_ray

    if ray.is_initialized():
        shutdown_ray()
    try:
        assert VMHost("h").info()[1]["node"] is None
        assert not ray.is_initialized()
    finally:
        if ray.is_initialized():
            shutdown_ray()
