"""A host folder mounted in a VM as an overlay, whose changes can be reviewed and applied back.

    folder = HostFolder.mount(vm, "./repo", "/work")   # reads the host, writes stay in the VM
    vm.exec("cd /work && ./fix.sh")
    for c in folder.changes(): print(c.status, c.path); print(c.patch)
    folder.apply()                                    # all or nothing

At mount time the folder's state is recorded (type, size, mtime of every entry). ``apply``
refuses — and writes nothing — when a path it would write or delete was changed on the host
since then, so work done on the host meanwhile is never overwritten. Files are written by a
temporary file and a rename; nothing is written through a symlink.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import stat as S
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pocketos.kernel.fs.memory import MemoryBackend
from pocketos.kernel.fs.overlay import OverlayBackend
from pocketos.workspaces.errors import WorkspaceError
from pocketos.workspaces.store import Change
from pocketos.workspaces.tree import Entry, Tree, apply_delta, capture_upper, unified_diff

__all__ = ["HostFolder", "HostConflictError"]

Stamp = tuple[int, int, int]  # file type bits, size, mtime_ns


class HostConflictError(WorkspaceError):
    """Host paths changed since the folder was mounted; ``conflicts`` lists them."""

    def __init__(self, message: str, conflicts: list[str]) -> None:
        super().__init__(message)
        self.conflicts = conflicts


def _stamp(st: os.stat_result) -> Stamp:
    return (S.S_IFMT(st.st_mode), st.st_size, st.st_mtime_ns)


def _walk(root: Path) -> dict[str, Stamp]:
    out: dict[str, Stamp] = {}

    def walk(p: Path, rel: str) -> None:
        try:
            st = os.lstat(p)
        except FileNotFoundError:
            return
        out[rel] = _stamp(st)
        if S.S_ISDIR(st.st_mode):
            for name in os.listdir(p):
                walk(p / name, f"{rel}/{name}" if rel else name)

    walk(root, "")
    return out


@dataclass
class _Op:
    kind: str  # delete | mkdir | file | symlink
    path: str
    entry: Entry | None = None


class HostFolder:
    """Host directory ``host`` mounted at ``path`` in a VM, with its state at mount time."""

    def __init__(self, vm: Any, host: str | os.PathLike[str], path: str) -> None:
        self.vm = vm
        self.host = Path(host).absolute()
        self.path = path
        self.baseline = _walk(self.host)
        mount = next(m for m in vm.vfs.mounts if m.path == path)
        if not isinstance(mount.backend, OverlayBackend):
            raise ValueError(f"{path} is not an overlay mount of a host folder")
        self.overlay: OverlayBackend = mount.backend
        self.lower = self.overlay.lowers[-1]

    @classmethod
    def mount(cls, vm: Any, host: str | os.PathLike[str], path: str) -> HostFolder:
        """Mount ``host`` at ``path`` as an overlay and record its state."""
        if not os.path.isdir(host):
            raise NotADirectoryError(f"not a directory: {host}")
        vm.mount(path, host=os.fspath(host), mode="overlay")
        return cls(vm, host, path)

    # --- what changed ----------------------------------------------------------------------
    def _delta(self) -> tuple[Tree, dict[str, bytes]]:
        ov = self.overlay
        idx = next(i for i, layer in enumerate(ov.lowers) if layer is self.lower)
        layers = [ov.upper, *ov.lowers[:idx]]
        delta: Tree = {}
        blobs: dict[str, bytes] = {}
        for layer in reversed(layers):
            if not isinstance(layer, MemoryBackend):
                continue
            d, b = capture_upper(layer)
            delta = apply_delta(delta, d, keep_whiteouts=True) if delta else d
            blobs.update(b)
        return delta, blobs

    def _lstat(self, rel: str) -> os.stat_result | None:
        """``lstat`` of ``rel`` in the folder, None if it or a parent is missing or a parent is
        not a real directory (a symlink is never followed)."""
        cur = self.host
        parts = rel.split("/")
        try:
            for part in parts[:-1]:
                cur = cur / part
                if not S.S_ISDIR(os.lstat(cur).st_mode):
                    return None
            return os.lstat(cur / parts[-1])
        except (FileNotFoundError, NotADirectoryError):
            return None

    def _host_entry(self, rel: str, contents: dict[str, bytes]) -> Entry | None:
        p = self.host / rel
        st = self._lstat(rel)
        if st is None:
            return None
        e: Entry = {"m": S.S_IMODE(st.st_mode)}
        if S.S_ISDIR(st.st_mode):
            e["t"] = "d"
        elif S.S_ISLNK(st.st_mode):
            e.update(t="l", l=os.readlink(p))
        elif S.S_ISREG(st.st_mode):
            data = p.read_bytes()
            d = hashlib.sha256(data).hexdigest()
            contents[d] = data
            e.update(t="f", b=d, s=len(data))
        else:
            e["t"] = "c"
        return e

    def _host_files_under(self, rel: str) -> list[str]:
        st = self._lstat(rel)
        if st is None or not S.S_ISDIR(st.st_mode):
            return []
        out = []
        for dirpath, dirs, files in os.walk(self.host / rel):
            base = Path(dirpath).relative_to(self.host).as_posix()
            for name in [*files, *(d for d in dirs if os.path.islink(os.path.join(dirpath, d)))]:
                out.append(f"{base}/{name}" if base != "." else name)
        return sorted(out)

    def _plan(self) -> tuple[list[Change], list[_Op], dict[str, bytes]]:
        delta, blobs = self._delta()
        contents = dict(blobs)
        changes: list[Change] = []
        ops: list[_Op] = []

        def change(status: str, rel: str, old: Entry | None, new: Entry | None) -> None:
            patch = unified_diff(rel, old, new, contents.__getitem__)
            changes.append(Change(status, rel, patch.startswith("Binary files "), patch))

        for rel in sorted(delta):
            e = delta[rel]
            hp = self._host_entry(rel, contents)
            t = e["t"]
            if t == "w":
                if hp is not None:
                    for sub in self._host_files_under(rel) if hp["t"] == "d" else [rel]:
                        change("deleted", sub, self._host_entry(sub, contents), None)
                    ops.append(_Op("delete", rel))
                continue
            if t == "d":
                if hp is None or hp["t"] != "d":
                    if hp is not None:
                        change("deleted", rel, hp, None)
                        ops.append(_Op("delete", rel))
                    ops.append(_Op("mkdir", rel, e))
                elif e.get("o"):
                    # the VM replaced the directory: host files it no longer has go
                    for sub in self._host_files_under(rel):
                        if sub not in delta:
                            change("deleted", sub, self._host_entry(sub, contents), None)
                            ops.append(_Op("delete", sub))
                continue
            if t not in ("f", "l"):
                continue  # device nodes stay in the VM
            if hp is None:
                change("added", rel, None, e)
            elif hp["t"] == t and hp.get("b") == e.get("b") and hp.get("l") == e.get("l"):
                if hp.get("m") == e.get("m"):
                    continue  # copied up (touch, chmod back …) but the same
                change("modified", rel, hp, e)
            else:
                change("modified", rel, hp, e)
                if hp["t"] == "d":
                    ops.append(_Op("delete", rel))
            ops.append(_Op("file" if t == "f" else "symlink", rel, e))
        changes.sort(key=lambda c: c.path)
        return changes, ops, blobs

    def changes(self) -> list[Change]:
        """What applying would do to the host folder (added/modified/deleted, with diffs)."""
        return self._plan()[0]

    # --- applying --------------------------------------------------------------------------
    def conflicts(self) -> list[str]:
        """Host paths that the changes touch and that changed on the host since the mount."""
        _, ops, _ = self._plan()
        return self._conflicts(ops)

    def _conflicts(self, ops: list[_Op]) -> list[str]:
        out: set[str] = set()
        for op in ops:
            paths = [op.path]
            if op.kind == "delete":
                paths += self._host_files_under(op.path)
            for rel in paths:
                st = self._lstat(rel)
                now: Stamp | None = _stamp(st) if st is not None else None
                before = self.baseline.get(rel)
                if now is not None and before is not None and now[0] == before[0] == S.S_IFDIR:
                    continue  # a directory's size and mtime change with its entries
                if now != before:
                    out.add(rel)
        return sorted(out)

    def apply(self, *, force: bool = False) -> list[Change]:
        """Write the VM's changes to the host folder; returns them. Raises
        :class:`HostConflictError` and writes nothing if a touched host path changed since
        the mount (``force=True`` overwrites anyway)."""
        changes, ops, blobs = self._plan()
        if not force:
            bad = self._conflicts(ops)
            if bad:
                raise HostConflictError(
                    f"{len(bad)} path(s) changed in {self.host} since it was mounted: "
                    + ", ".join(bad[:5])
                    + (" ..." if len(bad) > 5 else "")
                    + "; nothing was applied",
                    bad,
                )
        for op in ops:
            self._do(op, blobs)
        self.baseline = _walk(self.host)
        return changes

    def _real_parent(self, rel: str) -> Path:
        """The host directory that will hold ``rel``, checked to be a real directory (no
        symlink on the way) inside the folder."""
        cur = self.host
        for part in rel.split("/")[:-1]:
            cur = cur / part
            st = os.lstat(cur)
            if not S.S_ISDIR(st.st_mode):
                raise WorkspaceError(f"{cur} is not a directory (a symlink?); not writing {rel}")
        return cur

    def _do(self, op: _Op, blobs: dict[str, bytes]) -> None:
        parent = self._real_parent(op.path)
        target = parent / op.path.rsplit("/", 1)[-1]
        e = op.entry or {}
        if op.kind == "delete":
            try:
                st = os.lstat(target)
            except FileNotFoundError:
                return
            if S.S_ISDIR(st.st_mode):
                shutil.rmtree(target)
            else:
                target.unlink()
        elif op.kind == "mkdir":
            with contextlib.suppress(FileExistsError):
                target.mkdir(mode=int(e.get("m", 0o755)) & 0o7777)
        elif op.kind == "symlink":
            with contextlib.suppress(FileNotFoundError):
                target.unlink()
            os.symlink(e["l"], target)
        else:
            tmp = parent / f".pocketos-apply-{os.getpid()}-{target.name}"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(blobs[e["b"]] if e.get("s") else b"")
            os.chmod(tmp, int(e.get("m", 0o644)) & 0o7777)
            os.replace(tmp, target)
