"""The hard links of a layer that never changes: every path naming an inode, indexed once per
layer, so that copying up one name of a hard-linked file can copy up the others."""

from __future__ import annotations

import stat as S
import weakref

from pocketos.kernel.fs.api import Backend
from pocketos.kernel.fs.layer_lookup import join
from pocketos.kernel.fs.memory import MemoryBackend

__all__ = ["aliases"]

#: per immutable layer: inode number -> every path naming it (built on first need; a
#: read-only layer never changes, so the index stays true)
_ALIASES: weakref.WeakKeyDictionary[Backend, dict[int, list[str]]] = weakref.WeakKeyDictionary()


def aliases(layer: Backend, ino: int) -> list[str]:
    own = getattr(layer, "aliases", None)
    if own is not None:
        return list(own(ino))  # a layer that indexes its own hard links (workspace trees)
    if not (isinstance(layer, MemoryBackend) and layer.readonly):
        return []  # only frozen memory layers are known never to change
    index = _ALIASES.get(layer)
    if index is None:
        index = {}
        stack = ["/"]
        while stack:
            d = stack.pop()
            try:
                names = layer.listdir(d)
            except OSError:
                continue
            for name in names:
                p = join(d, name)
                try:
                    st = layer.lstat(p)
                except OSError:
                    continue
                if S.S_ISDIR(st.st_mode):
                    stack.append(p)
                elif S.S_ISREG(st.st_mode) and st.st_nlink > 1:
                    index.setdefault(st.st_ino, []).append(p)
        _ALIASES[layer] = index
    return index.get(ino, [])
