"""Per-task workspaces on disk: restore, commit cost proportional to change, corruption."""

from __future__ import annotations

from pathlib import Path

import pytest

from pocketos import VM
from pocketos.paperclip import WorkspaceStore


def test_commit_restore_and_incremental_cost(tmp_path: Path) -> None:
    store = WorkspaceStore(tmp_path)
    assert store.load("task-1", "/workspace") is None
    vm = VM(snapshots=[WorkspaceStore.empty("/workspace")])
    vm.write_file("/workspace/big.bin", b"x" * 100_000)
    vm.mkdir("/workspace/sub")
    vm.write_file("/workspace/sub/a.txt", b"a\n")
    first = store.commit("task-1", vm.snapshot("/workspace"))
    assert (first["files"], first["newBlobs"], first["newBytes"]) == (2, 2, 100_002)
    vm.close()

    snap = store.load("task-1", "/workspace")
    assert snap is not None
    vm2 = VM(snapshots=[snap])
    assert vm2.read_file("/workspace/sub/a.txt") == b"a\n"
    vm2.write_file("/workspace/sub/a.txt", b"changed\n")
    second = store.commit("task-1", vm2.snapshot("/workspace"))
    # only the changed file is written again
    assert (second["newBlobs"], second["newBytes"]) == (1, 8)
    assert store.manifest("task-1")["runs"] == 2  # type: ignore[index]
    vm2.close()

    # tasks are separate; a task restored at another path moves with it
    assert store.load("task-2", "/workspace") is None
    moved = store.load("task-1", "/elsewhere")
    assert moved is not None
    vm3 = VM(snapshots=[moved])
    assert vm3.read_file("/elsewhere/sub/a.txt") == b"changed\n"
    vm3.close()


def test_a_corrupt_blob_is_an_error_not_a_silent_empty_workspace(tmp_path: Path) -> None:
    store = WorkspaceStore(tmp_path)
    vm = VM(snapshots=[WorkspaceStore.empty("/w")])
    vm.write_file("/w/f", b"data")
    store.commit("t", vm.snapshot("/w"))
    vm.close()
    (blob,) = list((tmp_path / "blobs").iterdir())
    blob.write_bytes(b"evil")
    with pytest.raises(ValueError, match="is corrupt"):
        store.load("t", "/w")
    blob.unlink()
    with pytest.raises(ValueError, match="is missing"):
        store.load("t", "/w")
