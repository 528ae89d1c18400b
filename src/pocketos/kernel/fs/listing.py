"""Directory listings of the VFS: the names of a directory (with the mount points inside it
and the entry limit), each entry's lstat where the backend has it at hand, and the policy's
verdict on each entry for a walker."""

from __future__ import annotations

import errno
import stat as S
from typing import TYPE_CHECKING, cast

from pocketos.errors import fs_error
from pocketos.kernel.fs.api import StatResult

if TYPE_CHECKING:
    from pocketos.kernel.fs.vfs import VFS, Mount

Entries = list[tuple[str, StatResult | None]]


def names(
    vfs: VFS, path: str, shown: str | None, with_stats: bool
) -> tuple[list[str], list[str], Mount, str, dict[str, StatResult] | None]:
    """listdir()'s names, with the directory's resolved parts, mount and backend path, and
    (``with_stats``, where the backend has them at hand) each name's lstat."""
    parts, m, bpath, st = vfs._existing(path, "readdir", True, shown)
    if not S.S_ISDIR(st.st_mode):
        raise fs_error(errno.ENOTDIR, shown or path)
    known = None
    if with_stats and len(vfs.mounts) == 1:
        known = m.backend.lstat_entries(bpath)
    found = m.backend.listdir(bpath) if known is None else list(known)
    # mount points appear in their parent directory
    if len(vfs.mounts) > 1:
        n = len(parts)
        for mt in vfs.mounts:
            if len(mt.parts) == n + 1 and list(mt.parts[:n]) == parts and mt.parts[-1] not in found:
                found.append(mt.parts[-1])
    lim = vfs.max_readdir_entries
    if lim is not None and len(found) > lim:
        raise fs_error(
            errno.EOVERFLOW,
            shown or path,
            f"Too many directory entries (max_readdir_entries={lim})",
        )
    return found, parts, m, bpath, known


def scan(vfs: VFS, path: str, shown: str | None) -> tuple[Entries, list[str]]:
    """Each name of the directory with its lstat (None when it has none), and the
    directory's resolved parts."""
    found, parts, m, bpath, known = names(vfs, path, shown, True)
    if known is not None:
        return list(known.items()), parts
    base = bpath.rstrip("/") + "/"
    single = len(vfs.mounts) == 1
    out: Entries = []
    for name in found:
        mm, b = (m, base + name) if single else vfs._mount_for([*parts, name])
        try:
            st: StatResult | None = mm.backend.lstat(b)
        except OSError:
            st = None if single else vfs._synthetic_dir([*parts, name])
        out.append((name, st))
    return out, parts


def checked(
    vfs: VFS, path: str, shown: str | None
) -> list[tuple[str, StatResult | OSError | None]]:
    """:func:`scan`'s entries, each checked by the policy as ``lstat(path/name)`` checks it
    (a denied one carries the PermissionError)."""
    entries, parts = scan(vfs, path, shown)
    checker = vfs.checker
    if checker is None:
        return cast(list[tuple[str, StatResult | OSError | None]], entries)
    head = "/" + "/".join(parts)
    if head != "/":
        head += "/"
    out: list[tuple[str, StatResult | OSError | None]] = []
    for name, st in entries:
        if st is None:
            out.append((name, None))
            continue
        try:
            checker("stat", head + name)
        except PermissionError as exc:
            out.append((name, exc))
            continue
        out.append((name, st))
    return out
