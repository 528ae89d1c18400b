"""The cluster client: starts or joins Ray, runs VM-host actors, places VMs on them, moves
them and brings them back when a host dies. See docs/scale-out.md.

    with Cluster(hosts_per_node=2, store="/shared/ws") as cluster:
        vm = cluster.vm(name="agent-1")          # durable: survives its host
        vm.exec("echo hi > /home/user/a")
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from pocketos._loop import run_sync
from pocketos.cluster.errors import ClusterError, ClusterFull, Interrupted, VMLost
from pocketos.cluster.handle import AsyncVMHandle, VMHandle
from pocketos.cluster.host import VMHost
from pocketos.cluster.raystart import init_ray, shutdown_ray
from pocketos.cluster.wire import HostGone, WireClient, encode_request, new_secret
from pocketos.errors import PocketOSError

__all__ = ["Cluster", "HostRef", "ray_available"]

_POLL = 0.05  # seconds between placement attempts while every host is full


def ray_available() -> bool:
    try:
        import ray  # noqa: F401
    except ImportError:
        return False
    return True


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise PocketOSError("pocketos.cluster needs Ray: pip install 'pocketos[ray]'") from None
    return ray


@dataclass
class HostRef:
    """The client's view of one host actor, and the way calls reach it: the direct connection
    (:mod:`pocketos.cluster.wire`) when the host has one, else a Ray actor call."""

    name: str
    actor: Any
    labels: dict[str, str]
    capacity: int
    node: str | None = None
    alive: bool = True
    handles: set[str] = field(default_factory=set)
    secret: bytes | None = None  # None: Ray calls only
    client_node: str | None = None  # the driver's Ray node
    wire: WireClient | None = None
    wire_error: str | None = None  # why this host is reached through Ray (None: not asked yet)

    def _set_wire(self, reply: tuple[str, Any]) -> None:
        status, value = reply
        if self.wire is not None or self.wire_error is not None:
            return  # two first calls asked at once: the first answer is kept
        if status == "ok":
            self.wire = WireClient(value, self.secret or b"")
        else:
            self.wire_error = str(value)

    def _frame(self, fn: str, args: tuple[Any, ...]) -> bytes | None:
        if self.wire is None or self.wire.closed:
            return None
        return encode_request(fn, args)

    def _wire_failed(self, exc: HostGone) -> bool:
        """A direct connection to a host that never answered on it falls back to Ray (a
        network between driver and host that does not let it through); True when so."""
        if self.wire is not None and not self.wire.connected:
            self.wire_error = str(exc)
            self.wire.close()
            self.wire = None
            return True
        return False

    async def send(self, fn: str, args: tuple[Any, ...]) -> Any:
        """Call host method ``fn``; raises HostGone or RayActorError when the host is dead."""
        if self.wire is None and self.wire_error is None and self.secret is not None:
            self._set_wire(await self.actor.endpoint.remote(self.client_node))
        frame = self._frame(fn, args)
        if frame is not None:
            assert self.wire is not None
            try:
                return await self.wire.call(frame)
            except HostGone as exc:
                if not self._wire_failed(exc):
                    raise
        return await getattr(self.actor, fn).remote(*args)

    def send_sync(self, fn: str, args: tuple[Any, ...]) -> Any:
        """:meth:`send` without an event loop."""
        import ray

        if self.wire is None and self.wire_error is None and self.secret is not None:
            self._set_wire(ray.get(self.actor.endpoint.remote(self.client_node)))
        frame = self._frame(fn, args)
        if frame is not None:
            assert self.wire is not None
            try:
                return self.wire.call_sync(frame)
            except HostGone as exc:
                if not self._wire_failed(exc):
                    raise
        return ray.get(getattr(self.actor, fn).remote(*args))

    def disconnect(self) -> None:
        if self.wire is not None:
            self.wire.close()


def _matches(labels: dict[str, str], want: dict[str, str] | None) -> bool:
    return not want or all(labels.get(k) == v for k, v in want.items())


class Cluster:
    """VM hosts on Ray.

    ``address``: None starts a local Ray (or uses the one this process already started),
    ``"auto"`` joins the cluster of this machine, ``"ray://head:10001"`` connects a client.
    ``hosts_per_node`` host actors are started on every alive node, each holding up to
    ``vms_per_host`` VMs. ``store`` is the workspace store (a shared folder or an fsspec URL
    such as ``s3://bucket/ws``) that durable VMs live in, ``store_options`` its fsspec options
    (``key``, ``secret``, ``client_kwargs={"endpoint_url": ...}`` for S3), passed to every host;
    ``session_store`` the SQLite file of
    agent sessions (default: ``sessions.db`` in a local ``store``). ``create_timeout`` is how long
    creation waits for room when every host is full. ``durability="call"`` commits a durable
    VM after every call that changes it; ``"manual"`` only on ``save()``, move and close.
    ``host_options`` are Ray actor options for the hosts (``num_cpus``, ``memory`` ...).
    ``direct=True`` sends a handle's calls over a direct, authenticated connection to its host
    (about ten times cheaper than a Ray actor call); ``False`` sends every call through Ray.
    """

    def __init__(
        self,
        address: str | None = None,
        *,
        hosts_per_node: int = 1,
        vms_per_host: int = 64,
        store: str | os.PathLike[str] | None = None,
        store_options: dict[str, Any] | None = None,
        session_store: str | os.PathLike[str] | None = None,
        create_timeout: float = 30.0,
        durability: str = "call",
        host_options: dict[str, Any] | None = None,
        ray_init: dict[str, Any] | None = None,
        labels: dict[str, str] | None = None,
        direct: bool = True,
    ) -> None:
        if hosts_per_node < 0:
            raise ValueError(f"hosts_per_node must be >= 0, not {hosts_per_node}")
        if vms_per_host < 1:
            raise ValueError(f"vms_per_host must be >= 1, not {vms_per_host}")
        if durability not in ("call", "manual"):
            raise ValueError(f"durability must be 'call' or 'manual', not {durability!r}")
        if create_timeout < 0:
            raise ValueError(f"create_timeout must be >= 0, not {create_timeout}")
        ray = _import_ray()
        self.vms_per_host = vms_per_host
        self.store = os.fspath(store) if store is not None else None
        self.store_options = dict(store_options or {})
        if session_store is None and self.store is not None and "://" not in self.store:
            session_store = os.path.join(self.store, "sessions.db")
        self.session_store = os.fspath(session_store) if session_store is not None else None
        if self.store is not None and "://" not in self.store:
            os.makedirs(self.store, exist_ok=True)
        self.create_timeout = create_timeout
        self.durability = durability
        self._host_options = {"num_cpus": 0, **(host_options or {})}
        self._labels = dict(labels or {})
        self._started_ray = False
        if not ray.is_initialized():
            kw = {"include_dashboard": False, "log_to_driver": False, **(ray_init or {})}
            # None starts a Ray of this process's own ("local"): Ray's default would join
            # whatever cluster another process on this machine last started
            kw["address"] = "local" if address is None else address
            init_ray(**kw)
            self._started_ray = True
        self._ray = ray
        self.direct = direct
        self._secret = new_secret()  # what a direct connection to this cluster's hosts needs
        try:
            self._node: str | None = str(ray.get_runtime_context().get_node_id())
        except Exception:  # a Ray client has no node of its own
            self._node = None
        self._actor_cls = ray.remote(VMHost)
        self._hosts: dict[str, HostRef] = {}
        self._handles: dict[str, AsyncVMHandle] = {}
        self._names: dict[str, str] = {}  # durable VM name -> handle id
        self._seq = itertools.count(1)
        self.closed = False
        for node in self.nodes():
            for _ in range(hosts_per_node):
                self.add_host(node=node["NodeID"], labels=node.get("Labels") or {})

    # --- hosts -------------------------------------------------------------------------
    def nodes(self) -> list[dict[str, Any]]:
        """The alive Ray nodes."""
        return [n for n in self._ray.nodes() if n.get("Alive")]

    def add_host(
        self,
        *,
        labels: dict[str, str] | None = None,
        capacity: int | None = None,
        node: str | None = None,
        options: dict[str, Any] | None = None,
        direct: bool | None = None,
    ) -> str:
        """Start one more host actor (preferably on Ray node ``node`` when given); returns its
        name. ``options`` are Ray actor options for this host on top of ``host_options`` (such
        as ``resources={"zone_a": 0.01}`` to require a node that has that resource);
        ``direct`` overrides the cluster's ``direct`` for this host."""
        secret = self._secret if (self.direct if direct is None else direct) else None
        name = f"host-{next(self._seq)}"
        lab = {k: str(v) for k, v in {**self._labels, **(labels or {})}.items()}
        lab["host"] = name
        opts = {**self._host_options, **(options or {})}
        if node is not None:
            from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

            opts["scheduling_strategy"] = NodeAffinitySchedulingStrategy(node, soft=True)
            lab.setdefault("node", node)
        cap = capacity or self.vms_per_host
        actor = self._actor_cls.options(**opts).remote(
            name,
            labels=lab,
            capacity=cap,
            session_store=self.session_store,
            secret=secret,
        )
        self._hosts[name] = HostRef(
            name,
            actor,
            lab,
            cap,
            node,
            secret=secret,
            client_node=self._node,
        )
        return name

    async def async_remove_host(self, name: str) -> None:
        """Stop host ``name``: its durable VMs move to other hosts first; its other VMs are
        closed (their handles then raise VMLost)."""
        host = self._hosts.get(name)
        if host is None:
            raise ClusterError(f"no host named {name!r}", "no_host")
        for hid in list(host.handles):
            handle = self._handles.get(hid)
            if handle is None or handle._host is not host:
                continue
            if handle.durable:
                with contextlib.suppress(Interrupted):  # it died meanwhile: recovered elsewhere
                    await self._migrate(handle, None)
            else:
                await handle.close()
                handle.lost = VMLost(f"VM {hid} was closed: its host {name} was removed")
        host.alive = False
        host.disconnect()
        with contextlib.suppress(Exception):
            await host.actor.shutdown.remote()
        with contextlib.suppress(Exception):
            self._ray.kill(host.actor)
        del self._hosts[name]

    def remove_host(self, name: str) -> None:
        run_sync(self.async_remove_host(name))

    async def async_hosts(self) -> list[dict[str, Any]]:
        """Every host's load: VMs, running execs, resident memory, VM bytes; dead hosts too."""
        refs = list(self._hosts.values())
        out = await asyncio.gather(*(self._info(h) for h in refs))
        return [
            info if info is not None else {"name": h.name, "labels": h.labels, "alive": False}
            for h, info in zip(refs, out, strict=True)
        ]

    def hosts(self) -> list[dict[str, Any]]:
        return run_sync(self.async_hosts())

    async def _info(self, host: HostRef) -> dict[str, Any] | None:
        if not host.alive:
            return None
        try:
            status, info = await host.actor.info.remote()
        except self._ray.exceptions.RayActorError:
            await self._host_died(host)
            return None
        info["alive"] = True
        return info

    async def _host_died(self, host: HostRef) -> None:
        """Fence a host that failed a call (kill it, so a half-alive one cannot write on), start
        a replacement with its labels, and reopen its other durable VMs elsewhere."""
        if not host.alive:
            return
        host.alive = False
        host.disconnect()
        with contextlib.suppress(Exception):
            self._ray.kill(host.actor)
        if not self.closed:
            labels = {k: v for k, v in host.labels.items() if k not in ("host", "node")}
            self.add_host(labels=labels, capacity=host.capacity, direct=host.secret is not None)
        for hid in list(host.handles):
            handle = self._handles.get(hid)
            if handle is not None and handle._host is host:
                with contextlib.suppress(PocketOSError):
                    await handle._reopen_after(handle.epoch, host)

    async def async_heal(self) -> list[str]:
        """Ask every host whether it is alive; recover the VMs of the dead ones now rather
        than at their next call. Returns the names of the hosts found dead."""
        dead = []
        for host in list(self._hosts.values()):
            if host.alive and await self._info(host) is None:
                dead.append(host.name)
        return dead

    def heal(self) -> list[str]:
        return run_sync(self.async_heal())

    # --- placement ---------------------------------------------------------------------
    async def _place(
        self,
        vm_id: str,
        spec: dict[str, Any],
        labels: dict[str, str] | None,
        timeout: float | None,
        exclude: HostRef | None = None,
    ) -> tuple[HostRef, dict[str, Any]]:
        """Open the VM on the least-loaded matching host (fewest running execs, then fewest
        VMs, then least memory); while all are full, wait up to ``timeout``."""
        wait = self.create_timeout if timeout is None else timeout
        deadline = time.monotonic() + wait
        delay = _POLL
        while True:
            cands = [
                h
                for h in self._hosts.values()
                if h.alive and h is not exclude and _matches(h.labels, labels)
            ]
            if not cands:
                what = f" with labels {labels}" if labels else ""
                raise ClusterError(f"no live host{what}", "no_host")
            infos = await asyncio.gather(*(self._info(h) for h in cands))
            ranked = sorted(
                (
                    (info["running"], info["vms"], info["rss"] + info["vm_bytes"]),
                    i,
                    h,
                )
                for i, (h, info) in enumerate(zip(cands, infos, strict=True))
                if info is not None and info["vms"] < info["capacity"]
            )
            for _, _, host in ranked:
                try:
                    status, value = await host.actor.create.remote(vm_id, spec)
                except self._ray.exceptions.RayActorError:
                    await self._host_died(host)
                    continue
                if status == "ok":
                    return host, value
                if not isinstance(value, ClusterFull):
                    raise value
            now = time.monotonic()
            if now >= deadline:
                total = sum(h.capacity for h in cands)
                raise ClusterFull(
                    f"no room for a VM: {len(cands)} host(s) hold {total} VMs at most and "
                    f"all are full; waited {wait:g}s (create_timeout)"
                )
            await asyncio.sleep(min(delay, deadline - now))
            delay = min(delay * 2, 1.0)

    def _host_named(self, name: str) -> HostRef:
        host = self._hosts.get(name)
        if host is None:
            raise ClusterError(f"no host named {name!r}", "no_host")
        if not host.alive:
            raise ClusterError(f"host {name!r} is dead", "no_host")
        return host

    # --- VMs ---------------------------------------------------------------------------
    async def async_vm(
        self,
        name: str | None = None,
        *,
        labels: dict[str, str] | None = None,
        host: str | None = None,
        timeout: float | None = None,
        store: str | None = None,
        durability: str | None = None,
        **options: Any,
    ) -> AsyncVMHandle:
        """A VM on the least-loaded host. ``name`` makes it durable (workspace ``name`` of the
        store, reopened from its last run if it exists); without it the VM dies with its host.
        ``labels`` pins it to hosts carrying those labels (also when it is recovered), ``host``
        starts it on that host; ``timeout``
        overrides ``create_timeout``. Other options go to :class:`~pocketos.AsyncVM`."""
        if self.closed:
            raise PocketOSError("the cluster is closed")
        if durability not in (None, "call", "manual"):
            raise ValueError(f"durability must be 'call' or 'manual', not {durability!r}")
        if name is not None:
            if not (store or self.store):
                raise ValueError("a durable VM needs a store: Cluster(store=...) or store=")
            if name in self._names:
                raise ClusterError(f"VM {name!r} is already open in this cluster", "exists")
        spec = {
            "name": name,
            "store": store or self.store,
            "store_options": self.store_options if store is None else {},
            "options": options,
            "durability": durability or self.durability,
        }
        vm_id = "vm-" + uuid.uuid4().hex[:12]
        where = labels
        if host is not None:  # where it starts; a recovery goes wherever ``labels`` allow
            where = {**(labels or {}), "host": self._host_named(host).name}
        if name is not None:
            self._names[name] = vm_id
        try:
            ref, created = await self._place(vm_id, spec, where, timeout)
        except BaseException:
            if name is not None:
                self._names.pop(name, None)
            raise
        handle = AsyncVMHandle(self, vm_id, spec, labels, ref, created)
        self._handles[vm_id] = handle
        ref.handles.add(vm_id)
        return handle

    def vm(self, name: str | None = None, **options: Any) -> VMHandle:
        """The sync twin of :meth:`async_vm`."""
        return VMHandle(run_sync(self.async_vm(name, **options)))

    def _session_options(self, options: dict[str, Any]) -> dict[str, Any]:
        out = dict(options)
        if out.get("store") is None and self.session_store is not None:
            out["store"] = self.session_store
        return out

    def _forget(self, handle: AsyncVMHandle) -> None:
        self._handles.pop(handle.id, None)
        handle._host.handles.discard(handle.id)
        if handle.name is not None and self._names.get(handle.name) == handle.id:
            del self._names[handle.name]

    def _moved(self, handle: AsyncVMHandle, to: HostRef, created: dict[str, Any]) -> None:
        handle._host.handles.discard(handle.id)
        handle._host = to
        to.handles.add(handle.id)
        handle.run_number = created.get("run")
        handle.epoch += 1

    async def _reopen(self, handle: AsyncVMHandle, dead: HostRef) -> None:
        """Bring a VM of a dead host back on another host from its last committed run."""
        if not handle.durable:
            handle.lost = VMLost(
                f"VM {handle.id} was lost with host {dead.name}: it was not durable "
                "(create it with a name to have it recovered)"
            )
            self._forget(handle)
            return
        try:
            to, created = await self._place(handle.id, handle._spec, handle._labels, None, dead)
        except ClusterError as exc:
            handle.lost = VMLost(
                f"VM {handle.id} ({handle.name!r}) lost host {dead.name} and could not be "
                f"reopened: {exc}"
            )
            self._forget(handle)
            return
        self._moved(handle, to, created)

    async def _migrate(self, handle: AsyncVMHandle, target: str | None) -> str:
        if not handle.durable:
            raise ClusterError(
                f"VM {handle.id} is not durable: only durable VMs (cluster.vm(name=...)) move",
                "not_durable",
            )
        src = handle._host
        if target is not None:
            dst = self._host_named(target)
            if dst is src:
                return src.name
            labels: dict[str, str] | None = {"host": dst.name}
        else:
            labels = handle._labels
        await handle._host_call("release", handle.id, what="migrate")
        try:
            to, created = await self._place(handle.id, handle._spec, labels, None, src)
        except BaseException:
            # put it back where it was, so a failed move loses nothing
            with contextlib.suppress(Exception):
                status, created = await src.actor.create.remote(handle.id, handle._spec)
                if status == "ok":
                    self._moved(handle, src, created)
            raise
        self._moved(handle, to, created)
        return to.name

    # --- lifetime ----------------------------------------------------------------------
    async def async_close(self) -> None:
        """Close every VM (durable ones are committed) and stop the hosts; stop Ray if this
        cluster started it."""
        if self.closed:
            return
        self.closed = True
        for handle in list(self._handles.values()):
            with contextlib.suppress(Exception):
                await handle.close()
        for host in self._hosts.values():
            if host.alive:
                with contextlib.suppress(Exception):
                    await host.actor.shutdown.remote()
                with contextlib.suppress(Exception):
                    self._ray.kill(host.actor)
                host.alive = False
                host.disconnect()
        if self._started_ray:
            shutdown_ray()

    def close(self) -> None:
        run_sync(self.async_close())

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> Cluster:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.async_close()
