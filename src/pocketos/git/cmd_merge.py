"""``merge``: fast-forward, and three-way merges with git's conflict markers."""

from __future__ import annotations

from dulwich.index import ConflictedIndexEntry, IndexEntry
from dulwich.objects import Blob

from pocketos.commands.diff import compute_changes
from pocketos.git.cmd_commit import make_commit, tree_diffs
from pocketos.git.cmd_refs import move_to_tree
from pocketos.git.format import format_stat, short
from pocketos.git.repo import GitError, Repo
from pocketos.git.revs import lookup_ref, resolve_commit
from pocketos.git.session import Git, UsageError
from pocketos.git.worktree import (
    build_tree,
    flatten,
    index_entry,
    read_state,
    remove_file,
    write_file_from_blob,
)

__all__ = ["cmd_merge", "merge_base", "merge3", "merge_into_head"]


def merge_base(repo: Repo, a: bytes, b: bytes) -> bytes | None:
    """A best common ancestor: the first commit reachable from ``b`` (breadth first, newest
    first) that is also reachable from ``a``."""
    ancestors_a: set[bytes] = set()
    stack = [a]
    while stack:
        s = stack.pop()
        if s in ancestors_a:
            continue
        ancestors_a.add(s)
        stack.extend(repo.commit(s).parents)
    frontier = [b]
    seen: set[bytes] = set()
    while frontier:
        frontier.sort(key=lambda s: -repo.commit(s).commit_time)
        s = frontier.pop(0)
        if s in seen:
            continue
        seen.add(s)
        if s in ancestors_a:
            return s
        frontier.extend(repo.commit(s).parents)
    return None


def _hunks(base: list[bytes], side: list[bytes]) -> list[tuple[int, int, int, int]]:
    return [
        (c.line0, c.line0 + c.deleted, c.line1, c.line1 + c.inserted)
        for c in compute_changes(base, side)
    ]


def _apply(base: list[bytes], side: list[bytes], hunks: list, start: int, end: int) -> list[bytes]:  # type: ignore[type-arg]
    """The side's text for base lines [start, end), given its hunks inside that range."""
    out: list[bytes] = []
    pos = start
    for s0, e0, s1, e1 in hunks:
        out.extend(base[pos:s0])
        out.extend(side[s1:e1])
        pos = e0
    out.extend(base[pos:end])
    return out


def merge3(
    base: bytes, ours: bytes, theirs: bytes, ours_label: str, theirs_label: str
) -> tuple[bytes, bool]:
    """A line-based three-way merge; changes to the same or adjacent lines conflict."""
    b = base.splitlines(keepends=True)
    a = ours.splitlines(keepends=True)
    t = theirs.splitlines(keepends=True)
    events = [(h, 0) for h in _hunks(b, a)] + [(h, 1) for h in _hunks(b, t)]
    events.sort(key=lambda e: (e[0][0], e[0][1]))
    out: list[bytes] = []
    pos = 0
    conflict = False
    i = 0
    while i < len(events):
        cs, ce = events[i][0][0], events[i][0][1]
        group = [events[i]]
        i += 1
        while i < len(events) and events[i][0][0] <= ce:
            group.append(events[i])
            ce = max(ce, events[i][0][1])
            i += 1
        out.extend(b[pos:cs])
        sides = {s for _h, s in group}
        ha = [h for h, s in group if s == 0]
        ht = [h for h, s in group if s == 1]
        text_a = _apply(b, a, ha, cs, ce)
        text_t = _apply(b, t, ht, cs, ce)
        if sides == {0}:
            out.extend(text_a)
        elif sides == {1}:
            out.extend(text_t)
        elif text_a == text_t:
            out.extend(text_a)
        else:
            conflict = True
            out.append(f"<<<<<<< {ours_label}\n".encode())
            out.extend(_nl(text_a))
            out.append(b"=======\n")
            out.extend(_nl(text_t))
            out.append(f">>>>>>> {theirs_label}\n".encode())
        pos = ce
    out.extend(b[pos:])
    return b"".join(out), conflict


def _nl(lines: list[bytes]) -> list[bytes]:
    if lines and not lines[-1].endswith(b"\n"):
        return [*lines[:-1], lines[-1] + b"\n"]
    return lines


