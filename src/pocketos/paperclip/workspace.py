"""Per-task workspaces on the host disk: a content-addressed blob directory shared by every
task of an agent, plus one manifest per Paperclip task key.

    store = WorkspaceStore("/var/lib/paperclip/.../.pocketos")
    snap = store.load(task_key, "/workspace")     # None on the first run of a task
    stats = store.commit(task_key, vm.snapshot("/workspace"))

A commit writes only the blobs it has not seen (cost grows with what changed, not with the
workspace) and replaces the manifest atomically, so a crash leaves the previous state."""

from __future__ import annotations

import hashlib
import json
import os
import stat as S
import tempfile
from pathlib import Path
from typing import Any

from pocketos.snapshot import Snapshot

__all__ = ["WorkspaceStore", "task_slot"]


def task_slot(task_key: str) -> str:
    """The file name of a task's manifest: a digest, so any task key is a safe name."""
    return hashlib.sha256(task_key.encode()).hexdigest()[:32]


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class WorkspaceStore:
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.blobs = self.root / "blobs"
        self.tasks = self.root / "tasks"

    def _ensure(self) -> None:
        self.blobs.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.tasks.mkdir(parents=True, exist_ok=True, mode=0o700)

    def manifest(self, task_key: str) -> dict[str, Any] | None:
        path = self.tasks / (task_slot(task_key) + ".json")
        try:
            data = json.loads(path.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise ValueError(f"workspace manifest {path} is unreadable: {exc}") from None
        if data.get("taskKey") != task_key:
            raise ValueError(f"workspace manifest {path} belongs to another task")
        return dict(data)

    def load(self, task_key: str, path: str) -> Snapshot | None:
        """The task's last committed workspace, placed at VM ``path``; None when the task has
        none yet. A missing or corrupt blob raises ValueError."""
        man = self.manifest(task_key)
        if man is None:
            return None
        entries = list(man["entries"])
        blobs: dict[str, bytes] = {}
        for e in entries:
            if e.get("type") != "file" or e["blob"] in blobs:
                continue
            digest = str(e["blob"])
            try:
                content = (self.blobs / digest).read_bytes()
            except FileNotFoundError:
                raise ValueError(f"workspace blob {digest} of {e['path']!r} is missing") from None
            if hashlib.sha256(content).hexdigest() != digest:
                raise ValueError(f"workspace blob {digest} of {e['path']!r} is corrupt")
            blobs[digest] = content
        return Snapshot(path, entries, blobs)

    def commit(self, task_key: str, snap: Snapshot) -> dict[str, Any]:
        """Save ``snap`` as the task's workspace. Returns what it cost: new blobs and bytes
        written, and the manifest's digest and size."""
        self._ensure()
        new_blobs = 0
        new_bytes = 0
        for digest, content in snap.blobs.items():
            target = self.blobs / digest
            if target.exists():
                continue
            _atomic_write(target, content)
            new_blobs += 1
            new_bytes += len(content)
        prev = self.manifest(task_key)
        body = {
            "taskKey": task_key,
            "root": snap.root,
            "entries": snap.entries,
            "runs": int(prev.get("runs", 0)) + 1 if prev else 1,
        }
        raw = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
        _atomic_write(self.tasks / (task_slot(task_key) + ".json"), raw)
        files = sum(1 for e in snap.entries if e.get("type") == "file")
        return {
            "files": files,
            "bytes": sum(len(b) for b in snap.blobs.values()),
            "newBlobs": new_blobs,
            "newBytes": new_bytes,
            "manifestBytes": len(raw),
            "digest": hashlib.sha256(
                json.dumps(snap.entries, sort_keys=True, separators=(",", ":")).encode()
            ).hexdigest(),
        }

    @staticmethod
    def empty(path: str) -> Snapshot:
        """An empty workspace directory at ``path`` (the first run of a task)."""
        return Snapshot(
            path,
            [
                {
                    "path": "",
                    "type": "dir",
                    "mode": S.S_IMODE(0o755),
                    "uid": 1000,
                    "gid": 1000,
                    "atime_ns": 0,
                    "mtime_ns": 0,
                }
            ],
            {},
        )
