"""A VM host: one process (a Ray actor) that holds many in-process VMs.

The class is plain Python — :mod:`pocketos.cluster.cluster` turns it into a Ray actor — so it
never imports Ray. Every method answers ``("ok", value)`` or ``("err", exception)``: the client
re-raises the VM's own exception (``FileNotFoundError``, ``LimitExceeded`` ...), not a Ray
wrapper around it. The actor is asynchronous: calls on different VMs (and several execs on one
VM) run concurrently on the host's event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
import resource
import socket
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pocketos.cluster.errors import ClusterError, ClusterFull, VMLost

__all__ = ["VMHost", "READS", "WRITES", "EXECS"]

Reply = tuple[str, Any]

#: VM methods that read: a call on a dead host is repeated on the recovered VM
READS = frozenset(
    {
        "read_file",
        "read_text",
        "read_files",
        "readdir",
        "readdir_recursive",
        "stat",
        "lstat",
        "exists",
        "readlink",
        "disk_usage",
        "snapshot",
        "audit_log",
        "list_processes",
        "process_tree",
        "mounts",
        "schedules",
    }
)
#: VM methods that change the VM: with ``durability="call"`` a durable VM is committed after each
EXECS = frozenset({"exec", "run"})
WRITES = EXECS | frozenset(
    {
        "write_file",
        "write_files",
        "mkdir",
        "move",
        "rename",
        "copy",
        "delete",
        "chmod",
        "symlink",
        "save",
    }
)
_SESSION_CALLS = frozenset(
    {"prompt", "cancel", "set_mode", "set_model", "set_config_option", "close", "transcript"}
)


def _rss() -> int:
    """This process's resident memory in bytes."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _ray_node() -> str | None:
    """The id of the Ray node this host runs on (None outside Ray). Ray is already loaded in
    an actor's process: it is looked up, never imported here. A process that imported Ray
    without joining a cluster is outside it: its runtime context would start a local Ray."""
    ray = sys.modules.get("ray")
    try:
        if ray is None or not ray.is_initialized():
            return None
        return str(ray.get_runtime_context().get_node_id())
    except Exception:
        return None


