"""What the layers of an overlay say about one path: whether an entry is a whiteout, whether
a directory is opaque, and which layers provide a path (Linux overlayfs's rules)."""

from __future__ import annotations

import stat as S

from pocketos.kernel.fs.api import Backend, StatResult
from pocketos.kernel.fs.memory import MemoryBackend

__all__ = ["is_opaque", "is_whiteout", "join", "step"]


def is_whiteout(st: StatResult) -> bool:
    return S.S_ISCHR(st.st_mode) and st.st_rdev == 0


def join(path: str, name: str) -> str:
    return (path.rstrip("/") + "/" + name) if path != "/" else "/" + name


def step(path: str, layers: tuple[Backend, ...]) -> tuple[tuple[Backend, ...], bool] | None:
    """Which of ``layers`` (those providing the parent directory, top first) provide ``path``,
    and whether it is a directory; None when none does."""
    found: list[Backend] = []
    is_dir = False
    for layer in layers:
        if type(layer) is MemoryBackend:
            # the inode tells all three (type, whiteout, opaque) without an exception per miss
            node = layer.lookup(path)
            if node is None:
                continue
            mode, rdev, opaque = node.mode, node.rdev, node.opaque
        else:
            try:
                st = layer.lstat(path)
            except (FileNotFoundError, NotADirectoryError):
                continue
            mode, rdev, opaque = st.st_mode, st.st_rdev, False
        if S.S_ISCHR(mode) and rdev == 0:  # a whiteout
            break
        if not S.S_ISDIR(mode):
            if not found:
                found.append(layer)
            break
        if not found:
            is_dir = True
        found.append(layer)
        if opaque or (type(layer) is not MemoryBackend and is_opaque(layer, path)):
            break
    if not found:
        return None
    return tuple(found), is_dir


def is_opaque(layer: Backend, path: str) -> bool:
    fn = getattr(layer, "is_opaque", None)
    return bool(fn(path)) if fn is not None else False
