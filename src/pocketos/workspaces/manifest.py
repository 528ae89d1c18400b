"""Manifests: a tree stored as content-addressed chunks and read lazily (store format 2).

A manifest is a small root document listing chunks; each chunk holds about :data:`AVERAGE`
entries, sorted by ``(parent directory, name)`` so the entries of one directory are next to
each other. Opening a workspace reads the root only; a lookup reads (and digest-checks) the
one chunk that can hold the path, a directory listing the chunks holding that directory.

Where a chunk ends depends only on the paths: a chunk ends after every path whose CRC-32 is a
multiple of :data:`AVERAGE`. Adding or removing a path therefore changes its own chunk (and
at most merges it with the next one), never the chunks elsewhere, so a commit writes the few
chunks it touched and a new root: its cost follows the change, not the tree.

Root document::

    {"manifest": 2, "count": entries, "files": regular files,
     "links": {hard-link group: [paths]}, "chunks": [[last path, chunk id, entries], ...]}

A commit changes a few lines of the root; rather than the whole list again it stores a *spliced*
root (store format 3) naming the root before it and the lines it replaced::

    {"manifest": 3, "count", "files", "links", "prev": root id, "depth": roots in the chain,
     "splices": [[first line replaced, lines replaced, [new lines]], ...]}

Past :data:`MAX_DEPTH` spliced roots (or when a splice replaces much of the list) the whole
list is written again, so opening reads at most that many small documents and one list.

A chunk is a list ``[[path, entry], ...]`` (entries as in :mod:`.tree`); its id is the
SHA-256 of its JSON text. The chunks one write makes are stored together, up to
:data:`PACK_CHUNKS` in one *pack* object ``{"chunks": {chunk id: chunk}}``, so a commit
creates a file or two for its chunks instead of one per chunk; the root names the pack
holding each chunk (``[last path, chunk id, entries, pack id]``).
"""

from __future__ import annotations

import bisect
import hashlib
import json
import re
import zlib
from collections.abc import Iterator
from typing import Any

from pocketos.workspaces.errors import CorruptObjectError
from pocketos.workspaces.objects import ObjectStore
from pocketos.workspaces.tree import Entry, Tree, apply_delta

__all__ = [
    "Manifest",
    "DictManifest",
    "build_manifest",
    "apply_to_manifest",
    "is_manifest",
    "resolve_root",
]

#: average entries per chunk (a power of two; a smaller one only adds cut points, so chunks
#: written with a larger one read and update alike)
AVERAGE = 4
#: chunks stored together in one pack object (a lookup reads one pack)
PACK_CHUNKS = 32
#: spliced roots in a chain before a root lists every chunk again
MAX_DEPTH = 32


def _key(path: str) -> tuple[str, str]:
    parent, _, name = path.rpartition("/")
    return (parent, name)


_NO_SLASH = re.compile(r"^(?=[^/\n]*$)", re.M)
_LAST_SLASH = re.compile(r"/(?=[^/\n]*$)", re.M)


def _sort_keys(paths: list[str]) -> list[str]:
    """``parent + "\\0" + name`` for each path: strings that sort as the ``(parent, name)``
    tuples of :func:`_key` do (a path holds no NUL), made in a few C-level passes — a root
    lists thousands of chunks and opening a workspace reads one."""
    text = "\n".join(paths)
    if text.count("\n") != max(len(paths) - 1, 0):  # a name with a newline: one by one
        return [p.rpartition("/")[0] + "\0" + p.rpartition("/")[2] for p in paths]
    text = _LAST_SLASH.sub("\0", _NO_SLASH.sub("\0", text))
    return text.split("\n") if paths else []


def _ends_chunk(path: str) -> bool:
    return zlib.crc32(path.encode("utf-8", "surrogatepass")) % AVERAGE == 0


def _join(rel: str, name: str) -> str:
    return f"{rel}/{name}" if rel else name


def is_manifest(doc: Any) -> bool:
    if not isinstance(doc, dict):
        return False
    if doc.get("manifest") == 2:
        return "chunks" in doc
    return doc.get("manifest") == 3 and "prev" in doc and "splices" in doc


