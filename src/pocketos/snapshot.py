"""Snapshots: a deterministic, content-addressed export of a VM's tree.

Format (version 1) — an uncompressed POSIX tar (pax) archive holding, in this order:

* ``pocketos-snapshot.json`` — the manifest: ``{"format": "pocketos-snapshot", "version": 1,
  "root": "/abs/path", "entries": [...]}``. Entries are sorted by path (relative to ``root``,
  ``""`` is the root itself) and carry ``type`` (``dir``, ``file``, ``symlink``, ``chardev``,
  ``hardlink``), ``mode`` (permission bits), ``uid``, ``gid``, ``atime_ns``, ``mtime_ns``;
  files add ``size`` and ``blob`` (the SHA-256 of the content); symlinks ``target``; hard links
  ``link`` (the path of the first name of the same inode); devices ``rdev``.
* ``blobs/<sha256>`` — one member per distinct content, sorted by digest: identical files are
  stored once.

Every tar header is fixed (mtime 0, uid/gid 0, no user names), and the manifest is JSON with
sorted keys, so the same tree always produces the same bytes.
"""

from __future__ import annotations

import hashlib
import io
import json
import stat as S
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pocketos.kernel.fs.memory import MemoryBackend
from pocketos.kernel.fs.vfs import VFS

__all__ = ["Snapshot", "FORMAT", "VERSION"]

FORMAT = "pocketos-snapshot"
VERSION = 1
MANIFEST = "pocketos-snapshot.json"


