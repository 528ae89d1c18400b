"""``branch``, ``switch``, ``checkout``, ``restore``, ``reset`` and ``tag``."""

from __future__ import annotations

import posixpath
import re

from dulwich.index import IndexEntry
from dulwich.objects import Tag

from pocketos.git.cmd_index import Pathspec
from pocketos.git.format import short
from pocketos.git.repo import GitError, Repo
from pocketos.git.revs import resolve, resolve_commit
from pocketos.git.session import Git, UsageError, parse_options
from pocketos.git.worktree import (
    flatten,
    index_entry,
    read_state,
    remove_file,
    write_file_from_blob,
)

__all__ = [
    "cmd_branch",
    "cmd_switch",
    "cmd_checkout",
    "cmd_restore",
    "cmd_reset",
    "cmd_tag",
    "move_to_tree",
]

_BAD_REF = re.compile(r"(^[./-])|(\.\.)|([\x00-\x20~^:?*\[\\])|(@\{)|(/$)|(\.lock$)|(//)|(^@$)")


def check_ref_name(name: str, what: str = "branch") -> None:
    if not name or _BAD_REF.search(name) or name.endswith("."):
        raise GitError(f"'{name}' is not a valid {what} name")


def _subject(repo: Repo, sha: bytes) -> str:
    return repo.commit(sha).message.decode("utf-8", "replace").split("\n", 1)[0]


def cmd_branch(g: Git, args: list[str]) -> int:
    delete = force = move = verbose = show_current = list_all = False
    rest: list[str] = []
    for a in args:
        if a in ("-d", "--delete"):
            delete = True
        elif a == "-D":
            delete = force = True
        elif a in ("-f", "--force"):
            force = True
        elif a in ("-m", "--move"):
            move = True
        elif a == "-M":
            move = force = True
        elif a in ("-v", "-vv", "--verbose"):
            verbose = True
        elif a in ("-a", "--all", "-r", "--remotes"):
            list_all = True
        elif a == "--show-current":
            show_current = True
        elif a in ("--list", "-l"):
            continue
        elif a.startswith("-"):
            raise UsageError(f"unknown option `{a.lstrip('-')}'")
        else:
            rest.append(a)
    repo = g.repo
    current = repo.head_target()
    cur_name = current[11:] if current and current.startswith("refs/heads/") else None
    if show_current:
        g.print((cur_name or "") + "\n")
        return 0
    if delete:
        if not rest:
            raise GitError("branch name required")
        status = 0
        for name in rest:
            ref = f"refs/heads/{name}"
            sha = repo.resolve_ref(ref)
            if sha is None:
                g.warn(f"error: branch '{name}' not found\n")
                status = 1
                continue
            if name == cur_name:
                g.warn(
                    f"error: cannot delete branch '{name}' used by worktree at '{repo.worktree}'\n"
                )
                status = 1
                continue
            head = repo.head()
            if not force and head is not None and not _is_ancestor(repo, sha, head):
                g.warn(
                    f"error: The branch '{name}' is not fully merged.\n"
                    f"If you are sure you want to delete it, run 'git branch -D {name}'.\n"
                )
                status = 1
                continue
            repo.delete_ref(ref)
            g.print(f"Deleted branch {name} (was {short(sha)}).\n")
        return status
    if move:
        if len(rest) == 1:
            if cur_name is None:
                raise GitError("cannot rename the current branch while not on any")
            old, new = cur_name, rest[0]
        elif len(rest) == 2:
            old, new = rest
        else:
            raise GitError("too many arguments for a rename operation")
        check_ref_name(new)
        sha = repo.resolve_ref(f"refs/heads/{old}")
        if sha is None:
            if old == cur_name and repo.head() is None:
                repo.write("HEAD", f"ref: refs/heads/{new}\n".encode())
                return 0
            raise GitError(f"no branch named '{old}'")
        if repo.resolve_ref(f"refs/heads/{new}") and not force and new != old:
            raise GitError(f"a branch named '{new}' already exists")
        repo.delete_ref(f"refs/heads/{old}")
        repo.set_ref(f"refs/heads/{new}", sha)
        if old == cur_name:
            repo.write("HEAD", f"ref: refs/heads/{new}\n".encode())
        return 0
    if rest:
        name = rest[0]
        check_ref_name(name)
        start = rest[1] if len(rest) > 1 else "HEAD"
        if repo.resolve_ref(f"refs/heads/{name}") and not force:
            raise GitError(f"a branch named '{name}' already exists")
        try:
            sha = resolve_commit(repo, start)
        except GitError:
            raise GitError(f"not a valid object name: '{start}'") from None
        repo.set_ref(f"refs/heads/{name}", sha)
        return 0
    branches = repo.list_refs("refs/heads/")
    head = repo.head()
    if cur_name is None and head is not None:
        line = f"* (HEAD detached at {short(head)})"
        g.print(line + (f" {short(head)} {_subject(repo, head)}" if verbose else "") + "\n")
    width = max((len(n) - 11 for n in branches), default=0)
    for ref, sha in branches.items():
        name = ref[11:]
        mark = "* " if name == cur_name else "  "
        if verbose:
            g.print(f"{mark}{name.ljust(width)} {short(sha)} {_subject(repo, sha)}\n")
        else:
            g.print(f"{mark}{name}\n")
    if list_all:
        head_ref = repo.read_ref_raw("refs/remotes/origin/HEAD")
        shown = dict(repo.list_refs("refs/remotes/"))
        if head_ref is not None and head_ref.startswith(b"ref: "):
            shown["refs/remotes/origin/HEAD"] = head_ref
        for ref in sorted(shown):
            raw = shown[ref]
            if raw.startswith(b"ref: "):
                g.print(
                    f"  remotes/{ref[13:]} -> {raw[5:].decode().removeprefix('refs/remotes/')}\n"
                )
            else:
                g.print(f"  remotes/{ref[13:]}\n")
    return 0