def resolve_root(
    objects: ObjectStore,
    root_id: str,
    doc: dict[str, Any],
    memo: dict[str, list[list[Any]]] | None = None,
) -> tuple[list[list[Any]], list[str]]:
    """The chunk lines of a root, following its chain of spliced roots, and the ids of the
    roots in the chain (``memo`` keeps the lines of roots already resolved)."""
    memo = {} if memo is None else memo
    chain: list[dict[str, Any]] = []
    ids = [root_id]
    seen = {root_id}
    lines: list[list[Any]] | None = None
    while "chunks" not in doc:
        if len(chain) > MAX_DEPTH * 4 or not isinstance(doc.get("splices"), list):
            raise CorruptObjectError(f"manifest {root_id} has a broken chain of roots")
        chain.append(doc)
        prev = doc["prev"]
        if prev in seen:
            raise CorruptObjectError(f"manifest {root_id} has a cycle in its chain of roots")
        seen.add(prev)
        ids.append(prev)
        if prev in memo:
            lines = memo[prev]
            break
        doc = objects.get_doc(prev)
        if not is_manifest(doc):
            raise CorruptObjectError(f"object {prev} is not a manifest")
    if lines is None:
        lines = doc["chunks"]
        memo[ids[-1]] = lines
    for rid, d in zip(reversed(ids[: len(chain)]), reversed(chain), strict=True):
        lines = _splice(lines, d["splices"], rid)
        memo[rid] = lines
    return lines, ids


def _splice(lines: list[list[Any]], splices: list[Any], name: str) -> list[list[Any]]:
    out: list[list[Any]] = []
    pos = 0
    for item in splices:
        try:
            start, removed, new = item
            ok = pos <= start and start + removed <= len(lines) and isinstance(new, list)
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise CorruptObjectError(f"manifest {name} has an invalid splice {item!r}")
        out.extend(lines[pos:start])
        out.extend(new)
        pos = start + removed
    out.extend(lines[pos:])
    return out


class DictManifest:
    """The manifest interface over a tree held whole in memory (format 1 trees)."""

    def __init__(self, tree: Tree) -> None:
        self.tree = tree
        self._children: dict[str, list[str]] | None = None
        self._links: dict[str, list[str]] | None = None

    def get(self, path: str) -> Entry | None:
        return self.tree.get(path)

    def children(self, path: str) -> list[str]:
        index = self._children
        if index is None:
            index = {}
            for p in self.tree:
                if p:
                    head, _, name = p.rpartition("/")
                    index.setdefault(head, []).append(name)
            self._children = index
        return list(index.get(path, ()))

    def links(self, group: str) -> list[str]:
        if self._links is None:
            links: dict[str, list[str]] = {}
            for p, e in self.tree.items():
                if e.get("h") and e["t"] == "f":
                    links.setdefault(e["h"], []).append(p)
            self._links = links
        return list(self._links.get(group, ()))

    def groups(self) -> list[str]:
        self.links("")
        assert self._links is not None
        return list(self._links)

    def to_dict(self) -> Tree:
        return self.tree