@dataclass
class Snapshot:
    root: str
    entries: list[dict[str, Any]]
    blobs: dict[str, bytes] = field(default_factory=dict)

    # --- capture -------------------------------------------------------------------------
    @classmethod
    def capture(cls, vfs: VFS, path: str = "/") -> Snapshot:
        entries: list[dict[str, Any]] = []
        blobs: dict[str, bytes] = {}
        seen_inodes: dict[tuple[int, int], str] = {}
        root_mount = vfs.mount_of(path)[0]

        def add(abs_path: str, rel: str) -> None:
            st = vfs.stat(abs_path, follow_symlinks=False)
            e: dict[str, Any] = {
                "path": rel,
                "mode": S.S_IMODE(st.st_mode),
                "uid": st.st_uid,
                "gid": st.st_gid,
                "atime_ns": st.st_atime_ns,
                "mtime_ns": st.st_mtime_ns,
            }
            m = st.st_mode
            if S.S_ISDIR(m):
                e["type"] = "dir"
                entries.append(e)
                for name in sorted(vfs.listdir(abs_path)):
                    child = abs_path.rstrip("/") + "/" + name
                    if vfs.mount_of(child)[0] != root_mount:
                        continue  # other mounts are not part of this tree
                    add(child, f"{rel}/{name}" if rel else name)
                return
            if S.S_ISLNK(m):
                e["type"] = "symlink"
                e["target"] = vfs.readlink(abs_path)
            elif S.S_ISCHR(m):
                e["type"] = "chardev"
                e["rdev"] = st.st_rdev
            elif S.S_ISREG(m):
                key = (st.st_dev, st.st_ino)
                if st.st_nlink > 1 and key in seen_inodes:
                    e["type"] = "hardlink"
                    e["link"] = seen_inodes[key]
                else:
                    data = vfs.read_file(abs_path)
                    digest = hashlib.sha256(data).hexdigest()
                    blobs.setdefault(digest, data)
                    e["type"] = "file"
                    e["size"] = len(data)
                    e["blob"] = digest
                    if st.st_nlink > 1:
                        seen_inodes[key] = rel
            else:
                return
            entries.append(e)

        add(path, "")
        entries.sort(key=lambda e: e["path"])
        return cls(path, entries, blobs)

    # --- serialization -------------------------------------------------------------------
    def manifest(self) -> dict[str, Any]:
        return {"format": FORMAT, "version": VERSION, "root": self.root, "entries": self.entries}

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
            man = json.dumps(self.manifest(), sort_keys=True, separators=(",", ":")).encode()
            _add(tar, MANIFEST, man)
            for digest in sorted(self.blobs):
                _add(tar, "blobs/" + digest, self.blobs[digest])
        return buf.getvalue()

    def save(self, path: str | Path) -> None:
        """Write the snapshot to a host file."""
        Path(path).write_bytes(self.to_bytes())

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.to_bytes()).hexdigest()

    @classmethod
    def load(cls, src: bytes | str | Path) -> Snapshot:
        """Read a snapshot from bytes or a host file path."""
        data = src if isinstance(src, bytes) else Path(src).read_bytes()
        try:
            tar = tarfile.open(fileobj=io.BytesIO(data), mode="r:")  # noqa: SIM115
        except tarfile.TarError as exc:
            raise ValueError(f"not a pocketos snapshot: {exc}") from None
        with tar:
            member = tar.extractfile(MANIFEST) if MANIFEST in tar.getnames() else None
            if member is None:
                raise ValueError("not a pocketos snapshot: manifest missing")
            man = json.loads(member.read())
            if man.get("format") != FORMAT:
                raise ValueError("not a pocketos snapshot: wrong format tag")
            if man.get("version") != VERSION:
                raise ValueError(
                    f"unsupported snapshot version {man.get('version')} "
                    f"(this pocketos reads version {VERSION})"
                )
            blobs: dict[str, bytes] = {}
            for m in tar.getmembers():
                if m.name.startswith("blobs/") and m.isfile():
                    f = tar.extractfile(m)
                    assert f is not None
                    content = f.read()
                    digest = m.name[6:]
                    if hashlib.sha256(content).hexdigest() != digest:
                        raise ValueError(f"snapshot blob {digest} is corrupt")
                    blobs[digest] = content
        entries = man["entries"]
        for e in entries:
            if e.get("type") == "file" and e.get("blob") not in blobs:
                raise ValueError(f"snapshot is missing blob for {e['path']}")
            p = e.get("path", "")
            if p.startswith("/") or ".." in p.split("/"):
                raise ValueError(f"snapshot entry has an unsafe path: {p!r}")
        return cls(man["root"], entries, blobs)

    def inspect(self) -> dict[str, Any]:
        """Counts and sizes, for ``pocketos snapshot inspect``."""
        types: dict[str, int] = {}
        for e in self.entries:
            types[e["type"]] = types.get(e["type"], 0) + 1
        return {
            "format": FORMAT,
            "version": VERSION,
            "root": self.root,
            "entries": len(self.entries),
            "types": types,
            "blobs": len(self.blobs),
            "bytes": sum(len(b) for b in self.blobs.values()),
        }

    # --- import --------------------------------------------------------------------------
    def to_backend(self) -> MemoryBackend:
        """A frozen in-memory layer holding this tree at its original path."""
        fs = MemoryBackend()
        base = [p for p in self.root.split("/") if p]
        cur = ""
        for part in base:
            cur += "/" + part
            fs.mkdir(cur, 0o755)
        prefix = "/" + "/".join(base) if base else ""
        dirs: list[tuple[str, dict[str, Any]]] = []
        for e in self.entries:
            rel = e["path"]
            p = (prefix + "/" + rel) if rel else (prefix or "/")
            t = e["type"]
            if t == "dir":
                if p != "/" and fs.lookup(p) is None:
                    fs.mkdir(p, e["mode"])
                dirs.append((p, e))
                continue
            if t == "file":
                fs.create(p, e["mode"], exclusive=True)
                content = self.blobs[e["blob"]]
                if content:
                    fs.write(p, content, 0)
            elif t == "symlink":
                fs.symlink(e["target"], p)
            elif t == "chardev":
                fs.mknod(p, e["mode"], e.get("rdev", 0))
            elif t == "hardlink":
                fs.link((prefix + "/" + e["link"]), p)
                continue
            else:
                continue
            if t != "symlink":
                fs.chmod(p, e["mode"])
            fs.chown(p, e["uid"], e["gid"])
            if t != "symlink":
                fs.utimens(p, e["atime_ns"], e["mtime_ns"])
        for p, e in reversed(dirs):
            fs.chmod(p, e["mode"])
            fs.chown(p, e["uid"], e["gid"])
            fs.utimens(p, e["atime_ns"], e["mtime_ns"])
        return fs.freeze()


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 0
    info.mode = 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    tar.addfile(info, io.BytesIO(data))
