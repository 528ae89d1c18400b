"""pocketos.cluster on a local Ray: aggregate small-exec throughput with 1 and 2 VM hosts vs
one process (asyncio) and N threads in one process (the GIL baseline); handle call overhead vs
an in-process VM; the cost of moving a durable VM with a 100 MB workspace; host memory per idle
VM (the figures docs/scale-out.md's paper model uses).

``python -m bench.run --only cluster`` (needs ``pip install 'pocketos[ray]'``).
"""

from __future__ import annotations

import asyncio
import functools
import tempfile
import threading
import time
from typing import Any

from bench.common import Result, timeit

G = "cluster"
#: a small agent-like exec: a pipeline and a little arithmetic
SMALL = "x=0; for i in 1 2 3 4 5 6 7 8; do x=$((x+i)); done; echo $x | tr 0-9 a-j | wc -c"
#: a heavier one (about 10 ms of interpretation in-process)
MEDIUM = "x=0; for i in $(seq 2000); do x=$((x+i)); done; echo $x | tr 0-9 a-j | wc -c"
VMS_PER_HOST = 4


WORKLOADS = [("small exec", SMALL, "3\n"), ("2000-iteration loop exec", MEDIUM, "8\n")]


def _per_exec(wall: float, total: int) -> float:
    return wall / total


async def _drive(
    handles: list[Any], per_vm: int, script: str, want: str, cpu: list[float] | None = None
) -> float:
    """Every VM runs ``per_vm`` execs one after another, all VMs at once; the wall time.
    ``cpu`` gets this process's CPU time over the same span (the driver's share)."""

    async def one(h: Any) -> None:
        for _ in range(per_vm):
            r = await h.exec(script)
            assert r.stdout == want, r

    c = time.process_time()
    t = time.perf_counter()
    await asyncio.gather(*(one(h) for h in handles))
    wall = time.perf_counter() - t
    if cpu is not None:
        cpu.append(time.process_time() - c)
    return wall


async def _hosts_cpu(cluster: Any, pool: str) -> float:
    """The CPU seconds the hosts of ``pool`` have used so far."""
    infos = await cluster.async_hosts()
    return sum(i["cpu"] for i in infos if i.get("alive") and i["labels"].get("pool") == pool)


def _threads(n: int, per_vm: int, script: str) -> float:
    from pocketos import VM

    vms = [VM() for _ in range(n)]
    for vm in vms:
        vm.exec(script)
    go = threading.Barrier(n + 1)

    def work(vm: Any) -> None:
        go.wait()
        for _ in range(per_vm):
            vm.exec(script)

    ts = [threading.Thread(target=work, args=(vm,)) for vm in vms]
    for t in ts:
        t.start()
    go.wait()
    t0 = time.perf_counter()
    for t in ts:
        t.join()
    wall = time.perf_counter() - t0
    for vm in vms:
        vm.close()
    return wall