def _portable(exc: BaseException) -> BaseException:
    """``exc`` if it survives pickling, else a ClusterError that says what it was."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:
        return ClusterError(f"{type(exc).__name__}: {exc}", "remote_error")


@dataclass
class _Hosted:
    vm: Any
    spec: dict[str, Any]
    running: int = 0
    sessions: set[str] = field(default_factory=set)
    shells: set[str] = field(default_factory=set)

    @property
    def durable(self) -> bool:
        return self.vm._durable is not None


class VMHost:
    """Holds VMs by id; the cluster client places, calls, moves and recovers them."""

    def __init__(
        self,
        name: str,
        *,
        labels: dict[str, str] | None = None,
        capacity: int = 64,
        session_store: str | None = None,
        secret: bytes | None = None,
    ) -> None:
        self.name = name
        self._secret = secret
        self._wire: Any = None
        self.labels = dict(labels or {})
        self.capacity = capacity
        self.session_store = session_store
        self._vms: dict[str, _Hosted] = {}
        self._stores: dict[str, Any] = {}  # workspace stores opened with options, by URL
        self._sessions: dict[str, tuple[str, Any]] = {}
        self._shells: dict[str, tuple[str, Any]] = {}
        self._running = 0
        self._next_shell = 0

    # --- load --------------------------------------------------------------------------
    def info(self) -> Reply:
        vm_bytes = 0
        for h in self._vms.values():
            with contextlib.suppress(Exception):
                vm_bytes += int(h.vm.disk_usage()[0])
        return (
            "ok",
            {
                "name": self.name,
                "labels": dict(self.labels),
                "hostname": socket.gethostname(),
                "pid": os.getpid(),
                "vms": len(self._vms),
                "capacity": self.capacity,
                "running": self._running,
                "rss": _rss(),
                "cpu": time.process_time(),  # this process's CPU seconds, all its threads
                "vm_bytes": vm_bytes,
                "sessions": len(self._sessions),
                "node": _ray_node(),
            },
        )

    # --- VM lifetime -------------------------------------------------------------------
    def create(self, vm_id: str, spec: dict[str, Any]) -> Reply:
        """Open a VM: ``spec`` has ``name``/``store`` (a durable VM, reopened from its last run)
        or neither (a fresh VM), ``options`` for the VM and ``durability``."""
        if vm_id in self._vms:
            return ("err", ClusterError(f"VM {vm_id} is already on host {self.name}", "exists"))
        if len(self._vms) >= self.capacity:
            return ("err", ClusterFull(f"host {self.name} holds {self.capacity} VMs (its limit)"))
        from pocketos.vm import AsyncVM

        options = dict(spec.get("options") or {})
        try:
            if spec.get("name"):
                store = self._store(spec.get("store"), spec.get("store_options"))
                vm = AsyncVM.open(spec["name"], store=store, **options)
            else:
                vm = AsyncVM(**options)
        except Exception as exc:
            return ("err", _portable(exc))
        self._vms[vm_id] = _Hosted(vm, dict(spec))
        runs = vm._durable.checkout.runs if vm._durable is not None else None
        return ("ok", {"host": self.name, "run": runs, "kernel_id": vm.id})

    def _store(self, url: Any, options: dict[str, Any] | None) -> Any:
        """The store a durable VM opens: its URL, or (with fsspec options such as S3
        credentials) one WorkspaceStore per URL, shared by the VMs of this host."""
        if not options:
            return url
        store = self._stores.get(url)
        if store is None:
            from pocketos.workspaces import WorkspaceStore

            store = self._stores[url] = WorkspaceStore(url, **options)
        return store

    async def release(self, vm_id: str, *, save: bool = True, force: bool = False) -> Reply:
        """Close a VM here (for a move or for good). A durable VM is committed first when
        ``save``; its sessions and shells are closed (their state is in the shared stores)."""
        h = self._vms.get(vm_id)
        if h is None:
            return ("ok", None)
        if h.running and not force:
            return (
                "err",
                ClusterError(
                    f"VM {vm_id} is running {h.running} exec(s) on host {self.name}; "
                    "wait for them to end",
                    "busy",
                ),
            )
        run = None
        try:
            if h.durable and save:
                info = h.vm.save("move")
                run = info.n if info is not None else h.vm._durable.checkout.runs
        except Exception as exc:
            return ("err", _portable(exc))
        del self._vms[vm_id]
        for sid in list(h.sessions):
            _, session = self._sessions.pop(sid, (None, None))
            if session is not None:
                with contextlib.suppress(Exception):
                    await session.close()
        for shid in list(h.shells):
            _, shell = self._shells.pop(shid, (None, None))
            if shell is not None:
                with contextlib.suppress(Exception):
                    await shell.aclose()
        await self._kill_execs(h)
        if h.vm._durable is not None:
            h.vm._durable.autosave = False
        with contextlib.suppress(Exception):
            await h.vm.aclose()
        return ("ok", run)

    async def _kill_execs(self, h: _Hosted) -> None:
        """End a VM's running execs with SIGKILL (status 137), including one whose first
        process is not started yet: kill until none is left running (at most ~5 s)."""
        for _ in range(5000):
            if not h.running:
                return
            for proc in h.vm.list_processes():
                if proc.get("status") == "running":
                    with contextlib.suppress(Exception):
                        h.vm.kill(proc["pid"], "KILL")
            await asyncio.sleep(0.001)

    async def shutdown(self) -> Reply:
        if self._wire is not None:
            self._wire.close()
        for vm_id in list(self._vms):
            await self.release(vm_id, force=True)
        return ("ok", None)

    # --- the direct path -----------------------------------------------------------------
    async def endpoint(self, client_node: str | None) -> Reply:
        """Listen for direct connections (see :mod:`pocketos.cluster.wire`): a Unix socket for
        a client on this Ray node, TCP on the node's address for one elsewhere. Answers the
        address to use, or an error when the host was made without a secret."""
        if self._secret is None:
            return ("err", ClusterError(f"host {self.name} has no direct path", "no_direct"))
        from pocketos.cluster.wire import WireServer, node_ip

        if self._wire is None:
            self._wire = WireServer(self, self._secret)
        here = _ray_node()
        local = client_node is not None and client_node == here
        try:
            addrs = await self._wire.listen(unix=local, tcp_host=None if local else node_ip())
        except OSError as exc:
            return ("err", ClusterError(f"host {self.name} cannot listen: {exc}", "no_direct"))
        key = "unix" if local and "unix" in addrs else "tcp"
        return ("ok", {key: addrs[key], "node": here})

    # --- calls -------------------------------------------------------------------------
    def _get(self, vm_id: str) -> _Hosted:
        h = self._vms.get(vm_id)
        if h is None:
            raise VMLost(f"VM {vm_id} is not on host {self.name}")
        return h

    async def call(
        self, vm_id: str, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Reply:
        if method not in READS and method not in WRITES:
            return ("err", AttributeError(f"a VM handle has no method {method!r}"))
        try:
            h = self._get(vm_id)
        except VMLost as exc:
            return ("err", exc)
        execs = method in EXECS
        if execs:
            h.running += 1
            self._running += 1
        try:
            value = getattr(h.vm, method)(*args, **kwargs)
            if asyncio.iscoroutine(value):
                value = await value
        except Exception as exc:
            return ("err", _portable(exc))
        finally:
            if execs:
                h.running -= 1
                self._running -= 1
        return self._commit(h, method, value)

    def _commit(self, h: _Hosted, method: str, value: Any) -> Reply:
        """With ``durability="call"`` a durable VM's change is committed before the caller
        hears of it, so whatever a caller saw done survives the host."""
        if (
            method in WRITES
            and method != "save"
            and h.durable
            and h.spec.get("durability", "call") == "call"
            and not h.vm.closed
        ):
            try:
                h.vm.save(f"{method}")
            except Exception as exc:
                return (
                    "err",
                    ClusterError(
                        f"{method} ran but its result could not be committed: {exc}",
                        "save_failed",
                    ),
                )
        return ("ok", value)

    def attr(self, vm_id: str, name: str) -> Reply:
        """A VM property: ``env``, ``cwd``, ``id``."""
        if name not in ("env", "cwd", "id", "closed"):
            return ("err", AttributeError(f"a VM handle has no property {name!r}"))
        try:
            value = getattr(self._get(vm_id).vm, name)
        except Exception as exc:
            return ("err", _portable(exc))
        return ("ok", dict(value) if name == "env" else value)

    # --- shells ------------------------------------------------------------------------
    def shell_open(self, vm_id: str, env: dict[str, str] | None, cwd: str | None) -> Reply:
        try:
            h = self._get(vm_id)
            shell = h.vm.shell(env=env, cwd=cwd)
        except Exception as exc:
            return ("err", _portable(exc))
        self._next_shell += 1
        shid = f"{vm_id}/sh{self._next_shell}"
        self._shells[shid] = (vm_id, shell)
        h.shells.add(shid)
        return ("ok", shid)

    async def shell_call(
        self, shid: str, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Reply:
        entry = self._shells.get(shid)
        if entry is None:
            return ("err", VMLost(f"shell {shid} is not on host {self.name}"))
        if method not in ("run", "aclose", "cwd"):
            return ("err", AttributeError(f"a shell handle has no method {method!r}"))
        vm_id, shell = entry
        if method == "cwd":
            return ("ok", shell.cwd)
        h = self._vms.get(vm_id)
        if h is not None and method == "run":
            h.running += 1
            self._running += 1
        try:
            value = await getattr(shell, method)(*args, **kwargs)
        except Exception as exc:
            return ("err", _portable(exc))
        finally:
            if h is not None and method == "run":
                h.running -= 1
                self._running -= 1
        if method == "aclose":
            self._shells.pop(shid, None)
            if h is not None:
                h.shells.discard(shid)
            return ("ok", None)
        return self._commit(h, "exec", value) if h is not None else ("ok", value)

    # --- sessions ----------------------------------------------------------------------
    async def _session(
        self,
        vm_id: str,
        start: Callable[[Any, dict[str, Any]], Awaitable[Any]],
        options: dict[str, Any],
    ) -> Reply:
        try:
            h = self._get(vm_id)
            opts = dict(options)
            if opts.get("store") is None and self.session_store is not None:
                opts["store"] = self.session_store
            session = await start(h.vm, opts)
        except Exception as exc:
            return ("err", _portable(exc))
        self._sessions[session.id] = (vm_id, session)
        h.sessions.add(session.id)
        return ("ok", session.id)

    async def session_create(self, vm_id: str, agent: Any, options: dict[str, Any]) -> Reply:
        return await self._session(
            vm_id, lambda vm, opts: vm.create_session(agent, **opts), options
        )

    async def session_resume(self, vm_id: str, session_id: str, options: dict[str, Any]) -> Reply:
        live = self._sessions.get(session_id)
        if live is not None and live[0] == vm_id:
            return ("ok", session_id)
        return await self._session(
            vm_id, lambda vm, opts: vm.resume_session(session_id, **opts), options
        )

    async def session_call(
        self, session_id: str, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Reply:
        entry = self._sessions.get(session_id)
        if entry is None:
            return ("err", VMLost(f"session {session_id} is not open on host {self.name}"))
        if method not in _SESSION_CALLS:
            return ("err", AttributeError(f"a session handle has no method {method!r}"))
        vm_id, session = entry
        try:
            value = getattr(session, method)(*args, **kwargs)
            if asyncio.iscoroutine(value):
                value = await value
        except Exception as exc:
            return ("err", _portable(exc))
        if method == "close":
            self._sessions.pop(session_id, None)
            h = self._vms.get(vm_id)
            if h is not None:
                h.sessions.discard(session_id)
        return ("ok", value)

    def session_attr(self, session_id: str, name: str) -> Reply:
        entry = self._sessions.get(session_id)
        if entry is None:
            return ("err", VMLost(f"session {session_id} is not open on host {self.name}"))
        if name not in ("status", "info", "agent", "can_load"):
            return ("err", AttributeError(f"a session handle has no property {name!r}"))
        return ("ok", getattr(entry[1], name))
