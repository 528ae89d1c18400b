"""Where the workspace store keeps its objects: a local directory or any fsspec URL.

Both backends offer the same small key/value contract (keys are ``/``-separated relative
paths). Writes are atomic: a local write goes to a temporary file in the same directory, is
fsynced and renamed over the key (then the directory is fsynced); an fsspec write is one object
put, which object stores apply atomically. ``create`` writes only if the key is absent
(``O_EXCL`` locally, a conditional ``If-None-Match: *`` put on S3).
"""

from __future__ import annotations

import contextlib
import os
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

__all__ = ["Storage", "LocalStorage", "FsspecStorage", "open_storage"]


class Storage(ABC):
    """Atomic key/value storage of bytes."""

    url: str

    @abstractmethod
    def read(self, key: str) -> bytes:
        """The bytes under ``key``; ``FileNotFoundError`` if absent."""

    def read_range(self, key: str, start: int, length: int) -> bytes:
        """``length`` bytes of ``key`` from ``start`` (fewer at its end)."""
        return self.read(key)[start : start + length]

    @abstractmethod
    def write(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key`` atomically (replacing any previous value)."""

    @abstractmethod
    def create(self, key: str, data: bytes, *, durable: bool = True) -> bool:
        """Store ``data`` only if ``key`` is absent; False if it already existed.
        ``durable=False``: exclusive but not flushed to disk (a lock: a power loss ends
        its holder anyway)."""

    def put_object(self, key: str, data: bytes) -> bool:
        """Store immutable content-addressed ``data`` unless ``key`` exists. Two writers of
        the same key write the same bytes, so a replace is harmless; the object is durable
        once :meth:`barrier` returns. False if it was already there."""
        if self.exists(key):
            return False
        self.write(key, data)
        return True

    def barrier(self) -> None:  # noqa: B027 - object stores are durable at each put
        """Make every :meth:`put_object` so far durable (before they are referenced)."""

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove ``key`` (absent keys are ignored)."""

    @abstractmethod
    def keys(self, prefix: str) -> list[str]:
        """Every key under the directory ``prefix`` (recursively), sorted."""

    @abstractmethod
    def mtime(self, key: str) -> float:
        """Modification time of ``key`` (seconds since the epoch)."""

    @abstractmethod
    def size(self, key: str) -> int: ...


def _check_key(key: str) -> None:
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"invalid storage key: {key!r}")


