"""The work tree side of a repository: ignore rules, the three-way state (HEAD, index, files)
that ``status``, ``diff``, ``add`` and ``commit -a`` read, and writing trees back to files."""

from __future__ import annotations

import posixpath
import stat as st
from dataclasses import dataclass, field

from dulwich.ignore import IgnoreFilter
from dulwich.index import IndexEntry, commit_tree
from dulwich.objects import Blob, Tree

from pocketos.git.repo import GitError, Index, Repo
from pocketos.kernel.budget import check_time

__all__ = [
    "Ignore",
    "State",
    "blob_for",
    "build_tree",
    "file_mode",
    "flatten",
    "index_entry",
    "read_state",
    "write_file_from_blob",
]

Flat = dict[bytes, tuple[int, bytes]]  # path -> (mode, sha)


def flatten(repo: Repo, tree_sha: bytes | None, prefix: bytes = b"") -> Flat:
    """Every blob (and gitlink) of a tree, by full path."""
    out: Flat = {}
    if tree_sha is None:
        return out
    check_time()
    tree = repo.tree(tree_sha)
    for entry in tree.iteritems():
        path = prefix + entry.path
        if st.S_ISDIR(entry.mode):
            out.update(flatten(repo, entry.sha, path + b"/"))
        else:
            out[path] = (entry.mode, entry.sha)
    return out


def head_tree(repo: Repo) -> bytes | None:
    sha = repo.head()
    return None if sha is None else repo.commit(sha).tree


def file_mode(mode: int) -> int:
    if st.S_ISLNK(mode):
        return 0o120000
    return 0o100755 if mode & 0o111 else 0o100644


def blob_for(repo: Repo, rel: bytes) -> tuple[int, Blob]:
    """The blob a work-tree file would be stored as, and its git mode."""
    assert repo.worktree is not None
    full = posixpath.join(repo.worktree, rel.decode())
    s = repo.fs.lstat(full)
    if st.S_ISLNK(s.st_mode):
        return 0o120000, Blob.from_string(repo.fs.readlink(full).encode())
    return file_mode(s.st_mode), Blob.from_string(repo.fs.read_bytes(full))


