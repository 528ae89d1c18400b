"""The overlay backend: a writable upper layer over read-only lower layers.

Semantics follow Linux overlayfs: lookups go top-down; a whiteout (a character device with
``rdev == 0``) in a higher layer hides the name below; an opaque directory hides the lower
directories of the same path; directories of several layers merge. Writes copy the file up
into the upper layer first; deletions of lower entries leave a whiteout, so lower data is never
touched. Lower layers may themselves contain whiteouts and opaque directories (a sealed upper
layer of a forked VM), so layers stack to any depth.
"""

from __future__ import annotations

import errno
import stat as S
import weakref

from pocketos.errors import fs_error
from pocketos.kernel.budget import check_alloc
from pocketos.kernel.fs import memory as _memory
from pocketos.kernel.fs.api import Backend, BytesLike, StatResult
from pocketos.kernel.fs.layer_aliases import aliases as _aliases
from pocketos.kernel.fs.layer_lookup import is_opaque as _opaque
from pocketos.kernel.fs.layer_lookup import is_whiteout as _is_whiteout
from pocketos.kernel.fs.layer_lookup import join as _join
from pocketos.kernel.fs.layer_lookup import step as _step
from pocketos.kernel.fs.layer_merge import merge_layers
from pocketos.kernel.fs.layers import Layers
from pocketos.kernel.fs.memory import Inode, MemoryBackend

__all__ = ["OverlayBackend"]


def _parent_of(path: str) -> str:
    head = path.rstrip("/").rpartition("/")[0]
    return head or "/"


#: cached lookups kept per overlay before the cache starts over
_MAX_CACHED = 1 << 16

#: sealed layers stacked by fork (the only ones :meth:`OverlayBackend._squash` may merge;
#: a base image or a workspace tree stays a layer of its own)
_SEALED: weakref.WeakSet[MemoryBackend] = weakref.WeakSet()

#: sealed layers allowed on top of the lowers before they are merged into one
MAX_SEALED = 4