def _is_ancestor(repo: Repo, anc: bytes, desc: bytes) -> bool:
    stack, seen = [desc], set()
    while stack:
        s = stack.pop()
        if s == anc:
            return True
        if s in seen:
            continue
        seen.add(s)
        stack.extend(repo.commit(s).parents)
    return False


def move_to_tree(g: Git, repo: Repo, new_tree: bytes, force: bool = False) -> None:
    """Update the index and work tree from HEAD's tree to ``new_tree``, keeping local changes
    to paths the move does not touch; refuse (like git) when it would overwrite them."""
    head = repo.head()
    old = flatten(repo, repo.commit(head).tree) if head else {}
    new = flatten(repo, new_tree)
    index = repo.index()
    unmerged = sorted(p for p, e in index.items() if not isinstance(e, IndexEntry))
    if unmerged and not force:
        raise GitError(
            "".join(f"{g.rel(p)}: needs merge\n" for p in unmerged)
            + "error: you need to resolve your current index first",
            1,
            "",
        )
    state = read_state(repo, untracked="all")
    touched = [p for p in set(old) | set(new) if old.get(p) != new.get(p)]
    if not force:
        dirty = sorted(
            p
            for p in touched
            if p in state.unstaged
            or (p in state.staged and index.get(p) is not None and _entry(index, p) != new.get(p))
        )
        if dirty:
            raise GitError(
                "Your local changes to the following files would be overwritten by checkout:\n"
                + "".join(f"\t{g.rel(p)}\n" for p in dirty)
                + "Please commit your changes or stash them before you switch branches.\n"
                "Aborting",
                1,
                "error: ",
            )
        untracked = set(state.untracked)
        clash = sorted(p for p in touched if p in untracked and p in new)
        if clash:
            raise GitError(
                "The following untracked working tree files would be overwritten by checkout:\n"
                + "".join(f"\t{g.rel(p)}\n" for p in clash)
                + "Please move or remove them before you switch branches.\nAborting",
                1,
                "error: ",
            )
    for p in sorted(touched):
        if p in new:
            mode, sha = new[p]
            write_file_from_blob(repo, p, mode, sha)
            index[p] = index_entry(repo, p, sha, mode)
        else:
            index.pop(p, None)
            remove_file(repo, p)
    if force:
        for p in list(index):
            if p not in new:
                del index[p]
                remove_file(repo, p)
            elif _entry(index, p) != new[p] or p in state.unstaged:
                mode, sha = new[p]
                write_file_from_blob(repo, p, mode, sha)
                index[p] = index_entry(repo, p, sha, mode)
    repo.write_index(index)


