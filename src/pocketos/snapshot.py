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

from pocketos.kernel.fs.memory import DEV_FULL, DEV_NULL, DEV_URANDOM, DEV_ZERO, MemoryBackend
from pocketos.kernel.fs.vfs import VFS

__all__ = ["Snapshot", "SnapshotError", "FORMAT", "VERSION"]

FORMAT = "pocketos-snapshot"
VERSION = 1
MANIFEST = "pocketos-snapshot.json"
#: JSON nesting a manifest may have (it has 3 levels; json.loads recurses per level)
MAX_JSON_DEPTH = 16
_TYPES = ("dir", "file", "symlink", "chardev", "hardlink")
_DEVICES = (DEV_NULL, DEV_ZERO, DEV_FULL, DEV_URANDOM)
_HEX = frozenset("0123456789abcdef")


class SnapshotError(ValueError):
    """A snapshot file that is not a well-formed pocketos snapshot (the message says why)."""


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
        _first_names_first(entries)
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
        """Read a snapshot from bytes or a host file path. A snapshot file is untrusted input:
        every field is checked, nothing it declares can make the loader allocate more than
        the file's own size, and every problem is one :class:`SnapshotError`."""
        if isinstance(src, (bytes, bytearray, memoryview)):
            data = bytes(src)
        elif isinstance(src, (str, Path)):
            data = Path(src).read_bytes()
        else:
            raise TypeError(f"a snapshot is bytes or a file path, not {type(src).__name__}")
        try:
            return _parse(data)
        except SnapshotError:
            raise
        except (
            tarfile.TarError,
            ValueError,
            KeyError,
            TypeError,
            IndexError,
            EOFError,
            RecursionError,
            UnicodeDecodeError,
        ) as exc:
            raise SnapshotError(f"not a pocketos snapshot: {type(exc).__name__}: {exc}") from None

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
        _check_manifest(self.root, self.entries, self.blobs)
        try:
            return self._build()
        except OSError as exc:
            raise SnapshotError(f"bad snapshot: {exc.strerror or exc}: {exc.filename}") from None

    def _build(self) -> MemoryBackend:
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


def _first_names_first(entries: list[dict[str, Any]]) -> None:
    """Make the first name of each hard-linked file in path order the one holding the
    content (the walk meets names in another order: 'a/b' before 'a-c')."""
    pos = {e["path"]: i for i, e in enumerate(entries)}
    canon: dict[str, str] = {}
    for e in entries:
        if e["type"] != "hardlink":
            continue
        first = e["link"]
        c = canon.get(first)
        if c is not None:
            e["link"] = c
        elif pos[first] < pos[e["path"]]:
            canon[first] = first
        else:
            f = entries[pos[first]]
            e["type"], e["size"], e["blob"] = "file", f.pop("size"), f.pop("blob")
            del e["link"]
            f["type"], f["link"] = "hardlink", e["path"]
            canon[first] = e["path"]


# --- reading untrusted snapshot files -----------------------------------------------------------
def _parse(data: bytes) -> Snapshot:
    tar = tarfile.open(fileobj=io.BytesIO(data), mode="r:")  # noqa: SIM115
    manifest: bytes | None = None
    blobs: dict[str, bytes] = {}
    budget = len(data)  # no member can hold more than the file itself
    with tar:
        for m in tar:
            if not m.isfile() or m.issparse():
                raise SnapshotError(f"bad snapshot: member {m.name!r} is not a plain file")
            if m.size > budget:
                raise SnapshotError(
                    f"bad snapshot: member {m.name!r} claims {m.size} bytes, more than the file"
                )
            budget -= m.size
            f = tar.extractfile(m)
            if f is None:
                raise SnapshotError(f"bad snapshot: member {m.name!r} cannot be read")
            content = f.read(m.size + 1)
            if len(content) != m.size:
                raise SnapshotError(f"bad snapshot: member {m.name!r} is truncated")
            if m.name == MANIFEST and manifest is None:
                manifest = content
            elif m.name.startswith("blobs/") and _is_digest(m.name[6:]):
                digest = m.name[6:]
                if digest in blobs:
                    raise SnapshotError(f"bad snapshot: blob {digest} appears twice")
                if hashlib.sha256(content).hexdigest() != digest:
                    raise SnapshotError(f"snapshot blob {digest} is corrupt")
                blobs[digest] = content
            else:
                raise SnapshotError(f"bad snapshot: unexpected member {m.name!r}")
    if manifest is None:
        raise SnapshotError("not a pocketos snapshot: manifest missing")
    man = _load_json(manifest)
    if not isinstance(man, dict) or man.get("format") != FORMAT:
        raise SnapshotError("not a pocketos snapshot: wrong format tag")
    if man.get("version") != VERSION:
        raise SnapshotError(
            f"unsupported snapshot version {man.get('version')!r} "
            f"(this pocketos reads version {VERSION})"
        )
    unknown = set(man) - {"format", "version", "root", "entries"}
    if unknown:
        raise SnapshotError(f"bad snapshot: unknown manifest key(s) {sorted(unknown)}")
    root: Any = man.get("root")
    entries: Any = man.get("entries")
    _check_manifest(root, entries, blobs)
    return Snapshot(root, entries, blobs)


