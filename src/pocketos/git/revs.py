"""Revision names as git reads them: refs, abbreviated ids, ``~N``, ``^N``, ``^{tree}``,
``REV:path``."""

from __future__ import annotations

import re

from dulwich.objects import Commit, Tag, Tree

from pocketos.git.repo import GitError, Repo

__all__ = ["resolve", "resolve_commit", "resolve_tree", "lookup_ref", "peel"]

_HEX = re.compile(rb"^[0-9a-f]{4,40}$")
_SUFFIX = re.compile(r"(\^\{[a-z]*\}|~\d*|\^\d*)$")


def lookup_ref(repo: Repo, name: str) -> tuple[str, bytes] | None:
    """git's ref search order for a short name."""
    if name in ("HEAD", "@"):
        sha = repo.head()
        return ("HEAD", sha) if sha else None
    for cand in (
        name,
        f"refs/{name}",
        f"refs/tags/{name}",
        f"refs/heads/{name}",
        f"refs/remotes/{name}",
        f"refs/remotes/{name}/HEAD",
    ):
        if cand != name or name.startswith("refs/") or name in ("FETCH_HEAD", "ORIG_HEAD"):
            sha = repo.resolve_ref(cand)
            if sha:
                return cand, sha
    return None


def peel(repo: Repo, sha: bytes) -> bytes:
    obj = repo[sha]
    while isinstance(obj, Tag):
        sha = obj.object[1]
        obj = repo[sha]
    return sha


def _abbrev(repo: Repo, prefix: bytes) -> bytes | None:
    matches = {s for s in repo.store if s.startswith(prefix)}
    if len(matches) > 1:
        raise GitError(f"short object ID {prefix.decode()} is ambiguous")
    return matches.pop() if matches else None


def _base(repo: Repo, name: str) -> bytes | None:
    found = lookup_ref(repo, name)
    if found:
        return found[1]
    b = name.encode()
    if _HEX.match(b):
        if len(b) == 40:
            return b if b in repo.store else None
        return _abbrev(repo, b)
    return None


def resolve(repo: Repo, rev: str) -> bytes:
    """The object id a revision names; GitError with git's wording when it names nothing."""
    sha = _resolve(repo, rev)
    if sha is None:
        raise GitError(
            f"ambiguous argument '{rev}': unknown revision or path not in the working tree.\n"
            "Use '--' to separate paths from revisions, like this:\n"
            "'git <command> [<revision>...] -- [<file>...]'"
        )
    return sha


def _resolve(repo: Repo, rev: str) -> bytes | None:
    if ":" in rev and not rev.startswith(":"):
        left, _, path = rev.partition(":")
        tree = resolve_tree(repo, left)
        return _tree_lookup(repo, tree, path)
    m = _SUFFIX.search(rev)
    if m and m.start() > 0:
        inner = _resolve(repo, rev[: m.start()])
        if inner is None:
            return None
        op = m.group(1)
        if op.startswith("^{"):
            kind = op[2:-1]
            sha = peel(repo, inner) if kind != "tag" else inner
            if kind == "tree":
                obj = repo[sha]
                return obj.tree if isinstance(obj, Commit) else sha
            return sha
        n = int(op[1:] or "1")
        sha = peel(repo, inner)
        if op.startswith("~"):
            for _ in range(n):
                parents = repo.commit(sha).parents
                if not parents:
                    return None
                sha = parents[0]
            return sha
        if n == 0:
            return sha
        parents = repo.commit(sha).parents
        return parents[n - 1] if len(parents) >= n else None
    return _base(repo, rev)


def _tree_lookup(repo: Repo, tree: bytes, path: str) -> bytes | None:
    sha = tree
    for part in [p for p in path.split("/") if p]:
        obj = repo[sha]
        if not isinstance(obj, Tree):
            return None
        try:
            _mode, sha = obj[part.encode()]
        except KeyError:
            return None
    return sha


def resolve_commit(repo: Repo, rev: str) -> bytes:
    sha = peel(repo, resolve(repo, rev))
    if not isinstance(repo[sha], Commit):
        raise GitError(f"{rev}: expected commit type")
    return sha


def resolve_tree(repo: Repo, rev: str) -> bytes:
    sha = peel(repo, resolve(repo, rev))
    obj = repo[sha]
    if isinstance(obj, Commit):
        return obj.tree  # type: ignore[no-any-return]
    if isinstance(obj, Tree):
        return sha
    raise GitError(f"{rev}: not a tree object")