def _entry(index: dict, p: bytes) -> tuple[int, bytes] | None:  # type: ignore[type-arg]
    e = index.get(p)
    return (e.mode, e.sha) if isinstance(e, IndexEntry) else None


def _switch_to(
    g: Git, name: str, create: bool, start: str | None, force: bool, detach: bool = False
) -> int:
    repo = g.work_repo()
    if create:
        check_ref_name(name)
        if repo.resolve_ref(f"refs/heads/{name}") and not force:
            raise GitError(f"a branch named '{name}' already exists")
        head = repo.head()
        sha = resolve_commit(repo, start) if start else head
        if sha is not None:
            move_to_tree(g, repo, repo.commit(sha).tree)
            repo.set_ref(f"refs/heads/{name}", sha)
        repo.write("HEAD", f"ref: refs/heads/{name}\n".encode())
        g.warn(f"Switched to a new branch '{name}'\n")
        return 0
    ref = f"refs/heads/{name}"
    sha = repo.resolve_ref(ref)
    if sha is None or detach:
        target = resolve_commit(repo, name)
        move_to_tree(g, repo, repo.commit(target).tree, force)
        repo.write("HEAD", target + b"\n")
        g.warn(f"HEAD is now at {short(target)} {_subject(repo, target)}\n")
        return 0
    if repo.head_target() == ref:
        g.warn(f"Already on '{name}'\n")
        return 0
    move_to_tree(g, repo, repo.commit(sha).tree, force)
    repo.write("HEAD", f"ref: {ref}\n".encode())
    g.warn(f"Switched to branch '{name}'\n")
    return 0


def cmd_switch(g: Git, args: list[str]) -> int:
    opts, rest = parse_options(
        args,
        {
            "-c": "create",
            "--create": "create",
            "-C": "force_create",
            "--force-create": "force_create",
            "-f": "force",
            "--force": "force",
            "--discard-changes": "force",
            "-d": "detach",
            "--detach": "detach",
        },
        ignored=("-q", "--quiet"),
    )
    create = bool(opts.get("create") or opts.get("force_create"))
    force = bool(opts.get("force") or opts.get("force_create"))
    detach = bool(opts.get("detach"))
    if not rest:
        raise GitError("missing branch or commit argument")
    repo = g.work_repo()
    if repo.read("MERGE_HEAD"):
        raise GitError(
            'cannot switch branch while merging\nConsider "git merge --quit" or "git worktree add".'
        )
    if not create and not detach and repo.resolve_ref(f"refs/heads/{rest[0]}") is None:
        try:
            resolve_commit(repo, rest[0])
        except GitError:
            raise GitError(f"invalid reference: {rest[0]}") from None
        raise GitError(
            "a branch is expected, got commit '" + rest[0] + "'\n"
            "hint: If you want to detach HEAD at the commit, try again with the "
            "--detach option."
        )
    return _switch_to(g, rest[0], create, rest[1] if len(rest) > 1 else None, force, detach)