def _load_json(raw: bytes) -> Any:
    depth = 0
    in_str = esc = False
    for ch in raw:  # refuse deep nesting before json.loads recurses into it
        if in_str:
            if esc:
                esc = False
            elif ch == 0x5C:
                esc = True
            elif ch == 0x22:
                in_str = False
        elif ch == 0x22:
            in_str = True
        elif ch in (0x5B, 0x7B):
            depth += 1
            if depth > MAX_JSON_DEPTH:
                raise SnapshotError("bad snapshot: manifest nested too deeply")
        elif ch in (0x5D, 0x7D):
            depth -= 1
    return json.loads(raw.decode("utf-8"))


def _is_digest(name: str) -> bool:
    return len(name) == 64 and set(name) <= _HEX


def _bad(what: str, e: Any = None) -> SnapshotError:
    where = f" (entry {e.get('path')!r})" if isinstance(e, dict) else ""
    return SnapshotError(f"bad snapshot: {what}{where}")


def _int(e: dict[str, Any], key: str, lo: int, hi: int) -> None:
    v = e.get(key)
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise _bad(f"{key} must be an integer in [{lo}, {hi}], not {v!r}", e)


def _check_rel(p: Any, what: str, e: Any) -> None:
    if not isinstance(p, str):
        raise _bad(f"{what} must be a string", e)
    if p == "":
        return
    if "\0" in p or p.startswith("/") or any(x in ("", ".", "..") for x in p.split("/")):
        raise _bad(f"{what} {p!r} is not a clean relative path", e)
    if len(p) > 4096:
        raise _bad(f"{what} is too long", e)


def _check_manifest(root: Any, entries: Any, blobs: dict[str, bytes]) -> None:
    if not isinstance(root, str) or not root.startswith("/") or "\0" in root:
        raise _bad(f"root must be an absolute path, not {root!r}")
    if root != "/" and (
        root.endswith("/") or any(x in ("", ".", "..") for x in root[1:].split("/"))
    ):
        raise _bad(f"root {root!r} is not a clean absolute path")
    if not isinstance(entries, list):
        raise _bad("entries must be a list")
    kinds: dict[str, str] = {}
    previous: str | None = None
    for e in entries:
        if not isinstance(e, dict):
            raise _bad("each entry must be an object")
        p = e.get("path")
        _check_rel(p, "path", e)
        assert isinstance(p, str)
        if previous is not None and p <= previous:
            raise _bad("entries must be sorted by path, each once", e)
        previous = p
        t = e.get("type")
        if t not in _TYPES:
            raise _bad(f"unknown type {t!r}", e)
        if p == "" and t != "dir":
            raise _bad("the root entry must be a directory", e)
        parent = p.rpartition("/")[0]
        if p and kinds.get(parent) != "dir":
            raise _bad("its parent directory is not in the snapshot", e)
        if t != "hardlink":
            _int(e, "mode", 0, 0o7777)
            _int(e, "uid", 0, 2**32 - 1)
            _int(e, "gid", 0, 2**32 - 1)
            _int(e, "atime_ns", -(2**63), 2**63 - 1)
            _int(e, "mtime_ns", -(2**63), 2**63 - 1)
        if t == "file":
            blob = e.get("blob")
            if not isinstance(blob, str) or blob not in blobs:
                raise _bad("its blob is missing", e)
            if e.get("size") != len(blobs[blob]):
                raise _bad("its size does not match its blob", e)
        elif t == "symlink":
            target = e.get("target")
            if not isinstance(target, str) or not target or "\0" in target or len(target) > 4096:
                raise _bad("a symlink target must be a non-empty string without NUL", e)
        elif t == "chardev":
            if e.get("rdev") not in _DEVICES:
                raise _bad(f"device {e.get('rdev')!r} is not one pocketos provides", e)
        elif t == "hardlink":
            link = e.get("link")
            _check_rel(link, "link", e)
            if not link or kinds.get(link) != "file":
                raise _bad("a hard link must name an earlier regular file of the snapshot", e)
        kinds[p] = t