class OverlayBackend(Backend):
    """``upper`` over ``lowers`` (highest first). ``readonly`` makes every write EROFS."""

    kind = "overlay"
    #: sealed layers allowed on top of the lowers before :meth:`seal` merges them into one
    max_sealed = MAX_SEALED

    def __init__(
        self, lowers: list[Backend], upper: MemoryBackend | None = None, *, readonly: bool = False
    ) -> None:
        self._lowers = Layers(lowers)
        self._upper = upper if upper is not None else MemoryBackend()
        self.readonly = readonly
        #: path -> (layers providing it, is a directory); valid for ``_stack_token``
        self._stacks: dict[str, tuple[tuple[Backend, ...], bool]] = {}
        #: path -> the inode its top layer (a memory backend) holds there; cleared and pruned
        #: with ``_stacks``, so it is valid exactly when the path's stack is
        self._nodes: dict[str, tuple[MemoryBackend, Inode]] = {}
        self._stack_token: tuple[int, ...] | None = None
        self._seen_added = 0
        self._generation = 0
        #: ``memory.changes`` when the caches were last brought up to date, and whether they
        #: are on (every layer can tell when it changes)
        self._seen = -1
        self._caching = False
        #: the upper layer :meth:`seal` last started, and its root as it was then: a seal with
        #: nothing written since shares the layer sealed before instead of adding an empty one
        self._fresh: tuple[MemoryBackend, tuple[object, ...]] | None = None

    @property
    def upper(self) -> MemoryBackend:
        return self._upper

    @upper.setter
    def upper(self, layer: MemoryBackend) -> None:
        self._upper = layer
        _memory.namespace_changed()

    @property
    def lowers(self) -> list[Backend]:
        """The lower layers, highest first. Changing the list (or assigning a new one) counts
        as a change of names, as the lookup caches above need."""
        return self._lowers

    @lowers.setter
    def lowers(self, layers: list[Backend]) -> None:
        self._lowers = Layers(layers)
        _memory.namespace_changed()

    @property
    def layers(self) -> list[Backend]:
        return [self._upper, *self._lowers]

    # --- lookup ------------------------------------------------------------------------------
    # Which layers provide a path is cached per path (like a dentry cache): a lookup costs one
    # step from the deepest cached ancestor instead of a walk of every component through every
    # layer. The cache is valid while no layer lost or moved a name: each layer's identity and
    # ``generation`` form a token (a lower layer's additions count too). The token can only
    # move when ``memory.changes`` did (any memory backend gaining, losing or moving a name,
    # and any change of an overlay's layers, count there), so a lookup compares that one
    # number and builds the token only after it moved.
    # Names the upper layer gained since are dropped one by one (a new name can only change
    # the answer for itself: a directory copied up now has the upper layer in its stack).
    # A layer that cannot tell (a host directory, a remote store) turns the cache off; a layer
    # that never changes (``immutable = True``: a workspace tree) keeps it on.

    def _token(self) -> tuple[int, ...] | None:
        token = [id(self._upper), self._upper.generation]
        for layer in self._lowers:
            if not isinstance(layer, MemoryBackend):
                if getattr(layer, "immutable", False):
                    token.append(id(layer))  # never changes: its identity is enough
                    continue
                return None
            token.append(id(layer))
            token.append(layer.generation)
            token.append(len(layer.additions))
        return tuple(token)

    def _up_to_date(self) -> bool:
        """Bring the lookup caches up to date with the layers; False when they are off."""
        if self._seen == _memory.changes:
            return self._caching
        now = _memory.changes
        token = self._token()
        if token is None:
            if self._stack_token is not None:
                self._stacks.clear()
                self._nodes.clear()
                self._stack_token = None
            self._caching = False
        else:
            added = self._upper.additions
            if token != self._stack_token:
                self._stacks.clear()
                self._nodes.clear()
                self._stack_token = token
                self._seen_added = len(added)
                self._generation += 1
            elif len(added) != self._seen_added:
                cache, nodes = self._stacks, self._nodes
                for p in added[self._seen_added :]:
                    cache.pop(p, None)
                    nodes.pop(p, None)
                self._seen_added = len(added)
            self._caching = True
        self._seen = now
        return self._caching

    @property
    def generation(self) -> int | None:  # type: ignore[override]
        """Changes whenever a layer loses or moves a name (or the set of layers changes);
        adding a name leaves it as it is."""
        return self._generation if self._up_to_date() else None

    def _stack(self, path: str) -> tuple[tuple[Backend, ...], bool]:
        """The layers providing ``path`` (top first; more than one only for a merged
        directory) and whether it is a directory. Raises ENOENT/ENOTDIR."""
        if not self._up_to_date():
            found = self._walk(path, [self._upper, *self._lowers])
            return tuple(layer for layer, _ in found), S.S_ISDIR(found[0][1].st_mode)
        cache = self._stacks
        hit = cache.get(path)
        if hit is not None:
            return hit
        parts = [p for p in path.split("/") if p]
        k = len(parts)
        entry = None
        while k > 0:  # the deepest ancestor already known
            k -= 1
            entry = cache.get("/" + "/".join(parts[:k]))
            if entry is not None:
                break
        if entry is None:
            found = self._walk("/", [self._upper, *self._lowers])
            entry = (tuple(layer for layer, _ in found), True)
            cache["/"] = entry
            k = 0
        if len(cache) > _MAX_CACHED:
            cache.clear()
            self._nodes.clear()
        cur = "/" + "/".join(parts[:k])
        for name in parts[k:]:
            layers, is_dir = entry
            if not is_dir:
                raise fs_error(errno.ENOTDIR, path)
            cur = _join(cur, name)
            step = _step(cur, layers)
            if step is None:
                raise fs_error(errno.ENOENT, path)
            entry = cache[cur] = step
        return entry

    def _walk(self, path: str, layers: list[Backend]) -> list[tuple[Backend, StatResult]]:
        """Layers providing ``path`` among ``layers``, walked without the cache: one entry for
        a non-directory, the merge stack for a directory (top first). Raises ENOENT/ENOTDIR."""
        if not layers:
            raise fs_error(errno.ENOENT, path)
        if path == "/":
            out: list[tuple[Backend, StatResult]] = []
            for layer in layers:
                out.append((layer, layer.lstat("/")))
                if _opaque(layer, "/"):
                    break
            return out
        parts = [p for p in path.split("/") if p]
        cur = "/"
        contributing = layers
        result: list[tuple[Backend, StatResult]] = []
        for i, name in enumerate(parts):
            cur = _join(cur, name)
            result = []
            for layer in contributing:
                try:
                    st = layer.lstat(cur)
                except (FileNotFoundError, NotADirectoryError):
                    continue
                if _is_whiteout(st):
                    break
                if not result:
                    result.append((layer, st))
                    if not S.S_ISDIR(st.st_mode):
                        break
                    if _opaque(layer, cur):
                        break
                else:
                    if not S.S_ISDIR(st.st_mode):
                        break
                    result.append((layer, st))
                    if _opaque(layer, cur):
                        break
            if not result:
                raise fs_error(errno.ENOENT, path)
            if i < len(parts) - 1:
                if not S.S_ISDIR(result[0][1].st_mode):
                    raise fs_error(errno.ENOTDIR, path)
                contributing = [layer for layer, _ in result]
        return result

    def _top(self, path: str) -> tuple[Backend, StatResult]:
        layer = self._stack(path)[0][0]
        if type(layer) is not MemoryBackend or self._stack_token is None:
            return layer, layer.lstat(path)
        # the inode a memory layer holds at a path stays while the path's stack is cached
        # (losing or moving a name changes the token, gaining one drops that path)
        hit = self._nodes.get(path)
        if hit is None or hit[0] is not layer:
            node = layer._get(path)
            self._nodes[path] = (layer, node)
        else:
            node = hit[1]
        return layer, layer.stat_of(node, layer.dev)

    def _exists(self, path: str) -> bool:
        try:
            self._stack(path)
            return True
        except OSError:
            return False

    def _in_lower(self, path: str) -> bool:
        """True if some lower layer would show ``path`` if the upper did not hide it."""
        try:
            self._walk(path, list(self._lowers))
            return True
        except OSError:
            return False

    # --- queries -----------------------------------------------------------------------------
    def lstat(self, path: str) -> StatResult:
        return self._top(path)[1]

    def listdir(self, path: str) -> list[str]:
        stack, is_dir = self._stack(path)
        if not is_dir:
            raise fs_error(errno.ENOTDIR, path)
        seen: dict[str, bool] = {}
        for layer in stack:
            node = layer.lookup(path) if type(layer) is MemoryBackend else None
            if node is not None and node.entries is not None:
                # a memory layer's entries carry their inodes: no lookup per name
                for name, child in node.entries.items():
                    if name not in seen:
                        seen[name] = not (S.S_ISCHR(child.mode) and child.rdev == 0)
                continue
            for name in layer.listdir(path):
                if name in seen:
                    continue
                try:
                    st = layer.lstat(_join(path, name))
                except OSError:
                    continue
                seen[name] = not _is_whiteout(st)
        return [n for n, visible in seen.items() if visible]

    def lstat_entries(self, path: str) -> dict[str, StatResult] | None:
        # each name's top layer is the first of the directory's stack that has it (a whiteout
        # there hides it), as a lookup of the name finds it; memory layers only
        try:
            stack, is_dir = self._stack(path)
        except OSError:
            return None
        if not is_dir:
            return None
        tops: dict[str, tuple[MemoryBackend, Inode]] = {}
        for layer in stack:
            if type(layer) is not MemoryBackend:
                return None
            node = layer.lookup(path)
            if node is None or node.entries is None:
                return None
            for name, child in node.entries.items():
                if name not in tops:
                    tops[name] = (layer, child)
        return {
            name: layer.stat_of(child, layer.dev)
            for name, (layer, child) in tops.items()
            if not (S.S_ISCHR(child.mode) and child.rdev == 0)
        }

    def readlink(self, path: str) -> str:
        layer, st = self._top(path)
        return layer.readlink(path)

    def read(self, path: str, offset: int = 0, size: int = -1) -> bytes:
        layer = self._stack(path)[0][0]
        if type(layer) is MemoryBackend:
            return layer.read(path, offset, size)  # it says EISDIR itself, with no stat
        st = layer.lstat(path)
        if S.S_ISDIR(st.st_mode):
            raise fs_error(errno.EISDIR, path)
        return layer.read(path, offset, size)

    def read_view(self, path: str, offset: int, size: int) -> bytes | memoryview:
        layer, st = self._top(path)
        if S.S_ISDIR(st.st_mode):
            raise fs_error(errno.EISDIR, path)
        return layer.read_view(path, offset, size)

    def host_file(self, path: str) -> tuple[int, int] | None:
        layer, st = self._top(path)
        return None if S.S_ISDIR(st.st_mode) else layer.host_file(path)

    def usage(self) -> tuple[int, int]:
        return self._upper.usage()

    def change_token(self) -> object:
        # any change of the layers counts in ``memory.changes``; None when a layer cannot tell
        if not self._up_to_date():
            return None
        return (_memory.changes, _memory.writes)

    def node_of(self, path: str) -> Inode | None:
        # the top layer's inode, as ``_top`` remembers it (valid while the caches are)
        if self._seen == _memory.changes:
            hit = self._nodes.get(path)
            if hit is not None:
                return hit[1]
        try:
            layer = self._stack(path)[0][0]
        except OSError:
            return None
        if type(layer) is not MemoryBackend or self._stack_token is None:
            return None
        node = layer.lookup(path)
        if node is not None:
            self._nodes[path] = (layer, node)
        return node

    # --- copy-up -----------------------------------------------------------------------------
    def _ro(self, path: str) -> None:
        if self.readonly:
            raise fs_error(errno.EROFS, path)

    def _upper_has(self, path: str) -> StatResult | None:
        upper = self._upper
        if type(upper) is MemoryBackend:  # no exception for the usual answer, "not there"
            node = upper.lookup(path)
            return None if node is None else upper.stat_of(node, upper.dev)
        try:
            return upper.lstat(path)
        except OSError:
            return None

    def _copy_up_dir(self, path: str) -> None:
        """Make sure directory ``path`` (visible in the merge) exists in the upper layer."""
        if path == "/":
            return
        st = self._upper_has(path)
        if st is not None and S.S_ISDIR(st.st_mode):
            return
        _, vst = self._top(path)
        if not S.S_ISDIR(vst.st_mode):
            raise fs_error(errno.ENOTDIR, path)
        self._copy_up_dir(_parent_of(path))
        if st is not None:  # a whiteout sits there (cannot happen if visible) - replace
            self._upper.unlink(path)
        self._upper.mkdir(path, vst.st_mode & 0o7777)
        self._upper.chown(path, vst.st_uid, vst.st_gid)
        self._upper.utimens(path, vst.st_atime_ns, vst.st_mtime_ns)

    def _copy_up(self, path: str) -> StatResult:
        """Bring ``path`` into the upper layer; returns its stat."""
        layer, st = self._top(path)
        if layer is self._upper:
            return st
        if S.S_ISDIR(st.st_mode):
            self._copy_up_dir(path)
            return self._upper.lstat(path)
        self._copy_up_dir(_parent_of(path))
        if S.S_ISLNK(st.st_mode):
            self._upper.symlink(layer.readlink(path), path)
        elif S.S_ISCHR(st.st_mode):
            self._upper.mknod(path, st.st_mode & 0o7777, st.st_rdev)
        else:
            # the copy is one buffer: a lower file (a host folder) can be far larger than the
            # exec may hold, so it is checked against the memory budget before it is read
            check_alloc(st.st_size, f"copying up {path}")
            cap = getattr(self._upper, "max_file_size", None)
            if cap is not None and st.st_size > cap:  # it could never be written: say so first
                raise fs_error(errno.EFBIG, path, "File too large")
            self._upper.create(path, st.st_mode & 0o7777, exclusive=True)
            try:
                # a lower file kept in a host file is copied by the host kernel, not read
                host = layer.host_file(path) if st.st_size else None
                if host is None or not self._upper.copy_from_host(path, *host):
                    data = layer.read(path)
                    if data:
                        self._upper.write(path, data, 0)
            except OSError:
                self._upper.unlink(path)  # a failed copy-up leaves the lower visible
                raise
        if not S.S_ISLNK(st.st_mode):
            self._upper.chmod(path, st.st_mode & 0o7777)
        self._upper.chown(path, st.st_uid, st.st_gid)
        if not S.S_ISLNK(st.st_mode):
            self._upper.utimens(path, st.st_atime_ns, st.st_mtime_ns)
        if S.S_ISREG(st.st_mode) and st.st_nlink > 1:
            self._copy_up_aliases(layer, st.st_ino, path)
        return self._upper.lstat(path)

    def _copy_up_aliases(self, layer: Backend, ino: int, path: str) -> None:
        """The other names of a hard-linked file come up with it, as links to the one new
        upper inode, so writing through one name still changes what the others show (a forked
        VM, or one started from a snapshot, keeps its hard links)."""
        for other in _aliases(layer, ino):
            if other == path or self._upper_has(other) is not None:
                continue
            try:
                olayer, ost = self._top(other)
            except OSError:
                continue
            if olayer is not layer or ost.st_ino != ino:
                continue
            self._copy_up_dir(_parent_of(other))
            self._upper.link(path, other)

    def _prepare_new(self, path: str) -> bool:
        """Get the parent into the upper layer and clear a whiteout at ``path``. Returns True
        if a whiteout was removed (a new directory there must be opaque)."""
        parent = _parent_of(path)
        try:
            _, pst = self._top(parent)
        except FileNotFoundError:
            raise fs_error(errno.ENOENT, path)
        if not S.S_ISDIR(pst.st_mode):
            raise fs_error(errno.ENOTDIR, path)
        if self._exists(path):
            raise fs_error(errno.EEXIST, path)
        self._copy_up_dir(parent)
        st = self._upper_has(path)
        if st is not None and _is_whiteout(st):
            self._upper.unlink(path)
            return True
        return False

    def _whiteout(self, path: str) -> None:
        self._upper.mknod(path, 0, 0)

    # --- mutations ---------------------------------------------------------------------------
    def create(
        self, path: str, mode: int = 0o644, exclusive: bool = False, truncate: bool = True
    ) -> None:
        self._ro(path)
        if self._exists(path):
            if exclusive:
                raise fs_error(errno.EEXIST, path)
            layer, st = self._top(path)
            if S.S_ISDIR(st.st_mode):
                raise fs_error(errno.EISDIR, path)
            if truncate and st.st_size:
                if layer is not self._upper:
                    self._copy_up_dir(_parent_of(path))
                    self._upper.create(path, st.st_mode & 0o7777, exclusive=True)
                    self._upper.chown(path, st.st_uid, st.st_gid)
                else:
                    self._upper.truncate(path, 0)
            return
        self._prepare_new(path)
        self._upper.create(path, mode, exclusive=True)

    def write(self, path: str, data: BytesLike, offset: int | None = None) -> int:
        self._ro(path)
        layer, st = self._top(path)
        if S.S_ISCHR(st.st_mode):
            return layer.write(path, data, offset) if layer is self._upper else len(data)
        self._copy_up(path)
        return self._upper.write(path, data, offset)

    def truncate(self, path: str, size: int) -> None:
        self._ro(path)
        self._copy_up(path)
        self._upper.truncate(path, size)

    def mkdir(self, path: str, mode: int = 0o755) -> None:
        self._ro(path)
        was_whiteout = self._prepare_new(path)
        self._upper.mkdir(path, mode)
        if was_whiteout:
            self._upper.set_opaque(path, True)

    def rmdir(self, path: str) -> None:
        self._ro(path)
        layer, st = self._top(path)
        if not S.S_ISDIR(st.st_mode):
            raise fs_error(errno.ENOTDIR, path)
        if self.listdir(path):
            raise fs_error(errno.ENOTEMPTY, path)
        lower = self._in_lower(path)
        if self._upper_has(path) is not None:
            self._remove_upper_tree(path)
        if lower:
            self._copy_up_dir(_parent_of(path))
            self._whiteout(path)

    def _remove_upper_tree(self, path: str) -> None:
        st = self._upper.lstat(path)
        if S.S_ISDIR(st.st_mode):
            for name in self._upper.listdir(path):
                self._remove_upper_tree(_join(path, name))
            self._upper.rmdir(path)
        else:
            self._upper.unlink(path)

    def unlink(self, path: str) -> None:
        self._ro(path)
        layer, st = self._top(path)
        if S.S_ISDIR(st.st_mode):
            raise fs_error(errno.EISDIR, path)
        lower = self._in_lower(path)
        if layer is self._upper:
            self._upper.unlink(path)
        if lower:
            self._copy_up_dir(_parent_of(path))
            self._whiteout(path)

    def rename(self, src: str, dst: str) -> None:
        self._ro(src)
        layer, st = self._top(src)
        if src == dst:
            return
        is_dir = S.S_ISDIR(st.st_mode)
        if is_dir:
            s_parts = [p for p in src.split("/") if p]
            d_parts = [p for p in dst.split("/") if p]
            if d_parts[: len(s_parts)] == s_parts:
                raise fs_error(errno.EINVAL, src, path2=dst)
        # validate the destination like POSIX rename
        dst_exists = self._exists(dst)
        if dst_exists:
            _, dst_st = self._top(dst)
            if is_dir and not S.S_ISDIR(dst_st.st_mode):
                raise fs_error(errno.ENOTDIR, dst)
            if not is_dir and S.S_ISDIR(dst_st.st_mode):
                raise fs_error(errno.EISDIR, dst)
            if S.S_ISDIR(dst_st.st_mode) and self.listdir(dst):
                raise fs_error(errno.ENOTEMPTY, dst)
        else:
            parent = _parent_of(dst)
            _, pst = self._top(parent)
            if not S.S_ISDIR(pst.st_mode):
                raise fs_error(errno.ENOTDIR, dst)
        src_lower = self._in_lower(src)
        if is_dir and (src_lower or layer is not self._upper):
            # a directory with lower parts: copy the merged tree into the upper at dst
            self._copy_tree_up(src)
            self._upper.set_opaque(src, True)
        else:
            self._copy_up(src)
        # clear the destination in the upper layer
        dst_lower = self._in_lower(dst)
        self._copy_up_dir(_parent_of(dst))
        ust = self._upper_has(dst)
        if (
            ust is not None
            and (_is_whiteout(ust) or (S.S_ISDIR(ust.st_mode) and not is_dir))
            or ust is not None
            and S.S_ISDIR(ust.st_mode)
            and is_dir
        ):
            self._remove_upper_tree(dst)
        self._upper.rename(src, dst)
        if is_dir and dst_lower:
            self._upper.set_opaque(dst, True)
        if src_lower:
            self._whiteout(src)

    def _copy_tree_up(self, path: str) -> None:
        st = self._copy_up(path)
        if S.S_ISDIR(st.st_mode):
            for name in self.listdir(path):
                self._copy_tree_up(_join(path, name))

    def symlink(self, target: str, path: str) -> None:
        self._ro(path)
        self._prepare_new(path)
        self._upper.symlink(target, path)

    def link(self, src: str, dst: str) -> None:
        self._ro(dst)
        _, st = self._top(src)
        if S.S_ISDIR(st.st_mode):
            raise fs_error(errno.EPERM, src, path2=dst)
        self._prepare_new(dst)
        self._copy_up(src)
        self._upper.link(src, dst)

    def chmod(self, path: str, mode: int) -> None:
        self._ro(path)
        self._copy_up(path)
        self._upper.chmod(path, mode)

    def chown(self, path: str, uid: int, gid: int) -> None:
        self._ro(path)
        self._copy_up(path)
        self._upper.chown(path, uid, gid)

    def utimens(self, path: str, atime_ns: int | None, mtime_ns: int | None) -> None:
        self._ro(path)
        self._copy_up(path)
        self._upper.utimens(path, atime_ns, mtime_ns)

    def mknod(self, path: str, mode: int, rdev: int) -> None:
        self._ro(path)
        self._prepare_new(path)
        self._upper.mknod(path, mode, rdev)

    def close(self) -> None:
        for layer in self._lowers:
            layer.release()
        self._upper.release()

    # --- layering ----------------------------------------------------------------------------
    def seal(self) -> MemoryBackend:
        """Freeze the current upper layer and start a fresh one above it (for fork).

        When nothing was written since the last seal, the layer sealed then is returned and no
        layer is added, so forking again and again does not pile up empty layers."""
        top = self._lowers[0] if self._lowers else None
        if (
            self._fresh is not None
            and self._fresh[0] is self._upper
            and isinstance(top, MemoryBackend)
            and top.readonly
            and _untouched(self._upper, self._fresh[1])
        ):
            return top
        sealed = self._upper.freeze()
        _SEALED.add(sealed)
        self._lowers.insert(0, sealed)
        self._squash()
        self.upper = MemoryBackend(
            max_bytes=sealed.max_bytes,
            max_inodes=sealed.max_inodes,
            max_file_size=sealed.max_file_size,
        )
        # usage continues from the sealed layer so limits keep counting the VM's whole data
        self._upper.bytes_used = sealed.bytes_used
        self._upper.inodes_used = sealed.inodes_used
        self._fresh = (self._upper, _root_state(self._upper))
        top = self._lowers[0]
        assert isinstance(top, MemoryBackend)
        return top

    def _squash(self) -> None:
        """Merge the sealed layers on top of the lowers into one when there are more than
        :data:`MAX_SEALED` of them, so forks with writes in between keep lookups shallow.

        The merged layer shows exactly what the stack showed (whiteouts, opaque directories
        and hard links included) and shares every file inode with the old layers, which stay
        untouched for the VMs forked earlier."""
        n = 0
        for layer in self._lowers:
            if layer not in _SEALED:
                break
            n += 1
        if n <= self.max_sealed:
            return
        old = self._lowers[:n]
        merged = merge_layers(old)  # type: ignore[arg-type]
        _SEALED.add(merged)
        self._lowers[:n] = [merged]
        for layer in old:
            layer.release()


def _root_state(layer: MemoryBackend) -> tuple[object, ...]:
    r = layer.root
    return (r.mode, r.uid, r.gid, r.mtime, r.ctime, r.opaque, layer.bytes_used, layer.inodes_used)


def _untouched(layer: MemoryBackend, state: tuple[object, ...]) -> bool:
    """Nothing was created, removed or changed in ``layer`` since ``state`` was taken."""
    return (
        not layer.root.entries
        and layer.generation == 0
        and not layer.additions
        and _root_state(layer) == state
    )
