"""Workspaces: named bases and chains of committed runs on a content-addressed store.

    store = WorkspaceStore("/var/pocketos/ws")          # or "s3://bucket/prefix"
    store.create_base("repo", host_dir="./repo")
    store.create("task-1", base="repo")
    ws = store.open("task-1", vm, "/work")               # lazy: no file read yet
    vm.exec("cd /work && make")
    ws.commit("built")                                   # writes only what changed
    store.log("task-1"); store.diff("task-1", 0, 1); store.checkout("task-1", 0)

See docs/workspaces.md for the format and the guarantees.
"""

from __future__ import annotations

from pocketos.workspaces.checkout import Checkout, open_workspace
from pocketos.workspaces.errors import (
    CorruptObjectError,
    WorkspaceError,
    WorkspaceExistsError,
    WorkspaceLockedError,
    WorkspaceNotFoundError,
)
from pocketos.workspaces.hostsync import HostConflictError, HostFolder
from pocketos.workspaces.storage import FsspecStorage, LocalStorage, Storage, open_storage
from pocketos.workspaces.store import FORMAT, VERSION, Change, RunInfo
from pocketos.workspaces.store import WorkspaceStore as _Store

__all__ = [
    "WorkspaceStore",
    "Checkout",
    "HostFolder",
    "HostConflictError",
    "Change",
    "RunInfo",
    "Storage",
    "LocalStorage",
    "FsspecStorage",
    "open_storage",
    "WorkspaceError",
    "WorkspaceExistsError",
    "WorkspaceNotFoundError",
    "WorkspaceLockedError",
    "CorruptObjectError",
    "FORMAT",
    "VERSION",
]


class WorkspaceStore(_Store):
    __doc__ = _Store.__doc__

    def open(
        self,
        name: str,
        vm: object,
        path: str = "/workspace",
        *,
        run: int | None = None,
        readonly: bool = False,
    ) -> Checkout:
        """Mount workspace ``name`` in ``vm`` at ``path`` (lazy: reads the manifest's root only)."""
        return open_workspace(self, name, vm, path, run=run, readonly=readonly)
