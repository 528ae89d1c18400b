"""Pack files: the objects one write made, stored together in one file (store format 3).

A commit used to write each new object (file contents, manifest chunks, the root, the run
record) as a file of its own, each flushed to disk: a 10-file commit cost some thirty
``fsync`` calls. A pack file holds them all, so a commit flushes one file and one directory
before it replaces the head. Objects keep their names (the SHA-256 of their bytes) and are
checked on every read, wherever they are stored.

Layout (``packs/<SHA-256 of the file>.pack``)::

    b"PKPACK3\\n"                      magic
    8 bytes, big-endian               length L of the index
    L bytes                           zlib(JSON [[object id, offset, length], ...])
    the objects' bytes                offsets count from the end of the index

The index comes first so that a reader (on an object store: a ranged ``GET``) learns where
everything is from the head of the file.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Iterable

from pocketos.workspaces.errors import CorruptObjectError

__all__ = ["MAGIC", "HEADER", "encode_pack", "decode_index", "index_length"]

MAGIC = b"PKPACK3\n"
#: bytes before the index: the magic and the index's length
HEADER = len(MAGIC) + 8

#: where an object sits in its pack: (start of the data area + offset, length)
Location = tuple[int, int]


def encode_pack(objects: Iterable[tuple[str, bytes]]) -> bytes:
    """The bytes of a pack file holding ``objects`` (object id, bytes)."""
    entries = []
    parts = []
    offset = 0
    for oid, data in objects:
        entries.append([oid, offset, len(data)])
        parts.append(data)
        offset += len(data)
    index = zlib.compress(json.dumps(entries, separators=(",", ":")).encode(), 6)
    return b"".join([MAGIC, struct.pack(">Q", len(index)), index, *parts])


def index_length(head: bytes, name: str) -> int:
    """The index length a pack's first :data:`HEADER` bytes announce."""
    if len(head) < HEADER or head[: len(MAGIC)] != MAGIC:
        raise CorruptObjectError(f"pack file {name} is not a pocketos pack (bad header)")
    (n,) = struct.unpack(">Q", head[len(MAGIC) : HEADER])
    if n > 1 << 32:
        raise CorruptObjectError(f"pack file {name} announces an index of {n} bytes")
    return int(n)


def decode_index(raw: bytes, name: str) -> dict[str, Location]:
    """Object id -> (absolute offset in the file, length), from the index's bytes."""
    try:
        entries = json.loads(zlib.decompress(raw))
    except (zlib.error, ValueError) as exc:
        raise CorruptObjectError(f"pack file {name} has a corrupt index: {exc}") from None
    base = HEADER + len(raw)
    out: dict[str, Location] = {}
    if not isinstance(entries, list):
        raise CorruptObjectError(f"pack file {name} has a corrupt index")
    for item in entries:
        if (
            not isinstance(item, list)
            or len(item) != 3
            or not isinstance(item[0], str)
            or not all(isinstance(x, int) and x >= 0 for x in item[1:])
        ):
            raise CorruptObjectError(f"pack file {name} has a corrupt index entry {item!r}")
        out[item[0]] = (base + item[1], item[2])
    return out
