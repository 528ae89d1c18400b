"""Content-addressed objects: file contents ("blobs") and documents, keyed by their SHA-256.

An object is stored once however many files, runs and workspaces use it: either as a file of
its own (``objects/ab/cdef…``, what format 2 stores hold) or inside a pack file with the other
objects one write made (``packs/<id>.pack``, :mod:`.packfile`). Every read checks the digest,
so a corrupt or tampered object is reported, never loaded.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pocketos.workspaces.errors import CorruptObjectError
from pocketos.workspaces.packfile import HEADER, PackIndex, encode_pack, index_length
from pocketos.workspaces.storage import Storage

__all__ = ["ObjectStore", "digest_of"]

PREFIX = "objects"
PACKS = "packs"
#: a batch writes a pack file whenever the objects it holds reach this many bytes
PACK_BYTES = 64 << 20
#: a pack file's index of more objects than this (a base's) is searched where it was read
#: rather than copied into the dict of objects (which would make opening cost per file)
BIG_PACK = 4096


def digest_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _key(digest: str) -> str:
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise CorruptObjectError(f"invalid object id {digest!r}")
    return f"{PREFIX}/{digest[:2]}/{digest[2:]}"


class ObjectStore:
    """Blobs and documents on a :class:`Storage`, with a bounded cache of verified reads."""

    def __init__(self, storage: Storage, cache_bytes: int = 64 << 20) -> None:
        self.storage = storage
        self.cache_bytes = cache_bytes
        self._cache: OrderedDict[str, bytes] = OrderedDict()
        self._cached = 0
        self._known: set[str] = set()
        #: bytes of new objects this store wrote (dedupe makes it less than what was put)
        self.bytes_written = 0
        #: raw object id -> the index of the pack file holding it (of those read)
        self._owner: dict[bytes, PackIndex] = {}
        self._packs: dict[str, PackIndex | None] = {}  # None: an unreadable index
        self._big: list[PackIndex] = []  # indexes of more than BIG_PACK objects
        self._bad_packs: dict[str, str] = {}  # pack key -> why its index is unreadable
        self._batch: dict[str, bytes] | None = None
        self._batch_bytes = 0

    # --- writing -----------------------------------------------------------------------------
    @contextmanager
    def batch(self) -> Iterator[None]:
        """Objects put inside the block are written together as one pack file when it ends
        (and whenever they reach :data:`PACK_BYTES`); they are durable once the storage's
        ``barrier()`` returns. Nothing is written if the block raises."""
        if self._batch is not None:  # nested: part of the outer batch
            yield
            return
        self.refresh()  # packs other writers added: their objects are not written again
        self._batch, self._batch_bytes = {}, 0
        ok = False
        try:
            yield
            ok = True
        finally:
            if ok:
                self._flush()
            else:
                for d in self._batch:
                    self._known.discard(d)
            self._batch = None

    def _flush(self) -> None:
        batch = self._batch
        if not batch:
            return
        data = encode_pack(batch.items())
        key = f"{PACKS}/{digest_of(data)}.pack"
        self.storage.put_object(key, data)
        self.bytes_written += len(data) - self._batch_bytes  # the header and the index
        self._index(key, data)
        batch.clear()
        self._batch_bytes = 0

    def put(self, data: bytes, digest: str | None = None) -> str:
        """Store ``data`` (if not already there); returns its digest."""
        d = digest or digest_of(data)
        if d in self._known:
            return d
        if self._batch is not None:
            if d not in self._batch and not self._stored(d):
                self._batch[d] = data
                self._batch_bytes += len(data)
                self.bytes_written += len(data)
                if self._batch_bytes >= PACK_BYTES:
                    self._flush()
            self._known.add(d)
            return d
        if self._stored(d):
            self._known.add(d)
            return d
        if self.storage.put_object(_key(d), data):  # False: already stored - same bytes
            self.bytes_written += len(data)
        self._known.add(d)
        return d

    def _stored(self, digest: str) -> bool:
        return self._locate(digest) is not None or self.storage.exists(_key(digest))

    def has(self, digest: str) -> bool:
        if digest in self._known or (self._batch is not None and digest in self._batch):
            return True
        return self._stored(digest) or (self.refresh() and self._locate(digest) is not None)

    # --- pack files --------------------------------------------------------------------------
    def refresh(self) -> bool:
        """Read the index of every pack file not seen yet; True if there were any."""
        new = [k for k in self.storage.keys(PACKS) if k.endswith(".pack") and k not in self._packs]
        for key in new:
            self._load_index(key)
        return bool(new)

    def _load_index(self, key: str) -> None:
        try:
            head = self.storage.read_range(key, 0, HEADER + 16384)
            n = index_length(head, key)
            if HEADER + n > len(head):  # a big pack (a base): its whole index
                head = self.storage.read_range(key, 0, HEADER + n)
            self._index(key, head)
        except FileNotFoundError:
            return  # collected meanwhile
        except CorruptObjectError as exc:
            self._bad_packs[key] = str(exc)
            self._packs[key] = None

    def _index(self, key: str, head: bytes) -> None:
        n = index_length(head, key)
        if len(head) < HEADER + n:
            raise CorruptObjectError(f"pack file {key} is shorter than its index")
        index = PackIndex(key, head[HEADER : HEADER + n])
        self._packs[key] = index
        if index.n > BIG_PACK:
            self._big.append(index)  # a base's: searched in place, not copied
        else:
            self._owner.update(dict.fromkeys(index.ids(), index))

    def _locate(self, digest: str) -> tuple[str, int, int] | None:
        try:
            raw = bytes.fromhex(digest)
        except ValueError:
            return None
        index = self._owner.get(raw)
        if index is not None:
            found = index.find(raw)
            if found is not None:
                return (index.key, *found)
        for index in self._big:
            found = index.find(raw)
            if found is not None:
                return (index.key, *found)
        return None

    def _drop_pack(self, key: str) -> None:
        index = self._packs.pop(key, None)
        if index is None:
            return
        if index in self._big:
            self._big.remove(index)
            return
        for raw in index.ids():
            if self._owner.get(raw) is index:
                del self._owner[raw]

    def pack_contents(self) -> dict[str, list[str]]:
        """Every pack file (after a :meth:`refresh`) and the objects it holds."""
        self.refresh()
        return {k: [oid for oid, _, _ in p] for k, p in self._packs.items() if p is not None}

    def rewrite_packs(self, keys: list[str], keep: set[str]) -> int:
        """Replace the pack files ``keys`` by new ones holding only their objects in ``keep``
        (cut every :data:`PACK_BYTES`, so that no more than that is held in memory). The new
        packs are durable before the old ones go. Returns the bytes of the new packs."""
        written = 0
        made: set[str] = set()
        group: dict[str, bytes] = {}
        size = 0

        def flush() -> None:
            nonlocal written, size
            if not group:
                return
            packed = encode_pack(group.items())
            new = f"{PACKS}/{digest_of(packed)}.pack"
            self.storage.put_object(new, packed)
            made.add(new)
            written += len(packed)
            group.clear()
            size = 0

        seen: set[str] = set()
        indexes = [(key, self._packs.get(key)) for key in keys]
        for _pack, index in indexes:
            for oid, _, _ in index if index is not None else ():
                if oid in keep and oid not in seen:
                    seen.add(oid)
                    group[oid] = self.get(oid)
                    size += len(group[oid])
                    if size >= PACK_BYTES:
                        flush()
        flush()
        self.storage.barrier()
        for key, index in indexes:
            for oid, _, _ in index if index is not None else ():
                if oid not in keep:
                    self.forget(oid)
            self._drop_pack(key)
        for new in made:
            self._load_index(new)
        for key in keys:
            if key not in made:
                self.storage.delete(key)
        return written

    # --- reading -----------------------------------------------------------------------------
    def _read(self, digest: str) -> bytes:
        for attempt in range(2):
            loc = self._locate(digest)
            if loc is not None:
                key, offset, length = loc
                try:
                    return self.storage.read_range(key, offset, length)
                except FileNotFoundError:  # repacked by garbage collection meanwhile
                    self._drop_pack(key)
            try:
                return self.storage.read(_key(digest))
            except FileNotFoundError:
                pass
            if attempt or not self.refresh():
                break
        bad = "".join(f"; {why}" for why in self._bad_packs.values())
        raise CorruptObjectError(f"object {digest} is missing from the store{bad}")

    def get(self, digest: str) -> bytes:
        """The verified content of ``digest``."""
        hit = self._cache.get(digest)
        if hit is not None:
            self._cache.move_to_end(digest)
            return hit
        if self._batch is not None and digest in self._batch:
            return self._batch[digest]
        data = self._read(digest)
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
        return self.put(zlib.compress(raw, 9))

    def put_doc_text(self, text: str) -> str:
        """Store a document already written as canonical JSON text."""
        return self.put(zlib.compress(text.encode(), 9))

    def get_doc(self, digest: str) -> Any:
        data = self.get(digest)
        try:
            return json.loads(zlib.decompress(data))
        except (zlib.error, ValueError) as exc:
            raise CorruptObjectError(f"object {digest} is not a valid tree: {exc}") from None

    # --- enumeration (garbage collection) ----------------------------------------------------
    def all(self) -> list[str]:
        """The objects stored as files of their own (those in packs: :meth:`pack_contents`)."""
        out = []
        for key in self.storage.keys(PREFIX):
            parts = key.split("/")
            if len(parts) == 3:
                out.append(parts[1] + parts[2])
        return out

    def key(self, digest: str) -> str:
        return _key(digest)

    def location(self, digest: str) -> tuple[str, int, int] | None:
        """(pack key, offset, length) of an object stored in a pack file, else None."""
        loc = self._locate(digest)
        if loc is None and self.refresh():
            loc = self._locate(digest)
        return loc

    def forget(self, digest: str) -> None:
        self._known.discard(digest)
        if digest in self._cache:
            self._cached -= len(self._cache.pop(digest))