class Manifest:
    """A stored manifest, read chunk by chunk as lookups need them."""

    def __init__(self, objects: ObjectStore, root_id: str, doc: dict[str, Any] | None = None):
        self.objects = objects
        self.root_id = root_id
        if doc is None:
            doc = objects.get_doc(root_id)
        if not is_manifest(doc):
            raise CorruptObjectError(f"object {root_id} is not a manifest")
        self.doc = doc
        #: spliced roots between this one and a root that lists every chunk
        self.depth = int(doc.get("depth", 0))
        self.chunks: list[list[Any]] = (
            doc["chunks"] if "chunks" in doc else resolve_root(objects, root_id, doc)[0]
        )
        #: the sort key (:func:`_sort_keys`) of each chunk's last path, for bisection
        self._last = _sort_keys([c[0] for c in self.chunks])
        self._loaded: dict[int, dict[str, Entry]] = {}
        self._packs: dict[str, dict[str, Any]] = {}
        self._links: dict[str, list[str]] = doc.get("links") or {}

    @property
    def count(self) -> int:
        return int(self.doc["count"])

    @property
    def files(self) -> int:
        return int(self.doc["files"])

    def chunk(self, i: int) -> dict[str, Entry]:
        got = self._loaded.get(i)
        if got is None:
            c = self.chunks[i]
            pack = self._packs.get(c[3])
            if pack is None:
                pack = self.objects.get_doc(c[3])
                if not isinstance(pack, dict) or not isinstance(pack.get("chunks"), dict):
                    raise CorruptObjectError(f"object {c[3]} is not a manifest pack")
                self._packs[c[3]] = pack
            entries = pack["chunks"].get(c[1])
            if not isinstance(entries, list):
                raise CorruptObjectError(f"manifest pack {c[3]} lacks chunk {c[1]}")
            got = {p: e for p, e in entries}
            self._loaded[i] = got
        return got

    def _index(self, key: tuple[str, str]) -> int:
        return bisect.bisect_left(self._last, key[0] + "\0" + key[1])

    def get(self, path: str) -> Entry | None:
        i = self._index(_key(path))
        if i >= len(self.chunks):
            return None
        return self.chunk(i).get(path)

    def children(self, path: str) -> list[str]:
        out: list[str] = []
        i = self._index((path, ""))
        while i < len(self.chunks):
            for p in self.chunk(i):
                parent, name = _key(p)
                if parent == path and p:
                    out.append(name)
            if self._last[i].partition("\0")[0] > path:
                break
            i += 1
        return out

    def links(self, group: str) -> list[str]:
        return list(self._links.get(group, ()))

    def groups(self) -> list[str]:
        return list(self._links)

    def __iter__(self) -> Iterator[tuple[str, Entry]]:
        for i in range(len(self.chunks)):
            yield from self.chunk(i).items()

    def to_dict(self) -> Tree:
        return dict(self)


# --- writing ---------------------------------------------------------------------------------
def _split(entries: list[tuple[str, Entry]], final: bool) -> tuple[list[list[Any]], bool]:
    """Cut sorted ``entries`` into chunks at the paths that end one. Returns the pieces and
    whether the last one ends at such a path (else it must merge with what follows, unless
    ``final``)."""
    pieces: list[list[Any]] = []
    cur: list[Any] = []
    for p, e in entries:
        cur.append([p, e])
        if _ends_chunk(p):
            pieces.append(cur)
            cur = []
    if cur:
        pieces.append(cur)
        return pieces, final
    return pieces, True


def _put_chunks(objects: ObjectStore, pieces: list[list[Any]]) -> list[list[Any]]:
    """Store ``pieces`` in packs; their lines of the root."""
    out: list[list[Any]] = []
    for start in range(0, len(pieces), PACK_CHUNKS):
        group = pieces[start : start + PACK_CHUNKS]
        texts = {}
        lines = []
        for piece in group:
            text = json.dumps(piece, sort_keys=True, separators=(",", ":"))
            cid = hashlib.sha256(text.encode()).hexdigest()
            texts[cid] = text
            lines.append([piece[-1][0], cid, len(piece)])
        body = ",".join(f'"{cid}":{text}' for cid, text in sorted(texts.items()))
        pack = objects.put_doc_text('{"chunks":{' + body + "}}")
        out.extend([*line, pack] for line in lines)
    return out


def _root(
    objects: ObjectStore,
    chunks: list[list[Any]],
    count: int,
    files: int,
    links: dict[str, Any],
    *,
    prev: Manifest | None = None,
    splices: list[list[Any]] | None = None,
) -> Manifest:
    doc: dict[str, Any] = {
        "manifest": 2,
        "count": count,
        "files": files,
        "links": {h: sorted(ps) for h, ps in sorted(links.items()) if ps},
    }
    replaced = sum(len(new) for _, _, new in splices or ())
    if prev is not None and prev.depth < MAX_DEPTH and replaced * 4 < len(chunks):
        doc.update(manifest=3, prev=prev.root_id, depth=prev.depth + 1, splices=splices)
        m = Manifest(objects, objects.put_doc(doc), {**doc, "chunks": chunks})
        m.doc = doc
        return m
    doc["chunks"] = chunks
    return Manifest(objects, objects.put_doc(doc), doc)


