"""pocketos.cluster on a local Ray (one Ray start for the whole module, no external cluster):
placement, exec through a handle, a killed host and the recovery of its durable VMs, migration,
a session resumed after its host died, capacity."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'pocketos[ray]')")

from pocketos.cluster import (  # noqa: E402
    AsyncVMHandle,
    Cluster,
    ClusterError,
    ClusterFull,
    Interrupted,
    VMLost,
)
from pocketos.cluster.wire import WireClient  # noqa: E402
from pocketos.snapshot import Snapshot  # noqa: E402
from tests.agent.fake_llm import FakeServer, openai_text, openai_tool  # noqa: E402
from tests.cluster.local_ray import start_local_ray, stop_local_ray  # noqa: E402
from tests.sessions.test_units import _gone  # noqa: E402

#: an exec that only the test ends: a busy loop is not one, since max_commands (10^6) ends it
#: within seconds on a fast machine, before the test kills its host
ENDLESS = "sleep infinity"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    started = start_local_ray()
    c = Cluster(store=str(tmp_path_factory.mktemp("cluster-store")), hosts_per_node=2)
    try:
        yield c
    finally:
        c.close()
        if started:
            stop_local_ray()


def pool(cluster: Cluster, name: str, n: int = 2, capacity: int | None = None) -> list[str]:
    """``n`` fresh hosts labelled ``pool=name``, so a test sees only its own hosts."""
    return [cluster.add_host(labels={"pool": name}, capacity=capacity) for _ in range(n)]


@pytest.fixture(autouse=True)
def _stop_new_hosts(cluster: Cluster) -> Iterator[None]:
    """Hosts a test started (and their replacements) stop after it: each is a process."""
    before = set(cluster._hosts)
    yield
    for name in set(cluster._hosts) - before:
        cluster.remove_host(name)


async def host_info(cluster: Cluster, name: str) -> dict[str, Any]:
    (info,) = [h for h in await cluster.async_hosts() if h["name"] == name]
    return info


async def until_running(cluster: Cluster, name: str) -> None:
    """Wait until host ``name`` reports an exec running (the exec is endless)."""
    for _ in range(6000):
        if (await host_info(cluster, name)).get("running"):
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"no exec started on {name}")


def kill(cluster: Cluster, name: str) -> None:
    """Kill host ``name`` and return once it is dead (``ray.kill`` only starts it: a call sent
    right after may still be answered). Ray marks the actor dead a little before its process
    is gone, and a direct connection is answered until then: wait for both."""
    actor = cluster._hosts[name].actor
    pid = ray.get(actor.info.remote())[1]["pid"]
    ray.kill(actor)
    for _ in range(10000):
        try:
            ray.get(actor.info.remote())
        except ray.exceptions.RayActorError:
            break
    else:
        raise AssertionError(f"{name} still answers after ray.kill")
    while not _gone(pid):  # the per-test timeout catches a process that never exits
        time.sleep(0.001)


DENY_ETC = {
    "fs": {
        "default": "allow",
        "rules": [{"mode": "deny", "operations": ["write"], "paths": ["/etc/**"]}],
    },
    "child_process": "allow",
}


def test_exec_and_files_through_a_handle(cluster: Cluster) -> None:
    with cluster.vm(policy=DENY_ETC) as vm:
        r = vm.exec("echo hello; echo oops >&2; exit 3")
        assert (r.stdout, r.stderr, r.exit_code) == ("hello\n", "oops\n", 3)
        vm.write_file("/home/user/a.txt", "one\ntwo\n")
        assert vm.read_file("/home/user/a.txt") == b"one\ntwo\n"
        assert vm.exec("wc -l < a.txt").stdout == "2\n"
        assert vm.exec("python3 -c 'print(6 * 7)'").stdout == "42\n"  # wasm in a host
        assert vm.readdir("/home/user") == ["a.txt"]
        assert vm.stat("/home/user/a.txt").st_size == 8
        with pytest.raises(FileNotFoundError):
            vm.read_file("/home/user/missing")
        snap = vm.snapshot("/home/user")
        assert isinstance(snap, Snapshot)
        # the VM's policy and audit log live with it on its host
        r = vm.exec("echo x > /etc/passwd")
        assert (r.exit_code, r.stderr) == (1, "bash: line 1: /etc/passwd: Permission denied\n")
        with pytest.raises(PermissionError):
            vm.write_file("/etc/x", "no")
        denied = [ev for ev in vm.audit_log(kind="permission") if ev.decision == "deny"]
        assert [ev.resource for ev in denied] == ["/etc/passwd", "/etc/x"]
        sh = vm.shell()
        assert sh.run("x=5; cd /tmp").exit_code == 0
        assert sh.run("echo $x $PWD").stdout == "5 /tmp\n"
        sh.close()
    assert vm.closed
    with pytest.raises(Exception, match="closed"):
        vm.exec("true")


def test_placement_prefers_the_host_with_fewer_vms_then_fewer_running_execs(
    cluster: Cluster,
) -> None:
    async def go() -> None:
        h1, h2 = pool(cluster, "place")
        a = await cluster.async_vm(labels={"pool": "place"})
        b = await cluster.async_vm(labels={"pool": "place"})
        assert {a.host, b.host} == {h1, h2}
        busy = asyncio.ensure_future(a.exec(ENDLESS))
        await until_running(cluster, a.host)
        c = await cluster.async_vm(labels={"pool": "place"})
        assert c.host == b.host  # same VM count: the host without a running exec wins
        pinned = await cluster.async_vm(host=a.host)
        assert pinned.host == a.host
        with pytest.raises(ClusterError) as info:
            await cluster.async_vm(labels={"pool": "no-such-pool"})
        assert info.value.code == "no_host"
        # an ephemeral VM dies with its host, and says so
        dead = a.host
        kill(cluster, dead)
        with pytest.raises(VMLost, match="not durable"):
            await busy
        with pytest.raises(VMLost):
            await pinned.exec("true")
        for h in (b, c):
            await h.close()

    asyncio.run(go())


def test_a_killed_host_brings_its_durable_vms_back_with_their_files(cluster: Cluster) -> None:
    async def go() -> None:
        h1, _ = pool(cluster, "recover")
        first = await cluster.async_vm("rec-first", host=h1, labels={"pool": "recover"})
        other = await cluster.async_vm("rec-other", host=h1, labels={"pool": "recover"})
        await first.write_file("/home/user/notes.txt", "kept\n")
        await first.exec("mkdir -p /srv/data && seq 3 > /srv/data/n")
        await other.exec("echo other > /home/user/o.txt")
        running = asyncio.ensure_future(first.exec(ENDLESS))
        await until_running(cluster, h1)
        kill(cluster, h1)
        with pytest.raises(Interrupted) as info:
            await running
        assert info.value.code == "interrupted"
        assert "host-" in str(info.value) and "not repeated" in str(info.value)
        # both durable VMs are back on another host of their pool, from their last run
        for h in (first, other):
            assert h.host != h1
            assert (await host_info(cluster, h.host))["labels"]["pool"] == "recover"
        assert await first.read_file("/home/user/notes.txt") == b"kept\n"
        assert (await first.exec("cat /srv/data/n")).stdout == "1\n2\n3\n"
        assert await other.read_text("/home/user/o.txt") == "other\n"
        # a read sent to a host that dies is repeated on the recovered VM
        kill(cluster, first.host)
        assert await first.exists("/home/user/notes.txt")
        await first.close()
        await other.close()
        # closed and committed: opening the name again finds the files
        again = await cluster.async_vm("rec-first")
        assert await again.read_text("/home/user/notes.txt") == "kept\n"
        await again.close()

    asyncio.run(go())


def test_migration_moves_a_durable_vm_with_its_files(cluster: Cluster) -> None:
    async def go() -> None:
        h1, h2 = pool(cluster, "move")
        vm = await cluster.async_vm("mover", host=h1)
        await vm.exec("mkdir -p /work && cd /work && echo a > a && echo b > b && ln -s a l")
        sh = await vm.shell()
        assert await vm.migrate(h2) == h2
        assert vm.host == h2
        assert (await vm.exec("cat /work/a /work/b /work/l")).stdout == "a\nb\na\n"
        assert await vm.migrate(h1) == h1
        assert await vm.read_text("/work/b") == "b\n"
        with pytest.raises(ClusterError, match="open a new shell"):
            await sh.run("true")
        # refused while an exec runs, and for a VM that has no workspace to move through
        busy = asyncio.ensure_future(vm.exec(ENDLESS))
        await until_running(cluster, h1)
        with pytest.raises(ClusterError) as info:
            await vm.migrate(h2)
        assert info.value.code == "busy"
        assert vm.host == h1
        eph = await cluster.async_vm(host=h2)
        with pytest.raises(ClusterError) as info:
            await eph.migrate(h1)
        assert info.value.code == "not_durable"
        with pytest.raises(ClusterError, match="no host named"):
            await vm.migrate("host-999")
        kill(cluster, h1)  # ends the endless exec
        with pytest.raises(Interrupted):
            await busy
        assert await vm.read_text("/work/a") == "a\n"
        await vm.close()
        await eph.close()

    asyncio.run(go())


def test_a_session_resumes_after_its_host_died(cluster: Cluster) -> None:
    async def go() -> None:
        h1, _ = pool(cluster, "sess")
        replies = [
            openai_tool("write", {"path": "plan.txt", "content": "step 1\n"}, "w1"),
            openai_text("Wrote the plan."),
            openai_text("The plan is still there."),
        ]
        async with FakeServer(replies, strict=True) as srv:
            vm = await cluster.async_vm("agent-1", host=h1, labels={"pool": "sess"})
            cfg = {
                "provider": "openai",
                "base_url": srv.url + "/v1",
                "api_key": "k",
                "model": "gpt-4.1-mini",
                "backoff": 0,
            }
            s = await vm.create_session("pocketos", agent_config=cfg)
            r = await s.prompt("write the plan")
            assert r.text == "Wrote the plan."
            kill(cluster, h1)
            assert await vm.read_text("/home/user/plan.txt") == "step 1\n"
            assert vm.host != h1
            r = await s.prompt("is the plan there?")
            assert r.text == "The plan is still there."
            last = srv.requests[-1]["json"]["messages"]
            said = [m.get("content") for m in last if m["role"] == "user"]
            assert said[-2:] == ["write the plan", "is the plan there?"]
            assert any(m["role"] == "tool" for m in last)
            await s.close()
            await vm.close()

    asyncio.run(go())


def test_creation_waits_for_room_then_fails_clearly(cluster: Cluster) -> None:
    async def go() -> None:
        pool(cluster, "tiny", n=1, capacity=1)
        only = await cluster.async_vm(labels={"pool": "tiny"})
        with pytest.raises(ClusterFull) as info:
            await cluster.async_vm(labels={"pool": "tiny"}, timeout=0)
        assert info.value.code == "capacity"
        assert "all are full" in str(info.value)
        waiting = asyncio.ensure_future(cluster.async_vm(labels={"pool": "tiny"}, timeout=600))
        await only.close()
        second = await waiting
        assert isinstance(second, AsyncVMHandle)
        assert (await second.exec("echo ok")).stdout == "ok\n"
        await second.close()

    asyncio.run(go())


def test_a_durable_name_is_open_once(cluster: Cluster, tmp_path: Path) -> None:
    async def go() -> None:
        vm = await cluster.async_vm("only-once")
        with pytest.raises(ClusterError) as info:
            await cluster.async_vm("only-once")
        assert info.value.code == "exists"
        await vm.close()
        again = await cluster.async_vm("only-once")
        await again.close()

    asyncio.run(go())


def test_heal_recovers_idle_vms_and_remove_host_moves_them_away(cluster: Cluster) -> None:
    async def go() -> None:
        h1, _ = pool(cluster, "heal")
        vm = await cluster.async_vm("healed", host=h1, labels={"pool": "heal"})
        await vm.write_file("/home/user/f", "1\n")
        kill(cluster, h1)
        assert h1 in await cluster.async_heal()
        assert vm.host != h1  # back before anyone called it
        assert vm.epoch == 1
        assert await vm.read_text("/home/user/f") == "1\n"
        # removing a host moves its durable VMs away and closes the others
        here = vm.host
        eph = await cluster.async_vm(host=here)
        await cluster.async_remove_host(here)
        assert vm.host not in (here, h1)
        assert await vm.read_text("/home/user/f") == "1\n"
        with pytest.raises(VMLost, match="removed"):
            await eph.exec("true")
        assert here not in {h["name"] for h in await cluster.async_hosts()}
        await vm.close()

    asyncio.run(go())


def test_calls_take_the_direct_path_and_a_host_killed_under_one_is_recovered(
    cluster: Cluster,
) -> None:
    """A handle's calls go over an authenticated Unix socket to a host on the driver's node;
    a host killed during a sync call there is handled like Ray reporting its death: the call
    raises Interrupted, the VM comes back elsewhere, and the next calls go direct to it."""
    h1, _ = pool(cluster, "direct")

    async def first_calls() -> list[Any]:  # at once, on a host nobody called before
        hs = [await cluster.async_vm(host=h1) for _ in range(3)]
        out = await asyncio.gather(*(h.exists("/home/user") for h in hs))
        for h in hs:
            await h.close()
        return out

    assert asyncio.run(first_calls()) == [True, True, True]
    vm = cluster.vm("direct-1", host=h1, labels={"pool": "direct"})
    vm.write_file("/home/user/a", "kept\n")
    ref = cluster._hosts[h1]
    assert ref.wire is not None and "unix" in ref.wire.address and ref.wire.connected
    assert ref.wire_error is None
    caught: list[BaseException] = []

    def endless() -> None:
        try:
            vm.exec(ENDLESS)
        except BaseException as exc:
            caught.append(exc)

    t = threading.Thread(target=endless)
    t.start()
    asyncio.run(until_running(cluster, h1))
    kill(cluster, h1)
    t.join()
    assert len(caught) == 1 and isinstance(caught[0], Interrupted), caught
    assert "not repeated" in str(caught[0])
    assert vm.host != h1 and not ref.alive and ref.wire.closed  # fenced: no call goes there
    assert vm.read_file("/home/user/a") == b"kept\n"
    new = cluster._hosts[vm.host]
    assert new.wire is not None and new.wire.connected
    vm.close()


def test_a_host_killed_with_several_calls_in_flight_on_one_connection(cluster: Cluster) -> None:
    """Concurrent calls of one event loop share one connection to a host; when the host dies
    with several of them running, each one is reported as Interrupted and its VM comes back."""
    h1, _ = pool(cluster, "mux")

    async def go() -> None:
        hs = [await cluster.async_vm(f"mux-{i}", host=h1) for i in range(3)]
        for i, h in enumerate(hs):
            await h.write_file("/home/user/n", f"{i}\n")
        # replies come back to their own callers, whatever order they finish in
        outs = await asyncio.gather(*(h.exec("cat /home/user/n") for h in hs))
        assert [r.stdout for r in outs] == ["0\n", "1\n", "2\n"]
        wire = cluster._hosts[h1].wire
        assert wire is not None and len(wire._muxes) == 1
        running = [asyncio.ensure_future(h.exec(ENDLESS)) for h in hs]
        for _ in range(6000):
            if (await host_info(cluster, h1)).get("running") == 3:
                break
            await asyncio.sleep(0.01)
        else:
            raise AssertionError("the three execs did not all start")
        kill(cluster, h1)
        caught = await asyncio.gather(*running, return_exceptions=True)
        assert all(isinstance(c, Interrupted) for c in caught), caught
        for i, h in enumerate(hs):
            assert h.host != h1
            assert await h.read_text("/home/user/n") == f"{i}\n"
            await h.close()

    asyncio.run(go())


def test_the_ray_path_is_the_fallback(cluster: Cluster) -> None:
    """Hosts of a cluster made with direct=False, hosts whose socket the driver cannot reach,
    and arguments only Ray can serialize all go through Ray, with the same recovery."""
    (h1,) = pool(cluster, "fallback", n=1)
    ref = cluster._hosts[h1]
    ref.wire = WireClient({"unix": "\0pocketos-nobody-listens-here"}, cluster._secret)
    vm = cluster.vm(host=h1)
    assert vm.exec("echo one").stdout == "one\n"  # the socket never answered: Ray, from now on
    assert ref.wire is None and "cannot connect" in (ref.wire_error or "")
    vm.close()
    h2 = cluster.add_host(labels={"pool": "fallback-ray"}, direct=False)
    vm = cluster.vm("fallback-2", host=h2, labels={"pool": "fallback-ray"})
    assert vm.exec("echo two > /home/user/t; cat /home/user/t").stdout == "two\n"
    assert cluster._hosts[h2].wire is None and cluster._hosts[h2].secret is None

    async def go() -> None:
        h = vm.async_handle
        running = asyncio.ensure_future(h.exec(ENDLESS))
        await until_running(cluster, h2)
        kill(cluster, h2)
        with pytest.raises(Interrupted):
            await running
        assert await h.read_text("/home/user/t") == "two\n"

    asyncio.run(go())
    vm.close()
