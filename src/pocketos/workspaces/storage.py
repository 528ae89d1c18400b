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
import tempfile
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

    @abstractmethod
    def write(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key`` atomically (replacing any previous value)."""

    @abstractmethod
    def create(self, key: str, data: bytes) -> bool:
        """Store ``data`` only if ``key`` is absent; False if it already existed."""

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
    """A directory on the host."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser().absolute()
        self.url = str(self.root)
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        _check_key(key)
        return self.root / key

    def read(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def _tmp(self, path: Path, data: bytes) -> str:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        return tmp

    def _sync_dir(self, path: Path) -> None:
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

    def create(self, key: str, data: bytes) -> bool:
        path = self._path(key)
        tmp = self._tmp(path, data)
        try:
            os.link(tmp, path)  # atomic and exclusive: fails if the key exists
        except FileExistsError:
            return False
        finally:
            os.unlink(tmp)
        self._sync_dir(path.parent)
        return True

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

    def write(self, key: str, data: bytes) -> None:
        self.fs.pipe_file(self._path(key), data)

    def create(self, key: str, data: bytes) -> bool:
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


def open_storage(url: str | os.PathLike[str] | Storage, **storage_options: Any) -> Storage:
    """A local directory for a path or ``file://`` URL, fsspec for any other URL."""
    if isinstance(url, Storage):
        return url
    s = os.fspath(url)
    if s.startswith("file://"):
        return LocalStorage(s[len("file://") :])
    if "://" in s:
        return FsspecStorage(s, **storage_options)
    return LocalStorage(s)