def merge_into_head(
    g: Git,
    repo: Repo,
    theirs: bytes,
    label: str,
    no_ff: bool = False,
    ff_only: bool = False,
    message: str | None = None,
) -> int:
    head = repo.head()
    if head is None:
        raise GitError("merging into an empty branch is not supported in this VM")
    if theirs == head or merge_base(repo, head, theirs) == theirs:
        g.print("Already up to date.\n")
        return 0
    state = read_state(repo, untracked="no")
    if state.staged or state.conflicts:
        raise GitError(
            "Your local changes to the following files would be overwritten by merge:\n"
            + "".join(f"\t{g.rel(p)}\n" for p in sorted(state.staged))
            + "Please commit your changes or stash them before you merge.\nAborting",
            2,
            "error: ",
        )
    base = merge_base(repo, head, theirs)
    old_tree = repo.commit(head).tree
    if base == head and not no_ff:
        move_to_tree(g, repo, repo.commit(theirs).tree)
        repo.set_ref("ORIG_HEAD", head)
        repo.set_head(theirs)
        g.print(f"Updating {short(head)}..{short(theirs)}\nFast-forward\n")
        _summary(g, repo, old_tree, repo.commit(theirs).tree)
        return 0
    if ff_only:
        raise GitError("Not possible to fast-forward, aborting.")
    base_flat = flatten(repo, repo.commit(base).tree) if base else {}
    ours_flat = flatten(repo, old_tree)
    theirs_flat = flatten(repo, repo.commit(theirs).tree)
    index = repo.index()
    conflicts: list[bytes] = []
    for p in sorted(set(base_flat) | set(ours_flat) | set(theirs_flat)):
        o, t, b = ours_flat.get(p), theirs_flat.get(p), base_flat.get(p)
        if o == t or t == b:
            continue
        if o == b:
            if t is None:
                index.pop(p, None)
                remove_file(repo, p)
            else:
                write_file_from_blob(repo, p, t[0], t[1])
                index[p] = index_entry(repo, p, t[1], t[0])
            continue
        if o is None or t is None:
            g.print(
                f"CONFLICT (modify/delete): {p.decode()} deleted in "
                f"{'HEAD' if o is None else label} and modified in "
                f"{label if o is None else 'HEAD'}.  Version {label if o is None else 'HEAD'} "
                f"of {p.decode()} left in tree.\n"
            )
            conflicts.append(p)
            keep = t if o is None else o
            assert keep is not None
            write_file_from_blob(repo, p, keep[0], keep[1])
            index[p] = ConflictedIndexEntry(ancestor=_stage(b), this=_stage(o), other=_stage(t))
            continue
        g.print(f"Auto-merging {p.decode()}\n")
        data_b = repo[b[1]].as_raw_string() if b else b""
        merged, conflict = merge3(
            data_b, repo[o[1]].as_raw_string(), repo[t[1]].as_raw_string(), "HEAD", label
        )
        blob = Blob.from_string(merged)
        repo.store.add_object(blob)
        write_file_from_blob(repo, p, o[0], blob.id)
        if conflict:
            kind = "content" if b else "add/add"
            g.print(f"CONFLICT ({kind}): Merge conflict in {p.decode()}\n")
            conflicts.append(p)
            index[p] = ConflictedIndexEntry(ancestor=_stage(b), this=_stage(o), other=_stage(t))
        else:
            index[p] = index_entry(repo, p, blob.id, o[0])
    repo.set_ref("ORIG_HEAD", head)
    msg = message or f"Merge branch '{label}'" + _into(repo)
    if conflicts:
        repo.write_index(index)
        repo.write("MERGE_HEAD", theirs + b"\n")
        listing = "".join(f"#\t{p.decode()}\n" for p in conflicts)
        repo.write("MERGE_MSG", f"{msg}\n\n# Conflicts:\n{listing}".encode())
        g.print("Automatic merge failed; fix conflicts and then commit the result.\n")
        return 1
    repo.write_index(index)
    tree = build_tree(repo, index)
    c = make_commit(g, repo, tree, [head, theirs], (msg + "\n").encode())
    repo.set_head(c.id)
    g.print("Merge made by the 'ort' strategy.\n")
    _summary(g, repo, old_tree, tree)
    return 0


def _stage(entry: tuple[int, bytes] | None) -> IndexEntry | None:
    if entry is None:
        return None
    return IndexEntry((0, 0), (0, 0), 0, 0, entry[0], 0, 0, 0, entry[1])


def _into(repo: Repo) -> str:
    target = repo.head_target()
    name = target[11:] if target and target.startswith("refs/heads/") else None
    return "" if name in (None, "master", "main") else f" into {name}"


def _summary(g: Git, repo: Repo, old_tree: bytes, new_tree: bytes) -> None:
    diffs = tree_diffs(repo, old_tree, new_tree)
    g.print(format_stat(diffs))
    for d in diffs:
        if d.status == "A":
            g.print(f" create mode {d.new_mode:o} {d.new_path.decode()}\n")
        elif d.status == "D":
            g.print(f" delete mode {d.old_mode:o} {d.old_path.decode()}\n")


def cmd_merge(g: Git, args: list[str]) -> int:
    no_ff = ff_only = abort = quiet = False
    message: str | None = None
    rest: list[str] = []
    it = iter(args)
    for a in it:
        if a == "--no-ff":
            no_ff = True
        elif a == "--ff-only":
            ff_only = True
        elif a in ("-q", "--quiet"):
            quiet = True
        elif a in ("--ff", "--no-edit"):
            continue
        elif a == "--abort":
            abort = True
        elif a in ("-m", "--message"):
            message = next(it, None)
        elif a.startswith("-"):
            raise UsageError(f"unknown option `{a.lstrip('-')}'")
        else:
            rest.append(a)
    repo = g.work_repo()
    if abort:
        orig = repo.read_ref_raw("ORIG_HEAD")
        if not repo.read("MERGE_HEAD") or orig is None:
            raise GitError("There is no merge to abort (MERGE_HEAD missing).")
        move_to_tree(g, repo, repo.commit(orig).tree, force=True)
        repo.set_head(orig)
        repo.remove("MERGE_HEAD")
        repo.remove("MERGE_MSG")
        return 0
    if repo.read("MERGE_HEAD"):
        raise GitError(
            "You have not concluded your merge (MERGE_HEAD exists).\n"
            "Please, commit your changes before you merge."
        )
    if len(rest) != 1:
        raise GitError(
            "merging several commits at once is not supported in this VM"
            if rest
            else "No remote for the current branch."
        )
    name = rest[0]
    try:
        theirs = resolve_commit(repo, name)
    except GitError:
        raise GitError(f"{name} - not something we can merge", 1, "merge: ") from None
    found = lookup_ref(repo, name)
    label = name if found else name
    shown = len(g.out)
    status = merge_into_head(g, repo, theirs, label, no_ff, ff_only, message)
    if quiet and status == 0:
        del g.out[shown:]  # like git -q: a clean merge says nothing; conflicts still show
    return status