def _files(entries: Any) -> int:
    return sum(1 for e in entries if e["t"] == "f")


def build_manifest(objects: ObjectStore, tree: Tree) -> Manifest:
    """Store ``tree`` whole as a manifest (a base, a checkout, a format 1 tree)."""
    if "" not in tree:
        raise ValueError("a tree needs its root entry ''")
    entries = sorted(tree.items(), key=lambda pe: _key(pe[0]))
    pieces, _ = _split(entries, True)
    links: dict[str, list[str]] = {}
    for p, e in entries:
        if e.get("h") and e["t"] == "f":
            links.setdefault(e["h"], []).append(p)
    return _root(objects, _put_chunks(objects, pieces), len(entries), _files(tree.values()), links)


def _descendants(m: Manifest, path: str, out: Tree) -> None:
    for name in m.children(path):
        child = _join(path, name)
        e = m.get(child)
        if e is None:
            continue
        out[child] = e
        if e["t"] == "d":
            _descendants(m, child, out)


def apply_to_manifest(
    m: Manifest, delta: Tree, *, keep_whiteouts: bool
) -> tuple[Manifest, Tree, Tree]:
    """The manifest after a run that wrote ``delta`` (as :func:`~.tree.apply_delta` would
    make it), writing only the chunks that change. Returns it, and the old and new entries
    of every path the run touched or removed (to compute what changed)."""
    old: Tree = {}
    for p, e in delta.items():
        prev = m.get(p)
        if prev is None:
            continue
        old[p] = prev
        removes = (
            e["t"] == "w" or (e["t"] == "d" and e.get("o")) or (e["t"] != "d" and prev["t"] == "d")
        )
        if removes and prev["t"] == "d":
            _descendants(m, p, old)
    new = apply_delta(old, delta, keep_whiteouts=keep_whiteouts)
    changes: dict[tuple[str, str], tuple[str, Entry | None]] = {}
    for p in old:
        if p not in new:
            changes[_key(p)] = (p, None)
    for p, e in new.items():
        if old.get(p) is not e:
            changes[_key(p)] = (p, e)
    # which chunk each change falls in (past the last one: the last one)
    n = len(m.chunks)
    by_chunk: dict[int, list[tuple[str, Entry | None]]] = {}
    for key, pair in changes.items():
        by_chunk.setdefault(min(m._index(key), n - 1), []).append(pair)
    chunks: list[list[Any] | None] = []  # None: the next of the new pieces
    new_pieces: list[list[Any]] = []
    regions: list[tuple[int, int, int]] = []  # first old line, old lines, new pieces
    i = 0
    while i < n:
        if i not in by_chunk:
            chunks.append(m.chunks[i])
            i += 1
            continue
        start = i
        buf: dict[str, Entry] = {}
        while True:  # take chunks until the changed region ends where a chunk must end
            buf.update(m.chunk(i))
            for p, change in by_chunk.get(i, ()):
                if change is None:
                    buf.pop(p, None)
                else:
                    buf[p] = change
            i += 1
            entries = sorted(buf.items(), key=lambda pe: _key(pe[0]))
            pieces, closed = _split(entries, i >= n)
            if (closed and i not in by_chunk) or i >= n:
                break
        new_pieces.extend(pieces)
        chunks.extend([None] * len(pieces))
        regions.append((start, i - start, len(pieces)))
    links = {h: list(ps) for h, ps in m._links.items()}
    for p, e in old.items():
        if e.get("h") and e["t"] == "f" and p in links.get(e["h"], ()):
            links[e["h"]].remove(p)
    for p, e in new.items():
        if e.get("h") and e["t"] == "f":
            links.setdefault(e["h"], []).append(p)
    count = m.count + len(new) - len(old)
    files = m.files + _files(new.values()) - _files(old.values())
    # every new chunk of the run in as few packs as possible
    made = _put_chunks(m.objects, new_pieces)
    lines = iter(made)
    root = [c if c is not None else next(lines) for c in chunks]
    splices = []
    k = 0
    for start, removed, added in regions:
        splices.append([start, removed, made[k : k + added]])
        k += added
    new_root = _root(m.objects, root, count, files, links, prev=m, splices=splices)
    return new_root, old, new
