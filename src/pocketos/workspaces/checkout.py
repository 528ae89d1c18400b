"""A workspace opened in a VM: its tree as a lazy read-only lower, a writable layer above.

Opening reads the tree (no file content); files are fetched on first read. ``commit`` records
what the writable layers hold (cost proportional to the change), then makes the new tree the
lower and starts a fresh writable layer, so the next commit again writes only its own change.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pocketos.kernel.fs.memory import MemoryBackend
from pocketos.kernel.fs.overlay import OverlayBackend
from pocketos.workspaces.manifest import Manifest
from pocketos.workspaces.store import Change, RunInfo, WorkspaceStore
from pocketos.workspaces.tree import Tree, apply_delta, capture_upper
from pocketos.workspaces.treefs import TreeBackend

__all__ = ["Checkout", "open_workspace"]


class Checkout:
    """Workspace ``name`` of ``store`` served by ``overlay`` (whose lower ``layer`` holds the
    tree of run ``runs``)."""

    def __init__(
        self,
        store: WorkspaceStore,
        name: str,
        overlay: OverlayBackend,
        layer: TreeBackend,
        runs: int,
        *,
        path: str = "/",
    ) -> None:
        self.store = store
        self.name = name
        self.overlay = overlay
        self.layer = layer
        self.runs = runs
        self.path = path

    @property
    def tree(self) -> Tree:
        """The committed tree this checkout is based on."""
        return self.layer.tree

    def _writable(self) -> list[MemoryBackend]:
        """The layers above the tree, top first (more than one after the VM was forked)."""
        ov = self.overlay
        idx = next(i for i, layer in enumerate(ov.lowers) if layer is self.layer)
        out = [ov.upper]
        for layer in ov.lowers[:idx]:
            if not isinstance(layer, MemoryBackend):
                raise TypeError(f"unexpected layer above the workspace: {layer!r}")
            out.append(layer)
        return out

    def pending(self) -> tuple[Tree, dict[str, bytes]]:
        """The uncommitted delta and the contents of its files."""
        delta: Tree = {}
        blobs: dict[str, bytes] = {}
        for layer in reversed(self._writable()):
            d, b = capture_upper(layer)
            delta = apply_delta(delta, d, keep_whiteouts=True) if delta else d
            blobs.update(b)
        return delta, blobs

    @property
    def dirty(self) -> bool:
        return any(capture_upper(layer)[0] for layer in self._writable())

    def changes(self) -> list[Change]:
        """Uncommitted changes (added/modified/deleted, with unified diffs)."""
        delta, blobs = self.pending()
        for d, data in blobs.items():
            self.store.objects.remember(d, data)
        keep = self.store.head(self.name).get("kind") == "root"
        after = apply_delta(self.tree, delta, keep_whiteouts=keep)
        return self.store.diff_trees(self.tree, after)

    def commit(
        self,
        message: str = "",
        *,
        author: str = "",
        meta: Mapping[str, Any] | None = None,
        allow_empty: bool = False,
        lock_timeout: float | None = None,
    ) -> RunInfo | None:
        """Record the changes since open (or the last commit) as a new run. Returns it, or
        None when nothing changed (unless ``allow_empty``)."""
        delta, blobs = self.pending()
        if not delta and not allow_empty:
            return None
        info, tree = self.store.append_run(
            self.name,
            delta,
            blobs,
            expect_runs=self.runs,
            prev=self.layer.manifest,
            author=author,
            message=message,
            meta=meta,
            lock_timeout=lock_timeout,
        )
        self._rebase(tree, info.n)
        return info

    def _rebase(self, tree: Manifest, runs: int) -> None:
        ov = self.overlay
        idx = next(i for i, layer in enumerate(ov.lowers) if layer is self.layer)
        new_layer = TreeBackend(tree, self.store.objects)
        old_upper = ov.upper
        upper = MemoryBackend(
            max_bytes=old_upper.max_bytes,
            max_inodes=old_upper.max_inodes,
            max_file_size=old_upper.max_file_size,
        )
        upper.bytes_used, upper.inodes_used = old_upper.usage()
        ov.lowers[: idx + 1] = [new_layer]
        ov.upper = upper
        self.layer = new_layer
        self.runs = runs


def open_workspace(
    store: WorkspaceStore,
    name: str,
    vm: Any,
    path: str = "/workspace",
    *,
    run: int | None = None,
    readonly: bool = False,
) -> Checkout:
    """Mount workspace ``name`` (at ``run``, default latest) in ``vm`` at ``path``."""
    head = store.head(name)
    if head.get("kind") == "root":
        raise ValueError(f"workspace {name!r} holds a whole VM root: open it with VM.open()")
    k = store._run_index(head, run)
    layer = TreeBackend(store.manifest(name, k, head=head), store.objects)
    lim = vm.limits
    upper = MemoryBackend(
        max_bytes=lim.max_fs_bytes, max_inodes=lim.max_fs_inodes, max_file_size=lim.max_file_size
    )
    overlay = OverlayBackend([layer], upper, readonly=readonly)
    vm.vfs.mount(path, overlay, readonly=readonly, kind="workspace")
    return Checkout(store, name, overlay, layer, k, path=path)
