"""``stash``: push, list, show, apply, pop, drop and clear, stored as git does (a work-tree
commit whose parents are HEAD and an index commit, ``refs/stash`` and its reflog)."""

from __future__ import annotations

import re

from dulwich.index import ConflictedIndexEntry
from dulwich.objects import Blob

from pocketos.git.cmd_commit import make_commit, tree_diffs
from pocketos.git.cmd_index import cmd_status
from pocketos.git.cmd_merge import _stage, merge3
from pocketos.git.cmd_refs import move_to_tree
from pocketos.git.format import format_patch, format_stat, short
from pocketos.git.repo import ZERO, GitError, Repo
from pocketos.git.session import Git, UsageError
from pocketos.git.worktree import (
    blob_for,
    build_tree,
    flatten,
    index_entry,
    read_state,
    remove_file,
    write_file_from_blob,
)

__all__ = ["cmd_stash"]

_REF = re.compile(r"^(?:stash@\{(\d+)\}|(\d+))$")


def _reflog(repo: Repo) -> list[bytes]:
    """The stash reflog lines, oldest first."""
    return [line for line in (repo.read("logs/refs/stash") or b"").splitlines() if line]


def _entries(repo: Repo) -> list[tuple[bytes, str]]:
    """(commit, message) of each stash, newest first."""
    out = []
    for line in reversed(_reflog(repo)):
        head, _, msg = line.partition(b"\t")
        out.append((head.split(b" ")[1], msg.decode("utf-8", "replace")))
    return out


def _pick(repo: Repo, arg: str | None) -> int:
    n = 0
    if arg is not None:
        m = _REF.match(arg)
        if not m:
            raise GitError(f"'{arg}' is not a stash-like commit")
        n = int(m.group(1) or m.group(2))
    if n >= len(_entries(repo)):
        if not _entries(repo):
            raise GitError("No stash entries found.", 1, "")
        raise GitError(f"stash@{{{n}}} is not a valid reference", 1, "error: ")
    return n


def _write_reflog(repo: Repo, lines: list[bytes]) -> None:
    if not lines:
        repo.remove("logs/refs/stash")
        repo.delete_ref("refs/stash")
        return
    repo.write("logs/refs/stash", b"".join(line + b"\n" for line in lines))
    repo.set_ref("refs/stash", lines[-1].split(b" ")[1])


def _push(g: Git, repo: Repo, message: str | None, quiet: bool) -> int:
    head = repo.head()
    if head is None:
        raise GitError("You do not have the initial commit yet")
    state = read_state(repo, untracked="no")
    if state.conflicts:
        raise GitError("could not save index tree", 1, "error: ")
    if not state.staged and not state.unstaged:
        g.print("No local changes to save\n")
        return 0
    target = repo.head_target()
    branch = target[11:] if target and target.startswith("refs/heads/") else "(no branch)"
    subject = repo.commit(head).message.decode("utf-8", "replace").split("\n", 1)[0]
    base_msg = f"{branch}: {short(head)} {subject}"
    index = repo.index()
    i_tree = build_tree(repo, index)
    i_commit = make_commit(g, repo, i_tree, [head], f"index on {base_msg}\n".encode())
    work = dict(index)
    for p, change in state.unstaged.items():
        if change == "D":
            work.pop(p, None)
        else:
            mode, blob = blob_for(repo, p)
            repo.store.add_object(blob)
            work[p] = index_entry(repo, p, blob.id, mode)
    w_tree = build_tree(repo, work)
    text = f"On {branch}: {message}" if message else f"WIP on {base_msg}"
    w_commit = make_commit(g, repo, w_tree, [head, i_commit.id], text.encode())
    old = repo.resolve_ref("refs/stash") or ZERO
    ident, ts, tz = g.identity("committer")
    sign = "-" if tz < 0 else "+"
    zone = f"{sign}{abs(tz) // 3600:02d}{abs(tz) % 3600 // 60:02d}"
    line = old + b" " + w_commit.id + b" " + ident + f" {ts} {zone}\t{text}".encode()
    _write_reflog(repo, [*_reflog(repo), line])
    move_to_tree(g, repo, repo.commit(head).tree, force=True)
    if not quiet:
        g.print(f"Saved working directory and index state {text}\n")
    return 0