class LocalStorage(Storage):
    """A directory on the host. ``fsync=False`` skips the flushes to disk: every write is
    still atomic (a killed process leaves the old state), but a power loss may lose the last
    commits — git's default trade-off for its object files."""

    def __init__(self, root: str | os.PathLike[str], *, fsync: bool = True) -> None:
        self.root = Path(root).expanduser().absolute()
        self.url = str(self.root)
        self.fsync = fsync
        self.root.mkdir(parents=True, exist_ok=True)
        self._dirty_dirs: set[Path] = set()
        self._seq = 0

    def _path(self, key: str) -> Path:
        _check_key(key)
        return self.root / key

    def read(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def read_range(self, key: str, start: int, length: int) -> bytes:
        with open(self._path(key), "rb") as f:
            f.seek(start)
            return f.read(length)

    def _tmp(self, path: Path, data: bytes, durable: bool = True) -> str:
        self._seq += 1
        tmp = str(path.parent / f".tmp-{os.getpid()}-{self._seq}-{path.name[:16]}")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(tmp, flags, 0o644)
        except FileNotFoundError:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(tmp, flags, 0o644)
        except FileExistsError:  # left by a killed process that had our pid
            os.unlink(tmp)
            fd = os.open(tmp, flags, 0o644)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                if self.fsync and durable:
                    f.flush()
                    os.fsync(f.fileno())
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        return tmp

    def _sync_dir(self, path: Path) -> None:
        if not self.fsync:
            return
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def write(self, key: str, data: bytes) -> None:
        path = self._path(key)
        tmp = self._tmp(path, data)
        os.replace(tmp, path)
        self._sync_dir(path.parent)

    def create(self, key: str, data: bytes, *, durable: bool = True) -> bool:
        path = self._path(key)
        tmp = self._tmp(path, data, durable)
        try:
            os.link(tmp, path)  # atomic and exclusive: fails if the key exists
        except FileExistsError:
            return False
        finally:
            os.unlink(tmp)
        if durable:
            self._sync_dir(path.parent)
        return True

    def put_object(self, key: str, data: bytes) -> bool:
        path = self._path(key)
        if path.exists():
            return False
        os.replace(self._tmp(path, data), path)
        self._dirty_dirs.add(path.parent)
        return True

    def barrier(self) -> None:
        dirs, self._dirty_dirs = self._dirty_dirs, set()
        for d in sorted(dirs):
            self._sync_dir(d)

    def exists(self, key: str) -> bool:
        return self._path(key).exists()

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._path(key).unlink()

    def keys(self, prefix: str) -> list[str]:
        base = self._path(prefix)
        if not base.is_dir():
            return []
        out = []
        for dirpath, _dirs, files in os.walk(base):
            rel = Path(dirpath).relative_to(self.root).as_posix()
            for name in files:
                if not name.startswith(".tmp-"):
                    out.append(f"{rel}/{name}")
        return sorted(out)

    def temporaries(self) -> list[Path]:
        """Leftover temporary files of interrupted writes (removed by garbage collection)."""
        return sorted(self.root.rglob(".tmp-*"))

    def mtime(self, key: str) -> float:
        return self._path(key).stat().st_mtime

    def size(self, key: str) -> int:
        return self._path(key).stat().st_size


class FsspecStorage(Storage):
    """Any fsspec filesystem (``s3://bucket/prefix``, ``gcs://``, ``memory://`` ...)."""

    def __init__(self, url: str, **storage_options: Any) -> None:
        import fsspec

        fs, path = fsspec.core.url_to_fs(url, **storage_options)
        self.fs = fs
        self.base = path.rstrip("/")
        self.url = url

    def _path(self, key: str) -> str:
        _check_key(key)
        return f"{self.base}/{key}"

    def read(self, key: str) -> bytes:
        try:
            data = self.fs.cat_file(self._path(key))
        except FileNotFoundError:
            raise FileNotFoundError(f"{self.url}/{key}") from None
        return bytes(data)

    def read_range(self, key: str, start: int, length: int) -> bytes:
        try:
            data = self.fs.cat_file(self._path(key), start=start, end=start + length)
        except FileNotFoundError:
            raise FileNotFoundError(f"{self.url}/{key}") from None
        return bytes(data)

    def write(self, key: str, data: bytes) -> None:
        self.fs.pipe_file(self._path(key), data)

    def create(self, key: str, data: bytes, *, durable: bool = True) -> bool:
        path = self._path(key)
        try:
            with self.fs.open(path, "xb") as f:
                f.write(data)
        except FileExistsError:
            return False
        except ValueError:
            # a filesystem without exclusive create: check, then put (not atomic)
            if self.fs.exists(path):
                return False
            self.fs.pipe_file(path, data)
        return True

    def exists(self, key: str) -> bool:
        return bool(self.fs.exists(self._path(key)))

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm_file(self._path(key))

    def keys(self, prefix: str) -> list[str]:
        base = self._path(prefix)
        try:
            found = self.fs.find(base)
        except FileNotFoundError:
            return []
        n = len(self.base) + 1
        strip = self.base.lstrip("/")
        out = []
        for p in found:
            p = p.lstrip("/")
            out.append(p[len(strip) + 1 :] if p.startswith(strip) else p[n:])
        return sorted(out)

    def _info(self, key: str) -> dict[str, Any]:
        return dict(self.fs.info(self._path(key)))

    def mtime(self, key: str) -> float:
        info = self._info(key)
        m = info.get("LastModified") or info.get("mtime") or info.get("created") or 0
        if hasattr(m, "timestamp"):
            return float(m.timestamp())
        return float(m)

    def size(self, key: str) -> int:
        return int(self._info(key).get("size") or 0)


def open_storage(
    url: str | os.PathLike[str] | Storage, *, fsync: bool = True, **storage_options: Any
) -> Storage:
    """A local directory for a path or ``file://`` URL, fsspec for any other URL."""
    if isinstance(url, Storage):
        return url
    s = os.fspath(url)
    if s.startswith("file://"):
        return LocalStorage(s[len("file://") :], fsync=fsync)
    if "://" in s:
        return FsspecStorage(s, **storage_options)
    return LocalStorage(s, fsync=fsync)