def cmd_checkout(g: Git, args: list[str]) -> int:
    create = force = False
    rest: list[str] = []
    paths: list[str] | None = None
    if "--" in args:
        i = args.index("--")
        args, paths = args[:i], args[i + 1 :]
    for a in args:
        if a == "-b":
            create = True
        elif a == "-B":
            create = force = True
        elif a in ("-f", "--force"):
            force = True
        elif a in ("-q", "--quiet"):
            continue
        elif a.startswith("-"):
            raise UsageError(f"unknown option `{a.lstrip('-')}'")
        else:
            rest.append(a)
    repo = g.work_repo()
    if paths is None and not create and rest:
        try:
            resolve_commit(repo, rest[0])
            if len(rest) > 1:
                paths = rest[1:]
                rest = rest[:1]
        except GitError:
            paths, rest = rest, []
    if paths is not None:
        return _restore(
            g,
            paths,
            source=rest[0] if rest else None,
            staged=bool(rest),
            worktree=True,
            checkout=True,
        )
    if create:
        if not rest:
            raise UsageError("switch `b' requires a value")
        return _switch_to(g, rest[0], True, rest[1] if len(rest) > 1 else None, force)
    if not rest:
        return 0
    detach = repo.resolve_ref(f"refs/heads/{rest[0]}") is None
    return _switch_to(g, rest[0], False, None, force, detach)


def _restore(
    g: Git,
    paths: list[str],
    source: str | None,
    staged: bool,
    worktree: bool,
    checkout: bool = False,
) -> int:
    repo = g.work_repo()
    spec = Pathspec(g, paths)
    index = repo.index()
    if source is not None:
        src = flatten(repo, repo.commit(resolve_commit(repo, source)).tree)
    elif staged:
        head = repo.head()
        src = flatten(repo, repo.commit(head).tree) if head else {}
    else:
        src = {p: (e.mode, e.sha) for p, e in index.items() if isinstance(e, IndexEntry)}
    hits = sorted(p for p in set(src) | (set(index) if staged else set()) if spec.match(p))
    missing = spec.unmatched(hits)
    if missing:
        what = "error: pathspec '{}' did not match any file(s) known to git"
        raise GitError(what.format(missing[0])[7:], 1, "error: ")
    for p in hits:
        if staged:
            if p in src:
                mode, sha = src[p]
                old = index.get(p)
                e = (
                    index_entry(repo, p, sha, mode)
                    if _exists(repo, p)
                    else IndexEntry((0, 0), (0, 0), 0, 0, mode, 0, 0, 0, sha)
                )
                if isinstance(old, IndexEntry) and not worktree:
                    e = IndexEntry(
                        old.ctime,
                        old.mtime,
                        old.dev,
                        old.ino,
                        mode,
                        old.uid,
                        old.gid,
                        old.size if old.sha == sha else 0,
                        sha,
                    )
                index[p] = e
            else:
                index.pop(p, None)
        if worktree:
            if p in src:
                mode, sha = src[p]
                write_file_from_blob(repo, p, mode, sha)
                if checkout or staged:
                    index[p] = index_entry(repo, p, sha, mode)
                else:
                    old = index.get(p)
                    if isinstance(old, IndexEntry) and old.sha == sha and old.mode == mode:
                        index[p] = index_entry(repo, p, sha, mode)
            else:
                remove_file(repo, p)
    repo.write_index(index)
    return 0


def _exists(repo: Repo, p: bytes) -> bool:
    return repo.fs.lexists(posixpath.join(repo.worktree or "/", p.decode()))


def cmd_restore(g: Git, args: list[str]) -> int:
    opts, paths = parse_options(
        args,
        {"-S": "staged", "--staged": "staged", "-W": "worktree", "--worktree": "worktree"},
        {"-s": "source", "--source": "source"},
    )
    staged, worktree = bool(opts.get("staged")), bool(opts.get("worktree"))
    source = str(opts["source"]) if "source" in opts else None
    if not paths:
        raise GitError("you must specify path(s) to restore")
    if not staged:
        worktree = True
    return _restore(g, paths, source, staged, worktree)


