"""Pack files: the objects one write made, stored together in one file (store format 3).

A commit used to write each new object (file contents, manifest chunks, the root, the run
record) as a file of its own, each flushed to disk: a 10-file commit cost some thirty
``fsync`` calls. A pack file holds them all, so a commit flushes one file and one directory
before it replaces the head. Objects keep their names (the SHA-256 of their bytes) and are
checked on every read, wherever they are stored.

Layout (``packs/<SHA-256 of the file>.pack``)::

    b"PKPACK3\n"                      magic
    8 bytes, big-endian               N, the number of objects
    N x 40 bytes                      the index, sorted by object id: the id's 32 bytes, then
                                      the object's offset and length (4 bytes each, big-endian;
                                      offsets count from the end of the index)
    the objects' bytes

The index comes first so that a reader (on an object store: a ranged ``GET``) learns where
everything is from the head of the file; it is binary and sorted so that it is searched as it
is read, with no parsing (a base's pack holds one entry per file).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator

from pocketos.workspaces.errors import CorruptObjectError

__all__ = ["MAGIC", "HEADER", "ENTRY", "PackIndex", "encode_pack", "index_length"]

MAGIC = b"PKPACK3\n"
#: bytes before the index: the magic and the number of objects
HEADER = len(MAGIC) + 8
#: one index entry: object id (raw), offset, length
ENTRY = struct.Struct(">32sII")
#: objects a pack may hold (a reader refuses a header announcing more)
MAX_OBJECTS = 1 << 24


def encode_pack(objects: Iterable[tuple[str, bytes]]) -> bytes:
    """The bytes of a pack file holding ``objects`` (object id, bytes)."""
    entries = []
    parts = []
    offset = 0
    for oid, data in objects:
        entries.append((bytes.fromhex(oid), offset, len(data)))
        parts.append(data)
        offset += len(data)
    if offset >= 1 << 32:
        raise ValueError("a pack file holds less than 4 GiB")
    entries.sort()
    index = b"".join(ENTRY.pack(*e) for e in entries)
    return b"".join([MAGIC, struct.pack(">Q", len(entries)), index, *parts])


def index_length(head: bytes, name: str) -> int:
    """The length in bytes of the index a pack's first :data:`HEADER` bytes announce."""
    if len(head) < HEADER or head[: len(MAGIC)] != MAGIC:
        raise CorruptObjectError(f"pack file {name} is not a pocketos pack (bad header)")
    (n,) = struct.unpack(">Q", head[len(MAGIC) : HEADER])
    if n > MAX_OBJECTS:
        raise CorruptObjectError(f"pack file {name} announces {n} objects")
    return int(n) * ENTRY.size


def _ids(n: int) -> struct.Struct:
    """Splits an index of ``n`` entries into their ids (in C: a base's index is large)."""
    return struct.Struct("32s8x" * n)


class PackIndex:
    """The index of one pack file, searched in place."""

    def __init__(self, key: str, raw: bytes) -> None:
        if len(raw) % ENTRY.size:
            raise CorruptObjectError(f"pack file {key} has a truncated index")
        self.key = key
        self.raw = raw
        self.n = len(raw) // ENTRY.size
        self.base = HEADER + len(raw)

    def ids(self) -> tuple[bytes, ...]:
        """The raw ids of the objects, in index order."""
        return _ids(self.n).unpack(self.raw) if self.n else ()

    def find(self, want: bytes) -> tuple[int, int] | None:
        """(offset in the file, length) of the object whose raw id is ``want``, or None."""
        raw, size = self.raw, ENTRY.size
        lo, hi = 0, self.n
        while lo < hi:
            mid = (lo + hi) // 2
            got = raw[mid * size : mid * size + 32]
            if got < want:
                lo = mid + 1
            elif got > want:
                hi = mid
            else:
                _, offset, length = ENTRY.unpack_from(raw, mid * size)
                return self.base + offset, length
        return None

    def __iter__(self) -> Iterator[tuple[str, int, int]]:
        """Every (object id, offset in the file, length)."""
        for digest, offset, length in ENTRY.iter_unpack(self.raw):
            yield digest.hex(), self.base + offset, length
