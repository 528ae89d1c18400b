"""Content-addressed objects: file contents ("blobs") and trees, keyed by their SHA-256.

An object is stored once however many files, runs and workspaces use it (``objects/ab/cdef…``).
Every read checks the digest, so a corrupt or tampered object is reported, never loaded.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections import OrderedDict
from typing import Any

from pocketos.workspaces.errors import CorruptObjectError
from pocketos.workspaces.storage import Storage

__all__ = ["ObjectStore", "digest_of"]

PREFIX = "objects"


def digest_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _key(digest: str) -> str:
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise CorruptObjectError(f"invalid object id {digest!r}")
    return f"{PREFIX}/{digest[:2]}/{digest[2:]}"


class ObjectStore:
    """Blobs and trees on a :class:`Storage`, with a bounded cache of verified reads."""

    def __init__(self, storage: Storage, cache_bytes: int = 64 << 20) -> None:
        self.storage = storage
        self.cache_bytes = cache_bytes
        self._cache: OrderedDict[str, bytes] = OrderedDict()
        self._cached = 0
        self._known: set[str] = set()
        #: bytes of new objects this store wrote (dedupe makes it less than what was put)
        self.bytes_written = 0

    # --- blobs -------------------------------------------------------------------------------
    def put(self, data: bytes, digest: str | None = None) -> str:
        """Store ``data`` (if not already there); returns its digest."""
        d = digest or digest_of(data)
        if d in self._known:
            return d
        if self.storage.put_object(_key(d), data):  # False: already stored - same bytes
            self.bytes_written += len(data)
        self._known.add(d)
        return d

    def has(self, digest: str) -> bool:
        return digest in self._known or self.storage.exists(_key(digest))

    def get(self, digest: str) -> bytes:
        """The verified content of ``digest``."""
        hit = self._cache.get(digest)
        if hit is not None:
            self._cache.move_to_end(digest)
            return hit
        try:
            data = self.storage.read(_key(digest))
        except FileNotFoundError:
            raise CorruptObjectError(f"object {digest} is missing from the store") from None
        if digest_of(data) != digest:
            raise CorruptObjectError(
                f"object {digest} is corrupt (its content does not match its digest)"
            )
        self.remember(digest, data)
        return data

    def remember(self, digest: str, data: bytes) -> None:
        """Keep verified ``data`` in the read cache (least recently used goes first)."""
        if len(data) > self.cache_bytes or digest in self._cache:
            return
        self._cache[digest] = data
        self._cached += len(data)
        while self._cached > self.cache_bytes:
            _, old = self._cache.popitem(last=False)
            self._cached -= len(old)

    # --- trees (compressed JSON documents) ---------------------------------------------------
    def put_doc(self, doc: Any) -> str:
        raw = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
        return self.put(zlib.compress(raw, 1))

    def put_doc_text(self, text: str) -> str:
        """Store a document already written as canonical JSON text."""
        return self.put(zlib.compress(text.encode(), 1))

    def get_doc(self, digest: str) -> Any:
        data = self.get(digest)
        try:
            return json.loads(zlib.decompress(data))
        except (zlib.error, ValueError) as exc:
            raise CorruptObjectError(f"object {digest} is not a valid tree: {exc}") from None

    # --- enumeration (garbage collection) ----------------------------------------------------
    def all(self) -> list[str]:
        out = []
        for key in self.storage.keys(PREFIX):
            parts = key.split("/")
            if len(parts) == 3:
                out.append(parts[1] + parts[2])
        return out

    def key(self, digest: str) -> str:
        return _key(digest)

    def forget(self, digest: str) -> None:
        self._known.discard(digest)
        if digest in self._cache:
            self._cached -= len(self._cache.pop(digest))
