"""Changing a stored object behind the store's back, wherever it is stored."""

from __future__ import annotations

from pocketos.workspaces import WorkspaceStore


def tamper(store: WorkspaceStore, digest: str, fake: bytes) -> None:
    """Overwrite object ``digest`` with ``fake`` (in its pack file: the same length, padded or
    cut; else its own file)."""
    loc = store.objects.location(digest)
    if loc is None:
        store.storage.write(store.objects.key(digest), fake)
        return
    key, offset, length = loc
    data = bytearray(store.storage.read(key))
    data[offset : offset + length] = fake[:length].ljust(length, b"\0")
    store.storage.write(key, bytes(data))
