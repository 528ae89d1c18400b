"""pocketos.cluster on a multi-node Ray (Ray's own several-nodes-on-one-machine harness,
``ray.cluster_utils.Cluster``) with S3 (a ``moto_server`` on 127.0.0.1) as the shared store:
a durable VM moves between nodes through S3, and comes back on another node from S3 when its
node is removed."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'pocketos[ray]')")
pytest.importorskip("s3fs", reason="s3fs is not installed (dev extra)")
boto3 = pytest.importorskip("boto3", reason="boto3 is not installed (dev extra)")
pytest.importorskip("moto.server", reason="moto[server] is not installed (dev extra)")

from ray.cluster_utils import Cluster as RayCluster  # noqa: E402

from pocketos.cluster import Cluster, Interrupted  # noqa: E402
from pocketos.cluster.raystart import init_ray, shutdown_ray  # noqa: E402
from tests.kernel.test_s3_mount import BUCKET, CREDENTIALS, s3_endpoint  # noqa: E402, F401

#: the smallest object store Ray accepts; each node is a raylet and a plasma store
_NODE = {"num_cpus": 1, "object_store_memory": 80 * 2**20}


@dataclass
class MultiNode:
    ray_cluster: Any
    nodes: dict[str, Any]  # "a" / "b" -> the Ray node (a worker node; the head holds no host)
    cluster: Cluster
    prefix: str  # the store's key prefix in the bucket

    def node_id(self, zone: str) -> str:
        return str(self.nodes[zone].node_id)


@pytest.fixture(scope="module")
def multinode(s3_endpoint: str) -> Iterator[MultiNode]:  # noqa: F811
    if ray.is_initialized():  # a Ray another module left running: this one needs its own
        shutdown_ray()
    rc = RayCluster(
        initialize_head=True,
        head_node_args={**_NODE, "include_dashboard": False},
    )
    # the harness writes the head's address where a bare ray.init() of any process on this
    # machine looks for a cluster to join: take it back (this test connects by address)
    ray._common.utils.reset_ray_address()
    cluster = None
    try:
        nodes = {zone: rc.add_node(**_NODE, resources={f"zone_{zone}": 1}) for zone in "ab"}
        rc.wait_for_nodes()
        init_ray(address=rc.address, log_to_driver=False)
        prefix = f"ws-{uuid.uuid4().hex[:8]}"
        cluster = Cluster(
            hosts_per_node=0,
            store=f"s3://{BUCKET}/{prefix}",
            store_options={
                "key": CREDENTIALS["aws_access_key_id"],
                "secret": CREDENTIALS["aws_secret_access_key"],
                "client_kwargs": {"endpoint_url": s3_endpoint, "region_name": "us-east-1"},
                "use_listings_cache": False,
            },
        )
        yield MultiNode(rc, nodes, cluster, prefix)
    finally:
        if cluster is not None:
            cluster.close()
        shutdown_ray()
        rc.shutdown()


def host_on(mn: MultiNode, zone: str) -> str:
    """A new host actor on node ``zone``: it needs a sliver of the resource only that node has."""
    return mn.cluster.add_host(labels={"zone": zone}, options={"resources": {f"zone_{zone}": 0.01}})


async def info(mn: MultiNode, host: str) -> dict[str, Any]:
    (found,) = [h for h in await mn.cluster.async_hosts() if h["name"] == host]
    return found


def s3_keys(endpoint: str, prefix: str) -> list[str]:
    client = boto3.client("s3", endpoint_url=endpoint, **CREDENTIALS)
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix + "/")
    return [o["Key"] for page in pages for o in page.get("Contents", [])]


def test_a_durable_vm_migrates_between_nodes_through_s3(
    multinode: MultiNode,
    s3_endpoint: str,  # noqa: F811
) -> None:
    mn = multinode

    async def go() -> None:
        on_a, on_b = host_on(mn, "a"), host_on(mn, "b")
        assert (await info(mn, on_a))["node"] == mn.node_id("a")
        assert (await info(mn, on_b))["node"] == mn.node_id("b")
        vm = await mn.cluster.async_vm("mover", host=on_a)
        await vm.write_file("/home/user/notes.txt", "from a\n")
        await vm.exec("mkdir -p /srv && seq 5 > /srv/n; cd /srv; export WHO=agent")
        # committed to S3, not to any node's disk
        assert any(k.startswith(f"{mn.prefix}/") for k in s3_keys(s3_endpoint, mn.prefix))
        assert await vm.migrate(on_b) == on_b
        assert (await info(mn, on_b))["vms"] == 1 and (await info(mn, on_a))["vms"] == 0
        assert await vm.read_text("/home/user/notes.txt") == "from a\n"
        assert (await vm.exec("cat /srv/n | wc -l")).stdout == "5\n"
        # the driver is on the head node: it reaches a host on another node over TCP
        wire = mn.cluster._hosts[on_b].wire
        assert wire is not None and "tcp" in wire.address and wire.connected
        await vm.exec("echo from b >> /home/user/notes.txt")
        assert await vm.migrate(on_a) == on_a
        assert await vm.read_text("/home/user/notes.txt") == "from a\nfrom b\n"
        await vm.close()
        for h in (on_a, on_b):
            await mn.cluster.async_remove_host(h)

    asyncio.run(go())


def test_a_removed_node_brings_its_durable_vm_back_on_another_node_from_s3(
    multinode: MultiNode,
) -> None:
    mn = multinode

    async def go() -> None:
        on_a = host_on(mn, "a")
        host_on(mn, "b")  # a live host on another node for the VM to come back on
        vm = await mn.cluster.async_vm("survivor", host=on_a)
        await vm.write_file("/home/user/kept.txt", "kept\n")
        await vm.exec("mkdir -p /srv/data && seq 3 > /srv/data/n")
        running = asyncio.ensure_future(vm.exec("sleep infinity"))
        for _ in range(100000):
            if (await info(mn, on_a)).get("running"):
                break
            await asyncio.sleep(0.01)
        else:
            raise AssertionError("the endless exec never started")
        dead_node = mn.node_id("a")
        # node a goes away with its raylet, object store and the host process on it
        mn.ray_cluster.remove_node(mn.nodes.pop("a"))
        with pytest.raises(Interrupted, match="not repeated"):
            await running
        assert vm.host != on_a
        where = (await info(mn, vm.host))["node"]
        assert where is not None and where != dead_node
        assert await vm.read_text("/home/user/kept.txt") == "kept\n"
        assert (await vm.exec("cat /srv/data/n")).stdout == "1\n2\n3\n"
        await vm.close()

    asyncio.run(go())
