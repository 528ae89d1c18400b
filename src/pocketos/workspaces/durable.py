"""Durable VMs: a VM whose root lives in a ``root`` workspace and survives the host process.

``AsyncVM.open(name, store=…)`` opens (or creates) workspace ``name``: the VM's root is the
shared base image, the workspace's tree above it (lazy), and a fresh writable layer. ``save()``
commits the writable layer as a run, with the VM's environment and working directory, the
declarations of its mounts (host folders, memory filesystems) and the cwd and exported
variables of its named shells, which the next ``open`` restores; closing the VM saves it
unless ``autosave=False``.

A host folder is mounted again only when the caller asks (``host_mounts=True``): the store is
data, and whoever can write it must not be able to hand a VM a folder of the host.
"""

from __future__ import annotations

import os
from typing import Any

from pocketos.kernel.fs.api import Backend
from pocketos.workspaces.checkout import Checkout
from pocketos.workspaces.store import RunInfo, WorkspaceStore
from pocketos.workspaces.treefs import TreeBackend

__all__ = ["Durable", "open_durable", "coerce_store"]


def coerce_store(store: Any) -> WorkspaceStore:
    if isinstance(store, WorkspaceStore):
        return store
    if store is None or isinstance(store, (str, os.PathLike)):
        return WorkspaceStore(store)
    raise TypeError(f"store must be a WorkspaceStore, a path or a URL, not {type(store).__name__}")


class Durable:
    """What ties a VM to its workspace."""

    def __init__(self, checkout: Checkout, meta: dict[str, Any], autosave: bool) -> None:
        self.checkout = checkout
        self.meta = meta
        self.autosave = autosave

    @property
    def store(self) -> WorkspaceStore:
        return self.checkout.store

    @property
    def name(self) -> str:
        return self.checkout.name

    def shell_state(self, name: str) -> dict[str, Any] | None:
        """The saved cwd and exported variables of the shell named ``name``."""
        state = (self.meta.get("shells") or {}).get(name)
        if not isinstance(state, dict):
            return None
        env, cwd = state.get("env"), state.get("cwd")
        if not isinstance(env, dict) or not isinstance(cwd, str):
            return None
        return {"env": {str(k): str(v) for k, v in env.items()}, "cwd": cwd}

    def save(self, vm: Any, message: str = "") -> RunInfo | None:
        meta: dict[str, Any] = {"env": dict(vm.kernel.env), "cwd": vm.cwd}
        # mounts: what was saved and not undone in this session, and what this session
        # declared (None: unmounted, or a backend that cannot be declared again)
        mounts = {**(self.meta.get("mounts") or {}), **vm._mount_decls}
        mounts = {p: d for p, d in sorted(mounts.items()) if d is not None}
        if mounts:
            meta["mounts"] = mounts
        shells = dict(self.meta.get("shells") or {})
        for name, sh in vm._shells.items():
            shells[name] = {"cwd": sh.cwd, "env": sh.shell.exported_env()}
        if shells:
            meta["shells"] = dict(sorted(shells.items()))
        if vm._cron is not None and vm._cron.saved():
            meta["schedules"] = vm._cron.saved()
        same = meta == self.meta
        info = self.checkout.commit(
            message or "save", author=f"vm:{self.name}", meta=meta, allow_empty=not same
        )
        if info is not None:
            self.meta = meta
        return info


def open_durable(
    cls: Any,
    name: str,
    *,
    base: Backend,
    store: Any = None,
    autosave: bool = True,
    host_mounts: bool = False,
    **options: Any,
) -> Any:
    """Build a ``cls`` (AsyncVM) over workspace ``name`` on the base image ``base``, creating
    the workspace if it does not exist. Saved memory mounts are declared again (empty, like a
    tmpfs after a reboot); saved host folders only with ``host_mounts=True``."""
    st = coerce_store(store)
    if not st.exists(name):
        try:
            st.create(name, kind="root")
        except Exception:
            if not st.exists(name):  # not lost to a concurrent creator
                raise
    head = st.head(name)
    if head.get("kind") != "root":
        raise ValueError(
            f"workspace {name!r} is a tree workspace; mount it with WorkspaceStore.open()"
        )
    tree = st.manifest(name, head=head)
    meta: dict[str, Any] = {}
    if head["runs"]:
        meta = dict(st.run_doc(head["runs"][-1]).get("meta", {}))
    layer = TreeBackend(tree, st.objects)
    opts: dict[str, Any] = {}
    if isinstance(meta.get("env"), dict):
        opts["env"] = meta["env"]
    if isinstance(meta.get("cwd"), str):
        opts["cwd"] = meta["cwd"]
    opts.setdefault("name", name)
    opts.update(options)
    vm = cls(_lowers=[layer, base], **opts)
    vm._durable = Durable(Checkout(st, name, vm._root, layer, len(head["runs"])), meta, autosave)
    _restore_mounts(vm, meta.get("mounts"), host_mounts)
    for job in meta.get("schedules") or []:
        kw = {k: job[k] for k in ("exec", "prompt", "overlap", "agent", "id") if job.get(k)}
        vm.schedule(job.get("cron"), at=job.get("at"), **kw)
    return vm


def _restore_mounts(vm: Any, saved: Any, host_mounts: bool) -> None:
    """Declare the saved mounts again. A path mounted by the options given to ``open`` keeps
    that mount; one that cannot be mounted (its host folder is gone) is skipped and audited,
    and stays saved."""
    if not isinstance(saved, dict):
        return
    taken = {m["path"] for m in vm.mounts()}
    for path, decl in sorted(saved.items()):
        if path in taken or not isinstance(decl, dict) or not isinstance(path, str):
            continue
        readonly = bool(decl.get("readonly"))
        try:
            if decl.get("memory") is True:
                vm.mount(path, memory=True, readonly=readonly)
            elif isinstance(decl.get("host"), str) and host_mounts:
                if not os.path.isdir(decl["host"]):
                    raise FileNotFoundError(f"host folder {decl['host']} is gone")
                vm.mount(path, host=decl["host"], mode=str(decl.get("mode")), readonly=readonly)
            else:
                continue
        except (OSError, ValueError) as exc:
            vm.kernel.audit.record(
                "mount", capability="fs.mount", resource=path, decision="error", reason=str(exc)
            )