def _throughput_rows(cluster: Any, quick: bool) -> list[Result]:
    from pocketos import AsyncVM

    reps = 3 if quick else 5
    rows: list[Result] = []
    n_vms = 2 * VMS_PER_HOST
    pools = {
        n_hosts: [cluster.add_host(labels={"pool": f"tp{n_hosts}"}) for _ in range(n_hosts)]
        for n_hosts in (1, 2)
    }
    for label, script, want in WORKLOADS:
        per_vm = (10 if quick else 40) if label == "small exec" else (3 if quick else 10)
        total = n_vms * per_vm
        name = f"{label}, aggregate time per exec ({n_vms} VMs busy)"

        async def local(script: str = script, want: str = want, per_vm: int = per_vm) -> float:
            vms = [AsyncVM() for _ in range(n_vms)]
            for vm in vms:
                await vm.exec(script)
            wall = await _drive(vms, per_vm, script, want)
            for vm in vms:
                await vm.aclose()
            return wall

        samples = [_per_exec(asyncio.run(local()), total) for _ in range(reps)]
        rows.append(Result(G, name, "pocketos", "s", samples, note="one process, asyncio"))
        samples = [_per_exec(_threads(n_vms, per_vm, script), total) for _ in range(reps)]
        rows.append(Result(G, name, f"pocketos, {n_vms} threads", "s", samples))
        medians = {}
        cpus: dict[int, list[float]] = {1: [], 2: []}
        host_cpus: dict[int, list[float]] = {1: [], 2: []}
        samples_by: dict[int, list[float]] = {1: [], 2: []}

        async def on_cluster(
            n_hosts: int,
            script: str = script,
            want: str = want,
            per_vm: int = per_vm,
            cpus: dict[int, list[float]] = cpus,
            host_cpus: dict[int, list[float]] = host_cpus,
        ) -> float:
            hs = [await cluster.async_vm(labels={"pool": f"tp{n_hosts}"}) for _ in range(n_vms)]
            for h in hs:
                await h.exec(script)
            before = await _hosts_cpu(cluster, f"tp{n_hosts}")
            wall = await _drive(hs, per_vm, script, want, cpus[n_hosts])
            host_cpus[n_hosts].append(await _hosts_cpu(cluster, f"tp{n_hosts}") - before)
            for h in hs:
                await h.close()
            return wall

        for _ in range(reps):  # 1 and 2 hosts interleaved: a change of load hits both
            for n_hosts in (1, 2):
                samples_by[n_hosts].append(_per_exec(asyncio.run(on_cluster(n_hosts)), total))
        for n_hosts in (1, 2):
            rows.append(Result(G, name, f"cluster, {n_hosts} host(s)", "s", samples_by[n_hosts]))
            medians[n_hosts] = rows[-1].median
        rows[-1].note = f"{medians[1] / medians[2]:.2f}x the throughput of 1 host"
        for n_hosts in (1, 2):
            rows.append(
                Result(
                    G,
                    f"{label}, driver CPU per exec ({n_vms} VMs busy)",
                    f"cluster, {n_hosts} host(s)",
                    "s",
                    [c / total for c in cpus[n_hosts]],
                    note="the calling process's CPU time (all its threads) / execs",
                )
            )
        for n_hosts in (1, 2):
            rows.append(
                Result(
                    G,
                    f"{label}, hosts' CPU per exec ({n_vms} VMs busy)",
                    f"cluster, {n_hosts} host(s)",
                    "s",
                    [c / total for c in host_cpus[n_hosts]],
                    note="the host processes' CPU time / execs",
                )
            )
        # what 2 cores allow: 1 host is bound by its own CPU per exec (H), 2 hosts and the
        # driver by the sum over both cores (2 / (H + D)); the ratio is 2H / (H + D)
        h2 = rows[-1].median
        d2 = rows[-3].median
        rows[-1].note += f"; CPU-bound 1 -> 2 hosts ratio on 2 cores: {2 * h2 / (h2 + d2):.2f}x"
    for names in pools.values():
        for n in names:
            cluster.remove_host(n)
    return rows