def cmd_reset(g: Git, args: list[str]) -> int:
    mode = "mixed"
    quiet = False
    rest: list[str] = []
    paths: list[str] | None = None
    if "--" in args:
        i = args.index("--")
        args, paths = args[:i], args[i + 1 :]
    for a in args:
        if a in ("--soft", "--mixed", "--hard"):
            mode = a[2:]
        elif a in ("-q", "--quiet"):
            quiet = True
        elif a.startswith("-"):
            raise UsageError(f"unknown option `{a.lstrip('-')}'")
        else:
            rest.append(a)
    repo = g.work_repo()
    if paths is None and rest:
        try:
            resolve_commit(repo, rest[0])
            if len(rest) > 1:
                paths = rest[1:]
                rest = rest[:1]
        except GitError:
            paths, rest = rest, []
    if paths:
        _restore(g, paths, rest[0] if rest else None, staged=True, worktree=False)
        return 0
    target = resolve_commit(repo, rest[0]) if rest else repo.head()
    if target is None:
        raise GitError("Failed to resolve 'HEAD' as a valid ref.")
    old = repo.head()
    if old is not None:
        repo.set_ref("ORIG_HEAD", old)
    tree = repo.commit(target).tree
    if mode == "hard":
        move_to_tree(g, repo, tree, force=True) if old else None
        repo.set_head(target)
        if old is None:
            move_to_tree(g, repo, tree, force=True)
        repo.remove("MERGE_HEAD")
        g.print(f"HEAD is now at {short(target)} {_subject(repo, target)}\n")
        return 0
    repo.set_head(target)
    if mode == "mixed":
        flat = flatten(repo, tree)
        index = repo.index()
        new_index = {}
        for p, (m, sha) in flat.items():
            e = index.get(p)
            if isinstance(e, IndexEntry) and e.sha == sha and e.mode == m:
                new_index[p] = e
            else:
                new_index[p] = IndexEntry((0, 0), (0, 0), 0, 0, m, 0, 0, 0, sha)
        repo.write_index(new_index)  # type: ignore[arg-type]
        state = read_state(repo, untracked="no")
        if state.unstaged and not quiet:
            g.print("Unstaged changes after reset:\n")
            for p in sorted(state.unstaged):
                g.print(f"{state.unstaged[p]}\t{p.decode()}\n")
    return 0


def cmd_tag(g: Git, args: list[str]) -> int:
    opts, rest = parse_options(
        args,
        {
            "-a": "annotate",
            "--annotate": "annotate",
            "-d": "delete",
            "--delete": "delete",
            "-f": "force",
            "--force": "force",
        },
        {"-m": "message", "--message": "message"},
        ignored=("-l", "--list"),
    )
    message = str(opts["message"]) if "message" in opts else None
    annotate = bool(opts.get("annotate")) or message is not None
    delete, force = bool(opts.get("delete")), bool(opts.get("force"))
    repo = g.repo
    if delete:
        status = 0
        for name in rest:
            sha = repo.resolve_ref(f"refs/tags/{name}")
            if sha is None:
                g.warn(f"error: tag '{name}' not found.\n")
                status = 1
                continue
            repo.delete_ref(f"refs/tags/{name}")
            g.print(f"Deleted tag '{name}' (was {short(sha)})\n")
        return status
    if not rest:
        for ref in repo.list_refs("refs/tags/"):
            g.print(ref[10:] + "\n")
        return 0
    name = rest[0]
    check_ref_name(name, "tag")
    if repo.resolve_ref(f"refs/tags/{name}") and not force:
        raise GitError(f"tag '{name}' already exists")
    target = resolve(repo, rest[1] if len(rest) > 1 else "HEAD")
    if annotate:
        if message is None:
            raise GitError("no tag message given and no editor in this VM: use -m MESSAGE")
        t = Tag()
        t.name = name.encode()
        obj = repo[target]
        t.object = (type(obj), target)
        t.tagger, t.tag_time, t.tag_timezone = g.identity("committer")
        msg = message.rstrip("\n")
        t.message = (msg + "\n").encode() if msg else b""
        repo.store.add_object(t)
        target = t.id
    repo.set_ref(f"refs/tags/{name}", target)
    return 0
