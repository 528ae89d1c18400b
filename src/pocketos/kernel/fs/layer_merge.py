"""Merging a stack of sealed, read-only memory layers into one layer that shows exactly what
the stack showed: the overlay squashes the layers a long chain of forks leaves behind, so a
lookup stays shallow however many times a VM was forked."""

from __future__ import annotations

from pocketos.kernel.fs.memory import Inode, MemoryBackend

__all__ = ["merge_layers"]


def merge_layers(layers: list[MemoryBackend]) -> MemoryBackend:
    """One read-only layer showing what ``layers`` (top first, all read-only) show stacked.

    A directory provided by one layer only is shared whole; a directory several layers
    provide gets a new node (the top one's metadata and inode number) with their entries
    merged. Files, symlinks, devices and whiteouts are shared, not copied, so a hard-linked
    inode keeps its identity and link count. A merged directory whose stack ended inside
    ``layers`` (an opaque directory, a whiteout or a file below it) becomes opaque, so it
    goes on hiding the same things in the layers below."""
    top = layers[0]
    merged = MemoryBackend(
        readonly=True,
        max_bytes=top.max_bytes,
        max_inodes=top.max_inodes,
        max_file_size=top.max_file_size,
        uid=top.uid,
        gid=top.gid,
    )
    merged.bytes_used, merged.inodes_used = top.bytes_used, top.inodes_used
    roots, ended = _stack_of([layer.root for layer in layers])
    merged.root = _merge_dirs(roots, ended, True)
    return merged


def _stack_of(nodes: list[Inode | None]) -> tuple[list[Inode], bool]:
    """The stack ``nodes`` (one name in successive layers, top first, None where a layer
    lacks it) form, like a lookup step of the overlay: ``[top]`` for a file, symlink, device or whiteout,
    else the directories merged there; and whether the stack ended inside ``nodes`` (at an
    opaque directory, or at a whiteout or non-directory below a directory)."""
    found: list[Inode] = []
    for node in nodes:
        if node is None:
            continue
        if node.entries is None:
            if not found:
                return [node], True
            return found, True
        found.append(node)
        if node.opaque:
            return found, True
    return found, False


def _merge_dirs(nodes: list[Inode], ended: bool, below: bool) -> Inode:
    """The merged node for directory stack ``nodes``. ``below``: the layers under the merged
    one take part in the parent directory's stack, so they would show this directory's
    entries too unless it is opaque; ``ended``: the stack ended inside the merged layers,
    so what those layers hold there must stay hidden."""
    first = nodes[0]
    hide = below and ended
    if len(nodes) == 1 and (first.opaque or not hide):
        return first  # nothing to merge: the whole subtree is shared
    d = Inode(first.mode, first.uid, first.gid)
    d.ino, d.nlink = first.ino, first.nlink
    d.atime, d.mtime, d.ctime, d.btime = first.atime, first.mtime, first.ctime, first.btime
    d.opaque = first.opaque or hide
    child_below = below and not d.opaque
    names: dict[str, None] = {}
    for node in nodes:
        assert node.entries is not None
        names.update(dict.fromkeys(node.entries))
    entries: dict[str, Inode] = {}
    for name in names:
        found, child_ended = _stack_of([n.entries.get(name) for n in nodes])  # type: ignore[union-attr]
        if found[0].entries is None:
            entries[name] = found[0]  # shared: a hard link keeps its inode and link count
        else:
            entries[name] = _merge_dirs(found, child_ended, child_below)
    d.entries = entries
    return d
