"""Durable VMs: a VM whose root lives in a ``root`` workspace and survives the host process.

``AsyncVM.open(name, store=…)`` opens (or creates) workspace ``name``: the VM's root is the
shared base image, the workspace's tree above it (lazy), and a fresh writable layer. ``save()``
commits the writable layer as a run, with the VM's environment and working directory, which
the next ``open`` restores; closing the VM saves it unless ``autosave=False``.
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

    def save(self, vm: Any, message: str = "") -> RunInfo | None:
        meta: dict[str, Any] = {"env": dict(vm.kernel.env), "cwd": vm.cwd}
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
    **options: Any,
) -> Any:
    """Build a ``cls`` (AsyncVM) over workspace ``name`` on the base image ``base``, creating
    the workspace if it does not exist."""
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
    for job in meta.get("schedules") or []:
        kw = {k: job[k] for k in ("exec", "prompt", "overlap", "agent", "id") if job.get(k)}
        vm.schedule(job.get("cron"), at=job.get("at"), **kw)
    return vm