def _apply(g: Git, repo: Repo, w_sha: bytes) -> bool:
    """Apply a stash to the work tree; returns whether it conflicted."""
    w = repo.commit(w_sha)
    base_tree = repo.commit(w.parents[0]).tree
    i_flat = flatten(repo, repo.commit(w.parents[1]).tree) if len(w.parents) > 1 else {}
    base = flatten(repo, base_tree)
    theirs = flatten(repo, w.tree)
    state = read_state(repo, untracked="all")
    head = repo.head()
    ours = flatten(repo, repo.commit(head).tree) if head else {}
    index = repo.index()
    touched = sorted(p for p in set(base) | set(theirs) if base.get(p) != theirs.get(p))
    dirty = [p for p in touched if p in state.unstaged or p in state.staged]
    if dirty:
        raise GitError(
            "Your local changes to the following files would be overwritten by merge:\n"
            + "".join(f"\t{g.rel(p)}\n" for p in dirty)
            + "Please commit your changes or stash them before you merge.\nAborting",
            1,
            "error: ",
        )
    conflicted = False
    for p in touched:
        b, t, o = base.get(p), theirs.get(p), ours.get(p)
        if t is None:
            if o == b:
                index.pop(p, None)
                remove_file(repo, p)
            continue
        if o in (b, t):
            write_file_from_blob(repo, p, t[0], t[1])
            if p in i_flat and p not in base:
                index[p] = index_entry(repo, p, t[1], t[0])
            continue
        data_b = repo[b[1]].as_raw_string() if b else b""
        data_o = repo[o[1]].as_raw_string() if o else b""
        merged, conflict = merge3(
            data_b, data_o, repo[t[1]].as_raw_string(), "Updated upstream", "Stashed changes"
        )
        blob = Blob.from_string(merged)
        repo.store.add_object(blob)
        write_file_from_blob(repo, p, t[0], blob.id)
        g.print(f"Auto-merging {p.decode()}\n")
        if conflict:
            g.print(f"CONFLICT (content): Merge conflict in {p.decode()}\n")
            index[p] = ConflictedIndexEntry(ancestor=_stage(b), this=_stage(o), other=_stage(t))
            conflicted = True
    repo.write_index(index)
    return conflicted


def cmd_stash(g: Git, args: list[str]) -> int:
    sub = args[0] if args and not args[0].startswith("-") else "push"
    rest = args[1:] if args and not args[0].startswith("-") else args
    repo = g.work_repo()
    quiet = "-q" in rest or "--quiet" in rest
    rest = [a for a in rest if a not in ("-q", "--quiet")]
    if sub in ("push", "save"):
        message: str | None = None
        it = iter(rest)
        for a in it:
            if a in ("-m", "--message"):
                message = next(it, None)
            elif a.startswith("-"):
                raise GitError(f"'git stash {a}' is not supported in this VM", 129)
            elif sub == "save":
                message = " ".join([a, *it])
            else:
                raise GitError("'git stash push -- <pathspec>' is not supported in this VM", 129)
        return _push(g, repo, message, quiet)
    if sub == "list":
        for n, (_sha, msg) in enumerate(_entries(repo)):
            g.print(f"stash@{{{n}}}: {msg}\n")
        return 0
    if sub == "clear":
        _write_reflog(repo, [])
        return 0
    if sub == "show":
        n = _pick(repo, next((a for a in rest if not a.startswith("-")), None))
        w = repo.commit(_entries(repo)[n][0])
        diffs = tree_diffs(repo, repo.commit(w.parents[0]).tree, w.tree)
        if "-p" in rest or "--patch" in rest:
            for d in diffs:
                g.print(format_patch(d))
        else:
            g.print(format_stat(diffs))
        return 0
    if sub in ("apply", "pop", "drop"):
        positional = [a for a in rest if not a.startswith("-")]
        bad = [a for a in rest if a.startswith("-") and a != "--index"]
        if bad:
            raise UsageError(f"unknown option `{bad[0].lstrip('-')}'")
        n = _pick(repo, positional[0] if positional else None)
        sha = _entries(repo)[n][0]
        if sub != "drop":
            conflicted = _apply(g, repo, sha)
            if conflicted:
                cmd_status(g, [])
                g.print("The stash entry is kept in case you need it again.\n")
                return 1
            if not quiet:
                cmd_status(g, [])
            if sub == "apply":
                return 0
        lines = _reflog(repo)
        del lines[len(lines) - 1 - n]
        _write_reflog(repo, lines)
        if not quiet:
            g.print(f"Dropped refs/stash@{{{n}}} ({sha.decode()})\n")
        return 0
    raise UsageError(f"unknown subcommand: `{sub}'")
