"""The VMs a server hosts: who owns each, creating them from a request, idle expiry, and
durable VMs that come back after a restart.

A durable VM (``durable: true``, or ``workspace: NAME``) lives in the server's ``--store``: its
files in a workspace of ``STORE/workspaces`` and its record in ``STORE/vms.json``. It is saved
when it is idle-closed, when the server stops and on ``POST /v1/vms/{id}/save``; the next server
on that store lists it again and opens it on first use.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import secrets
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pocketos.server.asks import PendingPermissions
from pocketos.server.auth import Principal
from pocketos.server.config import ServerConfig
from pocketos.server.errors import ApiError
from pocketos.server.vmthread import VMThread, has_ask_rules

__all__ = ["Hosted", "Registry", "PendingPermissions"]

log = logging.getLogger("pocketos.server")
T = TypeVar("T")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_CREATE_KEYS = {
    "policy",
    "limits",
    "env",
    "cwd",
    "mounts",
    "snapshot",
    "workspace",
    "durable",
    "isolation",
    "name",
}


@dataclass
class Hosted:
    """One VM the server hosts."""

    id: str
    owner: str
    isolation: str
    spec: dict[str, Any]
    vm: Any = None
    created: float = field(default_factory=time.time)
    last_used: float = field(default_factory=time.monotonic)
    durable: str | None = None
    busy: int = 0
    permissions: PendingPermissions = field(default_factory=PendingPermissions)
    #: session id -> pocketos Session (in-process VMs)
    sessions: dict[str, Any] = field(default_factory=dict)
    #: per-VM objects other modules attach (terminals, ...), closed with the VM when they can be
    extras: dict[str, Any] = field(default_factory=dict)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    #: where an in-process VM with ``ask`` rules runs its execs and file calls
    thread: VMThread | None = None

    @property
    def in_process(self) -> bool:
        return self.isolation == "in-process"

    def touch(self) -> None:
        self.last_used = time.monotonic()

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "owner": self.owner,
            "isolation": self.isolation,
            "durable": self.durable is not None,
            "workspace": self.durable,
            "created": self.created,
            "open": self.vm is not None,
            "idle_seconds": round(time.monotonic() - self.last_used, 3),
            "sessions": sorted(self.sessions),
            "pending_permissions": len(self.permissions.items),
        }

    async def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """A sync VM method: on the loop for an in-process VM, in a thread for a process VM
        (each call there is a round trip to the worker)."""
        fn = getattr(self.vm, method)
        if self.thread is not None:
            return await self.thread.call(fn, *args, **kwargs)
        if self.in_process:
            return fn(*args, **kwargs)
        return await asyncio.to_thread(fn, *args, **kwargs)

    async def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await a coroutine of the VM (``exec``, ``run``, a terminal's or a session's) on the
        VM's loop, where its checks may block."""
        if self.thread is not None:
            return await self.thread.run(coro)
        return await coro

    async def sync(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """A sync call on one of the VM's objects (a terminal, a session), on the VM's loop."""
        if self.thread is not None:
            return await self.thread.call(fn, *args, **kwargs)
        return fn(*args, **kwargs)

    async def iterate(self, items: AsyncIterator[T]) -> AsyncIterator[T]:
        """An async iterator of the VM's objects (a session's events), stepped on the VM's
        loop and closed there."""
        if self.thread is None:
            async for item in items:
                yield item
            return
        try:
            while True:
                try:
                    item = await self.thread.run(_next(items))
                except StopAsyncIteration:
                    return
                yield item
        finally:
            closer = getattr(items, "aclose", None)
            if closer is not None and self.thread is not None:
                with contextlib.suppress(Exception):
                    await self.thread.run(closer())


async def _next(items: AsyncIterator[T]) -> T:
    return await items.__anext__()


class Registry:
    """All VMs of one server."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.vms: dict[str, Hosted] = {}
        self.store = Path(config.store) if config.store else None
        self.snapshots: dict[tuple[str, str], bytes] = {}  # without a store
        self._reaper: asyncio.Task[None] | None = None
        self.cluster: Any = None  # a pocketos.cluster.Cluster with ``cluster`` configured
        if self.store is not None:
            self.store.mkdir(parents=True, exist_ok=True)
            self._load_records()
        if config.cluster:  # joined at start (on this thread), so a bad address fails early
            from pocketos.server.cluster_backend import open_cluster

            ws = str(self.store / "workspaces") if self.store is not None else None
            self.cluster = open_cluster(str(config.cluster), ws)

    # --- durable records --------------------------------------------------------------------
    @property
    def _records_path(self) -> Path:
        assert self.store is not None
        return self.store / "vms.json"

    def _load_records(self) -> None:
        try:
            raw = json.loads(self._records_path.read_text())
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            raise ApiError(500, "store_error", f"cannot read {self._records_path}: {exc}")
        for rec in raw.get("vms", []):
            h = Hosted(
                rec["id"],
                rec["owner"],
                "cluster" if self.config.cluster else "in-process",
                rec.get("spec", {}),
                created=rec.get("created", time.time()),
                durable=rec["workspace"],
            )
            self.vms[h.id] = h

    def _save_records(self) -> None:
        if self.store is None:
            return
        recs = [
            {
                "id": h.id,
                "owner": h.owner,
                "workspace": h.durable,
                "spec": h.spec,
                "created": h.created,
            }
            for h in self.vms.values()
            if h.durable is not None
        ]
        tmp = self._records_path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"vms": recs}, indent=1))
        os.replace(tmp, self._records_path)

    @property
    def workspaces_dir(self) -> Path:
        if self.store is None:
            raise ApiError(
                422, "no_store", "durable VMs and workspaces need `pocketos serve --store DIR`"
            )
        return self.store / "workspaces"

    def workspace_name(self, owner: str, name: str) -> str:
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise ApiError(422, "invalid_request", f"bad workspace name {name!r}")
        return f"{owner}.{name}"

    # --- lookup -------------------------------------------------------------------------------
    def visible(self, who: Principal) -> list[Hosted]:
        return [h for h in self.vms.values() if who.admin or h.owner == who.name]

    async def get(self, who: Principal, vm_id: str) -> Hosted:
        h = self.vms.get(vm_id)
        if h is None or not (who.admin or h.owner == who.name):
            raise ApiError(404, "vm_not_found", f"no such VM: {vm_id}")
        if h.vm is None:
            async with h.lock:
                if h.vm is None:
                    h.permissions.bind()
                    h.vm = await asyncio.to_thread(self._build, h, h.spec)
                    self._attach_loop(h)
        h.touch()
        return h

    # --- create / delete ----------------------------------------------------------------------
    async def create(self, who: Principal, body: dict[str, Any]) -> Hosted:
        if not isinstance(body, dict):
            raise ApiError(422, "invalid_request", "the body must be a JSON object")
        unknown = sorted(set(body) - _CREATE_KEYS)
        if unknown:
            raise ApiError(422, "invalid_request", f"unknown field(s): {', '.join(unknown)}")
        self._room_for(who)
        isolation = body.get("isolation") or self.config.isolation
        if isolation not in ("process", "in-process"):
            raise ApiError(422, "invalid_request", "isolation must be 'process' or 'in-process'")
        if self.config.cluster:
            isolation = "cluster"  # in-process VMs inside the cluster's host processes
        durable: str | None = None
        if body.get("workspace") is not None or body.get("durable"):
            wname = body.get("workspace") or body.get("name") or f"vm-{secrets.token_hex(4)}"
            durable = self.workspace_name(who.name, wname)
            if any(h.durable == durable for h in self.vms.values()):
                raise ApiError(409, "conflict", f"workspace {wname!r} is open in another VM")
            if isolation == "process":
                if body.get("isolation") == "process":
                    raise ApiError(
                        501,
                        "not_supported",
                        "durable VMs run in-process for now; ask for isolation 'in-process'",
                    )
                isolation = "in-process"
        vm_id = f"vm-{secrets.token_hex(6)}"
        h = Hosted(vm_id, who.name, isolation, dict(body), durable=durable)
        h.permissions.bind()
        h.vm = await asyncio.to_thread(self._build, h, body)
        self._attach_loop(h)
        self.vms[vm_id] = h
        if durable is not None:
            self._save_records()
        return h

    def _room_for(self, who: Principal) -> None:
        mine = [h for h in self.vms.values() if h.owner == who.name]
        cap = self.config.max_vms_per_token
        if cap and len(mine) >= cap:
            raise ApiError(403, "too_many_vms", f"{who.name} already has {cap} VMs (the limit)")

    async def fork(self, who: Principal, h: Hosted, body: dict[str, Any]) -> Hosted:
        """A new VM of ``who`` from ``h``'s files (``VM.fork``); ``body`` may override policy,
        limits, env and cwd. The child is not durable and has its own ``ask`` queue."""
        if h.isolation not in ("in-process", "process"):
            raise ApiError(501, "not_supported", "fork is not available for a VM on a cluster")
        self._room_for(who)
        opts = {k: body[k] for k in ("policy", "limits", "env", "cwd") if body.get(k) is not None}
        spec = {k: v for k, v in h.spec.items() if k not in ("durable", "workspace", "name")}
        child = Hosted(f"vm-{secrets.token_hex(6)}", who.name, h.isolation, {**spec, **opts})
        child.permissions.bind()
        if h.in_process and "policy" not in opts:
            opts["policy"] = h.vm.policy.spec  # the parent's rules, not its handler
        opts["permission_handler"] = child.permissions.handler
        child.vm = await h.call("fork", **opts)
        self._attach_loop(child)
        self.vms[child.id] = child
        return child

    async def mount(self, h: Hosted, path: str, ref: Any) -> None:
        """Mount one of the server's named host folders into a running VM."""
        if h.isolation not in ("in-process", "process"):
            raise ApiError(501, "not_supported", "host mounts are not available on a cluster")
        spec = self._mounts({path: ref})[path]
        await h.call("mount", path, host=spec["host"], mode=spec["mode"])

    def _build(self, h: Hosted, body: dict[str, Any]) -> Any:
        from pocketos.vm import AsyncVM

        if self.config.cluster:
            return self._build_on_cluster(h, body)

        opts: dict[str, Any] = {}
        for key in ("policy", "limits", "env", "cwd"):
            if body.get(key) is not None:
                opts[key] = body[key]
        if body.get("name") is not None:
            opts["name"] = str(body["name"])
        mounts = self._mounts(body.get("mounts"))
        if mounts:
            opts["mounts"] = mounts
        if body.get("snapshot") is not None:
            opts["snapshots"] = [self.snapshot_bytes(h.owner, str(body["snapshot"]))]
        opts["permission_handler"] = h.permissions.handler
        if h.durable is not None:
            opts.pop("name", None)  # the workspace's name
            store = self.workspaces_dir
            store.mkdir(parents=True, exist_ok=True)
            return AsyncVM.open(h.durable, store=str(store), **opts)
        return AsyncVM(isolation=h.isolation, **opts)

    def _build_on_cluster(self, h: Hosted, body: dict[str, Any]) -> Any:
        """The VM on a host of the cluster (``serve --cluster``); durable VMs live in the
        server's store, which the hosts must see (a shared folder or an fsspec URL)."""
        from pocketos.server.cluster_backend import ClusterVM, open_cluster

        if body.get("mounts"):
            raise ApiError(501, "not_supported", "host mounts are not available on a cluster")
        if self.cluster is None:
            store = str(self.workspaces_dir) if self.store is not None else None
            self.cluster = open_cluster(str(self.config.cluster), store)
        opts: dict[str, Any] = {}
        for key in ("policy", "limits", "env", "cwd"):
            if body.get(key) is not None:
                opts[key] = body[key]
        if body.get("snapshot") is not None:
            opts["snapshots"] = [self.snapshot_bytes(h.owner, str(body["snapshot"]))]
        if h.durable is None and body.get("name") is not None:
            opts["name"] = str(body["name"])
        handle = self.cluster.vm(h.durable, **opts)
        return ClusterVM(handle.async_handle, body.get("limits"))

    def _attach_loop(self, h: Hosted) -> None:
        # a process VM answers its worker's ``ask`` questions on the loop it is used from; make
        # that the server's loop from the start, so an ask met by a file call waits for the API
        note = getattr(h.vm, "_note_loop", None)
        if note is not None:
            note()
        h.permissions.timeout = self.config.ask_timeout
        policy = getattr(h.vm, "policy", None) if h.in_process else None
        if policy is not None:
            policy.ask_timeout = self.config.ask_timeout
            if has_ask_rules(policy):
                # a command's check under an ``ask`` rule blocks its thread until the answer
                h.thread = VMThread(h.id)

    def _mounts(self, value: Any) -> dict[str, Any]:
        """``{"/vm/path": "name"}`` or ``{"/vm/path": {"name": ..., "mode": "ro"}}``: only the
        host paths the server's config names; a mode may narrow it (rw → ro), never widen."""
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise ApiError(422, "invalid_request", "mounts must be an object of path -> name")
        out: dict[str, Any] = {}
        rank = {"ro": 0, "overlay": 1, "rw": 2}
        for path, ref in value.items():
            name, mode = (ref, None) if isinstance(ref, str) else (None, None)
            if isinstance(ref, dict):
                name, mode = ref.get("name"), ref.get("mode")
            allowed = self.config.mounts.get(name) if isinstance(name, str) else None
            if allowed is None:
                raise ApiError(
                    403,
                    "mount_not_allowed",
                    f"mount {path}: {name!r} is not one of the server's mounts "
                    f"({', '.join(sorted(self.config.mounts)) or 'none configured'})",
                )
            mode = mode or allowed["mode"]
            if mode not in rank or rank[mode] > rank[allowed["mode"]]:
                raise ApiError(
                    403,
                    "mount_not_allowed",
                    f"mount {path}: {name} allows mode {allowed['mode']}, not {mode}",
                )
            out[path] = {"host": allowed["host"], "mode": mode}
        return out

    async def delete(self, who: Principal, vm_id: str) -> None:
        h = self.vms.get(vm_id)
        if h is None or not (who.admin or h.owner == who.name):
            raise ApiError(404, "vm_not_found", f"no such VM: {vm_id}")
        del self.vms[vm_id]
        await self._close(h, save=False)
        if h.durable is not None:
            self._save_records()

    async def _close(self, h: Hosted, *, save: bool) -> None:
        h.permissions.close()
        for sess in list(h.sessions.values()):
            with contextlib.suppress(Exception):
                await h.run(sess.close())
        h.sessions.clear()
        for extra in list(h.extras.values()):
            closer = getattr(extra, "aclose", None) or getattr(extra, "close", None)
            if closer is not None:
                with contextlib.suppress(Exception):
                    res = closer()
                    if asyncio.iscoroutine(res):
                        await res
        h.extras.clear()
        vm, h.vm = h.vm, None
        if vm is None:
            return
        if h.durable is not None and not save:
            vm._durable.autosave = False
        thread, h.thread = h.thread, None
        try:
            if thread is not None:
                try:
                    await thread.run(vm.aclose())
                finally:
                    await thread.aclose()
            elif h.in_process:
                await vm.aclose()
            else:
                await asyncio.to_thread(vm.close)
        except Exception:
            log.exception("closing VM %s", h.id)

    async def save(self, h: Hosted, message: str = "") -> Any:
        if h.durable is None:
            raise ApiError(422, "not_durable", f"VM {h.id} is not durable")
        return await asyncio.to_thread(h.vm.save, message or "save over the API")

    # --- snapshots ----------------------------------------------------------------------------
    def _snap_path(self, owner: str, digest: str) -> Path | None:
        if not re.fullmatch(r"[0-9a-f]{16,128}", digest):
            raise ApiError(422, "invalid_request", f"bad snapshot digest {digest!r}")
        if self.store is None:
            return None
        return self.store / "snapshots" / owner / f"{digest}.tar"

    def put_snapshot(self, owner: str, digest: str, data: bytes) -> None:
        p = self._snap_path(owner, digest)
        if p is None:
            self.snapshots[(owner, digest)] = data
            return
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_suffix(".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, p)

    def snapshot_bytes(self, owner: str, digest: str) -> bytes:
        p = self._snap_path(owner, digest)
        data = self.snapshots.get((owner, digest)) if p is None else None
        if p is not None:
            with contextlib.suppress(FileNotFoundError):
                data = p.read_bytes()
        if data is None:
            raise ApiError(404, "snapshot_not_found", f"no such snapshot: {digest}")
        return data

    def list_snapshots(self, owner: str) -> list[str]:
        if self.store is None:
            return sorted(d for (o, d) in self.snapshots if o == owner)
        d = self.store / "snapshots" / owner
        return sorted(p.stem for p in d.glob("*.tar")) if d.is_dir() else []

    # --- lifetime -----------------------------------------------------------------------------
    async def reap_idle(self) -> int:
        """Close VMs unused for ``idle_timeout`` seconds (durable ones are saved and stay
        listed); the number closed."""
        limit = self.config.idle_timeout
        if not limit:
            return 0
        now = time.monotonic()
        n = 0
        for h in list(self.vms.values()):
            if h.vm is None or h.busy or h.sessions or now - h.last_used < limit:
                continue
            if h.durable is None:
                self.vms.pop(h.id, None)
            await self._close(h, save=True)
            n += 1
        return n

    async def run_reaper(self) -> None:
        limit = self.config.idle_timeout
        if not limit:
            return
        period = min(30.0, max(0.05, limit / 4))
        while True:
            await asyncio.sleep(period)
            try:
                await self.reap_idle()
            except Exception:
                log.exception("idle reaper")

    async def close(self) -> None:
        for h in list(self.vms.values()):
            await self._close(h, save=True)
        self._save_records()
        if self.cluster is not None:
            cluster, self.cluster = self.cluster, None
            await cluster.async_close()