def index_entry(repo: Repo, rel: bytes, sha: bytes, mode: int) -> IndexEntry:
    assert repo.worktree is not None
    s = repo.fs.lstat(posixpath.join(repo.worktree, rel.decode()))
    ns = 1_000_000_000
    return IndexEntry(
        ctime=(s.st_ctime_ns // ns, s.st_ctime_ns % ns),
        mtime=(s.st_mtime_ns // ns, s.st_mtime_ns % ns),
        dev=s.st_dev & 0xFFFFFFFF,
        ino=s.st_ino & 0xFFFFFFFF,
        mode=mode,
        uid=s.st_uid,
        gid=s.st_gid,
        size=s.st_size & 0xFFFFFFFF,
        sha=sha,
    )


def build_tree(repo: Repo, index: Index, build: bool = True) -> bytes:
    """Write the trees of an index and return the root tree's id."""
    items = []
    for path, e in sorted(index.items()):
        if not isinstance(e, IndexEntry):
            raise GitError("you need to resolve your current index first", 128, "error: ")
        items.append((path, e.sha, e.mode))
    if not items:
        empty = Tree()
        if repo.store.contains_loose(empty.id) or build:
            repo.store.add_object(empty)
        return empty.id  # type: ignore[no-any-return]
    return commit_tree(repo.store, items)  # type: ignore[no-any-return]


def write_file_from_blob(repo: Repo, rel: bytes, mode: int, sha: bytes) -> None:
    assert repo.worktree is not None
    full = posixpath.join(repo.worktree, rel.decode())
    parent = posixpath.dirname(full)
    if repo.fs.lexists(parent) and not repo.fs.isdir(parent):
        repo.fs.unlink(parent)
    if not repo.fs.isdir(parent):
        repo.fs.mkdir(parent, parents=True)
    data = repo.store[sha].as_raw_string()
    if repo.fs.lexists(full) and (repo.fs.islink(full) or st.S_ISLNK(mode)):
        repo.fs.unlink(full)
    if st.S_ISLNK(mode):
        repo.fs.symlink(data.decode(), full)
        return
    repo.fs.write_bytes(full, data)
    repo.fs.chmod(full, 0o755 if mode == 0o100755 else 0o644)


def remove_file(repo: Repo, rel: bytes) -> None:
    """Delete a work-tree file and the directories it leaves empty (as git does)."""
    assert repo.worktree is not None
    full = posixpath.join(repo.worktree, rel.decode())
    try:
        repo.fs.unlink(full)
    except FileNotFoundError:
        return
    d = posixpath.dirname(full)
    while d != repo.worktree and d.startswith(repo.worktree):
        try:
            if repo.fs.listdir(d):
                break
            repo.fs.rmdir(d)
        except OSError:
            break
        d = posixpath.dirname(d)


class Ignore:
    """``.gitignore`` files at every level, ``.git/info/exclude`` and ``core.excludesFile``."""

    def __init__(self, repo: Repo, extra: list[bytes] | None = None) -> None:
        self.repo = repo
        self._filters: dict[str, IgnoreFilter | None] = {}
        base: list[bytes] = list(extra or [])
        base += (repo.read("info/exclude") or b"").splitlines()
        self._base = IgnoreFilter(base)

    def _filter(self, d: str) -> IgnoreFilter | None:
        if d not in self._filters:
            assert self.repo.worktree is not None
            p = posixpath.join(self.repo.worktree, d, ".gitignore")
            try:
                lines = self.repo.fs.read_bytes(p).splitlines()
            except OSError:
                lines = []
            self._filters[d] = IgnoreFilter(lines) if lines else None
        return self._filters[d]

    def ignored(self, rel: str, is_dir: bool) -> bool:
        """Whether a path (relative to the top, ``/``-separated) is ignored; the parent
        directories are assumed not ignored (callers stop descending at an ignored one)."""
        verdict: bool | None = None
        probe = rel + "/" if is_dir else rel
        r = self._base.is_ignored(probe)
        if r is not None:
            verdict = r
        parts = rel.split("/")
        for i in range(len(parts)):
            d = "/".join(parts[:i])
            f = self._filter(d)
            if f is None:
                continue
            sub = "/".join(parts[i:]) + ("/" if is_dir else "")
            r = f.is_ignored(sub)
            if r is not None:
                verdict = r
        return bool(verdict)


@dataclass
class State:
    """What ``status`` shows, paths relative to the top of the work tree."""

    head: dict[bytes, tuple[int, bytes]]
    index: Index
    staged: dict[bytes, str] = field(default_factory=dict)  # path -> A/M/D/T
    renames: dict[bytes, bytes] = field(default_factory=dict)  # new path -> old path
    unstaged: dict[bytes, str] = field(default_factory=dict)  # path -> M/D/T
    untracked: list[bytes] = field(default_factory=list)  # "dir/" for whole directories
    ignored: list[bytes] = field(default_factory=list)
    conflicts: list[bytes] = field(default_factory=list)
    worktree_modes: dict[bytes, int] = field(default_factory=dict)


def _worktree_changed(repo: Repo, path: bytes, e: IndexEntry) -> tuple[str | None, int]:
    assert repo.worktree is not None
    full = posixpath.join(repo.worktree, path.decode())
    try:
        s = repo.fs.lstat(full)
    except (FileNotFoundError, NotADirectoryError):
        return "D", 0
    if st.S_ISDIR(s.st_mode):
        return "D", 0
    mode = file_mode(s.st_mode)
    ns = 1_000_000_000
    if (
        mode == e.mode
        and s.st_size == e.size
        and (s.st_mtime_ns // ns, s.st_mtime_ns % ns) == tuple(e.mtime)
    ):
        return None, mode
    m2, blob = blob_for(repo, path)
    if blob.id != e.sha:
        if st.S_ISLNK(m2) != st.S_ISLNK(e.mode):
            return "T", mode
        return "M", mode
    if m2 != e.mode:
        return "M", mode
    return None, mode


def read_state(repo: Repo, untracked: str = "normal", want_ignored: bool = False) -> State:
    """Compare HEAD, the index and the work tree."""
    if repo.worktree is None:
        raise GitError("this operation must be run in a work tree")
    head = flatten(repo, head_tree(repo))
    index = repo.index()
    s = State(head=head, index=index)
    for n, (path, e) in enumerate(index.items()):
        if n % 256 == 0:
            check_time()
        if not isinstance(e, IndexEntry):
            s.conflicts.append(path)
            continue
        h = head.get(path)
        if h is None:
            s.staged[path] = "A"
        elif h[1] != e.sha or h[0] != e.mode:
            s.staged[path] = "T" if st.S_ISLNK(h[0]) != st.S_ISLNK(e.mode) else "M"
        change, wmode = _worktree_changed(repo, path, e)
        s.worktree_modes[path] = wmode
        if change:
            s.unstaged[path] = change
    for path in head:
        if path not in index:
            s.staged[path] = "D"
    # exact renames: a deleted path and an added one with the same content
    added = {index[p].sha: p for p, c in s.staged.items() if c == "A"}  # type: ignore[union-attr]
    for p, c in list(s.staged.items()):
        if c == "D" and head[p][1] in added:
            new = added.pop(head[p][1])
            del s.staged[p]
            s.staged[new] = "R"
            s.renames[new] = p
    if untracked != "no":
        _scan_untracked(repo, index, s, untracked == "all", want_ignored)
    return s


def _scan_untracked(repo: Repo, index: Index, s: State, every: bool, want_ignored: bool) -> None:
    assert repo.worktree is not None
    tracked_dirs: set[str] = set()
    for p in index:
        parts = p.decode().split("/")
        for i in range(1, len(parts)):
            tracked_dirs.add("/".join(parts[:i]))
    ign = Ignore(repo)

    def walk(rel: str) -> tuple[list[bytes], bool]:
        """Untracked entries below ``rel``; and whether anything there is tracked."""
        full = posixpath.join(repo.worktree or "/", rel) if rel else repo.worktree or "/"
        check_time()
        found: list[bytes] = []
        has_tracked = rel in tracked_dirs
        try:
            names = sorted(repo.fs.listdir(full))
        except OSError:
            return found, has_tracked
        for n in names:
            if not rel and n == ".git":
                continue
            child = f"{rel}/{n}" if rel else n
            try:
                is_dir = repo.fs.isdir(posixpath.join(full, n)) and not repo.fs.islink(
                    posixpath.join(full, n)
                )
            except OSError:
                continue
            if child.encode() in index:
                continue
            if ign.ignored(child, is_dir):
                if want_ignored:
                    s.ignored.append((child + "/" if is_dir else child).encode())
                continue
            if is_dir:
                sub, tracked = walk(child)
                if tracked or every:
                    found.extend(sub)
                elif sub:
                    found.append((child + "/").encode())
            else:
                found.append(child.encode())
        return found, has_tracked

    s.untracked, _ = walk("")