def _overhead_rows(cluster: Any, quick: bool) -> list[Result]:
    from pocketos import VM

    n = 300 if quick else 2000
    rows = []
    local = VM()
    local.write_file("/home/user/f", "x")
    h = cluster.vm(labels={"pool": "direct"})
    h.write_file("/home/user/f", "x")
    ray_host = cluster.add_host(labels={"pool": "ray"}, direct=False)
    via_ray = cluster.vm(host=ray_host)
    via_ray.write_file("/home/user/f", "x")
    rows.append(
        Result(
            G,
            "call overhead: exists()",
            "pocketos",
            "s",
            timeit(lambda: local.exists("/home/user/f"), n),
        )
    )
    rows.append(
        Result(
            G,
            "call overhead: exists()",
            "cluster handle",
            "s",
            timeit(lambda: h.exists("/home/user/f"), n),
        )
    )
    rows.append(
        Result(
            G,
            "call overhead: exists()",
            "cluster handle, Ray path",
            "s",
            timeit(lambda: via_ray.exists("/home/user/f"), n),
            note="Cluster(direct=False): every call is a Ray actor call",
        )
    )
    rows.append(
        Result(
            G,
            "call overhead: exec('true')",
            "pocketos",
            "s",
            timeit(lambda: local.exec("true"), n // 2),
        )
    )
    rows.append(
        Result(
            G,
            "call overhead: exec('true')",
            "cluster handle",
            "s",
            timeit(lambda: h.exec("true"), n // 2),
        )
    )
    rows.append(
        Result(
            G,
            "call overhead: exec('true')",
            "cluster handle, Ray path",
            "s",
            timeit(lambda: via_ray.exec("true"), n // 2),
        )
    )
    rows += _floor_rows(n, h, via_ray)
    h.close()
    via_ray.close()
    cluster.remove_host(ray_host)
    local.close()
    return rows


class _Bare:
    """The floor of a handle call: a Ray actor that answers at once, with a handle call's
    arguments and reply shape. ``_BareAsync`` is the same as an async actor (what a host is:
    Ray then runs every method on the actor's event loop thread)."""

    def call(self, vm_id: str, method: str, args: tuple[Any, ...], kw: dict[str, Any]) -> Any:
        return ("ok", True)


class _BareAsync:
    async def call(self, vm_id: str, method: str, args: tuple[Any, ...], kw: dict[str, Any]) -> Any:
        return ("ok", True)


def _cpu_per_call(fn: Any, n: int) -> float:
    """The caller's CPU time per call (this process, all threads): what a driver pays per
    call whatever the machine's load does to the wall time."""
    for _ in range(10):
        fn()
    t = time.process_time()
    for _ in range(n):
        fn()
    return (time.process_time() - t) / n


def _bare_call(actor: Any, args: tuple[Any, ...]) -> Any:
    import ray

    return ray.get(actor.call.remote(*args))


def _floor_rows(n: int, handle: Any, via_ray: Any) -> list[Result]:
    import ray

    args: tuple[Any, ...] = ("vm", "exists", ("/home/user/f",), {})
    rows = [
        Result(
            G,
            "caller CPU per call: exists()",
            "cluster handle",
            "s",
            value=_cpu_per_call(lambda: handle.exists("/home/user/f"), n),
        ),
        Result(
            G,
            "caller CPU per call: exists()",
            "cluster handle, Ray path",
            "s",
            value=_cpu_per_call(lambda: via_ray.exists("/home/user/f"), n),
        ),
    ]
    for label, cls in (("bare Ray actor", _Bare), ("bare async Ray actor", _BareAsync)):
        actor: Any = ray.remote(num_cpus=0)(cls).remote()
        ray.get(actor.call.remote(*args))
        call = functools.partial(_bare_call, actor, args)
        rows.append(
            Result(
                G,
                "call overhead: exists()",
                label,
                "s",
                timeit(call, n),
                note="the floor: one Ray round trip, no VM",
            )
        )
        rows.append(
            Result(
                G,
                "caller CPU per call: exists()",
                label,
                "s",
                value=_cpu_per_call(call, n),
            )
        )
        ray.kill(actor)
    return rows


def _migration_rows(cluster: Any, quick: bool) -> list[Result]:
    a = cluster.add_host(labels={"pool": "move"})
    b = cluster.add_host(labels={"pool": "move"})
    h = cluster.vm(f"bench-move-{time.time_ns()}", host=a, labels={"pool": "move"})
    files = 25 if quick else 100
    size = files * 1024 * 1024
    t = time.perf_counter()
    h.exec(
        f"mkdir -p /data && for i in $(seq {files}); do head -c 1048576 /dev/urandom > /data/f$i; done"
    )
    first = time.perf_counter() - t  # the writes, then their commit (durability="call")
    moves: list[float] = []
    reads: list[float] = []
    for i in range(3 if quick else 6):
        t = time.perf_counter()
        h.migrate(b if i % 2 == 0 else a)
        moves.append(time.perf_counter() - t)
        t = time.perf_counter()
        r = h.exec("cat /data/* | wc -c")
        reads.append(time.perf_counter() - t)
        assert r.stdout.strip() == str(size), r
    mb = f"{size // (1024 * 1024)} MB workspace, {files} files"
    rows = [
        Result(
            G,
            f"migrate a durable VM ({mb})",
            "cluster",
            "s",
            moves,
            note="commit + close + reopen (lazy)",
        ),
        Result(G, f"read every byte after a move ({mb})", "cluster", "s", reads),
        Result(G, f"write + commit the workspace ({mb})", "cluster", "s", value=first),
    ]
    h.close()
    cluster.remove_host(a)
    cluster.remove_host(b)
    return rows


def _memory_rows(cluster: Any, quick: bool) -> list[Result]:
    n = 50 if quick else 200
    name = cluster.add_host(labels={"pool": "mem"}, capacity=n)

    def rss() -> int:
        (info,) = [x for x in cluster.hosts() if x["name"] == name]
        return int(info["rss"])

    base = rss()
    hs = [cluster.vm(labels={"pool": "mem"}) for _ in range(n)]
    for h in hs:
        h.exec("echo hi > /tmp/x")
    full = rss()
    rows = [
        Result(G, "host process, no VM", "cluster", "bytes", value=base),
        Result(
            G,
            f"memory per VM (after one small exec each, {n} VMs)",
            "cluster",
            "bytes",
            value=(full - base) / n,
        ),
    ]
    for h in hs:
        h.close()
    cluster.remove_host(name)
    return rows


def run(quick: bool = False) -> list[Result]:
    from pocketos.cluster import Cluster

    store = tempfile.mkdtemp(prefix="pocketos-bench-cluster-")
    cluster = Cluster(
        hosts_per_node=0,
        store=store,
        vms_per_host=256,
        ray_init={"num_cpus": 2, "object_store_memory": 200 * 1024 * 1024},
    )
    try:
        cluster.add_host(labels={"pool": "direct"})  # for the overhead rows
        rows = _throughput_rows(cluster, quick)
        rows += _overhead_rows(cluster, quick)
        rows += _migration_rows(cluster, quick)
        rows += _memory_rows(cluster, quick)
    finally:
        cluster.close()
    return rows


if __name__ == "__main__":
    from bench.common import table

    res = run(quick=True)
    print(table(res))
